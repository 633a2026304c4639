# graft's scenarios (docs/ARCHITECTURE.md, DESIGN.md S1-S12).  Each prints
# one marker: GRAFT-RESULT S<n> <pass|fail|skip> [key=value ...]
. /graft/lib.sh

# S1 basic: graft_sample_cmdline replaces cmdline_proc_show(); /proc/cmdline
# shows the patch; disabling restores it; the patch module and graft unload.
s1() {
  local d=/sys/kernel/graft/graft_sample_cmdline before patched after t0 t1 t2 ncpu
  [ -f $KO/graft_sample_cmdline.ko ] || { result S1 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { result S1 fail "reason=insmod-graft:$(head -c 100 /tmp/err | tr ' \n' '_ ')"; return; }
  t0=$(now_ms)
  if ! insmod $KO/graft_sample_cmdline.ko 2>/tmp/err; then
    result S1 fail "reason=insmod-sample:$(head -c 100 /tmp/err | tr ' \n' '_ ')"; rmmod graft; return
  fi
  wait_for $d/transition 0 20000 || { result S1 fail reason=enable-timeout; return; }
  t1=$(now_ms)
  patched=$(cat /proc/cmdline)
  # the transition counted every possible CPU's idle task (nr_cpu_ids: the
  # last possible CPU + 1), which for_each_process_thread does not list
  ncpu=$(awk -F'[-,]' '{ print $NF + 1 }' /sys/devices/system/cpu/possible)
  dmesg | grep -q "graft_sample_cmdline: idle tasks: [0-9]* of $ncpu switched" ||
    { result S1 fail "reason=idle-tasks-not-counted:$ncpu"; return; }
  [ "$(cat $d/enabled)" = 1 ] || { result S1 fail reason=not-enabled; return; }
  taint=$(( ($(cat /proc/sys/kernel/tainted) >> 15) & 1 ))  # TAINT_LIVEPATCH
  # sysfs: garbage and a no-op write are refused, writes are root-only
  if echo garbage > $d/enabled 2>/dev/null; then result S1 fail reason=garbage-accepted; return; fi
  if echo 1 > $d/enabled 2>/dev/null; then result S1 fail reason=reenable-accepted; return; fi
  [ "$(stat -c %a $d/enabled)" = 644 ] || { result S1 fail "reason=mode:$(stat -c %a $d/enabled)"; return; }
  # unload while enabled must fail
  if rmmod graft_sample_cmdline 2>/dev/null; then result S1 fail reason=unloaded-while-enabled; return; fi
  echo 0 > $d/enabled || { result S1 fail reason=disable-write; return; }
  wait_for $d/transition 0 20000 || { result S1 fail reason=disable-timeout; return; }
  t2=$(now_ms)
  after=$(cat /proc/cmdline)
  rmmod graft_sample_cmdline 2>/tmp/err || { result S1 fail "reason=rmmod-sample:$(head -c 100 /tmp/err | tr ' \n' '_ ')"; return; }
  rmmod graft 2>/tmp/err || { result S1 fail "reason=rmmod-graft:$(head -c 100 /tmp/err | tr ' \n' '_ ')"; return; }
  if [ "$patched" != "this has been live patched by graft" ]; then
    result S1 fail "reason=cmdline:$(echo "$patched" | head -c 60 | tr ' ' '_')"
  elif [ "$after" != "$before" ]; then
    result S1 fail "reason=not-restored:$(echo "$after" | head -c 60 | tr ' ' '_')"
  elif [ "$taint" != 1 ]; then
    result S1 fail reason=not-tainted
  else
    result S1 pass "enable_ms=$((t1-t0))" "disable_ms=$((t2-t1))"
  fi
}

G=/sys/kernel/graft
SL=/proc/graft_test_sleeper
SP=graft_test_sleeper_patch
TXT1="this has been live patched by graft"
TXT2="this has been live patched by graft (2)"
TXTR="this has been live patched by graft (replace)"

# After a failed scenario: disable and unload whatever is left, so the next
# scenario starts from a kernel without graft.
cleanup() {
  local p
  # release any task held in the test module first
  [ -e $SL ] && echo r > $SL 2>/dev/null
  for p in graft_test_bad graft_test_dup_patch graft_test_mod_patch graft_sample_shadow graft_test_callbacks graft_test_sleeper_patch graft_sample_cmdline_replace graft_sample_cmdline2 graft_sample_cmdline; do
    if [ -d $G/$p ]; then
      wait_for $G/$p/transition 0 5000
      [ "$(cat $G/$p/enabled)" = 1 ] && echo 0 > $G/$p/enabled 2>/dev/null
      wait_for $G/$p/transition 0 5000
    fi
    rmmod $p 2>/dev/null
  done
  rmmod graft_test_sleeper graft_test_bad graft_test_kprobe graft_test_shadow graft_test_mod graft_test_dup 2>/dev/null
  tracing_off
  [ -n "$S8_PIDS" ] && s8_stop
  [ -n "$S12_PIDS" ] && s12_stop
  rmmod graft 2>/dev/null
  return 0
}
# fail S<n> reason: one fail marker, then clean up
fail() { result "$1" fail "reason=$(echo "$2" | head -c 100 | tr ' \n' '_ ')"; cleanup; }
# load NAME: insmod the patch module and wait for its transition to end
load() { insmod $KO/$1.ko 2>/tmp/err && wait_for $G/$1/transition 0 20000; }
# set NAME VALUE: write enabled and wait for the transition to end
set_enabled() { echo "$2" > $G/$1/enabled 2>/tmp/err && wait_for $G/$1/transition 0 20000; }
cmdline_is() { [ "$(cat /proc/cmdline)" = "$1" ]; }
val() { cat $G/$1 2>/dev/null; }

# S2 stacking: two patches on cmdline_proc_show(); the newest wins, each
# has its stack_order; disabling the top goes back to the one below, then
# to the original; both unload.
s2() {
  local before gl rc
  [ -f $KO/graft_sample_cmdline2.ko ] || { result S2 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S2 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S2 "load-1:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S2 "cmdline-1:$(cat /proc/cmdline)"; return; }
  load graft_sample_cmdline2 || { fail S2 "load-2:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT2" || { fail S2 "cmdline-2:$(cat /proc/cmdline)"; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline2/enabled)" = 11 ] || { fail S2 not-both-enabled; return; }
  [ "$(val graft_sample_cmdline/stack_order)" = 1 ] || { fail S2 "stack_order-1:$(val graft_sample_cmdline/stack_order)"; return; }
  [ "$(val graft_sample_cmdline2/stack_order)" = 2 ] || { fail S2 "stack_order-2:$(val graft_sample_cmdline2/stack_order)"; return; }
  [ "$(val graft_sample_cmdline/vmlinux/patched)$(val graft_sample_cmdline2/vmlinux/patched)" = 11 ] || { fail S2 not-patched; return; }
  # graftctl (qemu-images/guest/graftctl) shows both and drives the disable
  gl=$(graftctl list 2>&1 | awk '$1 == "graft_sample_cmdline" || $1 == "graft_sample_cmdline2" { printf "%s=%s%s%s%s%s%s ", $1, $2, $3, $4, $5, $6, $7 }')
  [ "$gl" = "graft_sample_cmdline=100110 graft_sample_cmdline2=100210 " ] || { fail S2 "graftctl-list:$gl"; return; }
  graftctl status graft_sample_cmdline2 2>&1 | grep -q '^graft_sample_cmdline2: enabled=1 transition=0 replace=0 stack_order=2 patched=1 forced=0$' ||
    { fail S2 "graftctl-status:$(graftctl status graft_sample_cmdline2 2>&1)"; return; }
  # its errors: non-zero with a message
  graftctl enable graft_no_such_patch 2>/tmp/err; rc=$?
  [ $rc = 1 ] && grep -q "no patch 'graft_no_such_patch'" /tmp/err || { fail S2 "graftctl-unknown:$rc:$(cat /tmp/err)"; return; }
  graftctl enable graft_sample_cmdline2 2>/tmp/err; rc=$?
  [ $rc = 1 ] && grep -q "already enabled" /tmp/err || { fail S2 "graftctl-reenable:$rc:$(cat /tmp/err)"; return; }
  graftctl frobnicate 2>/tmp/err; rc=$?
  [ $rc = 2 ] && grep -q "unknown command" /tmp/err || { fail S2 "graftctl-command:$rc:$(cat /tmp/err)"; return; }
  graftctl disable graft_sample_cmdline2 >/dev/null 2>/tmp/err || { fail S2 "disable-2:$(cat /tmp/err)"; return; }
  graftctl wait graft_sample_cmdline2 20 >/tmp/out 2>/tmp/err || { fail S2 "wait-2:$(cat /tmp/err)"; return; }
  grep -q '^graft_sample_cmdline2: unpatched' /tmp/out || { fail S2 "wait-2-output:$(cat /tmp/out)"; return; }
  cmdline_is "$TXT1" || { fail S2 "cmdline-after-2:$(cat /proc/cmdline)"; return; }
  [ "$(val graft_sample_cmdline2/vmlinux/patched)" = 0 ] || { fail S2 still-patched-2; return; }
  rmmod graft_sample_cmdline2 2>/tmp/err || { fail S2 "rmmod-2:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S2 "cmdline-after-rmmod-2:$(cat /proc/cmdline)"; return; }
  set_enabled graft_sample_cmdline 0 || { fail S2 "disable-1:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S2 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S2 "rmmod-1:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S2 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S2 pass
}

# S3 atomic replace: with samples 1 and 2 enabled, a replace patch takes
# over in one transition; 1 and 2 read enabled=0 and unload; disabling the
# replace patch restores the original.
s3() {
  local before r=graft_sample_cmdline_replace
  [ -f $KO/$r.ko ] || { result S3 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S3 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S3 "load-1:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline2 || { fail S3 "load-2:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT2" || { fail S3 "cmdline-2:$(cat /proc/cmdline)"; return; }
  load $r || { fail S3 "load-replace:$(cat /tmp/err)"; return; }
  cmdline_is "$TXTR" || { fail S3 "cmdline-replace:$(cat /proc/cmdline)"; return; }
  [ "$(val $r/enabled)" = 1 ] || { fail S3 replace-not-enabled; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline2/enabled)" = 00 ] || { fail S3 replaced-still-enabled; return; }
  [ "$(val graft_sample_cmdline/vmlinux/patched)$(val graft_sample_cmdline2/vmlinux/patched)$(val $r/vmlinux/patched)" = 001 ] || { fail S3 patched-flags; return; }
  [ "$(val $r/replace)$(val graft_sample_cmdline/replace)" = 10 ] || { fail S3 replace-attr; return; }
  rmmod graft_sample_cmdline2 2>/tmp/err || { fail S3 "rmmod-2:$(cat /tmp/err)"; return; }
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S3 "rmmod-1:$(cat /tmp/err)"; return; }
  cmdline_is "$TXTR" || { fail S3 "cmdline-after-rmmod:$(cat /proc/cmdline)"; return; }
  set_enabled $r 0 || { fail S3 "disable-replace:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S3 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod $r 2>/tmp/err || { fail S3 "rmmod-replace:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S3 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S3 pass
}

# S4 module objects: graft_test_mod_patch replaces cmdline_proc_show()
# (vmlinux) and graft_test_mod_func() of the graft_test_mod module, which
# reports "version=<a call now> init=<the call from its init>" (1 original,
# 2 patched).  (a) The module loaded before the patch is patched with it;
# (b) unloaded while the patch is enabled, its object reads patched=0, and
# loaded again it is patched before its init runs; disabling unpatches it;
# (c) the patch loaded without the module defers the object (patched=0)
# and patches the module when it loads, before its init; a disable/enable
# cycle then covers it like vmlinux.
MP=graft_test_mod_patch
TM=/proc/graft_test_mod
TXT4="this has been live patched by graft (S4)"
tm_is() { [ "$(cat $TM 2>/dev/null)" = "$1" ]; }
# the module object's callbacks logged since the last cb_mark, comma-separated
cb_mark() { CBN=$(dmesg | grep -c "$MP: callback "); }
cb_seen() { dmesg | grep "$MP: callback " | tail -n +$((CBN + 1)) | sed 's/.*callback //; s/ graft_test_mod$//' | tr '\n' ',' | sed 's/,$//'; }
s4() {
  local before
  [ -f $KO/$MP.ko ] || { result S4 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S4 "insmod-graft:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_mod.ko 2>/tmp/err || { fail S4 "insmod-mod:$(cat /tmp/err)"; return; }
  tm_is "version=1 init=1" || { fail S4 "a-before:$(cat $TM)"; return; }
  # (a) module loaded before the patch: its callbacks run with vmlinux's
  cb_mark
  load $MP || { fail S4 "a-load:$(cat /tmp/err)"; return; }
  [ "$(cb_seen)" = "pre_patch,post_patch" ] || { fail S4 "a-callbacks:$(cb_seen)"; return; }
  cmdline_is "$TXT4" || { fail S4 "a-cmdline:$(cat /proc/cmdline)"; return; }
  tm_is "version=2 init=1" || { fail S4 "a-patched:$(cat $TM)"; return; }
  [ "$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 11 ] || { fail S4 a-patched-attrs; return; }
  [ "$(stat -c %a $G/$MP/graft_test_mod/patched)" = 444 ] || { fail S4 a-mode; return; }
  # (b) unloaded while enabled, then loaded again
  cb_mark
  rmmod graft_test_mod 2>/tmp/err || { fail S4 "b-rmmod-mod:$(cat /tmp/err)"; return; }
  [ "$(cb_seen)" = "pre_unpatch,post_unpatch" ] || { fail S4 "b-going-callbacks:$(cb_seen)"; return; }
  [ "$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 10 ] || { fail S4 b-unloaded-attrs; return; }
  dmesg | grep -q "$MP: unpatched unloading module graft_test_mod" || { fail S4 b-no-unpatch-line; return; }
  cmdline_is "$TXT4" || { fail S4 "b-cmdline:$(cat /proc/cmdline)"; return; }
  cb_mark
  insmod $KO/graft_test_mod.ko 2>/tmp/err || { fail S4 "b-insmod-mod:$(cat /tmp/err)"; return; }
  tm_is "version=2 init=2" || { fail S4 "b-reloaded:$(cat $TM)"; return; }
  [ "$(cb_seen)" = "pre_patch,post_patch" ] || { fail S4 "b-coming-callbacks:$(cb_seen)"; return; }
  [ "$(val $MP/graft_test_mod/patched)" = 1 ] || { fail S4 b-reloaded-attr; return; }
  set_enabled $MP 0 || { fail S4 "b-disable:$(cat /tmp/err)"; return; }
  tm_is "version=1 init=2" || { fail S4 "b-disabled:$(cat $TM)"; return; }
  cmdline_is "$before" || { fail S4 "b-not-restored:$(cat /proc/cmdline)"; return; }
  [ "$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 00 ] || { fail S4 b-disabled-attrs; return; }
  rmmod $MP graft_test_mod 2>/tmp/err || { fail S4 "b-rmmod:$(cat /tmp/err)"; return; }
  # (c) deferred: the patch first, the module after (no callback of the
  # absent object until it loads)
  cb_mark
  load $MP || { fail S4 "c-load:$(cat /tmp/err)"; return; }
  [ -z "$(cb_seen)" ] || { fail S4 "c-deferred-callbacks:$(cb_seen)"; return; }
  cmdline_is "$TXT4" || { fail S4 "c-cmdline:$(cat /proc/cmdline)"; return; }
  [ "$(val $MP/enabled)$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 110 ] || { fail S4 c-deferred-attrs; return; }
  dmesg | grep -q "$MP: module graft_test_mod is not loaded" || { fail S4 c-no-deferred-line; return; }
  insmod $KO/graft_test_mod.ko 2>/tmp/err || { fail S4 "c-insmod-mod:$(cat /tmp/err)"; return; }
  tm_is "version=2 init=2" || { fail S4 "c-loaded:$(cat $TM)"; return; }
  [ "$(cb_seen)" = "pre_patch,post_patch" ] || { fail S4 "c-coming-callbacks:$(cb_seen)"; return; }
  [ "$(val $MP/graft_test_mod/patched)" = 1 ] || { fail S4 c-loaded-attr; return; }
  dmesg | grep -q "$MP: patching loading module graft_test_mod" || { fail S4 c-no-patch-line; return; }
  set_enabled $MP 0 || { fail S4 "c-disable:$(cat /tmp/err)"; return; }
  tm_is "version=1 init=2" || { fail S4 "c-disabled:$(cat $TM)"; return; }
  set_enabled $MP 1 || { fail S4 "c-enable:$(cat /tmp/err)"; return; }
  tm_is "version=2 init=2" || { fail S4 "c-reenabled:$(cat $TM)"; return; }
  # (d) a module object the patch cannot apply to: refused at
  # registration while the module is loaded; deferred while it is not,
  # and then the module is refused, as upstream's klp_module_coming()
  why=$(bad_case modsym "unknown symbol" "graft_test_bad: unknown symbol graft_test_mod:graft_no_such_function") ||
    { fail S4 "d-$why"; return; }
  tm_is "version=2 init=2" || { fail S4 "d-unharmed:$(cat $TM)"; return; }
  # the module goes for good under the enabled patch; then the patch
  rmmod graft_test_mod 2>/tmp/err || { fail S4 "c-rmmod-mod:$(cat /tmp/err)"; return; }
  set_enabled $MP 0 || { fail S4 "c-disable-2:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S4 "c-not-restored:$(cat /proc/cmdline)"; return; }
  rmmod $MP 2>/tmp/err || { fail S4 "rmmod:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_bad.ko mode=modsym 2>/tmp/err || { fail S4 "d-deferred:$(cat /tmp/err)"; return; }
  [ "$(val graft_test_bad/enabled)$(val graft_test_bad/graft_test_mod/patched)" = 10 ] || { fail S4 d-deferred-attrs; return; }
  if insmod $KO/graft_test_mod.ko 2>/tmp/err; then fail S4 d-module-accepted; return; fi
  grep -qi "unknown symbol" /tmp/err || { fail S4 "d-module-errno:$(cat /tmp/err)"; return; }
  dmesg | grep -q "graft_test_bad: cannot patch loading module graft_test_mod (-2): refusing to load it" ||
    { fail S4 d-no-refusal-line; return; }
  [ ! -e $TM ] && ! grep -q '^graft_test_mod ' /proc/modules || { fail S4 d-module-left; return; }
  set_enabled graft_test_bad 0 || { fail S4 "d-disable:$(cat /tmp/err)"; return; }
  rmmod graft_test_bad 2>/tmp/err || { fail S4 "d-rmmod:$(cat /tmp/err)"; return; }
  # and, without it, the module loads again
  insmod $KO/graft_test_mod.ko 2>/tmp/err && tm_is "version=1 init=1" || { fail S4 "d-reload:$(cat /tmp/err)"; return; }
  rmmod graft_test_mod graft 2>/tmp/err || { fail S4 "rmmod:$(cat /tmp/err)"; return; }
  result S4 pass cases=4 callbacks=checked
}

# S9 sysfs ABI: modes and values of every attribute (upstream livepatch's),
# and errors on bad writes.
s9() {
  local d=$G/graft_sample_cmdline modes
  [ -f $KO/graft_sample_cmdline.ko ] || { result S9 skip reason=no-sample-for-$(cat /graft/arch); return; }
  insmod $KO/graft.ko 2>/tmp/err || { fail S9 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S9 "load:$(cat /tmp/err)"; return; }
  modes=$(cd $d && stat -c %n=%a enabled transition force replace stack_order vmlinux/patched | tr '\n' ' ')
  [ "$modes" = "enabled=644 transition=444 force=200 replace=444 stack_order=444 vmlinux/patched=444 " ] ||
    { fail S9 "modes:$modes"; return; }
  [ "$(val graft_sample_cmdline/enabled) $(val graft_sample_cmdline/transition) $(val graft_sample_cmdline/replace) $(val graft_sample_cmdline/stack_order) $(val graft_sample_cmdline/vmlinux/patched)" = "1 0 0 1 1" ] ||
    { fail S9 values; return; }
  # force outside a transition: EINVAL, and nothing changes
  if echo 1 > $d/force 2>/dev/null; then fail S9 force-accepted-idle; return; fi
  if echo garbage > $d/force 2>/dev/null; then fail S9 force-garbage-accepted; return; fi
  if echo garbage > $d/enabled 2>/dev/null; then fail S9 enabled-garbage-accepted; return; fi
  if echo 1 > $d/enabled 2>/dev/null; then fail S9 reenable-accepted; return; fi
  if echo 1 > $d/transition 2>/dev/null; then fail S9 transition-writable; return; fi
  set_enabled graft_sample_cmdline 0 || { fail S9 "disable:$(cat /tmp/err)"; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/vmlinux/patched)" = 00 ] || { fail S9 values-disabled; return; }
  if echo 1 > $d/force 2>/dev/null; then fail S9 force-accepted-disabled; return; fi
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S9 "rmmod:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S9 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S9 pass
}

# The test module graft_test_sleeper: `block` starts a shell that sleeps
# inside graft_test_sleeper_func() (or its replacement) until `release`.
BLOCKER=
block() {
  local n
  n=$(sed -n 's/.*blocked=//p' $SL)
  echo 1 > $SL &
  BLOCKER=$!
  wait_for_blocked $((n + 1))
}
wait_for_blocked() {
  local i=0
  while ! grep -q "blocked=$1\$" $SL; do
    i=$((i + 1)); [ $i -gt 200 ] && return 1
    sleep 0.05
  done
}
release() { echo r > $SL && wait $BLOCKER 2>/dev/null; wait_for_blocked 0; }
# the version the last call ran: 1 original, 2 the patch's (from a new task)
version() { sh -c "echo 0 > $SL" && sed -n 's/version=\([0-9]\).*/\1/p' $SL; }

# S11 bad patches: graft_test_bad mode=<case> must fail insmod with the
# errno (busybox's text for it) and a dmesg line, and leave no sysfs
# directory; the kernel still patches afterwards.
bad_case() {  # bad_case MODE ERRNO-TEXT DMESG-TEXT
  refused graft_test_bad "$2" "$3" mode=$1
}
refused() {  # refused MODULE ERRNO-TEXT DMESG-TEXT [PARAM...]: insmod must fail so
  local m=$1 e=$2 l=$3 n
  shift 3
  n=$(dmesg | grep -c "$l")
  if insmod $KO/$m.ko "$@" 2>/tmp/err; then rmmod $m; echo "$m:$*:accepted"; return 1; fi
  grep -qi "$e" /tmp/err || { echo "$m:$*:errno:$(cat /tmp/err)"; return 1; }
  [ "$(dmesg | grep -c "$l")" -gt "$n" ] || { echo "$m:$*:no-dmesg"; return 1; }
  [ ! -e $G/$m ] || { echo "$m:$*:sysfs-left"; return 1; }
  ! grep -q "^$m " /proc/modules || { echo "$m:$*:module-left"; return 1; }
}
s11() {
  local before why n ks
  [ -f $KO/graft_test_bad.ko ] || { result S11 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S11 "insmod-graft:$(cat /tmp/err)"; return; }
  why=$(bad_case unknown "unknown symbol" "graft_test_bad: unknown symbol graft_no_such_function") || { fail S11 "$why"; return; }
  why=$(bad_case notrace "invalid argument" "graft_test_bad: trace_clock_jiffies has no ftrace site") || { fail S11 "$why"; return; }
  why=$(bad_case dup "invalid argument" "graft_test_bad: cmdline_proc_show named twice") || { fail S11 "$why"; return; }
  why=$(bad_case object "invalid argument" "graft_test_bad: object graft_no_such_module named twice") || { fail S11 "$why"; return; }
  why=$(bad_case nonsense "invalid argument" "graft_test_bad: unknown mode") || { fail S11 "$why"; return; }
  why=$(bad_case kernel "invalid argument" "graft_test_bad: built for kernel 0.0.0-other, this is $(uname -r)") || { fail S11 "$why"; return; }
  why=$(bad_case abi "invalid argument" "register: patch built against graft ABI 1 ") || { fail S11 "$why"; return; }
  # old_sympos: graft_test_dup has two graft_test_dup_func (one per C file)
  insmod $KO/graft_test_dup.ko 2>/tmp/err || { fail S11 "insmod-dup:$(cat /tmp/err)"; return; }
  [ "$(cat /proc/graft_test_dup)" = "a=1 b=2" ] || { fail S11 "dup-before:$(cat /proc/graft_test_dup)"; return; }
  why=$(bad_case ambiguous "invalid argument" "graft_test_bad: graft_test_dup_func is ambiguous in graft_test_dup (2 symbols)") ||
    { fail S11 "$why"; return; }
  why=$(bad_case sympos3 "invalid argument" "graft_test_bad: graft_test_dup_func: old_sympos 3, but graft_test_dup has 2 symbol") ||
    { fail S11 "$why"; return; }
  # old_sympos 2 patches the second only (kallsyms order: link order)
  load graft_test_dup_patch || { fail S11 "load-sympos:$(cat /tmp/err)"; return; }
  [ "$(cat /proc/graft_test_dup)" = "a=1 b=20" ] || { fail S11 "sympos-2:$(cat /proc/graft_test_dup)"; return; }
  set_enabled graft_test_dup_patch 0 || { fail S11 "disable-sympos:$(cat /tmp/err)"; return; }
  [ "$(cat /proc/graft_test_dup)" = "a=1 b=2" ] || { fail S11 "sympos-off:$(cat /proc/graft_test_dup)"; return; }
  rmmod graft_test_dup_patch graft_test_dup 2>/tmp/err || { fail S11 "rmmod-dup:$(cat /tmp/err)"; return; }
  # enabling while another patch's transition runs: EBUSY
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { fail S11 "insmod-sleeper:$(cat /tmp/err)"; return; }
  block || { fail S11 not-blocked; return; }
  insmod $KO/$SP.ko 2>/tmp/err || { fail S11 "insmod-patch:$(cat /tmp/err)"; return; }
  [ "$(val $SP/transition)" = 1 ] || { fail S11 not-in-transition; return; }
  why=$(bad_case busy "busy" "graft_test_bad: cannot enable while $SP's transition is in progress") || { fail S11 "$why"; return; }
  # a replace patch too (upstream's klp_enable_patch(): -EBUSY)
  why=$(refused graft_sample_cmdline_replace "busy" "graft_sample_cmdline_replace: cannot enable while $SP's transition is in progress") ||
    { fail S11 "$why"; return; }
  # garbage to force mid-transition: -EINVAL, a line, and nothing forced
  n=$(dmesg | grep -c "graft: $SP: force: not a boolean, write refused")
  if echo garbage > $G/$SP/force 2>/tmp/err; then fail S11 force-garbage-accepted; return; fi
  grep -qi "invalid argument" /tmp/err || { fail S11 "force-garbage-errno:$(cat /tmp/err)"; return; }
  [ "$(dmesg | grep -c "graft: $SP: force: not a boolean, write refused")" -gt "$n" ] || { fail S11 force-garbage-no-dmesg; return; }
  [ "$(val $SP/transition)" = 1 ] || { fail S11 force-garbage-forced; return; }
  dmesg | grep -q "$SP: transition forced" && { fail S11 force-garbage-forced-line; return; }
  release || { fail S11 release; return; }
  wait_for $G/$SP/transition 0 20000 || { fail S11 transition-stuck; return; }
  set_enabled $SP 0 || { fail S11 "disable-patch:$(cat /tmp/err)"; return; }
  rmmod $SP graft_test_sleeper 2>/tmp/err || { fail S11 "rmmod-sleeper:$(cat /tmp/err)"; return; }
  # unharmed: a good patch still applies and reverts
  load graft_sample_cmdline || { fail S11 "load-good:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S11 "cmdline-good:$(cat /proc/cmdline)"; return; }
  set_enabled graft_sample_cmdline 0 || { fail S11 "disable-good:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S11 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S11 "rmmod:$(cat /tmp/err)"; return; }
  ks=$(dmesg | sed -n 's/.*symbols looked up in \([0-9.]*\) ms/\1/p' | sort -n | tail -1)
  result S11 pass cases=13 "kallsyms_scan_max_ms=$ks"
}

# S8 syscall under load: 16 shells read /proc/cmdline (open/read/close
# through cmdline_proc_show(), builtins only: no fork) in a tight loop and
# record every result, while graft_sample_cmdline is enabled and disabled
# S8_CYCLES times.  Every transition completes (every reader switches);
# every result is exactly the original or the patched text; and every
# result read after a transition completed (the reader's second line after
# the controller saw transition=0, the first may have been in flight) is
# the new state's, up to the start of the next transition.
S8_N=16
S8_CYCLES=3
s8_offsets() { wc -l $(i=1; while [ $i -le $S8_N ]; do echo /tmp/s8.r$i; i=$((i + 1)); done) | awk '$2 != "total" { printf " %s", $1 }'; }
s8_stop() {
  touch /tmp/s8.stop
  [ -n "$S8_PIDS" ] && wait $S8_PIDS 2>/dev/null
  S8_PIDS=
}
s8() {
  local before i c t0 t1 t2 ms max_ms=0 tot=0 bad=0 stale=0 old=0 new=0 minr=999999 why
  [ -f $KO/graft_sample_cmdline.ko ] || { result S8 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S8 "insmod-graft:$(cat /tmp/err)"; return; }
  rm -f /tmp/s8.*
  S8_PIDS=
  i=1
  while [ $i -le $S8_N ]; do
    ( IFS=; while [ ! -e /tmp/s8.stop ]; do read -r l < /proc/cmdline; echo "$l"; done > /tmp/s8.r$i ) &
    S8_PIDS="$S8_PIDS $!"
    # nice 19: the load takes every idle cycle, the controller still runs
    renice -n 19 -p $! >/dev/null 2>&1
    i=$((i + 1))
  done
  sleep 0.5
  t1=$(now_ms)
  # phases: "<text> <start offsets> | <end offsets>": text 0 original, 1 patched
  c=0
  while [ $c -lt $((2 * S8_CYCLES)) ]; do
    echo "$(( (c + 1) % 2 ))$(s8_offsets) |" > /tmp/s8.p
    t0=$(now_ms)
    if [ $c = 0 ]; then
      load graft_sample_cmdline || { s8_stop; fail S8 "load:$(cat /tmp/err)"; return; }
    else
      set_enabled graft_sample_cmdline $(( (c + 1) % 2 )) || { s8_stop; fail S8 "transition-$c:$(cat /tmp/err)"; return; }
    fi
    ms=$(( $(now_ms) - t0 ))
    [ $ms -gt $max_ms ] && max_ms=$ms
    echo "$(cat /tmp/s8.p)$(s8_offsets)" >> /tmp/s8.phases
    sleep 0.3
    c=$((c + 1))
  done
  s8_stop
  t2=$(now_ms)
  cmdline_is "$before" || { fail S8 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S8 "rmmod:$(cat /tmp/err)"; return; }
  # every reader's results against the phases
  i=1
  while [ $i -le $S8_N ]; do
    set -- $(awk -v r=$i -v o="$before" -v p="$TXT1" '
      FILENAME == "/tmp/s8.phases" {
        # a line: text, N start offsets, "|", N end offsets
        np++; txt[np] = $1; n = (NF - 2) / 2
        st[np] = $(1 + r); en[np] = $(2 + n + r)
        next
      }
      {
        tot++
        if ($0 == o) { v = 0; old++ } else if ($0 == p) { v = 1; new++ } else { bad++; next }
        # the state required at line FNR: the phase whose window holds it
        # (lines only grow: k, the last phase started before this line,
        # only moves forward)
        while (k < np && FNR > st[k + 1]) k++
        if (k == 0) want = 0; else if (FNR > en[k] + 1) want = txt[k]; else want = -1
        if (want >= 0 && v != want) stale++
      }
      END { printf "%d %d %d %d %d\n", tot, old, new, bad, stale }' /tmp/s8.phases /tmp/s8.r$i)
    tot=$((tot + $1)); old=$((old + $2)); new=$((new + $3)); bad=$((bad + $4)); stale=$((stale + $5))
    [ $3 -lt $minr ] && minr=$3
    [ $2 -gt 0 ] && [ $3 -gt 0 ] || why="${why:-reader-$i-saw-one-version:old=$2,new=$3}"
    i=$((i + 1))
  done
  [ $bad = 0 ] || why="${why:-garbled=$bad}"
  [ $stale = 0 ] || why="${why:-stale=$stale}"
  if [ -n "$why" ]; then
    fail S8 "$why:reads=$tot,old=$old,new=$new,bad=$bad,stale=$stale"
  else
    result S8 pass "readers=$S8_N" "transitions=$((2 * S8_CYCLES))" "reads=$tot" "old=$old" "new=$new" \
      "garbled=0" "stale=0" "min_new_per_reader=$minr" "max_transition_ms=$max_ms" \
      "load_ms=$((t2 - t1))" "check_ms=$(($(now_ms) - t2))"
  fi
  rm -f /tmp/s8.*
}

# S12 stress: S12_CYCLES rounds of enable, stack, disable/re-enable, atomic
# replace, disable and unload, while 8 readers spawn `cat /proc/cmdline`
# (new tasks in every transition) and 2 shell loops keep both CPUs busy.
# /proc/cmdline must read the expected text after every transition; at the
# end no graft ftrace_ops is left on cmdline_proc_show (enabled_functions),
# every module unloads (no reference leaked), unreclaimable slab grew less
# than S12_SLAB_KB after the first round (task references leaked by
# snapshots would each pin a task_struct), and the kernel log holds no
# BUG, WARNING or Oops.
S12_CYCLES=4
S12_SLAB_KB=1024
sunreclaim_kb() { awk '$1 == "SUnreclaim:" { print $2 }' /proc/meminfo; }
s12_stop() {
  touch /tmp/s12.stop
  [ -n "$S12_PIDS" ] && { kill $S12_PIDS 2>/dev/null; wait $S12_PIDS 2>/dev/null; }
  S12_PIDS=
}
s12_step() {  # s12_step WHAT EXPECTED-CMDLINE COMMAND...
  local what=$1 want=$2; shift 2
  "$@" || { S12_WHY="$what:$(cat /tmp/err)"; return 1; }
  [ "$(cat /proc/cmdline)" = "$want" ] || { S12_WHY="$what:cmdline:$(cat /proc/cmdline)"; return 1; }
  S12_TRANSITIONS=$((S12_TRANSITIONS + 1))
}
s12_round() {
  local before=$1
  s12_step load-1 "$TXT1" load graft_sample_cmdline || return 1
  s12_step load-2 "$TXT2" load graft_sample_cmdline2 || return 1
  s12_step disable-2 "$TXT1" set_enabled graft_sample_cmdline2 0 || return 1
  s12_step enable-2 "$TXT2" set_enabled graft_sample_cmdline2 1 || return 1
  s12_step replace "$TXTR" load graft_sample_cmdline_replace || return 1
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline2/enabled)" = 00 ] || { S12_WHY=replaced-still-enabled; return 1; }
  rmmod graft_sample_cmdline2 graft_sample_cmdline 2>/tmp/err || { S12_WHY="rmmod-replaced:$(cat /tmp/err)"; return 1; }
  s12_step disable-replace "$before" set_enabled graft_sample_cmdline_replace 0 || return 1
  rmmod graft_sample_cmdline_replace 2>/tmp/err || { S12_WHY="rmmod-replace:$(cat /tmp/err)"; return 1; }
}
s12() {
  local before i slab0 slab1 t0 oops log0
  [ -f $KO/graft_sample_cmdline_replace.ko ] || { result S12 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S12 "insmod-graft:$(cat /tmp/err)"; return; }
  log0=$(dmesg | wc -l)
  rm -f /tmp/s12.*
  S12_PIDS= S12_WHY= S12_TRANSITIONS=0
  i=0
  while [ $i -lt 8 ]; do
    ( while [ ! -e /tmp/s12.stop ]; do cat /proc/cmdline >/dev/null; done ) &
    S12_PIDS="$S12_PIDS $!"
    i=$((i + 1))
  done
  ( while :; do :; done ) & S12_PIDS="$S12_PIDS $!"
  ( while :; do :; done ) & S12_PIDS="$S12_PIDS $!"
  t0=$(now_ms)
  i=0
  while [ $i -lt $S12_CYCLES ]; do
    s12_round "$before" || break
    [ $i = 0 ] && slab0=$(sunreclaim_kb)
    i=$((i + 1))
  done
  s12_stop
  [ -n "$S12_WHY" ] && { fail S12 "round-$i:$S12_WHY"; return; }
  slab1=$(sunreclaim_kb)
  if grep -q cmdline_proc_show $T/enabled_functions 2>/dev/null; then
    fail S12 "ftrace-ops-left:$(grep cmdline_proc_show $T/enabled_functions)"; return
  fi
  rmmod graft 2>/tmp/err || { fail S12 "rmmod-graft:$(cat /tmp/err)"; return; }
  oops=$(dmesg | tail -n +$((log0 + 1)) | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' | head -n1)
  if [ -n "$oops" ]; then
    fail S12 "kernel-log:$oops"
  elif [ $((slab1 - slab0)) -ge $S12_SLAB_KB ]; then
    fail S12 "slab-grew:$((slab1 - slab0))kB"
  else
    result S12 pass "rounds=$S12_CYCLES" "transitions=$S12_TRANSITIONS" "slab_delta_kb=$((slab1 - slab0))" \
      "ms=$(($(now_ms) - t0))"
  fi
}

# S10 coexistence on the patched cmdline_proc_show(): (a) ftrace's function
# tracer filtered on it records the call while /proc/cmdline reads the
# patch; (b) a kprobe event (pre handler only, kprobes-on-ftrace) on it
# hits beside the patch; (c) upstream klp's livepatch-sample (IPMODIFY on
# the same function) is refused with EBUSY and a livepatch: line, and
# graft's patch keeps working.  Tracing is restored after each part.
T=/sys/kernel/tracing
tracing_off() {
  [ -d $T ] || return 0
  echo nop > $T/current_tracer 2>/dev/null
  echo > $T/set_ftrace_filter 2>/dev/null
  [ -d $T/events/kprobes/graft_s10 ] && echo 0 > $T/events/kprobes/graft_s10/enable 2>/dev/null
  grep -q graft_s10 $T/kprobe_events 2>/dev/null && echo '-:graft_s10' >> $T/kprobe_events 2>/dev/null
  echo > $T/trace 2>/dev/null
  return 0
}
s10() {
  local before parts="" skipped="" n
  [ -f $KO/graft_sample_cmdline.ko ] || { result S10 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S10 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S10 "load:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S10 "cmdline:$(cat /proc/cmdline)"; return; }
  # (a) function tracer
  if [ -f $T/set_ftrace_filter ] && grep -qw function $T/available_tracers 2>/dev/null; then
    echo cmdline_proc_show > $T/set_ftrace_filter 2>/tmp/err || { fail S10 "ftrace-filter:$(cat /tmp/err)"; return; }
    echo > $T/trace
    echo function > $T/current_tracer 2>/tmp/err || { fail S10 "ftrace-tracer:$(cat /tmp/err)"; return; }
    cmdline_is "$TXT1" || { fail S10 "ftrace-cmdline:$(cat /proc/cmdline)"; return; }
    grep -q 'cmdline_proc_show' $T/trace || { fail S10 ftrace-no-call; return; }
    tracing_off
    [ "$(cat $T/current_tracer)" = nop ] || { fail S10 ftrace-not-off; return; }
    cmdline_is "$TXT1" || { fail S10 "ftrace-off-cmdline:$(cat /proc/cmdline)"; return; }
    parts="${parts}ftrace,"
  else
    skipped="${skipped}ftrace,"
  fi
  # (b) kprobe event, no post handler
  if [ -f $T/kprobe_events ]; then
    echo 'p:graft_s10 cmdline_proc_show' >> $T/kprobe_events 2>/tmp/err || { fail S10 "kprobe-add:$(cat /tmp/err)"; return; }
    echo > $T/trace
    echo 1 > $T/events/kprobes/graft_s10/enable 2>/tmp/err || { tracing_off; fail S10 "kprobe-enable:$(cat /tmp/err)"; return; }
    cmdline_is "$TXT1" || { tracing_off; fail S10 "kprobe-cmdline:$(cat /proc/cmdline)"; return; }
    cmdline_is "$TXT1" || { tracing_off; fail S10 "kprobe-cmdline:$(cat /proc/cmdline)"; return; }
    n=$(awk '$1 == "graft_s10" { print $2 }' $T/kprobe_profile)
    grep -q 'graft_s10:' $T/trace || { tracing_off; fail S10 "kprobe-no-event:hits=$n"; return; }
    [ "${n:-0}" -ge 2 ] || { tracing_off; fail S10 "kprobe-hits:$n"; return; }
    tracing_off
    ! grep -q graft_s10 $T/kprobe_events || { fail S10 kprobe-not-removed; return; }
    cmdline_is "$TXT1" || { fail S10 "kprobe-off-cmdline:$(cat /proc/cmdline)"; return; }
    parts="${parts}kprobe,"
  else
    skipped="${skipped}kprobe,"
  fi
  # (c) upstream klp on the same function: refused, loudly
  if [ -f $KO/livepatch-sample.ko ]; then
    n=$(dmesg | grep -c "livepatch: failed to register ftrace handler for function 'cmdline_proc_show' (-16)")
    if insmod $KO/livepatch-sample.ko 2>/tmp/err; then
      [ -d /sys/kernel/livepatch/livepatch_sample ] && echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
      fail S10 klp-accepted; return
    fi
    grep -qi "busy" /tmp/err || { fail S10 "klp-errno:$(cat /tmp/err)"; return; }
    [ "$(dmesg | grep -c "livepatch: failed to register ftrace handler for function 'cmdline_proc_show' (-16)")" -gt "$n" ] ||
      { fail S10 klp-no-dmesg; return; }
    [ ! -e /sys/kernel/livepatch/livepatch_sample ] || { fail S10 klp-sysfs-left; return; }
    ! grep -q '^livepatch_sample ' /proc/modules || { fail S10 klp-module-left; return; }
    cmdline_is "$TXT1" || { fail S10 "klp-cmdline:$(cat /proc/cmdline)"; return; }
    [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/transition)" = 10 ] || { fail S10 klp-graft-state; return; }
    parts="${parts}klp-conflict,"
  else
    skipped="${skipped}klp-conflict,"
  fi
  # (d) a kprobe with a post handler (kprobes arm it with an IPMODIFY
  # ftrace_ops).  While graft's patch holds the site it cannot be armed:
  # either register_kprobe() fails with EBUSY, or (Linux 7.3.4:
  # __register_kprobe() in kernel/kprobes.c drops arm_kprobe()'s error and
  # returns 0) it "succeeds" and never fires; either way graft's patch keeps
  # working.  Armed while the patch is disabled, it makes enabling the patch
  # fail with EBUSY and graft's hint, leaving the function unpatched; the
  # patch enables again once it is gone.
  if [ -f $KO/graft_test_kprobe.ko ]; then
    if insmod $KO/graft_test_kprobe.ko 2>/tmp/err; then
      cmdline_is "$TXT1" && cmdline_is "$TXT1" || { rmmod graft_test_kprobe; fail S10 "kprobe-post-cmdline:$(cat /proc/cmdline)"; return; }
      n=$(cat /sys/module/graft_test_kprobe/parameters/hits)
      rmmod graft_test_kprobe 2>/tmp/err || { fail S10 "kprobe-post-unarmed-rmmod:$(cat /tmp/err)"; return; }
      [ "$n" = 0 ] || { fail S10 "kprobe-post-fired-beside-patch:$n"; return; }
      parts="${parts}kprobe-post-unarmed,"
    else
      grep -qi busy /tmp/err || { fail S10 "kprobe-post-errno:$(cat /tmp/err)"; return; }
      parts="${parts}kprobe-post-refused,"
    fi
    cmdline_is "$TXT1" || { fail S10 "kprobe-post-cmdline:$(cat /proc/cmdline)"; return; }
    set_enabled graft_sample_cmdline 0 || { fail S10 "kprobe-post-disable:$(cat /tmp/err)"; return; }
    insmod $KO/graft_test_kprobe.ko 2>/tmp/err || { fail S10 "kprobe-post-insmod:$(cat /tmp/err)"; return; }
    cmdline_is "$before" || { rmmod graft_test_kprobe; fail S10 "kprobe-post-armed-cmdline:$(cat /proc/cmdline)"; return; }
    n=$(cat /sys/module/graft_test_kprobe/parameters/hits)
    [ "${n:-0}" -ge 1 ] || { rmmod graft_test_kprobe; fail S10 "kprobe-post-hits:$n"; return; }
    if echo 1 > $G/graft_sample_cmdline/enabled 2>/tmp/err; then rmmod graft_test_kprobe; fail S10 kprobe-post-enable-accepted; return; fi
    grep -qi busy /tmp/err || { rmmod graft_test_kprobe; fail S10 "kprobe-post-enable-errno:$(cat /tmp/err)"; return; }
    dmesg | grep -q 'graft_sample_cmdline: ftrace registration of .* failed (-16): another IP-modifying ftrace user' ||
      { rmmod graft_test_kprobe; fail S10 kprobe-post-no-hint; return; }
    [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/transition)" = 00 ] || { rmmod graft_test_kprobe; fail S10 kprobe-post-state; return; }
    cmdline_is "$before" || { rmmod graft_test_kprobe; fail S10 "kprobe-post-refused-cmdline:$(cat /proc/cmdline)"; return; }
    rmmod graft_test_kprobe 2>/tmp/err || { fail S10 "kprobe-post-rmmod:$(cat /tmp/err)"; return; }
    set_enabled graft_sample_cmdline 1 || { fail S10 "kprobe-post-reenable:$(cat /tmp/err)"; return; }
    cmdline_is "$TXT1" || { fail S10 "kprobe-post-reenabled-cmdline:$(cat /proc/cmdline)"; return; }
    parts="${parts}kprobe-post-first,"
  else
    skipped="${skipped}kprobe-post,"
  fi
  set_enabled graft_sample_cmdline 0 || { fail S10 "disable:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S10 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S10 "rmmod:$(cat /tmp/err)"; return; }
  result S10 pass "parts=${parts%,}" ${skipped:+"skipped=${skipped%,}"}
}

# S5 callbacks: graft_test_callbacks (a patch of graft_test_sleeper_func(),
# version 3) logs each per-object callback; their order among the engine's
# lines must be upstream's (Documentation/livepatch/callbacks.rst, the cases
# of tools/testing/selftests/livepatch/test-callbacks.sh that need no module
# object): a refusing pre_patch, enable, a reversed disable, disable, a
# reversed enable (no pre_unpatch: upstream runs none when reversing), a
# refusing pre_patch on a re-enable through sysfs, enabling failing after
# pre_patch (only post_unpatch runs), and an atomic replace of the patch
# (the replaced patch's callbacks do not run).
CB=graft_test_callbacks
S5_MARK=0
s5_mark() { S5_MARK=$(dmesg | wc -l); }
# the callback and engine lines of the patch since the mark, as tokens
s5_log() {
  dmesg | tail -n +$((S5_MARK + 1)) | sed -E 's/^\[[^]]*\] ?//' | sed -nE \
    -e 's/^graft_test_callbacks: (pre_patch|post_patch|pre_unpatch|post_unpatch) ([a-z_]+) refused.*/\1:\2:refused/p' \
    -e 's/^graft_test_callbacks: (pre_patch|post_patch|pre_unpatch|post_unpatch) ([a-z_]+)$/\1:\2/p' \
    -e "s/^graft: $CB: pre-patch callback failed for object '([a-z_]+)'.*/prefail:\1/p" \
    -e "s/^graft: $CB: (enabling|disabling)$/\1/p" \
    -e "s/^graft: $CB: transition reversed$/reversed/p" \
    -e "s/^graft: $CB: replaced, unpatched$/replaced/p" \
    -e "s/^graft: $CB: (patched|unpatched) after .*/\1/p" | tr '\n' ',' | sed 's/,$//'
}
# s5_expect CASE TOKENS: the log since the mark is exactly TOKENS
s5_expect() {
  local got
  got=$(s5_log)
  [ "$got" = "$2" ] || { fail S5 "$1:got:$got"; return 1; }
}
LP=/sys/kernel/livepatch/livepatch_sample
# disable and unload upstream's livepatch-sample
s5_klp_off() {
  local i=0
  echo 0 > $LP/enabled 2>/dev/null
  while [ -d $LP ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  rmmod livepatch_sample
}
s5() {
  local d=$G/$CB cases
  [ -f $KO/$CB.ko ] || { result S5 skip reason=no-sample-for-$(cat /graft/arch); return; }
  insmod $KO/graft.ko 2>/tmp/err || { fail S5 "insmod-graft:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { fail S5 "insmod-sleeper:$(cat /tmp/err)"; return; }
  # 1. pre_patch refuses: insmod fails with its errno, nothing remains, the
  #    function is not patched, and the refusing object gets no post_unpatch
  s5_mark
  if insmod $KO/$CB.ko pre_patch_ret=-19 2>/tmp/err; then fail S5 refused-insmod-succeeded; return; fi
  grep -qi "no such device" /tmp/err || { fail S5 "refused-errno:$(cat /tmp/err)"; return; }
  [ ! -e $d ] || { fail S5 refused-sysfs-left; return; }
  ! grep -q "^$CB " /proc/modules || { fail S5 refused-module-left; return; }
  [ "$(version)" = 1 ] || { fail S5 "refused-patched:$(version)"; return; }
  # (busybox's insmod retries a failed finit_module() with init_module(),
  # so the module's init, and the refusal, may run twice)
  case "$(s5_log)" in
    "pre_patch:vmlinux:refused,prefail:vmlinux" | "pre_patch:vmlinux:refused,prefail:vmlinux,pre_patch:vmlinux:refused,prefail:vmlinux") ;;
    *) fail S5 "refused:got:$(s5_log)"; return ;;
  esac
  # 2. enable
  s5_mark
  load $CB || { fail S5 "load:$(cat /tmp/err)"; return; }
  [ "$(version)" = 3 ] || { fail S5 "not-patched:$(version)"; return; }
  s5_expect enable "pre_patch:vmlinux,enabling,post_patch:vmlinux,patched" || return
  # 3. disable held by a task in the new function, reversed by enabled=1
  s5_mark
  block || { fail S5 not-blocked; return; }
  echo 0 > $d/enabled || { fail S5 disable-write; return; }
  sleep 0.3
  [ "$(val $CB/transition)" = 1 ] || { fail S5 disable-not-held; return; }
  echo 1 > $d/enabled || { fail S5 reverse-write; return; }
  wait_for $d/transition 0 20000 || { fail S5 reverse-stuck; return; }
  release || { fail S5 release; return; }
  s5_expect disable-reversed "pre_unpatch:vmlinux,disabling,reversed,post_patch:vmlinux,patched" || return
  # 4. disable
  s5_mark
  set_enabled $CB 0 || { fail S5 "disable:$(cat /tmp/err)"; return; }
  [ "$(version)" = 1 ] || { fail S5 "not-unpatched:$(version)"; return; }
  s5_expect disable "pre_unpatch:vmlinux,disabling,post_unpatch:vmlinux,unpatched" || return
  # 5. enable held by a task in the old function, reversed by enabled=0
  s5_mark
  block || { fail S5 not-blocked-2; return; }
  echo 1 > $d/enabled || { fail S5 enable-write; return; }
  sleep 0.3
  [ "$(val $CB/transition)" = 1 ] || { fail S5 enable-not-held; return; }
  echo 0 > $d/enabled || { fail S5 reverse-write-2; return; }
  wait_for $d/transition 0 20000 || { fail S5 reverse-stuck-2; return; }
  release || { fail S5 release-2; return; }
  [ "$(version)" = 1 ] || { fail S5 "reversed-patched:$(version)"; return; }
  s5_expect enable-reversed "pre_patch:vmlinux,enabling,reversed,post_unpatch:vmlinux,unpatched" || return
  # 6. pre_patch refuses a re-enable through sysfs: the write fails with
  #    its errno and the patch stays disabled
  rmmod $CB 2>/tmp/err || { fail S5 "rmmod-cb:$(cat /tmp/err)"; return; }
  insmod $KO/$CB.ko pre_patch_ret=-19 pre_patch_pass=1 2>/tmp/err &&
    wait_for $d/transition 0 20000 || { fail S5 "load-pass-1:$(cat /tmp/err)"; return; }
  set_enabled $CB 0 || { fail S5 "disable-3:$(cat /tmp/err)"; return; }
  s5_mark
  if echo 1 2>/tmp/err > $d/enabled; then fail S5 sysfs-refusal-accepted; return; fi
  grep -qi "no such device" /tmp/err || { fail S5 "sysfs-refused-errno:$(cat /tmp/err)"; return; }
  [ "$(val $CB/enabled)" = 0 ] && [ "$(val $CB/transition)" = 0 ] || { fail S5 sysfs-refused-enabled; return; }
  [ "$(version)" = 1 ] || { fail S5 "sysfs-refused-patched:$(version)"; return; }
  s5_expect sysfs-refused "pre_patch:vmlinux:refused,prefail:vmlinux" || return
  rmmod $CB 2>/tmp/err || { fail S5 "rmmod-cb-2:$(cat /tmp/err)"; return; }
  # 7. enabling fails after pre_patch succeeded (upstream's livepatch-sample
  #    holds cmdline_proc_show(), ftrace refuses graft with EBUSY): only
  #    post_unpatch runs, and nothing stays patched
  cases=6
  if [ -f $KO/livepatch-sample.ko ]; then
    insmod $KO/livepatch-sample.ko 2>/tmp/err && wait_for $LP/transition 0 20000 ||
      { fail S5 "klp-load:$(cat /tmp/err)"; return; }
    s5_mark
    if insmod $KO/$CB.ko 2>/tmp/err; then s5_klp_off; fail S5 klp-conflict-accepted; return; fi
    grep -qi "busy" /tmp/err || { s5_klp_off; fail S5 "klp-errno:$(cat /tmp/err)"; return; }
    [ ! -e $d ] || { s5_klp_off; fail S5 klp-sysfs-left; return; }
    [ "$(version)" = 1 ] || { s5_klp_off; fail S5 "klp-patched:$(version)"; return; }
    case "$(s5_log)" in
      "pre_patch:vmlinux,post_unpatch:vmlinux" | "pre_patch:vmlinux,post_unpatch:vmlinux,pre_patch:vmlinux,post_unpatch:vmlinux") ;;
      *) s5_klp_off; fail S5 "klp:got:$(s5_log)"; return ;;
    esac
    s5_klp_off || { fail S5 klp-unload; return; }
    cases=7
  fi
  # 8. atomic replace: a cumulative patch replaces the enabled one; only the
  #    new patch's callbacks would run, none of the replaced one's
  load $CB || { fail S5 "load-3:$(cat /tmp/err)"; return; }
  s5_mark
  load graft_sample_cmdline_replace || { fail S5 "load-replace:$(cat /tmp/err)"; return; }
  [ "$(val $CB/enabled)" = 0 ] || { fail S5 not-replaced; return; }
  [ "$(version)" = 1 ] && cmdline_is "$TXTR" || { fail S5 "replace-state:$(version):$(cat /proc/cmdline)"; return; }
  s5_expect replaced "replaced" || return
  set_enabled graft_sample_cmdline_replace 0 || { fail S5 "disable-replace:$(cat /tmp/err)"; return; }
  rmmod graft_sample_cmdline_replace $CB 2>/tmp/err || { fail S5 "rmmod-replace:$(cat /tmp/err)"; return; }
  s5_expect replaced-unloaded "replaced" || return
  cases=$((cases + 1))
  rmmod graft_test_sleeper graft 2>/tmp/err || { fail S5 "rmmod:$(cat /tmp/err)"; return; }
  result S5 pass cases=$cases
}

# S6 shadow variables: graft_test_shadow checks the API graft.ko exports
# (alloc, duplicate refused, get_or_alloc, constructor and its failure,
# destructor, free, free_all, GFP_ATOMIC with interrupts off, impossible
# sizes) and leaves two variables that graft.ko must free when it unloads;
# graft_sample_shadow's /proc/cmdline counts its calls in a shadow counter
# attached to the inode, freed by its post_unpatch callback.
s6() {
  local line n i before
  [ -f $KO/graft_test_shadow.ko ] || { result S6 skip reason=no-sample-for-$(cat /graft/arch); return; }
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S6 "insmod-graft:$(cat /tmp/err)"; return; }
  # 1. the API
  insmod $KO/graft_test_shadow.ko 2>/tmp/err || { fail S6 "insmod-test:$(cat /tmp/err)"; return; }
  line=$(dmesg | grep "graft_test_shadow: checks=" | tail -n 1)
  n=$(echo "$line" | sed -n 's/.*checks=\([0-9]*\) failed=0$/\1/p')
  [ -n "$n" ] || { fail S6 "api:$line:$(dmesg | grep 'graft_test_shadow: .*: fail$' | head -n 3 | sed 's/.*graft_test_shadow: //' | tr '\n' ' ')"; return; }
  [ "$n" -ge 26 ] || { fail S6 "api-checks:$n"; return; }
  dmesg | grep -q "graft: shadow: duplicate shadow variable" || { fail S6 duplicate-not-logged; return; }
  dmesg | grep -q "graft: shadow: failed to construct shadow variable .* (-22)" || { fail S6 ctor-failure-not-logged; return; }
  rmmod graft_test_shadow 2>/tmp/err || { fail S6 "rmmod-test:$(cat /tmp/err)"; return; }
  # 2. a patch's shadow counter
  load graft_sample_shadow || { fail S6 "load-sample:$(cat /tmp/err)"; return; }
  for i in 1 2 3; do
    cmdline_is "$TXT1 (shadow count $i)" || { fail S6 "count-$i:$(cat /proc/cmdline)"; return; }
  done
  set_enabled graft_sample_shadow 0 || { fail S6 "disable:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S6 "not-restored:$(cat /proc/cmdline)"; return; }
  dmesg | grep -q "graft_sample_shadow: shadow counters freed" || { fail S6 counters-not-freed; return; }
  set_enabled graft_sample_shadow 1 || { fail S6 "reenable:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1 (shadow count 1)" || { fail S6 "count-after-free:$(cat /proc/cmdline)"; return; }
  set_enabled graft_sample_shadow 0 || { fail S6 "disable-2:$(cat /tmp/err)"; return; }
  rmmod graft_sample_shadow 2>/tmp/err || { fail S6 "rmmod-sample:$(cat /tmp/err)"; return; }
  # 3. graft.ko frees the test module's two leftovers
  rmmod graft 2>/tmp/err || { fail S6 "rmmod-graft:$(cat /tmp/err)"; return; }
  dmesg | grep -q "graft: shadow: freed 2 shadow variable(s) left at unload" || { fail S6 leftovers-not-freed; return; }
  result S6 pass "checks=$n"
}

# S7 blocked task: a shell sleeping inside graft_test_sleeper_func() holds
# the transition to patched (the log names it) until it leaves; a shell
# sleeping in the replacement holds the way back, and writing enabled=1
# mid-transition reverses it; last, force completes a held transition at
# once and leaves the patch module unloadable for the rest of the boot.
s7() {
  local d=$G/$SP t0 t1 t2 wait_ms n
  [ -f $KO/$SP.ko ] || { result S7 skip reason=no-sample-for-$(cat /graft/arch); return; }
  insmod $KO/graft.ko 2>/tmp/err || { fail S7 "insmod-graft:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { fail S7 "insmod-sleeper:$(cat /tmp/err)"; return; }
  [ "$(version)" = 1 ] || { fail S7 "version-before:$(version)"; return; }
  # 1. held by a task in the old function
  block || { fail S7 not-blocked; return; }
  insmod $KO/$SP.ko 2>/tmp/err || { fail S7 "insmod-patch:$(cat /tmp/err)"; return; }
  t0=$(now_ms)
  sleep 1
  [ "$(val $SP/transition)" = 1 ] || { fail S7 not-held; return; }
  dmesg | grep -q "pid $BLOCKER (sh) waits: graft_test_sleeper_func+.*\[graft_test_sleeper\]" || { fail S7 straggler-not-named; return; }
  # sysfs names it too, with the frames the unwinder read
  cat $d/stragglers > /tmp/strag 2>&1
  grep -q "^pid $BLOCKER (sh) waits: graft_test_sleeper_func+.*\[graft_test_sleeper\] in frame [0-9]" /tmp/strag &&
    grep -q "^  #[0-9]* graft_test_sleeper_func+.*\[graft_test_sleeper\]" /tmp/strag ||
    { fail S7 "stragglers-sysfs:$(head -c 400 /tmp/strag | tr '\n' '|')"; return; }
  [ "$(version)" = 2 ] || { fail S7 new-task-not-patched; return; }
  t1=$(now_ms)
  release || { fail S7 release; return; }
  wait_for $d/transition 0 20000 || { fail S7 enable-stuck; return; }
  t2=$(now_ms)
  # the released task switched itself on its way back from write() (the
  # sys_exit probe), not at a later pass after it exited
  n=$(dmesg | sed -n "s/.*graft: $SP: \([0-9]*\) task(s) switched themselves at syscall exit.*/\1/p" | tail -n1)
  [ "${n:-0}" -ge 1 ] || { fail S7 "not-switched-at-syscall-exit:${n:-no-line}"; return; }
  [ -z "$(cat $d/stragglers)" ] || { fail S7 "stragglers-after:$(head -c 200 $d/stragglers | tr '\n' '|')"; return; }
  wait_ms=$((t1 - t0))
  [ "$(val $SP/enabled)" = 1 ] && [ "$(version)" = 2 ] || { fail S7 not-patched; return; }
  # 2. held by a task in the new function; reversed back to patched
  block || { fail S7 not-blocked-2; return; }
  echo 0 > $d/enabled || { fail S7 disable-write; return; }
  sleep 0.5
  [ "$(val $SP/transition)" = 1 ] || { fail S7 disable-not-held; return; }
  # graftctl shows the transition and names the straggler
  graftctl status $SP > /tmp/out 2>&1
  grep -q "^  transition: unpatching$" /tmp/out &&
    grep -q "^  straggler (pass [0-9]*): pid $BLOCKER (sh) waits: .*graft_test_sleeper_func_v2+.* \[$SP\] in frame" /tmp/out ||
    { fail S7 "graftctl-status:$(cat /tmp/out)"; return; }
  graftctl enable $SP > /dev/null 2>/tmp/err || { fail S7 "reverse-write:$(cat /tmp/err)"; return; }
  graftctl wait $SP 5 > /tmp/out 2>&1 || { fail S7 "reverse-stuck:$(cat /tmp/out)"; return; }
  grep -q "blocked=1" $SL || { fail S7 reverse-waited-for-task; return; }
  [ "$(val $SP/enabled)" = 1 ] && [ "$(version)" = 2 ] || { fail S7 reverse-not-patched; return; }
  release || { fail S7 release-2; return; }
  set_enabled $SP 0 || { fail S7 "disable:$(cat /tmp/err)"; return; }
  [ "$(version)" = 1 ] || { fail S7 not-unpatched; return; }
  rmmod $SP 2>/tmp/err || { fail S7 "rmmod-patch:$(cat /tmp/err)"; return; }
  # 3. force (last of the boot: the patch module stays loaded)
  block || { fail S7 not-blocked-3; return; }
  insmod $KO/$SP.ko 2>/tmp/err || { fail S7 "insmod-patch-3:$(cat /tmp/err)"; return; }
  sleep 0.3
  [ "$(val $SP/transition)" = 1 ] || { fail S7 force-not-held; return; }
  echo 1 > $d/force || { fail S7 force-write; return; }
  [ "$(val $SP/transition)" = 0 ] && [ "$(val $SP/enabled)" = 1 ] || { fail S7 not-forced; return; }
  release || { fail S7 release-3; return; }
  [ "$(version)" = 2 ] || { fail S7 forced-not-patched; return; }
  if rmmod $SP 2>/dev/null; then fail S7 forced-module-unloaded; return; fi
  dmesg | grep -q "$SP: transition forced" || { fail S7 force-not-logged; return; }
  result S7 pass "held_ms=$wait_ms" "after_release_ms=$((t2 - t1))"
}

s1
s2
s3
s4
s9
s11
s8
s12
s10
s5
s6
s7  # last: its forced patch module stays loaded
# graft's log of the scenarios, for whoever reads the serial log
dmesg | grep 'graft: ' | grep -v selftest | sed 's/^/graft-log: /' | tail -n 40

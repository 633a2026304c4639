# shellcheck shell=dash
# S11 bad patches: graft_test_bad mode=<case> must fail insmod with the
# errno (busybox's text for it) and a dmesg line, and leave no sysfs
# directory (system states included: an id 0, an id twice, states not
# counted, and the ABI before them); graft_test_fuzzdesc's seeded
# malformed descriptions must all
# be refused, with no kernel complaint; the kernel still patches
# afterwards.  On x86_64, a pre-image picks the copy of an ambiguous name
# it describes (dup_pick).
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

# foreign_arch: graft_sample_cmdline.ko with another arch's e_machine, as a
# patch module built for another arch's kernel looks to this one.  The
# kernel's loader refuses its ELF header (elf_validity_check() in
# kernel/module/main.c: "Invalid architecture in ELF header: <machine>",
# -ENOEXEC) before graft.ko or any of the module's code is reached; prints
# why not (status 1)
foreign_arch() {
  local f=/tmp/foreign.ko data n l
  cp "$KO/graft_sample_cmdline.ko" $f || { echo foreign-copy; return 1; }
  data=$(dd if=$f bs=1 skip=5 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  # EI_DATA 1: little-endian, 2: big-endian (s390); another arch's
  # machine: x86_64's (62), or aarch64's (183) on x86_64
  case "$data:$(cat /graft/arch)" in
    1:x86_64) printf '\267\000' > /tmp/foreign.m ;;
    1:*) printf '\076\000' > /tmp/foreign.m ;;
    2:*) printf '\000\076' > /tmp/foreign.m ;;
    *) echo "foreign-ei-data:$data"; return 1 ;;
  esac
  dd if=/tmp/foreign.m of=$f bs=1 seek=18 count=2 conv=notrunc 2>/dev/null || { echo foreign-dd; return 1; }
  cmp -s $f "$KO/graft_sample_cmdline.ko" && { echo foreign-unchanged; return 1; }
  l="Invalid architecture in ELF header: "
  n=$(dmesg | grep -c "$l")
  if insmod $f 2>/tmp/err; then rmmod graft_sample_cmdline; echo foreign-accepted; return 1; fi
  grep -qi "invalid module format" /tmp/err || { echo "foreign-errno:$(cat /tmp/err)"; return 1; }
  [ "$(dmesg | grep -c "$l")" -gt "$n" ] || { echo foreign-no-dmesg; return 1; }
  [ ! -e "$G/graft_sample_cmdline" ] || { echo foreign-sysfs-left; return 1; }
  ! grep -q "^graft_sample_cmdline " /proc/modules || { echo foreign-module-left; return 1; }
}

# dup_pick: graft_test_dup_pick with the pre-image of graft_test_dup's
# second graft_test_dup_func (/graft/ko/graft_test_dup_pick.params, made on
# the host by graft-inspect for x86_64 images; required there) patches
# that copy when its name is ambiguous (sympos=0) and when its sympos
# names the other copy, and a pre-image no copy matches is refused; prints
# why not (status 1).  Elsewhere prints nothing.
dup_pick() {
  local params=$KO/graft_test_dup_pick.params p s n h l bad
  local line="graft_test_dup_pick: graft_test_dup_func: the running code of its symbol 2 of 2 matches the patch's pre-image"
  if [ ! -f $params ]; then
    [ "$(cat /graft/arch)" != x86_64 ] || { echo "dup-pick:no-params"; return 1; }
    return 0
  fi
  read -r p < $params
  for s in 0 1; do
    n=$(dmesg | grep -c "$line")
    # shellcheck disable=SC2086  # the parameters, one word each
    load graft_test_dup_pick $p sympos=$s || { echo "dup-pick-$s:$(cat /tmp/err)"; return 1; }
    [ "$(cat /proc/graft_test_dup)" = "a=1 b=30" ] || { echo "dup-pick-$s:$(cat /proc/graft_test_dup)"; return 1; }
    [ "$(dmesg | grep -c "$line")" -gt "$n" ] || { echo "dup-pick-$s:no-match-line"; return 1; }
    # old_sympos 1 names the other copy: graft says it patches this one
    [ $s = 0 ] || dmesg | grep -q "$line (not old_sympos's): patching that one" ||
      { echo "dup-pick-$s:no-not-old-sympos-line"; return 1; }
    set_enabled graft_test_dup_pick 0 || { echo "dup-pick-$s-disable:$(cat /tmp/err)"; return 1; }
    [ "$(cat /proc/graft_test_dup)" = "a=1 b=2" ] || { echo "dup-pick-$s-off:$(cat /proc/graft_test_dup)"; return 1; }
    rmmod graft_test_dup_pick 2>/tmp/err || { echo "dup-pick-$s-rmmod:$(cat /tmp/err)"; return 1; }
  done
  # a pre-image of neither copy: its hash's last digit changed
  h=${p##*pre_hash=}; h=${h%% *}; l=0
  [ "${h#"${h%?}"}" = 0 ] && l=1
  bad=$(echo "$p" | sed "s/pre_hash=$h/pre_hash=${h%?}$l/")
  # shellcheck disable=SC2086  # the parameters, one word each
  refused graft_test_dup_pick "invalid argument" \
    "graft_test_dup_pick: graft_test_dup_func: the running code does not match the patch's pre-image" $bad || return 1
  [ "$(cat /proc/graft_test_dup)" = "a=1 b=2" ] || { echo "dup-pick-refused:$(cat /proc/graft_test_dup)"; return 1; }
}

s11() {
  local before why n ks mark fuzz seed init want pick
  needs S11 graft_test_bad graft_test_fuzzdesc graft_test_dup graft_test_dup_patch graft_test_dup_pick graft_test_sleeper graft_test_sleeper_patch graft_sample_cmdline_replace graft_sample_cmdline || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S11 "insmod-graft:$(cat /tmp/err)"; return; }
  why=$(bad_case unknown "invalid argument" "graft_test_bad: unknown symbol graft_no_such_function") || { fail S11 "$why"; return; }
  why=$(bad_case notrace "invalid argument" "graft_test_bad: trace_clock_jiffies has no ftrace site") || { fail S11 "$why"; return; }
  # duplicates: graft_register_patch() returns -EEXIST, upstream's (kobject_add()
  # of a second directory of one name); insmod sees -EBUSY, as for upstream's
  # patches: do_init_module() keeps EEXIST for "already loaded"
  why=$(bad_case dup "resource busy" "graft_test_bad: cmdline_proc_show named twice") || { fail S11 "$why"; return; }
  why=$(bad_case object "resource busy" "graft_test_bad: object graft_no_such_module named twice") || { fail S11 "$why"; return; }
  why=$(bad_case nonsense "invalid argument" "graft_test_bad: unknown mode") || { fail S11 "$why"; return; }
  why=$(bad_case kernel "invalid argument" "graft_test_bad: built for kernel 0.0.0-other, this is $(uname -r)") || { fail S11 "$why"; return; }
  why=$(bad_case abi "invalid argument" "register: patch built against graft ABI 1 ") || { fail S11 "$why"; return; }
  # the previous ABI's description (before system states): refused, named
  why=$(bad_case abi2 "invalid argument" "register: patch built against graft ABI 2 (") || { fail S11 "$why"; return; }
  # system states graft cannot take: an id 0, an id twice, states not counted
  why=$(bad_case statezero "invalid argument" "graft_test_bad: state 2 has id 0") || { fail S11 "$why"; return; }
  why=$(bad_case statedup "invalid argument" "graft_test_bad: state 1 declared twice (states 1 and 2)") || { fail S11 "$why"; return; }
  why=$(bad_case statecount "invalid argument" "graft_test_bad: states is set but nstates is 0") || { fail S11 "$why"; return; }
  # malformed descriptions: refused before anything reads them
  why=$(bad_case nulldesc "invalid argument" "register: no patch description") || { fail S11 "$why"; return; }
  why=$(bad_case nullname "invalid argument" "graft_test_bad: function 1 of vmlinux has no name") || { fail S11 "$why"; return; }
  why=$(bad_case nullnew "invalid argument" "graft_test_bad: cmdline_proc_show has no replacement function") || { fail S11 "$why"; return; }
  why=$(bad_case dotname "invalid argument" "register: bad patch name '..'") || { fail S11 "$why"; return; }
  why=$(bad_case slashname "invalid argument" "register: bad patch name 'graft/bad'") || { fail S11 "$why"; return; }
  # and no directory was made for any of them (a 'graft/bad' kobject would be graft!bad)
  for d in "$G"/* "$G"/.[!.]*; do [ -e "$d" ] && { fail S11 "bad-name-dir:${d##*/}"; return; }; done
  # a patch module built for another arch: refused by the kernel's loader
  why=$(foreign_arch) || { fail S11 "$why"; return; }
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
  rmmod graft_test_dup_patch 2>/tmp/err || { fail S11 "rmmod-dup-patch:$(cat /tmp/err)"; return; }
  # pre-images (x86_64, where the host makes them): the second copy's
  why=$(dup_pick) || { fail S11 "$why"; return; }
  rmmod graft_test_dup 2>/tmp/err || { fail S11 "rmmod-dup:$(cat /tmp/err)"; return; }
  # enabling while another patch's transition runs: EBUSY
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { fail S11 "insmod-sleeper:$(cat /tmp/err)"; return; }
  block || { fail S11 not-blocked; return; }
  insmod $KO/$SP.ko 2>/tmp/err || { fail S11 "insmod-patch:$(cat /tmp/err)"; return; }
  [ "$(val $SP/transition)" = 1 ] || { fail S11 not-in-transition; return; }
  why=$(bad_case busy "busy" "graft_test_bad: cannot enable while $SP's transition is in progress") || { fail S11 "$why"; return; }
  # a replace patch too (upstream's klp_enable_patch(): -EBUSY)
  why=$(refused graft_sample_cmdline_replace "busy" "graft_sample_cmdline_replace: cannot enable while $SP's transition is in progress") ||
    { fail S11 "$why"; return; }
  # seeded malformed descriptions (graft_test_fuzzdesc), while the transition
  # is held: every one refused by validation (-EINVAL, -EEXIST; one that got
  # past it would meet -EBUSY), no kernel complaint since
  mark=$(dmesg | wc -l)
  insmod $KO/graft_test_fuzzdesc.ko count=300 2>/tmp/err; n=$?
  dmesg | tail -n +$((mark + 1)) | sed -n 's/.*graft_test_fuzzdesc: \(seed=[0-9]* tried=.*\)/\1/p' > /tmp/fuzz.sum
  fuzz=$(head -n 1 /tmp/fuzz.sum)
  seed=$(echo "$fuzz" | sed -n 's/^seed=\([0-9]*\) .*/\1/p')
  # one run, every try refused: busybox's insmod retries a failed
  # finit_module() with init_module(), so a failing module runs twice, each
  # time with a seed of its own (the first is reported)
  case "$(grep -c . /tmp/fuzz.sum):$fuzz" in
    "1:seed=$seed tried=300 refused=300 accepted=0 by_rule="*) ;;
    *) fail S11 "fuzzdesc:$(grep -c . /tmp/fuzz.sum)-runs:${fuzz%% by_rule=*}:first:$(dmesg | sed -n "s/.*graft_test_fuzzdesc: seed=$seed try //p" | head -n 1)"; return ;;
  esac
  [ $n = 0 ] || { fail S11 "insmod-fuzzdesc:seed=$seed:$(cat /tmp/err)"; return; }
  # its init-memory mutations run where the kernel frees a module's init
  # memory: everywhere but powerpc, whose module_init_section()
  # (arch/powerpc/kernel/module_64.c) keeps every .init section in core
  # memory, where a pointer to it is valid (the test then replaces them)
  init=$(dmesg | sed -n "s/.*graft_test_fuzzdesc: seed=$seed count=300 init=\([a-z]*\)$/\1/p" | head -n 1)
  want=freed; [ "$(cat /graft/arch)" = powerpc ] && want=kept
  [ "$init" = $want ] || { fail S11 "fuzzdesc-init:${init:-no-line}:want-$want"; return; }
  dmesg | tail -n +$((mark + 1)) | grep -E 'Oops|BUG:|WARNING:|general protection' > /tmp/fuzz.klog &&
    { fail S11 "fuzzdesc-kernel:seed=$seed:$(head -n 1 /tmp/fuzz.klog)"; return; }
  [ ! -e $G/graft_test_fuzzdesc ] || { fail S11 fuzzdesc-sysfs-left; return; }
  rmmod graft_test_fuzzdesc 2>/tmp/err || { fail S11 "rmmod-fuzzdesc:$(cat /tmp/err)"; return; }
  [ "$(val $SP/transition)" = 1 ] || { fail S11 fuzzdesc-transition-ended; return; }
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
  # graft_test_fuzzdesc's valid patch (its malformed ones ran above)
  insmod $KO/graft_test_fuzzdesc.ko valid=1 2>/tmp/err || { fail S11 "insmod-fuzzdesc-valid:$(cat /tmp/err)"; return; }
  wait_for $G/graft_test_fuzzdesc/transition 0 20000 || { fail S11 fuzzdesc-valid-transition; return; }
  cmdline_is "this has been live patched by graft_test_fuzzdesc" || { fail S11 "fuzzdesc-valid:$(cat /proc/cmdline)"; return; }
  set_enabled graft_test_fuzzdesc 0 || { fail S11 "disable-fuzzdesc:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S11 "fuzzdesc-not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_test_fuzzdesc 2>/tmp/err || { fail S11 "rmmod-fuzzdesc-valid:$(cat /tmp/err)"; return; }
  # unharmed: a good patch still applies and reverts
  load graft_sample_cmdline || { fail S11 "load-good:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S11 "cmdline-good:$(cat /proc/cmdline)"; return; }
  set_enabled graft_sample_cmdline 0 || { fail S11 "disable-good:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S11 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S11 "rmmod:$(cat /tmp/err)"; return; }
  ks=$(dmesg | sed -n 's/.*symbols looked up in \([0-9.]*\) ms/\1/p' | sort -n | tail -1)
  pick=0; [ -f $KO/graft_test_dup_pick.params ] && pick=3
  result S11 pass cases=23 "preimage_cases=$pick" "kallsyms_scan_max_ms=$ks" "fuzz_seed=$seed" fuzz_tried=300 fuzz_refused=300 "fuzz_init=$init"
}

s11

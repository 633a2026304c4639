# shellcheck shell=dash
# S10 coexistence with ftrace, kprobes and upstream livepatch on
# cmdline_proc_show().
#
# First the orders of a kprobe (graft_test_kprobe) and a live patch
# (upstream's tools/testing/selftests/livepatch/test-kprobe.sh and more),
# with upstream's livepatch-sample before graft.ko is loaded (the
# reference), then with graft's graft_sample_cmdline before graft has looked
# at the function in this scenario: (o-a) a kprobe without a post handler,
# then the patch, removed kprobe first and patch first; (o-b) the patch,
# then that kprobe, both removal orders; (o-c) a kprobe with a post handler
# (IPMODIFY): the patch is refused with EBUSY and its dmesg line and leaves
# nothing; the kprobe is removed at once (as upstream's test does), one
# without a post handler is loaded, and the patch must load beside it.
# After every step: /proc/cmdline, the kprobe's hits, the enabled kprobes on
# the function in debugfs's kprobes/list, and whether tracefs's
# enabled_functions lists the function plain or IPMODIFY.  No disabled
# kprobe (what a name lookup through register_kprobe() leaves: it keeps the
# site an ftrace aggregate whose post handler kprobes keep after the
# post-handler kprobe goes, so the next kprobe arms IPMODIFY) may sit on
# the function before the reference.
#
# Then, on the patched function: (a) ftrace's function tracer filtered on
# it records the call while /proc/cmdline reads the patch; (b) a kprobe
# event (pre handler only, kprobes-on-ftrace) on it hits beside the patch;
# (c) upstream klp's livepatch-sample (IPMODIFY on the same function) is
# refused with EBUSY and a livepatch: line, and graft's patch keeps working
# (on a kernel without livepatch, riscv, graft_test_ipmodify's IPMODIFY
# ftrace_ops stands in for it, and the orders have no klp reference);
# (d) a kprobe with a post handler and graft's patch exclude each other.
# Tracing is restored after each part.
#
# (e) Last, with graft.ko still loaded after resolving, patching and
# unpatching the function, and again after its rmmod: no disabled kprobe
# is listed anywhere, enabled_functions does not list the function, and
# touched_functions shows it with no ftrace_ops and no R, I, D or O flag.
# debugfs and tracefs must be mounted and kprobes must work on ftrace, and
# every listing is first seen listing the function, or S10 fails.
#
# Where kprobes are not armed through ftrace (no kprobe_ftrace_ops: arm64,
# whose arch/arm64/Kconfig does not select HAVE_KPROBES_ON_FTRACE, so
# kernel/kprobes.c arms every kprobe as a BRK breakpoint at the symbol,
# arch/arm64/kernel/probes/kprobes.c, one instruction before the ftrace
# site), a kprobe never shows in enabled_functions and a post handler
# takes no IPMODIFY: (o-c) and (d) then check the kernel's behaviour
# there, the patch and a kprobe with a post handler on the function
# together, each firing, in either order.  Upstream's livepatch goes
# through the same orders first (the reference), as everywhere.
#
# Where graft's backend has a fast path (fast_arch: x86_64, arm64, s390, riscv), the settled
# patch must be on it: graft's orders expect a direct call (D, no I) where
# upstream's expect IPMODIFY, the patched function is listed as a direct
# jump to graft's replacement, the tracer and the kprobe event keep it, and
# (f) another direct-call user (graft_test_direct) and the switches are
# checked (f_direct).
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

KP=graft_test_kprobe
KL=/sys/kernel/debug/kprobes/list
WHY=
# how enabled_functions shows the function with kprobes alone on it:
# plain (kprobes on ftrace) or none (breakpoint kprobes)
KPF=plain

# kp_on POST: load graft_test_kprobe on cmdline_proc_show, with a post
# handler (1) or without (0)
kp_on() { insmod $KO/$KP.ko post="$1" 2>/tmp/kerr || { WHY="kprobe-post=$1-insmod:$(cat /tmp/kerr)"; return 1; }; }
kp_off() { rmmod $KP 2>/tmp/kerr || { WHY="kprobe-rmmod:$(cat /tmp/kerr)"; return 1; }; }
kp_param() { cat /sys/module/$KP/parameters/"$1"; }
# kp_fires: two reads of /proc/cmdline hit the loaded kprobe at least twice,
# and its post handler as often if it has one (never if not)
kp_fires() {
  local a b pa pb
  a=$(kp_param hits)
  pa=$(kp_param post_hits)
  cat /proc/cmdline > /dev/null
  cat /proc/cmdline > /dev/null
  b=$(kp_param hits)
  pb=$(kp_param post_hits)
  [ $((b - a)) -ge 2 ] || { WHY="kprobe-hits:$a-$b"; return 1; }
  case "$(kp_param post)" in
    Y) [ $((pb - pa)) -ge 2 ] || { WHY="kprobe-post-hits:$pa-$pb"; return 1; } ;;
    *) [ "$pb" = 0 ] || { WHY="kprobe-post-hits-without-post:$pb"; return 1; } ;;
  esac
}
# site_flags [FILE]: the count and flags FILE (enabled_functions) shows for
# cmdline_proc_show ("(2) R I"), empty if it is not listed
site_flags() {
  awk '$1 == "cmdline_proc_show" { s = $2; for (i = 3; i <= NF && $i ~ /^[RIDOM]$/; i++) s = s " " $i; print s }' \
    "${1:-$T/enabled_functions}"
}
# site KPROBES FTRACE: cmdline_proc_show carries KPROBES enabled kprobes in
# kprobes/list (disabled ones are counted by `disabled`), and
# enabled_functions shows it FTRACE: none (not listed), plain (listed, not
# IPMODIFY), ipmodify, or direct (a direct call, no IPMODIFY: graft's fast
# path)
site() {
  local k f s
  k=$(grep ' cmdline_proc_show+0x' $KL | grep -vc DISABLED)
  [ "$k" = "$1" ] || { WHY="kprobes:$k-want-$1:$(grep -m1 ' cmdline_proc_show+0x' $KL | tr -s ' ')"; return 1; }
  f=$(site_flags)
  case "$f" in
    '') s=none ;;
    *' I'*) s=ipmodify ;;
    *' D'*) s=direct ;;
    *) s=plain ;;
  esac
  [ "$s" = "$2" ] || { WHY="ftrace:$s-want-$2:$f"; return 1; }
}
# disabled [PATTERN]: no disabled kprobe is listed (on a function matching
# PATTERN): what a name lookup through register_kprobe() leaves
disabled() {
  local n
  n=$(grep "${1:-.}" $KL | grep -c DISABLED)
  [ "$n" = 0 ] || { WHY="disabled-kprobes:$n:$(grep "${1:-.}" $KL | grep -m1 DISABLED | tr -s ' ')"; return 1; }
}

# site_dump: what kprobes and ftrace show on the function, for the serial
# log of a failed order
site_dump() {
  { grep -e ' cmdline_proc_show+0x' -e DISABLED $KL; grep '^cmdline_proc_show ' $T/enabled_functions; } | sed 's/^/s10-site: /'
}

# The patch of cmdline_proc_show of engine E (graft: graft_sample_cmdline,
# klp: upstream's livepatch-sample): p_load E enables it (insmod's error in
# /tmp/err), p_off E disables and unloads it, p_text E is what
# /proc/cmdline then reads, p_busy E the dmesg line of an EBUSY refusal,
# p_gone E whether it left no sysfs directory and no module.
p_load() {
  case $1 in
    graft) load graft_sample_cmdline ;;
    klp) insmod $KO/livepatch-sample.ko 2>/tmp/err && wait_for $LP/transition 0 20000 ;;
  esac
}
p_off() {
  case $1 in
    graft) set_enabled graft_sample_cmdline 0 && rmmod graft_sample_cmdline 2>/tmp/err ;;
    klp) klp_off 2>/tmp/err ;;
  esac || { WHY="$1-off:$(cat /tmp/err)"; return 1; }
}
p_text() {
  case $1 in
    graft) echo "$TXT1" ;;
    klp) echo "this has been live patched" ;;
  esac
}
p_busy() {
  case $1 in
    graft) echo 'graft_sample_cmdline: ftrace registration of cmdline_proc_show (0x[0-9a-f]*) failed (-16): another IP-modifying ftrace user' ;;
    klp) echo "livepatch: failed to register ftrace handler for function 'cmdline_proc_show' (-16)" ;;
  esac
}
# p_site E: how enabled_functions shows the function with E's patch on it:
# ipmodify (upstream's, or graft's handler), direct (graft's fast path, on
# an arch whose backend has one)
p_site() {
  if [ "$1" = graft ] && fast_arch; then echo direct; else echo ipmodify; fi
}
p_gone() {
  case $1 in
    graft) [ ! -e $G/graft_sample_cmdline ] && ! loaded graft_sample_cmdline ;;
    klp) [ ! -e $LP ] && ! loaded livepatch_sample ;;
  esac
}

# s390's kernel drops upstream livepatch's redirect behind a kprobe whose
# ftrace_ops was registered before the patch's: kprobe_ftrace_handler()
# (arch/s390/kernel/ftrace.c) sets psw.addr to the site + 6 after its
# handlers and, unlike x86's and powerpc's, does not restore the address
# it found, and ftrace calls the newest ftrace_ops first (add_ftrace_ops()
# in kernel/trace/ftrace.c).  So on s390 the reference (klp) runs the old
# function while a kprobe armed before it is on the function (the orders
# a and c; no other kprobe is armed in the guest), and the patch again once
# the kprobe goes.  graft keeps its redirect there (kmod/arch/s390/graft_arch.h):
# its orders expect the patch in every case.  If the kernel changes, the
# klp orders fail here and this exception goes.
klp_behind_kprobe_lost() { [ "$1" = klp ] && [ "$(cat /graft/arch)" = s390 ]; }

# o_both E FIRST BEFORE ARMED: with the kprobe (no post handler) and E's
# patch both on, ARMED (kprobe or patch) first, the text is the patch's
# (the kernel's exception above aside) and the kprobe fires; then remove
# FIRST (kprobe or patch), check, remove the other
o_both() {
  local e=$1 text both
  text=$(p_text "$e")
  both=$text
  if [ "$4" = kprobe ] && klp_behind_kprobe_lost "$e"; then both=$3; fi
  cmdline_is "$both" || { WHY="both-cmdline:$(cat /proc/cmdline)"; return 1; }
  kp_fires || return 1
  site 1 "$(p_site "$e")" || return 1
  if [ "$2" = kprobe ]; then
    kp_off || return 1
    cmdline_is "$text" || { WHY="kprobe-removed-cmdline:$(cat /proc/cmdline)"; return 1; }
    site 0 "$(p_site "$e")" || return 1
    p_off "$e" || return 1
  else
    p_off "$e" || return 1
    cmdline_is "$3" || { WHY="patch-removed-cmdline:$(cat /proc/cmdline)"; return 1; }
    kp_fires || return 1
    site 1 $KPF || return 1
    kp_off || return 1
  fi
  cmdline_is "$3" || { WHY="not-restored:$(cat /proc/cmdline)"; return 1; }
  site 0 none
}

# orders E BEFORE: the orders with engine E; BEFORE is the unpatched text.
# Sets WHY to "<order>:<reason>" on a failure.
orders() {
  local e=$1 before=$2 o first n f
  site 0 none || { WHY="start:$WHY"; return 1; }
  for first in kprobe patch; do
    # (o-a) kprobe without a post handler, then the patch
    o=a-$first
    kp_on 0 || { WHY="$o:$WHY"; return 1; }
    { kp_fires && site 1 $KPF; } || { WHY="$o:kprobe-alone:$WHY"; return 1; }
    p_load "$e" || { WHY="$o:load:$(cat /tmp/err)"; return 1; }
    o_both "$e" $first "$before" kprobe || { WHY="$o:$WHY"; return 1; }
    # (o-b) the patch, then kprobe without a post handler
    o=b-$first
    p_load "$e" || { WHY="$o:load:$(cat /tmp/err)"; return 1; }
    cmdline_is "$(p_text "$e")" || { WHY="$o:cmdline:$(cat /proc/cmdline)"; return 1; }
    site 0 "$(p_site "$e")" || { WHY="$o:patch-alone:$WHY"; return 1; }
    kp_on 0 || { WHY="$o:$WHY"; return 1; }
    o_both "$e" $first "$before" patch || { WHY="$o:$WHY"; return 1; }
  done
  # (o-c) a kprobe with a post handler holds the site: the patch is
  # refused; that kprobe removed, one without a post handler is armed
  # plain and the patch loads beside it
  o=c
  kp_on 1 || { WHY="$o:$WHY"; return 1; }
  if [ $KPF = none ]; then
    # breakpoint kprobes: the post handler takes no IPMODIFY, the patch
    # loads beside it and both fire
    { kp_fires && site 1 none; } || { WHY="$o:kprobe-post-alone:$WHY"; return 1; }
    p_load "$e" || { WHY="$o:load-beside-breakpoint-kprobe-post:$(cat /tmp/err)"; return 1; }
    o_both "$e" kprobe "$before" || { WHY="$o:$WHY"; return 1; }
    return 0
  fi
  { kp_fires && site 1 ipmodify; } || { WHY="$o:kprobe-post-alone:$WHY"; return 1; }
  n=$(dmesg | grep -c "$(p_busy "$e")")
  if p_load "$e"; then WHY="$o:accepted-beside-kprobe-post"; return 1; fi
  # at once, as upstream's test-kprobe.sh does (no sleep, no check first)
  kp_off || { WHY="$o:$WHY"; return 1; }
  grep -qi busy /tmp/err || { WHY="$o:errno:$(cat /tmp/err)"; return 1; }
  [ "$(dmesg | grep -c "$(p_busy "$e")")" -gt "$n" ] || { WHY="$o:no-dmesg"; return 1; }
  p_gone "$e" || { WHY="$o:refused-patch-left"; return 1; }
  cmdline_is "$before" || { WHY="$o:refused-cmdline:$(cat /proc/cmdline)"; return 1; }
  kp_on 0 || { WHY="$o:$WHY"; return 1; }
  kp_fires || { WHY="$o:kprobe-after-post:$WHY"; return 1; }
  # the patch first (the failure users see), then how the kprobe was armed
  f=$(site_flags)
  p_load "$e" || {
    WHY="$o:load-after-kprobe-post:$(sed 's/.*: //' /tmp/err),kprobe:$f,disabled:$(grep ' cmdline_proc_show+0x' $KL | grep -c DISABLED)"
    return 1
  }
  case "$f" in
    *' I'*) WHY="$o:kprobe-after-post-armed-ipmodify:$f"; return 1 ;;
    '') WHY="$o:kprobe-after-post-not-in-enabled_functions"; return 1 ;;
  esac
  o_both "$e" kprobe "$before" kprobe || { WHY="$o:$WHY"; return 1; }
}

# (d) with breakpoint kprobes: a kprobe with a post handler loads on the
# patched function and fires (pre and post handler) while /proc/cmdline
# reads the patch; the patch disables and enables again beside it (the
# kprobe firing throughout), and it is removed with the patch still on.
d_breakpoint() {
  kp_on 1 || { WHY="kprobe-post-breakpoint:$WHY"; return 1; }
  { cmdline_is "$TXT1" && kp_fires && site 1 "$(p_site graft)"; } ||
    { kp_off; WHY="kprobe-post-breakpoint-patched:${WHY}:$(cat /proc/cmdline)"; return 1; }
  set_enabled graft_sample_cmdline 0 || { kp_off; WHY="kprobe-post-breakpoint-disable:$(cat /tmp/err)"; return 1; }
  { cmdline_is "$before" && kp_fires && site 1 none; } ||
    { kp_off; WHY="kprobe-post-breakpoint-unpatched:${WHY}:$(cat /proc/cmdline)"; return 1; }
  set_enabled graft_sample_cmdline 1 || { kp_off; WHY="kprobe-post-breakpoint-enable:$(cat /tmp/err)"; return 1; }
  { cmdline_is "$TXT1" && kp_fires && site 1 "$(p_site graft)"; } ||
    { kp_off; WHY="kprobe-post-breakpoint-repatched:${WHY}:$(cat /proc/cmdline)"; return 1; }
  kp_off || return 1
  cmdline_is "$TXT1" || { WHY="kprobe-post-breakpoint-removed:$(cat /proc/cmdline)"; return 1; }
  site 0 "$(p_site graft)" || { WHY="kprobe-post-breakpoint-removed:$WHY"; return 1; }
}

# fast_on: graft's patch is on its fast path: functions says path=direct,
# enabled_functions shows cmdline_proc_show as a direct jump into graft's
# replacement (or, on arm64, into one of graft.ko's trampolines, which
# /proc/cmdline then shows entering it), and no kprobe and no IPMODIFY on it
fast_on() {
  local p d
  p=$(path graft_sample_cmdline cmdline_proc_show)
  [ "$p" = direct ] || { WHY="path:$p"; return 1; }
  d=$(grep -A1 '^cmdline_proc_show ' $T/enabled_functions | tr -s ' \t\n' ' ')
  echo "$d" | grep -Eq 'direct[()jmp]*-->[^ ]*(livepatch_cmdline_proc_show[^ ]* \[graft_sample_cmdline\]|graft_direct_trampolines[^ ]* \[graft\])' ||
    { WHY="no-direct-jump-to-replacement:$d"; return 1; }
  cmdline_is "$TXT1" || { WHY="direct-cmdline:$(cat /proc/cmdline)"; return 1; }
  site 0 direct
}

# (f) the fast path beside another direct-call user, graft_test_direct (as
# BPF's fentry trampolines are): refused while graft's patch holds the
# function on its direct call, and (the patch's switch off) on graft's
# handler; the switches (the patch's, graft.ko's parameter) move the patch
# between the two paths, /proc/cmdline reading the patch throughout; with
# the other user first, enabling graft's patch fails with EBUSY and graft's
# hint, the function running the other user's code, until it goes.
DT=graft_test_direct
DTXT=graft_test_direct
dt_refused() {
  if insmod $KO/$DT.ko 2>/tmp/err; then rmmod $DT; WHY="$1:accepted"; return 1; fi
  grep -qi busy /tmp/err || { WHY="$1:errno:$(cat /tmp/err)"; return 1; }
  cmdline_is "$TXT1" || { WHY="$1:cmdline:$(cat /proc/cmdline)"; return 1; }
}
# on_handler: the patch's function is on graft's handler (IPMODIFY)
on_handler() {
  local p
  p=$(path graft_sample_cmdline cmdline_proc_show)
  [ "$p" = handler ] || { WHY="path:$p"; return 1; }
  site 0 ipmodify && cmdline_is "$TXT1"
}
f_direct() {
  local n
  fast_on || { WHY="before:$WHY"; return 1; }
  dt_refused beside-fast-path || return 1
  echo 0 > $G/graft_sample_cmdline/fast || { WHY=patch-switch-off-write; return 1; }
  on_handler || { WHY="patch-switch-off:$WHY"; return 1; }
  dt_refused beside-handler || return 1
  echo 1 > $G/graft_sample_cmdline/fast || { WHY=patch-switch-on-write; return 1; }
  settled graft_sample_cmdline || { WHY="patch-switch-on:$(cat /tmp/err)"; return 1; }
  fast_on || { WHY="patch-switch-on:$WHY"; return 1; }
  echo 0 > /sys/module/graft/parameters/fast || { WHY=param-off-write; return 1; }
  on_handler || { WHY="param-off:$WHY"; return 1; }
  echo 1 > /sys/module/graft/parameters/fast || { WHY=param-on-write; return 1; }
  fast_on || { WHY="param-on:$WHY"; return 1; }
  cmdline_is "$TXT1" || { WHY="param-on-cmdline:$(cat /proc/cmdline)"; return 1; }
  # the other user first
  set_enabled graft_sample_cmdline 0 || { WHY="disable:$(cat /tmp/err)"; return 1; }
  insmod $KO/$DT.ko 2>/tmp/err || { WHY="alone:$(cat /tmp/err)"; return 1; }
  cmdline_is "$DTXT" || { rmmod $DT; WHY="alone-cmdline:$(cat /proc/cmdline)"; return 1; }
  n=$(dmesg | grep -c "$(p_busy graft)")
  if echo 1 > $G/graft_sample_cmdline/enabled 2>/tmp/err; then rmmod $DT; WHY=graft-accepted-beside-direct-user; return 1; fi
  grep -qi busy /tmp/err || { rmmod $DT; WHY="graft-errno:$(cat /tmp/err)"; return 1; }
  [ "$(dmesg | grep -c "$(p_busy graft)")" -gt "$n" ] || { rmmod $DT; WHY=graft-no-dmesg; return 1; }
  { [ "$(val graft_sample_cmdline/enabled)" = 0 ] && cmdline_is "$DTXT"; } ||
    { rmmod $DT; WHY="graft-refused-state:$(val graft_sample_cmdline/enabled):$(cat /proc/cmdline)"; return 1; }
  rmmod $DT 2>/tmp/err || { WHY="rmmod:$(cat /tmp/err)"; return 1; }
  cmdline_is "$before" || { WHY="other-user-gone-cmdline:$(cat /proc/cmdline)"; return 1; }
  set_enabled graft_sample_cmdline 1 || { WHY="reenable:$(cat /tmp/err)"; return 1; }
  fast_on || { WHY="reenabled:$WHY"; return 1; }
  cmdline_is "$TXT1" || { WHY="reenabled-cmdline:$(cat /proc/cmdline)"; return 1; }
}

s10() {
  local before parts="" n
  needs S10 graft_sample_cmdline "$(hold_ko)" graft_test_kprobe || return
  if fast_arch; then needs S10 $DT || return; fi
  before=$(cat /proc/cmdline)
  # the listings the orders read, on their mounted filesystems; kprobes on
  # ftrace (what makes a post handler IPMODIFY), as upstream's test-kprobe.sh
  # requires
  grep -q '^[^ ]* /sys/kernel/debug debugfs ' /proc/mounts || { fail S10 no-debugfs-mounted; return; }
  grep -q "^[^ ]* $T tracefs " /proc/mounts || { fail S10 "no-tracefs-mounted-on:$T"; return; }
  [ -r $KL ] || { fail S10 "no-kprobes-list:$KL"; return; }
  { [ -r $T/enabled_functions ] && [ -r $T/touched_functions ]; } || { fail S10 no-enabled/touched_functions; return; }
  # kprobes on ftrace, or (arm64) breakpoint kprobes, which S10 checks
  # as the kernel has them
  grep -q ' kprobe_ftrace_ops$' /proc/kallsyms || KPF=none
  # the orders with upstream's livepatch first, graft.ko not loaded: the
  # reference.  No kprobe may be left on the function by then (by an earlier
  # scenario's name lookup): it would change how the kprobes arm.
  ! loaded graft || { fail S10 graft-loaded-before; return; }
  disabled ' cmdline_proc_show+0x' || { fail S10 "before-S10:$WHY"; return; }
  # (a kernel without livepatch, riscv, has no reference: graft's orders
  # alone, against the same expectations)
  if klp_in_kernel; then
    orders klp "$before" || { site_dump; fail S10 "klp-order-$WHY"; return; }
    parts="${parts}klp-orders,"
  fi
  insmod $KO/graft.ko 2>/tmp/err || { fail S10 "insmod-graft:$(cat /tmp/err)"; return; }
  # the same orders with graft's patch (each load resolves the name again),
  # before graft has looked at the function in this scenario
  orders graft "$before" || { site_dump; fail S10 "graft-order-$WHY"; return; }
  parts="${parts}graft-orders,"
  load graft_sample_cmdline || { fail S10 "load:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S10 "cmdline:$(cat /proc/cmdline)"; return; }
  # the settled patch on its fast path, where the backend has one; (a) and
  # (b) then check the tracer and the kprobe beside the direct call
  if fast_arch; then
    fast_on || { fail S10 "fast-path:$WHY"; return; }
    parts="${parts}fast-path,"
  fi
  # (a) function tracer
  #     (tracefs is required, as in (b): a missing one must not pass unchecked)
  { [ -f $T/set_ftrace_filter ] && grep -qw function $T/available_tracers 2>/dev/null; } ||
    { fail S10 "no-function-tracer-in:$T"; return; }
  echo cmdline_proc_show > $T/set_ftrace_filter 2>/tmp/err || { fail S10 "ftrace-filter:$(cat /tmp/err)"; return; }
  echo > $T/trace
  echo function > $T/current_tracer 2>/tmp/err || { fail S10 "ftrace-tracer:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S10 "ftrace-cmdline:$(cat /proc/cmdline)"; return; }
  grep -q 'cmdline_proc_show' $T/trace || { fail S10 ftrace-no-call; return; }
  if fast_arch; then site 0 direct || { tracing_off; fail S10 "ftrace-fast-path:$WHY"; return; }; fi
  tracing_off
  [ "$(cat $T/current_tracer)" = nop ] || { fail S10 ftrace-not-off; return; }
  cmdline_is "$TXT1" || { fail S10 "ftrace-off-cmdline:$(cat /proc/cmdline)"; return; }
  parts="${parts}ftrace,"
  # (b) kprobe event, no post handler
  [ -f $T/kprobe_events ] || { fail S10 no-kprobe-events; return; }
  echo 'p:graft_s10 cmdline_proc_show' >> $T/kprobe_events 2>/tmp/err || { fail S10 "kprobe-add:$(cat /tmp/err)"; return; }
  # until enabled, the event's kprobe is registered disabled: kprobes/list
  # must show it so, or (e)'s "no disabled kprobe" could not see one
  ! disabled ' cmdline_proc_show+0x' || { tracing_off; fail S10 kprobe-event-not-listed-disabled; return; }
  echo > $T/trace
  echo 1 > $T/events/kprobes/graft_s10/enable 2>/tmp/err || { tracing_off; fail S10 "kprobe-enable:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { tracing_off; fail S10 "kprobe-cmdline:$(cat /proc/cmdline)"; return; }
  cmdline_is "$TXT1" || { tracing_off; fail S10 "kprobe-cmdline:$(cat /proc/cmdline)"; return; }
  n=$(awk '$1 == "graft_s10" { print $2 }' $T/kprobe_profile)
  grep -q 'graft_s10:' $T/trace || { tracing_off; fail S10 "kprobe-no-event:hits=$n"; return; }
  [ "${n:-0}" -ge 2 ] || { tracing_off; fail S10 "kprobe-hits:$n"; return; }
  if fast_arch; then site 1 direct || { tracing_off; fail S10 "kprobe-fast-path:$WHY"; return; }; fi
  tracing_off
  ! grep -q graft_s10 $T/kprobe_events || { fail S10 kprobe-not-removed; return; }
  cmdline_is "$TXT1" || { fail S10 "kprobe-off-cmdline:$(cat /proc/cmdline)"; return; }
  parts="${parts}kprobe,"
  # (c) upstream klp on the same function (on a kernel without livepatch,
  # graft_test_ipmodify's IPMODIFY ftrace_ops: hold_on): refused, loudly
  n=$(dmesg | grep -c "$(hold_busy)")
  if hold_on; then
    [ -d $LP ] && echo 0 > $LP/enabled
    fail S10 klp-accepted; return
  fi
  grep -qi "busy" /tmp/err || { fail S10 "klp-errno:$(cat /tmp/err)"; return; }
  [ "$(dmesg | grep -c "$(hold_busy)")" -gt "$n" ] || { fail S10 klp-no-dmesg; return; }
  hold_gone || { fail S10 klp-left; return; }
  cmdline_is "$TXT1" || { fail S10 "klp-cmdline:$(cat /proc/cmdline)"; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/transition)" = 10 ] || { fail S10 klp-graft-state; return; }
  if klp_in_kernel; then parts="${parts}klp-conflict,"; else parts="${parts}ipmodify-conflict,"; fi
  # (d) a kprobe with a post handler (kprobes arm it with an IPMODIFY
  # ftrace_ops).  While graft's patch holds the site it cannot be armed:
  # either register_kprobe() fails with EBUSY, or (Linux 7.3.4:
  # __register_kprobe() in kernel/kprobes.c drops arm_kprobe()'s error and
  # returns 0) it "succeeds" and never fires; either way graft's patch keeps
  # working.  Armed while the patch is disabled, it makes enabling the patch
  # fail with EBUSY and graft's hint, leaving the function unpatched; the
  # patch enables again once it is gone.  With breakpoint kprobes (KPF=none)
  # the two share the function: d_breakpoint.
  if [ $KPF = none ]; then
    d_breakpoint || { fail S10 "$WHY"; return; }
    parts="${parts}kprobe-post-breakpoint,"
  else
    if insmod $KO/graft_test_kprobe.ko post=1 2>/tmp/err; then
      { cmdline_is "$TXT1" && cmdline_is "$TXT1"; } || { rmmod graft_test_kprobe; fail S10 "kprobe-post-cmdline:$(cat /proc/cmdline)"; return; }
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
    insmod $KO/graft_test_kprobe.ko post=1 2>/tmp/err || { fail S10 "kprobe-post-insmod:$(cat /tmp/err)"; return; }
    cmdline_is "$before" || { rmmod graft_test_kprobe; fail S10 "kprobe-post-armed-cmdline:$(cat /proc/cmdline)"; return; }
    n=$(cat /sys/module/graft_test_kprobe/parameters/post_hits)
    [ "${n:-0}" -ge 1 ] || { rmmod graft_test_kprobe; fail S10 "kprobe-post-hits:$n"; return; }
    if echo 1 > $G/graft_sample_cmdline/enabled 2>/tmp/err; then rmmod graft_test_kprobe; fail S10 kprobe-post-enable-accepted; return; fi
    grep -qi busy /tmp/err || { rmmod graft_test_kprobe; fail S10 "kprobe-post-enable-errno:$(cat /tmp/err)"; return; }
    dmesg | grep -q 'graft_sample_cmdline: ftrace registration of cmdline_proc_show (0x[0-9a-f]*) failed (-16): another IP-modifying ftrace user' ||
      { rmmod graft_test_kprobe; fail S10 kprobe-post-no-hint; return; }
    [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/transition)" = 00 ] || { rmmod graft_test_kprobe; fail S10 kprobe-post-state; return; }
    cmdline_is "$before" || { rmmod graft_test_kprobe; fail S10 "kprobe-post-refused-cmdline:$(cat /proc/cmdline)"; return; }
    rmmod graft_test_kprobe 2>/tmp/err || { fail S10 "kprobe-post-rmmod:$(cat /tmp/err)"; return; }
    set_enabled graft_sample_cmdline 1 || { fail S10 "kprobe-post-reenable:$(cat /tmp/err)"; return; }
    cmdline_is "$TXT1" || { fail S10 "kprobe-post-reenabled-cmdline:$(cat /proc/cmdline)"; return; }
    parts="${parts}kprobe-post-first,"
  fi
  if fast_arch; then
    f_direct || { fail S10 "direct-user:$WHY"; return; }
    parts="${parts}direct-user,switches,"
  fi
  set_enabled graft_sample_cmdline 0 || { fail S10 "disable:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S10 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S10 "rmmod:$(cat /tmp/err)"; return; }
  # (e) graft.ko still loaded, after it resolved, patched and unpatched the
  # function: no kprobe left (none disabled anywhere), no ftrace_ops on it;
  # touched_functions (every function ftrace ever enabled, so it must list
  # this one) shows it with no ftrace_ops and no R, I, D or O flag
  { site 0 none && disabled; } || { site_dump; fail S10 "traces:$WHY"; return; }
  case "$(site_flags $T/touched_functions)" in
    '(0)' | '(0) M') ;; # M: once IP-modified, which ftrace never clears
    *) fail S10 "touched:$(grep '^cmdline_proc_show ' $T/touched_functions)"; return ;;
  esac
  parts="${parts}no-traces,"
  rmmod graft 2>/tmp/err || { fail S10 "rmmod-graft:$(cat /tmp/err)"; return; }
  disabled || { site_dump; fail S10 "traces-after-rmmod-graft:$WHY"; return; }
  result S10 pass "parts=${parts%,}"
}

s10

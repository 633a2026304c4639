# shellcheck shell=dash
# S10 coexistence on the patched cmdline_proc_show(): (a) ftrace's function
# tracer filtered on it records the call while /proc/cmdline reads the
# patch; (b) a kprobe event (pre handler only, kprobes-on-ftrace) on it
# hits beside the patch; (c) upstream klp's livepatch-sample (IPMODIFY on
# the same function) is refused with EBUSY and a livepatch: line, and
# graft's patch keeps working.  Tracing is restored after each part.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s10() {
  local before parts="" n
  needs S10 graft_sample_cmdline livepatch-sample graft_test_kprobe || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S10 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S10 "load:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S10 "cmdline:$(cat /proc/cmdline)"; return; }
  # (a) function tracer
  #     (tracefs is required, as in (b): a missing one must not pass unchecked)
  { [ -f $T/set_ftrace_filter ] && grep -qw function $T/available_tracers 2>/dev/null; } ||
    { fail S10 "no-function-tracer-in:$T"; return; }
  echo cmdline_proc_show > $T/set_ftrace_filter 2>/tmp/err || { fail S10 "ftrace-filter:$(cat /tmp/err)"; return; }
  echo > $T/trace
  echo function > $T/current_tracer 2>/tmp/err || { fail S10 "ftrace-tracer:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S10 "ftrace-cmdline:$(cat /proc/cmdline)"; return; }
  grep -q 'cmdline_proc_show' $T/trace || { fail S10 ftrace-no-call; return; }
  tracing_off
  [ "$(cat $T/current_tracer)" = nop ] || { fail S10 ftrace-not-off; return; }
  cmdline_is "$TXT1" || { fail S10 "ftrace-off-cmdline:$(cat /proc/cmdline)"; return; }
  parts="${parts}ftrace,"
  # (b) kprobe event, no post handler
  [ -f $T/kprobe_events ] || { fail S10 no-kprobe-events; return; }
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
  # (c) upstream klp on the same function: refused, loudly
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
  # (d) a kprobe with a post handler (kprobes arm it with an IPMODIFY
  # ftrace_ops).  While graft's patch holds the site it cannot be armed:
  # either register_kprobe() fails with EBUSY, or (Linux 7.3.4:
  # __register_kprobe() in kernel/kprobes.c drops arm_kprobe()'s error and
  # returns 0) it "succeeds" and never fires; either way graft's patch keeps
  # working.  Armed while the patch is disabled, it makes enabling the patch
  # fail with EBUSY and graft's hint, leaving the function unpatched; the
  # patch enables again once it is gone.
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
  dmesg | grep -q 'graft_sample_cmdline: ftrace registration of .* failed (-16): another IP-modifying ftrace user' ||
    { rmmod graft_test_kprobe; fail S10 kprobe-post-no-hint; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/transition)" = 00 ] || { rmmod graft_test_kprobe; fail S10 kprobe-post-state; return; }
  cmdline_is "$before" || { rmmod graft_test_kprobe; fail S10 "kprobe-post-refused-cmdline:$(cat /proc/cmdline)"; return; }
  rmmod graft_test_kprobe 2>/tmp/err || { fail S10 "kprobe-post-rmmod:$(cat /tmp/err)"; return; }
  set_enabled graft_sample_cmdline 1 || { fail S10 "kprobe-post-reenable:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S10 "kprobe-post-reenabled-cmdline:$(cat /proc/cmdline)"; return; }
  parts="${parts}kprobe-post-first,"
  set_enabled graft_sample_cmdline 0 || { fail S10 "disable:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S10 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S10 "rmmod:$(cat /tmp/err)"; return; }
  result S10 pass "parts=${parts%,}"
}

s10

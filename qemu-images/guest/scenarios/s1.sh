# shellcheck shell=dash
# S1 basic: graft_sample_cmdline replaces cmdline_proc_show(); /proc/cmdline
# shows the patch; disabling restores it; the patch module and graft unload.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s1() {
  local d=/sys/kernel/graft/graft_sample_cmdline before patched after t0 t1 t2 ncpu
  needs S1 graft_sample_cmdline || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S1 "insmod-graft:$(cat /tmp/err)"; return; }
  t0=$(now_ms)
  if ! insmod $KO/graft_sample_cmdline.ko 2>/tmp/err; then
    fail S1 "insmod-sample:$(cat /tmp/err)"; return
  fi
  wait_for $d/transition 0 20000 || { fail S1 enable-timeout; return; }
  t1=$(now_ms)
  patched=$(cat /proc/cmdline)
  # the transition counted every possible CPU's idle task (nr_cpu_ids: the
  # last possible CPU + 1), which for_each_process_thread does not list
  ncpu=$(awk -F'[-,]' '{ print $NF + 1 }' /sys/devices/system/cpu/possible)
  dmesg | grep -q "graft_sample_cmdline: idle tasks: [0-9]* of $ncpu switched" ||
    { fail S1 "idle-tasks-not-counted:$ncpu"; return; }
  [ "$(cat $d/enabled)" = 1 ] || { fail S1 not-enabled; return; }
  taint=$(( ($(cat /proc/sys/kernel/tainted) >> 15) & 1 ))  # TAINT_LIVEPATCH
  # sysfs: garbage and a no-op write are refused, writes are root-only
  if echo garbage > $d/enabled 2>/dev/null; then fail S1 garbage-accepted; return; fi
  if echo 1 > $d/enabled 2>/dev/null; then fail S1 reenable-accepted; return; fi
  [ "$(stat -c %a $d/enabled)" = 644 ] || { fail S1 "mode:$(stat -c %a $d/enabled)"; return; }
  # unload while enabled must fail
  if rmmod graft_sample_cmdline 2>/tmp/err; then fail S1 unloaded-while-enabled; return; fi
  # graft holds the module: delete_module()'s -EWOULDBLOCK (EAGAIN), as documented
  grep -q 'Resource temporarily unavailable' /tmp/err || { fail S1 "rmmod-errno:$(cat /tmp/err)"; return; }
  echo 0 > $d/enabled || { fail S1 disable-write; return; }
  wait_for $d/transition 0 20000 || { fail S1 disable-timeout; return; }
  t2=$(now_ms)
  after=$(cat /proc/cmdline)
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S1 "rmmod-sample:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S1 "rmmod-graft:$(cat /tmp/err)"; return; }
  if [ "$patched" != "this has been live patched by graft" ]; then
    fail S1 "cmdline:$(echo "$patched" | head -c 60)"
  elif [ "$after" != "$before" ]; then
    fail S1 "not-restored:$(echo "$after" | head -c 60)"
  elif [ "$taint" != 1 ]; then
    fail S1 not-tainted
  else
    result S1 pass "enable_ms=$((t1-t0))" "disable_ms=$((t2-t1))"
  fi
}

s1

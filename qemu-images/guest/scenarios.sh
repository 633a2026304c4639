# graft's scenarios (docs/ARCHITECTURE.md, DESIGN.md S1-S12).  Each prints
# one marker: GRAFT-RESULT S<n> <pass|fail|skip> [key=value ...]
. /graft/lib.sh

# S1 basic: graft_sample_cmdline replaces cmdline_proc_show(); /proc/cmdline
# shows the patch; disabling restores it; the patch module and graft unload.
s1() {
  local d=/sys/kernel/graft/graft_sample_cmdline before patched after t0 t1 t2
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

s1
# graft's log of the scenarios, for whoever reads the serial log
dmesg | grep 'graft: ' | grep -v selftest | sed 's/^/graft-log: /' | tail -n 40

# shellcheck shell=dash
# The matrix's checks, in order.  Each prints one GRAFT-RESULT marker.
# shellcheck source=lib.sh
. /graft/lib.sh
: > $GRAFT_RESULTS

result boot pass "uptime_ms=$(now_ms)" "kernel=$(uname -r)" "machine=$(uname -m)"

# A Rust module of the kernel's own samples loads and unloads.
if insmod $KO/rust_minimal.ko 2>/tmp/err && dmesg | grep -q 'Rust minimal sample'; then
  if rmmod rust_minimal; then result rust-module pass; else result rust-module fail reason=rmmod; fi
else
  result rust-module fail "reason=$(head -c 200 /tmp/err | tr ' \n' '_ ')"
fi

# graft's module, built by `make ARCH=$arch kmod`, loads, runs its C shim, unloads.
# Loaded, it shows whether it carries the engine: /sys/kernel/graft (then
# `engine pass`, and the matrix requires S1-S13 (and S14 and S15 where the
# image has klp-build's modules) to pass on this arch; the
# directory must go with the module), else `engine skip`.
if insmod $KO/graft.ko 2>/tmp/err && dmesg | grep -q 'graft: loaded'; then
  if [ -d /sys/kernel/graft ]; then engine=pass; else engine=skip; fi
  if rmmod graft; then result graft-module pass; else result graft-module fail reason=rmmod; fi
  if [ -d /sys/kernel/graft ]; then
    result engine fail reason=sysfs-left-after-rmmod
  elif [ $engine = pass ]; then
    result engine pass sysfs=/sys/kernel/graft
  else
    result engine skip reason=no-/sys/kernel/graft
  fi
else
  result graft-module fail "reason=$(head -c 200 /tmp/err | tr ' \n' '_ ')"
  result engine fail reason=graft-module-not-loaded
fi

# graft.ko's self-test at init (logged by the insmod above): the native backend
# recognises the entry sites of exported functions and unwinds the module's own
# stack as the kernel's stack_trace_save() does.
st=$(dmesg | grep 'graft: selftest ' || true)
sites=$(echo "$st" | grep -c 'graft: selftest site [^ ]* [^ ]* [^ ]*$' || true)
frames=$(echo "$st" | sed -n 's/.*graft: selftest unwind frames=\([0-9]*\) agree=\([0-9]*\).*/\1\/\2/p' | head -n1)
# It also walks every task's stack beside stack_trace_save_tsk(), on every
# arch: no disagreement allowed, and at least one stack must have been
# walked (a missing line fails too).
tasks=$(echo "$st" | sed -n 's/.*graft: selftest tasks \(tasks=.*\)/\1/p' | head -n1)
tasks_ok=yes
case "$tasks" in *" disagree=0 "*) ;; *) tasks_ok=no ;; esac
case "$tasks" in *" walked=0 "*|"") tasks_ok=no ;; esac
# Which reliable walk graft chose where the kernel decides (x86_64: frame
# pointers, or ORC on a kernel built with UNWINDER_ORC): unwinder=fp|orc.
uw=$(dmesg | sed -n 's/.*graft: unwinder: \(ORC\|frame pointers\).*/\1/p' | head -n1)
case "$uw" in ORC) uw=orc ;; "frame pointers") uw=fp ;; esac
if echo "$st" | grep -q 'graft: selftest pass$' && [ $tasks_ok = yes ]; then
  # shellcheck disable=SC2046  # no word at all without a tasks line
  result graft-selftest pass "frames=${frames%/*}" "sites=$sites" $(echo "$tasks" | awk 'NF {print "tasks=" substr($1,7) "/" substr($2,8) "/" substr($3,7)}') ${uw:+unwinder=$uw}
elif [ $tasks_ok = no ]; then
  result graft-selftest fail "reason=tasks:$(echo "${tasks:-no-tasks-line}" | tr ' ' ',')" "frames=${frames%/*}" "sites=$sites"
else
  why=$(echo "$st" | sed -n 's/.*graft: selftest fail //p' | head -n1)
  result graft-selftest fail "reason=$(echo "${why:-no-selftest-output}" | head -c 200 | tr ' ' '_')" \
    "frames=${frames:-0/0}" "sites=$sites"
fi

# Upstream's livepatch sample: patch /proc/cmdline, then revert, beside graft.
# A kernel without livepatch (no /sys/kernel/livepatch: riscv, whose
# arch/riscv/Kconfig selects no HAVE_LIVEPATCH) says n/a; the host accepts
# that only for an arch whose config fragment turns CONFIG_LIVEPATCH off.
lp=/sys/kernel/livepatch/livepatch_sample
before=$(cat /proc/cmdline)
t0=$(now_ms)
if [ ! -d /sys/kernel/livepatch ]; then
  result livepatch-sample n/a reason=no-livepatch-in-kernel
elif ! insmod $KO/livepatch-sample.ko 2>/tmp/err; then
  result livepatch-sample fail "reason=insmod:$(head -c 200 /tmp/err | tr ' \n' '_ ')"
elif ! wait_for $lp/transition 0 20000; then
  result livepatch-sample fail reason=transition-timeout
else
  t1=$(now_ms)
  patched=$(cat /proc/cmdline)
  echo 0 > $lp/enabled
  if ! wait_for $lp/transition 0 20000 2>/dev/null && [ -d $lp ]; then
    result livepatch-sample fail reason=disable-timeout
  else
    # the patch directory disappears once the disable completes
    i=0; while [ -d $lp ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    after=$(cat /proc/cmdline)
    rmmod livepatch_sample 2>/dev/null
    if [ "$patched" = "this has been live patched" ] && [ "$after" = "$before" ]; then
      result livepatch-sample pass "enable_ms=$((t1-t0))"
    else
      result livepatch-sample fail "reason=cmdline:$(echo "$patched" | tr ' ' '_')"
    fi
  fi
fi

# graft's scenarios (docs/TESTING.md), one file each, in this order (S7
# last: its forced patch module stays loaded).  Each prints its S<n> marker;
# one that prints none (a missing file, a shell that died) gets a fail
# marker here, and whatever did not pass is cleaned up after once more, so
# its leftovers cannot fail the next.
# (graft.scenarios=12,10 on the kernel command line runs only those)
order="1 2 3 4 9 11 8 12 10 5 6 13 14 15 7"
read -r cmdline < /proc/cmdline
for w in $cmdline; do
  case "$w" in graft.scenarios=*) order=$(echo "${w#graft.scenarios=}" | tr -c '0-9\n' ' ') ;; esac
done
for n in $order; do
  f="/graft/scenarios/s$n.sh" rc=0
  if [ -f "$f" ]; then sh "$f" || rc=$?; else rc=no-file; fi
  st=$(awk -v s="S$n" '$1 == s { print $2 }' $GRAFT_RESULTS | tail -n1)
  [ -n "$st" ] || result "S$n" fail "reason=no-marker(rc=$rc)"
  [ "$st" = pass ] || [ "$st" = skip ] || sh -c '. /graft/scenarios/lib.sh; cleanup'
done
# graft's log of the scenarios, for whoever reads the serial log
dmesg | grep 'graft: ' | grep -v selftest | sed 's/^/graft-log: /' | tail -n 40

# No kernel complaint of graft's own, on every arch (graft_complaints in
# lib.sh: a WARNING:, BUG:, Oops, lockdep or workqueue: report naming
# graft).  The log must still hold the boot banner: a wrapped buffer could
# have lost one.
dmesg > /tmp/klog
if ! grep -q 'Linux version' /tmp/klog; then
  result kernel-log fail "reason=log-wrapped(no-boot-banner):lines=$(wc -l < /tmp/klog)"
else
  graft_complaints /tmp/klog > /tmp/klog.graft
  n=$(grep -cE "$COMPLAINT" /tmp/klog)
  if [ -s /tmp/klog.graft ]; then
    sed 's/^/kernel-log: /' /tmp/klog.graft
    result kernel-log fail "graft_complaints=$(wc -l < /tmp/klog.graft)" \
      "reason=$(head -n 1 /tmp/klog.graft | sed 's/^\[[^]]*\] *//' | head -c 160 | tr ' ' '_')"
  else
    result kernel-log pass "lines=$(wc -l < /tmp/klog)" "complaints_not_graft=$n"
  fi
fi

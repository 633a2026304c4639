# shellcheck shell=dash
# What graft's scenarios share (docs/TESTING.md): one file per scenario,
# /graft/scenarios/s<n>.sh, each sourcing this file and printing one marker,
#   GRAFT-RESULT S<n> <pass|fail|skip> [key=value ...]
# run by checks.sh in its order.  busybox sh (ash): `local` is used, as in
# dash.
# shellcheck source=../lib.sh
. /graft/lib.sh

G=/sys/kernel/graft
SL=/proc/graft_test_sleeper
LP=/sys/kernel/livepatch/livepatch_sample
T=/sys/kernel/tracing
# (for the scenario files)
# shellcheck disable=SC2034
{
  SP=graft_test_sleeper_patch
  TXT1="this has been live patched by graft"
  TXT2="this has been live patched by graft (2)"
  TXTR="this has been live patched by graft (replace)"
}

# needs S<n> MODULE...: skip the scenario (status 1) on a kernel whose
# graft.ko has no engine (checks.sh's `engine` result: /sys/kernel/graft
# after insmod); with the engine, every module the scenario loads must be
# in the image, or it fails.
needs() {
  local s=$1 m
  shift
  has_engine || { result "$s" skip "reason=no-engine-on-$(cat /graft/arch)"; return 1; }
  for m in "$@"; do
    [ -f "$KO/$m.ko" ] || { result "$s" fail "reason=no-module:$m"; return 1; }
  done
}
# whether graft.ko carries the engine: checks.sh's result, or (a scenario
# run by hand) a look at sysfs with graft.ko loaded
has_engine() {
  local e
  e=$(awk '$1 == "engine" { print $2 }' "$GRAFT_RESULTS" 2>/dev/null | tail -n1)
  [ -n "$e" ] || e=$(engine_probe)
  [ "$e" = pass ]
}

# A scenario with background load defines stop_load (S8, S12, S15);
# cleanup calls it.  This one is for a cleanup in another shell
# (checks.sh's, after a scenario's shell died): the load's stop files, and
# its pids from the files the storm (S8, S15) and S12 keep them in.
stop_load() {
  local f
  touch /tmp/storm.stop /tmp/s12.stop
  for f in /tmp/storm.pids /tmp/s12.pids; do
    [ -f $f ] || continue
    # shellcheck disable=SC2046  # the list of pids, split on purpose
    kill $(cat $f) 2>/dev/null
    rm -f $f
  done
  return 0
}

# The read storm of S8 and S15: STORM_N readers, each calling READER (a
# shell function that prints one line per read of the patched behaviour)
# until stopped, every line kept in /tmp/storm.r<i>, at nice 19 (the load
# takes every idle cycle, the controller still runs).  Around each
# transition the scenario marks a phase: the state it sets (0 original, 1
# patched) and where each reader's output stood when it started and ended.
# storm_check then requires every line to be the original's or the
# patch's text, and every line read after a transition completed (the
# reader's second line after, the first may have been in flight) to be
# the new state's, up to the start of the next transition.
STORM_N=16
STORM_PIDS=
# shellcheck disable=SC2046  # the readers' files, one word each
storm_offsets() { wc -l $(i=1; while [ $i -le $STORM_N ]; do echo /tmp/storm.r$i; i=$((i + 1)); done) | awk '$2 != "total" { printf " %s", $1 }'; }
storm_start() { # reader
  local i=1
  rm -f /tmp/storm.*
  STORM_PIDS=
  while [ $i -le $STORM_N ]; do
    ( IFS=; while [ ! -e /tmp/storm.stop ]; do "$1"; done > /tmp/storm.r$i ) &
    STORM_PIDS="$STORM_PIDS $!"
    echo "$STORM_PIDS" > /tmp/storm.pids
    renice -n 19 -p $! >/dev/null 2>&1
    i=$((i + 1))
  done
  sleep 0.5
}
storm_stop() {
  touch /tmp/storm.stop
  # shellcheck disable=SC2086  # the list of pids, split on purpose
  [ -n "$STORM_PIDS" ] && wait $STORM_PIDS 2>/dev/null
  STORM_PIDS=
  rm -f /tmp/storm.pids
}
storm_phase_start() { echo "$1$(storm_offsets) |" > /tmp/storm.p; } # state
storm_phase_end() { echo "$(cat /tmp/storm.p)$(storm_offsets)" >> /tmp/storm.phases; }
# storm_check ORIGINAL PATCHED: every reader's lines against the phases;
# sets STORM_TOT, STORM_OLD, STORM_NEW, STORM_BAD (neither text), STORM_STALE,
# STORM_MINR (the fewest patched lines a reader saw) and STORM_WHY (empty
# when all is well; a reader that saw only one version is also wrong)
storm_check() {
  local i=1 o=$1 p=$2
  STORM_TOT=0 STORM_OLD=0 STORM_NEW=0 STORM_BAD=0 STORM_STALE=0 STORM_MINR=999999 STORM_WHY=
  while [ $i -le $STORM_N ]; do
    # shellcheck disable=SC2046  # five numbers, one word each
    set -- $(awk -v r=$i -v o="$o" -v p="$p" '
      FILENAME == "/tmp/storm.phases" {
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
      END { printf "%d %d %d %d %d\n", tot, old, new, bad, stale }' /tmp/storm.phases /tmp/storm.r$i)
    STORM_TOT=$((STORM_TOT + $1)) STORM_OLD=$((STORM_OLD + $2)) STORM_NEW=$((STORM_NEW + $3))
    STORM_BAD=$((STORM_BAD + $4)) STORM_STALE=$((STORM_STALE + $5))
    [ "$3" -lt "$STORM_MINR" ] && STORM_MINR=$3
    { [ "$2" -gt 0 ] && [ "$3" -gt 0 ]; } || STORM_WHY="${STORM_WHY:-reader-$i-saw-one-version:old=$2,new=$3}"
    i=$((i + 1))
  done
  [ $STORM_BAD = 0 ] || STORM_WHY="${STORM_WHY:-garbled=$STORM_BAD}"
  [ $STORM_STALE = 0 ] || STORM_WHY="${STORM_WHY:-stale=$STORM_STALE}"
  # shellcheck disable=SC2034  # for the scenario's fail line
  STORM_TALLY="reads=$STORM_TOT,old=$STORM_OLD,new=$STORM_NEW,bad=$STORM_BAD,stale=$STORM_STALE"
}

# disable and unload upstream's livepatch-sample
klp_off() {
  local i=0
  [ -d $LP ] && echo 0 > $LP/enabled 2>/dev/null
  while [ -d $LP ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  rmmod livepatch_sample
}

# Whether the kernel has upstream livepatch (/sys/kernel/livepatch, made at
# boot by kernel/livepatch/core.c).  riscv's has none: arch/riscv/Kconfig
# selects no HAVE_LIVEPATCH, which CONFIG_LIVEPATCH depends on.
klp_in_kernel() { [ -d /sys/kernel/livepatch ]; }
# The other IP-modifying ftrace user S5 and S10 hold cmdline_proc_show()
# with: upstream's livepatch-sample, or where the kernel has no livepatch
# graft_test_ipmodify (an IPMODIFY ftrace_ops on it, as klp's).  hold_ko
# names its module file, hold_on loads it (insmod's error in /tmp/err),
# hold_off unloads it, hold_busy is the dmesg line of its EBUSY refusal.
hold_ko() { if klp_in_kernel; then echo livepatch-sample; else echo graft_test_ipmodify; fi; }
hold_on() {
  if klp_in_kernel; then
    insmod $KO/livepatch-sample.ko 2>/tmp/err && wait_for $LP/transition 0 20000
  else
    insmod $KO/graft_test_ipmodify.ko 2>/tmp/err
  fi
}
hold_off() { if klp_in_kernel; then klp_off; else rmmod graft_test_ipmodify; fi; }
hold_busy() {
  if klp_in_kernel; then
    echo "livepatch: failed to register ftrace handler for function 'cmdline_proc_show' (-16)"
  else
    echo "graft_test_ipmodify: failed to register ftrace handler for function 'cmdline_proc_show' (-16)"
  fi
}
# whether the holder is gone: no sysfs directory (klp) and no module
hold_gone() { [ ! -e $LP ] && ! loaded livepatch_sample && ! loaded graft_test_ipmodify; }

# ftrace's function tracer and S10's kprobe event off, the trace emptied
tracing_off() {
  [ -d $T ] || return 0
  echo nop > $T/current_tracer 2>/dev/null
  echo > $T/set_ftrace_filter 2>/dev/null
  [ -d $T/events/kprobes/graft_s10 ] && echo 0 > $T/events/kprobes/graft_s10/enable 2>/dev/null
  grep -q graft_s10 $T/kprobe_events 2>/dev/null && echo '-:graft_s10' >> $T/kprobe_events 2>/dev/null
  echo > $T/trace 2>/dev/null
  return 0
}

# S12's stacked patches (kmod/Kbuild builds 32): graft_scale_stack_01 .. _32
S12_STACK=32
scale_stack_names() {
  local k=1
  while [ $k -le $S12_STACK ]; do printf 'graft_scale_stack_%02d\n' $k; k=$((k + 1)); done
}

# the console's log level S12 saved before lowering it (or S13 before its
# state patches raised it), back
console_level_back() {
  local f
  for f in /tmp/s12.printk /tmp/s13.printk; do
    [ -s $f ] && cat $f > /proc/sys/kernel/printk
    rm -f $f
  done
  return 0
}

# loaded MODULE: MODULE is in /proc/modules
loaded() { grep -q "^$1 " /proc/modules; }

# After a failed scenario: stop its load, disable and unload whatever is
# left, so the next scenario starts from a kernel without graft.  (One
# rmmod per module: busybox's rmmod stops at the first it cannot unload.)
cleanup() {
  local p
  stop_load
  # release any task held in the test module first
  [ -e $SL ] && echo r > $SL 2>/dev/null
  # (S12's 32 stacked patches from the top down, as they must be disabled)
  for p in graft_test_bad graft_test_fuzzdesc graft_test_dup_patch graft_test_mod_patch graft_sample_shadow graft_test_callbacks graft_test_state graft_test_state3 graft_test_state2 graft_test_sleeper_patch graft_sample_cmdline_replace graft_sample_cmdline2 graft_sample_cmdline \
    graft_scale_replace graft_scale_patch $(scale_stack_names | sort -r) $(klp_patch_names); do
    if [ -d "$G/$p" ]; then
      wait_for "$G/$p/transition" 0 5000
      [ "$(cat "$G/$p/enabled")" = 1 ] && echo 0 > "$G/$p/enabled" 2>/dev/null
      wait_for "$G/$p/transition" 0 5000
    fi
    loaded "$p" && rmmod "$p" 2>/dev/null
  done
  for p in graft_test_sleeper graft_test_bad graft_test_kprobe graft_test_shadow graft_test_mod graft_test_dup graft_test_scale; do
    loaded $p && rmmod $p 2>/dev/null
  done
  loaded livepatch_sample && klp_off 2>/dev/null
  loaded graft_test_ipmodify && rmmod graft_test_ipmodify 2>/dev/null
  tracing_off
  console_level_back
  loaded graft && rmmod graft 2>/dev/null
  return 0
}
# klp_patch_names: the patches klp-build made (make patch) that the image
# holds, as graft and /proc/modules name them (livepatch-x.ko: livepatch_x)
klp_patch_names() {
  local f
  for f in "$KO"/livepatch-*.ko; do
    [ -f "$f" ] && basename "$f" .ko | tr - _
  done
}
# fail S<n> reason: one fail marker, then clean up
fail() { result "$1" fail "reason=$(echo "$2" | head -c 100 | tr ' \n' '_ ')"; cleanup; }
# settled NAME: wait until no function of patch NAME is queued for the fast
# path's handover (`path=pending` in its objects' functions files), so
# that what ftrace shows on them is where they stay
settled() {
  local start
  start=$(now_ms)
  while cat "$G/$1"/*/functions 2>/dev/null | grep -q ' path=pending$'; do
    [ $(( $(now_ms) - start )) -gt 20000 ] && { echo "fast-path-handover-timeout" > /tmp/err; return 1; }
    sleep 0.02
  done
}
# load NAME [PARAM...]: insmod the patch module and wait for its transition
# to end and its functions to settle (/tmp/err says why not)
load() {
  local m=$1
  shift
  insmod "$KO/$m.ko" "$@" 2>/tmp/err || return 1
  wait_for "$G/$m/transition" 0 20000 || { echo "transition-timeout" > /tmp/err; return 1; }
  settled "$m"
}
# set NAME VALUE: write enabled and wait for the transition to end and the
# functions to settle
set_enabled() {
  echo "$2" > "$G/$1/enabled" 2>/tmp/err || return 1
  wait_for "$G/$1/transition" 0 20000 || { echo "transition-timeout" > /tmp/err; return 1; }
  settled "$1"
}
# path NAME FUNC: the path= of FUNC in patch NAME's functions files
path() { cat "$G/$1"/*/functions 2>/dev/null | sed -n "s/^$2,[0-9]* .* path=\([a-z-]*\)\$/\1/p"; }
cmdline_is() { [ "$(cat /proc/cmdline)" = "$1" ]; }
val() { cat "$G/$1" 2>/dev/null; }

# held_progress NAME: NAME's progress attribute if it reads "switched
# total" with switched < total (a transition a task holds); else prints
# what it read, status 1
held_progress() {
  local p
  p=$(cat "$G/$1/progress" 2>&1)
  case "$p" in
    *[!0-9\ ]* | '' | ' '* | *' ' | *' '*' '*) echo "bad:$p"; return 1 ;;
    *' '*) ;;
    *) echo "bad:$p"; return 1 ;;
  esac
  [ "${p% *}" -lt "${p#* }" ] || { echo "not-held:$p"; return 1; }
  echo "$p"
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
release() { echo r > $SL && wait "$BLOCKER" 2>/dev/null; wait_for_blocked 0; }
# the version the last call ran: 1 original, 2 the patch's (from a new task)
version() { sh -c "echo 0 > $SL" && sed -n 's/version=\([0-9]\).*/\1/p' $SL; }

# bad_case MODE ERRNO-TEXT DMESG-TEXT: graft_test_bad mode=MODE is refused
bad_case() {
  refused graft_test_bad "$2" "$3" "mode=$1"
}
# refused MODULE ERRNO-TEXT DMESG-TEXT [PARAM...]: insmod must fail so
# (busybox's text for the errno), with a new dmesg line, and leave no sysfs
# directory and no module; prints why not (status 1)
refused() {
  local m=$1 e=$2 l=$3 n
  shift 3
  n=$(dmesg | grep -c "$l")
  if insmod "$KO/$m.ko" "$@" 2>/tmp/err; then rmmod "$m"; echo "$m:$*:accepted"; return 1; fi
  grep -qi "$e" /tmp/err || { echo "$m:$*:errno:$(cat /tmp/err)"; return 1; }
  [ "$(dmesg | grep -c "$l")" -gt "$n" ] || { echo "$m:$*:no-dmesg"; return 1; }
  [ ! -e "$G/$m" ] || { echo "$m:$*:sysfs-left"; return 1; }
  ! grep -q "^$m " /proc/modules || { echo "$m:$*:module-left"; return 1; }
}

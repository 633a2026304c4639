# shellcheck shell=dash
# graft's benchmarks (`ci/run-qemu.sh bench`, guest mode graft.mode=bench):
# upstream livepatch (klp) against graft in the same boot.  Prints marker
# lines the host turns into four tables:
#
#   GRAFT-BENCH percall.<unpatched|klp|graft|graftfast|graft1000> <median ns/call> runs=R calls=N samples=a,b,...
#     (graft: on graft's handler; graftfast: on its fast path, a direct call
#     into the replacement, where the backend has one; graft1000: on the
#     handler with 1,000 other functions patched by graft)
#   GRAFT-BENCH transition.<idle|load|blocked>.<klp|graft>.<enable|disable|release> <median us> runs=R samples=...
#   GRAFT-BENCH scale.<n>.<klp|graft>.<enable|disable> <median us> runs=R samples=...
#   GRAFT-BENCH scalemem.<n>.<klp|graft>.<slab|vmalloc|percpu> <median kB grown by the enable> runs=R samples=...
#   GRAFT-BENCH config <key=value ...>
#   GRAFT-BENCH clock <guest CLOCK_MONOTONIC us> <tsc|cntvct|tb|tod>=<the arch's counter>
#     (first and last; the host adds its own clock)
#   GRAFT-BENCH error <what>          (a run that went wrong: wrong version ran, timeout, refusal)
#
# Per call: graft_test_bench (kmod/samples/graft_test_bench.c) times N
# calls of graft_test_bench_func() in the kernel, unpatched, patched by
# graft_bench_klp (klp) and by graft_bench_patch (graft), in rounds so a
# drift of the machine hits every variant alike.  Transitions: insmod (which
# enables) to transition=0 and enabled=0 to transition=0, measured by
# graft-bench (qemu-images/guest-src/graft-bench.c) with 100 us polling,
# for upstream's livepatch-sample and graft_sample_cmdline on an idle guest
# and beside 1,000 sleeping and 16 syscall-looping threads; and, with a
# task held inside graft_test_sleeper_func() for 2 s, from its release to
# transition=0 (graft_bench_klp_sleeper against graft_test_sleeper_patch).
# Scale: a patch of the first n of graft_test_scale's 1,000 functions
# (kmod/samples/graft_test_scale.c), graft_scale_patch against upstream's
# graft_scale_klp with module parameter n, for each n of graft.bench_scale:
# insmod to transition=0 and enabled=0 to transition=0, each run checked
# through /proc/graft_test_scale (n functions at the engine's version, then
# none), and the kernel memory the enable added (/proc/meminfo's Slab,
# VmallocUsed and Percpu just before the insmod and once transition reads
# 0): the same module at every n, so the growth from the smallest n to the
# largest is the engine's per function.
# The engines alternate which goes first from run to run.
#
# Knobs (kernel command line, from ci/run-qemu.sh's environment):
# graft.bench_runs= (transition runs, default 5), graft.bench_calls= (calls
# per timing, default 200000), graft.bench_rounds= (per-call rounds of 5
# timings per variant, default 5), graft.bench_poll_us= (graft-bench's
# polling interval, default 100), graft.bench_scale= (the scale table's
# sizes, comma-separated, default 1,10,100,1000), graft.bench_scale_runs=
# (runs per size and engine, default 3: upstream's disable of 1,000
# functions takes minutes under TCG).
# shellcheck source=lib.sh
. /graft/lib.sh
G=/sys/kernel/graft
L=/sys/kernel/livepatch
SL=/proc/graft_test_sleeper
PB=/proc/graft_test_bench
TXT_KLP="this has been live patched"
TXT_GRAFT="this has been live patched by graft"
RUNS=5
CALLS=200000
ROUNDS=5
SCALE="1 10 100 1000"
SCALE_RUNS=3
ICOUNT=0
# shellcheck disable=SC2013  # the command line's words, on purpose
for w in $(cat /proc/cmdline); do
  case "$w" in
    graft.bench_runs=*) RUNS=${w#*=} ;;
    graft.bench_calls=*) CALLS=${w#*=} ;;
    graft.bench_rounds=*) ROUNDS=${w#*=} ;;
    graft.bench_poll_us=*) export GRAFT_BENCH_POLL_US=${w#*=} ;;
    graft.bench_scale=*) SCALE=$(echo "${w#*=}" | tr ',' ' ') ;;
    graft.bench_scale_runs=*) SCALE_RUNS=${w#*=} ;;
    graft.bench_icount=1) ICOUNT=1 ;;
  esac
done
W=/tmp/bench
rm -rf $W && mkdir -p $W

bench() { echo "GRAFT-BENCH $*"; }
err() { bench error "$(echo "$*" | head -c 200 | tr ' \n' '_ ')"; }
# add KEY VALUE: one sample (also in the kernel log, after the engines'
# own lines of that transition)
add() { echo "$2" >> $W/"$1"; kmsg "$1 $2 us"; }
# kmsg TEXT: a line in the kernel log, so the serial log shows where a
# measured interval starts and ends among the engines' own lines
kmsg() { echo "graft-bench: $*" > /dev/kmsg 2>/dev/null; }
# emit KEY [extra]: the median of KEY's samples and the samples
emit() {
  [ -s $W/"$1" ] || return 0
  sort -n $W/"$1" | awk -v k="$1" -v x="$2" '
    { a[NR] = $1; s = s (NR > 1 ? "," : "") $1 }
    END {
      m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
      printf "GRAFT-BENCH %s %.2f runs=%d%s samples=%s\n", k, m, NR, x, s
    }'
}
# Whether the kernel has upstream livepatch to measure against: riscv's
# has none (arch/riscv/Kconfig selects no HAVE_LIVEPATCH), and graft is
# then measured alone (the config marker says upstream=none, the tables
# n/a).
if [ -d $L ]; then KLP=yes; else KLP=no; fi
# Whether graft's backend has a fast path here (the graftfast row)
if fast_arch; then FAST=yes; else FAST=no; fi
# the engines' order for run $1: alternate
order() {
  if [ $KLP = no ]; then echo graft; elif [ $(($1 % 2)) = 1 ]; then echo klp graft; else echo graft klp; fi
}
pdir() { if [ "$1" = klp ]; then echo $L/"$2"; else echo $G/"$2"; fi; }
# unload ENGINE NAME: after a disable, wait for upstream's patch directory
# to go (klp frees the patch, and drops its module reference, after the
# transition) and rmmod the patch module
unload() {
  local i=0
  while [ -d "$(pdir "$1" "$2")" ] && [ "$1" = klp ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  i=0
  until rmmod "$2" 2>/tmp/err; do
    i=$((i + 1)); [ $i -gt 20 ] && { err "rmmod-$2:$(cat /tmp/err)"; return 1; }
    sleep 0.1
  done
}
# enable ENGINE KO NAME KEY: insmod KO (its init enables the patch), time it
# to transition=0 as sample KEY.enable
enable() {
  local us
  kmsg "$4.$1.enable start"
  us=$(graft-bench load-wait $KO/"$2".ko "$(pdir "$1" "$3")/transition" 30000 2>/tmp/err) ||
    { err "$4.$1.enable:$(cat /tmp/err)"; return 1; }
  add "$4"."$1".enable "$us"
}
# reenable NAME KEY: graft only (upstream frees a disabled patch, so its
# only enable is insmod): disable untimed, then time enabled=1 to
# transition=0 as KEY.graft.reenable, the transition alone without loading
# the module.
reenable() {
  local d=$G/$1 us
  graft-bench write-wait "$d"/enabled 0 "$d"/transition 30000 >/dev/null 2>/tmp/err || { err "$2.graft.reenable-disable:$(cat /tmp/err)"; return 1; }
  # transition reads 0 before the disable's ftrace_ops are unregistered
  # (synchronize_rcu_tasks()); patched reads 0 once they are: start from a
  # settled patch, so the time is this transition's alone
  until [ "$(cat "$d"/vmlinux/patched)" = 0 ]; do sleep 0.01; done
  kmsg "$2.graft.reenable start"
  if us=$(graft-bench write-wait "$d"/enabled 1 "$d"/transition 30000 2>/tmp/err); then
    add "$2".graft.reenable "$us"
  else
    err "$2.graft.reenable:$(cat /tmp/err)"
  fi
}
# disable ENGINE NAME KEY: enabled=0 to transition=0 as KEY.disable, then unload
disable() {
  local us d
  d=$(pdir "$1" "$2")
  kmsg "$3.$1.disable start"
  if us=$(graft-bench write-wait "$d"/enabled 0 "$d"/transition 30000 2>/tmp/err); then
    add "$3"."$1".disable "$us"
  else
    err "$3.$1.disable:$(cat /tmp/err)"
  fi
  # unload even after an error, or every later run of this engine fails too
  unload "$1" "$2"
}

# --- per-call cost -----------------------------------------------------------
# calls VARIANT WANT-VERSION: 5 timings, each checked to have run that version
calls() {
  graft-bench calls $PB "$CALLS" 5 > /tmp/out 2>/tmp/err || { err "calls-$1:$(cat /tmp/err)"; return 1; }
  if grep -qv " version=$2\$" /tmp/out; then err "calls-$1:wrong-version:$(tr '\n' ' ' < /tmp/out)"; return 1; fi
  awk '{ print $1 }' /tmp/out >> $W/percall."$1"
}
# graft_path NAME PATH: put graft's patch NAME's functions on PATH, handler
# (its fast path switched off) or direct (its fast path, once the handover
# queued at the end of the transition ran); status 1 if they are not there
graft_path() {
  local i=0
  if [ "$2" = handler ]; then echo 0 > $G/"$1"/fast || return 1; fi
  while cat $G/"$1"/*/functions | grep -q ' path=pending$' && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
  ! cat $G/"$1"/*/functions | grep -qv " path=$2\$"
}
# patched_calls ENGINE NAME WANT-VERSION [PATH]: load the patch module NAME,
# time the calls with it (checked to run version WANT-VERSION; graft's on
# PATH, graft_path), disable, unload
patched_calls() {
  local d
  d=$(pdir "$1" "$2")
  if graft-bench load-wait $KO/"$2".ko "$d"/transition 30000 >/dev/null 2>/tmp/err; then
    if [ -z "${4:-}" ] || graft_path "$2" "$4"; then
      calls "$1" "$3"
    else
      err "percall-$1-not-on-$4:$(cat $G/"$2"/*/functions | sed 's/.* path=//' | tr '\n' ' ')"
    fi
    graft-bench write-wait "$d"/enabled 0 "$d"/transition 30000 >/dev/null 2>/tmp/err ||
      err "percall-$1-disable:$(cat /tmp/err)"
    unload "$1" "$2"
  else
    err "percall-$1-load:$(cat /tmp/err)"
  fi
}
percall() {
  local r=1
  insmod $KO/graft_test_bench.ko 2>/tmp/err || { err "insmod-bench:$(cat /tmp/err)"; return; }
  while [ $r -le "$ROUNDS" ]; do
    calls unpatched 1
    [ $KLP = no ] || patched_calls klp graft_bench_klp 3
    patched_calls graft graft_bench_patch 2 handler
    [ $FAST = no ] || patched_calls graftfast graft_bench_patch 2 direct
    r=$((r + 1))
  done
  calls unpatched 1
  # The handler's cost must not grow with the number of patched functions
  # (one ftrace_ops, a hash of the site): graft's patch again, with the
  # 1,000 functions of graft_test_scale patched beside it.
  if insmod $KO/graft_test_scale.ko 2>/tmp/err &&
    graft-bench load-wait $KO/graft_scale_patch.ko $G/graft_scale_patch/transition 30000 >/dev/null 2>/tmp/err; then
    r=1
    while [ $r -le "$ROUNDS" ]; do
      patched_calls graft1000 graft_bench_patch 2 handler
      r=$((r + 1))
    done
    graft-bench write-wait $G/graft_scale_patch/enabled 0 $G/graft_scale_patch/transition 30000 >/dev/null 2>/tmp/err ||
      err "percall-scale-disable:$(cat /tmp/err)"
    unload graft graft_scale_patch
  else
    err "percall-scale-load:$(cat /tmp/err)"
  fi
  loaded graft_test_scale && { rmmod graft_test_scale 2>/tmp/err || err "rmmod-scale:$(cat /tmp/err)"; }
  rmmod graft_test_bench 2>/tmp/err || err "rmmod-bench:$(cat /tmp/err)"
  for v in unpatched klp graft graftfast graft1000; do emit percall.$v " calls=$CALLS"; done
}

# --- transitions of the cmdline samples -------------------------------------
# cmdline SITUATION: RUNS enables and disables of each engine's sample
cmdline() {
  local s=$1 run=1 e before
  before=$(cat /proc/cmdline)
  while [ $run -le "$RUNS" ]; do
    for e in $(order $run); do
      if [ "$e" = klp ]; then
        # shellcheck disable=SC3044  # enable: this file's function, not the bash builtin
        enable klp livepatch-sample livepatch_sample transition."$s" || continue
        [ "$(cat /proc/cmdline)" = "$TXT_KLP" ] || err "$s.klp.cmdline:$(cat /proc/cmdline)"
        disable klp livepatch_sample transition."$s"
      else
        # shellcheck disable=SC3044  # (as above)
        enable graft graft_sample_cmdline graft_sample_cmdline transition."$s" || continue
        [ "$(cat /proc/cmdline)" = "$TXT_GRAFT" ] || err "$s.graft.cmdline:$(cat /proc/cmdline)"
        reenable graft_sample_cmdline transition."$s"
        [ "$(cat /proc/cmdline)" = "$TXT_GRAFT" ] || err "$s.graft.reenable.cmdline:$(cat /proc/cmdline)"
        disable graft graft_sample_cmdline transition."$s"
      fi
      [ "$(cat /proc/cmdline)" = "$before" ] || err "$s.$e.not-restored:$(cat /proc/cmdline)"
    done
    run=$((run + 1))
  done
  for e in klp graft; do emit transition."$s".$e.enable; emit transition."$s".$e.disable; done
  emit transition."$s".graft.reenable
}

# --- a task held in the old function ----------------------------------------
BLOCKER=
blocked_n() { sed -n 's/.*blocked=//p' $SL; }
wait_blocked() {
  local i=0
  while [ "$(blocked_n)" != "$1" ]; do i=$((i + 1)); [ $i -gt 200 ] && return 1; sleep 0.05; done
}
version() { sh -c "echo 0 > $SL" && sed -n 's/version=\([0-9]\).*/\1/p' $SL; }
blocked() {
  local run=1 e name ko want d us
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { err "insmod-sleeper:$(cat /tmp/err)"; return; }
  while [ $run -le "$RUNS" ]; do
    for e in $(order $run); do
      if [ "$e" = klp ]; then ko=graft_bench_klp_sleeper; name=$ko; want=3; else ko=graft_test_sleeper_patch; name=$ko; want=2; fi
      d=$(pdir "$e" $name)
      echo 1 > $SL &
      BLOCKER=$!
      wait_blocked 1 || { err "blocked.$e.not-blocked"; echo r > $SL; wait $BLOCKER; continue; }
      insmod $KO/$ko.ko 2>/tmp/err || { err "blocked.$e.insmod:$(cat /tmp/err)"; echo r > $SL; wait $BLOCKER; continue; }
      sleep 2
      if [ "$(cat "$d"/transition)" != 1 ]; then
        err "blocked.$e.not-held"
        echo r > $SL
        wait $BLOCKER
      else
        # the release itself is the write: time from it to transition=0
        kmsg "transition.blocked.$e.release start"
        if us=$(graft-bench write-wait $SL r "$d"/transition 30000 2>/tmp/err); then
          add transition.blocked."$e".release "$us"
        else
          err "blocked.$e.release:$(cat /tmp/err)"
        fi
        wait $BLOCKER
      fi
      wait_blocked 0 || err "blocked.$e.still-blocked"
      [ "$(version)" = $want ] || err "blocked.$e.version:$(version)"
      disable "$e" $name transition.blocked
      [ "$(version)" = 1 ] || err "blocked.$e.not-restored:$(version)"
    done
    run=$((run + 1))
  done
  rmmod graft_test_sleeper 2>/tmp/err || err "rmmod-sleeper:$(cat /tmp/err)"
  for e in klp graft; do emit transition.blocked.$e.release; emit transition.blocked.$e.disable; done
}

# --- scale: patches of n of graft_test_scale's 1,000 functions --------------
SC=/proc/graft_test_scale
SCALE_FUNCS=1000
# The scale patches' transition timeout: upstream's disable of 1,000
# functions unregisters 1,000 ftrace_ops, each waiting for RCU tasks grace
# periods (about 4 minutes under TCG).
SCALE_TIMEOUT_MS=900000
# kmem: "<Slab> <VmallocUsed> <Percpu>" (kB) of /proc/meminfo
kmem() { awk '$1 == "Slab:" { s = $2 } $1 == "VmallocUsed:" { v = $2 } $1 == "Percpu:" { p = $2 } END { print s + 0, v + 0, p + 0 }' /proc/meminfo; }
# scale_reads WANT: /proc/graft_test_scale reads WANT
scale_reads() { [ "$(cat $SC 2>&1)" = "$1" ]; }
# scale_want N VERSION: the reading with N functions at VERSION
scale_want() {
  if [ "$1" = 0 ]; then echo "orig=$SCALE_FUNCS wrong=0"; else echo "orig=$((SCALE_FUNCS - $1)) v$2=$1 wrong=0"; fi
}
# scale_run ENGINE N: one enable and disable of ENGINE's patch of N
# functions, timed as scale.N.ENGINE.{enable,disable}, with the memory the
# enable added as scalemem.N.ENGINE.*; after a refusal, no more runs of
# that engine and size (one error marker, not one per run)
scale_run() {
  local e=$1 n=$2 ko version d us m0 m1
  [ -e $W/refused."$e"."$n" ] && return 1
  if [ "$e" = klp ]; then ko=graft_scale_klp version=100; else ko=graft_scale_patch version=1; fi
  d=$(pdir "$e" $ko)
  m0=$(kmem)
  kmsg "scale.$n.$e.enable start"
  if ! us=$(graft-bench load-wait $KO/$ko.ko "$d"/transition $SCALE_TIMEOUT_MS "n=$n" 2>/tmp/err); then
    err "scale.$n.$e.enable:$(cat /tmp/err)"
    : > $W/refused."$e"."$n"
    loaded $ko && { graft-bench write-wait "$d"/enabled 0 "$d"/transition $SCALE_TIMEOUT_MS >/dev/null 2>&1; unload "$e" $ko; }
    return 1
  fi
  m1=$(kmem)
  add scale."$n"."$e".enable "$us"
  echo "$m0 $m1" | awk -v f=$W/scalemem."$n"."$e" '{ print $4 - $1 >> (f ".slab"); print $5 - $2 >> (f ".vmalloc"); print $6 - $3 >> (f ".percpu") }'
  scale_reads "$(scale_want "$n" $version)" || err "scale.$n.$e.enabled-reads:$(cat $SC)"
  kmsg "scale.$n.$e.disable start"
  if us=$(graft-bench write-wait "$d"/enabled 0 "$d"/transition $SCALE_TIMEOUT_MS 2>/tmp/err); then
    add scale."$n"."$e".disable "$us"
  else
    err "scale.$n.$e.disable:$(cat /tmp/err)"
  fi
  unload "$e" $ko
  scale_reads "$(scale_want 0)" || err "scale.$n.$e.not-restored:$(cat $SC)"
}
loaded() { grep -q "^$1 " /proc/modules; }
scale() {
  local n run e k
  insmod $KO/graft_test_scale.ko 2>/tmp/err || { err "insmod-scale:$(cat /tmp/err)"; return; }
  scale_reads "$(scale_want 0)" || { err "scale-target-reads:$(cat $SC)"; rmmod graft_test_scale; return; }
  for n in $SCALE; do
    run=1
    while [ $run -le "$SCALE_RUNS" ]; do
      for e in $(order $run); do scale_run "$e" "$n"; done
      run=$((run + 1))
    done
    for e in klp graft; do
      emit scale."$n".$e.enable
      emit scale."$n".$e.disable
      for k in slab vmalloc percpu; do emit scalemem."$n".$e.$k; done
    done
  done
  rmmod graft_test_scale 2>/tmp/err || err "rmmod-scale:$(cat /tmp/err)"
}

# every arch whose engine runs: the image has graft-bench for its arch and
# kmod/Kbuild built the patch modules
if ! command -v graft-bench >/dev/null || [ ! -f $KO/graft_bench_patch.ko ]; then
  err "no-bench-for-$(cat /graft/arch)"
  # shellcheck disable=SC2317  # exit when run, not sourced
  return 0 2>/dev/null || exit 0
fi
bench config "arch=$(cat /graft/arch)" "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" "kernel=$(uname -r)" "upstream=$([ $KLP = yes ] && echo livepatch || echo none)" "fast=$FAST" "cpus=$(grep -c ^processor /proc/cpuinfo)" "runs=$RUNS" "calls=$CALLS" "rounds=$ROUNDS" "poll_us=${GRAFT_BENCH_POLL_US:-100}" "scale=$(echo "$SCALE" | tr ' ' ',')" "scale_runs=$SCALE_RUNS" "icount=$ICOUNT"
# shellcheck disable=SC2046  # "<us> <counter>=<value>": two fields
bench clock $(graft-bench now)
insmod $KO/graft.ko 2>/tmp/err || { err "insmod-graft:$(cat /tmp/err)"; exit 0; }
percall
if [ "$ICOUNT" = 1 ]; then
  # Counting instructions (QEMU -icount shift=0: the guest clock advances
  # 1 ns per instruction): the per-call table alone, which is then exact;
  # transitions wait on timers and other tasks, which icount does not make
  # deterministic.
  rmmod graft 2>/tmp/err || err "rmmod-graft:$(cat /tmp/err)"
  bench "done"
  # shellcheck disable=SC2317  # exit when run, not sourced
  return 0 2>/dev/null || exit 0
fi
cmdline idle
graft-bench threads 1000 16 > $W/threads.out 2>&1 &
TP=$!
i=0
until grep -q '^ready' $W/threads.out; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 $TP 2>/dev/null; then err "threads:$(cat $W/threads.out)"; break; fi
  sleep 0.1
done
if grep -q '^ready' $W/threads.out; then
  # shellcheck disable=SC2012  # counting /proc task entries: numeric names
  bench config "load=1000-sleeping+16-syscall-loop" "threads=$(ls /proc/$TP/task | wc -l)"
  cmdline load
fi
kill $TP 2>/dev/null
wait $TP 2>/dev/null
blocked
scale
rmmod graft 2>/tmp/err || err "rmmod-graft:$(cat /tmp/err)"
# shellcheck disable=SC2046  # (as above)
bench clock $(graft-bench now)
# graft's log lines of the transitions, for whoever reads the serial log
# (bench mode boots with loglevel=4: they were not on the console),
# without the lines naming each of the scale patches' functions (thousands)
dmesg | grep -E 'graft: |livepatch: |graft-bench: ' | grep -v -e selftest -e graft_scale_fn_ | sed 's/^/bench-log: /'
bench "done"

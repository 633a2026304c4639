# shellcheck shell=dash
# S12 stress: S12_CYCLES rounds of enable, stack, disable/re-enable, atomic
# replace, disable and unload, while 8 readers spawn `cat /proc/cmdline`
# (new tasks in every transition) and 2 shell loops keep both CPUs busy.
# /proc/cmdline must read the expected text after every transition; at the
# end no graft ftrace_ops is left on cmdline_proc_show (enabled_functions),
# every module unloads (no reference leaked), unreclaimable slab grew less
# than S12_SLAB_KB after the first round (task references leaked by
# snapshots would each pin a task_struct), and the kernel log holds no
# BUG, WARNING or Oops.  Each check must see its subject: tracefs's
# enabled_functions lists graft's ftrace_ops while a patch is enabled, and
# the kernel log still holds the scenario's start marker and its
# transitions.
#
# Then the scale part (s12_scale), on graft_test_scale's 1,000 functions
# (kmod/samples/graft_test_scale.c; /proc/graft_test_scale calls them all
# and reads "orig=<count> v<version>=<count>... wrong=<count>"): all 1,000
# listed by ftrace as traceable; graft_scale_patch replacing all 1,000
# (every one runs version 1, ftrace's enabled_functions lists 1,000, each
# on graft's handler, too many for the fast path),
# disabled (every one the original, none listed once the object reads
# patched=0) and enabled again; graft_scale_replace (replace=true) keeping
# 500 of them (the even ones run version 2, the other 500 the original,
# graft_scale_patch disabled); 32 patches stacked on graft_scale_fn_0000
# (after each the newest runs, with its stack_order) and disabled from the
# top down (each disable gives back the one below, the last the original),
# then the 32 patches spread over 96 functions, twice (each function at
# its patch's version; as many on the fast path as the backend has room
# for: arm64 64 trampolines, other fast arches 96, powerpc 0; the second
# round reuses the trampolines the first gave back); after which ftrace
# lists none of the functions.  Every expected reading is the whole line,
# so a count that is missing or off fails.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

S12_CYCLES=4
S12_SLAB_KB=1024
sunreclaim_kb() { awk '$1 == "SUnreclaim:" { print $2 }' /proc/meminfo; }
s12_stop() {
  touch /tmp/s12.stop
  # shellcheck disable=SC2086  # the list of pids, split on purpose
  [ -n "$S12_PIDS" ] && { kill $S12_PIDS 2>/dev/null; wait $S12_PIDS 2>/dev/null; }
  S12_PIDS=
  rm -f /tmp/s12.pids
}
# cleanup (lib.sh) stops the load too
stop_load() { [ -z "$S12_PIDS" ] || s12_stop; }
s12_step() {  # s12_step WHAT EXPECTED-CMDLINE COMMAND...
  local what=$1 want=$2; shift 2
  "$@" || { S12_WHY="$what:$(cat /tmp/err)"; return 1; }
  [ "$(cat /proc/cmdline)" = "$want" ] || { S12_WHY="$what:cmdline:$(cat /proc/cmdline)"; return 1; }
  S12_TRANSITIONS=$((S12_TRANSITIONS + 1))
}
s12_round() {
  local before=$1
  s12_step load-1 "$TXT1" load graft_sample_cmdline || return 1
  # the check at the end can see graft's ftrace_ops
  grep -q cmdline_proc_show $T/enabled_functions || { S12_WHY=ftrace-ops-not-listed; return 1; }
  s12_step load-2 "$TXT2" load graft_sample_cmdline2 || return 1
  s12_step disable-2 "$TXT1" set_enabled graft_sample_cmdline2 0 || return 1
  s12_step enable-2 "$TXT2" set_enabled graft_sample_cmdline2 1 || return 1
  s12_step replace "$TXTR" load graft_sample_cmdline_replace || return 1
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline2/enabled)" = 00 ] || { S12_WHY=replaced-still-enabled; return 1; }
  rmmod graft_sample_cmdline2 graft_sample_cmdline 2>/tmp/err || { S12_WHY="rmmod-replaced:$(cat /tmp/err)"; return 1; }
  s12_step disable-replace "$before" set_enabled graft_sample_cmdline_replace 0 || return 1
  rmmod graft_sample_cmdline_replace 2>/tmp/err || { S12_WHY="rmmod-replace:$(cat /tmp/err)"; return 1; }
}
# the scale part's sizes: graft_scale_patch's functions (all of
# graft_test_scale's) and graft_scale_replace's (S12_STACK, the stacked
# patches, is in lib.sh)
S12_SCALE_FUNCS=1000
S12_SCALE_N=1000
S12_SCALE_KEEP=500
SC=/proc/graft_test_scale
# scale_fns FILE: how many of graft_test_scale's functions FILE (an ftrace
# listing) names
scale_fns() { grep -c '^graft_scale_fn_0[0-9]* \[graft_test_scale\]' "$1"; }
# s12_scale_step WHAT WANT COMMAND...: run COMMAND (load, set_enabled), then
# /proc/graft_test_scale must read WANT
s12_scale_step() {
  local what=$1 want=$2 got
  shift 2
  "$@" || { S12_WHY="$what:$(cat /tmp/err)"; return 1; }
  got=$(cat $SC 2>&1)
  [ "$got" = "$want" ] || { S12_WHY="$what:read:$got"; return 1; }
  S12_SCALE_TRANSITIONS=$((S12_SCALE_TRANSITIONS + 1))
}
# want N VERSION: the reading with N functions at VERSION, the rest original
want() {
  if [ "$1" = 0 ]; then echo "orig=$S12_SCALE_FUNCS wrong=0"; else echo "orig=$((S12_SCALE_FUNCS - $1)) v$2=$1 wrong=0"; fi
}
s12_scale() {
  local c
  # graft logs lines per function (info): off the serial console for this
  # part (each printed line costs about 10 ms under TCG), still in the
  # kernel log the checks read; cleanup (lib.sh) puts the level back
  awk '{ print $1 }' /proc/sys/kernel/printk > /tmp/s12.printk
  echo 4 > /proc/sys/kernel/printk
  s12_scale_parts
  c=$?
  console_level_back
  return $c
}
s12_scale_parts() {
  local n=$S12_SCALE_N keep=$S12_SCALE_KEEP k p c f
  insmod $KO/graft_test_scale.ko 2>/tmp/err || { S12_WHY="insmod-target:$(cat /tmp/err)"; return 1; }
  c=$(scale_fns $T/available_filter_functions)
  [ "$c" = $S12_SCALE_FUNCS ] || { S12_WHY="traceable:$c"; return 1; }
  [ "$(cat $SC)" = "$(want 0)" ] || { S12_WHY="unpatched:$(cat $SC)"; return 1; }
  # (a) n functions in one patch
  s12_scale_step enable "$(want $n 1)" load graft_scale_patch "n=$n" || return 1
  c=$(scale_fns $T/enabled_functions)
  [ "$c" = "$n" ] || { S12_WHY="enabled_functions:$c"; return 1; }
  # a patch of more functions than the fast path takes (16: fast.rs
  # MAX_SITES) stays on the handler, on every arch: each function the
  # (one-page) functions file shows is path=handler, and ftrace lists no
  # direct call among them
  if [ "$n" -gt 16 ]; then
    f=$G/graft_scale_patch/graft_test_scale/functions
    c=$(grep -c '^ *graft_scale_fn_[0-9]*,' $f)
    k=$(grep -c '^ *graft_scale_fn_[0-9]*,.* path=handler$' $f)
    { [ "$c" -gt 0 ] && [ "$k" = "$c" ]; } || { S12_WHY="handler-paths:$k/$c:$(grep -m1 -v ' path=handler$' $f)"; return 1; }
    c=$(grep '^graft_scale_fn_0[0-9]* \[graft_test_scale\]' $T/enabled_functions | grep -c ' D ')
    [ "$c" = 0 ] || { S12_WHY="direct-calls-on-a-large-patch:$c"; return 1; }
  fi
  s12_scale_step disable "$(want 0)" set_enabled graft_scale_patch 0 || return 1
  wait_for $G/graft_scale_patch/graft_test_scale/patched 0 20000 || { S12_WHY=disable-still-patched; return 1; }
  c=$(scale_fns $T/enabled_functions)
  [ "$c" = 0 ] || { S12_WHY="enabled_functions-after-disable:$c"; return 1; }
  s12_scale_step re-enable "$(want $n 1)" set_enabled graft_scale_patch 1 || return 1
  # (b) a replace patch keeping the even functions: the odd ones revert
  s12_scale_step replace "$(want $keep 2)" load graft_scale_replace "n=$keep" || return 1
  [ "$(val graft_scale_patch/enabled)" = 0 ] || { S12_WHY=replaced-still-enabled; return 1; }
  rmmod graft_scale_patch 2>/tmp/err || { S12_WHY="rmmod-replaced:$(cat /tmp/err)"; return 1; }
  s12_scale_step replace-disable "$(want 0)" set_enabled graft_scale_replace 0 || return 1
  rmmod graft_scale_replace 2>/tmp/err || { S12_WHY="rmmod-replace:$(cat /tmp/err)"; return 1; }
  # (c) S12_STACK patches stacked on graft_scale_fn_0000: the newest wins
  S12_STACK_MS=$(now_ms)
  k=0
  for p in $(scale_stack_names); do
    k=$((k + 1))
    s12_scale_step "stack-$k" "$(want 1 $k)" load "$p" || return 1
    [ "$(val "$p"/stack_order)" = $k ] || { S12_WHY="stack_order-$k:$(val "$p"/stack_order)"; return 1; }
  done
  [ $k = "$S12_STACK" ] || { S12_WHY="stacked-$k"; return 1; }
  # ... and disabled from the top: each gives back the one below
  for p in $(scale_stack_names | sort -r); do
    k=$((k - 1))
    s12_scale_step "unstack-$((k + 1))" "$(want $((k > 0)) $k)" set_enabled "$p" 0 || return 1
    rmmod "$p" 2>/tmp/err || { S12_WHY="rmmod-$p:$(cat /tmp/err)"; return 1; }
  done
  S12_STACK_MS=$(($(now_ms) - S12_STACK_MS))
  # (d) the same modules spread (spread=1): 3 functions each, 96 sites,
  # twice: every function at its patch's version, and as many sites on
  # the fast path as the backend has room for (arm64: its 64 trampolines,
  # the rest on the handler; the other fast arches all 96; powerpc none);
  # the second round finds the trampolines the first gave back
  s12_spread 1 && s12_spread 2 || return 1
  # every patch gone: ftrace lists none of the functions (the ftrace_ops
  # are unregistered after the last transition, so give it a moment)
  k=0
  while [ "$(scale_fns $T/enabled_functions)" != 0 ]; do
    k=$((k + 1))
    [ $k -gt 100 ] && { S12_WHY="ftrace-ops-left:$(scale_fns $T/enabled_functions)"; return 1; }
    sleep 0.05
  done
  rmmod graft_test_scale 2>/tmp/err || { S12_WHY="rmmod-target:$(cat /tmp/err)"; return 1; }
}
# want_spread: the reading with the spread patches enabled: functions 0-95,
# three at each version 1..S12_STACK
want_spread() {
  local k=1 w="orig=$((S12_SCALE_FUNCS - 3 * S12_STACK))"
  while [ $k -le "$S12_STACK" ]; do w="$w v$k=3"; k=$((k + 1)); done
  echo "$w wrong=0"
}
# s12_spread ROUND: part (d)'s round; sets S12_DIRECT
s12_spread() {
  local p c want=96
  case "$(cat /graft/arch)" in arm64) want=64 ;; powerpc) want=0 ;; esac
  fast_arch || want=0
  for p in $(scale_stack_names); do
    load "$p" spread=1 || { S12_WHY="spread-$1-load-$p:$(cat /tmp/err)"; return 1; }
  done
  c=$(cat $SC)
  [ "$c" = "$(want_spread)" ] || { S12_WHY="spread-$1:read:$c"; return 1; }
  S12_DIRECT=$(for p in $(scale_stack_names); do cat "$G/$p/graft_test_scale/functions"; done | grep -c ' path=direct$')
  c=$(for p in $(scale_stack_names); do cat "$G/$p/graft_test_scale/functions"; done | grep -c ' path=handler$')
  [ "$S12_DIRECT/$c" = "$want/$((96 - want))" ] || { S12_WHY="spread-$1:direct/handler:$S12_DIRECT/$c,want:$want"; return 1; }
  for p in $(scale_stack_names | sort -r); do
    set_enabled "$p" 0 || { S12_WHY="spread-$1-disable-$p:$(cat /tmp/err)"; return 1; }
    rmmod "$p" 2>/tmp/err || { S12_WHY="spread-$1-rmmod-$p:$(cat /tmp/err)"; return 1; }
  done
  c=$(cat $SC)
  [ "$c" = "$(want 0)" ] || { S12_WHY="spread-$1-off:read:$c"; return 1; }
}
s12() {
  local before i slab0 slab1 t0 t1 oops log
  # shellcheck disable=SC2046  # the stacked patches' names, one word each
  needs S12 graft_sample_cmdline graft_sample_cmdline2 graft_sample_cmdline_replace \
    graft_test_scale graft_scale_patch graft_scale_replace $(scale_stack_names) || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S12 "insmod-graft:$(cat /tmp/err)"; return; }
  # no tracefs, no check of the ftrace_ops left (it would pass on nothing)
  [ -r $T/enabled_functions ] || { fail S12 "no-enabled_functions-in:$T"; return; }
  echo "graft-s12: start" > /dev/kmsg
  rm -f /tmp/s12.*
  S12_PIDS='' S12_WHY='' S12_TRANSITIONS=0 S12_SCALE_TRANSITIONS=0
  i=0
  while [ $i -lt 8 ]; do
    ( while [ ! -e /tmp/s12.stop ]; do cat /proc/cmdline >/dev/null; done ) &
    S12_PIDS="$S12_PIDS $!"
    i=$((i + 1))
  done
  ( while :; do :; done ) & S12_PIDS="$S12_PIDS $!"
  ( while :; do :; done ) & S12_PIDS="$S12_PIDS $!"
  echo "$S12_PIDS" > /tmp/s12.pids
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
  [ -r $T/enabled_functions ] || { fail S12 enabled_functions-gone; return; }
  if grep -q cmdline_proc_show $T/enabled_functions; then
    fail S12 "ftrace-ops-left:$(grep cmdline_proc_show $T/enabled_functions)"; return
  fi
  t1=$(now_ms)
  s12_scale || { fail S12 "scale-$S12_WHY"; return; }
  t1=$(($(now_ms) - t1))
  rmmod graft 2>/tmp/err || { fail S12 "rmmod-graft:$(cat /tmp/err)"; return; }
  # the kernel log since the start marker
  log=$(dmesg | sed -n '/graft-s12: start/,$p')
  oops=$(echo "$log" | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' | head -n1)
  if [ -z "$log" ]; then
    fail S12 kernel-log:no-start-marker
  elif ! echo "$log" | grep -q "graft_sample_cmdline_replace: enabling"; then
    fail S12 kernel-log:no-transitions
  elif ! echo "$log" | grep -q "$(scale_stack_names | tail -n1): enabling"; then
    fail S12 kernel-log:no-scale-transitions
  elif [ -n "$oops" ]; then
    fail S12 "kernel-log:$oops"
  elif [ $((slab1 - slab0)) -ge $S12_SLAB_KB ]; then
    fail S12 "slab-grew:$((slab1 - slab0))kB"
  else
    result S12 pass "rounds=$S12_CYCLES" "transitions=$S12_TRANSITIONS" "slab_delta_kb=$((slab1 - slab0))" \
      "scale=$S12_SCALE_N/$S12_SCALE_KEEP/$S12_STACK" "spread_direct=$S12_DIRECT/96" "scale_transitions=$S12_SCALE_TRANSITIONS" "scale_ms=$t1" "stack_ms=$S12_STACK_MS" \
      "ms=$(($(now_ms) - t0))"
  fi
}

s12

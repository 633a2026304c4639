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
s12() {
  local before i slab0 slab1 t0 oops log
  needs S12 graft_sample_cmdline graft_sample_cmdline2 graft_sample_cmdline_replace || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S12 "insmod-graft:$(cat /tmp/err)"; return; }
  # no tracefs, no check of the ftrace_ops left (it would pass on nothing)
  [ -r $T/enabled_functions ] || { fail S12 "no-enabled_functions-in:$T"; return; }
  echo "graft-s12: start" > /dev/kmsg
  rm -f /tmp/s12.*
  S12_PIDS='' S12_WHY='' S12_TRANSITIONS=0
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
  rmmod graft 2>/tmp/err || { fail S12 "rmmod-graft:$(cat /tmp/err)"; return; }
  # the kernel log since the start marker
  log=$(dmesg | sed -n '/graft-s12: start/,$p')
  oops=$(echo "$log" | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace' | head -n1)
  if [ -z "$log" ]; then
    fail S12 kernel-log:no-start-marker
  elif ! echo "$log" | grep -q "graft_sample_cmdline_replace: enabling"; then
    fail S12 kernel-log:no-transitions
  elif [ -n "$oops" ]; then
    fail S12 "kernel-log:$oops"
  elif [ $((slab1 - slab0)) -ge $S12_SLAB_KB ]; then
    fail S12 "slab-grew:$((slab1 - slab0))kB"
  else
    result S12 pass "rounds=$S12_CYCLES" "transitions=$S12_TRANSITIONS" "slab_delta_kb=$((slab1 - slab0))" \
      "ms=$(($(now_ms) - t0))"
  fi
}

s12

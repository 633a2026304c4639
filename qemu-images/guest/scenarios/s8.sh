# shellcheck shell=dash
# S8 syscall under load: 16 shells read /proc/cmdline (open/read/close
# through cmdline_proc_show(), builtins only: no fork) in a tight loop and
# record every result, while graft_sample_cmdline is enabled and disabled
# S8_CYCLES times.  Every transition completes (every reader switches);
# every result is exactly the original or the patched text; and every
# result read after a transition completed (the reader's second line after
# the controller saw transition=0, the first may have been in flight) is
# the new state's, up to the start of the next transition.  Where graft's
# backend has a fast path, every patched phase is on it (handed over after
# its transition, handed back before the next): fast_path_phases= counts them.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

S8_N=16
S8_CYCLES=3
# shellcheck disable=SC2046  # the readers' files, one word each
s8_offsets() { wc -l $(i=1; while [ $i -le $S8_N ]; do echo /tmp/s8.r$i; i=$((i + 1)); done) | awk '$2 != "total" { printf " %s", $1 }'; }
s8_stop() {
  touch /tmp/s8.stop
  # shellcheck disable=SC2086  # the list of pids, split on purpose
  [ -n "$S8_PIDS" ] && wait $S8_PIDS 2>/dev/null
  S8_PIDS=
  rm -f /tmp/s8.pids
}
# cleanup (lib.sh) stops the load too
stop_load() { [ -z "$S8_PIDS" ] || s8_stop; }
s8() {
  local before i c t0 t1 t2 ms max_ms=0 tot=0 bad=0 stale=0 old=0 new=0 minr=999999 why fast=0
  needs S8 graft_sample_cmdline || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S8 "insmod-graft:$(cat /tmp/err)"; return; }
  rm -f /tmp/s8.*
  S8_PIDS=
  i=1
  while [ $i -le $S8_N ]; do
    ( IFS=; while [ ! -e /tmp/s8.stop ]; do read -r l < /proc/cmdline; echo "$l"; done > /tmp/s8.r$i ) &
    S8_PIDS="$S8_PIDS $!"
    echo "$S8_PIDS" > /tmp/s8.pids
    # nice 19: the load takes every idle cycle, the controller still runs
    renice -n 19 -p $! >/dev/null 2>&1
    i=$((i + 1))
  done
  sleep 0.5
  t1=$(now_ms)
  # phases: "<text> <start offsets> | <end offsets>": text 0 original, 1 patched
  c=0
  while [ $c -lt $((2 * S8_CYCLES)) ]; do
    echo "$(( (c + 1) % 2 ))$(s8_offsets) |" > /tmp/s8.p
    t0=$(now_ms)
    if [ $c = 0 ]; then
      load graft_sample_cmdline || { s8_stop; fail S8 "load:$(cat /tmp/err)"; return; }
    else
      set_enabled graft_sample_cmdline $(( (c + 1) % 2 )) || { s8_stop; fail S8 "transition-$c:$(cat /tmp/err)"; return; }
    fi
    ms=$(( $(now_ms) - t0 ))
    [ $ms -gt $max_ms ] && max_ms=$ms
    # where the backend has a fast path, each patched phase runs on it from
    # its handover (load and set_enabled wait for it) until the handback
    # that starts the next transition: the readers go through both
    if [ $(( (c + 1) % 2 )) = 1 ] && fast_arch; then
      [ "$(path graft_sample_cmdline cmdline_proc_show)" = direct ] ||
        { s8_stop; fail S8 "transition-$c:not-on-the-fast-path:$(path graft_sample_cmdline cmdline_proc_show)"; return; }
      fast=$((fast + 1))
    fi
    echo "$(cat /tmp/s8.p)$(s8_offsets)" >> /tmp/s8.phases
    sleep 0.3
    c=$((c + 1))
  done
  s8_stop
  t2=$(now_ms)
  cmdline_is "$before" || { fail S8 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S8 "rmmod:$(cat /tmp/err)"; return; }
  # every reader's results against the phases
  i=1
  while [ $i -le $S8_N ]; do
    # shellcheck disable=SC2046  # five numbers, one word each
    set -- $(awk -v r=$i -v o="$before" -v p="$TXT1" '
      FILENAME == "/tmp/s8.phases" {
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
      END { printf "%d %d %d %d %d\n", tot, old, new, bad, stale }' /tmp/s8.phases /tmp/s8.r$i)
    tot=$((tot + $1)); old=$((old + $2)); new=$((new + $3)); bad=$((bad + $4)); stale=$((stale + $5))
    [ "$3" -lt "$minr" ] && minr=$3
    { [ "$2" -gt 0 ] && [ "$3" -gt 0 ]; } || why="${why:-reader-$i-saw-one-version:old=$2,new=$3}"
    i=$((i + 1))
  done
  [ $bad = 0 ] || why="${why:-garbled=$bad}"
  [ $stale = 0 ] || why="${why:-stale=$stale}"
  if [ -n "$why" ]; then
    fail S8 "$why:reads=$tot,old=$old,new=$new,bad=$bad,stale=$stale"
  else
    result S8 pass "readers=$S8_N" "transitions=$((2 * S8_CYCLES))" "reads=$tot" "old=$old" "new=$new" \
      "garbled=0" "stale=0" "min_new_per_reader=$minr" "max_transition_ms=$max_ms" "fast_path_phases=$fast" \
      "load_ms=$((t2 - t1))" "check_ms=$(($(now_ms) - t2))"
  fi
  rm -f /tmp/s8.*
}

s8

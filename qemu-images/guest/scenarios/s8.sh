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

# a reader's read: /proc/cmdline through shell builtins
s8_read() { read -r l < /proc/cmdline; echo "$l"; }
# cleanup (lib.sh) stops the load too
stop_load() { [ -z "$STORM_PIDS" ] || storm_stop; }
s8() {
  local before c t0 t1 t2 ms max_ms=0 fast=0 S8_CYCLES=3
  needs S8 graft_sample_cmdline || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S8 "insmod-graft:$(cat /tmp/err)"; return; }
  storm_start s8_read
  t1=$(now_ms)
  c=0
  while [ $c -lt $((2 * S8_CYCLES)) ]; do
    storm_phase_start $(( (c + 1) % 2 ))
    t0=$(now_ms)
    if [ $c = 0 ]; then
      load graft_sample_cmdline || { storm_stop; fail S8 "load:$(cat /tmp/err)"; return; }
    else
      set_enabled graft_sample_cmdline $(( (c + 1) % 2 )) || { storm_stop; fail S8 "transition-$c:$(cat /tmp/err)"; return; }
    fi
    ms=$(( $(now_ms) - t0 ))
    [ $ms -gt $max_ms ] && max_ms=$ms
    # where the backend has a fast path, each patched phase runs on it from
    # its handover (load and set_enabled wait for it) until the handback
    # that starts the next transition: the readers go through both
    if [ $(( (c + 1) % 2 )) = 1 ] && fast_arch; then
      [ "$(path graft_sample_cmdline cmdline_proc_show)" = direct ] ||
        { storm_stop; fail S8 "transition-$c:not-on-the-fast-path:$(path graft_sample_cmdline cmdline_proc_show)"; return; }
      fast=$((fast + 1))
    fi
    storm_phase_end
    sleep 0.3
    c=$((c + 1))
  done
  storm_stop
  t2=$(now_ms)
  cmdline_is "$before" || { fail S8 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline graft 2>/tmp/err || { fail S8 "rmmod:$(cat /tmp/err)"; return; }
  storm_check "$before" "$TXT1"
  if [ -n "$STORM_WHY" ]; then
    fail S8 "$STORM_WHY:$STORM_TALLY"
  else
    result S8 pass "readers=$STORM_N" "transitions=$((2 * S8_CYCLES))" "reads=$STORM_TOT" "old=$STORM_OLD" \
      "new=$STORM_NEW" "garbled=0" "stale=0" "min_new_per_reader=$STORM_MINR" "max_transition_ms=$max_ms" \
      "fast_path_phases=$fast" "load_ms=$((t2 - t1))" "check_ms=$(($(now_ms) - t2))"
  fi
  rm -f /tmp/storm.*
}

s8

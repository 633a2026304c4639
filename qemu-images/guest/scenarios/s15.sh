# shellcheck shell=dash
# S15 a real fix, applied live, where the image has klp-build's modules
# (graft's own x86_64 kernel, `klp-patches yes`: required there): the
# Linux 7.3.4 stable fix "listmount: don't wrap around with a U64_MAX
# cursor" (tests/klp/listmount-u64-max.diff, which says why this one),
# made into a graft patch by `make patch`, on a kernel built without it
# (qemu-images/patches/x86_64/).  Before: listmount(2) with the cursor at
# U64_MAX lists every mount again (graft-listmount prints "wraps").  Then
# 8 readers call it in a loop (graft-listmount, qemu-images/guest-src/)
# while the patch is loaded, disabled, enabled and disabled (S8's read
# storm, lib.sh): every call is the buggy or the fixed answer ("ends"),
# and every call after a transition completed is the new state's.  After
# the last disable it wraps again; the patch unloads and leaves nothing.
# graft found the running code to match each function's pre-image.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

KM=livepatch-listmount-u64-max
KP=livepatch_listmount_u64_max

s15_read() { graft-listmount 20; }
# cleanup (lib.sh) stops the load too
stop_load() { [ -z "$STORM_PIDS" ] || storm_stop; }

s15() {
  local c t0 ms max_ms=0 funcs state STORM_N=8
  [ -f "$KO/$KM.ko" ] || { result S15 skip "reason=no-klp-build-module"; return; }
  needs S15 || return
  command -v graft-listmount >/dev/null || { fail S15 "no-graft-listmount"; return; }
  state=$(graft-listmount 1)
  [ "$state" = wraps ] || { fail S15 "not-the-bug-before:$state"; return; }
  loaded graft || insmod $KO/graft.ko 2>/tmp/err || { fail S15 "insmod-graft:$(cat /tmp/err)"; return; }
  storm_start s15_read
  c=0
  while [ $c -lt 4 ]; do
    state=$(( (c + 1) % 2 ))
    storm_phase_start $state
    t0=$(now_ms)
    if [ $c = 0 ]; then
      insmod $KO/$KM.ko 2>/tmp/err || { storm_stop; fail S15 "insmod:$(cat /tmp/err)"; return; }
      { wait_for $G/$KP/transition 0 20000 && settled $KP; } ||
        { storm_stop; fail S15 "transition-0:$(val $KP/transition)"; return; }
    else
      set_enabled $KP $state || { storm_stop; fail S15 "transition-$c:$(cat /tmp/err)"; return; }
    fi
    ms=$(( $(now_ms) - t0 ))
    [ $ms -gt $max_ms ] && max_ms=$ms
    storm_phase_end
    sleep 0.3
    c=$((c + 1))
  done
  storm_stop
  state=$(graft-listmount 1)
  [ "$state" = wraps ] || { fail S15 "not-reverted:$state"; return; }
  funcs=$(sed -n 's/^ *\([^ ,]*\),.*/\1/p' $G/$KP/vmlinux/functions | tr '\n' ',')
  dmesg | grep -q "$KP: .*: the running code matches the patch's pre-image" ||
    { fail S15 "no-preimage-match-line"; return; }
  rmmod $KP 2>/tmp/err || { fail S15 "rmmod:$(cat /tmp/err)"; return; }
  { [ ! -e $G/$KP ] && ! loaded $KP; } || { fail S15 left-behind; return; }
  rmmod graft 2>/tmp/err || { fail S15 "rmmod-graft:$(cat /tmp/err)"; return; }
  storm_check wraps ends
  if [ -n "$STORM_WHY" ]; then
    fail S15 "$STORM_WHY:$STORM_TALLY"
  else
    result S15 pass "fix=listmount-u64-max" "functions=${funcs%,}" "readers=$STORM_N" "transitions=4" \
      "calls=$STORM_TOT" "wraps=$STORM_OLD" "ends=$STORM_NEW" "garbled=0" "stale=0" \
      "min_fixed_per_reader=$STORM_MINR" "max_transition_ms=$max_ms"
  fi
  rm -f /tmp/storm.*
}

s15

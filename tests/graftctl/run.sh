#!/usr/bin/env bash
# graftctl (qemu-images/guest/graftctl) on the host, against a fake sysfs
# tree (GRAFT_SYSFS): the output and exit status of list, status, enable,
# disable and wait, a timeout and an unknown patch included.  It runs under
# the host's /bin/sh (dash on Debian: POSIX, no bashisms), and under busybox
# sh too when a busybox is on PATH (GRAFTCTL_SHELLS overrides the list).
# Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
CTL=$PWD/qemu-images/guest/graftctl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
G=$tmp/graft
export GRAFT_SYSFS=$G
bad=0
n=0

shells=${GRAFTCTL_SHELLS:-sh}
[ -n "${GRAFTCTL_SHELLS:-}" ] || ! command -v busybox >/dev/null || shells="$shells busybox_sh"
# shellcheck disable=SC2317  # called as $sh
busybox_sh() { busybox sh "$@"; }

# patch NAME enabled transition replace stack_order patched forced [progress]:
# a patch directory as graft.ko makes it
patch() {
  local d=$G/$1
  mkdir -p "$d/vmlinux"
  echo "$2" > "$d/enabled"; echo "$3" > "$d/transition"; echo "$4" > "$d/replace"
  echo "$5" > "$d/stack_order"; echo "$6" > "$d/vmlinux/patched"; echo "$7" > "$d/forced"
  if [ -n "${8:-}" ]; then echo "$8" > "$d/progress"; else : > "$d/progress"; fi
  : > "$d/stragglers"
}
reset() { rm -rf "$G"; mkdir -p "$G"; }

# run ARGS...: graftctl under $sh; sets out, err, rc
run() {
  rc=0
  out=$($sh "$CTL" "$@" 2>"$tmp/err") || rc=$?
  err=$(cat "$tmp/err")
}
ok() { n=$((n + 1)); }
# chk NAME CMD...: CMD must succeed (stdin passes through)
chk() { local name=$1; shift; if "$@"; then ok; else no "$name"; fi; }
no() { echo "FAILED [$sh] $*"; echo "  rc=$rc"; echo "  out: $out" | head -n 20; echo "  err: $err" | head -n 20; bad=1; }
# expect RC 'OUT' 'ERR-GREP' NAME: exact stdout, status, stderr matching a regex
expect() {
  local want_rc=$1 want_out=$2 want_err=$3 name=$4
  if [ "$rc" != "$want_rc" ]; then no "$name: exit $rc, expected $want_rc"; return; fi
  if [ "$out" != "$want_out" ]; then no "$name: stdout differs"; printf '  expected: %s\n' "$want_out"; return; fi
  if [ -n "$want_err" ] && ! grep -qE -- "$want_err" <<<"$err"; then no "$name: stderr lacks /$want_err/"; return; fi
  if [ -z "$want_err" ] && [ -n "$err" ]; then no "$name: unexpected stderr"; return; fi
  ok
}

for sh in $shells; do
  # --- usage and a missing graft -------------------------------------------
  rm -rf "$G"
  run list; expect 1 "" "graft is not loaded \(no $G\)" "list without graft"
  reset
  run; expect 2 "" "^usage: graftctl list" "no command"
  run frobnicate; expect 2 "" "unknown command 'frobnicate'" "unknown command"
  run list extra; expect 2 "" "^usage:" "list with an argument"
  run enable; expect 2 "" "^usage:" "enable without a name"
  run wait; expect 2 "" "^usage:" "wait without a name"
  run status; expect 0 "no patches registered" "" "status of nothing"

  # --- list and status ------------------------------------------------------
  patch p1 1 0 0 1 1 0
  patch p2 1 0 1 2 1 1
  run list
  expect 0 "$(printf '%-32s %7s %10s %7s %11s %7s %6s\n' NAME ENABLED TRANSITION REPLACE STACK_ORDER PATCHED FORCED \
    p1 1 0 0 1 1 0 p2 1 0 1 2 1 1)" "" "list"
  run status p2
  expect 0 "p2: enabled=1 transition=0 replace=1 stack_order=2 patched=1 forced=1" "" "status of a forced patch"
  run status
  expect 0 "p1: enabled=1 transition=0 replace=0 stack_order=1 patched=1 forced=0
p2: enabled=1 transition=0 replace=1 stack_order=2 patched=1 forced=1" "" "status of all"
  run status nope; expect 1 "" "no patch 'nope' \(registered: p1 p2\)" "status of an unknown patch"
  run status ../p1; expect 1 "" "bad patch name '../p1'" "status of a path"
  # a patch of a module only: its object's patched
  mkdir -p "$G/p3/graft_test_mod"; patch p3 1 0 0 3 1 0; rm -r "$G/p3/vmlinux"; echo 0 > "$G/p3/graft_test_mod/patched"
  run status p3
  expect 0 "p3: enabled=1 transition=0 replace=0 stack_order=3 patched=0 forced=0" "" "status of a module-only patch"
  rm -rf "$G/p3"
  # mid-transition: progress and stragglers from sysfs (nothing from dmesg)
  patch p2 0 1 1 2 1 0 "117 120"
  printf 'pass 16\npid 42 (sh) waits: f+0x10/0x40 [m] in frame 3\n  #0 g+0x1/0x2\n  #3 f+0x10/0x40 [m]\n' > "$G/p2/stragglers"
  run status p2
  expect 0 "p2: enabled=0 transition=1 replace=1 stack_order=2 patched=1 forced=0
  transition: unpatching
  progress: 117 of 120 tasks switched
  straggler (pass 16): pid 42 (sh) waits: f+0x10/0x40 [m] in frame 3
    #0 g+0x1/0x2
    #3 f+0x10/0x40 [m]" "" "status mid-transition"
  # a graft.ko without progress: said so, not guessed
  rm "$G/p2/progress"
  run status p2
  chk "status without progress: rc" [ $rc = 0 ]
  chk "status without progress" grep -qF "  progress: not reported (no $G/p2/progress)" <<<"$out"
  echo "garbage" > "$G/p2/progress"
  run status p2
  chk "status with a garbled progress" grep -qx "  progress: not reported ('garbage')" <<<"$out"
  echo "117 120" > "$G/p2/progress"

  # --- enable and disable -----------------------------------------------------
  # another patch's transition runs: refused before writing
  echo 0 > "$G/p1/enabled"
  run enable p1; expect 1 "" "p1: busy: a transition is in progress \(p2\); graftctl wait it first" "enable while another transitions"
  chk "busy enable wrote enabled" [ "$(cat "$G/p1/enabled")" = 0 ]
  # the patch in transition, written the other way: a reversal, allowed
  run enable p2; expect 0 "p2: enabling (graftctl wait p2)" "" "reverse mid-transition"
  chk "reverse did not write 1" [ "$(cat "$G/p2/enabled")" = 1 ]
  run enable p2; expect 1 "" "p2: already enabling \(graftctl wait p2\)" "enable while enabling"
  echo 0 > "$G/p2/transition"
  run enable p2; expect 1 "" "p2: already enabled$" "enable an enabled patch"
  run disable p2; expect 0 "p2: disabling (graftctl wait p2)" "" "disable"
  chk "disable did not write 0" [ "$(cat "$G/p2/enabled")" = 0 ]
  run disable p2; expect 1 "" "p2: already disabled$" "disable a disabled patch"
  run enable p1; expect 0 "p1: enabling (graftctl wait p1)" "" "enable"
  chk "enable did not write 1" [ "$(cat "$G/p1/enabled")" = 1 ]
  run enable nope; expect 1 "" "no patch 'nope' \(registered: p1 p2\)" "enable an unknown patch"
  run disable nope; expect 1 "" "no patch 'nope'" "disable an unknown patch"
  # a write the kernel refuses (here: enabled is a directory)
  rm "$G/p2/enabled"; mkdir "$G/p2/enabled"
  run enable p2; expect 1 "" "p2: write failed: .*" "a refused write"
  rmdir "$G/p2/enabled"; echo 0 > "$G/p2/enabled"

  # --- wait -------------------------------------------------------------------
  run wait p1 5
  chk "wait, nothing running: rc" [ $rc = 0 ]
  chk "wait, nothing running" grep -qxE 'p1: patched \([0-9]+ ms\)' <<<"$out"
  run wait p2
  chk "wait for a disabled patch: rc" [ $rc = 0 ]
  chk "wait for a disabled patch" grep -qxE 'p2: unpatched \([0-9]+ ms\)' <<<"$out"
  # a transition that ends while waiting
  echo 1 > "$G/p1/transition"
  (sleep 0.4; echo 0 > "$G/p1/transition") &
  run wait p1 10
  wait
  chk "wait until the transition ends: rc" [ $rc = 0 ]
  chk "wait until the transition ends (>= 300 ms)" grep -qxE 'p1: patched \(([3-9][0-9]{2}|[0-9]{4,}) ms\)' <<<"$out"
  # a timeout: exit 1 with the status (progress and stragglers) on stderr
  echo 1 > "$G/p2/transition"; echo "3 50" > "$G/p2/progress"
  echo "pid 7 (cat) waits: running" > "$G/p2/stragglers"
  s0=$(date +%s%N)
  run wait p2 1
  ms=$(( ($(date +%s%N) - s0) / 1000000 ))
  expect 1 "" "p2: transition still running after 1 s" "wait timeout"
  chk "wait timeout: transition on stderr" grep -qx "  transition: unpatching" <<<"$err"
  chk "wait timeout: progress on stderr" grep -qx "  progress: 3 of 50 tasks switched" <<<"$err"
  chk "wait timeout: straggler on stderr" grep -qxF "  straggler (pass ?): pid 7 (cat) waits: running" <<<"$err"
  chk "wait timeout took $ms ms (>= 1 s)" [ $ms -ge 1000 ]
  chk "wait timeout took $ms ms (< 5 s)" [ $ms -lt 5000 ]
  # unregistered while waiting
  (sleep 0.3; rm -rf "$G/p2") &
  run wait p2 10
  wait
  expect 1 "" "p2: unregistered while waiting" "wait for a patch that goes away"
  run wait nope; expect 1 "" "no patch 'nope' \(registered: p1\)" "wait for an unknown patch"
  run wait p1 soon; expect 2 "" "bad timeout 'soon' \(whole seconds\)" "wait with a bad timeout"
  echo "graftctl [$sh]: done"
done

[ $bad = 0 ] && echo "graftctl: $n checks passed (shells: $shells)"
exit $bad

#!/usr/bin/env bash
# graftctl (qemu-images/guest/graftctl) on the host, against a fake sysfs
# tree (GRAFT_SYSFS) and a fake /proc/modules (GRAFT_MODULES), with fake
# insmod, rmmod and dmesg (GRAFT_INSMOD, GRAFT_RMMOD, GRAFT_DMESG: busybox
# sh would run its own applets before any on PATH): the output and exit
# status of
# list, status, enable, disable, wait, load, unload and info, timeouts,
# reversals, refusals and an unknown patch included.  It runs under the
# host's /bin/sh (dash on Debian: POSIX, no bashisms), and under busybox sh
# too when a busybox is on PATH (GRAFTCTL_SHELLS overrides the list).  Run
# by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
CTL=$PWD/qemu-images/guest/graftctl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
G=$tmp/graft
export GRAFT_SYSFS=$G
export GRAFT_MODULES=$tmp/modules
: > "$GRAFT_MODULES"
# The fakes' switches and records (FAKE/insmod.err: insmod fails with it,
# FAKE/insmod.log: what graft logs then; FAKE/nopatch: the module registers
# no patch; FAKE/patchname: the patch's name if not the module's;
# FAKE/transition: its transition at load; FAKE/rmmod.err: rmmod fails;
# FAKE/modname: the module's name if not the file's).
export FAKE=$tmp/fake
mkdir -p "$FAKE" "$tmp/bin"
cat > "$tmp/bin/insmod" <<'EOF'
#!/bin/sh
m=$(cat "$FAKE/modname" 2>/dev/null || basename "$1" .ko | tr -- '-,' '__')
echo "insmod $*" >> "$FAKE/calls"
if [ -f "$FAKE/insmod.err" ]; then
  cat "$FAKE/insmod.log" >> "$FAKE/dmesg" 2>/dev/null
  cat "$FAKE/insmod.err" >&2
  exit 1
fi
echo "$m 16384 0 - Live 0x0000000000000000" >> "$GRAFT_MODULES"
[ -f "$FAKE/nopatch" ] && exit 0
p=$(cat "$FAKE/patchname" 2>/dev/null || echo "$m")
d=$GRAFT_SYSFS/$p
mkdir -p "$d/vmlinux"
echo 1 > "$d/enabled"; cat "$FAKE/transition" > "$d/transition" 2>/dev/null || echo 0 > "$d/transition"
echo 0 > "$d/replace"; echo 1 > "$d/stack_order"; echo 0 > "$d/forced"; : > "$d/progress"; : > "$d/stragglers"
echo "$m" > "$d/module"; echo 7.3.4 > "$d/kernel_release"; : > "$d/states"
echo 1 > "$d/vmlinux/patched"; : > "$d/vmlinux/callbacks"; echo "f,1 site=f+0x0/0x10 new=g [$m]" > "$d/vmlinux/functions"
echo "[ 1.0] graft: $p: enabling" >> "$FAKE/dmesg"
EOF
cat > "$tmp/bin/rmmod" <<'EOF'
#!/bin/sh
echo "rmmod $*" >> "$FAKE/calls"
if [ -f "$FAKE/rmmod.err" ]; then cat "$FAKE/rmmod.err" >&2; exit 1; fi
grep -v "^$1 " "$GRAFT_MODULES" > "$GRAFT_MODULES.new"; mv "$GRAFT_MODULES.new" "$GRAFT_MODULES"
for d in "$GRAFT_SYSFS"/*/; do
  [ "$(cat "$d/module" 2>/dev/null)" = "$1" ] && rm -rf "$d"
done
exit 0
EOF
cat > "$tmp/bin/dmesg" <<'EOF'
#!/bin/sh
cat "$FAKE/dmesg" 2>/dev/null
EOF
chmod +x "$tmp/bin/insmod" "$tmp/bin/rmmod" "$tmp/bin/dmesg"
export GRAFT_INSMOD=$tmp/bin/insmod GRAFT_RMMOD=$tmp/bin/rmmod GRAFT_DMESG=$tmp/bin/dmesg
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
  echo "$1" > "$d/module"; echo 7.3.4 > "$d/kernel_release"; : > "$d/states"
  : > "$d/vmlinux/callbacks"; echo "f,1 site=f+0x0/0x10 new=g [$1]" > "$d/vmlinux/functions"
}
reset() { rm -rf "$G" "$FAKE"; mkdir -p "$G" "$FAKE"; : > "$GRAFT_MODULES"; }
# lacks TEXT PATTERN: no line of TEXT matches PATTERN
# shellcheck disable=SC2317  # called through chk
lacks() { ! grep -q -- "$2" <<<"$1"; }
# when_written NAME FILE VALUE THEN_FILE THEN_VALUE: once NAME's FILE reads
# VALUE (graftctl wrote it), write THEN_VALUE to THEN_FILE (graft's answer)
when_written() {
  (i=0; while [ "$(cat "$G/$1/$2" 2>/dev/null)" != "$3" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
   sleep 0.2; echo "$5" > "$G/$1/$4") &
}

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

  # --- load -------------------------------------------------------------------
  reset
  run load; expect 2 "" "^usage:" "load without a file"
  run load notes.txt; expect 2 "" "notes.txt is not a kernel module \(.ko\)" "load of a non-.ko"
  run load "$tmp/p.ko" --wait soon; expect 2 "" "bad timeout 'soon'" "load with a bad timeout"
  run load --frob "$tmp/p.ko"; expect 2 "" "unknown option '--frob'" "load with an unknown option"
  run load "$tmp/p.ko" "$tmp/q.ko"; expect 2 "" "^usage:" "load of two files"
  run load "$tmp/nope.ko"; expect 1 "" "$tmp/nope.ko: no such file" "load of a missing file"
  : > "$tmp/my-patch.ko"
  rm -rf "$G"
  run load "$tmp/my-patch.ko"; expect 1 "" "graft is not loaded" "load without graft"
  reset
  echo "my_patch 16384 0 - Live 0x0" > "$GRAFT_MODULES"
  run load "$tmp/my-patch.ko"; expect 1 "" "module my_patch is already loaded" "load of a loaded module"
  chk "load of a loaded module: no insmod" [ ! -e "$FAKE/calls" ]
  # loaded and patched at once: the patch is found by its module attribute
  reset
  echo "[ 0.5] graft: earlier: something old" > "$FAKE/dmesg"
  run load "$tmp/my-patch.ko"
  chk "load: rc" [ $rc = 0 ]
  chk "load: insmod of the file" grep -qxF "insmod $tmp/my-patch.ko" "$FAKE/calls"
  chk "load: enabling" grep -qxF "my_patch: loaded (module my_patch), enabling" <<<"$out"
  chk "load: patched" grep -qxE 'my_patch: patched \([0-9]+ ms\)' <<<"$out"
  chk "load: nothing on stderr" [ -z "$err" ]
  # module parameters go to insmod, after the file
  reset
  run load "$tmp/my-patch.ko" --wait 0 version=2 replace=0
  chk "load with parameters: rc" [ $rc = 0 ]
  chk "load with parameters: insmod" grep -qxF "insmod $tmp/my-patch.ko version=2 replace=0" "$FAKE/calls"
  run load version=2 "$tmp/my-patch.ko"; expect 2 "" "^usage:" "load with a parameter before the file"
  # a renamed file: the module keeps the name it was built with
  reset
  echo "other 16384 0 - Live 0x0" > "$GRAFT_MODULES"
  echo built_name > "$FAKE/modname"
  cp "$tmp/my-patch.ko" "$tmp/renamed.ko"
  run load "$tmp/renamed.ko" --wait 0
  expect 0 "built_name: loaded (module built_name), enabling
built_name: not waiting (graftctl wait built_name)" "" "load of a renamed file"
  # a patch named otherwise than its module
  reset
  echo fixes_v2 > "$FAKE/patchname"
  run load "$tmp/my-patch.ko" --wait 0
  expect 0 "fixes_v2: loaded (module my_patch), enabling
fixes_v2: not waiting (graftctl wait fixes_v2)" "" "load --wait 0, patch named otherwise"
  # insmod refused: its error and what graft logged since, nothing older
  reset
  echo "[ 0.5] graft: older: not this one" > "$FAKE/dmesg"
  echo "insmod: can't insert 'my-patch.ko': Invalid argument" > "$FAKE/insmod.err"
  printf '%s\n' "[ 2.0] graft: my_patch: not compatible with the installed patches: p has state 1 at version 2, this patch at version 1: ..." \
    "[ 2.0] random: not graft" > "$FAKE/insmod.log"
  run load "$tmp/my-patch.ko"
  expect 1 "" "insmod failed: insmod: can't insert 'my-patch.ko': Invalid argument" "load refused by graft"
  chk "load refused: graft's line" grep -qxF "  graft: my_patch: not compatible with the installed patches: p has state 1 at version 2, this patch at version 1: ..." <<<"$err"
  chk "load refused: no older line" lacks "$err" older
  chk "load refused: no other line" lacks "$err" random
  # a module that registers no patch
  reset
  touch "$FAKE/nopatch"
  run load "$tmp/my-patch.ko"
  expect 1 "" "my_patch loaded, but it registered no graft patch" "load of a module without a patch"
  # a transition that takes a while: progress and stragglers each second
  reset
  echo 1 > "$FAKE/transition"
  (i=0; while [ ! -d "$G/my_patch" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
   echo "3 50" > "$G/my_patch/progress"
   printf 'pass 4\npid 7 (cat) waits: f+0x1/0x10 in frame 2\n  #0 x+0x1/0x2\n' > "$G/my_patch/stragglers"
   sleep 1.5; echo 0 > "$G/my_patch/transition") &
  run load "$tmp/my-patch.ko" --wait 10
  wait
  chk "slow load: rc" [ $rc = 0 ]
  chk "slow load: progress" grep -qxF "my_patch: patching after 1 s: 3 of 50 tasks switched" <<<"$out"
  chk "slow load: straggler" grep -qxF "  straggler (pass 4): pid 7 (cat) waits: f+0x1/0x10 in frame 2" <<<"$out"
  chk "slow load: no frames" lacks "$out" "#0"
  chk "slow load: patched (>= 1 s)" grep -qxE 'my_patch: patched \(([0-9]{4,}) ms\)' <<<"$out"
  # a transition that does not end: reversed, then unloaded
  reset
  echo 1 > "$FAKE/transition"
  (i=0; while [ ! -d "$G/my_patch" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
   echo "pid 9 (sh) waits: running" > "$G/my_patch/stragglers") &
  when_written my_patch enabled 0 transition 0
  run load "$tmp/my-patch.ko" --wait 2
  wait
  chk "load timeout: rc" [ $rc = 1 ]
  chk "load timeout: progress" grep -qxF "my_patch: patching after 1 s: not reported ('')" <<<"$out"
  chk "load timeout: reversing" grep -qxF "graftctl: my_patch: its transition did not end in 2 s: reversing it" <<<"$err"
  chk "load timeout: straggler on stderr" grep -qF "straggler (pass ?): pid 9 (sh) waits: running" <<<"$err"
  chk "load timeout: reversed and unloaded" grep -qF "my_patch: reversed and unloaded: the kernel is as before" <<<"$err"
  chk "load timeout: rmmod" grep -qxF "rmmod my_patch" "$FAKE/calls"
  chk "load timeout: module gone" [ ! -s "$GRAFT_MODULES" ]
  # ... and a reversal that does not end either
  reset
  echo 1 > "$FAKE/transition"
  run load "$tmp/my-patch.ko" --wait 1
  chk "load timeout, reversal stuck: rc" [ $rc = 1 ]
  chk "load timeout, reversal stuck" grep -qxF "graftctl: my_patch: the reversal did not end either: graftctl status my_patch" <<<"$err"
  chk "reversal stuck: enabled written back" [ "$(cat "$G/my_patch/enabled")" = 0 ]
  chk "reversal stuck: no rmmod" lacks "$(cat "$FAKE/calls")" rmmod

  # --- unload -----------------------------------------------------------------
  reset
  run unload; expect 2 "" "^usage:" "unload without a name"
  run unload nope; expect 1 "" "no patch 'nope'" "unload of an unknown patch"
  run unload p1 --wait x; expect 2 "" "bad timeout 'x'" "unload with a bad timeout"
  patch p1 1 0 0 1 1 1
  echo "p1mod 16384 1 - Live 0x0" > "$GRAFT_MODULES"; echo p1mod > "$G/p1/module"
  run unload p1
  expect 1 "" "p1: its transition was forced \(forced=1\): module p1mod can never be unloaded \(until reboot\); graftctl disable p1 still reverts the patch" "unload of a forced patch"
  chk "forced: enabled untouched" [ "$(cat "$G/p1/enabled")" = 1 ]
  chk "forced: no rmmod" [ ! -e "$FAKE/calls" ]
  echo 0 > "$G/p1/forced"
  run unload p1
  chk "unload: rc" [ $rc = 0 ]
  chk "unload: unpatched" grep -qxE 'p1: unpatched \([0-9]+ ms\)' <<<"$out"
  chk "unload: disabled" grep -qxF "p1: disabling (graftctl wait p1)" <<<"$out"
  chk "unload: unloaded" grep -qxF "p1: unloaded (module p1mod)" <<<"$out"
  chk "unload: rmmod" grep -qxF "rmmod p1mod" "$FAKE/calls"
  chk "unload: patch gone" [ ! -d "$G/p1" ]
  # already disabled: no write, rmmod
  reset
  patch p2 0 0 0 1 0 0
  echo "p2 16384 0 - Live 0x0" > "$GRAFT_MODULES"
  run unload p2
  expect 0 "p2: unloaded (module p2)" "" "unload of a disabled patch"
  # rmmod refused
  reset
  patch p2 0 0 0 1 0 0
  echo "rmmod: can't unload module 'p2': Resource temporarily unavailable" > "$FAKE/rmmod.err"
  run unload p2
  expect 1 "" "p2: rmmod p2 failed: rmmod: can't unload module 'p2': Resource temporarily unavailable" "unload, rmmod refused"
  # another patch's transition
  reset
  patch p1 1 1 0 1 1 0
  patch p2 1 0 0 2 1 0
  run unload p2; expect 1 "" "p2: busy: a transition is in progress \(p1\)" "unload while another transitions"
  chk "unload busy: enabled untouched" [ "$(cat "$G/p2/enabled")" = 1 ]
  # its own enable in transition: written back (reversed), waited, unloaded
  reset
  patch p1 1 1 0 1 1 0
  when_written p1 enabled 0 transition 0
  run unload p1 --wait 10
  wait
  chk "unload mid-enable: rc" [ $rc = 0 ]
  chk "unload mid-enable: unloaded" grep -qxF "p1: unloaded (module p1)" <<<"$out"
  # a disable that does not end: reversed (enabled again), not unloaded
  reset
  patch p1 0 1 0 1 1 0
  when_written p1 enabled 1 transition 0
  run unload p1 --wait 2
  wait
  chk "unload timeout: rc" [ $rc = 1 ]
  chk "unload timeout: progress" grep -qxF "p1: unpatching after 1 s: not reported ('')" <<<"$out"
  chk "unload timeout: reversing" grep -qxF "graftctl: p1: disabling did not end in 2 s: reversing it" <<<"$err"
  chk "unload timeout: reversed" grep -qxF "graftctl: p1: not unloaded: its disable was reversed, the patch is enabled again" <<<"$err"
  chk "unload timeout: enabled again" [ "$(cat "$G/p1/enabled")" = 1 ]
  chk "unload timeout: no rmmod" [ ! -e "$FAKE/calls" ]
  # a graft.ko that does not name the module
  reset
  patch p1 0 0 0 1 0 0
  rm "$G/p1/module"
  run unload p1; expect 1 "" "p1: graft does not name its module" "unload without a module attribute"

  # --- info -------------------------------------------------------------------
  reset
  run info; expect 2 "" "^usage:" "info without a name"
  run info nope; expect 1 "" "no patch 'nope'" "info of an unknown patch"
  patch p1 1 0 1 2 1 0
  echo p1mod > "$G/p1/module"
  printf '1 2\n2 1\n' > "$G/p1/states"
  echo "pre_patch post_unpatch" > "$G/p1/vmlinux/callbacks"
  printf '%s\n' "cmdline_proc_show,1 site=cmdline_proc_show+0x4/0x30 new=new_show [p1mod]" > "$G/p1/vmlinux/functions"
  mkdir -p "$G/p1/mymod"; echo 0 > "$G/p1/mymod/patched"; : > "$G/p1/mymod/callbacks"
  printf '%s\n' "mymod_func,2 site=- new=new_func [p1mod]" > "$G/p1/mymod/functions"
  run info p1
  expect 0 "p1:
  module: p1mod
  kernel release: 7.3.4
  enabled=1 transition=0 replace=1 stack_order=2 forced=0
  states: 1 v2, 2 v1
  object mymod: patched=0 callbacks: none
    mymod_func,2 site=- new=new_func [p1mod]
  object vmlinux: patched=1 callbacks: pre_patch post_unpatch
    cmdline_proc_show,1 site=cmdline_proc_show+0x4/0x30 new=new_show [p1mod]" "" "info"
  : > "$G/p1/states"; : > "$G/p1/kernel_release"; rm -r "$G/p1/mymod"
  run info p1
  chk "info without states: none" grep -qxF "  states: none" <<<"$out"
  chk "info without a release: not named" grep -qxF "  kernel release: not named" <<<"$out"
  echo "graftctl [$sh]: done"
done

[ $bad = 0 ] && echo "graftctl: $n checks passed (shells: $shells)"
exit $bad

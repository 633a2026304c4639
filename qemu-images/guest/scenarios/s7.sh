# shellcheck shell=dash
# S7 blocked task: a shell sleeping inside graft_test_sleeper_func() holds
# the transition to patched (the log names it) until it leaves; a shell
# sleeping in the replacement holds the way back, and writing enabled=1
# mid-transition reverses it; last, force completes a held transition at
# once and leaves the patch module unloadable for the rest of the boot.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s7() {
  local d=$G/$SP t0 t1 t2 wait_ms n strag pr
  needs S7 graft_test_sleeper graft_test_sleeper_patch || return
  insmod $KO/graft.ko 2>/tmp/err || { fail S7 "insmod-graft:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { fail S7 "insmod-sleeper:$(cat /tmp/err)"; return; }
  [ "$(version)" = 1 ] || { fail S7 "version-before:$(version)"; return; }
  # 1. held by a task in the old function
  block || { fail S7 not-blocked; return; }
  insmod $KO/$SP.ko 2>/tmp/err || { fail S7 "insmod-patch:$(cat /tmp/err)"; return; }
  t0=$(now_ms)
  sleep 1
  [ "$(val $SP/transition)" = 1 ] || { fail S7 not-held; return; }
  # progress: "switched total", the blocker not yet switched
  pr=$(held_progress $SP) || { fail S7 "progress:$pr"; return; }
  dmesg | grep -q "pid $BLOCKER (sh) waits: graft_test_sleeper_func+.*\[graft_test_sleeper\]" || { fail S7 straggler-not-named; return; }
  # sysfs names it too, with the frames the unwinder read
  cat $d/stragglers > /tmp/strag 2>&1
  { grep -q "^pid $BLOCKER (sh) waits: graft_test_sleeper_func+.*\[graft_test_sleeper\] in frame [0-9]" /tmp/strag &&
    grep -q "^  #[0-9]* graft_test_sleeper_func+.*\[graft_test_sleeper\]" /tmp/strag; } ||
    { fail S7 "stragglers-sysfs:$(head -c 400 /tmp/strag | tr '\n' '|')"; return; }
  [ "$(version)" = 2 ] || { fail S7 new-task-not-patched; return; }
  t1=$(now_ms)
  release || { fail S7 release; return; }
  wait_for $d/transition 0 20000 || { fail S7 enable-stuck; return; }
  t2=$(now_ms)
  # the released task switched itself on its way back from write() (the
  # sys_exit probe), not at a later pass after it exited
  n=$(dmesg | sed -n "s/.*graft: $SP: \([0-9]*\) task(s) switched themselves at syscall exit.*/\1/p" | tail -n1)
  [ "${n:-0}" -ge 1 ] || { fail S7 "not-switched-at-syscall-exit:${n:-no-line}"; return; }
  # (empty, not missing: a file that cannot be read must not pass)
  { strag=$(cat $d/stragglers 2>&1) && [ -z "$strag" ]; } || { fail S7 "stragglers-after:$(echo "$strag" | head -c 200 | tr '\n' '|')"; return; }
  { pr=$(cat $d/progress 2>&1) && [ -z "$pr" ]; } || { fail S7 "progress-after:$pr"; return; }
  wait_ms=$((t1 - t0))
  { [ "$(val $SP/enabled)" = 1 ] && [ "$(version)" = 2 ]; } || { fail S7 not-patched; return; }
  # 2. held by a task in the new function; reversed back to patched
  block || { fail S7 not-blocked-2; return; }
  echo 0 > $d/enabled || { fail S7 disable-write; return; }
  sleep 0.5
  [ "$(val $SP/transition)" = 1 ] || { fail S7 disable-not-held; return; }
  # graftctl shows the transition and names the straggler
  graftctl status $SP > /tmp/out 2>&1
  { grep -q "^  transition: unpatching$" /tmp/out &&
    grep -q "^  progress: [0-9]* of [0-9]* tasks switched$" /tmp/out &&
    grep -q "^  straggler (pass [0-9]*): pid $BLOCKER (sh) waits: .*graft_test_sleeper_func_v2+.* \[$SP\] in frame" /tmp/out; } ||
    { fail S7 "graftctl-status:$(cat /tmp/out)"; return; }
  graftctl enable $SP > /dev/null 2>/tmp/err || { fail S7 "reverse-write:$(cat /tmp/err)"; return; }
  graftctl wait $SP 5 > /tmp/out 2>&1 || { fail S7 "reverse-stuck:$(cat /tmp/out)"; return; }
  grep -q "blocked=1" $SL || { fail S7 reverse-waited-for-task; return; }
  { [ "$(val $SP/enabled)" = 1 ] && [ "$(version)" = 2 ]; } || { fail S7 reverse-not-patched; return; }
  release || { fail S7 release-2; return; }
  set_enabled $SP 0 || { fail S7 "disable:$(cat /tmp/err)"; return; }
  [ "$(version)" = 1 ] || { fail S7 not-unpatched; return; }
  rmmod $SP 2>/tmp/err || { fail S7 "rmmod-patch:$(cat /tmp/err)"; return; }
  # 3. force (last of the boot: the patch module stays loaded)
  block || { fail S7 not-blocked-3; return; }
  insmod $KO/$SP.ko 2>/tmp/err || { fail S7 "insmod-patch-3:$(cat /tmp/err)"; return; }
  sleep 0.3
  [ "$(val $SP/transition)" = 1 ] || { fail S7 force-not-held; return; }
  [ "$(val $SP/forced)" = 0 ] || { fail S7 "forced-before:$(val $SP/forced)"; return; }
  echo 1 > $d/force || { fail S7 force-write; return; }
  { [ "$(val $SP/transition)" = 0 ] && [ "$(val $SP/enabled)" = 1 ]; } || { fail S7 not-forced; return; }
  # sysfs says so, and graftctl reads it there
  [ "$(val $SP/forced)" = 1 ] || { fail S7 "forced-attr:$(val $SP/forced)"; return; }
  graftctl status $SP 2>&1 | grep -q "^$SP: enabled=1 transition=0 .* forced=1$" ||
    { fail S7 "graftctl-forced:$(graftctl status $SP 2>&1)"; return; }
  release || { fail S7 release-3; return; }
  [ "$(version)" = 2 ] || { fail S7 forced-not-patched; return; }
  if rmmod $SP 2>/dev/null; then fail S7 forced-module-unloaded; return; fi
  # graftctl unload says why, and touches nothing
  graftctl unload $SP > /tmp/out 2>&1; n=$?
  { [ $n = 1 ] && grep -qx "graftctl: $SP: its transition was forced (forced=1): module $SP can never be unloaded (until reboot); graftctl disable $SP still reverts the patch" /tmp/out; } ||
    { fail S7 "graftctl-unload-forced:$n:$(cat /tmp/out)"; return; }
  { [ "$(val $SP/enabled)" = 1 ] && loaded $SP; } || { fail S7 graftctl-unload-forced-changed; return; }
  dmesg | grep -q "$SP: transition forced" || { fail S7 force-not-logged; return; }
  result S7 pass "held_ms=$wait_ms" "after_release_ms=$((t2 - t1))"
}

s7

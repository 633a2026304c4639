# shellcheck shell=dash
# S13 system states: upstream's tools/testing/selftests/livepatch/
# test-state.sh with graft's own modules, driven by graftctl load, unload
# and info.  graft_test_state (C, graft.h) is version 1 of upstream's
# console_loglevel state, graft_test_state2 and graft_test_state3 (Rust,
# graft_patch!) version 2; all three are replace patches of
# cmdline_proc_show() that also carry state 2, a shadow counter of the
# reads of /proc/cmdline ("<module>: state 1 v<version>, read <n>"), so
# the counters show whether the shadow variables survived a replace.
# Upstream's four cases, then graft's own:
#   1. a state installed (console_loglevel 15) and removed through callbacks
#   2. taken over by a replace patch of version 2 (the counters survive)
#   3. kept by a compatible replace (2 -> 3 -> 2)
#   4. a downgrade refused at load (-EINVAL, a dmesg line naming the state)
#   5. a non-replace patch may keep the state at an equal version (it finds
#      the installed one, takes it over and hands it back), not a lower one
#   6. a replace held by a task and reversed hands the state back: its
#      post_unpatch finds the previous state (graftctl load --wait times
#      out, shows progress and the straggler, reverses and unloads)
#   7. a replaced older patch, still loaded, cannot be enabled again over
#      a newer state (graftctl enable is refused)
# The callback and engine lines of each case must come in this order.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

ST=graft_test_state
S13_MARK=0
s13_mark() { S13_MARK=$(dmesg | wc -l); }
# the callback, state and engine lines since the mark, as tokens
# "<1|2|3>:<what>" (the module graft_test_state, ..2, ..3)
s13_log() {
  dmesg | tail -n +$((S13_MARK + 1)) | sed -E 's/^\[[^]]*\] ?//' |
    sed -E "s/^(graft: )?$ST: /\\1${ST}1: /" | sed -nE \
    -e "s/^$ST([123]): (pre_patch|post_patch|pre_unpatch|post_unpatch)_callback: vmlinux\$/\\1:\\2/p" \
    -e "s/^$ST([123]): allocate_loglevel_state: allocating space to store console_loglevel\$/\\1:alloc/p" \
    -e "s/^$ST([123]): allocate_loglevel_state: space to store console_loglevel already allocated\$/\\1:allocated/p" \
    -e "s/^$ST([123]): fix_console_loglevel: fixing console_loglevel\$/\\1:fix/p" \
    -e "s/^$ST([123]): fix_console_loglevel: taking over the console_loglevel change\$/\\1:takeover/p" \
    -e "s/^$ST([123]): restore_console_loglevel: restoring console_loglevel\$/\\1:restore/p" \
    -e "s/^$ST([123]): restore_console_loglevel: passing the console_loglevel change back to the old livepatch\$/\\1:passback/p" \
    -e "s/^$ST([123]): free_loglevel_state: freeing space for the stored console_loglevel\$/\\1:free/p" \
    -e "s/^$ST([123]): free_loglevel_state: keeping space to store console_loglevel\$/\\1:keep/p" \
    -e "s/^$ST([123]): free_cmdline_counters: freeing the cmdline read counters\$/\\1:free-counters/p" \
    -e "s/^$ST([123]): free_cmdline_counters: keeping the cmdline read counters\$/\\1:keep-counters/p" \
    -e "s/^graft: $ST([123]): (enabling|disabling)\$/\\1:\\2/p" \
    -e "s/^graft: $ST([123]): (patched|unpatched) after .*/\\1:\\2/p" \
    -e "s/^graft: $ST([123]): replaced, unpatched\$/\\1:replaced/p" \
    -e "s/^graft: $ST([123]): transition reversed\$/\\1:reversed/p" \
    -e "s/^graft: $ST([123]): not compatible with the installed patches: .*/\\1:incompatible/p" |
    tr '\n' ',' | sed 's/,$//'
}
# s13_expect CASE TOKENS: the lines since the mark are exactly TOKENS
s13_expect() {
  local got
  got=$(s13_log)
  [ "$got" = "$2" ] || { fail S13 "$1:got:$got"; return 1; }
}
# the console's log level, the state's subject (15 while a patch holds it)
level() { awk '{ print $1 }' /proc/sys/kernel/printk; }
# reads MODULE VERSION N: /proc/cmdline is MODULE's, with state 1 at
# VERSION, and this is its N-th read (the shadow counter); a read counts
reads() {
  local got
  got=$(cat /proc/cmdline)
  [ "$got" = "$1: state 1 v$2, read $3" ] || { echo "$got"; return 1; }
}
# ctl ARGS...: graftctl ARGS, which must succeed (its output in /tmp/out)
ctl() { graftctl "$@" > /tmp/out 2>&1; }
states_of() { tr '\n' ' ' < "$G/$1/states"; }

s13() {
  local before lv why rc
  needs S13 graft_test_state graft_test_state2 graft_test_state3 graft_test_sleeper || return
  before=$(cat /proc/cmdline)
  lv=$(level)
  # the state must change something: not already the level it sets
  [ "$lv" != 15 ] || { fail S13 console-level-already-15; return; }
  echo "$lv" > /tmp/s13.printk
  insmod $KO/graft.ko 2>/tmp/err || { fail S13 "insmod-graft:$(cat /tmp/err)"; return; }
  # graft_test_state links against it (its sleeper=1 object, case 6)
  insmod $KO/graft_test_sleeper.ko 2>/tmp/err || { fail S13 "insmod-sleeper:$(cat /tmp/err)"; return; }

  # 1. "system state modification"
  s13_mark
  ctl load $KO/$ST.ko || { fail S13 "1-load:$(cat /tmp/out)"; return; }
  grep -q "^$ST: patched (" /tmp/out || { fail S13 "1-load-output:$(cat /tmp/out)"; return; }
  why=$(reads $ST 1 1) || { fail S13 "1-cmdline:$why"; return; }
  [ "$(level)" = 15 ] || { fail S13 "1-level:$(level)"; return; }
  [ "$(states_of $ST)" = "1 1 2 1 " ] || { fail S13 "1-states:$(states_of $ST)"; return; }
  ctl info $ST || { fail S13 "1-info:$(cat /tmp/out)"; return; }
  { grep -qx "  module: $ST" /tmp/out && grep -qx "  kernel release: $(uname -r)" /tmp/out &&
    grep -qx "  states: 1 v1, 2 v1" /tmp/out &&
    grep -qx "  object vmlinux: patched=1 callbacks: pre_patch post_patch pre_unpatch post_unpatch" /tmp/out &&
    grep -qx "    cmdline_proc_show,1 site=cmdline_proc_show+0x[0-9a-f]*/0x[0-9a-f]* new=state_cmdline_proc_show \[$ST\] path=$(if fast_arch; then echo direct; else echo handler; fi)" /tmp/out; } ||
    { fail S13 "1-info-output:$(tr '\n' '|' < /tmp/out)"; return; }
  ctl unload $ST || { fail S13 "1-unload:$(cat /tmp/out)"; return; }
  grep -qx "$ST: unloaded (module $ST)" /tmp/out || { fail S13 "1-unload-output:$(cat /tmp/out)"; return; }
  { [ "$(level)" = "$lv" ] && cmdline_is "$before" && ! loaded $ST; } || { fail S13 "1-not-removed:$(level)"; return; }
  s13_expect 1 "1:pre_patch,1:alloc,1:enabling,1:post_patch,1:fix,1:patched,1:pre_unpatch,1:restore,1:disabling,1:post_unpatch,1:free,1:free-counters,1:unpatched" || return

  # 2. "taking over system state modification": version 2 replaces 1 and
  #    takes its change over; the shadow counters count on
  s13_mark
  ctl load $KO/$ST.ko || { fail S13 "2-load-1:$(cat /tmp/out)"; return; }
  why=$(reads $ST 1 1) || { fail S13 "2-cmdline-1:$why"; return; }
  why=$(reads $ST 1 2) || { fail S13 "2-cmdline-2:$why"; return; }
  ctl load $KO/${ST}2.ko || { fail S13 "2-load-2:$(cat /tmp/out)"; return; }
  why=$(reads ${ST}2 2 3) || { fail S13 "2-taken-over:$why"; return; }
  { [ "$(val $ST/enabled)" = 0 ] && [ "$(val ${ST}2/enabled)" = 1 ]; } || { fail S13 2-not-replaced; return; }
  [ "$(level)" = 15 ] || { fail S13 "2-level:$(level)"; return; }
  [ "$(states_of ${ST}2)" = "1 2 2 1 " ] || { fail S13 "2-states:$(states_of ${ST}2)"; return; }
  ctl unload $ST || { fail S13 "2-unload-1:$(cat /tmp/out)"; return; }
  ctl unload ${ST}2 || { fail S13 "2-unload-2:$(cat /tmp/out)"; return; }
  { [ "$(level)" = "$lv" ] && cmdline_is "$before"; } || { fail S13 "2-not-removed:$(level)"; return; }
  s13_expect 2 "1:pre_patch,1:alloc,1:enabling,1:post_patch,1:fix,1:patched,2:pre_patch,2:allocated,2:enabling,2:post_patch,2:takeover,2:patched,1:replaced,2:pre_unpatch,2:restore,2:disabling,2:post_unpatch,2:free,2:free-counters,2:unpatched" || return

  # 3. "compatible cumulative livepatches": 2, replaced by 3 (the same
  #    version), replaced by 2 loaded again
  s13_mark
  ctl load $KO/${ST}2.ko || { fail S13 "3-load-2:$(cat /tmp/out)"; return; }
  why=$(reads ${ST}2 2 1) || { fail S13 "3-cmdline-2:$why"; return; }
  ctl load $KO/${ST}3.ko || { fail S13 "3-load-3:$(cat /tmp/out)"; return; }
  why=$(reads ${ST}3 2 2) || { fail S13 "3-cmdline-3:$why"; return; }
  ctl unload ${ST}2 || { fail S13 "3-unload-2:$(cat /tmp/out)"; return; }
  ctl load $KO/${ST}2.ko || { fail S13 "3-reload-2:$(cat /tmp/out)"; return; }
  why=$(reads ${ST}2 2 3) || { fail S13 "3-cmdline-2-again:$why"; return; }
  [ "$(level)" = 15 ] || { fail S13 "3-level:$(level)"; return; }
  ctl unload ${ST}2 || { fail S13 "3-unload-2-again:$(cat /tmp/out)"; return; }
  ctl unload ${ST}3 || { fail S13 "3-unload-3:$(cat /tmp/out)"; return; }
  { [ "$(level)" = "$lv" ] && cmdline_is "$before"; } || { fail S13 "3-not-removed:$(level)"; return; }
  s13_expect 3 "2:pre_patch,2:alloc,2:enabling,2:post_patch,2:fix,2:patched,3:pre_patch,3:allocated,3:enabling,3:post_patch,3:takeover,3:patched,2:replaced,2:pre_patch,2:allocated,2:enabling,2:post_patch,2:takeover,2:patched,3:replaced,2:pre_unpatch,2:restore,2:disabling,2:post_unpatch,2:free,2:free-counters,2:unpatched" || return

  # 4. "incompatible cumulative livepatches": version 1 while 2 is installed
  ctl load $KO/${ST}2.ko || { fail S13 "4-load-2:$(cat /tmp/out)"; return; }
  why=$(reads ${ST}2 2 1) || { fail S13 "4-cmdline:$why"; return; }
  s13_mark
  graftctl load $KO/$ST.ko > /tmp/out 2>&1; rc=$?
  [ $rc = 1 ] || { fail S13 "4-downgrade-rc:$rc:$(cat /tmp/out)"; return; }
  { grep -q "^graftctl: .*$ST.ko: insmod failed: .*Invalid argument" /tmp/out &&
    grep -qx "  graft: $ST: not compatible with the installed patches: ${ST}2 has state 1 at version 2, this patch at version 1: a state may only be kept at an equal or higher version" /tmp/out; } ||
    { fail S13 "4-downgrade-output:$(tr '\n' '|' < /tmp/out)"; return; }
  { [ ! -e $G/$ST ] && ! loaded $ST; } || { fail S13 4-downgrade-left; return; }
  why=$(reads ${ST}2 2 2) || { fail S13 "4-cmdline-after:$why"; return; }
  # (busybox's insmod retries a failed finit_module() with init_module())
  case "$(s13_log)" in
    1:incompatible | 1:incompatible,1:incompatible) ;;
    *) fail S13 "4:got:$(s13_log)"; return ;;
  esac

  # 5. graft's: a non-replace patch may not carry the state at a lower
  #    version; at an equal one it loads beside version 2, finds its state
  #    installed, takes it over, and hands it back when disabled
  why=$(refused $ST "invalid argument" "graft: $ST: not compatible with the installed patches: ${ST}2 has state 1 at version 2, this patch at version 1" replace=0) ||
    { fail S13 "5-lower:$why"; return; }
  s13_mark
  ctl load $KO/$ST.ko replace=0 version=2 || { fail S13 "5-load:$(cat /tmp/out)"; return; }
  { [ "$(val $ST/replace)" = 0 ] && [ "$(val ${ST}2/enabled)" = 1 ]; } || { fail S13 5-not-stacked; return; }
  why=$(reads $ST 2 3) || { fail S13 "5-cmdline:$why"; return; }
  ctl unload $ST || { fail S13 "5-unload:$(cat /tmp/out)"; return; }
  why=$(reads ${ST}2 2 4) || { fail S13 "5-cmdline-after:$why"; return; }
  [ "$(level)" = 15 ] || { fail S13 "5-level:$(level)"; return; }
  s13_expect 5 "1:pre_patch,1:allocated,1:enabling,1:post_patch,1:takeover,1:patched,1:pre_unpatch,1:passback,1:disabling,1:post_unpatch,1:keep,1:keep-counters,1:unpatched" || return

  # 6. graft's: a replace of version 2 held by a task sleeping in the old
  #    graft_test_sleeper_func(); graftctl load --wait shows the progress
  #    and the task, times out and reverses it; the reversed patch's
  #    post_unpatch finds version 2 of graft_test_state2 installed and
  #    hands the state back (system-state.rst "Restore the previous state
  #    when the transition is reverted")
  s13_mark
  block || { fail S13 6-not-blocked; return; }
  graftctl load $KO/$ST.ko --wait 2 version=2 sleeper=1 > /tmp/out 2>/tmp/err; rc=$?
  release || { fail S13 6-release; return; }
  [ $rc = 1 ] || { fail S13 "6-rc:$rc:$(cat /tmp/out /tmp/err | tr '\n' '|')"; return; }
  { grep -q "^$ST: patching after 1 s: [0-9]* of [0-9]* tasks switched$" /tmp/out &&
    grep -q "^  straggler (pass [0-9]*): pid $BLOCKER (sh) waits: graft_test_sleeper_func+.* \[graft_test_sleeper\] in frame [0-9]*$" /tmp/out; } ||
    { fail S13 "6-progress:$(tr '\n' '|' < /tmp/out)"; return; }
  { grep -qx "graftctl: $ST: its transition did not end in 2 s: reversing it" /tmp/err &&
    grep -qx "graftctl: $ST: reversed and unloaded: the kernel is as before" /tmp/err; } ||
    { fail S13 "6-reversal:$(tr '\n' '|' < /tmp/err)"; return; }
  { [ ! -e $G/$ST ] && ! loaded $ST; } || { fail S13 6-left; return; }
  [ "$(version)" = 1 ] || { fail S13 "6-sleeper-patched:$(version)"; return; }
  why=$(reads ${ST}2 2 5) || { fail S13 "6-cmdline:$why"; return; }
  { [ "$(level)" = 15 ] && [ "$(val ${ST}2/enabled)" = 1 ]; } || { fail S13 "6-state-lost:$(level)"; return; }
  s13_expect 6 "1:pre_patch,1:allocated,1:enabling,1:reversed,1:post_unpatch,1:keep,1:keep-counters,1:unpatched" || return
  ctl unload ${ST}2 || { fail S13 "6-unload-2:$(cat /tmp/out)"; return; }
  { [ "$(level)" = "$lv" ] && cmdline_is "$before"; } || { fail S13 "6-not-removed:$(level)"; return; }

  # 7. graft's: the replaced version 1 stays loaded (disabled); enabling it
  #    again over version 2 is refused, and nothing changes
  s13_mark
  ctl load $KO/$ST.ko || { fail S13 "7-load-1:$(cat /tmp/out)"; return; }
  ctl load $KO/${ST}2.ko || { fail S13 "7-load-2:$(cat /tmp/out)"; return; }
  graftctl enable $ST > /tmp/out 2>&1; rc=$?
  { [ $rc = 1 ] && grep -q "$ST: refused by graft (invalid argument)" /tmp/out; } || { fail S13 "7-reenable:$rc:$(cat /tmp/out)"; return; }
  { [ "$(val $ST/enabled)" = 0 ] && [ "$(val ${ST}2/enabled)" = 1 ] && [ "$(level)" = 15 ]; } || { fail S13 7-changed; return; }
  why=$(reads ${ST}2 2 1) || { fail S13 "7-cmdline:$why"; return; }
  ctl unload $ST || { fail S13 "7-unload-1:$(cat /tmp/out)"; return; }
  ctl unload ${ST}2 || { fail S13 "7-unload-2:$(cat /tmp/out)"; return; }
  { [ "$(level)" = "$lv" ] && cmdline_is "$before"; } || { fail S13 "7-not-removed:$(level)"; return; }
  s13_expect 7 "1:pre_patch,1:alloc,1:enabling,1:post_patch,1:fix,1:patched,2:pre_patch,2:allocated,2:enabling,2:post_patch,2:takeover,2:patched,1:replaced,1:incompatible,2:pre_unpatch,2:restore,2:disabling,2:post_unpatch,2:free,2:free-counters,2:unpatched" || return

  rm -f /tmp/s13.printk
  rmmod graft_test_sleeper graft 2>/tmp/err || { fail S13 "rmmod:$(cat /tmp/err)"; return; }
  result S13 pass cases=7
}

s13

# shellcheck shell=dash
# S9 sysfs ABI: modes and values of every attribute (upstream livepatch's,
# and graft's own read-only forced, progress, stragglers, module,
# kernel_release, states, <object>/functions and <object>/callbacks, and
# the read-write fast), and errors on bad writes.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s9() {
  local d=$G/graft_sample_cmdline modes pr f p
  needs S9 graft_sample_cmdline || return
  insmod $KO/graft.ko 2>/tmp/err || { fail S9 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S9 "load:$(cat /tmp/err)"; return; }
  modes=$(cd $d && stat -c %n=%a enabled transition force replace stack_order forced progress stragglers module kernel_release states fast vmlinux/patched vmlinux/functions vmlinux/callbacks | tr '\n' ' ')
  [ "$modes" = "enabled=644 transition=444 force=200 replace=444 stack_order=444 forced=444 progress=444 stragglers=400 module=444 kernel_release=444 states=444 fast=644 vmlinux/patched=444 vmlinux/functions=444 vmlinux/callbacks=444 " ] ||
    { fail S9 "modes:$modes"; return; }
  # what graft says of the patch: its module, the release it was built for,
  # no states, no callbacks, its one function with the site ftrace uses
  [ "$(val graft_sample_cmdline/module)" = graft_sample_cmdline ] || { fail S9 "module:$(val graft_sample_cmdline/module)"; return; }
  [ "$(val graft_sample_cmdline/kernel_release)" = "$(uname -r)" ] || { fail S9 "kernel_release:$(val graft_sample_cmdline/kernel_release)"; return; }
  for f in states vmlinux/callbacks; do
    { pr=$(cat $d/$f) && [ -z "$pr" ]; } || { fail S9 "$f:$pr"; return; }
  done
  # (the path its calls take: the fast path's direct call where the
  # backend has one, else graft's handler)
  if fast_arch; then p=direct; else p=handler; fi
  f=$(cat $d/vmlinux/functions)
  echo "$f" | grep -qx "cmdline_proc_show,1 site=cmdline_proc_show+0x[0-9a-f]*/0x[0-9a-f]* new=.*livepatch_cmdline_proc_show.* \\[graft_sample_cmdline\\] path=$p" ||
    { fail S9 "functions:$f"; return; }
  [ "$(val graft_sample_cmdline/fast)" = 1 ] || { fail S9 "fast:$(val graft_sample_cmdline/fast)"; return; }
  if echo garbage > $d/fast 2>/dev/null; then fail S9 fast-garbage-accepted; return; fi
  [ "$(val graft_sample_cmdline/fast)" = 1 ] || { fail S9 "fast-after-garbage:$(val graft_sample_cmdline/fast)"; return; }
  [ "$(val graft_sample_cmdline/enabled) $(val graft_sample_cmdline/transition) $(val graft_sample_cmdline/replace) $(val graft_sample_cmdline/stack_order) $(val graft_sample_cmdline/vmlinux/patched)" = "1 0 0 1 1" ] ||
    { fail S9 values; return; }
  # never forced; no transition, so no progress (empty, not unreadable)
  [ "$(val graft_sample_cmdline/forced)" = 0 ] || { fail S9 "forced:$(val graft_sample_cmdline/forced)"; return; }
  { pr=$(cat $d/progress) && [ -z "$pr" ]; } || { fail S9 "progress-idle:$pr"; return; }
  # force outside a transition: EINVAL, and nothing changes
  if echo 1 > $d/force 2>/dev/null; then fail S9 force-accepted-idle; return; fi
  if echo garbage > $d/force 2>/dev/null; then fail S9 force-garbage-accepted; return; fi
  if echo garbage > $d/enabled 2>/dev/null; then fail S9 enabled-garbage-accepted; return; fi
  if echo 1 > $d/enabled 2>/dev/null; then fail S9 reenable-accepted; return; fi
  if echo 1 > $d/transition 2>/dev/null; then fail S9 transition-writable; return; fi
  if echo 1 > $d/forced 2>/dev/null; then fail S9 forced-writable; return; fi
  if echo "1 1" > $d/progress 2>/dev/null; then fail S9 progress-writable; return; fi
  for f in module kernel_release states vmlinux/functions vmlinux/callbacks; do
    if echo x > $d/$f 2>/dev/null; then fail S9 "$f-writable"; return; fi
  done
  set_enabled graft_sample_cmdline 0 || { fail S9 "disable:$(cat /tmp/err)"; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline/vmlinux/patched)$(val graft_sample_cmdline/forced)" = 000 ] || { fail S9 values-disabled; return; }
  f=$(cat $d/vmlinux/functions)
  case "$f" in *' path=-') ;; *) fail S9 "functions-disabled:$f"; return ;; esac
  { pr=$(cat $d/progress) && [ -z "$pr" ]; } || { fail S9 "progress-disabled:$pr"; return; }
  if echo 1 > $d/force 2>/dev/null; then fail S9 force-accepted-disabled; return; fi
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S9 "rmmod:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S9 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S9 pass
}

s9

# shellcheck shell=dash
# S2 stacking: two patches on cmdline_proc_show(); the newest wins, each
# has its stack_order; disabling the top goes back to the one below, then
# to the original; both unload.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s2() {
  local before gl rc
  needs S2 graft_sample_cmdline graft_sample_cmdline2 || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S2 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S2 "load-1:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S2 "cmdline-1:$(cat /proc/cmdline)"; return; }
  load graft_sample_cmdline2 || { fail S2 "load-2:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT2" || { fail S2 "cmdline-2:$(cat /proc/cmdline)"; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline2/enabled)" = 11 ] || { fail S2 not-both-enabled; return; }
  [ "$(val graft_sample_cmdline/stack_order)" = 1 ] || { fail S2 "stack_order-1:$(val graft_sample_cmdline/stack_order)"; return; }
  [ "$(val graft_sample_cmdline2/stack_order)" = 2 ] || { fail S2 "stack_order-2:$(val graft_sample_cmdline2/stack_order)"; return; }
  [ "$(val graft_sample_cmdline/vmlinux/patched)$(val graft_sample_cmdline2/vmlinux/patched)" = 11 ] || { fail S2 not-patched; return; }
  # graftctl (qemu-images/guest/graftctl) shows both and drives the disable
  gl=$(graftctl list 2>&1 | awk '$1 == "graft_sample_cmdline" || $1 == "graft_sample_cmdline2" { printf "%s=%s%s%s%s%s%s ", $1, $2, $3, $4, $5, $6, $7 }')
  [ "$gl" = "graft_sample_cmdline=100110 graft_sample_cmdline2=100210 " ] || { fail S2 "graftctl-list:$gl"; return; }
  graftctl status graft_sample_cmdline2 2>&1 | grep -q '^graft_sample_cmdline2: enabled=1 transition=0 replace=0 stack_order=2 patched=1 forced=0$' ||
    { fail S2 "graftctl-status:$(graftctl status graft_sample_cmdline2 2>&1)"; return; }
  # its errors: non-zero with a message
  graftctl enable graft_no_such_patch 2>/tmp/err; rc=$?
  { [ $rc = 1 ] && grep -q "no patch 'graft_no_such_patch'" /tmp/err; } || { fail S2 "graftctl-unknown:$rc:$(cat /tmp/err)"; return; }
  graftctl enable graft_sample_cmdline2 2>/tmp/err; rc=$?
  { [ $rc = 1 ] && grep -q "already enabled" /tmp/err; } || { fail S2 "graftctl-reenable:$rc:$(cat /tmp/err)"; return; }
  graftctl frobnicate 2>/tmp/err; rc=$?
  { [ $rc = 2 ] && grep -q "unknown command" /tmp/err; } || { fail S2 "graftctl-command:$rc:$(cat /tmp/err)"; return; }
  graftctl disable graft_sample_cmdline2 >/dev/null 2>/tmp/err || { fail S2 "disable-2:$(cat /tmp/err)"; return; }
  graftctl wait graft_sample_cmdline2 20 >/tmp/out 2>/tmp/err || { fail S2 "wait-2:$(cat /tmp/err)"; return; }
  grep -q '^graft_sample_cmdline2: unpatched' /tmp/out || { fail S2 "wait-2-output:$(cat /tmp/out)"; return; }
  cmdline_is "$TXT1" || { fail S2 "cmdline-after-2:$(cat /proc/cmdline)"; return; }
  [ "$(val graft_sample_cmdline2/vmlinux/patched)" = 0 ] || { fail S2 still-patched-2; return; }
  rmmod graft_sample_cmdline2 2>/tmp/err || { fail S2 "rmmod-2:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT1" || { fail S2 "cmdline-after-rmmod-2:$(cat /proc/cmdline)"; return; }
  set_enabled graft_sample_cmdline 0 || { fail S2 "disable-1:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S2 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S2 "rmmod-1:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S2 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S2 pass
}

s2

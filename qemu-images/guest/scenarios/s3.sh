# shellcheck shell=dash
# S3 atomic replace: with samples 1 and 2 enabled, a replace patch takes
# over in one transition; 1 and 2 read enabled=0 and unload; disabling the
# replace patch restores the original.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

s3() {
  local before r=graft_sample_cmdline_replace
  needs S3 graft_sample_cmdline graft_sample_cmdline2 graft_sample_cmdline_replace || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S3 "insmod-graft:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline || { fail S3 "load-1:$(cat /tmp/err)"; return; }
  load graft_sample_cmdline2 || { fail S3 "load-2:$(cat /tmp/err)"; return; }
  cmdline_is "$TXT2" || { fail S3 "cmdline-2:$(cat /proc/cmdline)"; return; }
  load $r || { fail S3 "load-replace:$(cat /tmp/err)"; return; }
  cmdline_is "$TXTR" || { fail S3 "cmdline-replace:$(cat /proc/cmdline)"; return; }
  [ "$(val $r/enabled)" = 1 ] || { fail S3 replace-not-enabled; return; }
  [ "$(val graft_sample_cmdline/enabled)$(val graft_sample_cmdline2/enabled)" = 00 ] || { fail S3 replaced-still-enabled; return; }
  [ "$(val graft_sample_cmdline/vmlinux/patched)$(val graft_sample_cmdline2/vmlinux/patched)$(val $r/vmlinux/patched)" = 001 ] || { fail S3 patched-flags; return; }
  [ "$(val $r/replace)$(val graft_sample_cmdline/replace)" = 10 ] || { fail S3 replace-attr; return; }
  rmmod graft_sample_cmdline2 2>/tmp/err || { fail S3 "rmmod-2:$(cat /tmp/err)"; return; }
  rmmod graft_sample_cmdline 2>/tmp/err || { fail S3 "rmmod-1:$(cat /tmp/err)"; return; }
  cmdline_is "$TXTR" || { fail S3 "cmdline-after-rmmod:$(cat /proc/cmdline)"; return; }
  set_enabled $r 0 || { fail S3 "disable-replace:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S3 "not-restored:$(cat /proc/cmdline)"; return; }
  rmmod $r 2>/tmp/err || { fail S3 "rmmod-replace:$(cat /tmp/err)"; return; }
  rmmod graft 2>/tmp/err || { fail S3 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S3 pass
}

s3

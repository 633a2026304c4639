# shellcheck shell=dash
# S4 module objects: graft_test_mod_patch replaces cmdline_proc_show()
# (vmlinux) and graft_test_mod_func() of the graft_test_mod module, which
# reports "version=<a call now> init=<the call from its init>" (1 original,
# 2 patched).  (a) The module loaded before the patch is patched with it;
# (b) unloaded while the patch is enabled, its object reads patched=0, and
# loaded again it is patched before its init runs; disabling unpatches it;
# (c) the patch loaded without the module defers the object (patched=0)
# and patches the module when it loads, before its init; a disable/enable
# cycle then covers it like vmlinux.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

MP=graft_test_mod_patch
TM=/proc/graft_test_mod
TXT4="this has been live patched by graft (S4)"
tm_is() { [ "$(cat $TM 2>/dev/null)" = "$1" ]; }
# the module object's callbacks logged since the last cb_mark, comma-separated
cb_mark() { CBN=$(dmesg | grep -c "$MP: callback "); }
cb_seen() { dmesg | grep "$MP: callback " | tail -n +$((CBN + 1)) | sed 's/.*callback //; s/ graft_test_mod$//' | tr '\n' ',' | sed 's/,$//'; }
s4() {
  local before
  needs S4 graft_test_mod graft_test_mod_patch graft_test_bad || return
  before=$(cat /proc/cmdline)
  insmod $KO/graft.ko 2>/tmp/err || { fail S4 "insmod-graft:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_mod.ko 2>/tmp/err || { fail S4 "insmod-mod:$(cat /tmp/err)"; return; }
  tm_is "version=1 init=1" || { fail S4 "a-before:$(cat $TM)"; return; }
  # (a) module loaded before the patch: its callbacks run with vmlinux's
  cb_mark
  load $MP || { fail S4 "a-load:$(cat /tmp/err)"; return; }
  [ "$(cb_seen)" = "pre_patch,post_patch" ] || { fail S4 "a-callbacks:$(cb_seen)"; return; }
  cmdline_is "$TXT4" || { fail S4 "a-cmdline:$(cat /proc/cmdline)"; return; }
  tm_is "version=2 init=1" || { fail S4 "a-patched:$(cat $TM)"; return; }
  [ "$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 11 ] || { fail S4 a-patched-attrs; return; }
  [ "$(stat -c %a $G/$MP/graft_test_mod/patched)" = 444 ] || { fail S4 a-mode; return; }
  # (b) unloaded while enabled, then loaded again
  cb_mark
  rmmod graft_test_mod 2>/tmp/err || { fail S4 "b-rmmod-mod:$(cat /tmp/err)"; return; }
  [ "$(cb_seen)" = "pre_unpatch,post_unpatch" ] || { fail S4 "b-going-callbacks:$(cb_seen)"; return; }
  [ "$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 10 ] || { fail S4 b-unloaded-attrs; return; }
  dmesg | grep -q "$MP: unpatched unloading module graft_test_mod" || { fail S4 b-no-unpatch-line; return; }
  cmdline_is "$TXT4" || { fail S4 "b-cmdline:$(cat /proc/cmdline)"; return; }
  cb_mark
  insmod $KO/graft_test_mod.ko 2>/tmp/err || { fail S4 "b-insmod-mod:$(cat /tmp/err)"; return; }
  tm_is "version=2 init=2" || { fail S4 "b-reloaded:$(cat $TM)"; return; }
  [ "$(cb_seen)" = "pre_patch,post_patch" ] || { fail S4 "b-coming-callbacks:$(cb_seen)"; return; }
  [ "$(val $MP/graft_test_mod/patched)" = 1 ] || { fail S4 b-reloaded-attr; return; }
  set_enabled $MP 0 || { fail S4 "b-disable:$(cat /tmp/err)"; return; }
  tm_is "version=1 init=2" || { fail S4 "b-disabled:$(cat $TM)"; return; }
  cmdline_is "$before" || { fail S4 "b-not-restored:$(cat /proc/cmdline)"; return; }
  [ "$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 00 ] || { fail S4 b-disabled-attrs; return; }
  rmmod $MP graft_test_mod 2>/tmp/err || { fail S4 "b-rmmod:$(cat /tmp/err)"; return; }
  # (c) deferred: the patch first, the module after (no callback of the
  # absent object until it loads)
  cb_mark
  load $MP || { fail S4 "c-load:$(cat /tmp/err)"; return; }
  [ -z "$(cb_seen)" ] || { fail S4 "c-deferred-callbacks:$(cb_seen)"; return; }
  cmdline_is "$TXT4" || { fail S4 "c-cmdline:$(cat /proc/cmdline)"; return; }
  [ "$(val $MP/enabled)$(val $MP/vmlinux/patched)$(val $MP/graft_test_mod/patched)" = 110 ] || { fail S4 c-deferred-attrs; return; }
  dmesg | grep -q "$MP: module graft_test_mod is not loaded" || { fail S4 c-no-deferred-line; return; }
  insmod $KO/graft_test_mod.ko 2>/tmp/err || { fail S4 "c-insmod-mod:$(cat /tmp/err)"; return; }
  tm_is "version=2 init=2" || { fail S4 "c-loaded:$(cat $TM)"; return; }
  [ "$(cb_seen)" = "pre_patch,post_patch" ] || { fail S4 "c-coming-callbacks:$(cb_seen)"; return; }
  [ "$(val $MP/graft_test_mod/patched)" = 1 ] || { fail S4 c-loaded-attr; return; }
  dmesg | grep -q "$MP: patching loading module graft_test_mod" || { fail S4 c-no-patch-line; return; }
  set_enabled $MP 0 || { fail S4 "c-disable:$(cat /tmp/err)"; return; }
  tm_is "version=1 init=2" || { fail S4 "c-disabled:$(cat $TM)"; return; }
  set_enabled $MP 1 || { fail S4 "c-enable:$(cat /tmp/err)"; return; }
  tm_is "version=2 init=2" || { fail S4 "c-reenabled:$(cat $TM)"; return; }
  # (d) a module object the patch cannot apply to: refused at
  # registration while the module is loaded; deferred while it is not,
  # and then the module is refused, as upstream's klp_module_coming()
  why=$(bad_case modsym "invalid argument" "graft_test_bad: unknown symbol graft_test_mod:graft_no_such_function") ||
    { fail S4 "d-$why"; return; }
  tm_is "version=2 init=2" || { fail S4 "d-unharmed:$(cat $TM)"; return; }
  # the module goes for good under the enabled patch; then the patch
  rmmod graft_test_mod 2>/tmp/err || { fail S4 "c-rmmod-mod:$(cat /tmp/err)"; return; }
  set_enabled $MP 0 || { fail S4 "c-disable-2:$(cat /tmp/err)"; return; }
  cmdline_is "$before" || { fail S4 "c-not-restored:$(cat /proc/cmdline)"; return; }
  rmmod $MP 2>/tmp/err || { fail S4 "rmmod:$(cat /tmp/err)"; return; }
  insmod $KO/graft_test_bad.ko mode=modsym 2>/tmp/err || { fail S4 "d-deferred:$(cat /tmp/err)"; return; }
  [ "$(val graft_test_bad/enabled)$(val graft_test_bad/graft_test_mod/patched)" = 10 ] || { fail S4 d-deferred-attrs; return; }
  if insmod $KO/graft_test_mod.ko 2>/tmp/err; then fail S4 d-module-accepted; return; fi
  grep -qi "invalid argument" /tmp/err || { fail S4 "d-module-errno:$(cat /tmp/err)"; return; }
  dmesg | grep -q "graft_test_bad: cannot patch loading module graft_test_mod (-22): refusing to load it" ||
    { fail S4 d-no-refusal-line; return; }
  { [ ! -e $TM ] && ! grep -q '^graft_test_mod ' /proc/modules; } || { fail S4 d-module-left; return; }
  set_enabled graft_test_bad 0 || { fail S4 "d-disable:$(cat /tmp/err)"; return; }
  rmmod graft_test_bad 2>/tmp/err || { fail S4 "d-rmmod:$(cat /tmp/err)"; return; }
  # and, without it, the module loads again
  { insmod $KO/graft_test_mod.ko 2>/tmp/err && tm_is "version=1 init=1"; } || { fail S4 "d-reload:$(cat /tmp/err)"; return; }
  rmmod graft_test_mod graft 2>/tmp/err || { fail S4 "rmmod:$(cat /tmp/err)"; return; }
  result S4 pass cases=4 callbacks=checked
}

s4

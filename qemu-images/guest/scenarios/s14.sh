# shellcheck shell=dash
# S14 a patch module made from a fix by upstream's klp-build (`make patch`,
# qemu-images/make-patch.sh, graft's init kmod/klp/init.c), where the image
# has one (graft's own x86_64 kernel, the one arch klp-build supports in
# 7.3: the host requires S14 there, `klp-patches yes`): tests/klp/
# proc-version-note.diff, a change to fs/proc/version.c's
# version_proc_show() that adds a line to /proc/version.  The module loads
# beside graft.ko and registers with graft (its sysfs directory, named as
# the module, enabled and replace as klp-build's default, the function in
# its functions file), graft having found the running version_proc_show
# to match the pre-image the module carries; /proc/version reads the new
# line while it is enabled and not before nor after; it disables, unloads
# and leaves nothing behind.  The same fix made with --wrong-preimage (the
# pre-image of the patched build, as a module made from a source that
# already has the fix carries) is refused by the pre-image check, naming
# the function, and changes nothing.  A patch to a module's function that
# references the module's own statics (tests/klp/module/
# shadow-mod-note.diff: .klp.rela.livepatch_shadow_mod..text, which the
# loader leaves to klp_enable_patch()) is refused by graft's init.
# shellcheck source=lib.sh
. /graft/scenarios/lib.sh

KM=livepatch-proc-version-note
KP=livepatch_proc_version_note
KLINE="graft: patched by klp-build"
KW=livepatch_wrong_preimage
KT=livepatch_module_target

s14() {
  local before n why
  [ -f "$KO/$KM.ko" ] || { result S14 skip "reason=no-klp-build-module"; return; }
  needs S14 || return
  [ -f "$KO/$KW.ko" ] || { fail S14 "no-$KW-module"; return; }
  [ -f "$KO/$KT.ko" ] || { fail S14 "no-$KT-module"; return; }
  before=$(cat /proc/version)
  n=$(echo "$before" | grep -c "^$KLINE\$")
  [ "$n" = 0 ] || { fail S14 "patched-before:$before"; return; }
  loaded graft || insmod $KO/graft.ko 2>/tmp/err || { fail S14 "insmod-graft:$(cat /tmp/err)"; return; }
  # (graft names the patch as the kernel names the module: KBUILD_MODNAME)
  insmod $KO/$KM.ko 2>/tmp/err || { fail S14 "insmod:$(cat /tmp/err)"; return; }
  [ -d $G/$KP ] || { fail S14 "no-sysfs-dir"; return; }
  { wait_for $G/$KP/transition 0 20000 && settled $KP; } || { fail S14 "transition:$(val $KP/transition)"; return; }
  [ "$(val $KP/enabled)$(val $KP/replace)" = 11 ] || { fail S14 "state:$(val $KP/enabled)$(val $KP/replace)"; return; }
  grep -q "^ *version_proc_show,[0-9]* " $G/$KP/vmlinux/functions ||
    { fail S14 "functions:$(head -c 200 $G/$KP/vmlinux/functions)"; return; }
  dmesg | grep -q "$KP: version_proc_show: the running code matches the patch's pre-image" ||
    { fail S14 "no-preimage-match-line"; return; }
  [ "$(head -n1 /proc/version)" = "$before" ] || { fail S14 "banner:$(head -n1 /proc/version)"; return; }
  [ "$(sed -n 2p /proc/version)" = "$KLINE" ] || { fail S14 "patched:$(tr '\n' '|' < /proc/version)"; return; }
  set_enabled $KP 0 || { fail S14 "disable:$(cat /tmp/err)"; return; }
  [ "$(cat /proc/version)" = "$before" ] || { fail S14 "not-restored:$(tr '\n' '|' < /proc/version)"; return; }
  rmmod $KP 2>/tmp/err || { fail S14 "rmmod:$(cat /tmp/err)"; return; }
  { [ ! -e $G/$KP ] && ! loaded $KP; } || { fail S14 left-behind; return; }
  # a pre-image that is not the running kernel's: refused, nothing changed
  why=$(refused $KW "invalid argument" \
    "$KW: version_proc_show: the running code does not match the patch's pre-image") ||
    { fail S14 "wrong-preimage:$why"; return; }
  [ "$(cat /proc/version)" = "$before" ] || { fail S14 "wrong-preimage-patched:$(tr '\n' '|' < /proc/version)"; return; }
  # relocations no one would apply: refused before anything runs
  why=$(refused $KT "invalid argument" \
    ".klp.rela.livepatch_shadow_mod..text: relocations against a module's symbols") ||
    { fail S14 "module-target:$why"; return; }
  rmmod graft 2>/tmp/err || { fail S14 "rmmod-graft:$(cat /tmp/err)"; return; }
  result S14 pass "module=$KM function=version_proc_show preimage=match wrong-preimage=refused module-target=refused"
}

s14

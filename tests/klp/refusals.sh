#!/usr/bin/env bash
# tests/klp/refusals.sh: `make patch` (qemu-images/make-patch.sh) refuses
# each fix under tests/klp/bad/ with klp-build's own message, makes no
# module and leaves klp-build's tree as it was.  Run by ci/run-qemu.sh
# once it has made the x86_64 image's patch modules (the first of them
# makes klp-build's tree); GRAFT_KO names the graft.ko just built.
#   does-not-apply  a hunk whose context is not in the source
#   lib             a change to lib/ (klp-build cannot patch it: lib/ is
#                   linked into modules and early code too)
#   asm             a change to a .S file (no function sections, no klp diff)
#   data-only       a changed initial value (a live patch replaces code;
#                   data already in memory stays)
#   no-change       a comment: the build changes no function
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/lib.sh

expect() { # diff message
  case "$1" in
    does-not-apply) echo "did not apply" ;;
    lib) echo "unsupported patch to lib/string.c" ;;
    asm) echo "unsupported patch to arch/x86/lib/memset_64.S" ;;
    data-only) echo "changed data: oops_limit" ;;
    no-change) echo "no changes detected" ;;
    *) die "tests/klp/bad/$1.diff: no expected refusal" ;;
  esac
}

kdir=$(qemu-images/build-kernel.sh x86_64)
tree="$GRAFT_CACHE/klp/$(basename "$kdir")/linux"
[ -f "$tree/.graft-klp-ready" ] || die "refusals: no klp-build tree for $(basename "$kdir") yet: make a patch first"
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
n=0
for fix in tests/klp/bad/*.diff; do
  name=$(basename "$fix" .diff)
  want=$(expect "$name")
  files=$(sed -n 's|^+++ b/||p' "$fix")
  # shellcheck disable=SC2086 # $files: the paths the fix touches, one word each
  before=$(cd "$tree" && cat $files 2>/dev/null | sha256sum)
  if qemu-images/make-patch.sh -o "$out/$name.ko" "$fix" > "$out/log" 2>&1; then
    die "refusals: $name: make patch accepted it"
  fi
  grep -qF "$want" "$out/log" || { tail -n 5 "$out/log" >&2; die "refusals: $name: no '$want'"; }
  [ ! -e "$out/$name.ko" ] || die "refusals: $name: a module was made"
  # shellcheck disable=SC2086
  [ "$(cd "$tree" && cat $files 2>/dev/null | sha256sum)" = "$before" ] || die "refusals: $name: the tree was left changed"
  log "refusals: $name: refused: $want"
  n=$((n + 1))
done
[ "$n" -gt 0 ] || die "refusals: no fixes under tests/klp/bad"
log "refusals: $n bad fixes refused"

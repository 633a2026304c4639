#!/usr/bin/env bash
# Build Linux 7.3 for one arch into the cache (tinyconfig + graft's fragments),
# with Rust and livepatch.  Does nothing when a build with the same key exists.
# GRAFT_KERNEL_VARIANT=<v> adds qemu-images/config/<arch>-<v>.config
# (ci/lib.sh kernel_fragments) and builds into its own folder.
#
#   qemu-images/build-kernel.sh ARCH          build if needed, print the build dir
#   qemu-images/build-kernel.sh --dir ARCH    print the build dir only
#
# The build dir is a kernel O= tree (usable as KDIR for out-of-tree modules)
# holding the boot image, and modules installed under ./staging.
set -euo pipefail
# shellcheck source=../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

only_dir=0
[ "${1:-}" = "--dir" ] && { only_dir=1; shift; }
arch=$(guest_arch "${1:?usage: build-kernel.sh [--dir] ARCH}")

src_pristine=$(kernel_src)
ver=$(basename "$src_pristine" | sed 's/^linux-//')
out=$(kernel_dir "$arch")
[ "$only_dir" = 1 ] && { echo "$out"; exit 0; }
[ -f "$out/.graft-built" ] && { echo "$out"; exit 0; }

# One patched source tree serves the arches that share a patch set
# (qemu-images/patches/ only touches bindgen's view of powerpc headers; an
# arch with patches of its own, ci/lib.sh kernel_patches, gets its own
# tree).  Keyed by the patch set.
mapfile -t patches < <(kernel_patches "$arch")
phash=$(cat "${patches[@]}" | sha256sum | cut -c1-8)
src="$GRAFT_CACHE/src/linux-$ver-graft-$phash"
if [ ! -f "$src/.graft-patched" ]; then
  log "preparing patched source $src"
  rm -rf "$src"; cp -a "$src_pristine" "$src"
  for p in "${patches[@]}"; do patch -s -p1 -d "$src" < "$p"; done
  touch "$src/.graft-patched"
fi

# shellcheck disable=SC2046,SC2207  # the make variables, split on purpose
mk=(make -s -C "$src" O="$out" $(kernel_make_vars "$arch") LIBCLANG_PATH=/usr/lib/llvm-19/lib)
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
mkdir -p "$out"
logf="$out/build.log"
log "kernel $ver for $arch -> $out (log: $logf)"
start=$(date +%s)
{
  "${mk[@]}" tinyconfig
  # shellcheck disable=SC2046  # the fragments' paths: no blanks
  KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
    $(kernel_fragments "$arch")
  "${mk[@]}" olddefconfig
} >"$logf" 2>&1 || { tail -n 30 "$logf" >&2; die "configuring $arch failed"; }

# Every requested symbol must have survived olddefconfig: a silently dropped
# CONFIG_RUST or CONFIG_LIVEPATCH would otherwise show up only at boot.  As in
# merge_config.sh, the arch's fragment overrides a common line for the same
# symbol (riscv turns CONFIG_LIVEPATCH off): the last line for a symbol counts.
bad=0
declare -A want=()
order=()
while read -r line; do
  case "$line" in
    CONFIG_*=*) sym=${line%%=*} ;;
    "# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
    *) continue ;;
  esac
  [ -n "${want[$sym]+set}" ] || order+=("$sym")
  want[$sym]=$line
done < <(kernel_fragments "$arch" | xargs cat)
for sym in "${order[@]}"; do
  line=${want[$sym]}
  case "$line" in
    CONFIG_*=*) grep -qxF "$line" "$out/.config" || { echo "  missing: $line" >&2; bad=1; } ;;
    *) grep -q "^$sym=" "$out/.config" && { echo "  still set: $sym" >&2; bad=1; } ;;
  esac
done
[ "$bad" = 0 ] || die "config for $arch lost requested symbols (see above)"

( "${mk[@]}" -j"$(nproc)" all && rm -rf "$out/staging" &&
  "${mk[@]}" INSTALL_MOD_PATH="$out/staging" INSTALL_MOD_STRIP=1 modules_install ) >>"$logf" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep 30
  kill -0 "$pid" 2>/dev/null && log "  $arch: building ($(( $(date +%s) - start ))s, $(find "$out" -name '*.o' -newer "$out/.config" 2>/dev/null | wc -l) objects)"
done
wait "$pid" || { tail -n 40 "$logf" >&2; die "building $arch failed (log: $logf)"; }
echo "$(( $(date +%s) - start ))" > "$out/build-seconds"
touch "$out/.graft-built"
log "kernel for $arch built in $(cat "$out/build-seconds")s"
echo "$out"

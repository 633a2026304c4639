#!/usr/bin/env bash
# make-patch.sh FIX.diff [--no-replace] [-o OUT.ko]: a graft patch module from
# a fix to graft's x86_64 kernel, with upstream's klp-build
# (scripts/livepatch/klp-build; `make patch FIX=...`).
# --wrong-preimage (for tests): the pre-images come from the patched build
# instead of the original, as a module made from a source that already
# has the fix would carry them; graft.ko must refuse it.
#
# klp-build rebuilds the tree it runs in (make clean, then the original
# and the patched kernel with -ffunction-sections), so it gets a copy of
# the kernel source of its own, configured as the kernel graft's x86_64
# guest boots (the same .config, the same GCC) and cached beside it:
#   $GRAFT_CACHE/klp/x86_64-<kernel key>/linux
# Its scripts/livepatch/init.c is graft's (kmod/klp/init.c: the module
# registers with graft instead of livepatch), include/linux/graft.h graft's
# ABI header.  The first patch costs the original build (about 3 minutes
# here); later ones reuse it (klp-build -S patched) and take seconds.
#
# Each function's pre-image (graft.h struct graft_preimage) comes from
# klp-build's original build: once klp-build has diffed the objects,
# graft-inspect preimage reads the original object of each changed one
# (klp-tmp/1-orig, and the linked vmlinux there, which checks the masks)
# and the functions the patch objects name (klp-tmp/4-diff); the table
# goes into init.c and klp-build builds the module again from its diff
# (-S kmod).
# Prints the path of the module (default: $GRAFT_CACHE/klp/out/livepatch-<fix>.ko).
set -euo pipefail
. "$(dirname "$0")/../ci/lib.sh"

usage() { die "usage: make-patch.sh FIX.diff [--no-replace] [--wrong-preimage] [-o OUT.ko]"; }
fix="" out="" opts=() from=1-orig
while [ $# -gt 0 ]; do
  case "$1" in
    --no-replace) opts+=(--no-replace) ;;
    --wrong-preimage) from=2-patched ;;
    -o) [ $# -ge 2 ] || usage; out=$2; shift ;;
    -*) usage ;;
    *) [ -z "$fix" ] || usage; fix=$1 ;;
  esac
  shift
done
[ -n "$fix" ] || usage
[ -f "$fix" ] || die "no such fix: $fix"
fix=$(realpath "$fix")
name=$(basename "$fix"); name=livepatch-${name%.*}
name=$(echo "$name" | tr -c 'a-zA-Z0-9_\n-' '-' | cut -c1-55)
[ -n "$out" ] || out="$GRAFT_CACHE/klp/out/$name.ko"
mkdir -p "$(dirname "$out")"
out=$(realpath -m "$out")

# What klp-build needs beyond a kernel build (ci/setup.sh installs them).
for t in recountdiff gawk; do command -v "$t" >/dev/null || die "$t missing: run ci/setup.sh"; done
[ -f /usr/include/xxhash.h ] || die "libxxhash-dev missing (objtool's klp subcommands): run ci/setup.sh"

kdir=$(qemu-images/build-kernel.sh x86_64)
tree="$GRAFT_CACHE/klp/$(basename "$kdir")/linux"
if [ ! -f "$tree/.graft-klp-ready" ]; then
  # the patched source the kernel was built from (its O= tree's Makefile
  # includes it)
  src=$(sed -n 's|^include \(.*\)/Makefile$|\1|p' "$kdir/Makefile")
  [ -d "$src" ] || die "no kernel source behind $kdir"
  log "klp-build tree: copying $src to $tree"
  rm -rf "$tree"; mkdir -p "$(dirname "$tree")"
  cp -a "$src" "$tree"
  rm -f "$tree/.graft-patched"
  cp "$kdir/.config" "$tree/.config"
  touch "$tree/.graft-klp-ready"
fi
# graft's ABI header, every time (it may have changed).
cp "$GRAFT_TOP/kmod/graft.h" "$tree/include/linux/graft.h"
# graft's init, every time, with the pre-images in FILE (a C table).
put_init() { # FILE
  sed -e "/@GRAFT_KLP_PREIMAGES@/r $1" -e "/@GRAFT_KLP_PREIMAGES@/d" \
    "$GRAFT_TOP/kmod/klp/init.c" > "$tree/scripts/livepatch/init.c"
}

# graft-inspect, which makes the pre-images
inspect=$(graft_inspect_bin)
# graft.ko's exports (graft_register_patch) for modpost: the build's
# (GRAFT_KO, when the caller has just made it: ci/run-qemu.sh), else made here.
ko=${GRAFT_KO:-$(make -s -C "$GRAFT_TOP" ARCH=x86_64 kmod | tail -n1)}
[ -f "$(dirname "$ko")/Module.symvers" ] || die "no Module.symvers beside $ko"

# klp-build calls plain make: the toolchain comes from the environment.
export RUSTUP_TOOLCHAIN=$RUST_VERSION LIBCLANG_PATH=/usr/lib/llvm-19/lib PATH="$HOME/.cargo/bin:$PATH"
export KBUILD_EXTRA_SYMBOLS
KBUILD_EXTRA_SYMBOLS="$(dirname "$ko")/Module.symvers"
short=()
[ -f "$tree/klp-tmp/1-orig/.complete" ] && short=(-S patched)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
klp() { (cd "$tree" && ./scripts/livepatch/klp-build -j"$(nproc)" --keep-tmp "$@" "${opts[@]}" "$fix") >&2; }
start=$(date +%s)
log "klp-build $(basename "$fix") -> $out${short[*]:+ (original build reused)}"
# 1. the diff (and a module without pre-images, which is dropped)
echo 'static const struct graft_klp_preimage graft_klp_preimages[] = { };' > "$tmp/none.h"
put_init "$tmp/none.h"
klp "${short[@]}" -o "$tmp/$(basename "$out")"
# 2. the pre-images of what it replaces, from the original build
k=$tree/klp-tmp args=()
while read -r rel; do
  args+=(--orig "$k/$from/$rel")
  [ "$rel" = vmlinux.o ] && [ -f "$k/$from/vmlinux" ] && args+=(--linked "$k/$from/vmlinux")
  args+=(--patch "$k/4-diff/$rel")
done < <(cd "$k/4-diff" && find . -name '*.o' | sed 's|^\./||' | sort)
[ ${#args[@]} -gt 0 ] || die "klp-build left no patch objects in $k/4-diff"
"$inspect" preimage "${args[@]}" > "$tmp/preimages.h" || die "no pre-images for $(basename "$fix")"
# 3. the module, with them
put_init "$tmp/preimages.h"
klp -S kmod -o "$out"
log "klp-build took $(($(date +%s) - start))s"
echo "$out"

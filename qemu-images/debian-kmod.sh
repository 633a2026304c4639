#!/usr/bin/env bash
# Build graft.ko, its patch and scenario modules, and the kernel samples the
# guest checks load (rust_minimal; livepatch-sample where the kernel has
# livepatch) against Debian's stock 7.3 kernel for ARCH (x86_64 or arm64),
# in the trixie root of qemu-images/debian-root.sh, with Debian's gcc-14 and
# rustc 1.85.1.  Prints the path of graft.ko; the samples are in
# <its folder>/kernel-samples.
#
#   qemu-images/debian-kmod.sh ARCH [make variables...]
#
# `make kmod KERNEL=debian-7.3 ARCH=...` runs this (KRUSTFLAGS and KCFLAGS
# pass through; CLIPPY does not: the root has no clippy).  Cold (root,
# regenerated rust/, builds): about 3 minutes per arch; warm: seconds.
set -euo pipefail
# shellcheck source=../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

arch=$(norm_arch "${1:?usage: debian-kmod.sh ARCH [make variables...]}")
shift
read -r _ headers < <("$GRAFT_TOP/qemu-images/debian-root.sh" "$arch")
name=$(basename "$headers"); name=${name#linux-headers-}
mo=$(kmod_out "debian-$name" "$GRAFT_TOP/kmod")
samples="$mo/kernel-samples"
mkdir -p "$samples"
# (paths joined on one line: they become words of the command in the root)
# shellcheck disable=SC2086  # the list, split on purpose
crates=$(kmod_crate_vars $KMOD_CRATES | tr '\n' ' ')
# A person's make variables, quoted for the root's shell.
extra=$(printf '%q ' "$@")
# The kernel's own samples, from the same source the rust/ outputs came
# from (the root's /src): Kbuild files of one line each; livepatch-sample
# where the kernel has livepatch (kernel_livepatch, as the matrix decides).
lp=$(kernel_livepatch "debian-$(arch_info "$arch" deb)")
"$GRAFT_TOP/qemu-images/debian-root.sh" --run "$arch" "set -e
  make -s -C $headers M=$GRAFT_TOP/kmod MO=$mo $crates $extra -j$(nproc) modules
  cd $samples; rm -rf src; mkdir -p src/rust src/lp
  cp /src/samples/rust/rust_minimal.rs src/rust/; echo 'obj-m := rust_minimal.o' > src/rust/Kbuild
  make -s -C $headers M=\$PWD/src/rust -j$(nproc) modules; cp src/rust/rust_minimal.ko .
  if [ '$lp' = yes ]; then
    cp /src/samples/livepatch/livepatch-sample.c src/lp/; echo 'obj-m := livepatch-sample.o' > src/lp/Kbuild
    make -s -C $headers M=\$PWD/src/lp -j$(nproc) modules; cp src/lp/livepatch-sample.ko .
  fi"
[ -f "$mo/graft.ko" ] || die "the build left no graft.ko in $mo"
echo "$mo/graft.ko"

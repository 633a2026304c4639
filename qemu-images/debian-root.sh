#!/usr/bin/env bash
# A Debian 13 (trixie) build root in the cache, for building graft.ko and its
# modules against Debian's stock 7.3 kernels with Debian's own toolchain.
#
#   qemu-images/debian-root.sh ARCH            prepare; print "ROOT HEADERS"
#   qemu-images/debian-root.sh --run ARCH CMD  run CMD (bash) in the root
#
# Why a root: Debian's gcc-14, rustc 1.85.1 and its kbuild binaries need glibc
# 2.38 or later, newer than Debian 12's.  Why regenerate: Debian's
# linux-headers-<abi>-<flavour> ships none of the build outputs an
# out-of-tree Rust module reads (rust/*.rmeta, the proc-macro libraries,
# rust/kernel/generated_arch_*.rs, scripts/target.json).  They are rebuilt
# from the same linux-source-7.3 the other kernels use, with the headers'
# exact .config and Debian's exact rustc (crate hashes depend on the crate
# name and the rustc version string), by `make modules_prepare` in an O=
# tree, and copied into the headers tree ("overlay"); `make -C <headers>
# M=...` then builds Rust modules for the stock kernel.
#
# Keys: the root by this recipe, the package list and the stock kernel's
# package version; each flavour's regenerated outputs by the headers'
# .config and the root's rustc, bindgen and gcc (a stamp in the headers
# tree).  Needs root (chroot, mounts in a private mount namespace that
# vanishes with the command) and debootstrap (ci/setup.sh installs it).
# The mirror comes from this machine's own apt configuration.
set -euo pipefail
# shellcheck source=../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

run=0
[ "${1:-}" = --run ] && { run=1; shift; }
arch=$(norm_arch "${1:?usage: debian-root.sh [--run] ARCH [CMD]}")
case "$arch" in x86_64|arm64) ;; *) die "Debian builds its kernel with Rust for amd64 and arm64 only, not $arch" ;; esac
[ "$(id -u)" = 0 ] ||
  die "the trixie build root needs root (debootstrap, chroot and mounts in a private namespace): run this (or make kmod KERNEL=debian-7.3, make test) as root"
flavour=$(arch_info "$arch" deb)
name="$DEBIAN_KERNEL_ABI-$flavour"

# The stock kernel: its package version pins every kernel package below.
kdeb=$("$GRAFT_TOP/qemu-images/fetch-debian-kernel.sh" "$arch")
pkgver=$(cat "$kdeb/version")

# Bump when the recipe below changes the root's contents.
ROOT_RECIPE=1
PKGS=(make gcc-14 libc6-dev bc bison flex libelf-dev libssl-dev openssl dwarves kmod cpio python3
  xz-utils file rustc rust-src bindgen libclang-dev
  gcc-14-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-14-arm-linux-gnueabihf binutils-arm-linux-gnueabihf
  "linux-headers-$DEBIAN_KERNEL_ABI-amd64=$pkgver" "linux-headers-$DEBIAN_KERNEL_ABI-arm64:arm64=$pkgver")
key=$( { echo "$ROOT_RECIPE"; printf '%s\n' "${PKGS[@]}"; } | sha256sum | cut -c1-12)
ROOT="$GRAFT_CACHE/debian/root-trixie-$key"
headers="/usr/src/linux-headers-$name"
src=$(kernel_src)

# in_root CMD: run CMD with bash in the root, with /proc, /sys, /dev, the
# pristine kernel source (read-only, at /src), the repository, cargo's
# registry sources and graft's module output folders at their own paths.
# The mounts live in a private mount namespace: nothing is left mounted.
in_root() {
  local cmd=$1 d binds=""
  for d in "$GRAFT_TOP" "${CARGO_HOME:-$HOME/.cargo}/registry" "$GRAFT_CACHE/kmod"; do
    [ -d "$d" ] || mkdir -p "$d"
    binds+="mkdir -p '$ROOT$d' && mount --bind '$d' '$ROOT$d' && "
  done
  unshare -m --propagation private -- bash -c "set -e
    mount -t proc proc '$ROOT/proc'; mount --rbind /sys '$ROOT/sys'; mount --rbind /dev '$ROOT/dev'
    mkdir -p '$ROOT/src'; mount --bind -o ro '$src' '$ROOT/src'
    $binds true
    exec chroot '$ROOT' /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive bash -c \"\$0\"" "$cmd"
}

make_root() {
  [ -f "$ROOT/.graft-root" ] && return 0
  command -v debootstrap >/dev/null || die "debootstrap is missing (ci/setup.sh installs it)"
  local mirror tmp="$ROOT.tmp" t0=$SECONDS
  mirror=$(apt_mirror)
  [ -n "$mirror" ] || die "no bookworm apt source found to derive a mirror from"
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "debootstrap trixie -> $ROOT (log: $ROOT.log)"
  debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    trixie "$tmp" "$mirror" >"$ROOT.log" 2>&1 || { tail -n 20 "$ROOT.log" >&2; die "debootstrap failed"; }
  rm -f "$tmp/etc/apt/sources.list"
  printf 'Types: deb\nURIs: %s\nSuites: trixie trixie-updates trixie-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" > "$tmp/etc/apt/sources.list.d/debian.sources"
  cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
  ROOT=$tmp in_root "dpkg --add-architecture arm64 && apt-get update -q && \
    apt-get install -y -q --no-install-recommends ${PKGS[*]}" >>"$ROOT.log" 2>&1 ||
    { tail -n 20 "$ROOT.log" >&2; die "installing the trixie build packages failed (log: $ROOT.log)"; }
  ROOT=$tmp in_root 'apt-get clean'
  rm -rf "$ROOT"; mv "$tmp" "$ROOT"
  touch "$ROOT/.graft-root"
  log "trixie root ready in $((SECONDS - t0))s"
}

# The make(1) variables of Debian's build of the flavour (its
# .kernelvariables), for the O= tree of linux-source.
flavour_vars() {
  case "$flavour" in
    amd64) echo "ARCH=x86 CC=x86_64-linux-gnu-gcc-14 KERNELRELEASE=$name" ;;
    arm64) echo "ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc-14 CROSS_COMPILE_COMPAT=arm-linux-gnueabihf- CC_COMPAT=arm-linux-gnueabihf-gcc-14 KERNELRELEASE=$name" ;;
  esac
}

# Regenerate rust/ and scripts/target.json for the flavour and overlay them.
overlay() {
  local stamp want o="/build/$name" t0=$SECONDS
  want=$(in_root "cat $headers/.config; rustc -V; bindgen --version; gcc-14 --version | head -n1" | sha256sum | cut -c1-12)
  stamp=$(cat "$ROOT$headers/.graft-overlay" 2>/dev/null || true)
  [ "$stamp" = "$want" ] && return 0
  log "regenerating rust/ for $name (modules_prepare; log: $ROOT$o.log)"
  mkdir -p "$ROOT/build"
  in_root "set -e; rm -rf $o; mkdir -p $o; cp $headers/.config $o/.config
    make -s -C /src O=$o $(flavour_vars) olddefconfig
    cmp -s $headers/.config $o/.config || { echo 'the headers .config does not survive olddefconfig' >&2; exit 1; }
    make -C /src O=$o $(flavour_vars) -j$(nproc) modules_prepare" >"$ROOT$o.log" 2>&1 ||
    { tail -n 30 "$ROOT$o.log" >&2; die "modules_prepare for $name failed (log: $ROOT$o.log)"; }
  # Every Rust symbol the regenerated rust/ exports must be one Debian's
  # kernel exports (Module.symvers): else the rustc or the config differ.
  local missing
  missing=$(in_root "cd $o/rust && cat exports_*_generated.h | sed -n 's/^EXPORT_SYMBOL_RUST_GPL(\(.*\));\$/\1/p' | sort -u > /tmp/ours
    awk '{print \$2}' $headers/Module.symvers | sort -u > /tmp/deb
    echo \$(wc -l < /tmp/ours) \$(comm -23 /tmp/ours /tmp/deb | wc -l)")
  log "  rust/ exports ${missing% *} symbols, ${missing#* } of them not in Debian's Module.symvers"
  [ "${missing#* }" = 0 ] || die "the regenerated rust/ for $name does not match Debian's kernel"
  in_root "set -e; mkdir -p $headers/rust/kernel
    cp $o/rust/*.rmeta $o/rust/*.so $headers/rust/
    cp $o/rust/kernel/generated_arch_*.rs $headers/rust/kernel/
    if [ -f $o/scripts/target.json ]; then cp $o/scripts/target.json \$(readlink -f $headers/scripts)/target.json; fi
    rm -rf $o"
  echo "$want" > "$ROOT$headers/.graft-overlay"
  log "rust/ for $name regenerated in $((SECONDS - t0))s"
}

if [ "$run" = 1 ]; then
  [ -f "$ROOT/.graft-root" ] || die "no trixie root yet: run qemu-images/debian-root.sh $arch first"
  in_root "${2:?CMD}"
  exit
fi
make_root
overlay
echo "$ROOT $headers"

#!/usr/bin/env bash
# Build the initramfs for one arch: Debian's busybox-static for that arch, the
# kernel's modules, graft's modules and the guest scripts.  Prints its path.
#
#   qemu-images/build-initramfs.sh ARCH KDIR [extra .ko ...]
set -euo pipefail
# shellcheck source=../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

arch=$(norm_arch "${1:?usage: build-initramfs.sh ARCH KDIR [ko ...]}")
kdir=${2:?KDIR}
shift 2
deb_arch=$(arch_info "$arch" deb)

# busybox-static of the foreign arch: downloaded with a private apt state,
# unpacked (from bookworm, or trixie for riscv64, which bookworm lacks:
# arch_info's suite).
bb_dir="$GRAFT_CACHE/busybox/$deb_arch"
suite=$(arch_info "$arch" suite)
if [ ! -x "$bb_dir/bin/busybox" ]; then
  log "fetching busybox-static:$deb_arch ($suite)"
  mkdir -p "$bb_dir"
  st="$GRAFT_CACHE/busybox/apt-$deb_arch"
  private_apt "$suite" "$st" -o APT::Architecture="$deb_arch" -o APT::Architectures="$deb_arch" update >/dev/null
  (cd "$bb_dir" && private_apt "$suite" "$st" -o APT::Architecture="$deb_arch" -o APT::Architectures="$deb_arch" \
    download "busybox-static:$deb_arch" >/dev/null)
  dpkg -x "$bb_dir"/busybox-static_*.deb "$bb_dir/root"
  # (/bin in bookworm's package, /usr/bin in trixie's)
  mkdir -p "$bb_dir/bin"
  for f in root/bin/busybox root/usr/bin/busybox; do
    [ -x "$bb_dir/$f" ] && { cp "$bb_dir/$f" "$bb_dir/bin/busybox"; break; }
  done
  [ -x "$bb_dir/bin/busybox" ] || die "no busybox in busybox-static:$deb_arch ($suite)"
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules,graft/ko,root}
cp "$bb_dir/bin/busybox" "$root/bin/busybox"
# (with scenarios/: one file per scenario and their lib.sh)
cp -r "$GRAFT_TOP"/qemu-images/guest/* "$root/graft/"
mv "$root/graft/init" "$root/init"
chmod +x "$root/init" "$root"/graft/*.sh "$root"/graft/scenarios/*.sh "$root/graft/graftctl"
ln -s /graft/graftctl "$root/bin/graftctl"  # on PATH
# The kernel's own modules (samples), flattened: the guest loads them by
# path.  (A Debian target's KDIR is its module build folder, without
# staging/: its kernel samples come as extra .ko.)
if [ -d "$kdir/staging/lib/modules" ]; then
  find "$kdir/staging/lib/modules" -name '*.ko' -exec cp {} "$root/graft/ko/" \;
fi
for ko in "$@"; do cp "$ko" "$root/graft/ko/"; done
echo "$arch" > "$root/graft/arch"

# The guest's tools (ci/lib.sh guest_tool), static for this arch: the
# checks do not need graft-bench, so a failed build only leaves bench mode
# without it (bench.sh then reports an error marker); S15 needs
# graft-listmount and says so when it is missing.
for t in graft-bench graft-listmount; do
  if bin=$(guest_tool "$t" "$arch"); then
    cp "$bin" "$root/bin/$t"
  else
    log "warning: $t not built for $arch: the image has none"
  fi
done

# One image per kernel and checkout, so two checkouts never overwrite each
# other's image while a guest boots from it.
out="$GRAFT_CACHE/images/$arch-$(basename "$kdir")-$(echo "$GRAFT_TOP" | sha256sum | cut -c1-8).cpio.gz"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > "$out.tmp")
mv "$out.tmp" "$out"
echo "$out"

#!/usr/bin/env bash
# Fetch Debian's stock 7.3 kernel image for ARCH (default x86_64) from
# trixie-backports into the cache, unpack it and extract the vmlinux inside
# its vmlinuz with the kernel's own scripts/extract-vmlinux, without
# installing anything and without adding newer suites to the system's apt
# sources (the private apt state of fetch-source.sh).  Prints the folder:
#
#   <folder>/usr/lib/modules/<abi>-<flavour>/vmlinuz, config, System.map
#   <folder>/vmlinux        the ELF inside the vmlinuz (no symbol table, and
#                           System.map is a stub: Debian keeps both in
#                           linux-image-<abi>-<flavour>-dbg, 1.2 GB); on arm64
#                           the vmlinuz itself, an uncompressed arm64 Image
#                           (raw bytes, no ELF), which extract-vmlinux copies
#   <folder>/version        the package version, e.g. 7.3.4-1~bpo13+1
#
# Packages: linux-binary-<abi>-<flavour> (the vmlinuz; in 7.3 the image
# package is split) and linux-base-<abi>-<flavour> (config, System.map).
set -euo pipefail
# shellcheck source=../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

arch=$(norm_arch "${1:-x86_64}")
flavour=$(arch_info "$arch" deb)
name="$DEBIAN_KERNEL_ABI-$flavour"
apt_dir="$GRAFT_CACHE/src/apt-$flavour"
top="$GRAFT_CACHE/debian"
mkdir -p "$top/debs"

fetch() { # package: download the newest version the suite has, once
  local pkg=$1
  if ! ls "$top/debs/${pkg}_"*"_$flavour.deb" >/dev/null 2>&1; then
    log "downloading $pkg (trixie-backports)"
    private_apt trixie-backports "$apt_dir" -o APT::Architecture="$flavour" \
      -o APT::Architectures="$flavour" update >/dev/null
    (cd "$top/debs" && private_apt trixie-backports "$apt_dir" -o APT::Architecture="$flavour" \
      -o APT::Architectures="$flavour" download "$pkg:$flavour" >/dev/null)
  fi
  # shellcheck disable=SC2012  # Debian package file names: no blanks
  ls "$top/debs/${pkg}_"*"_$flavour.deb" | sort -V | tail -n1
}

bin_deb=$(fetch "linux-binary-$name")
base_deb=$(fetch "linux-base-$name")
ver=$(basename "$bin_deb" | sed -E 's/^[^_]+_([^_]+)_.*/\1/')
out="$top/$name-$ver"
if [ ! -s "$out/vmlinux" ]; then
  src=$(kernel_src)
  tmp="$out.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  dpkg -x "$bin_deb" "$tmp"
  dpkg -x "$base_deb" "$tmp"
  vmlinuz="$tmp/usr/lib/modules/$name/vmlinuz"
  [ -s "$vmlinuz" ] || die "$(basename "$bin_deb") holds no usr/lib/modules/$name/vmlinuz"
  log "extracting vmlinux from $name's vmlinuz (scripts/extract-vmlinux)"
  sh "$src/scripts/extract-vmlinux" "$vmlinuz" >"$tmp/vmlinux" ||
    die "scripts/extract-vmlinux found no vmlinux in $name's vmlinuz"
  echo "$ver" >"$tmp/version"
  rm -rf "$out"; mv "$tmp" "$out"
  trap - EXIT
fi
echo "$out"

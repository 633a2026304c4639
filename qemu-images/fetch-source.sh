#!/usr/bin/env bash
# Fetch Debian's linux-source-7.3 (trixie-backports) into the cache and unpack it,
# without installing the package and without adding newer suites to the system's
# apt sources.  Prints the path of the pristine source tree.
set -euo pipefail
# shellcheck source=../ci/lib.sh
. "$(dirname "$0")/../ci/lib.sh"

dir="$GRAFT_CACHE/src"
mkdir -p "$dir"
if ! ls "$dir"/linux-source-"$KERNEL_SERIES"_*.deb >/dev/null 2>&1; then
  log "downloading linux-source-$KERNEL_SERIES (trixie-backports)"
  private_apt trixie-backports "$dir/apt" update >/dev/null
  (cd "$dir" && private_apt trixie-backports "$dir/apt" download "linux-source-$KERNEL_SERIES" >/dev/null)
fi
# shellcheck disable=SC2012  # Debian package file names: no blanks
deb=$(ls "$dir"/linux-source-"$KERNEL_SERIES"_*.deb | sort -V | tail -n1)
ver=$(basename "$deb" | sed -E 's/^linux-source-[0-9.]+_([^_]+)_.*/\1/')
tree="$dir/linux-$ver"
if [ ! -f "$tree/Makefile" ]; then
  log "unpacking $(basename "$deb")"
  tmp="$dir/tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  dpkg -x "$deb" "$tmp"
  tar -C "$tmp" -xf "$tmp"/usr/src/linux-source-"$KERNEL_SERIES".tar.xz
  rm -rf "$tree"; mv "$tmp/linux-source-$KERNEL_SERIES" "$tree"; rm -rf "$tmp"
fi
echo "$tree"

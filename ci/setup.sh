#!/usr/bin/env bash
# Install everything graft needs on a fresh Debian 12 (bookworm) x86_64 machine.
#
# Idempotent: each step checks first and does nothing when its tools are present,
# so `make test` can call it on every run.  Packages come only from the machine's
# own package clients: apt (bookworm, and bookworm-backports derived from the
# machine's own apt sources), rustup and cargo.
#
# Usage: ci/setup.sh [--quiet] [--apt-only]
#
# --apt-only installs the apt packages alone, for an image whose Rust comes
# from elsewhere (ci/cross.Dockerfile: cross mounts the host's toolchain).
set -euo pipefail

QUIET=0 APT_ONLY=0
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --apt-only) APT_ONLY=1 ;;
    *) echo "usage: ci/setup.sh [--quiet] [--apt-only]" >&2; exit 2 ;;
  esac
done
say() { [ "$QUIET" = 1 ] || echo "setup: $*"; }

RUST_VERSION=1.96.0
# graft.ko's workspace crates' MSRV (Debian 13's kernel rustc): `make msrv`.
RUST_MSRV=1.85.1
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# --- apt -------------------------------------------------------------------

APT_PKGS=(
  make gcc libc6-dev bc bison flex libelf-dev libssl-dev cpio xz-utils zstd gzip bzip2 kmod python3 rsync patch perl
  shellcheck
  # the trixie build root for Debian's stock kernels (qemu-images/debian-root.sh)
  debootstrap
  clang-19 lld-19 llvm-19 libclang-19-dev
  # upstream's klp-build (make patch): objtool's klp subcommands, recountdiff, gawk
  libxxhash-dev patchutils gawk
  binutils binutils-aarch64-linux-gnu binutils-powerpc64le-linux-gnu binutils-s390x-linux-gnu
  binutils-riscv64-linux-gnu
  gcc-aarch64-linux-gnu gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu gcc-riscv64-linux-gnu
  libc6-dev-arm64-cross libc6-dev-ppc64el-cross libc6-dev-s390x-cross libc6-dev-riscv64-cross
)
BPO_PKGS=(
  qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-misc qemu-system-s390x
  qemu-user-static
  # the riscv64 guest's firmware (ci/run-qemu.sh -bios), which QEMU 10's
  # qemu-system-riscv depends on at this version
  opensbi
)

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# bookworm-backports, with the same URI and keyring as the machine's own entry.
ensure_backports() {
  local f=/etc/apt/sources.list.d/graft-bookworm-backports.sources
  [ -f "$f" ] && return 0
  local src uri key
  src=$(grep -l -E '^Suites:.*\bbookworm\b' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
  if [ -n "$src" ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
    key=$(awk '/^Signed-By:/ {print $2; exit}' "$src")
  else
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
    key=/usr/share/keyrings/debian-archive-keyring.gpg
  fi
  [ -n "$uri" ] || { echo "setup: cannot find a bookworm apt source to derive backports from" >&2; exit 1; }
  say "adding bookworm-backports from $uri"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
    "$uri" "${key:-/usr/share/keyrings/debian-archive-keyring.gpg}" | $SUDO tee "$f" >/dev/null
  $SUDO apt-get update -qq
}

apt_install() {
  local miss bmiss
  mapfile -t miss < <(missing_pkgs "${APT_PKGS[@]}")
  mapfile -t bmiss < <(missing_pkgs "${BPO_PKGS[@]}")
  [ ${#miss[@]} -eq 0 ] && [ ${#bmiss[@]} -eq 0 ] && return 0
  ensure_backports
  export DEBIAN_FRONTEND=noninteractive
  if [ ${#miss[@]} -gt 0 ]; then
    say "apt: installing ${miss[*]}"
    $SUDO apt-get install -y -qq "${miss[@]}" >/dev/null
  fi
  if [ ${#bmiss[@]} -gt 0 ]; then
    say "apt (bookworm-backports): installing ${bmiss[*]}"
    $SUDO apt-get install -y -qq -t bookworm-backports "${bmiss[@]}" >/dev/null
  fi
}

# --- Rust ------------------------------------------------------------------

rust_install() {
  command -v rustup >/dev/null || { echo "setup: rustup is required" >&2; exit 1; }
  if ! rustup toolchain list | grep -q "^$RUST_VERSION"; then
    say "rustup: installing $RUST_VERSION"
    rustup toolchain install "$RUST_VERSION" --profile minimal -c rust-src,clippy,rustfmt >/dev/null
  fi
  local comps
  comps=$(rustup component list --toolchain "$RUST_VERSION" --installed)
  for c in rust-src clippy rustfmt; do
    echo "$comps" | grep -q "^$c" || rustup component add --toolchain "$RUST_VERSION" "$c" >/dev/null
  done
  # Prebuilt std exists for aarch64 only; ppc64le, s390x and riscv64 build std from rust-src.
  echo "$comps" | grep -q '^rust-std-aarch64-unknown-linux-gnu' ||
    rustup target add --toolchain "$RUST_VERSION" aarch64-unknown-linux-gnu >/dev/null
  # The MSRV check needs only rustc and cargo, for the host and arm64.
  if ! rustup toolchain list | grep -q "^$RUST_MSRV"; then
    say "rustup: installing $RUST_MSRV (MSRV)"
    rustup toolchain install "$RUST_MSRV" --profile minimal >/dev/null
  fi
  rustup component list --toolchain "$RUST_MSRV" --installed | grep -q '^rust-std-aarch64-unknown-linux-gnu' ||
    rustup target add --toolchain "$RUST_MSRV" aarch64-unknown-linux-gnu >/dev/null
  # nightly-only cargo-fuzz runs on the pinned toolchain with RUSTC_BOOTSTRAP.
  local bin="$HOME/.cargo/bin"
  if ! [ -x "$bin/bindgen" ] || ! "$bin/bindgen" --version | awk '{split($2,v,"."); exit !(v[1]>0 || v[2]>=71)}'; then
    say "cargo: installing bindgen-cli"
    cargo +"$RUST_VERSION" install --locked -q bindgen-cli
  fi
  if ! [ -x "$bin/cargo-fuzz" ]; then
    say "cargo: installing cargo-fuzz"
    cargo +"$RUST_VERSION" install --locked -q cargo-fuzz
  fi
}

apt_install
[ "$APT_ONLY" = 1 ] || rust_install
say "ready"

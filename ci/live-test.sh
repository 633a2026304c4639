#!/usr/bin/env bash
# qemu-user tests: build tests/live for an arch (or every arch with a
# backend) and run it under qemu-<arch>-static.  Frame pointers (back chain
# on s390) are forced so the backend's unwinder can walk the process's own
# stacks.  Rust ships no prebuilt std for ppc64le/s390x/riscv64 at 1.96.0:
# those build std from rust-src.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$GRAFT_TOP"

run_one() {
  local arch triple flags build_std=() runner
  arch=$(norm_arch "$1")
  triple=$(arch_info "$arch" rust)
  flags="-C force-frame-pointers=yes"
  # (the commas are -Zbuild-std's own list)
  # shellcheck disable=SC2054
  case "$arch" in
    x86_64) runner="qemu-x86_64-static" ;;
    arm64) runner="qemu-aarch64-static -L /usr/aarch64-linux-gnu" ;;
    powerpc) runner="qemu-ppc64le-static -L /usr/powerpc64le-linux-gnu"; build_std=(-Zbuild-std=std,panic_abort) ;;
    s390) runner="qemu-s390x-static -L /usr/s390x-linux-gnu"; build_std=(-Zbuild-std=std,panic_abort)
          flags="$flags -C target-feature=+backchain" ;;
    riscv) runner="qemu-riscv64-static -L /usr/riscv64-linux-gnu"; build_std=(-Zbuild-std=std,panic_abort) ;;
  esac
  log "live test $arch ($triple)"
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" CARGO_TARGET_DIR="$GRAFT_TOP/target/live" \
    cargo build -q --release -p graft-live --target "$triple" "${build_std[@]}"
  # shellcheck disable=SC2086
  $runner "$GRAFT_TOP/target/live/$triple/release/graft-live"
}

if [ $# -eq 0 ]; then set -- "${BACKENDS[@]}"; fi
for a in "$@"; do run_one "$a"; done

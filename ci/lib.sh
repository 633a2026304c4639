# shellcheck shell=bash
# Shared helpers for graft's scripts (sourced, not run).
# The one knob a person sets: GRAFT_CACHE, the folder for kernel sources, built
# kernels, module build trees and images (never inside the repository).
GRAFT_CACHE=${GRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/graft}
GRAFT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KERNEL_SERIES=7.3
# Debian's ABI name of its 7.3 kernel packages (linux-binary-<abi>-<flavour>):
# the stock kernels graft is tested against (qemu-images/fetch-debian-kernel.sh).
# shellcheck disable=SC2034
DEBIAN_KERNEL_ABI=7.3.4+deb13
RUST_VERSION=1.96.0
# shellcheck disable=SC2034  # used by the scripts that source this file
ARCHES=(x86_64 arm64 powerpc s390 riscv)
# Every arch with a backend crate (arch/<arch>/): the host tests and the
# qemu-user test (ci/live-test.sh).  ARCHES above are those with a guest
# kernel (qemu-images/config/<arch>.config), which the matrix boots.
# shellcheck disable=SC2034
BACKENDS=(x86_64 arm64 powerpc s390 riscv)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# The bookworm mirror URI and keyring from the machine's own apt configuration.
apt_mirror() {
  local src
  src=$(grep -l -E '^Suites:.*\bbookworm\b' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
  if [ -n "$src" ]; then
    awk '/^URIs:/ {print $2; exit}' "$src"
  else
    awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list
  fi
}

# apt with a private sources list and lists folder, so the system's own apt state
# is never touched.  $1 = suite, $2 = state folder; remaining args go to apt-get.
private_apt() {
  local suite=$1 dir=$2; shift 2
  mkdir -p "$dir/lists/partial" "$dir/archives/partial"
  local uri; uri=$(apt_mirror)
  [ -n "$uri" ] || die "no bookworm apt source found to derive a mirror from"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$uri" "$suite" > "$dir/sources.list"
  apt-get -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache::Archives="$dir/archives" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# Kernel arch name -> the names other tools use.
arch_info() { # $1 arch, $2 field
  case "$1:$2" in
    x86_64:qemu) echo x86_64 ;; x86_64:deb) echo amd64 ;; x86_64:cross) echo "" ;; x86_64:karch) echo x86 ;;
    x86_64:image) echo arch/x86/boot/bzImage ;; x86_64:rust) echo x86_64-unknown-linux-gnu ;;
    arm64:qemu) echo aarch64 ;; arm64:deb) echo arm64 ;; arm64:cross) echo aarch64-linux-gnu- ;; arm64:karch) echo arm64 ;;
    arm64:image) echo arch/arm64/boot/Image ;; arm64:rust) echo aarch64-unknown-linux-gnu ;;
    powerpc:qemu) echo ppc64 ;; powerpc:deb) echo ppc64el ;; powerpc:cross) echo powerpc64le-linux-gnu- ;; powerpc:karch) echo powerpc ;;
    powerpc:image) echo vmlinux ;; powerpc:rust) echo powerpc64le-unknown-linux-gnu ;;
    s390:qemu) echo s390x ;; s390:deb) echo s390x ;; s390:cross) echo s390x-linux-gnu- ;; s390:karch) echo s390 ;;
    s390:image) echo arch/s390/boot/bzImage ;; s390:rust) echo s390x-unknown-linux-gnu ;;
    riscv:qemu) echo riscv64 ;; riscv:deb) echo riscv64 ;; riscv:cross) echo riscv64-linux-gnu- ;; riscv:karch) echo riscv ;;
    riscv:image) echo arch/riscv/boot/Image ;; riscv:rust) echo riscv64gc-unknown-linux-gnu ;;
    # the Debian suite the guest's busybox-static comes from: riscv64 is a
    # release architecture from Debian 13 (trixie) on, bookworm has none
    riscv:suite) echo trixie ;; *:suite) echo bookworm ;;
    *) die "unknown arch/field $1/$2" ;;
  esac
}

# Normalise what a person may type.
norm_arch() {
  case "$1" in
    x86_64|x86|amd64) echo x86_64 ;; arm64|aarch64) echo arm64 ;;
    powerpc|ppc64le|ppc64el|ppc64) echo powerpc ;; s390|s390x) echo s390 ;; riscv|riscv64) echo riscv ;;
    *) die "unknown arch '$1' (x86_64, arm64, powerpc, s390, riscv)" ;;
  esac
}

# norm_arch for what boots a guest: an arch of BACKENDS may have no guest
# kernel yet (no qemu-images/config/<arch>.config), and says so.
guest_arch() {
  local a
  a=$(norm_arch "$1")
  [ -f "$GRAFT_TOP/qemu-images/config/$a.config" ] ||
    die "$a has no guest kernel yet (no qemu-images/config/$a.config)"
  echo "$a"
}

# The matrix's Debian rows: Debian's stock 7.3 kernels, booted with their
# own unmodified vmlinuz (qemu-images/fetch-debian-kernel.sh), graft.ko
# built for them in a trixie root (qemu-images/debian-kmod.sh).
# shellcheck disable=SC2034
DEBIAN_TARGETS=(debian-amd64 debian-arm64)

# A guest target: an arch of ARCHES (graft's own kernel for it) or one of
# DEBIAN_TARGETS.  target_arch gives its arch; guest_target checks it.
is_debian_target() { case "$1" in debian-amd64|debian-arm64) return 0 ;; *) return 1 ;; esac; }
target_arch() { # $1 target
  case "$1" in debian-amd64) echo x86_64 ;; debian-arm64) echo arm64 ;; *) norm_arch "$1" ;; esac
}
guest_target() {
  if is_debian_target "$1"; then echo "$1"; else guest_arch "$1"; fi
}

# --- kernels ---------------------------------------------------------------

# Bump when the build recipe in qemu-images/build-kernel.sh changes its output.
KERNEL_RECIPE=1

kernel_src() { "$GRAFT_TOP/qemu-images/fetch-source.sh"; }

# make(1) variables that select the toolchain for an arch.
kernel_make_vars() { # $1 arch
  local rustc
  rustc=$(rustup which --toolchain "$RUST_VERSION" rustc)
  echo "ARCH=$(arch_info "$1" karch) RUSTC=$rustc HOSTRUSTC=$rustc BINDGEN=$HOME/.cargo/bin/bindgen"
  # `make kmod CLIPPY=1` lints with the clippy of that same toolchain.
  echo "CLIPPY_DRIVER=$(rustup which --toolchain "$RUST_VERSION" clippy-driver)"
  case "$1" in
    # clang 19 lacks ppc64 -fpatchable-function-entry: GCC it is (see ENVIRONMENT notes).
    powerpc) echo "CROSS_COMPILE=powerpc64le-linux-gnu-" ;;
    # Debian 12's GCC 12: upstream's klp-build (make patch) refuses an LLVM
    # assembler older than 20, and a patch must come from the compiler that
    # built the kernel it patches (docs/ARCHITECTURE.md, "From a fix to a
    # live patch").  The ORC variant (never booted: test data for the ORC
    # unwinder beside Debian's GCC-built kernel) stays clang's.
    x86_64) [ "$(x86_64_cc)" = gcc ] || echo "LLVM=-19" ;;
    *) echo "LLVM=-19" ;;
  esac
}

# x86_64_cc: the compiler of graft's x86_64 kernel (gcc), or of its ORC
# variant (clang).
x86_64_cc() { if [ "${GRAFT_KERNEL_VARIANT:-}" = orc ]; then echo clang; else echo gcc; fi; }

# The C compiler kernel_make_vars selects, as its first --version line.
kernel_cc_version() { # $1 arch
  case "$1" in
    powerpc) powerpc64le-linux-gnu-gcc --version | head -n1 ;;
    x86_64) if [ "$(x86_64_cc)" = gcc ]; then gcc --version | head -n1; else clang-19 --version | head -n1; fi ;;
    *) clang-19 --version | head -n1 ;;
  esac
}

# The patches to the kernel source for ARCH, in order: qemu-images/patches/
# (every arch) and qemu-images/patches/<arch>/ (that arch's own source
# tree: x86_64 reverts the one stable fix the real-fix scenario, S15,
# applies live).
kernel_patches() { # $1 arch
  ls "$GRAFT_TOP"/qemu-images/patches/*.patch
  if [ -d "$GRAFT_TOP/qemu-images/patches/$1" ]; then ls "$GRAFT_TOP/qemu-images/patches/$1"/*.patch; fi
}

# Identity of a kernel build: source version, fragments, patches, toolchain.
kernel_key() { # $1 arch
  local a=$1 cc
  cc=$(kernel_cc_version "$a")
  {
    echo "recipe $KERNEL_RECIPE"
    # (Debian package file names: no blanks; this line is part of the key, leave it)
    # shellcheck disable=SC2011
    ls "$GRAFT_CACHE"/src/linux-source-"$KERNEL_SERIES"_*.deb 2>/dev/null | xargs -r -n1 basename | sort -V | tail -n1
    # shellcheck disable=SC2046  # the fragments' paths: no blanks
    cat $(kernel_fragments "$a")
    # shellcheck disable=SC2046  # the patches' paths: no blanks
    cat $(kernel_patches "$a")
    "$(rustup which --toolchain "$RUST_VERSION" rustc)" -V
    "$HOME/.cargo/bin/bindgen" --version 2>/dev/null || echo no-bindgen
    echo "$cc"
  } | sha256sum | cut -c1-12
}

kernel_dir() { echo "$GRAFT_CACHE/kernels/$1${GRAFT_KERNEL_VARIANT:+-$GRAFT_KERNEL_VARIANT}-$(kernel_key "$1")"; }

# The config fragments of ARCH's kernel, in merge order (a later line for a
# symbol wins): common, the arch's, and with GRAFT_KERNEL_VARIANT=<v> the
# variant's qemu-images/config/<arch>-<v>.config (x86_64-orc: the same
# kernel unwinding with ORC, test data for the ORC unwinder; the matrix
# boots no variant).
kernel_fragments() { # $1 arch
  local d="$GRAFT_TOP/qemu-images/config" v=${GRAFT_KERNEL_VARIANT:-}
  echo "$d/common.config" "$d/$1.config"
  if [ -n "$v" ]; then
    [ -f "$d/$1-$v.config" ] || die "no kernel variant $v for $1 (qemu-images/config/$1-$v.config)"
    echo "$d/$1-$v.config"
  fi
}

# Whether the arch's guest kernel has upstream livepatch: "no" when its
# config fragment turns CONFIG_LIVEPATCH off (riscv: no HAVE_LIVEPATCH),
# else "yes" (common.config asks for it, and build-kernel.sh fails if it
# did not survive).
kernel_livepatch() { # $1 target
  if is_debian_target "$1"; then
    local d; d=$("$GRAFT_TOP/qemu-images/fetch-debian-kernel.sh" "$(target_arch "$1")")
    if grep -qx 'CONFIG_LIVEPATCH=y' "$d"/usr/lib/modules/*/config; then echo yes; else echo no; fi
  elif grep -qx '# CONFIG_LIVEPATCH is not set' "$GRAFT_TOP/qemu-images/config/$1.config"; then echo no; else echo yes; fi
}

# Where `make kmod` puts graft.ko for the kernel tree $1 and the module
# sources $2 (Kbuild's MO=): one folder per pair, so two checkouts never
# build into the same folder.
kmod_out() { echo "$GRAFT_CACHE/kmod/$(basename "$1")-$(echo "$1 $2" | sha256sum | cut -c1-8)"; }

# The registry crates graft.ko compiles beside the workspace's, as
# `user:package` (kmod/Kbuild): kmod_crate_vars's arguments.
# shellcheck disable=SC2034
KMOD_CRATES="graft-x86_64:cfg-if graft-core:bitflags"

# make(1) variables for kmod/Kbuild naming the registry crates it compiles
# into graft.ko: graft_src_<crate> (the crate root) and graft_edition_<crate>,
# for each `user:package` argument, at the version Cargo.lock gives the
# workspace crate `user`.  `cargo metadata` downloads a crate that is not in
# cargo's cache yet, as any cargo build does (offline: `cargo fetch` first).
kmod_crate_vars() { # user:package...
  local meta
  meta=$(cd "$GRAFT_TOP" && cargo +"$RUST_VERSION" metadata -q --format-version 1 --locked) \
    || die "cargo metadata failed: run 'cargo fetch' in $GRAFT_TOP (with network) first"
  python3 -c '
import json, sys
m = json.loads(sys.stdin.read())
pkgs = {p["id"]: p for p in m["packages"]}
nodes = {n["id"]: n for n in m["resolve"]["nodes"]}
for arg in sys.argv[1:]:
    user, dep = arg.split(":")
    uid = next((i for i in m["workspace_members"] if pkgs[i]["name"] == user), None)
    p = uid and next((pkgs[d["pkg"]] for d in nodes[uid]["deps"] if pkgs[d["pkg"]]["name"] == dep), None)
    if not p:
        sys.exit("error: %s is no dependency of the workspace crate %s" % (dep, user))
    lib = next(t for t in p["targets"] if "lib" in t["kind"])
    c = lib["name"].replace("-", "_")
    print("graft_src_%s=%s graft_edition_%s=%s" % (c, lib["src_path"], c, lib["edition"]))
' "$@" <<<"$meta"
}

# graft-inspect, built for the host (release); prints its path.
graft_inspect_bin() {
  (cd "$GRAFT_TOP" && cargo +"$RUST_VERSION" build -q --release --locked -p graft-inspect) >&2 ||
    die "cannot build graft-inspect"
  echo "$GRAFT_TOP/target/release/graft-inspect"
}

# The guest's own tools, qemu-images/guest-src/NAME.c: graft-bench, the
# timing tool of the guest's bench mode, and graft-listmount, S15's
# listmount(2) caller.  Built static for ARCH (default x86_64, the one the
# host also runs, for `graft-bench tsc-khz`) with that arch's gcc (the
# host's gcc for x86_64, Debian's cross gcc and libc6-dev-<arch>-cross for
# the others, from ci/setup.sh), cached by arch, source and compiler;
# prints its path.
guest_tool() { # name [arch]
  local name=$1 arch=${2:-x86_64} src cc bin
  src="$GRAFT_TOP/qemu-images/guest-src/$name.c"
  cc="$(arch_info "$arch" cross)gcc"
  command -v "$cc" >/dev/null || die "cannot build $name for $arch: no $cc (ci/setup.sh installs it)"
  bin="$GRAFT_CACHE/tools/$name-$arch-$( { cat "$src"; echo "$cc"; "$cc" --version | head -n1; } | sha256sum | cut -c1-12)"
  if [ ! -x "$bin" ]; then
    mkdir -p "$(dirname "$bin")"
    "$cc" -static -O2 -Wall -Wextra -Werror -pthread -o "$bin.tmp" "$src" >&2 || die "cannot build $name for $arch ($cc, static libc)"
    mv "$bin.tmp" "$bin"
  fi
  echo "$bin"
}

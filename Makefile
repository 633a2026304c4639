# graft: top-level entry points.
#
#   make test               set up (quietly if already done), then every host test
#                           (shellcheck and the shell scripts' own tests included)
#   make msrv               graft.ko's workspace crates with the oldest rustc they support
#   make ARCH=arm64 kmod    build kmod/ against the cached kernel tree for ARCH (KDIR= overrides)
#   make kmod KERNEL=debian-7.3 ARCH=x86_64|arm64
#                           ... against Debian's stock 7.3 kernel, in a trixie root in the cache
#   make kmod-lint          graft.ko and its samples for all five arches, clippy, warnings as errors,
#                           and for Debian's two stock kernels
#   make matrix             boot all five arches under QEMU and run the checks
#   make demo               live-patch /proc/cmdline in an x86_64 guest
#   make fuzz               seed and run every fuzz target for FUZZ_SECONDS each, one table
#   make bench              criterion benchmarks
#   make bench-guest        graft against upstream livepatch in an ARCH guest (four tables)
#   make patch FIX=fix.diff [NO_REPLACE=1]
#                           a graft patch module from a fix, by upstream's klp-build (x86_64)

ARCH ?= x86_64
FUZZ_SECONDS ?= 30
SHELL := /bin/bash
CARGO := cargo +1.96.0
# The oldest rustc graft.ko's workspace crates build with: Debian 13's
# stock kernels are built with 1.85.1, and a module must use the kernel's
# own rustc (rust-version in core/, arch/x86_64/, arch/arm64/ Cargo.toml).
MSRV := 1.85.1
MSRV_CRATES := -p graft-core -p graft-x86_64 -p graft-arm64

.PHONY: test setup test-data msrv unit lint shellcheck script-tests live fuzz-build fuzz kmod kmod-lint matrix demo bench bench-guest patch clean

test: setup test-data unit msrv lint shellcheck script-tests live fuzz-build kmod-lint

setup:
	@ci/setup.sh --quiet

# The data the host tests read from the cache: Debian's linux-source-7.3
# (orc_types.h), Debian's stock amd64 kernel, whose vmlinuz holds the
# real ORC tables (arch/x86_64/tests/orc_real.rs, inspect/tests/image.rs),
# graft's own x86_64 kernel built with ORC (orc_real.rs: clang's tables;
# about 5 minutes on first use),
# and Debian's arm64 kernel, whose vmlinuz is a raw Image (inspect/tests/image.rs).
test-data:
	@qemu-images/fetch-source.sh >/dev/null
	@GRAFT_KERNEL_VARIANT=orc qemu-images/build-kernel.sh x86_64 >/dev/null
	@qemu-images/fetch-debian-kernel.sh x86_64 >/dev/null
	@qemu-images/fetch-debian-kernel.sh arm64 >/dev/null

# GRAFT_REQUIRE_DATA=1: a test whose data is missing fails instead of
# skipping (loudly) as it does under a plain `cargo test`.
unit:
	GRAFT_REQUIRE_DATA=1 $(CARGO) test --workspace --exclude graft-live

# graft.ko compiles these crates with the kernel's rustc: check them with
# the oldest one graft supports, for the host and for arm64 (the native
# modules are per arch).  kmod/'s own files need a kernel tree built with
# that rustc: the Debian target builds them.
msrv:
	cargo +$(MSRV) check -q $(MSRV_CRATES)
	cargo +$(MSRV) check -q $(MSRV_CRATES) --target aarch64-unknown-linux-gnu

lint:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2021 --check kmod/*.rs kmod/arch/*/*.rs kmod/samples/*.rs
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every shell script of the repository (ci/shellcheck.sh, .shellcheckrc).
shellcheck:
	ci/shellcheck.sh

# Host tests of the shell side: the QEMU matrix's verdict on made-up
# results files, graftctl against a fake sysfs tree, the guest's
# kernel-log check on made-up kernel logs.
script-tests:
	tests/matrix/run.sh
	tests/graftctl/run.sh
	tests/kernel-log/run.sh
	tests/bench-tables/run.sh
	tests/graft-bench/run.sh

live:
	ci/live-test.sh

fuzz-build:
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -O

# Seeds every target (fuzz/seeds/, and $GRAFT_CACHE/fuzz-seeds written by
# the graft-fuzz-input seed generator), runs each for FUZZ_SECONDS and ends
# with one table of executions and edges per target (fuzz/run.sh; FUZZ_SEEDS=0
# starts from empty corpora, FUZZ_FRESH=1 forgets the corpus earlier runs grew).
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) CARGO="$(CARGO)" fuzz/run.sh

bench:
	$(CARGO) bench --workspace --exclude graft-live

# Build kmod/ with the kernel's own rustc and flags, against the kernel build
# tree of ARCH (built and cached on first use).  Products go to the cache
# (Kbuild's MO=), one folder per kernel tree, so arches never clobber each
# other and the source folder stays clean; the last line printed is the
# path of graft.ko.  The registry crates graft.ko compiles beside the
# workspace's (kmod/Kbuild) are found with `cargo metadata`.
#
# KERNEL=debian-7.3 builds against Debian's stock kernel of ARCH (x86_64,
# arm64) instead, with Debian's own toolchain (qemu-images/debian-kmod.sh;
# KRUSTFLAGS and KCFLAGS pass through, CLIPPY does not: the root has no
# clippy).
kmod:
	@set -e; . ci/lib.sh; a=$$(norm_arch $(ARCH)); \
	case "$(KERNEL)" in \
	  "") ;; \
	  debian-7.3) exec qemu-images/debian-kmod.sh $$a $(if $(KRUSTFLAGS),KRUSTFLAGS=$(KRUSTFLAGS)) $(if $(KCFLAGS),KCFLAGS=$(KCFLAGS)) ;; \
	  *) die "KERNEL=$(KERNEL): graft builds for its own kernels (no KERNEL) or debian-7.3" ;; \
	esac; \
	kdir="$(KDIR)"; [ -n "$$kdir" ] || kdir=$$(qemu-images/build-kernel.sh $$a); \
	mo=$$(kmod_out "$$kdir" "$(CURDIR)/kmod"); mkdir -p "$$mo"; \
	crates=$$(kmod_crate_vars $$KMOD_CRATES); \
	export LIBCLANG_PATH=/usr/lib/llvm-19/lib; \
	$(MAKE) -s -C "$$kdir" M="$(CURDIR)/kmod" MO="$$mo" $$(kernel_make_vars $$a) $$crates modules; \
	echo "$$mo/graft.ko"

# A graft patch module from a fix (a diff against the kernel source) for
# graft's x86_64 kernel: upstream's klp-build in a copy of the kernel tree
# of its own, with graft's init (qemu-images/make-patch.sh); the last line
# printed is the module's path.  klp-build is x86_64 only in Linux 7.3.
patch:
	@set -e; . ci/lib.sh; \
	[ -n "$(FIX)" ] || die "usage: make patch FIX=<file.diff> [NO_REPLACE=1]"; \
	[ "$$(norm_arch $(ARCH))" = x86_64 ] || die "make patch: klp-build supports x86_64 only in Linux 7.3"; \
	qemu-images/make-patch.sh "$(FIX)" $(if $(NO_REPLACE),--no-replace)

# kmod/ with the kernel's clippy (its flags include undocumented_unsafe_blocks)
# for every arch, Rust and C warnings as errors; the kernels build on first use.
#
# Debian's amd64 build prints one objtool warning per function of rustc
# 1.85's slice sorting that ends in core's panic_on_ord_violation(), a
# noreturn function 7.3's objtool does not list (is_rust_noreturn() in
# tools/objtool/check.c): "falls through to next function", filtered here;
# any other line is shown.
kmod-lint:
	@set -e -o pipefail; for a in x86_64 arm64 powerpc s390 riscv; do \
	  echo "kmod-lint: $$a"; \
	  $(MAKE) -s --no-print-directory kmod ARCH=$$a CLIPPY=1 KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror >/dev/null; \
	done; \
	for a in x86_64 arm64; do \
	  echo "kmod-lint: $$a, Debian's stock kernel (gcc-14, rustc 1.85.1; no clippy in its root)"; \
	  $(MAKE) -s --no-print-directory kmod KERNEL=debian-7.3 ARCH=$$a KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror 2>&1 >/dev/null | \
	    { grep -v ': warning: objtool: .* falls through to next function' || true; }; \
	done

matrix: setup
	ci/run-qemu.sh matrix

demo: setup
	ci/run-qemu.sh demo $(ARCH)

bench-guest: setup
	ci/run-qemu.sh bench $(ARCH)

clean:
	cargo clean
	rm -rf results
	@. ci/lib.sh; rm -rf "$$GRAFT_CACHE/kmod"

// SPDX-License-Identifier: GPL-2.0
//! The one place graft.ko chooses by architecture: the native backend crate
//! (its `ArchOps` and `TaskStacks`, and its CPU-only `native` helpers), and
//! whether the engine runs on this arch yet.  Everything else in `kmod/` is
//! arch-neutral; the C side's counterpart is `arch/<arch>/graft_arch.h`
//! (docs/PORTING.md, "The kernel side").  An arch whose reliable walk
//! needs more than the stack (x86_64's ORC tables) has one Rust file of its
//! own, `arch/<arch>/unwind.rs`, that gives [`unwinder`]; the others walk
//! with their backend's `Unwinder` ([`plain`]).

use graft_core::UnwindReliable;
use kernel::prelude::*;

/// The unwinder of a backend whose walk reads only the stack (x86_64's
/// `unwind.rs` uses it without ORC).
#[allow(dead_code)] // (unused on x86_64 with ORC)
mod plain {
    use super::Native;
    use graft_core::{ArchUnwinder, UnwindReliable};
    use kernel::prelude::*;

    pub(crate) fn init_unwinder() -> Result {
        Ok(())
    }

    pub(crate) fn unwinder() -> &'static dyn UnwindReliable {
        &ArchUnwinder::<Native>::NEW
    }
}

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        /// The native backend of the architecture this module is built for.
        pub(crate) type Native = graft_x86_64::X86_64;
        /// The native backend's CPU-only helpers (`frame_regs`, ...).
        pub(crate) use graft_x86_64::native;
        use no_trampoline as arch_trampoline;
        /// The engine live-patches this arch's kernel (S1-S12 pass in its guest).
        pub(crate) const ENGINE: bool = true;
        /// Frame pointers or ORC, as the kernel was built.
        #[path = "arch/x86_64/unwind.rs"]
        mod unwind;
        use unwind as arch_unwind;
    } else if #[cfg(target_arch = "aarch64")] {
        /// The native backend of the architecture this module is built for.
        pub(crate) type Native = graft_arm64::Arm64;
        /// The native backend's CPU-only helpers (`frame_regs`, ...).
        pub(crate) use graft_arm64::native;
        use graft_arm64::native::trampoline as arch_trampoline;
        /// The engine live-patches this arch's kernel (S1-S12 pass in its guest).
        pub(crate) const ENGINE: bool = true;
        use plain as arch_unwind;
    } else if #[cfg(target_arch = "powerpc64")] {
        /// The native backend of the architecture this module is built for.
        pub(crate) type Native = graft_powerpc::Powerpc;
        /// The native backend's CPU-only helpers (`frame_regs`, ...).
        pub(crate) use graft_powerpc::native;
        use no_trampoline as arch_trampoline;
        /// The engine live-patches this arch's kernel (S1-S12 pass in its guest).
        pub(crate) const ENGINE: bool = true;
        use plain as arch_unwind;
    } else if #[cfg(target_arch = "s390x")] {
        /// The native backend of the architecture this module is built for.
        pub(crate) type Native = graft_s390::S390;
        /// The native backend's CPU-only helpers (`frame_regs`, ...).
        pub(crate) use graft_s390::native;
        use no_trampoline as arch_trampoline;
        /// The engine live-patches this arch's kernel (S1-S12 pass in its guest).
        pub(crate) const ENGINE: bool = true;
        use plain as arch_unwind;
    } else if #[cfg(target_arch = "riscv64")] {
        /// The native backend of the architecture this module is built for.
        pub(crate) type Native = graft_riscv::Riscv;
        /// The native backend's CPU-only helpers (`frame_regs`, ...).
        pub(crate) use graft_riscv::native;
        use no_trampoline as arch_trampoline;
        /// The engine live-patches this arch's kernel (S1-S13 pass in its guest).
        pub(crate) const ENGINE: bool = true;
        use plain as arch_unwind;
    } else {
        compile_error!("graft.ko: no backend for this architecture (kmod/arch.rs)");
    }
}

/// The backend's fast-path trampoline `i` (`EntrySite::direct`'s `tramp`),
/// where its direct call cannot enter the replacement itself.
pub(crate) fn trampoline(i: usize) -> Option<graft_core::Trampoline> {
    arch_trampoline(i)
}

/// A backend without trampolines.
#[allow(dead_code)] // (unused on arm64)
fn no_trampoline(_i: usize) -> Option<graft_core::Trampoline> {
    None
}

/// Prepare the arch's reliable unwinder, once at load before anything
/// walks a stack; an error stops the load (the kernel's stacks could not
/// be proven).
pub(crate) fn init_unwinder() -> Result {
    arch_unwind::init_unwinder()
}

/// The reliable unwinder graft walks task stacks with on this kernel.
pub(crate) fn unwinder() -> &'static dyn UnwindReliable {
    arch_unwind::unwinder()
}

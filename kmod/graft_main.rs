// SPDX-License-Identifier: GPL-2.0
//! graft.ko: the in-kernel side of graft.
//!
//! The module links the host workspace's own crates, compiled from their
//! sources by the kernel's rustc with the kernel's flags (see `Kbuild`):
//! `graft_core` and the native backend of the architecture being built.  At
//! init it proves that backend on the running kernel ([`selftest`]): it
//! classifies the ftrace entry sites of a few exported functions and walks
//! its own stack with the reliable unwinder, next to the kernel's
//! `stack_trace_save()`.  The engine (ftrace redirection, per-task
//! transitions, sysfs) builds on it.

use kernel::prelude::*;

#[cfg(target_arch = "x86_64")]
mod engine;
mod kenv;
mod selftest;
#[cfg(target_arch = "x86_64")]
mod selftest_tasks;
mod shadow;

#[cfg(target_arch = "aarch64")]
pub(crate) use graft_arm64::native;
#[cfg(target_arch = "powerpc64")]
pub(crate) use graft_powerpc::native;
#[cfg(target_arch = "s390x")]
pub(crate) use graft_s390::native;
/// The native backend's CPU-only helpers (`frame_regs`, ...).
#[cfg(target_arch = "x86_64")]
pub(crate) use graft_x86_64::native;

/// The native backend of the architecture this module is built for.
#[cfg(target_arch = "x86_64")]
pub(crate) type Native = graft_x86_64::X86_64;
/// The native backend of the architecture this module is built for.
#[cfg(target_arch = "aarch64")]
pub(crate) type Native = graft_arm64::Arm64;
/// The native backend of the architecture this module is built for.
#[cfg(target_arch = "powerpc64")]
pub(crate) type Native = graft_powerpc::Powerpc;
/// The native backend of the architecture this module is built for.
#[cfg(target_arch = "s390x")]
pub(crate) type Native = graft_s390::S390;

module! {
    type: Graft,
    name: "graft",
    authors: ["graft developers"],
    description: "graft live patching engine",
    license: "GPL",
}

unsafe extern "C" {
    /// `shim.c`: the kernel's `UTS_RELEASE`, a macro Rust cannot see.
    pub(crate) fn graft_shim_release() -> *const kernel::ffi::c_char;
}

struct Graft;

impl kernel::Module for Graft {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: the shim returns a pointer to a static NUL-terminated string.
        let release = unsafe { CStr::from_char_ptr(graft_shim_release()) };
        pr_info!("loaded on {} ({} backend)\n", release.to_str().unwrap_or("?"), <Native as graft_core::Arch>::NAME);
        // The self-test reports through the log; its outcome never stops the
        // module from loading.
        selftest::run();
        #[cfg(target_arch = "x86_64")]
        selftest_tasks::run();
        #[cfg(target_arch = "x86_64")]
        engine::init()?;
        Ok(Graft)
    }
}

impl Drop for Graft {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        engine::exit();
        shadow::exit();
        pr_info!("unloaded\n");
    }
}

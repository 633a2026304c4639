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

mod abi;
mod arch;
mod engine;
mod ffi;
mod kenv;
mod selftest;
mod selftest_tasks;
mod shadow;
mod tasks;
mod validate;

module! {
    type: Graft,
    name: "graft",
    authors: ["graft developers"],
    description: "graft live patching engine",
    license: "GPL",
}

struct Graft;

impl kernel::Module for Graft {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: once, first: nothing that takes the engine's lock (its
        // sysfs files, module notifier, work, a patch module's
        // registration) exists before this init returns or sets it up.
        unsafe { engine::init_lock() };
        // SAFETY: the shim returns a pointer to a static NUL-terminated string.
        let release = unsafe { CStr::from_char_ptr(ffi::graft_shim_release()) };
        let name = <arch::Native as graft_core::Arch>::NAME;
        pr_info!("loaded on {} ({} backend)\n", release.to_str().unwrap_or("?"), name);
        // The unwinder first: the self-test walks stacks with it.
        arch::init_unwinder()?;
        // The self-test reports through the log; its outcome never stops the
        // module from loading.
        selftest::run();
        selftest_tasks::run();
        if arch::ENGINE {
            engine::init()?;
        }
        Ok(Graft)
    }
}

impl Drop for Graft {
    fn drop(&mut self) {
        if arch::ENGINE {
            engine::exit();
        }
        shadow::exit();
        pr_info!("unloaded\n");
    }
}

// SPDX-License-Identifier: GPL-2.0
//! graft.ko: the in-kernel side of graft.
//!
//! For now this proves the path from `make ARCH=<arch> kmod` to a Rust module
//! (with its C shim) running in every guest of the QEMU matrix; the engine
//! (ftrace redirection, per-task transitions, sysfs) builds on it.

use kernel::prelude::*;

module! {
    type: Graft,
    name: "graft",
    authors: ["graft developers"],
    description: "graft live patching engine",
    license: "GPL",
}

unsafe extern "C" {
    /// `shim.c`: the kernel's `UTS_RELEASE`, a macro Rust cannot see.
    fn graft_shim_release() -> *const kernel::ffi::c_char;
}

struct Graft;

impl kernel::Module for Graft {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: the shim returns a pointer to a static NUL-terminated string.
        let release = unsafe { CStr::from_char_ptr(graft_shim_release()) };
        pr_info!("graft: loaded on {}\n", release.to_str().unwrap_or("?"));
        Ok(Graft)
    }
}

impl Drop for Graft {
    fn drop(&mut self) {
        pr_info!("graft: unloaded\n");
    }
}

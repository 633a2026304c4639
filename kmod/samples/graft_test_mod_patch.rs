// SPDX-License-Identifier: GPL-2.0
//! graft's S4 patch: two objects, vmlinux (`cmdline_proc_show()`, so
//! /proc/cmdline shows the patch is enabled) and the `graft_test_mod`
//! module (`graft_test_mod_func()` returns 2 instead of 1), which may be
//! loaded before the patch, after it (deferred), or unloaded and loaded
//! again while the patch is enabled.  Nothing here refers to the module,
//! so it can come and go under the patch.

use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
};

module! {
    type: ModPatch,
    name: "graft_test_mod_patch",
    authors: ["graft developers"],
    description: "graft test: patch of a module object (S4)",
    license: "GPL",
}

include!("graft_abi.rs");

/// The replacement of `int graft_test_mod_func(void)`.
extern "C" fn graft_test_mod_func_v2() -> c_int {
    2
}

/// The replacement of `cmdline_proc_show(struct seq_file *, void *)`.
///
/// # Safety
///
/// Called only in place of `cmdline_proc_show`, with procfs's `seq_file`.
unsafe extern "C" fn graft_test_mod_cmdline(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file procfs hands the original; the format
    // takes one string argument, given.
    unsafe {
        bindings::seq_printf(m, c"%s\n".as_char_ptr(), c"this has been live patched by graft (S4)".as_char_ptr())
    };
    0
}

/// `pre_patch` of the module object: logs (S4 checks when each runs).
///
/// # Safety
///
/// Called by graft with this module's object description.
unsafe extern "C" fn cb_pre_patch(_obj: *const ObjectDesc) -> c_int {
    pr_info!("callback pre_patch graft_test_mod\n");
    0
}

/// `post_patch`: logs.
///
/// # Safety
///
/// As `cb_pre_patch`.
unsafe extern "C" fn cb_post_patch(_obj: *const ObjectDesc) {
    pr_info!("callback post_patch graft_test_mod\n");
}

/// `pre_unpatch`: logs.
///
/// # Safety
///
/// As `cb_pre_patch`.
unsafe extern "C" fn cb_pre_unpatch(_obj: *const ObjectDesc) {
    pr_info!("callback pre_unpatch graft_test_mod\n");
}

/// `post_unpatch`: logs.
///
/// # Safety
///
/// As `cb_pre_patch`.
unsafe extern "C" fn cb_post_unpatch(_obj: *const ObjectDesc) {
    pr_info!("callback post_unpatch graft_test_mod\n");
}

graft_patch! {
    type: ModPatch,
    name: "graft_test_mod_patch",
    objects: [
        {
            object: vmlinux,
            funcs: [
                {
                    old: "cmdline_proc_show",
                    new: graft_test_mod_cmdline,
                    sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
                },
            ],
        },
        {
            object: "graft_test_mod",
            callbacks: {
                pre_patch: cb_pre_patch,
                post_patch: cb_post_patch,
                pre_unpatch: cb_pre_unpatch,
                post_unpatch: cb_post_unpatch,
            },
            funcs: [ { old: "graft_test_mod_func", new: graft_test_mod_func_v2, sig: extern "C" fn() -> c_int } ],
        },
    ],
}

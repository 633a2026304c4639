// SPDX-License-Identifier: GPL-2.0
//! graft's S7 patch: replaces `graft_test_sleeper_func()` of the
//! `graft_test_sleeper` test module.  The replacement records version 2 and
//! sleeps like the original when asked, so a task can be held inside the
//! old function (the transition to patched waits for it) or the new one
//! (the transition back waits for it).  It calls the test module's exported
//! `graft_test_sleeper_wait()`, so this module depends on it and the test
//! module cannot unload under the patch.

use kernel::{ffi::c_int, prelude::*};

module! {
    type: Sample,
    name: "graft_test_sleeper_patch",
    authors: ["graft developers"],
    description: "graft test: patch of graft_test_sleeper_func()",
    license: "GPL",
}

include!("graft_abi.rs");

unsafe extern "C" {
    fn graft_test_sleeper_wait(block: c_int, version: c_int) -> c_int;
}

/// The replacement of `int graft_test_sleeper_func(int block)`.
///
/// # Safety
///
/// Called only in place of `graft_test_sleeper_func`.
#[inline(never)]
unsafe extern "C" fn graft_test_sleeper_func_v2(block: c_int) -> c_int {
    // SAFETY: plain call into the test module, which this module depends on.
    let r = unsafe { graft_test_sleeper_wait(block, 2) };
    // Not a tail call: this frame stays on the stack while the task sleeps.
    core::hint::black_box(r)
}

// The function is the test module's: a module object (always loaded here,
// since this module depends on it).
graft_patch! {
    type: Sample,
    name: "graft_test_sleeper_patch",
    objects: [
        {
            object: "graft_test_sleeper",
            funcs: [
                {
                    old: "graft_test_sleeper_func",
                    new: graft_test_sleeper_func_v2,
                    sig: unsafe extern "C" fn(c_int) -> c_int,
                },
            ],
        },
    ],
}

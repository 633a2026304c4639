// SPDX-License-Identifier: GPL-2.0
//! graft's S7 patch: replaces `graft_test_sleeper_func()` of the
//! `graft_test_sleeper` test module.  The replacement records version 2 and
//! sleeps like the original when asked, so a task can be held inside the
//! old function (the transition to patched waits for it) or the new one
//! (the transition back waits for it).  It calls the test module's exported
//! `graft_test_sleeper_wait()`, so this module depends on it and the test
//! module cannot unload under the patch.

use kernel::{
    ffi::{c_char, c_int, c_uint, c_void},
    prelude::*,
};

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

// See graft_sample_cmdline.rs for the casts.
#[allow(clippy::disallowed_methods)]
static FUNCS: Static<[FuncDesc; 1]> = Static([FuncDesc {
    old_name: c"graft_test_sleeper_func".as_ptr().cast(),
    new_func: graft_test_sleeper_func_v2 as *const c_void,
}]);

#[allow(clippy::disallowed_methods)]
static PATCH: Static<PatchDesc> = Static(PatchDesc {
    name: c"graft_test_sleeper_patch".as_ptr().cast(),
    object: core::ptr::null(),
    funcs: FUNCS.0.as_ptr(),
    nfuncs: 1,
    replace: false,
});

struct Sample;

impl kernel::Module for Sample {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: PATCH is a static description; `module` is this module.
        let r = unsafe { graft_register_patch(&PATCH.0, module.as_ptr().cast()) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(Sample)
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        // SAFETY: PATCH was registered by init; graft holds this module while
        // the patch is enabled, so it is disabled by now.
        let r = unsafe { graft_unregister_patch(&PATCH.0) };
        if r != 0 {
            pr_err!("unregister failed ({})\n", r);
        }
    }
}

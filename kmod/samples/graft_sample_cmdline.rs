// SPDX-License-Identifier: GPL-2.0
//! graft's S1 sample: replace `cmdline_proc_show()`, so `/proc/cmdline`
//! reads "this has been live patched by graft" while the patch is enabled.
//!
//! The patch is described with graft.ko's C ABI (`kmod/graft.h`): loading
//! this module registers and enables it; `echo 0 >
//! /sys/kernel/graft/graft_sample_cmdline/enabled` disables it; once
//! disabled, the module unloads (graft holds a reference while enabled).

use kernel::{
    bindings,
    ffi::{c_char, c_int, c_uint, c_void},
    prelude::*,
};

module! {
    type: SampleCmdline,
    name: "graft_sample_cmdline",
    authors: ["graft developers"],
    description: "graft sample: live-patch /proc/cmdline",
    license: "GPL",
}

include!("graft_abi.rs");

/// The replacement: same signature as `cmdline_proc_show(struct seq_file *,
/// void *)`.
///
/// # Safety
///
/// Called only in place of `cmdline_proc_show`, with procfs's `seq_file`.
unsafe extern "C" fn livepatch_cmdline_proc_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file procfs hands the original; the format
    // takes one string argument, given.
    unsafe { bindings::seq_printf(m, c"%s\n".as_char_ptr(), c"this has been live patched by graft".as_char_ptr()) };
    0
}

/// Checked against the original's C type: a mismatch fails to compile.
const _: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int = livepatch_cmdline_proc_show;

// `CStr::as_ptr` (clippy prefers `as_char_ptr`, which is not `const`) in
// static initialisers; the kernel's `c_char` is `u8`, hence the casts.
#[allow(clippy::disallowed_methods)]
static FUNCS: Static<[FuncDesc; 1]> = Static([FuncDesc {
    old_name: c"cmdline_proc_show".as_ptr().cast(),
    new_func: livepatch_cmdline_proc_show as *const c_void,
}]);

#[allow(clippy::disallowed_methods)]
static PATCH: Static<PatchDesc> = Static(PatchDesc {
    name: c"graft_sample_cmdline".as_ptr().cast(),
    object: core::ptr::null(),
    funcs: FUNCS.0.as_ptr(),
    nfuncs: 1,
    replace: false,
});

struct SampleCmdline;

impl kernel::Module for SampleCmdline {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: PATCH is a static description; `module` is this module.
        let r = unsafe { graft_register_patch(&PATCH.0, module.as_ptr().cast()) };
        if r != 0 {
            return Err(Error::from_errno(r));
        }
        Ok(SampleCmdline)
    }
}

impl Drop for SampleCmdline {
    fn drop(&mut self) {
        // SAFETY: PATCH was registered by init; graft holds this module while
        // the patch is enabled, so it is disabled by now.
        let r = unsafe { graft_unregister_patch(&PATCH.0) };
        if r != 0 {
            pr_err!("unregister failed ({})\n", r);
        }
    }
}

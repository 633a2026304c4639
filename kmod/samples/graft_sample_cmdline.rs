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
    ffi::{c_int, c_void},
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

// The declared type is `cmdline_proc_show`'s C prototype: a replacement of
// another type fails to compile.
graft_patch! {
    type: SampleCmdline,
    name: "graft_sample_cmdline",
    funcs: [
        {
            old: "cmdline_proc_show",
            new: livepatch_cmdline_proc_show,
            sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
        },
    ],
}

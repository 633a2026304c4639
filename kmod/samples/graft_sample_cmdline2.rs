// SPDX-License-Identifier: GPL-2.0
//! graft's S2 sample: a second patch on `cmdline_proc_show()`, stacked on
//! `graft_sample_cmdline`; `/proc/cmdline` reads "this has been live patched
//! by graft (2)" while it is the newest enabled patch.  Disabling it goes
//! back to the patch below it (or the original).

use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
};

module! {
    type: Sample,
    name: "graft_sample_cmdline2",
    authors: ["graft developers"],
    description: "graft sample: a second, stacked /proc/cmdline patch",
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
    unsafe { bindings::seq_printf(m, c"%s\n".as_char_ptr(), c"this has been live patched by graft (2)".as_char_ptr()) };
    0
}

// The declared type is `cmdline_proc_show`'s C prototype: a replacement of
// another type fails to compile.
graft_patch! {
    type: Sample,
    name: "graft_sample_cmdline2",
    funcs: [
        {
            old: "cmdline_proc_show",
            new: livepatch_cmdline_proc_show,
            sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
        },
    ],
}

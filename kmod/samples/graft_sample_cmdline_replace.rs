// SPDX-License-Identifier: GPL-2.0
//! graft's S3 sample: a cumulative patch with `replace` set.  Enabling it
//! replaces every enabled patch (`graft_sample_cmdline`,
//! `graft_sample_cmdline2`, ...) in one transition: once it completes they
//! read `enabled=0` and may be unloaded; `/proc/cmdline` reads "this has been
//! live patched by graft (replace)".

use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
};

module! {
    type: Sample,
    name: "graft_sample_cmdline_replace",
    authors: ["graft developers"],
    description: "graft sample: a cumulative (replace) /proc/cmdline patch",
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
    let text = c"this has been live patched by graft (replace)";
    // SAFETY: `m` is the seq_file procfs hands the original; the format
    // takes one string argument, given.
    unsafe { bindings::seq_printf(m, c"%s\n".as_char_ptr(), text.as_char_ptr()) };
    0
}

// The declared type is `cmdline_proc_show`'s C prototype: a replacement of
// another type fails to compile.
graft_patch! {
    type: Sample,
    name: "graft_sample_cmdline_replace",
    replace: true,
    funcs: [
        {
            old: "cmdline_proc_show",
            new: livepatch_cmdline_proc_show,
            sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
        },
    ],
}

// SPDX-License-Identifier: GPL-2.0
//! graft's S6 patch: a shadow variable in a replacement function.
//! `cmdline_proc_show()` is replaced by one that counts, per inode of
//! `/proc/cmdline`, how often it ran, in a shadow counter attached to the
//! inode (graft.h's `graft_shadow_get_or_alloc`, upstream's
//! `klp_shadow_get_or_alloc`): struct inode has no field for it, which is
//! what shadow variables are for.  The counters are freed by the
//! `post_unpatch` callback once no task can run the replacement any more
//! (the pattern Documentation/livepatch/shadow-vars.rst describes).

use core::sync::atomic::{AtomicU64, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_ulong, c_void},
    prelude::*,
};

module! {
    type: SampleShadow,
    name: "graft_sample_shadow",
    authors: ["graft developers"],
    description: "graft sample: a shadow counter per /proc/cmdline inode",
    license: "GPL",
}

include!("graft_abi.rs");

/// The shadow id of the counters ('cmdl').
const COUNTER_ID: c_ulong = 0x636d_646c;

/// The replacement of `cmdline_proc_show()`.
///
/// # Safety
///
/// Called only in place of `cmdline_proc_show`, with its seq_file.
unsafe extern "C" fn shadow_cmdline_proc_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: procfs hands an open seq_file whose file has an inode.
    let inode: *mut c_void = unsafe { (*(*m).file).f_inode }.cast();
    // SAFETY: 8 zeroed bytes attached to the inode (or the existing ones);
    // GFP_KERNEL: seq_file show runs in process context.
    let p = unsafe {
        graft_shadow_get_or_alloc(
            inode,
            COUNTER_ID,
            size_of::<u64>(),
            bindings::GFP_KERNEL,
            None,
            core::ptr::null_mut(),
        )
    };
    let n = if p.is_null() {
        0 // no memory: still answer, without a count
    } else {
        // SAFETY: the shadow data is 8-byte aligned and lives until
        // post_unpatch frees it, after every task left this function.
        unsafe { AtomicU64::from_ptr(p.cast()) }.fetch_add(1, Ordering::Relaxed) + 1
    };
    // SAFETY: the format takes one string and one unsigned long long.
    unsafe {
        bindings::seq_printf(
            m,
            c"%s (shadow count %llu)\n".as_char_ptr(),
            c"this has been live patched by graft".as_char_ptr(),
            n,
        )
    };
    0
}

/// `post_unpatch`: no task runs the replacement any more; free every counter.
///
/// # Safety
///
/// Called by graft with this module's object description.
unsafe extern "C" fn free_counters(_obj: *const ObjectDesc) {
    // SAFETY: frees this module's own shadow variables; no destructor.
    unsafe { graft_shadow_free_all(COUNTER_ID, None) };
    pr_info!("shadow counters freed\n");
}

graft_patch! {
    type: SampleShadow,
    name: "graft_sample_shadow",
    callbacks: { post_unpatch: free_counters },
    funcs: [
        {
            old: "cmdline_proc_show",
            new: shadow_cmdline_proc_show,
            sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
        },
    ],
}

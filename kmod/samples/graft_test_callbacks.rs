// SPDX-License-Identifier: GPL-2.0
//! graft's S5 patch: per-object callbacks, after upstream's
//! lib/livepatch/test_klp_callbacks_demo.c (now
//! tools/testing/selftests/livepatch/test_modules/).  Each callback logs
//! `graft_test_callbacks: <callback> <object>` so the scenario can check
//! their order against the engine's lines; `pre_patch_ret=<errno>` makes
//! `pre_patch` fail (S5 uses -19, -ENODEV: insmod must fail with it), after
//! `pre_patch_pass=<n>` calls that succeed (so a later enable through sysfs
//! is the one refused).
//!
//! It patches `graft_test_sleeper_func()` of the S7 test module (version 3),
//! so a task sleeping there can hold a transition for the reversed cases,
//! and `cmdline_proc_show()`, so upstream's livepatch-sample holding that
//! function makes enabling fail after `pre_patch` succeeded (ftrace refuses
//! a second IP-modifying user): then only `post_unpatch` runs.

use core::sync::atomic::{AtomicI32, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_void},
    prelude::*,
};

module! {
    type: TestCallbacks,
    name: "graft_test_callbacks",
    authors: ["graft developers"],
    description: "graft test: per-object callbacks",
    license: "GPL",
    params: {
        pre_patch_ret: i32 {
            default: 0,
            description: "value pre_patch returns (0, or a negative errno to refuse)",
        },
        pre_patch_pass: i32 {
            default: 0,
            description: "pre_patch calls that succeed before pre_patch_ret applies",
        },
    },
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
unsafe extern "C" fn graft_test_sleeper_func_v3(block: c_int) -> c_int {
    // SAFETY: plain call into the test module, which this module depends on.
    let r = unsafe { graft_test_sleeper_wait(block, 3) };
    // Not a tail call: this frame stays on the stack while the task sleeps.
    core::hint::black_box(r)
}

/// The replacement of `cmdline_proc_show()`.
///
/// # Safety
///
/// Called only in place of `cmdline_proc_show`, with its seq_file.
unsafe extern "C" fn cb_cmdline_proc_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: the format takes one string argument, given.
    unsafe {
        bindings::seq_printf(m, c"%s\n".as_char_ptr(), c"this has been live patched by graft (callbacks)".as_char_ptr())
    };
    0
}

/// The object's name as the callbacks log it (`vmlinux` for NULL).
fn obj_name<'a>(obj: *const ObjectDesc) -> &'a str {
    // SAFETY: graft passes one of this module's static descriptions.
    let name = unsafe { (*obj).name };
    if name.is_null() {
        return "vmlinux";
    }
    // SAFETY: the names are NUL-terminated statics.
    unsafe { CStr::from_char_ptr(name) }.to_str().unwrap_or("?")
}

/// `pre_patch`: logs, and returns `pre_patch_ret`.
///
/// # Safety
///
/// Called by graft with one of this module's object descriptions.
unsafe extern "C" fn pre_patch(obj: *const ObjectDesc) -> c_int {
    static CALLS: AtomicI32 = AtomicI32::new(0);
    let passed = CALLS.fetch_add(1, Ordering::Relaxed) < module_parameters::pre_patch_pass.value();
    let ret = if passed { 0 } else { module_parameters::pre_patch_ret.value() as c_int };
    if ret != 0 {
        pr_info!("pre_patch {} refused ({})\n", obj_name(obj), ret);
    } else {
        pr_info!("pre_patch {}\n", obj_name(obj));
    }
    ret
}

/// `post_patch`: logs.
///
/// # Safety
///
/// Called by graft with one of this module's object descriptions.
unsafe extern "C" fn post_patch(obj: *const ObjectDesc) {
    pr_info!("post_patch {}\n", obj_name(obj));
}

/// `pre_unpatch`: logs.
///
/// # Safety
///
/// Called by graft with one of this module's object descriptions.
unsafe extern "C" fn pre_unpatch(obj: *const ObjectDesc) {
    pr_info!("pre_unpatch {}\n", obj_name(obj));
}

/// `post_unpatch`: logs.
///
/// # Safety
///
/// Called by graft with one of this module's object descriptions.
unsafe extern "C" fn post_unpatch(obj: *const ObjectDesc) {
    pr_info!("post_unpatch {}\n", obj_name(obj));
}

// vmlinux's object has the callbacks; the test module's function is in
// its own object (a module object), without callbacks, so the log shows
// vmlinux's alone.
graft_patch! {
    type: TestCallbacks,
    name: "graft_test_callbacks",
    objects: [
        {
            object: vmlinux,
            callbacks: {
                pre_patch: pre_patch,
                post_patch: post_patch,
                pre_unpatch: pre_unpatch,
                post_unpatch: post_unpatch,
            },
            funcs: [
                {
                    old: "cmdline_proc_show",
                    new: cb_cmdline_proc_show,
                    sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
                },
            ],
        },
        {
            object: "graft_test_sleeper",
            funcs: [
                {
                    old: "graft_test_sleeper_func",
                    new: graft_test_sleeper_func_v3,
                    sig: unsafe extern "C" fn(c_int) -> c_int,
                },
            ],
        },
    ],
}

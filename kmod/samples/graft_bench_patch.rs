// SPDX-License-Identifier: GPL-2.0
//! graft's side of the per-call benchmark: replaces `graft_test_bench_func()`
//! of the `graft_test_bench` test module.  The replacement does what the
//! original and upstream's (graft_bench_klp) do, one call of the exported
//! `graft_test_bench_mark()`, with version 2; calling it makes this module
//! depend on the test module, which so cannot unload under the patch
//! (graft's patch names the function with `object` NULL, as S7's does).

use kernel::{ffi::c_int, prelude::*};

module! {
    type: BenchPatch,
    name: "graft_bench_patch",
    authors: ["graft developers"],
    description: "graft benchmark: patch of graft_test_bench_func()",
    license: "GPL",
}

include!("graft_abi.rs");

unsafe extern "C" {
    fn graft_test_bench_mark(x: c_int, version: c_int) -> c_int;
}

/// The replacement of `int graft_test_bench_func(int x)`.
///
/// # Safety
///
/// Called only in place of `graft_test_bench_func`.
#[inline(never)]
unsafe extern "C" fn graft_bench_func_v2(x: c_int) -> c_int {
    // SAFETY: plain call into the test module, which this module depends on.
    unsafe { graft_test_bench_mark(x, 2) }
}

graft_patch! {
    type: BenchPatch,
    name: "graft_bench_patch",
    objects: [
        {
            object: "graft_test_bench",
            funcs: [
                {
                    old: "graft_test_bench_func",
                    new: graft_bench_func_v2,
                    sig: unsafe extern "C" fn(c_int) -> c_int,
                },
            ],
        },
    ],
}

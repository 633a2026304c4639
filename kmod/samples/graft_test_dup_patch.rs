// SPDX-License-Identifier: GPL-2.0
//! graft's old_sympos patch (S11): replaces the second of the two
//! `graft_test_dup_func` symbols of the `graft_test_dup` module (kallsyms
//! order) with one returning 20; the first stays.

use kernel::{ffi::c_int, prelude::*};

module! {
    type: DupPatch,
    name: "graft_test_dup_patch",
    authors: ["graft developers"],
    description: "graft test: old_sympos (S11)",
    license: "GPL",
}

include!("graft_abi.rs");

/// The replacement of the second `static int graft_test_dup_func(void)`.
extern "C" fn graft_test_dup_func_v2() -> c_int {
    20
}

graft_patch! {
    type: DupPatch,
    name: "graft_test_dup_patch",
    objects: [
        {
            object: "graft_test_dup",
            funcs: [
                { old: "graft_test_dup_func", new: graft_test_dup_func_v2, sig: extern "C" fn() -> c_int, sympos: 2 },
            ],
        },
    ],
}

// SPDX-License-Identifier: GPL-2.0
// graft's patch-module ABI (kmod/graft.h) for Rust patch modules: each
// sample `include!`s this file (a sample is one crate: one source file plus
// this).  Mirrors of graft.h's structures and graft.ko's two entry points.

/// `struct graft_func_desc` (graft.h).
#[repr(C)]
struct FuncDesc {
    old_name: *const c_char,
    new_func: *const c_void,
}

/// `struct graft_patch_desc` (graft.h).
#[repr(C)]
struct PatchDesc {
    name: *const c_char,
    object: *const c_char,
    funcs: *const FuncDesc,
    nfuncs: c_uint,
    replace: bool,
}

/// The descriptions are immutable statics of pointers to statics.
struct Static<T>(T);
// SAFETY: never written; every pointer inside points at immutable statics.
unsafe impl<T> Sync for Static<T> {}

unsafe extern "C" {
    fn graft_register_patch(desc: *const PatchDesc, owner: *mut c_void) -> c_int;
    fn graft_unregister_patch(desc: *const PatchDesc) -> c_int;
}


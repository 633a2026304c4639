// SPDX-License-Identifier: GPL-2.0
// The patch ABI of graft.h, in Rust: the one mirror, `include!`d by graft.ko
// (`abi` in graft_main.rs) and by every Rust patch module (through
// samples/graft_abi.rs).  graft.ko's build checks every size, alignment and
// field offset here against graft.h as the C compiler lays it out
// (abi_layout.c, graft_main.rs `abi_layout`): a change to one side only
// fails the build.  (No inner doc comment: `include!` takes items only.)

/// `GRAFT_ABI_VERSION` (graft.h).
#[allow(dead_code)]
pub(crate) const GRAFT_ABI_VERSION: kernel::ffi::c_uint = 4;

/// `struct graft_func_desc` (graft.h).
#[repr(C)]
pub(crate) struct FuncDesc {
    pub(crate) old_name: *const kernel::ffi::c_char,
    pub(crate) new_func: *const kernel::ffi::c_void,
    pub(crate) old_sympos: kernel::ffi::c_ulong,
    pub(crate) preimage: *const Preimage,
}

/// `struct graft_preimage_mask` (graft.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct PreimageMask {
    pub(crate) offset: kernel::ffi::c_uint,
    pub(crate) len: kernel::ffi::c_uint,
}

/// `struct graft_preimage` (graft.h).
#[repr(C)]
pub(crate) struct Preimage {
    pub(crate) size: kernel::ffi::c_ulong,
    pub(crate) hash: u64,
    pub(crate) masks: *const PreimageMask,
    pub(crate) nmasks: kernel::ffi::c_uint,
}

/// `struct graft_callbacks` (graft.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Callbacks {
    pub(crate) pre_patch: Option<unsafe extern "C" fn(*const ObjectDesc) -> kernel::ffi::c_int>,
    pub(crate) post_patch: Option<unsafe extern "C" fn(*const ObjectDesc)>,
    pub(crate) pre_unpatch: Option<unsafe extern "C" fn(*const ObjectDesc)>,
    pub(crate) post_unpatch: Option<unsafe extern "C" fn(*const ObjectDesc)>,
}

/// `struct graft_object_desc` (graft.h).
#[repr(C)]
pub(crate) struct ObjectDesc {
    pub(crate) name: *const kernel::ffi::c_char,
    pub(crate) funcs: *const FuncDesc,
    pub(crate) nfuncs: kernel::ffi::c_uint,
    pub(crate) callbacks: Callbacks,
}

/// `struct graft_state` (graft.h): `data` is the patch module's, which
/// writes it while graft may read `id` and `version` (graft reads those two
/// fields alone, through raw pointers).
#[repr(C)]
pub(crate) struct State {
    pub(crate) id: kernel::ffi::c_ulong,
    pub(crate) version: kernel::ffi::c_uint,
    pub(crate) data: *mut kernel::ffi::c_void,
}

/// `struct graft_patch_desc` (graft.h).
#[repr(C)]
pub(crate) struct PatchDesc {
    pub(crate) abi_version: kernel::ffi::c_uint,
    pub(crate) size: kernel::ffi::c_uint,
    pub(crate) name: *const kernel::ffi::c_char,
    pub(crate) kernel_release: *const kernel::ffi::c_char,
    pub(crate) objs: *const ObjectDesc,
    pub(crate) nobjs: kernel::ffi::c_uint,
    pub(crate) replace: bool,
    pub(crate) states: *mut State,
    pub(crate) nstates: kernel::ffi::c_uint,
}

// SPDX-License-Identifier: GPL-2.0
// graft's patch-module ABI (kmod/graft.h) for Rust patch modules: each
// sample `include!`s this file (a sample is one crate: one source file plus
// this).  Mirrors of graft.h's structures and graft.ko's two entry points,
// and `graft_patch!`, which declares a patch module's patch in a few lines.

/// `struct graft_func_desc` (graft.h).
#[repr(C)]
struct FuncDesc {
    old_name: *const kernel::ffi::c_char,
    new_func: *const kernel::ffi::c_void,
}

/// `struct graft_patch_desc` (graft.h).
#[repr(C)]
struct PatchDesc {
    name: *const kernel::ffi::c_char,
    object: *const kernel::ffi::c_char,
    funcs: *const FuncDesc,
    nfuncs: kernel::ffi::c_uint,
    replace: bool,
}

/// The descriptions are immutable statics of pointers to statics.
struct Static<T>(T);
// SAFETY: never written; every pointer inside points at immutable statics.
unsafe impl<T> Sync for Static<T> {}

unsafe extern "C" {
    fn graft_register_patch(desc: *const PatchDesc, owner: *mut kernel::ffi::c_void) -> kernel::ffi::c_int;
    fn graft_unregister_patch(desc: *const PatchDesc) -> kernel::ffi::c_int;
}

/// A name graft.h can take: not empty, no NUL inside (checked at compile
/// time by `graft_patch!`, which appends the terminating NUL).
const fn graft_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0 {
            return false;
        }
        i += 1;
    }
    !b.is_empty()
}

/// Declares the patch module's patch: the descriptor statics of graft.h,
/// a compile-time check of each replacement against the signature declared
/// for the original (a mismatch fails to compile), and the module type
/// named by `type:` with its `kernel::Module` impl: init registers (and so
/// enables) the patch with `graft_register_patch(desc, THIS_MODULE)`, drop
/// unregisters it.  The sample keeps its own `module!` block naming that
/// type.
///
/// ```ignore
/// graft_patch! {
///     type: Sample,
///     name: "graft_sample_cmdline",      // /sys/kernel/graft/<name>
///     replace: false,                    // optional, default false
///     funcs: [
///         {
///             old: "cmdline_proc_show",  // the function replaced (vmlinux)
///             new: livepatch_cmdline_proc_show,
///             sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
///         },
///     ],
/// }
/// ```
macro_rules! graft_patch {
    (
        type: $ty:ident,
        name: $name:literal,
        $(replace: $replace:literal,)?
        funcs: [ $( { old: $old:literal, new: $new:path, sig: $sig:ty $(,)? } ),+ $(,)? ] $(,)?
    ) => {
        const _: () = assert!(graft_valid_name($name), "graft_patch!: bad patch name");
        $(
            // The replacement has the declared type of the original.
            const _: $sig = $new;
            const _: () = assert!(graft_valid_name($old), "graft_patch!: bad function name");
        )+

        // `str::as_ptr` of a NUL-terminated literal; the kernel's `c_char`
        // is `u8`, hence the casts.
        static GRAFT_FUNCS: Static<[FuncDesc; [$($old),+].len()]> = Static([$(
            FuncDesc {
                old_name: concat!($old, "\0").as_ptr().cast(),
                new_func: $new as *const kernel::ffi::c_void,
            },
        )+]);

        static GRAFT_PATCH: Static<PatchDesc> = Static(PatchDesc {
            name: concat!($name, "\0").as_ptr().cast(),
            object: core::ptr::null(),
            funcs: GRAFT_FUNCS.0.as_ptr(),
            nfuncs: GRAFT_FUNCS.0.len() as kernel::ffi::c_uint,
            replace: graft_patch!(@replace $($replace)?),
        });

        struct $ty;

        impl kernel::Module for $ty {
            fn init(module: &'static kernel::ThisModule) -> kernel::error::Result<Self> {
                // SAFETY: GRAFT_PATCH is a static description; `module` is
                // this module.
                let r = unsafe { graft_register_patch(&GRAFT_PATCH.0, module.as_ptr().cast()) };
                if r != 0 {
                    return Err(kernel::error::Error::from_errno(r));
                }
                Ok($ty)
            }
        }

        impl Drop for $ty {
            fn drop(&mut self) {
                // SAFETY: GRAFT_PATCH was registered by init; graft holds this
                // module while the patch is enabled, so it is disabled by now.
                let r = unsafe { graft_unregister_patch(&GRAFT_PATCH.0) };
                if r != 0 {
                    kernel::pr_err!("unregister failed ({})\n", r);
                }
            }
        }
    };
    (@replace) => { false };
    (@replace $replace:literal) => { $replace };
}

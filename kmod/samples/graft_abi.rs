// SPDX-License-Identifier: GPL-2.0
// graft's patch-module ABI (kmod/graft.h) for Rust patch modules: each
// sample `include!`s this file (a sample is one crate: one source file plus
// this).  graft.h's structures (kmod/abi.rs, the one mirror), graft.ko's
// entry points, and `graft_patch!`, which declares a patch module's patch in
// a few lines.

// The structures and GRAFT_ABI_VERSION: the one Rust mirror of graft.h,
// shared with graft.ko, which checks it against graft.h at build time.
include!("../abi.rs");

/// No callbacks.
#[allow(dead_code)]
const NO_CALLBACKS: Callbacks = Callbacks { pre_patch: None, post_patch: None, pre_unpatch: None, post_unpatch: None };

/// The kernel release this patch module is built for (Kbuild exports
/// `KERNELRELEASE` to the compiler), NUL-terminated; graft refuses the
/// patch on any other kernel.
#[allow(dead_code)]
const GRAFT_KERNEL_RELEASE: &str = match option_env!("KERNELRELEASE") {
    Some(_) => concat!(env!("KERNELRELEASE"), "\0"),
    None => "\0",
};

/// The descriptions are immutable statics of pointers to statics.
struct Static<T>(T);
// SAFETY: never written; every pointer inside points at immutable statics,
// but for the states array, which is a `GraftStates` (below).
unsafe impl<T> Sync for Static<T> {}

/// The states array of `graft_patch!`: graft reads `id` and `version`, the
/// module's callbacks and replacement functions write `data` (through the
/// pointers `graft_state()` and `graft_get_prev_state()` return), so it is
/// writable memory (an `UnsafeCell`, placed in `.data`).
struct GraftStates<T>(core::cell::UnsafeCell<T>);
// SAFETY: graft only reads `id` and `version`, which nothing writes; the
// module's code writes `data` through raw pointers and orders those writes
// itself (graft calls the callbacks one at a time, under its mutex).
unsafe impl<T> Sync for GraftStates<T> {}

unsafe extern "C" {
    fn graft_register_patch(desc: *const PatchDesc, owner: *mut kernel::ffi::c_void) -> kernel::ffi::c_int;
    fn graft_unregister_patch(desc: *const PatchDesc) -> kernel::ffi::c_int;
}

// graft.h's system states (upstream's klp_get_state(), klp_get_prev_state()),
// exported by graft.ko; `graft_patch!` gives each module `graft_state(id)`,
// its own state.
#[allow(dead_code)]
unsafe extern "C" {
    fn graft_get_state(desc: *const PatchDesc, id: kernel::ffi::c_ulong) -> *mut State;
    fn graft_get_prev_state(id: kernel::ffi::c_ulong) -> *mut State;
}

/// `graft_shadow_ctor_t` (graft.h).
#[allow(dead_code)]
type ShadowCtor = Option<
    unsafe extern "C" fn(
        obj: *mut kernel::ffi::c_void,
        data: *mut kernel::ffi::c_void,
        ctor_data: *mut kernel::ffi::c_void,
    ) -> kernel::ffi::c_int,
>;
/// `graft_shadow_dtor_t` (graft.h).
#[allow(dead_code)]
type ShadowDtor = Option<unsafe extern "C" fn(obj: *mut kernel::ffi::c_void, data: *mut kernel::ffi::c_void)>;

// graft.h's shadow variables (upstream's klp_shadow_*), exported by graft.ko.
#[allow(dead_code)]
unsafe extern "C" {
    fn graft_shadow_get(obj: *mut kernel::ffi::c_void, id: kernel::ffi::c_ulong) -> *mut kernel::ffi::c_void;
    fn graft_shadow_alloc(
        obj: *mut kernel::ffi::c_void,
        id: kernel::ffi::c_ulong,
        size: usize,
        gfp: kernel::ffi::c_uint,
        ctor: ShadowCtor,
        ctor_data: *mut kernel::ffi::c_void,
    ) -> *mut kernel::ffi::c_void;
    fn graft_shadow_get_or_alloc(
        obj: *mut kernel::ffi::c_void,
        id: kernel::ffi::c_ulong,
        size: usize,
        gfp: kernel::ffi::c_uint,
        ctor: ShadowCtor,
        ctor_data: *mut kernel::ffi::c_void,
    ) -> *mut kernel::ffi::c_void;
    fn graft_shadow_free(obj: *mut kernel::ffi::c_void, id: kernel::ffi::c_ulong, dtor: ShadowDtor);
    fn graft_shadow_free_all(id: kernel::ffi::c_ulong, dtor: ShadowDtor);
}

/// A name graft.h can take: not empty, no NUL inside (checked at compile
/// time by `graft_patch!`, which appends the terminating NUL).  (rustc
/// 1.85 does not count a use in `const _` items as a use.)
#[allow(dead_code)]
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

/// The state ids of `graft_patch!` are graft's to accept: non-zero, each
/// once (checked at compile time; graft checks again at registration).
#[allow(dead_code)]
const fn graft_valid_states(ids: &[kernel::ffi::c_ulong]) -> bool {
    let mut i = 0;
    while i < ids.len() {
        if ids[i] == 0 {
            return false;
        }
        let mut j = 0;
        while j < i {
            if ids[j] == ids[i] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// The object descriptions of `graft_patch!`: object `i` is named
/// `names[i]`, has the next `counts[i]` functions of `funcs` and
/// `callbacks[i]`.
#[allow(dead_code)]
const fn graft_objects<const N: usize>(
    names: [*const kernel::ffi::c_char; N],
    counts: [usize; N],
    callbacks: [Callbacks; N],
    funcs: *const FuncDesc,
) -> [ObjectDesc; N] {
    let mut out = [const {
        ObjectDesc { name: core::ptr::null(), funcs: core::ptr::null(), nfuncs: 0, callbacks: NO_CALLBACKS }
    }; N];
    let (mut i, mut first) = (0, 0);
    while i < N {
        out[i] = ObjectDesc {
            name: names[i],
            // SAFETY: `funcs` holds the sum of `counts` descriptions.
            funcs: unsafe { funcs.add(first) },
            nfuncs: counts[i] as kernel::ffi::c_uint,
            callbacks: callbacks[i],
        };
        first += counts[i];
        i += 1;
    }
    out
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
///     kernel: "7.3.4",                   // optional: the release the patch is
///                                        // for (default: the one built against)
///     replace: false,                    // optional, default false
///     states: [                          // optional: the system states it
///         { id: 1, version: 2 },         // changes (graft.h struct graft_state;
///     ],                                 // ids non-zero, each once)
///     callbacks: {                       // optional: vmlinux's callbacks, any of
///         pre_patch: my_pre_patch,       // unsafe extern "C" fn(*const ObjectDesc) -> c_int
///         post_unpatch: my_post_unpatch, // unsafe extern "C" fn(*const ObjectDesc)
///     },                                 // (also post_patch, pre_unpatch)
///     funcs: [
///         {
///             old: "cmdline_proc_show",  // the function replaced (vmlinux)
///             new: livepatch_cmdline_proc_show,
///             sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
///             // sympos: 2,                  // optional: the 2nd symbol of that name
///         },
///     ],
/// }
/// ```
///
/// With `states`, the module gets `fn graft_state(id) -> *mut State`
/// (graft.h's `graft_get_state()` of its own description): its callbacks
/// and new code keep the state's `data` there, and find the previous
/// patches' with `graft_get_prev_state(id)`.
///
/// or, with module objects (a module that is not loaded is patched when
/// it loads; `vmlinux` is the kernel itself):
///
/// ```ignore
/// graft_patch! {
///     type: Sample,
///     name: "graft_test_mod_patch",
///     objects: [
///         { object: vmlinux, funcs: [ { old: "cmdline_proc_show", new: ..., sig: ... } ] },
///         { object: "graft_test_mod", funcs: [ { old: "graft_test_mod_func", new: ..., sig: ... } ] },
///     ],
/// }
/// ```
macro_rules! graft_patch {
    // The shorthand: one vmlinux object.
    (
        type: $ty:ident,
        name: $name:literal,
        $(kernel: $kernel:literal,)?
        $(replace: $replace:literal,)?
        $(states: [ $( { id: $sid:literal, version: $sver:literal $(,)? } ),* $(,)? ],)?
        $(callbacks: { $($cb:ident : $cbf:path),* $(,)? },)?
        funcs: [ $($funcs:tt)+ ] $(,)?
    ) => {
        graft_patch! {
            type: $ty,
            name: $name,
            $(kernel: $kernel,)?
            $(replace: $replace,)?
            $(states: [ $( { id: $sid, version: $sver } ),* ],)?
            objects: [ { object: vmlinux, $(callbacks: { $($cb: $cbf),* },)? funcs: [ $($funcs)+ ] } ],
        }
    };
    (
        type: $ty:ident,
        name: $name:literal,
        $(kernel: $kernel:literal,)?
        $(replace: $replace:literal,)?
        $(states: [ $( { id: $sid:literal, version: $sver:literal $(,)? } ),* $(,)? ],)?
        objects: [ $( {
            object: $obj:tt,
            $(callbacks: { $($cb:ident : $cbf:path),* $(,)? },)?
            funcs: [ $( { old: $old:literal, new: $new:path, sig: $sig:ty $(, sympos: $sympos:literal)? $(,)? } ),+ $(,)? ] $(,)?
        } ),+ $(,)? ] $(,)?
    ) => {
        const _: () = assert!(graft_valid_name($name), "graft_patch!: bad patch name");
        $( $(
            // The replacement has the declared type of the original.
            const _: $sig = $new;
            const _: () = assert!(graft_valid_name($old), "graft_patch!: bad function name");
        )+ )+

        // Every object's functions, in order, in one array; each object
        // points at its run.  `str::as_ptr` of a NUL-terminated literal;
        // the kernel's `c_char` is `u8`, hence the casts.
        static GRAFT_FUNCS: Static<[FuncDesc; [$($($old),+),+].len()]> = Static([$($(
            FuncDesc {
                old_name: concat!($old, "\0").as_ptr().cast(),
                new_func: $new as *const kernel::ffi::c_void,
                old_sympos: graft_patch!(@or0 $($sympos)?),
                preimage: core::ptr::null(),
            },
        )+)+]);

        const GRAFT_NOBJS: usize = [$(stringify!($obj)),+].len();
        static GRAFT_OBJS: Static<[ObjectDesc; GRAFT_NOBJS]> = Static(graft_objects(
            [$(graft_patch!(@obj $obj)),+],
            [$([$($old),+].len()),+],
            [$(graft_patch!(@callbacks $($($cb: $cbf),*)?)),+],
            GRAFT_FUNCS.0.as_ptr(),
        ));

        // The states: in writable memory, for the module's `data`.
        const GRAFT_STATE_IDS: &[kernel::ffi::c_ulong] = &[$($($sid),*)?];
        const _: () = assert!(graft_valid_states(GRAFT_STATE_IDS), "graft_patch!: a state id is 0 or named twice");
        const GRAFT_NSTATES: usize = GRAFT_STATE_IDS.len();
        static GRAFT_STATES: GraftStates<[State; GRAFT_NSTATES]> = GraftStates(core::cell::UnsafeCell::new([$($(
            State { id: $sid, version: $sver, data: core::ptr::null_mut() },
        )*)?]));

        graft_patch!(@patch $ty, $name, GRAFT_OBJS, graft_patch!(@kernel $($kernel)?), graft_patch!(@replace $($replace)?));
    };
    // An object's name: `vmlinux`, or a module's name (a string).
    (@obj vmlinux) => { core::ptr::null() };
    (@obj $m:literal) => {{
        const _: () = assert!(graft_valid_name($m), "graft_patch!: bad module name");
        concat!($m, "\0").as_ptr().cast()
    }};
    (@patch $ty:ident, $name:literal, $objs:ident, $kernel:expr, $replace:expr) => {
        static GRAFT_PATCH: Static<PatchDesc> = Static(PatchDesc {
            abi_version: GRAFT_ABI_VERSION,
            size: core::mem::size_of::<PatchDesc>() as kernel::ffi::c_uint,
            name: concat!($name, "\0").as_ptr().cast(),
            kernel_release: $kernel,
            objs: $objs.0.as_ptr(),
            nobjs: $objs.0.len() as kernel::ffi::c_uint,
            replace: $replace,
            // NULL and 0 without states.
            states: if GRAFT_NSTATES == 0 { core::ptr::null_mut() } else { GRAFT_STATES.0.get().cast() },
            nstates: GRAFT_NSTATES as kernel::ffi::c_uint,
        });

        /// `graft_get_state()` of this patch: its state `id`, or null.
        #[allow(dead_code)]
        fn graft_state(id: kernel::ffi::c_ulong) -> *mut State {
            // SAFETY: GRAFT_PATCH is this module's own description.
            unsafe { graft_get_state(&GRAFT_PATCH.0, id) }
        }

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
    // Unnamed callbacks are NULL; a misspelt one or a wrong signature fails
    // to compile (the fields of `Callbacks`).
    (@callbacks) => { NO_CALLBACKS };
    (@callbacks $($cb:ident: $cbf:path),*) => {{
        // All four named leaves nothing to update.
        #[allow(clippy::needless_update)]
        let c = Callbacks { $($cb: Some($cbf),)* ..NO_CALLBACKS };
        c
    }};
    (@replace) => { false };
    (@replace $replace:literal) => { $replace };
    (@or0) => { 0 };
    (@or0 $v:literal) => { $v };
    // The kernel the patch is built for (default: the one Kbuild builds
    // against); `kernel: "x"` claims another (S11's test of the check).
    (@kernel) => { GRAFT_KERNEL_RELEASE.as_ptr().cast() };
    (@kernel $k:literal) => { concat!($k, "\0").as_ptr().cast() };
}

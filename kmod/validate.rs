// SPDX-License-Identifier: GPL-2.0
//! Every patch description checked before graft uses it: the one place a
//! `graft_register_patch()` argument is judged, called before
//! `GRAFT_MUTEX` is taken.  It never faults on a malformed description.
//!
//! A description is a static of its owner module (graft.h), so nothing in
//! it is read until it is shown to lie in the owner's memory
//! (`within_module_mem_type()` through `shim.c`): the owner first (a
//! module's own `struct module`, read without faulting), then the
//! description, the objects array over its whole extent, each functions
//! array over its whole extent, every string byte by byte up to its NUL,
//! all in the owner's data (not its init memory, freed once its init
//! returns, nor its text); every replacement function and callback in the
//! owner's text.  The counts are bounded by that alone: an array must fit
//! in the region holding it.
//!
//! What is read is then judged by graft-core's [`desc`] rules, upstream
//! livepatch's (kernel/livepatch/core.c `klp_check_patch()`,
//! `klp_init_object()`, `klp_init_func()`) and beyond: the ABI version and
//! size, a `replace` that is a bool, the patch name, the kernel release,
//! at least one object and one function per object, module names as the
//! kernel spells them, function names, `old_sympos`, no object or
//! `<function,sympos>` twice, and system states with non-zero ids, each
//! once (graft-core's `state`; upstream ends its array at id 0).  Each refusal is one `graft: ...` line and
//! upstream's errno for it: `-EINVAL`, but `-EEXIST` for a duplicate
//! (upstream's `kobject_add()` of a second directory of one name fails so)
//! and `-ENOMEM` when the scratch for the duplicate checks cannot be had.

use crate::abi::{FuncDesc, ObjectDesc, PatchDesc, Preimage, PreimageMask, State as StateDesc, GRAFT_ABI_VERSION};
use crate::ffi::{
    graft_shim_module_mem, graft_shim_module_name, graft_shim_module_self, graft_shim_release, GRAFT_MEM_DATA,
    GRAFT_MEM_INIT, GRAFT_MEM_NONE, GRAFT_MEM_TEXT,
};
use crate::kenv::Show;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, offset_of, size_of};
use core::ptr::addr_of;
use graft_core::desc::{self, NameError};
use graft_core::preimage;
use graft_core::State;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    ffi::{c_char, c_int, c_ulong},
    prelude::*,
};

/// Why a pointer cannot be read as what it should point at.
#[derive(Clone, Copy)]
enum Bad {
    Null,
    Misaligned(usize),
    /// In none of the owner's regions.
    Outside,
    /// In the owner's text, where data is expected.
    InText,
    /// In the owner's data, where a function is expected.
    InData,
    /// In the owner's init memory.
    InInit,
    /// `need` bytes, `left` before its region ends.
    Short {
        left: usize,
        need: usize,
    },
    /// No NUL in the `left` bytes before its region ends.
    Unterminated {
        left: usize,
    },
    /// No NUL in the first `max + 1` bytes.
    TooLong {
        max: usize,
    },
}

/// Which of the owner's regions holds an address (`GRAFT_MEM_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Region {
    None,
    /// `MOD_TEXT`.
    Text,
    /// `MOD_DATA`, `MOD_RODATA`, `MOD_RO_AFTER_INIT`.
    Data,
    /// `MOD_INIT_*`.
    Init,
}

impl Region {
    fn of(r: c_int) -> Self {
        match r {
            GRAFT_MEM_TEXT => Region::Text,
            GRAFT_MEM_DATA => Region::Data,
            GRAFT_MEM_INIT => Region::Init,
            GRAFT_MEM_NONE => Region::None,
            _ => Region::None,
        }
    }
}

/// A [`Bad`] with the owner's name, for a message.
struct Why<'a>(Bad, &'a str);

impl kernel::fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.1;
        match self.0 {
            Bad::Null => f.write_str("is NULL"),
            Bad::Misaligned(a) => write!(f, "is not aligned to {a} bytes"),
            Bad::Outside => write!(f, "does not lie in module {m} (a description is a static of its patch module)"),
            Bad::InText => write!(f, "lies in module {m}'s text, not its data"),
            Bad::InData => write!(f, "lies in module {m}'s data, not its text"),
            Bad::InInit => write!(f, "lies in module {m}'s init memory, freed once its init returns"),
            Bad::Short { left, need } => {
                write!(f, "runs past the end of its region of module {m} ({need} bytes, {left} left)")
            }
            Bad::Unterminated { left } => {
                write!(f, "has no NUL in the {left} bytes left of its region of module {m}")
            }
            Bad::TooLong { max } => write!(f, "is longer than {max} bytes"),
        }
    }
}

/// Bytes from a description shown in a message: printable ASCII as is,
/// anything else as `\xNN`, at most 64 bytes.
struct Shown<'a>(&'a [u8]);

impl kernel::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.0.iter().take(64) {
            if c.is_ascii_graphic() || c == b' ' {
                write!(f, "{}", c as char)?;
            } else {
                write!(f, "\\x{c:02x}")?;
            }
        }
        if self.0.len() > 64 {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// The owner module, shown to be one ([`graft_shim_module_self`]); `'a`
/// is the registration call, during which it cannot unload (it is
/// registering, from its init or with a reference of its own).
struct Owner<'a> {
    m: *const bindings::module,
    name: [u8; desc::MODULE_NAME_LEN],
    _call: PhantomData<&'a ()>,
}

impl<'a> Owner<'a> {
    /// `None` unless `m` is a module's own `struct module`.
    fn new(m: *const bindings::module) -> Option<Self> {
        if !graft_shim_module_self(m) {
            return None;
        }
        let mut name = [0u8; desc::MODULE_NAME_LEN];
        // SAFETY: `m` is a module's struct module (just shown), whose
        // `name` is MODULE_NAME_LEN bytes.
        let p = unsafe { graft_shim_module_name(m) };
        // SAFETY: `p` points at those MODULE_NAME_LEN readable bytes.
        unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), name.as_mut_ptr(), name.len()) };
        Some(Owner { m, name, _call: PhantomData })
    }

    /// The module's name, for messages.
    fn name(&self) -> &str {
        let n = self.name.iter().position(|&c| c == 0).unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..n]).unwrap_or("?")
    }

    fn why(&self, b: Bad) -> Why<'_> {
        Why(b, self.name())
    }

    /// Which region holds `addr`, and the bytes left in it from there.
    fn region(&self, addr: usize) -> (Region, usize) {
        let mut left: c_ulong = 0;
        // SAFETY: `m` is a module's struct module (`new`), loaded for `'a`.
        let r = unsafe { graft_shim_module_mem(self.m, addr as c_ulong, &mut left) };
        (Region::of(r), left as usize)
    }

    /// `p` can be read as `need` bytes aligned to `align`, all in one of
    /// the owner's data regions; returns the bytes left from `p`.
    fn data<T>(&self, p: *const T, need: usize, align: usize) -> Result<usize, Bad> {
        if p.is_null() {
            return Err(Bad::Null);
        }
        if p.addr() % align != 0 {
            return Err(Bad::Misaligned(align));
        }
        match self.region(p.addr()) {
            (Region::Data, left) if left >= need => Ok(left),
            (Region::Data, left) => Err(Bad::Short { left, need }),
            (Region::Text, _) => Err(Bad::InText),
            (Region::Init, _) => Err(Bad::InInit),
            (Region::None, _) => Err(Bad::Outside),
        }
    }

    /// `n` elements of `T` at `p`, in the owner's data.  `T` is one of
    /// graft.h's descriptors every bit pattern of which is valid (not
    /// `PatchDesc`, whose `replace` is a bool).
    fn array<T>(&self, p: *const T, n: usize) -> Result<&'a [T], Bad> {
        let need = n.checked_mul(size_of::<T>()).ok_or(Bad::Short { left: 0, need: usize::MAX })?;
        self.data(p, need, align_of::<T>())?;
        // SAFETY: `n` aligned elements lie in one data region of the owner
        // (checked just above), which stays for `'a`; the owner does not
        // change its description while registering it (graft.h).  `T` is
        // `ObjectDesc` or `FuncDesc`: pointers and integers, for which
        // every bit pattern is valid (callbacks are `Option`s of function
        // pointers: null is `None`).
        Ok(unsafe { core::slice::from_raw_parts(p, n) })
    }

    /// The NUL-terminated string at `p`, at most `max` bytes before its
    /// NUL, read byte by byte in the owner's data.
    fn string(&self, p: *const c_char, max: usize) -> Result<&'a [u8], Bad> {
        let left = self.data(p, 1, 1)?;
        let scan = left.min(max + 1);
        // SAFETY: `scan` bytes from `p` lie in one data region of the
        // owner (`left` of them do), which stays for `'a`.
        let bytes = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), scan) };
        match bytes.iter().position(|&c| c == 0) {
            Some(n) => Ok(&bytes[..n]),
            None if left <= max => Err(Bad::Unterminated { left }),
            None => Err(Bad::TooLong { max }),
        }
    }

    /// `f` (not null) is code in the owner's text (not its init text).
    fn text(&self, f: usize) -> Result<(), Bad> {
        match self.region(f).0 {
            Region::Text => Ok(()),
            Region::Data => Err(Bad::InData),
            Region::Init => Err(Bad::InInit),
            Region::None => Err(Bad::Outside),
        }
    }
}

/// A name the rules accepted: printable ASCII, so UTF-8.
fn text_of(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("?")
}

/// Check the description `desc` of a patch module `owner` (see the module
/// comment); on `Err`, one line says why.  Returns the patch's system
/// states (ids and versions: graft's copy).
pub(crate) fn patch(desc: *const PatchDesc, owner: *mut bindings::module) -> Result<KVec<State>> {
    if desc.is_null() || owner.is_null() {
        pr_err!("register: no patch description or no owner module\n");
        return Err(EINVAL);
    }
    let Some(m) = Owner::new(owner) else {
        pr_err!("register: owner {:p} is not a loaded module's own struct module (THIS_MODULE)\n", owner);
        return Err(EINVAL);
    };
    // The version and size first: another ABI's description may be of
    // another size.
    const HEADER: usize = offset_of!(PatchDesc, name);
    if let Err(b) = m.data(desc, HEADER, align_of::<PatchDesc>()) {
        pr_err!("register: the patch description {}\n", m.why(b));
        return Err(EINVAL);
    }
    // SAFETY: the header lies in the owner's data, aligned (just checked).
    let (version, size) =
        unsafe { (core::ptr::addr_of!((*desc).abi_version).read(), core::ptr::addr_of!((*desc).size).read()) };
    if version != GRAFT_ABI_VERSION || size as usize != size_of::<PatchDesc>() {
        pr_err!(
            "register: patch built against graft ABI {} ({} bytes); this graft.ko speaks ABI {} ({} bytes): rebuild it\n",
            version,
            size,
            GRAFT_ABI_VERSION,
            size_of::<PatchDesc>()
        );
        return Err(EINVAL);
    }
    if let Err(b) = m.data(desc, size_of::<PatchDesc>(), align_of::<PatchDesc>()) {
        pr_err!("register: the patch description {}\n", m.why(b));
        return Err(EINVAL);
    }
    // A C bool is 0 or 1, and a Rust bool must be: read as a byte before
    // the description is read as a `PatchDesc`.
    // SAFETY: `replace` is a byte of the description, which lies in the
    // owner's data (just checked).
    let replace = unsafe { core::ptr::addr_of!((*desc).replace).cast::<u8>().read() };
    if replace > 1 {
        pr_err!("register: replace is {}, not a bool (0 or 1)\n", replace);
        return Err(EINVAL);
    }
    // SAFETY: the whole description lies in the owner's data, aligned
    // (checked above), and stays while the owner registers it (graft.h:
    // it is a static the owner does not change meanwhile); its fields are
    // pointers and integers, valid for every bit pattern, and `replace`,
    // just shown to be 0 or 1.
    let d = unsafe { &*desc };
    let name = match m.string(d.name, desc::NAME_MAX) {
        Ok(n) => n,
        Err(b) => {
            pr_err!("register: the patch name {}\n", m.why(b));
            return Err(EINVAL);
        }
    };
    if let Err(e) = desc::patch_name(name) {
        pr_err!("register: bad patch name '{}': {}\n", Shown(name), Show(e));
        return Err(EINVAL);
    }
    let patch = text_of(name);
    release(&m, d, patch)?;
    objects(&m, d, patch)?;
    states(&m, d, patch)
}

/// The system states: `nstates` entries in the owner's data (or none:
/// NULL and 0), each id non-zero and declared once.  Only `id` and
/// `version` are read (the module owns `data`), into graft's copy.
fn states(m: &Owner<'_>, d: &PatchDesc, patch: &str) -> Result<KVec<State>> {
    let n = d.nstates as usize;
    if n == 0 {
        if !d.states.is_null() {
            pr_err!("{}: states is set but nstates is 0 (no states: NULL and 0)\n", patch);
            return Err(EINVAL);
        }
        return Ok(KVec::new());
    }
    let need = n.checked_mul(size_of::<StateDesc>()).ok_or(EINVAL)?;
    m.data(d.states, need, align_of::<StateDesc>()).map_err(|b| {
        pr_err!("{}: the states array ({} states) {}\n", patch, n, m.why(b));
        EINVAL
    })?;
    let mut out = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| ENOMEM)?;
    for i in 0..n {
        // SAFETY: the `n` entries lie in the owner's data, aligned (just
        // checked), which stays while the owner registers; `id` and
        // `version` are read through raw pointers, no reference to the
        // entry is made (the owner may write `data`).
        let (id, version) = unsafe {
            let p = d.states.add(i);
            (addr_of!((*p).id).read(), addr_of!((*p).version).read())
        };
        out.push(State { id: id as u64, version }, GFP_KERNEL).map_err(|_| ENOMEM)?;
    }
    if let Some(i) = graft_core::state::zero_id(&out) {
        pr_err!("{}: state {} has id 0 (a state's id is non-zero)\n", patch, i + 1);
        return Err(EINVAL);
    }
    let mut ids = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| ENOMEM)?;
    for (i, s) in out.iter().enumerate() {
        ids.push((s.id, i), GFP_KERNEL).map_err(|_| ENOMEM)?;
    }
    if let Some((first, later)) = desc::first_duplicate(&mut ids) {
        pr_err!("{}: state {} declared twice (states {} and {})\n", patch, out[later].id, first + 1, later + 1);
        return Err(EINVAL);
    }
    Ok(out)
}

/// The kernel release the patch was built for, if it names one, is this
/// kernel's.
fn release(m: &Owner<'_>, d: &PatchDesc, patch: &str) -> Result {
    if d.kernel_release.is_null() {
        return Ok(());
    }
    let r = m.string(d.kernel_release, desc::UTS_LEN).map_err(|b| {
        pr_err!("{}: kernel_release {}\n", patch, m.why(b));
        EINVAL
    })?;
    desc::release(r).map_err(|e| {
        pr_err!("{}: bad kernel_release '{}': {}\n", patch, Shown(r), Show(e));
        EINVAL
    })?;
    // SAFETY: the shim returns a static NUL-terminated string.
    let running = unsafe { CStr::from_char_ptr(graft_shim_release()) }.to_bytes();
    if r != running {
        pr_err!("{}: built for kernel {}, this is {}\n", patch, Shown(r), Shown(running));
        return Err(EINVAL);
    }
    Ok(())
}

/// The objects and their functions, and no object twice.
fn objects(m: &Owner<'_>, d: &PatchDesc, patch: &str) -> Result {
    let n = d.nobjs as usize;
    if n == 0 {
        pr_err!("{}: no objects (nobjs is 0)\n", patch);
        return Err(EINVAL);
    }
    let objs = m.array(d.objs, n).map_err(|b| {
        pr_err!("{}: the objects array ({} objects) {}\n", patch, n, m.why(b));
        EINVAL
    })?;
    let mut names = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| ENOMEM)?;
    for (o, obj) in objs.iter().enumerate() {
        let name = object_name(m, obj, o, patch)?;
        names.push((name, o), GFP_KERNEL).map_err(|_| ENOMEM)?;
        functions(m, obj, name.map_or("vmlinux", text_of), patch)?;
    }
    if let Some((_, later)) = desc::first_duplicate(&mut names) {
        let dup = objs[later].name;
        let shown = if dup.is_null() { "vmlinux" } else { m.string(dup, desc::MODULE_NAME_LEN).map_or("?", text_of) };
        pr_err!("{}: object {} named twice\n", patch, shown);
        return Err(EEXIST);
    }
    Ok(())
}

/// Object `o`'s name: `None` for vmlinux (NULL), else a module's name as
/// the kernel spells it.
fn object_name<'a>(m: &Owner<'a>, obj: &ObjectDesc, o: usize, patch: &str) -> Result<Option<&'a [u8]>> {
    if obj.name.is_null() {
        return Ok(None);
    }
    let name = m.string(obj.name, desc::MODULE_NAME_LEN - 1).map_err(|b| {
        pr_err!("{}: object {}: its module name {}\n", patch, o + 1, m.why(b));
        EINVAL
    })?;
    desc::module_name(name).map_err(|e: NameError| {
        pr_err!("{}: object {}: bad module name '{}': {}\n", patch, o + 1, Shown(name), Show(e));
        EINVAL
    })?;
    Ok(Some(name))
}

/// An object's callbacks and functions, and no `<function,sympos>` twice.
fn functions(m: &Owner<'_>, obj: &ObjectDesc, oname: &str, patch: &str) -> Result {
    let cb = &obj.callbacks;
    let callbacks = [
        ("pre_patch", cb.pre_patch.map(|f| f as usize)),
        ("post_patch", cb.post_patch.map(|f| f as usize)),
        ("pre_unpatch", cb.pre_unpatch.map(|f| f as usize)),
        ("post_unpatch", cb.post_unpatch.map(|f| f as usize)),
    ];
    for (what, f) in callbacks {
        if let Some(Err(b)) = f.map(|f| m.text(f)) {
            pr_err!("{}: {}'s {} callback {}\n", patch, oname, what, m.why(b));
            return Err(EINVAL);
        }
    }
    let n = obj.nfuncs as usize;
    if n == 0 {
        pr_err!("{}: object {} has no functions (nfuncs is 0)\n", patch, oname);
        return Err(EINVAL);
    }
    let funcs: &[FuncDesc] = m.array(obj.funcs, n).map_err(|b| {
        pr_err!("{}: {}'s functions array ({} functions) {}\n", patch, oname, n, m.why(b));
        EINVAL
    })?;
    let mut keys = KVec::with_capacity(n, GFP_KERNEL).map_err(|_| ENOMEM)?;
    for (k, f) in funcs.iter().enumerate() {
        if f.old_name.is_null() {
            pr_err!("{}: function {} of {} has no name\n", patch, k + 1, oname);
            return Err(EINVAL);
        }
        let name = m.string(f.old_name, desc::KSYM_NAME_LEN - 1).map_err(|b| {
            pr_err!("{}: function {} of {}: its name {}\n", patch, k + 1, oname, m.why(b));
            EINVAL
        })?;
        desc::symbol_name(name).map_err(|e| {
            pr_err!("{}: function {} of {}: bad name '{}': {}\n", patch, k + 1, oname, Shown(name), Show(e));
            EINVAL
        })?;
        let fname = text_of(name);
        if f.new_func.is_null() {
            pr_err!("{}: {} has no replacement function\n", patch, fname);
            return Err(EINVAL);
        }
        m.text(f.new_func.addr()).map_err(|b| {
            pr_err!("{}: {}'s replacement function {}\n", patch, fname, m.why(b));
            EINVAL
        })?;
        let pos = f.old_sympos as u64;
        if !desc::sympos_ok(pos) {
            pr_err!("{}: {}: old_sympos {} is no position (at most {})\n", patch, fname, pos, desc::MAX_SYMPOS);
            return Err(EINVAL);
        }
        if !f.preimage.is_null() {
            preimage(m, patch, fname, f.preimage)?;
        }
        keys.push(((name, desc::sympos_key(pos)), k), GFP_KERNEL).map_err(|_| ENOMEM)?;
    }
    if let Some((first, later)) = desc::first_duplicate(&mut keys) {
        // Both names were read above.
        let name = m.string(funcs[later].old_name, desc::KSYM_NAME_LEN).map_or("?", text_of);
        pr_err!(
            "{}: {} named twice in {} (functions {} and {}, old_sympos {} and {})\n",
            patch,
            name,
            oname,
            first + 1,
            later + 1,
            funcs[first].old_sympos,
            funcs[later].old_sympos
        );
        return Err(EEXIST);
    }
    Ok(())
}

/// A function's pre-image, where the module keeps it: the structure and
/// its masks in the module's data, the size and the masks as
/// graft_core::preimage::check() wants them (in order, apart, inside).
fn preimage(m: &Owner<'_>, patch: &str, fname: &str, p: *const Preimage) -> Result {
    let pre: &[Preimage] = m.array(p, 1).map_err(|b| {
        pr_err!("{}: {}'s pre-image {}\n", patch, fname, m.why(b));
        EINVAL
    })?;
    let pre = &pre[0];
    let n = pre.nmasks as usize;
    let masks: &[PreimageMask] = if n == 0 {
        &[]
    } else {
        m.array(pre.masks, n).map_err(|b| {
            pr_err!("{}: {}'s pre-image masks ({}) {}\n", patch, fname, n, m.why(b));
            EINVAL
        })?
    };
    preimage::check(pre.size as u64, core_masks(masks)).map_err(|e| {
        match e {
            preimage::MaskError::Size => {
                pr_err!("{}: {}'s pre-image: size {} (at most {})\n", patch, fname, pre.size, preimage::MAX_SIZE)
            }
            preimage::MaskError::Mask { index } => pr_err!(
                "{}: {}'s pre-image: mask {} is empty, out of order or past the function's {} bytes\n",
                patch,
                fname,
                index + 1,
                pre.size
            ),
        }
        EINVAL
    })
}

/// A module's pre-image masks as graft-core's: the same layout (ffi.rs
/// checks it against graft.h's).
pub(crate) fn core_masks(masks: &[PreimageMask]) -> &[preimage::Mask] {
    // SAFETY: `PreimageMask` and `preimage::Mask` are both #[repr(C)]
    // pairs of u32 at the same offsets (asserted in ffi.rs), so the slice
    // is the same memory read as the other type, for the same lifetime.
    unsafe { core::slice::from_raw_parts(masks.as_ptr().cast::<preimage::Mask>(), masks.len()) }
}

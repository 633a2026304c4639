// SPDX-License-Identifier: GPL-2.0
//! Module objects (graft.h's `graft_object_desc.name`): a patch may replace
//! functions of a module, loaded or not, with upstream livepatch's
//! semantics (kernel/livepatch/core.c klp_module_coming() and
//! klp_module_going(), Documentation/livepatch/livepatch.rst):
//!
//! * at registration, an object whose module is loaded is resolved
//!   (`module:symbol`) like vmlinux; one whose module is not loaded is
//!   *deferred*: the patch registers and enables without it and its
//!   `<patch>/<module>/patched` reads 0;
//! * when the module loads, a module notifier (`MODULE_STATE_COMING`, run
//!   by kernel/module/main.c prepare_coming_module() after
//!   ftrace_module_enable(), so the module's ftrace records are live, and
//!   before the module's init) patches its functions in the patch's current
//!   state: nothing can be running them yet (graft-core's
//!   `Engine::set_funcs`).  If that fails, the module is refused, as
//!   upstream's klp_module_coming() refuses it;
//! * when it unloads (`MODULE_STATE_GOING`, after its exit, while its ftrace
//!   records still exist), its functions are unpatched first.
//!
//! A resolved function list changes when a module comes or goes while the
//! engine holds the old one: each patch slot has two buffers (allocated at
//! registration, as long as the patch's function list), the engine holds
//! one, the other is written and handed over (`Engine::set_funcs`), then
//! `publish` gives the handler the new view.  A function of a module that
//! is not loaded is `ResolvedFunc::ABSENT`, its site 0.
//!
//! Symbols are resolved from `/proc/kallsyms` (`ksyms.rs`): vmlinux's from
//! the table built at load, a module's by one pass over the file, which
//! lists a COMING module's symbols (kernel/module/kallsyms.c lists every
//! module but UNFORMED ones).  Nothing is registered to find an address
//! (a disabled kprobe, the earlier way, changed how later kprobes on the
//! function were armed).  Only the symbol's start is taken: the backend
//! finds the ftrace site from it (`resolve_func`).

use super::{
    add_rows, callbacks, check_site, cstr, desc_name, engine_errno, grow, prune_rows, sites_get, sites_put,
    sym_off_size, Cold, ColdGuard, FuncDesc, ObjectDesc, PatchDesc, LOG_EACH_SITE,
};
use crate::abi::{Preimage, PreimageMask};
use crate::ffi::{GRAFT_ATTR_CALLBACKS, GRAFT_ATTR_FUNCTIONS, GRAFT_ATTR_PATCHED};
use crate::kenv::{self, SysfsPage, KSYM_BUF};
use crate::validate::core_masks;
use graft_core::kallsyms::{Lookup, SymError};
use graft_core::preimage;
use graft_core::{ModuleState, ResolvedFunc, State, TextAddr};
use kernel::{
    bindings,
    error::to_result,
    ffi::{c_char, c_int},
    prelude::*,
};

#[path = "ksyms.rs"]
pub(crate) mod ksyms;

use crate::ffi::{graft_shim_module_notifier, graft_shim_now_ns, graft_shim_obj_dir, graft_shim_read_file};

/// Module init (GRAFT_MUTEX held by `engine::init`): watch modules come and
/// go.
pub(super) fn init(cold: &mut Cold) -> Result {
    to_result(graft_shim_module_notifier(true))?;
    // vmlinux's symbols, tabled now (one pass over /proc/kallsyms) so that
    // no registration waits for it.
    ksyms::init(&mut cold.ksyms);
    Ok(())
}

/// Module exit (no patch is registered: patch modules depend on graft.ko).
pub(super) fn exit() {
    graft_shim_module_notifier(false);
}

/// A slot's functions, their sites and its objects ([`Cold::objs`], the
/// slot's index), all sized at registration.
pub(super) struct SlotObjs {
    /// Which of `bufs` the engine holds.
    gen: usize,
    /// The resolved functions, twice (see the module comment): the engine
    /// holds a `&'static` borrow of `bufs[gen]` (its `PatchRec::funcs`),
    /// the glue writes the other.  Neither is resized or dropped while the
    /// engine holds it.
    bufs: [KVVec<ResolvedFunc>; 2],
    /// Each function's ftrace site (0: its module is not loaded).
    pub(super) sites: KVec<u64>,
    /// Per object: loaded (vmlinux always).
    loaded: KVec<bool>,
    /// `<patch>/<object>` directories.
    dirs: KVec<*mut bindings::kobject>,
    /// The patch's system states (graft's copy, read at validation): the
    /// engine holds a `&'static` borrow (its `PatchRec::states`); never
    /// changed while it does.
    states: KVec<State>,
}

// SAFETY: `dirs` are sysfs directories graft created; no thread owns them.
unsafe impl Send for SlotObjs {}

impl SlotObjs {
    /// A free slot's: nothing allocated.
    pub(super) const fn new() -> Self {
        SlotObjs {
            gen: 0,
            bufs: [KVVec::new(), KVVec::new()],
            sites: KVec::new(),
            loaded: KVec::new(),
            dirs: KVec::new(),
            states: KVec::new(),
        }
    }

    /// Nothing the engine could hold.
    pub(super) fn is_free(&self) -> bool {
        self.bufs[0].is_empty() && self.bufs[1].is_empty()
    }

    /// Room for a patch of `nfuncs` functions in `nobjs` objects, every
    /// function absent.
    fn alloc(nfuncs: usize, nobjs: usize) -> Result<Self> {
        let absent = || KVVec::from_elem(ResolvedFunc::ABSENT, nfuncs, GFP_KERNEL);
        let mut dirs = KVec::new();
        dirs.reserve(nobjs, GFP_KERNEL)?;
        Ok(SlotObjs {
            gen: 0,
            bufs: [absent()?, absent()?],
            sites: KVec::from_elem(0, nfuncs, GFP_KERNEL)?,
            loaded: KVec::from_elem(false, nobjs, GFP_KERNEL)?,
            dirs,
            states: KVec::new(),
        })
    }
}

/// The buffer of slot `si` that the engine does not hold, as a copy of the
/// one it holds, and its generation (the value `gen` takes once the engine
/// holds it).
///
/// # Safety
///
/// The engine does not hold that buffer (it holds buffer `gen` of the
/// slot, or none of the slot's when the slot is being registered), and
/// nothing uses a reference an earlier `spare` returned for it any more:
/// the caller writes it, may hand it to the engine (`Engine::set_funcs`,
/// `register`) and then sets `gen` to it, after which it only reads it
/// through the engine; and it neither resizes nor drops the slot's buffers
/// while the returned reference is used.
unsafe fn spare(cold: &mut Cold, si: usize) -> (usize, &'static mut [ResolvedFunc]) {
    let o = &mut cold.objs[si];
    let gen = o.gen;
    let [b0, b1] = &mut o.bufs;
    let (held, spare) = if gen == 0 { (&*b0, b1) } else { (&*b1, b0) };
    for (d, s) in spare.iter_mut().zip(held.iter()) {
        *d = *s;
    }
    let (p, n) = (spare.as_mut_ptr(), spare.len());
    // SAFETY: the spare buffer's elements, which nothing else refers to
    // (the caller's guarantee) and which stay allocated and unmoved while
    // the reference is used (the buffers are resized only at registration).
    (gen ^ 1, unsafe { core::slice::from_raw_parts_mut(p, n) })
}

/// Object `o`'s functions and the index of its first one in the patch.
fn obj_funcs(d: &PatchDesc, o: usize) -> (usize, &[FuncDesc]) {
    let objs = d.objs();
    let first = objs[..o].iter().map(|x| x.nfuncs as usize).sum();
    let f = &objs[o];
    if f.funcs.is_null() {
        return (first, &[]);
    }
    // SAFETY: `funcs` points at `nfuncs` static descriptions.
    (first, unsafe { core::slice::from_raw_parts(f.funcs, f.nfuncs as usize) })
}

/// An object's name: `None` for vmlinux.
fn obj_name(d: &PatchDesc, o: usize) -> Option<&str> {
    let p = d.objs()[o].name;
    (!p.is_null()).then(|| cstr(p))
}

/// Resolve and check one function of object `obj`, found at `addr` (any
/// address in it: a lookup's answer): its symbol's start and size, from
/// which the backend finds the ftrace site.  Returns the function and its
/// site.
fn resolve_func(patch: &str, obj: Option<&str>, f: &FuncDesc, addr: u64, log: bool) -> Result<(ResolvedFunc, u64)> {
    let fname = cstr(f.old_name);
    // Upstream's klp_find_object_symbol() answers -EINVAL for a name its
    // object does not have.
    if addr == 0 {
        pr_err!("{}: unknown symbol {}{}{}\n", patch, obj.unwrap_or(""), if obj.is_some() { ":" } else { "" }, fname);
        return Err(EINVAL);
    }
    // A vmlinux object's names come from vmlinux's symbols only; checked
    // again on the symbol found: a vmlinux object must not reach a
    // module's function.
    let mut buf = [0u8; KSYM_BUF];
    let desc = kenv::describe(addr, &mut buf);
    if obj.is_none() && desc.contains('[') {
        pr_err!("{}: {} is not in vmlinux ({})\n", patch, fname, desc);
        return Err(EINVAL);
    }
    let (off, size) = sym_off_size(addr).ok_or(EINVAL)?;
    let new = f.new_func.addr() as u64;
    let new_size = sym_off_size(new).map_or(1, |(_, s)| s);
    let old = TextAddr(addr - off);
    let site = check_site(patch, fname, old, log.then_some("before enabling"))?;
    Ok((ResolvedFunc { old, old_size: size, new: TextAddr(new), new_size }, site.addr.0))
}

/// Each function of object `o`, in kallsyms order (upstream's
/// klp_find_object_symbol(), kernel/livepatch/core.c): how many symbols
/// of its name the object has and the address of the `old_sympos`-th
/// (the only one for 0; 0 if it has none).  A module object takes one
/// pass over /proc/kallsyms; vmlinux uses the table of its shared names
/// built at module init (`ksyms.rs`).
fn scan<'a>(
    table: &mut ksyms::Symbols,
    patch: &str,
    obj: Option<&str>,
    fs: &'a [FuncDesc],
) -> Result<(KVec<Lookup<'a>>, KVec<u64>)> {
    let mut lookups = KVec::with_capacity(fs.len(), GFP_KERNEL)?;
    for f in fs {
        // SAFETY: the patch module's names are static and NUL-terminated.
        let name = unsafe { CStr::from_char_ptr(f.old_name) }.to_bytes();
        lookups.push(Lookup::new(name, f.old_sympos as u64), GFP_KERNEL)?;
    }
    let mut addrs = KVec::from_elem(0u64, fs.len(), GFP_KERNEL)?;
    let t0 = graft_shim_now_ns();
    let r = match obj {
        None => ksyms::vmlinux(table, &mut lookups, &mut addrs),
        Some(m) => ksyms::module(table, m.as_bytes(), &mut lookups, &mut addrs),
    };
    let us = (graft_shim_now_ns() - t0) / 1000;
    if let Err(err) = r {
        pr_err!("{}: cannot read /proc/kallsyms to resolve {} ({})\n", patch, obj.unwrap_or("vmlinux"), err);
        return Err(Error::from_errno(err));
    }
    pr_info!("{}: {} symbols looked up in {}.{:03} ms\n", patch, obj.unwrap_or("vmlinux"), us / 1000, us % 1000);
    Ok((lookups, addrs))
}

/// Whether the function starting at `addr` is the one `pre` describes
/// (graft.h `struct graft_preimage`): its first `size` bytes, read with
/// copy_from_kernel_nofault(), masked and hashed as when the patch was
/// built.  Unreadable text does not match.
fn preimage_matches(pre: &Preimage, addr: u64) -> Result<bool> {
    let mut code = KVVec::with_capacity(pre.size, GFP_KERNEL)?;
    code.resize(pre.size, 0, GFP_KERNEL)?;
    if kenv::read_kernel(addr, &mut code).is_err() {
        return Ok(false);
    }
    let masks: &[PreimageMask] = if pre.nmasks == 0 {
        &[]
    } else {
        // SAFETY: registration checked that `nmasks` masks lie at `masks`
        // in the owner's data (validate.rs `preimage`); the owner stays
        // loaded while its patch is registered and does not change them.
        unsafe { core::slice::from_raw_parts(pre.masks, pre.nmasks as usize) }
    };
    Ok(preimage::hash(&code, core_masks(masks)) == pre.hash)
}

/// The copy of function `f` whose running code matches its pre-image:
/// `addr` (its `old_sympos`-th symbol, 0 if its name is ambiguous
/// without one) if it matches, else the one of the `count` symbols of
/// its name that does.  None, or more than one, refuses the patch: it was
/// built from another source or configuration than the running kernel.
fn pick_by_preimage(
    table: &mut ksyms::Symbols,
    patch: &str,
    obj: Option<&str>,
    f: &FuncDesc,
    addr: u64,
    count: u64,
    log: bool,
) -> Result<u64> {
    let fname = cstr(f.old_name);
    // SAFETY: registration checked the pre-image (validate.rs
    // `preimage`): it lies in the owner's data, which stays while the
    // patch is registered, unchanged.
    let pre = unsafe { &*f.preimage };
    if addr != 0 && preimage_matches(pre, addr)? {
        if log {
            pr_info!(
                "{}: {}: the running code matches the patch's pre-image ({} bytes, {} masks)\n",
                patch,
                fname,
                pre.size,
                pre.nmasks
            );
        }
        return Ok(addr);
    }
    // SAFETY: the patch module's names are static and NUL-terminated.
    let name = unsafe { CStr::from_char_ptr(f.old_name) }.to_bytes();
    let (mut found, mut matches) = (0u64, 0u64);
    for pos in (1..=count).filter(|_| count > 1) {
        let mut l = [Lookup::new(name, pos)];
        let mut a = [0u64];
        match obj {
            None => ksyms::vmlinux(table, &mut l, &mut a),
            Some(m) => ksyms::module(table, m.as_bytes(), &mut l, &mut a),
        }
        .map_err(Error::from_errno)?;
        if a[0] != 0 && a[0] != addr && preimage_matches(pre, a[0])? {
            (found, matches) = (a[0], matches + 1);
            let which = if f.old_sympos != 0 { " (not old_sympos's): patching that one" } else { "" };
            pr_info!(
                "{}: {}: the running code of its symbol {} of {} matches the patch's pre-image{}\n",
                patch,
                fname,
                pos,
                count,
                which
            );
        }
    }
    match matches {
        1 => Ok(found),
        0 => {
            pr_err!(
                "{}: {}: the running code does not match the patch's pre-image (the patch was built from another source or configuration than this kernel): refused\n",
                patch,
                fname
            );
            Err(EINVAL)
        }
        n => {
            pr_err!(
                "{}: {}: {} of its {} symbols match the patch's pre-image: which one is meant is unknown: refused\n",
                patch,
                fname,
                n,
                count
            );
            Err(EINVAL)
        }
    }
}

/// Resolve object `o` of patch `d` into `out` and `sites` (the patch's
/// functions and their sites); `Err` leaves them partly written (the
/// caller drops them).
fn resolve_obj(
    table: &mut ksyms::Symbols,
    d: &PatchDesc,
    o: usize,
    out: &mut [ResolvedFunc],
    sites: &mut [u64],
) -> Result {
    let patch = cstr(d.name);
    let obj = obj_name(d, o);
    let oname = obj.unwrap_or("vmlinux");
    let (first, fs) = obj_funcs(d, o);
    let (found, addrs) = scan(table, patch, obj, fs)?;
    let log = out.len() <= LOG_EACH_SITE;
    for (k, f) in fs.iter().enumerate() {
        let i = first + k;
        let fname = cstr(f.old_name);
        let addr = match found[k].check() {
            Ok(()) if f.preimage.is_null() => addrs[k],
            // Checked against the pre-image, which may pick another copy.
            Ok(()) => pick_by_preimage(table, patch, obj, f, addrs[k], found[k].count, log)?,
            Err(SymError::Ambiguous { count }) if !f.preimage.is_null() => {
                pick_by_preimage(table, patch, obj, f, 0, count, log)?
            }
            Err(SymError::NotFound) => 0, // unknown: resolve_func() says so
            // As upstream: an ambiguous name needs its position.
            Err(SymError::Ambiguous { count }) => {
                pr_err!(
                    "{}: {} is ambiguous in {} ({} symbols): old_sympos must say which\n",
                    patch,
                    fname,
                    oname,
                    count
                );
                return Err(EINVAL);
            }
            Err(SymError::NoSuchPosition { sympos, count }) => {
                pr_err!(
                    "{}: {}: old_sympos {}, but {} has {} symbol(s) of that name\n",
                    patch,
                    fname,
                    sympos,
                    oname,
                    count
                );
                return Err(EINVAL);
            }
        };
        let (func, site) = resolve_func(patch, obj, f, addr, log)?;
        if sites.contains(&site) {
            pr_err!("{}: {} named twice\n", patch, fname);
            return Err(EINVAL);
        }
        out[i] = func;
        sites[i] = site;
    }
    if !log {
        pr_info!("{}: {}: {} ftrace sites found, disabled, before enabling\n", patch, oname, fs.len());
    }
    Ok(())
}

/// Registration: room for slot `si`'s functions and objects, then every
/// object that is loaded resolved into the slot's first buffer; a module
/// that is not loaded is deferred.  Returns the functions (as many as the
/// patch has, absent ones [`ResolvedFunc::ABSENT`]), for the engine to hold.
pub(super) fn resolve(cold: &mut Cold, si: usize, d: &PatchDesc) -> Result<&'static [ResolvedFunc]> {
    let name = cstr(d.name);
    let nobjs = d.objs().len();
    cold.objs[si] = SlotObjs::alloc(d.funcs().count(), nobjs)?;
    // SAFETY: the slot is being registered: the engine holds neither of its
    // fresh buffers; this one goes to the engine (the caller's
    // `Engine::register`) with `gen` set to it below, the other stays spare.
    let (gen, out) = unsafe { spare(cold, si) };
    for o in 0..nobjs {
        if let Some(m) = obj_name(d, o) {
            if !module_loaded(m) {
                pr_info!("{}: module {} is not loaded: patched when it loads\n", name, m);
                continue;
            }
        }
        let st = &mut cold.objs[si];
        resolve_obj(&mut cold.ksyms, d, o, out, &mut st.sites)?;
        st.loaded[o] = true;
    }
    cold.objs[si].gen = gen;
    Ok(out)
}

/// Registration, after [`resolve`]: slot `si` keeps the patch's states;
/// returns them for the engine to hold.
pub(super) fn keep_states(cold: &mut Cold, si: usize, states: KVec<State>) -> &'static [State] {
    let o = &mut cold.objs[si];
    o.states = states;
    let (p, n) = (o.states.as_ptr(), o.states.len());
    // SAFETY: the slot's own vector, which is neither changed nor dropped
    // while the engine holds the patch: the slot's `SlotObjs` is replaced
    // only once the engine has forgotten the patch (`forget`), and by the
    // next `resolve` of a free slot.
    unsafe { core::slice::from_raw_parts(p, n) }
}

/// `/sys/module/<m>/initstate` reads `live` or `coming`
/// (kernel/module/main.c show_initstate(); graft-core's `ModuleState`).
/// A builtin module has no initstate: never loaded, as upstream's
/// klp_is_module() objects.
fn module_loaded(m: &str) -> bool {
    const DIR: &[u8] = b"/sys/module/";
    const FILE: &[u8] = b"/initstate";
    // MODULE_NAME_LEN (56) fits, with the NUL.
    let mut path = [0u8; 96];
    let n = DIR.len() + m.len() + FILE.len();
    if m.len() >= 64 || m.contains('/') || n >= path.len() {
        return false;
    }
    path[..DIR.len()].copy_from_slice(DIR);
    path[DIR.len()..DIR.len() + m.len()].copy_from_slice(m.as_bytes());
    path[DIR.len() + m.len()..n].copy_from_slice(FILE);
    let mut text = [0u8; 16];
    // SAFETY: `path` is NUL-terminated (zeroed past `n`); `text` is valid
    // for its length.
    let r = unsafe { graft_shim_read_file(path.as_ptr().cast(), text.as_mut_ptr(), text.len()) };
    usize::try_from(r).is_ok_and(|r| ModuleState::parse(&text[..r.min(text.len())]).is_some_and(ModuleState::is_loaded))
}

/// The `<patch>/<object>` directories under `dir`.
pub(super) fn create_dirs(cold: &mut Cold, si: usize, d: &PatchDesc, dir: *mut bindings::kobject) -> Result {
    for o in 0..d.objs().len() {
        let mut err = 0;
        let n = d.objs()[o].name;
        let n = if n.is_null() { c"vmlinux".as_char_ptr() } else { n };
        // SAFETY: `dir` is the patch's kobject; `n` is NUL-terminated.
        let k = unsafe { graft_shim_obj_dir(dir, n, &mut err) };
        if k.is_null() {
            return Err(Error::from_errno(err));
        }
        // Room reserved by `SlotObjs::alloc`: cannot fail.
        let _ = cold.objs[si].dirs.push_within_capacity(k);
    }
    Ok(())
}

/// Take slot `si`'s object directories (to remove outside the mutex when
/// sysfs readers may wait for it, see `graft_rs_unregister`).
pub(super) fn take_dirs(cold: &mut Cold, si: usize) -> KVec<*mut bindings::kobject> {
    core::mem::take(&mut cold.objs[si].dirs)
}

/// The registered slot next in registration order (ids grow) after the
/// one with id `after` (from the start for `None`; `down`: newest first),
/// and its id: slots in the order upstream walks `klp_patches`, without
/// allocating.
fn next_by_id(cold: &Cold, after: Option<u32>, down: bool) -> Option<(usize, u32)> {
    let ids = cold.slots.iter().enumerate().filter_map(|(si, s)| s.map(|s| (s.id.0, si)));
    let found = if down {
        ids.filter(|&(id, _)| after.is_none_or(|a| id < a)).max()
    } else {
        ids.filter(|&(id, _)| after.is_none_or(|a| id > a)).min()
    };
    found.map(|(id, si)| (si, id))
}

/// The object of slot `si` named `m`.
fn find_obj(cold: &Cold, si: usize, m: &str) -> Option<usize> {
    let s = cold.slots[si]?;
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    (0..d.objs().len()).find(|&o| obj_name(d, o) == Some(m))
}

/// The module notifier (`shim.c`): `going` false for `MODULE_STATE_COMING`,
/// true for `MODULE_STATE_GOING`.  A non-zero return refuses the module.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_module_event(module: *const c_char, going: bool) -> c_int {
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    let m = cstr(module);
    // A module's symbols tabled while it was loaded are not its next load's.
    ksyms::forget_module(&mut cold.ksyms, m.as_bytes());
    if going {
        let mut at = next_by_id(cold, None, true);
        while let Some((si, id)) = at {
            if let Some(o) = find_obj(cold, si, m) {
                going_one(cold, si, o, m);
            }
            at = next_by_id(cold, Some(id), true);
        }
        return 0;
    }
    let mut at = next_by_id(cold, None, false);
    while let Some((si, id)) = at {
        if let Some(o) = find_obj(cold, si, m) {
            if let Err(e) = coming_one(cold, si, o, m) {
                let patch = cold.slots[si].map_or("?", |s| desc_name(s.desc));
                pr_err!("{}: cannot patch loading module {} ({}): refusing to load it\n", patch, m, e.to_errno());
                let mut back = next_by_id(cold, Some(id), true);
                while let Some((sj, jd)) = back {
                    if let Some(o) = find_obj(cold, sj, m) {
                        going_one(cold, sj, o, m);
                    }
                    back = next_by_id(cold, Some(jd), true);
                }
                return e.to_errno();
            }
        }
        at = next_by_id(cold, Some(id), false);
    }
    0
}

/// After `Engine::set_funcs` for slot `si`: `gen` names the buffer the
/// engine holds now (it takes the new one before it can fail on a full
/// function stack, so success alone does not say which).
fn note_held(cold: &mut Cold, si: usize) {
    let Some(s) = cold.slots[si] else { return };
    let Some(held) = cold.engine.as_ref().and_then(|e| e.rec(s.id)).map(|r| r.funcs.as_ptr()) else { return };
    let o = &mut cold.objs[si];
    if let Some(gen) = (0..2).find(|&gen| core::ptr::eq(held, o.bufs[gen].as_ptr())) {
        o.gen = gen;
    }
}

/// Module `m`, object `o` of slot `si`, is coming: resolve and patch it.
fn coming_one(cold: &mut Cold, si: usize, o: usize, m: &str) -> Result {
    let Some(s) = cold.slots[si] else { return Ok(()) };
    if cold.objs[si].loaded[o] {
        return Ok(()); // resolved at registration, which ran first
    }
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let name = desc_name(s.desc);
    let (first, fs) = obj_funcs(d, o);
    let range = first..first + fs.len();
    // Room for the new sites' rows (the engine's room counts the patch's
    // every function already).
    grow(cold, 0, fs.len())?;
    let mut sites = KVec::new();
    sites.extend_from_slice(&cold.objs[si].sites, GFP_KERNEL)?;
    // SAFETY: the engine holds buffer `gen` (registered slot), not this
    // one; it is written here, then handed to the engine by `set_funcs`
    // below, after which `note_held` makes it `gen`; the reference is not
    // used past this function and the buffers are not resized meanwhile.
    let (_, buf) = unsafe { spare(cold, si) };
    resolve_obj(&mut cold.ksyms, d, o, buf, &mut sites)?;
    let obj = &d.objs()[o];
    // Upstream's klp_module_coming(): the object's pre_patch first (it may
    // refuse the module), post_unpatch if patching then fails.
    if s.ops_held {
        callbacks::pre_patch(cold, obj)
            .inspect_err(|e| pr_err!("{}: pre_patch callback of {} failed ({})\n", name, m, e.to_errno()))?;
    }
    let buf: &'static [ResolvedFunc] = buf;
    // The sites' rows first (the published view has no target for them
    // until `publish`), then the sites join graft's ftrace_ops: until the
    // view has the entries, the handler runs the original.
    add_rows(&mut cold.sites, &sites[range.clone()], &buf[range.clone()]);
    let old_sites = core::mem::replace(&mut cold.objs[si].sites, sites);
    let undo = |cold: &mut Cold, old_sites| {
        cold.objs[si].sites = old_sites;
        prune_rows(cold);
    };
    if s.ops_held {
        if let Err(e) = sites_get(cold, si, range.clone()) {
            pr_err!("{}: ftrace registration of module {} failed ({})\n", name, m, e.to_errno());
            undo(cold, old_sites);
            callbacks::post_unpatch(cold, obj);
            return Err(e);
        }
    }
    let r = match cold.engine.as_mut() {
        Some(e) => e.set_funcs(s.id, buf).map_err(engine_errno),
        None => Err(EINVAL),
    };
    note_held(cold, si);
    let in_transition = cold.engine.as_ref().and_then(|e| e.transition_patch()) == Some(s.id);
    if let Err(e) = r {
        if s.ops_held {
            sites_put(cold, si, range.clone());
            callbacks::post_unpatch(cold, obj);
        }
        undo(cold, old_sites);
        return Err(e);
    }
    super::publish(cold);
    cold.objs[si].loaded[o] = true;
    if s.ops_held {
        pr_info!("{}: patching loading module {} ({} function(s))\n", name, m, fs.len());
        // In a transition, its completion runs post_patch of every loaded
        // object; otherwise now (klp_module_coming()).
        if !in_transition {
            callbacks::post_patch(obj);
            // Settled at once: the fast path, once the mutex is free.
            super::fast::kick(cold);
        }
    } else {
        pr_info!("{}: loading module {} resolved (patch disabled)\n", name, m);
    }
    Ok(())
}

/// Module `m`, object `o` of slot `si`, is going: unpatch it first.
fn going_one(cold: &mut Cold, si: usize, o: usize, m: &str) {
    let Some(s) = cold.slots[si] else { return };
    if !cold.objs[si].loaded[o] {
        return;
    }
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let (first, fs) = obj_funcs(d, o);
    let range = first..first + fs.len();
    // SAFETY: as in `coming_one`: not the engine's buffer, written here,
    // handed over by `set_funcs` below and then named by `note_held`.
    let (_, buf) = unsafe { spare(cold, si) };
    buf[range.clone()].fill(ResolvedFunc::ABSENT);
    let buf: &'static [ResolvedFunc] = buf;
    let obj = &d.objs()[o];
    // Its functions' direct calls first: their rows change below.
    super::fast::leave_going(cold, &super::fast::Sites::OfRange(si, range.clone()));
    // Upstream's klp_cleanup_module_patches_limited(): pre_unpatch unless
    // the patch is in transition, unpatch, post_unpatch.
    let in_transition = cold.engine.as_ref().and_then(|e| e.transition_patch()) == Some(s.id);
    if s.ops_held && !in_transition {
        callbacks::pre_unpatch(obj);
    }
    if let Some(e) = cold.engine.as_mut() {
        if let Err(e) = e.set_funcs(s.id, buf) {
            pr_err!("{}: unpatching module {}: {}\n", desc_name(s.desc), m, kenv::Show(e));
        }
    }
    note_held(cold, si);
    // The handler stops redirecting the module's functions (returns once
    // no handler sees the previous view), then their sites leave ftrace.
    super::publish(cold);
    if s.ops_held {
        sites_put(cold, si, range.clone());
    }
    // Rows of sites no patch replaces any more.
    cold.objs[si].sites[range].fill(0);
    prune_rows(cold);
    super::publish(cold);
    if s.ops_held {
        pr_info!("{}: unpatched unloading module {}\n", desc_name(s.desc), m);
        callbacks::post_unpatch(cold, obj);
    }
    cold.objs[si].loaded[o] = false;
}

/// Whether `obj` (an object of a registered patch) is loaded: vmlinux
/// always, a module while graft has it resolved (upstream's
/// klp_is_object_loaded()).
pub(super) fn loaded(cold: &Cold, obj: &ObjectDesc) -> bool {
    if obj.name.is_null() {
        return true;
    }
    for (si, s) in cold.slots.iter().enumerate() {
        let Some(s) = s else { continue };
        // SAFETY: the description is a static of the loaded patch module.
        let d = unsafe { &*s.desc };
        if let Some(o) = d.objs().iter().position(|x| core::ptr::eq(x, obj)) {
            return cold.objs[si].loaded.get(o).copied().unwrap_or(false);
        }
    }
    false
}

/// sysfs `<patch>/<object>/...`: `patched` (the patch holds its functions'
/// ftrace ops, from enable until unpatched, and the object is loaded),
/// `functions` (a line per function: `<name>,<sympos> site=<site>
/// new=<replacement>`, the sysfs name upstream gives a function's directory
/// and where its ftrace site is, `sprint_symbol()`'s `name+off/size`, or
/// `-` while the object's module is not loaded) and `callbacks` (the names
/// of the callbacks it has, on one line; empty without any).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_show_obj(patch: *const c_char, obj: *const c_char, attr: c_int, buf: *mut u8) -> isize {
    let einval = EINVAL.to_errno() as isize;
    let g = ColdGuard::lock();
    let Some(si) = super::find_slot(&g, cstr(patch)) else { return einval };
    let Some(s) = g.slots[si] else { return einval };
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let want = Some(cstr(obj)).filter(|&n| n != "vmlinux");
    let Some(o) = (0..d.objs().len()).find(|&o| obj_name(d, o) == want) else { return einval };
    let loaded = g.objs[si].loaded.get(o).copied().unwrap_or(false);
    match attr {
        GRAFT_ATTR_PATCHED => {
            let v = s.ops_held && loaded;
            // SAFETY: sysfs hands a PAGE_SIZE buffer; two bytes written.
            unsafe {
                *buf = if v { b'1' } else { b'0' };
                *buf.add(1) = b'\n';
            }
            2
        }
        GRAFT_ATTR_FUNCTIONS => {
            // SAFETY: sysfs hands show() its page, used by nothing else here.
            let mut page = unsafe { SysfsPage::new(buf) };
            let (first, funcs) = obj_funcs(d, o);
            let (mut site, mut new) = ([0u8; KSYM_BUF], [0u8; KSYM_BUF]);
            for (k, f) in funcs.iter().enumerate() {
                let ip = g.objs[si].sites.get(first + k).copied().unwrap_or(0);
                let at = if ip == 0 { "-" } else { kenv::describe(ip, &mut site) };
                let to = kenv::symbol_name(f.new_func.addr() as u64, &mut new).unwrap_or("?");
                // upstream names <function,sympos> with 0 shown as 1
                let pos = f.old_sympos.max(1);
                // How its calls reach a version now: graft's handler, the
                // fast path's direct call (`pending`: on the handler, queued
                // for it), or neither (disabled, absent).
                let path = match g.sites.iter().find(|u| ip != 0 && u.ip == ip) {
                    Some(u) if u.direct.as_ref().is_some_and(|d| !d.shared()) => "direct",
                    Some(u) if u.pending => "pending",
                    Some(u) if u.users > 0 => "handler",
                    _ => "-",
                };
                page.line(format_args!("{},{} site={} new={} path={}", cstr(f.old_name), pos, at, to, path));
            }
            page.finish()
        }
        GRAFT_ATTR_CALLBACKS => {
            // SAFETY: sysfs hands show() its page, used by nothing else here.
            let mut page = unsafe { SysfsPage::new(buf) };
            let cb = &d.objs()[o].callbacks;
            let has = [
                ("pre_patch", cb.pre_patch.is_some()),
                ("post_patch", cb.post_patch.is_some()),
                ("pre_unpatch", cb.pre_unpatch.is_some()),
                ("post_unpatch", cb.post_unpatch.is_some()),
            ];
            if has.iter().any(|h| h.1) {
                page.line(format_args!("{}", Present(has)));
            }
            page.finish()
        }
        _ => einval,
    }
}

/// The callbacks an object has, space-separated.
struct Present<'a>([(&'a str, bool); 4]);

impl core::fmt::Display for Present<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut sep = "";
        for (name, _) in self.0.iter().filter(|h| h.1) {
            write!(f, "{sep}{name}")?;
            sep = " ";
        }
        Ok(())
    }
}

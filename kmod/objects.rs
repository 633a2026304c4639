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
//! engine holds the old one: each patch slot has two buffers, the engine
//! holds one, the other is written and handed over (`Engine::set_funcs`),
//! then `publish` gives the handler the new view.
//!
//! Symbols are resolved through `register_kprobe()` like vmlinux's
//! (engine.rs); the kernel's lookup takes `module:symbol`
//! (kernel/module/kallsyms.c __module_kallsyms_lookup_name()) and finds
//! modules that are COMING (not UNFORMED), and check_kprobe_address_safe()
//! (kernel/kprobes.c) accepts a COMING module (try_module_get() refuses only
//! a GOING one).  Whatever address a lookup gives (a kprobe's, which may
//! lie past the symbol's start, or kallsyms'), only the symbol it falls in
//! is taken from it: the backend finds the ftrace site from the symbol's
//! start (`resolve_func`).

use super::{
    callbacks, check_site, cstr, desc_name, engine_errno, ops_get, ops_put, sym_off_size, Cold, ColdGuard, FuncDesc,
    ObjectDesc, PatchDesc, MAX_FUNCS, MAX_PATCHES,
};
use crate::kenv::{self, KSYM_BUF};
use core::cell::UnsafeCell;
use graft_core::kallsyms::{Lookup, SymError};
use graft_core::{ModuleState, ResolvedFunc, TextAddr};
use kernel::{
    bindings,
    error::to_result,
    ffi::{c_char, c_int},
    prelude::*,
};

/// Objects per patch.
pub(super) const MAX_OBJS: usize = 4;

#[path = "ksyms.rs"]
pub(crate) mod ksyms;

use crate::ffi::{
    graft_shim_lookup, graft_shim_module_notifier, graft_shim_now_ns, graft_shim_obj_dir, graft_shim_read_file,
};

/// Module init (GRAFT_MUTEX held by `engine::init`): watch modules come and
/// go.
pub(super) fn init(cold: &mut Cold) -> Result {
    to_result(graft_shim_module_notifier(true))?;
    // vmlinux's shared names, tabled now (one pass over /proc/kallsyms) so
    // that no registration waits for it.
    ksyms::init(&mut cold.ksyms);
    Ok(())
}

/// Module exit (no patch is registered: patch modules depend on graft.ko).
pub(super) fn exit() {
    graft_shim_module_notifier(false);
}

const NO_FUNC: ResolvedFunc = ResolvedFunc { old: TextAddr(0), old_size: 0, new: TextAddr(0), new_size: 0 };

/// A slot's objects ([`Cold::objs`]).
#[derive(Clone, Copy)]
pub(super) struct SlotObjs {
    /// Which of the slot's two buffers the engine holds.
    gen: usize,
    /// Bit `i`: function `i` is resolved (its object is loaded).
    present: u64,
    /// Bit `o`: object `o` is loaded (vmlinux always).
    loaded: u32,
    /// `<patch>/<object>` directories.
    dirs: [*mut bindings::kobject; MAX_OBJS],
}

// SAFETY: `dirs` are sysfs directories graft created; no thread owns them.
unsafe impl Send for SlotObjs {}

pub(super) const NO_OBJS: SlotObjs =
    SlotObjs { gen: 0, present: 0, loaded: 0, dirs: [core::ptr::null_mut(); MAX_OBJS] };

/// Each slot's resolved functions, twice (see the module comment): the
/// engine holds a `&'static` borrow of one (its `PatchRec::funcs`), the
/// glue writes the other.  They cannot live in [`Cold`], which the engine
/// would then borrow.
struct FuncBufs([[UnsafeCell<[ResolvedFunc; MAX_FUNCS]>; 2]; MAX_PATCHES]);

// SAFETY: reached only through `spare` (and `note_held`, which compares
// addresses), whose `&Cold` argument means GRAFT_MUTEX is held and whose
// contract keeps every buffer either only read (the engine's) or only
// written (the spare one).
unsafe impl Sync for FuncBufs {}

static BUFS: FuncBufs = FuncBufs([const { [const { UnsafeCell::new([NO_FUNC; MAX_FUNCS]) }; 2] }; MAX_PATCHES]);

/// The buffer of slot `si` that the engine does not hold, as a copy of the
/// one it holds, and its generation (the value `gen` takes once the engine
/// holds it).
///
/// # Safety
///
/// The engine does not hold that buffer (it holds buffer `gen` of the
/// slot, or none of the slot's when the slot is free), and nothing uses a
/// reference an earlier `spare` returned for it any more: the caller writes
/// it, may hand it to the engine (`Engine::set_funcs`, `register`) and then
/// sets `gen` to it, after which it only reads it through the engine.
unsafe fn spare(cold: &Cold, si: usize) -> (usize, &'static mut [ResolvedFunc; MAX_FUNCS]) {
    let gen = cold.objs[si].gen;
    // SAFETY: the held buffer is only read (by the engine, and here); the
    // spare one is not the engine's and no other reference to it is used
    // (the caller's guarantee), so this is its only reference.
    let (held, buf) = unsafe { (&*BUFS.0[si][gen].get(), &mut *BUFS.0[si][gen ^ 1].get()) };
    *buf = *held;
    (gen ^ 1, buf)
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

/// Registration checks of the objects: at most [`MAX_OBJS`], each named
/// once, no module called `vmlinux` (the directory name of vmlinux).
pub(super) fn validate(d: &PatchDesc, name: &str) -> Result {
    let n = d.objs().len();
    if n > MAX_OBJS {
        pr_err!("{}: {} objects, at most {}\n", name, n, MAX_OBJS);
        return Err(EINVAL);
    }
    for o in 0..n {
        let this = obj_name(d, o);
        if this.is_some_and(|m| m.is_empty() || m == "vmlinux" || m.contains(':')) {
            pr_err!("{}: bad module object name '{}'\n", name, this.unwrap_or(""));
            return Err(EINVAL);
        }
        if (0..o).any(|p| obj_name(d, p) == this) {
            pr_err!("{}: object {} named twice\n", name, this.unwrap_or("vmlinux"));
            return Err(EINVAL);
        }
    }
    Ok(())
}

/// `register_kprobe()` lookup of a function of an object (`module:symbol`
/// for a module): an address in it, 0 if unknown.
fn lookup(obj: Option<&str>, f: &FuncDesc) -> u64 {
    let Some(m) = obj else {
        // SAFETY: the name is a NUL-terminated static string.
        return unsafe { graft_shim_lookup(f.old_name) } as u64;
    };
    let sym = cstr(f.old_name);
    // MODULE_NAME_LEN (56) + ':' + KSYM_NAME_LEN (512) + NUL fit.
    let mut buf = [0u8; 576];
    let n = m.len() + 1 + sym.len();
    if n >= buf.len() {
        return 0;
    }
    buf[..m.len()].copy_from_slice(m.as_bytes());
    buf[m.len()] = b':';
    buf[m.len() + 1..n].copy_from_slice(sym.as_bytes());
    // SAFETY: `buf` is NUL-terminated (zeroed past `n`).
    unsafe { graft_shim_lookup(buf.as_ptr().cast()) as u64 }
}

/// Resolve and check one function of object `obj`, found at `addr` (any
/// address in it: a lookup's answer): its symbol's start and size, from
/// which the backend finds the ftrace site.  Returns the function and its
/// site.
fn resolve_func(patch: &str, obj: Option<&str>, f: &FuncDesc, addr: u64) -> Result<(ResolvedFunc, u64)> {
    let fname = cstr(f.old_name);
    if addr == 0 {
        pr_err!("{}: unknown symbol {}{}{}\n", patch, obj.unwrap_or(""), if obj.is_some() { ":" } else { "" }, fname);
        return Err(ENOENT);
    }
    // A bare name is looked up in vmlinux, then in every module
    // (kernel/kallsyms.c kallsyms_lookup_name()): a vmlinux object must not
    // reach a module's function.
    let mut buf = [0u8; KSYM_BUF];
    let desc = kenv::describe(addr, &mut buf);
    if obj.is_none() && desc.contains('[') {
        pr_err!("{}: {} is not in vmlinux ({})\n", patch, fname, desc);
        return Err(ENOENT);
    }
    let (off, size) = sym_off_size(addr).ok_or(EINVAL)?;
    let new = f.new_func.addr() as u64;
    let new_size = sym_off_size(new).map_or(1, |(_, s)| s);
    let old = TextAddr(addr - off);
    let site = check_site(patch, fname, old, "before enabling")?;
    Ok((ResolvedFunc { old, old_size: size, new: TextAddr(new), new_size }, site.addr.0))
}

/// Each function of object `o`, in kallsyms order (upstream's
/// klp_find_object_symbol(), kernel/livepatch/core.c): how many symbols
/// of its name the object has and the address of the `old_sympos`-th
/// (the only one for 0; 0 if it has none).  A module object takes one
/// pass over /proc/kallsyms; vmlinux uses the table of its shared names
/// built at module init (`ksyms.rs`).
fn scan<'a>(
    table: &mut ksyms::Table,
    patch: &str,
    obj: Option<&str>,
    fs: &'a [FuncDesc],
) -> Result<([Lookup<'a>; MAX_FUNCS], [u64; MAX_FUNCS])> {
    let mut names = [core::ptr::null::<c_char>(); MAX_FUNCS];
    let mut lookups = [Lookup::new(b"", 0); MAX_FUNCS];
    for (k, f) in fs.iter().enumerate() {
        names[k] = f.old_name;
        // SAFETY: the patch module's names are static and NUL-terminated.
        lookups[k] = Lookup::new(unsafe { CStr::from_char_ptr(f.old_name) }.to_bytes(), f.old_sympos as u64);
    }
    let n = fs.len();
    let mut addrs = [0u64; MAX_FUNCS];
    let t0 = graft_shim_now_ns();
    let r = match obj {
        None => ksyms::vmlinux(table, &names[..n], &mut lookups[..n], &mut addrs[..n]),
        Some(m) => ksyms::module(m.as_bytes(), &mut lookups[..n], &mut addrs[..n]),
    };
    let us = (graft_shim_now_ns() - t0) / 1000;
    if let Err(err) = r {
        pr_err!("{}: cannot read /proc/kallsyms to resolve {} ({})\n", patch, obj.unwrap_or("vmlinux"), err);
        return Err(Error::from_errno(err));
    }
    pr_info!("{}: {} symbols looked up in {}.{:03} ms\n", patch, obj.unwrap_or("vmlinux"), us / 1000, us % 1000);
    Ok((lookups, addrs))
}

/// Resolve object `o` of slot `si` into `out` and `sites`; `Err` leaves
/// them partly written (the caller drops them).
fn resolve_obj(
    table: &mut ksyms::Table,
    d: &PatchDesc,
    o: usize,
    out: &mut [ResolvedFunc; MAX_FUNCS],
    sites: &mut [u64; MAX_FUNCS],
) -> Result<u64> {
    let patch = cstr(d.name);
    let obj = obj_name(d, o);
    let oname = obj.unwrap_or("vmlinux");
    let (first, fs) = obj_funcs(d, o);
    let (found, addrs) = scan(table, patch, obj, fs)?;
    let mut present = 0u64;
    for (k, f) in fs.iter().enumerate() {
        let i = first + k;
        let fname = cstr(f.old_name);
        let addr = match found[k].check() {
            Ok(()) => addrs[k],
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
        let (func, site) = resolve_func(patch, obj, f, addr)?;
        if sites.contains(&site) {
            pr_err!("{}: {} named twice\n", patch, fname);
            return Err(EINVAL);
        }
        out[i] = func;
        sites[i] = site;
        present |= 1 << i;
    }
    Ok(present)
}

/// Registration: resolve every object that is loaded into a buffer of slot
/// `si`; a module that is not loaded is deferred.  Returns the functions
/// (as many as the patch has), for the engine to hold, and which are
/// present.
pub(super) fn resolve(
    cold: &mut Cold,
    si: usize,
    d: &PatchDesc,
    sites: &mut [u64; MAX_FUNCS],
) -> Result<(&'static [ResolvedFunc], u64)> {
    let name = cstr(d.name);
    cold.objs[si] = NO_OBJS;
    // SAFETY: slot `si` is free, so the engine holds neither of its buffers
    // (`forget` unregistered the slot's last patch from the engine) and no
    // earlier reference to them is used; the buffer goes to the engine
    // (the caller's `Engine::register`) with `gen` set to it below.
    let (gen, out) = unsafe { spare(cold, si) };
    *out = [NO_FUNC; MAX_FUNCS];
    let (mut present, mut loaded) = (0u64, 0u32);
    for o in 0..d.objs().len() {
        if let Some(m) = obj_name(d, o) {
            let (_, fs) = obj_funcs(d, o);
            // Loaded if a function resolves, or if the module is there but
            // the name is wrong (an error, as upstream's klp_enable_patch()).
            let there = fs.first().is_some_and(|f| lookup(Some(m), f) != 0) || module_loaded(m);
            if !there {
                pr_info!("{}: module {} is not loaded: patched when it loads\n", name, m);
                continue;
            }
        }
        present |= resolve_obj(&mut cold.ksyms, d, o, out, sites)?;
        loaded |= 1 << o;
    }
    let st = &mut cold.objs[si];
    st.gen = gen;
    st.present = present;
    st.loaded = loaded;
    let n = d.funcs().count();
    let out: &'static [ResolvedFunc; MAX_FUNCS] = out;
    Ok((&out[..n], present))
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
        cold.objs[si].dirs[o] = k;
    }
    Ok(())
}

/// Take slot `si`'s object directories (to remove outside the mutex when
/// sysfs readers may wait for it, see `graft_rs_unregister`).
pub(super) fn take_dirs(cold: &mut Cold, si: usize) -> [*mut bindings::kobject; MAX_OBJS] {
    core::mem::replace(&mut cold.objs[si].dirs, [core::ptr::null_mut(); MAX_OBJS])
}

/// Slots in registration order (ids grow), as upstream walks `klp_patches`.
fn in_order(cold: &Cold) -> ([usize; MAX_PATCHES], usize) {
    let mut v = [0usize; MAX_PATCHES];
    let mut n = 0;
    for (si, s) in cold.slots.iter().enumerate() {
        if s.is_some() {
            v[n] = si;
            n += 1;
        }
    }
    v[..n].sort_unstable_by_key(|&si| cold.slots[si].map_or(0, |s| s.id.0));
    (v, n)
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
    let (order, n) = in_order(cold);
    if going {
        for &si in order[..n].iter().rev() {
            if let Some(o) = find_obj(cold, si, m) {
                going_one(cold, si, o, m);
            }
        }
        return 0;
    }
    for k in 0..n {
        let si = order[k];
        let Some(o) = find_obj(cold, si, m) else { continue };
        if let Err(e) = coming_one(cold, si, o, m) {
            let patch = cold.slots[si].map_or("?", |s| desc_name(s.desc));
            pr_err!("{}: cannot patch loading module {} ({}): refusing to load it\n", patch, m, e.to_errno());
            for &sj in order[..k].iter().rev() {
                if let Some(o) = find_obj(cold, sj, m) {
                    going_one(cold, sj, o, m);
                }
            }
            return e.to_errno();
        }
    }
    0
}

/// After `Engine::set_funcs` for slot `si`: `gen` names the buffer the
/// engine holds now (it takes the new one before it can fail on a full
/// function stack, so success alone does not say which).
fn note_held(cold: &mut Cold, si: usize) {
    let Some(s) = cold.slots[si] else { return };
    let Some(held) = cold.engine.as_ref().and_then(|e| e.rec(s.id)).map(|r| r.funcs.as_ptr()) else { return };
    if let Some(gen) = (0..2).find(|&gen| core::ptr::eq(held, BUFS.0[si][gen].get().cast::<ResolvedFunc>())) {
        cold.objs[si].gen = gen;
    }
}

/// Module `m`, object `o` of slot `si`, is coming: resolve and patch it.
fn coming_one(cold: &mut Cold, si: usize, o: usize, m: &str) -> Result {
    let Some(s) = cold.slots[si] else { return Ok(()) };
    let st = cold.objs[si];
    if st.loaded & (1 << o) != 0 {
        return Ok(()); // resolved at registration, which ran first
    }
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let name = desc_name(s.desc);
    let (first, fs) = obj_funcs(d, o);
    let range = first..first + fs.len();
    // SAFETY: the engine holds buffer `gen` (registered slot), not this
    // one; it is written here, then handed to the engine by `set_funcs`
    // below, after which `note_held` makes it `gen`; the reference is not
    // used past this function.
    let (_, buf) = unsafe { spare(cold, si) };
    let mut sites = s.sites;
    let present = st.present | resolve_obj(&mut cold.ksyms, d, o, buf, &mut sites)?;
    let obj = &d.objs()[o];
    // Upstream's klp_module_coming(): the object's pre_patch first (it may
    // refuse the module), post_unpatch if patching then fails.
    if s.ops_held {
        callbacks::pre_patch(cold, obj)
            .inspect_err(|e| pr_err!("{}: pre_patch callback of {} failed ({})\n", name, m, e.to_errno()))?;
    }
    let buf: &'static [ResolvedFunc; MAX_FUNCS] = buf;
    let funcs = &buf[..s.nfuncs];
    // The sites' rows first (an ftrace ops' `private` is its row; the
    // published view has no target for them until `publish`).
    for i in range.clone() {
        if !cold.sites.iter().flatten().any(|(ip, _)| *ip == sites[i]) {
            if let Some(free) = cold.sites.iter_mut().find(|x| x.is_none()) {
                *free = Some((sites[i], funcs[i].old));
            }
        }
    }
    let used_by = |cold: &Cold, ip: u64| cold.slots.iter().flatten().any(|o| o.sites[..o.nfuncs].contains(&ip));
    let drop_rows = |cold: &mut Cold| {
        for i in range.clone() {
            let ip = sites[i];
            if !used_by(cold, ip) {
                if let Some(x) = cold.sites.iter_mut().find(|x| x.is_some_and(|(s, _)| s == ip)) {
                    *x = None;
                }
            }
        }
    };
    // ftrace ops next: until the view has the entries, the handler runs
    // the original.
    if s.ops_held {
        for i in range.clone() {
            let fname = cstr(fs[i - first].old_name);
            if let Err(e) = ops_get(&mut cold.fops, &cold.sites, sites[i], name, fname) {
                pr_err!("{}: ftrace registration of {}:{} failed ({})\n", name, m, fname, e.to_errno());
                for &ip in &sites[first..i] {
                    ops_put(&mut cold.fops, ip);
                }
                drop_rows(cold);
                callbacks::post_unpatch(cold, obj);
                return Err(e);
            }
        }
    }
    let r = match cold.engine.as_mut() {
        Some(e) => e.set_funcs(s.id, funcs, present).map_err(engine_errno),
        None => Err(EINVAL),
    };
    note_held(cold, si);
    let in_transition = cold.engine.as_ref().and_then(|e| e.transition_patch()) == Some(s.id);
    if let Err(e) = r {
        if s.ops_held {
            for &ip in &sites[range.clone()] {
                ops_put(&mut cold.fops, ip);
            }
            callbacks::post_unpatch(cold, obj);
        }
        drop_rows(cold);
        return Err(e);
    }
    super::publish(cold);
    let st = &mut cold.objs[si];
    st.present = present;
    st.loaded |= 1 << o;
    if let Some(sl) = cold.slots[si].as_mut() {
        sl.sites = sites;
    }
    if s.ops_held {
        pr_info!("{}: patching loading module {} ({} function(s))\n", name, m, fs.len());
        // In a transition, its completion runs post_patch of every loaded
        // object; otherwise now (klp_module_coming()).
        if !in_transition {
            callbacks::post_patch(obj);
        }
    } else {
        pr_info!("{}: loading module {} resolved (patch disabled)\n", name, m);
    }
    Ok(())
}

/// Module `m`, object `o` of slot `si`, is going: unpatch it first.
fn going_one(cold: &mut Cold, si: usize, o: usize, m: &str) {
    let Some(s) = cold.slots[si] else { return };
    let st = cold.objs[si];
    if st.loaded & (1 << o) == 0 {
        return;
    }
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let (first, fs) = obj_funcs(d, o);
    let range = first..first + fs.len();
    // SAFETY: as in `coming_one`: not the engine's buffer, written here,
    // handed over by `set_funcs` below and then named by `note_held`.
    let (_, buf) = unsafe { spare(cold, si) };
    let mut present = st.present;
    let mut sites = s.sites;
    let gone = sites;
    for i in range.clone() {
        buf[i] = NO_FUNC;
        sites[i] = 0;
        present &= !(1 << i);
    }
    let buf: &'static [ResolvedFunc; MAX_FUNCS] = buf;
    let obj = &d.objs()[o];
    // Upstream's klp_cleanup_module_patches_limited(): pre_unpatch unless
    // the patch is in transition, unpatch, post_unpatch.
    let in_transition = cold.engine.as_ref().and_then(|e| e.transition_patch()) == Some(s.id);
    if s.ops_held && !in_transition {
        callbacks::pre_unpatch(obj);
    }
    if let Some(sl) = cold.slots[si].as_mut() {
        sl.sites = sites;
    }
    if let Some(e) = cold.engine.as_mut() {
        if let Err(e) = e.set_funcs(s.id, &buf[..s.nfuncs], present) {
            pr_err!("{}: unpatching module {}: {}\n", desc_name(s.desc), m, kenv::Show(e));
        }
    }
    note_held(cold, si);
    // The handler stops redirecting the module's functions (returns once
    // no handler sees the previous view), then their ftrace ops go.
    super::publish(cold);
    if s.ops_held {
        for &ip in &gone[range.clone()] {
            ops_put(&mut cold.fops, ip);
        }
    }
    // Rows of sites no patch replaces any more.
    let slots = &cold.slots;
    let used = |ip: u64| slots.iter().flatten().any(|o| o.sites[..o.nfuncs].contains(&ip));
    for x in cold.sites.iter_mut() {
        if x.is_some_and(|(ip, _)| gone[range.clone()].contains(&ip) && !used(ip)) {
            *x = None;
        }
    }
    super::publish(cold);
    if s.ops_held {
        pr_info!("{}: unpatched unloading module {}\n", desc_name(s.desc), m);
        callbacks::post_unpatch(cold, obj);
    }
    let st = &mut cold.objs[si];
    st.present = present;
    st.loaded &= !(1 << o);
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
            return cold.objs[si].loaded & (1 << o) != 0;
        }
    }
    false
}

/// sysfs `<patch>/<object>/patched`: the patch holds its functions'
/// ftrace ops (from enable until unpatched) and the object is loaded.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_show_obj(patch: *const c_char, obj: *const c_char, buf: *mut u8) -> isize {
    let einval = EINVAL.to_errno() as isize;
    let g = ColdGuard::lock();
    let Some(si) = super::find_slot(&g, cstr(patch)) else { return einval };
    let Some(s) = g.slots[si] else { return einval };
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let want = Some(cstr(obj)).filter(|&n| n != "vmlinux");
    let Some(o) = (0..d.objs().len()).find(|&o| obj_name(d, o) == want) else { return einval };
    let v = s.ops_held && g.objs[si].loaded & (1 << o) != 0;
    // SAFETY: sysfs hands a PAGE_SIZE buffer; two bytes written.
    unsafe {
        *buf = if v { b'1' } else { b'0' };
        *buf.add(1) = b'\n';
    }
    2
}

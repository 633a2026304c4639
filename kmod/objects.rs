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
//! a GOING one).

use super::{
    callbacks, check_site, cstr, desc_name, ops_get, ops_put, sym_off_size, ColdGuard, FuncDesc, Locked, ObjectDesc,
    PatchDesc, EINVAL, ENOENT, MAX_FUNCS, MAX_PATCHES,
};
use crate::kenv::{self, KSYM_BUF};
use core::cell::UnsafeCell;
use graft_core::kallsyms::{Lookup, SymError};
use graft_core::{ModuleState, ResolvedFunc, TextAddr};
use kernel::{
    bindings,
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

/// Module init (graft_mutex held by `engine::init`): watch modules come and
/// go.
pub(super) fn init() -> Result {
    let err = graft_shim_module_notifier(true);
    if err != 0 {
        return Err(Error::from_errno(err));
    }
    // vmlinux's shared names, tabled now (one pass over /proc/kallsyms) so
    // that no registration waits for it.
    // SAFETY: graft_mutex is held (by engine::init), as for every use.
    unsafe { ksyms::init() };
    Ok(())
}

/// Module exit (no patch is registered: patch modules depend on graft.ko).
pub(super) fn exit() {
    graft_shim_module_notifier(false);
    // SAFETY: the notifier is gone and no patch can register: the kallsyms
    // table (built under graft_mutex) is unused.
    unsafe { ksyms::exit() };
}

const NO_FUNC: ResolvedFunc = ResolvedFunc { old: TextAddr(0), old_size: 0, new: TextAddr(0), new_size: 0 };

/// A slot's objects: guarded by `graft_mutex`.
#[derive(Clone, Copy)]
struct SlotObjs {
    /// Which of the slot's two buffers the engine holds.
    gen: usize,
    /// Bit `i`: function `i` is resolved (its object is loaded).
    present: u64,
    /// Bit `o`: object `o` is loaded (vmlinux always).
    loaded: u32,
    /// `<patch>/<object>` directories.
    dirs: [*mut bindings::kobject; MAX_OBJS],
}

const NO_OBJS: SlotObjs = SlotObjs { gen: 0, present: 0, loaded: 0, dirs: [core::ptr::null_mut(); MAX_OBJS] };

static OBJS: Locked<[SlotObjs; MAX_PATCHES]> = Locked(UnsafeCell::new([NO_OBJS; MAX_PATCHES]));
/// Each slot's resolved functions, twice (see the module comment).
static BUFS: Locked<[[[ResolvedFunc; MAX_FUNCS]; 2]; MAX_PATCHES]> =
    Locked(UnsafeCell::new([[[NO_FUNC; MAX_FUNCS]; 2]; MAX_PATCHES]));

#[allow(clippy::mut_from_ref)]
fn objs(_g: &ColdGuard) -> &mut [SlotObjs; MAX_PATCHES] {
    // SAFETY: graft_mutex is held (the guard).
    unsafe { &mut *OBJS.0.get() }
}

/// The functions the engine holds for slot `si` (indexed like the
/// description's functions; absent ones are zero).
pub(super) fn funcs(g: &ColdGuard, si: usize) -> &'static [ResolvedFunc] {
    let gen = objs(g)[si].gen;
    // SAFETY: read-only view of the buffer the engine holds; it is written
    // only once the engine has been handed the other one.
    unsafe { &(*BUFS.0.get())[si][gen] }
}

/// The buffer the engine does not hold, as a copy of the one it holds.
fn spare(g: &ColdGuard, si: usize) -> (usize, &'static mut [ResolvedFunc; MAX_FUNCS]) {
    let gen = objs(g)[si].gen;
    // SAFETY: the engine holds only buffer `gen` of slot `si` (or none);
    // the other one is ours under graft_mutex until handed over.
    let bufs = unsafe { &mut (*BUFS.0.get())[si] };
    bufs[gen ^ 1] = bufs[gen];
    let (a, b) = bufs.split_at_mut(1);
    (gen ^ 1, if gen == 0 { &mut b[0] } else { &mut a[0] })
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
pub(super) fn validate(d: &PatchDesc, name: &str) -> Result<(), c_int> {
    let n = d.objs().len();
    if n > MAX_OBJS {
        pr_err!("{}: {} objects, at most {}\n", name, n, MAX_OBJS);
        return Err(-EINVAL);
    }
    for o in 0..n {
        let this = obj_name(d, o);
        if this.is_some_and(|m| m.is_empty() || m == "vmlinux" || m.contains(':')) {
            pr_err!("{}: bad module object name '{}'\n", name, this.unwrap_or(""));
            return Err(-EINVAL);
        }
        if (0..o).any(|p| obj_name(d, p) == this) {
            pr_err!("{}: object {} named twice\n", name, this.unwrap_or("vmlinux"));
            return Err(-EINVAL);
        }
    }
    Ok(())
}

/// `register_kprobe()` lookup of a function of an object (`module:symbol`
/// for a module): its ftrace site, 0 if unknown.
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

/// Resolve and check one function of object `obj` at site `ip`.
fn resolve_func(patch: &str, obj: Option<&str>, f: &FuncDesc, ip: u64) -> Result<ResolvedFunc, c_int> {
    let fname = cstr(f.old_name);
    if ip == 0 {
        pr_err!("{}: unknown symbol {}{}{}\n", patch, obj.unwrap_or(""), if obj.is_some() { ":" } else { "" }, fname);
        return Err(-ENOENT);
    }
    // A bare name is looked up in vmlinux, then in every module
    // (kernel/kallsyms.c kallsyms_lookup_name()): a vmlinux object must not
    // reach a module's function.
    let mut buf = [0u8; KSYM_BUF];
    let desc = kenv::describe(ip, &mut buf);
    if obj.is_none() && desc.contains('[') {
        pr_err!("{}: {} is not in vmlinux ({})\n", patch, fname, desc);
        return Err(-ENOENT);
    }
    let (off, size) = sym_off_size(ip).ok_or(-EINVAL)?;
    let new = f.new_func.addr() as u64;
    let new_size = sym_off_size(new).map_or(1, |(_, s)| s);
    let old = TextAddr(ip - off);
    check_site(patch, fname, old, ip, "before enabling")?;
    Ok(ResolvedFunc { old, old_size: size, new: TextAddr(new), new_size })
}

/// Each function of object `o`, in kallsyms order (upstream's
/// klp_find_object_symbol(), kernel/livepatch/core.c): how many symbols
/// of its name the object has and the ftrace site of the `old_sympos`-th
/// (the only one for 0; 0 if it has no site).  A module object takes one
/// pass over /proc/kallsyms; vmlinux uses the table of its shared names
/// built at module init (`ksyms.rs`).
fn scan<'a>(
    g: &ColdGuard,
    patch: &str,
    obj: Option<&str>,
    fs: &'a [FuncDesc],
) -> Result<([Lookup<'a>; MAX_FUNCS], [u64; MAX_FUNCS]), c_int> {
    let mut names = [core::ptr::null::<c_char>(); MAX_FUNCS];
    let mut lookups = [Lookup::new(b"", 0); MAX_FUNCS];
    for (k, f) in fs.iter().enumerate() {
        names[k] = f.old_name;
        // SAFETY: the patch module's names are static and NUL-terminated.
        lookups[k] = Lookup::new(unsafe { CStr::from_char_ptr(f.old_name) }.to_bytes(), f.old_sympos as u64);
    }
    let n = fs.len();
    let mut sites = [0u64; MAX_FUNCS];
    let t0 = graft_shim_now_ns();
    let r = match obj {
        None => ksyms::vmlinux(g, &names[..n], &mut lookups[..n], &mut sites[..n]),
        Some(m) => ksyms::module(m.as_bytes(), &mut lookups[..n], &mut sites[..n]),
    };
    let us = (graft_shim_now_ns() - t0) / 1000;
    if let Err(err) = r {
        pr_err!("{}: cannot read /proc/kallsyms to resolve {} ({})\n", patch, obj.unwrap_or("vmlinux"), err);
        return Err(err);
    }
    pr_info!("{}: {} symbols looked up in {}.{:03} ms\n", patch, obj.unwrap_or("vmlinux"), us / 1000, us % 1000);
    Ok((lookups, sites))
}

/// Resolve object `o` of slot `si` into `out` and `sites`; `Err` leaves
/// them partly written (the caller drops them).
fn resolve_obj(
    g: &ColdGuard,
    d: &PatchDesc,
    o: usize,
    out: &mut [ResolvedFunc; MAX_FUNCS],
    sites: &mut [u64; MAX_FUNCS],
) -> Result<u64, c_int> {
    let patch = cstr(d.name);
    let obj = obj_name(d, o);
    let oname = obj.unwrap_or("vmlinux");
    let (first, fs) = obj_funcs(d, o);
    let (found, found_sites) = scan(g, patch, obj, fs)?;
    let mut present = 0u64;
    for (k, f) in fs.iter().enumerate() {
        let i = first + k;
        let fname = cstr(f.old_name);
        let ip = match found[k].check() {
            Ok(()) => found_sites[k],
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
                return Err(-EINVAL);
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
                return Err(-EINVAL);
            }
        };
        if ip != 0 && sites.contains(&ip) {
            pr_err!("{}: {} named twice\n", patch, fname);
            return Err(-EINVAL);
        }
        out[i] = resolve_func(patch, obj, f, ip)?;
        sites[i] = ip;
        present |= 1 << i;
    }
    Ok(present)
}

/// Registration: resolve every object that is loaded into slot `si`'s
/// first buffer; a module that is not loaded is deferred.  Returns the
/// functions (as many as the patch has) and which are present.
pub(super) fn resolve(
    g: &ColdGuard,
    si: usize,
    d: &PatchDesc,
    sites: &mut [u64; MAX_FUNCS],
) -> Result<(&'static [ResolvedFunc], u64), c_int> {
    let name = cstr(d.name);
    objs(g)[si] = NO_OBJS;
    // SAFETY: slot `si` is free, so the engine holds neither buffer.
    let out = unsafe { &mut (*BUFS.0.get())[si][0] };
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
        present |= resolve_obj(g, d, o, out, sites)?;
        loaded |= 1 << o;
    }
    let st = &mut objs(g)[si];
    st.present = present;
    st.loaded = loaded;
    let n = d.funcs().count();
    // SAFETY: the buffer stays untouched while the engine holds it (see
    // `spare`).
    let funcs = unsafe { core::slice::from_raw_parts((*BUFS.0.get())[si][0].as_ptr(), n) };
    Ok((funcs, present))
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
pub(super) fn create_dirs(g: &ColdGuard, si: usize, d: &PatchDesc, dir: *mut bindings::kobject) -> Result<(), c_int> {
    for o in 0..d.objs().len() {
        let mut err = 0;
        let n = d.objs()[o].name;
        let n = if n.is_null() { c"vmlinux".as_char_ptr() } else { n };
        // SAFETY: `dir` is the patch's kobject; `n` is NUL-terminated.
        let k = unsafe { graft_shim_obj_dir(dir, n, &mut err) };
        if k.is_null() {
            return Err(err);
        }
        objs(g)[si].dirs[o] = k;
    }
    Ok(())
}

/// Take slot `si`'s object directories (to remove outside the mutex when
/// sysfs readers may wait for it, see `graft_rs_unregister`).
pub(super) fn take_dirs(g: &ColdGuard, si: usize) -> [*mut bindings::kobject; MAX_OBJS] {
    core::mem::replace(&mut objs(g)[si].dirs, [core::ptr::null_mut(); MAX_OBJS])
}

/// Slots in registration order (ids grow), as upstream walks `klp_patches`.
fn in_order(g: &ColdGuard) -> ([usize; MAX_PATCHES], usize) {
    let cold = g.cold();
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
fn find_obj(g: &ColdGuard, si: usize, m: &str) -> Option<usize> {
    let s = g.cold().slots[si]?;
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    (0..d.objs().len()).find(|&o| obj_name(d, o) == Some(m))
}

/// The module notifier (`shim.c`): `going` false for `MODULE_STATE_COMING`,
/// true for `MODULE_STATE_GOING`.  A non-zero return refuses the module.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_module_event(module: *const c_char, going: bool) -> c_int {
    let g = ColdGuard::lock();
    let m = cstr(module);
    let (order, n) = in_order(&g);
    if going {
        for &si in order[..n].iter().rev() {
            if let Some(o) = find_obj(&g, si, m) {
                going_one(&g, si, o, m);
            }
        }
        return 0;
    }
    for k in 0..n {
        let si = order[k];
        let Some(o) = find_obj(&g, si, m) else { continue };
        if let Err(e) = coming_one(&g, si, o, m) {
            let patch = g.cold().slots[si].map_or("?", |s| desc_name(s.desc));
            pr_err!("{}: cannot patch loading module {} ({}): refusing to load it\n", patch, m, e);
            for &sj in order[..k].iter().rev() {
                if let Some(o) = find_obj(&g, sj, m) {
                    going_one(&g, sj, o, m);
                }
            }
            return e;
        }
    }
    0
}

/// Module `m`, object `o` of slot `si`, is coming: resolve and patch it.
fn coming_one(g: &ColdGuard, si: usize, o: usize, m: &str) -> Result<(), c_int> {
    let Some(s) = g.cold().slots[si] else { return Ok(()) };
    let st = objs(g)[si];
    if st.loaded & (1 << o) != 0 {
        return Ok(()); // resolved at registration, which ran first
    }
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let name = desc_name(s.desc);
    let (first, fs) = obj_funcs(d, o);
    let range = first..first + fs.len();
    let (gen, buf) = spare(g, si);
    let mut sites = s.sites;
    let present = st.present | resolve_obj(g, d, o, buf, &mut sites)?;
    let cold = g.cold();
    let obj = &d.objs()[o];
    // Upstream's klp_module_coming(): the object's pre_patch first (it may
    // refuse the module), post_unpatch if patching then fails.
    if s.ops_held {
        callbacks::pre_patch(obj).inspect_err(|e| pr_err!("{}: pre_patch callback of {} failed ({})\n", name, m, e))?;
    }
    // SAFETY: the spare buffer, handed to the engine below.
    let funcs: &'static [ResolvedFunc] = unsafe { core::slice::from_raw_parts(buf.as_ptr(), s.nfuncs) };
    // The sites' rows first (an ftrace ops' `private` is its row; the
    // published view has no target for them until `publish`).
    for i in range.clone() {
        if !cold.sites.iter().flatten().any(|(ip, _)| *ip == sites[i]) {
            if let Some(free) = cold.sites.iter_mut().find(|x| x.is_none()) {
                *free = Some((sites[i], funcs[i].old));
            }
        }
    }
    let used_by = |cold: &super::Cold, ip: u64| cold.slots.iter().flatten().any(|o| o.sites[..o.nfuncs].contains(&ip));
    let drop_rows = |cold: &mut super::Cold| {
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
            if let Err(e) = ops_get(&mut cold.fops, &cold.sites, sites[i]) {
                pr_err!("{}: ftrace registration of {}:{} failed ({})\n", name, m, cstr(fs[i - first].old_name), e);
                for &ip in &sites[first..i] {
                    ops_put(&mut cold.fops, ip);
                }
                drop_rows(cold);
                callbacks::post_unpatch(obj);
                return Err(e);
            }
        }
    }
    let r = match cold.engine.as_mut() {
        Some(e) => e.set_funcs(s.id, funcs, present).map_err(|e| e.errno()),
        None => Err(-EINVAL),
    };
    let in_transition = cold.engine.as_ref().and_then(|e| e.transition_patch()) == Some(s.id);
    if let Err(e) = r {
        if s.ops_held {
            for &ip in &sites[range.clone()] {
                ops_put(&mut cold.fops, ip);
            }
            callbacks::post_unpatch(obj);
        }
        drop_rows(cold);
        return Err(e);
    }
    super::publish(cold);
    let st = &mut objs(g)[si];
    st.gen = gen;
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
fn going_one(g: &ColdGuard, si: usize, o: usize, m: &str) {
    let Some(s) = g.cold().slots[si] else { return };
    let st = objs(g)[si];
    if st.loaded & (1 << o) == 0 {
        return;
    }
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let (first, fs) = obj_funcs(d, o);
    let range = first..first + fs.len();
    let (gen, buf) = spare(g, si);
    let mut present = st.present;
    let mut sites = s.sites;
    let gone = sites;
    for i in range.clone() {
        buf[i] = NO_FUNC;
        sites[i] = 0;
        present &= !(1 << i);
    }
    let cold = g.cold();
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
    // SAFETY: the spare buffer, handed to the engine here.
    let funcs: &'static [ResolvedFunc] = unsafe { core::slice::from_raw_parts(buf.as_ptr(), s.nfuncs) };
    if let Some(e) = cold.engine.as_mut() {
        if let Err(e) = e.set_funcs(s.id, funcs, present) {
            pr_err!("{}: unpatching module {}: {}\n", desc_name(s.desc), m, kenv::Show(e));
        }
    }
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
        callbacks::post_unpatch(obj);
    }
    let st = &mut objs(g)[si];
    st.gen = gen;
    st.present = present;
    st.loaded &= !(1 << o);
}

/// Whether `obj` (an object of a registered patch) is loaded: vmlinux
/// always, a module while graft has it resolved (upstream's
/// klp_is_object_loaded()).  Called with graft_mutex held (callbacks.rs).
pub(super) fn loaded(obj: &ObjectDesc) -> bool {
    if obj.name.is_null() {
        return true;
    }
    // SAFETY: graft_mutex is held by the caller, which guards both.
    let (cold, objs) = unsafe { (&*super::COLD.0.get(), &*OBJS.0.get()) };
    for (si, s) in cold.slots.iter().enumerate() {
        let Some(s) = s else { continue };
        // SAFETY: the description is a static of the loaded patch module.
        let d = unsafe { &*s.desc };
        if let Some(o) = d.objs().iter().position(|x| core::ptr::eq(x, obj)) {
            return objs[si].loaded & (1 << o) != 0;
        }
    }
    false
}

/// sysfs `<patch>/<object>/patched`: the patch holds its functions'
/// ftrace ops (from enable until unpatched) and the object is loaded.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_show_obj(patch: *const c_char, obj: *const c_char, buf: *mut u8) -> isize {
    let g = ColdGuard::lock();
    let Some(si) = super::find_slot(g.cold(), cstr(patch)) else { return -(EINVAL as isize) };
    let Some(s) = g.cold().slots[si] else { return -(EINVAL as isize) };
    // SAFETY: the description is a static of the loaded patch module.
    let d = unsafe { &*s.desc };
    let want = Some(cstr(obj)).filter(|&n| n != "vmlinux");
    let Some(o) = (0..d.objs().len()).find(|&o| obj_name(d, o) == want) else { return -(EINVAL as isize) };
    let v = s.ops_held && objs(&g)[si].loaded & (1 << o) != 0;
    // SAFETY: sysfs hands a PAGE_SIZE buffer; two bytes written.
    unsafe {
        *buf = if v { b'1' } else { b'0' };
        *buf.add(1) = b'\n';
    }
    2
}

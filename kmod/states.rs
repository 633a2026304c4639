// SPDX-License-Identifier: GPL-2.0
//! System states in graft.ko: graft.h's `graft_get_state()` and
//! `graft_get_prev_state()`, upstream's `klp_get_state()` and
//! `klp_get_prev_state()` (kernel/livepatch/state.c,
//! Documentation/livepatch/system-state.rst).  The rules (which patch is
//! the previous holder, which patch may be enabled) are graft-core's
//! `state` and `Engine::prev_state`/`check_compatible`; this file answers
//! the patch modules.
//!
//! `graft_get_state(desc, id)` reads the caller's own description, as
//! upstream's reads its `klp_patch`: no lock, so a replacement function
//! may call it anywhere.
//!
//! `graft_get_prev_state(id)` is asked from callbacks, which graft calls
//! with `GRAFT_MUTEX` held, so it cannot take that mutex (upstream's reads
//! `klp_patches` relying on its caller's `klp_mutex`).  Its answers are a
//! table instead, built under the mutex when a transition is about to
//! start ([`begin`], before the `pre_patch` or `pre_unpatch` callbacks: the
//! engine's installed patches other than the one in transition, the latest
//! holder of each id), kept while the transition runs (a reversal keeps
//! it: the same patches are installed) and until its `post_*` callbacks
//! have run ([`end`]).  So the `post_patch` of an atomic replace still sees
//! the replaced patches' states, as upstream's sees them (its replaced
//! patches leave `klp_patches` only after klp_complete_transition(); here
//! the engine has already disabled them, but the table is the start's).
//! The table is behind a spinlock with interrupts off: any context may ask.
//!
//! The pointers it hands out point into patch modules' descriptions: a
//! holder is an enabled patch, whose module graft holds a reference on
//! until its patch is unpatched and, for a replaced one, until after the
//! new patch's `post_patch` ([`end`] comes before `settle`).  A caller
//! that keeps one past its callback is on its own, as upstream's.

use super::{Cold, PatchDesc};
use crate::abi::{State as StateDesc, GRAFT_ABI_VERSION};
use core::mem::size_of;
use core::ptr::{addr_of, null_mut};
use graft_core::PatchId;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    ffi::c_ulong,
    prelude::*,
};

/// One installed state the transition's callbacks may ask for.
#[derive(Clone, Copy)]
struct Prev {
    id: u64,
    /// Where its patch module keeps it (`struct graft_state`).
    state: *mut StateDesc,
}

/// The table of the transition that is starting, running, or finishing
/// (`None`: no such transition).
struct Table(Option<KVec<Prev>>);

// SAFETY: the pointers name `struct graft_state`s of patch modules that
// stay loaded while they are in the table (see the module comment); the
// table only hands them out, never dereferences them.
unsafe impl Send for Table {}

kernel::sync::global_lock! {
    // SAFETY: `init_lock` initialises it from module init, before anything
    // can take it (no patch module can call graft yet).
    unsafe(uninit) static PREV: SpinLockIrq<Table> = Table(None);
}

/// Initialise the table's lock.
///
/// # Safety
///
/// Called once, from module init, before anything can call graft's entry
/// points (patch modules load only once graft.ko's init has returned).
pub(crate) unsafe fn init_lock() {
    // SAFETY: once, before any other use (the caller's guarantee).
    unsafe { PREV.init() };
}

/// Replace the table, dropping the old one outside the spinlock.
fn set(t: Option<KVec<Prev>>) {
    let old = {
        let mut g = PREV.lock();
        core::mem::replace(&mut *g, Table(t))
    };
    drop(old);
}

/// A transition of patch `of` is about to start (its `pre_*` callbacks
/// come next): table the previous holder of every installed state.
/// `-ENOMEM` refuses the transition before anything ran.
pub(super) fn begin(cold: &Cold, of: PatchId) -> Result {
    let e = cold.engine.as_ref().ok_or(EINVAL)?;
    let mut v: KVec<Prev> = KVec::new();
    for r in e.installed(Some(of)) {
        for s in r.states {
            if v.iter().any(|p| p.id == s.id) {
                continue;
            }
            let Some((holder, i)) = e.prev_state(of, s.id) else { continue };
            let Some(slot) = cold.slots.iter().flatten().find(|x| x.id == holder) else { continue };
            // SAFETY: a registered description (its module stays loaded
            // while registered), validated at registration: `states` holds
            // `nstates` entries, the engine's states are read from them in
            // order, and `i` indexes those.
            let state = unsafe { addr_of!((*slot.desc).states).read().add(i) };
            v.push(Prev { id: s.id, state }, GFP_KERNEL)?;
        }
    }
    set(Some(v));
    Ok(())
}

/// The transition's `post_*` callbacks have run, or it never started.
pub(super) fn end() {
    set(None);
}

/// `graft_get_state()` (graft.h): the state `id` of the description
/// `desc`, or NULL.  `desc` is the caller's own (upstream's
/// `klp_get_state()` takes the caller's `klp_patch`), so it is read without
/// a lock; one of another ABI, or NULL, has no states.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_get_state(desc: *const PatchDesc, id: c_ulong) -> *mut StateDesc {
    if desc.is_null() {
        return null_mut();
    }
    // SAFETY: the caller's own description (graft.h), a static of its
    // loaded module; its header is the same in every ABI version.
    let (version, size) = unsafe { (addr_of!((*desc).abi_version).read(), addr_of!((*desc).size).read()) };
    if version != GRAFT_ABI_VERSION || size as usize != size_of::<PatchDesc>() {
        return null_mut();
    }
    // SAFETY: a description of this ABI (just checked): these fields exist.
    let (states, n) = unsafe { (addr_of!((*desc).states).read(), addr_of!((*desc).nstates).read()) };
    if states.is_null() {
        return null_mut();
    }
    for i in 0..n as usize {
        // SAFETY: `states` holds `nstates` entries (graft.h; validated when
        // the description was registered); only `id` is read: the module
        // writes `data`.
        let p = unsafe { states.add(i) };
        // SAFETY: as above.
        if unsafe { addr_of!((*p).id).read() } == id {
            return p;
        }
    }
    null_mut()
}

/// `graft_get_prev_state()` (graft.h): the state `id` of the patches
/// installed before the transition in the table, or NULL (none has it, or
/// no transition: upstream WARNs there, graft answers NULL).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_get_prev_state(id: c_ulong) -> *mut StateDesc {
    let g = PREV.lock();
    g.0.as_ref().and_then(|v| v.iter().find(|p| p.id == id as u64)).map_or(null_mut(), |p| p.state)
}

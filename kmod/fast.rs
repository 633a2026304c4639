// SPDX-License-Identifier: GPL-2.0
//! The fast path: a settled patched function costs one branch.
//!
//! While a transition runs, each call of a patched function needs graft's
//! handler (the version depends on the calling task).  Once it is over and
//! a site's row gives every task the same replacement, the site is handed
//! over to an ftrace direct call of its own whose target the backend
//! chooses ([`EntrySite::direct`]: on x86_64 a `jmp` straight into the
//! replacement), and leaves graft's IPMODIFY `ftrace_ops`.  Before anything
//! changes that row again (a patch enabled or disabled over it, its module
//! going, a switch turned off) the site is handed back.
//!
//! Each handover overlaps the two, and they agree while they do: the
//! direct call is registered while the site is still in graft's ops and
//! its row names the version the direct call enters; it is unregistered
//! only after the site is back in graft's ops, the row unchanged.  With
//! both on a site, ftrace calls graft's handler and then jumps where the
//! direct call says (`shim_hooks.c`): the same version.  So no call runs a
//! version its task must not run at any step, and [`check_rows`] asserts,
//! at every publication, that no direct site's row has changed under it.
//!
//! The switches: the module parameter `graft.fast` (every patch) and each
//! patch's `/sys/kernel/graft/<patch>/fast`.  A direct call keeps BPF's
//! fentry/fexit (another direct user) off the function: ftrace refuses
//! them with `-EBUSY` while graft holds the site, and graft stays on its
//! handler where another direct user came first.
//!
//! Costs: a handover is one `register_ftrace_direct()` per site and one
//! filter update of graft's ops per batch, in a work item after the
//! transition has reported its end (`transition` reads 0 before it).  A
//! handback before a transition is one filter update per batch: the direct
//! call stays registered, overruled by the handler ([`leave`]), since its
//! unregistration waits for `synchronize_rcu_tasks()` (ftrace_shutdown()
//! for a module's ops); that wait is paid by the handover work or at the
//! site's release, after the transition.  The work holds GRAFT_MUTEX while
//! it waits, so a patch of more than [`MAX_SITES`] functions stays on the
//! handler.

use super::{check_site, desc_name, func_name, Cold, ColdGuard};
use crate::arch::{trampoline, Native};
use crate::ffi::{
    graft_shim_direct_back, graft_shim_direct_off, graft_shim_direct_on, graft_shim_fast_kick, graft_shim_fast_param,
    graft_shim_fast_shared_ok, graft_shim_sites_add, graft_shim_sites_remove, GraftDirect, DIRECT_CAPS,
};
use crate::kenv::Show;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use graft_core::{EntrySite, NoDirect, PatchState, SiteState, Target, TextAddr, Trampoline};
use kernel::{
    ffi::{c_int, c_uint, c_ulong},
    prelude::*,
};

/// The most functions a patch may have for its sites to be handed over:
/// each direct call costs an RCU-tasks grace period when it goes
/// (`unregister_ftrace_direct()`), a few hundred milliseconds in the TCG
/// guests, waited for under GRAFT_MUTEX by the handover work or a release;
/// a patch of more stays on the handler (the 1,000-function benchmark
/// patch does).
pub(super) const MAX_SITES: usize = 16;

/// One site's direct call (`struct graft_direct`, shim_hooks.c).
pub(super) struct Direct {
    ops: NonNull<GraftDirect>,
    /// The version it enters (the row's `both` when it was registered).
    to: TextAddr,
    /// Handed back but still registered: the site is in graft's ops too,
    /// its row split, and the handler overrules it (see [`leave`]).
    shared: bool,
    /// The backend's trampoline it enters (arm64), held until it is
    /// unregistered: only then is no call left in it.
    tramp: Option<usize>,
}

impl Direct {
    /// Whether the site is handed back, its direct call left registered.
    pub(super) fn shared(&self) -> bool {
        self.shared
    }
}

// SAFETY: an ftrace_ops graft allocated; only code holding GRAFT_MUTEX
// (which owns the `SiteUse` holding this) uses or frees it.
unsafe impl Send for Direct {}

/// Which direct sites [`leave`] hands back.
pub(super) enum Sites {
    /// Every one.
    All,
    /// Those of slot `.0`'s functions.
    Of(usize),
    /// Those of slot `.0`'s functions `.1` (a module object's).
    OfRange(usize, core::ops::Range<usize>),
    /// Site `.0`.
    One(u64),
}

impl Sites {
    fn picks(&self, cold: &Cold, ip: u64) -> bool {
        match self {
            Sites::All => true,
            Sites::Of(si) => cold.objs[*si].sites.contains(&ip),
            Sites::OfRange(si, r) => cold.objs[*si].sites.get(r.clone()).is_some_and(|s| s.contains(&ip)),
            Sites::One(x) => *x == ip,
        }
    }
}

/// The one version every task runs at site `u` now, if there is one and
/// it is a replacement.
fn settled(cold: &Cold, old: TextAddr) -> Option<TextAddr> {
    let e = cold.engine.as_ref()?;
    match (e.resolve(old, PatchState::Unpatched), e.resolve(old, PatchState::Patched)) {
        (Target::New(a), Target::New(b)) if a == b => Some(a),
        _ => None,
    }
}

/// Patch and function names of site `ip` (the first enabled patch that
/// replaces it), for the log.
fn names(cold: &Cold, ip: u64) -> (&'static str, &'static str) {
    for (s, o) in cold.slots.iter().zip(cold.objs.iter()) {
        let Some(s) = s else { continue };
        if let Some(k) = o.sites.iter().position(|&x| x == ip) {
            // SAFETY: a registered patch's static description.
            return (desc_name(s.desc), func_name(unsafe { &*s.desc }, k));
        }
    }
    ("?", "?")
}

/// Whether every enabled patch replacing site `ip` lets it take the fast
/// path (`<patch>/fast`), and none of them has more than [`MAX_SITES`].
fn allowed(cold: &Cold, ip: u64) -> bool {
    cold.slots.iter().zip(cold.objs.iter()).all(|(s, o)| match s {
        Some(s) if s.ops_held && o.sites.contains(&ip) => s.fast && s.nfuncs <= MAX_SITES,
        _ => true,
    })
}

/// Queue the handover of the settled sites (and mark them pending until
/// it ran: sysfs `functions` shows `path=pending`, so that a reader can
/// wait for the path a function settles on).
pub(super) fn kick(cold: &mut Cold) {
    if !graft_shim_fast_param() || cold.engine.as_ref().is_none_or(|e| e.transition().is_some()) {
        return;
    }
    for i in 0..cold.sites.len() {
        let u = &cold.sites[i];
        let handled = u.direct.as_ref().is_none_or(|d| d.shared);
        let pending = u.users > 0 && handled && allowed(cold, u.ip) && settled(cold, u.old).is_some();
        cold.sites[i].pending = pending;
    }
    graft_shim_fast_kick();
}

/// Hand every settled site over to its direct call (the work queued by
/// [`kick`]); nothing while a transition runs or with `graft.fast=0`, and
/// every site back when it is 0.
pub(super) fn enter(cold: &mut Cold) {
    for u in cold.sites.iter_mut() {
        u.pending = false;
    }
    if !graft_shim_fast_param() {
        let _ = leave(cold, &Sites::All, true);
        return;
    }
    if cold.engine.as_ref().is_none_or(|e| e.transition().is_some()) {
        return;
    }
    // Room for every site at once: the loop below then cannot fail midway.
    let Ok(mut moved) = KVec::<c_ulong>::with_capacity(cold.sites.len(), GFP_KERNEL) else {
        return; // no memory: the sites stay on the handler
    };
    for i in 0..cold.sites.len() {
        let (ip, old) = (cold.sites[i].ip, cold.sites[i].old);
        if cold.sites[i].users == 0 || cold.sites[i].direct.as_ref().is_some_and(|d| !d.shared) {
            continue;
        }
        let to = settled(cold, old).filter(|_| allowed(cold, ip));
        // A direct call a handback left registered: the same version again
        // (a patch re-enabled, another's transition over) takes it back as
        // it is; any other goes now, in this work, off the transitions'
        // path (its unregistration waits for a grace period).
        if let Some(d) = cold.sites[i].direct.as_ref() {
            if to.is_some() && to == Some(d.to) {
                if let Some(d) = cold.sites[i].direct.as_mut() {
                    d.shared = false;
                }
                // Within the capacity reserved above (one per site).
                let _ = moved.push_within_capacity(ip as c_ulong);
                continue;
            }
            let _ = leave(cold, &Sites::One(ip), true);
        }
        let Some(to) = to else { continue };
        let (patch, fname) = names(cold, ip);
        // The site as the backend reads it now: graft's handler's call.
        let Ok(site) = check_site(patch, fname, old, None) else { continue };
        if site.addr.0 != ip || !matches!(site.state, SiteState::Enabled { .. }) {
            continue;
        }
        let free = free_trampoline(cold);
        let d = match <Native as EntrySite>::direct(&site, to, DIRECT_CAPS, free.map(|(_, t)| t.entry)) {
            Ok(d) => d,
            Err(NoDirect::Backend) => return,
            Err(why) => {
                pr_info!("{}: {}: stays on the handler: {}\n", patch, fname, Show(why));
                continue;
            }
        };
        let tramp = match (d.tramp, free) {
            (false, _) => None,
            (true, Some((k, t))) => {
                // Before ftrace's text write makes the site enter it.
                t.target.store(to.0, Ordering::Release);
                Some(k)
            }
            (true, None) => continue, // (the backend had none to enter)
        };
        let mut err: c_int = 0;
        let p = graft_shim_direct_on(ip as c_ulong, d.addr as c_ulong, &mut err);
        let Some(ops) = NonNull::new(p) else {
            pr_info!("{}: {}: stays on the handler: ftrace refused its direct call ({})\n", patch, fname, err);
            continue;
        };
        cold.sites[i].direct = Some(Direct { ops, to, shared: false, tramp });
        // Within the capacity reserved above (one per site).
        let _ = moved.push_within_capacity(ip as c_ulong);
    }
    if moved.is_empty() {
        return;
    }
    // The sites leave graft's ops: the direct call alone is left on each.
    // SAFETY: each in the filter (users > 0, on the handler until just
    // now), once.
    unsafe { graft_shim_sites_remove(moved.as_mut_ptr(), moved.len() as c_uint) };
    // Read back: each site must still be an enabled branch as the backend
    // reads it: into the version itself (x86_64's jump, s390's `brasl`),
    // into the site's own trampoline (s390 without `cpu_has_seq_insn()`),
    // or, where another ftrace user shares the site (a tracer, a kprobe),
    // into ftrace's, which then branches where the direct call says.
    for &ip in moved.iter() {
        let Some(u) = cold.sites.iter().find(|u| u.ip == ip as u64) else { continue };
        let (patch, fname) = names(cold, u.ip);
        let now = check_site(patch, fname, u.old, None).ok().map(|s| (s.addr.0, s.state));
        if !matches!(now, Some((at, SiteState::Enabled { .. })) if at == u.ip) {
            pr_err!("{}: {}: the site ({:#x}) is no enabled branch after handover: handed back\n", patch, fname, u.ip);
            let _ = leave(cold, &Sites::One(ip as u64), true);
        }
    }
    pr_info!("fast path: {} site(s) handed over to direct calls\n", moved.len());
}

/// A trampoline of the backend's that no direct call holds.
fn free_trampoline(cold: &Cold) -> Option<(usize, Trampoline)> {
    let held = |k: usize| cold.sites.iter().any(|u| u.direct.as_ref().is_some_and(|d| d.tramp == Some(k)));
    (0..).map_while(|k| trampoline(k).map(|t| (k, t))).find(|&(k, _)| !held(k))
}

/// Hand the direct sites `which` chooses back to graft's handler: first
/// into graft's ops, with the direct call still on and both agreeing (the
/// row is unchanged).  Then, `full`, the direct call goes
/// (`unregister_ftrace_direct()`, which waits for an RCU-tasks grace
/// period); otherwise, where the arch lets the handler overrule it
/// (`graft_shim_fast_shared_ok()`), it stays registered, `shared`: the
/// site's row is split from the next publication on, and the split path
/// clears graft's own direct target, so the view decides per task while
/// the direct call waits for [`enter`] (the same version again: taken back
/// as it is) or for the site's release (`sites_put`: after the transition).
/// That keeps the grace period off the transition the handback precedes.
/// `EBUSY`: another IP-modifying ftrace user took one of the sites
/// meanwhile, so the handler cannot come back and nothing changed; the
/// operation that needed the handler must be refused.
pub(super) fn leave(cold: &mut Cold, which: &Sites, full: bool) -> Result {
    let full = full || !graft_shim_fast_shared_ok();
    let mut back: KVec<c_ulong> = KVec::new();
    let mut off = 0;
    for u in cold.sites.iter() {
        let Some(d) = u.direct.as_ref() else { continue };
        if which.picks(cold, u.ip) {
            if !d.shared {
                back.push(u.ip as c_ulong, GFP_KERNEL)?;
            }
            off += 1;
        }
    }
    if off == 0 {
        return Ok(());
    }
    if !back.is_empty() {
        let mark = |cold: &Cold, back: &[c_ulong], on: bool| {
            for u in cold.sites.iter().filter(|u| back.contains(&(u.ip as c_ulong))) {
                if let Some(d) = u.direct.as_ref() {
                    // SAFETY: a direct call of a site graft holds, not off yet.
                    unsafe { graft_shim_direct_back(d.ops.as_ptr(), on) };
                }
            }
        };
        mark(cold, &back, true);
        // SAFETY: `back` holds sites in no filter of graft's ops (direct,
        // not shared), once.
        let err = unsafe { graft_shim_sites_add(back.as_mut_ptr(), back.len() as c_uint) };
        mark(cold, &back, false);
        if err != 0 {
            let (patch, fname) = names(cold, back[0] as u64);
            pr_err!(
                "{}: {}: cannot hand {} fast-path site(s) back to graft's handler ({}): another IP-modifying ftrace user holds one; refused\n",
                patch,
                fname,
                back.len(),
                err
            );
            return Err(Error::from_errno(err));
        }
    }
    for i in 0..cold.sites.len() {
        if cold.sites[i].direct.is_none() || !which.picks(cold, cold.sites[i].ip) {
            continue;
        }
        if !full {
            if let Some(d) = cold.sites[i].direct.as_mut() {
                d.shared = true;
            }
            continue;
        }
        if let Some(d) = cold.sites[i].direct.take() {
            // SAFETY: a direct call of a site graft holds, in graft's ops
            // again; taken out of the site, never used again.
            unsafe { graft_shim_direct_off(d.ops.as_ptr()) };
        }
    }
    Ok(())
}

/// A module is going: its direct sites go whatever happens.  If graft's
/// handler cannot come back on one, its direct call is removed anyway (the
/// module's functions run no more).
pub(super) fn leave_going(cold: &mut Cold, which: &Sites) {
    if leave(cold, which, true).is_ok() {
        return;
    }
    for i in 0..cold.sites.len() {
        if !which.picks(cold, cold.sites[i].ip) {
            continue;
        }
        let Some(d) = cold.sites[i].direct.take() else { continue };
        // SAFETY: as in `leave`.
        unsafe { graft_shim_direct_off(d.ops.as_ptr()) };
        // The site rejoins graft's ops, so that its users' later removal
        // finds it there.
        let mut ip = cold.sites[i].ip as c_ulong;
        // SAFETY: one site, in no filter of graft's ops (it was direct).
        if unsafe { graft_shim_sites_add(&mut ip, 1) } != 0 {
            pr_err!("fast path: {:#x} of a going module: neither direct nor handled\n", ip);
        }
    }
}

/// At every publication: a direct site's row must still give every task
/// the version its direct call enters (else the row changed without
/// [`leave`] first: a bug, loudly).
pub(super) fn check_rows(cold: &Cold) {
    for u in cold.sites.iter() {
        if let Some(d) = u.direct.as_ref().filter(|d| !d.shared) {
            if settled(cold, u.old) != Some(d.to) {
                let (patch, fname) = names(cold, u.ip);
                pr_err!("{}: {}: BUG: the row of a fast-path site changed under its direct call\n", patch, fname);
            }
        }
    }
}

/// The work `graft_shim_fast_kick()` queues.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_fast_work() {
    let mut g = ColdGuard::lock();
    enter(&mut g);
}

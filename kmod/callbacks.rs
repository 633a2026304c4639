// SPDX-License-Identifier: GPL-2.0
//! Per-object callbacks (graft.h's `struct graft_callbacks`), with upstream
//! livepatch's semantics (Documentation/livepatch/callbacks.rst;
//! kernel/livepatch/core.h, core.c `__klp_enable_patch()` /
//! `__klp_disable_patch()`, transition.c `klp_complete_transition()`):
//!
//! * `pre_patch` of every present object runs before the patch transition
//!   starts; the first failure stops there, the objects whose `pre_patch`
//!   succeeded get their `post_unpatch` (upstream's cancelled transition
//!   completes as unpatching) and enabling fails with that errno.
//! * `post_patch` runs once a transition to patched completes (also after
//!   a reversed disable, and a forced one).
//! * `pre_unpatch` runs before the transition to unpatched starts (never for
//!   a reversed enable: upstream runs no callback when reversing).
//! * `post_unpatch` runs once a transition to unpatched completes, only for
//!   objects whose `pre_patch` succeeded (upstream's `post_unpatch_enabled`).
//! * Atomic replace: only the new patch's callbacks run; the replaced
//!   patches' are not called (callbacks.rst, "Atomic replace").
//!
//! Every function here is called with `graft_mutex` held (upstream runs them
//! under `klp_mutex`), in process context: a callback may sleep.
//! graft-core's [`Engine`](graft_core::Engine) calls its [`Hooks`] in the
//! middle of a pass or a force, before the glue has published the view
//! without transition, so [`Deferred`] only records what completed and
//! [`Deferred::run`] calls the callbacks once that view is published (as
//! upstream calls them from `klp_complete_transition()` after the tasks'
//! states are final); the `pre_*` callbacks are called by the glue before
//! it asks the engine to start a transition.
//!
//! The per-object entry points ([`pre_patch`], [`post_patch`],
//! [`pre_unpatch`], [`post_unpatch`]) are also what module objects use when
//! their module comes or goes.

use super::{cstr, ObjectDesc, PatchDesc};
use graft_core::{Hooks, PatchId};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    ffi::c_int,
    prelude::*,
};

const ENOMEM: c_int = 12;

/// Objects whose `pre_patch` succeeded and whose `post_unpatch` is still
/// due (upstream's `klp_callbacks.post_unpatch_enabled`, which graft keeps
/// here because the descriptions are the patch modules' read-only statics).
/// Guarded by `graft_mutex`.
struct Armed(core::cell::UnsafeCell<KVec<usize>>);
// SAFETY: only touched with graft_mutex held (see the module comment).
unsafe impl Sync for Armed {}
static ARMED: Armed = Armed(core::cell::UnsafeCell::new(KVec::new()));

#[allow(clippy::mut_from_ref)]
fn armed() -> &'static mut KVec<usize> {
    // SAFETY: graft_mutex is held by every caller, so this is the only
    // reference alive.
    unsafe { &mut *ARMED.0.get() }
}

fn disarm(obj: &ObjectDesc) -> bool {
    let a = armed();
    let key = core::ptr::from_ref(obj) as usize;
    let found = match a.iter().position(|&o| o == key) {
        Some(i) => {
            let _ = a.remove(i);
            true
        }
        None => false,
    };
    if a.is_empty() {
        // No patch has a post_unpatch due: give the buffer back, so nothing
        // is left allocated when graft.ko unloads (every patch is gone by
        // then, and forgetting one disarms its objects).
        *a = KVec::new();
    }
    found
}

/// The object's name as upstream prints it (`vmlinux` for the kernel).
pub(crate) fn obj_name(obj: &ObjectDesc) -> &str {
    if obj.name.is_null() {
        "vmlinux"
    } else {
        cstr(obj.name)
    }
}

/// Whether the object is present: vmlinux always, a module while it is
/// loaded (objects.rs; upstream's `klp_is_object_loaded()`).
fn present(obj: &ObjectDesc) -> bool {
    super::objects::loaded(obj)
}

/// `klp_pre_patch_callback()`: run the object's `pre_patch`; on success its
/// `post_unpatch` becomes due.
pub(crate) fn pre_patch(obj: &ObjectDesc) -> Result<(), c_int> {
    // Room first, so a due post_unpatch is never lost to an allocation.
    armed().reserve(1, GFP_KERNEL).map_err(|_| -ENOMEM)?;
    let r = match obj.callbacks.pre_patch {
        // SAFETY: a callback of a loaded patch module, called as graft.h
        // declares it, in process context.
        Some(f) => unsafe { f(obj) },
        None => 0,
    };
    disarm(obj);
    if r != 0 {
        // A positive value is no errno: report it as -EINVAL, as the
        // module loader would misread it.
        return Err(if r < 0 { r } else { -22 });
    }
    // Capacity reserved above: cannot fail.
    let _ = armed().push(core::ptr::from_ref(obj) as usize, GFP_KERNEL);
    Ok(())
}

/// `klp_post_patch_callback()`.
pub(crate) fn post_patch(obj: &ObjectDesc) {
    if let Some(f) = obj.callbacks.post_patch {
        // SAFETY: as in `pre_patch`.
        unsafe { f(obj) }
    }
}

/// `klp_pre_unpatch_callback()`.
pub(crate) fn pre_unpatch(obj: &ObjectDesc) {
    if let Some(f) = obj.callbacks.pre_unpatch {
        // SAFETY: as in `pre_patch`.
        unsafe { f(obj) }
    }
}

/// `klp_post_unpatch_callback()`: only if the object's `pre_patch` ran and
/// succeeded since its last `post_unpatch`.
pub(crate) fn post_unpatch(obj: &ObjectDesc) {
    if !disarm(obj) {
        return;
    }
    if let Some(f) = obj.callbacks.post_unpatch {
        // SAFETY: as in `pre_patch`.
        unsafe { f(obj) }
    }
}

/// `pre_patch` of every present object of `desc`, in order; on a failure
/// the earlier objects get their `post_unpatch` (upstream's
/// `klp_cancel_transition()` after `__klp_enable_patch()` failed).
pub(crate) fn pre_patch_all(desc: &PatchDesc) -> Result<(), c_int> {
    for (i, obj) in desc.objs().iter().enumerate() {
        if !present(obj) {
            continue;
        }
        if let Err(e) = pre_patch(obj) {
            pr_warn!("{}: pre-patch callback failed for object '{}' ({})\n", cstr(desc.name), obj_name(obj), e);
            for o in desc.objs()[..i].iter().filter(|o| present(o)) {
                post_unpatch(o);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// `post_patch` of every present object (a transition to patched completed).
pub(crate) fn post_patch_all(desc: &PatchDesc) {
    desc.objs().iter().filter(|o| present(o)).for_each(post_patch);
}

/// `pre_unpatch` of every present object (before unpatching starts).
pub(crate) fn pre_unpatch_all(desc: &PatchDesc) {
    desc.objs().iter().filter(|o| present(o)).for_each(pre_unpatch);
}

/// `post_unpatch` of every present object (a transition to unpatched
/// completed, or enabling was cancelled after `pre_patch_all`).
pub(crate) fn post_unpatch_all(desc: &PatchDesc) {
    desc.objs().iter().filter(|o| present(o)).for_each(post_unpatch);
}

/// The patch is gone (unregistered, or registration failed): drop whatever
/// it still had due, so a later module at the same address starts clean.
/// (A replaced patch never gets its `post_unpatch`, as upstream.)
pub(crate) fn forget(desc: &PatchDesc) {
    for o in desc.objs() {
        disarm(o);
    }
}

/// Enabling in progress: `pre_patch` ran for every present object; unless
/// [`Enabling::started`] is called, dropping this cancels (`post_unpatch`
/// of those objects), as upstream does when `__klp_enable_patch()` fails
/// after the callbacks.
pub(crate) struct Enabling<'a>(Option<&'a PatchDesc>);

impl<'a> Enabling<'a> {
    /// Run the `pre_patch` callbacks of `desc` (see [`pre_patch_all`]).
    pub(crate) fn begin(desc: &'a PatchDesc) -> Result<Self, c_int> {
        pre_patch_all(desc)?;
        Ok(Enabling(Some(desc)))
    }
    /// The transition started: the callbacks' fate is the transition's.
    pub(crate) fn started(mut self) {
        self.0 = None;
    }
}

impl Drop for Enabling<'_> {
    fn drop(&mut self) {
        if let Some(d) = self.0 {
            post_unpatch_all(d);
        }
    }
}

/// [`Hooks`] for the engine's pass and force: records which transition
/// completed (post_patch or post_unpatch of that patch) for
/// [`Deferred::run`] once the view is published.  `pre_patch` has already
/// run (the glue calls [`Enabling::begin`] first) and `pre_unpatch` is
/// called by the glue before a disable (the engine also reports it when a
/// transition is reversed to unpatched, where upstream calls nothing), so
/// both are no-ops here.
#[derive(Default)]
pub(crate) struct Deferred {
    done: Option<(PatchId, bool)>,
}

impl Hooks for Deferred {
    fn post_patch(&mut self, p: PatchId) {
        self.done = Some((p, true));
    }
    fn post_unpatch(&mut self, p: PatchId) {
        self.done = Some((p, false));
    }
}

impl Deferred {
    /// Call the recorded post callbacks (graft_mutex held, the view without
    /// transition published); `desc_of` finds the patch's description.
    pub(crate) fn run(self, desc_of: impl Fn(PatchId) -> Option<*const PatchDesc>) {
        let Some((id, patched)) = self.done else { return };
        let Some(d) = desc_of(id) else { return };
        // SAFETY: a registered patch's static description (its module
        // cannot unload while graft_mutex is held: unregister takes it).
        let d = unsafe { &*d };
        if patched {
            post_patch_all(d);
        } else {
            post_unpatch_all(d);
        }
    }
}

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
//! Every function here is called with `GRAFT_MUTEX` held (upstream runs
//! them under `klp_mutex`): those that read or change graft's state take
//! the [`Cold`] it guards.  In process context: a callback may sleep.
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
//!
//! The objects whose `pre_patch` succeeded and whose `post_unpatch` is
//! still due (upstream's `klp_callbacks.post_unpatch_enabled`, which graft
//! keeps apart because the descriptions are the patch modules' read-only
//! statics) are [`Cold::armed`].

use super::{cstr, Cold, ObjectDesc, PatchDesc};
use graft_core::{Hooks, PatchId};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    prelude::*,
};

fn disarm(cold: &mut Cold, obj: &ObjectDesc) -> bool {
    let a = &mut cold.armed;
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
pub(super) fn obj_name(obj: &ObjectDesc) -> &str {
    if obj.name.is_null() {
        "vmlinux"
    } else {
        cstr(obj.name)
    }
}

/// Whether the object is present: vmlinux always, a module while it is
/// loaded (objects.rs; upstream's `klp_is_object_loaded()`).
fn present(cold: &Cold, obj: &ObjectDesc) -> bool {
    super::objects::loaded(cold, obj)
}

/// `klp_pre_patch_callback()`: run the object's `pre_patch`; on success its
/// `post_unpatch` becomes due.
pub(super) fn pre_patch(cold: &mut Cold, obj: &ObjectDesc) -> Result {
    // Room first, so a due post_unpatch is never lost to an allocation.
    cold.armed.reserve(1, GFP_KERNEL)?;
    let r = match obj.callbacks.pre_patch {
        // SAFETY: a callback of a loaded patch module, called as graft.h
        // declares it, in process context.
        Some(f) => unsafe { f(obj) },
        None => 0,
    };
    disarm(cold, obj);
    if r != 0 {
        // A positive value is no errno: report it as -EINVAL, as the
        // module loader would misread it.
        return Err(if r < 0 { Error::from_errno(r) } else { EINVAL });
    }
    // Capacity reserved above: cannot fail.
    let _ = cold.armed.push(core::ptr::from_ref(obj) as usize, GFP_KERNEL);
    Ok(())
}

/// `klp_post_patch_callback()`.
pub(super) fn post_patch(obj: &ObjectDesc) {
    if let Some(f) = obj.callbacks.post_patch {
        // SAFETY: as in `pre_patch`.
        unsafe { f(obj) }
    }
}

/// `klp_pre_unpatch_callback()`.
pub(super) fn pre_unpatch(obj: &ObjectDesc) {
    if let Some(f) = obj.callbacks.pre_unpatch {
        // SAFETY: as in `pre_patch`.
        unsafe { f(obj) }
    }
}

/// `klp_post_unpatch_callback()`: only if the object's `pre_patch` ran and
/// succeeded since its last `post_unpatch`.
pub(super) fn post_unpatch(cold: &mut Cold, obj: &ObjectDesc) {
    if !disarm(cold, obj) {
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
pub(super) fn pre_patch_all(cold: &mut Cold, desc: &PatchDesc) -> Result {
    for (i, obj) in desc.objs().iter().enumerate() {
        if !present(cold, obj) {
            continue;
        }
        if let Err(e) = pre_patch(cold, obj) {
            pr_warn!(
                "{}: pre-patch callback failed for object '{}' ({})\n",
                cstr(desc.name),
                obj_name(obj),
                e.to_errno()
            );
            for o in desc.objs()[..i].iter() {
                if present(cold, o) {
                    post_unpatch(cold, o);
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

/// `post_patch` of every present object (a transition to patched completed).
pub(super) fn post_patch_all(cold: &Cold, desc: &PatchDesc) {
    desc.objs().iter().filter(|o| present(cold, o)).for_each(post_patch);
}

/// `pre_unpatch` of every present object (before unpatching starts).
pub(super) fn pre_unpatch_all(cold: &Cold, desc: &PatchDesc) {
    desc.objs().iter().filter(|o| present(cold, o)).for_each(pre_unpatch);
}

/// `post_unpatch` of every present object (a transition to unpatched
/// completed, or enabling was cancelled after `pre_patch_all`).
pub(super) fn post_unpatch_all(cold: &mut Cold, desc: &PatchDesc) {
    for o in desc.objs() {
        if present(cold, o) {
            post_unpatch(cold, o);
        }
    }
}

/// The patch is gone (unregistered, or registration failed): drop whatever
/// it still had due, so a later module at the same address starts clean.
/// (A replaced patch never gets its `post_unpatch`, as upstream.)
pub(super) fn forget(cold: &mut Cold, desc: &PatchDesc) {
    for o in desc.objs() {
        disarm(cold, o);
    }
}

/// [`Hooks`] for the engine's pass and force: records which transition
/// completed (post_patch or post_unpatch of that patch) for
/// [`Deferred::run`] once the view is published.  `pre_patch` has already
/// run (the glue calls [`pre_patch_all`] first) and `pre_unpatch` is
/// called by the glue before a disable (the engine also reports it when a
/// transition is reversed to unpatched, where upstream calls nothing), so
/// both are no-ops here.
#[derive(Default)]
pub(super) struct Deferred {
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
    /// Call the recorded post callbacks (the view without transition
    /// published).
    pub(super) fn run(self, cold: &mut Cold) {
        let Some((id, patched)) = self.done else { return };
        let Some(d) = cold.slots.iter().flatten().find(|s| s.id == id).map(|s| s.desc) else { return };
        // SAFETY: a registered patch's static description (its module
        // cannot unload while GRAFT_MUTEX is held: unregister takes it).
        let d = unsafe { &*d };
        if patched {
            post_patch_all(cold, d);
        } else {
            post_unpatch_all(cold, d);
        }
    }
}

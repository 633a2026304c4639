// SPDX-License-Identifier: GPL-2.0
//! What the ftrace handler reads: an immutable, RCU-published [`View`].
//!
//! Upstream's `klp_ftrace_handler()` (kernel/livepatch/patch.c) takes no
//! lock: it reads an RCU list of function versions and
//! `current->patch_state`.  graft cannot add a field to `task_struct`, so a
//! view carries, per site, the target for a task in each patch state
//! (computed under `graft_mutex` with graft-core's `Engine::resolve`),
//! whether a transition runs and the state of tasks created after its
//! snapshot, and the snapshot itself (sorted task pointers, one atomic state
//! each, which transition passes switch in place).
//!
//! Publication: two static view buffers.  The control side (always under
//! `graft_mutex`) fills the buffer no reader can hold, publishes it with a
//! release store and waits for a grace period, after which the other buffer
//! is unreferenced and is cleared (dropping its snapshot reference).  The
//! handler runs under `ftrace_test_recursion_trylock()`, which disables
//! preemption (include/linux/trace_recursion.h): with the consolidated RCU
//! flavours a preempt-disabled region is a read-side critical section for
//! `synchronize_rcu()` (include/linux/rcupdate.h).  On architectures with
//! `CONFIG_ARCH_WANTS_NO_INSTR` (x86_64) every function called where RCU is
//! not watching is `noinstr`, hence never traced; elsewhere
//! `synchronize_rcu_tasks_rude()` covers those regions (it is a no-op on
//! x86_64, kernel/rcu/tasks.h), so `graft_shim_synchronize()` calls both.
//!
//! The Rust side is not built with `-Zinstrument-mcount` by this kernel
//! (no Rust entry in the top Makefile's `CC_FLAGS_FTRACE`), so nothing the
//! handler calls here can recurse into ftrace.

use crate::engine::MAX_SITES;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use graft_core::PatchState;
use kernel::{
    alloc::{flags::GFP_KERNEL, KVec},
    ffi::c_ulong,
    sync::Arc,
};

unsafe extern "C" {
    fn graft_shim_current() -> *mut c_void;
    fn graft_shim_synchronize();
    fn graft_shim_put_task(t: *mut c_void);
}

/// A [`PatchState`] as the view's atomics store it.
pub(crate) const fn state_code(s: PatchState) -> u8 {
    match s {
        PatchState::Unpatched => 0,
        PatchState::Patched => 1,
    }
}

fn state_of_code(c: u8) -> PatchState {
    if c == 0 {
        PatchState::Unpatched
    } else {
        PatchState::Patched
    }
}

/// A transition's task snapshot: every thread, referenced and sorted by
/// `task_struct` pointer, with its patch state.  Dropping it drops the
/// references (only ever in process context, after no view holds it).
pub(crate) struct Snap {
    tasks: KVec<*mut c_void>,
    states: KVec<AtomicU8>,
}

impl Snap {
    /// Takes over the references in `tasks` (sorted); every state starts as
    /// `init`.
    pub(crate) fn new(tasks: KVec<*mut c_void>, init: PatchState) -> Result<Self, KVec<*mut c_void>> {
        let mut states = match KVec::with_capacity(tasks.len(), GFP_KERNEL) {
            Ok(s) => s,
            Err(_) => return Err(tasks),
        };
        for _ in 0..tasks.len() {
            // Capacity reserved above: never fails.
            let _ = states.push(AtomicU8::new(state_code(init)), GFP_KERNEL);
        }
        Ok(Snap { tasks, states })
    }
    pub(crate) fn tasks(&self) -> &[*mut c_void] {
        &self.tasks
    }
    /// Task `t`'s state, if it is in the snapshot.
    #[inline]
    pub(crate) fn state_of(&self, t: *mut c_void) -> Option<PatchState> {
        let i = self.tasks.binary_search(&t).ok()?;
        // Relaxed: a pass switches a task's state only while the task is
        // off CPU (or is the pass's own task), and the scheduler's wakeup
        // and switch barriers order that store before the task runs again,
        // as for upstream's plain `task->patch_state` store in
        // klp_try_switch_task().
        Some(state_of_code(self.states[i].load(Ordering::Relaxed)))
    }
    pub(crate) fn get(&self, i: usize) -> PatchState {
        state_of_code(self.states[i].load(Ordering::Relaxed))
    }
    pub(crate) fn set(&self, i: usize, s: PatchState) {
        self.states[i].store(state_code(s), Ordering::Relaxed);
    }
}

impl Drop for Snap {
    fn drop(&mut self) {
        for t in self.tasks.iter() {
            // SAFETY: drops the reference the snapshot took.
            unsafe { graft_shim_put_task(*t) };
        }
    }
}

/// No transition runs (every task is on the only side there is).
const NO_TRANSITION: u8 = 0xff;

/// Everything the handler needs, immutable once published.
pub(crate) struct View {
    /// Per site (the index in `ops->private`): the target for a task in
    /// state `Unpatched` (`[0]`) and `Patched` (`[1]`); 0 runs the original.
    targets: [[u64; 2]; MAX_SITES],
    /// [`NO_TRANSITION`], or the state code of tasks missing from `snap`
    /// (created after it was taken: `Transition::state_for_new_task`).
    new_task: u8,
    /// The running transition's snapshot.
    snap: Option<Arc<Snap>>,
}

impl View {
    const EMPTY: View = View { targets: [[0; 2]; MAX_SITES], new_task: NO_TRANSITION, snap: None };

    /// The handler's decision for the current task at site `site`.
    #[inline]
    fn target(&self, site: usize) -> u64 {
        let Some(t) = self.targets.get(site) else { return 0 };
        if t[0] == t[1] {
            return t[1]; // no transition touches this site: no task lookup
        }
        let state = match (self.new_task, &self.snap) {
            (NO_TRANSITION, _) | (_, None) => PatchState::Patched,
            (new, Some(snap)) => {
                // SAFETY: returns `current`.
                let me = unsafe { graft_shim_current() };
                snap.state_of(me).unwrap_or(state_of_code(new))
            }
        };
        t[state_code(state) as usize]
    }
}

/// What the control side hands to [`publish`].
pub(crate) struct NewView {
    pub(crate) targets: [[u64; 2]; MAX_SITES],
    /// `Some((state for new tasks, snapshot))` while a transition runs.
    pub(crate) transition: Option<(PatchState, Arc<Snap>)>,
}

impl NewView {
    pub(crate) const fn empty() -> Self {
        NewView { targets: [[0; 2]; MAX_SITES], transition: None }
    }
}

struct Buf(UnsafeCell<View>);
// SAFETY: a buffer is written only under graft_mutex while unpublished and
// unreferenced (a grace period passed since it was last published); the
// published one is only read.
unsafe impl Sync for Buf {}

static BUFS: [Buf; 2] = [Buf(UnsafeCell::new(View::EMPTY)), Buf(UnsafeCell::new(View::EMPTY))];
static VIEW: AtomicPtr<View> = AtomicPtr::new(core::ptr::null_mut());

/// The ftrace handler's decision (`shim.c` graft_ftrace_handler, under
/// ftrace_test_recursion_trylock()): where a call at the site with index
/// `site` goes for the current task (0: the original).  No lock, no search
/// of the sites.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_target(site: c_ulong) -> c_ulong {
    // Acquire pairs with `publish`'s release: the view's contents, the
    // snapshot's initial states included, are seen before the pointer
    // (upstream's smp_wmb() in klp_init_transition() and smp_rmb() in
    // klp_ftrace_handler() order the same two things).
    let v = VIEW.load(Ordering::Acquire);
    if v.is_null() {
        return 0;
    }
    // SAFETY: a published view stays valid and unchanged until a grace
    // period after it is unpublished; this runs with preemption disabled.
    let v = unsafe { &*v };
    v.target(site) as c_ulong
}

/// Publish `nv` and wait until no handler can see the previous view; that
/// one is then cleared (its snapshot reference dropped).  Call with
/// graft_mutex held (every control path does).
pub(crate) fn publish(nv: NewView) {
    let cur = VIEW.load(Ordering::Relaxed);
    let idx = usize::from(cur == BUFS[0].0.get());
    let next = BUFS[idx].0.get();
    // SAFETY: `next` is not published, and a grace period passed since it
    // last was (the end of the previous `publish`): nobody reads it.
    let old_snap = unsafe {
        let v = &mut *next;
        v.targets = nv.targets;
        let (new_task, snap) = match nv.transition {
            Some((s, snap)) => (state_code(s), Some(snap)),
            None => (NO_TRANSITION, None),
        };
        v.new_task = new_task;
        core::mem::replace(&mut v.snap, snap)
    };
    drop(old_snap);
    VIEW.store(next, Ordering::Release);
    // SAFETY: process context, graft_mutex held (no spinlock).
    unsafe { graft_shim_synchronize() };
    if !cur.is_null() {
        // SAFETY: unpublished a grace period ago: nobody reads it.
        let snap = unsafe { (*cur).snap.take() };
        drop(snap);
    }
}

/// Module exit: unpublish and drop everything the views hold.
pub(crate) fn clear() {
    VIEW.store(core::ptr::null_mut(), Ordering::Release);
    // SAFETY: process context.
    unsafe { graft_shim_synchronize() };
    for b in BUFS.iter() {
        // SAFETY: unpublished a grace period ago: nobody reads it.
        let snap = unsafe { (*b.0.get()).snap.take() };
        drop(snap);
    }
}

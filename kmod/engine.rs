// SPDX-License-Identifier: GPL-2.0
//! The in-kernel engine: graft-core's [`Engine`] driven by the kernel.
//!
//! * **Patch modules** call `graft_register_patch()` (exported by `shim.c`,
//!   ABI in `graft.h`) with a [`PatchDesc`]; graft resolves each function's
//!   symbol by name in graft's table of `/proc/kallsyms` (no lookup that
//!   leaves state behind: `ksyms.rs`), lets the backend's `analyze_site`
//!   find its ftrace site from the symbol's start, creates
//!   `/sys/kernel/graft/<patch>/`, taints the kernel (`TAINT_LIVEPATCH`)
//!   and enables the patch.  Nothing is fixed in size: the engine's
//!   storage, the site table and the view's room grow (fallibly) at
//!   registration ([`grow`]), never in the handler or the unwinder.
//! * **Redirection**: one `ftrace_ops` (IPMODIFY, upstream klp's flags) for
//!   every patched function; a site is in its filter while some enabled
//!   patch replaces the function ([`SiteUse`], upstream's `struct klp_ops`
//!   per function), added and removed in one batch per patch (so enabling
//!   costs one ftrace update per patch, not per function), and refused
//!   unless the kernel then enabled exactly the site the backend found.
//!   Its handler (`shim_hooks.c`) finds its site's row by `ip` in the
//!   RCU-published [`view::View`] with no lock: per site the version
//!   [`Engine::resolve`] chose for each patch state; in a transition
//!   `view::graft_rs_target` adds the current task's state in the
//!   transition's task snapshot.
//! * **Transitions**: a snapshot of every thread (sorted by `task_struct`
//!   pointer, one [`PatchState`] each) is the [`TaskEnv`]; passes run from a
//!   delayed work item with [`Transition::next_delay_ms`] backoff.  A
//!   sleeping task's stack is copied with `copy_from_kernel_nofault()` and
//!   the copy is kept only if the task stayed off CPU (on_cpu clear and its
//!   context-switch counts unchanged across the copy); the backend's
//!   reliable unwinder walks the copy.  The worker's own stack is copied from
//!   inside the pass.  Tasks created after the snapshot start in the target
//!   state ([`Transition::state_for_new_task`]).
//!
//! Locking: [`GRAFT_MUTEX`], a `global_lock!` mutex, holds [`Cold`], the
//! control state (the engine included), and serialises every control path:
//! each takes a [`ColdGuard`] and passes `&mut Cold` down.  The handler
//! takes no lock (see `view.rs`).  Every change of the engine ends with
//! [`publish`].

#[path = "callbacks.rs"]
mod callbacks;

use crate::arch::Native;
use crate::ffi::{
    graft_shim_cancel_work, graft_shim_cpu_online, graft_shim_current, graft_shim_fast_ready, graft_shim_idle_hook,
    graft_shim_idle_hook_name, graft_shim_kick_cpu, graft_shim_module_get, graft_shim_module_put, graft_shim_nr_cpus,
    graft_shim_patch_dir, graft_shim_patch_dir_remove, graft_shim_sched_exit, graft_shim_sched_init,
    graft_shim_schedule, graft_shim_set_transition, graft_shim_sites_add, graft_shim_sites_remove,
    graft_shim_sys_exit_exit, graft_shim_sys_exit_hook, graft_shim_sysfs_exit, graft_shim_sysfs_init, graft_shim_taint,
    graft_shim_timer_init, GRAFT_ATTR_ENABLED, GRAFT_ATTR_FAST, GRAFT_ATTR_FORCE, GRAFT_ATTR_FORCED,
    GRAFT_ATTR_KERNEL_RELEASE, GRAFT_ATTR_MODULE, GRAFT_ATTR_PATCHED, GRAFT_ATTR_PROGRESS, GRAFT_ATTR_REPLACE,
    GRAFT_ATTR_STACK_ORDER, GRAFT_ATTR_STATES,
};
use crate::kenv::{self, Show, SysfsPage, KSYM_BUF};
use crate::tasks::{threads, Copied, StackCopy};
#[path = "fast.rs"]
mod fast;
#[path = "objects.rs"]
pub(crate) mod objects;
/// `/proc/kallsyms` lookups (the per-task self-test reads text bounds).
pub(crate) use objects::ksyms;
#[path = "states.rs"]
mod states;
#[path = "stragglers.rs"]
mod stragglers;
#[path = "view.rs"]
mod view;
use core::cell::Cell;
use core::mem::ManuallyDrop;
use graft_core::{
    Code, Engine, EngineError, EngineStorage, EntrySite, FuncEntry, NoHooks, PatchId, PatchRec, PatchState, Room, Site,
    SiteState, State, Target, TaskEnv, TaskView, TextAddr,
};
use kernel::{
    bindings,
    error::to_result,
    ffi::{c_char, c_int, c_uint, c_ulong},
    prelude::*,
    sync::{aref::ARef, Arc, GlobalGuard},
    task::Task,
    time::{delay::fsleep, Delta},
};
use view::{NewView, Snap, IDLE_NOT_CHECKED, IDLE_UNRELIABLE};

/// The deepest stack a transition pass walks (the unwinder's scratch).
const MAX_FRAMES: usize = 64;
/// Patches with at most this many functions log each function's site.
const LOG_EACH_SITE: usize = 16;

use crate::abi::{FuncDesc, ObjectDesc, PatchDesc};

/// graft-core's engine errors as the errnos the glue returns: upstream
/// livepatch's for the same refusals (kernel/livepatch/core.c,
/// transition.c).  The only place an [`EngineError`] becomes an errno.
fn engine_errno(e: EngineError) -> Error {
    match e {
        // Another transition runs; or a forced patch must stay loaded.
        EngineError::Busy | EngineError::Forced => EBUSY,
        EngineError::NoMemory => ENOMEM,
        // A callback's own errno (positive or out of range: -EINVAL).
        EngineError::Callback(e) if e < 0 => Error::from_errno(e),
        _ => EINVAL,
    }
}

impl PatchDesc {
    /// The objects (the description is a static of the patch module).
    fn objs(&self) -> &[ObjectDesc] {
        if self.objs.is_null() {
            return &[];
        }
        // SAFETY: `objs` points at `nobjs` static descriptions.
        unsafe { core::slice::from_raw_parts(self.objs, self.nobjs as usize) }
    }
    /// Every function of every object, in order.
    fn funcs(&self) -> impl Iterator<Item = &FuncDesc> {
        self.objs().iter().flat_map(|o| {
            if o.funcs.is_null() {
                return [].iter();
            }
            // SAFETY: `funcs` points at `nfuncs` static descriptions.
            unsafe { core::slice::from_raw_parts(o.funcs, o.nfuncs as usize) }.iter()
        })
    }
}

/// One registered patch (its functions' sites and objects are
/// [`Cold::objs`] of the same index).
#[derive(Clone, Copy)]
struct Slot {
    desc: *const PatchDesc,
    owner: *mut bindings::module,
    id: PatchId,
    nfuncs: usize,
    /// This patch holds a user of each of its present functions'
    /// [`SiteUse`] (from enable until unpatched: sysfs `<object>/patched`).
    ops_held: bool,
    dir: *mut bindings::kobject,
    /// A reference on `owner` is held (from enable until unpatched; for
    /// ever once a forced transition touched the patch, as upstream).
    module_ref: bool,
    /// Its functions may take the fast path (sysfs `fast`, fast.rs).
    fast: bool,
}

// SAFETY: the pointers name kernel objects no thread owns: the patch
// module's static description (read-only), the module (referenced while
// `module_ref`), the sysfs directory graft created; any thread holding
// GRAFT_MUTEX may use them.
unsafe impl Send for Slot {}

/// One ftrace site some registered patch replaces (upstream's `struct
/// klp_ops`, one per patched function): a row of the published view; in
/// the filter of graft's `ftrace_ops` while `users` > 0.
struct SiteUse {
    ip: u64,
    /// The function's symbol.
    old: TextAddr,
    /// Enabled patches holding it ([`Slot::ops_held`]).
    users: u32,
    /// Its direct call, while it is on the fast path (and then in no
    /// filter of graft's `ftrace_ops`).
    direct: Option<fast::Direct>,
    /// Queued for the fast path's handover (fast.rs `kick`).
    pending: bool,
}

/// sysfs directories to remove once [`GRAFT_MUTEX`] is released
/// ([`ColdGuard`]'s drop): removing one waits for its writers, which take
/// the mutex.  Object directories before their patch's.
struct Doomed(KVec<*mut bindings::kobject>);

// SAFETY: directories graft created, unreachable from the rest of graft's
// state once doomed; removable from any thread.
unsafe impl Send for Doomed {}

/// Control state: the one value of [`GRAFT_MUTEX`], so a `&mut Cold` is
/// proof that the mutex is held.
struct Cold {
    engine: Option<Engine<'static, 'static>>,
    /// Every registered patch's present functions' sites, one entry per
    /// site (in registration order).
    sites: KVec<SiteUse>,
    /// The running transition's task snapshot (also in the published view).
    snap: Option<Arc<Snap>>,
    /// Registered patches; a free index is reused.
    slots: KVec<Option<Slot>>,
    /// Each slot's functions, sites and module objects (objects.rs).
    objs: KVec<objects::SlotObjs>,
    /// vmlinux's symbols and those of patched modules (objects.rs `ksyms`).
    ksyms: objects::ksyms::Symbols,
    /// Objects whose `post_unpatch` is due (callbacks.rs).
    armed: KVec<usize>,
    next_id: u32,
    /// Where the idle hook's function starts (0: not resolved yet).
    idle_ip: u64,
    /// The passes' stack buffer.
    stack: StackCopy,
    scratch: [TextAddr; MAX_FRAMES],
    passes: u32,
    /// sysfs `stragglers` of the running transition.
    strag: stragglers::Stragglers,
    /// Kallsyms answers of the current pass.
    text: kenv::TextCache,
    doomed: Doomed,
}

kernel::sync::global_lock! {
    // SAFETY: `init_lock` initialises it from module init, before anything
    // can take it (no sysfs file, notifier or patch module exists yet).
    unsafe(uninit) static GRAFT_MUTEX: Mutex<Cold> = Cold {
        engine: None,
        sites: KVec::new(),
        snap: None,
        slots: KVec::new(),
        objs: KVec::new(),
        ksyms: objects::ksyms::Symbols::new(),
        armed: KVec::new(),
        next_id: 1,
        idle_ip: 0,
        stack: StackCopy::empty(),
        scratch: [TextAddr(0); MAX_FRAMES],
        passes: 0,
        strag: stragglers::Stragglers::new(),
        text: kenv::TextCache::new(),
        doomed: Doomed(KVec::new()),
    };
}

/// Initialise [`GRAFT_MUTEX`].
///
/// # Safety
///
/// Called once, from module init, before anything that takes the mutex can
/// run: graft's sysfs files, its module notifier and its work are set up
/// later, and patch modules load only once graft.ko's init has returned.
pub(crate) unsafe fn init_lock() {
    // SAFETY: once, before any other use (the caller's guarantee).
    unsafe { GRAFT_MUTEX.init() };
    // SAFETY: the same guarantee: once, before anything can take it.
    unsafe { states::init_lock() };
}

/// A `kvmalloc`'d slice of `n` copies of `v`, lent to the engine for
/// `'static` (its [`EngineStorage`]): allocated with capacity `n` exactly,
/// so [`reclaim`] can rebuild and free it.
fn lend<T: Copy>(n: usize, v: T) -> Result<&'static mut [T]> {
    let mut x = KVVec::with_capacity(n, GFP_KERNEL)?;
    x.resize(n, v, GFP_KERNEL)?;
    let (p, len, cap) = x.into_raw_parts();
    if len != cap {
        // SAFETY: the parts just taken from a vector, given back once.
        drop(unsafe { KVVec::from_raw_parts(p, len, cap) });
        return Err(ENOMEM);
    }
    // SAFETY: `p` owns `len` initialised elements and nothing else refers
    // to them: the allocation is the engine's until `reclaim`.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

/// Free storage [`lend`] made that the engine no longer holds.
///
/// # Safety
///
/// `s` came from [`lend`] (or is empty), and the engine gave it back
/// ([`Engine::move_to`]): nothing refers to it any more.
unsafe fn reclaim<T>(s: &'static mut [T]) {
    if s.is_empty() {
        return;
    }
    let (p, n) = (s.as_mut_ptr(), s.len());
    // SAFETY: allocated by `lend` with capacity `n` (the caller's
    // guarantee), and unreferenced: rebuilt once, freed on drop.
    drop(unsafe { KVVec::from_raw_parts(p, n, n) });
}

/// Free engine storage [`lend`] made, all three parts.
///
/// # Safety
///
/// As for [`reclaim`], for each part.
unsafe fn reclaim_storage(s: EngineStorage<'static, 'static>) {
    // SAFETY: the caller's guarantee, part by part.
    unsafe {
        reclaim(s.slots);
        reclaim(s.patches);
        reclaim(s.ranges);
    }
}

/// Make room for one more patch of `funcs` functions (of which `sites`
/// are sites no registered patch has yet): the engine's storage
/// ([`Engine::room_for`]: nothing it does for the registered patches can
/// then run out) and the view's table and ranges.  Storage only grows, by
/// doubling, so a registration rarely allocates.  Run at registration,
/// where `-ENOMEM` is a clean refusal.
fn grow(cold: &mut Cold, funcs: usize, sites: usize) -> Result {
    let e = cold.engine.as_mut().ok_or(EINVAL)?;
    let need = e.room_for(funcs);
    let have = e.room();
    if !have.covers(&need) {
        let room = Room {
            slots: need.slots.max(2 * have.slots),
            patches: need.patches.max(2 * have.patches),
            ranges: need.ranges.max(2 * have.ranges),
        };
        let to = EngineStorage {
            slots: lend(room.slots, None::<FuncEntry>)?,
            patches: lend(room.patches, None::<PatchRec<'static>>)?,
            ranges: lend(room.ranges, (TextAddr(0), 0u64))?,
        };
        let old = match e.move_to(to) {
            Ok(old) => old,
            Err(to) => to, // cannot happen (at least `room()`): give it back
        };
        // SAFETY: storage `lend` made (or the empty slices of `init`), which
        // the engine gave back: unreferenced.
        unsafe { reclaim_storage(old) };
    }
    let rooms = e.room();
    let total = cold.sites.len() + sites;
    cold.sites.reserve(sites, GFP_KERNEL)?;
    view::reserve(cold, total, rooms.ranges, publish)?;
    Ok(())
}

/// [`GRAFT_MUTEX`] held, as `&mut Cold`; on drop, the mutex is released
/// and then the doomed sysfs directories are removed.
struct ColdGuard(ManuallyDrop<GlobalGuard<GRAFT_MUTEX>>);

impl ColdGuard {
    fn lock() -> Self {
        ColdGuard(ManuallyDrop::new(GRAFT_MUTEX.lock()))
    }
}

impl core::ops::Deref for ColdGuard {
    type Target = Cold;
    fn deref(&self) -> &Cold {
        &self.0
    }
}

impl core::ops::DerefMut for ColdGuard {
    fn deref_mut(&mut self) -> &mut Cold {
        &mut self.0
    }
}

impl Drop for ColdGuard {
    fn drop(&mut self) {
        let doomed = core::mem::take(&mut self.doomed.0);
        // SAFETY: the inner guard is dropped here, once, and never used
        // again (this is its owner's drop): the mutex is released.
        unsafe { ManuallyDrop::drop(&mut self.0) };
        for &k in doomed.iter() {
            // SAFETY: a directory graft created, unreachable from graft's
            // state since it was doomed; removed outside the mutex, so a
            // sysfs writer blocked on the mutex can finish first.
            unsafe { graft_shim_patch_dir_remove(k) };
        }
    }
}

impl Cold {
    /// Remove sysfs directory `k` once the mutex is released.
    fn doom(&mut self, k: *mut bindings::kobject) {
        if k.is_null() {
            return;
        }
        if self.doomed.0.push(k, GFP_KERNEL).is_err() {
            // Without memory for the note, remove it now: correct, only
            // a sysfs writer waiting for the mutex may wait for it.
            // SAFETY: a directory graft created.
            unsafe { graft_shim_patch_dir_remove(k) };
        }
    }
}

/// Module init: the engine over its static storage, the stack buffer, sysfs.
pub(crate) fn init() -> Result {
    // SAFETY: sets up the passes' timer before anything can start a pass.
    unsafe { graft_shim_timer_init() };
    // SAFETY: once, at init, before anything queues work or publishes a view.
    to_result(unsafe { graft_shim_sched_init() })?;
    // Nothing queued work yet if the rest fails: the workqueue goes.
    init_engine().inspect_err(|_| graft_shim_sched_exit())
}

/// [`init`] once graft's workqueue exists.
fn init_engine() -> Result {
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    if cold.engine.is_some() {
        return Err(EBUSY); // initialised already
    }
    cold.stack = StackCopy::new()?;
    cold.strag.init()?;
    // Empty storage: registrations grow it (`grow`).
    cold.engine = Some(Engine::new(&mut [], &mut [], &mut []));
    // SAFETY: first init (checked above): the idle hook is registered only
    // below and no pass can run yet.
    unsafe { view::idle_tasks_init(graft_shim_nr_cpus() as usize) }?;
    to_result(graft_shim_sysfs_init())?;
    objects::init(cold).inspect_err(|_| graft_shim_sysfs_exit())?;
    // Last, so no failure of init leaves the hook registered.  The idle
    // hook also learns each CPU's idle task, which a pass needs to walk the
    // idle task of a CPU kept busy during a transition: so it runs from
    // load, not from the first transition.  A failure is logged; then
    // transitions refuse to start (`with_new_snapshot`).
    if idle_hook(cold).is_ok() {
        learn_idle_tasks();
    }
    crate::ffi::graft_shim_anchor_init();
    graft_shim_fast_ready(true);
    Ok(())
}

/// How long module init waits for the online CPUs' idle tasks to pass
/// the idle hook.
const IDLE_LEARN_MS: u32 = 100;

/// Learn every online CPU's idle task at load.  A pass walks a busy CPU's
/// idle task only once the idle hook has seen it (`idle_task()` is not
/// exported), and a CPU that idles since before the hook was registered
/// sleeps without iterating its idle loop: when work arrives it leaves
/// the loop without another iteration, and if it then stays busy no
/// transition can complete until it idles again (S12 on arm64: a CPU
/// asleep across graft.ko's init, then kept busy by the scenario's load).
/// So each unseen CPU is kicked (the IPI sets no resched: its idle loop
/// iterates once and the hook records its idle task), and init waits for
/// them, briefly; a CPU busy all that time is named, and its idle task
/// is learned when it next idles.
fn learn_idle_tasks() {
    let n = graft_shim_nr_cpus();
    let unseen = |cpu: c_uint| graft_shim_cpu_online(cpu) && view::idle_task(cpu as usize).is_none();
    for _ in 0..IDLE_LEARN_MS {
        let mut left = false;
        for cpu in (0..n).filter(|&c| unseen(c)) {
            left = true;
            graft_shim_kick_cpu(cpu);
        }
        if !left {
            return;
        }
        fsleep(Delta::from_millis(1));
    }
    for cpu in (0..n).filter(|&c| unseen(c)) {
        pr_info!(
            "idle tasks: CPU {} did not idle in {} ms: a transition completes only once it has idled\n",
            cpu,
            IDLE_LEARN_MS
        );
    }
}

/// Register the idle hook on `GRAFT_IDLE_HOOK` (graft_arch.h), resolved in
/// graft's kallsyms table; idempotent.
fn idle_hook(cold: &mut Cold) -> Result {
    if cold.idle_ip == 0 {
        let name = cstr(graft_shim_idle_hook_name());
        match objects::ksyms::unique(&mut cold.ksyms, name.as_bytes()) {
            Some(ip) => cold.idle_ip = ip,
            None => {
                pr_err!("idle tasks: {} not found: no transition can complete\n", name);
                return Err(ENOENT);
            }
        }
    }
    to_result(graft_shim_idle_hook(cold.idle_ip as c_ulong))
}

/// Module exit (no patch module can be loaded: they depend on graft.ko).
pub(crate) fn exit() {
    // No patch is registered (they depend on graft.ko): no direct call is on.
    graft_shim_fast_ready(false);
    states::end();
    objects::exit();
    graft_shim_sys_exit_exit();
    graft_shim_cancel_work();
    graft_shim_sysfs_exit();
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    cold.stack = StackCopy::empty();
    cold.ksyms = objects::ksyms::Symbols::new();
    cold.strag.free();
    cold.snap = None;
    // The heap behind the static state (a later load starts empty).
    cold.sites = KVec::new();
    cold.slots = KVec::new();
    cold.objs = KVec::new();
    cold.armed = KVec::new();
    cold.doomed.0 = KVec::new();
    view::clear(cold);
    // No per-CPU work item of the publications may run graft.ko's code.
    graft_shim_sched_exit();
    graft_shim_idle_hook(0);
    // No patch is registered: the engine is empty and gives its storage
    // back for empty slices.
    if let Some(mut e) = cold.engine.take() {
        if let Ok(old) = e.move_to(EngineStorage { slots: &mut [], patches: &mut [], ranges: &mut [] }) {
            // SAFETY: storage `lend` made, given back by the engine.
            unsafe { reclaim_storage(old) };
        }
    }
    // SAFETY: module exit, the idle hook unregistered just above.
    unsafe { view::idle_tasks_exit() };
}

/// Publish what the handler needs from the engine as it is now (see
/// `view.rs`): per site the version for each task state, and the
/// transition's snapshot.  Returns once no handler sees the previous view.
fn publish(cold: &mut Cold) {
    fast::check_rows(cold);
    let Some(e) = cold.engine.as_ref() else { return };
    let code = |t: Target| match t {
        Target::New(a) => a.0,
        Target::Original => 0,
    };
    let mut sites = cold.sites.iter().map(|u| {
        let t = [code(e.resolve(u.old, PatchState::Unpatched)), code(e.resolve(u.old, PatchState::Patched))];
        // a handed-back site whose direct call is still registered: the
        // split path overrules it (fast.rs)
        (u.ip, t, u.direct.as_ref().is_some_and(fast::Direct::shared))
    });
    let (transition, target, ranges) = match (e.transition(), cold.snap.as_ref()) {
        (Some(t), Some(snap)) => (Some((t.state_for_new_task(), snap.clone())), t.target(), e.changed_ranges()),
        _ => (None, PatchState::Patched, &[][..]),
    };
    let nv = NewView { nsites: cold.sites.len(), sites: &mut sites, transition, target, ranges };
    view::publish(cold, nv);
}

/// The transition's tasks as graft-core sees them.
struct KernelTasks<'a> {
    snap: &'a Snap,
    tasks: &'a [ARef<Task>],
    stack: &'a StackCopy,
    current: *mut bindings::task_struct,
    /// Views given this pass: stacks copied for a walk, exited tasks, running.
    walked: Cell<u32>,
    dead: Cell<u32>,
    running: Cell<u32>,
}

impl<'a> KernelTasks<'a> {
    fn new(snap: &'a Snap, stack: &'a StackCopy, current: *mut bindings::task_struct) -> Self {
        let tasks = snap.tasks();
        KernelTasks { snap, tasks, stack, current, walked: Cell::new(0), dead: Cell::new(0), running: Cell::new(0) }
    }
}

impl TaskEnv for KernelTasks<'_> {
    fn len(&self) -> usize {
        self.snap.len()
    }
    fn state(&self, i: usize) -> PatchState {
        self.snap.get(i)
    }
    fn set_state(&mut self, i: usize, s: PatchState) {
        // In place in the published snapshot: the task reads it next time
        // it calls a patched function.
        self.snap.set(i, s);
    }
    fn switch(&mut self, i: usize, s: PatchState) -> bool {
        // Refused if the task read its state since `view` armed it.
        self.snap.try_switch(i, s)
    }
    fn view(&self, i: usize) -> TaskView<'_> {
        // Armed before anything is looked at: from here, the task's entry
        // into patched code is seen by `switch`.
        self.snap.arm(i);
        let v = self.view_of(i);
        let c = match v {
            TaskView::Sleeping { .. } => &self.walked,
            TaskView::SafePoint => &self.dead,
            TaskView::Running => &self.running,
        };
        c.set(c.get() + 1);
        v
    }
}

impl KernelTasks<'_> {
    fn view_of(&self, i: usize) -> TaskView<'_> {
        if let Some(cpu) = self.snap.idle_cpu(i) {
            let cpu = cpu as c_uint;
            if !graft_shim_cpu_online(cpu) {
                // An offline CPU's idle task starts its idle loop afresh
                // when the CPU comes up (upstream switches them at once
                // too, klp_try_complete_transition()).
                return TaskView::SafePoint;
            }
            // Off its CPU (the CPU is busy): walked like any task, below.
            // On it: it switches itself in its idle loop
            // (`view::graft_rs_idle`); make it iterate.
            match view::idle_task(cpu as usize) {
                Some(t) => {
                    let v = self.view_task(t);
                    if matches!(v, TaskView::Running) {
                        graft_shim_kick_cpu(cpu);
                    }
                    return v;
                }
                None => {
                    graft_shim_kick_cpu(cpu);
                    return TaskView::Running;
                }
            }
        }
        self.view_task(self.tasks[i].as_ptr())
    }

    /// Task `t` (referenced by the snapshot, or an idle task, never freed).
    fn view_task(&self, t: *mut bindings::task_struct) -> TaskView<'_> {
        let copied = if t == self.current {
            // The pass's own task: walked from inside the pass.
            self.stack.copy_current().map_or(Copied::Running, |(regs, bounds)| Copied::Stack(regs, bounds))
        } else {
            self.stack.copy(t)
        };
        match copied {
            Copied::Dead => TaskView::SafePoint, // exited: never runs again
            Copied::Stack(regs, bounds) => TaskView::Sleeping { regs, bounds, mem: self.stack },
            // A switched-out task's saved context always is where the arch
            // puts it: retry rather than guess.
            Copied::Unwalkable | Copied::Running => TaskView::Running,
        }
    }
}

/// Every thread, referenced and sorted, with a state each.
fn snapshot() -> Result<Arc<Snap>> {
    let mut v = threads()?;
    // in constant stack (graft_core::sort: a kernel stack is small)
    graft_core::sort::sort_by_key(&mut v, |t| t.as_ptr() as usize);
    let ncpus = graft_shim_nr_cpus() as usize;
    // On failure the snapshot (or the vector) is dropped, its references with it.
    let snap = Snap::new(v, PatchState::Patched, ncpus).map_err(|_| ENOMEM)?;
    Ok(Arc::new(snap, GFP_KERNEL)?)
}

/// A NUL-terminated C string as `&str` (`"?"` if not UTF-8).
fn cstr<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        return "";
    }
    // SAFETY: the patch module's strings are static and NUL-terminated.
    unsafe { CStr::from_char_ptr(p) }.to_str().unwrap_or("?")
}

/// A registered description's patch name.
fn desc_name<'a>(desc: *const PatchDesc) -> &'a str {
    // SAFETY: descriptions are statics of patch modules that stay loaded
    // while registered (they unregister from their exit).
    cstr(unsafe { (*desc).name })
}

/// `sprint_symbol()` of `addr` parsed: (offset, size) in its symbol.
fn sym_off_size(addr: u64) -> Option<(u64, u64)> {
    let mut buf = [0u8; KSYM_BUF];
    let s = kenv::describe(addr, &mut buf);
    let s = s.split(' ').next()?;
    let (_, rest) = s.rsplit_once('+')?;
    let (off, size) = rest.split_once('/')?;
    let hex = |x: &str| u64::from_str_radix(x.trim_start_matches("0x"), 16).ok();
    Some((hex(off)?, hex(size)?))
}

/// Find and classify the ftrace site of the function whose symbol starts
/// at `start`: the backend's `analyze_site` on its first bytes as the
/// kernel's text holds them now.  Logged as `graft: <patch>: <name> site
/// ...` (unless `when` is `None`: a patch of many functions says it once);
/// a function without a site is refused.
fn check_site(patch: &str, name: &str, start: TextAddr, when: Option<&str>) -> Result<Site> {
    let mut bytes = [0u8; 32];
    if kenv::read_kernel(start.0, &mut bytes).is_err() {
        pr_err!("{}: {}: cannot read its text at {:#x}\n", patch, name, start.0);
        return Err(EINVAL);
    }
    match Native::analyze_site(Code { start, bytes: &bytes }, start, None) {
        Ok(site) => {
            let state = match site.state {
                SiteState::Disabled => "disabled",
                SiteState::Enabled { .. } => "enabled (call)",
                SiteState::Unconverted { .. } => "unconverted",
            };
            if let Some(when) = when {
                pr_info!("{}: {} site {:#x} {} {} {}\n", patch, name, site.addr.0, site.form, state, when);
            }
            Ok(site)
        }
        Err(why) => {
            pr_err!("{}: {} has no ftrace site ({})\n", patch, name, Show(why));
            Err(EINVAL)
        }
    }
}

/// `graft_register_patch()`, first half, in the caller's context: resolve,
/// check and publish a patch (`graft_rs_enable_new` then enables it).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_register(desc: *const PatchDesc, owner: *mut bindings::module) -> c_int {
    // Before the mutex: reads nothing but the owner's memory.  What it
    // returns is graft's copy of the patch's states.
    let states = match crate::validate::patch(desc, owner) {
        Ok(s) => s,
        Err(e) => return e.to_errno(),
    };
    let mut g = ColdGuard::lock();
    match register(&mut g, desc, owner, states) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn register(cold: &mut Cold, desc: *const PatchDesc, owner: *mut bindings::module, states: KVec<State>) -> Result {
    // SAFETY: `validate::patch` showed it a static description of `owner`,
    // which is registering it and so stays loaded.
    let d = unsafe { &*desc };
    let name = cstr(d.name);
    if cold.engine.is_none() {
        pr_err!("{}: graft's engine does not run on this architecture yet\n", name);
        return Err(EINVAL);
    }
    let n = d.funcs().count();
    // As upstream's klp_enable_patch(): one transition at a time.
    if let Some(other) = busy_with(cold) {
        pr_err!("{}: cannot enable while {}'s transition is in progress\n", name, other);
        return Err(EBUSY);
    }
    if cold.slots.iter().flatten().any(|s| s.desc == desc || desc_name(s.desc) == name) {
        pr_err!("{}: already registered\n", name);
        return Err(EINVAL);
    }
    // Before anything is resolved or created, as upstream's
    // klp_enable_patch() checks klp_is_patch_compatible() first.
    if let Some(e) = cold.engine.as_ref() {
        e.check_compatible(&states, d.replace, None).map_err(|e| incompatible(cold, name, e))?;
    }
    // Room first, so nothing below runs out: a slot, the engine's storage,
    // the view's (every function may be a site no patch has yet).
    let free = |(s, o): (&Option<Slot>, &objects::SlotObjs)| s.is_none() && o.is_free();
    let si = match cold.slots.iter().zip(cold.objs.iter()).position(free) {
        Some(si) => si,
        None => {
            cold.slots.reserve(1, GFP_KERNEL)?;
            cold.objs.reserve(1, GFP_KERNEL)?;
            cold.slots.push(None, GFP_KERNEL)?;
            cold.objs.push(objects::SlotObjs::new(), GFP_KERNEL)?;
            cold.slots.len() - 1
        }
    };
    grow(cold, n, n).inspect_err(|_| pr_err!("{}: no memory for {} function(s)\n", name, n))?;
    // Functions of modules that are not loaded stay absent (site 0).
    // Until the engine holds them, a failure gives the slot's buffers back
    // (else the slot, never free again, would be lost with them).
    let unresolve = |cold: &mut Cold, e: Error| {
        cold.objs[si] = objects::SlotObjs::new();
        e
    };
    let funcs = match objects::resolve(cold, si, d) {
        Ok(f) => f,
        Err(e) => return Err(unresolve(cold, e)),
    };
    let states = objects::keep_states(cold, si, states);
    let id = PatchId(cold.next_id);
    cold.next_id += 1;
    {
        let Some(engine) = cold.engine.as_mut() else { return Err(unresolve(cold, EINVAL)) };
        if let Err(e) = engine.register_with_states(id, funcs, d.replace, states) {
            return Err(unresolve(cold, engine_errno(e)));
        }
    }
    add_rows(&mut cold.sites, &cold.objs[si].sites, funcs);
    let mut err = 0;
    // SAFETY: `d.name` is NUL-terminated; creates the patch's directory.
    let dir = unsafe { graft_shim_patch_dir(d.name, &mut err) };
    let slot = Slot { desc, owner, id, nfuncs: n, ops_held: false, dir, module_ref: false, fast: true };
    cold.slots[si] = Some(slot);
    if dir.is_null() {
        forget(cold, si);
        return Err(Error::from_errno(err));
    }
    if let Err(e) = objects::create_dirs(cold, si, d, dir) {
        forget(cold, si);
        return Err(e);
    }
    graft_shim_taint();
    pr_info!("{}: registered ({} function(s){})\n", name, n, if d.replace { ", replace" } else { "" });
    Ok(())
}

/// `graft_register_patch()`, second half, on the high-priority worker
/// (`shim_api.c`): enable the patch `graft_rs_register` registered, or
/// unregister it.  Between the two halves GRAFT_MUTEX was free: a write of
/// `enabled` may have enabled it already (done), or another transition
/// started (refused as it would have been a moment earlier).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_enable_new(desc: *const PatchDesc) -> c_int {
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    let Some(si) = cold.slots.iter().position(|s| s.is_some_and(|s| s.desc == desc)) else {
        return EINVAL.to_errno();
    };
    let name = desc_name(desc);
    let enabled =
        cold.slots[si].and_then(|s| cold.engine.as_ref().and_then(|e| e.rec(s.id))).is_some_and(|r| r.enabled);
    if enabled {
        return 0;
    }
    if let Some(other) = busy_with(cold) {
        pr_err!("{}: cannot enable while {}'s transition is in progress, unregistered\n", name, other);
        forget(cold, si);
        return EBUSY.to_errno();
    }
    match enable(cold, si) {
        Ok(()) => 0,
        Err(e) => {
            pr_err!("{}: enabling failed ({}), unregistered\n", name, e.to_errno());
            forget(cold, si);
            e.to_errno()
        }
    }
}

/// The name of the patch whose transition runs, if one does.
fn busy_with(cold: &Cold) -> Option<&'static str> {
    let id = cold.engine.as_ref()?.transition_patch()?;
    Some(cold.slots.iter().flatten().find(|s| s.id == id).map_or("?", |s| desc_name(s.desc)))
}

/// The refusal of patch `patch` for states that do not go with the
/// installed patches': one line naming the state and the patch holding it
/// (upstream's "is not compatible with the already installed
/// livepatches"), and upstream's `-EINVAL`.
fn incompatible(cold: &Cold, patch: &str, e: EngineError) -> Error {
    if let EngineError::Incompatible(i) = e {
        let holder = *i.holder();
        let name = cold.slots.iter().flatten().find(|s| s.id == holder).map_or("?", |s| desc_name(s.desc));
        pr_err!("{}: not compatible with the installed patches: {}\n", patch, Show(i.map(|_| name)));
    }
    engine_errno(e)
}

/// The view's rows for the sites `ips` of the functions `funcs` (parallel;
/// site 0: absent) that no other patch has yet (room reserved by [`grow`]).
fn add_rows(sites: &mut KVec<SiteUse>, ips: &[u64], funcs: &[graft_core::ResolvedFunc]) {
    for (&ip, f) in ips.iter().zip(funcs) {
        if ip == 0 || sites.iter().any(|u| u.ip == ip) {
            continue; // absent, or another patch replaces it too
        }
        // Within the capacity `grow` reserved: cannot fail.
        let _ = sites.push(SiteUse { ip, old: f.old, users: 0, direct: None, pending: false }, GFP_KERNEL);
    }
}

/// Drop the view's rows of sites no registered patch has any more.
fn prune_rows(cold: &mut Cold) {
    let objs = &cold.objs;
    let slots = &cold.slots;
    let used = |ip: u64| slots.iter().zip(objs.iter()).any(|(s, o)| s.is_some() && o.sites.contains(&ip));
    cold.sites.retain(|u| u.users > 0 || used(u.ip));
}

/// Drop slot `si` from the engine, the site map and sysfs.
fn forget(cold: &mut Cold, si: usize) {
    let Some(s) = cold.slots[si].take() else { return };
    // SAFETY: the patch module's static description (it is still loaded).
    callbacks::forget(cold, unsafe { &*s.desc });
    if let Some(e) = cold.engine.as_mut() {
        let _ = e.unregister(s.id);
    }
    // Sites no remaining patch replaces (the patch released them before).
    cold.objs[si].sites.clear();
    prune_rows(cold);
    publish(cold);
    // Removed when the mutex is released (ColdGuard's drop).
    let dirs = objects::take_dirs(cold, si);
    for &k in dirs.iter() {
        cold.doom(k);
    }
    cold.doom(s.dir);
    // The slot's function buffers go once the engine holds neither (it
    // refuses to forget a forced patch: they then stay, as its module).
    if cold.engine.as_ref().is_none_or(|e| e.rec(s.id).is_none()) {
        cold.objs[si] = objects::SlotObjs::new();
    }
}

/// Start enabling slot `si`: its states checked against the installed
/// patches' (a sysfs re-enable is judged by what is installed now), the
/// previous states tabled for its callbacks ([`states::begin`]), the
/// `pre_patch` callbacks, then [`enable_started`]; if that fails, the
/// callbacks' `post_unpatch` (as upstream does when `__klp_enable_patch()`
/// fails after the callbacks).
fn enable(cold: &mut Cold, si: usize) -> Result {
    let s = cold.slots[si].ok_or(EINVAL)?;
    // SAFETY: a registered patch's static description.
    let desc = unsafe { &*s.desc };
    // Its functions' rows change (with a replace, every patched function's):
    // their direct calls go first, the handler decides per task.
    fast::leave(cold, &if desc.replace { fast::Sites::All } else { fast::Sites::Of(si) }, false)?;
    if let Some(e) = cold.engine.as_ref() {
        let rec = e.rec(s.id).ok_or(EINVAL)?;
        e.check_compatible(rec.states, rec.replace, Some(s.id)).map_err(|e| incompatible(cold, cstr(desc.name), e))?;
    }
    states::begin(cold, s.id)?;
    if let Err(e) = callbacks::pre_patch_all(cold, desc) {
        states::end();
        return Err(e);
    }
    let r = enable_started(cold, si);
    if r.is_err() {
        callbacks::post_unpatch_all(cold, desc);
        states::end();
    }
    r
}

/// Enabling slot `si`, its `pre_patch` callbacks run: ftrace ops first (the
/// handler runs the original until the engine has entries), then the
/// engine's transition.
fn enable_started(cold: &mut Cold, si: usize) -> Result {
    let mut s = cold.slots[si].ok_or(EINVAL)?;
    let name = desc_name(s.desc);
    // A forced patch keeps its reference for ever: never drop it here.
    let had_ref = s.module_ref;
    // SAFETY: `owner` is the patch module, alive (it is calling us or its
    // sysfs file is open).
    if !s.module_ref && !unsafe { graft_shim_module_get(s.owner) } {
        return Err(EINVAL);
    }
    s.module_ref = true;
    cold.slots[si] = Some(s);
    if !s.ops_held {
        let n = s.nfuncs;
        if let Err(err) = sites_get(cold, si, 0..n) {
            release(cold, si, had_ref);
            return Err(err);
        }
        if let Some(sl) = cold.slots[si].as_mut() {
            sl.ops_held = true;
        }
    }
    // The snapshot as late as possible, after the slow ftrace registration:
    // a task created between it and the view's publication is taken for a
    // new task (target state) without a check, and could have entered the
    // old code meanwhile (upstream's klp_copy_process() closes this window
    // with a fork hook no module has).
    let snap = match snapshot() {
        Ok(x) => x,
        Err(e) => {
            release(cold, si, had_ref);
            return Err(e);
        }
    };
    let r = with_new_snapshot(cold, snap, |e, env| e.enable(s.id, env, &mut NoHooks));
    if let Err(e) = r {
        release(cold, si, had_ref);
        return Err(e);
    }
    pr_info!("{}: enabling\n", name);
    start_passes(cold);
    Ok(())
}

/// The name of function `i` of a registered patch.
fn func_name(d: &PatchDesc, i: usize) -> &str {
    d.funcs().nth(i).map_or("?", |f| cstr(f.old_name))
}

/// Slot `si` takes a user of the sites of its functions `range` (absent
/// ones skipped).  The sites no enabled patch held yet join the filter of
/// graft's `ftrace_ops` in one batch, and each is read back: the site the
/// backend found (from the function's start) must now be the call ftrace
/// enabled, or the batch is removed and the patch refused
/// (`ftrace_set_filter_ips()` maps an address through `ftrace_location()`,
/// so a wrong site could have had ftrace enable another one).
fn sites_get(cold: &mut Cold, si: usize, range: core::ops::Range<usize>) -> Result {
    let s = cold.slots[si].ok_or(EINVAL)?;
    let patch = desc_name(s.desc);
    // SAFETY: a registered patch's static description.
    let d = unsafe { &*s.desc };
    let ips = &cold.objs[si].sites[range.clone()];
    let mut fresh: KVec<c_ulong> = KVec::with_capacity(ips.len(), GFP_KERNEL)?;
    for &ip in ips {
        if ip != 0 && cold.sites.iter().any(|u| u.ip == ip && u.users == 0) {
            fresh.push(ip as c_ulong, GFP_KERNEL)?;
        }
    }
    let index_of = |ip: c_ulong| ips.iter().position(|&x| x == ip as u64).map_or(0, |k| range.start + k);
    if !fresh.is_empty() {
        // SAFETY: `fresh` holds `len` sites, none in the filter yet (users 0).
        let err = unsafe { graft_shim_sites_add(fresh.as_mut_ptr(), fresh.len() as c_uint) };
        if err != 0 {
            let e = Error::from_errno(err);
            match (e == EBUSY).then(|| busy_site(&mut fresh)).flatten() {
                Some(ip) => pr_err!(
                    "{}: ftrace registration of {} ({:#x}) failed ({}): another IP-modifying ftrace user or a direct call (livepatch? a kprobe with a post handler? BPF?) holds the site\n",
                    patch,
                    func_name(d, index_of(ip)),
                    ip,
                    err
                ),
                None => pr_err!("{}: ftrace registration of {} site(s) failed ({})\n", patch, fresh.len(), err),
            }
            return Err(e);
        }
        let verbose = fresh.len() <= LOG_EACH_SITE;
        for &ip in fresh.iter() {
            let Some(old) = cold.sites.iter().find(|u| u.ip == ip as u64).map(|u| u.old) else { continue };
            if !site_enabled(patch, func_name(d, index_of(ip)), old, ip as u64, verbose) {
                // SAFETY: the sites added just above, removed once.
                unsafe { graft_shim_sites_remove(fresh.as_mut_ptr(), fresh.len() as c_uint) };
                return Err(EINVAL);
            }
        }
        if !verbose {
            pr_info!("{}: {} sites enabled (call) after ftrace registration\n", patch, fresh.len());
        }
    }
    let ips = &cold.objs[si].sites[range];
    for u in cold.sites.iter_mut() {
        if ips.contains(&u.ip) {
            u.users += 1;
        }
    }
    Ok(())
}

/// After `-EBUSY` for a batch: the first site of `ips` another IP-modifying
/// ftrace user holds, found by adding them one at a time (each taken out
/// again).
fn busy_site(ips: &mut [c_ulong]) -> Option<c_ulong> {
    for ip in ips.iter_mut() {
        // SAFETY: one site, not in graft's filter (the batch failed whole).
        match unsafe { graft_shim_sites_add(ip, 1) } {
            0 => {
                // SAFETY: added just above.
                unsafe { graft_shim_sites_remove(ip, 1) };
            }
            e if e == EBUSY.to_errno() => return Some(*ip),
            _ => {}
        }
    }
    None
}

/// Whether `ip`, function `fname`'s site found from its start `old`, is now
/// the enabled call the backend expects; a line either way (`log`: the
/// success too).
fn site_enabled(patch: &str, fname: &str, old: TextAddr, ip: u64, log: bool) -> bool {
    match check_site(patch, fname, old, log.then_some("after ftrace registration")) {
        Ok(Site { addr, state: SiteState::Enabled { .. }, .. }) if addr.0 == ip => true,
        Ok(site) if site.addr.0 != ip => {
            pr_err!(
                "{}: {}: the backend now finds the ftrace site at {:#x}, not {:#x}: refused\n",
                patch,
                fname,
                site.addr.0,
                ip
            );
            false
        }
        Ok(_) => {
            pr_err!(
                "{}: {}: ftrace enabled another site than the backend's ({:#x} is not a call): refused\n",
                patch,
                fname,
                ip
            );
            false
        }
        Err(_) => false,
    }
}

/// Slot `si` drops its users of the sites of its functions `range`; those
/// no enabled patch holds any more leave graft's filter in one batch (the
/// last ones unregister the `ftrace_ops`: every patch on them is unpatched
/// for every task).
fn sites_put(cold: &mut Cold, si: usize, range: core::ops::Range<usize>) {
    // Direct calls left registered by a handback go first (each waits for
    // an RCU-tasks grace period: after the transition, which reported its
    // end already); a site still held by another patch is handed over
    // again by the next handover.
    let _ = fast::leave(cold, &fast::Sites::OfRange(si, range.clone()), true);
    let ips = &cold.objs[si].sites[range];
    let mut gone: KVec<c_ulong> = KVec::new();
    let room = gone.reserve(ips.len(), GFP_KERNEL).is_ok();
    for u in cold.sites.iter_mut() {
        if u.users > 0 && ips.contains(&u.ip) {
            u.users -= 1;
            if u.users == 0 {
                let mut ip = u.ip as c_ulong;
                if !room || gone.push_within_capacity(ip).is_err() {
                    // Without memory for a batch: one at a time.
                    // SAFETY: in the filter (its last user goes now).
                    unsafe { graft_shim_sites_remove(&mut ip, 1) };
                }
            }
        }
    }
    // SAFETY: the sites whose last user went: each in the filter, once.
    unsafe { graft_shim_sites_remove(gone.as_mut_ptr(), gone.len() as c_uint) };
}

/// The patch in slot `si` is unpatched for every task: drop its users of
/// the sites and its module reference (kept for ever when `forced`, as
/// upstream).
fn release(cold: &mut Cold, si: usize, forced: bool) {
    let Some(mut s) = cold.slots[si] else { return };
    if s.ops_held {
        sites_put(cold, si, 0..s.nfuncs);
        s.ops_held = false;
    }
    if s.module_ref && !forced {
        // SAFETY: drops the reference taken by `enable`.
        unsafe { graft_shim_module_put(s.owner) };
        s.module_ref = false;
    }
    cold.slots[si] = Some(s);
}

/// After a transition of patch `done` completes (or is forced): release
/// every patch the engine now has disabled (`done` if it was unpatched, and
/// those an atomic replace replaced).
fn settle(cold: &mut Cold, done: PatchId) {
    let Some(e) = cold.engine.as_ref() else { return };
    if e.transition_patch().is_some() {
        return;
    }
    let rec = |cold: &Cold, si: usize| {
        let s = cold.slots[si]?;
        cold.engine.as_ref()?.rec(s.id).map(|r| (s, r))
    };
    // Module references first, then `transition` reads 0 (a patch module
    // waited for with it can be unloaded at once), then the ftrace sites,
    // whose removal is the slow part and concerns no task any more.
    for si in 0..cold.slots.len() {
        let Some((s, r)) = rec(cold, si) else { continue };
        if !r.enabled && s.module_ref && !r.forced {
            // SAFETY: drops the reference taken by `enable`.
            unsafe { graft_shim_module_put(s.owner) };
            if let Some(sl) = cold.slots[si].as_mut() {
                sl.module_ref = false;
            }
        }
    }
    graft_shim_set_transition(core::ptr::null_mut());
    graft_shim_sys_exit_hook(false);
    // The settled sites go to the fast path once the mutex is free.
    fast::kick(cold);
    for si in 0..cold.slots.len() {
        let Some((s, r)) = rec(cold, si) else { continue };
        if !r.enabled && (s.ops_held || s.module_ref) {
            release(cold, si, r.forced);
            if s.ops_held && s.id != done {
                pr_info!("{}: replaced, unpatched\n", desc_name(s.desc));
            }
        }
    }
}

fn start_passes(cold: &mut Cold) {
    cold.passes = 0;
    // sysfs `transition` of the patch in transition reads 1 from here until
    // `settle` (shim.c, read without the mutex).
    let tp = cold.engine.as_ref().and_then(|e| e.transition_patch());
    let dir = cold.slots.iter().flatten().find(|s| Some(s.id) == tp).map_or(core::ptr::null_mut(), |s| s.dir);
    graft_shim_set_transition(dir);
    // Tasks switch themselves at syscall exit while the transition runs;
    // without the probe passes still switch every task, only later.
    graft_shim_sys_exit_hook(true);
    graft_shim_schedule(0);
}

/// Start a transition with `start` on the engine, the fresh task snapshot
/// `snap` as its `TaskEnv`, then publish it: `start` sets every task's
/// state before the view that makes them matter is published (upstream
/// klp_init_transition() orders the same with smp_wmb()).
fn with_new_snapshot(
    cold: &mut Cold,
    snap: Arc<Snap>,
    start: impl FnOnce(&mut Engine<'static, 'static>, &mut KernelTasks<'_>) -> Result<(), EngineError>,
) -> Result {
    // Idle tasks of idle CPUs switch only through the idle hook: without it
    // no transition could complete.  Normally registered since load.
    idle_hook(cold)?;
    let rd = &cold.stack;
    let mut env = KernelTasks::new(&snap, rd, core::ptr::null_mut());
    let r = match cold.engine.as_mut() {
        Some(e) => start(e, &mut env).map_err(engine_errno),
        None => Err(EINVAL),
    };
    if r.is_ok() {
        cold.snap = Some(snap);
        cold.strag.clear();
        publish(cold);
    }
    r
}

/// Start disabling slot `si`.
fn disable(cold: &mut Cold, si: usize) -> Result {
    let s = cold.slots[si].ok_or(EINVAL)?;
    fast::leave(cold, &fast::Sites::Of(si), false)?;
    let snap = snapshot()?;
    states::begin(cold, s.id)?;
    // SAFETY: a registered patch's static description.
    callbacks::pre_unpatch_all(cold, unsafe { &*s.desc });
    with_new_snapshot(cold, snap, |e, env| e.disable(s.id, env, &mut NoHooks)).inspect_err(|_| states::end())?;
    pr_info!("{}: disabling\n", desc_name(s.desc));
    start_passes(cold);
    Ok(())
}

/// One transition pass (the delayed work).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_work() {
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    cold.passes += 1;
    let pass = cold.passes;
    let rd = &cold.stack;
    let scratch = &mut cold.scratch;
    cold.text.clear();
    let text = &cold.text;
    let mut hooks = callbacks::Deferred::default();
    let Some(snap) = cold.snap.clone() else { return };
    // No spinlock from here: the pass copies and walks stacks under the
    // mutex alone and switches tasks in the published snapshot in place.
    let (id, target, delay) = {
        let Some(engine) = cold.engine.as_mut() else { return };
        let (Some(id), Some(t)) = (engine.transition_patch(), engine.transition()) else { return };
        let target = t.target();
        let tasks = snap.tasks();
        let current = graft_shim_current();
        let mut env = KernelTasks::new(&snap, rd, current);
        let mut logged = 0;
        let verbose = pass.is_power_of_two();
        // The sysfs report walks each straggler again: about every 100 ms
        // (16 passes at the longest backoff), not on every pass.
        let report = verbose || pass % 16 == 0;
        let strag = &mut cold.strag;
        if report {
            strag.begin(pass);
        }
        let mut straggler = |i: usize, why: graft_core::Blocker| {
            if let Some(cpu) = snap.idle_cpu(i) {
                let mut buf = [0u8; KSYM_BUF];
                let check = match snap.idle_why(cpu) {
                    IDLE_NOT_CHECKED => "not reached yet",
                    IDLE_UNRELIABLE => "unreliable stack",
                    f => kenv::describe(f, &mut buf),
                };
                if report {
                    strag.idle(cpu, why, check);
                }
                // Every idle straggler is named: there are few, and an idle
                // task that never switches blocks the transition for ever.
                if verbose {
                    pr_info!(
                        "transition pass {}: idle task of CPU {} waits: {} (idle-loop check: {})\n",
                        pass,
                        cpu,
                        Show(why),
                        check
                    );
                }
                return;
            }
            if report {
                let t = &tasks[i];
                strag.task(t.as_ptr(), crate::tasks::pid(t), crate::tasks::comm(t), why);
            }
            if verbose && logged < 4 {
                let (pid, comm) = (crate::tasks::pid(&tasks[i]), crate::tasks::comm(&tasks[i]));
                // Name the function: the address alone says little.
                let mut buf = [0u8; KSYM_BUF];
                if let graft_core::Blocker::OnStack { func, frame } = why {
                    let f = kenv::describe(func.0, &mut buf);
                    pr_info!("transition pass {}: pid {} ({}) waits: {} in frame {}\n", pass, pid, comm, f, frame);
                } else if let graft_core::Blocker::Referenced { func, at } = why {
                    let f = kenv::describe(func.0, &mut buf);
                    pr_info!(
                        "transition pass {}: pid {} ({}) waits: {} referenced at {:#x} (interrupted stack)\n",
                        pass,
                        pid,
                        comm,
                        f,
                        at
                    );
                } else {
                    pr_info!("transition pass {}: pid {} ({}) waits: {}\n", pass, pid, comm, Show(why));
                }
                logged += 1;
            }
        };
        let p = engine.pass(crate::arch::unwinder(), &mut env, text, scratch, &mut hooks, &mut straggler);
        let delay = engine.transition().map(|t| t.next_delay_ms());
        let counts = (env.walked.get(), env.dead.get(), env.running.get());
        if let Some(p) = p {
            snap.set_remaining(p.remaining);
            if verbose || delay.is_none() {
                pr_info!(
                    "transition pass {}: {} switched, {} remaining; stacks walked {}, exited {}, on cpu {}\n",
                    pass,
                    p.switched,
                    p.remaining,
                    counts.0,
                    counts.1,
                    counts.2
                );
            }
        }
        (id, target, delay)
    };
    let (idle_self, idle_n) = snap.idle_counts();
    let exit_self = snap.exit_count();
    drop(snap);
    if delay.is_none() {
        // Complete: every task is at the target, so the old view and the
        // new (no transition) agree for each of them.
        cold.snap = None;
        cold.strag.clear();
        publish(cold);
    }
    // The post callbacks of a completed transition, with the view without
    // transition published; then its previous states are no longer asked
    // for (before `settle` lets a replaced patch's module go).
    hooks.run(cold);
    if delay.is_none() {
        states::end();
    }
    let Some(slot) = cold.slots.iter().flatten().find(|s| s.id == id) else { return };
    let name = desc_name(slot.desc);
    match delay {
        Some(ms) => {
            graft_shim_schedule(ms);
        }
        None => {
            let what = if target == PatchState::Unpatched { "unpatched" } else { "patched" };
            pr_info!("{}: {} after {} pass(es)\n", name, what, pass);
            pr_info!(
                "{}: idle tasks: {} of {} switched in their idle loop, the others by passes\n",
                name,
                idle_self,
                idle_n
            );
            pr_info!("{}: {} task(s) switched themselves at syscall exit\n", name, exit_self);
            settle(cold, id);
            // The finished transition's snapshot pins its tasks until no
            // handler can read it: drop it now, not at the next transition.
            view::reap(cold);
        }
    }
}

fn find_slot(cold: &Cold, name: &str) -> Option<usize> {
    cold.slots.iter().position(|s| s.is_some_and(|s| desc_name(s.desc) == name))
}

/// sysfs reads: `enabled`, `transition`, `replace`, `stack_order`,
/// `forced` (a forced transition touched the patch), `progress` (the
/// running transition's "switched total" tasks, idle tasks included; empty
/// when this patch is not in transition), and graft's descriptions of the
/// patch: `module` (the patch module's name), `kernel_release` (the release
/// it was built for, empty when it names none) and `states` (a line `<id>
/// <version>` per system state).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_show(patch: *const c_char, attr: c_int, buf: *mut u8) -> isize {
    let einval = EINVAL.to_errno() as isize;
    let g = ColdGuard::lock();
    let Some(si) = find_slot(&g, cstr(patch)) else { return einval };
    let Some(s) = g.slots[si] else { return einval };
    let cold = &*g;
    if matches!(attr, GRAFT_ATTR_MODULE | GRAFT_ATTR_KERNEL_RELEASE | GRAFT_ATTR_STATES) {
        // SAFETY: sysfs hands show() its page, used by nothing else here.
        let mut page = unsafe { SysfsPage::new(buf) };
        // SAFETY: a registered patch's static description.
        let d = unsafe { &*s.desc };
        match attr {
            GRAFT_ATTR_MODULE => {
                // SAFETY: the owner is a loaded module (registered patches'
                // modules unregister before they go): its NUL-terminated name.
                let m = unsafe { CStr::from_char_ptr(crate::ffi::graft_shim_module_name(s.owner)) };
                page.line(format_args!("{}", m.to_str().unwrap_or("?")));
            }
            GRAFT_ATTR_KERNEL_RELEASE => {
                if !d.kernel_release.is_null() {
                    page.line(format_args!("{}", cstr(d.kernel_release)));
                }
            }
            _ => {
                let states = cold.engine.as_ref().and_then(|e| e.rec(s.id)).map_or(&[][..], |r| r.states);
                for st in states {
                    page.line(format_args!("{} {}", st.id, st.version));
                }
            }
        }
        return page.finish();
    }
    let (v, total): (usize, Option<usize>) = {
        let Some(e) = cold.engine.as_ref() else { return einval };
        let Some(rec) = e.rec(s.id) else { return einval };
        match attr {
            GRAFT_ATTR_ENABLED => (rec.enabled.into(), None),
            GRAFT_ATTR_REPLACE => (rec.replace.into(), None),
            GRAFT_ATTR_STACK_ORDER => (e.stack_order(s.id).unwrap_or(0), None),
            GRAFT_ATTR_PATCHED => (s.ops_held.into(), None),
            GRAFT_ATTR_FORCED => (rec.forced.into(), None),
            GRAFT_ATTR_FAST => (s.fast.into(), None),
            GRAFT_ATTR_PROGRESS => {
                let (Some(t), Some(snap)) = (e.transition(), cold.snap.as_ref()) else { return 0 };
                if e.transition_patch() != Some(s.id) {
                    return 0;
                }
                ((0..snap.len()).filter(|&i| snap.get(i) == t.target()).count(), Some(snap.len()))
            }
            _ => return einval,
        }
    };
    // Decimal (a space and the second number for `progress`), then a newline.
    let mut digits = [0u8; 42];
    let mut n = decimal(&mut digits, 0, v);
    if let Some(total) = total {
        digits[n] = b' ';
        n = decimal(&mut digits, n + 1, total);
    }
    digits[n] = b'\n';
    n += 1;
    // SAFETY: sysfs hands a PAGE_SIZE buffer; at most 42 bytes written.
    unsafe { core::ptr::copy_nonoverlapping(digits.as_ptr(), buf, n) };
    n as isize
}

/// Writes `x` in decimal into `out` at `at`; returns the end.
fn decimal(out: &mut [u8], at: usize, x: usize) -> usize {
    let len = core::iter::successors(Some(x), |&x| (x >= 10).then_some(x / 10)).count();
    let mut x = x;
    for d in out[at..at + len].iter_mut().rev() {
        *d = b'0' + (x % 10) as u8;
        x /= 10;
    }
    at + len
}

/// sysfs `stragglers`: the running transition's report if this patch is
/// in transition, else empty.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_stragglers(patch: *const c_char, buf: *mut u8) -> isize {
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    let einval = EINVAL.to_errno() as isize;
    let Some(si) = find_slot(cold, cstr(patch)) else { return einval };
    let Some(s) = cold.slots[si] else { return einval };
    if cold.engine.as_ref().and_then(|e| e.transition_patch()) != Some(s.id) {
        return 0;
    }
    cold.strag.show(buf)
}

/// sysfs writes to `enabled` and `force` (already parsed as a boolean).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_store(patch: *const c_char, attr: c_int, val: bool) -> c_int {
    let mut g = ColdGuard::lock();
    match store(&mut g, cstr(patch), attr, val) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn store(cold: &mut Cold, patch: &str, attr: c_int, val: bool) -> Result {
    let si = find_slot(cold, patch).ok_or(EINVAL)?;
    let s = cold.slots[si].ok_or(EINVAL)?;
    if attr == GRAFT_ATTR_FORCE {
        return force(cold, s, val);
    }
    if attr == GRAFT_ATTR_FAST {
        if !val {
            fast::leave(cold, &fast::Sites::Of(si), true)?;
        }
        if let Some(sl) = cold.slots[si].as_mut() {
            sl.fast = val;
        }
        // Back on the fast path, if settled (and for the sites another
        // patch's switch kept off it).
        fast::kick(cold);
        return Ok(());
    }
    let e = cold.engine.as_mut().ok_or(EINVAL)?;
    let enabled = e.rec(s.id).is_some_and(|r| r.enabled);
    if val == enabled {
        return Err(EINVAL); // as upstream's enabled_store(), before -EBUSY
    }
    let tp = e.transition_patch();
    if tp == Some(s.id) {
        // Written back mid-transition: reverse it, as upstream.
        reverse(cold)?;
        pr_info!("{}: transition reversed\n", patch);
        start_passes(cold);
        return Ok(());
    }
    if tp.is_some() {
        return Err(EBUSY);
    }
    if val {
        enable(cold, si)
    } else {
        disable(cold, si)
    }
}

/// Reverse the running transition (`enabled` written back mid-way).  The
/// snapshot is retaken: tasks created since the last one ran the side
/// `state_for_new_task` gave them and may sleep in it, so they join the new
/// snapshot in that state and must prove they can switch back (upstream's
/// tasks inherit their parent's state in klp_copy_process()).  Tasks of the
/// old snapshot keep their state.
fn reverse(cold: &mut Cold) -> Result {
    let old = cold.snap.clone().ok_or(EINVAL)?;
    let t = cold.engine.as_ref().and_then(|e| e.transition()).ok_or(EINVAL)?;
    let new_task = t.state_for_new_task();
    let snap = snapshot()?;
    for (i, task) in snap.tasks().iter().enumerate() {
        // The old snapshot holds its tasks: a pointer cannot be reused.
        snap.set(i, old.state_of(task.as_ptr()).unwrap_or(new_task));
    }
    for i in snap.tasks().len()..snap.len() {
        if let Some(s) = snap.idle_cpu(i).and_then(|cpu| old.idle_state(cpu)) {
            snap.set(i, s);
        }
    }
    drop(old);
    let e = cold.engine.as_mut().ok_or(EINVAL)?;
    e.reverse(&mut NoHooks).map_err(engine_errno)?;
    cold.snap = Some(snap);
    cold.strag.clear();
    publish(cold);
    Ok(())
}

/// `force` written: complete the running transition of this patch now
/// (`klp_force_transition()`); `-EINVAL` unless this patch is in
/// transition, as upstream.  A forced patch keeps its module reference for
/// ever, so it can never be unloaded.
fn force(cold: &mut Cold, s: Slot, val: bool) -> Result {
    if !val {
        return Ok(()); // upstream ignores a 0
    }
    let mut hooks = callbacks::Deferred::default();
    let rd = &cold.stack;
    let e = cold.engine.as_mut().ok_or(EINVAL)?;
    if e.transition_patch() != Some(s.id) {
        return Err(EINVAL);
    }
    let snap = cold.snap.take().ok_or(EINVAL)?;
    let mut env = KernelTasks::new(&snap, rd, core::ptr::null_mut());
    // Every task of the snapshot is set to the target before the view
    // without transition is published.
    if let Err(err) = e.force(&mut env, &mut hooks) {
        cold.snap = Some(snap);
        return Err(engine_errno(err));
    }
    drop(snap);
    cold.strag.clear();
    publish(cold);
    hooks.run(cold);
    states::end();
    pr_warn!("{}: transition forced: the patch module can no longer be unloaded\n", desc_name(s.desc));
    settle(cold, s.id);
    view::reap(cold);
    Ok(())
}

/// `graft_unregister_patch()`: the patch module is unloading (so disabled:
/// graft holds its reference while enabled).
#[unsafe(no_mangle)]
extern "C" fn graft_rs_unregister(desc: *const PatchDesc) -> c_int {
    let mut g = ColdGuard::lock();
    let cold = &mut *g;
    let einval = EINVAL.to_errno();
    let Some(si) = cold.slots.iter().position(|s| s.is_some_and(|s| s.desc == desc)) else { return einval };
    let Some(s) = cold.slots[si] else { return einval };
    let r = match cold.engine.as_mut() {
        Some(e) => e.unregister(s.id).map_err(engine_errno),
        None => Err(EINVAL),
    };
    if let Err(e) = r {
        pr_err!("{}: cannot unregister ({})\n", desc_name(desc), e.to_errno());
        return e.to_errno();
    }
    release(cold, si, false);
    forget(cold, si);
    // The directories go once the mutex is released.
    drop(g);
    pr_info!("{}: unregistered\n", desc_name(desc));
    0
}

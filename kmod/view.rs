// SPDX-License-Identifier: GPL-2.0
//! What the ftrace handler reads: an immutable, RCU-published [`View`].
//!
//! Upstream's `klp_ftrace_handler()` (kernel/livepatch/patch.c) takes no
//! lock: it reads an RCU list of function versions and
//! `current->patch_state`.  graft cannot add a field to `task_struct`, so a
//! view carries, per site, the target for a task in each patch state
//! (computed under `GRAFT_MUTEX` with graft-core's `Engine::resolve`), in a
//! hash table the handler probes with the site's address (one `ftrace_ops`
//! serves every site, so the handler knows its site only by `ip`),
//! whether a transition runs and the state of tasks created after its
//! snapshot, and the snapshot itself (sorted task pointers, one atomic state
//! each, which transition passes switch in place).
//!
//! Publication: two view buffers (static, their tables and ranges
//! allocated at registration: [`reserve`]).  The control side (always under
//! `GRAFT_MUTEX`: each function here takes the `&Cold` that proves it)
//! fills the buffer no reader can hold, publishes it with a
//! release store and starts (without waiting for) an expedited grace period;
//! the buffer it unpublished is reused, and its snapshot reference dropped,
//! only once that grace period is over (`wait_unread`, usually long past by
//! the next publication), so no control path waits for the handlers' readers.  The
//! handler runs under `ftrace_test_recursion_trylock()`, which disables
//! preemption (include/linux/trace_recursion.h): with the consolidated RCU
//! flavours a preempt-disabled region is a read-side critical section for
//! `synchronize_rcu()` (include/linux/rcupdate.h).  On architectures with
//! `CONFIG_ARCH_WANTS_NO_INSTR` (x86_64, arm64, s390) every function called
//! where RCU is not watching is `noinstr`, hence never traced; elsewhere
//! (powerpc) a work item run on each CPU after the publication covers those
//! regions, as upstream's `klp_synchronize_transition()` does (`shim.c`
//! says why not `synchronize_rcu_tasks_rude()`): the cookie's wait covers
//! both.
//!
//! The Rust side is not built with `-Zinstrument-mcount` by this kernel
//! (no Rust entry in the top Makefile's `CC_FLAGS_FTRACE`), so nothing the
//! handler calls here can recurse into ftrace.

use crate::arch::Native;
use crate::ffi::{
    graft_shim_boot_idle, graft_shim_cond_synchronize, graft_shim_current, graft_shim_idle_cpu, graft_shim_schedule,
    graft_shim_site_hash, graft_shim_site_omask, graft_shim_site_step, graft_shim_start_poll, graft_shim_synchronize,
    graft_shim_view_slot, SiteRow, ViewHead, GRAFT_ROW_SPLIT,
};
use crate::kenv::{self, KallsymsText, NofaultStack};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use graft_core::transition::check_task;
use graft_core::{Blocker, HookEntry, PatchState, Ranges, SavedRegs, TaskStacks, TaskView, TextAddr};
use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec, KVec},
    bindings,
    ffi::c_ulong,
    prelude::*,
    sync::aref::ARef,
    sync::Arc,
    task::Task,
};

/// A [`PatchState`] as the view's atomics store it.
pub(crate) const fn state_code(s: PatchState) -> u8 {
    match s {
        PatchState::Unpatched => 0,
        PatchState::Patched => 1,
    }
}

fn state_of_code(c: u8) -> PatchState {
    if c & 1 == 0 {
        PatchState::Unpatched
    } else {
        PatchState::Patched
    }
}

/// A transition's task snapshot: every thread, referenced and sorted by
/// `task_struct` pointer, with its patch state, then the per-CPU idle
/// tasks (which `for_each_process_thread` does not list), one state per
/// possible CPU.  Index `i` of the transition's `TaskEnv` is thread `i`
/// for `i < tasks().len()`, else the idle task of CPU `i - tasks().len()`.
/// Dropping it drops the references (only ever in process context, after
/// no view holds it).
pub(crate) struct Snap {
    tasks: KVec<ARef<Task>>,
    states: KVec<AtomicU8>,
    /// Per CPU: why its idle task did not switch at its last idle-loop
    /// check ([`IDLE_NOT_CHECKED`], [`IDLE_UNRELIABLE`], or the start of
    /// the changed function found on its stack).
    idle_why: KVec<AtomicU64>,
    /// Idle tasks that switched themselves in their idle loop.
    idle_self: AtomicU32,
    /// Tasks that switched themselves at syscall exit.
    exit_self: AtomicU32,
    /// Tasks the last pass left on the old side, less those that switched
    /// themselves since: the one to take it to 0 queues the next pass at
    /// once ([`Snap::switched_self`]), which completes the transition
    /// without waiting out the backoff.  Only a hint: a count gone stale by
    /// a race delays the completion to the next timed pass, never more.
    remaining: AtomicU32,
}

/// The idle task has not reached its idle-loop check yet.
pub(crate) const IDLE_NOT_CHECKED: u64 = 0;
/// Its stack could not be proven at the check.
pub(crate) const IDLE_UNRELIABLE: u64 = 1;

impl Snap {
    /// Takes over the references in `tasks` (sorted); every state starts as
    /// `init`; `ncpus` idle tasks follow.
    pub(crate) fn new(tasks: KVec<ARef<Task>>, init: PatchState, ncpus: usize) -> Result<Self, KVec<ARef<Task>>> {
        let n = tasks.len() + ncpus;
        let (mut states, mut idle_why) =
            match (KVec::with_capacity(n, GFP_KERNEL), KVec::with_capacity(ncpus, GFP_KERNEL)) {
                (Ok(s), Ok(w)) => (s, w),
                _ => return Err(tasks),
            };
        for _ in 0..n {
            // Capacity reserved above: never fails.
            let _ = states.push(AtomicU8::new(state_code(init)), GFP_KERNEL);
        }
        for _ in 0..ncpus {
            let _ = idle_why.push(AtomicU64::new(IDLE_NOT_CHECKED), GFP_KERNEL);
        }
        Ok(Snap {
            tasks,
            states,
            idle_why,
            idle_self: AtomicU32::new(0),
            exit_self: AtomicU32::new(0),
            remaining: AtomicU32::new(u32::MAX),
        })
    }
    /// The threads (without the idle tasks).
    pub(crate) fn tasks(&self) -> &[ARef<Task>] {
        &self.tasks
    }
    /// Threads and idle tasks.
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }
    /// The CPU whose idle task is index `i`, if it is one.
    pub(crate) fn idle_cpu(&self, i: usize) -> Option<usize> {
        i.checked_sub(self.tasks.len())
    }
    /// Idle task of `cpu`: its state (`None` for a CPU beyond the snapshot).
    pub(crate) fn idle_state(&self, cpu: usize) -> Option<PatchState> {
        let s = self.states.get(self.tasks.len() + cpu)?;
        Some(state_of_code(s.load(Ordering::Relaxed)))
    }
    /// (idle tasks switched in their idle loop, idle tasks in the snapshot)
    pub(crate) fn idle_counts(&self) -> (u32, usize) {
        (self.idle_self.load(Ordering::Relaxed), self.idle_why.len())
    }
    /// How many tasks switched themselves at syscall exit.
    pub(crate) fn exit_count(&self) -> u32 {
        self.exit_self.load(Ordering::Relaxed)
    }
    /// A pass ended with `n` tasks not yet switched.
    pub(crate) fn set_remaining(&self, n: usize) {
        self.remaining.store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::Relaxed);
    }
    /// A task switched itself (idle loop, syscall exit): if it was the last
    /// one the last pass left, the next pass runs now.
    fn switched_self(&self) {
        let last = self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)) == Ok(1);
        if last {
            graft_shim_schedule(0);
        }
    }
    /// Why the idle task of `cpu` did not switch at its last check.
    pub(crate) fn idle_why(&self, cpu: usize) -> u64 {
        self.idle_why.get(cpu).map_or(IDLE_NOT_CHECKED, |w| w.load(Ordering::Relaxed))
    }
    /// Task `t`'s state, if it is in the snapshot (control side: no mark).
    pub(crate) fn state_of(&self, t: *mut bindings::task_struct) -> Option<PatchState> {
        let i = self.index(t)?;
        Some(self.get(i))
    }
    /// The handler's read of task `t`'s state (the idle task of `idle_cpu`
    /// when given): marks it [`OBSERVED`] in the same atomic step, so a pass
    /// that checked the task before this call cannot switch it after
    /// ([`Snap::try_switch`]).  `None` when not in the snapshot.
    #[inline]
    fn observe(&self, t: *mut bindings::task_struct, idle_cpu: Option<usize>) -> Option<PatchState> {
        let i = match idle_cpu {
            Some(cpu) => self.tasks.len() + cpu,
            None => self.index(t)?,
        };
        // Always the read-modify-write (never a plain load first): it reads
        // the latest value, so it cannot miss a switch or a re-arm.
        Some(state_of_code(self.states.get(i)?.fetch_or(OBSERVED, Ordering::Relaxed)))
    }
    /// Thread `t`'s index (the snapshot is sorted by pointer).
    #[inline]
    fn index(&self, t: *mut bindings::task_struct) -> Option<usize> {
        self.tasks.binary_search_by_key(&(t as usize), |a| a.as_ptr() as usize).ok()
    }
    pub(crate) fn get(&self, i: usize) -> PatchState {
        state_of_code(self.states[i].load(Ordering::Relaxed))
    }
    /// Set a state outright: before the snapshot is published, by `force`,
    /// or by the idle task itself.
    pub(crate) fn set(&self, i: usize, s: PatchState) {
        self.states[i].store(state_code(s), Ordering::Relaxed);
    }
    /// Before a pass looks at task `i`: clear its [`OBSERVED`] mark.
    pub(crate) fn arm(&self, i: usize) {
        self.states[i].fetch_and(!OBSERVED, Ordering::Relaxed);
    }
    /// Switch task `i` to `s` after its check, unless it read its state
    /// (so may have entered patched code, every entry to which goes
    /// through the handler) since [`Snap::arm`].  A module cannot pin the
    /// task across check and switch (upstream holds its runqueue lock with
    /// `task_call_func()`, not exported): this is what stands for it.  The
    /// compare-exchange and the handler's `fetch_or` are ordered on the one
    /// atomic: either the handler's read comes first and the switch fails,
    /// or the switch comes first and the handler reads the new state.
    pub(crate) fn try_switch(&self, i: usize, s: PatchState) -> bool {
        let from = state_code(s.flip());
        self.states[i].compare_exchange(from, state_code(s), Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// A task's state atomic: bit 0 the [`state_code`], and this mark, set by
/// the handler's every read while a transition runs.
const OBSERVED: u8 = 2;

/// No transition runs (every task is on the only side there is).
const NO_TRANSITION: u8 = 0xff;

/// Everything the handler needs, immutable once published.
///
/// `repr(C)` with `head` first: `shim_hooks.c`'s handler reads the table
/// of sites itself (its common path, no call into Rust) from the published
/// pointer ([`published`]).
#[repr(C)]
pub(crate) struct View {
    /// The table the handler probes (`rows` points into [`View::rows`]).
    head: ViewHead,
    /// Owns the table's rows: `2^bits`, at most half of them used.
    rows: KVVec<SiteRow>,
    /// [`NO_TRANSITION`], or the state code of tasks missing from `snap`
    /// (created after it was taken: `Transition::state_for_new_task`).
    new_task: u8,
    /// The running transition's snapshot.
    snap: Option<Arc<Snap>>,
    /// The transition's target state code, and the code its tasks leave
    /// (for the idle tasks' own checks, [`graft_rs_idle`]).
    target: u8,
    /// The transition's changed code (`Engine::changed_ranges`, sorted).
    ranges: KVVec<(TextAddr, u64)>,
}

// The layout shim.c's graft_ftrace_handler reads: `struct graft_view_head`
// at offset 0.
const _: () = assert!(core::mem::offset_of!(View, head) == 0);

impl View {
    /// [`NONE_VIEW`].
    const NONE: View = View::with_head(ViewHead::EMPTY);
    const EMPTY: View = View::with_head(ViewHead::NONE);
    const fn with_head(head: ViewHead) -> View {
        View {
            head,
            rows: KVVec::new(),
            new_task: NO_TRANSITION,
            snap: None,
            target: NO_TRANSITION,
            ranges: KVVec::new(),
        }
    }

    /// The handler's decision for the current task at a site whose row
    /// has targets `t` that differ (a transition changes the site).
    #[inline]
    fn target_in_transition(&self, t: &[c_ulong; 2]) -> c_ulong {
        let state = match (self.new_task, &self.snap) {
            (NO_TRANSITION, _) | (_, None) => PatchState::Patched,
            (new, Some(snap)) => {
                // smp_processor_id() when `current` is an idle task (in
                // any context), else -1.
                let cpu = graft_shim_idle_cpu();
                if let Ok(cpu) = usize::try_from(cpu) {
                    // A CPU beyond the snapshot cannot exist (possible CPUs
                    // are fixed at boot): the old side, which is never wrong
                    // for a task whose stack was not checked.
                    snap.observe(core::ptr::null_mut(), Some(cpu)).unwrap_or(self.transition_origin())
                } else {
                    let me = graft_shim_current();
                    snap.observe(me, None).unwrap_or(state_of_code(new))
                }
            }
        };
        t[state_code(state) as usize]
    }
    /// The side tasks leave in this transition.
    fn transition_origin(&self) -> PatchState {
        state_of_code(self.target).flip()
    }
}

/// The rows of a table for `sites` sites: a power of two, at least twice
/// as many (so a probe always meets an empty row), at least 2.
pub(crate) fn table_rows(sites: usize) -> usize {
    (2 * sites).max(2).next_power_of_two()
}

/// What the control side hands to [`publish`].
pub(crate) struct NewView<'a> {
    /// How many `sites` gives.
    pub(crate) nsites: usize,
    /// Every site with its two targets (ip 0 never), and whether its row
    /// must be split even where they agree (a handed-back site whose direct
    /// call is still registered: the split path overrules it,
    /// `shim_hooks.c` graft_direct_overrule()).
    pub(crate) sites: &'a mut dyn Iterator<Item = (u64, [u64; 2], bool)>,
    /// `Some((state for new tasks, snapshot))` while a transition runs.
    pub(crate) transition: Option<(PatchState, Arc<Snap>)>,
    /// The transition's target and changed code (`Engine::changed_ranges`,
    /// sorted).
    pub(crate) target: PatchState,
    pub(crate) ranges: &'a [(TextAddr, u64)],
}

struct Buf(UnsafeCell<View>);
// SAFETY: a buffer is written only under GRAFT_MUTEX while unpublished and
// unreferenced (a grace period passed since it was last published); the
// published one is only read.
unsafe impl Sync for Buf {}

/// How many view buffers [`publish`] rotates through.  Each is written
/// only once a grace period has passed since it was unpublished, which
/// began when the next one was published.  With two, a transition's end
/// would wait for the grace period its own start began (the buffer it
/// writes is the one the start unpublished), and under load an expedited
/// grace period outlasts a short transition: 27 to 43 ms on Debian's
/// PREEMPT_RCU amd64 kernel with 16 busy threads on 2 CPUs, against a
/// 13 ms pass.  With three, each publication waits for the one started
/// two publications before: a transition's end for the previous
/// transition's end, its start for the previous start.
const NBUFS: usize = 3;

static BUFS: [Buf; NBUFS] = [const { Buf(UnsafeCell::new(View::EMPTY)) }; NBUFS];
/// The buffer [`publish`] wrote last (under GRAFT_MUTEX, like `publish`).
static LAST: AtomicUsize = AtomicUsize::new(NBUFS - 1);
/// The view published while no other is: no sites, no transition, never
/// written.  It spares the handler a null check (`shim_hooks.c` starts its
/// view pointer at it).
#[unsafe(no_mangle)]
static graft_none_view: Buf = Buf(UnsafeCell::new(View::NONE));
use graft_none_view as NONE_VIEW;

/// The published view's pointer, never null.  It lives beside graft's
/// ftrace_ops (`shim_hooks.c` struct graft_ops), where the handler reads it
/// through the ops it is called with, with `rcu_dereference_raw()`: the
/// release store that publishes a view orders its contents before the
/// pointer, and the handler's loads depend on the pointer's value.
fn published() -> &'static AtomicPtr<View> {
    // SAFETY: graft_shim_view_slot() is the address of a pointer-sized,
    // pointer-aligned field of a static that lives as long as graft.ko and
    // is only ever accessed atomically (READ_ONCE() in C, atomics here);
    // `AtomicPtr<View>` has the layout of a pointer.
    unsafe { &*graft_shim_view_slot().cast::<AtomicPtr<View>>() }
}

/// The ftrace handler's decision when the two targets of its site's `row`
/// differ (`shim.c` graft_ftrace_handler, under
/// ftrace_test_recursion_trylock(), which found the row in the published
/// view `v`; it decides the common case, equal targets, itself): where the
/// call goes for the current task (0: the original).  No lock.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_target(v: *const View, row: *const SiteRow) -> c_ulong {
    if v.is_null() || row.is_null() {
        return 0;
    }
    // SAFETY: the handler loaded `v` as rcu_dereference() does (its
    // contents, the snapshot's initial states included, are seen after the
    // pointer: upstream's smp_wmb() in klp_init_transition() and smp_rmb()
    // in klp_ftrace_handler() order the same two things); a published view
    // and the row the handler found in it stay valid and unchanged until a
    // grace period after they are unpublished, and this runs with
    // preemption disabled.
    let (v, row) = unsafe { (&*v, &*row) };
    v.target_in_transition(&row.target)
}

/// Grace-period cookies (`start_poll_synchronize_rcu_expedited()`), one per
/// buffer: taken when the buffer was unpublished, waited for before it is
/// reused.  Guarded by GRAFT_MUTEX, like `publish`.
static COOKIES: [AtomicUsize; NBUFS] = [const { AtomicUsize::new(0) }; NBUFS];
/// Whether `COOKIES[i]` was taken (a buffer never published needs no wait).
static COOKIE_SET: [AtomicBool; NBUFS] = [const { AtomicBool::new(false) }; NBUFS];

/// Wait until no handler can read buffer `idx` (unpublished when its cookie
/// was taken).
fn wait_unread(idx: usize) {
    if COOKIE_SET[idx].load(Ordering::Relaxed) {
        graft_shim_cond_synchronize(COOKIES[idx].load(Ordering::Relaxed) as c_ulong);
    }
}

/// The buffer [`publish`] writes next (the one after the last written,
/// never the published one) and its index.
fn spare() -> (usize, *mut View) {
    let idx = (LAST.load(Ordering::Relaxed) + 1) % NBUFS;
    (idx, BUFS[idx].0.get())
}

/// The index of the published buffer, `None` while [`NONE_VIEW`] is.
fn published_idx() -> Option<usize> {
    let cur = published().load(Ordering::Relaxed);
    BUFS.iter().position(|b| b.0.get() == cur)
}

/// Room in every buffer for `sites` sites and `ranges` ranges, so that
/// [`publish`] never allocates (called at registration, where failing is
/// clean).  Grows the unpublished buffers once no handler can read them;
/// if the published one is too small, publishes `republish`'s view (the
/// current state again) into a grown one and then grows the one it
/// replaced, once its grace period is over (an expedited one, started by
/// that publication).
pub(super) fn reserve(
    cold: &mut super::Cold,
    sites: usize,
    ranges: usize,
    republish: fn(&mut super::Cold),
) -> Result<(), kernel::alloc::AllocError> {
    let rows = table_rows(sites);
    for round in 0..2 {
        for (idx, b) in BUFS.iter().enumerate() {
            if Some(idx) == published_idx() {
                continue;
            }
            wait_unread(idx);
            // SAFETY: buffer `idx` is not published and a grace period
            // passed since it last was: no handler reads it; GRAFT_MUTEX
            // (`cold`) keeps every other control path out.  Only capacity
            // changes here.
            let v = unsafe { &mut *b.0.get() };
            v.rows.reserve(rows.saturating_sub(v.rows.len()), GFP_KERNEL)?;
            v.ranges.reserve(ranges.saturating_sub(v.ranges.len()), GFP_KERNEL)?;
        }
        let Some(p) = published_idx() else { break };
        // SAFETY: the published buffer is only read here (its capacities).
        let cur = unsafe { &*BUFS[p].0.get() };
        if round == 1 || (cur.rows.capacity() >= rows && cur.ranges.capacity() >= ranges) {
            break;
        }
        // Into a grown buffer; the next round grows the one it replaces.
        republish(cold);
    }
    Ok(())
}

/// Publish `nv`.  The buffer written is the one unpublished two calls
/// before ([`NBUFS`]); a grace period since then (usually long over: it
/// began at that call) is waited for first, and the snapshot it held is
/// dropped then.
/// So publishing does not wait for readers of the view it replaces: none
/// needs to be gone before the control path goes on (a handler still on
/// the previous view decides as that view says, which stays correct while
/// the new one takes over: a transition's start publishes states that give
/// every task the same target as before, its end one that agrees with
/// every task's final state).  It allocates nothing when [`reserve`] made
/// room for the registered patches; if it ever had to and could not, the
/// previous view stays published and the failure is logged.  `_held`
/// proves GRAFT_MUTEX is held (every control path holds it).
pub(super) fn publish(_held: &super::Cold, nv: NewView<'_>) {
    let cur = published_idx();
    let (idx, next) = spare();
    wait_unread(idx);
    // SAFETY: `next` is not published, and a grace period passed since it
    // last was: no handler reads it; and no other control path runs
    // (GRAFT_MUTEX, `_held`): nothing else writes it.
    let v = unsafe { &mut *next };
    if fill(v, nv.nsites, nv.sites, nv.ranges).is_err() {
        pr_err!("publish: no room for the view (a registration did not reserve it): the previous view stays\n");
        return;
    }
    let (new_task, snap) = match nv.transition {
        Some((s, snap)) => (state_code(s), Some(snap)),
        None => (NO_TRANSITION, None),
    };
    v.new_task = new_task;
    v.target = if snap.is_some() { state_code(nv.target) } else { NO_TRANSITION };
    drop(core::mem::replace(&mut v.snap, snap));
    published().store(next, Ordering::Release);
    LAST.store(idx, Ordering::Relaxed);
    if let Some(c_idx) = cur {
        // Starts (or finds) an expedited grace period; no wait.
        let c = graft_shim_start_poll();
        COOKIES[c_idx].store(c as usize, Ordering::Relaxed);
        COOKIE_SET[c_idx].store(true, Ordering::Relaxed);
    }
}

/// Write the table of `sites` and the `ranges` into the unpublished `v`.
fn fill(
    v: &mut View,
    nsites: usize,
    sites: &mut dyn Iterator<Item = (u64, [u64; 2], bool)>,
    ranges: &[(TextAddr, u64)],
) -> Result<(), kernel::alloc::AllocError> {
    v.ranges.clear();
    v.ranges.extend_from_slice(ranges, GFP_KERNEL)?;
    let size = table_rows(nsites);
    v.rows.clear();
    v.rows.resize(size, SiteRow::default(), GFP_KERNEL)?;
    let mask = size - 1;
    let omask = graft_shim_site_omask(size as c_ulong);
    let mut used = 0;
    for (ip, target, split) in sites {
        if ip == 0 || used + 1 > size / 2 {
            continue; // cannot happen: sites are non-zero, and counted
        }
        // The handler's probe: first row, then its stride (`shim_hooks.c`).
        let mut i = graft_shim_site_hash(ip as c_ulong, omask) as usize;
        let step = graft_shim_site_step(ip as c_ulong, omask) as usize;
        while v.rows[i].ip != 0 && v.rows[i].ip != ip as c_ulong {
            i = (i + step) & mask;
        }
        let target = [target[0] as c_ulong, target[1] as c_ulong];
        let both = if target[0] == target[1] && !split { target[0] } else { GRAFT_ROW_SPLIT };
        v.rows[i] = SiteRow { ip: ip as c_ulong, both, target };
        used += 1;
    }
    v.head = if used == 0 { ViewHead::EMPTY } else { ViewHead { rows: v.rows.as_ptr(), omask } };
    Ok(())
}

/// The table of a view without sites: two empty rows (`omask` 32: a probe
/// starts at row 0 or 1), so the handler's probe needs no null check.
static EMPTY_ROWS: [SiteRow; 2] = [ROW_NONE; 2];
const ROW_NONE: SiteRow = SiteRow { ip: 0, both: 0, target: [0; 2] };

impl ViewHead {
    /// A view's head before it is first filled (never published so).
    const NONE: ViewHead = ViewHead { rows: core::ptr::null(), omask: 32 };
    /// The head of a view without sites.
    const EMPTY: ViewHead = ViewHead { rows: EMPTY_ROWS.as_ptr(), omask: 32 };
}

/// Drop the task references of the unpublished view once no handler can
/// read it (after a transition completes, so a finished transition's
/// snapshot does not pin its tasks until the next one).  `_held`: as for
/// [`publish`].
pub(super) fn reap(_held: &super::Cold) {
    let p = published_idx();
    for (idx, b) in BUFS.iter().enumerate() {
        if Some(idx) == p {
            continue;
        }
        let other = b.0.get();
        // SAFETY: only drops the snapshot reference of a buffer nobody reads
        // once the cookie's grace period has passed, which this waits for;
        // the mutex (`_held`) keeps `publish` from writing it meanwhile.
        unsafe {
            if (*other).snap.is_none() {
                continue;
            }
            wait_unread(idx);
            drop((*other).snap.take());
        }
    }
}

/// Module exit: unpublish and drop everything the views hold.  `_held`: as
/// for [`publish`].
pub(super) fn clear(_held: &super::Cold) {
    published().store(NONE_VIEW.0.get(), Ordering::Release);
    graft_shim_synchronize();
    for b in BUFS.iter() {
        // SAFETY: unpublished a grace period ago: nobody reads it.
        let v = unsafe { &mut *b.0.get() };
        drop(v.snap.take());
        v.head = ViewHead::NONE;
        v.rows = KVVec::new();
        v.ranges = KVVec::new();
    }
}

/// A task's own switch on its way back to user space (`shim.c`'s probe on
/// the sys_exit tracepoint, preemption disabled), as upstream switches
/// tasks in the exit-to-user-mode work: the task walks its own stack from
/// here (the frames above are live and cannot change while it runs on
/// them) and switches when the walk is reliable and none of the
/// transition's changed code is on it.  A pass may have checked the task
/// and be about to switch it too: its compare-exchange then fails on the
/// already switched state, harmlessly.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_syscall_exit() {
    let Some((v, snap, target)) = in_transition() else { return };
    let me = graft_shim_current();
    // Not in the snapshot: created since, already in the new-task state.
    let Some(i) = snap.index(me) else { return };
    if snap.get(i) == target {
        return; // switched already: one search, no walk
    }
    // Walked from this function's own frame, live while the walk runs.
    if check_own_stack(v, Ok(crate::arch::native::frame_regs())).is_ok() {
        snap.set(i, target);
        snap.exit_self.fetch_add(1, Ordering::Relaxed);
        snap.switched_self();
    }
}

/// The published view while a transition runs, its snapshot and its target
/// state.  Call with preemption disabled (the view's RCU read side).
fn in_transition<'a>() -> Option<(&'a View, &'a Snap, PatchState)> {
    let v = published().load(Ordering::Acquire);
    if v.is_null() {
        return None;
    }
    // SAFETY: as in `graft_rs_target`.
    let v = unsafe { &*v };
    let snap = v.snap.as_deref()?;
    if v.target == NO_TRANSITION {
        return None;
    }
    Some((v, snap, state_of_code(v.target)))
}

/// Check the running task's own stack, walked from `regs` (a frame of the
/// caller's, live while this runs), against `v`'s changed code.
#[inline(never)] // Its frame array lives only while it runs.
fn check_own_stack(v: &View, regs: Result<SavedRegs, Blocker>) -> Result<(), Blocker> {
    let regs = regs?;
    let bounds = kenv::current_stack::<Native>();
    let view = TaskView::Sleeping { regs, bounds, mem: &NofaultStack };
    let mut scratch = [TextAddr(0); 64];
    let ranges = Ranges(&v.ranges);
    check_task(crate::arch::unwinder(), view, &ranges, &KallsymsText, &mut scratch)
}

/// The idle task's own switch (`shim.c` graft_idle_handler, on entry of a
/// function `do_idle()` calls on every idle-loop iteration, in task context
/// with preemption disabled), as upstream switches idle tasks in `do_idle()`
/// (kernel/sched/idle.c, klp_update_patch_state()).  Nothing else can walk
/// an idle task: it never leaves the CPU.  Its stack is walked from the
/// hooked function's caller: `parent_ip` is the return address the call
/// pushed at `sp`, `fp` the caller's frame pointer; the frames above are
/// live and cannot change while this runs on that stack.  The idle task
/// switches when the walk is reliable and none of the transition's changed
/// code is on it, else the reason is kept for the straggler report.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_idle(cpu: c_ulong, parent_ip: c_ulong, sp: c_ulong, fp: c_ulong) {
    // `current` is the idle task of `cpu`.
    record_idle_task(cpu, graft_shim_current());
    let Some((v, snap, target)) = in_transition() else { return };
    if snap.idle_state(cpu).is_none_or(|s| s == target) {
        return; // switched already (the common case: one load, no walk)
    }
    let why = &snap.idle_why[cpu];
    // The caller's registers at the hook's entry, as the arch lays them out.
    let at = HookEntry { parent_ip: parent_ip as u64, sp: sp as u64, fp: fp as u64 };
    let regs =
        Native::hook_caller_regs(at, kenv::current_stack::<Native>(), &NofaultStack).map_err(Blocker::Unreliable);
    match check_own_stack(v, regs) {
        Ok(()) => {
            snap.states[snap.tasks.len() + cpu].store(v.target, Ordering::Relaxed);
            snap.idle_self.fetch_add(1, Ordering::Relaxed);
            snap.switched_self();
        }
        Err(Blocker::OnStack { func, .. } | Blocker::Referenced { func, .. }) => {
            why.store(func.0.max(IDLE_UNRELIABLE + 1), Ordering::Relaxed)
        }
        Err(_) => why.store(IDLE_UNRELIABLE, Ordering::Relaxed),
    }
}

/// Each CPU's idle task, as the idle hook saw it (null: not seen yet).  A
/// busy CPU never runs its idle loop, so its idle task is then walked by the
/// transition pass like any task off CPU (upstream walks `idle_task(cpu)`,
/// which is not exported).  Idle tasks are never freed (kernel/smpboot.c
/// keeps them across CPU hotplug), so the pointers stay valid without a
/// reference.  Sized once at module init, before the hook can run; only the
/// atomics change afterwards.
struct IdleTasks(UnsafeCell<KVec<AtomicPtr<bindings::task_struct>>>);
// SAFETY: the vector is written only by `idle_tasks_init`/`idle_tasks_exit`
// (module init and exit, the idle hook unregistered); elements are atomics.
unsafe impl Sync for IdleTasks {}
static IDLE_TASKS: IdleTasks = IdleTasks(UnsafeCell::new(KVec::new()));

fn idle_tasks() -> &'static [AtomicPtr<bindings::task_struct>] {
    // SAFETY: see `IdleTasks`: not resized while anything reads it.
    unsafe { &*IDLE_TASKS.0.get() }
}

/// Module init: room for `ncpus` idle tasks.
///
/// # Safety
///
/// Nothing reads the idle tasks meanwhile: the idle hook is not registered
/// and no pass runs (module init, before either is set up).
pub(crate) unsafe fn idle_tasks_init(ncpus: usize) -> Result<(), kernel::alloc::AllocError> {
    let mut v = KVec::with_capacity(ncpus, GFP_KERNEL)?;
    for _ in 0..ncpus {
        v.push(AtomicPtr::new(core::ptr::null_mut()), GFP_KERNEL)?;
    }
    // SAFETY: no reader (the caller's guarantee).
    unsafe { *IDLE_TASKS.0.get() = v };
    // The boot CPU's idle task is known without waiting for it to idle.
    let mut cpu = 0;
    let t = graft_shim_boot_idle(&mut cpu);
    record_idle_task(cpu as usize, t);
    Ok(())
}

/// Module exit.
///
/// # Safety
///
/// As for [`idle_tasks_init`]: the idle hook is unregistered and no pass
/// can run any more.
pub(crate) unsafe fn idle_tasks_exit() {
    // SAFETY: no reader (the caller's guarantee).
    unsafe { *IDLE_TASKS.0.get() = KVec::new() };
}

fn record_idle_task(cpu: usize, t: *mut bindings::task_struct) {
    if let Some(p) = idle_tasks().get(cpu) {
        if p.load(Ordering::Relaxed) != t {
            p.store(t, Ordering::Relaxed);
        }
    }
}

/// The idle task of `cpu`, once the idle hook has seen it.
pub(crate) fn idle_task(cpu: usize) -> Option<*mut bindings::task_struct> {
    Some(idle_tasks().get(cpu)?.load(Ordering::Relaxed)).filter(|p| !p.is_null())
}

//! The engine: patches, their function stacks and the one transition that
//! may run at a time, with upstream livepatch's rules (kernel/livepatch/core.c,
//! transition.c).  The kernel glue resolves symbols and drives the engine;
//! tests drive it over a simulated machine.

use super::addr::TextAddr;
use super::arch::{TextInfo, UnwindReliable};
use super::stack::{EntryFlags, FuncEntry, FuncStacks, PatchId, StackFull, Target};
use super::state::{self, Incompatible, State};
use super::transition::{Blocker, PatchState, Phase, Progress, Ranges, TaskEnv, Transition};
use core::fmt;

/// A function of a patch after symbol resolution.  A function of a module
/// that is not loaded is [`ResolvedFunc::ABSENT`] (no address: `old` 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedFunc {
    /// The original function's address (symbol).
    pub old: TextAddr,
    /// Its size.
    pub old_size: u64,
    /// The replacement's address.
    pub new: TextAddr,
    /// Its size.
    pub new_size: u64,
}

impl ResolvedFunc {
    /// A function whose object is not loaded: nothing to patch (yet).
    pub const ABSENT: ResolvedFunc = ResolvedFunc { old: TextAddr(0), old_size: 0, new: TextAddr(0), new_size: 0 };

    /// Its object is loaded: it has an address.
    pub fn is_present(&self) -> bool {
        self.old.0 != 0
    }
}

/// A registered patch.
#[derive(Clone, Copy, Debug)]
pub struct PatchRec<'p> {
    /// Its id.
    pub id: PatchId,
    /// Its functions.
    pub funcs: &'p [ResolvedFunc],
    /// Atomic replace.
    pub replace: bool,
    /// Enabled or being enabled (false from the start of a disable, as
    /// upstream's `patch->enabled`).
    pub enabled: bool,
    /// A forced transition touched it: never unload.
    pub forced: bool,
    /// The system states it declares (`klp_patch.states`).
    pub states: &'p [State],
}

impl<'p> PatchRec<'p> {
    /// The functions whose object is loaded (the others are
    /// [`ResolvedFunc::ABSENT`] until [`Engine::set_funcs`] gives them an
    /// address).
    pub fn present_funcs(&self) -> impl Iterator<Item = &'p ResolvedFunc> + 'p {
        self.funcs.iter().filter(|f| f.is_present())
    }
}

/// The flags of a NOP entry pushed by a replace patch, which is in
/// transition when it pushes one.
const NOP_IN_TRANSITION: EntryFlags = EntryFlags::NOP.union(EntryFlags::TRANSITION);

/// The engine's storage, all of it caller-supplied: stack entries, patch
/// records and the running transition's changed-code ranges.  The kernel
/// glue allocates it (fallibly) at registration and moves the engine into
/// larger storage when a patch would not fit ([`Engine::room_for`],
/// [`Engine::move_to`]); the ftrace handler and the unwinder never see it.
#[derive(Debug)]
pub struct EngineStorage<'s, 'p> {
    /// Function-stack entries.
    pub slots: &'s mut [Option<FuncEntry>],
    /// Patch records, in registration order.
    pub patches: &'s mut [Option<PatchRec<'p>>],
    /// The changed-code ranges of one transition.
    pub ranges: &'s mut [(TextAddr, u64)],
}

/// How much storage an engine needs: lengths of [`EngineStorage`]'s three slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// Function-stack entries.
    pub slots: usize,
    /// Patch records.
    pub patches: usize,
    /// Changed-code ranges.
    pub ranges: usize,
}

impl Room {
    /// Every field at least `other`'s.
    pub fn covers(&self, other: &Room) -> bool {
        self.slots >= other.slots && self.patches >= other.patches && self.ranges >= other.ranges
    }
}

/// Engine errors.  `core` has no errnos: the kernel glue maps these to the
/// ones upstream livepatch returns for the same refusals (kmod's
/// `engine_errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// Another transition is running.
    Busy,
    /// Unknown patch, or the request does not apply to its state.
    Invalid,
    /// No room.
    NoMemory,
    /// A pre-patch callback failed with this code (the callback's own,
    /// passed on unchanged).
    Callback(i32),
    /// The patch was forced and must stay loaded (refused on unload).
    Forced,
    /// Its system states do not go with the installed patches' (upstream's
    /// `klp_is_patch_compatible()`): which installed patch's state, and how.
    Incompatible(Incompatible<PatchId>),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Busy => f.write_str("another transition is in progress"),
            EngineError::Invalid => f.write_str("invalid request for this patch"),
            EngineError::NoMemory => f.write_str("out of engine storage"),
            EngineError::Callback(e) => write!(f, "pre-patch callback failed ({e})"),
            EngineError::Forced => f.write_str("patch was forced and cannot be removed"),
            EngineError::Incompatible(i) => write!(f, "not compatible with the installed patches: {}", i.map(|p| p.0)),
        }
    }
}

impl From<StackFull> for EngineError {
    fn from(_: StackFull) -> Self {
        EngineError::NoMemory
    }
}

/// Callbacks around transitions, in upstream's order: pre-patch before the
/// transition starts (may fail), post-patch once it completes; pre-unpatch
/// before unpatching starts, post-unpatch once it completes.
pub trait Hooks {
    /// Before patching; `Err(errno)` cancels.
    fn pre_patch(&mut self, _p: PatchId) -> Result<(), i32> {
        Ok(())
    }
    /// After patching completes.
    fn post_patch(&mut self, _p: PatchId) {}
    /// Before unpatching.
    fn pre_unpatch(&mut self, _p: PatchId) {}
    /// After unpatching completes.
    fn post_unpatch(&mut self, _p: PatchId) {}
}

/// No callbacks.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;
impl Hooks for NoHooks {}

/// Patches, function stacks, and the running transition.
#[derive(Debug)]
pub struct Engine<'s, 'p> {
    stacks: FuncStacks<'s>,
    patches: &'s mut [Option<PatchRec<'p>>],
    ranges: &'s mut [(TextAddr, u64)],
    nranges: usize,
    current: Option<(PatchId, Transition)>,
}

impl<'s, 'p> Engine<'s, 'p> {
    /// An engine over caller storage: stack slots, patch slots, and room for
    /// the changed-code ranges of one transition.
    pub fn new(
        slots: &'s mut [Option<FuncEntry>],
        patches: &'s mut [Option<PatchRec<'p>>],
        ranges: &'s mut [(TextAddr, u64)],
    ) -> Self {
        patches.fill(None);
        Engine { stacks: FuncStacks::new(slots), patches, ranges, nranges: 0, current: None }
    }

    /// Storage for one more patch of `funcs` functions, such that every
    /// operation on the registered patches and on it finds room: a record
    /// each, and stack entries and ranges for every function twice (the
    /// entries of each patch on the stacks, plus the NOPs of the one
    /// replace patch that may be in transition, one per function the others
    /// change; a transition's ranges are at most its patch's entries).
    /// With this much, [`EngineError::NoMemory`] cannot happen.
    pub fn room_for(&self, funcs: usize) -> Room {
        let patches = self.patches.iter().flatten().count() + 1;
        let all: usize = self.patches.iter().flatten().map(|r| r.funcs.len()).sum::<usize>() + funcs;
        Room { slots: 2 * all, patches, ranges: 2 * all }
    }

    /// The storage it has now.
    pub fn room(&self) -> Room {
        Room { slots: self.stacks.capacity(), patches: self.patches.len(), ranges: self.ranges.len() }
    }

    /// Move into `to` (at least [`Engine::room`] in each part: else
    /// `Err(to)`, unchanged), returning the storage it had, now unused.
    pub fn move_to(&mut self, to: EngineStorage<'s, 'p>) -> Result<EngineStorage<'s, 'p>, EngineStorage<'s, 'p>> {
        let EngineStorage { slots, patches, ranges } = to;
        let need = self.stacks.len();
        let npatch = self.patches.iter().flatten().count();
        if slots.len() < need || patches.len() < npatch || ranges.len() < self.nranges {
            return Err(EngineStorage { slots, patches, ranges });
        }
        patches.fill(None);
        for (d, s) in patches.iter_mut().zip(self.patches.iter().flatten()) {
            *d = Some(*s);
        }
        for (d, s) in ranges.iter_mut().zip(&self.ranges[..self.nranges]) {
            *d = *s;
        }
        let old_slots = self.stacks.move_to(slots);
        Ok(EngineStorage {
            slots: old_slots,
            patches: core::mem::replace(&mut self.patches, patches),
            ranges: core::mem::replace(&mut self.ranges, ranges),
        })
    }

    /// Register a patch (disabled) without system states.  Its id must be
    /// new.  Its functions whose object is not loaded are
    /// [`ResolvedFunc::ABSENT`].
    pub fn register(&mut self, id: PatchId, funcs: &'p [ResolvedFunc], replace: bool) -> Result<(), EngineError> {
        self.register_with_states(id, funcs, replace, &[])
    }

    /// Register a patch (disabled) that declares system `states`
    /// (`klp_patch.states`; the caller has checked them: no id 0, no id
    /// twice).  They count once it is enabled: [`Engine::enable`] refuses a
    /// patch whose states do not go with the installed ones, and
    /// [`Engine::prev_state`] finds them.
    pub fn register_with_states(
        &mut self,
        id: PatchId,
        funcs: &'p [ResolvedFunc],
        replace: bool,
        states: &'p [State],
    ) -> Result<(), EngineError> {
        if self.rec(id).is_some() {
            return Err(EngineError::Invalid);
        }
        let slot = self.patches.iter_mut().find(|p| p.is_none()).ok_or(EngineError::NoMemory)?;
        *slot = Some(PatchRec { id, funcs, replace, enabled: false, forced: false, states });
        Ok(())
    }

    /// The installed patches: enabled (or being enabled), in registration
    /// order (upstream's `klp_patches` list, which holds the enabled
    /// patches in the order they were added), `except` left out.
    pub fn installed(&self, except: Option<PatchId>) -> impl Iterator<Item = PatchRec<'p>> + '_ {
        self.patches.iter().flatten().filter(move |r| r.enabled && Some(r.id) != except).copied()
    }

    /// `klp_is_patch_compatible()`: whether a patch declaring `states` (a
    /// replace patch if `replace`) may be enabled beside the installed
    /// patches, `except` (the patch itself, when it is registered) left
    /// out (see [`state::compatible`]).
    pub fn check_compatible(
        &self,
        states: &[State],
        replace: bool,
        except: Option<PatchId>,
    ) -> Result<(), EngineError> {
        state::compatible(states, replace, self.installed(except).map(|r| (r.id, r.states)))
            .map_err(EngineError::Incompatible)
    }

    /// `klp_get_prev_state()` for a transition of patch `of`: the state
    /// `id` among the installed patches other than `of`, the latest in
    /// registration order: which patch, and the state's index in its
    /// states.  Asked before the transition starts (its `pre_*` callbacks)
    /// and while it runs; once an atomic replace completes, the replaced
    /// patches are disabled and no longer installed, so a caller that
    /// answers the completion's callbacks keeps what this said at the
    /// start.
    pub fn prev_state(&self, of: PatchId, id: u64) -> Option<(PatchId, usize)> {
        state::prev(self.installed(Some(of)).map(|r| (r.id, r.states)), id)
    }

    /// A module object of patch `id` came or went: `funcs` (as many as the
    /// patch has, in the same order) replaces its function list; those of
    /// modules not loaded now are [`ResolvedFunc::ABSENT`] (upstream's
    /// klp_module_coming() and klp_module_going(), kernel/livepatch/core.c).
    ///
    /// While the patch's entries are on the function stacks (enabled, or
    /// in transition either way), a function that became present is pushed
    /// at once in the patch's current state: a function of a module that
    /// has just arrived cannot be on any task's stack yet, so no task needs
    /// to be checked before it runs the new code, which is why upstream
    /// patches a coming module without a transition of its own.  Its entry
    /// joins the running transition (`transition` set, as upstream's
    /// klp_init_transition() marks every function of the patch, and its
    /// original joins the code stacks are checked against: an unswitched
    /// task may run it from now on, e.g. from the module's init), and a
    /// replace patch in transition gets a NOP above it where it does not
    /// replace the function itself.  A function that became absent (its
    /// module is going: nothing runs its code any more) loses its entries,
    /// and the running transition stops checking stacks against its code.
    pub fn set_funcs(&mut self, id: PatchId, funcs: &'p [ResolvedFunc]) -> Result<(), EngineError> {
        let rec = self.rec(id).ok_or(EngineError::Invalid)?;
        if funcs.len() != rec.funcs.len() {
            return Err(EngineError::Invalid);
        }
        let cur = self.current.map(|(p, t)| (p, t.target()));
        let on_stacks = rec.enabled || cur.map(|c| c.0) == Some(id);
        if on_stacks {
            for (f, g) in rec.funcs.iter().zip(funcs) {
                if f.is_present() && !g.is_present() {
                    let old = f.old;
                    self.stacks.retain_entries(|e| !(e.patch == id && e.old == old));
                }
            }
        }
        let r = self.rec_mut(id).ok_or(EngineError::Invalid)?;
        let was = r.funcs;
        r.funcs = funcs;
        if on_stacks {
            // A replace patch in transition to patched covers the function
            // with a NOP unless it replaces it too.
            let nop_by = cur
                .filter(|&(p, t)| p != id && t == PatchState::Patched)
                .and_then(|(p, _)| self.rec(p))
                .filter(|r| r.replace);
            for (w, f) in was.iter().zip(funcs) {
                if w.is_present() || !f.is_present() {
                    continue;
                }
                let mut flags = EntryFlags::empty();
                flags.set(EntryFlags::TRANSITION, cur.map(|c| c.0) == Some(id));
                self.stacks.push(FuncEntry { old: f.old, new: f.new, patch: id, flags })?;
                if let Some(rp) = nop_by.filter(|rp| !rp.present_funcs().any(|g| g.old == f.old)) {
                    self.stacks.push(FuncEntry { old: f.old, new: f.old, patch: rp.id, flags: NOP_IN_TRANSITION })?;
                }
            }
        }
        // NOPs left on functions that no patch has any more (their module
        // went).
        let patches = &*self.patches;
        let live = |old: TextAddr| patches.iter().flatten().any(|r| r.present_funcs().any(|f| f.old == old));
        self.stacks.retain_entries(|e| !e.is_nop() || live(e.old));
        if let Some((p, t)) = self.current {
            self.compute_ranges(p, t.target())?;
        }
        Ok(())
    }

    /// Forget a disabled patch (module unload).  Refused while enabled, in
    /// transition, or after a forced transition.
    pub fn unregister(&mut self, id: PatchId) -> Result<(), EngineError> {
        let r = self.rec(id).ok_or(EngineError::Invalid)?;
        if r.forced {
            return Err(EngineError::Forced);
        }
        if r.enabled || self.transition_patch() == Some(id) {
            return Err(EngineError::Busy);
        }
        // Keep the records packed in registration order, so a patch
        // registered later is always after the others (`stack_order` is the
        // position in upstream's `klp_patches` list, appended to).
        let mut w = 0;
        for r in 0..self.patches.len() {
            if let Some(p) = self.patches[r] {
                if p.id != id {
                    self.patches[w] = Some(p);
                    w += 1;
                }
            }
        }
        self.patches[w..].fill(None);
        Ok(())
    }

    /// The patch record.
    pub fn rec(&self, id: PatchId) -> Option<PatchRec<'p>> {
        self.patches.iter().flatten().find(|r| r.id == id).copied()
    }
    fn rec_mut(&mut self, id: PatchId) -> Option<&mut PatchRec<'p>> {
        self.patches.iter_mut().flatten().find(|r| r.id == id)
    }

    /// The patch in transition, if any.
    pub fn transition_patch(&self) -> Option<PatchId> {
        self.current.map(|(p, _)| p)
    }
    /// The running transition.
    pub fn transition(&self) -> Option<&Transition> {
        self.current.as_ref().map(|(_, t)| t)
    }
    /// 1-based position of the patch among registered patches, in
    /// registration order (sysfs `stack_order`); unregistering a patch moves
    /// the later ones down.
    pub fn stack_order(&self, id: PatchId) -> Option<usize> {
        self.patches.iter().flatten().position(|r| r.id == id).map(|i| i + 1)
    }
    /// The function stacks (for the handler and for reports).
    pub fn stacks(&self) -> &FuncStacks<'s> {
        &self.stacks
    }

    /// Where a call to `old` goes for a task in `task` state.
    pub fn resolve(&self, old: TextAddr, task: PatchState) -> Target {
        self.stacks.resolve(old, task)
    }

    /// The record of `id` when no transition runs and its `enabled` is
    /// `enabled` (upstream's busy and invalid checks in `enabled_store()`).
    fn idle_rec(&self, id: PatchId, enabled: bool) -> Result<PatchRec<'p>, EngineError> {
        if self.current.is_some() {
            return Err(EngineError::Busy);
        }
        let rec = self.rec(id).ok_or(EngineError::Invalid)?;
        if rec.enabled != enabled {
            return Err(EngineError::Invalid);
        }
        Ok(rec)
    }

    /// Enable a registered patch: push its functions (and, for a replace
    /// patch, NOPs for every function other enabled patches change that it
    /// does not) and start the transition to patched.  Refused with
    /// [`EngineError::Incompatible`] when its states do not go with the
    /// installed patches' ([`Engine::check_compatible`]).
    pub fn enable<E: TaskEnv + ?Sized>(
        &mut self,
        id: PatchId,
        env: &mut E,
        hooks: &mut dyn Hooks,
    ) -> Result<(), EngineError> {
        let rec = self.idle_rec(id, false)?;
        // Before anything runs, as upstream's klp_enable_patch() checks it
        // first: a re-enabled patch is judged against what is installed now.
        self.check_compatible(rec.states, rec.replace, Some(id))?;
        hooks.pre_patch(id).map_err(EngineError::Callback)?;
        let pushed = self.push_patch(rec);
        if let Err(e) = pushed {
            self.stacks.remove_patch(id);
            return Err(e);
        }
        self.rec_mut(id).ok_or(EngineError::Invalid)?.enabled = true;
        self.begin(id, PatchState::Patched, env)
    }

    fn push_patch(&mut self, rec: PatchRec<'p>) -> Result<(), EngineError> {
        for f in rec.present_funcs() {
            self.stacks.push(FuncEntry { old: f.old, new: f.new, patch: rec.id, flags: EntryFlags::TRANSITION })?;
        }
        if rec.replace {
            for i in 0..self.patches.len() {
                let Some(other) = self.patches[i] else { continue };
                if other.id == rec.id || !other.enabled {
                    continue;
                }
                for f in other.present_funcs() {
                    let covered = rec.present_funcs().any(|g| g.old == f.old);
                    let nop_there = self.stacks.entries().any(|e| e.patch == rec.id && e.old == f.old);
                    if !covered && !nop_there {
                        self.stacks.push(FuncEntry {
                            old: f.old,
                            new: f.old,
                            patch: rec.id,
                            flags: NOP_IN_TRANSITION,
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Disable an enabled patch: start the transition to unpatched.
    pub fn disable<E: TaskEnv + ?Sized>(
        &mut self,
        id: PatchId,
        env: &mut E,
        hooks: &mut dyn Hooks,
    ) -> Result<(), EngineError> {
        self.idle_rec(id, true)?;
        hooks.pre_unpatch(id);
        self.stacks.set_transition(id, true);
        self.begin(id, PatchState::Unpatched, env)?;
        // As upstream's __klp_disable_patch(): `enabled` reads 0 from the
        // start of the way back, so writing 1 mid-way reverses it.
        if let Some(r) = self.rec_mut(id) {
            r.enabled = false;
        }
        Ok(())
    }

    fn begin<E: TaskEnv + ?Sized>(&mut self, id: PatchId, target: PatchState, env: &mut E) -> Result<(), EngineError> {
        self.compute_ranges(id, target)?;
        self.current = Some((id, Transition::start(env, target)));
        Ok(())
    }

    /// The code tasks leave when `id` moves to `target`: for each function
    /// where `id` is on top of the stack, the version running on the other side.
    fn compute_ranges(&mut self, id: PatchId, target: PatchState) -> Result<(), EngineError> {
        self.nranges = 0;
        fn push(ranges: &mut [(TextAddr, u64)], n: &mut usize, r: (TextAddr, u64)) -> Result<(), EngineError> {
            if ranges[..*n].contains(&r) {
                return Ok(());
            }
            *ranges.get_mut(*n).ok_or(EngineError::NoMemory)? = r;
            *n += 1;
            Ok(())
        }
        for e in self.stacks.entries().filter(|e| e.patch == id) {
            if self.stacks.top_two(e.old).0.map(|t| t.patch) != Some(id) {
                continue; // a newer patch covers it: nothing changes for callers
            }
            let range = match self.stacks.version_leaving(e.old, id, target) {
                Target::Original => (e.old, self.size_of_old(e.old)),
                Target::New(a) => (a, self.size_of_new(a)),
            };
            push(self.ranges, &mut self.nranges, range)?;
        }
        crate::sort::sort_by_key(&mut self.ranges[..self.nranges], |r| r.0);
        Ok(())
    }

    fn size_of_old(&self, old: TextAddr) -> u64 {
        self.patches.iter().flatten().flat_map(|r| r.present_funcs()).find(|f| f.old == old).map_or(1, |f| f.old_size)
    }
    fn size_of_new(&self, new: TextAddr) -> u64 {
        self.patches.iter().flatten().flat_map(|r| r.present_funcs()).find(|f| f.new == new).map_or(1, |f| f.new_size)
    }

    /// The code ranges the running transition checks stacks against.
    pub fn changed_ranges(&self) -> &[(TextAddr, u64)] {
        &self.ranges[..self.nranges]
    }

    /// One pass of the running transition; completes it when every task
    /// switched.  Returns `None` when no transition runs.  `unwinder`
    /// walks the sleeping tasks (see [`Transition::pass`]).
    pub fn pass<E: TaskEnv + ?Sized>(
        &mut self,
        unwinder: &dyn UnwindReliable,
        env: &mut E,
        text: &dyn TextInfo,
        scratch: &mut [TextAddr],
        hooks: &mut dyn Hooks,
        straggler: &mut dyn FnMut(usize, Blocker),
    ) -> Option<Progress> {
        let (id, mut t) = self.current?;
        let ranges = Ranges(&self.ranges[..self.nranges]);
        let p = t.pass(unwinder, env, &ranges, text, scratch, straggler);
        self.current = Some((id, t));
        if t.phase() == Phase::Complete {
            self.finish(hooks);
        }
        Some(p)
    }

    fn finish(&mut self, hooks: &mut dyn Hooks) {
        let Some((id, t)) = self.current.take() else { return };
        if t.forced() {
            if let Some(r) = self.rec_mut(id) {
                r.forced = true;
            }
        }
        match t.target() {
            PatchState::Patched => {
                self.stacks.set_transition(id, false);
                if self.rec(id).is_some_and(|r| r.replace) {
                    // Atomic replace: every other patch is now replaced.
                    for i in 0..self.patches.len() {
                        let Some(other) = self.patches[i] else { continue };
                        if other.id != id && other.enabled {
                            self.stacks.remove_patch(other.id);
                            if let Some(r) = self.patches[i].as_mut() {
                                r.enabled = false;
                                r.forced |= t.forced();
                            }
                        }
                    }
                    self.stacks.discard_nops(id);
                }
                hooks.post_patch(id);
            }
            PatchState::Unpatched => {
                self.stacks.remove_patch(id);
                if let Some(r) = self.rec_mut(id) {
                    r.enabled = false;
                }
                hooks.post_unpatch(id);
            }
        }
        self.nranges = 0;
    }

    /// Reverse the running transition (`enabled` written back mid-way).
    pub fn reverse(&mut self, hooks: &mut dyn Hooks) -> Result<(), EngineError> {
        let (id, mut t) = self.current.ok_or(EngineError::Invalid)?;
        t.reverse();
        let target = t.target();
        if let Some(r) = self.rec_mut(id) {
            r.enabled = target == PatchState::Patched;
        }
        if target == PatchState::Unpatched {
            hooks.pre_unpatch(id);
        }
        self.compute_ranges(id, target)?;
        self.current = Some((id, t));
        Ok(())
    }

    /// Force the running transition to complete (`force` written).
    pub fn force<E: TaskEnv + ?Sized>(&mut self, env: &mut E, hooks: &mut dyn Hooks) -> Result<(), EngineError> {
        let (id, mut t) = self.current.ok_or(EngineError::Invalid)?;
        t.force(env);
        self.current = Some((id, t));
        self.finish(hooks);
        Ok(())
    }
}

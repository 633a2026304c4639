//! Per-function stacks across several patches (`klp_ops.func_stack` in
//! kernel/livepatch/patch.c).
//!
//! Every patched function has a stack of replacements, one per enabled patch
//! that replaces it, newest on top.  The ftrace handler runs the top entry,
//! or, while that entry's patch is in transition and the calling task has
//! not switched yet, the entry below it (or the original function).
//!
//! Storage is a caller-supplied slice of slots kept in push order, so the
//! handler's lookup never allocates and never takes a lock the handler
//! could not take.

use super::addr::TextAddr;
use super::transition::PatchState;
use core::fmt;

/// Identifies a patch within an engine (its position in enable order is
/// separate: see `stack_order`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PatchId(pub u32);

bitflags::bitflags! {
    /// The flags of a [`FuncEntry`] (`klp_func`'s `nop` and `transition`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct EntryFlags: u8 {
        /// An atomic-replace NOP: "run the original" (`klp_func.nop`).
        const NOP = 1 << 0;
        /// The owning patch is in transition (`klp_func.transition`).
        const TRANSITION = 1 << 1;
    }
}

/// One replacement of one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncEntry {
    /// The original function (its ftrace site identifies the stack).
    pub old: TextAddr,
    /// The replacement; ignored for a NOP entry.
    pub new: TextAddr,
    /// The patch that owns the entry.
    pub patch: PatchId,
    /// Whether it is a NOP and whether its patch is in transition.
    pub flags: EntryFlags,
}

impl FuncEntry {
    /// An atomic-replace NOP: "run the original".
    pub fn is_nop(&self) -> bool {
        self.flags.contains(EntryFlags::NOP)
    }
    /// The owning patch is in transition.
    pub fn in_transition(&self) -> bool {
        self.flags.contains(EntryFlags::TRANSITION)
    }
}

/// Where a call to a patched function goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The original function: no redirection.
    Original,
    /// This replacement.
    New(TextAddr),
}

/// Out of slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackFull;

impl fmt::Display for StackFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("function stack storage is full")
    }
}

/// All function stacks of an engine.
#[derive(Debug)]
pub struct FuncStacks<'s> {
    slots: &'s mut [Option<FuncEntry>],
    len: usize,
}

impl<'s> FuncStacks<'s> {
    /// Empty stacks over `slots`.
    pub fn new(slots: &'s mut [Option<FuncEntry>]) -> Self {
        slots.fill(None);
        FuncStacks { slots, len: 0 }
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many entries fit.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Move the entries into `to` (at least [`Self::len`] long: the
    /// caller checks) and return the storage they were in, cleared.
    pub(crate) fn move_to(&mut self, to: &'s mut [Option<FuncEntry>]) -> &'s mut [Option<FuncEntry>] {
        to.fill(None);
        for (d, s) in to.iter_mut().zip(&self.slots[..self.len]) {
            *d = *s;
        }
        let old = core::mem::replace(&mut self.slots, to);
        old.fill(None);
        old
    }

    /// Entries in push order.
    pub fn entries(&self) -> impl Iterator<Item = &FuncEntry> {
        self.slots[..self.len].iter().flatten()
    }

    /// Push one entry on `e.old`'s stack.
    pub fn push(&mut self, e: FuncEntry) -> Result<(), StackFull> {
        let slot = self.slots.get_mut(self.len).ok_or(StackFull)?;
        *slot = Some(e);
        self.len += 1;
        Ok(())
    }

    /// Remove every entry of `patch` (and keep the others in order).
    pub fn remove_patch(&mut self, patch: PatchId) {
        self.retain(|e| e.patch != patch);
    }

    /// Remove the NOP entries of `patch` (`klp_discard_nops()`).
    pub fn discard_nops(&mut self, patch: PatchId) {
        self.retain(|e| !(e.patch == patch && e.is_nop()));
    }

    /// Keep only the entries `keep` accepts, in order.
    pub fn retain_entries(&mut self, keep: impl Fn(&FuncEntry) -> bool) {
        self.retain(keep);
    }

    fn retain(&mut self, keep: impl Fn(&FuncEntry) -> bool) {
        let mut w = 0;
        for r in 0..self.len {
            if let Some(e) = self.slots[r] {
                if keep(&e) {
                    self.slots[w] = Some(e);
                    w += 1;
                }
            }
        }
        self.slots[w..self.len].fill(None);
        self.len = w;
    }

    /// Set or clear the transition flag of every entry of `patch`.
    pub fn set_transition(&mut self, patch: PatchId, on: bool) {
        for e in self.slots[..self.len].iter_mut().flatten() {
            if e.patch == patch {
                e.flags.set(EntryFlags::TRANSITION, on);
            }
        }
    }

    /// Top of `old`'s stack, and the entry below it.
    pub fn top_two(&self, old: TextAddr) -> (Option<&FuncEntry>, Option<&FuncEntry>) {
        let mut it = self.slots[..self.len].iter().rev().flatten().filter(|e| e.old == old);
        (it.next(), it.next())
    }

    /// Whether any entry replaces `old`.
    pub fn is_patched(&self, old: TextAddr) -> bool {
        self.entries().any(|e| e.old == old)
    }

    /// What the ftrace handler runs for a call to `old` from a task in
    /// `task` state (`klp_ftrace_handler()`): the top entry; while that
    /// entry is in transition, a task that has not reached the patched
    /// state runs the entry below (or the original).
    pub fn resolve(&self, old: TextAddr, task: PatchState) -> Target {
        let (top, below) = self.top_two(old);
        let Some(mut f) = top else { return Target::Original };
        if f.in_transition() && task == PatchState::Unpatched {
            match below {
                Some(b) => f = b,
                None => return Target::Original,
            }
        }
        if f.is_nop() {
            Target::Original
        } else {
            Target::New(f.new)
        }
    }

    /// The version of `old` that a task runs when it is on the *other* side
    /// of `patch`'s transition from `target`: the code that must not be on a
    /// task's stack before it switches to `target` (`klp_check_stack_func()`).
    /// `Target::Original` means the original function itself.
    pub fn version_leaving(&self, old: TextAddr, patch: PatchId, target: PatchState) -> Target {
        let mut it = self.slots[..self.len].iter().rev().flatten().filter(|e| e.old == old);
        let (Some(top), below) = (it.next(), it.next()) else { return Target::Original };
        let as_target = |e: &FuncEntry| if e.is_nop() { Target::Original } else { Target::New(e.new) };
        debug_assert_eq!(top.patch, patch, "only the top patch transitions");
        match target {
            // Switching to patched: the task leaves the version below.
            PatchState::Patched => below.map_or(Target::Original, as_target),
            // Switching to unpatched: the task leaves this patch's version.
            PatchState::Unpatched => as_target(top),
        }
    }
}

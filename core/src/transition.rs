//! The per-task consistency model (kernel/livepatch/transition.c), as a state
//! machine over an environment that lists tasks and shows their stacks.
//!
//! A transition moves every task to a target state.  A task switches only
//! when the backend's reliable unwinder proves that none of the code it is
//! leaving is on its stack, or when it sits at a safe switch point (user
//! space, a fresh task).  A running task is never walked.  Tasks that cannot
//! switch yet are stragglers: they are reported with the reason and retried
//! with backoff.  A transition can be reversed mid-way (tasks already switched
//! switch back under the same rule), and forced: a one-way door that switches
//! every task without proof and forbids unloading the patch afterwards.

use super::addr::TextAddr;
use super::arch::{SavedRegs, StackBounds, TextInfo, Unreliable, UnwindReliable};
use super::mem::StackReader;
use core::fmt;

/// Which side of a patch a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchState {
    /// The code before the patch.
    Unpatched,
    /// The patch's code.
    Patched,
}

impl PatchState {
    /// The other state.
    pub const fn flip(self) -> Self {
        match self {
            PatchState::Unpatched => PatchState::Patched,
            PatchState::Patched => PatchState::Unpatched,
        }
    }
}

/// What the environment knows of a task at the moment it is checked.
#[derive(Clone, Copy)]
pub enum TaskView<'a> {
    /// On a CPU right now: never walked, retried later.
    Running,
    /// At a safe switch point where no kernel function is on its stack
    /// (returning to user space, a task that has not run yet, an idle
    /// task between iterations).
    SafePoint,
    /// Sleeping: its saved registers and kernel stack.
    Sleeping {
        /// Saved registers.
        regs: SavedRegs,
        /// Its stack.
        bounds: StackBounds,
        /// Reads its stack.
        mem: &'a dyn StackReader,
    },
}

impl fmt::Debug for TaskView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskView::Running => f.write_str("Running"),
            TaskView::SafePoint => f.write_str("SafePoint"),
            TaskView::Sleeping { regs, bounds, .. } => {
                f.debug_struct("Sleeping").field("regs", regs).field("bounds", bounds).finish()
            }
        }
    }
}

/// The tasks of a system, by index `0..len()`.
pub trait TaskEnv {
    /// Number of tasks now (grows when tasks are created).
    fn len(&self) -> usize;
    /// Whether there are no tasks.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Task `i`'s patch state.
    fn state(&self, i: usize) -> PatchState;
    /// Set task `i`'s patch state.
    fn set_state(&mut self, i: usize, s: PatchState);
    /// Look at task `i`.  The kernel pins the task so it cannot run while
    /// its stack is walked (`task_call_func()`).
    fn view(&self, i: usize) -> TaskView<'_>;
    /// Switch task `i`, whose view was just checked, to `s`; `false` when
    /// that check may be stale: an environment that cannot pin the task
    /// across view, walk and switch (a module has no `task_call_func()`)
    /// refuses when the task may have entered patched code since its view,
    /// and the task stays a straggler for this pass.
    fn switch(&mut self, i: usize, s: PatchState) -> bool {
        self.set_state(i, s);
        true
    }
}

/// The code a task may not have on its stack before it switches: address
/// ranges `[start, start+len)`.
pub trait ChangedCode {
    /// The start of the range holding `addr`, if any.
    fn find(&self, addr: TextAddr) -> Option<TextAddr>;
}

/// A sorted slice of `(start, len)` ranges.
#[derive(Clone, Copy, Debug)]
pub struct Ranges<'a>(pub &'a [(TextAddr, u64)]);

impl ChangedCode for Ranges<'_> {
    fn find(&self, addr: TextAddr) -> Option<TextAddr> {
        let i = self.0.partition_point(|(s, _)| s.0 <= addr.0);
        let (s, l) = *self.0.get(i.checked_sub(1)?)?;
        (addr.0 < s.0.saturating_add(l)).then_some(s)
    }
}

/// Why a task did not switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocker {
    /// It was running.
    Running,
    /// Its stack could not be proven.
    Unreliable(Unreliable),
    /// Code being changed is on its stack: the function and the frame index.
    OnStack {
        /// Start of the changed function.
        func: TextAddr,
        /// Frame (0 = where it sleeps).
        frame: usize,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Running => f.write_str("running"),
            Blocker::Unreliable(u) => write!(f, "unreliable stack: {u}"),
            Blocker::OnStack { func, frame } => write!(f, "changed function {func} in frame {frame}"),
        }
    }
}

/// Progress of one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Tasks switched in this pass.
    pub switched: usize,
    /// Tasks still on the old side.
    pub remaining: usize,
}

impl Progress {
    /// Whether every task reached the target.
    pub const fn done(&self) -> bool {
        self.remaining == 0
    }
}

/// The phase of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Moving tasks to the target.
    Running,
    /// Every task reached the target.
    Complete,
}

/// One transition towards `target`.
#[derive(Clone, Copy, Debug)]
pub struct Transition {
    target: PatchState,
    forced: bool,
    phase: Phase,
    passes: u32,
}

/// Backoff between passes: the first retries are quick (most tasks switch at
/// once and stragglers usually leave the function within milliseconds), then
/// the delay doubles up to a low ceiling, instead of upstream's fixed 1 s.
/// The ceiling can be low because a pass after the first visits only the
/// stragglers: a task that leaves the changed code is switched within a tick
/// or two, at the cost of walking a handful of stacks every few ms.
pub const BACKOFF_MIN_MS: u32 = 1;
/// The longest delay between passes: a task that leaves the changed code is
/// switched within about 2 ms (the guest benchmark's "done within 10 ms of
/// the release" needs the retry, a wake-up and the completion to fit), at
/// the cost of walking the stragglers' stacks 500 times a second while one
/// is held.  (graft.ko waits with an hrtimer: a timer-wheel delay would
/// round this up to a jiffy.)
pub const BACKOFF_MAX_MS: u32 = 2;

impl Transition {
    /// Start a transition of every task in `env` towards `target`.  Tasks
    /// already there stay; the others start on the other side.
    pub fn start<E: TaskEnv + ?Sized>(env: &mut E, target: PatchState) -> Self {
        for i in 0..env.len() {
            env.set_state(i, target.flip());
        }
        Transition { target, forced: false, phase: Phase::Running, passes: 0 }
    }
    /// The target state.
    pub const fn target(&self) -> PatchState {
        self.target
    }
    /// The phase.
    pub const fn phase(&self) -> Phase {
        self.phase
    }
    /// Whether `force` was used (then the patch may never be unloaded).
    pub const fn forced(&self) -> bool {
        self.forced
    }
    /// The state a task created now starts in.  A new task has no kernel
    /// frames of the old code, so it starts on the target side.
    pub const fn state_for_new_task(&self) -> PatchState {
        self.target
    }
    /// Delay before the next pass.
    pub fn next_delay_ms(&self) -> u32 {
        BACKOFF_MIN_MS.saturating_mul(1u32 << self.passes.min(10)).min(BACKOFF_MAX_MS)
    }

    /// Try to switch every task not yet at the target.  `changed` is the
    /// code a task leaves (see `FuncStacks::version_leaving`); `scratch`
    /// holds one stack's return addresses.  `straggler(i, why)` hears about
    /// every task that could not switch.  `unwinder` walks sleeping tasks
    /// (an arch's [`crate::Unwinder`] as [`crate::ArchUnwinder`], or one
    /// with tables).
    pub fn pass<E: TaskEnv + ?Sized>(
        &mut self,
        unwinder: &dyn UnwindReliable,
        env: &mut E,
        changed: &dyn ChangedCode,
        text: &dyn TextInfo,
        scratch: &mut [TextAddr],
        straggler: &mut dyn FnMut(usize, Blocker),
    ) -> Progress {
        let mut p = Progress { switched: 0, remaining: 0 };
        if self.phase == Phase::Complete {
            return p;
        }
        for i in 0..env.len() {
            if env.state(i) == self.target {
                continue;
            }
            match check_task(unwinder, env.view(i), changed, text, scratch) {
                Ok(()) if env.switch(i, self.target) => p.switched += 1,
                Ok(()) => {
                    // It ran patched code since its view: retried.
                    p.remaining += 1;
                    straggler(i, Blocker::Running);
                }
                Err(why) => {
                    p.remaining += 1;
                    straggler(i, why);
                }
            }
        }
        self.passes = self.passes.saturating_add(1);
        if p.remaining == 0 {
            self.phase = Phase::Complete;
        }
        p
    }

    /// Reverse mid-transition (`klp_reverse_transition()`): the target
    /// flips; tasks that had switched must now prove they can switch back.
    pub fn reverse(&mut self) {
        self.target = self.target.flip();
        self.phase = Phase::Running;
        self.passes = 0;
    }

    /// Force every remaining task to the target without proof.  One-way:
    /// after this the patch module must never be unloaded, because a task
    /// may still run its old code.
    pub fn force<E: TaskEnv + ?Sized>(&mut self, env: &mut E) {
        for i in 0..env.len() {
            env.set_state(i, self.target);
        }
        self.forced = true;
        self.phase = Phase::Complete;
    }
}

/// Whether the task may switch now: never while running; always at a safe
/// point; when sleeping, only if its stack is reliable and free of changed code.
pub fn check_task(
    unwinder: &dyn UnwindReliable,
    view: TaskView<'_>,
    changed: &dyn ChangedCode,
    text: &dyn TextInfo,
    scratch: &mut [TextAddr],
) -> Result<(), Blocker> {
    match view {
        TaskView::Running => Err(Blocker::Running),
        TaskView::SafePoint => Ok(()),
        TaskView::Sleeping { regs, bounds, mem } => {
            let n = unwinder.unwind_reliable(&regs, bounds, mem, text, scratch).map_err(Blocker::Unreliable)?;
            for (frame, pc) in scratch[..n].iter().enumerate() {
                // A return address points just past the call; frame 0 is the
                // exact pc.  `pc - 1` keeps a call that ends a function
                // (noreturn tail) attributed to that function.
                let probe = if frame == 0 { *pc } else { TextAddr(pc.0.saturating_sub(1)) };
                if let Some(func) = changed.find(probe) {
                    return Err(Blocker::OnStack { func, frame });
                }
            }
            Ok(())
        }
    }
}

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

use super::addr::{StackAddr, TextAddr};
use super::arch::{SavedRegs, StackBounds, TextInfo, TextKind, Unreliable, UnwindReliable};
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
    /// A word of an interrupted stack ([`scan_stack`]) points into code
    /// being changed: the task may be running it.
    Referenced {
        /// Start of the changed function.
        func: TextAddr,
        /// The stack address of the word (0: a saved register).
        at: u64,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Running => f.write_str("running"),
            Blocker::Unreliable(u) => write!(f, "unreliable stack: {u}"),
            Blocker::OnStack { func, frame } => write!(f, "changed function {func} in frame {frame}"),
            Blocker::Referenced { func, at } => {
                write!(f, "changed function {func} referenced at {at:#x} of an interrupted stack")
            }
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
/// point; when sleeping, only if its stack is reliable and free of changed
/// code, or, when the reliable walk stopped at an exception frame (a task
/// preempted or faulting in the kernel), if [`scan_stack`] finds no word of
/// its stack pointing into changed code.
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
            let n = match unwinder.unwind_reliable(&regs, bounds, mem, text, scratch) {
                Ok(n) => n,
                Err(Unreliable::ExceptionFrame(at)) => {
                    return check_interrupted(unwinder, at, &regs, bounds, mem, changed, text)
                }
                Err(why) => return Err(Blocker::Unreliable(why)),
            };
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

/// A stack the reliable walk refused at the exception frame `at`: the
/// interrupted context must have been running ordinary kernel text (not a
/// kprobe's out-of-line copy of some function's instructions, which kallsyms
/// does not name), and then [`scan_stack`] decides.
fn check_interrupted(
    unwinder: &dyn UnwindReliable,
    at: u64,
    regs: &SavedRegs,
    bounds: StackBounds,
    mem: &dyn StackReader,
    changed: &dyn ChangedCode,
    text: &dyn TextInfo,
) -> Result<(), Blocker> {
    let pc = unwinder.interrupted_pc(at, bounds, mem).ok_or(Blocker::Unreliable(Unreliable::ExceptionFrame(at)))?;
    let pc = unwinder.code_address(pc);
    if text.kind(TextAddr(pc)) != TextKind::Kernel {
        return Err(Blocker::Unreliable(Unreliable::NotText(pc)));
    }
    scan_stack(unwinder, regs, bounds, mem, changed, text)
}

/// Stack words read per [`StackReader::read`] by [`scan_stack`].
const SCAN_WORDS: usize = 32;

/// The conservative check of a sleeping task's stack that no reliable walk
/// can prove: every aligned word from `regs.sp` to the top of the stack, and
/// the saved `pc` and `lr`, is taken for a return address.  A word pointing
/// into changed code (or one byte past it: a call that ends a function)
/// blocks the switch; so does a tracing trampoline's address (function
/// graph, kretprobe), which stands for a return address kept off the stack.
///
/// Why this is a superset of the task's frames where a walk through an
/// exception frame is not: what an unwinder cannot tell at an interrupted
/// instruction is only where the interrupted function keeps its own return
/// address (in a register, or at an offset of the stack pointer that depends
/// on how far its prologue or epilogue ran).  Every register of the
/// interrupted context is saved in the exception frame's `pt_regs`, and every
/// frame above it, and the exception frame itself, lies between the task's
/// saved stack pointer and the top of its stack; the frames below it (the
/// interrupt's exit and the scheduler) are ordinary compiled frames.  So
/// every code address the task can return to, and the one it was
/// interrupted at, is among the words scanned.  Words that are not return
/// addresses (stale slots, function pointers) can only block a switch,
/// never allow one.  Shared limit with the reliable walk: a return address
/// that a tracer moved off the stack is seen only as its trampoline
/// (refused here); powerpc's `livepatch_handler` keeps the caller of a
/// replacement on the livepatch stack, which neither reads.
pub fn scan_stack(
    unwinder: &dyn UnwindReliable,
    regs: &SavedRegs,
    bounds: StackBounds,
    mem: &dyn StackReader,
    changed: &dyn ChangedCode,
    text: &dyn TextInfo,
) -> Result<(), Blocker> {
    let check = |word: u64, at: u64| -> Result<(), Blocker> {
        let addr = unwinder.code_address(word);
        for probe in [addr, addr.wrapping_sub(1)] {
            if let Some(func) = changed.find(TextAddr(probe)) {
                return Err(Blocker::Referenced { func, at });
            }
        }
        match text.kind(TextAddr(addr)) {
            TextKind::FtraceGraph | TextKind::Kretprobe => Err(Blocker::Unreliable(Unreliable::Trampoline(addr))),
            _ => Ok(()),
        }
    };
    for w in [regs.pc, regs.lr] {
        if w != 0 {
            check(w, 0)?;
        }
    }
    let start = regs.sp & !7;
    if start < bounds.lo.0 || start >= bounds.hi.0 {
        return Err(Blocker::Unreliable(Unreliable::OutOfBounds(regs.sp)));
    }
    let mut buf = [0u8; 8 * SCAN_WORDS];
    let mut at = start;
    while at < bounds.hi.0 {
        let len = (bounds.hi.0 - at).min(buf.len() as u64) as usize & !7;
        if len == 0 {
            break;
        }
        let chunk = &mut buf[..len];
        mem.read(StackAddr(at), chunk).map_err(|_| Blocker::Unreliable(Unreliable::Fault(at)))?;
        for (k, w) in chunk.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            check(unwinder.endian().u64(b), at + 8 * k as u64)?;
        }
        at += len as u64;
    }
    Ok(())
}

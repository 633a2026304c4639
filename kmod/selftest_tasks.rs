// SPDX-License-Identifier: GPL-2.0
//! The per-task self-test: for every thread, the backend's reliable
//! unwinder walks a copy of its kernel stack, and the kernel's own
//! `stack_trace_save_tsk()` walks the live stack inside the same window in
//! which the task provably stayed switched out (the one copy routine of the
//! transition passes, [`crate::tasks::StackCopy`], with the trace taken
//! inside its window).  Where the
//! backend accepts a stack, its frames must be exactly the kernel's; where
//! it refuses one, the reason is counted (refusing is allowed, the kernel's
//! trace is not reliable; accepting a stack the kernel walks differently is
//! not).
//!
//! One line: `graft: selftest tasks tasks=<n> walked=<w> agree=<a>
//! disagree=<d> refused=<r> running=<u> exited=<x>`, then each disagreement
//! with both traces; where the backend refused stacks, a line counting
//! them by reason (`selftest tasks refused: exception-frame=2 ...`), and
//! the first few with the reason and the kernel's trace of the same stack:
//! where the two walks part and why (on riscv, whose kernel walk is not a
//! reliable one, this is where graft's is the stricter).

use crate::arch::Native;
use crate::kenv::{self, KallsymsText, KSYM_BUF};
use crate::tasks::{self, Copied, StackCopy};
use graft_core::kallsyms::Lookup;
use graft_core::{TaskStacks, TextAddr, Unreliable};
use kernel::{ffi::c_ulong, prelude::*, task::Task};

const MAX_FRAMES: usize = 64;
/// Disagreements logged in full; the rest are only counted.
const MAX_LOGGED: u32 = 4;

#[derive(Default)]
struct Counts {
    tasks: u32,
    walked: u32,
    agree: u32,
    disagree: u32,
    refused: u32,
    running: u32,
    exited: u32,
    /// Refusals by reason, indexed as [`REASONS`].
    why: [u32; REASONS.len()],
}

/// The refusal reasons the per-reason line names, in [`reason`]'s order.
const REASONS: [&str; 12] = [
    "out-of-bounds",
    "misaligned",
    "not-increasing",
    "not-text",
    "exception-frame",
    "trampoline",
    "missing-final-frame",
    "leaf-frame",
    "too-many-frames",
    "fault",
    "unwalkable-context",
    "other",
];

/// The index into [`REASONS`] of a refusal.
fn reason(e: &Unreliable) -> usize {
    match e {
        Unreliable::OutOfBounds(_) => 0,
        Unreliable::Misaligned(_) => 1,
        Unreliable::NotIncreasing(_) => 2,
        Unreliable::NotText(_) => 3,
        Unreliable::ExceptionFrame(_) => 4,
        Unreliable::Trampoline(_) => 5,
        Unreliable::MissingFinalFrame(_) => 6,
        Unreliable::LeafFrame(_) => 7,
        Unreliable::TooManyFrames => 8,
        Unreliable::Fault(_) => 9,
        // (Unreliable is non_exhaustive: a reason added later)
        _ => 11,
    }
}
/// [`REASONS`]' entry for a saved context the backend refused outright.
const UNWALKABLE: usize = 10;

/// Run the test over every thread and log the verdict line.
pub(crate) fn run() {
    match check_all() {
        Ok(c) => {
            pr_info!(
                "selftest tasks tasks={} walked={} agree={} disagree={} refused={} running={} exited={}\n",
                c.tasks,
                c.walked,
                c.agree,
                c.disagree,
                c.refused,
                c.running,
                c.exited
            );
            if c.refused > 0 {
                log_reasons(&c.why);
            }
        }
        Err(e) => pr_err!("selftest tasks not run ({:?})\n", e),
    }
}

fn check_all() -> Result<Counts> {
    let stack = StackCopy::new()?;
    let tasks = tasks::threads()?;
    let mut c = Counts::default();
    let mut sched = SchedText::default();
    for t in tasks.iter() {
        c.tasks += 1;
        check_task(t, &stack, &mut sched, &mut c);
    }
    Ok(c)
}

#[inline(never)] // Its frame arrays live only while it runs: kernel stacks are small.
fn check_task(t: &Task, stack: &StackCopy, sched: &mut SchedText, c: &mut Counts) {
    let mut kernel = [0 as c_ulong; MAX_FRAMES];
    let (regs, bounds, n) = match stack.copy_traced(t.as_ptr(), &mut kernel) {
        (Copied::Stack(regs, bounds), n) => (regs, bounds, n),
        (Copied::Dead, _) => {
            c.exited += 1;
            return;
        }
        (Copied::Running, _) => {
            c.running += 1;
            return;
        }
        (Copied::Unwalkable, _) => {
            c.walked += 1;
            c.refused += 1;
            c.why[UNWALKABLE] += 1;
            return;
        }
    };
    c.walked += 1;
    let kernel = &kernel[..n];
    let mut pcs = [TextAddr(0); MAX_FRAMES];
    let k = match crate::arch::unwinder().unwind_reliable(&regs, bounds, stack, &KallsymsText, &mut pcs) {
        Ok(k) => k,
        Err(e) => {
            c.refused += 1;
            c.why[reason(&e)] += 1;
            if c.refused <= MAX_LOGGED {
                pr_info!("selftest tasks refused: pid {} ({}): {}\n", tasks::pid(t), tasks::comm(t), kenv::Show(e));
                log_info("kernel", kernel.iter().map(|&a| a as u64));
            }
            return;
        }
    };
    if same_frames(&pcs[..k], kernel, sched) {
        c.agree += 1;
        return;
    }
    c.disagree += 1;
    if c.disagree <= MAX_LOGGED {
        pr_err!("selftest tasks disagree: pid {} ({})\n", tasks::pid(t), tasks::comm(t));
        log("graft", pcs[..k].iter().map(|a| a.0));
        log("kernel", kernel.iter().map(|&a| a as u64));
    }
}

/// The backend's frames are the kernel's.  `stack_trace_save_tsk()` of
/// another task leaves out every address for which `in_sched_functions()`
/// holds (kernel/stacktrace.c, `stack_trace_consume_entry_nosched()`): the
/// `__sched` text (`__schedule`, `schedule`, the sleeping lock and wait
/// paths; on arm64 `__switch_to` too) and the lock text.  Usually those are
/// only the frames at the top, where the task switched out, so the kernel's
/// trace is exactly the backend's after a prefix.  Where it is not (a
/// noreturn call's return address at the start of the next function, which
/// happens to be `__sched`; powerpc's `__switch_to` above `__schedule`), the
/// backend's frames are filtered with the kernel's own predicate: the
/// section bounds come from `/proc/kallsyms` (`in_sched_functions()` is not
/// exported), read once, at the first such stack.  The kernel's trace is
/// not a reliable walk: it may hold up to [`TaskStacks::TRACE_TSK_SLACK`]
/// words before and after the frames, which are not compared.
fn same_frames(graft: &[TextAddr], kernel: &[c_ulong], sched: &mut SchedText) -> bool {
    let (head, tail) = <Native as TaskStacks>::TRACE_TSK_SLACK;
    // Every way of dropping up to `head` leading and `tail` trailing entries.
    let trimmed = |f: &mut dyn FnMut(&[c_ulong]) -> bool| {
        (0..=head.min(kernel.len())).any(|h| (0..=tail.min(kernel.len() - h)).any(|t| f(&kernel[h..kernel.len() - t])))
    };
    let prefix = |k: &[c_ulong]| {
        graft
            .len()
            .checked_sub(k.len())
            .is_some_and(|extra| graft[extra..].iter().zip(k).all(|(g, &k)| g.0 == k as u64))
    };
    if trimmed(&mut |k| prefix(k)) {
        return true;
    }
    let Some(text) = sched.get() else { return false };
    let kept = |a: &u64| !text.iter().any(|&(lo, hi)| (lo..hi).contains(a));
    trimmed(&mut |k| graft.iter().map(|a| a.0).filter(kept).eq(k.iter().map(|&k| k as u64)))
}

/// `__sched_text_start..__sched_text_end` and
/// `__lock_text_start..__lock_text_end` (kernel/sched/core.c
/// `in_sched_functions()`, kernel/locking/spinlock.c `in_lock_functions()`).
#[derive(Default)]
struct SchedText {
    tried: bool,
    text: Option<[(u64, u64); 2]>,
}

impl SchedText {
    fn get(&mut self) -> Option<[(u64, u64); 2]> {
        if !self.tried {
            self.tried = true;
            self.text = Self::read();
        }
        self.text
    }

    fn read() -> Option<[(u64, u64); 2]> {
        const NAMES: [&CStr; 4] =
            [c"__sched_text_start", c"__sched_text_end", c"__lock_text_start", c"__lock_text_end"];
        let mut lookups = NAMES.map(|n| Lookup::new(n.to_bytes(), 0));
        let mut a = [0u64; 4];
        let r = crate::engine::ksyms::scan(None, &mut lookups, &mut a);
        if r.is_err() || lookups.iter().any(|l| l.count != 1) {
            pr_err!("selftest tasks: no __sched/__lock text bounds in /proc/kallsyms ({})\n", r.err().unwrap_or(0));
            return None;
        }
        Some([(a[0], a[1]), (a[2], a[3])])
    }
}

/// The non-zero refusal counts, ` <reason>=<n>` each.
struct Reasons<'a>(&'a [u32; REASONS.len()]);

impl core::fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (name, n) in REASONS.iter().zip(self.0).filter(|(_, &n)| n > 0) {
            write!(f, " {name}={n}")?;
        }
        Ok(())
    }
}

/// One line: the refusals by reason, the non-zero ones.
fn log_reasons(why: &[u32; REASONS.len()]) {
    pr_info!("selftest tasks refused:{}\n", kenv::Show(Reasons(why)));
}

#[inline(never)] // Its symbol buffer lives only while it runs.
fn log_info(who: &str, frames: impl Iterator<Item = u64>) {
    let mut sym = [0u8; KSYM_BUF];
    for (i, a) in frames.enumerate() {
        pr_info!("selftest tasks   {}[{}] {:#x} {}\n", who, i, a, kenv::describe(a, &mut sym));
    }
}

#[inline(never)] // Its symbol buffer lives only while it runs.
fn log(who: &str, frames: impl Iterator<Item = u64>) {
    let mut sym = [0u8; KSYM_BUF];
    for (i, a) in frames.enumerate() {
        pr_err!("selftest tasks   {}[{}] {:#x} {}\n", who, i, a, kenv::describe(a, &mut sym));
    }
}

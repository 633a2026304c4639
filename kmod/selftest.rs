// SPDX-License-Identifier: GPL-2.0
//! The self-test graft.ko runs at init: the native backend, compiled from the
//! same sources the host tests exercise, against the running kernel.
//!
//! * **Sites**: the first bytes of a few exported, ftrace-traceable
//!   functions, read with nofault copies, must be recognised by
//!   [`EntrySite::analyze_site`]: `graft: selftest site <name> <form> <state>`.
//! * **Unwind**: [`Unwinder::unwind_reliable`] walks this very call stack
//!   (the task running `insmod`, which is safe to walk: it is us), and the
//!   kernel's `stack_trace_save()`, called from the same function, must
//!   report the same return addresses: `graft: selftest unwind frames=<n>
//!   agree=<m>`, with every frame listed when they disagree.
//!
//! The last line is `graft: selftest pass` or `graft: selftest fail <why>`.
//! Nothing here can stop the module from loading, and every read of kernel
//! memory is a nofault copy.

use crate::arch::Native;
use crate::kenv::{self, KallsymsText, NofaultStack, Show, KSYM_BUF};
use core::fmt;
use graft_core::{Code, EntrySite, Site, SiteError, SiteState, TextAddr, Unreliable};
use kernel::{bindings, ffi::c_ulong, prelude::*};

/// Bytes read at each function's entry: every backend's site lies in them.
const SITE_WINDOW: usize = 32;
/// Room for either trace; the stack under a module's init is far shallower.
const MAX_FRAMES: usize = 32;

/// A function's name and symbol address.
macro_rules! probe {
    ($f:ident) => {
        (stringify!($f), (bindings::$f as *const ()).addr() as u64)
    };
}

/// The functions whose entry sites are analysed: exported (so the module may
/// take their address) and traceable on every arch graft supports
/// (`graft-inspect sites vmlinux` lists their sites).
fn probes() -> [(&'static str, u64); 6] {
    [
        probe!(_printk),
        probe!(seq_printf),
        probe!(kfree),
        probe!(msleep),
        probe!(schedule_timeout),
        probe!(copy_from_kernel_nofault),
    ]
}

/// Run every self-test and log the verdict.
pub(crate) fn run() {
    let sites = sites();
    let unwind = unwind();
    match (sites, unwind) {
        (Ok(()), Ok(())) => pr_info!("selftest pass\n"),
        (Err(why), _) | (Ok(()), Err(why)) => pr_err!("selftest fail {}\n", why),
    }
}

/// Why a self-test failed, as the one-line verdict prints it.
enum Failure {
    /// A function's entry could not be read.
    SiteUnreadable(&'static str),
    /// A function's entry is no site the backend knows.
    SiteUnrecognised(&'static str),
    /// The backend refused the stack.
    Unreliable(Unreliable),
    /// Backend and kernel saw different stacks.
    Disagree { frames: usize, agree: usize },
}

impl kernel::fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::SiteUnreadable(name) => write!(f, "site {name} unreadable"),
            Failure::SiteUnrecognised(name) => write!(f, "site {name} unrecognised"),
            Failure::Unreliable(why) => write!(f, "unwind unreliable: {why}"),
            Failure::Disagree { frames, agree } => {
                write!(f, "unwind disagrees with stack_trace_save ({agree}/{frames})")
            }
        }
    }
}

/// A [`SiteState`] as the log shows it.
struct State(SiteState);

impl kernel::fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SiteState::Disabled => f.write_str("disabled"),
            SiteState::Enabled { target } => write!(f, "enabled->{target}"),
            SiteState::Unconverted { target } => write!(f, "unconverted->{target}"),
        }
    }
}

fn sites() -> Result<(), Failure> {
    let mut verdict = Ok(());
    for (name, func) in probes() {
        match site(func) {
            Ok(site) => pr_info!("selftest site {} {} {}\n", name, site.form, State(site.state)),
            Err(SiteProbe::Unrecognised(why, bytes)) => {
                pr_err!(
                    "selftest site {} {:#x} unrecognised ({}), entry bytes {:02x?}\n",
                    name,
                    func,
                    Show(why),
                    bytes
                );
                verdict = verdict.and(Err(Failure::SiteUnrecognised(name)));
            }
            Err(SiteProbe::Unreadable) => {
                pr_err!("selftest site {} {:#x} unreadable\n", name, func);
                verdict = verdict.and(Err(Failure::SiteUnreadable(name)));
            }
        }
    }
    verdict
}

/// Why a function's site was not found.
enum SiteProbe {
    /// Its entry could not be read.
    Unreadable,
    /// The backend's refusal, and the bytes it saw.
    Unrecognised(SiteError, [u8; SITE_WINDOW]),
}

/// The site of the function whose symbol is at `func`.
fn site(func: u64) -> Result<Site, SiteProbe> {
    let mut bytes = [0u8; SITE_WINDOW];
    kenv::read_kernel(func, &mut bytes).map_err(|_| SiteProbe::Unreadable)?;
    let code = Code { start: TextAddr(func), bytes: &bytes };
    Native::analyze_site(code, TextAddr(func), None).map_err(|why| SiteProbe::Unrecognised(why, bytes))
}

/// What [`walk_here`] saw.
struct Traces {
    /// The backend's walk: its count, or why it refused.
    graft: Result<usize, Unreliable>,
    graft_pcs: [TextAddr; MAX_FRAMES],
    /// `stack_trace_save()`'s entries.
    kernel: [c_ulong; MAX_FRAMES],
    kernel_len: usize,
}

fn unwind() -> Result<(), Failure> {
    let t = walk_here();
    let kernel = &t.kernel[..t.kernel_len];
    let n = match t.graft {
        Ok(n) => n,
        Err(why) => {
            pr_err!("selftest unwind frames=0 agree=0 ({})\n", Show(why));
            log_frames("kernel", kernel.iter().map(|&k| k as u64), 0, "");
            return Err(Failure::Unreliable(why));
        }
    };
    let graft = &t.graft_pcs[..n];
    let (agree, kernel_end) = agreement(graft, kernel);
    pr_info!("selftest unwind frames={} agree={}\n", n, agree);
    if agree != n {
        log_frames("graft", graft.iter().map(|a| a.0), 0, "");
        log_frames("kernel", kernel.iter().map(|&k| k as u64), 0, "");
        return Err(Failure::Disagree { frames: n, agree });
    }
    // stack_trace_save() is not the reliable walk: it may go on past the
    // final frame (powerpc reports the LR slot of the syscall's own frame).
    log_frames("kernel", kernel.iter().map(|&k| k as u64).skip(kernel_end), kernel_end, " (past the final frame)");
    Ok(())
}

/// How many of the backend's frames the kernel's trace confirms, and where
/// in the kernel's trace the confirmed frames end.
///
/// `graft[0]` is the pc captured in [`walk_here`]; the kernel's trace, taken
/// deeper (inside `stack_trace_save()`), holds the return address into
/// `walk_here` instead.  So `graft[1..]` must appear in `kernel`, in order and
/// contiguously (from wherever `graft[1]` is), and `graft[0]` counts when the
/// kernel's entry just before them lies in the same function.
#[inline(never)] // Its symbol buffers live only while it runs: kernel stacks are small.
fn agreement(graft: &[TextAddr], kernel: &[c_ulong]) -> (usize, usize) {
    let Some((first, rest)) = graft.split_first() else { return (0, 0) };
    // Nothing but the pc leaves no return address to compare.
    let Some(ret) = rest.first() else { return (0, 0) };
    let Some(p) = kernel.iter().position(|&k| k as u64 == ret.0) else { return (0, 0) };
    let matched = rest.iter().zip(&kernel[p..]).take_while(|&(g, &k)| g.0 == k as u64).count();
    let same_function = p.checked_sub(1).is_some_and(|i| {
        let (mut a, mut b) = ([0u8; KSYM_BUF], [0u8; KSYM_BUF]);
        let (x, y) = (kenv::symbol_name(first.0, &mut a), kenv::symbol_name(kernel[i] as u64, &mut b));
        x.is_some() && x == y
    });
    (matched + usize::from(same_function), p + matched)
}

/// Log `frames`, numbered from `first`, with their symbols.
#[inline(never)] // Its symbol buffer lives only while it runs: kernel stacks are small.
fn log_frames(who: &str, frames: impl Iterator<Item = u64>, first: usize, note: &str) {
    let mut buf = [0u8; KSYM_BUF];
    for (i, a) in frames.enumerate() {
        pr_info!("selftest unwind {}[{}] {:#x} {}{}\n", who, first + i, a, kenv::describe(a, &mut buf), note);
    }
}

/// Walk the current stack from here with the backend, then let the kernel
/// walk it from the same function.  Never inlined: the walk starts in this
/// function's own frame, which its callers' frames follow.
#[inline(never)]
fn walk_here() -> Traces {
    let regs = crate::arch::native::frame_regs();
    let bounds = kenv::current_stack::<Native>();
    let mut t = Traces { graft: Ok(0), graft_pcs: [TextAddr(0); MAX_FRAMES], kernel: [0; MAX_FRAMES], kernel_len: 0 };
    t.graft = crate::arch::unwinder().unwind_reliable(&regs, bounds, &NofaultStack, &KallsymsText, &mut t.graft_pcs);
    if t.graft.is_err() {
        pr_info!(
            "selftest unwind regs pc={:#x} sp={:#x} fp={:#x} stack=[{:#x}, {:#x}) final={:#x}\n",
            regs.pc,
            regs.sp,
            regs.fp,
            bounds.lo.0,
            bounds.hi.0,
            bounds.final_frame.0
        );
        dump_stack_words(regs.sp, bounds.hi.0);
    }
    // SAFETY: `t.kernel` holds MAX_FRAMES entries, the size passed in.
    let n = unsafe { bindings::stack_trace_save(t.kernel.as_mut_ptr(), MAX_FRAMES as u32, 0) };
    t.kernel_len = usize::try_from(n).unwrap_or(0).min(MAX_FRAMES);
    t
}

/// The words of `[sp, hi)`, four per line, read through nofault copies: what
/// the backend refused, for whoever fixes it.  Runs of all-zero lines are
/// left out.
fn dump_stack_words(sp: u64, hi: u64) {
    let mut a = sp & !7;
    let mut zeros = false;
    while a < hi {
        let mut w = [[0u8; 8]; 4];
        for (i, word) in w.iter_mut().enumerate() {
            // An unreadable word prints as zero; the whole range is our stack.
            let _ = kenv::read_kernel(a + 8 * i as u64, word);
        }
        let w = w.map(u64::from_ne_bytes);
        let zero = w == [0; 4];
        if !(zero && zeros) {
            pr_info!(
                "selftest stack {:#x}: {:016x} {:016x} {:016x} {:016x}{}\n",
                a,
                w[0],
                w[1],
                w[2],
                w[3],
                if zero { " (zero up to the next line shown)" } else { "" }
            );
        }
        zeros = zero;
        a += 32;
    }
}

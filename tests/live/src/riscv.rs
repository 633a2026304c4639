//! riscv64 pieces of the qemu-user test.
//!
//! The old function starts as a Linux 7.3 function does after
//! `ftrace_init_nop()`: `auipc t0, hi; nop` (the nop is the site), then
//! `li a0, value; ret`.  Enabling stores what `ftrace_make_call()` stores,
//! `jalr t0, lo(t0)`, with the `auipc` written (once, as `ftrace_init_nop()`
//! writes it for `ftrace_caller`) for the new function: the call links in
//! t0, `ra` still holds the caller's return address, so the new function's
//! `ret` returns to the caller, as after ftrace's redirect.  The sync is
//! `flush_icache_all()`'s from user space: `fence.i` here and
//! `riscv_flush_icache()` for every thread.

use crate::{returns_into, LiveArch, OwnStack, OwnText, Page, UnwindReport, NEW_OFF};
use graft_core::{
    BranchKind, Code, EntrySite, InsnBuf, SavedRegs, SiteState, StackAddr, StackBounds, SyncKind, TextAddr, TextInfo,
    TextKind, Unreliable, Unwinder,
};
use graft_riscv::codec::{self, li, A0, NOP, RET};
use graft_riscv::native::frame_regs;
use std::hint::black_box;

/// The backend under test.
pub use graft_riscv::Riscv as Native;

/// `__NR_riscv_flush_icache` (scripts/syscall.tbl), not in the libc crate.
const SYS_RISCV_FLUSH_ICACHE: libc::c_long = 259;

fn le(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn return_value(value: u32) -> [u32; 2] {
    let v = i32::try_from(value).ok().filter(|v| *v < 2048).expect("test values fit li");
    [li(A0, v), RET]
}

/// `auipc t0` + `jalr t0` from the old function (at 0) to the new one.
fn call_pair() -> [u32; 2] {
    codec::pair(BranchKind::Call, TextAddr(0), TextAddr(NEW_OFF as u64)).expect("in reach")
}

impl LiveArch for Native {
    fn old_function(value: u32) -> (Vec<u8>, usize) {
        let mut words = vec![call_pair()[0], NOP];
        words.extend(return_value(value));
        let code = le(&words);
        // The backend itself must see a disabled site here ...
        let at = TextAddr(0x1000);
        let site = Native::analyze_site(Code { start: at, bytes: &code }, at, None).expect("old function has a site");
        assert_eq!((site.addr.0, site.state, site.form), (0x1004, SiteState::Disabled, "pfe"));
        // ... and an enabled one calling the new function once the jalr is in.
        let mut on = code.clone();
        on[4..8].copy_from_slice(&call_pair()[1].to_le_bytes());
        let s = Native::analyze_site(Code { start: at, bytes: &on }, at, None).unwrap();
        assert_eq!(s.state, SiteState::Enabled { target: TextAddr(0x1000 + NEW_OFF as u64) });
        (code, 4)
    }

    fn new_function(value: u32) -> Vec<u8> {
        le(&return_value(value))
    }

    fn site_branch(site: TextAddr, target: TextAddr) -> InsnBuf {
        let pair = codec::pair(BranchKind::Call, TextAddr(site.0 - 4), target).expect("in reach");
        assert_eq!(pair[0], call_pair()[0], "the auipc the old function holds");
        codec::insn(&[pair[1]])
    }

    fn native_sync(kind: SyncKind, page: &Page) {
        assert_eq!(kind, SyncKind::SyncCores, "the riscv plan only asks for fence.i everywhere");
        graft_riscv::native::fence_i();
        let (start, len) = page.range();
        // SAFETY: riscv_flush_icache(start, end, flags) takes no pointers it
        // dereferences; flags 0 = every thread of the process.
        let r = unsafe { libc::syscall(SYS_RISCV_FLUSH_ICACHE, start, start + len as u64, 0) };
        assert_eq!(r, 0, "riscv_flush_icache");
    }
}

/// The calling thread's stack `[lo, hi)` from pthread.
fn thread_stack() -> (u64, u64) {
    // SAFETY: plain pthread queries on the calling thread with a local attr.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
        let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
        assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
        libc::pthread_attr_destroy(&mut attr);
        (addr as u64, addr as u64 + size as u64)
    }
}

/// What the leaf saw: its registers, and what the unwinder made of them.
struct Walk {
    regs: SavedRegs,
    frames: Vec<TextAddr>,
    refusals: Vec<(&'static str, Result<usize, Unreliable>)>,
}

/// Return addresses into `mid` are the exception entry here: a walk that
/// meets one refuses it, except at a kernel task's final frame.
struct MidIsEntry;
impl TextInfo for MidIsEntry {
    fn kind(&self, a: TextAddr) -> TextKind {
        if returns_into(a, mid as *const () as usize, MAX_LEN) {
            TextKind::ExceptionEntry
        } else {
            OwnText.kind(a)
        }
    }
}

/// The thread's stack with the record below `fp` holding the saved `s0`
/// in both words, as GCC lays out a function that calls nothing.
struct LeafView {
    stack: OwnStack,
    fp: u64,
}
impl graft_core::StackReader for LeafView {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), graft_core::MemError> {
        let at = if addr.0 == self.fp - 8 { StackAddr(self.fp - 16) } else { addr };
        self.stack.read(at, buf)
    }
}

/// Walk from the leaf up to `root_fp` and try a few corruptions of the
/// bounds, which must be refused.
#[inline(never)]
fn leaf(root_fp: u64) -> Walk {
    let regs = frame_regs();
    let (_, top) = thread_stack();
    // Below the leaf's sp nothing belongs to the chain; keep reads above it.
    let lo = regs.sp;
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(top), final_frame: StackAddr(root_fp) };
    let mem = OwnStack { lo, hi: top };
    let mut out = vec![TextAddr(0); 64];
    let n = Native::unwind_reliable(&regs, bounds, &mem, &OwnText, &mut out).expect("own stack is reliable");
    out.truncate(n);
    let mut refusals = Vec::new();
    let mut scratch = vec![TextAddr(0); 64];
    // The root frame is not where the bounds say the walk ends.
    let b = StackBounds { final_frame: StackAddr(root_fp + 8), ..bounds };
    refusals.push(("final frame", Native::unwind_reliable(&regs, b, &mem, &OwnText, &mut scratch)));
    // The stack is cut inside the root's record: the chain leaves the bounds.
    let b = StackBounds { hi: StackAddr(root_fp - 8), ..bounds };
    let cut = OwnStack { lo, hi: root_fp - 8 };
    refusals.push(("cut stack", Native::unwind_reliable(&regs, b, &cut, &OwnText, &mut scratch)));
    // One frame less room than the chain needs.
    refusals.push(("short buffer", Native::unwind_reliable(&regs, bounds, &mem, &OwnText, &mut scratch[..n - 1])));
    // A pc outside text.
    let r = SavedRegs { pc: top, ..regs };
    refusals.push(("pc not text", Native::unwind_reliable(&r, bounds, &mem, &OwnText, &mut scratch)));
    // A return into exception entry code mid-chain.
    refusals.push(("exception entry", Native::unwind_reliable(&regs, bounds, &mem, &MidIsEntry, &mut scratch)));
    // The leaf's record read as a GCC leaf's: its saved s0 where ra would be.
    let gcc_leaf = LeafView { stack: mem, fp: regs.fp };
    refusals.push(("leaf frame", Native::unwind_reliable(&regs, bounds, &gcc_leaf, &OwnText, &mut scratch)));
    Walk { regs, frames: out, refusals }
}

#[inline(never)]
fn recurse(depth: u32, root_fp: u64) -> Walk {
    let w = if depth == 0 { mid(root_fp) } else { recurse(black_box(depth - 1), root_fp) };
    // Work after the call keeps it from being a tail call.
    black_box(w)
}

#[inline(never)]
fn mid(root_fp: u64) -> Walk {
    black_box(leaf(black_box(root_fp)))
}

/// The chain's root: its own frame is the walk's final frame.
#[inline(never)]
fn root(depth: u32) -> (Walk, u64) {
    let me = frame_regs();
    let w = recurse(black_box(depth), me.fp);
    (black_box(w), me.fp)
}

/// Walk several threads' own stacks, each a different depth, and check the
/// unwinder returns exactly the call chain.
pub fn unwind_test() -> UnwindReport {
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            std::thread::spawn(move || {
                let mut report = UnwindReport::default();
                for round in 0..25u32 {
                    let depth = (t * 7 + round) % 20;
                    let (w, _root_fp) = root(depth);
                    check(&w, depth, &mut report);
                }
                report
            })
        })
        .collect();
    let mut total = UnwindReport::default();
    for h in threads {
        let r = h.join().expect("unwind thread panicked");
        total.frames += r.frames;
        total.assertions += r.assertions;
    }
    total
}

/// Function size bound for "returns into": these functions are small.
const MAX_LEN: u64 = 0x400;

fn check(w: &Walk, depth: u32, report: &mut UnwindReport) {
    let f = &w.frames;
    // leaf pc, return into mid, depth+1 returns into recurse, return into
    // root, and the root's own return (its record is the final frame's).
    assert_eq!(f.len(), depth as usize + 5, "frames {f:x?}");
    let within = |a: TextAddr, func: usize| a.0 >= func as u64 && a.0 < func as u64 + MAX_LEN;
    assert!(within(f[0], leaf as *const () as usize), "pc {:#x} not in leaf", f[0].0);
    assert_eq!(f[0].0, w.regs.pc);
    assert!(returns_into(f[1], mid as *const () as usize, MAX_LEN), "{:#x} not into mid", f[1].0);
    let n = f.len();
    for (i, ret) in f[2..n - 2].iter().enumerate() {
        assert!(
            returns_into(*ret, recurse as *const () as usize, MAX_LEN),
            "frame {}: {:#x} not into recurse",
            i + 2,
            ret.0
        );
    }
    assert!(returns_into(f[n - 2], root as *const () as usize, MAX_LEN), "{:#x} not into root", f[n - 2].0);
    assert!(!returns_into(f[n - 1], root as *const () as usize, MAX_LEN), "root's caller is not root");
    // recurse(0) was entered from its call of mid(); all deeper recursion
    // frames return to the recursive call site, a different one.
    let recursive = &f[3..n - 2];
    assert!(recursive.windows(2).all(|p| p[0] == p[1]), "recursive returns differ: {recursive:x?}");
    assert!(recursive.iter().all(|r| *r != f[2]), "mid's and recurse's call sites coincide");
    report.assertions += 7 + f.len() as u64;
    report.frames += f.len() as u64;
    for (what, r) in &w.refusals {
        let ok = matches!(
            (*what, r),
            ("final frame", Err(Unreliable::MissingFinalFrame(_)))
                | ("cut stack", Err(Unreliable::OutOfBounds(_)))
                | ("short buffer", Err(Unreliable::TooManyFrames))
                | ("pc not text", Err(Unreliable::NotText(_)))
                | ("exception entry", Err(Unreliable::ExceptionFrame(_)))
                | ("leaf frame", Err(Unreliable::LeafFrame(_)))
        );
        assert!(ok, "{what}: {r:?}");
        report.assertions += 1;
    }
}

//! arm64 pieces of the qemu-user test.
//!
//! The old function starts as a Linux 7.3 function does after
//! `ftrace_init_nop()`: `BTI C; MOV X9, X30; NOP` (the NOP is the site), then
//! `MOV W0, #value; RET`.  Once the site is `B new`, x30 still holds the
//! caller's return address (the MOV only copied it to x9), so the new
//! function's `RET` returns to the caller, as after ftrace's redirect.  The
//! page is mapped without `PROT_BTI`, so `BTI C` executes as a hint.

use crate::{returns_into, LiveArch, OwnStack, OwnText, Page, UnwindReport};
use graft_arm64::codec::{movz_w, BTI_C, MOV_X9_LR, NOP, RET};
use graft_arm64::native::{frame_regs, trampoline};
use graft_arm64::site::TRAMPOLINES;
use graft_core::{
    Code, DirectCaps, EntrySite, SavedRegs, Site, SiteState, StackAddr, StackBounds, SyncKind, TextAddr, Unreliable,
    Unwinder,
};
use std::hint::black_box;
use std::sync::atomic::Ordering;

/// The backend under test.
pub use graft_arm64::Arm64 as Native;

fn le(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn return_value(value: u32) -> [u32; 2] {
    let v = u16::try_from(value).expect("test values fit MOVZ");
    [movz_w(0, v), RET]
}

impl LiveArch for Native {
    fn old_function(value: u32) -> (Vec<u8>, usize) {
        let mut words = vec![BTI_C, MOV_X9_LR, NOP];
        words.extend(return_value(value));
        let code = le(&words);
        // The backend itself must see a disabled site here.
        let site = Native::analyze_site(Code { start: TextAddr(0x1000), bytes: &code }, TextAddr(0x1000), None)
            .expect("old function has an entry site");
        assert_eq!((site.addr.0, site.state, site.form), (0x1008, SiteState::Disabled, "pfe+bti"));
        (code, 8)
    }

    fn new_function(value: u32) -> Vec<u8> {
        le(&return_value(value))
    }

    fn native_sync(kind: SyncKind, page: &Page) {
        let SyncKind::CacheMaintenance { addr, len } = kind else {
            panic!("the arm64 plan only asks for cache maintenance, not {kind:?}");
        };
        assert!(page.contains(addr, len), "sync outside the page");
        // SAFETY: the range lies in the mapped test page (checked above).
        unsafe { graft_arm64::native::caches_clean_inval_pou(addr.0, addr.0 + u64::from(len)) };
    }

    /// A function whose site is the kernel's enabled site with a direct
    /// call on it: `MOV X9, X30`, then a branch-and-link into the
    /// trampoline (`BLR X17` from a literal stands in for the site's `BL`
    /// and for `ftrace_caller`'s `BR X17`: the trampoline sees the same
    /// `x9`, `x30` and arguments), then a `BRK`: a trampoline that did not
    /// restore `x30` returns the replacement into it and the test dies with
    /// SIGTRAP.  Each call must reach the replacement its trampoline
    /// loads, with the arguments intact, and return to the caller.
    fn trampoline_test() -> Option<(u64, u64)> {
        const LDR_X17_LIT: u32 = 0x5800_0000 | (((LIT - 8) as u32 / 4) << 5) | 17;
        const BLR_X17: u32 = 0xd63f_0000 | (17 << 5);
        const BRK_1: u32 = 0xd420_0000 | (1 << 5);
        const LIT: usize = 0x18;
        let (mut calls, mut assertions) = (0, 0);
        assert!(trampoline(TRAMPOLINES).is_none());
        let site = Site {
            func: TextAddr(0x1000),
            addr: TextAddr(0x1008),
            len: 4,
            state: SiteState::Enabled { target: TextAddr(0) },
            form: "pfe+bti",
        };
        for (i, caps) in
            [(0, DirectCaps::CALLS), (1, DirectCaps::CALLS | DirectCaps::BTI), (TRAMPOLINES - 1, DirectCaps::CALLS)]
        {
            let t = trampoline(i).expect("a trampoline");
            let new: extern "C" fn(u64, u64) -> u64 = if i % 2 == 0 { replacement_a } else { replacement_b };
            let d = Native::direct(&site, TextAddr(new as *const () as usize as u64), caps, Some(t.entry))
                .expect("a direct call");
            assert!(d.tramp && d.addr == d.enters.0);
            assert_eq!(d.enters.0, t.entry.0 + if caps.contains(DirectCaps::BTI) { 0 } else { 4 });
            t.target.store(new as *const () as usize as u64, Ordering::Release);
            let mut code = le(&[BTI_C, MOV_X9_LR, LDR_X17_LIT, BLR_X17, BRK_1, NOP]);
            code.extend(d.addr.to_le_bytes());
            let page = crate::Page::new(0x1000, &[(0, &code)]);
            let (base, len) = page.range();
            // SAFETY: the page is mapped.
            unsafe { graft_arm64::native::caches_clean_inval_pou(base, base + len as u64) };
            // SAFETY: the code above is a function of the C ABI taking two
            // integers and returning one (through the trampoline).
            let f: extern "C" fn(u64, u64) -> u64 = unsafe { std::mem::transmute(base as usize) };
            for a in 0..100u64 {
                assert_eq!(f(a, !a), new(a, !a));
                calls += 1;
                assertions += 1;
            }
            t.target.store(0, Ordering::Release);
            assertions += 3;
        }
        Some((calls, assertions))
    }
}

#[inline(never)]
extern "C" fn replacement_a(a: u64, b: u64) -> u64 {
    black_box(a.wrapping_mul(3) ^ b)
}

#[inline(never)]
extern "C" fn replacement_b(a: u64, b: u64) -> u64 {
    black_box(a.wrapping_add(b.rotate_left(7)))
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
    // The stack is cut below the root: the chain leaves the bounds.
    let b = StackBounds { hi: StackAddr(root_fp), ..bounds };
    let cut = OwnStack { lo, hi: root_fp };
    refusals.push(("cut stack", Native::unwind_reliable(&regs, b, &cut, &OwnText, &mut scratch)));
    // One frame less room than the chain needs.
    refusals.push(("short buffer", Native::unwind_reliable(&regs, bounds, &mem, &OwnText, &mut scratch[..n - 1])));
    // A pc outside text.
    let r = SavedRegs { pc: top, ..regs };
    refusals.push(("pc not text", Native::unwind_reliable(&r, bounds, &mem, &OwnText, &mut scratch)));
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

/// The chain's root: its own frame record is the walk's final frame.
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
    // leaf pc, return into mid, depth+1 returns into recurse, return into root.
    assert_eq!(f.len(), depth as usize + 4, "frames {f:x?}");
    let within = |a: TextAddr, func: usize| a.0 >= func as u64 && a.0 < func as u64 + MAX_LEN;
    assert!(within(f[0], leaf as *const () as usize), "pc {:#x} not in leaf", f[0].0);
    assert_eq!(f[0].0, w.regs.pc);
    assert!(returns_into(f[1], mid as *const () as usize, MAX_LEN), "{:#x} not into mid", f[1].0);
    for (i, ret) in f[2..f.len() - 1].iter().enumerate() {
        assert!(
            returns_into(*ret, recurse as *const () as usize, MAX_LEN),
            "frame {}: {:#x} not into recurse",
            i + 2,
            ret.0
        );
    }
    assert!(returns_into(f[f.len() - 1], root as *const () as usize, MAX_LEN), "{:#x} not into root", f[f.len() - 1].0);
    // recurse(0) was entered from its call of mid(); all deeper recursion
    // frames return to the recursive call site, a different one.
    let recursive = &f[3..f.len() - 1];
    assert!(recursive.windows(2).all(|p| p[0] == p[1]), "recursive returns differ: {recursive:x?}");
    assert!(recursive.iter().all(|r| *r != f[2]), "mid's and recurse's call sites coincide");
    report.assertions += 6 + f.len() as u64;
    report.frames += f.len() as u64;
    for (what, r) in &w.refusals {
        let ok = matches!(
            (*what, r),
            ("final frame", Err(Unreliable::MissingFinalFrame(_)))
                | ("cut stack", Err(Unreliable::OutOfBounds(_)))
                | ("short buffer", Err(Unreliable::TooManyFrames))
                | ("pc not text", Err(Unreliable::NotText(_)))
        );
        assert!(ok, "{what}: {r:?}");
        report.assertions += 1;
    }
}

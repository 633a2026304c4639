//! powerpc (ppc64le, ELFv2) pieces of the qemu-user test.
//!
//! The old function has the -mprofile-kernel entry with its site disabled,
//! written for the local entry (it needs no TOC): `mflr r0; nop; li r3,..;
//! blr`.  Once the site is `b new`, LR still holds the caller's return address
//! (`mflr` only copied it to r0), so the new function's `blr` returns to the
//! caller, as after ftrace's redirect.  Rust calls both through a function
//! pointer (`mtctr r12; bctrl`), so r12 holds the entry as ELFv2 requires.

use crate::{returns_into, LiveArch, OwnStack, OwnText, Page, UnwindReport};
use graft_core::{
    Code, Codec, EntrySite, SavedRegs, SiteState, StackAddr, StackBounds, SyncKind, TextAddr, Unreliable, Unwinder,
};
use graft_powerpc::codec::op;
use graft_powerpc::native::frame_regs;
use std::hint::black_box;

/// The backend under test.
pub use graft_powerpc::Powerpc as Native;

/// `lis r3,value@h; ori r3,r3,value@l; blr`: return `value`.
fn return_value(value: u32) -> [u32; 3] {
    [0x3c60_0000 | (value >> 16), 0x6063_0000 | (value & 0xffff), op::BLR]
}

fn le(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

impl LiveArch for Native {
    fn old_function(value: u32) -> (Vec<u8>, usize) {
        let nop = u32::from_le_bytes(Native::encode_nop().as_slice().try_into().unwrap());
        let mut words = vec![op::MFLR_R0, nop];
        words.extend(return_value(value));
        let code = le(&words);
        // The backend itself must see a disabled -mprofile-kernel site here.
        let site = Native::analyze_site(Code { start: TextAddr(0x1000), bytes: &code }, TextAddr(0x1000), None)
            .expect("old function has an entry site");
        assert_eq!((site.addr.0, site.state, site.form), (0x1004, SiteState::Disabled, "mprofile"));
        (code, 4)
    }

    fn new_function(value: u32) -> Vec<u8> {
        le(&return_value(value))
    }

    fn native_sync(kind: SyncKind, page: &Page) {
        let SyncKind::CacheMaintenance { addr, len } = kind else {
            panic!("the powerpc plan only asks for cache maintenance, not {kind:?}");
        };
        assert!(page.contains(addr, len), "sync outside the page");
        // SAFETY: the range lies in the mapped test page (checked above).
        unsafe { graft_powerpc::native::sync_icache(addr.0 as usize, len as usize) };
    }
}

/// The calling thread's stack `[lo, hi)`.
fn thread_stack() -> (u64, u64) {
    // SAFETY: pthread_getattr_np fills the zeroed attr for the calling thread,
    // which is destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
        let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
        assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
        libc::pthread_attr_destroy(&mut attr);
        (addr as u64, addr as u64 + size as u64)
    }
}

/// What one walk produced: the chain, and the refusals of two broken walks.
struct Walk {
    chain: Vec<TextAddr>,
    wrong_final: Result<usize, Unreliable>,
    short_buffer: Result<usize, Unreliable>,
}

#[inline(never)]
fn chain_leaf(final_frame: u64) -> Walk {
    let SavedRegs { pc, sp, .. } = frame_regs();
    let (lo, hi) = thread_stack();
    assert!(lo <= sp && sp < final_frame && final_frame < hi, "frames on the thread's stack");
    let regs = SavedRegs { pc, sp, fp: 0, lr: 0 };
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(final_frame) };
    let mem = OwnStack { lo, hi };
    let mut out = [TextAddr(0); 16];
    let n = Native::unwind_reliable(&regs, bounds, &mem, &OwnText, &mut out).expect("own stack is reliable");
    // A final frame that is not on the chain (16 bytes above the real one)
    // must be refused, and so must a buffer one frame short.
    let off = StackBounds { final_frame: StackAddr(final_frame + 16), ..bounds };
    let mut scratch = [TextAddr(0); 16];
    let wrong_final = Native::unwind_reliable(&regs, off, &mem, &OwnText, &mut scratch);
    let short_buffer = Native::unwind_reliable(&regs, bounds, &mem, &OwnText, &mut scratch[..n - 1]);
    Walk { chain: out[..n].to_vec(), wrong_final, short_buffer }
}

// Each caller uses the result after the call, so none is a tail call.
#[inline(never)]
fn chain_c(final_frame: u64) -> Walk {
    let w = chain_leaf(black_box(final_frame));
    black_box(&w);
    w
}

#[inline(never)]
fn chain_b(final_frame: u64) -> Walk {
    let w = chain_c(black_box(final_frame));
    black_box(&w);
    w
}

#[inline(never)]
fn chain_a(final_frame: u64) -> Walk {
    let w = chain_b(black_box(final_frame));
    black_box(&w);
    w
}

/// The chain's root: its own frame is the final frame of the walk.
#[inline(never)]
fn chain_base() -> Walk {
    let sp = frame_regs().sp;
    let w = chain_a(black_box(sp));
    black_box(&w);
    w
}

/// Which of `funcs` (sorted by address) contains `ret`: the nearest start below it.
fn owner(ret: TextAddr, funcs: &[(usize, &'static str)]) -> &'static str {
    funcs.iter().filter(|(f, _)| (*f as u64) < ret.0).max_by_key(|(f, _)| *f).map_or("?", |(_, n)| n)
}

/// Walk the thread's own stack from inside `chain_base -> chain_a -> chain_b ->
/// chain_c -> chain_leaf`, on several threads, with the backend's unwinder.
pub fn unwind_test() -> UnwindReport {
    let funcs: Vec<(usize, &'static str)> = vec![
        (chain_leaf as *const () as usize, "chain_leaf"),
        (chain_c as *const () as usize, "chain_c"),
        (chain_b as *const () as usize, "chain_b"),
        (chain_a as *const () as usize, "chain_a"),
        (chain_base as *const () as usize, "chain_base"),
    ];
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let funcs = funcs.clone();
            std::thread::spawn(move || {
                let mut r = UnwindReport::default();
                for _ in 0..250 {
                    let w = chain_base();
                    // pc in the leaf, then the return addresses into c, b, a;
                    // the walk stops at chain_base's frame (the final frame).
                    let want = ["chain_leaf", "chain_c", "chain_b", "chain_a"];
                    let got: Vec<&str> = w.chain.iter().map(|&a| owner(a, &funcs)).collect();
                    assert_eq!(got, want, "chain {:x?}", w.chain);
                    for (a, name) in w.chain.iter().zip(want) {
                        let f = funcs.iter().find(|(_, n)| *n == name).unwrap().0;
                        assert!(returns_into(*a, f, 0x1000), "{a:?} not in {name}");
                    }
                    assert!(
                        matches!(w.wrong_final, Err(Unreliable::MissingFinalFrame(_))),
                        "wrong final frame accepted: {:?}",
                        w.wrong_final
                    );
                    assert_eq!(w.short_buffer, Err(Unreliable::TooManyFrames));
                    r.frames += w.chain.len() as u64;
                    r.assertions += 2 + w.chain.len() as u64 + 2;
                }
                r
            })
        })
        .collect();
    let mut total = UnwindReport::default();
    for t in threads {
        let r = t.join().expect("unwind thread panicked");
        total.frames += r.frames;
        total.assertions += r.assertions;
    }
    total
}

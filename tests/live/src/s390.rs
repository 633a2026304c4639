//! s390x under `qemu-s390x-static`: the backend's plans patch a live
//! `brcl 0,0` site, and its back-chain unwinder walks the threads' own
//! stacks.
//!
//! User-space Rust code uses the ELF ABI's standard frame (back chain at +0,
//! r14 at +112); the kernel's is `-mpacked-stack` (back chain at +152, r14
//! at +136), which rustc only offers for a whole build (`-Zpacked-stack`).
//! So the kernel layout is exercised by a chain of functions written in
//! assembly exactly as `gcc -mpacked-stack -mbackchain` frames them, with a
//! root whose back chain is zero like the kernel's final frame; that walk
//! goes through `Unwinder::unwind_reliable`, unchanged.  A chain of Rust
//! functions then checks the same walk over `FrameLayout::STANDARD`.

use crate::{LiveArch, OwnStack, OwnText, Page, UnwindReport};
use graft_core::{
    Codec, SavedRegs, StackAddr, StackBounds, SyncKind, TextAddr, TextInfo, TextKind, Unreliable, Unwinder,
};
use graft_s390::native::frame_regs;
use graft_s390::unwind::{walk, FrameLayout};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

/// The backend under test.
pub use graft_s390::S390 as Native;

/// `llilf %r2,value; br %r14`: return `value`, zero-extended as the ABI
/// wants a `u32`.
fn body(value: u32) -> Vec<u8> {
    let v = value.to_be_bytes();
    vec![0xc0, 0x2f, v[0], v[1], v[2], v[3], 0x07, 0xfe]
}

// membarrier(2) commands (include/uapi/linux/membarrier.h).
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_long = 1 << 6;
static SYNC_CORE: AtomicBool = AtomicBool::new(false);

fn membarrier(cmd: libc::c_long) -> libc::c_long {
    // SAFETY: membarrier takes no pointers; flags 0, cpu_id 0.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }
}

impl LiveArch for Native {
    fn old_function(value: u32) -> (Vec<u8>, usize) {
        // The disabled ftrace site the compiler emits, then the body.
        let mut f = Native::encode_nop().as_slice().to_vec();
        f.extend(body(value));
        (f, 0)
    }

    fn new_function(value: u32) -> Vec<u8> {
        body(value)
    }

    fn native_sync(kind: SyncKind, _text: &Page) {
        assert_eq!(kind, SyncKind::Serialize, "s390 plans only serialise");
        // text_poke_sync(): bcr_serialize() here, and on every other thread
        // of the process through membarrier's core serialisation.
        graft_s390::native::serialize();
        if SYNC_CORE.load(Ordering::Relaxed) {
            assert_eq!(membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE), 0, "membarrier sync-core");
        }
    }

    fn prepare(_page: &Page) {
        let ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) == 0;
        SYNC_CORE.store(ok, Ordering::Relaxed);
        if !ok {
            eprintln!("s390: membarrier sync-core unavailable; serialising this thread only");
        }
    }
}

// ---------------------------------------------------------------------------
// Kernel (packed) frames, in assembly

std::arch::global_asm!(
    // Each function saves r14/r15 in its caller's frame (gprs[8..9] of the
    // packed struct stack_frame, offsets 136/144), allocates its own frame
    // and stores the back chain at +152: gcc -mpacked-stack -mbackchain.
    // r2 carries the address where the root reports its frame.
    ".text",
    ".balign 8",
    ".globl graft_s390_packed_root",
    ".type graft_s390_packed_root,@function",
    "graft_s390_packed_root:",
    "    stmg %r14,%r15,136(%r15)",
    "    aghi %r15,-160",
    // The final frame: zero back chain, as entry.S and copy_thread() leave it.
    "    xc 152(8,%r15),152(%r15)",
    "    stg %r15,0(%r2)",
    "    brasl %r14,graft_s390_packed_a",
    "    lmg %r14,%r15,296(%r15)",
    "    br %r14",
    ".size graft_s390_packed_root, .-graft_s390_packed_root",
    ".balign 8",
    ".globl graft_s390_packed_a",
    ".type graft_s390_packed_a,@function",
    "graft_s390_packed_a:",
    "    stmg %r14,%r15,136(%r15)",
    "    lgr %r1,%r15",
    "    aghi %r15,-160",
    "    stg %r1,152(%r15)",
    "    brasl %r14,graft_s390_packed_b",
    "    lmg %r14,%r15,296(%r15)",
    "    br %r14",
    ".size graft_s390_packed_a, .-graft_s390_packed_a",
    ".balign 8",
    ".globl graft_s390_packed_b",
    ".type graft_s390_packed_b,@function",
    "graft_s390_packed_b:",
    "    stmg %r14,%r15,136(%r15)",
    "    lgr %r1,%r15",
    // A frame with 64 bytes of locals.
    "    aghi %r15,-224",
    "    stg %r1,152(%r15)",
    "    brasl %r14,graft_s390_packed_c",
    "    lmg %r14,%r15,360(%r15)",
    "    br %r14",
    ".size graft_s390_packed_b, .-graft_s390_packed_b",
    ".balign 8",
    ".globl graft_s390_packed_c",
    ".type graft_s390_packed_c,@function",
    "graft_s390_packed_c:",
    "    stmg %r14,%r15,136(%r15)",
    "    lgr %r1,%r15",
    "    aghi %r15,-160",
    "    stg %r1,152(%r15)",
    // graft_s390_packed_check(pc, sp, root_slot)
    "    lgr %r4,%r2",
    "    lgr %r3,%r15",
    "    larl %r2,.Lgraft_s390_packed_c_pc",
    ".Lgraft_s390_packed_c_pc:",
    "    brasl %r14,graft_s390_packed_check",
    "    lmg %r14,%r15,296(%r15)",
    "    br %r14",
    ".size graft_s390_packed_c, .-graft_s390_packed_c",
);

unsafe extern "C" {
    fn graft_s390_packed_root(root_slot: *mut u64) -> u64;
    fn graft_s390_packed_a();
    fn graft_s390_packed_b();
    fn graft_s390_packed_c();
}

/// The calling thread's stack `[lo, hi)`.
fn thread_stack() -> (u64, u64) {
    // SAFETY: plain pthread queries on the calling thread with a local attr,
    // destroyed after use; results checked.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
        let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
        assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
        libc::pthread_attr_destroy(&mut attr);
        (addr as u64, addr as u64 + size as u64)
    }
}

/// Which of `funcs` (start addresses) `ret` lies in: the closest start at or
/// below it.
fn owner(ret: TextAddr, funcs: &[usize]) -> Option<usize> {
    funcs.iter().copied().filter(|&f| f as u64 <= ret.0 && ret.0 - (f as u64) < 0x1000).max()
}

/// Text that calls one address a tracing trampoline.
struct TrampolineAt(u64);
impl TextInfo for TrampolineAt {
    fn kind(&self, a: TextAddr) -> TextKind {
        if a.0 == self.0 {
            TextKind::FtraceGraph
        } else {
            OwnText.kind(a)
        }
    }
}

/// Called by `graft_s390_packed_c` with its resume address and frame: walk
/// the packed chain up to the root's final frame and check it.  Returns the
/// number of assertions made.
#[unsafe(no_mangle)]
extern "C" fn graft_s390_packed_check(pc: u64, sp: u64, root_slot: *const u64) -> u64 {
    // SAFETY: the root stored its frame there before calling down the chain.
    let root = unsafe { root_slot.read_volatile() };
    let (lo, hi) = thread_stack();
    let mem = OwnStack { lo, hi };
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(root) };
    let regs = SavedRegs { pc, sp, fp: 0, lr: 0 };
    let mut out = [TextAddr(0); 16];
    let n = Native::unwind_reliable(&regs, bounds, &mem, &OwnText, &mut out).expect("packed chain is reliable");
    let funcs = [
        graft_s390_packed_root as *const () as usize,
        graft_s390_packed_a as *const () as usize,
        graft_s390_packed_b as *const () as usize,
        graft_s390_packed_c as *const () as usize,
    ];
    let want = [funcs[3], funcs[2], funcs[1], funcs[0]];
    assert_eq!(n, 4, "frames {:x?}", &out[..n]);
    for (ret, f) in out[..n].iter().zip(want) {
        assert_eq!(owner(*ret, &funcs), Some(f), "{ret:?} in the wrong function");
    }
    let mut asserts = 1 + n as u64;
    let ret_into_a = out[2].0;
    // The same stack, refused for each reason a real walk can meet.
    let mut r = |b: StackBounds, text: &dyn TextInfo, out: &mut [TextAddr], want: Unreliable| {
        assert_eq!(Native::unwind_reliable(&regs, b, &mem, text, out), Err(want));
        asserts += 1;
    };
    r(
        StackBounds { final_frame: StackAddr(root - 8), ..bounds },
        &OwnText,
        &mut out,
        Unreliable::MissingFinalFrame(root),
    );
    r(StackBounds { hi: StackAddr(root + 100), ..bounds }, &OwnText, &mut out, Unreliable::OutOfBounds(root));
    r(bounds, &OwnText, &mut out[..3], Unreliable::TooManyFrames);
    r(bounds, &TrampolineAt(ret_into_a), &mut out, Unreliable::Trampoline(ret_into_a));
    asserts
}

// ---------------------------------------------------------------------------
// User-space (standard) frames, in Rust

#[inline(never)]
fn std_root() -> u64 {
    let root = frame_regs().sp;
    black_box(std_a(black_box(root))) + 1
}

#[inline(never)]
fn std_a(root: u64) -> u64 {
    black_box(std_b(black_box(root))) + 1
}

#[inline(never)]
fn std_b(root: u64) -> u64 {
    black_box(std_c(black_box(root))) + 1
}

#[inline(never)]
fn std_c(root: u64) -> u64 {
    let SavedRegs { pc, sp, .. } = frame_regs();
    black_box(std_check(pc, sp, root)) + 1
}

#[inline(never)]
fn std_check(pc: u64, sp: u64, root: u64) -> u64 {
    let (lo, hi) = thread_stack();
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(root) };
    let regs = SavedRegs { pc, sp, fp: 0, lr: 0 };
    let mut out = [TextAddr(0); 16];
    let n = walk(&FrameLayout::STANDARD, &regs, bounds, &OwnStack { lo, hi }, &OwnText, &mut out)
        .expect("standard chain is reliable");
    let funcs = [
        std_root as *const () as usize,
        std_a as *const () as usize,
        std_b as *const () as usize,
        std_c as *const () as usize,
        std_check as *const () as usize,
    ];
    let want = [funcs[3], funcs[2], funcs[1], funcs[0]];
    assert_eq!(n, 4, "frames {:x?}", &out[..n]);
    for (ret, f) in out[..n].iter().zip(want) {
        assert_eq!(owner(*ret, &funcs), Some(f), "{ret:?} in the wrong function");
    }
    1 + n as u64
}

/// Walk both chains many times on several threads.
pub fn unwind_test() -> UnwindReport {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 200;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(|| {
                let mut r = UnwindReport::default();
                for _ in 0..ROUNDS {
                    let mut root = 0u64;
                    // SAFETY: the chain only writes `root` and its own frames.
                    let a = unsafe { graft_s390_packed_root(&mut root) };
                    assert!(root != 0 && a > 0);
                    r.frames += 4;
                    r.assertions += a + 1;
                    let a = std_root() - 4;
                    r.frames += 4;
                    r.assertions += a;
                }
                r
            })
        })
        .collect();
    handles.into_iter().fold(UnwindReport::default(), |mut acc, h| {
        let r = h.join().expect("unwind thread panicked");
        acc.frames += r.frames;
        acc.assertions += r.assertions;
        acc
    })
}

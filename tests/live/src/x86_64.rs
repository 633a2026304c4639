//! x86_64 under qemu-x86_64-static: the int3 protocol against threads that
//! execute the site, and the frame-pointer unwinder over the process's own
//! stacks (built with `-C force-frame-pointers=yes`).
//!
//! The kernel's `smp_text_poke_int3_handler()` is stood in for by a SIGTRAP
//! handler: a thread that hits the `int3` while a plan runs resumes as if it
//! had executed the plan's *new* instruction (the jump's target, or the byte
//! after the NOP5), as `int3_emulate_jmp()` does.  A core sync is `cpuid` on
//! this core plus `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)` for the others
//! when the emulator supports it; without it the protocol is still safe,
//! because no thread can execute a half-written instruction past the `int3`.

use crate::{returns_into, OwnStack, OwnText, Page, UnwindReport};
use graft_core::{
    Code, EntrySite, SavedRegs, SiteState, StackAddr, StackBounds, StackReader, SyncKind, TextAddr, Unreliable,
    Unwinder,
};
use graft_x86_64::native::{frame_regs, sync_core};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier, Once};

/// The backend under test.
pub use graft_x86_64::X86_64 as Native;

const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 6;

/// The site being patched and the new instruction's jump target (0: NOP5).
static SITE: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(0);
/// Threads that trapped on the int3 and were emulated.
static INT3_HITS: AtomicU64 = AtomicU64::new(0);
static MEMBARRIER: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

extern "C" fn on_sigtrap(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel (or qemu) hands a SA_SIGINFO handler a valid ucontext.
    let gregs = unsafe { &mut (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    let rip = gregs[libc::REG_RIP as usize] as u64;
    let site = SITE.load(Ordering::SeqCst);
    if site == 0 || rip.wrapping_sub(1) != site {
        // Not our int3: the kernel would not consume it either.
        // SAFETY: async-signal-safe.
        unsafe { libc::abort() };
    }
    let target = TARGET.load(Ordering::SeqCst);
    // NOP5 is emulated as `jmp +0`, a jump as a jump (int3_emulate_jmp()).
    gregs[libc::REG_RIP as usize] = if target == 0 { site + 5 } else { target } as i64;
    INT3_HITS.fetch_add(1, Ordering::Relaxed);
}

fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier takes two integer arguments and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }
}

fn page_bytes(page: &Page) -> &[u8] {
    let (base, len) = page.range();
    // SAFETY: the page is mapped readable for its whole length while `page` lives.
    unsafe { std::slice::from_raw_parts(base as *const u8, len) }
}

impl crate::LiveArch for Native {
    fn old_function(value: u32) -> (Vec<u8>, usize) {
        // endbr64; nopl 0x0(%rax,%rax,1); mov $value,%eax; ret
        let mut f = [&ENDBR64[..], &NOP5].concat();
        f.push(0xb8);
        f.extend_from_slice(&value.to_le_bytes());
        f.push(0xc3);
        (f, ENDBR64.len())
    }

    fn new_function(value: u32) -> Vec<u8> {
        let mut f = ENDBR64.to_vec();
        f.push(0xb8);
        f.extend_from_slice(&value.to_le_bytes());
        f.push(0xc3);
        f
    }

    fn native_sync(kind: SyncKind, _text: &Page) {
        match kind {
            SyncKind::SyncCores => {
                sync_core();
                if MEMBARRIER.load(Ordering::Relaxed) {
                    assert_eq!(membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE), 0, "membarrier sync-core");
                }
            }
            other => panic!("an x86_64 plan asked for {other:?}; it only syncs cores"),
        }
    }

    fn prepare(page: &Page) {
        INSTALL.call_once(|| {
            // SAFETY: a zeroed sigaction is valid; the handler only touches
            // atomics and the ucontext it is given.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_sigtrap as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                libc::sigemptyset(&mut sa.sa_mask);
                assert_eq!(libc::sigaction(libc::SIGTRAP, &sa, std::ptr::null_mut()), 0, "sigaction");
            }
            let q = membarrier(MEMBARRIER_CMD_QUERY);
            let ok = q > 0
                && q & libc::c_long::from(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) != 0
                && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) == 0;
            MEMBARRIER.store(ok, Ordering::Relaxed);
        });
        // The backend recognises the entry it is about to patch.
        let code = Code { start: page.addr(0), bytes: page_bytes(page) };
        let site = Native::analyze_site(code, page.addr(0), Some(page.addr(4))).expect("live site");
        assert_eq!((site.state, site.form), (SiteState::Disabled, "fentry+endbr"));
    }

    fn plan_starting(site: TextAddr, target: Option<TextAddr>) {
        SITE.store(site.0, Ordering::SeqCst);
        TARGET.store(target.map_or(0, |t| t.0), Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Unwinding

/// A generous bound on the size of each function of the chain.
const MAX_FN_LEN: u64 = 0x800;

#[derive(Default, Clone, Copy)]
struct Counts {
    frames: u64,
    assertions: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.frames += o.frames;
        self.assertions += o.assertions;
    }
}

/// What a walk found, for the checks that follow.
struct Chain {
    regs: SavedRegs,
    root_fp: u64,
    depth: usize,
}

fn fn_addr(f: usize) -> u64 {
    f as u64
}

/// The chain's functions, innermost first: what each return address must
/// return into.  `leaf` is where the walk starts.
fn expected(depth: usize, leaf: usize) -> Vec<usize> {
    let mut v = vec![leaf];
    v.extend(std::iter::repeat_n(recurse as fn(usize, u64, usize) -> Counts as usize, depth));
    v.extend([chain as fn(usize, u64, usize) -> Counts as usize, root as fn(usize, usize) -> Counts as usize]);
    v.push(thread_body as fn(usize, usize) -> Counts as usize);
    v
}

/// Each address lies in its expected function and in no chain function that
/// starts closer below it.
fn check_chain(got: &[TextAddr], want: &[usize]) -> u64 {
    assert_eq!(got.len(), want.len(), "frames {got:x?}");
    let mut starts: Vec<u64> = want.iter().map(|&f| fn_addr(f)).collect();
    starts.sort_unstable();
    starts.dedup();
    for (i, (a, &f)) in got.iter().zip(want).enumerate() {
        assert!(returns_into(*a, f, MAX_FN_LEN), "frame {i}: {:#x} not in function at {f:#x}", a.0);
        let owner = starts.iter().copied().filter(|&s| s < a.0).max().unwrap();
        assert_eq!(owner, fn_addr(f), "frame {i}: {:#x} lies in another chain function", a.0);
    }
    2 * want.len() as u64 + 1
}

/// Walk, check the chain, then check that corrupted copies are refused.
#[inline(never)]
fn walk_and_check(c: &Chain, leaf: usize) -> Counts {
    let bounds =
        StackBounds { lo: StackAddr(c.regs.sp), hi: StackAddr(c.root_fp + 16), final_frame: StackAddr(c.root_fp) };
    let stack = OwnStack { lo: bounds.lo.0, hi: bounds.hi.0 };
    let want = expected(c.depth, leaf);
    let mut out = [TextAddr(0); 64];
    let n = Native::unwind_reliable(&c.regs, bounds, &stack, &OwnText, &mut out)
        .unwrap_or_else(|e| panic!("own stack unreliable at depth {}: {e}", c.depth));
    let mut asserts = check_chain(&out[..n], &want);
    // One slot short of the chain: refused, never truncated.
    let short = Native::unwind_reliable(&c.regs, bounds, &stack, &OwnText, &mut out[..n - 1]);
    assert_eq!(short, Err(Unreliable::TooManyFrames));

    // A copy of the stack, corrupted one word at a time.
    let mut copy = vec![0u8; (bounds.hi.0 - bounds.lo.0) as usize];
    stack.read(bounds.lo, &mut copy).unwrap();
    let leaf_rec = (c.regs.fp - bounds.lo.0) as usize;
    let cases: [(usize, u64, Unreliable); 3] = [
        (leaf_rec + 8, 0x10, Unreliable::NotText(0x10)),
        (leaf_rec, c.regs.fp + 4, Unreliable::Misaligned(c.regs.fp + 4)),
        (leaf_rec, 0, Unreliable::MissingFinalFrame(c.regs.fp)),
    ];
    for (off, v, want_err) in cases {
        let mut bad = copy.clone();
        bad[off..off + 8].copy_from_slice(&v.to_le_bytes());
        let mem = graft_core::SliceMemory { base: bounds.lo.0, bytes: &bad };
        assert_eq!(Native::unwind_reliable(&c.regs, bounds, &mem, &OwnText, &mut out), Err(want_err));
    }
    asserts += 4;
    Counts { frames: n as u64, assertions: asserts }
}

#[inline(never)]
fn leaf(root_fp: u64, depth: usize) -> Counts {
    let regs = frame_regs();
    let c = Chain { regs, root_fp, depth };
    let r = walk_and_check(&c, leaf as fn(u64, usize) -> Counts as usize);
    black_box(r)
}

#[inline(never)]
fn recurse(n: usize, root_fp: u64, depth: usize) -> Counts {
    let r = if n > 1 { recurse(n - 1, root_fp, depth) } else { leaf(root_fp, depth) };
    black_box(r)
}

#[inline(never)]
fn chain(depth: usize, root_fp: u64, _unused: usize) -> Counts {
    let r = if depth > 0 { recurse(depth, root_fp, depth) } else { leaf(root_fp, depth) };
    black_box(r)
}

/// The root: its own frame is the final frame of every walk below it.
#[inline(never)]
fn root(depth: usize, _unused: usize) -> Counts {
    let me = frame_regs();
    let r = chain(black_box(depth), me.fp, 0);
    black_box(r)
}

#[inline(never)]
fn thread_body(depth: usize, _unused: usize) -> Counts {
    let r = root(black_box(depth), 0);
    black_box(r)
}

/// A thread that stops inside the chain while another thread walks its stack
/// (a sleeping task, as the kernel walks it).
#[inline(never)]
fn sleeper(root_fp: u64, tx: &mpsc::Sender<(SavedRegs, u64)>, hold: &Barrier) -> Counts {
    let regs = frame_regs();
    tx.send((regs, root_fp)).unwrap();
    // Frames at and above `regs.fp` stay put until the walker releases us.
    hold.wait();
    black_box(Counts::default())
}

#[inline(never)]
fn sleeper_root(tx: &mpsc::Sender<(SavedRegs, u64)>, hold: &Barrier) -> Counts {
    let me = frame_regs();
    let r = sleeper(me.fp, tx, hold);
    black_box(r)
}

fn walk_sleeping_thread() -> Counts {
    let (tx, rx) = mpsc::channel();
    let hold = Arc::new(Barrier::new(2));
    let h = {
        let hold = hold.clone();
        std::thread::spawn(move || sleeper_root(&tx, &hold))
    };
    let (regs, root_fp) = rx.recv().unwrap();
    let bounds = StackBounds { lo: StackAddr(regs.sp), hi: StackAddr(root_fp + 16), final_frame: StackAddr(root_fp) };
    // Another thread's stack, readable while that thread waits above it.
    let stack = OwnStack { lo: bounds.lo.0, hi: bounds.hi.0 };
    let mut out = [TextAddr(0); 8];
    let n = Native::unwind_reliable(&regs, bounds, &stack, &OwnText, &mut out).expect("sleeping thread's stack");
    assert_eq!(n, 3, "sleeper, sleeper_root, and the thread's closure: {:x?}", &out[..n]);
    assert!(returns_into(
        out[0],
        sleeper as fn(u64, &mpsc::Sender<(SavedRegs, u64)>, &Barrier) -> Counts as usize,
        MAX_FN_LEN
    ));
    assert!(returns_into(
        out[1],
        sleeper_root as fn(&mpsc::Sender<(SavedRegs, u64)>, &Barrier) -> Counts as usize,
        MAX_FN_LEN
    ));
    hold.wait();
    h.join().unwrap();
    Counts { frames: n as u64, assertions: 3 }
}

/// Walk the process's own stacks from chains of every depth in several
/// threads at once, and a stopped thread's stack from another thread.
pub fn unwind_test() -> UnwindReport {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Counts::default();
                for i in 0..60 {
                    c += thread_body((i + t) % 20, 0);
                }
                c
            })
        })
        .collect();
    let mut total = Counts::default();
    for h in threads {
        total += h.join().expect("unwinding thread");
    }
    for _ in 0..8 {
        total += walk_sleeping_thread();
    }
    eprintln!(
        "x86_64: int3 emulations={} membarrier-sync-core={}",
        INT3_HITS.load(Ordering::Relaxed),
        if MEMBARRIER.load(Ordering::Relaxed) { "yes" } else { "unavailable" }
    );
    UnwindReport { frames: total.frames, assertions: total.assertions }
}

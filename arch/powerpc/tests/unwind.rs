//! The reliable unwinder over synthetic kernel stacks laid out as Linux 7.3
//! lays out ppc64 ELFv2 frames (asm/ptrace.h, arch/powerpc/kernel/process.c
//! `copy_thread()`, arch/powerpc/kernel/stacktrace.c).  Each refusal reason is
//! produced by the corruption that causes it.

use graft_core::{
    MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unreliable,
    Unwinder,
};
use graft_powerpc::testing::StackBuilder;
use graft_powerpc::unwind::{
    FRAME_MIN_SIZE, INT_FRAME_MARKER, INT_FRAME_REGS, INT_FRAME_SIZE, LR_SAVE, PT_NIP, REGS_MARKER,
};
use graft_powerpc::{final_frame_kthread, final_frame_user, Powerpc};

const BASE: u64 = 0xc000_0000_0400_0000;
const STACK: usize = 16 * 1024; // THREAD_SIZE with THREAD_SHIFT 14
const PC: u64 = 0xc000_0000_0000_1010;
const GRAPH: u64 = 0xc000_0000_0000_f000;
const KRETPROBE: u64 = 0xc000_0000_0000_f100;
const EXC_ENTRY: u64 = 0xc000_0000_0000_f200;

/// Kernel text is `0xc000...0000..0xc000...0200_0000` plus module text at
/// `0xd000...`; three addresses are the trampolines and an exception entry.
struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            GRAPH => TextKind::FtraceGraph,
            KRETPROBE => TextKind::Kretprobe,
            EXC_ENTRY => TextKind::ExceptionEntry,
            0xc000_0000_0000_0000..0xc000_0000_0200_0000 | 0xd000_0000_0000_0000..0xd000_0000_1000_0000 => {
                TextKind::Kernel
            }
            _ => TextKind::NotText,
        }
    }
}

fn ret(i: u64) -> u64 {
    0xc000_0000_0010_0000 + i * 0x104
}

/// A sleeping kthread eight calls deep with varied frame sizes.
fn deep(mem: &mut [u8]) -> StackBuilder<'_> {
    let mut b = StackBuilder::kthread(mem, BASE);
    for (i, size) in [112u64, 32, 48, 256, 64, 144, 32, 96].into_iter().enumerate() {
        b.call(size, ret(i as u64));
    }
    b
}

fn walk(regs: &SavedRegs, bounds: StackBounds, mem: &dyn StackReader) -> Result<Vec<u64>, Unreliable> {
    let mut out = [TextAddr(0); 64];
    let n = Powerpc::unwind_reliable(regs, bounds, mem, &Text, &mut out)?;
    Ok(out[..n].iter().map(|a| a.0).collect())
}

fn walk_b(b: &StackBuilder<'_>) -> Result<Vec<u64>, Unreliable> {
    walk(&b.regs(PC), b.bounds(), &SliceMemory { base: b.base(), bytes: b.mem() })
}

fn expected(b: &StackBuilder<'_>) -> Vec<u64> {
    let mut out = [TextAddr(0); 64];
    let n = b.expected(PC, &mut out);
    out[..n].iter().map(|a| a.0).collect()
}

/// The back chains from the innermost frame up, final frame included.
fn chain(b: &StackBuilder<'_>) -> Vec<u64> {
    let mut v = vec![b.sp()];
    while *v.last().unwrap() != b.bounds().final_frame.0 {
        v.push(b.get(*v.last().unwrap()));
    }
    v
}

#[test]
fn kthread_stack_walks_to_the_final_frame() {
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let got = walk_b(&b).unwrap();
    // pc, then the return addresses into frames 7..1: the one into the final
    // frame's owner (ret(0)) is the final frame's, which the walk stops at.
    let want: Vec<u64> = [PC].into_iter().chain((1..8).rev().map(ret)).collect();
    assert_eq!(got, want);
    assert_eq!(got, expected(&b));
}

#[test]
fn user_task_stack_stops_at_its_interrupt_frame() {
    let mut mem = vec![0; STACK];
    let mut b = StackBuilder::user_task(&mut mem, BASE, 0x7fff_f000_0000);
    for i in 0..5 {
        b.call(64 + 16 * i, ret(i));
    }
    let f = b.bounds().final_frame.0;
    assert_eq!(f, BASE + STACK as u64 - 432, "STACK_USER_INT_FRAME_SIZE = 384 + 32 + 16");
    assert_eq!(b.get(f + INT_FRAME_MARKER), REGS_MARKER, "copy_thread() marks the user frame");
    assert_eq!(walk_b(&b).unwrap(), [PC, ret(4), ret(3), ret(2), ret(1)]);
}

#[test]
fn final_frames_follow_copy_thread() {
    let hi = StackAddr(BASE + STACK as u64);
    assert_eq!(Powerpc::final_frame(hi), final_frame_user(hi));
    assert_eq!(final_frame_user(hi).0, hi.0 - 432);
    assert_eq!(final_frame_kthread(hi).0, hi.0 - FRAME_MIN_SIZE);
    let mut mem = vec![0; STACK];
    assert_eq!(StackBuilder::kthread(&mut mem, BASE).bounds().final_frame, final_frame_kthread(hi));
    assert_eq!(StackBuilder::user_task(&mut mem, BASE, 0).bounds().final_frame, final_frame_user(hi));
}

#[test]
fn innermost_lr_slot_is_not_trusted() {
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    // The innermost function has not called anything: junk in its LR slot.
    let sp = b.sp();
    b.put(sp + LR_SAVE, 0xdead_beef);
    b.put(sp + INT_FRAME_MARKER, REGS_MARKER);
    assert_eq!(walk_b(&b).unwrap(), expected(&b));
}

#[test]
fn start_outside_the_stack_is_refused() {
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let (bounds, m) = (b.bounds(), SliceMemory { base: b.base(), bytes: b.mem() });
    let below = SavedRegs { sp: BASE - 16, ..b.regs(PC) };
    assert_eq!(walk(&below, bounds, &m), Err(Unreliable::OutOfBounds(BASE - 16)));
    // At or within one minimal frame of the final frame.
    let f = bounds.final_frame.0;
    let at_top = SavedRegs { sp: f, ..b.regs(PC) };
    assert_eq!(walk(&at_top, bounds, &m), Err(Unreliable::OutOfBounds(f)));
    let near = SavedRegs { sp: f - 16, ..b.regs(PC) };
    assert_eq!(walk(&near, bounds, &m), Err(Unreliable::OutOfBounds(f - 16)));
}

#[test]
fn back_chain_leaving_the_stack_is_refused() {
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    let c = chain(&b);
    let beyond = BASE + STACK as u64 + 0x100;
    b.put(c[3], beyond);
    assert_eq!(walk_b(&b), Err(Unreliable::OutOfBounds(beyond)));
}

#[test]
fn misaligned_frames_are_refused() {
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    let c = chain(&b);
    // A back chain 8 bytes off: the next frame breaks the ABI's 16-byte rule.
    b.put(c[2], c[3] - 8);
    assert_eq!(walk_b(&b), Err(Unreliable::Misaligned(c[3] - 8)));
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let regs = SavedRegs { sp: b.sp() + 4, ..b.regs(PC) };
    assert_eq!(
        walk(&regs, b.bounds(), &SliceMemory { base: b.base(), bytes: b.mem() }),
        Err(Unreliable::Misaligned(b.sp() + 4))
    );
}

#[test]
fn back_chain_not_moving_up_is_refused() {
    for delta in [0i64, -16, -0x100] {
        let mut mem = vec![0; STACK];
        let mut b = deep(&mut mem);
        let c = chain(&b);
        let to = c[4].wrapping_add_signed(delta);
        b.put(c[4], to);
        assert_eq!(walk_b(&b), Err(Unreliable::NotIncreasing(to)), "delta {delta}");
    }
}

#[test]
fn return_address_outside_text_is_refused() {
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    let c = chain(&b);
    b.put(c[3] + LR_SAVE, 0x1000_2000);
    assert_eq!(walk_b(&b), Err(Unreliable::NotText(0x1000_2000)));
    // The task's own pc too.
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let regs = b.regs(0x4242);
    let m = SliceMemory { base: b.base(), bytes: b.mem() };
    assert_eq!(walk(&regs, b.bounds(), &m), Err(Unreliable::NotText(0x4242)));
}

#[test]
fn interrupt_frame_is_refused() {
    let mut mem = vec![0; STACK];
    let mut b = StackBuilder::kthread(&mut mem, BASE);
    b.call(128, ret(0));
    b.call(64, ret(1));
    let irq = b.interrupt(ret(2));
    b.call(112, ret(3)); // the interrupt handler's C code
    b.call(48, ret(4));
    assert_eq!(walk_b(&b), Err(Unreliable::ExceptionFrame(irq)));
    // The same stack without the marker walks through.
    b.put(irq + INT_FRAME_MARKER, 0);
    assert_eq!(walk_b(&b).unwrap(), expected(&b));
}

#[test]
fn exception_entry_return_address_is_refused() {
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    let c = chain(&b);
    b.put(c[2] + LR_SAVE, EXC_ENTRY);
    assert_eq!(walk_b(&b), Err(Unreliable::ExceptionFrame(EXC_ENTRY)));
}

#[test]
fn marker_within_an_interrupt_frame_of_the_top_is_not_checked() {
    // arch_stack_walk_reliable() only reads the marker where a whole
    // STACK_INT_FRAME_SIZE fits below stack_end: a frame closer to the top
    // may hold "REGS" as data.
    let mut mem = vec![0; STACK];
    let mut b = StackBuilder::kthread(&mut mem, BASE);
    let near = b.call(64, ret(0));
    b.call(64, ret(1));
    b.put(near + INT_FRAME_MARKER, REGS_MARKER);
    assert!(near > b.bounds().final_frame.0 - INT_FRAME_SIZE);
    assert_eq!(walk_b(&b).unwrap(), [PC, ret(1)]);
}

#[test]
fn tracing_trampolines_are_refused() {
    for t in [GRAPH, KRETPROBE] {
        let mut mem = vec![0; STACK];
        let mut b = deep(&mut mem);
        let c = chain(&b);
        b.put(c[5] + LR_SAVE, t);
        assert_eq!(walk_b(&b), Err(Unreliable::Trampoline(t)));
    }
}

#[test]
fn walk_must_end_at_the_final_frame() {
    // A chain that ends (back chain 0) short of the final frame.
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    let c = chain(&b);
    b.put(c[5], 0);
    assert_eq!(walk_b(&b), Err(Unreliable::MissingFinalFrame(c[5])));
    // A chain that jumps over the final frame, still on the stack.
    let mut mem = vec![0; STACK];
    let mut b = deep(&mut mem);
    let c = chain(&b);
    let f = b.bounds().final_frame.0;
    b.put(c[6], f + 16);
    assert_eq!(walk_b(&b), Err(Unreliable::MissingFinalFrame(f + 16)));
    // The caller's final frame is not on the chain: the walk overshoots it.
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let c = chain(&b);
    let bounds = StackBounds { final_frame: StackAddr(c[5] + 16), ..b.bounds() };
    let m = SliceMemory { base: b.base(), bytes: b.mem() };
    assert_eq!(walk(&b.regs(PC), bounds, &m), Err(Unreliable::MissingFinalFrame(c[5])));
}

#[test]
fn too_many_frames_is_refused() {
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let m = SliceMemory { base: b.base(), bytes: b.mem() };
    let n = expected(&b).len();
    let mut out = vec![TextAddr(0); n];
    assert_eq!(Powerpc::unwind_reliable(&b.regs(PC), b.bounds(), &m, &Text, &mut out), Ok(n));
    let mut short = vec![TextAddr(0); n - 1];
    assert_eq!(
        Powerpc::unwind_reliable(&b.regs(PC), b.bounds(), &m, &Text, &mut short),
        Err(Unreliable::TooManyFrames)
    );
    assert_eq!(Powerpc::unwind_reliable(&b.regs(PC), b.bounds(), &m, &Text, &mut []), Err(Unreliable::TooManyFrames));
}

/// A reader that cannot read one address.
struct Holey<'a> {
    inner: SliceMemory<'a>,
    hole: u64,
}
impl StackReader for Holey<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        if (addr.0..addr.0 + buf.len() as u64).contains(&self.hole) {
            return Err(MemError::Fault(addr.0));
        }
        self.inner.read(addr, buf)
    }
}

#[test]
fn unreadable_stack_is_refused() {
    let mut mem = vec![0; STACK];
    let b = deep(&mut mem);
    let c = chain(&b);
    for hole in [c[0], c[3] + LR_SAVE] {
        let m = Holey { inner: SliceMemory { base: b.base(), bytes: b.mem() }, hole };
        assert_eq!(walk(&b.regs(PC), b.bounds(), &m), Err(Unreliable::Fault(hole)));
    }
}

// --- TaskStacks: where the kernel glue's walks start ----------------------

use graft_core::{HookEntry, SwitchedOut, TaskKind, TaskStacks};
use graft_powerpc::unwind::{PT_REGS_SIZE, SWITCH_FRAME_NIP};

/// `STACK_SWITCH_FRAME_SIZE` (ELFv2): `pt_regs`, the minimal frame, 16 bytes.
const SWITCH_FRAME_SIZE: u64 = PT_REGS_SIZE + FRAME_MIN_SIZE + 16;

#[test]
fn switched_out_task_resumes_at_nip_of_its_switch_frame() {
    let mut mem = vec![0u8; STACK];
    let mut b = StackBuilder::kthread(&mut mem, BASE);
    for (i, size) in [112u64, 64, 208, 48].into_iter().enumerate() {
        b.call(size, ret(i as u64));
    }
    let sw = ret(9); // the return address into __switch_to
    let mut want = [TextAddr(0); 16];
    let n = b.expected(sw, &mut want);
    // _switch: LR into the caller's frame, its own frame at ksp, LR in _NIP.
    let ksp = b.call(SWITCH_FRAME_SIZE, sw);
    b.put(ksp + SWITCH_FRAME_NIP, sw);
    let (bounds, m) = (b.bounds(), SliceMemory { base: b.base(), bytes: b.mem() });
    let regs = Powerpc::switched_out_regs(SwitchedOut { sp: ksp, fp: 0, pc: 0 }, bounds, &m).unwrap();
    let mut out = [TextAddr(0); 16];
    let k = Powerpc::unwind_reliable(&regs, bounds, &m, &Text, &mut out).unwrap();
    // Exactly arch_stack_walk_reliable()'s frames: the LR slots from the
    // frame above ksp up, the first being _NIP.
    assert_eq!(&out[..k], &want[..n]);
    let odd = SwitchedOut { sp: ksp + 8, fp: 0, pc: 0 };
    assert_eq!(Powerpc::switched_out_regs(odd, bounds, &m), Err(Unreliable::Misaligned(odd.sp)));
    let top = SwitchedOut { sp: bounds.hi.0 - 16, fp: 0, pc: 0 };
    assert_eq!(Powerpc::switched_out_regs(top, bounds, &m), Err(Unreliable::OutOfBounds(top.sp)));
}

#[test]
fn forked_task_that_never_ran_resumes_at_ret_from_fork() {
    // copy_thread(): the switch frame right below the final frame, with
    // _NIP the entry of ret_from_kernel_user_thread (here ret(7)).
    let mut mem = vec![0u8; STACK];
    let mut b = StackBuilder::kthread(&mut mem, BASE);
    let ksp = b.call(SWITCH_FRAME_SIZE, ret(7));
    b.put(ksp + SWITCH_FRAME_NIP, ret(7));
    let (bounds, m) = (b.bounds(), SliceMemory { base: b.base(), bytes: b.mem() });
    let regs = Powerpc::switched_out_regs(SwitchedOut { sp: ksp, fp: 0, pc: 0 }, bounds, &m).unwrap();
    let mut out = [TextAddr(0); 4];
    assert_eq!(Powerpc::unwind_reliable(&regs, bounds, &m, &Text, &mut out), Ok(1));
    assert_eq!(out[0], TextAddr(ret(7)));
}

#[test]
fn kthreads_and_user_tasks_end_at_their_own_final_frames() {
    let hi = StackAddr(BASE + STACK as u64);
    assert_eq!(Powerpc::task_final_frame(hi, TaskKind::Kthread), final_frame_kthread(hi));
    assert_eq!(Powerpc::task_final_frame(hi, TaskKind::User), final_frame_user(hi));
    assert_ne!(final_frame_kthread(hi), final_frame_user(hi));
}

#[test]
fn hook_entry_walks_from_the_callers_frame() {
    let mut mem = vec![0u8; STACK];
    let mut b = StackBuilder::kthread(&mut mem, BASE);
    for (i, size) in [96u64, 48, 160].into_iter().enumerate() {
        b.call(size, ret(i as u64));
    }
    let parent = ret(5);
    let mut want = [TextAddr(0); 16];
    let n = b.expected(parent, &mut want);
    let (bounds, m) = (b.bounds(), SliceMemory { base: b.base(), bytes: b.mem() });
    let at = HookEntry { parent_ip: parent, sp: b.sp(), fp: b.sp() };
    let regs = Powerpc::hook_caller_regs(at, bounds, &m).unwrap();
    let mut out = [TextAddr(0); 16];
    let k = Powerpc::unwind_reliable(&regs, bounds, &m, &Text, &mut out).unwrap();
    assert_eq!(&out[..k], &want[..n]);
    let odd = HookEntry { sp: b.sp() + 8, ..at };
    assert_eq!(Powerpc::hook_caller_regs(odd, bounds, &m), Err(Unreliable::Misaligned(odd.sp)));
}

#[test]
fn preempted_task_is_scanned() {
    // interrupt_frame_is_refused's layout, with the interrupted context's
    // NIP and LR (a leaf's return address, only there) in its pt_regs.
    let mut mem = vec![0; STACK];
    let mut b = StackBuilder::kthread(&mut mem, BASE);
    b.call(128, ret(0));
    b.call(64, ret(1));
    let irq = b.interrupt(ret(2));
    let (pc, lr) = (ret(5), ret(6));
    b.put(irq + INT_FRAME_REGS + PT_NIP, pc);
    b.put(irq + INT_FRAME_REGS + PT_NIP + 4 * 8, lr); // nip, msr, orig_gpr3, ctr, link
    b.call(112, ret(3));
    b.call(48, ret(4));
    let regs = b.regs(PC);
    let m = SliceMemory { base: b.base(), bytes: b.mem() };
    assert_eq!(Powerpc::interrupted_pc(irq, b.bounds(), &m), Some(pc));
    assert_eq!(Powerpc::interrupted_pc(EXC_ENTRY, b.bounds(), &m), None);
    let n = graft_testkit::check_interrupted_stack::<Powerpc>(&regs, b.bounds(), &m, &Text, pc, ret(0), Some(lr));
    assert_eq!(n, 5);
}

//! The reliable unwinder over synthetic kernel stacks laid out as Linux 7.3
//! lays them out (`struct stack_frame` in arch/s390/include/asm/stacktrace.h:
//! back chain at +152, r14 at +136; `task_pt_regs()` at the top of the
//! stack with the final frame 160 bytes below it).  One good walk, then each
//! refusal from the corruption that causes it.

use graft_core::{
    MemError, SavedRegs, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unreliable, Unwinder,
};
use graft_s390::testing::{StackBuilder, PSW_MASK_PSTATE};
use graft_s390::unwind::{walk, FrameLayout, PT_GPRS, PT_SIZE, STACK_FRAME_OVERHEAD};
use graft_s390::{task_regs, S390};

const LO: u64 = 0x3_8000_c000;
const SIZE: usize = 16 << 10;
const RETURN_TO_HANDLER: u64 = 0x15_0000;
const RETHOOK_TRAMPOLINE: u64 = 0x15_0100;
const PGM_CHECK_HANDLER: u64 = 0x15_0200;

/// Kernel text is `[0x100000, 0x200000)` with the trampolines in it.
struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            RETURN_TO_HANDLER => TextKind::FtraceGraph,
            RETHOOK_TRAMPOLINE => TextKind::Kretprobe,
            PGM_CHECK_HANDLER => TextKind::ExceptionEntry,
            0x10_0000..0x20_0000 => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

/// A task asleep six frames deep: `frames[0]` is `thread.ksp`, the last is
/// the final frame.  Spacings include ftrace_caller's 24-byte frame for the
/// traced function (`TRACED_FUNC_FRAME_SIZE` in arch/s390/kernel/mcount.S).
fn frames(b: &StackBuilder<'_>) -> [u64; 6] {
    let f5 = b.final_frame().0;
    let f4 = f5 - 160;
    let f3 = f4 - 24;
    let f2 = f3 - 352;
    let f1 = f2 - 160;
    let f0 = f1 - 200;
    [f0, f1, f2, f3, f4, f5]
}
const RETS: [u64; 6] = [0x10_1000, 0x10_2010, 0x10_3020, 0x10_4030, 0x10_5040, 0x10_6050];

fn unwind(regs: &SavedRegs, b: &StackBuilder<'_>, out: &mut [TextAddr]) -> Result<usize, Unreliable> {
    S390::unwind_reliable(regs, b.bounds(), &b.memory(), &Text, out)
}

fn good(buf: &mut [u8]) -> (StackBuilder<'_>, SavedRegs, [u64; 6]) {
    let mut b = StackBuilder::kernel(buf, LO);
    let f = frames(&b);
    let regs = b.task(&f, &RETS);
    (b, regs, f)
}

#[test]
fn final_frame_is_below_task_pt_regs() {
    // STACK_INIT_OFFSET = THREAD_SIZE - STACK_FRAME_OVERHEAD - __PT_SIZE.
    let hi = StackAddr(LO + SIZE as u64);
    assert_eq!(S390::final_frame(hi), StackAddr(hi.0 - 160 - 200));
    assert_eq!((STACK_FRAME_OVERHEAD, PT_SIZE), (160, 200));
}

#[test]
fn good_stack_walks_fully() {
    let mut buf = vec![0u8; SIZE];
    let (b, regs, f) = good(&mut buf);
    let mut out = [TextAddr(0); 16];
    assert_eq!(unwind(&regs, &b, &mut out), Ok(6));
    assert_eq!(out[..6], RETS.map(TextAddr));
    // task_regs() starts where __unwind_start() does.
    assert_eq!(task_regs(StackAddr(f[0]), b.bounds(), &b.memory()), Ok(regs));
    // Exactly as many slots as frames is enough.
    assert_eq!(unwind(&regs, &b, &mut out[..6]), Ok(6));
}

#[test]
fn task_at_its_final_frame() {
    // A kernel thread that has not called anything: one frame.
    let mut buf = vec![0u8; SIZE];
    let mut b = StackBuilder::kernel(&mut buf, LO);
    let top = b.final_frame().0;
    let regs = b.task(&[top], &[0x10_7000]);
    let mut out = [TextAddr(0); 4];
    assert_eq!(unwind(&regs, &b, &mut out), Ok(1));
    assert_eq!(out[0], TextAddr(0x10_7000));
}

#[test]
fn stack_pointer_outside_the_stack() {
    let mut buf = vec![0u8; SIZE];
    let (b, regs, _) = good(&mut buf);
    let mut out = [TextAddr(0); 16];
    for sp in [LO - 160, LO - 8, LO + SIZE as u64 - 152, LO + SIZE as u64] {
        assert_eq!(unwind(&SavedRegs { sp, ..regs }, &b, &mut out), Err(Unreliable::OutOfBounds(sp)));
    }
}

#[test]
fn back_chain_outside_the_stack() {
    let mut buf = vec![0u8; SIZE];
    let (mut b, regs, f) = good(&mut buf);
    // Off the task stack, e.g. onto the IRQ stack: the kernel refuses
    // anything but STACK_TYPE_TASK.
    let off = LO + SIZE as u64 + 0x1000;
    b.frame(f[2], off, RETS[2]);
    let mut out = [TextAddr(0); 16];
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::OutOfBounds(off)));
    // A frame must fit below the stack top (outside_of_stack()).
    let tail = LO + SIZE as u64 - 152;
    b.frame(f[2], tail, RETS[2]);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::OutOfBounds(tail)));
}

#[test]
fn misaligned_frames() {
    let mut buf = vec![0u8; SIZE];
    let (mut b, regs, f) = good(&mut buf);
    let mut out = [TextAddr(0); 16];
    assert_eq!(unwind(&SavedRegs { sp: f[0] + 4, ..regs }, &b, &mut out), Err(Unreliable::Misaligned(f[0] + 4)));
    b.frame(f[1], f[2] + 2, RETS[1]);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::Misaligned(f[2] + 2)));
}

#[test]
fn chain_that_does_not_move_up() {
    let mut buf = vec![0u8; SIZE];
    let (mut b, regs, f) = good(&mut buf);
    let mut out = [TextAddr(0); 16];
    // A loop back to an inner frame, and a frame pointing at itself.
    b.frame(f[3], f[1], RETS[3]);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::NotIncreasing(f[1])));
    b.frame(f[3], f[3], RETS[3]);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::NotIncreasing(f[3])));
}

#[test]
fn return_address_not_text() {
    let mut buf = vec![0u8; SIZE];
    let (mut b, regs, f) = good(&mut buf);
    let mut out = [TextAddr(0); 16];
    b.frame(f[4], f[5], 0x90_0000);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::NotText(0x90_0000)));
    b.frame(f[4], f[5], 0);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::NotText(0)));
    // The first address too (unwind_get_return_address() on the first state).
    let (b, regs, _) = good(&mut buf);
    assert_eq!(unwind(&SavedRegs { pc: 0x3, ..regs }, &b, &mut out), Err(Unreliable::NotText(0x3)));
}

#[test]
fn interrupt_frame_on_the_stack() {
    // An interrupt taken in kernel mode: its entry code stores a pt_regs,
    // then starts a frame with a zero back chain right below it.
    let mut buf = vec![0u8; SIZE];
    let mut b = StackBuilder::kernel(&mut buf, LO);
    let f = frames(&b);
    let regs = b.task(&f[..3], &RETS[..3]);
    let irq_frame = f[2];
    b.pt_regs(irq_frame + STACK_FRAME_OVERHEAD, 0x0400_0001_8000_0000, 0x10_8000, f[3]);
    let mut out = [TextAddr(0); 16];
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::ExceptionFrame(irq_frame + STACK_FRAME_OVERHEAD)));
    // A return into exception entry code is refused as such too.
    let (mut b, regs, f) = good(&mut buf);
    b.frame(f[1], f[2], PGM_CHECK_HANDLER);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::ExceptionFrame(PGM_CHECK_HANDLER)));
}

#[test]
fn user_mode_pt_regs_away_from_the_top_is_not_final() {
    // is_final_pt_regs() accepts only task_pt_regs() on the task stack.
    let mut buf = vec![0u8; SIZE];
    let mut b = StackBuilder::kernel(&mut buf, LO);
    let f = frames(&b);
    let regs = b.task(&f[..5], &RETS[..5]);
    b.pt_regs(f[4] + STACK_FRAME_OVERHEAD, PSW_MASK_PSTATE, 0x3ff_0000_1000, 0x3ff_ffff_f000);
    let mut out = [TextAddr(0); 16];
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::ExceptionFrame(f[4] + STACK_FRAME_OVERHEAD)));
}

#[test]
fn tracing_trampolines() {
    let mut buf = vec![0u8; SIZE];
    let mut out = [TextAddr(0); 16];
    for t in [RETURN_TO_HANDLER, RETHOOK_TRAMPOLINE] {
        let (mut b, regs, f) = good(&mut buf);
        b.frame(f[3], f[4], t);
        assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::Trampoline(t)));
    }
}

#[test]
fn walk_must_end_at_the_final_frame() {
    let mut buf = vec![0u8; SIZE];
    let mut out = [TextAddr(0); 16];
    // The chain jumps past the final frame, into task_pt_regs().
    let (mut b, regs, f) = good(&mut buf);
    b.frame(f[4], f[5] + 8, RETS[4]);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::MissingFinalFrame(f[5] + 8)));
    // The final frame's back chain is not zero.
    let (mut b, regs, f) = good(&mut buf);
    b.frame(f[5], f[5] + 16, RETS[5]);
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::MissingFinalFrame(f[5] + 16)));
    // Starting above the final frame.
    let (b, regs, f) = good(&mut buf);
    let sp = f[5] + 8;
    assert_eq!(unwind(&SavedRegs { sp, ..regs }, &b, &mut out), Err(Unreliable::MissingFinalFrame(sp)));
    // Bounds whose final frame is elsewhere (another task's layout).
    let bounds = StackBounds { final_frame: StackAddr(f[4]), ..b.bounds() };
    assert_eq!(
        S390::unwind_reliable(&regs, bounds, &b.memory(), &Text, &mut out),
        Err(Unreliable::MissingFinalFrame(f[5]))
    );
}

#[test]
fn too_many_frames() {
    let mut buf = vec![0u8; SIZE];
    let (b, regs, _) = good(&mut buf);
    let mut out = [TextAddr(0); 5];
    assert_eq!(unwind(&regs, &b, &mut out), Err(Unreliable::TooManyFrames));
    assert_eq!(unwind(&regs, &b, &mut []), Err(Unreliable::TooManyFrames));
}

/// A reader that cannot see one word.
struct Hole<'a, R: StackReader>(&'a R, u64);
impl<R: StackReader> StackReader for Hole<'_, R> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        if addr.0 < self.1 + 8 && self.1 < addr.0 + buf.len() as u64 {
            return Err(MemError::Fault(addr.0));
        }
        self.0.read(addr, buf)
    }
}

#[test]
fn unreadable_stack() {
    let mut buf = vec![0u8; SIZE];
    let (b, regs, f) = good(&mut buf);
    let mem = b.memory();
    let mut out = [TextAddr(0); 16];
    for hole in [f[2] + 152, f[3] + 136] {
        let r = S390::unwind_reliable(&regs, b.bounds(), &Hole(&mem, hole), &Text, &mut out);
        assert_eq!(r, Err(Unreliable::Fault(hole)));
    }
}

#[test]
fn standard_layout_walks_user_frames() {
    // The ELF ABI frame (back chain at +0, r14 at +112) that user space
    // built with +backchain uses; its root frame chains on into libc.
    let mut buf = vec![0u8; 4096];
    let mut b = StackBuilder::new(&mut buf, LO, FrameLayout::STANDARD);
    let f = [LO + 0x100, LO + 0x1a0, LO + 0x300, LO + 0x400];
    for (i, (&sp, &ret)) in f.iter().zip(&RETS).enumerate() {
        let chain = f.get(i + 1).copied().unwrap_or(LO + 0x800);
        b.frame(sp, chain, ret);
    }
    let regs = SavedRegs { pc: RETS[0], sp: f[0], fp: 0, lr: 0 };
    let bounds = StackBounds { lo: b.lo(), hi: b.hi(), final_frame: StackAddr(f[3]) };
    let mut out = [TextAddr(0); 8];
    let n = walk(&FrameLayout::STANDARD, &regs, bounds, &b.memory(), &Text, &mut out);
    assert_eq!(n, Ok(4));
    assert_eq!(out[..4], RETS[..4].iter().map(|&r| TextAddr(r)).collect::<Vec<_>>()[..]);
    // The packed walk over the same memory does not find the chain.
    assert!(walk(&FrameLayout::PACKED, &regs, bounds, &b.memory(), &Text, &mut out).is_err());
}

// --- TaskStacks: where the kernel glue's walks start ----------------------

use graft_core::{HookEntry, SwitchedOut, TaskKind, TaskStacks};

#[test]
fn switched_out_task_starts_at_ksp_as_unwind_start_does() {
    let mut buf = vec![0u8; SIZE];
    let (b, regs, f) = good(&mut buf);
    let ctx = SwitchedOut { sp: f[0], fp: 0, pc: 0 };
    let from_ctx = S390::switched_out_regs(ctx, b.bounds(), &b.memory()).unwrap();
    assert_eq!(from_ctx, regs);
    assert_eq!(from_ctx, task_regs(StackAddr(f[0]), b.bounds(), &b.memory()).unwrap());
    let mut out = [TextAddr(0); 8];
    assert_eq!(unwind(&from_ctx, &b, &mut out), Ok(6));
    let odd = SwitchedOut { sp: f[0] + 4, ..ctx };
    assert_eq!(S390::switched_out_regs(odd, b.bounds(), &b.memory()), Err(Unreliable::Misaligned(odd.sp)));
    assert_eq!(S390::task_final_frame(b.hi(), TaskKind::User), S390::final_frame(b.hi()));
}

#[test]
fn hook_entry_walks_the_callers_back_chain() {
    // At `brasl %r0,ftrace_caller` %r15 is the caller's frame (f[1] here)
    // and %r14 the return address into the caller.
    let mut buf = vec![0u8; SIZE];
    let (b, _, f) = good(&mut buf);
    let at = HookEntry { parent_ip: 0x10_1ff0, sp: f[1], fp: f[1] };
    let regs = S390::hook_caller_regs(at, b.bounds(), &b.memory()).unwrap();
    let mut out = [TextAddr(0); 8];
    let n = unwind(&regs, &b, &mut out).unwrap();
    let got: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
    assert_eq!(got, [&[0x10_1ff0][..], &RETS[2..]].concat());
    let odd = HookEntry { sp: f[1] + 2, ..at };
    assert_eq!(S390::hook_caller_regs(odd, b.bounds(), &b.memory()), Err(Unreliable::Misaligned(odd.sp)));
}

#[test]
fn preempted_task_is_scanned() {
    // interrupt_frame_on_the_stack's layout, with a frame above the
    // pt_regs and the interrupted leaf's return address only in gprs[14].
    let mut buf = vec![0u8; SIZE];
    let mut b = StackBuilder::kernel(&mut buf, LO);
    let f = frames(&b);
    let regs = b.task(&f[..3], &RETS[..3]);
    let at = f[2] + STACK_FRAME_OVERHEAD;
    let (pc, lr) = (0x10_8000, 0x10_8800);
    b.pt_regs(at, 0x0400_0001_8000_0000, pc, f[4]);
    b.put(at + PT_GPRS + 14 * 8, lr);
    b.frame(f[4], f[5], RETS[4]);
    let mem = b.memory();
    assert_eq!(S390::interrupted_pc(at, b.bounds(), &mem), Some(pc));
    assert_eq!(S390::interrupted_pc(PGM_CHECK_HANDLER, b.bounds(), &mem), None);
    let n = graft_testkit::check_interrupted_stack::<S390>(&regs, b.bounds(), &mem, &Text, pc, RETS[4], Some(lr));
    assert_eq!(n, 5);
}

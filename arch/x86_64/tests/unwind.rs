//! The reliable unwinder over synthetic stacks laid out as Linux 7.3 lays out
//! x86_64 task stacks (see `graft_x86_64::testing`).

use graft_core::{MemError, SavedRegs, StackAddr, StackReader, TextAddr, TextInfo, TextKind, Unreliable, Unwinder};
use graft_x86_64::testing::{KernelStack, USER_CS};
use graft_x86_64::unwind::{PT_REGS_CS, PT_REGS_IP, PT_REGS_SIZE, TOP_OF_KERNEL_STACK_PADDING_FRED};
use graft_x86_64::{inactive_task_regs, last_frame, X86_64};

const BASE: u64 = 0xffff_c900_0010_0000;
const SIZE: usize = 4096;
const TEXT: u64 = 0xffff_ffff_8100_0000;
const GRAPH: u64 = TEXT + 0xf000; // return_to_handler
const KRETPROBE: u64 = TEXT + 0xf100; // the rethook trampoline
const ENTRY: u64 = TEXT + 0xe000; // an exception entry

struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            GRAPH => TextKind::FtraceGraph,
            KRETPROBE => TextKind::Kretprobe,
            ENTRY => TextKind::ExceptionEntry,
            x if (TEXT..TEXT + 0x10_0000).contains(&x) => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

fn t(off: u64) -> u64 {
    TEXT + off
}

fn walk(s: &KernelStack<'_>, regs: &SavedRegs, cap: usize) -> Result<Vec<u64>, Unreliable> {
    let mut out = vec![TextAddr(0); cap];
    let n = X86_64::unwind_reliable(regs, s.bounds(), &s.memory(), &Text, &mut out)?;
    Ok(out[..n].iter().map(|a| a.0).collect())
}

/// A user task asleep in a syscall: entry_SYSCALL_64 -> do_syscall_64 ->
/// ksys_read -> vfs_read -> pipe_read -> schedule -> __schedule.
fn syscall_task(buf: &mut [u8]) -> (KernelStack<'_>, SavedRegs, Vec<u64>, Vec<u64>) {
    let mut s = KernelStack::new(buf, BASE, true);
    let mut recs = vec![s.entry(t(0x10))];
    recs.push(s.call(t(0x120), 24));
    recs.push(s.call(t(0x230), 8));
    recs.push(s.call(t(0x340), 40));
    recs.push(s.call(t(0x450), 0));
    let regs = s.switch_out(t(0x560), 16);
    (s, regs, recs, vec![t(0x560), t(0x450), t(0x340), t(0x230), t(0x120), t(0x10)])
}

#[test]
fn final_frame_is_two_words_below_pt_regs() {
    let hi = StackAddr(0xffff_c900_0000_4000);
    assert_eq!(X86_64::final_frame(hi), StackAddr(hi.0 - 168 - 16));
    assert_eq!(PT_REGS_SIZE, 168);
    assert_eq!(last_frame(hi, TOP_OF_KERNEL_STACK_PADDING_FRED), StackAddr(hi.0 - 16 - 168 - 16));
}

#[test]
fn sleeping_user_task_walks_to_the_last_frame() {
    let mut buf = vec![0; SIZE];
    let (s, regs, recs, want) = syscall_task(&mut buf);
    assert_eq!(recs[0], s.final_frame().0);
    assert_eq!(walk(&s, &regs, 64).unwrap(), want);
    // The same state comes from task->thread.sp, as the kernel's walk starts.
    let from_thread = inactive_task_regs(s.thread_sp().unwrap(), s.bounds(), &s.memory()).unwrap();
    assert_eq!(from_thread, regs);
}

#[test]
fn kernel_thread_walks_to_the_last_frame() {
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, false);
    s.entry(t(0x10)); // ret_from_fork_asm
    s.call(t(0x20), 0); // kthread
    s.call(t(0x30), 32); // worker_thread
    let regs = s.switch_out(t(0x40), 0);
    assert_eq!(walk(&s, &regs, 8).unwrap(), [t(0x40), t(0x30), t(0x20), t(0x10)]);
}

#[test]
fn forked_task_that_never_ran_is_reliable() {
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, true);
    let regs = s.forked(t(0x10));
    assert_eq!(s.thread_sp().unwrap().0 + 40, s.final_frame().0, "fork_frame sits right below pt_regs");
    assert_eq!(walk(&s, &regs, 8).unwrap(), [t(0x10)]);
}

#[test]
fn realigned_last_frame_is_accepted() {
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, false);
    let rec = s.entry_realigned(t(0x10));
    assert_eq!(rec, s.final_frame().0 - 8);
    s.call(t(0x20), 8);
    let regs = s.switch_out(t(0x30), 0);
    assert_eq!(walk(&s, &regs, 8).unwrap(), [t(0x30), t(0x20), t(0x10)]);
    // Without the duplicated return address it is not a last frame.
    s.write(s.final_frame().0, t(0x11));
    assert_eq!(walk(&s, &regs, 8), Err(Unreliable::MissingFinalFrame(s.final_frame().0 - 8)));
}

#[test]
fn ftrace_last_frame_is_accepted() {
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, false);
    let rec = s.entry_ftrace(t(0x18), t(0x10));
    assert_eq!(rec, s.final_frame().0 - 24);
    s.call(t(0x20), 0);
    let regs = s.switch_out(t(0x30), 0);
    assert_eq!(walk(&s, &regs, 8).unwrap(), [t(0x30), t(0x20), t(0x10)]);
    // The parent's return address must be the duplicated one.
    s.write(s.final_frame().0 + 8, t(0x12));
    assert!(walk(&s, &regs, 8).is_err());
}

#[test]
fn user_regs_at_task_pt_regs_end_the_walk() {
    // An interrupt from user mode on a stack whose first frame is not the
    // last frame: the chain reaches the encoded pointer to task_pt_regs.
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, true);
    let regs_at = s.pt_regs().0;
    let rec = s.call(t(0x20), 16);
    s.write(rec, regs_at | 1);
    let regs = s.switch_out(t(0x30), 0);
    assert_eq!(walk(&s, &regs, 8).unwrap(), [t(0x30), t(0x20)]);
    // The same regs in kernel mode are an exception frame.
    s.write(regs_at + PT_REGS_CS, 0x10);
    assert_eq!(walk(&s, &regs, 8), Err(Unreliable::ExceptionFrame(regs_at)));
}

/// A task interrupted in the kernel at `t(0x28)`, called from `t(0x20)`'s
/// frame, and preempted on the interrupt's exit: the stack, its saved
/// registers and where the `pt_regs` are.
fn interrupted_task(buf: &mut [u8]) -> (KernelStack<'_>, SavedRegs, u64) {
    let mut s = KernelStack::new(buf, BASE, true);
    s.entry(t(0x10));
    s.call(t(0x20), 8);
    let irq = s.interrupt(t(0x28), false);
    s.call(t(0x30), 0); // the handler, called by entry code
    let regs = s.switch_out(t(0x40), 0); // preempted on irq exit
    (s, regs, irq)
}

#[test]
fn kernel_interrupt_frame_is_refused() {
    let mut buf = vec![0; SIZE];
    let (s, regs, irq) = interrupted_task(&mut buf);
    assert_eq!(walk(&s, &regs, 8), Err(Unreliable::ExceptionFrame(irq)));
}

#[test]
fn preempted_task_is_scanned() {
    use graft_core::transition::check_task;
    use graft_core::{Blocker, Ranges, TaskView};
    let mut buf = vec![0; SIZE];
    let (mut s, regs, irq) = interrupted_task(&mut buf);
    assert_eq!(X86_64::interrupted_pc(irq, s.bounds(), &s.memory()), Some(t(0x28)));
    assert_eq!(X86_64::interrupted_pc(t(0x28), s.bounds(), &s.memory()), None, "a text address is no frame");
    let n =
        graft_testkit::check_interrupted_stack::<X86_64>(&regs, s.bounds(), &s.memory(), &Text, t(0x28), t(0x20), None);
    assert_eq!(n, 4);
    let mut scratch = [TextAddr(0); 16];
    let none: [(TextAddr, u64); 0] = [];
    // A function-graph return address anywhere on it: the real one is off the stack.
    let slot = irq + PT_REGS_SIZE + 8;
    let keep = s.read(slot);
    s.write(slot, GRAPH);
    let view = TaskView::Sleeping { regs, bounds: s.bounds(), mem: &s.memory() };
    assert_eq!(
        check_task(&graft_core::ArchUnwinder::<X86_64>::NEW, view, &Ranges(&none), &Text, &mut scratch),
        Err(Blocker::Unreliable(Unreliable::Trampoline(GRAPH)))
    );
    s.write(slot, keep);
    // Interrupted outside any named text (a kprobe's out-of-line copy).
    s.write(irq + PT_REGS_IP, 0xffff_ffff_c000_1000);
    let view = TaskView::Sleeping { regs, bounds: s.bounds(), mem: &s.memory() };
    assert_eq!(
        check_task(&graft_core::ArchUnwinder::<X86_64>::NEW, view, &Ranges(&none), &Text, &mut scratch),
        Err(Blocker::Unreliable(Unreliable::NotText(0xffff_ffff_c000_1000)))
    );
}

#[test]
fn user_regs_below_the_top_are_an_exception_frame() {
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, true);
    s.entry(t(0x10));
    let irq = s.interrupt(t(0x28), true);
    assert_eq!(s.read(irq + PT_REGS_CS), USER_CS);
    s.call(t(0x30), 0);
    let regs = s.switch_out(t(0x40), 0);
    assert_eq!(walk(&s, &regs, 8), Err(Unreliable::ExceptionFrame(irq)));
}

#[test]
fn return_into_exception_entry_is_refused() {
    let mut buf = vec![0; SIZE];
    let (mut s, regs, recs, _) = syscall_task(&mut buf);
    s.write(recs[2] + 8, ENTRY);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::ExceptionFrame(ENTRY)));
}

#[test]
fn non_text_return_address_is_refused() {
    let mut buf = vec![0; SIZE];
    let (mut s, regs, recs, _) = syscall_task(&mut buf);
    s.write(recs[3] + 8, 0x1234);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::NotText(0x1234)));
    // Also in the first position.
    let (mut buf2, mut regs2) = (vec![0; SIZE], regs);
    let (s2, ..) = syscall_task(&mut buf2);
    regs2.pc = 0;
    assert_eq!(walk(&s2, &regs2, 64), Err(Unreliable::NotText(0)));
}

#[test]
fn tracing_trampolines_are_refused() {
    for tramp in [GRAPH, KRETPROBE] {
        let mut buf = vec![0; SIZE];
        let (mut s, regs, recs, _) = syscall_task(&mut buf);
        s.write(recs[1] + 8, tramp);
        assert_eq!(walk(&s, &regs, 64), Err(Unreliable::Trampoline(tramp)));
    }
}

#[test]
fn frame_outside_the_stack_is_refused() {
    let mut buf = vec![0; SIZE];
    let (mut s, regs, recs, _) = syscall_task(&mut buf);
    s.write(recs[3], BASE + SIZE as u64 + 0x100);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::OutOfBounds(BASE + SIZE as u64 + 0x100)));
    s.write(recs[3], BASE - 16);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::OutOfBounds(BASE - 16)));
    // A record whose second word would pass the top.
    s.write(recs[3], BASE + SIZE as u64 - 8);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::OutOfBounds(BASE + SIZE as u64 - 8)));
}

#[test]
fn misaligned_frame_is_refused() {
    let mut buf = vec![0; SIZE];
    let (mut s, regs, recs, _) = syscall_task(&mut buf);
    s.write(recs[3], recs[2] + 4);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::Misaligned(recs[2] + 4)));
    // An odd value is an encoded pt_regs pointer; a misaligned one is refused too.
    s.write(recs[3], recs[2] + 3);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::Misaligned(recs[2] + 2)));
}

#[test]
fn frame_that_does_not_move_up_is_refused() {
    let mut buf = vec![0; SIZE];
    let (mut s, regs, recs, _) = syscall_task(&mut buf);
    // A loop: a frame pointing at itself.
    s.write(recs[3], recs[3]);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::NotIncreasing(recs[3])));
    // Overlap: the next record starts inside this one.
    s.write(recs[3], recs[3] + 8);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::NotIncreasing(recs[3] + 8)));
    // Below the resumed stack pointer.
    let mut r = regs;
    r.fp = r.sp - 16;
    assert_eq!(walk(&s, &r, 64), Err(Unreliable::NotIncreasing(r.sp - 16)));
}

#[test]
fn chain_that_misses_the_final_frame_is_refused() {
    let mut buf = vec![0; SIZE];
    let (mut s, regs, recs, _) = syscall_task(&mut buf);
    let f = s.final_frame().0;
    // Ends early with a zero frame pointer.
    s.write(recs[2], 0);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::MissingFinalFrame(recs[2])));
    // Jumps over the final frame into pt_regs.
    s.write(recs[2], f + 16);
    assert_eq!(walk(&s, &regs, 64), Err(Unreliable::MissingFinalFrame(f + 16)));
    // A walk that starts without a frame pointer.
    let mut r = regs;
    r.fp = 0;
    assert_eq!(walk(&s, &r, 64), Err(Unreliable::MissingFinalFrame(0)));
}

#[test]
fn too_many_frames_is_refused() {
    let mut buf = vec![0; SIZE];
    let (s, regs, _, want) = syscall_task(&mut buf);
    assert_eq!(walk(&s, &regs, want.len()).unwrap(), want);
    assert_eq!(walk(&s, &regs, want.len() - 1), Err(Unreliable::TooManyFrames));
    assert_eq!(walk(&s, &regs, 0), Err(Unreliable::TooManyFrames));
}

#[test]
fn deep_stack_of_a_hundred_frames() {
    let mut buf = vec![0; 16 * 1024];
    let mut s = KernelStack::new(&mut buf, BASE, true);
    s.entry(t(0x10));
    let mut want = vec![t(0x10)];
    for i in 0..98 {
        s.call(t(0x100 + i * 16), 8 * (i % 5));
        want.push(t(0x100 + i * 16));
    }
    let regs = s.switch_out(t(0x8000), 0);
    want.push(t(0x8000));
    want.reverse();
    assert_eq!(walk(&s, &regs, 100).unwrap(), want);
    // klp's 100-entry buffer: one more frame is unreliable.
    assert_eq!(walk(&s, &regs, 99), Err(Unreliable::TooManyFrames));
}

/// A reader that faults at one address.
struct Faulty<'a> {
    inner: &'a dyn StackReader,
    bad: u64,
}
impl StackReader for Faulty<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        if (addr.0..addr.0 + buf.len() as u64).contains(&self.bad) {
            return Err(MemError::Fault(addr.0));
        }
        self.inner.read(addr, buf)
    }
}

#[test]
fn unreadable_stack_is_refused() {
    let mut buf = vec![0; SIZE];
    let (s, regs, recs, _) = syscall_task(&mut buf);
    let mem = s.memory();
    let faulty = Faulty { inner: &mem, bad: recs[2] + 8 };
    let mut out = [TextAddr(0); 16];
    assert_eq!(
        X86_64::unwind_reliable(&regs, s.bounds(), &faulty, &Text, &mut out),
        Err(Unreliable::Fault(recs[2] + 8))
    );
}

#[test]
fn inactive_task_frame_outside_the_stack_is_refused() {
    let mut buf = vec![0; SIZE];
    let (s, ..) = syscall_task(&mut buf);
    let top = StackAddr(BASE + SIZE as u64 - 48);
    assert_eq!(inactive_task_regs(top, s.bounds(), &s.memory()), Err(Unreliable::OutOfBounds(top.0)));
}

// --- TaskStacks: where the kernel glue's walks start ----------------------

use graft_core::{HookEntry, SwitchedOut, TaskKind, TaskStacks};

#[test]
fn switched_out_task_starts_at_its_inactive_task_frame() {
    let mut buf = vec![0; SIZE];
    let (s, regs, _, want) = syscall_task(&mut buf);
    let ctx = SwitchedOut { sp: s.thread_sp().unwrap().0, fp: 0, pc: 0 };
    let from_ctx = X86_64::switched_out_regs(ctx, s.bounds(), &s.memory()).unwrap();
    assert_eq!(from_ctx, regs);
    assert_eq!(walk(&s, &from_ctx, 64).unwrap(), want);
    // thread.sp at the top of the stack leaves no room for the frame.
    let top = SwitchedOut { sp: s.hi().0 - 8, ..ctx };
    assert_eq!(X86_64::switched_out_regs(top, s.bounds(), &s.memory()), Err(Unreliable::OutOfBounds(top.sp)));
    // One final frame for every task.
    assert_eq!(X86_64::task_final_frame(s.hi(), TaskKind::Kthread), X86_64::final_frame(s.hi()));
    assert_eq!(X86_64::task_final_frame(s.hi(), TaskKind::User), X86_64::final_frame(s.hi()));
}

#[test]
fn hook_entry_walks_the_caller_from_its_return_address() {
    let mut buf = vec![0; SIZE];
    let mut s = KernelStack::new(&mut buf, BASE, true);
    s.entry(t(0x10));
    let rec = s.call(t(0x120), 24); // the caller's frame record
                                    // `call __fentry__` of the traced function: the call into it pushed the
                                    // return address into the caller; rbp is still the caller's.
    let sp = s.cursor() - 8;
    s.write(sp, t(0x230));
    let at = HookEntry { parent_ip: t(0x230), sp, fp: rec };
    let regs = X86_64::hook_caller_regs(at, s.bounds(), &s.memory()).unwrap();
    assert_eq!(regs, SavedRegs { pc: t(0x230), sp: sp + 8, fp: rec, lr: 0 });
    assert_eq!(walk(&s, &regs, 64).unwrap(), vec![t(0x230), t(0x120), t(0x10)]);
    // The graph tracer replaced the return address: not the caller's frame.
    s.write(sp, GRAPH);
    assert_eq!(X86_64::hook_caller_regs(at, s.bounds(), &s.memory()), Err(Unreliable::Trampoline(GRAPH)));
    let off = HookEntry { sp: s.hi().0, ..at };
    assert_eq!(X86_64::hook_caller_regs(off, s.bounds(), &s.memory()), Err(Unreliable::OutOfBounds(off.sp)));
}

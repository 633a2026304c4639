//! The reliable unwinder over synthetic stacks laid out as Linux 7.3 lays
//! them out (see `graft_arm64::testing`): good stacks walk fully, and each
//! corruption is refused with its own reason.

use graft_arm64::testing::{chain_fp, StackBuilder};
use graft_arm64::unwind::{
    FRAME_META_TYPE_FINAL, FRAME_META_TYPE_PT_REGS, PT_REGS_SIZE, S_FP, S_LR, S_PC, S_STACKFRAME,
};
use graft_arm64::{strip_pac, Arm64};
use graft_core::{
    MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unreliable,
    Unwinder,
};
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::cell::RefCell;

const BASE: u64 = 0xffff_8000_8400_0000;
const SIZE: usize = 16 * 1024;
const TEXT: u64 = 0xffff_8000_8001_0000;
const RETURN_TO_HANDLER: u64 = 0xffff_8000_8100_0040;
const KRETPROBE_TRAMPOLINE: u64 = 0xffff_8000_8100_0080;
const EL1H_64_IRQ: u64 = 0xffff_8000_8100_0100;

/// Kernel text with the tracing trampolines and an exception vector in it.
struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            RETURN_TO_HANDLER => TextKind::FtraceGraph,
            KRETPROBE_TRAMPOLINE => TextKind::Kretprobe,
            EL1H_64_IRQ => TextKind::ExceptionEntry,
            x if (TEXT..TEXT + 0x100_0000).contains(&x) => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

/// A reader that asserts every read lies in the bounds it was given and
/// can be told to fail at one address.
struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    fail_at: Option<u64>,
    reads: RefCell<Vec<u64>>,
}

impl<'a> Checked<'a> {
    fn new(bytes: &'a [u8], bounds: StackBounds) -> Self {
        Checked { mem: SliceMemory { base: BASE, bytes }, bounds, fail_at: None, reads: RefCell::new(Vec::new()) }
    }
}

impl StackReader for Checked<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read {addr:?} outside {:?}", self.bounds);
        self.reads.borrow_mut().push(addr.0);
        if self.fail_at == Some(addr.0) {
            return Err(MemError::Fault(addr.0));
        }
        self.mem.read(addr, buf)
    }
}

fn pcs(n: usize) -> Vec<TextAddr> {
    (0..n as u64).map(|i| TextAddr(TEXT + 0x40 + i * 0x1234)).collect()
}

fn walk(stack: &[u8], regs: &SavedRegs, bounds: StackBounds, cap: usize) -> Result<Vec<TextAddr>, Unreliable> {
    let mem = Checked::new(stack, bounds);
    let mut out = vec![TextAddr(0); cap];
    let n = Arm64::unwind_reliable(regs, bounds, &mem, &Text, &mut out)?;
    Ok(out[..n].to_vec())
}

/// A task `depth` frames deep with `frame` bytes per frame.
fn task(depth: usize, frame: u64) -> (Vec<u8>, SavedRegs, StackBounds, Vec<TextAddr>) {
    let mut stack = vec![0u8; SIZE];
    let want = pcs(depth);
    let (regs, bounds) = StackBuilder::new(&mut stack, BASE).task(&want, frame);
    (stack, regs, bounds, want)
}

fn put(stack: &mut [u8], addr: u64, v: u64) {
    let off = (addr - BASE) as usize;
    stack[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn final_frame_is_pt_regs_stackframe() {
    // task_pt_regs() = stack top - sizeof(struct pt_regs); stackframe at 296.
    assert_eq!(Arm64::final_frame(StackAddr(BASE + SIZE as u64)), StackAddr(BASE + SIZE as u64 - 24));
    assert_eq!(PT_REGS_SIZE - S_STACKFRAME, 24);
}

#[test]
fn pt_regs_layout_matches_the_kernel_header() {
    // struct pt_regs and struct frame_record_meta as declared in Linux 7.3
    // (arch/arm64/include/asm/ptrace.h, asm/stacktrace/frame.h), checked
    // by the cross compiler against the offsets the unwinder uses.
    let src = format!(
        r#"
typedef unsigned long long u64; typedef int s32; typedef unsigned int u32;
struct user_pt_regs {{ u64 regs[31]; u64 sp; u64 pc; u64 pstate; }};
struct frame_record {{ u64 fp; u64 lr; }};
struct frame_record_meta {{ struct frame_record record; u64 type; }};
struct pt_regs {{
	union {{ struct user_pt_regs user_regs; struct {{ u64 regs[31]; u64 sp; u64 pc; u64 pstate; }}; }};
	u64 orig_x0; s32 syscallno; u32 pmr; u64 sdei_ttbr1; struct frame_record_meta stackframe;
}};
#define off(f) __builtin_offsetof(struct pt_regs, f)
_Static_assert(sizeof(struct pt_regs) == {size}, "PT_REGS_SIZE");
_Static_assert(off(stackframe) == {sf}, "S_STACKFRAME");
_Static_assert(off(pc) == {pc}, "S_PC");
_Static_assert(off(regs[29]) == {fp}, "S_FP");
_Static_assert(off(regs[30]) == {lr}, "S_LR");
_Static_assert(sizeof(struct frame_record_meta) == 24, "meta");
"#,
        size = PT_REGS_SIZE,
        sf = S_STACKFRAME,
        pc = S_PC,
        fp = S_FP,
        lr = S_LR
    );
    let dir = scratch_dir("arm64-ptregs");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("ptregs.c");
    std::fs::write(&c, src).unwrap();
    compile(ArchId::Arm64, Cc::Gcc, &[], &c, &dir);
    compile(ArchId::Arm64, Cc::Clang, &[], &c, &dir);
}

#[test]
fn good_stacks_walk_fully() {
    for (depth, frame) in [(1, 16), (2, 16), (5, 32), (30, 48), (100, 112)] {
        let (stack, regs, bounds, want) = task(depth, frame);
        assert_eq!(walk(&stack, &regs, bounds, 128).unwrap(), want, "depth {depth}");
    }
}

#[test]
fn walk_reads_only_the_records() {
    let (stack, regs, bounds, _) = task(4, 32);
    let mem = Checked::new(&stack, bounds);
    let mut out = [TextAddr(0); 8];
    assert_eq!(Arm64::unwind_reliable(&regs, bounds, &mem, &Text, &mut out), Ok(4));
    let hi = bounds.hi;
    let fin = bounds.final_frame.0;
    let mut want = Vec::new();
    for i in (0..3).rev() {
        let fp = chain_fp(hi, 32, i);
        want.extend([fp, fp + 8]);
    }
    want.extend([fin, fin + 8, fin + 16]);
    assert_eq!(*mem.reads.borrow(), want);
}

#[test]
fn pac_is_stripped() {
    let want = pcs(3);
    let mut stack = vec![0u8; SIZE];
    let (regs, bounds) = StackBuilder::new(&mut stack, BASE).task(&want, 32);
    // Sign the return address in the innermost record (PAC in bits 54..48).
    let rec = chain_fp(bounds.hi, 32, 0);
    let signed = want[2].0 & !(0x7f << 48) | (0x5a << 48);
    assert_ne!(signed, want[2].0);
    put(&mut stack, rec + 8, signed);
    assert_eq!(strip_pac(signed), want[2].0);
    assert_eq!(walk(&stack, &regs, bounds, 8).unwrap(), want);
    // User addresses (bit 55 clear) lose their PAC the other way.
    assert_eq!(strip_pac(0x0012_0000_0040_1000), 0x0000_0000_0040_1000);
    // A return address into graft.ko as Debian's arm64 kernel signed it
    // (pac-ret, QEMU's max CPU with 52-bit VA and LPA2: the PAC in bits
    // 63..56 and 54..52, bits 51..48 still the address's), read off the
    // guest's stack when the walk stopped stripping: the kernel's own
    // `xpaclri` gives the same.
    assert_eq!(strip_pac(0xc08f_b012_ba9c_5750), 0xffff_b012_ba9c_5750);
}

#[test]
fn user_space_root_frame_as_final() {
    // A thread's root frame is an ordinary record: the walk stops there,
    // with the return address into the root function as the last entry (the
    // root's own record, pointing at its caller, is not followed).
    let (stack, regs, mut bounds, want) = task(5, 32);
    bounds.final_frame = StackAddr(chain_fp(bounds.hi, 32, 1));
    assert_eq!(walk(&stack, &regs, bounds, 8).unwrap(), want[..3].to_vec());
}

#[test]
fn too_many_frames() {
    let (stack, regs, bounds, _) = task(10, 32);
    assert_eq!(walk(&stack, &regs, bounds, 9), Err(Unreliable::TooManyFrames));
    assert_eq!(walk(&stack, &regs, bounds, 0), Err(Unreliable::TooManyFrames));
    assert!(walk(&stack, &regs, bounds, 10).is_ok());
}

#[test]
fn misaligned_frame_pointer() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    let rec = chain_fp(bounds.hi, 32, 1);
    let bad = chain_fp(bounds.hi, 32, 0) + 4;
    put(&mut stack, rec, bad);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Misaligned(bad)));
    let regs = SavedRegs { fp: regs.fp + 2, ..regs };
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Misaligned(regs.fp)));
}

#[test]
fn frame_pointer_off_the_stack() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    let rec = chain_fp(bounds.hi, 32, 1);
    for bad in [bounds.hi.0, bounds.hi.0 - 8, BASE - 16, 0xffff_0000_0000_0000] {
        put(&mut stack, rec, bad);
        assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::OutOfBounds(bad)), "{bad:#x}");
    }
}

#[test]
fn frame_pointer_not_increasing() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    let rec = chain_fp(bounds.hi, 32, 1);
    // A loop onto itself, and a step down the stack.
    for bad in [rec, rec - 32, rec + 8] {
        put(&mut stack, rec, bad);
        assert_eq!(walk(&stack, &regs, bounds, 64), Err(Unreliable::NotIncreasing(bad)), "{bad:#x}");
    }
}

#[test]
fn return_address_not_text() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    put(&mut stack, chain_fp(bounds.hi, 32, 1) + 8, 0x4000_1000);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::NotText(0x4000_1000)));
    let regs = SavedRegs { pc: 0, ..regs };
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::NotText(0)));
}

#[test]
fn tracing_trampolines() {
    for t in [RETURN_TO_HANDLER, KRETPROBE_TRAMPOLINE] {
        let (mut stack, regs, bounds, _) = task(4, 32);
        put(&mut stack, chain_fp(bounds.hi, 32, 0) + 8, t);
        assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Trampoline(t)));
    }
}

/// An interrupt taken in f2 of a task three frames deep: the pt_regs
/// (`kernel_entry 1`) below f2's record with the interrupted pc `want[0]`
/// and x30 `lr` (`want[1]` when `None`), and the handler's record below it.
/// Returns the stack, the registers the walk starts from, the bounds, the
/// pt_regs' metadata record and `want`.
fn interrupted_task(lr: Option<u64>) -> (Vec<u8>, SavedRegs, StackBounds, StackAddr, Vec<TextAddr>) {
    let mut stack = vec![0u8; SIZE];
    let want = pcs(3);
    let mut b = StackBuilder::new(&mut stack, BASE);
    let (_, bounds) = b.task(&want, 32);
    let interrupted_fp = chain_fp(bounds.hi, 32, 1);
    let regs_at = interrupted_fp - 64 - PT_REGS_SIZE;
    let meta = b.pt_regs(regs_at, want[0].0, interrupted_fp, lr.unwrap_or(want[1].0));
    let handler_fp = regs_at - 32;
    b.record(handler_fp, meta.0, TEXT + 0x8000);
    let regs = SavedRegs { pc: TEXT + 0x9000, sp: handler_fp, fp: handler_fp, lr: 0 };
    (stack, regs, bounds, meta, want)
}

#[test]
fn exception_frame() {
    // The handler's chain runs into the pt_regs' PT_REGS metadata record,
    // which a reliable walk refuses even though pt_regs->pc and x29 would
    // continue it.
    let (stack, regs, bounds, meta, _) = interrupted_task(None);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::ExceptionFrame(meta.0)));
    // Exception entry code as a return address is refused as such too.
    let regs = SavedRegs { pc: EL1H_64_IRQ, ..regs };
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::ExceptionFrame(EL1H_64_IRQ)));
}

#[test]
fn final_record_in_the_wrong_place() {
    // A FINAL record that is not task_pt_regs()->stackframe.
    let (mut stack, regs, bounds, _) = task(4, 32);
    let rec = chain_fp(bounds.hi, 32, 1);
    put(&mut stack, rec, 0);
    put(&mut stack, rec + 8, 0);
    put(&mut stack, rec + 16, FRAME_META_TYPE_FINAL);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(rec)));
    // An unknown metadata type.
    put(&mut stack, rec + 16, 7);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(rec)));
    // A PT_REGS type there is an exception boundary.
    put(&mut stack, rec + 16, FRAME_META_TYPE_PT_REGS);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::ExceptionFrame(rec)));
}

#[test]
fn chain_ends_without_final_record() {
    // fp = 0 before reaching the final record.
    let (mut stack, regs, bounds, _) = task(4, 32);
    put(&mut stack, chain_fp(bounds.hi, 32, 1), 0);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(0)));
    // The final record's slot holds an ordinary record.
    let (mut stack, regs, bounds, _) = task(4, 32);
    let fin = bounds.final_frame.0;
    put(&mut stack, fin, fin + 8);
    put(&mut stack, fin + 8, TEXT);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(fin)));
    // The final record has the wrong type.
    let (mut stack, regs, bounds, _) = task(4, 32);
    put(&mut stack, fin + 16, 0);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(fin)));
}

#[test]
fn chain_passes_the_final_frame() {
    // A walk whose bounds name a final frame below where the chain goes.
    let (stack, regs, mut bounds, _) = task(4, 32);
    bounds.final_frame = StackAddr(chain_fp(bounds.hi, 32, 1) + 16);
    let past = chain_fp(bounds.hi, 32, 0);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(past)));
}

#[test]
fn meta_record_cut_by_bounds() {
    // A metadata record must lie wholly inside the bounds (24 bytes): one
    // whose type word would be past the top is refused, not read.
    let (mut stack, regs, mut bounds, _) = task(3, 32);
    let hi = bounds.hi.0;
    put(&mut stack, chain_fp(bounds.hi, 32, 0), hi - 16);
    put(&mut stack, hi - 8, 0);
    bounds.final_frame = StackAddr(hi - 8);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::OutOfBounds(hi - 16)));
}

#[test]
fn read_fault() {
    let (stack, regs, bounds, _) = task(4, 32);
    let at = chain_fp(bounds.hi, 32, 1) + 8;
    let mut mem = Checked::new(&stack, bounds);
    mem.fail_at = Some(at);
    let mut out = [TextAddr(0); 8];
    assert_eq!(Arm64::unwind_reliable(&regs, bounds, &mem, &Text, &mut out), Err(Unreliable::Fault(at)));
}

#[test]
fn builder_matches_kernel_layout() {
    // Spot-check the builder against the kernel's words: the FINAL record's
    // three words and an exception pt_regs' saved registers.
    let mut stack = vec![0u8; 4096];
    let mut b = StackBuilder::new(&mut stack, BASE);
    let fin = b.final_record();
    let meta = b.pt_regs(BASE + 1024, 0x1111, 0x2222, 0x3333);
    let mem = SliceMemory { base: BASE, bytes: &stack };
    let w = |a: u64| mem.read_u64(StackAddr(a), graft_core::Endian::Little).unwrap();
    assert_eq!(fin.0, BASE + 4096 - 24);
    assert_eq!((w(fin.0), w(fin.0 + 8), w(fin.0 + 16)), (0, 0, FRAME_META_TYPE_FINAL));
    assert_eq!(meta.0, BASE + 1024 + S_STACKFRAME);
    assert_eq!((w(BASE + 1024 + S_PC), w(BASE + 1024 + S_FP), w(BASE + 1024 + S_LR)), (0x1111, 0x2222, 0x3333));
    assert_eq!(w(meta.0 + 16), FRAME_META_TYPE_PT_REGS);
}

// --- TaskStacks: where the kernel glue's walks start ----------------------

use graft_core::{HookEntry, SwitchedOut, TaskKind, TaskStacks};

#[test]
fn switched_out_task_starts_at_its_cpu_context() {
    let (stack, regs, bounds, want) = task(5, 48);
    let mem = SliceMemory { base: BASE, bytes: &stack };
    // cpu_switch_to() saved fp, sp and lr (as pc) in thread.cpu_context.
    let ctx = SwitchedOut { sp: regs.sp, fp: regs.fp, pc: regs.pc };
    let from_ctx = Arm64::switched_out_regs(ctx, bounds, &mem).unwrap();
    assert_eq!(from_ctx, regs);
    assert_eq!(walk(&stack, &from_ctx, bounds, 16).unwrap(), want);
    let odd = SwitchedOut { fp: regs.fp + 4, ..ctx };
    assert_eq!(Arm64::switched_out_regs(odd, bounds, &mem), Err(Unreliable::Misaligned(odd.fp)));
    let out = SwitchedOut { fp: bounds.hi.0, ..ctx };
    assert_eq!(Arm64::switched_out_regs(out, bounds, &mem), Err(Unreliable::OutOfBounds(out.fp)));
    let sp_out = SwitchedOut { sp: bounds.lo.0 - 16, ..ctx };
    assert_eq!(Arm64::switched_out_regs(sp_out, bounds, &mem), Err(Unreliable::OutOfBounds(sp_out.sp)));
    assert_eq!(Arm64::task_final_frame(bounds.hi, TaskKind::Kthread), Arm64::final_frame(bounds.hi));
}

#[test]
fn hook_entry_walks_the_caller_from_x9_and_its_frame_record() {
    // At the traced function's entry x29 is still the caller's record and
    // ftrace_caller hands x9 (the caller's lr) as parent_ip.
    let (stack, regs, bounds, want) = task(4, 32);
    let mem = SliceMemory { base: BASE, bytes: &stack };
    let at = HookEntry { parent_ip: want[0].0, sp: regs.sp - 64, fp: regs.fp };
    let from_hook = Arm64::hook_caller_regs(at, bounds, &mem).unwrap();
    assert_eq!(walk(&stack, &from_hook, bounds, 16).unwrap(), want);
    let odd = HookEntry { fp: regs.fp | 8 | 4, ..at };
    assert_eq!(Arm64::hook_caller_regs(odd, bounds, &mem), Err(Unreliable::Misaligned(odd.fp)));
}

#[test]
fn preempted_task_is_scanned() {
    // exception_frame's layout, interrupted in a leaf whose return address
    // is only in pt_regs->regs[30], signed (pointer authentication).
    let lr = TEXT + 0x7700;
    let (stack, regs, bounds, meta, want) = interrupted_task(Some(lr ^ (0x7a << 56)));
    let mem = Checked::new(&stack, bounds);
    assert_eq!(Arm64::interrupted_pc(meta.0, bounds, &mem), Some(want[0].0));
    assert_eq!(Arm64::interrupted_pc(EL1H_64_IRQ, bounds, &mem), None);
    let n = graft_testkit::check_interrupted_stack::<Arm64>(&regs, bounds, &mem, &Text, want[0].0, want[2].0, Some(lr));
    assert_eq!(n, 5);
}

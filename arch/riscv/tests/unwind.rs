//! The reliable unwinder over synthetic stacks laid out as Linux 7.3 lays
//! them out (see `graft_riscv::testing`): good stacks walk fully, and each
//! corruption is refused with its own reason.

use graft_core::{
    HookEntry, MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, SwitchedOut, TaskKind,
    TaskStacks, TextAddr, TextInfo, TextKind, Unreliable, Unwinder,
};
use graft_riscv::testing::{chain_fp, StackBuilder, KTHREAD_FN, USER_SP};
use graft_riscv::unwind::{PT_EPC, PT_RA, PT_S0, PT_SIZE_ON_STACK, PT_SP, PT_STATUS};
use graft_riscv::Riscv;
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::cell::RefCell;
use std::process::Command;

const BASE: u64 = 0xffff_ffc6_0040_0000;
const SIZE: usize = 16 * 1024;
const TEXT: u64 = 0xffff_ffff_8001_0000;
const RETURN_TO_HANDLER: u64 = 0xffff_ffff_8100_0040;
const KRETPROBE_TRAMPOLINE: u64 = 0xffff_ffff_8100_0080;
/// A return into `handle_exception` (after its `jalr t1` / `call do_irq`).
const HANDLE_EXCEPTION: u64 = 0xffff_ffff_8100_0100;

/// Kernel text with the tracing trampolines and the exception entry in it.
struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            RETURN_TO_HANDLER => TextKind::FtraceGraph,
            KRETPROBE_TRAMPOLINE => TextKind::Kretprobe,
            HANDLE_EXCEPTION => TextKind::ExceptionEntry,
            x if (TEXT..TEXT + 0x100_0000).contains(&x) => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

/// A kernel whose text table does not know the exception entry.
struct PlainText;
impl TextInfo for PlainText {
    fn kind(&self, a: TextAddr) -> TextKind {
        if a.0 == HANDLE_EXCEPTION || (TEXT..TEXT + 0x100_0000).contains(&a.0) {
            TextKind::Kernel
        } else {
            TextKind::NotText
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

fn walk_with(
    text: &dyn TextInfo,
    stack: &[u8],
    regs: &SavedRegs,
    bounds: StackBounds,
    cap: usize,
) -> Result<Vec<TextAddr>, Unreliable> {
    let mem = Checked::new(stack, bounds);
    let mut out = vec![TextAddr(0); cap];
    let n = Riscv::unwind_reliable(regs, bounds, &mem, text, &mut out)?;
    Ok(out[..n].to_vec())
}

fn walk(stack: &[u8], regs: &SavedRegs, bounds: StackBounds, cap: usize) -> Result<Vec<TextAddr>, Unreliable> {
    walk_with(&Text, stack, regs, bounds, cap)
}

/// A user task `depth` return addresses deep with `frame` bytes per frame.
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

fn hi() -> StackAddr {
    StackAddr(BASE + SIZE as u64)
}

#[test]
fn final_frame_is_task_pt_regs() {
    // task_pt_regs() = stack top - ALIGN(sizeof(struct pt_regs), 16).
    assert_eq!(Riscv::final_frame(hi()), StackAddr(hi().0 - 288));
    for kind in [TaskKind::Kthread, TaskKind::User] {
        assert_eq!(Riscv::task_final_frame(hi(), kind), Riscv::final_frame(hi()));
    }
}

#[test]
fn pt_regs_layout_matches_the_kernel_header() {
    // struct pt_regs and struct stackframe as declared in Linux 7.3
    // (arch/riscv/include/asm/ptrace.h, asm/stacktrace.h), checked by both
    // cross compilers against the offsets the unwinder uses.
    let regs = "epc ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 \
                t3 t4 t5 t6 status badaddr cause orig_a0";
    let fields: String = regs.split_whitespace().map(|r| format!("unsigned long {r}; ")).collect();
    let src = format!(
        r#"
struct pt_regs {{ {fields} }};
struct stackframe {{ unsigned long fp; unsigned long ra; }};
#define off(f) __builtin_offsetof(struct pt_regs, f)
#define ALIGN16(x) (((x) + 15) & ~15ul)
_Static_assert(ALIGN16(sizeof(struct pt_regs)) == {size}, "PT_SIZE_ON_STACK");
_Static_assert(off(epc) == {epc}, "PT_EPC");
_Static_assert(off(ra) == {ra}, "PT_RA");
_Static_assert(off(sp) == {sp}, "PT_SP");
_Static_assert(off(s0) == {s0}, "PT_S0");
_Static_assert(off(status) == {status}, "PT_STATUS");
_Static_assert(sizeof(struct stackframe) == 16 && __builtin_offsetof(struct stackframe, ra) == 8, "stackframe");
"#,
        size = PT_SIZE_ON_STACK,
        epc = PT_EPC,
        ra = PT_RA,
        sp = PT_SP,
        s0 = PT_S0,
        status = PT_STATUS,
    );
    let dir = scratch_dir("riscv-ptregs");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("ptregs.c");
    std::fs::write(&c, src).unwrap();
    compile(ArchId::Riscv, Cc::Gcc, &["-mabi=lp64", "-march=rv64imac"], &c, &dir);
    compile(ArchId::Riscv, Cc::Clang, &["-mabi=lp64", "-march=rv64imac"], &c, &dir);
}

#[test]
fn good_stacks_walk_fully() {
    for (depth, frame) in [(2, 16), (3, 16), (5, 32), (30, 48), (100, 112)] {
        for kind in [TaskKind::User, TaskKind::Kthread] {
            let mut stack = vec![0u8; SIZE];
            let want = pcs(depth);
            let (regs, bounds) = StackBuilder::new(&mut stack, BASE).task_of(kind, &want, frame);
            assert_eq!(walk(&stack, &regs, bounds, 128).unwrap(), want, "depth {depth} {kind:?}");
        }
    }
}

#[test]
fn a_task_that_never_ran_is_one_address() {
    // copy_thread(): thread.sp = task_pt_regs, thread.ra = ret_from_fork_*_asm,
    // thread.s[0] = 0 (user) or the kthread's function.
    for (kind, fp) in [(TaskKind::User, 0), (TaskKind::Kthread, KTHREAD_FN)] {
        let mut stack = vec![0u8; SIZE];
        let want = pcs(1);
        let (regs, bounds) = StackBuilder::new(&mut stack, BASE).task_of(kind, &want, 32);
        assert_eq!((regs.sp, regs.fp), (bounds.final_frame.0, fp));
        assert_eq!(walk(&stack, &regs, bounds, 4).unwrap(), want);
        let mem = Checked::new(&stack, bounds);
        let ctx = SwitchedOut { sp: regs.sp, fp: regs.fp, pc: regs.pc };
        assert_eq!(Riscv::switched_out_regs(ctx, bounds, &mem), Ok(regs));
    }
}

#[test]
fn walk_reads_only_the_records() {
    let (stack, regs, bounds, _) = task(4, 32);
    let mem = Checked::new(&stack, bounds);
    let mut out = [TextAddr(0); 8];
    assert_eq!(Riscv::unwind_reliable(&regs, bounds, &mem, &Text, &mut out), Ok(4));
    let mut want = Vec::new();
    for i in (0..3).rev() {
        let fp = chain_fp(bounds.hi, 32, i);
        want.extend([fp - 16, fp - 8]);
    }
    assert_eq!(*mem.reads.borrow(), want);
}

#[test]
fn the_final_record_holds_the_entry_return() {
    // A user task in a syscall: its handler's record returns into
    // handle_exception, accepted at task_pt_regs() only.
    let (mut stack, regs, bounds, mut want) = task(4, 32);
    let fin = bounds.final_frame.0;
    put(&mut stack, fin - 8, HANDLE_EXCEPTION);
    want[3] = TextAddr(HANDLE_EXCEPTION);
    assert_eq!(walk(&stack, &regs, bounds, 8).unwrap(), want);
    // The user sp there is never followed, whatever it is.
    put(&mut stack, fin - 16, 7);
    assert_eq!(walk(&stack, &regs, bounds, 8).unwrap(), want);
    // Anywhere else exception entry is an exception frame, and at a final
    // frame that is not task_pt_regs() (a user-space root) too: reported
    // at the CFA of the frame that returns there, where handle_exception
    // put its pt_regs.
    let (mut stack, regs, bounds, _) = task(4, 32);
    let at = chain_fp(bounds.hi, 32, 1);
    put(&mut stack, at - 8, HANDLE_EXCEPTION);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::ExceptionFrame(at)));
    let root = StackBounds { final_frame: StackAddr(at), ..bounds };
    assert_eq!(walk(&stack, &regs, root, 8), Err(Unreliable::ExceptionFrame(at)));
    // The final return address is no trampoline ...
    let (mut stack, regs, bounds, want) = task(4, 32);
    put(&mut stack, fin - 8, RETURN_TO_HANDLER);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Trampoline(RETURN_TO_HANDLER)));
    // ... and where it is not text (an idle task's, into _start_kernel's
    // .head.text) the walk ends before it, as walk_stackframe() does.
    put(&mut stack, fin - 8, 0x1234);
    assert_eq!(walk(&stack, &regs, bounds, 8).unwrap(), want[..3].to_vec());
    // Anywhere but at the final frame that is still refused.
    put(&mut stack, chain_fp(bounds.hi, 32, 1) - 8, 0x1234);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::NotText(0x1234)));
}

#[test]
fn user_space_root_frame_as_final() {
    // A thread's root frame as the final one: the walk stops after its
    // return address, without following its saved s0.
    let (mut stack, regs, mut bounds, want) = task(5, 32);
    bounds.final_frame = StackAddr(chain_fp(bounds.hi, 32, 2));
    put(&mut stack, chain_fp(bounds.hi, 32, 2) - 16, 0xdead);
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
    let rec = chain_fp(bounds.hi, 32, 2) - 16;
    // 8-aligned is enough for the kernel's fp_is_valid(), not for the psABI.
    for bad in [chain_fp(bounds.hi, 32, 1) - 8, chain_fp(bounds.hi, 32, 1) + 4] {
        put(&mut stack, rec, bad);
        assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Misaligned(bad)), "{bad:#x}");
    }
    let regs = SavedRegs { fp: regs.fp + 8, ..regs };
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Misaligned(regs.fp)));
}

#[test]
fn frame_pointer_off_the_stack() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    let rec = chain_fp(bounds.hi, 32, 2) - 16;
    // Past the final frame: not the final frame.
    let past = bounds.hi.0 - 16;
    put(&mut stack, rec, past);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(past)));
    for bad in [bounds.hi.0 + 16, BASE, 0xffff_0000_0000_0000, 16] {
        put(&mut stack, rec, bad);
        assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::OutOfBounds(bad)), "{bad:#x}");
    }
}

#[test]
fn frame_pointer_not_increasing() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    let fp = chain_fp(bounds.hi, 32, 2);
    // A loop onto itself and steps down.
    for bad in [fp, fp - 16, fp - 32] {
        put(&mut stack, fp - 16, bad);
        assert_eq!(walk(&stack, &regs, bounds, 64), Err(Unreliable::NotIncreasing(bad)), "{bad:#x}");
    }
    // The first record below sp.
    let regs2 = SavedRegs { sp: regs.fp, ..regs };
    assert_eq!(walk(&stack, &regs2, bounds, 8), Err(Unreliable::NotIncreasing(regs.fp)));
}

#[test]
fn return_address_not_text() {
    let (mut stack, regs, bounds, _) = task(4, 32);
    put(&mut stack, chain_fp(bounds.hi, 32, 1) - 8, 0x4000_1000);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::NotText(0x4000_1000)));
    let regs = SavedRegs { pc: 0, ..regs };
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::NotText(0)));
}

#[test]
fn tracing_trampolines() {
    for t in [RETURN_TO_HANDLER, KRETPROBE_TRAMPOLINE] {
        let (mut stack, regs, bounds, _) = task(4, 32);
        put(&mut stack, chain_fp(bounds.hi, 32, 2) - 8, t);
        assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::Trampoline(t)));
    }
}

/// An interrupt taken in f2 (s0 = its frame) of a task four frames deep
/// while sp was below it: handle_exception's pt_regs, the handler's record
/// {regs + 288, return into handle_exception}, and the handler calling on.
/// Returns the stack, the registers the walk starts from, the bounds, the
/// handler's frame (where the pt_regs start), the interrupted sp and the
/// task's pcs.
fn interrupted_task() -> (Vec<u8>, SavedRegs, StackBounds, u64, u64, Vec<TextAddr>) {
    let mut stack = vec![0u8; SIZE];
    let want = pcs(4);
    let mut b = StackBuilder::new(&mut stack, BASE);
    let (_, bounds) = b.task(&want, 32);
    let interrupted_fp = chain_fp(bounds.hi, 32, 2);
    let interrupted_sp = interrupted_fp - 64;
    let handler_fp = b.exception(interrupted_sp, want[1].0, interrupted_fp, HANDLE_EXCEPTION);
    let inner_fp = handler_fp - 48;
    b.record(inner_fp, handler_fp, TEXT + 0x8000);
    let regs = SavedRegs { pc: TEXT + 0x9000, sp: inner_fp - 48, fp: inner_fp, lr: 0 };
    (stack, regs, bounds, handler_fp, interrupted_sp, want)
}

#[test]
fn exception_frame() {
    let (mut stack, regs, bounds, handler_fp, interrupted_sp, _) = interrupted_task();
    assert_eq!(handler_fp, interrupted_sp - 288);
    // Known by its return address, as the kernel's walk knows it, and
    // reported where its pt_regs lie (the handler's CFA) ...
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::ExceptionFrame(handler_fp)));
    // ... and by its layout where the text table does not name it.
    assert_eq!(walk_with(&PlainText, &stack, &regs, bounds, 8), Err(Unreliable::ExceptionFrame(handler_fp)));
    // Without pt_regs.sp matching, the same chain is no exception frame:
    // it runs into the pt_regs' last words (cause, orig_a0) as a record
    // and stops there.
    put(&mut stack, handler_fp + PT_SP, 0);
    put(&mut stack, interrupted_sp - 16, 0x8000_0000_0000_0005);
    let r = walk_with(&PlainText, &stack, &regs, bounds, 8);
    assert_eq!(r, Err(Unreliable::NotText(0)));
    put(&mut stack, interrupted_sp - 8, TEXT + 0x44);
    let r = walk_with(&PlainText, &stack, &regs, bounds, 8);
    assert_eq!(r, Err(Unreliable::Misaligned(0x8000_0000_0000_0005)));
}

#[test]
fn leaf_frame() {
    // GCC's leaf: `addi sp,sp,-16; sd s0,8(sp); addi s0,sp,16`: the caller's
    // s0 where the return address would be.
    let (mut stack, _, bounds, _) = task(4, 32);
    let caller = chain_fp(bounds.hi, 32, 2);
    let leaf = caller - 48;
    put(&mut stack, leaf - 8, caller);
    put(&mut stack, leaf - 16, 0x1111);
    let at_leaf = SavedRegs { pc: TEXT + 0x500, sp: leaf - 16, fp: leaf, lr: 0 };
    assert_eq!(walk(&stack, &at_leaf, bounds, 8), Err(Unreliable::LeafFrame(leaf)));
    // Any stack address in the slot, even the stack's ends.
    for slot in [bounds.lo.0, bounds.hi.0] {
        put(&mut stack, leaf - 8, slot);
        assert_eq!(walk(&stack, &at_leaf, bounds, 8), Err(Unreliable::LeafFrame(leaf)));
    }
}

#[test]
fn gcc_leaves_save_no_return_address_and_clang_does() {
    // The premise of the leaf refusal, from the compilers themselves with
    // the kernel's flags: GCC 12 stores only s0 in a leaf, clang 19 both.
    let dir = scratch_dir("riscv-leaf");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("leaf.c");
    std::fs::write(&c, "long leaf(long x) { return x * 3 + 1; }\n").unwrap();
    let flags = ["-march=rv64imac_zicsr_zifencei", "-mabi=lp64", "-fno-omit-frame-pointer"];
    for (cc, saves_ra) in [(Cc::Gcc, false), (Cc::Clang, true)] {
        let obj = compile(ArchId::Riscv, cc, &flags, &c, &dir);
        let out = Command::new("riscv64-linux-gnu-objdump").arg("-d").arg(&obj).output().unwrap();
        let dis = String::from_utf8_lossy(&out.stdout);
        assert!(dis.contains("s0,"), "{cc:?}: no frame pointer:\n{dis}");
        assert_eq!(dis.contains("sd\tra,") || dis.contains("sdsp\tra,"), saves_ra, "{cc:?}:\n{dis}");
    }
}

#[test]
fn chain_ends_without_final_frame() {
    // s0 = 0 before reaching the final frame.
    let (mut stack, regs, bounds, _) = task(4, 32);
    put(&mut stack, chain_fp(bounds.hi, 32, 2) - 16, 0);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(0)));
    // A walk whose bounds name a final frame the chain steps over.
    let (stack, regs, mut bounds, _) = task(4, 32);
    bounds.final_frame = StackAddr(chain_fp(bounds.hi, 32, 1) - 16);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::MissingFinalFrame(chain_fp(bounds.hi, 32, 1))));
}

#[test]
fn record_cut_by_bounds() {
    // The final record must lie wholly inside the bounds.
    let (stack, regs, mut bounds, _) = task(3, 32);
    bounds.hi = StackAddr(bounds.final_frame.0 - 8);
    assert_eq!(walk(&stack, &regs, bounds, 8), Err(Unreliable::OutOfBounds(bounds.final_frame.0)));
}

#[test]
fn read_fault() {
    let (stack, regs, bounds, _) = task(4, 32);
    let at = chain_fp(bounds.hi, 32, 1) - 8;
    let mut mem = Checked::new(&stack, bounds);
    mem.fail_at = Some(at);
    let mut out = [TextAddr(0); 8];
    assert_eq!(Riscv::unwind_reliable(&regs, bounds, &mem, &Text, &mut out), Err(Unreliable::Fault(at)));
}

#[test]
fn builder_matches_kernel_layout() {
    // Spot-check the builder against the kernel's words: the final record
    // and top pt_regs of each task kind, and an exception's pt_regs.
    for (kind, fp_word, sp) in [(TaskKind::User, USER_SP, USER_SP), (TaskKind::Kthread, KTHREAD_FN, 0)] {
        let mut stack = vec![0u8; 4096];
        let (regs, bounds) = StackBuilder::new(&mut stack, BASE).task_of(kind, &pcs(3), 32);
        let mem = SliceMemory { base: BASE, bytes: &stack };
        let w = |a: u64| mem.read_u64(StackAddr(a), graft_core::Endian::Little).unwrap();
        let fin = bounds.final_frame.0;
        assert_eq!(fin, BASE + 4096 - 288);
        assert_eq!((w(fin - 16), w(fin - 8)), (fp_word, pcs(3)[2].0));
        assert_eq!(w(fin + PT_SP), sp);
        assert_eq!((regs.fp, regs.sp), (fin - 32, fin - 64));
    }
    let mut stack = vec![0u8; 4096];
    let mut b = StackBuilder::new(&mut stack, BASE);
    let fp = b.exception(BASE + 2048, 0x1111, 0x2222, 0x3333);
    let mem = SliceMemory { base: BASE, bytes: &stack };
    let w = |a: u64| mem.read_u64(StackAddr(a), graft_core::Endian::Little).unwrap();
    assert_eq!(fp, BASE + 2048 - 288);
    assert_eq!((w(fp + PT_EPC), w(fp + PT_SP), w(fp + PT_S0)), (0x1111, BASE + 2048, 0x2222));
    assert_eq!((w(fp - 16), w(fp - 8)), (BASE + 2048, 0x3333));
}

// --- TaskStacks: where the kernel glue's walks start ----------------------

#[test]
fn switched_out_task_starts_at_its_thread_struct() {
    let (stack, regs, bounds, want) = task(5, 48);
    let mem = SliceMemory { base: BASE, bytes: &stack };
    // __switch_to saved ra, sp and s0 in thread.
    let ctx = SwitchedOut { sp: regs.sp, fp: regs.fp, pc: regs.pc };
    let from_ctx = Riscv::switched_out_regs(ctx, bounds, &mem).unwrap();
    assert_eq!(from_ctx, regs);
    assert_eq!(walk(&stack, &from_ctx, bounds, 16).unwrap(), want);
    let odd = SwitchedOut { fp: regs.fp + 8, ..ctx };
    assert_eq!(Riscv::switched_out_regs(odd, bounds, &mem), Err(Unreliable::Misaligned(odd.fp)));
    let out = SwitchedOut { fp: bounds.hi.0 + 16, ..ctx };
    assert_eq!(Riscv::switched_out_regs(out, bounds, &mem), Err(Unreliable::OutOfBounds(out.fp)));
    let sp_out = SwitchedOut { sp: bounds.lo.0 - 16, ..ctx };
    assert_eq!(Riscv::switched_out_regs(sp_out, bounds, &mem), Err(Unreliable::OutOfBounds(sp_out.sp)));
    let sp_odd = SwitchedOut { sp: regs.sp + 8, ..ctx };
    assert_eq!(Riscv::switched_out_regs(sp_odd, bounds, &mem), Err(Unreliable::Misaligned(sp_odd.sp)));
    assert_eq!(Riscv::TRACE_TSK_SLACK, (0, 0));
}

#[test]
fn hook_entry_walks_the_caller_from_ra_and_its_frame() {
    // At the traced function's entry s0 is still the caller's frame
    // pointer and ftrace_caller hands ra as parent_ip.
    let (stack, regs, bounds, want) = task(4, 32);
    let mem = SliceMemory { base: BASE, bytes: &stack };
    let at = HookEntry { parent_ip: want[0].0, sp: regs.sp, fp: regs.fp };
    let from_hook = Riscv::hook_caller_regs(at, bounds, &mem).unwrap();
    assert_eq!(walk(&stack, &from_hook, bounds, 16).unwrap(), want);
    let odd = HookEntry { fp: regs.fp + 8, ..at };
    assert_eq!(Riscv::hook_caller_regs(odd, bounds, &mem), Err(Unreliable::Misaligned(odd.fp)));
    let garbage = HookEntry { fp: 0xdead_beef_0000, ..at };
    assert_eq!(Riscv::hook_caller_regs(garbage, bounds, &mem), Err(Unreliable::OutOfBounds(garbage.fp)));
    let sp_out = HookEntry { sp: bounds.hi.0 + 8, ..at };
    assert_eq!(Riscv::hook_caller_regs(sp_out, bounds, &mem), Err(Unreliable::OutOfBounds(sp_out.sp)));
}

#[test]
fn preempted_task_is_scanned() {
    // exception_frame's layout, recognised by its layout and, with a text
    // table that names handle_exception (the kernel glue's, through
    // TaskStacks::EXCEPTION_ENTRY), by its return address, both reported
    // at the pt_regs, with the interrupted leaf's return address only in
    // pt_regs->ra.
    let (mut stack, regs, bounds, handler_fp, _, want) = interrupted_task();
    let lr = TEXT + 0x7700;
    put(&mut stack, handler_fp + PT_RA, lr);
    let mem = Checked::new(&stack, bounds);
    assert_eq!(Riscv::interrupted_pc(handler_fp, bounds, &mem), Some(want[1].0));
    assert_eq!(Riscv::interrupted_pc(HANDLE_EXCEPTION, bounds, &mem), None);
    let n = graft_testkit::check_interrupted_stack::<Riscv>(
        &regs,
        bounds,
        &mem,
        &PlainText,
        want[1].0,
        want[3].0,
        Some(lr),
    );
    assert_eq!(n, 5);
    let n = graft_testkit::check_interrupted_stack::<Riscv>(&regs, bounds, &mem, &Text, want[1].0, want[3].0, Some(lr));
    assert_eq!(n, 5);
}

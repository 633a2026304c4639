//! The arm64 reliable unwinder: AAPCS64 frame records and the kernel's
//! metadata records, as `arch_stack_walk_reliable()` walks them
//! (arch/arm64/kernel/stacktrace.c, arch/arm64/include/asm/stacktrace/common.h).
//!
//! * A frame record is `struct frame_record { u64 fp; u64 lr; }`, pointed to
//!   by x29 (asm/stacktrace/frame.h).
//! * A record with `fp == lr == 0` is a `struct frame_record_meta` whose third
//!   word is its type: `FRAME_META_TYPE_FINAL` (1) ends the walk and must be
//!   `task_pt_regs(tsk)->stackframe`; `FRAME_META_TYPE_PT_REGS` (2) marks an
//!   exception boundary, which a reliable walk refuses
//!   (`arch_reliable_kunwind_consume_entry()`); any other type is an error.
//! * `fp` must be 8-byte aligned and the record wholly on the stack above the
//!   last record consumed (`unwind_consume_stack()`), so the chain strictly
//!   increases and the walk terminates.
//! * Return addresses have their PAC stripped (`ptrauth_strip_kernel_insn_pac`).
//!
//! The walk succeeds when it reaches `bounds.final_frame`.  When that is the
//! kernel's place for it ([`Unwinder::final_frame`] of `bounds.hi`), the record
//! there must be the FINAL metadata record; any other final frame (a
//! user-space thread's root frame, in tests) is an ordinary record the walk
//! stops at without following.
//!
//! Beyond the kernel's own checks (it relies on `return_to_handler` and
//! kretprobe recovery, which graft cannot do from outside), every return
//! address must be ordinary text per [`TextInfo`]: graph-tracer and kretprobe
//! trampolines and exception entry code are refused.

use crate::Arm64;
use graft_core::{
    Arch, HookEntry, SavedRegs, StackAddr, StackBounds, StackReader, SwitchedOut, TaskStacks, TextAddr, TextInfo,
    Unreliable, Unwinder,
};

/// `sizeof(struct frame_record)`.
pub const FRAME_RECORD_SIZE: u64 = 16;
/// `sizeof(struct frame_record_meta)`.
pub const FRAME_RECORD_META_SIZE: u64 = 24;
/// `FRAME_META_TYPE_FINAL`.
pub const FRAME_META_TYPE_FINAL: u64 = 1;
/// `FRAME_META_TYPE_PT_REGS`.
pub const FRAME_META_TYPE_PT_REGS: u64 = 2;
/// `sizeof(struct pt_regs)` (asm/ptrace.h: `regs[31], sp, pc, pstate`,
/// `orig_x0`, `syscallno`, `pmr`, `sdei_ttbr1`, `stackframe`) = 320.
pub const PT_REGS_SIZE: u64 = 320;
/// `offsetof(struct pt_regs, stackframe)` (`S_STACKFRAME`) = 296.
pub const S_STACKFRAME: u64 = 296;
/// `offsetof(struct pt_regs, pc)` (`S_PC`).
pub const S_PC: u64 = 256;
/// `offsetof(struct pt_regs, regs[29])` (`S_FP`).
pub const S_FP: u64 = 29 * 8;
/// `offsetof(struct pt_regs, regs[30])` (`S_LR`).
pub const S_LR: u64 = 30 * 8;

/// The lowest virtual-address size arm64 Linux runs with (`VA_BITS_MIN`):
/// kernel text and modules live in its upper half, so bits 63..48 of a
/// return address are pointer-authentication code or sign.
const VA_BITS: u32 = 48;

/// `XPACLRI`: replace the pointer-authentication bits `[63:VA_BITS]` of a
/// return address with copies of bit 55 (set for kernel addresses, clear
/// for user addresses).  A no-op on unsigned canonical addresses.
pub const fn strip_pac(addr: u64) -> u64 {
    let mask = !0u64 << VA_BITS;
    if addr & (1 << 55) != 0 {
        addr | mask
    } else {
        addr & !mask
    }
}

fn read(mem: &dyn StackReader, bounds: &StackBounds, addr: u64) -> Result<u64, Unreliable> {
    // Callers check bounds first; this keeps the promise even if they did not.
    if !bounds.contains(addr, 8) {
        return Err(Unreliable::OutOfBounds(addr));
    }
    mem.read_u64(StackAddr(addr), <Arm64 as Arch>::ENDIAN).map_err(|_| Unreliable::Fault(addr))
}

/// A frame record pointer must be 8-aligned with the whole record on the stack.
fn check_record(fp: u64, bounds: &StackBounds) -> Result<(), Unreliable> {
    if fp & 7 != 0 {
        return Err(Unreliable::Misaligned(fp));
    }
    if !bounds.contains(fp, FRAME_RECORD_SIZE) {
        return Err(Unreliable::OutOfBounds(fp));
    }
    Ok(())
}

impl TaskStacks for Arm64 {
    /// `cpu_switch_to()` (arch/arm64/kernel/entry.S) saves x19..x28, fp, sp
    /// and lr (as `pc`) in `thread.cpu_context`; `kunwind_init_from_task()`
    /// (arch/arm64/kernel/stacktrace.c) starts from `thread_saved_fp()` and
    /// `thread_saved_pc()`.  Nothing of it lives on the stack to read.
    fn switched_out_regs(ctx: SwitchedOut, bounds: StackBounds, _: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        if !bounds.contains(ctx.sp, 0) {
            return Err(Unreliable::OutOfBounds(ctx.sp));
        }
        check_record(ctx.fp, &bounds)?;
        Ok(SavedRegs { pc: ctx.pc, sp: ctx.sp, fp: ctx.fp, lr: 0 })
    }

    /// At the patchable entry, with `DYNAMIC_FTRACE_WITH_ARGS`: the site ran
    /// `mov x9, x30` and `ftrace_caller` (arch/arm64/kernel/entry-ftrace.S)
    /// hands the caller's lr (x9) as `parent_ip`; x29 is still the caller's
    /// frame record, so the walk goes on from there.
    fn hook_caller_regs(at: HookEntry, bounds: StackBounds, _: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        check_record(at.fp, &bounds)?;
        Ok(SavedRegs { pc: at.parent_ip, sp: at.sp, fp: at.fp, lr: 0 })
    }
}

impl Unwinder for Arm64 {
    /// `&task_pt_regs(tsk)->stackframe`: the top `pt_regs` of the task
    /// stack (`THREAD_SIZE + task_stack_page - sizeof(pt_regs)`), where
    /// `init_cpu_task` (head.S), `kernel_entry 0` (entry.S) and
    /// `copy_thread()` put the final metadata record.
    fn final_frame(hi: StackAddr) -> StackAddr {
        StackAddr(hi.0.wrapping_sub(PT_REGS_SIZE).wrapping_add(S_STACKFRAME))
    }

    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        // Where a kernel task's FINAL record lives; a walk ending elsewhere
        // (a user-space thread's root frame in tests) ends at an ordinary record.
        let kernel_final = Self::final_frame(bounds.hi) == bounds.final_frame;
        let mut pc = strip_pac(regs.pc);
        let mut fp = regs.fp;
        // Lowest address the next record may use (`unwind_consume_stack()`).
        let mut low = bounds.lo.0;
        let mut n = 0;
        loop {
            text.check_return_address(pc)?;
            *out.get_mut(n).ok_or(Unreliable::TooManyFrames)? = TextAddr(pc);
            n += 1;

            if fp == 0 {
                return Err(Unreliable::MissingFinalFrame(0));
            }
            if fp & 7 != 0 {
                return Err(Unreliable::Misaligned(fp));
            }
            if !bounds.contains(fp, FRAME_RECORD_SIZE) {
                return Err(Unreliable::OutOfBounds(fp));
            }
            if fp < low {
                return Err(Unreliable::NotIncreasing(fp));
            }
            if fp > bounds.final_frame.0 {
                // Records only move up the stack: the final one is behind us.
                return Err(Unreliable::MissingFinalFrame(fp));
            }
            let at_final = fp == bounds.final_frame.0;
            if at_final && !kernel_final {
                // The caller named an ordinary record (a thread's root frame)
                // as the final one: the walk is complete.
                return Ok(n);
            }
            let next_fp = read(mem, &bounds, fp)?;
            let next_lr = read(mem, &bounds, fp + 8)?;
            if next_fp == 0 && next_lr == 0 {
                // struct frame_record_meta (kunwind_next_frame_record_meta()).
                if !bounds.contains(fp, FRAME_RECORD_META_SIZE) {
                    return Err(Unreliable::OutOfBounds(fp));
                }
                return match read(mem, &bounds, fp + 16)? {
                    FRAME_META_TYPE_FINAL if at_final => Ok(n),
                    FRAME_META_TYPE_PT_REGS => Err(Unreliable::ExceptionFrame(fp)),
                    _ => Err(Unreliable::MissingFinalFrame(fp)),
                };
            }
            if at_final {
                // task_pt_regs(tsk)->stackframe always holds the FINAL
                // metadata record; an ordinary record there is corruption.
                return Err(Unreliable::MissingFinalFrame(fp));
            }
            low = fp + FRAME_RECORD_SIZE;
            fp = next_fp;
            pc = strip_pac(next_lr);
        }
    }

    /// `regs->pc` of the `pt_regs` whose metadata record (`stackframe`)
    /// is at `at`.
    fn interrupted_pc(at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        bounds.field(mem, at.checked_sub(S_STACKFRAME)?, PT_REGS_SIZE, S_PC, Self::ENDIAN)
    }

    fn code_address(word: u64) -> u64 {
        strip_pac(word)
    }
}

//! The riscv reliable unwinder: frame records under the frame pointer, as
//! `walk_stackframe()` (arch/riscv/kernel/stacktrace.c, `CONFIG_FRAME_POINTER`)
//! walks them, and stricter where that walk is not a reliable one (riscv
//! selects no `HAVE_RELIABLE_STACKTRACE` in 7.3).
//!
//! * `s0` is the frame pointer and holds the frame's CFA (the caller's `sp`
//!   at the call); `struct stackframe { fp; ra; }` (asm/stacktrace.h) sits
//!   just below it: the caller's `s0` at `fp - 16`, the return address into
//!   the caller at `fp - 8`.  Frame pointers are 16-byte aligned (the psABI
//!   keeps `sp` so; the kernel checks 8) and strictly increase.
//! * **Leaf frames**: GCC saves only `s0` (at `fp - 8`) in a function that
//!   calls nothing; the kernel's walk guesses that case only beside a
//!   `pt_regs`.  A reliable walk refuses a frame whose return-address slot
//!   holds a stack address ([`Unreliable::LeafFrame`]).
//! * **Exception frames**: `handle_exception` (arch/riscv/kernel/entry.S)
//!   saves a `struct pt_regs` (288 bytes, asm/ptrace.h) at the handler's
//!   CFA, loads `s0` with the interrupted `sp` (also `pt_regs.sp`) and
//!   calls the handler, whose record then holds `{regs + 288, return into
//!   handle_exception}`.  Refused by either sign: a return address that
//!   [`TextInfo`] calls exception entry (`[handle_exception,
//!   ret_from_exception_end)`, the kernel's own test), or that layout.
//! * **The final frame** is at `task_pt_regs()` (the top `pt_regs`,
//!   `THREAD_SIZE - 288` up the stack): its record, just below it, returns
//!   into the entry code, and the walk ends after reporting that address,
//!   as `stack_trace_save_tsk()` does.  For a kernel thread
//!   (`copy_thread()` in arch/riscv/kernel/process.c: `thread.ra =
//!   ret_from_fork_kernel_asm`, `thread.s[0] = fn`, `thread.sp =
//!   task_pt_regs`), `ret_from_fork_kernel_asm` calls
//!   `ret_from_fork_kernel(fn_arg, fn, regs)` with `s0 = fn`, so the final
//!   record is `{fn, ret_from_fork_kernel_asm+n}`.  For a user task in a
//!   syscall or exception the handler called by `handle_exception` has its
//!   CFA at the user `pt_regs`, and its record is `{user sp, return into
//!   handle_exception}` (exception entry, accepted there only); a forked
//!   child that ran goes through `ret_from_fork_user_asm` →
//!   `ret_from_fork_user(regs)`: `{0, ret_from_fork_user_asm+n}`.  A task
//!   that never ran resumes at `ret_from_fork_*_asm` with `sp` at
//!   `task_pt_regs()` and no frame at all: the walk is that one address.
//!   An idle task's outermost function (`start_kernel()` on the boot CPU,
//!   `smp_callin()` on the others) has its CFA at `task_pt_regs()` too
//!   (arch/riscv/kernel/head.S, `cpu_ops_sbi.c`), called from the boot code
//!   of `.head.text`, which is no text to kallsyms or
//!   `__kernel_text_address()`: a final return address that is not text
//!   ends the walk unreported, as it ends `walk_stackframe()`.
//! * Beyond the kernel's checks, every other return address must be
//!   ordinary kernel text: graph-tracer and kretprobe trampolines refuse
//!   (the kernel recovers them; a reader of stack memory cannot).

use crate::Riscv;
use graft_core::{
    Arch, HookEntry, SavedRegs, StackAddr, StackBounds, StackReader, SwitchedOut, TaskStacks, TextAddr, TextInfo,
    TextKind, Unreliable, Unwinder,
};

/// `sizeof(struct stackframe)`: the record below a frame pointer.
pub const FRAME_RECORD_SIZE: u64 = 16;
/// `PT_SIZE_ON_STACK`: `ALIGN(sizeof(struct pt_regs), STACK_ALIGN)`, 36 words.
pub const PT_SIZE_ON_STACK: u64 = 288;
/// `offsetof(struct pt_regs, epc)`.
pub const PT_EPC: u64 = 0;
/// `offsetof(struct pt_regs, ra)`.
pub const PT_RA: u64 = 8;
/// `offsetof(struct pt_regs, sp)`.
pub const PT_SP: u64 = 16;
/// `offsetof(struct pt_regs, s0)`.
pub const PT_S0: u64 = 64;
/// `offsetof(struct pt_regs, status)`.
pub const PT_STATUS: u64 = 256;
/// Frame pointer alignment.
pub const FP_ALIGN: u64 = 16;

fn read(mem: &dyn StackReader, bounds: &StackBounds, addr: u64) -> Result<u64, Unreliable> {
    if !bounds.contains(addr, 8) {
        return Err(Unreliable::OutOfBounds(addr));
    }
    mem.read_u64(StackAddr(addr), <Riscv as Arch>::ENDIAN).map_err(|_| Unreliable::Fault(addr))
}

/// A frame pointer must be aligned with its record wholly on the stack.
fn check_frame(fp: u64, bounds: &StackBounds) -> Result<u64, Unreliable> {
    if !fp.is_multiple_of(FP_ALIGN) {
        return Err(Unreliable::Misaligned(fp));
    }
    match fp.checked_sub(FRAME_RECORD_SIZE) {
        Some(rec) if bounds.contains(rec, FRAME_RECORD_SIZE) => Ok(rec),
        _ => Err(Unreliable::OutOfBounds(fp)),
    }
}

impl TaskStacks for Riscv {
    /// `walk_stackframe()` (arch/riscv/kernel/stacktrace.c) treats a return
    /// address in `[handle_exception, ret_from_exception_end)` as exception
    /// entry: the two symbols of arch/riscv/kernel/entry.S that span it
    /// (`ret_from_exception_end` is the last label of `ret_from_exception`,
    /// which directly follows `handle_exception`).
    const EXCEPTION_ENTRY: &'static [&'static str] = &["handle_exception", "ret_from_exception"];

    /// `__switch_to` (arch/riscv/kernel/entry.S) saves `ra`, `sp` and
    /// `s0`..`s11` in `thread`; `walk_stackframe()` starts a blocked task
    /// from `thread.s[0]`, `thread.sp` and `thread.ra`.  A task that never
    /// ran has `sp` at `task_pt_regs()` and no frame pointer (`s[0]` is 0,
    /// or a kernel thread's function).
    fn switched_out_regs(ctx: SwitchedOut, bounds: StackBounds, _: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        if !ctx.sp.is_multiple_of(FP_ALIGN) {
            return Err(Unreliable::Misaligned(ctx.sp));
        }
        if !bounds.contains(ctx.sp, 0) {
            return Err(Unreliable::OutOfBounds(ctx.sp));
        }
        if ctx.sp != Self::final_frame(bounds.hi).0 {
            check_frame(ctx.fp, &bounds)?;
        }
        Ok(SavedRegs { pc: ctx.pc, sp: ctx.sp, fp: ctx.fp, lr: 0 })
    }

    /// At the patchable entry the traced function has not run its
    /// prologue: `ra` is the return into the caller (`parent_ip`) and `s0`
    /// still the caller's frame pointer.  `ftrace_caller` saves `s0` in
    /// `fregs` only with `HAVE_FUNCTION_GRAPH_FP_TEST` (function graph
    /// tracer and frame pointers, asm/ftrace.h, mcount-dyn.S), which the
    /// kernel must have for `ftrace_regs_get_frame_pointer()` to mean it.
    fn hook_caller_regs(at: HookEntry, bounds: StackBounds, _: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        if !bounds.contains(at.sp, 0) {
            return Err(Unreliable::OutOfBounds(at.sp));
        }
        check_frame(at.fp, &bounds)?;
        Ok(SavedRegs { pc: at.parent_ip, sp: at.sp, fp: at.fp, lr: 0 })
    }
}

impl Unwinder for Riscv {
    /// `task_pt_regs()` (asm/processor.h): the top `pt_regs` of the stack,
    /// the CFA of the outermost kernel frame of every task.
    fn final_frame(hi: StackAddr) -> StackAddr {
        StackAddr(hi.0.wrapping_sub(PT_SIZE_ON_STACK))
    }

    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        let fin = bounds.final_frame.0;
        // The final frame is task_pt_regs(): its return address may be
        // handle_exception's (a user task's syscall or exception).
        let kernel_final = Self::final_frame(bounds.hi) == bounds.final_frame;
        let mut n = 0;
        let mut emit = |ra: u64, at_final: bool| -> Result<(), Unreliable> {
            match text.kind(TextAddr(ra)) {
                TextKind::ExceptionEntry if at_final && kernel_final => {}
                _ => text.check_return_address(ra)?,
            }
            *out.get_mut(n).ok_or(Unreliable::TooManyFrames)? = TextAddr(ra);
            n += 1;
            Ok(())
        };
        emit(regs.pc, false)?;
        if regs.sp == fin {
            // A task that never ran: nothing on its stack yet.
            return Ok(1);
        }
        let mut fp = regs.fp;
        // A return into exception entry: handle_exception called the
        // frame's function with `sp` at its `pt_regs` (`move a0, sp`), so
        // the frame's CFA is where they lie, which interrupted_pc() reads.
        let at_regs = |e: Unreliable, fp: u64| match e {
            Unreliable::ExceptionFrame(_) => Unreliable::ExceptionFrame(fp),
            e => e,
        };
        // Lowest address the next record may use: the chain only moves up.
        let mut low = regs.sp;
        loop {
            if fp == 0 {
                return Err(Unreliable::MissingFinalFrame(0));
            }
            let rec = check_frame(fp, &bounds)?;
            if rec < low {
                return Err(Unreliable::NotIncreasing(fp));
            }
            if fp > fin {
                return Err(Unreliable::MissingFinalFrame(fp));
            }
            let next = read(mem, &bounds, rec)?;
            let ra = read(mem, &bounds, rec + 8)?;
            if (bounds.lo.0..=bounds.hi.0).contains(&ra) {
                // A leaf's frame: s0 saved where ra would be.
                return Err(Unreliable::LeafFrame(fp));
            }
            if fp == fin {
                // Every kernel frame is proven: what the outermost one
                // returns to is entry code, or for an idle task the boot
                // code (`_start_kernel` in .head.text), which is not
                // text to kallsyms nor to `__kernel_text_address()`:
                // `walk_stackframe()` stops there unreported, and so does
                // this walk (at the final frame only).
                if text.kind(TextAddr(ra)) != TextKind::NotText {
                    emit(ra, true).map_err(|e| at_regs(e, fp))?;
                }
                return Ok(n);
            }
            emit(ra, false).map_err(|e| at_regs(e, fp))?;
            if fp.checked_add(PT_SIZE_ON_STACK) == Some(next) && read(mem, &bounds, fp + PT_SP) == Ok(next) {
                // handle_exception's pt_regs at the handler's CFA.
                return Err(Unreliable::ExceptionFrame(fp));
            }
            low = fp;
            fp = next;
        }
    }

    /// `regs->epc` of the `pt_regs` at `at` (the handler's CFA).
    fn interrupted_pc(at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        bounds.field(mem, at, PT_SIZE_ON_STACK, PT_EPC, Self::ENDIAN)
    }
}

//! The reliable frame-pointer unwinder, mirroring `arch_stack_walk_reliable()`
//! (arch/x86/kernel/stacktrace.c) over the frame-pointer unwinder
//! (arch/x86/kernel/unwind_frame.c), as built with `UNWINDER_FRAME_POINTER`.
//!
//! # Frame layout
//!
//! Every kernel function built with `-fno-omit-frame-pointer` starts (after
//! its fentry site) with `push %rbp; mov %rsp,%rbp`, so `rbp` points at a
//! two-word frame record `{ caller's rbp, return address }` (`struct
//! stack_frame`, `FRAME_HEADER_SIZE` = 16).  A task stack `[lo, hi)` ends with
//! `struct pt_regs` (21 words, 168 bytes) at `task_pt_regs() = hi -
//! TOP_OF_KERNEL_STACK_PADDING - 168`; the padding is 0 on x86_64 unless
//! `CONFIG_X86_FRED` (then 16; see [`last_frame`]).  The walk ends at the
//! *last frame*, `(unsigned long *)task_pt_regs() - 2` (`last_frame()`), or at
//! one of the two variants `is_last_task_frame()` also accepts: a frame one
//! word lower whose return address is duplicated (GCC's stack realignment in
//! `x86_64_start_kernel`), and an ftrace frame three words lower.
//!
//! Entry code that saves a `pt_regs` for an interrupt or exception sets
//! `rbp = regs | 1` (`ENCODE_FRAME_POINTER`, arch/x86/include/asm/frame.h),
//! so a saved rbp with bit 0 set is an encoded `pt_regs` pointer
//! (`decode_frame_pointer()`).  With frame pointers the kernel treats kernel-
//! mode regs on the stack as unreliable, and user-mode regs as the successful
//! end of the walk; so does this unwinder, accepting user-mode regs only at
//! `task_pt_regs()` itself.
//!
//! # Where a walk starts
//!
//! [`SavedRegs`] is the register state at `pc`: `fp` is `rbp` there and `sp`
//! is `rsp`.  A task switched out by `__switch_to_asm` left a `struct
//! inactive_task_frame` at `thread.sp`; [`inactive_task_regs`] turns it into
//! the state the task resumes in (pc = `ret_addr`, fp = the saved `bp`, sp just
//! above the frame), which makes the walk return exactly the addresses the
//! kernel's walk does.  When `sp - 16` holds the frame record `pc` was
//! returned to from and that record is the last frame, the walk ends after
//! `pc` (a forked task that never ran: `copy_thread()` puts its
//! `inactive_task_frame` right below `pt_regs`).
//!
//! # Refusals
//!
//! Beyond the kernel's own checks (frames must lie on the stack and move up
//! without overlapping, return addresses must be kernel text, no kernel-mode
//! regs) the walk refuses misaligned frames, a chain that passes the final
//! frame, and tracing trampolines (the kernel recovers the real return address
//! from the graph or rethook stack, which a reader of stack memory cannot).

use super::X86_64;
use graft_core::{
    Arch, HookEntry, SavedRegs, StackAddr, StackBounds, StackReader, SwitchedOut, TaskStacks, TextAddr, TextInfo,
    Unreliable,
};

/// `sizeof(struct pt_regs)` on x86_64: 21 words.
pub const PT_REGS_SIZE: u64 = 21 * 8;
/// Offset of `pt_regs.bp`.
pub const PT_REGS_BP: u64 = 4 * 8;
/// Offset of `pt_regs.ip`.
pub const PT_REGS_IP: u64 = 16 * 8;
/// Offset of `pt_regs.cs` (`user_mode(regs)` is `regs->cs & 3`).
pub const PT_REGS_CS: u64 = 17 * 8;
/// Offset of `pt_regs.sp`.
pub const PT_REGS_SP: u64 = 19 * 8;
/// `TOP_OF_KERNEL_STACK_PADDING` on x86_64 without `CONFIG_X86_FRED`.
pub const TOP_OF_KERNEL_STACK_PADDING: u64 = 0;
/// `TOP_OF_KERNEL_STACK_PADDING` on x86_64 with `CONFIG_X86_FRED`.
pub const TOP_OF_KERNEL_STACK_PADDING_FRED: u64 = 16;
/// `FRAME_HEADER_SIZE`: saved rbp and return address.
pub const FRAME_HEADER_SIZE: u64 = 16;
/// `sizeof(struct inactive_task_frame)` on x86_64: r15, r14, r13, r12, bx,
/// bp, ret_addr (arch/x86/include/asm/switch_to.h).
pub const INACTIVE_TASK_FRAME_SIZE: u64 = 7 * 8;
/// Offset of `inactive_task_frame.bp`.
pub const INACTIVE_TASK_FRAME_BP: u64 = 5 * 8;
/// Offset of `inactive_task_frame.ret_addr`.
pub const INACTIVE_TASK_FRAME_RET: u64 = 6 * 8;

/// `task_pt_regs()` of a stack whose top is `hi`.
pub const fn task_pt_regs(hi: StackAddr, top_padding: u64) -> StackAddr {
    StackAddr(hi.0.wrapping_sub(top_padding).wrapping_sub(PT_REGS_SIZE))
}

/// `last_frame()`: `(unsigned long *)task_pt_regs(task) - 2`.
pub const fn last_frame(hi: StackAddr, top_padding: u64) -> StackAddr {
    StackAddr(task_pt_regs(hi, top_padding).0.wrapping_sub(FRAME_HEADER_SIZE))
}

/// The state a task switched out by `__switch_to_asm` resumes in, read from
/// its `inactive_task_frame` at `thread_sp` (`task->thread.sp`).
pub fn inactive_task_regs(
    thread_sp: StackAddr,
    bounds: StackBounds,
    mem: &dyn StackReader,
) -> Result<SavedRegs, Unreliable> {
    let frame = thread_sp.0;
    if !bounds.contains(frame, INACTIVE_TASK_FRAME_SIZE) {
        return Err(Unreliable::OutOfBounds(frame));
    }
    let read = |off: u64| {
        let a = frame + off;
        mem.read_u64(StackAddr(a), X86_64::ENDIAN).map_err(|_| Unreliable::Fault(a))
    };
    Ok(SavedRegs {
        pc: read(INACTIVE_TASK_FRAME_RET)?,
        sp: frame + INACTIVE_TASK_FRAME_SIZE,
        fp: read(INACTIVE_TASK_FRAME_BP)?,
        lr: 0,
    })
}

impl TaskStacks for X86_64 {
    /// [`inactive_task_regs`] at `thread.sp`.
    fn switched_out_regs(
        ctx: SwitchedOut,
        bounds: StackBounds,
        mem: &dyn StackReader,
    ) -> Result<SavedRegs, Unreliable> {
        inactive_task_regs(StackAddr(ctx.sp), bounds, mem)
    }

    /// At the `call __fentry__` site, before the prologue: `ftrace_caller`
    /// (arch/x86/kernel/ftrace_64.S, `save_mcount_regs`) reports as the
    /// stack pointer the address of the return address into the caller, and
    /// `rbp` is still the caller's.  So the caller resumes at `parent_ip`
    /// with `rsp` one word up; the word at `sp` must be `parent_ip`.
    fn hook_caller_regs(at: HookEntry, bounds: StackBounds, mem: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        if !bounds.contains(at.sp, 8) {
            return Err(Unreliable::OutOfBounds(at.sp));
        }
        let ret = mem.read_u64(StackAddr(at.sp), X86_64::ENDIAN).map_err(|_| Unreliable::Fault(at.sp))?;
        if ret != at.parent_ip {
            // The graph tracer's `return_to_handler` in its place.
            return Err(Unreliable::Trampoline(ret));
        }
        Ok(SavedRegs { pc: at.parent_ip, sp: at.sp + 8, fp: at.fp, lr: 0 })
    }
}

struct Walk<'a> {
    bounds: StackBounds,
    mem: &'a dyn StackReader,
    text: &'a dyn TextInfo,
    out: &'a mut [TextAddr],
    n: usize,
}

impl Walk<'_> {
    /// A stack word that must be readable.
    fn word(&self, a: u64) -> Result<u64, Unreliable> {
        if !self.bounds.contains(a, 8) {
            return Err(Unreliable::OutOfBounds(a));
        }
        self.mem.read_u64(StackAddr(a), X86_64::ENDIAN).map_err(|_| Unreliable::Fault(a))
    }

    /// A stack word looked at only to recognise a layout.
    fn peek(&self, a: Option<u64>) -> Option<u64> {
        self.word(a?).ok()
    }

    fn emit(&mut self, ret: u64) -> Result<(), Unreliable> {
        self.text.check_return_address(ret)?;
        let slot = self.out.get_mut(self.n).ok_or(Unreliable::TooManyFrames)?;
        *slot = TextAddr(ret);
        self.n += 1;
        Ok(())
    }

    /// `is_last_task_frame()`.
    fn is_last(&self, bp: u64) -> bool {
        let last = self.bounds.final_frame.0;
        if bp == last {
            return true;
        }
        let same =
            |a: Option<u64>, b: Option<u64>| matches!((self.peek(a), self.peek(b)), (Some(x), Some(y)) if x == y);
        // is_last_aligned_frame(): one word lower, return address duplicated.
        if Some(bp) == last.checked_sub(8) {
            return same(bp.checked_add(8), last.checked_add(8));
        }
        // is_last_ftrace_frame(): three words lower, bp and parent duplicated.
        if Some(bp) == last.checked_sub(24) {
            return same(Some(bp), bp.checked_add(16)) && same(bp.checked_add(8), bp.checked_add(32));
        }
        false
    }

    /// An encoded frame pointer: a `pt_regs` at `regs`.
    fn regs_frame(&self, regs: u64, prev_end: u64) -> Result<usize, Unreliable> {
        if regs % 8 != 0 {
            return Err(Unreliable::Misaligned(regs));
        }
        if !self.bounds.contains(regs, PT_REGS_SIZE) {
            return Err(Unreliable::OutOfBounds(regs));
        }
        if regs < prev_end {
            return Err(Unreliable::NotIncreasing(regs));
        }
        let cs = self.word(regs + PT_REGS_CS)?;
        let at_top = self.bounds.final_frame.0.checked_add(FRAME_HEADER_SIZE) == Some(regs);
        if cs & 3 != 0 && at_top {
            // User-mode regs at task_pt_regs(): the walk reached user space.
            return Ok(self.n);
        }
        Err(Unreliable::ExceptionFrame(regs))
    }
}

pub(crate) fn final_frame(hi: StackAddr) -> StackAddr {
    last_frame(hi, TOP_OF_KERNEL_STACK_PADDING)
}

pub(crate) fn unwind_reliable(
    regs: &SavedRegs,
    bounds: StackBounds,
    mem: &dyn StackReader,
    text: &dyn TextInfo,
    out: &mut [TextAddr],
) -> Result<usize, Unreliable> {
    let mut w = Walk { bounds, mem, text, out, n: 0 };
    w.emit(regs.pc)?;

    // The record `pc` was returned to from, when it is the last frame.
    let rec = regs.sp.checked_sub(FRAME_HEADER_SIZE);
    if w.peek(rec.and_then(|r| r.checked_add(8))) == Some(regs.pc) && rec.is_some_and(|r| w.is_last(r)) {
        return Ok(w.n);
    }

    let last = bounds.final_frame.0;
    let mut prev_end = regs.sp;
    let mut prev = regs.fp;
    let mut bp = regs.fp;
    // Each frame lies at least FRAME_HEADER_SIZE above the previous one and
    // at most at the final frame, so the loop ends.
    loop {
        if bp & 1 != 0 {
            return w.regs_frame(bp & !1, prev_end);
        }
        if bp == 0 {
            return Err(Unreliable::MissingFinalFrame(prev));
        }
        if bp % 8 != 0 {
            return Err(Unreliable::Misaligned(bp));
        }
        if !bounds.contains(bp, FRAME_HEADER_SIZE) {
            return Err(Unreliable::OutOfBounds(bp));
        }
        if bp < prev_end {
            return Err(Unreliable::NotIncreasing(bp));
        }
        if bp > last {
            return Err(Unreliable::MissingFinalFrame(bp));
        }
        let ret = w.word(bp + 8)?;
        w.emit(ret)?;
        if w.is_last(bp) {
            return Ok(w.n);
        }
        prev_end = bp + FRAME_HEADER_SIZE;
        prev = bp;
        bp = w.word(bp)?;
    }
}

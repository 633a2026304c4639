//! The s390 back-chain unwinder, as `arch_stack_walk_reliable()` runs it.
//!
//! The kernel is built `-mbackchain -mpacked-stack`: each frame is the
//! 160-byte `struct stack_frame` of `arch/s390/include/asm/stacktrace.h`,
//! with `gprs[10]` (r6..r15) at offset 72 and `back_chain` at offset 152.
//! The back chain of the frame at `sp` is the caller's frame; the r14 slot
//! (`gprs[8]`, offset 136) of a frame holds the address its owner resumes
//! at, stored there by the callee's prologue (`stmg %r14,%r15,136(%r15)`)
//! or by `__switch_to`.
//!
//! `unwind_next_frame()` (`arch/s390/kernel/unwind_bc.c`) follows non-zero
//! back chains; a zero back chain means a `struct pt_regs` sits right above
//! the frame (`sp + STACK_FRAME_OVERHEAD`).  It is the final one when it is
//! `task_pt_regs(task)`, at the top of the task stack; any other is an
//! interrupt or exception frame, which `arch_stack_walk_reliable()`
//! (`arch/s390/kernel/stacktrace.c`) refuses.  It also refuses a frame off
//! the task stack, a return address that is not kernel text, the kretprobe
//! trampoline, a misaligned stack pointer, and a chain that does not move up
//! the stack (`outside_of_stack()`); this walk adds the function-graph
//! trampoline, which the kernel would map back through
//! `unwind_recover_ret_addr()`.
//!
//! The walk is written once over a [`FrameLayout`], so the same code also
//! walks the ELF ABI's standard (non-packed) frames that user-space code
//! built with `+backchain` lays out; [`graft_core::Unwinder`] uses
//! [`FrameLayout::PACKED`].

use crate::S390;
use graft_core::{
    Endian, HookEntry, SavedRegs, StackAddr, StackBounds, StackReader, SwitchedOut, TaskStacks, TextAddr, TextInfo,
    Unreliable, Unwinder,
};

/// `STACK_FRAME_OVERHEAD` (`arch/s390/include/uapi/asm/ptrace.h`).
pub const STACK_FRAME_OVERHEAD: u64 = 160;
/// `__PT_SIZE`: `sizeof(struct pt_regs)` (`arch/s390/include/asm/ptrace.h`).
pub const PT_SIZE: u64 = 200;
/// Offset of `psw.addr` in `struct pt_regs` (`args[1]`, then `psw_t`).
pub const PT_PSW_ADDR: u64 = 16;
/// Offset of `gprs[0]` in `struct pt_regs`.
pub const PT_GPRS: u64 = 24;

/// Where a frame keeps its back chain and its owner's resume address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// Offset of the back chain from the frame's stack pointer.
    pub back_chain: u64,
    /// Offset of the saved r14 slot.
    pub r14: u64,
    /// Bytes of a frame: a frame at `sp` must end by `bounds.hi`.
    pub size: u64,
    /// Whether the final frame must hold a zero back chain (the kernel's
    /// entry code clears it: `xc __SF_BACKCHAIN(8,%r15),...` in
    /// `arch/s390/kernel/entry.S`, `frame->sf.back_chain = 0` in
    /// `copy_thread()`).  User-space root frames chain on into libc.
    pub final_zero_chain: bool,
}

impl FrameLayout {
    /// The kernel's `-mpacked-stack` frame (`struct stack_frame`).
    pub const PACKED: FrameLayout =
        FrameLayout { back_chain: 152, r14: 72 + 8 * 8, size: STACK_FRAME_OVERHEAD, final_zero_chain: true };
    /// The s390x ELF ABI standard frame: back chain at 0, r6..r15 at 48
    /// (`struct stack_frame_user`), as user space built with `+backchain`.
    pub const STANDARD: FrameLayout =
        FrameLayout { back_chain: 0, r14: 48 + 8 * 8, size: STACK_FRAME_OVERHEAD, final_zero_chain: false };
}

/// `task_pt_regs()` of a stack whose top is `hi`, and the final frame below it
/// (`STACK_INIT_OFFSET` in `arch/s390/include/asm/thread_info.h`).
pub const fn final_frame(hi: StackAddr) -> StackAddr {
    StackAddr(hi.0.wrapping_sub(PT_SIZE + STACK_FRAME_OVERHEAD))
}

/// The registers of a task sleeping in `__switch_to`: its saved kernel stack
/// pointer `ksp` (`task->thread.ksp`) and the resume address in that frame's
/// r14 slot, exactly where `__unwind_start()` starts.
pub fn task_regs(ksp: StackAddr, bounds: StackBounds, mem: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
    let layout = FrameLayout::PACKED;
    check_frame(&layout, ksp.0, bounds)?;
    let pc = read(mem, ksp.0 + layout.r14)?;
    Ok(SavedRegs { pc, sp: ksp.0, fp: 0, lr: 0 })
}

impl TaskStacks for S390 {
    /// [`task_regs`] at `thread.ksp`.
    fn switched_out_regs(
        ctx: SwitchedOut,
        bounds: StackBounds,
        mem: &dyn StackReader,
    ) -> Result<SavedRegs, Unreliable> {
        task_regs(StackAddr(ctx.sp), bounds, mem)
    }

    /// At the `brasl %r0,ftrace_caller` entry (before the prologue), %r15 is
    /// still the caller's frame and %r14 the return address into the caller
    /// (`parent_ip`); the walk follows the caller's back chain from there.
    fn hook_caller_regs(at: HookEntry, bounds: StackBounds, _: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        check_frame(&FrameLayout::PACKED, at.sp, bounds)?;
        Ok(SavedRegs { pc: at.parent_ip, sp: at.sp, fp: 0, lr: 0 })
    }
}

fn read(mem: &dyn StackReader, a: u64) -> Result<u64, Unreliable> {
    mem.read_u64(StackAddr(a), Endian::Big).map_err(|_| Unreliable::Fault(a))
}

/// A frame at `sp` must be 8-aligned and lie wholly on the stack.
fn check_frame(layout: &FrameLayout, sp: u64, bounds: StackBounds) -> Result<(), Unreliable> {
    if sp & 7 != 0 {
        return Err(Unreliable::Misaligned(sp));
    }
    if !bounds.contains(sp, layout.size) {
        return Err(Unreliable::OutOfBounds(sp));
    }
    Ok(())
}

/// Walk the back chain laid out as `layout`; see [`Unwinder::unwind_reliable`].
///
/// Every read lies in a frame `[sp, sp + layout.size)` already checked to
/// be inside `bounds`; each step moves strictly up the stack, so the walk
/// ends after at most `(hi - lo) / 8` frames (or `out.len()`).
pub fn walk(
    layout: &FrameLayout,
    regs: &SavedRegs,
    bounds: StackBounds,
    mem: &dyn StackReader,
    text: &dyn TextInfo,
    out: &mut [TextAddr],
) -> Result<usize, Unreliable> {
    let final_sp = bounds.final_frame.0;
    let mut sp = regs.sp;
    let mut ip = regs.pc;
    check_frame(layout, sp, bounds)?;
    if sp > final_sp {
        return Err(Unreliable::MissingFinalFrame(sp));
    }
    let mut n = 0;
    loop {
        text.check_return_address(ip)?;
        *out.get_mut(n).ok_or(Unreliable::TooManyFrames)? = TextAddr(ip);
        n += 1;
        if sp == final_sp && !layout.final_zero_chain {
            return Ok(n);
        }
        let chain = read(mem, sp + layout.back_chain)?;
        if chain == 0 {
            if sp == final_sp {
                // `is_final_pt_regs()`: task_pt_regs() sits right above.
                return Ok(n);
            }
            // A pt_regs of an interrupt or exception (`state.regs` set).
            return Err(Unreliable::ExceptionFrame(sp + STACK_FRAME_OVERHEAD));
        }
        if chain <= sp {
            return Err(Unreliable::NotIncreasing(chain));
        }
        check_frame(layout, chain, bounds)?;
        if chain > final_sp {
            return Err(Unreliable::MissingFinalFrame(chain));
        }
        sp = chain;
        ip = read(mem, sp + layout.r14)?;
    }
}

impl Unwinder for S390 {
    fn final_frame(hi: StackAddr) -> StackAddr {
        final_frame(hi)
    }

    /// `regs.sp` is the innermost frame (`thread.ksp` of a sleeping task)
    /// and `regs.pc` its resume address: [`task_regs`] reads both as
    /// `__unwind_start()` does.
    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        walk(&FrameLayout::PACKED, regs, bounds, mem, text, out)
    }

    /// `regs->psw.addr` of the `pt_regs` at `at`.
    fn interrupted_pc(at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        bounds.field(mem, at, PT_SIZE, PT_PSW_ADDR, Endian::Big)
    }
}

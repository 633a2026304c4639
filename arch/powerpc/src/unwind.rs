//! The reliable back-chain walk of `arch_stack_walk_reliable()`
//! (arch/powerpc/kernel/stacktrace.c), over a bounded [`StackReader`].
//!
//! ppc64 ELFv2 frame (asm/ptrace.h): every frame starts with the back chain
//! (`stack[0]`, the caller's r1, stored by `stdu r1,-size(r1)`), and a callee
//! saves its return address, the LR, at `stack[STACK_FRAME_LR_SAVE]` = 16 bytes
//! into its *caller's* frame.  So the word at `sp + 16` of a frame is the
//! return address into the function owning that frame, valid once that
//! function has called something; the innermost frame's slot is not trusted.
//! Frames are 16-byte aligned and the back chain strictly increases.  An
//! interrupt frame carries `STACK_FRAME_REGS_MARKER` ("REGS") at
//! `STACK_INT_FRAME_MARKER` (32) bytes into the frame.
//!
//! Differences from the kernel, both stricter: a function-graph return
//! address is refused (the kernel recovers it from the task's `ret_stack`,
//! which a [`StackReader`] cannot see), and so is the task's own `regs.pc` when
//! it is not kernel text.  Like the kernel, a task running inside a
//! replacement entered through `livepatch_handler` shows that handler's return
//! address where its caller's should be (the real one is on the livepatch
//! stack, which the walk does not read); a [`TextInfo`] that wants to treat
//! that as unknown can classify `livepatch_handler` as a trampoline.

use crate::Powerpc;
use graft_core::{
    Arch, HookEntry, SavedRegs, StackAddr, StackBounds, StackReader, SwitchedOut, TaskKind, TaskStacks, TextAddr,
    TextInfo, Unreliable, Unwinder,
};

/// `STACK_FRAME_LR_SAVE` in bytes (2 longs).
pub const LR_SAVE: u64 = 16;
/// `STACK_FRAME_MIN_SIZE` (ELFv2): back chain, CR save, LR save, TOC save.
pub const FRAME_MIN_SIZE: u64 = 32;
/// `sizeof(struct pt_regs)` on ppc64: 44 longs plus the 4-long union that
/// keeps interrupt frames 16-byte aligned.
pub const PT_REGS_SIZE: u64 = 48 * 8;
/// `offsetof(struct pt_regs, nip)`: after `gpr[32]`.
pub const PT_NIP: u64 = 32 * 8;
/// `STACK_INT_FRAME_MARKER` (ELFv2) in bytes.
pub const INT_FRAME_MARKER: u64 = FRAME_MIN_SIZE;
/// `STACK_INT_FRAME_REGS` (ELFv2): where `pt_regs` starts in an interrupt frame.
pub const INT_FRAME_REGS: u64 = FRAME_MIN_SIZE + 16;
/// `STACK_USER_INT_FRAME_SIZE` (ELFv2): minimum frame, marker pad, `pt_regs`.
pub const USER_INT_FRAME_SIZE: u64 = PT_REGS_SIZE + FRAME_MIN_SIZE + 16;
/// `KERNEL_REDZONE_SIZE`.
pub const KERNEL_REDZONE_SIZE: u64 = 288;
/// `STACK_INT_FRAME_SIZE`: a kernel-mode interrupt frame, red zone included.
pub const INT_FRAME_SIZE: u64 = KERNEL_REDZONE_SIZE + USER_INT_FRAME_SIZE;
/// `STACK_FRAME_REGS_MARKER` on little endian: reads "REGS" in memory.
pub const REGS_MARKER: u64 = 0x5347_4552;

/// The final frame of a kernel thread (`PF_KTHREAD`), whose stack top is `hi`:
/// `copy_thread()` (arch/powerpc/kernel/process.c) leaves one minimal frame
/// with a zero back chain.
pub const fn final_frame_kthread(hi: StackAddr) -> StackAddr {
    StackAddr(hi.0.wrapping_sub(FRAME_MIN_SIZE))
}

/// The final frame of a user task, whose stack top is `hi`: `copy_thread()`
/// places the user interrupt frame (`pt_regs`) there.
pub const fn final_frame_user(hi: StackAddr) -> StackAddr {
    StackAddr(hi.0.wrapping_sub(USER_INT_FRAME_SIZE))
}

/// `STACK_SWITCH_FRAME_REGS` (ELFv2): where the `pt_regs` of `_switch`'s
/// frame start.
pub const SWITCH_FRAME_REGS: u64 = FRAME_MIN_SIZE + 16;
/// `_NIP` (asm-offsets.c `STACK_PT_REGS_OFFSET(_NIP, nip)`): the resume
/// address in `_switch`'s frame (`pt_regs.nip`, after 32 GPRs).
pub const SWITCH_FRAME_NIP: u64 = SWITCH_FRAME_REGS + 32 * 8;

impl TaskStacks for Powerpc {
    /// `arch_stack_walk()` (arch/powerpc/kernel/stacktrace.c) reads the LR
    /// slot of every frame from ksp up: first that of `_switch`'s own frame,
    /// which nothing wrote, and last that of the final frame, which the
    /// reliable walk stops at.
    const TRACE_TSK_SLACK: (usize, usize) = (1, 1);

    /// `_switch` (arch/powerpc/kernel/switch.S) saves the caller's LR in the
    /// caller's frame (`PPC_CREATE_STACK_FRAME`) and in its own frame's
    /// `_NIP`, then records that frame in `thread.ksp`; `copy_thread()` builds
    /// the same frame for a task that never ran, its `_NIP` being
    /// `ret_from_fork*`.  The kernel's reliable walk skips the frame at ksp
    /// (its LR slot was never written) and returns, from the next frame up,
    /// each LR slot: the first is `_NIP`.  So the walk resumes at `_NIP` in
    /// the frame above ksp, whose own LR slot is not read again.
    fn switched_out_regs(
        ctx: SwitchedOut,
        bounds: StackBounds,
        mem: &dyn StackReader,
    ) -> Result<SavedRegs, Unreliable> {
        let ksp = ctx.sp;
        if ksp & 0xf != 0 {
            return Err(Unreliable::Misaligned(ksp));
        }
        if !bounds.contains(ksp, SWITCH_FRAME_NIP + 8) {
            return Err(Unreliable::OutOfBounds(ksp));
        }
        let up = read(mem, &bounds, ksp)?;
        if up <= ksp {
            return Err(Unreliable::NotIncreasing(up));
        }
        let pc = read(mem, &bounds, ksp + SWITCH_FRAME_NIP)?;
        // A task that never ran: the frame above ksp is the final frame,
        // where a walk cannot start; from ksp it skips that frame and ends.
        let sp = if up == bounds.final_frame.0 { ksp } else { up };
        Ok(SavedRegs { pc, sp, fp: 0, lr: 0 })
    }

    /// `arch_stack_walk_reliable()` ends a kthread's walk one minimal frame
    /// below the top, a user task's at its user interrupt frame.
    fn task_final_frame(hi: StackAddr, kind: TaskKind) -> StackAddr {
        match kind {
            TaskKind::Kthread => final_frame_kthread(hi),
            TaskKind::User => final_frame_user(hi),
        }
    }

    /// At the `-mprofile-kernel` entry (`mflr r0; bl _mcount`, before the
    /// prologue) r1 is still the caller's frame, which the walk starts from
    /// (its LR slot is the traced function's to write, and is not read).
    fn hook_caller_regs(at: HookEntry, bounds: StackBounds, _: &dyn StackReader) -> Result<SavedRegs, Unreliable> {
        if at.sp & 0xf != 0 {
            return Err(Unreliable::Misaligned(at.sp));
        }
        if !bounds.contains(at.sp, FRAME_MIN_SIZE) {
            return Err(Unreliable::OutOfBounds(at.sp));
        }
        Ok(SavedRegs { pc: at.parent_ip, sp: at.sp, fp: 0, lr: 0 })
    }
}

/// Read the stack word at `a`, refusing anything outside `bounds`.
fn read(mem: &dyn StackReader, bounds: &StackBounds, a: u64) -> Result<u64, Unreliable> {
    if !bounds.contains(a, 8) {
        return Err(Unreliable::OutOfBounds(a));
    }
    mem.read_u64(StackAddr(a), Powerpc::ENDIAN).map_err(|_| Unreliable::Fault(a))
}

impl Unwinder for Powerpc {
    /// A user task's final frame ([`final_frame_user`]): what a livepatch
    /// transition waits on.  Kernel threads end one minimal frame below the
    /// top ([`final_frame_kthread`]); a caller walking a kthread sets
    /// `StackBounds::final_frame` to that instead.
    fn final_frame(hi: StackAddr) -> StackAddr {
        final_frame_user(hi)
    }

    /// `out[0]` is `regs.pc`; then, from the second frame up, each frame's LR
    /// save slot, until the back chain reaches `bounds.final_frame` exactly.
    /// `regs.sp` is the task's r1 (`thread.ksp` for a sleeping task);
    /// `regs.lr` and `regs.fp` are not used.
    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        let stack_end = bounds.final_frame.0;
        // The deepest frame a back chain may reach short of the final one.
        let top = stack_end.checked_sub(FRAME_MIN_SIZE).ok_or(Unreliable::MissingFinalFrame(stack_end))?;
        let mut sp = regs.sp;
        if sp < bounds.lo.0 || sp > top {
            return Err(Unreliable::OutOfBounds(sp));
        }
        text.check_return_address(regs.pc)?;
        let mut n = 0;
        *out.get_mut(n).ok_or(Unreliable::TooManyFrames)? = TextAddr(regs.pc);
        n += 1;
        let mut first = true;
        // Terminates: sp strictly increases and stays below stack_end.
        while sp != stack_end {
            // The ABI requires 16-byte aligned frames.
            if sp & 0xf != 0 {
                return Err(Unreliable::Misaligned(sp));
            }
            let newsp = read(mem, &bounds, sp)?;
            if newsp == 0 {
                // The chain's end (a kthread's root frame) before the final frame.
                return Err(Unreliable::MissingFinalFrame(sp));
            }
            if newsp <= sp {
                return Err(Unreliable::NotIncreasing(newsp));
            }
            if newsp != stack_end && newsp > top {
                // Past the final frame: out of the stack, or skipping over it.
                return Err(if bounds.contains(newsp, 8) {
                    Unreliable::MissingFinalFrame(newsp)
                } else {
                    Unreliable::OutOfBounds(newsp)
                });
            }
            // Only the innermost frame's back chain is trusted: its LR slot may
            // be uninitialised.
            if !first {
                if sp <= stack_end.saturating_sub(INT_FRAME_SIZE)
                    && read(mem, &bounds, sp + INT_FRAME_MARKER)? == REGS_MARKER
                {
                    return Err(Unreliable::ExceptionFrame(sp));
                }
                let ip = read(mem, &bounds, sp + LR_SAVE)?;
                text.check_return_address(ip)?;
                *out.get_mut(n).ok_or(Unreliable::TooManyFrames)? = TextAddr(ip);
                n += 1;
            }
            first = false;
            sp = newsp;
        }
        Ok(n)
    }

    /// `regs->nip` of the interrupt frame at `at` (its back-chain word).
    fn interrupted_pc(at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        bounds.field(mem, at.checked_add(INT_FRAME_REGS)?, PT_REGS_SIZE, PT_NIP, Self::ENDIAN)
    }
}

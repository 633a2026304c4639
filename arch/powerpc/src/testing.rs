//! Synthetic ppc64 ELFv2 kernel stacks, laid out as the kernel lays them out,
//! for tests, benchmarks and fuzzing (here and in other crates' tests).
//!
//! Plain `no_std` code writing into a caller-supplied buffer that stands for
//! the stack `[base, base + len)`.  Frames are pushed from the top (outermost)
//! down, as calls would create them:
//!
//! * [`StackBuilder::kthread`] / [`StackBuilder::user_task`] start with the
//!   final frame `copy_thread()` (arch/powerpc/kernel/process.c) creates;
//! * [`StackBuilder::call`] pushes a callee frame: back chain at `sp + 0`, and
//!   the callee's return address written into the caller's LR save slot
//!   (`caller_sp + 16`), as the callee's prologue (`mflr r0; std r0,16(r1);
//!   stdu r1,-size(r1)`) does;
//! * [`StackBuilder::interrupt`] pushes a kernel interrupt frame
//!   (`STACK_INT_FRAME_SIZE`, with the "REGS" marker, as
//!   arch/powerpc/kernel/interrupt_64.S and exceptions-64s.S build it).
//!
//! [`StackBuilder::expected`] returns the chain the reliable walk must yield.

use crate::unwind::{
    final_frame_kthread, final_frame_user, FRAME_MIN_SIZE, INT_FRAME_MARKER, INT_FRAME_SIZE, LR_SAVE, REGS_MARKER,
};
use crate::Powerpc;
use graft_core::{Arch, SavedRegs, StackAddr, StackBounds, TextAddr};

/// The most frames [`StackBuilder`] remembers for [`StackBuilder::expected`].
pub const MAX_FRAMES: usize = 256;

/// Builds a kernel stack in `mem`, which stands for `[base, base + mem.len())`.
#[derive(Debug)]
pub struct StackBuilder<'a> {
    mem: &'a mut [u8],
    base: u64,
    sp: u64,
    final_frame: u64,
    /// Return addresses written, innermost last.
    rets: [u64; MAX_FRAMES],
    nrets: usize,
}

impl<'a> StackBuilder<'a> {
    fn new(mem: &'a mut [u8], base: u64, final_frame: u64) -> Self {
        assert!(base.is_multiple_of(16) && mem.len().is_multiple_of(16), "stack must be 16-byte aligned");
        mem.fill(0);
        StackBuilder { mem, base, sp: final_frame, final_frame, rets: [0; MAX_FRAMES], nrets: 0 }
    }

    /// A kernel thread's stack: one minimal frame with a zero back chain at
    /// the top (`PF_KTHREAD` in `copy_thread()`).
    ///
    /// # Panics
    /// If `base` or the length is not 16-byte aligned, or the stack is tiny.
    pub fn kthread(mem: &'a mut [u8], base: u64) -> Self {
        let hi = base + mem.len() as u64;
        let f = final_frame_kthread(StackAddr(hi)).0;
        let mut b = Self::new(mem, base, f);
        b.put(f, 0);
        b
    }

    /// A user task's stack: the user interrupt frame at the top, its back
    /// chain pointing to the user stack pointer `user_sp` and the "REGS"
    /// marker at `STACK_INT_FRAME_MARKER` (user-thread branch of `copy_thread()`).
    ///
    /// # Panics
    /// As [`StackBuilder::kthread`].
    pub fn user_task(mem: &'a mut [u8], base: u64, user_sp: u64) -> Self {
        let hi = base + mem.len() as u64;
        let f = final_frame_user(StackAddr(hi)).0;
        let mut b = Self::new(mem, base, f);
        b.put(f, user_sp);
        b.put(f + INT_FRAME_MARKER, REGS_MARKER);
        b
    }

    /// Push a frame of `size` bytes (16-byte multiple, at least
    /// `STACK_FRAME_MIN_SIZE`) for a function called from the current
    /// innermost one, which it returns into at `ret`.  Returns the new sp.
    ///
    /// # Panics
    /// On a bad size or when the stack is full.
    pub fn call(&mut self, size: u64, ret: u64) -> u64 {
        assert!(size >= FRAME_MIN_SIZE && size.is_multiple_of(16), "bad frame size {size}");
        let caller = self.sp;
        let sp = caller.checked_sub(size).filter(|&s| s >= self.base).expect("stack full");
        self.put(caller + LR_SAVE, ret);
        self.put(sp, caller);
        self.sp = sp;
        assert!(self.nrets < MAX_FRAMES, "too many frames");
        self.rets[self.nrets] = ret;
        self.nrets += 1;
        sp
    }

    /// Push a kernel-mode interrupt frame (`STACK_INT_FRAME_SIZE`, marker
    /// set), interrupting the current innermost function at `ret`.  Returns
    /// the new sp.
    ///
    /// # Panics
    /// When the stack is full.
    pub fn interrupt(&mut self, ret: u64) -> u64 {
        let sp = self.call(INT_FRAME_SIZE, ret);
        self.put(sp + INT_FRAME_MARKER, REGS_MARKER);
        sp
    }

    /// Store a stack word (to corrupt a frame).
    ///
    /// # Panics
    /// Outside the stack.
    pub fn put(&mut self, addr: u64, v: u64) {
        let off = usize::try_from(addr - self.base).expect("address below the stack");
        self.mem[off..off + 8].copy_from_slice(&Powerpc::ENDIAN.u64_bytes(v));
    }

    /// Read a stack word.
    ///
    /// # Panics
    /// Outside the stack.
    pub fn get(&self, addr: u64) -> u64 {
        let off = usize::try_from(addr - self.base).expect("address below the stack");
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.mem[off..off + 8]);
        Powerpc::ENDIAN.u64(b)
    }

    /// The innermost frame's sp.
    pub fn sp(&self) -> u64 {
        self.sp
    }

    /// The stack's bounds and final frame.
    pub fn bounds(&self) -> StackBounds {
        StackBounds {
            lo: StackAddr(self.base),
            hi: StackAddr(self.base + self.mem.len() as u64),
            final_frame: StackAddr(self.final_frame),
        }
    }

    /// The saved registers of a task sleeping at `pc` in the innermost frame.
    pub fn regs(&self, pc: u64) -> SavedRegs {
        SavedRegs { pc, sp: self.sp, fp: 0, lr: 0 }
    }

    /// The chain a reliable walk from [`StackBuilder::regs`]`(pc)` returns:
    /// `pc`, then the return addresses innermost first, except the one into
    /// the final frame's owner (the walk stops at the final frame).  Returns
    /// the count written to `out`.
    ///
    /// # Panics
    /// If `out` is too short.
    pub fn expected(&self, pc: u64, out: &mut [TextAddr]) -> usize {
        out[0] = TextAddr(pc);
        let mut n = 1;
        // rets[0] went into the final frame's LR slot: never read.
        for &r in self.rets[1..self.nrets.max(1)].iter().rev() {
            out[n] = TextAddr(r);
            n += 1;
        }
        n
    }

    /// The buffer.
    pub fn mem(&self) -> &[u8] {
        self.mem
    }

    /// Address of `mem()[0]`.
    pub fn base(&self) -> u64 {
        self.base
    }
}

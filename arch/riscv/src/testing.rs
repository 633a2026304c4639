//! Builders for synthetic riscv kernel stacks, laid out as the kernel lays
//! them out, for graft's tests (this crate's, core's simulator, fuzzing).
//!
//! Plain `no_std` code writing into a caller-supplied buffer that stands for
//! the stack `[base, base + buf.len())`; read it back with
//! [`graft_core::SliceMemory`].
//!
//! Layout (asm/stacktrace.h, asm/ptrace.h, asm/processor.h `task_pt_regs()`,
//! arch/riscv/kernel/entry.S and process.c):
//!
//! ```text
//! hi                  top of the THREAD_SIZE stack
//! hi - 288            struct pt_regs (task_pt_regs): the final frame's CFA
//! hi - 304            final record {user sp | 0 | kthread fn, return into entry code}
//!                     frames: the record {caller's s0, ra} just below each s0
//! ```
//!
//! An exception taken in the kernel pushes another `pt_regs` (`sp` field =
//! the interrupted `sp`) and the handler's record {regs + 288, return into
//! `handle_exception`} just below it.

use crate::unwind::{FRAME_RECORD_SIZE, PT_EPC, PT_RA, PT_S0, PT_SIZE_ON_STACK, PT_SP, PT_STATUS};
use crate::Riscv;
use graft_core::{Arch, SavedRegs, StackAddr, StackBounds, TaskKind, TextAddr, Unwinder};

/// A user task's `sp` as its `pt_regs` and final record hold it.
pub const USER_SP: u64 = 0x3f_ffff_f7f0;
/// A kernel thread's function, in the final record (`thread.s[0]`).
pub const KTHREAD_FN: u64 = 0xffff_ffff_8000_2000;
/// `SR_PP | SR_PIE` (asm/csr.h): a kernel thread's `pt_regs.status`
/// (`copy_thread()`).
pub const KTHREAD_STATUS: u64 = 0x100 | 0x20;

/// Writes frames into a buffer standing for the stack at `base`.
#[derive(Debug)]
pub struct StackBuilder<'a> {
    buf: &'a mut [u8],
    base: u64,
}

impl<'a> StackBuilder<'a> {
    /// A stack `[base, base + buf.len())`, zero-filled.
    pub fn new(buf: &'a mut [u8], base: u64) -> Self {
        buf.fill(0);
        StackBuilder { buf, base }
    }

    /// One past the highest address.
    pub fn hi(&self) -> StackAddr {
        StackAddr(self.base + self.buf.len() as u64)
    }

    /// The kernel's bounds for this stack: the whole buffer, final frame at
    /// `task_pt_regs()`.
    pub fn bounds(&self) -> StackBounds {
        StackBounds { lo: StackAddr(self.base), hi: self.hi(), final_frame: Riscv::final_frame(self.hi()) }
    }

    /// Store a stack word.
    ///
    /// # Panics
    /// If `[addr, addr + 8)` is not inside the buffer.
    pub fn put(&mut self, addr: u64, value: u64) {
        let off = addr.checked_sub(self.base).expect("address below the stack") as usize;
        self.buf[off..off + 8].copy_from_slice(&Riscv::ENDIAN.u64_bytes(value));
    }

    /// The `struct stackframe { fp, ra }` of the frame whose `s0` is `fp`.
    pub fn record(&mut self, fp: u64, next_fp: u64, ra: u64) {
        self.put(fp - FRAME_RECORD_SIZE, next_fp);
        self.put(fp - 8, ra);
    }

    /// A `struct pt_regs` at `at` with the fields a walk may look at.
    pub fn pt_regs(&mut self, at: u64, epc: u64, ra: u64, sp: u64, s0: u64, status: u64) {
        for (off, v) in [(PT_EPC, epc), (PT_RA, ra), (PT_SP, sp), (PT_S0, s0), (PT_STATUS, status)] {
            self.put(at + off, v);
        }
    }

    /// An exception taken in the kernel with `sp` at `interrupted_sp`:
    /// `handle_exception`'s `pt_regs` below it and its handler's record
    /// (returning to `entry_ra`).  Returns the handler's `s0`.
    pub fn exception(&mut self, interrupted_sp: u64, epc: u64, s0: u64, entry_ra: u64) -> u64 {
        let regs = interrupted_sp - PT_SIZE_ON_STACK;
        self.pt_regs(regs, epc, 0, interrupted_sp, s0, 0x100);
        self.record(regs, interrupted_sp, entry_ra);
        regs
    }

    /// A sleeping task's whole stack: `pcs[0]` is where it resumes (the saved
    /// `ra`), `pcs[1..]` the return addresses of its frames, innermost first,
    /// the last one (into the entry code) in the final record; frames are
    /// `frame_size` bytes apart.  `kind` says what the final record and the
    /// top `pt_regs` hold.  One `pc` is a task that never ran.  Returns the
    /// saved registers and the kernel's bounds; a walk yields `pcs`.
    ///
    /// # Panics
    /// If `pcs` is empty, `frame_size` is not a non-zero multiple of 16, or
    /// the frames do not fit.
    pub fn task_of(&mut self, kind: TaskKind, pcs: &[TextAddr], frame_size: u64) -> (SavedRegs, StackBounds) {
        assert!(!pcs.is_empty() && frame_size >= 16 && frame_size.is_multiple_of(16));
        let fin = self.bounds().final_frame.0;
        let (fp_word, status) = match kind {
            TaskKind::Kthread => (KTHREAD_FN, KTHREAD_STATUS),
            TaskKind::User => (USER_SP, 0),
        };
        self.pt_regs(fin, 0, 0, if kind == TaskKind::User { USER_SP } else { 0 }, 0, status);
        if pcs.len() == 1 {
            let fp = if kind == TaskKind::User { 0 } else { fp_word };
            return (SavedRegs { pc: pcs[0].0, sp: fin, fp, lr: 0 }, self.bounds());
        }
        let n = pcs.len() as u64 - 1;
        assert!(fin.checked_sub(n * frame_size).is_some_and(|low| low >= self.base), "frames do not fit");
        let mut next = fp_word;
        for i in 0..n {
            let fp = chain_fp(self.hi(), frame_size, i);
            self.record(fp, next, pcs[(n - i) as usize].0);
            next = fp;
        }
        (SavedRegs { pc: pcs[0].0, sp: next - frame_size, fp: next, lr: 0 }, self.bounds())
    }

    /// [`StackBuilder::task_of`] for a user task.
    pub fn task(&mut self, pcs: &[TextAddr], frame_size: u64) -> (SavedRegs, StackBounds) {
        self.task_of(TaskKind::User, pcs, frame_size)
    }
}

/// The `s0` of the `i`-th frame of a stack ending at `hi` built by
/// [`StackBuilder::task`] (0 is the final frame, `task_pt_regs()`).
pub fn chain_fp(hi: StackAddr, frame_size: u64, i: u64) -> u64 {
    Riscv::final_frame(hi).0.saturating_sub(i.saturating_mul(frame_size))
}

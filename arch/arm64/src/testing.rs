//! Builders for synthetic arm64 kernel stacks, laid out as the kernel lays
//! them out, for graft's tests (this crate's, core's simulator, fuzzing).
//!
//! Plain `no_std` code writing into a caller-supplied buffer that stands for
//! the stack `[base, base + buf.len())`; read it back with
//! [`graft_core::SliceMemory`].
//!
//! Layout (asm/stacktrace/frame.h, asm/ptrace.h, arch/arm64/kernel/head.S
//! `init_cpu_task`, entry.S `kernel_entry`):
//!
//! ```text
//! hi                                   top of the THREAD_SIZE stack
//! hi - 24   frame_record_meta {0, 0, FRAME_META_TYPE_FINAL}
//!           = task_pt_regs(tsk)->stackframe (offset 296 in pt_regs)
//! hi - 320  struct pt_regs (320 bytes)
//!           frame records {fp, lr}, 16-byte aligned, each pointing up
//! ```
//!
//! An exception taken in the kernel pushes another `pt_regs` whose
//! `stackframe` is `{0, 0, FRAME_META_TYPE_PT_REGS}` and points x29 at it.

use crate::unwind::{FRAME_META_TYPE_FINAL, FRAME_META_TYPE_PT_REGS, PT_REGS_SIZE, S_FP, S_LR, S_PC, S_STACKFRAME};
use crate::Arm64;
use graft_core::{Arch, SavedRegs, StackAddr, StackBounds, TextAddr, Unwinder};

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

    /// Lowest address.
    pub fn lo(&self) -> StackAddr {
        StackAddr(self.base)
    }

    /// One past the highest address.
    pub fn hi(&self) -> StackAddr {
        StackAddr(self.base + self.buf.len() as u64)
    }

    /// The kernel's bounds for this stack: the whole buffer, final frame at
    /// `task_pt_regs()->stackframe`.
    pub fn bounds(&self) -> StackBounds {
        StackBounds { lo: self.lo(), hi: self.hi(), final_frame: Arm64::final_frame(self.hi()) }
    }

    /// Store a stack word.
    ///
    /// # Panics
    /// If `[addr, addr + 8)` is not inside the buffer.
    pub fn put(&mut self, addr: u64, value: u64) {
        let off = addr.checked_sub(self.base).expect("address below the stack") as usize;
        self.buf[off..off + 8].copy_from_slice(&Arm64::ENDIAN.u64_bytes(value));
    }

    /// A `struct frame_record { fp, lr }` at `at`.
    pub fn record(&mut self, at: u64, fp: u64, lr: u64) {
        self.put(at, fp);
        self.put(at + 8, lr);
    }

    /// A `struct frame_record_meta { {0, 0}, ty }` at `at`.
    pub fn meta(&mut self, at: u64, ty: u64) {
        self.record(at, 0, 0);
        self.put(at + 16, ty);
    }

    /// The task's final record at `task_pt_regs()->stackframe`; returns its
    /// address.
    pub fn final_record(&mut self) -> StackAddr {
        let at = Arm64::final_frame(self.hi());
        self.meta(at.0, FRAME_META_TYPE_FINAL);
        at
    }

    /// An exception `pt_regs` at `at` (as `kernel_entry 1` saves it): the
    /// interrupted `pc`, `x29` and `x30`, and its `PT_REGS` metadata record.
    /// Returns the address of that record (the x29 the handler runs with).
    pub fn pt_regs(&mut self, at: u64, pc: u64, fp: u64, lr: u64) -> StackAddr {
        self.put(at + S_FP, fp);
        self.put(at + S_LR, lr);
        self.put(at + S_PC, pc);
        self.meta(at + S_STACKFRAME, FRAME_META_TYPE_PT_REGS);
        StackAddr(at + S_STACKFRAME)
    }

    /// A sleeping task's whole stack: `pcs[0]` is where it resumes (the saved
    /// pc), `pcs[1..]` the return addresses in its frame records, innermost
    /// first; frames are `frame_size` bytes (a multiple of 16) below the top
    /// `pt_regs`.  Returns the saved registers and the kernel's bounds; a
    /// reliable walk yields exactly `pcs`.
    ///
    /// # Panics
    /// If `pcs` is empty, `frame_size` is not a non-zero multiple of 16, or
    /// the frames do not fit.
    pub fn task(&mut self, pcs: &[TextAddr], frame_size: u64) -> (SavedRegs, StackBounds) {
        assert!(!pcs.is_empty() && frame_size >= 16 && frame_size % 16 == 0);
        let fin = self.final_record();
        let mut above = fin.0;
        for (i, &lr) in pcs[1..].iter().rev().enumerate() {
            let fp = chain_fp(self.hi(), frame_size, i as u64);
            assert!(fp >= self.base, "frames do not fit");
            self.record(fp, above, lr.0);
            above = fp;
        }
        let regs = SavedRegs { pc: pcs[0].0, sp: above, fp: above, lr: 0 };
        (regs, self.bounds())
    }
}

/// Address of the `i`-th frame record below the top `pt_regs` of a stack
/// ending at `hi` built by [`StackBuilder::task`] (0 is the outermost).
pub fn chain_fp(hi: StackAddr, frame_size: u64, i: u64) -> u64 {
    hi.0.saturating_sub(PT_REGS_SIZE).saturating_sub((i + 1).saturating_mul(frame_size))
}

//! Synthetic s390 kernel stacks, laid out as the kernel lays them out, in a
//! caller-supplied buffer.  Used by this crate's tests, benches and fuzz
//! targets, and by anyone simulating s390 tasks (plain `no_std` code).
//!
//! ```
//! use graft_core::{StackAddr, TextAddr, TextInfo, TextKind, Unwinder};
//! use graft_s390::testing::StackBuilder;
//! use graft_s390::S390;
//!
//! struct AllText;
//! impl TextInfo for AllText {
//!     fn kind(&self, _: TextAddr) -> TextKind { TextKind::Kernel }
//! }
//!
//! let mut buf = [0u8; 4096];
//! let mut b = StackBuilder::kernel(&mut buf, 0x10000);
//! let top = b.final_frame().0;
//! // Innermost frame first; the last one is the task's final frame.
//! let regs = b.task(&[top - 480, top - 160, top], &[0x1000, 0x2000, 0x3000]);
//! let mut out = [TextAddr(0); 8];
//! let n = S390::unwind_reliable(&regs, b.bounds(), &b.memory(), &AllText, &mut out).unwrap();
//! assert_eq!(&out[..n], &[TextAddr(0x1000), TextAddr(0x2000), TextAddr(0x3000)]);
//! ```

use crate::unwind::{final_frame, FrameLayout, PT_GPRS, PT_PSW_ADDR, STACK_FRAME_OVERHEAD};
use graft_core::{SavedRegs, SliceMemory, StackAddr, StackBounds};

/// `PSW_MASK_PSTATE`: the problem-state (user mode) bit of the PSW mask.
pub const PSW_MASK_PSTATE: u64 = 0x0001_0000_0000_0000;

/// Writes frames into `buf`, which stands for the stack `[lo, lo + len)`.
#[derive(Debug)]
pub struct StackBuilder<'a> {
    buf: &'a mut [u8],
    lo: u64,
    layout: FrameLayout,
}

impl<'a> StackBuilder<'a> {
    /// A stack of `layout` frames at `lo`.  `buf` is zeroed.
    pub fn new(buf: &'a mut [u8], lo: u64, layout: FrameLayout) -> Self {
        buf.fill(0);
        StackBuilder { buf, lo, layout }
    }
    /// A kernel task stack (`-mpacked-stack` frames).
    pub fn kernel(buf: &'a mut [u8], lo: u64) -> Self {
        Self::new(buf, lo, FrameLayout::PACKED)
    }
    /// Lowest address.
    pub fn lo(&self) -> StackAddr {
        StackAddr(self.lo)
    }
    /// One past the highest address.
    pub fn hi(&self) -> StackAddr {
        StackAddr(self.lo + self.buf.len() as u64)
    }
    /// The kernel's final frame: `STACK_FRAME_OVERHEAD` below `task_pt_regs()`.
    pub fn final_frame(&self) -> StackAddr {
        final_frame(self.hi())
    }
    /// Bounds of the whole buffer, ending at [`Self::final_frame`].
    pub fn bounds(&self) -> StackBounds {
        StackBounds { lo: self.lo(), hi: self.hi(), final_frame: self.final_frame() }
    }
    /// A reader over the buffer.
    pub fn memory(&self) -> SliceMemory<'_> {
        SliceMemory { base: self.lo, bytes: self.buf }
    }

    /// Store the big-endian word `v` at `addr`.
    ///
    /// # Panics
    /// If `[addr, addr + 8)` is not inside the buffer.
    pub fn put(&mut self, addr: u64, v: u64) {
        let off = addr.checked_sub(self.lo).and_then(|o| usize::try_from(o).ok());
        let slot = off.and_then(|o| self.buf.get_mut(o..o.checked_add(8)?));
        let slot = slot.unwrap_or_else(|| panic!("stack word {addr:#x} outside the buffer"));
        slot.copy_from_slice(&v.to_be_bytes());
    }

    /// A frame at `sp` whose back chain is `back_chain` and whose r14 slot
    /// (its owner's resume address) is `r14`.
    pub fn frame(&mut self, sp: u64, back_chain: u64, r14: u64) {
        self.put(sp + self.layout.back_chain, back_chain);
        self.put(sp + self.layout.r14, r14);
    }

    /// A `struct pt_regs` at `at` (right above a frame with a zero back
    /// chain), with `psw.mask`, `psw.addr` and `gprs[15]`.
    pub fn pt_regs(&mut self, at: u64, psw_mask: u64, psw_addr: u64, r15: u64) {
        self.put(at + PT_PSW_ADDR - 8, psw_mask);
        self.put(at + PT_PSW_ADDR, psw_addr);
        self.put(at + PT_GPRS + 15 * 8, r15);
    }

    /// A sleeping task: `frames[0]` is its `thread.ksp`, each frame's back
    /// chain points at the next, the last one's is zero.  `rets[i]` goes in
    /// frame `i`'s r14 slot, so a reliable walk returns `rets` in order.
    /// When the last frame is the final frame, a user-mode `task_pt_regs()`
    /// is written above it.  Returns the registers [`crate::task_regs`]
    /// reads.
    ///
    /// # Panics
    /// If `frames` and `rets` differ in length or a frame is outside the buffer.
    pub fn task(&mut self, frames: &[u64], rets: &[u64]) -> SavedRegs {
        assert_eq!(frames.len(), rets.len(), "one return address per frame");
        for (i, (&sp, &ret)) in frames.iter().zip(rets).enumerate() {
            self.frame(sp, frames.get(i + 1).copied().unwrap_or(0), ret);
        }
        if let Some(&last) = frames.last() {
            if last == self.final_frame().0 {
                self.pt_regs(last + STACK_FRAME_OVERHEAD, PSW_MASK_PSTATE, 0x3ff_f000_0000, 0x3ff_ffff_f000);
            }
        }
        SavedRegs { pc: rets.first().copied().unwrap_or(0), sp: frames.first().copied().unwrap_or(0), fp: 0, lr: 0 }
    }
}

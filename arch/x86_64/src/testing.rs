//! Synthetic x86_64 kernel task stacks, laid out as the kernel lays them out,
//! for tests, fuzzing and benchmarks (of this crate and of `core`).
//!
//! [`KernelStack`] writes into a caller-supplied buffer standing for the
//! stack `[base, base + len)` and never allocates.  Build from the top down:
//! [`KernelStack::new`] places `struct pt_regs` at `task_pt_regs()`; then
//! either [`entry`](KernelStack::entry) (the first C function called by entry
//! code) or a variant, then [`call`](KernelStack::call) once per nested call,
//! [`interrupt`](KernelStack::interrupt) for an interrupt frame, and finally
//! [`switch_out`](KernelStack::switch_out) (or, on a fresh stack,
//! [`forked`](KernelStack::forked)) for the `inactive_task_frame` a sleeping
//! task leaves.  Each returns what a walk starts from or the address it laid,
//! so a test can corrupt exactly one word with [`KernelStack::write`].
//!
//! The builder panics on misuse (a stack too small for what is laid); it is
//! test scaffolding, not part of any walk.

use super::unwind::{
    last_frame, task_pt_regs, FRAME_HEADER_SIZE, INACTIVE_TASK_FRAME_BP, INACTIVE_TASK_FRAME_RET,
    INACTIVE_TASK_FRAME_SIZE, PT_REGS_BP, PT_REGS_CS, PT_REGS_IP, PT_REGS_SIZE, PT_REGS_SP,
    TOP_OF_KERNEL_STACK_PADDING,
};
use super::X86_64;
use graft_core::{Arch, SavedRegs, SliceMemory, StackAddr, StackBounds};

/// `__KERNEL_CS` (GDT entry 2, RPL 0).
pub const KERNEL_CS: u64 = 0x10;
/// `__USER_CS` (GDT entry 6, RPL 3).
pub const USER_CS: u64 = 0x33;

/// A kernel task stack under construction.
#[derive(Debug)]
pub struct KernelStack<'a> {
    buf: &'a mut [u8],
    base: u64,
    /// Lowest address laid out so far.
    cursor: u64,
    /// What the next frame record saves as its caller's rbp.
    link: u64,
    thread_sp: Option<StackAddr>,
}

impl<'a> KernelStack<'a> {
    /// A stack `[base, base + buf.len())` with `pt_regs` at its top: user-mode
    /// regs (`cs = __USER_CS`) for a user task, zeroed kernel regs for a
    /// kernel thread (what `copy_thread()` leaves).  Clears `buf`.
    ///
    /// # Panics
    /// If `base` or the length is not 8-aligned, or the buffer cannot hold
    /// `pt_regs` plus a frame.
    pub fn new(buf: &'a mut [u8], base: u64, user: bool) -> Self {
        assert!(base % 8 == 0 && buf.len() % 8 == 0, "stack must be 8-aligned");
        assert!(buf.len() as u64 >= PT_REGS_SIZE + 2 * FRAME_HEADER_SIZE, "stack too small");
        buf.fill(0);
        let mut s = KernelStack { buf, base, cursor: 0, link: 0, thread_sp: None };
        let regs = task_pt_regs(s.hi(), TOP_OF_KERNEL_STACK_PADDING).0;
        if user {
            s.write(regs + PT_REGS_CS, USER_CS);
        }
        s.cursor = regs;
        s.link = 0;
        s
    }

    /// One past the top of the stack.
    pub fn hi(&self) -> StackAddr {
        StackAddr(self.base + self.buf.len() as u64)
    }
    /// `task_pt_regs()`.
    pub fn pt_regs(&self) -> StackAddr {
        task_pt_regs(self.hi(), TOP_OF_KERNEL_STACK_PADDING)
    }
    /// The last frame (`X86_64::final_frame(hi)`).
    pub fn final_frame(&self) -> StackAddr {
        last_frame(self.hi(), TOP_OF_KERNEL_STACK_PADDING)
    }
    /// The whole stack as bounds for a walk.
    pub fn bounds(&self) -> StackBounds {
        StackBounds { lo: StackAddr(self.base), hi: self.hi(), final_frame: self.final_frame() }
    }
    /// The stack's bytes as readable memory.
    pub fn memory(&self) -> SliceMemory<'_> {
        SliceMemory { base: self.base, bytes: self.buf }
    }
    /// `task->thread.sp` after [`switch_out`](Self::switch_out) or
    /// [`forked`](Self::forked).
    pub fn thread_sp(&self) -> Option<StackAddr> {
        self.thread_sp
    }
    /// Lowest address laid out so far.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    fn off(&self, addr: u64) -> usize {
        let off = addr.checked_sub(self.base).expect("address below the stack") as usize;
        assert!(off + 8 <= self.buf.len(), "address {addr:#x} above the stack");
        off
    }
    /// Store a stack word.
    ///
    /// # Panics
    /// If `addr` is not on the stack.
    pub fn write(&mut self, addr: u64, v: u64) {
        let off = self.off(addr);
        self.buf[off..off + 8].copy_from_slice(&X86_64::ENDIAN.u64_bytes(v));
    }
    /// Load a stack word.
    ///
    /// # Panics
    /// If `addr` is not on the stack.
    pub fn read(&self, addr: u64) -> u64 {
        let off = self.off(addr);
        X86_64::ENDIAN.u64(self.buf[off..off + 8].try_into().expect("8 bytes"))
    }

    fn reserve(&mut self, bytes: u64) -> u64 {
        assert!(bytes % 8 == 0, "frames are 8-aligned");
        let at = self.cursor.checked_sub(bytes).filter(|&a| a >= self.base).expect("stack overflow");
        self.cursor = at;
        at
    }

    /// The last frame: entry code called the first C function with `rsp =
    /// task_pt_regs()`, which pushed `ret` (into the entry code) and the
    /// entry's rbp (cleared by `PUSH_AND_CLEAR_REGS`: 0).  Returns its address.
    pub fn entry(&mut self, ret: u64) -> u64 {
        let rec = self.reserve(FRAME_HEADER_SIZE);
        self.write(rec, 0);
        self.write(rec + 8, ret);
        self.link = rec;
        rec
    }

    /// The last-frame variant `is_last_aligned_frame()` accepts: the first
    /// function realigned its stack and pushed a copy of its return address
    /// before its frame record (`x86_64_start_kernel`).  Returns the record.
    pub fn entry_realigned(&mut self, ret: u64) -> u64 {
        let top = self.reserve(FRAME_HEADER_SIZE);
        self.write(top + 8, ret);
        self.write(top, ret);
        let rec = self.reserve(8);
        self.write(rec, 0);
        self.link = rec;
        rec
    }

    /// The last-frame variant `is_last_ftrace_frame()` accepts: an ftrace
    /// handler of a function called by entry code.  Words from the record up:
    /// bp, parent ret, bp, function ret, parent ret, then `pt_regs`.
    pub fn entry_ftrace(&mut self, func_ret: u64, parent_ret: u64) -> u64 {
        let bp = 0;
        let rec = self.reserve(5 * 8);
        for (i, v) in [bp, parent_ret, bp, func_ret, parent_ret].into_iter().enumerate() {
            self.write(rec + 8 * i as u64, v);
        }
        self.link = rec;
        rec
    }

    /// The innermost function reserves `locals` bytes and calls a function
    /// that returns to `ret`; the callee pushes rbp.  Returns the new frame
    /// record's address (the callee's rbp).
    pub fn call(&mut self, ret: u64, locals: u64) -> u64 {
        self.reserve(locals);
        let rec = self.reserve(FRAME_HEADER_SIZE);
        self.write(rec, self.link);
        self.write(rec + 8, ret);
        self.link = rec;
        rec
    }

    /// An interrupt or exception taken at `ip` in the innermost function:
    /// entry code saves `pt_regs` (kernel mode unless `user`) and sets
    /// `rbp = regs | 1` (`ENCODE_FRAME_POINTER`), which the next
    /// [`call`](Self::call) saves.  Returns the regs' address.
    pub fn interrupt(&mut self, ip: u64, user: bool) -> u64 {
        let sp = self.cursor;
        let regs = self.reserve(PT_REGS_SIZE);
        self.write(regs + PT_REGS_BP, self.link);
        self.write(regs + PT_REGS_IP, ip);
        self.write(regs + PT_REGS_CS, if user { USER_CS } else { KERNEL_CS });
        self.write(regs + PT_REGS_SP, sp);
        self.link = regs | 1;
        regs
    }

    /// The innermost function (`__schedule`) reserves `locals` bytes and
    /// calls `__switch_to_asm`, which pushes `ret` and rbp, bx, r12..r15
    /// (`struct inactive_task_frame`) and saves rsp as `thread.sp`.  Returns
    /// the state the task resumes in (see
    /// [`inactive_task_regs`](super::inactive_task_regs)).
    pub fn switch_out(&mut self, ret: u64, locals: u64) -> SavedRegs {
        self.reserve(locals);
        let frame = self.reserve(INACTIVE_TASK_FRAME_SIZE);
        self.write(frame + INACTIVE_TASK_FRAME_BP, self.link);
        self.write(frame + INACTIVE_TASK_FRAME_RET, ret);
        self.thread_sp = Some(StackAddr(frame));
        SavedRegs { pc: ret, sp: frame + INACTIVE_TASK_FRAME_SIZE, fp: self.link, lr: 0 }
    }

    /// A task that was forked and never ran: `copy_thread()` places its
    /// `inactive_task_frame` right below `pt_regs` (`struct fork_frame`), with
    /// `bp = encode_frame_pointer(childregs)` and `ret_addr =
    /// ret_from_fork_asm`.
    ///
    /// # Panics
    /// If anything but `pt_regs` was laid already.
    pub fn forked(&mut self, ret_from_fork: u64) -> SavedRegs {
        assert_eq!(self.cursor, self.pt_regs().0, "forked() needs a fresh stack");
        self.link = self.pt_regs().0 | 1;
        self.switch_out(ret_from_fork, 0)
    }
}

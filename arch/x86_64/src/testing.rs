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

use super::orc::{kind as orc_kind, reg as orc_reg, OrcEntry};
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

    pub(crate) fn reserve(&mut self, bytes: u64) -> u64 {
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

/// A task stack laid out as an ORC-built kernel lays it out, for the ORC
/// unwinder's tests (`crate::orc`): frames of any size, with or without a
/// saved `rbp`, `rbp`-based frames, and the ends a walk accepts (an
/// end-of-stack entry, user-mode `pt_regs`).  Each method returns the ORC
/// entry the call site it lays needs, so a test builds the table from the
/// same calls; [`OrcStack::frame_for`] lays a frame for a given (real)
/// entry instead.
///
/// Build from the top down: [`OrcStack::new`], one bottom
/// ([`OrcStack::bottom`]), then one frame per call, then
/// [`OrcStack::switch_out`].  Like [`KernelStack`] it writes into a caller's
/// buffer, never allocates and panics on misuse.
#[derive(Debug)]
pub struct OrcStack<'a> {
    inner: KernelStack<'a>,
    /// The innermost function's `rbp` so far.
    bp: u64,
}

impl<'a> OrcStack<'a> {
    /// A stack `[base, base + buf.len())` with `pt_regs` at its top (user
    /// mode for `user`), `rbp` starting at `bp`.
    pub fn new(buf: &'a mut [u8], base: u64, user: bool, bp: u64) -> Self {
        OrcStack { inner: KernelStack::new(buf, base, user), bp }
    }
    /// The underlying stack (bounds, memory, words).
    pub fn stack(&mut self) -> &mut KernelStack<'a> {
        &mut self.inner
    }
    /// The whole stack as bounds for a walk.
    pub fn bounds(&self) -> StackBounds {
        self.inner.bounds()
    }
    /// The stack's bytes as readable memory.
    pub fn memory(&self) -> SliceMemory<'_> {
        self.inner.memory()
    }

    /// The outermost call, made with `rsp = task_pt_regs()`: entry code
    /// (`entry_SYSCALL_64` calling `do_syscall_64`, whose site has a `REGS`
    /// entry at offset 0) or `ret_from_fork_asm` calling `ret_from_fork`
    /// (an end-of-stack entry).  Pushes `ret`; returns the entry its call
    /// site has.
    pub fn bottom(&mut self, ret: u64, end_of_stack: bool) -> OrcEntry {
        assert_eq!(self.inner.cursor(), self.inner.pt_regs().0, "bottom() comes first");
        let at = self.inner.reserve(8);
        self.inner.write(at, ret);
        if end_of_stack {
            OrcEntry { kind: orc_kind::END_OF_STACK, ..OrcEntry::default() }
        } else {
            OrcEntry { kind: orc_kind::REGS, sp_reg: orc_reg::SP, sp_offset: 0, ..OrcEntry::default() }
        }
    }

    /// The innermost function, whose return address was pushed last, has a
    /// frame of `size` bytes (its return address included; a multiple of
    /// 8, at least 8, 16 with `save_bp`), saves the caller's `rbp` right
    /// below its return address when `save_bp`, and calls a function that
    /// returns to `ret`.  Returns the entry of that call site: `CFA = sp +
    /// size`, `rbp` at `CFA - 16` or undefined.
    pub fn call(&mut self, ret: u64, size: u64, save_bp: bool) -> OrcEntry {
        let e = OrcEntry {
            kind: orc_kind::CALL,
            sp_reg: orc_reg::SP,
            sp_offset: i16::try_from(size).expect("frame size fits"),
            bp_reg: if save_bp { orc_reg::PREV_SP } else { orc_reg::UNDEFINED },
            bp_offset: if save_bp { -16 } else { 0 },
            signal: false,
        };
        self.frame_for(ret, e, 0);
        e
    }

    /// As [`OrcStack::call`] for a function that set up a frame pointer
    /// (`push %rbp; mov %rsp,%rbp`) and then `locals` more bytes: `CFA = rbp
    /// + 16`, the caller's `rbp` at `CFA - 16` (the frame-pointer entry).
    pub fn call_fp(&mut self, ret: u64, locals: u64) -> OrcEntry {
        let e = OrcEntry {
            kind: orc_kind::CALL,
            sp_reg: orc_reg::BP,
            sp_offset: 16,
            bp_reg: orc_reg::PREV_SP,
            bp_offset: -16,
            signal: false,
        };
        self.frame_for(ret, e, locals);
        e
    }

    /// Lay the innermost function's frame as `e` says it is at the call
    /// site returning to `ret` (a `CALL` entry based on `SP` or `BP`, the
    /// caller's `rbp` undefined or saved at an offset from the CFA or from
    /// `rbp`), with `extra` bytes more below an `rbp`-based frame, and push
    /// `ret`.
    ///
    /// # Panics
    /// For other entries, and where the words the entry names would
    /// overlap the return address.
    pub fn frame_for(&mut self, ret: u64, e: OrcEntry, extra: u64) {
        assert_eq!(e.kind, orc_kind::CALL, "frame_for lays call frames");
        let cfa = self.inner.cursor() + 8;
        let caller_bp = self.bp;
        let sp = match e.sp_reg {
            orc_reg::SP => {
                let sp = cfa.checked_add_signed(-i64::from(e.sp_offset)).expect("sp");
                assert!(sp <= cfa - 8, "frame smaller than its return address");
                sp
            }
            orc_reg::BP => {
                let bp = cfa.checked_add_signed(-i64::from(e.sp_offset)).expect("bp");
                assert!(bp < cfa);
                self.bp = bp;
                bp - extra
            }
            r => panic!("frame_for: sp base register {r}"),
        };
        let slot = match e.bp_reg {
            orc_reg::UNDEFINED => None,
            orc_reg::PREV_SP => Some(cfa.checked_add_signed(i64::from(e.bp_offset)).expect("bp slot")),
            orc_reg::BP => Some(self.bp.checked_add_signed(i64::from(e.bp_offset)).expect("bp slot")),
            r => panic!("frame_for: bp register {r}"),
        };
        if let Some(slot) = slot {
            assert!(slot + 8 <= cfa - 8 && slot >= sp, "saved rbp at {slot:#x} outside the frame [{sp:#x}, {cfa:#x})");
            self.inner.write(slot, caller_bp);
        }
        let below = self.inner.cursor() - sp;
        self.inner.reserve(below);
        let at = self.inner.reserve(8);
        self.inner.write(at, ret);
    }

    /// The innermost function calls `__switch_to_asm`, which pushes its
    /// registers (`struct inactive_task_frame`) after the return address
    /// the last call pushed.  Returns the state the task resumes in (what
    /// [`inactive_task_regs`](super::inactive_task_regs) reads).
    pub fn switch_out(&mut self) -> SavedRegs {
        let ret = self.inner.read(self.inner.cursor());
        let frame = self.inner.reserve(INACTIVE_TASK_FRAME_SIZE - 8);
        self.inner.write(frame + INACTIVE_TASK_FRAME_BP, self.bp);
        assert_eq!(self.inner.read(frame + INACTIVE_TASK_FRAME_RET), ret);
        self.inner.thread_sp = Some(StackAddr(frame));
        SavedRegs { pc: ret, sp: frame + INACTIVE_TASK_FRAME_SIZE, fp: self.bp, lr: 0 }
    }
}

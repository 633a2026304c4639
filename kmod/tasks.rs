// SPDX-License-Identifier: GPL-2.0
//! Tasks and their stacks, for every walk of a real task: the transition
//! passes, `<patch>/stragglers` and the per-task self-test.
//!
//! * [`threads`]: every thread, each an [`ARef<Task>`].
//! * [`StackCopy`]: the one stack-copy routine.  `shim.c`'s
//!   `graft_shim_copy_stack()` copies a switched-out task's live stack
//!   (and, for the self-test, takes the kernel's own trace of it in the same
//!   window) only if the task provably stayed off its CPU (the memory-ordering
//!   argument is written there); the backend's [`TaskStacks`] turns the saved
//!   context into the registers the walk starts from and names the final
//!   frame of the task's kind.  The copy is read at its original addresses.

use crate::arch::Native;
use crate::ffi::{self, TaskStack, GRAFT_TASK_COPIED, GRAFT_TASK_DEAD};
use crate::kenv;
use core::cell::Cell;
use core::ptr::NonNull;
use graft_core::{MemError, SavedRegs, StackAddr, StackBounds, StackReader, TaskKind, TaskStacks};
use kernel::{
    alloc::{flags::GFP_KERNEL, AllocError, KVec},
    bindings,
    error::{code::ENOMEM, Error},
    ffi::{c_int, c_uint, c_ulong},
    sync::aref::ARef,
    task::Task,
};

/// Every thread, each referenced (the references go with the vector).
pub(crate) fn threads() -> Result<KVec<ARef<Task>>, Error> {
    let mut cap = 256usize;
    loop {
        let mut raw: KVec<*mut bindings::task_struct> = KVec::with_capacity(cap, GFP_KERNEL)?;
        // SAFETY: `raw` has room for `cap` pointers.
        let n = unsafe { ffi::graft_shim_snapshot(raw.as_mut_ptr(), cap as c_int) };
        if n == kernel::error::code::ENOSPC.to_errno() {
            cap *= 2; // more threads than room
            continue;
        }
        let n = usize::try_from(n).map_err(|_| ENOMEM)?;
        let mut v: KVec<ARef<Task>> = KVec::with_capacity(n, GFP_KERNEL).inspect_err(|_| {
            for &t in raw.spare_capacity_mut()[..n].iter() {
                // SAFETY: the shim wrote `n` referenced task pointers; with
                // nowhere to keep them, their references are dropped.
                drop(unsafe { ARef::from_raw(NonNull::new_unchecked(t.assume_init().cast::<Task>())) });
            }
        })?;
        for &t in raw.spare_capacity_mut()[..n].iter() {
            // SAFETY: the shim wrote `n` non-null task pointers, each with a
            // reference (get_task_struct()) that the ARef now owns; `Task`
            // is a transparent wrapper of `task_struct`.
            let t = unsafe { ARef::from_raw(NonNull::new_unchecked(t.assume_init().cast::<Task>())) };
            // Capacity reserved above: never fails.
            let _ = v.push(t, GFP_KERNEL);
        }
        return Ok(v);
    }
}

/// `task_pid_nr(t)` (not `Task::pid()`, which reads `task_struct.pid` at
/// bindgen's offset: on arm64 that read garbage in these kernels).
pub(crate) fn pid(t: &Task) -> i32 {
    // SAFETY: `t` is alive (referenced, or borrowed from a reference).
    unsafe { ffi::graft_shim_task_pid(t.as_ptr()) }
}

/// `t->comm` (`"?"` if not UTF-8).
pub(crate) fn comm(t: &Task) -> &str {
    // SAFETY: `t` is alive for the returned borrow (it is referenced or
    // borrowed from a reference), and so is its NUL-terminated `comm`.
    let c =
        unsafe { <kernel::str::CStr as kernel::str::CStrExt>::from_char_ptr(ffi::graft_shim_task_comm(t.as_ptr())) };
    c.to_str().unwrap_or("?")
}

/// How a copy went.
pub(crate) enum Copied {
    /// Exited: it never runs again.
    Dead,
    /// On a CPU, or it ran while it was copied: nothing to walk.
    Running,
    /// Copied, with the registers the walk starts from.
    Stack(SavedRegs, StackBounds),
    /// Copied, but its saved context is not where the arch puts it.
    Unwalkable,
}

/// A buffer of `THREAD_SIZE` bytes holding the last stack copied into it at
/// its original offsets, readable at its original addresses.
pub(crate) struct StackCopy {
    /// Owns the buffer; never touched again after [`StackCopy::new`] took
    /// `ptr` from it (until drop).
    _buf: KVec<u8>,
    ptr: *mut u8,
    len: usize,
    /// `task_stack_page()` of the last copy.
    base: Cell<u64>,
    /// The lowest address copied: reads below it are faults.
    from: Cell<u64>,
}

// SAFETY: `ptr` points into `_buf`, which the `StackCopy` owns (a `KVec`
// is `Send`): moving the value moves the buffer's ownership with it.
unsafe impl Send for StackCopy {}

impl StackCopy {
    /// No buffer: copies fail until [`StackCopy::new`] replaces it.
    pub(crate) const fn empty() -> Self {
        StackCopy {
            _buf: KVec::new(),
            ptr: core::ptr::null_mut(),
            len: 0,
            base: Cell::new(0),
            from: Cell::new(u64::MAX),
        }
    }

    pub(crate) fn new() -> Result<Self, AllocError> {
        let len = ffi::graft_shim_thread_size() as usize;
        let mut buf = kenv::zeroed(len)?;
        let ptr = buf.as_mut_ptr();
        Ok(StackCopy { _buf: buf, ptr, len, base: Cell::new(0), from: Cell::new(u64::MAX) })
    }

    /// Copy switched-out task `t` (referenced, or an idle task) and find where
    /// its walk starts.
    pub(crate) fn copy(&self, t: *mut bindings::task_struct) -> Copied {
        self.copy_traced(t, &mut []).0
    }

    /// [`StackCopy::copy`], and the kernel's `stack_trace_save_tsk()` of the
    /// task, taken in the same window, into `trace` (how many entries).
    pub(crate) fn copy_traced(&self, t: *mut bindings::task_struct, trace: &mut [c_ulong]) -> (Copied, usize) {
        if self.ptr.is_null() {
            return (Copied::Running, 0);
        }
        let mut out = TaskStack::default();
        let mut n: c_uint = 0;
        let tp = if trace.is_empty() { core::ptr::null_mut() } else { trace.as_mut_ptr() };
        // SAFETY: `t` is referenced or an idle task (the caller's
        // guarantee); `ptr` holds `len` = THREAD_SIZE bytes, written only
        // here, and no slice of it is alive (reads borrow it only inside
        // `read`); `trace` holds `trace.len()` entries.
        let r = unsafe { ffi::graft_shim_copy_stack(t, self.ptr, &mut out, tp, trace.len() as c_uint, &mut n) };
        let n = (n as usize).min(trace.len());
        match r {
            GRAFT_TASK_DEAD => return (Copied::Dead, 0),
            GRAFT_TASK_COPIED => {}
            _ => return (Copied::Running, 0),
        }
        self.base.set(out.lo);
        self.from.set(out.ctx.sp & !7);
        let kind = if out.kthread { TaskKind::Kthread } else { TaskKind::User };
        let bounds = kenv::task_bounds::<Native>(out.lo, out.lo + self.len as u64, kind);
        match Native::switched_out_regs(out.ctx, bounds, self) {
            Ok(regs) => (Copied::Stack(regs, bounds), n),
            Err(_) => (Copied::Unwalkable, n),
        }
    }

    /// The running task's own stack, copied from inside this frame (the
    /// frames from here up are live and unchanged across the copy), with the
    /// registers of this frame.
    #[inline(never)]
    pub(crate) fn copy_current(&self) -> Option<(SavedRegs, StackBounds)> {
        let regs = crate::arch::native::frame_regs();
        let bounds = kenv::current_stack::<Native>();
        if self.ptr.is_null() || bounds.hi.0 + ffi::STACK_TOP_PADDING - bounds.lo.0 != self.len as u64 {
            return None;
        }
        // SAFETY: as in `copy_traced`: `ptr` holds `len` bytes and no other
        // reference to them is alive.
        let buf = unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) };
        kenv::read_kernel(bounds.lo.0, buf).ok()?;
        self.base.set(bounds.lo.0);
        self.from.set(bounds.lo.0);
        Some((regs, bounds))
    }
}

impl StackReader for StackCopy {
    fn read(&self, addr: StackAddr, out: &mut [u8]) -> Result<(), MemError> {
        if addr.0 < self.from.get() {
            return Err(MemError::Fault(addr.0));
        }
        let off = addr.0.checked_sub(self.base.get()).ok_or(MemError::Fault(addr.0))? as usize;
        let end = off.checked_add(out.len()).filter(|&e| e <= self.len).ok_or(MemError::Fault(addr.0))?;
        // SAFETY: `ptr` holds `len` bytes and `off..end` lies inside them;
        // no mutable reference to them is alive while this one is.
        let src = unsafe { core::slice::from_raw_parts(self.ptr.add(off), end - off) };
        out.copy_from_slice(src);
        Ok(())
    }
}

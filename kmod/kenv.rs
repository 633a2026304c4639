// SPDX-License-Identifier: GPL-2.0
//! The kernel side of graft-core's environment traits: memory through
//! `copy_from_kernel_nofault()`, text through kallsyms.

use crate::arch::Native;
use crate::ffi::graft_shim_current_stack;
use core::ffi::c_void;
use graft_core::{MemError, StackAddr, StackBounds, StackReader, TaskKind, TaskStacks, TextAddr, TextInfo, TextKind};
use kernel::alloc::{flags::GFP_KERNEL, AllocError, KVec};
use kernel::{bindings, ffi::c_ulong};

/// Size of the buffers handed to `sprint_symbol*()`; `shim.c` asserts that
/// `KSYM_SYMBOL_LEN` fits.
pub(crate) const KSYM_BUF: usize = 1024;

/// Copy `buf.len()` bytes of kernel memory at `addr` into `buf`; an
/// unreadable address is an error, never a fault.
pub(crate) fn read_kernel(addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
    let src = usize::try_from(addr).map_err(|_| MemError::Fault(addr))?;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes;
    // copy_from_kernel_nofault() reads `src` with page faults disabled and
    // reports an unreadable source as a non-zero return instead of faulting.
    let r = unsafe {
        bindings::copy_from_kernel_nofault(
            buf.as_mut_ptr().cast::<c_void>(),
            core::ptr::with_exposed_provenance::<c_void>(src),
            buf.len(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(MemError::Fault(addr))
    }
}

/// A zeroed buffer of `len` bytes (a copy of a task's kernel stack:
/// THREAD_SIZE).
pub(crate) fn zeroed(len: usize) -> Result<KVec<u8>, AllocError> {
    let mut v = KVec::with_capacity(len, GFP_KERNEL)?;
    v.resize(len, 0, GFP_KERNEL)?;
    Ok(v)
}

/// Stack memory read through nofault copies.
pub(crate) struct NofaultStack;

impl StackReader for NofaultStack {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        read_kernel(addr.0, buf)
    }
}

/// The bounds of a task stack `[lo, top)` as the backend `A` walks it: up
/// to `top` less the arch's padding above `pt_regs`
/// ([`crate::ffi::STACK_TOP_PADDING`]), the final frame where `A` puts it
/// for a task of kind `kind`.
pub(crate) fn task_bounds<A: TaskStacks>(lo: u64, top: u64, kind: TaskKind) -> StackBounds {
    let hi = StackAddr(top - crate::ffi::STACK_TOP_PADDING);
    StackBounds { lo: StackAddr(lo), hi, final_frame: A::task_final_frame(hi, kind) }
}

/// The current task's stack ([`task_bounds`]).
pub(crate) fn current_stack<A: TaskStacks>() -> StackBounds {
    let (mut lo, mut hi): (c_ulong, c_ulong) = (0, 0);
    let kind = if graft_shim_current_stack(&mut lo, &mut hi) { TaskKind::Kthread } else { TaskKind::User };
    task_bounds::<A>(lo as u64, hi as u64, kind)
}

/// `sprint_symbol()`: `name+off/size [module]`, or the bare address when
/// kallsyms does not know it.
pub(crate) fn describe(addr: u64, buf: &mut [u8; KSYM_BUF]) -> &str {
    // SAFETY: `buf` holds KSYM_BUF >= KSYM_SYMBOL_LEN bytes (asserted in
    // shim.c), the most sprint_symbol() writes, NUL included.
    let n = unsafe { bindings::sprint_symbol(buf.as_mut_ptr().cast(), addr as c_ulong) };
    text_of(buf, n)
}

/// `sprint_symbol_no_offset()`: the name of the symbol `addr` lies in, or
/// `None` when kallsyms does not know it.
pub(crate) fn symbol_name(addr: u64, buf: &mut [u8; KSYM_BUF]) -> Option<&str> {
    // SAFETY: as in `describe`.
    let n = unsafe { bindings::sprint_symbol_no_offset(buf.as_mut_ptr().cast(), addr as c_ulong) };
    // An unknown address prints as "0x...", which no symbol name starts with.
    Some(text_of(buf, n)).filter(|s| !s.starts_with("0x"))
}

fn text_of(buf: &[u8], n: kernel::ffi::c_int) -> &str {
    let s = buf.get(..usize::try_from(n).unwrap_or(0)).unwrap_or(&[]);
    core::str::from_utf8(s).unwrap_or("?")
}

/// Text classified through kallsyms.
///
/// The kernel's own test, `__kernel_text_address()` (and `core_kernel_text()`,
/// `is_module_text_address()` beneath it), is not exported to modules; the
/// closest exported view is kallsyms, which names every function but, with
/// `CONFIG_KALLSYMS_ALL`, data symbols too.  So this accepts any address
/// kallsyms can name and singles out the tracing trampolines and the arch's
/// exception entry ([`TaskStacks::EXCEPTION_ENTRY`]) by name.
pub(crate) struct KallsymsText;

impl TextInfo for KallsymsText {
    fn kind(&self, addr: TextAddr) -> TextKind {
        let mut buf = [0u8; KSYM_BUF];
        match symbol_name(addr.0, &mut buf) {
            None => TextKind::NotText,
            Some("return_to_handler") => TextKind::FtraceGraph,
            Some("arch_rethook_trampoline" | "__kretprobe_trampoline") => TextKind::Kretprobe,
            Some(n) if <Native as TaskStacks>::EXCEPTION_ENTRY.contains(&n) => TextKind::ExceptionEntry,
            Some(_) => TextKind::Kernel,
        }
    }
}

/// Entries of a [`TextCache`]: a power of two.
pub(crate) const TEXT_CACHE: usize = 1024;

/// A direct-mapped cache of [`TextInfo::kind`] answers: one kallsyms lookup
/// (`sprint_symbol_no_offset()`, a search plus a name expansion) per return
/// address costs more than copying and walking the stack that holds it, and
/// a pass over 1,000 sleeping tasks meets the same few dozen return
/// addresses (`schedule`, `do_nanosleep`, the syscall entry, ...) again and
/// again.  Cleared at the start of every pass, so an answer is never older
/// than the pass (text does not come or go under a sleeping task's return
/// address while it sleeps there).
pub(crate) struct TextCache {
    slots: [core::cell::Cell<(u64, TextKind)>; TEXT_CACHE],
}

impl TextCache {
    pub(crate) const fn new() -> Self {
        TextCache { slots: [const { core::cell::Cell::new((0, TextKind::NotText)) }; TEXT_CACHE] }
    }
    /// Forget every answer.
    pub(crate) fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            *s.get_mut() = (0, TextKind::NotText);
        }
    }
}

impl TextInfo for TextCache {
    fn kind(&self, addr: TextAddr) -> TextKind {
        // Return addresses are byte-aligned: fold the high bits in.
        let h = (addr.0 ^ (addr.0 >> 10) ^ (addr.0 >> 20)) as usize & (TEXT_CACHE - 1);
        let (a, k) = self.slots[h].get();
        if a == addr.0 && a != 0 {
            return k;
        }
        let k = KallsymsText.kind(addr);
        self.slots[h].set((addr.0, k));
        k
    }
}

/// Shows a [`core::fmt::Display`] value (graft-core's types implement it)
/// through the kernel's print macros, which take [`kernel::fmt::Display`].
pub(crate) struct Show<T>(pub(crate) T);

impl<T: core::fmt::Display> kernel::fmt::Display for Show<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

/// The bytes sysfs hands a show() (`PAGE_SIZE`; 4096 is the smallest
/// page of the arches graft builds for, so never more is written).
pub(crate) const SYSFS_PAGE: usize = 4096;
/// Room kept for the note of lines left out.
const SYSFS_NOTE: usize = 40;

/// A sysfs show()'s text, one whole line at a time: a line that does not
/// fit is left out with every line after it, and [`SysfsPage::finish`]
/// ends the page with `(<n> more not shown)`.
pub(crate) struct SysfsPage {
    buf: *mut u8,
    len: usize,
    /// The line being written did not fit.
    cut: bool,
    /// Lines left out.
    more: usize,
}

impl SysfsPage {
    /// # Safety
    ///
    /// `buf` is the buffer sysfs handed the show() (at least
    /// [`SYSFS_PAGE`] bytes), not used otherwise while this writes it.
    pub(crate) unsafe fn new(buf: *mut u8) -> Self {
        SysfsPage { buf, len: 0, cut: false, more: 0 }
    }

    /// One line (a newline is added): all of it, or nothing and counted.
    pub(crate) fn line(&mut self, args: core::fmt::Arguments<'_>) {
        if self.more > 0 {
            self.more += 1;
            return;
        }
        let at = self.len;
        let _ = core::fmt::Write::write_fmt(self, args);
        let _ = core::fmt::Write::write_str(self, "\n");
        if self.cut {
            self.len = at;
            self.cut = false;
            self.more = 1;
        }
    }

    /// The length show() returns, after the note of lines left out.
    pub(crate) fn finish(mut self) -> isize {
        let more = core::mem::take(&mut self.more);
        if more > 0 {
            // Within the room kept: SYSFS_NOTE bytes fit any count.
            let _ = core::fmt::Write::write_fmt(&mut Note(&mut self), format_args!("({more} more not shown)\n"));
        }
        self.len as isize
    }

    fn put(&mut self, s: &str, limit: usize) -> bool {
        if self.len + s.len() > limit {
            return false;
        }
        // SAFETY: `buf` holds SYSFS_PAGE bytes (`new`'s contract) and
        // `len + s.len()` is at most `limit` <= SYSFS_PAGE.
        unsafe { core::ptr::copy_nonoverlapping(s.as_ptr(), self.buf.add(self.len), s.len()) };
        self.len += s.len();
        true
    }
}

impl core::fmt::Write for SysfsPage {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if !self.cut && !self.put(s, SYSFS_PAGE - SYSFS_NOTE) {
            self.cut = true;
        }
        Ok(())
    }
}

/// The note of lines left out, written into the room kept for it.
struct Note<'a>(&'a mut SysfsPage);

impl core::fmt::Write for Note<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.put(s, SYSFS_PAGE);
        Ok(())
    }
}

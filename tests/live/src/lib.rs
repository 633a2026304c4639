//! The qemu-user live test harness, shared by the five arches.
//!
//! A test binary cross-compiled for an arch and run under `qemu-<arch>-static`
//! (the cargo runner) calls [`live_patch`] and then its arch's unwind test.
//! [`live_patch`] maps a page, writes an "old" function (its entry site in the
//! disabled form, then "return OLD") and a "new" one ("return NEW"), makes the
//! page read+exec, and starts threads calling the old function in a tight loop.
//! It then patches the site to a jump to the new function with the backend's
//! own plan, through the one executor in `graft-core`, and back, many times.
//! Every call must return OLD or NEW, and once a plan's final sync is done,
//! every call that starts afterwards must return the plan's result.
//!
//! An arch plugs in through [`LiveArch`] (in `src/<arch>.rs`).

cfg_if::cfg_if! {
    if #[cfg(target_arch = "aarch64")] {
        #[path = "arm64.rs"]
        pub mod native;
    } else if #[cfg(target_arch = "powerpc64")] {
        #[path = "powerpc.rs"]
        pub mod native;
    } else if #[cfg(target_arch = "s390x")] {
        #[path = "s390.rs"]
        pub mod native;
    } else if #[cfg(target_arch = "riscv64")] {
        #[path = "riscv.rs"]
        pub mod native;
    } else if #[cfg(target_arch = "x86_64")] {
        #[path = "x86_64.rs"]
        pub mod native;
    } else {
        compile_error!("graft-live: no backend for this target_arch");
    }
}

use graft_core::{apply, ArchOps, BranchKind, InsnBuf, MemError, SyncKind, TextAddr, TextWriter};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// What an arch supplies to the harness.
pub trait LiveArch: ArchOps {
    /// Machine code of a function whose entry site is in its disabled form
    /// and which returns `value` in the ABI's return register; and the
    /// offset of the site in it.  The function is entered at offset 0.
    fn old_function(value: u32) -> (Vec<u8>, usize);
    /// Machine code of a function returning `value`.
    fn new_function(value: u32) -> Vec<u8>;
    /// Perform `kind` as user space can (cache maintenance instructions,
    /// `membarrier`, ...).  `text` is the patched page.
    fn native_sync(kind: SyncKind, text: &Page);
    /// Called once before patching starts (e.g. x86 installs a SIGTRAP
    /// handler that does what the kernel's `poke_int3_handler()` does).
    fn prepare(_page: &Page) {}
    /// Called by the harness just before applying a plan whose final site
    /// instruction jumps to `target` (or is the nop when `None`).
    fn plan_starting(_site: TextAddr, _target: Option<TextAddr>) {}
    /// The enabled site: what the kernel's ftrace stores at `site` to send
    /// the call to `target` (by default the backend's jump; riscv stores the
    /// `jalr` after the `auipc` that [`LiveArch::old_function`] wrote for
    /// the new function at [`NEW_OFF`]).
    fn site_branch(site: TextAddr, target: TextAddr) -> InsnBuf {
        Self::encode_branch(BranchKind::Jump, site, target).expect("new function in range")
    }
    /// Calls through the backend's fast-path trampolines (`native`'s), as
    /// an ftrace direct call enters them, and the assertions made; `None`
    /// where the backend has none.
    fn trampoline_test() -> Option<(u64, u64)> {
        None
    }
}

/// Where [`live_patch`] puts the new function in the page (the old one is
/// at 0).
pub const NEW_OFF: usize = 0x800;

/// An anonymous page of code: mapped read+write, filled, re-protected
/// read+exec; made writable again only while a plan runs.
#[derive(Debug)]
pub struct Page {
    base: *mut u8,
    len: usize,
}

// SAFETY: the page is only written through `PageWriter` while the harness
// holds it exclusively; other threads only execute it.
unsafe impl Sync for Page {}
// SAFETY: as above; the mapping is process-wide.
unsafe impl Send for Page {}

impl Page {
    /// Map `len` bytes holding `code` at their offsets.
    pub fn new(len: usize, code: &[(usize, &[u8])]) -> Page {
        // SAFETY: anonymous private mapping, no aliasing; checked for failure.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap failed");
        let p = Page { base: base.cast(), len };
        for (off, bytes) in code {
            assert!(off + bytes.len() <= len);
            // SAFETY: in bounds of the fresh mapping (checked above).
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.base.add(*off), bytes.len()) };
        }
        p.protect(libc::PROT_READ | libc::PROT_EXEC);
        p
    }
    fn protect(&self, prot: libc::c_int) {
        // SAFETY: our own mapping.
        let r = unsafe { libc::mprotect(self.base.cast(), self.len, prot) };
        assert_eq!(r, 0, "mprotect failed");
    }
    /// Address of byte `off`.
    pub fn addr(&self, off: usize) -> TextAddr {
        TextAddr(self.base as u64 + off as u64)
    }
    /// The mapping's range.
    pub fn range(&self) -> (u64, usize) {
        (self.base as u64, self.len)
    }
    /// Whether `[addr, addr+len)` lies in the mapping.
    pub fn contains(&self, addr: TextAddr, len: u32) -> bool {
        let (base, size) = (self.base as u64, self.len as u64);
        addr.0 >= base && addr.0.saturating_add(u64::from(len)) <= base + size
    }
    /// Call the function at `off` as `extern "C" fn() -> u32`.
    ///
    /// # Safety
    /// A valid function must be there.
    pub unsafe fn call(&self, off: usize) -> u32 {
        // SAFETY: the caller guarantees code at `off`; it is mapped executable.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(self.base.add(off)) };
        f()
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: our own mapping, no longer used.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// The user-space [`TextWriter`]: single stores into the page (made
/// writable for the plan's duration), syncs done natively.
pub struct PageWriter<'p, L: LiveArch> {
    page: &'p Page,
    _arch: std::marker::PhantomData<L>,
}

impl<L: LiveArch> std::fmt::Debug for PageWriter<'_, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageWriter").field("page", &self.page).finish()
    }
}

impl<'p, L: LiveArch> PageWriter<'p, L> {
    fn off(&self, addr: TextAddr, n: usize) -> Result<usize, MemError> {
        let off = addr.0.checked_sub(self.page.base as u64).ok_or(MemError::Fault(addr.0))? as usize;
        if off + n > self.page.len {
            return Err(MemError::Fault(addr.0));
        }
        Ok(off)
    }
}

impl<L: LiveArch> TextWriter for PageWriter<'_, L> {
    fn read(&self, addr: TextAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let off = self.off(addr, buf.len())?;
        // SAFETY: in bounds (checked), readable mapping.
        unsafe { std::ptr::copy_nonoverlapping(self.page.base.add(off), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }
    fn write(&mut self, addr: TextAddr, bytes: &[u8]) -> Result<(), MemError> {
        let off = self.off(addr, bytes.len())?;
        // SAFETY: in bounds (checked) and writable while the plan runs.  An
        // aligned 4- or 8-byte store is done as one atomic store, so other
        // threads fetch either the old or the new word, as in the kernel.
        unsafe {
            let p = self.page.base.add(off);
            match bytes.len() {
                1 => (*p.cast::<std::sync::atomic::AtomicU8>()).store(bytes[0], Ordering::SeqCst),
                4 if (p as usize).is_multiple_of(4) => (*p.cast::<std::sync::atomic::AtomicU32>())
                    .store(u32::from_ne_bytes(bytes.try_into().unwrap()), Ordering::SeqCst),
                8 if (p as usize).is_multiple_of(8) => (*p.cast::<std::sync::atomic::AtomicU64>())
                    .store(u64::from_ne_bytes(bytes.try_into().unwrap()), Ordering::SeqCst),
                _ => std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()),
            }
        }
        Ok(())
    }
    fn sync(&mut self, kind: SyncKind) -> Result<(), MemError> {
        L::native_sync(kind, self.page);
        Ok(())
    }
}

/// What [`live_patch`] observed.
#[derive(Debug, Default, Clone, Copy)]
pub struct LiveReport {
    /// Patch + unpatch cycles run.
    pub cycles: u64,
    /// Calls made by the caller threads.
    pub calls: u64,
    /// Calls that returned the new value.
    pub new_results: u64,
    /// Assertions checked (each call's result, each post-sync expectation,
    /// each site read-back).
    pub assertions: u64,
}

const OLD: u32 = 0x01d;
const NEW: u32 = 0x2e7;

/// Run the live-patch test with `threads` callers for `cycles` patch/unpatch
/// cycles.  Panics (failing the test) on any wrong result.
pub fn live_patch<L: LiveArch>(threads: usize, cycles: u64) -> LiveReport {
    let (old, site_off) = L::old_function(OLD);
    let new = L::new_function(NEW);
    let new_off = NEW_OFF;
    let page = Arc::new(Page::new(0x1000, &[(0, &old), (new_off, &new)]));
    L::prepare(&page);
    let site = page.addr(site_off);
    let target = page.addr(new_off);

    // SAFETY: both functions were just written.
    assert_eq!(unsafe { page.call(0) }, OLD, "old function before patching");
    // SAFETY: as above.
    assert_eq!(unsafe { page.call(new_off) }, NEW, "new function");

    // `epoch` is odd while a plan runs; after a plan's final sync it becomes
    // even and `expect` holds the only result allowed from then on.
    let epoch = Arc::new(AtomicU64::new(0));
    let expect = Arc::new(AtomicU64::new(OLD as u64));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (page, epoch, expect, stop) = (page.clone(), epoch.clone(), expect.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let (mut calls, mut news, mut asserts) = (0u64, 0u64, 0u64);
            while !stop.load(Ordering::Acquire) {
                let e0 = epoch.load(Ordering::Acquire);
                let want = expect.load(Ordering::Acquire) as u32;
                // SAFETY: offset 0 always holds a valid function (old or patched).
                let r = unsafe { page.call(0) };
                let e1 = epoch.load(Ordering::Acquire);
                calls += 1;
                assert!(r == OLD || r == NEW, "call returned {r:#x}: neither old nor new");
                asserts += 1;
                if r == NEW {
                    news += 1;
                }
                // The whole call ran in one quiescent epoch: only that epoch's result.
                if e0 == e1 && e0 % 2 == 0 {
                    assert_eq!(r, want, "call after a plan's final sync returned the other version");
                    asserts += 1;
                }
            }
            (calls, news, asserts)
        }));
    }

    let nop = L::encode_nop();
    let jump = L::site_branch(site, target);
    let mut w = PageWriter::<L> { page: &page, _arch: std::marker::PhantomData };
    let mut report = LiveReport::default();
    for _ in 0..cycles {
        for (from, to, dest, want) in [(nop, jump, Some(target), NEW), (jump, nop, None, OLD)] {
            let plan = L::patch_plan(site, &from, &to).expect("plan");
            L::plan_starting(site, dest);
            epoch.fetch_add(1, Ordering::AcqRel);
            page.protect(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC);
            apply(&plan, &mut w).expect("plan applies");
            page.protect(libc::PROT_READ | libc::PROT_EXEC);
            expect.store(want as u64, Ordering::Release);
            epoch.fetch_add(1, Ordering::AcqRel);
            // The site now holds exactly the new instruction.
            let mut back = [0u8; 8];
            w.read(site, &mut back[..to.len()]).unwrap();
            assert_eq!(&back[..to.len()], to.as_slice(), "site read-back after plan");
            // SAFETY: the site holds a complete instruction again.
            assert_eq!(unsafe { page.call(0) }, want, "main thread after final sync");
            report.assertions += 2;
            std::thread::yield_now();
        }
        report.cycles += 1;
    }
    stop.store(true, Ordering::Release);
    for h in handles {
        let (c, n, a) = h.join().expect("caller thread panicked");
        report.calls += c;
        report.new_results += n;
        report.assertions += a;
    }
    report
}

/// A thread's own stack as a [`graft_core::StackReader`]: reads are bounded to
/// `[lo, hi)`, which must lie inside the live stack of the calling thread.
#[derive(Debug, Clone, Copy)]
pub struct OwnStack {
    /// Lowest readable address.
    pub lo: u64,
    /// One past the highest.
    pub hi: u64,
}

impl graft_core::StackReader for OwnStack {
    fn read(&self, addr: graft_core::StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let end = addr.0.checked_add(buf.len() as u64).ok_or(MemError::Fault(addr.0))?;
        if addr.0 < self.lo || end > self.hi {
            return Err(MemError::Fault(addr.0));
        }
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: inside the caller's live stack (bounds checked above).
            *b = unsafe { std::ptr::read_volatile((addr.0 as *const u8).add(i)) };
        }
        Ok(())
    }
}

unsafe extern "C" {
    static __executable_start: u8;
    static etext: u8;
}

/// The test binary's own text stands in for kernel text.
#[derive(Debug, Clone, Copy, Default)]
pub struct OwnText;

impl graft_core::TextInfo for OwnText {
    fn kind(&self, addr: TextAddr) -> graft_core::TextKind {
        // Linker-defined symbols: only their addresses are taken.
        let (lo, hi) = (&raw const __executable_start as u64, &raw const etext as u64);
        if (lo..hi).contains(&addr.0) {
            graft_core::TextKind::Kernel
        } else {
            graft_core::TextKind::NotText
        }
    }
}

/// What an arch's unwind test observed.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnwindReport {
    /// Frames the backend's unwinder returned, over all walks.
    pub frames: u64,
    /// Assertions checked.
    pub assertions: u64,
}

/// Whether `ret` is a return address inside function `f` (whose code spans
/// at most `max_len` bytes from its start).
pub fn returns_into(ret: TextAddr, f: usize, max_len: u64) -> bool {
    ret.0 > f as u64 && ret.0 <= f as u64 + max_len
}

// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/graft/<patch>/stragglers`: while a transition runs, the
//! tasks its last reported pass could not switch, each with why and, when
//! its stack can be walked, the frames the reliable unwinder read
//! (`sprint_symbol()`), capped to one page.  Rebuilt on some passes (the
//! walk is repeated for the report, so not on every pass), cleared when a
//! transition starts or ends; read under GRAFT_MUTEX.
//!
//! ```text
//! pass 64
//! pid 1927 (sh) waits: graft_test_sleeper_func+0x0/0x20 [graft_test_sleeper] in frame 4
//!   #0 __schedule+0x2f6/0x720
//!   ...
//! idle task of CPU 1 waits: running (idle-loop check: not reached yet)
//! ```

use super::MAX_FRAMES;
use crate::kenv::{self, KallsymsText, KSYM_BUF};
use crate::tasks::{Copied, StackCopy};
use core::fmt::Write;
use graft_core::{Blocker, TextAddr};
use kernel::{
    alloc::{flags::GFP_KERNEL, AllocError, KVec},
    bindings,
};

/// sysfs hands show() one page (PAGE_SIZE, 4096 on every arch graft builds
/// the engine for).
const PAGE: usize = 4096;
const TRUNCATED: &str = "(more not shown)\n";

/// The report and what building it needs.
pub(crate) struct Stragglers {
    text: KVec<u8>,
    /// Set once a line did not fit: nothing more is added.
    full: bool,
    /// A second stack buffer: the pass's own is the engine's.
    stack: StackCopy,
    frames: [TextAddr; MAX_FRAMES],
}

impl Write for Stragglers {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if self.full || self.text.len() + s.len() > PAGE - TRUNCATED.len() {
            self.full = true;
            return Ok(());
        }
        for b in s.bytes() {
            // Capacity PAGE reserved at init: never allocates.
            self.text.push(b, GFP_KERNEL).map_err(|_| core::fmt::Error)?;
        }
        Ok(())
    }
}

impl Stragglers {
    pub(crate) const fn new() -> Self {
        Stragglers { text: KVec::new(), full: false, stack: StackCopy::empty(), frames: [TextAddr(0); MAX_FRAMES] }
    }

    /// Module init: the page and a stack buffer.
    pub(crate) fn init(&mut self) -> Result<(), AllocError> {
        self.text = KVec::with_capacity(PAGE, GFP_KERNEL)?;
        self.stack = StackCopy::new()?;
        Ok(())
    }

    /// Module exit.
    pub(crate) fn free(&mut self) {
        self.text = KVec::new();
        self.stack = StackCopy::empty();
    }

    /// No transition (or a new one): nothing to report.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.full = false;
    }

    /// Start the report of pass `pass`.
    pub(crate) fn begin(&mut self, pass: u32) {
        self.clear();
        let _ = writeln!(self, "pass {pass}");
    }

    /// Task `t` (not the pass's own task) did not switch because of `why`.
    pub(crate) fn task(&mut self, t: *mut bindings::task_struct, pid: i32, comm: &str, why: Blocker) {
        if self.full {
            return;
        }
        let mut sym = [0u8; KSYM_BUF];
        match why {
            Blocker::OnStack { func, frame } => {
                let f = kenv::describe(func.0, &mut sym);
                let _ = writeln!(self, "pid {pid} ({comm}) waits: {f} in frame {frame}");
            }
            Blocker::Referenced { func, at } => {
                let f = kenv::describe(func.0, &mut sym);
                let _ = writeln!(self, "pid {pid} ({comm}) waits: {f} referenced at {at:#x} (interrupted stack)");
            }
            _ => {
                let _ = writeln!(self, "pid {pid} ({comm}) waits: {why}");
            }
        }
        // Only a task whose walk succeeded has frames to show: a running
        // one is not walked, an unreliable walk proves nothing.
        if matches!(why, Blocker::OnStack { .. }) {
            self.frames_of(t);
        }
    }

    /// The idle task of `cpu` did not switch.
    pub(crate) fn idle(&mut self, cpu: usize, why: Blocker, check: &str) {
        let _ = writeln!(self, "idle task of CPU {cpu} waits: {why} (idle-loop check: {check})");
    }

    /// Walk `t` again (the pass's copy is gone) and list its frames.
    fn frames_of(&mut self, t: *mut bindings::task_struct) {
        let (regs, bounds) = match self.stack.copy(t) {
            Copied::Stack(regs, bounds) => (regs, bounds),
            _ => {
                let _ = writeln!(self, "  (ran since: stack not shown)");
                return;
            }
        };
        let Ok(n) =
            crate::arch::unwinder().unwind_reliable(&regs, bounds, &self.stack, &KallsymsText, &mut self.frames)
        else {
            let _ = writeln!(self, "  (stack changed: not shown)");
            return;
        };
        let mut sym = [0u8; KSYM_BUF];
        for k in 0..n {
            let f = kenv::describe(self.frames[k].0, &mut sym);
            let _ = writeln!(self, "  #{k} {f}");
        }
    }

    /// sysfs show(): the report into `buf` (one page).
    pub(crate) fn show(&self, buf: *mut u8) -> isize {
        let mut n = self.text.len().min(PAGE);
        // SAFETY: sysfs hands a PAGE_SIZE buffer; at most PAGE bytes written.
        unsafe { core::ptr::copy_nonoverlapping(self.text.as_ptr(), buf, n) };
        if self.full {
            let t = TRUNCATED.as_bytes();
            // SAFETY: `write_str` keeps room for the note within the page.
            unsafe { core::ptr::copy_nonoverlapping(t.as_ptr(), buf.add(n), t.len()) };
            n += t.len();
        }
        n as isize
    }
}

// SPDX-License-Identifier: GPL-2.0
//! The per-task self-test (x86_64): for every thread, the backend's reliable
//! unwinder walks a copy of its kernel stack, and the kernel's own
//! `stack_trace_save_tsk()` walks the live stack inside the same window in
//! which the task provably stayed switched out (`shim.c`, the copy of the
//! transition passes with the trace taken inside its window).  Where the
//! backend accepts a stack, its frames must be exactly the kernel's; where
//! it refuses one, the reason is counted (refusing is allowed, the kernel's
//! trace is not reliable; accepting a stack the kernel walks differently is
//! not).
//!
//! One line: `graft: selftest tasks tasks=<n> walked=<w> agree=<a>
//! disagree=<d> refused=<r> running=<u> exited=<x>`, then each disagreement
//! with both traces.

use crate::kenv::{self, KallsymsText, KSYM_BUF};
use crate::Native;
use core::ffi::c_void;
use graft_core::{SliceMemory, StackAddr, StackBounds, TextAddr, Unwinder};
use kernel::{
    ffi::{c_int, c_uint, c_ulong},
    prelude::*,
};

const MAX_FRAMES: usize = 64;
const GRAFT_TASK_DEAD: c_int = 1;
const GRAFT_TASK_COPIED: c_int = 2;
/// Disagreements logged in full; the rest are only counted.
const MAX_LOGGED: u32 = 4;

unsafe extern "C" {
    fn graft_shim_thread_size() -> c_ulong;
    fn graft_shim_task_pid(t: *mut c_void) -> c_int;
    fn graft_shim_task_comm(t: *mut c_void) -> *const kernel::ffi::c_char;
    fn graft_shim_trace_task(
        t: *mut c_void,
        buf: *mut u8,
        lo: *mut c_ulong,
        sp: *mut c_ulong,
        trace: *mut c_ulong,
        max: c_uint,
        n: *mut c_uint,
    ) -> c_int;
}

#[derive(Default)]
struct Counts {
    tasks: u32,
    walked: u32,
    agree: u32,
    disagree: u32,
    refused: u32,
    running: u32,
    exited: u32,
}

/// Run the test over every thread and log the verdict line.
pub(crate) fn run() {
    match check_all() {
        Ok(c) => pr_info!(
            "selftest tasks tasks={} walked={} agree={} disagree={} refused={} running={} exited={}\n",
            c.tasks,
            c.walked,
            c.agree,
            c.disagree,
            c.refused,
            c.running,
            c.exited
        ),
        Err(e) => pr_err!("selftest tasks not run ({:?})\n", e),
    }
}

fn check_all() -> Result<Counts> {
    // SAFETY: returns THREAD_SIZE.
    let size = unsafe { graft_shim_thread_size() } as usize;
    let mut buf = kenv::zeroed(size)?;
    let tasks = crate::engine::threads().map_err(Error::from_errno)?;
    let mut c = Counts::default();
    for &t in tasks.iter() {
        c.tasks += 1;
        check_task(t, &mut buf, &mut c);
    }
    crate::engine::put_tasks(tasks);
    Ok(c)
}

#[inline(never)] // Its frame arrays live only while it runs: kernel stacks are small.
fn check_task(t: *mut c_void, buf: &mut [u8], c: &mut Counts) {
    let mut kernel = [0 as c_ulong; MAX_FRAMES];
    let (mut lo, mut sp, mut n): (c_ulong, c_ulong, c_uint) = (0, 0, 0);
    // SAFETY: `t` is referenced by the snapshot; `buf` holds THREAD_SIZE
    // bytes and `kernel` MAX_FRAMES entries.
    let r = unsafe {
        graft_shim_trace_task(t, buf.as_mut_ptr(), &mut lo, &mut sp, kernel.as_mut_ptr(), MAX_FRAMES as c_uint, &mut n)
    };
    match r {
        GRAFT_TASK_COPIED => {}
        GRAFT_TASK_DEAD => {
            c.exited += 1;
            return;
        }
        _ => {
            c.running += 1;
            return;
        }
    }
    c.walked += 1;
    let kernel = &kernel[..(n as usize).min(MAX_FRAMES)];
    // The copy starts at the saved stack pointer (the shim guarantees it
    // lies in the stack): reads below it are faults.
    let from = sp as u64 & !7;
    let Some(live) = buf.get((from - lo as u64) as usize..) else { return };
    let mem = SliceMemory { base: from, bytes: live };
    let hi = StackAddr(lo as u64 + buf.len() as u64);
    let bounds = StackBounds { lo: StackAddr(lo as u64), hi, final_frame: Native::final_frame(hi) };
    let mut pcs = [TextAddr(0); MAX_FRAMES];
    let walk = graft_x86_64::inactive_task_regs(StackAddr(sp as u64), bounds, &mem)
        .and_then(|regs| Native::unwind_reliable(&regs, bounds, &mem, &KallsymsText, &mut pcs));
    let Ok(k) = walk else {
        c.refused += 1;
        return;
    };
    if same_frames(&pcs[..k], kernel) {
        c.agree += 1;
        return;
    }
    c.disagree += 1;
    if c.disagree <= MAX_LOGGED {
        // SAFETY: the snapshot holds a reference on the task.
        let (pid, comm) = unsafe { (graft_shim_task_pid(t), graft_shim_task_comm(t)) };
        // SAFETY: `comm` is the task's NUL-terminated name.
        let comm = unsafe { CStr::from_char_ptr(comm) }.to_str().unwrap_or("?");
        pr_err!("selftest tasks disagree: pid {} ({})\n", pid, comm);
        log("graft", pcs[..k].iter().map(|a| a.0));
        log("kernel", kernel.iter().map(|&a| a as u64));
    }
}

/// The backend's frames are the kernel's: `stack_trace_save_tsk()` of
/// another task leaves out the scheduler's own frames (kernel/stacktrace.c,
/// `stack_trace_consume_entry_nosched()`, which drops every address in
/// `__sched` text: `__schedule`, `schedule`, the sleeping lock and wait
/// paths), and only at the top of the stack, where the task switched out.
/// So the kernel's trace must be exactly the backend's after a prefix, the
/// backend's scheduler frames.  (`in_sched_functions()` is not exported, so
/// the prefix itself is not checked frame by frame; the kernel's trace must
/// be non-empty unless the task never left the scheduler.)
fn same_frames(graft: &[TextAddr], kernel: &[c_ulong]) -> bool {
    let Some(extra) = graft.len().checked_sub(kernel.len()) else { return false };
    graft[extra..].iter().zip(kernel).all(|(g, &k)| g.0 == k as u64)
}

#[inline(never)] // Its symbol buffer lives only while it runs.
fn log(who: &str, frames: impl Iterator<Item = u64>) {
    let mut sym = [0u8; KSYM_BUF];
    for (i, a) in frames.enumerate() {
        pr_err!("selftest tasks   {}[{}] {:#x} {}\n", who, i, a, kenv::describe(a, &mut sym));
    }
}

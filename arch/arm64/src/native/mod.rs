//! What only runs on an arm64 CPU: cache maintenance after a text write,
//! and the fast path's trampolines.
//!
//! In the kernel, ftrace does its own patching (`aarch64_insn_patch_text_nosync()`
//! then `caches_clean_inval_pou()`); graft only reads sites back.  This module
//! serves user-space environments that apply a [`graft_core::Plan`] themselves
//! (the qemu-user live test), with the same instruction sequence.
#![allow(unsafe_code)]

use crate::site::{TRAMPOLINES, TRAMPOLINE_STRIDE};
use core::arch::{asm, global_asm};
use core::sync::atomic::AtomicU64;
use graft_core::{TextAddr, Trampoline};

/// `CTR_EL0` (readable at EL0: Linux sets `SCTLR_EL1.UCT` or emulates it).
pub fn ctr_el0() -> u64 {
    let ctr: u64;
    // SAFETY: a read of an EL0-accessible system register; no memory access.
    unsafe { asm!("mrs {0}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    ctr
}

/// `caches_clean_inval_pou(start, end)` (arch/arm64/mm/cache.S): make
/// instructions written to `[start, end)` visible to instruction fetch.
///
/// Unless `CTR_EL0.IDC`, clean the data cache to the point of unification
/// line by line (`dc cvau`) and `dsb ish`, else just `dsb ishst`; unless
/// `CTR_EL0.DIC`, invalidate the instruction cache line by line (`ic ivau`)
/// and `dsb ish`; then `isb`.
///
/// # Safety
/// `[start, end)` must be mapped (cache maintenance by VA faults on an
/// unmapped address, like a load would).
pub unsafe fn caches_clean_inval_pou(start: u64, end: u64) {
    let ctr = ctr_el0();
    if ctr & (1 << 28) != 0 {
        // SAFETY: a barrier; no memory is accessed.
        unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    } else {
        let line = 4u64 << ((ctr >> 16) & 0xf); // DminLine, in words.
        let mut a = start & !(line - 1);
        while a < end {
            // SAFETY: `a` lies in the line of a mapped byte of the range
            // (the caller's guarantee); `dc cvau` writes nothing back to it
            // that was not already there.
            unsafe { asm!("dc cvau, {0}", in(reg) a, options(nostack, preserves_flags)) };
            a += line;
        }
        // SAFETY: a barrier.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    }
    if ctr & (1 << 29) != 0 {
        // SAFETY: a context synchronization event; no memory is accessed.
        unsafe { asm!("isb", options(nostack, preserves_flags)) };
        return;
    }
    let line = 4u64 << (ctr & 0xf); // IminLine, in words.
    let mut a = start & !(line - 1);
    while a < end {
        // SAFETY: as for `dc cvau`: a mapped line of the caller's range;
        // invalidating instruction cache lines never changes memory.
        unsafe { asm!("ic ivau, {0}", in(reg) a, options(nostack, preserves_flags)) };
        a += line;
    }
    // SAFETY: barriers.
    unsafe { asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
}

/// The caller's current pc, `sp` and frame pointer `x29` (inlined into the
/// caller, so they are the caller's), where the backend's frame-record walk
/// starts.  The walk does not use `lr`.
#[inline(always)]
pub fn frame_regs() -> graft_core::SavedRegs {
    let (pc, sp, fp): (u64, u64, u64);
    // SAFETY: reads the pc, sp and x29 into outputs; touches no memory.
    unsafe {
        asm!(
            "adr {pc}, .",
            "mov {sp}, sp",
            "mov {fp}, x29",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
    }
    graft_core::SavedRegs { pc, sp, fp, lr: 0 }
}

/// Where each trampoline branches (0 until the glue points it somewhere).
static TARGETS: [AtomicU64; TRAMPOLINES] = [const { AtomicU64::new(0) }; TRAMPOLINES];

// The fast path's trampolines (`site.rs`, `Arm64::direct`): a direct call
// enters one with `x30` after the site's `BL` and `x9` the caller's return
// (arch/arm64/kernel/entry-ftrace.S); it restores `x30` and returns into the
// replacement, as `ftrace_caller` does with `RET X9`.  x16 is free: AAPCS64
// lets a veneer clobber it between a call and its callee.  `hint #34` is
// `BTI C`, spelled so that any assembler takes it.
global_asm!(
    ".pushsection .text, \"ax\", %progbits",
    ".balign {stride}",
    ".globl graft_direct_trampolines",
    ".type graft_direct_trampolines, %function",
    "graft_direct_trampolines:",
    ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,\
        32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63",
    ".balign {stride}",
    "hint #34",
    "mov x30, x9",
    "adrp x16, {targets} + \\i * 8",
    "ldr x16, [x16, :lo12:{targets} + \\i * 8]",
    "ret x16",
    ".endr",
    ".size graft_direct_trampolines, . - graft_direct_trampolines",
    ".popsection",
    stride = const TRAMPOLINE_STRIDE,
    targets = sym TARGETS,
);

const _: () = assert!(TRAMPOLINES == 64, "the .irp list above names each trampoline");

unsafe extern "C" {
    /// The first trampoline (the asm above); never called from Rust.
    fn graft_direct_trampolines();
}

/// Trampoline `i` of [`TRAMPOLINES`], for a direct call ([`crate::Arm64`]'s
/// `direct`): its entry and the target it loads.
pub fn trampoline(i: usize) -> Option<Trampoline> {
    let target = TARGETS.get(i)?;
    let base = graft_direct_trampolines as *const () as usize as u64;
    Some(Trampoline { entry: TextAddr(base + i as u64 * TRAMPOLINE_STRIDE), target })
}

//! What only runs on an arm64 CPU: cache maintenance after a text write.
//!
//! In the kernel, ftrace does its own patching (`aarch64_insn_patch_text_nosync()`
//! then `caches_clean_inval_pou()`); graft only reads sites back.  This module
//! serves user-space environments that apply a [`graft_core::Plan`] themselves
//! (the qemu-user live test), with the same instruction sequence.
#![allow(unsafe_code)]

use core::arch::asm;

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

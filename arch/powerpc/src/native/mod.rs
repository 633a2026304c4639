//! What only runs on a ppc64 CPU: making stored instructions visible to
//! instruction fetch.
//!
//! In the kernel, ftrace's own `patch_instruction()` does this; graft never
//! writes kernel text.  This is for user-space tests (tests/live) that carry
//! out a [`graft_core::SyncKind::CacheMaintenance`] step themselves.
#![allow(unsafe_code)]

/// Smallest cache block of any 64-bit Power core (POWER7 and later use 128
/// bytes; a smaller step only repeats work on the same block).
pub const MIN_CACHE_BLOCK: usize = 32;

/// `flush_icache_range()` over `[addr, addr + len)`: `dcbst` every block,
/// `sync`, `icbi` every block, `sync`, `isync`: the sequence
/// `__patch_mem()` (arch/powerpc/lib/code-patching.c) runs after its store.
///
/// # Safety
/// `[addr, addr + len)` must be mapped (readable) memory of this process.
pub unsafe fn sync_icache(addr: usize, len: usize) {
    let start = addr & !(MIN_CACHE_BLOCK - 1);
    let end = addr.saturating_add(len);
    let mut p = start;
    while p < end {
        // SAFETY: `p` lies in the mapped range (the caller's guarantee);
        // dcbst only writes back the block, it changes no memory contents.
        unsafe { core::arch::asm!("dcbst 0, {0}", in(reg) p, options(nostack, preserves_flags)) };
        p += MIN_CACHE_BLOCK;
    }
    // SAFETY: a barrier; no memory operands.
    unsafe { core::arch::asm!("sync", options(nostack, preserves_flags)) };
    let mut p = start;
    while p < end {
        // SAFETY: as above; icbi only invalidates the instruction cache block.
        unsafe { core::arch::asm!("icbi 0, {0}", in(reg) p, options(nostack, preserves_flags)) };
        p += MIN_CACHE_BLOCK;
    }
    // SAFETY: barriers and a context synchronisation; no memory operands.
    unsafe { core::arch::asm!("sync", "isync", options(nostack, preserves_flags)) };
}

/// The caller's current instruction address and `r1` (inlined into the
/// caller, so they are the caller's), where the backend's back-chain walk
/// starts.  The walk uses neither `fp` nor `lr`.
#[inline(always)]
pub fn frame_regs() -> graft_core::SavedRegs {
    let (pc, sp): (u64, u64);
    // SAFETY: `bcl 20,31` to the next instruction puts its address in LR
    // (declared clobbered) without branching anywhere; then LR and r1 are
    // copied to outputs.  No memory is touched.
    unsafe {
        core::arch::asm!(
            "bcl 20, 31, 1f",
            "1: mflr {pc}",
            "mr {sp}, 1",
            pc = out(reg) pc,
            sp = out(reg) sp,
            out("lr") _,
            options(nomem, nostack, preserves_flags),
        );
    }
    graft_core::SavedRegs { pc, sp, fp: 0, lr: 0 }
}

//! What only runs on s390x.
#![allow(unsafe_code)]

/// Serialise this CPU: `bcr 15,0`, the form of `bcr_serialize()`
/// (`arch/s390/include/asm/barrier.h`) that needs no fast-BCR facility.
/// Completes every earlier store and discards prefetched instructions, so
/// this CPU executes text as it is now.  The kernel runs it on every CPU
/// (`text_poke_sync()`).
#[inline]
pub fn serialize() {
    // SAFETY: `bcr 15,0` branches nowhere (register 0 as target means no
    // branch), touches no register, memory or condition code: it only
    // orders this CPU's memory accesses and instruction fetch.
    unsafe { core::arch::asm!("bcr 15,0", options(nostack, preserves_flags)) }
}

/// The caller's current instruction address and `r15` (inlined into the
/// caller, so they are the caller's), where the backend's back-chain walk
/// starts.  The walk uses neither `fp` nor `lr`.
#[inline(always)]
pub fn frame_regs() -> graft_core::SavedRegs {
    let (pc, sp): (u64, u64);
    // SAFETY: `larl` computes an address and `lgr` copies r15; both write
    // only their output registers and touch no memory.
    unsafe {
        core::arch::asm!(
            "larl {pc}, .",
            "lgr {sp}, %r15",
            pc = out(reg) pc,
            sp = out(reg) sp,
            options(nomem, nostack, preserves_flags),
        );
    }
    graft_core::SavedRegs { pc, sp, fp: 0, lr: 0 }
}

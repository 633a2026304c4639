//! What only runs on a riscv64 CPU: `fence.i` and the caller's registers.
//!
//! In the kernel, ftrace does its own patching and cache synchronisation
//! (`patch_insn_write()`, `flush_icache_all()`); graft only reads sites
//! back.  [`fence_i`] serves user-space environments that apply a
//! [`graft_core::Plan`] themselves (the qemu-user live test), which must
//! also ask the kernel to run it on every hart (`riscv_flush_icache()`, a
//! system call, kept out of this crate so graft.ko never links it).
#![allow(unsafe_code)]

use core::arch::asm;

/// `fence.i` on this hart (`local_flush_icache_all()`, asm/cacheflush.h):
/// later instruction fetches see its earlier stores.
pub fn fence_i() {
    // SAFETY: an instruction-fetch barrier; no memory is accessed.  The
    // directive enables Zifencei for a target (the kernel's
    // riscv64imac-unknown-none-elf) that leaves it out.
    unsafe { asm!(".option push", ".option arch, +zifencei", "fence.i", ".option pop", options(nostack)) };
}

/// The caller's current pc, `sp` and frame pointer `s0` (inlined into the
/// caller, so they are the caller's), where the backend's frame-record walk
/// starts.  The walk does not use `ra`.
#[inline(always)]
pub fn frame_regs() -> graft_core::SavedRegs {
    let (pc, sp, fp): (u64, u64, u64);
    // SAFETY: reads the pc, sp and s0 into outputs; touches no memory.
    unsafe {
        asm!(
            "auipc {pc}, 0",
            "mv {sp}, sp",
            "mv {fp}, s0",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
    }
    graft_core::SavedRegs { pc, sp, fp, lr: 0 }
}

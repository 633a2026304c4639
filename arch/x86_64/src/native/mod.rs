//! What only runs on an x86_64 CPU: serialising the local core and reading
//! the current frame registers.  Everything else in this crate is plain data
//! handling that builds and runs on any host.
#![allow(unsafe_code)]

use core::arch::asm;
use graft_core::SavedRegs;

/// Serialise the local core's instruction stream, as the kernel's
/// `sync_core()` does (which prefers `SERIALIZE` or an `IRET` to self; `cpuid`
/// is the serialising instruction every x86_64 CPU has and user space may run).
#[inline]
pub fn sync_core() {
    // SAFETY: `cpuid` reads and writes only eax, ebx, ecx and edx.  rbx is
    // reserved by LLVM, so it is saved and restored around the instruction.
    unsafe {
        asm!(
            "mov {save}, rbx",
            "cpuid",
            "mov rbx, {save}",
            save = out(reg) _,
            inout("eax") 0u32 => _,
            inout("ecx") 0u32 => _,
            out("edx") _,
            options(nostack, preserves_flags),
        );
    }
}

/// The caller's current `rip`, `rsp` and `rbp` (inlined into the caller, so
/// `fp` is the caller's own frame when it keeps frame pointers).
#[inline(always)]
pub fn frame_regs() -> SavedRegs {
    let (pc, sp, fp): (u64, u64, u64);
    // SAFETY: reads three registers into outputs; touches no memory.
    unsafe {
        asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {fp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
    }
    SavedRegs { pc, sp, fp, lr: 0 }
}

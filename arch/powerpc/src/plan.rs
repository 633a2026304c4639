//! The powerpc cross-modifying-code protocol as a [`Plan`].
//!
//! ftrace changes a site with `patch_instruction()` (arch/powerpc/lib/code-patching.c):
//! one aligned 32-bit store (`__put_kernel_nofault(.., u32, ..)`), then
//! `dcbst 0,addr; sync; icbi 0,addr; sync; isync` in `__patch_mem()`.  No IPI
//! and no stop_machine (`arch_ftrace_update_code()` in
//! arch/powerpc/kernel/trace/ftrace.c): the Power ISA guarantees that another
//! CPU fetching the word sees either the old or the new instruction, and `icbi`
//! is broadcast.  This is sound because each site change replaces exactly one
//! word (`nop` <-> `bl`/`b`), so every CPU runs either the old or the new code.

use graft_core::{InsnBuf, Plan, PlanError, SyncKind, TextAddr};

/// One aligned word store, then cache maintenance over that word.
pub fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
    // Only single-word instructions: a site is one word, and the prefixed
    // (8-byte) instructions patch_instruction() also handles never sit there.
    if old.len() != new.len() || new.len() != 4 {
        return Err(PlanError::LengthMismatch);
    }
    if !at.is_aligned(4) {
        return Err(PlanError::Misaligned(at));
    }
    // ftrace_modify_code() skips the store when nothing changes.
    if old == new {
        return Err(PlanError::Unchanged);
    }
    let mut plan = Plan::new();
    plan.write(at, new.as_slice())?;
    plan.sync(SyncKind::CacheMaintenance { addr: at, len: 4 })?;
    Ok(plan)
}

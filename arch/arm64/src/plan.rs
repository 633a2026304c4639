//! The arm64 cross-modifying-code protocol as a [`Plan`].
//!
//! `aarch64_insn_patch_text_nosync()` (arch/arm64/kernel/patching.c) is what
//! ftrace uses for every site update (`ftrace_modify_code()` in
//! arch/arm64/kernel/ftrace.c): one naturally aligned 32-bit store through a
//! writable alias, then `caches_clean_inval_pou()` over those 4 bytes (`dc
//! cvau`, `dsb ish`, `ic ivau`, `dsb ish`, `isb`).  No IPI, no stop_machine:
//! the Arm ARM allows another CPU to execute a word concurrently modified
//! between `NOP`, `B` and `BL` (and a few others), seeing either the old or
//! the new instruction.  So the plan is exactly one write and one sync, and
//! every prefix of it leaves valid code.

use graft_core::{InsnBuf, Plan, PlanError, Step, SyncKind, TextAddr};

/// Build the plan turning `old` into `new` at `at`.
///
/// Refuses anything but one 4-byte instruction (`LengthMismatch`: arm64 has
/// no safe multi-word live update), an `at` that is not 4-byte aligned (the
/// store would not be single-copy atomic) and a no-op.
pub fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
    if old.len() != 4 || new.len() != 4 {
        return Err(PlanError::LengthMismatch);
    }
    if !at.is_aligned(4) {
        return Err(PlanError::Misaligned(at));
    }
    if old == new {
        return Err(PlanError::Unchanged);
    }
    let mut plan = Plan::new();
    plan.push(Step::Write { addr: at, bytes: *new })?;
    plan.sync(SyncKind::CacheMaintenance { addr: at, len: 4 })?;
    Ok(plan)
}

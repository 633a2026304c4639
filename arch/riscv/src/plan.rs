//! The riscv cross-modifying-code protocol as a [`Plan`].
//!
//! ftrace changes a site with `patch_insn_write()` of the one 4-byte word
//! at `rec->ip` (`ftrace_make_call()`/`ftrace_make_nop()` in
//! arch/riscv/kernel/ftrace.c: only the `jalr`/`nop` word; the `auipc`
//! before it was written once by `ftrace_init_nop()`), then
//! `arch_ftrace_update_code()` runs `flush_icache_all()`
//! (arch/riscv/mm/cacheflush.c): `fence.i` here, then on every other hart
//! by IPI or SBI remote fence.  No stop_machine: the site is 4-byte
//! aligned (the symbol is, `FUNCTION_ALIGNMENT_4B`/`_8B`), so the store is
//! single-copy atomic and another hart fetches either `nop` or the `jalr`,
//! both complete instructions after the same `auipc t0`.  The plan is that
//! one store and that one sync ([`SyncKind::SyncCores`]: `fence.i` on every
//! hart), and every prefix of it leaves valid code.

use graft_core::{InsnBuf, Plan, PlanError, Step, SyncKind, TextAddr};

/// Build the plan turning `old` into `new` at `at`.
///
/// Refuses anything but one 4-byte instruction (`LengthMismatch`: a
/// compressed word or the 8-byte pair cannot be changed live), an `at`
/// that is not 4-byte aligned (the store would not be atomic) and a no-op.
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
    plan.sync(SyncKind::SyncCores)?;
    Ok(plan)
}

//! The x86 cross-modifying-code protocol as a [`Plan`].
//!
//! x86 has no single-copy atomic store for a 5-byte instruction, so the kernel
//! patches live text with a breakpoint (`smp_text_poke_batch_finish()` in
//! arch/x86/kernel/alternative.c, reached through `smp_text_poke_single()`
//! and ftrace's `ftrace_replace_code()`):
//!
//! 1. write `int3` over byte 0, then sync every core;
//! 2. write bytes `1..len` of the new instruction, then sync (skipped when the
//!    instruction is a single byte: the kernel's `len - INT3_INSN_SIZE > 0`);
//! 3. write the new byte 0, then sync (skipped when that byte is itself
//!    `int3`: the kernel's `if (byte == INT3_INSN_OPCODE) continue`).
//!
//! Between step 1 and the end of step 3 a CPU that executes the site traps,
//! and `smp_text_poke_int3_handler()` emulates the *new* instruction (a NOP5
//! as `jmp +0`), so every CPU runs either the whole old or the whole new
//! instruction.  The tail store of step 2 need not be atomic: nobody executes
//! those bytes while byte 0 is `int3`.  Each sync is `SyncKind::SyncCores`
//! (`smp_text_poke_sync_each_cpu()`: an IPI running `sync_core()` everywhere).
//!
//! Like the kernel, the plan does not skip a tail store whose bytes happen to
//! be unchanged.  Identical old and new instructions are refused as
//! [`PlanError::Unchanged`].

use super::codec::INT3;
use graft_core::{InsnBuf, Plan, PlanError, SyncKind, TextAddr};

pub(crate) fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
    if old.len() != new.len() {
        return Err(PlanError::LengthMismatch);
    }
    if old == new {
        return Err(PlanError::Unchanged);
    }
    let new = new.as_slice();
    let mut plan = Plan::new();
    plan.write(at, &[INT3])?;
    plan.sync(SyncKind::SyncCores)?;
    if new.len() > 1 {
        // A site whose tail would wrap past the top of the address space
        // cannot be written.
        let tail = at.checked_add(1).ok_or(PlanError::Misaligned(at))?;
        plan.write(tail, &new[1..])?;
        plan.sync(SyncKind::SyncCores)?;
    }
    if new[0] != INT3 {
        plan.write(at, &new[..1])?;
        plan.sync(SyncKind::SyncCores)?;
    }
    Ok(plan)
}

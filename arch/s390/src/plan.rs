//! The s390 cross-modifying-code protocol as a [`Plan`].
//!
//! A site is one 6-byte RIL branch (`c0 <m/op> <disp32>`).  Byte 1 alone
//! decides what it does: `04` never branches, `05` calls, `f4` jumps.  While
//! byte 1 is `04` the displacement is never used, so it may be rewritten in
//! any number of stores without another CPU ever executing a half-written
//! branch.  The plan therefore:
//!
//! * changes the displacement only while byte 1 says nop, in naturally
//!   aligned stores (one word when `at + 2` is word-aligned, else the changed
//!   halfwords), then serialises every CPU;
//! * flips the behaviour with one single-byte store of byte 1, then
//!   serialises again.
//!
//! nop → branch: displacement, Serialize, byte 1, Serialize.
//! branch → nop: byte 1, Serialize, displacement (back to the canonical
//! `brcl 0,0`), Serialize.  branch → branch with a new target goes through
//! the nop (byte 1 to `04`, Serialize, displacement, Serialize, byte 1,
//! Serialize); calls in that window run the unpatched body, as they do in
//! the hotpatch-trampoline regime between `ftrace_make_nop()` and
//! `ftrace_make_call()`.  Every state a CPU can fetch is the old
//! instruction, a nop, or the new instruction.
//!
//! This mirrors the two ways `arch/s390/kernel/ftrace.c` patches: the
//! hotpatch regime flips only byte 1 (`ftrace_patch_branch_mask()`) of a
//! displacement that was written while the site was a nop
//! (`ftrace_init_nop()`); the `cpu_has_seq_insn()` regime rewrites all six
//! bytes with `s390_kernel_write()`, whose single 8-byte `sturg` of the
//! enclosing doubleword (`arch/s390/mm/maccess.c`) a plan cannot express
//! because it would have to carry the two bytes after the site.  Both end
//! with `text_poke_sync_lock()`: `bcr_serialize()` on every CPU
//! (`arch/s390/kernel/alternative.c`), here [`SyncKind::Serialize`].

use crate::codec::{BYTE1_NOP, LEN, OP_RIL};
use graft_core::{InsnBuf, Plan, PlanError, SyncKind, TextAddr};

/// Byte 1 values a site may hold.
fn site_byte1(b: &[u8]) -> bool {
    b[0] == OP_RIL && matches!(b[1], crate::codec::BYTE1_NOP | crate::codec::BYTE1_CALL | crate::codec::BYTE1_JUMP)
}

/// Append the stores that turn displacement bytes `old[2..6]` into `new[2..6]`.
fn write_disp(plan: &mut Plan, at: TextAddr, old: &[u8], new: &[u8]) -> Result<(), PlanError> {
    let d = at.checked_add(2).ok_or(PlanError::Misaligned(at))?;
    if d.is_aligned(4) {
        return plan.write(d, &new[2..LEN]);
    }
    // `d` is 2 mod 4: two aligned halfwords, only those that change.
    for off in [2usize, 4] {
        if old[off..off + 2] != new[off..off + 2] {
            let a = at.checked_add(off as u64).ok_or(PlanError::Misaligned(at))?;
            plan.write(a, &new[off..off + 2])?;
        }
    }
    Ok(())
}

/// The plan that turns the site instruction `old` at `at` into `new`.
///
/// Both must be 6-byte `brcl`/`brasl` site instructions; anything else is
/// refused with [`PlanError::LengthMismatch`] (no store sequence keeps an
/// arbitrary 6-byte change valid at every step).
pub fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
    let (o, n) = (old.as_slice(), new.as_slice());
    if o.len() != LEN || n.len() != LEN || !site_byte1(o) || !site_byte1(n) {
        return Err(PlanError::LengthMismatch);
    }
    if !at.is_aligned(2) {
        return Err(PlanError::Misaligned(at));
    }
    if o == n {
        return Err(PlanError::Unchanged);
    }
    let at1 = at.checked_add(1).ok_or(PlanError::Misaligned(at))?;
    let mut plan = Plan::new();
    let disp_changes = o[2..] != n[2..];
    let sync = |p: &mut Plan| p.sync(SyncKind::Serialize);
    if !disp_changes {
        plan.write(at1, &n[1..2])?;
        sync(&mut plan)?;
        return Ok(plan);
    }
    let mut cur = [0u8; LEN];
    cur.copy_from_slice(o);
    if cur[1] != BYTE1_NOP {
        // Live branch: make it a nop before its displacement moves.
        plan.write(at1, &[BYTE1_NOP])?;
        sync(&mut plan)?;
        cur[1] = BYTE1_NOP;
    }
    write_disp(&mut plan, at, &cur, n)?;
    sync(&mut plan)?;
    if n[1] != BYTE1_NOP {
        plan.write(at1, &n[1..2])?;
        sync(&mut plan)?;
    }
    Ok(plan)
}

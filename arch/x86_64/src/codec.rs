//! The instructions ftrace toggles at an x86_64 site, as bytes.
//!
//! * `0f 1f 44 00 00`: `nopl 0x0(%rax,%rax,1)`, the kernel's `x86_nops[5]`
//!   (`BYTES_NOP5`, arch/x86/include/asm/nops.h) that `ftrace_nop_replace()`
//!   writes;
//! * `e8 rel32`: `call`, what `ftrace_call_replace()` writes to enable a site
//!   (and what the compiler emits as `call __fentry__`);
//! * `e9 rel32`: `jmp`, written instead of the call for a direct target with
//!   bit 0 set under `DYNAMIC_FTRACE_WITH_JMP` (arch/x86/kernel/ftrace.c).
//!
//! `rel32` is a little-endian signed displacement from the *end* of the
//! 5-byte instruction, so the reach measured from the instruction's own
//! address (what [`Codec::branch_range`] reports) is
//! `[i32::MIN + 5, i32::MAX + 5]`.

use super::X86_64;
use graft_core::{Arch, BranchKind, CodecError, Insn, InsnBuf, TextAddr};

/// `x86_nops[5]` on x86_64 (`BYTES_NOP5`).
pub const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
/// `call rel32`.
pub const CALL_OPCODE: u8 = 0xe8;
/// `jmp rel32`.
pub const JMP_OPCODE: u8 = 0xe9;
/// `int3`, the breakpoint of the cross-modifying protocol.
pub const INT3: u8 = 0xcc;
/// Length of every site instruction (`MCOUNT_INSN_SIZE`, `CALL_INSN_SIZE`).
pub const INSN_LEN: usize = 5;

/// Displacement range of a rel32 branch measured from its own address.
const RANGE: (i64, i64) = (i32::MIN as i64 + INSN_LEN as i64, i32::MAX as i64 + INSN_LEN as i64);

fn opcode(kind: BranchKind) -> u8 {
    match kind {
        BranchKind::Call => CALL_OPCODE,
        BranchKind::Jump => JMP_OPCODE,
    }
}

/// `to - from` as an `i64`, saturated (only used to report an unreachable
/// target; anything saturated is out of range anyway).
fn displacement(from: TextAddr, to: TextAddr) -> i64 {
    let d = i128::from(to.0) - i128::from(from.0);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

pub(crate) fn branch_range(_kind: BranchKind) -> (i64, i64) {
    RANGE
}

pub(crate) fn encode_nop() -> InsnBuf {
    InsnBuf::new(&NOP5)
}

pub(crate) fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
    let disp = displacement(from, to);
    if disp < RANGE.0 || disp > RANGE.1 {
        return Err(CodecError::OutOfRange { disp });
    }
    // In range, so the rel32 fits (checked above).
    let rel = (disp - INSN_LEN as i64) as i32;
    let r = X86_64::ENDIAN.u32_bytes(rel as u32);
    Ok(InsnBuf::new(&[opcode(kind), r[0], r[1], r[2], r[3]]))
}

pub(crate) fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError> {
    let Some(&first) = bytes.first() else { return Err(CodecError::Truncated) };
    let kind = match first {
        CALL_OPCODE => BranchKind::Call,
        JMP_OPCODE => BranchKind::Jump,
        0x0f => {
            // Only the exact NOP5 ftrace writes; a prefix of it is truncated.
            let n = bytes.len().min(INSN_LEN);
            if bytes[..n] != NOP5[..n] {
                return Err(CodecError::Unknown);
            }
            if n < INSN_LEN {
                return Err(CodecError::Truncated);
            }
            return Ok(Insn::Nop { len: INSN_LEN as u8 });
        }
        _ => return Err(CodecError::Unknown),
    };
    let Some(r) = bytes.get(1..INSN_LEN) else { return Err(CodecError::Truncated) };
    let rel = X86_64::ENDIAN.u32([r[0], r[1], r[2], r[3]]) as i32;
    let disp = i64::from(rel) + INSN_LEN as i64;
    // A target past either end of the address space is no address at all.
    let target = at.checked_offset(disp).ok_or(CodecError::OutOfRange { disp })?;
    Ok(Insn::Branch { kind, target, len: INSN_LEN as u8 })
}

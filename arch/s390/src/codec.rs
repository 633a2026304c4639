//! The 6-byte relative-long branches an s390 ftrace site holds.
//!
//! All three are RIL format: byte 0 is the opcode `0xc0`, byte 1 holds the
//! mask (or register) in its high nibble and the opcode extension in its low
//! nibble, bytes 2..6 the signed displacement in halfwords, big-endian:
//!
//! | bytes             | instruction         | objdump  | role                        |
//! |-------------------|---------------------|----------|-----------------------------|
//! | `c0 04 <disp32>`  | `brcl 0,<target>`   | `jgnop`  | disabled site (never taken) |
//! | `c0 05 <disp32>`  | `brasl %r0,<target>`| `brasl`  | call: r0 = return address   |
//! | `c0 f4 <disp32>`  | `brcl 15,<target>`  | `jg`     | jump                        |
//!
//! `arch/s390/kernel/ftrace.c` builds the first two (`struct ftrace_insn`,
//! `ftrace_generate_branch_insn()`); the jump is what the hotpatch-trampoline
//! regime flips the nop into (`ftrace_patch_branch_mask()`).  The reach is a
//! signed 32-bit count of halfwords: `[-4 GiB, 4 GiB - 2]`, both ends even.

use crate::S390;
use graft_core::{BranchKind, Codec, CodecError, Insn, InsnBuf, Plan, PlanError, TextAddr};

/// Opcode byte of every RIL-format branch.
pub const OP_RIL: u8 = 0xc0;
/// Byte 1 of `brcl 0,...`: the nop.
pub const BYTE1_NOP: u8 = 0x04;
/// Byte 1 of `brasl %r0,...`: the ftrace call.
pub const BYTE1_CALL: u8 = 0x05;
/// Byte 1 of `brcl 15,...` (`jg`): the jump.
pub const BYTE1_JUMP: u8 = 0xf4;
/// `MCOUNT_INSN_SIZE`.
pub const LEN: usize = 6;
/// The disabled site `brcl 0,0` (`c0 04 00 00 00 00`): what `-mnop-mcount`
/// and `-mhotpatch=0,3` emit and `ftrace_generate_branch_insn(ip, 0)` builds.
pub const NOP: [u8; LEN] = [OP_RIL, BYTE1_NOP, 0, 0, 0, 0];

/// Smallest displacement in bytes: `-2^31` halfwords.
pub const DISP_MIN: i64 = -(1 << 32);
/// Largest displacement in bytes: `2^31 - 1` halfwords.
pub const DISP_MAX: i64 = (1 << 32) - 2;

/// A decoded site instruction, with the target even where it is a nop (the
/// hotpatch regime keeps its trampoline's address in the nop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteInsn {
    /// `brcl 0,target`: never taken.
    Nop {
        /// Where it would go.
        target: TextAddr,
    },
    /// `brasl %r0,target`.
    Call {
        /// Callee.
        target: TextAddr,
    },
    /// `brcl 15,target`.
    Jump {
        /// Destination.
        target: TextAddr,
    },
}

/// The displacement (bytes) of a relative-long branch at `from` to `to`, as
/// the halfword count stored in the instruction.
pub fn ril_disp(from: TextAddr, to: TextAddr) -> Result<i32, CodecError> {
    if !from.is_aligned(2) || !to.is_aligned(2) {
        return Err(CodecError::Misaligned);
    }
    let disp = to.offset_from(from).ok_or(CodecError::OutOfRange { disp: to.0.wrapping_sub(from.0) as i64 })?;
    if !(DISP_MIN..=DISP_MAX).contains(&disp) {
        return Err(CodecError::OutOfRange { disp });
    }
    // In range and even, so the halfword count fits an i32.
    Ok((disp / 2) as i32)
}

/// Encode `byte1` (nop, call or jump) with the displacement from `from` to `to`.
pub fn encode_ril(byte1: u8, from: TextAddr, to: TextAddr) -> Result<[u8; LEN], CodecError> {
    let d = ril_disp(from, to)?.to_be_bytes();
    Ok([OP_RIL, byte1, d[0], d[1], d[2], d[3]])
}

/// Decode the site instruction at `at`.
pub fn decode_site_insn(at: TextAddr, bytes: &[u8]) -> Result<SiteInsn, CodecError> {
    let (&op, rest) = bytes.split_first().ok_or(CodecError::Truncated)?;
    if op != OP_RIL {
        return Err(CodecError::Unknown);
    }
    let byte1 = *rest.first().ok_or(CodecError::Truncated)?;
    if !matches!(byte1, BYTE1_NOP | BYTE1_CALL | BYTE1_JUMP) {
        return Err(CodecError::Unknown);
    }
    let d: [u8; 4] = bytes.get(2..LEN).ok_or(CodecError::Truncated)?.try_into().map_err(|_| CodecError::Truncated)?;
    if !at.is_aligned(2) {
        return Err(CodecError::Misaligned);
    }
    let disp = i64::from(i32::from_be_bytes(d)) * 2;
    let target = at.checked_offset(disp).ok_or(CodecError::OutOfRange { disp })?;
    Ok(match byte1 {
        BYTE1_NOP => SiteInsn::Nop { target },
        BYTE1_CALL => SiteInsn::Call { target },
        _ => SiteInsn::Jump { target },
    })
}

impl Codec for S390 {
    fn branch_range(_kind: BranchKind) -> (i64, i64) {
        (DISP_MIN, DISP_MAX)
    }

    fn encode_nop() -> InsnBuf {
        InsnBuf::new(&NOP)
    }

    fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
        let byte1 = match kind {
            BranchKind::Call => BYTE1_CALL,
            BranchKind::Jump => BYTE1_JUMP,
        };
        Ok(InsnBuf::new(&encode_ril(byte1, from, to)?))
    }

    fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError> {
        let len = LEN as u8;
        Ok(match decode_site_insn(at, bytes)? {
            SiteInsn::Nop { .. } => Insn::Nop { len },
            SiteInsn::Call { target } => Insn::Branch { kind: BranchKind::Call, target, len },
            SiteInsn::Jump { target } => Insn::Branch { kind: BranchKind::Jump, target, len },
        })
    }

    fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
        crate::plan::patch_plan(at, old, new)
    }
}

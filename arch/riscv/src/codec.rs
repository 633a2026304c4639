//! RV64 encodings of what an ftrace site holds: the 4-byte `nop` and the
//! compressed `c.nop`, `jal` (±1 MiB) and the `auipc t0` + `jalr` pair
//! (±2 GiB) whose second word ftrace toggles.
//!
//! Mirrors `to_auipc_t0()`/`to_jalr_t0()` in arch/riscv/include/asm/ftrace.h
//! (the pair, with the `+0x800` rounding of the high part because `jalr`
//! sign-extends its 12-bit offset) and `RISCV_INSN_NOP4`
//! (asm/insn-def.h).  [`Codec::encode_branch`] is the one-word branch,
//! `jal`: a call links in `t0`, as ftrace's calls do (`ra` still holds the
//! traced function's return address at its entry), a jump links nowhere.

use crate::Riscv;
use graft_core::{Arch, BranchKind, Codec, CodecError, Insn, InsnBuf, Plan, PlanError, TextAddr};

/// `nop` (`addi x0, x0, 0`): ftrace's disabled site (`RISCV_INSN_NOP4`).
pub const NOP: u32 = 0x0000_0013;
/// `c.nop`: the compiler's patchable-entry padding with the C extension.
pub const C_NOP: u16 = 0x0001;
/// Two `c.nop`s read as one little-endian word.
pub const C_NOP2: u32 = 0x0001_0001;
/// `ebreak` (`__BUG_INSN_32`, asm/bug.h): what `arch_arm_kprobe()` stores
/// over a probed 32-bit instruction (arch/riscv/kernel/probes/kprobes.c).
pub const EBREAK: u32 = 0x0010_0073;
/// `ret` (`jalr x0, 0(ra)`).
pub const RET: u32 = 0x0000_8067;
/// `fence.i`.
pub const FENCE_I: u32 = 0x0000_100f;

/// Register numbers.
pub const ZERO: u32 = 0;
/// `ra` (x1).
pub const RA: u32 = 1;
/// `t0` (x5): ftrace's link register (`JALR_T0`, `AUIPC_T0`).
pub const T0: u32 = 5;
/// `a0` (x10).
pub const A0: u32 = 10;

const OP_AUIPC: u32 = 0x17;
const OP_JAL: u32 = 0x6f;
const OP_JALR: u32 = 0x67;

/// `jal` reach: a signed 21-bit, even displacement.
pub const JAL_MIN: i64 = -(1 << 20);
/// Largest `jal` displacement.
pub const JAL_MAX: i64 = (1 << 20) - 2;
/// `auipc`+`jalr` reach: `sext32(hi << 12) + sext12(lo)`.
pub const PAIR_MIN: i64 = -(1 << 31) - 0x800;
/// Largest `auipc`+`jalr` displacement.
pub const PAIR_MAX: i64 = (1 << 31) - 0x800 - 1;

/// `auipc rd, imm20`.
pub const fn auipc(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd & 31) << 7 | OP_AUIPC
}

/// `jalr rd, imm12(rs1)`.
pub const fn jalr(rd: u32, rs1: u32, imm12: i32) -> u32 {
    ((imm12 as u32) & 0xfff) << 20 | (rs1 & 31) << 15 | (rd & 31) << 7 | OP_JALR
}

/// `addi rd, x0, imm12` (`li`): builds "return value" bodies in tests.
pub const fn li(rd: u32, imm12: i32) -> u32 {
    ((imm12 as u32) & 0xfff) << 20 | (rd & 31) << 7 | 0x13
}

/// The 32-bit word at the start of `bytes` (little endian), if present.
pub fn word(bytes: &[u8]) -> Option<u32> {
    let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(<Riscv as Arch>::ENDIAN.u32(b))
}

/// Words as an instruction buffer (one or two).
pub fn insn(words: &[u32]) -> InsnBuf {
    let mut b = [0u8; 8];
    for (i, w) in words.iter().take(2).enumerate() {
        b[4 * i..4 * i + 4].copy_from_slice(&<Riscv as Arch>::ENDIAN.u32_bytes(*w));
    }
    InsnBuf::new(&b[..4 * words.len().min(2)])
}

/// `Some(rd)` if `w` is `auipc rd, _`.
pub const fn auipc_rd(w: u32) -> Option<u32> {
    if w & 0x7f == OP_AUIPC {
        Some(w >> 7 & 31)
    } else {
        None
    }
}

/// The value `auipc` adds to its pc (`sext32(imm20 << 12)`).
pub const fn auipc_value(w: u32) -> i64 {
    (w & 0xffff_f000) as i32 as i64
}

/// `Some((rd, rs1, imm))` if `w` is `jalr rd, imm(rs1)`.
pub const fn jalr_parts(w: u32) -> Option<(u32, u32, i64)> {
    if w & 0x707f == OP_JALR {
        Some((w >> 7 & 31, w >> 15 & 31, (w as i32 >> 20) as i64))
    } else {
        None
    }
}

fn link(kind: BranchKind) -> u32 {
    match kind {
        BranchKind::Call => T0,
        BranchKind::Jump => ZERO,
    }
}

fn kind_of(rd: u32) -> Option<BranchKind> {
    match rd {
        T0 => Some(BranchKind::Call),
        ZERO => Some(BranchKind::Jump),
        _ => None,
    }
}

fn disp(from: TextAddr, to: TextAddr) -> Result<i64, CodecError> {
    if !from.is_aligned(2) || !to.is_aligned(2) {
        return Err(CodecError::Misaligned);
    }
    to.offset_from(from).ok_or(CodecError::OutOfRange { disp: to.0.wrapping_sub(from.0) as i64 })
}

/// `jal` with a checked displacement (J-type: imm[20|10:1|11|19:12]).
pub fn jal(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<u32, CodecError> {
    let d = disp(from, to)?;
    if !(JAL_MIN..=JAL_MAX).contains(&d) {
        return Err(CodecError::OutOfRange { disp: d });
    }
    let i = d as u32;
    Ok((i >> 20 & 1) << 31
        | (i >> 1 & 0x3ff) << 21
        | (i >> 11 & 1) << 20
        | (i >> 12 & 0xff) << 12
        | link(kind) << 7
        | OP_JAL)
}

/// The displacement of a `jal` word.
const fn jal_disp(w: u32) -> i64 {
    let imm = (w >> 31 & 1) << 20 | (w >> 21 & 0x3ff) << 1 | (w >> 20 & 1) << 11 | (w >> 12 & 0xff) << 12;
    ((imm << 11) as i32 >> 11) as i64
}

/// `auipc t0, hi; jalr <t0|zero>, lo(t0)` at `from`, reaching `to`
/// (`make_call_t0()`): `hi` rounds up when bit 11 of the displacement is set.
pub fn pair(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<[u32; 2], CodecError> {
    let d = disp(from, to)?;
    if !(PAIR_MIN..=PAIR_MAX).contains(&d) {
        return Err(CodecError::OutOfRange { disp: d });
    }
    let hi = (d + 0x800) >> 12;
    let lo = d - (hi << 12);
    Ok([auipc(T0, hi as u32 & 0xf_ffff), jalr(link(kind), T0, lo as i32)])
}

/// The pair as an 8-byte buffer (for vectors; no plan stores 8 bytes).
pub fn encode_pair(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
    pair(kind, from, to).map(|w| insn(&w))
}

/// Decode `auipc t0` + `jalr <t0|zero>, lo(t0)` at `at`: the branch and its
/// target, or `None` for any other pair.  An odd `lo` is no pair [`pair`]
/// writes (`jalr` would clear the target's bit 0: two encodings, one target).
pub fn decode_pair(at: TextAddr, w0: u32, w1: u32) -> Option<Result<(BranchKind, TextAddr), CodecError>> {
    if auipc_rd(w0) != Some(T0) {
        return None;
    }
    let (rd, rs1, lo) = jalr_parts(w1)?;
    let kind = kind_of(rd).filter(|_| rs1 == T0 && lo % 2 == 0)?;
    let d = auipc_value(w0) + lo;
    Some(at.checked_offset(d).map(|t| (kind, t)).ok_or(CodecError::OutOfRange { disp: d }))
}

impl Codec for Riscv {
    fn branch_range(_kind: BranchKind) -> (i64, i64) {
        (JAL_MIN, JAL_MAX)
    }

    fn encode_nop() -> InsnBuf {
        insn(&[NOP])
    }

    fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
        jal(kind, from, to).map(|w| insn(&[w]))
    }

    /// `nop`, `c.nop`, `jal t0|zero` and the `auipc t0`+`jalr` pair (8 bytes).
    fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError> {
        let h = bytes.get(..2).ok_or(CodecError::Truncated)?;
        if !at.is_aligned(2) {
            return Err(CodecError::Misaligned);
        }
        if h[0] & 3 != 3 {
            // A 16-bit (compressed) instruction.
            return match u16::from_le_bytes([h[0], h[1]]) {
                C_NOP => Ok(Insn::Nop { len: 2 }),
                _ => Err(CodecError::Unknown),
            };
        }
        let w = word(bytes).ok_or(CodecError::Truncated)?;
        if w == NOP {
            return Ok(Insn::Nop { len: 4 });
        }
        if w & 0x7f == OP_JAL {
            let kind = kind_of(w >> 7 & 31).ok_or(CodecError::Unknown)?;
            let d = jal_disp(w);
            let target = at.checked_offset(d).ok_or(CodecError::OutOfRange { disp: d })?;
            return Ok(Insn::Branch { kind, target, len: 4 });
        }
        if auipc_rd(w) == Some(T0) {
            let w1 = bytes.get(4..).and_then(word).ok_or(CodecError::Truncated)?;
            let (kind, target) = decode_pair(at, w, w1).ok_or(CodecError::Unknown)??;
            return Ok(Insn::Branch { kind, target, len: 8 });
        }
        Err(CodecError::Unknown)
    }

    fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
        crate::plan::patch_plan(at, old, new)
    }
}

//! A64 encodings of the instructions an ftrace site holds: `NOP`, `B` and
//! `BL` (imm26), plus the fixed words of the entry sequence.
//!
//! Mirrors `aarch64_insn_gen_nop()` and `aarch64_insn_gen_branch_imm()` in
//! arch/arm64/lib/insn.c; the reach is the kernel's `reachable_by_bl()`
//! (arch/arm64/kernel/ftrace.c): `-SZ_128M <= offset < SZ_128M`.

use crate::Arm64;
use graft_core::{Arch, BranchKind, Codec, CodecError, Insn, InsnBuf, Plan, PlanError, TextAddr};

/// `NOP` (`HINT #0`), the disabled site and the compiler's padding.
pub const NOP: u32 = 0xd503_201f;
/// `MOV X9, X30` (alias of `ORR X9, XZR, X30`): what `ftrace_init_nop()`
/// writes into the first patchable slot after the symbol.
pub const MOV_X9_LR: u32 = 0xaa1e_03e9;
/// `BTI C`, the landing pad `-mbranch-protection=...+bti` puts at entry.
pub const BTI_C: u32 = 0xd503_245f;
/// `RET` (`RET X30`).
pub const RET: u32 = 0xd65f_03c0;
/// `BRK #0x004` (`BRK64_OPCODE_KPROBES`, arch/arm64/include/asm/debug-monitors.h):
/// what `arch_arm_kprobe()` (arch/arm64/kernel/probes/kprobes.c) stores over
/// a probed instruction.  arm64 has no kprobes on ftrace, so a kprobe on a
/// function's symbol is this breakpoint in the `MOV X9, X30` slot (or over
/// the `BTI C` before it).
pub const BRK_KPROBES: u32 = 0xd420_0000 | (0x004 << 5);

/// Opcode of `B imm26` (bits 31:26 = `000101`).
const B: u32 = 0x1400_0000;
/// Opcode of `BL imm26` (bits 31:26 = `100101`).
const BL: u32 = 0x9400_0000;
const OPCODE_MASK: u32 = 0xfc00_0000;
const IMM26_MASK: u32 = 0x03ff_ffff;

/// Smallest branch displacement: `-SZ_128M`.
pub const BRANCH_MIN: i64 = -(1 << 27);
/// Largest branch displacement: `SZ_128M - 4`.
pub const BRANCH_MAX: i64 = (1 << 27) - 4;

/// Whether `insn` is any `BTI` (`aarch64_insn_is_bti()`: `BTI`, `BTI C`,
/// `BTI J`, `BTI JC`; mask `0xffffff3f`, value `0xd503241f`).
pub const fn is_bti(insn: u32) -> bool {
    insn & 0xffff_ff3f == 0xd503_241f
}

/// `MOVZ Wd, #imm16`: used by tests and the live harness to build
/// "return value" bodies.
pub const fn movz_w(rd: u32, imm16: u16) -> u32 {
    0x5280_0000 | ((imm16 as u32) << 5) | (rd & 0x1f)
}

/// The 32-bit word at the start of `bytes` (little endian), if present.
pub fn word(bytes: &[u8]) -> Option<u32> {
    let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(<Arm64 as Arch>::ENDIAN.u32(b))
}

/// A word as an instruction buffer.
pub fn insn(w: u32) -> InsnBuf {
    InsnBuf::new(&<Arm64 as Arch>::ENDIAN.u32_bytes(w))
}

/// Encode `B`/`BL` with a checked displacement (in bytes).
fn branch_word(kind: BranchKind, disp: i64) -> Result<u32, CodecError> {
    if disp % 4 != 0 {
        return Err(CodecError::Misaligned);
    }
    if !(BRANCH_MIN..=BRANCH_MAX).contains(&disp) {
        return Err(CodecError::OutOfRange { disp });
    }
    let op = match kind {
        BranchKind::Call => BL,
        BranchKind::Jump => B,
    };
    Ok(op | ((disp >> 2) as u32 & IMM26_MASK))
}

/// Decode a word; `at` is where it sits.
pub fn decode_word(at: TextAddr, w: u32) -> Result<Insn, CodecError> {
    if w == NOP {
        return Ok(Insn::Nop { len: 4 });
    }
    let kind = match w & OPCODE_MASK {
        B => BranchKind::Jump,
        BL => BranchKind::Call,
        _ => return Err(CodecError::Unknown),
    };
    // Sign-extend imm26 and scale by 4.
    let disp = i64::from(((w & IMM26_MASK) << 6) as i32 >> 6) * 4;
    // A target past either end of the address space cannot be a site's.
    let target = at.checked_offset(disp).ok_or(CodecError::OutOfRange { disp })?;
    Ok(Insn::Branch { kind, target, len: 4 })
}

impl Codec for Arm64 {
    fn branch_range(_kind: BranchKind) -> (i64, i64) {
        (BRANCH_MIN, BRANCH_MAX)
    }

    fn encode_nop() -> InsnBuf {
        insn(NOP)
    }

    fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
        if !from.is_aligned(4) || !to.is_aligned(4) {
            return Err(CodecError::Misaligned);
        }
        let disp = to.offset_from(from).ok_or(CodecError::OutOfRange { disp: to.0.wrapping_sub(from.0) as i64 })?;
        branch_word(kind, disp).map(insn)
    }

    fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError> {
        let w = word(bytes).ok_or(CodecError::Truncated)?;
        if !at.is_aligned(4) {
            return Err(CodecError::Misaligned);
        }
        decode_word(at, w)
    }

    fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
        crate::plan::patch_plan(at, old, new)
    }
}

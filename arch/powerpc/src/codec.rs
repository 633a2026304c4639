//! The instruction forms found at ppc64 ftrace sites, and their codec.
//!
//! Every instruction is one 32-bit word in the arch's byte order
//! ([`Powerpc::ENDIAN`]).  The site toggles between `nop` (`ori r0,r0,0`) and
//! an I-form branch: `bl` (-mprofile-kernel: `bl ftrace_caller`) or `b`
//! (out-of-line stubs: `b <stub>`).  An I-form branch carries a 24-bit word
//! displacement: `-0x2000000..=0x1fffffc`, a multiple of 4
//! (`is_offset_in_branch_range()` and `create_branch()` in
//! arch/powerpc/include/asm/text-patching.h and arch/powerpc/lib/code-patching.c).

use crate::Powerpc;
use graft_core::{Arch, BranchKind, Codec, CodecError, Insn, InsnBuf, Plan, PlanError, TextAddr};

/// Instruction words the backend recognises (arch/powerpc/include/asm/ppc-opcode.h).
pub mod op {
    /// `nop` (`ori r0,r0,0`, `PPC_RAW_NOP()`).
    pub const NOP: u32 = 0x6000_0000;
    /// `mflr r0` (`PPC_RAW_MFLR(_R0)`).
    pub const MFLR_R0: u32 = 0x7c08_02a6;
    /// `mtlr r0` (`PPC_RAW_MTLR(_R0)`).
    pub const MTLR_R0: u32 = 0x7c08_03a6;
    /// `std r0,16(r1)` (`PPC_RAW_STD(_R0, _R1, 16)`): GCC 5's -mprofile-kernel
    /// sequence stores LR before `bl _mcount`.
    pub const STD_R0_16_R1: u32 = 0xf801_0010;
    /// `blr`.
    pub const BLR: u32 = 0x4e80_0020;
    /// `addis r2,r12,0`: the ELFv2 global entry's first word, immediate masked
    /// (`ADDIS_R2_R12` in asm/text-patching.h).
    pub const ADDIS_R2_R12: u32 = 0x3c4c_0000;
    /// `lis r2,0`: the linker may relax the `addis` to this (`LIS_R2`).
    pub const LIS_R2: u32 = 0x3c40_0000;
    /// `addi r2,r2,0`: the global entry's second word, immediate masked (`ADDI_R2_R2`).
    pub const ADDI_R2_R2: u32 = 0x3842_0000;
    /// Mask keeping opcode, RT and RA (`OP_RT_RA_MASK`).
    pub const OP_RT_RA_MASK: u32 = 0xffff_0000;
    /// `ld r2,-8(r12)`: the -mcmodel=large (module) global entry's first word
    /// (`PPC_RAW_LD(_R2, _R12, -8)`, matched by `ftrace_call_adjust()`).
    pub const LD_R2_M8_R12: u32 = 0xe84c_fff8;
    /// `add r2,r2,r12`: its second word (`PPC_RAW_ADD(_R2, _R2, _R12)`).
    pub const ADD_R2_R2_R12: u32 = 0x7c42_6214;
    /// An I-form branch (`b`), AA=0, LK=0.
    pub const B: u32 = 0x4800_0000;
    /// `bl`: AA=0, LK=1 (`PPC_RAW_BL(0)`).
    pub const BL: u32 = 0x4800_0001;
    /// Opcode, AA and LK bits of an I-form branch.
    pub const I_FORM_MASK: u32 = 0xfc00_0003;
    /// The LI field (`PPC_LI_MASK`), already shifted: the byte displacement.
    pub const LI_MASK: u32 = 0x03ff_fffc;
}

/// Lowest I-form branch displacement.
pub const BRANCH_MIN: i64 = -0x200_0000;
/// Highest I-form branch displacement.
pub const BRANCH_MAX: i64 = 0x1ff_fffc;

/// The word at `off` in `bytes`, in the arch's byte order.
pub(crate) fn word(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(Powerpc::ENDIAN.u32([b[0], b[1], b[2], b[3]]))
}

fn buf(w: u32) -> InsnBuf {
    InsnBuf::new(&Powerpc::ENDIAN.u32_bytes(w))
}

/// Decode one word at `at` as a site instruction.
pub(crate) fn decode_word(at: TextAddr, w: u32) -> Result<Insn, CodecError> {
    if w == op::NOP {
        return Ok(Insn::Nop { len: 4 });
    }
    let kind = match w & op::I_FORM_MASK {
        op::B => BranchKind::Jump,
        op::BL => BranchKind::Call,
        // Absolute (AA=1) and other opcodes never appear at a site.
        _ => return Err(CodecError::Unknown),
    };
    // Sign-extend the 26-bit byte displacement.
    let disp = i64::from(((w & op::LI_MASK) << 6) as i32 >> 6);
    let target = at.checked_offset(disp).ok_or(CodecError::OutOfRange { disp })?;
    Ok(Insn::Branch { kind, target, len: 4 })
}

impl Codec for Powerpc {
    fn branch_range(_kind: BranchKind) -> (i64, i64) {
        (BRANCH_MIN, BRANCH_MAX)
    }

    fn encode_nop() -> InsnBuf {
        buf(op::NOP)
    }

    fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
        if !from.is_aligned(4) || !to.is_aligned(4) {
            return Err(CodecError::Misaligned);
        }
        let disp =
            to.offset_from(from).ok_or(CodecError::OutOfRange { disp: if to > from { i64::MAX } else { i64::MIN } })?;
        if !(BRANCH_MIN..=BRANCH_MAX).contains(&disp) {
            return Err(CodecError::OutOfRange { disp });
        }
        let base = match kind {
            BranchKind::Call => op::BL,
            BranchKind::Jump => op::B,
        };
        // create_branch(): 0x48000000 | flags | (offset & 0x03fffffc).
        Ok(buf(base | (disp as u32 & op::LI_MASK)))
    }

    fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError> {
        if !at.is_aligned(4) {
            return Err(CodecError::Misaligned);
        }
        let w = word(bytes, 0).ok_or(CodecError::Truncated)?;
        decode_word(at, w)
    }

    fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
        crate::plan::patch_plan(at, old, new)
    }
}

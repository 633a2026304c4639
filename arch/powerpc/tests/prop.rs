//! Property tests: codec round trips and range edges, decoder and site
//! analysis robustness, unwinder termination and bounds, plan images.

use graft_core::{
    BranchKind, Code, Codec, CodecError, EntrySite, Insn, MemError, SiteState, SliceMemory, StackAddr, StackBounds,
    StackReader, Step, SyncKind, TextAddr, TextInfo, TextKind, Unwinder,
};
use graft_powerpc::codec::{op, BRANCH_MAX, BRANCH_MIN};
use graft_powerpc::testing::StackBuilder;
use graft_powerpc::Powerpc;
use proptest::prelude::*;
use std::cell::Cell;

fn kind() -> impl Strategy<Value = BranchKind> {
    prop_oneof![Just(BranchKind::Call), Just(BranchKind::Jump)]
}

/// A 4-aligned address at least 32 MiB from either end of the address space.
fn site_addr() -> impl Strategy<Value = u64> {
    (0x200_0000u64..u64::MAX - 0x200_0000).prop_map(|a| a & !3)
}

/// An aligned in-range displacement, edges included often.
fn disp_in_range() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(BRANCH_MIN),
        Just(BRANCH_MAX),
        Just(0),
        Just(4),
        Just(-4),
        (BRANCH_MIN / 4..=BRANCH_MAX / 4).prop_map(|d| d * 4),
    ]
}

struct AllText;
impl TextInfo for AllText {
    fn kind(&self, a: TextAddr) -> TextKind {
        if a.0 >> 60 == 0xc {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

/// Asserts every read lies inside `bounds`, and counts them.
struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<usize>,
}
impl StackReader for Checked<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(
            self.bounds.contains(addr.0, buf.len() as u64),
            "read {addr:?}+{} outside {:?}",
            buf.len(),
            self.bounds
        );
        self.reads.set(self.reads.get() + 1);
        self.mem.read(addr, buf)
    }
}

proptest! {
    #[test]
    fn branch_round_trip(kind in kind(), from in site_addr(), disp in disp_in_range()) {
        let to = TextAddr(from.wrapping_add_signed(disp));
        let enc = Powerpc::encode_branch(kind, TextAddr(from), to).unwrap();
        prop_assert_eq!(enc.len(), 4);
        prop_assert_eq!(Powerpc::decode(TextAddr(from), enc.as_slice()), Ok(Insn::Branch { kind, target: to, len: 4 }));
    }

    #[test]
    fn first_displacement_past_each_end_is_refused(kind in kind(), from in site_addr(), beyond in 0i64..0x1000) {
        let (min, max) = Powerpc::branch_range(kind);
        prop_assert_eq!((min, max), (-0x200_0000, 0x1ff_fffc));
        for disp in [max + 4, min - 4, max + 4 + beyond * 4, min - 4 - beyond * 4] {
            let to = TextAddr(from.wrapping_add_signed(disp));
            prop_assert_eq!(Powerpc::encode_branch(kind, TextAddr(from), to), Err(CodecError::OutOfRange { disp }));
        }
    }

    #[test]
    fn misaligned_branches_are_refused(kind in kind(), from in site_addr(), disp in disp_in_range(), off in 1u64..4) {
        let to = from.wrapping_add_signed(disp);
        prop_assert_eq!(Powerpc::encode_branch(kind, TextAddr(from), TextAddr(to + off)), Err(CodecError::Misaligned));
        prop_assert_eq!(Powerpc::encode_branch(kind, TextAddr(from + off), TextAddr(to)), Err(CodecError::Misaligned));
        prop_assert_eq!(Powerpc::decode(TextAddr(from + off), &[0, 0, 0, 0x48]), Err(CodecError::Misaligned));
    }

    #[test]
    fn decode_never_panics(at in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
        match Powerpc::decode(TextAddr(at), &bytes) {
            Ok(Insn::Nop { len }) => {
                let nop = Powerpc::encode_nop();
                prop_assert_eq!(&bytes[..len as usize], nop.as_slice());
            }
            // Whatever decodes re-encodes to the same word.
            Ok(Insn::Branch { kind, target, len }) => {
                let enc = Powerpc::encode_branch(kind, TextAddr(at), target).unwrap();
                prop_assert_eq!(enc.as_slice(), &bytes[..len as usize]);
            }
            Err(CodecError::Truncated) => prop_assert!(bytes.len() < 4),
            Err(_) => {}
        }
    }

    #[test]
    fn patch_plan_is_one_store_then_cache_maintenance(at in site_addr(), disp in disp_in_range(), kind in kind()) {
        let nop = Powerpc::encode_nop();
        let br = Powerpc::encode_branch(kind, TextAddr(at), TextAddr(at.wrapping_add_signed(disp))).unwrap();
        for (old, new) in [(nop, br), (br, nop)] {
            let plan = Powerpc::patch_plan(TextAddr(at), &old, &new).unwrap();
            prop_assert_eq!(
                plan.steps(),
                &[Step::Write { addr: TextAddr(at), bytes: new }, Step::Sync(SyncKind::CacheMaintenance { addr: TextAddr(at), len: 4 })]
            );
            let mut img = [0u8; 4];
            plan.final_image(TextAddr(at), old.as_slice(), &mut img);
            prop_assert_eq!(&img[..], new.as_slice());
        }
    }

    #[test]
    fn unwinder_terminates_and_stays_in_bounds(
        words in proptest::collection::vec(
            prop_oneof![any::<u64>(), (0u64..512).prop_map(|k| 0x1000_0000 + k * 8), (0u64..64).prop_map(|k| 0xc000_0000_0000_0000 + k * 4)],
            0..512),
        lo_off in 0u64..256,
        hi_off in 0u64..256,
        final_off in 0u64..4096,
        sp_off in 0u64..4096,
        pc in prop_oneof![any::<u64>(), Just(0xc000_0000_0000_1000u64)],
        out_len in 0usize..64,
    ) {
        let base = 0x1000_0000u64;
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let len = bytes.len() as u64;
        // Bounds somewhere in (or around) the memory; reads must stay in them.
        let lo = base + lo_off.min(len);
        let hi = (base + len).saturating_sub(hi_off).max(lo);
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(base + final_off) };
        let mem = Checked { mem: SliceMemory { base, bytes: &bytes }, bounds, reads: Cell::new(0) };
        let regs = graft_core::SavedRegs { pc, sp: base + sp_off, fp: 0, lr: 0 };
        let mut out = vec![TextAddr(0); out_len];
        if let Ok(n) = Powerpc::unwind_reliable(&regs, bounds, &mem, &AllText, &mut out) {
            prop_assert!(n >= 1 && n <= out_len);
            prop_assert_eq!(out[0], TextAddr(pc));
        }
        // Each frame costs at most three reads and frames strictly ascend.
        prop_assert!(mem.reads.get() <= 3 * (words.len() / 2 + 1));
    }

    #[test]
    fn well_formed_stacks_walk_fully(
        sizes in proptest::collection::vec((2u64..32).prop_map(|s| s * 16), 1..40),
        user in any::<bool>(),
        seed in any::<u32>(),
    ) {
        let base = 0xc000_0000_0800_0000u64;
        let mut mem = vec![0u8; 32 * 1024];
        let mut b = if user { StackBuilder::user_task(&mut mem, base, 0x7fff_0000) } else { StackBuilder::kthread(&mut mem, base) };
        for (i, s) in sizes.iter().enumerate() {
            b.call(*s, 0xc000_0000_0100_0000 + u64::from(seed) * 4 + i as u64 * 8);
        }
        let pc = 0xc000_0000_0000_0040;
        let mut want = [TextAddr(0); 64];
        let n = b.expected(pc, &mut want);
        let m = Checked { mem: SliceMemory { base, bytes: b.mem() }, bounds: b.bounds(), reads: Cell::new(0) };
        let mut out = [TextAddr(0); 64];
        prop_assert_eq!(Powerpc::unwind_reliable(&b.regs(pc), b.bounds(), &m, &AllText, &mut out), Ok(n));
        prop_assert_eq!(&out[..n], &want[..n]);
        prop_assert_eq!(n, sizes.len());
    }

    #[test]
    fn analyze_site_never_panics(
        bytes in proptest::collection::vec(
            prop_oneof![any::<u8>().prop_map(|b| vec![b]), Just(op::MFLR_R0.to_le_bytes().to_vec()),
                        Just(op::NOP.to_le_bytes().to_vec()), Just(op::BL.to_le_bytes().to_vec()),
                        Just(op::STD_R0_16_R1.to_le_bytes().to_vec()), Just(0x3c4c_0000u32.to_le_bytes().to_vec()),
                        Just(op::ADDI_R2_R2.to_le_bytes().to_vec()), Just(op::LD_R2_M8_R12.to_le_bytes().to_vec())],
            0..24).prop_map(|v| v.concat()),
        start in any::<u64>(),
        func_off in 0u64..40,
        rec in proptest::option::of(0u64..40),
    ) {
        let func = TextAddr(start.wrapping_add(func_off));
        let code = Code { start: TextAddr(start), bytes: &bytes };
        let recorded = rec.map(|r| TextAddr(start.wrapping_add(r)));
        if let Ok(site) = Powerpc::analyze_site(code, func, recorded) {
            // A recognised site lies in the window, within 16 bytes of the entry.
            prop_assert!(site.addr.0.wrapping_sub(func.0) <= 16);
            prop_assert!(code.at(site.addr).is_some_and(|b| b.len() >= 4));
            prop_assert!(recorded.is_none_or(|r| r == site.addr || r == func));
        }
    }

    #[test]
    fn generated_entries_are_recognised(
        prefix in 0usize..4,
        gcc5 in any::<bool>(),
        state in 0u8..3,
        func in (0xc000_0000_0000_0000u64..0xc000_0000_1000_0000).prop_map(|a| a & !3),
        disp in (-0x10000i64..0x10000).prop_map(|d| d * 4),
    ) {
        let pre: &[u32] = [&[][..], &[0x3c4c_0001, 0x3842_1234], &[0x3c40_0001, 0x3842_1234], &[op::LD_R2_M8_R12, op::ADD_R2_R2_R12]][prefix];
        let site = func + 4 * pre.len() as u64 + if gcc5 { 8 } else { 4 };
        let target = site.wrapping_add_signed(disp);
        let call = u32::from_le_bytes(Powerpc::encode_branch(BranchKind::Call, TextAddr(site), TextAddr(target)).unwrap().as_slice().try_into().unwrap());
        let (site_word, want) = match state {
            0 => (op::NOP, SiteState::Disabled),
            1 if disp != 0 => (call, SiteState::Enabled { target: TextAddr(target) }),
            _ => (op::BL, SiteState::Unconverted { target: TextAddr(site) }),
        };
        // GCC 5 before init keeps its std; after init it is a nop.
        let middle: &[u32] = if !gcc5 { &[] } else if matches!(want, SiteState::Unconverted { .. }) { &[op::STD_R0_16_R1] } else { &[op::NOP] };
        let words: Vec<u32> = pre.iter().copied().chain([op::MFLR_R0]).chain(middle.iter().copied()).chain([site_word, 0x3860_0000, op::BLR]).collect();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let code = Code { start: TextAddr(func), bytes: &bytes };
        let got = Powerpc::analyze_site(code, TextAddr(func), Some(TextAddr(site))).unwrap();
        prop_assert_eq!((got.func, got.addr, got.len, got.state), (TextAddr(func), TextAddr(site), 4, want));
        let form = if gcc5 { "mprofile-std" } else { "mprofile" };
        prop_assert!(got.form.starts_with(form), "{}", got.form);
    }
}

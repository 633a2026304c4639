//! Properties of the riscv codec, plan, site analysis and unwinder.

use graft_core::{
    BranchKind, Code, Codec, CodecError, EntrySite, Insn, InsnBuf, MemError, PlanError, SavedRegs, SiteState,
    SliceMemory, StackAddr, StackBounds, StackReader, Step, SyncKind, TaskKind, TextAddr, TextInfo, TextKind,
    Unreliable, Unwinder,
};
use graft_riscv::codec::{self, EBREAK, JAL_MAX, JAL_MIN, NOP, PAIR_MAX, PAIR_MIN, T0};
use graft_riscv::testing::StackBuilder;
use graft_riscv::Riscv;
use proptest::prelude::*;
use std::cell::Cell;

fn kind() -> impl Strategy<Value = BranchKind> {
    prop_oneof![Just(BranchKind::Call), Just(BranchKind::Jump)]
}

/// An even `from` and an even displacement in `[min, max]` that does not
/// wrap the address space.
fn in_range(min: i64, max: i64) -> impl Strategy<Value = (u64, i64)> {
    (any::<u64>(), (min / 2)..=(max / 2)).prop_filter_map("wraps", |(from, d)| {
        let from = from & !1;
        let disp = d * 2;
        from.checked_add_signed(disp).map(|_| (from, disp))
    })
}

/// An encoder: `Riscv::encode_branch` or `codec::encode_pair`.
type Encoder = fn(BranchKind, TextAddr, TextAddr) -> Result<InsnBuf, CodecError>;

fn word(b: &InsnBuf, i: usize) -> u32 {
    u32::from_le_bytes(b.as_slice()[4 * i..4 * i + 4].try_into().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn jal_round_trip(k in kind(), (from, disp) in in_range(JAL_MIN, JAL_MAX)) {
        let to = TextAddr(from.checked_add_signed(disp).unwrap());
        let b = Riscv::encode_branch(k, TextAddr(from), to).unwrap();
        prop_assert_eq!(b.len(), 4);
        prop_assert_eq!(Riscv::decode(TextAddr(from), b.as_slice()), Ok(Insn::Branch { kind: k, target: to, len: 4 }));
    }

    #[test]
    fn pair_round_trip(k in kind(), (from, disp) in in_range(PAIR_MIN, PAIR_MAX)) {
        let to = TextAddr(from.checked_add_signed(disp).unwrap());
        let b = codec::encode_pair(k, TextAddr(from), to).unwrap();
        prop_assert_eq!(b.len(), 8);
        prop_assert_eq!(codec::auipc_rd(word(&b, 0)), Some(T0));
        prop_assert_eq!(Riscv::decode(TextAddr(from), b.as_slice()), Ok(Insn::Branch { kind: k, target: to, len: 8 }));
        // jalr's 12-bit offset is what the +0x800 rounding leaves.
        let lo = codec::jalr_parts(word(&b, 1)).unwrap().2;
        prop_assert!((-2048..=2047).contains(&lo));
    }

    #[test]
    fn first_displacement_past_each_end_is_refused(k in kind(), from in (1u64 << 33)..(u64::MAX >> 1)) {
        let from = from & !1;
        let ranges: [(i64, i64, Encoder); 2] =
            [(JAL_MIN, JAL_MAX, Riscv::encode_branch), (PAIR_MIN, PAIR_MAX & !1, codec::encode_pair)];
        for (min, max, enc) in ranges {
            for disp in [max + 2, min - 2] {
                let to = TextAddr(from.checked_add_signed(disp).unwrap());
                prop_assert_eq!(enc(k, TextAddr(from), to), Err(CodecError::OutOfRange { disp }));
            }
            // The ends themselves are in range.
            for disp in [max, min] {
                let to = TextAddr(from.checked_add_signed(disp).unwrap());
                prop_assert!(enc(k, TextAddr(from), to).is_ok());
            }
        }
        prop_assert_eq!(Riscv::branch_range(k), (-(1 << 20), (1 << 20) - 2));
    }

    #[test]
    fn far_displacements_are_refused(k in kind(), from in any::<u64>(), disp in any::<i64>()) {
        let (from, disp) = (from & !1, disp & !1);
        if let Some(to) = from.checked_add_signed(disp) {
            let (from, to) = (TextAddr(from), TextAddr(to));
            if !(JAL_MIN..=JAL_MAX).contains(&disp) {
                prop_assert_eq!(Riscv::encode_branch(k, from, to), Err(CodecError::OutOfRange { disp }));
            }
            if !(PAIR_MIN..=PAIR_MAX).contains(&disp) {
                prop_assert_eq!(codec::encode_pair(k, from, to), Err(CodecError::OutOfRange { disp }));
            }
        }
    }

    #[test]
    fn misaligned_branches_are_refused(k in kind(), (from, disp) in in_range(JAL_MIN, JAL_MAX), which in 0..2u8) {
        let to = from.checked_add_signed(disp).unwrap();
        let (f, t) = if which == 0 { (from ^ 1, to) } else { (from, to ^ 1) };
        prop_assert_eq!(Riscv::encode_branch(k, TextAddr(f), TextAddr(t)), Err(CodecError::Misaligned));
        prop_assert_eq!(codec::encode_pair(k, TextAddr(f), TextAddr(t)), Err(CodecError::Misaligned));
    }

    #[test]
    fn decode_never_panics(
        at in any::<u64>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..10),
        pair in 0u8..3,
        rd in prop_oneof![Just(0u32), Just(T0), Just(1)],
        lo in -2048i32..2048,
    ) {
        let mut bytes = bytes;
        // Often an auipc t0, or an auipc t0 and a jalr on t0 with any
        // offset, so the pair's paths run.
        if pair > 0 && bytes.len() >= 4 {
            bytes[0] = 0x97;
            bytes[1] = bytes[1] & 0xf0 | 0x02;
        }
        if pair > 1 && bytes.len() >= 8 {
            bytes[4..8].copy_from_slice(&codec::jalr(rd, T0, lo).to_le_bytes());
        }
        match Riscv::decode(TextAddr(at), &bytes) {
            Ok(Insn::Nop { len: 4 }) => prop_assert_eq!(&bytes[..4], &NOP.to_le_bytes()[..]),
            Ok(Insn::Nop { len }) => prop_assert_eq!((len, &bytes[..2]), (2, &[1u8, 0][..])),
            // Whatever decodes as a branch encodes back to the same bytes.
            Ok(Insn::Branch { kind, target, len: 4 }) => {
                let b = Riscv::encode_branch(kind, TextAddr(at), target).unwrap();
                prop_assert_eq!(b.as_slice(), &bytes[..4]);
            }
            Ok(Insn::Branch { kind, target, len }) => {
                prop_assert_eq!(len, 8);
                let b = codec::encode_pair(kind, TextAddr(at), target).unwrap();
                prop_assert_eq!(b.as_slice(), &bytes[..8]);
            }
            Err(CodecError::Truncated) => prop_assert!(bytes.len() < 8),
            Err(CodecError::Misaligned) => prop_assert!(at % 2 != 0),
            Err(_) => {}
        }
    }

    #[test]
    fn plan_is_one_store_then_fence_i_everywhere(at in any::<u64>(), old in any::<u32>(), new in any::<u32>(), short in any::<bool>()) {
        let (o, n) = (InsnBuf::new(&old.to_le_bytes()), InsnBuf::new(&new.to_le_bytes()));
        if short {
            // A compressed word or the 8-byte pair is never stored live.
            prop_assert_eq!(Riscv::patch_plan(TextAddr(at), &o, &InsnBuf::new(&[1, 0])), Err(PlanError::LengthMismatch));
            let pair = InsnBuf::new(&[0x97, 2, 0, 0, 0xe7, 0x82, 2, 0]);
            prop_assert_eq!(Riscv::patch_plan(TextAddr(at), &pair, &pair), Err(PlanError::LengthMismatch));
        }
        let r = Riscv::patch_plan(TextAddr(at), &o, &n);
        if at % 4 != 0 {
            prop_assert_eq!(r, Err(PlanError::Misaligned(TextAddr(at))));
        } else if old == new {
            prop_assert_eq!(r, Err(PlanError::Unchanged));
        } else {
            let p = r.unwrap();
            prop_assert_eq!(p.steps(), &[Step::Write { addr: TextAddr(at), bytes: n }, Step::Sync(SyncKind::SyncCores)][..]);
            let mut img = [0u8; 4];
            p.final_image(TextAddr(at), o.as_slice(), &mut img);
            prop_assert_eq!(img, new.to_le_bytes());
        }
    }
}

/// A reader that fails the test on any read outside the bounds it serves,
/// or at or below an earlier read (a walk only moves up the stack, so it
/// never reads a word twice and must terminate), and counts reads.
struct Fenced<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<usize>,
    last: Cell<Option<u64>>,
}

impl<'a> Fenced<'a> {
    fn new(base: u64, bytes: &'a [u8], bounds: StackBounds) -> Self {
        Fenced { mem: SliceMemory { base, bytes }, bounds, reads: Cell::new(0), last: Cell::new(None) }
    }
}

impl StackReader for Fenced<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read at {addr:?} outside {:?}", self.bounds);
        assert!(self.last.get().is_none_or(|l| addr.0 > l), "read at {addr:?} after {:?}", self.last.get());
        self.last.set(Some(addr.0));
        self.reads.set(self.reads.get() + 1);
        self.mem.read(addr, buf)
    }
}

/// Text kinds chosen by the address's low bits, so arbitrary words hit all.
struct Mixed;
impl TextInfo for Mixed {
    fn kind(&self, a: TextAddr) -> TextKind {
        match (a.0 >> 1) % 11 {
            0 => TextKind::NotText,
            1 => TextKind::FtraceGraph,
            2 => TextKind::Kretprobe,
            3 => TextKind::ExceptionEntry,
            _ => TextKind::Kernel,
        }
    }
}

struct AllText;
impl TextInfo for AllText {
    fn kind(&self, _: TextAddr) -> TextKind {
        TextKind::Kernel
    }
}

proptest! {
    #[test]
    fn unwind_terminates_and_stays_in_bounds(
        words in proptest::collection::vec(any::<u64>(), 0..160),
        base in any::<u64>(),
        lo_cut in 0u64..64,
        hi_cut in 0u64..64,
        fp_off in any::<u64>(),
        fp_raw in any::<bool>(),
        pc in any::<u64>(),
        final_off in any::<u64>(),
        kernel_final in any::<bool>(),
        cap in 0usize..48,
        self_links in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..24),
        start_at_link in any::<Option<prop::sample::Index>>(),
    ) {
        // Arbitrary stack words, some records rewritten to link to other
        // records (the frame pointer 16 bytes above one: forward, back, to
        // themselves) so walks go deep and meet loops before failing.
        let base = base & !15 & (u64::MAX >> 2);
        let len = words.len() as u64 * 8;
        let mut words = words;
        let slot = |i: prop::sample::Index, n: usize| i.index(n) & !1;
        if !words.is_empty() {
            for (i, j) in &self_links {
                let (i, j) = (slot(*i, words.len()), slot(*j, words.len()));
                words[i] = base + j as u64 * 8 + 16;
            }
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let lo = base + lo_cut.min(len);
        let hi = (base + len).saturating_sub(hi_cut).max(lo);
        let span = (hi - lo).max(1);
        let final_frame = if kernel_final { Riscv::final_frame(StackAddr(hi)).0 } else { lo + final_off % span };
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(final_frame) };
        let mut fp = if fp_raw { fp_off } else { (lo + fp_off % span) & !15 };
        // Or start the walk at one of the planted records.
        if let (Some(k), false) = (start_at_link, self_links.is_empty() || words.is_empty()) {
            fp = base + slot(self_links[k.index(self_links.len())].0, words.len()) as u64 * 8 + 16;
        }
        let regs = SavedRegs { pc, sp: lo, fp, lr: 0 };
        let mem = Fenced::new(base, &bytes, bounds);
        let mut out = vec![TextAddr(0); cap];
        let r = Riscv::unwind_reliable(&regs, bounds, &mem, &Mixed, &mut out);
        // Each frame costs at most three reads and frames are at least 16
        // bytes apart: the walk is bounded by the stack's size.
        prop_assert!(mem.reads.get() <= 3 * (span as usize / 16 + 2));
        if let Ok(n) = r {
            prop_assert!(n >= 1 && n <= cap);
            prop_assert_eq!(out[0].0, pc);
        }
    }

    #[test]
    fn built_stacks_always_walk(depth in 1usize..60, frame in 1u64..8, seed in any::<u64>(), kthread in any::<bool>()) {
        let frame = frame * 16;
        let pcs: Vec<TextAddr> =
            (0..depth as u64).map(|i| TextAddr(0xffff_ffff_8000_0000 | (seed.wrapping_mul(i + 1) & 0xfff_fffe))).collect();
        let mut stack = vec![0u8; 400 + depth * frame as usize];
        let base = 0xffff_ffc6_1000_0000;
        let kind = if kthread { TaskKind::Kthread } else { TaskKind::User };
        let (regs, bounds) = StackBuilder::new(&mut stack, base).task_of(kind, &pcs, frame);
        let mem = Fenced::new(base, &stack, bounds);
        let mut out = vec![TextAddr(0); 64];
        let n = Riscv::unwind_reliable(&regs, bounds, &mem, &AllText, &mut out).unwrap();
        prop_assert_eq!(&out[..n], &pcs[..]);
        // One short of room: refused, never truncated.
        let mem = Fenced::new(base, &stack, bounds);
        let mut short = vec![TextAddr(0); depth - 1];
        prop_assert_eq!(Riscv::unwind_reliable(&regs, bounds, &mem, &AllText, &mut short), Err(Unreliable::TooManyFrames));
    }

    #[test]
    fn site_analysis_never_panics(
        start in any::<u64>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..40),
        func_off in 0u64..48,
        recorded in proptest::option::of(any::<u64>()),
        plant in 0u8..4,
    ) {
        let start = start & !1;
        let mut bytes = bytes;
        // Often plant a real entry so the accepting paths run too.
        if plant > 0 && bytes.len() >= 16 {
            let first = if plant == 1 { EBREAK } else { codec::auipc(T0, 0x1234) };
            let second = if plant == 3 { codec::jalr(T0, T0, -8) } else { NOP };
            bytes[8..12].copy_from_slice(&first.to_le_bytes());
            bytes[12..16].copy_from_slice(&second.to_le_bytes());
        }
        let func = TextAddr(start.wrapping_add(func_off));
        let code = Code { start: TextAddr(start), bytes: &bytes };
        if let Ok(s) = Riscv::analyze_site(code, func, recorded.map(TextAddr)) {
            prop_assert_eq!(s.addr.0, func.0 + 4);
            prop_assert!(recorded.is_none_or(|r| r == s.addr.0));
            let w0 = u32::from_le_bytes(code.at(func).unwrap()[..4].try_into().unwrap());
            let w1 = u32::from_le_bytes(code.at(s.addr).unwrap()[..4].try_into().unwrap());
            match s.state {
                SiteState::Disabled => prop_assert_eq!(w1, NOP),
                SiteState::Unconverted { target } => prop_assert!(target.0 == 0 && w0 == w1),
                SiteState::Enabled { target } if w0 == EBREAK => prop_assert_eq!(target.0, 0),
                SiteState::Enabled { target } => prop_assert_eq!(
                    Riscv::decode(func, code.at(func).unwrap()),
                    Ok(Insn::Branch { kind: BranchKind::Call, target, len: 8 })
                ),
            }
        }
    }
}

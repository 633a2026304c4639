//! Properties of the arm64 codec, plan, site analysis and unwinder.

use graft_arm64::codec::{BRANCH_MAX, BRANCH_MIN, NOP};
use graft_arm64::testing::StackBuilder;
use graft_arm64::{strip_pac, Arm64};
use graft_core::{
    BranchKind, Code, Codec, CodecError, EntrySite, Insn, InsnBuf, MemError, SavedRegs, SiteState, SliceMemory,
    StackAddr, StackBounds, StackReader, Step, SyncKind, TextAddr, TextInfo, TextKind, Unreliable, Unwinder,
};
use proptest::prelude::*;
use std::cell::Cell;

fn kind() -> impl Strategy<Value = BranchKind> {
    prop_oneof![Just(BranchKind::Call), Just(BranchKind::Jump)]
}

/// An aligned `from` and an in-range, aligned displacement that does not
/// wrap the address space.
fn in_range() -> impl Strategy<Value = (u64, i64)> {
    (any::<u64>(), (BRANCH_MIN / 4)..=(BRANCH_MAX / 4)).prop_filter_map("wraps", |(from, d)| {
        let from = from & !3;
        let disp = d * 4;
        from.checked_add_signed(disp).map(|_| (from, disp))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn encode_decode_round_trip(k in kind(), (from, disp) in in_range()) {
        let to = TextAddr(from.checked_add_signed(disp).unwrap());
        let b = Arm64::encode_branch(k, TextAddr(from), to).unwrap();
        prop_assert_eq!(b.len(), 4);
        prop_assert_eq!(Arm64::decode(TextAddr(from), b.as_slice()), Ok(Insn::Branch { kind: k, target: to, len: 4 }));
    }

    #[test]
    fn first_displacement_past_each_end_is_refused(k in kind(), from in (1u64 << 28)..(u64::MAX >> 1)) {
        let from = from & !3;
        for disp in [BRANCH_MAX + 4, BRANCH_MIN - 4] {
            let to = TextAddr(from.checked_add_signed(disp).unwrap());
            prop_assert_eq!(Arm64::encode_branch(k, TextAddr(from), to), Err(CodecError::OutOfRange { disp }));
        }
        // The ends themselves are in range.
        for disp in [BRANCH_MAX, BRANCH_MIN] {
            let to = TextAddr(from.checked_add_signed(disp).unwrap());
            prop_assert!(Arm64::encode_branch(k, TextAddr(from), to).is_ok());
        }
        prop_assert_eq!(Arm64::branch_range(k), (-(128 << 20), (128 << 20) - 4));
    }

    #[test]
    fn far_displacements_are_refused(k in kind(), from in any::<u64>(), disp in any::<i64>()) {
        let from = from & !3;
        let disp = disp & !3;
        prop_assume!(!(BRANCH_MIN..=BRANCH_MAX).contains(&disp));
        if let Some(to) = from.checked_add_signed(disp) {
            prop_assert_eq!(Arm64::encode_branch(k, TextAddr(from), TextAddr(to)), Err(CodecError::OutOfRange { disp }));
        }
    }

    #[test]
    fn misaligned_branches_are_refused(k in kind(), (from, disp) in in_range(), skew in 1u64..4, which in 0..2u8) {
        let to = from.checked_add_signed(disp).unwrap();
        let (f, t) = if which == 0 { (from ^ skew, to) } else { (from, to ^ skew) };
        prop_assert_eq!(Arm64::encode_branch(k, TextAddr(f), TextAddr(t)), Err(CodecError::Misaligned));
    }

    #[test]
    fn decode_never_panics(at in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
        match Arm64::decode(TextAddr(at), &bytes) {
            Ok(Insn::Nop { len }) => prop_assert_eq!((len, &bytes[..4]), (4, &NOP.to_le_bytes()[..])),
            // Whatever decodes as a branch encodes back to the same word.
            Ok(Insn::Branch { kind, target, len }) => {
                prop_assert_eq!(len, 4);
                let b = Arm64::encode_branch(kind, TextAddr(at), target).unwrap();
                prop_assert_eq!(b.as_slice(), &bytes[..4]);
            }
            Err(CodecError::Truncated) => prop_assert!(bytes.len() < 4),
            Err(CodecError::Misaligned) => prop_assert!(at % 4 != 0),
            Err(_) => {}
        }
    }

    #[test]
    fn plan_is_one_store_then_cache_maintenance(at in any::<u64>(), old in any::<u32>(), new in any::<u32>()) {
        let (o, n) = (InsnBuf::new(&old.to_le_bytes()), InsnBuf::new(&new.to_le_bytes()));
        let r = Arm64::patch_plan(TextAddr(at), &o, &n);
        if at % 4 != 0 {
            prop_assert_eq!(r, Err(graft_core::PlanError::Misaligned(TextAddr(at))));
        } else if old == new {
            prop_assert_eq!(r, Err(graft_core::PlanError::Unchanged));
        } else {
            let p = r.unwrap();
            prop_assert_eq!(p.steps(), &[
                Step::Write { addr: TextAddr(at), bytes: n },
                Step::Sync(SyncKind::CacheMaintenance { addr: TextAddr(at), len: 4 }),
            ][..]);
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
        match (a.0 >> 2) % 11 {
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
        cap in 0usize..48,
        self_links in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..24),
        start_at_link in any::<Option<prop::sample::Index>>(),
    ) {
        // Arbitrary stack words, some of them rewritten to point into the
        // stack itself so walks go deep before failing.
        let base = base & !7 & (u64::MAX >> 2);
        let len = words.len() as u64 * 8;
        let mut words = words;
        if !words.is_empty() {
            for (i, j) in &self_links {
                let (i, j) = (i.index(words.len()), j.index(words.len()));
                words[i] = base + j as u64 * 8;
            }
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let lo = base + lo_cut.min(len);
        let hi = (base + len).saturating_sub(hi_cut).max(lo);
        let span = (hi - lo).max(1);
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(lo + final_off % span) };
        let mut fp = if fp_raw { fp_off } else { lo + fp_off % span };
        // Or start the walk at one of the planted links (loops, back edges).
        if let (Some(k), false) = (start_at_link, self_links.is_empty() || words.is_empty()) {
            fp = base + self_links[k.index(self_links.len())].0.index(words.len()) as u64 * 8;
        }
        let regs = SavedRegs { pc, sp: lo, fp, lr: 0 };
        let mem = Fenced::new(base, &bytes, bounds);
        let mut out = vec![TextAddr(0); cap];
        let r = Arm64::unwind_reliable(&regs, bounds, &mem, &Mixed, &mut out);
        // Each frame costs at most three reads and frames are at least 16
        // bytes apart: the walk is bounded by the stack's size.
        prop_assert!(mem.reads.get() <= 3 * (span as usize / 16 + 2));
        if let Ok(n) = r {
            prop_assert!(n >= 1 && n <= cap);
            prop_assert_eq!(out[0].0, strip_pac(pc));
        }
    }

    #[test]
    fn built_stacks_always_walk(depth in 1usize..60, frame in 1u64..8, seed in any::<u64>()) {
        let frame = frame * 16;
        let pcs: Vec<TextAddr> =
            (0..depth as u64).map(|i| TextAddr(0xffff_8000_8000_0000 | (seed.wrapping_mul(i + 1) & 0xfff_fffc))).collect();
        let mut stack = vec![0u8; 400 + depth * frame as usize];
        let base = 0xffff_0000_1000_0000;
        let (regs, bounds) = StackBuilder::new(&mut stack, base).task(&pcs, frame);
        let mem = Fenced::new(base, &stack, bounds);
        let mut out = vec![TextAddr(0); 64];
        let n = Arm64::unwind_reliable(&regs, bounds, &mem, &AllText, &mut out).unwrap();
        prop_assert_eq!(&out[..n], &pcs[..]);
        // One short of room: refused, never truncated.
        let mem = Fenced::new(base, &stack, bounds);
        let mut short = vec![TextAddr(0); depth - 1];
        prop_assert_eq!(Arm64::unwind_reliable(&regs, bounds, &mem, &AllText, &mut short), Err(Unreliable::TooManyFrames));
    }

    #[test]
    fn site_analysis_never_panics(
        start in any::<u64>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..40),
        func_off in 0u64..48,
        recorded in proptest::option::of(any::<u64>()),
        seed_site in any::<bool>(),
    ) {
        let start = start & !3;
        let mut bytes = bytes;
        // Often plant a real entry so the accepting paths run too.
        if seed_site && bytes.len() >= 12 {
            bytes[4..8].copy_from_slice(&0xaa1e_03e9u32.to_le_bytes());
            bytes[8..12].copy_from_slice(&NOP.to_le_bytes());
        }
        let func = TextAddr(start.wrapping_add(func_off));
        let code = Code { start: TextAddr(start), bytes: &bytes };
        if let Ok(s) = Arm64::analyze_site(code, func, recorded.map(TextAddr)) {
            prop_assert!(s.addr.0 == func.0 + 4 || s.addr.0 == func.0 + 8);
            prop_assert!(recorded.is_none_or(|r| r == s.addr.0));
            let w = u32::from_le_bytes(code.at(s.addr).unwrap()[..4].try_into().unwrap());
            match s.state {
                SiteState::Disabled | SiteState::Unconverted { .. } => prop_assert_eq!(w, NOP),
                SiteState::Enabled { target } => prop_assert_eq!(
                    Arm64::decode(s.addr, &w.to_le_bytes()),
                    Ok(Insn::Branch { kind: BranchKind::Call, target, len: 4 })
                ),
            }
        }
    }
}

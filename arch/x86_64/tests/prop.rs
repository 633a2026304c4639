//! Property tests: codec round trips and range edges, the int3 plan, and
//! that decoding, site analysis and unwinding never panic, terminate and stay
//! in bounds on arbitrary input.

use graft_core::{
    BranchKind, Code, Codec, CodecError, EntrySite, Insn, InsnBuf, MemError, Plan, SavedRegs, SliceMemory, StackAddr,
    StackBounds, StackReader, Step, SyncKind, TextAddr, TextInfo, TextKind, Unwinder,
};
use graft_x86_64::testing::KernelStack;
use graft_x86_64::X86_64;
use proptest::prelude::*;
use std::cell::Cell;

const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];

fn kind() -> impl Strategy<Value = BranchKind> {
    prop_oneof![Just(BranchKind::Call), Just(BranchKind::Jump)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every in-range (from, to) pair encodes and decodes back to `to`.
    #[test]
    fn branch_round_trip(k in kind(), from in any::<u64>(), d in (i32::MIN as i64 + 5)..=(i32::MAX as i64 + 5)) {
        let (min, max) = X86_64::branch_range(k);
        prop_assert!(min <= d && d <= max);
        let Some(to) = TextAddr(from).checked_offset(d) else { return Ok(()) };
        let b = X86_64::encode_branch(k, TextAddr(from), to).unwrap();
        prop_assert_eq!(b.len(), 5);
        prop_assert_eq!(b.as_slice()[0], if k == BranchKind::Call { 0xe8 } else { 0xe9 });
        prop_assert_eq!(X86_64::decode(TextAddr(from), b.as_slice()), Ok(Insn::Branch { kind: k, target: to, len: 5 }));
    }

    /// The last displacement at each end is accepted, the next one refused.
    #[test]
    fn branch_range_edges(k in kind(), from in any::<u64>()) {
        let (min, max) = X86_64::branch_range(k);
        prop_assert_eq!((min, max), (-(1i64 << 31) + 5, (1i64 << 31) - 1 + 5));
        for (ok, bad) in [(max, max + 1), (min, min - 1)] {
            if let Some(to) = TextAddr(from).checked_offset(ok) {
                prop_assert!(X86_64::encode_branch(k, TextAddr(from), to).is_ok());
            }
            if let Some(to) = TextAddr(from).checked_offset(bad) {
                prop_assert_eq!(X86_64::encode_branch(k, TextAddr(from), to), Err(CodecError::OutOfRange { disp: bad }));
            }
        }
    }

    /// Any far target is refused with its true displacement (saturated).
    #[test]
    fn far_targets_are_refused(k in kind(), from in any::<u64>(), to in any::<u64>()) {
        let d = i128::from(to) - i128::from(from);
        let r = X86_64::encode_branch(k, TextAddr(from), TextAddr(to));
        if d < i128::from(i32::MIN) + 5 || d > i128::from(i32::MAX) + 5 {
            let disp = i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX });
            prop_assert_eq!(r, Err(CodecError::OutOfRange { disp }));
        } else {
            prop_assert!(r.is_ok());
        }
    }

    /// Decoding never panics, and what it accepts re-encodes to the same bytes.
    #[test]
    fn decode_is_total(at in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
        match X86_64::decode(TextAddr(at), &bytes) {
            Ok(Insn::Nop { len }) => {
                prop_assert_eq!(len, 5);
                prop_assert_eq!(&bytes[..5], &NOP5[..]);
            }
            Ok(Insn::Branch { kind, target, len }) => {
                prop_assert_eq!(len, 5);
                let b = X86_64::encode_branch(kind, TextAddr(at), target).unwrap();
                prop_assert_eq!(b.as_slice(), &bytes[..5]);
            }
            Err(CodecError::Truncated) => prop_assert!(bytes.len() < 5),
            Err(_) => {}
        }
    }

    /// The plan is the kernel's int3 protocol: every store is followed by a
    /// core sync, every state between syncs is the old instruction, one with
    /// int3 at byte 0, or the new one, and the end state is the new one.
    #[test]
    fn plan_is_the_int3_protocol(
        at in any::<u64>().prop_map(|a| a % (u64::MAX - 16)),
        old in site_insn(), new in site_insn(),
    ) {
        let at = TextAddr(at);
        let (old, new) = (old.encode(at), new.encode(at));
        let plan = X86_64::patch_plan(at, &old, &new);
        if old == new {
            prop_assert_eq!(plan, Err(graft_core::PlanError::Unchanged));
            return Ok(());
        }
        let plan: Plan = plan.unwrap();
        prop_assert_eq!(plan.steps().len(), 6);
        prop_assert_eq!(plan.steps()[0], Step::Write { addr: at, bytes: InsnBuf::new(&[0xcc]) });
        let mut img = old.as_slice().to_vec();
        for pair in plan.steps().chunks(2) {
            let Step::Write { addr, bytes } = pair[0] else { panic!("write first: {plan:?}") };
            prop_assert_eq!(pair[1], Step::Sync(SyncKind::SyncCores));
            let off = (addr.0 - at.0) as usize;
            prop_assert!(off + bytes.len() <= img.len());
            img[off..off + bytes.len()].copy_from_slice(bytes.as_slice());
            prop_assert!(img == old.as_slice() || img[0] == 0xcc || img == new.as_slice(), "{img:02x?}");
        }
        prop_assert_eq!(&img[..], new.as_slice());
        let mut fin = [0u8; 5];
        plan.final_image(at, old.as_slice(), &mut fin);
        prop_assert_eq!(&fin[..], new.as_slice());
    }

    /// Site analysis never panics; what it accepts is a site at the symbol or
    /// after a 4-byte ENDBR, and decodes to the state it reports.
    #[test]
    fn analyze_site_is_total(
        start in any::<u64>(),
        bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(0xf3), Just(0x0f), Just(0x1e), Just(0xe8), Just(0xe9)], 0..24),
        func_off in -4i64..28,
        rec_off in proptest::option::of(-4i64..12),
    ) {
        let Some(func) = TextAddr(start).checked_offset(func_off) else { return Ok(()) };
        let recorded = rec_off.and_then(|o| func.checked_offset(o));
        let code = Code { start: TextAddr(start), bytes: &bytes };
        if let Ok(s) = X86_64::analyze_site(code, func, recorded) {
            prop_assert!(s.addr == func || s.addr.0 == func.0 + 4);
            prop_assert_eq!(s.len, 5);
            if let Some(r) = recorded { prop_assert_eq!(r, s.addr); }
            let insn = X86_64::decode(s.addr, code.at(s.addr).unwrap()).unwrap();
            match (insn, s.state) {
                (Insn::Nop { .. }, graft_core::SiteState::Disabled) => {}
                (Insn::Branch { target, .. }, graft_core::SiteState::Enabled { target: t })
                | (Insn::Branch { target, .. }, graft_core::SiteState::Unconverted { target: t }) => prop_assert_eq!(target, t),
                (i, st) => prop_assert!(false, "{i:?} reported as {st:?}"),
            }
        }
    }
}

/// A site instruction to plan between.
#[derive(Clone, Copy, Debug)]
enum SiteInsn {
    Nop,
    Branch(BranchKind, i32),
}

impl SiteInsn {
    fn encode(self, at: TextAddr) -> InsnBuf {
        match self {
            SiteInsn::Nop => X86_64::encode_nop(),
            SiteInsn::Branch(k, d) => {
                let to = TextAddr(at.0.wrapping_add_signed(i64::from(d)));
                X86_64::encode_branch(k, at, to).unwrap_or_else(|_| X86_64::encode_nop())
            }
        }
    }
}

fn site_insn() -> impl Strategy<Value = SiteInsn> {
    prop_oneof![Just(SiteInsn::Nop), (kind(), -1_000_000i32..1_000_000).prop_map(|(k, d)| SiteInsn::Branch(k, d))]
}

// ---------------------------------------------------------------------------
// Unwinding

/// A reader that fails the test on any read outside the bounds and counts reads.
struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<u64>,
}

impl StackReader for Checked<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(
            self.bounds.contains(addr.0, buf.len() as u64),
            "read {:#x}+{} outside {:?}",
            addr.0,
            buf.len(),
            self.bounds
        );
        self.reads.set(self.reads.get() + 1);
        self.mem.read(addr, buf)
    }
}

struct Threshold(u64);
impl TextInfo for Threshold {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 % 61 {
            _ if a.0 < self.0 => TextKind::NotText,
            0 => TextKind::FtraceGraph,
            1 => TextKind::Kretprobe,
            2 => TextKind::ExceptionEntry,
            _ => TextKind::Kernel,
        }
    }
}

const TEXT: u64 = 0xffff_ffff_8100_0000;
struct KernelText;
impl TextInfo for KernelText {
    fn kind(&self, a: TextAddr) -> TextKind {
        if a.0 >= TEXT {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// On arbitrary stack contents, registers and final frame the walk ends,
    /// never reads outside the bounds and writes at most `out.len()` frames.
    #[test]
    fn unwind_stays_in_bounds(
        base in (0u64..1 << 40).prop_map(|b| b * 8 + 0xffff_c900_0000_0000),
        words in 4usize..64,
        seed in proptest::collection::vec(any::<u64>(), 64),
        regs in (any::<u64>(), 0u64..80, 0u64..80, any::<bool>()),
        ff in 0u64..80, lo_off in 0u64..64, cap in 0usize..24, text_min in any::<u64>(),
        fill in proptest::collection::vec(any::<(u8, u64)>(), 64),
    ) {
        let len = words as u64 * 8;
        // Stack words from the seed, biased towards in-stack pointers.
        let mut bytes = vec![0u8; len as usize];
        for i in 0..words {
            let (sel, v) = fill[i];
            let w = match sel % 4 {
                0 | 1 => ((base + v % len) & !7) | u64::from(sel & 8 == 0 && v % 5 == 0),
                2 => TEXT | (seed[i] & 0xffff),
                _ => seed[i],
            };
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        let lo = base + (lo_off * 8).min(len);
        // Mostly aligned in-stack registers and final frame, sometimes anything.
        let at = |v: u64| if v < 64 { base + (v % words as u64) * 8 } else { base.wrapping_add(v * 13 - 800) };
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(base + len), final_frame: StackAddr(at(ff)) };
        let r = SavedRegs { pc: if regs.3 { TEXT | (regs.0 & 0xffff) } else { regs.0 }, sp: at(regs.1), fp: at(regs.2), lr: 0 };
        let mem = Checked { mem: SliceMemory { base, bytes: &bytes }, bounds, reads: Cell::new(0) };
        let mut out = vec![TextAddr(0); cap];
        let text = Threshold(text_min % (TEXT + 1));
        let res = X86_64::unwind_reliable(&r, bounds, &mem, &text, &mut out);
        if let Ok(n) = res { prop_assert!(n >= 1 && n <= cap); }
        // Each frame costs a bounded number of reads.
        prop_assert!(mem.reads.get() <= 8 + 8 * (words as u64 + 1), "{} reads", mem.reads.get());
    }

    /// A well-formed stack of any depth and frame sizes walks completely.
    #[test]
    fn well_formed_stacks_walk(
        user in any::<bool>(), rets in proptest::collection::vec((0u64..0x10_0000, 0u64..8), 1..60),
        switch_ret in 0u64..0x10_0000,
    ) {
        let mut buf = vec![0u8; 8192];
        let mut s = KernelStack::new(&mut buf, 0xffff_c900_0004_0000, user);
        s.entry(TEXT + rets[0].0);
        let mut want = vec![TEXT + rets[0].0];
        for &(ret, locals) in &rets[1..] {
            s.call(TEXT + ret, locals * 8);
            want.push(TEXT + ret);
        }
        let regs = s.switch_out(TEXT + switch_ret, 8);
        want.push(TEXT + switch_ret);
        want.reverse();
        let bounds = s.bounds();
        let mem = Checked { mem: s.memory(), bounds, reads: Cell::new(0) };
        let mut out = vec![TextAddr(0); 64];
        let n = X86_64::unwind_reliable(&regs, bounds, &mem, &KernelText, &mut out).unwrap();
        let got: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn recording_reader_catches_reads_outside_bounds() {
    // The property above would be vacuous if the reader never checked.
    let bytes = [0u8; 64];
    let bounds = StackBounds { lo: StackAddr(0x1000), hi: StackAddr(0x1020), final_frame: StackAddr(0x1010) };
    let mem = Checked { mem: SliceMemory { base: 0x1000, bytes: &bytes }, bounds, reads: Cell::new(0) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        mem.read_u64(StackAddr(0x1020), graft_core::Endian::Little)
    }));
    assert!(r.is_err());
}

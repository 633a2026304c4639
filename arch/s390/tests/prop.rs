//! Properties of the codec, the patch plans, site analysis and the unwinder.

use graft_core::{
    BranchKind, Code, Codec, CodecError, EntrySite, Insn, InsnBuf, MemError, SavedRegs, SliceMemory, StackAddr,
    StackBounds, StackReader, Step, SyncKind, TextAddr, TextInfo, TextKind, Unwinder,
};
use graft_s390::codec::{DISP_MAX, DISP_MIN};
use graft_s390::unwind::{walk, FrameLayout};
use graft_s390::{decode_site_insn, SiteInsn, S390};
use proptest::prelude::*;
use std::cell::Cell;

fn kind() -> impl Strategy<Value = BranchKind> {
    prop_oneof![Just(BranchKind::Call), Just(BranchKind::Jump)]
}

/// An even site address with room for the whole reach on both sides.
fn site() -> impl Strategy<Value = u64> {
    ((1u64 << 33)..(u64::MAX - (1 << 33))).prop_map(|a| a & !1)
}

/// An in-range, even displacement.
fn disp() -> impl Strategy<Value = i64> {
    prop_oneof![
        (DISP_MIN / 2..=DISP_MAX / 2).prop_map(|h| h * 2),
        (-64i64..=64).prop_map(|h| h * 2),
        Just(DISP_MIN),
        Just(DISP_MAX),
    ]
}

proptest! {
    #[test]
    fn encode_decode_round_trip(k in kind(), from in site(), d in disp()) {
        let (from, to) = (TextAddr(from), TextAddr(from.wrapping_add_signed(d)));
        let b = S390::encode_branch(k, from, to).unwrap();
        prop_assert_eq!(b.len(), 6);
        prop_assert_eq!(S390::decode(from, b.as_slice()), Ok(Insn::Branch { kind: k, target: to, len: 6 }));
        // The kernel's own arithmetic: `disp = (target - ip) / 2` in the s32 at byte 2.
        let hw = i32::from_be_bytes(b.as_slice()[2..6].try_into().unwrap());
        prop_assert_eq!(i64::from(hw) * 2, d);
        let (lo, hi) = S390::branch_range(k);
        prop_assert!(lo <= d && d <= hi);
    }

    #[test]
    fn first_displacement_past_each_end_is_refused(k in kind(), from in site()) {
        let from_a = TextAddr(from);
        let (lo, hi) = S390::branch_range(k);
        prop_assert_eq!((lo, hi), (-(1i64 << 32), (1i64 << 32) - 2));
        for d in [hi + 2, lo - 2] {
            let to = TextAddr(from.wrapping_add_signed(d));
            prop_assert_eq!(S390::encode_branch(k, from_a, to), Err(CodecError::OutOfRange { disp: d }));
        }
        for d in [hi, lo] {
            prop_assert!(S390::encode_branch(k, from_a, TextAddr(from.wrapping_add_signed(d))).is_ok());
        }
    }

    #[test]
    fn any_displacement_out_of_range_is_refused(k in kind(), from in any::<u64>(), to in any::<u64>()) {
        let (from, to) = (from & !1, to & !1);
        let r = S390::encode_branch(k, TextAddr(from), TextAddr(to));
        let d = to.wrapping_sub(from) as i64;
        let fits = TextAddr(to).offset_from(TextAddr(from)).is_some() && (DISP_MIN..=DISP_MAX).contains(&d);
        prop_assert_eq!(r.is_ok(), fits);
        if let Err(e) = r {
            prop_assert!(matches!(e, CodecError::OutOfRange { .. }), "{:?}", e);
        }
    }

    #[test]
    fn misaligned_source_or_target_is_refused(k in kind(), from in site(), d in disp(), which in 0..3u8) {
        let to = from.wrapping_add_signed(d);
        let (from, to) = match which {
            0 => (from | 1, to),
            1 => (from, to | 1),
            _ => (from | 1, to | 1),
        };
        prop_assert_eq!(S390::encode_branch(k, TextAddr(from), TextAddr(to)), Err(CodecError::Misaligned));
    }

    #[test]
    fn decode_never_panics_and_agrees_with_encode(at in any::<u64>(), bytes in prop::collection::vec(any::<u8>(), 0..12)) {
        match S390::decode(TextAddr(at), &bytes) {
            Ok(Insn::Branch { kind, target, len }) => {
                prop_assert_eq!(len, 6);
                let enc = S390::encode_branch(kind, TextAddr(at), target).unwrap();
                prop_assert_eq!(enc.as_slice(), &bytes[..6]);
            }
            Ok(Insn::Nop { len }) => {
                prop_assert_eq!(len, 6);
                prop_assert_eq!(&bytes[..2], &[0xc0, 0x04]);
            }
            Err(_) => {}
        }
    }

    #[test]
    fn decode_recognises_every_site_byte1(at in site(), byte1 in any::<u8>(), d in any::<i32>()) {
        let b = [&[0xc0, byte1][..], &d.to_be_bytes()[..]].concat();
        let r = decode_site_insn(TextAddr(at), &b);
        let target = TextAddr(at.wrapping_add_signed(i64::from(d) * 2));
        let want = match byte1 {
            0x04 => Ok(SiteInsn::Nop { target }),
            0x05 => Ok(SiteInsn::Call { target }),
            0xf4 => Ok(SiteInsn::Jump { target }),
            _ => Err(CodecError::Unknown),
        };
        prop_assert_eq!(r, want);
        prop_assert_eq!(decode_site_insn(TextAddr(at), &b[..5]).is_err(), true);
    }

    #[test]
    fn analyze_site_never_panics(
        start in any::<u64>(),
        off in 0u64..24,
        bytes in prop::collection::vec(any::<u8>(), 0..24),
        rec in prop::option::of(any::<u64>()),
        site_prefix in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if site_prefix && bytes.len() >= 2 {
            bytes[0] = 0xc0;
            bytes[1] = [0x04, 0x05, 0xf4][bytes.len() % 3];
        }
        let func = TextAddr(start.wrapping_add(off));
        let code = Code { start: TextAddr(start), bytes: &bytes };
        if let Ok(s) = S390::analyze_site(code, func, rec.map(TextAddr)) {
            prop_assert_eq!((s.addr, s.len), (func, 6));
            prop_assert!(S390::decode(func, code.at(func).unwrap()).is_ok());
        }
    }

    #[test]
    fn plans_keep_every_state_a_valid_site(
        at in site(),
        old in site_insn(),
        new in site_insn(),
    ) {
        plan_property(TextAddr(at), old, new)?;
    }
}

/// A site instruction: nop (canonical or pointing at a trampoline), call, jump.
fn site_insn() -> impl Strategy<Value = (u8, i32)> {
    (prop_oneof![Just(0x04u8), Just(0x05), Just(0xf4)], prop_oneof![Just(0i32), any::<i32>(), -8i32..8])
}

fn plan_property(at: TextAddr, old: (u8, i32), new: (u8, i32)) -> Result<(), TestCaseError> {
    let enc = |(b1, d): (u8, i32)| {
        let d = d.to_be_bytes();
        InsnBuf::new(&[0xc0, b1, d[0], d[1], d[2], d[3]])
    };
    let (o, n) = (enc(old), enc(new));
    let plan = match S390::patch_plan(at, &o, &n) {
        Err(e) => {
            prop_assert_eq!(o, n, "only an unchanged site is refused: {}", e);
            return Ok(());
        }
        Ok(p) => p,
    };
    let mut img: [u8; 6] = o.as_slice().try_into().unwrap();
    // Whether a sync happened since the displacement last changed.
    let mut disp_synced = true;
    for s in plan.steps() {
        match *s {
            Step::Sync(k) => {
                prop_assert_eq!(k, SyncKind::Serialize);
                disp_synced = true;
            }
            Step::Write { addr, bytes } => {
                let len = bytes.len() as u64;
                prop_assert!(matches!(len, 1 | 2 | 4), "store of {} bytes", len);
                prop_assert!(addr.is_aligned(len), "unaligned {}-byte store at {}", len, addr);
                let off = (addr.0 - at.0) as usize;
                prop_assert!(off + bytes.len() <= 6);
                let touches_disp = off + bytes.len() > 2;
                let touches_byte1 = off <= 1 && off + bytes.len() > 1;
                prop_assert!(!(touches_disp && touches_byte1), "one store changes behaviour and target");
                if touches_disp {
                    // The displacement moves only under a nop.
                    prop_assert_eq!(img[1], 0x04);
                    disp_synced = false;
                }
                if touches_byte1 {
                    prop_assert!(disp_synced, "byte 1 flipped before the displacement was serialised");
                }
                img[off..off + bytes.len()].copy_from_slice(bytes.as_slice());
                let state = decode_site_insn(at, &img);
                let valid = matches!(state, Ok(SiteInsn::Nop { .. })) || img == o.as_slice() || img == n.as_slice();
                prop_assert!(valid, "intermediate {:02x?} is neither a nop nor old nor new", img);
            }
        }
    }
    prop_assert_eq!(&img[..], n.as_slice());
    prop_assert_eq!(plan.steps().last(), Some(&Step::Sync(SyncKind::Serialize)));
    let mut fin = [0u8; 6];
    plan.final_image(at, o.as_slice(), &mut fin);
    prop_assert_eq!(&fin[..], n.as_slice());
    Ok(())
}

// ---------------------------------------------------------------------------
// The unwinder on arbitrary memory

/// Reads `SliceMemory`, failing the test on any read outside `bounds` or on
/// more reads than a terminating walk can make.
struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<u64>,
    max_reads: u64,
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
        assert!(self.reads.get() <= self.max_reads, "walk does not terminate");
        self.mem.read(addr, buf)
    }
}

/// Text is `[0x1000, 0x100000)` except a few trampolines.
struct SomeText;
impl TextInfo for SomeText {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            0x2000 => TextKind::FtraceGraph,
            0x3000 => TextKind::Kretprobe,
            0x1000..0x10_0000 => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

/// Stack memory whose words are mostly plausible: back chains into the
/// stack, text addresses, zeros, or noise.
fn stack_words(lo: u64, n: usize) -> impl Strategy<Value = Vec<u64>> {
    let span = (n as u64) * 8;
    prop::collection::vec(
        prop_oneof![
            4 => (0..span).prop_map(move |o| lo + (o & !7)),
            1 => (0..span).prop_map(move |o| lo + o),
            3 => 0x1000u64..0x10_0000,
            2 => Just(0u64),
            1 => any::<u64>(),
        ],
        n,
    )
}

fn unwind_case() -> impl Strategy<Value = (u64, Vec<u64>, u64, u64, u64, u64, usize)> {
    (0u64..1 << 40, 8usize..400).prop_flat_map(|(lo, n)| {
        let lo = lo & !7;
        let span = n as u64 * 8;
        (
            Just(lo),
            stack_words(lo, n),
            // bounds inside or around the memory
            0..span / 2,
            span / 2..span + 16,
            // sp, final frame
            prop_oneof![(0..span).prop_map(move |o| lo + o), any::<u64>()],
            prop_oneof![(0..span).prop_map(move |o| lo + (o & !7)), any::<u64>()],
            0usize..64,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn unwind_stays_in_bounds_and_terminates(
        (lo, words, blo, bhi, sp, fin, out_len) in unwind_case(),
        pc in any::<u64>(),
        packed in any::<bool>(),
    ) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        let bounds = StackBounds { lo: StackAddr(lo + blo), hi: StackAddr(lo + bhi), final_frame: StackAddr(fin) };
        let mem = Checked {
            mem: SliceMemory { base: lo, bytes: &bytes },
            bounds,
            reads: Cell::new(0),
            max_reads: 2 * (bhi.saturating_sub(blo) / 8 + 2),
        };
        let regs = SavedRegs { pc, sp, fp: 0, lr: 0 };
        let mut out = vec![TextAddr(0); out_len];
        let layout = if packed { FrameLayout::PACKED } else { FrameLayout::STANDARD };
        let r = if packed {
            S390::unwind_reliable(&regs, bounds, &mem, &SomeText, &mut out)
        } else {
            walk(&layout, &regs, bounds, &mem, &SomeText, &mut out)
        };
        if let Ok(n) = r {
            prop_assert!(n >= 1 && n <= out_len);
            prop_assert_eq!(out[0], TextAddr(pc));
            for a in &out[..n] {
                prop_assert_eq!(SomeText.kind(*a), TextKind::Kernel);
            }
        }
    }
}

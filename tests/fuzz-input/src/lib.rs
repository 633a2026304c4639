//! The input formats of graft's fuzz targets (`fuzz/fuzz_targets/`), in
//! one place: each target decodes its bytes with a `decode` here, and the
//! seed generator (`examples/seeds.rs`) writes real inputs with the
//! matching `encode`, so a seed means to the target exactly what it was
//! built from (`tests/round_trip.rs` checks every pair).
//!
//! An `encode` returns `None` for an input its format cannot express (an
//! address outside the window the format reaches, a capacity past its
//! field).
#![forbid(unsafe_code)]

use graft_core::{Code, SavedRegs, StackAddr, StackBounds, TextAddr, TextInfo, TextKind};

fn le(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}
fn be(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}
fn le16(b: &[u8]) -> u64 {
    u64::from(u16::from_le_bytes([b[0], b[1]]))
}

/// `*_decode_never_panics`: an instruction address and the bytes there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a> {
    /// Where the bytes sit.
    pub at: TextAddr,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// Decode-target formats: 8 address bytes (little-endian; big-endian for
/// s390), then the bytes.
pub mod decode {
    use super::*;

    /// Little-endian address (x86_64, arm64, powerpc, riscv).
    pub fn decode_le(data: &[u8]) -> Option<Bytes<'_>> {
        let (addr, bytes) = data.split_first_chunk::<8>()?;
        Some(Bytes { at: TextAddr(u64::from_le_bytes(*addr)), bytes })
    }
    /// Big-endian address (s390).
    pub fn decode_be(data: &[u8]) -> Option<Bytes<'_>> {
        let (addr, bytes) = data.split_first_chunk::<8>()?;
        Some(Bytes { at: TextAddr(u64::from_be_bytes(*addr)), bytes })
    }
    /// Inverse of [`decode_le`].
    pub fn encode_le(b: &Bytes<'_>) -> Vec<u8> {
        [&b.at.0.to_le_bytes()[..], b.bytes].concat()
    }
    /// Inverse of [`decode_be`].
    pub fn encode_be(b: &Bytes<'_>) -> Vec<u8> {
        [&b.at.0.to_be_bytes()[..], b.bytes].concat()
    }
}

/// `*_site_analysis_never_panics`: a text window, the function's symbol
/// and the ftrace record.
#[derive(Clone, Copy, Debug)]
pub struct SiteInput<'a> {
    /// The window (its start and bytes).
    pub code: Code<'a>,
    /// The function's symbol address.
    pub func: TextAddr,
    /// The record (`__mcount_loc` / `__patchable_function_entries`).
    pub recorded: Option<TextAddr>,
}

impl PartialEq for SiteInput<'_> {
    fn eq(&self, o: &Self) -> bool {
        (self.code.start, self.code.bytes, self.func, self.recorded) == (o.code.start, o.code.bytes, o.func, o.recorded)
    }
}
impl Eq for SiteInput<'_> {}

/// Site-target formats: a head, then the window's bytes.
pub mod site {
    use super::*;

    /// x86_64: start (8 LE), symbol offset from start (i8), record (bit 7
    /// set: the symbol plus the low nibble).
    pub fn decode_x86_64(data: &[u8]) -> Option<SiteInput<'_>> {
        let (head, bytes) = data.split_first_chunk::<10>()?;
        let start = TextAddr(le(head));
        let func = start.checked_offset(i64::from(head[8] as i8))?;
        let recorded = (head[9] & 0x80 != 0).then(|| func.checked_offset(i64::from(head[9] & 0x0f))).flatten();
        Some(SiteInput { code: Code { start, bytes }, func, recorded })
    }
    /// Inverse of [`decode_x86_64`].
    pub fn encode_x86_64(s: &SiteInput<'_>) -> Option<Vec<u8>> {
        let off = i8::try_from(s.func.0.wrapping_sub(s.code.start.0) as i64).ok()?;
        let rec = match s.recorded {
            None => 0,
            Some(r) => 0x80 | u8::try_from(r.0.checked_sub(s.func.0)?).ok().filter(|&d| d < 16)?,
        };
        let mut v = s.code.start.0.to_le_bytes().to_vec();
        v.extend([off as u8, rec]);
        v.extend_from_slice(s.code.bytes);
        Some(v)
    }

    /// arm64: start (8 LE), symbol offset (low 6 bits), record (8 LE,
    /// present when its top byte is odd: kernel addresses are).
    pub fn decode_arm64(data: &[u8]) -> Option<SiteInput<'_>> {
        let (head, bytes) = data.split_first_chunk::<17>()?;
        let start = le(&head[..8]);
        let func = start.wrapping_add(u64::from(head[8] & 0x3f));
        let recorded = (head[16] & 1 == 1).then(|| TextAddr(le(&head[9..17])));
        Some(SiteInput { code: Code { start: TextAddr(start), bytes }, func: TextAddr(func), recorded })
    }
    /// Inverse of [`decode_arm64`].
    pub fn encode_arm64(s: &SiteInput<'_>) -> Option<Vec<u8>> {
        let off = u8::try_from(s.func.0.wrapping_sub(s.code.start.0)).ok().filter(|&o| o < 64)?;
        let rec = match s.recorded {
            None => 0,
            Some(r) if r.0 >> 56 & 1 == 1 => r.0,
            Some(_) => return None,
        };
        let mut v = s.code.start.0.to_le_bytes().to_vec();
        v.push(off);
        v.extend(rec.to_le_bytes());
        v.extend_from_slice(s.code.bytes);
        Some(v)
    }

    /// riscv: arm64's format (both little-endian, sites a word or two
    /// after the symbol, kernel records with an odd top byte).
    pub fn decode_riscv(data: &[u8]) -> Option<SiteInput<'_>> {
        decode_arm64(data)
    }
    /// Inverse of [`decode_riscv`].
    pub fn encode_riscv(s: &SiteInput<'_>) -> Option<Vec<u8>> {
        encode_arm64(s)
    }

    /// powerpc: start (8 LE), symbol offset (mod 48), record (bit 7 set:
    /// start plus the byte mod 48).
    pub fn decode_powerpc(data: &[u8]) -> Option<SiteInput<'_>> {
        let (head, bytes) = data.split_first_chunk::<10>()?;
        let start = le(&head[..8]);
        let func = TextAddr(start.wrapping_add(u64::from(head[8] % 48)));
        let recorded = (head[9] & 0x80 != 0).then(|| TextAddr(start.wrapping_add(u64::from(head[9] % 48))));
        Some(SiteInput { code: Code { start: TextAddr(start), bytes }, func, recorded })
    }
    /// Inverse of [`decode_powerpc`].
    pub fn encode_powerpc(s: &SiteInput<'_>) -> Option<Vec<u8>> {
        let off = u8::try_from(s.func.0.wrapping_sub(s.code.start.0)).ok().filter(|&o| o < 48)?;
        let rec = match s.recorded {
            None => 0,
            // 144 is a multiple of 48 with bit 7 set.
            Some(r) => 144 + u8::try_from(r.0.wrapping_sub(s.code.start.0)).ok().filter(|&o| o < 48)?,
        };
        let mut v = s.code.start.0.to_le_bytes().to_vec();
        v.extend([off, rec]);
        v.extend_from_slice(s.code.bytes);
        Some(v)
    }

    /// s390: start (8 BE), symbol offset (low 5 bits), record word (8 BE:
    /// bit 0 set, none; bit 1 clear, the symbol; else the word itself).
    pub fn decode_s390(data: &[u8]) -> Option<SiteInput<'_>> {
        let (head, bytes) = data.split_first_chunk::<17>()?;
        let start = be(&head[..8]);
        let func = TextAddr(start.wrapping_add(u64::from(head[8] & 0x1f)));
        let rec = be(&head[9..17]);
        let recorded = (rec & 1 == 0).then_some(if rec & 2 == 0 { func } else { TextAddr(rec) });
        Some(SiteInput { code: Code { start: TextAddr(start), bytes }, func, recorded })
    }
    /// Inverse of [`decode_s390`].
    pub fn encode_s390(s: &SiteInput<'_>) -> Option<Vec<u8>> {
        let off = u8::try_from(s.func.0.wrapping_sub(s.code.start.0)).ok().filter(|&o| o < 32)?;
        let rec = match s.recorded {
            None => 1,
            Some(r) if r == s.func => 0,
            Some(r) if r.0 & 3 == 2 => r.0,
            Some(_) => return None,
        };
        let mut v = s.code.start.0.to_be_bytes().to_vec();
        v.push(off);
        v.extend(rec.to_be_bytes());
        v.extend_from_slice(s.code.bytes);
        Some(v)
    }
}

/// `*_unwind_stays_in_bounds`: a stack image, the registers a walk starts
/// from, the bounds, and the room for return addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnwindInput<'a> {
    /// Address of `stack[0]`.
    pub base: u64,
    /// The stack's bytes.
    pub stack: &'a [u8],
    /// Where the walk starts.
    pub regs: SavedRegs,
    /// The bounds handed to the unwinder.
    pub bounds: StackBounds,
    /// Room for return addresses.
    pub cap: usize,
}

/// Unwind-target formats: a head, then the stack's bytes.
pub mod unwind {
    use super::*;

    /// What the x86_64 target calls text: everything with the top bit
    /// set, but for a few trampolines.
    #[derive(Clone, Copy, Debug)]
    pub struct X86_64Text;
    impl TextInfo for X86_64Text {
        fn kind(&self, a: TextAddr) -> TextKind {
            match a.0 {
                x if x >> 63 == 0 => TextKind::NotText,
                x if x % 251 == 0 => TextKind::FtraceGraph,
                x if x % 253 == 0 => TextKind::Kretprobe,
                _ => TextKind::Kernel,
            }
        }
    }

    /// The arm64 target's text kinds, picked by address bits, so every
    /// refusal path is reachable.
    #[derive(Clone, Copy, Debug)]
    pub struct Arm64Text;
    impl TextInfo for Arm64Text {
        fn kind(&self, a: TextAddr) -> TextKind {
            match (a.0 >> 2) % 13 {
                0 => TextKind::NotText,
                1 => TextKind::FtraceGraph,
                2 => TextKind::Kretprobe,
                3 => TextKind::ExceptionEntry,
                _ => TextKind::Kernel,
            }
        }
    }

    /// The riscv target's text kinds, picked by address bits (every
    /// refusal path reachable, exception entry included: it ends a kernel
    /// task's walk at `task_pt_regs()`).
    #[derive(Clone, Copy, Debug)]
    pub struct RiscvText;
    impl TextInfo for RiscvText {
        fn kind(&self, a: TextAddr) -> TextKind {
            match (a.0 >> 1) % 13 {
                0 => TextKind::NotText,
                1 => TextKind::FtraceGraph,
                2 => TextKind::Kretprobe,
                3 => TextKind::ExceptionEntry,
                _ => TextKind::Kernel,
            }
        }
    }

    /// The powerpc target's text: `0xc...` kernel, `0xd...` the graph
    /// tracer's trampoline.
    #[derive(Clone, Copy, Debug)]
    pub struct PowerpcText;
    impl TextInfo for PowerpcText {
        fn kind(&self, a: TextAddr) -> TextKind {
            match a.0 >> 60 {
                0xc => TextKind::Kernel,
                0xd => TextKind::FtraceGraph,
                _ => TextKind::NotText,
            }
        }
    }

    /// The s390 target's text: pages 3 to 0xff kernel, 1 and 2 trampolines.
    #[derive(Clone, Copy, Debug)]
    pub struct S390Text;
    impl TextInfo for S390Text {
        fn kind(&self, a: TextAddr) -> TextKind {
            match a.0 >> 12 {
                1 => TextKind::FtraceGraph,
                2 => TextKind::Kretprobe,
                3..0x100 => TextKind::Kernel,
                _ => TextKind::NotText,
            }
        }
    }

    /// Where the x86_64 target's stack sits.
    pub const X86_64_BASE: u64 = 0xffff_c900_0000_0000;
    /// Where the powerpc target's stack sits.
    pub const POWERPC_BASE: u64 = 0x1000_0000;
    /// Where the s390 target's stack sits.
    pub const S390_BASE: u64 = 0x8000;

    /// x86_64: pc (8 LE); sp, fp, lo, hi, final frame as 16-bit offsets
    /// from 0x100 below the base; capacity (mod 64).
    pub fn decode_x86_64(data: &[u8]) -> Option<UnwindInput<'_>> {
        let (head, stack) = data.split_first_chunk::<24>()?;
        let w = |i: usize| le16(&head[i..]);
        let near = |v: u64| X86_64_BASE.wrapping_add(v).wrapping_sub(0x100);
        let regs = SavedRegs { pc: le(head), sp: near(w(8)), fp: near(w(10)), lr: 0 };
        let bounds =
            StackBounds { lo: StackAddr(near(w(12))), hi: StackAddr(near(w(14))), final_frame: StackAddr(near(w(16))) };
        Some(UnwindInput { base: X86_64_BASE, stack, regs, bounds, cap: usize::from(head[18] % 64) })
    }
    /// Inverse of [`decode_x86_64`] (the stack must sit at [`X86_64_BASE`]).
    pub fn encode_x86_64(u: &UnwindInput<'_>) -> Option<Vec<u8>> {
        if u.base != X86_64_BASE || u.regs.lr != 0 || u.cap >= 64 {
            return None;
        }
        let far = |a: u64| u16::try_from(a.wrapping_sub(X86_64_BASE).wrapping_add(0x100)).ok();
        let mut v = u.regs.pc.to_le_bytes().to_vec();
        for a in [u.regs.sp, u.regs.fp, u.bounds.lo.0, u.bounds.hi.0, u.bounds.final_frame.0] {
            v.extend(far(a)?.to_le_bytes());
        }
        v.push(u.cap as u8);
        v.resize(24, 0);
        v.extend_from_slice(u.stack);
        Some(v)
    }

    /// arm64: base (8 LE, 8-aligned), fp and final frame (8 LE: top bit
    /// set, as is; else an offset into the bounds), pc (8 LE), one byte
    /// whose low 5 bits are lo's offset and high 5 bits the capacity (they
    /// share bits 3 and 4), hi's distance below the end (low 5 bits).  sp
    /// is lo.
    pub fn decode_arm64(data: &[u8]) -> Option<UnwindInput<'_>> {
        let (head, stack) = data.split_first_chunk::<34>()?;
        let word = |i: usize| le(&head[i..]);
        let base = word(0) & !7;
        let len = stack.len() as u64;
        let end = base.checked_add(len)?;
        let lo = base + u64::from(head[32] & 0x1f).min(len);
        let hi = end.saturating_sub(u64::from(head[33] & 0x1f)).max(lo);
        let span = (hi - lo).max(1);
        let fp = if word(8) >> 63 == 1 { word(8) } else { lo + word(8) % span };
        let final_frame = if word(16) >> 63 == 1 { word(16) } else { lo + word(16) % span };
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(final_frame) };
        let regs = SavedRegs { pc: word(24), sp: lo, fp, lr: 0 };
        Some(UnwindInput { base, stack, regs, bounds, cap: usize::from(head[32] >> 3) })
    }
    /// Inverse of [`decode_arm64`] (bounds at most 31 bytes inside the
    /// stack, sp at lo, fp and final frame either with the top bit set or
    /// inside the bounds).
    pub fn encode_arm64(u: &UnwindInput<'_>) -> Option<Vec<u8>> {
        let len = u.stack.len() as u64;
        let end = u.base.checked_add(len)?;
        let (lo, hi) = (u.bounds.lo.0, u.bounds.hi.0);
        let lo_off = lo.checked_sub(u.base).filter(|&o| o <= len)?;
        let hi_off = end.checked_sub(hi).filter(|&o| o < 32)?;
        if !u.base.is_multiple_of(8) || hi < lo || u.regs.sp != lo || u.regs.lr != 0 || u.cap >= 32 {
            return None;
        }
        let span = (hi - lo).max(1);
        let word = |a: u64| match a >> 63 {
            1 => Some(a),
            _ => a.checked_sub(lo).filter(|&o| o < span),
        };
        let mut v = u.base.to_le_bytes().to_vec();
        v.extend(word(u.regs.fp)?.to_le_bytes());
        v.extend(word(u.bounds.final_frame.0)?.to_le_bytes());
        v.extend(u.regs.pc.to_le_bytes());
        // lo's offset is clamped to the stack's length; the byte also
        // carries the capacity.
        let b = (0..=255u8).find(|&b| usize::from(b >> 3) == u.cap && u64::from(b & 0x1f).min(len) == lo_off)?;
        v.extend([b, hi_off as u8]);
        v.extend_from_slice(u.stack);
        Some(v)
    }

    /// riscv: arm64's format (a frame-pointer walk over a little-endian
    /// stack: base, fp, final frame, pc, lo, capacity, hi).
    pub fn decode_riscv(data: &[u8]) -> Option<UnwindInput<'_>> {
        decode_arm64(data)
    }
    /// Inverse of [`decode_riscv`].
    pub fn encode_riscv(u: &UnwindInput<'_>) -> Option<Vec<u8>> {
        encode_arm64(u)
    }

    /// powerpc: 16-bit words (LE): lo's offset (mod 64), hi's distance
    /// below the end (mod 64), the final frame and sp in words from the
    /// base, pc's low 16 bits (under `0xc000...`); capacity (mod 33).
    pub fn decode_powerpc(data: &[u8]) -> Option<UnwindInput<'_>> {
        let (head, stack) = data.split_first_chunk::<16>()?;
        let base = POWERPC_BASE;
        let word = |i: usize| le16(&head[i..]);
        let len = stack.len() as u64;
        let lo = base + (word(0) % 64).min(len);
        let hi = (base + len).saturating_sub(word(2) % 64).max(lo);
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(base + word(4) * 8) };
        let regs = SavedRegs { pc: 0xc000_0000_0000_0000 | word(6), sp: base + word(8) * 8, fp: 0, lr: 0 };
        Some(UnwindInput { base, stack, regs, bounds, cap: usize::from(head[10]) % 33 })
    }
    /// Inverse of [`decode_powerpc`].
    pub fn encode_powerpc(u: &UnwindInput<'_>) -> Option<Vec<u8>> {
        let base = POWERPC_BASE;
        let len = u.stack.len() as u64;
        let lo_off = u.bounds.lo.0.checked_sub(base).filter(|&o| o < 64 && o <= len)?;
        let hi_off = (base + len).checked_sub(u.bounds.hi.0).filter(|&o| o < 64)?;
        let words =
            |a: u64| a.checked_sub(base).filter(|o| o.is_multiple_of(8)).and_then(|o| u16::try_from(o / 8).ok());
        let pc = u.regs.pc.checked_sub(0xc000_0000_0000_0000).and_then(|p| u16::try_from(p).ok())?;
        if u.base != base || u.bounds.hi.0 < u.bounds.lo.0 || u.regs.fp != 0 || u.regs.lr != 0 || u.cap > 32 {
            return None;
        }
        let mut v = Vec::with_capacity(16 + u.stack.len());
        for w in [lo_off as u16, hi_off as u16, words(u.bounds.final_frame.0)?, pc, words(u.regs.sp)?] {
            v.extend(w.to_le_bytes());
        }
        v.push(u.cap as u8);
        v.resize(16, 0);
        v.extend_from_slice(u.stack);
        Some(v)
    }

    /// s390: pc (8 BE), sp and final frame (8 BE: top bit set, as is; else
    /// an offset into the stack and 64 bytes past it), lo's offset (which,
    /// mod 33, is also the capacity), hi's distance below the end.
    pub fn decode_s390(data: &[u8]) -> Option<UnwindInput<'_>> {
        let (head, stack) = data.split_first_chunk::<26>()?;
        let word = |i: usize| be(&head[i..]);
        let base = S390_BASE;
        let len = stack.len() as u64;
        let lo = base + u64::from(head[24]).min(len);
        let hi = (base + len).saturating_sub(u64::from(head[25])).max(lo);
        let near = |w: u64| if w >> 63 == 0 { base + w % (len + 64) } else { w };
        let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(near(word(16))) };
        let regs = SavedRegs { pc: word(0), sp: near(word(8)), fp: 0, lr: 0 };
        Some(UnwindInput { base, stack, regs, bounds, cap: usize::from(head[24] % 33) })
    }
    /// Inverse of [`decode_s390`]: the capacity is lo's offset mod 33, so
    /// a stack with `cap` frames of room starts `cap` bytes below lo
    /// (see [`s390_pad`]).
    pub fn encode_s390(u: &UnwindInput<'_>) -> Option<Vec<u8>> {
        let base = S390_BASE;
        let len = u.stack.len() as u64;
        let lo_off = u.bounds.lo.0.checked_sub(base).filter(|&o| o <= len)?;
        // lo's offset is clamped to the stack's length and, mod 33, is the
        // capacity.
        let lo_byte = (0..=255u8).find(|&b| usize::from(b % 33) == u.cap && u64::from(b).min(len) == lo_off)?;
        let hi_off = u8::try_from((base + len).checked_sub(u.bounds.hi.0)?).ok()?;
        let near = |a: u64| match a >> 63 {
            1 => Some(a),
            _ => a.checked_sub(base).filter(|&o| o < len + 64),
        };
        if u.base != base || u.bounds.hi.0 < u.bounds.lo.0 {
            return None;
        }
        if u.regs.fp != 0 || u.regs.lr != 0 {
            return None;
        }
        let mut v = u.regs.pc.to_be_bytes().to_vec();
        v.extend(near(u.regs.sp)?.to_be_bytes());
        v.extend(near(u.bounds.final_frame.0)?.to_be_bytes());
        v.extend([lo_byte, hi_off]);
        v.extend_from_slice(u.stack);
        Some(v)
    }

    /// Room for `cap` return addresses on s390 needs lo `cap` bytes above
    /// the base: the stack laid at `lo` is prefixed with `cap` zero bytes.
    pub fn s390_pad(cap: usize, stack: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; cap];
        v.extend_from_slice(stack);
        v
    }
}

/// The `/proc/kallsyms` targets' format: a head, then the text.
pub mod kallsyms {
    /// Upstream's klp_find_callback() + klp_find_object_symbol()
    /// (kernel/livepatch/core.c), written out as the kernel has it, over
    /// the addresses of one object's symbols of one name in kallsyms order:
    /// the walk stops at the position, or at a second symbol without one.
    /// The oracle the kallsyms tests and fuzz target hold `Lookup` to.
    pub fn upstream_find_object_symbol(
        addrs: impl IntoIterator<Item = u64>,
        sympos: u64,
    ) -> Result<u64, graft_core::kallsyms::SymError> {
        use graft_core::kallsyms::SymError;
        let (mut addr, mut count) = (0u64, 0u64);
        for a in addrs {
            addr = a;
            count += 1;
            if (sympos != 0 && count == sympos) || (sympos == 0 && count > 1) {
                break;
            }
        }
        if addr == 0 {
            Err(SymError::NotFound)
        } else if count > 1 && sympos == 0 {
            Err(SymError::Ambiguous { count })
        } else if sympos != count && sympos > 0 {
            Err(SymError::NoSuchPosition { sympos, count })
        } else {
            Ok(addr)
        }
    }

    /// `kallsyms_lookup_agrees`: which object to look in, how the text is
    /// read, and up to four names (by line) with their `old_sympos`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct LookupInput<'a> {
        /// 0: vmlinux; `k`: the module of line `k - 1` (vmlinux if that
        /// line has none).
        pub object: u16,
        /// Bytes per read (at least 1).
        pub chunk: usize,
        /// The read buffer's size (at least 1).
        pub buf: usize,
        /// (line, `old_sympos`): the name of that line (wrapping around the
        /// line count), looked up at that position.
        pub queries: Vec<(u16, u8)>,
        /// The text.
        pub text: &'a [u8],
    }

    /// Head bytes of [`LookupInput`].
    pub const LOOKUP_HEAD: usize = 2 + 1 + 2 + 1 + 4 * 3;

    /// Decode a [`LookupInput`].
    pub fn decode_lookup(data: &[u8]) -> Option<LookupInput<'_>> {
        let (h, text) = data.split_first_chunk::<LOOKUP_HEAD>()?;
        let nq = usize::from(h[5] % 5);
        let queries = (0..nq).map(|i| (u16::from_le_bytes([h[6 + 3 * i], h[7 + 3 * i]]), h[8 + 3 * i])).collect();
        Some(LookupInput {
            object: u16::from_le_bytes([h[0], h[1]]),
            chunk: usize::from(h[2]).max(1),
            buf: usize::from(u16::from_le_bytes([h[3], h[4]])).max(1),
            queries,
            text,
        })
    }
    /// Inverse of [`decode_lookup`].
    pub fn encode_lookup(l: &LookupInput<'_>) -> Option<Vec<u8>> {
        if l.queries.len() > 4 || l.chunk == 0 || l.chunk > 255 || l.buf == 0 || l.buf > 0xffff {
            return None;
        }
        let mut v = l.object.to_le_bytes().to_vec();
        v.push(l.chunk as u8);
        v.extend((l.buf as u16).to_le_bytes());
        v.push(l.queries.len() as u8);
        for &(line, pos) in &l.queries {
            v.extend(line.to_le_bytes());
            v.push(pos);
        }
        v.resize(LOOKUP_HEAD, 0);
        v.extend_from_slice(l.text);
        Some(v)
    }

    /// `kallsyms_table_agrees`: the table's storage and up to four names
    /// (by line) with their `old_sympos`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TableInput<'a> {
        /// Storage entries for the collection.
        pub slots: usize,
        /// As [`LookupInput::queries`].
        pub queries: Vec<(u16, u8)>,
        /// The text.
        pub text: &'a [u8],
    }

    /// Head bytes of [`TableInput`].
    pub const TABLE_HEAD: usize = 2 + 1 + 4 * 3;

    /// Decode a [`TableInput`].
    pub fn decode_table(data: &[u8]) -> Option<TableInput<'_>> {
        let (h, text) = data.split_first_chunk::<TABLE_HEAD>()?;
        let nq = usize::from(h[2] % 5);
        let queries = (0..nq).map(|i| (u16::from_le_bytes([h[3 + 3 * i], h[4 + 3 * i]]), h[5 + 3 * i])).collect();
        Some(TableInput { slots: usize::from(u16::from_le_bytes([h[0], h[1]])), queries, text })
    }
    /// Inverse of [`decode_table`].
    pub fn encode_table(t: &TableInput<'_>) -> Option<Vec<u8>> {
        if t.queries.len() > 4 || t.slots > 0xffff {
            return None;
        }
        let mut v = (t.slots as u16).to_le_bytes().to_vec();
        v.push(t.queries.len() as u8);
        for &(line, pos) in &t.queries {
            v.extend(line.to_le_bytes());
            v.push(pos);
        }
        v.resize(TABLE_HEAD, 0);
        v.extend_from_slice(t.text);
        Some(v)
    }

    /// The lines of `text` as `for_each_line` gives them: split at `\n`,
    /// with no empty line after a final `\n` (the targets' reference).
    pub fn lines(text: &[u8]) -> Vec<&[u8]> {
        let mut v: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        if v.last().is_some_and(|l| l.is_empty()) {
            v.pop();
        }
        v
    }
}

/// `x86_64_orc_unwind_stays_in_bounds`: an ORC table over a small text
/// window, an optional change to the lookup table built from it, and an
/// x86_64 unwind input whose pc is folded into the window.
pub mod orc {
    use super::*;

    /// Start of the target's text window (`_stext`).
    pub const TEXT: u64 = 0xffff_ffff_8100_0000;
    /// Its length (`_etext - _stext`).
    pub const TEXT_LEN: u64 = 0x1_0000;
    /// The most table rows a seed carries.
    pub const MAX_ROWS: usize = 64;

    /// A decoded input.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct OrcInput<'a> {
        /// Entries: offset into the window and the 6 bytes of a `struct
        /// orc_entry`.
        pub rows: Vec<(u16, [u8; 6])>,
        /// `orc_lookup[index] = value`, after the lookup table is built.
        pub lookup_patch: Option<(u16, u32)>,
        /// The stack and where the walk starts.
        pub unwind: UnwindInput<'a>,
    }

    /// Row count (1 byte, mod [`MAX_ROWS`] + 1), the rows (offset u16 LE,
    /// 6 entry bytes), the lookup patch (index u16 LE, `0xffff` for none;
    /// value u32 LE), then [`unwind::decode_x86_64`]'s format, the pc taken
    /// modulo [`TEXT_LEN`] into the window.
    pub fn decode(data: &[u8]) -> Option<OrcInput<'_>> {
        let (&n, mut rest) = data.split_first()?;
        let n = usize::from(n) % (MAX_ROWS + 1);
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let (row, r) = rest.split_first_chunk::<8>()?;
            let mut e = [0u8; 6];
            e.copy_from_slice(&row[2..]);
            rows.push((u16::from_le_bytes([row[0], row[1]]), e));
            rest = r;
        }
        let (patch, rest) = rest.split_first_chunk::<6>()?;
        let index = u16::from_le_bytes([patch[0], patch[1]]);
        let lookup_patch =
            (index != 0xffff).then(|| (index, u32::from_le_bytes([patch[2], patch[3], patch[4], patch[5]])));
        let mut unwind = unwind::decode_x86_64(rest)?;
        unwind.regs.pc = TEXT + unwind.regs.pc % TEXT_LEN;
        Some(OrcInput { rows, lookup_patch, unwind })
    }

    /// Inverse of [`decode`].
    pub fn encode(o: &OrcInput<'_>) -> Option<Vec<u8>> {
        if o.rows.len() > MAX_ROWS || !(TEXT..TEXT + TEXT_LEN).contains(&o.unwind.regs.pc) {
            return None;
        }
        let mut v = vec![o.rows.len() as u8];
        for (off, e) in &o.rows {
            v.extend(off.to_le_bytes());
            v.extend(e);
        }
        match o.lookup_patch {
            Some((0xffff, _)) => return None,
            Some((i, w)) => {
                v.extend(i.to_le_bytes());
                v.extend(w.to_le_bytes());
            }
            None => v.extend([0xff, 0xff, 0, 0, 0, 0]),
        }
        v.extend(unwind::encode_x86_64(&o.unwind)?);
        Some(v)
    }
}

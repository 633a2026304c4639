//! Every format's `encode` inverts its `decode`: any bytes a target can
//! decode re-encode to bytes that decode to the same input, and an input
//! that encodes decodes back to itself.

use graft_fuzz_input::kallsyms::{decode_lookup, decode_table, encode_lookup, encode_table, lines};
use graft_fuzz_input::{decode, orc, site, unwind};
use proptest::prelude::*;

/// decode(encode(decode(data))) == decode(data), for one format.
macro_rules! canonical {
    ($name:ident, $dec:path, $enc:path) => {
        proptest! {
            #[test]
            fn $name(data in prop::collection::vec(any::<u8>(), 0..96)) {
                if let Some(x) = $dec(&data) {
                    let bytes = $enc(&x).expect("a decoded input encodes");
                    prop_assert_eq!($dec(&bytes), Some(x));
                }
            }
        }
    };
}

fn enc_le(b: &graft_fuzz_input::Bytes<'_>) -> Option<Vec<u8>> {
    Some(decode::encode_le(b))
}
fn enc_be(b: &graft_fuzz_input::Bytes<'_>) -> Option<Vec<u8>> {
    Some(decode::encode_be(b))
}

canonical!(decode_le, decode::decode_le, enc_le);
canonical!(decode_be, decode::decode_be, enc_be);
canonical!(site_x86_64, site::decode_x86_64, site::encode_x86_64);
canonical!(site_arm64, site::decode_arm64, site::encode_arm64);
canonical!(site_powerpc, site::decode_powerpc, site::encode_powerpc);
canonical!(site_s390, site::decode_s390, site::encode_s390);
canonical!(site_riscv, site::decode_riscv, site::encode_riscv);
canonical!(unwind_x86_64, unwind::decode_x86_64, unwind::encode_x86_64);
canonical!(unwind_arm64, unwind::decode_arm64, unwind::encode_arm64);
canonical!(unwind_powerpc, unwind::decode_powerpc, unwind::encode_powerpc);
canonical!(unwind_s390, unwind::decode_s390, unwind::encode_s390);
canonical!(unwind_riscv, unwind::decode_riscv, unwind::encode_riscv);
canonical!(orc_x86_64, orc::decode, orc::encode);
canonical!(kallsyms_lookup, decode_lookup, encode_lookup);
canonical!(kallsyms_table, decode_table, encode_table);

#[test]
fn short_inputs_do_not_decode() {
    assert!(decode::decode_le(&[0; 7]).is_none());
    assert!(site::decode_x86_64(&[0; 9]).is_none());
    assert!(site::decode_arm64(&[0; 16]).is_none());
    assert!(unwind::decode_x86_64(&[0; 23]).is_none());
    assert!(unwind::decode_arm64(&[0; 33]).is_none());
    assert!(unwind::decode_powerpc(&[0; 15]).is_none());
    assert!(unwind::decode_s390(&[0; 25]).is_none());
    assert!(decode_lookup(&[0; 17]).is_none());
    assert!(decode_table(&[0; 14]).is_none());
}

#[test]
fn what_a_format_cannot_carry_does_not_encode() {
    use graft_core::{Code, SavedRegs, StackAddr, StackBounds, TextAddr};
    use graft_fuzz_input::{SiteInput, UnwindInput};
    let bytes = [0u8; 32];
    // A symbol 200 bytes into the window: past x86's i8 offset.
    let s = SiteInput { code: Code { start: TextAddr(0x1000), bytes: &bytes }, func: TextAddr(0x10c8), recorded: None };
    assert!(site::encode_x86_64(&s).is_none());
    // A record 16 bytes past the symbol: past x86's nibble.
    let s = SiteInput { func: TextAddr(0x1000), recorded: Some(TextAddr(0x1010)), ..s };
    assert!(site::encode_x86_64(&s).is_none());
    // A user-space record on arm64 (top byte even).
    let s = SiteInput { recorded: Some(TextAddr(0x1004)), ..s };
    assert!(site::encode_arm64(&s).is_none());
    // A stack elsewhere than x86's fixed base.
    let b = StackBounds { lo: StackAddr(0x1000), hi: StackAddr(0x1020), final_frame: StackAddr(0x1010) };
    let u = UnwindInput {
        base: 0x1000,
        stack: &bytes,
        regs: SavedRegs { pc: 0, sp: 0x1000, fp: 0, lr: 0 },
        bounds: b,
        cap: 4,
    };
    assert!(unwind::encode_x86_64(&u).is_none());
    // s390: the capacity must be lo's offset mod 33.
    let at = unwind::S390_BASE;
    let b = StackBounds { lo: StackAddr(at), hi: StackAddr(at + 32), final_frame: StackAddr(at) };
    let u = UnwindInput { base: at, bounds: b, regs: SavedRegs { pc: 0, sp: at, fp: 0, lr: 0 }, ..u };
    assert!(unwind::encode_s390(&u).is_none());
    assert!(unwind::encode_s390(&UnwindInput { cap: 0, ..u }).is_some());
}

#[test]
fn lines_drop_only_the_empty_line_after_a_final_newline() {
    assert_eq!(lines(b"a\nb\n"), [&b"a"[..], b"b"]);
    assert_eq!(lines(b"a\n\nb"), [&b"a"[..], b"", b"b"]);
    assert!(lines(b"").is_empty());
    assert_eq!(lines(b"\n"), [&b""[..]]);
}

//! The codec against GNU binutils: every vector file in tests/vectors
//! (written by regen.sh from riscv64-linux-gnu-as and -ld) is encoded,
//! decoded and disassembled by riscv64-linux-gnu-objdump.

use graft_core::{BranchKind, Codec, Insn, TextAddr};
use graft_riscv::{codec, Riscv};
use graft_testkit::{check_vectors, load_vectors, objdump, ArchId};
use std::path::{Path, PathBuf};

fn path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(file)
}

fn check(file: &str, at_least: usize) {
    let n = check_vectors::<Riscv>(ArchId::Riscv, &path(file));
    assert!(n >= at_least, "{file}: only {n} vectors");
}

#[test]
fn nop_vectors() {
    check("nop.txt", 3);
}

#[test]
fn jal_call_vectors() {
    check("jal-call.txt", 14);
}

#[test]
fn jal_jump_vectors() {
    check("jal-jump.txt", 14);
}

/// The compiler's `c.nop`: decoded (2 bytes), never encoded.
#[test]
fn c_nop_vectors() {
    let vs = load_vectors(&path("c-nop.txt"));
    assert!(vs.len() >= 3);
    for v in &vs {
        assert_eq!(v.form, "c.nop", "line {}", v.line);
        assert_eq!(Riscv::decode(TextAddr(v.addr), &v.bytes), Ok(Insn::Nop { len: 2 }), "line {}", v.line);
        let d = objdump(ArchId::Riscv, v.addr, &v.bytes);
        assert_eq!((d.len(), d[0].len, d[0].mnemonic.as_str()), (1, 2, v.mnemonic.as_str()), "line {}", v.line);
    }
}

/// `auipc t0` + `jalr`: encoded by `codec::pair`, decoded as one 8-byte
/// branch, and disassembled by objdump as the two instructions, the second
/// with the pair's target.
fn check_pairs(file: &str, kind: BranchKind, jalr: &str) -> usize {
    let vs = load_vectors(&path(file));
    for v in &vs {
        let at = format!("{file}:{}", v.line);
        let (from, to) = (TextAddr(v.addr), TextAddr(v.target.expect("a target")));
        let enc = codec::encode_pair(kind, from, to).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(enc.as_slice(), &v.bytes[..], "{at}: encoding differs");
        assert_eq!(Riscv::decode(from, &v.bytes), Ok(Insn::Branch { kind, target: to, len: 8 }), "{at}");
        assert_eq!(v.mnemonic, format!("auipc+{jalr}"), "{at}");
        let d = objdump(ArchId::Riscv, v.addr, &v.bytes);
        assert_eq!(d.len(), 2, "{at}: {d:?}");
        assert_eq!((d[0].mnemonic.as_str(), d[0].len, d[0].operands.split(',').next()), ("auipc", 4, Some("t0")));
        assert_eq!((d[1].mnemonic.as_str(), d[1].len, d[1].target), (jalr, 4, v.target), "{at}: {d:?}");
    }
    vs.len()
}

#[test]
fn pair_call_vectors() {
    assert!(check_pairs("pair-call.txt", BranchKind::Call, "jalr") >= 15);
}

#[test]
fn pair_jump_vectors() {
    assert!(check_pairs("pair-jump.txt", BranchKind::Jump, "jr") >= 15);
}

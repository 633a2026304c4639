//! The codec against GNU binutils: every vector file in tests/vectors is
//! encoded, decoded and disassembled by aarch64-linux-gnu-objdump.

use graft_arm64::Arm64;
use graft_testkit::{check_vectors, ArchId};
use std::path::Path;

fn check(file: &str, at_least: usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(file);
    let n = check_vectors::<Arm64>(ArchId::Arm64, &path);
    assert!(n >= at_least, "{file}: only {n} vectors");
}

#[test]
fn nop_vectors() {
    check("nop.txt", 3);
}

#[test]
fn call_vectors() {
    check("call.txt", 16);
}

#[test]
fn jump_vectors() {
    check("jump.txt", 16);
}

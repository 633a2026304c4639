//! The codec against the vector files, each vector cross-checked with GNU objdump.

use graft_powerpc::Powerpc;
use graft_testkit::{check_vectors, ArchId};
use std::path::Path;

fn run(file: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(file);
    check_vectors::<Powerpc>(ArchId::Powerpc, &path)
}

#[test]
fn nop_vectors() {
    assert_eq!(run("nop.txt"), 3);
}

#[test]
fn bl_vectors() {
    assert_eq!(run("bl.txt"), 12);
}

#[test]
fn b_vectors() {
    assert_eq!(run("b.txt"), 12);
}

//! Every encoding the codec produces, cross-checked against GNU objdump.

use graft_s390::S390;
use graft_testkit::{check_vectors, ArchId};
use std::path::Path;

fn run(file: &str) -> usize {
    check_vectors::<S390>(ArchId::S390, &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors").join(file))
}

#[test]
fn nop() {
    assert_eq!(run("nop.txt"), 2);
}

#[test]
fn brasl_call() {
    assert_eq!(run("brasl.txt"), 12);
}

#[test]
fn brcl_jump() {
    assert_eq!(run("brcl.txt"), 12);
}

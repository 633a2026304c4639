//! The codec against the vector files, each line cross-checked with GNU objdump.

use graft_testkit::{check_vectors, ArchId};
use graft_x86_64::X86_64;
use std::path::Path;

#[test]
fn site_vectors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/sites.txt");
    let n = check_vectors::<X86_64>(ArchId::X86_64, &path);
    assert_eq!(n, 23, "every vector line checked");
}

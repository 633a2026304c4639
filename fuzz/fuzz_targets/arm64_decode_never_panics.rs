//! arm64: decoding arbitrary bytes at an arbitrary address never panics, and
//! whatever decodes as a branch encodes back to the same word.
#![no_main]

use graft_arm64::Arm64;
use graft_core::{Codec, Insn};
use graft_fuzz_input::{decode, Bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(Bytes { at, bytes }) = decode::decode_le(data) else { return };
    if let Ok(Insn::Branch { kind, target, .. }) = Arm64::decode(at, bytes) {
        let b = Arm64::encode_branch(kind, at, target).expect("a decoded branch re-encodes");
        assert_eq!(b.as_slice(), &bytes[..4]);
    }
});

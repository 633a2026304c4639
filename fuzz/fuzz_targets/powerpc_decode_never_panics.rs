//! The powerpc decoder never panics, and whatever it decodes re-encodes to the
//! same word.
#![no_main]

use graft_core::{Codec, Insn};
use graft_fuzz_input::{decode, Bytes};
use graft_powerpc::Powerpc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(Bytes { at, bytes }) = decode::decode_le(data) else { return };
    match Powerpc::decode(at, bytes) {
        Ok(Insn::Branch { kind, target, len }) => {
            let enc = Powerpc::encode_branch(kind, at, target).expect("a decoded branch re-encodes");
            assert_eq!(enc.as_slice(), &bytes[..usize::from(len)]);
        }
        Ok(Insn::Nop { len }) => assert_eq!(&bytes[..usize::from(len)], Powerpc::encode_nop().as_slice()),
        Err(_) => {}
    }
});

//! x86_64: decoding arbitrary bytes at an arbitrary address never panics, and
//! whatever decodes re-encodes to the same five bytes.
#![no_main]

use graft_core::{Codec, Insn};
use graft_fuzz_input::{decode, Bytes};
use graft_x86_64::X86_64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(Bytes { at, bytes }) = decode::decode_le(data) else { return };
    match X86_64::decode(at, bytes) {
        Ok(Insn::Branch { kind, target, len }) => {
            assert_eq!(len, 5);
            let b = X86_64::encode_branch(kind, at, target).expect("a decoded branch re-encodes");
            assert_eq!(b.as_slice(), &bytes[..5]);
        }
        Ok(Insn::Nop { len }) => assert_eq!(X86_64::encode_nop().as_slice(), &bytes[..len as usize]),
        Err(_) => {}
    }
});

//! The s390 codec decodes any bytes at any address without panicking, and
//! whatever it accepts re-encodes to the same bytes.
#![no_main]

use graft_core::{Codec, Insn};
use graft_fuzz_input::{decode, Bytes};
use graft_s390::S390;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(Bytes { at, bytes }) = decode::decode_be(data) else { return };
    match S390::decode(at, bytes) {
        Ok(Insn::Branch { kind, target, len }) => {
            let enc = S390::encode_branch(kind, at, target).expect("a decoded branch re-encodes");
            assert_eq!(enc.as_slice(), &bytes[..len as usize]);
        }
        Ok(Insn::Nop { len }) => assert_eq!(&bytes[..2], &[0xc0, 0x04][..], "nop of {len} bytes"),
        Err(_) => {}
    }
    let _ = graft_s390::decode_site_insn(at, bytes);
});

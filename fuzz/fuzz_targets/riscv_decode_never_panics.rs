//! riscv: decoding arbitrary bytes at an arbitrary address never panics, and
//! whatever decodes as a branch encodes back to the same bytes (`jal` as the
//! codec's branch, the `auipc t0`+`jalr` pair as its pair).
#![no_main]

use graft_core::{Codec, Insn};
use graft_fuzz_input::{decode, Bytes};
use graft_riscv::{codec, Riscv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(Bytes { at, bytes }) = decode::decode_le(data) else { return };
    match Riscv::decode(at, bytes) {
        Ok(Insn::Branch { kind, target, len: 4 }) => {
            let b = Riscv::encode_branch(kind, at, target).expect("a decoded jal re-encodes");
            assert_eq!(b.as_slice(), &bytes[..4]);
        }
        Ok(Insn::Branch { kind, target, len }) => {
            assert_eq!(len, 8);
            let b = codec::encode_pair(kind, at, target).expect("a decoded pair re-encodes");
            assert_eq!(b.as_slice(), &bytes[..8]);
        }
        Ok(Insn::Nop { len }) => assert!(len == 2 || len == 4),
        Err(_) => {}
    }
});

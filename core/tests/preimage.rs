//! Pre-images: the masked hash and the mask rules.

use graft_core::preimage::{add, check, hash, Mask, MaskError, MAX_SIZE};

const fn m(offset: u32, len: u32) -> Mask {
    Mask { offset, len }
}

#[test]
fn fnv1a_of_unmasked_bytes() {
    // FNV-1a 64's published test vectors
    assert_eq!(hash(b"", &[]), 0xcbf2_9ce4_8422_2325);
    assert_eq!(hash(b"a", &[]), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(hash(b"foobar", &[]), 0x8594_4171_f739_67e8);
}

#[test]
fn masked_bytes_read_as_zero() {
    let code = [0xe8, 1, 2, 3, 4, 0xc3];
    let zeroed = [0xe8, 0, 0, 0, 0, 0xc3];
    assert_eq!(hash(&code, &[m(1, 4)]), hash(&zeroed, &[]));
    assert_ne!(hash(&code, &[]), hash(&zeroed, &[]));
    // what lies outside every mask still counts
    let other = [0xe9, 9, 9, 9, 9, 0xc3];
    assert_ne!(hash(&code, &[m(1, 4)]), hash(&other, &[m(1, 4)]));
    // several masks, the first byte and the last
    assert_eq!(hash(&code, &[m(0, 1), m(2, 1), m(5, 1)]), hash(&[0, 1, 0, 3, 4, 0], &[]));
}

#[test]
fn masks_must_be_ordered_apart_and_inside() {
    assert_eq!(check(6, &[m(0, 1), m(1, 5)]), Ok(()));
    assert_eq!(check(0, &[]), Err(MaskError::Size));
    assert_eq!(check(MAX_SIZE + 1, &[]), Err(MaskError::Size));
    assert_eq!(check(6, &[m(0, 0)]), Err(MaskError::Mask { index: 0 }));
    assert_eq!(check(6, &[m(2, 2), m(3, 1)]), Err(MaskError::Mask { index: 1 }));
    assert_eq!(check(6, &[m(2, 2), m(0, 1)]), Err(MaskError::Mask { index: 1 }));
    assert_eq!(check(6, &[m(5, 2)]), Err(MaskError::Mask { index: 0 }));
    assert_eq!(check(6, &[m(u32::MAX, 2)]), Err(MaskError::Mask { index: 0 }));
}

#[test]
fn add_keeps_masks_sorted_and_merged() {
    let mut masks = [m(0, 0); 4];
    let mut n = 0;
    assert!(add(&mut masks, &mut n, 100, 10, 4));
    assert!(add(&mut masks, &mut n, 100, 0, 1));
    assert!(add(&mut masks, &mut n, 100, 30, 5));
    assert_eq!(&masks[..n], &[m(0, 1), m(10, 4), m(30, 5)]);
    // overlapping and touching ranges merge, across several masks
    assert!(add(&mut masks, &mut n, 100, 12, 18));
    assert_eq!(&masks[..n], &[m(0, 1), m(10, 25)]);
    assert!(add(&mut masks, &mut n, 100, 1, 2));
    assert_eq!(&masks[..n], &[m(0, 3), m(10, 25)]);
    // clipped to the function; nothing beyond it
    assert!(add(&mut masks, &mut n, 100, 98, 5));
    assert!(add(&mut masks, &mut n, 100, 120, 5));
    assert_eq!(&masks[..n], &[m(0, 3), m(10, 25), m(98, 2)]);
    assert_eq!(check(100, &masks[..n]), Ok(()));
    // full: a separate range is refused, a merging one is taken
    assert!(add(&mut masks, &mut n, 100, 50, 1));
    assert!(!add(&mut masks, &mut n, 100, 60, 1));
    assert!(add(&mut masks, &mut n, 100, 51, 1));
    assert_eq!(&masks[..n], &[m(0, 3), m(10, 25), m(50, 2), m(98, 2)]);
}

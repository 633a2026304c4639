//! graft_core::desc: the rules graft.ko applies to a patch module's names,
//! positions and duplicates, each at its edge.

use graft_core::desc::{
    first_duplicate, module_name, patch_name, release, symbol_name, sympos_key, sympos_ok, NameError, KSYM_NAME_LEN,
    MAX_SYMPOS, MODULE_NAME_LEN, NAME_MAX, UTS_LEN,
};
use proptest::prelude::*;

#[test]
fn limits_are_the_kernels() {
    // include/linux/moduleparam.h on a 64-bit kernel; kallsyms.h; limits.h;
    // utsname.h (graft.ko also checks them against the C headers).
    assert_eq!(MODULE_NAME_LEN, 56);
    assert_eq!(KSYM_NAME_LEN, 512);
    assert_eq!(NAME_MAX, 255);
    assert_eq!(UTS_LEN, 64);
}

#[test]
fn patch_names() {
    for ok in ["graft_sample_cmdline", "a", "x.y", "...", "a-b,c:d", &"n".repeat(NAME_MAX)] {
        assert_eq!(patch_name(ok.as_bytes()), Ok(()), "{ok}");
    }
    assert_eq!(patch_name(b""), Err(NameError::Empty));
    assert_eq!(patch_name("n".repeat(NAME_MAX + 1).as_bytes()), Err(NameError::TooLong { max: NAME_MAX }));
    assert_eq!(patch_name(b"graft/bad"), Err(NameError::Slash));
    assert_eq!(patch_name(b"."), Err(NameError::Dots));
    assert_eq!(patch_name(b".."), Err(NameError::Dots));
    assert_eq!(patch_name(b"a b"), Err(NameError::NotGraphic { at: 1, byte: b' ' }));
    assert_eq!(patch_name(b"ab\x7f"), Err(NameError::NotGraphic { at: 2, byte: 0x7f }));
    assert_eq!(patch_name(b"\xc3\xa9"), Err(NameError::NotGraphic { at: 0, byte: 0xc3 }));
}

#[test]
fn module_names() {
    for ok in ["graft_test_mod", "x", "nf_conntrack", "a.b", &"m".repeat(MODULE_NAME_LEN - 1)] {
        assert_eq!(module_name(ok.as_bytes()), Ok(()), "{ok}");
    }
    assert_eq!(module_name(b""), Err(NameError::Empty));
    assert_eq!(
        module_name("m".repeat(MODULE_NAME_LEN).as_bytes()),
        Err(NameError::TooLong { max: MODULE_NAME_LEN - 1 })
    );
    assert_eq!(module_name(b"graft-test-mod"), Err(NameError::NeverAModule(b'-')));
    assert_eq!(module_name(b"a,b"), Err(NameError::NeverAModule(b',')));
    assert_eq!(module_name(b"a/b"), Err(NameError::Slash));
    assert_eq!(module_name(b"a:b"), Err(NameError::Colon));
    assert_eq!(module_name(b"vmlinux"), Err(NameError::Vmlinux));
    assert_eq!(module_name(b"vmlinux_x"), Ok(()));
    assert_eq!(module_name(b"a\tb"), Err(NameError::NotGraphic { at: 1, byte: b'\t' }));
}

#[test]
fn symbol_names() {
    // gcc's and clang's local clones and Rust's mangled names are names.
    for ok in ["cmdline_proc_show", "foo.constprop.0", "bar.llvm.123456", "_RNvCs1234_5graft3foo", "$x"] {
        assert_eq!(symbol_name(ok.as_bytes()), Ok(()), "{ok}");
    }
    assert_eq!(symbol_name("s".repeat(KSYM_NAME_LEN - 1).as_bytes()), Ok(()));
    assert_eq!(symbol_name("s".repeat(KSYM_NAME_LEN).as_bytes()), Err(NameError::TooLong { max: KSYM_NAME_LEN - 1 }));
    assert_eq!(symbol_name(b""), Err(NameError::Empty));
    assert_eq!(symbol_name(b"graft_test_mod:f"), Err(NameError::Colon));
    assert_eq!(symbol_name(b"cmdline proc"), Err(NameError::NotGraphic { at: 7, byte: b' ' }));
}

#[test]
fn releases() {
    assert_eq!(release(b"7.3.4-graft"), Ok(()));
    assert_eq!(release("r".repeat(UTS_LEN).as_bytes()), Ok(()));
    assert_eq!(release("r".repeat(UTS_LEN + 1).as_bytes()), Err(NameError::TooLong { max: UTS_LEN }));
    assert_eq!(release(b""), Err(NameError::Empty));
    assert_eq!(release(b"7.3\n"), Err(NameError::NotGraphic { at: 3, byte: b'\n' }));
}

#[test]
fn positions() {
    assert!(sympos_ok(0) && sympos_ok(1) && sympos_ok(MAX_SYMPOS));
    assert!(!sympos_ok(MAX_SYMPOS + 1));
    assert!(!sympos_ok(u64::MAX)); // -1
    assert!(!sympos_ok(0xffff_ffff_c000_1000)); // a pointer

    // 0 (unique) and 1 (first) select the same symbol; 2 another.
    assert_eq!(sympos_key(0), sympos_key(1));
    assert_ne!(sympos_key(1), sympos_key(2));
}

#[test]
fn duplicates() {
    let mut none: [(&[u8], usize); 0] = [];
    assert_eq!(first_duplicate(&mut none), None);
    let mut one = [(b"a".as_slice(), 0)];
    assert_eq!(first_duplicate(&mut one), None);
    let mut distinct = [(b"b".as_slice(), 0), (b"a", 1), (b"c", 2)];
    assert_eq!(first_duplicate(&mut distinct), None);
    // the earliest second occurrence, named with its first
    let mut v = [(b"x".as_slice(), 0), (b"y", 1), (b"z", 2), (b"y", 3), (b"x", 4), (b"y", 5)];
    assert_eq!(first_duplicate(&mut v), Some((1, 3)));
    // objects: None is vmlinux
    let mut objs = [(None, 0), (Some(b"m".as_slice()), 1), (None, 2)];
    assert_eq!(first_duplicate(&mut objs), Some((0, 2)));
    // functions: (name, position), 0 and 1 the same
    let mut fs = [((b"f".as_slice(), sympos_key(0)), 0), ((b"f", sympos_key(2)), 1), ((b"f", sympos_key(1)), 2)];
    assert_eq!(first_duplicate(&mut fs), Some((0, 2)));
}

proptest! {
    /// first_duplicate agrees with the quadratic scan it replaces.
    #[test]
    fn duplicate_matches_quadratic(keys in proptest::collection::vec(0u8..12, 0..40)) {
        let want = (0..keys.len()).find_map(|j| (0..j).find(|&i| keys[i] == keys[j]).map(|i| (i, j)));
        let mut items: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
        prop_assert_eq!(first_duplicate(&mut items), want);
    }

    /// Every accepted module or symbol name is printable ASCII without
    /// space and within its bound.
    #[test]
    fn accepted_names_are_bounded_and_graphic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        if module_name(&b).is_ok() {
            prop_assert!(!b.is_empty() && b.len() < MODULE_NAME_LEN && b.iter().all(u8::is_ascii_graphic));
            prop_assert!(!b.contains(&b'-') && !b.contains(&b'/') && !b.contains(&b':'));
        }
        if symbol_name(&b).is_ok() {
            prop_assert!(!b.is_empty() && b.len() < KSYM_NAME_LEN && b.iter().all(u8::is_ascii_graphic));
        }
        if patch_name(&b).is_ok() {
            prop_assert!(!b.is_empty() && b.len() <= NAME_MAX && !b.contains(&b'/'));
        }
    }
}

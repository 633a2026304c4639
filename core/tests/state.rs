//! graft-core's system states (`state`) against upstream livepatch's
//! kernel/livepatch/state.c: the lookups, and `compatible` at its edges and
//! as a property against a characterisation written another way (by the
//! highest installed version of each id, not state by state).

use graft_core::state::{compatible, find, prev, zero_id};
use graft_core::{Incompatible, State};
use proptest::prelude::*;

const fn st(id: u64, version: u32) -> State {
    State { id, version }
}

#[test]
fn find_is_klp_get_state() {
    let s = [st(3, 1), st(1, 2)];
    assert_eq!(find(&s, 1), Some(1));
    assert_eq!(find(&s, 3), Some(0));
    assert_eq!(find(&s, 2), None);
    assert_eq!(find(&[], 1), None);
}

#[test]
fn prev_is_the_latest_installed_holder() {
    let a = [st(1, 1)];
    let b = [st(2, 1)];
    let c = [st(1, 3), st(2, 2)];
    assert_eq!(prev([("a", &a[..]), ("b", &b[..])], 1), Some(("a", 0)));
    assert_eq!(prev([("a", &a[..]), ("b", &b[..]), ("c", &c[..])], 1), Some(("c", 0)));
    assert_eq!(prev([("c", &c[..]), ("b", &b[..])], 2), Some(("b", 0)), "order, not version");
    assert_eq!(prev([("a", &a[..])], 2), None);
    assert_eq!(prev::<&str>([], 1), None);
}

#[test]
fn compatible_follows_klp_is_state_compatible() {
    let v2 = [st(1, 2)];
    // A new state is always fine; an installed one needs an equal or higher
    // version; a replace patch must carry every installed state.
    for replace in [false, true] {
        assert_eq!(compatible(&[st(1, 2)], replace, [("p", &v2[..])]), Ok(()), "equal");
        assert_eq!(compatible(&[st(1, 3)], replace, [("p", &v2[..])]), Ok(()), "higher");
        assert_eq!(
            compatible(&[st(1, 1)], replace, [("p", &v2[..])]),
            Err(Incompatible::Older { id: 1, version: 1, installed: 2, holder: "p" })
        );
        assert_eq!(compatible(&[st(1, 2), st(7, 0)], replace, [("p", &v2[..])]), Ok(()), "a new state");
        assert_eq!(compatible::<&str>(&[], replace, []), Ok(()), "nothing installed");
    }
    assert_eq!(compatible(&[st(7, 1)], false, [("p", &v2[..])]), Ok(()), "non-replace may leave it");
    assert_eq!(
        compatible(&[st(7, 1)], true, [("p", &v2[..])]),
        Err(Incompatible::Dropped { id: 1, installed: 2, holder: "p" })
    );
    // The first refusal in upstream's order: patches, then their states.
    let a = [st(5, 1), st(1, 4)];
    let b = [st(1, 9)];
    assert_eq!(
        compatible(&[st(1, 1)], true, [("a", &a[..]), ("b", &b[..])]),
        Err(Incompatible::Dropped { id: 5, installed: 1, holder: "a" })
    );
    assert_eq!(
        compatible(&[st(1, 1), st(5, 1)], true, [("a", &a[..]), ("b", &b[..])]),
        Err(Incompatible::Older { id: 1, version: 1, installed: 4, holder: "a" })
    );
    assert_eq!(
        compatible(&[st(1, 4), st(5, 1)], false, [("a", &a[..]), ("b", &b[..])]),
        Err(Incompatible::Older { id: 1, version: 4, installed: 9, holder: "b" }),
        "every installed holder counts, not only the latest"
    );
}

#[test]
fn refusals_say_which_state_and_holder() {
    let e = Incompatible::Older { id: 1, version: 1, installed: 2, holder: "graft_test_state2" };
    assert_eq!(
        e.to_string(),
        "graft_test_state2 has state 1 at version 2, this patch at version 1: a state may only be kept at an equal or higher version"
    );
    let d = Incompatible::Dropped { id: 3, installed: 1, holder: 7u32 }.map(|k| k + 1);
    assert_eq!(*d.holder(), 8);
    assert_eq!(
        d.to_string(),
        "8 has state 3 (version 1), which this replace patch does not carry: a cumulative patch must carry every installed state"
    );
}

#[test]
fn zero_id_finds_the_first() {
    assert_eq!(zero_id(&[st(1, 1), st(0, 1), st(0, 2)]), Some(1));
    assert_eq!(zero_id(&[st(1, 0)]), None, "version 0 is a version");
    assert_eq!(zero_id(&[]), None);
}

/// Small ids and versions, so that states meet.
fn states() -> impl Strategy<Value = Vec<State>> {
    prop::collection::btree_map(1u64..6, 0u32..4, 0..4).prop_map(|m| m.into_iter().map(|(id, v)| st(id, v)).collect())
}

proptest! {
    /// Compatible exactly when, for every id installed anywhere, the patch
    /// carries it at least at the highest installed version, or, not being
    /// a replace patch, does not carry it at all.
    #[test]
    fn compatible_is_the_highest_version_rule(
        new in states(),
        replace in any::<bool>(),
        installed in prop::collection::vec(states(), 0..4),
    ) {
        let mut highest = std::collections::BTreeMap::new();
        for s in installed.iter().flatten() {
            let v = highest.entry(s.id).or_insert(s.version);
            *v = (*v).max(s.version);
        }
        let expect = highest.iter().all(|(&id, &v)| match new.iter().find(|s| s.id == id) {
            Some(s) => s.version >= v,
            None => !replace,
        });
        let got = compatible(&new, replace, installed.iter().enumerate().map(|(k, s)| (k, &s[..])));
        prop_assert_eq!(got.is_ok(), expect, "{:?}", got);
        // A refusal names a holder that has the state it names.
        if let Err(e) = got {
            let (id, k) = match e {
                Incompatible::Older { id, holder, .. } | Incompatible::Dropped { id, holder, .. } => (id, holder),
                _ => unreachable!(),
            };
            prop_assert!(installed[k].iter().any(|s| s.id == id));
        }
    }

    /// A replace patch that carries every installed state at its highest
    /// version is compatible, whatever else it adds; lowering any one of
    /// them, or leaving one out, is refused.
    #[test]
    fn carrying_everything_is_enough_and_necessary(
        installed in prop::collection::vec(states(), 1..4),
        extra in 6u64..9,
    ) {
        let mut carry: Vec<State> = Vec::new();
        for s in installed.iter().flatten() {
            match carry.iter_mut().find(|c| c.id == s.id) {
                Some(c) => c.version = c.version.max(s.version),
                None => carry.push(*s),
            }
        }
        let inst = || installed.iter().enumerate().map(|(k, s)| (k, &s[..]));
        let mut with_extra = carry.clone();
        with_extra.push(st(extra, 0));
        prop_assert_eq!(compatible(&with_extra, true, inst()), Ok(()));
        for i in 0..carry.len() {
            let mut less = carry.clone();
            less.remove(i);
            prop_assert!(compatible(&less, true, inst()).is_err(), "left out {:?}", carry[i]);
            if carry[i].version > 0 {
                let mut lower = carry.clone();
                lower[i].version -= 1;
                prop_assert!(compatible(&lower, true, inst()).is_err(), "lowered {:?}", carry[i]);
                prop_assert!(compatible(&lower, false, inst()).is_err(), "lowered, non-replace");
            }
        }
    }

    /// prev() is the last holder in order, and its index names the state.
    #[test]
    fn prev_is_the_last_holder(installed in prop::collection::vec(states(), 0..5), id in 1u64..6) {
        let got = prev(installed.iter().enumerate().map(|(k, s)| (k, &s[..])), id);
        let want = installed.iter().enumerate().rev().find_map(|(k, s)| s.iter().position(|x| x.id == id).map(|i| (k, i)));
        prop_assert_eq!(got, want);
        if let Some((k, i)) = got {
            prop_assert_eq!(installed[k][i].id, id);
        }
    }
}

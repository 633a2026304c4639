//! The table of vmlinux's shared names (graft_core::kallsyms::Collector,
//! DupTable), built from any text into storage of any size: it fails only
//! as it says (too many symbols, none visible), holds exactly the visible
//! vmlinux symbols whose name hash is shared, sorted by (hash, kallsyms
//! order), and answers a name as a scan of the text does, or (a name of
//! one symbol) not at all.
#![no_main]

use graft_core::kallsyms::{name_hash, Collector, DupTable, Entry, Lookup, Symbol, TableError};
use graft_fuzz_input::kallsyms::{decode_table, lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = decode_table(data) else { return };
    let all = lines(input.text);
    let visible: Vec<Symbol> =
        all.iter().filter_map(|l| Symbol::parse(l)).filter(|s| s.module.is_none() && s.addr != 0).collect();
    let mut slots = vec![Entry::default(); input.slots];
    let mut c = Collector::new(&mut slots);
    for l in &all {
        c.line(l);
    }
    assert_eq!(c.seen(), visible.len());
    let kept = match c.finish() {
        Err(TableError::TooMany { seen, cap }) => {
            assert!(seen == visible.len() && cap == input.slots && seen > cap);
            return;
        }
        Err(TableError::Hidden) => {
            assert!(visible.is_empty());
            return;
        }
        Ok((seen, kept)) => {
            assert_eq!(seen, visible.len());
            kept
        }
    };
    let hashes: Vec<u64> = visible.iter().map(|s| name_hash(s.name)).collect();
    let shared = |h: u64| hashes.iter().filter(|&&x| x == h).count() > 1;
    assert_eq!(kept, hashes.iter().filter(|&&h| shared(h)).count());
    let table = DupTable::new(&slots[..kept]).expect("finish sorts");
    for e in table.entries() {
        let s = &visible[e.seq as usize];
        assert_eq!((e.addr, e.hash), (s.addr, hashes[e.seq as usize]));
        assert!(shared(e.hash));
    }
    // A lookup confirms candidates by address: exact when addresses are
    // distinct.
    let mut addrs: Vec<u64> = visible.iter().map(|s| s.addr).collect();
    addrs.sort_unstable();
    addrs.dedup();
    if addrs.len() != visible.len() || all.is_empty() {
        return;
    }
    for &(k, pos) in &input.queries {
        let name = Symbol::parse(all[usize::from(k) % all.len()]).map_or(&b"-"[..], |s| s.name);
        let mut l = Lookup::new(name, u64::from(pos));
        table.lookup(&mut l, |a| visible.iter().any(|s| s.addr == a && s.name == name));
        let mine: Vec<u64> = visible.iter().filter(|s| s.name == name).map(|s| s.addr).collect();
        let mut want = Lookup::new(name, u64::from(pos));
        for &a in &mine {
            want.add(a);
        }
        if mine.len() > 1 {
            assert_eq!(l, want);
        } else {
            assert!(l.count == 0 || l == want, "{l:?} {want:?}");
        }
    }
});

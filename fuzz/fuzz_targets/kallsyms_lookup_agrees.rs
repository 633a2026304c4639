//! /proc/kallsyms read the way graft.ko reads it (graft_core::kallsyms:
//! `for_each_line` over reads of any size into a buffer of any size,
//! `scan_line` into per-object `Lookup`s) agrees with a plain split-and-filter
//! of the whole text, and each lookup's verdict (`check`) with upstream's
//! klp_find_object_symbol() written out as kernel/livepatch/core.c has it.
#![no_main]

use graft_core::kallsyms::{for_each_line, scan_line, LinesError, Lookup, SymError, Symbol};
use graft_fuzz_input::kallsyms::{decode_lookup, lines, upstream_find_object_symbol};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = decode_lookup(data) else { return };
    let all = lines(input.text);
    let parsed: Vec<Option<Symbol>> = all.iter().map(|l| Symbol::parse(l)).collect();
    let line = |k: u16| (!all.is_empty()).then(|| usize::from(k) % all.len());
    let object = match input.object {
        0 => None,
        k => line(k - 1).and_then(|i| parsed[i]).and_then(|s| s.module),
    };
    // A query names the symbol of a line (or the raw line, which rarely
    // matches anything).
    let names: Vec<&[u8]> = input
        .queries
        .iter()
        .map(|&(k, _)| line(k).map_or(&b""[..], |i| parsed[i].map_or(all[i], |s| s.name)))
        .collect();
    let mut lookups: Vec<Lookup> =
        names.iter().zip(&input.queries).map(|(n, &(_, p))| Lookup::new(n, u64::from(p))).collect();

    let mut buf = vec![0u8; input.buf];
    let mut off = 0;
    let r: Result<(), LinesError<()>> = for_each_line(
        &mut buf,
        |b| {
            let n = input.chunk.min(b.len()).min(input.text.len() - off);
            b[..n].copy_from_slice(&input.text[off..off + n]);
            off += n;
            Ok(n)
        },
        |l| scan_line(l, object, &mut lookups),
    );
    let longest = all.iter().map(|l| l.len()).max().unwrap_or(0);
    if longest >= input.buf {
        assert_eq!(r, Err(LinesError::TooLong));
        return;
    }
    assert_eq!(r, Ok(()));
    for l in &lookups {
        let addrs: Vec<u64> =
            parsed.iter().flatten().filter(|s| s.name == l.name && s.module == object).map(|s| s.addr).collect();
        assert_eq!(l.count, addrs.len() as u64);
        let chosen = addrs.get(l.wanted() as usize - 1).copied().unwrap_or(0);
        assert_eq!(l.addr, chosen);
        assert_eq!(l.hidden(), l.count >= l.wanted() && chosen == 0);
        // Upstream cannot tell a hidden address from none: compare where
        // every address is shown.
        if addrs.contains(&0) {
            continue;
        }
        match (l.check(), upstream_find_object_symbol(addrs.iter().copied(), l.sympos)) {
            (Ok(()), Ok(a)) => assert_eq!(l.addr, a),
            (Err(SymError::Ambiguous { count }), Err(SymError::Ambiguous { count: 2 })) => {
                assert_eq!(count, addrs.len() as u64)
            }
            (mine, theirs) => assert_eq!(mine.map(|()| l.addr), theirs),
        }
    }
});

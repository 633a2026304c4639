//! `/proc/kallsyms` and `initstate` parsing (graft_core::kallsyms,
//! graft_core::modstate): the line format as kernel/kallsyms.c s_show()
//! prints it, chunked reading, per-object lookup against upstream
//! livepatch's klp_find_object_symbol() written out literally, and the
//! table of vmlinux's shared names against a plain scan.

use graft_core::kallsyms::{
    for_each_line, name_hash, scan_line, Collector, DupTable, Entry, LinesError, Lookup, SymError, Symbol, TableError,
};
use graft_core::ModuleState;
use proptest::prelude::*;

/// A line as s_show() prints it on a 64-bit kernel.
fn s_show(addr: u64, kind: u8, name: &str, module: Option<&str>) -> String {
    match module {
        Some(m) => format!("{addr:016x} {} {name}\t[{m}]", kind as char),
        None => format!("{addr:016x} {} {name}", kind as char),
    }
}

#[test]
fn parses_vmlinux_and_module_lines() {
    assert_eq!(
        Symbol::parse(b"ffffffff81000000 T _stext"),
        Some(Symbol { addr: 0xffff_ffff_8100_0000, kind: b'T', name: b"_stext", module: None })
    );
    assert_eq!(
        Symbol::parse(b"ffffffffc0201010 t graft_test_dup_func\t[graft_test_dup]"),
        Some(Symbol {
            addr: 0xffff_ffff_c020_1010,
            kind: b't',
            name: b"graft_test_dup_func",
            module: Some(b"graft_test_dup"),
        })
    );
    // kptr_restrict prints zeros; a 32-bit kernel's %px has 8 digits.
    assert_eq!(Symbol::parse(b"0000000000000000 T _stext").map(|s| s.addr), Some(0));
    assert_eq!(Symbol::parse(b"c0001000 T x").map(|s| s.addr), Some(0xc000_1000));
    assert_eq!(Symbol::parse(b"FFFFFFFF81000000 T x").map(|s| s.addr), Some(0xffff_ffff_8100_0000));
    // BPF and ftrace trampolines are listed with a pseudo-module.
    assert_eq!(
        Symbol::parse(b"ffffffffa0000a00 t bpf_prog_6deef7357e7b4530_sd_fw_egress\t[bpf]").and_then(|s| s.module),
        Some(&b"bpf"[..])
    );
}

#[test]
fn refuses_what_s_show_cannot_print() {
    for bad in [
        &b""[..],
        b"ffffffff81000000",
        b"ffffffff81000000 ",
        b"ffffffff81000000 T",
        b"ffffffff81000000 T ",
        b"ffffffff81000000 TT name",
        b"ffffffff81000000  name",
        b" T name",
        b"0x81000000 T name",
        b"+81000000 T name",
        b"fffffffff81000000 T name",
        b"ffffffffg1000000 T name",
        b"ffffffff81000000 T name\t",
        b"ffffffff81000000 T name\t[]",
        b"ffffffff81000000 T name\t[mod",
        b"ffffffff81000000 T name\tmod]",
        b"ffffffff81000000 T name\t[mod]x",
        b"ffffffff81000000 T name\t[mo]d]",
        b"ffffffff81000000 T name\t[m[od]",
        b"ffffffff81000000 T \t[mod]",
        b"ffffffff81000000 T na\0me",
        b"ffffffff81000000 \x01 name",
    ] {
        assert_eq!(Symbol::parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

/// `for_each_line` over `text` read `chunk` bytes at a time through a
/// `cap`-byte buffer: the lines, or the error.
fn lines_of(text: &[u8], cap: usize, chunks: &[usize]) -> Result<Vec<Vec<u8>>, LinesError<()>> {
    let mut buf = vec![0u8; cap];
    let mut off = 0;
    let mut k = 0;
    let mut out = Vec::new();
    for_each_line(
        &mut buf,
        |b| {
            let want = chunks.get(k % chunks.len().max(1)).copied().unwrap_or(usize::MAX).max(1);
            k += 1;
            let n = want.min(b.len()).min(text.len() - off);
            b[..n].copy_from_slice(&text[off..off + n]);
            off += n;
            Ok(n)
        },
        |l| out.push(l.to_vec()),
    )?;
    Ok(out)
}

/// What the lines of `text` are: split at `\n`, no empty line after a
/// final `\n`.
fn split_lines(text: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if v.last().is_some_and(Vec::is_empty) {
        v.pop();
    }
    v
}

#[test]
fn lines_straddle_reads() {
    let text = b"a 1\nbb 22\n\nccc";
    assert_eq!(lines_of(text, 6, &[2]).unwrap(), split_lines(text));
    assert_eq!(lines_of(text, 6, &[2]).unwrap().len(), 4);
    assert_eq!(lines_of(b"", 4, &[1]).unwrap(), Vec::<Vec<u8>>::new());
    assert_eq!(lines_of(b"x\n", 4, &[1]).unwrap(), vec![b"x".to_vec()]);
}

#[test]
fn a_line_longer_than_the_buffer_is_an_error() {
    let mut buf = [0u8; 4];
    let r: Result<(), LinesError<()>> = for_each_line(&mut buf, |b| Ok(b.len()), |_| {});
    assert_eq!(r, Err(LinesError::TooLong));
    // A line needs room for its newline (or the end-of-file read) too.
    assert_eq!(lines_of(b"abc\n", 4, &[9]), Ok(vec![b"abc".to_vec()]));
    assert_eq!(lines_of(b"abcd\n", 4, &[9]), Err(LinesError::TooLong));
    assert_eq!(lines_of(b"abcd", 4, &[9]), Err(LinesError::TooLong));
    let r: Result<(), LinesError<i32>> = for_each_line(&mut buf, |_| Err(-5), |_| {});
    assert_eq!(r, Err(LinesError::Read(-5)));
    let r: Result<(), LinesError<()>> = for_each_line(&mut buf, |b| Ok(b.len() + 1), |_| {});
    assert_eq!(r, Err(LinesError::BadRead));
}

const KALLSYMS: &[u8] = b"\
ffffffff81000000 T _stext
ffffffff81001000 t dup
ffffffff81002000 T uniq
ffffffff81003000 t dup
0000000000000000 t hidden
ffffffffc0000000 t dup\t[m]
ffffffffc0001000 T mfunc\t[m]
ffffffffc0002000 t dup\t[m]
ffffffffc0003000 t dup\t[m2]
ffffffff81004000 d dup
";

fn scan(object: Option<&[u8]>, lookups: &mut [Lookup<'_>]) {
    for line in KALLSYMS.split(|&b| b == b'\n') {
        scan_line(line, object, lookups);
    }
}

#[test]
fn lookups_count_per_object_in_kallsyms_order() {
    let mut l = [Lookup::new(b"dup", 0), Lookup::new(b"dup", 2), Lookup::new(b"dup", 3), Lookup::new(b"uniq", 0)];
    scan(None, &mut l);
    assert_eq!((l[0].count, l[0].addr), (3, 0xffff_ffff_8100_1000));
    assert_eq!(l[0].check(), Err(SymError::Ambiguous { count: 3 }));
    assert_eq!((l[1].addr, l[1].check()), (0xffff_ffff_8100_3000, Ok(())));
    // Every symbol type counts: the data symbol is the third.
    assert_eq!((l[2].addr, l[2].check()), (0xffff_ffff_8100_4000, Ok(())));
    assert_eq!((l[3].count, l[3].addr, l[3].check()), (1, 0xffff_ffff_8100_2000, Ok(())));

    let mut l = [Lookup::new(b"dup", 2), Lookup::new(b"dup", 3), Lookup::new(b"mfunc", 0), Lookup::new(b"x", 1)];
    scan(Some(b"m"), &mut l);
    assert_eq!((l[0].count, l[0].addr, l[0].check()), (2, 0xffff_ffff_c000_2000, Ok(())));
    assert_eq!(l[1].check(), Err(SymError::NoSuchPosition { sympos: 3, count: 2 }));
    assert_eq!(l[1].addr, 0);
    assert!(!l[1].hidden());
    assert_eq!((l[2].addr, l[2].check()), (0xffff_ffff_c000_1000, Ok(())));
    assert_eq!(l[3].check(), Err(SymError::NotFound));
    // A module whose name has another module's as a prefix is another module.
    let mut l = [Lookup::new(b"dup", 0)];
    scan(Some(b"m2"), &mut l);
    assert_eq!((l[0].count, l[0].addr), (1, 0xffff_ffff_c000_3000));
}

#[test]
fn a_hidden_address_is_told_from_an_absent_symbol() {
    let mut l = [Lookup::new(b"hidden", 0), Lookup::new(b"hidden", 2), Lookup::new(b"_stext", 0)];
    scan(None, &mut l);
    assert!(l[0].hidden());
    assert_eq!(l[0].check(), Ok(()));
    assert!(!l[1].hidden());
    assert_eq!(l[1].check(), Err(SymError::NoSuchPosition { sympos: 2, count: 1 }));
    assert!(!l[2].hidden());
}

#[test]
fn fnv1a_64() {
    // The published FNV-1a 64-bit test vectors.
    assert_eq!(name_hash(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(name_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(name_hash(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn the_table_keeps_shared_names_in_kallsyms_order() {
    let mut slots = [Entry::default(); 16];
    let mut c = Collector::new(&mut slots);
    for line in KALLSYMS.split(|&b| b == b'\n') {
        c.line(line);
    }
    assert_eq!(c.seen(), 5); // vmlinux's, with an address
    assert_eq!(c.finish(), Ok((5, 3)));
    let t = DupTable::new(&slots[..3]).expect("sorted");
    assert!(t.entries().iter().all(|e| e.hash == name_hash(b"dup")));
    assert_eq!(t.entries().iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3, 4]);
    let dup = |a: u64| [0xffff_ffff_8100_1000, 0xffff_ffff_8100_3000, 0xffff_ffff_8100_4000].contains(&a);
    let mut l = Lookup::new(b"dup", 2);
    t.lookup(&mut l, dup);
    assert_eq!((l.count, l.addr), (3, 0xffff_ffff_8100_3000));
    // A candidate of the same hash but another name does not count.
    let mut l = Lookup::new(b"dup", 0);
    t.lookup(&mut l, |a| a == 0xffff_ffff_8100_4000);
    assert_eq!((l.count, l.addr), (1, 0xffff_ffff_8100_4000));
    // Unique names are not in the table.
    let mut l = Lookup::new(b"uniq", 0);
    t.lookup(&mut l, |_| true);
    assert_eq!(l.count, 0);
}

#[test]
fn table_errors() {
    let mut slots = [Entry::default(); 2];
    let mut c = Collector::new(&mut slots);
    for line in KALLSYMS.split(|&b| b == b'\n') {
        c.line(line);
    }
    assert_eq!(c.finish(), Err(TableError::TooMany { seen: 5, cap: 2 }));
    let mut c = Collector::new(&mut slots);
    c.line(b"0000000000000000 T _stext");
    c.line(b"ffffffffc0000000 t f\t[m]");
    assert_eq!(c.finish(), Err(TableError::Hidden));
    let e = |hash, seq| Entry { hash, addr: 1, seq };
    assert!(DupTable::new(&[e(1, 0), e(1, 1), e(2, 0)]).is_some());
    assert!(DupTable::new(&[e(2, 0), e(1, 1)]).is_none());
    assert!(DupTable::new(&[e(1, 1), e(1, 1)]).is_none());
    assert!(DupTable::new(&[e(1, 2), e(1, 1)]).is_none());
}

#[test]
fn initstate() {
    assert_eq!(ModuleState::parse(b"live\n"), Some(ModuleState::Live));
    assert_eq!(ModuleState::parse(b"coming\n"), Some(ModuleState::Coming));
    assert_eq!(ModuleState::parse(b"going\n"), Some(ModuleState::Going));
    assert_eq!(ModuleState::parse(b"live"), Some(ModuleState::Live));
    assert!(ModuleState::Live.is_loaded() && ModuleState::Coming.is_loaded() && !ModuleState::Going.is_loaded());
    for bad in [&b""[..], b"\n", b"live\n\n", b"lives\n", b"liv", b"Live\n", b" live\n", b"unknown\n", b"live\0"] {
        assert_eq!(ModuleState::parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

/// One generated symbol: (address, type, name index, object: 0 vmlinux,
/// else module `m<k>`).
type Sym = (u64, u8, usize, usize);

const NAMES: [&str; 6] = ["f", "g", "dup_func", "f2", "__x64_sys_read", "f.cold"];

fn module_name(o: usize) -> Option<String> {
    (o > 0).then(|| format!("m{o}"))
}

fn render(syms: &[Sym]) -> String {
    let mut s = String::new();
    for &(addr, kind, name, obj) in syms {
        s += &s_show(addr, kind, NAMES[name], module_name(obj).as_deref());
        s.push('\n');
    }
    s
}

/// kernel/livepatch/core.c klp_find_callback() and klp_find_object_symbol(),
/// as upstream writes them (stopping early), over the generated symbols.
fn upstream(syms: &[Sym], obj: usize, name: usize, sympos: u64) -> Result<u64, SymError> {
    let addrs = syms.iter().filter(|&&(_, _, n, o)| o == obj && n == name).map(|&(a, _, _, _)| a);
    graft_fuzz_input::kallsyms::upstream_find_object_symbol(addrs, sympos)
}

fn sym() -> impl Strategy<Value = Sym> {
    (1u64.., prop::sample::select(&b"tTdDbBrRwW"[..]), 0..NAMES.len(), 0usize..3)
}

proptest! {
    #[test]
    fn s_show_lines_round_trip(
        addr: u64,
        kind in prop::sample::select(&b"tTdDbBrRaAuUvVwW?"[..]),
        name in "[A-Za-z0-9_.$]{1,40}",
        module in prop::option::of("[a-z0-9_]{1,20}"),
    ) {
        let line = s_show(addr, kind, &name, module.as_deref());
        let s = Symbol::parse(line.as_bytes()).expect("s_show's line parses");
        prop_assert_eq!(s.addr, addr);
        prop_assert_eq!(s.kind, kind);
        prop_assert_eq!(s.name, name.as_bytes());
        prop_assert_eq!(s.module, module.as_deref().map(str::as_bytes));
    }

    #[test]
    fn parse_never_panics_and_returns_parts_of_the_line(line in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Some(s) = Symbol::parse(&line) {
            prop_assert!(!s.name.is_empty() && !s.name.contains(&b'\t'));
            let again = s_show(s.addr, s.kind, std::str::from_utf8(s.name).unwrap_or("x"), None);
            if std::str::from_utf8(s.name).is_ok() {
                prop_assert_eq!(Symbol::parse(again.as_bytes()).map(|t| t.name), Some(s.name));
            }
        }
    }

    #[test]
    fn lines_are_the_text_split_whatever_the_reads(
        text in prop::collection::vec(prop::sample::select(&b"ab \n"[..]), 0..200),
        cap in 1usize..40,
        chunks in prop::collection::vec(1usize..50, 1..8),
    ) {
        let want = split_lines(&text);
        let longest = want.iter().map(Vec::len).max().unwrap_or(0);
        let got = lines_of(&text, cap, &chunks);
        if longest < cap {
            prop_assert_eq!(got, Ok(want));
        } else {
            prop_assert_eq!(got, Err(LinesError::TooLong));
        }
    }

    #[test]
    fn lookup_agrees_with_upstream(
        syms in prop::collection::vec(sym(), 0..40),
        queries in prop::collection::vec((0..NAMES.len(), 0u64..5), 1..8),
        obj in 0usize..3,
    ) {
        let text = render(&syms);
        let mut lookups: Vec<Lookup> = queries.iter().map(|&(n, p)| Lookup::new(NAMES[n].as_bytes(), p)).collect();
        // Through the chunked reader, as the kernel reads the file.
        let object = module_name(obj);
        let mut buf = [0u8; 64];
        let mut off = 0;
        let r: Result<(), LinesError<()>> = for_each_line(
            &mut buf,
            |b| {
                let n = b.len().min(7).min(text.len() - off);
                b[..n].copy_from_slice(&text.as_bytes()[off..off + n]);
                off += n;
                Ok(n)
            },
            |line| scan_line(line, object.as_deref().map(str::as_bytes), &mut lookups),
        );
        prop_assert_eq!(r, Ok(()));
        for (l, &(n, p)) in lookups.iter().zip(&queries) {
            let all: Vec<u64> = syms.iter().filter(|s| s.2 == n && s.3 == obj).map(|s| s.0).collect();
            prop_assert_eq!(l.count, all.len() as u64);
            prop_assert!(!l.hidden());
            match (l.check(), upstream(&syms, obj, n, p)) {
                (Ok(()), Ok(a)) => prop_assert_eq!(l.addr, a),
                (Err(e), Err(u)) => match (e, u) {
                    // Upstream stops counting at the second symbol.
                    (SymError::Ambiguous { count }, SymError::Ambiguous { count: 2 }) => {
                        prop_assert_eq!(count, all.len() as u64)
                    }
                    (e, u) => prop_assert_eq!(e, u),
                },
                (mine, theirs) => prop_assert!(false, "graft {:?}, upstream {:?}", mine, theirs),
            }
        }
    }

    #[test]
    fn the_tables_answer_as_a_scan_does(
        syms in prop::collection::vec(sym(), 1..60),
        queries in prop::collection::vec((0..NAMES.len(), 0u64..5), 1..8),
    ) {
        // Distinct addresses, so the name at an address is known.
        let syms: Vec<Sym> =
            syms.iter().enumerate().map(|(i, &(_, k, n, o))| (0xffff_ffff_8100_0000 + 16 * i as u64, k, n, o)).collect();
        let text = render(&syms);
        let mut slots = vec![Entry::default(); syms.len()];
        let mut c = Collector::new(&mut slots);
        for line in text.lines() {
            c.line(line.as_bytes());
        }
        let vmlinux = syms.iter().filter(|s| s.3 == 0).count();
        let kept = match c.finish() {
            Ok((seen, kept)) => {
                prop_assert_eq!(seen, vmlinux);
                kept
            }
            Err(e) => {
                prop_assert_eq!((e, vmlinux), (TableError::Hidden, 0));
                return Ok(());
            }
        };
        let t = DupTable::new(&slots[..kept]).expect("finish sorts");
        // The same symbols all kept (what graft.ko tables).
        let mut every = vec![Entry::default(); syms.len()];
        let mut c = Collector::new(&mut every);
        for line in text.lines() {
            c.line(line.as_bytes());
        }
        let all = c.finish_all().expect("vmlinux has symbols: finish found some");
        prop_assert_eq!(all.len(), vmlinux);
        let whole = DupTable::new(all).expect("finish_all sorts");
        let name_at = |a: u64| syms.iter().find(|s| s.0 == a).map(|s| s.2);
        for &(n, p) in &queries {
            let mut scanned = [Lookup::new(NAMES[n].as_bytes(), p)];
            for line in text.lines() {
                scan_line(line.as_bytes(), None, &mut scanned);
            }
            // The whole table: unique, shared or absent, the same count and
            // choice as a scan.
            let mut w = Lookup::new(NAMES[n].as_bytes(), p);
            whole.lookup(&mut w, |a| name_at(a) == Some(n));
            prop_assert_eq!(w, scanned[0]);
            // One module's table (graft.ko's cache of a module object's
            // symbols) against a scan of that module.
            let m = module_name(1).expect("module 1");
            let mut of_m = [Lookup::new(NAMES[n].as_bytes(), p)];
            for line in text.lines() {
                scan_line(line.as_bytes(), Some(m.as_bytes()), &mut of_m);
            }
            let mut mslots = vec![Entry::default(); syms.len()];
            let mut c = Collector::new(&mut mslots);
            for line in text.lines() {
                c.line_of(line.as_bytes(), Some(m.as_bytes()));
            }
            let mut l = Lookup::new(NAMES[n].as_bytes(), p);
            match c.finish_all() {
                Ok(all) => DupTable::new(all).expect("sorted").lookup(&mut l, |a| name_at(a) == Some(n)),
                Err(e) => prop_assert_eq!(e, TableError::Hidden, "no symbol of module 1"),
            }
            prop_assert_eq!(l, of_m[0]);
            let mut l = Lookup::new(NAMES[n].as_bytes(), p);
            t.lookup(&mut l, |a| name_at(a) == Some(n));
            if scanned[0].count > 1 {
                prop_assert_eq!(l, scanned[0]);
            } else {
                // Unique or absent: resolved by name, unless its hash is shared.
                prop_assert!(l.count == 0 || l == scanned[0]);
            }
        }
    }

    #[test]
    fn initstate_never_panics(text in prop::collection::vec(any::<u8>(), 0..12)) {
        if let Some(s) = ModuleState::parse(&text) {
            let word: &[u8] = match s {
                ModuleState::Live => b"live",
                ModuleState::Coming => b"coming",
                ModuleState::Going => b"going",
            };
            prop_assert!(text == word || text == [word, b"\n"].concat());
        }
    }
}

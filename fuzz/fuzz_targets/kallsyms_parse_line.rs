//! /proc/kallsyms lines (graft_core::kallsyms::Symbol::parse, which
//! graft.ko runs on every line of the file): parsing any text never panics,
//! a parsed symbol's name holds no tab or NUL and is not empty, and the
//! line s_show() would print for the parsed parts parses back to them.
#![no_main]

use graft_core::kallsyms::Symbol;
use graft_fuzz_input::kallsyms::lines;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in lines(data) {
        let Some(s) = Symbol::parse(line) else { continue };
        assert!(!s.name.is_empty() && !s.name.contains(&b'\t') && !s.name.contains(&0), "{s:?}");
        assert!(s.kind.is_ascii_graphic());
        assert!(s.in_object(s.module));
        let mut again = format!("{:016x} {} ", s.addr, s.kind as char).into_bytes();
        again.extend_from_slice(s.name);
        if let Some(m) = s.module {
            assert!(!m.is_empty() && !m.contains(&b']'));
            again.extend_from_slice(b"\t[");
            again.extend_from_slice(m);
            again.push(b']');
        }
        assert_eq!(Symbol::parse(&again), Some(s));
    }
});

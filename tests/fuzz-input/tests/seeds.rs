//! The seeds mean what they were built from: every synthetic stack,
//! decoded from its seed as its fuzz target decodes it, walks as the
//! builder's own stack does, and the plain sleeping tasks walk to the end
//! (so the unwind targets start past the first frame); site seeds from a
//! compiled object decode to the window, symbol and record graft-inspect
//! found; kallsyms seeds hold real lines and name real, repeated symbols.

#[path = "../examples/seeds/gen.rs"]
mod gen;

use graft_core::kallsyms::{Lookup, Symbol};
use graft_fuzz_input::kallsyms::{decode_lookup, decode_table, lines};
use std::path::Path;

#[test]
fn stack_seeds_walk_as_their_stacks() {
    let stacks = gen::stacks();
    for arch in gen::ARCHES {
        assert!(stacks.iter().filter(|s| s.arch == arch).count() >= 8, "{arch}: too few stacks");
    }
    for s in &stacks {
        let data = gen::encode_stack(s).unwrap_or_else(|| panic!("{} {}: not representable", s.arch, s.name));
        let u = gen::decode_stack(s.arch, &data).expect("decodes");
        assert_eq!((u.regs, u.bounds, u.cap), (s.regs, s.bounds, s.cap), "{} {}", s.arch, s.name);
        let mine = s.walk();
        assert_eq!(gen::walk(s.arch, &u), mine, "{} {}", s.arch, s.name);
        let plain =
            ["sleeping", "kthread", "forked", "realigned", "ftrace-entry"].iter().any(|p| s.name.starts_with(p));
        match mine {
            Ok(frames) if plain => {
                // (powerpc's walk stops at the final frame, whose return
                // address it does not read: one less.)
                let want = s.name.rsplit('-').next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(1);
                assert!(frames.len() + 1 >= want, "{} {}: only {} frames", s.arch, s.name, frames.len());
            }
            Err(_) if !plain => {}
            other => panic!("{} {}: {other:?}", s.arch, s.name),
        }
    }
}

/// The ORC seeds, decoded as their target decodes them, walk to the frames
/// they were laid with (through the tables the target builds).
#[test]
fn orc_seeds_walk_to_their_frames() {
    use graft_fuzz_input::orc::{decode, TEXT, TEXT_LEN};
    use graft_x86_64::orc::{build_lookup, lookup_words, NoModules, Orc, OrcEntry, OrcTable, VmlinuxOrc};
    let seeds = gen::orc_seeds();
    assert!(seeds.len() >= 5);
    for s in &seeds {
        let o = decode(&s.data).expect("decodes");
        let ip_addr = TEXT + 0x200_0000;
        let mut rows: Vec<(u64, [u8; 6])> = o.rows.iter().map(|&(off, e)| (TEXT + u64::from(off), e)).collect();
        rows.insert(0, (TEXT, OrcEntry { sp_offset: 8, sp_reg: 3, kind: 2, ..OrcEntry::default() }.encode()));
        rows.sort_by_key(|r| r.0);
        let ip: Vec<u8> = rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| (r.0.wrapping_sub(ip_addr + 4 * i as u64) as i32).to_le_bytes())
            .collect();
        let un: Vec<u8> = rows.iter().flat_map(|r| r.1).collect();
        let table = OrcTable::new(ip_addr, &ip, &un).unwrap();
        let text = (TEXT, TEXT + TEXT_LEN);
        let mut lookup = vec![0u8; 4 * lookup_words(text)];
        build_lookup(&table, text, &mut lookup).unwrap();
        let orc = Orc {
            vmlinux: VmlinuxOrc { table, lookup: &lookup, text, init_text: (0, 0) },
            modules: &NoModules,
            ret_from_fork: graft_core::TextAddr(TEXT + 0x40),
        };
        let mem = graft_core::SliceMemory { base: o.unwind.base, bytes: o.unwind.stack };
        let mut out = vec![graft_core::TextAddr(0); o.unwind.cap];
        let n = orc
            .unwind_reliable(&o.unwind.regs, o.unwind.bounds, &mem, &graft_fuzz_input::unwind::X86_64Text, &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let got: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
        assert_eq!(got, s.frames, "{}", s.name);
    }
}

#[test]
fn the_deep_stacks_walk_all_their_frames() {
    for s in gen::stacks().iter().filter(|s| s.name == "sleeping-20") {
        let frames = s.walk().unwrap_or_else(|e| panic!("{}: {e}", s.arch));
        assert!(frames.len() >= 19, "{}: {} frames", s.arch, frames.len());
    }
}

#[test]
fn site_seeds_keep_what_inspect_found() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("graft-seeds-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // x86_64 with the host's gcc: present wherever the tests run.
    let objs = gen::compile_objects(&top, &dir);
    let corpus = objs.iter().find(|(n, _)| n.starts_with("x86_64-corpus-")).expect("the x86_64 corpus compiles");
    let report = graft_inspect::sites(&corpus.1).unwrap();
    let seeds = gen::image_seeds("t", &corpus.1, 64);
    let sites: Vec<_> = seeds.iter().filter(|s| s.target == "x86_64_site_analysis_never_panics").collect();
    assert!(sites.len() >= 13, "{} site seeds", sites.len());
    let mut with_record = 0;
    for s in sites {
        let input = gen::decode_site("x86_64", &s.data).expect("decodes");
        let f = report.functions.iter().find(|f| f.address == input.func.0).expect("a function of the object");
        assert_eq!(input.recorded.map(|r| r.0), f.site, "{}", f.function);
        assert!(input.code.bytes.len() >= 16 && input.code.at(input.func).is_some(), "{}", f.function);
        with_record += usize::from(input.recorded.is_some());
    }
    assert!(with_record >= 13, "{with_record} seeds with a record");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kallsyms_seeds_name_repeated_symbols() {
    let vmlinux: Vec<(u64, char, String)> =
        (0..200).map(|i| (0xffff_ffff_8100_0000 + 16 * i, 't', format!("f{}", i % 70))).collect();
    let modules = vec![("m".to_string(), vec![(0x10, 't', "f1".to_string()), (0x20, 'T', "g".to_string())])];
    let text = gen::kallsyms_text(&vmlinux, &modules);
    for l in lines(text.as_bytes()) {
        assert!(Symbol::parse(l).is_some(), "{:?}", String::from_utf8_lossy(l));
    }
    let seeds = gen::kallsyms_seeds("t", &text, 100, 1, 8);
    assert_eq!(seeds.len(), 3 * 3);
    // The two vmlinux windows repeat names: their first query is ambiguous.
    for s in seeds.iter().filter(|s| s.target == "kallsyms_lookup_agrees").take(2) {
        let l = decode_lookup(&s.data).expect("decodes");
        assert_eq!(l.object, 0);
        let all = lines(l.text);
        let (line, pos) = l.queries[0];
        assert_eq!(pos, 0);
        let name = Symbol::parse(all[usize::from(line)]).unwrap().name;
        let mut look = [Lookup::new(name, 0)];
        for x in &all {
            graft_core::kallsyms::scan_line(x, None, &mut look);
        }
        assert!(look[0].count > 1, "the first query is ambiguous");
    }
    // The last window holds the module lines: its lookup looks in the module.
    let last = seeds.iter().rfind(|s| s.target == "kallsyms_lookup_agrees").unwrap();
    let l = decode_lookup(&last.data).unwrap();
    assert_ne!(l.object, 0);
    let t = seeds.iter().find(|s| s.target == "kallsyms_table_agrees").unwrap();
    assert_eq!(decode_table(&t.data).unwrap().slots, 100);
}

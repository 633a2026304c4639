//! `graft-inspect preimage` on real compiler output (x86_64, gcc with the
//! kernel's ftrace flags and -ffunction-sections, as klp-build builds):
//! tests/preimage/orig.c is the original, linked with stubs.c as the
//! kernel's link would resolve it; patch.c a klp-build patch object's
//! description.  The pre-image must mask the relocated fields, the whole
//! ftrace call and the tables' sites, hash the linked copy alike, and
//! refuse a linked copy built from another source.

use graft_core::preimage::{check, hash, Mask};
use graft_inspect::preimage::{patched_funcs, preimage, PatchedFunc, PreimageError};
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::path::{Path, PathBuf};
use std::process::Command;

const FLAGS: &[&str] = &["-pg", "-mfentry", "-mrecord-mcount", "-ffunction-sections", "-fdata-sections"];

fn src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/preimage").join(name)
}

/// Compile `name` (with `defs`) under `tag`, and link it with the stubs.
fn build(tag: &str, defs: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let dir = scratch_dir(&format!("preimage-{tag}"));
    let flags: Vec<&str> = FLAGS.iter().chain(defs).copied().collect();
    let orig = compile(ArchId::X86_64, Cc::Gcc, &flags, &src("orig.c"), &dir);
    let stubs = compile(ArchId::X86_64, Cc::Gcc, &[], &src("stubs.c"), &dir);
    let linked = dir.join("linked");
    let out = Command::new("gcc")
        .args(["-nostdlib", "-static", "-no-pie", "-o"])
        .arg(&linked)
        .arg(&orig)
        .arg(&stubs)
        .output()
        .expect("gcc: run ci/setup.sh");
    assert!(out.status.success(), "link failed: {}", String::from_utf8_lossy(&out.stderr));
    (std::fs::read(orig).unwrap(), std::fs::read(linked).unwrap())
}

fn patch() -> Vec<u8> {
    let obj = compile(ArchId::X86_64, Cc::Gcc, &[], &src("patch.c"), &scratch_dir("preimage-patch"));
    std::fs::read(obj).unwrap()
}

fn target() -> PatchedFunc {
    PatchedFunc { object: None, name: "target".into(), sympos: 0 }
}

/// objdump's relocations of `target` in the object: (offset, symbol).
fn relocs(obj: &[u8]) -> Vec<(u32, String)> {
    let path = scratch_dir("preimage-objdump.o");
    std::fs::write(&path, obj).unwrap();
    let out = Command::new("objdump").args(["-r", "-j", ".text.target"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let off = u32::from_str_radix(w.next()?, 16).ok()?;
            let _kind = w.next()?;
            Some((off, w.next()?.split(['-', '+']).next()?.to_string()))
        })
        .collect()
}

fn covered(masks: &[Mask], offset: u32, len: u32) -> bool {
    masks.iter().any(|m| m.offset <= offset && offset + len <= m.offset + m.len)
}

#[test]
fn the_patch_names_its_functions() {
    assert_eq!(patched_funcs(&patch()).unwrap(), vec![target()]);
    let (orig, _) = build("names", &[]);
    assert_eq!(patched_funcs(&orig), Err(PreimageError::NoKlpFuncs));
    assert!(matches!(patched_funcs(b"\x7fELF garbage"), Err(PreimageError::Elf(_))));
}

#[test]
fn masks_cover_what_the_link_and_the_kernel_change() {
    let (orig, linked) = build("same", &[]);
    let p = preimage(&orig, Some(&linked), &target()).unwrap();
    assert_eq!(check(p.size, &p.masks), Ok(()));
    // every relocated field, as objdump lists them; the ftrace call whole
    let rel = relocs(&orig);
    assert!(rel.iter().any(|(_, s)| s == "helper" || s == ".text.helper"), "{rel:?}");
    assert!(rel.iter().any(|(_, s)| s == "counter"), "{rel:?}");
    for (off, sym) in &rel {
        assert!(covered(&p.masks, *off, 4), "{sym} at {off:#x}: {:?}", p.masks);
        if sym == "__fentry__" {
            assert!(covered(&p.masks, off - 1, 5), "the whole call: {:?}", p.masks);
        }
    }
    // the linked copy, with its fields resolved, hashes the same
    let lf_code = {
        use object::{Object, ObjectSection, ObjectSymbol};
        let f = object::File::parse(&*linked).unwrap();
        let s = f.symbols().find(|s| s.name() == Ok("target")).unwrap();
        let sec = f.section_by_index(s.section_index().unwrap()).unwrap();
        let off = (s.address() - sec.address()) as usize;
        sec.data().unwrap()[off..off + s.size() as usize].to_vec()
    };
    assert_eq!(hash(&lf_code, &p.masks), p.hash);
    // the sealed ENDBR's 4 bytes and the alternative's 5, wherever the
    // compiler put them
    let find = |pat: &[u8]| lf_code.windows(pat.len()).position(|w| w == pat).unwrap() as u32;
    assert!(covered(&p.masks, find(&[0x0f, 0x1f, 0x40, 0x00]), 4), "ENDBR seal: {:?}", p.masks);
    assert!(covered(&p.masks, find(&[0x0f, 0x1f, 0x44, 0x00, 0x00]), 5), "alternative: {:?}", p.masks);
    // and a change outside the masks does not
    let outside = (0..lf_code.len() as u32).find(|&i| !covered(&p.masks, i, 1)).unwrap();
    let mut changed = lf_code.clone();
    changed[outside as usize] ^= 0xff;
    assert_ne!(hash(&changed, &p.masks), p.hash);
    // without the linked copy: the same pre-image
    assert_eq!(preimage(&orig, None, &target()).unwrap(), p);
}

#[test]
fn another_source_is_refused() {
    let (orig, _) = build("orig", &[]);
    let (_, other) = build("other", &["-DOTHER"]);
    assert!(matches!(preimage(&orig, Some(&other), &target()), Err(PreimageError::Linked(_))));
    let none = PatchedFunc { name: "no_such_function".into(), ..target() };
    assert_eq!(preimage(&orig, None, &none), Err(PreimageError::NotFound("no_such_function".into())));
    // the linked original has no second copy
    let second = PatchedFunc { sympos: 2, ..target() };
    let (_, linked) = build("orig", &[]);
    assert!(matches!(preimage(&orig, Some(&linked), &second), Err(PreimageError::Linked(_))));
}

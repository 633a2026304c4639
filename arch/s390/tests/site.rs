//! Entry-site recognition: every form Linux 7.3 leaves at an s390 function
//! entry, on hand-made windows and on real cross-compiler output.

use graft_core::{Code, Direct, DirectCaps, EntrySite, NoDirect, RedirectFlags, SiteError, SiteState, TextAddr};
use graft_s390::site::{FORM_FENTRY, FORM_HOTPATCH_TRAMPOLINE, FORM_UNRELOCATED};
use graft_s390::S390;
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const FUNC: TextAddr = TextAddr(0x12_3400);
/// `lgfr %r2,%r2; br %r14`: a function body after the site.
const BODY: [u8; 6] = [0xb9, 0x14, 0x00, 0x22, 0x07, 0xfe];

fn window(site: [u8; 6]) -> Vec<u8> {
    [&site[..], &BODY[..]].concat()
}

fn analyze(bytes: &[u8], recorded: Option<TextAddr>) -> Result<graft_core::Site, SiteError> {
    S390::analyze_site(Code { start: FUNC, bytes }, FUNC, recorded)
}

fn ril(byte1: u8, from: TextAddr, to: u64) -> [u8; 6] {
    let d = ((to as i64 - from.0 as i64) / 2) as i32;
    let d = d.to_be_bytes();
    [0xc0, byte1, d[0], d[1], d[2], d[3]]
}

#[test]
fn compiler_nop_is_disabled() {
    for recorded in [None, Some(FUNC)] {
        let s = analyze(&window([0xc0, 0x04, 0, 0, 0, 0]), recorded).unwrap();
        assert_eq!((s.func, s.addr, s.len), (FUNC, FUNC, 6));
        assert_eq!(s.state, SiteState::Disabled);
        assert_eq!(s.form, FORM_FENTRY);
    }
}

#[test]
fn brasl_r0_is_enabled() {
    let caller = 0x10_8000;
    let s = analyze(&window(ril(0x05, FUNC, caller)), Some(FUNC)).unwrap();
    assert_eq!(s.state, SiteState::Enabled { target: TextAddr(caller) });
    assert_eq!(s.form, FORM_FENTRY);
    // A module function below the kernel calling up to ftrace_caller.
    let module_func = TextAddr(0x3ff_8000_0000);
    let far = module_func.0 + 0xfff0_0000;
    let bytes = window(ril(0x05, module_func, far));
    let s = S390::analyze_site(Code { start: module_func, bytes: &bytes }, module_func, None).unwrap();
    assert_eq!(s.state, SiteState::Enabled { target: TextAddr(far) });
}

#[test]
fn hotpatch_trampoline_forms() {
    // !cpu_has_seq_insn(): ftrace_init_nop() points the nop at the site's
    // trampoline; ftrace_make_call() flips the mask to 15.
    let tramp = FUNC.0 - 0x4_0000;
    let s = analyze(&window(ril(0x04, FUNC, tramp)), Some(FUNC)).unwrap();
    assert_eq!((s.state, s.form), (SiteState::Disabled, FORM_HOTPATCH_TRAMPOLINE));
    let s = analyze(&window(ril(0xf4, FUNC, tramp)), Some(FUNC)).unwrap();
    assert_eq!((s.state, s.form), (SiteState::Enabled { target: TextAddr(tramp) }, FORM_HOTPATCH_TRAMPOLINE));
}

#[test]
fn unrelocated_fentry_call() {
    // `brasl %r0,__fentry__` in a .o built without -mnop-mcount: the
    // displacement is the relocation's, still zero.
    let s = analyze(&window([0xc0, 0x05, 0, 0, 0, 0]), None).unwrap();
    assert_eq!((s.state, s.form), (SiteState::Unconverted { target: FUNC }, FORM_UNRELOCATED));
}

#[test]
fn uninstrumented_entries_are_refused() {
    let cases: [&[u8]; 6] = [
        // stmg %r14,%r15,136(%r15): a notrace function's prologue.
        &[0xeb, 0xef, 0xf0, 0x88, 0x00, 0x24, 0x07, 0xfe],
        // lgfr %r2,%r2; br %r14
        &BODY,
        // brasl %r14,...: an ordinary call, not the ftrace one.
        &[0xc0, 0xe5, 0x00, 0x00, 0x10, 0x00],
        // brcl 8,...: a conditional jump.
        &[0xc0, 0x84, 0x00, 0x00, 0x10, 0x00],
        // larl %r1,...
        &[0xc0, 0x10, 0x00, 0x00, 0x10, 0x00],
        // jg . would spin forever.
        &[0xc0, 0xf4, 0x00, 0x00, 0x00, 0x00],
    ];
    for c in cases {
        assert_eq!(analyze(c, None), Err(SiteError::NotInstrumented), "{c:02x?}");
        // Recorded as a site but holding none: the record is wrong.
        assert_eq!(analyze(c, Some(FUNC)), Err(SiteError::RecordMismatch(FUNC)), "{c:02x?}");
    }
}

#[test]
fn bad_windows_and_records() {
    assert_eq!(analyze(&[0xc0, 0x04, 0, 0, 0], None), Err(SiteError::Truncated));
    assert_eq!(analyze(&[0xc0], None), Err(SiteError::Truncated));
    assert_eq!(analyze(&[], None), Err(SiteError::Truncated));
    // The window starts after the function.
    let w = window([0xc0, 0x04, 0, 0, 0, 0]);
    assert_eq!(
        S390::analyze_site(Code { start: TextAddr(FUNC.0 + 2), bytes: &w }, FUNC, None),
        Err(SiteError::Truncated)
    );
    let odd = TextAddr(FUNC.0 + 1);
    assert_eq!(S390::analyze_site(Code { start: odd, bytes: &w }, odd, None), Err(SiteError::Misaligned));
    // s390 records the symbol itself: any other record is a mismatch.
    let elsewhere = TextAddr(FUNC.0 + 8);
    assert_eq!(analyze(&w, Some(elsewhere)), Err(SiteError::RecordMismatch(elsewhere)));
}

#[test]
fn call_adjust_and_redirect() {
    assert_eq!(S390::call_adjust(Code { start: FUNC, bytes: &[] }, FUNC, FUNC), Some(FUNC));
    let s = analyze(&window([0xc0, 0x04, 0, 0, 0, 0]), None).unwrap();
    let r = S390::redirect(&s, TextAddr(0x3ff_8000_1000), true);
    assert_eq!((r.ip, r.flags), (TextAddr(0x3ff_8000_1000), RedirectFlags::empty()));
}

// ---------------------------------------------------------------------------
// Real compiler output

fn tool(name: &str) -> String {
    format!("s390x-linux-gnu-{name}")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}; run ci/setup.sh"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The `.text` bytes of `obj` (section offset 0 = address 0).
fn text(obj: &Path) -> Vec<u8> {
    let bin = obj.with_extension("text.bin");
    run(Command::new(tool("objcopy")).args(["-O", "binary", "--only-section=.text"]).arg(obj).arg(&bin));
    std::fs::read(bin).unwrap()
}

/// Functions defined in `.text`, by name.
fn functions(obj: &Path) -> BTreeMap<String, u64> {
    let nm = run(Command::new(tool("nm")).arg("--defined-only").arg(obj));
    nm.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (a, t, n) = (f.next()?, f.next()?, f.next()?);
            matches!(t, "T" | "t").then(|| (n.to_string(), u64::from_str_radix(a, 16).unwrap()))
        })
        .collect()
}

/// The `.text` offsets `__mcount_loc` records (its relocations).
fn mcount_loc(obj: &Path) -> BTreeSet<u64> {
    let rel = run(Command::new(tool("readelf")).arg("-rW").arg(obj));
    let mut in_section = false;
    let mut v = BTreeSet::new();
    for l in rel.lines() {
        if l.starts_with("Relocation section") {
            in_section = l.contains("'.rela__mcount_loc'");
            continue;
        }
        if in_section && l.contains("R_390_64") {
            let addend = l.rsplit('+').next().unwrap().trim();
            assert!(l.contains(".text"), "record not in .text: {l}");
            v.insert(u64::from_str_radix(addend, 16).unwrap());
        }
    }
    v
}

/// The flag lines of `ftrace-flags.txt`.
fn ftrace_flags() -> Vec<(Cc, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ftrace-flags.txt");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (cc, flags) = l.split_once(':').expect("`cc: flags`");
            let cc = match cc.trim() {
                "gcc" => Cc::Gcc,
                "clang" => Cc::Clang,
                c => panic!("unknown compiler {c}"),
            };
            (cc, flags.split_whitespace().map(str::to_string).collect())
        })
        .collect()
}

fn build(cc: Cc, flags: &[String], tag: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/entry.c");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    compile(ArchId::S390, cc, &flags, &src, &scratch_dir(&format!("s390-site-{tag}")))
}

/// Check every function of `obj`; returns how many were checked.
fn check_object(obj: &Path, want: SiteState, form: &str, records: bool) -> usize {
    let text = text(obj);
    let funcs = functions(obj);
    let recorded = mcount_loc(obj);
    let code = Code { start: TextAddr(0), bytes: &text };
    let mut traced = BTreeSet::new();
    for (name, &addr) in &funcs {
        let func = TextAddr(addr);
        let got = S390::analyze_site(code, func, None);
        if name.starts_with("traced_") {
            let s = got.unwrap_or_else(|e| panic!("{}: {name} at {addr:#x}: {e}", obj.display()));
            let want = match want {
                SiteState::Unconverted { .. } => SiteState::Unconverted { target: func },
                w => w,
            };
            assert_eq!((s.state, s.form, s.addr), (want, form, func), "{}: {name}", obj.display());
            // The record, adjusted, names the same site.
            if records {
                let r = S390::call_adjust(code, func, func).expect("identity");
                assert_eq!(S390::analyze_site(code, func, Some(r)), Ok(s), "{name}");
            }
            traced.insert(addr);
        } else {
            assert!(name.starts_with("notrace_"), "unexpected function {name}");
            assert_eq!(got, Err(SiteError::NotInstrumented), "{}: {name}", obj.display());
        }
    }
    assert_eq!(traced.len(), 8, "{}: traced functions {funcs:?}", obj.display());
    if records {
        assert_eq!(recorded, traced, "{}: __mcount_loc records every traced function, only them", obj.display());
    }
    funcs.len()
}

#[test]
fn kernel_flags_give_recognised_sites() {
    let lines = ftrace_flags();
    assert!(lines.iter().any(|(c, _)| *c == Cc::Clang) && lines.iter().any(|(c, _)| *c == Cc::Gcc));
    for (i, (cc, flags)) in lines.iter().enumerate() {
        assert!(flags.iter().any(|f| f == "-mnop-mcount"), "{flags:?}");
        let obj = build(*cc, flags, &format!("kernel-{i}"));
        assert_eq!(check_object(&obj, SiteState::Disabled, FORM_FENTRY, true), 10);
    }
}

#[test]
fn fentry_without_nop_mcount_is_unconverted() {
    // What a .o holds before anything nops `brasl %r0,__fentry__`.
    for (i, (cc, flags)) in ftrace_flags().into_iter().enumerate() {
        let flags: Vec<String> = flags.into_iter().filter(|f| f != "-mnop-mcount").collect();
        let obj = build(cc, &flags, &format!("unconverted-{i}"));
        let u = SiteState::Unconverted { target: TextAddr(0) };
        assert_eq!(check_object(&obj, u, FORM_UNRELOCATED, true), 10);
    }
}

#[test]
fn gcc_hotpatch_fallback_gives_the_same_nop() {
    // arch/s390/Makefile's fallback for compilers without -mfentry -mnop-mcount.
    let flags: Vec<String> = ["-mhotpatch=0,3", "-DCC_USING_HOTPATCH", "-mpacked-stack", "-mbackchain", "-msoft-float"]
        .map(String::from)
        .to_vec();
    let obj = build(Cc::Gcc, &flags, "hotpatch");
    assert_eq!(check_object(&obj, SiteState::Disabled, FORM_FENTRY, false), 10);
}

/// The fast path enters the replacement itself (the direct target takes
/// `ftrace_caller`'s place): any even address the site's `brasl` reaches,
/// and nothing on a kernel without direct calls.
#[test]
fn direct_is_the_replacement_itself() {
    let func = TextAddr(0x0000_0000_0012_3450);
    let site = graft_core::Site { func, addr: func, len: 6, state: SiteState::Disabled, form: FORM_FENTRY };
    let caps = DirectCaps::CALLS;
    let new = TextAddr(0x0000_03ff_8000_1230);
    // module text far above the kernel: out of the brasl's reach
    assert_eq!(S390::direct(&site, new, caps, None), Err(NoDirect::OutOfReach));
    let near = TextAddr(0x0000_0000_8000_1230);
    assert_eq!(S390::direct(&site, near, caps, None), Ok(Direct { addr: near.0, enters: near, tramp: false }));
    assert_eq!(S390::direct(&site, TextAddr(near.0 + 1), caps, None), Err(NoDirect::Unaligned));
    assert_eq!(S390::direct(&site, near, DirectCaps::empty(), None), Err(NoDirect::Kernel));
    // the ends of the reach: ±4 GiB in halfwords
    assert!(S390::direct(&site, TextAddr(func.0 + (1 << 32) - 2), caps, None).is_ok());
    assert_eq!(S390::direct(&site, TextAddr(func.0 + (1 << 32)), caps, None), Err(NoDirect::OutOfReach));
}

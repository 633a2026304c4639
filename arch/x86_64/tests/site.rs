//! Entry-site recognition: every form by hand, then real gcc and clang output
//! compiled with every line of `ftrace-flags.txt`.

use graft_core::{
    BranchKind, Code, Codec, Direct, DirectCaps, EntrySite, NoDirect, Redirect, RedirectFlags, SiteError, SiteState,
    TextAddr,
};
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use graft_x86_64::site::form;
use graft_x86_64::X86_64;
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SymbolKind};
use std::collections::BTreeSet;
use std::path::Path;

const F: u64 = 0xffff_ffff_8120_4d70;
const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
/// `push %rbp; mov %rsp,%rbp`: the body after the site.
const BODY: [u8; 4] = [0x55, 0x48, 0x89, 0xe5];

fn code(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn analyze(bytes: &[u8], recorded: Option<u64>) -> Result<graft_core::Site, SiteError> {
    X86_64::analyze_site(Code { start: TextAddr(F), bytes }, TextAddr(F), recorded.map(TextAddr))
}

#[test]
fn disabled_site_after_endbr() {
    let s = analyze(&code(&[&ENDBR64, &NOP5, &BODY]), None).unwrap();
    assert_eq!((s.func, s.addr, s.len), (TextAddr(F), TextAddr(F + 4), 5));
    assert_eq!((s.state, s.form), (SiteState::Disabled, form::FENTRY_ENDBR));
}

#[test]
fn disabled_site_without_endbr() {
    let s = analyze(&code(&[&NOP5, &BODY]), None).unwrap();
    assert_eq!((s.addr, s.state, s.form), (TextAddr(F), SiteState::Disabled, form::FENTRY));
}

#[test]
fn enabled_call_site() {
    // call ftrace_caller at 0xffffffff81050a40 from F+4.
    let s = analyze(&code(&[&ENDBR64, &[0xe8, 0xc7, 0xbc, 0xe4, 0xff], &BODY]), None).unwrap();
    assert_eq!(s.addr, TextAddr(F + 4));
    assert_eq!(s.state, SiteState::Enabled { target: TextAddr(0xffff_ffff_8105_0a40) });
    let s = analyze(&code(&[&[0xe8, 0xc7, 0xbc, 0xe4, 0xff], &BODY]), None).unwrap();
    assert_eq!(s.state, SiteState::Enabled { target: TextAddr(0xffff_ffff_8105_0a3c) });
}

#[test]
fn enabled_jmp_site() {
    let s = analyze(&code(&[&ENDBR64, &[0xe9, 0xc7, 0xbc, 0xe4, 0xff]]), None).unwrap();
    assert_eq!((s.addr, s.form), (TextAddr(F + 4), form::FENTRY_ENDBR));
    assert_eq!(s.state, SiteState::Enabled { target: TextAddr(0xffff_ffff_8105_0a40) });
}

#[test]
fn unconverted_call_in_an_object() {
    let s = analyze(&code(&[&ENDBR64, &[0xe8, 0, 0, 0, 0], &BODY]), None).unwrap();
    assert_eq!(s.state, SiteState::Unconverted { target: TextAddr(F + 9) });
    let s = analyze(&code(&[&[0xe8, 0, 0, 0, 0], &BODY]), None).unwrap();
    assert_eq!((s.addr, s.state), (TextAddr(F), SiteState::Unconverted { target: TextAddr(F + 5) }));
}

#[test]
fn endbr32_and_sealed_endbr_prefixes() {
    let s = analyze(&code(&[&[0xf3, 0x0f, 0x1e, 0xfb], &NOP5]), None).unwrap();
    assert_eq!((s.addr, s.form), (TextAddr(F + 4), form::FENTRY_ENDBR));
    // apply_seal_endbr() leaves `nopl -42(%rax)` where ENDBR was.
    let s = analyze(&code(&[&[0x0f, 0x1f, 0x40, 0xd6], &NOP5]), None).unwrap();
    assert_eq!((s.addr, s.form, s.state), (TextAddr(F + 4), form::FENTRY_ENDBR_POISON, SiteState::Disabled));
}

#[test]
fn call_padding_before_the_symbol_is_not_a_site() {
    for pad in [vec![0x90u8; 16], vec![0xcc; 16], code(&[&[0xb8, 0x94, 0x07, 0x05, 0x00], &[0x90; 11]])] {
        let bytes = code(&[&pad, &ENDBR64, &NOP5, &BODY]);
        let window = Code { start: TextAddr(F - 16), bytes: &bytes };
        let s = X86_64::analyze_site(window, TextAddr(F), None).unwrap();
        assert_eq!((s.addr, s.state), (TextAddr(F + 4), SiteState::Disabled));
        // A __patchable_function_entries record (the padding) is no site.
        assert_eq!(
            X86_64::analyze_site(window, TextAddr(F), Some(TextAddr(F - 16))),
            Err(SiteError::RecordMismatch(TextAddr(F - 16)))
        );
        // Nor is the padding's own start a function with a site.
        assert_eq!(X86_64::analyze_site(window, TextAddr(F - 16), None), Err(SiteError::NotInstrumented));
    }
}

#[test]
fn recorded_site_must_match() {
    let bytes = code(&[&ENDBR64, &NOP5, &BODY]);
    assert_eq!(analyze(&bytes, Some(F + 4)).unwrap().addr, TextAddr(F + 4));
    for r in [F, F + 1, F + 5, F + 9] {
        assert_eq!(analyze(&bytes, Some(r)), Err(SiteError::RecordMismatch(TextAddr(r))));
    }
    // A record on a function that holds no site.
    assert_eq!(analyze(&code(&[&ENDBR64, &BODY]), Some(F + 4)), Err(SiteError::RecordMismatch(TextAddr(F + 4))));
}

#[test]
fn not_instrumented_functions_are_refused() {
    for bytes in [
        code(&[&ENDBR64, &BODY, &NOP5]),
        code(&[&BODY, &NOP5]),
        // PIC gcc's `call *__fentry__@GOTPCREL(%rip)`: never in the kernel.
        code(&[&ENDBR64, &[0xff, 0x15, 0, 0, 0, 0]]),
        // Another 5-byte nop than the kernel's NOP5.
        code(&[&ENDBR64, &[0x0f, 0x1f, 0x44, 0x00, 0x01]]),
        code(&[&[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00]]),
        // int3 over byte 0 while a patch is in flight: read the site again later.
        code(&[&ENDBR64, &[0xcc, 0x1f, 0x44, 0x00, 0x00]]),
    ] {
        assert_eq!(analyze(&bytes, None), Err(SiteError::NotInstrumented), "{bytes:02x?}");
    }
}

#[test]
fn truncated_windows_are_reported() {
    for bytes in [&[][..], &ENDBR64[..2], &ENDBR64[..], &code(&[&ENDBR64, &NOP5[..4]]), &NOP5[..3], &[0xe8, 0, 0]] {
        assert_eq!(analyze(bytes, None), Err(SiteError::Truncated), "{bytes:02x?}");
    }
    // The function is outside the window.
    let bytes = code(&[&ENDBR64, &NOP5]);
    assert_eq!(
        X86_64::analyze_site(Code { start: TextAddr(F), bytes: &bytes }, TextAddr(F + 100), None),
        Err(SiteError::Truncated)
    );
    assert_eq!(
        X86_64::analyze_site(Code { start: TextAddr(F), bytes: &bytes }, TextAddr(F - 1), None),
        Err(SiteError::Truncated)
    );
}

#[test]
fn vmlinux_cmdline_proc_show() {
    // The first 16 bytes of cmdline_proc_show in a Linux 7.3.4 x86_64 vmlinux
    // built by qemu-images/build-kernel.sh (clang 19, IBT, objtool --mnop).
    let bytes = [0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0x53, 0x48, 0x89];
    let s = analyze(&bytes, Some(F + 4)).unwrap();
    assert_eq!((s.state, s.form), (SiteState::Disabled, form::FENTRY_ENDBR));
}

#[test]
fn call_adjust_and_redirect() {
    let c = graft_core::Code { start: TextAddr(F), bytes: &[] };
    assert_eq!(X86_64::call_adjust(c, TextAddr(F), TextAddr(F + 4)), Some(TextAddr(F + 4)));
    let s = analyze(&code(&[&ENDBR64, &NOP5]), None).unwrap();
    let new = TextAddr(0xffff_ffff_a000_1230);
    assert_eq!(X86_64::redirect(&s, new, true), Redirect { ip: new, flags: RedirectFlags::empty() });
}

/// The fast path is ftrace's jump mode: the replacement with bit 0 set,
/// and the `jmp` ftrace then writes over the site (encoded here as
/// `ftrace_call_replace()` encodes it) is a site the backend reads back as
/// enabled, jumping to the replacement.
#[test]
fn direct_is_a_jump_to_the_replacement() {
    let s = analyze(&code(&[&ENDBR64, &NOP5, &BODY]), None).unwrap();
    let caps = DirectCaps::CALLS | DirectCaps::JMP;
    // a module's text, below the kernel's (the module area is within 2 GiB)
    let new = TextAddr(0xffff_ffff_a000_1230);
    let d = X86_64::direct(&s, new, caps, None).unwrap();
    assert_eq!(d, Direct { addr: new.0 | 1, enters: new, tramp: false });
    let jmp = X86_64::encode_branch(BranchKind::Jump, s.addr, TextAddr(d.addr & !1)).unwrap();
    assert_eq!(jmp.as_slice()[0], 0xe9);
    let after = analyze(&code(&[&ENDBR64, jmp.as_slice(), &BODY]), None).unwrap();
    assert_eq!(after.state, SiteState::Enabled { target: new });
}

/// Without `DYNAMIC_FTRACE_WITH_JMP` (or without direct calls at all) a
/// target with bit 0 set would be called at an odd address: refused.
#[test]
fn direct_needs_the_kernels_jump_mode() {
    let s = analyze(&code(&[&ENDBR64, &NOP5]), None).unwrap();
    let new = TextAddr(0xffff_ffff_a000_1230);
    for caps in [DirectCaps::empty(), DirectCaps::CALLS, DirectCaps::JMP] {
        assert_eq!(X86_64::direct(&s, new, caps, None), Err(NoDirect::Kernel), "{caps:?}");
    }
}

/// Bit 0 of the direct target is the jump mode's flag: an odd replacement
/// (a Rust function the build did not align: seen in the guest, where
/// `ftrace_jmp_get()` then sent calls one byte before it) is refused.
#[test]
fn direct_refuses_an_odd_replacement() {
    let s = analyze(&code(&[&ENDBR64, &NOP5]), None).unwrap();
    let caps = DirectCaps::CALLS | DirectCaps::JMP;
    assert_eq!(X86_64::direct(&s, TextAddr(0xffff_ffff_a003_40bb), caps, None), Err(NoDirect::Unaligned));
    assert!(X86_64::direct(&s, TextAddr(0xffff_ffff_a003_40bc), caps, None).is_ok());
}

/// The reach of the site's `jmp rel32`, measured from its end, to the byte.
#[test]
fn direct_reach_is_the_sites_rel32() {
    // a site in the middle of the address space, so both ends of the reach exist
    let mut s = analyze(&code(&[&ENDBR64, &NOP5]), None).unwrap();
    s.addr = TextAddr(0x4000_0000_0000);
    let caps = DirectCaps::CALLS | DirectCaps::JMP;
    let end = s.addr.0 + 5;
    // the ends of the reach (the site's end is odd, so the far ends are
    // even and odd: the odd ones one byte inside)
    let far = [end + i32::MAX as u64, end - (1u64 << 31)];
    assert_eq!(far.map(|t| t & 1), [0, 1]);
    for t in [far[0], far[1] + 1] {
        assert!(X86_64::direct(&s, TextAddr(t), caps, None).is_ok(), "{t:#x}");
    }
    for t in [far[0] + 2, far[1] - 1] {
        assert_eq!(X86_64::direct(&s, TextAddr(t), caps, None), Err(NoDirect::OutOfReach), "{t:#x}");
    }
}

// ---------------------------------------------------------------------------
// Real compiler output

/// What one compiled object holds.
struct Obj {
    text: Vec<u8>,
    /// Function symbols in .text.
    funcs: Vec<(String, u64)>,
    /// Offsets in .text of relocations against `__fentry__`.
    fentry_relocs: BTreeSet<u64>,
    /// `__mcount_loc` entries (gcc -mrecord-mcount).
    mcount: BTreeSet<u64>,
    /// `__patchable_function_entries` entries (CALL_PADDING).
    patchable: BTreeSet<u64>,
}

fn read_obj(path: &Path) -> Obj {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let text = file.section_by_name(".text").expect(".text");
    assert_eq!(text.address(), 0);
    let text_index = text.index();
    // A record's target: a section symbol of .text, or a symbol in it.
    let record = |target: RelocationTarget, addend: i64| -> Option<u64> {
        let RelocationTarget::Symbol(i) = target else { return None };
        let sym = file.symbol_by_index(i).ok()?;
        (sym.section_index() == Some(text_index)).then(|| sym.address().wrapping_add_signed(addend))
    };
    let records = |name: &str| -> BTreeSet<u64> {
        let mut set = BTreeSet::new();
        for sec in file.sections().filter(|s| s.name() == Ok(name)) {
            for (_, r) in sec.relocations() {
                set.insert(record(r.target(), r.addend()).expect("record into .text"));
            }
        }
        set
    };
    let fentry_relocs = text
        .relocations()
        .filter(|(_, r)| match r.target() {
            RelocationTarget::Symbol(i) => file.symbol_by_index(i).unwrap().name() == Ok("__fentry__"),
            _ => false,
        })
        .map(|(off, _)| off)
        .collect();
    let funcs = file
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.section_index() == Some(text_index))
        .map(|s| (s.name().unwrap().to_string(), s.address()))
        .collect();
    Obj {
        text: text.data().unwrap().to_vec(),
        funcs,
        fentry_relocs,
        mcount: records("__mcount_loc"),
        patchable: records("__patchable_function_entries"),
    }
}

fn flag_lines() -> Vec<(Cc, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ftrace-flags.txt");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap().trim();
            let (cc, flags) = l.split_once(':')?;
            let cc = match cc.trim() {
                "gcc" => Cc::Gcc,
                "clang" => Cc::Clang,
                other => panic!("unknown compiler {other}"),
            };
            Some((cc, flags.split_whitespace().map(String::from).collect()))
        })
        .collect()
}

const TRACED: [&str; 5] = ["entry_leaf", "entry_calls", "entry_static", "entry_varargs", "entry_nocf"];
const NOTRACE: [&str; 2] = ["entry_notrace", "entry_notrace_nocf"];

#[test]
fn compiler_output_for_every_flag_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/entry.c");
    let lines = flag_lines();
    assert!(lines.len() >= 6, "ftrace-flags.txt lists the gcc and clang configurations");
    let mut checked = 0;
    for (i, (cc, flags)) in lines.iter().enumerate() {
        let what = format!("{cc:?} {}", flags.join(" "));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let obj = read_obj(&compile(ArchId::X86_64, *cc, &flags, &src, &scratch_dir(&format!("x86_64-site-{i}"))));
        let code = Code { start: TextAddr(0), bytes: &obj.text };
        let ibt = flags.contains(&"-fcf-protection=branch");
        let padded = flags.iter().any(|f| f.starts_with("-fpatchable-function-entry="));
        let mut sites = BTreeSet::new();
        let names: BTreeSet<&str> = obj.funcs.iter().map(|(n, _)| n.as_str()).collect();
        for name in TRACED.iter().chain(&NOTRACE) {
            assert!(names.contains(name), "{what}: {name} missing from the object");
        }
        for (name, addr) in &obj.funcs {
            let r = X86_64::analyze_site(code, TextAddr(*addr), None);
            if TRACED.contains(&name.as_str()) {
                let s = r.unwrap_or_else(|e| panic!("{what}: {name}: {e}"));
                let want_form = if ibt && name != "entry_nocf" { form::FENTRY_ENDBR } else { form::FENTRY };
                assert_eq!(s.form, want_form, "{what}: {name}");
                assert_eq!(s.state, SiteState::Unconverted { target: TextAddr(s.addr.0 + 5) }, "{what}: {name}");
                assert!(obj.fentry_relocs.contains(&(s.addr.0 + 1)), "{what}: {name}: no __fentry__ relocation");
                sites.insert(s.addr.0);
                // The recorded address, where the compiler records one, agrees.
                if !obj.mcount.is_empty() {
                    assert!(obj.mcount.contains(&s.addr.0), "{what}: {name}: not in __mcount_loc");
                    assert_eq!(X86_64::analyze_site(code, TextAddr(*addr), Some(s.addr)), Ok(s));
                }
            } else {
                // notrace functions and kCFI's __cfi_ preambles (padding).
                assert!(
                    NOTRACE.contains(&name.as_str()) || name.starts_with("__cfi_"),
                    "{what}: unexpected function {name}"
                );
                assert_eq!(r, Err(SiteError::NotInstrumented), "{what}: {name}");
            }
            checked += 1;
        }
        // Every __fentry__ call is a site found, and nothing else is.
        let calls: BTreeSet<u64> = obj.fentry_relocs.iter().map(|o| o - 1).collect();
        assert_eq!(calls, sites, "{what}");
        assert_eq!(sites.len(), TRACED.len(), "{what}");
        if matches!(cc, Cc::Gcc) {
            assert_eq!(obj.mcount, sites, "{what}: __mcount_loc");
        }
        // CALL_PADDING records point before the symbol: never a site.
        assert_eq!(!obj.patchable.is_empty(), padded, "{what}");
        for rec in &obj.patchable {
            let (name, addr) = obj.funcs.iter().find(|(_, a)| *a > *rec && *a - *rec <= 16).expect("padding owner");
            assert_eq!(
                X86_64::analyze_site(code, TextAddr(*addr), Some(TextAddr(*rec))),
                Err(SiteError::RecordMismatch(TextAddr(*rec))),
                "{what}: {name}"
            );
        }
    }
    assert!(checked >= lines.len() * 7);
}

//! Entry-site recognition: every form Linux 7.3 has on arm64 (with and
//! without BTI C, with and without the CALL_OPS literal, compiled / disabled
//! / enabled), refusal of uninstrumented entries, `ftrace_call_adjust()`,
//! and the real compilers' output with the kernel's flags.

use graft_arm64::codec::{movz_w, BRK_KPROBES, BTI_C, MOV_X9_LR, NOP, RET};
use graft_arm64::site::{call_ops_literal, ftrace_get_symaddr, TRAMPOLINE_BTI};
use graft_arm64::{ftrace_call_adjust, Arm64, FtraceConfig};
use graft_core::{
    BranchKind, Code, Codec, Direct, DirectCaps, EntrySite, NoDirect, Redirect, RedirectFlags, Site, SiteError,
    SiteState, TextAddr,
};
use graft_testkit::{compile, objdump, scratch_dir, ArchId, Cc};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const FUNC: u64 = 0xffff_8000_8012_3450; // 8-byte aligned, as CALL_OPS requires
const CALLER: u64 = 0xffff_8000_8001_1000; // ftrace_caller
const STP_FP_LR: u32 = 0xa9bf_7bfd; // stp x29, x30, [sp, #-16]!
const PACIASP: u32 = 0xd503_233f;

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn bl(from: u64, to: u64) -> u32 {
    let b = Arm64::encode_branch(BranchKind::Call, TextAddr(from), TextAddr(to)).unwrap();
    u32::from_le_bytes(b.as_slice().try_into().unwrap())
}

/// A window starting 8 bytes before `FUNC` (the CALL_OPS literal slot).
fn window(pre: [u32; 2], entry: &[u32]) -> Vec<u8> {
    let mut w = bytes(&pre);
    w.extend(bytes(entry));
    w.extend(bytes(&[movz_w(0, 1), RET]));
    w
}

fn analyze(w: &[u8], recorded: Option<u64>) -> Result<graft_core::Site, SiteError> {
    let code = Code { start: TextAddr(FUNC - 8), bytes: w };
    Arm64::analyze_site(code, TextAddr(FUNC), recorded.map(TextAddr))
}

/// Every (pre-symbol words, BTI, state) combination the kernel produces.
#[test]
fn every_form_is_recognised() {
    let literal = 0xffff_8000_8200_1230u64; // &ftrace_nop_ops, written by ftrace_rec_set_ops()
    let pres = [
        [NOP, NOP],                               // CALL_OPS, as compiled
        [literal as u32, (literal >> 32) as u32], // CALL_OPS, literal written
        [RET, NOP],                               // no CALL_OPS: previous function's end
    ];
    let mut n = 0;
    for pre in pres {
        for bti in [false, true] {
            let site = FUNC + 4 + 4 * u64::from(bti);
            let head: &[u32] = if bti { &[BTI_C] } else { &[] };
            let form = if bti { "pfe+bti" } else { "pfe" };
            for (slots, state) in [
                ([NOP, NOP], SiteState::Unconverted { target: TextAddr(0) }),
                ([MOV_X9_LR, NOP], SiteState::Disabled),
                ([MOV_X9_LR, bl(site, CALLER)], SiteState::Enabled { target: TextAddr(CALLER) }),
                ([MOV_X9_LR, bl(site, site + 0x7ff_fffc)], SiteState::Enabled { target: TextAddr(site + 0x7ff_fffc) }),
                ([MOV_X9_LR, bl(site, site - 0x800_0000)], SiteState::Enabled { target: TextAddr(site - 0x800_0000) }),
            ] {
                let entry: Vec<u32> = head.iter().chain(slots.iter()).copied().collect();
                let w = window(pre, &entry);
                for recorded in [None, Some(site)] {
                    let s = analyze(&w, recorded).unwrap_or_else(|e| panic!("{pre:x?} {entry:x?}: {e}"));
                    assert_eq!(
                        (s.func, s.addr, s.len, s.state, s.form),
                        (TextAddr(FUNC), TextAddr(site), 4, state, form)
                    );
                    n += 1;
                }
                // A record elsewhere (e.g. the MOV slot, or rec->ip of the
                // other BTI layout) is a mismatch, not a guess.
                for wrong in [site - 4, site + 4, FUNC] {
                    assert_eq!(analyze(&w, Some(wrong)), Err(SiteError::RecordMismatch(TextAddr(wrong))));
                }
            }
        }
    }
    assert_eq!(n, 60);
}

/// A kprobe on the symbol is a BRK over the MOV X9, X30 slot, or over the
/// BTI C before it (arm64 kprobes are breakpoints, not ftrace users): the
/// site is found from the toggled word, and never called unconverted.
#[test]
fn kprobe_breakpoints_at_the_entry() {
    // (entry words, site, form)
    let layouts: [(&[u32], u64, &str); 3] = [
        (&[BRK_KPROBES], FUNC + 4, "pfe+kprobe"),                // kprobe on the MOV
        (&[BRK_KPROBES, MOV_X9_LR], FUNC + 8, "pfe+bti+kprobe"), // kprobe on the BTI C
        (&[BTI_C, BRK_KPROBES], FUNC + 8, "pfe+bti+kprobe"),     // kprobe on the MOV after BTI C
    ];
    let mut n = 0;
    for (head, site, form) in layouts {
        for (toggled, state) in
            [(NOP, SiteState::Disabled), (bl(site, CALLER), SiteState::Enabled { target: TextAddr(CALLER) })]
        {
            let entry: Vec<u32> = head.iter().copied().chain([toggled]).collect();
            let w = window([NOP, NOP], &entry);
            for recorded in [None, Some(site)] {
                let s = analyze(&w, recorded).unwrap_or_else(|e| panic!("{entry:x?}: {e}"));
                assert_eq!((s.addr, s.state, s.form), (TextAddr(site), state, form), "{entry:x?}");
                n += 1;
            }
            assert_eq!(analyze(&w, Some(site + 4)), Err(SiteError::RecordMismatch(TextAddr(site + 4))));
        }
    }
    assert_eq!(n, 12);
    // Only kprobes' BRK, and only with a site word after it.
    let kgdb_brk = 0xd420_0000 | (0x400 << 5);
    let cases: &[&[u32]] = &[
        &[kgdb_brk, NOP, RET],                // another BRK
        &[BRK_KPROBES, BRK_KPROBES, NOP],     // two breakpoints
        &[BRK_KPROBES, 0x1400_0010, RET],     // B: ftrace never writes one
        &[BRK_KPROBES, STP_FP_LR, RET],       // a kprobe on an uninstrumented entry
        &[BRK_KPROBES, MOV_X9_LR, MOV_X9_LR], // BTI's BRK, then no site word
        &[BTI_C, BRK_KPROBES, STP_FP_LR],     // BTI, kprobe, no site word
    ];
    for entry in cases {
        let w = window([NOP, NOP], entry);
        assert_eq!(analyze(&w, None), Err(SiteError::NotInstrumented), "{entry:x?}");
    }
}

#[test]
fn window_without_pre_symbol_bytes() {
    // The site lies after the symbol: a window starting at it suffices.
    let w = bytes(&[MOV_X9_LR, NOP, RET]);
    let s = Arm64::analyze_site(Code { start: TextAddr(FUNC), bytes: &w }, TextAddr(FUNC), None).unwrap();
    assert_eq!((s.addr, s.state), (TextAddr(FUNC + 4), SiteState::Disabled));
}

#[test]
fn uninstrumented_entries_are_refused() {
    let cases: &[&[u32]] = &[
        &[STP_FP_LR, 0x9100_03fd],         // stp x29, x30, [sp, #-16]!; mov x29, sp
        &[PACIASP, STP_FP_LR],             // pac-ret without pfe
        &[BTI_C, PACIASP, STP_FP_LR],      // BTI, then no pfe (notrace + bti)
        &[BTI_C, movz_w(0, 3), RET],       // notrace leaf with BTI
        &[movz_w(0, 3), RET, NOP],         // a leaf
        &[NOP, bl(FUNC + 4, CALLER), RET], // BL without ftrace_init_nop()'s MOV
        &[MOV_X9_LR, 0x1400_0010, RET],    // B: ftrace never writes one
        &[MOV_X9_LR, MOV_X9_LR, RET],      // not a site word
        &[MOV_X9_LR, 0xd503_241f, RET],    // BTI where the site should be
        &[BTI_C, BTI_C, NOP, NOP],         // two BTIs
    ];
    for entry in cases {
        let w = window([NOP, NOP], entry);
        assert_eq!(analyze(&w, None), Err(SiteError::NotInstrumented), "{entry:x?}");
        // With a record, the same code is a record mismatch.
        let r = FUNC + 4;
        assert_eq!(analyze(&w, Some(r)), Err(SiteError::RecordMismatch(TextAddr(r))), "{entry:x?}");
    }
}

#[test]
fn truncated_and_misaligned() {
    let full = window([NOP, NOP], &[BTI_C, MOV_X9_LR, NOP]);
    // Cut anywhere before the end of the toggled word (window starts at FUNC-8).
    for cut in 0..8 + 12 {
        assert_eq!(analyze(&full[..cut], None), Err(SiteError::Truncated), "cut {cut}");
    }
    assert!(analyze(&full[..8 + 12], None).is_ok());
    // A window that starts after the symbol.
    let code = Code { start: TextAddr(FUNC + 4), bytes: &full[12..] };
    assert_eq!(Arm64::analyze_site(code, TextAddr(FUNC), None), Err(SiteError::Truncated));
    for off in 1..4 {
        let code = Code { start: TextAddr(FUNC - 8), bytes: &full };
        assert_eq!(Arm64::analyze_site(code, TextAddr(FUNC + off), None), Err(SiteError::Misaligned));
    }
}

#[test]
fn call_adjust_mirrors_the_kernel() {
    let with_bti = window([NOP, NOP], &[BTI_C, NOP, NOP]);
    let no_bti = window([NOP, NOP], &[NOP, NOP]);
    let rec = TextAddr(FUNC - 8);
    let cfgs = [
        (FtraceConfig::CALL_OPS, &no_bti, rec, FUNC + 4),
        (FtraceConfig::all(), &no_bti, rec, FUNC + 4),
        (FtraceConfig::all(), &with_bti, rec, FUNC + 8),
        // A BTI in a kernel built without BTI is not skipped (as in the kernel).
        (FtraceConfig::CALL_OPS, &with_bti, rec, FUNC + 4),
        // Without CALL_OPS the record is the first NOP after any BTI.
        (FtraceConfig::empty(), &no_bti, TextAddr(FUNC), FUNC + 4),
        (FtraceConfig::BTI_KERNEL, &with_bti, TextAddr(FUNC + 4), FUNC + 8),
    ];
    for (cfg, w, recorded, ip) in cfgs {
        assert_eq!(ftrace_call_adjust(cfg, code(w), recorded), Some(TextAddr(ip)), "{cfg:?}");
        // arch_ftrace_get_symaddr() inverts it, except that without CALL_OPS
        // it takes the MOV slot for the symbol even after a BTI.
        let bti = w[8..12] == BTI_C.to_le_bytes();
        let sym = if !cfg.contains(FtraceConfig::CALL_OPS) && bti { FUNC + 4 } else { FUNC };
        assert_eq!(ftrace_get_symaddr(cfg, code(w), TextAddr(ip)), Some(TextAddr(sym)), "{cfg:?}");
        // ftrace_rec_set_ops()'s literal is the 8 bytes before the symbol.
        assert_eq!(call_ops_literal(TextAddr(ip)), Some(TextAddr(FUNC - 8)));
    }
    // A misaligned CALL_OPS record: the kernel warns and returns 0.
    let cfg = FtraceConfig::GRAFT;
    assert_eq!(ftrace_call_adjust(cfg, code(&no_bti), TextAddr(FUNC - 4)), None);
    assert_eq!(Arm64::call_adjust(code(&no_bti), TextAddr(FUNC), TextAddr(FUNC - 4)), None);
    // The trait's version reads the configuration from the data.
    assert_eq!(Arm64::call_adjust(code(&no_bti), TextAddr(FUNC), rec), Some(TextAddr(FUNC + 4)));
    // BTI with CALL_OPS needs the code: without it, no answer.
    let empty = Code { start: rec, bytes: &[] };
    assert_eq!(ftrace_call_adjust(FtraceConfig::all(), empty, rec), None);
}

/// `w` as the window from `FUNC - 8`.
fn code(w: &[u8]) -> Code<'_> {
    Code { start: TextAddr(FUNC - 8), bytes: w }
}

#[test]
fn redirect_sets_only_the_pc() {
    let w = window([NOP, NOP], &[MOV_X9_LR, NOP]);
    let site = analyze(&w, None).unwrap();
    let new = TextAddr(0xffff_8000_0100_0000);
    for module in [false, true] {
        assert_eq!(Arm64::redirect(&site, new, module), Redirect { ip: new, flags: RedirectFlags::empty() });
    }
}

#[test]
fn entry_words_disassemble_as_named() {
    for (w, want) in [
        (NOP, "nop"),
        (MOV_X9_LR, "mov\tx9, x30"),
        (BTI_C, "bti\tc"),
        (RET, "ret"),
        (BRK_KPROBES, "brk	#0x4"),
        (movz_w(0, 0x2e7), "mov\tw0, #0x2e7\t// #743"),
    ] {
        let d = objdump(ArchId::Arm64, 0x1000, &w.to_le_bytes());
        let got = if d[0].operands.is_empty() {
            d[0].mnemonic.clone()
        } else {
            format!("{}\t{}", d[0].mnemonic, d[0].operands)
        };
        assert_eq!(got.split_whitespace().collect::<Vec<_>>(), want.split_whitespace().collect::<Vec<_>>(), "{w:#x}");
    }
}

// ---------------------------------------------------------------------------
// Real compiler output.

struct Object {
    text: Vec<u8>,
    /// Function symbols in .text: name -> offset.
    funcs: BTreeMap<String, u64>,
    /// Offsets recorded in __patchable_function_entries.
    records: Vec<u64>,
}

fn tool(name: &str, args: &[&str], obj: &Path) -> String {
    let out = Command::new(name).args(args).arg(obj).output().unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(out.status.success(), "{name} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn read_object(obj: &Path) -> Object {
    let bin = obj.with_extension("text.bin");
    let st = Command::new("aarch64-linux-gnu-objcopy")
        .args(["-O", "binary", "--only-section=.text"])
        .arg(obj)
        .arg(&bin)
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read(&bin).unwrap();
    let mut funcs = BTreeMap::new();
    for line in tool("aarch64-linux-gnu-nm", &["--defined-only"], obj).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 3 && (f[1] == "T" || f[1] == "t") && !f[2].starts_with(".L") {
            funcs.insert(f[2].to_string(), u64::from_str_radix(f[0], 16).unwrap());
        }
    }
    let mut records = Vec::new();
    let mut in_pfe = false;
    for line in tool("aarch64-linux-gnu-readelf", &["-rW"], obj).lines() {
        if line.starts_with("Relocation section") {
            in_pfe = line.contains("'.rela__patchable_function_entries'");
            continue;
        }
        if in_pfe && line.contains("R_AARCH64_ABS64") {
            let (sym, add) = line.rsplit_once(" + ").expect("symbol + addend");
            assert!(sym.trim_end().ends_with(".text"), "record against {sym}");
            records.push(u64::from_str_radix(add.trim(), 16).unwrap());
        }
    }
    Object { text, funcs, records }
}

/// The lines of ftrace-flags.txt as (compiler, flags).
fn flag_lines() -> Vec<(Cc, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ftrace-flags.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut v = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (cc, flags) = line.split_once(':').expect("`cc: flags`");
        let cc = match cc.trim() {
            "gcc" => Cc::Gcc,
            "clang" => Cc::Clang,
            other => panic!("unknown compiler {other}"),
        };
        v.push((cc, flags.split_whitespace().map(String::from).collect()));
    }
    v
}

#[test]
fn compiled_entries_with_kernel_flags() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/entries.c");
    let lines = flag_lines();
    assert!(lines.len() >= 4);
    let mut checked = 0;
    for (i, (cc, flags)) in lines.iter().enumerate() {
        let call_ops = flags.iter().any(|f| f == "-fpatchable-function-entry=4,2");
        let bti_kernel = flags.iter().any(|f| f.contains("bti"));
        let mut cfg = FtraceConfig::empty();
        cfg.set(FtraceConfig::CALL_OPS, call_ops);
        cfg.set(FtraceConfig::BTI_KERNEL, bti_kernel);
        let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let obj = compile(ArchId::Arm64, *cc, &flag_refs, &src, &scratch_dir(&format!("arm64-site-{i}")));
        let o = read_object(&obj);
        let at = format!("{cc:?} {flags:?}");
        // Place .text at a kernel-like address.
        let base = 0xffff_8000_8010_0000u64;
        let code = Code { start: TextAddr(base), bytes: &o.text };
        let sites: Vec<u64> =
            o.records.iter().map(|&r| ftrace_call_adjust(cfg, code, TextAddr(base + r)).expect(&at).0).collect();
        assert!(o.funcs.len() >= 9, "{at}: {:?}", o.funcs);
        for (name, &off) in &o.funcs {
            let func = TextAddr(base + off);
            let got = Arm64::analyze_site(code, func, None);
            if name.starts_with("notrace_") {
                assert_eq!(got, Err(SiteError::NotInstrumented), "{at}: {name}");
                continue;
            }
            let site = got.unwrap_or_else(|e| panic!("{at}: {name}: {e}"));
            assert_eq!(site.state, SiteState::Unconverted { target: TextAddr(0) }, "{at}: {name}");
            assert_eq!(site.form, if bti_kernel { "pfe+bti" } else { "pfe" }, "{at}: {name}");
            // Exactly one record, adjusted as the kernel does, names this site.
            assert_eq!(sites.iter().filter(|&&s| s == site.addr.0).count(), 1, "{at}: {name}");
            assert_eq!(Arm64::analyze_site(code, func, Some(site.addr)), Ok(site), "{at}: {name}");
            // arch_ftrace_get_symaddr() assumes the symbol is at the MOV slot
            // when there is no CALL_OPS; compilers put it at the BTI, so a
            // BTI kernel without CALL_OPS gets func + 4 (mirrored as is).
            let symaddr = if !call_ops && bti_kernel { func.0 + 4 } else { func.0 };
            assert_eq!(ftrace_get_symaddr(cfg, code, site.addr), Some(TextAddr(symaddr)), "{at}: {name}");
            if call_ops {
                let lit = call_ops_literal(site.addr).unwrap();
                assert_eq!(lit.0 + 8, func.0, "{at}: {name}: literal not right before the symbol");
                assert!(lit.is_aligned(8), "{at}: {name}: literal misaligned");
                // The trait's version reads the configuration from the data.
                assert_eq!(Arm64::call_adjust(code, func, lit), Some(site.addr), "{at}: {name}");
            }
            // What ftrace_init_nop() and ftrace_make_call() then write.
            let mut text = o.text.clone();
            let slot0 = (site.addr.0 - 4 - base) as usize;
            text[slot0..slot0 + 4].copy_from_slice(&MOV_X9_LR.to_le_bytes());
            let live = Code { start: TextAddr(base), bytes: &text };
            assert_eq!(Arm64::analyze_site(live, func, Some(site.addr)).unwrap().state, SiteState::Disabled);
            let call = bl(site.addr.0, CALLER);
            let s = (site.addr.0 - base) as usize;
            text[s..s + 4].copy_from_slice(&call.to_le_bytes());
            let live = Code { start: TextAddr(base), bytes: &text };
            assert_eq!(
                Arm64::analyze_site(live, func, Some(site.addr)).unwrap().state,
                SiteState::Enabled { target: TextAddr(CALLER) }
            );
            checked += 1;
        }
        // Every record belongs to a recognised function.
        assert_eq!(sites.len(), o.funcs.keys().filter(|n| !n.starts_with("notrace_")).count(), "{at}");
    }
    assert!(checked >= 6 * lines.len(), "{checked}");
}

/// The fast path enters a trampoline (the replacement would return into
/// the original function): at its `BTI C` where the kernel guards module
/// text, one word later where it does not; never without a trampoline or
/// the kernel's direct calls.
#[test]
fn direct_enters_a_trampoline() {
    let site = Site {
        func: TextAddr(0xffff_8000_8012_3400),
        addr: TextAddr(0xffff_8000_8012_3408),
        len: 4,
        state: SiteState::Enabled { target: TextAddr(0xffff_8000_8001_0000) },
        form: "pfe+bti",
    };
    let (new, tramp) = (TextAddr(0xffff_8000_7a01_2340), TextAddr(0xffff_8000_7a00_1000));
    let caps = DirectCaps::CALLS;
    let plain = TextAddr(tramp.0 + TRAMPOLINE_BTI);
    assert_eq!(Arm64::direct(&site, new, caps, Some(tramp)), Ok(Direct { addr: plain.0, enters: plain, tramp: true }));
    let bti = caps | DirectCaps::BTI;
    assert_eq!(Arm64::direct(&site, new, bti, Some(tramp)), Ok(Direct { addr: tramp.0, enters: tramp, tramp: true }));
    assert_eq!(Arm64::direct(&site, new, caps, None), Err(NoDirect::NoTrampoline));
    assert_eq!(Arm64::direct(&site, new, DirectCaps::BTI, Some(tramp)), Err(NoDirect::Kernel));
    assert_eq!(Arm64::direct(&site, TextAddr(new.0 + 2), caps, Some(tramp)), Err(NoDirect::Unaligned));
    assert_eq!(Arm64::direct(&site, new, caps, Some(TextAddr(tramp.0 + 2))), Err(NoDirect::Unaligned));
    // Out of the site's BL reach: ftrace enters through ftrace_caller's
    // BR X17 instead, which the trampoline takes as well.
    let far = TextAddr(site.addr.0 - (1 << 31));
    assert!(Arm64::direct(&site, new, caps, Some(far)).is_ok());
}

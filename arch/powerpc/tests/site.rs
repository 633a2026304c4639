//! Entry-site recognition: every form Linux 7.3 produces on ppc64le, synthetic
//! and from the real cross compiler with the kernel's ftrace flags.

use graft_core::{BranchKind, Code, Codec, EntrySite, RedirectFlags, Site, SiteError, SiteState, TextAddr};
use graft_powerpc::codec::op;
use graft_powerpc::{local_entry, GlobalEntry, Powerpc};
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const FUNC: u64 = 0xc000_0000_0012_3400;
const FTRACE_CALLER: u64 = 0xc000_0000_0001_0000;
const STUB: u64 = 0xc000_0000_0110_0000;
const LI_R3_1: u32 = 0x3860_0001;

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn branch(kind: BranchKind, from: u64, to: u64) -> u32 {
    let b = Powerpc::encode_branch(kind, TextAddr(from), TextAddr(to)).unwrap();
    u32::from_le_bytes(b.as_slice().try_into().unwrap())
}

fn analyze(words: &[u32], recorded: Option<u64>) -> Result<Site, SiteError> {
    let b = bytes(words);
    Powerpc::analyze_site(Code { start: TextAddr(FUNC), bytes: &b }, TextAddr(FUNC), recorded.map(TextAddr))
}

/// The global-entry prefixes: none, the TOC setup (addis or linker-relaxed
/// lis), and the -mcmodel=large module form.
fn prefixes() -> [(&'static [u32], &'static str); 4] {
    [
        (&[], ""),
        (&[0x3c4c_0002, 0x3842_9a00], "+toc"), // addis r2,r12,2; addi r2,r2,-0x6600
        (&[0x3c40_1002, 0x3842_8000], "+toc"), // lis r2,0x1002; addi r2,r2,-0x8000
        (&[op::LD_R2_M8_R12, op::ADD_R2_R2_R12], "+toc-large"),
    ]
}

fn with(prefix: &[u32], rest: &[u32]) -> Vec<u32> {
    prefix.iter().chain(rest).copied().collect()
}

#[test]
fn mprofile_disabled_enabled_unconverted() {
    for (p, suffix) in prefixes() {
        let local = FUNC + 4 * p.len() as u64;
        let site = local + 4;
        let form = format!("mprofile{suffix}");
        let disabled = analyze(&with(p, &[op::MFLR_R0, op::NOP, LI_R3_1, op::BLR]), None).unwrap();
        assert_eq!((disabled.addr.0, disabled.len, disabled.state), (site, 4, SiteState::Disabled));
        assert_eq!((disabled.func.0, disabled.form), (FUNC, form.as_str()));

        let bl = branch(BranchKind::Call, site, FTRACE_CALLER);
        let enabled = analyze(&with(p, &[op::MFLR_R0, bl, LI_R3_1, op::BLR]), None).unwrap();
        assert_eq!(enabled.addr.0, site);
        assert_eq!(enabled.state, SiteState::Enabled { target: TextAddr(FTRACE_CALLER) });

        // In a .o, `bl _mcount` is unrelocated: a branch to itself.
        let obj = analyze(&with(p, &[op::MFLR_R0, op::BL, LI_R3_1, op::BLR]), None).unwrap();
        assert_eq!(obj.state, SiteState::Unconverted { target: TextAddr(site) });

        // The record (objtool's __mcount_loc) confirms the site...
        assert_eq!(analyze(&with(p, &[op::MFLR_R0, bl, op::BLR]), Some(site)).unwrap(), enabled);
        // ...and a record elsewhere is refused.
        assert_eq!(
            analyze(&with(p, &[op::MFLR_R0, bl, op::BLR]), Some(site + 4)),
            Err(SiteError::RecordMismatch(TextAddr(site + 4)))
        );
    }
}

#[test]
fn mprofile_gcc5_std_form() {
    for (p, suffix) in prefixes() {
        let local = FUNC + 4 * p.len() as u64;
        let site = local + 8;
        let form = format!("mprofile-std{suffix}");
        // Compiled: mflr r0; std r0,16(r1); bl _mcount.
        let bl_mcount = branch(BranchKind::Call, site, 0xc000_0000_0000_2000);
        let raw = analyze(&with(p, &[op::MFLR_R0, op::STD_R0_16_R1, bl_mcount, op::BLR]), None).unwrap();
        assert_eq!((raw.addr.0, raw.form), (site, form.as_str()));
        assert_eq!(raw.state, SiteState::Unconverted { target: TextAddr(0xc000_0000_0000_2000) });
        // ftrace_init_nop() nopped the std and the bl: only the record tells
        // this from the GCC >= 6 form with a nop starting the body.
        let disabled = analyze(&with(p, &[op::MFLR_R0, op::NOP, op::NOP, op::BLR]), Some(site)).unwrap();
        assert_eq!((disabled.addr.0, disabled.state, disabled.form), (site, SiteState::Disabled, form.as_str()));
        let modern = analyze(&with(p, &[op::MFLR_R0, op::NOP, op::NOP, op::BLR]), None).unwrap();
        assert_eq!(modern.addr.0, local + 4);
        // Traced: a bl after the nopped std is unambiguous.
        let bl = branch(BranchKind::Call, site, FTRACE_CALLER);
        let enabled = analyze(&with(p, &[op::MFLR_R0, op::NOP, bl, op::BLR]), None).unwrap();
        assert_eq!((enabled.addr.0, enabled.form), (site, form.as_str()));
        assert_eq!(enabled.state, SiteState::Enabled { target: TextAddr(FTRACE_CALLER) });
        // The std without a bl after it is not a site.
        assert_eq!(
            analyze(&with(p, &[op::MFLR_R0, op::STD_R0_16_R1, op::NOP, op::BLR]), None),
            Err(SiteError::NotInstrumented)
        );
    }
}

#[test]
fn out_of_line_stub_form_needs_its_record() {
    for (p, suffix) in prefixes() {
        let local = FUNC + 4 * p.len() as u64;
        let form = format!("ool{suffix}");
        let body = [op::MFLR_R0, op::STD_R0_16_R1, op::BLR];
        let disabled = analyze(&with(p, &[&[op::NOP][..], &body].concat()), Some(local)).unwrap();
        assert_eq!((disabled.addr.0, disabled.state, disabled.form), (local, SiteState::Disabled, form.as_str()));
        let b = branch(BranchKind::Jump, local, STUB);
        let enabled = analyze(&with(p, &[&[b][..], &body].concat()), Some(local)).unwrap();
        assert_eq!(enabled.state, SiteState::Enabled { target: TextAddr(STUB) });
        // clang records the global entry (LLVM issue 163706); ftrace_call_adjust()
        // moves it to the local entry.
        let clang = analyze(&with(p, &[&[b][..], &body].concat()), Some(FUNC));
        if p.is_empty() {
            assert_eq!(clang.unwrap(), enabled);
        } else {
            assert_eq!(clang.unwrap().addr.0, local);
        }
        // Without a record a leading nop or b is just code (a notrace tail call).
        assert_eq!(analyze(&with(p, &[b]), None), Err(SiteError::NotInstrumented));
        assert_eq!(analyze(&with(p, &[op::NOP, op::BLR]), None), Err(SiteError::NotInstrumented));
        // A `bl` at the local entry is neither form.
        let bl = branch(BranchKind::Call, local, STUB);
        assert_eq!(analyze(&with(p, &[bl]), Some(local)), Err(SiteError::RecordMismatch(TextAddr(local))));
        assert_eq!(analyze(&with(p, &[op::NOP]), Some(local + 4)), Err(SiteError::RecordMismatch(TextAddr(local + 4))));
    }
}

#[test]
fn not_instrumented_functions_are_refused() {
    // notrace bodies as GCC 12 emits them (see tests/data/entry.c).
    let cases: [&[u32]; 4] = [
        &[0x3860_0007, op::BLR],                                                     // li r3,7; blr
        &[0x3c4c_0000, 0x3842_0000, 0x3c62_0000, 0x8063_0000, 0x3863_0001, op::BLR], // TOC, load, add
        &[0x3c4c_0000, 0x3842_0000, 0x4800_0000],                                    // TOC; b ext (tail call)
        &[op::MFLR_R0, 0xfbe1_fff8, op::STD_R0_16_R1, 0xf821_ffd1],                  // prologue, no _mcount
    ];
    for c in cases {
        assert_eq!(analyze(c, None), Err(SiteError::NotInstrumented), "{c:x?}");
        // With a record claiming a site here, the record is what is wrong.
        assert_eq!(analyze(c, Some(FUNC + 4)), Err(SiteError::RecordMismatch(TextAddr(FUNC + 4))), "{c:x?}");
    }
}

#[test]
fn misaligned_and_truncated_windows() {
    let b = bytes(&[op::MFLR_R0, op::NOP]);
    let at = |f: u64| Powerpc::analyze_site(Code { start: TextAddr(FUNC), bytes: &b }, TextAddr(f), None);
    assert_eq!(at(FUNC + 2), Err(SiteError::Misaligned));
    assert_eq!(at(FUNC + 0x100), Err(SiteError::Truncated));
    assert_eq!(at(FUNC - 4), Err(SiteError::Truncated));
    // The TOC setup alone, or mflr without its next word, is not enough.
    assert_eq!(analyze(&[0x3c4c_0000, 0x3842_0000], None), Err(SiteError::Truncated));
    assert_eq!(analyze(&[op::MFLR_R0], None), Err(SiteError::Truncated));
    // mflr r0; nop without a record needs the third word to rule out GCC 5.
    assert_eq!(analyze(&[op::MFLR_R0, op::NOP], None), Err(SiteError::Truncated));
}

#[test]
fn local_entry_mirrors_ppc_function_entry() {
    let code = |w: &[u32]| bytes(w);
    let le = |w: &[u32]| {
        let b = code(w);
        local_entry(&Code { start: TextAddr(FUNC), bytes: &b }, TextAddr(FUNC)).unwrap()
    };
    assert_eq!(le(&[0x3c4c_1234, 0x3842_5678]), (TextAddr(FUNC + 8), GlobalEntry::Toc));
    assert_eq!(le(&[0x3c40_1234, 0x3842_5678]), (TextAddr(FUNC + 8), GlobalEntry::Toc));
    assert_eq!(le(&[op::LD_R2_M8_R12, op::ADD_R2_R2_R12]), (TextAddr(FUNC + 8), GlobalEntry::TocLarge));
    // addis r2,r12 followed by something other than addi r2,r2: no global entry.
    assert_eq!(le(&[0x3c4c_1234, 0x3863_0001]), (TextAddr(FUNC), GlobalEntry::None));
    // addis into another register.
    assert_eq!(le(&[0x3c6c_1234, 0x3842_5678]), (TextAddr(FUNC), GlobalEntry::None));
    assert_eq!(le(&[op::MFLR_R0, op::NOP]), (TextAddr(FUNC), GlobalEntry::None));
}

#[test]
fn redirect_uses_the_livepatch_stack() {
    let site = analyze(&[op::MFLR_R0, op::NOP, op::BLR], None).unwrap();
    for module in [true, false] {
        let r = Powerpc::redirect(&site, TextAddr(0xd000_0000_0000_1000), module);
        assert_eq!(r.ip, TextAddr(0xd000_0000_0000_1000));
        assert_eq!(r.flags, RedirectFlags::SAVE_TOC | RedirectFlags::SET_R12);
    }
    let c = Code { start: TextAddr(FUNC), bytes: &[] };
    assert_eq!(Powerpc::call_adjust(c, TextAddr(FUNC), TextAddr(FUNC + 4)), Some(TextAddr(FUNC + 4)));
}

// ---------------------------------------------------------------------------
// Real compiler output

fn tool(name: &str) -> Command {
    Command::new(format!("powerpc64le-linux-gnu-{name}"))
}

fn run(mut c: Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}; run ci/setup.sh"));
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Function symbols (name, address) of `elf`.
fn functions(elf: &Path) -> Vec<(String, u64)> {
    let mut c = tool("nm");
    c.arg("--defined-only").arg(elf);
    run(c)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && (f[1] == "T" || f[1] == "t"))
                .then(|| (f[2].to_string(), u64::from_str_radix(f[0], 16).unwrap()))
        })
        .collect()
}

/// `.text`'s address and bytes.
fn text(elf: &Path) -> (u64, Vec<u8>) {
    let mut c = tool("readelf");
    c.arg("-SW").arg(elf);
    let sections = run(c);
    let line = sections.lines().find(|l| l.contains(" .text ")).expect(".text section");
    let f: Vec<&str> = line.split(']').nth(1).unwrap().split_whitespace().collect();
    let addr = u64::from_str_radix(f[2], 16).unwrap();
    let bin = elf.with_extension("text.bin");
    let mut c = tool("objcopy");
    c.args(["-O", "binary", "--only-section=.text"]).arg(elf).arg(&bin);
    run(c);
    (addr, std::fs::read(bin).unwrap())
}

/// Offsets of the `R_PPC64_REL24 _mcount` relocations in an object's `.text`:
/// the records objtool turns into `__mcount_loc`.
fn mcount_relocs(obj: &Path) -> BTreeSet<u64> {
    let mut c = tool("readelf");
    c.arg("-rW").arg(obj);
    run(c)
        .lines()
        .filter(|l| l.contains("R_PPC64_REL24") && l.contains(" _mcount"))
        .map(|l| u64::from_str_radix(l.split_whitespace().next().unwrap(), 16).unwrap())
        .collect()
}

/// The `gcc:` lines of ftrace-flags.txt.
fn gcc_flag_sets() -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ftrace-flags.txt");
    let sets: Vec<Vec<String>> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("gcc:"))
        .map(|f| f.split_whitespace().map(String::from).collect())
        .collect();
    assert!(!sets.is_empty(), "no gcc lines in ftrace-flags.txt");
    sets
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Check every function of `elf`: instrumented ones are recognised in the
/// expected state, `notrace_*` ones refused.  Returns the sites found.
fn check_functions(elf: &Path, expect: impl Fn(&Site) -> bool) -> BTreeSet<u64> {
    let (base, text) = text(elf);
    let code = Code { start: TextAddr(base), bytes: &text };
    let mut sites = BTreeSet::new();
    let funcs = functions(elf);
    assert!(funcs.len() >= 10, "{}: too few functions: {funcs:?}", elf.display());
    for (name, addr) in funcs {
        let r = Powerpc::analyze_site(code, TextAddr(addr), None);
        if name.starts_with("notrace_") {
            assert_eq!(r, Err(SiteError::NotInstrumented), "{}: {name}", elf.display());
        } else if ["_mcount", "ext", "ext_v", "_start"].contains(&name.as_str()) {
            continue;
        } else {
            let site = r.unwrap_or_else(|e| panic!("{}: {name}: {e}", elf.display()));
            assert!(expect(&site), "{}: {name}: {site:?}", elf.display());
            assert!(site.form.starts_with("mprofile"), "{name}: {site:?}");
            // FTRACE_MCOUNT_MAX_OFFSET: the site is at most 16 bytes in.
            assert!(site.addr.0 - addr <= 16);
            sites.insert(site.addr.0);
        }
    }
    sites
}

#[test]
fn gcc_objects_with_kernel_flags() {
    let dir = scratch_dir("graft-powerpc-site");
    let stubs = compile(ArchId::Powerpc, Cc::Gcc, &[], &data("stubs.c"), &dir);
    for (i, flags) in gcc_flag_sets().iter().enumerate() {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let obj = compile(ArchId::Powerpc, Cc::Gcc, &flags, &data("entry.c"), &dir);
        let obj_i = dir.join(format!("entry-{i}.o"));
        std::fs::rename(&obj, &obj_i).unwrap();

        // The object: every `bl _mcount` unrelocated, and exactly the sites
        // the relocations (the future __mcount_loc) name.
        let sites = check_functions(&obj_i, |s| s.state == SiteState::Unconverted { target: s.addr });
        assert_eq!(sites, mcount_relocs(&obj_i), "{flags:?}");
        assert_eq!(sites.len(), 9, "{flags:?}: the nine traced functions of entry.c");

        // Linked: the `bl _mcount` now reaches _mcount, as in vmlinux before
        // ftrace_init_nop() runs; the linker may also relax the TOC setup.
        let elf = dir.join(format!("entry-{i}.elf"));
        let mut c = Command::new(ArchId::Powerpc.gcc());
        c.args(["-nostdlib", "-static", "-Wl,-e,leaf_const", "-o"]).arg(&elf).arg(&obj_i).arg(&stubs);
        run(c);
        let mcount = functions(&elf).into_iter().find(|(n, _)| n == "_mcount").unwrap().1;
        let linked = check_functions(&elf, |s| s.state == SiteState::Enabled { target: TextAddr(mcount) });
        assert_eq!(linked.len(), sites.len(), "{flags:?}");
    }
}

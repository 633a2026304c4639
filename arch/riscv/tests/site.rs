//! Entry-site recognition: every form Linux 7.3 has on riscv (compressed or
//! not, compiled / disabled / enabled, under a kprobe), refusal of
//! uninstrumented entries, `ftrace_call_adjust()`, and the real compilers'
//! output with the kernel's flags, linked as the kernel links.

use graft_core::{
    BranchKind, Code, Codec, Direct, DirectCaps, EntrySite, NoDirect, Redirect, RedirectFlags, Site, SiteError,
    SiteState, TextAddr,
};
use graft_riscv::codec::{auipc, jalr, li, A0, C_NOP2, EBREAK, NOP, RA, RET, T0, ZERO};
use graft_riscv::site::{call_ops_literal, ftrace_get_symaddr};
use graft_riscv::{ftrace_call_adjust, Riscv};
use graft_testkit::{compile, objdump, scratch_dir, ArchId, Cc};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const FUNC: u64 = 0xffff_ffff_8012_3450; // 8-byte aligned, as CALL_OPS requires
const CALLER: u64 = 0xffff_ffff_8000_1000; // ftrace_caller
const ADDI_SP: u32 = 0xff01_0113; // addi sp, sp, -16
const C_ADDI_SP_SD_RA: u32 = 0xe406_1141; // c.addi sp, -16; c.sdsp ra, 8(sp)
const C_EBREAK: u32 = 0x9002;

/// `to_auipc_t0()` and `to_jalr_t0()` as arch/riscv/include/asm/ftrace.h
/// writes them (on the 32-bit `unsigned int offset`), independent of the
/// codec under test: what `ftrace_init_nop()` and `ftrace_make_call()` store.
fn kernel_call(pc: u64, target: u64) -> [u32; 2] {
    let offset = target.wrapping_sub(pc) as u32;
    let auipc = if offset & 0x800 != 0 {
        ((offset & 0xffff_f000).wrapping_add(0x1000)) | 0x297
    } else {
        (offset & 0xffff_f000) | 0x297
    };
    [auipc, ((offset & 0xfff) << 20) | 0x0002_82e7]
}

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A window starting 8 bytes before `FUNC` (the CALL_OPS literal slot).
fn window(pre: u64, entry: &[u32]) -> Vec<u8> {
    let mut w = pre.to_le_bytes().to_vec();
    w.extend(bytes(entry));
    w.extend(bytes(&[li(A0, 1), RET]));
    w
}

fn analyze(w: &[u8], recorded: Option<u64>) -> Result<graft_core::Site, SiteError> {
    Riscv::analyze_site(Code { start: TextAddr(FUNC - 8), bytes: w }, TextAddr(FUNC), recorded.map(TextAddr))
}

#[test]
fn the_kernel_encoder_is_the_codec_pair() {
    // make_call_t0() agrees with codec::pair over the offsets ftrace uses.
    for d in
        [0i64, 4, -4, 0x7fe, 0x800, -0x800, -0x802, 0xffe, 0x1000, 0x1234_5678, -0x7fff_f000, -0x8000_0800, 0x7edc_b7fe]
    {
        let to = FUNC.wrapping_add_signed(d);
        let p = graft_riscv::codec::pair(BranchKind::Call, TextAddr(FUNC), TextAddr(to)).unwrap();
        assert_eq!(p, kernel_call(FUNC, to), "{d:#x}");
    }
}

/// Every (pre-symbol bytes, state) combination the kernel produces.
#[test]
fn every_form_is_recognised() {
    let site = FUNC + 4;
    let literal = 0xffff_ffff_8200_1230u64; // &ftrace_nop_ops, written by ftrace_rec_set_ops()
    let near = kernel_call(FUNC, CALLER);
    let mut n = 0;
    for pre in [0x0001_0001_0001_0001, NOP as u64 | (NOP as u64) << 32, literal] {
        for target in [CALLER, FUNC + 0x7edc_b000, FUNC - 0x8000_0800, FUNC + 0x7fe, FUNC + 0x800, FUNC] {
            let call = kernel_call(FUNC, target);
            let cases = [
                ([C_NOP2, C_NOP2], SiteState::Unconverted { target: TextAddr(0) }, "pfe+rvc"),
                ([NOP, NOP], SiteState::Unconverted { target: TextAddr(0) }, "pfe"),
                ([call[0], NOP], SiteState::Disabled, "pfe"),
                (call, SiteState::Enabled { target: TextAddr(target) }, "pfe"),
                // ftrace_make_call() with the auipc made for ftrace_caller.
                ([near[0], near[1]], SiteState::Enabled { target: TextAddr(CALLER) }, "pfe"),
            ];
            for (entry, state, form) in cases {
                let w = window(pre, &entry);
                for recorded in [None, Some(site)] {
                    let s = analyze(&w, recorded).unwrap_or_else(|e| panic!("{entry:x?}: {e}"));
                    assert_eq!(
                        (s.func, s.addr, s.len, s.state, s.form),
                        (TextAddr(FUNC), TextAddr(site), 4, state, form)
                    );
                    n += 1;
                }
                // A record elsewhere (the auipc, the symbol, the literal) is a
                // mismatch, not a guess.
                for wrong in [FUNC, FUNC - 8, site + 4, site + 2] {
                    assert_eq!(analyze(&w, Some(wrong)), Err(SiteError::RecordMismatch(TextAddr(wrong))));
                }
            }
        }
    }
    assert_eq!(n, 3 * 6 * 5 * 2);
}

/// A kprobe on the symbol is an `ebreak` over the `auipc` (riscv kprobes
/// are breakpoints, not ftrace users): the site is found from the toggled
/// word; an enabled one's target is under the breakpoint.
#[test]
fn kprobe_breakpoint_over_the_auipc() {
    let site = FUNC + 4;
    let call = kernel_call(FUNC, CALLER);
    for (toggled, state) in [(NOP, SiteState::Disabled), (call[1], SiteState::Enabled { target: TextAddr(0) })] {
        let w = window(0, &[EBREAK, toggled]);
        for recorded in [None, Some(site)] {
            let s = analyze(&w, recorded).unwrap();
            assert_eq!((s.addr, s.state, s.form), (TextAddr(site), state, "pfe+kprobe"));
        }
        assert_eq!(analyze(&w, Some(FUNC)), Err(SiteError::RecordMismatch(TextAddr(FUNC))));
    }
    // Only a 32-bit ebreak, only over a converted site, never on rec->ip.
    let cases: &[[u32; 2]] = &[
        [C_EBREAK | (0x0297 << 16), NOP], // c.ebreak: the auipc is 32-bit, kprobes write ebreak
        [EBREAK, C_NOP2],                 // a kprobe on an unconverted entry
        [EBREAK, EBREAK],                 // a kprobe on rec->ip (check_ftrace_location() refuses it)
        [call[0], EBREAK],
        [EBREAK, jalr(RA, T0, 0x10)], // a jalr ftrace never writes
        [EBREAK, ADDI_SP],            // a kprobe on an uninstrumented entry
    ];
    for entry in cases {
        assert_eq!(analyze(&window(0, entry), None), Err(SiteError::NotInstrumented), "{entry:x?}");
    }
}

#[test]
fn window_without_pre_symbol_bytes() {
    // The site lies after the symbol: a window starting at it suffices
    // (graft.ko reads from the symbol on).
    let w = bytes(&[kernel_call(FUNC, CALLER)[0], NOP, RET]);
    let s = Riscv::analyze_site(Code { start: TextAddr(FUNC), bytes: &w }, TextAddr(FUNC), None).unwrap();
    assert_eq!((s.addr, s.state), (TextAddr(FUNC + 4), SiteState::Disabled));
}

#[test]
fn uninstrumented_entries_are_refused() {
    let call = kernel_call(FUNC, CALLER);
    let cases: &[[u32; 2]] = &[
        [ADDI_SP, 0x0081_3423],             // addi sp, sp, -16; sd s0, 8(sp)
        [C_ADDI_SP_SD_RA, 0x0800_e022],     // the compressed prologue
        [li(A0, 3), RET],                   // a leaf
        [NOP, call[1]],                     // a jalr without ftrace_init_nop()'s auipc
        [C_NOP2, NOP],                      // compressed and plain nops mixed
        [NOP, C_NOP2],                      //
        [C_NOP2, call[1]],                  //
        [auipc(RA, 0), jalr(RA, RA, 0x10)], // an ordinary call (auipc ra)
        [auipc(6, 8), NOP],                 // auipc t1
        [call[0], jalr(RA, T0, 0x10)],      // jalr ra: not ftrace's link register
        [call[0], jalr(ZERO, T0, 0x10)],    // jr: ftrace only calls
        [call[0], jalr(T0, 6, 0x10)],       // jalr t0, 0x10(t1)
        [call[0], call[1] | 1 << 12],       // funct3 != 0
        [call[0], 0x0000_02ef],             // jal t0: not what ftrace writes
        [call[0], call[0]],                 // two auipcs
        [call[0], li(A0, 1)],               // an auipc followed by code
    ];
    for entry in cases {
        let w = window(0, entry);
        assert_eq!(analyze(&w, None), Err(SiteError::NotInstrumented), "{entry:x?}");
        // With a record, the same code is a record mismatch.
        let r = FUNC + 4;
        assert_eq!(analyze(&w, Some(r)), Err(SiteError::RecordMismatch(TextAddr(r))), "{entry:x?}");
    }
}

#[test]
fn truncated_and_misaligned() {
    let full = window(0, &[kernel_call(FUNC, CALLER)[0], NOP]);
    // Cut anywhere before the end of the toggled word (window starts at FUNC-8).
    for cut in 0..8 + 8 {
        assert_eq!(analyze(&full[..cut], None), Err(SiteError::Truncated), "cut {cut}");
    }
    assert!(analyze(&full[..8 + 8], None).is_ok());
    // A window that starts after the symbol.
    let code = Code { start: TextAddr(FUNC + 2), bytes: &full[10..] };
    assert_eq!(Riscv::analyze_site(code, TextAddr(FUNC), None), Err(SiteError::Truncated));
    let code = Code { start: TextAddr(FUNC - 8), bytes: &full };
    assert_eq!(Riscv::analyze_site(code, TextAddr(FUNC + 1), None), Err(SiteError::Misaligned));
    // 2-byte aligned is an instruction boundary with the C extension (a
    // function in a `.o`, before the linker's R_RISCV_ALIGN padding).
    let w = window(0, &[0x0001_0001, C_NOP2, C_NOP2]);
    let code = Code { start: TextAddr(FUNC - 8), bytes: &w };
    assert_eq!(Riscv::analyze_site(code, TextAddr(FUNC + 2), None).map(|s| s.addr), Ok(TextAddr(FUNC + 6)));
    // The end of the address space.
    let code = Code { start: TextAddr(u64::MAX - 3), bytes: &[0x13, 0, 0, 0] };
    assert_eq!(Riscv::analyze_site(code, TextAddr(u64::MAX - 3), None), Err(SiteError::Truncated));
}

#[test]
fn call_adjust_mirrors_the_kernel() {
    let rec = TextAddr(FUNC - 8);
    // CALL_OPS: the first pre-symbol nop + 8 + MCOUNT_AUIPC_SIZE.
    assert_eq!(ftrace_call_adjust(true, rec), Some(TextAddr(FUNC + 4)));
    assert_eq!(Riscv::call_adjust(Code { start: rec, bytes: &[] }, TextAddr(FUNC), rec), Some(TextAddr(FUNC + 4)));
    // Without CALL_OPS 7.3 adds 4 only: before the symbol (see site.rs).
    assert_eq!(ftrace_call_adjust(false, rec), Some(TextAddr(FUNC - 4)));
    assert_eq!(ftrace_call_adjust(true, TextAddr(u64::MAX - 4)), None);
    // arch_ftrace_get_symaddr() inverts it.
    assert_eq!(ftrace_get_symaddr(TextAddr(FUNC + 4)), Some(TextAddr(FUNC)));
    assert_eq!(ftrace_get_symaddr(TextAddr(2)), None);
    // ftrace_rec_set_ops()'s literal is the 8 bytes before an 8-aligned
    // symbol, which ftrace_caller reads at t0 - 16 = rec->ip - 12.
    assert_eq!(call_ops_literal(TextAddr(FUNC + 4)), Some(TextAddr(FUNC - 8)));
    // A symbol only 4-aligned (no CALL_OPS alignment) would read 4 bytes lower.
    assert_eq!(call_ops_literal(TextAddr(FUNC + 8)), Some(TextAddr(FUNC - 8)));
    assert_eq!(call_ops_literal(TextAddr(8)), None);
}

#[test]
fn redirect_sets_only_the_pc() {
    let w = window(0, &[kernel_call(FUNC, CALLER)[0], NOP]);
    let site = analyze(&w, None).unwrap();
    let new = TextAddr(0xffff_ffff_0100_0000);
    for module in [false, true] {
        assert_eq!(Riscv::redirect(&site, new, module), Redirect { ip: new, flags: RedirectFlags::empty() });
    }
}

#[test]
fn entry_words_disassemble_as_named() {
    let call = kernel_call(0x1000, 0x9800);
    for (w, want) in [
        (NOP, "nop"),
        (EBREAK, "ebreak"),
        (RET, "ret"),
        (ADDI_SP, "add sp,sp,-16"), // binutils 2.40 prints addi with an immediate as add
        (call[0], "auipc t0,0x9"),
        (call[1], "jalr t0,-2048(t0)"),
        (li(A0, 0x2e7), "li a0,743"),
        (jalr(ZERO, T0, 16), "jr 16(t0)"),
    ] {
        let d = objdump(ArchId::Riscv, 0x1000, &w.to_le_bytes());
        let got = format!("{} {}", d[0].mnemonic, d[0].operands);
        let got = got.split(" #").next().unwrap().trim();
        assert_eq!(got.replace('\t', " "), want, "{w:#x}");
    }
    let d = objdump(ArchId::Riscv, 0x1000, &C_NOP2.to_le_bytes());
    assert_eq!((d.len(), d[0].mnemonic.as_str(), d[0].len), (2, "nop", 2));
}

// ---------------------------------------------------------------------------
// Real compiler output, linked as vmlinux is (`--no-relax`: the linker
// still honours R_RISCV_ALIGN, which puts each symbol on its alignment).

struct Image {
    text: Vec<u8>,
    text_addr: u64,
    /// Function symbols: name -> address.
    funcs: BTreeMap<String, u64>,
    /// The absolute words of __patchable_function_entries.
    records: Vec<u64>,
}

fn tool(name: &str, args: &[&str], obj: &Path) -> String {
    let out = Command::new(name).args(args).arg(obj).output().unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(out.status.success(), "{name} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const TEXT_ADDR: u64 = 0xffff_ffff_8020_0000;

fn link(obj: &Path, cc: Cc) -> Image {
    let out = obj.with_extension("linked");
    let ld = match cc {
        Cc::Clang => "ld.lld-19",
        Cc::Gcc => "riscv64-linux-gnu-ld",
    };
    let st = Command::new(ld)
        .args(["--no-relax", "-e", "0", "--unresolved-symbols=ignore-all"])
        .arg(format!("-Ttext={TEXT_ADDR:#x}"))
        .arg("-o")
        .arg(&out)
        .arg(obj)
        .status()
        .unwrap_or_else(|e| panic!("{ld}: {e}"));
    assert!(st.success(), "{ld} failed");
    let section = |name: &str| {
        let bin = out.with_extension(format!("{name}.bin"));
        let st = Command::new("riscv64-linux-gnu-objcopy")
            .args(["-O", "binary", &format!("--only-section={name}")])
            .arg(&out)
            .arg(&bin)
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::read(&bin).unwrap()
    };
    let text = section(".text");
    let records = section("__patchable_function_entries")
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut funcs = BTreeMap::new();
    for line in tool("riscv64-linux-gnu-nm", &["--defined-only"], &out).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 3 && (f[1] == "T" || f[1] == "t") && !f[2].starts_with(".L") {
            funcs.insert(f[2].to_string(), u64::from_str_radix(f[0], 16).unwrap());
        }
    }
    Image { text, text_addr: TEXT_ADDR, funcs, records }
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
    assert!(lines.len() >= 3);
    assert!(lines.iter().any(|(cc, _)| *cc == Cc::Gcc) && lines.iter().any(|(cc, _)| *cc == Cc::Clang));
    let mut checked = 0;
    for (i, (cc, flags)) in lines.iter().enumerate() {
        let rvc = flags.iter().any(|f| f.starts_with("-march=rv64imac"));
        let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
        let obj = compile(ArchId::Riscv, *cc, &flag_refs, &src, &scratch_dir(&format!("riscv-site-{i}")));
        let img = link(&obj, *cc);
        let at = format!("{cc:?} {flags:?}");
        let code = Code { start: TextAddr(img.text_addr), bytes: &img.text };
        let sites: Vec<u64> = img.records.iter().map(|&r| ftrace_call_adjust(true, TextAddr(r)).unwrap().0).collect();
        assert!(img.funcs.len() >= 10, "{at}: {:?}", img.funcs);
        for (name, &addr) in &img.funcs {
            let func = TextAddr(addr);
            let got = Riscv::analyze_site(code, func, None);
            if name.starts_with("notrace_") {
                assert_eq!(got, Err(SiteError::NotInstrumented), "{at}: {name}");
                continue;
            }
            let site = got.unwrap_or_else(|e| panic!("{at}: {name}: {e}"));
            assert_eq!(site.state, SiteState::Unconverted { target: TextAddr(0) }, "{at}: {name}");
            assert_eq!(site.form, if rvc { "pfe+rvc" } else { "pfe" }, "{at}: {name}");
            // Exactly one record, adjusted as the kernel does, names this site.
            assert_eq!(sites.iter().filter(|&&s| s == site.addr.0).count(), 1, "{at}: {name}");
            assert_eq!(Riscv::analyze_site(code, func, Some(site.addr)), Ok(site), "{at}: {name}");
            assert_eq!(ftrace_get_symaddr(site.addr), Some(func), "{at}: {name}");
            // FUNCTION_ALIGNMENT_8B: the literal is the 8 bytes right before
            // the symbol, where ftrace_caller looks for it.
            let lit = call_ops_literal(site.addr).unwrap();
            assert!(func.is_aligned(8), "{at}: {name} at {func}");
            assert_eq!(lit.0 + 8, func.0, "{at}: {name}: literal not right before the symbol");
            // What ftrace_init_nop() and ftrace_make_call() then write.
            let call = kernel_call(func.0, CALLER);
            let mut text = img.text.clone();
            let off = (func.0 - img.text_addr) as usize;
            text[off..off + 8].copy_from_slice(&bytes(&[call[0], NOP]));
            let live = Code { start: TextAddr(img.text_addr), bytes: &text };
            assert_eq!(Riscv::analyze_site(live, func, Some(site.addr)).unwrap().state, SiteState::Disabled);
            text[off + 4..off + 8].copy_from_slice(&call[1].to_le_bytes());
            let live = Code { start: TextAddr(img.text_addr), bytes: &text };
            assert_eq!(
                Riscv::analyze_site(live, func, Some(site.addr)).unwrap().state,
                SiteState::Enabled { target: TextAddr(CALLER) },
                "{at}: {name}"
            );
            // The plan's store is naturally aligned in the linked image.
            assert!(site.addr.is_aligned(4), "{at}: {name}");
            let nop = Riscv::encode_nop();
            assert!(Riscv::patch_plan(site.addr, &nop, &graft_riscv::codec::insn(&[call[1]])).is_ok());
            checked += 1;
        }
        // Every record belongs to a recognised function.
        assert_eq!(sites.len(), img.funcs.keys().filter(|n| !n.starts_with("notrace_")).count(), "{at}");
    }
    assert!(checked >= 9 * lines.len(), "{checked}");
}

/// The fast path enters the replacement itself, from `ftrace_caller`'s
/// `jr` (any reach, any halfword-aligned target), on a kernel with direct
/// calls.
#[test]
fn direct_is_the_replacement_itself() {
    let site = Site {
        func: TextAddr(0xffff_ffff_8012_3400),
        addr: TextAddr(0xffff_ffff_8012_3404),
        len: 4,
        state: SiteState::Enabled { target: TextAddr(0xffff_ffff_8000_2000) },
        form: "pfe+call-ops",
    };
    let caps = DirectCaps::CALLS;
    for new in [TextAddr(0xffff_ffff_0123_4566), TextAddr(0xffff_ffff_8012_3800)] {
        assert_eq!(Riscv::direct(&site, new, caps, None), Ok(Direct { addr: new.0, enters: new, tramp: false }));
    }
    assert_eq!(Riscv::direct(&site, TextAddr(0xffff_ffff_0123_4567), caps, None), Err(NoDirect::Unaligned));
    assert_eq!(Riscv::direct(&site, TextAddr(0xffff_ffff_0123_4566), DirectCaps::empty(), None), Err(NoDirect::Kernel));
}

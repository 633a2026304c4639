//! Patch-site recognition on real compiler output: the shared C corpus
//! (tests/corpus/corpus.c) compiled with each arch's cross compiler and the
//! exact ftrace flags Linux 7.3 uses (arch/<arch>/ftrace-flags.txt), then read
//! back by graft-inspect.  Every `traced_*` function must be found and
//! classified patchable; every `notrace_*` function refused with a reason.

use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::path::{Path, PathBuf};

fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `(compiler, flags)` lines of an arch's ftrace-flags.txt.
fn configs(arch: &str) -> Vec<(Cc, Vec<String>)> {
    let path = top().join("arch").join(arch).join("ftrace-flags.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (cc, flags) = line.split_once(':').unwrap_or_else(|| panic!("{}: bad line {line:?}", path.display()));
        let cc = match cc.trim() {
            "gcc" => Cc::Gcc,
            "clang" => Cc::Clang,
            other => panic!("{}: unknown compiler {other}", path.display()),
        };
        v.push((cc, flags.split_whitespace().map(String::from).collect()));
    }
    assert!(!v.is_empty(), "{}: no configs", path.display());
    v
}

fn check(arch: &str, id: ArchId) {
    let src = top().join("tests/corpus/corpus.c");
    let mut checked = 0;
    for (cc, flags) in configs(arch) {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let obj = compile(id, cc, &flags, &src, &scratch_dir(&format!("corpus-{arch}")));
        let data = std::fs::read(&obj).unwrap();
        let r = graft_inspect::sites(&data).unwrap_or_else(|e| panic!("{arch} {cc:?}: {e}"));
        assert_eq!(r.arch, arch);
        let table = graft_inspect::to_table(&r);
        let traced: Vec<_> = r.functions.iter().filter(|f| f.function.starts_with("traced_")).collect();
        let notrace: Vec<_> = r.functions.iter().filter(|f| f.function.starts_with("notrace_")).collect();
        assert!(traced.len() >= 13, "{arch} {cc:?} {flags:?}: only {} traced functions:\n{table}", traced.len());
        assert_eq!(notrace.len(), 2, "{arch} {cc:?}: notrace functions missing:\n{table}");
        for f in &traced {
            assert!(f.patchable, "{arch} {cc:?} {flags:?}: {} not patchable: {}\n{table}", f.function, f.reason);
            assert!(f.site.is_some());
        }
        for f in &notrace {
            assert!(!f.patchable, "{arch} {cc:?}: {} wrongly patchable", f.function);
            assert!(f.reason.contains("no ftrace record"), "{arch}: reason {:?}", f.reason);
        }
        checked += traced.len() + notrace.len();
    }
    println!("{arch}: {checked} corpus functions classified");
}

#[test]
fn corpus_x86_64() {
    check("x86_64", ArchId::X86_64);
}
#[test]
fn corpus_arm64() {
    check("arm64", ArchId::Arm64);
}
#[test]
fn corpus_powerpc() {
    check("powerpc", ArchId::Powerpc);
}
#[test]
fn corpus_s390() {
    check("s390", ArchId::S390);
}
#[test]
fn corpus_riscv() {
    check("riscv", ArchId::Riscv);
}

/// riscv64 has no cached kernel to read yet: the corpus, compiled with the
/// kernel's clang line, linked as vmlinux is (its records folded between
/// `__start_mcount_loc` and `__stop_mcount_loc` by a linker script shaped
/// like `MCOUNT_REC()` in include/asm-generic/vmlinux.lds.h, `--no-relax`
/// as arch/riscv/Makefile links) and as a module is (`-mno-relax`,
/// `ld -r`), must read as the object does.
#[test]
fn corpus_riscv_as_vmlinux_and_module() {
    let src = top().join("tests/corpus/corpus.c");
    let dir = scratch_dir("corpus-riscv-linked");
    let (cc, flags) = configs("riscv").into_iter().find(|(cc, _)| *cc == Cc::Clang).expect("a clang line");
    let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let obj = compile(ArchId::Riscv, cc, &flags, &src, &dir);
    // (The corpus's externs `sink` and `g` get addresses the medany code
    // reaches; the image is read, never run.)
    let lds = dir.join("vmlinux.lds");
    std::fs::write(
        &lds,
        "SECTIONS {\n  . = 0xffffffff80000000;\n  .text : { *(.text .text.*) }\n  \
         .data : { sink = .; g = . + 8; . += 16; }\n  .init.data : ALIGN(8) {\n    \
         __start_mcount_loc = .;\n    KEEP(*(__patchable_function_entries))\n    __stop_mcount_loc = .;\n  }\n  \
         /DISCARD/ : { *(.eh_frame) *(.riscv.attributes) }\n}\n",
    )
    .unwrap();
    let vmlinux = dir.join("vmlinux");
    let ld = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new("ld.lld-19").args(args).output().expect("ld.lld-19 (ci/setup.sh)");
        assert!(out.status.success(), "ld.lld-19: {}", String::from_utf8_lossy(&out.stderr));
    };
    ld(&[
        "--no-relax".as_ref(),
        "--unresolved-symbols=ignore-all".as_ref(),
        "-T".as_ref(),
        lds.as_os_str(),
        "-o".as_ref(),
        vmlinux.as_os_str(),
        obj.as_os_str(),
    ]);
    flags.push("-mno-relax");
    let modobj = compile(ArchId::Riscv, cc, &flags, &src, &dir.join("module"));
    let ko = dir.join("corpus.ko");
    ld(&["-r".as_ref(), "-o".as_ref(), ko.as_os_str(), modobj.as_os_str()]);
    for (what, file, linked) in [("vmlinux", &vmlinux, true), ("module", &ko, false)] {
        let data = std::fs::read(file).unwrap();
        let r = graft_inspect::sites(&data).unwrap_or_else(|e| panic!("{what}: {e}"));
        let table = graft_inspect::to_table(&r);
        assert_eq!(r.arch, "riscv");
        let traced: Vec<_> = r.functions.iter().filter(|f| f.function.starts_with("traced_")).collect();
        assert!(traced.len() >= 13, "{what}:\n{table}");
        assert_eq!(r.records, traced.len(), "{what}: one record per traced function:\n{table}");
        for f in &traced {
            assert!(f.patchable, "{what}: {} not patchable: {}\n{table}", f.function, f.reason);
            assert_eq!(f.site, Some(f.address + 4), "{what}: {}", f.function);
            assert_eq!(f.reason, "pfe+rvc", "{what}: {}", f.function);
            // Linked, every symbol is on FUNCTION_ALIGNMENT_8B (R_RISCV_ALIGN).
            assert!(!linked || f.address % 8 == 0, "{what}: {} at {:#x}", f.function, f.address);
        }
        let notrace = r.functions.iter().filter(|f| f.function.starts_with("notrace_"));
        assert_eq!(notrace.filter(|f| !f.patchable && f.reason.contains("no ftrace record")).count(), 2, "{table}");
    }
}

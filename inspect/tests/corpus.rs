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

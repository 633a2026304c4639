//! graft-inspect functions/s per arch: the shared corpus compiled with each
//! arch's first ftrace-flags line, and, when the kernel cache holds them, the
//! real vmlinux of each arch (`$GRAFT_CACHE/kernels/<arch>-*/vmlinux`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use graft_testkit::{compile, scratch_dir, ArchId, Cc};
use std::path::{Path, PathBuf};

fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn corpus_object(arch: &str, id: ArchId) -> Vec<u8> {
    let flags = std::fs::read_to_string(top().join("arch").join(arch).join("ftrace-flags.txt")).unwrap();
    let line = flags.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap();
    let (cc, f) = line.split_once(':').unwrap();
    let cc = if cc.trim() == "gcc" { Cc::Gcc } else { Cc::Clang };
    let f: Vec<&str> = f.split_whitespace().collect();
    let obj = compile(id, cc, &f, &top().join("tests/corpus/corpus.c"), &scratch_dir("bench-corpus"));
    std::fs::read(obj).unwrap()
}

fn cached_vmlinux(arch: &str) -> Option<Vec<u8>> {
    let cache = std::env::var_os("GRAFT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/graft")))?;
    let dir = std::fs::read_dir(cache.join("kernels")).ok()?;
    let mut v: Vec<PathBuf> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{arch}-"))))
        .map(|p| p.join("vmlinux"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    std::fs::read(v.pop()?).ok()
}

fn bench(c: &mut Criterion) {
    for (arch, id) in
        [("x86_64", ArchId::X86_64), ("arm64", ArchId::Arm64), ("powerpc", ArchId::Powerpc), ("s390", ArchId::S390)]
    {
        let mut inputs = vec![("corpus", corpus_object(arch, id))];
        if let Some(v) = cached_vmlinux(arch) {
            inputs.push(("vmlinux", v));
        }
        for (what, data) in inputs {
            let n = graft_inspect::sites(&data).unwrap().functions.len() as u64;
            let mut g = c.benchmark_group(format!("inspect_{what}"));
            g.throughput(Throughput::Elements(n));
            if what == "vmlinux" {
                g.sample_size(10);
            }
            g.bench_function(arch, |b| b.iter(|| graft_inspect::sites(std::hint::black_box(&data)).unwrap()));
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

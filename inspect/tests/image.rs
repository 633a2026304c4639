//! Compressed kernel images: the vmlinux inside is found as
//! scripts/extract-vmlinux finds it; a stripped one is refused with where
//! its symbols are, never reported as "0 functions".

use graft_inspect::{inspect, sites, InspectError};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn tool(prog: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut c = Command::new(prog).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut i = c.stdin.take().unwrap();
    let input = input.to_vec();
    let w = std::thread::spawn(move || i.write_all(&input).unwrap());
    let out = c.wait_with_output().unwrap();
    w.join().unwrap();
    assert!(out.status.success(), "{prog}");
    out.stdout
}

/// A made-up x86 boot image: a setup header naming `release`, then
/// `payload` compressed by `prog` after some bytes of code.
fn bzimage(release: &str, prog: &str, payload: &[u8]) -> Vec<u8> {
    let mut img = vec![0u8; 0x400];
    img[0x202..0x206].copy_from_slice(b"HdrS");
    let ver = 0x300u16;
    img[0x20e..0x210].copy_from_slice(&(ver - 0x200).to_le_bytes());
    let s = format!("{release} (builder@host) #1 SMP PREEMPT_DYNAMIC Debian");
    img[ver as usize..ver as usize + s.len()].copy_from_slice(s.as_bytes());
    img.extend_from_slice(b"\x1f\x8b\x08 not a gzip stream");
    img.extend(tool(prog, &["-c"], payload));
    img.extend_from_slice(&[0xaa; 100]);
    img
}

fn own_binary() -> Vec<u8> {
    std::fs::read(std::env::current_exe().unwrap()).unwrap()
}

/// `elf` without its debug sections (symbols kept): smaller to compress.
fn no_debug(elf: &[u8]) -> Vec<u8> {
    objcopy("--strip-debug", elf)
}

fn stripped(elf: &[u8]) -> Vec<u8> {
    objcopy("--strip-all", elf)
}

fn objcopy(how: &str, elf: &[u8]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("graft-inspect-image-{}-{how}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("in"), dir.join("out"));
    std::fs::write(&a, elf).unwrap();
    assert!(Command::new("objcopy").arg(how).arg(&a).arg(&b).status().unwrap().success());
    let v = std::fs::read(&b).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    v
}

#[test]
fn a_stripped_elf_is_refused_not_reported_empty() {
    let s = stripped(&own_binary());
    assert!(matches!(sites(&s), Err(InspectError::NoSymbols { .. })));
}

#[test]
fn a_compressed_image_with_symbols_is_inspected() {
    let me = no_debug(&own_binary());
    for prog in ["gzip", "xz", "zstd"] {
        let img = bzimage("7.3.4+deb13-amd64", prog, &me);
        let i = inspect(&img).unwrap_or_else(|e| panic!("{prog}: {e}"));
        assert!(i.report.functions.len() > 100, "{prog}: {} functions", i.report.functions.len());
        assert!(i.note.as_deref().unwrap().contains(prog), "{:?}", i.note);
        // The same report as the ELF file itself.
        assert_eq!(i.report.functions, sites(&me).unwrap().functions);
    }
}

#[test]
fn a_stripped_compressed_image_says_where_the_symbols_are() {
    let img = bzimage("7.3.4+deb13-amd64", "zstd", &stripped(&own_binary()));
    let e = inspect(&img).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, InspectError::NoSymbols { .. }));
    assert!(m.contains("linux-image-7.3.4+deb13-amd64-dbg"), "{m}");
    assert!(m.contains("/usr/lib/debug/boot/vmlinux-7.3.4+deb13-amd64"), "{m}");
    assert!(m.contains("graft-inspect live"), "{m}");
}

#[test]
fn neither_elf_nor_image() {
    let e = inspect(b"\x1f\x8b\x08 but nothing after it, and no ELF anywhere").unwrap_err();
    assert!(matches!(e, InspectError::Malformed(ref m) if m.contains("nor a compressed kernel image")), "{e}");
}

fn cache() -> PathBuf {
    if let Some(c) = std::env::var_os("GRAFT_CACHE") {
        return c.into();
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"))
        .join("graft")
}

/// Debian's own vmlinuz (`qemu-images/fetch-debian-kernel.sh`): extracted,
/// refused, pointing at its -dbg package.  Skips loudly without the data
/// (fails under `GRAFT_REQUIRE_DATA=1`, as `make test` runs it).
#[test]
fn debians_vmlinuz_points_at_its_dbg_package() {
    let abi = "7.3.4+deb13-amd64";
    let found = std::fs::read_dir(cache().join("debian")).ok().and_then(|rd| {
        let mut v: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("{abi}-")))
            .map(|e| e.path().join(format!("usr/lib/modules/{abi}/vmlinuz")))
            .filter(|p| p.exists())
            .collect();
        v.sort();
        v.pop()
    });
    let Some(path) = found else {
        let msg = format!(
            "debians_vmlinuz_points_at_its_dbg_package: SKIPPED: no Debian vmlinuz in {} (run qemu-images/fetch-debian-kernel.sh; `make test` does)",
            cache().display()
        );
        if std::env::var("GRAFT_REQUIRE_DATA").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        let _ = writeln!(std::io::stderr().lock(), "{msg}");
        return;
    };
    let e = inspect(&std::fs::read(&path).unwrap()).unwrap_err();
    let m = e.to_string();
    assert!(m.contains(&format!("linux-image-{abi}-dbg")), "{m}");
    assert!(m.contains("zstd stream"), "{m}");
}

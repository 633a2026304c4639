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

/// A made-up arm64 `Image`: the boot header (`ARM\x64` at 56), code, a
/// string that starts as the banner does but is none, the banner, and by
/// chance an lzop magic (Debian's real one has one, and made graft-inspect
/// ask for lzop before it knew the format).
fn arm64_image(release: &str) -> Vec<u8> {
    let mut img = vec![0u8; 64];
    img[56..60].copy_from_slice(b"ARM\x64");
    img.extend_from_slice(&[0x1f, 0x20, 0x03, 0xd5].repeat(64));
    img.extend_from_slice(b"\x89\x4c\x5a and then Linux version of no kernel\0");
    img.extend_from_slice(
        format!("Linux version {release} (debian-kernel@lists.debian.org) (gcc-14) #1 SMP\n\0").as_bytes(),
    );
    img.extend_from_slice(&[0xaa; 100]);
    img
}

#[test]
fn an_arm64_image_is_refused_for_what_it_is() {
    let img = arm64_image("7.3.4+deb13-arm64");
    assert_eq!(graft_inspect::image::banner_release(&img).as_deref(), Some("7.3.4+deb13-arm64"));
    let gz = tool("gzip", &["-c"], &img);
    for (what, data, expect) in [
        ("uncompressed", &img, "arm64 kernel Image (uncompressed)"),
        ("Image.gz", &gz, "arm64 kernel Image in a compressed one (gzip stream at offset 0)"),
    ] {
        let e = inspect(data).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, InspectError::NoSymbols { records: 0, .. }), "{what}: {m}");
        assert!(m.contains(expect), "{what}: {m}");
        assert!(m.contains("linux-image-7.3.4+deb13-arm64-dbg"), "{what}: {m}");
        assert!(m.contains("graft-inspect live"), "{what}: {m}");
        assert!(!m.contains("lzop"), "{what}: {m}");
    }
    // no banner: the hint still says where, with the release left to fill
    let mut bare = img.clone();
    let at = bare.windows(14).rposition(|w| w == b"Linux version ").unwrap();
    bare[at] = b'l';
    assert!(inspect(&bare).unwrap_err().to_string().contains("linux-image-<release>-dbg"));
}

/// Debian's own vmlinuz of `abi` (`qemu-images/fetch-debian-kernel.sh`),
/// or a loud skip (a failure under `GRAFT_REQUIRE_DATA=1`, as `make test`
/// runs the tests, after fetching both).
fn debian_vmlinuz(test: &str, abi: &str) -> Option<PathBuf> {
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
    if found.is_none() {
        let msg = format!(
            "{test}: SKIPPED: no Debian {abi} vmlinuz in {} (run qemu-images/fetch-debian-kernel.sh; `make test` does)",
            cache().display()
        );
        if std::env::var("GRAFT_REQUIRE_DATA").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        let _ = writeln!(std::io::stderr().lock(), "{msg}");
    }
    found
}

/// Debian's amd64 vmlinuz: extracted, refused, pointing at its -dbg package.
#[test]
fn debians_vmlinuz_points_at_its_dbg_package() {
    let abi = "7.3.4+deb13-amd64";
    let Some(path) = debian_vmlinuz("debians_vmlinuz_points_at_its_dbg_package", abi) else { return };
    let e = inspect(&std::fs::read(&path).unwrap()).unwrap_err();
    let m = e.to_string();
    assert!(m.contains(&format!("linux-image-{abi}-dbg")), "{m}");
    assert!(m.contains("zstd stream"), "{m}");
}

/// Debian's arm64 vmlinuz, an uncompressed arm64 Image: refused as one,
/// pointing at its -dbg package (the release from its banner).
#[test]
fn debians_arm64_vmlinuz_is_an_image_pointing_at_its_dbg_package() {
    let abi = "7.3.4+deb13-arm64";
    let Some(path) = debian_vmlinuz("debians_arm64_vmlinuz_is_an_image_pointing_at_its_dbg_package", abi) else {
        return;
    };
    let e = inspect(&std::fs::read(&path).unwrap()).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, InspectError::NoSymbols { records: 0, .. }), "{m}");
    assert!(m.contains("arm64 kernel Image (uncompressed)"), "{m}");
    assert!(m.contains(&format!("linux-image-{abi}-dbg")), "{m}");
}

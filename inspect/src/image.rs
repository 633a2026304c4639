//! Compressed kernel images (`vmlinuz`, `bzImage`, `Image.gz`): the vmlinux
//! ELF inside, found as the kernel's `scripts/extract-vmlinux` finds it (the
//! first compressed stream, at any offset, that decompresses to an ELF
//! file), with the same decompressors, run as programs.
//!
//! An arm64 kernel `Image` is no ELF file at all: the raw bytes of the
//! kernel's memory image behind a 64-byte boot header, with neither symbols
//! nor sections.  Debian's arm64 `vmlinuz` is one, uncompressed; an
//! `Image.gz` holds one in a gzip stream.  [`arm64_image`] recognises it, so
//! that it is refused for what it is.

use std::io::Write;
use std::process::{Command, Stdio};

/// A decompressor: the magic its stream starts with and the program that
/// reads the stream on stdin (extract-vmlinux's list).
const DECOMPRESSORS: [(&[u8], &str, &[&str]); 7] = [
    (b"\x1f\x8b\x08", "gzip", &["-dc"]),
    (b"\xfd7zXZ\x00", "xz", &["-dc"]),
    (b"BZh", "bzip2", &["-dc"]),
    (b"\x5d\x00\x00\x00", "xz", &["-dc", "--format=lzma"]),
    (b"\x89\x4c\x5a", "lzop", &["-dc"]),
    (b"\x02\x21\x4c\x18", "lz4", &["-dc"]),
    (b"\x28\xb5\x2f\xfd", "zstd", &["-dc"]),
];

/// The kernel found in a compressed kernel image.
#[derive(Clone, Debug)]
pub struct Extracted {
    /// The kernel inside: an ELF file (the vmlinux), or an arm64 `Image`
    /// ([`arm64_image`]: no ELF, no symbols).
    pub kernel: Vec<u8>,
    /// How: `zstd stream at offset 21196`.
    pub how: String,
    /// The kernel release the image names (x86 boot header's
    /// `kernel_version`, else the banner of the kernel inside), e.g.
    /// `7.3.4+deb13-amd64`.
    pub release: Option<String>,
}

/// Whether `data` starts as an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Whether `data` is an arm64 kernel `Image`: `struct arm64_image_header`
/// (arch/arm64/include/asm/image.h, Documentation/arch/arm64/booting.rst)
/// has `magic`, `ARM64_IMAGE_MAGIC` (`"ARM\x64"`), at offset 56.
pub fn arm64_image(data: &[u8]) -> bool {
    data.get(56..60) == Some(b"ARM\x64".as_slice())
}

/// The release in the kernel's banner, `linux_banner` of
/// init/version-timestamp.c (`"Linux version <release> (<builder>@..."`),
/// found in an uncompressed kernel (a vmlinux or an arm64 `Image` holds it
/// in its read-only data).
pub fn banner_release(data: &[u8]) -> Option<String> {
    const BANNER: &[u8] = b"Linux version ";
    let mut from = 0;
    while let Some(pos) = find(&data[from..], BANNER).map(|p| p + from) {
        from = pos + 1;
        let rest = &data[pos + BANNER.len()..];
        let end = rest.iter().take(65).position(|&b| b == b' ')?;
        // the banner goes on with " (": anything else is another string
        // that happens to start the same way
        if end > 0 && rest.get(end + 1) == Some(&b'(') {
            if let Ok(r) = std::str::from_utf8(&rest[..end]) {
                if r.bytes().all(|b| b.is_ascii_graphic()) {
                    return Some(r.to_string());
                }
            }
        }
    }
    None
}

/// The release an x86 boot image names: the setup header (`HdrS` at 0x202)
/// holds at 0x20e the offset, from 0x200, of the version string
/// (Documentation/arch/x86/boot.rst), `"<release> (<builder>) #..."`.
pub fn x86_release(data: &[u8]) -> Option<String> {
    if data.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let off = u16::from_le_bytes([*data.get(0x20e)?, *data.get(0x20f)?]);
    let s = data.get(0x200 + usize::from(off)..)?;
    let s = &s[..s.iter().position(|&b| b == 0)?.min(256)];
    let s = std::str::from_utf8(s).ok()?;
    s.split_whitespace().next().map(str::to_string)
}

fn decompress(prog: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = input.to_vec();
    // A writer thread: the decompressor's output fills its pipe while it
    // still reads; what follows the stream is garbage to it (an error we
    // ignore, as extract-vmlinux does: the output is judged, not the status).
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().ok()?;
    let _ = writer.join();
    Some(out.stdout)
}

/// The kernel inside a compressed kernel image: the first stream that
/// decompresses to an ELF file (the vmlinux) or to an arm64 `Image`; `None`
/// when none does (or no decompressor for it is installed: `missing` names
/// the programs that were needed and absent).
pub fn extract(data: &[u8], missing: &mut Vec<&'static str>) -> Option<Extracted> {
    for (magic, prog, args) in DECOMPRESSORS {
        let mut from = 0;
        while let Some(pos) = find(&data[from..], magic).map(|p| p + from) {
            from = pos + 1;
            match decompress(prog, args, &data[pos..]) {
                Some(out) if is_elf(&out) || arm64_image(&out) => {
                    let release = x86_release(data).or_else(|| banner_release(&out));
                    return Some(Extracted { kernel: out, how: format!("{prog} stream at offset {pos}"), release });
                }
                Some(_) => {}
                None => {
                    if !missing.contains(&prog) {
                        missing.push(prog);
                    }
                    break;
                }
            }
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

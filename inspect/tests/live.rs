//! `graft-inspect live` on fake files: a tracefs
//! `available_filter_functions_addrs`, a `/proc/kallsyms` and a
//! `/proc/kcore` (an ELF core file with `PT_LOAD` segments over made-up
//! x86_64 text: vmlinux and a module).

use graft_inspect::live::{live, parse_filter_addrs, LivePaths, Record};
use graft_inspect::InspectError;
use std::path::{Path, PathBuf};

const TEXT: u64 = 0xffff_ffff_8100_0000;
const MODTEXT: u64 = 0xffff_ffff_c000_0000;

/// An x86_64 ELF core file: one PT_LOAD per (vaddr, bytes).
fn kcore(segments: &[(u64, &[u8])], e_type: u16) -> Vec<u8> {
    let phoff = 64u64;
    let mut off = phoff + 56 * segments.len() as u64;
    let mut f = vec![0u8; 64];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little-endian
    f[6] = 1;
    f[16..18].copy_from_slice(&e_type.to_le_bytes());
    f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[32..40].copy_from_slice(&phoff.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
    let mut data = Vec::new();
    for (va, bytes) in segments {
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[8..16].copy_from_slice(&off.to_le_bytes());
        ph[16..24].copy_from_slice(&va.to_le_bytes());
        ph[32..40].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        f.extend(ph);
        data.extend_from_slice(bytes);
        off += bytes.len() as u64;
    }
    f.extend(data);
    f
}

const ENDBR: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];

/// vmlinux text: four functions at 0x100-byte steps from TEXT + 0x100.
fn text() -> Vec<u8> {
    let mut t = vec![0xccu8; 0x600];
    let put = |t: &mut Vec<u8>, at: usize, b: &[u8]| t[at..at + b.len()].copy_from_slice(b);
    // fn_endbr: endbr64, then the disabled site.
    put(&mut t, 0x100, &ENDBR);
    put(&mut t, 0x104, &NOP5);
    // fn_plain: the site first.
    put(&mut t, 0x200, &NOP5);
    // fn_traced: endbr64, call rel32 to TEXT + 0x500 (a trampoline).
    put(&mut t, 0x300, &ENDBR);
    let rel = (0x500i64 - (0x304 + 5)) as i32;
    put(&mut t, 0x304, &[0xe8]);
    put(&mut t, 0x305, &rel.to_le_bytes());
    // fn_odd: a record, but push %rbp; mov %rsp,%rbp where the site should be.
    put(&mut t, 0x400, &ENDBR);
    put(&mut t, 0x404, &[0x55, 0x48, 0x89, 0xe5, 0x90]);
    t
}

struct Fake {
    dir: PathBuf,
}

impl Fake {
    fn new(tag: &str, filter: &str, kallsyms: &str, core: &[u8]) -> Self {
        let dir = std::env::temp_dir().join(format!("graft-inspect-live-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("available_filter_functions_addrs"), filter).unwrap();
        std::fs::write(dir.join("kallsyms"), kallsyms).unwrap();
        std::fs::write(dir.join("kcore"), core).unwrap();
        Fake { dir }
    }
    fn paths(&self) -> LivePaths {
        LivePaths {
            filter_addrs: self.dir.join("available_filter_functions_addrs"),
            kallsyms: self.dir.join("kallsyms"),
            kcore: self.dir.join("kcore"),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn filter() -> String {
    format!(
        "{:x} fn_endbr\n{:x} fn_plain\n{:x} fn_traced\n{:x} fn_odd\n{:x} __ftrace_invalid_address___64\n{:x} mod_fn [graft_test]\n",
        TEXT + 0x104,
        TEXT + 0x200,
        TEXT + 0x304,
        TEXT + 0x404,
        TEXT + 0x480,
        MODTEXT + 0x14
    )
}

fn kallsyms() -> String {
    format!(
        "{:016x} T _stext\n{:016x} T fn_endbr\n{:016x} t fn_plain\n{:016x} T fn_traced\n{:016x} T fn_odd\n{:016x} D some_data\n{:016x} t mod_fn\t[graft_test]\n{:016x} t mod_next\t[graft_test]\n",
        TEXT,
        TEXT + 0x100,
        TEXT + 0x200,
        TEXT + 0x300,
        TEXT + 0x400,
        TEXT + 0x440,
        MODTEXT + 0x10,
        MODTEXT + 0x40
    )
}

fn modtext() -> Vec<u8> {
    let mut m = vec![0x90u8; 0x100];
    m[0x10..0x14].copy_from_slice(&ENDBR);
    m[0x14..0x19].copy_from_slice(&NOP5);
    m
}

#[test]
fn classifies_the_running_kernels_sites_from_live_text() {
    let t = text();
    let m = modtext();
    let f = Fake::new("ok", &filter(), &kallsyms(), &kcore(&[(TEXT, &t), (MODTEXT, &m)], 4));
    let r = live(&f.paths()).unwrap();
    assert_eq!(r.arch, "x86_64");
    assert_eq!(r.records, 5, "the invalid record is left out");
    let get = |n: &str| r.functions.iter().find(|x| x.function == n).unwrap_or_else(|| panic!("{n}: {r:?}"));
    let e = get("fn_endbr");
    assert_eq!((e.address, e.site, e.patchable), (TEXT + 0x100, Some(TEXT + 0x104), true));
    assert!(e.reason.contains("endbr") && e.reason.contains("disabled"), "{}", e.reason);
    let p = get("fn_plain");
    assert_eq!((p.site, p.patchable), (Some(TEXT + 0x200), true));
    let tr = get("fn_traced");
    assert!(tr.patchable && tr.reason.contains(&format!("traced, calls {:#x}", TEXT + 0x500)), "{}", tr.reason);
    let odd = get("fn_odd");
    assert!(!odd.patchable, "{odd:?}");
    let md = get("mod_fn [graft_test]");
    assert_eq!((md.address, md.site, md.patchable), (MODTEXT + 0x10, Some(MODTEXT + 0x14), true));
    assert_eq!(r.patchable(), 4);
    let table = graft_inspect::to_table(&r);
    assert!(table.contains("x86_64: 5 functions, 5 ftrace records, 4 patchable, 1 not"), "{table}");
}

#[test]
fn text_outside_kcore_is_said() {
    let t = text();
    let f = Fake::new("nomod", &filter(), &kallsyms(), &kcore(&[(TEXT, &t)], 4));
    let r = live(&f.paths()).unwrap();
    let md = r.functions.iter().find(|x| x.function == "mod_fn [graft_test]").unwrap();
    assert!(!md.patchable && md.reason.contains("not in /proc/kcore"), "{md:?}");
}

#[test]
fn refusals_name_the_file_and_what_it_needs() {
    let t = text();
    let core = kcore(&[(TEXT, &t)], 4);
    // kallsyms read without root: every address 0.
    let zeros = kallsyms().lines().map(|l| format!("{:016x}{}\n", 0, &l[16..])).collect::<String>();
    let f = Fake::new("zeros", &filter(), &zeros, &core);
    let e = live(&f.paths()).unwrap_err().to_string();
    assert!(e.contains("needs root"), "{e}");
    // No kcore, no tracefs file.
    let f = Fake::new("missing", &filter(), &kallsyms(), &core);
    let mut p = f.paths();
    p.kcore = f.dir.join("no-kcore");
    let e = live(&p).unwrap_err().to_string();
    assert!(e.contains("no-kcore") && e.contains("not found"), "{e}");
    p = f.paths();
    p.filter_addrs = Path::new("/nonexistent/tracing/available_filter_functions_addrs").into();
    assert!(matches!(live(&p), Err(InspectError::Live(m)) if m.contains("available_filter_functions_addrs")));
    // Not a core file.
    let f = Fake::new("exec", &filter(), &kallsyms(), &kcore(&[(TEXT, &t)], 2));
    let e = live(&f.paths()).unwrap_err().to_string();
    assert!(e.contains("ET_CORE"), "{e}");
    let f = Fake::new("short", &filter(), &kallsyms(), b"\x7fELF");
    assert!(live(&f.paths()).unwrap_err().to_string().contains("too short"));
    // A garbled tracefs line.
    let f = Fake::new("garbled", "not-hex fn\n", &kallsyms(), &core);
    assert!(live(&f.paths()).unwrap_err().to_string().contains("line 1"));
}

#[test]
fn filter_lines_parse_as_ftrace_prints_them() {
    let r = parse_filter_addrs("ffffffff81000104 fn_a\nffffffffc0000014 mod_fn [graft_test]\n\n").unwrap();
    assert_eq!(
        r,
        [
            Record { ip: 0xffff_ffff_8100_0104, name: "fn_a".into(), module: None },
            Record { ip: 0xffff_ffff_c000_0014, name: "mod_fn".into(), module: Some("graft_test".into()) },
        ]
    );
}

/// The binary itself: `graft-inspect live` with the fake files.
#[test]
fn the_command_runs_live_on_fake_files() {
    let t = text();
    let m = modtext();
    let f = Fake::new("cmd", &filter(), &kallsyms(), &kcore(&[(TEXT, &t), (MODTEXT, &m)], 4));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graft-inspect"))
        .args(["live", "--json", "--tracefs"])
        .arg(&f.dir)
        .arg("--kallsyms")
        .arg(f.dir.join("kallsyms"))
        .arg("--kcore")
        .arg(f.dir.join("kcore"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s.lines().count(), 5);
    assert!(s.contains("\"function\":\"mod_fn [graft_test]\""), "{s}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graft-inspect"))
        .args(["live", "--kcore", "/nonexistent/kcore", "--tracefs"])
        .arg(&f.dir)
        .arg("--kallsyms")
        .arg(f.dir.join("kallsyms"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kcore: not found"));
}

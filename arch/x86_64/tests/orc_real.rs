//! The ORC unwinder on the real tables of two real kernels: Debian's stock
//! amd64 kernel (`linux-binary-7.3.4+deb13-amd64`, trixie-backports, built
//! by gcc 14), the vmlinux that `qemu-images/fetch-debian-kernel.sh`
//! extracts from its vmlinuz with the kernel's `scripts/extract-vmlinux` (no
//! symbol table: Debian strips it), and graft's own x86_64 kernel built
//! with ORC instead of frame pointers (clang 19; `GRAFT_KERNEL_VARIANT=orc
//! qemu-images/build-kernel.sh x86_64`, `qemu-images/config/x86_64-orc.config`).
//! Every test runs on both (`debian_*` and `own_*`).
//!
//! Cross-checks: section addresses and sizes against `readelf -S`; the
//! `.orc_header` hash against the kernel's own `scripts/orc_hash.sh` run on
//! 7.3's `orc_types.h`; every entry's decoding against gcc's layout of the
//! kernel's `struct orc_entry` (its text cut out of `orc_types.h`); the
//! lookup table against the whole-table search at every entry; direct call
//! targets and call sites from `objdump -d` (a function is entered with its
//! return address on top: `CFA = sp + 8`); and walks of stacks laid out
//! as the real entries of real call sites describe them.
//!
//! Where the data is absent the tests say so on stderr (uncaptured) and
//! pass, unless `GRAFT_REQUIRE_DATA=1` (set by `make test`, whose set-up
//! prepares the data), which makes them fail.

use graft_core::{SavedRegs, TextAddr, TextInfo, TextKind};
use graft_x86_64::orc::{
    build_lookup, check_header, kind, lookup_words, reg, NoModules, Orc, OrcEntry, OrcTable, VmlinuxOrc, ORC_HASH,
};
use graft_x86_64::testing::OrcStack;
use object::{Object, ObjectSection};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cache() -> PathBuf {
    if let Some(c) = std::env::var_os("GRAFT_CACHE") {
        return c.into();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    base.join("graft")
}

/// The newest `<cache>/<dir>/<prefix>*/<file>`.
fn newest(dir: &str, prefix: &str, file: &str) -> Option<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache().join(dir))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path().join(file))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v.pop()
}

/// The data, or a loud skip (a failure under `GRAFT_REQUIRE_DATA=1`).
fn data(test: &str, what: &str, p: Option<PathBuf>) -> Option<PathBuf> {
    if p.is_some() {
        return p;
    }
    let msg = format!("{test}: SKIPPED: no {what} in {} (run `make test-data`; `make test` does)", cache().display());
    if std::env::var("GRAFT_REQUIRE_DATA").as_deref() == Ok("1") {
        panic!("{msg}");
    }
    // Straight to fd 2: libtest captures only the print macros.
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
    None
}

/// A kernel whose tables are tested, and what its size promises.
struct Kernel {
    path: PathBuf,
    /// At least this many ORC entries.
    min_entries: usize,
    /// At least this many direct calls in `.text`.
    min_calls: usize,
}

/// Debian's stock amd64 kernel: half a million entries.
fn debian(test: &str) -> Option<Kernel> {
    let p = std::env::var_os("GRAFT_DEBIAN_VMLINUX")
        .map(PathBuf::from)
        .or_else(|| newest("debian", "7.3.4+deb13-amd64-", "vmlinux"));
    let path = data(test, "Debian amd64 vmlinux", p)?;
    Some(Kernel { path, min_entries: 500_000, min_calls: 200_000 })
}

/// graft's own x86_64 kernel (a tinyconfig with graft's fragments) built
/// with ORC: tens of thousands of entries.
fn own(test: &str) -> Option<Kernel> {
    let path = data(test, "x86_64 kernel built with ORC", newest("kernels", "x86_64-orc-", "vmlinux"))?;
    Some(Kernel { path, min_entries: 20_000, min_calls: 10_000 })
}

fn orc_types_h(test: &str) -> Option<PathBuf> {
    data(test, "linux-source-7.3 tree", newest("src", "linux-7.3", "arch/x86/include/asm/orc_types.h"))
}

/// A section: address, size, and its file range (`None` for NOBITS).
type Section = (u64, u64, Option<(u64, u64)>);

struct Sections {
    bytes: Vec<u8>,
    sect: HashMap<String, Section>,
}

impl Sections {
    fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap();
        let mut sect = HashMap::new();
        {
            let f = object::File::parse(&*bytes).unwrap();
            for s in f.sections() {
                if let Ok(name) = s.name() {
                    sect.insert(name.to_string(), (s.address(), s.size(), s.file_range()));
                }
            }
        }
        Sections { bytes, sect }
    }
    fn get(&self, name: &str) -> (u64, &[u8]) {
        let (addr, _, range) = self.sect[name];
        let (off, len) = range.expect("section has file data");
        (addr, &self.bytes[off as usize..(off + len) as usize])
    }
    fn range(&self, name: &str) -> (u64, u64) {
        let (a, s, _) = self.sect[name];
        (a, a + s)
    }
}

/// vmlinux's table and the lookup table `unwind_init()` builds for `.text`
/// (`_stext` and `_etext` bound `.text` in arch/x86/kernel/vmlinux.lds.S).
struct Vmlinux {
    s: Sections,
    lookup: Vec<u8>,
}

impl Vmlinux {
    fn load(path: &Path) -> Self {
        let s = Sections::read(path);
        let text = s.range(".text");
        let lookup = {
            let (ipa, ip) = s.get(".orc_unwind_ip");
            let (_, un) = s.get(".orc_unwind");
            let t = OrcTable::new(ipa, ip, un).unwrap();
            let mut l = vec![0; 4 * lookup_words(text)];
            build_lookup(&t, text, &mut l).unwrap();
            l
        };
        Vmlinux { s, lookup }
    }
    fn orc(&self) -> VmlinuxOrc<'_> {
        let (ipa, ip) = self.s.get(".orc_unwind_ip");
        let (_, un) = self.s.get(".orc_unwind");
        VmlinuxOrc {
            table: OrcTable::new(ipa, ip, un).unwrap(),
            lookup: &self.lookup,
            text: self.s.range(".text"),
            init_text: self.s.range(".init.text"),
        }
    }
}

/// `#[test]`s `$debian` and `$own`: `$test` on Debian's kernel and on
/// graft's own, each skipped (or failed) as [`data`] says when its kernel
/// is absent.
macro_rules! both {
    ($debian:ident, $own:ident, $test:ident) => {
        #[test]
        fn $debian() {
            if let Some(k) = debian(stringify!($debian)) {
                $test(&k);
            }
        }

        #[test]
        fn $own() {
            if let Some(k) = own(stringify!($own)) {
                $test(&k);
            }
        }
    };
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

both!(debian_sections_agree_with_readelf, own_sections_agree_with_readelf, sections_agree_with_readelf);

fn sections_agree_with_readelf(k: &Kernel) {
    let path = &k.path;
    let s = Sections::read(path);
    let text = run(Command::new("readelf").args(["-S", "-W"]).arg(path));
    let mut seen = 0;
    for line in text.lines() {
        // "  [17] .orc_unwind_ip    PROGBITS  ffffffff83584874 2784874 20701c 00   A  0   0  1"
        let Some(rest) = line.split_once(']').map(|x| x.1) else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let name = f[0];
        if ![".text", ".init.text", ".orc_header", ".orc_unwind_ip", ".orc_unwind", ".orc_lookup"].contains(&name) {
            continue;
        }
        let (addr, size, _) = s.sect[name];
        assert_eq!(u64::from_str_radix(f[2], 16).unwrap(), addr, "{name} address");
        assert_eq!(u64::from_str_radix(f[4], 16).unwrap(), size, "{name} size");
        seen += 1;
    }
    assert_eq!(seen, 6, "readelf lists the six sections");
    let (_, ip) = s.get(".orc_unwind_ip");
    let (_, un) = s.get(".orc_unwind");
    assert_eq!(ip.len() / 4, un.len() / 6);
    assert!(ip.len() / 4 > k.min_entries, "{} ORC entries, fewer than {}", ip.len() / 4, k.min_entries);
    // .orc_lookup is space the linker sized from _etext - _stext (the same
    // number of words as for .text), filled at boot: NOBITS in Debian's
    // vmlinux (extract-vmlinux's ELF), zeros in a built vmlinux.
    let (_, lsize, range) = s.sect[".orc_lookup"];
    assert!(range.is_none() || s.get(".orc_lookup").1.iter().all(|&b| b == 0), ".orc_lookup is filled at boot");
    assert_eq!(lsize as usize, 4 * lookup_words(s.range(".text")));
    eprintln!("{}: {} ORC entries, {} lookup words", path.display(), ip.len() / 4, lsize / 4);
}

both!(debian_header_is_7_3s_orc_hash, own_header_is_7_3s_orc_hash, header_is_7_3s_orc_hash);

fn header_is_7_3s_orc_hash(k: &Kernel) {
    let path = &k.path;
    let Some(h) = orc_types_h("header_is_7_3s_orc_hash") else { return };
    let s = Sections::read(path);
    check_header(s.get(".orc_header").1).unwrap();
    // The kernel's own script on the source's header.
    let src = h.ancestors().nth(5).unwrap();
    let out = run(Command::new("sh")
        .arg("-c")
        .arg("sh scripts/orc_hash.sh < arch/x86/include/asm/orc_types.h")
        .current_dir(src));
    let hex: Vec<u8> = out
        .trim()
        .trim_start_matches("#define ORC_HASH ")
        .split(',')
        .filter(|x| !x.is_empty())
        .map(|x| u8::from_str_radix(x.trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert_eq!(hex, ORC_HASH);
}

both!(
    debian_entries_decode_as_gcc_lays_them_out,
    own_entries_decode_as_gcc_lays_them_out,
    entries_decode_as_gcc_lays_them_out
);

/// Every entry of `.orc_unwind`, as gcc lays out the kernel's own
/// `struct orc_entry` (cut out of orc_types.h as scripts/orc_hash.sh cuts
/// it), decodes to the same fields.
fn entries_decode_as_gcc_lays_them_out(k: &Kernel) {
    let path = &k.path;
    let Some(h) = orc_types_h("entries_decode_as_gcc_lays_them_out") else { return };
    let s = Sections::read(path);
    let (_, un) = s.get(".orc_unwind");
    let dir = std::env::temp_dir().join(format!("graft-orc-debian-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = std::fs::read_to_string(&h).unwrap();
    let start = header.find("struct orc_entry {").unwrap();
    let end = start + header[start..].find("} __packed;").unwrap() + "} __packed;".len();
    let program = format!(
        "#include <stdio.h>\n#include <string.h>\ntypedef short s16;\n#define __packed __attribute__((packed))\n\
         #define __LITTLE_ENDIAN_BITFIELD\n{}\n\
         int main(void) {{ struct orc_entry e; while (fread(&e, sizeof(e), 1, stdin) == 1)\n\
         printf(\"%d %d %u %u %u %u\\n\", e.sp_offset, e.bp_offset, e.sp_reg, e.bp_reg, e.type, e.signal);\n\
         return sizeof(e) != 6; }}\n",
        &header[start..end]
    );
    std::fs::write(dir.join("dump.c"), program).unwrap();
    std::fs::write(dir.join("orc_unwind.bin"), un).unwrap();
    run(Command::new("gcc").args(["-O1", "-o"]).arg(dir.join("dump")).arg(dir.join("dump.c")));
    let out = run(Command::new(dir.join("dump")).stdin(std::fs::File::open(dir.join("orc_unwind.bin")).unwrap()));
    let mut n = 0;
    for (i, line) in out.lines().enumerate() {
        let f: Vec<i32> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        let want = OrcEntry {
            sp_offset: f[0] as i16,
            bp_offset: f[1] as i16,
            sp_reg: f[2] as u8,
            bp_reg: f[3] as u8,
            kind: f[4] as u8,
            signal: f[5] != 0,
        };
        let mut b = [0u8; 6];
        b.copy_from_slice(&un[6 * i..6 * i + 6]);
        assert_eq!(OrcEntry::decode(b), want, "entry {i}");
        n += 1;
    }
    assert_eq!(n, un.len() / 6);
    std::fs::remove_dir_all(&dir).ok();
}

both!(
    debian_lookup_agrees_with_the_whole_table,
    own_lookup_agrees_with_the_whole_table,
    lookup_agrees_with_the_whole_table
);

fn lookup_agrees_with_the_whole_table(k: &Kernel) {
    let path = &k.path;
    let v = Vmlinux::load(path);
    let o = v.orc();
    o.check().unwrap();
    let t = o.table;
    let mut checked = 0;
    for i in 0..t.len() {
        let ip = t.ip(i);
        for a in [ip.wrapping_sub(1), ip, ip + 1] {
            if a >= o.text.0 && a < o.text.1 {
                assert_eq!(o.find(a), t.find(a).map(|j| t.entry(j)), "{a:#x}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * k.min_entries, "{checked}");
    // Every block boundary, and init text through the whole table.
    for b in 0..lookup_words(o.text) - 1 {
        let a = o.text.0 + 256 * b as u64;
        assert_eq!(o.find(a), t.find(a).map(|j| t.entry(j)));
    }
    let init = o.init_text.0 + 0x100;
    assert!(o.find(init).is_some());
    assert_eq!(o.find(o.text.1), None, "between .text and init text: no vmlinux text");
}

/// Direct calls in `.text`, from objdump: (call instruction, its length,
/// target).
fn calls(path: &Path) -> Vec<(u64, u64, u64)> {
    let dis = run(Command::new("objdump").args(["-d", "--no-show-raw-insn", "-j", ".text"]).arg(path));
    let mut insns: Vec<(u64, Option<u64>)> = Vec::new();
    for line in dis.lines() {
        let Some((a, rest)) = line.split_once(":\t") else { continue };
        let Ok(a) = u64::from_str_radix(a.trim(), 16) else { continue };
        let mut f = rest.split_whitespace();
        let target = match (f.next(), f.next()) {
            // `call 0xffffffff81234567` in a stripped vmlinux, `call
            // ffffffff81234567 <name>` in one with symbols.
            (Some("call"), Some(t)) => u64::from_str_radix(t.trim_start_matches("0x"), 16).ok(),
            _ => None,
        };
        insns.push((a, target));
    }
    insns.windows(2).filter_map(|w| w[0].1.map(|t| (w[0].0, w[1].0 - w[0].0, t))).collect()
}

both!(
    debian_call_targets_and_sites_agree_with_objdump,
    own_call_targets_and_sites_agree_with_objdump,
    call_targets_and_sites_agree_with_objdump
);

fn call_targets_and_sites_agree_with_objdump(k: &Kernel) {
    let path = &k.path;
    let v = Vmlinux::load(path);
    let o = v.orc();
    let calls = calls(path);
    assert!(calls.len() > k.min_calls, "{} direct calls, fewer than {}", calls.len(), k.min_calls);
    // A function is entered with the return address on top: CFA = sp + 8,
    // bp untouched.  The exceptions are code objtool leaves undescribed
    // (retpoline and return thunks, undefined entries) and a few
    // intra-function calls: under 1% of the targets.
    let mut targets: Vec<u64> = calls.iter().map(|c| c.2).collect();
    targets.sort_unstable();
    targets.dedup();
    let entry = OrcEntry {
        sp_offset: 8,
        bp_offset: 0,
        sp_reg: reg::SP,
        bp_reg: reg::UNDEFINED,
        kind: kind::CALL,
        signal: false,
    };
    let at_entry = targets.iter().filter(|&&t| o.find(t) == Some(entry)).count();
    assert!(
        at_entry * 100 >= targets.len() * 99,
        "{at_entry} of {} call targets enter with CFA = sp + 8",
        targets.len()
    );
    // At a call instruction the frame it pushes onto is described: a CFA
    // 8-aligned and at least a word above sp, but for a few asm tricks
    // (intra-function calls, objtool's ANNOTATE_INTRA_FUNCTION_CALL), which
    // the walk refuses as not moving up.
    let mut kinds = HashMap::new();
    let mut low = Vec::new();
    for &(site, len, _) in &calls {
        let ret = site + len;
        let e = o.find(ret - 1).expect("every call site has an entry");
        *kinds.entry(e.kind).or_insert(0) += 1;
        if e.kind == kind::CALL && e.sp_reg == reg::SP {
            assert!(e.sp_offset % 8 == 0, "call at {site:#x}: {e:?}");
            if e.sp_offset < 8 {
                low.push(site);
            }
        }
    }
    assert!(low.len() < 16, "{} call sites with CFA below sp + 8: {low:x?}", low.len());
    let undefined = kinds.get(&kind::UNDEFINED).copied().unwrap_or(0);
    assert!(undefined * 100 < calls.len(), "{undefined} call sites without unwind data");
    assert!(kinds.get(&kind::END_OF_STACK).copied().unwrap_or(0) >= 1, "ret_from_fork_asm's call");
    assert!(kinds.get(&kind::REGS).copied().unwrap_or(0) >= 1, "entry code's calls");
    eprintln!(
        "{} calls to {} targets ({at_entry} at function entry); call sites by type: {kinds:?}; CFA below sp + 8: {low:x?}",
        calls.len(),
        targets.len()
    );
}

struct KernelText((u64, u64), (u64, u64));
impl TextInfo for KernelText {
    fn kind(&self, a: TextAddr) -> TextKind {
        let (t, i) = (self.0, self.1);
        if (a.0 >= t.0 && a.0 < t.1) || (a.0 >= i.0 && a.0 < i.1) {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

/// Whether `OrcStack::frame_for` can lay a frame for `e`.
fn layable(e: &OrcEntry) -> bool {
    let sp_ok = match e.sp_reg {
        reg::SP => e.sp_offset >= 8 && e.sp_offset % 8 == 0,
        reg::BP => e.sp_offset >= 16 && e.sp_offset % 8 == 0,
        _ => false,
    };
    let bp_ok = match e.bp_reg {
        reg::UNDEFINED => true,
        reg::PREV_SP => e.bp_offset <= -16 && e.bp_offset % 8 == 0 && -e.bp_offset <= e.sp_offset,
        _ => false,
    };
    e.kind == kind::CALL && !e.signal && sp_ok && bp_ok
}

both!(debian_walks_over_real_call_sites, own_walks_over_real_call_sites, walks_over_real_call_sites);

/// Stacks laid out as the real entries of real call sites say, walked:
/// kernel threads bottoming out at a real end-of-stack call site, user
/// tasks at a real entry-code call site whose pt_regs sit at the CFA.
fn walks_over_real_call_sites(k: &Kernel) {
    let path = &k.path;
    let v = Vmlinux::load(path);
    let o = v.orc();
    let orc = Orc { vmlinux: o, modules: &NoModules, ret_from_fork: TextAddr(0) };
    let text = KernelText(o.text, o.init_text);
    let rets: Vec<(u64, OrcEntry)> =
        calls(path).iter().filter_map(|&(s, l, _)| o.find(s + l - 1).map(|e| (s + l, e))).collect();
    let frames: Vec<&(u64, OrcEntry)> = rets.iter().filter(|(_, e)| layable(e)).collect();
    let ends: Vec<&(u64, OrcEntry)> = rets.iter().filter(|(_, e)| e.kind == kind::END_OF_STACK).collect();
    let syscalls: Vec<&(u64, OrcEntry)> =
        rets.iter().filter(|(_, e)| e.kind == kind::REGS && e.sp_reg == reg::SP && e.sp_offset == 0).collect();
    assert!(frames.len() * 10 > rets.len() * 9, "{} of {} call sites layable", frames.len(), rets.len());
    assert!(!ends.is_empty() && !syscalls.is_empty());
    // A small deterministic generator (xorshift): 2,000 stacks.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = 0xffff_c900_0010_0000;
    let mut walked = 0;
    for k in 0..2000 {
        let user = k % 2 == 0;
        let mut buf = vec![0u8; 16384];
        let mut s = OrcStack::new(&mut buf, base, user, 0);
        let bottom = if user { syscalls[next() as usize % syscalls.len()] } else { ends[next() as usize % ends.len()] };
        s.bottom(bottom.0, !user);
        let mut want = vec![bottom.0];
        let depth = 1 + next() as usize % 24;
        let mut room = 16384 - 168 - 64;
        for _ in 0..depth {
            let &&(ret, e) = &frames[next() as usize % frames.len()];
            let extra = if e.sp_reg == reg::BP { 8 * (next() % 4) } else { 0 };
            let need = (e.sp_offset.unsigned_abs() as u64) + extra + 64;
            if need > room {
                break;
            }
            room -= need;
            s.frame_for(ret, e, extra);
            want.insert(0, ret);
        }
        let regs: SavedRegs = s.switch_out();
        let mut out = vec![TextAddr(0); 64];
        let n = orc
            .unwind_reliable(&regs, s.bounds(), &s.memory(), &text, &mut out)
            .unwrap_or_else(|e| panic!("stack {k}: {e} (want {want:x?})"));
        let got: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
        assert_eq!(got, want, "stack {k}");
        walked += 1;
    }
    assert_eq!(walked, 2000);
}

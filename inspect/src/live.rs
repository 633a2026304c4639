//! `graft-inspect live`: the running kernel's patchable functions.
//!
//! * **Sites**: tracefs `available_filter_functions_addrs`, one line per
//!   ftrace record, `<rec->ip in hex> <symbol>[ [<module>]]` (`t_show()` and
//!   `print_rec()` in kernel/trace/ftrace.c): the functions ftrace can
//!   trace, at the address of their site, after `ftrace_call_adjust()`.
//! * **Functions**: `/proc/kallsyms` gives each symbol's start (the site is
//!   not always the symbol: an `endbr64` comes first on x86, arm64's site
//!   follows `mov x9, x30`), and the next symbol bounds its bytes.
//! * **Text**: the entry's live bytes from `/proc/kcore` (an ELF core
//!   file whose `PT_LOAD` headers map kernel virtual addresses to file
//!   offsets), classified by the backend of the core's `e_machine`, as
//!   `graft.ko` classifies a site before it patches it.
//!
//! All three need root (kallsyms shows zeros without it, tracefs and
//! `/proc/kcore`, `CAP_SYS_RAWIO`, refuse to open): a refusal names the file
//! and what it needs.  The paths are parameters so that tests hand in fake
//! files.

use super::{AnyArch, InspectError, Report, SiteReport};
use graft_core::{Code, TextAddr};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where the live kernel's files are.
#[derive(Clone, Debug)]
pub struct LivePaths {
    /// `available_filter_functions_addrs` (in tracefs, usually
    /// `/sys/kernel/tracing`).
    pub filter_addrs: PathBuf,
    /// `/proc/kallsyms`.
    pub kallsyms: PathBuf,
    /// `/proc/kcore`.
    pub kcore: PathBuf,
}

impl LivePaths {
    /// The system's: tracefs at `/sys/kernel/tracing`, else under debugfs.
    pub fn system() -> Self {
        let t = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .map(|d| Path::new(d).join("available_filter_functions_addrs"))
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("/sys/kernel/tracing/available_filter_functions_addrs"));
        LivePaths { filter_addrs: t, kallsyms: "/proc/kallsyms".into(), kcore: "/proc/kcore".into() }
    }
}

fn refused(path: &Path, what: &str, e: &std::io::Error) -> InspectError {
    let why = match e.kind() {
        ErrorKind::PermissionDenied => format!("permission denied: {what} needs root"),
        ErrorKind::NotFound => "not found".to_string(),
        _ => e.to_string(),
    };
    InspectError::Live(format!("{}: {why}", path.display()))
}

fn read_text(path: &Path, what: &str) -> Result<String, InspectError> {
    let mut s = String::new();
    File::open(path).and_then(|mut f| f.read_to_string(&mut s)).map_err(|e| refused(path, what, &e))?;
    Ok(s)
}

/// One ftrace record: its site address, symbol and module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// `rec->ip`.
    pub ip: u64,
    /// The symbol kallsyms names for it.
    pub name: String,
    /// The module, `None` for vmlinux.
    pub module: Option<String>,
}

/// Parse `available_filter_functions_addrs`.  Records ftrace marks invalid
/// (`__ftrace_invalid_address___<offset>`, a weak function's leftover)
/// are left out, as ftrace never traces them.
pub fn parse_filter_addrs(text: &str) -> Result<Vec<Record>, InspectError> {
    let mut v = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut f = line.split_whitespace();
        let (Some(a), Some(name)) = (f.next(), f.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(InspectError::Live(format!("available_filter_functions_addrs line {}: {line:?}", n + 1)));
        };
        let ip = u64::from_str_radix(a, 16)
            .map_err(|_| InspectError::Live(format!("available_filter_functions_addrs line {}: {line:?}", n + 1)))?;
        if name.starts_with("__ftrace_invalid_address__") {
            continue;
        }
        let module = f.next().map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
        v.push(Record { ip, name: name.to_string(), module });
    }
    Ok(v)
}

/// kallsyms' text symbols: address, name, module, sorted by address, with
/// every symbol's address as a bound for the one before it.
struct Kallsyms {
    /// (address, name, module) of text symbols.
    text: Vec<(u64, String, Option<String>)>,
    /// Every symbol's address, sorted (a function ends where the next
    /// symbol of any kind starts).
    bounds: Vec<u64>,
}

fn parse_kallsyms(text: &str) -> Result<Kallsyms, InspectError> {
    let mut syms = Vec::new();
    let mut bounds = Vec::new();
    let mut nonzero = false;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(a), Some(t), Some(name)) = (f.next(), f.next(), f.next()) else { continue };
        let Ok(addr) = u64::from_str_radix(a, 16) else { continue };
        nonzero |= addr != 0;
        bounds.push(addr);
        if matches!(t, "t" | "T" | "W" | "w") {
            let module = f.next().map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
            syms.push((addr, name.to_string(), module));
        }
    }
    if !nonzero {
        return Err(InspectError::Live(
            "/proc/kallsyms shows every address as 0: reading kernel addresses needs root (and kernel.kptr_restrict < 2)"
                .into(),
        ));
    }
    syms.sort_by_key(|s| s.0);
    bounds.sort_unstable();
    bounds.dedup();
    Ok(Kallsyms { text: syms, bounds })
}

/// `/proc/kcore`: its byte order, machine and `PT_LOAD` segments.
struct Kcore {
    file: File,
    arch: AnyArch,
    /// (virtual address, file offset, file size).
    loads: Vec<(u64, u64, u64)>,
}

impl Kcore {
    fn open(path: &Path) -> Result<Self, InspectError> {
        let mut file = File::open(path).map_err(|e| refused(path, "reading kernel memory (CAP_SYS_RAWIO)", &e))?;
        let bad = |m: &str| InspectError::Live(format!("{}: {m}", path.display()));
        let mut eh = [0u8; 64];
        file.read_exact(&mut eh).map_err(|_| bad("too short for an ELF header"))?;
        if &eh[..4] != b"\x7fELF" || eh[4] != 2 {
            return Err(bad("not a 64-bit ELF core file"));
        }
        let le = match eh[5] {
            1 => true,
            2 => false,
            _ => return Err(bad("unknown ELF byte order")),
        };
        let u16_at = |b: &[u8], o: usize| {
            let x = [b[o], b[o + 1]];
            if le {
                u16::from_le_bytes(x)
            } else {
                u16::from_be_bytes(x)
            }
        };
        let u32_at = |b: &[u8], o: usize| {
            let x = [b[o], b[o + 1], b[o + 2], b[o + 3]];
            if le {
                u32::from_le_bytes(x)
            } else {
                u32::from_be_bytes(x)
            }
        };
        let u64_at = |b: &[u8], o: usize| {
            let x: [u8; 8] = b[o..o + 8].try_into().expect("8 bytes");
            if le {
                u64::from_le_bytes(x)
            } else {
                u64::from_be_bytes(x)
            }
        };
        if u16_at(&eh, 16) != 4 {
            return Err(bad("not an ELF core file (e_type is not ET_CORE)"));
        }
        let arch = match (u16_at(&eh, 18), le) {
            (62, true) => AnyArch::X86_64,
            (183, true) => AnyArch::Arm64,
            (21, true) => AnyArch::Powerpc,
            (22, false) => AnyArch::S390,
            (243, true) => AnyArch::Riscv,
            (m, _) => return Err(InspectError::UnsupportedArch(format!("kcore e_machine {m}"))),
        };
        let phoff = u64_at(&eh, 32);
        let phentsize = usize::from(u16_at(&eh, 54));
        let phnum = usize::from(u16_at(&eh, 56));
        if phentsize < 56 || phnum > 65536 {
            return Err(bad("bad program header table"));
        }
        let mut ph = vec![0u8; phentsize * phnum];
        file.seek(SeekFrom::Start(phoff))
            .and_then(|_| file.read_exact(&mut ph))
            .map_err(|_| bad("program headers cut short"))?;
        let mut loads = Vec::new();
        for p in ph.chunks_exact(phentsize) {
            if u32_at(p, 0) == 1 {
                // PT_LOAD: p_offset, p_vaddr, p_filesz.
                loads.push((u64_at(p, 16), u64_at(p, 8), u64_at(p, 32)));
            }
        }
        Ok(Kcore { file, arch, loads })
    }

    /// The bytes at `[addr, addr + len)`, if one segment holds them all.
    fn read(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let &(va, off, _) = self.loads.iter().find(|&&(va, _, size)| {
            addr >= va && addr.checked_add(len as u64).zip(va.checked_add(size)).is_some_and(|(e, s)| e <= s)
        })?;
        let mut buf = vec![0u8; len];
        self.file.seek(SeekFrom::Start(off.checked_add(addr - va)?)).ok()?;
        self.file.read_exact(&mut buf).ok()?;
        Some(buf)
    }
}

/// Bytes before a symbol handed to the backend (arm64's and riscv's
/// CALL_OPS literal sits before it).
const PRE: u64 = 16;
/// Most bytes of an entry handed to the backend.
const WINDOW: u64 = 64;

/// Every ftrace record of the running kernel, classified from its live text.
pub fn live(paths: &LivePaths) -> Result<Report, InspectError> {
    let recs = parse_filter_addrs(&read_text(&paths.filter_addrs, "tracefs")?)?;
    let syms = parse_kallsyms(&read_text(&paths.kallsyms, "kallsyms")?)?;
    let mut core = Kcore::open(&paths.kcore)?;
    let mut by_module: BTreeMap<(Option<String>, u64), SiteReport> = BTreeMap::new();
    for r in &recs {
        // The text symbol the site lies in: the last one starting at or
        // before it.
        let i = syms.text.partition_point(|s| s.0 <= r.ip);
        let Some((start, name, module)) = i.checked_sub(1).and_then(|i| syms.text.get(i)) else {
            by_module.insert(
                (r.module.clone(), r.ip),
                SiteReport {
                    function: r.name.clone(),
                    address: r.ip,
                    site: Some(r.ip),
                    patchable: false,
                    reason: "no kallsyms text symbol at or before the site".into(),
                },
            );
            continue;
        };
        let start = *start;
        let next = syms.bounds.partition_point(|&b| b <= start);
        let end = syms.bounds.get(next).copied().unwrap_or(start + WINDOW);
        let len = end.saturating_sub(start).min(WINDOW);
        let from = start.saturating_sub(PRE);
        let function = match module {
            Some(m) => format!("{name} [{m}]"),
            None => name.clone(),
        };
        let (site, patchable, reason) = match core.read(from, (start - from + len) as usize) {
            None => (None, false, "its text is not in /proc/kcore".to_string()),
            Some(bytes) => {
                let code = Code { start: TextAddr(from), bytes: &bytes };
                match core.arch.analyze(code, TextAddr(start), Some(TextAddr(r.ip))) {
                    Ok(s) => (Some(s.addr.0), true, format!("{} ({})", s.form, state(s.state))),
                    Err(e) => (None, false, e.to_string()),
                }
            }
        };
        by_module.insert((module.clone(), start), SiteReport { function, address: start, site, patchable, reason });
    }
    Ok(Report { arch: core.arch.name(), records: recs.len(), functions: by_module.into_values().collect() })
}

fn state(s: graft_core::SiteState) -> String {
    match s {
        graft_core::SiteState::Disabled => "disabled".into(),
        graft_core::SiteState::Enabled { target } => format!("traced, calls {target}"),
        graft_core::SiteState::Unconverted { .. } => "unconverted".into(),
    }
}

//! graft-inspect: read an ELF object (a vmlinux, a `.ko` or a `.o`) of any of
//! graft's five arches, find every recorded ftrace site (`__mcount_loc`,
//! `__patchable_function_entries`) and classify each function's entry through
//! its backend's [`EntrySite`].  A compressed kernel image (a distro's
//! `vmlinuz`) is extracted first ([`image`]); the running kernel's sites are
//! read from tracefs, kallsyms and `/proc/kcore` ([`live`]).
//!
//! The arch is picked from the ELF header at run time, so the tool holds an
//! enum with one forwarding impl (as the `object` crate does for formats).
//! Malformed input is an [`InspectError`], never a panic.
#![forbid(unsafe_code)]

use graft_core::{Code, EntrySite, SiteError, TextAddr};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex, SymbolKind};
use std::collections::BTreeMap;

pub mod image;
pub mod live;
pub mod preimage;

/// One function's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteReport {
    /// Symbol name.
    pub function: String,
    /// Symbol address (section-relative in a relocatable object).
    pub address: u64,
    /// The site address the backend found (`rec->ip`), if any.
    pub site: Option<u64>,
    /// Whether graft can patch the function.
    pub patchable: bool,
    /// The recognised form when patchable, else why not.
    pub reason: String,
}

/// Every function of an object.
#[derive(Clone, Debug)]
pub struct Report {
    /// Kernel arch name.
    pub arch: &'static str,
    /// Ftrace records found.
    pub records: usize,
    /// Per function, in section and address order.
    pub functions: Vec<SiteReport>,
}

impl Report {
    /// Functions graft can patch.
    pub fn patchable(&self) -> usize {
        self.functions.iter().filter(|f| f.patchable).count()
    }
    /// The report of function `name`.
    pub fn get(&self, name: &str) -> Option<&SiteReport> {
        self.functions.iter().find(|f| f.function == name)
    }
}

/// Why an object cannot be inspected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InspectError {
    /// Not an ELF file, or malformed.
    Malformed(String),
    /// An ELF machine graft has no backend for.
    UnsupportedArch(String),
    /// A linked image without a symbol table: its ftrace records have no
    /// function names to report them by (a distro's stripped vmlinux).
    NoSymbols {
        /// The ftrace records found all the same.
        records: usize,
        /// Where the symbols are (empty when unknown).
        hint: String,
    },
    /// The running kernel's files cannot be read (`graft-inspect live`).
    Live(String),
}

impl std::fmt::Display for InspectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InspectError::Malformed(m) => write!(f, "malformed ELF: {m}"),
            InspectError::UnsupportedArch(m) => write!(f, "no graft backend for this ELF machine ({m})"),
            InspectError::NoSymbols { records, hint } => {
                f.write_str("no symbol table: graft-inspect reports functions by their symbols")?;
                if *records > 0 {
                    write!(f, " ({records} ftrace records found without names)")?;
                }
                if !hint.is_empty() {
                    write!(f, ". {hint}")?;
                }
                Ok(())
            }
            InspectError::Live(m) => f.write_str(m),
        }
    }
}
impl std::error::Error for InspectError {}

fn malformed(e: impl std::fmt::Display) -> InspectError {
    InspectError::Malformed(e.to_string())
}

/// The arch of an object, known only at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyArch {
    /// x86_64
    X86_64,
    /// arm64
    Arm64,
    /// powerpc (ppc64le)
    Powerpc,
    /// s390x
    S390,
    /// riscv64
    Riscv,
}

impl AnyArch {
    /// Kernel arch name.
    pub fn name(self) -> &'static str {
        match self {
            AnyArch::X86_64 => "x86_64",
            AnyArch::Arm64 => "arm64",
            AnyArch::Powerpc => "powerpc",
            AnyArch::S390 => "s390",
            AnyArch::Riscv => "riscv",
        }
    }
    fn from_object(f: &object::File<'_>) -> Result<Self, InspectError> {
        use object::Architecture as A;
        match (f.architecture(), f.is_little_endian()) {
            (A::X86_64, true) => Ok(AnyArch::X86_64),
            (A::Aarch64, true) => Ok(AnyArch::Arm64),
            (A::PowerPc64, true) => Ok(AnyArch::Powerpc),
            (A::S390x, false) => Ok(AnyArch::S390),
            (A::Riscv64, true) => Ok(AnyArch::Riscv),
            (a, le) => Err(InspectError::UnsupportedArch(format!(
                "{a:?}, {}",
                if le { "little-endian" } else { "big-endian" }
            ))),
        }
    }
    /// Which record sections the kernel uses for this arch: x86 discards
    /// `__patchable_function_entries` (its CALL_PADDING entries are not
    /// sites; `HAVE_DYNAMIC_FTRACE_NO_PATCHABLE`).
    fn record_sections(self) -> &'static [&'static str] {
        match self {
            AnyArch::X86_64 => &["__mcount_loc"],
            _ => &RECORD_SECTIONS,
        }
    }
    /// How far before its symbol a function's record may lie: arm64's
    /// CALL_OPS entries start two NOPs (8 bytes) before the symbol, riscv's
    /// entries 8 bytes of nops (`8,4` or `4,2`); on the other arches the site
    /// is inside the function.
    fn record_lead(self) -> u64 {
        match self {
            AnyArch::Arm64 | AnyArch::Riscv => 8,
            _ => 0,
        }
    }
    /// Forward to the backend's [`EntrySite::analyze_site`] (after its
    /// `call_adjust` of the recorded address).
    pub fn analyze(
        self,
        code: Code<'_>,
        func: TextAddr,
        recorded: Option<TextAddr>,
    ) -> Result<graft_core::Site, SiteError> {
        fn go<A: EntrySite>(c: Code<'_>, f: TextAddr, r: Option<TextAddr>) -> Result<graft_core::Site, SiteError> {
            match r {
                // A record the kernel's ftrace_call_adjust() rejects.
                Some(r) => match A::call_adjust(c, f, r) {
                    Some(ip) => A::analyze_site(c, f, Some(ip)),
                    None => Err(SiteError::RecordMismatch(r)),
                },
                None => A::analyze_site(c, f, None),
            }
        }
        match self {
            AnyArch::X86_64 => go::<graft_x86_64::X86_64>(code, func, recorded),
            AnyArch::Arm64 => go::<graft_arm64::Arm64>(code, func, recorded),
            AnyArch::Powerpc => go::<graft_powerpc::Powerpc>(code, func, recorded),
            AnyArch::S390 => go::<graft_s390::S390>(code, func, recorded),
            AnyArch::Riscv => go::<graft_riscv::Riscv>(code, func, recorded),
        }
    }
}

/// Bytes before a symbol that may belong to its entry sequence (arm64's and
/// riscv's pre-symbol nops hold the CALL_OPS literal; ppc's ool stubs are
/// elsewhere).
const PRE_BYTES: u64 = 16;
/// Most bytes of a function handed to the backend.
const WINDOW: u64 = 64;

/// Section-relative location of a record (relocatable objects) or an
/// absolute address (linked images, where `section` is `None`).
type Loc = (Option<usize>, u64);

const RECORD_SECTIONS: [&str; 2] = ["__mcount_loc", "__patchable_function_entries"];

fn records(f: &object::File<'_>, arch: AnyArch) -> Result<Vec<Loc>, InspectError> {
    let relocatable = f.kind() == object::ObjectKind::Relocatable;
    let mut out = Vec::new();
    let word = |b: &[u8]| {
        let b: [u8; 8] = b.try_into().expect("8-byte chunk");
        if f.is_little_endian() {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    };
    for sec in f.sections() {
        let Ok(name) = sec.name() else { continue };
        if !arch.record_sections().contains(&name) {
            continue;
        }
        if relocatable {
            // Each entry is a 64-bit absolute relocation against a text
            // section (or a symbol in one) plus an addend.
            for (_off, rel) in sec.relocations() {
                let (idx, base) = match rel.target() {
                    RelocationTarget::Section(i) => (i, 0),
                    RelocationTarget::Symbol(si) => {
                        let Ok(sym) = f.symbol_by_index(si) else { continue };
                        match sym.section_index() {
                            Some(i) => (i, sym.address()),
                            None => continue,
                        }
                    }
                    _ => continue,
                };
                out.push((Some(idx.0), base.wrapping_add(rel.addend() as u64)));
            }
        } else {
            let data = sec.data().map_err(malformed)?;
            out.extend(data.chunks_exact(8).map(word).filter(|&v| v != 0).map(|v| (None, v)));
        }
    }
    // A linked vmlinux folds the records into init data between
    // __start_mcount_loc and __stop_mcount_loc (MCOUNT_REC() in
    // include/asm-generic/vmlinux.lds.h).
    if !relocatable {
        let sym = |n: &str| f.symbols().find(|s| s.name() == Ok(n)).map(|s| s.address());
        if let (Some(start), Some(stop)) = (sym("__start_mcount_loc"), sym("__stop_mcount_loc")) {
            if stop < start {
                return Err(malformed("__stop_mcount_loc before __start_mcount_loc"));
            }
            let sec = f
                .sections()
                .find(|s| s.address() <= start && stop <= s.address().saturating_add(s.size()))
                .ok_or_else(|| malformed("mcount_loc table outside every section"))?;
            let bytes = sec
                .data_range(start, stop - start)
                .map_err(malformed)?
                .ok_or_else(|| malformed("mcount_loc table has no file bytes"))?;
            out.extend(bytes.chunks_exact(8).map(word).filter(|&v| v != 0).map(|v| (None, v)));
        }
    }
    if relocatable && out.is_empty() {
        out = call_records(f);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The functions ftrace's entry calls go to (scripts/recordmcount.c).
const MCOUNT_NAMES: [&str; 4] = ["__fentry__", "_mcount", "mcount", "__mcount"];

/// A relocatable object whose compiler writes no record section (clang on
/// x86 without `-mrecord-mcount`, GCC `-mprofile-kernel` on ppc64) gets its
/// records at kernel build time from `objtool --mcount` or recordmcount,
/// which list every call to the mcount function.  Do the same: the site is
/// the call instruction holding the relocation.
fn call_records(f: &object::File<'_>) -> Vec<Loc> {
    // Bytes from the call instruction to its relocated field.
    let field_off = match f.architecture() {
        object::Architecture::X86_64 => 1, // e8 <rel32>
        object::Architecture::S390x => 2,  // c0 05 <rel32>
        _ => 0,                            // ppc64 bl: the relocation is on the instruction
    };
    let mut out = Vec::new();
    for sec in f.sections().filter(|s| s.kind() == object::SectionKind::Text) {
        for (off, rel) in sec.relocations() {
            let RelocationTarget::Symbol(si) = rel.target() else { continue };
            let is_mcount =
                f.symbol_by_index(si).ok().and_then(|s| s.name().ok()).is_some_and(|n| MCOUNT_NAMES.contains(&n));
            if is_mcount {
                if let Some(site) = off.checked_sub(field_off) {
                    out.push((Some(sec.index().0), site));
                }
            }
        }
    }
    out
}

/// Inspect the ELF image `data`.
pub fn sites(data: &[u8]) -> Result<Report, InspectError> {
    let f = object::File::parse(data).map_err(malformed)?;
    let arch = AnyArch::from_object(&f)?;
    let recs = records(&f, arch)?;
    let relocatable = f.kind() == object::ObjectKind::Relocatable;
    if !relocatable && f.symbol_table().is_none() {
        return Err(InspectError::NoSymbols { records: recs.len(), hint: String::new() });
    }

    // Functions, per section, in address order.
    let mut funcs: BTreeMap<(usize, u64), (String, u64, SectionIndex)> = BTreeMap::new();
    for sym in f.symbols() {
        if sym.kind() != SymbolKind::Text || sym.size() == 0 {
            continue;
        }
        let (Some(idx), Ok(name)) = (sym.section_index(), sym.name()) else { continue };
        funcs.entry((idx.0, sym.address())).or_insert_with(|| (name.to_string(), sym.size(), idx));
    }

    let mut section_data: BTreeMap<usize, (u64, &[u8])> = BTreeMap::new();
    let mut functions = Vec::with_capacity(funcs.len());
    // End of the previous function in the same section: a record before a
    // symbol (arm64's pre-symbol NOPs) belongs to it only past that end.
    let mut prev_end: (usize, u64) = (usize::MAX, 0);
    for ((_, addr), (name, size, idx)) in funcs {
        let lead = addr.saturating_sub(arch.record_lead());
        let floor = if prev_end.0 == idx.0 { prev_end.1.max(lead) } else { lead };
        prev_end = (idx.0, addr.saturating_add(size));
        let (base, bytes) = match section_data.get(&idx.0) {
            Some(v) => *v,
            None => {
                let sec = f.section_by_index(idx).map_err(malformed)?;
                // .bss-like sections have no bytes: nothing to analyse.
                let bytes = sec.data().map_err(malformed)?;
                let v = (if relocatable { 0 } else { sec.address() }, bytes);
                section_data.insert(idx.0, v);
                v
            }
        };
        let start = addr.saturating_sub(PRE_BYTES).max(base);
        let end = addr.saturating_add(size.min(WINDOW));
        let (Some(lo), Some(hi)) = (start.checked_sub(base), end.checked_sub(base)) else { continue };
        let window = usize::try_from(lo)
            .ok()
            .zip(usize::try_from(hi).ok())
            .and_then(|(lo, hi)| bytes.get(lo..hi.min(bytes.len())))
            .unwrap_or(&[]);
        let key = if relocatable { Some(idx.0) } else { None };
        // The record inside [addr - PRE_BYTES, addr + size), nearest the entry.
        let lo_key = (key, floor.min(addr));
        let i = recs.partition_point(|r| *r < lo_key);
        let rec = recs.get(i).filter(|r| r.0 == key && r.1 < addr.saturating_add(size)).map(|r| TextAddr(r.1));
        let code = Code { start: TextAddr(start), bytes: window };
        let (site, patchable, reason) = match (rec, arch.analyze(code, TextAddr(addr), rec)) {
            (Some(_), Ok(s)) => (Some(s.addr.0), true, s.form.to_string()),
            (Some(_), Err(e)) => (None, false, e.to_string()),
            (None, Ok(s)) => (Some(s.addr.0), false, format!("{} entry, but no ftrace record: not traceable", s.form)),
            (None, Err(e)) => (None, false, format!("no ftrace record ({e})")),
        };
        functions.push(SiteReport { function: name, address: addr, site, patchable, reason });
    }
    Ok(Report { arch: arch.name(), records: recs.len(), functions })
}

/// What [`inspect`] found, and how it got to the ELF file.
#[derive(Clone, Debug)]
pub struct Inspected {
    /// The sites.
    pub report: Report,
    /// How the ELF file was found, for a compressed kernel image.
    pub note: Option<String>,
}

/// Inspect a file: an ELF object as [`sites`] does, or a compressed kernel
/// image (`vmlinuz`, `bzImage`, `Image.gz`), whose vmlinux is extracted
/// first.  A stripped vmlinux (every distro's `vmlinuz`) and an arm64
/// `Image` (Debian's arm64 `vmlinuz`: raw, no ELF) are refused with where
/// the symbols are: on Debian, `linux-image-<release>-dbg`.
pub fn inspect(data: &[u8]) -> Result<Inspected, InspectError> {
    if image::is_elf(data) {
        return sites(data).map(|report| Inspected { report, note: None });
    }
    if image::arm64_image(data) {
        return Err(raw_arm64_image("arm64 kernel Image (uncompressed)", image::banner_release(data)));
    }
    let mut missing = Vec::new();
    let Some(x) = image::extract(data, &mut missing) else {
        let mut m = "not an ELF file, nor a compressed kernel image with a vmlinux inside".to_string();
        if !missing.is_empty() {
            m.push_str(&format!(" (could not run: {}; install them to try their streams)", missing.join(", ")));
        }
        return Err(InspectError::Malformed(m));
    };
    if image::arm64_image(&x.kernel) {
        return Err(raw_arm64_image(&format!("arm64 kernel Image in a compressed one ({})", x.how), x.release));
    }
    let note = format!("vmlinux extracted from a compressed kernel image ({})", x.how);
    match sites(&x.kernel) {
        Ok(report) => Ok(Inspected { report, note: Some(note) }),
        Err(InspectError::NoSymbols { records, .. }) => {
            let hint = format!(
                "The {note} is stripped, as distributions ship it: {}",
                where_symbols_are(x.release.as_deref())
            );
            Err(InspectError::NoSymbols { records, hint })
        }
        Err(e) => Err(e),
    }
}

/// Where a distro kernel's symbols are, for the kernel of `release`.
fn where_symbols_are(release: Option<&str>) -> String {
    let rel = release.unwrap_or("<release>");
    format!(
        "the unstripped vmlinux is in the kernel's debug package (Debian: linux-image-{rel}-dbg, \
         /usr/lib/debug/boot/vmlinux-{rel}; Fedora: kernel-debuginfo), or run `graft-inspect live` as root on that kernel"
    )
}

/// An arm64 `Image` is the kernel's memory image as raw bytes behind a boot
/// header (arch/arm64/kernel/image.h): no ELF file, so neither the
/// functions' names nor where its ftrace records lie can be read from it.
fn raw_arm64_image(what: &str, release: Option<String>) -> InspectError {
    let hint = format!(
        "This is an {what}, raw bytes with no ELF structure, as Debian ships arm64 kernels: {}",
        where_symbols_are(release.as_deref())
    );
    InspectError::NoSymbols { records: 0, hint }
}

/// One JSON object per function (a line each), with `function`, `address`,
/// `site`, `patchable` and `reason`.
pub fn to_json_lines(r: &Report) -> String {
    let mut s = String::new();
    for f in &r.functions {
        s.push_str(&format!(
            "{{\"arch\":\"{}\",\"function\":{},\"address\":\"{:#x}\",\"site\":{},\"patchable\":{},\"reason\":{}}}\n",
            r.arch,
            json_str(&f.function),
            f.address,
            f.site.map_or("null".to_string(), |a| format!("\"{a:#x}\"")),
            f.patchable,
            json_str(&f.reason)
        ));
    }
    s
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A human-readable table and summary.
pub fn to_table(r: &Report) -> String {
    let w = r.functions.iter().map(|f| f.function.len()).max().unwrap_or(8).clamp(8, 48);
    let mut s = format!("{:<w$}  {:>18}  {:>18}  {:<9}  reason\n", "function", "address", "site", "patchable");
    for f in &r.functions {
        s.push_str(&format!(
            "{:<w$}  {:>#18x}  {:>18}  {:<9}  {}\n",
            f.function,
            f.address,
            f.site.map_or("-".to_string(), |a| format!("{a:#x}")),
            if f.patchable { "yes" } else { "no" },
            f.reason
        ));
    }
    s.push_str(&format!(
        "{}: {} functions, {} ftrace records, {} patchable, {} not\n",
        r.arch,
        r.functions.len(),
        r.records,
        r.patchable(),
        r.functions.len() - r.patchable()
    ));
    s
}

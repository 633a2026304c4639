//! Pre-images of the functions a klp-build patch replaces (`graft-inspect
//! preimage`): for each function the patch's `.init.klp_funcs` names, its
//! size, masks and hash in the original build (graft-core's
//! [`preimage`](graft_core::preimage)), as C for the patch module's init
//! (kmod/klp/init.c), which hands them to graft.ko.
//!
//! The original build is klp-build's (`klp-tmp/1-orig`): the relocatable
//! object the function came from (`vmlinux.o`, or a module's `.o`), built
//! with `-ffunction-sections`, so that every reference out of the function
//! is a relocation.  The masks cover:
//!
//! * every relocated field in the function (4 or 8 bytes), and the whole
//!   call of an ftrace site (`__fentry__`: the kernel turns it into a NOP);
//! * every site an arch table names in the function: what the kernel
//!   rewrites as it boots or runs ([`X86_64_TABLES`]: alternatives, static
//!   calls and keys, return and retpoline thunks, sealed ENDBRs, runtime
//!   constants).
//!
//! Whether the masks are enough is checked on every run where the linked
//! original (`klp-tmp/1-orig/vmlinux`) is given: the function there (its
//! `sympos`-th copy in address order, kallsyms' order) must hash the same.
//! That also tells which of several local functions of one name is meant.
//! Only x86_64 has tables here: klp-build supports it alone in 7.3.

use graft_core::preimage::{self, Mask};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex, SymbolKind};
use std::fmt;

/// A function a patch replaces: `.init.klp_funcs`' `old_name` and
/// `sympos`, in the object `.init.klp_objects` names (`None`: vmlinux).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchedFunc {
    /// A module's name, `None` for vmlinux.
    pub object: Option<String>,
    /// The function.
    pub name: String,
    /// klp's position among the symbols of that name (0: unique).
    pub sympos: u64,
}

/// A function's pre-image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preimage {
    /// The function.
    pub func: PatchedFunc,
    /// Its size, bytes.
    pub size: u64,
    /// graft-core's masked hash.
    pub hash: u64,
    /// What the link and the kernel change, in order.
    pub masks: Vec<Mask>,
}

/// Why no pre-image could be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreimageError {
    /// Not an ELF object this reads, or malformed.
    Elf(String),
    /// No tables for this arch.
    Arch(String),
    /// The patch object has no `.init.klp_objects`/`.init.klp_funcs`.
    NoKlpFuncs,
    /// The original object has no function of that name.
    NotFound(String),
    /// Several, and neither a linked original nor `sympos` tells which.
    Ambiguous(String, usize),
    /// The linked original disagrees with the object's (the masks miss
    /// something the link changes), or has no `sympos`-th copy.
    Linked(String),
}

impl fmt::Display for PreimageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreimageError::Elf(e) => write!(f, "not a readable ELF object: {e}"),
            PreimageError::Arch(a) => write!(f, "no pre-image tables for {a} (x86_64 only)"),
            PreimageError::NoKlpFuncs => {
                f.write_str("no .init.klp_objects/.init.klp_funcs: not a klp-build patch object")
            }
            PreimageError::NotFound(n) => write!(f, "{n}: no such function in the original object"),
            PreimageError::Ambiguous(n, c) => {
                write!(f, "{n}: {c} functions of that name in the original, and neither a linked original nor old_sympos to tell which")
            }
            PreimageError::Linked(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for PreimageError {}

fn elf<T>(r: Result<T, object::Error>) -> Result<T, PreimageError> {
    r.map_err(|e| PreimageError::Elf(e.to_string()))
}

/// The bytes at `off` of a section's data, if there are `n`.
fn at(data: &[u8], off: u64, n: usize) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    data.get(off..off.checked_add(n)?)
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |v, &x| v << 8 | u64::from(x))
}

/// Where a relocation at `offset` of section `sec` points: the target
/// section and the offset in it (symbol value plus addend).
fn target_of(file: &object::File<'_>, sec: &object::Section<'_, '_>, offset: u64) -> Option<(SectionIndex, u64)> {
    let (_, r) = sec.relocations().find(|(o, _)| *o == offset)?;
    let RelocationTarget::Symbol(i) = r.target() else { return None };
    let s = file.symbol_by_index(i).ok()?;
    Some((s.section_index()?, s.address().checked_add_signed(r.addend())?))
}

/// A NUL-terminated string a relocation at `offset` of `sec` points at.
fn string_at(
    file: &object::File<'_>,
    sec: &object::Section<'_, '_>,
    offset: u64,
) -> Result<Option<String>, PreimageError> {
    let Some((si, off)) = target_of(file, sec, offset) else { return Ok(None) };
    let data = elf(elf(file.section_by_index(si))?.data())?;
    let s = data.get(off as usize..).ok_or(PreimageError::NoKlpFuncs)?;
    let n = s.iter().position(|&c| c == 0).ok_or(PreimageError::NoKlpFuncs)?;
    Ok(Some(String::from_utf8_lossy(&s[..n]).into_owned()))
}

// include/linux/livepatch_external.h, on a 64-bit arch
const OBJ_EXT_SIZE: u64 = 64; // name, funcs, callbacks (4 pointers, a bool), nr_funcs
const OBJ_EXT_FUNCS: u64 = 8;
const OBJ_EXT_NR_FUNCS: u64 = 56;
const FUNC_EXT_SIZE: u64 = 24; // old_name, new_func, sympos
const FUNC_EXT_SYMPOS: u64 = 16;

/// The functions a klp-build patch object (`klp-tmp/4-diff/...`)
/// replaces, from its `.init.klp_objects` and `.init.klp_funcs`.
pub fn patched_funcs(diff: &[u8]) -> Result<Vec<PatchedFunc>, PreimageError> {
    let file = elf(object::File::parse(diff))?;
    let objs = file.section_by_name(".init.klp_objects").ok_or(PreimageError::NoKlpFuncs)?;
    let funcs = file.section_by_name(".init.klp_funcs").ok_or(PreimageError::NoKlpFuncs)?;
    let (od, fd) = (elf(objs.data())?, elf(funcs.data())?);
    let mut out = Vec::new();
    for o in (0..od.len() as u64 / OBJ_EXT_SIZE).map(|i| i * OBJ_EXT_SIZE) {
        let object = string_at(&file, &objs, o)?.filter(|n| n != "vmlinux");
        let first = match target_of(&file, &objs, o + OBJ_EXT_FUNCS) {
            Some((si, off)) if si == funcs.index() => off,
            _ => return Err(PreimageError::NoKlpFuncs),
        };
        let n = at(od, o + OBJ_EXT_NR_FUNCS, 4).map(le).ok_or(PreimageError::NoKlpFuncs)?;
        for k in 0..n {
            let f = first + k * FUNC_EXT_SIZE;
            let name = string_at(&file, &funcs, f)?.ok_or(PreimageError::NoKlpFuncs)?;
            let sympos = at(fd, f + FUNC_EXT_SYMPOS, 8).map(le).ok_or(PreimageError::NoKlpFuncs)?;
            out.push(PatchedFunc { object: object.clone(), name, sympos });
        }
    }
    if out.is_empty() {
        return Err(PreimageError::NoKlpFuncs);
    }
    Ok(out)
}

/// How many bytes a table's entry masks at the site it names.
#[derive(Clone, Copy, Debug)]
pub enum SiteLen {
    /// Always this many.
    Fixed(u32),
    /// The byte at this offset of the entry (an alternative's `instrlen`).
    EntryByte(u64),
    /// Six for a two-byte opcode (`0f`: a `jcc`), else five.
    Branch,
}

/// A table of sites the kernel rewrites: its section (a name or a
/// prefix ending in `_`), its entries' size, and what each masks.
#[derive(Clone, Copy, Debug)]
pub struct SiteTable {
    /// Section name, or prefix when it ends in `_`.
    pub section: &'static str,
    /// Entry size; the site's relocation is at an entry's start.
    pub entry: u64,
    /// Bytes masked at the site.
    pub len: SiteLen,
}

/// x86_64's (arch/x86/kernel/alternative.c, static_call.c, jump_label.c,
/// arch/x86/include/asm/runtime-const.h, kernel/trace/ftrace.c's
/// `__mcount_loc`).
pub const X86_64_TABLES: &[SiteTable] = &[
    SiteTable { section: ".altinstructions", entry: 14, len: SiteLen::EntryByte(12) },
    SiteTable { section: "__jump_table", entry: 16, len: SiteLen::Fixed(5) },
    SiteTable { section: ".static_call_sites", entry: 8, len: SiteLen::Fixed(5) },
    SiteTable { section: ".return_sites", entry: 4, len: SiteLen::Fixed(5) },
    SiteTable { section: ".retpoline_sites", entry: 4, len: SiteLen::Branch },
    SiteTable { section: ".call_sites", entry: 4, len: SiteLen::Fixed(5) },
    SiteTable { section: ".ibt_endbr_seal", entry: 4, len: SiteLen::Fixed(4) },
    SiteTable { section: ".smp_locks", entry: 4, len: SiteLen::Fixed(1) },
    SiteTable { section: "__mcount_loc", entry: 8, len: SiteLen::Fixed(5) },
    SiteTable { section: "runtime_ptr_", entry: 4, len: SiteLen::Fixed(8) },
    SiteTable { section: "runtime_shift_", entry: 4, len: SiteLen::Fixed(1) },
    SiteTable { section: "runtime_mask_", entry: 4, len: SiteLen::Fixed(4) },
];

/// The ftrace call a function starts with, as its relocation names it.
const FENTRY: &str = "__fentry__";

fn tables(file: &object::File<'_>) -> Result<&'static [SiteTable], PreimageError> {
    match file.architecture() {
        object::Architecture::X86_64 => Ok(X86_64_TABLES),
        a => Err(PreimageError::Arch(format!("{a:?}"))),
    }
}

/// The masks of the function `[start, start + size)` of section `sec`.
fn masks(
    file: &object::File<'_>,
    sec: &object::Section<'_, '_>,
    start: u64,
    size: u64,
) -> Result<Vec<Mask>, PreimageError> {
    let tabs = tables(file)?;
    let text = elf(sec.data())?;
    let size32 = u32::try_from(size).map_err(|_| PreimageError::Elf("function over 4 GiB".into()))?;
    let mut ranges: Vec<(u64, u32)> = Vec::new();
    // relocated fields; the whole ftrace call
    for (off, r) in sec.relocations() {
        if off < start || off >= start + size {
            continue;
        }
        let bytes = u32::from(r.size()).div_ceil(8).max(1);
        let fentry = match r.target() {
            RelocationTarget::Symbol(i) => file.symbol_by_index(i).ok().and_then(|s| s.name().ok()) == Some(FENTRY),
            _ => false,
        };
        if fentry && off > start {
            ranges.push((off - start - 1, bytes + 1));
        } else {
            ranges.push((off - start, bytes));
        }
    }
    // the arch's tables of rewritten sites
    for s in file.sections() {
        let name = s.name().unwrap_or("");
        let Some(t) =
            tabs.iter()
                .find(|t| if t.section.ends_with('_') { name.starts_with(t.section) } else { name == t.section })
        else {
            continue;
        };
        let data = elf(s.data())?;
        for (off, r) in s.relocations() {
            if off % t.entry != 0 {
                continue;
            }
            let RelocationTarget::Symbol(i) = r.target() else { continue };
            let Ok(sym) = file.symbol_by_index(i) else { continue };
            if sym.section_index() != Some(sec.index()) {
                continue;
            }
            let Some(site) = sym.address().checked_add_signed(r.addend()) else { continue };
            if site < start || site >= start + size {
                continue;
            }
            let len = match t.len {
                SiteLen::Fixed(n) => n,
                SiteLen::EntryByte(b) => at(data, off + b, 1).map_or(0, |b| u32::from(b[0])),
                SiteLen::Branch => match at(text, site, 1) {
                    Some([0x0f]) => 6,
                    _ => 5,
                },
            };
            ranges.push((site - start, len));
        }
    }
    let mut out = vec![Mask { offset: 0, len: 0 }; ranges.len()];
    let mut n = 0;
    for (off, len) in ranges {
        // room for every range: never refused
        preimage::add(&mut out, &mut n, size32, off as u32, len);
    }
    out.truncate(n);
    Ok(out)
}

/// A function symbol of the original: its section, start and size.
#[derive(Clone, Copy, Debug)]
struct Cand {
    section: SectionIndex,
    start: u64,
    size: u64,
}

fn candidates(file: &object::File<'_>, name: &str) -> Vec<Cand> {
    file.symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0 && s.name().is_ok_and(|n| n == name))
        .filter_map(|s| Some(Cand { section: s.section_index()?, start: s.address(), size: s.size() }))
        .collect()
}

/// The `sympos`-th (or, for 0, the only) function `name` of a linked
/// object, in address order (kallsyms' order), and its bytes.
fn linked_copy<'d>(file: &object::File<'d>, name: &str, sympos: u64) -> Result<&'d [u8], PreimageError> {
    let mut c = candidates(file, name);
    c.sort_by_key(|c| c.start);
    let pos = if sympos == 0 { 1 } else { sympos };
    if (sympos == 0 && c.len() != 1) || pos as usize > c.len() {
        return Err(PreimageError::Linked(format!(
            "{name}: the linked original has {} function(s) of that name, and old_sympos is {sympos}",
            c.len()
        )));
    }
    let f = c[pos as usize - 1];
    let sec = elf(file.section_by_index(f.section))?;
    let data = elf(sec.data())?;
    at(data, f.start - sec.address(), f.size as usize)
        .ok_or_else(|| PreimageError::Linked(format!("{name}: its bytes are not in the linked original")))
}

/// The pre-image of `func` in the original object `orig`; with the linked
/// original, checked against it (and an ambiguous name resolved by it).
pub fn preimage(orig: &[u8], linked: Option<&[u8]>, func: &PatchedFunc) -> Result<Preimage, PreimageError> {
    let file = elf(object::File::parse(orig))?;
    let name = &func.name;
    let mut made = Vec::new();
    for c in candidates(&file, name) {
        let sec = elf(file.section_by_index(c.section))?;
        let data = elf(sec.data())?;
        let code = at(data, c.start, c.size as usize)
            .ok_or_else(|| PreimageError::Elf(format!("{name}: past its section")))?;
        let m = masks(&file, &sec, c.start, c.size)?;
        made.push(Preimage { func: func.clone(), size: c.size, hash: preimage::hash(code, &m), masks: m });
    }
    if made.is_empty() {
        return Err(PreimageError::NotFound(name.clone()));
    }
    let Some(linked) = linked else {
        // a module keeps its symbol table's order, which kallsyms lists
        // (objtool's klp_find_sympos() counts in it for modules)
        return match (made.len(), func.sympos) {
            (1, 0 | 1) => Ok(made.remove(0)),
            (n, 0) => Err(PreimageError::Ambiguous(name.clone(), n)),
            (n, pos) if pos as usize <= n => Ok(made.remove(pos as usize - 1)),
            (n, pos) => {
                Err(PreimageError::Linked(format!("{name}: old_sympos {pos}, but the object has {n} of that name")))
            }
        };
    };
    let lf = elf(object::File::parse(linked))?;
    let code = linked_copy(&lf, name, func.sympos)?;
    let mut matching =
        made.into_iter().filter(|p| p.size == code.len() as u64 && preimage::hash(code, &p.masks) == p.hash);
    match (matching.next(), matching.next()) {
        (Some(p), None) => Ok(p),
        (None, _) => Err(PreimageError::Linked(format!(
            "{name}: the linked original's code differs from the object's outside the masks (a table of rewritten sites is missing?)"
        ))),
        (Some(_), Some(_)) => Err(PreimageError::Linked(format!("{name}: several copies in the object match the linked one"))),
    }
}

/// C for kmod/klp/init.c: `graft_klp_preimages[]`, one
/// `struct graft_klp_preimage` per function.
pub fn to_c(pres: &[Preimage]) -> String {
    use std::fmt::Write;
    let mut s = String::from("/* graft-inspect preimage: the pre-images of the functions this patch replaces */\n");
    for (i, p) in pres.iter().enumerate() {
        if !p.masks.is_empty() {
            let _ = write!(s, "static const struct graft_preimage_mask graft_klp_masks_{i}[] = {{");
            for (k, m) in p.masks.iter().enumerate() {
                let sep = if k % 8 == 0 { "\n\t" } else { " " };
                let _ = write!(s, "{sep}{{ {}, {} }},", m.offset, m.len);
            }
            s.push_str("\n};\n");
        }
        let masks = if p.masks.is_empty() { "NULL".to_string() } else { format!("graft_klp_masks_{i}") };
        let _ = writeln!(
            s,
            "static const struct graft_preimage graft_klp_pre_{i} = {{ .size = {}, .hash = {:#018x}ULL, .masks = {masks}, .nmasks = {} }};",
            p.size,
            p.hash,
            p.masks.len()
        );
    }
    s.push_str("static const struct graft_klp_preimage graft_klp_preimages[] = {\n");
    for (i, p) in pres.iter().enumerate() {
        let obj = p.func.object.as_ref().map_or("NULL".to_string(), |o| format!("\"{o}\""));
        let _ = writeln!(s, "\t{{ {obj}, \"{}\", {}, &graft_klp_pre_{i} }},", p.func.name, p.func.sympos);
    }
    s.push_str("};\n");
    s
}

/// Every function of `orig` with a unique name that `linked` also has
/// once, its pre-image checked against the linked copy: how many were
/// checked, and the names of those that differ outside their masks (what
/// a table of rewritten sites would be missing).  A check of the masks
/// over a whole kernel (`graft-inspect preimage --check-all`).
pub fn check_all(orig: &[u8], linked: &[u8]) -> Result<(usize, Vec<String>), PreimageError> {
    use std::collections::HashMap;
    let file = elf(object::File::parse(orig))?;
    let lf = elf(object::File::parse(linked))?;
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in lf.symbols().filter(|s| s.kind() == SymbolKind::Text && s.size() > 0) {
        *count.entry(s.name().unwrap_or("")).or_default() += 1;
    }
    let mut ocount: HashMap<&str, usize> = HashMap::new();
    for s in file.symbols().filter(|s| s.kind() == SymbolKind::Text && s.size() > 0) {
        *ocount.entry(s.name().unwrap_or("")).or_default() += 1;
    }
    let mut linked_at: HashMap<&str, (SectionIndex, u64, u64)> = HashMap::new();
    for s in lf.symbols().filter(|s| s.kind() == SymbolKind::Text && s.size() > 0) {
        if let (Ok(n), Some(si)) = (s.name(), s.section_index()) {
            linked_at.insert(n, (si, s.address(), s.size()));
        }
    }
    let (mut checked, mut bad) = (0, Vec::new());
    for s in file.symbols().filter(|s| s.kind() == SymbolKind::Text && s.size() > 0) {
        let Ok(name) = s.name() else { continue };
        if ocount.get(name) != Some(&1) || count.get(name) != Some(&1) {
            continue;
        }
        let (Some(si), Some(&(lsi, la, lsize))) = (s.section_index(), linked_at.get(name)) else { continue };
        let sec = elf(file.section_by_index(si))?;
        let Some(code) = at(elf(sec.data())?, s.address(), s.size() as usize) else { continue };
        let m = masks(&file, &sec, s.address(), s.size())?;
        let lsec = elf(lf.section_by_index(lsi))?;
        let Ok(ldata) = lsec.data() else { continue };
        let Some(lcode) = at(ldata, la - lsec.address(), lsize as usize) else { continue };
        checked += 1;
        if lsize != s.size() || preimage::hash(code, &m) != preimage::hash(lcode, &m) {
            bad.push(name.to_string());
        }
    }
    Ok((checked, bad))
}

/// A pre-image as a patch module's parameters (`pre_size=`, `pre_hash=`,
/// `pre_masks=offset:len,...`), for kmod/samples/graft_test_dup_pick.c.
pub fn to_params(p: &Preimage) -> String {
    let masks: Vec<String> = p.masks.iter().map(|m| format!("{}:{}", m.offset, m.len)).collect();
    format!("pre_size={} pre_hash={:#x} pre_masks={}", p.size, p.hash, masks.join(","))
}

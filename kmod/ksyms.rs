// SPDX-License-Identifier: GPL-2.0
//! Symbols by name, scoped to an object, in kallsyms order, for
//! `old_sympos` and the ambiguity check of upstream's
//! klp_find_object_symbol() (kernel/livepatch/core.c).
//!
//! kallsyms_on_each_symbol() and module_kallsyms_on_each_symbol() are not
//! exported, so graft reads `/proc/kallsyms`: `shim.c` opens the file and
//! reads it (`seq_read_iter()`), graft-core's `kallsyms` module splits and
//! parses the lines, counts each name and keeps the `old_sympos`-th
//! ([`Lookup`]), and builds the table of vmlinux's symbols ([`Collector`],
//! [`DupTable`] over all of them).  What a lookup gives is the chosen
//! symbol's start: the backend's `analyze_site` finds its ftrace site
//! (objects.rs `resolve_func`).  Reading the file changes nothing in the
//! kernel, unlike the disabled kprobe graft once registered to learn a
//! unique name's address (an aggregated probe on the function then armed
//! later kprobes as IP-modifying).
//!
//! vmlinux does not change, so its symbols are tabled once, at module init
//! (one pass over `/proc/kallsyms`, about 150 ms; 24 bytes a symbol), so a
//! registration reads the file only when it names a module object.

use crate::ffi::{graft_shim_kallsyms_close, graft_shim_kallsyms_open, graft_shim_kallsyms_read};
use crate::kenv::{self, KSYM_BUF};
use graft_core::kallsyms::{for_each_line, scan_line, Collector, DupTable, Entry, LinesError, Lookup, TableError};
use kernel::prelude::*;

/// The read buffer: longer than any line (`KSYM_NAME_LEN` 512 plus a
/// module name).
const READ_BUF: usize = 64 * 1024;
/// Room for vmlinux's symbols while the table is built.
const MAX_SYMS: usize = 1 << 19;

/// The symbols graft has tabled (`Cold::ksyms`, under the engine's mutex):
/// vmlinux's, built at load, and those of each module a patch object named,
/// built by its first resolution.
pub(crate) struct Symbols {
    vmlinux: Table,
    modules: KVec<ModSyms>,
}

impl Symbols {
    /// Nothing tabled yet.
    pub(crate) const fn new() -> Self {
        Symbols { vmlinux: Table::Unbuilt, modules: KVec::new() }
    }
}

/// The table of vmlinux's symbols.
enum Table {
    /// Not built yet.
    Unbuilt,
    /// Sorted entries ([`DupTable`] of every vmlinux symbol).
    Built(KVVec<Entry>),
    /// Building failed with this errno: vmlinux names cannot be resolved.
    Failed(c_int),
}

fn ensure(t: &mut Table) -> &Table {
    if matches!(t, Table::Unbuilt) {
        *t = match build() {
            Ok(v) => Table::Built(v),
            Err(e) => {
                pr_warn!("cannot table vmlinux's symbols ({}): vmlinux functions cannot be patched\n", e);
                Table::Failed(e)
            }
        };
    }
    t
}

/// Build the table now, so registrations do not wait for it.
pub(super) fn init(t: &mut Symbols) {
    ensure(&mut t.vmlinux);
}

/// Read `/proc/kallsyms` line by line.
fn read_lines(each: impl FnMut(&[u8])) -> Result<(), c_int> {
    let mut buf = KVVec::with_capacity(READ_BUF, GFP_KERNEL).map_err(|_| ENOMEM.to_errno())?;
    buf.resize(READ_BUF, 0u8, GFP_KERNEL).map_err(|_| ENOMEM.to_errno())?;
    let mut err = 0;
    let f = graft_shim_kallsyms_open(&mut err);
    if f.is_null() {
        return Err(err);
    }
    let mut pos = 0i64;
    let r = for_each_line(
        &mut buf,
        |b| {
            // SAFETY: `f` is open; `b` is valid for `b.len()` bytes.
            let n = unsafe { graft_shim_kallsyms_read(f, b.as_mut_ptr(), b.len(), &mut pos) };
            usize::try_from(n).map_err(|_| n as c_int)
        },
        each,
    );
    // SAFETY: opened above, closed once.
    unsafe { graft_shim_kallsyms_close(f) };
    r.map_err(|e| match e {
        LinesError::Read(e) => e,
        LinesError::TooLong => E2BIG.to_errno(),
        LinesError::BadRead => EIO.to_errno(),
    })
}

/// vmlinux's symbols, sorted (by name hash, then kallsyms order).
fn build() -> Result<KVVec<Entry>, c_int> {
    let all = collect(None, MAX_SYMS)?.map_err(|e| match e {
        TableError::TooMany { .. } => E2BIG.to_errno(),
        TableError::Hidden => EPERM.to_errno(), // kallsyms hides addresses from us
    })?;
    pr_info!("kallsyms: {} vmlinux symbols tabled\n", all.len());
    Ok(all)
}

/// One pass over `/proc/kallsyms`: the symbols of `object` (`None`:
/// vmlinux) with an address, at most `cap`, sorted as a [`DupTable`]; the
/// outer error is the file's, the inner the table's.
fn collect(object: Option<&[u8]>, cap: usize) -> Result<Result<KVVec<Entry>, TableError>, c_int> {
    let nomem = |_| ENOMEM.to_errno();
    let mut all = KVVec::with_capacity(cap, GFP_KERNEL).map_err(nomem)?;
    all.resize(cap, Entry::default(), GFP_KERNEL).map_err(nomem)?;
    let mut c = Collector::new(&mut all);
    read_lines(|line| c.line_of(line, object))?;
    let seen = c.seen();
    if let Err(e) = c.finish_all() {
        return Ok(Err(e));
    }
    all.truncate(seen);
    // The room of the collection (12 MiB for vmlinux's) is not kept; if the
    // smaller copy cannot be had, the table works from the large one.
    let _ = all.shrink_to(seen, GFP_KERNEL);
    Ok(Ok(all))
}

/// Count `l`'s name among the symbols of a table (the kernel confirms each
/// candidate's name: entries of one hash may be other names; a module's
/// symbol prints as `name [module]`).
fn count(d: &DupTable<'_>, l: &mut Lookup<'_>) {
    let mut buf = [0u8; KSYM_BUF];
    let name = l.name;
    d.lookup(l, |a| {
        kenv::symbol_name(a, &mut buf).and_then(|n| n.split(' ').next()).is_some_and(|n| n.as_bytes() == name)
    });
}

/// vmlinux's symbols of each `lookups[i]`, from the table:
/// `lookups[i].count` and, in `addrs[i]`, the address of the chosen one
/// (0 if none).
pub(super) fn vmlinux(syms: &mut Symbols, lookups: &mut [Lookup<'_>], addrs: &mut [u64]) -> Result<(), c_int> {
    let v = match ensure(&mut syms.vmlinux) {
        Table::Built(v) => v,
        Table::Failed(e) => return Err(*e),
        Table::Unbuilt => return Err(EINVAL.to_errno()),
    };
    let d = DupTable::new(v).ok_or(EINVAL.to_errno())?;
    for (l, a) in lookups.iter_mut().zip(addrs.iter_mut()) {
        count(&d, l);
        *a = l.addr;
    }
    Ok(())
}

/// The start of vmlinux's one symbol called `name`, if there is exactly one.
pub(crate) fn unique(syms: &mut Symbols, name: &[u8]) -> Option<u64> {
    let Table::Built(v) = ensure(&mut syms.vmlinux) else { return None };
    let mut l = Lookup::new(name, 0);
    count(&DupTable::new(v)?, &mut l);
    (l.check().is_ok() && l.addr != 0).then_some(l.addr)
}

/// Room for one module's symbols while its table is built (a module with
/// more is looked up by a pass each time, uncached).
const MAX_MOD_SYMS: usize = 1 << 16;

/// A loaded module's symbols ([`Symbols`]), tabled by its first
/// resolution and dropped when it comes or goes ([`forget_module`]), so
/// later patches of the module (S12's 32 stacked ones) read no
/// `/proc/kallsyms`.
struct ModSyms {
    name: KVec<u8>,
    entries: KVVec<Entry>,
}

/// Table `module`'s symbols from one pass; `None` when it has none with an
/// address, or too many to table (the caller scans instead).
fn build_module(module: &[u8]) -> Result<Option<ModSyms>, c_int> {
    let Ok(entries) = collect(Some(module), MAX_MOD_SYMS)? else { return Ok(None) };
    let mut name = KVec::new();
    name.extend_from_slice(module, GFP_KERNEL).map_err(|_| ENOMEM.to_errno())?;
    Ok(Some(ModSyms { name, entries }))
}

/// Module `module`'s symbols of each `lookups[i]` (counts and, in
/// `sites[i]`, the chosen one's address), from its table in `cache`,
/// built now by one pass over `/proc/kallsyms` if it is not there.
pub(super) fn module(
    syms: &mut Symbols,
    module: &[u8],
    lookups: &mut [Lookup<'_>],
    sites: &mut [u64],
) -> Result<(), c_int> {
    let cache = &mut syms.modules;
    if !cache.iter().any(|m| m.name.as_slice() == module) {
        match build_module(module)? {
            // Kept if there is room for the note; used either way.
            Some(t) => {
                if cache.push(t, GFP_KERNEL).is_err() {
                    return scan(Some(module), lookups, sites);
                }
            }
            None => return scan(Some(module), lookups, sites),
        }
    }
    let Some(t) = cache.iter().find(|m| m.name.as_slice() == module) else {
        return scan(Some(module), lookups, sites);
    };
    let d = DupTable::new(&t.entries).ok_or(EINVAL.to_errno())?;
    for (l, a) in lookups.iter_mut().zip(sites.iter_mut()) {
        count(&d, l);
        *a = l.addr;
    }
    Ok(())
}

/// Module `module` comes or goes: its table, if any, is stale.
pub(super) fn forget_module(syms: &mut Symbols, module: &[u8]) {
    syms.modules.retain(|m| m.name.as_slice() != module);
}

/// `object`'s (`None`: vmlinux's) symbols of each `lookups[i]`, from one
/// pass over `/proc/kallsyms`: the counts and, in `sites[i]`, the address
/// of the chosen one.  `-EPERM` when a chosen
/// symbol's address is hidden (`kptr_restrict`).
pub(crate) fn scan(object: Option<&[u8]>, lookups: &mut [Lookup<'_>], sites: &mut [u64]) -> Result<(), c_int> {
    read_lines(|line| scan_line(line, object, lookups))?;
    if lookups.iter().any(Lookup::hidden) {
        return Err(EPERM.to_errno());
    }
    for (l, site) in lookups.iter().zip(sites.iter_mut()) {
        *site = l.addr;
    }
    Ok(())
}

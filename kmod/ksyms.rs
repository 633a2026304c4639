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

/// The table of vmlinux's symbols (`Cold::ksyms`, under the engine's
/// mutex).
pub(crate) enum Table {
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
pub(super) fn init(t: &mut Table) {
    ensure(t);
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
    let nomem = |_| ENOMEM.to_errno();
    let mut all = KVVec::with_capacity(MAX_SYMS, GFP_KERNEL).map_err(nomem)?;
    all.resize(MAX_SYMS, Entry::default(), GFP_KERNEL).map_err(nomem)?;
    let mut c = Collector::new(&mut all);
    read_lines(|line| c.line(line))?;
    let seen = c.seen();
    c.finish_all().map_err(|e| match e {
        TableError::TooMany { .. } => E2BIG.to_errno(),
        TableError::Hidden => EPERM.to_errno(), // kallsyms hides addresses from us
    })?;
    all.truncate(seen);
    // The 12 MiB of the collection are not kept for the module's life; if
    // the smaller copy cannot be had, the table works from the large one.
    let _ = all.shrink_to(seen, GFP_KERNEL);
    pr_info!("kallsyms: {} vmlinux symbols tabled\n", seen);
    Ok(all)
}

/// Count `l`'s name among vmlinux's symbols in the table (the kernel
/// confirms each candidate's name: entries of one hash may be other names).
fn count(d: &DupTable<'_>, l: &mut Lookup<'_>) {
    let mut buf = [0u8; KSYM_BUF];
    let name = l.name;
    d.lookup(l, |a| kenv::symbol_name(a, &mut buf).is_some_and(|n| n.as_bytes() == name));
}

/// vmlinux's symbols of each `lookups[i]`, from the table:
/// `lookups[i].count` and, in `addrs[i]`, the address of the chosen one
/// (0 if none).
pub(super) fn vmlinux(table: &mut Table, lookups: &mut [Lookup<'_>], addrs: &mut [u64]) -> Result<(), c_int> {
    let v = match ensure(table) {
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
pub(crate) fn unique(table: &mut Table, name: &[u8]) -> Option<u64> {
    let Table::Built(v) = ensure(table) else { return None };
    let mut l = Lookup::new(name, 0);
    count(&DupTable::new(v)?, &mut l);
    (l.check().is_ok() && l.addr != 0).then_some(l.addr)
}

/// Module `module`'s symbols of each `lookups[i]`, from one pass over
/// `/proc/kallsyms`: see [`scan`].
pub(super) fn module(module: &[u8], lookups: &mut [Lookup<'_>], sites: &mut [u64]) -> Result<(), c_int> {
    scan(Some(module), lookups, sites)
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

// SPDX-License-Identifier: GPL-2.0
//! Every C entry point of graft.ko's shim, declared once (the C side is
//! `shim.c`; the shared constants and structs are `shim.h`, whose layouts
//! `abi_layout.c` checks against these at build time).
//!
//! A function is `safe` where calling it has no precondition beyond process
//! context; the others say what the caller must guarantee.  The wrappers of
//! the kernel's own objects are typed (`task_struct`, `module`, `kobject`,
//! `ftrace_ops`); a sysfs directory is the `kobject` the shim created.

use core::ffi::c_void;
use kernel::bindings::{kobject, module, task_struct};
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};

/// `GRAFT_TASK_*` (shim.h): what [`graft_shim_copy_stack`] found.
pub(crate) const GRAFT_TASK_DEAD: c_int = 1;
/// The stack was copied (the `GRAFT_TASK_RUNNING` case is every other value).
pub(crate) const GRAFT_TASK_COPIED: c_int = 2;

/// `GRAFT_ATTR_*` (shim.h): the sysfs attribute a show or store is for.
pub(crate) const GRAFT_ATTR_ENABLED: c_int = 0;
// GRAFT_ATTR_TRANSITION (1) is answered by shim.c without the mutex.
pub(crate) const GRAFT_ATTR_REPLACE: c_int = 2;
pub(crate) const GRAFT_ATTR_STACK_ORDER: c_int = 3;
pub(crate) const GRAFT_ATTR_PATCHED: c_int = 4;
pub(crate) const GRAFT_ATTR_FORCE: c_int = 5;
pub(crate) const GRAFT_ATTR_FORCED: c_int = 6;
pub(crate) const GRAFT_ATTR_PROGRESS: c_int = 7;
pub(crate) const GRAFT_ATTR_MODULE: c_int = 8;
pub(crate) const GRAFT_ATTR_KERNEL_RELEASE: c_int = 9;
pub(crate) const GRAFT_ATTR_STATES: c_int = 10;
/// `<patch>/<object>/functions`.
pub(crate) const GRAFT_ATTR_FUNCTIONS: c_int = 11;
/// `<patch>/<object>/callbacks`.
pub(crate) const GRAFT_ATTR_CALLBACKS: c_int = 12;
/// `<patch>/fast`.
pub(crate) const GRAFT_ATTR_FAST: c_int = 13;

/// What this kernel's ftrace offers the fast path (`GRAFT_DIRECT_CAPS`,
/// abi_layout.c, from its configuration).
pub(crate) const DIRECT_CAPS: graft_core::DirectCaps =
    graft_core::DirectCaps::from_bits_truncate(layout::GRAFT_DIRECT_CAPS as u8);

/// `struct graft_direct` (shim_hooks.c): one site's direct call.
#[repr(C)]
pub(crate) struct GraftDirect {
    _opaque: [u8; 0],
}

/// `GRAFT_MEM_*` (shim.h): which region of a module holds an address.
pub(crate) const GRAFT_MEM_NONE: c_int = 0;
/// `MOD_TEXT`.
pub(crate) const GRAFT_MEM_TEXT: c_int = 1;
/// `MOD_DATA`, `MOD_RODATA`, `MOD_RO_AFTER_INIT`.
pub(crate) const GRAFT_MEM_DATA: c_int = 2;
/// `MOD_INIT_*`: freed once the module's init returns.
pub(crate) const GRAFT_MEM_INIT: c_int = 3;

/// `struct graft_unwind_table` (shim.h): a module's unwind table, as the
/// arch's `graft_arch.h` reads it out of `struct module`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct UnwindTable {
    /// The table's address-per-entry part (x86_64: `orc_unwind_ip`).
    pub(crate) ip: u64,
    /// Its entries (x86_64: `orc_unwind`).
    pub(crate) entries: u64,
    /// How many entries.
    pub(crate) n: u32,
}

/// Bytes the kernel keeps unused above a task's `pt_regs` at the top of its
/// stack (`GRAFT_ARCH_STACK_TOP_PADDING`, shim_internal.h: x86_64's
/// `TOP_OF_KERNEL_STACK_PADDING`, 16 with `CONFIG_X86_FRED`): the stack
/// the backend's final frame is placed in ends that much below the top.
pub(crate) const STACK_TOP_PADDING: u64 = layout::GRAFT_STACK_TOP_PADDING as u64;

/// `struct graft_task_stack` (shim.h): a copied stack and its saved context.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TaskStack {
    /// `task_stack_page()`.
    pub(crate) lo: u64,
    /// `struct graft_switched_out`, as the arch's `graft_arch.h` fills it.
    pub(crate) ctx: graft_core::SwitchedOut,
    /// `PF_KTHREAD`.
    pub(crate) kthread: bool,
}

/// `struct graft_site_row` (shim.h): one patched site in the view's table.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct SiteRow {
    /// The ftrace site (0: an empty row, which ends a probe).
    pub(crate) ip: c_ulong,
    /// `target[0]` if it equals `target[1]`, else [`GRAFT_ROW_SPLIT`].
    pub(crate) both: c_ulong,
    /// Where a call goes for a task in state `Unpatched` (`[0]`) and
    /// `Patched` (`[1]`); 0 runs the original.
    pub(crate) target: [c_ulong; 2],
}

/// `GRAFT_ROW_SPLIT` (shim.h): a row whose targets differ.
pub(crate) const GRAFT_ROW_SPLIT: c_ulong = 1;

/// `struct graft_view_head` (shim.h): the start of the published view, the
/// table the C handler probes.
#[repr(C)]
pub(crate) struct ViewHead {
    /// `2^bits` rows (at least 2); null only in a view never published.
    pub(crate) rows: *const SiteRow,
    /// `(rows - 1) * 32`: a site's probe starts at byte offset `ip & omask`
    /// (`shim_hooks.c` graft_row_off()).
    pub(crate) omask: c_ulong,
}

// `task_struct` holds zero-sized bindgen members (improper_ctypes): every
// use here is a pointer the C side dereferences, never a value.
#[allow(improper_ctypes)]
unsafe extern "C" {
    // --- the kernel build's facts -------------------------------------
    /// `UTS_RELEASE`, a macro Rust cannot see (a static string).
    pub(crate) safe fn graft_shim_release() -> *const c_char;
    /// `THREAD_SIZE`.
    pub(crate) safe fn graft_shim_thread_size() -> c_ulong;
    /// The current task's kernel stack `[*lo, *hi)`; whether it is a
    /// kernel thread (`PF_KTHREAD`: which final frame it ends at).
    pub(crate) safe fn graft_shim_current_stack(lo: &mut c_ulong, hi: &mut c_ulong) -> bool;
    /// `ktime_get_ns()`.
    pub(crate) safe fn graft_shim_now_ns() -> u64;

    // --- tasks and CPUs -------------------------------------------------
    /// `current`.
    pub(crate) safe fn graft_shim_current() -> *mut task_struct;
    /// The CPU when `current` is its idle task (in any context), else -1.
    pub(crate) safe fn graft_shim_idle_cpu() -> c_int;
    /// `init_task`, the boot CPU's idle task, and its CPU.
    pub(crate) safe fn graft_shim_boot_idle(cpu: &mut c_uint) -> *mut task_struct;
    /// `nr_cpu_ids`.
    pub(crate) safe fn graft_shim_nr_cpus() -> c_uint;
    /// `cpu_online()`.
    pub(crate) safe fn graft_shim_cpu_online(cpu: c_uint) -> bool;
    /// A no-op IPI to `cpu` if online, without waiting: its idle loop iterates.
    pub(crate) safe fn graft_shim_kick_cpu(cpu: c_uint);
    /// Every thread into `out[..max]`, each with a reference the caller
    /// owns; `-ENOSPC` (and no reference) when more than `max` exist.
    ///
    /// # Safety
    /// `out` is valid for writes of `max` pointers.
    pub(crate) fn graft_shim_snapshot(out: *mut *mut task_struct, max: c_int) -> c_int;
    /// Copy `t`'s kernel stack into `buf` and its saved context into `out`
    /// if it stays switched out across the copy; with `trace` not null, the
    /// kernel's `stack_trace_save_tsk()` of it into `trace[..max]` inside the
    /// same window (`*n` entries).  Returns `GRAFT_TASK_*`.
    ///
    /// # Safety
    /// `t` is referenced (or an idle task, never freed); `buf` is valid for
    /// writes of `THREAD_SIZE` bytes; `trace`, when not null, of `max`
    /// entries; `out` and `n` are valid for writes.
    pub(crate) fn graft_shim_copy_stack(
        t: *mut task_struct,
        buf: *mut u8,
        out: *mut TaskStack,
        trace: *mut c_ulong,
        max: c_uint,
        n: *mut c_uint,
    ) -> c_int;
    /// `task_pid_nr()`.
    ///
    /// # Safety
    /// `t` is referenced.
    pub(crate) fn graft_shim_task_pid(t: *mut task_struct) -> c_int;
    /// `t->comm` (NUL-terminated, alive while `t` is).
    ///
    /// # Safety
    /// `t` is referenced.
    pub(crate) fn graft_shim_task_comm(t: *mut task_struct) -> *const c_char;

    // --- control -----------------------------------------------------
    /// The transition pass's timer; once, before any [`graft_shim_schedule`].
    ///
    /// # Safety
    /// Called once, at init.
    pub(crate) fn graft_shim_timer_init();
    /// Run the transition pass in `ms` ms (0: now).
    pub(crate) safe fn graft_shim_schedule(ms: c_uint);
    /// Wait for the pass work and timer and the lookup reaper.
    pub(crate) safe fn graft_shim_cancel_work();
    /// `add_taint(TAINT_LIVEPATCH)`.
    pub(crate) safe fn graft_shim_taint();
    /// `try_module_get()`.
    ///
    /// # Safety
    /// `m` is a live module.
    pub(crate) fn graft_shim_module_get(m: *mut module) -> bool;
    /// `module_put()`.
    ///
    /// # Safety
    /// Drops a reference [`graft_shim_module_get`] took.
    pub(crate) fn graft_shim_module_put(m: *mut module);
    /// Whether `m` reads as a module's `struct module` lying in that
    /// module's own `MOD_DATA` (as `THIS_MODULE` does); read without
    /// faulting (`copy_from_kernel_nofault()`), so any pointer may be
    /// passed.
    pub(crate) safe fn graft_shim_module_self(m: *const module) -> bool;
    /// Which region of `m` holds `addr` (`GRAFT_MEM_*`), with the bytes
    /// from `addr` to its end in `*left` (`within_module_mem_type()`).
    ///
    /// # Safety
    /// [`graft_shim_module_self`] holds for `m`, a module that cannot
    /// unload meanwhile.
    pub(crate) fn graft_shim_module_mem(m: *const module, addr: c_ulong, left: &mut c_ulong) -> c_int;
    /// `m->name`: [`MODULE_NAME_LEN`](graft_core::desc::MODULE_NAME_LEN)
    /// bytes, NUL-terminated.
    ///
    /// # Safety
    /// As [`graft_shim_module_mem`].
    pub(crate) fn graft_shim_module_name(m: *const module) -> *const c_char;
    /// Take the module list headed at `head` (kallsyms' `modules`) for
    /// [`graft_shim_module_unwind`], if this module is on it: 0, else
    /// `-ENOENT` (no head) or `-EINVAL` (this module not on it).
    ///
    /// # Safety
    /// `head` is 0 or the address of the kernel's `modules` list head.
    #[allow(dead_code)] // only where the walk reads module tables (x86_64 ORC)
    pub(crate) fn graft_shim_set_modules(head: c_ulong) -> c_int;
    /// The unwind table of the formed module whose text holds `ip`
    /// (`false`: none, or the arch reads no module tables).
    ///
    /// # Safety
    /// The caller holds `rcu_read_lock()` for as long as it reads the table.
    #[allow(dead_code)] // as graft_shim_set_modules
    pub(crate) fn graft_shim_module_unwind(ip: c_ulong, t: &mut UnwindTable) -> bool;

    // --- ftrace, idle loop, syscall exit, RCU --------------------------
    /// Add `n` ftrace sites, none of them added yet, to graft's one
    /// IP-modifying `ftrace_ops` (registering it with the first ones): all
    /// or none; `-EBUSY` when another IP-modifying user holds one.
    ///
    /// # Safety
    /// `ips` is valid for reads of `n` addresses (ftrace only reads them).
    pub(crate) fn graft_shim_sites_add(ips: *mut c_ulong, n: c_uint) -> c_int;
    /// Remove `n` sites, each added and not removed since; the last ones
    /// unregister the ops (waiting for handlers in flight).
    ///
    /// # Safety
    /// As for [`graft_shim_sites_add`].
    pub(crate) fn graft_shim_sites_remove(ips: *mut c_ulong, n: c_uint);
    /// Register a direct call at site `ip` to `addr` (the backend's
    /// [`graft_core::Direct::addr`]) in an `ftrace_ops` of its own; null
    /// with `*err` set when ftrace refuses (`-EBUSY`: another direct user).
    pub(crate) safe fn graft_shim_direct_on(ip: c_ulong, addr: c_ulong, err: &mut c_int) -> *mut GraftDirect;
    /// Let graft's own ops register on `d`'s site (the one
    /// `SHARE_IPMODIFY_PEER` accepted) while `back`.
    ///
    /// # Safety
    /// `d` is from [`graft_shim_direct_on`], not yet turned off.
    pub(crate) fn graft_shim_direct_back(d: *mut GraftDirect, back: bool);
    /// Unregister and free `d` (waits for calls on their way through it).
    ///
    /// # Safety
    /// As for [`graft_shim_direct_back`]; `d` is not used again.
    pub(crate) fn graft_shim_direct_off(d: *mut GraftDirect);
    /// At load, before any registration: test the anchor of graft's ops.
    pub(crate) safe fn graft_shim_anchor_init();
    /// Whether a handback may leave the direct call registered, overruled
    /// by the handler (the anchor has an ftrace site and the arch says where
    /// a direct target waits).
    pub(crate) safe fn graft_shim_fast_shared_ok() -> bool;
    /// The module parameter `fast` (the global switch).
    pub(crate) safe fn graft_shim_fast_param() -> bool;
    /// Queue the fast path's work (hand over or back) on graft_wq.
    pub(crate) safe fn graft_shim_fast_kick();
    /// Allow (`true`, at init) or stop and wait for (`false`, at exit) the
    /// fast path's work.
    pub(crate) safe fn graft_shim_fast_ready(ready: bool);
    /// `hash_64(ip, bits)`: the first row of site `ip`'s probe in a view
    /// table of `2^bits` rows (the handler's own hash, shim.h).
    pub(crate) safe fn graft_shim_site_hash(ip: c_ulong, omask: c_ulong) -> c_ulong;
    /// A table's [`ViewHead::omask`] for `rows` rows.
    pub(crate) safe fn graft_shim_site_omask(rows: c_ulong) -> c_ulong;
    /// The stride, in rows, of site `ip`'s probe after its first row.
    pub(crate) safe fn graft_shim_site_step(ip: c_ulong, omask: c_ulong) -> c_ulong;
    /// Where the published view's pointer lives (beside graft's ftrace_ops).
    pub(crate) safe fn graft_shim_view_slot() -> *mut *mut ViewHead;
    /// The idle-loop hook on the symbol starting at `ip` (`GRAFT_IDLE_HOOK`,
    /// [`graft_shim_idle_hook_name`]), or off for 0; idempotent.
    pub(crate) safe fn graft_shim_idle_hook(ip: c_ulong) -> c_int;
    /// `GRAFT_IDLE_HOOK`, the arch's per-iteration idle-loop function.
    pub(crate) safe fn graft_shim_idle_hook_name() -> *const c_char;
    /// Ask for (or against) the `sys_exit` probe (a work item does it).
    pub(crate) safe fn graft_shim_sys_exit_hook(on: bool) -> c_int;
    /// Module exit: no `sys_exit` probe call may still run.
    pub(crate) safe fn graft_shim_sys_exit_exit();
    /// `synchronize_rcu_expedited()`, and where ftrace may call a handler
    /// where RCU does not watch, a work item run on each CPU (`shim.c`).
    pub(crate) safe fn graft_shim_synchronize();
    /// `start_poll_synchronize_rcu_expedited()` (and the per-CPU work
    /// items queued where they are needed).
    pub(crate) safe fn graft_shim_start_poll() -> c_ulong;
    /// Until `cookie`'s grace period is over (and the per-CPU work items
    /// queued since have run).
    pub(crate) safe fn graft_shim_cond_synchronize(cookie: c_ulong);
    /// graft's workqueue and the per-CPU work items of
    /// [`graft_shim_start_poll`]; 0 or -ENOMEM.
    ///
    /// # Safety
    /// Called once, at init, before any work is queued or view published.
    pub(crate) fn graft_shim_sched_init() -> c_int;
    /// Module exit, once nothing queues work any more: waits for the
    /// per-CPU work items and destroys graft's workqueue.
    pub(crate) safe fn graft_shim_sched_exit();

    // --- names and modules ---------------------------------------------
    /// Up to `len` bytes from the start of the file at `path` into `buf`
    /// (`kernel_read()`; for `/sys/module/<m>/initstate`), or -errno.
    ///
    /// # Safety
    /// `path` is NUL-terminated; `buf` is valid for writes of `len` bytes.
    pub(crate) fn graft_shim_read_file(path: *const c_char, buf: *mut u8, len: usize) -> isize;
    /// Watch modules come and go (`graft_rs_module_event`).
    pub(crate) safe fn graft_shim_module_notifier(on: bool) -> c_int;
    /// `/proc/kallsyms` opened for [`graft_shim_kallsyms_read`], or null
    /// with the errno in `*err`.
    pub(crate) safe fn graft_shim_kallsyms_open(err: &mut c_int) -> *mut c_void;
    /// Up to `len` bytes of `/proc/kallsyms` at `*pos` (advanced) into `buf`
    /// (`seq_read_iter()`): the count, 0 at the end, or -errno.
    ///
    /// # Safety
    /// `f` came from [`graft_shim_kallsyms_open`] and is not closed; `buf`
    /// is valid for writes of `len` bytes.
    pub(crate) fn graft_shim_kallsyms_read(f: *mut c_void, buf: *mut u8, len: usize, pos: &mut i64) -> isize;
    /// Close what [`graft_shim_kallsyms_open`] opened.
    ///
    /// # Safety
    /// `f` came from [`graft_shim_kallsyms_open`]; it is closed once.
    pub(crate) fn graft_shim_kallsyms_close(f: *mut c_void);

    // --- sysfs -------------------------------------------------------------
    /// `/sys/kernel/graft`.
    pub(crate) safe fn graft_shim_sysfs_init() -> c_int;
    /// Remove `/sys/kernel/graft`.
    pub(crate) safe fn graft_shim_sysfs_exit();
    /// `/sys/kernel/graft/<name>/` with its attributes; null and `*err` on
    /// failure.
    ///
    /// # Safety
    /// `name` is NUL-terminated.
    pub(crate) fn graft_shim_patch_dir(name: *const c_char, err: &mut c_int) -> *mut kobject;
    /// `<parent>/<name>/` with `patched`.
    ///
    /// # Safety
    /// `parent` is a patch directory; `name` is NUL-terminated.
    pub(crate) fn graft_shim_obj_dir(parent: *mut kobject, name: *const c_char, err: &mut c_int) -> *mut kobject;
    /// Remove a directory made by [`graft_shim_patch_dir`] or
    /// [`graft_shim_obj_dir`] (waits for its readers and writers).
    ///
    /// # Safety
    /// `k` is such a directory, removed once, never with `GRAFT_MUTEX` held.
    pub(crate) fn graft_shim_patch_dir_remove(k: *mut kobject);
    /// The patch directory whose `transition` reads 1 (null: none); only
    /// compared.
    pub(crate) safe fn graft_shim_set_transition(k: *mut kobject);

    // --- shadow variables ----------------------------------------------
    /// `kzalloc(size, gfp)`.
    pub(crate) safe fn graft_shim_kzalloc(size: usize, gfp: c_uint) -> *mut c_void;
    /// `spin_lock_irqsave()` of the shadow lock; returns the flags.
    pub(crate) safe fn graft_shim_shadow_lock() -> c_ulong;
    /// Releases the shadow lock.
    ///
    /// # Safety
    /// The caller holds it, with `flags` from [`graft_shim_shadow_lock`].
    pub(crate) fn graft_shim_shadow_unlock(flags: c_ulong);
}

/// graft.h's and shim.h's layouts as the C compiler lays them out:
/// generated by Kbuild from `abi_layout.c` (`GRAFT_ABI_LAYOUT`).
#[allow(dead_code, non_upper_case_globals)]
mod layout {
    include!(env!("GRAFT_ABI_LAYOUT"));
}

/// Each mirror has exactly its C struct's size, alignment and field offsets.
macro_rules! same_layout {
    ($t:ty, $size:ident, $align:ident, { $($f:ident: $off:ident),* $(,)? }) => {
        const _: () = {
            assert!(core::mem::size_of::<$t>() == layout::$size);
            assert!(core::mem::align_of::<$t>() == layout::$align);
            $(assert!(core::mem::offset_of!($t, $f) == layout::$off);)*
        };
    };
}

use crate::abi::{Callbacks, FuncDesc, ObjectDesc, PatchDesc, Preimage, PreimageMask, State, GRAFT_ABI_VERSION};
const _: () = assert!(GRAFT_ABI_VERSION as usize == layout::GRAFT_ABI_VERSION);
// graft.h's bound of old_sympos is the one graft_core::desc applies.
const _: () = assert!(graft_core::desc::MAX_SYMPOS as usize == layout::GRAFT_MAX_SYMPOS);
same_layout!(FuncDesc, SIZEOF_graft_func_desc, ALIGNOF_graft_func_desc, {
    old_name: OFFSETOF_graft_func_desc__old_name,
    new_func: OFFSETOF_graft_func_desc__new_func,
    old_sympos: OFFSETOF_graft_func_desc__old_sympos,
    preimage: OFFSETOF_graft_func_desc__preimage,
});
same_layout!(PreimageMask, SIZEOF_graft_preimage_mask, ALIGNOF_graft_preimage_mask, {
    offset: OFFSETOF_graft_preimage_mask__offset,
    len: OFFSETOF_graft_preimage_mask__len,
});
same_layout!(Preimage, SIZEOF_graft_preimage, ALIGNOF_graft_preimage, {
    size: OFFSETOF_graft_preimage__size,
    hash: OFFSETOF_graft_preimage__hash,
    masks: OFFSETOF_graft_preimage__masks,
    nmasks: OFFSETOF_graft_preimage__nmasks,
});
// graft.h's mask is graft-core's, field for field.
const _: () = {
    assert!(core::mem::size_of::<PreimageMask>() == core::mem::size_of::<graft_core::preimage::Mask>());
    assert!(core::mem::offset_of!(graft_core::preimage::Mask, offset) == layout::OFFSETOF_graft_preimage_mask__offset);
    assert!(core::mem::offset_of!(graft_core::preimage::Mask, len) == layout::OFFSETOF_graft_preimage_mask__len);
};
same_layout!(Callbacks, SIZEOF_graft_callbacks, ALIGNOF_graft_callbacks, {
    pre_patch: OFFSETOF_graft_callbacks__pre_patch,
    post_patch: OFFSETOF_graft_callbacks__post_patch,
    pre_unpatch: OFFSETOF_graft_callbacks__pre_unpatch,
    post_unpatch: OFFSETOF_graft_callbacks__post_unpatch,
});
same_layout!(ObjectDesc, SIZEOF_graft_object_desc, ALIGNOF_graft_object_desc, {
    name: OFFSETOF_graft_object_desc__name,
    funcs: OFFSETOF_graft_object_desc__funcs,
    nfuncs: OFFSETOF_graft_object_desc__nfuncs,
    callbacks: OFFSETOF_graft_object_desc__callbacks,
});
same_layout!(PatchDesc, SIZEOF_graft_patch_desc, ALIGNOF_graft_patch_desc, {
    abi_version: OFFSETOF_graft_patch_desc__abi_version,
    size: OFFSETOF_graft_patch_desc__size,
    name: OFFSETOF_graft_patch_desc__name,
    kernel_release: OFFSETOF_graft_patch_desc__kernel_release,
    objs: OFFSETOF_graft_patch_desc__objs,
    nobjs: OFFSETOF_graft_patch_desc__nobjs,
    replace: OFFSETOF_graft_patch_desc__replace,
    states: OFFSETOF_graft_patch_desc__states,
    nstates: OFFSETOF_graft_patch_desc__nstates,
});
same_layout!(State, SIZEOF_graft_state, ALIGNOF_graft_state, {
    id: OFFSETOF_graft_state__id,
    version: OFFSETOF_graft_state__version,
    data: OFFSETOF_graft_state__data,
});
same_layout!(graft_core::SwitchedOut, SIZEOF_graft_switched_out, ALIGNOF_graft_switched_out, {
    sp: OFFSETOF_graft_switched_out__sp,
    fp: OFFSETOF_graft_switched_out__fp,
    pc: OFFSETOF_graft_switched_out__pc,
});
same_layout!(UnwindTable, SIZEOF_graft_unwind_table, ALIGNOF_graft_unwind_table, {
    ip: OFFSETOF_graft_unwind_table__ip,
    entries: OFFSETOF_graft_unwind_table__entries,
    n: OFFSETOF_graft_unwind_table__n,
});
same_layout!(TaskStack, SIZEOF_graft_task_stack, ALIGNOF_graft_task_stack, {
    lo: OFFSETOF_graft_task_stack__lo,
    ctx: OFFSETOF_graft_task_stack__ctx,
    kthread: OFFSETOF_graft_task_stack__kthread,
});
same_layout!(SiteRow, SIZEOF_graft_site_row, ALIGNOF_graft_site_row, {
    ip: OFFSETOF_graft_site_row__ip,
    both: OFFSETOF_graft_site_row__both,
    target: OFFSETOF_graft_site_row__target,
});
same_layout!(ViewHead, SIZEOF_graft_view_head, ALIGNOF_graft_view_head, {
    rows: OFFSETOF_graft_view_head__rows,
    omask: OFFSETOF_graft_view_head__omask,
});
const _: () = {
    assert!(GRAFT_ROW_SPLIT == layout::GRAFT_ROW_SPLIT);
    assert!(GRAFT_TASK_DEAD as usize == layout::GRAFT_TASK_DEAD);
    assert!(GRAFT_TASK_COPIED as usize == layout::GRAFT_TASK_COPIED);
    assert!(GRAFT_ATTR_ENABLED as usize == layout::GRAFT_ATTR_ENABLED);
    assert!(GRAFT_ATTR_REPLACE as usize == layout::GRAFT_ATTR_REPLACE);
    assert!(GRAFT_ATTR_STACK_ORDER as usize == layout::GRAFT_ATTR_STACK_ORDER);
    assert!(GRAFT_ATTR_PATCHED as usize == layout::GRAFT_ATTR_PATCHED);
    assert!(GRAFT_ATTR_FORCE as usize == layout::GRAFT_ATTR_FORCE);
    assert!(GRAFT_ATTR_FORCED as usize == layout::GRAFT_ATTR_FORCED);
    assert!(GRAFT_ATTR_PROGRESS as usize == layout::GRAFT_ATTR_PROGRESS);
    assert!(GRAFT_ATTR_MODULE as usize == layout::GRAFT_ATTR_MODULE);
    assert!(GRAFT_ATTR_KERNEL_RELEASE as usize == layout::GRAFT_ATTR_KERNEL_RELEASE);
    assert!(GRAFT_ATTR_STATES as usize == layout::GRAFT_ATTR_STATES);
    assert!(GRAFT_ATTR_FUNCTIONS as usize == layout::GRAFT_ATTR_FUNCTIONS);
    assert!(GRAFT_ATTR_CALLBACKS as usize == layout::GRAFT_ATTR_CALLBACKS);
    assert!(GRAFT_ATTR_FAST as usize == layout::GRAFT_ATTR_FAST);
    assert!(graft_core::DirectCaps::CALLS.bits() as usize == layout::GRAFT_DIRECT_CALLS);
    assert!(graft_core::DirectCaps::JMP.bits() as usize == layout::GRAFT_DIRECT_JMP);
    assert!(graft_core::DirectCaps::BTI.bits() as usize == layout::GRAFT_DIRECT_BTI);
    assert!(GRAFT_MEM_NONE as usize == layout::GRAFT_MEM_NONE);
    assert!(GRAFT_MEM_TEXT as usize == layout::GRAFT_MEM_TEXT);
    assert!(GRAFT_MEM_DATA as usize == layout::GRAFT_MEM_DATA);
    assert!(GRAFT_MEM_INIT as usize == layout::GRAFT_MEM_INIT);
    // graft_core::desc restates the kernel's name limits: the same values.
    assert!(graft_core::desc::MODULE_NAME_LEN == layout::MODULE_NAME_LEN);
    assert!(graft_core::desc::KSYM_NAME_LEN == layout::KSYM_NAME_LEN);
    assert!(graft_core::desc::NAME_MAX == layout::NAME_MAX);
    assert!(graft_core::desc::UTS_LEN == layout::NEW_UTS_LEN);
};

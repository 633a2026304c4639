// SPDX-License-Identifier: GPL-2.0
//! x86_64: the reliable unwinder graft.ko walks task stacks with.  A kernel
//! built with frame pointers is walked by the backend's frame-pointer
//! walk; one built with `CONFIG_UNWINDER_ORC` (Debian's amd64 kernels: no
//! frame pointers) by the backend's ORC walk (`graft_x86_64::orc`) over the
//! running kernel's own tables, read in place and never written:
//!
//! * vmlinux's: `.orc_unwind_ip`, `.orc_unwind`, `.orc_header` and the
//!   boot-time `orc_lookup`, found by the linker script's symbols in
//!   `/proc/kallsyms` (`KALLSYMS_ALL`, arch/x86/kernel/vmlinux.lds.S and
//!   include/asm-generic/vmlinux.lds.h), checked once at load: the
//!   header's layout hash is the one the backend decodes, the entries are
//!   sorted, and `orc_lookup` is what `unwind_init()` computes from them;
//! * each module's: `mod->arch.orc_unwind_ip`, `orc_unwind`, `num_orcs`,
//!   found for an address by walking the module list as
//!   `__module_address()` does (`graft_shim_module_unwind`; neither it nor
//!   `find_module()` is exported), under `rcu_read_lock()`, which the walk
//!   holds from its first address to its last ([`KernelOrc`]).
//!
//! A kernel that unwinds with ORC but whose tables graft cannot read or
//! trust gets no graft: the module refuses to load ([`init_unwinder`])
//! rather than walk stacks it cannot prove.

use graft_core::UnwindReliable;
use kernel::prelude::*;

#[cfg(not(CONFIG_UNWINDER_ORC))]
mod imp {
    use graft_core::UnwindReliable;
    use kernel::prelude::*;

    /// Frame pointers: the backend's walk, as on the other arches.
    pub(crate) fn init() -> Result {
        pr_info!("unwinder: frame pointers\n");
        super::super::plain::init_unwinder()
    }

    pub(crate) fn get() -> &'static dyn UnwindReliable {
        super::super::plain::unwinder()
    }
}

#[cfg(CONFIG_UNWINDER_ORC)]
mod imp {
    use crate::engine::objects::ksyms;
    use crate::ffi::{graft_shim_module_unwind, graft_shim_set_modules, UnwindTable};
    use crate::kenv::Show;
    use graft_core::kallsyms::Lookup;
    use graft_core::{SavedRegs, StackBounds, StackReader, TextAddr, TextInfo, Unreliable, UnwindReliable};
    use graft_x86_64::orc::{check_header, Orc, OrcModules, OrcTable, VmlinuxOrc, ORC_ENTRY_SIZE};
    use kernel::prelude::*;
    use kernel::sync::rcu;
    use kernel::sync::SetOnce;

    /// The symbols graft reads vmlinux's tables by, in this order.
    const NAMES: [&[u8]; 14] = [
        b"__start_orc_unwind_ip",
        b"__stop_orc_unwind_ip",
        b"__start_orc_unwind",
        b"__stop_orc_unwind",
        b"orc_lookup",
        b"orc_lookup_end",
        b"_stext",
        b"_etext",
        b"_sinittext",
        b"_einittext",
        b"__start_orc_header",
        b"__stop_orc_header",
        b"ret_from_fork_asm",
        b"modules",
    ];

    /// vmlinux's tables and `ret_from_fork_asm`, set once at load.
    struct Tables {
        vmlinux: VmlinuxOrc<'static>,
        ret_from_fork: TextAddr,
    }

    static TABLES: SetOnce<Tables> = SetOnce::new();

    /// `len` bytes of kernel data at `addr` as a slice.
    ///
    /// # Safety
    /// `[addr, addr + len)` is kernel memory that stays mapped and is not
    /// written while the slice lives.
    unsafe fn kernel_bytes<'a>(addr: u64, len: u64) -> Option<&'a [u8]> {
        if addr == 0 || len == 0 {
            return None;
        }
        // SAFETY: the caller's guarantee.
        Some(unsafe { core::slice::from_raw_parts(addr as *const u8, usize::try_from(len).ok()?) })
    }

    /// The difference `end - start` of two symbols, which must be in order.
    fn span(start: u64, end: u64) -> Result<u64> {
        end.checked_sub(start).filter(|&n| n > 0).ok_or(EINVAL)
    }

    pub(crate) fn init() -> Result {
        let mut lookups = NAMES.map(|n| Lookup::new(n, 0));
        let mut addrs = [0u64; NAMES.len()];
        ksyms::scan(None, &mut lookups, &mut addrs).map_err(|e| {
            pr_err!("unwinder: ORC: cannot read /proc/kallsyms ({})\n", e);
            Error::from_errno(e)
        })?;
        for ((name, l), a) in NAMES.iter().zip(lookups.iter()).zip(addrs.iter()) {
            if *a == 0 || l.check().is_err() {
                pr_err!(
                    "unwinder: ORC: no single {} in /proc/kallsyms (a kernel without KALLSYMS_ALL?): graft cannot prove stacks here\n",
                    core::str::from_utf8(name).unwrap_or("?")
                );
                return Err(ENOENT);
            }
        }
        let [ip, ip_end, un, un_end, lookup, lookup_end, stext, etext, sinit, einit, hdr, hdr_end, rff, modules] =
            addrs;
        // SAFETY: the linker script's sections of vmlinux's read-only data
        // (`.orc_header`, `.orc_unwind_ip`, `.orc_unwind`, and `.orc_lookup`,
        // written only by unwind_init() at boot), mapped for the kernel's
        // life; graft only reads them.
        let (header, ip_bytes, un_bytes, lookup_bytes) = unsafe {
            (
                kernel_bytes(hdr, span(hdr, hdr_end)?),
                kernel_bytes(ip, span(ip, ip_end)?),
                kernel_bytes(un, span(un, un_end)?),
                kernel_bytes(lookup, span(lookup, lookup_end)?),
            )
        };
        let (Some(header), Some(ip_bytes), Some(un_bytes), Some(lookup_bytes)) =
            (header, ip_bytes, un_bytes, lookup_bytes)
        else {
            return Err(EINVAL);
        };
        let checked = check_header(header).and_then(|()| OrcTable::new(ip, ip_bytes, un_bytes)).and_then(|table| {
            // Init text too, freed or not, as orc_find() searches it
            // (is_kernel_inittext()): the boot CPU's idle task keeps
            // return addresses into start_kernel()'s callers.
            let v = VmlinuxOrc { table, lookup: lookup_bytes, text: (stext, etext), init_text: (sinit, einit) };
            v.check().map(|()| v)
        });
        let vmlinux = match checked {
            Ok(v) => v,
            Err(e) => {
                pr_err!("unwinder: ORC: vmlinux's tables refused ({}): graft cannot prove stacks here\n", Show(e));
                return Err(EINVAL);
            }
        };
        // SAFETY: `modules` is kallsyms' address of the kernel's module
        // list head (kernel/module/main.c); the shim only takes it if this
        // module is on the list it heads.
        let r = unsafe { graft_shim_set_modules(modules as _) };
        if r != 0 {
            pr_err!("unwinder: ORC: the module list at {:#x} does not hold graft ({})\n", modules, r);
            return Err(EINVAL);
        }
        let n = vmlinux.table.len();
        if !TABLES.populate(Tables { vmlinux, ret_from_fork: TextAddr(rff) }) {
            return Err(EBUSY);
        }
        pr_info!("unwinder: ORC, vmlinux's {} entries checked\n", n);
        Ok(())
    }

    /// Loaded modules' tables, by address: only used inside
    /// [`KernelOrc::unwind_reliable`], which holds `rcu_read_lock()` across
    /// the walk, so a table it hands out outlives no module.
    struct LiveModules;

    impl OrcModules for LiveModules {
        fn table(&self, ip: u64) -> Option<OrcTable<'_>> {
            let mut t = UnwindTable::default();
            // SAFETY: the walk that calls this holds rcu_read_lock() until
            // it ends (`KernelOrc::unwind_reliable`), and the table it
            // returns does not outlive the walk.
            if !unsafe { graft_shim_module_unwind(ip as _, &mut t) } {
                return None;
            }
            let n = u64::from(t.n);
            // SAFETY: `mod->arch.orc_unwind_ip` and `orc_unwind` of a formed
            // module hold `num_orcs` entries of 4 and 6 bytes, sorted once
            // before the module was formed and not written after; freed only
            // after a grace period the walk's RCU read section holds off.
            let (ip_bytes, un_bytes) =
                unsafe { (kernel_bytes(t.ip, 4 * n)?, kernel_bytes(t.entries, ORC_ENTRY_SIZE as u64 * n)?) };
            OrcTable::new(t.ip, ip_bytes, un_bytes).ok()
        }
    }

    /// The ORC walk over the running kernel's tables.
    struct KernelOrc;

    impl KernelOrc {
        /// The backend's walk over the tables `init` checked (`None`
        /// before it did).
        fn orc(&self) -> Option<Orc<'static>> {
            let t = TABLES.as_ref()?;
            Some(Orc { vmlinux: t.vmlinux, modules: &LiveModules, ret_from_fork: t.ret_from_fork })
        }
    }

    /// `Orc`'s own `UnwindReliable`, with the walk under RCU.
    impl UnwindReliable for KernelOrc {
        fn unwind_reliable(
            &self,
            regs: &SavedRegs,
            bounds: StackBounds,
            mem: &dyn StackReader,
            text: &dyn TextInfo,
            out: &mut [TextAddr],
        ) -> Result<usize, Unreliable> {
            let orc = self.orc().ok_or(Unreliable::NoUnwindInfo(regs.pc))?;
            // Modules' tables are read under RCU (LiveModules).
            let _guard = rcu::read_lock();
            orc.unwind_reliable(regs, bounds, mem, text, out)
        }
        fn interrupted_pc(&self, at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
            UnwindReliable::interrupted_pc(&self.orc()?, at, bounds, mem)
        }
        fn endian(&self) -> graft_core::Endian {
            graft_core::Endian::Little
        }
    }

    pub(crate) fn get() -> &'static dyn UnwindReliable {
        &KernelOrc
    }
}

/// Prepare the unwinder (once, at load, before anything walks a stack).
pub(crate) fn init_unwinder() -> Result {
    imp::init()
}

/// The reliable unwinder of this kernel.
pub(crate) fn unwinder() -> &'static dyn UnwindReliable {
    imp::get()
}

//! The riscv ftrace entry site: `-fpatchable-function-entry`.
//!
//! Linux 7.3 builds riscv with `-fpatchable-function-entry=8,4` when
//! `CONFIG_RISCV_ISA_C` (eight 2-byte `c.nop`s, four before the symbol),
//! else `=4,2` (four 4-byte `nop`s, two before): either way 8 bytes before
//! the symbol, the CALL_OPS literal (`ftrace_rec_set_ops()` stores the
//! `ftrace_ops` pointer at `ALIGN_DOWN(rec->ip - 12, 8)`), and 8 after it
//! (arch/riscv/Makefile, arch/riscv/kernel/ftrace.c):
//!
//! ```text
//! func-8:  literal        the 8-byte ops pointer (CALL_OPS), nops as compiled
//! func+0:  nops         → auipc t0, hi(ftrace_caller - func)   (ftrace_init_nop(), once)
//! func+4:  nops         → nop / jalr t0, lo(t0)   (rec->ip, the only word toggled)
//! ```
//!
//! `ftrace_make_call()` writes only the `jalr`, whose target is the
//! `auipc`'s page plus its offset: `ftrace_caller` (or a direct trampoline
//! within `JALR_RANGE` of it).  A compiled object (`.o`, or a vmlinux before
//! boot) holds the nops: [`SiteState::Unconverted`] with `target` 0, form
//! `pfe+rvc` for the compressed ones.
//!
//! riscv has no kprobes on ftrace: a kprobe on the symbol is an `ebreak`
//! over the `auipc` (`arch_arm_kprobe()`, arch/riscv/kernel/probes/
//! kprobes.c; `__ftrace_modify_call()` expects it there), and
//! `check_ftrace_location()` (kernel/kprobes.c) refuses one on `rec->ip`.
//! The site is then read from the toggled word alone (form `pfe+kprobe`);
//! the `auipc` is under the breakpoint, so an enabled site's target is not
//! in the text: it reads as 0.

use crate::codec::{self, C_NOP2, EBREAK, NOP, T0};
use crate::Riscv;
use graft_core::{
    Code, Direct, DirectCaps, EntrySite, NoDirect, Redirect, RedirectFlags, Site, SiteError, SiteState, TextAddr,
};

/// `MCOUNT_AUIPC_SIZE`: the site is the word after the `auipc`.
pub const AUIPC_SIZE: u64 = 4;
/// Bytes of the CALL_OPS literal before the symbol (`rec->ip - 12`).
pub const LITERAL_SIZE: u64 = 8;

/// `ftrace_call_adjust()`: an address recorded in
/// `__patchable_function_entries` (the first nop, 8 bytes before the
/// symbol) to `rec->ip`.  With CALL_OPS that is `addr + 8 + 4`, the symbol
/// plus 4.  Without CALL_OPS (a `CONFIG_CFI` kernel) 7.3 returns `addr + 4`,
/// which is 4 bytes *before* the symbol with the compilers' records (the
/// Makefile keeps `8,4`/`4,2`): mirrored as the kernel has it.
pub fn ftrace_call_adjust(call_ops: bool, recorded: TextAddr) -> Option<TextAddr> {
    recorded.checked_add(if call_ops { LITERAL_SIZE + AUIPC_SIZE } else { AUIPC_SIZE })
}

/// `arch_ftrace_get_symaddr()`: `rec->ip - MCOUNT_AUIPC_SIZE`.
pub fn ftrace_get_symaddr(rec_ip: TextAddr) -> Option<TextAddr> {
    rec_ip.0.checked_sub(AUIPC_SIZE).map(TextAddr)
}

/// The CALL_OPS literal of the site at `rec_ip` (`ftrace_rec_set_ops()`;
/// `ftrace_caller` loads it from `t0 - 16`, the same word for an 8-byte
/// aligned symbol).
pub fn call_ops_literal(rec_ip: TextAddr) -> Option<TextAddr> {
    Some(TextAddr(rec_ip.0.checked_sub(12)? & !7))
}

fn word_at(code: &Code<'_>, addr: TextAddr) -> Result<u32, SiteError> {
    code.at(addr).and_then(codec::word).ok_or(SiteError::Truncated)
}

/// `Some(target)` if `w1` is `jalr t0, lo(t0)` (what `ftrace_make_call()`
/// writes) after the `auipc t0` `w0` at `func`; 0 when `w0` is unknown.
fn call_target(func: TextAddr, w0: Option<u32>, w1: u32) -> Option<TextAddr> {
    match codec::jalr_parts(w1)? {
        (T0, T0, _) => match w0 {
            Some(w0) => codec::decode_pair(func, w0, w1)?.ok().map(|(_, t)| t),
            None => Some(TextAddr(0)),
        },
        _ => None,
    }
}

impl EntrySite for Riscv {
    fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError> {
        if !func.is_aligned(2) {
            return Err(SiteError::Misaligned);
        }
        let site = func.checked_add(AUIPC_SIZE).ok_or(SiteError::Truncated)?;
        let w0 = word_at(&code, func)?;
        let w1 = word_at(&code, site)?;
        let refused = || match recorded {
            Some(r) => SiteError::RecordMismatch(r),
            None => SiteError::NotInstrumented,
        };
        let auipc = codec::auipc_rd(w0) == Some(T0);
        if !(auipc || w0 == EBREAK || w0 == NOP || w0 == C_NOP2) {
            return Err(refused());
        }
        if let Some(r) = recorded {
            if r != site {
                return Err(SiteError::RecordMismatch(r));
            }
        }
        let live = if w0 == EBREAK { "pfe+kprobe" } else { "pfe" };
        let (state, form) = match (w0, w1) {
            (C_NOP2, C_NOP2) => (SiteState::Unconverted { target: TextAddr(0) }, "pfe+rvc"),
            (NOP, NOP) => (SiteState::Unconverted { target: TextAddr(0) }, "pfe"),
            // ftrace_init_nop() has run: nothing else is in the first word.
            _ if !(auipc || w0 == EBREAK) => return Err(refused()),
            (_, NOP) => (SiteState::Disabled, live),
            _ => {
                let target = call_target(func, auipc.then_some(w0), w1).ok_or_else(refused)?;
                (SiteState::Enabled { target }, live)
            }
        };
        Ok(Site { func, addr: site, len: 4, state, form })
    }

    /// [`ftrace_call_adjust`] with CALL_OPS, which every riscv kernel
    /// without CFI selects (graft's does).  Both entry layouts put 8 bytes
    /// before the symbol, so the data cannot tell a CFI kernel apart.
    fn call_adjust(_code: Code<'_>, _func: TextAddr, recorded: TextAddr) -> Option<TextAddr> {
        ftrace_call_adjust(true, recorded)
    }

    /// klp's handler sets `fregs->epc = new_func`; `ftrace_caller`
    /// (arch/riscv/kernel/mcount-dyn.S) restores `t0` from it and leaves by
    /// `jr t0`, with `ra` still the traced function's caller and `sp` as at
    /// entry.  Nothing else to set.
    fn redirect(_site: &Site, new_func: TextAddr, _new_is_module: bool) -> Redirect {
        Redirect { ip: new_func, flags: RedirectFlags::empty() }
    }

    /// The replacement itself is the direct call's target.  The site's
    /// `jalr t0` reaches only `ftrace_caller`'s neighbourhood
    /// (`ftrace_make_call()`, arch/riscv/kernel/ftrace.c), so ftrace enters
    /// a module's target from `ftrace_caller`: with CALL_OPS it loads the
    /// site's ops from the literal and `jr`s to its `direct_call` before
    /// saving anything, else after the ops ran (`t1`,
    /// arch/riscv/kernel/mcount-dyn.S).  Either way `ra` is still the
    /// caller's return address and `t0` (the resume address) is scratch,
    /// so the replacement returns to the caller; its own entry's
    /// `auipc t0` only clobbers `t0`.  `jr` takes any halfword-aligned
    /// target and has no reach limit.
    fn direct(
        _site: &Site,
        new_func: TextAddr,
        caps: DirectCaps,
        _tramp: Option<TextAddr>,
    ) -> Result<Direct, NoDirect> {
        if !caps.contains(DirectCaps::CALLS) {
            return Err(NoDirect::Kernel);
        }
        if new_func.0 & 1 != 0 {
            return Err(NoDirect::Unaligned);
        }
        Ok(Direct { addr: new_func.0, enters: new_func, tramp: false })
    }
}

//! The arm64 ftrace entry site: `-fpatchable-function-entry`.
//!
//! Linux 7.3 builds arm64 with `-fpatchable-function-entry=4,2` when
//! `CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS` is set, else `=2`
//! (arch/arm64/Makefile).  After the symbol both forms are the same:
//!
//! ```text
//! func-8:  NOP            } CALL_OPS only: the 8-byte ops literal (data,
//! func-4:  NOP            }   written by ftrace_rec_set_ops())
//! func+0:  [BTI C]          with ARM64_BTI_KERNEL (-mbranch-protection=...+bti)
//!          NOP            → MOV X9, X30   (ftrace_init_nop(), once)
//!          NOP            → NOP / BL <ftrace_caller|direct trampoline|PLT>
//!                           (rec->ip, the only word toggled afterwards)
//! ```
//!
//! A kprobe on the symbol (or on the `MOV X9, X30` after a `BTI C`) is a
//! `BRK` ([`BRK_KPROBES`]) over that word: arm64 arms kprobes as breakpoints,
//! never through ftrace (arch/arm64/Kconfig selects no
//! `HAVE_KPROBES_ON_FTRACE`), and `check_ftrace_location()`
//! (kernel/kprobes.c) refuses one on the toggled word itself.  The site is
//! then recognised from the toggled word alone, as kprobes keep the
//! original word; kprobes only probe live text, which `ftrace_init_nop()`
//! has converted, so such a site is disabled or enabled, never
//! unconverted.  Its form name ends in `+kprobe`.
//!
//! A compiled object (`.o`, or text before `ftrace_init_nop()`) holds two
//! NOPs after the symbol: that is the [`SiteState::Unconverted`] form, with
//! `target` 0 because arm64 compilers emit no call to convert.
//!
//! Whether the two words before the symbol are a CALL_OPS literal or the
//! previous function's code (or alignment NOPs) is a kernel configuration
//! fact, not visible in the text: the site itself is recognised from the
//! words after the symbol, and [`FtraceConfig`] says how a record from
//! `__patchable_function_entries` maps to `rec->ip`.

use crate::codec::{self, is_bti, BRK_KPROBES, MOV_X9_LR, NOP};
use crate::Arm64;
use graft_core::{
    Code, Direct, DirectCaps, EntrySite, Insn, NoDirect, Redirect, RedirectFlags, Site, SiteError, SiteState, TextAddr,
};

/// Instruction size (`AARCH64_INSN_SIZE`).
const INSN: u64 = 4;

bitflags::bitflags! {
    /// The kernel configuration that shapes `ftrace_call_adjust()`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct FtraceConfig: u8 {
        /// `CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS` (`-fpatchable-function-entry=4,2`).
        const CALL_OPS = 1 << 0;
        /// `CONFIG_ARM64_BTI_KERNEL` (`-mbranch-protection=pac-ret+bti`).
        const BTI_KERNEL = 1 << 1;
    }
}

impl FtraceConfig {
    /// What graft's arm64 kernel uses (tinyconfig + qemu-images/config): clang,
    /// no CFI, hence CALL_OPS; pointer authentication and so BTI are off.
    pub const GRAFT: FtraceConfig = FtraceConfig::CALL_OPS;
}

/// `ftrace_call_adjust()` (arch/arm64/kernel/ftrace.c) for the dynamic-ftrace
/// configurations (`DYNAMIC_FTRACE_WITH_ARGS`): turn an address recorded in
/// `__patchable_function_entries` into `rec->ip`.
///
/// * without CALL_OPS the record is the first NOP after the symbol (after
///   any BTI): `rec->ip = recorded + 4`;
/// * with CALL_OPS the record is the first pre-symbol NOP and must be 8-byte
///   aligned (else the kernel warns and returns 0: here `None`); skip the two
///   literal NOPs, then a BTI when `bti_kernel` and the word is a BTI, then
///   the `MOV X9, X30` slot.
///
/// `code` must hold the word at `recorded + 8` when `cfg` has CALL_OPS and
/// BTI (the kernel reads it); `None` if it does not.
pub fn ftrace_call_adjust(cfg: FtraceConfig, code: Code<'_>, recorded: TextAddr) -> Option<TextAddr> {
    if !cfg.contains(FtraceConfig::CALL_OPS) {
        return recorded.checked_add(INSN);
    }
    if !recorded.is_aligned(8) {
        return None;
    }
    let mut addr = recorded.checked_add(2 * INSN)?;
    if cfg.contains(FtraceConfig::BTI_KERNEL) && is_bti(codec::word(code.at(addr)?)?) {
        // The kernel only warns when this word is neither BTI nor NOP.
        addr = addr.checked_add(INSN)?;
    }
    addr.checked_add(INSN)
}

/// The address of the CALL_OPS literal for the site at `rec_ip`
/// (`ftrace_rec_set_ops()`: `ALIGN_DOWN(rec->ip - 12, 8)`).
pub fn call_ops_literal(rec_ip: TextAddr) -> Option<TextAddr> {
    Some(TextAddr(rec_ip.0.checked_sub(12)? & !7))
}

/// The symbol address of the function whose site is `rec_ip`
/// (`arch_ftrace_get_symaddr()`): one word back, or two when the word two
/// back is a BTI and the kernel was built with CALL_OPS and BTI.
pub fn ftrace_get_symaddr(cfg: FtraceConfig, code: Code<'_>, rec_ip: TextAddr) -> Option<TextAddr> {
    let one_back = TextAddr(rec_ip.0.checked_sub(INSN)?);
    if !cfg.contains(FtraceConfig::CALL_OPS | FtraceConfig::BTI_KERNEL) {
        return Some(one_back);
    }
    let two_back = TextAddr(rec_ip.0.checked_sub(2 * INSN)?);
    Some(if is_bti(codec::word(code.at(two_back)?)?) { two_back } else { one_back })
}

fn word_at(code: &Code<'_>, addr: TextAddr) -> Result<u32, SiteError> {
    code.at(addr).and_then(codec::word).ok_or(SiteError::Truncated)
}

impl EntrySite for Arm64 {
    fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError> {
        if !func.is_aligned(INSN) {
            return Err(SiteError::Misaligned);
        }
        let first = word_at(&code, func)?;
        // A kprobe's BRK over a BTI C leaves the MOV X9, X30 after it,
        // which is never the toggled word.
        let next = func.checked_add(INSN).and_then(|a| code.at(a)).and_then(codec::word);
        let bti = is_bti(first) || (first == BRK_KPROBES && next == Some(MOV_X9_LR));
        let slot0 = if bti { func.checked_add(INSN).ok_or(SiteError::Truncated)? } else { func };
        let site = slot0.checked_add(INSN).ok_or(SiteError::Truncated)?;
        let w0 = if bti { word_at(&code, slot0)? } else { first };
        let refused = || match recorded {
            Some(r) => SiteError::RecordMismatch(r),
            None => SiteError::NotInstrumented,
        };
        if w0 != NOP && w0 != MOV_X9_LR && w0 != BRK_KPROBES {
            return Err(refused());
        }
        if let Some(r) = recorded {
            if r != site {
                return Err(SiteError::RecordMismatch(r));
            }
        }
        let w1 = word_at(&code, site)?;
        let state = match (w0, codec::decode_word(site, w1)) {
            // As compiled: ftrace_init_nop() has not run yet.
            (NOP, Ok(Insn::Nop { .. })) => SiteState::Unconverted { target: TextAddr(0) },
            (MOV_X9_LR | BRK_KPROBES, Ok(Insn::Nop { .. })) => SiteState::Disabled,
            // ftrace_make_call() only ever writes BL, and only after the MOV.
            (MOV_X9_LR | BRK_KPROBES, Ok(Insn::Branch { kind: graft_core::BranchKind::Call, target, .. })) => {
                SiteState::Enabled { target }
            }
            _ => return Err(refused()),
        };
        let kprobe = first == BRK_KPROBES || w0 == BRK_KPROBES;
        let form = match (bti, kprobe) {
            (false, false) => "pfe",
            (true, false) => "pfe+bti",
            (false, true) => "pfe+kprobe",
            (true, true) => "pfe+bti+kprobe",
        };
        Ok(Site { func, addr: site, len: INSN as u8, state, form })
    }

    /// `ftrace_call_adjust()`, with the configuration read from the data: a
    /// record before the symbol is CALL_OPS' first pre-symbol NOP; a BTI at
    /// the entry means a BTI kernel (compilers emit none otherwise).  For a
    /// known configuration use [`ftrace_call_adjust`].
    fn call_adjust(code: Code<'_>, func: TextAddr, recorded: TextAddr) -> Option<TextAddr> {
        let mut cfg = FtraceConfig::BTI_KERNEL;
        cfg.set(FtraceConfig::CALL_OPS, recorded < func);
        ftrace_call_adjust(cfg, code, recorded)
    }

    /// klp's handler sets `fregs->pc = new_func`; `ftrace_caller` returns
    /// there with `ret x9`, LR already restored to the traced function's
    /// caller and SP unchanged (arch/arm64/kernel/entry-ftrace.S).  Nothing
    /// else to set on arm64.
    fn redirect(_site: &Site, new_func: TextAddr, _new_is_module: bool) -> Redirect {
        Redirect { ip: new_func, flags: RedirectFlags::empty() }
    }

    /// A direct call on arm64 enters its target with `x30` pointing after
    /// the site's `BL` and `x9` holding the caller's return address, from
    /// the site's `BL` itself (in reach) or from `ftrace_caller` (`BR X17`,
    /// arch/arm64/kernel/entry-ftrace.S, both register values the same),
    /// so the replacement cannot be the target: it would return into the
    /// original function.  The target is one of the backend's trampolines
    /// ([`crate::native`]'s `trampoline`): `MOV X30, X9`, then `RET` to the
    /// replacement, whose address the trampoline loads.  The `RET` consumes
    /// the return-stack entry the site's `BL` pushed, as `ftrace_caller`'s
    /// `RET X9` does, so the caller's own return stays predicted.  With
    /// `ARM64_BTI_KERNEL` the direct call enters at the trampoline's
    /// `BTI C` (the landing pad `BR X17` needs), without it one word later.
    fn direct(_site: &Site, new_func: TextAddr, caps: DirectCaps, tramp: Option<TextAddr>) -> Result<Direct, NoDirect> {
        if !caps.contains(DirectCaps::CALLS) {
            return Err(NoDirect::Kernel);
        }
        let Some(t) = tramp else { return Err(NoDirect::NoTrampoline) };
        if t.0 & 3 != 0 || new_func.0 & 3 != 0 {
            return Err(NoDirect::Unaligned);
        }
        let entry = if caps.contains(DirectCaps::BTI) { t } else { TextAddr(t.0 + TRAMPOLINE_BTI) };
        Ok(Direct { addr: entry.0, enters: entry, tramp: true })
    }
}

/// The fast-path trampolines' layout ([`crate::native`]'s asm follows it):
/// each starts `BTI C` (this many bytes), then `MOV X30, X9`,
/// `ADRP X16, target`, `LDR X16, [X16, :lo12:target]`, `RET X16`, and the
/// next starts [`TRAMPOLINE_STRIDE`] bytes later.
pub const TRAMPOLINE_BTI: u64 = 4;
/// The distance between two trampolines (a power of two, so that none
/// straddles two cache lines).
pub const TRAMPOLINE_STRIDE: u64 = 32;
/// How many trampolines the backend has: as many sites can be on the fast
/// path at once (more stay on the handler).
pub const TRAMPOLINES: usize = 64;

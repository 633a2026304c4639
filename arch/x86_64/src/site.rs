//! The `-mfentry` entry site.
//!
//! Linux 7.3 builds x86_64 C code with `-pg -mfentry` (top-level Makefile,
//! `HAVE_FENTRY`), so the first instruction of every traceable function is a
//! 5-byte `call __fentry__`.  With `X86_KERNEL_IBT` (`-fcf-protection=branch`)
//! an `endbr64` comes first and the site sits at `func + 4`
//! (`FTRACE_MCOUNT_MAX_OFFSET = ENDBR_INSN_SIZE`, arch/x86/include/asm/ftrace.h).
//! At boot IBT may *seal* an unused ENDBR by overwriting it with the 4-byte
//! poison `nopl -42(%rax)` (`gen_endbr_poison()`, arch/x86/include/asm/ibt.h);
//! `arch_ftrace_get_symaddr()` accepts ENDBR64, ENDBR32 and the poison alike
//! (`__is_endbr()`), and so does [`analyze_site`](super::X86_64).
//!
//! The site instruction is one of (see [`codec`](super::codec)):
//! * `0f 1f 44 00 00` ([`SiteState::Disabled`]): the nop objtool `--mnop`
//!   writes at link time or `ftrace_init_nop()` at boot;
//! * `e8 rel32` ([`SiteState::Enabled`]): a call into `ftrace_caller`,
//!   `ftrace_regs_caller` or a per-ops trampoline; a call whose `rel32` is 0
//!   is the unrelocated `call __fentry__` of a `.o`
//!   ([`SiteState::Unconverted`], target = the next instruction);
//! * `e9 rel32` ([`SiteState::Enabled`]): a `DYNAMIC_FTRACE_WITH_JMP` direct
//!   jump.
//!
//! With `CALL_PADDING` (FineIBT, call-depth tracking) the compiler also puts
//! `-fpatchable-function-entry=16,16` padding (nops, or kCFI's `mov $hash,%eax`
//! and nops) *before* the symbol.  That padding is not an ftrace site
//! (`HAVE_DYNAMIC_FTRACE_NO_PATCHABLE` discards its records): analysis never
//! looks before `func`, and a record pointing there is a mismatch.
//!
//! `ftrace_call_adjust()` is the identity on x86.  A replacement is entered by
//! the trampoline's `RET` to the saved `regs->ip`, so IBT needs no ENDBR there
//! and the redirect is simply the new function's symbol address.

use super::codec::{self, INSN_LEN};
use graft_core::{
    BranchKind, Code, Direct, DirectCaps, Insn, NoDirect, Redirect, RedirectFlags, Site, SiteError, SiteState, TextAddr,
};

/// `ENDBR_INSN_SIZE`.
pub const ENDBR_LEN: usize = 4;
/// `endbr64`.
pub const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];
/// `endbr32` (accepted by the kernel's `__is_endbr()` too).
pub const ENDBR32: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfb];
/// A sealed ENDBR: `nopl -42(%rax)` (`gen_endbr_poison()`).
pub const ENDBR_POISON: [u8; 4] = [0x0f, 0x1f, 0x40, 0xd6];

/// Form names reported in [`Site::form`].
pub mod form {
    /// Site at the symbol.
    pub const FENTRY: &str = "fentry";
    /// Site after `endbr64`/`endbr32`.
    pub const FENTRY_ENDBR: &str = "fentry+endbr";
    /// Site after a sealed (poisoned) ENDBR.
    pub const FENTRY_ENDBR_POISON: &str = "fentry+endbr-poison";
}

/// What the first bytes of a function hold before the site.
enum Prefix {
    None,
    Endbr,
    Poison,
    /// The window ends inside what may still be a prefix.
    Truncated,
}

fn prefix(b: &[u8]) -> Prefix {
    let n = b.len().min(ENDBR_LEN);
    let starts = |p: &[u8; 4]| b[..n] == p[..n];
    let (endbr, poison) = (starts(&ENDBR64) || starts(&ENDBR32), starts(&ENDBR_POISON));
    match (endbr || poison, n == ENDBR_LEN) {
        (false, _) => Prefix::None,
        (true, false) => Prefix::Truncated,
        (true, true) if endbr => Prefix::Endbr,
        (true, true) => Prefix::Poison,
    }
}

pub(crate) fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError> {
    let bytes = code.at(func).ok_or(SiteError::Truncated)?;
    let (off, form) = match prefix(bytes) {
        Prefix::None => (0, form::FENTRY),
        Prefix::Endbr => (ENDBR_LEN, form::FENTRY_ENDBR),
        Prefix::Poison => (ENDBR_LEN, form::FENTRY_ENDBR_POISON),
        Prefix::Truncated => return Err(SiteError::Truncated),
    };
    let addr = func.checked_add(off as u64).ok_or(SiteError::Truncated)?;
    if let Some(r) = recorded.filter(|&r| r != addr) {
        return Err(SiteError::RecordMismatch(r));
    }
    let state = match codec::decode(addr, &bytes[off..]) {
        Ok(Insn::Nop { .. }) => SiteState::Disabled,
        Ok(Insn::Branch { kind: BranchKind::Call, target, .. })
            if target.offset_from(addr) == Some(INSN_LEN as i64) =>
        {
            SiteState::Unconverted { target }
        }
        Ok(Insn::Branch { target, .. }) => SiteState::Enabled { target },
        Err(graft_core::CodecError::Truncated) => return Err(SiteError::Truncated),
        Err(_) => {
            return Err(match recorded {
                Some(r) => SiteError::RecordMismatch(r),
                None => SiteError::NotInstrumented,
            })
        }
    };
    Ok(Site { func, addr, len: INSN_LEN as u8, state, form })
}

/// The fast path: with `DYNAMIC_FTRACE_WITH_JMP`, a direct target with bit
/// 0 set makes ftrace write `jmp rel32` to it over the site
/// (`ftrace_call_replace()`, arch/x86/kernel/ftrace.c), so a call of the
/// function enters the replacement with the caller's return address on the
/// stack, as if the caller had called it: no trampoline, nothing for ORC,
/// IBT (a direct `jmp` needs no `endbr`), retpolines or return thunks to
/// handle, and the return stack stays balanced (one `call`, one `ret`).
/// ftrace does not check the reach of the `jmp` it writes; this does.
/// Bit 0 is the flag (`ftrace_jmp_get()` clears it), so an odd replacement
/// (Rust functions are not aligned unless the build asks: kmod/Kbuild
/// does) would be entered one byte early: refused.
pub(crate) fn direct(site: &Site, new_func: TextAddr, caps: DirectCaps) -> Result<Direct, NoDirect> {
    if !caps.contains(DirectCaps::CALLS | DirectCaps::JMP) {
        return Err(NoDirect::Kernel);
    }
    if new_func.0 & 1 != 0 {
        return Err(NoDirect::Unaligned);
    }
    codec::encode_branch(BranchKind::Jump, site.addr, new_func).map_err(|_| NoDirect::OutOfReach)?;
    Ok(Direct { addr: new_func.0 | 1, enters: new_func, tramp: false })
}

pub(crate) fn redirect(_site: &Site, new_func: TextAddr, _new_is_module: bool) -> Redirect {
    // klp_ftrace_handler() stores new_func as regs->ip; ftrace_caller copies
    // it over its return slot and RETs there (arch/x86/kernel/ftrace_64.S).
    Redirect { ip: new_func, flags: RedirectFlags::empty() }
}

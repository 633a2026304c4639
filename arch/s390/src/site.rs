//! The s390 ftrace entry site.
//!
//! Linux 7.3 builds s390 with `-pg -mrecord-mcount -mnop-mcount -mfentry`
//! (top-level `Makefile`; `arch/s390/Makefile` falls back to `-mhotpatch=0,3`
//! only for compilers without `-mfentry -mnop-mcount`).  Either way the
//! compiler puts one 6-byte `brcl 0,0` at the symbol (`MCOUNT_INSN_SIZE`,
//! `ftrace_call_adjust()` and `ftrace_get_symaddr()` are the identity in
//! `arch/s390/include/asm/ftrace.h`).  `arch/s390/kernel/ftrace.c` then
//! runs one of two regimes:
//!
//! * with `cpu_has_seq_insn()` (facility 85): the site stays `brcl 0,0`
//!   when disabled and becomes `brasl %r0,ftrace_caller` when enabled;
//! * without it: `ftrace_init_nop()` gives every site a private trampoline
//!   and points the nop at it (`brcl 0,<tramp>`); enabling flips the mask
//!   to `brcl 15,<tramp>`.
//!
//! A relocatable object built without `-mnop-mcount` still holds the
//! compiler's `brasl %r0,__fentry__`, with a zero displacement until it is
//! linked (so its target reads as the site itself).

use crate::codec::{decode_site_insn, ril_disp, SiteInsn, LEN};
use crate::S390;
use graft_core::{
    Code, CodecError, Direct, DirectCaps, EntrySite, NoDirect, Redirect, RedirectFlags, Site, SiteError, SiteState,
    TextAddr,
};

/// Form of the `cpu_has_seq_insn()` regime and of the compiler's nop.
pub const FORM_FENTRY: &str = "fentry";
/// Form of the hotpatch-trampoline regime (`!cpu_has_seq_insn()`).
pub const FORM_HOTPATCH_TRAMPOLINE: &str = "fentry+hotpatch-trampoline";
/// Form of an unlinked `brasl %r0,__fentry__` (no `-mnop-mcount`).
pub const FORM_UNRELOCATED: &str = "fentry-unrelocated";

impl EntrySite for S390 {
    fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError> {
        if !func.is_aligned(2) {
            return Err(SiteError::Misaligned);
        }
        // The compiler records the symbol itself (`__mcount_loc`).
        if let Some(r) = recorded.filter(|&r| r != func) {
            return Err(SiteError::RecordMismatch(r));
        }
        let bytes = code.at(func).filter(|b| !b.is_empty()).ok_or(SiteError::Truncated)?;
        let not_a_site = match recorded {
            Some(r) => SiteError::RecordMismatch(r),
            None => SiteError::NotInstrumented,
        };
        let insn = match decode_site_insn(func, bytes) {
            Ok(i) => i,
            Err(CodecError::Truncated) => return Err(SiteError::Truncated),
            Err(_) => return Err(not_a_site),
        };
        let (state, form) = match insn {
            SiteInsn::Nop { target } if target == func => (SiteState::Disabled, FORM_FENTRY),
            SiteInsn::Nop { .. } => (SiteState::Disabled, FORM_HOTPATCH_TRAMPOLINE),
            SiteInsn::Call { target } if target == func => (SiteState::Unconverted { target }, FORM_UNRELOCATED),
            SiteInsn::Call { target } => (SiteState::Enabled { target }, FORM_FENTRY),
            // `brcl 15,.` would spin forever: no kernel state looks like that.
            SiteInsn::Jump { target } if target == func => return Err(not_a_site),
            SiteInsn::Jump { target } => (SiteState::Enabled { target }, FORM_HOTPATCH_TRAMPOLINE),
        };
        Ok(Site { func, addr: func, len: LEN as u8, state, form })
    }

    fn redirect(_site: &Site, new_func: TextAddr, _new_is_module: bool) -> Redirect {
        // `ftrace_regs_set_instruction_pointer()` stores `psw.addr`; the
        // trampoline's return path branches there with r14 and r15 as at the
        // traced function's entry (`arch/s390/kernel/mcount.S`).  s390 has
        // no TOC and no entry register.  (The same address also goes to
        // `orig_gpr2`, which that path prefers, so that a kprobe handler
        // resetting `psw.addr` cannot undo it: graft.ko's `graft_arch.h`.)
        Redirect { ip: new_func, flags: RedirectFlags::empty() }
    }

    /// The fast path: the replacement itself is the direct target.  A
    /// direct call enters its target as the site's `brasl %r0` would have
    /// entered `ftrace_caller`: `%r0` the resume address in the traced
    /// function, `%r14` still the caller's return address, `%r15` the
    /// caller's stack (`ftrace_make_call()` writes `brasl %r0,<target>`
    /// with `cpu_has_seq_insn()`; without it the site's private trampoline
    /// takes the target as its `interceptor`, arch/s390/kernel/ftrace.c).
    /// `%r0` and `%r1` are scratch in the ELF ABI, so the replacement, a
    /// function like any other, runs and returns to the caller through
    /// `%r14`, as it does when ftrace_common branches to a direct target
    /// after its handlers (`BR_EX %r1`, arch/s390/kernel/mcount.S).  The
    /// `brasl` must reach it (relative-long: ±4 GiB, the trampoline regime
    /// has no limit but is not known here) and instructions are halfword
    /// aligned.
    fn direct(site: &Site, new_func: TextAddr, caps: DirectCaps, _tramp: Option<TextAddr>) -> Result<Direct, NoDirect> {
        if !caps.contains(DirectCaps::CALLS) {
            return Err(NoDirect::Kernel);
        }
        match ril_disp(site.addr, new_func) {
            Ok(_) => Ok(Direct { addr: new_func.0, enters: new_func, tramp: false }),
            Err(CodecError::Misaligned) => Err(NoDirect::Unaligned),
            Err(_) => Err(NoDirect::OutOfReach),
        }
    }
}

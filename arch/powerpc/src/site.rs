//! The ppc64 ELFv2 ftrace entry site, and how a redirect enters the new function.
//!
//! A function symbol is its *global* entry.  A function that needs its TOC
//! starts with a two-word TOC setup computing r2 from r12 (which the caller
//! loaded with the entry address); callers sharing the TOC enter at the
//! *local* entry right after it (`st_other` holds the offset; here it is found
//! from the code, as `ppc_function_entry()` in asm/text-patching.h does):
//!
//! ```text
//! addis r2,r12,.TOC.-f@ha    (the linker may relax it to lis r2,..)
//! addi  r2,r2,.TOC.-f@l
//! ```
//!
//! or, for modules built with -mcmodel=large (arch/powerpc/Makefile),
//!
//! ```text
//! ld    r2,-8(r12)
//! add   r2,r2,r12
//! ```
//!
//! The ftrace site follows the local entry, in one of two build modes
//! (arch/powerpc/Makefile, arch/powerpc/Kconfig):
//!
//! * `-pg -mprofile-kernel` (`CONFIG_MPROFILE_KERNEL`, what GCC 12 builds:
//!   GCC places `-fpatchable-function-entry` nops before the local entry, so
//!   arch/powerpc/tools/check-fpatchable-function-entry.sh fails):
//!   `mflr r0; bl _mcount`, or with GCC 5 `mflr r0; std r0,16(r1); bl _mcount`.
//!   `ftrace_init_nop()` (arch/powerpc/kernel/trace/ftrace.c) nops the `std`
//!   and the `bl`; tracing turns the `bl` into `bl ftrace_caller` (or a
//!   trampoline).  The site is the `bl`.
//! * `-fpatchable-function-entry=1` with out-of-line stubs
//!   (`CONFIG_PPC_FTRACE_OUT_OF_LINE`): one `nop` at the local entry, turned
//!   into `b <stub>` (no link) when traced.  The stub is
//!   `mflr r0; bl ftrace_caller; mtlr r0; b site+4`.  A lone `nop` or `b` at the
//!   entry also starts many uninstrumented functions (a tail call), so this
//!   form is only accepted with a record from `__patchable_function_entries`.

use crate::codec::{decode_word, op, word};
use crate::Powerpc;
use graft_core::{BranchKind, Code, EntrySite, Insn, Redirect, RedirectFlags, Site, SiteError, SiteState, TextAddr};

/// How the function's global entry sets up its TOC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalEntry {
    /// None: the symbol is the local entry.
    None,
    /// `addis r2,r12,..; addi r2,r2,..` (or `lis r2,..; addi r2,r2,..`).
    Toc,
    /// `ld r2,-8(r12); add r2,r2,r12` (-mcmodel=large, modules).
    TocLarge,
}

fn word_at(code: &Code<'_>, a: TextAddr) -> Result<u32, SiteError> {
    code.at(a).and_then(|b| word(b, 0)).ok_or(SiteError::Truncated)
}

fn next(a: TextAddr, n: u64) -> Result<TextAddr, SiteError> {
    a.checked_add(4 * n).ok_or(SiteError::Truncated)
}

/// The local entry of the function at `func` and how its global entry sets up
/// the TOC (`ppc_function_entry()`, extended with the -mcmodel=large form that
/// `ftrace_call_adjust()` matches).
pub fn local_entry(code: &Code<'_>, func: TextAddr) -> Result<(TextAddr, GlobalEntry), SiteError> {
    if !func.is_aligned(4) {
        return Err(SiteError::Misaligned);
    }
    let w0 = word_at(code, func)?;
    let toc = matches!(w0 & op::OP_RT_RA_MASK, op::ADDIS_R2_R12 | op::LIS_R2);
    if !toc && w0 != op::LD_R2_M8_R12 {
        return Ok((func, GlobalEntry::None));
    }
    let w1 = word_at(code, next(func, 1)?)?;
    let kind = if toc && w1 & op::OP_RT_RA_MASK == op::ADDI_R2_R2 {
        GlobalEntry::Toc
    } else if w0 == op::LD_R2_M8_R12 && w1 == op::ADD_R2_R2_R12 {
        GlobalEntry::TocLarge
    } else {
        return Ok((func, GlobalEntry::None));
    };
    Ok((next(func, 2)?, kind))
}

#[derive(Clone, Copy)]
enum Mode {
    Mprofile,
    MprofileStd,
    Ool,
}

fn form(mode: Mode, g: GlobalEntry) -> &'static str {
    match (mode, g) {
        (Mode::Mprofile, GlobalEntry::None) => "mprofile",
        (Mode::Mprofile, GlobalEntry::Toc) => "mprofile+toc",
        (Mode::Mprofile, GlobalEntry::TocLarge) => "mprofile+toc-large",
        (Mode::MprofileStd, GlobalEntry::None) => "mprofile-std",
        (Mode::MprofileStd, GlobalEntry::Toc) => "mprofile-std+toc",
        (Mode::MprofileStd, GlobalEntry::TocLarge) => "mprofile-std+toc-large",
        (Mode::Ool, GlobalEntry::None) => "ool",
        (Mode::Ool, GlobalEntry::Toc) => "ool+toc",
        (Mode::Ool, GlobalEntry::TocLarge) => "ool+toc-large",
    }
}

/// Not instrumented, or, when a record names a site here, a mismatch.
fn refuse(recorded: Option<TextAddr>) -> SiteError {
    recorded.map_or(SiteError::NotInstrumented, SiteError::RecordMismatch)
}

impl EntrySite for Powerpc {
    /// Recognise the -mprofile-kernel site (with or without a record) or the
    /// out-of-line stub site (only with a record; clang's unadjusted record at
    /// the global entry, LLVM issue 163706, is accepted as
    /// `ftrace_call_adjust()` would move it to the local entry).
    fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError> {
        let (local, g) = local_entry(&code, func)?;
        let site = |addr: TextAddr, mode: Mode, state: SiteState| -> Result<Site, SiteError> {
            match recorded {
                Some(r) if r != addr => Err(SiteError::RecordMismatch(r)),
                _ => Ok(Site { func, addr, len: 4, state, form: form(mode, g) }),
            }
        };
        // A `bl` at the site: the compiler's `bl _mcount` is unrelocated in an
        // object (displacement 0) or still follows an un-nopped `std`.
        let call = |at: TextAddr, w: u32, unconverted: bool| -> Option<SiteState> {
            match decode_word(at, w) {
                Ok(Insn::Branch { kind: BranchKind::Call, target, .. }) => Some(if unconverted || target == at {
                    SiteState::Unconverted { target }
                } else {
                    SiteState::Enabled { target }
                }),
                _ => None,
            }
        };
        let w = word_at(&code, local)?;
        if w == op::MFLR_R0 {
            let (a1, a2) = (next(local, 1)?, next(local, 2)?);
            let w1 = word_at(&code, a1)?;
            if w1 == op::STD_R0_16_R1 {
                // GCC 5, before ftrace_init_nop(): mflr r0; std r0,16(r1); bl _mcount.
                let s = call(a2, word_at(&code, a2)?, true).ok_or_else(|| refuse(recorded))?;
                return site(a2, Mode::MprofileStd, s);
            }
            if let Some(s) = call(a1, w1, false) {
                return site(a1, Mode::Mprofile, s);
            }
            if w1 != op::NOP {
                return Err(refuse(recorded));
            }
            // mflr r0; nop: the GCC >= 6 site nopped, or GCC 5's nopped std.
            // A record decides; without one, a `bl` right after means GCC 5
            // (code cannot call before saving LR); anything else is the
            // GCC >= 6 disabled site.
            let gcc5 = match recorded {
                Some(r) => r == a2,
                None => word_at(&code, a2)? & op::I_FORM_MASK == op::BL,
            };
            if gcc5 {
                let w2 = word_at(&code, a2)?;
                let s = if w2 == op::NOP {
                    SiteState::Disabled
                } else {
                    call(a2, w2, false).ok_or_else(|| refuse(recorded))?
                };
                return site(a2, Mode::MprofileStd, s);
            }
            return site(a1, Mode::Mprofile, SiteState::Disabled);
        }
        // Out-of-line stubs: only with a record, at the local entry (or at a
        // global entry clang recorded instead).
        let Some(r) = recorded else { return Err(SiteError::NotInstrumented) };
        if r != local && !(r == func && g != GlobalEntry::None) {
            return Err(SiteError::RecordMismatch(r));
        }
        let state = match decode_word(local, w) {
            Ok(Insn::Nop { .. }) => SiteState::Disabled,
            Ok(Insn::Branch { kind: BranchKind::Jump, target, .. }) => SiteState::Enabled { target },
            _ => return Err(SiteError::RecordMismatch(r)),
        };
        Ok(Site { func, addr: local, len: 4, state, form: form(Mode::Ool, g) })
    }

    // `ftrace_call_adjust()` adds nothing under `CONFIG_MPROFILE_KERNEL`
    // (the record is the `bl` itself), so the trait's identity default
    // applies.  Its out-of-line-stub corrections (clang's global-entry
    // record) are done by `analyze_site`, which sees the text; its
    // `__exittext` filter needs the kernel's section bounds and stays in
    // the kernel.

    /// ppc64 ELFv2: the ftrace handler sets NIP to the replacement's global
    /// entry; `ftrace_regs_exit` sees NIP changed and branches to
    /// `livepatch_handler` (arch/powerpc/kernel/trace/ftrace_entry.S), which
    /// pushes the caller's r2 and real return address on the task's
    /// livepatch stack (`thread_info->livepatch_sp`, set up by
    /// `klp_init_thread_info()` in asm/livepatch.h), enters the replacement by
    /// `bctrl` with r12 = CTR = NIP (so the global entry computes the module's
    /// TOC), and on return restores r2 and LR.  The kernel does this for every
    /// redirect, whether or not the replacement lives in a module, so both
    /// flags are always set.
    fn redirect(_site: &Site, new_func: TextAddr, _new_is_module: bool) -> Redirect {
        Redirect { ip: new_func, flags: RedirectFlags::SAVE_TOC | RedirectFlags::SET_R12 }
    }
}

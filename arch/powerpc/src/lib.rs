//! graft's powerpc backend: ppc64le (ELFv2) Linux 7.3 kernels.
//!
//! [`Powerpc`] implements the [`graft_core::ArchOps`] traits:
//!
//! * [`site`]: recognise a function's ftrace entry site and say how a
//!   redirect enters the replacement;
//! * [`unwind`]: the reliable back-chain walk of `arch_stack_walk_reliable()`;
//! * [`codec`] and the patch plan: `nop`, `b`, `bl`, and the single-word
//!   store plus cache maintenance protocol;
//! * [`testing`]: synthetic kernel stacks for tests;
//! * `native` (ppc64 only): the cache maintenance instructions.
//!
//! Everything but `native` is plain code that builds and runs on any host.
//!
//! # ABI assumptions
//!
//! * **ELFv2, little endian.** A function's symbol is its global entry; when
//!   it needs a TOC, the first two words set r2 from r12
//!   (`addis r2,r12,..; addi r2,r2,..`, or `ld r2,-8(r12); add r2,r2,r12`
//!   under -mcmodel=large) and the local entry follows them.
//! * **Entry site.** The kernel is built with GCC and `-pg -mprofile-kernel`:
//!   after the local entry comes `mflr r0; bl _mcount` (GCC 5:
//!   `mflr r0; std r0,16(r1); bl _mcount`); the `bl` is the site, a `nop`
//!   when disabled and `bl ftrace_caller` (or a trampoline) when traced.
//!   Kernels built with `-fpatchable-function-entry=1` (out-of-line ftrace
//!   stubs) have a `nop` at the local entry that becomes `b <stub>`; that form
//!   is recognised when the caller passes the site's record.
//! * **Redirect.** ftrace returns into `livepatch_handler`, which saves the
//!   caller's TOC and return address on the per-task livepatch stack and enters
//!   the replacement at its global entry with r12 set
//!   ([`graft_core::RedirectFlags`] `SAVE_TOC` and `SET_R12`).
//! * **Frames.** Back chain at `sp + 0`, LR save at `sp + 16` (in the caller's
//!   frame), 16-byte alignment, interrupt frames marked "REGS" at `sp + 32`.
//!   Only the task stack is walked; any interrupt frame, trampoline or
//!   non-text return address makes the stack unreliable.
//! * **Patching.** One aligned 4-byte store, then `dcbst; sync; icbi; sync;
//!   isync` ([`graft_core::SyncKind::CacheMaintenance`]), as
//!   `patch_instruction()` does.  No stop_machine and no IPI.
//!
//! # Contract
//!
//! Callers hand in text windows and stack readers; this crate never touches
//! memory itself (outside `native`), never allocates and never panics on
//! arbitrary input: it classifies, or refuses with a reason.
//!
//! # Example
//!
//! ```
//! use graft_core::{BranchKind, Code, Codec, EntrySite, SiteState, SliceMemory, TextAddr, TextKind, TextInfo, Unwinder};
//! use graft_powerpc::{testing::StackBuilder, Powerpc};
//!
//! // A disabled -mprofile-kernel function: TOC setup, mflr r0, nop, li r3,0, blr.
//! let func = TextAddr(0xc000_0000_0010_0000);
//! let words: [u32; 6] = [0x3c4c_0001, 0x3842_8000, 0x7c08_02a6, 0x6000_0000, 0x3860_0000, 0x4e80_0020];
//! let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
//! let site = Powerpc::analyze_site(Code { start: func, bytes: &bytes }, func, None).unwrap();
//! assert_eq!((site.addr.0 - func.0, site.state, site.form), (12, SiteState::Disabled, "mprofile+toc"));
//!
//! // Enabling it is one branch word, stored with cache maintenance.
//! let bl = Powerpc::encode_branch(BranchKind::Call, site.addr, TextAddr(0xc000_0000_0000_8000)).unwrap();
//! let plan = Powerpc::patch_plan(site.addr, &Powerpc::encode_nop(), &bl).unwrap();
//! assert_eq!(plan.steps().len(), 2);
//!
//! // A sleeping task's stack: three calls below a kernel thread's root frame.
//! struct Text;
//! impl TextInfo for Text {
//!     fn kind(&self, a: TextAddr) -> TextKind {
//!         if a.0 >> 60 == 0xc { TextKind::Kernel } else { TextKind::NotText }
//!     }
//! }
//! let mut stack = [0u8; 4096];
//! let base = 0xc000_0000_0200_0000;
//! let mut b = StackBuilder::kthread(&mut stack, base);
//! b.call(64, 0xc000_0000_0000_1004);
//! b.call(48, 0xc000_0000_0000_2008);
//! b.call(96, 0xc000_0000_0000_300c);
//! let (regs, bounds) = (b.regs(0xc000_0000_0000_4000), b.bounds());
//! let mem = SliceMemory { base, bytes: b.mem() };
//! let mut out = [TextAddr(0); 8];
//! let n = Powerpc::unwind_reliable(&regs, bounds, &mem, &Text, &mut out).unwrap();
//! let chain: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
//! assert_eq!(chain, [0xc000_0000_0000_4000, 0xc000_0000_0000_300c, 0xc000_0000_0000_2008]);
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
mod plan;
pub mod site;
pub mod testing;
pub mod unwind;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "powerpc64")] {
        pub mod native;
    }
}

use graft_core::{Arch, Endian};

pub use plan::patch_plan;
pub use site::{local_entry, GlobalEntry};
pub use unwind::{final_frame_kthread, final_frame_user};

/// The powerpc (ppc64le, ELFv2) backend.
#[derive(Debug)]
pub enum Powerpc {}

impl Arch for Powerpc {
    const NAME: &'static str = "powerpc";
    const ENDIAN: Endian = Endian::Little;
    const INSN_ALIGN: u64 = 4;
    const SITE_LEN: usize = 4;
    /// `EM_PPC64`.
    const ELF_MACHINE: u16 = 21;
}

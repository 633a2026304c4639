//! graft's x86_64 backend: the `-mfentry` entry site, the reliable
//! frame-pointer and ORC unwinders, the site codec and the `int3` patch
//! protocol.
//!
//! [`X86_64`] implements [`graft_core::ArchOps`].  Everything but [`native`]
//! is pure data handling: it builds and is tested on any host and never
//! allocates.
//!
//! # ABI assumptions (Linux 7.3, x86_64)
//!
//! * **Entry site** ([`site`]): C code is built with `-pg -mfentry`, so a
//!   traceable function starts with the 5-byte site ftrace toggles, after an
//!   optional `endbr64` (`X86_KERNEL_IBT`) or its sealed poison.  Disabled it
//!   is `0f 1f 44 00 00`, enabled `e8 rel32` (or `e9 rel32` for a
//!   `DYNAMIC_FTRACE_WITH_JMP` direct target); an unlinked `.o` still holds
//!   `call __fentry__`.  `CALL_PADDING` bytes before the symbol are no site.
//!   A call is redirected by storing the new function as the saved `rip`.
//! * **Frames** ([`unwind`]): `UNWINDER_FRAME_POINTER`; `rbp` chains
//!   `{saved rbp, return address}` records up to the last frame just below
//!   `task_pt_regs()`; an odd rbp is an encoded `pt_regs` pointer.
//! * **ORC** ([`orc`]): `UNWINDER_ORC` (distro kernels, no frame
//!   pointers): objtool's `.orc_unwind_ip`/`.orc_unwind` tables and the
//!   boot-time `orc_lookup`, handed in as data, in 7.3's `struct orc_entry`
//!   layout (`ORC_HASH`); the walk ends at an end-of-stack entry or at user
//!   `pt_regs` at `task_pt_regs()`.
//! * **Patching** ([`plan`]): the `int3` protocol of
//!   `smp_text_poke_batch_finish()`: int3 over byte 0, sync, tail, sync,
//!   byte 0, sync, with every sync an IPI'd `sync_core()`.  Branches reach
//!   ±2 GiB from the end of the instruction ([`codec`]).
//!
//! # Contract
//!
//! Callers hand in the bytes of a function's entry ([`graft_core::Code`]), a
//! bounded [`graft_core::StackReader`] and a [`graft_core::TextInfo`]; the
//! backend reads nothing else, refuses what it cannot prove and applies
//! nothing itself: a [`graft_core::Plan`] is data for the executor.
//!
//! # Example
//!
//! A kernel thread sleeping in `schedule()`, walked on fake memory:
//!
//! ```
//! use graft_core::{SavedRegs, TextAddr, TextInfo, TextKind, Unwinder};
//! use graft_x86_64::{testing::KernelStack, X86_64};
//!
//! struct Text;
//! impl TextInfo for Text {
//!     fn kind(&self, a: TextAddr) -> TextKind {
//!         if a.0 >= 0xffff_ffff_8100_0000 { TextKind::Kernel } else { TextKind::NotText }
//!     }
//! }
//!
//! let mut buf = [0u8; 1024];
//! let mut stack = KernelStack::new(&mut buf, 0xffff_c900_0000_0000, false);
//! stack.entry(0xffff_ffff_8100_0100); // ret_from_fork_asm
//! stack.call(0xffff_ffff_8100_0200, 16); // kthread()
//! stack.call(0xffff_ffff_8100_0300, 0); // schedule()
//! let regs: SavedRegs = stack.switch_out(0xffff_ffff_8100_0400, 8); // __schedule()
//!
//! let mut out = [TextAddr(0); 8];
//! let n = X86_64::unwind_reliable(&regs, stack.bounds(), &stack.memory(), &Text, &mut out).unwrap();
//! let got: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
//! assert_eq!(got, [0xffff_ffff_8100_0400, 0xffff_ffff_8100_0300, 0xffff_ffff_8100_0200, 0xffff_ffff_8100_0100]);
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod orc;
pub mod plan;
pub mod site;
pub mod testing;
pub mod unwind;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "x86_64")] {
        pub mod native;
    }
}

pub use unwind::{inactive_task_regs, last_frame, task_pt_regs};

use graft_core::{
    Arch, BranchKind, Code, Codec, CodecError, Direct, DirectCaps, Endian, EntrySite, Insn, InsnBuf, NoDirect, Plan,
    PlanError, Redirect, SavedRegs, Site, SiteError, StackAddr, StackBounds, StackReader, TextAddr, TextInfo,
    Unreliable, Unwinder,
};

/// The x86_64 architecture.
#[derive(Debug)]
pub enum X86_64 {}

impl Arch for X86_64 {
    const NAME: &'static str = "x86_64";
    const ENDIAN: Endian = Endian::Little;
    const INSN_ALIGN: u64 = 1;
    const SITE_LEN: usize = codec::INSN_LEN;
    /// `EM_X86_64`.
    const ELF_MACHINE: u16 = 62;
}

impl EntrySite for X86_64 {
    fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError> {
        site::analyze_site(code, func, recorded)
    }
    fn redirect(site: &Site, new_func: TextAddr, new_is_module: bool) -> Redirect {
        site::redirect(site, new_func, new_is_module)
    }
    fn direct(site: &Site, new_func: TextAddr, caps: DirectCaps, _tramp: Option<TextAddr>) -> Result<Direct, NoDirect> {
        site::direct(site, new_func, caps)
    }
}

impl Unwinder for X86_64 {
    fn final_frame(hi: StackAddr) -> StackAddr {
        unwind::final_frame(hi)
    }
    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        unwind::unwind_reliable(regs, bounds, mem, text, out)
    }
    /// `regs->ip` of the `pt_regs` at `at` (the walk's decoded frame pointer).
    fn interrupted_pc(at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        bounds.field(mem, at, unwind::PT_REGS_SIZE, unwind::PT_REGS_IP, Self::ENDIAN)
    }
}

impl Codec for X86_64 {
    fn branch_range(kind: BranchKind) -> (i64, i64) {
        codec::branch_range(kind)
    }
    fn encode_nop() -> InsnBuf {
        codec::encode_nop()
    }
    fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError> {
        codec::encode_branch(kind, from, to)
    }
    fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError> {
        codec::decode(at, bytes)
    }
    fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError> {
        plan::patch_plan(at, old, new)
    }
}

//! graft's riscv (riscv64) backend: the ftrace entry site, the reliable
//! frame-pointer unwinder, the `nop`/`jal`/`auipc`+`jalr` codec and the
//! patch plan, for Linux 7.3 (which has no livepatch of its own on riscv:
//! neither `HAVE_LIVEPATCH` nor `HAVE_RELIABLE_STACKTRACE`).
//!
//! # Contract
//!
//! Everything here is pure: it reads the bytes and stack words it is handed
//! and returns data ([`graft_core::Site`], return addresses, a
//! [`graft_core::Plan`]).  It never allocates, never panics on any input
//! (only [`testing`]'s builder asserts), never touches memory except through
//! [`graft_core::StackReader`], and builds and runs on any host; only
//! [`native`] (`fence.i`, register capture) is compiled for riscv64 alone.
//! The caller supplies a code window from the function's symbol on, a stack
//! reader whose reads may fail but never fault, the task's stack bounds and
//! a [`graft_core::TextInfo`] that knows kernel text, the tracing
//! trampolines and the exception entry (`handle_exception` up to
//! `ret_from_exception_end`); it keeps the task from running while its
//! stack is walked.
//!
//! # ABI assumptions
//!
//! * **Entry sequence** (arch/riscv/Makefile, arch/riscv/kernel/ftrace.c):
//!   `-fpatchable-function-entry=8,4` (C extension) or `=4,2`: 8 bytes of
//!   nops before the symbol become the CALL_OPS literal, the 8 after it
//!   `auipc t0, hi` (written once by `ftrace_init_nop()`) and the toggled
//!   word at symbol + 4: `nop` disabled, `jalr t0, lo(t0)` enabled.  A
//!   kprobe on the symbol is an `ebreak` over the `auipc`.  See [`site`].
//! * **Redirect**: klp sets `fregs->epc`; `ftrace_caller` (mcount-dyn.S)
//!   returns there by `jr t0` with `ra` the original caller's and `sp`
//!   unchanged.
//! * **Frame layout** (arch/riscv/kernel/stacktrace.c, asm/stacktrace.h,
//!   asm/ptrace.h, entry.S, process.c): `s0` is the CFA with `{fp, ra}`
//!   below it; the walk ends at `task_pt_regs()`, 288 bytes below the stack
//!   top, after that frame's return into the entry code; `pt_regs` of
//!   kernel-mode exceptions, leaf frames and trampolines are refused.  See
//!   [`unwind`].
//! * **Patching** (arch/riscv/kernel/patch.c): one aligned 32-bit store of
//!   `nop` or `jalr`, then `fence.i` on every hart (`flush_icache_all()`).
//!   `jalr` reaches ±2 GiB from its `auipc`, `jal` ±1 MiB.  See [`plan`].
//!
//! # Example
//!
//! ```
//! use graft_riscv::{codec, testing::StackBuilder, Riscv};
//! use graft_core::{
//!     Code, Codec, EntrySite, SiteState, SliceMemory, TextAddr, TextInfo, TextKind, Unwinder,
//! };
//!
//! // A disabled site: auipc t0, 0x8 (ftrace_caller's page); nop; li a0, 1; ret.
//! let func = TextAddr(0xffff_ffff_8012_3450);
//! let words = [codec::auipc(codec::T0, 0x8), codec::NOP, codec::li(codec::A0, 1), codec::RET];
//! let text: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
//! let site = Riscv::analyze_site(Code { start: func, bytes: &text }, func, None).unwrap();
//! assert_eq!((site.addr, site.state), (TextAddr(func.0 + 4), SiteState::Disabled));
//! // Enabling it is the jalr of the pair, stored with one 32-bit write and a fence.i.
//! let [_, jalr] = codec::pair(graft_core::BranchKind::Call, func, TextAddr(func.0 + 0x8000)).unwrap();
//! let plan = Riscv::patch_plan(site.addr, &Riscv::encode_nop(), &codec::insn(&[jalr])).unwrap();
//! assert_eq!(plan.steps().len(), 2);
//!
//! // A sleeping task three frames deep, on a fake 4 KiB stack.
//! struct AllText;
//! impl TextInfo for AllText {
//!     fn kind(&self, _: TextAddr) -> TextKind {
//!         TextKind::Kernel
//!     }
//! }
//! let mut stack = [0u8; 4096];
//! let pcs = [TextAddr(0xffff_ffff_8000_1234), TextAddr(0xffff_ffff_8000_2000), TextAddr(0xffff_ffff_8000_3000)];
//! let (regs, bounds) = StackBuilder::new(&mut stack, 0x1_0000).task(&pcs, 32);
//! let mem = SliceMemory { base: 0x1_0000, bytes: &stack };
//! let mut out = [TextAddr(0); 8];
//! let n = Riscv::unwind_reliable(&regs, bounds, &mem, &AllText, &mut out).unwrap();
//! assert_eq!(&out[..n], &pcs);
//! ```
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod plan;
pub mod site;
pub mod testing;
pub mod unwind;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "riscv64")] {
        pub mod native;
    }
}

use graft_core::{Arch, Endian};

pub use site::ftrace_call_adjust;

/// The riscv architecture (`EM_RISCV`, 64-bit, little endian).
#[derive(Debug)]
pub enum Riscv {}

impl Arch for Riscv {
    const NAME: &'static str = "riscv";
    const ENDIAN: Endian = Endian::Little;
    const INSN_ALIGN: u64 = 2;
    const SITE_LEN: usize = 4;
    const ELF_MACHINE: u16 = 243;
}

//! graft's arm64 backend: the ftrace entry site, the reliable frame-record
//! unwinder, the `NOP`/`B`/`BL` codec and the patch plan, for Linux 7.3.
//!
//! # Contract
//!
//! Everything here is pure: it reads the bytes and stack words it is handed
//! and returns data ([`graft_core::Site`], return addresses, a
//! [`graft_core::Plan`]).  It never allocates, never touches memory except
//! through [`graft_core::StackReader`], and builds and runs on any host; only
//! [`native`] (cache maintenance) is compiled for arm64 alone.  The caller
//! supplies a code window covering the function's entry, a stack reader
//! whose reads may fail but never fault, and the task's stack bounds; it
//! must keep the task from running while its stack is walked.
//!
//! # ABI assumptions
//!
//! * **Entry sequence** (arch/arm64/Makefile, arch/arm64/kernel/ftrace.c):
//!   `-fpatchable-function-entry=4,2` with `DYNAMIC_FTRACE_WITH_CALL_OPS`
//!   (two NOPs before the symbol become an 8-byte ops literal) or `=2`
//!   without; at the symbol an optional `BTI C`, then `MOV X9, X30`
//!   (written once by `ftrace_init_nop()`; a NOP in a `.o`), then the
//!   toggled word: `NOP` when disabled, `BL` to `ftrace_caller`, a direct
//!   trampoline or a module's ftrace PLT when enabled.  See [`site`].
//! * **Redirect**: klp sets `fregs->pc`; `ftrace_caller` returns into the
//!   new function with LR = the original caller and SP unchanged.
//! * **Frame layout** (arch/arm64/kernel/stacktrace.c, asm/stacktrace/frame.h,
//!   asm/ptrace.h): x29 points at `{fp, lr}` records, 8-byte aligned and
//!   strictly increasing; `{0, 0, type}` metadata records mark the end of a
//!   task stack (`FRAME_META_TYPE_FINAL` at `task_pt_regs(tsk)->stackframe`,
//!   24 bytes below the stack top) and exception boundaries
//!   (`FRAME_META_TYPE_PT_REGS`, refused).  See [`unwind`].
//! * **Patching** (arch/arm64/kernel/patching.c): one aligned 32-bit store
//!   between `NOP`, `B` and `BL`, then `dc cvau; dsb ish; ic ivau; dsb ish;
//!   isb` over the word.  Branches reach ±128 MiB; farther targets are
//!   refused (the kernel would use a module PLT).  See [`plan`].
//!
//! # Example
//!
//! ```
//! use graft_arm64::{testing::StackBuilder, Arm64};
//! use graft_core::{
//!     BranchKind, Code, Codec, EntrySite, SiteState, SliceMemory, TextAddr, TextInfo, TextKind,
//!     Unwinder,
//! };
//!
//! // A disabled site: MOV X9, X30; NOP; ... at 0xffff800080010000.
//! let func = TextAddr(0xffff_8000_8001_0000);
//! let mut text = [0u8; 16];
//! for (i, w) in [0xaa1e03e9u32, 0xd503201f, 0x52800020, 0xd65f03c0].iter().enumerate() {
//!     text[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
//! }
//! let site = Arm64::analyze_site(Code { start: func, bytes: &text }, func, None).unwrap();
//! assert_eq!((site.addr, site.state), (TextAddr(func.0 + 4), SiteState::Disabled));
//! // Enabling it is one BL, stored with one 32-bit write plus cache maintenance.
//! let bl = Arm64::encode_branch(BranchKind::Call, site.addr, TextAddr(func.0 + 0x1000)).unwrap();
//! assert_eq!(Arm64::patch_plan(site.addr, &Arm64::encode_nop(), &bl).unwrap().steps().len(), 2);
//!
//! // A sleeping task three frames deep, on a fake 4 KiB stack.
//! struct AllText;
//! impl TextInfo for AllText {
//!     fn kind(&self, _: TextAddr) -> TextKind {
//!         TextKind::Kernel
//!     }
//! }
//! let mut stack = [0u8; 4096];
//! let pcs = [TextAddr(0xffff_8000_8000_1234), TextAddr(0xffff_8000_8000_2000), TextAddr(0xffff_8000_8000_3000)];
//! let (regs, bounds) = StackBuilder::new(&mut stack, 0x1_0000).task(&pcs, 32);
//! let mem = SliceMemory { base: 0x1_0000, bytes: &stack };
//! let mut out = [TextAddr(0); 8];
//! let n = Arm64::unwind_reliable(&regs, bounds, &mem, &AllText, &mut out).unwrap();
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
    if #[cfg(target_arch = "aarch64")] {
        pub mod native;
    }
}

use graft_core::{Arch, Endian};

pub use site::{ftrace_call_adjust, FtraceConfig};
pub use unwind::strip_pac;

/// The arm64 architecture (`EM_AARCH64`, little endian).
#[derive(Debug)]
pub enum Arm64 {}

impl Arch for Arm64 {
    const NAME: &'static str = "arm64";
    const ENDIAN: Endian = Endian::Little;
    const INSN_ALIGN: u64 = 4;
    const SITE_LEN: usize = 4;
    const ELF_MACHINE: u16 = 183;
}

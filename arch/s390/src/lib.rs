//! graft's s390 (s390x) backend: entry site, reliable unwinder, codec and
//! patch plans, for Linux 7.3 kernels built as `arch/s390/Makefile` builds
//! them.
//!
//! # Contract
//!
//! Everything but `native` (compiled for s390x alone) is plain `no_std`
//! code that runs on any host.
//! The codec, site analysis, plans and unwinder never allocate, never panic
//! on any input (only [`testing`]'s builder asserts), and reach memory only
//! through [`graft_core::StackReader`] and caller-supplied slices.  The
//! caller provides the text window of a function ([`graft_core::Code`]),
//! the task stack's bounds and a reader for it, and a
//! [`graft_core::TextInfo`] that knows kernel text and the tracing
//! trampolines (`return_to_handler`, `arch_rethook_trampoline`).  The crate
//! never writes text: a [`graft_core::Plan`] says which stores and syncs
//! to perform, and the caller (the kernel's ftrace, or a test) performs
//! them.
//!
//! # ABI assumptions
//!
//! * **Entry site.** `-pg -mrecord-mcount -mnop-mcount -mfentry` (clang 19
//!   and GCC ≥ 9; `-mhotpatch=0,3` on older GCC gives the same bytes) put a
//!   6-byte `brcl 0,0` (`c0 04 00 00 00 00`) at every traced symbol; the
//!   site *is* the symbol.  Enabled, it is `brasl %r0,<ftrace_caller>`
//!   (`cpu_has_seq_insn()`), or, on machines without facility 85, the nop
//!   points at a per-site trampoline and enabling flips it to
//!   `brcl 15,<trampoline>` (`arch/s390/kernel/ftrace.c`).  See [`site`].
//! * **Redirect.** The handler stores the replacement in `psw.addr`; the
//!   trampoline enters it with r14 = the caller's return address and r15 as
//!   at the original entry.  No TOC, no extra registers.  (graft.ko's
//!   handler also stores it in `orig_gpr2`, the trampoline's other branch
//!   address, because a kprobe's ftrace handler resets `psw.addr`:
//!   `kmod/arch/s390/graft_arch.h`.)
//! * **Frames.** `-mbackchain -mpacked-stack`: a 160-byte `struct
//!   stack_frame` with the back chain at offset 152 and r14 at offset 136;
//!   a zero back chain means a `struct pt_regs` (200 bytes) follows, and
//!   the final one sits at the top of the task stack.  Stack words are
//!   big-endian.  See [`unwind`].
//! * **Patching.** Byte 1 of the site alone decides nop, call or jump.  A
//!   plan rewrites the displacement only while the site is a nop, flips
//!   byte 1 with a single-byte store, and serialises every CPU after each
//!   phase (`bcr 15,0` on each CPU, as `text_poke_sync()`).  See [`plan`].
//!
//! # Example
//!
//! ```
//! use graft_core::{BranchKind, Codec, Code, EntrySite, SiteState, TextAddr};
//! use graft_s390::S390;
//!
//! let func = TextAddr(0x10_0000);
//! let ftrace_caller = TextAddr(0x10_8000);
//! // The compiler's disabled site, then `lgfr %r2,%r2; br %r14`.
//! let text = [0xc0, 0x04, 0, 0, 0, 0, 0xb9, 0x14, 0x00, 0x22, 0x07, 0xfe];
//! let site = S390::analyze_site(Code { start: func, bytes: &text }, func, Some(func)).unwrap();
//! assert_eq!(site.state, SiteState::Disabled);
//!
//! // What ftrace_make_call() writes there, and the plan that gets it there.
//! let call = S390::encode_branch(BranchKind::Call, site.addr, ftrace_caller).unwrap();
//! assert_eq!(call.as_slice(), &[0xc0, 0x05, 0x00, 0x00, 0x40, 0x00]);
//! let plan = S390::patch_plan(site.addr, &S390::encode_nop(), &call).unwrap();
//! let mut image = [0u8; 6];
//! plan.final_image(site.addr, &text[..6], &mut image);
//! assert_eq!(&image, call.as_slice());
//! ```
//!
//! [`testing`] builds synthetic kernel stacks; its example unwinds one.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod plan;
pub mod site;
pub mod testing;
pub mod unwind;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "s390x")] {
        pub mod native;
    }
}

pub use codec::{decode_site_insn, SiteInsn};
pub use unwind::{task_regs, FrameLayout};

use graft_core::{Arch, Endian};

/// The s390 (s390x) backend.
#[derive(Debug)]
pub enum S390 {}

impl Arch for S390 {
    const NAME: &'static str = "s390";
    const ENDIAN: Endian = Endian::Big;
    const INSN_ALIGN: u64 = 2;
    const SITE_LEN: usize = codec::LEN;
    /// `EM_S390`.
    const ELF_MACHINE: u16 = 22;
}

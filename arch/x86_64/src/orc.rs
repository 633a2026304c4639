//! The reliable ORC unwinder: what `arch_stack_walk_reliable()`
//! (arch/x86/kernel/stacktrace.c) does over the ORC unwinder
//! (arch/x86/kernel/unwind_orc.c) on a kernel built with `UNWINDER_ORC`
//! (Debian's amd64 kernels: no frame pointers), from tables handed in as
//! data.
//!
//! # The tables
//!
//! objtool describes every instruction of vmlinux and of each module with an
//! [`OrcEntry`] (arch/x86/include/asm/orc_types.h): how to find the caller's
//! stack pointer (the CFA) and frame pointer from the registers at that
//! instruction, and what kind of frame it is.  `.orc_unwind_ip` holds one
//! `s32` per entry, each relative to its own address (`orc_ip()`), sorted;
//! `.orc_unwind` the 6-byte entries in the same order ([`OrcTable`]).  For
//! vmlinux the kernel adds `orc_lookup`, one `u32` per 256-byte block of
//! `[_stext, _etext)` plus one, filled at boot by `unwind_init()`: the first
//! entry index covering the block ([`VmlinuxOrc`]; [`build_lookup`] computes
//! it the same way, [`VmlinuxOrc::check`] compares a handed-in one).  A
//! module's tables are sorted at load by `unwind_module_init()` and hang off
//! `struct module` ([`OrcModules`]).
//!
//! # The walk
//!
//! [`Orc::unwind_reliable`] starts where `__unwind_start()` starts for a
//! task that is not running (the registers of its `inactive_task_frame`:
//! [`crate::inactive_task_regs`]) and steps as `unwind_next_frame()` does:
//! the entry for `ip - 1` (the call instruction: a return address may be the
//! first byte of the next function), or for `ip` itself in a "signal" frame
//! (the first frame of a task that never ran, which starts at
//! `ret_from_fork_asm`, and frames whose entry sets `signal`); the CFA from
//! `sp`, `bp` or a word they point at; the return address just below the
//! CFA; the caller's `bp` unchanged, or read at an offset from the CFA or
//! from `bp`.  The walk ends successfully at an `ORC_TYPE_END_OF_STACK`
//! entry (`ret_from_fork_asm`, the CPUs' start-up code) or at user-mode
//! registers (`ORC_TYPE_REGS`, or `ORC_TYPE_REGS_PARTIAL`'s iret frame) at
//! `task_pt_regs()`, which is where a task's walk ends when it entered the
//! kernel from user space.
//!
//! # Refusals
//!
//! Where the kernel's reliable walk fails, this one refuses: no entry for an
//! address (the kernel falls back to a frame-pointer guess and marks the
//! walk unreliable; that includes generated code such as ftrace's dynamic
//! trampolines and BPF programs), an `ORC_TYPE_UNDEFINED` entry, an unknown
//! type or base register, a CFA in a register only a full `pt_regs` frame
//! holds (`AX`, `DX`, `DI`, `R10`, `R13`: DRAP realignment), a read off the
//! stack (`stack_access_ok()`), a stack pointer that does not move up
//! ("stack going in the wrong direction"), a return address that is not
//! kernel text, and a walk that ends neither at an end-of-stack entry nor at
//! user-mode registers.  Beyond the kernel, it refuses tracing trampolines
//! as return addresses (the kernel recovers the real one from the function
//! graph or rethook stack, which a reader of stack memory cannot see), a
//! misaligned CFA (objtool's entries keep it 8-aligned), an address below a
//! table's first entry (`__orc_find()` would answer with the first entry),
//! and user-mode registers anywhere but at `task_pt_regs()`.
//!
//! # Kernel-mode `pt_regs`: refused
//!
//! With ORC, the kernel's `arch_stack_walk_reliable()` does not stop at
//! kernel-mode registers on the stack (an interrupt or exception taken in
//! the kernel: a task preempted on its way out of an interrupt, or asleep in
//! a page fault taken by `copy_from_user()`): only the frame-pointer build
//! refuses them, because a function interrupted before its prologue leaves
//! no frame record, whereas ORC describes every instruction.  It reports
//! `regs->ip`, the interrupted instruction itself, and walks on.  This walk
//! refuses them (`Unreliable::ExceptionFrame`), as the frame-pointer walk
//! does, for two reasons:
//!
//! * Its callers treat every address after the first as a return address
//!   and look up `addr - 1` (the call instruction: `graft_core::transition::
//!   check_task`).  `regs->ip` is exact: a task preempted on the first
//!   instruction of a replacement function, right after the ftrace handler
//!   sent it there, would be looked up in the symbol before and switched
//!   while it is about to run the replacement, whose module could then be
//!   unloaded.  Following the kernel needs the walk's output to mark exact
//!   addresses, and every consumer to use it.
//! * A task the walk refuses is only retried: one preempted in the kernel
//!   runs again soon and switches at its syscall exit, at the latest.
//!
//! The only kernel-mode registers this walk meets are then refusals, so it
//! never needs registers from a `pt_regs` (`get_reg()` in the kernel): a CFA
//! in `AX` and the like is refused, and an undefined `bp` keeps its value.
//!
//! # Example
//!
//! A kernel thread asleep in `schedule()`, its stack laid out by
//! [`crate::testing::OrcStack`], the table built from its call sites:
//!
//! ```
//! use graft_core::{SavedRegs, TextAddr, TextInfo, TextKind};
//! use graft_x86_64::orc::{build_lookup, lookup_words, NoModules, Orc, OrcEntry, OrcTable, VmlinuxOrc};
//! use graft_x86_64::testing::OrcStack;
//!
//! struct Text;
//! impl TextInfo for Text {
//!     fn kind(&self, a: TextAddr) -> TextKind {
//!         if a.0 >= 0xffff_ffff_8100_0000 { TextKind::Kernel } else { TextKind::NotText }
//!     }
//! }
//! let text = (0xffff_ffff_8100_0000, 0xffff_ffff_8101_0000);
//! let t = |off: u64| text.0 + off;
//!
//! let mut buf = [0u8; 1024];
//! let mut s = OrcStack::new(&mut buf, 0xffff_c900_0000_0000, false, 0);
//! // (call site's return address, its entry), sorted by address.
//! let mut rows = vec![(t(0), OrcEntry { sp_offset: 8, sp_reg: 3, kind: 2, ..OrcEntry::default() })];
//! rows.push((t(0x105), s.bottom(t(0x10a), true))); // ret_from_fork_asm
//! rows.push((t(0x205), s.call(t(0x20a), 32, true))); // kthread()
//! rows.push((t(0x305), s.call(t(0x30a), 16, false))); // schedule()
//! let regs: SavedRegs = s.switch_out(); // __schedule() -> __switch_to_asm
//!
//! let ip_addr = t(0x8000);
//! let (mut ip, mut un) = (Vec::new(), Vec::new());
//! for (i, (a, e)) in rows.iter().enumerate() {
//!     ip.extend((a.wrapping_sub(ip_addr + 4 * i as u64) as i32).to_le_bytes());
//!     un.extend(e.encode());
//! }
//! let table = OrcTable::new(ip_addr, &ip, &un).unwrap();
//! let mut lookup = vec![0; 4 * lookup_words(text)];
//! build_lookup(&table, text, &mut lookup).unwrap();
//! let orc = Orc {
//!     vmlinux: VmlinuxOrc { table, lookup: &lookup, text, init_text: (0, 0) },
//!     modules: &NoModules,
//!     ret_from_fork: TextAddr(t(0x100)),
//! };
//! let mut out = [TextAddr(0); 8];
//! let n = orc.unwind_reliable(&regs, s.bounds(), &s.memory(), &Text, &mut out).unwrap();
//! let got: Vec<u64> = out[..n].iter().map(|a| a.0).collect();
//! assert_eq!(got, [t(0x30a), t(0x20a), t(0x10a)]);
//! ```

use super::unwind::{FRAME_HEADER_SIZE, PT_REGS_CS, PT_REGS_IP, PT_REGS_SIZE, PT_REGS_SP};
use super::X86_64;
use graft_core::{Arch, SavedRegs, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, Unreliable};

/// `sizeof(struct orc_entry)`.
pub const ORC_ENTRY_SIZE: usize = 6;
/// `LOOKUP_BLOCK_ORDER` (arch/x86/include/asm/orc_lookup.h).
pub const LOOKUP_BLOCK_ORDER: u32 = 8;
/// `LOOKUP_BLOCK_SIZE`: the bytes of text one `orc_lookup` word covers.
pub const LOOKUP_BLOCK_SIZE: u64 = 1 << LOOKUP_BLOCK_ORDER;
/// `IRET_FRAME_OFFSET`: `offsetof(struct pt_regs, ip)`.
pub const IRET_FRAME_OFFSET: u64 = PT_REGS_IP;
/// `IRET_FRAME_SIZE`: ip, cs, flags, sp, ss.
pub const IRET_FRAME_SIZE: u64 = PT_REGS_SIZE - IRET_FRAME_OFFSET;

/// The `ORC_HASH` of Linux 7.3's `orc_types.h` (`scripts/orc_hash.sh`: the
/// SHA-1 of its `ORC_REG_*`/`ORC_TYPE_*` defines and `struct orc_entry`),
/// which the kernel puts in `.orc_header` and the module loader compares: a
/// kernel whose header differs lays its entries out differently.
pub const ORC_HASH: [u8; 20] = [
    0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93, 0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc,
    0x82,
];

/// `ORC_REG_*`: the base registers of [`OrcEntry::sp_reg`] and
/// [`OrcEntry::bp_reg`].
pub mod reg {
    /// The register did not change in this frame (bp only).
    pub const UNDEFINED: u8 = 0;
    /// `rax`.
    pub const AX: u8 = 1;
    /// `rdx`.
    pub const DX: u8 = 2;
    /// `rsp`.
    pub const SP: u8 = 3;
    /// `rbp`.
    pub const BP: u8 = 4;
    /// `rdi`.
    pub const DI: u8 = 5;
    /// `r10`.
    pub const R10: u8 = 6;
    /// `r13`.
    pub const R13: u8 = 7;
    /// The CFA (bp only: the saved bp is at CFA + `bp_offset`).
    pub const PREV_SP: u8 = 8;
    /// The CFA is the word at `rsp`, plus `sp_offset`.
    pub const SP_INDIRECT: u8 = 9;
    /// The CFA is the word at `rbp + sp_offset`.
    pub const BP_INDIRECT: u8 = 10;
}

/// `ORC_TYPE_*`: [`OrcEntry::kind`].
pub mod kind {
    /// No unwind information: the walk fails here.
    pub const UNDEFINED: u8 = 0;
    /// The bottom of a stack (`UNWIND_HINT_END_OF_STACK`).
    pub const END_OF_STACK: u8 = 1;
    /// An ordinary frame: the return address is just below the CFA.
    pub const CALL: u8 = 2;
    /// A full `struct pt_regs` at the CFA.
    pub const REGS: u8 = 3;
    /// Only the iret frame (ip, cs, flags, sp, ss) at the CFA.
    pub const REGS_PARTIAL: u8 = 4;
}

/// `struct orc_entry`, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OrcEntry {
    /// Added to the base register ([`reg`]) to give the CFA.
    pub sp_offset: i16,
    /// Added to the CFA (`PREV_SP`) or `bp` (`BP`) to find the saved bp.
    pub bp_offset: i16,
    /// Base of the CFA ([`reg`], 4 bits).
    pub sp_reg: u8,
    /// Where the caller's bp is ([`reg`], 4 bits).
    pub bp_reg: u8,
    /// The frame type ([`kind`], 3 bits).
    pub kind: u8,
    /// The frame was interrupted, not a call: its successor's entry is
    /// looked up at the exact ip.
    pub signal: bool,
}

impl OrcEntry {
    /// Decode the 6 bytes x86 lays `struct orc_entry` out in: two `s16`,
    /// then the bitfields from the low bit up (`sp_reg:4`, `bp_reg:4`,
    /// `type:3`, `signal:1`, `__LITTLE_ENDIAN_BITFIELD`).
    pub const fn decode(b: [u8; ORC_ENTRY_SIZE]) -> Self {
        OrcEntry {
            sp_offset: i16::from_le_bytes([b[0], b[1]]),
            bp_offset: i16::from_le_bytes([b[2], b[3]]),
            sp_reg: b[4] & 0xf,
            bp_reg: b[4] >> 4,
            kind: b[5] & 0x7,
            signal: b[5] & 0x8 != 0,
        }
    }

    /// The bytes [`OrcEntry::decode`] reads (fields masked to their widths;
    /// the 4 unused bits are 0).
    pub const fn encode(&self) -> [u8; ORC_ENTRY_SIZE] {
        let sp = self.sp_offset.to_le_bytes();
        let bp = self.bp_offset.to_le_bytes();
        [
            sp[0],
            sp[1],
            bp[0],
            bp[1],
            (self.sp_reg & 0xf) | (self.bp_reg & 0xf) << 4,
            (self.kind & 0x7) | if self.signal { 0x8 } else { 0 },
        ]
    }
}

/// Why tables cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrcError {
    /// `.orc_unwind_ip` is not whole `s32`s, `.orc_unwind` not whole entries,
    /// or they count differently (`unwind_init()`'s "Bad or missing
    /// .orc_unwind table").
    Sizes {
        /// Bytes of `.orc_unwind_ip`.
        ip: usize,
        /// Bytes of `.orc_unwind`.
        unwind: usize,
    },
    /// No entries.
    Empty,
    /// Entry `index` starts before entry `index - 1` (the tables must be
    /// sorted for the binary search).
    Unsorted {
        /// The first entry out of order.
        index: usize,
    },
    /// `orc_lookup` has the wrong number of words for `[_stext, _etext)`
    /// (`((_etext - _stext + 255) / 256 + 1)` words, vmlinux.lds.h).
    LookupSize {
        /// Words handed in.
        got: usize,
        /// Words the text range needs.
        want: usize,
    },
    /// `orc_lookup[block]` is not what `unwind_init()` writes there.
    Lookup {
        /// The block.
        block: usize,
        /// The word handed in.
        got: u32,
        /// The word `unwind_init()` computes.
        want: u32,
    },
    /// `[_stext, _etext)` is empty or reversed.
    TextRange,
    /// `.orc_header` is not the [`ORC_HASH`] of the entry layout this crate
    /// decodes.
    Header,
}

impl core::fmt::Display for OrcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OrcError::Sizes { ip, unwind } => {
                write!(f, "bad ORC tables: .orc_unwind_ip has {ip} bytes, .orc_unwind {unwind}")
            }
            OrcError::Empty => f.write_str("the ORC tables are empty"),
            OrcError::Unsorted { index } => write!(f, "ORC entry {index} is out of order"),
            OrcError::LookupSize { got, want } => {
                write!(f, "orc_lookup has {got} words, the text needs {want}")
            }
            OrcError::Lookup { block, got, want } => {
                write!(f, "orc_lookup[{block}] is {got}, unwind_init() computes {want}")
            }
            OrcError::TextRange => f.write_str("empty text range for orc_lookup"),
            OrcError::Header => f.write_str(".orc_header is not the ORC_HASH of Linux 7.3's orc_entry"),
        }
    }
}

/// Whether `.orc_header`'s bytes are the [`ORC_HASH`] this crate decodes.
pub fn check_header(header: &[u8]) -> Result<(), OrcError> {
    if header == ORC_HASH {
        Ok(())
    } else {
        Err(OrcError::Header)
    }
}

/// One ORC table: `.orc_unwind_ip` (at `ip_addr`) and `.orc_unwind`, as the
/// kernel keeps them for vmlinux (`__start_orc_unwind_ip` ..) or a module
/// (`mod->arch.orc_unwind_ip`, `.orc_unwind`, `.num_orcs`).
#[derive(Clone, Copy, Debug)]
pub struct OrcTable<'a> {
    ip_addr: u64,
    ip: &'a [u8],
    unwind: &'a [u8],
}

impl<'a> OrcTable<'a> {
    /// The table whose `.orc_unwind_ip` bytes `ip` lie at `ip_addr`; checks
    /// the sizes as `unwind_init()` does.  Sortedness is not checked here
    /// (a binary search over unsorted entries returns a wrong entry, never
    /// reads out of bounds): see [`OrcTable::check_sorted`].
    pub fn new(ip_addr: u64, ip: &'a [u8], unwind: &'a [u8]) -> Result<Self, OrcError> {
        let n = ip.len() / 4;
        if ip.len() % 4 != 0 || unwind.len() % ORC_ENTRY_SIZE != 0 || unwind.len() / ORC_ENTRY_SIZE != n {
            return Err(OrcError::Sizes { ip: ip.len(), unwind: unwind.len() });
        }
        if n == 0 {
            return Err(OrcError::Empty);
        }
        Ok(OrcTable { ip_addr, ip, unwind })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ip.len() / 4
    }

    /// Whether the table has no entries (never, for a table [`OrcTable::new`]
    /// accepted).
    pub fn is_empty(&self) -> bool {
        self.ip.is_empty()
    }

    /// `orc_ip()` of entry `i`: the address it starts at.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn ip(&self, i: usize) -> u64 {
        let rel = i32::from_le_bytes([self.ip[4 * i], self.ip[4 * i + 1], self.ip[4 * i + 2], self.ip[4 * i + 3]]);
        self.ip_addr.wrapping_add(4 * i as u64).wrapping_add_signed(i64::from(rel))
    }

    /// Entry `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn entry(&self, i: usize) -> OrcEntry {
        let o = ORC_ENTRY_SIZE * i;
        let mut b = [0u8; ORC_ENTRY_SIZE];
        b.copy_from_slice(&self.unwind[o..o + ORC_ENTRY_SIZE]);
        OrcEntry::decode(b)
    }

    /// Whether the entries' addresses never decrease (the kernel sorts
    /// them at build time, `sorttable`, and at module load).
    pub fn check_sorted(&self) -> Result<(), OrcError> {
        let mut prev = self.ip(0);
        for i in 1..self.len() {
            let ip = self.ip(i);
            if ip < prev {
                return Err(OrcError::Unsorted { index: i });
            }
            prev = ip;
        }
        Ok(())
    }

    /// `__orc_find()` over entries `[lo, hi)`: the index of the rightmost
    /// entry starting at or before `ip` (so of duplicates, the last: the
    /// kernel sorts the "weak" section terminators first).  `None` when the
    /// range is empty or out of the table, or `ip` lies before its first
    /// entry (where the kernel would answer with the first entry).
    pub fn find_in(&self, lo: usize, hi: usize, ip: u64) -> Option<usize> {
        if lo >= hi || hi > self.len() || self.ip(lo) > ip {
            return None;
        }
        // Invariant: ip(found) <= ip; the answer lies in [found, last].
        let (mut found, mut first, mut last) = (lo, lo + 1, hi - 1);
        while first <= last {
            let mid = first + (last - first) / 2;
            if self.ip(mid) <= ip {
                found = mid;
                first = mid + 1;
            } else {
                last = mid - 1;
            }
        }
        Some(found)
    }

    /// `__orc_find()` over the whole table.
    pub fn find(&self, ip: u64) -> Option<usize> {
        self.find_in(0, self.len(), ip)
    }

    /// `__orc_find()` exactly as `unwind_init()` uses it to fill
    /// `orc_lookup`: an address before the first entry gets the first
    /// entry (its binary search starts with `found = first`), which
    /// happens where `_stext` has no entry of its own (graft's clang-built
    /// kernel: the first at `_stext + 0x40`).  `None` only for an empty
    /// table.  The walk never uses this: [`OrcTable::find`] refuses such an
    /// address.
    pub fn lookup_index(&self, ip: u64) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        Some(self.find(ip).unwrap_or(0))
    }
}

/// vmlinux's ORC data: its table, the boot-time lookup table `orc_lookup`
/// (`u32` words, little-endian, [`build_lookup`]'s output) for the text
/// `[_stext, _etext)`, and the init text `[_sinittext, _einittext)`, which
/// the kernel searches without the lookup table (`is_kernel_inittext()`).
#[derive(Clone, Copy, Debug)]
pub struct VmlinuxOrc<'a> {
    /// `__start_orc_unwind_ip` .. and `__start_orc_unwind` ...
    pub table: OrcTable<'a>,
    /// `orc_lookup` .. `orc_lookup_end`, as bytes.
    pub lookup: &'a [u8],
    /// `[_stext, _etext)`.
    pub text: (u64, u64),
    /// `[_sinittext, _einittext)` (empty once init memory is freed, or to
    /// leave init text out).
    pub init_text: (u64, u64),
}

/// Words of `orc_lookup` for the text `[start, end)`: one per
/// [`LOOKUP_BLOCK_SIZE`] bytes, rounded up, plus one (vmlinux.lds.h).
pub fn lookup_words(text: (u64, u64)) -> usize {
    let size = text.1.saturating_sub(text.0);
    (size.div_ceil(LOOKUP_BLOCK_SIZE) + 1) as usize
}

fn lookup_word(lookup: &[u8], i: usize) -> Option<u32> {
    let b = lookup.get(4 * i..4 * i + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// What `unwind_init()` writes into `orc_lookup` for `table` and the text
/// `[start, end)`: word `i` is the entry covering `start + 256 * i`, the
/// last the entry covering `end`.  `out` must hold [`lookup_words`] words
/// (4 bytes each, little-endian).
pub fn build_lookup(table: &OrcTable<'_>, text: (u64, u64), out: &mut [u8]) -> Result<(), OrcError> {
    let want = lookup_words(text);
    if text.1 <= text.0 {
        return Err(OrcError::TextRange);
    }
    if out.len() != 4 * want {
        return Err(OrcError::LookupSize { got: out.len() / 4, want });
    }
    for i in 0..want {
        let ip = if i + 1 == want { text.1 } else { text.0 + LOOKUP_BLOCK_SIZE * i as u64 };
        // unwind_init() gives up ("Corrupt .orc_unwind table") where
        // __orc_find() finds nothing: an empty table.
        let idx = table.lookup_index(ip).ok_or(OrcError::Lookup { block: i, got: 0, want: 0 })?;
        out[4 * i..4 * i + 4].copy_from_slice(&(idx as u32).to_le_bytes());
    }
    Ok(())
}

impl VmlinuxOrc<'_> {
    /// Check the data as a kernel module must before trusting it: sizes
    /// (from [`OrcTable::new`]), the entries sorted, and `orc_lookup` exactly
    /// what `unwind_init()` computes from them.  Linear in the table plus a
    /// binary search per lookup word: tens of milliseconds for a distro
    /// kernel's 530,000 entries, once.
    pub fn check(&self) -> Result<(), OrcError> {
        if self.text.1 <= self.text.0 {
            return Err(OrcError::TextRange);
        }
        let want = lookup_words(self.text);
        if self.lookup.len() != 4 * want {
            return Err(OrcError::LookupSize { got: self.lookup.len() / 4, want });
        }
        self.table.check_sorted()?;
        for block in 0..want {
            let ip = if block + 1 == want { self.text.1 } else { self.text.0 + LOOKUP_BLOCK_SIZE * block as u64 };
            let want = self.table.lookup_index(ip).map_or(u32::MAX, |i| i as u32);
            let got = lookup_word(self.lookup, block).unwrap_or(u32::MAX);
            if got != want {
                return Err(OrcError::Lookup { block, got, want });
            }
        }
        Ok(())
    }

    /// `orc_find()` for a vmlinux address: the lookup table's block, then
    /// `__orc_find()` within it; init text by the whole table.  `None`
    /// outside both, and where the kernel warns "bad lookup idx/value".
    pub fn find(&self, ip: u64) -> Option<OrcEntry> {
        let (start, end) = self.text;
        if ip >= start && ip < end {
            let idx = usize::try_from((ip - start) / LOOKUP_BLOCK_SIZE).ok()?;
            let blocks = self.lookup.len() / 4;
            if idx + 1 >= blocks {
                return None;
            }
            let lo = lookup_word(self.lookup, idx)? as usize;
            let hi = (lookup_word(self.lookup, idx + 1)? as usize).checked_add(1)?;
            let n = self.table.len();
            if lo >= n || hi > n {
                return None;
            }
            return self.table.find_in(lo, hi, ip).map(|i| self.table.entry(i));
        }
        if ip >= self.init_text.0 && ip < self.init_text.1 {
            return self.table.find(ip).map(|i| self.table.entry(i));
        }
        None
    }
}

/// The ORC tables of loaded modules, by address: the kernel's
/// `__module_address(ip)` and its `mod->arch.orc_unwind_ip`, `orc_unwind`,
/// `num_orcs` (sorted by `unwind_module_init()` at load).
pub trait OrcModules {
    /// The table of the module whose memory holds `ip`, if any.
    fn table(&self, ip: u64) -> Option<OrcTable<'_>>;
}

/// One module's ORC table and the range of its memory.
#[derive(Clone, Copy, Debug)]
pub struct ModuleOrc<'a> {
    /// `[start, end)` of the module's text.
    pub text: (u64, u64),
    /// Its table.
    pub table: OrcTable<'a>,
}

/// A list of modules' tables (tests, or a glue that snapshots the loaded
/// modules' tables).
#[derive(Clone, Copy, Debug)]
pub struct ModuleList<'a>(pub &'a [ModuleOrc<'a>]);

impl OrcModules for ModuleList<'_> {
    fn table(&self, ip: u64) -> Option<OrcTable<'_>> {
        self.0.iter().find(|m| ip >= m.text.0 && ip < m.text.1).map(|m| m.table)
    }
}

/// No modules (a walk that meets module text refuses it).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoModules;

impl OrcModules for NoModules {
    fn table(&self, _ip: u64) -> Option<OrcTable<'_>> {
        None
    }
}

/// The reliable ORC unwinder over vmlinux's and the modules' tables.
#[derive(Clone, Copy)]
pub struct Orc<'a> {
    /// vmlinux's tables.
    pub vmlinux: VmlinuxOrc<'a>,
    /// The modules'.
    pub modules: &'a dyn OrcModules,
    /// `ret_from_fork_asm`: a task that never ran resumes there, and
    /// `__unwind_start()` looks its first entry up at that exact address
    /// (`state->signal`), not at the byte before.
    pub ret_from_fork: TextAddr,
}

impl core::fmt::Debug for Orc<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Orc")
            .field("vmlinux", &self.vmlinux)
            .field("ret_from_fork", &self.ret_from_fork)
            .finish_non_exhaustive()
    }
}

/// What one step of the walk found.
enum Step {
    /// A caller's frame: its return address.
    Frame,
    /// The end of the stack: an end-of-stack entry or user-mode registers
    /// at `task_pt_regs()`.
    End,
}

struct Walk<'a, 'b> {
    orc: &'b Orc<'a>,
    bounds: StackBounds,
    mem: &'b dyn StackReader,
    ip: u64,
    sp: u64,
    bp: u64,
    signal: bool,
}

impl Walk<'_, '_> {
    /// `deref_stack_reg()`: a word that must lie on the stack.
    fn word(&self, a: u64) -> Result<u64, Unreliable> {
        if !self.bounds.contains(a, 8) {
            return Err(Unreliable::OutOfBounds(a));
        }
        self.mem.read_u64(StackAddr(a), X86_64::ENDIAN).map_err(|_| Unreliable::Fault(a))
    }

    /// `pt_regs` (or only its iret frame, `partial`) at `regs`: the end of
    /// the walk when they are user mode at `task_pt_regs()`, else refused.
    fn regs(&self, regs: u64, partial: bool) -> Result<Step, Unreliable> {
        let need = if partial { IRET_FRAME_SIZE } else { PT_REGS_SIZE };
        let from = if partial { regs.wrapping_add(IRET_FRAME_OFFSET) } else { regs };
        if !self.bounds.contains(from, need) {
            return Err(Unreliable::OutOfBounds(from));
        }
        let cs = self.word(regs.wrapping_add(PT_REGS_CS))?;
        let _ = (self.word(regs.wrapping_add(PT_REGS_IP))?, self.word(regs.wrapping_add(PT_REGS_SP))?);
        let at_top = self.bounds.final_frame.0.checked_add(FRAME_HEADER_SIZE) == Some(regs);
        if cs & 3 != 0 && at_top {
            // arch_stack_walk_reliable()'s "Success path for user tasks".
            return Ok(Step::End);
        }
        Err(Unreliable::ExceptionFrame(regs))
    }

    /// `unwind_next_frame()`.
    fn step(&mut self) -> Result<Step, Unreliable> {
        let at = if self.signal { self.ip } else { self.ip.wrapping_sub(1) };
        let orc = self.orc.find(at).ok_or(Unreliable::NoUnwindInfo(self.ip))?;
        match orc.kind {
            kind::UNDEFINED => return Err(Unreliable::BadUnwindInfo(self.ip)),
            kind::END_OF_STACK => return Ok(Step::End),
            _ => {}
        }
        self.signal = orc.signal;

        let off = i64::from(orc.sp_offset);
        let cfa = match orc.sp_reg {
            reg::SP => self.sp.checked_add_signed(off),
            reg::BP => self.bp.checked_add_signed(off),
            reg::SP_INDIRECT => self.word(self.sp)?.checked_add_signed(off),
            reg::BP_INDIRECT => {
                Some(self.word(self.bp.checked_add_signed(off).ok_or(Unreliable::BadUnwindInfo(self.ip))?)?)
            }
            // Registers only a full pt_regs frame holds, and the walk never
            // continues past one (see the module docs).
            reg::AX | reg::DX | reg::DI | reg::R10 | reg::R13 => return Err(Unreliable::UnknownRegister(self.ip)),
            _ => return Err(Unreliable::BadUnwindInfo(self.ip)),
        }
        .ok_or(Unreliable::BadUnwindInfo(self.ip))?;
        if cfa % 8 != 0 {
            return Err(Unreliable::Misaligned(cfa));
        }

        match orc.kind {
            kind::CALL => {
                let ip_p = cfa.checked_sub(8).ok_or(Unreliable::OutOfBounds(cfa))?;
                let ret = self.word(ip_p)?;
                // The caller's bp.
                self.bp = match orc.bp_reg {
                    reg::UNDEFINED => self.bp,
                    reg::PREV_SP => self.word(
                        cfa.checked_add_signed(i64::from(orc.bp_offset)).ok_or(Unreliable::BadUnwindInfo(self.ip))?,
                    )?,
                    reg::BP => self.word(
                        self.bp
                            .checked_add_signed(i64::from(orc.bp_offset))
                            .ok_or(Unreliable::BadUnwindInfo(self.ip))?,
                    )?,
                    _ => return Err(Unreliable::BadUnwindInfo(self.ip)),
                };
                // "stack going in the wrong direction?"
                if cfa <= self.sp {
                    return Err(Unreliable::NotIncreasing(cfa));
                }
                self.ip = ret;
                self.sp = cfa;
                Ok(Step::Frame)
            }
            kind::REGS => self.regs(cfa, false),
            kind::REGS_PARTIAL => self.regs(cfa.wrapping_sub(IRET_FRAME_OFFSET), true),
            _ => Err(Unreliable::BadUnwindInfo(self.ip)),
        }
    }
}

impl<'a> Orc<'a> {
    /// `orc_find()`: vmlinux (lookup table, then init text), then the
    /// module holding `ip`.  `None` for anything else (the kernel also
    /// knows BPF programs and ftrace's dynamic trampolines; for a reliable
    /// walk graft refuses them).
    pub fn find(&self, ip: u64) -> Option<OrcEntry> {
        if let Some(e) = self.vmlinux.find(ip) {
            return Some(e);
        }
        let (text, init) = (self.vmlinux.text, self.vmlinux.init_text);
        if (ip >= text.0 && ip < text.1) || (ip >= init.0 && ip < init.1) {
            // vmlinux's own text with bad lookup data: not a module's.
            return None;
        }
        let t = self.modules.table(ip)?;
        t.find(ip).map(|i| t.entry(i))
    }

    /// Walk a task's stack from `regs` (`pc`, `sp`, `bp` in `fp`) and write
    /// its addresses into `out`, the first being `regs.pc`; the same
    /// contract as [`graft_core::Unwinder::unwind_reliable`]: never
    /// allocates, never reads outside `bounds`, always terminates (every
    /// frame moves `sp` up a bounded stack).  `bounds.final_frame` is the
    /// frame-pointer walk's last frame (`task_pt_regs() - 16`: the
    /// glue's `TaskStacks::task_final_frame`); user-mode registers are
    /// accepted only right above it.
    pub fn unwind_reliable(
        &self,
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        // __unwind_start(): the stack pointer must be on the task's stack.
        if !bounds.contains(regs.sp, 0) || regs.sp >= bounds.hi.0 {
            return Err(Unreliable::OutOfBounds(regs.sp));
        }
        let mut w = Walk {
            orc: self,
            bounds,
            mem,
            ip: regs.pc,
            sp: regs.sp,
            bp: regs.fp,
            signal: regs.pc == self.ret_from_fork.0,
        };
        let mut n = 0;
        loop {
            text.check_return_address(w.ip)?;
            let slot = out.get_mut(n).ok_or(Unreliable::TooManyFrames)?;
            *slot = TextAddr(w.ip);
            n += 1;
            match w.step()? {
                Step::Frame => {}
                Step::End => return Ok(n),
            }
        }
    }
}

impl graft_core::UnwindReliable for Orc<'_> {
    fn unwind_reliable(
        &self,
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        Orc::unwind_reliable(self, regs, bounds, mem, text, out)
    }
    /// The `pt_regs` this walk refuses are the frame-pointer walk's:
    /// `regs->ip` read the same way.
    fn interrupted_pc(&self, at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        <crate::X86_64 as graft_core::Unwinder>::interrupted_pc(at, bounds, mem)
    }
    fn endian(&self) -> graft_core::Endian {
        graft_core::Endian::Little
    }
}

//! Patch plans: a backend's cross-modifying-code protocol as data, and the one
//! executor that applies any plan through a [`TextWriter`].
//!
//! A plan is an ordered list of single stores and synchronisation points.  The
//! backend decides the order (x86's int3 protocol, one aligned store plus cache
//! maintenance on arm64, ...); the executor only carries it out, so the unsafe
//! part of text patching lives in one `TextWriter` implementation per
//! environment.

use super::addr::TextAddr;
use super::mem::{MemError, TextWriter};
use core::fmt;

/// Up to 8 bytes of instruction, the largest single store any backend plans.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct InsnBuf {
    bytes: [u8; 8],
    len: u8,
}

impl InsnBuf {
    /// The largest buffer.
    pub const MAX: usize = 8;

    /// Copy `b` (at most [`InsnBuf::MAX`] bytes).
    ///
    /// # Panics
    /// If `b` is longer than [`InsnBuf::MAX`]; backends only build short
    /// instructions, so this is a programming error.
    pub const fn new(b: &[u8]) -> Self {
        assert!(b.len() <= Self::MAX);
        let mut bytes = [0u8; 8];
        let mut i = 0;
        while i < b.len() {
            bytes[i] = b[i];
            i += 1;
        }
        InsnBuf { bytes, len: b.len() as u8 }
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
    /// Length in bytes.
    pub const fn len(&self) -> usize {
        self.len as usize
    }
    /// True for an empty buffer.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for InsnBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsnBuf[")?;
        for (i, b) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str("]")
    }
}

/// How a plan makes earlier stores visible to other CPUs' instruction fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncKind {
    /// Every CPU executes a serialising instruction (x86 `text_poke_sync()`:
    /// an IPI running `sync_core()` everywhere; riscv `flush_icache_all()`:
    /// `fence.i` on every hart, by IPI or SBI remote fence).
    SyncCores,
    /// Clean the data cache and invalidate the instruction cache for the range,
    /// then synchronise the local pipeline (arm64 `caches_clean_inval_pou()` +
    /// `isb`, powerpc `flush_icache_range()`: `dcbst; sync; icbi; isync`).
    CacheMaintenance {
        /// First byte written.
        addr: TextAddr,
        /// Bytes written.
        len: u32,
    },
    /// A serialising operation on every CPU (s390 `bcr 14,0`/`bcr 15,0` via
    /// `text_poke_sync()` in arch/s390/kernel/alternative.c).
    Serialize,
}

/// One step of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A single store the arch performs atomically at `addr`.
    Write {
        /// Where.
        addr: TextAddr,
        /// What.
        bytes: InsnBuf,
    },
    /// A synchronisation point.
    Sync(SyncKind),
}

/// Why a plan cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// Old and new instructions differ in length.
    LengthMismatch,
    /// The site is not aligned as the arch's atomic store needs.
    Misaligned(TextAddr),
    /// More steps than [`Plan::MAX_STEPS`].
    TooLong,
    /// Old and new are the same: nothing to do.
    Unchanged,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::LengthMismatch => f.write_str("old and new instructions differ in length"),
            PlanError::Misaligned(a) => write!(f, "site {a} is not aligned for an atomic store"),
            PlanError::TooLong => f.write_str("plan has too many steps"),
            PlanError::Unchanged => f.write_str("old and new instructions are identical"),
        }
    }
}

/// An ordered, fixed-capacity list of steps (no allocation on the patch path).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    steps: [Step; Plan::MAX_STEPS],
    len: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.steps()).finish()
    }
}

impl Plan {
    /// The most steps a plan holds (x86's int3 protocol needs 6).
    pub const MAX_STEPS: usize = 8;

    /// An empty plan.
    pub const fn new() -> Self {
        Plan { steps: [Step::Sync(SyncKind::SyncCores); Plan::MAX_STEPS], len: 0 }
    }
    /// Append a step.
    pub fn push(&mut self, s: Step) -> Result<(), PlanError> {
        let slot = self.steps.get_mut(self.len).ok_or(PlanError::TooLong)?;
        *slot = s;
        self.len += 1;
        Ok(())
    }
    /// Append a store.
    pub fn write(&mut self, addr: TextAddr, bytes: &[u8]) -> Result<(), PlanError> {
        self.push(Step::Write { addr, bytes: InsnBuf::new(bytes) })
    }
    /// Append a sync.
    pub fn sync(&mut self, k: SyncKind) -> Result<(), PlanError> {
        self.push(Step::Sync(k))
    }
    /// The steps in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps[..self.len]
    }
    /// The byte image of `len` bytes at `addr` after the plan runs over `old`
    /// (a pure model of the plan, used by tests and by the kernel to check what
    /// the kernel's own patching wrote).
    pub fn final_image(&self, addr: TextAddr, old: &[u8], out: &mut [u8]) {
        out[..old.len()].copy_from_slice(old);
        for s in self.steps() {
            if let Step::Write { addr: a, bytes } = s {
                for (i, b) in bytes.as_slice().iter().enumerate() {
                    let Some(off) = (a.0 + i as u64).checked_sub(addr.0) else { continue };
                    if let Some(slot) = out.get_mut(off as usize) {
                        *slot = *b;
                    }
                }
            }
        }
    }
}

/// Apply `plan` through `w`, step by step.  Stops at the first failure and
/// reports which step failed; earlier steps stay applied, which every
/// backend's protocol tolerates (each prefix of a plan leaves valid code).
pub fn apply<W: TextWriter + ?Sized>(plan: &Plan, w: &mut W) -> Result<(), (usize, MemError)> {
    for (i, s) in plan.steps().iter().enumerate() {
        match *s {
            Step::Write { addr, bytes } => w.write(addr, bytes.as_slice()),
            Step::Sync(k) => w.sync(k),
        }
        .map_err(|e| (i, e))?;
    }
    Ok(())
}

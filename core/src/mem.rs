//! Memory access through tiny traits, so tests back memory with arrays and
//! the kernel backs it with nofault copies (`copy_from_kernel_nofault`).

use super::addr::{Endian, StackAddr, TextAddr};
use super::plan::SyncKind;
use core::fmt;

/// A read outside what the reader can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemError {
    /// Nothing readable (or writable) at this address.
    Fault(u64),
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::Fault(a) => write!(f, "memory fault at {a:#x}"),
        }
    }
}

/// Bounded reads of stack memory.  Implementations never fault: an unreadable
/// address is an `Err`.
pub trait StackReader {
    /// Fill `buf` from `addr`.
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError>;

    /// Read one 64-bit stack word in byte order `e`.
    fn read_u64(&self, addr: StackAddr, e: Endian) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(e.u64(b))
    }
}

/// Writes to live text, and the synchronisation that makes them visible to
/// every CPU.  In the kernel this is ftrace's own patching (graft never writes
/// kernel text itself); in qemu-user tests it is an aliased mapping.
pub trait TextWriter {
    /// Read `buf.len()` bytes of text at `addr`.
    fn read(&self, addr: TextAddr, buf: &mut [u8]) -> Result<(), MemError>;
    /// Store `bytes` at `addr`.  A plan asks either for stores the arch
    /// performs atomically (one aligned word, or one byte), or, on x86, for a
    /// tail store that other CPUs cannot execute yet because byte 0 holds an
    /// int3 (the plan's order guarantees it).
    fn write(&mut self, addr: TextAddr, bytes: &[u8]) -> Result<(), MemError>;
    /// Make earlier writes visible to instruction fetch as `kind` says.
    fn sync(&mut self, kind: SyncKind) -> Result<(), MemError>;
}

/// A flat little window of memory: `base..base+bytes.len()`.  Useful for
/// tests, fuzzing and the host tools; never allocates.
#[derive(Clone, Copy, Debug)]
pub struct SliceMemory<'a> {
    /// Address of `bytes[0]`.
    pub base: u64,
    /// The contents.
    pub bytes: &'a [u8],
}

impl SliceMemory<'_> {
    fn range(&self, addr: u64, len: usize) -> Option<core::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }
}

impl StackReader for SliceMemory<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let r = self.range(addr.0, buf.len()).ok_or(MemError::Fault(addr.0))?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
}

impl SliceMemory<'_> {
    /// Read text bytes (for site analysis on host-held images).
    pub fn read_text(&self, addr: TextAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let r = self.range(addr.0, buf.len()).ok_or(MemError::Fault(addr.0))?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }
}

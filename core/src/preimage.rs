//! Pre-images: what a function looked like in the build a patch was made
//! from, so that graft can refuse a patch made from another source or
//! configuration than the running kernel's (Ksplice's "run-pre" check).
//!
//! A pre-image is the function's size, a list of masks and a hash.  The
//! masks cover the bytes that legitimately differ between the object file
//! the patch was built from and the running kernel's text: relocated
//! fields (filled in by the final link) and the sites the kernel rewrites
//! as it runs (the ftrace call, alternatives, static keys, static calls,
//! return thunks...).  The hash is FNV-1a 64 of the function's bytes with
//! every masked byte read as zero.  The generator (`graft-inspect
//! preimage`, on the original object) and graft.ko (on the running
//! kernel's text) both call [`hash`]: one definition.

/// One masked range: `len` bytes at `offset` from the function's start
/// (graft.h's `struct graft_preimage_mask`, laid out alike: graft.ko
/// reads a patch module's array as these).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mask {
    /// First byte, from the function's start.
    pub offset: u32,
    /// How many bytes.
    pub len: u32,
}

/// The largest function a pre-image may describe (graft.ko reads it into
/// a buffer): far above any kernel function.
pub const MAX_SIZE: u64 = 1 << 20;

/// Why a list of masks is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskError {
    /// The size is 0 or above [`MAX_SIZE`].
    Size,
    /// A mask is empty, out of order, overlaps the one before it, or
    /// reaches past the function's end.
    Mask {
        /// Its index.
        index: usize,
    },
}

/// Check `masks` against a function of `size` bytes: each non-empty, in
/// order, apart, and within the function.
pub fn check(size: u64, masks: &[Mask]) -> Result<(), MaskError> {
    if size == 0 || size > MAX_SIZE {
        return Err(MaskError::Size);
    }
    let mut end = 0u64;
    for (index, m) in masks.iter().enumerate() {
        let (start, len) = (u64::from(m.offset), u64::from(m.len));
        if len == 0 || start < end || start + len > size {
            return Err(MaskError::Mask { index });
        }
        end = start + len;
    }
    Ok(())
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `code` with the bytes under `masks` read as zero.  The
/// masks are [`check`]ed ones; a mask past `code`'s end masks nothing
/// there.
pub fn hash(code: &[u8], masks: &[Mask]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut next = masks.iter().peekable();
    for (i, &b) in code.iter().enumerate() {
        let i = i as u64;
        while next.peek().is_some_and(|m| u64::from(m.offset) + u64::from(m.len) <= i) {
            next.next();
        }
        let masked = next.peek().is_some_and(|m| u64::from(m.offset) <= i);
        h ^= u64::from(if masked { 0 } else { b });
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Add `len` bytes at `offset` to a sorted list of masks, merging it with
/// the ranges it touches or overlaps; clipped to `size`.  For generators,
/// which find masks in any order: `masks` must be sorted and apart, as
/// this leaves it.  Returns `false` (adding nothing) when `max` masks are
/// already there and the range merges with none.
pub fn add(masks: &mut [Mask], n: &mut usize, size: u32, offset: u32, len: u32) -> bool {
    let (mut start, mut end) = (offset.min(size), offset.saturating_add(len).min(size));
    if start >= end {
        return true;
    }
    // the first mask that ends at or after `start`
    let list = &masks[..*n];
    let first = list.iter().position(|m| m.offset + m.len >= start).unwrap_or(*n);
    // and every one from there that starts at or before `end`
    let mut last = first;
    while last < *n && masks[last].offset <= end {
        start = start.min(masks[last].offset);
        end = end.max(masks[last].offset + masks[last].len);
        last += 1;
    }
    let merged = Mask { offset: start, len: end - start };
    if last > first {
        masks[first] = merged;
        masks.copy_within(last..*n, first + 1);
        *n -= last - first - 1;
        return true;
    }
    if *n == masks.len() {
        return false;
    }
    masks.copy_within(first..*n, first + 1);
    masks[first] = merged;
    *n += 1;
    true
}

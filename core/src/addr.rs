//! Address newtypes and byte order.

use core::fmt;

/// An address in kernel (or, in tests, emulated) text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TextAddr(pub u64);

/// An address on a task's stack.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StackAddr(pub u64);

macro_rules! addr_impls {
    ($t:ident) => {
        impl $t {
            /// `self + off`, or `None` on overflow.
            pub const fn checked_add(self, off: u64) -> Option<Self> {
                match self.0.checked_add(off) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }
            /// Signed distance `self - from` (branch displacement), `None` if it
            /// does not fit in an `i64`.
            pub const fn offset_from(self, from: Self) -> Option<i64> {
                let d = self.0.wrapping_sub(from.0) as i64;
                // The subtraction overflowed i64 iff the sign disagrees with the order.
                if (self.0 >= from.0) == (d >= 0) {
                    Some(d)
                } else {
                    None
                }
            }
            /// `self + disp` for a signed displacement, `None` on wrap.
            pub const fn checked_offset(self, disp: i64) -> Option<Self> {
                match self.0.checked_add_signed(disp) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }
            /// Whether `self` is a multiple of `align` (a power of two).
            pub const fn is_aligned(self, align: u64) -> bool {
                self.0 & (align - 1) == 0
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:#x})", stringify!($t), self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }
    };
}
addr_impls!(TextAddr);
addr_impls!(StackAddr);

/// Byte order of an architecture's instructions and stack words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    /// x86_64, arm64, ppc64le.
    Little,
    /// s390x.
    Big,
}

impl Endian {
    /// Read a `u32` in this byte order.
    pub const fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
    /// Read a `u64` in this byte order.
    pub const fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        }
    }
    /// Write a `u32` in this byte order.
    pub const fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    /// Write a `u64` in this byte order.
    pub const fn u64_bytes(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

//! x86_64: the reliable unwinder over arbitrary stack memory, registers and
//! bounds terminates, never reads outside the bounds, and returns at most
//! as many frames as the buffer holds.
#![no_main]

use graft_core::{
    MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unwinder,
};
use graft_x86_64::X86_64;
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

const BASE: u64 = 0xffff_c900_0000_0000;

struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<u64>,
}

impl StackReader for Checked<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read {:#x} outside {:?}", addr.0, self.bounds);
        self.reads.set(self.reads.get() + 1);
        self.mem.read(addr, buf)
    }
}

/// Text is everything with the top bit set, but for a few trampolines.
struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            x if x >> 63 == 0 => TextKind::NotText,
            x if x % 251 == 0 => TextKind::FtraceGraph,
            x if x % 253 == 0 => TextKind::Kretprobe,
            _ => TextKind::Kernel,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stack)) = data.split_first_chunk::<24>() else { return };
    let w = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]) as u64;
    // Register and bound values near the stack, so chains can form.
    let near = |v: u64| BASE.wrapping_add(v).wrapping_sub(0x100);
    let regs =
        SavedRegs { pc: u64::from_le_bytes(head[0..8].try_into().unwrap()), sp: near(w(8)), fp: near(w(10)), lr: 0 };
    let bounds =
        StackBounds { lo: StackAddr(near(w(12))), hi: StackAddr(near(w(14))), final_frame: StackAddr(near(w(16))) };
    let cap = usize::from(head[18] % 64);
    let mem = Checked { mem: SliceMemory { base: BASE, bytes: stack }, bounds, reads: Cell::new(0) };
    let mut out = vec![TextAddr(0); cap];
    if let Ok(n) = X86_64::unwind_reliable(&regs, bounds, &mem, &Text, &mut out) {
        assert!(n >= 1 && n <= cap);
    }
    // Every frame moves at least 16 bytes up a bounded stack: bounded work.
    let span = bounds.hi.0.saturating_sub(bounds.lo.0);
    assert!(mem.reads.get() <= 16 + 8 * (span / 16 + 1), "{} reads", mem.reads.get());
});

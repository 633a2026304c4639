//! arm64: the reliable unwinder over arbitrary stack memory and registers
//! terminates, reads only inside the bounds it is given, each word at most
//! once and in increasing order (so loops in the chain cannot trap it), and
//! never returns more frames than the buffer holds.
#![no_main]

use graft_arm64::Arm64;
use graft_core::{
    MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unwinder,
};
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

struct Fenced<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<usize>,
    last: Cell<Option<u64>>,
}

impl StackReader for Fenced<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read outside the bounds");
        assert!(self.last.get().is_none_or(|l| addr.0 > l), "read at or below an earlier read");
        self.last.set(Some(addr.0));
        self.reads.set(self.reads.get() + 1);
        self.mem.read(addr, buf)
    }
}

/// Text kinds picked by address bits, so every refusal path is reachable.
struct Mixed;
impl TextInfo for Mixed {
    fn kind(&self, a: TextAddr) -> TextKind {
        match (a.0 >> 2) % 13 {
            0 => TextKind::NotText,
            1 => TextKind::FtraceGraph,
            2 => TextKind::Kretprobe,
            3 => TextKind::ExceptionEntry,
            _ => TextKind::Kernel,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stack)) = data.split_first_chunk::<34>() else { return };
    let word = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap());
    let base = word(0) & !7;
    let len = stack.len() as u64;
    let Some(end) = base.checked_add(len) else { return };
    let lo = base + u64::from(head[32] & 0x1f).min(len);
    let hi = end.saturating_sub(u64::from(head[33] & 0x1f)).max(lo);
    let span = (hi - lo).max(1);
    // fp and the final frame: inside the stack unless the input's top bit says raw.
    let fp = if word(8) >> 63 == 1 { word(8) } else { lo + word(8) % span };
    let final_frame = if word(16) >> 63 == 1 { word(16) } else { lo + word(16) % span };
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(final_frame) };
    let regs = SavedRegs { pc: word(24), sp: lo, fp, lr: 0 };
    let mem = Fenced { mem: SliceMemory { base, bytes: stack }, bounds, reads: Cell::new(0), last: Cell::new(None) };
    let mut out = [TextAddr(0); 32];
    let cap = usize::from(head[32] >> 3);
    if let Ok(n) = Arm64::unwind_reliable(&regs, bounds, &mem, &Mixed, &mut out[..cap]) {
        assert!(n >= 1 && n <= cap);
    }
    assert!(mem.reads.get() <= 3 * (span as usize / 16 + 2));
});

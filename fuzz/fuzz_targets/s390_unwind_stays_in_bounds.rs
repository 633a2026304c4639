//! The s390 reliable unwinder, on arbitrary stack contents and registers,
//! terminates and never reads outside the stack bounds.
#![no_main]

use graft_core::{
    MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unwinder,
};
use graft_s390::unwind::{walk, FrameLayout};
use graft_s390::S390;
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
    reads: Cell<u64>,
}

impl StackReader for Checked<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read outside the stack");
        self.reads.set(self.reads.get() + 1);
        // Each frame costs two reads and frames move up by at least 8 bytes.
        assert!(self.reads.get() <= 2 * ((self.bounds.hi.0 - self.bounds.lo.0) / 8 + 2), "no termination");
        self.mem.read(addr, buf)
    }
}

struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 >> 12 {
            1 => TextKind::FtraceGraph,
            2 => TextKind::Kretprobe,
            3..0x100 => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stack)) = data.split_first_chunk::<26>() else { return };
    let word = |i: usize| u64::from_be_bytes(head[i..i + 8].try_into().unwrap());
    // The stack sits at 0x8000; the fuzzer learns back chains into it from
    // the unwinder's comparisons.
    let base = 0x8000u64;
    let len = stack.len() as u64;
    let lo = base + u64::from(head[24]).min(len);
    let hi = (base + len).saturating_sub(u64::from(head[25])).max(lo);
    // Top bit clear: an address in (or just past) the stack; set: anything.
    let near = |w: u64| if w >> 63 == 0 { base + w % (len + 64) } else { w };
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(near(word(16))) };
    let regs = SavedRegs { pc: word(0), sp: near(word(8)), fp: 0, lr: 0 };
    let mem = Checked { mem: SliceMemory { base, bytes: stack }, bounds, reads: Cell::new(0) };
    let mut out = [TextAddr(0); 32];
    let n = usize::from(head[24] % 33);
    if let Ok(k) = S390::unwind_reliable(&regs, bounds, &mem, &Text, &mut out[..n]) {
        assert!(k >= 1 && k <= n);
    }
    mem.reads.set(0);
    let _ = walk(&FrameLayout::STANDARD, &regs, bounds, &mem, &Text, &mut out[..n]);
});

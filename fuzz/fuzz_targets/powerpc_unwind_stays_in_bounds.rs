//! The powerpc reliable unwinder terminates and never reads outside the stack
//! bounds, on arbitrary stack memory and registers.
#![no_main]

use graft_core::{
    MemError, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, TextInfo, TextKind, Unwinder,
};
use graft_powerpc::Powerpc;
use libfuzzer_sys::fuzz_target;

struct Checked<'a> {
    mem: SliceMemory<'a>,
    bounds: StackBounds,
}

impl StackReader for Checked<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read {addr:?} outside {:?}", self.bounds);
        self.mem.read(addr, buf)
    }
}

struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 >> 60 {
            0xc => TextKind::Kernel,
            0xd => TextKind::FtraceGraph,
            _ => TextKind::NotText,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stack)) = data.split_first_chunk::<16>() else { return };
    let base = 0x1000_0000u64;
    let word = |i: usize| u64::from(u16::from_le_bytes([head[i], head[i + 1]]));
    let len = stack.len() as u64;
    let lo = base + (word(0) % 64).min(len);
    let hi = (base + len).saturating_sub(word(2) % 64).max(lo);
    let bounds = StackBounds { lo: StackAddr(lo), hi: StackAddr(hi), final_frame: StackAddr(base + word(4) * 8) };
    let regs = SavedRegs { pc: 0xc000_0000_0000_0000 | word(6), sp: base + word(8) * 8, fp: 0, lr: 0 };
    let mem = Checked { mem: SliceMemory { base, bytes: stack }, bounds };
    let mut out = [TextAddr(0); 32];
    let n = usize::from(head[10]) % 33;
    if let Ok(k) = Powerpc::unwind_reliable(&regs, bounds, &mem, &Text, &mut out[..n]) {
        assert!(k >= 1 && k <= n);
    }
});

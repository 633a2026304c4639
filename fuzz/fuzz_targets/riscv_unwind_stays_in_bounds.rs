//! riscv: the reliable unwinder over arbitrary stack memory and registers
//! terminates, reads only inside the bounds it is given, each word at most
//! once and in increasing order (so loops in the chain cannot trap it), and
//! never returns more frames than the buffer holds.
#![no_main]

use graft_core::{MemError, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, Unwinder};
use graft_fuzz_input::unwind::{self, RiscvText};
use graft_fuzz_input::UnwindInput;
use graft_riscv::Riscv;
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

fuzz_target!(|data: &[u8]| {
    // fp and the final frame: inside the stack unless the input's top bit says raw.
    let Some(UnwindInput { base, stack, regs, bounds, cap }) = unwind::decode_riscv(data) else { return };
    let span = (bounds.hi.0 - bounds.lo.0).max(1);
    let mem = Fenced { mem: SliceMemory { base, bytes: stack }, bounds, reads: Cell::new(0), last: Cell::new(None) };
    let mut out = [TextAddr(0); 32];
    if let Ok(n) = Riscv::unwind_reliable(&regs, bounds, &mem, &RiscvText, &mut out[..cap]) {
        assert!(n >= 1 && n <= cap);
        assert_eq!(out[0].0, regs.pc);
    }
    assert!(mem.reads.get() <= 3 * (span as usize / 16 + 2));
});

//! The s390 reliable unwinder, on arbitrary stack contents and registers,
//! terminates and never reads outside the stack bounds.
#![no_main]

use graft_core::{MemError, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, Unwinder};
use graft_fuzz_input::unwind::{self, S390Text};
use graft_fuzz_input::UnwindInput;
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

fuzz_target!(|data: &[u8]| {
    // The stack sits at 0x8000; the fuzzer learns back chains into it from
    // the unwinder's comparisons.  sp and the final frame: top bit clear,
    // an address in (or just past) the stack; set: anything.
    let Some(UnwindInput { base, stack, regs, bounds, cap: n }) = unwind::decode_s390(data) else { return };
    let mem = Checked { mem: SliceMemory { base, bytes: stack }, bounds, reads: Cell::new(0) };
    let mut out = [TextAddr(0); 32];
    if let Ok(k) = S390::unwind_reliable(&regs, bounds, &mem, &S390Text, &mut out[..n]) {
        assert!(k >= 1 && k <= n);
    }
    mem.reads.set(0);
    let _ = walk(&FrameLayout::STANDARD, &regs, bounds, &mem, &S390Text, &mut out[..n]);
});

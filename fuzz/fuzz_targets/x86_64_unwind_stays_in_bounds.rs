//! x86_64: the reliable unwinder over arbitrary stack memory, registers and
//! bounds terminates, never reads outside the bounds, and returns at most
//! as many frames as the buffer holds.
#![no_main]

use graft_core::{MemError, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, Unwinder};
use graft_fuzz_input::unwind::{self, X86_64Text};
use graft_fuzz_input::UnwindInput;
use graft_x86_64::X86_64;
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

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

fuzz_target!(|data: &[u8]| {
    // Register and bound values near the stack, so chains can form.
    let Some(UnwindInput { base, stack, regs, bounds, cap }) = unwind::decode_x86_64(data) else { return };
    let mem = Checked { mem: SliceMemory { base, bytes: stack }, bounds, reads: Cell::new(0) };
    let mut out = vec![TextAddr(0); cap];
    if let Ok(n) = X86_64::unwind_reliable(&regs, bounds, &mem, &X86_64Text, &mut out) {
        assert!(n >= 1 && n <= cap);
    }
    // Every frame moves at least 16 bytes up a bounded stack: bounded work.
    let span = bounds.hi.0.saturating_sub(bounds.lo.0);
    assert!(mem.reads.get() <= 16 + 8 * (span / 16 + 1), "{} reads", mem.reads.get());
});

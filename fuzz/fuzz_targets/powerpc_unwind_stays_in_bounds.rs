//! The powerpc reliable unwinder terminates and never reads outside the stack
//! bounds, on arbitrary stack memory and registers.
#![no_main]

use graft_core::{MemError, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr, Unwinder};
use graft_fuzz_input::unwind::{self, PowerpcText};
use graft_fuzz_input::UnwindInput;
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

fuzz_target!(|data: &[u8]| {
    let Some(UnwindInput { base, stack, regs, bounds, cap: n }) = unwind::decode_powerpc(data) else { return };
    let mem = Checked { mem: SliceMemory { base, bytes: stack }, bounds };
    let mut out = [TextAddr(0); 32];
    if let Ok(k) = Powerpc::unwind_reliable(&regs, bounds, &mem, &PowerpcText, &mut out[..n]) {
        assert!(k >= 1 && k <= n);
    }
});

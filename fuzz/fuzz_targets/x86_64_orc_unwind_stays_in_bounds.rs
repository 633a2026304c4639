//! x86_64 ORC: the reliable ORC walk over arbitrary tables (entries of any
//! bytes at any offsets of a text window), a lookup table built from them
//! and then possibly corrupted, and arbitrary stack memory, registers and
//! bounds terminates, never reads outside the bounds, and returns at most
//! as many frames as the buffer holds; `VmlinuxOrc::check` and `find`
//! never panic on what they are handed.
#![no_main]

use graft_core::{MemError, SliceMemory, StackAddr, StackBounds, StackReader, TextAddr};
use graft_fuzz_input::orc::{self, OrcInput, TEXT, TEXT_LEN};
use graft_fuzz_input::unwind::X86_64Text;
use graft_x86_64::orc::{build_lookup, lookup_words, NoModules, Orc, OrcEntry, OrcTable, VmlinuxOrc};
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;

/// Where `.orc_unwind_ip` sits (its words are relative to their own address).
const IP_ADDR: u64 = TEXT + 0x200_0000;

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
    let Some(OrcInput { rows, lookup_patch, unwind }) = orc::decode(data) else { return };
    // A first entry at _stext, as objtool's tables have; then the rows,
    // sorted (stable) as sorttable leaves them.
    let mut rows: Vec<(u64, [u8; 6])> = rows.iter().map(|&(o, e)| (TEXT + u64::from(o), e)).collect();
    rows.insert(0, (TEXT, OrcEntry { sp_offset: 8, sp_reg: 3, kind: 2, ..OrcEntry::default() }.encode()));
    rows.sort_by_key(|r| r.0);
    let mut ip = Vec::new();
    let mut un = Vec::new();
    for (i, (a, e)) in rows.iter().enumerate() {
        ip.extend((a.wrapping_sub(IP_ADDR + 4 * i as u64) as i32).to_le_bytes());
        un.extend(e);
    }
    let table = OrcTable::new(IP_ADDR, &ip, &un).expect("sizes agree");
    let text = (TEXT, TEXT + TEXT_LEN);
    let mut lookup = vec![0u8; 4 * lookup_words(text)];
    build_lookup(&table, text, &mut lookup).expect("the first entry covers _stext");
    let built = VmlinuxOrc { table, lookup: &lookup, text, init_text: (0, 0) };
    assert!(built.check().is_ok(), "a built lookup table checks");
    if let Some((i, w)) = lookup_patch {
        let i = usize::from(i) % (lookup.len() / 4);
        lookup[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    let vm = VmlinuxOrc { table, lookup: &lookup, text, init_text: (0, 0) };
    let _ = vm.check();
    let orc = Orc { vmlinux: vm, modules: &NoModules, ret_from_fork: TextAddr(TEXT + 0x40) };

    let mem = Checked {
        mem: SliceMemory { base: unwind.base, bytes: unwind.stack },
        bounds: unwind.bounds,
        reads: Cell::new(0),
    };
    let mut out = vec![TextAddr(0); unwind.cap];
    if let Ok(n) = orc.unwind_reliable(&unwind.regs, unwind.bounds, &mem, &X86_64Text, &mut out) {
        assert!(n >= 1 && n <= unwind.cap);
    }
    // Every frame moves sp at least 8 bytes up a bounded stack and reads a
    // handful of words: bounded work.
    let span = unwind.bounds.hi.0.saturating_sub(unwind.bounds.lo.0);
    assert!(mem.reads.get() <= 8 * (span / 8 + 2), "{} reads", mem.reads.get());
});

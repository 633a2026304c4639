//! Bad input is a clear error, never a panic.

use graft_inspect::{sites, InspectError};

#[test]
fn not_elf() {
    assert!(matches!(sites(b"hello world"), Err(InspectError::Malformed(_))));
    assert!(matches!(sites(&[]), Err(InspectError::Malformed(_))));
}

#[test]
fn truncated_elf_header() {
    let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    h.resize(40, 0);
    assert!(matches!(sites(&h), Err(InspectError::Malformed(_))));
}

#[test]
fn every_truncation_of_a_real_object_is_handled() {
    // The test binary itself is an x86_64 ELF; cutting it anywhere must give
    // an error or a report, never a panic.
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let head = &me[..me.len().min(1 << 16)];
    for cut in (0..head.len()).step_by(97) {
        let _ = sites(&head[..cut]);
    }
}

#[test]
fn unsupported_machine() {
    // A minimal ELF header of `machine`, little-endian, ET_REL.
    let header = |class: u8, machine: u16| {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = 1;
        h[6] = 1;
        h[16] = 1;
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h[20] = 1;
        if class == 2 {
            h[52] = 64;
            h[58] = 64;
        } else {
            h[40] = 52;
            h[46] = 40;
        }
        h
    };
    // EM_LOONGARCH (258), and EM_RISCV (243) as 32-bit: riscv32 is not
    // graft's riscv (riscv64 only).
    for (class, machine, name) in [(2, 258, "LoongArch64"), (1, 243, "Riscv32")] {
        match sites(&header(class, machine)) {
            Err(InspectError::UnsupportedArch(m)) => assert!(m.contains(name), "{m}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // EM_RISCV as 64-bit is read (an object with nothing in it).
    let r = sites(&header(2, 243)).unwrap();
    assert_eq!((r.arch, r.functions.len(), r.records), ("riscv", 0, 0));
}

//! Unwinder throughput: frames per second over synthetic kernel stacks.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use graft_core::{TextAddr, TextInfo, TextKind, Unwinder};
use graft_x86_64::{testing::KernelStack, X86_64};
use std::hint::black_box;

const TEXT: u64 = 0xffff_ffff_8100_0000;
const BASE: u64 = 0xffff_c900_0000_0000;

struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        if (TEXT..TEXT + 0x100_0000).contains(&a.0) {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

fn unwind(c: &mut Criterion) {
    let mut g = c.benchmark_group("x86_64-unwind");
    for depth in [8u64, 32, 100] {
        let mut buf = vec![0u8; 16 * 1024];
        let mut s = KernelStack::new(&mut buf, BASE, true);
        s.entry(TEXT + 0x10);
        for i in 0..depth - 2 {
            s.call(TEXT + 0x100 + i * 0x40, 8 * (i % 4));
        }
        let regs = s.switch_out(TEXT + 0x8000, 16);
        let (bounds, mem) = (s.bounds(), s.memory());
        let mut out = vec![TextAddr(0); depth as usize];
        let n = X86_64::unwind_reliable(&regs, bounds, &mem, &Text, &mut out).expect("reliable");
        assert_eq!(n as u64, depth);
        g.throughput(Throughput::Elements(depth));
        g.bench_with_input(BenchmarkId::from_parameter(depth), &depth, |b, _| {
            b.iter(|| X86_64::unwind_reliable(black_box(&regs), bounds, &mem, &Text, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, unwind);
criterion_main!(benches);

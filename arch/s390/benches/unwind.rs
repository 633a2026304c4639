//! Unwinder throughput: frames per second over synthetic kernel stacks.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use graft_core::{TextAddr, TextInfo, TextKind, Unwinder};
use graft_s390::testing::StackBuilder;
use graft_s390::S390;
use std::hint::black_box;

/// Kernel text is one range, as `__kernel_text_address()` sees a small kernel.
struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        if (0x10_0000..0x200_0000).contains(&a.0) {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("s390_unwind_reliable");
    // 16 KiB is the kernel's THREAD_SIZE without KASAN; the deeper ones are
    // larger stacks holding more 160-byte frames.
    for (stack_size, depth) in [(16 << 10, 96usize), (64 << 10, 400), (256 << 10, 1600)] {
        let mut buf = vec![0u8; stack_size];
        let mut b = StackBuilder::kernel(&mut buf, 0x3_0000_0000);
        let top = b.final_frame().0;
        let frames: Vec<u64> = (0..depth as u64).rev().map(|i| top - i * 160).collect();
        let rets: Vec<u64> = (0..depth as u64).map(|i| 0x10_0000 + i * 0x40 + 0x1a).collect();
        let regs = b.task(&frames, &rets);
        let (bounds, mem) = (b.bounds(), b.memory());
        let mut out = vec![TextAddr(0); depth];
        assert_eq!(S390::unwind_reliable(&regs, bounds, &mem, &Text, &mut out), Ok(depth));
        g.throughput(Throughput::Elements(depth as u64));
        g.bench_with_input(BenchmarkId::from_parameter(depth), &depth, |bch, _| {
            bch.iter(|| S390::unwind_reliable(black_box(&regs), bounds, &mem, &Text, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

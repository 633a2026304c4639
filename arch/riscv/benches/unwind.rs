//! Reliable-unwind throughput (frames per second) over a synthetic deep
//! kernel stack laid out by `graft_riscv::testing`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use graft_core::{SliceMemory, TextAddr, TextInfo, TextKind, Unwinder};
use graft_riscv::{testing::StackBuilder, Riscv};

struct KernelText;
impl TextInfo for KernelText {
    fn kind(&self, a: TextAddr) -> TextKind {
        if (0xffff_ffff_8000_0000..0xffff_ffff_9000_0000).contains(&a.0) {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("riscv_unwind");
    for depth in [16usize, 64, 200] {
        // A 16 KiB THREAD_SIZE stack (THREAD_SIZE_ORDER 2 on riscv64) with 48-byte frames.
        let mut stack = vec![0u8; 16 * 1024];
        let base = 0xffff_ffc6_0040_0000u64;
        let pcs: Vec<TextAddr> = (0..depth as u64).map(|i| TextAddr(0xffff_ffff_8001_0000 + i * 0x104)).collect();
        let (regs, bounds) = StackBuilder::new(&mut stack, base).task(&pcs, 48);
        let mem = SliceMemory { base, bytes: &stack };
        let mut out = vec![TextAddr(0); 256];
        g.throughput(Throughput::Elements(depth as u64));
        g.bench_function(format!("depth{depth}"), |b| {
            b.iter(|| {
                let n = Riscv::unwind_reliable(black_box(&regs), bounds, &mem, &KernelText, &mut out).unwrap();
                assert_eq!(n, depth);
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

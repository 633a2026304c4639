//! Reliable-unwind throughput over a deep synthetic kernel stack.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use graft_core::{SliceMemory, TextAddr, TextInfo, TextKind, Unwinder};
use graft_powerpc::{testing::StackBuilder, Powerpc};

struct AllText;
impl TextInfo for AllText {
    fn kind(&self, _: TextAddr) -> TextKind {
        TextKind::Kernel
    }
}

fn unwind(c: &mut Criterion) {
    const FRAMES: u64 = 200;
    let base = 0xc000_0000_0400_0000;
    let mut stack = vec![0u8; 64 * 1024];
    let mut b = StackBuilder::kthread(&mut stack, base);
    for i in 0..FRAMES {
        b.call(112 + (i % 4) * 16, 0xc000_0000_0001_0000 + i * 0x40);
    }
    let (regs, bounds) = (b.regs(0xc000_0000_0000_1000), b.bounds());
    let mem = SliceMemory { base, bytes: b.mem() };
    let mut out = [TextAddr(0); 256];
    let n = Powerpc::unwind_reliable(&regs, bounds, &mem, &AllText, &mut out).expect("reliable");
    assert_eq!(n as u64, FRAMES);

    let mut g = c.benchmark_group("powerpc");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("unwind_reliable", |bch| {
        bch.iter(|| Powerpc::unwind_reliable(black_box(&regs), bounds, &mem, &AllText, &mut out))
    });
    g.finish();
}

criterion_group!(benches, unwind);
criterion_main!(benches);

//! A whole transition of 10,000 simulated tasks (every stack walked by the
//! arch's reliable unwinder) per arch; the target is under 50 ms of host time.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use graft_core::*;
use graft_sim::{text, Machine, SimArch};

fn transition<A: SimArch>(c: &mut Criterion) {
    let t = A::TEXT;
    let funcs: &'static [ResolvedFunc] = Box::leak(Box::new([ResolvedFunc {
        old: TextAddr(t + text::OLD_A),
        old_size: text::OLD_SIZE,
        new: TextAddr(t + text::NEW),
        new_size: text::NEW_SIZE,
    }]));
    let mut m = Machine::<A>::new(10_000);
    let text_info = m.text();
    let mut g = c.benchmark_group("transition_10k_tasks");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function(A::NAME, |b| {
        b.iter_batched_ref(
            || (vec![None; 16], vec![None; 4], vec![(TextAddr(0), 0); 4]),
            |(slots, patches, ranges)| {
                let mut e = Engine::new(slots, patches, ranges);
                e.register(PatchId(1), funcs, false).unwrap();
                e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
                let mut scratch = [TextAddr(0); 64];
                let p = e
                    .pass(&ArchUnwinder::<A>::NEW, &mut m, &text_info, &mut scratch, &mut NoHooks, &mut |_, _| {})
                    .unwrap();
                assert!(p.done());
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    transition::<graft_x86_64::X86_64>(c);
    transition::<graft_arm64::Arm64>(c);
    transition::<graft_powerpc::Powerpc>(c);
    transition::<graft_s390::S390>(c);
    transition::<graft_riscv::Riscv>(c);
}

criterion_group!(benches, all);
criterion_main!(benches);

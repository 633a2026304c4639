//! The transition model over 10,000 simulated tasks per arch, each stack laid
//! out with that arch's real kernel frame layout and walked by its real
//! reliable unwinder.

use graft_core::*;
use graft_sim::{text, Machine, SimArch};

const TASKS: usize = 10_000;

fn funcs<A: SimArch>() -> ([ResolvedFunc; 2], [ResolvedFunc; 1]) {
    let t = A::TEXT;
    let f = |old: u64, new: u64| ResolvedFunc {
        old: TextAddr(t + old),
        old_size: text::OLD_SIZE,
        new: TextAddr(t + new),
        new_size: text::NEW_SIZE,
    };
    ([f(text::OLD_A, text::NEW), f(text::OLD_B, text::NEW + 0x100)], [f(text::OLD_A, text::NEW + 0x800)])
}

struct Store {
    slots: Vec<Option<FuncEntry>>,
    patches: Vec<Option<PatchRec<'static>>>,
    ranges: Vec<(TextAddr, u64)>,
}
impl Store {
    fn new() -> Self {
        Store { slots: vec![None; 64], patches: vec![None; 8], ranges: vec![(TextAddr(0), 0); 16] }
    }
}

/// Run passes until done (at most `max`), collecting blockers of the last pass.
fn settle<A: SimArch>(e: &mut Engine<'_, '_>, m: &mut Machine<A>, max: usize) -> (Progress, Vec<(usize, Blocker)>) {
    let text = m.text();
    let mut scratch = [TextAddr(0); 64];
    let mut last = (Progress { switched: 0, remaining: 0 }, Vec::new());
    for _ in 0..max {
        let mut why = Vec::new();
        let Some(p) =
            e.pass(&ArchUnwinder::<A>::NEW, m, &text, &mut scratch, &mut NoHooks, &mut |i, b| why.push((i, b)))
        else {
            break;
        };
        last = (p, why);
        if p.done() {
            break;
        }
    }
    last
}

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

fn enable_blocks_and_completes<A: SimArch>() {
    let (p1, _) = funcs::<A>();
    let p1 = leak(p1);
    let mut s = Store::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = Machine::<A>::new(TASKS);
    // One task sleeps inside OLD_B (a changed function), three are running.
    m.set_chain(4242, &Machine::<A>::chain_through(text::OLD_B));
    for i in [1, 500, 9999] {
        m.set_running(i, true);
    }
    e.register(PatchId(1), p1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let (p, why) = settle(&mut e, &mut m, 1);
    assert_eq!(p.switched, TASKS - 4, "{}: every idle task switches in one pass", A::NAME);
    assert_eq!(p.remaining, 4);
    let blocked: Vec<_> = why.iter().filter(|(_, b)| matches!(b, Blocker::OnStack { .. })).collect();
    assert_eq!(blocked.len(), 1, "{}: {why:?}", A::NAME);
    assert_eq!(blocked[0].0, 4242);
    assert!(matches!(blocked[0].1, Blocker::OnStack { func, .. } if func == TextAddr(A::TEXT + text::OLD_B)));
    assert_eq!(why.iter().filter(|(_, b)| *b == Blocker::Running).count(), 3);
    // The patched function's callers: a switched task runs the new code, the
    // straggler the old one.
    assert_eq!(e.resolve(TextAddr(A::TEXT + text::OLD_B), PatchState::Unpatched), Target::Original);
    for i in [1, 500, 9999] {
        m.set_running(i, false);
    }
    let (p, _) = settle(&mut e, &mut m, 1);
    assert_eq!((p.switched, p.remaining), (3, 1), "{}: the sleeper still holds it", A::NAME);
    m.set_chain(4242, &Machine::<A>::idle_chain());
    let (p, _) = settle(&mut e, &mut m, 1);
    assert!(p.done());
    assert!(e.transition().is_none());
    assert_eq!(m.count(PatchState::Patched), TASKS);
}

fn corrupt_stack_blocks<A: SimArch>() {
    let (p1, _) = funcs::<A>();
    let p1 = leak(p1);
    let mut s = Store::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = Machine::<A>::new(100);
    // A return address outside kernel text: the stack cannot be proven.
    let mut chain = Machine::<A>::idle_chain();
    chain[2] = 0x1000;
    m.set_chain(7, &chain);
    e.register(PatchId(1), p1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let (p, why) = settle(&mut e, &mut m, 2);
    assert_eq!(p.remaining, 1);
    assert!(matches!(why[0], (7, Blocker::Unreliable(_))), "{}: {why:?}", A::NAME);
}

fn reverse_and_force<A: SimArch>() {
    let (p1, _) = funcs::<A>();
    let p1 = leak(p1);
    let mut s = Store::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = Machine::<A>::new(TASKS);
    m.set_chain(10, &Machine::<A>::chain_through(text::OLD_A));
    e.register(PatchId(1), p1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(settle(&mut e, &mut m, 1).0.remaining, 1);
    // A switched task now sleeps in the new code: reversing must wait for it.
    m.set_chain(20, &Machine::<A>::chain_through(text::NEW));
    e.reverse(&mut NoHooks).unwrap();
    let (p, why) = settle(&mut e, &mut m, 1);
    assert_eq!(p.remaining, 1, "{}", A::NAME);
    assert_eq!(why[0].0, 20);
    assert_eq!(p.switched, TASKS - 2, "every other switched task switched back");
    // Force: the one-way door.
    e.force(&mut m, &mut NoHooks).unwrap();
    assert_eq!(m.count(PatchState::Unpatched), TASKS);
    assert_eq!(e.unregister(PatchId(1)), Err(EngineError::Forced));
}

fn stack_and_replace<A: SimArch>() {
    let (p1, p2) = funcs::<A>();
    let (p1, p2) = (leak(p1), leak(p2));
    let mut s = Store::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = Machine::<A>::new(TASKS);
    let a = TextAddr(A::TEXT + text::OLD_A);
    let b = TextAddr(A::TEXT + text::OLD_B);
    e.register(PatchId(1), p1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(settle(&mut e, &mut m, 2).0.done());
    // P2 stacks on A; a task sleeping in P1's version of A holds it.
    m.set_chain(99, &Machine::<A>::chain_through(text::NEW));
    e.register(PatchId(2), p2, false).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert_eq!(settle(&mut e, &mut m, 1).0.remaining, 1);
    m.set_chain(99, &Machine::<A>::idle_chain());
    assert!(settle(&mut e, &mut m, 1).0.done());
    assert_eq!(e.resolve(a, PatchState::Patched), Target::New(TextAddr(A::TEXT + text::NEW + 0x800)));
    assert_eq!(e.resolve(b, PatchState::Patched), Target::New(TextAddr(A::TEXT + text::NEW + 0x100)));
    // A cumulative patch replacing both: B reverts to the original.
    let p3 = leak([p2[0]]);
    e.register(PatchId(3), p3, true).unwrap();
    e.enable(PatchId(3), &mut m, &mut NoHooks).unwrap();
    assert!(settle(&mut e, &mut m, 2).0.done());
    assert_eq!(e.resolve(b, PatchState::Patched), Target::Original);
    assert!(!e.rec(PatchId(1)).unwrap().enabled && !e.rec(PatchId(2)).unwrap().enabled);
}

fn new_tasks_start_in_target<A: SimArch>() {
    let (p1, _) = funcs::<A>();
    let p1 = leak(p1);
    let mut s = Store::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = Machine::<A>::new(1000);
    m.set_chain(0, &Machine::<A>::chain_through(text::OLD_A));
    e.register(PatchId(1), p1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    settle(&mut e, &mut m, 1);
    for _ in 0..100 {
        let st = e.transition().unwrap().state_for_new_task();
        m.spawn(st);
    }
    let (p, _) = settle(&mut e, &mut m, 1);
    assert_eq!((p.switched, p.remaining), (0, 1), "{}: forked tasks needed no switch", A::NAME);
}

macro_rules! per_arch {
    ($($arch:ident: $t:ty),*) => {$(
        mod $arch {
            #[test] fn enable_blocks_and_completes() { super::enable_blocks_and_completes::<$t>() }
            #[test] fn corrupt_stack_blocks() { super::corrupt_stack_blocks::<$t>() }
            #[test] fn reverse_and_force() { super::reverse_and_force::<$t>() }
            #[test] fn stack_and_replace() { super::stack_and_replace::<$t>() }
            #[test] fn new_tasks_start_in_target() { super::new_tasks_start_in_target::<$t>() }
        }
    )*};
}
per_arch!(
    x86_64: graft_x86_64::X86_64,
    arm64: graft_arm64::Arm64,
    powerpc: graft_powerpc::Powerpc,
    s390: graft_s390::S390,
    riscv: graft_riscv::Riscv
);

//! Engine semantics against a small machine whose "stacks" are plain lists of
//! return addresses (the per-arch frame layouts are exercised by tests/sim).

use graft_core::*;

/// A toy arch whose unwinder reads a word list: [count, pc1, pc2, ...] at sp.
enum Toy {}
impl Arch for Toy {
    const NAME: &'static str = "toy";
    const ENDIAN: Endian = Endian::Little;
    const INSN_ALIGN: u64 = 1;
    const SITE_LEN: usize = 1;
    const ELF_MACHINE: u16 = 0;
}
impl Unwinder for Toy {
    fn final_frame(hi: StackAddr) -> StackAddr {
        hi
    }
    fn interrupted_pc(_: u64, _: StackBounds, _: &dyn StackReader) -> Option<u64> {
        None
    }
    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        let n = mem.read_u64(StackAddr(regs.sp), Endian::Little).map_err(|_| Unreliable::Fault(regs.sp))? as usize;
        if n > out.len() {
            return Err(Unreliable::TooManyFrames);
        }
        for (i, slot) in out[..n].iter_mut().enumerate() {
            let a = regs.sp + 8 + 8 * i as u64;
            if !bounds.contains(a, 8) {
                return Err(Unreliable::OutOfBounds(a));
            }
            let pc = mem.read_u64(StackAddr(a), Endian::Little).map_err(|_| Unreliable::Fault(a))?;
            if text.kind(TextAddr(pc)) != TextKind::Kernel {
                return Err(Unreliable::NotText(pc));
            }
            *slot = TextAddr(pc);
        }
        Ok(n)
    }
}

struct AllText;
impl TextInfo for AllText {
    fn kind(&self, a: TextAddr) -> TextKind {
        if a.0 == 0xdead {
            TextKind::NotText
        } else {
            TextKind::Kernel
        }
    }
}

#[derive(Clone)]
struct Task {
    state: PatchState,
    running: bool,
    stack: Vec<u8>,
}

const STACK_BASE: u64 = 0x10_0000;

fn task(pcs: &[u64]) -> Task {
    let mut stack = (pcs.len() as u64).to_le_bytes().to_vec();
    for p in pcs {
        stack.extend_from_slice(&p.to_le_bytes());
    }
    Task { state: PatchState::Unpatched, running: false, stack }
}

// A per-task reader is what a real environment hands out; the machine above
// shares one address range, so wrap each task.
struct Env {
    tasks: Vec<Task>,
}
impl TaskEnv for Env {
    fn len(&self) -> usize {
        self.tasks.len()
    }
    fn state(&self, i: usize) -> PatchState {
        self.tasks[i].state
    }
    fn set_state(&mut self, i: usize, s: PatchState) {
        self.tasks[i].state = s;
    }
    fn view(&self, i: usize) -> TaskView<'_> {
        let t = &self.tasks[i];
        if t.running {
            return TaskView::Running;
        }
        TaskView::Sleeping {
            regs: SavedRegs { sp: STACK_BASE, ..Default::default() },
            bounds: StackBounds {
                lo: StackAddr(STACK_BASE),
                hi: StackAddr(STACK_BASE + t.stack.len() as u64),
                final_frame: StackAddr(0),
            },
            mem: t,
        }
    }
}
impl StackReader for Task {
    fn read(&self, a: StackAddr, b: &mut [u8]) -> Result<(), MemError> {
        SliceMemory { base: STACK_BASE, bytes: &self.stack }.read(a, b)
    }
}

const OLD_A: u64 = 0x1000;
const OLD_B: u64 = 0x2000;
const NEW1_A: u64 = 0x9000;
const NEW1_B: u64 = 0x9100;
const NEW2_A: u64 = 0xa000;

static P1: [ResolvedFunc; 2] = [
    ResolvedFunc { old: TextAddr(OLD_A), old_size: 0x100, new: TextAddr(NEW1_A), new_size: 0x80 },
    ResolvedFunc { old: TextAddr(OLD_B), old_size: 0x100, new: TextAddr(NEW1_B), new_size: 0x80 },
];
static P2: [ResolvedFunc; 1] =
    [ResolvedFunc { old: TextAddr(OLD_A), old_size: 0x100, new: TextAddr(NEW2_A), new_size: 0x80 }];

fn env(n: usize) -> Env {
    Env { tasks: (0..n).map(|_| task(&[0x500, 0x600])).collect() }
}

struct Storage {
    slots: [Option<FuncEntry>; 32],
    patches: [Option<PatchRec<'static>>; 4],
    ranges: [(TextAddr, u64); 8],
}
impl Storage {
    fn new() -> Self {
        Storage { slots: [None; 32], patches: [None; 4], ranges: [(TextAddr(0), 0); 8] }
    }
}

fn run<E: TaskEnv>(e: &mut Engine<'_, '_>, env: &mut E, hooks: &mut dyn Hooks) -> Option<Progress> {
    let mut scratch = [TextAddr(0); 64];
    e.pass(&ArchUnwinder::<Toy>::NEW, env, &AllText, &mut scratch, hooks, &mut |_, _| {})
}

#[test]
fn enable_switches_idle_tasks_and_redirects() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(100);
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    // Mid-transition: unswitched tasks still run the original.
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Unpatched), Target::Original);
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW1_A)));
    let p = run(&mut e, &mut m, &mut NoHooks).unwrap();
    assert!(p.done());
    assert_eq!(p.switched, 100);
    assert!(e.transition().is_none());
    // Patched: every task runs the new version.
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Unpatched), Target::New(TextAddr(NEW1_A)));
}

#[test]
fn sleeping_in_old_function_blocks_until_it_leaves() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(10);
    m.tasks[3].stack = task(&[0x500, OLD_B + 0x10, 0x600]).stack;
    m.tasks[4].running = true;
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let mut why = Vec::new();
    let mut scratch = [TextAddr(0); 64];
    let p = e
        .pass(&ArchUnwinder::<Toy>::NEW, &mut m, &AllText, &mut scratch, &mut NoHooks, &mut |i, b| why.push((i, b)))
        .unwrap();
    assert_eq!(p.remaining, 2);
    assert_eq!(why[0], (3, Blocker::OnStack { func: TextAddr(OLD_B), frame: 1 }));
    assert_eq!(why[1], (4, Blocker::Running));
    // Another patch cannot start meanwhile.
    e.register(PatchId(2), &P2, false).unwrap();
    assert_eq!(e.enable(PatchId(2), &mut m, &mut NoHooks), Err(EngineError::Busy));
    m.tasks[3].stack = task(&[0x500]).stack;
    m.tasks[4].running = false;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
}

#[test]
fn unreliable_stack_blocks() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    m.tasks[1].stack = task(&[0x500, 0xdead]).stack;
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let mut why = None;
    let mut scratch = [TextAddr(0); 64];
    e.pass(&ArchUnwinder::<Toy>::NEW, &mut m, &AllText, &mut scratch, &mut NoHooks, &mut |i, b| why = Some((i, b)));
    assert_eq!(why, Some((1, Blocker::Unreliable(Unreliable::NotText(0xdead)))));
}

#[test]
fn reverse_mid_transition_checks_the_new_code() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(3);
    m.tasks[0].stack = task(&[OLD_A + 4]).stack; // blocks patching
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(run(&mut e, &mut m, &mut NoHooks).unwrap().remaining, 1);
    // Task 1 switched and now sleeps in the new code: reversing must wait for it.
    m.tasks[1].stack = task(&[NEW1_A + 4]).stack;
    e.reverse(&mut NoHooks).unwrap();
    assert_eq!(e.changed_ranges(), &[(TextAddr(NEW1_A), 0x80), (TextAddr(NEW1_B), 0x80)]);
    let p = run(&mut e, &mut m, &mut NoHooks).unwrap();
    assert_eq!(p.remaining, 1, "task 1 is in the new code: {p:?}");
    m.tasks[1].stack = task(&[0x500]).stack;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert!(!e.rec(PatchId(1)).unwrap().enabled);
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::Original);
}

#[test]
fn disable_clears_enabled_at_once_and_reverse_restores_it() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(3);
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    // Task 2 sleeps in the new code: the way back waits for it.
    m.tasks[2].stack = task(&[NEW1_A + 4]).stack;
    e.disable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(!e.rec(PatchId(1)).unwrap().enabled, "upstream: enabled reads 0 from the start of a disable");
    assert_eq!(run(&mut e, &mut m, &mut NoHooks).unwrap().remaining, 1);
    e.reverse(&mut NoHooks).unwrap();
    assert!(e.rec(PatchId(1)).unwrap().enabled);
    // Back to patched: task 2 never left it, so nothing waits.
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW1_A)));
}

#[test]
fn force_is_a_one_way_door() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(3);
    m.tasks[2].stack = task(&[OLD_A + 4]).stack;
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(!run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    e.force(&mut m, &mut NoHooks).unwrap();
    assert!(e.transition().is_none());
    assert!((0..3).all(|i| m.state(i) == PatchState::Patched));
    e.disable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    m.tasks[2].stack = task(&[0x500]).stack;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.unregister(PatchId(1)), Err(EngineError::Forced));
}

#[test]
fn stacking_newest_wins_and_disabling_top_restores_below() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(5);
    e.register(PatchId(1), &P1, false).unwrap();
    e.register(PatchId(2), &P2, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    // While P2 transitions, an unswitched task runs P1's version.
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Unpatched), Target::New(TextAddr(NEW1_A)));
    assert_eq!(e.changed_ranges(), &[(TextAddr(NEW1_A), 0x80)], "leaving P1's version of A");
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW2_A)));
    assert_eq!(e.resolve(TextAddr(OLD_B), PatchState::Patched), Target::New(TextAddr(NEW1_B)));
    assert_eq!((e.stack_order(PatchId(1)), e.stack_order(PatchId(2))), (Some(1), Some(2)));
    e.disable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW1_A)));
    e.unregister(PatchId(2)).unwrap();
    assert_eq!(e.unregister(PatchId(1)), Err(EngineError::Busy), "enabled patches stay");
}

#[test]
fn stack_order_is_registration_order_after_unregister() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    e.register(PatchId(1), &P1, false).unwrap();
    e.register(PatchId(2), &P2, false).unwrap();
    e.unregister(PatchId(1)).unwrap();
    e.register(PatchId(3), &P1, false).unwrap();
    // Upstream appends to klp_patches: the newest is last.
    assert_eq!((e.stack_order(PatchId(2)), e.stack_order(PatchId(3))), (Some(1), Some(2)));
    assert_eq!(e.stack_order(PatchId(1)), None);
}

#[test]
fn atomic_replace_reverts_dropped_functions() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(5);
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    // P2 replaces P1: A gets P2's version, B (dropped) reverts to the original.
    e.register(PatchId(2), &P2, true).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.resolve(TextAddr(OLD_B), PatchState::Patched), Target::Original, "NOP entry");
    assert_eq!(e.resolve(TextAddr(OLD_B), PatchState::Unpatched), Target::New(TextAddr(NEW1_B)));
    run(&mut e, &mut m, &mut NoHooks);
    assert!(!e.rec(PatchId(1)).unwrap().enabled, "replaced");
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW2_A)));
    assert_eq!(e.resolve(TextAddr(OLD_B), PatchState::Patched), Target::Original);
    assert!(!e.stacks().is_patched(TextAddr(OLD_B)), "NOPs discarded");
    e.unregister(PatchId(1)).unwrap();
}

#[derive(Default)]
struct Log(Vec<&'static str>, Option<i32>);
impl Hooks for Log {
    fn pre_patch(&mut self, _: PatchId) -> Result<(), i32> {
        self.0.push("pre_patch");
        self.1.map_or(Ok(()), Err)
    }
    fn post_patch(&mut self, _: PatchId) {
        self.0.push("post_patch");
    }
    fn pre_unpatch(&mut self, _: PatchId) {
        self.0.push("pre_unpatch");
    }
    fn post_unpatch(&mut self, _: PatchId) {
        self.0.push("post_unpatch");
    }
}

#[test]
fn callbacks_run_in_order_and_failing_pre_patch_cancels() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    // The callback's own code comes back unchanged (kmod turns it into the errno).
    let mut log = Log(Vec::new(), Some(-19));
    e.register(PatchId(1), &P1, false).unwrap();
    assert_eq!(e.enable(PatchId(1), &mut m, &mut log), Err(EngineError::Callback(-19)));
    assert!(e.transition().is_none() && !e.stacks().is_patched(TextAddr(OLD_A)));
    log.1 = None;
    e.enable(PatchId(1), &mut m, &mut log).unwrap();
    run(&mut e, &mut m, &mut log);
    e.disable(PatchId(1), &mut m, &mut log).unwrap();
    run(&mut e, &mut m, &mut log);
    assert_eq!(log.0, ["pre_patch", "pre_patch", "post_patch", "pre_unpatch", "post_unpatch"]);
}

#[test]
fn new_tasks_start_in_target_state() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    m.tasks[0].stack = task(&[OLD_A + 1]).stack;
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let st = e.transition().unwrap().state_for_new_task();
    let mut t = task(&[0x500]);
    t.state = st;
    m.tasks.push(t);
    let p = run(&mut e, &mut m, &mut NoHooks).unwrap();
    assert_eq!((p.switched, p.remaining), (1, 1), "the new task needed no switch");
}

#[test]
fn patch_declarations_are_validated() {
    static F: [Func<'static>; 2] = [Func::new("a", TextAddr(1)), Func::new("a", TextAddr(2))];
    static O: [Object<'static>; 1] = [Object::vmlinux(&F)];
    assert_eq!(Patch::new("p", &O).validate(), Err(PatchError::DuplicateFunc));
    static G: [Func<'static>; 2] = [Func::new("a", TextAddr(1)), Func::new("a", TextAddr(2)).sympos(2)];
    static O2: [Object<'static>; 2] = [Object::vmlinux(&G), Object::module("m", &G)];
    assert_eq!(Patch::new("p", &O2).validate(), Ok(()));
    static O3: [Object<'static>; 2] = [Object::module("m", &G), Object::module("m", &G)];
    assert_eq!(Patch::new("p", &O3).validate(), Err(PatchError::DuplicateObject));
    static N: [Func<'static>; 1] = [Func::new("a", TextAddr(0))];
    static O4: [Object<'static>; 1] = [Object::vmlinux(&N)];
    assert_eq!(Patch::new("p", &O4).validate(), Err(PatchError::NullFunc));
    assert_eq!(Patch::new("", &O2).validate(), Err(PatchError::Empty));
    let s1 = [State { id: 1, version: 2 }];
    let p = Patch::new("p", &O2).replace(true).states(&s1);
    assert!(p.compatible_with(&[State { id: 1, version: 1 }]));
    assert!(!p.compatible_with(&[State { id: 1, version: 3 }]));
    assert!(!p.compatible_with(&[State { id: 7, version: 1 }]), "replace must keep every state");
}

#[test]
fn shadow_variables() {
    use graft_core::shadow::*;
    let mut slots = [ShadowSlot::default(); 4];
    let mut data = [0u8; 64];
    let mut sh = ShadowArena::new(&mut slots, &mut data);
    let mut ctor = |d: &mut [u8]| {
        d[0] = 42;
        Ok(())
    };
    assert_eq!(sh.alloc(0x1000, 1, 8, Some(&mut ctor)).unwrap()[0], 42);
    assert_eq!(sh.alloc(0x1000, 1, 8, None), Err(ShadowError::Exists));
    assert_eq!(sh.get_or_alloc(0x1000, 1, 8, None).unwrap()[0], 42);
    let mut bad = |_: &mut [u8]| Err(-12);
    assert_eq!(sh.alloc(0x2000, 1, 8, Some(&mut bad)), Err(ShadowError::Ctor(-12)));
    sh.alloc(0x2000, 1, 8, None).unwrap();
    sh.alloc(0x2000, 2, 8, None).unwrap();
    assert_eq!(sh.alloc(0x3000, 2, 32, None), Err(ShadowError::NoMemory), "stride is 16");
    let mut freed = 0;
    sh.free_all(1, Some(&mut |_: &mut [u8]| freed += 1));
    assert_eq!(freed, 2);
    assert!(sh.get(0x1000, 1).is_none());
    assert_eq!(sh.len(), 1);
    sh.free(0x2000, 2, None);
    assert!(sh.is_empty());
}

#[test]
fn plan_executor_applies_in_order_and_stops_at_failure() {
    struct W(Vec<u8>, Vec<String>, usize);
    impl TextWriter for W {
        fn read(&self, a: TextAddr, b: &mut [u8]) -> Result<(), MemError> {
            b.copy_from_slice(&self.0[a.0 as usize..a.0 as usize + b.len()]);
            Ok(())
        }
        fn write(&mut self, a: TextAddr, b: &[u8]) -> Result<(), MemError> {
            if self.1.len() == self.2 {
                return Err(MemError::Fault(a.0));
            }
            self.0[a.0 as usize..a.0 as usize + b.len()].copy_from_slice(b);
            self.1.push(format!("w{}", a.0));
            Ok(())
        }
        fn sync(&mut self, _: SyncKind) -> Result<(), MemError> {
            self.1.push("s".into());
            Ok(())
        }
    }
    let mut p = Plan::new();
    p.write(TextAddr(0), &[0xcc]).unwrap();
    p.sync(SyncKind::SyncCores).unwrap();
    p.write(TextAddr(1), &[1, 2, 3, 4]).unwrap();
    p.sync(SyncKind::SyncCores).unwrap();
    p.write(TextAddr(0), &[0xe8]).unwrap();
    let mut img = [0u8; 5];
    p.final_image(TextAddr(0), &[0x0f, 0x1f, 0x44, 0, 0], &mut img);
    assert_eq!(img, [0xe8, 1, 2, 3, 4]);
    let mut w = W(vec![0; 5], vec![], usize::MAX);
    apply(&p, &mut w).unwrap();
    assert_eq!(w.0, img);
    assert_eq!(w.1, ["w0", "s", "w1", "s", "w0"]);
    let mut w = W(vec![0; 5], vec![], 2);
    assert_eq!(apply(&p, &mut w), Err((2, MemError::Fault(1))));
    for _ in 0..3 {
        p.sync(SyncKind::Serialize).unwrap();
    }
    assert_eq!(p.push(Step::Sync(SyncKind::Serialize)), Err(PlanError::TooLong));
}

#[test]
fn stragglers_are_retried_with_a_short_capped_backoff() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    m.tasks[0].stack = task(&[OLD_A + 4]).stack;
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let mut delays = Vec::new();
    for _ in 0..6 {
        delays.push(e.transition().unwrap().next_delay_ms());
        assert!(!run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    }
    assert_eq!(delays, [1, 2, 2, 2, 2, 2]);
    // A straggler that leaves switches on the very next pass.
    m.tasks[0].stack = task(&[0x500]).stack;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
}

/// An environment that cannot pin tasks: task `stale` ran patched code
/// between its view and its switch once, so its switch is refused once.
struct Unpinned {
    env: Env,
    stale: usize,
    refused: bool,
}
impl TaskEnv for Unpinned {
    fn len(&self) -> usize {
        self.env.len()
    }
    fn state(&self, i: usize) -> PatchState {
        self.env.state(i)
    }
    fn set_state(&mut self, i: usize, s: PatchState) {
        self.env.set_state(i, s)
    }
    fn view(&self, i: usize) -> TaskView<'_> {
        self.env.view(i)
    }
    fn switch(&mut self, i: usize, s: PatchState) -> bool {
        if i == self.stale && !self.refused {
            self.refused = true;
            return false;
        }
        self.env.set_state(i, s);
        true
    }
}

#[test]
fn a_refused_switch_keeps_the_task_and_the_transition() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = Unpinned { env: env(5), stale: 2, refused: false };
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let mut why = Vec::new();
    let mut scratch = [TextAddr(0); 64];
    let p = e
        .pass(&ArchUnwinder::<Toy>::NEW, &mut m, &AllText, &mut scratch, &mut NoHooks, &mut |i, b| why.push((i, b)))
        .unwrap();
    assert_eq!((p.switched, p.remaining), (4, 1));
    assert_eq!(why, [(2, Blocker::Running)]);
    assert_eq!(m.state(2), PatchState::Unpatched);
    assert!(e.transition().is_some(), "a refused switch must not complete the transition");
    let p = run(&mut e, &mut m, &mut NoHooks).unwrap();
    assert!(p.done());
    assert!(e.transition().is_none());
}

// Module objects: a function of a module that is not loaded is absent until
// its module comes (set_funcs), and goes with it.
const MOD_F: u64 = 0x3000;
const MOD_F2: u64 = 0x7000; // the same function after the module loaded again
const NEW1_M: u64 = 0x9200;
static PM_ABSENT: [ResolvedFunc; 2] = [
    ResolvedFunc { old: TextAddr(OLD_A), old_size: 0x100, new: TextAddr(NEW1_A), new_size: 0x80 },
    ResolvedFunc { old: TextAddr(0), old_size: 0, new: TextAddr(NEW1_M), new_size: 0x80 },
];
static PM_LOADED: [ResolvedFunc; 2] = [
    ResolvedFunc { old: TextAddr(OLD_A), old_size: 0x100, new: TextAddr(NEW1_A), new_size: 0x80 },
    ResolvedFunc { old: TextAddr(MOD_F), old_size: 0x100, new: TextAddr(NEW1_M), new_size: 0x80 },
];
static PM_RELOADED: [ResolvedFunc; 2] = [
    ResolvedFunc { old: TextAddr(OLD_A), old_size: 0x100, new: TextAddr(NEW1_A), new_size: 0x80 },
    ResolvedFunc { old: TextAddr(MOD_F2), old_size: 0x100, new: TextAddr(NEW1_M), new_size: 0x80 },
];

#[test]
fn deferred_module_object_is_patched_when_it_comes_and_unpatched_when_it_goes() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(4);
    e.register(PatchId(1), &PM_ABSENT, false).unwrap();
    e.set_funcs(PatchId(1), &PM_ABSENT).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    // Only the present function is pushed: the absent one has no entry.
    assert_eq!(e.stacks().entries().count(), 1);
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Patched), Target::Original);
    // The module comes: patched at once, for every task, no transition.
    e.set_funcs(PatchId(1), &PM_LOADED).unwrap();
    assert!(e.transition().is_none());
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Unpatched), Target::New(TextAddr(NEW1_M)));
    // It goes: its entry goes with it; vmlinux's stays.
    e.set_funcs(PatchId(1), &PM_ABSENT).unwrap();
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Patched), Target::Original);
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW1_A)));
    assert_eq!(e.stacks().entries().count(), 1);
    // It comes again, elsewhere: patched there.
    e.set_funcs(PatchId(1), &PM_RELOADED).unwrap();
    assert_eq!(e.resolve(TextAddr(MOD_F2), PatchState::Unpatched), Target::New(TextAddr(NEW1_M)));
    // Disabling unpatches both, and a module that goes while the patch is
    // disabled changes nothing on the stacks.
    e.disable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.stacks().entries().count(), 0);
    e.set_funcs(PatchId(1), &PM_ABSENT).unwrap();
    assert_eq!(e.stacks().entries().count(), 0);
    assert_eq!(e.rec(PatchId(1)).unwrap().present_funcs().count(), 1);
}

#[test]
fn module_coming_during_a_transition_joins_it_and_going_drops_its_ranges() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    // Task 0 sleeps in vmlinux's OLD_A: the transition to patched waits.
    m.tasks[0].stack = task(&[0x500, OLD_A + 0x10]).stack;
    e.register(PatchId(1), &PM_ABSENT, false).unwrap();
    e.set_funcs(PatchId(1), &PM_ABSENT).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(!run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    e.set_funcs(PatchId(1), &PM_LOADED).unwrap();
    // In the transition: an unswitched task runs the original, a switched
    // one the new code, as for every other function of the patch.
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Unpatched), Target::Original);
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Patched), Target::New(TextAddr(NEW1_M)));
    // From now on an unswitched task may run the module's original (the
    // module's init may call it), so stacks are checked against it too, as
    // upstream's klp_check_stack() walks every loaded object's functions.
    assert_eq!(e.changed_ranges(), &[(TextAddr(OLD_A), 0x100), (TextAddr(MOD_F), 0x100)]);
    m.tasks[0].stack = task(&[0x500]).stack;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Unpatched), Target::New(TextAddr(NEW1_M)));
    // Disable held by a task in the module's new code; the module goes
    // (it cannot in the kernel while a task runs its code, but its range
    // must leave the transition's set either way).
    m.tasks[1].stack = task(&[0x500, NEW1_A + 0x10]).stack;
    e.disable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.changed_ranges().len(), 2);
    e.set_funcs(PatchId(1), &PM_ABSENT).unwrap();
    assert_eq!(e.changed_ranges(), &[(TextAddr(NEW1_A), 0x80)]);
    m.tasks[1].stack = task(&[0x500]).stack;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.stacks().entries().count(), 0);
}

#[test]
fn module_coming_under_a_replace_transition_gets_its_nop() {
    static R: [ResolvedFunc; 1] =
        [ResolvedFunc { old: TextAddr(OLD_A), old_size: 0x100, new: TextAddr(NEW2_A), new_size: 0x80 }];
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(1);
    e.register(PatchId(1), &PM_ABSENT, false).unwrap();
    e.set_funcs(PatchId(1), &PM_ABSENT).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    e.register(PatchId(2), &R, true).unwrap();
    m.tasks[0].stack = task(&[0x500, NEW1_A + 0x10]).stack;
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert!(!run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    e.set_funcs(PatchId(1), &PM_LOADED).unwrap();
    // Patch 1's function, and the replace patch's NOP above it.
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Unpatched), Target::New(TextAddr(NEW1_M)));
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Patched), Target::Original);
    m.tasks[0].stack = task(&[0x500]).stack;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    // Replaced: the module's function runs the original for everyone.
    assert_eq!(e.resolve(TextAddr(MOD_F), PatchState::Unpatched), Target::Original);
    assert_eq!(e.stacks().entries().count(), 1);
}

#[test]
fn set_funcs_refuses_bad_input() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    assert_eq!(e.set_funcs(PatchId(9), &PM_ABSENT), Err(EngineError::Invalid));
    e.register(PatchId(1), &PM_ABSENT, false).unwrap();
    assert_eq!(e.set_funcs(PatchId(1), &P2), Err(EngineError::Invalid));
    assert_eq!(e.register(PatchId(1), &P1, false), Err(EngineError::Invalid), "an id registered twice");
}

// No fixed limits: storage is the caller's, sized by `room_for` and moved
// with `move_to`.

/// Storage of `room`'s size, leaked (tests only).
fn storage_of(room: Room) -> EngineStorage<'static, 'static> {
    EngineStorage {
        slots: Vec::leak(vec![None; room.slots]),
        patches: Vec::leak(vec![None; room.patches]),
        ranges: Vec::leak(vec![(TextAddr(0), 0); room.ranges]),
    }
}

fn funcs_of(n: usize, old_base: u64, new_base: u64) -> &'static [ResolvedFunc] {
    Vec::leak(
        (0..n as u64)
            .map(|i| ResolvedFunc {
                old: TextAddr(old_base + 0x100 * i),
                old_size: 0x100,
                new: TextAddr(new_base + 0x100 * i),
                new_size: 0x80,
            })
            .collect(),
    )
}

/// Grow the engine's storage to what one more patch of `n` functions
/// needs, as the kernel glue does at registration.
fn grow(e: &mut Engine<'static, 'static>, n: usize) {
    let need = e.room_for(n);
    if !e.room().covers(&need) {
        let old = e.move_to(storage_of(need)).expect("room_for is enough to move into");
        assert!(old.slots.iter().all(Option::is_none), "the old storage is left cleared");
    }
}

#[test]
fn thousand_functions_then_a_replace_dropping_half() {
    let mut e = Engine::new(&mut [], &mut [], &mut []);
    let mut m = env(8);
    let all = funcs_of(1000, 0x100_0000, 0x900_0000);
    grow(&mut e, all.len());
    e.register(PatchId(1), all, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.changed_ranges().len(), 1000);
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    for f in all {
        assert_eq!(e.resolve(f.old, PatchState::Unpatched), Target::New(f.new));
    }
    // A replace patch of the first 500: the other 500 get NOPs, then revert.
    let half = funcs_of(500, 0x100_0000, 0xa00_0000);
    grow(&mut e, half.len());
    e.register(PatchId(2), half, true).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.stacks().len(), 2000, "1000 + 500 entries + 500 NOPs");
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    for (i, f) in all.iter().enumerate() {
        let want = if i < 500 { Target::New(half[i].new) } else { Target::Original };
        assert_eq!(e.resolve(f.old, PatchState::Patched), want);
    }
    assert!(!e.rec(PatchId(1)).unwrap().enabled, "replaced");
    assert_eq!(e.stacks().len(), 500);
}

#[test]
fn thirty_two_patches_stacked_on_one_function() {
    let mut e = Engine::new(&mut [], &mut [], &mut []);
    let mut m = env(4);
    let mut news = Vec::new();
    for k in 1..=32u32 {
        let f = funcs_of(1, OLD_A, 0x10_0000 * u64::from(k));
        grow(&mut e, 1);
        e.register(PatchId(k), f, false).unwrap();
        e.enable(PatchId(k), &mut m, &mut NoHooks).unwrap();
        assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
        assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(f[0].new), "newest wins");
        news.push(f[0].new);
    }
    assert_eq!(e.room().patches, 32);
    for k in (1..=32u32).rev() {
        e.disable(PatchId(k), &mut m, &mut NoHooks).unwrap();
        assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
        let below = if k > 1 { Target::New(news[k as usize - 2]) } else { Target::Original };
        assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), below, "disabling {k} uncovers the one below");
        e.unregister(PatchId(k)).unwrap();
    }
}

#[test]
fn move_to_refuses_storage_too_small_and_keeps_state_mid_transition() {
    let mut e = Engine::new(&mut [], &mut [], &mut []);
    let mut m = env(2);
    m.tasks[0].running = true;
    grow(&mut e, 2);
    e.register(PatchId(1), &P1, false).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    let before = e.changed_ranges().to_vec();
    let small = storage_of(Room { slots: 1, patches: 1, ranges: 2 });
    let back = e.move_to(small).unwrap_err();
    assert_eq!(back.slots.len(), 1, "refused storage comes back unchanged");
    // Moving mid-transition keeps entries, records and ranges.
    e.move_to(storage_of(Room { slots: 8, patches: 3, ranges: 8 })).unwrap();
    assert_eq!(e.changed_ranges(), &before[..]);
    assert_eq!(e.transition_patch(), Some(PatchId(1)));
    m.tasks[0].running = false;
    assert!(run(&mut e, &mut m, &mut NoHooks).unwrap().done());
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW1_A)));
}

#[test]
fn without_room_registration_says_no_memory() {
    let mut e = Engine::new(&mut [], &mut [], &mut []);
    assert_eq!(e.register(PatchId(1), &P1, false), Err(EngineError::NoMemory));
    assert_eq!(e.room_for(2), Room { slots: 4, patches: 1, ranges: 4 });
}

// System states (upstream's klp_state, kernel/livepatch/state.c): the four
// cases of tools/testing/selftests/livepatch/test-state.sh at the engine,
// and what graft adds (a patch disabled but still registered, re-enabled).
static S1V1: [State; 1] = [State { id: 1, version: 1 }];
static S1V2: [State; 1] = [State { id: 1, version: 2 }];

fn installed_ids(e: &Engine<'_, '_>) -> Vec<u32> {
    e.installed(None).map(|r| r.id.0).collect()
}

#[test]
fn states_upstream_test_state_cases() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(3);
    // 1. "system state modification": a state installed and removed; no
    //    earlier patch has it, either way.
    e.register_with_states(PatchId(1), &P1, true, &S1V1).unwrap();
    assert_eq!(e.rec(PatchId(1)).unwrap().states, &S1V1);
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(1), 1), None);
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(installed_ids(&e), [1]);
    e.disable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(1), 1), None, "nothing to pass the state back to");
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(installed_ids(&e), [0u32; 0]);
    // 2. "taking over": version 1 installed, a replace patch of version 2
    //    sees it as the previous state while it is enabled, and is the only
    //    holder once the replace completes.
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    e.register_with_states(PatchId(2), &P2, true, &S1V2).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(2), 1), Some((PatchId(1), 0)), "the replaced patch's state");
    assert_eq!(e.prev_state(PatchId(2), 9), None, "no such state");
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(installed_ids(&e), [2], "the replaced patch is no longer installed");
    e.unregister(PatchId(1)).unwrap();
    e.disable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(2), 1), None);
    run(&mut e, &mut m, &mut NoHooks);
    // 3. "compatible cumulative livepatches": version 2 replaced by another
    //    version 2, and that by the first again (reloaded: a new id).
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    e.register_with_states(PatchId(3), &P1, true, &S1V2).unwrap();
    e.enable(PatchId(3), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(3), 1), Some((PatchId(2), 0)));
    run(&mut e, &mut m, &mut NoHooks);
    e.unregister(PatchId(2)).unwrap();
    e.register_with_states(PatchId(4), &P2, true, &S1V2).unwrap();
    e.enable(PatchId(4), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(4), 1), Some((PatchId(3), 0)));
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(installed_ids(&e), [4]);
    // 4. "incompatible cumulative livepatches": version 1 is refused while
    //    version 2 is installed, before any callback, leaving nothing behind.
    e.register_with_states(PatchId(5), &P1, true, &S1V1).unwrap();
    let mut log = Log::default();
    let want = Incompatible::Older { id: 1, version: 1, installed: 2, holder: PatchId(4) };
    assert_eq!(e.enable(PatchId(5), &mut m, &mut log), Err(EngineError::Incompatible(want)));
    assert!(log.0.is_empty(), "refused before pre_patch: {:?}", log.0);
    assert!(e.transition().is_none() && !e.rec(PatchId(5)).unwrap().enabled);
    assert_eq!(e.resolve(TextAddr(OLD_A), PatchState::Patched), Target::New(TextAddr(NEW2_A)), "unchanged");
    assert_eq!(e.check_compatible(&S1V1, true, None), Err(EngineError::Incompatible(want)));
    assert_eq!(
        EngineError::Incompatible(want).to_string(),
        "not compatible with the installed patches: 4 has state 1 at version 2, this patch at version 1: a state may only be kept at an equal or higher version"
    );
}

#[test]
fn states_of_disabled_patches_do_not_count_and_a_replaced_one_cannot_come_back_older() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    e.register_with_states(PatchId(1), &P1, true, &S1V1).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    e.register_with_states(PatchId(2), &P2, true, &S1V2).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    // graft keeps the replaced patch registered: enabling it again would
    // downgrade the state, so it is refused (upstream frees a replaced
    // patch; loading it again is case 4 above).
    let older = Incompatible::Older { id: 1, version: 1, installed: 2, holder: PatchId(2) };
    assert_eq!(e.enable(PatchId(1), &mut m, &mut NoHooks), Err(EngineError::Incompatible(older)));
    // Once version 2 is disabled nothing holds the state: version 1 may
    // come back.
    e.disable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(installed_ids(&e), [1]);
}

#[test]
fn states_replace_must_carry_and_non_replace_may_touch() {
    static S2: [State; 1] = [State { id: 2, version: 5 }];
    static BOTH: [State; 2] = [State { id: 2, version: 5 }, State { id: 1, version: 1 }];
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(2);
    e.register_with_states(PatchId(1), &P1, false, &S1V2).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    // A replace patch without state 1 would drop it.
    let dropped = Incompatible::Dropped { id: 1, installed: 2, holder: PatchId(1) };
    assert_eq!(e.check_compatible(&S2, true, None), Err(EngineError::Incompatible(dropped)));
    // A non-replace patch may leave it alone, or keep it at an equal or
    // higher version (system-state.rst: "Non-cumulative livepatches are
    // allowed to touch already modified system states"), never lower.
    assert_eq!(e.check_compatible(&S2, false, None), Ok(()));
    assert_eq!(e.check_compatible(&S1V2, false, None), Ok(()));
    let older = Incompatible::Older { id: 1, version: 1, installed: 2, holder: PatchId(1) };
    assert_eq!(e.check_compatible(&BOTH, false, None), Err(EngineError::Incompatible(older)));
    // Stacked, the later patch is the latest holder for the next one.
    e.register_with_states(PatchId(2), &P2, false, &S1V2).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(2), 1), Some((PatchId(1), 0)));
    run(&mut e, &mut m, &mut NoHooks);
    e.register(PatchId(3), &P1, false).unwrap();
    assert_eq!(e.prev_state(PatchId(3), 1), Some((PatchId(2), 0)), "the latest installed holder");
    // Disabling the lower one: the other still holds the state.
    e.disable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    assert_eq!(e.prev_state(PatchId(1), 1), Some((PatchId(2), 0)));
    run(&mut e, &mut m, &mut NoHooks);
}

#[test]
fn states_a_reversed_replace_still_sees_the_replaced_patch() {
    let mut s = Storage::new();
    let mut e = Engine::new(&mut s.slots, &mut s.patches, &mut s.ranges);
    let mut m = env(1);
    e.register_with_states(PatchId(1), &P1, true, &S1V1).unwrap();
    e.enable(PatchId(1), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    // A task sleeps in A's current version: the replace is held.
    m.tasks[0] = task(&[0x500, NEW1_A + 8]);
    e.register_with_states(PatchId(2), &P2, true, &S1V2).unwrap();
    e.enable(PatchId(2), &mut m, &mut NoHooks).unwrap();
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(e.transition_patch(), Some(PatchId(2)), "held");
    e.reverse(&mut NoHooks).unwrap();
    // post_unpatch tells a reverse from a disable by the previous state
    // (system-state.rst): the replaced patch is still installed.
    assert_eq!(e.prev_state(PatchId(2), 1), Some((PatchId(1), 0)));
    m.tasks[0] = task(&[0x500, 0x600]);
    run(&mut e, &mut m, &mut NoHooks);
    assert_eq!(installed_ids(&e), [1], "the replaced patch stays");
}

//! A simulated machine for graft-core's transition model: thousands of tasks,
//! each with a kernel stack laid out by its backend's `testing` builder (the
//! kernel's real frame layout for that arch), walked by the backend's real
//! reliable unwinder.
//!
//! Every task sleeps in `schedule()` under a short call chain; tests place
//! tasks inside functions being patched, mark them running, or add tasks
//! mid-transition, and check what the engine does.
#![forbid(unsafe_code)]

use graft_core::{
    ArchOps, PatchState, SavedRegs, SliceMemory, StackAddr, StackBounds, StackReader, TaskEnv, TaskView, TextAddr,
    TextInfo, TextKind,
};

/// An arch the simulator can lay stacks out for.
pub trait SimArch: ArchOps {
    /// Base of the simulated kernel text.
    const TEXT: u64;
    /// Base of the task stacks.
    const STACKS: u64;
    /// Lay out a sleeping task in `buf` (the stack `[base, base+len)`):
    /// `chain[0]` is where it sleeps, `chain[1..]` the return addresses of
    /// its frames, innermost first.  Returns its saved registers and bounds.
    fn lay(buf: &mut [u8], base: u64, chain: &[u64]) -> (SavedRegs, StackBounds);
}

impl SimArch for graft_x86_64::X86_64 {
    const TEXT: u64 = 0xffff_ffff_8100_0000;
    const STACKS: u64 = 0xffff_c900_0000_0000;
    fn lay(buf: &mut [u8], base: u64, chain: &[u64]) -> (SavedRegs, StackBounds) {
        use graft_x86_64::testing::KernelStack;
        let mut k = KernelStack::new(buf, base, true);
        let (last, inner) = chain.split_last().expect("non-empty chain");
        k.entry(*last);
        for &ret in inner[1..].iter().rev() {
            k.call(ret, 32);
        }
        let regs = k.switch_out(inner.first().copied().unwrap_or(*last), 16);
        (regs, k.bounds())
    }
}

impl SimArch for graft_arm64::Arm64 {
    const TEXT: u64 = 0xffff_8000_8000_0000;
    const STACKS: u64 = 0xffff_8000_9000_0000;
    fn lay(buf: &mut [u8], base: u64, chain: &[u64]) -> (SavedRegs, StackBounds) {
        let pcs: Vec<TextAddr> = chain.iter().map(|&a| TextAddr(a)).collect();
        graft_arm64::testing::StackBuilder::new(buf, base).task(&pcs, 64)
    }
}

impl SimArch for graft_powerpc::Powerpc {
    const TEXT: u64 = 0xc000_0000_0100_0000;
    const STACKS: u64 = 0xc000_0000_4000_0000;
    fn lay(buf: &mut [u8], base: u64, chain: &[u64]) -> (SavedRegs, StackBounds) {
        let mut b = graft_powerpc::testing::StackBuilder::user_task(buf, base, 0x7fff_f000);
        // Frames are pushed outermost first; each returns into its caller.
        for &ret in chain[1..].iter().rev() {
            b.call(112, ret);
        }
        (b.regs(chain[0]), b.bounds())
    }
}

impl SimArch for graft_s390::S390 {
    const TEXT: u64 = 0x3ff_e000_0000;
    const STACKS: u64 = 0x3ff_c000_0000;
    fn lay(buf: &mut [u8], base: u64, chain: &[u64]) -> (SavedRegs, StackBounds) {
        let mut b = graft_s390::testing::StackBuilder::kernel(buf, base);
        let top = b.final_frame().0;
        let n = chain.len() as u64;
        let frames: Vec<u64> = (0..n).map(|i| top - 160 * (n - 1 - i)).collect();
        let regs = b.task(&frames, chain);
        (regs, b.bounds())
    }
}

impl SimArch for graft_riscv::Riscv {
    const TEXT: u64 = 0xffff_ffff_8000_0000;
    const STACKS: u64 = 0xffff_ffc6_0000_0000;
    fn lay(buf: &mut [u8], base: u64, chain: &[u64]) -> (SavedRegs, StackBounds) {
        let pcs: Vec<TextAddr> = chain.iter().map(|&a| TextAddr(a)).collect();
        graft_riscv::testing::StackBuilder::new(buf, base).task(&pcs, 64)
    }
}

/// Well-known functions of the simulated kernel, relative to `TEXT`.
pub mod text {
    /// Entry code (the outermost frames return here).
    pub const ENTRY: u64 = 0x100;
    /// `schedule()`: where sleeping tasks sit.
    pub const SCHEDULE: u64 = 0x500;
    /// Ordinary callers.
    pub const CALLERS: u64 = 0x3000;
    /// Functions patched in the scenarios, 0x100 bytes each.
    pub const OLD_A: u64 = 0x1000;
    /// Second patched function.
    pub const OLD_B: u64 = 0x2000;
    /// Size of the old functions.
    pub const OLD_SIZE: u64 = 0x100;
    /// Patch module text: replacements, 0x80 bytes each.
    pub const NEW: u64 = 0x9000;
    /// Size of the replacements.
    pub const NEW_SIZE: u64 = 0x80;
    /// The simulated text's size.
    pub const SIZE: u64 = 0x10_0000;
}

/// Everything in the simulated text range is kernel text.
#[derive(Debug, Clone, Copy)]
pub struct SimText(pub u64);

impl TextInfo for SimText {
    fn kind(&self, a: TextAddr) -> TextKind {
        if (self.0..self.0 + text::SIZE).contains(&a.0) {
            TextKind::Kernel
        } else {
            TextKind::NotText
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Task {
    state: PatchState,
    running: bool,
    regs: SavedRegs,
    bounds: StackBounds,
}

/// A machine of tasks of arch `A`.
#[derive(Debug)]
pub struct Machine<A: SimArch> {
    stacks: Vec<u8>,
    tasks: Vec<Task>,
    stack_size: usize,
    _arch: core::marker::PhantomData<A>,
}

impl<A: SimArch> Machine<A> {
    /// Stack size of every task.
    pub const STACK_SIZE: usize = 4096;

    /// `n` tasks sleeping in `schedule()` under an ordinary chain.
    pub fn new(n: usize) -> Self {
        let mut m = Machine {
            stacks: vec![0; n * Self::STACK_SIZE],
            tasks: Vec::with_capacity(n),
            stack_size: Self::STACK_SIZE,
            _arch: core::marker::PhantomData,
        };
        for _ in 0..n {
            m.spawn(PatchState::Unpatched);
        }
        m
    }

    /// The ordinary chain: schedule, three callers, entry.
    pub fn idle_chain() -> [u64; 5] {
        let t = A::TEXT;
        [
            t + text::SCHEDULE + 0x10,
            t + text::CALLERS + 0x10,
            t + text::CALLERS + 0x110,
            t + text::CALLERS + 0x210,
            t + text::ENTRY + 8,
        ]
    }

    /// A chain that passes through the function at `func` (relative to TEXT).
    pub fn chain_through(func: u64) -> [u64; 5] {
        let mut c = Self::idle_chain();
        c[2] = A::TEXT + func + 0x20;
        c
    }

    /// Add a task in `state`, sleeping under the ordinary chain.
    pub fn spawn(&mut self, state: PatchState) -> usize {
        let i = self.tasks.len();
        self.stacks.resize((i + 1) * self.stack_size, 0);
        self.tasks.push(Task {
            state,
            running: false,
            regs: SavedRegs::default(),
            bounds: StackBounds { lo: StackAddr(0), hi: StackAddr(0), final_frame: StackAddr(0) },
        });
        self.set_chain(i, &Self::idle_chain());
        i
    }

    /// Re-lay task `i`'s stack with `chain`.
    pub fn set_chain(&mut self, i: usize, chain: &[u64]) {
        let base = A::STACKS + (i * self.stack_size) as u64;
        let buf = &mut self.stacks[i * self.stack_size..(i + 1) * self.stack_size];
        let (regs, bounds) = A::lay(buf, base, chain);
        self.tasks[i].regs = regs;
        self.tasks[i].bounds = bounds;
    }

    /// Mark task `i` running (or not).
    pub fn set_running(&mut self, i: usize, yes: bool) {
        self.tasks[i].running = yes;
    }

    /// Tasks in `s`.
    pub fn count(&self, s: PatchState) -> usize {
        self.tasks.iter().filter(|t| t.state == s).count()
    }

    /// The text classifier for this arch.
    pub fn text(&self) -> SimText {
        SimText(A::TEXT)
    }
}

impl<A: SimArch> StackReader for Machine<A> {
    fn read(&self, a: StackAddr, buf: &mut [u8]) -> Result<(), graft_core::MemError> {
        SliceMemory { base: A::STACKS, bytes: &self.stacks }.read(a, buf)
    }
}

impl<A: SimArch> TaskEnv for Machine<A> {
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
            TaskView::Running
        } else {
            TaskView::Sleeping { regs: t.regs, bounds: t.bounds, mem: self }
        }
    }
}

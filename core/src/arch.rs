//! The `ArchOps` capability traits a backend implements.
//!
//! An arch is a type-level marker (`pub enum X86_64 {}`) with associated
//! consts.  Three small capability traits compose into [`ArchOps`]:
//! [`EntrySite`] (recognise and redirect the ftrace entry site), [`Unwinder`]
//! (reliable stack walk) and [`Codec`] (instruction encoding and patch plans).
//! Nothing here is gated on `target_arch`: every backend builds and is tested
//! on any host.

use super::addr::{Endian, StackAddr, TextAddr};
use super::mem::StackReader;
use super::plan::{InsnBuf, Plan, PlanError};
use core::fmt;

/// Constants that describe an architecture.
pub trait Arch {
    /// Kernel name of the arch (`x86_64`, `arm64`, `powerpc`, `s390`, `riscv`).
    const NAME: &'static str;
    /// Byte order of instructions and stack words.
    const ENDIAN: Endian;
    /// Instruction alignment in bytes (1 on x86).
    const INSN_ALIGN: u64;
    /// Length of the instruction ftrace toggles at a site (`MCOUNT_INSN_SIZE`).
    const SITE_LEN: usize;
    /// ELF `e_machine` of the arch (`EM_X86_64`, ...).
    const ELF_MACHINE: u16;
}

// ---------------------------------------------------------------------------
// Entry site

/// A window of text: `bytes[0]` lives at `start`.
#[derive(Clone, Copy, Debug)]
pub struct Code<'a> {
    /// Address of `bytes[0]`.
    pub start: TextAddr,
    /// The instructions.
    pub bytes: &'a [u8],
}

impl<'a> Code<'a> {
    /// The bytes from `addr` on, if `addr` lies in the window.
    pub fn at(&self, addr: TextAddr) -> Option<&'a [u8]> {
        let off = usize::try_from(addr.0.checked_sub(self.start.0)?).ok()?;
        self.bytes.get(off..)
    }
    /// The bytes in `[addr - n, addr)`, if the window holds them.
    pub fn before(&self, addr: TextAddr, n: usize) -> Option<&'a [u8]> {
        let off = usize::try_from(addr.0.checked_sub(self.start.0)?).ok()?;
        self.bytes.get(off.checked_sub(n)?..off)
    }
}

/// What the toggled instruction currently does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteState {
    /// The nop ftrace leaves when nothing traces the function.
    Disabled,
    /// A call (or jump) into ftrace or a trampoline: the function is traced.
    Enabled {
        /// The branch target.
        target: TextAddr,
    },
    /// The compiler's original call (`call __fentry__`, `brasl %r0,_mcount`,
    /// `bl _mcount`) that ftrace nops at boot or module load.
    Unconverted {
        /// The call target (usually an undefined symbol, 0 in a `.o`).
        target: TextAddr,
    },
}

/// A recognised ftrace entry site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// The function's symbol address.
    pub func: TextAddr,
    /// The instruction ftrace toggles (`rec->ip`).
    pub addr: TextAddr,
    /// Its length.
    pub len: u8,
    /// What it does now.
    pub state: SiteState,
    /// The form recognised, e.g. `"fentry+endbr"` or `"pfe-4,2+call-ops"`.
    pub form: &'static str,
}

/// Why a function has no usable ftrace entry site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SiteError {
    /// The window ends before the site could be read.
    Truncated,
    /// The entry does not start with any instrumented form of this arch
    /// (`notrace`, `noinstr`, or not compiled with ftrace flags).
    NotInstrumented,
    /// The function is not aligned as the arch requires.
    Misaligned,
    /// A site was recorded (`__mcount_loc`/`__patchable_function_entries`) at
    /// an address that does not hold the expected instruction.
    RecordMismatch(TextAddr),
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteError::Truncated => f.write_str("code ends before the entry site"),
            SiteError::NotInstrumented => f.write_str("no ftrace entry sequence (notrace or not instrumented)"),
            SiteError::Misaligned => f.write_str("function entry misaligned"),
            SiteError::RecordMismatch(a) => write!(f, "recorded site {a} does not hold a site instruction"),
        }
    }
}

bitflags::bitflags! {
    /// What a redirect needs beyond the new instruction pointer.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct RedirectFlags: u8 {
        /// The arch needs the caller's TOC (r2) saved and restored around the
        /// new function (ppc64 ELFv2 calls into module code: the "livepatch
        /// stack").
        const SAVE_TOC = 1 << 0;
        /// The new function is entered at its global entry point, so r12
        /// must hold that address (ppc64 ELFv2 global entry computes r2 from
        /// r12).
        const SET_R12 = 1 << 1;
    }
}

/// How the ftrace handler sends a call to a replacement function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The value the handler stores as the saved instruction pointer
    /// (`ftrace_regs_set_instruction_pointer()`).
    pub ip: TextAddr,
    /// What else the handler must do (empty on every arch but powerpc).
    pub flags: RedirectFlags,
}

bitflags::bitflags! {
    /// What the running kernel's ftrace offers a fast path (read from its
    /// configuration by the kernel glue).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct DirectCaps: u8 {
        /// `CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS`: `register_ftrace_direct()`.
        const CALLS = 1 << 0;
        /// `CONFIG_DYNAMIC_FTRACE_WITH_JMP`: a direct target with bit 0 set
        /// makes the site a jump to it (`ftrace_jmp_set()`, x86_64).
        const JMP = 1 << 1;
        /// `CONFIG_ARM64_BTI_KERNEL`: module text is guarded, so a trampoline
        /// that ftrace enters by an indirect branch (`br x17` in arm64's
        /// `ftrace_caller`) must be entered at its `bti c`.
        const BTI = 1 << 2;
    }
}

/// The fast path of a settled function: the ftrace direct call that sends
/// every call entering at its site straight to the one version everybody
/// runs, without ftrace's trampoline or graft's handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Direct {
    /// `register_ftrace_direct()`'s `addr`: where the site branches, with
    /// the kernel's flag bits (x86_64's jump mode: bit 0).
    pub addr: u64,
    /// What the site enters: the replacement itself, or the backend's
    /// trampoline in front of it.
    pub enters: TextAddr,
    /// The site enters the trampoline the glue offered ([`EntrySite::direct`]'s
    /// `tramp`), which the glue must point at the replacement first
    /// ([`Trampoline::target`]) and keep for this site until its direct call
    /// is unregistered.
    pub tramp: bool,
}

/// One of a backend's fast-path trampolines (its `native` module's code,
/// in the module that runs it): code at `entry` that restores what the
/// site's branch changed and branches to the address in `target`.  A
/// backend whose direct call can enter the replacement itself has none.
#[derive(Clone, Copy, Debug)]
pub struct Trampoline {
    /// Its first instruction.
    pub entry: TextAddr,
    /// Where it branches: written (release) before a direct call enters it,
    /// read by the trampoline on every call.
    pub target: &'static core::sync::atomic::AtomicU64,
}

/// Why a site stays on graft's handler once its function is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoDirect {
    /// This backend has no fast path (yet).
    Backend,
    /// The kernel lacks what this backend's fast path needs ([`DirectCaps`]).
    Kernel,
    /// The site's branch cannot reach the target.
    OutOfReach,
    /// The target's address has a bit the kernel's direct call takes as a
    /// flag (x86_64's jump mode: bit 0, so an odd replacement).
    Unaligned,
    /// The backend needs a trampoline and every one is in use.
    NoTrampoline,
}

impl fmt::Display for NoDirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoDirect::Backend => f.write_str("no fast path in this backend"),
            NoDirect::Kernel => f.write_str("the kernel's ftrace has no direct call this backend can use"),
            NoDirect::OutOfReach => f.write_str("the replacement is out of the site's branch reach"),
            NoDirect::Unaligned => {
                f.write_str("the replacement's address is not aligned as the kernel's direct call needs")
            }
            NoDirect::NoTrampoline => f.write_str("every fast-path trampoline is in use"),
        }
    }
}

/// Recognise the compiler-emitted entry sequence and redirect at it.
pub trait EntrySite: Arch {
    /// Find and classify the ftrace site of the function whose symbol is at
    /// `func`.  `code` must cover the function's first bytes (and, on arches
    /// whose patchable entry starts before the symbol, the bytes before it).
    /// `recorded`, when known, is the address from `__mcount_loc` or
    /// `__patchable_function_entries`, already adjusted as
    /// `ftrace_call_adjust()` would.
    fn analyze_site(code: Code<'_>, func: TextAddr, recorded: Option<TextAddr>) -> Result<Site, SiteError>;

    /// `ftrace_call_adjust()`: turn the address recorded for the function at
    /// `func` into `rec->ip`, or `None` where the kernel would reject the
    /// record.  `code` covers the function's entry (some arches read it: arm64
    /// looks for a BTI).  `func` lets a backend tell build configurations
    /// apart from the data alone (arm64: a record before the symbol means
    /// CALL_OPS).
    fn call_adjust(code: Code<'_>, func: TextAddr, recorded: TextAddr) -> Option<TextAddr> {
        let _ = (code, func);
        Some(recorded)
    }

    /// How a call entering at `site` reaches `new_func` (the replacement's
    /// symbol address).  `new_is_module` tells whether the replacement lives
    /// in module text (it always does for a patch module).
    fn redirect(site: &Site, new_func: TextAddr, new_is_module: bool) -> Redirect;

    /// The fast path at `site` into `new_func` (the replacement's symbol,
    /// which every task runs once a transition is over), on a kernel that
    /// offers `caps`; `Err` keeps the site on the handler.  `tramp` is the
    /// entry of a free [`Trampoline`] of this backend's, where it has them:
    /// a backend that needs one returns [`Direct::tramp`] (or
    /// [`NoDirect::NoTrampoline`] without one).
    fn direct(site: &Site, new_func: TextAddr, caps: DirectCaps, tramp: Option<TextAddr>) -> Result<Direct, NoDirect> {
        let _ = (site, new_func, caps, tramp);
        Err(NoDirect::Backend)
    }
}

// ---------------------------------------------------------------------------
// Reliable unwinding

/// The registers a sleeping task saved, as an arch-neutral view.
/// x86_64: pc=rip, sp=rsp, fp=rbp; arm64: pc, sp, fp=x29, lr=x30;
/// powerpc: pc=nip, sp=r1, lr; s390: pc=psw addr, sp=r15, lr=r14;
/// riscv: pc, sp, fp=s0, lr=ra.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SavedRegs {
    /// Where the task resumes.
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Frame pointer (0 where the arch has none).
    pub fp: u64,
    /// Link register (0 where the arch has none).
    pub lr: u64,
}

/// The task's kernel stack `[lo, hi)` and the frame a reliable walk must end at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackBounds {
    /// Lowest address.
    pub lo: StackAddr,
    /// One past the highest address.
    pub hi: StackAddr,
    /// The final frame (frame pointer / back-chain value of the outermost
    /// frame).  In the kernel it is fixed relative to the task's `pt_regs`:
    /// [`Unwinder::final_frame`] computes it from `hi`.  Tests of user-space
    /// stacks set it to their thread's root frame.
    pub final_frame: StackAddr,
}

impl StackBounds {
    /// Whether `[a, a+len)` lies on the stack.
    pub fn contains(&self, a: u64, len: u64) -> bool {
        a >= self.lo.0 && a.checked_add(len).is_some_and(|e| e <= self.hi.0)
    }

    /// The word at offset `off` of the `size`-byte structure at `base` (a
    /// `pt_regs`), read in byte order `e`, if the whole structure lies on
    /// the stack.
    pub fn field(&self, mem: &dyn StackReader, base: u64, size: u64, off: u64, e: Endian) -> Option<u64> {
        if off.checked_add(8).is_none_or(|end| end > size) || !self.contains(base, size) {
            return None;
        }
        mem.read_u64(StackAddr(base + off), e).ok()
    }
}

/// What a return address points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextKind {
    /// Ordinary kernel or module text.
    Kernel,
    /// Not text at all.
    NotText,
    /// The function-graph tracer's return trampoline (`return_to_handler`).
    FtraceGraph,
    /// The kretprobe trampoline.
    Kretprobe,
    /// An exception or interrupt entry (the frame above is a `pt_regs`).
    ExceptionEntry,
}

/// Classifies text addresses (the kernel: `__kernel_text_address()` and the
/// trampoline symbols; tests: a table).
pub trait TextInfo {
    /// What `addr` is.
    fn kind(&self, addr: TextAddr) -> TextKind;

    /// Whether a reliable walk may accept `addr` as a return address: only
    /// ordinary kernel text.  Tracing trampolines refuse (the kernel
    /// recovers the real address from state a walk cannot see), exception
    /// entries mean a `pt_regs` frame, anything else is not text.
    fn check_return_address(&self, addr: u64) -> Result<(), Unreliable> {
        match self.kind(TextAddr(addr)) {
            TextKind::Kernel => Ok(()),
            TextKind::FtraceGraph | TextKind::Kretprobe => Err(Unreliable::Trampoline(addr)),
            TextKind::ExceptionEntry => Err(Unreliable::ExceptionFrame(addr)),
            TextKind::NotText => Err(Unreliable::NotText(addr)),
        }
    }
}

/// Why a stack is not reliable.  An unreliable stack blocks the task's
/// switch; there is no best effort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unreliable {
    /// A frame pointer or back chain left the stack.
    OutOfBounds(u64),
    /// A frame pointer or back chain is misaligned.
    Misaligned(u64),
    /// The chain did not move towards the stack's top.
    NotIncreasing(u64),
    /// A return address is not kernel text.
    NotText(u64),
    /// An exception or interrupt frame (`pt_regs`) sits on the stack.
    ExceptionFrame(u64),
    /// A return address is a tracing trampoline (function graph, kretprobe).
    Trampoline(u64),
    /// The walk ended somewhere other than the final frame.
    MissingFinalFrame(u64),
    /// A frame record holds no return address: a stack address where it
    /// should be (a leaf function's frame, which saved only the frame
    /// pointer: GCC on riscv).
    LeafFrame(u64),
    /// More frames than the caller's buffer holds.
    TooManyFrames,
    /// Stack memory could not be read.
    Fault(u64),
    /// No unwind data describes this address (x86_64 ORC: no table covers
    /// it, as for generated code such as ftrace's dynamic trampolines).
    NoUnwindInfo(u64),
    /// The unwind data for this address ends the walk in error (ORC: an
    /// undefined entry, or an unknown type or register).
    BadUnwindInfo(u64),
    /// The frame at this address keeps its caller's stack pointer in a
    /// register the walk does not know (ORC: a DRAP stack realignment).
    UnknownRegister(u64),
}

impl fmt::Display for Unreliable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreliable::OutOfBounds(a) => write!(f, "frame {a:#x} outside the stack"),
            Unreliable::Misaligned(a) => write!(f, "frame {a:#x} misaligned"),
            Unreliable::NotIncreasing(a) => write!(f, "frame {a:#x} does not move up the stack"),
            Unreliable::NotText(a) => write!(f, "return address {a:#x} is not kernel text"),
            Unreliable::ExceptionFrame(a) => write!(f, "exception frame at {a:#x}"),
            Unreliable::Trampoline(a) => write!(f, "tracing trampoline {a:#x} on the stack"),
            Unreliable::MissingFinalFrame(a) => write!(f, "walk ended at {a:#x}, not at the final frame"),
            Unreliable::LeafFrame(a) => write!(f, "frame {a:#x} saved no return address (a leaf's frame)"),
            Unreliable::TooManyFrames => f.write_str("too many frames"),
            Unreliable::Fault(a) => write!(f, "cannot read stack at {a:#x}"),
            Unreliable::NoUnwindInfo(a) => write!(f, "no unwind data for {a:#x}"),
            Unreliable::BadUnwindInfo(a) => write!(f, "unwind data for {a:#x} is undefined or unknown"),
            Unreliable::UnknownRegister(a) => write!(f, "frame at {a:#x} needs a register the walk does not know"),
        }
    }
}

/// Walk a sleeping task's kernel stack and prove every frame.
pub trait Unwinder: Arch {
    /// The final frame of a kernel task stack whose top is `hi`, as the
    /// kernel lays it out (from `task_pt_regs()`).
    fn final_frame(hi: StackAddr) -> StackAddr;

    /// Write the task's return addresses (first: `regs.pc`) into `out` and
    /// return how many, or refuse with the first frame that cannot be proven.
    /// Never allocates, never reads outside `bounds`, always terminates.
    fn unwind_reliable(
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable>;

    /// The saved pc of the context that the exception frame `at` interrupted,
    /// where `at` is the value this walk refused with
    /// ([`Unreliable::ExceptionFrame`]): read from that frame's `pt_regs`.
    /// `None` when `at` is not such a frame on the stack (an exception entry
    /// recognised by its return address, say) or cannot be read.
    fn interrupted_pc(at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64>;

    /// The code address a stack word stands for, if it is a return address:
    /// the word itself, or with the arch's pointer-authentication bits
    /// stripped (arm64).
    fn code_address(word: u64) -> u64 {
        word
    }
}

/// A reliable unwinder as a value: [`Unwinder::unwind_reliable`]'s contract
/// for an unwinder that needs data besides the stack (x86_64's ORC walk
/// reads the kernel's unwind tables: `graft_x86_64::orc::Orc`).  Every
/// [`Unwinder`] is one through [`ArchUnwinder`]; the transition checks
/// tasks through this trait.
pub trait UnwindReliable {
    /// As [`Unwinder::unwind_reliable`].
    fn unwind_reliable(
        &self,
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable>;

    /// As [`Unwinder::interrupted_pc`], for the exception frames this walk
    /// reports; `None`: the transition does not scan such stacks.
    fn interrupted_pc(&self, at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64>;

    /// As [`Unwinder::code_address`].
    fn code_address(&self, word: u64) -> u64 {
        word
    }

    /// The byte order of stack words.
    fn endian(&self) -> Endian;
}

/// An arch's [`Unwinder`] (a marker type) as an [`UnwindReliable`] value:
/// `ArchUnwinder::<X86_64>::NEW`.
pub struct ArchUnwinder<A>(core::marker::PhantomData<fn() -> A>);

impl<A> ArchUnwinder<A> {
    /// The value.
    pub const NEW: Self = ArchUnwinder(core::marker::PhantomData);
}

impl<A> fmt::Debug for ArchUnwinder<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArchUnwinder")
    }
}

impl<A: Unwinder> UnwindReliable for ArchUnwinder<A> {
    fn unwind_reliable(
        &self,
        regs: &SavedRegs,
        bounds: StackBounds,
        mem: &dyn StackReader,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        A::unwind_reliable(regs, bounds, mem, text, out)
    }
    fn interrupted_pc(&self, at: u64, bounds: StackBounds, mem: &dyn StackReader) -> Option<u64> {
        A::interrupted_pc(at, bounds, mem)
    }
    fn code_address(&self, word: u64) -> u64 {
        A::code_address(word)
    }
    fn endian(&self) -> Endian {
        A::ENDIAN
    }
}

/// What a switched-out task left for the next walk of its stack: the
/// fields of its `thread_struct` that the arch's context switch saved, as the
/// kernel glue copies them (one C header per arch says which fields).  `sp`
/// is always the lowest live address of the stack (every frame lies at or
/// above it); `fp` and `pc` are 0 where the arch does not save them.
///
/// | arch | `sp` | `fp` | `pc` |
/// |---|---|---|---|
/// | x86_64 | `thread.sp` (the `inactive_task_frame`) | 0 | 0 |
/// | arm64 | `thread.cpu_context.sp` | `.fp` | `.pc` |
/// | powerpc | `thread.ksp` (`_switch`'s frame) | 0 | 0 |
/// | s390 | `thread.ksp` (`__switch_to`'s frame) | 0 | 0 |
/// | riscv | `thread.sp` | `thread.s[0]` | `thread.ra` |
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchedOut {
    /// The saved stack pointer.
    pub sp: u64,
    /// The saved frame pointer, where the arch saves one apart from the stack.
    pub fp: u64,
    /// The saved resume address, where the arch saves one apart from the stack.
    pub pc: u64,
}

/// Which final frame a task's stack ends at (powerpc lays out kernel threads
/// and user tasks differently, `copy_thread()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// `PF_KTHREAD`.
    Kthread,
    /// A task with a user half.
    User,
}

/// The registers an ftrace hook sees at the traced function's entry (before
/// its prologue ran): `ftrace_regs_get_stack_pointer()`,
/// `ftrace_regs_get_frame_pointer()` and the return address into the caller
/// (the handler's `parent_ip`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookEntry {
    /// The return address into the traced function's caller.
    pub parent_ip: u64,
    /// The stack pointer at the traced function's entry.
    pub sp: u64,
    /// The frame pointer at the traced function's entry (the caller's).
    pub fp: u64,
}

/// What the kernel glue needs of an arch to walk real task stacks, beside
/// [`Unwinder`]: where a walk of a switched-out task starts, which final
/// frame it ends at, and where a walk from an ftrace hook starts.  Pure
/// logic over a [`StackReader`], host-tested like the unwinder; the kernel
/// side only copies the saved context out of `task_struct`.
pub trait TaskStacks: Unwinder {
    /// How many entries the kernel's own trace of a switched-out task
    /// (`stack_trace_save_tsk()`, the non-reliable `arch_stack_walk()`) may
    /// hold before the first and after the last address of the reliable walk
    /// from [`TaskStacks::switched_out_regs`]: words it reads that are no
    /// frame's return address.  `(0, 0)` where the two walks agree.
    const TRACE_TSK_SLACK: (usize, usize) = (0, 0);

    /// The kernel text symbols all of whose addresses are exception entry
    /// code ([`TextKind::ExceptionEntry`]): a return address inside one means
    /// a `pt_regs` frame above it.  The kernel glue's [`TextInfo`] classifies
    /// return addresses by these names; an arch whose unwinder recognises
    /// exception frames by layout alone (a marker in the frame) lists none.
    const EXCEPTION_ENTRY: &'static [&'static str] = &[];

    /// The state a switched-out task resumes in, from its saved context and
    /// (where the context lives on the stack) its stack: the registers a walk
    /// that returns exactly what the kernel's `arch_stack_walk_reliable()`
    /// returns starts from.  A saved context that does not lie where the
    /// arch's context switch puts it is refused.
    fn switched_out_regs(ctx: SwitchedOut, bounds: StackBounds, mem: &dyn StackReader)
        -> Result<SavedRegs, Unreliable>;

    /// The final frame of a task of kind `kind` whose stack top is `hi`
    /// (by default [`Unwinder::final_frame`], the same for every task).
    fn task_final_frame(hi: StackAddr, kind: TaskKind) -> StackAddr {
        let _ = kind;
        Self::final_frame(hi)
    }

    /// The registers a walk of the caller starts from, at an ftrace hook's
    /// entry (the idle-loop and syscall-exit switches walk their own stack
    /// from there): the walk's first address is `at.parent_ip`.  Refused
    /// when the stack does not hold what the arch's entry sequence leaves.
    fn hook_caller_regs(at: HookEntry, bounds: StackBounds, mem: &dyn StackReader) -> Result<SavedRegs, Unreliable>;
}

// ---------------------------------------------------------------------------
// Instruction codec and patch plans

/// Call or jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchKind {
    /// Saves a return address (`call`, `bl`, `brasl`).
    Call,
    /// Does not (`jmp`, `b`, `brcl 15`).
    Jump,
}

/// A decoded site-relevant instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// The site nop.
    Nop {
        /// Its length.
        len: u8,
    },
    /// A pc-relative branch.
    Branch {
        /// Call or jump.
        kind: BranchKind,
        /// Absolute target.
        target: TextAddr,
        /// Its length.
        len: u8,
    },
}

/// Why an instruction cannot be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The target is out of the branch's reach.
    OutOfRange {
        /// The displacement that did not fit.
        disp: i64,
    },
    /// Source or target misaligned for this instruction.
    Misaligned,
    /// Not enough bytes.
    Truncated,
    /// Not a nop or branch form this codec knows.
    Unknown,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::OutOfRange { disp } => write!(f, "branch displacement {disp:#x} out of range"),
            CodecError::Misaligned => f.write_str("misaligned branch source or target"),
            CodecError::Truncated => f.write_str("instruction truncated"),
            CodecError::Unknown => f.write_str("unknown instruction"),
        }
    }
}

/// Encode and decode site instructions and plan their patching.
pub trait Codec: Arch {
    /// The inclusive displacement range `(min, max)` of a branch of `kind`
    /// (relative to the branch's own address).
    fn branch_range(kind: BranchKind) -> (i64, i64);
    /// The nop ftrace puts at a disabled site.
    fn encode_nop() -> InsnBuf;
    /// A branch at `from` to `to`.
    fn encode_branch(kind: BranchKind, from: TextAddr, to: TextAddr) -> Result<InsnBuf, CodecError>;
    /// Decode the instruction at `at`.
    fn decode(at: TextAddr, bytes: &[u8]) -> Result<Insn, CodecError>;
    /// The ordered stores and syncs that turn `old` at `at` into `new` while
    /// other CPUs execute it.
    fn patch_plan(at: TextAddr, old: &InsnBuf, new: &InsnBuf) -> Result<Plan, PlanError>;
}

/// Everything a backend provides.
pub trait ArchOps: EntrySite + Unwinder + Codec {}
impl<T: EntrySite + Unwinder + Codec> ArchOps for T {}

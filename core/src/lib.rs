//! graft-core: the arch-neutral heart of graft.
//!
//! * [`arch`]: the `ArchOps` capability traits each backend implements;
//! * [`addr`], [`mem`]: address newtypes and the tiny memory traits through
//!   which all memory is reached;
//! * [`plan`]: patch plans and their one executor;
//! * [`patch`]: the patch model (objects, functions, callbacks, replace);
//! * [`stack`]: per-function stacks across several patches;
//! * [`transition`]: the per-task consistency model as a state machine;
//! * [`shadow`]: shadow variables;
//! * [`state`]: system states (`klp_state`): lookups and the compatibility
//!   of a patch with the installed ones;
//! * [`kallsyms`], [`modstate`]: the kernel texts graft.ko reads to find
//!   symbols (`/proc/kallsyms`) and module states (`initstate`);
//! * [`preimage`]: a function's masked hash, which a patch carries from
//!   its build and graft.ko compares with the running kernel's text;
//! * [`desc`]: the rules a patch module's description must satisfy (names,
//!   positions, duplicates), which graft.ko applies before using it.
//!
//! The crate is `no_std` and never allocates: callers hand in storage.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod arch;
pub mod mem;
pub mod plan;

pub use addr::{Endian, StackAddr, TextAddr};
pub use arch::{
    Arch, ArchOps, ArchUnwinder, BranchKind, Code, Codec, CodecError, Direct, DirectCaps, EntrySite, HookEntry, Insn,
    NoDirect, Redirect, RedirectFlags, SavedRegs, Site, SiteError, SiteState, StackBounds, SwitchedOut, TaskKind,
    TaskStacks, TextInfo, TextKind, Trampoline, Unreliable, UnwindReliable, Unwinder,
};
pub use mem::{MemError, SliceMemory, StackReader, TextWriter};
pub use plan::{apply, InsnBuf, Plan, PlanError, Step, SyncKind};
pub mod desc;
pub mod engine;
pub mod kallsyms;
pub mod modstate;
pub mod patch;
pub mod preimage;
pub mod shadow;
pub mod sort;
pub mod stack;
pub mod state;
pub mod transition;

pub use engine::{Engine, EngineError, EngineStorage, Hooks, NoHooks, PatchRec, ResolvedFunc, Room};
pub use modstate::ModuleState;
pub use patch::{Callbacks, Func, Object, Patch, PatchError, State};
pub use stack::{EntryFlags, FuncEntry, FuncStacks, PatchId, Target};
pub use state::Incompatible;
pub use transition::{Blocker, ChangedCode, PatchState, Progress, Ranges, TaskEnv, TaskView, Transition};

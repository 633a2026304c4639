//! The patch model: a patch names objects (`vmlinux` or a module), each names
//! the functions it replaces.  Mirrors `struct klp_patch` / `klp_object` /
//! `klp_func` (include/linux/livepatch.h), built as plain `const` data so a
//! patch module declares its patch in one static.

use super::addr::TextAddr;
use core::fmt;

/// A replaced function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func<'a> {
    /// Name of the function being replaced.
    pub old_name: &'a str,
    /// Which of several same-named local symbols (1-based, as kallsyms lists
    /// them); 0 means the name must be unique (`klp_func.old_sympos`).
    pub old_sympos: u32,
    /// Address of the replacement.
    pub new_func: TextAddr,
}

impl<'a> Func<'a> {
    /// Replace the unique symbol `old_name` with `new_func`.
    pub const fn new(old_name: &'a str, new_func: TextAddr) -> Self {
        Func { old_name, old_sympos: 0, new_func }
    }
    /// Pick the `pos`-th symbol of that name.
    pub const fn sympos(mut self, pos: u32) -> Self {
        self.old_sympos = pos;
        self
    }
}

/// A callback's failure: a negative errno the kernel glue passes on.
pub type CallbackResult = Result<(), i32>;

/// Pre/post patch/unpatch callbacks of an object (`struct klp_callbacks`).
#[derive(Clone, Copy, Default)]
pub struct Callbacks {
    /// Before the object is patched; an error cancels the patch.
    pub pre_patch: Option<fn(&Object<'_>) -> CallbackResult>,
    /// After the transition to patched completes.
    pub post_patch: Option<fn(&Object<'_>)>,
    /// Before unpatching starts.
    pub pre_unpatch: Option<fn(&Object<'_>)>,
    /// After the transition to unpatched completes.
    pub post_unpatch: Option<fn(&Object<'_>)>,
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("pre_patch", &self.pre_patch.is_some())
            .field("post_patch", &self.post_patch.is_some())
            .field("pre_unpatch", &self.pre_unpatch.is_some())
            .field("post_unpatch", &self.post_unpatch.is_some())
            .finish()
    }
}

/// `vmlinux` or one module.
#[derive(Clone, Copy, Debug)]
pub struct Object<'a> {
    /// `None` for vmlinux, else the module name.
    pub name: Option<&'a str>,
    /// The functions replaced in it.
    pub funcs: &'a [Func<'a>],
    /// Its callbacks.
    pub callbacks: Callbacks,
}

impl<'a> Object<'a> {
    /// The kernel image.
    pub const fn vmlinux(funcs: &'a [Func<'a>]) -> Self {
        Object {
            name: None,
            funcs,
            callbacks: Callbacks { pre_patch: None, post_patch: None, pre_unpatch: None, post_unpatch: None },
        }
    }
    /// A module (patched when loaded, before or after the patch).
    pub const fn module(name: &'a str, funcs: &'a [Func<'a>]) -> Self {
        Object {
            name: Some(name),
            funcs,
            callbacks: Callbacks { pre_patch: None, post_patch: None, pre_unpatch: None, post_unpatch: None },
        }
    }
    /// With callbacks.
    pub const fn callbacks(mut self, c: Callbacks) -> Self {
        self.callbacks = c;
        self
    }
    /// `vmlinux` or the module name, as sysfs shows it.
    pub fn display_name(&self) -> &'a str {
        self.name.unwrap_or("vmlinux")
    }
}

pub use super::state::State;

/// A live patch.
#[derive(Clone, Copy, Debug)]
pub struct Patch<'a> {
    /// Name (the module name; the sysfs directory).
    pub name: &'a str,
    /// Objects it patches.
    pub objects: &'a [Object<'a>],
    /// Atomic replace: this patch replaces every earlier one in one transition.
    pub replace: bool,
    /// States it introduces.
    pub states: &'a [State],
}

/// Why a patch declaration is not acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch has no name, an object no functions, or a function no name.
    Empty,
    /// Two objects with the same name.
    DuplicateObject,
    /// The same function (name and sympos) twice in one object.
    DuplicateFunc,
    /// The replacement's address is null.
    NullFunc,
    /// The same state id twice.
    DuplicateState,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatchError::Empty => "empty patch, object or function name",
            PatchError::DuplicateObject => "object listed twice",
            PatchError::DuplicateFunc => "function listed twice in one object",
            PatchError::NullFunc => "replacement function is null",
            PatchError::DuplicateState => "state listed twice",
        })
    }
}

impl<'a> Patch<'a> {
    /// A patch of `objects`.
    pub const fn new(name: &'a str, objects: &'a [Object<'a>]) -> Self {
        Patch { name, objects, replace: false, states: &[] }
    }
    /// Mark as an atomic-replace (cumulative) patch.
    pub const fn replace(mut self, yes: bool) -> Self {
        self.replace = yes;
        self
    }
    /// With states.
    pub const fn states(mut self, s: &'a [State]) -> Self {
        self.states = s;
        self
    }
    /// Every function of every object.
    pub fn funcs(&self) -> impl Iterator<Item = (&'a Object<'a>, &'a Func<'a>)> {
        self.objects.iter().flat_map(|o| o.funcs.iter().map(move |f| (o, f)))
    }
    /// Check the declaration as `klp_init_patch()` would, before any
    /// symbol is resolved.
    pub fn validate(&self) -> Result<(), PatchError> {
        if self.name.is_empty() || self.objects.is_empty() {
            return Err(PatchError::Empty);
        }
        for (i, o) in self.objects.iter().enumerate() {
            if o.funcs.is_empty() || o.name == Some("") {
                return Err(PatchError::Empty);
            }
            if self.objects[..i].iter().any(|p| p.name == o.name) {
                return Err(PatchError::DuplicateObject);
            }
            for (j, f) in o.funcs.iter().enumerate() {
                if f.old_name.is_empty() {
                    return Err(PatchError::Empty);
                }
                if f.new_func.0 == 0 {
                    return Err(PatchError::NullFunc);
                }
                if o.funcs[..j].iter().any(|g| g.old_name == f.old_name && g.old_sympos == f.old_sympos) {
                    return Err(PatchError::DuplicateFunc);
                }
            }
        }
        for (i, s) in self.states.iter().enumerate() {
            if self.states[..i].iter().any(|t| t.id == s.id) {
                return Err(PatchError::DuplicateState);
            }
        }
        Ok(())
    }
    /// Whether this patch may be enabled on top of a patch with `older`
    /// states (`klp_is_state_compatible()` in kernel/livepatch/state.c,
    /// through [`state::compatible`](super::state::compatible)): a state
    /// this patch also declares must not go back in version, and a
    /// cumulative (replace) patch must declare every older state.
    pub fn compatible_with(&self, older: &[State]) -> bool {
        super::state::compatible(self.states, self.replace, [((), older)]).is_ok()
    }
}

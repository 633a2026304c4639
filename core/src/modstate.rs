//! A module's `/sys/module/<name>/initstate`, as kernel/module/main.c
//! `show_initstate()` prints it: `"live\n"`, `"coming\n"` or `"going\n"`
//! (any other state is a `BUG()` there).  `find_module()` is not exported,
//! so graft.ko reads the file to learn whether a module object is loaded; a
//! builtin module has no `initstate`, and a module that is not loaded has
//! no directory.

/// A loaded module's state (`enum module_state` without `UNFORMED`, which
/// has no sysfs directory yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleState {
    /// Initialised.
    Live,
    /// Loading: its init has not finished (`MODULE_STATE_COMING`).
    Coming,
    /// Unloading (`MODULE_STATE_GOING`).
    Going,
}

impl ModuleState {
    /// Parse what a read of `initstate` returned: the state word and at most
    /// one `\n`; anything else is `None`.
    pub fn parse(text: &[u8]) -> Option<Self> {
        match text.strip_suffix(b"\n").unwrap_or(text) {
            b"live" => Some(ModuleState::Live),
            b"coming" => Some(ModuleState::Coming),
            b"going" => Some(ModuleState::Going),
            _ => None,
        }
    }

    /// Whether a patch's object for this module is resolved now: `live`
    /// or `coming` (a coming module's symbols and ftrace records exist).
    /// A going one is about to be unpatched by the module notifier.
    pub fn is_loaded(self) -> bool {
        matches!(self, ModuleState::Live | ModuleState::Coming)
    }
}

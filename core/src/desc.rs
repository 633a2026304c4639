//! The rules a patch module's description (graft.h's `graft_patch_desc`)
//! must satisfy, on its bytes: names, `old_sympos`, duplicates.
//!
//! graft.ko's `validate.rs` first proves that every pointer of the
//! description lies in the owner module's memory and reads each string up
//! to its NUL there; then it asks this module whether what it read is
//! acceptable.  The rules are upstream livepatch's (kernel/livepatch/core.c
//! `klp_init_object()`, `klp_init_func()`: a module name shorter than
//! `MODULE_NAME_LEN`, a function name shorter than `KSYM_NAME_LEN`, an
//! object or `<function,sympos>` only once per parent, since each is a
//! sysfs directory), and beyond them what can never name anything: a module
//! name Kbuild cannot produce, a symbol name `/proc/kallsyms` cannot list, a
//! position no object has.
//!
//! Nothing here allocates: [`first_duplicate`] sorts storage the caller
//! supplies.

use core::fmt;

/// `NAME_MAX` (include/uapi/linux/limits.h): the longest patch name, which
/// is the name of the patch's sysfs directory.
pub const NAME_MAX: usize = 255;
/// `MODULE_NAME_LEN` (include/linux/moduleparam.h: `64 - sizeof(unsigned
/// long)`, the size of `struct module.name` with its NUL): a module name is
/// shorter.
pub const MODULE_NAME_LEN: usize = 64 - core::mem::size_of::<usize>();
/// `KSYM_NAME_LEN` (include/linux/kallsyms.h): a symbol name is shorter.
pub const KSYM_NAME_LEN: usize = 512;
/// `__NEW_UTS_LEN` (include/uapi/linux/utsname.h): the longest kernel
/// release (`uname -r`).
pub const UTS_LEN: usize = 64;
/// The largest `old_sympos` (graft.h's `GRAFT_MAX_SYMPOS`): the position
/// of a symbol among those of its name in one object, counted from 1.
/// Real positions are small (no function name of graft's x86_64 guest
/// kernel occurs more than 7 times in its `System.map`); a value past this
/// is not a position but a mistake (a negative number, a pointer, an
/// uninitialised word) and is refused before `/proc/kallsyms` is read for
/// it.
pub const MAX_SYMPOS: u64 = 65535;

/// What is wrong with a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// No bytes before the NUL.
    Empty,
    /// Longer than `max` bytes.
    TooLong {
        /// The longest accepted length.
        max: usize,
    },
    /// A byte that is not a printable ASCII character other than space, at
    /// offset `at` (names are listed space-separated in `/proc/kallsyms`
    /// and used as file names and in scripts).
    NotGraphic {
        /// Offset of the byte.
        at: usize,
        /// The byte.
        byte: u8,
    },
    /// A `/` (a patch name is a sysfs directory, a module name one of
    /// `/sys/module`).
    Slash,
    /// `.` or `..`: names no directory of its own.
    Dots,
    /// A `-` or `,`, which Kbuild turns into `_` in every module name
    /// (scripts/Makefile.lib `name-fix`): the object could never match a
    /// module.
    NeverAModule(u8),
    /// A `:`, which separates a module from a symbol in the names graft
    /// looks up (`module:symbol`).
    Colon,
    /// `vmlinux` as a module name: the name of the kernel's own object
    /// (a NULL object name) and of its sysfs directory.
    Vmlinux,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameError::Empty => f.write_str("empty"),
            NameError::TooLong { max } => write!(f, "longer than {max} bytes"),
            NameError::NotGraphic { at, byte } => {
                write!(f, "byte {at} is {byte:#04x}, not a printable ASCII character other than space")
            }
            NameError::Slash => f.write_str("contains '/'"),
            NameError::Dots => f.write_str("is . or .."),
            NameError::NeverAModule(c) => {
                write!(
                    f,
                    "contains '{}', which Kbuild turns into '_' in module names: no module is called so",
                    c as char
                )
            }
            NameError::Colon => f.write_str("contains ':' (graft looks symbols up as module:symbol)"),
            NameError::Vmlinux => f.write_str("is vmlinux, the kernel's own object (a NULL object name)"),
        }
    }
}

/// Non-empty, at most `max` bytes, printable ASCII without space.
fn graphic(b: &[u8], max: usize) -> Result<(), NameError> {
    if b.is_empty() {
        return Err(NameError::Empty);
    }
    if b.len() > max {
        return Err(NameError::TooLong { max });
    }
    match b.iter().position(|c| !c.is_ascii_graphic()) {
        Some(at) => Err(NameError::NotGraphic { at, byte: b[at] }),
        None => Ok(()),
    }
}

/// A patch name: the name of its directory `/sys/kernel/graft/<name>`
/// (kobject names are sysfs file names: at most `NAME_MAX` bytes, no `/`;
/// `.` and `..` name no directory of their own), printable ASCII without
/// space.
pub fn patch_name(b: &[u8]) -> Result<(), NameError> {
    graphic(b, NAME_MAX)?;
    if b.contains(&b'/') {
        return Err(NameError::Slash);
    }
    if b == b"." || b == b".." {
        return Err(NameError::Dots);
    }
    Ok(())
}

/// A module object's name, as the kernel spells module names: shorter than
/// [`MODULE_NAME_LEN`] (upstream's `klp_init_object()`), printable ASCII
/// without space, no `/`; no `-` or `,`, which Kbuild's `name-fix` turns
/// into `_` in every module's name (`KBUILD_MODNAME`, the name the kernel
/// stores and `find_module()` compares with), so the object would wait for
/// ever for a module that cannot exist (upstream accepts it and never
/// patches); no `:`; not `vmlinux`.
pub fn module_name(b: &[u8]) -> Result<(), NameError> {
    graphic(b, MODULE_NAME_LEN - 1)?;
    if let Some(&c) = b.iter().find(|&&c| c == b'-' || c == b',') {
        return Err(NameError::NeverAModule(c));
    }
    if b.contains(&b'/') {
        return Err(NameError::Slash);
    }
    if b.contains(&b':') {
        return Err(NameError::Colon);
    }
    if b == b"vmlinux" {
        return Err(NameError::Vmlinux);
    }
    Ok(())
}

/// The name of a function to replace: shorter than [`KSYM_NAME_LEN`]
/// (upstream's `klp_init_func()`), printable ASCII without space (a
/// `/proc/kallsyms` line separates its fields with spaces), no `:` (neither
/// gcc's nor clang's symbol names have one; graft's lookups would take it
/// for a module prefix).
pub fn symbol_name(b: &[u8]) -> Result<(), NameError> {
    graphic(b, KSYM_NAME_LEN - 1)?;
    if b.contains(&b':') {
        return Err(NameError::Colon);
    }
    Ok(())
}

/// A kernel release a patch was built for (`UTS_RELEASE`): at most
/// [`UTS_LEN`] bytes of printable ASCII without space, as `uname -r`.
pub fn release(b: &[u8]) -> Result<(), NameError> {
    graphic(b, UTS_LEN)
}

/// Whether `old_sympos` can be a position (at most [`MAX_SYMPOS`]).
pub fn sympos_ok(pos: u64) -> bool {
    pos <= MAX_SYMPOS
}

/// The position a function's `old_sympos` selects when functions are
/// compared: 0 (the name is unique) and 1 (the first) select the same
/// symbol, as upstream names both `<function>,1` in sysfs, where a second
/// one fails.
pub fn sympos_key(pos: u64) -> u64 {
    pos.max(1)
}

/// The first key that occurs twice: sorts `items` (each a key and the
/// index it came from) and returns the indices of the first two items with
/// equal keys, lower index first (`None`: all keys differ).
/// `O(n log n)`, no allocation: the caller supplies the storage.
pub fn first_duplicate<K: Ord>(items: &mut [(K, usize)]) -> Option<(usize, usize)> {
    crate::sort::sort(items);
    items.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| (w[0].1, w[1].1)).min_by_key(|&(_, later)| later)
}

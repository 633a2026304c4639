//! `/proc/kallsyms` as graft reads it: the line format, symbol lookup by
//! name within one object with upstream livepatch's `old_sympos` rules, and
//! the table of vmlinux's shared names.
//!
//! The kernel does not export `kallsyms_on_each_symbol()` or
//! `module_kallsyms_on_each_symbol()` to modules, so graft.ko reads
//! `/proc/kallsyms` and hands the text to this module; nothing here touches
//! the kernel, and nothing allocates: the kernel glue supplies the read
//! buffer ([`for_each_line`]) and the table's storage ([`Collector`]).
//!
//! * [`Symbol::parse`]: one line exactly as kernel/kallsyms.c `s_show()`
//!   prints it, `"%px %c %s\n"` for vmlinux and `"%px %c %s\t[%s]\n"` for a
//!   module (`%px` is the address in hex, all zeros when `kptr_restrict`
//!   hides it from the reader).
//! * [`Lookup`]: how many symbols of one name an object has, and the address
//!   of the one `old_sympos` picks, with the verdict of upstream's
//!   `klp_find_object_symbol()` (kernel/livepatch/core.c): a name with
//!   several symbols needs a position, a position past the count is refused.
//!   Every symbol type counts, as upstream's `klp_find_callback()` counts
//!   them.
//! * [`Collector`] and [`DupTable`]: vmlinux's symbols whose name hash
//!   occurs more than once, sorted by (hash, kallsyms order).  vmlinux does
//!   not change, so one pass over `/proc/kallsyms` at load suffices: a name
//!   not in the table is unique in vmlinux (or absent) and is resolved by
//!   name, and one in it is counted there, each candidate confirmed by name
//!   (hashes may collide).

use core::fmt;

/// One `/proc/kallsyms` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    /// The address; 0 when `kptr_restrict` hides addresses from the reader.
    pub addr: u64,
    /// The type letter (`t`, `T`, `d`, ...; upper case is global).
    pub kind: u8,
    /// The name, never empty (`s_show()` skips nameless symbols).
    pub name: &'a [u8],
    /// The module the symbol belongs to, `None` for vmlinux.
    pub module: Option<&'a [u8]>,
}

impl<'a> Symbol<'a> {
    /// Parse one line (without its `\n`).  `None` for anything `s_show()`
    /// cannot print: an address that is not 1 to 16 hex digits, a type
    /// that is not one printable character between single spaces, an empty
    /// name, a NUL byte, or a tab not followed by exactly `[module]` to the
    /// end of the line.
    ///
    /// Narrower than the C parser this replaces (`kstrtoul()` also took a
    /// `0x` or `+` prefix; `strncmp()` ignored what follows `[module]`):
    /// `s_show()` prints neither, so on real input both agree.
    pub fn parse(line: &'a [u8]) -> Option<Self> {
        if line.contains(&0) {
            return None;
        }
        let sp = line.iter().position(|&b| b == b' ')?;
        let addr = parse_hex(&line[..sp])?;
        let (&kind, rest) = line[sp + 1..].split_first()?;
        if !kind.is_ascii_graphic() {
            return None;
        }
        let rest = rest.strip_prefix(b" ")?;
        let (name, module) = match rest.iter().position(|&b| b == b'\t') {
            None => (rest, None),
            Some(tab) => {
                let m = rest[tab + 1..].strip_prefix(b"[")?.strip_suffix(b"]")?;
                if m.is_empty() || m.contains(&b']') || m.contains(&b'[') {
                    return None;
                }
                (&rest[..tab], Some(m))
            }
        };
        if name.is_empty() {
            return None;
        }
        Some(Symbol { addr, kind, name, module })
    }

    /// Whether the symbol belongs to `object` (`None`: vmlinux).
    pub fn in_object(&self, object: Option<&[u8]>) -> bool {
        self.module == object
    }
}

/// 1 to 16 hex digits (either case) to a value.
fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |v, &c| Some(v << 4 | u64::from(char::from(c).to_digit(16)?)))
}

/// Why [`for_each_line`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinesError<E> {
    /// The reader failed.
    Read(E),
    /// A line does not fit in the buffer (`-E2BIG` in the kernel).
    TooLong,
    /// The reader claimed more bytes than the room it was given.
    BadRead,
}

impl<E: fmt::Display> fmt::Display for LinesError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinesError::Read(e) => write!(f, "read failed: {e}"),
            LinesError::TooLong => f.write_str("a line longer than the buffer"),
            LinesError::BadRead => f.write_str("the reader returned more than it was given room for"),
        }
    }
}

/// Read a text through `buf` with `read` (bytes placed at the start of the
/// slice it is given, 0 at the end) and call `each` for every line, without
/// its `\n`, in order; a last line without `\n` counts too.  Lines may
/// straddle reads; one longer than `buf` is an error.
pub fn for_each_line<E>(
    buf: &mut [u8],
    mut read: impl FnMut(&mut [u8]) -> Result<usize, E>,
    mut each: impl FnMut(&[u8]),
) -> Result<(), LinesError<E>> {
    let mut have = 0;
    loop {
        if have == buf.len() {
            return Err(LinesError::TooLong);
        }
        let room = buf.len() - have;
        let r = read(&mut buf[have..]).map_err(LinesError::Read)?;
        if r > room {
            return Err(LinesError::BadRead);
        }
        if r == 0 {
            if have > 0 {
                each(&buf[..have]);
            }
            return Ok(());
        }
        // Only the new bytes can hold the first newline.
        let mut start = 0;
        let mut from = have;
        have += r;
        while let Some(nl) = buf[from..have].iter().position(|&b| b == b'\n') {
            let end = from + nl;
            each(&buf[start..end]);
            start = end + 1;
            from = start;
        }
        buf.copy_within(start..have, 0);
        have -= start;
    }
}

/// Why a name does not resolve in an object ([`Lookup::check`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymError {
    /// The object has no symbol of that name.
    NotFound,
    /// Several symbols and no `old_sympos` to pick one.
    Ambiguous {
        /// How many symbols carry the name.
        count: u64,
    },
    /// `old_sympos` is past the number of symbols of that name.
    NoSuchPosition {
        /// The position asked for.
        sympos: u64,
        /// How many symbols carry the name.
        count: u64,
    },
}

impl fmt::Display for SymError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SymError::NotFound => f.write_str("no such symbol"),
            SymError::Ambiguous { count } => write!(f, "ambiguous ({count} symbols): old_sympos must say which"),
            SymError::NoSuchPosition { sympos, count } => {
                write!(f, "old_sympos {sympos}, but only {count} symbol(s) of that name")
            }
        }
    }
}

/// One name looked up in one object: the count of its symbols and the
/// address of the `sympos`-th (1-based; 0 means "the only one", and the
/// first is kept so a hidden address can be told from an absent one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// The name.
    pub name: &'a [u8],
    /// `old_sympos`: 0 for a name that must be unique, else its position
    /// in kallsyms order.
    pub sympos: u64,
    /// Symbols of that name seen so far.
    pub count: u64,
    /// Address of the chosen one (0 until seen, or if hidden).
    pub addr: u64,
}

impl<'a> Lookup<'a> {
    /// A lookup of `name` at position `sympos`, nothing seen yet.
    pub const fn new(name: &'a [u8], sympos: u64) -> Self {
        Lookup { name, sympos, count: 0, addr: 0 }
    }

    /// The position whose address is kept.
    pub const fn wanted(&self) -> u64 {
        if self.sympos == 0 {
            1
        } else {
            self.sympos
        }
    }

    /// One more symbol of the name, at `addr`.
    pub fn add(&mut self, addr: u64) {
        self.count = self.count.saturating_add(1);
        if self.count == self.wanted() {
            self.addr = addr;
        }
    }

    /// The chosen symbol exists but kallsyms showed it at address 0
    /// (`kptr_restrict`): the caller cannot resolve it by address.
    pub fn hidden(&self) -> bool {
        self.count >= self.wanted() && self.addr == 0
    }

    /// Upstream's verdict, in its order: unknown, ambiguous, position past
    /// the count.  `Ok` means [`Lookup::addr`] is the symbol (unless
    /// [`Lookup::hidden`]).
    pub fn check(&self) -> Result<(), SymError> {
        match (self.count, self.sympos) {
            (0, _) => Err(SymError::NotFound),
            (count, 0) if count > 1 => Err(SymError::Ambiguous { count }),
            (count, sympos) if sympos > count => Err(SymError::NoSuchPosition { sympos, count }),
            _ => Ok(()),
        }
    }
}

/// Feed one `/proc/kallsyms` line to every lookup of `object` (`None`:
/// vmlinux).  Lines that do not parse or belong elsewhere are ignored.
pub fn scan_line(line: &[u8], object: Option<&[u8]>, lookups: &mut [Lookup<'_>]) {
    let Some(s) = Symbol::parse(line) else { return };
    if !s.in_object(object) {
        return;
    }
    for l in lookups.iter_mut().filter(|l| l.name == s.name) {
        l.add(s.addr);
    }
}

/// 64-bit FNV-1a of a name: the key of the [`DupTable`].
pub fn name_hash(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A vmlinux symbol in the [`DupTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Entry {
    /// [`name_hash`] of its name.
    pub hash: u64,
    /// Its address.
    pub addr: u64,
    /// Its position among vmlinux's visible symbols in kallsyms order.
    pub seq: u32,
}

/// Why the table could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// More vmlinux symbols than the storage holds (`-E2BIG`).
    TooMany {
        /// Symbols seen.
        seen: usize,
        /// Storage entries.
        cap: usize,
    },
    /// No vmlinux symbol with an address: kallsyms hides them from the
    /// reader (`-EPERM`).
    Hidden,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::TooMany { seen, cap } => write!(f, "{seen} vmlinux symbols, room for {cap}"),
            TableError::Hidden => f.write_str("kallsyms hides every address"),
        }
    }
}

/// Collects vmlinux's visible symbols into caller storage, then keeps those
/// whose name hash is shared ([`Collector::finish`]).
#[derive(Debug)]
pub struct Collector<'s> {
    slots: &'s mut [Entry],
    seen: usize,
}

impl<'s> Collector<'s> {
    /// Collect into `slots` (every vmlinux symbol must fit).
    pub fn new(slots: &'s mut [Entry]) -> Self {
        Collector { slots, seen: 0 }
    }

    /// Feed one `/proc/kallsyms` line: a vmlinux symbol with an address is
    /// kept (hidden ones cannot be looked up by address).
    pub fn line(&mut self, line: &[u8]) {
        self.line_of(line, None);
    }

    /// Feed one line, keeping the symbols of `object` (`None`: vmlinux; a
    /// module's name: that module's, as [`Symbol::in_object`] says) that
    /// have an address.  A table of one module's symbols answers lookups in
    /// that module as [`scan_line`] with the same object does.
    pub fn line_of(&mut self, line: &[u8], object: Option<&[u8]>) {
        let Some(s) = Symbol::parse(line) else { return };
        if !s.in_object(object) || s.addr == 0 {
            return;
        }
        if let (Some(slot), Ok(seq)) = (self.slots.get_mut(self.seen), u32::try_from(self.seen)) {
            *slot = Entry { hash: name_hash(s.name), addr: s.addr, seq };
        }
        self.seen = self.seen.saturating_add(1);
    }

    /// vmlinux symbols seen so far.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Sort by (hash, kallsyms order) and keep, at the front of the
    /// storage, the symbols whose hash occurs more than once.  Returns
    /// (symbols seen, symbols kept); the kept ones form a [`DupTable`].
    pub fn finish(self) -> Result<(usize, usize), TableError> {
        let seen = self.seen;
        let all = self.finish_all()?;
        let all = &mut all[..seen];
        let mut kept = 0;
        let mut i = 0;
        while i < all.len() {
            let j = i + all[i..].iter().take_while(|e| e.hash == all[i].hash).count();
            if j - i > 1 {
                all.copy_within(i..j, kept);
                kept += j - i;
            }
            i = j;
        }
        Ok((seen, kept))
    }

    /// Sort every symbol seen by (hash, kallsyms order) and keep them all:
    /// a [`DupTable`] of the whole of vmlinux, in which a name that is not
    /// found is absent (no lookup by name needed).  Returns the sorted
    /// symbols (the front of the storage).
    pub fn finish_all(self) -> Result<&'s mut [Entry], TableError> {
        let cap = self.slots.len().min(u32::MAX as usize);
        if self.seen > cap {
            return Err(TableError::TooMany { seen: self.seen, cap });
        }
        if self.seen == 0 {
            return Err(TableError::Hidden);
        }
        let all = &mut self.slots[..self.seen];
        crate::sort::sort_by_key(all, |e| (e.hash, e.seq));
        Ok(all)
    }
}

/// vmlinux's symbols whose name hash is shared, sorted by (hash, kallsyms
/// order): what [`Collector::finish`] leaves at the front of its storage.
#[derive(Clone, Copy, Debug)]
pub struct DupTable<'a> {
    entries: &'a [Entry],
}

impl<'a> DupTable<'a> {
    /// The table over `entries`; `None` unless they are sorted by (hash,
    /// seq) with distinct positions (a lookup needs that order).
    pub fn new(entries: &'a [Entry]) -> Option<Self> {
        entries.windows(2).all(|w| (w[0].hash, w[0].seq) < (w[1].hash, w[1].seq)).then_some(DupTable { entries })
    }

    /// Its entries.
    pub fn entries(&self) -> &'a [Entry] {
        self.entries
    }

    /// Count `l`'s name in vmlinux from the table, in kallsyms order.
    /// `is_named(addr)` confirms that the symbol at `addr` has the name
    /// (the kernel asks `sprint_symbol_no_offset()`): entries of the same
    /// hash may be other names.  A count of 0 afterwards means the name is
    /// unique in vmlinux or absent: resolve it by name.
    pub fn lookup(&self, l: &mut Lookup<'_>, mut is_named: impl FnMut(u64) -> bool) {
        let h = name_hash(l.name);
        let first = self.entries.partition_point(|e| e.hash < h);
        for e in self.entries[first..].iter().take_while(|e| e.hash == h) {
            if is_named(e.addr) {
                l.add(e.addr);
            }
        }
    }
}

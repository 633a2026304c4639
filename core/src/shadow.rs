//! Shadow variables (kernel/livepatch/shadow.c): data a patch attaches to an
//! existing object (identified by its address) under a numeric id, without
//! changing the object's layout.
//!
//! [`ShadowVars`] is the API a patch sees; the kernel glue backs it with
//! kmalloc and an RCU hash table.  [`ShadowArena`] backs it with
//! caller-supplied storage (tests, and the shape the kernel table follows).

use core::fmt;

/// Shadow variable errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShadowError {
    /// `alloc` of an (obj, id) that already exists.
    Exists,
    /// No room.
    NoMemory,
    /// The constructor failed with this errno.
    Ctor(i32),
}

impl fmt::Display for ShadowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShadowError::Exists => f.write_str("shadow variable already exists"),
            ShadowError::NoMemory => f.write_str("no memory for shadow variable"),
            ShadowError::Ctor(e) => write!(f, "shadow constructor failed ({e})"),
        }
    }
}

/// Constructor: fills fresh zeroed data; an `Err(errno)` cancels the alloc.
pub type Ctor<'c> = &'c mut dyn FnMut(&mut [u8]) -> Result<(), i32>;
/// Destructor: sees the data before it is freed.
pub type Dtor<'c> = &'c mut dyn FnMut(&mut [u8]);

/// The shadow variable API (`klp_shadow_get/alloc/get_or_alloc/free/free_all`).
pub trait ShadowVars {
    /// The data of (obj, id).
    fn get(&mut self, obj: usize, id: u64) -> Option<&mut [u8]>;
    /// Attach `size` bytes to (obj, id); fails if it exists.
    fn alloc(&mut self, obj: usize, id: u64, size: usize, ctor: Option<Ctor<'_>>) -> Result<&mut [u8], ShadowError>;
    /// The existing data, or new data as `alloc` would make it.
    fn get_or_alloc(
        &mut self,
        obj: usize,
        id: u64,
        size: usize,
        ctor: Option<Ctor<'_>>,
    ) -> Result<&mut [u8], ShadowError>;
    /// Detach (obj, id), running `dtor` first.
    fn free(&mut self, obj: usize, id: u64, dtor: Option<Dtor<'_>>);
    /// Detach `id` from every object.
    fn free_all(&mut self, id: u64, dtor: Option<Dtor<'_>>);
}

/// One live shadow variable of a [`ShadowArena`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShadowSlot {
    obj: usize,
    id: u64,
    off: usize,
    len: usize,
    used: bool,
}

/// Shadow variables in caller-supplied storage: `slots` index the data, each
/// datum gets a fixed `stride` of `data`.
#[derive(Debug)]
pub struct ShadowArena<'s> {
    slots: &'s mut [ShadowSlot],
    data: &'s mut [u8],
    stride: usize,
}

impl<'s> ShadowArena<'s> {
    /// An empty arena; each variable may hold up to `data.len() / slots.len()` bytes.
    pub fn new(slots: &'s mut [ShadowSlot], data: &'s mut [u8]) -> Self {
        let stride = if slots.is_empty() { 0 } else { data.len() / slots.len() };
        slots.fill(ShadowSlot::default());
        ShadowArena { slots, data, stride }
    }
    /// Live variables.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.used).count()
    }
    /// Whether none is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn find(&self, obj: usize, id: u64) -> Option<usize> {
        self.slots.iter().position(|s| s.used && s.obj == obj && s.id == id)
    }
    fn data_of(&mut self, i: usize) -> &mut [u8] {
        let s = self.slots[i];
        &mut self.data[s.off..s.off + s.len]
    }
    fn create(&mut self, obj: usize, id: u64, size: usize, ctor: Option<Ctor<'_>>) -> Result<usize, ShadowError> {
        if size > self.stride {
            return Err(ShadowError::NoMemory);
        }
        let i = self.slots.iter().position(|s| !s.used).ok_or(ShadowError::NoMemory)?;
        let off = i * self.stride;
        let d = &mut self.data[off..off + size];
        d.fill(0);
        if let Some(c) = ctor {
            c(d).map_err(ShadowError::Ctor)?;
        }
        self.slots[i] = ShadowSlot { obj, id, off, len: size, used: true };
        Ok(i)
    }
}

impl ShadowVars for ShadowArena<'_> {
    fn get(&mut self, obj: usize, id: u64) -> Option<&mut [u8]> {
        let i = self.find(obj, id)?;
        Some(self.data_of(i))
    }
    fn alloc(&mut self, obj: usize, id: u64, size: usize, ctor: Option<Ctor<'_>>) -> Result<&mut [u8], ShadowError> {
        if self.find(obj, id).is_some() {
            return Err(ShadowError::Exists);
        }
        let i = self.create(obj, id, size, ctor)?;
        Ok(self.data_of(i))
    }
    fn get_or_alloc(
        &mut self,
        obj: usize,
        id: u64,
        size: usize,
        ctor: Option<Ctor<'_>>,
    ) -> Result<&mut [u8], ShadowError> {
        let i = match self.find(obj, id) {
            Some(i) => i,
            None => self.create(obj, id, size, ctor)?,
        };
        Ok(self.data_of(i))
    }
    fn free(&mut self, obj: usize, id: u64, dtor: Option<Dtor<'_>>) {
        if let Some(i) = self.find(obj, id) {
            if let Some(d) = dtor {
                d(self.data_of(i));
            }
            self.slots[i].used = false;
        }
    }
    fn free_all(&mut self, id: u64, mut dtor: Option<Dtor<'_>>) {
        for i in 0..self.slots.len() {
            if self.slots[i].used && self.slots[i].id == id {
                if let Some(d) = dtor.as_mut() {
                    d(self.data_of(i));
                }
                self.slots[i].used = false;
            }
        }
    }
}

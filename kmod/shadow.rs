// SPDX-License-Identifier: GPL-2.0
//! Shadow variables: upstream's `klp_shadow_*` (kernel/livepatch/shadow.c,
//! Documentation/livepatch/shadow-vars.rst) for graft's patch modules,
//! exported by `shim.c` as `graft_shadow_*` (graft.h).
//!
//! A shadow variable is `size` zeroed bytes (kmalloc'ed with the caller's
//! gfp flags) attached to any object address under a numeric id.  As
//! upstream: a hash table keyed by the object address; lookups walk a
//! bucket under the RCU read lock; every update (attach, detach) holds one
//! spinlock with interrupts saved, so the API is usable from any context
//! the gfp flags allow; a detached variable is freed after an RCU grace
//! period (`kfree_rcu`), so a concurrent lookup never touches freed memory.
//! The constructor and destructor run under that spinlock (they must not
//! sleep, as upstream documents).
//!
//! Where graft differs from upstream: a duplicate `alloc` is refused with a
//! log line instead of a `WARN()` (a patch module's bug must not stop a
//! `panic_on_warn` kernel), and graft.ko frees every variable left when it
//! unloads (no patch module can still use them: they depend on graft.ko).

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_ulong},
    prelude::*,
};

/// `graft_shadow_ctor_t` (graft.h).
type Ctor = Option<unsafe extern "C" fn(obj: *mut c_void, data: *mut c_void, ctor_data: *mut c_void) -> c_int>;
/// `graft_shadow_dtor_t` (graft.h).
type Dtor = Option<unsafe extern "C" fn(obj: *mut c_void, data: *mut c_void)>;

use crate::ffi::{graft_shim_kzalloc, graft_shim_shadow_lock, graft_shim_shadow_unlock};

/// One variable (upstream's `struct klp_shadow`); its data follows it.
#[repr(C)]
struct Node {
    /// The next node of the bucket (RCU-published).
    next: AtomicPtr<Node>,
    rcu: bindings::kvfree_rcu_head,
    obj: *mut c_void,
    id: c_ulong,
}

impl Node {
    /// The data right after the header (8-byte aligned: the header is).
    fn data(n: *mut Node) -> *mut c_void {
        // SAFETY: every node is allocated with room for its data after it.
        unsafe { n.add(1) }.cast()
    }
}

const BITS: u32 = 8;
/// Buckets of singly linked nodes.
static BUCKETS: [AtomicPtr<Node>; 1 << BITS] = [const { AtomicPtr::new(null_mut()) }; 1 << BITS];

/// `hash_ptr()`'s multiplicative hash of the object address.
fn bucket(obj: *mut c_void) -> &'static AtomicPtr<Node> {
    let h = (obj as u64).wrapping_mul(0x61c8_8646_80b5_83eb) >> (64 - BITS);
    &BUCKETS[h as usize]
}

/// The node of (obj, id), or null.  The caller holds the RCU read lock or
/// the shadow lock (which disables preemption, an RCU read section too).
fn find(obj: *mut c_void, id: c_ulong) -> *mut Node {
    let mut n = bucket(obj).load(Ordering::Acquire);
    while !n.is_null() {
        // SAFETY: nodes reachable from a bucket stay allocated until a
        // grace period after they are unlinked; we are in a read section.
        let node = unsafe { &*n };
        if node.obj == obj && node.id == id {
            return n;
        }
        n = node.next.load(Ordering::Acquire);
    }
    null_mut()
}

/// RAII: the shadow lock held, interrupts saved.
struct Locked(c_ulong);
impl Locked {
    fn new() -> Self {
        Locked(graft_shim_shadow_lock())
    }
}
impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: releases the lock taken in `new`.
        unsafe { graft_shim_shadow_unlock(self.0) }
    }
}

/// Unlink every node of `bucket` that `pick` selects (shadow lock held):
/// run `dtor` on its data, then free it after a grace period.  Returns how
/// many went.
fn unlink_where(_l: &Locked, b: &AtomicPtr<Node>, mut pick: impl FnMut(&Node) -> bool, dtor: Dtor) -> usize {
    let mut gone = 0;
    let mut link = b;
    loop {
        let n = link.load(Ordering::Acquire);
        if n.is_null() {
            return gone;
        }
        // SAFETY: a linked node; the lock keeps it linked while we look.
        let node = unsafe { &mut *n };
        if !pick(node) {
            link = &node.next;
            continue;
        }
        // Readers past this node keep walking its `next`, which stays
        // valid until the grace period ends (kfree_rcu below).
        link.store(node.next.load(Ordering::Relaxed), Ordering::Release);
        if let Some(d) = dtor {
            // SAFETY: the patch module's destructor, with the object and
            // the data it was given at alloc.
            unsafe { d(node.obj, Node::data(n)) };
        }
        // SAFETY: `kfree_rcu(node, rcu)`: the node came from kzalloc and is
        // no longer reachable for new readers.
        unsafe { bindings::kvfree_call_rcu(&mut node.rcu, n.cast()) };
        gone += 1;
    }
}

/// `klp_shadow_get()`.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_shadow_get(obj: *mut c_void, id: c_ulong) -> *mut c_void {
    let _rcu = kernel::sync::rcu::read_lock();
    let n = find(obj, id);
    if n.is_null() {
        null_mut()
    } else {
        Node::data(n)
    }
}

/// `__klp_shadow_get_or_alloc()`: the existing data of (obj, id), or new
/// zeroed data (then `ctor` filled) attached to it; with `fail_if_exists`
/// (`klp_shadow_alloc()`) an existing variable is an error, NULL.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_shadow_get_or_alloc(
    obj: *mut c_void,
    id: c_ulong,
    size: usize,
    gfp: c_uint,
    ctor: Ctor,
    ctor_data: *mut c_void,
    fail_if_exists: bool,
) -> *mut c_void {
    let exists = |d: *mut c_void| {
        if fail_if_exists {
            pr_err!("shadow: duplicate shadow variable <{:p}, {:#x}>\n", obj, id);
            return null_mut();
        }
        d
    };
    let d = graft_rs_shadow_get(obj, id);
    if !d.is_null() {
        return exists(d);
    }
    let Some(total) = size.checked_add(size_of::<Node>()) else {
        pr_err!("shadow: <{:p}, {:#x}>: size {} too large\n", obj, id, size);
        return null_mut();
    };
    // Allocated before the lock, with the caller's flags, as upstream: the
    // flags say whether it may sleep.
    let n: *mut Node = graft_shim_kzalloc(total, gfp).cast();
    if n.is_null() {
        return null_mut();
    }
    let l = Locked::new();
    // Another context may have attached (obj, id) meanwhile.
    let other = find(obj, id);
    if !other.is_null() {
        drop(l);
        // SAFETY: ours, never published.
        unsafe { bindings::kfree(n.cast()) };
        return exists(Node::data(other));
    }
    // SAFETY: `n` is ours (zeroed, `total` bytes); not yet published.
    unsafe {
        (*n).obj = obj;
        (*n).id = id;
    }
    if let Some(c) = ctor {
        // SAFETY: the patch module's constructor, on the fresh data, under
        // the lock as upstream.
        let err = unsafe { c(obj, Node::data(n), ctor_data) };
        if err != 0 {
            drop(l);
            // SAFETY: ours, never published.
            unsafe { bindings::kfree(n.cast()) };
            pr_err!("shadow: failed to construct shadow variable <{:p}, {:#x}> ({})\n", obj, id, err);
            return null_mut();
        }
    }
    let b = bucket(obj);
    // SAFETY: `n` is ours until the store below publishes it.
    unsafe { (*n).next.store(b.load(Ordering::Relaxed), Ordering::Relaxed) };
    // Release: a reader that sees `n` sees its fields and data
    // (rcu_assign_pointer()).
    b.store(n, Ordering::Release);
    drop(l);
    Node::data(n)
}

/// `klp_shadow_free()`.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_shadow_free(obj: *mut c_void, id: c_ulong, dtor: Dtor) {
    let l = Locked::new();
    let mut once = false;
    unlink_where(
        &l,
        bucket(obj),
        |n| {
            let hit = !once && n.obj == obj && n.id == id;
            once |= hit;
            hit
        },
        dtor,
    );
}

/// `klp_shadow_free_all()`.
#[unsafe(no_mangle)]
extern "C" fn graft_rs_shadow_free_all(id: c_ulong, dtor: Dtor) {
    let l = Locked::new();
    for b in BUCKETS.iter() {
        unlink_where(&l, b, |n| n.id == id, dtor);
    }
}

/// graft.ko unloads: free whatever the patch modules left (without their
/// destructors: those modules are gone).
pub(crate) fn exit() {
    let l = Locked::new();
    let gone: usize = BUCKETS.iter().map(|b| unlink_where(&l, b, |_| true, None)).sum();
    drop(l);
    if gone > 0 {
        pr_info!("shadow: freed {} shadow variable(s) left at unload\n", gone);
    }
    // The frees above are queued to RCU and run no code of this module:
    // nothing to wait for.
}

// SPDX-License-Identifier: GPL-2.0
// The body of graft's S13 state patches of version 2, graft_test_state2
// and graft_test_state3: upstream's
// tools/testing/selftests/livepatch/test_modules/test_klp_state2.c (which
// test_klp_state3.c includes the same way) in Rust, with graft_patch!'s
// states.  Each module `include!`s it after graft_abi.rs, names itself in
// MODNAME, and declares its patch with `graft_test_state_v2!`.  (No inner
// doc comment: `include!` takes items only.)
//
// The states are graft_test_state.c's: 1, CONSOLE_LOGLEVEL_STATE, at
// version 2 ("supports migration": a patch that finds the state installed
// takes it over, and hands it back when its transition is reversed); and 2,
// CMDLINE_COUNT_STATE, version 1, the shadow counters of /proc/cmdline
// reads, which survive a replace by a patch that carries the state and go
// with the last one.

/// Upstream's CONSOLE_LOGLEVEL_STATE.
const CONSOLE_LOGLEVEL_STATE: c_ulong = 1;
/// The shadow read counters of /proc/cmdline (shadow id 2).
const CMDLINE_COUNT_STATE: c_ulong = 2;
/// The version of CONSOLE_LOGLEVEL_STATE these patches declare.
const LOGLEVEL_VERSION: c_uint = 2;

/// `console_loglevel` (`console_printk[0]`, include/linux/printk.h).
fn console_loglevel() -> &'static AtomicI32 {
    // SAFETY: `console_printk` is the kernel's static array of four ints
    // (kernel/printk/printk.c, exported); the first is console_loglevel,
    // which the kernel reads and writes as a plain int.
    unsafe { AtomicI32::from_ptr((&raw mut bindings::console_printk).cast::<c_int>()) }
}

/// The replacement of `cmdline_proc_show()`: counts the reads in a shadow
/// variable of the inode, and says so.
///
/// # Safety
///
/// Called only in place of `cmdline_proc_show`, with its seq_file.
unsafe extern "C" fn state_cmdline_proc_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: procfs hands an open seq_file whose file has an inode.
    let inode: *mut c_void = unsafe { (*(*m).file).f_inode }.cast();
    // SAFETY: 8 zeroed bytes attached to the inode (or the existing ones);
    // GFP_KERNEL: seq_file show runs in process context.
    let p = unsafe {
        graft_shadow_get_or_alloc(inode, CMDLINE_COUNT_STATE, size_of::<u64>(), bindings::GFP_KERNEL, None, null_mut())
    };
    let n = if p.is_null() {
        0
    } else {
        // SAFETY: the shadow data is 8-byte aligned and lives until the last
        // patch of the state frees it, after every task left this function.
        unsafe { AtomicU64::from_ptr(p.cast()) }.fetch_add(1, Ordering::Relaxed) + 1
    };
    // SAFETY: the format takes a string, an int, an unsigned int and an
    // unsigned long long, given.
    unsafe {
        bindings::seq_printf(
            m,
            c"%s: state %d v%u, read %llu\n".as_char_ptr(),
            MODNAME.as_char_ptr(),
            CONSOLE_LOGLEVEL_STATE as c_int,
            LOGLEVEL_VERSION,
            n,
        )
    };
    0
}

/// The previous patches' state `id` (graft.h's graft_get_prev_state()).
fn prev_state(id: c_ulong) -> *mut State {
    // SAFETY: a lookup; graft answers NULL outside a transition.
    unsafe { graft_get_prev_state(id) }
}

fn allocate_loglevel_state() -> c_int {
    let s = graft_state(CONSOLE_LOGLEVEL_STATE);
    if s.is_null() {
        return EINVAL.to_errno();
    }
    if !prev_state(CONSOLE_LOGLEVEL_STATE).is_null() {
        pr_info!("allocate_loglevel_state: space to store console_loglevel already allocated\n");
        return 0;
    }
    let Ok(b) = KBox::new(0 as c_int, GFP_KERNEL) else { return ENOMEM.to_errno() };
    // SAFETY: this module's state, written by its callbacks only, one at a
    // time (graft calls them under its mutex).
    unsafe { (*s).data = KBox::into_raw(b).cast() };
    pr_info!("allocate_loglevel_state: allocating space to store console_loglevel\n");
    0
}

fn fix_console_loglevel() {
    let s = graft_state(CONSOLE_LOGLEVEL_STATE);
    if s.is_null() {
        return;
    }
    let prev = prev_state(CONSOLE_LOGLEVEL_STATE);
    if !prev.is_null() {
        pr_info!("fix_console_loglevel: taking over the console_loglevel change\n");
        // SAFETY: both states are live (the previous patch is installed
        // until this callback has run); callbacks run one at a time.
        unsafe { (*s).data = (*prev).data };
        return;
    }
    // SAFETY: this module's state, written by its callbacks only.
    let data = unsafe { (*s).data }.cast::<c_int>();
    // (upstream's test writes it blindly: a lost state would oops here)
    if data.is_null() {
        pr_err!("fix_console_loglevel: no space to store console_loglevel\n");
        return;
    }
    pr_info!("fix_console_loglevel: fixing console_loglevel\n");
    // SAFETY: `data` is the int allocate_loglevel_state() allocated.
    unsafe { data.write(console_loglevel().load(Ordering::Relaxed)) };
    console_loglevel().store(bindings::CONSOLE_LOGLEVEL_MOTORMOUTH as c_int, Ordering::Relaxed);
}

fn restore_console_loglevel() {
    let s = graft_state(CONSOLE_LOGLEVEL_STATE);
    if s.is_null() {
        return;
    }
    if !prev_state(CONSOLE_LOGLEVEL_STATE).is_null() {
        pr_info!("restore_console_loglevel: passing the console_loglevel change back to the old livepatch\n");
        return;
    }
    // SAFETY: this module's state, written by its callbacks only.
    let data = unsafe { (*s).data }.cast::<c_int>();
    if data.is_null() {
        pr_err!("restore_console_loglevel: no stored console_loglevel\n");
        return;
    }
    pr_info!("restore_console_loglevel: restoring console_loglevel\n");
    // SAFETY: `data` holds the saved level (fixed or taken over).
    console_loglevel().store(unsafe { data.read() }, Ordering::Relaxed);
}

fn free_loglevel_state() {
    let s = graft_state(CONSOLE_LOGLEVEL_STATE);
    if s.is_null() {
        return;
    }
    if !prev_state(CONSOLE_LOGLEVEL_STATE).is_null() {
        pr_info!("free_loglevel_state: keeping space to store console_loglevel\n");
        return;
    }
    pr_info!("free_loglevel_state: freeing space for the stored console_loglevel\n");
    // SAFETY: kmalloc'd by whichever patch allocated it (this one's KBox or
    // graft_test_state's kzalloc()), and no longer used by anyone: kfree()
    // frees either.
    unsafe {
        bindings::kfree((*s).data);
        (*s).data = null_mut();
    }
}

/// The shadow counters of CMDLINE_COUNT_STATE go with the state.
fn free_cmdline_counters() {
    if !prev_state(CMDLINE_COUNT_STATE).is_null() {
        pr_info!("free_cmdline_counters: keeping the cmdline read counters\n");
        return;
    }
    pr_info!("free_cmdline_counters: freeing the cmdline read counters\n");
    // SAFETY: frees the state's shadow variables; no destructor.
    unsafe { graft_shadow_free_all(CMDLINE_COUNT_STATE, None) };
}

/// `pre_patch`.
///
/// # Safety
///
/// Called by graft with this module's object description.
unsafe extern "C" fn pre_patch_callback(_obj: *const ObjectDesc) -> c_int {
    pr_info!("pre_patch_callback: vmlinux\n");
    allocate_loglevel_state()
}

/// `post_patch`.
///
/// # Safety
///
/// Called by graft with this module's object description.
unsafe extern "C" fn post_patch_callback(_obj: *const ObjectDesc) {
    pr_info!("post_patch_callback: vmlinux\n");
    fix_console_loglevel();
}

/// `pre_unpatch`.
///
/// # Safety
///
/// Called by graft with this module's object description.
unsafe extern "C" fn pre_unpatch_callback(_obj: *const ObjectDesc) {
    pr_info!("pre_unpatch_callback: vmlinux\n");
    restore_console_loglevel();
}

/// `post_unpatch`.
///
/// # Safety
///
/// Called by graft with this module's object description.
unsafe extern "C" fn post_unpatch_callback(_obj: *const ObjectDesc) {
    pr_info!("post_unpatch_callback: vmlinux\n");
    free_loglevel_state();
    free_cmdline_counters();
}

/// The patch of a version-2 state module named `$name` (its `module!`
/// type `$ty`): a replace patch, as upstream's.
macro_rules! graft_test_state_v2 {
    ($ty:ident, $name:literal) => {
        graft_patch! {
            type: $ty,
            name: $name,
            replace: true,
            states: [
                { id: 1, version: 2 },
                { id: 2, version: 1 },
            ],
            callbacks: {
                pre_patch: pre_patch_callback,
                post_patch: post_patch_callback,
                pre_unpatch: pre_unpatch_callback,
                post_unpatch: post_unpatch_callback,
            },
            funcs: [
                {
                    old: "cmdline_proc_show",
                    new: state_cmdline_proc_show,
                    sig: unsafe extern "C" fn(*mut bindings::seq_file, *mut c_void) -> c_int,
                },
            ],
        }
        const _: () =
            assert!(GRAFT_STATE_IDS[0] == CONSOLE_LOGLEVEL_STATE && GRAFT_STATE_IDS[1] == CMDLINE_COUNT_STATE);
    };
}

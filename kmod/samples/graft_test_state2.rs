// SPDX-License-Identifier: GPL-2.0
//! graft's S13 system states: upstream's test_klp_state2.c, version 2 of
//! the console_loglevel state (it takes over the change of an installed
//! patch and hands it back on a reversed transition), a replace patch of
//! `cmdline_proc_show()`.  The code is graft_test_state_v2.rs, shared with
//! graft_test_state3; the states are declared with `graft_patch!`.

use core::ptr::null_mut;
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_ulong, c_void},
    prelude::*,
};

module! {
    type: TestState2,
    name: "graft_test_state2",
    authors: ["graft developers"],
    description: "graft test: system state version 2 (upstream's test_klp_state2)",
    license: "GPL",
}

include!("graft_abi.rs");

/// This module's name, in what /proc/cmdline reads.
const MODNAME: &CStr = c"graft_test_state2";

include!("graft_test_state_v2.rs");

graft_test_state_v2!(TestState2, "graft_test_state2");

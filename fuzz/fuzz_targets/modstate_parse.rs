//! /sys/module/<name>/initstate (graft_core::ModuleState::parse): any text
//! parses without panicking, and to a state exactly when it is what
//! kernel/module/main.c show_initstate() prints, with or without its `\n`.
#![no_main]

use graft_core::ModuleState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let words: [(&[u8], ModuleState); 3] =
        [(b"live", ModuleState::Live), (b"coming", ModuleState::Coming), (b"going", ModuleState::Going)];
    let want = words.iter().find(|(w, _)| data == *w || data == [*w, b"\n"].concat()).map(|&(_, s)| s);
    assert_eq!(ModuleState::parse(data), want);
});

//! `graft-inspect sites FILE | head`: the reader closing the pipe early is
//! not an error (it used to panic in `print!`).

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn closed_pipe_is_not_a_panic() {
    // Any ELF graft-inspect reads will do: this test's own binary (its
    // table has at least the header line to write into the closed pipe).
    let bin = env!("CARGO_BIN_EXE_graft-inspect");
    let input = std::env::current_exe().unwrap();
    let mut child = Command::new(bin)
        .args(["sites", input.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing: close our end at once, as `head -n0` would.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!err.contains("panicked"), "graft-inspect panicked: {err}");
    assert!(status.code().is_some(), "killed by a signal: {status:?}");
}

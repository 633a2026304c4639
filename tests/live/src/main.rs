//! Runs under `qemu-<arch>-static`: live-patch and unwind tests on the arch's
//! own CPU model.  Prints one line per test with its counts.

use graft_core::Arch;
use graft_live::native;

fn main() {
    let cycles = std::env::var("GRAFT_LIVE_CYCLES").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let r = graft_live::live_patch::<native::Native>(3, cycles);
    println!(
        "live-patch {}: cycles={} calls={} new-results={} assertions={}",
        native::Native::NAME,
        r.cycles,
        r.calls,
        r.new_results,
        r.assertions
    );
    // Both versions must have been seen, or the test proved nothing.
    assert!(r.new_results > 0 && r.new_results < r.calls, "callers never saw both versions: {r:?}");
    if let Some((calls, assertions)) = <native::Native as graft_live::LiveArch>::trampoline_test() {
        println!("trampolines {}: calls={} assertions={}", native::Native::NAME, calls, assertions);
        assert!(calls > 0 && assertions > 0);
    }
    let u = native::unwind_test();
    println!("unwind {}: frames={} assertions={}", native::Native::NAME, u.frames, u.assertions);
    assert!(u.frames > 0 && u.assertions > 0);
    println!("ok");
}

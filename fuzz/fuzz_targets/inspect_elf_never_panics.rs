#![no_main]
//! graft-inspect's ELF reading never panics and always terminates on
//! arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = graft_inspect::sites(data) {
        let _ = graft_inspect::to_json_lines(&r);
    }
});

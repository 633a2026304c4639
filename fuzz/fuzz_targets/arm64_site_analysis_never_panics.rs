//! arm64: entry-site analysis of arbitrary windows never panics, and a
//! recognised site lies one or two words after the symbol, inside the window.
#![no_main]

use graft_arm64::Arm64;
use graft_core::EntrySite;
use graft_fuzz_input::{site, SiteInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(SiteInput { code, func, recorded }) = site::decode_arm64(data) else { return };
    if let Ok(site) = Arm64::analyze_site(code, func, recorded) {
        assert!(site.addr.0 == func.0 + 4 || site.addr.0 == func.0 + 8);
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= 4));
    }
});

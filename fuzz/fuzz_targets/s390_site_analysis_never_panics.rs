//! s390 entry-site analysis never panics on any window, function address or
//! record, and a site it accepts lies inside the window.
#![no_main]

use graft_core::EntrySite;
use graft_fuzz_input::{site, SiteInput};
use graft_s390::S390;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(SiteInput { code, func, recorded }) = site::decode_s390(data) else { return };
    if let Ok(site) = S390::analyze_site(code, func, recorded) {
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= usize::from(site.len)));
    }
});

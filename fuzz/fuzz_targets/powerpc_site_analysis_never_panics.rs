//! powerpc entry-site analysis never panics on arbitrary text windows, and a
//! site it reports lies in the window within 16 bytes of the entry.
#![no_main]

use graft_core::EntrySite;
use graft_fuzz_input::{site, SiteInput};
use graft_powerpc::Powerpc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(SiteInput { code, func, recorded }) = site::decode_powerpc(data) else { return };
    if let Ok(site) = Powerpc::analyze_site(code, func, recorded) {
        assert!(site.addr.0.wrapping_sub(func.0) <= 16);
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= 4));
    }
});

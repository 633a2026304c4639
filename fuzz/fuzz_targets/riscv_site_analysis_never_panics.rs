//! riscv: entry-site analysis of arbitrary windows never panics, and a
//! recognised site is the word after the symbol, inside the window.
#![no_main]

use graft_core::EntrySite;
use graft_fuzz_input::{site, SiteInput};
use graft_riscv::Riscv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(SiteInput { code, func, recorded }) = site::decode_riscv(data) else { return };
    if let Ok(site) = Riscv::analyze_site(code, func, recorded) {
        assert_eq!(site.addr.0, func.0 + 4);
        assert!(recorded.is_none_or(|r| r == site.addr));
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= 4));
    }
});

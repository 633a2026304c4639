//! x86_64: site analysis of an arbitrary window, symbol and record never
//! panics, and an accepted site lies at the symbol or after its ENDBR and
//! holds the instruction it reports.
#![no_main]

use graft_core::{Codec, EntrySite, Insn, SiteState};
use graft_fuzz_input::{site, SiteInput};
use graft_x86_64::X86_64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(SiteInput { code, func, recorded }) = site::decode_x86_64(data) else { return };
    if let Ok(site) = X86_64::analyze_site(code, func, recorded) {
        assert!(site.addr == func || site.addr.0 == func.0 + 4);
        assert!(recorded.is_none() || recorded == Some(site.addr));
        let insn = X86_64::decode(site.addr, code.at(site.addr).expect("site in window")).expect("site decodes");
        match (insn, site.state) {
            (Insn::Nop { .. }, SiteState::Disabled) => {}
            (Insn::Branch { target, .. }, SiteState::Enabled { target: t } | SiteState::Unconverted { target: t }) => {
                assert_eq!(target, t)
            }
            (i, s) => panic!("{i:?} reported as {s:?}"),
        }
    }
});

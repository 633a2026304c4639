//! x86_64: site analysis of an arbitrary window, symbol and record never
//! panics, and an accepted site lies at the symbol or after its ENDBR and
//! holds the instruction it reports.
#![no_main]

use graft_core::{Code, Codec, EntrySite, Insn, SiteState, TextAddr};
use graft_x86_64::X86_64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, bytes)) = data.split_first_chunk::<10>() else { return };
    let start = TextAddr(u64::from_le_bytes(head[..8].try_into().unwrap()));
    let Some(func) = start.checked_offset(i64::from(head[8] as i8)) else { return };
    let recorded = (head[9] & 0x80 != 0).then(|| func.checked_offset(i64::from(head[9] & 0x0f))).flatten();
    let code = Code { start, bytes };
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

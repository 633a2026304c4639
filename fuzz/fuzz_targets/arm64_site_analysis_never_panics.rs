//! arm64: entry-site analysis of arbitrary windows never panics, and a
//! recognised site lies one or two words after the symbol, inside the window.
#![no_main]

use graft_arm64::Arm64;
use graft_core::{Code, EntrySite, TextAddr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, bytes)) = data.split_first_chunk::<17>() else { return };
    let start = u64::from_le_bytes(head[..8].try_into().unwrap());
    let func = start.wrapping_add(u64::from(head[8] & 0x3f));
    let recorded = (head[16] & 1 == 1).then(|| TextAddr(u64::from_le_bytes(head[9..17].try_into().unwrap())));
    let code = Code { start: TextAddr(start), bytes };
    if let Ok(site) = Arm64::analyze_site(code, TextAddr(func), recorded) {
        assert!(site.addr.0 == func + 4 || site.addr.0 == func + 8);
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= 4));
    }
});

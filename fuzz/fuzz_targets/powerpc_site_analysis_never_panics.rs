//! powerpc entry-site analysis never panics on arbitrary text windows, and a
//! site it reports lies in the window within 16 bytes of the entry.
#![no_main]

use graft_core::{Code, EntrySite, TextAddr};
use graft_powerpc::Powerpc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, bytes)) = data.split_first_chunk::<10>() else { return };
    let start = u64::from_le_bytes(head[..8].try_into().unwrap());
    let func = TextAddr(start.wrapping_add(u64::from(head[8] % 48)));
    let recorded = (head[9] & 0x80 != 0).then(|| TextAddr(start.wrapping_add(u64::from(head[9] % 48))));
    let code = Code { start: TextAddr(start), bytes };
    if let Ok(site) = Powerpc::analyze_site(code, func, recorded) {
        assert!(site.addr.0.wrapping_sub(func.0) <= 16);
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= 4));
    }
});

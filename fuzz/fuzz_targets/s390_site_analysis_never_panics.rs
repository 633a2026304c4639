//! s390 entry-site analysis never panics on any window, function address or
//! record, and a site it accepts lies inside the window.
#![no_main]

use graft_core::{Code, EntrySite, TextAddr};
use graft_s390::S390;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, bytes)) = data.split_first_chunk::<17>() else { return };
    let start = u64::from_be_bytes(head[..8].try_into().unwrap());
    let func = TextAddr(start.wrapping_add(u64::from(head[8] & 0x1f)));
    let rec = u64::from_be_bytes(head[9..17].try_into().unwrap());
    let recorded = (rec & 1 == 0).then_some(if rec & 2 == 0 { func } else { TextAddr(rec) });
    let code = Code { start: TextAddr(start), bytes };
    if let Ok(site) = S390::analyze_site(code, func, recorded) {
        assert!(code.at(site.addr).is_some_and(|b| b.len() >= usize::from(site.len)));
    }
});

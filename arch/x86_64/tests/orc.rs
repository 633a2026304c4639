//! The ORC unwinder over synthetic tables and stacks laid out as Linux 7.3
//! lays out x86_64 task stacks (`graft_x86_64::testing::OrcStack`): the
//! walks it accepts, one corruption per refusal, the lookup table, and
//! properties (random frame chains walk back exactly; on frame-pointer
//! stacks with the frame-pointer entry everywhere, ORC agrees with the
//! frame-pointer unwinder).  Debian's real tables: `tests/orc_real.rs`.

use graft_core::{
    ArchUnwinder, SavedRegs, StackAddr, StackBounds, TextAddr, TextInfo, TextKind, Unreliable, UnwindReliable,
};
use graft_x86_64::orc::{
    build_lookup, kind, lookup_words, reg, ModuleList, ModuleOrc, NoModules, Orc, OrcEntry, OrcError, OrcModules,
    OrcTable, VmlinuxOrc,
};
use graft_x86_64::testing::{KernelStack, OrcStack, KERNEL_CS};
use graft_x86_64::unwind::{PT_REGS_CS, PT_REGS_IP};
use graft_x86_64::{inactive_task_regs, X86_64};
use proptest::prelude::*;

const BASE: u64 = 0xffff_c900_0010_0000;
const SIZE: usize = 8192;
const TEXT: u64 = 0xffff_ffff_8100_0000;
const TEXT_END: u64 = TEXT + 0x10_0000;
const INIT: u64 = 0xffff_ffff_8300_0000;
const MODULE: u64 = 0xffff_ffff_c000_0000;
const IP_ADDR: u64 = 0xffff_ffff_8250_0000;
const GRAPH: u64 = TEXT + 0xf_f000; // return_to_handler
const RFF: u64 = TEXT + 0x1000; // ret_from_fork_asm

struct Text;
impl TextInfo for Text {
    fn kind(&self, a: TextAddr) -> TextKind {
        match a.0 {
            GRAPH => TextKind::FtraceGraph,
            x if (TEXT..TEXT_END).contains(&x) || (INIT..INIT + 0x1000).contains(&x) => TextKind::Kernel,
            x if (MODULE..MODULE + 0x1_0000).contains(&x) => TextKind::Kernel,
            _ => TextKind::NotText,
        }
    }
}

fn t(off: u64) -> u64 {
    TEXT + off
}

/// The state at a function's entry: the return address at sp.
const ENTRY: OrcEntry =
    OrcEntry { sp_offset: 8, bp_offset: 0, sp_reg: reg::SP, bp_reg: reg::UNDEFINED, kind: kind::CALL, signal: false };

/// Rows of an ORC table: (address, entry), sorted when turned into bytes.
#[derive(Clone, Default)]
struct Rows(Vec<(u64, OrcEntry)>);

impl Rows {
    /// The entry `e` for the call instruction before `ret` (5 bytes), and
    /// the function's entry state again after it.
    fn site(&mut self, ret: u64, e: OrcEntry) -> &mut Self {
        self.0.push((ret - 5, e));
        self.0.push((ret, ENTRY));
        self
    }
    fn at(&mut self, ip: u64, e: OrcEntry) -> &mut Self {
        self.0.push((ip, e));
        self
    }
    /// `.orc_unwind_ip` at `ip_addr` and `.orc_unwind`, sorted (stable: of
    /// equal addresses the one pushed last wins, as the rightmost).
    fn bytes(&self, ip_addr: u64) -> (Vec<u8>, Vec<u8>) {
        let mut rows = self.0.clone();
        rows.sort_by_key(|r| r.0);
        let mut ip = Vec::new();
        let mut un = Vec::new();
        for (i, (a, e)) in rows.iter().enumerate() {
            let rel = a.wrapping_sub(ip_addr + 4 * i as u64) as i64;
            ip.extend(i32::try_from(rel).expect("table near text").to_le_bytes());
            un.extend(e.encode());
        }
        (ip, un)
    }
}

/// Owned vmlinux tables with the lookup table built as unwind_init() does.
struct Tables {
    ip: Vec<u8>,
    un: Vec<u8>,
    lookup: Vec<u8>,
}

impl Tables {
    fn new(rows: &Rows) -> Self {
        let mut r = rows.clone();
        // A first entry at _stext, as gcc's vmlinux has (clang's need not:
        // first_entry_after_stext).
        r.0.insert(0, (TEXT, ENTRY));
        let (ip, un) = r.bytes(IP_ADDR);
        let mut lookup = vec![0; 4 * lookup_words((TEXT, TEXT_END))];
        build_lookup(&OrcTable::new(IP_ADDR, &ip, &un).unwrap(), (TEXT, TEXT_END), &mut lookup).unwrap();
        Tables { ip, un, lookup }
    }
    fn vmlinux(&self) -> VmlinuxOrc<'_> {
        VmlinuxOrc {
            table: OrcTable::new(IP_ADDR, &self.ip, &self.un).unwrap(),
            lookup: &self.lookup,
            text: (TEXT, TEXT_END),
            init_text: (INIT, INIT + 0x1000),
        }
    }
    fn orc<'a>(&'a self, modules: &'a dyn OrcModules) -> Orc<'a> {
        Orc { vmlinux: self.vmlinux(), modules, ret_from_fork: TextAddr(RFF) }
    }
}

fn walk(orc: &Orc<'_>, s: &OrcStack<'_>, regs: &SavedRegs, cap: usize) -> Result<Vec<u64>, Unreliable> {
    let mut out = vec![TextAddr(0); cap];
    let n = orc.unwind_reliable(regs, s.bounds(), &s.memory(), &Text, &mut out)?;
    Ok(out[..n].iter().map(|a| a.0).collect())
}

/// A user task asleep in a syscall: entry_SYSCALL_64 -> do_syscall_64 ->
/// ksys_read -> pipe_read (frame pointer) -> schedule -> __schedule.
fn syscall_task(buf: &mut [u8], rows: &mut Rows) -> (SavedRegs, Vec<u64>) {
    let mut s = OrcStack::new(buf, BASE, true, 0);
    let e = s.bottom(t(0x10), false);
    rows.site(t(0x10), e);
    let e = s.call(t(0x120), 40, true);
    rows.site(t(0x120), e);
    let e = s.call(t(0x230), 8, false);
    rows.site(t(0x230), e);
    let e = s.call_fp(t(0x340), 32);
    rows.site(t(0x340), e);
    let e = s.call(t(0x450), 24, false);
    rows.site(t(0x450), e);
    let e = s.call(t(0x560), 64, true);
    rows.site(t(0x560), e);
    let regs = s.switch_out();
    (regs, vec![t(0x560), t(0x450), t(0x340), t(0x230), t(0x120), t(0x10)])
}

#[test]
fn entry_layout_is_x86s_bitfields() {
    let e = OrcEntry {
        sp_offset: -2,
        bp_offset: 0x1234,
        sp_reg: reg::BP_INDIRECT,
        bp_reg: reg::PREV_SP,
        kind: kind::REGS_PARTIAL,
        signal: true,
    };
    assert_eq!(e.encode(), [0xfe, 0xff, 0x34, 0x12, 0x8a, 0x0c]);
    assert_eq!(OrcEntry::decode(e.encode()), e);
}

/// gcc lays out the kernel's own `struct orc_entry` (its text, taken from
/// orc_types.h in the unpacked source when there is one, else the
/// definition as 7.3 has it) for a few entries; decode must read the same.
#[test]
fn entry_layout_matches_gcc() {
    let dir = std::env::temp_dir().join(format!("graft-orc-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("layout.c");
    let program = r#"
#include <stdio.h>
#include <string.h>
typedef short s16;
#define __packed __attribute__((packed))
#define __LITTLE_ENDIAN_BITFIELD
struct orc_entry {
	s16		sp_offset;
	s16		bp_offset;
#if defined(__LITTLE_ENDIAN_BITFIELD)
	unsigned	sp_reg:4;
	unsigned	bp_reg:4;
	unsigned	type:3;
	unsigned	signal:1;
#elif defined(__BIG_ENDIAN_BITFIELD)
	unsigned	bp_reg:4;
	unsigned	sp_reg:4;
	unsigned	unused:4;
	unsigned	signal:1;
	unsigned	type:3;
#endif
} __packed;
int main(void) {
	static const int v[][6] = { {8, 0, 3, 0, 2, 0}, {-16, -24, 4, 8, 3, 1}, {32767, -32768, 10, 4, 4, 0}, {0, 0, 9, 0, 1, 1}, {-8, 16, 15, 15, 7, 1} };
	printf("%zu\n", sizeof(struct orc_entry));
	for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct orc_entry e; unsigned char b[6];
		memset(&e, 0, sizeof(e));
		e.sp_offset = v[i][0]; e.bp_offset = v[i][1]; e.sp_reg = v[i][2]; e.bp_reg = v[i][3]; e.type = v[i][4]; e.signal = v[i][5];
		memcpy(b, &e, 6);
		printf("%d %d %d %d %d %d %02x%02x%02x%02x%02x%02x\n", v[i][0], v[i][1], v[i][2], v[i][3], v[i][4], v[i][5], b[0], b[1], b[2], b[3], b[4], b[5]);
	}
	return 0;
}
"#;
    std::fs::write(&c, program).unwrap();
    let exe = dir.join("layout");
    let st = std::process::Command::new("gcc").arg("-O0").arg("-o").arg(&exe).arg(&c).status().expect("gcc runs");
    assert!(st.success());
    let out = std::process::Command::new(&exe).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("6"), "sizeof(struct orc_entry)");
    let mut n = 0;
    for l in lines {
        let f: Vec<&str> = l.split(' ').collect();
        let num = |i: usize| f[i].parse::<i32>().unwrap();
        let e = OrcEntry {
            sp_offset: num(0) as i16,
            bp_offset: num(1) as i16,
            sp_reg: num(2) as u8,
            bp_reg: num(3) as u8,
            kind: num(4) as u8,
            signal: num(5) != 0,
        };
        let hex: String = e.encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, f[6], "{l}");
        let mut b = [0u8; 6];
        for (i, x) in b.iter_mut().enumerate() {
            *x = u8::from_str_radix(&f[6][2 * i..2 * i + 2], 16).unwrap();
        }
        assert_eq!(OrcEntry::decode(b), e);
        n += 1;
    }
    assert_eq!(n, 5);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sleeping_user_task_walks_to_its_user_regs() {
    let mut buf = vec![0; SIZE];
    let mut rows = Rows::default();
    let (regs, want) = syscall_task(&mut buf, &mut rows);
    let tables = Tables::new(&rows);
    let orc = tables.orc(&NoModules);
    let s = rebuild(&mut buf);
    assert_eq!(walk(&orc, &s, &regs, 64).unwrap(), want);
    // Through core's value trait, as the transition calls it.
    let mut out = vec![TextAddr(0); 64];
    let u: &dyn UnwindReliable = &orc;
    assert_eq!(u.unwind_reliable(&regs, s.bounds(), &s.memory(), &Text, &mut out), Ok(want.len()));
}

/// The builder over a buffer already laid out (to walk it again).
fn rebuild(buf: &mut [u8]) -> OrcStack<'_> {
    // OrcStack::new clears the buffer: keep the words.
    let saved = buf.to_vec();
    let mut s = OrcStack::new(buf, BASE, true, 0);
    for (i, w) in saved.chunks(8).enumerate() {
        s.stack().write(BASE + 8 * i as u64, u64::from_le_bytes(w.try_into().unwrap()));
    }
    s
}

fn kthread(buf: &mut [u8], rows: &mut Rows) -> SavedRegs {
    let mut s = OrcStack::new(buf, BASE, false, 0);
    let e = s.bottom(RFF + 0x20, true); // ret_from_fork_asm's call ret_from_fork
    rows.site(RFF + 0x20, e);
    let e = s.call(t(0x2020), 24, false); // ret_from_fork -> kthread
    rows.site(t(0x2020), e);
    let e = s.call(t(0x3030), 56, true); // kthread -> worker_thread
    rows.site(t(0x3030), e);
    let e = s.call(t(0x4040), 16, true); // -> schedule -> __schedule
    rows.site(t(0x4040), e);
    s.switch_out()
}

#[test]
fn kernel_thread_ends_at_the_end_of_stack_entry() {
    let mut buf = vec![0; SIZE];
    let mut rows = Rows::default();
    let regs = kthread(&mut buf, &mut rows);
    let tables = Tables::new(&rows);
    let s = rebuild(&mut buf);
    let s = kernel_mode(s);
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 8).unwrap(), [t(0x4040), t(0x3030), t(0x2020), RFF + 0x20]);
    // Without the end-of-stack entry the walk goes on into pt_regs (a
    // kernel thread's are zero: no return address) and then off the top.
    let mut rows2 = rows.clone();
    rows2.site(RFF + 0x20, ENTRY);
    let bad = Tables::new(&rows2);
    assert_eq!(walk(&bad.orc(&NoModules), &s, &regs, 8), Err(Unreliable::NotText(0)));
    let mut rows3 = rows.clone();
    rows3.site(RFF + 0x20, OrcEntry { sp_offset: 8 + 168, ..ENTRY });
    let off = Tables::new(&rows3);
    assert!(matches!(walk(&off.orc(&NoModules), &s, &regs, 8), Err(Unreliable::OutOfBounds(_))));
}

/// pt_regs of a kernel thread: zeroed (kernel mode).
fn kernel_mode(mut s: OrcStack<'_>) -> OrcStack<'_> {
    let regs = s.stack().pt_regs().0;
    s.stack().write(regs + PT_REGS_CS, 0);
    s
}

#[test]
fn forked_task_starts_at_ret_from_fork_exactly() {
    let mut buf = vec![0; SIZE];
    let mut k = KernelStack::new(&mut buf, BASE, false);
    let regs = k.forked(RFF);
    let s = rebuild(&mut buf);
    let s = kernel_mode(s);
    let mut rows = Rows::default();
    rows.at(RFF, OrcEntry { kind: kind::END_OF_STACK, ..OrcEntry::default() });
    // The byte before ret_from_fork_asm is another function's padding.
    rows.at(RFF - 16, OrcEntry::default());
    let tables = Tables::new(&rows);
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 8).unwrap(), [RFF]);
    // An unwinder that does not know ret_from_fork_asm looks at RFF - 1.
    let blind = Orc { ret_from_fork: TextAddr(0), ..tables.orc(&NoModules) };
    assert_eq!(walk(&blind, &s, &regs, 8), Err(Unreliable::BadUnwindInfo(RFF)));
}

#[test]
fn module_frames_need_the_modules_table() {
    let mut buf = vec![0; SIZE];
    let mut s = OrcStack::new(&mut buf, BASE, true, 0);
    let mut rows = Rows::default();
    let mut mrows = Rows::default();
    rows.site(t(0x10), s.bottom(t(0x10), false));
    rows.site(t(0x120), s.call(t(0x120), 16, false));
    mrows.site(MODULE + 0x230, s.call(MODULE + 0x230, 32, true)); // a module function
    rows.site(t(0x340), s.call(t(0x340), 8, false));
    let regs = s.switch_out();
    let tables = Tables::new(&rows);
    let want = [t(0x340), MODULE + 0x230, t(0x120), t(0x10)];
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 8), Err(Unreliable::NoUnwindInfo(MODULE + 0x230)));
    mrows.at(MODULE, ENTRY);
    let (mip, mun) = mrows.bytes(MODULE + 0x8000);
    let mods =
        [ModuleOrc { text: (MODULE, MODULE + 0x1000), table: OrcTable::new(MODULE + 0x8000, &mip, &mun).unwrap() }];
    let list = ModuleList(&mods);
    assert_eq!(walk(&tables.orc(&list), &s, &regs, 8).unwrap(), want);
    assert!(list.table(MODULE + 0x1000).is_none());
}

/// Build the syscall task, change the entry of one call site, walk.
fn with_site(ret: u64, e: OrcEntry) -> Result<Vec<u64>, Unreliable> {
    let mut buf = vec![0; SIZE];
    let mut rows = Rows::default();
    let (regs, _) = syscall_task(&mut buf, &mut rows);
    rows.site(ret, e); // pushed last: the rightmost duplicate wins
    let tables = Tables::new(&rows);
    let s = rebuild(&mut buf);
    walk(&tables.orc(&NoModules), &s, &regs, 64)
}

#[test]
fn refusals_one_per_entry_corruption() {
    let call = |sp_reg, off| OrcEntry { sp_reg, sp_offset: off, kind: kind::CALL, ..OrcEntry::default() };
    let site = t(0x230);
    assert_eq!(with_site(site, OrcEntry::default()), Err(Unreliable::BadUnwindInfo(site)), "ORC_TYPE_UNDEFINED");
    assert_eq!(
        with_site(site, OrcEntry { kind: 5, ..call(reg::SP, 8) }),
        Err(Unreliable::BadUnwindInfo(site)),
        "unknown type"
    );
    assert_eq!(with_site(site, call(11, 8)), Err(Unreliable::BadUnwindInfo(site)), "unknown sp reg");
    assert_eq!(
        with_site(site, OrcEntry { bp_reg: 9, ..call(reg::SP, 8) }),
        Err(Unreliable::BadUnwindInfo(site)),
        "unknown bp reg"
    );
    for r in [reg::AX, reg::DX, reg::DI, reg::R10, reg::R13] {
        assert_eq!(with_site(site, call(r, 8)), Err(Unreliable::UnknownRegister(site)), "drap reg {r}");
    }
    assert!(matches!(with_site(site, call(reg::SP, 12)), Err(Unreliable::Misaligned(_))));
    assert!(matches!(with_site(site, call(reg::SP, 0)), Err(Unreliable::NotIncreasing(_))), "cfa == sp");
    assert!(matches!(with_site(site, call(reg::SP, -8)), Err(Unreliable::NotIncreasing(_))));
    assert!(matches!(with_site(site, call(reg::SP, 0x7ff8)), Err(Unreliable::OutOfBounds(_))), "off the stack");
    // A kernel-mode pt_regs frame (an interrupt taken in the kernel): the
    // REGS entry at the syscall's bottom with the regs in kernel mode.
    let regs_e = OrcEntry { kind: kind::REGS, sp_reg: reg::SP, sp_offset: 0, ..OrcEntry::default() };
    assert!(matches!(with_site(site, regs_e), Err(Unreliable::ExceptionFrame(_))), "regs below the top");
    // The end-of-stack entry in the middle ends the walk early, as the kernel's does.
    assert_eq!(
        with_site(site, OrcEntry { kind: kind::END_OF_STACK, ..OrcEntry::default() }).unwrap(),
        [t(0x560), t(0x450), t(0x340), t(0x230)]
    );
}

#[test]
fn kernel_mode_regs_at_the_top_are_refused() {
    let mut buf = vec![0; SIZE];
    let mut rows = Rows::default();
    let (regs, _) = syscall_task(&mut buf, &mut rows);
    let tables = Tables::new(&rows);
    let mut s = rebuild(&mut buf);
    let at = s.stack().pt_regs().0;
    s.stack().write(at + PT_REGS_CS, KERNEL_CS);
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 64), Err(Unreliable::ExceptionFrame(at)));
}

#[test]
fn partial_user_regs_at_the_top_end_the_walk() {
    let mut buf = vec![0; SIZE];
    let mut rows = Rows::default();
    let (regs, want) = syscall_task(&mut buf, &mut rows);
    // The iret frame at task_pt_regs()->ip: REGS_PARTIAL at CFA = sp + 128.
    rows.site(
        t(0x10),
        OrcEntry { kind: kind::REGS_PARTIAL, sp_reg: reg::SP, sp_offset: PT_REGS_IP as i16, ..OrcEntry::default() },
    );
    let tables = Tables::new(&rows);
    let mut s = rebuild(&mut buf);
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 64).unwrap(), want);
    let at = s.stack().pt_regs().0;
    s.stack().write(at + PT_REGS_CS, KERNEL_CS);
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 64), Err(Unreliable::ExceptionFrame(at)));
}

#[test]
fn return_addresses_must_be_text_and_no_trampoline() {
    let mut buf = vec![0; SIZE];
    let mut rows = Rows::default();
    let (regs, _) = syscall_task(&mut buf, &mut rows);
    let tables = Tables::new(&rows);
    let orc = tables.orc(&NoModules);
    let mut s = rebuild(&mut buf);
    let slot = (s.bounds().lo.0..s.bounds().hi.0).step_by(8).find(|&a| s.stack().read(a) == t(0x340)).unwrap();
    s.stack().write(slot, GRAPH);
    assert_eq!(walk(&orc, &s, &regs, 64), Err(Unreliable::Trampoline(GRAPH)));
    s.stack().write(slot, 0x1234);
    assert_eq!(walk(&orc, &s, &regs, 64), Err(Unreliable::NotText(0x1234)));
    s.stack().write(slot, t(0x340));
    assert_eq!(walk(&orc, &s, &regs, 3), Err(Unreliable::TooManyFrames));
    let far = SavedRegs { sp: s.bounds().hi.0, ..regs };
    assert_eq!(walk(&orc, &s, &far, 64), Err(Unreliable::OutOfBounds(far.sp)));
    let low = SavedRegs { sp: BASE - 8, ..regs };
    assert_eq!(walk(&orc, &s, &low, 64), Err(Unreliable::OutOfBounds(low.sp)));
}

#[test]
fn indirect_cfa_frames() {
    // SP_INDIRECT: the CFA is the word at sp, plus the offset (a function
    // that switched to another stack keeps the old sp at its new sp).
    let mut buf = vec![0; SIZE];
    let mut s = OrcStack::new(&mut buf, BASE, true, 0);
    let mut rows = Rows::default();
    rows.site(t(0x10), s.bottom(t(0x10), false));
    let cfa = s.stack().cursor() + 8;
    // Frame: 8 words; the word at its sp holds cfa - 8.
    let sp = cfa - 64;
    s.stack().write(sp, cfa - 8);
    let ret_at = sp - 8;
    s.stack().write(ret_at, t(0x120));
    rows.site(t(0x120), OrcEntry { kind: kind::CALL, sp_reg: reg::SP_INDIRECT, sp_offset: 8, ..OrcEntry::default() });
    // BP_INDIRECT: the CFA is the word at bp + offset (DRAP after the prologue).
    let sp2 = ret_at - 48;
    let bp = sp2 + 16;
    s.stack().write(bp - 8, ret_at + 8); // the CFA itself, at bp - 8
    s.stack().write(sp2 - 8, t(0x230));
    rows.site(t(0x230), OrcEntry { kind: kind::CALL, sp_reg: reg::BP_INDIRECT, sp_offset: -8, ..OrcEntry::default() });
    let regs = SavedRegs { pc: t(0x230), sp: sp2, fp: bp, lr: 0 };
    let tables = Tables::new(&rows);
    assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 8).unwrap(), [t(0x230), t(0x120), t(0x10)]);
}

/// clang's vmlinux has no entry at `_stext` (graft's own kernel built
/// with ORC: its first at `_stext + 0x40`).  `unwind_init()` still fills
/// `orc_lookup`, block 0 starting at the first entry (`__orc_find()`
/// answers an address before its first entry with it), so `build_lookup`
/// and `check` must accept it; the walk still finds nothing there.
#[test]
fn first_entry_after_stext() {
    let mut rows = Rows::default();
    rows.at(t(0x40), ENTRY).at(t(0x300), OrcEntry { sp_offset: 16, ..ENTRY });
    let (ip, un) = rows.bytes(IP_ADDR);
    let table = OrcTable::new(IP_ADDR, &ip, &un).unwrap();
    assert_eq!((table.find(TEXT), table.lookup_index(TEXT)), (None, Some(0)));
    let mut lookup = vec![0; 4 * lookup_words((TEXT, TEXT_END))];
    build_lookup(&table, (TEXT, TEXT_END), &mut lookup).unwrap();
    let word = |i: usize| u32::from_le_bytes(lookup[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!([word(0), word(1), word(2), word(3)], [0, 0, 0, 1], "blocks 0 to 2 start at entry 0, block 3 at 1");
    let v = VmlinuxOrc { table, lookup: &lookup, text: (TEXT, TEXT_END), init_text: (0, 0) };
    v.check().unwrap();
    assert_eq!(v.find(TEXT), None, "no entry covers _stext itself");
    assert_eq!(v.find(t(0x40)), Some(ENTRY));
    assert_eq!(v.find(t(0x310)).map(|e| e.sp_offset), Some(16));
}

#[test]
fn lookup_table_is_unwind_inits() {
    let mut rows = Rows::default();
    for i in 0..2000u64 {
        rows.at(TEXT + 0x10 + i * 0x1f3 % 0xf_0000, OrcEntry { sp_offset: (8 * (i % 7)) as i16, ..ENTRY });
    }
    let tables = Tables::new(&rows);
    let v = tables.vmlinux();
    v.check().unwrap();
    for ip in (TEXT..TEXT_END).step_by(7).chain([TEXT_END - 1]) {
        assert_eq!(v.find(ip), v.table.find(ip).map(|i| v.table.entry(i)), "{ip:#x}");
    }
    assert_eq!(v.find(TEXT_END), None);
    assert_eq!(v.find(TEXT - 1), None);
    // Init text goes to the whole table.
    assert_eq!(v.find(INIT + 5), v.table.find(INIT + 5).map(|i| v.table.entry(i)));
    // A corrupt lookup word is caught by check() and never read out of bounds.
    let mut bad = tables.lookup.clone();
    bad[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let vb = VmlinuxOrc { lookup: &bad, ..v };
    assert!(matches!(vb.check(), Err(OrcError::Lookup { block: 10, .. })));
    assert_eq!(vb.find(TEXT + 10 * 256), None);
    let short = VmlinuxOrc { lookup: &tables.lookup[4..], ..v };
    assert!(matches!(short.check(), Err(OrcError::LookupSize { .. })));
    assert_eq!(short.find(TEXT_END - 1), None, "past the lookup table: bad lookup idx");
}

#[test]
fn table_sizes_and_order_are_checked() {
    assert_eq!(OrcTable::new(0, &[0; 8], &[0; 6]).unwrap_err(), OrcError::Sizes { ip: 8, unwind: 6 });
    assert_eq!(OrcTable::new(0, &[0; 6], &[0; 9]).unwrap_err(), OrcError::Sizes { ip: 6, unwind: 9 });
    assert_eq!(OrcTable::new(0, &[], &[]).unwrap_err(), OrcError::Empty);
    let mut rows = Rows::default();
    rows.at(TEXT + 16, ENTRY).at(TEXT + 32, ENTRY);
    let (mut ip, un) = rows.bytes(IP_ADDR);
    OrcTable::new(IP_ADDR, &ip, &un).unwrap().check_sorted().unwrap();
    // Entry 1 at TEXT + 8: before entry 0.
    let rel = (TEXT + 8).wrapping_sub(IP_ADDR + 4) as i64 as i32;
    ip[4..8].copy_from_slice(&rel.to_le_bytes());
    assert_eq!(OrcTable::new(IP_ADDR, &ip, &un).unwrap().check_sorted(), Err(OrcError::Unsorted { index: 1 }));
    assert_eq!(graft_x86_64::orc::check_header(&[0; 20]), Err(OrcError::Header));
}

#[test]
fn find_takes_the_rightmost_duplicate_and_nothing_before_the_first() {
    let mut rows = Rows::default();
    let weak = OrcEntry::default();
    let real = OrcEntry { sp_offset: 24, ..ENTRY };
    rows.at(TEXT + 0x100, weak).at(TEXT + 0x100, real).at(TEXT + 0x200, ENTRY);
    let (ip, un) = rows.bytes(IP_ADDR);
    let tab = OrcTable::new(IP_ADDR, &ip, &un).unwrap();
    assert_eq!(tab.find(TEXT + 0x180).map(|i| tab.entry(i)), Some(real));
    assert_eq!(tab.find(TEXT + 0xff), None);
    assert_eq!(tab.find(u64::MAX).map(|i| tab.entry(i)), Some(ENTRY));
    assert_eq!(tab.find_in(1, 1, TEXT + 0x100), None);
    assert_eq!(tab.find_in(0, 4, TEXT + 0x100), None);
}

/// One frame of a generated chain.
#[derive(Clone, Debug)]
enum Frame {
    Sp { size: u64, save_bp: bool },
    Fp { locals: u64 },
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (1u64..12, any::<bool>()).prop_map(|(w, b)| Frame::Sp { size: 8 * (w + u64::from(b)), save_bp: b }),
        (0u64..6).prop_map(|w| Frame::Fp { locals: 8 * w }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn entries_round_trip(b in any::<[u8; 6]>()) {
        let e = OrcEntry::decode(b);
        let mut masked = b;
        masked[5] &= 0x0f;
        prop_assert_eq!(e.encode(), masked);
    }

    /// Any chain of frames walks back to exactly its return addresses.
    #[test]
    fn chains_walk_back_exactly(frames in prop::collection::vec(frame(), 0..40), user in any::<bool>(), bp0 in any::<u64>()) {
        let mut buf = vec![0; 16384];
        let mut s = OrcStack::new(&mut buf, BASE, user, bp0);
        let mut rows = Rows::default();
        let mut want = vec![t(0x10)];
        rows.site(t(0x10), s.bottom(t(0x10), !user));
        for (i, f) in frames.iter().enumerate() {
            let ret = t(0x100 + 0x40 * i as u64);
            let e = match *f {
                Frame::Sp { size, save_bp } => s.call(ret, size, save_bp),
                Frame::Fp { locals } => s.call_fp(ret, locals),
            };
            rows.site(ret, e);
            want.insert(0, ret);
        }
        if frames.is_empty() {
            // __schedule called straight from entry code: its frame.
            let e = s.call(t(0x80), 16, false);
            rows.site(t(0x80), e);
            want.insert(0, t(0x80));
        }
        let regs = s.switch_out();
        let tables = Tables::new(&rows);
        let s = if user { s } else { kernel_mode(s) };
        prop_assert_eq!(walk(&tables.orc(&NoModules), &s, &regs, 64).unwrap(), want);
        // The same state from thread.sp.
        let mut k = s;
        let sp = k.stack().thread_sp().unwrap();
        prop_assert_eq!(inactive_task_regs(sp, k.bounds(), &k.memory()).unwrap(), regs);
    }

    /// On a frame-pointer stack, with the frame-pointer entry at every
    /// call site, the ORC walk returns what the frame-pointer walk returns.
    #[test]
    fn agrees_with_the_frame_pointer_walk(locals in prop::collection::vec(0u64..8, 1..30), user in any::<bool>()) {
        let mut buf = vec![0; 16384];
        let mut k = KernelStack::new(&mut buf, BASE, user);
        let mut rows = Rows::default();
        k.entry(t(0x10));
        let fp = OrcEntry { kind: kind::CALL, sp_reg: reg::BP, sp_offset: 16, bp_reg: reg::PREV_SP, bp_offset: -16, signal: false };
        let bottom = if user {
            OrcEntry { kind: kind::REGS, sp_reg: reg::SP, ..OrcEntry::default() }
        } else {
            OrcEntry { kind: kind::END_OF_STACK, ..OrcEntry::default() }
        };
        rows.site(t(0x10), bottom);
        let n = locals.len();
        for (i, l) in locals.iter().enumerate().take(n - 1) {
            let ret = t(0x100 + 0x40 * i as u64);
            k.call(ret, 8 * l);
            rows.site(ret, fp);
        }
        let last = t(0x100 + 0x40 * (n as u64 - 1));
        let regs = k.switch_out(last, 8 * locals[n - 1]);
        rows.site(last, fp);
        let tables = Tables::new(&rows);
        let orc = tables.orc(&NoModules);
        let mut a = vec![TextAddr(0); 64];
        let mut b = vec![TextAddr(0); 64];
        let na = orc.unwind_reliable(&regs, k.bounds(), &k.memory(), &Text, &mut a);
        let nb = ArchUnwinder::<X86_64>::NEW.unwind_reliable(&regs, k.bounds(), &k.memory(), &Text, &mut b);
        prop_assert!(nb.is_ok(), "{:?}", nb);
        prop_assert_eq!(na, nb);
        prop_assert_eq!(&a[..na.unwrap()], &b[..nb.unwrap()]);
    }

    /// Arbitrary tables, lookup words and stack words: the walk ends, never
    /// reads outside the bounds and never returns more than its buffer.
    #[test]
    fn arbitrary_data_is_refused_or_walked_in_bounds(
        entries in prop::collection::vec((0u64..0x2000, any::<[u8; 6]>()), 1..40),
        words in prop::collection::vec(prop_oneof![any::<u64>(), (0u64..0x2000).prop_map(|o| TEXT + o), (0u64..0x400).prop_map(|o| BASE + 8 * o)], 64..512),
        pc in 0u64..0x2000, sp_word in 0u64..64, fp in any::<u64>(), corrupt_lookup in any::<Option<(u8, u32)>>(),
    ) {
        let mut rows = Rows::default();
        for (o, b) in &entries {
            rows.at(TEXT + o, OrcEntry::decode(*b));
        }
        let mut tables = Tables::new(&rows);
        if let Some((i, w)) = corrupt_lookup {
            let i = usize::from(i) % (tables.lookup.len() / 4);
            tables.lookup[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let bounds = StackBounds { lo: StackAddr(BASE), hi: StackAddr(BASE + bytes.len() as u64), final_frame: StackAddr(BASE + bytes.len() as u64 - 184) };
        let mem = Bounded { base: BASE, bytes: &bytes, bounds };
        let regs = SavedRegs { pc: TEXT + pc, sp: BASE + 8 * sp_word, fp, lr: 0 };
        let mut out = vec![TextAddr(0); 16];
        if let Ok(n) = tables.orc(&NoModules).unwind_reliable(&regs, bounds, &mem, &Text, &mut out) {
            prop_assert!((1..=16).contains(&n));
        }
    }
}

struct Bounded<'a> {
    base: u64,
    bytes: &'a [u8],
    bounds: StackBounds,
}

impl graft_core::StackReader for Bounded<'_> {
    fn read(&self, addr: StackAddr, buf: &mut [u8]) -> Result<(), graft_core::MemError> {
        assert!(self.bounds.contains(addr.0, buf.len() as u64), "read {:#x} outside the bounds", addr.0);
        graft_core::SliceMemory { base: self.base, bytes: self.bytes }.read(addr, buf)
    }
}

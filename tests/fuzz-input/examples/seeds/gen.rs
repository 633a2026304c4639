//! What the seed generator writes, as functions the tests call too
//! (`tests/seeds.rs` includes this file): each returns seeds for named fuzz
//! targets, encoded with the target's own format (`graft_fuzz_input`).
// The generator and the tests each use a part.
#![allow(dead_code)]

use graft_core::{SavedRegs, SliceMemory, StackBounds, TextAddr, TextInfo, Unreliable, Unwinder};
use graft_fuzz_input::kallsyms::{encode_lookup, encode_table, lines, LookupInput, TableInput};
use graft_fuzz_input::unwind::{self, Arm64Text, PowerpcText, RiscvText, S390Text, X86_64Text};
use graft_fuzz_input::{decode, site, Bytes, SiteInput, UnwindInput};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

/// One seed file.
#[derive(Clone, Debug)]
pub struct Seed {
    /// The fuzz target it is for.
    pub target: &'static str,
    /// Its file name (unique per target).
    pub name: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, data: Vec<u8>) -> Seed {
    Seed { target, name: name.into(), data }
}

/// A synthetic stack laid by a backend's `testing` builder, with what its
/// own walk gives (the truth a seed must keep).
#[derive(Clone, Debug)]
pub struct Stack {
    /// `x86_64`, `arm64`, `powerpc`, `s390`, `riscv`.
    pub arch: &'static str,
    /// What it is.
    pub name: String,
    /// Address of `bytes[0]`.
    pub base: u64,
    /// The stack.
    pub bytes: Vec<u8>,
    /// Start registers.
    pub regs: SavedRegs,
    /// Bounds.
    pub bounds: StackBounds,
    /// Room for return addresses.
    pub cap: usize,
}

impl Stack {
    /// The backend's reliable walk of this stack with its target's
    /// [`TextInfo`].
    pub fn walk(&self) -> Result<Vec<TextAddr>, Unreliable> {
        walk(
            self.arch,
            &UnwindInput { base: self.base, stack: &self.bytes, regs: self.regs, bounds: self.bounds, cap: self.cap },
        )
    }
}

/// The reliable walk of `u` as the `<arch>_unwind_stays_in_bounds` target
/// does it (its text kinds, `cap` slots).
pub fn walk(arch: &str, u: &UnwindInput<'_>) -> Result<Vec<TextAddr>, Unreliable> {
    let mem = SliceMemory { base: u.base, bytes: u.stack };
    let mut out = vec![TextAddr(0); u.cap];
    fn go<A: Unwinder>(
        u: &UnwindInput<'_>,
        mem: &SliceMemory<'_>,
        text: &dyn TextInfo,
        out: &mut [TextAddr],
    ) -> Result<usize, Unreliable> {
        A::unwind_reliable(&u.regs, u.bounds, mem, text, out)
    }
    let n = match arch {
        "x86_64" => go::<graft_x86_64::X86_64>(u, &mem, &X86_64Text, &mut out),
        "arm64" => go::<graft_arm64::Arm64>(u, &mem, &Arm64Text, &mut out),
        "powerpc" => go::<graft_powerpc::Powerpc>(u, &mem, &PowerpcText, &mut out),
        "s390" => go::<graft_s390::S390>(u, &mem, &S390Text, &mut out),
        "riscv" => go::<graft_riscv::Riscv>(u, &mem, &RiscvText, &mut out),
        a => panic!("unknown arch {a}"),
    }?;
    out.truncate(n);
    Ok(out)
}

/// Return addresses the targets' text kinds call kernel text: `n` of them
/// from `first`, `step` apart, skipping the ones `text` calls anything else.
fn rets(text: &dyn TextInfo, first: u64, step: u64, n: usize) -> Vec<u64> {
    (0..)
        .map(|i| first + i * step)
        .filter(|&a| text.kind(TextAddr(a)) == graft_core::TextKind::Kernel)
        .take(n)
        .collect()
}

/// Chain lengths of the plain sleeping-task seeds.
const CHAINS: [usize; 7] = [1, 2, 3, 5, 8, 13, 20];

/// Synthetic stacks of every arch: sleeping tasks with call chains of
/// several depths, laid with the kernel's frame layout by each backend's
/// `testing` builder, plus the frames a reliable walk must refuse
/// (exception frames, tracing trampolines).
pub fn stacks() -> Vec<Stack> {
    let mut v = Vec::new();
    // x86_64: the target's stack sits at X86_64_BASE, offsets fit 16 bits.
    let x86 = |name: String, user: bool, f: &dyn Fn(&mut graft_x86_64::testing::KernelStack<'_>) -> SavedRegs| {
        let mut buf = vec![0u8; 2048];
        let (regs, bounds) = {
            let mut k = graft_x86_64::testing::KernelStack::new(&mut buf, unwind::X86_64_BASE, user);
            let regs = f(&mut k);
            (regs, k.bounds())
        };
        Stack { arch: "x86_64", name, base: unwind::X86_64_BASE, bytes: buf, regs, bounds, cap: 32 }
    };
    let text = 0xffff_ffff_8100_0000;
    for n in CHAINS {
        let r = rets(&X86_64Text, text + 0x1234, 0x101, n + 1);
        v.push(x86(format!("sleeping-{n}"), true, &|k| {
            k.entry(r[n]);
            for &ret in r[1..n].iter().rev() {
                k.call(ret, 32);
            }
            k.switch_out(r[0], 16)
        }));
    }
    let r = rets(&X86_64Text, text + 0x2345, 0x103, 6);
    v.push(x86("kthread".into(), false, &|k| {
        k.entry(r[3]);
        k.call(r[2], 16);
        k.call(r[1], 48);
        k.switch_out(r[0], 0)
    }));
    v.push(x86("forked".into(), true, &|k| k.forked(r[0])));
    v.push(x86("realigned".into(), false, &|k| {
        k.entry_realigned(r[2]);
        k.call(r[1], 16);
        k.switch_out(r[0], 16)
    }));
    v.push(x86("ftrace-entry".into(), true, &|k| {
        k.entry_ftrace(r[3], r[2]);
        k.call(r[1], 16);
        k.switch_out(r[0], 16)
    }));
    v.push(x86("interrupted".into(), true, &|k| {
        k.entry(r[4]);
        k.call(r[3], 32);
        k.interrupt(r[2], false);
        k.call(r[1], 16);
        k.switch_out(r[0], 16)
    }));
    // A return into the graph tracer's trampoline (a multiple of 251).
    let graph = (text / 251 + 17) * 251;
    v.push(x86("graph-trampoline".into(), true, &|k| {
        k.entry(r[3]);
        k.call(graph, 32);
        k.call(r[1], 16);
        k.switch_out(r[0], 16)
    }));

    // arm64: any base; sp is lo in the target.
    let base = 0xffff_8000_9000_0000;
    let text = 0xffff_8000_8000_0000;
    for n in CHAINS {
        let pcs: Vec<TextAddr> = rets(&Arm64Text, text + 0x1000, 0x44, n).into_iter().map(TextAddr).collect();
        let mut buf = vec![0u8; 4096];
        let (mut regs, bounds) = graft_arm64::testing::StackBuilder::new(&mut buf, base).task(&pcs, 64);
        regs.sp = bounds.lo.0;
        v.push(Stack { arch: "arm64", name: format!("sleeping-{n}"), base, bytes: buf, regs, bounds, cap: 24 });
    }
    {
        // An exception taken in the innermost function: a pt_regs frame
        // record, which a reliable walk refuses.
        let pcs: Vec<TextAddr> = rets(&Arm64Text, text + 0x2000, 0x44, 4).into_iter().map(TextAddr).collect();
        let mut buf = vec![0u8; 4096];
        let mut b = graft_arm64::testing::StackBuilder::new(&mut buf, base);
        let (mut regs, bounds) = b.task(&pcs, 64);
        let rec = b.pt_regs(base + 0x400, pcs[1].0, regs.fp, pcs[2].0);
        regs.fp = rec.0;
        regs.sp = bounds.lo.0;
        v.push(Stack { arch: "arm64", name: "exception".into(), base, bytes: buf, regs, bounds, cap: 24 });
    }

    // powerpc: the target's stack sits at POWERPC_BASE, pc is 0xc000_0000_0000_xxxx.
    let base = unwind::POWERPC_BASE;
    // (A user task needs a frame below its interrupt frame: chains of 2 up.)
    for (n, user) in CHAINS[1..].iter().map(|&n| (n, true)).chain([(4, false)]) {
        let r = rets(&PowerpcText, 0xc000_0000_0100_0000, 0x64, n);
        let mut buf = vec![0u8; 4096];
        let (regs, bounds) = {
            let mut b = if user {
                graft_powerpc::testing::StackBuilder::user_task(&mut buf, base, 0x7fff_f000)
            } else {
                graft_powerpc::testing::StackBuilder::kthread(&mut buf, base)
            };
            for &ret in r[1..].iter().rev() {
                b.call(112, ret);
            }
            (b.regs(0xc000_0000_0000_0500), b.bounds())
        };
        let name = if user { format!("sleeping-{n}") } else { format!("kthread-{n}") };
        v.push(Stack { arch: "powerpc", name, base, bytes: buf, regs, bounds, cap: 32 });
    }
    {
        let r = rets(&PowerpcText, 0xc000_0000_0200_0000, 0x64, 5);
        let mut buf = vec![0u8; 4096];
        let (regs, bounds) = {
            let mut b = graft_powerpc::testing::StackBuilder::user_task(&mut buf, base, 0x7fff_f000);
            b.call(112, r[4]);
            b.call(112, r[3]);
            b.interrupt(r[2]);
            b.call(112, r[1]);
            (b.regs(0xc000_0000_0000_0600), b.bounds())
        };
        v.push(Stack { arch: "powerpc", name: "interrupted".into(), base, bytes: buf, regs, bounds, cap: 32 });
        let mut buf = vec![0u8; 4096];
        let (regs, bounds) = {
            let mut b = graft_powerpc::testing::StackBuilder::user_task(&mut buf, base, 0x7fff_f000);
            b.call(112, r[3]);
            b.call(112, 0xd000_0000_0000_1000); // the graph tracer's trampoline
            b.call(112, r[1]);
            (b.regs(0xc000_0000_0000_0600), b.bounds())
        };
        v.push(Stack { arch: "powerpc", name: "graph-trampoline".into(), base, bytes: buf, regs, bounds, cap: 32 });
    }

    // s390: the target's stack sits at S390_BASE; room for `cap` return
    // addresses puts lo `cap` bytes above it.
    let cap = 32;
    let lo = unwind::S390_BASE + cap as u64;
    for n in CHAINS {
        let r = rets(&S390Text, 0x3000, 0x106, n);
        let mut buf = vec![0u8; 4096];
        let (regs, bounds) = {
            let mut b = graft_s390::testing::StackBuilder::kernel(&mut buf, lo);
            let top = b.final_frame().0;
            let frames: Vec<u64> = (0..n as u64).map(|i| top - 160 * (n as u64 - 1 - i)).collect();
            (b.task(&frames, &r), b.bounds())
        };
        let bytes = unwind::s390_pad(cap, &buf);
        v.push(Stack {
            arch: "s390",
            name: format!("sleeping-{n}"),
            base: unwind::S390_BASE,
            bytes,
            regs,
            bounds,
            cap,
        });
    }
    {
        // A kernel-mode pt_regs below the final frame: refused.
        let r = rets(&S390Text, 0x4000, 0x106, 4);
        let mut buf = vec![0u8; 4096];
        let (regs, bounds) = {
            let mut b = graft_s390::testing::StackBuilder::kernel(&mut buf, lo);
            let top = b.final_frame().0;
            let frames = [top - 3 * 160 - 336, top - 2 * 160 - 336, top - 160, top];
            let regs = b.task(&frames, &r);
            // The second frame's back chain is 0 with pt_regs above it.
            b.frame(frames[1], 0, r[1]);
            b.pt_regs(frames[1] + 160, 0, r[2], frames[2]);
            (regs, b.bounds())
        };
        let bytes = unwind::s390_pad(cap, &buf);
        v.push(Stack { arch: "s390", name: "pt-regs".into(), base: unwind::S390_BASE, bytes, regs, bounds, cap });
    }

    // riscv: arm64's format (sp is lo); kernel text at 0xffffffff80000000.
    // `f` may add frames and returns the walk's new start (its s0).
    type Extra<'a> = &'a dyn Fn(&mut graft_riscv::testing::StackBuilder<'_>) -> Option<u64>;
    let base = 0xffff_ffc6_0040_0000;
    let text = 0xffff_ffff_8000_0000;
    let riscv = |name: &str, kind, pcs: &[TextAddr], f: Extra<'_>| {
        let mut buf = vec![0u8; 4096];
        let (mut regs, bounds) = {
            let mut b = graft_riscv::testing::StackBuilder::new(&mut buf, base);
            let (mut r, bounds) = b.task_of(kind, pcs, 64);
            r.fp = f(&mut b).unwrap_or(r.fp);
            (r, bounds)
        };
        regs.sp = bounds.lo.0;
        Stack { arch: "riscv", name: name.into(), base, bytes: buf, regs, bounds, cap: 24 }
    };
    let pcs =
        |at: u64, n: usize| -> Vec<TextAddr> { rets(&RiscvText, at, 0x46, n).into_iter().map(TextAddr).collect() };
    let user = graft_core::TaskKind::User;
    for n in CHAINS[1..].iter().copied() {
        v.push(riscv(&format!("sleeping-{n}"), user, &pcs(text + 0x1000, n), &|_| None));
    }
    v.push(riscv("kthread-4", graft_core::TaskKind::Kthread, &pcs(text + 0x2000, 4), &|_| None));
    // A user task in a syscall: its last return is into handle_exception
    // (exception entry), accepted at task_pt_regs() only; the same return
    // mid-chain is an exception frame.
    let entry = (0..)
        .map(|i| TextAddr(text + 0x3000 + 2 * i))
        .find(|&a| RiscvText.kind(a) == graft_core::TextKind::ExceptionEntry)
        .expect("an exception-entry address");
    let mut p = pcs(text + 0x3100, 3);
    p.push(entry);
    v.push(riscv("sleeping-syscall-4", user, &p, &|_| None));
    let mut p = pcs(text + 0x3200, 4);
    p.insert(2, entry);
    v.push(riscv("exception-entry", user, &p, &|_| None));
    // handle_exception's pt_regs under the handler's frame, known by its
    // layout (the handler's return address reads as ordinary text), with
    // a function the handler called below it.
    let p = pcs(text + 0x5000, 4);
    v.push(riscv("pt-regs", user, &p, &|b| {
        let interrupted = graft_riscv::testing::chain_fp(b.hi(), 64, 2);
        let handler = b.exception(interrupted - 64, p[1].0, interrupted, p[2].0);
        b.record(handler - 64, handler, p[1].0);
        Some(handler - 64)
    }));
    // A kernel thread that never ran: sp at task_pt_regs(), which is lo
    // here, s0 its function (a user task's 0 is outside the format).
    let mut buf = vec![0u8; 288];
    let kthread = graft_core::TaskKind::Kthread;
    let (regs, bounds) =
        graft_riscv::testing::StackBuilder::new(&mut buf, base).task_of(kthread, &pcs(text + 0x4000, 1), 64);
    v.push(Stack { arch: "riscv", name: "forked".into(), base, bytes: buf, regs, bounds, cap: 4 });
    v
}

/// Encode a stack for its arch's unwind target.
pub fn encode_stack(s: &Stack) -> Option<Vec<u8>> {
    let u = UnwindInput { base: s.base, stack: &s.bytes, regs: s.regs, bounds: s.bounds, cap: s.cap };
    match s.arch {
        "x86_64" => unwind::encode_x86_64(&u),
        "arm64" => unwind::encode_arm64(&u),
        "powerpc" => unwind::encode_powerpc(&u),
        "s390" => unwind::encode_s390(&u),
        "riscv" => unwind::encode_riscv(&u),
        _ => None,
    }
}

/// Decode an unwind target's input.
pub fn decode_stack<'a>(arch: &str, data: &'a [u8]) -> Option<UnwindInput<'a>> {
    match arch {
        "x86_64" => unwind::decode_x86_64(data),
        "arm64" => unwind::decode_arm64(data),
        "powerpc" => unwind::decode_powerpc(data),
        "s390" => unwind::decode_s390(data),
        "riscv" => unwind::decode_riscv(data),
        _ => None,
    }
}

/// The five arches, as the targets name them.
pub const ARCHES: [&str; 5] = ["x86_64", "arm64", "powerpc", "s390", "riscv"];

/// `<arch>_<kind>` as a target name.
pub fn target(arch: &str, kind: &str) -> &'static str {
    let t = match (arch, kind) {
        ("x86_64", "unwind") => "x86_64_unwind_stays_in_bounds",
        ("arm64", "unwind") => "arm64_unwind_stays_in_bounds",
        ("powerpc", "unwind") => "powerpc_unwind_stays_in_bounds",
        ("s390", "unwind") => "s390_unwind_stays_in_bounds",
        ("riscv", "unwind") => "riscv_unwind_stays_in_bounds",
        ("x86_64", "decode") => "x86_64_decode_never_panics",
        ("arm64", "decode") => "arm64_decode_never_panics",
        ("powerpc", "decode") => "powerpc_decode_never_panics",
        ("s390", "decode") => "s390_decode_never_panics",
        ("riscv", "decode") => "riscv_decode_never_panics",
        ("x86_64", "site") => "x86_64_site_analysis_never_panics",
        ("arm64", "site") => "arm64_site_analysis_never_panics",
        ("powerpc", "site") => "powerpc_site_analysis_never_panics",
        ("s390", "site") => "s390_site_analysis_never_panics",
        ("riscv", "site") => "riscv_site_analysis_never_panics",
        _ => panic!("no target {arch}/{kind}"),
    };
    t
}

/// The unwind seeds.
pub fn stack_seeds() -> Vec<Seed> {
    stacks()
        .iter()
        .map(|s| {
            seed(target(s.arch, "unwind"), format!("synthetic-{}", s.name), encode_stack(s).expect("representable"))
        })
        .collect()
}

/// Decode seeds from the codec vectors (`arch/*/tests/vectors/*.txt`):
/// every nop, call and jump the kernel's encoders write, at its address.
pub fn vector_seeds(top: &Path) -> Vec<Seed> {
    let mut v = Vec::new();
    for arch in ARCHES {
        let dir = top.join("arch").join(arch).join("tests/vectors");
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<_> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "txt")).collect();
        files.sort();
        for f in files {
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            for vec in graft_testkit::load_vectors(&f) {
                v.push(seed(
                    target(arch, "decode"),
                    format!("vector-{stem}-{}", vec.line),
                    encode_bytes(arch, vec.addr, &vec.bytes),
                ));
            }
        }
    }
    v
}

fn encode_bytes(arch: &str, at: u64, bytes: &[u8]) -> Vec<u8> {
    let b = Bytes { at: TextAddr(at), bytes };
    if arch == "s390" {
        decode::encode_be(&b)
    } else {
        decode::encode_le(&b)
    }
}

fn encode_site(arch: &str, s: &SiteInput<'_>) -> Option<Vec<u8>> {
    let enc = |s: &SiteInput<'_>| match arch {
        "x86_64" => site::encode_x86_64(s),
        "arm64" => site::encode_arm64(s),
        "powerpc" => site::encode_powerpc(s),
        "s390" => site::encode_s390(s),
        "riscv" => site::encode_riscv(s),
        _ => None,
    };
    // A record the format cannot carry: the window without it.
    enc(s).or_else(|| enc(&SiteInput { recorded: None, ..*s }))
}

/// Decode a site target's input.
pub fn decode_site<'a>(arch: &str, data: &'a [u8]) -> Option<SiteInput<'a>> {
    match arch {
        "x86_64" => site::decode_x86_64(data),
        "arm64" => site::decode_arm64(data),
        "powerpc" => site::decode_powerpc(data),
        "s390" => site::decode_s390(data),
        "riscv" => site::decode_riscv(data),
        _ => None,
    }
}

/// Bytes before a symbol in a site window (arm64's and riscv's pre-symbol nops).
const PRE: u64 = 16;
/// Window bytes from the symbol on.
const WINDOW: u64 = 48;

/// Site and decode seeds from an ELF image (an object or a vmlinux): the
/// entry windows of its functions, with the record graft-inspect found,
/// and the bytes at each site.  Every function whose report differs in
/// form or reason from those taken, then up to `per_image` more spread over
/// the image.
pub fn image_seeds(tag: &str, data: &[u8], per_image: usize) -> Vec<Seed> {
    let Ok(report) = graft_inspect::sites(data) else { return Vec::new() };
    let Ok(f) = object::File::parse(data) else { return Vec::new() };
    let arch = report.arch;
    let relocatable = f.kind() == object::ObjectKind::Relocatable;
    let by_addr: HashMap<(String, u64), &graft_inspect::SiteReport> =
        report.functions.iter().map(|r| ((r.function.clone(), r.address), r)).collect();
    // (name, addr, section index) of every sized text symbol, in order.
    let mut funcs: Vec<(String, u64, object::SectionIndex)> = f
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0)
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.address(), s.section_index()?)))
        .collect();
    funcs.sort_by_key(|x| (x.2 .0, x.1));
    funcs.dedup_by_key(|x| (x.2 .0, x.1));
    // First one per (patchable, reason's first word), then a stride.
    let mut picked: Vec<usize> = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (name, addr, _)) in funcs.iter().enumerate() {
        let Some(r) = by_addr.get(&(name.clone(), *addr)) else { continue };
        let kind = format!("{}:{}", r.patchable, r.reason.split([' ', '(']).next().unwrap_or(""));
        if kinds.insert(kind, i).is_none() {
            picked.push(i);
        }
    }
    let stride = (funcs.len() / per_image.max(1)).max(1);
    picked.extend((0..funcs.len()).step_by(stride).take(per_image));
    picked.sort_unstable();
    picked.dedup();
    let mut v = Vec::new();
    for i in picked {
        let (name, addr, idx) = &funcs[i];
        let Ok(sec) = f.section_by_index(*idx) else { continue };
        let Ok(bytes) = sec.data() else { continue };
        let base = if relocatable { 0 } else { sec.address() };
        let start = addr.saturating_sub(PRE).max(base);
        let (Some(lo), Some(hi)) = (start.checked_sub(base), (addr + WINDOW).checked_sub(base)) else { continue };
        let Some(window) = bytes.get(lo as usize..(hi as usize).min(bytes.len())) else { continue };
        let r = by_addr.get(&(name.clone(), *addr));
        let site_at = r.and_then(|r| r.site);
        let s = SiteInput {
            code: graft_core::Code { start: TextAddr(start), bytes: window },
            func: TextAddr(*addr),
            recorded: site_at.map(TextAddr),
        };
        let short: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
        if let Some(d) = encode_site(arch, &s) {
            v.push(seed(target(arch, "site"), format!("{tag}-{short}-{addr:x}"), d));
        }
        // The instruction at the site (or the entry): what decode sees.
        let at = site_at.unwrap_or(*addr);
        if let Some(b) = at.checked_sub(base).and_then(|o| bytes.get(o as usize..(o as usize + 16).min(bytes.len()))) {
            v.push(seed(target(arch, "decode"), format!("{tag}-{short}-{at:x}"), encode_bytes(arch, at, b)));
        }
    }
    v
}

/// The relocatable objects the tests compile: `tests/corpus/corpus.c` and
/// each backend's entry corpus (`arch/<arch>/tests/{data,c}/*.c`), with
/// every line of `arch/<arch>/ftrace-flags.txt`.  A compiler that is
/// missing or refuses a flag set skips that object (and says so).
pub fn compile_objects(top: &Path, out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut objs = Vec::new();
    for arch in ARCHES {
        let flags = std::fs::read_to_string(top.join("arch").join(arch).join("ftrace-flags.txt")).unwrap_or_default();
        let mut srcs = vec![top.join("tests/corpus/corpus.c")];
        for d in ["tests/data", "tests/c"] {
            if let Ok(rd) = std::fs::read_dir(top.join("arch").join(arch).join(d)) {
                let mut s: Vec<_> =
                    rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "c")).collect();
                s.sort();
                srcs.extend(s);
            }
        }
        let id = match arch {
            "x86_64" => graft_testkit::ArchId::X86_64,
            "arm64" => graft_testkit::ArchId::Arm64,
            "powerpc" => graft_testkit::ArchId::Powerpc,
            "riscv" => graft_testkit::ArchId::Riscv,
            _ => graft_testkit::ArchId::S390,
        };
        let lines = flags.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
        for (k, line) in lines.enumerate() {
            let Some((cc, fl)) = line.split_once(':') else { continue };
            let mut cmd = match cc.trim() {
                "gcc" => Command::new(id.gcc()),
                _ => {
                    let mut c = Command::new("clang-19");
                    c.arg(format!("--target={}", id.clang_target()));
                    c
                }
            };
            cmd.args(["-c", "-O2", "-ffreestanding", "-fno-pic"]).args(fl.split_whitespace());
            for src in &srcs {
                let stem = src.file_stem().unwrap().to_string_lossy();
                let obj = out.join(format!("{arch}-{stem}-{k}.o"));
                let mut c = Command::new(cmd.get_program());
                c.args(cmd.get_args()).arg("-o").arg(&obj).arg(src);
                match c.output() {
                    Ok(o) if o.status.success() => {
                        if let Ok(d) = std::fs::read(&obj) {
                            objs.push((format!("{arch}-{stem}-{k}"), d));
                        }
                    }
                    _ => eprintln!("seeds: {arch}: {} did not compile with `{line}`: skipped", src.display()),
                }
            }
        }
    }
    objs
}

/// One `nm` line: address, type, name.
pub type NmSym = (u64, char, String);

/// `nm --defined-only` of an ELF file (`llvm-nm-19`, which reads every
/// arch, else `nm`), as `(address, type, name)`.
pub fn nm(path: &Path) -> Vec<NmSym> {
    for tool in ["llvm-nm-19", "nm"] {
        let Ok(o) = Command::new(tool).arg("--defined-only").arg(path).output() else { continue };
        if !o.status.success() {
            continue;
        }
        return String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let a = u64::from_str_radix(it.next()?, 16).ok()?;
                let t = it.next()?.chars().next()?;
                Some((a, t, it.next()?.to_string()))
            })
            .collect();
    }
    Vec::new()
}

/// `/proc/kallsyms` text as `s_show()` prints it, from `nm` listings: a
/// vmlinux's symbols (in address order, as kallsyms lists them), then each
/// module's with its `\t[name]`.
pub fn kallsyms_text(vmlinux: &[NmSym], modules: &[(String, Vec<NmSym>)]) -> String {
    let mut s = String::new();
    let mut v: Vec<&NmSym> = vmlinux.iter().collect();
    v.sort_by_key(|x| x.0);
    for (a, t, n) in v {
        s += &format!("{a:016x} {t} {n}\n");
    }
    for (m, syms) in modules {
        for (a, t, n) in syms {
            // Module symbols sit in module space (nm gives section offsets).
            s += &format!("{:016x} {t} {n}\t[{m}]\n", 0xffff_ffff_c000_0000u64 + a);
        }
    }
    s
}

/// Seeds for the kallsyms targets from `/proc/kallsyms` text: windows of
/// `lines_per` lines (every `every`-th window), each as a parse seed, a
/// lookup seed naming the window's repeated names (and a module's) with
/// and without positions, and a table seed.
pub fn kallsyms_seeds(tag: &str, text: &str, lines_per: usize, every: usize, max: usize) -> Vec<Seed> {
    let all: Vec<&str> = text.lines().collect();
    let mut v = Vec::new();
    for (w, chunk) in all.chunks(lines_per).enumerate().filter(|(w, _)| w % every.max(1) == 0).take(max) {
        let body = chunk.join("\n") + "\n";
        v.push(seed("kallsyms_parse_line", format!("{tag}-{w}"), body.clone().into_bytes()));
        let ls = lines(body.as_bytes());
        // Lines whose name repeats within the window (ambiguity), then any.
        let name = |l: &[u8]| graft_core::kallsyms::Symbol::parse(l).map(|s| s.name.to_vec());
        let mut count: HashMap<Vec<u8>, usize> = HashMap::new();
        for l in &ls {
            if let Some(n) = name(l) {
                *count.entry(n).or_default() += 1;
            }
        }
        let dup = ls.iter().position(|l| name(l).is_some_and(|n| count[&n] > 1)).unwrap_or(0);
        let module = ls.iter().position(|l| l.contains(&b'\t'));
        let q = |i: usize| u16::try_from(i).unwrap_or(0);
        let queries = vec![(q(dup), 0), (q(dup), 2), (q(ls.len() / 2), 0), (q(ls.len().saturating_sub(1)), 3)];
        let object = module.map_or(0, |m| q(m) + 1);
        let look = LookupInput { object, chunk: 61, buf: 512, queries: queries.clone(), text: body.as_bytes() };
        v.push(seed("kallsyms_lookup_agrees", format!("{tag}-{w}"), encode_lookup(&look).expect("fits")));
        let table = TableInput { slots: ls.len(), queries, text: body.as_bytes() };
        v.push(seed("kallsyms_table_agrees", format!("{tag}-{w}"), encode_table(&table).expect("fits")));
    }
    v
}

/// Where the built kernels of `$GRAFT_CACHE` are: `(arch, dir)` of each
/// finished one.
pub fn kernels(cache: &Path) -> Vec<(String, std::path::PathBuf)> {
    let Ok(rd) = std::fs::read_dir(cache.join("kernels")) else { return Vec::new() };
    let mut v: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(".graft-built").exists() && p.join("vmlinux").exists())
        .filter_map(|p| {
            let arch = p.file_name()?.to_string_lossy().split('-').next()?.to_string();
            Some((arch, p))
        })
        .collect();
    v.sort();
    v
}

/// The small kernel modules of a built tree (the kernel's samples), at
/// most `max_bytes` each: real `.ko` files for the ELF target and module
/// symbols for the kallsyms ones.
pub fn small_modules(kdir: &Path, max_bytes: u64) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    let mut stack = vec![kdir.join("samples")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ko") && e.metadata().is_ok_and(|m| m.len() <= max_bytes) {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// An ORC seed: a stack laid by `graft_x86_64::testing::OrcStack` in the
/// ORC target's window, the table rows its call sites need, and the frames
/// its walk gives.
#[derive(Clone, Debug)]
pub struct OrcSeed {
    /// What it is.
    pub name: String,
    /// The encoded input.
    pub data: Vec<u8>,
    /// The frames a walk of it returns.
    pub frames: Vec<u64>,
}

/// Sleeping user tasks and kernel threads of several depths, with
/// stack-pointer and frame-pointer frames.
pub fn orc_seeds() -> Vec<OrcSeed> {
    use graft_fuzz_input::orc::{self, OrcInput, TEXT};
    let mut v = Vec::new();
    for (n, user) in [(1usize, true), (4, true), (12, true), (3, false), (20, false)] {
        let mut buf = vec![0u8; 2048];
        let mut rows: Vec<(u16, [u8; 6])> = Vec::new();
        let mut site = |ret: u64, e: graft_x86_64::orc::OrcEntry| {
            let entry = graft_x86_64::orc::OrcEntry { sp_offset: 8, sp_reg: 3, kind: 2, ..Default::default() };
            rows.push(((ret - 5 - TEXT) as u16, e.encode()));
            rows.push(((ret - TEXT) as u16, entry.encode()));
        };
        let (regs, bounds) = {
            // rbp starts at the stack base: the format carries registers near it.
            let mut s = graft_x86_64::testing::OrcStack::new(&mut buf, unwind::X86_64_BASE, user, unwind::X86_64_BASE);
            let bottom = TEXT + 0x100;
            site(bottom, s.bottom(bottom, !user));
            for i in 0..n as u64 {
                let ret = TEXT + 0x200 + 0x40 * i;
                let e = if i % 3 == 2 {
                    s.call_fp(ret, 8 * (i % 4))
                } else {
                    s.call(ret, 8 * (1 + i % 5) + 8 * (i % 2), i % 2 == 1)
                };
                site(ret, e);
            }
            (s.switch_out(), s.bounds())
        };
        let mut frames: Vec<u64> = (0..n as u64).rev().map(|i| TEXT + 0x200 + 0x40 * i).collect();
        frames.push(TEXT + 0x100);
        let input = OrcInput {
            rows,
            lookup_patch: None,
            unwind: UnwindInput { base: unwind::X86_64_BASE, stack: &buf, regs, bounds, cap: 32 },
        };
        let data = orc::encode(&input).expect("representable");
        v.push(OrcSeed { name: format!("{}-{n}", if user { "sleeping" } else { "kthread" }), data, frames });
    }
    v
}

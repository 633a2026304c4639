//! Shared harness for graft's host tests.
//!
//! * [`objdump`]: disassemble bytes with the arch's GNU objdump;
//! * [`check_vectors`]: run a backend's codec over a vector file and cross-check
//!   every vector against objdump;
//! * [`Toolchain`]: the cross compilers and their ftrace flags (Linux 7.3).
//!
//! Tests fail loudly when a tool is missing: `ci/setup.sh` installs them all.
#![forbid(unsafe_code)]

use graft_core::{BranchKind, Codec, Insn, TextAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The five arches, by kernel name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchId {
    /// x86_64
    X86_64,
    /// arm64
    Arm64,
    /// powerpc (ppc64le)
    Powerpc,
    /// s390 (s390x)
    S390,
    /// riscv (riscv64)
    Riscv,
}

impl ArchId {
    /// GNU objdump for the arch.
    pub fn objdump_bin(self) -> &'static str {
        match self {
            ArchId::X86_64 => "x86_64-linux-gnu-objdump",
            ArchId::Arm64 => "aarch64-linux-gnu-objdump",
            ArchId::Powerpc => "powerpc64le-linux-gnu-objdump",
            ArchId::S390 => "s390x-linux-gnu-objdump",
            ArchId::Riscv => "riscv64-linux-gnu-objdump",
        }
    }
    fn objdump_machine(self) -> &'static [&'static str] {
        match self {
            ArchId::X86_64 => &["-m", "i386:x86-64"],
            ArchId::Arm64 => &["-m", "aarch64"],
            ArchId::Powerpc => &["-m", "powerpc:common64", "-EL"],
            ArchId::S390 => &["-m", "s390:64-bit", "-EB"],
            ArchId::Riscv => &["-m", "riscv:rv64"],
        }
    }
    /// Debian's cross gcc (host gcc for x86_64).
    pub fn gcc(self) -> &'static str {
        match self {
            ArchId::X86_64 => "x86_64-linux-gnu-gcc",
            ArchId::Arm64 => "aarch64-linux-gnu-gcc",
            ArchId::Powerpc => "powerpc64le-linux-gnu-gcc",
            ArchId::S390 => "s390x-linux-gnu-gcc",
            ArchId::Riscv => "riscv64-linux-gnu-gcc",
        }
    }
    /// clang's `--target` for the arch.
    pub fn clang_target(self) -> &'static str {
        match self {
            ArchId::X86_64 => "x86_64-linux-gnu",
            ArchId::Arm64 => "aarch64-linux-gnu",
            ArchId::Powerpc => "powerpc64le-linux-gnu",
            ArchId::S390 => "s390x-linux-gnu",
            ArchId::Riscv => "riscv64-linux-gnu",
        }
    }
}

/// One instruction as objdump printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disasm {
    /// Its address.
    pub addr: u64,
    /// Its length in bytes.
    pub len: usize,
    /// Mnemonic, e.g. `call`, `bl`, `brasl`.
    pub mnemonic: String,
    /// Operand text as printed.
    pub operands: String,
    /// The branch target objdump computed, if any (first hex number of the
    /// operands for a pc-relative branch).
    pub target: Option<u64>,
}

/// Disassemble `bytes` placed at `addr` with the arch's GNU objdump.
///
/// # Panics
/// If objdump is missing or fails: run `ci/setup.sh`.
pub fn objdump(arch: ArchId, addr: u64, bytes: &[u8]) -> Vec<Disasm> {
    let dir = std::env::temp_dir().join(format!("graft-objdump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{:x}-{}.bin", addr, hex(bytes).replace(' ', "")));
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new(arch.objdump_bin())
        .args(["-D", "-b", "binary", "-z"])
        .args(arch.objdump_machine())
        .arg(format!("--adjust-vma={addr:#x}"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{} not runnable ({e}); run ci/setup.sh", arch.objdump_bin()));
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "objdump failed: {}", String::from_utf8_lossy(&out.stderr));
    parse_objdump(&String::from_utf8_lossy(&out.stdout))
}

/// Parse objdump's `-D` listing lines `  addr:\tbytes \tmnemonic operands`.
pub fn parse_objdump(text: &str) -> Vec<Disasm> {
    let mut v = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(a), Some(b), rest) = (parts.next(), parts.next(), parts.next()) else { continue };
        let Some(a) = a.trim().strip_suffix(':') else { continue };
        let Ok(addr) = u64::from_str_radix(a, 16) else { continue };
        let len = b.split_whitespace().map(|x| x.len() / 2).sum();
        let rest = rest.unwrap_or("").trim();
        // A continuation line (long x86 insn) has bytes but no mnemonic.
        if rest.is_empty() {
            if let Some(last) = v.last_mut() {
                let last: &mut Disasm = last;
                last.len += len;
            }
            continue;
        }
        let (mnemonic, operands) = match rest.split_once(|c: char| c.is_whitespace()) {
            Some((m, o)) => (m.to_string(), o.trim().to_string()),
            None => (rest.to_string(), String::new()),
        };
        let target = first_hex(&operands);
        v.push(Disasm { addr, len, mnemonic, operands, target });
    }
    v
}

fn first_hex(ops: &str) -> Option<u64> {
    // Branch operands look like `0x1005`, `1005 <sym>`, `.+8 # 0x1008`.
    if let Some(i) = ops.find("0x") {
        let h: String = ops[i + 2..].chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        return u64::from_str_radix(&h, 16).ok();
    }
    let h: String = ops.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    if h.is_empty() || ops[h.len()..].chars().next().is_some_and(|c| c.is_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(&h, 16).ok()
}

/// Bytes as `aa bb cc`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

/// Parse `aa bb cc`.
pub fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|x| u8::from_str_radix(x, 16).unwrap_or_else(|_| panic!("bad hex byte {x:?}"))).collect()
}

/// One line of a vector file:
/// `form | addr | target | bytes | mnemonic`
/// where form is `nop`, `call` or `jump`, target is `-` for a nop, and
/// mnemonic is what GNU objdump prints for the bytes.
#[derive(Clone, Debug)]
pub struct Vector {
    /// Line in the file (1-based).
    pub line: usize,
    /// `nop`, `call`, `jump`.
    pub form: String,
    /// Where the instruction sits.
    pub addr: u64,
    /// Branch target.
    pub target: Option<u64>,
    /// Expected encoding.
    pub bytes: Vec<u8>,
    /// objdump's mnemonic.
    pub mnemonic: String,
}

fn num(s: &str) -> u64 {
    let s = s.trim();
    let r = s.strip_prefix("0x").map_or_else(|| s.parse(), |h| u64::from_str_radix(h, 16));
    r.unwrap_or_else(|_| panic!("bad number {s:?}"))
}

/// Read a vector file (`#` starts a comment).
pub fn load_vectors(path: &Path) -> Vec<Vector> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(c.len(), 5, "{}:{}: want 5 columns", path.display(), i + 1);
        v.push(Vector {
            line: i + 1,
            form: c[0].to_string(),
            addr: num(c[1]),
            target: (c[2] != "-").then(|| num(c[2])),
            bytes: unhex(c[3]),
            mnemonic: c[4].to_string(),
        });
    }
    v
}

/// Check every vector in `path` three ways: the codec encodes (form, addr,
/// target) to exactly the bytes; the codec decodes the bytes back to the form
/// and target; GNU objdump disassembles the bytes to the mnemonic and the same
/// target.  Returns the number of vectors checked.
///
/// # Panics
/// On the first mismatch, naming the file and line.
pub fn check_vectors<A: Codec>(arch: ArchId, path: &Path) -> usize {
    let vs = load_vectors(path);
    assert!(!vs.is_empty(), "{}: no vectors", path.display());
    for v in &vs {
        let at = format!("{}:{}", path.display(), v.line);
        let from = TextAddr(v.addr);
        let enc = match v.form.as_str() {
            "nop" => A::encode_nop(),
            "call" | "jump" => {
                let kind = if v.form == "call" { BranchKind::Call } else { BranchKind::Jump };
                A::encode_branch(kind, from, TextAddr(v.target.expect("branch needs a target")))
                    .unwrap_or_else(|e| panic!("{at}: encode failed: {e}"))
            }
            f => panic!("{at}: unknown form {f}"),
        };
        assert_eq!(enc.as_slice(), &v.bytes[..], "{at}: encoding differs");
        let dec = A::decode(from, &v.bytes).unwrap_or_else(|e| panic!("{at}: decode failed: {e}"));
        match (v.form.as_str(), dec) {
            ("nop", Insn::Nop { len }) => assert_eq!(len as usize, v.bytes.len(), "{at}: nop length"),
            ("call", Insn::Branch { kind: BranchKind::Call, target, .. })
            | ("jump", Insn::Branch { kind: BranchKind::Jump, target, .. }) => {
                assert_eq!(Some(target.0), v.target, "{at}: decoded target")
            }
            (f, d) => panic!("{at}: form {f} decoded as {d:?}"),
        }
        let dis = objdump(arch, v.addr, &v.bytes);
        assert_eq!(dis.len(), 1, "{at}: objdump saw {} instructions: {dis:?}", dis.len());
        assert_eq!(dis[0].mnemonic, v.mnemonic, "{at}: objdump mnemonic ({dis:?})");
        assert_eq!(dis[0].len, v.bytes.len(), "{at}: objdump length");
        if v.form != "nop" {
            assert_eq!(dis[0].target, v.target, "{at}: objdump target ({dis:?})");
        }
    }
    vs.len()
}

/// A compiler invocation for the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// Debian's cross gcc 12 (host gcc on x86_64).
    Gcc,
    /// clang 19.
    Clang,
}

/// Compile `src` to an object with `cc` for `arch` and `flags` (the kernel's
/// ftrace flags for the arch).  Returns the object's path.
///
/// # Panics
/// If the compiler is missing or fails.
pub fn compile(arch: ArchId, cc: Cc, flags: &[&str], src: &Path, out_dir: &Path) -> PathBuf {
    std::fs::create_dir_all(out_dir).unwrap();
    let stem = src.file_stem().unwrap().to_string_lossy();
    let obj = out_dir.join(format!("{stem}-{arch:?}-{cc:?}.o"));
    let mut cmd = match cc {
        Cc::Gcc => Command::new(arch.gcc()),
        Cc::Clang => {
            let mut c = Command::new("clang-19");
            c.arg(format!("--target={}", arch.clang_target()));
            c
        }
    };
    cmd.args(["-c", "-O2", "-ffreestanding", "-fno-pic"]).args(flags).arg("-o").arg(&obj).arg(src);
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}; run ci/setup.sh"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    obj
}

/// Where a test may put build products.
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    base.join(name)
}

/// The transition's check of a stack that a backend's reliable walk refuses
/// at an exception frame (`graft_core::transition::check_task` falling back
/// to `scan_stack`), on that backend's real layout: `regs`, `bounds`, `mem`
/// hold a task preempted at `pc` (its `pt_regs` say so), `above` is a
/// return address of a frame above the exception frame and `lr_only` one
/// found only in the interrupted context's saved registers (or `None`).
/// Asserts that the task switches when no changed function is referenced,
/// and is held when the interrupted function, a caller above the exception
/// frame, or a caller whose return address is only in the saved registers
/// is changed.  Returns the number of cases checked.
pub fn check_interrupted_stack<A: graft_core::Unwinder>(
    regs: &graft_core::SavedRegs,
    bounds: graft_core::StackBounds,
    mem: &dyn graft_core::StackReader,
    text: &dyn graft_core::TextInfo,
    pc: u64,
    above: u64,
    lr_only: Option<u64>,
) -> usize {
    use graft_core::transition::check_task;
    use graft_core::{Blocker, Ranges, TaskView, Unreliable};
    let mut scratch = [TextAddr(0); 64];
    let view = TaskView::Sleeping { regs: *regs, bounds, mem };
    let mut walked = [TextAddr(0); 64];
    assert!(
        matches!(A::unwind_reliable(regs, bounds, mem, text, &mut walked), Err(Unreliable::ExceptionFrame(_))),
        "{}: the layout must be an exception frame to the reliable walk",
        A::NAME
    );
    // Two bytes: the word itself and the byte before it (a call ending a function).
    let around = |a: u64| [(TextAddr(a - 1), 2u64)];
    let unwinder = graft_core::ArchUnwinder::<A>::NEW;
    let check =
        |r: &[(TextAddr, u64)], scratch: &mut [TextAddr]| check_task(&unwinder, view, &Ranges(r), text, scratch);
    assert_eq!(check(&[], &mut scratch), Ok(()), "{}: nothing changed is referenced", A::NAME);
    let far = pc.wrapping_add(0x10_0000);
    assert_eq!(check(&around(far), &mut scratch), Ok(()), "{}: a changed function nowhere on the stack", A::NAME);
    let mut n = 2;
    for (what, a) in
        [("interrupted function", Some(pc)), ("caller above", Some(above)), ("caller in a register", lr_only)]
    {
        let Some(a) = a else { continue };
        let r = around(a);
        match check(&r, &mut scratch) {
            Err(Blocker::Referenced { func, .. }) => assert_eq!(func, r[0].0, "{}: {what}", A::NAME),
            other => panic!("{}: {what} changed: {other:?}", A::NAME),
        }
        n += 1;
    }
    n
}

//! `graft-inspect sites [--json] FILE`: every ftrace site of a vmlinux, `.ko`
//! or `.o` of x86_64, arm64, ppc64le, s390x or riscv64 (or of the vmlinux
//! inside a compressed kernel image), and whether graft can patch it.
//!
//! `graft-inspect live [--json] [--tracefs DIR] [--kallsyms FILE] [--kcore
//! FILE]`: the same for the running kernel, from tracefs'
//! `available_filter_functions_addrs`, `/proc/kallsyms` and the live text in
//! `/proc/kcore` (root only).
//!
//! `graft-inspect preimage (--orig OBJ [--linked VMLINUX] --patch
//! PATCH.o)...`: the pre-images of the functions klp-build's patch objects
//! replace, each from its original object (and the linked original, which
//! checks it), as C for kmod/klp/init.c (`make patch`,
//! qemu-images/make-patch.sh).  `--check-all --orig OBJ --linked VMLINUX`
//! checks the masks of every uniquely named function of a build;
//! `--params NAME[,SYMPOS]` prints one function's pre-image as the
//! parameters of kmod/samples/graft_test_dup_pick.c (S11).

use graft_inspect::live::LivePaths;
use graft_inspect::Report;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: graft-inspect sites [--json] FILE");
    eprintln!("       graft-inspect live [--json] [--tracefs DIR] [--kallsyms FILE] [--kcore FILE]");
    eprintln!("       graft-inspect preimage (--orig OBJ [--linked VMLINUX] --patch PATCH.o)...");
    eprintln!("       graft-inspect preimage --check-all --orig OBJ --linked VMLINUX");
    eprintln!("       graft-inspect preimage --orig OBJ [--linked VMLINUX] --params NAME[,SYMPOS]");
    ExitCode::from(2)
}

fn print(r: &Report, json: bool) -> ExitCode {
    let out = if json { graft_inspect::to_json_lines(r) } else { graft_inspect::to_table(r) };
    // `print!` panics on a closed pipe (`graft-inspect sites vmlinux |
    // head`): a reader that stopped reading is not an error.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graft-inspect: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(file: &str) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(file).map_err(|e| {
        eprintln!("graft-inspect: {file}: {e}");
        ExitCode::FAILURE
    })
}

/// An original object and, if named, its linked original.
fn read_orig(orig: &str, linked: Option<&String>) -> Result<(Vec<u8>, Option<Vec<u8>>), ExitCode> {
    Ok((read(orig)?, linked.map(|l| read(l)).transpose()?))
}

/// `preimage`: C on standard output, a line per function on standard
/// error.  Each `--patch` takes the `--orig` (and `--linked`) before it.
fn preimage(args: &[String]) -> ExitCode {
    use graft_inspect::preimage::{check_all, patched_funcs, preimage, to_c, PreimageError};
    let (mut orig, mut linked, mut all, mut func) = (None, None, false, None);
    let mut groups = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--check-all" {
            all = true;
            continue;
        }
        match (a.as_str(), it.next()) {
            ("--orig", Some(o)) => orig = Some(o),
            ("--linked", Some(l)) => linked = Some(l),
            ("--patch", Some(p)) => match orig.take() {
                Some(o) => groups.push((o, linked.take(), p)),
                None => return usage(),
            },
            ("--params", Some(f)) => func = Some(f),
            _ => return usage(),
        }
    }
    if all {
        let (Some(orig), Some(linked), true) = (orig, linked, groups.is_empty()) else { return usage() };
        let (o, l) = match (read(orig), read(linked)) {
            (Ok(o), Ok(l)) => (o, l),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        return match check_all(&o, &l) {
            Ok((n, bad)) => {
                for b in &bad {
                    println!("differs: {b}");
                }
                println!("{n} functions checked, {} differ outside their masks", bad.len());
                if bad.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("graft-inspect: preimage: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(f) = func {
        // one function of one object, named here: its pre-image as a
        // patch module's parameters
        let (Some(orig), true) = (orig, groups.is_empty()) else { return usage() };
        let (name, sympos) = f.split_once(',').unwrap_or((f.as_str(), "0"));
        let Ok(sympos) = sympos.parse() else { return usage() };
        let (o, l) = match read_orig(orig, linked) {
            Ok(r) => r,
            Err(c) => return c,
        };
        let f = graft_inspect::preimage::PatchedFunc { object: None, name: name.to_string(), sympos };
        return match preimage(&o, l.as_deref(), &f) {
            Ok(p) => {
                println!("{}", graft_inspect::preimage::to_params(&p));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("graft-inspect: preimage: {orig}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if groups.is_empty() || orig.is_some() || linked.is_some() {
        return usage();
    }
    let fail = |what: &str, e: PreimageError| {
        eprintln!("graft-inspect: preimage: {what}: {e}");
        ExitCode::FAILURE
    };
    let mut pres = Vec::new();
    for (orig, linked, patch) in groups {
        let ((o, l), p) = match (read_orig(orig, linked), read(patch)) {
            (Ok(ol), Ok(p)) => (ol, p),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        let funcs = match patched_funcs(&p) {
            Ok(f) => f,
            Err(e) => return fail(patch, e),
        };
        for f in &funcs {
            let pre = match preimage(&o, l.as_deref(), f) {
                Ok(p) => p,
                Err(e) => return fail(orig, e),
            };
            eprintln!(
                "graft-inspect: preimage: {}:{},{}: {} bytes, {} masks, hash {:#018x}",
                f.object.as_deref().unwrap_or("vmlinux"),
                f.name,
                f.sympos,
                pre.size,
                pre.masks.len(),
                pre.hash
            );
            pres.push(pre);
        }
    }
    match std::io::stdout().lock().write_all(to_c(&pres).as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graft-inspect: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("preimage") {
        return preimage(&args[1..]);
    }
    let mut json = false;
    let live = match args.first().map(String::as_str) {
        Some("sites") => false,
        Some("live") => true,
        _ => return usage(),
    };
    let mut file = None;
    let mut paths = LivePaths::system();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--tracefs" if live => match it.next() {
                Some(d) => paths.filter_addrs = PathBuf::from(d).join("available_filter_functions_addrs"),
                None => return usage(),
            },
            "--kallsyms" if live => match it.next() {
                Some(f) => paths.kallsyms = f.into(),
                None => return usage(),
            },
            "--kcore" if live => match it.next() {
                Some(f) => paths.kcore = f.into(),
                None => return usage(),
            },
            s if s.starts_with('-') => return usage(),
            s if file.is_none() && !live => file = Some(s.to_string()),
            _ => return usage(),
        }
    }
    if live {
        return match graft_inspect::live::live(&paths) {
            Ok(r) => print(&r, json),
            Err(e) => {
                eprintln!("graft-inspect: live: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(file) = file else { return usage() };
    let data = match std::fs::read(&file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("graft-inspect: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match graft_inspect::inspect(&data) {
        Ok(i) => {
            if let Some(note) = i.note {
                eprintln!("graft-inspect: {file}: {note}");
            }
            print(&i.report, json)
        }
        Err(e) => {
            eprintln!("graft-inspect: {file}: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `graft-inspect sites [--json] FILE`: every ftrace site of a vmlinux, `.ko`
//! or `.o` of x86_64, arm64, ppc64le, s390x or riscv64 (or of the vmlinux
//! inside a compressed kernel image), and whether graft can patch it.
//!
//! `graft-inspect live [--json] [--tracefs DIR] [--kallsyms FILE] [--kcore
//! FILE]`: the same for the running kernel, from tracefs'
//! `available_filter_functions_addrs`, `/proc/kallsyms` and the live text in
//! `/proc/kcore` (root only).

use graft_inspect::live::LivePaths;
use graft_inspect::Report;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: graft-inspect sites [--json] FILE");
    eprintln!("       graft-inspect live [--json] [--tracefs DIR] [--kallsyms FILE] [--kcore FILE]");
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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

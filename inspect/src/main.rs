//! `graft-inspect sites [--json] FILE`: every ftrace site of a vmlinux, `.ko`
//! or `.o` of x86_64, arm64, ppc64le, s390x or riscv64, and whether graft can
//! patch it.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: graft-inspect sites [--json] FILE");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut json = false;
    let mut file = None;
    match args.first().map(String::as_str) {
        Some("sites") => {}
        _ => return usage(),
    }
    for a in &args[1..] {
        match a.as_str() {
            "--json" => json = true,
            s if s.starts_with('-') => return usage(),
            s if file.is_none() => file = Some(s.to_string()),
            _ => return usage(),
        }
    }
    let Some(file) = file else { return usage() };
    let data = match std::fs::read(&file) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("graft-inspect: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match graft_inspect::sites(&data) {
        Ok(r) => {
            let out = if json { graft_inspect::to_json_lines(&r) } else { graft_inspect::to_table(&r) };
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
        Err(e) => {
            eprintln!("graft-inspect: {file}: {e}");
            ExitCode::FAILURE
        }
    }
}

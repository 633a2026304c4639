//! Writes seeds for every fuzz target into `OUT/<target>/` from real
//! inputs: the corpus objects the tests compile, entry windows and site
//! bytes of the cached vmlinux images, synthetic stacks laid by the
//! backends' `testing` builders, the codec vectors, `/proc/kallsyms` text
//! of a guest (`fuzz/seeds/kallsyms/*.txt`) and made from the images' and
//! modules' symbols with `nm`.  Nothing it writes is committed:
//! `fuzz/run.sh` runs it into `$GRAFT_CACHE/fuzz-seeds`.
//!
//! Usage: `cargo run -p graft-fuzz-input --example seeds -- OUT [CACHE]`
//! (CACHE: the graft cache with `kernels/`; default `$GRAFT_CACHE`, else
//! `~/.cache/graft`).

mod gen;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(args.next().expect("usage: seeds OUT [CACHE]"));
    let cache =
        args.next().map(PathBuf::from).or_else(|| std::env::var_os("GRAFT_CACHE").map(PathBuf::from)).unwrap_or_else(
            || {
                let home = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
                home.join("graft")
            },
        );
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut seeds = Vec::new();

    seeds.extend(gen::stack_seeds());
    seeds.extend(gen::orc_seeds().into_iter().map(|o| gen::Seed {
        target: "x86_64_orc_unwind_stays_in_bounds",
        name: format!("synthetic-{}", o.name),
        data: o.data,
    }));
    seeds.extend(gen::vector_seeds(&top));

    let objdir = out.join(".objects");
    std::fs::create_dir_all(&objdir).expect("object folder");
    for (name, data) in gen::compile_objects(&top, &objdir) {
        seeds.extend(gen::image_seeds(&name, &data, 8));
        seeds.push(gen::Seed { target: "inspect_elf_never_panics", name: format!("corpus-{name}"), data });
    }

    // Real /proc/kallsyms text kept in the repository (a guest's).
    if let Ok(rd) = std::fs::read_dir(top.join("fuzz/seeds/kallsyms")) {
        let mut files: Vec<_> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "txt")).collect();
        files.sort();
        for f in files {
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&f).expect("kallsyms text");
            seeds.extend(gen::kallsyms_seeds(&stem, &text, 48, 1, 8));
        }
    }

    for (arch, kdir) in gen::kernels(&cache) {
        let vmlinux = kdir.join("vmlinux");
        match std::fs::read(&vmlinux) {
            Ok(data) => seeds.extend(gen::image_seeds(&format!("vmlinux-{arch}"), &data, 160)),
            Err(e) => eprintln!("seeds: {}: {e}", vmlinux.display()),
        }
        let mut modules = Vec::new();
        for ko in gen::small_modules(&kdir, 96 * 1024) {
            let stem = ko.file_stem().unwrap().to_string_lossy().replace('-', "_");
            if let Ok(data) = std::fs::read(&ko) {
                seeds.push(gen::Seed { target: "inspect_elf_never_panics", name: format!("ko-{arch}-{stem}"), data });
            }
            modules.push((stem, gen::nm(&ko)));
        }
        let text = gen::kallsyms_text(&gen::nm(&vmlinux), &modules);
        seeds.extend(gen::kallsyms_seeds(&format!("nm-{arch}"), &text, 48, 97, 16));
        // The module part whole (modules are few and small).
        let mods = gen::kallsyms_text(&[], &modules);
        seeds.extend(gen::kallsyms_seeds(&format!("nm-{arch}-modules"), &mods, 48, 1, 4));
    }

    // Each target's folder holds exactly this run's seeds.
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in seeds.iter().map(|s| s.target).collect::<std::collections::BTreeSet<_>>() {
        let d = out.join(t);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("seed folder");
    }
    for s in &seeds {
        std::fs::write(out.join(s.target).join(&s.name), &s.data).expect("seed file");
        let e = per.entry(s.target).or_default();
        e.0 += 1;
        e.1 += s.data.len();
    }
    for (t, (n, bytes)) in per {
        println!("seeds: {t}: {n} seeds, {} KiB", bytes.div_ceil(1024));
    }
}

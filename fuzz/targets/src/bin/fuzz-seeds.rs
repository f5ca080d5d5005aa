//! Writes the seed inputs of every fuzz target (or of the ones named) to
//! `<dir>/<target>/<name>`: `cargo run -p entra-jwt-fuzz-targets --bin fuzz-seeds -- <dir> [target...]`.
#![forbid(unsafe_code)]
#![allow(clippy::expect_used, clippy::panic)]

use entra_jwt_fuzz_targets::{TARGETS, seeds::seeds};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: fuzz-seeds <dir> [target...]"));
    let mut wanted: Vec<String> = args.collect();
    if wanted.is_empty() {
        wanted = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
    }
    for target in wanted {
        let seeds = seeds(&target).unwrap_or_else(|| panic!("no target {target}"));
        let out = dir.join(&target);
        std::fs::create_dir_all(&out).expect("create the seed directory");
        for (name, bytes) in &seeds {
            std::fs::write(out.join(name), bytes).expect("write a seed");
        }
        println!("{target}: {} seeds", seeds.len());
    }
}

//! Replays every committed fuzz input on stable: each file of
//! `fuzz/corpus/<target>/`, `fuzz/regressions/<target>/` (the minimised input
//! of every finding, committed) and `fuzz/artifacts/<target>/` (what a local
//! fuzz run saved: crashes, timeouts, leaks; not committed) goes through the
//! same function the fuzz target calls. A panic names the file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use entra_jwt_fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files directly in `dir` (none if it does not exist), sorted.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let start = Instant::now();
    let mut files = inputs(&fuzz_dir().join("corpus").join(target));
    assert!(
        !files.is_empty(),
        "fuzz/corpus/{target} is empty or missing"
    );
    files.extend(inputs(&fuzz_dir().join("regressions").join(target)));
    files.extend(inputs(&fuzz_dir().join("artifacts").join(target)));
    let mut failures = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            failures.push(file.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: inputs that fail: {failures:#?}"
    );
    println!(
        "{target}: {} inputs in {:.2?}",
        files.len(),
        start.elapsed()
    );
    files.len()
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            replay(stringify!($name), entra_jwt_fuzz_targets::$name);
        }
    )*};
}

replay_tests!(
    token,
    header,
    claims,
    verify,
    jwks,
    x5c,
    discovery,
    authorization,
    rs256,
    key_source,
);

/// Every target has a replay test above and a cargo-fuzz target file.
#[test]
fn every_target_is_replayed_and_fuzzed() {
    let tested = [
        "token",
        "header",
        "claims",
        "verify",
        "jwks",
        "x5c",
        "discovery",
        "authorization",
        "rs256",
        "key_source",
    ];
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, tested);
    for name in names {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("entra_jwt_fuzz_targets::{name}(")),
            "{} does not call the shared target",
            file.display()
        );
    }
}

//! Throughput of one shared `Verifier` on 1 and 2 threads, cold (no token
//! cache: every verification is a full RS256 check) and warm (cache hits),
//! with a key refresh forced in the middle of every run (the manual clock
//! jumps past the refresh interval; a background thread refetches the JWKS
//! while the workers verify). Prints `concurrency <mode> <threads> <ops/s>`
//! and the 2-thread/1-thread ratio.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use entra_jwt::core::VartimeBackend;
use entra_jwt_benches as b;

fn run(cache: bool, threads: usize, secs: f64) -> f64 {
    let now = b::now();
    let tokens = Arc::new(b::tokens(512, now));
    let (v, clock, fetch) = b::verifier(now, 60, cache, Arc::new(VartimeBackend));
    for t in tokens.iter() {
        v.verify_shared(t).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let fetched_before = fetch.calls();
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|w| {
            let (v, tokens, stop, ops) = (
                v.clone(),
                Arc::clone(&tokens),
                Arc::clone(&stop),
                Arc::clone(&ops),
            );
            std::thread::spawn(move || {
                let mut i = w * 97;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % tokens.len();
                    v.verify_shared(&tokens[i]).unwrap();
                    n += 1;
                }
                ops.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs / 2.0));
    clock.advance(70); // past the interval plus its jitter (+5%): a refresh is due
    std::thread::sleep(Duration::from_secs_f64(secs / 2.0));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        fetch.calls() > fetched_before,
        "no refresh happened during the run"
    );
    ops.load(Ordering::Relaxed) as f64 / elapsed
}

fn main() {
    let secs: f64 = std::env::var("CONCURRENCY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    for (mode, cache) in [("cold", false), ("warm", true)] {
        let one = run(cache, 1, secs);
        let two = run(cache, 2, secs);
        println!("concurrency {mode} 1 {one:.0}");
        println!("concurrency {mode} 2 {two:.0}");
        println!("concurrency {mode} ratio {:.2}", two / one);
    }
}

//! Throughput of one shared `Verifier` on 1 and 2 threads, cold (no token
//! cache: every verification is a full RS256 check) and warm (cache hits),
//! with a key refresh forced in the middle of every run (the manual clock
//! jumps past the refresh interval; a background thread refetches the JWKS
//! while the workers verify). Prints `concurrency <mode> <threads> <ops/s>`
//! and the 2-thread/1-thread ratio (medians of 3 alternating runs each).
//!
//! Warm runs come in three access patterns over 512 cached tokens:
//! - `random`: each worker picks tokens at random (independent clients);
//!   about half the hits find the token last used on the other core.
//! - `sweep`: both workers walk the same tokens in the same order, so every
//!   hit finds the token last used on the other core: the worst case for
//!   the one write a hit makes to shared memory (the claims' reference
//!   count, which returning shared claims needs).
//! - `disjoint`: each worker has its own half of the tokens (no sharing).
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

#[derive(Clone, Copy)]
enum Pattern {
    Random,
    Sweep,
    Disjoint,
}

fn run(cache: bool, pattern: Pattern, threads: usize, secs: f64) -> f64 {
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
                let len = tokens.len();
                let mut i = w * 97;
                let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ (w as u64 + 1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let k = match pattern {
                        Pattern::Sweep => {
                            i = (i + 1) % len;
                            i
                        }
                        Pattern::Random => {
                            // xorshift64: cheap, and independent per worker.
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            (rng % len as u64) as usize
                        }
                        Pattern::Disjoint => {
                            i = (i + 1) % (len / 2);
                            w % 2 * (len / 2) + i
                        }
                    };
                    v.verify_shared(&tokens[k]).unwrap();
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let secs: f64 = std::env::var("CONCURRENCY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    // Runs alternate 1 and 2 threads, several times: the medians of the
    // throughputs and of the pairwise ratios resist a noisy neighbour.
    let reps = 3;
    for (mode, cache, pattern) in [
        ("cold", false, Pattern::Random),
        ("warm", true, Pattern::Random),
        ("warm-sweep", true, Pattern::Sweep),
        ("warm-disjoint", true, Pattern::Disjoint),
    ] {
        let (mut ones, mut twos, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            let one = run(cache, pattern, 1, secs);
            let two = run(cache, pattern, 2, secs);
            ones.push(one);
            twos.push(two);
            ratios.push(two / one);
        }
        println!("concurrency {mode} 1 {:.0}", median(ones));
        println!("concurrency {mode} 2 {:.0}", median(twos));
        println!("concurrency {mode} ratio {:.2}", median(ratios));
    }
}

//! Heap allocations per verification, for every contender, counted by a
//! global allocator wrapper (stats_alloc: no unsafe code of ours). Kept out of
//! the timing benchmark so counting costs no contender any time. Prints one
//! `allocs <name> <count>` line per contender.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use entra_jwt::core::{SignatureBackend, VartimeBackend};
use entra_jwt_aws_lc::AwsLcBackend;
use entra_jwt_benches as b;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const N: usize = 64;

fn per_call(name: &str, mut f: impl FnMut(usize)) {
    f(0); // warm any lazy state
    let region = Region::new(GLOBAL);
    for i in 1..=N {
        f(i);
    }
    let c = region.change();
    let per = (c.allocations + c.reallocations) as f64 / N as f64;
    println!("allocs {name} {per:.1}");
}

fn main() {
    let now = b::now();
    let tokens = b::tokens(N + 1, now);
    let keys = b::keys();
    let policy = b::policy();
    let pkey = b::ossl::key();
    let raw: Vec<(Vec<u8>, Vec<u8>)> = tokens.iter().map(|t| b::ossl::split(t)).collect();
    per_call("openssl_raw_verify", |i| {
        assert!(b::ossl::verify(&pkey, &raw[i].0, &raw[i].1));
    });
    let aws = AwsLcBackend::new();
    aws.prepare(&keys);
    for (name, backend) in [
        (
            "entra_jwt_vartime_cold",
            &VartimeBackend as &dyn SignatureBackend,
        ),
        ("entra_jwt_aws_lc_cold", &aws),
    ] {
        per_call(name, |i| {
            policy
                .verify_shared_with(backend, &tokens[i], &keys, now)
                .unwrap();
        });
    }
    for (name, cache) in [
        ("driver_vartime_cold", false),
        ("driver_cold_with_cache_insert", true),
    ] {
        let (v, _c, _f) = b::verifier(now, 12 * 3600, cache, Arc::new(VartimeBackend));
        per_call(name, |i| {
            v.verify_shared(&tokens[i]).unwrap();
        });
        if cache {
            per_call("driver_warm_cache_hit", |i| {
                v.verify_shared(&tokens[i]).unwrap();
            });
        }
    }
    b::jwt::install();
    let (key, validation) = b::jwt::setup();
    for (name, rc) in [
        ("jsonwebtoken_aws_lc", false),
        ("jsonwebtoken_rust_crypto", true),
    ] {
        b::jwt::use_rust_crypto(rc);
        per_call(name, |i| {
            assert!(b::jwt::decode(&tokens[i], &key, &validation))
        });
    }
}

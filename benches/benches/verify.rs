//! Per-token cost of a full RS256 verification (decode, verify, claim checks)
//! of the same Entra-shaped tokens by every contender, in one run; plus key-set
//! parsing of Microsoft's recorded JWKS documents. `benches/compare.sh` turns
//! the medians into the README table.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use entra_jwt::core::{KeySet, RustCryptoBackend, SignatureBackend, VartimeBackend};
use entra_jwt_aws_lc::AwsLcBackend;
use entra_jwt_benches as b;

const TOKENS: usize = 256;

fn cycle<'a>(tokens: &'a [String], i: &mut usize) -> &'a str {
    *i = (*i + 1) % tokens.len();
    &tokens[*i]
}

fn rs256(c: &mut Criterion) {
    let now = b::now();
    let tokens = b::tokens(TOKENS, now);
    let keys = b::keys();
    let policy = b::policy();
    let mut g = c.benchmark_group("rs256_2048");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    // The floor: OpenSSL's raw verify (SHA-256 + RSA-2048), key parsed once.
    let pkey = b::ossl::key();
    let raw: Vec<(Vec<u8>, Vec<u8>)> = tokens.iter().map(|t| b::ossl::split(t)).collect();
    let mut i = 0;
    g.bench_function("openssl_raw_verify", |bench| {
        bench.iter(|| {
            i = (i + 1) % raw.len();
            let (m, s) = &raw[i];
            assert!(b::ossl::verify(&pkey, black_box(m), black_box(s)));
        });
    });

    // This project, core (cold: no token cache, every verification is full).
    let backends: [(&str, Arc<dyn SignatureBackend>); 3] = [
        ("entra_jwt_vartime_cold", Arc::new(VartimeBackend)),
        ("entra_jwt_aws_lc_cold", Arc::new(AwsLcBackend::new())),
        ("entra_jwt_rsa_crate_cold", Arc::new(RustCryptoBackend)),
    ];
    for (name, backend) in &backends {
        let mut i = 0;
        g.bench_function(*name, |bench| {
            bench.iter(|| {
                let t = cycle(&tokens, &mut i);
                black_box(
                    policy
                        .verify_shared_with(backend.as_ref(), black_box(t), &keys, now)
                        .unwrap(),
                );
            });
        });
    }

    // This project through the driver (`Verifier::verify_shared`), cold and warm.
    for (name, cache, backend) in [
        (
            "driver_vartime_cold",
            false,
            Arc::new(VartimeBackend) as Arc<dyn SignatureBackend>,
        ),
        ("driver_aws_lc_cold", false, Arc::new(AwsLcBackend::new())),
        ("driver_warm_cache_hit", true, Arc::new(VartimeBackend)),
    ] {
        let (v, _clock, _fetch) = b::verifier(now, 12 * 3600, cache, backend);
        for t in &tokens {
            v.verify_shared(t).unwrap();
        }
        let mut i = 0;
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let t = cycle(&tokens, &mut i);
                black_box(v.verify_shared(black_box(t)).unwrap());
            });
        });
    }

    // jsonwebtoken 12, both backends (one process, dispatching provider).
    b::jwt::install();
    let (key, validation) = b::jwt::setup();
    for (name, rust_crypto) in [
        ("jsonwebtoken_aws_lc", false),
        ("jsonwebtoken_rust_crypto", true),
    ] {
        b::jwt::use_rust_crypto(rust_crypto);
        let mut i = 0;
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let t = cycle(&tokens, &mut i);
                assert!(b::jwt::decode(black_box(t), &key, &validation));
            });
        });
    }
    g.finish();
}

fn jwks(c: &mut Criterion) {
    let mut g = c.benchmark_group("jwks_parse");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, doc) in b::recorded_jwks() {
        let Ok(set) = KeySet::from_jwks(&doc) else {
            continue;
        };
        let label = format!("{}keys_{}", set.len(), name.trim_end_matches(".json"));
        g.bench_function(label, |bench| {
            bench.iter(|| black_box(KeySet::from_jwks(black_box(&doc)).unwrap()));
        });
    }
    g.finish();
}

criterion_group!(benches, rs256, jwks);
criterion_main!(benches);

//! Heap allocations per verification through the driver, counted by a
//! wrapping global allocator (`stats_alloc`; declaring it needs no unsafe
//! code of ours): at most 4 per cold verification (3 measured: the decoded
//! payload, the shared claims, the cache's copy of the token) and none per
//! token-cache hit. One test, so no other test thread allocates meanwhile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use entra_jwt::core::{KeySource, Policy, RefreshConfig};
use entra_jwt::{Clock, Fetch, FetchError, ManualClock, TokenCacheConfig, Verifier};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

struct Jwks;
impl Fetch for Jwks {
    fn get(&self, _: &str) -> Result<Vec<u8>, FetchError> {
        Ok(TestTenant::jwks_json().as_bytes().to_vec())
    }
}

/// The allocation counter is process-wide: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cold_verifications_allocate_at_most_4_and_hits_none() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tokens: Vec<String> = (0..20)
        .map(|i| {
            let key = if i % 2 == 0 {
                Key::Rsa2048
            } else {
                Key::Rsa3072
            };
            let mut claims = if i % 4 == 1 {
                TestTenant::app_claims(tt::NOW)
            } else {
                TestTenant::v2_claims(tt::NOW)
            };
            claims["uti"] = format!("alloc-{i}").into();
            TestTenant::get().sign(key, &TestTenant::header(key), &claims)
        })
        .collect();
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    for cache in [false, true] {
        let source = KeySource::from_jwks_uri(tt::JWKS_URI_V2, RefreshConfig::default());
        let mut builder = Verifier::builder(policy.clone(), source, Jwks)
            .clock(Arc::new(ManualClock::new(tt::NOW)) as Arc<dyn Clock>);
        if cache {
            builder = builder.token_cache(TokenCacheConfig::default());
        }
        let v = builder.build();
        v.load().unwrap();
        v.verify_shared(&tokens[0]).unwrap(); // first call: lazy state
        for t in &tokens[1..] {
            let region = Region::new(GLOBAL);
            let claims = v.verify_shared(t).unwrap();
            let c = region.change();
            drop(claims);
            let count = c.allocations + c.reallocations;
            assert!(count <= 4, "cold (cache {cache}): {count} allocations");
            // Claims and payload; with the cache also the token's copy and
            // the entry the cache publishes.
            assert!(
                count <= if cache { 4 } else { 2 },
                "cold (cache {cache}): {count}"
            );
        }
        if cache {
            for t in &tokens[1..] {
                let region = Region::new(GLOBAL);
                let claims = v.verify_shared(t).unwrap();
                let c = region.change();
                drop(claims);
                assert_eq!(c.allocations + c.reallocations, 0, "cache hit");
            }
        }
    }
}

#[test]
fn after_a_key_set_change_each_entry_allocates_once_then_hits_allocate_nothing() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tokens: Vec<String> = (0..8)
        .map(|i| {
            let mut claims = TestTenant::v2_claims(tt::NOW);
            claims["uti"] = format!("rebind-{i}").into();
            TestTenant::get().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &claims)
        })
        .collect();
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let source = KeySource::from_jwks_uri(
        tt::JWKS_URI_V2,
        RefreshConfig::default().refresh_interval(3600),
    );
    let v = Verifier::builder(policy, source, Jwks)
        .clock(Arc::clone(&clock) as Arc<dyn Clock>)
        .token_cache(TokenCacheConfig::default())
        .build();
    v.load().unwrap();
    for t in &tokens {
        v.verify_shared(t).unwrap();
    }
    // A refresh publishes a new key set (the same keys, a new set).
    let before = v.keys().unwrap();
    clock.advance(2 * 3600);
    v.refresh_due();
    clock.set(tt::NOW + 60);
    assert!(!Arc::ptr_eq(&before, &v.keys().unwrap()), "a new set");
    v.verify_shared(&tokens[0]).unwrap(); // first call after: lazy state
    for t in &tokens[1..] {
        let region = Region::new(GLOBAL);
        drop(v.verify_shared(t).unwrap());
        let c = region.change();
        assert_eq!(c.allocations + c.reallocations, 1, "re-bind");
    }
    for t in &tokens[1..] {
        let region = Region::new(GLOBAL);
        drop(v.verify_shared(t).unwrap());
        let c = region.change();
        assert_eq!(c.allocations + c.reallocations, 0, "hit after re-bind");
    }
}

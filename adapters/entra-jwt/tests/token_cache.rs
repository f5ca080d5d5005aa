//! The verified-token cache (`VerifierBuilder::token_cache`): a hit never
//! returns a token that would now fail — time window, policy, or a key that
//! left the set — and the cache stays within its bounds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Mutex};

use entra_jwt::core::{Error, KeySource, Policy, RefreshConfig};
use entra_jwt::{Clock, Fetch, FetchError, ManualClock, TokenCacheConfig, Verifier};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};

#[derive(Clone)]
struct Serve(Arc<Mutex<String>>);

impl Fetch for Serve {
    fn get(&self, _: &str) -> Result<Vec<u8>, FetchError> {
        Ok(self.0.lock().unwrap().clone().into_bytes())
    }
}

fn token(key: Key, now: u64, uti: &str) -> String {
    let mut claims = TestTenant::v2_claims(now);
    claims["uti"] = uti.into();
    TestTenant::get().sign(key, &TestTenant::header(key), &claims)
}

fn verifier(config: TokenCacheConfig) -> (Verifier<Serve>, Arc<ManualClock>, Serve) {
    let serve = Serve(Arc::new(Mutex::new(TestTenant::jwks_json().to_string())));
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    let source = KeySource::from_jwks_uri(
        tt::JWKS_URI_V2,
        RefreshConfig::default()
            .refresh_interval(3600)
            .unknown_kid_interval(1),
    );
    let v = Verifier::builder(policy, source, serve.clone())
        .clock(Arc::clone(&clock) as Arc<dyn Clock>)
        .token_cache(config)
        .build();
    v.load().unwrap();
    (v, clock, serve)
}

#[test]
fn hits_are_rechecked_against_the_clock() {
    let (v, clock, _) = verifier(TokenCacheConfig::default());
    let t = token(Key::Rsa2048, tt::NOW, "a");
    let first = v.verify_shared(&t).unwrap();
    assert_eq!(v.cached_tokens(), 1);
    let again = v.verify_shared(&t).unwrap();
    assert_eq!(first, again);
    assert_eq!(v.verify(&t).unwrap().tid.as_deref(), Some(tt::TENANT_ID));
    // exp = now + 3600, leeway 300: expired from now + 3900 on.
    clock.set(tt::NOW + 3899);
    assert!(v.verify_shared(&t).is_ok());
    clock.set(tt::NOW + 3900);
    assert_eq!(v.verify_shared(&t).unwrap_err(), Error::Expired);
    assert_eq!(v.cached_tokens(), 0, "a failing entry is dropped");
    // And it stays expired (a cold verification says the same).
    assert_eq!(v.verify_shared(&t).unwrap_err(), Error::Expired);
}

#[test]
fn not_yet_valid_tokens_are_never_served_early() {
    let (v, clock, _) = verifier(TokenCacheConfig::default());
    // Issued for a moment 10 minutes ahead: nbf - leeway > now.
    let t = token(Key::Rsa2048, tt::NOW + 660, "future");
    assert!(matches!(
        v.verify_shared(&t).unwrap_err(),
        Error::NotYetValid | Error::IssuedInFuture
    ));
    assert_eq!(v.cached_tokens(), 0, "only verified tokens are cached");
    clock.set(tt::NOW + 660);
    assert!(v.verify_shared(&t).is_ok());
}

#[test]
fn entries_whose_key_left_the_set_are_dropped() {
    let (v, clock, serve) = verifier(TokenCacheConfig::default());
    let t4096 = token(Key::Rsa4096, tt::NOW, "b");
    let t2048 = token(Key::Rsa2048, tt::NOW, "c");
    v.verify_shared(&t4096).unwrap();
    v.verify_shared(&t2048).unwrap();
    assert_eq!(v.cached_tokens(), 2);
    // Rotation: the 4096-bit key leaves the set.
    *serve.0.lock().unwrap() = TestTenant::jwks_rotated_json().to_string();
    clock.advance(3600 * 2);
    v.refresh_due();
    // Back inside the tokens' validity window; the rotated set stays loaded.
    clock.set(tt::NOW + 60);
    assert_eq!(v.verify_shared(&t4096).unwrap_err(), Error::UnknownKey);
    assert!(
        v.verify_shared(&t2048).is_ok(),
        "a key still present keeps its tokens"
    );
    assert_eq!(v.cached_tokens(), 1);
}

#[test]
fn a_tampered_token_never_hits() {
    let (v, _, _) = verifier(TokenCacheConfig::default());
    let t = token(Key::Rsa2048, tt::NOW, "d");
    v.verify_shared(&t).unwrap();
    // Same signature (same cache slot), different payload.
    let (_, rest) = t.split_once('.').unwrap();
    let forged_header = TestTenant::header(Key::Rsa2048).to_string();
    let forged = format!(
        "{}.{rest}",
        base64_url(&forged_header.replace("JWT", "jwt"))
    );
    assert_ne!(forged, t);
    assert_eq!(v.verify_shared(&forged).unwrap_err(), Error::BadSignature);
}

fn base64_url(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn bounded_by_entries_and_bytes() {
    let (v, _, _) = verifier(TokenCacheConfig::default().max_entries(16));
    for i in 0..100 {
        v.verify_shared(&token(Key::Rsa2048, tt::NOW, &format!("e{i}")))
            .unwrap();
    }
    assert!(v.cached_tokens() <= 16, "{}", v.cached_tokens());
    let (v, _, _) = verifier(TokenCacheConfig::default().max_bytes(8 * 4096));
    for i in 0..100 {
        v.verify_shared(&token(Key::Rsa2048, tt::NOW, &format!("f{i}")))
            .unwrap();
    }
    // Each entry costs about 2.3 KB: at most one per 4 KiB shard budget... or two.
    assert!(v.cached_tokens() <= 16, "{}", v.cached_tokens());
    assert!(v.cached_tokens() >= 1);
}

#[test]
fn concurrent_hits_inserts_and_evictions_never_mix_tokens_up() {
    // A cache far smaller than the working set: every thread keeps
    // inserting, evicting and hitting at once (hits take no lock).
    let (v, _, _) = verifier(TokenCacheConfig::default().max_entries(8));
    let tokens: Vec<(String, String)> = (0..24)
        .map(|i| {
            let uti = format!("mix-{i:02}");
            (token(Key::Rsa2048, tt::NOW, &uti), uti)
        })
        .collect();
    let tokens = Arc::new(tokens);
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (v, tokens) = (v.clone(), Arc::clone(&tokens));
            std::thread::spawn(move || {
                let mut checked = 0usize;
                for round in 0..40 {
                    for (i, (t, uti)) in tokens.iter().enumerate() {
                        // The two threads walk in opposite directions.
                        if (i + round + w) % 3 == 0 {
                            continue;
                        }
                        let claims = v.verify_shared(t).unwrap();
                        assert!(claims.json().contains(&format!(r#""uti":"{uti}""#)));
                        checked += 1;
                    }
                }
                checked
            })
        })
        .collect();
    let checked: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(checked > 1000, "{checked}");
    assert!(v.cached_tokens() <= 8, "{}", v.cached_tokens());
    assert!(v.cached_tokens() >= 1);
}

#[test]
fn a_rotation_keeps_entries_whose_key_stayed_and_hits_stay_correct() {
    let (v, clock, serve) = verifier(TokenCacheConfig::default());
    let tokens: Vec<String> = (0..16)
        .map(|i| token(Key::Rsa2048, tt::NOW, &format!("rot-{i}")))
        .collect();
    for t in &tokens {
        v.verify_shared(t).unwrap();
    }
    assert_eq!(v.cached_tokens(), 16);
    *serve.0.lock().unwrap() = TestTenant::jwks_rotated_json().to_string();
    clock.advance(3600 * 2);
    v.refresh_due();
    clock.set(tt::NOW + 60);
    // Every entry is re-bound to the new set on its first hit, then hits.
    for _ in 0..3 {
        for t in &tokens {
            v.verify_shared(t).unwrap();
        }
    }
    assert_eq!(v.cached_tokens(), 16, "no entry lost, none duplicated");
}

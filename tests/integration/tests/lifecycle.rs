//! SPEC §7 end to end: the blocking and async verifiers, over the real ureq and
//! reqwest fetchers, against a mock Entra issuer on 127.0.0.1. Every test
//! counts the issuer's requests and asserts them against the policy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use entra_jwt::core::{Error, KeySource, Policy, RefreshConfig};
use entra_jwt::{AsyncVerifier, FetchConfig, FixedEntropy, ManualClock, Verifier};
use entra_jwt_mock_issuer::{MockIssuer, Outage};
use entra_jwt_reqwest::ReqwestFetcher;
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use entra_jwt_ureq::UreqFetcher;
use serde_json::json;

const HOUR: u64 = 3600;

fn policy() -> Policy {
    Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap()
}

fn token(key: Key, now: u64) -> String {
    TestTenant::get().sign(key, &TestTenant::header(key), &TestTenant::v2_claims(now))
}

/// A token signed by the attacker's key that names an arbitrary kid.
fn token_with_kid(kid: &str, now: u64) -> String {
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": kid});
    TestTenant::get().sign(Key::Attacker, &header, &TestTenant::v2_claims(now))
}

fn loopback() -> FetchConfig {
    FetchConfig::default().dangerous_allow_http_loopback()
}

fn blocking(issuer: &MockIssuer, clock: &Arc<ManualClock>) -> Verifier<UreqFetcher> {
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    Verifier::builder(policy(), source, UreqFetcher::new(loopback()))
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

fn counts(issuer: &MockIssuer) -> (usize, usize) {
    (
        issuer.requests(&issuer.discovery_path()),
        issuer.requests(&issuer.jwks_path()),
    )
}

#[test]
fn good_token_then_rotation_picked_up_on_first_use() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&issuer, &clock);
    for _ in 0..20 {
        v.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    }
    assert_eq!(counts(&issuer), (1, 1), "discovery and JWKS once");
    // Entra publishes a new key; the first token signed with it triggers one refresh.
    issuer.rotate_jwks();
    clock.advance(HOUR);
    let now = tt::NOW + HOUR;
    v.verify(&token(Key::Rsa2048Next, now)).unwrap();
    v.verify(&token(Key::Rsa2048, now)).unwrap();
    assert_eq!(
        counts(&issuer),
        (1, 2),
        "one JWKS refresh, no second discovery"
    );
    // The key that left the set is refused, without another fetch within the interval.
    assert_eq!(
        v.verify(&token(Key::Rsa4096, now)).unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(counts(&issuer), (1, 2));
}

#[test]
fn ten_thousand_unknown_kids_in_five_minutes_cost_one_fetch() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&issuer, &clock);
    v.load().unwrap();
    clock.advance(HOUR);
    let start = tt::NOW + HOUR;
    let signed_once = token_with_kid("placeholder", start);
    let (_, payload_and_sig) = signed_once.split_once('.').unwrap();
    for i in 0..10_000u64 {
        clock.set(start + i * 300 / 10_000);
        // A fresh random-looking kid each time (the signature is irrelevant: the key is unknown).
        let header = format!(
            r#"{{"typ":"JWT","alg":"RS256","kid":"k{:016x}"}}"#,
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        let t = format!("{}.{payload_and_sig}", b64url(header.as_bytes()));
        assert_eq!(v.verify(&t).unwrap_err(), Error::UnknownKey);
    }
    let (discovery, jwks) = counts(&issuer);
    println!("10 000 unknown kids in 5 min: discovery {discovery}, JWKS {jwks} requests");
    assert_eq!(
        (discovery, jwks),
        (1, 2),
        "initial load + exactly one unknown-kid refresh"
    );
}

#[test]
fn issuer_down_for_48_hours_valid_tokens_keep_verifying() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&issuer, &clock);
    v.load().unwrap();
    issuer.go_down(Outage::Unavailable);
    let mut verified = 0;
    let mut now = tt::NOW;
    while now < tt::NOW + 48 * HOUR {
        now += 600;
        clock.set(now);
        v.refresh_due();
        v.verify(&token(Key::Rsa2048, now)).unwrap();
        verified += 1;
    }
    let total = issuer.total_requests();
    println!(
        "blocking 48 h outage: {total} issuer requests (incl. the first load), {verified} tokens verified"
    );
    // 12 h of good keys, then backed-off retries (30 s doubling, capped at 12 h);
    // each attempt is discovery + JWKS (the JWKS is still tried when discovery
    // fails) with one retry each inside the fetcher.
    assert!(total <= 2 + 14 * 4, "{total} requests during a 48 h outage");
    assert_eq!(verified, 288);
    issuer.come_back();
    clock.advance(24 * HOUR);
    v.refresh_due();
    assert!(v.keys().is_ok());
}

#[test]
fn issuer_down_at_start_is_keys_unavailable() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    issuer.go_down(Outage::Refused);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&issuer, &clock);
    assert_eq!(
        v.verify(&token(Key::Rsa2048, tt::NOW)).unwrap_err(),
        Error::KeysUnavailable
    );
    issuer.come_back();
    clock.advance(30);
    v.verify(&token(Key::Rsa2048, tt::NOW + 30)).unwrap();
}

#[test]
fn over_https_with_a_test_ca() {
    let issuer = MockIssuer::entra_tls(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let fetcher = UreqFetcher::with_root_certificates(FetchConfig::default(), &[issuer.ca_der()]);
    let v = Verifier::builder(policy(), source, fetcher)
        .clock(Arc::clone(&clock) as _)
        .build();
    v.verify(&token(Key::Rsa4096, tt::NOW)).unwrap();
    assert_eq!(counts(&issuer), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_verifier_end_to_end() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let v = AsyncVerifier::builder(policy(), source, ReqwestFetcher::new(loopback()))
        .clock(Arc::clone(&clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build();
    // Concurrent first requests share the first load.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let v = v.clone();
            tokio::spawn(async move { v.verify(&token(Key::Rsa2048, tt::NOW)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(counts(&issuer), (1, 1));
    issuer.rotate_jwks();
    clock.advance(HOUR);
    v.verify(&token(Key::Rsa2048Next, tt::NOW + HOUR))
        .await
        .unwrap();
    assert_eq!(counts(&issuer), (1, 2));
    issuer.go_down(Outage::Unavailable);
    for hour in 2..=48 {
        clock.set(tt::NOW + hour * HOUR);
        v.refresh_due().await;
        v.verify(&token(Key::Rsa2048, tt::NOW + hour * HOUR))
            .await
            .unwrap();
    }
    let total = issuer.total_requests();
    println!("async 47 h outage: {total} issuer requests (incl. load and rotation)");
    assert!(total <= 3 + 14 * 4, "{total} requests during a 47 h outage");
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

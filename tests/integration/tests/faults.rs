//! Faults of the identity provider must not become outages (SPEC §7): the
//! blocking `Verifier` over the ureq fetcher against a mock issuer on
//! 127.0.0.1 that is down, slow, hanging, answering garbage, an empty key
//! set, 2 MB, or redirecting in a loop, while keys rotate and kids flood in
//! from several threads. Every test counts the issuer's requests or bounds
//! the time taken. `lifecycle.rs` has the plain cases (refused at start, 503
//! for 48 h, rotation, a single-threaded kid flood); these extend them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use entra_jwt::core::{Error, KeySource, Policy, RefreshConfig};
use entra_jwt::{Clock, FetchConfig, FixedEntropy, ManualClock, Verifier};
use entra_jwt_mock_issuer::{MockIssuer, Outage, Response};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use entra_jwt_ureq::{MAX_REDIRECTS, UreqFetcher};
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

/// A token signed by the attacker's key that names `kid`.
fn forged(kid: &str, now: u64) -> String {
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": kid});
    TestTenant::get().sign(Key::Attacker, &header, &TestTenant::v2_claims(now))
}

/// A fetch config for the loopback issuer with a `timeout`.
fn fetch(timeout: Duration) -> FetchConfig {
    FetchConfig {
        timeout,
        ..FetchConfig::default().dangerous_allow_http_loopback()
    }
}

fn verifier(
    issuer: &MockIssuer,
    clock: Arc<dyn Clock>,
    timeout: Duration,
) -> Verifier<UreqFetcher> {
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    Verifier::builder(policy(), source, UreqFetcher::new(fetch(timeout)))
        .clock(clock)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

fn loaded(issuer: &MockIssuer, clock: &Arc<ManualClock>) -> Verifier<UreqFetcher> {
    let v = verifier(issuer, Arc::clone(clock) as _, Duration::from_secs(1));
    v.load().unwrap();
    v
}

fn counts(issuer: &MockIssuer) -> (usize, usize) {
    (
        issuer.requests(&issuer.discovery_path()),
        issuer.requests(&issuer.jwks_path()),
    )
}

/// SPEC §7: with no key set ever loaded the answer is 503-class
/// `keys_unavailable`, never a 401 that blames the token.
fn assert_unavailable(v: &Verifier<UreqFetcher>, now: u64) {
    let err = v.verify(&token(Key::Rsa2048, now)).unwrap_err();
    assert_eq!(err, Error::KeysUnavailable);
    assert_eq!(v.policy().challenge(&err).status, 503);
}

#[test]
fn issuer_answering_503_at_start_is_keys_unavailable_not_401() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    issuer.go_down(Outage::Unavailable);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = verifier(&issuer, Arc::clone(&clock) as _, Duration::from_secs(2));
    assert_unavailable(&v, tt::NOW);
    // One attempt, with the fetcher's one retry on 503; nothing more until
    // the backoff (30 s) elapses, however many tokens arrive.
    for _ in 0..50 {
        assert_unavailable(&v, tt::NOW);
    }
    assert_eq!(issuer.total_requests(), 2);
    issuer.come_back();
    clock.advance(31);
    v.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
}

/// Serves the good documents first, then `broken` on both routes; checks
/// that 48 simulated hours of refreshes against it never replace the keys
/// nor fail a valid token, and bounds the requests.
fn outage_after_a_good_load(broken: Response, label: &str) {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = loaded(&issuer, &clock);
    let before = v.keys().unwrap();
    issuer.route(&issuer.discovery_path(), broken.clone());
    issuer.route(&issuer.jwks_path(), broken);
    issuer.reset_counts();
    let mut now = tt::NOW;
    let mut verified = 0;
    while now < tt::NOW + 48 * HOUR {
        now += 600;
        clock.set(now);
        v.refresh_due();
        v.verify(&token(Key::Rsa2048, now)).unwrap();
        verified += 1;
        assert!(
            Arc::ptr_eq(&before, &v.keys().unwrap()),
            "{label}: keys replaced"
        );
    }
    assert_eq!(verified, 288);
    let total = issuer.total_requests();
    println!("{label}: {total} issuer requests in a 48 h outage");
    // Refresh at 12 h, then retries backing off from 30 s to the 12 h cap:
    // about 13 attempts of discovery + JWKS (the JWKS is still tried when
    // discovery fails), each with at most one retry inside the fetcher.
    assert!((2..=14 * 4).contains(&total), "{label}: {total} requests");
    assert!(
        v.next_refresh_at().unwrap() > now,
        "{label}: a retry is planned"
    );
}

#[test]
fn issuer_answering_garbage_after_a_good_load() {
    outage_after_a_good_load(
        Response::json("<html>Service Unavailable</html>"),
        "garbage",
    );
}

#[test]
fn issuer_answering_an_empty_key_set_after_a_good_load() {
    // Discovery too answers `{"keys":[]}`: not a discovery document either.
    outage_after_a_good_load(Response::json(r#"{"keys":[]}"#), "empty key set");
}

#[test]
fn issuer_answering_2_mb_after_a_good_load() {
    outage_after_a_good_load(Response::bytes(2 << 20), "2 MB with Content-Length");
    outage_after_a_good_load(
        Response::bytes(2 << 20).without_content_length(),
        "2 MB streamed",
    );
}

#[test]
fn issuer_refusing_connections_after_a_good_load() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = loaded(&issuer, &clock);
    issuer.go_down(Outage::Refused);
    for hour in 1..=48 {
        clock.set(tt::NOW + hour * HOUR);
        v.refresh_due();
        v.verify(&token(Key::Rsa2048, tt::NOW + hour * HOUR))
            .unwrap();
    }
    issuer.come_back();
    clock.advance(24 * HOUR);
    v.refresh_due();
    assert_eq!(counts(&issuer).1, 2, "the JWKS reloaded after the outage");
}

#[test]
fn garbage_empty_huge_and_looping_answers_at_start_are_keys_unavailable() {
    let cases: Vec<(&str, Response)> = vec![
        ("garbage", Response::json("{\"issuer\": 42}")),
        ("empty key set", Response::json(r#"{"keys":[]}"#)),
        ("2 MB", Response::bytes(2 << 20)),
        (
            "2 MB streamed",
            Response::bytes(2 << 20).without_content_length(),
        ),
        ("404", Response::status(404)),
    ];
    for (label, response) in cases {
        let issuer = MockIssuer::entra(tt::TENANT_ID);
        issuer.route(&issuer.jwks_path(), response.clone());
        issuer.route(&issuer.discovery_path(), response);
        let clock = Arc::new(ManualClock::new(tt::NOW));
        let v = verifier(&issuer, Arc::clone(&clock) as _, Duration::from_secs(2));
        let start = Instant::now();
        assert_unavailable(&v, tt::NOW);
        assert!(start.elapsed() < Duration::from_secs(5), "{label}");
        assert_eq!(issuer.total_requests(), 1, "{label}: one request, no retry");
    }
    // The JWKS alone broken: discovery loads, the key set does not.
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    issuer.set_jwks(r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = verifier(&issuer, Arc::clone(&clock) as _, Duration::from_secs(2));
    assert_unavailable(&v, tt::NOW);
    assert_eq!(counts(&issuer), (1, 1));
}

#[test]
fn redirect_loop_is_cut_after_max_redirects() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    issuer.route(&issuer.discovery_path(), Response::redirect("/loop/a"));
    issuer.route("/loop/a", Response::redirect("/loop/b"));
    issuer.route("/loop/b", Response::redirect("/loop/a"));
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = verifier(&issuer, Arc::clone(&clock) as _, Duration::from_secs(2));
    let start = Instant::now();
    assert_unavailable(&v, tt::NOW);
    assert!(start.elapsed() < Duration::from_secs(5));
    let hops = issuer.requests("/loop/a") + issuer.requests("/loop/b");
    assert_eq!(
        hops, MAX_REDIRECTS,
        "the original request plus {MAX_REDIRECTS} redirects"
    );
    // A loop that appears after a good load keeps the keys.
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let v = loaded(&issuer, &clock);
    issuer.route(&issuer.jwks_path(), Response::redirect(issuer.jwks_path()));
    clock.advance(13 * HOUR);
    v.refresh_due();
    v.verify(&token(Key::Rsa2048, tt::NOW + 13 * HOUR)).unwrap();
    assert_eq!(
        counts(&issuer).1,
        2 + MAX_REDIRECTS,
        "first load, then one bounded loop"
    );
}

#[test]
fn slow_issuer_at_start_is_bounded_by_the_fetch_timeout() {
    for (label, slow) in [
        ("hang", Response::hang()),
        (
            "10 s delay",
            Response::json("{}").with_delay(Duration::from_secs(10)),
        ),
    ] {
        let issuer = MockIssuer::entra(tt::TENANT_ID);
        issuer.route(&issuer.discovery_path(), slow);
        let clock = Arc::new(ManualClock::new(tt::NOW));
        let v = verifier(&issuer, Arc::clone(&clock) as _, Duration::from_secs(1));
        let start = Instant::now();
        assert_unavailable(&v, tt::NOW);
        let elapsed = start.elapsed();
        println!("{label}: first verification answered after {elapsed:?}");
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
            "{label}: {elapsed:?}"
        );
        // Until the retry is due, nothing waits on the issuer again.
        let start = Instant::now();
        assert_unavailable(&v, tt::NOW);
        assert!(start.elapsed() < Duration::from_millis(500), "{label}");
    }
}

#[test]
fn hanging_issuer_during_a_48_hour_outage_never_blocks_a_known_key() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = loaded(&issuer, &clock);
    issuer.route(&issuer.discovery_path(), Response::hang());
    issuer.route(&issuer.jwks_path(), Response::hang());
    let mut slowest = Duration::ZERO;
    let mut now = tt::NOW;
    while now < tt::NOW + 48 * HOUR {
        now += 600;
        clock.set(now);
        let start = Instant::now();
        // Refreshes that fall due start in the background and hang there.
        v.verify(&token(Key::Rsa2048, now)).unwrap();
        slowest = slowest.max(start.elapsed());
    }
    println!("hanging issuer: slowest verification {slowest:?}");
    assert!(
        slowest < Duration::from_millis(500),
        "a read waited: {slowest:?}"
    );
    // A token with an unknown kid waits for one refresh at most: the timeout.
    clock.advance(HOUR);
    let start = Instant::now();
    assert_eq!(
        v.verify(&forged("rotated-in-during-the-outage", now + HOUR))
            .unwrap_err(),
        Error::UnknownKey
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn slow_refresh_for_an_unknown_kid_is_bounded_by_the_timeout() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = loaded(&issuer, &clock);
    issuer.route(
        &issuer.jwks_path(),
        Response::json(TestTenant::jwks_rotated_json()).with_delay(Duration::from_secs(10)),
    );
    clock.advance(600);
    let start = Instant::now();
    assert_eq!(
        v.verify(&token(Key::Rsa2048Next, tt::NOW + 600))
            .unwrap_err(),
        Error::UnknownKey,
        "the refresh timed out; the kid is still unknown"
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    // Known keys were never in question.
    v.verify(&token(Key::Rsa2048, tt::NOW + 600)).unwrap();
}

#[test]
fn key_rotation_while_two_threads_verify_continuously() {
    const ROUNDS: usize = 150;
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = loaded(&issuer, &clock);
    clock.advance(600);
    let now = tt::NOW + 600;
    let stable = token(Key::Rsa2048, now); // in both key sets
    let incoming = token(Key::Rsa2048Next, now); // only in the rotated set
    let forged_stable = forged(Key::Rsa2048.kid(), now);
    let tampered = {
        let (input, sig) = stable.rsplit_once('.').unwrap();
        let (header, _) = input.split_once('.').unwrap();
        let mut claims = TestTenant::v2_claims(now);
        claims["scp"] = json!("Data.Read Data.Write Admin");
        let payload = base64_url(&serde_json::to_vec(&claims).unwrap());
        format!("{header}.{payload}.{sig}")
    };
    let rotated = Arc::new(AtomicBool::new(false));
    let (accepted_valid, rejected_invalid, accepted_incoming) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (v, rotated) = (v.clone(), Arc::clone(&rotated));
            let (stable, incoming) = (stable.clone(), incoming.clone());
            let (forged_stable, tampered) = (forged_stable.clone(), tampered.clone());
            let (ok, bad, new) = (
                Arc::clone(&accepted_valid),
                Arc::clone(&rejected_invalid),
                Arc::clone(&accepted_incoming),
            );
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    v.verify(&stable).expect("a valid token was rejected");
                    ok.fetch_add(1, Ordering::SeqCst);
                    for invalid in [&forged_stable, &tampered] {
                        assert_eq!(v.verify(invalid).unwrap_err(), Error::BadSignature);
                        bad.fetch_add(1, Ordering::SeqCst);
                    }
                    if rotated.load(Ordering::SeqCst) {
                        v.verify(&incoming)
                            .expect("the new key was rejected after the rotation");
                        new.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    issuer.rotate_jwks();
    // The first token signed with the new key brings it in (one refresh).
    v.verify(&incoming).unwrap();
    rotated.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(accepted_valid.load(Ordering::SeqCst), 2 * ROUNDS);
    assert_eq!(rejected_invalid.load(Ordering::SeqCst), 4 * ROUNDS);
    println!(
        "rotation under load: {} valid, {} invalid, {} new-key tokens",
        2 * ROUNDS,
        4 * ROUNDS,
        accepted_incoming.load(Ordering::SeqCst)
    );
    assert_eq!(counts(&issuer), (1, 2), "one refresh for the rotation");
    // The key that left the set is refused, without another fetch.
    assert_eq!(
        v.verify(&token(Key::Rsa4096, now)).unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(counts(&issuer), (1, 2));
}

/// A clock several threads move forward together: never backwards.
#[derive(Debug)]
struct ForwardClock(AtomicU64);

impl ForwardClock {
    fn reach(&self, t: u64) {
        self.0.fetch_max(t, Ordering::SeqCst);
    }
}

impl Clock for ForwardClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn ten_thousand_unknown_kids_from_four_threads() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 2500;
    const SPAN: u64 = 15 * 60;
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ForwardClock(AtomicU64::new(tt::NOW)));
    let v = verifier(&issuer, Arc::clone(&clock) as _, Duration::from_secs(2));
    v.load().unwrap();
    let start = tt::NOW + HOUR;
    clock.reach(start);
    let signed_once = forged("placeholder", start);
    let (_, payload_and_sig) = signed_once.split_once('.').unwrap();
    let payload_and_sig = Arc::new(payload_and_sig.to_owned());
    let valid = Arc::new(token(Key::Rsa2048, start));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (v, clock) = (v.clone(), Arc::clone(&clock));
            let (rest, valid) = (Arc::clone(&payload_and_sig), Arc::clone(&valid));
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    clock.reach(start + i * SPAN / PER_THREAD);
                    let kid = format!(
                        "k{:016x}",
                        (t * PER_THREAD + i).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    );
                    let header = format!(r#"{{"typ":"JWT","alg":"RS256","kid":"{kid}"}}"#);
                    let forged = format!("{}.{rest}", base64_url(header.as_bytes()));
                    assert_eq!(v.verify(&forged).unwrap_err(), Error::UnknownKey);
                    if i % 100 == 0 {
                        v.verify(&valid)
                            .expect("a valid token was rejected during the flood");
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (discovery, jwks) = counts(&issuer);
    println!(
        "10 000 unknown kids from {THREADS} threads over 15 min: discovery {discovery}, JWKS {jwks}"
    );
    // The policy: one unknown-kid refresh per 5 minutes at most. The flood
    // spans [start, start + 15 min): refreshes at >= start, +5, +10 min.
    assert_eq!(discovery, 1);
    assert!((2..=4).contains(&jwks), "{jwks} JWKS requests");
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

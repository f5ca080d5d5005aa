//! SPEC §7: the key-refresh state machine, driven over simulated time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use entra_jwt_core::{
    DocumentKind, Error, FetchReason, FetchRequest, KeySource, KidVerdict, Policy, RefreshConfig,
};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};

const T0: u64 = tt::NOW;
const HOUR: u64 = 3600;
const JWKS_URL: &str = "https://login.microsoftonline.com/t/discovery/v2.0/keys";
const DISCOVERY_URL: &str =
    "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration";

fn jwks() -> &'static [u8] {
    TestTenant::jwks_json().as_bytes()
}

fn loaded(config: RefreshConfig) -> KeySource {
    let mut s = KeySource::from_jwks_uri(JWKS_URL, config);
    let req = s.poll_fetch(T0, 0).unwrap();
    s.handle_fetched(T0, 0, req.kind, Ok(jwks())).unwrap();
    s
}

fn token(key: Key, now: u64) -> String {
    TestTenant::get().sign(key, &TestTenant::header(key), &TestTenant::v2_claims(now))
}

fn policy() -> Policy {
    Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap()
}

/// A tiny deterministic generator for "random" kids and entropy.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn first_load_then_nothing_until_the_refresh_interval() {
    let mut s = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    assert_eq!(s.keys(T0).unwrap_err(), Error::KeysUnavailable);
    let req = s.poll_fetch(T0, 0).unwrap();
    assert_eq!(
        req,
        FetchRequest {
            kind: DocumentKind::Jwks,
            url: JWKS_URL.into(),
            reason: FetchReason::Initial
        }
    );
    assert!(s.is_fetching());
    assert_eq!(s.poll_fetch(T0, 0), None, "one request outstanding at most");
    assert_eq!(s.poll_deadline(), None);
    s.handle_fetched(T0 + 1, 0, DocumentKind::Jwks, Ok(jwks()))
        .unwrap();
    assert_eq!(s.keys(T0 + 1).unwrap().len(), 3);
    assert_eq!(s.poll_deadline(), Some(T0 + 1 + 12 * HOUR));
    assert_eq!(s.poll_fetch(T0 + 12 * HOUR, 0), None);
    let req = s.poll_fetch(T0 + 1 + 12 * HOUR, 0).unwrap();
    assert_eq!(req.reason, FetchReason::Scheduled);
}

#[test]
fn jitter_spreads_the_refresh_over_five_percent() {
    let mut low = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    low.poll_fetch(T0, 0).unwrap();
    low.handle_fetched(T0, 0, DocumentKind::Jwks, Ok(jwks()))
        .unwrap();
    let mut high = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    high.poll_fetch(T0, 0).unwrap();
    high.handle_fetched(T0, u32::MAX, DocumentKind::Jwks, Ok(jwks()))
        .unwrap();
    assert_eq!(low.poll_deadline(), Some(T0 + 43_200));
    assert_eq!(
        high.poll_deadline(),
        Some(T0 + 43_200 + 2_160),
        "+5% of 12 h"
    );
}

#[test]
fn discovery_then_jwks_from_its_jwks_uri() {
    let doc = TestTenant::openid_v2_json();
    let mut s = KeySource::from_discovery_url(DISCOVERY_URL, RefreshConfig::default());
    let req = s.poll_fetch(T0, 0).unwrap();
    assert_eq!(
        (req.kind, req.url.as_str(), req.reason),
        (DocumentKind::Discovery, DISCOVERY_URL, FetchReason::Initial)
    );
    s.handle_fetched(T0, 0, DocumentKind::Discovery, Ok(doc.as_bytes()))
        .unwrap();
    assert_eq!(s.discovery().unwrap().issuer(), tt::ISSUER_V2);
    let req = s.poll_fetch(T0, 0).unwrap();
    assert_eq!(
        (req.kind, req.url.as_str()),
        (DocumentKind::Jwks, tt::JWKS_URI_V2)
    );
    s.handle_fetched(T0, 0, DocumentKind::Jwks, Ok(jwks()))
        .unwrap();
    assert!(s.keys(T0).is_ok());
    // The scheduled refresh starts again from the discovery document.
    let req = s.poll_fetch(T0 + 13 * HOUR, 0).unwrap();
    assert_eq!(
        (req.kind, req.reason),
        (DocumentKind::Discovery, FetchReason::Scheduled)
    );
    // A failed discovery refresh still fetches the JWKS from the known jwks_uri.
    s.handle_fetched(T0 + 13 * HOUR, 0, DocumentKind::Discovery, Err(()))
        .unwrap();
    let req = s.poll_fetch(T0 + 13 * HOUR, 0).unwrap();
    assert_eq!(
        (req.kind, req.reason),
        (DocumentKind::Jwks, FetchReason::Scheduled)
    );
}

#[test]
fn rotation_new_kid_fetched_on_first_use_old_kept_until_it_disappears() {
    let mut s = loaded(RefreshConfig::default());
    let p = policy();
    let now = T0 + 2 * HOUR;
    // A token signed with the next key: unknown until the set is refreshed.
    let next = token(Key::Rsa2048Next, now);
    assert_eq!(
        p.verify(&next, &s.keys(now).unwrap(), now).unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(s.handle_unknown_kid(now), KidVerdict::Wait);
    let req = s.poll_fetch(now, 0).unwrap();
    assert_eq!(
        (req.kind, req.reason),
        (DocumentKind::Jwks, FetchReason::UnknownKid)
    );
    s.handle_fetched(
        now,
        0,
        DocumentKind::Jwks,
        Ok(TestTenant::jwks_rotated_json().as_bytes()),
    )
    .unwrap();
    let keys = s.keys(now).unwrap();
    p.verify(&next, &keys, now).unwrap();
    // The old 2048 key is still published, so its tokens still verify...
    p.verify(&token(Key::Rsa2048, now), &keys, now).unwrap();
    // ...and the 4096 key left the set, so its tokens no longer do.
    assert_eq!(
        p.verify(&token(Key::Rsa4096, now), &keys, now).unwrap_err(),
        Error::UnknownKey
    );
}

#[test]
fn unknown_kid_flood_costs_one_fetch_per_interval() {
    let mut s = loaded(RefreshConfig::default());
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let start = T0 + HOUR;
    let mut fetches = 0;
    let mut waits = 0;
    // 10 000 tokens with random kids over five minutes (one every 30 ms).
    for i in 0..10_000u64 {
        let now = start + i * 300 / 10_000;
        let _kid = format!("{:016x}", rng.next());
        if s.handle_unknown_kid(now) == KidVerdict::Wait {
            waits += 1;
        }
        while let Some(req) = s.poll_fetch(now, rng.next() as u32) {
            fetches += 1;
            assert_eq!(req.reason, FetchReason::UnknownKid);
            s.handle_fetched(now, 0, req.kind, Ok(jwks())).unwrap();
        }
    }
    assert_eq!(fetches, 1, "exactly one JWKS fetch for the whole flood");
    assert_eq!(waits, 1, "every later kid is answered at once");
    // Once the interval has passed, an unknown kid may refresh again.
    assert_eq!(s.handle_unknown_kid(start + 300), KidVerdict::Wait);
    assert!(s.poll_fetch(start + 300, 0).is_some());
}

#[test]
fn waiting_tokens_share_the_refresh_in_flight() {
    let mut s = loaded(RefreshConfig::default());
    let now = T0 + HOUR;
    assert_eq!(s.handle_unknown_kid(now), KidVerdict::Wait);
    let req = s.poll_fetch(now, 0).unwrap();
    for _ in 0..100 {
        assert_eq!(
            s.handle_unknown_kid(now),
            KidVerdict::Wait,
            "joins the fetch in flight"
        );
        assert_eq!(s.poll_fetch(now, 0), None, "without starting another");
    }
    s.handle_fetched(now, 0, req.kind, Ok(jwks())).unwrap();
    assert_eq!(s.handle_unknown_kid(now + 1), KidVerdict::Reject);
}

#[test]
fn unknown_kid_interval_is_configurable_with_a_floor_of_one_second() {
    let mut s = loaded(RefreshConfig::default().unknown_kid_interval(0));
    assert_eq!(s.config().get_unknown_kid_interval(), 1);
    assert_eq!(
        s.handle_unknown_kid(T0),
        KidVerdict::Reject,
        "fetched this very second"
    );
    assert_eq!(s.handle_unknown_kid(T0 + 1), KidVerdict::Wait);
}

#[test]
fn identity_provider_down_for_48_hours_keeps_keys_and_caps_backoff() {
    let config = RefreshConfig::default();
    let mut s = loaded(config.clone());
    let p = policy();
    let first_set = s.keys(T0).unwrap();
    let mut now = T0;
    let mut attempts = 0;
    let mut last_delay = 0;
    let mut rng = XorShift(7);
    let end = T0 + 48 * HOUR;
    while now < end {
        let deadline = s.poll_deadline().unwrap();
        assert!(deadline > now || attempts == 0, "plans move forward");
        last_delay = deadline.saturating_sub(now);
        assert!(
            last_delay <= 12 * HOUR + 2_160,
            "backoff capped by the refresh interval"
        );
        now = deadline.max(now + 1);
        if let Some(req) = s.poll_fetch(now, rng.next() as u32) {
            attempts += 1;
            s.handle_fetched(now, rng.next() as u32, req.kind, Err(()))
                .unwrap();
        }
        // Valid tokens keep verifying against the last good set throughout.
        let keys = s.keys(now).unwrap();
        assert!(Arc::ptr_eq(&keys, &first_set));
        p.verify(&token(Key::Rsa2048, now), &keys, now).unwrap();
    }
    // 12 h of good keys, then retries at 30 s, 60 s, ... doubling to the 12 h cap.
    assert!(attempts <= 16, "{attempts} attempts in 48 h");
    assert!(
        last_delay >= 6 * HOUR,
        "backoff grew to near the cap: {last_delay}"
    );
    assert!(s.consecutive_failures() >= 10);
    // The provider comes back: the next attempt succeeds and the schedule resets.
    now = s.poll_deadline().unwrap();
    let req = s.poll_fetch(now, 0).unwrap();
    assert_eq!(req.reason, FetchReason::Retry);
    s.handle_fetched(
        now,
        0,
        req.kind,
        Ok(TestTenant::jwks_rotated_json().as_bytes()),
    )
    .unwrap();
    assert_eq!(s.consecutive_failures(), 0);
    assert_eq!(s.poll_deadline(), Some(now + 12 * HOUR));
}

#[test]
fn garbage_empty_and_huge_key_sets_never_replace_a_good_one() {
    let mut huge = b"{\"keys\":[".to_vec();
    huge.resize(1024 * 1024 + 10, b' ');
    huge.extend_from_slice(b"]}");
    let no_usable = br#"{"keys":[{"kty":"EC","kid":"x"}]}"#;
    let bodies: [(&[u8], &str); 5] = [
        (b"<html>503</html>", "not a json object"),
        (b"{}", "no keys array"),
        (br#"{"keys":[]}"#, "no usable key"),
        (no_usable, "no usable key"),
        (&huge, "document too large"),
    ];
    let mut s = loaded(RefreshConfig::default());
    let good = s.keys(T0).unwrap();
    let mut now = T0 + 12 * HOUR;
    for (body, reason) in bodies {
        let req = s.poll_fetch(now, 0).unwrap();
        assert_eq!(
            s.handle_fetched(now, 0, req.kind, Ok(body)).unwrap_err(),
            Error::InvalidKeySet { reason }
        );
        assert!(
            Arc::ptr_eq(&s.keys(now).unwrap(), &good),
            "last good set kept"
        );
        now = s.poll_deadline().unwrap();
    }
    assert_eq!(s.consecutive_failures(), 5);
}

#[test]
fn first_load_failing_reports_keys_unavailable_and_backs_off() {
    let mut s = KeySource::from_jwks_uri(
        JWKS_URL,
        RefreshConfig::default().retry_initial(30).retry_max(600),
    );
    let mut now = T0;
    let mut delays = Vec::new();
    for _ in 0..8 {
        let req = s.poll_fetch(now, 0).unwrap();
        s.handle_fetched(now, 0, req.kind, Err(())).unwrap();
        assert_eq!(s.keys(now).unwrap_err(), Error::KeysUnavailable);
        let next = s.poll_deadline().unwrap();
        delays.push(next - now);
        assert_eq!(
            s.poll_fetch(next - 1, 0),
            None,
            "no fetch before the backoff ends"
        );
        now = next;
    }
    assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600, 600]);
    let req = s.poll_fetch(now, 0).unwrap();
    assert_eq!(req.reason, FetchReason::Retry);
    s.handle_fetched(now, 0, req.kind, Ok(jwks())).unwrap();
    assert!(s.keys(now).is_ok());
}

#[test]
fn retry_jitter_stays_within_half_the_delay_and_the_cap() {
    let mut s = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    let req = s.poll_fetch(T0, 0).unwrap();
    s.handle_fetched(T0, u32::MAX, req.kind, Err(())).unwrap();
    assert_eq!(s.poll_deadline(), Some(T0 + 45), "30 s + 50% jitter");
}

#[test]
fn maximum_staleness_is_optional_and_enforced() {
    let s = loaded(RefreshConfig::default());
    assert!(s.keys(T0 + 1000 * HOUR).is_ok(), "no limit by default");
    let s = loaded(RefreshConfig::default().max_staleness(Some(HOUR)));
    assert!(s.keys(T0 + HOUR).is_ok());
    assert_eq!(s.keys(T0 + HOUR + 1).unwrap_err(), Error::KeysUnavailable);
}

#[test]
fn time_going_backwards_does_not_move_plans_backwards() {
    let mut s = loaded(RefreshConfig::default());
    let deadline = s.poll_deadline().unwrap();
    assert_eq!(s.handle_unknown_kid(T0 + 400), KidVerdict::Wait);
    let req = s.poll_fetch(T0 + 400, 0).unwrap();
    // The driver's clock jumps back an hour before the answer arrives.
    s.handle_fetched(T0 + 400 - HOUR, 0, req.kind, Ok(jwks()))
        .unwrap();
    assert!(s.poll_deadline().unwrap() >= deadline);
    assert_eq!(
        s.handle_unknown_kid(T0),
        KidVerdict::Reject,
        "the rate limit counts from the latest time seen"
    );
}

#[test]
fn answers_that_were_not_asked_for_are_ignored() {
    let mut s = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    s.handle_fetched(T0, 0, DocumentKind::Jwks, Ok(jwks()))
        .unwrap();
    assert_eq!(s.keys(T0).unwrap_err(), Error::KeysUnavailable);
    let req = s.poll_fetch(T0, 0).unwrap();
    s.handle_fetched(T0, 0, DocumentKind::Discovery, Ok(b"{}"))
        .unwrap();
    assert!(
        s.is_fetching(),
        "a discovery answer does not settle a JWKS request"
    );
    s.handle_fetched(T0, 0, req.kind, Ok(jwks())).unwrap();
    assert!(s.keys(T0).is_ok());
}

#[test]
fn cached_documents_are_validated_and_scheduled_from_their_fetch_time() {
    let mut s = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    assert!(
        s.handle_cached(T0, 0, DocumentKind::Jwks, b"garbage", T0)
            .is_err()
    );
    assert_eq!(s.keys(T0).unwrap_err(), Error::KeysUnavailable);
    s.handle_cached(T0, 0, DocumentKind::Jwks, jwks(), T0 - HOUR)
        .unwrap();
    assert_eq!(s.keys(T0).unwrap().len(), 3);
    assert_eq!(s.poll_deadline(), Some(T0 + 11 * HOUR));
    assert_eq!(
        s.poll_fetch(T0, 0),
        None,
        "a warm cache costs the issuer nothing"
    );
    // An older cached copy never replaces a newer set.
    s.handle_cached(
        T0,
        0,
        DocumentKind::Jwks,
        TestTenant::jwks_rotated_json().as_bytes(),
        T0 - 2 * HOUR,
    )
    .unwrap();
    assert!(s.keys(T0).unwrap().contains_kid(Key::Rsa4096.kid()));
    // A cached copy older than the refresh interval loads and asks for a fetch at once.
    let mut stale = KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default());
    stale
        .handle_cached(T0, 0, DocumentKind::Jwks, jwks(), T0 - 13 * HOUR)
        .unwrap();
    assert!(stale.keys(T0).is_ok());
    assert_eq!(stale.poll_fetch(T0, 0).unwrap().kind, DocumentKind::Jwks);
}

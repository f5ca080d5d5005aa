//! Regression tests for what the fuzz targets (`fuzz/`, see its README) found
//! in the core: one test per finding, named after it, with the minimal input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use entra_jwt_core::{DocumentKind, KeySource, RefreshConfig};
use entra_jwt_test_tenant::{self as tt, TestTenant};

/// key_source-1 (invariant 6): a source configured with a JWKS URL adopted the
/// `jwks_uri` of a discovery document handed to `handle_cached`, so a cached
/// (or poisoned) discovery document redirected every later key fetch.
#[test]
fn key_source_1_cached_discovery_does_not_move_a_configured_jwks_uri() {
    let mut source = KeySource::from_jwks_uri(tt::JWKS_URI_V2, RefreshConfig::default());
    let elsewhere = TestTenant::openid_v2_json().replace(
        tt::JWKS_URI_V2,
        "https://login.microsoftonline.com/common/discovery/v2.0/keys",
    );
    source
        .handle_cached(
            tt::NOW,
            0,
            DocumentKind::Discovery,
            elsewhere.as_bytes(),
            tt::NOW,
        )
        .unwrap();
    assert_eq!(source.jwks_uri(), Some(tt::JWKS_URI_V2));
    let request = source.poll_fetch(tt::NOW, 0).unwrap();
    assert_eq!(request.url, tt::JWKS_URI_V2);
}

/// cost-1 (fuzz/targets/tests/cost.rs): the duplicate-member check of the
/// token scanner kept names past the first 64 in a list, so a 32 KiB header
/// of ~3 400 tiny members cost O(n^2) comparisons before any signature check:
/// 7.5 ms, 230x a normal verification (release). The check is now an ordered
/// set, and cost-2 capped the members of an object at MAX_JSON_MEMBERS (256):
/// at the cap the token is judged on its key, one past it is malformed.
#[test]
fn cost_1_and_2_header_members_are_capped() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use entra_jwt_core::limits::MAX_JSON_MEMBERS;
    use entra_jwt_core::{Error, KeySet, Policy};

    let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    // `members` members in all: alg, kid and the rest filler.
    let token = |members: usize| {
        let mut header = String::from(r#"{"alg":"RS256","kid":"unknown""#);
        for i in 2..members {
            header.push_str(&format!(r#","{i:x}":0"#));
        }
        header.push('}');
        format!(
            "{}.e30.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode([0u8; 256])
        )
    };
    let verify = |members| policy.verify(&token(members), &keys, tt::NOW).unwrap_err();
    assert_eq!(verify(MAX_JSON_MEMBERS), Error::UnknownKey);
    assert_eq!(verify(MAX_JSON_MEMBERS + 1), Error::Malformed);
}

/// cost-3 (fuzz/targets/tests/cost.rs): every array or object costs far more
/// to parse than its bytes suggest, so 32 KiB of arrays nested 120 deep cost
/// about 20x a normal verification. A token header or payload may hold at
/// most MAX_JSON_CONTAINERS (64) of them, nested ones included.
#[test]
fn cost_3_arrays_and_objects_per_segment_are_capped() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use entra_jwt_core::limits::MAX_JSON_CONTAINERS;
    use entra_jwt_core::{Error, KeySet, Policy};

    let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    let token = |containers: usize| {
        let header = format!(
            r#"{{"alg":"RS256","kid":"unknown","x":{}{}}}"#,
            "[".repeat(containers),
            "]".repeat(containers)
        );
        format!(
            "{}.e30.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode([0u8; 256])
        )
    };
    let verify = |n| policy.verify(&token(n), &keys, tt::NOW).unwrap_err();
    assert_eq!(verify(MAX_JSON_CONTAINERS), Error::UnknownKey);
    assert_eq!(verify(MAX_JSON_CONTAINERS + 1), Error::Malformed);
}

/// cost-4 (fuzz/targets/tests/cost.rs): within the member cap, a 31 KiB
/// header of 253 member names of 80+ bytes, naming the 4096-bit key, cost
/// 6.3x a normal verification (parsing and the duplicate check on long
/// names, then the 4096-bit operation). The header segment is now capped at
/// MAX_HEADER_BYTES (4 KiB; Entra's are under 300 bytes) before any
/// decoding, so that header is malformed even for a backend that accepts
/// every signature.
#[test]
fn cost_4_the_header_segment_is_capped_before_decoding() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use entra_jwt_core::limits::MAX_HEADER_BYTES;
    use entra_jwt_core::{Error, KeySet, Policy, RsaKey, SignatureBackend};

    struct AcceptAll;
    impl SignatureBackend for AcceptAll {
        fn verify_rs256(&self, _: &RsaKey, _: &[u8], _: &[u8]) -> bool {
            true
        }
    }
    let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    let claims =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&TestTenant::v2_claims(tt::NOW)).unwrap());
    let kid = tt::Key::Rsa4096.kid();
    let token = |names: usize| {
        let mut header = format!(r#"{{"typ":"JWT","alg":"RS256","kid":"{kid}""#);
        for i in 0..names {
            header.push_str(&format!(r#","{}{i:x}":0"#, "n".repeat(80)));
        }
        header.push('}');
        let header = URL_SAFE_NO_PAD.encode(header);
        (
            header.len(),
            format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode([0u8; 512])),
        )
    };
    let (len, hostile) = token(253);
    assert!(len > MAX_HEADER_BYTES);
    assert_eq!(
        policy
            .verify_with(&AcceptAll, &hostile, &keys, tt::NOW)
            .unwrap_err(),
        Error::Malformed
    );
    let (len, within) = token(20);
    assert!(len <= MAX_HEADER_BYTES);
    assert!(
        policy
            .verify_with(&AcceptAll, &within, &keys, tt::NOW)
            .is_ok()
    );
}

/// key_source-2 (invariant 1): `keys(now)` judged the maximum staleness at the
/// `now` it was given, while every plan uses the latest time seen; after the
/// driver's clock stepped back (an NTP correction), a set already refused as
/// too stale became usable again.
#[test]
fn key_source_2_stale_keys_stay_unusable_when_the_clock_steps_back() {
    let config = RefreshConfig::default().max_staleness(Some(3600));
    let mut source = KeySource::from_jwks_uri(tt::JWKS_URI_V2, config);
    let request = source.poll_fetch(tt::NOW, 0).unwrap();
    source
        .handle_fetched(
            tt::NOW,
            0,
            request.kind,
            Ok(TestTenant::jwks_json().as_bytes()),
        )
        .unwrap();
    // Two hours later (the driver polls: nothing is due yet) the set is too stale.
    let later = tt::NOW + 2 * 3600;
    assert!(source.poll_fetch(later, 0).is_none());
    assert_eq!(
        source.keys(later).unwrap_err(),
        entra_jwt_core::Error::KeysUnavailable
    );
    // The clock steps back 90 minutes: still too stale.
    assert_eq!(
        source.keys(later - 5400).unwrap_err(),
        entra_jwt_core::Error::KeysUnavailable
    );
}

/// key_source-3 (invariant 3): an unknown kid was rate-limited only against
/// the last JWKS fetch. When its refresh had to start with the discovery
/// document (no `jwks_uri` known yet, keys loaded from a cache) and that fetch
/// failed, no JWKS fetch was recorded, so every later token with an unknown
/// kid started another discovery fetch: the amplification SPEC §7 forbids.
#[test]
fn key_source_3_unknown_kids_cannot_restart_a_failed_discovery_refresh() {
    use entra_jwt_core::{FetchReason, KidVerdict};
    let mut source = KeySource::from_discovery_url(
        "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration",
        RefreshConfig::default(),
    );
    // Keys from a warm cache; the discovery document is not known.
    source
        .handle_cached(
            tt::NOW,
            0,
            DocumentKind::Jwks,
            TestTenant::jwks_json().as_bytes(),
            tt::NOW,
        )
        .unwrap();
    assert_eq!(source.handle_unknown_kid(tt::NOW), KidVerdict::Wait);
    let request = source.poll_fetch(tt::NOW, 0).unwrap();
    assert_eq!(
        (request.kind, request.reason),
        (DocumentKind::Discovery, FetchReason::UnknownKid)
    );
    source
        .handle_fetched(tt::NOW, 0, DocumentKind::Discovery, Err(()))
        .unwrap();
    // A flood of unknown kids now costs nothing (until the failed fetch's own
    // backoff of 30 s ends, and a new unknown-kid refresh only after 5 min).
    for i in 1..30 {
        assert_eq!(source.handle_unknown_kid(tt::NOW + i), KidVerdict::Reject);
        assert!(source.poll_fetch(tt::NOW + i, 0).is_none());
    }
    for i in 30..300 {
        assert_eq!(source.handle_unknown_kid(tt::NOW + i), KidVerdict::Reject);
    }
    assert_eq!(source.handle_unknown_kid(tt::NOW + 300), KidVerdict::Wait);
}

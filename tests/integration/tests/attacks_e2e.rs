//! Known attacks on JWT verifiers, end to end: each forged token goes through
//! the blocking `Verifier` (ureq fetcher, real mock issuer on 127.0.0.1, the
//! tenant's keys loaded over HTTP) and must be refused with its exact code.
//! One test per attack class, with its advisory. The core's unit tests
//! (`core/tests/attacks.rs`) check the same rules on `Policy::verify`; these
//! check that nothing between the HTTP layer and the core loosens them, and
//! that no token makes the verifier fetch anything it names. The last test
//! sends one token of every class through the tower layer
//! (`entra-jwt-tower`, over the async verifier and the reqwest fetcher) and
//! checks each HTTP answer is the one SPEC §8 gives its exact code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entra_jwt::core::{Error, KeySource, Policy, RefreshConfig};
use entra_jwt::{FetchConfig, FixedEntropy, ManualClock, Verifier};
use entra_jwt_mock_issuer::{MockIssuer, Response};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use entra_jwt_ureq::UreqFetcher;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Paths on the mock issuer that only an attacker's token names. Nothing may
/// ever request them.
const ATTACKER_JWKS: &str = "/attacker/keys";
const ATTACKER_CERT: &str = "/attacker/cert.pem";

/// Microsoft's own tenant, which issued the recorded T20.
const MSFT_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The tenant's issuer and a verifier with its keys loaded, at `NOW + 10 min`
/// (past the unknown-kid interval of the first load, so an unknown kid may
/// cost one refresh: the tests count it).
struct Setup {
    issuer: MockIssuer,
    verifier: Verifier<UreqFetcher>,
}

impl Setup {
    fn new() -> Self {
        Self::with_policy(policy())
    }

    fn with_policy(policy: Policy) -> Self {
        let issuer = MockIssuer::entra(tt::TENANT_ID);
        let attacker_jwks = json!({"keys": [TestTenant::public_jwk(Key::Attacker)]}).to_string();
        issuer.route(ATTACKER_JWKS, Response::json(attacker_jwks));
        issuer.route(ATTACKER_CERT, Response::ok("-----BEGIN CERTIFICATE-----"));
        let clock = Arc::new(ManualClock::new(tt::NOW));
        let verifier = verifier(&issuer, policy, &clock);
        verifier.load().unwrap();
        clock.advance(600);
        Self { issuer, verifier }
    }

    fn verify(&self, token: &str) -> Result<entra_jwt::core::Claims, Error> {
        self.verifier.verify(token)
    }

    /// Asserts the attacker's URLs were never requested and the issuer saw
    /// at most `refreshes` JWKS refreshes after the first load.
    fn assert_fetched_nothing_named(&self, refreshes: usize) {
        assert_eq!(self.issuer.requests(ATTACKER_JWKS), 0, "jku fetched");
        assert_eq!(self.issuer.requests(ATTACKER_CERT), 0, "x5u fetched");
        assert_eq!(self.issuer.requests(&self.issuer.discovery_path()), 1);
        let jwks = self.issuer.requests(&self.issuer.jwks_path());
        assert!(jwks <= 1 + refreshes, "{jwks} JWKS requests");
    }
}

fn policy() -> Policy {
    Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap()
}

fn verifier(
    issuer: &MockIssuer,
    policy: Policy,
    clock: &Arc<ManualClock>,
) -> Verifier<UreqFetcher> {
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let fetcher = UreqFetcher::new(FetchConfig::default().dangerous_allow_http_loopback());
    Verifier::builder(policy, source, fetcher)
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn tenant() -> &'static TestTenant {
    TestTenant::get()
}

fn good_token() -> String {
    tenant().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(tt::NOW),
    )
}

/// The v2 claims as JSON text without `remove`, with `members` (raw JSON) appended.
fn claims_with(remove: &[&str], members: &str) -> Vec<u8> {
    let mut claims = TestTenant::v2_claims(tt::NOW);
    for name in remove {
        claims.as_object_mut().unwrap().remove(*name);
    }
    let mut text = claims.to_string();
    assert_eq!(text.pop(), Some('}'));
    if members.is_empty() {
        format!("{text}}}").into_bytes()
    } else {
        format!("{text},{members}}}").into_bytes()
    }
}

/// A token with exactly these payload bytes, signed by the tenant's 2048-bit key.
fn signed_payload(payload: &[u8]) -> String {
    let header = serde_json::to_vec(&TestTenant::header(Key::Rsa2048)).unwrap();
    tenant().sign_raw(Key::Rsa2048, &header, payload)
}

/// HMAC-SHA256 (RFC 2104) by hand: the workspace has no `hmac` crate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

fn recorded(rel: &str) -> Vec<u8> {
    let path = format!("{}/../../fixtures/azure/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn recorded_token(stem: &str) -> String {
    String::from_utf8(recorded(&format!("tokens/{stem}.jwt")))
        .unwrap()
        .trim_end()
        .to_owned()
}

fn unverified_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[test]
fn the_setup_accepts_a_good_token() {
    let s = Setup::new();
    s.verify(&good_token()).unwrap();
    s.assert_fetched_nothing_named(0);
}

// CVE-2015-9235 (node-jsonwebtoken), CVE-2022-23540: "alg":"none". Without a
// signature the empty third segment is refused first (SPEC §2: malformed);
// with the tenant's real signature attached, `none` is still not RS256.
#[test]
fn alg_none() {
    let s = Setup::new();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"typ": "JWT", "alg": alg, "kid": Key::Rsa2048.kid()});
        let unsigned = format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(&claims_with(&[], ""))
        );
        assert_eq!(s.verify(&unsigned).unwrap_err(), Error::Malformed, "{alg}");
        let signed = tenant().sign(Key::Rsa2048, &header, &TestTenant::v2_claims(tt::NOW));
        assert_eq!(
            s.verify(&signed).unwrap_err(),
            Error::UnsupportedAlg,
            "{alg}"
        );
    }
    s.assert_fetched_nothing_named(0);
}

// CVE-2016-10555 (jwt-simple), CVE-2022-29217 (PyJWT): HS256 with the RSA
// public key as the HMAC secret, in every form an attacker can download from
// the issuer (the JWK's `n`, the certificate, the JWK, the whole JWKS).
#[test]
fn hs256_with_the_public_key_as_the_secret() {
    let s = Setup::new();
    let jwk = TestTenant::public_jwk(Key::Rsa2048);
    let secrets = [
        URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
        TestTenant::cert_der(Key::Rsa2048),
        jwk.to_string().into_bytes(),
        TestTenant::jwks_json().as_bytes().to_vec(),
        jwk["x5c"][0].as_str().unwrap().as_bytes().to_vec(),
    ];
    for header in [
        json!({"typ": "JWT", "alg": "HS256", "kid": Key::Rsa2048.kid()}),
        json!({"typ": "JWT", "alg": "HS256"}),
    ] {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(&claims_with(&[], ""))
        );
        for secret in &secrets {
            let token = format!("{input}.{}", b64(&hmac_sha256(secret, input.as_bytes())));
            assert_eq!(s.verify(&token).unwrap_err(), Error::UnsupportedAlg);
        }
    }
    s.assert_fetched_nothing_named(0);
}

/// A token signed by the attacker's key whose header carries `members`,
/// naming `kid`.
fn attacker_token(kid: &str, members: &Value) -> String {
    let mut header = json!({"typ": "JWT", "alg": "RS256", "kid": kid});
    for (name, value) in members.as_object().unwrap() {
        header[name] = value.clone();
    }
    tenant().sign(Key::Attacker, &header, &TestTenant::v2_claims(tt::NOW))
}

/// Each header that points at the attacker's key: with the attacker's own kid
/// (unknown to the set: one refresh at most, then `unknown_key`) and with the
/// tenant's kid (`bad_signature`). The attacker's URLs are never requested.
fn assert_embedded_key_ignored(members: &Value) {
    let s = Setup::new();
    assert_eq!(
        s.verify(&attacker_token(Key::Attacker.kid(), members))
            .unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(
        s.verify(&attacker_token(Key::Rsa2048.kid(), members))
            .unwrap_err(),
        Error::BadSignature
    );
    // A second unknown kid within the interval costs nothing.
    assert_eq!(
        s.verify(&attacker_token("another-kid", members))
            .unwrap_err(),
        Error::UnknownKey
    );
    s.assert_fetched_nothing_named(1);
}

// CVE-2018-0114 (node-jose, Cisco): the public key embedded in the `jwk`
// header is trusted. SPEC §3: never read.
#[test]
fn attacker_key_in_a_jwk_header() {
    assert_embedded_key_ignored(&json!({"jwk": TestTenant::public_jwk(Key::Attacker)}));
}

// CVE-2024-21643 (IdentityModel: `jku` followed to the attacker's key set).
// The URL is a real route on the mock issuer; it must see no request.
#[test]
fn attacker_key_set_in_a_jku_header() {
    let issuer = MockIssuer::start();
    let url = format!("http://{}{ATTACKER_JWKS}", issuer.addr());
    assert_embedded_key_ignored(&json!({"jku": url}));
    assert_eq!(issuer.total_requests(), 0);
    // And the issuer's own address, which the setup routes.
    let s = Setup::new();
    let jku = s.issuer.url(ATTACKER_JWKS);
    assert_eq!(
        s.verify(&attacker_token(Key::Attacker.kid(), &json!({"jku": jku})))
            .unwrap_err(),
        Error::UnknownKey
    );
    s.assert_fetched_nothing_named(1);
}

// `x5u` (RFC 7515 §4.1.5), the certificate-URL twin of `jku`; same class as
// CVE-2024-21643 and RFC 8725 §3.10's warning. Never fetched.
#[test]
fn attacker_certificate_in_an_x5u_header() {
    let s = Setup::new();
    let x5u = s.issuer.url(ATTACKER_CERT);
    for kid in [Key::Attacker.kid(), Key::Rsa2048.kid()] {
        let result = s.verify(&attacker_token(kid, &json!({"x5u": x5u})));
        assert!(matches!(
            result.unwrap_err(),
            Error::UnknownKey | Error::BadSignature
        ));
    }
    s.assert_fetched_nothing_named(1);
    assert_embedded_key_ignored(&json!({"x5u": "https://attacker.example/cert.pem"}));
}

// The `x5c` header carrying the attacker's self-signed certificate (the
// CVE-2018-0114 class again: a key that vouches for itself). Never used.
#[test]
fn attacker_certificate_in_an_x5c_header() {
    let cert = STANDARD.encode(TestTenant::cert_der(Key::Attacker));
    assert_embedded_key_ignored(&json!({"x5c": [cert]}));
}

// `kid` injection (PortSwigger's "JWT attacks: kid path traversal", OWASP
// WSTG-SESS-10): verifiers that use the kid as a file path or in a SQL query
// let the attacker pick the key. Kids are compared here as opaque strings,
// never used as a path or a query. Unknown: one refresh at most, then unknown_key.
#[test]
fn kid_path_and_sql_strings() {
    let s = Setup::new();
    for kid in [
        "../../etc/passwd",
        "../../../../../../dev/null",
        "/dev/null",
        "' OR 1=1 --",
        "x' UNION SELECT 'secret",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "kid\u{0}nul",
    ] {
        let token = attacker_token(kid, &json!({}));
        assert_eq!(s.verify(&token).unwrap_err(), Error::UnknownKey, "{kid:?}");
    }
    s.assert_fetched_nothing_named(1);
    // The same strings with a real signature by the tenant key: still no key.
    for kid in ["../../etc/passwd", "' OR 1=1 --"] {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": kid});
        let token = tenant().sign(Key::Rsa2048, &header, &TestTenant::v2_claims(tt::NOW));
        assert_eq!(s.verify(&token).unwrap_err(), Error::UnknownKey);
    }
}

// CVE-2022-39227 (python-jwt): a claim given twice, read differently by two
// parsers. Exact duplicates are malformed JSON here; `tid` beside `TID` is a
// bad claim (IM IDX40011).
#[test]
fn two_tids_or_two_exps() {
    let s = Setup::new();
    let two_tids = claims_with(&[], &format!(r#""tid":"{}""#, tt::OTHER_TENANT_ID));
    assert_eq!(
        s.verify(&signed_payload(&two_tids)).unwrap_err(),
        Error::Malformed
    );
    let two_exps = claims_with(
        &["exp"],
        &format!(r#""exp":{},"exp":{}"#, tt::NOW - 3600, tt::NOW + 3600),
    );
    assert_eq!(
        s.verify(&signed_payload(&two_exps)).unwrap_err(),
        Error::Malformed
    );
    let case_twin = claims_with(&[], &format!(r#""TID":"{}""#, tt::OTHER_TENANT_ID));
    assert_eq!(
        s.verify(&signed_payload(&case_twin)).unwrap_err(),
        Error::BadClaim { claim: "tid" }
    );
    let escaped = claims_with(
        &["exp"],
        &format!(r#""exp":{},"\u0065xp":{}"#, tt::NOW - 3600, tt::NOW + 3600),
    );
    assert_eq!(
        s.verify(&signed_payload(&escaped)).unwrap_err(),
        Error::Malformed
    );
}

// CVE-2026-25537: a NumericDate of the wrong type must be refused, not
// skipped; out-of-range values must not wrap (SPEC §6). 1e309 is no JSON
// number a strict parser holds: malformed.
#[test]
fn exp_as_string_float_huge_negative_and_u64_max() {
    let s = Setup::new();
    let bad_claim = Error::BadClaim { claim: "exp" };
    for (exp, expected) in [
        (format!(r#""{}""#, tt::NOW + 3600), bad_claim),
        (format!("{}.0", tt::NOW + 3600), bad_claim),
        ("1.8e9".to_owned(), bad_claim),
        ("1e309".to_owned(), Error::Malformed),
        ("-1".to_owned(), bad_claim),
        (i64::MIN.to_string(), bad_claim),
        (u64::MAX.to_string(), bad_claim),
        ("18446744073709551616".to_owned(), bad_claim),
        ("null".to_owned(), bad_claim),
    ] {
        let payload = claims_with(&["exp"], &format!(r#""exp":{exp}"#));
        assert_eq!(
            s.verify(&signed_payload(&payload)).unwrap_err(),
            expected,
            "exp = {exp}"
        );
    }
}

// Audience flooding: 10 000 `aud` values are compared and none matches. The
// default 32 KiB cap refuses the token before any parsing; a policy raised
// to IM's 250 KiB parses it and answers wrong_audience.
#[test]
fn audience_array_of_10_000_entries() {
    let aud: Vec<String> = (0..10_000).map(|i| format!("api://app-{i}")).collect();
    let token = signed_payload(&claims_with(&["aud"], &format!(r#""aud":{}"#, json!(aud))));
    assert!(token.len() > 32 * 1024);
    assert_eq!(Setup::new().verify(&token).unwrap_err(), Error::TooLarge);
    let roomy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .max_token_bytes(250 * 1024)
        .build()
        .unwrap();
    let s = Setup::with_policy(roomy);
    assert_eq!(s.verify(&token).unwrap_err(), Error::WrongAudience);
}

// Resource exhaustion (CVE-2025-30204, golang-jwt: unbounded split on dots):
// 1 MB tokens are refused by size before any decoding.
#[test]
fn tokens_of_1_mb() {
    let s = Setup::new();
    let padded = claims_with(&[], &format!(r#""pad":"{}""#, "a".repeat(1 << 20)));
    assert_eq!(
        s.verify(&signed_payload(&padded)).unwrap_err(),
        Error::TooLarge
    );
    assert_eq!(s.verify(&".".repeat(1 << 20)).unwrap_err(), Error::TooLarge);
    assert_eq!(s.verify(&"a".repeat(1 << 20)).unwrap_err(), Error::TooLarge);
    s.assert_fetched_nothing_named(0);
}

// Stack exhaustion by nesting (serde_json's recursion limit): in the header,
// before any signature check, and in the signed payload.
#[test]
fn deeply_nested_json() {
    let s = Setup::new();
    let header = format!(
        r#"{{"typ":"JWT","alg":"RS256","kid":"{}","x":{}{}}}"#,
        Key::Rsa2048.kid(),
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let token = tenant().sign_raw(Key::Rsa2048, header.as_bytes(), &claims_with(&[], ""));
    assert_eq!(s.verify(&token).unwrap_err(), Error::Malformed);
    let objects = format!(r#""x":{}1{}"#, r#"{"a":"#.repeat(3000), "}".repeat(3000));
    assert_eq!(
        s.verify(&signed_payload(&claims_with(&[], &objects)))
            .unwrap_err(),
        Error::Malformed
    );
    let arrays = format!(r#""x":{}{}"#, "[".repeat(8000), "]".repeat(8000));
    assert_eq!(
        s.verify(&signed_payload(&claims_with(&[], &arrays)))
            .unwrap_err(),
        Error::Malformed
    );
}

// GHSA-hxm8-2xgr-2p9m: a second encoding of the same signature (non-zero
// trailing bits, padding, the standard alphabet) must not verify.
#[test]
fn non_canonical_base64() {
    let s = Setup::new();
    let token = good_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    // 256 bytes encode to 342 characters, the last carrying 4 unused bits.
    let last = sig.as_bytes()[sig.len() - 1];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.iter().position(|&c| c == last).unwrap();
    assert_eq!(
        index & 0b1111,
        0,
        "canonical encoding has zero trailing bits"
    );
    let twin = alphabet[index | 1] as char;
    let twin_sig = format!("{}{twin}", &sig[..sig.len() - 1]);
    assert_eq!(
        lenient_decode(&twin_sig),
        lenient_decode(sig),
        "the same bytes"
    );
    let noncanonical = format!("{input}.{twin_sig}");
    assert_eq!(s.verify(&noncanonical).unwrap_err(), Error::Malformed);
    assert_eq!(
        s.verify(&format!("{token}==")).unwrap_err(),
        Error::Malformed
    );
    let standard = format!("{input}.{}", sig.replace('-', "+").replace('_', "/"));
    if standard != token {
        assert_eq!(s.verify(&standard).unwrap_err(), Error::Malformed);
    }
    s.verify(&token).unwrap();
}

/// Lenient base64url decoding (trailing bits allowed), to show the
/// non-canonical twin really is the same signature.
fn lenient_decode(s: &str) -> Vec<u8> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    lenient.decode(s).unwrap()
}

// A Microsoft Graph token (header `nonce`, SPEC §3): a third party cannot
// verify its signature by design, so it is refused as a token for another
// resource, not as a forgery. Recorded G01/G02, and one signed by the tenant.
#[test]
fn a_token_for_microsoft_graph() {
    let s = Setup::new();
    for stem in ["G01_graph_huN95IvP", "G02_graph_SsZsBNhZ"] {
        assert_eq!(
            s.verify(&recorded_token(stem)).unwrap_err(),
            Error::FirstPartyToken,
            "{stem}"
        );
    }
    let mut header = TestTenant::header(Key::Rsa2048);
    header["nonce"] = json!("AQABAAAAAAD");
    let token = tenant().sign(Key::Rsa2048, &header, &TestTenant::v2_claims(tt::NOW));
    assert_eq!(s.verify(&token).unwrap_err(), Error::FirstPartyToken);
    s.assert_fetched_nothing_named(0);
}

// An ID token presented as an access token (MIW IDW10201): same tenant,
// audience and signature, but no `scp` and no `roles`.
#[test]
fn an_id_token_presented_as_an_access_token() {
    let s = Setup::new();
    let mut claims = TestTenant::v2_claims(tt::NOW);
    let obj = claims.as_object_mut().unwrap();
    obj.remove("scp");
    obj.insert("nonce".into(), json!("defaultNonce"));
    obj.insert(
        "email".into(),
        json!("test.user@entrajwttest.onmicrosoft.com"),
    );
    let token = tenant().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &claims);
    assert_eq!(s.verify(&token).unwrap_err(), Error::MissingScopeOrRole);
}

/// A verifier for a multi-tenant API whose issuer serves the recorded JWKS
/// `jwks` (Microsoft's real keys), at `iat + 60` of `token`.
fn recorded_multi_tenant(
    policy: Policy,
    jwks: &str,
    token: &str,
) -> (MockIssuer, Verifier<UreqFetcher>) {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    issuer.set_jwks(recorded(jwks));
    let iat = unverified_claims(token)["iat"].as_u64().unwrap();
    let clock = Arc::new(ManualClock::new(iat + 60));
    let v = verifier(&issuer, policy, &clock);
    (issuer, v)
}

// Cross-tenant token replay into a multi-tenant app (the "any Entra tenant"
// class, e.g. Wiz's 2023 "BingBang" write-up): a genuine token, signed by a
// real Microsoft `common` key, issued by another tenant. The allowlist is
// what refuses it: wrong_tenant. Recorded T20 (tenant 72f988bf) against the
// recorded 2022 common v2 key set, and T21 (tenant f645ad92) against the
// recorded 2024 organizations set.
#[test]
fn a_token_from_another_tenant_signed_by_a_real_common_key() {
    let cases = [
        (
            "T20_msaljs_v2_l3sQ_msft",
            "jwks/aad_common_discovery_v2_keys_2022-11-12__dockyard.json",
            MSFT_TENANT,
        ),
        (
            "T21_msalnet_v1_3PaK4E_2024",
            "jwks/entra-organizations_discovery_v2_keys_2024-10-26__panva-wellknown.json",
            "f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
        ),
    ];
    for (stem, jwks, its_tenant) in cases {
        let token = recorded_token(stem);
        let aud = unverified_claims(&token)["aud"]
            .as_str()
            .unwrap()
            .to_owned();
        // Both are tokens without scp/roles (an ID token, an app-only token
        // without roles): the opt-out isolates the tenant rule.
        let multi = || Policy::multi_tenant(&aud).dangerous_allow_no_scope_or_role();
        let (issuer, v) = recorded_multi_tenant(
            multi().allow_tenant(tt::TENANT_ID).build().unwrap(),
            jwks,
            &token,
        );
        assert_eq!(v.verify(&token).unwrap_err(), Error::WrongTenant, "{stem}");
        assert_eq!(issuer.requests(&issuer.jwks_path()), 1);
        // The same token is genuine: with its tenant allowed it verifies.
        let (_issuer, v) = recorded_multi_tenant(
            multi().allow_tenant(its_tenant).build().unwrap(),
            jwks,
            &token,
        );
        v.verify(&token).unwrap();
    }
}

/// One token of every class above, with the exact code the verifier must give.
fn every_class() -> Vec<(&'static str, String, Error)> {
    let kid = Key::Rsa2048.kid();
    let t = tenant();
    let claims = TestTenant::v2_claims(tt::NOW);
    let with_header = |h: Value| t.sign(Key::Rsa2048, &h, &claims);
    let hs256_input = format!(
        "{}.{}",
        b64(json!({"typ": "JWT", "alg": "HS256", "kid": kid})
            .to_string()
            .as_bytes()),
        b64(&claims_with(&[], ""))
    );
    let n = URL_SAFE_NO_PAD
        .decode(TestTenant::public_jwk(Key::Rsa2048)["n"].as_str().unwrap())
        .unwrap();
    let token = good_token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut id_token = claims.clone();
    id_token.as_object_mut().unwrap().remove("scp");
    let aud: Vec<String> = (0..10_000).map(|i| format!("api://app-{i}")).collect();
    vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none"}"#),
                b64(&claims_with(&[], ""))
            ),
            Error::Malformed,
        ),
        (
            "alg none, signed",
            with_header(json!({"alg": "none", "kid": kid})),
            Error::UnsupportedAlg,
        ),
        (
            "HS256 with the public key",
            format!(
                "{hs256_input}.{}",
                b64(&hmac_sha256(&n, hs256_input.as_bytes()))
            ),
            Error::UnsupportedAlg,
        ),
        (
            "jwk header",
            attacker_token(kid, &json!({"jwk": TestTenant::public_jwk(Key::Attacker)})),
            Error::BadSignature,
        ),
        (
            "jku header",
            attacker_token(
                Key::Attacker.kid(),
                &json!({"jku": "http://127.0.0.1:9/attacker/keys"}),
            ),
            Error::UnknownKey,
        ),
        (
            "kid path",
            attacker_token("../../etc/passwd", &json!({})),
            Error::UnknownKey,
        ),
        (
            "kid sql",
            attacker_token("' OR 1=1 --", &json!({})),
            Error::UnknownKey,
        ),
        (
            "two exp",
            signed_payload(&claims_with(&[], &format!(r#""exp":{}"#, tt::NOW + 1))),
            Error::Malformed,
        ),
        (
            "exp as a string",
            signed_payload(&claims_with(&["exp"], r#""exp":"1800003600""#)),
            Error::BadClaim { claim: "exp" },
        ),
        (
            "exp u64::MAX",
            signed_payload(&claims_with(&["exp"], &format!(r#""exp":{}"#, u64::MAX))),
            Error::BadClaim { claim: "exp" },
        ),
        (
            "10 000 audiences",
            signed_payload(&claims_with(&["aud"], &format!(r#""aud":{}"#, json!(aud)))),
            Error::TooLarge,
        ),
        ("1 MB of dots", ".".repeat(1 << 20), Error::TooLarge),
        (
            "nested header",
            t.sign_raw(
                Key::Rsa2048,
                format!(
                    r#"{{"alg":"RS256","x":{}{}}}"#,
                    "[".repeat(500),
                    "]".repeat(500)
                )
                .as_bytes(),
                &claims_with(&[], ""),
            ),
            Error::Malformed,
        ),
        ("padded signature", format!("{token}=="), Error::Malformed),
        (
            "not base64url",
            format!("{input}.{}", sig.replace(['-', '_'], "+")),
            Error::Malformed,
        ),
        (
            "Graph token",
            recorded_token("G01_graph_huN95IvP"),
            Error::FirstPartyToken,
        ),
        (
            "ID token",
            t.sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &id_token),
            Error::MissingScopeOrRole,
        ),
    ]
}

#[test]
fn every_attack_class_through_the_tower_layer() {
    use std::convert::Infallible;

    use bytes::Bytes;
    use entra_jwt::AsyncVerifier;
    use entra_jwt::core::challenge;
    use entra_jwt_reqwest::ReqwestFetcher;
    use entra_jwt_tower::{CheckedBody, EntraAuthLayer};
    use http::Request;
    use http_body_util::{BodyExt as _, Full};
    use tower::{Layer as _, ServiceExt as _, service_fn};

    let blocking = Setup::new();
    let cases = every_class();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let issuer = MockIssuer::entra(tt::TENANT_ID);
        issuer.route(ATTACKER_JWKS, Response::json("{}"));
        let clock = Arc::new(ManualClock::new(tt::NOW));
        let source =
            KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
        let fetcher = ReqwestFetcher::new(FetchConfig::default().dangerous_allow_http_loopback());
        let verifier = AsyncVerifier::builder(policy(), source, fetcher)
            .clock(Arc::clone(&clock) as _)
            .entropy(Arc::new(FixedEntropy(0)))
            .build();
        let service = EntraAuthLayer::new(verifier).layer(service_fn(
            |_request: Request<CheckedBody<Full<Bytes>>>| async {
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("protected"))))
            },
        ));
        let call = |token: String| {
            let service = service.clone();
            async move {
                let request = Request::get("/data")
                    .header("Authorization", format!("Bearer {token}"))
                    .body(Full::default())
                    .unwrap();
                service.oneshot(request).await.unwrap()
            }
        };
        // The layer and the keys work: a good token reaches the service.
        let ok = call(good_token()).await;
        assert_eq!(ok.status(), 200);
        clock.advance(600);
        for (name, token, code) in cases {
            assert_eq!(
                blocking.verify(&token).unwrap_err(),
                code,
                "{name}: blocking verifier"
            );
            let expected = challenge(&code, None);
            let response = call(token).await;
            assert_eq!(response.status().as_u16(), expected.status, "{name}");
            let www = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(www, expected.www_authenticate, "{name}");
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(body.is_empty(), "{name}: the body must not say why");
        }
        assert_eq!(issuer.requests(ATTACKER_JWKS), 0);
        assert_eq!(issuer.requests(&issuer.discovery_path()), 1);
        assert!(
            issuer.requests(&issuer.jwks_path()) <= 2,
            "one unknown-kid refresh at most"
        );
    });
    blocking.assert_fetched_nothing_named(1);
}

// The verified-token cache (`Verifier::token_cache`) must not become a way
// around the checks: near misses of a cached token (same signature over a
// changed payload, a changed signature, a second encoding, a changed header)
// are verified from scratch and refused, and the cached token itself is
// refused once expired or once its key left the set.
#[test]
fn near_misses_of_a_cached_token_are_not_served_from_the_cache() {
    use entra_jwt::TokenCacheConfig;

    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let fetcher = UreqFetcher::new(FetchConfig::default().dangerous_allow_http_loopback());
    let v = Verifier::builder(policy(), source, fetcher)
        .clock(Arc::clone(&clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .token_cache(TokenCacheConfig::default())
        .build();
    let token = good_token();
    for _ in 0..3 {
        v.verify(&token).unwrap();
    }
    assert_eq!(v.cached_tokens(), 1);
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (header, _) = input.split_once('.').unwrap();
    let mut claims = TestTenant::v2_claims(tt::NOW);
    claims["scp"] = json!("Data.Read Data.Write Admin");
    let forged_payload = format!("{header}.{}.{sig}", b64(claims.to_string().as_bytes()));
    let mut sig_bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig_bytes[100] ^= 1;
    let flipped = format!("{input}.{}", b64(&sig_bytes));
    let padded = format!("{token}=");
    let rs512_header = b64(
        json!({"typ": "JWT", "alg": "RS512", "kid": Key::Rsa2048.kid()})
            .to_string()
            .as_bytes(),
    );
    let (_, payload) = input.split_once('.').unwrap();
    let other_header = format!("{rs512_header}.{payload}.{sig}");
    for (forged, code) in [
        (&forged_payload, Error::BadSignature),
        (&flipped, Error::BadSignature),
        (&padded, Error::Malformed),
        (&other_header, Error::UnsupportedAlg),
    ] {
        assert_eq!(v.verify(forged).unwrap_err(), code);
    }
    assert_eq!(v.cached_tokens(), 1, "refused tokens are never cached");
    // Past exp + leeway the cached token is refused, not served.
    clock.set(tt::NOW + 3600 + 300);
    assert_eq!(v.verify(&token).unwrap_err(), Error::Expired);
    // Back in its window but after its key left the set: refused as unknown.
    let v4096 = tenant().sign(
        Key::Rsa4096,
        &TestTenant::header(Key::Rsa4096),
        &TestTenant::v2_claims(tt::NOW),
    );
    clock.set(tt::NOW);
    v.verify(&v4096).unwrap();
    issuer.rotate_jwks();
    clock.set(tt::NOW + 700);
    // The first token of the new key brings the rotated set in.
    let next = tenant().sign(
        Key::Rsa2048Next,
        &TestTenant::header(Key::Rsa2048Next),
        &TestTenant::v2_claims(tt::NOW),
    );
    v.verify(&next).unwrap();
    assert_eq!(v.verify(&v4096).unwrap_err(), Error::UnknownKey);
}

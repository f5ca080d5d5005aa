//! Known JWT attacks, one test each with its advisory: every forged token is refused with its exact error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entra_jwt_core::{Claims, Error, KeySet, Policy};
use entra_jwt_test_tenant::{APP_ID, Key, NOW, OTHER_TENANT_ID, TENANT_ID, TestTenant};
use rsa::pkcs8::EncodePublicKey as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256, Sha512};

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap())
}

fn policy() -> Policy {
    Policy::single_tenant(TENANT_ID, APP_ID).build().unwrap()
}

fn verify(token: &str) -> Result<Claims, Error> {
    policy().verify(token, keys(), NOW)
}

fn tt() -> &'static TestTenant {
    TestTenant::get()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header() -> Value {
    TestTenant::header(Key::Rsa2048)
}

fn header_json() -> Vec<u8> {
    serde_json::to_vec(&header()).unwrap()
}

fn claims_json() -> Vec<u8> {
    serde_json::to_vec(&TestTenant::v2_claims(NOW)).unwrap()
}

/// The v2 claims without `remove`, with `members` (raw JSON text) appended.
fn claims_with(remove: &[&str], members: &str) -> Vec<u8> {
    let mut claims = TestTenant::v2_claims(NOW);
    for name in remove {
        claims.as_object_mut().unwrap().remove(*name);
    }
    let mut text = serde_json::to_string(&claims).unwrap();
    assert_eq!(text.pop(), Some('}'));
    format!("{text},{members}}}").into_bytes()
}

/// A token with these exact payload bytes, RS256-signed by the tenant key.
fn signed_payload(payload: &[u8]) -> String {
    tt().sign_raw(Key::Rsa2048, &header_json(), payload)
}

/// HMAC-SHA256 (RFC 2104), by hand: no `hmac` crate in this workspace.
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

#[test]
fn hmac_helper_matches_rfc_4231() {
    // RFC 4231 test cases 2 (short key) and 6 (key longer than the block).
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        hex(&mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let mac = hmac_sha256(
        &[0xaa; 131],
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    );
    assert_eq!(
        hex(&mac),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// CVE-2015-9235 (node-jsonwebtoken), CVE-2022-23540: "alg":"none" with an
// empty signature. The empty signature segment is refused first (SPEC §2).
#[test]
fn alg_none_with_empty_signature() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        for header in [
            json!({"alg": alg, "typ": "JWT"}),
            json!({"alg": alg, "typ": "JWT", "kid": Key::Rsa2048.kid()}),
        ] {
            let token = format!(
                "{}.{}.",
                b64(&serde_json::to_vec(&header).unwrap()),
                b64(&claims_json())
            );
            assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{header}");
        }
    }
    // With a (real, tenant) signature attached, `none` is still not RS256.
    let token = tt().sign(
        Key::Rsa2048,
        &json!({"alg": "none", "typ": "JWT", "kid": Key::Rsa2048.kid()}),
        &TestTenant::v2_claims(NOW),
    );
    assert_eq!(verify(&token).unwrap_err(), Error::UnsupportedAlg);
}

// CVE-2016-10555 (jwt-simple), CVE-2022-29217 (PyJWT): HS256 with the RSA
// public key as the HMAC secret. The verifier never takes the algorithm from
// the header, so no form of the public key works as a secret.
#[test]
fn hs256_signed_with_the_public_key_as_secret() {
    let spki = tt()
        .public_key(Key::Rsa2048)
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let body: Vec<String> = STANDARD
        .encode(&spki)
        .as_bytes()
        .chunks(64)
        .map(|line| String::from_utf8(line.to_vec()).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        body.join("\n")
    );
    let jwk = TestTenant::public_jwk(Key::Rsa2048).to_string();
    let n = URL_SAFE_NO_PAD
        .decode(TestTenant::public_jwk(Key::Rsa2048)["n"].as_str().unwrap())
        .unwrap();
    let secrets: Vec<Vec<u8>> = vec![
        spki,
        pem.clone().into_bytes(),
        pem.trim_end().as_bytes().to_vec(),
        TestTenant::cert_der(Key::Rsa2048),
        jwk.into_bytes(),
        TestTenant::jwks_json().as_bytes().to_vec(),
        n,
    ];
    for hs in [
        json!({"alg": "HS256", "typ": "JWT", "kid": Key::Rsa2048.kid()}),
        json!({"alg": "HS256", "typ": "JWT"}),
    ] {
        let signing_input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&hs).unwrap()),
            b64(&claims_json())
        );
        for secret in &secrets {
            let mac = hmac_sha256(secret, signing_input.as_bytes());
            let token = format!("{signing_input}.{}", b64(&mac));
            assert_eq!(verify(&token).unwrap_err(), Error::UnsupportedAlg);
        }
    }
}

// Algorithm substitution (CVE-2026-48523 class): RS512 with the tenant's own
// key. The signature is genuine, but RS256 is the only algorithm.
#[test]
fn alg_rs512_signed_by_the_tenant_key() {
    let rs512 = json!({"alg": "RS512", "typ": "JWT", "kid": Key::Rsa2048.kid()});
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&rs512).unwrap()),
        b64(&claims_json())
    );
    let sig = tt()
        .private_key(Key::Rsa2048)
        .pkcs1v15_sign::<Sha512>(signing_input.as_bytes())
        .unwrap();
    let token = format!("{signing_input}.{}", b64(&sig));
    assert_eq!(verify(&token).unwrap_err(), Error::UnsupportedAlg);
    // And RS512 in the header over an RS256 signature.
    let token = tt().sign(Key::Rsa2048, &rs512, &TestTenant::v2_claims(NOW));
    assert_eq!(verify(&token).unwrap_err(), Error::UnsupportedAlg);
}

// CVE-2025-59420 (authlib), CVE-2026-32597: `crit` names extensions the
// verifier does not implement (here RFC 7797 unencoded payload).
#[test]
fn crit_header() {
    let mut h = header();
    h["crit"] = json!(["b64"]);
    h["b64"] = json!(false);
    let token = tt().sign(Key::Rsa2048, &h, &TestTenant::v2_claims(NOW));
    assert_eq!(verify(&token).unwrap_err(), Error::CritHeader);
}

// CVE-2018-0114 (node-jose: embedded jwk trusted), CVE-2024-21643
// (IdentityModel jku): the token points at its own key. Never fetched, never used.
#[test]
fn jku_jwk_x5u_x5c_pointing_elsewhere() {
    let cert = STANDARD.encode(TestTenant::cert_der(Key::Attacker));
    let members = json!({
        "jku": "https://attacker.example/keys",
        "x5u": "https://attacker.example/cert.pem",
        "jwk": TestTenant::public_jwk(Key::Attacker),
        "x5c": [cert],
    });
    let with = |kid: &str| {
        let mut h = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
        for (name, value) in members.as_object().unwrap() {
            h[name] = value.clone();
        }
        tt().sign(Key::Attacker, &h, &TestTenant::v2_claims(NOW))
    };
    assert_eq!(
        verify(&with(Key::Attacker.kid())).unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(
        verify(&with(Key::Rsa2048.kid())).unwrap_err(),
        Error::BadSignature
    );
}

// A token stripped of its signature (the `alg` left as RS256): SPEC §2.
#[test]
fn empty_signature() {
    let token = format!("{}.{}.", b64(&header_json()), b64(&claims_json()));
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

// Length games on the signature (SPEC §2: exactly the modulus length).
#[test]
fn signature_one_byte_short_or_long() {
    let token = signed_payload(&claims_json());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let short = &sig[..sig.len() - 1];
    let long = [&sig[..], &[0]].concat();
    let zero_led = [&[0], &sig[..]].concat();
    for bad in [short, &long[..], &zero_led[..]] {
        let token = format!("{input}.{}", b64(bad));
        assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
    }
}

// CVE-2022-21449 ("psychic signatures") analogue: an all-zero signature.
#[test]
fn all_zero_signature() {
    let token = signed_payload(&claims_json());
    let (input, _) = token.rsplit_once('.').unwrap();
    let token = format!("{input}.{}", b64(&[0; 256]));
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
}

// A 10 KB kid (cost amplification in key lookup and logs): SPEC §3 caps it at 256.
#[test]
fn kid_of_10_kb() {
    let mut h = header();
    h["kid"] = json!("k".repeat(10 * 1024));
    let token = tt().sign(Key::Rsa2048, &h, &TestTenant::v2_claims(NOW));
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

// CVE-2022-39227 (python-jwt): duplicate members read differently by two
// parsers. The last `exp` is the valid one.
#[test]
fn duplicate_exp() {
    let payload = claims_with(
        &["exp"],
        &format!(r#""exp":{},"exp":{}"#, NOW - 3600, NOW + 3600),
    );
    assert_eq!(
        verify(&signed_payload(&payload)).unwrap_err(),
        Error::Malformed
    );
}

// CVE-2026-25537: a string `exp` silently skipped instead of refused.
#[test]
fn exp_as_a_string() {
    for exp in [format!(r#""{}""#, NOW + 3600), r#""never""#.to_string()] {
        let payload = claims_with(&["exp"], &format!(r#""exp":{exp}"#));
        assert_eq!(
            verify(&signed_payload(&payload)).unwrap_err(),
            Error::BadClaim { claim: "exp" }
        );
    }
}

// CVE-2026-25537 again: NumericDate must be an integer here (SPEC §6).
#[test]
fn exp_as_a_float() {
    for exp in [
        format!("{}.0", NOW + 3600),
        format!("{}.5", NOW + 3600),
        "1.9e9".to_string(),
    ] {
        let payload = claims_with(&["exp"], &format!(r#""exp":{exp}"#));
        assert_eq!(
            verify(&signed_payload(&payload)).unwrap_err(),
            Error::BadClaim { claim: "exp" },
            "{exp}"
        );
    }
}

// IM IDX40011: `tid` beside `TID` lets two readers see two tenants.
#[test]
fn tid_twice_differing_in_case() {
    for other in ["TID", "Tid", "tiD"] {
        let payload = claims_with(&[], &format!(r#""{other}":"{OTHER_TENANT_ID}""#));
        assert_eq!(
            verify(&signed_payload(&payload)).unwrap_err(),
            Error::BadClaim { claim: "tid" },
            "{other}"
        );
    }
}

// Resource exhaustion; CVE-2025-30204 (golang-jwt: unbounded split on dots).
#[test]
fn token_of_1_mb() {
    let payload = claims_with(&[], &format!(r#""pad":"{}""#, "a".repeat(1 << 20)));
    let token = signed_payload(&payload);
    assert!(token.len() > 1 << 20);
    assert_eq!(verify(&token).unwrap_err(), Error::TooLarge);
    assert_eq!(verify(&".".repeat(1 << 20)).unwrap_err(), Error::TooLarge);
    // Under the cap, a flood of dots is refused without splitting it all.
    assert_eq!(
        verify(&".".repeat(32 * 1024)).unwrap_err(),
        Error::Malformed
    );
}

// A number no f64 holds: not valid JSON for a strict parser.
#[test]
fn exp_1e309() {
    let payload = claims_with(&["exp"], r#""exp":1e309"#);
    assert_eq!(
        verify(&signed_payload(&payload)).unwrap_err(),
        Error::Malformed
    );
}

// Out-of-range times that wrap or overflow in date code (SPEC §6: 0..=253402300799).
#[test]
fn negative_and_huge_exp() {
    for exp in [
        "-1".to_string(),
        format!("-{}", NOW + 3600),
        i64::MIN.to_string(),
        u64::MAX.to_string(),
        i64::MAX.to_string(),
        "253402300800".to_string(),
        "100000000000000000000".to_string(),
    ] {
        let payload = claims_with(&["exp"], &format!(r#""exp":{exp}"#));
        assert_eq!(
            verify(&signed_payload(&payload)).unwrap_err(),
            Error::BadClaim { claim: "exp" },
            "{exp}"
        );
    }
    // The last second of year 9999 is still a time.
    let payload = claims_with(&["exp"], r#""exp":253402300799"#);
    assert_eq!(
        verify(&signed_payload(&payload)).unwrap().exp,
        253_402_300_799
    );
}

// Audience list flooding: 10 000 entries are all compared, none matches.
#[test]
fn aud_array_of_10_000_entries() {
    let roomy = Policy::single_tenant(TENANT_ID, APP_ID)
        .max_token_bytes(250 * 1024)
        .build()
        .unwrap();
    let mut aud: Vec<String> = (0..10_000).map(|i| format!("a{i}")).collect();
    let payload = claims_with(&["aud"], &format!(r#""aud":{}"#, json!(aud)));
    let token = signed_payload(&payload);
    assert_eq!(
        roomy.verify(&token, keys(), NOW).unwrap_err(),
        Error::WrongAudience
    );
    aud.push(APP_ID.to_string());
    let payload = claims_with(&["aud"], &format!(r#""aud":{}"#, json!(aud)));
    let token = signed_payload(&payload);
    assert_eq!(roomy.verify(&token, keys(), NOW).unwrap().aud.len(), 10_001);
}

// Stack exhaustion by nesting (serde_json's recursion limit, 128).
#[test]
fn deeply_nested_claim() {
    let nested = |depth: usize| format!(r#""ext":{}{}"#, "[".repeat(depth), "]".repeat(depth));
    // Moderate nesting is fine: the payload is signed and valid.
    assert!(verify(&signed_payload(&claims_with(&[], &nested(20)))).is_ok());
    for depth in [200, 10_000] {
        let token = signed_payload(&claims_with(&[], &nested(depth)));
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{depth}");
    }
    let objects = format!(r#""ext":{}1{}"#, r#"{"a":"#.repeat(1000), "}".repeat(1000));
    let token = signed_payload(&claims_with(&[], &objects));
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

// Stack exhaustion in the header, before any signature check.
#[test]
fn header_with_1000_nested_arrays() {
    let mut h = header_json();
    assert_eq!(h.pop(), Some(b'}'));
    h.extend_from_slice(format!(r#","x":{}{}}}"#, "[".repeat(1000), "]".repeat(1000)).as_bytes());
    let token = tt().sign_raw(Key::Rsa2048, &h, &claims_json());
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

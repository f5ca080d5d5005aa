//! SPEC §3 (header): `alg`, `crit`, `typ`, `nonce` (first-party tokens), `kid`/`x5t` lookup, and header key references that are never trusted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entra_jwt_core::{Claims, Error, KeySet, Policy};
use entra_jwt_test_tenant::{APP_ID, Key, NOW, TENANT_ID, TestTenant};
use serde_json::{Value, json};

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap())
}

fn verify(token: &str) -> Result<Claims, Error> {
    Policy::single_tenant(TENANT_ID, APP_ID)
        .build()
        .unwrap()
        .verify(token, keys(), NOW)
}

/// A token with this header and valid v2 claims, RS256-signed with `key`.
fn signed(key: Key, header: &Value) -> String {
    TestTenant::get().sign(key, header, &TestTenant::v2_claims(NOW))
}

/// The tenant's Rsa2048 header with `name` set to `value` (or removed when `None`).
fn header_with(name: &str, value: Option<Value>) -> Value {
    let mut header = TestTenant::header(Key::Rsa2048);
    let map = header.as_object_mut().unwrap();
    match value {
        Some(v) => map.insert(name.to_string(), v),
        None => map.remove(name),
    };
    header
}

fn assert_verifies(header: &Value) {
    let token = signed(Key::Rsa2048, header);
    if let Err(e) = verify(&token) {
        panic!("{header}: {e}");
    }
}

fn assert_refused(header: &Value, expected: Error) {
    let token = signed(Key::Rsa2048, header);
    assert_eq!(verify(&token).unwrap_err(), expected, "{header}");
}

// ---- alg (CVE-2015-9235, CVE-2016-10555): only RS256, compared exactly ----
// Every token below is RS256-signed by the tenant key, so a verifier that
// ignored `alg` would accept it.

#[test]
fn alg_rs256_is_accepted() {
    assert_verifies(&header_with("alg", Some(json!("RS256"))));
}

#[test]
fn alg_other_than_exact_rs256_is_unsupported() {
    for alg in [
        json!("none"),
        json!("None"),
        json!("NONE"),
        json!("rs256"),
        json!("Rs256"),
        json!("RS256 "),
        json!(" RS256"),
        json!("HS256"),
        json!("RS384"),
        json!("RS512"),
        json!("PS256"),
        json!("ES256"),
        json!("EdDSA"),
        json!(""),
    ] {
        assert_refused(&header_with("alg", Some(alg)), Error::UnsupportedAlg);
    }
}

#[test]
fn alg_missing_or_not_a_string_is_unsupported() {
    assert_refused(&header_with("alg", None), Error::UnsupportedAlg);
    for alg in [
        json!(null),
        json!(256),
        json!(true),
        json!(["RS256"]),
        json!({"RS256": true}),
    ] {
        assert_refused(&header_with("alg", Some(alg)), Error::UnsupportedAlg);
    }
}

// ---- crit (RFC 7515 §4.1.11; CVE-2025-59420, CVE-2026-32597): any value is refused ----

#[test]
fn crit_with_any_value_is_refused() {
    for crit in [
        json!(["b64"]),
        json!(["exp"]),
        json!([]),
        json!("b64"),
        json!(null),
        json!({}),
        json!(0),
    ] {
        assert_refused(&header_with("crit", Some(crit)), Error::CritHeader);
    }
    // The RFC 7797 case: crit names b64, b64 is false.
    let mut header = header_with("crit", Some(json!(["b64"])));
    header["b64"] = json!(false);
    assert_refused(&header, Error::CritHeader);
}

// ---- typ: absent or "JWT" in any case ----

#[test]
fn typ_jwt_in_any_case_or_absent_is_accepted() {
    for typ in ["JWT", "jwt", "Jwt", "jWt"] {
        assert_verifies(&header_with("typ", Some(json!(typ))));
    }
    assert_verifies(&header_with("typ", None));
}

#[test]
fn typ_other_than_jwt_is_malformed() {
    for typ in [
        json!("at+jwt"),
        json!("at+JWT"),
        json!("JOSE"),
        json!("JWS"),
        json!("application/jwt"),
        json!("JWT "),
        json!(""),
        json!(null),
        json!(1),
        json!(true),
        json!(["JWT"]),
        json!({"typ": "JWT"}),
    ] {
        assert_refused(&header_with("typ", Some(typ)), Error::Malformed);
    }
}

// ---- nonce: Microsoft Graph / first-party tokens ----

#[test]
fn header_nonce_is_a_first_party_token() {
    // Signed by the tenant key and valid otherwise: only the nonce rule refuses it.
    for nonce in [
        json!("Ctycet_cJ_zOY-s_NG391mgFz8KIh_-5UwuHok1DX1w"),
        json!(""),
        json!(7),
        json!(null),
    ] {
        assert_refused(&header_with("nonce", Some(nonce)), Error::FirstPartyToken);
    }
}

/// A recorded Graph token: verified against its own key set, by a policy for
/// its own tenant and audience, inside its validity window.
fn recorded_graph_token(jwt: &str, jwks: &str, tenant: &str, iat: u64) -> Result<Claims, Error> {
    let keys = KeySet::from_jwks(jwks.as_bytes()).unwrap();
    let token = jwt.trim();
    // Microsoft Graph's application id is its audience.
    let policy = Policy::single_tenant(tenant, "00000003-0000-0000-c000-000000000000")
        .build()
        .unwrap();
    policy.verify(token, &keys, iat + 60)
}

#[test]
fn recorded_graph_tokens_are_first_party_not_bad_signature() {
    // Their RS256 signature covers SHA-256 of the header nonce, so a plain
    // check fails by design (fixtures/azure/SOURCE.md); the key is in the set.
    let g01 = recorded_graph_token(
        include_str!("../../fixtures/azure/tokens/G01_graph_huN95IvP.jwt"),
        include_str!("../../fixtures/azure/tokens/G01_graph_huN95IvP.jwks.json"),
        "f86c8166-c7df-412e-b770-884135fdedf5",
        1_594_848_559,
    );
    assert_eq!(g01.unwrap_err(), Error::FirstPartyToken);
    let g02 = recorded_graph_token(
        include_str!("../../fixtures/azure/tokens/G02_graph_SsZsBNhZ.jwt"),
        include_str!("../../fixtures/azure/tokens/G02_graph_SsZsBNhZ.jwks.json"),
        "49f548d0-12b7-4169-a390-bb5304d24462",
        1_591_266_587,
    );
    assert_eq!(g02.unwrap_err(), Error::FirstPartyToken);
}

#[test]
fn recorded_graph_token_keys_are_in_their_sets() {
    // So the outcome above is not an unknown_key in disguise.
    for (jwks, kid) in [
        (
            include_str!("../../fixtures/azure/tokens/G01_graph_huN95IvP.jwks.json"),
            "huN95IvPfehq34GzBDZ1GXGirnM",
        ),
        (
            include_str!("../../fixtures/azure/tokens/G02_graph_SsZsBNhZ.jwks.json"),
            "SsZsBNhZcF3Q9S4trpQBTByNRRI",
        ),
    ] {
        assert!(
            KeySet::from_jwks(jwks.as_bytes())
                .unwrap()
                .contains_kid(kid)
        );
    }
}

// ---- kid: exact, case-sensitive, at most 256 bytes ----

#[test]
fn kid_matches_exactly_and_case_sensitively() {
    let kid = Key::Rsa2048.kid();
    let swapped: String = kid
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    assert_ne!(swapped, kid);
    let lower = kid.to_ascii_lowercase();
    assert_ne!(lower, kid);
    for bad in [
        swapped,
        lower,
        kid.to_ascii_uppercase(),
        format!("{kid} "),
        format!(" {kid}"),
        kid[..kid.len() - 1].to_string(),
        format!("{kid}x"),
        String::new(),
    ] {
        assert_refused(&header_with("kid", Some(json!(bad))), Error::UnknownKey);
    }
    assert_verifies(&header_with("kid", Some(json!(kid))));
}

#[test]
fn kid_of_256_bytes_is_looked_up_and_257_is_malformed() {
    assert_refused(
        &header_with("kid", Some(json!("k".repeat(256)))),
        Error::UnknownKey,
    );
    assert_refused(
        &header_with("kid", Some(json!("k".repeat(257)))),
        Error::Malformed,
    );
    // Bytes, not characters: 128 two-byte characters are 256 bytes.
    assert_refused(
        &header_with("kid", Some(json!("é".repeat(128)))),
        Error::UnknownKey,
    );
    assert_refused(
        &header_with("kid", Some(json!(format!("{}a", "é".repeat(128))))),
        Error::Malformed,
    );
}

#[test]
fn kid_of_256_bytes_verifies_when_the_set_has_it() {
    let kid = "k".repeat(256);
    let mut jwk = TestTenant::public_jwk(Key::Rsa2048);
    jwk["kid"] = json!(kid);
    let doc = json!({ "keys": [jwk] }).to_string();
    let set = KeySet::from_jwks(doc.as_bytes()).unwrap();
    let token = signed(Key::Rsa2048, &header_with("kid", Some(json!(kid))));
    let policy = Policy::single_tenant(TENANT_ID, APP_ID).build().unwrap();
    assert!(policy.verify(&token, &set, NOW).is_ok());
}

#[test]
fn kid_that_is_not_a_string_is_malformed() {
    for kid in [
        json!(null),
        json!(1),
        json!(true),
        json!([Key::Rsa2048.kid()]),
        json!({"kid": Key::Rsa2048.kid()}),
    ] {
        assert_refused(&header_with("kid", Some(kid)), Error::Malformed);
    }
}

// ---- x5t: used only when kid is absent; no "try every key" fallback ----

#[test]
fn x5t_without_kid_finds_the_key() {
    let mut header = header_with("kid", None);
    header["x5t"] = json!(Key::Rsa2048.kid());
    assert_verifies(&header);
    // Still exact and case-sensitive.
    header["x5t"] = json!(Key::Rsa2048.kid().to_ascii_lowercase());
    assert_refused(&header, Error::UnknownKey);
}

#[test]
fn wrong_kid_with_right_x5t_is_unknown_key() {
    let mut header = header_with("kid", Some(json!("not-a-tenant-kid")));
    header["x5t"] = json!(Key::Rsa2048.kid());
    assert_refused(&header, Error::UnknownKey);
}

#[test]
fn kid_wins_over_x5t() {
    // Right kid, wrong x5t: the x5t is not looked at.
    let mut header = header_with("x5t", Some(json!("not-a-thumbprint")));
    assert_verifies(&header);
    // kid of another tenant key, x5t of the signing key: the kid's key is
    // used and the signature fails; no second try with the x5t key.
    header["kid"] = json!(Key::Rsa3072.kid());
    header["x5t"] = json!(Key::Rsa2048.kid());
    assert_refused(&header, Error::BadSignature);
}

#[test]
fn no_kid_and_no_x5t_is_unknown_key() {
    // The set has three keys; none is tried.
    assert_refused(&header_with("kid", None), Error::UnknownKey);
}

#[test]
fn x5t_that_is_not_a_string_or_too_long_is_malformed() {
    for x5t in [json!(null), json!(1), json!([Key::Rsa2048.kid()])] {
        let mut header = header_with("kid", None);
        header["x5t"] = x5t;
        assert_refused(&header, Error::Malformed);
    }
    let mut header = header_with("kid", None);
    header["x5t"] = json!("t".repeat(257));
    assert_refused(&header, Error::Malformed);
    header["x5t"] = json!("t".repeat(256));
    assert_refused(&header, Error::UnknownKey);
}

// ---- jku, x5u, jwk, x5c in the token: never used (CVE-2018-0114, CVE-2024-21643) ----

/// The header members by which a token could try to bring its own key:
/// each one advertising the attacker's key.
fn attacker_key_references() -> Vec<(&'static str, Value)> {
    let cert = STANDARD.encode(TestTenant::cert_der(Key::Attacker));
    vec![
        ("jwk", TestTenant::public_jwk(Key::Attacker)),
        ("x5c", json!([cert])),
        (
            "jku",
            json!("https://attacker.example/.well-known/jwks.json"),
        ),
        ("x5u", json!("https://attacker.example/attacker.pem")),
    ]
}

/// The header of `kid`'s key plus `members`.
fn header_for(kid: &str, members: &[(&'static str, Value)]) -> Value {
    let mut header = header_with("kid", Some(json!(kid)));
    for (name, value) in members {
        header[*name] = value.clone();
    }
    header
}

#[test]
fn attacker_signed_token_with_own_kid_and_embedded_key_is_unknown_key() {
    let refs = attacker_key_references();
    for member in refs.iter().cloned() {
        let header = header_for(Key::Attacker.kid(), &[member]);
        let token = signed(Key::Attacker, &header);
        assert_eq!(verify(&token).unwrap_err(), Error::UnknownKey, "{header}");
    }
    let token = signed(Key::Attacker, &header_for(Key::Attacker.kid(), &refs));
    assert_eq!(verify(&token).unwrap_err(), Error::UnknownKey);
    // By thumbprint only, without kid: still not in the set.
    let mut header = header_for(Key::Attacker.kid(), &refs);
    header.as_object_mut().unwrap().remove("kid");
    header["x5t"] = json!(Key::Attacker.kid());
    let token = signed(Key::Attacker, &header);
    assert_eq!(verify(&token).unwrap_err(), Error::UnknownKey);
}

#[test]
fn attacker_signed_token_with_tenant_kid_and_embedded_key_is_bad_signature() {
    let refs = attacker_key_references();
    for member in refs.iter().cloned() {
        let header = header_for(Key::Rsa2048.kid(), &[member]);
        let token = signed(Key::Attacker, &header);
        assert_eq!(verify(&token).unwrap_err(), Error::BadSignature, "{header}");
    }
    let token = signed(Key::Attacker, &header_for(Key::Rsa2048.kid(), &refs));
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
}

#[test]
fn embedded_key_references_do_not_change_a_tenant_signed_token() {
    let refs = attacker_key_references();
    for member in refs.iter().cloned() {
        assert_verifies(&header_for(Key::Rsa2048.kid(), &[member]));
    }
    assert_verifies(&header_for(Key::Rsa2048.kid(), &refs));
    // Nor does advertising the right key, or garbage in those members.
    assert_verifies(&header_for(
        Key::Rsa2048.kid(),
        &[
            ("jwk", TestTenant::public_jwk(Key::Rsa2048)),
            ("x5c", json!("not a certificate chain")),
            ("jku", json!(7)),
            ("x5u", json!(null)),
        ],
    ));
}

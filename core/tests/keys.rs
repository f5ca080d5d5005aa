//! SPEC §4: JWKS parsing (recorded Microsoft sets and the test tenant's), the usable-key rules with
//! their skip reasons, key lookup, `RsaKey` bounds, and OpenID discovery documents.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entra_jwt_core::{
    Error, Jwk, KeyError, KeyMaterial, KeySet, OpenIdConfiguration, PUBLIC_AUTHORITY, Policy,
    RsaKey, SkipReason, SkippedKey, TokenVersion, discovery_url, limits,
};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------- helpers

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!("{}/../fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The names of the files in a fixture directory that end in `suffix`, sorted.
fn fixture_files(dir: &str, suffix: &str) -> Vec<String> {
    let path = format!("{}/../fixtures/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

fn jwks_doc(keys: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

/// The test tenant's Microsoft-shaped JWK for `key`, edited by `f`.
fn edited(key: Key, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut jwk = TestTenant::public_jwk(key);
    f(jwk.as_object_mut().unwrap());
    jwk
}

/// `public_jwk(Rsa2048)` with one member replaced.
fn rsa2048_with(member: &str, value: Value) -> Value {
    edited(Key::Rsa2048, |m| {
        m.insert(member.to_owned(), value);
    })
}

/// `public_jwk(Rsa2048)` without some members.
fn rsa2048_without(members: &[&str]) -> Value {
    edited(Key::Rsa2048, |m| {
        for name in members {
            m.remove(*name).unwrap();
        }
    })
}

/// A set of a good anchor key (rsa3072) and `jwk`; returns it after checking
/// that `jwk` was loaded, not skipped.
fn loads(jwk: Value) -> Jwk {
    let set =
        KeySet::from_jwks(&jwks_doc(vec![TestTenant::public_jwk(Key::Rsa3072), jwk])).unwrap();
    assert_eq!(set.skipped(), &[], "the key should have been loaded");
    assert_eq!(set.len(), 2);
    set.iter().nth(1).unwrap().clone()
}

/// A set of a good anchor key (rsa3072) and `jwk`; returns why `jwk` was skipped
/// after checking that the set itself still loaded (a skipped key never fails the set).
fn skipped(jwk: Value) -> SkipReason {
    let set =
        KeySet::from_jwks(&jwks_doc(vec![TestTenant::public_jwk(Key::Rsa3072), jwk])).unwrap();
    assert_eq!(set.len(), 1, "only the anchor key should load");
    assert_eq!(set.iter().next().unwrap().kid(), Some(Key::Rsa3072.kid()));
    let [skip] = set.skipped() else {
        panic!("expected one skipped key, got {:?}", set.skipped())
    };
    assert_eq!(skip.index, 1);
    skip.reason
}

/// An odd number of exactly `bits` bits, big-endian (a stand-in modulus: the
/// size and parity rules are checked before anything needs real primes).
fn odd_number(bits: usize) -> Vec<u8> {
    let len = bits.div_ceil(8);
    let mut v = vec![0x5a_u8; len];
    let top_bits = bits - 8 * (len - 1);
    v[0] = u8::try_from((1_u16 << top_bits) - 1).unwrap();
    v[len - 1] |= 1;
    v
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn n_bytes(key: Key) -> Vec<u8> {
    let jwk = TestTenant::public_jwk(key);
    URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap()
}

/// A v2 access token of the test tenant signed by `key`, checked against `set`.
fn verify_with(set: &KeySet, key: Key) -> Result<(), Error> {
    let token = TestTenant::get().sign(
        key,
        &TestTenant::header(key),
        &TestTenant::v2_claims(tt::NOW),
    );
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    policy.verify(&token, set, tt::NOW).map(|_| ())
}

const TENANT_KEYS: [Key; 3] = [Key::Rsa2048, Key::Rsa3072, Key::Rsa4096];

// ---------------------------------------------------------------- recorded and generated sets

/// Every recorded Microsoft JWKS loads, with the key counts observed in the fixtures.
#[test]
fn recorded_microsoft_key_sets_load() {
    // (file, usable keys). The table must list every file, so a new fixture gets a row.
    let expected: &[(&str, usize)] = &[
        ("aad_common_discovery_keys_2020__jwks_uri_updater.json", 3),
        (
            "aad_common_discovery_keys_v1_2024-07-22__identitymodel.json",
            7,
        ),
        ("aad_common_discovery_v2_keys_2022-11-12__dockyard.json", 10),
        ("aad_common_discovery_v2_keys_2024__identitymodel.json", 10),
        ("aad_common_keys_2020__layabauth.json", 3),
        ("aad_common_keys_2020__vapor-jwt-kit.json", 3),
        (
            "entra-common_discovery_v2_keys_2024-10-26__panva-wellknown.json",
            7,
        ),
        (
            "entra-organizations_discovery_v2_keys_2024-10-26__panva-wellknown.json",
            6,
        ),
        (
            "msa_consumers_nexus_passport_keys__jwks_uri_updater.json",
            2,
        ),
    ];
    // Not a JWKS by RFC 7517: passport-azure-ad's test wraps two bare {e, kid, n}
    // objects without the REQUIRED `kty` (RFC 7517 §4.1), so each is skipped as
    // NotRsa and the set has no usable key. This is the rule working, not a gap.
    let not_a_jwks = "aad_common_keys_2016_MnC_YbRAQ__passport-azure-ad.json";

    let mut listed: Vec<String> = expected.iter().map(|(f, _)| (*f).to_owned()).collect();
    listed.push(not_a_jwks.to_owned());
    listed.sort();
    assert_eq!(fixture_files("azure/jwks", ".json"), listed);

    for (file, count) in expected {
        let set = KeySet::from_jwks(&fixture(&format!("azure/jwks/{file}"))).unwrap();
        assert_eq!(set.len(), *count, "{file}");
        assert_eq!(set.skipped(), &[], "{file}");
        for key in set.iter() {
            assert_eq!(key.key().bits(), 2048, "{file}");
            assert_eq!(key.key().exponent(), &[1, 0, 1], "{file}");
            assert_eq!(
                key.material(),
                KeyMaterial::Both,
                "{file}: n/e agree with x5c"
            );
            assert!(key.kid().is_some(), "{file}");
        }
    }
    assert_eq!(
        KeySet::from_jwks(&fixture(&format!("azure/jwks/{not_a_jwks}"))).unwrap_err(),
        Error::InvalidKeySet {
            reason: "no usable key"
        }
    );
}

/// The 2024 v2 documents (and the 2022 one) carry Entra's per-key `issuer`, kept
/// for the key-issuer check of SPEC §6; the v1 and older sets have none.
#[test]
fn recorded_v2_key_sets_keep_each_key_issuer() {
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    for file in [
        "aad_common_discovery_v2_keys_2022-11-12__dockyard.json",
        "aad_common_discovery_v2_keys_2024__identitymodel.json",
        "entra-common_discovery_v2_keys_2024-10-26__panva-wellknown.json",
        "entra-organizations_discovery_v2_keys_2024-10-26__panva-wellknown.json",
    ] {
        let set = KeySet::from_jwks(&fixture(&format!("azure/jwks/{file}"))).unwrap();
        assert!(set.iter().all(|k| k.issuer().is_some()), "{file}");
        assert!(set.iter().any(|k| k.issuer() == Some(template)), "{file}");
    }
    // organizations: every key is multi-tenant, so every issuer is the template.
    let orgs = KeySet::from_jwks(&fixture(
        "azure/jwks/entra-organizations_discovery_v2_keys_2024-10-26__panva-wellknown.json",
    ))
    .unwrap();
    assert!(orgs.iter().all(|k| k.issuer() == Some(template)));
    let v1 = KeySet::from_jwks(&fixture(
        "azure/jwks/aad_common_discovery_keys_v1_2024-07-22__identitymodel.json",
    ))
    .unwrap();
    assert!(v1.iter().all(|k| k.issuer().is_none()));
}

/// The JWKS recorded beside each real token loads: one key, found by the token's kid/x5t.
#[test]
fn recorded_token_key_sets_load() {
    let files = fixture_files("azure/tokens", ".jwks.json");
    assert_eq!(files.len(), 8);
    for file in files {
        let set = KeySet::from_jwks(&fixture(&format!("azure/tokens/{file}"))).unwrap();
        assert_eq!(set.len(), 1, "{file}");
        assert_eq!(set.skipped(), &[], "{file}");
        let key = set.iter().next().unwrap();
        assert_eq!(key.material(), KeyMaterial::Both, "{file}");
        assert_eq!(key.key().bits(), 2048, "{file}");
        assert_eq!(key.issuer(), None, "{file}");
    }
}

#[test]
fn test_tenant_key_set() {
    let set = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    assert_eq!(set.len(), 3);
    assert_eq!(set.skipped(), &[]);
    for (jwk, key) in set.iter().zip(TENANT_KEYS) {
        assert_eq!(jwk.kid(), Some(key.kid()));
        assert_eq!(jwk.x5t(), Some(key.kid()));
        assert_eq!(jwk.issuer(), Some(tt::ISSUER_V2));
        assert_eq!(jwk.material(), KeyMaterial::Both);
        assert_eq!(jwk.key().bits(), key.bits());
        assert_eq!(jwk.key().signature_len(), key.bits() / 8);
        assert_eq!(jwk.key().exponent(), &[1, 0, 1]);
        assert_eq!(jwk.key().modulus(), n_bytes(key).as_slice());
        assert_eq!(verify_with(&set, key), Ok(()));
    }
    let rotated = KeySet::from_jwks(TestTenant::jwks_rotated_json().as_bytes()).unwrap();
    let kids: Vec<_> = rotated.iter().map(|k| k.kid().unwrap()).collect();
    assert_eq!(
        kids,
        [
            Key::Rsa2048.kid(),
            Key::Rsa3072.kid(),
            Key::Rsa2048Next.kid()
        ]
    );
    assert_eq!(verify_with(&rotated, Key::Rsa2048Next), Ok(()));
    assert_eq!(verify_with(&rotated, Key::Rsa4096), Err(Error::UnknownKey));
}

// ---------------------------------------------------------------- usable-key rules (SPEC §4)

#[test]
fn kty_must_be_rsa() {
    assert_eq!(
        loads(rsa2048_with("kty", json!("RSA"))).kid(),
        Some(Key::Rsa2048.kid())
    );
    assert_eq!(
        skipped(rsa2048_with("kty", json!("EC"))),
        SkipReason::NotRsa
    );
    assert_eq!(
        skipped(rsa2048_with("kty", json!("oct"))),
        SkipReason::NotRsa
    );
    // RFC 7517 §4.1: kty values are case-sensitive.
    assert_eq!(
        skipped(rsa2048_with("kty", json!("rsa"))),
        SkipReason::NotRsa
    );
    assert_eq!(skipped(rsa2048_without(&["kty"])), SkipReason::NotRsa);
}

#[test]
fn use_must_be_sig_or_absent() {
    loads(rsa2048_with("use", json!("sig")));
    loads(rsa2048_without(&["use"]));
    assert_eq!(
        skipped(rsa2048_with("use", json!("enc"))),
        SkipReason::NotForSignatures
    );
    assert_eq!(
        skipped(rsa2048_with("use", json!("SIG"))),
        SkipReason::NotForSignatures
    );
}

#[test]
fn key_ops_must_contain_verify() {
    loads(rsa2048_with("key_ops", json!(["verify"])));
    loads(rsa2048_with("key_ops", json!(["sign", "verify"])));
    assert_eq!(
        skipped(rsa2048_with("key_ops", json!(["encrypt", "wrapKey"]))),
        SkipReason::NoVerifyOperation
    );
    assert_eq!(
        skipped(rsa2048_with("key_ops", json!(["sign"]))),
        SkipReason::NoVerifyOperation
    );
    assert_eq!(
        skipped(rsa2048_with("key_ops", json!([]))),
        SkipReason::NoVerifyOperation
    );
    // Not an array: a member of the wrong JSON type.
    assert_eq!(
        skipped(rsa2048_with("key_ops", json!("verify"))),
        SkipReason::NotAnObject
    );
}

/// Entra keys carry no `alg`: requiring it would reject every Entra token.
#[test]
fn alg_absent_or_rs256() {
    assert!(TestTenant::public_jwk(Key::Rsa2048).get("alg").is_none());
    loads(TestTenant::public_jwk(Key::Rsa2048));
    loads(rsa2048_with("alg", json!("RS256")));
    for alg in ["RS512", "PS256", "RS384", "HS256", "none", "rs256"] {
        assert_eq!(
            skipped(rsa2048_with("alg", json!(alg))),
            SkipReason::WrongAlg,
            "{alg}"
        );
    }
}

#[test]
fn modulus_size_bounds() {
    // 2048 and 4096 bits are the inclusive bounds; the tenant's keys sit on both.
    assert_eq!(
        loads(TestTenant::public_jwk(Key::Rsa4096)).key().bits(),
        4096
    );
    assert_eq!(
        loads(TestTenant::public_jwk(Key::Rsa2048)).key().bits(),
        2048
    );
    let with_n = |n: &[u8]| {
        edited(Key::Rsa2048, |m| {
            m.insert("n".into(), json!(b64url(n)));
            m.remove("x5c");
        })
    };
    assert_eq!(skipped(with_n(&odd_number(1024))), SkipReason::KeyTooSmall);
    assert_eq!(skipped(with_n(&odd_number(2047))), SkipReason::KeyTooSmall);
    assert_eq!(skipped(with_n(&odd_number(4097))), SkipReason::KeyTooLarge);
    assert_eq!(skipped(with_n(&odd_number(4104))), SkipReason::KeyTooLarge);
}

#[test]
fn exponent_must_be_odd_and_small() {
    let with_e = |e: &[u8]| {
        edited(Key::Rsa2048, |m| {
            m.insert("e".into(), json!(b64url(e)));
            m.remove("x5c");
        })
    };
    assert_eq!(
        loads(with_e(&[1, 0, 1])).material(),
        KeyMaterial::Components
    );
    loads(with_e(&[3]));
    // 2^33 - 1: the largest accepted exponent (limits::MAX_RSA_EXPONENT).
    loads(with_e(&[1, 0xff, 0xff, 0xff, 0xff]));
    assert_eq!(skipped(with_e(&[1, 0, 0])), SkipReason::BadExponent, "even");
    assert_eq!(skipped(with_e(&[1])), SkipReason::BadExponent, "e = 1");
    assert_eq!(
        skipped(with_e(&[2, 0, 0, 0, 1])),
        SkipReason::BadExponent,
        "e = 2^33 + 1"
    );
    assert_eq!(skipped(with_e(&[0])), SkipReason::BadExponent, "e = 0");
}

#[test]
fn modulus_must_be_odd() {
    let mut n = n_bytes(Key::Rsa2048);
    *n.last_mut().unwrap() &= 0xfe;
    let jwk = edited(Key::Rsa2048, |m| {
        m.insert("n".into(), json!(b64url(&n)));
        m.remove("x5c");
    });
    assert_eq!(skipped(jwk), SkipReason::BadModulus);
}

/// `n` and `e` are strict base64url (RFC 7518 §6.3.1: Base64urlUInt, no padding).
#[test]
fn components_must_be_strict_base64url() {
    let n = TestTenant::public_jwk(Key::Rsa2048)["n"]
        .as_str()
        .unwrap()
        .to_owned();
    let standard_alphabet = n.replace('-', "+").replace('_', "/");
    assert_ne!(standard_alphabet, n, "the modulus encoding uses - or _");
    for bad_n in [
        standard_alphabet,
        format!("{n}="),
        format!("{n}=="),
        format!(" {n}"),
    ] {
        assert_eq!(
            skipped(rsa2048_with("n", json!(bad_n))),
            SkipReason::BadEncoding
        );
    }
    assert_eq!(
        skipped(rsa2048_with("e", json!("AQAB="))),
        SkipReason::BadEncoding
    );
    assert_eq!(
        skipped(rsa2048_with("e", json!("AQ+B"))),
        SkipReason::BadEncoding
    );
}

#[test]
fn key_material_sources() {
    // Microsoft's shape: n/e and x5c, which agree.
    assert_eq!(
        loads(TestTenant::public_jwk(Key::Rsa2048)).material(),
        KeyMaterial::Both
    );
    // Only n/e.
    let components = loads(rsa2048_without(&["x5c"]));
    assert_eq!(components.material(), KeyMaterial::Components);
    assert_eq!(components.key().modulus(), n_bytes(Key::Rsa2048).as_slice());
    // Only x5c: the certificate's key is used, and verifies the tenant's tokens.
    let cert_only = rsa2048_without(&["n", "e"]);
    assert_eq!(
        loads(cert_only.clone()).material(),
        KeyMaterial::Certificate
    );
    let set = KeySet::from_jwks(&jwks_doc(vec![cert_only])).unwrap();
    assert_eq!(
        set.iter().next().unwrap().key().modulus(),
        n_bytes(Key::Rsa2048).as_slice()
    );
    assert_eq!(verify_with(&set, Key::Rsa2048), Ok(()));
    assert_eq!(verify_with(&set, Key::Rsa3072), Err(Error::UnknownKey));
}

#[test]
fn incomplete_components_are_no_key_material() {
    assert_eq!(skipped(rsa2048_without(&["e"])), SkipReason::NoKeyMaterial);
    assert_eq!(skipped(rsa2048_without(&["n"])), SkipReason::NoKeyMaterial);
    assert_eq!(
        skipped(rsa2048_without(&["n", "e", "x5c"])),
        SkipReason::NoKeyMaterial
    );
}

/// SPEC §4: when both `n`/`e` and `x5c` are present they must agree.
#[test]
fn certificate_of_another_key_is_a_mismatch() {
    let other_cert = TestTenant::public_jwk(Key::Rsa2048Next)["x5c"].clone();
    assert_eq!(
        skipped(rsa2048_with("x5c", other_cert)),
        SkipReason::CertificateMismatch
    );
    // The same certificate under its own n/e is fine.
    let own_cert = TestTenant::public_jwk(Key::Rsa2048)["x5c"].clone();
    loads(rsa2048_with("x5c", own_cert));
}

#[test]
fn unreadable_certificates() {
    let cert = STANDARD.encode(TestTenant::cert_der(Key::Rsa2048));
    // x5c is standard base64 with padding (RFC 7517 §4.7), never base64url.
    let urlsafe = cert.replace('+', "-").replace('/', "_");
    let cases = [
        ("not base64", json!(["!!not base64!!"])),
        (
            "base64 but not DER",
            json!([STANDARD.encode(b"hello, not a certificate")]),
        ),
        (
            "truncated DER",
            json!([STANDARD.encode(&TestTenant::cert_der(Key::Rsa2048)[..200])]),
        ),
        ("empty array", json!([])),
        ("a string, not an array", json!(cert)),
        ("an object", json!({ "0": cert })),
        ("first element not a string", json!([42, cert])),
        (
            "eleven certificates",
            json!(vec![cert.clone(); limits::MAX_X5C_CERTS + 1]),
        ),
    ];
    for (what, x5c) in cases {
        assert_eq!(
            skipped(rsa2048_with("x5c", x5c)),
            SkipReason::BadCertificate,
            "{what}"
        );
    }
    if urlsafe != cert {
        assert_eq!(
            skipped(rsa2048_with("x5c", json!([urlsafe]))),
            SkipReason::BadCertificate
        );
    }
    // Up to MAX_X5C_CERTS certificates are fine; only the first is read.
    loads(rsa2048_with(
        "x5c",
        json!(vec![cert; limits::MAX_X5C_CERTS]),
    ));
}

/// A certificate whose SubjectPublicKeyInfo is not rsaEncryption.
#[test]
fn certificate_with_a_non_rsa_key() {
    let mut der = TestTenant::cert_der(Key::Rsa2048);
    // OID 1.2.840.113549.1.1.1 (rsaEncryption) appears once, in the SPKI; the
    // signature algorithm is ...1.1.11. Turn the SPKI's into ...1.1.2.
    let rsa_encryption = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let at: Vec<usize> = der
        .windows(rsa_encryption.len())
        .enumerate()
        .filter(|(_, w)| *w == rsa_encryption)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1);
    der[at[0] + rsa_encryption.len() - 1] = 0x02;
    let jwk = edited(Key::Rsa2048, |m| {
        m.insert("x5c".into(), json!([STANDARD.encode(&der)]));
        m.remove("n");
        m.remove("e");
    });
    assert_eq!(skipped(jwk), SkipReason::CertificateNotRsa);
}

#[test]
fn entries_that_are_not_objects() {
    for entry in [
        json!("a string"),
        json!(42),
        json!(null),
        json!([TestTenant::public_jwk(Key::Rsa2048)]),
    ] {
        assert_eq!(skipped(entry.clone()), SkipReason::NotAnObject, "{entry}");
    }
    // A member of the wrong JSON type makes the entry unreadable too.
    for member in ["kty", "kid", "use", "alg", "x5t", "issuer", "n", "e"] {
        assert_eq!(
            skipped(rsa2048_with(member, json!(7))),
            SkipReason::NotAnObject,
            "{member}"
        );
    }
}

#[test]
fn kid_length_cap() {
    let kid_256 = "k".repeat(limits::MAX_KID_LEN);
    let jwk = loads(rsa2048_with("kid", json!(kid_256)));
    assert_eq!(jwk.kid(), Some(kid_256.as_str()));
    let kid_257 = "k".repeat(limits::MAX_KID_LEN + 1);
    assert_eq!(
        skipped(rsa2048_with("kid", json!(kid_257))),
        SkipReason::KidTooLong
    );
    // The report does not echo an over-long kid.
    let set = KeySet::from_jwks(&jwks_doc(vec![
        TestTenant::public_jwk(Key::Rsa3072),
        rsa2048_with("kid", json!(kid_257)),
    ]))
    .unwrap();
    assert_eq!(set.skipped()[0].kid, None);
    // An over-long x5t is dropped, the key kept (it is found by kid).
    let jwk = loads(rsa2048_with("x5t", json!(kid_257)));
    assert_eq!(jwk.x5t(), None);
    assert_eq!(jwk.kid(), Some(Key::Rsa2048.kid()));
}

#[test]
fn duplicate_kid_keeps_the_first_key() {
    let impostor = edited(Key::Rsa3072, |m| {
        m.insert("kid".into(), json!(Key::Rsa2048.kid()));
    });
    let set = KeySet::from_jwks(&jwks_doc(vec![
        TestTenant::public_jwk(Key::Rsa2048),
        impostor,
    ]))
    .unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(
        set.skipped(),
        &[SkippedKey {
            index: 1,
            kid: Some(Key::Rsa2048.kid().to_owned()),
            reason: SkipReason::DuplicateKid
        }]
    );
    let kept = set.find_kid(Some(Key::Rsa2048.kid())).unwrap();
    assert_eq!(kept.key().modulus(), n_bytes(Key::Rsa2048).as_slice());
    assert_eq!(verify_with(&set, Key::Rsa2048), Ok(()));
    // A token signed by the second key under the shared kid does not verify.
    let token = TestTenant::get().sign(
        Key::Rsa3072,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(tt::NOW),
    );
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    assert_eq!(
        policy.verify(&token, &set, tt::NOW).unwrap_err(),
        Error::BadSignature
    );
}

#[test]
fn at_most_max_keys_are_kept() {
    let numbered = |count: usize| -> Vec<Value> {
        (0..count)
            .map(|i| {
                edited(Key::Rsa2048, |m| {
                    m.insert("kid".into(), json!(format!("k{i}")));
                })
            })
            .collect()
    };
    let full = KeySet::from_jwks(&jwks_doc(numbered(limits::MAX_KEYS))).unwrap();
    assert_eq!(full.len(), limits::MAX_KEYS);
    assert_eq!(full.skipped(), &[]);

    let over = KeySet::from_jwks(&jwks_doc(numbered(limits::MAX_KEYS + 2))).unwrap();
    assert_eq!(over.len(), limits::MAX_KEYS);
    let expected: Vec<SkippedKey> = [100, 101]
        .into_iter()
        .map(|index| SkippedKey {
            index,
            kid: Some(format!("k{index}")),
            reason: SkipReason::TooManyKeys,
        })
        .collect();
    assert_eq!(over.skipped(), expected.as_slice());
    assert!(over.contains_kid("k99"));
    assert!(!over.contains_kid("k100"));
}

/// Skipped keys do not fail the set; each is reported with index, kid and reason.
#[test]
fn skipped_keys_are_reported() {
    let set = KeySet::from_jwks(&jwks_doc(vec![
        json!("not a key"),
        TestTenant::public_jwk(Key::Rsa2048),
        edited(Key::Rsa3072, |m| {
            m.insert("use".into(), json!("enc"));
        }),
        json!({ "kty": "EC", "kid": "ec-key", "crv": "P-256", "x": "AA", "y": "AA" }),
        TestTenant::public_jwk(Key::Rsa4096),
    ]))
    .unwrap();
    let kids: Vec<_> = set.iter().map(|k| k.kid().unwrap()).collect();
    assert_eq!(kids, [Key::Rsa2048.kid(), Key::Rsa4096.kid()]);
    let skip = |index, kid: Option<&str>, reason| SkippedKey {
        index,
        kid: kid.map(str::to_owned),
        reason,
    };
    assert_eq!(
        set.skipped(),
        &[
            skip(0, None, SkipReason::NotAnObject),
            skip(2, Some(Key::Rsa3072.kid()), SkipReason::NotForSignatures),
            skip(3, Some("ec-key"), SkipReason::NotRsa),
        ]
    );
    assert_eq!(verify_with(&set, Key::Rsa4096), Ok(()));
    assert_eq!(verify_with(&set, Key::Rsa3072), Err(Error::UnknownKey));
}

// ---------------------------------------------------------------- whole documents

#[test]
fn a_set_without_a_usable_key_is_an_error() {
    let none_usable = jwks_doc(vec![
        rsa2048_with("use", json!("enc")),
        rsa2048_with("alg", json!("RS512")),
        json!(1),
    ]);
    assert_eq!(
        KeySet::from_jwks(&none_usable).unwrap_err(),
        Error::InvalidKeySet {
            reason: "no usable key"
        }
    );
    assert_eq!(
        KeySet::from_jwks(br#"{"keys":[]}"#).unwrap_err(),
        Error::InvalidKeySet {
            reason: "no usable key"
        }
    );
}

#[test]
fn documents_that_are_not_a_jwks() {
    let not_object = Error::InvalidKeySet {
        reason: "not a json object",
    };
    let no_keys = Error::InvalidKeySet {
        reason: "no keys array",
    };
    let key = TestTenant::public_jwk(Key::Rsa2048);
    let cases: Vec<(&str, Vec<u8>, Error)> = vec![
        ("empty", b"".to_vec(), not_object),
        (
            "not JSON",
            b"<html>502 Bad Gateway</html>".to_vec(),
            not_object,
        ),
        (
            "truncated",
            TestTenant::jwks_json().as_bytes()[..100].to_vec(),
            not_object,
        ),
        (
            "a bare array of keys",
            serde_json::to_vec(&json!([key])).unwrap(),
            not_object,
        ),
        (
            "trailing garbage",
            [TestTenant::jwks_json().as_bytes(), b"x"].concat(),
            not_object,
        ),
        // RFC 7515 §4-style duplicate members are refused in key sets too (CVE-2022-39227).
        (
            "duplicate keys member",
            br#"{"keys":[],"keys":[]}"#.to_vec(),
            not_object,
        ),
        ("no keys member", br#"{"Keys":[]}"#.to_vec(), no_keys),
        (
            "keys is an object",
            serde_json::to_vec(&json!({ "keys": key })).unwrap(),
            no_keys,
        ),
        ("keys is null", br#"{"keys":null}"#.to_vec(), no_keys),
    ];
    for (what, doc, err) in cases {
        assert_eq!(KeySet::from_jwks(&doc).unwrap_err(), err, "{what}");
    }
}

/// SPEC §7's 1 MiB response cap applies to the document itself.
#[test]
fn document_size_cap() {
    let doc = TestTenant::jwks_json().as_bytes();
    let padded = |len: usize| {
        let mut d = doc.to_vec();
        d.resize(len, b' ');
        d
    };
    assert_eq!(
        KeySet::from_jwks(&padded(limits::MAX_DOCUMENT_BYTES))
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        KeySet::from_jwks(&padded(limits::MAX_DOCUMENT_BYTES + 1)).unwrap_err(),
        Error::InvalidKeySet {
            reason: "document too large"
        }
    );
}

// ---------------------------------------------------------------- lookup (SPEC §3)

#[test]
fn kid_lookup_is_exact_and_case_sensitive() {
    let set = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    for key in TENANT_KEYS {
        let found = set.find_kid(Some(key.kid())).unwrap();
        assert_eq!(found.key().modulus(), n_bytes(key).as_slice());
        assert!(set.contains_kid(key.kid()));
    }
    let kid = Key::Rsa2048.kid();
    assert_ne!(kid.to_lowercase(), kid);
    for near in [
        kid.to_lowercase(),
        kid.to_uppercase(),
        kid[..kid.len() - 1].to_owned(),
        format!("{kid} "),
        format!("{kid}="),
        String::new(),
    ] {
        assert!(set.find_kid(Some(&near)).is_none(), "{near:?}");
        assert!(!set.contains_kid(&near));
    }
    assert!(set.find_kid(None).is_none());
    assert!(set.find_kid(Some(Key::Attacker.kid())).is_none());
}

#[test]
fn x5t_lookup() {
    let set = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    for key in TENANT_KEYS {
        assert_eq!(set.find_x5t(key.kid()).unwrap().kid(), Some(key.kid()));
    }
    assert!(set.find_x5t(&Key::Rsa2048.kid().to_lowercase()).is_none());
    // A key published without x5t cannot be found by one.
    let no_x5t = KeySet::from_jwks(&jwks_doc(vec![rsa2048_without(&["x5t"])])).unwrap();
    assert!(no_x5t.find_x5t(Key::Rsa2048.kid()).is_none());
    assert!(no_x5t.find_kid(Some(Key::Rsa2048.kid())).is_some());
    // A token naming its key only by x5t (v1 tokens of 2013-2015) is verified with it.
    let header = json!({ "typ": "JWT", "alg": "RS256", "x5t": Key::Rsa3072.kid() });
    let token = TestTenant::get().sign(Key::Rsa3072, &header, &TestTenant::v1_claims(tt::NOW));
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap();
    assert!(policy.verify(&token, &set, tt::NOW).is_ok());
    assert_eq!(
        policy.verify(&token, &no_x5t, tt::NOW).unwrap_err(),
        Error::UnknownKey
    );
}

// ---------------------------------------------------------------- RsaKey bounds

#[test]
fn rsa_key_from_be_bytes_bounds() {
    let e = [1, 0, 1];
    let ok = |n: &[u8], e: &[u8]| RsaKey::from_be_bytes(n, e).unwrap();
    let err = |n: &[u8], e: &[u8]| RsaKey::from_be_bytes(n, e).unwrap_err();

    let k = ok(&odd_number(2048), &e);
    assert_eq!((k.bits(), k.signature_len()), (2048, 256));
    let k = ok(&odd_number(4096), &e);
    assert_eq!((k.bits(), k.signature_len()), (4096, 512));
    assert_eq!(ok(&odd_number(3000), &e).signature_len(), 375);
    assert_eq!(err(&odd_number(2047), &e), KeyError::TooSmall);
    assert_eq!(err(&odd_number(1024), &e), KeyError::TooSmall);
    assert_eq!(err(&odd_number(4097), &e), KeyError::TooLarge);
    assert_eq!(err(&odd_number(4104), &e), KeyError::TooLarge);

    // Leading zero bytes are ignored, in both directions: 256 bytes whose top
    // byte is zero hold fewer than 2048 bits, however long the slice.
    let padded = [vec![0, 0], odd_number(2048)].concat();
    let k = ok(&padded, &[0, 0, 1, 0, 1]);
    assert_eq!(k.modulus(), odd_number(2048).as_slice());
    assert_eq!(k.exponent(), &e);
    assert_eq!(k.bits(), 2048);
    let mut short = odd_number(2048);
    short[0] = 0;
    assert_eq!(short.len(), 256);
    assert_eq!(err(&short, &e), KeyError::TooSmall);
    let big_with_zeros = [vec![0; 10], odd_number(4097)].concat();
    assert_eq!(err(&big_with_zeros, &e), KeyError::TooLarge);

    let mut even = odd_number(2048);
    *even.last_mut().unwrap() &= 0xfe;
    assert_eq!(err(&even, &e), KeyError::BadModulus);
    assert_eq!(err(&[], &e), KeyError::BadModulus);
    assert_eq!(err(&[0, 0, 0], &e), KeyError::BadModulus);

    let n = odd_number(2048);
    assert_eq!(ok(&n, &[3]).exponent(), &[3]);
    assert_eq!(
        ok(&n, &[1, 0xff, 0xff, 0xff, 0xff]).exponent().len(),
        5,
        "2^33 - 1"
    );
    for bad_e in [
        &[][..],
        &[0],
        &[1],
        &[2],
        &[1, 0, 0],
        &[2, 0, 0, 0, 1],             // 2^33 + 1
        &[2, 0, 0, 0, 0],             // 2^33
        &[1, 0, 0, 0, 0, 0, 0, 0, 1], // nine bytes
    ] {
        assert_eq!(err(&n, bad_e), KeyError::BadExponent, "{bad_e:?}");
    }
    // Equality is by modulus and exponent.
    assert_eq!(ok(&n, &e), ok(&[vec![0], n.clone()].concat(), &e));
    assert_ne!(ok(&n, &e), ok(&n, &[3]));
}

// ---------------------------------------------------------------- discovery (SPEC §4)

#[test]
fn recorded_discovery_documents_parse() {
    // (file, issuer, jwks_uri, is a multi-tenant template)
    let expected: &[(&str, &str, &str, bool)] = &[
        (
            "aad_common_v1_openid-configuration_2024-02-02__identitymodel.json",
            "https://sts.windows.net/{tenantid}/",
            "https://login.microsoftonline.com/common/discovery/keys",
            true,
        ),
        (
            "aad_common_v2_openid-configuration_2024-02-02__identitymodel.json",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            true,
        ),
        (
            "aad_common_v2_openid-configuration__dockyard.json",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            true,
        ),
        (
            "b2c_policy_openid-configuration__msal-dotnet.json",
            "https://sts.windows.net/6babcaad-604b-40ac-a9d7-9fd97c0b779f/",
            "https://login.microsoftonline.com/common/discovery/keys",
            false,
        ),
        (
            "common_openid-configuration__msal-dotnet.json",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/common/discovery/keys",
            true,
        ),
        (
            "entra-common_v2_openid-configuration_2024-10-26__panva-wellknown.json",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            true,
        ),
        (
            "entra-organizations_v2_openid-configuration_2024-10-26__panva-wellknown.json",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/organizations/discovery/v2.0/keys",
            true,
        ),
        (
            "login_chinacloudapi_cn_v2_subset__msal-js-AuthorityMetadata.json",
            "https://login.partner.microsoftonline.cn/{tenantid}/v2.0",
            "https://login.chinacloudapi.cn/{tenantid}/discovery/v2.0/keys",
            true,
        ),
        (
            "login_microsoftonline_com_v2_subset__msal-js-AuthorityMetadata.json",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/{tenantid}/discovery/v2.0/keys",
            true,
        ),
        (
            "login_microsoftonline_us_v2_subset__msal-js-AuthorityMetadata.json",
            "https://login.microsoftonline.us/{tenantid}/v2.0",
            "https://login.microsoftonline.us/{tenantid}/discovery/v2.0/keys",
            true,
        ),
        (
            "tenant_6babcaad_openid-configuration__msal-dotnet.json",
            "https://sts.windows.net/6babcaad-604b-40ac-a9d7-9fd97c0b779f/",
            "https://login.microsoftonline.com/6babcaad-604b-40ac-a9d7-9fd97c0b779f/discovery/keys",
            false,
        ),
    ];
    let listed: Vec<String> = expected.iter().map(|(f, ..)| (*f).to_owned()).collect();
    assert_eq!(fixture_files("azure/openid", ".json"), listed);

    for (file, issuer, jwks_uri, template) in expected {
        let doc =
            OpenIdConfiguration::from_json(&fixture(&format!("azure/openid/{file}"))).unwrap();
        assert_eq!(doc.issuer(), *issuer, "{file}");
        assert_eq!(doc.jwks_uri(), *jwks_uri, "{file}");
        assert_eq!(doc.is_issuer_template(), *template, "{file}");
        let for_tenant = doc.issuer_for_tenant(tt::TENANT_ID);
        if *template {
            assert_eq!(
                for_tenant,
                issuer.replace("{tenantid}", tt::TENANT_ID),
                "{file}"
            );
            assert!(!for_tenant.contains('{'), "{file}");
        } else {
            assert_eq!(for_tenant, *issuer, "{file}");
        }
    }
}

/// The `common`/`organizations` templates give the exact tenant issuers the policy expects.
#[test]
fn templates_give_tenant_issuers() {
    let v2 = OpenIdConfiguration::from_json(&fixture(
        "azure/openid/entra-organizations_v2_openid-configuration_2024-10-26__panva-wellknown.json",
    ))
    .unwrap();
    assert_eq!(v2.issuer(), entra_jwt_core::V2_ISSUER_TEMPLATE);
    assert_eq!(v2.issuer_for_tenant(tt::TENANT_ID), tt::ISSUER_V2);
    let v1 = OpenIdConfiguration::from_json(&fixture(
        "azure/openid/aad_common_v1_openid-configuration_2024-02-02__identitymodel.json",
    ))
    .unwrap();
    assert_eq!(v1.issuer(), entra_jwt_core::V1_ISSUER_TEMPLATE);
    assert_eq!(v1.issuer_for_tenant(tt::TENANT_ID), tt::ISSUER_V1);
}

#[test]
fn test_tenant_discovery_documents() {
    let v2 = OpenIdConfiguration::from_json(TestTenant::openid_v2_json().as_bytes()).unwrap();
    assert_eq!(v2.issuer(), tt::ISSUER_V2);
    assert_eq!(v2.jwks_uri(), tt::JWKS_URI_V2);
    assert!(!v2.is_issuer_template());
    assert_eq!(v2.issuer_for_tenant(tt::OTHER_TENANT_ID), tt::ISSUER_V2);
    assert_eq!(
        v2.token_endpoint(),
        Some(
            format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                tt::TENANT_ID
            )
            .as_str()
        )
    );
    let v1 = OpenIdConfiguration::from_json(TestTenant::openid_v1_json().as_bytes()).unwrap();
    assert_eq!(v1.issuer(), tt::ISSUER_V1);
    assert_eq!(v1.jwks_uri(), tt::JWKS_URI_V1);
    assert!(!v1.is_issuer_template());
    assert_eq!(
        v1.token_endpoint(),
        Some(
            format!(
                "https://login.microsoftonline.com/{}/oauth2/token",
                tt::TENANT_ID
            )
            .as_str()
        )
    );
}

#[test]
fn unusable_discovery_documents() {
    let good: Value = serde_json::from_str(TestTenant::openid_v2_json()).unwrap();
    let edit = |f: &dyn Fn(&mut Map<String, Value>)| {
        let mut doc = good.clone();
        f(doc.as_object_mut().unwrap());
        serde_json::to_vec(&doc).unwrap()
    };
    let bad = |reason| Error::InvalidDiscovery { reason };
    let cases: Vec<(&str, Vec<u8>, Error)> = vec![
        (
            "no issuer",
            edit(&|m| drop(m.remove("issuer"))),
            bad("no issuer"),
        ),
        (
            "empty issuer",
            edit(&|m| drop(m.insert("issuer".into(), json!("")))),
            bad("no issuer"),
        ),
        (
            "null issuer",
            edit(&|m| drop(m.insert("issuer".into(), json!(null)))),
            bad("member of the wrong type"),
        ),
        (
            "numeric issuer",
            edit(&|m| drop(m.insert("issuer".into(), json!(1)))),
            bad("member of the wrong type"),
        ),
        (
            "array issuer",
            edit(&|m| drop(m.insert("issuer".into(), json!([tt::ISSUER_V2])))),
            bad("member of the wrong type"),
        ),
        (
            "no jwks_uri",
            edit(&|m| drop(m.remove("jwks_uri"))),
            bad("no jwks_uri"),
        ),
        (
            "empty jwks_uri",
            edit(&|m| drop(m.insert("jwks_uri".into(), json!("")))),
            bad("no jwks_uri"),
        ),
        (
            "numeric jwks_uri",
            edit(&|m| drop(m.insert("jwks_uri".into(), json!(1)))),
            bad("member of the wrong type"),
        ),
        (
            "two placeholders",
            edit(&|m| {
                drop(m.insert(
                    "issuer".into(),
                    json!("https://login.microsoftonline.com/{tenantid}/{tenantid}/v2.0"),
                ))
            }),
            bad("several {tenantid} in issuer"),
        ),
        (
            "not JSON",
            b"<html>not found</html>".to_vec(),
            bad("not a json object"),
        ),
        ("a JSON array", b"[]".to_vec(), bad("not a json object")),
        ("empty", b"".to_vec(), bad("not a json object")),
        (
            "duplicate issuer",
            format!(
                r#"{{"issuer":"{}","issuer":"https://evil.example/","jwks_uri":"{}"}}"#,
                tt::ISSUER_V2,
                tt::JWKS_URI_V2
            )
            .into_bytes(),
            bad("not a json object"),
        ),
    ];
    for (what, doc, err) in cases {
        assert_eq!(
            OpenIdConfiguration::from_json(&doc).unwrap_err(),
            err,
            "{what}"
        );
    }
    // Minimal document: issuer and jwks_uri are all that is required.
    let minimal = format!(
        r#"{{"issuer":"{}","jwks_uri":"{}"}}"#,
        tt::ISSUER_V2,
        tt::JWKS_URI_V2
    );
    let doc = OpenIdConfiguration::from_json(minimal.as_bytes()).unwrap();
    assert_eq!(
        (doc.issuer(), doc.jwks_uri(), doc.token_endpoint()),
        (tt::ISSUER_V2, tt::JWKS_URI_V2, None)
    );
    // Over the 1 MiB cap.
    let mut big = minimal.into_bytes();
    big.resize(limits::MAX_DOCUMENT_BYTES + 1, b' ');
    assert_eq!(
        OpenIdConfiguration::from_json(&big).unwrap_err(),
        bad("document too large")
    );
}

#[test]
fn discovery_urls() {
    assert_eq!(
        discovery_url(PUBLIC_AUTHORITY, tt::TENANT_ID, TokenVersion::V2),
        format!(
            "https://login.microsoftonline.com/{}/v2.0/.well-known/openid-configuration",
            tt::TENANT_ID
        )
    );
    assert_eq!(
        discovery_url(PUBLIC_AUTHORITY, tt::TENANT_ID, TokenVersion::V1),
        format!(
            "https://login.microsoftonline.com/{}/.well-known/openid-configuration",
            tt::TENANT_ID
        )
    );
    assert_eq!(
        discovery_url(
            "https://login.microsoftonline.us/",
            "organizations",
            TokenVersion::V2
        ),
        "https://login.microsoftonline.us/organizations/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery_url(
            "https://login.microsoftonline.com",
            "common",
            TokenVersion::V1
        ),
        "https://login.microsoftonline.com/common/.well-known/openid-configuration"
    );
}

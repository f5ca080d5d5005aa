//! Targets over the metadata documents: JWKS, `x5c` certificates and OpenID
//! discovery (SPEC §4).

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entra_jwt_core::limits::{MAX_KEYS, MAX_KID_LEN, MAX_RSA_BITS, MAX_RSA_EXPONENT, MIN_RSA_BITS};
use entra_jwt_core::{
    DocumentKind, KeyMaterial, KeySet, KeySource, OpenIdConfiguration, RefreshConfig, RsaKey,
    SkipReason, TENANT_PLACEHOLDER,
};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use serde_json::{Value, json};

use crate::{NOW, b64};

/// Asserts the SPEC §4 facts of one loaded RSA key.
fn assert_usable(key: &RsaKey) {
    assert!(
        (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&key.bits()),
        "key size"
    );
    let n = key.modulus();
    assert!(n.first().is_some_and(|&b| b != 0), "modulus not minimal");
    assert_eq!(n.len(), key.bits().div_ceil(8));
    assert_eq!(key.signature_len(), n.len());
    assert!(n.last().is_some_and(|b| b & 1 == 1), "even modulus");
    let e = key.exponent();
    assert!(e.len() <= 8, "exponent too long");
    let e = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    assert!(
        e % 2 == 1 && (3..=MAX_RSA_EXPONENT).contains(&e),
        "exponent"
    );
}

/// `KeySet::from_jwks`: every loaded key obeys SPEC §4 (size, exponent, kid
/// length, unique kids, at most `MAX_KEYS`); every entry is either loaded or
/// skipped with a reason; `from_jwks` fails exactly when the diagnostics find
/// no usable key; a key source loads exactly what `from_jwks` accepts.
pub fn jwks(data: &[u8]) {
    let strict = KeySet::from_jwks(data);
    let diagnostics = KeySet::from_jwks_for_diagnostics(data);
    match (&strict, &diagnostics) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Ok(b)) => {
            assert!(b.is_empty(), "refused a set with keys");
            assert_eq!(a.code(), "invalid_key_set");
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Ok(_), Err(_)) => panic!("from_jwks accepted what the diagnostics refuse"),
    }
    let Ok(set) = diagnostics else { return };
    assert!(set.len() <= MAX_KEYS);
    let mut kids = HashSet::new();
    for jwk in set.iter() {
        assert_usable(jwk.key());
        if let Some(kid) = jwk.kid() {
            assert!(kid.len() <= MAX_KID_LEN);
            assert!(kids.insert(kid), "duplicate kid loaded");
            assert!(std::ptr::eq(set.find_kid(Some(kid)).unwrap(), jwk));
        }
        assert!(jwk.x5t().is_none_or(|t| t.len() <= MAX_KID_LEN));
    }
    let lenient: Value = serde_json::from_slice(data).expect("a parsed set is JSON");
    let entries = lenient["keys"].as_array().expect("a parsed set has keys");
    assert_eq!(
        set.len() + set.skipped().len(),
        entries.len(),
        "entries lost"
    );
    let mut last = None;
    for skipped in set.skipped() {
        assert!(skipped.index < entries.len());
        assert!(
            last.is_none_or(|l| l < skipped.index),
            "skipped out of order"
        );
        last = Some(skipped.index);
        assert!(skipped.kid.as_ref().is_none_or(|k| k.len() <= MAX_KID_LEN));
        if set.len() < MAX_KEYS {
            assert_ne!(skipped.reason, SkipReason::TooManyKeys);
        }
    }
    let mut source = KeySource::from_jwks_uri(tt::JWKS_URI_V2, RefreshConfig::default());
    let request = source.poll_fetch(NOW, 0).unwrap();
    let loaded = source.handle_fetched(NOW, 0, request.kind, Ok(data));
    assert_eq!(loaded.is_ok(), strict.is_ok());
    assert_eq!(source.keys(NOW).is_ok(), strict.is_ok());
}

/// The `x5c` path: `data` as the DER certificate of a one-key JWKS. A key
/// read from it is usable (SPEC §4), and the same JWK with that key's `n`/`e`
/// beside the certificate loads as `both`; with another key's, as a mismatch.
pub fn x5c(data: &[u8]) {
    let cert = STANDARD.encode(data);
    let doc = |extra: Value| {
        let mut jwk = json!({"kty": "RSA", "use": "sig", "kid": "k", "x5c": [cert]});
        for (k, v) in extra.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap()
    };
    let set = KeySet::from_jwks_for_diagnostics(&doc(json!({}))).expect("a JWKS document");
    let Some(jwk) = set.iter().next() else {
        let reason = set.skipped()[0].reason;
        assert!(
            matches!(
                reason,
                SkipReason::BadCertificate
                    | SkipReason::CertificateNotRsa
                    | SkipReason::KeyTooSmall
                    | SkipReason::KeyTooLarge
                    | SkipReason::BadModulus
                    | SkipReason::BadExponent
            ),
            "{reason:?}"
        );
        return;
    };
    assert_eq!(jwk.material(), KeyMaterial::Certificate);
    assert_usable(jwk.key());
    let key = jwk.key();
    let both = doc(json!({"n": b64(key.modulus()), "e": b64(key.exponent())}));
    let both = KeySet::from_jwks(&both).expect("n/e of the certificate's own key");
    assert_eq!(both.iter().next().unwrap().material(), KeyMaterial::Both);
    assert_eq!(both.iter().next().unwrap().key(), key);
    let other = TestTenant::public_jwk(Key::Attacker);
    let mismatch = doc(json!({"n": other["n"], "e": other["e"]}));
    let mismatch = KeySet::from_jwks_for_diagnostics(&mismatch).unwrap();
    if mismatch.is_empty() {
        assert_eq!(
            mismatch.skipped()[0].reason,
            SkipReason::CertificateMismatch
        );
    } else {
        // Only if the fuzzer produced the attacker's own certificate key.
        assert_eq!(mismatch.iter().next().unwrap().key(), key);
    }
}

/// `OpenIdConfiguration::from_json`: `issuer` and `jwks_uri` are what a
/// lenient parser reads, non-empty, with at most one `{tenantid}`; a key
/// source fed the document asks next for exactly its `jwks_uri`.
pub fn discovery(data: &[u8]) {
    let parsed = OpenIdConfiguration::from_json(data);
    let url =
        "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration";
    let mut source = KeySource::from_discovery_url(url, RefreshConfig::default());
    let request = source.poll_fetch(NOW, 0).unwrap();
    assert_eq!(request.kind, DocumentKind::Discovery);
    let handled = source.handle_fetched(NOW, 0, request.kind, Ok(data));
    let next = source.poll_fetch(NOW, 0);
    let Ok(doc) = parsed else {
        assert!(handled.is_err());
        assert!(
            next.is_none(),
            "a failed discovery asks for nothing at once"
        );
        assert!(source.jwks_uri().is_none());
        return;
    };
    assert!(handled.is_ok());
    let next = next.expect("a good discovery is followed by its JWKS");
    assert_eq!(next.kind, DocumentKind::Jwks);
    assert_eq!(next.url, doc.jwks_uri());

    let lenient: Value = serde_json::from_slice(data).expect("parsed ⇒ JSON");
    assert_eq!(lenient["issuer"].as_str(), Some(doc.issuer()));
    assert_eq!(lenient["jwks_uri"].as_str(), Some(doc.jwks_uri()));
    assert_eq!(
        lenient.get("token_endpoint").and_then(Value::as_str),
        doc.token_endpoint()
    );
    assert!(!doc.issuer().is_empty() && !doc.jwks_uri().is_empty());
    let placeholders = doc.issuer().matches(TENANT_PLACEHOLDER).count();
    assert!(placeholders <= 1);
    assert_eq!(doc.is_issuer_template(), placeholders == 1);
    let for_tenant = doc.issuer_for_tenant(tt::TENANT_ID);
    if placeholders == 0 {
        assert_eq!(for_tenant, doc.issuer());
    } else {
        assert!(!for_tenant.contains(TENANT_PLACEHOLDER));
        assert!(for_tenant.contains(tt::TENANT_ID));
    }
}

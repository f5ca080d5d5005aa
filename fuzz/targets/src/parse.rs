//! Targets over the request path: `Authorization`, token structure, header,
//! claims and the whole verification (SPEC §1-§3, §6).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_jwt_core::limits::{
    DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_BYTES, MAX_HEADER_BYTES, MAX_KID_LEN,
};
use entra_jwt_core::{
    Claims, Error, ErrorClass, Jwk, Policy, RS256, RustCryptoBackend, UntrustedToken,
    VartimeBackend, is_guid, parse_authorization,
};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use serde_json::{Map, Value};

use crate::{
    AcceptEverySignature, NOW, PARSE_CODES, b64, rs256, single_tenant_policy, tenant_keys,
};

/// Claims whose value decides something: never twice, also case-insensitively
/// (the core's list, restated so the oracle does not trust it).
const DECISION_CLAIMS: &[&str] = &[
    "aud", "iss", "exp", "nbf", "iat", "tid", "ver", "scp", "roles", "azp", "appid", "idtyp",
    "oid", "sub",
];

/// The error codes a token with a key and a good signature can still be refused with.
const CLAIM_CODES: &[&str] = &[
    "malformed",
    "bad_claim",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "wrong_audience",
    "wrong_issuer",
    "wrong_tenant",
    "wrong_version",
    "key_issuer_mismatch",
    "client_not_allowed",
    "missing_scope_or_role",
    "insufficient_scope",
];

/// A B2C-style issuer for the explicit-issuer policy: no key of the tenant
/// publishes it, so the key-issuer check must refuse it.
const B2C_ISSUER: &str =
    "https://entrajwttest.b2clogin.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/";

/// The three issuer modes of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `Policy::single_tenant(TENANT_ID, APP_ID)`.
    Single,
    /// `Policy::multi_tenant(APP_ID)` with the tenant and `OTHER_TENANT_ID` allowed.
    Multi,
    /// `Policy::explicit_issuers([ISSUER_V2, B2C_ISSUER], APP_ID)`.
    Explicit,
}

fn policies() -> &'static [(Mode, Policy)] {
    static POLICIES: OnceLock<Vec<(Mode, Policy)>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        vec![
            (Mode::Single, single_tenant_policy().clone()),
            (
                Mode::Multi,
                Policy::multi_tenant(tt::APP_ID)
                    .allow_tenant(tt::TENANT_ID)
                    .allow_tenant(tt::OTHER_TENANT_ID)
                    .build()
                    .unwrap(),
            ),
            (
                Mode::Explicit,
                Policy::explicit_issuers([tt::ISSUER_V2, B2C_ISSUER], tt::APP_ID)
                    .build()
                    .unwrap(),
            ),
        ]
    })
}

fn rsa2048_header_b64() -> &'static str {
    static HEADER: OnceLock<String> = OnceLock::new();
    HEADER.get_or_init(|| b64(&serde_json::to_vec(&TestTenant::header(Key::Rsa2048)).unwrap()))
}

fn valid_claims_b64() -> &'static str {
    static CLAIMS: OnceLock<String> = OnceLock::new();
    CLAIMS.get_or_init(|| b64(&serde_json::to_vec(&TestTenant::v2_claims(NOW)).unwrap()))
}

fn zero_signature_b64() -> &'static str {
    static SIG: OnceLock<String> = OnceLock::new();
    SIG.get_or_init(|| b64(&[0; 256]))
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// `parse_authorization`: a token comes back only for `Bearer` (any case),
/// one space, one token68 within the cap; everything else is refused with
/// the code its shape calls for. The token then goes to [`token`].
pub fn authorization(data: &[u8]) {
    let cap = DEFAULT_MAX_TOKEN_BYTES;
    let scheme_end = data.iter().position(|&b| b == b' ').unwrap_or(data.len());
    let is_bearer = data[..scheme_end].eq_ignore_ascii_case(b"bearer");
    match parse_authorization(Some(data), cap) {
        Ok(t) => {
            assert!(is_bearer, "a token from a non-Bearer scheme");
            assert_eq!(&data[scheme_end + 1..], t.as_bytes(), "not the whole rest");
            assert!(t.len() <= cap);
            let body = t.trim_end_matches('=');
            assert!(
                !body.is_empty() && body.bytes().all(is_token68_char),
                "not a token68"
            );
            token(t.as_bytes());
        }
        Err(Error::NoCredentials) => assert!(!is_bearer, "Bearer refused as no credentials"),
        Err(Error::TooLarge) => assert!(is_bearer && data.len() - scheme_end - 1 > cap),
        Err(Error::Malformed) => assert!(is_bearer),
        Err(other) => panic!("unexpected error {other:?}"),
    }
    assert_eq!(parse_authorization(None, cap), Err(Error::NoCredentials));
}

/// `UntrustedToken::parse`: every parsed token has three non-empty canonical
/// base64url segments, an RS256 header without `crit` or `nonce`, bounded
/// `kid`/`x5t`; a signature that verifies also verifies under the `rsa` crate.
pub fn token(data: &[u8]) {
    let cap = DEFAULT_MAX_TOKEN_BYTES;
    let dots = data.iter().filter(|&&b| b == b'.').count();
    let t = match UntrustedToken::parse(data, cap) {
        Ok(t) => t,
        Err(e) => {
            assert!(PARSE_CODES.contains(&e.code()), "{e:?} at parse time");
            assert_eq!(e == Error::TooLarge, data.len() > cap, "size cap");
            if data.len() <= cap {
                assert_eq!(e == Error::EncryptedToken, dots == 4, "five segments");
                if dots != 2 {
                    assert!(matches!(e, Error::Malformed | Error::EncryptedToken));
                }
            }
            return;
        }
    };
    assert!(data.len() <= cap);
    let segments: Vec<&[u8]> = data.split(|&b| b == b'.').collect();
    assert_eq!(segments.len(), 3);
    assert!(segments[0].len() <= MAX_HEADER_BYTES, "header cap");
    let decode = |segment: &[u8]| {
        let bytes = URL_SAFE_NO_PAD.decode(segment).expect("parsed ⇒ base64url");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&bytes).as_bytes(),
            segment,
            "non-canonical"
        );
        bytes
    };
    let header_json = decode(segments[0]);
    let payload = decode(segments[1]);
    assert_eq!(decode(segments[2]), t.signature());
    assert!(!t.signature().is_empty());

    let lenient: Value = serde_json::from_slice(&header_json).expect("parsed ⇒ JSON");
    let header = lenient.as_object().expect("parsed ⇒ object");
    let h = t.header();
    assert_eq!(h.alg(), RS256);
    assert_eq!(header.get("alg").and_then(Value::as_str), Some(RS256));
    assert!(!header.contains_key("crit") && !header.contains_key("nonce"));
    assert_eq!(h.typ(), header.get("typ").and_then(Value::as_str));
    assert!(h.typ().is_none_or(|t| t.eq_ignore_ascii_case("JWT")));
    assert_eq!(h.kid(), header.get("kid").and_then(Value::as_str));
    assert_eq!(h.x5t(), header.get("x5t").and_then(Value::as_str));
    assert!(h.kid().is_none_or(|k| k.len() <= MAX_KID_LEN));
    assert!(h.x5t().is_none_or(|k| k.len() <= MAX_KID_LEN));
    assert_eq!(h.members(), header, "one parse, one view");

    if let Ok(map) = t.claims_unverified() {
        let lenient: Value = serde_json::from_slice(&payload).expect("strict ⇒ lenient");
        assert_eq!(Value::Object(map), lenient);
    }
    if let Ok(key) = t.find_key(tenant_keys()) {
        match h.kid() {
            Some(kid) => assert_eq!(key.kid(), Some(kid), "kid matched exactly"),
            None => assert_eq!(key.x5t(), h.x5t(), "x5t only without kid"),
        }
        let signing_input = &data[..segments[0].len() + 1 + segments[1].len()];
        let signature = t.signature().to_vec();
        let by_default = t.clone().verify_signature(&VartimeBackend, key).is_ok();
        let by_rust_crypto = t.verify_signature(&RustCryptoBackend, key).is_ok();
        assert_eq!(
            by_default, by_rust_crypto,
            "the core's two backends disagree"
        );
        if by_default {
            assert!(
                rs256::rsa_crate_verifies(key.key(), signing_input, &signature),
                "a signature the rsa crate refuses"
            );
        }
    }
}

/// Header rules (SPEC §3), reached with the tenant's valid claims and a
/// backend that accepts every signature: a header that parses and names a
/// 2048-bit key of the set must lead to acceptance; one that parses and names
/// no key is `unknown_key`; one that does not parse fails as the parser says.
pub fn header(data: &[u8]) {
    let token = format!(
        "{}.{}.{}",
        b64(data),
        valid_claims_b64(),
        zero_signature_b64()
    );
    let result =
        single_tenant_policy().verify_with(&AcceptEverySignature, &token, tenant_keys(), NOW);
    let parsed = match UntrustedToken::parse(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert_eq!(result.map(drop), Err(e), "verify and parse disagree");
            return;
        }
    };
    let lenient: Value = serde_json::from_slice(data).expect("parsed ⇒ JSON");
    let header = lenient.as_object().expect("parsed ⇒ object");
    assert_eq!(header.get("alg").and_then(Value::as_str), Some(RS256));
    assert!(!header.contains_key("crit") && !header.contains_key("nonce"));
    match parsed.find_key(tenant_keys()) {
        Err(e) => assert_eq!(result.map(drop), Err(e)),
        Ok(key) if key.key().signature_len() == 256 => {
            let claims = result.unwrap_or_else(|e| panic!("good header refused: {e:?}"));
            assert_eq!(claims.tid.as_deref(), Some(tt::TENANT_ID));
        }
        Ok(_) => assert_eq!(result.map(drop), Err(Error::BadSignature), "length rule"),
    }
}

/// Claim rules (SPEC §6) under three policies, reached with the tenant's
/// header and a backend that accepts every signature. Every accepted payload
/// is re-read by serde_json's lenient parser and must satisfy the rules by
/// this oracle's own reading; every refusal is a claim-stage code.
pub fn claims(data: &[u8]) {
    let token = format!(
        "{}.{}.{}",
        rsa2048_header_b64(),
        b64(data),
        zero_signature_b64()
    );
    let key = tenant_keys().find_kid(Some(Key::Rsa2048.kid())).unwrap();
    let lenient_object = serde_json::from_slice::<Value>(data)
        .ok()
        .is_some_and(|v| v.is_object());
    let mut outcomes = Vec::new();
    for (mode, policy) in policies() {
        let result = policy.verify_with(&AcceptEverySignature, &token, tenant_keys(), NOW);
        match &result {
            Ok(claims) => assert_acceptable(data, claims, *mode, key, NOW),
            Err(e) if token.len() > DEFAULT_MAX_TOKEN_BYTES => assert_eq!(*e, Error::TooLarge),
            Err(e) => {
                assert!(CLAIM_CODES.contains(&e.code()), "{e:?} for a signed token");
                if !lenient_object {
                    assert_eq!(*e, Error::Malformed, "not an object, yet {e:?}");
                }
                let answer = policy.challenge(e);
                let status = if e.class() == ErrorClass::InsufficientScope {
                    403
                } else {
                    401
                };
                assert_eq!(answer.status, status);
            }
        }
        outcomes.push((*mode, result.is_ok()));
    }
    // The single-tenant rules are a subset of the multi-tenant ones with the
    // tenant allowed: what one accepts, the other must.
    if outcomes.contains(&(Mode::Single, true)) {
        assert!(outcomes.contains(&(Mode::Multi, true)), "single ⊄ multi");
    }
}

/// The whole verification (single-tenant policy, the tenant's jwks.json, at
/// `NOW`, real signature backend): every accepted token's signature verifies
/// under the `rsa` crate and its claims pass the SPEC §6 oracle; refusals are
/// token errors, never a service error.
pub fn verify(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        // `Policy::verify` takes `&str`; non-UTF-8 bytes are [`token`]'s.
        return;
    };
    match single_tenant_policy().verify(token, tenant_keys(), NOW) {
        Ok(claims) => {
            let t =
                UntrustedToken::parse(data, DEFAULT_MAX_TOKEN_BYTES).expect("accepted ⇒ parses");
            let key = t.find_key(tenant_keys()).expect("accepted ⇒ named key");
            let (signing_input, _) = token.rsplit_once('.').unwrap();
            assert!(rs256::rsa_crate_verifies(
                key.key(),
                signing_input.as_bytes(),
                t.signature()
            ));
            let payload_b64 = signing_input.split('.').nth(1).unwrap();
            let payload = URL_SAFE_NO_PAD.decode(payload_b64).unwrap();
            assert_acceptable(&payload, &claims, Mode::Single, key, NOW);
        }
        Err(e) => assert!(
            matches!(
                e.class(),
                ErrorClass::InvalidToken | ErrorClass::InsufficientScope
            ),
            "{e:?} is not a token error"
        ),
    }
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    match obj.get(name) {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => panic!("accepted with {name} = {other}"),
    }
}

fn time_member(obj: &Map<String, Value>, name: &str) -> Option<i64> {
    let value = obj.get(name)?;
    let t = value
        .as_i64()
        .unwrap_or_else(|| panic!("accepted with {name} = {value}"));
    assert!(
        (0..=entra_jwt_core::limits::MAX_TIME_CLAIM).contains(&t),
        "{name} out of range"
    );
    Some(t)
}

/// The SPEC §6 oracle: asserts an accepted payload, re-read leniently,
/// satisfies every rule of `mode`'s policy at `now` with key `key`, and that
/// the typed claims say what the payload says.
fn assert_acceptable(payload: &[u8], claims: &Claims, mode: Mode, key: &Jwk, now: u64) {
    let value: Value = serde_json::from_slice(payload).expect("accepted ⇒ JSON");
    let obj = value.as_object().expect("accepted ⇒ object");
    for name in DECISION_CLAIMS {
        let n = obj.keys().filter(|k| k.eq_ignore_ascii_case(name)).count();
        assert!(n <= 1, "{name} appears {n} times");
    }
    let now = i128::from(now);
    let leeway = i128::from(DEFAULT_LEEWAY_SECS);
    let exp = time_member(obj, "exp").expect("accepted without exp");
    assert!(i128::from(exp) + leeway > now, "expired");
    let nbf = time_member(obj, "nbf");
    if let Some(nbf) = nbf {
        assert!(nbf <= exp && i128::from(nbf) - leeway <= now, "nbf");
    }
    let iat = time_member(obj, "iat");
    assert!(iat.is_none_or(|iat| i128::from(iat) <= now + leeway), "iat");
    assert_eq!((claims.exp, claims.nbf, claims.iat), (exp, nbf, iat));

    let aud: Vec<&str> = match obj.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().expect("aud entry")).collect(),
        other => panic!("accepted with aud {other:?}"),
    };
    let app_uri = format!("api://{}", tt::APP_ID);
    assert!(aud.iter().any(|a| *a == tt::APP_ID || *a == app_uri), "aud");
    assert_eq!(claims.aud, aud);

    let iss = str_member(obj, "iss").expect("accepted without iss");
    let tid = str_member(obj, "tid");
    let ver = str_member(obj, "ver");
    assert_eq!(claims.iss, iss);
    assert_eq!(claims.tid.as_deref(), tid);
    assert_eq!(claims.ver.as_deref(), ver);
    let v1 = |t: &str| format!("https://sts.windows.net/{t}/");
    let v2 = |t: &str| format!("https://login.microsoftonline.com/{t}/v2.0");
    match mode {
        Mode::Single => {
            assert_eq!(tid, Some(tt::TENANT_ID));
            assert!(
                (iss == tt::ISSUER_V2 && ver == Some("2.0"))
                    || (iss == tt::ISSUER_V1 && ver == Some("1.0")),
                "issuer/version"
            );
        }
        Mode::Multi => {
            let tid = tid.expect("multi-tenant without tid");
            assert!(tid == tt::TENANT_ID || tid == tt::OTHER_TENANT_ID, "tenant");
            assert!(
                (iss == v2(tid) && ver == Some("2.0")) || (iss == v1(tid) && ver == Some("1.0")),
                "issuer/version"
            );
        }
        Mode::Explicit => {
            assert!(iss == tt::ISSUER_V2 || iss == B2C_ISSUER, "explicit issuer");
            if let Some(tid) = tid {
                assert!(
                    is_guid(tid) && iss.split('/').any(|s| s == tid),
                    "tid in iss"
                );
            }
        }
    }
    // Key-issuer check: the tenant's keys publish the tenant's v2 issuer.
    let key_issuer = key.issuer().expect("tenant keys carry an issuer");
    assert!(
        iss == key_issuer || (iss == tt::ISSUER_V1 && key_issuer == tt::ISSUER_V2),
        "key issuer"
    );

    let scopes = str_member(obj, "scp").unwrap_or("");
    let roles: Vec<&str> = match obj.get("roles") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().expect("role")).collect(),
        Some(other) => panic!("accepted with roles {other}"),
    };
    assert!(
        scopes.split(' ').any(|s| !s.is_empty()) || !roles.is_empty(),
        "neither scope nor role"
    );
    assert_eq!(claims.roles, roles);
    for name in ["oid", "sub", "azp", "appid", "idtyp"] {
        str_member(obj, name);
    }
    let round_trip: Value = claims.deserialize().expect("claims deserialize");
    assert_eq!(round_trip, value);
}

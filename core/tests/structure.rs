//! SPEC §2 (structure): size cap, segment count, strict base64url, one JSON object per segment, no duplicate members, signature length.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use entra_jwt_core::{Claims, Error, KeySet, Policy, RsaKey, SignatureBackend};
use entra_jwt_test_tenant::{APP_ID, Key, NOW, TENANT_ID, TestTenant};
use serde_json::Value;

const DEFAULT_CAP: usize = 32 * 1024;

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

fn unb64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

fn valid(key: Key) -> String {
    tt().sign(key, &TestTenant::header(key), &TestTenant::v2_claims(NOW))
}

fn split(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    (parts[0].into(), parts[1].into(), parts[2].into())
}

fn header_json() -> Vec<u8> {
    serde_json::to_vec(&TestTenant::header(Key::Rsa2048)).unwrap()
}

fn claims_json() -> Vec<u8> {
    serde_json::to_vec(&TestTenant::v2_claims(NOW)).unwrap()
}

/// The same JSON object with spaces after `{` until its length is not a
/// multiple of 3, so its base64url has a partial last quantum (unused bits).
fn unaligned(json: &[u8]) -> Vec<u8> {
    let mut out = json.to_vec();
    while out.len().is_multiple_of(3) {
        out.insert(1, b' ');
    }
    out
}

/// Appends `member` (`"name":value`) to a JSON object's text.
fn with_member(json: &[u8], member: &str) -> Vec<u8> {
    let mut out = json.to_vec();
    assert_eq!(out.pop(), Some(b'}'));
    out.extend_from_slice(format!(",{member}}}").as_bytes());
    out
}

/// Changes the last base64url character of `segment` so that only its
/// unused low bits differ (a non-canonical encoding of the same bytes).
fn noncanonical(segment: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_ne!(segment.len() % 4, 0, "segment has no unused bits");
    let last = *segment.as_bytes().last().unwrap();
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    let flipped = char::from(ALPHABET[value ^ 1]);
    let out = format!("{}{flipped}", &segment[..segment.len() - 1]);
    // A decoder that ignores trailing bits reads the very same bytes.
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    assert_eq!(lenient.decode(&out).unwrap(), unb64(segment));
    assert_ne!(out, segment);
    out
}

/// A validly signed (Rsa2048) token of exactly `len` bytes, its payload
/// padded with a `pad` claim and its header with spaces.
fn token_of_len(len: usize) -> String {
    let sig_len = b64(&[0u8; 256]).len();
    for spaces in 0..4 {
        let mut header = header_json();
        for _ in 0..spaces {
            header.insert(1, b' ');
        }
        let payload_b64_len = len - sig_len - 2 - b64(&header).len();
        if payload_b64_len % 4 == 1 {
            continue;
        }
        let payload_len = payload_b64_len * 3 / 4;
        let mut claims = TestTenant::v2_claims(NOW);
        claims["pad"] = Value::String(String::new());
        let base = serde_json::to_vec(&claims).unwrap().len();
        claims["pad"] = Value::String("a".repeat(payload_len - base));
        let payload = serde_json::to_vec(&claims).unwrap();
        let token = tt().sign_raw(Key::Rsa2048, &header, &payload);
        assert_eq!(token.len(), len);
        return token;
    }
    unreachable!("some header length gives a usable payload length")
}

// ---- positive cases ----

#[test]
fn valid_token_verifies_with_each_key_size() {
    for key in [Key::Rsa2048, Key::Rsa3072, Key::Rsa4096] {
        let token = valid(key);
        let (_, _, sig) = split(&token);
        assert_eq!(unb64(&sig).len(), key.bits() / 8);
        let claims = verify(&token).unwrap_or_else(|e| panic!("{key:?}: {e}"));
        assert_eq!(claims.tid.as_deref(), Some(TENANT_ID));
    }
}

// ---- SPEC §1/§2: size cap before any decoding ----

#[test]
fn default_cap_accepts_a_token_of_exactly_32_kib() {
    let token = token_of_len(DEFAULT_CAP);
    assert_eq!(policy().max_token_bytes(), DEFAULT_CAP);
    assert!(verify(&token).is_ok());
}

#[test]
fn default_cap_refuses_a_token_one_byte_over_32_kib() {
    let token = token_of_len(DEFAULT_CAP + 1);
    assert_eq!(verify(&token).unwrap_err(), Error::TooLarge);
    // Valid in every other respect: a larger cap accepts it.
    let roomy = Policy::single_tenant(TENANT_ID, APP_ID)
        .max_token_bytes(DEFAULT_CAP + 1)
        .build()
        .unwrap();
    assert!(roomy.verify(&token, keys(), NOW).is_ok());
}

#[test]
fn configured_cap_is_exact() {
    let token = valid(Key::Rsa2048);
    let at = Policy::single_tenant(TENANT_ID, APP_ID)
        .max_token_bytes(token.len())
        .build()
        .unwrap();
    assert!(at.verify(&token, keys(), NOW).is_ok());
    let under = Policy::single_tenant(TENANT_ID, APP_ID)
        .max_token_bytes(token.len() - 1)
        .build()
        .unwrap();
    assert_eq!(
        under.verify(&token, keys(), NOW).unwrap_err(),
        Error::TooLarge
    );
}

#[test]
fn configured_cap_can_be_raised_up_to_250_kib() {
    let token = token_of_len(40 * 1024);
    assert_eq!(verify(&token).unwrap_err(), Error::TooLarge);
    let raised = Policy::single_tenant(TENANT_ID, APP_ID)
        .max_token_bytes(40 * 1024)
        .build()
        .unwrap();
    assert!(raised.verify(&token, keys(), NOW).is_ok());
    // The cap itself is bounded: 0 and over IM's 250 KiB are configuration errors.
    for bad in [0, 250 * 1024 + 1] {
        let built = Policy::single_tenant(TENANT_ID, APP_ID)
            .max_token_bytes(bad)
            .build();
        assert_eq!(built.unwrap_err().code(), "invalid_config", "cap {bad}");
    }
}

#[test]
fn one_megabyte_token_is_too_large() {
    let signed = token_of_len(1024 * 1024);
    assert_eq!(verify(&signed).unwrap_err(), Error::TooLarge);
    let widest = Policy::single_tenant(TENANT_ID, APP_ID)
        .max_token_bytes(250 * 1024)
        .build()
        .unwrap();
    assert_eq!(
        widest.verify(&signed, keys(), NOW).unwrap_err(),
        Error::TooLarge
    );
    // The cap comes before any parsing: garbage and dots are too large, not malformed.
    assert_eq!(verify(&"A".repeat(1 << 20)).unwrap_err(), Error::TooLarge);
    assert_eq!(verify(&".".repeat(1 << 20)).unwrap_err(), Error::TooLarge);
}

// ---- SPEC §2: exactly three segments; five is a JWE ----

#[test]
fn one_two_four_and_six_segments_are_malformed() {
    let (h, p, s) = split(&valid(Key::Rsa2048));
    for token in [
        h.clone(),
        format!("{h}{p}{s}"),
        format!("{h}.{p}"),
        format!("{h}.{p}{s}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}."),
        format!(".{h}.{p}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}.{s}"),
        ".".repeat(DEFAULT_CAP),
        String::new(),
    ] {
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{token:.40}");
    }
}

#[test]
fn five_segments_are_an_encrypted_token() {
    let (h, p, s) = split(&valid(Key::Rsa2048));
    // A JWE shape: protected header, encrypted key (empty for "dir"), iv, ciphertext, tag.
    let jwe_header = b64(br#"{"alg":"dir","enc":"A256GCM","kid":"k"}"#);
    for token in [
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!(
            "{jwe_header}..{}.{}.{}",
            b64(b"iv"),
            b64(b"ct"),
            b64(b"tag")
        ),
        "....".to_string(),
    ] {
        assert_eq!(verify(&token).unwrap_err(), Error::EncryptedToken);
    }
}

#[test]
fn empty_segments_are_malformed() {
    let (h, p, _) = split(&valid(Key::Rsa2048));
    let empty_header = tt().sign_segments(Key::Rsa2048, "", &p);
    let empty_payload = tt().sign_segments(Key::Rsa2048, &h, "");
    let empty_signature = format!("{h}.{p}.");
    for token in [empty_header, empty_payload, empty_signature, "..".into()] {
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{token:.40}");
    }
}

// ---- SPEC §2: strict base64url (GHSA-hxm8-2xgr-2p9m) ----
// Each variant is signed over the exact text, so a lenient decoder would verify it.

#[test]
fn padding_is_refused_in_every_segment() {
    let header = b64(&unaligned(&header_json()));
    let payload = b64(&unaligned(&claims_json()));
    let padding = |s: &str| "=".repeat((4 - s.len() % 4) % 4);
    let control = tt().sign_segments(Key::Rsa2048, &header, &payload);
    assert!(verify(&control).is_ok());

    let padded_header = format!("{header}{}", padding(&header));
    let token = tt().sign_segments(Key::Rsa2048, &padded_header, &payload);
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);

    let padded_payload = format!("{payload}{}", padding(&payload));
    let token = tt().sign_segments(Key::Rsa2048, &header, &padded_payload);
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);

    // A 2048-bit signature is 256 bytes: standard base64 ends it with "==".
    let (_, _, sig) = split(&control);
    assert_eq!(padding(&sig), "==");
    let token = format!("{header}.{payload}.{sig}==");
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
    // A single "=" on an aligned segment is no better.
    let token = format!("{header}.{payload}.{sig}=");
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

#[test]
fn whitespace_is_refused_in_every_segment() {
    let (h, p, s) = split(&valid(Key::Rsa2048));
    let spaced = |seg: &str, ws: &str| format!("{}{ws}{}", &seg[..8], &seg[8..]);
    for ws in [" ", "\n", "\r\n", "\t"] {
        let token = tt().sign_segments(Key::Rsa2048, &spaced(&h, ws), &p);
        assert_eq!(
            verify(&token).unwrap_err(),
            Error::Malformed,
            "header {ws:?}"
        );
        let token = tt().sign_segments(Key::Rsa2048, &h, &spaced(&p, ws));
        assert_eq!(
            verify(&token).unwrap_err(),
            Error::Malformed,
            "payload {ws:?}"
        );
        let token = format!("{h}.{p}.{}", spaced(&s, ws));
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "sig {ws:?}");
        let token = format!("{h}.{p}.{s}{ws}");
        assert_eq!(
            verify(&token).unwrap_err(),
            Error::Malformed,
            "trailing {ws:?}"
        );
        let token = format!("{ws}{h}.{p}.{s}");
        assert_eq!(
            verify(&token).unwrap_err(),
            Error::Malformed,
            "leading {ws:?}"
        );
    }
}

#[test]
fn standard_alphabet_plus_and_slash_are_refused() {
    // "??????" and ">>>>>>" hold an aligned "???" / ">>>" whatever the offset:
    // base64url "Pz8_" / "Pj4-", standard base64 "Pz8/" / "Pj4+".
    let member = r#""x":"??????>>>>>>""#;
    let header = b64(&with_member(&header_json(), member));
    let payload = b64(&with_member(&claims_json(), member));
    let standard = |s: &str| s.replace('-', "+").replace('_', "/");
    for seg in [&header, &payload] {
        assert!(seg.contains('-') && seg.contains('_'), "{seg}");
    }
    let control = tt().sign_segments(Key::Rsa2048, &header, &payload);
    assert!(verify(&control).is_ok());

    let token = tt().sign_segments(Key::Rsa2048, &standard(&header), &payload);
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
    let token = tt().sign_segments(Key::Rsa2048, &header, &standard(&payload));
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);

    let (_, _, sig) = split(&control);
    assert!(sig.contains('-') || sig.contains('_'));
    let token = format!("{header}.{payload}.{}", standard(&sig));
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

#[test]
fn non_canonical_trailing_bits_are_refused_in_header() {
    let header = b64(&unaligned(&header_json()));
    let (_, p, _) = split(&valid(Key::Rsa2048));
    assert!(verify(&tt().sign_segments(Key::Rsa2048, &header, &p)).is_ok());
    let token = tt().sign_segments(Key::Rsa2048, &noncanonical(&header), &p);
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

#[test]
fn non_canonical_trailing_bits_are_refused_in_payload() {
    let (h, _, _) = split(&valid(Key::Rsa2048));
    let payload = b64(&unaligned(&claims_json()));
    assert!(verify(&tt().sign_segments(Key::Rsa2048, &h, &payload)).is_ok());
    let token = tt().sign_segments(Key::Rsa2048, &h, &noncanonical(&payload));
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

#[test]
fn non_canonical_trailing_bits_are_refused_in_signature() {
    // 2048-bit (256 bytes: 4 unused bits) and 4096-bit (512 bytes: 2 unused bits).
    for key in [Key::Rsa2048, Key::Rsa4096] {
        let (h, p, s) = split(&valid(key));
        let token = format!("{h}.{p}.{}", noncanonical(&s));
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{key:?}");
    }
}

// ---- SPEC §2: one JSON object each ----

#[test]
fn header_that_is_not_one_json_object_is_malformed() {
    let header = String::from_utf8(header_json()).unwrap();
    for bad in [
        format!("[{header}]"),
        r#""RS256""#.to_string(),
        "1".to_string(),
        "null".to_string(),
        "true".to_string(),
        format!("{header}x"),
        format!("{header}{{}}"),
        format!("{header} {header}"),
        header[..header.len() - 1].to_string(),
        format!("\u{feff}{header}"),
    ] {
        let token = tt().sign_raw(Key::Rsa2048, bad.as_bytes(), &claims_json());
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{bad}");
    }
    // A raw control character, then invalid UTF-8, inside a string member.
    let token = tt().sign_raw(
        Key::Rsa2048,
        &with_member(&header_json(), "\"x\":\"\u{1}\""),
        &claims_json(),
    );
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
    let mut bytes = with_member(&header_json(), "\"x\":\"ab\"");
    let at = bytes.len() - 3;
    bytes[at] = 0xff;
    let token = tt().sign_raw(Key::Rsa2048, &bytes, &claims_json());
    assert_eq!(verify(&token).unwrap_err(), Error::Malformed);
}

#[test]
fn payload_that_is_not_one_json_object_is_malformed() {
    let claims = String::from_utf8(claims_json()).unwrap();
    for bad in [
        format!("[{claims}]"),
        r#""claims""#.to_string(),
        "1800000000".to_string(),
        "null".to_string(),
        format!("{claims}x"),
        format!("{claims}{{}}"),
        format!("{claims} {claims}"),
        format!("{claims},"),
        claims[..claims.len() - 1].to_string(),
    ] {
        let token = tt().sign_raw(Key::Rsa2048, &header_json(), bad.as_bytes());
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{bad:.40}");
    }
    // Trailing JSON whitespace is not garbage.
    let token = tt().sign_raw(
        Key::Rsa2048,
        &header_json(),
        format!("{claims} \n").as_bytes(),
    );
    assert!(verify(&token).is_ok());
}

// ---- SPEC §2: duplicate members (CVE-2022-39227, RFC 7515 §4) ----
// In each case the last duplicate is the valid one, so a last-wins parser would accept.

#[test]
fn duplicate_header_members_are_malformed() {
    let kid = Key::Rsa2048.kid();
    for header in [
        format!(r#"{{"alg":"none","alg":"RS256","kid":"{kid}","typ":"JWT"}}"#),
        format!(r#"{{"alg":"RS256","alg":"RS256","kid":"{kid}","typ":"JWT"}}"#),
        format!(r#"{{"alg":"RS256","kid":"other","kid":"{kid}","typ":"JWT"}}"#),
        format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT","typ":"JWT"}}"#),
        format!(r#"{{"alg":"RS256","\u0061lg":"RS256","kid":"{kid}","typ":"JWT"}}"#),
        format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT","x":{{"a":1,"a":2}}}}"#),
        format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT","x":[{{"a":1,"a":1}}]}}"#),
    ] {
        let token = tt().sign_raw(Key::Rsa2048, header.as_bytes(), &claims_json());
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{header}");
    }
}

#[test]
fn duplicate_payload_members_are_malformed() {
    let mut claims = TestTenant::v2_claims(NOW);
    let map = claims.as_object_mut().unwrap();
    map.remove("exp");
    map.remove("aud");
    let base = serde_json::to_vec(&claims).unwrap();
    let good_exp = NOW + 3600;
    let old_exp = NOW - 3600;
    let aud = format!(r#""aud":"{APP_ID}""#);
    let exp = format!(r#""exp":{good_exp}"#);
    let control = tt().sign_raw(
        Key::Rsa2048,
        &header_json(),
        &with_member(&base, &format!("{aud},{exp}")),
    );
    assert!(verify(&control).is_ok());
    for members in [
        format!(r#"{aud},"exp":{old_exp},{exp}"#),
        format!(r#"{aud},{exp},{exp}"#),
        format!(r#""aud":"someone-else",{aud},{exp}"#),
        format!(r#"{aud},{aud},{exp}"#),
        format!(r#"{aud},"\u0065xp":{old_exp},{exp}"#),
        format!(r#"{aud},{exp},"ext":{{"a":1,"a":2}}"#),
        format!(r#"{aud},{exp},"ext":[1,{{"b":{{"c":1,"c":1}}}}]"#),
    ] {
        let token = tt().sign_raw(Key::Rsa2048, &header_json(), &with_member(&base, &members));
        assert_eq!(verify(&token).unwrap_err(), Error::Malformed, "{members}");
    }
}

// ---- SPEC §2: the signature is exactly the modulus length; SPEC §5 ----

#[test]
fn signature_one_byte_short_or_long_is_bad_signature() {
    let (h, p, s) = split(&valid(Key::Rsa2048));
    let sig = unb64(&s);
    let short = b64(&sig[..sig.len() - 1]);
    let mut long = sig.clone();
    long.push(0);
    // A leading zero byte keeps the integer value: a verifier that converts
    // the signature to a number first would accept it.
    let mut leading_zero = vec![0u8];
    leading_zero.extend_from_slice(&sig);
    for bad in [short, b64(&long), b64(&leading_zero)] {
        let token = format!("{h}.{p}.{bad}");
        assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
    }
}

/// A backend that accepts every signature, to show which checks the core
/// makes itself before handing the signature over.
struct AcceptAll;

impl SignatureBackend for AcceptAll {
    fn verify_rs256(&self, _key: &RsaKey, _message: &[u8], _signature: &[u8]) -> bool {
        true
    }
}

#[test]
fn signature_length_is_checked_before_the_backend() {
    let (h, p, _) = split(&valid(Key::Rsa2048));
    let policy = policy();
    // Right length (256 bytes for the 2048 kid): the backend decides.
    let token = format!("{h}.{p}.{}", b64(&[0x42; 256]));
    assert!(policy.verify_with(&AcceptAll, &token, keys(), NOW).is_ok());
    // Any other length never reaches it.
    for len in [1, 32, 255, 257, 384, 512] {
        let token = format!("{h}.{p}.{}", b64(&vec![0x42; len]));
        assert_eq!(
            policy
                .verify_with(&AcceptAll, &token, keys(), NOW)
                .unwrap_err(),
            Error::BadSignature,
            "{len}"
        );
    }
}

#[test]
fn signature_of_another_key_is_bad_signature() {
    let header = TestTenant::header(Key::Rsa2048);
    let claims = TestTenant::v2_claims(NOW);
    // 3072-bit signature (384 bytes) on the 2048 kid, and the reverse.
    let token = tt().sign(Key::Rsa3072, &header, &claims);
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
    let token = tt().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa3072), &claims);
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
    // Right length (256 bytes), wrong 2048-bit key.
    for other in [Key::Rsa2048Next, Key::Attacker] {
        let token = tt().sign(other, &header, &claims);
        assert_eq!(
            verify(&token).unwrap_err(),
            Error::BadSignature,
            "{other:?}"
        );
    }
}

#[test]
fn right_length_garbage_signature_is_bad_signature() {
    let (h, p, _) = split(&valid(Key::Rsa2048));
    // All zeros, and all ones (numerically above the modulus).
    for byte in [0x00, 0xff, 0x01] {
        let token = format!("{h}.{p}.{}", b64(&[byte; 256]));
        assert_eq!(
            verify(&token).unwrap_err(),
            Error::BadSignature,
            "{byte:#x}"
        );
    }
}

#[test]
fn tampered_signature_byte_is_bad_signature() {
    let (h, p, s) = split(&valid(Key::Rsa2048));
    for index in [0, 100, 255] {
        let mut sig = unb64(&s);
        sig[index] ^= 0x01;
        let token = format!("{h}.{p}.{}", b64(&sig));
        assert_eq!(verify(&token).unwrap_err(), Error::BadSignature, "{index}");
    }
}

#[test]
fn tampered_payload_is_bad_signature() {
    let (h, p, s) = split(&valid(Key::Rsa2048));
    // A meaningful change: a later expiry.
    let mut claims = TestTenant::v2_claims(NOW);
    claims["exp"] = Value::from(NOW + 365 * 86_400);
    let token = format!("{h}.{}.{s}", b64(&serde_json::to_vec(&claims).unwrap()));
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
    // One byte flipped in the middle of the encoded payload.
    let mut bytes = unb64(&p);
    bytes[40] ^= 0x20;
    let token = format!("{h}.{}.{s}", b64(&bytes));
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
}

#[test]
fn tampered_header_is_bad_signature() {
    let (_, p, s) = split(&valid(Key::Rsa2048));
    // Still an acceptable header (typ is compared case-insensitively), but not the signed bytes.
    let mut header = TestTenant::header(Key::Rsa2048);
    header["typ"] = Value::from("jwt");
    let token = format!("{}.{p}.{s}", b64(&serde_json::to_vec(&header).unwrap()));
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
    // Same members, one extra space.
    let mut spaced = header_json();
    spaced.insert(1, b' ');
    let token = format!("{}.{p}.{s}", b64(&spaced));
    assert_eq!(verify(&token).unwrap_err(), Error::BadSignature);
}

// ---- header cap (fuzz finding cost-4) ----

/// A validly signed token whose header segment is exactly `len` bytes long
/// (the header is padded with spaces, which JSON ignores).
fn token_with_header_len(len: usize) -> String {
    let mut header = header_json();
    while b64(&header).len() < len {
        header.insert(1, b' ');
    }
    assert_eq!(b64(&header).len(), len, "reachable length");
    tt().sign_raw(Key::Rsa2048, &header, &claims_json())
}

#[test]
fn header_of_exactly_the_cap_verifies() {
    use entra_jwt_core::limits::MAX_HEADER_BYTES;
    let token = token_with_header_len(MAX_HEADER_BYTES);
    assert!(verify(&token).is_ok());
}

#[test]
fn header_one_byte_over_the_cap_is_malformed_before_the_signature() {
    use entra_jwt_core::limits::MAX_HEADER_BYTES;
    // 4 KiB + 1 is not a length base64 produces; +2 is (and so is +3).
    let token = token_with_header_len(MAX_HEADER_BYTES + 2);
    // Even a backend that accepts every signature never gets to see it.
    assert_eq!(
        policy()
            .verify_with(&AcceptAll, &token, keys(), NOW)
            .unwrap_err(),
        Error::Malformed
    );
    let under = token_with_header_len(MAX_HEADER_BYTES - 2);
    assert!(
        policy()
            .verify_with(&AcceptAll, &under, keys(), NOW)
            .is_ok()
    );
}

#[test]
fn an_oversized_first_segment_of_five_is_still_an_encrypted_token() {
    let big = "a".repeat(8 * 1024);
    assert_eq!(
        verify(&format!("{big}.b.c.d.e")).unwrap_err(),
        Error::EncryptedToken
    );
}

#[test]
fn dots_on_every_side_of_a_64_byte_boundary_split_the_same() {
    // The segment scan tests 64-byte chunks at a time: a dot as the last
    // byte of one chunk or the first of the next must be found all the same.
    for header_len in [62usize, 63, 64, 65, 127, 128, 129] {
        let mut header = header_json();
        while b64(&header).len() < header_len {
            header.insert(1, b' ');
        }
        if b64(&header).len() != header_len {
            continue; // not a length base64 produces
        }
        let token = tt().sign_raw(Key::Rsa2048, &header, &claims_json());
        assert!(verify(&token).is_ok(), "header of {header_len} bytes");
        let (h, p, s) = split(&token);
        assert_eq!(
            verify(&format!("{h}.{p}.{s}.x")).unwrap_err(),
            Error::Malformed,
            "four segments, header of {header_len} bytes"
        );
        assert_eq!(
            verify(&format!("{h}.{p}.{s}.x.y")).unwrap_err(),
            Error::EncryptedToken,
            "five segments, header of {header_len} bytes"
        );
    }
}

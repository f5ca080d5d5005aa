//! SPEC §1 and §8 (RFC 6750): reading `Authorization: Bearer`, the HTTP challenge for every error, error codes and texts that never leak the token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashSet;

use entra_jwt_core::{
    ALL_CODES, Challenge, Error, INVALID_TOKEN_DESCRIPTION, KeySet, Match, Policy, challenge,
    parse_authorization,
};
use entra_jwt_test_tenant::{APP_ID, Key, NOW, TENANT_ID, TestTenant};
use serde_json::json;

const MAX: usize = 32 * 1024;

fn parse(value: &[u8]) -> Result<&str, Error> {
    parse_authorization(Some(value), MAX)
}

/// One value of every variant, in declaration order (`Error` is `#[non_exhaustive]`,
/// so this list is checked against `ALL_CODES` below).
fn every_error() -> Vec<Error> {
    vec![
        Error::NoCredentials,
        Error::InvalidRequest,
        Error::TooLarge,
        Error::Malformed,
        Error::EncryptedToken,
        Error::UnsupportedAlg,
        Error::CritHeader,
        Error::FirstPartyToken,
        Error::UnknownKey,
        Error::BadSignature,
        Error::Expired,
        Error::NotYetValid,
        Error::IssuedInFuture,
        Error::BadClaim { claim: "exp" },
        Error::WrongAudience,
        Error::WrongIssuer,
        Error::WrongTenant,
        Error::WrongVersion,
        Error::KeyIssuerMismatch,
        Error::ClientNotAllowed,
        Error::MissingScopeOrRole,
        Error::InsufficientScope,
        Error::KeysUnavailable,
        Error::InvalidKeySet {
            reason: "no usable key",
        },
        Error::InvalidDiscovery {
            reason: "no jwks_uri",
        },
        Error::InvalidConfig {
            reason: "leeway over 600 seconds",
        },
    ]
}

/// The codes whose answer is 401 `invalid_token` (SPEC §8).
const INVALID_TOKEN_CODES: &[&str] = &[
    "too_large",
    "malformed",
    "encrypted_token",
    "unsupported_alg",
    "crit_header",
    "first_party_token",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "bad_claim",
    "wrong_audience",
    "wrong_issuer",
    "wrong_tenant",
    "wrong_version",
    "key_issuer_mismatch",
    "client_not_allowed",
    "missing_scope_or_role",
];

fn invalid_token_header() -> String {
    format!(r#"Bearer error="invalid_token", error_description="{INVALID_TOKEN_DESCRIPTION}""#)
}

// ---- parse_authorization (SPEC §1, RFC 6750 §2.1, RFC 7235 §2.1) ----

#[test]
fn bearer_scheme_is_case_insensitive() {
    for value in [
        "Bearer abc.def.ghi",
        "bearer abc.def.ghi",
        "BEARER abc.def.ghi",
        "bEaReR abc.def.ghi",
    ] {
        assert_eq!(parse(value.as_bytes()), Ok("abc.def.ghi"), "{value}");
    }
}

#[test]
fn a_real_token_comes_through_unchanged() {
    let token = TestTenant::get().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(NOW),
    );
    let value = format!("Bearer {token}");
    assert_eq!(parse(value.as_bytes()), Ok(token.as_str()));
}

#[test]
fn no_header_empty_header_or_other_scheme_is_no_credentials() {
    assert_eq!(parse_authorization(None, MAX), Err(Error::NoCredentials));
    for value in [
        &b""[..],
        b"Basic dXNlcjpwYXNz",
        b"Digest username=\"u\"",
        b"Negotiate YIIB",
        b"Token abc",
        b"Bearerabc.def.ghi",
        b"Bearer-abc",
        b"MAC id=\"x\"",
        b" Bearer abc",
    ] {
        assert_eq!(
            parse(value),
            Err(Error::NoCredentials),
            "{}",
            String::from_utf8_lossy(value)
        );
    }
    // A tab is no separator: "Bearer\tabc" is one (invalid) scheme name, not Bearer.
    assert_eq!(parse(b"Bearer\tabc"), Err(Error::NoCredentials));
}

#[test]
fn bearer_without_a_token_is_malformed() {
    assert_eq!(parse(b"Bearer"), Err(Error::Malformed));
    assert_eq!(parse(b"bearer"), Err(Error::Malformed));
    assert_eq!(parse(b"Bearer "), Err(Error::Malformed));
}

#[test]
fn bearer_needs_exactly_one_space_and_one_token68() {
    for value in [
        "Bearer  abc",
        "Bearer abc ",
        "Bearer abc def",
        "Bearer abc\t",
        "Bearer \tabc",
        "Bearer abc\r\n",
        "Bearer abc,def",
        "Bearer abc;def",
        "Bearer \"abc\"",
        "Bearer abc!",
        "Bearer a:b",
        "Bearer a@b",
        "Bearer a%2Eb",
        "Bearer abcé",
    ] {
        assert_eq!(parse(value.as_bytes()), Err(Error::Malformed), "{value:?}");
    }
}

#[test]
fn token68_alphabet_is_accepted() {
    // ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then *"=".
    let all = "AZaz09-._~+/";
    let value = format!("Bearer {all}");
    assert_eq!(parse(value.as_bytes()), Ok(all));
}

#[test]
fn trailing_padding_is_allowed_but_not_in_the_middle() {
    assert_eq!(parse(b"Bearer abc="), Ok("abc="));
    assert_eq!(parse(b"Bearer abc=="), Ok("abc=="));
    for value in [
        "Bearer ab=c",
        "Bearer a=b=",
        "Bearer =",
        "Bearer ==",
        "Bearer =abc",
    ] {
        assert_eq!(parse(value.as_bytes()), Err(Error::Malformed), "{value}");
    }
}

#[test]
fn token_over_the_cap_is_too_large() {
    assert_eq!(
        parse_authorization(Some(b"Bearer 0123456789"), 10),
        Ok("0123456789")
    );
    assert_eq!(
        parse_authorization(Some(b"Bearer 0123456789a"), 10),
        Err(Error::TooLarge)
    );
    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    assert_eq!(parse(huge.as_bytes()), Err(Error::TooLarge));
}

#[test]
fn non_utf8_bytes_are_refused() {
    assert_eq!(parse(b"Bearer abc\xff"), Err(Error::Malformed));
    assert_eq!(parse(b"Bearer \xc3\xa9"), Err(Error::Malformed));
    assert_eq!(parse(b"Bearer \x00abc"), Err(Error::Malformed));
    // A scheme that is not UTF-8 is not Bearer.
    assert_eq!(parse(b"B\xffarer abc"), Err(Error::NoCredentials));
}

// ---- challenge (SPEC §8, RFC 6750 §3) ----

#[test]
fn no_credentials_is_401_with_a_bare_challenge() {
    assert_eq!(
        challenge(&Error::NoCredentials, None),
        Challenge {
            status: 401,
            www_authenticate: Some("Bearer".into()),
        }
    );
    // The scope is not added to a bare challenge.
    assert_eq!(
        challenge(&Error::NoCredentials, Some("Data.Read"))
            .www_authenticate
            .as_deref(),
        Some("Bearer")
    );
}

#[test]
fn invalid_request_is_400() {
    assert_eq!(
        challenge(&Error::InvalidRequest, None),
        Challenge {
            status: 400,
            www_authenticate: Some(r#"Bearer error="invalid_request""#.into()),
        }
    );
}

#[test]
fn every_invalid_token_code_is_401_with_a_generic_description() {
    let mut seen = 0;
    for error in every_error() {
        if !INVALID_TOKEN_CODES.contains(&error.code()) {
            continue;
        }
        seen += 1;
        for scope in [None, Some("Data.Read")] {
            assert_eq!(
                challenge(&error, scope),
                Challenge {
                    status: 401,
                    www_authenticate: Some(invalid_token_header()),
                },
                "{error:?}"
            );
        }
    }
    assert_eq!(seen, INVALID_TOKEN_CODES.len());
    assert_eq!(
        invalid_token_header(),
        r#"Bearer error="invalid_token", error_description="the access token is invalid""#
    );
}

#[test]
fn bad_claim_challenge_does_not_name_the_claim() {
    for claim in ["exp", "tid", "aud"] {
        let c = challenge(&Error::BadClaim { claim }, None);
        assert_eq!(c.www_authenticate, Some(invalid_token_header()));
    }
}

#[test]
fn insufficient_scope_is_403_with_the_scope() {
    assert_eq!(
        challenge(&Error::InsufficientScope, Some("Data.Read Data.Write")),
        Challenge {
            status: 403,
            www_authenticate: Some(
                r#"Bearer error="insufficient_scope", scope="Data.Read Data.Write""#.into()
            ),
        }
    );
    assert_eq!(
        challenge(&Error::InsufficientScope, None),
        Challenge {
            status: 403,
            www_authenticate: Some(r#"Bearer error="insufficient_scope""#.into()),
        }
    );
}

#[test]
fn keys_unavailable_is_503_without_a_challenge() {
    assert_eq!(
        challenge(&Error::KeysUnavailable, Some("Data.Read")),
        Challenge {
            status: 503,
            www_authenticate: None,
        }
    );
}

#[test]
fn configuration_and_key_set_errors_are_500_without_a_challenge() {
    for error in [
        Error::InvalidKeySet {
            reason: "no usable key",
        },
        Error::InvalidDiscovery {
            reason: "no jwks_uri",
        },
        Error::InvalidConfig {
            reason: "leeway over 600 seconds",
        },
    ] {
        assert_eq!(
            challenge(&error, None),
            Challenge {
                status: 500,
                www_authenticate: None,
            },
            "{error:?}"
        );
    }
}

#[test]
fn policy_challenge_names_the_required_scopes_and_roles() {
    let policy = Policy::single_tenant(TENANT_ID, APP_ID)
        .require_scopes(Match::All, ["Data.Read", "Data.Write"])
        .require_roles(Match::Any, ["Data.Admin"])
        .build()
        .unwrap();
    assert_eq!(
        policy.challenge(&Error::InsufficientScope),
        Challenge {
            status: 403,
            www_authenticate: Some(
                r#"Bearer error="insufficient_scope", scope="Data.Read Data.Write Data.Admin""#
                    .into()
            ),
        }
    );
    // Other errors are answered as by `challenge`.
    assert_eq!(
        policy.challenge(&Error::Expired),
        challenge(&Error::Expired, None)
    );
    assert_eq!(
        policy.challenge(&Error::NoCredentials),
        challenge(&Error::NoCredentials, None)
    );
    // No requirement configured: no scope attribute.
    let plain = Policy::single_tenant(TENANT_ID, APP_ID).build().unwrap();
    assert_eq!(
        plain.challenge(&Error::InsufficientScope).www_authenticate,
        Some(r#"Bearer error="insufficient_scope""#.into())
    );
}

#[test]
fn policy_challenge_for_a_real_insufficient_scope() {
    // A valid v2 token with scp "Data.Read User.Read", under a policy requiring Data.Write.
    let policy = Policy::single_tenant(TENANT_ID, APP_ID)
        .require_scopes(Match::Any, ["Data.Write"])
        .build()
        .unwrap();
    let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    let token = TestTenant::get().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(NOW),
    );
    let error = policy.verify(&token, &keys, NOW).unwrap_err();
    assert_eq!(error, Error::InsufficientScope);
    assert_eq!(
        policy.challenge(&error),
        Challenge {
            status: 403,
            www_authenticate: Some(
                r#"Bearer error="insufficient_scope", scope="Data.Write""#.into()
            ),
        }
    );
}

// ---- codes and texts (SPEC §8) ----

#[test]
fn codes_equal_all_codes_and_are_unique() {
    let codes: Vec<&str> = every_error().iter().map(Error::code).collect();
    assert_eq!(codes, ALL_CODES);
    let unique: HashSet<&str> = ALL_CODES.iter().copied().collect();
    assert_eq!(unique.len(), ALL_CODES.len());
    for code in ALL_CODES {
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
    // The SPEC's minimum set is all there.
    for required in [
        "no_credentials",
        "malformed",
        "too_large",
        "encrypted_token",
        "unsupported_alg",
        "crit_header",
        "first_party_token",
        "unknown_key",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "bad_claim",
        "wrong_audience",
        "wrong_issuer",
        "wrong_tenant",
        "wrong_version",
        "key_issuer_mismatch",
        "missing_scope_or_role",
        "insufficient_scope",
        "keys_unavailable",
    ] {
        assert!(ALL_CODES.contains(&required), "{required}");
    }
}

#[test]
fn display_is_lowercase_and_short() {
    for error in every_error() {
        let text = error.to_string();
        assert!(!text.is_empty(), "{error:?}");
        assert_eq!(text, text.to_lowercase(), "{error:?}");
        assert!(text.len() < 60, "{error:?}: {text}");
    }
}

#[test]
fn bad_claim_display_names_the_claim() {
    for claim in [
        "exp", "nbf", "iat", "aud", "iss", "tid", "ver", "scp", "roles",
    ] {
        let error = Error::BadClaim { claim };
        assert_eq!(error.to_string(), format!("bad claim: {claim}"));
        assert_eq!(error.claim(), Some(claim));
    }
    assert_eq!(Error::Expired.claim(), None);
}

#[test]
fn real_configuration_errors_are_lowercase_fixed_phrases() {
    // Each reason is a fixed phrase: the offending input is not echoed.
    let secret_looking = "Not-A-Guid-But-Secret-Looking";
    for built in [
        Policy::single_tenant(secret_looking, APP_ID).build(),
        Policy::single_tenant(TENANT_ID, secret_looking).build(),
        Policy::single_tenant(TENANT_ID, APP_ID).leeway(601).build(),
        Policy::single_tenant(TENANT_ID, APP_ID)
            .require_scopes(Match::Any, ["bad\"scope"])
            .build(),
        Policy::multi_tenant(APP_ID)
            .issuer_templates([secret_looking])
            .build(),
    ] {
        let error = built.unwrap_err();
        assert_eq!(error.code(), "invalid_config");
        let text = error.to_string();
        assert_eq!(text, text.to_lowercase(), "{text}");
        assert!(text.len() < 60, "{text}");
        assert!(
            !text.contains(secret_looking) && !text.contains("bad\""),
            "{text}"
        );
        assert!(!format!("{error:?}").contains(secret_looking));
    }
}

/// Every 8-byte window of `token`, to look for in an error's text.
fn windows(token: &str) -> Vec<&str> {
    (0..=token.len().saturating_sub(8))
        .map(|i| &token[i..i + 8])
        .collect()
}

#[test]
fn errors_never_contain_any_part_of_the_token() {
    let tt = TestTenant::get();
    let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    let policy = Policy::single_tenant(TENANT_ID, APP_ID)
        .require_scopes(Match::Any, ["Data.Write"])
        .build()
        .unwrap();
    let header = TestTenant::header(Key::Rsa2048);
    let with = |name: &str, value: serde_json::Value| {
        let mut claims = TestTenant::v2_claims(NOW);
        claims[name] = value;
        tt.sign(Key::Rsa2048, &header, &claims)
    };
    let valid = tt.sign(Key::Rsa2048, &header, &TestTenant::v2_claims(NOW));
    let (input, _) = valid.rsplit_once('.').unwrap();
    let tokens = [
        format!("{input}.{}", "A".repeat(342)),
        tt.sign(Key::Attacker, &header, &TestTenant::v2_claims(NOW)),
        with("exp", json!(NOW - 3600)),
        with("exp", json!("secret-exp-value")),
        with("aud", json!("aud-secret-value")),
        with("iss", json!("https://issuer.secret.example/")),
        with("tid", json!("tid-secret-value")),
        valid.clone(),
        format!("{valid}.x.y"),
        format!("{input}.!!!!"),
        format!("Bearer {valid}"),
    ];
    for token in &tokens {
        let error = policy.verify(token, &keys, NOW).unwrap_err();
        let texts = [
            error.to_string(),
            format!("{error:?}"),
            format!("{:?}", policy.challenge(&error)),
        ];
        for text in &texts {
            for segment in token.split('.').filter(|s| s.len() >= 8) {
                assert!(!text.contains(segment), "{text} contains a segment");
            }
            // (The "Bearer " prefix of the last case is no token content.)
            for window in windows(token.trim_start_matches("Bearer ")) {
                assert!(!text.contains(window), "{text} contains {window:?}");
            }
            for value in ["secret", "https://", TENANT_ID] {
                assert!(!text.contains(value), "{text} contains {value:?}");
            }
        }
    }
}

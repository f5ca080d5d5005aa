//! Real Entra-signed tokens (fixtures/azure/tokens, see SOURCE.md there) through `Policy::verify`:
//! each verifies against the JWKS recorded beside it at a fixed time inside its window, expires
//! exactly at `exp + leeway` (SPEC §6), fails with one signature byte flipped (SPEC §5), is refused
//! as an access token when it is an ID token (SPEC §6), and Graph tokens are first-party (SPEC §3).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_jwt_core::{Claims, Error, KeySet, Policy, PolicyBuilder, UntrustedToken};
use serde_json::{Value, json};

/// Microsoft's own tenant (T01, T20).
const MSFT_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The application id of Azure AD Graph, whose App ID URI `https://graph.windows.net` is T01's `aud`.
const AAD_GRAPH_APP_ID: &str = "00000002-0000-0000-c000-000000000000";
/// The application id of Microsoft Graph, the `aud` of G01/G02.
const MS_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The default leeway (IM's 5 minutes).
const LEEWAY: u64 = 300;

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!("{}/../fixtures/azure/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn token(stem: &str) -> String {
    String::from_utf8(fixture(&format!("tokens/{stem}.jwt")))
        .unwrap()
        .trim_end()
        .to_owned()
}

fn keys(stem: &str) -> KeySet {
    KeySet::from_jwks(&fixture(&format!("tokens/{stem}.jwks.json"))).unwrap()
}

/// The payload, decoded by hand without verification, to find the token's window
/// (by hand because `UntrustedToken::parse` refuses the Graph tokens' header).
fn payload(token: &str) -> serde_json::Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn time(token: &str, claim: &str) -> u64 {
    payload(token)[claim].as_u64().unwrap()
}

/// One recorded token and the policy that fits it.
struct Recorded {
    stem: &'static str,
    /// The policy it passes, including any loosening it needs (explained at each).
    policy: PolicyBuilder,
    /// An ID token, or an access token without `scp`/`roles`: refused by default.
    no_scope_or_role: bool,
}

fn recorded() -> Vec<Recorded> {
    vec![
        // v1 access token of 2014: names its key by x5t only (no kid); aud is the
        // App ID URI of Azure AD Graph, so that audience is added; it carries scp.
        Recorded {
            stem: "T01_identitymodel_v1_kriMP_msft",
            policy: Policy::single_tenant(MSFT_TENANT, AAD_GRAPH_APP_ID)
                .audience("https://graph.windows.net"),
            no_scope_or_role: false,
        },
        // v2 ID token of 2016 whose issuer ends in "/v2.0/", an older v2 form the
        // single-tenant mode does not accept: it is configured as an explicit issuer.
        // ID tokens carry no scp/roles (they are not access tokens), so this test
        // opts out of that rule to check everything else about a real token.
        Recorded {
            stem: "T08_adalnet_core_v2_MnC",
            policy: Policy::explicit_issuers(
                ["https://login.microsoftonline.com/81690286-5054-4f97-b708-541654cd921a/v2.0/"],
                "7c7a2f70-caef-45c8-9a6c-091633501de4",
            )
            .dangerous_allow_no_scope_or_role(),
            no_scope_or_role: true,
        },
        // v2 ID tokens (2019, 2020, 2021): no scp/roles, as above.
        Recorded {
            stem: "T13_msalnet_cachecompat_v2_sxMJ",
            policy: Policy::single_tenant(
                "26039cce-489d-4002-8293-5b0c5134eacb",
                "b945c513-3946-4ecd-b179-6499803a2167",
            )
            .dangerous_allow_no_scope_or_role(),
            no_scope_or_role: true,
        },
        Recorded {
            stem: "T17_msalnet_v2_SsZs",
            policy: Policy::single_tenant(
                "49f548d0-12b7-4169-a390-bb5304d24462",
                "4a1aa1d5-c567-49d0-ad0b-cd957a47f842",
            )
            .dangerous_allow_no_scope_or_role(),
            no_scope_or_role: true,
        },
        Recorded {
            stem: "T20_msaljs_v2_l3sQ_msft",
            policy: Policy::single_tenant(MSFT_TENANT, "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
                .dangerous_allow_no_scope_or_role(),
            no_scope_or_role: true,
        },
        // v1 app-only access token of 2024 (client credentials for an app calling
        // itself: aud == appid). The app was granted no application roles, so Entra
        // issued it without `roles`, and app-only tokens never have `scp`: it is a
        // genuine access token that the default rule (MIW IDW10201) refuses, hence the
        // opt-out here.
        Recorded {
            stem: "T21_msalnet_v1_3PaK4E_2024",
            policy: Policy::single_tenant(
                "f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
                "88f91eac-c606-4c67-a0e2-a5e8a186854f",
            )
            .dangerous_allow_no_scope_or_role(),
            no_scope_or_role: true,
        },
    ]
}

fn verify(case: &Recorded, now: u64) -> Result<Claims, Error> {
    let token = token(case.stem);
    case.policy
        .clone()
        .build()
        .unwrap()
        .verify(&token, &keys(case.stem), now)
}

/// The token with byte `index` of its decoded signature flipped (re-encoded canonically,
/// so the change reaches the signature check rather than the base64url rules).
fn flip_signature_byte(token: &str, index: usize) -> String {
    let (signing_input, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[index] ^= 0x01;
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn every_recorded_token_is_covered() {
    let path = format!("{}/../fixtures/azure/tokens", env!("CARGO_MANIFEST_DIR"));
    let mut stems: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".jwt").map(str::to_owned))
        .collect();
    stems.sort();
    let mut covered: Vec<String> = recorded().iter().map(|c| c.stem.to_owned()).collect();
    covered.extend([
        "G01_graph_huN95IvP".to_owned(),
        "G02_graph_SsZsBNhZ".to_owned(),
    ]);
    covered.sort();
    assert_eq!(stems, covered);
}

#[test]
fn recorded_tokens_verify_inside_their_window() {
    for case in recorded() {
        let token = token(case.stem);
        let expected = payload(&token);
        let now = time(&token, "iat") + 60;
        let claims = verify(&case, now).unwrap_or_else(|e| panic!("{}: {e:?}", case.stem));
        assert_eq!(
            claims.iss,
            expected["iss"].as_str().unwrap(),
            "{}",
            case.stem
        );
        assert_eq!(
            claims.tid.as_deref(),
            expected["tid"].as_str(),
            "{}",
            case.stem
        );
        assert_eq!(
            claims.ver.as_deref(),
            expected["ver"].as_str(),
            "{}",
            case.stem
        );
        assert_eq!(
            claims.exp,
            expected["exp"].as_i64().unwrap(),
            "{}",
            case.stem
        );
        assert_eq!(
            claims.raw(),
            &expected,
            "{}: every claim is kept",
            case.stem
        );
    }
}

/// SPEC §6: expired means `exp + leeway <= now`. The issue asked for rejection one
/// second after `exp + leeway`; the rule also refuses the boundary second itself.
#[test]
fn recorded_tokens_expire_at_exp_plus_leeway() {
    for case in recorded() {
        let exp = time(&token(case.stem), "exp");
        assert!(verify(&case, exp + LEEWAY - 1).is_ok(), "{}", case.stem);
        assert_eq!(
            verify(&case, exp + LEEWAY).unwrap_err(),
            Error::Expired,
            "{}",
            case.stem
        );
        assert_eq!(
            verify(&case, exp + LEEWAY + 1).unwrap_err(),
            Error::Expired,
            "{}",
            case.stem
        );
        // And the rule holds with no leeway at all.
        let strict = case.policy.clone().leeway(0).build().unwrap();
        let t = token(case.stem);
        assert!(
            strict.verify(&t, &keys(case.stem), exp - 1).is_ok(),
            "{}",
            case.stem
        );
        assert_eq!(
            strict.verify(&t, &keys(case.stem), exp).unwrap_err(),
            Error::Expired,
            "{}",
            case.stem
        );
    }
}

#[test]
fn recorded_tokens_are_not_valid_before_nbf_minus_leeway() {
    for case in recorded() {
        let nbf = time(&token(case.stem), "nbf");
        assert!(verify(&case, nbf - LEEWAY).is_ok(), "{}", case.stem);
        assert_eq!(
            verify(&case, nbf - LEEWAY - 1).unwrap_err(),
            Error::NotYetValid,
            "{}",
            case.stem
        );
    }
}

/// SPEC §5: one flipped bit anywhere in a real RS256 signature fails it.
#[test]
fn flipped_signature_byte_is_bad_signature() {
    for case in recorded() {
        let original = token(case.stem);
        let now = time(&original, "iat") + 60;
        let policy = case.policy.clone().build().unwrap();
        let keys = keys(case.stem);
        for index in [0, 1, 128, 254, 255] {
            let tampered = flip_signature_byte(&original, index);
            assert_ne!(tampered, original);
            assert_eq!(
                policy.verify(&tampered, &keys, now).unwrap_err(),
                Error::BadSignature,
                "{} byte {index}",
                case.stem
            );
        }
    }
}

/// SPEC §6 (MIW IDW10201): a token with neither `scp` nor `roles` is no access token
/// for an API. The ID tokens, and T21 (app-only without roles), are refused by default.
#[test]
fn tokens_without_scope_or_role_are_refused_by_default() {
    let strict = |case: &Recorded| -> PolicyBuilder {
        // The same policy without the opt-out.
        match case.stem {
            "T01_identitymodel_v1_kriMP_msft" => case.policy.clone(),
            "T08_adalnet_core_v2_MnC" => Policy::explicit_issuers(
                ["https://login.microsoftonline.com/81690286-5054-4f97-b708-541654cd921a/v2.0/"],
                "7c7a2f70-caef-45c8-9a6c-091633501de4",
            ),
            "T13_msalnet_cachecompat_v2_sxMJ" => Policy::single_tenant(
                "26039cce-489d-4002-8293-5b0c5134eacb",
                "b945c513-3946-4ecd-b179-6499803a2167",
            ),
            "T17_msalnet_v2_SsZs" => Policy::single_tenant(
                "49f548d0-12b7-4169-a390-bb5304d24462",
                "4a1aa1d5-c567-49d0-ad0b-cd957a47f842",
            ),
            "T20_msaljs_v2_l3sQ_msft" => {
                Policy::single_tenant(MSFT_TENANT, "04b07795-8ddb-461a-bbee-02f9e1bf7b46")
            }
            "T21_msalnet_v1_3PaK4E_2024" => Policy::single_tenant(
                "f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
                "88f91eac-c606-4c67-a0e2-a5e8a186854f",
            ),
            other => panic!("no strict policy for {other}"),
        }
    };
    for case in recorded() {
        let token = token(case.stem);
        let claims = payload(&token);
        assert_eq!(
            case.no_scope_or_role,
            !claims.contains_key("scp") && !claims.contains_key("roles"),
            "{}",
            case.stem
        );
        let now = time(&token, "iat") + 60;
        let result = strict(&case)
            .build()
            .unwrap()
            .verify(&token, &keys(case.stem), now);
        if case.no_scope_or_role {
            assert_eq!(
                result.unwrap_err(),
                Error::MissingScopeOrRole,
                "{}",
                case.stem
            );
        } else {
            assert!(
                result.unwrap().has_scope("UserProfile.Read"),
                "{}",
                case.stem
            );
        }
    }
}

/// SPEC §3: Microsoft Graph tokens carry a header `nonce`; their signature covers a hash
/// of it, so no third party can verify them. They are "for another resource", not forged.
#[test]
fn graph_tokens_are_first_party() {
    for (stem, tenant) in [
        ("G01_graph_huN95IvP", "f86c8166-c7df-412e-b770-884135fdedf5"),
        ("G02_graph_SsZsBNhZ", "49f548d0-12b7-4169-a390-bb5304d24462"),
    ] {
        let token = token(stem);
        let keys = keys(stem);
        assert!(
            keys.contains_kid(&header_kid(&token)),
            "{stem}: its key is in the set"
        );
        let policy = Policy::single_tenant(tenant, MS_GRAPH_APP_ID)
            .build()
            .unwrap();
        let now = time(&token, "iat") + 60;
        assert_eq!(
            policy.verify(&token, &keys, now).unwrap_err(),
            Error::FirstPartyToken,
            "{stem}"
        );
        // Decided from the header alone: before the signature and the claims.
        let expired = time(&token, "exp") + 86_400;
        assert_eq!(
            policy.verify(&token, &keys, expired).unwrap_err(),
            Error::FirstPartyToken,
            "{stem}"
        );
        let tampered = flip_signature_byte(&token, 10);
        assert_eq!(
            policy.verify(&tampered, &keys, now).unwrap_err(),
            Error::FirstPartyToken,
            "{stem}"
        );
    }
}

/// The header's kid, read by hand: `UntrustedToken::parse` refuses a header with a nonce.
fn header_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert!(header.get("nonce").is_some());
    header["kid"].as_str().unwrap().to_owned()
}

/// SPEC §3: T01 (2014) has no kid; its key is found by x5t, and only by it.
#[test]
fn t01_key_is_found_by_x5t() {
    let stem = "T01_identitymodel_v1_kriMP_msft";
    let token = token(stem);
    assert_eq!(
        UntrustedToken::parse(token.as_bytes(), 32 * 1024)
            .unwrap()
            .header()
            .kid(),
        None
    );
    let case = &recorded()[0];
    assert_eq!(case.stem, stem);
    let now = time(&token, "iat") + 60;
    assert!(verify(case, now).is_ok());
    // The same key published without x5t: no "try every key" fallback.
    let mut doc: Value =
        serde_json::from_slice(&fixture(&format!("tokens/{stem}.jwks.json"))).unwrap();
    doc["keys"][0]
        .as_object_mut()
        .unwrap()
        .remove("x5t")
        .unwrap();
    let without_x5t = KeySet::from_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let policy = case.policy.clone().build().unwrap();
    assert_eq!(
        policy.verify(&token, &without_x5t, now).unwrap_err(),
        Error::UnknownKey
    );
}

/// Real tokens under a policy they do not fit.
#[test]
fn recorded_tokens_under_the_wrong_policy() {
    let t17 = "T17_msalnet_v2_SsZs";
    let token = token(t17);
    let now = time(&token, "iat") + 60;
    let keys = keys(t17);
    let check = |p: PolicyBuilder| {
        p.dangerous_allow_no_scope_or_role()
            .build()
            .unwrap()
            .verify(&token, &keys, now)
    };
    // Another tenant.
    assert_eq!(
        check(Policy::single_tenant(
            MSFT_TENANT,
            "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
        ))
        .unwrap_err(),
        Error::WrongIssuer
    );
    // Another API.
    assert_eq!(
        check(Policy::single_tenant(
            "49f548d0-12b7-4169-a390-bb5304d24462",
            "b945c513-3946-4ecd-b179-6499803a2167"
        ))
        .unwrap_err(),
        Error::WrongAudience
    );
    // v1 only.
    assert_eq!(
        check(
            Policy::single_tenant(
                "49f548d0-12b7-4169-a390-bb5304d24462",
                "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
            )
            .only_version(entra_jwt_core::TokenVersion::V1)
        )
        .unwrap_err(),
        Error::WrongVersion
    );
    // The key of another token.
    let other_keys = self::keys("T13_msalnet_cachecompat_v2_sxMJ");
    let policy = Policy::single_tenant(
        "49f548d0-12b7-4169-a390-bb5304d24462",
        "4a1aa1d5-c567-49d0-ad0b-cd957a47f842",
    )
    .dangerous_allow_no_scope_or_role()
    .build()
    .unwrap();
    assert_eq!(
        policy.verify(&token, &other_keys, now).unwrap_err(),
        Error::UnknownKey
    );
    // T08's "/v2.0/" issuer is not the single-tenant v2 form.
    let t08 = "T08_adalnet_core_v2_MnC";
    let t08_token = self::token(t08);
    let strict = Policy::single_tenant(
        "81690286-5054-4f97-b708-541654cd921a",
        "7c7a2f70-caef-45c8-9a6c-091633501de4",
    )
    .dangerous_allow_no_scope_or_role()
    .build()
    .unwrap();
    assert_eq!(
        strict
            .verify(&t08_token, &self::keys(t08), time(&t08_token, "iat") + 60)
            .unwrap_err(),
        Error::WrongIssuer
    );
}

fn recorded_set(file: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("jwks/{file}"))).unwrap()
}

const ORGANIZATIONS_JWKS: &str =
    "entra-organizations_discovery_v2_keys_2024-10-26__panva-wellknown.json";

/// SPEC §6 key-issuer check on real data: T21 (v1, iss `https://sts.windows.net/<tid>/`) was
/// signed by 3PaK4E..., which Microsoft's `organizations` v2 key set publishes with the issuer
/// template `https://login.microsoftonline.com/{tenantid}/v2.0`. The v2 form of the token's
/// issuer equals the template with its tid, so the check passes.
#[test]
fn t21_against_the_recorded_organizations_key_set() {
    let stem = "T21_msalnet_v1_3PaK4E_2024";
    let token = token(stem);
    let now = time(&token, "iat") + 60;
    let kid = "3PaK4EfyBNQu3CtjYsa3YmhQ5E0";
    let policy = recorded()
        .into_iter()
        .find(|c| c.stem == stem)
        .unwrap()
        .policy
        .build()
        .unwrap();

    let orgs = KeySet::from_jwks(&fixture(&format!("jwks/{ORGANIZATIONS_JWKS}"))).unwrap();
    let key = orgs
        .find_kid(Some(kid))
        .expect("3PaK4E... is in the organizations set");
    assert_eq!(
        key.issuer(),
        Some("https://login.microsoftonline.com/{tenantid}/v2.0")
    );
    // The same key as the one recorded beside the token.
    assert_eq!(key.key(), keys(stem).find_kid(Some(kid)).unwrap().key());
    let claims = policy.verify(&token, &orgs, now).unwrap();
    assert_eq!(
        claims.iss,
        "https://sts.windows.net/f645ad92-e38d-4d1a-b510-d1b09a74a8ca/"
    );

    // The `common` set publishes it too.
    let common = KeySet::from_jwks(&fixture(
        "jwks/entra-common_discovery_v2_keys_2024-10-26__panva-wellknown.json",
    ))
    .unwrap();
    assert!(policy.verify(&token, &common, now).is_ok());

    // The same set with that key's issuer pinned to another tenant: mismatch.
    let with_issuer = |issuer: &str| {
        let mut doc = recorded_set(ORGANIZATIONS_JWKS);
        for k in doc["keys"].as_array_mut().unwrap() {
            if k["kid"] == kid {
                k["issuer"] = json!(issuer);
            }
        }
        KeySet::from_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap()
    };
    let other =
        with_issuer("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
    assert_eq!(
        policy.verify(&token, &other, now).unwrap_err(),
        Error::KeyIssuerMismatch
    );
    // Another cloud's template.
    let us = with_issuer("https://login.microsoftonline.us/{tenantid}/v2.0");
    assert_eq!(
        policy.verify(&token, &us, now).unwrap_err(),
        Error::KeyIssuerMismatch
    );
    // The v1 template matches the v1 issuer directly.
    assert!(
        policy
            .verify(
                &token,
                &with_issuer("https://sts.windows.net/{tenantid}/"),
                now
            )
            .is_ok()
    );
}

/// T20's key l3sQ... is in the recorded 2022 `common` v2 key set with the issuer template:
/// a multi-tenant API that loads Microsoft's `common` keys accepts it.
#[test]
fn t20_against_the_recorded_common_key_set() {
    let stem = "T20_msaljs_v2_l3sQ_msft";
    let token = token(stem);
    let now = time(&token, "iat") + 60;
    let common = KeySet::from_jwks(&fixture(
        "jwks/aad_common_discovery_v2_keys_2022-11-12__dockyard.json",
    ))
    .unwrap();
    assert_eq!(
        common
            .find_kid(Some("l3sQ-50cCH4xBVZLHTGwnSR7680"))
            .unwrap()
            .issuer(),
        Some("https://login.microsoftonline.com/{tenantid}/v2.0")
    );
    let multi = Policy::multi_tenant("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
        .dangerous_allow_no_scope_or_role();
    assert!(
        multi
            .clone()
            .build()
            .unwrap()
            .verify(&token, &common, now)
            .is_ok()
    );
    assert!(
        multi
            .clone()
            .allow_tenant(MSFT_TENANT)
            .build()
            .unwrap()
            .verify(&token, &common, now)
            .is_ok()
    );
    assert_eq!(
        multi
            .allow_tenant("f645ad92-e38d-4d1a-b510-d1b09a74a8ca")
            .build()
            .unwrap()
            .verify(&token, &common, now)
            .unwrap_err(),
        Error::WrongTenant
    );
}

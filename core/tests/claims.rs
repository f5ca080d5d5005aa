//! SPEC §6: claim rules through `Policy::verify` with tokens signed by the test tenant —
//! times and leeway, audience, issuer modes and versions, `tid`, the key-issuer check,
//! scopes/roles, client apps, builder misuse, and the `Claims` accessors.
//!
//! Each case starts from a valid token (`v2_claims`, `v1_claims`, `app_claims` at `NOW`)
//! and changes one thing, so the rule under test is the only one that can refuse it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::LazyLock;

use entra_jwt_core::{
    Claims, Error, KeySet, Match, Policy, PolicyBuilder, TokenVersion, V1_ISSUER_TEMPLATE,
    V2_ISSUER_TEMPLATE,
};
use entra_jwt_test_tenant::{
    APP_ID, APP_ID_URI, CLIENT_APP_ID, ISSUER_V1, ISSUER_V2, Key, NOW, OTHER_TENANT_ID, TENANT_ID,
    TestTenant,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

/// The tenant's published set (per-key issuer = the tenant's v2 issuer).
static TENANT_KEYS: LazyLock<KeySet> =
    LazyLock::new(|| KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap());

/// rsa2048 alone, with its JWK `issuer` set to `issuer` (or removed when `None`).
fn keys_with_issuer(issuer: Option<&str>) -> KeySet {
    let mut jwk = TestTenant::public_jwk(Key::Rsa2048);
    let map = jwk.as_object_mut().unwrap();
    match issuer {
        Some(i) => map.insert("issuer".into(), json!(i)),
        None => map.remove("issuer"),
    };
    KeySet::from_jwks(&serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap()).unwrap()
}

/// Like Microsoft's `common`/`organizations` keys: issuer is the v2 template.
static TEMPLATE_KEYS: LazyLock<KeySet> =
    LazyLock::new(|| keys_with_issuer(Some(V2_ISSUER_TEMPLATE)));

/// Like B2C or national-cloud keys: no `issuer` member at all.
static NO_ISSUER_KEYS: LazyLock<KeySet> = LazyLock::new(|| keys_with_issuer(None));

fn sign(claims: &Value) -> String {
    TestTenant::get().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), claims)
}

fn single() -> PolicyBuilder {
    Policy::single_tenant(TENANT_ID, APP_ID)
}

/// Verifies `claims` (signed by rsa2048) at `NOW` against the tenant's key set.
fn check(policy: PolicyBuilder, claims: &Value) -> Result<Claims, Error> {
    check_with(policy, claims, &TENANT_KEYS)
}

fn check_with(policy: PolicyBuilder, claims: &Value, keys: &KeySet) -> Result<Claims, Error> {
    check_at(policy, claims, keys, NOW)
}

fn check_at(
    policy: PolicyBuilder,
    claims: &Value,
    keys: &KeySet,
    now: u64,
) -> Result<Claims, Error> {
    policy.build().unwrap().verify(&sign(claims), keys, now)
}

fn err(policy: PolicyBuilder, claims: &Value) -> Error {
    check(policy, claims).unwrap_err()
}

/// `claims` with `name` set to `value`.
fn set(mut claims: Value, name: &str, value: Value) -> Value {
    claims
        .as_object_mut()
        .unwrap()
        .insert(name.to_owned(), value);
    claims
}

/// `claims` without `name`.
fn unset(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name).unwrap();
    claims
}

fn v2() -> Value {
    TestTenant::v2_claims(NOW)
}
fn v1() -> Value {
    TestTenant::v1_claims(NOW)
}
fn app() -> Value {
    TestTenant::app_claims(NOW)
}

/// v2 claims with explicit times (`None` removes the claim).
fn times(iat: Option<i64>, nbf: Option<i64>, exp: Option<i64>) -> Value {
    let mut c = v2();
    for (name, value) in [("iat", iat), ("nbf", nbf), ("exp", exp)] {
        c = match value {
            Some(t) => set(c, name, json!(t)),
            None => unset(c, name),
        };
    }
    c
}

const NOW_I: i64 = NOW as i64;

fn issuer_v2(tenant: &str) -> String {
    V2_ISSUER_TEMPLATE.replace("{tenantid}", tenant)
}
fn issuer_v1(tenant: &str) -> String {
    V1_ISSUER_TEMPLATE.replace("{tenantid}", tenant)
}

/// A v2 token of another tenant, valid in every other respect.
fn v2_of(tenant: &str) -> Value {
    set(
        set(v2(), "iss", json!(issuer_v2(tenant))),
        "tid",
        json!(tenant),
    )
}
/// A v1 token of another tenant, valid in every other respect.
fn v1_of(tenant: &str) -> Value {
    set(
        set(v1(), "iss", json!(issuer_v1(tenant))),
        "tid",
        json!(tenant),
    )
}

fn invalid_config(builder: PolicyBuilder) -> &'static str {
    match builder.build().unwrap_err() {
        Error::InvalidConfig { reason } => reason,
        other => panic!("expected invalid_config, got {other:?}"),
    }
}

// ---------------------------------------------------------------- baseline

#[test]
fn baseline_tokens_are_accepted() {
    let c = check(single(), &v2()).unwrap();
    assert_eq!(c.iss, ISSUER_V2);
    assert_eq!(c.ver.as_deref(), Some("2.0"));
    let c = check(single(), &v1()).unwrap();
    assert_eq!(c.iss, ISSUER_V1);
    assert_eq!(c.aud, [APP_ID_URI]);
    let c = check(single(), &app()).unwrap();
    assert_eq!(c.roles, ["Data.Admin"]);
}

// ---------------------------------------------------------------- times (SPEC §6)

#[test]
fn exp_boundary_with_default_leeway() {
    let early = Some(NOW_I - 4000);
    // Expired means exp + leeway <= now: exactly at the boundary is expired.
    assert_eq!(
        err(single(), &times(early, early, Some(NOW_I - 300))),
        Error::Expired
    );
    assert!(check(single(), &times(early, early, Some(NOW_I - 299))).is_ok());
    assert_eq!(
        err(single(), &times(early, early, Some(NOW_I - 301))),
        Error::Expired
    );
    assert_eq!(
        err(single(), &times(Some(0), Some(0), Some(0))),
        Error::Expired
    );
}

#[test]
fn nbf_boundary_with_default_leeway() {
    let iat = Some(NOW_I - 60);
    let exp = Some(NOW_I + 3600);
    // Not yet valid means nbf - leeway > now.
    assert!(check(single(), &times(iat, Some(NOW_I + 300), exp)).is_ok());
    assert_eq!(
        err(single(), &times(iat, Some(NOW_I + 301), exp)),
        Error::NotYetValid
    );
    // nbf is optional.
    assert!(check(single(), &times(iat, None, exp)).is_ok());
}

#[test]
fn iat_boundary_with_default_leeway() {
    let nbf = Some(NOW_I - 60);
    let exp = Some(NOW_I + 3600);
    assert!(check(single(), &times(Some(NOW_I + 300), nbf, exp)).is_ok());
    assert_eq!(
        err(single(), &times(Some(NOW_I + 301), nbf, exp)),
        Error::IssuedInFuture
    );
    // iat is optional.
    assert!(check(single(), &times(None, nbf, exp)).is_ok());
}

#[test]
fn leeway_zero_and_maximum() {
    let early = Some(NOW_I - 4000);
    let zero = || single().leeway(0);
    assert_eq!(zero().build().unwrap().leeway(), 0);
    assert_eq!(
        err(zero(), &times(early, early, Some(NOW_I))),
        Error::Expired
    );
    assert!(check(zero(), &times(early, early, Some(NOW_I + 1))).is_ok());
    assert!(check(zero(), &times(Some(NOW_I), Some(NOW_I), Some(NOW_I + 1))).is_ok());
    assert_eq!(
        err(
            zero(),
            &times(Some(NOW_I), Some(NOW_I + 1), Some(NOW_I + 9))
        ),
        Error::NotYetValid
    );
    assert_eq!(
        err(
            zero(),
            &times(Some(NOW_I + 1), Some(NOW_I), Some(NOW_I + 9))
        ),
        Error::IssuedInFuture
    );

    let max = || single().leeway(600);
    assert_eq!(max().build().unwrap().leeway(), 600);
    assert!(check(max(), &times(early, early, Some(NOW_I - 599))).is_ok());
    assert_eq!(
        err(max(), &times(early, early, Some(NOW_I - 600))),
        Error::Expired
    );
    assert!(
        check(
            max(),
            &times(Some(NOW_I + 600), Some(NOW_I + 600), Some(NOW_I + 900))
        )
        .is_ok()
    );
    assert_eq!(
        err(
            max(),
            &times(Some(NOW_I - 60), Some(NOW_I + 601), Some(NOW_I + 900))
        ),
        Error::NotYetValid
    );

    assert_eq!(
        single().build().unwrap().leeway(),
        300,
        "IM's default clock skew"
    );
    assert_eq!(
        invalid_config(single().leeway(601)),
        "leeway over 600 seconds"
    );
    assert_eq!(
        invalid_config(single().leeway(u32::MAX)),
        "leeway over 600 seconds"
    );
}

#[test]
fn exp_is_required() {
    assert_eq!(
        err(single(), &unset(v2(), "exp")),
        Error::BadClaim { claim: "exp" }
    );
}

#[test]
fn nbf_after_exp_is_invalid() {
    // Checked before the time window: without this rule the token would be "not yet valid".
    let c = times(Some(NOW_I - 60), Some(NOW_I + 3601), Some(NOW_I + 3600));
    assert_eq!(err(single(), &c), Error::BadClaim { claim: "nbf" });
    // nbf == exp is not "after".
    assert!(
        check(
            single(),
            &times(Some(NOW_I - 60), Some(NOW_I + 100), Some(NOW_I + 100))
        )
        .is_ok()
    );
}

/// CVE-2026-25537: a time claim that is not a JSON integer is a bad claim, never a skipped check.
#[test]
fn time_claims_must_be_integers_in_range() {
    let exp = NOW_I + 3600;
    for (name, value) in [
        ("exp", json!(exp.to_string())),
        ("exp", json!(exp as f64)),
        ("exp", json!(1.8e9 + 3600.5)),
        ("exp", json!(-1)),
        ("exp", json!(253_402_300_800_i64)),
        ("exp", json!(u64::MAX)),
        ("exp", json!(null)),
        ("exp", json!(true)),
        ("nbf", json!((NOW_I - 60).to_string())),
        ("nbf", json!((NOW_I - 60) as f64)),
        ("nbf", json!(-60)),
        ("iat", json!((NOW_I - 60).to_string())),
        ("iat", json!((NOW_I - 60) as f64)),
        ("iat", json!([NOW_I - 60])),
    ] {
        let claim = match name {
            "exp" => "exp",
            "nbf" => "nbf",
            _ => "iat",
        };
        assert_eq!(
            err(single(), &set(v2(), name, value.clone())),
            Error::BadClaim { claim },
            "{name}: {value}"
        );
    }
    // The largest accepted time, 9999-12-31T23:59:59Z, is a valid (far) expiry.
    assert!(check(single(), &set(v2(), "exp", json!(253_402_300_799_i64))).is_ok());
    // Epoch 0 is in range for nbf/iat.
    assert!(check(single(), &times(Some(0), Some(0), Some(exp))).is_ok());
}

/// IM IDX40011: a decision claim may appear once, also compared case-insensitively.
#[test]
fn decision_claims_appear_once_case_insensitively() {
    assert_eq!(
        err(single(), &set(v2(), "Tid", json!(OTHER_TENANT_ID))),
        Error::BadClaim { claim: "tid" }
    );
    assert_eq!(
        err(single(), &set(v2(), "EXP", json!(NOW_I + 3600))),
        Error::BadClaim { claim: "exp" }
    );
    assert_eq!(
        err(single(), &set(v2(), "Scp", json!("Data.Admin"))),
        Error::BadClaim { claim: "scp" }
    );
    // A case variant of a claim that decides nothing is just another claim.
    let c = check(single(), &set(v2(), "Name", json!("Other"))).unwrap();
    assert_eq!(c.get("Name"), Some(&json!("Other")));
}

// ---------------------------------------------------------------- audience

#[test]
fn audience_forms() {
    assert!(check(single(), &set(v2(), "aud", json!(APP_ID))).is_ok());
    assert!(check(single(), &set(v2(), "aud", json!(APP_ID_URI))).is_ok());
    assert!(
        check(
            single(),
            &set(v2(), "aud", json!(["https://other.example", APP_ID]))
        )
        .is_ok()
    );
    let c = check(single(), &set(v2(), "aud", json!([APP_ID_URI, "x"]))).unwrap();
    assert_eq!(c.aud, [APP_ID_URI, "x"]);
    assert_eq!(
        single().build().unwrap().audiences(),
        [APP_ID.to_owned(), APP_ID_URI.to_owned()]
    );
}

#[test]
fn extra_audience() {
    let custom = "https://contoso.com/api";
    let c = set(v2(), "aud", json!(custom));
    assert_eq!(err(single(), &c), Error::WrongAudience);
    assert!(check(single().audience(custom), &c).is_ok());
    // The application id forms stay accepted.
    assert!(check(single().audience(custom), &v2()).is_ok());
    assert_eq!(invalid_config(single().audience("")), "empty audience");
}

#[test]
fn wrong_audience() {
    for aud in [
        json!("00000003-0000-0000-c000-000000000000"),
        json!(APP_ID.to_uppercase()),
        json!(APP_ID_URI.to_uppercase()),
        json!(format!("API://{APP_ID}")),
        json!(format!("{APP_ID_URI}/")),
        json!(format!(" {APP_ID}")),
        json!(format!("api://{CLIENT_APP_ID}")),
        json!([]),
        json!(["x", "y"]),
    ] {
        assert_eq!(
            err(single(), &set(v2(), "aud", aud.clone())),
            Error::WrongAudience,
            "{aud}"
        );
    }
}

#[test]
fn audience_missing_or_ill_typed() {
    let bad = Error::BadClaim { claim: "aud" };
    assert_eq!(err(single(), &unset(v2(), "aud")), bad);
    for aud in [
        json!(42),
        json!(null),
        json!({ "aud": APP_ID }),
        json!([APP_ID, 42]),
        json!([[APP_ID]]),
    ] {
        assert_eq!(err(single(), &set(v2(), "aud", aud.clone())), bad, "{aud}");
    }
}

// ---------------------------------------------------------------- single tenant issuer, version, tid

#[test]
fn single_tenant_issuer_forms() {
    assert!(check(single(), &v1()).is_ok());
    assert!(check(single(), &v2()).is_ok());
    // The configured tenant id is normalised to lowercase.
    assert!(
        check(
            Policy::single_tenant(&TENANT_ID.to_uppercase(), APP_ID),
            &v2()
        )
        .is_ok()
    );
    for iss in [
        issuer_v2(OTHER_TENANT_ID),
        issuer_v1(OTHER_TENANT_ID),
        format!("{ISSUER_V2}/"),
        ISSUER_V1.trim_end_matches('/').to_owned(),
        ISSUER_V2.replace("https://", "http://"),
        ISSUER_V2.to_uppercase(),
        ISSUER_V2.replace("login.microsoftonline.com", "login.microsoftonline.us"),
        format!("https://sts.windows.net/{TENANT_ID}/v2.0"),
        V2_ISSUER_TEMPLATE.to_owned(),
        String::new(),
    ] {
        assert_eq!(
            err(single(), &set(v2(), "iss", json!(iss))),
            Error::WrongIssuer,
            "{iss}"
        );
    }
    assert_eq!(
        err(single(), &unset(v2(), "iss")),
        Error::BadClaim { claim: "iss" }
    );
    assert_eq!(
        err(single(), &set(v2(), "iss", json!(1))),
        Error::BadClaim { claim: "iss" }
    );
}

#[test]
fn version_must_match_issuer_form() {
    assert_eq!(
        err(single(), &set(v2(), "ver", json!("1.0"))),
        Error::WrongVersion
    );
    assert_eq!(
        err(single(), &set(v1(), "ver", json!("2.0"))),
        Error::WrongVersion
    );
    assert_eq!(
        err(single(), &set(v2(), "ver", json!("3.0"))),
        Error::WrongVersion
    );
    assert_eq!(
        err(single(), &set(v2(), "ver", json!("2"))),
        Error::WrongVersion
    );
    assert_eq!(
        err(single(), &unset(v2(), "ver")),
        Error::BadClaim { claim: "ver" }
    );
    assert_eq!(
        err(single(), &set(v2(), "ver", json!(2.0))),
        Error::BadClaim { claim: "ver" }
    );
}

#[test]
fn only_version() {
    let v2_only = || single().only_version(TokenVersion::V2);
    assert!(check(v2_only(), &v2()).is_ok());
    assert_eq!(err(v2_only(), &v1()), Error::WrongVersion);
    let v1_only = || single().only_version(TokenVersion::V1);
    assert!(check(v1_only(), &v1()).is_ok());
    assert_eq!(err(v1_only(), &v2()), Error::WrongVersion);
}

#[test]
fn single_tenant_tid() {
    assert_eq!(
        err(single(), &unset(v2(), "tid")),
        Error::BadClaim { claim: "tid" }
    );
    for tid in [
        json!("not-a-guid"),
        json!(""),
        json!(format!("{{{TENANT_ID}}}")),
        json!(TENANT_ID.replace('-', "")),
        json!(7),
    ] {
        assert_eq!(
            err(single(), &set(v2(), "tid", tid.clone())),
            Error::BadClaim { claim: "tid" },
            "{tid}"
        );
    }
    // The right issuer, another tenant's tid: iss and tid disagree.
    assert_eq!(
        err(single(), &set(v2(), "tid", json!(OTHER_TENANT_ID))),
        Error::WrongTenant
    );
    assert_eq!(
        err(single(), &set(v1(), "tid", json!(OTHER_TENANT_ID))),
        Error::WrongTenant
    );
    assert_eq!(
        err(single(), &set(v2(), "tid", json!(TENANT_ID.to_uppercase()))),
        Error::WrongTenant
    );
}

// ---------------------------------------------------------------- multi-tenant

fn multi() -> PolicyBuilder {
    Policy::multi_tenant(APP_ID)
}

#[test]
fn multi_tenant_accepts_any_tenant() {
    for claims in [v2(), v1(), v2_of(OTHER_TENANT_ID), v1_of(OTHER_TENANT_ID)] {
        let c = check_with(multi(), &claims, &TEMPLATE_KEYS).unwrap();
        assert_eq!(c.tid.as_deref(), claims["tid"].as_str());
    }
}

/// The tenant's own keys carry its concrete issuer: they cannot vouch for another tenant.
#[test]
fn multi_tenant_key_with_tenant_issuer_refuses_other_tenants() {
    assert!(check(multi(), &v2()).is_ok());
    assert_eq!(
        err(multi(), &v2_of(OTHER_TENANT_ID)),
        Error::KeyIssuerMismatch
    );
}

#[test]
fn multi_tenant_allowlist() {
    let allow = || multi().allow_tenant(TENANT_ID);
    assert!(check_with(allow(), &v2(), &TEMPLATE_KEYS).is_ok());
    assert!(check_with(allow(), &v1(), &TEMPLATE_KEYS).is_ok());
    assert_eq!(
        check_with(allow(), &v2_of(OTHER_TENANT_ID), &TEMPLATE_KEYS).unwrap_err(),
        Error::WrongTenant
    );
    let both = || {
        multi()
            .allow_tenant(TENANT_ID)
            .allow_tenant(&OTHER_TENANT_ID.to_uppercase())
    };
    assert!(check_with(both(), &v2_of(OTHER_TENANT_ID), &TEMPLATE_KEYS).is_ok());
    assert_eq!(
        invalid_config(multi().allow_tenant("contoso.onmicrosoft.com")),
        "allowed tenant is not a guid"
    );
}

#[test]
fn multi_tenant_issuer_must_be_template_with_tid() {
    let wrong = |claims: Value| check_with(multi(), &claims, &TEMPLATE_KEYS).unwrap_err();
    // iss of one tenant, tid of another.
    assert_eq!(
        wrong(set(v2(), "tid", json!(OTHER_TENANT_ID))),
        Error::WrongIssuer
    );
    assert_eq!(
        wrong(set(v2_of(OTHER_TENANT_ID), "tid", json!(TENANT_ID))),
        Error::WrongIssuer
    );
    for iss in [
        format!("https://evil.example/{TENANT_ID}/v2.0"),
        format!("{ISSUER_V2}/"),
        ISSUER_V2.replace("https://", "http://"),
        V2_ISSUER_TEMPLATE.to_owned(),
    ] {
        assert_eq!(
            wrong(set(v2(), "iss", json!(iss))),
            Error::WrongIssuer,
            "{iss}"
        );
    }
    // The version rule holds in multi-tenant mode too.
    assert_eq!(wrong(set(v1(), "ver", json!("2.0"))), Error::WrongVersion);
    assert_eq!(
        check_with(
            multi().only_version(TokenVersion::V2),
            &v1(),
            &TEMPLATE_KEYS
        )
        .unwrap_err(),
        Error::WrongVersion
    );
}

#[test]
fn multi_tenant_tid_must_be_a_guid() {
    let wrong = |claims: Value| check_with(multi(), &claims, &TEMPLATE_KEYS).unwrap_err();
    let bad = Error::BadClaim { claim: "tid" };
    assert_eq!(wrong(unset(v2(), "tid")), bad);
    // A non-GUID tid whose issuer matches the template with it substituted.
    let contoso = "contoso.onmicrosoft.com";
    assert_eq!(wrong(v2_of(contoso)), bad);
    assert_eq!(wrong(v2_of("common")), bad);
}

#[test]
fn multi_tenant_custom_issuer_templates() {
    let us_template = "https://login.microsoftonline.us/{tenantid}/v2.0";
    let us_keys = keys_with_issuer(Some(us_template));
    let us = || multi().issuer_templates([us_template]);
    let us_token = set(
        v2(),
        "iss",
        json!(us_template.replace("{tenantid}", TENANT_ID)),
    );
    assert!(check_with(us(), &us_token, &us_keys).is_ok());
    // The public-cloud forms are no longer accepted...
    assert_eq!(
        check_with(us(), &v2(), &us_keys).unwrap_err(),
        Error::WrongIssuer
    );
    // ...and a template ending in /v2.0 implies version 2.0.
    assert_eq!(
        check_with(us(), &set(us_token, "ver", json!("1.0")), &us_keys).unwrap_err(),
        Error::WrongVersion
    );

    // A template not ending in /v2.0 implies version 1.0.
    let cn_v1 = "https://sts.chinacloudapi.cn/{tenantid}/";
    let cn_token = set(v1(), "iss", json!(cn_v1.replace("{tenantid}", TENANT_ID)));
    assert!(
        check_with(
            multi().issuer_templates([cn_v1]),
            &cn_token,
            &NO_ISSUER_KEYS
        )
        .is_ok()
    );

    for bad in [
        vec!["https://login.microsoftonline.us/v2.0"],
        vec!["https://x/{tenantid}/{tenantid}"],
        vec![],
    ] {
        assert_eq!(
            invalid_config(multi().issuer_templates(bad.clone())),
            "template needs one {tenantid}",
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------- explicit issuers

const B2C_ISSUER: &str = "https://contoso.b2clogin.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/";

fn b2c() -> PolicyBuilder {
    Policy::explicit_issuers([B2C_ISSUER], APP_ID)
}

fn b2c_claims() -> Value {
    // Old B2C tokens carry ver 1.0 under a .../v2.0/ issuer (SPEC §6).
    set(set(v2(), "iss", json!(B2C_ISSUER)), "ver", json!("1.0"))
}

#[test]
fn explicit_issuers() {
    assert_eq!(
        B2C_ISSUER,
        format!("https://contoso.b2clogin.com/{TENANT_ID}/v2.0/")
    );
    let ok = |p: PolicyBuilder, c: &Value| check_with(p, c, &NO_ISSUER_KEYS);
    assert!(ok(b2c(), &b2c_claims()).is_ok());
    // No version rule for explicit issuers.
    assert!(ok(b2c(), &set(b2c_claims(), "ver", json!("2.0"))).is_ok());
    assert!(ok(b2c(), &unset(b2c_claims(), "ver")).is_ok());
    // B2C tokens have no tid: accepted.
    assert!(ok(b2c(), &unset(b2c_claims(), "tid")).is_ok());
    // A tid that is not a segment of iss.
    assert_eq!(
        ok(b2c(), &set(b2c_claims(), "tid", json!(OTHER_TENANT_ID))).unwrap_err(),
        Error::WrongTenant
    );
    assert_eq!(
        ok(b2c(), &set(b2c_claims(), "tid", json!("9188040d"))).unwrap_err(),
        Error::BadClaim { claim: "tid" }
    );
    // iss not in the list, byte for byte.
    for iss in [
        B2C_ISSUER.trim_end_matches('/').to_owned(),
        B2C_ISSUER.replace("contoso", "fabrikam"),
        B2C_ISSUER.to_uppercase(),
        ISSUER_V2.to_owned(),
    ] {
        assert_eq!(
            ok(b2c(), &set(b2c_claims(), "iss", json!(iss))).unwrap_err(),
            Error::WrongIssuer,
            "{iss}"
        );
    }
    // Several issuers; a national cloud's v1 form.
    let cn = format!("https://sts.chinacloudapi.cn/{TENANT_ID}/");
    let two = || Policy::explicit_issuers([B2C_ISSUER.to_owned(), cn.clone()], APP_ID);
    assert!(ok(two(), &b2c_claims()).is_ok());
    assert!(ok(two(), &set(v1(), "iss", json!(cn))).is_ok());
}

// ---------------------------------------------------------------- builder misuse

#[test]
fn builder_misuse_is_invalid_config() {
    assert_eq!(
        invalid_config(single().allow_tenant(TENANT_ID)),
        "allow_tenant is multi-tenant only"
    );
    assert_eq!(
        invalid_config(b2c().allow_tenant(TENANT_ID)),
        "allow_tenant is multi-tenant only"
    );
    assert_eq!(
        invalid_config(single().issuer_templates([V2_ISSUER_TEMPLATE])),
        "templates are multi-tenant only"
    );
    for app_id in [
        "api://6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "my-api",
        "",
        "6e74172b-be56-4843-9ff4-e66a39bb12e",
    ] {
        assert_eq!(
            invalid_config(Policy::single_tenant(TENANT_ID, app_id)),
            "application id is not a guid"
        );
        assert_eq!(
            invalid_config(Policy::multi_tenant(app_id)),
            "application id is not a guid"
        );
    }
    for tenant in ["contoso.onmicrosoft.com", "common", "organizations", ""] {
        assert_eq!(
            invalid_config(Policy::single_tenant(tenant, APP_ID)),
            "tenant id is not a guid"
        );
    }
    assert_eq!(
        invalid_config(Policy::explicit_issuers(Vec::<String>::new(), APP_ID)),
        "no explicit issuer"
    );
    assert_eq!(
        invalid_config(Policy::explicit_issuers([ISSUER_V2, ""], APP_ID)),
        "no explicit issuer"
    );
    let scope_reason = "invalid required scope or role";
    for bad in [
        "Data.\"Read",
        "Data Read",
        "Data\\Read",
        "",
        "Données.Lire",
        "a\nb",
    ] {
        assert_eq!(
            invalid_config(single().require_scopes(Match::Any, [bad])),
            scope_reason,
            "{bad:?}"
        );
        assert_eq!(
            invalid_config(single().require_roles(Match::All, [bad])),
            scope_reason,
            "{bad:?}"
        );
    }
    assert_eq!(
        invalid_config(single().require_scopes(Match::Any, Vec::<String>::new())),
        scope_reason
    );
    assert_eq!(
        invalid_config(single().require_roles(Match::Any, Vec::<String>::new())),
        scope_reason
    );
    // The good forms build.
    assert!(
        single()
            .require_scopes(Match::All, ["Data.Read", "user_impersonation"])
            .build()
            .is_ok()
    );
    assert!(
        multi()
            .allow_tenant(TENANT_ID)
            .issuer_templates([V2_ISSUER_TEMPLATE])
            .build()
            .is_ok()
    );
}

// ---------------------------------------------------------------- key issuer (MIW EnableAadSigningKeyIssuerValidation)

#[test]
fn key_issuer_of_the_tenant() {
    // The tenant's keys carry ISSUER_V2.
    assert_eq!(TENANT_KEYS.iter().next().unwrap().issuer(), Some(ISSUER_V2));
    assert!(check(single(), &v2()).is_ok());
    // A v1 token (iss sts.windows.net) is checked against the v2 form of its issuer.
    assert!(check(single(), &v1()).is_ok());
    // A key published with the v1 form signs v1 tokens, but not v2 ones: only
    // the v1 -> v2 mapping exists.
    let v1_form = keys_with_issuer(Some(ISSUER_V1));
    assert!(check_with(single(), &v1(), &v1_form).is_ok());
    assert_eq!(
        check_with(single(), &v2(), &v1_form).unwrap_err(),
        Error::KeyIssuerMismatch
    );
}

#[test]
fn key_issuer_of_another_tenant() {
    let other = keys_with_issuer(Some(&issuer_v2(OTHER_TENANT_ID)));
    assert_eq!(
        check_with(single(), &v2(), &other).unwrap_err(),
        Error::KeyIssuerMismatch
    );
    assert_eq!(
        check_with(single(), &v1(), &other).unwrap_err(),
        Error::KeyIssuerMismatch
    );
    // Another cloud's key for the same tenant.
    let us = keys_with_issuer(Some(&format!(
        "https://login.microsoftonline.us/{TENANT_ID}/v2.0"
    )));
    assert_eq!(
        check_with(single(), &v2(), &us).unwrap_err(),
        Error::KeyIssuerMismatch
    );
    // The dangerous opt-out lets it through; nothing else changes.
    let skip = || single().dangerous_skip_key_issuer_check();
    assert!(check_with(skip(), &v2(), &other).is_ok());
    assert!(check_with(skip(), &v1(), &other).is_ok());
    assert_eq!(
        check_with(skip(), &set(v2(), "tid", json!(OTHER_TENANT_ID)), &other).unwrap_err(),
        Error::WrongTenant
    );
}

#[test]
fn templated_key_issuer_needs_a_tid() {
    let explicit = || Policy::explicit_issuers([ISSUER_V2], APP_ID);
    assert!(check_with(explicit(), &v2(), &TEMPLATE_KEYS).is_ok());
    assert_eq!(
        check_with(explicit(), &unset(v2(), "tid"), &TEMPLATE_KEYS).unwrap_err(),
        Error::KeyIssuerMismatch
    );
    assert!(
        check_with(
            explicit().dangerous_skip_key_issuer_check(),
            &unset(v2(), "tid"),
            &TEMPLATE_KEYS
        )
        .is_ok()
    );
    // A missing tid is never substituted as empty: even an issuer that equals the
    // template with an empty tenant does not match.
    let hollow = "https://login.microsoftonline.com//v2.0";
    assert_eq!(
        check_with(
            Policy::explicit_issuers([hollow], APP_ID),
            &set(unset(v2(), "tid"), "iss", json!(hollow)),
            &TEMPLATE_KEYS
        )
        .unwrap_err(),
        Error::KeyIssuerMismatch
    );
    // A key without issuer is not checked.
    assert!(check_with(explicit(), &unset(v2(), "tid"), &NO_ISSUER_KEYS).is_ok());
}

// ---------------------------------------------------------------- scopes and roles

#[test]
fn scope_or_role_is_required() {
    assert!(check(single(), &app()).is_ok());
    let none = unset(v2(), "scp");
    assert_eq!(err(single(), &none), Error::MissingScopeOrRole);
    assert_eq!(
        err(single(), &set(v2(), "scp", json!(""))),
        Error::MissingScopeOrRole
    );
    assert_eq!(
        err(single(), &set(v2(), "scp", json!("   "))),
        Error::MissingScopeOrRole
    );
    assert_eq!(
        err(single(), &set(app(), "roles", json!([]))),
        Error::MissingScopeOrRole
    );
    assert_eq!(
        err(single(), &unset(app(), "roles")),
        Error::MissingScopeOrRole
    );
    assert!(check(single().dangerous_allow_no_scope_or_role(), &none).is_ok());
    assert!(
        check(
            single().dangerous_allow_no_scope_or_role(),
            &unset(app(), "roles")
        )
        .is_ok()
    );
}

#[test]
fn required_scopes() {
    // v2_claims carry scp "Data.Read User.Read".
    let ok = |how, want: &[&str]| check(single().require_scopes(how, want.to_vec()), &v2());
    assert!(ok(Match::Any, &["Data.Read"]).is_ok());
    assert!(ok(Match::Any, &["Data.Write", "User.Read"]).is_ok());
    assert_eq!(
        ok(Match::Any, &["Data.Write", "Mail.Read"]).unwrap_err(),
        Error::InsufficientScope
    );
    assert!(ok(Match::All, &["Data.Read", "User.Read"]).is_ok());
    assert_eq!(
        ok(Match::All, &["Data.Read", "Data.Write"]).unwrap_err(),
        Error::InsufficientScope
    );
    // Exact, case-sensitive names; no prefix match.
    assert_eq!(
        ok(Match::Any, &["data.read"]).unwrap_err(),
        Error::InsufficientScope
    );
    assert_eq!(
        ok(Match::Any, &["Data"]).unwrap_err(),
        Error::InsufficientScope
    );
    // An app-only token has no scopes.
    assert_eq!(
        check(single().require_scopes(Match::Any, ["Data.Read"]), &app()).unwrap_err(),
        Error::InsufficientScope
    );
    // No scope or role at all is reported as such, before the requirement.
    assert_eq!(
        check(
            single().require_scopes(Match::Any, ["Data.Read"]),
            &unset(v2(), "scp")
        )
        .unwrap_err(),
        Error::MissingScopeOrRole
    );
}

#[test]
fn required_roles() {
    let roles = set(app(), "roles", json!(["Data.Admin", "Data.Reader"]));
    let ok = |how, want: &[&str]| check(single().require_roles(how, want.to_vec()), &roles);
    assert!(ok(Match::Any, &["Data.Admin"]).is_ok());
    assert!(ok(Match::Any, &["Data.Writer", "Data.Reader"]).is_ok());
    assert_eq!(
        ok(Match::Any, &["Data.Writer"]).unwrap_err(),
        Error::InsufficientScope
    );
    assert!(ok(Match::All, &["Data.Admin", "Data.Reader"]).is_ok());
    assert_eq!(
        ok(Match::All, &["Data.Admin", "Data.Writer"]).unwrap_err(),
        Error::InsufficientScope
    );
    assert_eq!(
        ok(Match::Any, &["data.admin"]).unwrap_err(),
        Error::InsufficientScope
    );
    // A delegated token's scopes do not satisfy a role requirement.
    let scope_named_like_role = set(v2(), "scp", json!("Data.Admin"));
    assert_eq!(
        check(
            single().require_roles(Match::Any, ["Data.Admin"]),
            &scope_named_like_role
        )
        .unwrap_err(),
        Error::InsufficientScope
    );
}

/// MIW's RequiredScopeOrAppPermission: with both configured, either one suffices.
#[test]
fn required_scopes_or_roles() {
    let both = || {
        single()
            .require_scopes(Match::Any, ["Data.Read"])
            .require_roles(Match::Any, ["Data.Admin"])
    };
    assert!(check(both(), &v2()).is_ok());
    assert!(check(both(), &app()).is_ok());
    assert_eq!(
        err(both(), &set(v2(), "scp", json!("User.Read"))),
        Error::InsufficientScope
    );
    assert_eq!(
        err(both(), &set(app(), "roles", json!(["Data.Reader"]))),
        Error::InsufficientScope
    );
}

#[test]
fn scp_and_roles_types() {
    assert_eq!(
        err(single(), &set(v2(), "scp", json!(["Data.Read"]))),
        Error::BadClaim { claim: "scp" }
    );
    assert_eq!(
        err(single(), &set(v2(), "scp", json!(1))),
        Error::BadClaim { claim: "scp" }
    );
    assert_eq!(
        err(single(), &set(app(), "roles", json!("Data.Admin"))),
        Error::BadClaim { claim: "roles" }
    );
    assert_eq!(
        err(single(), &set(app(), "roles", json!(["Data.Admin", 1]))),
        Error::BadClaim { claim: "roles" }
    );
    assert_eq!(
        err(single(), &set(app(), "roles", json!(null))),
        Error::BadClaim { claim: "roles" }
    );
}

// ---------------------------------------------------------------- client applications

#[test]
fn allowed_client_apps() {
    let allow = || single().allow_client_apps([CLIENT_APP_ID]);
    assert!(check(allow(), &v2()).is_ok(), "azp (v2)");
    assert!(check(allow(), &v1()).is_ok(), "appid (v1)");
    let other = "11111111-2222-3333-4444-555555555555";
    assert_eq!(
        err(allow(), &set(v2(), "azp", json!(other))),
        Error::ClientNotAllowed
    );
    assert_eq!(
        err(allow(), &set(v1(), "appid", json!(other))),
        Error::ClientNotAllowed
    );
    assert_eq!(err(allow(), &unset(v2(), "azp")), Error::ClientNotAllowed);
    assert_eq!(err(allow(), &unset(v1(), "appid")), Error::ClientNotAllowed);
    assert_eq!(
        err(
            allow(),
            &set(v2(), "azp", json!(CLIENT_APP_ID.to_uppercase()))
        ),
        Error::ClientNotAllowed
    );
    // Several apps; no list means any client.
    assert!(check(single().allow_client_apps([other, CLIENT_APP_ID]), &v2()).is_ok());
    assert!(check(single(), &set(v2(), "azp", json!(other))).is_ok());
    assert_eq!(
        err(single(), &set(v2(), "azp", json!(1))),
        Error::BadClaim { claim: "azp" }
    );
}

// ---------------------------------------------------------------- Claims accessors

#[test]
fn app_only_detection() {
    let user = check(single(), &v2()).unwrap();
    assert!(!user.is_app_only());
    let app_token = check(single(), &app()).unwrap();
    assert!(app_token.is_app_only());
    assert_eq!(app_token.idtyp.as_deref(), Some("app"));
    // Without the optional idtyp claim: no scp and oid == sub.
    assert!(
        check(single(), &unset(app(), "idtyp"))
            .unwrap()
            .is_app_only()
    );
    let not_sp = set(unset(app(), "idtyp"), "sub", json!("some-pairwise-subject"));
    assert!(!check(single(), &not_sp).unwrap().is_app_only());
    // idtyp decides when present.
    assert!(
        !check(single(), &set(app(), "idtyp", json!("user")))
            .unwrap()
            .is_app_only()
    );
    // A user token with oid == sub but scopes is not app-only.
    let oid = v2()["oid"].clone();
    assert!(
        !check(single(), &set(v2(), "sub", oid))
            .unwrap()
            .is_app_only()
    );
}

#[test]
fn claims_accessors() {
    let c = check(single(), &v2()).unwrap();
    assert_eq!(c.client_app(), Some(CLIENT_APP_ID));
    assert_eq!(c.tid.as_deref(), Some(TENANT_ID));
    assert_eq!(
        c.oid.as_deref(),
        Some("2c7f1d38-58a3-4d3e-9d2b-8a4a5cf0e6b1")
    );
    assert_eq!(c.aud, [APP_ID]);
    assert_eq!(
        (c.exp, c.nbf, c.iat),
        (NOW_I + 3600, Some(NOW_I - 60), Some(NOW_I - 60))
    );
    assert_eq!(c.scp, ["Data.Read", "User.Read"]);
    assert!(c.has_scope("Data.Read") && c.has_scope("User.Read"));
    assert!(
        !c.has_scope("Data") && !c.has_scope("data.read") && !c.has_scope("Data.Read User.Read")
    );
    assert!(!c.has_role("Data.Read"));
    assert_eq!(c.name.as_deref(), Some("Test User"));
    assert_eq!(
        c.preferred_username.as_deref(),
        Some("test.user@entrajwttest.onmicrosoft.com")
    );
    assert_eq!(c.get("uti"), Some(&json!("Hc3VqRkNIU-5kFqM2pYwAA")));
    assert_eq!(c.get("missing"), None);
    assert_eq!(c.raw().len(), v2().as_object().unwrap().len());

    let v1c = check(single(), &v1()).unwrap();
    assert_eq!(v1c.client_app(), Some(CLIENT_APP_ID));
    assert_eq!(v1c.azp, None);
    assert_eq!(v1c.get("amr"), Some(&json!(["pwd", "mfa"])));

    let a = check(single(), &app()).unwrap();
    assert!(a.has_role("Data.Admin") && !a.has_role("Data"));
    assert!(a.scp.is_empty());
    // Display-only claims of an odd type are dropped, not refused.
    let odd_name = check(single(), &set(v2(), "name", json!(["x"]))).unwrap();
    assert_eq!(odd_name.name, None);
    assert_eq!(odd_name.get("name"), Some(&json!(["x"])));
}

/// SPEC §6: unknown claims are kept and available to the caller through serde.
#[test]
fn custom_claims_through_serde() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct MyClaims {
        oid: String,
        tid: String,
        department: String,
        #[serde(default)]
        groups: Vec<String>,
        cost_center: Option<u32>,
    }
    let token = set(
        set(
            set(v2(), "department", json!("Finance")),
            "groups",
            json!(["g1", "g2"]),
        ),
        "xms_custom",
        json!({ "nested": [1, 2] }),
    );
    let c = check(single(), &token).unwrap();
    assert_eq!(c.get("xms_custom"), Some(&json!({ "nested": [1, 2] })));
    assert_eq!(c.raw()["department"], "Finance");
    let mine: MyClaims = c.deserialize().unwrap();
    assert_eq!(
        mine,
        MyClaims {
            oid: "2c7f1d38-58a3-4d3e-9d2b-8a4a5cf0e6b1".into(),
            tid: TENANT_ID.into(),
            department: "Finance".into(),
            groups: vec!["g1".into(), "g2".into()],
            cost_center: None,
        }
    );
    // A caller type the claims do not fit is reported, not a panic.
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct NeedsNumber {
        department: u32,
    }
    assert_eq!(
        c.deserialize::<NeedsNumber>().unwrap_err(),
        Error::BadClaim { claim: "custom" }
    );
}

#[test]
fn audiences_exactly_replaces_the_application_id_forms() {
    // A token minted for an App ID URI only: exact match on that URI.
    let uri = "https://contoso.example/api";
    let p = || Policy::single_tenant(TENANT_ID, "").audiences_exactly([uri]);
    check(p(), &set(v2(), "aud", json!(uri))).unwrap();
    // The application id forms are no longer accepted.
    assert_eq!(err(p(), &v2()), Error::WrongAudience);
    // Replacing with nothing is a configuration error, not "any audience".
    assert_eq!(
        invalid_config(
            Policy::single_tenant(TENANT_ID, APP_ID).audiences_exactly(Vec::<String>::new())
        ),
        "no audience"
    );
}

#[test]
fn client_app_allowlist_must_be_guids_and_not_empty() {
    // An explicitly empty allowlist would silently mean "any client".
    assert_eq!(
        invalid_config(single().allow_client_apps(Vec::<String>::new())),
        "client app ids must be guids"
    );
    assert_eq!(
        invalid_config(single().allow_client_apps(["my-client"])),
        "client app ids must be guids"
    );
    check(single().allow_client_apps([CLIENT_APP_ID]), &v2()).unwrap();
}

//! The `entra-jwt` binary, run as a user would: exit status and JSON `code`
//! for recorded Entra tokens, the test tenant, bad input, and online mode
//! against a real local issuer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use entra_jwt_mock_issuer::{MockIssuer, Outage, Response};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use serde_json::Value;

const T20: &str = "T20_msaljs_v2_l3sQ_msft";
const T20_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const T20_APP: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// A minute after T20 was issued (2021-10-20T18:14:29Z).
const T20_NOW: &str = "2021-10-20T18:15:29Z";

fn fixture(name: &str) -> String {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "fixtures",
        "azure",
        "tokens",
        name,
    ]
    .iter()
    .collect();
    p.to_str().unwrap().to_string()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-jwt"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // The binary may stop reading early (size cap): a broken pipe is fine.
        let _ = input.write_all(bytes);
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not one JSON object: {out:?}"))
}

/// Verifies the recorded T20 token offline with `extra` flags, in JSON.
fn verify_t20(token: &str, extra: &[&str]) -> Output {
    let jwks = fixture(&format!("{T20}.jwks.json"));
    let mut args = vec![
        "verify",
        token,
        "--jwks",
        &jwks,
        "--tenant",
        T20_TENANT,
        "--allow-no-scope",
        "--json",
    ];
    args.extend_from_slice(extra);
    run(&args, None)
}

fn t20() -> String {
    std::fs::read_to_string(fixture(&format!("{T20}.jwt")))
        .unwrap()
        .trim()
        .to_string()
}

fn assert_rejected(out: &Output, code: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(out);
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"]["code"], code, "{v}");
}

#[test]
fn recorded_token_valid_at_its_time() {
    let out = verify_t20(&t20(), &["--app-id", T20_APP, "--now", T20_NOW]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["claims"]["tid"], T20_TENANT);
}

#[test]
fn recorded_token_expired_now_and_at_a_later_moment() {
    // Without --now: judged today, years after it expired.
    assert_rejected(&verify_t20(&t20(), &["--app-id", T20_APP]), "expired");
    // exp 2021-10-20T19:19:29Z + 300 s leeway, plus one second.
    assert_rejected(
        &verify_t20(
            &t20(),
            &["--app-id", T20_APP, "--now", "2021-10-20T19:24:30Z"],
        ),
        "expired",
    );
    assert_rejected(
        &verify_t20(&t20(), &["--app-id", T20_APP, "--now", "1634757870"]),
        "expired",
    );
}

#[test]
fn wrong_audience_tenant_kid_and_signature() {
    let other_app = "11111111-2222-3333-4444-555555555555";
    assert_rejected(
        &verify_t20(&t20(), &["--app-id", other_app, "--now", T20_NOW]),
        "wrong_audience",
    );
    let jwks = fixture(&format!("{T20}.jwks.json"));
    let out = run(
        &[
            "verify",
            &t20(),
            "--jwks",
            &jwks,
            "--tenant",
            tt::TENANT_ID,
            "--app-id",
            T20_APP,
            "--allow-no-scope",
            "--now",
            T20_NOW,
            "--json",
        ],
        None,
    );
    assert_rejected(&out, "wrong_issuer");
    // Unknown kid: the test tenant's token against T20's key set.
    let tenant_token = TestTenant::get().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(tt::NOW),
    );
    let out = run(
        &[
            "verify",
            &tenant_token,
            "--jwks",
            &jwks,
            "--tenant",
            tt::TENANT_ID,
            "--app-id",
            tt::APP_ID,
            "--now",
            &tt::NOW.to_string(),
            "--json",
        ],
        None,
    );
    assert_rejected(&out, "unknown_key");
    // Tampered signature: one character in the middle of the signature changed.
    let token = t20();
    let sig_start = token.rfind('.').unwrap() + 1;
    let mid = sig_start + (token.len() - sig_start) / 2;
    let mut bytes = token.into_bytes();
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_rejected(
        &verify_t20(&tampered, &["--app-id", T20_APP, "--now", T20_NOW]),
        "bad_signature",
    );
    // A multi-tenant API that allows only another tenant: wrong_tenant.
    let out = run(
        &[
            "verify",
            &t20(),
            "--jwks",
            &jwks,
            "--multi-tenant",
            "--allow-tenant",
            tt::TENANT_ID,
            "--app-id",
            T20_APP,
            "--allow-no-scope",
            "--now",
            T20_NOW,
            "--json",
        ],
        None,
    );
    assert_rejected(&out, "wrong_tenant");
}

#[test]
fn test_tenant_token_from_stdin_with_a_required_scope() {
    let jwks = std::env::temp_dir().join(format!("entra-jwt-cli-{}.json", std::process::id()));
    std::fs::write(&jwks, TestTenant::jwks_json()).unwrap();
    let token = TestTenant::get().sign(
        Key::Rsa3072,
        &TestTenant::header(Key::Rsa3072),
        &TestTenant::v2_claims(tt::NOW),
    );
    let jwks_s = jwks.to_str().unwrap();
    let now = tt::NOW.to_string();
    let base = [
        "verify",
        "-",
        "--jwks",
        jwks_s,
        "--tenant",
        tt::TENANT_ID,
        "--app-id",
        tt::APP_ID,
        "--now",
        &now,
        "--json",
    ];
    let mut ok = base.to_vec();
    ok.extend(["--require-scope", "Data.Read"]);
    assert_eq!(
        run(&ok, Some(format!("Bearer {token}\n").as_bytes()))
            .status
            .code(),
        Some(0)
    );
    let mut missing = base.to_vec();
    missing.extend(["--require-scope", "Data.Write"]);
    assert_rejected(&run(&missing, Some(token.as_bytes())), "insufficient_scope");
    // The human report names each check and the failing one.
    let human: Vec<&str> = missing.iter().copied().filter(|a| *a != "--json").collect();
    let out = run(&human, Some(token.as_bytes()));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("✓ signature") && text.contains("✗ scopes and roles"),
        "{text}"
    );
    std::fs::remove_file(jwks).unwrap();
}

#[test]
fn bad_input_is_a_one_line_message_and_exit_2() {
    let jwks = fixture(&format!("{T20}.jwks.json"));
    let not_json = fixture(&format!("{T20}.jwt"));
    let cases: Vec<(Vec<String>, Option<Vec<u8>>)> = vec![
        (
            vec![
                "verify".into(),
                t20(),
                "--jwks".into(),
                "/nonexistent/keys.json".into(),
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
            ],
            None,
        ),
        (
            vec![
                "verify".into(),
                t20(),
                "--jwks".into(),
                not_json,
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
            ],
            None,
        ),
        (
            vec![
                "verify".into(),
                "-".into(),
                "--jwks".into(),
                jwks.clone(),
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
            ],
            Some(vec![b'a'; 1 << 20]),
        ),
        (
            vec![
                "verify".into(),
                "-".into(),
                "--jwks".into(),
                jwks.clone(),
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
            ],
            Some((0..=255u8).cycle().take(4096).collect()),
        ),
        (
            vec![
                "verify".into(),
                t20(),
                "--jwks".into(),
                jwks.clone(),
                "--tenant".into(),
                "not-a-guid".into(),
                "--app-id".into(),
                T20_APP.into(),
            ],
            None,
        ),
        (
            vec![
                "verify".into(),
                t20(),
                "--jwks".into(),
                jwks.clone(),
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
                "--leeway".into(),
                "9999".into(),
            ],
            None,
        ),
        (
            vec![
                "verify".into(),
                t20(),
                "--jwks".into(),
                jwks,
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
                "--now".into(),
                "yesterday".into(),
            ],
            None,
        ),
        (
            vec![
                "verify".into(),
                "@/nonexistent/token.jwt".into(),
                "--jwks".into(),
                fixture(&format!("{T20}.jwks.json")),
                "--tenant".into(),
                T20_TENANT.into(),
                "--app-id".into(),
                T20_APP.into(),
            ],
            None,
        ),
        (vec!["verify".into(), "--no-such-flag".into()], None),
    ];
    for (args, stdin) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, stdin.as_deref());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
        if !args.contains(&"--no-such-flag") {
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        }
    }
}

#[test]
fn inspect_says_it_verified_nothing() {
    let out = run(&["inspect", &t20(), "--now", T20_NOW], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("NOT VERIFIED"), "{text}");
    assert!(
        text.contains("exp: 2021-10-20T19:19:29Z (in 1 h 4 min)"),
        "{text}"
    );
    assert!(text.contains(&format!("tenant: {T20_TENANT}")));
}

#[test]
fn keys_lists_usable_and_skipped_keys() {
    let out = run(
        &[
            "keys",
            "--jwks",
            &fixture(&format!("{T20}.jwks.json")),
            "--json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["keys"][0]["kid"], "l3sQ-50cCH4xBVZLHTGwnSR7680");
    assert_eq!(v["keys"][0]["bits"], 2048);
    assert_eq!(v["keys"][0]["source"], "both");
    // A set whose keys lack `kty`: nothing usable, every skip explained.
    let dir = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "fixtures",
        "azure",
        "jwks",
    ]
    .iter()
    .collect::<PathBuf>();
    let no_kty = dir.join("aad_common_keys_2016_MnC_YbRAQ__passport-azure-ad.json");
    let out = run(
        &["keys", "--jwks", no_kty.to_str().unwrap(), "--json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["keys"].as_array().unwrap().len(), 0);
    assert_eq!(v["skipped"][0]["reason"], "kty is not RSA");
}

#[test]
fn online_verify_against_a_local_issuer_and_keys_unavailable() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let token = TestTenant::get().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(tt::NOW),
    );
    let now = tt::NOW.to_string();
    let base = issuer.base_url();
    let args = [
        "verify",
        &token,
        "--tenant",
        tt::TENANT_ID,
        "--app-id",
        tt::APP_ID,
        "--authority",
        &base,
        "--now",
        &now,
        "--json",
        "--dangerous-allow-http-loopback",
    ];
    let out = run(&args, None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(issuer.requests(&issuer.discovery_path()), 1);
    assert_eq!(issuer.requests(&issuer.jwks_path()), 1);
    // Plain http without the test-only flag is refused before any request.
    let strict: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--dangerous"))
        .collect();
    assert_eq!(run(&strict, None).status.code(), Some(3));
    assert_eq!(issuer.requests(&issuer.discovery_path()), 1);
    // The issuer is down: keys unavailable, exit 3, not a token error.
    issuer.go_down(Outage::Unavailable);
    let out = run(&args, None);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(json(&out)["error"]["code"], "keys_unavailable");
}

#[test]
fn keys_online_from_the_tenant_metadata() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let base = issuer.base_url();
    let out = run(
        &[
            "keys",
            "--tenant",
            tt::TENANT_ID,
            "--authority",
            &base,
            "--json",
            "--dangerous-allow-http-loopback",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    let bits: Vec<u64> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["bits"].as_u64().unwrap())
        .collect();
    assert_eq!(bits, [2048, 3072, 4096]);
    assert_eq!(v["keys"][0]["issuer"], tt::ISSUER_V2);
    issuer.go_down(Outage::Unavailable);
    let out = run(
        &[
            "keys",
            "--tenant",
            tt::TENANT_ID,
            "--authority",
            &base,
            "--dangerous-allow-http-loopback",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "keys unavailable");
}

#[test]
fn token_command_posts_client_credentials() {
    let issuer = MockIssuer::start();
    let path = format!("/{}/oauth2/token", tt::TENANT_ID);
    // Microsoft's v1 endpoint sends expires_in as a string.
    issuer.route(
        &path,
        Response::json(
            r#"{"token_type":"Bearer","expires_in":"3599","access_token":"eyJ.abc.def"}"#,
        ),
    );
    let base = issuer.base_url();
    let args = [
        "token",
        "--tenant",
        tt::TENANT_ID,
        "--client-id",
        tt::CLIENT_APP_ID,
        "--client-secret-env",
        "ENTRA_JWT_TEST_SECRET",
        "--resource",
        tt::APP_ID_URI,
        "--authority",
        &base,
        "--json",
        "--dangerous-allow-http-loopback",
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_entra-jwt"))
        .args(args)
        .env("ENTRA_JWT_TEST_SECRET", "s3cret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["access_token"], "eyJ.abc.def");
    assert_eq!(v["expires_in"], 3599, "normalised to a number");
    assert_eq!(issuer.requests(&path), 1);
    // A refusal from the endpoint: exit 1 with Microsoft's error code, never the secret.
    issuer.route(&path, Response::json(r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#).with_status(401));
    let out = Command::new(env!("CARGO_BIN_EXE_entra-jwt"))
        .args(args)
        .env("ENTRA_JWT_TEST_SECRET", "s3cret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid_client") && !err.contains("s3cret"),
        "{err}"
    );
    // The secret is never a flag value, and an unset variable is a usage error.
    assert_eq!(
        run(
            &[
                "token",
                "--tenant",
                "t",
                "--client-id",
                "c",
                "--client-secret",
                "x",
                "--scope",
                "s"
            ],
            None
        )
        .status
        .code(),
        Some(2)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_entra-jwt"))
        .args(args)
        .env_remove("ENTRA_JWT_TEST_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

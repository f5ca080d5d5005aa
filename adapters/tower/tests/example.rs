#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The `protected_api` example, run: its router, its `--mock` set-up and its
//! curl commands, so the example cannot rot.

mod common;

// The example's own code (`main` is not called here).
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/protected_api.rs"]
mod protected_api;

use common::{Answer, BARE, client, now};
use protected_api::{MockTokens, mock_verifier, router, tenant_verifier};
use serde_json::Value;

#[tokio::test]
async fn the_example_serves_its_routes_against_the_mock_issuer() {
    let (issuer, verifier) = mock_verifier().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(verifier).unwrap()).await });
    let tokens = MockTokens::new(now());
    let http = client();
    let get = |path: &str, token: Option<&str>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { Answer::of(request.send().await.unwrap()).await }
    };

    let health = get("/health", None).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    get("/data", None)
        .await
        .assert_refused(401, Some(BARE), &[]);

    let data = get("/data", Some(&tokens.user)).await;
    assert_eq!(data.status, 200, "{data:?}");
    let data: Value = serde_json::from_str(&data.body).unwrap();
    assert_eq!(
        data["scopes"],
        serde_json::json!(["Data.Read", "User.Read"])
    );

    let admin = get("/admin", Some(&tokens.app)).await;
    assert_eq!(admin.status, 200, "{admin:?}");
    let admin: Value = serde_json::from_str(&admin.body).unwrap();
    assert_eq!(admin["roles"], serde_json::json!(["Data.Admin"]));
    assert_eq!(admin["app_only"], true);

    get("/admin", Some(&tokens.user)).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Admin""#),
        &[],
    );
    get("/data", Some(&tokens.app)).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Read""#),
        &[],
    );
    assert_eq!(issuer.requests(&issuer.jwks_path()), 1);
}

#[test]
fn the_printed_curl_commands_carry_the_tokens_and_the_routes() {
    let tokens = MockTokens::new(now());
    let lines = tokens.curl_commands("http://127.0.0.1:3000");
    assert_eq!(lines.len(), 6);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&tokens.user) && l.contains("/data"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&tokens.app) && l.contains("/admin"))
    );
    assert!(lines[0].contains("http://127.0.0.1:3000/health"));
}

#[test]
fn the_tenant_mode_builds_without_network() {
    // Bad ids are configuration errors; good ones build a verifier (no fetch yet).
    assert!(tenant_verifier("not-a-guid", "also-not").is_err());
    assert!(
        tenant_verifier(
            entra_jwt_test_tenant::TENANT_ID,
            entra_jwt_test_tenant::APP_ID
        )
        .is_ok()
    );
}

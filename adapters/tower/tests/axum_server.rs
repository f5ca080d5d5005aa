#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The middleware in a real axum server on 127.0.0.1, its verifier pointed at
//! a local mock issuer, driven by real HTTP requests (reqwest).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use common::{
    Answer, BARE, INVALID_REQUEST, INVALID_TOKEN, app_token, client, issuer, now, sign, user_token,
    user_token_with, verifier,
};
use entra_jwt::AsyncVerifier;
use entra_jwt::core::{KeySource, Policy, RefreshConfig};
use entra_jwt_mock_issuer::{MockIssuer, Outage};
use entra_jwt_reqwest::ReqwestFetcher;
use entra_jwt_test_tenant::{self as tt, TestTenant};
use entra_jwt_tower::{BearerVerifier, ClaimsAs, EntraAuthLayer, Match, Require, VerifiedClaims};
use serde_json::{Value, json};

/// The routes every test uses.
fn app<V: BearerVerifier>(layer: EntraAuthLayer<V>) -> Router {
    let scopes = |how, s: &[&str]| Require::scopes(how, s.iter().copied()).unwrap();
    let roles = |how, r: &[&str]| Require::roles(how, r.iter().copied()).unwrap();
    Router::new()
        .route(
            "/read",
            get(whoami).route_layer(scopes(Match::Any, &["Data.Read"])),
        )
        .route(
            "/write",
            get(whoami).route_layer(scopes(Match::All, &["Data.Read", "Data.Write"])),
        )
        .route(
            "/admin",
            get(whoami).route_layer(roles(Match::Any, &["Data.Admin"])),
        )
        .route(
            "/either",
            get(whoami).route_layer(
                scopes(Match::Any, &["Data.Write"])
                    .or_roles(Match::Any, ["Data.Admin"])
                    .unwrap(),
            ),
        )
        .route("/any", get(whoami))
        .route("/me", get(me))
        .route("/strict", get(strict))
        .route("/form", post(echo))
        .route("/health", get(|| async { "ok" }))
        .route("/public/info", get(maybe))
        .route(
            "/public/guarded",
            get(whoami).route_layer(scopes(Match::Any, &["Data.Read"])),
        )
        .layer(layer.exclude_path("/health").exclude_prefix("/public"))
}

async fn whoami(claims: VerifiedClaims) -> Json<Value> {
    Json(json!({ "oid": claims.oid, "scp": claims.scp, "roles": claims.roles }))
}

#[derive(serde::Deserialize)]
struct Caller {
    tid: String,
    oid: String,
    preferred_username: Option<String>,
}

async fn me(ClaimsAs(caller): ClaimsAs<Caller>) -> String {
    format!(
        "{} {} {}",
        caller.tid,
        caller.oid,
        caller.preferred_username.unwrap_or_default()
    )
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct NeedsEmail {
    email: String,
}

async fn strict(ClaimsAs(_caller): ClaimsAs<NeedsEmail>) -> &'static str {
    "unreachable"
}

async fn echo(claims: VerifiedClaims, body: String) -> String {
    format!("{}|{body}", claims.oid.as_deref().unwrap_or_default())
}

async fn maybe(claims: Option<VerifiedClaims>) -> &'static str {
    if claims.is_some() {
        "signed in"
    } else {
        "anonymous"
    }
}

/// Serves `router` on 127.0.0.1:0; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A server with the default layer over a working issuer.
struct Server {
    base: String,
    issuer: MockIssuer,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        let issuer = issuer();
        let base = serve(app(EntraAuthLayer::new(verifier(&issuer)))).await;
        Self {
            base,
            issuer,
            http: client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Answer::of(request.send().await.unwrap()).await
    }
}

#[tokio::test]
async fn no_authorization_header_gets_a_bare_challenge() {
    let s = Server::start().await;
    s.get("/read", None).await.assert_refused(
        401,
        Some(BARE),
        &["no_credentials", "no bearer credentials"],
    );
    // No request reached the issuer: nothing to verify.
    assert_eq!(s.issuer.total_requests(), 0);
}

#[tokio::test]
async fn another_scheme_is_no_credentials() {
    let s = Server::start().await;
    let answer = Answer::of(
        s.http
            .get(s.url("/read"))
            .header("Authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(401, Some(BARE), &["dXNlcjpwYXNz"]);
}

#[tokio::test]
async fn malformed_tokens_are_invalid_token() {
    let s = Server::start().await;
    for value in [
        "Bearer not.a.jwt",
        "Bearer two tokens",
        "Bearer",
        "bearer a.b.c",
    ] {
        let answer = Answer::of(
            s.http
                .get(s.url("/read"))
                .header("Authorization", value)
                .send()
                .await
                .unwrap(),
        )
        .await;
        answer.assert_refused(401, Some(INVALID_TOKEN), &["malformed", "not.a.jwt"]);
    }
}

#[tokio::test]
async fn expired_token_is_invalid_token_without_the_reason() {
    let s = Server::start().await;
    let token = sign(&TestTenant::v2_claims(now() - 2 * 3600));
    s.get("/read", Some(&token)).await.assert_refused(
        401,
        Some(INVALID_TOKEN),
        &["expired", "token expired", &token],
    );
}

#[tokio::test]
async fn wrong_audience_is_invalid_token_without_the_reason() {
    let s = Server::start().await;
    let token = user_token_with("aud", json!("api://another-api"));
    s.get("/read", Some(&token)).await.assert_refused(
        401,
        Some(INVALID_TOKEN),
        &["wrong_audience", "wrong audience", "another-api", &token],
    );
}

#[tokio::test]
async fn good_token_without_the_scope_is_forbidden() {
    let s = Server::start().await;
    let token = user_token_with("scp", json!("User.Read"));
    s.get("/read", Some(&token)).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Read""#),
        &[&token],
    );
    // An application token has roles, no scopes.
    s.get("/read", Some(&app_token())).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Read""#),
        &[],
    );
    // All-of: Data.Read alone is not enough.
    s.get("/write", Some(&user_token())).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Read Data.Write""#),
        &[],
    );
}

#[tokio::test]
async fn good_token_with_the_scope_reaches_the_handler_with_its_claims() {
    let s = Server::start().await;
    let answer = s.get("/read", Some(&user_token())).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.www_authenticate, None);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["oid"], TestTenant::v2_claims(now())["oid"]);
    assert_eq!(body["scp"], json!(["Data.Read", "User.Read"]));

    // Routes without a guard need a valid token only.
    assert_eq!(s.get("/any", Some(&user_token())).await.status, 200);
    s.get("/any", None)
        .await
        .assert_refused(401, Some(BARE), &[]);
}

#[tokio::test]
async fn roles_guard_application_tokens() {
    let s = Server::start().await;
    let answer = s.get("/admin", Some(&app_token())).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["roles"], json!(["Data.Admin"]));

    s.get("/admin", Some(&user_token())).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Admin""#),
        &[],
    );

    // Scope rule or role rule: the app passes by its role, the user (no
    // Data.Write) fails both, and the challenge names both.
    assert_eq!(s.get("/either", Some(&app_token())).await.status, 200);
    s.get("/either", Some(&user_token())).await.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Write Data.Admin""#),
        &[],
    );
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let issuer = issuer();
    // Down before the first load: the verifier has never had keys.
    issuer.go_down(Outage::Unavailable);
    let base = serve(app(EntraAuthLayer::new(verifier(&issuer)))).await;
    let token = user_token();
    let answer = Answer::of(
        client()
            .get(format!("{base}/read"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(
        503,
        None,
        &["keys_unavailable", "signing keys unavailable", &token],
    );
    assert_eq!(answer.retry_after.as_deref(), Some("30"));
    assert!(
        issuer.total_requests() >= 1,
        "the verifier tried the issuer"
    );

    // The delay is configurable.
    let base = serve(app(
        EntraAuthLayer::new(verifier(&issuer)).retry_after(Duration::from_secs(7))
    ))
    .await;
    let answer = Answer::of(
        client()
            .get(format!("{base}/read"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.retry_after.as_deref(), Some("7"));
}

#[tokio::test]
async fn excluded_paths_need_no_token() {
    let s = Server::start().await;
    let answer = s.get("/health", None).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "ok"));
    assert_eq!(answer.www_authenticate, None);
    // Exact path only.
    s.get("/health/", None)
        .await
        .assert_refused(401, Some(BARE), &[]);
    s.get("/healthz", None)
        .await
        .assert_refused(401, Some(BARE), &[]);
    // A prefix, on segment boundaries; no claims there, even with a token.
    assert_eq!(s.get("/public/info", None).await.body, "anonymous");
    assert_eq!(
        s.get("/public/info", Some(&user_token())).await.body,
        "anonymous"
    );
    // A guard on an excluded path fails closed (a misconfiguration): 500.
    s.get("/public/guarded", Some(&user_token()))
        .await
        .assert_refused(500, None, &[]);
    assert_eq!(s.issuer.total_requests(), 0, "nothing was verified");
}

#[tokio::test]
async fn unknown_routes_need_a_token_too() {
    let s = Server::start().await;
    s.get("/nowhere", None)
        .await
        .assert_refused(401, Some(BARE), &[]);
    assert_eq!(s.get("/nowhere", Some(&user_token())).await.status, 404);
}

#[tokio::test]
async fn token_in_header_and_query_is_invalid_request() {
    let s = Server::start().await;
    let token = user_token();
    for query in ["access_token=", "a=1&access_token=x", "access%5Ftoken=x"] {
        let answer = Answer::of(
            s.http
                .get(format!("{}?{query}", s.url("/read")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        answer.assert_refused(400, Some(INVALID_REQUEST), &[&token]);
    }
    // Even when the header token is itself bad, two tokens are refused first.
    let answer = Answer::of(
        s.http
            .get(format!("{}?access_token={token}", s.url("/read")))
            .header("Authorization", "Bearer not.a.jwt")
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(400, Some(INVALID_REQUEST), &[&token]);
    // Query alone: only the header form is accepted, so no credentials.
    s.get(&format!("/read?access_token={token}"), None)
        .await
        .assert_refused(401, Some(BARE), &[&token]);
    // A parameter that merely looks alike is fine.
    let answer = Answer::of(
        s.http
            .get(format!("{}?my_access_token=1", s.url("/read")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let s = Server::start().await;
    let token = user_token();
    let answer = Answer::of(
        s.http
            .get(s.url("/read"))
            .header("Authorization", format!("Bearer {token}"))
            .header("Authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(400, Some(INVALID_REQUEST), &[&token]);
}

#[tokio::test]
async fn token_in_header_and_form_body_is_invalid_request() {
    let s = Server::start().await;
    let token = user_token();
    let post = |content_type: &'static str, body: String| {
        let request = s
            .http
            .post(s.url("/form"))
            .bearer_auth(&token)
            .header("Content-Type", content_type)
            .body(body);
        async move { Answer::of(request.send().await.unwrap()).await }
    };
    let form = "application/x-www-form-urlencoded";
    post(form, format!("x=1&access_token={token}"))
        .await
        .assert_refused(400, Some(INVALID_REQUEST), &[&token]);
    post(
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        "access_token=".into(),
    )
    .await
    .assert_refused(400, Some(INVALID_REQUEST), &[]);

    // A form without a token reaches the handler with its body intact.
    let answer = post(form, "x=1&y=%20two".into()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let oid = TestTenant::v2_claims(now())["oid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(answer.body, format!("{oid}|x=1&y=%20two"));

    // A form too large to check is refused rather than passed on unchecked.
    post(form, "a".repeat(64 * 1024 + 1))
        .await
        .assert_refused(400, Some(INVALID_REQUEST), &[]);
    // A content-coded form cannot be checked without decoding it: refused.
    let answer = Answer::of(
        s.http
            .post(s.url("/form"))
            .bearer_auth(&token)
            .header("Content-Type", form)
            .header("Content-Encoding", "gzip")
            .body("x=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(400, Some(INVALID_REQUEST), &[]);
    // Bodies of other types are not read: a JSON field named access_token is data.
    let answer = post("application/json", json!({"access_token": "x"}).to_string()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.ends_with(r#"{"access_token":"x"}"#));
    // A form body with no header token: no credentials (the body form is not accepted).
    let answer = Answer::of(
        s.http
            .post(s.url("/form"))
            .header("Content-Type", form)
            .body(format!("access_token={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(401, Some(BARE), &[&token]);
}

#[tokio::test]
async fn form_check_cap_is_configurable_and_can_be_skipped() {
    let issuer = issuer();
    let token = user_token();
    let small = serve(app(
        EntraAuthLayer::new(verifier(&issuer)).max_form_body_bytes(8)
    ))
    .await;
    let skip = serve(app(
        EntraAuthLayer::new(verifier(&issuer)).dangerous_skip_form_body_check()
    ))
    .await;
    let post = |base: &str, body: &str| {
        client()
            .post(format!("{base}/form"))
            .bearer_auth(&token)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
    };
    assert_eq!(post(&small, "a=1").await.unwrap().status(), 200);
    assert_eq!(post(&small, "a=123456789").await.unwrap().status(), 400);
    assert_eq!(post(&skip, "access_token=x").await.unwrap().status(), 200);
}

#[tokio::test]
async fn own_claims_type_through_serde() {
    let s = Server::start().await;
    let answer = s.get("/me", Some(&user_token())).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let oid = TestTenant::v2_claims(now())["oid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        answer.body,
        format!(
            "{} {oid} test.user@entrajwttest.onmicrosoft.com",
            tt::TENANT_ID
        )
    );
    // Claims the type needs but the token lacks: the token is not one this API can serve.
    s.get("/strict", Some(&user_token())).await.assert_refused(
        401,
        Some(INVALID_TOKEN),
        &["bad_claim", "custom", "email"],
    );
}

#[tokio::test]
async fn policy_scopes_are_named_in_the_challenge() {
    // Scopes required by the verifier's own policy: the 403 comes from Policy::challenge.
    let issuer = issuer();
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .require_scopes(Match::All, ["Data.Read", "Data.Write"])
        .build()
        .unwrap();
    let fetcher =
        ReqwestFetcher::new(entra_jwt::FetchConfig::default().dangerous_allow_http_loopback());
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let verifier = AsyncVerifier::new(policy, source, fetcher);
    let base = serve(app(EntraAuthLayer::new(verifier))).await;
    let answer = Answer::of(
        client()
            .get(format!("{base}/any"))
            .bearer_auth(user_token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_refused(
        403,
        Some(r#"Bearer error="insufficient_scope", scope="Data.Read Data.Write""#),
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_verifier_serves_concurrent_requests_with_one_key_load() {
    let s = Arc::new(Server::start().await);
    let token = Arc::new(user_token());
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (s, token) = (Arc::clone(&s), Arc::clone(&token));
        tasks.push(tokio::spawn(async move {
            s.get("/read", Some(&token)).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(s.issuer.requests(&s.issuer.discovery_path()), 1);
    assert_eq!(s.issuer.requests(&s.issuer.jwks_path()), 1);
}

/// Captures what the server logs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Current-thread runtime: the server task logs on this thread, where the
// subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn the_reason_is_logged_at_debug_without_the_token() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = Server::start().await;
    let expired = sign(&TestTenant::v2_claims(now() - 2 * 3600));
    assert_eq!(s.get("/read", Some(&expired)).await.status, 401);
    let wrong_aud = user_token_with("aud", json!("api://another-api"));
    assert_eq!(s.get("/read", Some(&wrong_aud)).await.status, 401);
    let no_scope = user_token_with("scp", json!("User.Read"));
    assert_eq!(s.get("/read", Some(&no_scope)).await.status, 403);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("DEBUG"), "{text}");
    assert!(text.contains("code=\"expired\""), "{text}");
    assert!(text.contains("code=\"wrong_audience\""), "{text}");
    assert!(text.contains("code=\"insufficient_scope\""), "{text}");
    for token in [&expired, &wrong_aud, &no_scope] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "the log holds a token");
    }
}

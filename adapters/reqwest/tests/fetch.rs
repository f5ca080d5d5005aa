#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `ReqwestFetcher` against real local servers (`entra-jwt-mock-issuer`).

use std::time::{Duration, Instant};

use entra_jwt::{AsyncFetch, FetchConfig, FetchErrorKind};
use entra_jwt_mock_issuer::{MockIssuer, Response};
use entra_jwt_reqwest::ReqwestFetcher;

/// Microsoft's v2 JWKS as recorded (not regenerated): the bytes must come back unchanged.
const RECORDED_JWKS: &[u8] = include_bytes!(
    "../../../fixtures/azure/jwks/entra-common_discovery_v2_keys_2024-10-26__panva-wellknown.json"
);

fn config() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    }
}

/// A fetcher allowed to use `http://` on loopback.
fn loopback() -> ReqwestFetcher {
    ReqwestFetcher::new(config().dangerous_allow_http_loopback())
}

/// A fetcher that trusts the TLS server's test CA (and http loopback).
fn trusting(server: &MockIssuer) -> ReqwestFetcher {
    ReqwestFetcher::with_root_certificates(
        config().dangerous_allow_http_loopback(),
        &[server.ca_der()],
    )
}

#[tokio::test]
async fn returns_the_exact_bytes_over_http_and_https() {
    let http = MockIssuer::start();
    http.route("/keys", Response::json(RECORDED_JWKS));
    assert_eq!(
        loopback().get(&http.url("/keys")).await.unwrap(),
        RECORDED_JWKS
    );

    let https = MockIssuer::start_tls();
    https.route("/keys", Response::json(RECORDED_JWKS));
    assert_eq!(
        trusting(&https).get(&https.url("/keys")).await.unwrap(),
        RECORDED_JWKS
    );
    assert_eq!(https.requests("/keys"), 1);
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let https = MockIssuer::start_tls();
    https.route("/keys", Response::json(RECORDED_JWKS));
    let url = https.url("/keys");
    let err = ReqwestFetcher::new(config()).get(&url).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Connect, "{err}");
    assert_eq!(err.url, url);
    // Trusting another CA is no better.
    let other = MockIssuer::start_tls();
    let err = trusting(&other).get(&url).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Connect, "{err}");
    assert_eq!(https.requests("/keys"), 0);
}

#[tokio::test]
async fn plain_http_is_refused_before_any_request() {
    let http = MockIssuer::start();
    http.route("/keys", Response::json(RECORDED_JWKS));
    let err = ReqwestFetcher::new(config())
        .get(&http.url("/keys"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::InsecureScheme);
    assert_eq!(http.total_requests(), 0);
}

#[tokio::test]
async fn hanging_server_times_out() {
    let http = MockIssuer::start();
    http.route("/keys", Response::hang());
    let fetcher = ReqwestFetcher::new(FetchConfig {
        timeout: Duration::from_secs(1),
        ..FetchConfig::default().dangerous_allow_http_loopback()
    });
    let started = Instant::now();
    let err = fetcher.get(&http.url("/keys")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind, FetchErrorKind::Timeout, "{err}");
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(http.requests("/keys"), 1);
}

#[tokio::test]
async fn oversized_body_is_too_large() {
    let http = MockIssuer::start();
    http.route("/big", Response::bytes(2 * 1024 * 1024));
    http.route(
        "/big-unsized",
        Response::bytes(2 * 1024 * 1024).without_content_length(),
    );
    http.route(
        "/exact",
        Response::bytes(1024 * 1024).without_content_length(),
    );
    let fetcher = loopback();
    for path in ["/big", "/big-unsized"] {
        let err = fetcher.get(&http.url(path)).await.unwrap_err();
        assert_eq!(err.kind, FetchErrorKind::TooLarge, "{path}: {err}");
    }
    assert_eq!(
        fetcher.get(&http.url("/exact")).await.unwrap().len(),
        1024 * 1024
    );
}

#[tokio::test]
async fn one_retry_on_server_error() {
    let http = MockIssuer::start();
    http.route(
        "/once",
        Response::sequence([Response::status(500), Response::json(RECORDED_JWKS)]),
    );
    http.route(
        "/twice",
        Response::sequence([
            Response::status(500),
            Response::status(500),
            Response::json(RECORDED_JWKS),
        ]),
    );
    let fetcher = loopback();
    assert_eq!(
        fetcher.get(&http.url("/once")).await.unwrap(),
        RECORDED_JWKS
    );
    assert_eq!(http.requests("/once"), 2);
    let err = fetcher.get(&http.url("/twice")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Status(500));
    assert_eq!(http.requests("/twice"), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let http = MockIssuer::start();
    http.route(
        "/busy",
        Response::sequence([
            Response::status(429).with_retry_after(1),
            Response::json(RECORDED_JWKS),
        ]),
    );
    let started = Instant::now();
    assert_eq!(
        loopback().get(&http.url("/busy")).await.unwrap(),
        RECORDED_JWKS
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(http.requests("/busy"), 2);
}

#[tokio::test]
async fn retry_after_too_long_or_past_the_timeout_is_not_waited_for() {
    let http = MockIssuer::start();
    let busy = |secs| {
        Response::sequence([
            Response::status(503).with_retry_after(secs),
            Response::json(RECORDED_JWKS),
        ])
    };
    http.route("/long", busy(60));
    http.route("/past-timeout", busy(2));
    let started = Instant::now();
    let err = loopback().get(&http.url("/long")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Status(503));
    let short = ReqwestFetcher::new(FetchConfig {
        timeout: Duration::from_secs(1),
        ..FetchConfig::default().dangerous_allow_http_loopback()
    });
    let err = short.get(&http.url("/past-timeout")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Status(503));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(http.requests("/long"), 1);
    assert_eq!(http.requests("/past-timeout"), 1);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let http = MockIssuer::start();
    let err = loopback().get(&http.url("/missing")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Status(404));
    assert_eq!(http.requests("/missing"), 1);
}

#[tokio::test]
async fn redirect_from_https_to_http_is_refused() {
    let http = MockIssuer::start();
    http.route("/keys", Response::json(RECORDED_JWKS));
    let https = MockIssuer::start_tls();
    https.route("/keys", Response::redirect(http.url("/keys")));
    let err = trusting(&https).get(&https.url("/keys")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Redirect, "{err}");
    assert_eq!(err.url, https.url("/keys"));
    assert_eq!(http.total_requests(), 0);
}

#[tokio::test]
async fn redirects_on_loopback_http_are_followed() {
    let http = MockIssuer::start();
    http.route("/keys", Response::json(RECORDED_JWKS));
    http.route("/relative", Response::redirect("/keys"));
    http.route("/absolute", Response::redirect(http.url("/relative")));
    let fetcher = loopback();
    assert_eq!(
        fetcher.get(&http.url("/absolute")).await.unwrap(),
        RECORDED_JWKS
    );
    assert_eq!(http.requests("/keys"), 1);
    // Three hops are allowed.
    http.route("/a", Response::redirect("/b"));
    http.route("/b", Response::redirect("/c"));
    http.route("/c", Response::redirect("/keys"));
    assert_eq!(fetcher.get(&http.url("/a")).await.unwrap(), RECORDED_JWKS);
    // Off loopback, the scheme rule applies to the target too.
    http.route("/away", Response::redirect("http://example.invalid/keys"));
    let err = fetcher.get(&http.url("/away")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Redirect);
}

#[tokio::test]
async fn redirect_loop_stops_after_three_hops() {
    let http = MockIssuer::start();
    http.route("/loop", Response::redirect("/loop"));
    let err = loopback().get(&http.url("/loop")).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Redirect);
    assert_eq!(http.requests("/loop"), 4);
}

#[tokio::test]
async fn error_display_names_the_url_never_the_body() {
    let http = MockIssuer::start();
    http.route("/secret", Response::new(500, "SECRET-BODY-CONTENT"));
    let url = http.url("/secret");
    let err = loopback().get(&url).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("500"), "{text}");
    assert!(!text.contains("SECRET"), "{text}");
    assert!(!format!("{err:?}").contains("SECRET"));
}

#[tokio::test]
async fn entra_issuer_rotation_and_outages() {
    use entra_jwt_mock_issuer::Outage;
    use entra_jwt_test_tenant::{ISSUER_V2, TENANT_ID, TestTenant};

    let issuer = MockIssuer::entra_tls(TENANT_ID);
    let fetcher = trusting(&issuer);
    let discovery = fetcher.get(&issuer.discovery_url()).await.unwrap();
    let discovery = String::from_utf8(discovery).unwrap();
    assert!(discovery.contains(&issuer.jwks_url()));
    assert!(discovery.contains(ISSUER_V2));
    let jwks = fetcher.get(&issuer.jwks_url()).await.unwrap();
    assert_eq!(jwks, TestTenant::jwks_json().as_bytes());
    issuer.rotate_jwks();
    let jwks = fetcher.get(&issuer.jwks_url()).await.unwrap();
    assert_eq!(jwks, TestTenant::jwks_rotated_json().as_bytes());

    issuer.reset_counts();
    issuer.go_down(Outage::Unavailable);
    let err = fetcher.get(&issuer.jwks_url()).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Status(503));
    assert_eq!(issuer.requests(&issuer.jwks_path()), 2);
    issuer.go_down(Outage::Refused);
    let err = fetcher.get(&issuer.jwks_url()).await.unwrap_err();
    assert_eq!(err.kind, FetchErrorKind::Connect, "{err}");
    issuer.come_back();
    assert!(fetcher.get(&issuer.jwks_url()).await.is_ok());
    assert_eq!(issuer.requests(&issuer.jwks_path()), 3);
}

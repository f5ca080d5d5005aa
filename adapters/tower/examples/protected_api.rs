//! An axum API protected by Entra ID access tokens.
//!
//! - `GET /health`: public.
//! - `GET /data`: needs the delegated scope `Data.Read` (a user's token).
//! - `GET /admin`: needs the application role `Data.Admin` (an app-only token).
//!
//! Against a real tenant (the API's app registration exposes the scope and the role):
//!
//! ```text
//! ENTRA_TENANT_ID=<tenant guid> ENTRA_APP_ID=<api app guid> \
//!     cargo run -p entra-jwt-tower --example protected_api
//! ```
//!
//! Without a tenant, against a local mock issuer and the generated test
//! tenant, printing ready-made curl commands with valid tokens:
//!
//! ```text
//! cargo run -p entra-jwt-tower --example protected_api -- --mock
//! ```
//!
//! Listens on `LISTEN_ADDR` (default `127.0.0.1:3000`). Refusals are logged
//! (code only, never the token) at `debug`.
#![forbid(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use entra_jwt::core::{
    KeySource, PUBLIC_AUTHORITY, Policy, RefreshConfig, TokenVersion, discovery_url,
};
use entra_jwt::{AsyncVerifier, FetchConfig};
use entra_jwt_mock_issuer::MockIssuer;
use entra_jwt_reqwest::ReqwestFetcher;
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use entra_jwt_tower::{BearerVerifier, EntraAuthLayer, Error, Match, Require, VerifiedClaims};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The API: its routes, their guards, and the authentication layer.
pub fn router<V: BearerVerifier>(verifier: V) -> Result<Router, Error> {
    Ok(Router::new()
        .route(
            "/data",
            get(data).route_layer(Require::scopes(Match::Any, ["Data.Read"])?),
        )
        .route(
            "/admin",
            get(admin).route_layer(Require::roles(Match::Any, ["Data.Admin"])?),
        )
        .route("/health", get(|| async { "ok" }))
        .layer(EntraAuthLayer::new(verifier).exclude_path("/health")))
}

/// A user's call: who, from which tenant, with which scopes.
async fn data(claims: VerifiedClaims) -> Json<Value> {
    Json(json!({
        "tenant": claims.tid,
        "user": claims.oid,
        "name": claims.name,
        "scopes": claims.scp,
    }))
}

/// An application's call: which client app, with which roles.
async fn admin(claims: VerifiedClaims) -> Json<Value> {
    Json(json!({
        "tenant": claims.tid,
        "client_app": claims.client_app(),
        "app_only": claims.is_app_only(),
        "roles": claims.roles,
    }))
}

/// The verifier for a real tenant: single-tenant policy, keys from the
/// tenant's v2.0 discovery document over HTTPS.
pub fn tenant_verifier(
    tenant_id: &str,
    app_id: &str,
) -> Result<AsyncVerifier<ReqwestFetcher>, Error> {
    let policy = Policy::single_tenant(tenant_id, app_id).build()?;
    let url = discovery_url(PUBLIC_AUTHORITY, tenant_id, TokenVersion::V2);
    let source = KeySource::from_discovery_url(&url, RefreshConfig::default());
    Ok(AsyncVerifier::new(
        policy,
        source,
        ReqwestFetcher::new(FetchConfig::default()),
    ))
}

/// A local mock issuer playing the test tenant, and a verifier that trusts it.
pub fn mock_verifier() -> Result<(MockIssuer, AsyncVerifier<ReqwestFetcher>), Error> {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID).build()?;
    let source = KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default());
    let fetcher = ReqwestFetcher::new(FetchConfig::default().dangerous_allow_http_loopback());
    Ok((issuer, AsyncVerifier::new(policy, source, fetcher)))
}

/// Test-tenant tokens valid for an hour from `now`.
#[derive(Debug, Clone)]
pub struct MockTokens {
    /// A user's token with `scp` = `Data.Read User.Read`.
    pub user: String,
    /// An application's token with `roles` = `["Data.Admin"]`.
    pub app: String,
}

impl MockTokens {
    /// Signs the tokens with the test tenant's key.
    pub fn new(now: u64) -> Self {
        let tenant = TestTenant::get();
        let header = TestTenant::header(Key::Rsa2048);
        Self {
            user: tenant.sign(Key::Rsa2048, &header, &TestTenant::v2_claims(now)),
            app: tenant.sign(Key::Rsa2048, &header, &TestTenant::app_claims(now)),
        }
    }

    /// Ready-made curl commands against `base` (`http://host:port`).
    pub fn curl_commands(&self, base: &str) -> Vec<String> {
        let auth = |t: &str| format!("-H 'Authorization: Bearer {t}'");
        vec![
            format!("curl -i {base}/health                                # 200, public"),
            format!("curl -i {base}/data                                  # 401, no token"),
            format!(
                "curl -i {} {base}/data   # 200, user with Data.Read",
                auth(&self.user)
            ),
            format!(
                "curl -i {} {base}/admin  # 200, app with Data.Admin",
                auth(&self.app)
            ),
            format!(
                "curl -i {} {base}/admin  # 403, user lacks the role",
                auth(&self.user)
            ),
            format!(
                "curl -i {} {base}/data   # 403, app lacks the scope",
                auth(&self.app)
            ),
        ]
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("entra_jwt_tower", tracing::Level::DEBUG)
        .with_default(tracing::Level::INFO);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(filter)
        .init();

    let mock = std::env::args().skip(1).any(|a| a == "--mock");
    let listen = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let base = format!("http://{}", listener.local_addr()?);

    // The mock issuer (when used) must live as long as the server.
    let (_issuer, app) = if mock {
        let (issuer, verifier) = mock_verifier()?;
        println!(
            "mock issuer for tenant {} at {}",
            tt::TENANT_ID,
            issuer.base_url()
        );
        println!("try (tokens valid for one hour):");
        for line in MockTokens::new(unix_now()).curl_commands(&base) {
            println!("  {line}");
        }
        (Some(issuer), router(verifier)?)
    } else {
        let tenant = std::env::var("ENTRA_TENANT_ID")
            .map_err(|_| "set ENTRA_TENANT_ID and ENTRA_APP_ID, or pass --mock")?;
        let app_id = std::env::var("ENTRA_APP_ID")
            .map_err(|_| "set ENTRA_TENANT_ID and ENTRA_APP_ID, or pass --mock")?;
        (None, router(tenant_verifier(&tenant, &app_id)?)?)
    };
    println!("listening on {base}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

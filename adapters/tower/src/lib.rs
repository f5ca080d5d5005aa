//! tower/axum middleware that lets through only requests with a valid
//! Microsoft Entra ID access token, answering every other one per RFC 6750.
//!
//! [`EntraAuthLayer`] reads `Authorization: Bearer <token>`, verifies the token
//! with the shared [`AsyncVerifier`](entra_jwt::AsyncVerifier) (keys fetched,
//! cached by `kid` and refreshed per SPEC §7), and passes the request on with
//! the [`VerifiedClaims`] in its extensions. [`Require`] guards a route by
//! scopes (delegated tokens) or roles (application tokens). With the `axum`
//! feature (default), [`VerifiedClaims`] and [`ClaimsAs<T>`](ClaimsAs) are
//! extractors. The layer itself needs only tower, http and http-body, so it
//! works with axum, plain hyper, or any tower stack.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use entra_jwt::core::{KeySource, PUBLIC_AUTHORITY, Policy, RefreshConfig, TokenVersion, discovery_url};
//! use entra_jwt::{AsyncVerifier, FetchConfig};
//! use entra_jwt_reqwest::ReqwestFetcher;
//! use entra_jwt_tower::{EntraAuthLayer, Match, Require, VerifiedClaims};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (tenant, app_id) = (std::env::var("ENTRA_TENANT_ID")?, std::env::var("ENTRA_APP_ID")?);
//!     let policy = Policy::single_tenant(&tenant, &app_id).build()?;
//!     let discovery = discovery_url(PUBLIC_AUTHORITY, &tenant, TokenVersion::V2);
//!     let keys = KeySource::from_discovery_url(&discovery, RefreshConfig::default());
//!     let verifier = AsyncVerifier::new(policy, keys, ReqwestFetcher::new(FetchConfig::default()));
//!     let hello = |claims: VerifiedClaims| async move { format!("hello {:?}", claims.oid) };
//!     let app = Router::new()
//!         .route("/data", get(hello).route_layer(Require::scopes(Match::Any, ["Data.Read"])?))
//!         .route("/admin", get(hello).route_layer(Require::roles(Match::Any, ["Data.Admin"])?))
//!         .route("/health", get(|| async { "ok" }))
//!         .layer(EntraAuthLayer::new(verifier).exclude_path("/health"));
//!     axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! `Router::layer` wraps every route and the fallback, so unknown paths need a
//! token too (no path enumeration without one); `route_layer` puts a guard on
//! the routes above it. A runnable version with a local mock issuer is the
//! `protected_api` example (`cargo run -p entra-jwt-tower --example
//! protected_api -- --mock`).
//!
//! # Answers (SPEC §8)
//!
//! | situation | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no `Authorization`, or another scheme | 401 | `Bearer` |
//! | bad, expired, wrong-audience... token | 401 | `Bearer error="invalid_token", error_description="the access token is invalid"` |
//! | token also in the query or a form body, or two `Authorization` headers | 400 | `Bearer error="invalid_request"` |
//! | [`Require`] not met | 403 | `Bearer error="insufficient_scope", scope="Data.Read"` |
//! | signing keys never loaded | 503 | none, `Retry-After: 30` |
//!
//! Every answer comes from one function, [`Rejection::to_response`], over the
//! core's [`challenge`](entra_jwt::core::challenge). Bodies are empty: the
//! reason (the error code, such as `expired` or `wrong_audience`) goes to
//! [`tracing`] at `debug` (503 at `warn`, a misconfiguration at `error`),
//! never with the token.
//!
//! # Without axum
//!
//! The inner service gets the request with a [`CheckedBody`] and the claims
//! in its extensions:
//!
//! ```
//! use bytes::Bytes;
//! use entra_jwt_tower::{BearerVerifier, CheckedBody, EntraAuthLayer, VerifiedClaims};
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use tower::{Service, ServiceBuilder, service_fn};
//!
//! type Body = Full<Bytes>;
//!
//! async fn handle(req: Request<CheckedBody<Body>>) -> Result<Response<Body>, std::convert::Infallible> {
//!     let oid = VerifiedClaims::from_extensions(req.extensions()).and_then(|c| c.oid.clone());
//!     Ok(Response::new(Body::from(oid.unwrap_or_default())))
//! }
//!
//! fn protect<V: BearerVerifier>(verifier: V) -> impl Service<Request<Body>, Response = Response<Body>> {
//!     ServiceBuilder::new()
//!         .layer(EntraAuthLayer::new(verifier).exclude_prefix("/public"))
//!         .service(service_fn(handle))
//! }
//! ```
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `axum` | yes | `FromRequestParts` for [`VerifiedClaims`] and [`ClaimsAs`] (also as `Option<_>`), `IntoResponse` for [`Rejection`] (axum 0.8 through axum-core 0.5) |
#![forbid(unsafe_code)]

mod auth;
mod body;
mod claims;
mod guard;
mod rejection;
mod verifier;

pub use auth::{DEFAULT_MAX_FORM_BODY_BYTES, EntraAuth, EntraAuthLayer, ResponseFuture};
pub use body::CheckedBody;
pub use claims::{ClaimsAs, VerifiedClaims};
pub use entra_jwt::core::{Claims, Error, Match};
pub use guard::{Require, RequireFuture, RequireService};
pub use rejection::{DEFAULT_RETRY_AFTER, Rejection};
pub use verifier::BearerVerifier;

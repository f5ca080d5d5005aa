//! The authentication layer: bearer token in, verified claims out.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use entra_jwt::core::{Claims, Error, parse_authorization};
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderValue, Request, Response};
use http_body::Body;
use tower::{Layer, Service};

use crate::body::{CheckedBody, FormRefusal, check_form_body, is_form, query_has_access_token};
use crate::claims::VerifiedClaims;
use crate::rejection::{DEFAULT_RETRY_AFTER, Rejection};
use crate::verifier::BearerVerifier;

/// Default cap on an `application/x-www-form-urlencoded` body read to look
/// for a second token: 64 KiB.
pub const DEFAULT_MAX_FORM_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Config {
    exclude_paths: Vec<String>,
    exclude_prefixes: Vec<String>,
    retry_after: Duration,
    max_form_body_bytes: usize,
    check_form_body: bool,
}

impl Config {
    fn is_excluded(&self, path: &str) -> bool {
        self.exclude_paths.iter().any(|p| p == path)
            || self.exclude_prefixes.iter().any(|prefix| {
                path.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/')
                })
            })
    }
}

/// A leading `/`, so that `"health"` means `/health`.
fn absolute(path: String) -> String {
    if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    }
}

/// The [`Layer`] that authenticates every request with an Entra ID bearer token.
///
/// For each request (paths excluded with [`exclude_path`](Self::exclude_path)
/// or [`exclude_prefix`](Self::exclude_prefix) pass straight through):
///
/// 1. Reads `Authorization: Bearer <token>` with the core's
///    [`parse_authorization`] (one header; a second `Authorization` header is
///    a 400 `invalid_request`).
/// 2. With a bearer header present, an `access_token` query parameter is the
///    token given twice: 400 `invalid_request`. (Without a header, query and
///    body tokens are not looked at: only the header form is accepted, so the
///    request has no credentials.)
/// 3. Verifies the token with the shared verifier. Failures are answered per
///    SPEC §8 through [`Rejection`]: 401 with a bare `WWW-Authenticate: Bearer`
///    when there are no credentials, 401 `invalid_token` with a generic
///    description, 503 with `Retry-After` while no signing keys could be
///    loaded, 403 `insufficient_scope` when the verifier's policy requires
///    scopes or roles the token lacks.
/// 4. For an `application/x-www-form-urlencoded` request (only once the token
///    verified, so unauthenticated clients cannot make it buffer anything),
///    reads the body, up to [`DEFAULT_MAX_FORM_BODY_BYTES`] by default, and
///    refuses it with 400 `invalid_request` when it carries `access_token`
///    (RFC 6750 §2.2: the token given twice). A form body it cannot check (over
///    the cap, content-coded, or failing mid-read) is refused the same way
///    rather than passed on unchecked. The bytes read are replayed to the
///    inner service ([`CheckedBody`]); other bodies are never read.
/// 5. Inserts [`VerifiedClaims`] into the request extensions and calls the
///    inner service.
///
/// The verifier is shared: every clone of the layer and of its service holds
/// the same [`BearerVerifier`] (an `Arc` inside [`AsyncVerifier`](entra_jwt::AsyncVerifier)).
///
/// The inner service receives `Request<CheckedBody<B>>`; refusals have an
/// empty body (`ResBody::default()`).
///
/// Browsers send CORS preflight (`OPTIONS`) requests without credentials:
/// put a CORS layer outside this one (in axum, `.layer(cors)` after
/// `.layer(EntraAuthLayer::new(..))`), so preflights are answered before
/// authentication.
#[derive(Clone)]
pub struct EntraAuthLayer<V> {
    verifier: V,
    config: Arc<Config>,
}

impl<V> fmt::Debug for EntraAuthLayer<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraAuthLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<V: BearerVerifier> EntraAuthLayer<V> {
    /// A layer that verifies bearer tokens with `verifier`.
    pub fn new(verifier: V) -> Self {
        Self {
            verifier,
            config: Arc::new(Config {
                exclude_paths: Vec::new(),
                exclude_prefixes: Vec::new(),
                retry_after: DEFAULT_RETRY_AFTER,
                max_form_body_bytes: DEFAULT_MAX_FORM_BODY_BYTES,
                check_form_body: true,
            }),
        }
    }

    /// Lets requests for exactly this path through without a token (for
    /// example `/health`). Repeatable.
    ///
    /// Paths are compared byte for byte with the request's URI path as the
    /// layer sees it (percent-encoding and all, no normalisation, without
    /// the query): `/health` excludes neither `/health/` nor `/Health`, which
    /// therefore still need a token. Behind axum's `nest`, the path is the
    /// one inside the nested router. A missing leading `/` is added.
    #[must_use]
    pub fn exclude_path(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config)
            .exclude_paths
            .push(absolute(path.into()));
        self
    }

    /// Lets requests under this path prefix through without a token, on
    /// segment boundaries: `/public` excludes `/public` and `/public/...` but
    /// not `/publication`; `/public/` excludes `/public/...` only.
    /// Repeatable; compared as in [`exclude_path`](Self::exclude_path).
    #[must_use]
    pub fn exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config)
            .exclude_prefixes
            .push(absolute(prefix.into()));
        self
    }

    /// The `Retry-After` sent with 503 answers while no signing keys are
    /// loaded (whole seconds, at least 1; default [`DEFAULT_RETRY_AFTER`], the
    /// key source's first retry delay).
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        Arc::make_mut(&mut self.config).retry_after = delay;
        self
    }

    /// The largest `application/x-www-form-urlencoded` body read to look for
    /// a second token (default [`DEFAULT_MAX_FORM_BODY_BYTES`]); a larger one
    /// is refused with 400 `invalid_request`.
    #[must_use]
    pub fn max_form_body_bytes(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.config).max_form_body_bytes = bytes;
        self
    }

    /// DANGER: never reads form bodies, so a token given in the header and
    /// again in an `application/x-www-form-urlencoded` body is not refused
    /// (RFC 6750 §2.2). The layer itself only ever uses the header token;
    /// choose this only when no handler reads `access_token` from a form and
    /// large form bodies must stream.
    #[must_use]
    pub fn dangerous_skip_form_body_check(mut self) -> Self {
        Arc::make_mut(&mut self.config).check_form_body = false;
        self
    }

    /// The shared verifier.
    #[must_use]
    pub fn verifier(&self) -> &V {
        &self.verifier
    }
}

impl<S, V: Clone> Layer<S> for EntraAuthLayer<V> {
    type Service = EntraAuth<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        EntraAuth {
            inner,
            verifier: self.verifier.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

/// The [`Service`] made by [`EntraAuthLayer`]: see there.
#[derive(Clone)]
pub struct EntraAuth<S, V> {
    inner: S,
    verifier: V,
    config: Arc<Config>,
}

impl<S: fmt::Debug, V> fmt::Debug for EntraAuth<S, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraAuth")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, V> EntraAuth<S, V> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, V, ReqBody, ResBody> Service<Request<ReqBody>> for EntraAuth<S, V>
where
    S: Service<Request<CheckedBody<ReqBody>>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    V: BearerVerifier,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready handles this request; its clone
        // stays behind for the next one (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let config = Arc::clone(&self.config);
        ResponseFuture(Box::pin(async move {
            // Split first: only `Parts` (which is `Sync`) is borrowed across
            // the verification, never the body.
            let (mut parts, body) = req.into_parts();
            if config.is_excluded(parts.uri.path()) {
                return inner
                    .call(Request::from_parts(parts, CheckedBody::streaming(body)))
                    .await;
            }
            let claims = match authenticate(&verifier, &parts).await {
                Ok(claims) => claims,
                Err(rejection) => {
                    return Ok(rejection.retry_after(config.retry_after).to_response());
                }
            };
            let body = if config.check_form_body && is_form(&parts.headers) {
                match check_form_body(&parts.headers, body, config.max_form_body_bytes).await {
                    Ok(body) => body,
                    Err(refusal) => {
                        tracing::debug!(
                            second_token = refusal == FormRefusal::SecondToken,
                            "entra-jwt: form body refused"
                        );
                        let error = Error::InvalidRequest;
                        let rejection =
                            Rejection::with_challenge(error, verifier.challenge(&error));
                        return Ok(rejection.to_response());
                    }
                }
            } else {
                CheckedBody::streaming(body)
            };
            parts.extensions.insert(VerifiedClaims::new(claims));
            inner.call(Request::from_parts(parts, body)).await
        }))
    }
}

/// Steps 1 to 3: the token from the header, checked against the query, verified.
async fn authenticate<V: BearerVerifier>(verifier: &V, parts: &Parts) -> Result<Claims, Rejection> {
    let refuse = |error: Error| Rejection::with_challenge(error, verifier.challenge(&error));
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(refuse(Error::InvalidRequest));
    }
    let parsed = parse_authorization(
        header.map(HeaderValue::as_bytes),
        verifier.max_token_bytes(),
    );
    let bearer_in_header = parsed != Err(Error::NoCredentials);
    if bearer_in_header && query_has_access_token(parts.uri.query()) {
        return Err(refuse(Error::InvalidRequest));
    }
    let token = parsed.map_err(refuse)?;
    verifier.verify(token).await.map_err(refuse)
}

/// The response future of [`EntraAuth`].
pub struct ResponseFuture<T, E>(Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>);

impl<T, E> fmt::Debug for ResponseFuture<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<T, E> Future for ResponseFuture<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            exclude_paths: vec!["/health".into()],
            exclude_prefixes: vec!["/public".into(), "/static/".into()],
            retry_after: DEFAULT_RETRY_AFTER,
            max_form_body_bytes: DEFAULT_MAX_FORM_BODY_BYTES,
            check_form_body: true,
        }
    }

    #[test]
    fn exclusions_match_exact_paths_and_whole_segments() {
        let c = config();
        for path in ["/health", "/public", "/public/", "/public/a/b", "/static/x"] {
            assert!(c.is_excluded(path), "{path}");
        }
        for path in [
            "/health/",
            "/Health",
            "/healthz",
            "/%68ealth",
            "/publication",
            "/static",
            "/",
            "/api/health",
        ] {
            assert!(!c.is_excluded(path), "{path}");
        }
    }

    #[test]
    fn relative_paths_get_a_leading_slash() {
        assert_eq!(absolute("health".into()), "/health");
        assert_eq!(absolute("/health".into()), "/health");
    }
}

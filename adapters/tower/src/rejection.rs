//! The one mapping from a verification error to an HTTP response (SPEC §8).

use std::time::Duration;

use entra_jwt::core::{Challenge, Error, ErrorClass, challenge};
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

/// `Retry-After` sent with a 503 when no other value is configured: the key
/// source's first retry delay after a failed fetch
/// ([`DEFAULT_RETRY_INITIAL`](entra_jwt::core::DEFAULT_RETRY_INITIAL), 30 s).
pub const DEFAULT_RETRY_AFTER: Duration =
    Duration::from_secs(entra_jwt::core::DEFAULT_RETRY_INITIAL);

/// A refused request: the error (for logs) and the answer (for the client).
///
/// Every refusal of this crate, from the layer, the route guard and the axum
/// extractors, becomes a response through [`Rejection::to_response`], whose
/// status and `WWW-Authenticate` come from the core's [`challenge`]:
///
/// | error class | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no credentials | 401 | `Bearer` |
/// | invalid request | 400 | `Bearer error="invalid_request"` |
/// | invalid token | 401 | `Bearer error="invalid_token", error_description="the access token is invalid"` |
/// | insufficient scope | 403 | `Bearer error="insufficient_scope", scope="..."` |
/// | keys unavailable | 503 | none; `Retry-After` instead |
/// | configuration | 500 | none |
///
/// The body is empty: the internal reason ([`Error::code`]) never reaches the
/// client. It goes to [`tracing`] instead, without the token: at `debug` for
/// refused requests, `warn` for 503 and `error` for 500 (a misconfiguration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    error: Error,
    challenge: Challenge,
    retry_after: Duration,
}

impl Rejection {
    /// A refusal for `error` with the core's [`challenge`] (no `scope` attribute).
    #[must_use]
    pub fn new(error: Error) -> Self {
        let challenge = challenge(&error, None);
        Self::with_challenge(error, challenge)
    }

    /// A refusal for `error` answered with `challenge` (for example a
    /// [`Policy::challenge`](entra_jwt::core::Policy::challenge)).
    #[must_use]
    pub fn with_challenge(error: Error, challenge: Challenge) -> Self {
        Self {
            error,
            challenge,
            retry_after: DEFAULT_RETRY_AFTER,
        }
    }

    /// Sets the `Retry-After` of a 503 answer (whole seconds, at least 1).
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = delay;
        self
    }

    /// Why the request was refused (for logs and tests; never sent to the client).
    #[must_use]
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The status and `WWW-Authenticate` value the client gets.
    #[must_use]
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.challenge.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response: status, `WWW-Authenticate` (when due), `Retry-After`
    /// (on 503), and an empty body. Logs the reason (see the type's docs).
    #[must_use]
    pub fn to_response<B: Default>(&self) -> Response<B> {
        self.log();
        let mut response = Response::new(B::default());
        *response.status_mut() = self.status();
        if let Some(value) = &self.challenge.www_authenticate {
            // Scope values are validated scope-tokens, so this always converts.
            if let Ok(value) = HeaderValue::try_from(value.as_str()) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
        }
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            let secs = self.retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }

    fn log(&self) {
        let code = self.error.code();
        let claim = self.error.claim();
        let status = self.challenge.status;
        match self.error.class() {
            ErrorClass::Internal => tracing::error!(
                code,
                claim,
                status,
                reason = %self.error,
                "entra-jwt: request refused (server misconfiguration)"
            ),
            ErrorClass::Unavailable => tracing::warn!(
                code,
                status,
                "entra-jwt: request refused, signing keys unavailable"
            ),
            _ => tracing::debug!(code, claim, status, "entra-jwt: request refused"),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request refused ({}): {}",
            self.challenge.status, self.error
        )
    }
}

impl std::error::Error for Rejection {}

impl From<Error> for Rejection {
    fn from(error: Error) -> Self {
        Self::new(error)
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for Rejection {
    fn into_response(self) -> axum_core::response::Response {
        self.to_response()
    }
}

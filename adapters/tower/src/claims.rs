//! The verified claims, as the layer leaves them in the request extensions.

use std::ops::Deref;
use std::sync::Arc;

use entra_jwt::core::Claims;
#[cfg(feature = "axum")]
use entra_jwt::core::Error;

#[cfg(feature = "axum")]
use crate::rejection::Rejection;

/// The claims of the request's verified bearer token.
///
/// [`EntraAuthLayer`](crate::EntraAuthLayer) inserts one into the request
/// extensions of every request it lets through (except excluded paths).
/// Cheap to clone (an [`Arc`]); dereferences to [`Claims`].
///
/// Without axum: `request.extensions().get::<VerifiedClaims>()`. With the
/// `axum` feature it is an extractor: a handler argument `claims:
/// VerifiedClaims` gets the claims, and `Option<VerifiedClaims>` works on
/// excluded paths too. On a route the layer does not cover, the extractor
/// answers 500 (a misconfiguration, logged at `error`), never 200.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedClaims(Arc<Claims>);

impl VerifiedClaims {
    /// Wraps claims (for tests of handlers; the layer makes these in service).
    #[must_use]
    pub fn new(claims: Claims) -> Self {
        Self(Arc::new(claims))
    }

    /// The claims.
    #[must_use]
    pub fn claims(&self) -> &Claims {
        &self.0
    }

    /// The verified claims the layer put in `extensions`, if any.
    #[must_use]
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&Self> {
        extensions.get::<Self>()
    }
}

impl Deref for VerifiedClaims {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl AsRef<Claims> for VerifiedClaims {
    fn as_ref(&self) -> &Claims {
        &self.0
    }
}

/// The verified claims as the caller's own type, through serde
/// ([`Claims::deserialize`]): an axum extractor (feature `axum`).
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use entra_jwt_tower::ClaimsAs;
///
/// #[derive(serde::Deserialize)]
/// struct Caller {
///     tid: String,
///     oid: String,
///     #[serde(default)]
///     roles: Vec<String>,
/// }
///
/// async fn handler(ClaimsAs(caller): ClaimsAs<Caller>) -> String {
///     format!("{}/{} has {} roles", caller.tid, caller.oid, caller.roles.len())
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(handler);
/// # }
/// ```
///
/// Claims that do not deserialize into `T` (a claim the type requires is
/// missing or has another type) refuse the request with 401 `invalid_token`:
/// the token, though valid, is not one this API can serve (error code
/// `bad_claim`, claim `custom`, in the logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimsAs<T>(pub T);

#[cfg(feature = "axum")]
mod axum_impls {
    use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
    use http::request::Parts;
    use serde::de::DeserializeOwned;

    use super::{ClaimsAs, Error, Rejection, VerifiedClaims};

    /// The extractor runs on a route the layer does not cover.
    fn missing_layer() -> Rejection {
        Rejection::new(Error::InvalidConfig {
            reason: "no EntraAuthLayer in front of this route",
        })
    }

    impl<S: Send + Sync> FromRequestParts<S> for VerifiedClaims {
        type Rejection = Rejection;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
            parts
                .extensions
                .get::<Self>()
                .cloned()
                .ok_or_else(missing_layer)
        }
    }

    impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedClaims {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Self::Rejection> {
            Ok(parts.extensions.get::<Self>().cloned())
        }
    }

    impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ClaimsAs<T> {
        type Rejection = Rejection;

        async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
            let claims = parts
                .extensions
                .get::<VerifiedClaims>()
                .ok_or_else(missing_layer)?;
            claims.deserialize().map(ClaimsAs).map_err(Rejection::new)
        }
    }

    impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequestParts<S> for ClaimsAs<T> {
        type Rejection = Rejection;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Option<Self>, Rejection> {
            match parts.extensions.get::<VerifiedClaims>() {
                None => Ok(None),
                Some(claims) => claims
                    .deserialize()
                    .map(|t| Some(ClaimsAs(t)))
                    .map_err(Rejection::new),
            }
        }
    }
}

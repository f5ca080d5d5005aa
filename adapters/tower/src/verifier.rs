//! What the middleware needs of a verifier, implemented for the shared [`AsyncVerifier`].

use std::future::Future;

use entra_jwt::core::limits::DEFAULT_MAX_TOKEN_BYTES;
use entra_jwt::core::{Challenge, Claims, Error, challenge};
use entra_jwt::{AsyncCache, AsyncFetch, AsyncVerifier};

/// A verifier of bearer tokens the middleware can share between requests.
///
/// Implemented for [`AsyncVerifier`], the one to use: it is an [`Arc`](std::sync::Arc)
/// inside, so every clone (one per layered route, one per request) shares the
/// same keys and refresh state; no key is parsed or copied per request and no
/// lock is held across an `.await`. Implement it yourself to wrap a verifier
/// (metrics, a test double).
pub trait BearerVerifier: Clone + Send + Sync + 'static {
    /// Verifies `token` (the value of `Authorization: Bearer <token>`).
    fn verify(&self, token: &str) -> impl Future<Output = Result<Claims, Error>> + Send;

    /// The HTTP answer for `error` (SPEC §8). Default: [`challenge`] without a
    /// `scope` attribute; [`AsyncVerifier`] answers with its policy's
    /// [`Policy::challenge`](entra_jwt::core::Policy::challenge), so that an
    /// `insufficient_scope` refusal names the scopes and roles the policy requires.
    fn challenge(&self, error: &Error) -> Challenge {
        challenge(error, None)
    }

    /// The token size cap checked before any decoding (SPEC §1). Default 32 KiB.
    fn max_token_bytes(&self) -> usize {
        DEFAULT_MAX_TOKEN_BYTES
    }
}

impl<F, C> BearerVerifier for AsyncVerifier<F, C>
where
    F: AsyncFetch + 'static,
    C: AsyncCache + 'static,
{
    fn verify(&self, token: &str) -> impl Future<Output = Result<Claims, Error>> + Send {
        AsyncVerifier::verify(self, token)
    }

    fn challenge(&self, error: &Error) -> Challenge {
        self.policy().challenge(error)
    }

    fn max_token_bytes(&self) -> usize {
        self.policy().max_token_bytes()
    }
}

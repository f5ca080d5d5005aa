//! Entra ID access-token verification for Rust services: the drivers that run
//! `entra-jwt-core`'s sans-IO key source against real fetchers and caches.
#![forbid(unsafe_code)]

mod async_verifier;
pub mod cache;
pub mod clock;
pub mod fetch;
mod shared;
pub mod token_cache;
mod verifier;

pub use async_verifier::{AsyncVerifier, AsyncVerifierBuilder};
pub use cache::{
    AsyncCache, Cache, CachedDocument, MemoryCache, NoCache, REFRESH_LOCK_TTL, RefreshLock,
};
pub use clock::{Clock, Entropy, FixedEntropy, ManualClock, StdEntropy, SystemClock};
pub use entra_jwt_core as core;
pub use fetch::{AsyncFetch, Fetch, FetchConfig, FetchError, FetchErrorKind};
pub use shared::{CACHE_TTL_INTERVALS, FLEET_WAIT};
pub use token_cache::{TokenCache, TokenCacheConfig};
pub use verifier::{MAX_REFRESH_WAIT, Verifier, VerifierBuilder};

//! Entra ID access-token verification for Rust services.
#![forbid(unsafe_code)]

pub mod cache;
pub mod fetch;

pub use cache::{AsyncCache, Cache, CachedDocument, MemoryCache, NoCache};
pub use entra_jwt_core as core;
pub use fetch::{AsyncFetch, Fetch, FetchConfig, FetchError, FetchErrorKind};

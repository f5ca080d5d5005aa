//! Sans-IO, `no_std` verifier of Microsoft Entra ID (Azure AD) RS256 access tokens.
//!
//! An API protected by Entra ID receives `Authorization: Bearer <JWT>`. This
//! crate decides whether that token was signed by one of the tenant's current
//! keys and carries the right claims, or says precisely why not. It does no
//! I/O: the caller hands it the token, the current time, a [`Policy`] and a
//! [`KeySet`]; fetching and caching keys belongs to the adapter crates.
//!
//! ```
//! use entra_jwt_core::{KeySet, Match, Policy};
//! # use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
//! # let (jwks, now) = (TestTenant::jwks_json().as_bytes(), tt::NOW);
//! # let token = TestTenant::get().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &TestTenant::v2_claims(now));
//! # let (tenant_id, app_id) = (tt::TENANT_ID, tt::APP_ID);
//! let policy = Policy::single_tenant(tenant_id, app_id)
//!     .require_scopes(Match::Any, ["Data.Read"])
//!     .build()?;
//! let keys = KeySet::from_jwks(jwks)?; // once per fetched JWKS, never per token
//! let claims = policy.verify(&token, &keys, now)?; // `now`: seconds since the epoch
//! assert_eq!(claims.tid.as_deref(), Some(tenant_id));
//! # Ok::<(), entra_jwt_core::Error>(())
//! ```
//!
//! # What it does and does not do
//!
//! ```text
//!  Authorization header ──parse_authorization──► token
//!                                                  │
//!  KeySource (refresh policy) ──poll_fetch──► URL to GET (by an adapter)
//!     ▲  discovery / JWKS bytes ──handle_fetched──┘
//!     └──keys(now)──► KeySet ──────────────────────┤
//!  now (caller's clock) ───────────────────────────┤
//!                                                  ▼
//!                         Policy::verify ──► Ok(Claims) | Err(Error) ──challenge──► 401/403/503
//! ```
//!
//! The rationale behind each rule is in [`manual`].
//!
//! - Does: strict compact-JWS parsing, header rules, key lookup by exact `kid`
//!   (`x5t` only without `kid`), RS256 on pre-parsed keys, every Entra claim
//!   rule (times with leeway, audience, single-/multi-tenant/explicit issuers,
//!   versions, `tid`, key issuer, scopes and roles), RFC 6750 challenges.
//! - Does not: open sockets, read a clock or the environment, spawn threads,
//!   draw random numbers, chain-validate `x5c` certificates (trust comes from
//!   fetching metadata over HTTPS from the configured authority), or ever use
//!   `jku`, `x5u`, `jwk` or `x5c` from a token header.
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `std` | yes | `std::error::Error` for [`Error`] |
//!
//! # Design choices
//! - The algorithm comes from the key type (RSA) and this crate (RS256), never
//!   from the token: `alg` is only compared against `RS256`.
//! - Strict by default; each loosening is a `dangerous_*` builder method.
//! - Keys are parsed once per key set (including the Montgomery constants of
//!   the RSA public operation); a verification never re-parses key material.
//!   [`Policy::verify_shared_with`] allocates twice for an ordinary token (the
//!   decoded payload and the [`SharedClaims`] holding it); [`Policy::verify`]
//!   also copies them into the owned [`Claims`].
//! - The signature check is a [`SignatureBackend`]. [`VartimeBackend`] is the
//!   pure-Rust default: a variable-time (the inputs are public) Montgomery
//!   exponentiation with a rebuild-and-compare PKCS#1 v1.5 check, tested
//!   against every Wycheproof vector and differentially against the `rsa`
//!   crate ([`RustCryptoBackend`], kept as the reference). `entra-jwt-aws-lc`
//!   plugs in aws-lc-rs.
//! - Errors carry a stable [`Error::code`] and never echo the token or keys.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod b64;
mod bearer;
mod claims;
mod discovery;
mod error;
mod json;
mod jwks;
mod key;
pub mod limits;
pub mod manual;
mod policy;
mod scan;
mod source;
mod token;
mod vartime;
mod x5c;

pub use bearer::{Challenge, INVALID_TOKEN_DESCRIPTION, challenge, parse_authorization};
pub use claims::{ClaimStrs, Claims, SharedClaims};
pub use discovery::{OpenIdConfiguration, PUBLIC_AUTHORITY, discovery_url};
pub use error::{ALL_CODES, Error, ErrorClass};
pub use jwks::{Jwk, KeyMaterial, KeySet, SkipReason, SkippedKey};
pub use key::{KeyError, RsaKey, RustCryptoBackend, SignatureBackend, VartimeBackend};
pub use policy::{
    Match, Policy, PolicyBuilder, TENANT_PLACEHOLDER, TokenVersion, V1_ISSUER_TEMPLATE,
    V2_ISSUER_TEMPLATE, is_guid,
};
pub use source::{
    DEFAULT_REFRESH_INTERVAL, DEFAULT_RETRY_INITIAL, DEFAULT_UNKNOWN_KID_INTERVAL, DocumentKind,
    FetchReason, FetchRequest, KeySource, KidVerdict, MIN_UNKNOWN_KID_INTERVAL,
    REFRESH_JITTER_PERCENT, RefreshConfig,
};
pub use token::{Header, RS256, UntrustedToken};

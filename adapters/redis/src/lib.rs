//! A Redis shared cache for `entra-jwt`: the replicas of a service share the
//! tenant's discovery and JWKS documents, so a fleet fetches each key rotation
//! from Microsoft once, and a replica that restarts verifies its first token
//! without waiting on the identity provider.
//!
//! [`RedisCache`] implements the blocking [`entra_jwt::Cache`] port (for
//! [`entra_jwt::Verifier`]) and [`AsyncRedisCache`] the [`entra_jwt::AsyncCache`]
//! port (for [`entra_jwt::AsyncVerifier`], on Tokio), both on the [`redis`] crate.
//!
//! # What is stored
//!
//! - Documents under `{prefix}doc:{hex SHA-256 of the document URL}` (prefix
//!   [`DEFAULT_PREFIX`] unless configured), as a versioned envelope
//!   (`entra-jwt v1\n{fetched_at}\n{length}\n{body}`), with the TTL the driver
//!   asks for: a little beyond the refresh interval, so a stale copy is still
//!   there as last-known-good.
//! - Refresh locks under `{prefix}lock:{hex SHA-256 of the URL}`: `SET NX PX`
//!   with a random token, released by a check-and-delete Lua script so a slow
//!   replica can never free another's lock. A lock expires by itself if its
//!   holder dies; a replica that waits too long for another's fetch fetches
//!   itself (the driver does this after [`entra_jwt::FLEET_WAIT`]).
//!
//! # Redis is never in the way
//!
//! Every Redis failure (down, refusing, slow, flushed, restarted, wrong type,
//! read-only replica, bad password) is logged at `debug` level with [`tracing`]
//! and answered as "no cache": `get` gives `None`, `put` is dropped,
//! `lock_refresh` gives [`RefreshLock::Unavailable`](entra_jwt::RefreshLock).
//! The verifier then goes on with its keys in memory and fetches directly, so
//! no verification ever fails because of Redis. Connecting and each command
//! have their own timeout ([`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_COMMAND_TIMEOUT`]).
//! Nothing connects at construction: the first call connects. A connection
//! that breaks is replaced on the same call when the server answers at once
//! (an idle connection closed by a proxy costs nothing); after a failed
//! connection or a timeout the cache stays off for [`DEFAULT_RECONNECT_BACKOFF`],
//! so a Redis that is down costs at most one connection attempt per second,
//! not one per call.
//!
//! # Security
//!
//! Everything read from Redis is untrusted input. A value under one of our
//! keys that is not a well-formed envelope (a foreign, truncated or corrupt
//! value, or one larger than [`MAX_DOCUMENT_BYTES`]) is ignored, logged
//! without its contents, and overwritten by the next fetch; a well-formed one
//! is still parsed and validated by the driver exactly like a body fresh from
//! the network. Validation cannot tell a genuine JWKS from one planted by
//! whoever can write to the Redis database, though: **signing keys are trusted
//! only because they were fetched from the configured HTTPS authority**, and a
//! shared cache extends that trust to everyone who can write to it. Give the
//! cache a Redis (or an ACL user with a key pattern covering the prefix) that
//! only the service's replicas can write to, and use `rediss://` across any
//! network you do not control. Document bodies are never logged; the URL's
//! password is never printed (see [`RedisCacheConfig`]'s `Debug`).
//!
//! # Connecting
//!
//! A URL as the `redis` crate reads it: `redis://[user][:password@]host[:port][/db]`,
//! or `rediss://` for TLS (rustls on the *ring* provider, no aws-lc build;
//! server certificates checked against Mozilla's roots, or against the roots
//! given to [`RedisCacheConfig::tls_root_certificates_pem`]). Certificate checks
//! cannot be turned off (a `#insecure` fragment is refused). The `redis` crate
//! takes rustls's process-wide default provider: when the process has none,
//! building a cache for a `rediss://` URL installs *ring*'s.
//!
//! ```no_run
//! use std::sync::Arc;
//! use entra_jwt::core::{KeySource, Policy, RefreshConfig, TokenVersion, discovery_url};
//! use entra_jwt::{FetchConfig, Verifier};
//! use entra_jwt_redis::{RedisCache, RedisCacheConfig};
//! use entra_jwt_ureq::UreqFetcher;
//!
//! let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
//! let policy = Policy::single_tenant(tenant, "6e74172b-be56-4843-9ff4-e66a39bb12e3").build()?;
//! let url = discovery_url("https://login.microsoftonline.com", tenant, TokenVersion::V2);
//! let source = KeySource::from_discovery_url(&url, RefreshConfig::default());
//! let cache = RedisCache::new(
//!     RedisCacheConfig::new("rediss://api-replica:secret@cache.internal:6380/0").prefix("my-api:"),
//! )?;
//! let verifier = Verifier::builder(policy, source, UreqFetcher::new(FetchConfig::default()))
//!     .cache(Arc::new(cache))
//!     .build();
//! let claims = verifier.verify("eyJ...")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod async_cache;
mod blocking;
mod envelope;

use std::fmt;
use std::time::Duration;

pub use async_cache::AsyncRedisCache;
pub use blocking::RedisCache;
pub use envelope::MAX_DOCUMENT_BYTES;

/// The key prefix unless configured: `entra-jwt:`.
pub const DEFAULT_PREFIX: &str = "entra-jwt:";

/// How long connecting (TCP, TLS and the `AUTH`/`HELLO` handshake) may take
/// unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// How long one command may take unless configured.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(200);

/// How long the cache stays off after a failed connection attempt or a
/// command timeout, unless configured.
pub const DEFAULT_RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// The shortest timeout or backoff accepted (shorter ones are raised to it).
const MIN_DURATION: Duration = Duration::from_millis(1);

/// Where the cache connects and how it names its keys.
///
/// ```
/// use std::time::Duration;
/// use entra_jwt_redis::RedisCacheConfig;
///
/// let config = RedisCacheConfig::new("redis://127.0.0.1:6379")
///     .prefix("orders-api:")
///     .command_timeout(Duration::from_millis(100));
/// assert!(config.document_key("https://example.com/keys").starts_with("orders-api:doc:"));
/// ```
#[derive(Clone)]
pub struct RedisCacheConfig {
    url: String,
    prefix: String,
    connect_timeout: Duration,
    command_timeout: Duration,
    reconnect_backoff: Duration,
    tls_root_pem: Option<Vec<u8>>,
}

impl fmt::Debug for RedisCacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheConfig")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("tls_root_pem", &self.tls_root_pem.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl RedisCacheConfig {
    /// The defaults, connecting to `url` (`redis://` or `rediss://`, with a
    /// user and password when the server wants them).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_string(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            reconnect_backoff: DEFAULT_RECONNECT_BACKOFF,
            tls_root_pem: None,
        }
    }

    /// Prefixes every key with `prefix` (default [`DEFAULT_PREFIX`]): services
    /// sharing one Redis never see each other's entries.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting may take (default [`DEFAULT_CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(MIN_DURATION);
        self
    }

    /// How long one command may take (default [`DEFAULT_COMMAND_TIMEOUT`]).
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.max(MIN_DURATION);
        self
    }

    /// How long the cache stays off after a failed connection or a timeout
    /// (default [`DEFAULT_RECONNECT_BACKOFF`]).
    #[must_use]
    pub fn reconnect_backoff(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff = backoff.max(MIN_DURATION);
        self
    }

    /// For `rediss://` only: trusts exactly the CA certificates in `pem`
    /// (PEM) instead of Mozilla's roots, for a Redis with a private CA.
    #[must_use]
    pub fn tls_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_pem = Some(pem.into());
        self
    }

    /// The key prefix.
    #[must_use]
    pub fn get_prefix(&self) -> &str {
        &self.prefix
    }

    /// The connect timeout.
    #[must_use]
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The per-command timeout.
    #[must_use]
    pub fn get_command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// The reconnect backoff.
    #[must_use]
    pub fn get_reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }

    /// The Redis key the document fetched from `url` is stored under:
    /// `{prefix}doc:{hex SHA-256 of url}`.
    #[must_use]
    pub fn document_key(&self, url: &str) -> String {
        format!("{}doc:{}", self.prefix, envelope::url_hash(url))
    }

    /// The Redis key of the fleet's refresh lock for `url`:
    /// `{prefix}lock:{hex SHA-256 of url}`.
    #[must_use]
    pub fn lock_key(&self, url: &str) -> String {
        format!("{}lock:{}", self.prefix, envelope::url_hash(url))
    }

    /// The `redis` client for this configuration (it does not connect).
    fn client(&self) -> Result<redis::Client, ConfigError> {
        let url = self.url.trim();
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        let tls = match scheme {
            "redis" | "valkey" | "unix" | "redis+unix" | "valkey+unix" => false,
            "rediss" | "valkeys" => true,
            _ => {
                return Err(ConfigError::new(
                    "a Redis URL starts with redis:// or rediss:// (or unix://)",
                ));
            }
        };
        if url.contains('#') {
            return Err(ConfigError::new(
                "a URL fragment (such as #insecure) is not accepted: TLS certificate checks cannot be turned off",
            ));
        }
        let client = if let Some(pem) = &self.tls_root_pem {
            if !tls {
                return Err(ConfigError::new(
                    "TLS root certificates are set, but the URL is not rediss://",
                ));
            }
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )
        } else {
            redis::Client::open(url)
        };
        let client = client.map_err(|e| ConfigError(format!("invalid Redis URL: {e}")))?;
        // No `CLIENT SETINFO` round trip when connecting: a handshake with a
        // frozen server then waits on nothing but AUTH/SELECT (when used).
        let info = client.get_connection_info().clone();
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let client = redis::Client::open(info.set_redis_settings(settings))
            .map_err(|e| ConfigError(format!("invalid Redis URL: {e}")))?;
        if tls {
            ensure_crypto_provider();
        }
        Ok(client)
    }
}

/// The `redis` crate builds its rustls configuration with the process-wide
/// default provider; when the application installed none, install *ring*
/// (the one this crate enables) so that a TLS connection cannot panic when
/// several providers are compiled in.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is set.
        let _already_set = rustls::crypto::ring::default_provider().install_default();
    }
}

/// `scheme://host...` with any user and password replaced by `***`.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rfind('@') {
                Some(at) => {
                    let host = authority.get(at.saturating_add(1)..).unwrap_or("");
                    format!("{scheme}://***@{host}{path}")
                }
                None => url.to_string(),
            }
        }
        None => "<unparsed>".to_string(),
    }
}

/// A configuration the cache cannot be built from (a malformed or
/// unsupported URL, unreadable TLS roots). Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl ConfigError {
    fn new(message: &str) -> Self {
        Self(message.to_string())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Whether an error leaves the connection usable: the server answered (with
/// an error, or a value of another type), so the stream is still in step.
fn keeps_connection(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::Server(_)
            | redis::ErrorKind::Extension
            | redis::ErrorKind::UnexpectedReturnType
    )
}

/// The `PX` argument for a TTL in whole seconds (at least 1 s).
fn ttl_millis(ttl_secs: u64) -> u64 {
    ttl_secs.clamp(1, u64::MAX / 1000).saturating_mul(1000)
}

/// The `PX` argument for a lock TTL (at least 1 ms).
fn lock_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Check-and-delete: releases the lock only if `ARGV[1]` still holds it.
const UNLOCK_SCRIPT: &str =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

/// The commands both caches send.
mod commands {
    use redis::{Cmd, cmd};

    /// Reads at most the envelope's largest size, so a huge value planted
    /// under the key is never read whole.
    pub(crate) fn get(key: &str) -> Cmd {
        let mut c = cmd("GETRANGE");
        c.arg(key)
            .arg(0)
            .arg(crate::envelope::MAX_ENVELOPE_BYTES.saturating_sub(1));
        c
    }

    pub(crate) fn put(key: &str, value: &[u8], ttl_secs: u64) -> Cmd {
        let mut c = cmd("SET");
        c.arg(key)
            .arg(value)
            .arg("PX")
            .arg(crate::ttl_millis(ttl_secs));
        c
    }

    pub(crate) fn lock(key: &str, token: &str, ttl: std::time::Duration) -> Cmd {
        let mut c = cmd("SET");
        c.arg(key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(crate::lock_millis(ttl));
        c
    }

    pub(crate) fn lock_holder(key: &str) -> Cmd {
        let mut c = cmd("GET");
        c.arg(key);
        c
    }

    pub(crate) fn unlock(key: &str, token: &str) -> Cmd {
        let mut c = cmd("EVAL");
        c.arg(crate::UNLOCK_SCRIPT).arg(1).arg(key).arg(token);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let c = RedisCacheConfig::new("rediss://alice:s3cret@cache.example:6380/2");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
        assert!(
            shown.contains("rediss://***@cache.example:6380/2"),
            "{shown}"
        );
        let c = RedisCacheConfig::new("redis://:pw@host/0");
        assert!(!format!("{c:?}").contains("pw@"));
    }

    #[test]
    fn keys_are_namespaced_hashes_of_the_url() {
        let c = RedisCacheConfig::new("redis://127.0.0.1").prefix("p:");
        let doc = c.document_key("https://example.com/keys");
        let lock = c.lock_key("https://example.com/keys");
        assert!(doc.starts_with("p:doc:"));
        assert!(lock.starts_with("p:lock:"));
        assert_eq!(doc.len(), "p:doc:".len() + 64);
        assert_ne!(
            doc,
            c.document_key("https://example.com/keys2"),
            "one key per URL"
        );
        assert_eq!(
            RedisCacheConfig::new("redis://x").document_key("u"),
            format!("entra-jwt:doc:{}", envelope::url_hash("u"))
        );
    }

    #[test]
    fn urls_are_checked_without_echoing_them() {
        for bad in [
            "http://127.0.0.1:6379",
            "127.0.0.1:6379",
            "rediss://h:6380/#insecure",
            "redis://user:hunter2@:notaport",
        ] {
            let err = RedisCacheConfig::new(bad).client().unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        let err = RedisCacheConfig::new("redis://127.0.0.1")
            .tls_root_certificates_pem("x")
            .client()
            .unwrap_err();
        assert!(err.to_string().contains("rediss"), "{err}");
        assert!(
            RedisCacheConfig::new("redis://u:p@127.0.0.1:1/3")
                .client()
                .is_ok()
        );
        assert!(
            RedisCacheConfig::new("rediss://127.0.0.1:1")
                .client()
                .is_ok()
        );
    }

    #[test]
    fn ttls_are_never_zero() {
        assert_eq!(ttl_millis(0), 1000);
        assert_eq!(ttl_millis(86_400), 86_400_000);
        assert!(ttl_millis(u64::MAX) > 0);
        assert_eq!(lock_millis(Duration::ZERO), 1);
        assert_eq!(lock_millis(Duration::from_secs(15)), 15_000);
    }
}

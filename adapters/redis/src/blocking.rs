//! The blocking cache: one connection behind a mutex, with timeouts.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use entra_jwt::{Cache, CachedDocument, RefreshLock};
use redis::{Cmd, FromRedisValue};
use tracing::debug;

use crate::envelope::{self, Rejected};
use crate::{ConfigError, RedisCacheConfig, commands, keeps_connection};

/// The connection, or why there is none.
enum Conn {
    /// Not connected yet (or dropped after a broken connection that was
    /// replaced at once): the next call connects.
    Idle,
    Up(redis::Connection),
    /// A connection attempt failed or a command timed out: no attempt before then.
    Down(Instant),
}

/// A blocking [`Cache`] on Redis, for [`entra_jwt::Verifier`]: see the
/// [crate docs](crate) for what it stores and how it fails.
///
/// One connection, used by one caller at a time: the drivers call the cache
/// only around key refreshes (a few commands per refresh), never per token.
/// A caller waits at most about one connect timeout plus one command timeout
/// (twice that when a broken connection is replaced).
pub struct RedisCache {
    client: redis::Client,
    config: RedisCacheConfig,
    conn: Mutex<Conn>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache for `config`. Does not connect: the first call does, so a
    /// service starts (and verifies) even while Redis is down.
    ///
    /// # Errors
    /// When the URL is malformed or unsupported (see [`RedisCacheConfig::new`]).
    pub fn new(config: RedisCacheConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            client: config.client()?,
            config,
            conn: Mutex::new(Conn::Idle),
        })
    }

    /// A cache with the default settings for `url`.
    ///
    /// # Errors
    /// When the URL is malformed or unsupported.
    pub fn open(url: &str) -> Result<Self, ConfigError> {
        Self::new(RedisCacheConfig::new(url))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RedisCacheConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        // The state is a plain value; a panic elsewhere cannot leave it torn.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn down(&self) -> Conn {
        Conn::Down(Instant::now() + self.config.reconnect_backoff)
    }

    fn connect(&self) -> Conn {
        let connected = self
            .client
            .get_connection_with_timeout(self.config.connect_timeout)
            .and_then(|c| {
                c.set_read_timeout(Some(self.config.command_timeout))?;
                c.set_write_timeout(Some(self.config.command_timeout))?;
                Ok(c)
            });
        match connected {
            Ok(c) => Conn::Up(c),
            Err(e) => {
                debug!(error = %e, backoff = ?self.config.reconnect_backoff, "redis cache: cannot connect; cache off");
                self.down()
            }
        }
    }

    /// Runs `cmd`; `None` on any failure. Connects when needed; replaces a
    /// broken connection once (the server answered the new one at once);
    /// after a timeout or a failed connection, backs off.
    fn run<T: FromRedisValue>(&self, what: &'static str, cmd: &Cmd) -> Option<T> {
        let mut conn = self.lock();
        let mut fresh = false;
        for _attempt in 0..2 {
            match &*conn {
                Conn::Up(_) => {}
                Conn::Down(until) if Instant::now() < *until => return None,
                Conn::Down(_) | Conn::Idle => {
                    *conn = self.connect();
                    fresh = true;
                }
            }
            let Conn::Up(c) = &mut *conn else {
                return None;
            };
            match cmd.query::<T>(c) {
                Ok(v) => return Some(v),
                Err(e) if keeps_connection(&e) => {
                    debug!(op = what, error = %e, "redis cache: command refused");
                    return None;
                }
                Err(e) if !fresh && !e.is_timeout() => {
                    // An old connection that broke (server restarted, idle
                    // connection closed by a proxy): one new one, at once.
                    debug!(op = what, error = %e, "redis cache: connection broken; reconnecting");
                    *conn = Conn::Idle;
                }
                Err(e) => {
                    debug!(op = what, error = %e, backoff = ?self.config.reconnect_backoff, "redis cache: command failed; cache off");
                    *conn = self.down();
                    return None;
                }
            }
        }
        None
    }
}

/// Logs why a stored value is ignored: never its contents.
pub(crate) fn log_rejected(key: &str, why: Rejected) {
    debug!(
        key,
        reason = why.as_str(),
        "redis cache: ignoring a foreign or corrupt entry"
    );
}

/// The cached document from a `GETRANGE` answer, if it is a well-formed envelope.
pub(crate) fn document_from(key: &str, raw: &[u8]) -> Option<CachedDocument> {
    if raw.is_empty() {
        return None;
    }
    envelope::decode(raw)
        .map_err(|why| log_rejected(key, why))
        .ok()
}

impl Cache for RedisCache {
    fn get(&self, url: &str) -> Option<CachedDocument> {
        let key = self.config.document_key(url);
        let raw: Vec<u8> = self.run("get", &commands::get(&key))?;
        document_from(&key, &raw)
    }

    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        let key = self.config.document_key(url);
        let Some(value) = envelope::encode(doc) else {
            debug!(key, "redis cache: document too large to share; not stored");
            return;
        };
        let _stored: Option<()> = self.run("put", &commands::put(&key, &value, ttl_secs));
    }

    fn lock_refresh(&self, url: &str, ttl: Duration) -> RefreshLock {
        let key = self.config.lock_key(url);
        let token = envelope::lock_token();
        match self.run::<Option<String>>("lock", &commands::lock(&key, &token, ttl)) {
            None => RefreshLock::Unavailable,
            Some(Some(_ok)) => RefreshLock::Acquired(token),
            // Not set: held by another replica, unless our own first attempt
            // took it before its connection broke.
            Some(None) => {
                match self.run::<Option<String>>("lock holder", &commands::lock_holder(&key)) {
                    Some(Some(holder)) if holder == token => RefreshLock::Acquired(token),
                    _ => RefreshLock::HeldElsewhere,
                }
            }
        }
    }

    fn unlock_refresh(&self, url: &str, token: &str) {
        let key = self.config.lock_key(url);
        let _released: Option<i64> = self.run("unlock", &commands::unlock(&key, token));
    }
}

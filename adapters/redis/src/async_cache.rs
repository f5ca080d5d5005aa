//! The async cache: one multiplexed connection (Tokio), every command under
//! a timeout.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use entra_jwt::{AsyncCache, CachedDocument, RefreshLock};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue};
use tracing::debug;

use crate::blocking::document_from;
use crate::envelope;
use crate::{ConfigError, RedisCacheConfig, commands, keeps_connection};

#[derive(Default)]
struct State {
    /// The connection and its generation (so a failure on an old connection
    /// never drops a newer one).
    conn: Option<(u64, MultiplexedConnection)>,
    generation: u64,
    /// No connection attempt before then.
    down_until: Option<Instant>,
}

enum Ready {
    Conn(u64, MultiplexedConnection),
    Down,
    Connect,
}

/// An async [`AsyncCache`] on Redis, for [`entra_jwt::AsyncVerifier`]: see
/// the [crate docs](crate) for what it stores and how it fails.
///
/// Uses one [`MultiplexedConnection`] shared by every caller (commands are
/// pipelined, nobody waits for another's command), created by the first call
/// on the caller's Tokio runtime, which needs its IO and time drivers
/// (`#[tokio::main]` has both). Every command runs under
/// [`tokio::time::timeout`]; concurrent callers share one connection attempt.
/// A connection whose runtime has gone is replaced like a broken one.
pub struct AsyncRedisCache {
    client: redis::Client,
    config: RedisCacheConfig,
    state: Mutex<State>,
    /// Held while connecting, so callers share one attempt.
    connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AsyncRedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRedisCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AsyncRedisCache {
    /// A cache for `config`. Does not connect (and needs no runtime): the
    /// first call does, so a service starts even while Redis is down.
    ///
    /// # Errors
    /// When the URL is malformed or unsupported (see [`RedisCacheConfig::new`]).
    pub fn new(config: RedisCacheConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            client: config.client()?,
            config,
            state: Mutex::new(State::default()),
            connecting: tokio::sync::Mutex::new(()),
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain values, never held across an await; poison cannot tear them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ready(&self) -> Ready {
        let st = self.lock();
        if let Some((generation, conn)) = &st.conn {
            return Ready::Conn(*generation, conn.clone());
        }
        if st.down_until.is_some_and(|t| Instant::now() < t) {
            return Ready::Down;
        }
        Ready::Connect
    }

    /// The connection (and whether this call made it), connecting if needed.
    async fn connection(&self) -> Option<(u64, MultiplexedConnection, bool)> {
        match self.ready() {
            Ready::Conn(g, c) => return Some((g, c, false)),
            Ready::Down => return None,
            Ready::Connect => {}
        }
        // Another caller may be connecting: wait for it (bounded), then look again.
        let _connecting = tokio::time::timeout(self.config.connect_timeout, self.connecting.lock())
            .await
            .ok()?;
        match self.ready() {
            Ready::Conn(g, c) => return Some((g, c, false)),
            Ready::Down => return None,
            Ready::Connect => {}
        }
        let timeout = self.config.connect_timeout;
        let options = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            // Each command gets its own tokio timeout in `run`.
            .set_response_timeout(None);
        let attempt = tokio::time::timeout(
            timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&options),
        )
        .await;
        let mut st = self.lock();
        match attempt {
            Ok(Ok(conn)) => {
                st.generation = st.generation.wrapping_add(1);
                st.conn = Some((st.generation, conn.clone()));
                st.down_until = None;
                Some((st.generation, conn, true))
            }
            Ok(Err(e)) => {
                debug!(error = %e, backoff = ?self.config.reconnect_backoff, "redis cache: cannot connect; cache off");
                st.down_until = Some(Instant::now() + self.config.reconnect_backoff);
                None
            }
            Err(_elapsed) => {
                debug!(timeout = ?timeout, backoff = ?self.config.reconnect_backoff, "redis cache: connecting timed out; cache off");
                st.down_until = Some(Instant::now() + self.config.reconnect_backoff);
                None
            }
        }
    }

    /// Forgets connection `generation` (if still current), backing off or not.
    fn drop_connection(&self, generation: u64, backoff: bool) {
        let mut st = self.lock();
        if st.conn.as_ref().is_some_and(|(g, _)| *g == generation) {
            st.conn = None;
        }
        if backoff {
            st.down_until = Some(Instant::now() + self.config.reconnect_backoff);
        }
    }

    /// Runs `cmd` under the command timeout; `None` on any failure (same
    /// rules as the blocking cache).
    async fn run<T: FromRedisValue>(&self, what: &'static str, cmd: &Cmd) -> Option<T> {
        let (mut generation, mut conn, mut fresh) = self.connection().await?;
        for _attempt in 0..2 {
            let answer =
                tokio::time::timeout(self.config.command_timeout, cmd.query_async::<T>(&mut conn))
                    .await;
            match answer {
                Ok(Ok(v)) => return Some(v),
                Ok(Err(e)) if keeps_connection(&e) => {
                    debug!(op = what, error = %e, "redis cache: command refused");
                    return None;
                }
                Ok(Err(e)) if !fresh && !e.is_timeout() => {
                    debug!(op = what, error = %e, "redis cache: connection broken; reconnecting");
                    self.drop_connection(generation, false);
                    (generation, conn, _) = self.connection().await?;
                    fresh = true;
                }
                Ok(Err(e)) => {
                    debug!(op = what, error = %e, backoff = ?self.config.reconnect_backoff, "redis cache: command failed; cache off");
                    self.drop_connection(generation, true);
                    return None;
                }
                Err(_elapsed) => {
                    debug!(op = what, timeout = ?self.config.command_timeout, backoff = ?self.config.reconnect_backoff, "redis cache: command timed out; cache off");
                    self.drop_connection(generation, true);
                    return None;
                }
            }
        }
        None
    }
}

impl AsyncCache for AsyncRedisCache {
    async fn get(&self, url: &str) -> Option<CachedDocument> {
        let key = self.config.document_key(url);
        let raw: Vec<u8> = self.run("get", &commands::get(&key)).await?;
        document_from(&key, &raw)
    }

    async fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        let key = self.config.document_key(url);
        let Some(value) = envelope::encode(doc) else {
            debug!(key, "redis cache: document too large to share; not stored");
            return;
        };
        let _stored: Option<()> = self
            .run("put", &commands::put(&key, &value, ttl_secs))
            .await;
    }

    async fn lock_refresh(&self, url: &str, ttl: Duration) -> RefreshLock {
        let key = self.config.lock_key(url);
        let token = envelope::lock_token();
        match self
            .run::<Option<String>>("lock", &commands::lock(&key, &token, ttl))
            .await
        {
            None => RefreshLock::Unavailable,
            Some(Some(_ok)) => RefreshLock::Acquired(token),
            Some(None) => {
                match self
                    .run::<Option<String>>("lock holder", &commands::lock_holder(&key))
                    .await
                {
                    Some(Some(holder)) if holder == token => RefreshLock::Acquired(token),
                    _ => RefreshLock::HeldElsewhere,
                }
            }
        }
    }

    async fn unlock_refresh(&self, url: &str, token: &str) {
        let key = self.config.lock_key(url);
        let _released: Option<i64> = self.run("unlock", &commands::unlock(&key, token)).await;
    }
}

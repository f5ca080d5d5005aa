//! The cache port: fetched documents shared across a process or a fleet, and
//! the refresh lock that lets one replica fetch for all of them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A fetched discovery or JWKS document, as stored in a cache.
///
/// Whatever comes back from a cache is untrusted input: the driver parses and
/// validates it exactly like a body fresh from the network. Keys are trusted
/// only because they were fetched from the configured HTTPS authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedDocument {
    /// The body, as fetched.
    pub body: Vec<u8>,
    /// When it was fetched, in seconds since the epoch.
    pub fetched_at: u64,
}

/// The answer to "may this replica fetch `url` now?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshLock {
    /// This replica holds the lock (with this token) and should fetch, store
    /// the document, then release the lock.
    Acquired(String),
    /// Another replica is fetching: wait briefly for its document in the cache.
    HeldElsewhere,
    /// No fleet coordination (no shared cache, or it is down): fetch directly.
    Unavailable,
}

/// How long a refresh lock lives if its holder dies without releasing it: the
/// fetch timeout (10 s) plus a margin.
pub const REFRESH_LOCK_TTL: Duration = Duration::from_secs(15);

/// A blocking document cache, keyed by document URL.
///
/// Implementations must never fail a verification: a cache that is down
/// answers `None`/[`RefreshLock::Unavailable`] and ignores writes.
pub trait Cache: Send + Sync {
    /// The document cached for `url`, if any.
    fn get(&self, url: &str) -> Option<CachedDocument>;
    /// Stores `doc` for `url`, to expire after `ttl_secs`.
    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64);
    /// Tries to become the one replica that fetches `url` now. The lock must
    /// expire by itself after `ttl`, so a replica that dies cannot block the fleet.
    /// Default: no fleet, fetch directly.
    fn lock_refresh(&self, url: &str, ttl: Duration) -> RefreshLock {
        let _ = (url, ttl);
        RefreshLock::Unavailable
    }
    /// Releases a lock taken with [`lock_refresh`](Self::lock_refresh), only
    /// if `token` still holds it (a slow replica must not free another's lock).
    fn unlock_refresh(&self, url: &str, token: &str) {
        let _ = (url, token);
    }
}

/// An async document cache, keyed by document URL (same contract as [`Cache`]).
pub trait AsyncCache: Send + Sync {
    /// The document cached for `url`, if any.
    fn get(&self, url: &str) -> impl Future<Output = Option<CachedDocument>> + Send;
    /// Stores `doc` for `url`, to expire after `ttl_secs`.
    fn put(
        &self,
        url: &str,
        doc: &CachedDocument,
        ttl_secs: u64,
    ) -> impl Future<Output = ()> + Send;
    /// See [`Cache::lock_refresh`]. Default: no fleet.
    fn lock_refresh(&self, url: &str, ttl: Duration) -> impl Future<Output = RefreshLock> + Send {
        let _ = (url, ttl);
        async { RefreshLock::Unavailable }
    }
    /// See [`Cache::unlock_refresh`].
    fn unlock_refresh(&self, url: &str, token: &str) -> impl Future<Output = ()> + Send {
        let _ = (url, token);
        async {}
    }
}

impl<T: Cache + ?Sized> Cache for std::sync::Arc<T> {
    fn get(&self, url: &str) -> Option<CachedDocument> {
        (**self).get(url)
    }
    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        (**self).put(url, doc, ttl_secs);
    }
    fn lock_refresh(&self, url: &str, ttl: Duration) -> RefreshLock {
        (**self).lock_refresh(url, ttl)
    }
    fn unlock_refresh(&self, url: &str, token: &str) {
        (**self).unlock_refresh(url, token);
    }
}

impl<T: AsyncCache + ?Sized> AsyncCache for std::sync::Arc<T> {
    fn get(&self, url: &str) -> impl Future<Output = Option<CachedDocument>> + Send {
        (**self).get(url)
    }
    fn put(
        &self,
        url: &str,
        doc: &CachedDocument,
        ttl_secs: u64,
    ) -> impl Future<Output = ()> + Send {
        (**self).put(url, doc, ttl_secs)
    }
    fn lock_refresh(&self, url: &str, ttl: Duration) -> impl Future<Output = RefreshLock> + Send {
        (**self).lock_refresh(url, ttl)
    }
    fn unlock_refresh(&self, url: &str, token: &str) -> impl Future<Output = ()> + Send {
        (**self).unlock_refresh(url, token)
    }
}

/// No cache at all: every document comes from the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl Cache for NoCache {
    fn get(&self, _: &str) -> Option<CachedDocument> {
        None
    }
    fn put(&self, _: &str, _: &CachedDocument, _: u64) {}
}

impl AsyncCache for NoCache {
    async fn get(&self, _: &str) -> Option<CachedDocument> {
        None
    }
    async fn put(&self, _: &str, _: &CachedDocument, _: u64) {}
}

/// Most documents an in-memory cache holds; one key source needs two
/// (discovery and JWKS), so this only guards against unbounded growth.
pub const MEMORY_CACHE_MAX_ENTRIES: usize = 64;

#[derive(Debug, Default)]
struct MemoryState {
    /// Document and the `fetched_at`-based time it expires at.
    docs: HashMap<String, (CachedDocument, u64)>,
    /// Refresh locks: token and when they lapse.
    locks: HashMap<String, (String, Instant)>,
}

/// An in-process cache, shared by every verifier in the process that is given
/// it (for example several tenants' verifiers, or tests playing a fleet).
/// Entries expire `ttl` after their `fetched_at`; expired ones are evicted
/// when another document is stored.
#[derive(Debug, Default)]
pub struct MemoryCache {
    state: Mutex<MemoryState>,
    next_token: AtomicU64,
}

impl MemoryCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A poisoned map is still a valid map of immutable values.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Cache for MemoryCache {
    fn get(&self, url: &str) -> Option<CachedDocument> {
        self.lock().docs.get(url).map(|(doc, _)| doc.clone())
    }

    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        let expires_at = doc.fetched_at.saturating_add(ttl_secs);
        let mut st = self.lock();
        st.docs.retain(|_, (_, exp)| *exp > doc.fetched_at);
        if st.docs.len() >= MEMORY_CACHE_MAX_ENTRIES && !st.docs.contains_key(url) {
            return;
        }
        st.docs.insert(url.to_string(), (doc.clone(), expires_at));
    }

    fn lock_refresh(&self, url: &str, ttl: Duration) -> RefreshLock {
        let now = Instant::now();
        let mut st = self.lock();
        st.locks.retain(|_, (_, until)| *until > now);
        if st.locks.contains_key(url) {
            return RefreshLock::HeldElsewhere;
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed).to_string();
        st.locks.insert(url.to_string(), (token.clone(), now + ttl));
        RefreshLock::Acquired(token)
    }

    fn unlock_refresh(&self, url: &str, token: &str) {
        let mut st = self.lock();
        if st.locks.get(url).is_some_and(|(held, _)| held == token) {
            st.locks.remove(url);
        }
    }
}

impl AsyncCache for MemoryCache {
    async fn get(&self, url: &str) -> Option<CachedDocument> {
        Cache::get(self, url)
    }
    async fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        Cache::put(self, url, doc, ttl_secs);
    }
    async fn lock_refresh(&self, url: &str, ttl: Duration) -> RefreshLock {
        Cache::lock_refresh(self, url, ttl)
    }
    async fn unlock_refresh(&self, url: &str, token: &str) {
        Cache::unlock_refresh(self, url, token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lock_is_exclusive_expires_and_checks_its_token() {
        let c = MemoryCache::new();
        let RefreshLock::Acquired(token) = Cache::lock_refresh(&c, "u", Duration::from_secs(60))
        else {
            panic!()
        };
        assert_eq!(
            Cache::lock_refresh(&c, "u", Duration::from_secs(60)),
            RefreshLock::HeldElsewhere
        );
        Cache::unlock_refresh(&c, "u", "someone else's token");
        assert_eq!(
            Cache::lock_refresh(&c, "u", Duration::from_secs(60)),
            RefreshLock::HeldElsewhere
        );
        Cache::unlock_refresh(&c, "u", &token);
        assert!(matches!(
            Cache::lock_refresh(&c, "u", Duration::ZERO),
            RefreshLock::Acquired(_)
        ));
        // A zero-TTL lock has already lapsed: its holder "died".
        assert!(matches!(
            Cache::lock_refresh(&c, "u", Duration::from_secs(60)),
            RefreshLock::Acquired(_)
        ));
    }
}

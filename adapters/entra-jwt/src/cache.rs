//! The cache port: fetched documents shared across a process or a fleet.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// A fetched discovery or JWKS document, as stored in a cache.
///
/// Whatever comes back from a cache is untrusted input: the driver parses and
/// validates it exactly like a body fresh from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedDocument {
    /// The body, as fetched.
    pub body: Vec<u8>,
    /// When it was fetched, in seconds since the epoch.
    pub fetched_at: u64,
}

/// A blocking document cache, keyed by document URL.
///
/// Implementations must never fail a verification: a cache that is down
/// answers `None` to `get` and ignores `put`.
pub trait Cache: Send + Sync {
    /// The document cached for `url`, if any.
    fn get(&self, url: &str) -> Option<CachedDocument>;
    /// Stores `doc` for `url`, to expire after `ttl_secs`.
    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64);
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
}

impl<T: Cache + ?Sized> Cache for std::sync::Arc<T> {
    fn get(&self, url: &str) -> Option<CachedDocument> {
        (**self).get(url)
    }
    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        (**self).put(url, doc, ttl_secs);
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

/// An in-process cache, shared by every verifier in the process that is given
/// it. Entries expire after their TTL, measured in the `fetched_at` time base.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, (CachedDocument, u64)>>,
}

impl MemoryCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (CachedDocument, u64)>> {
        // A poisoned map is still a valid map of immutable values.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Cache for MemoryCache {
    fn get(&self, url: &str) -> Option<CachedDocument> {
        self.lock().get(url).map(|(doc, _)| doc.clone())
    }

    fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        let expires_at = doc.fetched_at.saturating_add(ttl_secs);
        let mut map = self.lock();
        map.retain(|_, (_, exp)| *exp > doc.fetched_at);
        if map.len() >= MEMORY_CACHE_MAX_ENTRIES && !map.contains_key(url) {
            return;
        }
        map.insert(url.to_string(), (doc.clone(), expires_at));
    }
}

impl AsyncCache for MemoryCache {
    async fn get(&self, url: &str) -> Option<CachedDocument> {
        Cache::get(self, url)
    }
    async fn put(&self, url: &str, doc: &CachedDocument, ttl_secs: u64) {
        Cache::put(self, url, doc, ttl_secs);
    }
}

//! The async verifier: the same key lifecycle as [`Verifier`](crate::Verifier),
//! for Tokio services.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use entra_jwt_core::{
    Claims, DocumentKind, Error, FetchRequest, KeySet, KeySource, KidVerdict, Policy, SharedClaims,
    SignatureBackend, VartimeBackend,
};
use tokio::sync::Notify;

use crate::cache::{AsyncCache, CachedDocument, NoCache, REFRESH_LOCK_TTL, RefreshLock};
use crate::clock::{Clock, Entropy, StdEntropy, SystemClock};
use crate::fetch::AsyncFetch;
use crate::shared::{self, Plan, Snapshot};
use crate::token_cache::{TokenCache, TokenCacheConfig, verify_through};
use crate::verifier::MAX_REFRESH_WAIT;

/// Verifies Entra ID access tokens in async code, keeping the keys fresh.
///
/// Needs a Tokio runtime with its time driver (`#[tokio::main]` has one):
/// every fetch runs in a task of its own, so a caller that is cancelled
/// mid-refresh cannot leave the key source waiting for an answer that never
/// comes. Reads never wait behind a refresh; a token with an unknown `kid`
/// waits for one shared refresh at most once per unknown-kid interval. No lock
/// is held across an `.await`.
pub struct AsyncVerifier<F, C = NoCache> {
    inner: Arc<Inner<F, C>>,
}

impl<F, C> Clone for AsyncVerifier<F, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F, C> std::fmt::Debug for AsyncVerifier<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncVerifier")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Configures an [`AsyncVerifier`] before it is shared.
#[must_use = "call .build()"]
pub struct AsyncVerifierBuilder<F, C = NoCache> {
    policy: Policy,
    source: KeySource,
    fetcher: F,
    cache: C,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    backend: Arc<dyn SignatureBackend>,
    token_cache: Option<TokenCacheConfig>,
}

impl<F, C> AsyncVerifierBuilder<F, C> {
    /// Shares fetched documents through `cache` (a process or a fleet).
    pub fn cache<C2>(self, cache: C2) -> AsyncVerifierBuilder<F, C2> {
        AsyncVerifierBuilder {
            policy: self.policy,
            source: self.source,
            fetcher: self.fetcher,
            cache,
            clock: self.clock,
            entropy: self.entropy,
            backend: self.backend,
            token_cache: self.token_cache,
        }
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `entropy` for refresh jitter instead of OS-seeded randomness.
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.entropy = entropy;
        self
    }

    /// Uses another RS256 backend (for example aws-lc-rs).
    pub fn backend(mut self, backend: Arc<dyn SignatureBackend>) -> Self {
        self.backend = backend;
        self
    }

    /// Keeps verified tokens in a bounded cache (off by default): a token seen
    /// again skips its signature check but is re-checked against the policy
    /// at the current time and against the current key set on every hit (see
    /// [`TokenCache`](crate::TokenCache)).
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.token_cache = Some(config);
        self
    }

    /// The verifier.
    pub fn build(self) -> AsyncVerifier<F, C> {
        AsyncVerifier {
            inner: Arc::new(Inner {
                policy: self.policy,
                fetcher: self.fetcher,
                cache: self.cache,
                clock: self.clock,
                entropy: self.entropy,
                backend: self.backend,
                snapshot: ArcSwap::from_pointee(Snapshot::of(&self.source, false)),
                tokens: self.token_cache.map(TokenCache::new),
                state: Mutex::new(State {
                    source: self.source,
                    cache_consulted: false,
                }),
                fetched: Notify::new(),
            }),
        }
    }
}

struct Inner<F, C> {
    policy: Policy,
    fetcher: F,
    cache: C,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    backend: Arc<dyn SignatureBackend>,
    /// The key set for the verification path, republished whenever the
    /// state lock is released (see [`StateGuard`]).
    snapshot: ArcSwap<Snapshot>,
    tokens: Option<TokenCache>,
    state: Mutex<State>,
    fetched: Notify,
}

struct State {
    source: KeySource,
    cache_consulted: bool,
}

impl<F: AsyncFetch + 'static> AsyncVerifier<F, NoCache> {
    /// A verifier with the system clock, OS-seeded jitter, no shared cache and
    /// the pure-Rust backend.
    pub fn new(policy: Policy, source: KeySource, fetcher: F) -> Self {
        Self::builder(policy, source, fetcher).build()
    }

    /// A builder to set the cache, clock, jitter or backend.
    pub fn builder(
        policy: Policy,
        source: KeySource,
        fetcher: F,
    ) -> AsyncVerifierBuilder<F, NoCache> {
        AsyncVerifierBuilder {
            policy,
            source,
            fetcher,
            cache: NoCache,
            clock: Arc::new(SystemClock),
            entropy: Arc::new(StdEntropy::default()),
            backend: Arc::new(VartimeBackend),
            token_cache: None,
        }
    }
}

impl<F: AsyncFetch + 'static, C: AsyncCache + 'static> AsyncVerifier<F, C> {
    /// The policy tokens are judged by.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Verifies a token at the clock's current time, returning the owned
    /// [`Claims`] (a copy of [`verify_shared`](Self::verify_shared)'s result).
    ///
    /// Before the first successful key load this answers
    /// [`Error::KeysUnavailable`] (503), never a token error.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        self.verify_shared(token).await?.to_claims()
    }

    /// Verifies a token at the clock's current time: the lean path. The key
    /// set is read from a lock-free snapshot; with a
    /// [`token_cache`](AsyncVerifierBuilder::token_cache), a token seen before
    /// is answered from it after re-checking the policy and its key.
    pub async fn verify_shared(&self, token: &str) -> Result<SharedClaims, Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let fast = {
            let snapshot = inner.snapshot.load();
            snapshot
                .usable(now)
                .map(|keys| inner.attempt(token, keys, now))
        };
        let first = match fast {
            Some(result) => result,
            None => {
                let keys = Inner::current_keys(inner, now).await?;
                inner.attempt(token, &keys, now)
            }
        };
        match first {
            Err(Error::UnknownKey) => {
                if inner.lock().source.handle_unknown_kid(now) == KidVerdict::Reject {
                    return Err(Error::UnknownKey);
                }
                Inner::refresh_and_wait(inner, now).await;
                let now = inner.clock.now();
                let keys = inner.lock().source.keys(now)?;
                inner.attempt(token, &keys, now)
            }
            other => other,
        }
    }

    /// Loads the keys now unless a usable set is loaded, waiting for the fetch.
    pub async fn load(&self) -> Result<Arc<KeySet>, Error> {
        let now = self.inner.clock.now();
        self.inner.consult_cache(now).await;
        Inner::refresh_and_wait(&self.inner, now).await;
        self.keys()
    }

    /// Runs any refresh that is due now and waits for it.
    pub async fn refresh_due(&self) {
        Inner::refresh_and_wait(&self.inner, self.inner.clock.now()).await;
    }

    /// When the next scheduled refresh or retry is due, in seconds since the epoch.
    #[must_use]
    pub fn next_refresh_at(&self) -> Option<u64> {
        self.inner.lock().source.poll_deadline()
    }

    /// The key set in use.
    pub fn keys(&self) -> Result<Arc<KeySet>, Error> {
        self.inner.lock().source.keys(self.inner.clock.now())
    }
}

impl<F: AsyncFetch + 'static, C: AsyncCache + 'static> Inner<F, C> {
    /// One verification against `keys`: the token cache first (when there
    /// is one), then the signature; a token that verifies is cached.
    fn attempt(&self, token: &str, keys: &Arc<KeySet>, now: u64) -> Result<SharedClaims, Error> {
        verify_through(
            self.tokens.as_ref(),
            &self.policy,
            self.backend.as_ref(),
            token,
            keys,
            now,
        )
    }

    fn lock(&self) -> StateGuard<'_> {
        // Critical sections are short and never span an await; a poisoned lock
        // still guards a consistent state.
        StateGuard {
            guard: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            snapshot: &self.snapshot,
        }
    }

    async fn current_keys(self: &Arc<Self>, now: u64) -> Result<Arc<KeySet>, Error> {
        if !self.lock().cache_consulted {
            self.consult_cache(now).await;
        }
        let (keys, request) = {
            let mut st = self.lock();
            let due = st.source.poll_deadline().is_some_and(|d| d <= now);
            let request = if due {
                st.source.poll_fetch(now, self.entropy.next_u32())
            } else {
                None
            };
            (st.source.keys(now), request)
        };
        let waiting = keys.is_err();
        if let Some(request) = request {
            self.spawn_fetches(request);
        }
        if waiting {
            self.wait_for_fetch().await;
            return self.lock().source.keys(self.clock.now());
        }
        keys
    }

    /// Starts the fetches the source wants now (or joins the ones in flight) and waits.
    async fn refresh_and_wait(self: &Arc<Self>, now: u64) {
        let request = {
            let mut st = self.lock();
            if st.source.is_fetching() {
                None
            } else {
                st.source.poll_fetch(now, self.entropy.next_u32())
            }
        };
        if let Some(request) = request {
            self.spawn_fetches(request);
        }
        self.wait_for_fetch().await;
    }

    fn spawn_fetches(self: &Arc<Self>, request: FetchRequest) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let guard = InFlight {
                inner: &me,
                kind: request.kind,
                settled: false,
            };
            guard.run(request).await;
        });
    }

    async fn wait_for_fetch(&self) {
        let wait = async {
            loop {
                let notified = self.fetched.notified();
                tokio::pin!(notified);
                // Register before checking, so a notification in between is not lost.
                notified.as_mut().enable();
                if !self.lock().source.is_fetching() {
                    return;
                }
                notified.await;
            }
        };
        let _timed_out = tokio::time::timeout(MAX_REFRESH_WAIT, wait).await;
    }

    async fn consult_cache(&self, now: u64) {
        let urls = {
            let mut st = self.lock();
            if std::mem::replace(&mut st.cache_consulted, true) {
                return;
            }
            shared::cache_urls(&st.source)
        };
        let (discovery_url, mut jwks_uri) = urls;
        if let Some(url) = discovery_url
            && let Some(doc) = self.cache.get(&url).await
        {
            let mut st = self.lock();
            jwks_uri = shared::adopt_cached(
                &mut st.source,
                now,
                self.entropy.next_u32(),
                DocumentKind::Discovery,
                &doc,
            )
            .or(jwks_uri);
        }
        if let Some(url) = jwks_uri
            && let Some(doc) = self.cache.get(&url).await
        {
            let mut st = self.lock();
            shared::adopt_cached(
                &mut st.source,
                now,
                self.entropy.next_u32(),
                DocumentKind::Jwks,
                &doc,
            );
        }
    }
}

impl<F: AsyncFetch + 'static, C: AsyncCache + 'static> Inner<F, C> {
    /// Fetches `request` so that one replica of a fleet fetches for all (the
    /// same rules as the blocking driver).
    async fn fetch_as_fleet(&self, request: &FetchRequest) -> (Result<Vec<u8>, ()>, u64) {
        let since = self.clock.now();
        let token = match self
            .cache
            .lock_refresh(&request.url, REFRESH_LOCK_TTL)
            .await
        {
            RefreshLock::Acquired(token) => {
                // Another replica may have fetched and released the lock
                // between our decision to refresh and our lock: use its copy.
                if let Some(doc) = self.cache.get(&request.url).await
                    && shared::fetched_by_other(request, &doc, since)
                {
                    self.cache.unlock_refresh(&request.url, &token).await;
                    return (Ok(doc.body), doc.fetched_at);
                }
                Some(token)
            }
            RefreshLock::HeldElsewhere => {
                let deadline = tokio::time::Instant::now() + shared::FLEET_WAIT;
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(shared::FLEET_POLL).await;
                    if let Some(doc) = self.cache.get(&request.url).await
                        && shared::fetched_by_other(request, &doc, since)
                    {
                        return (Ok(doc.body), doc.fetched_at);
                    }
                }
                None
            }
            RefreshLock::Unavailable => None,
        };
        let body = self.fetcher.get(&request.url).await.map_err(drop);
        let now = self.clock.now();
        if let Ok(bytes) = &body
            && shared::document_is_valid(request.kind, bytes)
        {
            let ttl = shared::cache_ttl(&self.lock().source);
            let doc = CachedDocument {
                body: bytes.clone(),
                fetched_at: now,
            };
            self.cache.put(&request.url, &doc, ttl).await;
        }
        if let Some(token) = token {
            self.cache.unlock_refresh(&request.url, &token).await;
        }
        (body, now)
    }
}

/// Owns the request in flight: if the task ends without handing its outcome
/// to the source (a panic in a fetcher), dropping this settles it as a failed
/// fetch, so the source never waits forever.
struct InFlight<'a, F: AsyncFetch + 'static, C: AsyncCache + 'static> {
    inner: &'a Arc<Inner<F, C>>,
    kind: DocumentKind,
    settled: bool,
}

impl<F: AsyncFetch + 'static, C: AsyncCache + 'static> InFlight<'_, F, C> {
    async fn run(mut self, mut request: FetchRequest) {
        let inner = self.inner;
        for _ in 0..shared::MAX_FETCHES_PER_REFRESH {
            self.kind = request.kind;
            self.settled = false;
            let cached = if shared::may_use_cache(&request) {
                inner.cache.get(&request.url).await
            } else {
                None
            };
            let plan = {
                let st = inner.lock();
                shared::plan(&st.source, &request, cached, inner.clock.now())
            };
            let (body, fetched_at) = match plan {
                Plan::UseCached(doc) => (Ok(doc.body), doc.fetched_at),
                Plan::Fetch => inner.fetch_as_fleet(&request).await,
            };
            let now = inner.clock.now();
            {
                let mut st = inner.lock();
                let _logged_by_caller = st.source.handle_fetched_at(
                    now,
                    inner.entropy.next_u32(),
                    request.kind,
                    body.as_deref().map_err(|&()| ()),
                    fetched_at,
                );
                self.settled = true;
            }
            let next = inner
                .lock()
                .source
                .poll_fetch(now, inner.entropy.next_u32());
            match next {
                Some(r) => request = r,
                None => break,
            }
        }
        inner.fetched.notify_waiters();
    }
}

impl<F: AsyncFetch + 'static, C: AsyncCache + 'static> Drop for InFlight<'_, F, C> {
    fn drop(&mut self) {
        if !self.settled {
            let now = self.inner.clock.now();
            let mut st = self.inner.lock();
            let _ignored =
                st.source
                    .handle_fetched(now, self.inner.entropy.next_u32(), self.kind, Err(()));
            drop(st);
            self.inner.fetched.notify_waiters();
        }
    }
}

/// The state lock's guard: republishes the verification path's snapshot
/// before the lock is released, so the snapshot never lags a change.
struct StateGuard<'a> {
    guard: MutexGuard<'a, State>,
    snapshot: &'a ArcSwap<Snapshot>,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        self.snapshot.store(Arc::new(Snapshot::of(
            &self.guard.source,
            self.guard.cache_consulted,
        )));
    }
}

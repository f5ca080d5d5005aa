//! The blocking verifier: a key source, a fetcher and a cache behind one
//! `verify(token)` that many threads call at once.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use entra_jwt_core::{
    Claims, DocumentKind, Error, FetchRequest, KeySet, KeySource, KidVerdict, Policy, SharedClaims,
    SignatureBackend, VartimeBackend,
};

use crate::cache::{Cache, CachedDocument, NoCache, REFRESH_LOCK_TTL, RefreshLock};
use crate::clock::{Clock, Entropy, StdEntropy, SystemClock};
use crate::fetch::Fetch;
use crate::shared::{self, Plan, Snapshot};
use crate::token_cache::{TokenCache, TokenCacheConfig, verify_through};

/// How long a caller waits for a refresh in flight before answering with
/// what it has: the fetch timeout (10 s) plus one retry's wait and a margin.
pub const MAX_REFRESH_WAIT: Duration = Duration::from_secs(20);

/// Verifies Entra ID access tokens, keeping the tenant's keys fresh.
///
/// Cheap to clone (all clones share one key source). Reads of the key set
/// never wait behind a refresh: a scheduled refresh runs on a background
/// thread, and only a token whose `kid` is unknown waits, for one shared
/// refresh at most once per unknown-kid interval. No lock is held across a
/// fetch or a cache call.
///
/// ```no_run
/// # use entra_jwt::{Verifier, Fetch, FetchError};
/// # struct MyFetcher; impl Fetch for MyFetcher { fn get(&self, _: &str) -> Result<Vec<u8>, FetchError> { Err(FetchError::new(entra_jwt::FetchErrorKind::Other, "")) } }
/// use entra_jwt::core::{KeySource, Policy, RefreshConfig, TokenVersion, discovery_url};
/// let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// let policy = Policy::single_tenant(tenant, "6e74172b-be56-4843-9ff4-e66a39bb12e3").build()?;
/// let url = discovery_url("https://login.microsoftonline.com", tenant, TokenVersion::V2);
/// let source = KeySource::from_discovery_url(&url, RefreshConfig::default());
/// let verifier = Verifier::new(policy, source, MyFetcher); // MyFetcher: e.g. entra-jwt-ureq
/// let claims = verifier.verify("eyJ...")?;
/// # Ok::<(), entra_jwt::core::Error>(())
/// ```
pub struct Verifier<F, C = NoCache> {
    inner: Arc<Inner<F, C>>,
}

impl<F, C> Clone for Verifier<F, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F, C> std::fmt::Debug for Verifier<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Verifier`] before it is shared.
#[must_use = "call .build()"]
pub struct VerifierBuilder<F, C = NoCache> {
    policy: Policy,
    source: KeySource,
    fetcher: F,
    cache: C,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    backend: Arc<dyn SignatureBackend>,
    token_cache: Option<TokenCacheConfig>,
}

impl<F, C> VerifierBuilder<F, C> {
    /// Shares fetched documents through `cache` (a process or a fleet).
    pub fn cache<C2>(self, cache: C2) -> VerifierBuilder<F, C2> {
        VerifierBuilder {
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
    pub fn build(self) -> Verifier<F, C> {
        Verifier {
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
                fetched: Condvar::new(),
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
    fetched: Condvar,
}

struct State {
    source: KeySource,
    cache_consulted: bool,
}

impl<F: Fetch + 'static> Verifier<F, NoCache> {
    /// A verifier with the system clock, OS-seeded jitter, no shared cache and
    /// the pure-Rust backend.
    pub fn new(policy: Policy, source: KeySource, fetcher: F) -> Self {
        Self::builder(policy, source, fetcher).build()
    }

    /// A builder to set the cache, clock, jitter or backend.
    pub fn builder(policy: Policy, source: KeySource, fetcher: F) -> VerifierBuilder<F, NoCache> {
        VerifierBuilder {
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

impl<F: Fetch + 'static, C: Cache + 'static> Verifier<F, C> {
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
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        self.verify_shared(token)?.to_claims()
    }

    /// Verifies a token at the clock's current time: the lean path. The key
    /// set is read from a lock-free snapshot (no lock shared by callers); with
    /// a [`token_cache`](VerifierBuilder::token_cache), a token seen before is
    /// answered from it after re-checking the policy and its key.
    pub fn verify_shared(&self, token: &str) -> Result<SharedClaims, Error> {
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
                let keys = inner.current_keys(now)?;
                inner.attempt(token, &keys, now)
            }
        };
        match first {
            Err(Error::UnknownKey) => {
                if inner.lock().source.handle_unknown_kid(now) == KidVerdict::Reject {
                    return Err(Error::UnknownKey);
                }
                inner.refresh_or_wait(now);
                let now = inner.clock.now();
                let keys = inner.lock().source.keys(now)?;
                inner.attempt(token, &keys, now)
            }
            other => other,
        }
    }

    /// How many verified tokens the token cache holds (0 without one).
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.inner.tokens.as_ref().map_or(0, TokenCache::len)
    }

    /// Loads the keys now unless a usable set is loaded, waiting for the
    /// fetch: for a service's start-up, so its first request does not pay for it.
    pub fn load(&self) -> Result<Arc<KeySet>, Error> {
        let now = self.inner.clock.now();
        self.inner.consult_cache(now);
        self.inner.refresh_or_wait(now);
        self.keys()
    }

    /// Runs any refresh that is due now on this thread (or waits for the one
    /// in flight). Drivers with their own scheduler call it at [`next_refresh_at`](Self::next_refresh_at).
    pub fn refresh_due(&self) {
        self.inner.refresh_or_wait(self.inner.clock.now());
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

impl<F: Fetch + 'static, C: Cache + 'static> Inner<F, C> {
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
        // Every critical section leaves the state consistent, so a poisoned
        // lock still guards a valid state; verification must not stop.
        StateGuard {
            guard: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            snapshot: &self.snapshot,
        }
    }

    /// The key set to verify with now. Starts a background refresh when one is
    /// due; waits only when no usable set is loaded.
    fn current_keys(self: &Arc<Self>, now: u64) -> Result<Arc<KeySet>, Error> {
        if !self.lock().cache_consulted {
            self.consult_cache(now);
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
        match (keys, request) {
            (Ok(keys), Some(request)) => {
                let me = Arc::clone(self);
                let spawned = std::thread::Builder::new()
                    .name("entra-jwt-refresh".into())
                    .spawn(move || me.run_fetches(request));
                if let Err(e) = spawned {
                    // No thread to be had: this caller runs the refresh itself.
                    drop(e);
                    self.refresh_or_wait(now);
                }
                Ok(keys)
            }
            (Ok(keys), None) => Ok(keys),
            (Err(_), Some(request)) => {
                self.run_fetches(request);
                self.lock().source.keys(self.clock.now())
            }
            (Err(_), None) => {
                self.wait_for_fetch();
                self.lock().source.keys(self.clock.now())
            }
        }
    }

    /// Performs the fetches the source wants now on this thread, or waits for
    /// the one in flight.
    fn refresh_or_wait(&self, now: u64) {
        let request = {
            let mut st = self.lock();
            if st.source.is_fetching() {
                None
            } else {
                st.source.poll_fetch(now, self.entropy.next_u32())
            }
        };
        match request {
            Some(r) => self.run_fetches(r),
            None => self.wait_for_fetch(),
        }
    }

    fn wait_for_fetch(&self) {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (_st, _timed_out) = self
            .fetched
            .wait_timeout_while(st, MAX_REFRESH_WAIT, |st| st.source.is_fetching())
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Loads documents from the shared cache once, before the first fetch:
    /// a restarted replica then verifies without asking the identity provider.
    fn consult_cache(&self, now: u64) {
        let urls = {
            let mut st = self.lock();
            if std::mem::replace(&mut st.cache_consulted, true) {
                return;
            }
            shared::cache_urls(&st.source)
        };
        let (discovery_url, mut jwks_uri) = urls;
        if let Some(url) = discovery_url
            && let Some(doc) = self.cache.get(&url)
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
            && let Some(doc) = self.cache.get(&url)
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

    /// Runs `request` and whatever the source wants next, holding no lock
    /// across any fetch or cache call; wakes every waiter at the end.
    fn run_fetches(&self, mut request: FetchRequest) {
        let mut guard = Settle {
            inner: self,
            kind: request.kind,
            settled: false,
        };
        for _ in 0..shared::MAX_FETCHES_PER_REFRESH {
            guard.kind = request.kind;
            guard.settled = false;
            let cached = if shared::may_use_cache(&request) {
                self.cache.get(&request.url)
            } else {
                None
            };
            let plan = {
                let st = self.lock();
                shared::plan(&st.source, &request, cached, self.clock.now())
            };
            let (body, fetched_at) = match plan {
                Plan::UseCached(doc) => (Ok(doc.body), doc.fetched_at),
                Plan::Fetch => self.fetch_as_fleet(&request),
            };
            let now = self.clock.now();
            {
                let mut st = self.lock();
                let _logged_by_caller = st.source.handle_fetched_at(
                    now,
                    self.entropy.next_u32(),
                    request.kind,
                    body.as_deref().map_err(|&()| ()),
                    fetched_at,
                );
                guard.settled = true;
            }
            let next = self.lock().source.poll_fetch(now, self.entropy.next_u32());
            match next {
                Some(r) => request = r,
                None => break,
            }
        }
        // Dropping the guard wakes every waiter.
    }
}

impl<F: Fetch + 'static, C: Cache + 'static> Inner<F, C> {
    /// Fetches `request` so that one replica of a fleet fetches for all: with
    /// the refresh lock, use the copy another replica stored since we decided
    /// to refresh, or else fetch and store the document; when another replica
    /// holds it, wait up to [`FLEET_WAIT`](shared::FLEET_WAIT) for its document
    /// in the cache, then fetch anyway (availability beats one saved request).
    fn fetch_as_fleet(&self, request: &FetchRequest) -> (Result<Vec<u8>, ()>, u64) {
        let since = self.clock.now();
        let token = match self.cache.lock_refresh(&request.url, REFRESH_LOCK_TTL) {
            RefreshLock::Acquired(token) => {
                // Another replica may have fetched and released the lock
                // between our decision to refresh and our lock: use its copy.
                if let Some(doc) = self.cache.get(&request.url)
                    && shared::fetched_by_other(request, &doc, since)
                {
                    self.cache.unlock_refresh(&request.url, &token);
                    return (Ok(doc.body), doc.fetched_at);
                }
                Some(token)
            }
            RefreshLock::HeldElsewhere => {
                let deadline = std::time::Instant::now() + shared::FLEET_WAIT;
                while std::time::Instant::now() < deadline {
                    std::thread::sleep(shared::FLEET_POLL);
                    if let Some(doc) = self.cache.get(&request.url)
                        && shared::fetched_by_other(request, &doc, since)
                    {
                        return (Ok(doc.body), doc.fetched_at);
                    }
                }
                None
            }
            RefreshLock::Unavailable => None,
        };
        let body = self.fetcher.get(&request.url).map_err(drop);
        let now = self.clock.now();
        if let Ok(bytes) = &body
            && shared::document_is_valid(request.kind, bytes)
        {
            let ttl = shared::cache_ttl(&self.lock().source);
            let doc = CachedDocument {
                body: bytes.clone(),
                fetched_at: now,
            };
            self.cache.put(&request.url, &doc, ttl);
        }
        if let Some(token) = token {
            self.cache.unlock_refresh(&request.url, &token);
        }
        (body, now)
    }
}

/// Owns the request in flight: if a fetcher panics before the outcome reaches
/// the source, dropping this settles it as a failed fetch, so the source
/// never waits forever. Always wakes the waiters.
struct Settle<'a, F: Fetch + 'static, C: Cache + 'static> {
    inner: &'a Inner<F, C>,
    kind: DocumentKind,
    settled: bool,
}

impl<F: Fetch + 'static, C: Cache + 'static> Drop for Settle<'_, F, C> {
    fn drop(&mut self) {
        if !self.settled {
            let now = self.inner.clock.now();
            let mut st = self.inner.lock();
            let _ignored =
                st.source
                    .handle_fetched(now, self.inner.entropy.next_u32(), self.kind, Err(()));
        }
        self.inner.fetched.notify_all();
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

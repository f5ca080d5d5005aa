//! Decisions shared by the blocking and the async drivers, so both behave alike.

use std::sync::Arc;

use entra_jwt_core::{DocumentKind, FetchReason, FetchRequest, KeySet, KeySource};

use crate::cache::CachedDocument;

/// Most fetches one refresh performs (discovery, JWKS, and one spare), so a
/// misbehaving source can never loop.
pub(crate) const MAX_FETCHES_PER_REFRESH: usize = 3;

/// How long a document lives in a shared cache, in refresh intervals: a little
/// beyond one, so a stale copy is still there as last-known-good.
pub const CACHE_TTL_INTERVALS: u64 = 2;

/// How long a replica waits for another replica's document when the fleet's
/// refresh lock is held elsewhere, before fetching itself: availability beats
/// saving one request.
pub const FLEET_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How often a waiting replica looks in the cache for the other's document.
pub(crate) const FLEET_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Whether a cached document, seen while another replica holds the refresh
/// lock, is that replica's fresh fetch: fetched no earlier than our own
/// decision to refresh (`since`), and valid.
pub(crate) fn fetched_by_other(request: &FetchRequest, doc: &CachedDocument, since: u64) -> bool {
    doc.fetched_at >= since && document_is_valid(request.kind, &doc.body)
}

/// What to answer a fetch request with.
pub(crate) enum Plan {
    /// A copy another replica fetched more recently than our set.
    UseCached(CachedDocument),
    /// Go to the network.
    Fetch,
}

/// The URLs to look up in the cache at start-up: discovery and JWKS (when known).
pub(crate) fn cache_urls(source: &KeySource) -> (Option<String>, Option<String>) {
    (
        source.discovery_url().map(str::to_owned),
        source.jwks_uri().map(str::to_owned),
    )
}

/// Loads a cached document into the source (validated there like a network
/// body; a corrupt or foreign value is ignored). Returns the JWKS URL known after it.
pub(crate) fn adopt_cached(
    source: &mut KeySource,
    now: u64,
    entropy: u32,
    kind: DocumentKind,
    doc: &CachedDocument,
) -> Option<String> {
    let _ignored = source.handle_cached(now, entropy, kind, &doc.body, doc.fetched_at);
    source.jwks_uri().map(str::to_owned)
}

/// Whether a request may be answered from the shared cache: every JWKS
/// refresh after the first load (that one reads the cache at start-up).
pub(crate) fn may_use_cache(request: &FetchRequest) -> bool {
    request.kind == DocumentKind::Jwks && request.reason != FetchReason::Initial
}

/// Uses a cached JWKS only when it is newer than the set in use, still
/// within one refresh interval, and valid.
pub(crate) fn plan(
    source: &KeySource,
    request: &FetchRequest,
    cached: Option<CachedDocument>,
    now: u64,
) -> Plan {
    let Some(doc) = cached else {
        return Plan::Fetch;
    };
    if request.kind != DocumentKind::Jwks {
        return Plan::Fetch;
    }
    let newer = source
        .keys_fetched_at()
        .is_none_or(|ours| doc.fetched_at > ours);
    let fresh = now.saturating_sub(doc.fetched_at) < source.config().get_refresh_interval();
    if newer && fresh && doc.fetched_at <= now && KeySet::from_jwks(&doc.body).is_ok() {
        Plan::UseCached(doc)
    } else {
        Plan::Fetch
    }
}

/// Whether a fetched body is a usable document of its kind (only those are
/// shared through the cache).
pub(crate) fn document_is_valid(kind: DocumentKind, body: &[u8]) -> bool {
    match kind {
        DocumentKind::Jwks => KeySet::from_jwks(body).is_ok(),
        DocumentKind::Discovery => entra_jwt_core::OpenIdConfiguration::from_json(body).is_ok(),
    }
}

/// The TTL to store a freshly fetched document with.
pub(crate) fn cache_ttl(source: &KeySource) -> u64 {
    source
        .config()
        .get_refresh_interval()
        .saturating_mul(CACHE_TTL_INTERVALS)
}

/// What the verification path reads without taking the state lock: the key
/// set in use and until when it may be used without asking the source
/// (the next scheduled refresh or retry, or the staleness limit).
pub(crate) struct Snapshot {
    pub(crate) keys: Option<Arc<KeySet>>,
    pub(crate) valid_until: u64,
    pub(crate) cache_consulted: bool,
}

impl Snapshot {
    pub(crate) fn of(source: &KeySource, cache_consulted: bool) -> Self {
        let fetched_at = source.keys_fetched_at();
        // `keys(fetched_at)` is the set regardless of staleness.
        let keys = fetched_at.and_then(|t| source.keys(t).ok());
        let deadline = source.poll_deadline().unwrap_or(u64::MAX);
        let stale_at = match (fetched_at, source.config().get_max_staleness()) {
            (Some(t), Some(max)) => t.saturating_add(max).saturating_add(1),
            _ => u64::MAX,
        };
        Self {
            keys,
            valid_until: deadline.min(stale_at),
            cache_consulted,
        }
    }

    /// The keys, when the fast path may use them at `now`.
    pub(crate) fn usable(&self, now: u64) -> Option<&Arc<KeySet>> {
        self.keys
            .as_ref()
            .filter(|_| self.cache_consulted && now < self.valid_until)
    }
}

//! The key-refresh policy as a sans-IO state machine (SPEC §7).

use alloc::string::{String, ToString};
use alloc::sync::Arc;

use crate::discovery::OpenIdConfiguration;
use crate::error::Error;
use crate::jwks::KeySet;

/// Default automatic refresh interval: 12 hours (IM 8.x `AutomaticRefreshInterval`;
/// Entra's signing-key-rollover guidance).
pub const DEFAULT_REFRESH_INTERVAL: u64 = 12 * 60 * 60;

/// Default minimum time between refreshes caused by unknown `kid`s: 5 minutes
/// (IM's `RefreshInterval`). Bounds what a flood of random `kid`s can cost the
/// identity provider (PyJWKClient refetches on every miss).
pub const DEFAULT_UNKNOWN_KID_INTERVAL: u64 = 5 * 60;

/// Smallest unknown-`kid` interval accepted (SPEC §7).
pub const MIN_UNKNOWN_KID_INTERVAL: u64 = 1;

/// First retry delay after a failed fetch; doubles per consecutive failure.
pub const DEFAULT_RETRY_INITIAL: u64 = 30;

/// Largest jitter added to a scheduled refresh, in percent of the interval (SPEC §7: +5%).
pub const REFRESH_JITTER_PERCENT: u64 = 5;

/// Which document a fetch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// The OpenID discovery document.
    Discovery,
    /// The JWKS at the discovery document's `jwks_uri`.
    Jwks,
}

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// No key set has been loaded yet.
    Initial,
    /// The refresh interval elapsed.
    Scheduled,
    /// A token named a `kid` the set does not have.
    UnknownKid,
    /// An earlier fetch failed; this is a backed-off retry.
    Retry,
}

/// A fetch the driver should perform now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Which document.
    pub kind: DocumentKind,
    /// Its URL.
    pub url: String,
    /// Why.
    pub reason: FetchReason,
}

/// What a token with an unknown `kid` should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KidVerdict {
    /// A refresh is wanted or already in flight: wait for it, then verify again.
    Wait,
    /// A refresh happened too recently: answer `unknown_key` now.
    Reject,
}

/// The refresh policy's numbers (SPEC §7). All times are in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshConfig {
    refresh_interval: u64,
    unknown_kid_interval: u64,
    retry_initial: u64,
    retry_max: u64,
    max_staleness: Option<u64>,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            unknown_kid_interval: DEFAULT_UNKNOWN_KID_INTERVAL,
            retry_initial: DEFAULT_RETRY_INITIAL,
            retry_max: DEFAULT_REFRESH_INTERVAL,
            max_staleness: None,
        }
    }
}

impl RefreshConfig {
    /// Automatic refresh interval (default 12 h, at least 1 s). Also caps the retry backoff.
    #[must_use]
    pub fn refresh_interval(mut self, secs: u64) -> Self {
        self.refresh_interval = secs.max(1);
        self.retry_max = self.retry_max.min(self.refresh_interval);
        self
    }

    /// Minimum time between unknown-`kid` refreshes (default 5 min, at least 1 s).
    #[must_use]
    pub fn unknown_kid_interval(mut self, secs: u64) -> Self {
        self.unknown_kid_interval = secs.max(MIN_UNKNOWN_KID_INTERVAL);
        self
    }

    /// First retry delay after a failure (default 30 s, at least 1 s); it
    /// doubles per consecutive failure up to `retry_max`.
    #[must_use]
    pub fn retry_initial(mut self, secs: u64) -> Self {
        self.retry_initial = secs.max(1);
        self
    }

    /// Longest retry delay (default and at most the refresh interval).
    #[must_use]
    pub fn retry_max(mut self, secs: u64) -> Self {
        self.retry_max = secs.clamp(1, self.refresh_interval);
        self
    }

    /// Refuse to use a key set fetched longer ago than this (default: no limit,
    /// because stale keys beat no keys during an identity-provider outage).
    #[must_use]
    pub fn max_staleness(mut self, secs: Option<u64>) -> Self {
        self.max_staleness = secs;
        self
    }

    /// The refresh interval in seconds.
    #[must_use]
    pub fn get_refresh_interval(&self) -> u64 {
        self.refresh_interval
    }

    /// The maximum staleness in seconds, if any.
    #[must_use]
    pub fn get_max_staleness(&self) -> Option<u64> {
        self.max_staleness
    }

    /// The unknown-`kid` interval in seconds.
    #[must_use]
    pub fn get_unknown_kid_interval(&self) -> u64 {
        self.unknown_kid_interval
    }
}

/// The key set of one metadata document and the policy that keeps it fresh (SPEC §7).
///
///
/// [`KeySource`] holds the current key set of one metadata document (a
/// tenant's, or `common`/`organizations`) and decides when to fetch what. It is
/// told the time and handed bytes; it never fetches, sleeps or draws a random
/// number. A driver (the `entra-jwt` crate has a blocking and an async one)
/// runs this loop:
///
/// ```text
///            ┌──────────────── poll_deadline(now) ◄───────────────┐
///            ▼                                                    │
///   poll_fetch(now, entropy) ──Some(FetchRequest{url,..})──► GET url (no lock held)
///            │                                                    │
///           None                     handle_fetched(now, entropy, kind, Ok(body) | Err(()))
///            │
///   keys(now) ──► Policy::verify ──Err(UnknownKey)──► handle_unknown_kid(now)
///                                                       ├─ Wait:   fetch (or join the fetch
///                                                       │          in flight), then verify again
///                                                       └─ Reject: answer unknown_key now
/// ```
///
/// Call order: create the source; call [`poll_fetch`](KeySource::poll_fetch)
/// and perform the request it returns, then hand the outcome to
/// [`handle_fetched`](KeySource::handle_fetched) (exactly once per request);
/// repeat until `poll_fetch` answers `None`; sleep until
/// [`poll_deadline`](KeySource::poll_deadline) or until a token names an
/// unknown `kid`. Only one request is ever outstanding.
///
/// ```
/// use entra_jwt_core::{DocumentKind, KeySource, RefreshConfig};
/// # let jwks = include_bytes!("../../fixtures/tenant/data/jwks.json");
/// let mut source = KeySource::from_jwks_uri("https://login.microsoftonline.com/common/discovery/v2.0/keys", RefreshConfig::default());
/// let now = 1_800_000_000;
/// let request = source.poll_fetch(now, 0).expect("first load");
/// assert_eq!(request.kind, DocumentKind::Jwks);
/// source.handle_fetched(now, 0, request.kind, Ok(jwks))?; // bytes from the driver's GET
/// assert!(source.keys(now)?.len() > 0);
/// assert!(source.poll_fetch(now, 0).is_none()); // next refresh in 12 h
/// # Ok::<(), entra_jwt_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeySource {
    config: RefreshConfig,
    discovery_url: Option<String>,
    discovery: Option<OpenIdConfiguration>,
    jwks_uri: Option<String>,
    keys: Option<Arc<KeySet>>,
    /// When the current key set was fetched (for staleness).
    keys_fetched_at: u64,
    /// When the next scheduled refresh or retry is due.
    next_attempt_at: u64,
    /// The reason the next attempt will carry.
    next_reason: FetchReason,
    /// A refresh asked for by an unknown kid, not yet started.
    kid_refresh_wanted: bool,
    /// The request handed out and not answered yet.
    in_flight: Option<(DocumentKind, FetchReason)>,
    /// After discovery succeeded within a refresh, the JWKS fetch still owed.
    jwks_owed: Option<FetchReason>,
    /// When the last JWKS fetch started (rate limit for unknown kids).
    last_jwks_fetch: Option<u64>,
    /// When the last refresh asked for by an unknown kid started, whatever
    /// it fetched first (a discovery document when `jwks_uri` is not known).
    last_kid_refresh: Option<u64>,
    consecutive_failures: u32,
    /// The latest time seen: time never goes backwards in the plans.
    last_now: u64,
}

impl KeySource {
    /// A source that starts from an OpenID discovery document, learns
    /// `jwks_uri` from it, and refetches it at every scheduled refresh.
    #[must_use]
    pub fn from_discovery_url(url: &str, config: RefreshConfig) -> Self {
        Self::new(Some(url.to_string()), None, config)
    }

    /// A source that fetches a JWKS URL directly.
    #[must_use]
    pub fn from_jwks_uri(url: &str, config: RefreshConfig) -> Self {
        Self::new(None, Some(url.to_string()), config)
    }

    fn new(discovery_url: Option<String>, jwks_uri: Option<String>, config: RefreshConfig) -> Self {
        Self {
            config,
            discovery_url,
            discovery: None,
            jwks_uri,
            keys: None,
            keys_fetched_at: 0,
            next_attempt_at: 0,
            next_reason: FetchReason::Initial,
            kid_refresh_wanted: false,
            in_flight: None,
            jwks_owed: None,
            last_jwks_fetch: None,
            last_kid_refresh: None,
            consecutive_failures: 0,
            last_now: 0,
        }
    }

    fn observe(&mut self, now: u64) -> u64 {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    /// The current key set, or [`Error::KeysUnavailable`] before the first
    /// successful load (a 503-class answer, never "bad token") or when the set
    /// is older than the configured maximum staleness.
    pub fn keys(&self, now: u64) -> Result<Arc<KeySet>, Error> {
        let keys = self.keys.as_ref().ok_or(Error::KeysUnavailable)?;
        // Staleness is judged at the latest time seen, like every plan: a
        // clock stepping back must not make a too-stale set usable again
        // (fuzz finding key_source-2).
        let now = now.max(self.last_now);
        if let Some(max) = self.config.max_staleness
            && now.saturating_sub(self.keys_fetched_at) > max
        {
            return Err(Error::KeysUnavailable);
        }
        Ok(Arc::clone(keys))
    }

    /// The last discovery document loaded, if this source uses one.
    #[must_use]
    pub fn discovery(&self) -> Option<&OpenIdConfiguration> {
        self.discovery.as_ref()
    }

    /// The discovery document URL, for a source that starts from one.
    #[must_use]
    pub fn discovery_url(&self) -> Option<&str> {
        self.discovery_url.as_deref()
    }

    /// The JWKS URL, once known (configured, or learnt from discovery).
    #[must_use]
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &RefreshConfig {
        &self.config
    }

    /// Whether a request has been handed out and not answered yet.
    #[must_use]
    pub fn is_fetching(&self) -> bool {
        self.in_flight.is_some()
    }

    /// How many fetches in a row have failed.
    #[must_use]
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// When the set in use was fetched, if one is loaded.
    #[must_use]
    pub fn keys_fetched_at(&self) -> Option<u64> {
        self.keys.as_ref().map(|_| self.keys_fetched_at)
    }

    /// A token named a `kid` the set does not have. Answers whether it should
    /// wait for a refresh (one shared by every waiting token, at most once per
    /// unknown-kid interval) or be rejected now.
    pub fn handle_unknown_kid(&mut self, now: u64) -> KidVerdict {
        let now = self.observe(now);
        if self.in_flight.is_some() || self.kid_refresh_wanted || self.jwks_owed.is_some() {
            return KidVerdict::Wait;
        }
        // Rate-limited against the last JWKS fetch and the last unknown-kid
        // refresh, so a refresh that starts with a failing discovery fetch
        // cannot be restarted by every token (fuzz finding key_source-3).
        let interval = self.config.unknown_kid_interval;
        let recent = |at: Option<u64>| at.is_some_and(|t| now.saturating_sub(t) < interval);
        let recently = recent(self.last_jwks_fetch) || recent(self.last_kid_refresh);
        if recently {
            return KidVerdict::Reject;
        }
        self.kid_refresh_wanted = true;
        KidVerdict::Wait
    }

    /// The fetch to perform now, if any; it is then in flight until
    /// [`handle_fetched`](Self::handle_fetched). `entropy` is unused here and
    /// kept for symmetry with `handle_fetched`; pass any value.
    pub fn poll_fetch(&mut self, now: u64, _entropy: u32) -> Option<FetchRequest> {
        let now = self.observe(now);
        if self.in_flight.is_some() {
            return None;
        }
        let (kind, reason) = if let Some(reason) = self.jwks_owed {
            (DocumentKind::Jwks, reason)
        } else if self.kid_refresh_wanted {
            // Unknown kid: the JWKS alone (or discovery first if we never had it).
            let kind = if self.jwks_uri.is_none() {
                DocumentKind::Discovery
            } else {
                DocumentKind::Jwks
            };
            (kind, FetchReason::UnknownKid)
        } else if now >= self.next_attempt_at {
            let kind = if self.discovery_url.is_some() {
                DocumentKind::Discovery
            } else {
                DocumentKind::Jwks
            };
            (
                kind,
                if self.keys.is_none() && self.consecutive_failures == 0 {
                    FetchReason::Initial
                } else {
                    self.next_reason
                },
            )
        } else {
            return None;
        };
        let url = match kind {
            DocumentKind::Discovery => self.discovery_url.clone()?,
            DocumentKind::Jwks => self.jwks_uri.clone()?,
        };
        if self.kid_refresh_wanted && self.jwks_owed.is_none() {
            self.last_kid_refresh = Some(now);
        }
        self.kid_refresh_wanted = false;
        self.jwks_owed = None;
        if kind == DocumentKind::Jwks {
            self.last_jwks_fetch = Some(now);
        }
        self.in_flight = Some((kind, reason));
        Some(FetchRequest { kind, url, reason })
    }

    /// When the driver should next call [`poll_fetch`](Self::poll_fetch)
    /// (seconds since the epoch), or `None` while a request is in flight.
    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        if self.in_flight.is_some() {
            return None;
        }
        if self.jwks_owed.is_some() || self.kid_refresh_wanted {
            return Some(self.last_now);
        }
        Some(self.next_attempt_at)
    }

    /// Loads a document that came from a cache rather than the network. It is
    /// parsed and validated exactly like a fetched one; `fetched_at` is when it
    /// was originally fetched, so the next refresh is planned from then.
    /// Ignored (with the parse error returned) if it is not usable, and never
    /// replaces a set that was fetched more recently.
    pub fn handle_cached(
        &mut self,
        now: u64,
        entropy: u32,
        kind: DocumentKind,
        body: &[u8],
        fetched_at: u64,
    ) -> Result<(), Error> {
        let now = self.observe(now);
        let fetched_at = fetched_at.min(now);
        match kind {
            DocumentKind::Discovery => {
                let doc = OpenIdConfiguration::from_json(body)?;
                // A source configured with a JWKS URL has no discovery document:
                // a cached one must not redirect it (fuzz finding key_source-1).
                if self.discovery_url.is_none() {
                    return Ok(());
                }
                if self.jwks_uri.is_none() || self.discovery.is_none() {
                    self.jwks_uri = Some(doc.jwks_uri().to_string());
                    self.discovery = Some(doc);
                }
                Ok(())
            }
            DocumentKind::Jwks => {
                let set = KeySet::from_jwks(body)?;
                if self.keys.is_some() && self.keys_fetched_at >= fetched_at {
                    return Ok(());
                }
                self.keys = Some(Arc::new(set));
                self.keys_fetched_at = fetched_at;
                self.consecutive_failures = 0;
                self.next_reason = FetchReason::Scheduled;
                self.next_attempt_at = self
                    .next_attempt_at
                    .max(self.scheduled_after(fetched_at, entropy));
                Ok(())
            }
        }
    }

    /// The outcome of the request [`poll_fetch`](Self::poll_fetch) handed out:
    /// the body, or `Err(())` if the fetch failed (timeout, status, size, TLS).
    ///
    /// A failed fetch, or a document that does not parse or holds no usable
    /// key, keeps the last good set and schedules a backed-off retry; the
    /// parse error is returned for the driver's logs. `entropy` (any `u32`
    /// from the driver's random source) spreads refreshes and retries over
    /// their jitter window so a fleet does not fetch in lockstep.
    pub fn handle_fetched(
        &mut self,
        now: u64,
        entropy: u32,
        kind: DocumentKind,
        body: Result<&[u8], ()>,
    ) -> Result<(), Error> {
        let now = self.observe(now);
        self.handle_fetched_at(now, entropy, kind, body, now)
    }

    /// Like [`handle_fetched`](Self::handle_fetched), for a request the driver
    /// answered with a copy another replica fetched at `fetched_at` (from a
    /// shared cache): the set's age and the next refresh count from then.
    pub fn handle_fetched_at(
        &mut self,
        now: u64,
        entropy: u32,
        kind: DocumentKind,
        body: Result<&[u8], ()>,
        fetched_at: u64,
    ) -> Result<(), Error> {
        let now = self.observe(now);
        let fetched_at = fetched_at.min(now);
        let Some((in_flight_kind, reason)) = self.in_flight else {
            // Not what we asked for: ignore rather than trust it.
            return Ok(());
        };
        if in_flight_kind != kind {
            return Ok(());
        }
        self.in_flight = None;
        let parsed = match (kind, body) {
            (_, Err(())) => Err(None),
            (DocumentKind::Discovery, Ok(bytes)) => OpenIdConfiguration::from_json(bytes)
                .map(Loaded::Discovery)
                .map_err(Some),
            (DocumentKind::Jwks, Ok(bytes)) => {
                KeySet::from_jwks(bytes).map(Loaded::Keys).map_err(Some)
            }
        };
        match parsed {
            Ok(Loaded::Discovery(doc)) => {
                self.jwks_uri = Some(doc.jwks_uri().to_string());
                self.discovery = Some(doc);
                self.jwks_owed = Some(reason);
                Ok(())
            }
            Ok(Loaded::Keys(set)) => {
                self.keys = Some(Arc::new(set));
                self.keys_fetched_at = fetched_at;
                self.consecutive_failures = 0;
                self.next_reason = FetchReason::Scheduled;
                self.next_attempt_at = self.scheduled_after(fetched_at, entropy);
                Ok(())
            }
            Err(parse_error) => {
                // A failed discovery refresh with a known jwks_uri still owes
                // the JWKS fetch: rotated keys matter more than a new document.
                if kind == DocumentKind::Discovery && self.jwks_uri.is_some() {
                    self.jwks_owed = Some(reason);
                } else {
                    self.schedule_retry(now, entropy);
                }
                match parse_error {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            }
        }
    }

    fn scheduled_after(&self, from: u64, entropy: u32) -> u64 {
        let interval = self.config.refresh_interval;
        let window = interval.saturating_mul(REFRESH_JITTER_PERCENT) / 100;
        from.saturating_add(interval)
            .saturating_add(scale(window, entropy))
    }

    fn schedule_retry(&mut self, now: u64, entropy: u32) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let doublings = self.consecutive_failures.saturating_sub(1).min(32);
        let base = self
            .config
            .retry_initial
            .saturating_mul(1u64 << doublings)
            .min(self.config.retry_max);
        // Jitter up to +50% of the delay, still capped at retry_max.
        let delay = base
            .saturating_add(scale(base / 2, entropy))
            .min(self.config.retry_max);
        self.next_attempt_at = now.saturating_add(delay.max(1));
        self.next_reason = FetchReason::Retry;
    }
}

enum Loaded {
    Discovery(OpenIdConfiguration),
    Keys(KeySet),
}

/// `window * entropy / u32::MAX`, without overflow.
fn scale(window: u64, entropy: u32) -> u64 {
    let scaled = u128::from(window) * u128::from(entropy) / u128::from(u32::MAX);
    u64::try_from(scaled).unwrap_or(window)
}

//! The key-source state machine (SPEC §7) fed random event sequences.
//!
//! A [`Scenario`] (decoded with `arbitrary`) picks a configuration and a list
//! of events: time moving forward or back, the driver polling, answering the
//! request in flight (with a good, rotated, empty, unusable, garbage or
//! discovery body, or a failure), answering something never asked for,
//! unknown `kid`s, and cached documents. The source under test is driven with
//! the driver's raw clock, which may step back; a shadow copy is driven with
//! `max(clock, T)`.
//!
//! Invariants, checked after every event (`T` is the latest time the source
//! has been handed, `I` the unknown-kid interval):
//!
//! 1. **Time never goes backwards.** A call with a time earlier than `T` acts
//!    exactly as at `T`: every return value and every observable of the
//!    source (`poll_deadline`, `is_fetching`, `consecutive_failures`,
//!    `keys_fetched_at`, `jwks_uri`, `keys(now)`) equals the shadow's.
//! 2. **One request at a time.** `poll_fetch` hands out a request only when
//!    none is outstanding; `is_fetching()` is true exactly while one is, and
//!    `poll_deadline()` is `None` exactly then.
//! 3. **Unknown kids are rate limited.** A refresh started by an unknown kid
//!    (a request with reason `UnknownKid`, other than the JWKS that completes
//!    a discovery fetched for the same reason) starts only if no JWKS request
//!    and no other unknown-kid refresh started in `(T - I, T]`. `Reject` is
//!    answered only when a JWKS request started in `(T - I, T]`; `Wait` only
//!    when a request is outstanding or `poll_fetch(T)` would hand one out now.
//! 4. **A good key set is never lost or replaced by a bad one.** Once a set
//!    is loaded, one stays loaded; an event that hands in no valid JWKS (a
//!    failure, garbage, an empty or unusable set, a discovery document, an
//!    answer never asked for) leaves the set and its fetch time unchanged; a
//!    new set is exactly `KeySet::from_jwks` of the body handed in.
//!    `keys(now)` succeeds exactly when a set is loaded and, with a maximum
//!    staleness, `max(now, T) - fetched_at <= max`.
//! 5. **Deadlines mean what they say.** With `poll_deadline() = Some(d)`,
//!    `poll_fetch(T)` hands out a request exactly when `d <= T` (a deadline in
//!    the past is always "now", never a stale plan). Plans move only on
//!    inputs: moving time, polling with nothing due, reading keys and answers
//!    never asked for leave the deadline as it was (or, when something was
//!    due, still due). After a failed or refused answer at `T` the next
//!    attempt is in `[T, T + retry_max]`; after a good JWKS at `T` it is in
//!    `[T + R, T + R + 5% R]` (`R` the refresh interval).
//! 6. **Requests go where configured.** Discovery requests go to the
//!    configured discovery URL; JWKS requests go to the configured JWKS URL
//!    (which a JWKS-URL source never changes) or to the `jwks_uri` of a
//!    discovery document that was handed in and parses.

use std::collections::HashSet;
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use entra_jwt_core::{
    DocumentKind, Error, FetchReason, FetchRequest, KeySet, KeySource, KidVerdict,
    OpenIdConfiguration, REFRESH_JITTER_PERCENT, RefreshConfig,
};
use entra_jwt_test_tenant::{self as tt, TestTenant};

/// The discovery URL of a discovery-based source.
const DISCOVERY_URL: &str = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/.well-known/openid-configuration";

/// Another `jwks_uri` a discovery document may name.
const ELSEWHERE_JWKS_URI: &str = "https://login.microsoftonline.com/common/discovery/v2.0/keys";

/// A configuration and a sequence of events.
#[derive(Debug, Arbitrary)]
pub struct Scenario {
    from_discovery: bool,
    refresh_interval: u32,
    unknown_kid_interval: u16,
    retry_initial: u16,
    retry_max: u32,
    max_staleness: Option<u32>,
    events: Vec<Event>,
}

/// One input to the source.
#[derive(Debug, Arbitrary)]
enum Event {
    /// The clock moves forward by up to 18 hours.
    Advance(u16),
    /// The clock leaps forward by up to 136 years.
    Leap(u32),
    /// The clock goes back (an NTP step): the next events carry an earlier time.
    Back(u16),
    /// The driver asks what to fetch.
    Poll { entropy: u32 },
    /// The driver answers the request in flight (if any), possibly with a
    /// copy another replica fetched `age` seconds ago.
    Answer {
        body: Body,
        entropy: u32,
        age: Option<u16>,
    },
    /// An answer for a request that was never handed out (or of the other kind).
    Unasked {
        jwks: bool,
        body: Body,
        entropy: u32,
    },
    /// A token named a `kid` the set lacks.
    UnknownKid,
    /// A document from the shared cache, fetched `age` seconds ago.
    Cached {
        jwks: bool,
        body: Body,
        entropy: u32,
        age: u32,
    },
    /// A verification reads the keys.
    Keys,
}

/// What an answer carries.
#[derive(Debug, Arbitrary)]
enum Body {
    Fail,
    Jwks,
    RotatedJwks,
    EmptyJwks,
    UnusableJwks,
    Discovery,
    DiscoveryElsewhere,
    Raw(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> Result<Vec<u8>, ()> {
        Ok(match self {
            Self::Fail => return Err(()),
            Self::Jwks => TestTenant::jwks_json().as_bytes().to_vec(),
            Self::RotatedJwks => TestTenant::jwks_rotated_json().as_bytes().to_vec(),
            Self::EmptyJwks => br#"{"keys":[]}"#.to_vec(),
            Self::UnusableJwks => {
                br#"{"keys":[{"kty":"EC","kid":"a"},{"kty":"RSA","kid":"b","n":"AQAB","e":"AQAB"}]}"#
                    .to_vec()
            }
            Self::Discovery => TestTenant::openid_v2_json().as_bytes().to_vec(),
            Self::DiscoveryElsewhere => TestTenant::openid_v2_json()
                .replace(tt::JWKS_URI_V2, ELSEWHERE_JWKS_URI)
                .into_bytes(),
            Self::Raw(bytes) => bytes.clone(),
        })
    }
}

/// What the harness knows, independently of the source.
struct Model {
    /// The driver's clock (it may step back).
    now: u64,
    /// `T`: the latest time handed to the source.
    observed: u64,
    unknown_kid_interval: u64,
    refresh_interval: u64,
    retry_max: u64,
    max_staleness: Option<u64>,
    configured_jwks_uri: Option<String>,
    /// `jwks_uri`s of discovery documents handed in that parse.
    learned_jwks_uris: HashSet<String>,
    outstanding: Option<FetchRequest>,
    /// The last answered request was a discovery fetched for an unknown kid.
    kid_discovery_answered: bool,
    last_jwks_request: Option<u64>,
    last_kid_refresh: Option<u64>,
}

impl Model {
    /// The time the shadow is handed for a call now, which the source then
    /// has observed.
    fn call(&mut self) -> u64 {
        self.observed = self.observed.max(self.now);
        self.observed
    }
    /// The time `keys(now)` should judge staleness at.
    fn keys_time(&self) -> u64 {
        self.now.max(self.observed)
    }
}

/// Observables compared between the source and its shadow.
#[derive(PartialEq)]
struct Snapshot {
    deadline: Option<u64>,
    fetching: bool,
    failures: u32,
    fetched_at: Option<u64>,
    jwks_uri: Option<String>,
    keys: Result<Arc<KeySet>, Error>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key set by its kids: the RSA numbers would drown the diff.
        let keys = self.keys.as_ref().map(|set| {
            set.iter()
                .map(|k| k.kid().unwrap_or("-").to_owned())
                .collect::<Vec<_>>()
        });
        f.debug_struct("Snapshot")
            .field("deadline", &self.deadline)
            .field("fetching", &self.fetching)
            .field("failures", &self.failures)
            .field("fetched_at", &self.fetched_at)
            .field("jwks_uri", &self.jwks_uri)
            .field("keys", &keys)
            .finish()
    }
}

fn snapshot(source: &KeySource, keys_at: u64) -> Snapshot {
    Snapshot {
        deadline: source.poll_deadline(),
        fetching: source.is_fetching(),
        failures: source.consecutive_failures(),
        fetched_at: source.keys_fetched_at(),
        jwks_uri: source.jwks_uri().map(str::to_owned),
        keys: source.keys(keys_at),
    }
}

/// The key-source target: decodes a [`Scenario`] and checks the invariants of
/// the module docs after every event.
pub fn key_source(data: &[u8]) {
    let Ok(scenario) = Scenario::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(&scenario);
}

fn run(s: &Scenario) {
    let config = RefreshConfig::default()
        .refresh_interval(u64::from(s.refresh_interval))
        .unknown_kid_interval(u64::from(s.unknown_kid_interval))
        .retry_initial(u64::from(s.retry_initial))
        .retry_max(u64::from(s.retry_max))
        .max_staleness(s.max_staleness.map(u64::from));
    let refresh_interval = config.get_refresh_interval();
    let mut source = if s.from_discovery {
        KeySource::from_discovery_url(DISCOVERY_URL, config)
    } else {
        KeySource::from_jwks_uri(tt::JWKS_URI_V2, config)
    };
    let mut shadow = source.clone();
    let mut m = Model {
        now: tt::NOW,
        observed: 0,
        unknown_kid_interval: source.config().get_unknown_kid_interval(),
        refresh_interval,
        retry_max: u64::from(s.retry_max).clamp(1, refresh_interval),
        max_staleness: s.max_staleness.map(u64::from),
        configured_jwks_uri: (!s.from_discovery).then(|| tt::JWKS_URI_V2.to_owned()),
        learned_jwks_uris: HashSet::new(),
        outstanding: None,
        kid_discovery_answered: false,
        last_jwks_request: None,
        last_kid_refresh: None,
    };
    for event in &s.events {
        step(&mut source, &mut shadow, &mut m, event);
    }
}

fn kind_of(jwks: bool) -> DocumentKind {
    if jwks {
        DocumentKind::Jwks
    } else {
        DocumentKind::Discovery
    }
}

/// What one event did, for the checks after it.
#[derive(Default)]
struct Effects {
    /// The event may move the plan or the key set (an input, not just time).
    input: bool,
    /// The valid JWKS the event handed in, if any.
    valid_jwks: Option<Vec<u8>>,
    /// `handle_fetched` (fetched now) of a failed or refused document.
    failed_answer: bool,
    /// `handle_fetched` (fetched now) of a good JWKS.
    loaded_answer: bool,
    /// An answer nothing asked for: must change nothing.
    unasked: bool,
}

fn step(source: &mut KeySource, shadow: &mut KeySource, m: &mut Model, event: &Event) {
    let before = snapshot(source, m.now);
    let before_t = m.observed;
    let fx = apply(source, shadow, m, event);
    // The source reads keys at the driver's raw clock, the shadow at `max(clock, T)`.
    let after = snapshot(source, m.now);
    let t = m.observed;

    // Invariant 1.
    assert_eq!(
        after,
        snapshot(shadow, m.keys_time()),
        "invariant 1: the source and its shadow diverged"
    );
    // Invariant 2.
    assert_eq!(
        after.fetching,
        m.outstanding.is_some(),
        "invariant 2: is_fetching"
    );
    assert_eq!(
        after.deadline.is_none(),
        after.fetching,
        "invariant 2: deadline while fetching"
    );
    // Invariant 4.
    if before.fetched_at.is_some() {
        assert!(after.fetched_at.is_some(), "invariant 4: key set lost");
    }
    let set_changed = after.fetched_at != before.fetched_at
        || matches!((&before.keys, &after.keys), (Ok(a), Ok(b)) if a != b);
    match &fx.valid_jwks {
        None => assert!(
            !set_changed,
            "invariant 4: set changed without a valid JWKS"
        ),
        Some(body) => {
            if set_changed && let Ok(set) = &after.keys {
                assert_eq!(
                    **set,
                    KeySet::from_jwks(body).unwrap(),
                    "invariant 4: not the set handed in"
                );
            }
        }
    }
    let usable = after.fetched_at.is_some_and(|at| {
        m.max_staleness
            .is_none_or(|max| m.keys_time().saturating_sub(at) <= max)
    });
    assert_eq!(
        after.keys.is_ok(),
        usable,
        "invariant 4: keys() availability"
    );
    // Invariant 5.
    if let Some(d) = after.deadline {
        assert_eq!(
            source.clone().poll_fetch(t, 0).is_some(),
            d <= t,
            "invariant 5: deadline {d} and poll_fetch at {t} disagree"
        );
    }
    if !fx.input || fx.unasked {
        let still_due = matches!((before.deadline, after.deadline),
            (Some(b), Some(a)) if b <= before_t && a <= t);
        assert!(
            after.deadline == before.deadline || still_due,
            "invariant 5: plan moved without an input ({:?} -> {:?})",
            before.deadline,
            after.deadline
        );
        assert_eq!(after.fetched_at, before.fetched_at);
        assert_eq!(after.failures, before.failures);
        assert_eq!(after.fetching, before.fetching);
    }
    if let Some(d) = after.deadline {
        if fx.failed_answer {
            assert!(
                d >= t && d <= t.saturating_add(m.retry_max),
                "invariant 5: retry at {d}, now {t}"
            );
        }
        if fx.loaded_answer {
            let r = m.refresh_interval;
            let window = r.saturating_mul(REFRESH_JITTER_PERCENT) / 100;
            assert!(
                d >= t.saturating_add(r) && d <= t.saturating_add(r).saturating_add(window),
                "invariant 5: refresh at {d}, now {t}"
            );
        }
    }
    // Invariant 6.
    match (&m.configured_jwks_uri, source.jwks_uri()) {
        (Some(configured), uri) => assert_eq!(
            uri,
            Some(configured.as_str()),
            "invariant 6: the configured JWKS URL changed"
        ),
        (None, Some(uri)) => assert!(
            m.learned_jwks_uris.contains(uri),
            "invariant 6: a JWKS URL from nowhere"
        ),
        (None, None) => {}
    }
}

fn apply(source: &mut KeySource, shadow: &mut KeySource, m: &mut Model, event: &Event) -> Effects {
    let mut fx = Effects {
        input: true,
        ..Effects::default()
    };
    match event {
        Event::Advance(secs) => {
            m.now = m.now.saturating_add(u64::from(*secs));
            fx.input = false;
        }
        Event::Leap(secs) => {
            m.now = m.now.saturating_add(u64::from(*secs));
            fx.input = false;
        }
        Event::Back(secs) => {
            m.now = m.now.saturating_sub(u64::from(*secs));
            fx.input = false;
        }
        Event::Keys => fx.input = false,
        Event::Poll { entropy } => {
            let t = m.call();
            let got = source.poll_fetch(m.now, *entropy);
            assert_eq!(
                got,
                shadow.poll_fetch(t, *entropy),
                "invariant 1: poll_fetch"
            );
            match got {
                None => fx.input = false,
                Some(request) => {
                    assert!(
                        m.outstanding.is_none(),
                        "invariant 2: a second request in flight"
                    );
                    check_request(m, &request, t);
                    m.outstanding = Some(request);
                }
            }
        }
        Event::Answer { body, entropy, age } => {
            let Some(request) = m.outstanding.take() else {
                return unasked(source, shadow, m, DocumentKind::Jwks, &Body::Fail, *entropy);
            };
            let t = m.call();
            let bytes = body.bytes();
            let result = match age {
                None => {
                    let a = source.handle_fetched(
                        m.now,
                        *entropy,
                        request.kind,
                        bytes.as_deref().map_err(|&()| ()),
                    );
                    let b = shadow.handle_fetched(
                        t,
                        *entropy,
                        request.kind,
                        bytes.as_deref().map_err(|&()| ()),
                    );
                    assert_eq!(a, b, "invariant 1: handle_fetched");
                    a
                }
                Some(age) => {
                    let fetched_at = m.now.saturating_sub(u64::from(*age));
                    let (kind, body) = (request.kind, bytes.as_deref().map_err(|&()| ()));
                    let a = source.handle_fetched_at(m.now, *entropy, kind, body, fetched_at);
                    let b = shadow.handle_fetched_at(t, *entropy, kind, body, fetched_at);
                    assert_eq!(a, b, "invariant 1: handle_fetched_at");
                    a
                }
            };
            let good = note_body(m, request.kind, bytes.as_deref().ok());
            assert_eq!(
                result.is_ok(),
                good || bytes.is_err(),
                "error for a good document"
            );
            if request.kind == DocumentKind::Jwks && good {
                fx.valid_jwks = bytes.ok();
            }
            m.kid_discovery_answered = request.kind == DocumentKind::Discovery
                && request.reason == FetchReason::UnknownKid;
            if age.is_none() {
                fx.failed_answer = !good;
                fx.loaded_answer = request.kind == DocumentKind::Jwks && good;
            }
        }
        Event::Unasked {
            jwks,
            body,
            entropy,
        } => {
            let mut kind = kind_of(*jwks);
            if m.outstanding.as_ref().is_some_and(|r| r.kind == kind) {
                // That would be a real answer: send the other kind.
                kind = kind_of(!*jwks);
            }
            return unasked(source, shadow, m, kind, body, *entropy);
        }
        Event::UnknownKid => {
            let t = m.call();
            let verdict = source.handle_unknown_kid(m.now);
            assert_eq!(
                verdict,
                shadow.handle_unknown_kid(t),
                "invariant 1: unknown kid"
            );
            match verdict {
                KidVerdict::Reject => assert!(
                    [m.last_jwks_request, m.last_kid_refresh]
                        .into_iter()
                        .flatten()
                        .any(|r| t.saturating_sub(r) < m.unknown_kid_interval),
                    "invariant 3: rejected without a recent refresh"
                ),
                KidVerdict::Wait => assert!(
                    source.is_fetching() || source.clone().poll_fetch(t, 0).is_some(),
                    "invariant 3: told to wait for nothing"
                ),
            }
        }
        Event::Cached {
            jwks,
            body,
            entropy,
            age,
        } => {
            let kind = kind_of(*jwks);
            let t = m.call();
            let bytes = body.bytes().unwrap_or_default();
            let fetched_at = m.now.saturating_sub(u64::from(*age));
            let a = source.handle_cached(m.now, *entropy, kind, &bytes, fetched_at);
            let b = shadow.handle_cached(t, *entropy, kind, &bytes, fetched_at);
            assert_eq!(a, b, "invariant 1: handle_cached");
            let good = note_body(m, kind, Some(&bytes));
            assert_eq!(a.is_ok(), good, "handle_cached result");
            if kind == DocumentKind::Jwks && good {
                fx.valid_jwks = Some(bytes);
            }
        }
    }
    fx
}

/// An answer of `kind` that no request in flight asked for.
fn unasked(
    source: &mut KeySource,
    shadow: &mut KeySource,
    m: &mut Model,
    kind: DocumentKind,
    body: &Body,
    entropy: u32,
) -> Effects {
    let bytes = body.bytes();
    let t = m.call();
    let a = source.handle_fetched(m.now, entropy, kind, bytes.as_deref().map_err(|&()| ()));
    let b = shadow.handle_fetched(t, entropy, kind, bytes.as_deref().map_err(|&()| ()));
    assert_eq!(a, b, "invariant 1: unasked answer");
    assert_eq!(a, Ok(()), "an unasked answer is ignored silently");
    Effects {
        input: true,
        unasked: true,
        ..Effects::default()
    }
}

/// Records a document handed in; returns whether it is good for its kind.
fn note_body(m: &mut Model, kind: DocumentKind, bytes: Option<&[u8]>) -> bool {
    let Some(bytes) = bytes else { return false };
    match kind {
        DocumentKind::Jwks => KeySet::from_jwks(bytes).is_ok(),
        DocumentKind::Discovery => match OpenIdConfiguration::from_json(bytes) {
            Ok(doc) => {
                m.learned_jwks_uris.insert(doc.jwks_uri().to_owned());
                true
            }
            Err(_) => false,
        },
    }
}

/// Invariants 3 and 6 for a request handed out at `t`.
fn check_request(m: &mut Model, request: &FetchRequest, t: u64) {
    match request.kind {
        DocumentKind::Discovery => assert_eq!(request.url, DISCOVERY_URL, "invariant 6"),
        DocumentKind::Jwks => match &m.configured_jwks_uri {
            Some(configured) => assert_eq!(&request.url, configured, "invariant 6"),
            None => assert!(m.learned_jwks_uris.contains(&request.url), "invariant 6"),
        },
    }
    let recent =
        |at: Option<u64>| at.is_some_and(|at| t.saturating_sub(at) < m.unknown_kid_interval);
    if request.reason == FetchReason::UnknownKid {
        let continuation = request.kind == DocumentKind::Jwks && m.kid_discovery_answered;
        if !continuation {
            assert!(
                !recent(m.last_jwks_request) && !recent(m.last_kid_refresh),
                "invariant 3: unknown-kid refresh at {t} within the interval of the last one"
            );
            m.last_kid_refresh = Some(t);
        }
    }
    if request.kind == DocumentKind::Jwks {
        m.last_jwks_request = Some(t);
    }
    m.kid_discovery_answered = false;
}

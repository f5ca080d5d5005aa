//! The blocking and async drivers' concurrency contract, with an in-process
//! fetcher that counts requests and can be held mid-fetch. (The HTTP fetchers
//! and a real issuer are exercised by the end-to-end suites in `tests/`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use entra_jwt::core::{Error, KeySource, Policy, RefreshConfig};
use entra_jwt::{
    AsyncFetch, AsyncVerifier, Cache, CachedDocument, Fetch, FetchError, FetchErrorKind,
    FixedEntropy, ManualClock, MemoryCache, Verifier,
};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};

const JWKS_URL: &str = "https://login.microsoftonline.com/tenant/discovery/v2.0/keys";

/// Serves documents from a map; counts requests; can hold requests at a gate
/// or fail them all, like an identity provider that is slow or down.
#[derive(Default)]
struct Fake {
    docs: Mutex<HashMap<String, Vec<u8>>>,
    requests: AtomicUsize,
    down: AtomicBool,
    panic_next: AtomicBool,
    gate: Mutex<Option<Arc<Barrier>>>,
}

impl Fake {
    fn serving(jwks: &str) -> Arc<Self> {
        let f = Arc::new(Self::default());
        f.set(jwks);
        f
    }
    fn set(&self, jwks: &str) {
        self.docs
            .lock()
            .unwrap()
            .insert(JWKS_URL.into(), jwks.as_bytes().to_vec());
    }
    fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    fn answer(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if self.panic_next.swap(false, Ordering::SeqCst) {
            panic!("fetcher bug");
        }
        let gate = self.gate.lock().unwrap().clone();
        if let Some(g) = gate {
            g.wait(); // the test sees the fetch start...
            g.wait(); // ...and lets it finish
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(FetchError::new(FetchErrorKind::Status(503), url));
        }
        self.docs
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .ok_or(FetchError::new(FetchErrorKind::Status(404), url))
    }
}

struct Blocking(Arc<Fake>);
impl Fetch for Blocking {
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.0.answer(url)
    }
}

struct Async(Arc<Fake>);
impl AsyncFetch for Async {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let fake = Arc::clone(&self.0);
        let url = url.to_string();
        tokio::task::spawn_blocking(move || fake.answer(&url))
            .await
            .unwrap()
    }
}

fn policy() -> Policy {
    Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap()
}

fn source() -> KeySource {
    KeySource::from_jwks_uri(JWKS_URL, RefreshConfig::default())
}

fn token(key: Key, now: u64) -> String {
    TestTenant::get().sign(key, &TestTenant::header(key), &TestTenant::v2_claims(now))
}

fn blocking(fake: &Arc<Fake>, clock: &Arc<ManualClock>) -> Verifier<Blocking> {
    Verifier::builder(policy(), source(), Blocking(Arc::clone(fake)))
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

#[test]
fn first_use_loads_keys_then_verifies_without_further_fetches() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&fake, &clock);
    for _ in 0..50 {
        v.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    }
    assert_eq!(fake.count(), 1);
}

#[test]
fn issuer_down_at_start_is_keys_unavailable_not_a_token_error() {
    let fake = Fake::serving(TestTenant::jwks_json());
    fake.down.store(true, Ordering::SeqCst);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&fake, &clock);
    let t = token(Key::Rsa2048, tt::NOW);
    assert_eq!(v.verify(&t).unwrap_err(), Error::KeysUnavailable);
    // Within the backoff no new request is made, whatever the traffic.
    for _ in 0..100 {
        assert_eq!(v.verify(&t).unwrap_err(), Error::KeysUnavailable);
    }
    assert_eq!(fake.count(), 1);
    fake.down.store(false, Ordering::SeqCst);
    clock.advance(30);
    v.verify(&t).unwrap();
    assert_eq!(fake.count(), 2);
}

#[test]
fn concurrent_unknown_kids_share_one_refresh() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&fake, &clock);
    v.load().unwrap();
    fake.set(TestTenant::jwks_rotated_json());
    clock.advance(3600);
    let gate = Arc::new(Barrier::new(2));
    *fake.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let t = token(Key::Rsa2048Next, tt::NOW + 3600);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (v, t) = (v.clone(), t.clone());
            std::thread::spawn(move || v.verify(&t))
        })
        .collect();
    gate.wait(); // one fetch has started; the other seven are waiting on it
    std::thread::sleep(Duration::from_millis(100));
    *fake.gate.lock().unwrap() = None;
    gate.wait();
    for th in threads {
        th.join().unwrap().unwrap();
    }
    assert_eq!(fake.count(), 2, "initial load + one shared refresh");
    // Within the unknown-kid interval a new unknown kid is answered at once.
    let attacker = token(Key::Attacker, tt::NOW + 3600);
    assert_eq!(v.verify(&attacker).unwrap_err(), Error::UnknownKey);
    assert_eq!(fake.count(), 2);
}

#[test]
fn a_scheduled_refresh_never_makes_readers_wait() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&fake, &clock);
    v.load().unwrap();
    let gate = Arc::new(Barrier::new(2));
    *fake.gate.lock().unwrap() = Some(Arc::clone(&gate));
    clock.advance(12 * 3600 + 1);
    let now = tt::NOW + 12 * 3600 + 1;
    let t = token(Key::Rsa2048, now);
    v.verify(&t).unwrap(); // starts the background refresh
    gate.wait(); // the refresh is now stuck inside the fetcher
    let start = Instant::now();
    for _ in 0..20 {
        v.verify(&t).unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "readers did not wait for the fetch"
    );
    *fake.gate.lock().unwrap() = None;
    gate.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while v.next_refresh_at() != Some(now + 12 * 3600) {
        assert!(Instant::now() < deadline, "refresh did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(fake.count(), 2);
}

#[test]
fn a_panicking_fetcher_does_not_wedge_the_key_source() {
    let fake = Fake::serving(TestTenant::jwks_json());
    fake.panic_next.store(true, Ordering::SeqCst);
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = blocking(&fake, &clock);
    let t = token(Key::Rsa2048, tt::NOW);
    let v2 = v.clone();
    let t2 = t.clone();
    assert!(
        std::thread::spawn(move || v2.verify(&t2)).join().is_err(),
        "the panic reached its caller"
    );
    // The failed fetch was settled: after the backoff, the next load works and nothing hangs.
    clock.advance(30);
    let start = Instant::now();
    v.verify(&t).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn warm_cache_means_zero_fetches_and_corrupt_entries_are_ignored() {
    let cache = Arc::new(MemoryCache::new());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    // A first replica fetches and fills the cache.
    let fake = Fake::serving(TestTenant::jwks_json());
    let first = Verifier::builder(policy(), source(), Blocking(Arc::clone(&fake)))
        .cache(Arc::clone(&cache))
        .clock(Arc::clone(&clock) as _)
        .build();
    first.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    assert_eq!(fake.count(), 1);
    // A restarted replica verifies its first token from the cache alone.
    let fake2 = Fake::serving(TestTenant::jwks_json());
    let second = Verifier::builder(policy(), source(), Blocking(Arc::clone(&fake2)))
        .cache(Arc::clone(&cache))
        .clock(Arc::clone(&clock) as _)
        .build();
    second.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    assert_eq!(fake2.count(), 0);
    // Garbage in the cache is untrusted input: ignored, and the network is used.
    cache.put(
        JWKS_URL,
        &CachedDocument {
            body: b"\x00garbage".to_vec(),
            fetched_at: tt::NOW,
        },
        3600,
    );
    let fake3 = Fake::serving(TestTenant::jwks_json());
    let third = Verifier::builder(policy(), source(), Blocking(Arc::clone(&fake3)))
        .cache(Arc::clone(&cache))
        .clock(Arc::clone(&clock) as _)
        .build();
    third.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    assert_eq!(fake3.count(), 1);
}

fn async_verifier(fake: &Arc<Fake>, clock: &Arc<ManualClock>) -> AsyncVerifier<Async> {
    AsyncVerifier::builder(policy(), source(), Async(Arc::clone(fake)))
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_concurrent_unknown_kids_share_one_refresh() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = async_verifier(&fake, &clock);
    v.load().await.unwrap();
    fake.set(TestTenant::jwks_rotated_json());
    clock.advance(3600);
    let t = token(Key::Rsa2048Next, tt::NOW + 3600);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.verify(&t).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(fake.count(), 2, "initial load + one shared refresh");
    assert_eq!(
        v.verify(&token(Key::Attacker, tt::NOW + 3600))
            .await
            .unwrap_err(),
        Error::UnknownKey
    );
    assert_eq!(fake.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_cancelled_caller_does_not_cancel_the_fetch() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = async_verifier(&fake, &clock);
    let gate = Arc::new(Barrier::new(2));
    *fake.gate.lock().unwrap() = Some(Arc::clone(&gate));
    let t = token(Key::Rsa2048, tt::NOW);
    let (v2, t2) = (v.clone(), t.clone());
    let caller = tokio::spawn(async move { v2.verify(&t2).await });
    let g = Arc::clone(&gate);
    tokio::task::spawn_blocking(move || g.wait()).await.unwrap(); // fetch started
    caller.abort(); // the request that triggered the load goes away
    *fake.gate.lock().unwrap() = None;
    let g = Arc::clone(&gate);
    tokio::task::spawn_blocking(move || g.wait()).await.unwrap();
    v.verify(&t).await.unwrap();
    assert_eq!(fake.count(), 1, "the first fetch completed and was used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_issuer_down_keeps_last_good_keys() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = async_verifier(&fake, &clock);
    v.load().await.unwrap();
    fake.down.store(true, Ordering::SeqCst);
    for hour in 1..=48 {
        clock.set(tt::NOW + hour * 3600);
        v.refresh_due().await;
        v.verify(&token(Key::Rsa2048, tt::NOW + hour * 3600))
            .await
            .unwrap();
    }
    let requests = fake.count();
    assert!(requests <= 16, "{requests} requests in 48 h of outage");
}

#[test]
fn a_fleet_sharing_a_cache_fetches_once_per_refresh() {
    let fake = Fake::serving(TestTenant::jwks_json());
    let cache = Arc::new(MemoryCache::new());
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let fleet: Vec<_> = (0..8)
        .map(|_| {
            Verifier::builder(policy(), source(), Blocking(Arc::clone(&fake)))
                .cache(Arc::clone(&cache))
                .clock(Arc::clone(&clock) as _)
                .build()
        })
        .collect();
    let verify_all = |key: Key, now: u64| {
        let t = token(key, now);
        let threads: Vec<_> = fleet
            .iter()
            .map(|v| {
                let (v, t) = (v.clone(), t.clone());
                std::thread::spawn(move || v.verify(&t))
            })
            .collect();
        threads
            .into_iter()
            .map(|th| th.join().unwrap())
            .collect::<Vec<_>>()
    };
    // Eight replicas start at once: one fetches, the others use its document.
    assert!(verify_all(Key::Rsa2048, tt::NOW).iter().all(Result::is_ok));
    assert_eq!(fake.count(), 1);
    // A rotation: the first token signed with the new key reaches every replica at once.
    fake.set(TestTenant::jwks_rotated_json());
    clock.advance(3600);
    assert!(
        verify_all(Key::Rsa2048Next, tt::NOW + 3600)
            .iter()
            .all(Result::is_ok)
    );
    assert_eq!(
        fake.count(),
        2,
        "one JWKS fetch for the whole fleet per refresh"
    );
}

//! Redis failing under a running verifier: killed, frozen (SIGSTOP) past the
//! timeouts, restarted empty, holding garbage or another namespace's values.
//! In every case valid tokens keep verifying, promptly, and once Redis is
//! back the cache is used again. All with the default 200 ms timeouts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_jwt::core::{Error, KeySource, Policy, RefreshConfig};
use entra_jwt::{
    AsyncCache, AsyncVerifier, Cache, CachedDocument, Clock, FetchConfig, FixedEntropy,
    ManualClock, RefreshLock, Verifier,
};
use entra_jwt_mock_issuer::MockIssuer;
use entra_jwt_redis::{AsyncRedisCache, RedisCache, RedisCacheConfig};
use entra_jwt_reqwest::ReqwestFetcher;
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use entra_jwt_ureq::UreqFetcher;
use support::RedisServer;

const HOUR: u64 = 3600;

/// A verify with its keys loaded never touches Redis: it takes microseconds.
const FAST: Duration = Duration::from_millis(300);
/// A verify that refreshes with Redis failing: at most one command timeout
/// (200 ms) or a refused connection, plus a local fetch.
const PROMPT: Duration = Duration::from_millis(900);

fn policy() -> Policy {
    Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .build()
        .unwrap()
}

fn token(key: Key, now: u64) -> String {
    TestTenant::get().sign(key, &TestTenant::header(key), &TestTenant::v2_claims(now))
}

fn loopback() -> FetchConfig {
    FetchConfig::default().dangerous_allow_http_loopback()
}

fn source(issuer: &MockIssuer) -> KeySource {
    KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default())
}

fn replica_with(
    issuer: &MockIssuer,
    config: RedisCacheConfig,
    clock: &Arc<ManualClock>,
) -> Verifier<UreqFetcher, RedisCache> {
    Verifier::builder(policy(), source(issuer), UreqFetcher::new(loopback()))
        .cache(RedisCache::new(config).unwrap())
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

/// A replica with the default cache settings (200 ms timeouts, 1 s backoff).
fn replica(
    issuer: &MockIssuer,
    server: &RedisServer,
    clock: &Arc<ManualClock>,
) -> Verifier<UreqFetcher, RedisCache> {
    replica_with(issuer, RedisCacheConfig::new(server.url()), clock)
}

fn async_replica(
    issuer: &MockIssuer,
    server: &RedisServer,
    clock: &Arc<ManualClock>,
) -> AsyncVerifier<ReqwestFetcher, AsyncRedisCache> {
    AsyncVerifier::builder(policy(), source(issuer), ReqwestFetcher::new(loopback()))
        .cache(AsyncRedisCache::open(&server.url()).unwrap())
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

fn jwks_requests(issuer: &MockIssuer) -> usize {
    issuer.requests(&issuer.jwks_path())
}

/// Verifies `t` and asserts it succeeded within `limit`.
fn verify_within(v: &Verifier<UreqFetcher, RedisCache>, t: &str, limit: Duration, what: &str) {
    let start = Instant::now();
    let result = v.verify(t);
    let took = start.elapsed();
    assert!(result.is_ok(), "{what}: {result:?}");
    assert!(took < limit, "{what}: took {took:?}");
}

/// The document stored in Redis for `url` under the default prefix, decoded.
fn stored(server: &RedisServer, url: &str) -> Option<String> {
    let key = RedisCacheConfig::new(server.url()).document_key(url);
    let raw = server.raw(&key)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    Some(text.strip_prefix("entra-jwt v1\n")?.to_string())
}

/// Runs the scheduled refresh of `v` now (on this thread), so it writes to
/// the cache if the cache is up.
fn scheduled_refresh(v: &Verifier<UreqFetcher, RedisCache>, clock: &ManualClock) {
    let due = v.next_refresh_at().unwrap();
    clock.set(due.max(clock.now()));
    v.refresh_due();
}

#[test]
fn redis_killed_mid_run_then_restarted() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let mut server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = replica(&issuer, &server, &clock);
    verify_within(&v, &token(Key::Rsa2048, tt::NOW), PROMPT, "first load");
    assert!(stored(&server, &issuer.jwks_url()).is_some(), "JWKS shared");

    server.kill();
    for _ in 0..20 {
        verify_within(
            &v,
            &token(Key::Rsa2048, tt::NOW),
            FAST,
            "Redis dead, keys loaded",
        );
    }
    // A rotation while Redis is dead: the replica fetches directly.
    issuer.rotate_jwks();
    clock.advance(HOUR);
    let now = tt::NOW + HOUR;
    verify_within(
        &v,
        &token(Key::Rsa2048Next, now),
        PROMPT,
        "rotation, Redis dead",
    );
    assert_eq!(jwks_requests(&issuer), 2);
    // A replica starting while Redis is dead starts from the issuer.
    let fresh = replica(&issuer, &server, &clock);
    verify_within(
        &fresh,
        &token(Key::Rsa2048Next, now),
        PROMPT,
        "start, Redis dead",
    );
    for _ in 0..20 {
        verify_within(
            &fresh,
            &token(Key::Rsa2048, now),
            FAST,
            "Redis dead, keys loaded",
        );
    }

    // Redis comes back, empty, on the same address: after the backoff the
    // replicas use it again without being told.
    server.restart();
    assert!(
        stored(&server, &issuer.jwks_url()).is_none(),
        "restarted empty"
    );
    std::thread::sleep(Duration::from_millis(1100));
    scheduled_refresh(&v, &clock);
    let jwks = stored(&server, &issuer.jwks_url()).expect("the refresh was shared again");
    assert!(jwks.contains(Key::Rsa2048Next.kid()), "the rotated set");
    // And a restarted replica reads it: no request to the issuer.
    let before = issuer.total_requests();
    let restarted = replica(&issuer, &server, &clock);
    verify_within(
        &restarted,
        &token(Key::Rsa2048Next, clock.now()),
        PROMPT,
        "restart from the cache",
    );
    assert_eq!(
        issuer.total_requests(),
        before,
        "JWKS from Redis after reconnection"
    );
}

#[test]
fn redis_frozen_past_the_timeouts_then_resumed() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let mut server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = replica(&issuer, &server, &clock);
    verify_within(&v, &token(Key::Rsa2048, tt::NOW), PROMPT, "first load");

    server.pause();
    for _ in 0..20 {
        verify_within(
            &v,
            &token(Key::Rsa2048, tt::NOW),
            FAST,
            "Redis frozen, keys loaded",
        );
    }
    issuer.rotate_jwks();
    clock.advance(HOUR);
    let now = tt::NOW + HOUR;
    // The cache read times out (200 ms), the cache is off, the replica fetches.
    verify_within(
        &v,
        &token(Key::Rsa2048Next, now),
        PROMPT,
        "rotation, Redis frozen",
    );
    assert_eq!(jwks_requests(&issuer), 2);
    // A replica starting now: its connection is accepted by the kernel but
    // never answered; the connect timeout cuts it short.
    let fresh = replica(&issuer, &server, &clock);
    verify_within(
        &fresh,
        &token(Key::Rsa2048Next, now),
        PROMPT,
        "start, Redis frozen",
    );
    for _ in 0..20 {
        verify_within(
            &fresh,
            &token(Key::Rsa2048, now),
            FAST,
            "Redis frozen, keys loaded",
        );
    }

    server.resume();
    std::thread::sleep(Duration::from_millis(1100));
    scheduled_refresh(&v, &clock);
    let jwks = stored(&server, &issuer.jwks_url()).expect("shared again after resume");
    assert!(jwks.contains(Key::Rsa2048Next.kid()));
}

/// How many connections the server has accepted so far (connections made
/// while it was frozen are accepted, and counted, once it resumes).
fn connections_received(probe: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(probe).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_frozen_redis_costs_one_connection_attempt_per_backoff() {
    let mut server = RedisServer::start();
    let cache = RedisCache::open(&server.url()).unwrap();
    let url = "https://login.microsoftonline.com/t/discovery/v2.0/keys";
    let doc = CachedDocument {
        body: b"{}".to_vec(),
        fetched_at: 1,
    };
    cache.put(url, &doc, 60);
    assert_eq!(cache.get(url), Some(doc.clone()));
    let mut probe = server.connection(); // opened before the freeze
    let before = connections_received(&mut probe);

    server.pause();
    let start = Instant::now();
    let mut calls = 0;
    let mut slowest = Duration::ZERO;
    while start.elapsed() < Duration::from_millis(2500) {
        let t = Instant::now();
        assert_eq!(cache.get(url), None);
        assert_eq!(
            cache.lock_refresh(url, Duration::from_secs(15)),
            RefreshLock::Unavailable
        );
        slowest = slowest.max(t.elapsed());
        calls += 2;
        std::thread::sleep(Duration::from_millis(10));
    }
    server.resume();
    let attempts = connections_received(&mut probe) - before;
    println!(
        "frozen Redis, 2.5 s: {calls} calls, {attempts} connection attempts, slowest {slowest:?}"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "slowest call {slowest:?}"
    );
    assert!(
        (1..=4).contains(&attempts),
        "{attempts} connection attempts in 2.5 s"
    );
    // Back: the cache works again after the backoff.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(cache.get(url), Some(doc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_a_frozen_redis_costs_one_connection_attempt_per_backoff() {
    let mut server = RedisServer::start();
    let cache = Arc::new(AsyncRedisCache::open(&server.url()).unwrap());
    let url = "https://login.microsoftonline.com/t/discovery/v2.0/keys";
    let doc = CachedDocument {
        body: b"{}".to_vec(),
        fetched_at: 1,
    };
    AsyncCache::put(&*cache, url, &doc, 60).await;
    assert_eq!(AsyncCache::get(&*cache, url).await, Some(doc.clone()));
    let mut probe = server.connection();
    let before = connections_received(&mut probe);

    server.pause();
    // Eight callers at once, for 2.5 s.
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let start = Instant::now();
                let (mut calls, mut slowest) = (0u32, Duration::ZERO);
                while start.elapsed() < Duration::from_millis(2500) {
                    let t = Instant::now();
                    assert_eq!(AsyncCache::get(&*cache, url).await, None);
                    assert_eq!(
                        cache.lock_refresh(url, Duration::from_secs(15)).await,
                        RefreshLock::Unavailable
                    );
                    slowest = slowest.max(t.elapsed());
                    calls += 2;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (calls, slowest)
            })
        })
        .collect();
    let (mut calls, mut slowest) = (0, Duration::ZERO);
    for c in callers {
        let (n, s) = c.await.unwrap();
        calls += n;
        slowest = slowest.max(s);
    }
    server.resume();
    let attempts = connections_received(&mut probe) - before;
    println!(
        "frozen Redis, 8 async callers, 2.5 s: {calls} calls, {attempts} connection attempts, slowest {slowest:?}"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "slowest call {slowest:?}"
    );
    assert!(
        (1..=4).contains(&attempts),
        "{attempts} connection attempts in 2.5 s"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(AsyncCache::get(&*cache, url).await, Some(doc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_verifier_with_redis_frozen_then_killed_then_back() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let mut server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let v = async_replica(&issuer, &server, &clock);
    v.verify(&token(Key::Rsa2048, tt::NOW)).await.unwrap();
    assert!(stored(&server, &issuer.jwks_url()).is_some());

    server.pause();
    for _ in 0..10 {
        let t = Instant::now();
        v.verify(&token(Key::Rsa2048, tt::NOW)).await.unwrap();
        assert!(t.elapsed() < FAST);
    }
    issuer.rotate_jwks();
    clock.advance(HOUR);
    let now = tt::NOW + HOUR;
    let t = Instant::now();
    v.verify(&token(Key::Rsa2048Next, now)).await.unwrap();
    assert!(
        t.elapsed() < PROMPT,
        "rotation, Redis frozen: {:?}",
        t.elapsed()
    );
    let fresh = async_replica(&issuer, &server, &clock);
    let t = Instant::now();
    fresh.verify(&token(Key::Rsa2048Next, now)).await.unwrap();
    assert!(
        t.elapsed() < PROMPT,
        "start, Redis frozen: {:?}",
        t.elapsed()
    );

    server.resume();
    server.kill();
    let t = Instant::now();
    let dead = async_replica(&issuer, &server, &clock);
    dead.verify(&token(Key::Rsa2048Next, now)).await.unwrap();
    assert!(t.elapsed() < PROMPT, "start, Redis dead: {:?}", t.elapsed());

    // Back, empty: a replica's cache reconnects after the backoff.
    server.restart();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cache = AsyncRedisCache::open(&server.url()).unwrap();
    let doc = CachedDocument {
        body: b"{}".to_vec(),
        fetched_at: 1,
    };
    AsyncCache::put(&cache, "u", &doc, 60).await;
    assert_eq!(AsyncCache::get(&cache, "u").await, Some(doc));
    let due = v.next_refresh_at().unwrap();
    clock.set(due.max(clock.now()));
    v.refresh_due().await;
    let jwks = stored(&server, &issuer.jwks_url()).expect("shared again after restart");
    assert!(jwks.contains(Key::Rsa2048Next.kid()));
}

#[test]
fn garbage_planted_under_the_keys_is_ignored_and_overwritten() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    replica(&issuer, &server, &clock).load().unwrap();
    let config = RedisCacheConfig::new(server.url());
    let jwks_key = config.document_key(&issuer.jwks_url());
    let discovery_key = config.document_key(&issuer.discovery_url());
    let plants: [&[u8]; 4] = [
        b"\x00\xffnot an envelope",
        br#"{"keys":[]}"#,
        b"entra-jwt v1\n1800000000\n9\nnot json!",
        b"entra-jwt v1\n1800000000\n11\n{\"keys\":[]}",
    ];
    for (i, plant) in plants.iter().enumerate() {
        server.plant(&jwks_key, plant);
        let before = jwks_requests(&issuer);
        let v = replica(&issuer, &server, &clock);
        verify_within(
            &v,
            &token(Key::Rsa2048, tt::NOW),
            PROMPT,
            "garbage JWKS in Redis",
        );
        assert_eq!(
            jwks_requests(&issuer),
            before + 1,
            "plant {i}: fetched instead"
        );
        let jwks = stored(&server, &issuer.jwks_url()).unwrap();
        assert!(jwks.contains(Key::Rsa2048.kid()), "plant {i}: overwritten");
    }
    // Garbage discovery, and a list where a string belongs.
    server.plant(&discovery_key, b"<html>not a discovery document</html>");
    let _: i64 = server.query(redis::cmd("DEL").arg(&jwks_key));
    let _: i64 = server.query(redis::cmd("RPUSH").arg(&jwks_key).arg("x"));
    let v = replica(&issuer, &server, &clock);
    verify_within(
        &v,
        &token(Key::Rsa2048, tt::NOW),
        PROMPT,
        "garbage discovery",
    );
    assert!(
        stored(&server, &issuer.jwks_url()).is_some(),
        "list replaced"
    );
    assert!(
        stored(&server, &issuer.discovery_url())
            .unwrap()
            .contains("jwks_uri"),
        "discovery overwritten"
    );
    // An attacker's token is still refused.
    assert_eq!(
        v.verify(&token(Key::Attacker, tt::NOW)).unwrap_err(),
        Error::UnknownKey
    );
}

#[test]
fn another_namespace_is_never_read() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    // Another service on the same Redis caches an (attacker's) key set for
    // the same URL under its own prefix.
    let other =
        RedisCache::new(RedisCacheConfig::new(server.url()).prefix("other-service:")).unwrap();
    let attacker_jwks = format!(r#"{{"keys":[{}]}}"#, TestTenant::public_jwk(Key::Attacker));
    other.put(
        &issuer.jwks_url(),
        &CachedDocument {
            body: attacker_jwks.clone().into_bytes(),
            fetched_at: tt::NOW,
        },
        3600,
    );
    let v = replica_with(
        &issuer,
        RedisCacheConfig::new(server.url()).prefix("my-api:"),
        &clock,
    );
    verify_within(&v, &token(Key::Rsa2048, tt::NOW), PROMPT, "own namespace");
    assert_eq!(
        jwks_requests(&issuer),
        1,
        "fetched: the other namespace is not seen"
    );
    assert_eq!(
        v.verify(&token(Key::Attacker, tt::NOW)).unwrap_err(),
        Error::UnknownKey
    );
    // Our documents went under our prefix, theirs are untouched.
    let mine = RedisCacheConfig::new(server.url())
        .prefix("my-api:")
        .document_key(&issuer.jwks_url());
    assert!(server.raw(&mine).is_some());
    assert_eq!(
        other.get(&issuer.jwks_url()).unwrap().body,
        attacker_jwks.into_bytes()
    );
}

//! A fleet of verifiers sharing one real Redis and one mock Entra issuer: each
//! rotation costs the issuer one JWKS request, whatever the fleet's size, and
//! a restarted replica verifies from the warm cache without asking the issuer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use entra_jwt::core::{KeySource, Policy, RefreshConfig};
use entra_jwt::{AsyncVerifier, FetchConfig, FixedEntropy, ManualClock, Verifier};
use entra_jwt_mock_issuer::{MockIssuer, Outage};
use entra_jwt_redis::{AsyncRedisCache, RedisCache, RedisCacheConfig};
use entra_jwt_reqwest::ReqwestFetcher;
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use entra_jwt_ureq::UreqFetcher;
use support::RedisServer;

const HOUR: u64 = 3600;
const FLEET: usize = 8;

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

/// Generous timeouts: these tests are about coordination, and the machine
/// may be busy compiling; the fault suite uses the defaults.
fn config(server: &RedisServer) -> RedisCacheConfig {
    RedisCacheConfig::new(server.url())
        .connect_timeout(Duration::from_secs(1))
        .command_timeout(Duration::from_secs(1))
}

fn source(issuer: &MockIssuer) -> KeySource {
    KeySource::from_discovery_url(&issuer.discovery_url(), RefreshConfig::default())
}

/// One replica: its own verifier, fetcher and Redis connection.
fn replica(
    issuer: &MockIssuer,
    server: &RedisServer,
    clock: &Arc<ManualClock>,
) -> Verifier<UreqFetcher, RedisCache> {
    Verifier::builder(policy(), source(issuer), UreqFetcher::new(loopback()))
        .cache(RedisCache::new(config(server)).unwrap())
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

fn async_replica(
    issuer: &MockIssuer,
    server: &RedisServer,
    clock: &Arc<ManualClock>,
) -> AsyncVerifier<ReqwestFetcher, AsyncRedisCache> {
    AsyncVerifier::builder(policy(), source(issuer), ReqwestFetcher::new(loopback()))
        .cache(AsyncRedisCache::new(config(server)).unwrap())
        .clock(Arc::clone(clock) as _)
        .entropy(Arc::new(FixedEntropy(0)))
        .build()
}

/// (discovery, JWKS) requests the issuer has seen.
fn counts(issuer: &MockIssuer) -> (usize, usize) {
    (
        issuer.requests(&issuer.discovery_path()),
        issuer.requests(&issuer.jwks_path()),
    )
}

#[test]
fn two_replicas_make_one_jwks_request_per_rotation() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let a = replica(&issuer, &server, &clock);
    let b = replica(&issuer, &server, &clock);
    a.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    b.verify(&token(Key::Rsa2048, tt::NOW)).unwrap();
    assert_eq!(counts(&issuer), (1, 1), "b started from a's documents");
    // Entra rotates; the first token signed with the new key reaches both.
    issuer.rotate_jwks();
    clock.advance(HOUR);
    let now = tt::NOW + HOUR;
    a.verify(&token(Key::Rsa2048Next, now)).unwrap();
    b.verify(&token(Key::Rsa2048Next, now)).unwrap();
    let (discovery, jwks) = counts(&issuer);
    println!("two replicas, start + one rotation: discovery {discovery}, JWKS {jwks} requests");
    assert_eq!(
        (discovery, jwks),
        (1, 2),
        "one JWKS request for the rotation, not two"
    );
    // Both still accept the old key, which is still published.
    a.verify(&token(Key::Rsa2048, now)).unwrap();
    b.verify(&token(Key::Rsa2048, now)).unwrap();
    assert_eq!(counts(&issuer), (1, 2));
}

#[test]
fn eight_concurrent_replicas_make_one_jwks_request_per_refresh() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let fleet: Vec<_> = (0..FLEET)
        .map(|_| replica(&issuer, &server, &clock))
        .collect();
    let verify_all = |key: Key, now: u64| {
        let t = token(key, now);
        let start = Arc::new(Barrier::new(FLEET));
        let threads: Vec<_> = fleet
            .iter()
            .map(|v| {
                let (v, t, start) = (v.clone(), t.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    v.verify(&t)
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap().unwrap();
        }
    };
    // Eight replicas start at once: one fetches, the others use its documents.
    verify_all(Key::Rsa2048, tt::NOW);
    let at_start = counts(&issuer);
    // A rotation reaches every replica at once.
    issuer.rotate_jwks();
    clock.advance(HOUR);
    verify_all(Key::Rsa2048Next, tt::NOW + HOUR);
    let after_rotation = counts(&issuer);
    println!(
        "{FLEET} concurrent replicas: at start {at_start:?}, after one rotation {after_rotation:?} (discovery, JWKS) requests"
    );
    assert_eq!(
        at_start,
        (1, 1),
        "one discovery and one JWKS fetch for the whole fleet"
    );
    assert_eq!(after_rotation, (1, 2), "one JWKS fetch for the rotation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_async_replicas_make_one_jwks_request_per_refresh() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let fleet: Vec<_> = (0..FLEET)
        .map(|_| async_replica(&issuer, &server, &clock))
        .collect();
    let verify_all = |key: Key, now: u64| {
        let t = token(key, now);
        let start = Arc::new(tokio::sync::Barrier::new(FLEET));
        let tasks: Vec<_> = fleet
            .iter()
            .map(|v| {
                let (v, t, start) = (v.clone(), t.clone(), Arc::clone(&start));
                tokio::spawn(async move {
                    start.wait().await;
                    v.verify(&t).await
                })
            })
            .collect();
        async move {
            for task in tasks {
                task.await.unwrap().unwrap();
            }
        }
    };
    verify_all(Key::Rsa2048, tt::NOW).await;
    let at_start = counts(&issuer);
    issuer.rotate_jwks();
    clock.advance(HOUR);
    verify_all(Key::Rsa2048Next, tt::NOW + HOUR).await;
    let after_rotation = counts(&issuer);
    println!(
        "{FLEET} concurrent async replicas: at start {at_start:?}, after one rotation {after_rotation:?} (discovery, JWKS) requests"
    );
    assert_eq!(
        at_start,
        (1, 1),
        "one discovery and one JWKS fetch for the whole fleet"
    );
    assert_eq!(after_rotation, (1, 2), "one JWKS fetch for the rotation");
}

#[test]
fn a_restarted_replica_verifies_its_first_token_from_warm_redis() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let first = replica(&issuer, &server, &clock);
    first.load().unwrap();
    assert_eq!(counts(&issuer), (1, 1));
    drop(first); // the process ends
    clock.advance(HOUR);
    let now = tt::NOW + HOUR;
    let restarted = replica(&issuer, &server, &clock);
    let before = issuer.total_requests();
    let claims = restarted.verify(&token(Key::Rsa2048, now)).unwrap();
    drop(claims);
    assert_eq!(
        issuer.total_requests(),
        before,
        "zero requests to the issuer: discovery and JWKS came from Redis"
    );
    // Even with the identity provider unreachable, a restart verifies at once.
    issuer.go_down(Outage::Refused);
    let restarted_again = replica(&issuer, &server, &clock);
    restarted_again.verify(&token(Key::Rsa2048, now)).unwrap();
    assert_eq!(issuer.total_requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_async_replica_verifies_its_first_token_from_warm_redis() {
    let issuer = MockIssuer::entra(tt::TENANT_ID);
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(tt::NOW));
    let first = async_replica(&issuer, &server, &clock);
    first.load().await.unwrap();
    assert_eq!(counts(&issuer), (1, 1));
    drop(first);
    let restarted = async_replica(&issuer, &server, &clock);
    let before = issuer.total_requests();
    restarted
        .verify(&token(Key::Rsa2048, tt::NOW))
        .await
        .unwrap();
    assert_eq!(
        issuer.total_requests(),
        before,
        "zero requests to the issuer"
    );
}

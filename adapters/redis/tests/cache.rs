//! The cache ports on a real Redis: round trips, TTLs, namespacing, untrusted
//! values, the refresh lock, authentication and TLS. Blocking and async alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::time::Duration;

use entra_jwt::{AsyncCache, Cache, CachedDocument, RefreshLock};
use entra_jwt_redis::{AsyncRedisCache, MAX_DOCUMENT_BYTES, RedisCache, RedisCacheConfig};
use support::RedisServer;

const URL: &str = "https://login.microsoftonline.com/tenant/discovery/v2.0/keys";

fn doc(body: &str, fetched_at: u64) -> CachedDocument {
    CachedDocument {
        body: body.as_bytes().to_vec(),
        fetched_at,
    }
}

fn blocking(server: &RedisServer) -> RedisCache {
    RedisCache::open(&server.url()).unwrap()
}

fn pttl(server: &RedisServer, key: &str) -> i64 {
    server.query(redis::cmd("PTTL").arg(key))
}

#[test]
fn put_get_round_trip_with_fetched_at_and_ttl() {
    let server = RedisServer::start();
    let cache = blocking(&server);
    assert_eq!(cache.get(URL), None, "empty Redis: no document");
    let d = doc(r#"{"keys":[]}"#, 1_800_000_000);
    cache.put(URL, &d, 86_400);
    assert_eq!(cache.get(URL), Some(d.clone()));
    let key = cache.config().document_key(URL);
    assert!(key.starts_with("entra-jwt:doc:"), "{key}");
    let ttl = pttl(&server, &key);
    assert!(ttl > 86_000_000 && ttl <= 86_400_000, "PTTL {ttl}");
    // The stored form is the versioned envelope.
    let raw = server.raw(&key).unwrap();
    assert!(
        raw.starts_with(b"entra-jwt v1\n1800000000\n11\n"),
        "{raw:?}"
    );
    // A newer put replaces it; another URL is another key.
    let newer = doc(r#"{"keys":[1]}"#, 1_800_000_100);
    cache.put(URL, &newer, 60);
    assert_eq!(cache.get(URL), Some(newer));
    assert_eq!(cache.get("https://example.com/other"), None);
    // A TTL of zero seconds still stores (for one second), never errors.
    cache.put("https://example.com/zero", &d, 0);
    let ttl = pttl(
        &server,
        &cache.config().document_key("https://example.com/zero"),
    );
    assert!(ttl > 0 && ttl <= 1000, "PTTL {ttl}");
}

#[test]
fn entries_expire_with_their_ttl() {
    let server = RedisServer::start();
    let cache = blocking(&server);
    cache.put(URL, &doc("{}", 1), 1);
    assert!(cache.get(URL).is_some());
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(cache.get(URL), None);
}

#[test]
fn prefixes_are_namespaces() {
    let server = RedisServer::start();
    let a = RedisCache::new(RedisCacheConfig::new(server.url()).prefix("svc-a:")).unwrap();
    let b = RedisCache::new(RedisCacheConfig::new(server.url()).prefix("svc-b:")).unwrap();
    let default = blocking(&server);
    a.put(URL, &doc(r#"{"keys":["a"]}"#, 1), 60);
    assert_eq!(b.get(URL), None, "another prefix does not see it");
    assert_eq!(default.get(URL), None);
    let a_key = a.config().document_key(URL);
    assert!(a_key.starts_with("svc-a:doc:"), "{a_key}");
    assert!(server.raw(&a_key).is_some());
    b.put(URL, &doc(r#"{"keys":["b"]}"#, 2), 60);
    assert_eq!(a.get(URL).unwrap().fetched_at, 1);
    assert_eq!(b.get(URL).unwrap().fetched_at, 2);
    // Locks are namespaced too.
    let RefreshLock::Acquired(_) = a.lock_refresh(URL, Duration::from_secs(10)) else {
        panic!("a's lock")
    };
    assert!(matches!(
        b.lock_refresh(URL, Duration::from_secs(10)),
        RefreshLock::Acquired(_)
    ));
}

#[test]
fn garbage_under_the_key_is_ignored_then_overwritten() {
    let server = RedisServer::start();
    let cache = blocking(&server);
    let key = cache.config().document_key(URL);
    let good = doc(r#"{"keys":[]}"#, 1_800_000_000);
    let mut oversized = b"entra-jwt v1\n1\n".to_vec();
    oversized.extend_from_slice(format!("{}\n", MAX_DOCUMENT_BYTES + 10).as_bytes());
    oversized.resize(oversized.len() + MAX_DOCUMENT_BYTES + 10, b'a');
    let plants: Vec<Vec<u8>> = vec![
        b"\x00\xffgarbage".to_vec(),
        br#"{"keys":[]}"#.to_vec(),        // a bare body: foreign
        b"entra-jwt v1\n17000\n".to_vec(), // truncated header
        b"entra-jwt v1\n1800000000\n99\n{}".to_vec(), // truncated body
        b"entra-jwt v2\n1\n2\n{}".to_vec(), // another version
        oversized,                         // larger than the cap
    ];
    for plant in plants {
        server.plant(&key, &plant);
        assert_eq!(cache.get(URL), None, "planted {} bytes", plant.len());
        // The next fetch overwrites it.
        cache.put(URL, &good, 60);
        assert_eq!(cache.get(URL), Some(good.clone()));
    }
    // A key of another type: ignored, and the connection still works.
    let () = server.query(redis::cmd("DEL").arg(&key));
    let _: i64 = server.query(redis::cmd("RPUSH").arg(&key).arg("x"));
    assert_eq!(cache.get(URL), None);
    cache.put(URL, &good, 60);
    assert_eq!(cache.get(URL), Some(good));
}

#[test]
fn the_refresh_lock_is_exclusive_token_checked_and_expires() {
    let server = RedisServer::start();
    let one = blocking(&server);
    let two = blocking(&server); // another replica, its own connection
    let RefreshLock::Acquired(token) = one.lock_refresh(URL, Duration::from_secs(30)) else {
        panic!("first lock")
    };
    let key = one.config().lock_key(URL);
    let stored: Option<String> = server.query(redis::cmd("GET").arg(&key));
    assert_eq!(stored.as_deref(), Some(token.as_str()));
    let ttl = pttl(&server, &key);
    assert!(ttl > 29_000 && ttl <= 30_000, "lock PTTL {ttl}");
    assert_eq!(
        two.lock_refresh(URL, Duration::from_secs(30)),
        RefreshLock::HeldElsewhere
    );
    assert_eq!(
        one.lock_refresh(URL, Duration::from_secs(30)),
        RefreshLock::HeldElsewhere,
        "not re-entrant: a second refresh in the same replica waits too"
    );
    // A slow replica with a stale token cannot free it.
    two.unlock_refresh(URL, "someone else's token");
    assert_eq!(
        two.lock_refresh(URL, Duration::from_secs(30)),
        RefreshLock::HeldElsewhere
    );
    one.unlock_refresh(URL, &token);
    let RefreshLock::Acquired(token2) = two.lock_refresh(URL, Duration::from_millis(200)) else {
        panic!("free after unlock")
    };
    assert_ne!(token, token2, "tokens are unique");
    // The holder "dies": the lock lapses by itself.
    std::thread::sleep(Duration::from_millis(400));
    let RefreshLock::Acquired(token3) = one.lock_refresh(URL, Duration::from_secs(30)) else {
        panic!("expired lock taken again")
    };
    // The dead holder's late unlock does not free the new holder's lock.
    two.unlock_refresh(URL, &token2);
    assert_eq!(
        two.lock_refresh(URL, Duration::from_secs(30)),
        RefreshLock::HeldElsewhere
    );
    one.unlock_refresh(URL, &token3);
    let exists: i64 = server.query(redis::cmd("EXISTS").arg(&key));
    assert_eq!(exists, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_cache_round_trip_namespaces_garbage_and_lock() {
    let server = RedisServer::start();
    let cache = AsyncRedisCache::open(&server.url()).unwrap();
    let other = AsyncRedisCache::new(RedisCacheConfig::new(server.url()).prefix("other:")).unwrap();
    assert_eq!(AsyncCache::get(&cache, URL).await, None);
    let d = doc(r#"{"keys":[]}"#, 1_800_000_000);
    AsyncCache::put(&cache, URL, &d, 3600).await;
    assert_eq!(AsyncCache::get(&cache, URL).await, Some(d.clone()));
    assert_eq!(AsyncCache::get(&other, URL).await, None);
    let key = cache.config().document_key(URL);
    let ttl = pttl(&server, &key);
    assert!(ttl > 3_500_000 && ttl <= 3_600_000, "PTTL {ttl}");
    server.plant(&key, b"garbage");
    assert_eq!(AsyncCache::get(&cache, URL).await, None);
    AsyncCache::put(&cache, URL, &d, 3600).await;
    assert_eq!(AsyncCache::get(&cache, URL).await, Some(d));

    let RefreshLock::Acquired(token) = cache.lock_refresh(URL, Duration::from_secs(30)).await
    else {
        panic!("first lock")
    };
    let second = AsyncRedisCache::open(&server.url()).unwrap();
    assert_eq!(
        second.lock_refresh(URL, Duration::from_secs(30)).await,
        RefreshLock::HeldElsewhere
    );
    second.unlock_refresh(URL, "not the token").await;
    assert_eq!(
        second.lock_refresh(URL, Duration::from_secs(30)).await,
        RefreshLock::HeldElsewhere
    );
    cache.unlock_refresh(URL, &token).await;
    assert!(matches!(
        second.lock_refresh(URL, Duration::from_millis(100)).await,
        RefreshLock::Acquired(_)
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        cache.lock_refresh(URL, Duration::from_secs(30)).await,
        RefreshLock::Acquired(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_concurrent_callers_share_one_connection() {
    let server = RedisServer::start();
    let cache = std::sync::Arc::new(AsyncRedisCache::open(&server.url()).unwrap());
    let d = doc("{}", 5);
    AsyncCache::put(&*cache, URL, &d, 60).await;
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let cache = std::sync::Arc::clone(&cache);
            tokio::spawn(async move { AsyncCache::get(&*cache, URL).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(d.clone()));
    }
    let clients: String = server.query(redis::cmd("CLIENT").arg("LIST"));
    // Our multiplexed connection plus the test's own query connection.
    assert_eq!(clients.lines().count(), 2, "{clients}");
}

#[test]
fn password_and_acl_user_from_the_url() {
    let server = RedisServer::start_with(&[
        "--requirepass",
        "default-secret",
        "--user",
        "replica",
        "on",
        ">replica-secret",
        "~entra-jwt:*",
        "+@all",
    ]);
    let d = doc("{}", 9);
    let port = server.port();
    let with_password =
        RedisCache::open(&format!("redis://:default-secret@127.0.0.1:{port}/0")).unwrap();
    with_password.put(URL, &d, 60);
    assert_eq!(with_password.get(URL), Some(d.clone()));
    let acl_user =
        RedisCache::open(&format!("redis://replica:replica-secret@127.0.0.1:{port}")).unwrap();
    assert_eq!(acl_user.get(URL), Some(d.clone()));
    assert!(matches!(
        acl_user.lock_refresh(URL, Duration::from_secs(5)),
        RefreshLock::Acquired(_)
    ));
    // A wrong password: no cache, no panic, no error to the caller.
    let wrong = RedisCache::open(&format!("redis://replica:nope@127.0.0.1:{port}")).unwrap();
    assert_eq!(wrong.get(URL), None);
    wrong.put(URL, &doc("{}", 10), 60);
    assert_eq!(
        wrong.lock_refresh(URL, Duration::from_secs(5)),
        RefreshLock::Unavailable
    );
    assert_eq!(with_password.get(URL), Some(d), "unchanged");
    // The ACL user may only touch our prefix: another prefix is refused by
    // the server and answered as "no cache".
    let outside = RedisCache::new(
        RedisCacheConfig::new(format!("redis://replica:replica-secret@127.0.0.1:{port}"))
            .prefix("elsewhere:"),
    )
    .unwrap();
    assert_eq!(outside.get(URL), None);
    assert_eq!(
        outside.lock_refresh(URL, Duration::from_secs(5)),
        RefreshLock::Unavailable
    );
}

/// PEM for a DER certificate or PKCS#8 key.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A test CA and a server certificate for 127.0.0.1, as PEM files in `dir`.
fn tls_files(dir: &std::path::Path) -> (String, String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "entra-jwt-redis test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let ca_pem = pem("CERTIFICATE", ca.der());
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    (
        write("server.crt", &pem("CERTIFICATE", cert.der())),
        write("server.key", &pem("PRIVATE KEY", &key.serialize_der())),
        write("ca.crt", &ca_pem),
        ca_pem,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_private_ca_blocking_and_async() {
    let dir = std::env::temp_dir().join(format!("entra-jwt-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, ca, ca_pem) = tls_files(&dir);
    let server = RedisServer::start_tls(&cert, &key, &ca);
    assert!(server.url().starts_with("rediss://127.0.0.1:"));
    let config = RedisCacheConfig::new(server.url())
        .tls_root_certificates_pem(ca_pem)
        .connect_timeout(Duration::from_secs(2))
        .command_timeout(Duration::from_secs(2));
    let d = doc(r#"{"keys":[]}"#, 77);
    let cache = RedisCache::new(config.clone()).unwrap();
    let put = tokio::task::spawn_blocking(move || {
        cache.put(URL, &d, 60);
        cache.get(URL)
    });
    assert_eq!(put.await.unwrap(), Some(doc(r#"{"keys":[]}"#, 77)));
    let async_cache = AsyncRedisCache::new(config).unwrap();
    assert_eq!(
        AsyncCache::get(&async_cache, URL).await,
        Some(doc(r#"{"keys":[]}"#, 77))
    );
    // Without the private CA (Mozilla's roots only) the server is not
    // trusted: no cache, and no error to the caller.
    let untrusted = AsyncRedisCache::new(
        RedisCacheConfig::new(server.url()).connect_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    assert_eq!(AsyncCache::get(&untrusted, URL).await, None);
    // Plain text to a TLS port: nothing either.
    let plain = AsyncRedisCache::open(&server.url().replace("rediss://", "redis://")).unwrap();
    assert_eq!(AsyncCache::get(&plain, URL).await, None);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills every client connection but the caller's (as a proxy or the
/// server's idle `timeout` would).
fn kill_clients(server: &RedisServer) {
    let _: i64 = server.query(
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .arg("SKIPME")
            .arg("yes"),
    );
}

#[test]
fn a_connection_closed_by_the_server_is_replaced_on_the_same_call() {
    let server = RedisServer::start_with(&["--timeout", "1"]);
    let cache = blocking(&server);
    let d = doc("{}", 3);
    cache.put(URL, &d, 60);
    kill_clients(&server);
    assert_eq!(cache.get(URL), Some(d.clone()), "after CLIENT KILL");
    // Idle past the server's `timeout 1`: closed by the server, replaced.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(cache.get(URL), Some(d.clone()), "after an idle timeout");
    assert!(matches!(
        cache.lock_refresh(URL, Duration::from_secs(5)),
        RefreshLock::Acquired(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_a_connection_closed_by_the_server_is_replaced_on_the_same_call() {
    let server = RedisServer::start_with(&["--timeout", "1"]);
    let cache = AsyncRedisCache::open(&server.url()).unwrap();
    let d = doc("{}", 3);
    AsyncCache::put(&cache, URL, &d, 60).await;
    kill_clients(&server);
    assert_eq!(AsyncCache::get(&cache, URL).await, Some(d.clone()));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(AsyncCache::get(&cache, URL).await, Some(d.clone()));
    assert!(matches!(
        cache.lock_refresh(URL, Duration::from_secs(5)).await,
        RefreshLock::Acquired(_)
    ));
}

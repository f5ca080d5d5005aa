//! The server's own behaviours, driven by a raw `TcpStream` client.

use super::*;

/// GETs `path` over a fresh connection and returns (status, body).
fn get(issuer: &MockIssuer, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut tcp = TcpStream::connect(issuer.addr())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    if issuer.is_tls() {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(issuer.ca_der()))
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        exchange(&mut tls, path)
    } else {
        exchange(&mut tcp, path)
    }
}

fn exchange(io: &mut (impl Read + Write), path: &str) -> io::Result<(u16, Vec<u8>)> {
    write!(io, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    io.flush()?;
    let mut raw = Vec::new();
    io.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("no head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other("no status"))?;
    Ok((status, raw[split + 4..].to_vec()))
}

#[test]
fn routes_sequences_and_counters() {
    let issuer = MockIssuer::start();
    issuer.route(
        "/seq",
        Response::sequence([Response::status(500), Response::ok("done")]),
    );
    assert!(issuer.url("seq").starts_with("http://127.0.0.1:"));
    assert_eq!(get(&issuer, "/seq").unwrap().0, 500);
    assert_eq!(get(&issuer, "/seq?x=1").unwrap(), (200, b"done".to_vec()));
    assert_eq!(get(&issuer, "/seq").unwrap(), (200, b"done".to_vec()));
    assert_eq!(get(&issuer, "/nothing").unwrap().0, 404);
    assert_eq!(issuer.requests("/seq"), 3);
    assert_eq!(issuer.total_requests(), 4);
    issuer.route("/seq", Response::bytes(100_000));
    assert_eq!(get(&issuer, "/seq").unwrap().1.len(), 100_000);
}

#[test]
fn hang_ends_when_dropped_and_outages_come_back() {
    let issuer = MockIssuer::start();
    issuer.route("/hang", Response::hang());
    issuer.route("/ok", Response::ok("up"));
    let mut tcp = TcpStream::connect(issuer.addr()).unwrap();
    tcp.write_all(b"GET /hang HTTP/1.1\r\n\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while issuer.requests("/hang") == 0 && Instant::now() < deadline {
        thread::sleep(POLL);
    }

    issuer.go_down(Outage::Unavailable);
    assert_eq!(get(&issuer, "/ok").unwrap().0, 503);
    issuer.go_down(Outage::Refused);
    let refused = TcpStream::connect(issuer.addr()).unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
    issuer.come_back();
    assert_eq!(get(&issuer, "/ok").unwrap(), (200, b"up".to_vec()));

    let started = Instant::now();
    drop(issuer);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The hanging connection was closed without an answer.
    tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn entra_tenant_over_tls() {
    let issuer = MockIssuer::entra_tls(entra_jwt_test_tenant::TENANT_ID);
    assert!(issuer.jwks_url().starts_with("https://127.0.0.1:"));
    let (status, body) = get(&issuer, &issuer.discovery_path()).unwrap();
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains(&format!("\"jwks_uri\": \"{}\"", issuer.jwks_url())));
    assert!(body.contains(entra_jwt_test_tenant::ISSUER_V2));
    let (_, jwks) = get(&issuer, &issuer.jwks_path()).unwrap();
    assert_eq!(jwks, TestTenant::jwks_json().as_bytes());
    issuer.rotate_jwks();
    let (_, jwks) = get(&issuer, &issuer.jwks_path()).unwrap();
    assert_eq!(jwks, TestTenant::jwks_rotated_json().as_bytes());
    assert_eq!(issuer.requests(&issuer.jwks_path()), 2);
}

//! A real local HTTP/1.1 (and HTTPS) server that plays an OpenID issuer, for tests only.
//!
//! [`MockIssuer`] listens on `127.0.0.1` on a free port, answers each route
//! with a scripted [`Response`] (a fixed body, a sequence consumed one reply per
//! request, a hang, a body of N bytes, a redirect, a `Retry-After`), counts the
//! requests per path, and can go down and come back ([`Outage`]).
//! [`MockIssuer::start_tls`] serves HTTPS with a CA and a server certificate
//! generated at test time (rcgen, rustls on ring); the client trusts
//! [`MockIssuer::ca_der`]. [`MockIssuer::entra`] serves the generated test
//! tenant's discovery document and JWKS at Microsoft's paths.
//!
//! Every connection gets one response and is closed (`Connection: close`), so
//! each request is a fresh connection. Dropping the server stops it: the
//! accept loop and every connection thread (hanging ones included) end within
//! a few tens of milliseconds.
//!
//! ```no_run
//! use entra_jwt_mock_issuer::{MockIssuer, Response};
//!
//! let issuer = MockIssuer::start();
//! issuer.route(
//!     "/keys",
//!     Response::sequence([Response::status(500), Response::json(r#"{"keys":[]}"#)]),
//! );
//! let url = issuer.url("/keys"); // "http://127.0.0.1:PORT/keys"
//! // ... point the client under test at `url` ...
//! assert!(issuer.requests("/keys") <= 2);
//! ```

#![forbid(unsafe_code)]
// A dev-only test helper: a panic on a failed bind, a poisoned lock or a
// misuse (`ca_der` on a plain-HTTP server) is the right outcome, since it
// fails the test that called it. Server threads themselves never panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use entra_jwt_test_tenant::{JWKS_URI_V2, TestTenant};

/// How often blocked threads look at the stop flags.
const POLL: Duration = Duration::from_millis(10);

/// Largest request head the server reads before giving up on a connection.
const MAX_HEAD: usize = 64 * 1024;

/// One scripted answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    content_length: bool,
    hang: bool,
    delay: Duration,
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Arc<[u8]>),
    /// `len` bytes of `b'a'`, generated while writing.
    Filler(usize),
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Self::Bytes(b) => b.len(),
            Self::Filler(n) => *n,
        }
    }
}

impl Reply {
    fn new(status: u16, body: Body) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            content_length: true,
            hang: false,
            delay: Duration::ZERO,
        }
    }
}

/// What a route answers: one reply, or a sequence consumed one reply per
/// request whose last reply then repeats.
///
/// The `with_*` modifiers apply to every reply of a sequence.
#[derive(Debug, Clone)]
pub struct Response {
    replies: Vec<Reply>,
}

impl Response {
    fn single(reply: Reply) -> Self {
        Self {
            replies: vec![reply],
        }
    }

    fn map(mut self, f: impl Fn(&mut Reply)) -> Self {
        self.replies.iter_mut().for_each(f);
        self
    }

    /// `status` with `body`.
    #[must_use]
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::single(Reply::new(status, Body::Bytes(body.into().into())))
    }

    /// `200 OK` with `body`.
    #[must_use]
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, body)
    }

    /// `200 OK` with `body` and `Content-Type: application/json; charset=utf-8`.
    #[must_use]
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::ok(body).with_header("Content-Type", "application/json; charset=utf-8")
    }

    /// `status` with an empty body.
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self::new(status, Vec::new())
    }

    /// `200 OK` with a body of `len` bytes (`a`), generated while writing
    /// (never held in memory), with a `Content-Length` unless
    /// [`Response::without_content_length`] is applied.
    #[must_use]
    pub fn bytes(len: usize) -> Self {
        Self::single(Reply::new(200, Body::Filler(len)))
    }

    /// `302 Found` with `Location: location`.
    #[must_use]
    pub fn redirect(location: impl Into<String>) -> Self {
        Self::status(302).with_header("Location", location)
    }

    /// Reads the request, then never answers until the server stops.
    #[must_use]
    pub fn hang() -> Self {
        Self::status(200).map(|r| r.hang = true)
    }

    /// The replies of `responses` in order, one per request; the last one
    /// repeats once the sequence is used up (an empty sequence answers 404).
    #[must_use]
    pub fn sequence(responses: impl IntoIterator<Item = Response>) -> Self {
        Self {
            replies: responses.into_iter().flat_map(|r| r.replies).collect(),
        }
    }

    /// Sets the status code.
    #[must_use]
    pub fn with_status(self, status: u16) -> Self {
        self.map(|r| r.status = status)
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        self.map(|r| r.headers.push((name.clone(), value.clone())))
    }

    /// Adds `Retry-After: seconds`.
    #[must_use]
    pub fn with_retry_after(self, seconds: u64) -> Self {
        self.with_header("Retry-After", seconds.to_string())
    }

    /// Sends no `Content-Length`: the body ends when the connection closes.
    #[must_use]
    pub fn without_content_length(self) -> Self {
        self.map(|r| r.content_length = false)
    }

    /// Waits `delay` after reading the request before answering.
    #[must_use]
    pub fn with_delay(self, delay: Duration) -> Self {
        self.map(|r| r.delay = delay)
    }
}

/// How the server is down after [`MockIssuer::go_down`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Every request, on any path, is answered `503 Service Unavailable`
    /// (and still counted).
    Unavailable,
    /// The listening socket is closed: connections are refused and nothing is
    /// counted. [`MockIssuer::come_back`] listens again on the same port.
    Refused,
}

#[derive(Debug)]
struct Route {
    replies: Vec<Reply>,
    served: usize,
}

impl Route {
    fn next(&mut self) -> Reply {
        let i = self.served.min(self.replies.len().saturating_sub(1));
        self.served = self.served.saturating_add(1);
        self.replies
            .get(i)
            .cloned()
            .unwrap_or_else(|| Reply::new(404, Body::Bytes(Arc::from(&b""[..]))))
    }
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    counts: Mutex<HashMap<String, usize>>,
    total: AtomicUsize,
    outage: Mutex<Option<Outage>>,
    /// Set when the whole server stops.
    stop: AtomicBool,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One running accept loop: its own stop flag (set by [`Outage::Refused`]
/// and on drop) and its thread.
struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// A local HTTP/1.1 or HTTPS server on `127.0.0.1` that plays an issuer.
///
/// Stopped (all threads joined) when dropped.
pub struct MockIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: Option<TlsParts>,
    acceptor: Mutex<Option<Acceptor>>,
    entra_tenant: Option<String>,
}

struct TlsParts {
    config: Arc<rustls::ServerConfig>,
    ca_der: Vec<u8>,
}

impl std::fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIssuer")
            .field("base_url", &self.base_url())
            .field("entra_tenant", &self.entra_tenant)
            .finish_non_exhaustive()
    }
}

impl MockIssuer {
    /// Starts a plain-HTTP server on `127.0.0.1:0`. Unknown paths answer 404.
    ///
    /// # Panics
    /// If no local port can be bound.
    #[must_use]
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts an HTTPS server on `127.0.0.1:0` with a CA and a server
    /// certificate (for `127.0.0.1` and `localhost`) generated now; trust
    /// [`MockIssuer::ca_der`] in the client.
    ///
    /// # Panics
    /// If no local port can be bound or certificate generation fails.
    #[must_use]
    pub fn start_tls() -> Self {
        Self::start_with(Some(make_tls()))
    }

    /// Starts a plain-HTTP server playing Entra ID for `tenant_id`: see
    /// [`MockIssuer::serve_entra`].
    #[must_use]
    pub fn entra(tenant_id: &str) -> Self {
        let mut issuer = Self::start();
        issuer.serve_entra(tenant_id);
        issuer
    }

    /// Starts an HTTPS server playing Entra ID for `tenant_id`: see
    /// [`MockIssuer::serve_entra`] and [`MockIssuer::start_tls`].
    #[must_use]
    pub fn entra_tls(tenant_id: &str) -> Self {
        let mut issuer = Self::start_tls();
        issuer.serve_entra(tenant_id);
        issuer
    }

    fn start_with(tls: Option<TlsParts>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let issuer = Self {
            shared: Arc::new(Shared::default()),
            addr,
            tls,
            acceptor: Mutex::new(None),
            entra_tenant: None,
        };
        issuer.spawn_acceptor(listener);
        issuer
    }

    fn spawn_acceptor(&self, listener: TcpListener) {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::clone(&self.shared);
        let tls = self.tls.as_ref().map(|t| Arc::clone(&t.config));
        let acceptor_stop = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name(format!("mock-issuer-accept-{}", self.addr.port()))
            .spawn(move || accept_loop(&listener, &shared, tls.as_ref(), &acceptor_stop))
            .expect("spawn accept thread");
        *lock(&self.acceptor) = Some(Acceptor { stop, thread });
    }

    fn stop_acceptor(&self) {
        let acceptor = lock(&self.acceptor).take();
        if let Some(acceptor) = acceptor {
            acceptor.stop.store(true, Ordering::SeqCst);
            let _ = acceptor.thread.join();
        }
    }

    /// The socket address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server speaks HTTPS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `http://127.0.0.1:PORT` (or `https://...`), without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The URL of `path` on this server: `http://127.0.0.1:PORT/path` (or
    /// `https://`). A missing leading `/` is added.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), normalise(path))
    }

    /// The DER of the test CA that issued the server certificate.
    ///
    /// # Panics
    /// If the server was not started with [`MockIssuer::start_tls`] (or
    /// [`MockIssuer::entra_tls`]).
    #[must_use]
    pub fn ca_der(&self) -> Vec<u8> {
        self.tls
            .as_ref()
            .expect("ca_der() needs a server started with start_tls()")
            .ca_der
            .clone()
    }

    /// Sets (or replaces, at run time) what `path` answers. The path is
    /// matched without its query string; a missing leading `/` is added.
    pub fn route(&self, path: &str, response: Response) {
        lock(&self.shared.routes).insert(
            normalise(path),
            Route {
                replies: response.replies,
                served: 0,
            },
        );
    }

    /// Removes the route for `path` (it then answers 404).
    pub fn remove_route(&self, path: &str) {
        lock(&self.shared.routes).remove(&normalise(path));
    }

    /// How many requests for `path` (query string ignored) the server read.
    #[must_use]
    pub fn requests(&self, path: &str) -> usize {
        lock(&self.shared.counts)
            .get(&normalise(path))
            .copied()
            .unwrap_or(0)
    }

    /// How many requests the server read, on any path.
    #[must_use]
    pub fn total_requests(&self) -> usize {
        self.shared.total.load(Ordering::SeqCst)
    }

    /// Sets every request counter back to 0.
    pub fn reset_counts(&self) {
        lock(&self.shared.counts).clear();
        self.shared.total.store(0, Ordering::SeqCst);
    }

    /// Takes the server down: see [`Outage`]. A second call switches the kind.
    pub fn go_down(&self, outage: Outage) {
        let was = lock(&self.shared.outage).replace(outage);
        match outage {
            Outage::Refused if was != Some(Outage::Refused) => self.stop_acceptor(),
            Outage::Unavailable if was == Some(Outage::Refused) => self.listen_again(),
            _ => {}
        }
    }

    /// Brings the server back after [`MockIssuer::go_down`]; routes and
    /// counters are kept.
    ///
    /// # Panics
    /// If the port cannot be bound again after [`Outage::Refused`].
    pub fn come_back(&self) {
        let was = lock(&self.shared.outage).take();
        if was == Some(Outage::Refused) {
            self.listen_again();
        }
    }

    fn listen_again(&self) {
        // std sets SO_REUSEADDR on Unix, so the port can be taken again at
        // once; retry briefly in case the old socket is still closing.
        let deadline = Instant::now() + Duration::from_secs(2);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() >= deadline => {
                    panic!("cannot listen again on {}: {e}", self.addr)
                }
                Err(_) => thread::sleep(POLL),
            }
        };
        self.spawn_acceptor(listener);
    }

    /// Makes this server play Entra ID for `tenant_id`, with the generated
    /// test tenant's documents ([`TestTenant`]):
    ///
    /// - `/{tenant_id}/v2.0/.well-known/openid-configuration`: the v2.0
    ///   discovery document with `jwks_uri` rewritten to this server's JWKS
    ///   URL (everything else, `issuer` included, stays Microsoft's);
    /// - `/{tenant_id}/discovery/v2.0/keys`: the tenant's JWKS.
    ///
    /// The documents are always the test tenant's ([`entra_jwt_test_tenant::TENANT_ID`]);
    /// another `tenant_id` only changes the paths.
    pub fn serve_entra(&mut self, tenant_id: &str) {
        self.entra_tenant = Some(tenant_id.to_string());
        let discovery = TestTenant::openid_v2_json().replace(JWKS_URI_V2, &self.jwks_url());
        self.route(&self.discovery_path(), Response::json(discovery));
        self.set_jwks(TestTenant::jwks_json());
    }

    fn tenant(&self) -> &str {
        self.entra_tenant
            .as_deref()
            .expect("needs an Entra issuer: MockIssuer::entra() or serve_entra()")
    }

    /// The Entra tenant this server plays, if any.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&str> {
        self.entra_tenant.as_deref()
    }

    /// `/{tenant}/v2.0/.well-known/openid-configuration`.
    ///
    /// # Panics
    /// If the server does not play Entra ([`MockIssuer::entra`]).
    #[must_use]
    pub fn discovery_path(&self) -> String {
        format!("/{}/v2.0/.well-known/openid-configuration", self.tenant())
    }

    /// `/{tenant}/discovery/v2.0/keys`.
    ///
    /// # Panics
    /// If the server does not play Entra ([`MockIssuer::entra`]).
    #[must_use]
    pub fn jwks_path(&self) -> String {
        format!("/{}/discovery/v2.0/keys", self.tenant())
    }

    /// The URL of the discovery document on this server.
    ///
    /// # Panics
    /// If the server does not play Entra ([`MockIssuer::entra`]).
    #[must_use]
    pub fn discovery_url(&self) -> String {
        self.url(&self.discovery_path())
    }

    /// The URL of the JWKS on this server (the discovery document's `jwks_uri`).
    ///
    /// # Panics
    /// If the server does not play Entra ([`MockIssuer::entra`]).
    #[must_use]
    pub fn jwks_url(&self) -> String {
        self.url(&self.jwks_path())
    }

    /// Serves `jwks` at the JWKS path from now on.
    ///
    /// # Panics
    /// If the server does not play Entra ([`MockIssuer::entra`]).
    pub fn set_jwks(&self, jwks: impl Into<Vec<u8>>) {
        self.route(&self.jwks_path(), Response::json(jwks));
    }

    /// Key rotation: serves [`TestTenant::jwks_rotated_json`] from now on.
    ///
    /// # Panics
    /// If the server does not play Entra ([`MockIssuer::entra`]).
    pub fn rotate_jwks(&self) {
        self.set_jwks(TestTenant::jwks_rotated_json());
    }

    /// Stops the server now (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for MockIssuer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.stop_acceptor();
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn normalise(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    tls: Option<&Arc<rustls::ServerConfig>>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let conn_shared = Arc::clone(shared);
                let tls = tls.cloned();
                let spawned = thread::Builder::new()
                    .name("mock-issuer-conn".into())
                    .spawn(move || serve_connection(&conn_shared, stream, tls));
                if let Ok(handle) = spawned {
                    let mut workers = lock(&shared.workers);
                    workers.retain(|w| !w.is_finished());
                    workers.push(handle);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL / 2),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// A socket whose blocking reads and writes give up once the server stops.
struct StopAware<'a> {
    tcp: TcpStream,
    stop: &'a AtomicBool,
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "mock issuer stopped")
}

impl Read for StopAware<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tcp.read(buf) {
                Err(e) if is_timeout(&e) => {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(stopped());
                    }
                }
                other => return other,
            }
        }
    }
}

impl Write for StopAware<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.tcp.write(buf) {
                Err(e) if is_timeout(&e) => {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(stopped());
                    }
                }
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

fn serve_connection(shared: &Shared, tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>) {
    // Accepted sockets may inherit the listener's non-blocking mode.
    if tcp.set_nonblocking(false).is_err()
        || tcp.set_read_timeout(Some(POLL)).is_err()
        || tcp.set_write_timeout(Some(POLL)).is_err()
    {
        return;
    }
    let _ = tcp.set_nodelay(true);
    let sock = StopAware {
        tcp,
        stop: &shared.stop,
    };
    match tls {
        None => {
            let mut sock = sock;
            let _ = serve_one(shared, &mut sock);
        }
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut stream = rustls::StreamOwned::new(conn, sock);
            if serve_one(shared, &mut stream).is_ok() {
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
    }
}

/// Reads one request and writes its answer.
fn serve_one(shared: &Shared, io: &mut impl ReadWrite) -> io::Result<()> {
    let Some(path) = read_request_path(io)? else {
        return Ok(());
    };
    let key = normalise(&path);
    *lock(&shared.counts).entry(key.clone()).or_insert(0) += 1;
    shared.total.fetch_add(1, Ordering::SeqCst);

    let reply = match *lock(&shared.outage) {
        Some(Outage::Unavailable) => Reply::new(503, Body::Bytes(Arc::from(&b""[..]))),
        // Read before the listener closed: drop it unanswered.
        Some(Outage::Refused) => return Ok(()),
        None => {
            let mut routes = lock(&shared.routes);
            match routes.get_mut(&key) {
                Some(route) => route.next(),
                None => Reply::new(404, Body::Bytes(Arc::from(&b""[..]))),
            }
        }
    };

    if reply.hang {
        while !shared.stop.load(Ordering::SeqCst) {
            thread::sleep(POLL);
        }
        return Ok(());
    }
    let until = Instant::now() + reply.delay;
    while Instant::now() < until {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
    }
    write_reply(io, &reply)
}

/// Read + Write, for the plain and the TLS stream alike.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Reads the request head; returns its target path, or `None` when the
/// client closed or sent something that is not an HTTP request.
fn read_request_path(io: &mut impl Read) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = io.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let request_line = text.lines().next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(_method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    Ok(Some(target.to_string()))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_reply(io: &mut impl Write, reply: &Reply) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    io.write_all(head.as_bytes())?;
    match &reply.body {
        Body::Bytes(bytes) => io.write_all(bytes)?,
        Body::Filler(len) => {
            let chunk = [b'a'; 16 * 1024];
            let mut left = *len;
            while left > 0 {
                let n = left.min(chunk.len());
                io.write_all(&chunk[..n])?;
                left -= n;
            }
        }
    }
    io.flush()
}

fn make_tls() -> TlsParts {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "entra-jwt mock issuer test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server certificate");

    let ca_der = ca.der().to_vec();
    let chain = vec![cert.der().clone(), CertificateDer::from(ca_der.clone())];
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key_der)
    .expect("server certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsParts {
        config: Arc::new(config),
        ca_der,
    }
}

#[cfg(test)]
mod tests;

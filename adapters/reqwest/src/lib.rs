//! An async HTTPS fetcher for `entra-jwt` on [reqwest] and rustls (ring provider).
//!
//! [`ReqwestFetcher`] implements [`entra_jwt::AsyncFetch`] with the rules of
//! SPEC §7, taken from its [`FetchConfig`]:
//!
//! - the URL passes [`FetchConfig::check_url`] before any request (`https://`,
//!   or `http://` to loopback only when a test allows it);
//! - one total timeout ([`FetchConfig::timeout`]) covers connecting, every
//!   redirect, the retry and reading the body;
//! - the body is streamed with a hard cap ([`FetchConfig::max_bytes`]): a
//!   larger body fails with [`FetchErrorKind::TooLarge`] without being read whole;
//! - reqwest follows no redirect ([`reqwest::redirect::Policy::none`]); this
//!   crate follows at most [`MAX_REDIRECTS`], each target re-checked with
//!   `check_url` and required to keep the scheme (an `https` → `http`
//!   redirect fails with [`FetchErrorKind::Redirect`]);
//! - one retry on 408, 429 and 5xx, after the response's `Retry-After` (in
//!   seconds, up to [`MAX_RETRY_AFTER`]; a longer one fails at once) or
//!   [`DEFAULT_RETRY_DELAY`], and never past the total timeout.
//!
//! Errors name the URL that was asked for and the class of failure, never the body.
//! Server certificates are checked against Mozilla's roots (`webpki-roots`,
//! no OS store needed) or, for tests, exactly the roots given to
//! [`ReqwestFetcher::with_root_certificates`]. Needs a Tokio runtime with its
//! time driver (`#[tokio::main]` has one). HTTP/1.1 only.
//!
//! ```no_run
//! use entra_jwt::{AsyncFetch, FetchConfig};
//! use entra_jwt_reqwest::ReqwestFetcher;
//!
//! # async fn run() -> Result<(), entra_jwt::FetchError> {
//! let fetcher = ReqwestFetcher::new(FetchConfig::default());
//! let jwks = fetcher
//!     .get("https://login.microsoftonline.com/common/discovery/v2.0/keys")
//!     .await?;
//! println!("{} bytes", jwks.len());
//! # Ok(())
//! # }
//! ```
//!
//! [`MAX_RETRY_AFTER`]: entra_jwt::fetch::MAX_RETRY_AFTER

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_jwt::fetch::{MAX_RETRY_AFTER, parse_retry_after};
use entra_jwt::{AsyncFetch, FetchConfig, FetchError, FetchErrorKind};
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Client, Url};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// Most redirects followed for one fetch (SPEC §7); one more is refused.
pub const MAX_REDIRECTS: usize = 3;

/// Wait before the one retry when the response gives no usable `Retry-After`.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(250);

/// An async [`AsyncFetch`] on reqwest with rustls (ring) and the SPEC §7 rules.
///
/// Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct ReqwestFetcher {
    client: Client,
    config: FetchConfig,
}

impl ReqwestFetcher {
    /// A fetcher that trusts Mozilla's root certificates (`webpki-roots`).
    ///
    /// # Panics
    /// If reqwest refuses the client configuration, which does not happen
    /// with the rustls version this crate is built with (its tests build one).
    #[must_use]
    pub fn new(config: FetchConfig) -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::build(config, roots)
    }

    /// A fetcher that trusts exactly `roots` (DER certificates) and nothing
    /// else: for tests against a server with a test-time CA. Certificates that
    /// do not parse are ignored (with none left, every TLS connection fails
    /// with [`FetchErrorKind::Connect`]).
    ///
    /// # Panics
    /// As [`ReqwestFetcher::new`].
    #[must_use]
    pub fn with_root_certificates(config: FetchConfig, roots: &[Vec<u8>]) -> Self {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(roots.iter().map(|der| CertificateDer::from(der.clone())));
        Self::build(config, store)
    }

    fn build(config: FetchConfig, roots: RootCertStore) -> Self {
        #[allow(clippy::expect_used)] // See `# Panics` on the constructors.
        let client = build_client(roots).expect("reqwest client with a rustls (ring) config");
        Self { client, config }
    }

    /// The rules this fetcher enforces.
    #[must_use]
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// The fetch without its total timeout.
    async fn fetch(
        &self,
        start: &Url,
        original: &str,
        deadline: Instant,
    ) -> Result<Vec<u8>, FetchError> {
        match self.attempt(start, original).await {
            Err(failure) if failure.error.is_retryable_status() => {
                let delay = retry_delay(&failure, deadline)?;
                tokio::time::sleep(delay).await;
                self.attempt(start, original).await.map_err(|f| f.error)
            }
            other => other.map_err(|f| f.error),
        }
    }

    /// One pass: the request and up to [`MAX_REDIRECTS`] redirects.
    async fn attempt(&self, start: &Url, original: &str) -> Result<Vec<u8>, Failure> {
        let fail = |kind| Failure::new(FetchError::new(kind, original));
        let mut current = start.clone();
        for hop in 0..=MAX_REDIRECTS {
            let mut response = self
                .client
                .get(current.clone())
                .send()
                .await
                .map_err(|e| fail(classify(&e)))?;
            let status = response.status().as_u16();
            if is_redirect(status) {
                let Some(location) = header(response.headers(), LOCATION) else {
                    return Err(fail(FetchErrorKind::Status(status)));
                };
                if hop == MAX_REDIRECTS {
                    return Err(fail(FetchErrorKind::Redirect));
                }
                current = redirect_target(&self.config, &current, &location)
                    .ok_or_else(|| fail(FetchErrorKind::Redirect))?;
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(Failure {
                    error: FetchError::new(FetchErrorKind::Status(status), original),
                    retry_after: header(response.headers(), RETRY_AFTER)
                        .as_deref()
                        .and_then(parse_retry_after),
                });
            }
            let max = self.config.max_bytes;
            if response
                .content_length()
                .is_some_and(|len| len > u64::try_from(max).unwrap_or(u64::MAX))
            {
                return Err(fail(FetchErrorKind::TooLarge));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| fail(classify(&e)))? {
                if chunk.len() > max.saturating_sub(body.len()) {
                    return Err(fail(FetchErrorKind::TooLarge));
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(body);
        }
        // The loop returns on its last hop; this is not reached.
        Err(fail(FetchErrorKind::Redirect))
    }
}

impl AsyncFetch for ReqwestFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let timeout = self.config.timeout;
        let deadline = Instant::now() + timeout;
        let start = checked_url(&self.config, url)?;
        tokio::time::timeout(timeout, self.fetch(&start, url, deadline))
            .await
            .unwrap_or_else(|_| Err(FetchError::new(FetchErrorKind::Timeout, url)))
    }
}

fn build_client(roots: RootCertStore) -> Result<Client, Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        // Statuses and redirects are handled here, not by reqwest.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("entra-jwt-reqwest/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A failed pass, with the `Retry-After` of a failed status.
#[derive(Debug)]
struct Failure {
    error: FetchError,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(error: FetchError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// The wait before the one retry, or the error when the retry should not
/// happen: `Retry-After` over [`MAX_RETRY_AFTER`], or no time left for it.
fn retry_delay(failure: &Failure, deadline: Instant) -> Result<Duration, FetchError> {
    let delay = match failure.retry_after {
        Some(after) if after > MAX_RETRY_AFTER => return Err(failure.error.clone()),
        Some(after) => after,
        None => DEFAULT_RETRY_DELAY,
    };
    if delay >= deadline.saturating_duration_since(Instant::now()) {
        return Err(failure.error.clone());
    }
    Ok(delay)
}

/// Checks `url` with the scheme rule, parses it, and checks its normalised
/// form again (so the URL requested is the URL checked).
fn checked_url(config: &FetchConfig, url: &str) -> Result<Url, FetchError> {
    config.check_url(url)?;
    let parsed = Url::parse(url).map_err(|_| FetchError::new(FetchErrorKind::InvalidUrl, url))?;
    config
        .check_url(parsed.as_str())
        .map_err(|e| FetchError::new(e.kind, url))?;
    Ok(parsed)
}

/// The absolute target of a redirect from `from` to `location`, if allowed:
/// the same scheme as `from` and passing the scheme rule.
fn redirect_target(config: &FetchConfig, from: &Url, location: &str) -> Option<Url> {
    let next = from.join(location).ok()?;
    if next.scheme() != from.scheme() || config.check_url(next.as_str()).is_err() {
        return None;
    }
    Some(next)
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn classify(error: &reqwest::Error) -> FetchErrorKind {
    if error.is_timeout() {
        FetchErrorKind::Timeout
    } else if error.is_connect() || error.is_request() || error.is_body() {
        // Refused, DNS, TLS handshake, or the connection reset mid-way.
        FetchErrorKind::Connect
    } else if error.is_redirect() {
        FetchErrorKind::Redirect
    } else if error.is_builder() {
        FetchErrorKind::InvalidUrl
    } else if let Some(status) = error.status() {
        FetchErrorKind::Status(status.as_u16())
    } else {
        FetchErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets() {
        let loose = FetchConfig::default().dangerous_allow_http_loopback();
        let strict = FetchConfig::default();
        let https = Url::parse("https://login.example/a/b?q=1").unwrap();
        let http = Url::parse("http://127.0.0.1:8080/a/b").unwrap();
        let target = |c, from, loc| redirect_target(c, from, loc).map(|u| u.to_string());
        assert_eq!(
            target(&strict, &https, "/keys").as_deref(),
            Some("https://login.example/keys")
        );
        assert_eq!(
            target(&strict, &https, "//other.example/k").as_deref(),
            Some("https://other.example/k")
        );
        assert_eq!(target(&loose, &https, "http://127.0.0.1/k"), None);
        assert_eq!(target(&loose, &http, "https://127.0.0.1/k"), None);
        assert_eq!(target(&loose, &http, "http://example.com/k"), None);
        assert_eq!(target(&strict, &https, "file:///etc/passwd"), None);
    }

    #[test]
    fn retry_delays() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let failure = |after| Failure {
            error: FetchError::new(FetchErrorKind::Status(503), "u"),
            retry_after: after,
        };
        assert_eq!(
            retry_delay(&failure(None), deadline).unwrap(),
            DEFAULT_RETRY_DELAY
        );
        assert!(retry_delay(&failure(Some(Duration::from_secs(6))), deadline).is_err());
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(retry_delay(&failure(None), soon).is_err());
    }

    #[test]
    fn client_builds_with_the_ring_config() {
        let _ = ReqwestFetcher::new(FetchConfig::default());
        let _ = ReqwestFetcher::with_root_certificates(FetchConfig::default(), &[vec![1, 2, 3]]);
    }
}

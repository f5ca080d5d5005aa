//! A blocking HTTPS fetcher for `entra-jwt` on [ureq] 3 and rustls (ring provider).
//!
//! [`UreqFetcher`] implements [`entra_jwt::Fetch`] with the rules of SPEC §7,
//! taken from its [`FetchConfig`]:
//!
//! - the URL passes [`FetchConfig::check_url`] before any request (`https://`,
//!   or `http://` to loopback only when a test allows it);
//! - one total timeout ([`FetchConfig::timeout`]) covers connecting, every
//!   redirect, the retry and reading the body;
//! - the body is read with a hard cap ([`FetchConfig::max_bytes`]): a larger
//!   body fails with [`FetchErrorKind::TooLarge`] without being read whole;
//! - redirects are followed by hand, at most [`MAX_REDIRECTS`], each target
//!   re-checked with `check_url` and required to keep the scheme (an
//!   `https` → `http` redirect fails with [`FetchErrorKind::Redirect`]);
//! - one retry on 408, 429 and 5xx, after the response's `Retry-After` (in
//!   seconds, up to [`MAX_RETRY_AFTER`]; a longer one fails at once) or
//!   [`DEFAULT_RETRY_DELAY`], and never past the total timeout.
//!
//! Errors name the URL that was asked for and the class of failure, never the body.
//! Server certificates are checked against Mozilla's roots (`webpki-roots`,
//! no OS store needed) or, for tests, exactly the roots given to
//! [`UreqFetcher::with_root_certificates`].
//!
//! ```no_run
//! use entra_jwt::{Fetch, FetchConfig};
//! use entra_jwt_ureq::UreqFetcher;
//!
//! let fetcher = UreqFetcher::new(FetchConfig::default());
//! let jwks = fetcher.get("https://login.microsoftonline.com/common/discovery/v2.0/keys")?;
//! println!("{} bytes", jwks.len());
//! # Ok::<(), entra_jwt::FetchError>(())
//! ```
//!
//! [`MAX_RETRY_AFTER`]: entra_jwt::fetch::MAX_RETRY_AFTER

#![forbid(unsafe_code)]

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_jwt::fetch::{MAX_RETRY_AFTER, parse_retry_after};
use entra_jwt::{Fetch, FetchConfig, FetchError, FetchErrorKind};
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use url::Url;

/// Most redirects followed for one fetch (SPEC §7); one more is refused.
pub const MAX_REDIRECTS: usize = 3;

/// Wait before the one retry when the response gives no usable `Retry-After`.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(250);

/// A blocking [`Fetch`] on ureq with rustls (ring) and the SPEC §7 rules.
///
/// Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct UreqFetcher {
    agent: Agent,
    config: FetchConfig,
}

impl UreqFetcher {
    /// A fetcher that trusts Mozilla's root certificates (`webpki-roots`).
    #[must_use]
    pub fn new(config: FetchConfig) -> Self {
        Self::build(config, RootCerts::WebPki)
    }

    /// A fetcher that trusts exactly `roots` (DER certificates) and nothing
    /// else: for tests against a server with a test-time CA. Certificates that
    /// do not parse are ignored (with none left, every TLS connection fails
    /// with [`FetchErrorKind::Connect`]).
    #[must_use]
    pub fn with_root_certificates(config: FetchConfig, roots: &[Vec<u8>]) -> Self {
        let certs: Vec<Certificate<'static>> = roots
            .iter()
            .map(|der| Certificate::from_der(der).to_owned())
            .collect();
        Self::build(config, RootCerts::Specific(Arc::new(certs)))
    }

    fn build(config: FetchConfig, roots: RootCerts) -> Self {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let agent = Agent::config_builder()
            .tls_config(tls)
            // Statuses and redirects are handled here, not by ureq.
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("entra-jwt-ureq/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .build()
            .new_agent();
        Self { agent, config }
    }

    /// The rules this fetcher enforces.
    #[must_use]
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// One pass: the request and up to [`MAX_REDIRECTS`] redirects.
    fn attempt(&self, start: &Url, original: &str, deadline: Instant) -> Result<Vec<u8>, Failure> {
        let fail = |kind| Failure::new(FetchError::new(kind, original));
        let mut current = start.clone();
        for hop in 0..=MAX_REDIRECTS {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(fail(FetchErrorKind::Timeout));
            }
            let mut response = self
                .agent
                .get(current.as_str())
                .config()
                .timeout_global(Some(remaining))
                .build()
                .call()
                .map_err(|e| fail(classify(&e)))?;
            let status = response.status().as_u16();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if is_redirect(status) {
                let Some(location) = header("location") else {
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
                let retry_after = header("retry-after");
                return Err(Failure {
                    error: FetchError::new(FetchErrorKind::Status(status), original),
                    retry_after: retry_after.as_deref().and_then(parse_retry_after),
                });
            }
            let max = self.config.max_bytes;
            let body = response.body_mut();
            if body
                .content_length()
                .is_some_and(|len| len > u64::try_from(max).unwrap_or(u64::MAX))
            {
                return Err(fail(FetchErrorKind::TooLarge));
            }
            return body
                .with_config()
                .limit(u64::try_from(max).unwrap_or(u64::MAX))
                .read_to_vec()
                .map_err(|e| fail(classify(&e)));
        }
        // The loop returns on its last hop; this is not reached.
        Err(fail(FetchErrorKind::Redirect))
    }
}

impl Fetch for UreqFetcher {
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let deadline = Instant::now() + self.config.timeout;
        let start = checked_url(&self.config, url)?;
        match self.attempt(&start, url, deadline) {
            Err(failure) if failure.error.is_retryable_status() => {
                let delay = retry_delay(&failure, deadline)?;
                std::thread::sleep(delay);
                self.attempt(&start, url, deadline).map_err(|f| f.error)
            }
            other => other.map_err(|f| f.error),
        }
    }
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

fn classify(error: &ureq::Error) -> FetchErrorKind {
    use ureq::Error as E;
    match error {
        E::Timeout(_) => FetchErrorKind::Timeout,
        E::Io(e) => match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FetchErrorKind::Timeout,
            _ => FetchErrorKind::Connect,
        },
        E::HostNotFound
        | E::ConnectionFailed
        | E::Tls(_)
        | E::Rustls(_)
        | E::ConnectProxyFailed(_) => FetchErrorKind::Connect,
        E::BadUri(_) | E::Http(_) => FetchErrorKind::InvalidUrl,
        E::BodyExceedsLimit(_) => FetchErrorKind::TooLarge,
        E::TooManyRedirects | E::RedirectFailed => FetchErrorKind::Redirect,
        E::RequireHttpsOnly(_) => FetchErrorKind::InsecureScheme,
        E::StatusCode(status) => FetchErrorKind::Status(*status),
        _ => FetchErrorKind::Other,
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
            target(&strict, &https, "c").as_deref(),
            Some("https://login.example/a/c")
        );
        assert_eq!(
            target(&strict, &https, "//other.example/k").as_deref(),
            Some("https://other.example/k")
        );
        assert_eq!(target(&loose, &https, "http://127.0.0.1/k"), None);
        assert_eq!(target(&loose, &http, "https://127.0.0.1/k"), None);
        assert_eq!(target(&loose, &http, "http://example.com/k"), None);
        assert_eq!(target(&strict, &https, "file:///etc/passwd"), None);
        assert_eq!(
            target(&loose, &http, "/k").as_deref(),
            Some("http://127.0.0.1:8080/k")
        );
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
        assert_eq!(
            retry_delay(&failure(Some(Duration::from_secs(2))), deadline).unwrap(),
            Duration::from_secs(2)
        );
        assert!(retry_delay(&failure(Some(Duration::from_secs(6))), deadline).is_err());
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(retry_delay(&failure(None), soon).is_err());
    }
}

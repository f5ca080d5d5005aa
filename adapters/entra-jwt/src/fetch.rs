//! The fetch ports: GET a metadata URL, return its bytes or a classified error.

use std::future::Future;
use std::time::Duration;

/// Default total timeout of one fetch (SPEC §7).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default cap on a response body (SPEC §7: 1 MiB; Entra's JWKS is about 10 KiB).
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

/// Longest `Retry-After` a fetcher honours before its one retry; a longer one
/// is treated as a failure and left to the key source's backoff.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The rules every fetcher enforces (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// Total time allowed for one request, connection included.
    pub timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// Whether `http://` URLs on loopback hosts (127.0.0.0/8, `[::1]`, `localhost`)
    /// are allowed. Off by default; for tests against a local issuer only.
    pub allow_http_loopback: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            allow_http_loopback: false,
        }
    }
}

impl FetchConfig {
    /// DANGER (tests only): allows plain `http://` to loopback addresses.
    #[must_use]
    pub fn dangerous_allow_http_loopback(mut self) -> Self {
        self.allow_http_loopback = true;
        self
    }

    /// Checks a URL against the scheme rule before any request is made:
    /// `https://` always, `http://` only to loopback when allowed.
    pub fn check_url(&self, url: &str) -> Result<(), FetchError> {
        if url.len() > 2048 {
            return Err(FetchError::new(FetchErrorKind::InvalidUrl, url));
        }
        if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
            return if rest.is_empty() {
                Err(FetchError::new(FetchErrorKind::InvalidUrl, url))
            } else {
                Ok(())
            };
        }
        if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
            if self.allow_http_loopback && is_loopback_authority(rest) {
                return Ok(());
            }
            return Err(FetchError::new(FetchErrorKind::InsecureScheme, url));
        }
        Err(FetchError::new(FetchErrorKind::InsecureScheme, url))
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Whether the authority (host[:port] up to the first '/') is a loopback host.
pub fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, _)) => {
                return h
                    .parse::<std::net::Ipv6Addr>()
                    .is_ok_and(|a| a.is_loopback());
            }
            None => return false,
        }
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

/// The class of a failed fetch.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// The URL is not `https://` (or loopback `http://` when allowed).
    InsecureScheme,
    /// The URL cannot be parsed.
    InvalidUrl,
    /// A redirect was refused (to another scheme, or too many).
    Redirect,
    /// The request did not complete within the timeout.
    Timeout,
    /// The body is over the size cap.
    TooLarge,
    /// The server answered with a non-success status.
    Status(u16),
    /// The connection failed (DNS, refused, TLS, reset).
    Connect,
    /// Anything else the HTTP client reported.
    Other,
}

impl FetchErrorKind {
    /// A stable machine code for the class.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::InsecureScheme => "insecure_scheme",
            Self::InvalidUrl => "invalid_url",
            Self::Redirect => "redirect_refused",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::Status(_) => "http_status",
            Self::Connect => "connect",
            Self::Other => "other",
        }
    }
}

/// A failed fetch: which URL and which class of failure. Never includes the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fetching {url} failed: {}", describe(.kind))]
pub struct FetchError {
    /// The class of failure.
    pub kind: FetchErrorKind,
    /// The URL that was fetched.
    pub url: String,
}

fn describe(kind: &FetchErrorKind) -> String {
    match kind {
        FetchErrorKind::Status(s) => format!("http status {s}"),
        other => other.code().replace('_', " "),
    }
}

impl FetchError {
    /// A fetch error of `kind` for `url`.
    #[must_use]
    pub fn new(kind: FetchErrorKind, url: &str) -> Self {
        Self {
            kind,
            url: url.to_string(),
        }
    }

    /// Whether SPEC §7's one retry applies (408, 429, 5xx).
    #[must_use]
    pub fn is_retryable_status(&self) -> bool {
        matches!(self.kind, FetchErrorKind::Status(s) if s == 408 || s == 429 || (500..600).contains(&s))
    }
}

/// A blocking fetcher (the ureq adapter implements it).
pub trait Fetch: Send + Sync {
    /// GETs `url` and returns the body, enforcing the fetcher's [`FetchConfig`].
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

/// An async fetcher (the reqwest adapter implements it).
pub trait AsyncFetch: Send + Sync {
    /// GETs `url` and returns the body, enforcing the fetcher's [`FetchConfig`].
    fn get(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

impl<T: Fetch + ?Sized> Fetch for std::sync::Arc<T> {
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        (**self).get(url)
    }
}

impl<T: AsyncFetch + ?Sized> AsyncFetch for std::sync::Arc<T> {
    fn get(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).get(url)
    }
}

/// Parses a `Retry-After` value given in seconds (RFC 9110 §10.2.3); HTTP
/// dates are not honoured (treated as absent).
#[must_use]
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_rule() {
        let strict = FetchConfig::default();
        let loose = FetchConfig::default().dangerous_allow_http_loopback();
        assert!(
            strict
                .check_url("https://login.microsoftonline.com/common/discovery/v2.0/keys")
                .is_ok()
        );
        assert!(strict.check_url("HTTPS://example.com/").is_ok());
        for url in [
            "http://127.0.0.1:8080/keys",
            "http://localhost/keys",
            "ftp://x/",
            "file:///etc/passwd",
            "",
        ] {
            assert!(strict.check_url(url).is_err(), "{url}");
        }
        for url in [
            "http://127.0.0.1:8080/keys",
            "http://localhost/k",
            "http://[::1]:9/k",
            "http://127.1.2.3/",
        ] {
            assert!(loose.check_url(url).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.1/k",
            "http://example.com/k",
            "http://127.0.0.1.evil.com/k",
            "http://localhost@evil.com/",
        ] {
            assert_eq!(
                loose.check_url(url).unwrap_err().kind,
                FetchErrorKind::InsecureScheme,
                "{url}"
            );
        }
    }

    #[test]
    fn retryable_statuses() {
        for (s, r) in [
            (408, true),
            (429, true),
            (500, true),
            (503, true),
            (404, false),
            (400, false),
        ] {
            assert_eq!(
                FetchError::new(FetchErrorKind::Status(s), "u").is_retryable_status(),
                r
            );
        }
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}

//! RFC 6750 helpers: reading `Authorization` and answering with a challenge (SPEC §1, §8).

use alloc::format;
use alloc::string::String;

use crate::error::{Error, ErrorClass};

/// The generic description sent with every `invalid_token` challenge: the
/// internal reason goes to the caller's logs, never to the client (the Django
/// middleware this project replaces put the exception text in its 401 body).
pub const INVALID_TOKEN_DESCRIPTION: &str = "the access token is invalid";

/// Reads the token out of an `Authorization` header value.
///
/// `Bearer` is matched case-insensitively (RFC 7235 §2.1), followed by exactly
/// one space and one token68 (RFC 7235 §2.1: `1*( ALPHA / DIGIT / "-" / "." /
/// "_" / "~" / "+" / "/" ) *"="`). No header value, an empty one, or another
/// scheme is [`Error::NoCredentials`]; a `Bearer` value that is not one token68
/// is [`Error::Malformed`]; one over `max_bytes` is [`Error::TooLarge`].
///
/// ```
/// use entra_jwt_core::{Error, parse_authorization};
/// assert_eq!(parse_authorization(Some(b"bearer abc.def.ghi"), 32768), Ok("abc.def.ghi"));
/// assert_eq!(parse_authorization(Some(b"Basic dXNlcjpwYXNz"), 32768), Err(Error::NoCredentials));
/// assert_eq!(parse_authorization(None, 32768), Err(Error::NoCredentials));
/// ```
pub fn parse_authorization(value: Option<&[u8]>, max_bytes: usize) -> Result<&str, Error> {
    let value = value.ok_or(Error::NoCredentials)?;
    let scheme_end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(Error::NoCredentials);
    }
    // `rest` starts with the single separating space (or is empty).
    let token = rest.strip_prefix(b" ").ok_or(Error::Malformed)?;
    if token.len() > max_bytes {
        return Err(Error::TooLarge);
    }
    let body_end = token.iter().position(|&b| b == b'=').unwrap_or(token.len());
    let (body, padding) = token.split_at(body_end);
    let token68_char = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(b);
    if body.is_empty() || !body.iter().all(token68_char) || !padding.iter().all(|&b| b == b'=') {
        return Err(Error::Malformed);
    }
    core::str::from_utf8(token).map_err(|_| Error::Malformed)
}

/// The HTTP status and headers to answer a failed verification with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// HTTP status code.
    pub status: u16,
    /// The `WWW-Authenticate` header value, when one is due.
    pub www_authenticate: Option<String>,
}

/// The RFC 6750 answer for `error` (SPEC §8), the one mapping every adapter uses.
///
/// `required_scope` fills the `scope` attribute of an `insufficient_scope`
/// challenge; its values must be scope-tokens (no `"` or `\`).
///
/// | class | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no credentials | 401 | `Bearer` |
/// | invalid request | 400 | `Bearer error="invalid_request"` |
/// | invalid token | 401 | `Bearer error="invalid_token", error_description="the access token is invalid"` |
/// | insufficient scope | 403 | `Bearer error="insufficient_scope", scope="..."` |
/// | keys unavailable | 503 | none (send `Retry-After`) |
/// | configuration | 500 | none |
#[must_use]
pub fn challenge(error: &Error, required_scope: Option<&str>) -> Challenge {
    let (status, header) = match error.class() {
        ErrorClass::NoCredentials => (401, Some(String::from("Bearer"))),
        ErrorClass::InvalidRequest => (400, Some(String::from("Bearer error=\"invalid_request\""))),
        ErrorClass::InvalidToken => (
            401,
            Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{INVALID_TOKEN_DESCRIPTION}\""
            )),
        ),
        ErrorClass::InsufficientScope => (
            403,
            Some(match required_scope {
                Some(scope) => format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
                None => String::from("Bearer error=\"insufficient_scope\""),
            }),
        ),
        ErrorClass::Unavailable => (503, None),
        ErrorClass::Internal => (500, None),
    };
    Challenge {
        status,
        www_authenticate: header,
    }
}

//! The one error type of the core, with a stable machine code per category.

/// Why a token, a key set, a discovery document or a configuration was refused.
///
/// Every variant maps to one stable [`code`](Error::code) (SPEC §8). The
/// `Display` text is short, lowercase, and never contains the token, a
/// signature, a claim value or key material: naming a claim is as far as it goes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // ---- request ----
    /// No `Authorization: Bearer` credentials were presented.
    #[error("no bearer credentials")]
    NoCredentials,
    /// The token was presented more than once (header and query or body).
    #[error("token presented more than once")]
    InvalidRequest,

    // ---- structure and header ----
    /// The token is over the configured size cap.
    #[error("token too large")]
    TooLarge,
    /// The token is not a well-formed compact JWS (segments, base64url, JSON, header members).
    #[error("malformed token")]
    Malformed,
    /// The token has five segments: a JWE, which this verifier never accepts.
    #[error("encrypted tokens are not accepted")]
    EncryptedToken,
    /// The header's `alg` is not in the policy's allowlist.
    #[error("unsupported algorithm")]
    UnsupportedAlg,
    /// The header carries `crit`, whose extensions this verifier does not implement.
    #[error("critical header extensions are not supported")]
    CritHeader,
    /// The header carries `nonce`: a token for Microsoft Graph or another first-party resource.
    #[error("token is for another resource")]
    FirstPartyToken,

    // ---- keys and signature ----
    /// No key in the set matches the token's `kid` (or `x5t` when `kid` is absent).
    #[error("unknown signing key")]
    UnknownKey,
    /// The RS256 signature does not verify.
    #[error("bad signature")]
    BadSignature,

    // ---- claims ----
    /// `exp + leeway <= now`.
    #[error("token expired")]
    Expired,
    /// `nbf - leeway > now`.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat > now + leeway`.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// A claim is missing, ill-typed, duplicated or out of range.
    #[error("bad claim: {claim}")]
    BadClaim {
        /// The claim's name (never its value).
        claim: &'static str,
    },
    /// No `aud` value equals a configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `iss` is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `tid` is not an accepted tenant or disagrees with `iss`.
    #[error("wrong tenant")]
    WrongTenant,
    /// `ver` is not accepted or disagrees with the issuer's form.
    #[error("wrong token version")]
    WrongVersion,
    /// The signing key's Entra `issuer` does not match the token's `iss`.
    #[error("signing key issuer mismatch")]
    KeyIssuerMismatch,
    /// The client application (`azp` / `appid`) is not in the allowlist.
    #[error("client application not allowed")]
    ClientNotAllowed,
    /// The token carries neither `scp` nor `roles` (so it is no access token for an API).
    #[error("token has no scope or role")]
    MissingScopeOrRole,
    /// The token lacks the scopes or roles the policy requires.
    #[error("insufficient scope")]
    InsufficientScope,

    // ---- key source ----
    /// No key set has been loaded yet: a service problem, not a bad token.
    #[error("signing keys unavailable")]
    KeysUnavailable,
    /// A JWKS document is not usable (not JSON, no usable key, over a limit).
    #[error("invalid key set: {reason}")]
    InvalidKeySet {
        /// What was wrong, as a fixed phrase.
        reason: &'static str,
    },
    /// An OpenID discovery document is not usable.
    #[error("invalid discovery document: {reason}")]
    InvalidDiscovery {
        /// What was wrong, as a fixed phrase.
        reason: &'static str,
    },
    /// The policy configuration is invalid.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What was wrong, as a fixed phrase.
        reason: &'static str,
    },
}

/// The coarse class of an [`Error`], which decides the HTTP answer (SPEC §8).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// No credentials: 401 with a bare `WWW-Authenticate: Bearer`.
    NoCredentials,
    /// The request itself is malformed: 400 `invalid_request`.
    InvalidRequest,
    /// The token is not acceptable: 401 `invalid_token`.
    InvalidToken,
    /// The token is valid but lacks a required scope or role: 403 `insufficient_scope`.
    InsufficientScope,
    /// The verifier cannot judge the token now: 503.
    Unavailable,
    /// A local configuration or key-material problem: 500.
    Internal,
}

impl Error {
    /// The stable machine code of this error's category (SPEC §8).
    ///
    /// These strings are part of the public contract: they appear in logs, in
    /// the CLI's JSON output and in dashboards, and never change meaning.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoCredentials => "no_credentials",
            Self::InvalidRequest => "invalid_request",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::EncryptedToken => "encrypted_token",
            Self::UnsupportedAlg => "unsupported_alg",
            Self::CritHeader => "crit_header",
            Self::FirstPartyToken => "first_party_token",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::BadClaim { .. } => "bad_claim",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongTenant => "wrong_tenant",
            Self::WrongVersion => "wrong_version",
            Self::KeyIssuerMismatch => "key_issuer_mismatch",
            Self::ClientNotAllowed => "client_not_allowed",
            Self::MissingScopeOrRole => "missing_scope_or_role",
            Self::InsufficientScope => "insufficient_scope",
            Self::KeysUnavailable => "keys_unavailable",
            Self::InvalidKeySet { .. } => "invalid_key_set",
            Self::InvalidDiscovery { .. } => "invalid_discovery",
            Self::InvalidConfig { .. } => "invalid_config",
        }
    }

    /// The claim this error names, for [`Error::BadClaim`].
    #[must_use]
    pub const fn claim(&self) -> Option<&'static str> {
        match self {
            Self::BadClaim { claim } => Some(claim),
            _ => None,
        }
    }

    /// The class that decides the HTTP answer.
    #[must_use]
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::NoCredentials => ErrorClass::NoCredentials,
            Self::InvalidRequest => ErrorClass::InvalidRequest,
            Self::InsufficientScope => ErrorClass::InsufficientScope,
            Self::KeysUnavailable => ErrorClass::Unavailable,
            Self::InvalidKeySet { .. }
            | Self::InvalidDiscovery { .. }
            | Self::InvalidConfig { .. } => ErrorClass::Internal,
            _ => ErrorClass::InvalidToken,
        }
    }

    pub(crate) const fn bad_claim(claim: &'static str) -> Self {
        Self::BadClaim { claim }
    }
}

/// Every code [`Error::code`] can return, in declaration order (for docs and tests).
pub const ALL_CODES: &[&str] = &[
    "no_credentials",
    "invalid_request",
    "too_large",
    "malformed",
    "encrypted_token",
    "unsupported_alg",
    "crit_header",
    "first_party_token",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "bad_claim",
    "wrong_audience",
    "wrong_issuer",
    "wrong_tenant",
    "wrong_version",
    "key_issuer_mismatch",
    "client_not_allowed",
    "missing_scope_or_role",
    "insufficient_scope",
    "keys_unavailable",
    "invalid_key_set",
    "invalid_discovery",
    "invalid_config",
];

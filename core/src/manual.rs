//! Design rationale, as documentation only: why the verifier does what it does.
//!
//! Each page names its sources so a reader can check the reasoning.

pub mod algorithm_confusion {
    //! # Why the token never chooses the algorithm or the key
    //!
    //! A JWS header says which algorithm signed it (`alg`) and may say where
    //! the key is (`jku`, `x5u`) or carry the key itself (`jwk`, `x5c`). A
    //! verifier that believes any of this lets the attacker choose how the
    //! signature is checked:
    //!
    //! - `alg: none` with an empty signature (CVE-2015-9235, CVE-2022-23540);
    //! - `alg: HS256` with the server's RSA public key used as the HMAC secret
    //!   (CVE-2016-10555, CVE-2022-29217);
    //! - a header key or key URL that the attacker controls (CVE-2018-0114,
    //!   CVE-2024-21643).
    //!
    //! Here the only algorithm is RS256, fixed by this crate and by the key type
    //! (every key in a [`KeySet`](crate::KeySet) is RSA); `alg` is compared
    //! against `RS256` and nothing else. Keys come only from the key set the
    //! caller loaded from the configured authority, found by exact `kid`, with
    //! `x5t` only when `kid` is absent and no "try every key" fallback (which
    //! IM offers as `TryAllIssuerSigningKeys`). `crit` is refused (RFC 7515
    //! §4.1.11; CVE-2025-59420): we implement no extension, so we may not
    //! accept one we would silently ignore.
}

pub mod multi_tenant_issuers {
    //! # Issuers of single- and multi-tenant APIs
    //!
    //! A single-tenant API accepts exactly its tenant's issuers:
    //! `https://sts.windows.net/{tid}/` (v1 tokens) and
    //! `https://login.microsoftonline.com/{tid}/v2.0` (v2 tokens).
    //!
    //! A multi-tenant API fetches keys from the `common` or `organizations`
    //! documents, whose `issuer` is a template:
    //! `https://login.microsoftonline.com/{tenantid}/v2.0`. The template is
    //! not an issuer; accepting any issuer that "looks like" it is the classic
    //! multi-tenant bug. The rule (Microsoft.Identity.Web's issuer validator):
    //! substitute the token's own `tid`, which must be a GUID, and require the
    //! result to equal `iss` exactly. An optional tenant allowlist then decides
    //! who may call.
    //!
    //! Entra also publishes an `issuer` on each signing key. A key that says it
    //! signs for `https://login.microsoftonline.com/{tenantid}/v2.0` must not
    //! vouch for a token of another issuer (MIW's
    //! `EnableAadSigningKeyIssuerValidation`): the key-issuer check compares the
    //! key's issuer, with `tid` substituted, to `iss` or its v2 form.
    //!
    //! B2C (`https://{host}/{tid}/v2.0/`), national clouds and old issuer forms
    //! are configured explicitly and matched exactly.
}

pub mod key_rollover {
    //! # Key rollover and refresh
    //!
    //! Entra rotates its signing keys without notice; a new key is published
    //! in the JWKS some time before tokens are signed with it, and an old key
    //! stays published while tokens signed by it are still valid (Microsoft's
    //! signing-key-rollover guidance). The refresh policy
    //! ([`KeySource`](crate::KeySource)) follows from that:
    //!
    //! - refresh every 12 h with up to +5% jitter, so a fleet does not refresh
    //!   in lockstep (IM 8.x `AutomaticRefreshInterval`);
    //! - a token with an unknown `kid` triggers one refresh, shared by every
    //!   token waiting on it, at most once per 5 minutes: a flood of random
    //!   `kid`s costs the identity provider one request per interval, not one
    //!   per token (PyJWKClient's refetch-on-miss is the amplification avoided);
    //! - a failed, invalid or empty fetch keeps the last good set (stale keys
    //!   beat no keys: an outage at Microsoft must not become an outage of every
    //!   API behind it), with exponential backoff capped at the refresh interval;
    //! - before the first successful load, verification answers
    //!   `keys_unavailable` (503), never a token error.
}

pub mod token_versions {
    //! # v1 and v2 access tokens
    //!
    //! Which version Entra issues depends on the API's app registration
    //! (`accessTokenAcceptedVersion`), not on the client. v1 tokens carry
    //! `ver: "1.0"`, the issuer `https://sts.windows.net/{tid}/`, the client in
    //! `appid`, and usually an App ID URI audience (`api://{app id}`); v2 tokens
    //! carry `ver: "2.0"`, the issuer `https://login.microsoftonline.com/{tid}/v2.0`,
    //! the client in `azp`, and the application id as audience. Configuring an
    //! application id accepts both audience forms (as MIW does), and the
    //! version must agree with the issuer form; an API can also accept only one
    //! version.
}

pub mod clock_skew {
    //! # Time checks and leeway
    //!
    //! The caller passes `now`; the core has no clock. A leeway (default 300 s,
    //! IM's `ClockSkew`; at most 600 s) absorbs clock differences between
    //! Entra and the API host: a token is expired when `exp + leeway <= now`,
    //! not yet valid when `nbf - leeway > now`, and issued in the future when
    //! `iat > now + leeway`. `exp` is required; all three must be JSON
    //! integers: a string or a float is a malformed claim, never a skipped
    //! check (CVE-2026-25537).
}

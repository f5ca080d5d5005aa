//! Every numeric limit of the core, each with where its number comes from.

/// Default cap on a token's size in bytes, checked before any decoding.
///
/// Entra access tokens are 1-3 KiB, large group overage included; IM's default is
/// 250 KiB (`TokenValidationParameters.MaximumTokenSizeInBytes`), which we find far
/// too generous for a header value. Configurable with `PolicyBuilder::max_token_bytes`.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 32 * 1024;

/// Hard ceiling for [`DEFAULT_MAX_TOKEN_BYTES`]'s setting: IM's own default (250 KiB).
pub const MAX_TOKEN_BYTES_CEILING: usize = 250 * 1024;

/// Longest token header accepted, in bytes of its base64url segment. Entra
/// headers are 80-300 bytes (`typ`, `alg`, `kid`, `x5t`, Graph's `nonce`);
/// every other JOSE library reads whatever fits the token cap. Without this
/// cap a 31 KiB header of 250 long member names, signed for a 4096-bit key,
/// cost 6.3x a normal verification (fuzz finding cost-4); with it the
/// header's share of any token's cost is a few microseconds.
pub const MAX_HEADER_BYTES: usize = 4 * 1024;

/// Longest `kid` accepted in a token header or a JWK (SPEC §3). Entra kids are
/// 27-43 characters; 256 leaves room for any provider without letting a header
/// make key lookup costly.
pub const MAX_KID_LEN: usize = 256;

/// Cap on a JWKS or discovery document's size: the fetch cap of SPEC §7 (1 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Most keys kept from one JWKS. Entra publishes 4-10; keyfunc and IM keep
/// everything, but a key set bigger than this is an attack or a misconfiguration.
pub const MAX_KEYS: usize = 100;

/// Smallest RSA modulus accepted, in bits (SPEC §4; NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits (SPEC §4). Bounds the cost of one
/// verification: a 4096-bit public operation is about 4x a 2048-bit one.
pub const MAX_RSA_BITS: usize = 4096;

/// Largest public exponent accepted: 2^33 - 1, the bound *ring* and the `rsa`
/// crate use against "RSADoS" (huge exponents make verification slow).
pub const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// Default clock-skew leeway in seconds: IM's `DefaultClockSkew` (5 minutes).
pub const DEFAULT_LEEWAY_SECS: u32 = 300;

/// Largest leeway a policy may configure (SPEC §6): 10 minutes.
pub const MAX_LEEWAY_SECS: u32 = 600;

/// Latest time claim accepted: 9999-12-31T23:59:59Z. Anything later is out of
/// range (and would overflow date handling in callers), not "far future".
pub const MAX_TIME_CLAIM: i64 = 253_402_300_799;

/// Most certificates read from one JWK's `x5c`; only the first is used, the
/// rest are carried by Entra for chain building we do not do.
pub const MAX_X5C_CERTS: usize = 10;

/// Most members one JSON object may have: a token header, its claims, a JWK,
/// a discovery document, or any object nested in them. Entra headers have 3-5
/// members, access tokens 20-40 claims, discovery documents about 30; 256
/// leaves room for optional claims while bounding what the duplicate-member
/// check costs on hostile input (fuzz finding cost-2: a 32 KiB header of
/// ~3 000 tiny members cost about 50x a normal verification).
pub const MAX_JSON_MEMBERS: usize = 256;

/// Most arrays and objects (nested ones included) in one token header or
/// payload. Entra tokens use fewer than ten (claims, `groups`, `roles`,
/// `amr`, `wids`, claim sources); parsing each costs far more than its bytes
/// suggest, so without this cap 32 KiB of `[[],[],...]` or deeply nested
/// arrays cost about 20x a normal verification (fuzz finding cost-3).
pub const MAX_JSON_CONTAINERS: usize = 64;

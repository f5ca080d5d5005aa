//! The fuzz targets of entra-jwt, as plain functions of `&[u8]`.
//!
//! Each `fuzz/fuzz_targets/<name>.rs` is one line that calls the function of
//! the same name here, and `tests/replay.rs` runs every file of
//! `fuzz/corpus/<name>/` and `fuzz/artifacts/<name>/` through the same
//! function on stable, so a crash found once stays fixed.
//!
//! A target panics (through `assert!`) when an invariant breaks, never on
//! hostile input the code under test handles. Besides "does not crash", each
//! checks what it can know independently of the code under test:
//!
//! | target | input | oracle |
//! |---|---|---|
//! | [`token`] | a compact JWS | structure facts of every parsed token; the error is a parse-stage code |
//! | [`header`] | header JSON | a header that parses and names a key leads, with valid claims, to acceptance |
//! | [`claims`] | payload JSON | every accepted payload, re-read by a lenient parser, satisfies SPEC §6 for three policies |
//! | [`verify`] | a token | every accepted token's signature verifies under the `rsa` crate and its claims pass the SPEC §6 oracle |
//! | [`jwks`] | a JWKS document | every loaded key obeys SPEC §4; `from_jwks` agrees with the diagnostics |
//! | [`x5c`] | certificate DER | a loaded certificate key round-trips through `n`/`e` |
//! | [`discovery`] | a discovery document | members agree with a lenient parse; the key source asks for its `jwks_uri` |
//! | [`authorization`] | an `Authorization` value | a token is returned only for `Bearer <token68>` |
//! | [`rs256`] | (key, message, signature) | the core, the `rsa` crate and an RFC 8017 reference on `num-bigint` agree |
//! | [`key_source`] | events (`arbitrary`) | the SPEC §7 invariants listed in [`key_source`]'s module docs |
//!
//! `fuzz/targets/src/bin/fuzz-seeds.rs` writes the seed inputs (from the test
//! tenant and the recorded Microsoft fixtures) that the committed corpora grew from.

#![forbid(unsafe_code)]
// A fuzz harness: a panic on a broken invariant is its whole job, and the
// fixtures it indexes into are committed data. The workspace's
// panic-avoidance lints are for the library code under test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_jwt_core::{KeySet, Policy, RsaKey, SignatureBackend};
use entra_jwt_test_tenant::{self as tt, TestTenant};

mod documents;
mod key_source;
mod parse;
mod rs256;
pub mod seeds;

pub use documents::{discovery, jwks, x5c};
pub use key_source::key_source;
pub use parse::{authorization, claims, header, token, verify};
pub use rs256::rs256;

/// A fuzz target: one input in, a panic if an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by name, as `cargo fuzz` and the replay test know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("token", token),
    ("header", header),
    ("claims", claims),
    ("verify", verify),
    ("jwks", jwks),
    ("x5c", x5c),
    ("discovery", discovery),
    ("authorization", authorization),
    ("rs256", rs256),
    ("key_source", key_source),
];

/// The fixed time every target judges tokens at: the test tenant's `NOW`.
pub const NOW: u64 = tt::NOW;

/// The test tenant's key set (`fixtures/tenant/data/jwks.json`), parsed once.
pub fn tenant_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap())
}

/// The single-tenant policy for the test tenant's API, with every default.
pub fn single_tenant_policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
            .build()
            .unwrap()
    })
}

/// A signature backend that accepts every signature: lets the fuzzer reach the
/// claim checks without a private key. Fuzz harness only.
#[derive(Debug, Clone, Copy)]
pub struct AcceptEverySignature;

impl SignatureBackend for AcceptEverySignature {
    fn verify_rs256(&self, _key: &RsaKey, _message: &[u8], _signature: &[u8]) -> bool {
        true
    }
}

/// Unpadded base64url.
#[must_use]
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The error codes a token can be refused with before its key is looked up.
pub(crate) const PARSE_CODES: &[&str] = &[
    "too_large",
    "malformed",
    "encrypted_token",
    "unsupported_alg",
    "crit_header",
    "first_party_token",
];

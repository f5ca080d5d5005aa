//! Shared fixtures of the benchmarks: the same keys, tokens, policy and
//! peers for every contender, so one run compares like with like.
//!
//! Tokens are Entra-shaped v2 delegated access tokens (about 1.2 KB) signed by
//! the test tenant's 2048-bit key, valid at the machine's current time (so
//! jsonwebtoken, which reads the system clock, accepts them too).
#![forbid(unsafe_code)]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use entra_jwt::core::{KeySet, KeySource, Policy, RefreshConfig};
use entra_jwt::{Fetch, FetchError, ManualClock, TokenCacheConfig, Verifier};
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};

/// Seconds since the epoch, now.
#[must_use]
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// `count` distinct tokens (they differ in `uti`), signed with the 2048-bit key.
#[must_use]
pub fn tokens(count: usize, now: u64) -> Vec<String> {
    (0..count)
        .map(|i| {
            let mut claims = TestTenant::v2_claims(now);
            claims["uti"] = serde_json::Value::String(format!("bench-{i:08}-AAAAAAAAAAAA"));
            TestTenant::get().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &claims)
        })
        .collect()
}

/// The test tenant's key set.
#[must_use]
pub fn keys() -> KeySet {
    KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).expect("tenant jwks")
}

/// The policy every contender enforces: single tenant, the API's audience,
/// v2 issuer, 300 s leeway, a scope.
#[must_use]
pub fn policy() -> Policy {
    Policy::single_tenant(tt::TENANT_ID, tt::APP_ID)
        .require_scopes(entra_jwt::core::Match::Any, ["Data.Read"])
        .build()
        .expect("policy")
}

/// The 2048-bit key's modulus and exponent, big-endian.
#[must_use]
pub fn rsa2048_components() -> (Vec<u8>, Vec<u8>) {
    let keys = keys();
    let jwk = keys.find_kid(Some(Key::Rsa2048.kid())).expect("kid");
    (jwk.key().modulus().to_vec(), jwk.key().exponent().to_vec())
}

/// A fetcher that serves the tenant's JWKS from memory (alternating between
/// the JWKS and its rotation, both of which hold the 2048-bit key).
#[derive(Debug, Default, Clone)]
pub struct StaticFetch {
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl StaticFetch {
    /// How many documents were fetched.
    #[must_use]
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Fetch for StaticFetch {
    fn get(&self, _url: &str) -> Result<Vec<u8>, FetchError> {
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let doc = if n.is_multiple_of(2) {
            TestTenant::jwks_json()
        } else {
            TestTenant::jwks_rotated_json()
        };
        Ok(doc.as_bytes().to_vec())
    }
}

/// A loaded blocking verifier on a manual clock at `now` (refresh every
/// `refresh_secs`), with or without a token cache and with the given backend.
#[must_use]
pub fn verifier(
    now: u64,
    refresh_secs: u64,
    cache: bool,
    backend: Arc<dyn entra_jwt::core::SignatureBackend>,
) -> (Verifier<StaticFetch>, Arc<ManualClock>, StaticFetch) {
    let fetch = StaticFetch::default();
    let clock = Arc::new(ManualClock::new(now));
    let source = KeySource::from_jwks_uri(
        tt::JWKS_URI_V2,
        RefreshConfig::default().refresh_interval(refresh_secs),
    );
    let mut builder = Verifier::builder(policy(), source, fetch.clone())
        .clock(Arc::clone(&clock) as Arc<dyn entra_jwt::Clock>)
        .backend(backend);
    if cache {
        builder = builder.token_cache(TokenCacheConfig::default());
    }
    let v = builder.build();
    v.load().expect("keys load");
    (v, clock, fetch)
}

/// The recorded Microsoft JWKS documents (`fixtures/azure/jwks`), by file name.
#[must_use]
pub fn recorded_jwks() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/azure/jwks");
    let mut docs: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("fixtures/azure/jwks")
        .map(|e| {
            let path = e.expect("entry").path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).expect("read"),
            )
        })
        .collect();
    docs.sort();
    docs
}

/// jsonwebtoken 12: the claims it deserializes (what an Entra API typically reads).
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code, missing_docs)]
pub struct JwtClaims {
    pub aud: String,
    pub iss: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    pub scp: String,
    pub ver: String,
    pub azp: String,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
}

/// jsonwebtoken 12 with both backends in one process: a `CryptoProvider`
/// installed once whose verifier factory dispatches to aws-lc-rs's or
/// RustCrypto's own factory by a switch (one relaxed atomic load).
pub mod jwt {
    use std::sync::atomic::{AtomicBool, Ordering};

    use jsonwebtoken::crypto::{
        CryptoProvider, JwtSigner, JwtVerifier, KeyUtils, aws_lc, rust_crypto,
    };
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};

    static USE_RUST_CRYPTO: AtomicBool = AtomicBool::new(false);

    fn signer(
        alg: &Algorithm,
        key: &EncodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
        (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key)
    }

    fn verifier(
        alg: &Algorithm,
        key: &DecodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        if USE_RUST_CRYPTO.load(Ordering::Relaxed) {
            (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(alg, key)
        } else {
            (aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
        }
    }

    static DISPATCH: CryptoProvider = CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        key_utils: KeyUtils::new_unimplemented(),
    };

    /// Installs the dispatching provider (idempotent).
    pub fn install() {
        let _already = DISPATCH.install_default();
    }

    /// Selects RustCrypto (`true`) or aws-lc-rs (`false`) for what follows.
    pub fn use_rust_crypto(on: bool) {
        USE_RUST_CRYPTO.store(on, Ordering::Relaxed);
    }

    /// The decoding key (parsed from n/e once) and the validation matching
    /// [`super::policy`]: RS256, audience, issuer, 300 s leeway, exp and nbf.
    #[must_use]
    pub fn setup() -> (DecodingKey, Validation) {
        use base64::Engine as _;
        let (n, e) = super::rsa2048_components();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = DecodingKey::from_rsa_components(&b64.encode(n), &b64.encode(e)).expect("key");
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[entra_jwt_test_tenant::APP_ID]);
        v.set_issuer(&[entra_jwt_test_tenant::ISSUER_V2]);
        v.leeway = 300;
        v.validate_nbf = true;
        (key, v)
    }

    /// One full jsonwebtoken verification.
    pub fn decode(token: &str, key: &DecodingKey, v: &Validation) -> bool {
        jsonwebtoken::decode::<super::JwtClaims>(token, key, v).is_ok()
    }
}

/// OpenSSL's raw RS256 verification (SHA-256 + RSA-2048 public operation) on
/// a key parsed once: the floor the others are measured against.
pub mod ossl {
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Public};
    use openssl::rsa::Rsa;
    use openssl::sign::Verifier;

    /// The 2048-bit key as an OpenSSL `PKey`.
    #[must_use]
    pub fn key() -> PKey<Public> {
        let (n, e) = super::rsa2048_components();
        let rsa = Rsa::from_public_components(
            BigNum::from_slice(&n).expect("n"),
            BigNum::from_slice(&e).expect("e"),
        )
        .expect("rsa");
        PKey::from_rsa(rsa).expect("pkey")
    }

    /// Verifies `signature` over `message` (RSASSA-PKCS1-v1_5, SHA-256).
    #[must_use]
    pub fn verify(key: &PKey<Public>, message: &[u8], signature: &[u8]) -> bool {
        let mut v = Verifier::new(MessageDigest::sha256(), key).expect("verifier");
        v.verify_oneshot(signature, message).unwrap_or(false)
    }

    /// The signing input and signature bytes of a compact JWS.
    #[must_use]
    pub fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
        use base64::Engine as _;
        let (input, sig) = token.rsplit_once('.').expect("jws");
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .expect("b64");
        (input.as_bytes().to_vec(), sig)
    }
}

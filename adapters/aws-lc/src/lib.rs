//! An optional RS256 [`SignatureBackend`] for entra-jwt on
//! [aws-lc-rs](https://docs.rs/aws-lc-rs) (AWS-LC, the BoringSSL-derived
//! library AWS maintains): about three times faster than the pure-Rust
//! default per cold verification, at the price of a C build (aws-lc-sys).
//!
//! ```
//! use std::sync::Arc;
//! use entra_jwt_aws_lc::AwsLcBackend;
//! # use entra_jwt_core::{KeySet, Policy};
//! # use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
//! # let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
//! # let token = TestTenant::get().sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &TestTenant::v2_claims(tt::NOW));
//! # let policy = Policy::single_tenant(tt::TENANT_ID, tt::APP_ID).build().unwrap();
//! let backend = Arc::new(AwsLcBackend::new());
//! let claims = policy.verify_with(backend.as_ref(), &token, &keys, tt::NOW)?;
//! // With the drivers: Verifier::builder(policy, source, fetcher).backend(backend).build()
//! # Ok::<(), entra_jwt_core::Error>(())
//! ```
//!
//! # Keys are parsed once
//! aws-lc-rs verifies with a parsed key (`ParsedPublicKey`, an `EVP_PKEY`).
//! [`AwsLcBackend`] parses each RSA key the first time it sees it and keeps
//! the parsed form, keyed by the key's exact modulus and exponent (never by
//! address, which a later key set could reuse). The table holds at most
//! [`MAX_KEYS`] keys; when full, the oldest is dropped (a rotated-out key).
//! Reads take a shared read lock; only the first use of a key writes.
//! [`AwsLcBackend::prepare`] parses a whole key set up front, for a service
//! that wants no parse on its first request after a key rotation.
//!
//! Correctness: it passes every Wycheproof RS256 vector (2048/3072/4096 bits;
//! `tests/wycheproof.rs`, with the core's harness).
#![forbid(unsafe_code)]

use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use entra_jwt_core::{KeySet, RsaKey, SignatureBackend};

/// Most parsed keys kept (Entra publishes 4-10 keys per set; rotation adds a few).
pub const MAX_KEYS: usize = 64;

struct Parsed {
    n: Box<[u8]>,
    e: Box<[u8]>,
    key: Arc<ParsedPublicKey>,
}

/// RSASSA-PKCS1-v1_5 with SHA-256 on aws-lc-rs, with each key parsed once.
#[derive(Default)]
pub struct AwsLcBackend {
    keys: RwLock<Vec<Parsed>>,
}

impl std::fmt::Debug for AwsLcBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsLcBackend")
            .field("parsed_keys", &self.len())
            .finish()
    }
}

impl AwsLcBackend {
    /// A backend with no key parsed yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses every key of `keys` now (normally each is parsed on first use).
    pub fn prepare(&self, keys: &KeySet) {
        for jwk in keys.iter() {
            let _parsed = self.parsed(jwk.key());
        }
    }

    /// How many parsed keys are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key has been parsed yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn find(keys: &[Parsed], key: &RsaKey) -> Option<Arc<ParsedPublicKey>> {
        keys.iter()
            .find(|p| *p.n == *key.modulus() && *p.e == *key.exponent())
            .map(|p| Arc::clone(&p.key))
    }

    /// The parsed form of `key`, parsing and keeping it on first use.
    fn parsed(&self, key: &RsaKey) -> Option<Arc<ParsedPublicKey>> {
        if let Some(found) = Self::find(
            &self.keys.read().unwrap_or_else(PoisonError::into_inner),
            key,
        ) {
            return Some(found);
        }
        let parsed = RsaPublicKeyComponents {
            n: key.modulus(),
            e: key.exponent(),
        }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .ok()?;
        let parsed = Arc::new(parsed);
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = Self::find(&keys, key) {
            return Some(found);
        }
        if keys.len() >= MAX_KEYS {
            keys.remove(0);
        }
        keys.push(Parsed {
            n: key.modulus().into(),
            e: key.exponent().into(),
            key: Arc::clone(&parsed),
        });
        Some(parsed)
    }
}

impl SignatureBackend for AwsLcBackend {
    fn verify_rs256(&self, key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
        // Fast path: verify under the read lock, without touching the Arc.
        {
            let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(p) = keys
                .iter()
                .find(|p| *p.n == *key.modulus() && *p.e == *key.exponent())
            {
                return signature.len() == key.signature_len()
                    && p.key.verify_sig(message, signature).is_ok();
            }
        }
        self.parsed(key).is_some_and(|p| {
            signature.len() == key.signature_len() && p.verify_sig(message, signature).is_ok()
        })
    }
}

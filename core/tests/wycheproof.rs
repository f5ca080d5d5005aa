//! SPEC §5: RSASSA-PKCS1-v1_5 with SHA-256 against Wycheproof's 2048/3072/4096-bit
//! verification vectors (C2SP/wycheproof testvectors_v1, commit dac1dd47, Apache-2.0,
//! copied into fixtures/wycheproof with its LICENSE).
//!
//! Every `valid` vector must verify and every `invalid` one must be rejected.
//! The `acceptable` vectors (one per file, flag `MissingNull`: a DigestInfo
//! whose AlgorithmIdentifier omits the NULL parameters) are rejected: RFC 8017
//! §9.2 note 1 gives the encoding with NULL, and Entra never signs without it,
//! so accepting a second encoding would only widen what verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/wycheproof.rs"]
mod harness;

use entra_jwt_core::{RsaKey, RustCryptoBackend, SignatureBackend, VartimeBackend};
use harness::run;

/// Both backends the core ships: the default (variable-time Montgomery) and
/// the `rsa` crate's own verification.
fn backends() -> [(&'static str, &'static dyn SignatureBackend); 2] {
    [
        ("vartime", &VartimeBackend),
        ("rustcrypto", &RustCryptoBackend),
    ]
}

#[test]
fn rsa_2048_sha256() {
    for (_, backend) in backends() {
        let c = run("rsa_signature_2048_sha256_test.json", backend);
        assert_eq!((c.valid, c.invalid, c.acceptable), (9, 249, 1));
    }
}

#[test]
fn rsa_3072_sha256() {
    for (_, backend) in backends() {
        let c = run("rsa_signature_3072_sha256_test.json", backend);
        assert_eq!((c.valid, c.invalid, c.acceptable), (8, 250, 1));
    }
}

#[test]
fn rsa_4096_sha256() {
    for (_, backend) in backends() {
        let c = run("rsa_signature_4096_sha256_test.json", backend);
        assert_eq!((c.valid, c.invalid, c.acceptable), (7, 250, 1));
    }
}

/// The harness itself must be able to fail: a backend that accepts everything
/// is caught by the invalid vectors, one that accepts nothing by the valid ones.
#[test]
fn harness_detects_broken_backends() {
    struct Always(bool);
    impl SignatureBackend for Always {
        fn verify_rs256(&self, _: &RsaKey, _: &[u8], _: &[u8]) -> bool {
            self.0
        }
    }
    for backend in [Always(true), Always(false)] {
        let outcome =
            std::panic::catch_unwind(|| run("rsa_signature_2048_sha256_test.json", &backend));
        assert!(outcome.is_err());
    }
}

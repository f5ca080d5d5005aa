//! SPEC §5 for the aws-lc-rs backend: every Wycheproof RS256 vector
//! (2048/3072/4096 bits), with the core's harness, and parsed keys reused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../core/tests/support/wycheproof.rs"]
mod harness;

use entra_jwt_aws_lc::AwsLcBackend;
use harness::run;

#[test]
fn rsa_2048_sha256() {
    let c = run("rsa_signature_2048_sha256_test.json", &AwsLcBackend::new());
    assert_eq!((c.valid, c.invalid, c.acceptable), (9, 249, 1));
}

#[test]
fn rsa_3072_sha256() {
    let c = run("rsa_signature_3072_sha256_test.json", &AwsLcBackend::new());
    assert_eq!((c.valid, c.invalid, c.acceptable), (8, 250, 1));
}

#[test]
fn rsa_4096_sha256() {
    let c = run("rsa_signature_4096_sha256_test.json", &AwsLcBackend::new());
    assert_eq!((c.valid, c.invalid, c.acceptable), (7, 250, 1));
}

#[test]
fn keys_are_parsed_once_and_bounded() {
    use entra_jwt_core::{KeySet, SignatureBackend};
    use entra_jwt_test_tenant::{Key, TestTenant};
    let backend = AwsLcBackend::new();
    let keys = KeySet::from_jwks(TestTenant::jwks_json().as_bytes()).unwrap();
    backend.prepare(&keys);
    assert_eq!(backend.len(), keys.len());
    let jwk = keys.find_kid(Some(Key::Rsa2048.kid())).unwrap();
    let sig = TestTenant::get().signature(Key::Rsa2048, b"a.b");
    for _ in 0..3 {
        assert!(backend.verify_rs256(jwk.key(), b"a.b", &sig));
        assert!(!backend.verify_rs256(jwk.key(), b"a.c", &sig));
    }
    assert_eq!(backend.len(), keys.len());
}

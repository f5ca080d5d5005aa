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

use entra_jwt_core::{RsaKey, RustCryptoBackend, SignatureBackend};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Counts {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

/// Runs one file through `backend`; returns how many vectors of each kind it checked.
fn run(file: &str, backend: &dyn SignatureBackend) -> Counts {
    let path = format!(
        "{}/../fixtures/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut counts = Counts {
        valid: 0,
        invalid: 0,
        acceptable: 0,
    };
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        assert_eq!(group["sha"], "SHA-256");
        let key = RsaKey::from_be_bytes(
            &hex(group["publicKey"]["modulus"].as_str().unwrap()),
            &hex(group["publicKey"]["publicExponent"].as_str().unwrap()),
        )
        .unwrap();
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = hex(test["sig"].as_str().unwrap());
            // The verifier's own length rule (SPEC §2) comes first, as in Policy::verify.
            let verified =
                sig.len() == key.signature_len() && backend.verify_rs256(&key, &msg, &sig);
            let expected = match test["result"].as_str().unwrap() {
                "valid" => {
                    counts.valid += 1;
                    true
                }
                "invalid" => {
                    counts.invalid += 1;
                    false
                }
                "acceptable" => {
                    counts.acceptable += 1;
                    false
                }
                other => panic!("unknown result {other}"),
            };
            if verified != expected {
                failures.push(format!(
                    "{file} tcId {id} ({}): got {verified}",
                    test["comment"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    counts
}

#[test]
fn rsa_2048_sha256() {
    let c = run("rsa_signature_2048_sha256_test.json", &RustCryptoBackend);
    assert_eq!((c.valid, c.invalid, c.acceptable), (9, 249, 1));
}

#[test]
fn rsa_3072_sha256() {
    let c = run("rsa_signature_3072_sha256_test.json", &RustCryptoBackend);
    assert_eq!((c.valid, c.invalid, c.acceptable), (8, 250, 1));
}

#[test]
fn rsa_4096_sha256() {
    let c = run("rsa_signature_4096_sha256_test.json", &RustCryptoBackend);
    assert_eq!((c.valid, c.invalid, c.acceptable), (7, 250, 1));
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

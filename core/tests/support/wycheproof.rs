//! The Wycheproof RS256 harness shared by the core's suite and the optional
//! backends' (`adapters/aws-lc`): `run(file, backend)` checks every vector of
//! one file and returns how many of each kind it saw.
#![allow(dead_code)]

use entra_jwt_core::{RsaKey, SignatureBackend};
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub struct Counts {
    pub valid: usize,
    pub invalid: usize,
    pub acceptable: usize,
}

/// Runs one file through `backend`; returns how many vectors of each kind it checked.
pub fn run(file: &str, backend: &dyn SignatureBackend) -> Counts {
    let path = format!(
        "{}/../fixtures/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    // Adapters live one level deeper than the core.
    let path = if std::path::Path::new(&path).exists() {
        path
    } else {
        format!(
            "{}/../../fixtures/wycheproof/{file}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
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

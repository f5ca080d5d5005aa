//! Seed inputs for every target, made from the test tenant and the recorded
//! Microsoft fixtures (`fixtures/azure`, `fixtures/wycheproof`). The committed
//! corpora grew from these (`fuzz/run.sh seed`, then fuzzing and `cargo fuzz cmin`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use entra_jwt_test_tenant::{self as tt, Key, TestTenant};
use serde_json::{Value, json};

use crate::rs256::{MODE3_MESSAGE, SHA256_DIGEST_INFO, emsa_pkcs1_v15, encode};
use crate::{NOW, b64};

/// One named seed input.
pub type Seed = (String, Vec<u8>);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file of `fixtures/azure/<dir>` whose name ends with `suffix`, sorted.
fn recorded(dir: &str, suffix: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("fixtures/azure").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn json_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn headers() -> Vec<(String, Value)> {
    let kid = Key::Rsa2048.kid();
    let cert = STANDARD.encode(TestTenant::cert_der(Key::Attacker));
    let mut out = vec![];
    for key in [Key::Rsa2048, Key::Rsa3072, Key::Rsa4096, Key::Attacker] {
        out.push((format!("entra-{}", key.name()), TestTenant::header(key)));
    }
    out.extend([
        (
            "x5t-only".into(),
            json!({"typ": "JWT", "alg": "RS256", "x5t": kid}),
        ),
        (
            "kid-and-x5t".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid}),
        ),
        ("no-typ".into(), json!({"alg": "RS256", "kid": kid})),
        (
            "typ-at-jwt".into(),
            json!({"typ": "at+jwt", "alg": "RS256", "kid": kid}),
        ),
        (
            "alg-none".into(),
            json!({"typ": "JWT", "alg": "none", "kid": kid}),
        ),
        (
            "alg-hs256".into(),
            json!({"typ": "JWT", "alg": "HS256", "kid": kid}),
        ),
        (
            "alg-rs512".into(),
            json!({"typ": "JWT", "alg": "RS512", "kid": kid}),
        ),
        (
            "crit".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": kid, "crit": ["b64"], "b64": false}),
        ),
        (
            "nonce".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": kid, "nonce": "abc"}),
        ),
        (
            "jku-x5u-jwk-x5c".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": Key::Attacker.kid(),
                "jku": "https://attacker.example/keys", "x5u": "https://attacker.example/c.pem",
                "jwk": TestTenant::public_jwk(Key::Attacker), "x5c": [cert]}),
        ),
        (
            "kid-path".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": "../../etc/passwd"}),
        ),
        (
            "kid-sql".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": "' OR 1=1 --"}),
        ),
        (
            "kid-number".into(),
            json!({"typ": "JWT", "alg": "RS256", "kid": 7}),
        ),
    ]);
    out
}

fn claim_sets() -> Vec<(String, Value)> {
    let mut out = vec![
        ("v2".into(), TestTenant::v2_claims(NOW)),
        ("v1".into(), TestTenant::v1_claims(NOW)),
        ("app".into(), TestTenant::app_claims(NOW)),
        ("expired".into(), TestTenant::v2_claims(NOW - 7200)),
        ("future".into(), TestTenant::v2_claims(NOW + 7200)),
    ];
    let edits: &[(&str, &str, Value)] = &[
        ("exp-string", "exp", json!(format!("{}", NOW + 3600))),
        ("exp-float", "exp", json!(1.5e9)),
        ("exp-negative", "exp", json!(-1)),
        ("exp-huge", "exp", json!(u64::MAX)),
        ("aud-array", "aud", json!(["a", tt::APP_ID])),
        ("aud-uri", "aud", json!(tt::APP_ID_URI)),
        (
            "aud-wrong",
            "aud",
            json!("00000003-0000-0000-c000-000000000000"),
        ),
        ("tid-other", "tid", json!(tt::OTHER_TENANT_ID)),
        (
            "iss-other",
            "iss",
            json!(format!(
                "https://login.microsoftonline.com/{}/v2.0",
                tt::OTHER_TENANT_ID
            )),
        ),
        (
            "iss-b2c",
            "iss",
            json!("https://entrajwttest.b2clogin.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0/"),
        ),
        ("ver-1", "ver", json!("1.0")),
        ("scp-empty", "scp", json!("")),
        ("roles", "roles", json!(["Data.Admin"])),
        ("roles-string", "roles", json!("Data.Admin")),
        ("nbf-after-exp", "nbf", json!(NOW + 7200)),
    ];
    for (name, claim, value) in edits {
        let mut c = TestTenant::v2_claims(NOW);
        c[*claim] = value.clone();
        out.push(((*name).into(), c));
    }
    let mut no_scp = TestTenant::v2_claims(NOW);
    no_scp.as_object_mut().unwrap().remove("scp");
    out.push(("id-token".into(), no_scp));
    out
}

/// Raw payload texts a `serde_json::Value` cannot express.
fn raw_payloads() -> Vec<Seed> {
    let v2 = serde_json::to_string(&TestTenant::v2_claims(NOW)).unwrap();
    let open = &v2[..v2.len() - 1];
    vec![
        (
            "dup-exp".into(),
            format!(r#"{open},"exp":{}}}"#, NOW - 10).into_bytes(),
        ),
        (
            "tid-case".into(),
            format!(r#"{open},"TID":"{}"}}"#, tt::OTHER_TENANT_ID).into_bytes(),
        ),
        (
            "exp-1e309".into(),
            format!(r#"{open},"x":1e309}}"#).into_bytes(),
        ),
        (
            "nested".into(),
            format!(r#"{open},"x":{}{}}}"#, "[".repeat(100), "]".repeat(100)).into_bytes(),
        ),
        (
            "escaped-key".into(),
            format!(r#"{open},"\u0065xp":1}}"#).into_bytes(),
        ),
    ]
}

fn tokens() -> Vec<Seed> {
    let t = TestTenant::get();
    let mut out = vec![];
    for key in [
        Key::Rsa2048,
        Key::Rsa3072,
        Key::Rsa4096,
        Key::Rsa2048Next,
        Key::Attacker,
    ] {
        for (name, claims) in [
            ("v2", TestTenant::v2_claims(NOW)),
            ("v1", TestTenant::v1_claims(NOW)),
            ("app", TestTenant::app_claims(NOW)),
        ] {
            let token = t.sign(key, &TestTenant::header(key), &claims);
            out.push((format!("{}-{name}", key.name()), token.into_bytes()));
        }
    }
    for (name, header) in headers() {
        let token = t.sign(Key::Rsa2048, &header, &TestTenant::v2_claims(NOW));
        out.push((format!("header-{name}"), token.into_bytes()));
    }
    for (name, claims) in claim_sets() {
        let token = t.sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &claims);
        out.push((format!("claims-{name}"), token.into_bytes()));
    }
    let header = json_bytes(&TestTenant::header(Key::Rsa2048));
    for (name, payload) in raw_payloads() {
        out.push((
            format!("raw-{name}"),
            t.sign_raw(Key::Rsa2048, &header, &payload).into_bytes(),
        ));
    }
    let valid = String::from_utf8(out[0].1.clone()).unwrap();
    let (input, _) = valid.rsplit_once('.').unwrap();
    out.extend([
        ("empty-signature".into(), format!("{input}.").into_bytes()),
        ("jwe".into(), format!("{input}.a.b.c").into_bytes()),
        ("two-segments".into(), input.as_bytes().to_vec()),
        (
            "zero-signature".into(),
            format!("{input}.{}", b64(&[0; 256])).into_bytes(),
        ),
        ("padded".into(), format!("{valid}==").into_bytes()),
    ]);
    for (name, bytes) in recorded("tokens", ".jwt") {
        let text = String::from_utf8(bytes).unwrap();
        out.push((
            format!("recorded-{name}"),
            text.trim_end().as_bytes().to_vec(),
        ));
    }
    out
}

fn jwks_documents() -> Vec<Seed> {
    let mut out = vec![
        ("tenant".into(), TestTenant::jwks_json().as_bytes().to_vec()),
        (
            "tenant-rotated".into(),
            TestTenant::jwks_rotated_json().as_bytes().to_vec(),
        ),
        ("empty".into(), br#"{"keys":[]}"#.to_vec()),
    ];
    let jwk = TestTenant::public_jwk(Key::Rsa2048);
    let mut ne_only = jwk.clone();
    ne_only.as_object_mut().unwrap().remove("x5c");
    let mut x5c_only = jwk.clone();
    for m in ["n", "e"] {
        x5c_only.as_object_mut().unwrap().remove(m);
    }
    let mut mismatch = jwk.clone();
    mismatch["n"] = TestTenant::public_jwk(Key::Attacker)["n"].clone();
    let variants = [
        ("n-e-only", json!({"keys": [ne_only]})),
        ("x5c-only", json!({"keys": [x5c_only]})),
        ("mismatch", json!({"keys": [mismatch]})),
        (
            "use-enc",
            json!({"keys": [{"kty": "RSA", "use": "enc", "n": jwk["n"], "e": "AQAB"}]}),
        ),
        (
            "key-ops",
            json!({"keys": [{"kty": "RSA", "key_ops": ["sign"], "n": jwk["n"], "e": "AQAB"}]}),
        ),
        (
            "alg-rs512",
            json!({"keys": [{"kty": "RSA", "alg": "RS512", "n": jwk["n"], "e": "AQAB"}]}),
        ),
        (
            "e-even",
            json!({"keys": [{"kty": "RSA", "n": jwk["n"], "e": "AQAA"}]}),
        ),
        (
            "ec",
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}),
        ),
        ("dup-kid", json!({"keys": [jwk, jwk]})),
    ];
    out.extend(
        variants
            .into_iter()
            .map(|(n, v)| (n.to_string(), json_bytes(&v))),
    );
    out.extend(recorded("jwks", ".json"));
    out.extend(recorded("tokens", ".jwks.json"));
    out
}

fn certificates() -> Vec<Seed> {
    let mut out: Vec<Seed> = Key::ALL
        .iter()
        .map(|&k| (format!("tenant-{}", k.name()), TestTenant::cert_der(k)))
        .collect();
    for (name, doc) in recorded("jwks", ".json") {
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        for (i, key) in doc["keys"].as_array().unwrap().iter().enumerate() {
            if let Some(cert) = key["x5c"][0].as_str()
                && let Ok(der) = STANDARD.decode(cert)
                && !out.iter().any(|(_, d)| *d == der)
            {
                out.push((format!("{name}-{i}"), der));
            }
        }
    }
    out
}

fn discovery_documents() -> Vec<Seed> {
    let mut out = vec![
        (
            "tenant-v2".into(),
            TestTenant::openid_v2_json().as_bytes().to_vec(),
        ),
        (
            "tenant-v1".into(),
            TestTenant::openid_v1_json().as_bytes().to_vec(),
        ),
        (
            "two-placeholders".into(),
            br#"{"issuer":"https://x/{tenantid}/{tenantid}","jwks_uri":"https://x/k"}"#.to_vec(),
        ),
        (
            "minimal".into(),
            br#"{"issuer":"https://x/","jwks_uri":"https://x/k"}"#.to_vec(),
        ),
    ];
    out.extend(recorded("openid", ".json"));
    out
}

fn authorization_values() -> Vec<Seed> {
    let token = TestTenant::get().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(NOW),
    );
    let values = [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer  {token}"),
        format!("Bearer {token} extra"),
        "Bearer a.b.c".into(),
        "Bearer abc==".into(),
        "Bearer a=b".into(),
        "Bearer".into(),
        "Bearer ".into(),
        "Bearer\tabc".into(),
        "Basic dXNlcjpwYXNz".into(),
        "Bearer, Basic x".into(),
        String::new(),
    ];
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("value-{i}"), v.into_bytes()))
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn rs256_inputs() -> Vec<Seed> {
    let mut out = vec![];
    for bits in [2048, 3072, 4096] {
        let path = repo().join(format!(
            "fixtures/wycheproof/rsa_signature_{bits}_sha256_test.json"
        ));
        let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for group in doc["testGroups"].as_array().unwrap() {
            let n = hex(group["publicKey"]["modulus"].as_str().unwrap());
            let e = hex(group["publicKey"]["publicExponent"].as_str().unwrap());
            for test in group["tests"].as_array().unwrap() {
                let msg = hex(test["msg"].as_str().unwrap());
                let sig = hex(test["sig"].as_str().unwrap());
                let id = test["tcId"].as_u64().unwrap();
                out.push((
                    format!("wycheproof-{bits}-{id}"),
                    encode(0, &[&n, &e, &msg, &sig]),
                ));
            }
        }
    }
    let message = b"eyJ0eXAiOiJKV1QifQ.eyJ0aWQiOiJ4In0";
    for (i, key) in Key::ALL.iter().enumerate() {
        let k = key.bits() / 8;
        let selector = [u8::try_from(i).unwrap()];
        out.push((
            format!("em-valid-{}", key.name()),
            encode(1, &[&selector, message, &[], &[]]),
        ));
        out.push((
            format!("mutated-none-{}", key.name()),
            encode(3, &[&selector, &[], &[], &[], &[], &[]]),
        ));
        out.push((
            format!("mutated-sig-{}", key.name()),
            encode(3, &[&selector, &[], &[1], &[], &[], &[]]),
        ));
        out.push((
            format!("mutated-n-{}", key.name()),
            encode(3, &[&selector, &[], &[], &[0, 0, 2], &[], &[]]),
        ));
        out.push((
            format!("mutated-len-{}", key.name()),
            encode(3, &[&selector, &[], &[], &[], &[], &[0xff]]),
        ));
        if i == 0 {
            // Near misses in the encoded message (all signed with the real key).
            let valid = emsa_pkcs1_v15(message, k);
            let mut t = vec![0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09];
            t.extend_from_slice(&SHA256_DIGEST_INFO[6..15]);
            t.extend_from_slice(&[0x04, 0x20]);
            t.extend_from_slice(&valid[k - 32..]);
            let mut missing_null = vec![0x00, 0x01];
            missing_null.resize(k - t.len() - 1, 0xff);
            missing_null.push(0x00);
            missing_null.extend_from_slice(&t);
            out.push((
                "em-missing-null".into(),
                encode(2, &[&selector, message, &missing_null]),
            ));
            let mut garbage_after = valid.clone();
            garbage_after.remove(2);
            garbage_after.push(0);
            out.push((
                "em-trailing-garbage".into(),
                encode(2, &[&selector, message, &garbage_after]),
            ));
            out.push((
                "em-flip-ps".into(),
                encode(1, &[&selector, message, &[0, 0, 0, 1], &[]]),
            ));
            out.push((
                "em-flip-oid".into(),
                encode(1, &[&selector, message, &[], &[1; 40]]),
            ));
            let mut short_ps = valid;
            short_ps.drain(2..k - 51 - 1 - 7);
            out.push((
                "em-short-ps".into(),
                encode(2, &[&selector, message, &short_ps]),
            ));
        }
    }
    assert!(!MODE3_MESSAGE.is_empty());
    out
}

/// Deterministic pseudo-random inputs (xorshift64*) for the structured targets.
fn random_inputs(count: usize, seed: u64) -> Vec<Seed> {
    let mut state = seed;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..count)
        .map(|i| {
            let len = 16 + usize::try_from(next() % 1024).unwrap();
            let bytes = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            (format!("random-{i}"), bytes)
        })
        .collect()
}

/// The seeds of `target`, or `None` for an unknown target name.
#[must_use]
pub fn seeds(target: &str) -> Option<Vec<Seed>> {
    Some(match target {
        "token" | "verify" => tokens(),
        "header" => headers()
            .into_iter()
            .map(|(n, h)| (n, json_bytes(&h)))
            .chain([(
                "nested".into(),
                format!(
                    r#"{{"alg":"RS256","x":{}{}}}"#,
                    "[".repeat(200),
                    "]".repeat(200)
                )
                .into_bytes(),
            )])
            .collect(),
        "claims" => claim_sets()
            .into_iter()
            .map(|(n, c)| (n, json_bytes(&c)))
            .chain(raw_payloads())
            .collect(),
        "jwks" => jwks_documents(),
        "x5c" => certificates(),
        "discovery" => discovery_documents(),
        "authorization" => authorization_values(),
        "rs256" => rs256_inputs(),
        "key_source" => random_inputs(200, 0x9e37_79b9_7f4a_7c15),
        _ => return None,
    })
}

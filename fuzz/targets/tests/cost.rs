//! The worst-case cost of one verification of a hostile token, against a
//! normal one (SPEC §1-§5 limits: 32 KiB token cap, 4 KiB header cap, 256-byte
//! kid, 4096-bit keys, 256 members and 64 arrays/objects per JSON segment).
//!
//! Each input is verified many times; the reported time is the median of
//! many batches, so scheduling noise on a shared machine moves it little.
//! The heap cost is the total bytes allocated by one verification (an upper
//! bound on its peak), counted by a global allocator that counts. Timing is
//! a benchmark, not a contract: this test prints the table (recorded in
//! `fuzz/README.md` from a `--release` run) and asserts only bounds loose
//! enough never to flake: every hostile input under 50x a normal
//! verification, under 1 MiB allocated.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use entra_jwt_core::limits::{DEFAULT_MAX_TOKEN_BYTES, MAX_HEADER_BYTES, MAX_KID_LEN};
use entra_jwt_core::{Error, KeySet, Policy};
use entra_jwt_fuzz_targets::{NOW, b64, single_tenant_policy, tenant_keys};
use entra_jwt_test_tenant::{Key, TestTenant};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// One hostile (or normal) input and the answer it must get.
struct Case {
    name: &'static str,
    token: String,
    expected: Result<(), Error>,
}

/// Base64url of `json` padded with `filler` members until the whole token
/// (`header.payload.signature`) is as close to the cap as it gets.
fn fill_to_cap(prefix: &str, member: impl Fn(usize) -> String, rest: &str) -> String {
    let mut json = prefix.to_owned();
    let mut i = 0;
    loop {
        let next = format!("{json},{}", member(i));
        if b64(format!("{next}}}").as_bytes()).len() + 1 + rest.len() > DEFAULT_MAX_TOKEN_BYTES {
            break;
        }
        json = next;
        i += 1;
    }
    format!("{}.{rest}", b64(format!("{json}}}").as_bytes()))
}

/// Base64url of `json` + `first` + `member(0)`, `member(1)`, ... as long as
/// the encoded header stays within MAX_HEADER_BYTES.
fn header_at_cap(prefix: &str, first: &str, member: impl Fn(usize) -> String) -> String {
    let mut json = format!("{prefix}{first}");
    let mut i = 0;
    loop {
        let next = format!("{json}{}", member(i));
        if b64(format!("{next}}}").as_bytes()).len() > MAX_HEADER_BYTES {
            break;
        }
        json = next;
        i += 1;
    }
    b64(format!("{json}}}").as_bytes())
}

fn cases() -> Vec<Case> {
    let t = TestTenant::get();
    let claims = TestTenant::v2_claims(NOW);
    let normal = t.sign(Key::Rsa2048, &TestTenant::header(Key::Rsa2048), &claims);
    let payload = b64(&serde_json::to_vec(&claims).unwrap());
    let sig512 = b64(&[0x5a; 512]);
    let sig256 = b64(&[0x5a; 256]);
    let kid4096 = Key::Rsa4096.kid();
    let header_open = format!(r#"{{"typ":"JWT","alg":"RS256","kid":"{kid4096}""#);
    let rest4096 = format!("{payload}.{sig512}");

    let mut cases = vec![Case {
        name: "normal: valid v2 token, 2048-bit key",
        token: normal.clone(),
        expected: Ok(()),
    }];
    cases.push(Case {
        name: "4096-bit key, bad signature",
        token: format!("{}.{rest4096}", b64(format!("{header_open}}}").as_bytes())),
        expected: Err(Error::BadSignature),
    });
    cases.push(Case {
        // Refused by the header cap; before it, after MAX_JSON_MEMBERS
        // (256) members: fuzz finding cost-2.
        name: "32 KiB header of tiny members (over the header cap)",
        token: fill_to_cap(&header_open, |i| format!(r#""{i:x}":0"#), &rest4096),
        expected: Err(Error::Malformed),
    });
    cases.push(Case {
        name: "32 KiB header of 1-char strings in arrays (header cap)",
        token: fill_to_cap(
            &header_open,
            |i| format!(r#""{i:x}":["a","b","c","d"]"#),
            &rest4096,
        ),
        expected: Err(Error::Malformed),
    });
    // Headers at MAX_HEADER_BYTES: long member names (so the duplicate check
    // compares long names), then as many nested arrays as allowed plus long
    // names, then the same header with a junk payload filling the token cap
    // (the payload is hashed, not parsed, before the signature): the worst
    // the caps leave (fuzz finding cost-4 was the 31 KiB version).
    let long_names = header_at_cap(&header_open, "", |i| {
        format!(r#","{}{i:x}":0"#, "n".repeat(80))
    });
    cases.push(Case {
        name: "4 KiB header of long member names (header cap), 4096-bit key",
        token: format!("{long_names}.{rest4096}"),
        expected: Err(Error::BadSignature),
    });
    let at_the_caps = header_at_cap(
        &header_open,
        &format!(r#","deep":{}{}"#, "[".repeat(60), "]".repeat(60)),
        |i| format!(r#","{}{i:x}":0"#, "n".repeat(80)),
    );
    cases.push(Case {
        name: "4 KiB header: 60 nested arrays + long names, 4096-bit key",
        token: format!("{at_the_caps}.{rest4096}"),
        expected: Err(Error::BadSignature),
    });
    let junk_len = (DEFAULT_MAX_TOKEN_BYTES - long_names.len() - sig512.len() - 2) / 4 * 3;
    cases.push(Case {
        name: "4 KiB header of long names + junk payload to the token cap, 4096-bit",
        token: format!("{long_names}.{}.{sig512}", b64(&vec![b'x'; junk_len])),
        expected: Err(Error::BadSignature),
    });
    cases.push(Case {
        name: "32 KiB header of long member names (over the header cap)",
        token: fill_to_cap(
            &header_open,
            |i| format!(r#""{}{i:x}":0"#, "n".repeat(80)),
            &rest4096,
        ),
        expected: Err(Error::Malformed),
    });
    cases.push(Case {
        name: "32 KiB header of empty arrays [[],[],...] (header cap)",
        token: fill_to_cap(
            &header_open,
            |i| format!(r#""{i:x}":[[],[],[],[],[],[],[],[]]"#),
            &rest4096,
        ),
        expected: Err(Error::Malformed),
    });
    // Under the header cap but over the member cap.
    let small_header = {
        let mut json = header_open.clone();
        let mut i = 0;
        while json.len() < 2048 - 8 {
            json.push_str(&format!(r#","{i:x}":0"#));
            i += 1;
        }
        format!("{}.{rest4096}", b64(format!("{json}}}").as_bytes()))
    };
    cases.push(Case {
        name: "2 KiB header of tiny members (over the member cap), 4096-bit key",
        token: small_header,
        expected: Err(Error::Malformed),
    });
    let depth = 120;
    cases.push(Case {
        name: "32 KiB header of arrays nested 120 deep (header cap)",
        token: fill_to_cap(
            &header_open,
            |i| format!(r#""{i:x}":{}{}"#, "[".repeat(depth), "]".repeat(depth)),
            &rest4096,
        ),
        expected: Err(Error::Malformed),
    });
    let deep = format!(r#"{{"alg":"RS256","x":{}"#, "[".repeat(23_500));
    cases.push(Case {
        name: "32 KiB header of nested arrays (header cap)",
        token: format!("{}.{payload}.{sig256}", b64(deep.as_bytes())),
        expected: Err(Error::Malformed),
    });
    cases.push(Case {
        name: "32 KiB header of tiny members, unknown kid (header cap)",
        token: fill_to_cap(
            r#"{"typ":"JWT","alg":"RS256","kid":"unknown""#,
            |i| format!(r#""{i:x}":0"#),
            &format!("{payload}.{sig256}"),
        ),
        expected: Err(Error::Malformed),
    });
    let long_kid = "k".repeat(MAX_KID_LEN);
    cases.push(Case {
        name: "max-length kid (256), unknown",
        token: format!(
            "{}.{payload}.{sig256}",
            b64(format!(r#"{{"alg":"RS256","kid":"{long_kid}"}}"#).as_bytes())
        ),
        expected: Err(Error::UnknownKey),
    });
    let junk_payload = b64(&vec![b'x'; 22_000]);
    cases.push(Case {
        name: "22 KB payload (unparsed before the signature), 4096-bit key",
        token: format!(
            "{}.{junk_payload}.{sig512}",
            b64(format!("{header_open}}}").as_bytes())
        ),
        expected: Err(Error::BadSignature),
    });
    cases.push(Case {
        name: "32 KiB of dots",
        token: ".".repeat(DEFAULT_MAX_TOKEN_BYTES),
        expected: Err(Error::Malformed),
    });
    cases.push(Case {
        name: "1 MiB token (refused by size)",
        token: "a".repeat(1 << 20),
        expected: Err(Error::TooLarge),
    });
    for case in &cases {
        assert!(
            case.token.len() <= DEFAULT_MAX_TOKEN_BYTES || case.expected == Err(Error::TooLarge),
            "{}",
            case.name
        );
    }
    cases
}

fn verify(policy: &Policy, keys: &KeySet, token: &str) -> Result<(), Error> {
    policy.verify(token, keys, NOW).map(drop)
}

/// Median time of one verification, from `batches` batches of `per_batch`.
fn median_time(
    policy: &Policy,
    keys: &KeySet,
    token: &str,
    batches: usize,
    per_batch: u32,
) -> Duration {
    let mut samples: Vec<Duration> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                let _ = black_box(verify(policy, keys, black_box(token)));
            }
            start.elapsed() / per_batch
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

#[test]
fn hostile_tokens_cost_a_bounded_multiple_of_a_normal_verification() {
    let policy = single_tenant_policy();
    let keys = tenant_keys();
    let cases = cases();
    // Debug builds are slow (the core is unoptimised there): fewer runs.
    let (batches, per_batch) = if cfg!(debug_assertions) {
        (21, 3)
    } else {
        (101, 10)
    };
    let mut rows = Vec::new();
    for case in &cases {
        assert_eq!(
            verify(policy, keys, &case.token),
            case.expected,
            "{}",
            case.name
        );
        let region = Region::new(GLOBAL);
        let _ = black_box(verify(policy, keys, &case.token));
        let allocated = region.change().bytes_allocated;
        let time = median_time(policy, keys, &case.token, batches, per_batch);
        rows.push((case.name, case.token.len(), time, allocated));
    }
    let normal = rows[0].2;
    println!(
        "\n{:<62} {:>8} {:>11} {:>7} {:>10}",
        "input", "bytes", "median", "ratio", "allocated"
    );
    let mut worst: f64 = 0.0;
    for (name, len, time, allocated) in &rows {
        let ratio = time.as_secs_f64() / normal.as_secs_f64();
        worst = worst.max(ratio);
        println!("{name:<62} {len:>8} {time:>11.2?} {ratio:>6.2}x {allocated:>10}");
        assert!(ratio < 50.0, "{name}: {ratio:.1}x a normal verification");
        assert!(*allocated < 1 << 20, "{name}: {allocated} bytes allocated");
    }
    println!(
        "worst hostile/normal ratio: {worst:.2}x ({})",
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        }
    );
}

/// The slowest inputs fuzzing has kept: every committed (and local scratch)
/// corpus file of the `verify` and `token` targets, verified with the same
/// key set and policy as above, timed roughly, then the three slowest timed
/// like the cases (the figure `fuzz/README.md` records as "slowest input
/// found by fuzzing").
#[test]
fn slowest_fuzz_corpus_inputs_against_a_normal_verification() {
    let policy = single_tenant_policy();
    let keys = tenant_keys();
    let fuzz_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut inputs: Vec<(String, String)> = Vec::new();
    for dir in [
        "corpus/verify",
        "corpus/token",
        "regressions/verify",
        "regressions/token",
    ] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if let Ok(token) = String::from_utf8(std::fs::read(&path).unwrap()) {
                inputs.push((
                    format!("{dir}/{}", path.file_name().unwrap().display()),
                    token,
                ));
            }
        }
    }
    assert!(
        inputs.len() >= 100,
        "the corpora are committed: {} inputs",
        inputs.len()
    );
    let (rough, batches, per_batch) = if cfg!(debug_assertions) {
        ((1, 1), 5, 1)
    } else {
        ((5, 2), 101, 10)
    };
    let mut timed: Vec<(Duration, usize)> = inputs
        .iter()
        .enumerate()
        .map(|(i, (_, token))| (median_time(policy, keys, token, rough.0, rough.1), i))
        .collect();
    timed.sort();
    let normal = TestTenant::get().sign(
        Key::Rsa2048,
        &TestTenant::header(Key::Rsa2048),
        &TestTenant::v2_claims(NOW),
    );
    let normal_time = median_time(policy, keys, &normal, batches, per_batch);
    println!(
        "\n{} corpus inputs; normal verification {normal_time:.2?}; the slowest:",
        inputs.len()
    );
    for &(_, i) in timed.iter().rev().take(3) {
        let (name, token) = &inputs[i];
        let time = median_time(policy, keys, token, batches, per_batch);
        let ratio = time.as_secs_f64() / normal_time.as_secs_f64();
        let outcome = verify(policy, keys, token).map_or_else(|e| e.code(), |()| "valid");
        println!(
            "{name:<60} {:>6} bytes {time:>10.2?} {ratio:>5.2}x {outcome}",
            token.len()
        );
        assert!(ratio < 50.0, "{name}: {ratio:.1}x a normal verification");
    }
}

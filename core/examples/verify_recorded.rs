//! Verifies the real Entra-signed tokens recorded in `fixtures/azure/tokens`
//! offline, each at a moment inside its validity window, and shows how each is
//! rejected one second after `exp` + leeway.
//!
//! `cargo run -p entra-jwt-core --example verify_recorded`
//!
//! Exits 1 if any outcome differs from the expected one.

use entra_jwt_core::{
    Error, KeySet, Policy, PolicyBuilder, UntrustedToken, limits::DEFAULT_LEEWAY_SECS,
};
use std::process::ExitCode;

/// One recorded token, the policy its API would use, and the expected outcome.
struct Case {
    file: &'static str,
    policy: fn() -> PolicyBuilder,
    expected: Option<Error>,
}

fn cases() -> Vec<Case> {
    vec![
        // Most recorded tokens are ID tokens (no scp/roles), so the demo opts
        // out of the scope-or-role rule for them, by name.
        Case {
            file: "T20_msaljs_v2_l3sQ_msft",
            policy: || {
                Policy::single_tenant(
                    "72f988bf-86f1-41af-91ab-2d7cd011db47",
                    "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                )
                .dangerous_allow_no_scope_or_role()
            },
            expected: None,
        },
        Case {
            file: "T17_msalnet_v2_SsZs",
            policy: || {
                Policy::single_tenant(
                    "49f548d0-12b7-4169-a390-bb5304d24462",
                    "4a1aa1d5-c567-49d0-ad0b-cd957a47f842",
                )
                .dangerous_allow_no_scope_or_role()
            },
            expected: None,
        },
        Case {
            file: "T13_msalnet_cachecompat_v2_sxMJ",
            policy: || {
                Policy::single_tenant(
                    "26039cce-489d-4002-8293-5b0c5134eacb",
                    "b945c513-3946-4ecd-b179-6499803a2167",
                )
                .dangerous_allow_no_scope_or_role()
            },
            expected: None,
        },
        Case {
            // An app-only v1 access token from 2024 (client credentials, no roles granted).
            file: "T21_msalnet_v1_3PaK4E_2024",
            policy: || {
                Policy::single_tenant(
                    "f645ad92-e38d-4d1a-b510-d1b09a74a8ca",
                    "88f91eac-c606-4c67-a0e2-a5e8a186854f",
                )
                .dangerous_allow_no_scope_or_role()
            },
            expected: None,
        },
        Case {
            // A 2014 v1 token that names its key by x5t only.
            file: "T01_identitymodel_v1_kriMP_msft",
            policy: || {
                Policy::single_tenant(
                    "72f988bf-86f1-41af-91ab-2d7cd011db47",
                    "118e170f-cf26-400f-a0e9-96910b31187e",
                )
                .audience("https://graph.windows.net")
            },
            expected: None,
        },
        Case {
            // An old v2 issuer form with a trailing slash: configured explicitly.
            file: "T08_adalnet_core_v2_MnC",
            policy: || {
                Policy::explicit_issuers(
                    ["https://login.microsoftonline.com/81690286-5054-4f97-b708-541654cd921a/v2.0/"],
                    "7c7a2f70-caef-45c8-9a6c-091633501de4",
                )
                .dangerous_allow_no_scope_or_role()
            },
            expected: None,
        },
        Case {
            // Microsoft Graph tokens: not for us to verify.
            file: "G01_graph_huN95IvP",
            policy: || Policy::multi_tenant("00000003-0000-0000-c000-000000000000"),
            expected: Some(Error::FirstPartyToken),
        },
        Case {
            file: "G02_graph_SsZsBNhZ",
            policy: || Policy::multi_tenant("00000003-0000-0000-c000-000000000000"),
            expected: Some(Error::FirstPartyToken),
        },
    ]
}

fn outcome(result: &Result<entra_jwt_core::Claims, Error>) -> String {
    match result {
        Ok(c) => format!(
            "valid (ver {}, tid {})",
            c.ver.as_deref().unwrap_or("-"),
            c.tid.as_deref().unwrap_or("-")
        ),
        Err(e) => format!("rejected: {} ({e})", e.code()),
    }
}

fn main() -> ExitCode {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/azure/tokens");
    let mut failures = 0;
    for case in cases() {
        let read = |ext: &str| std::fs::read(format!("{dir}/{}.{ext}", case.file));
        let (Ok(token), Ok(jwks)) = (read("jwt"), read("jwks.json")) else {
            eprintln!("{}: fixture missing", case.file);
            return ExitCode::from(2);
        };
        let token = String::from_utf8_lossy(&token).trim().to_string();
        let keys = match KeySet::from_jwks(&jwks) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("{}: {e}", case.file);
                return ExitCode::from(2);
            }
        };
        let policy = match (case.policy)().build() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{}: {e}", case.file);
                return ExitCode::from(2);
            }
        };
        // Judge the token a minute after it was issued (read without trusting it,
        // only to pick the moment), then one second after exp + leeway.
        let times = UntrustedToken::parse(token.as_bytes(), policy.max_token_bytes())
            .and_then(|t| t.claims_unverified())
            .ok()
            .and_then(|c| Some((c.get("iat")?.as_u64()?, c.get("exp")?.as_u64()?)));
        let (at, late) = match times {
            Some((iat, exp)) => (iat + 60, exp + u64::from(DEFAULT_LEEWAY_SECS) + 1),
            None => (0, 0),
        };
        let now_result = policy.verify(&token, &keys, at);
        let ok = match case.expected {
            None => now_result.is_ok() && policy.verify(&token, &keys, late) == Err(Error::Expired),
            Some(e) => now_result.as_ref().err() == Some(&e),
        };
        let late_text = if case.expected.is_none() {
            format!(
                "; at exp+leeway+1: {}",
                outcome(&policy.verify(&token, &keys, late))
            )
        } else {
            String::new()
        };
        println!(
            "{} {:<34} {}{late_text}",
            if ok { "ok  " } else { "FAIL" },
            case.file,
            outcome(&now_result)
        );
        if !ok {
            failures += 1;
        }
    }
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

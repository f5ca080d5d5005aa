//! What the commands print: a human report by default, one JSON object with `--json`.

use std::fmt::Write as _;

use entra_jwt::core::{Claims, Error, KeySet, Policy, UntrustedToken};
use serde_json::{Map, Value, json};

use crate::time::{relative, rfc3339};

/// The checks in the order the verifier makes them, with the codes that fail each.
const STAGES: &[(&str, &[&str])] = &[
    ("structure", &["too_large", "malformed", "encrypted_token"]),
    (
        "header",
        &["unsupported_alg", "crit_header", "first_party_token"],
    ),
    ("signing key", &["unknown_key"]),
    ("signature", &["bad_signature"]),
    ("claims", &[]),
    (
        "lifetime",
        &["expired", "not_yet_valid", "issued_in_future"],
    ),
    ("audience", &["wrong_audience"]),
    (
        "issuer and tenant",
        &["wrong_issuer", "wrong_tenant", "wrong_version"],
    ),
    ("key issuer", &["key_issuer_mismatch"]),
    ("client app", &["client_not_allowed"]),
    (
        "scopes and roles",
        &["missing_scope_or_role", "insufficient_scope"],
    ),
];

fn stage_of(e: &Error) -> usize {
    let code = e.code();
    if let Some(claim) = e.claim() {
        return match claim {
            "exp" | "nbf" | "iat" => 5,
            "iss" | "tid" | "ver" => 7,
            "aud" => 6,
            _ => 4,
        };
    }
    STAGES
        .iter()
        .position(|(_, codes)| codes.contains(&code))
        .unwrap_or(0)
}

fn time_line(name: &str, claims: &Map<String, Value>, now: u64) -> Option<String> {
    let t = claims.get(name)?.as_i64()?;
    Some(format!("{name}: {} ({})", rfc3339(t), relative(t, now)))
}

fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// `inspect`: header and claims, times as dates, and a clear "not verified".
pub fn inspect(header: &Map<String, Value>, claims: &Map<String, Value>, now: u64) -> String {
    let mut out =
        String::from("NOT VERIFIED: this shows what the token says, not whether it is true.\n\n");
    let pretty = |m: &Map<String, Value>| serde_json::to_string_pretty(m).unwrap_or_default();
    let _ = writeln!(
        out,
        "header:\n{}\n\nclaims:\n{}\n",
        pretty(header),
        pretty(claims)
    );
    let _ = writeln!(out, "summary:");
    for name in ["iat", "nbf", "exp"] {
        if let Some(line) = time_line(name, claims, now) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let lines = [
        ("version", str_claim(claims, "ver")),
        ("tenant", str_claim(claims, "tid")),
        ("issuer", str_claim(claims, "iss")),
        (
            "client app",
            str_claim(claims, "azp").or(str_claim(claims, "appid")),
        ),
        ("scopes", str_claim(claims, "scp")),
    ];
    for (label, value) in lines {
        if let Some(v) = value {
            let _ = writeln!(out, "  {label}: {v}");
        }
    }
    if let Some(aud) = claims.get("aud") {
        let _ = writeln!(out, "  audience: {aud}");
    }
    if let Some(Value::Array(roles)) = claims.get("roles") {
        let roles: Vec<&str> = roles.iter().filter_map(Value::as_str).collect();
        let _ = writeln!(out, "  roles: {}", roles.join(" "));
    }
    out
}

/// `verify`: every check with a tick or a cross, or the JSON object.
pub fn verify(
    result: &Result<Claims, Error>,
    token: Option<&UntrustedToken<'_>>,
    keys: Option<&KeySet>,
    policy: &Policy,
    now: u64,
    as_json: bool,
) -> String {
    if as_json {
        let v = match result {
            Ok(c) => json!({ "valid": true, "claims": Value::Object(c.raw().clone()) }),
            Err(e) => error_json(e),
        };
        return format!("{v}\n");
    }
    let failed = result.as_ref().err().map(stage_of);
    let mut out = String::new();
    let _ = match result {
        Ok(_) => writeln!(out, "token VALID (judged at {})", rfc3339(now as i64)),
        Err(e) => writeln!(
            out,
            "token REJECTED: {} ({e}) (judged at {})",
            e.code(),
            rfc3339(now as i64)
        ),
    };
    let claims = token.and_then(|t| t.claims_unverified().ok());
    for (i, (name, _)) in STAGES.iter().enumerate() {
        let (mark, detail) = match failed {
            Some(f) if i == f => (
                "✗",
                result
                    .as_ref()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            ),
            Some(f) if i > f => ("-", "not checked".to_string()),
            _ => ("✓", detail(i, token, keys, claims.as_ref(), policy, now)),
        };
        let _ = writeln!(out, "  {mark} {name:<18} {detail}");
    }
    out
}

fn detail(
    stage: usize,
    token: Option<&UntrustedToken<'_>>,
    keys: Option<&KeySet>,
    claims: Option<&Map<String, Value>>,
    policy: &Policy,
    now: u64,
) -> String {
    let header = token.map(UntrustedToken::header);
    match stage {
        0 => "compact JWS, strict base64url, no duplicate members".into(),
        1 => format!("alg {}", header.map_or("?", |h| h.alg())),
        2 => {
            let id = match header.map(|h| (h.kid(), h.x5t())) {
                Some((Some(kid), _)) => format!("kid {kid}"),
                Some((None, Some(x5t))) => format!("x5t {x5t} (no kid)"),
                _ => "no kid".to_string(),
            };
            let key = keys.zip(token).and_then(|(k, t)| t.find_key(k).ok());
            match key {
                Some(k) => format!(
                    "{id} ({}-bit, from {})",
                    k.key().bits(),
                    k.material().as_str()
                ),
                None => id,
            }
        }
        3 => "RS256 (RSASSA-PKCS1-v1_5, SHA-256)".into(),
        4 => "well-typed, no duplicates".into(),
        5 => {
            let exp = claims.and_then(|c| c.get("exp")).and_then(Value::as_i64);
            exp.map_or_else(String::new, |e| {
                format!(
                    "expires {} ({}), leeway {} s",
                    rfc3339(e),
                    relative(e, now),
                    policy.leeway()
                )
            })
        }
        6 => format!("accepted: {}", policy.audiences().join(", ")),
        7 => {
            let c = claims;
            let get = |n| c.and_then(|c| str_claim(c, n)).unwrap_or("-");
            format!("{} (tid {}, ver {})", get("iss"), get("tid"), get("ver"))
        }
        8 => {
            let key = keys.zip(token).and_then(|(k, t)| t.find_key(k).ok());
            match key.and_then(|k| k.issuer()) {
                Some(issuer) => format!("key issuer {issuer}"),
                None => "key carries no issuer".into(),
            }
        }
        9 => {
            let client = claims.and_then(|c| str_claim(c, "azp").or(str_claim(c, "appid")));
            format!("client {}", client.unwrap_or("-"))
        }
        10 => {
            let scp = claims.and_then(|c| str_claim(c, "scp")).unwrap_or("");
            let roles = claims
                .and_then(|c| c.get("roles"))
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            if scp.is_empty() && roles.is_empty() {
                "none (accepted because --allow-no-scope was given)".into()
            } else {
                format!("scp [{scp}] roles [{roles}]")
            }
        }
        _ => String::new(),
    }
}

fn error_json(e: &Error) -> Value {
    json!({ "valid": false, "error": { "code": e.code(), "message": e.to_string(), "claim": e.claim() } })
}

/// Keys could not be loaded: exit status 3.
pub fn verify_failed_keys(e: &Error, url: &str, as_json: bool) -> u8 {
    if as_json {
        println!("{}", error_json(e));
    } else if url.is_empty() {
        println!("keys unavailable: {e}");
    } else {
        println!("keys unavailable: could not load keys from {url}");
    }
    crate::EXIT_KEYS_UNAVAILABLE
}

/// `keys`: the set as the verifier sees it, and every skipped key with its reason.
pub fn keys(set: &KeySet, origin: &str, as_json: bool) -> String {
    if as_json {
        let keys: Vec<Value> = set
            .iter()
            .map(|k| {
                json!({ "kid": k.kid(), "x5t": k.x5t(), "bits": k.key().bits(),
                        "source": k.material().as_str(), "issuer": k.issuer() })
            })
            .collect();
        let skipped: Vec<Value> = set
            .skipped()
            .iter()
            .map(|s| json!({ "index": s.index, "kid": s.kid, "reason": s.reason.as_str() }))
            .collect();
        return format!("{}\n", json!({ "keys": keys, "skipped": skipped }));
    }
    let mut out = format!(
        "{origin}: {} usable, {} skipped\n",
        set.len(),
        set.skipped().len()
    );
    for k in set.iter() {
        let _ = writeln!(
            out,
            "  kid {:<30} x5t {:<30} {:>4} bits  {:<5} issuer {}",
            k.kid().unwrap_or("-"),
            k.x5t().unwrap_or("-"),
            k.key().bits(),
            k.material().as_str(),
            k.issuer().unwrap_or("-")
        );
    }
    for s in set.skipped() {
        let _ = writeln!(
            out,
            "  skipped #{} kid {}: {}",
            s.index,
            s.kid.as_deref().unwrap_or("-"),
            s.reason.as_str()
        );
    }
    out
}

//! `entra-jwt token`: the client-credentials request the original Django
//! article made with curl, so a user can get a token for their own API.

use std::io::Read;
use std::time::Duration;

use clap::Args;
use entra_jwt::FetchConfig;
use entra_jwt::core::PUBLIC_AUTHORITY;
use serde_json::Value;

use crate::{EXIT_KEYS_UNAVAILABLE, EXIT_USAGE, Fail};

/// Largest token response read (Entra's are a few KiB).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

#[derive(Args)]
pub struct TokenArgs {
    /// Tenant (GUID or domain).
    #[arg(long)]
    tenant: String,
    /// The client application's id.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Read the client secret from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "client_secret_stdin")]
    client_secret_env: Option<String>,
    /// Read the client secret from standard input.
    #[arg(long)]
    client_secret_stdin: bool,
    /// v2 endpoint: the scope, e.g. `api://<app id>/.default`.
    #[arg(long, conflicts_with = "resource")]
    scope: Option<String>,
    /// v1 endpoint: the resource, e.g. `api://<app id>`.
    #[arg(long)]
    resource: Option<String>,
    /// Identity provider.
    #[arg(long, value_name = "URL", default_value = PUBLIC_AUTHORITY)]
    authority: String,
    /// Print the whole token response as JSON.
    #[arg(long)]
    json: bool,
    /// Tests only: allow plain http:// to loopback addresses.
    #[arg(long, hide = true)]
    dangerous_allow_http_loopback: bool,
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn secret(args: &TokenArgs) -> Result<String, Fail> {
    let secret = if let Some(var) = &args.client_secret_env {
        std::env::var(var)
            .map_err(|_| Fail::usage(format!("environment variable {var} is not set")))?
    } else if args.client_secret_stdin {
        let mut s = String::new();
        std::io::stdin()
            .take(8192)
            .read_to_string(&mut s)
            .map_err(|_| Fail::usage("cannot read the secret from standard input"))?;
        s
    } else {
        return Err(Fail::usage(
            "give --client-secret-env VAR or --client-secret-stdin (never the secret itself)",
        ));
    };
    let secret = secret.trim().to_string();
    if secret.is_empty() {
        return Err(Fail::usage("the client secret is empty"));
    }
    Ok(secret)
}

/// `expires_in` arrives as a number (v2) or a string (v1).
fn expires_in(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn run(args: &TokenArgs) -> Result<u8, Fail> {
    let secret = secret(args)?;
    let authority = args.authority.trim_end_matches('/');
    let (url, target) = match (&args.scope, &args.resource) {
        (Some(scope), None) => (
            format!("{authority}/{}/oauth2/v2.0/token", args.tenant),
            ("scope", scope.as_str()),
        ),
        (None, Some(resource)) => (
            format!("{authority}/{}/oauth2/token", args.tenant),
            ("resource", resource.as_str()),
        ),
        _ => return Err(Fail::usage("give --scope (v2) or --resource (v1)")),
    };
    let config = if args.dangerous_allow_http_loopback {
        FetchConfig::default().dangerous_allow_http_loopback()
    } else {
        FetchConfig::default()
    };
    config
        .check_url(&url)
        .map_err(|e| Fail::usage(e.to_string()))?;
    let body = form_encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", &args.client_id),
        ("client_secret", &secret),
        target,
    ]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body.as_bytes())
        .map_err(|e| {
            Fail(
                EXIT_KEYS_UNAVAILABLE,
                format!("token request to {url} failed: {e}"),
            )
        })?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(|e| {
            Fail(
                EXIT_KEYS_UNAVAILABLE,
                format!("reading the response from {url} failed: {e}"),
            )
        })?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|_| {
        Fail(
            EXIT_KEYS_UNAVAILABLE,
            format!("{url} answered {status} with a body that is not JSON"),
        )
    })?;
    if !(200..300).contains(&status) {
        let code = json
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        // error_description is Microsoft's text (AADSTS code and trace ids), never the secret.
        let description = json
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let first_line = description.lines().next().unwrap_or("");
        return Err(Fail(
            1,
            format!("{url} refused ({status} {code}): {first_line}"),
        ));
    }
    let Some(token) = json.get("access_token").and_then(Value::as_str) else {
        return Err(Fail(
            EXIT_USAGE,
            format!("{url} answered without an access_token"),
        ));
    };
    if args.json {
        let mut out = json.clone();
        if let (Some(obj), Some(secs)) = (
            out.as_object_mut(),
            json.get("expires_in").and_then(expires_in),
        ) {
            // Normalised: always a number, whatever the endpoint sent.
            obj.insert("expires_in".into(), Value::from(secs));
        }
        println!("{out}");
    } else {
        println!("{token}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_and_expires_in() {
        assert_eq!(form_encode(&[("a b", "x&y=z/é")]), "a+b=x%26y%3Dz%2F%C3%A9");
        assert_eq!(expires_in(&Value::from(3599)), Some(3599));
        assert_eq!(expires_in(&Value::from("3599")), Some(3599));
        assert_eq!(expires_in(&Value::from("soon")), None);
    }
}

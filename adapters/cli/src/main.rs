//! `entra-jwt`: inspect and verify Microsoft Entra ID access tokens, offline
//! (recorded JWKS) or online (the tenant's metadata), and explain each check.
//!
//! Exit status: 0 valid, 1 token rejected, 2 usage or configuration error,
//! 3 keys unavailable (online fetch failed).
#![forbid(unsafe_code)]

mod report;
mod time;
mod token;

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use entra_jwt::core::{
    Error, KeySet, KeySource, OpenIdConfiguration, PUBLIC_AUTHORITY, Policy, PolicyBuilder,
    RefreshConfig, TokenVersion, UntrustedToken, discovery_url, limits::DEFAULT_MAX_TOKEN_BYTES,
    parse_authorization,
};
use entra_jwt::{Clock, Fetch, FetchConfig, ManualClock, SystemClock, Verifier};
use entra_jwt_ureq::UreqFetcher;

/// Exit status for a usage or configuration error.
const EXIT_USAGE: u8 = 2;
/// Exit status when keys could not be fetched.
const EXIT_KEYS_UNAVAILABLE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "entra-jwt",
    version,
    about = "Inspect and verify Microsoft Entra ID access tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a token's header and claims WITHOUT verifying anything.
    Inspect {
        /// The token, `@FILE` to read it from a file, or `-` for standard input.
        token: String,
        /// Judge times against this moment (RFC 3339 or seconds since the epoch).
        #[arg(long)]
        now: Option<String>,
    },
    /// Verify a token and explain each check.
    Verify(Box<VerifyArgs>),
    /// Get an app-only token with the client-credentials grant.
    Token(token::TokenArgs),
    /// List a key set as the verifier sees it, with every skipped key and why.
    Keys(KeysArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// The token, `@FILE` to read it from a file, or `-` for standard input.
    token: String,
    /// Offline: verify against this JWKS document.
    #[arg(long, value_name = "FILE")]
    jwks: Option<String>,
    /// Offline: a discovery document (its issuer, or issuer template for --multi-tenant).
    #[arg(long, value_name = "FILE")]
    openid_config: Option<String>,
    /// Single-tenant API of this tenant; online, also where keys come from.
    #[arg(long, value_name = "GUID")]
    tenant: Option<String>,
    /// Identity provider (online mode).
    #[arg(long, value_name = "URL", default_value = PUBLIC_AUTHORITY)]
    authority: String,
    /// Accepted audience (repeatable).
    #[arg(long = "audience", value_name = "AUD")]
    audiences: Vec<String>,
    /// The API's application id: accepts `<id>` and `api://<id>`.
    #[arg(long, value_name = "GUID")]
    app_id: Option<String>,
    /// Multi-tenant API: any tenant, or those given with --allow-tenant.
    #[arg(long)]
    multi_tenant: bool,
    /// With --multi-tenant: accept this tenant (repeatable).
    #[arg(long = "allow-tenant", value_name = "GUID")]
    allow_tenants: Vec<String>,
    /// Accept exactly this issuer (repeatable): B2C, national clouds, old forms.
    #[arg(long = "issuer", value_name = "ISS")]
    issuers: Vec<String>,
    /// Clock-skew leeway in seconds (0-600).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    leeway: u32,
    /// Require this delegated scope (repeatable; all are required).
    #[arg(long = "require-scope", value_name = "S")]
    require_scopes: Vec<String>,
    /// Require this application role (repeatable; all are required).
    #[arg(long = "require-role", value_name = "R")]
    require_roles: Vec<String>,
    /// Accept tokens with neither scp nor roles (ID tokens, app tokens without roles). Dangerous.
    #[arg(long)]
    allow_no_scope: bool,
    /// Judge the token at this moment (RFC 3339 or seconds since the epoch).
    #[arg(long)]
    now: Option<String>,
    /// Print exactly one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// Tests only: allow plain http:// to loopback addresses.
    #[arg(long, hide = true)]
    dangerous_allow_http_loopback: bool,
}

#[derive(Args)]
struct KeysArgs {
    /// A JWKS document.
    #[arg(long, value_name = "FILE", conflicts_with = "tenant")]
    jwks: Option<String>,
    /// Fetch the tenant's keys online (GUID, `common` or `organizations`).
    #[arg(long, value_name = "TENANT")]
    tenant: Option<String>,
    /// Identity provider (online mode).
    #[arg(long, value_name = "URL", default_value = PUBLIC_AUTHORITY)]
    authority: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Tests only: allow plain http:// to loopback addresses.
    #[arg(long, hide = true)]
    dangerous_allow_http_loopback: bool,
}

/// A failure that ends the command with a one-line message.
struct Fail(u8, String);

impl Fail {
    fn usage(msg: impl Into<String>) -> Self {
        Self(EXIT_USAGE, msg.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { token, now } => inspect(&token, now.as_deref()),
        Command::Verify(args) => verify(&args),
        Command::Token(args) => token::run(&args),
        Command::Keys(args) => keys(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Fail(code, msg)) => {
            eprintln!("entra-jwt: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Reads the token argument (or stdin for `-`): text only, capped, trimmed,
/// with an optional `Bearer ` prefix removed.
fn read_token(arg: &str, cap: usize) -> Result<String, Fail> {
    let raw = if let Some(path) = arg.strip_prefix('@') {
        // `@FILE`: the token is in a file (like curl's `-d @file`).
        let file = std::fs::File::open(path)
            .map_err(|e| Fail::usage(format!("cannot read token file {path}: {}", e.kind())))?;
        let mut buf = Vec::new();
        file.take(cap as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Fail::usage(format!("cannot read token file {path}: {}", e.kind())))?;
        buf
    } else if arg == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(cap as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Fail::usage(format!("cannot read standard input: {}", e.kind())))?;
        buf
    } else {
        arg.as_bytes().to_vec()
    };
    if raw.len() > cap {
        return Err(Fail::usage(format!("token is larger than {cap} bytes")));
    }
    let text =
        String::from_utf8(raw).map_err(|_| Fail::usage("token is not text (binary input?)"))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Fail::usage("no token given"));
    }
    if text.len() > 7
        && text
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("bearer "))
    {
        return parse_authorization(Some(text.as_bytes()), cap)
            .map(str::to_string)
            .map_err(|e| Fail::usage(format!("not a bearer token: {}", e.code())));
    }
    Ok(text.to_string())
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, Fail> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Fail::usage(format!("cannot read {what} {path}: {}", e.kind())))?;
    if meta.len() > entra_jwt::fetch::DEFAULT_MAX_BYTES as u64 {
        return Err(Fail::usage(format!("{what} {path} is larger than 1 MiB")));
    }
    std::fs::read(path).map_err(|e| Fail::usage(format!("cannot read {what} {path}: {}", e.kind())))
}

fn parse_now(now: Option<&str>) -> Result<Option<u64>, Fail> {
    now.map(time::parse_now).transpose().map_err(Fail::usage)
}

fn inspect(token: &str, now: Option<&str>) -> Result<u8, Fail> {
    let now = parse_now(now)?.unwrap_or_else(|| SystemClock.now());
    let token = read_token(token, DEFAULT_MAX_TOKEN_BYTES)?;
    let parsed = UntrustedToken::parse(token.as_bytes(), DEFAULT_MAX_TOKEN_BYTES);
    let parsed = parsed.map_err(|e| Fail(1, format!("cannot decode token: {} ({e})", e.code())))?;
    let claims = parsed
        .claims_unverified()
        .map_err(|e| Fail(1, format!("cannot decode claims: {e}")))?;
    print!(
        "{}",
        report::inspect(parsed.header().members(), &claims, now)
    );
    Ok(0)
}

fn build_policy(a: &VerifyArgs, discovery: Option<&OpenIdConfiguration>) -> Result<Policy, Fail> {
    if a.app_id.is_none() && a.audiences.is_empty() {
        return Err(Fail::usage("give --app-id or --audience"));
    }
    let app_id = a.app_id.clone().unwrap_or_default();
    let mut b: PolicyBuilder = if a.multi_tenant {
        let mut b = Policy::multi_tenant(&app_id);
        if let Some(doc) = discovery.filter(|d| d.is_issuer_template()) {
            b = b.issuer_templates([doc.issuer()]);
        }
        a.allow_tenants.iter().fold(b, |b, t| b.allow_tenant(t))
    } else if !a.issuers.is_empty() {
        Policy::explicit_issuers(a.issuers.clone(), &app_id)
    } else if let Some(t) = &a.tenant {
        Policy::single_tenant(t, &app_id)
    } else if let Some(doc) = discovery.filter(|d| !d.is_issuer_template()) {
        Policy::explicit_issuers([doc.issuer()], &app_id)
    } else {
        return Err(Fail::usage("give --tenant, --multi-tenant or --issuer"));
    };
    if a.app_id.is_none() {
        b = b.audiences_exactly(a.audiences.clone());
    } else {
        b = a.audiences.iter().fold(b, |b, aud| b.audience(aud));
    }
    b = b.leeway(a.leeway);
    if !a.require_scopes.is_empty() {
        b = b.require_scopes(entra_jwt::core::Match::All, a.require_scopes.clone());
    }
    if !a.require_roles.is_empty() {
        b = b.require_roles(entra_jwt::core::Match::All, a.require_roles.clone());
    }
    if a.allow_no_scope {
        b = b.dangerous_allow_no_scope_or_role();
    }
    b.build().map_err(|e| Fail::usage(e.to_string()))
}

fn fetch_config(allow_http: bool) -> FetchConfig {
    if allow_http {
        FetchConfig::default().dangerous_allow_http_loopback()
    } else {
        FetchConfig::default()
    }
}

fn verify(a: &VerifyArgs) -> Result<u8, Fail> {
    let fixed_now = parse_now(a.now.as_deref())?;
    let now = fixed_now.unwrap_or_else(|| SystemClock.now());
    let token = read_token(&a.token, DEFAULT_MAX_TOKEN_BYTES)?;
    let discovery = match &a.openid_config {
        Some(path) => Some(
            OpenIdConfiguration::from_json(&read_file(path, "discovery document")?)
                .map_err(|e| Fail::usage(format!("{path}: {e}")))?,
        ),
        None => None,
    };
    let policy = build_policy(a, discovery.as_ref())?;
    let (result, keys) = if let Some(path) = &a.jwks {
        let keys = KeySet::from_jwks(&read_file(path, "JWKS")?)
            .map_err(|e| Fail::usage(format!("{path}: {e}")))?;
        (policy.verify(&token, &keys, now), Some(Arc::new(keys)))
    } else {
        let tenant = match (&a.tenant, a.multi_tenant) {
            (Some(t), _) => t.clone(),
            (None, true) => "common".to_string(),
            (None, false) => {
                return Err(Fail::usage(
                    "give --jwks FILE (offline) or --tenant (online)",
                ));
            }
        };
        let url = discovery_url(&a.authority, &tenant, TokenVersion::V2);
        let fetcher = UreqFetcher::new(fetch_config(a.dangerous_allow_http_loopback));
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
        let verifier = Verifier::builder(
            policy.clone(),
            KeySource::from_discovery_url(&url, RefreshConfig::default()),
            fetcher,
        )
        .clock(clock)
        .build();
        match verifier.load() {
            Ok(_) => {}
            Err(e) => return Ok(report::verify_failed_keys(&e, &url, a.json)),
        }
        (verifier.verify(&token), verifier.keys().ok())
    };
    if let Err(Error::KeysUnavailable) = result {
        return Ok(report::verify_failed_keys(
            &Error::KeysUnavailable,
            "",
            a.json,
        ));
    }
    let untrusted = UntrustedToken::parse(token.as_bytes(), policy.max_token_bytes()).ok();
    print!(
        "{}",
        report::verify(
            &result,
            untrusted.as_ref(),
            keys.as_deref(),
            &policy,
            now,
            a.json
        )
    );
    Ok(if result.is_ok() { 0 } else { 1 })
}

fn keys(a: &KeysArgs) -> Result<u8, Fail> {
    let (doc, origin) = match (&a.jwks, &a.tenant) {
        (Some(path), _) => (read_file(path, "JWKS")?, path.clone()),
        (None, Some(tenant)) => {
            let fetcher = UreqFetcher::new(fetch_config(a.dangerous_allow_http_loopback));
            let url = discovery_url(&a.authority, tenant, TokenVersion::V2);
            let unavailable = |e: entra_jwt::FetchError| Fail(EXIT_KEYS_UNAVAILABLE, e.to_string());
            let discovery =
                OpenIdConfiguration::from_json(&fetcher.get(&url).map_err(unavailable)?)
                    .map_err(|e| Fail(EXIT_KEYS_UNAVAILABLE, format!("{url}: {e}")))?;
            let jwks_uri = discovery.jwks_uri().to_string();
            (fetcher.get(&jwks_uri).map_err(unavailable)?, jwks_uri)
        }
        (None, None) => return Err(Fail::usage("give --jwks FILE or --tenant TENANT")),
    };
    // Shown even when no key is usable, so the skipped keys' reasons are visible.
    let set = KeySet::from_jwks_for_diagnostics(&doc)
        .map_err(|e| Fail::usage(format!("{origin}: {e}")))?;
    print!("{}", report::keys(&set, &origin, a.json));
    Ok(if set.is_empty() { 1 } else { 0 })
}

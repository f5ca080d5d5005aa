//! The validation policy: what a token must satisfy, and the verify entry point (SPEC §6).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::b64;
use crate::bearer::{self, Challenge};
use crate::claims::{Claims, SharedClaims};
use crate::error::Error;
use crate::jwks::{Jwk, KeySet};
use crate::key::{SignatureBackend, VartimeBackend};
use crate::limits::{
    DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_BYTES, MAX_LEEWAY_SECS, MAX_TOKEN_BYTES_CEILING,
};
use crate::token::{HeaderFields, Segments};

/// The placeholder Entra puts in multi-tenant issuer templates.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Entra's v2 issuer template (`common`/`organizations` v2 discovery documents).
pub const V2_ISSUER_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

/// Entra's v1 issuer template (the v1 discovery document's issuer).
pub const V1_ISSUER_TEMPLATE: &str = "https://sts.windows.net/{tenantid}/";

/// An access token version (`ver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    /// `ver` = `1.0`, issued by `https://sts.windows.net/{tid}/`.
    V1,
    /// `ver` = `2.0`, issued by `https://login.microsoftonline.com/{tid}/v2.0`.
    V2,
}

impl TokenVersion {
    /// The `ver` claim value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1.0",
            Self::V2 => "2.0",
        }
    }
    fn template(self) -> &'static str {
        match self {
            Self::V1 => V1_ISSUER_TEMPLATE,
            Self::V2 => V2_ISSUER_TEMPLATE,
        }
    }
}

/// How required scopes or roles combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// At least one of them.
    Any,
    /// Every one of them.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    how: Match,
    values: Vec<String>,
}

impl Requirement {
    fn met_by<'a, I: Iterator<Item = &'a str> + Clone>(&self, have: I) -> bool {
        let has = |v: &String| have.clone().any(|h| h == v);
        match self.how {
            Match::Any => self.values.iter().any(has),
            Match::All => self.values.iter().all(has),
        }
    }
}

/// One accepted issuer form, with the token version it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IssuerTemplate {
    template: String,
    version: TokenVersion,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum IssuerMode {
    SingleTenant {
        tenant: String,
    },
    MultiTenant {
        templates: Vec<IssuerTemplate>,
        allowed_tenants: Vec<String>,
    },
    Explicit {
        issuers: Vec<String>,
    },
}

/// Builds a [`Policy`]. Required inputs come in the constructor; every option
/// that loosens a check is named `dangerous_*`.
#[derive(Debug, Clone)]
#[must_use = "call .build() to get a Policy"]
pub struct PolicyBuilder {
    mode: IssuerMode,
    app_id: String,
    audiences: Vec<String>,
    leeway: u32,
    versions: Vec<TokenVersion>,
    scopes: Option<Requirement>,
    roles: Option<Requirement>,
    client_apps: Vec<String>,
    require_scope_or_role: bool,
    key_issuer_check: bool,
    max_token_bytes: usize,
    /// A setter used in a mode it does not apply to; build() refuses it.
    misuse: Option<&'static str>,
    /// `audiences_exactly` replaced the application id audiences.
    app_id_replaced: bool,
    /// `allow_client_apps` was called (an empty list is then an error, not "any").
    client_apps_set: bool,
}

/// What a token must satisfy to be accepted: issuer mode, audiences, times,
/// versions, scopes and roles. Immutable once built; share it freely.
///
/// ```
/// use entra_jwt_core::Policy;
/// let policy = Policy::single_tenant(
///     "9188040d-6c67-4c5b-b112-36a304b66dad", // your tenant id
///     "6e74172b-be56-4843-9ff4-e66a39bb12e3", // your API's application (client) id
/// )
/// .build()?;
/// # Ok::<(), entra_jwt_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    mode: IssuerMode,
    audiences: Vec<String>,
    leeway: u32,
    versions: Vec<TokenVersion>,
    scopes: Option<Requirement>,
    roles: Option<Requirement>,
    client_apps: Vec<String>,
    require_scope_or_role: bool,
    key_issuer_check: bool,
    max_token_bytes: usize,
}

impl Policy {
    /// Tokens from one tenant for one API: `iss` must be exactly the tenant's
    /// v1 (`https://sts.windows.net/T/`) or v2 (`https://login.microsoftonline.com/T/v2.0`)
    /// issuer, and `aud` the application id or `api://<application id>`.
    pub fn single_tenant(tenant_id: &str, app_id: &str) -> PolicyBuilder {
        PolicyBuilder::new(
            IssuerMode::SingleTenant {
                tenant: tenant_id.to_ascii_lowercase(),
            },
            app_id,
        )
    }

    /// Tokens from any tenant (or, with [`PolicyBuilder::allow_tenant`], from a
    /// list of tenants) for a multi-tenant API: `iss` must equal Entra's issuer
    /// template with `{tenantid}` replaced by the token's `tid`.
    pub fn multi_tenant(app_id: &str) -> PolicyBuilder {
        let templates = [TokenVersion::V1, TokenVersion::V2]
            .into_iter()
            .map(|version| IssuerTemplate {
                template: version.template().to_string(),
                version,
            })
            .collect();
        PolicyBuilder::new(
            IssuerMode::MultiTenant {
                templates,
                allowed_tenants: Vec::new(),
            },
            app_id,
        )
    }

    /// Tokens whose `iss` is exactly one of `issuers`: Azure AD B2C
    /// (`https://<host>/<tid>/v2.0/`), national clouds, or old issuer forms.
    /// The version rule does not apply; `tid` is optional and, when present,
    /// must be a path segment of `iss`.
    pub fn explicit_issuers<I, S>(issuers: I, app_id: &str) -> PolicyBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let issuers = issuers.into_iter().map(Into::into).collect();
        PolicyBuilder::new(IssuerMode::Explicit { issuers }, app_id)
    }

    /// Verifies a token with the default pure-Rust signature backend
    /// ([`VartimeBackend`]).
    ///
    /// `now` is the current time in seconds since the epoch, supplied by the
    /// caller (the core has no clock).
    pub fn verify(&self, token: &str, keys: &KeySet, now: u64) -> Result<Claims, Error> {
        self.verify_with(&VartimeBackend, token, keys, now)
    }

    /// Verifies a token with the given signature backend, returning the owned
    /// [`Claims`] ([`verify_shared_with`](Self::verify_shared_with) plus a copy).
    pub fn verify_with(
        &self,
        backend: &dyn SignatureBackend,
        token: &str,
        keys: &KeySet,
        now: u64,
    ) -> Result<Claims, Error> {
        self.verify_shared_with(backend, token, keys, now)?
            .to_claims()
    }

    /// Verifies a token with the given signature backend: the allocation-lean
    /// path (two heap allocations for an ordinary token: the payload and the
    /// shared claims).
    ///
    /// Order: structure and header (SPEC §2-3), key by `kid` (§4), signature (§5),
    /// then claims (§6) parsed from the signed bytes.
    pub fn verify_shared_with(
        &self,
        backend: &dyn SignatureBackend,
        token: &str,
        keys: &KeySet,
        now: u64,
    ) -> Result<SharedClaims, Error> {
        self.verify_keyed(backend, token, keys, now)
            .map(|(claims, _)| claims)
    }

    /// Like [`verify_shared_with`](Self::verify_shared_with), also returning
    /// the position in `keys` of the key that verified the signature
    /// ([`KeySet::get`]): for caches that must notice when that key leaves the set.
    pub fn verify_keyed(
        &self,
        backend: &dyn SignatureBackend,
        token: &str,
        keys: &KeySet,
        now: u64,
    ) -> Result<(SharedClaims, usize), Error> {
        let seg = Segments::split(token.as_bytes(), self.max_token_bytes)?;
        // Headers and signatures of ordinary size decode on the stack.
        let mut header_stack = [0u8; 1024];
        let mut header_heap = Vec::new();
        let header_json = b64::decode_url_into(seg.header, &mut header_stack, &mut header_heap)
            .ok_or(Error::Malformed)?;
        let payload = b64::decode_url(seg.payload).ok_or(Error::Malformed)?;
        let mut sig_stack = [0u8; 516];
        let mut sig_heap = Vec::new();
        let signature = b64::decode_url_into(seg.signature, &mut sig_stack, &mut sig_heap)
            .ok_or(Error::Malformed)?;
        let header = HeaderFields::scan(header_json)?;
        let (index, key) = header.find_key(keys)?;
        if signature.len() != key.key().signature_len()
            || !backend.verify_rs256(key.key(), seg.signing_input, signature)
        {
            return Err(Error::BadSignature);
        }
        let claims = SharedClaims::parse(payload)?;
        self.check(&claims, key, now)?;
        Ok((claims, index))
    }

    /// The HTTP answer for a verification error under this policy: like
    /// [`bearer::challenge`], with this policy's required scopes and roles in
    /// the `scope` attribute of an `insufficient_scope` challenge.
    #[must_use]
    pub fn challenge(&self, error: &Error) -> Challenge {
        let mut required: Vec<&str> = Vec::new();
        for req in [&self.scopes, &self.roles].into_iter().flatten() {
            required.extend(req.values.iter().map(String::as_str));
        }
        let scope = required.join(" ");
        bearer::challenge(error, (!scope.is_empty()).then_some(scope.as_str()))
    }

    /// The configured leeway in seconds.
    #[must_use]
    pub fn leeway(&self) -> u32 {
        self.leeway
    }

    /// The accepted audiences.
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The token size cap in bytes.
    #[must_use]
    pub fn max_token_bytes(&self) -> usize {
        self.max_token_bytes
    }

    /// Checks verified claims against this policy at `now` (SPEC §6): what
    /// verification does after the signature, and what a cache of verified
    /// tokens re-runs on every hit. `key` is the key that verified the token
    /// (for the key-issuer check). Allocates nothing.
    pub fn check(&self, c: &SharedClaims, key: &Jwk, now: u64) -> Result<(), Error> {
        self.check_times(c, now)?;
        if !c.aud().any(|a| self.audiences.iter().any(|want| want == a)) {
            return Err(Error::WrongAudience);
        }
        self.check_issuer(c)?;
        if self.key_issuer_check {
            check_key_issuer(key, c)?;
        }
        if !self.client_apps.is_empty() {
            let client = c.client_app().ok_or(Error::ClientNotAllowed)?;
            if !self.client_apps.iter().any(|a| a == client) {
                return Err(Error::ClientNotAllowed);
            }
        }
        if self.require_scope_or_role && c.scp().next().is_none() && c.roles().next().is_none() {
            return Err(Error::MissingScopeOrRole);
        }
        // Delegated and application tokens are different callers: when both
        // scopes and roles are required, meeting either requirement is enough
        // (MIW's RequiredScopeOrAppPermission).
        let scope_ok = self.scopes.as_ref().map(|r| r.met_by(c.scp()));
        let role_ok = self.roles.as_ref().map(|r| r.met_by(c.roles()));
        match (scope_ok, role_ok) {
            (Some(false), Some(false) | None) | (None, Some(false)) => {
                Err(Error::InsufficientScope)
            }
            _ => Ok(()),
        }
    }

    fn check_times(&self, c: &SharedClaims, now: u64) -> Result<(), Error> {
        let now = i128::from(now);
        let leeway = i128::from(self.leeway);
        if let Some(nbf) = c.nbf()
            && nbf > c.exp()
        {
            return Err(Error::bad_claim("nbf"));
        }
        if i128::from(c.exp()) + leeway <= now {
            return Err(Error::Expired);
        }
        if let Some(nbf) = c.nbf()
            && i128::from(nbf) - leeway > now
        {
            return Err(Error::NotYetValid);
        }
        if let Some(iat) = c.iat()
            && i128::from(iat) > now + leeway
        {
            return Err(Error::IssuedInFuture);
        }
        Ok(())
    }

    fn check_issuer(&self, c: &SharedClaims) -> Result<(), Error> {
        let iss = c.iss();
        match &self.mode {
            IssuerMode::SingleTenant { tenant } => {
                let version = [TokenVersion::V1, TokenVersion::V2]
                    .into_iter()
                    .find(|v| template_matches(v.template(), tenant, iss))
                    .ok_or(Error::WrongIssuer)?;
                self.check_version(c, version)?;
                let tid = guid_tid(c)?;
                if tid != tenant {
                    return Err(Error::WrongTenant);
                }
                Ok(())
            }
            IssuerMode::MultiTenant {
                templates,
                allowed_tenants,
            } => {
                let tid = guid_tid(c)?;
                let version = templates
                    .iter()
                    .find(|t| template_matches(&t.template, tid, iss))
                    .map(|t| t.version)
                    .ok_or(Error::WrongIssuer)?;
                self.check_version(c, version)?;
                if !allowed_tenants.is_empty() && !allowed_tenants.iter().any(|t| t == tid) {
                    return Err(Error::WrongTenant);
                }
                Ok(())
            }
            IssuerMode::Explicit { issuers } => {
                if !issuers.iter().any(|i| i == iss) {
                    return Err(Error::WrongIssuer);
                }
                if c.tid().is_some() {
                    let tid = guid_tid(c)?;
                    if !iss.split('/').any(|segment| segment == tid) {
                        return Err(Error::WrongTenant);
                    }
                }
                Ok(())
            }
        }
    }

    fn check_version(&self, c: &SharedClaims, issuer_version: TokenVersion) -> Result<(), Error> {
        let ver = c.ver().ok_or(Error::bad_claim("ver"))?;
        if ver != issuer_version.as_str() || !self.versions.contains(&issuer_version) {
            return Err(Error::WrongVersion);
        }
        Ok(())
    }
}

/// Whether `template` with its first `{tenantid}` replaced by `tid` equals
/// `s` (what `template.replacen("{tenantid}", tid, 1) == s` says, without
/// building the string).
fn template_matches(template: &str, tid: &str, s: &str) -> bool {
    match template.split_once(TENANT_PLACEHOLDER) {
        Some((prefix, suffix)) => concat_eq(&[prefix, tid, suffix], &[s]),
        None => template == s,
    }
}

/// Whether two sequences of pieces spell the same string.
fn concat_eq(a: &[&str], b: &[&str]) -> bool {
    let len = |p: &[&str]| p.iter().map(|s| s.len()).sum::<usize>();
    len(a) == len(b)
        && a.iter()
            .flat_map(|s| s.bytes())
            .eq(b.iter().flat_map(|s| s.bytes()))
}

/// The token's `tid`, required to be a GUID.
fn guid_tid(c: &SharedClaims) -> Result<&str, Error> {
    match c.tid() {
        Some(t) if is_guid(t) => Ok(t),
        _ => Err(Error::bad_claim("tid")),
    }
}

/// MIW's EnableAadSigningKeyIssuerValidation: a key published with an Entra
/// `issuer` signs only for that issuer (after `{tenantid}` substitution), so a
/// key of one cloud or tenant cannot vouch for another's tokens.
fn check_key_issuer(key: &Jwk, c: &SharedClaims) -> Result<(), Error> {
    let Some(key_issuer) = key.issuer() else {
        return Ok(());
    };
    // The key's issuer with its first `{tenantid}` replaced by `tid`, as pieces.
    let expected: [&str; 3] = match key_issuer.split_once(TENANT_PLACEHOLDER) {
        Some((prefix, suffix)) => {
            let tid = c.tid().ok_or(Error::KeyIssuerMismatch)?;
            [prefix, tid, suffix]
        }
        None => [key_issuer, "", ""],
    };
    let iss = c.iss();
    if concat_eq(&expected, &[iss])
        || v2_form(iss).is_some_and(|tenant| concat_eq(&expected, &[V2_PREFIX, tenant, V2_SUFFIX]))
    {
        Ok(())
    } else {
        Err(Error::KeyIssuerMismatch)
    }
}

const V2_PREFIX: &str = "https://login.microsoftonline.com/";
const V2_SUFFIX: &str = "/v2.0";

/// The tenant of a v1 issuer `https://sts.windows.net/T/`, whose v2 form is
/// `https://login.microsoftonline.com/T/v2.0`.
fn v2_form(iss: &str) -> Option<&str> {
    let tenant = iss
        .strip_prefix("https://sts.windows.net/")?
        .strip_suffix('/')?;
    (!tenant.contains('/')).then_some(tenant)
}

/// Whether `s` is a GUID in its 8-4-4-4-12 hexadecimal form.
#[must_use]
pub fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Scope and role names are RFC 6749 §3.3 scope-tokens (NQCHAR, no space), so
/// they can be quoted in a `WWW-Authenticate` header without escaping.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

impl PolicyBuilder {
    fn new(mode: IssuerMode, app_id: &str) -> Self {
        Self {
            mode,
            app_id: app_id.to_string(),
            audiences: alloc::vec![app_id.to_string(), format!("api://{app_id}")],
            leeway: DEFAULT_LEEWAY_SECS,
            versions: alloc::vec![TokenVersion::V1, TokenVersion::V2],
            scopes: None,
            roles: None,
            client_apps: Vec::new(),
            require_scope_or_role: true,
            key_issuer_check: true,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            misuse: None,
            app_id_replaced: false,
            client_apps_set: false,
        }
    }

    /// Also accepts this exact audience (for example an App ID URI such as
    /// `https://contoso.com/api`). The application id forms are always accepted.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audiences.push(audience.to_string());
        self
    }

    /// Accepts exactly these audiences instead of the application id forms
    /// (for example a token minted for an App ID URI only). The application id
    /// given to the constructor is then neither used nor validated.
    pub fn audiences_exactly<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self.app_id_replaced = true;
        self
    }

    /// Clock-skew leeway in seconds, 0..=600 (default 300, like IM).
    pub fn leeway(mut self, seconds: u32) -> Self {
        self.leeway = seconds;
        self
    }

    /// Accepts only tokens of this version (default: both 1.0 and 2.0).
    pub fn only_version(mut self, version: TokenVersion) -> Self {
        self.versions = alloc::vec![version];
        self
    }

    /// Multi-tenant mode only: accepts tokens from this tenant (repeatable).
    /// With no tenant added, every tenant is accepted.
    pub fn allow_tenant(mut self, tenant_id: &str) -> Self {
        if let IssuerMode::MultiTenant {
            allowed_tenants, ..
        } = &mut self.mode
        {
            allowed_tenants.push(tenant_id.to_ascii_lowercase());
        } else {
            self.misuse = Some("allow_tenant is multi-tenant only");
        }
        self
    }

    /// Multi-tenant mode only: replaces the issuer templates (default: Entra's
    /// v1 and v2 forms) with this one, for example the `issuer` of a national
    /// cloud's `organizations` discovery document. A template ending in `/v2.0`
    /// implies version 2.0, any other version 1.0.
    pub fn issuer_templates<I, S>(mut self, templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let IssuerMode::MultiTenant {
            templates: current, ..
        } = &mut self.mode
        {
            *current = templates
                .into_iter()
                .map(|t| {
                    let template: String = t.into();
                    let version = if template.ends_with("/v2.0") {
                        TokenVersion::V2
                    } else {
                        TokenVersion::V1
                    };
                    IssuerTemplate { template, version }
                })
                .collect();
        } else {
            self.misuse = Some("templates are multi-tenant only");
        }
        self
    }

    /// Requires delegated scopes (`scp`), any or all of them.
    pub fn require_scopes<I, S>(mut self, how: Match, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(Requirement {
            how,
            values: scopes.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Requires application roles (`roles`), any or all of them.
    pub fn require_roles<I, S>(mut self, how: Match, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = Some(Requirement {
            how,
            values: roles.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Accepts only these client applications (`azp` in v2, `appid` in v1).
    pub fn allow_client_apps<I, S>(mut self, app_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_apps.extend(app_ids.into_iter().map(Into::into));
        self.client_apps_set = true;
        self
    }

    /// Token size cap in bytes (default 32 KiB, at most 250 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// DANGER: accepts tokens with neither `scp` nor `roles`. Such tokens are
    /// ID tokens or tokens meant for something else (MIW IDW10201); accept them
    /// only when another check tells them apart.
    pub fn dangerous_allow_no_scope_or_role(mut self) -> Self {
        self.require_scope_or_role = false;
        self
    }

    /// DANGER: skips the key-issuer check, so a key Entra publishes for one
    /// issuer may vouch for a token of another.
    pub fn dangerous_skip_key_issuer_check(mut self) -> Self {
        self.key_issuer_check = false;
        self
    }

    /// Checks the configuration and builds the policy.
    pub fn build(self) -> Result<Policy, Error> {
        let bad = |reason| Err(Error::InvalidConfig { reason });
        if let Some(reason) = self.misuse {
            return bad(reason);
        }
        if !self.app_id_replaced && !is_guid(&self.app_id) {
            return bad("application id is not a guid");
        }
        if self.audiences.is_empty() {
            return bad("no audience");
        }
        if self.leeway > MAX_LEEWAY_SECS {
            return bad("leeway over 600 seconds");
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > MAX_TOKEN_BYTES_CEILING {
            return bad("token size cap out of range");
        }
        if self.audiences.iter().any(String::is_empty) {
            return bad("empty audience");
        }
        match &self.mode {
            IssuerMode::SingleTenant { tenant } if !is_guid(tenant) => {
                return bad("tenant id is not a guid");
            }
            IssuerMode::MultiTenant {
                templates,
                allowed_tenants,
            } => {
                if templates.is_empty()
                    || templates
                        .iter()
                        .any(|t| t.template.matches(TENANT_PLACEHOLDER).count() != 1)
                {
                    return bad("template needs one {tenantid}");
                }
                if !allowed_tenants.iter().all(|t| is_guid(t)) {
                    return bad("allowed tenant is not a guid");
                }
            }
            IssuerMode::Explicit { issuers }
                if issuers.is_empty() || issuers.iter().any(String::is_empty) =>
            {
                return bad("no explicit issuer");
            }
            _ => {}
        }
        if self.client_apps_set
            && (self.client_apps.is_empty() || !self.client_apps.iter().all(|a| is_guid(a)))
        {
            return bad("client app ids must be guids");
        }
        if self.client_apps_set
            && (self.client_apps.is_empty() || !self.client_apps.iter().all(|a| is_guid(a)))
        {
            return bad("client app ids must be guids");
        }
        for req in [&self.scopes, &self.roles].into_iter().flatten() {
            if req.values.is_empty() || !req.values.iter().all(|v| is_scope_token(v)) {
                return bad("invalid required scope or role");
            }
        }
        Ok(Policy {
            mode: self.mode,
            audiences: self.audiences,
            leeway: self.leeway,
            versions: self.versions,
            scopes: self.scopes,
            roles: self.roles,
            client_apps: self.client_apps,
            require_scope_or_role: self.require_scope_or_role,
            key_issuer_check: self.key_issuer_check,
            max_token_bytes: self.max_token_bytes,
        })
    }
}

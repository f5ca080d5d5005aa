//! OpenID Connect discovery documents (SPEC §4).

use alloc::format;
use alloc::string::{String, ToString};

use crate::error::Error;
use crate::json::{opt_str, parse_object};
use crate::limits::MAX_DOCUMENT_BYTES;
use crate::policy::{TENANT_PLACEHOLDER, TokenVersion};

/// Entra's public-cloud authority.
pub const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The discovery document URL of a tenant (or `common`/`organizations`) for
/// a token version: `{authority}/{tenant}/v2.0/.well-known/openid-configuration`
/// (v2) or `{authority}/{tenant}/.well-known/openid-configuration` (v1).
#[must_use]
pub fn discovery_url(authority: &str, tenant: &str, version: TokenVersion) -> String {
    let authority = authority.trim_end_matches('/');
    match version {
        TokenVersion::V2 => format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
        TokenVersion::V1 => format!("{authority}/{tenant}/.well-known/openid-configuration"),
    }
}

/// The members of a discovery document the verifier uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIdConfiguration {
    issuer: String,
    jwks_uri: String,
    token_endpoint: Option<String>,
}

impl OpenIdConfiguration {
    /// Parses a discovery document; `issuer` and `jwks_uri` are required strings.
    pub fn from_json(document: &[u8]) -> Result<Self, Error> {
        let bad = |reason| Error::InvalidDiscovery { reason };
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(bad("document too large"));
        }
        let map = parse_object(document).ok_or(bad("not a json object"))?;
        let s = |name| opt_str(&map, name).map_err(|()| bad("member of the wrong type"));
        let issuer = s("issuer")?
            .filter(|i| !i.is_empty())
            .ok_or(bad("no issuer"))?;
        let jwks_uri = s("jwks_uri")?
            .filter(|u| !u.is_empty())
            .ok_or(bad("no jwks_uri"))?;
        if issuer.matches(TENANT_PLACEHOLDER).count() > 1 {
            return Err(bad("several {tenantid} in issuer"));
        }
        Ok(Self {
            issuer: issuer.to_string(),
            jwks_uri: jwks_uri.to_string(),
            token_endpoint: s("token_endpoint")?.map(ToString::to_string),
        })
    }

    /// The `issuer`: a tenant's issuer, or a template holding `{tenantid}`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the signing keys are.
    #[must_use]
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// The OAuth 2.0 token endpoint, when present.
    #[must_use]
    pub fn token_endpoint(&self) -> Option<&str> {
        self.token_endpoint.as_deref()
    }

    /// Whether `issuer` is a multi-tenant template (`common`, `organizations`).
    #[must_use]
    pub fn is_issuer_template(&self) -> bool {
        self.issuer.contains(TENANT_PLACEHOLDER)
    }

    /// The issuer for one tenant: the template with `{tenantid}` replaced, or
    /// the issuer itself when it is no template.
    #[must_use]
    pub fn issuer_for_tenant(&self, tenant_id: &str) -> String {
        self.issuer.replacen(TENANT_PLACEHOLDER, tenant_id, 1)
    }
}

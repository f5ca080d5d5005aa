//! Typed Entra ID claims, read strictly from the verified payload (SPEC §6).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::limits::MAX_TIME_CLAIM;

/// Claims whose value decides something; each must appear once, also when
/// compared case-insensitively (IM IDX40011 for `tid`: "Tid" beside "tid"
/// would let two readers see two tenants).
const DECISION_CLAIMS: &[&str] = &[
    "aud", "iss", "exp", "nbf", "iat", "tid", "ver", "scp", "roles", "azp", "appid", "idtyp",
    "oid", "sub",
];

/// The claims of a token that passed every check of its [`Policy`](crate::Policy).
///
/// Only [`Policy::verify`](crate::Policy::verify) makes one. Users are
/// identified by (`tid`, `oid`), never by `upn`, `email` or `preferred_username`,
/// which are mutable and not unique.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// Audiences (`aud`, a string or an array in the token).
    pub aud: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not-before, seconds since the epoch.
    pub nbf: Option<i64>,
    /// Issued-at, seconds since the epoch.
    pub iat: Option<i64>,
    /// Tenant id (a GUID; absent in B2C tokens).
    pub tid: Option<String>,
    /// Object id of the user or service principal, stable across apps in a tenant.
    pub oid: Option<String>,
    /// Subject, pairwise per application.
    pub sub: Option<String>,
    /// Token version: `1.0` or `2.0`.
    pub ver: Option<String>,
    /// Delegated scopes (`scp`, space-separated in the token).
    pub scp: Vec<String>,
    /// Application roles (`roles`).
    pub roles: Vec<String>,
    /// Client application id (v2).
    pub azp: Option<String>,
    /// Client application id (v1).
    pub appid: Option<String>,
    /// Token type: `app` for app-only tokens (optional claim).
    pub idtyp: Option<String>,
    /// Display name (not an identifier).
    pub name: Option<String>,
    /// Preferred username (mutable; not an identifier).
    pub preferred_username: Option<String>,
    raw: Map<String, Value>,
}

impl Claims {
    /// Reads the typed claims, refusing ill-typed, duplicated or out-of-range ones.
    pub(crate) fn from_map(raw: Map<String, Value>) -> Result<Self, Error> {
        for name in DECISION_CLAIMS {
            if raw.keys().filter(|k| k.eq_ignore_ascii_case(name)).count() > 1 {
                return Err(Error::bad_claim(name));
            }
        }
        let exp = time_claim(&raw, "exp")?.ok_or(Error::bad_claim("exp"))?;
        let nbf = time_claim(&raw, "nbf")?;
        let iat = time_claim(&raw, "iat")?;
        let aud = match raw.get("aud") {
            Some(Value::String(s)) => alloc::vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(ToString::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or(Error::bad_claim("aud"))?,
            _ => return Err(Error::bad_claim("aud")),
        };
        let iss = string(&raw, "iss")?.ok_or(Error::bad_claim("iss"))?;
        let scp = string(&raw, "scp")?
            .map(|s| {
                s.split(' ')
                    .filter(|x| !x.is_empty())
                    .map(ToString::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let roles = match raw.get("roles") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(ToString::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or(Error::bad_claim("roles"))?,
            Some(_) => return Err(Error::bad_claim("roles")),
        };
        Ok(Self {
            aud,
            iss,
            exp,
            nbf,
            iat,
            tid: string(&raw, "tid")?,
            oid: string(&raw, "oid")?,
            sub: string(&raw, "sub")?,
            ver: string(&raw, "ver")?,
            scp,
            roles,
            azp: string(&raw, "azp")?,
            appid: string(&raw, "appid")?,
            idtyp: string(&raw, "idtyp")?,
            name: lenient_string(&raw, "name"),
            preferred_username: lenient_string(&raw, "preferred_username"),
            raw,
        })
    }

    /// Every claim of the token, including the ones not typed here.
    #[must_use]
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// One claim by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    /// The claims as the caller's own type, through serde.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(MapDeserializer(&self.raw)).map_err(|_| Error::bad_claim("custom"))
    }

    /// The client application: `azp` (v2) or `appid` (v1).
    #[must_use]
    pub fn client_app(&self) -> Option<&str> {
        self.azp.as_deref().or(self.appid.as_deref())
    }

    /// Whether this is an app-only token (client credentials): `idtyp` is
    /// `app`, or, where that optional claim is not configured, the token has no
    /// `scp` and `oid` equals `sub` (Microsoft's documented heuristic).
    #[must_use]
    pub fn is_app_only(&self) -> bool {
        if let Some(t) = &self.idtyp {
            return t == "app";
        }
        self.scp.is_empty() && self.oid.is_some() && self.oid == self.sub
    }

    /// Whether the token carries this delegated scope.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scp.iter().any(|s| s == scope)
    }

    /// Whether the token carries this application role.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Deserializes a borrowed claims map without cloning it into a `Value`.
struct MapDeserializer<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for MapDeserializer<'de> {
    type Error = serde_json::Error;
    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        use serde::de::value::MapDeserializer as Inner;
        let mut inner = Inner::new(self.0.iter().map(|(k, v)| (k.as_str(), v)));
        let value = visitor.visit_map(&mut inner)?;
        inner.end()?;
        Ok(value)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

fn string(raw: &Map<String, Value>, name: &'static str) -> Result<Option<String>, Error> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_claim(name)),
    }
}

/// Display-only claims: an odd type is dropped rather than refused.
fn lenient_string(raw: &Map<String, Value>, name: &str) -> Option<String> {
    raw.get(name)
        .and_then(Value::as_str)
        .map(ToString::to_string)
}

/// A NumericDate that must be a JSON integer in 0..=[`MAX_TIME_CLAIM`]: a
/// string or a float is a malformed claim, not a skipped check (CVE-2026-25537).
fn time_claim(raw: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Error> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|t| (0..=MAX_TIME_CLAIM).contains(t))
            .map(Some)
            .ok_or(Error::bad_claim(name)),
        Some(_) => Err(Error::bad_claim(name)),
    }
}

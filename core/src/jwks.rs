//! JSON Web Key Sets, parsed once into usable RS256 keys (SPEC §4).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::b64;
use crate::error::Error;
use crate::json::{opt_str, parse_object};
use crate::key::{KeyError, RsaKey};
use crate::limits::{MAX_DOCUMENT_BYTES, MAX_KEYS, MAX_KID_LEN, MAX_X5C_CERTS};
use crate::x5c::{self, X5cError};

/// Where a key's RSA components came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMaterial {
    /// The JWK's `n` and `e` members only.
    Components,
    /// The first `x5c` certificate only.
    Certificate,
    /// Both, and they agree.
    Both,
}

impl KeyMaterial {
    /// A short lowercase name (`n/e`, `x5c`, `both`) for reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Components => "n/e",
            Self::Certificate => "x5c",
            Self::Both => "both",
        }
    }
}

/// Why a JWK was skipped instead of loaded. A skipped key never fails the set.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The entry is not a JSON object, or a member has the wrong JSON type.
    NotAnObject,
    /// `kty` is missing or not `RSA`.
    NotRsa,
    /// `use` is present and not `sig`.
    NotForSignatures,
    /// `key_ops` is present and lacks `verify`.
    NoVerifyOperation,
    /// `alg` is present and not `RS256`.
    WrongAlg,
    /// `kid` is longer than [`MAX_KID_LEN`].
    KidTooLong,
    /// An earlier key in the set has the same `kid`.
    DuplicateKid,
    /// Neither `n`/`e` nor `x5c` is present.
    NoKeyMaterial,
    /// `n` or `e` is not strict base64url.
    BadEncoding,
    /// `x5c` is malformed, or its first certificate is not DER X.509.
    BadCertificate,
    /// The first `x5c` certificate's key is not RSA.
    CertificateNotRsa,
    /// `n`/`e` and the `x5c` certificate hold different keys.
    CertificateMismatch,
    /// The modulus is under 2048 bits.
    KeyTooSmall,
    /// The modulus is over 4096 bits.
    KeyTooLarge,
    /// The modulus is not a valid RSA modulus.
    BadModulus,
    /// The exponent is even, 1, or too large.
    BadExponent,
    /// The set already holds [`MAX_KEYS`] keys.
    TooManyKeys,
}

impl SkipReason {
    /// A short lowercase description, for reports and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotAnObject => "not a JWK object",
            Self::NotRsa => "kty is not RSA",
            Self::NotForSignatures => "use is not sig",
            Self::NoVerifyOperation => "key_ops lacks verify",
            Self::WrongAlg => "alg is not RS256",
            Self::KidTooLong => "kid too long",
            Self::DuplicateKid => "duplicate kid",
            Self::NoKeyMaterial => "no n/e and no x5c",
            Self::BadEncoding => "n or e not base64url",
            Self::BadCertificate => "x5c certificate unreadable",
            Self::CertificateNotRsa => "x5c certificate key is not RSA",
            Self::CertificateMismatch => "n/e and x5c disagree",
            Self::KeyTooSmall => "modulus under 2048 bits",
            Self::KeyTooLarge => "modulus over 4096 bits",
            Self::BadModulus => "invalid modulus",
            Self::BadExponent => "invalid exponent",
            Self::TooManyKeys => "too many keys in set",
        }
    }
}

impl From<KeyError> for SkipReason {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::TooSmall => Self::KeyTooSmall,
            KeyError::TooLarge => Self::KeyTooLarge,
            KeyError::BadModulus => Self::BadModulus,
            KeyError::BadExponent => Self::BadExponent,
        }
    }
}

/// A JWK that was not loaded, with its `kid` (when it had a readable one) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position of the entry in the `keys` array.
    pub index: usize,
    /// The entry's `kid`, if it was a string of acceptable length.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// One usable signing key of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String>,
    x5t: Option<String>,
    issuer: Option<String>,
    material: KeyMaterial,
    key: RsaKey,
}

impl Jwk {
    /// The key id, matched exactly against a token's `kid`.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The certificate thumbprint, matched only when a token has no `kid`.
    #[must_use]
    pub fn x5t(&self) -> Option<&str> {
        self.x5t.as_deref()
    }
    /// Entra's per-key `issuer` (may hold `{tenantid}`), used by the key-issuer check.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
    /// Where the RSA components came from.
    #[must_use]
    pub fn material(&self) -> KeyMaterial {
        self.material
    }
    /// The pre-parsed RSA key.
    #[must_use]
    pub fn key(&self) -> &RsaKey {
        &self.key
    }
}

/// A set of usable RS256 keys, parsed once from a JWKS document.
///
/// ```
/// # fn main() -> Result<(), entra_jwt_core::Error> {
/// let doc = include_str!("../../fixtures/azure/jwks/entra-organizations_discovery_v2_keys_2024-10-26__panva-wellknown.json");
/// let keys = entra_jwt_core::KeySet::from_jwks(doc.as_bytes())?;
/// assert!(keys.len() > 0);
/// assert!(keys.iter().all(|k| k.issuer().is_some()));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<Jwk>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// Unusable keys are skipped and listed in [`skipped`](Self::skipped); a
    /// document that is not a JWKS, is over [`MAX_DOCUMENT_BYTES`], or has no
    /// usable key at all is an [`Error::InvalidKeySet`].
    pub fn from_jwks(document: &[u8]) -> Result<Self, Error> {
        let set = Self::from_jwks_for_diagnostics(document)?;
        if set.keys.is_empty() {
            return Err(Error::InvalidKeySet {
                reason: "no usable key",
            });
        }
        Ok(set)
    }

    /// Like [`from_jwks`](Self::from_jwks) but also returns a set with no
    /// usable key, so a tool can show why every key was skipped. Such a set
    /// verifies nothing; key sources never load one.
    pub fn from_jwks_for_diagnostics(document: &[u8]) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidKeySet { reason };
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(invalid("document too large"));
        }
        let root = parse_object(document).ok_or(invalid("not a json object"))?;
        let entries = match root.get("keys") {
            Some(Value::Array(a)) => a,
            _ => return Err(invalid("no keys array")),
        };
        let mut set = KeySet::default();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry
                .get("kid")
                .and_then(Value::as_str)
                .filter(|k| k.len() <= MAX_KID_LEN)
                .map(ToString::to_string);
            let result = if set.keys.len() >= MAX_KEYS {
                Err(SkipReason::TooManyKeys)
            } else {
                match entry {
                    Value::Object(map) => parse_jwk(map),
                    _ => Err(SkipReason::NotAnObject),
                }
            };
            match result {
                Ok(jwk) if jwk.kid.is_some() && set.find_kid(jwk.kid.as_deref()).is_some() => {
                    set.skipped.push(SkippedKey {
                        index,
                        kid,
                        reason: SkipReason::DuplicateKid,
                    });
                }
                Ok(jwk) => set.keys.push(jwk),
                Err(reason) => set.skipped.push(SkippedKey { index, kid, reason }),
            }
        }
        Ok(set)
    }

    /// Builds a set from keys made in code (for example from a configured PEM).
    pub fn from_keys(keys: Vec<Jwk>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::InvalidKeySet {
                reason: "no usable key",
            });
        }
        if keys.len() > MAX_KEYS {
            return Err(Error::InvalidKeySet {
                reason: "too many keys",
            });
        }
        Ok(Self {
            keys,
            skipped: Vec::new(),
        })
    }

    /// The usable keys, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &Jwk> {
        self.keys.iter()
    }

    /// How many usable keys the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key (never true for a parsed set).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that were skipped, each with its reason.
    #[must_use]
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// The key with exactly this `kid` (case-sensitive).
    #[must_use]
    pub fn find_kid(&self, kid: Option<&str>) -> Option<&Jwk> {
        let kid = kid?;
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key with exactly this `x5t`; for tokens that carry no `kid` (v1 tokens of 2013-2015).
    #[must_use]
    pub fn find_x5t(&self, x5t: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.x5t.as_deref() == Some(x5t))
    }

    /// The key at this position (document order among usable keys).
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&Jwk> {
        self.keys.get(index)
    }

    pub(crate) fn position_kid(&self, kid: &str) -> Option<(usize, &Jwk)> {
        self.keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.kid.as_deref() == Some(kid))
    }

    pub(crate) fn position_x5t(&self, x5t: &str) -> Option<(usize, &Jwk)> {
        self.keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.x5t.as_deref() == Some(x5t))
    }

    /// Whether a key with this `kid` is in the set.
    #[must_use]
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.find_kid(Some(kid)).is_some()
    }
}

impl Jwk {
    /// A key made in code, with the identifiers a token will name it by.
    #[must_use]
    pub fn new(
        kid: Option<String>,
        x5t: Option<String>,
        issuer: Option<String>,
        key: RsaKey,
    ) -> Self {
        Self {
            kid,
            x5t,
            issuer,
            material: KeyMaterial::Components,
            key,
        }
    }
}

fn parse_jwk(map: &Map<String, Value>) -> Result<Jwk, SkipReason> {
    let s = |name| opt_str(map, name).map_err(|()| SkipReason::NotAnObject);
    if s("kty")? != Some("RSA") {
        return Err(SkipReason::NotRsa);
    }
    if !matches!(s("use")?, None | Some("sig")) {
        return Err(SkipReason::NotForSignatures);
    }
    if let Some(ops) = map.get("key_ops") {
        let ops = ops.as_array().ok_or(SkipReason::NotAnObject)?;
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return Err(SkipReason::NoVerifyOperation);
        }
    }
    // Entra keys carry no `alg`; requiring one would reject every Entra token.
    if !matches!(s("alg")?, None | Some("RS256")) {
        return Err(SkipReason::WrongAlg);
    }
    let kid = s("kid")?;
    if kid.is_some_and(|k| k.len() > MAX_KID_LEN) {
        return Err(SkipReason::KidTooLong);
    }
    let x5t = s("x5t")?.filter(|t| t.len() <= MAX_KID_LEN);
    let issuer = s("issuer")?;

    let components = match (s("n")?, s("e")?) {
        (Some(n), Some(e)) => {
            let n = b64::decode_url(n.as_bytes()).ok_or(SkipReason::BadEncoding)?;
            let e = b64::decode_url(e.as_bytes()).ok_or(SkipReason::BadEncoding)?;
            Some(RsaKey::from_be_bytes(&n, &e)?)
        }
        (None, None) => None,
        _ => return Err(SkipReason::NoKeyMaterial),
    };
    let from_cert = match map.get("x5c") {
        None => None,
        Some(Value::Array(certs)) if !certs.is_empty() && certs.len() <= MAX_X5C_CERTS => {
            let first = certs
                .first()
                .and_then(Value::as_str)
                .ok_or(SkipReason::BadCertificate)?;
            let der = b64::decode_std(first.as_bytes()).ok_or(SkipReason::BadCertificate)?;
            let (n, e) = x5c::rsa_components(&der).map_err(|e| match e {
                X5cError::NotACertificate => SkipReason::BadCertificate,
                X5cError::NotRsa => SkipReason::CertificateNotRsa,
            })?;
            Some((n, e))
        }
        Some(_) => return Err(SkipReason::BadCertificate),
    };
    let (material, key) = match (components, from_cert) {
        // The same key twice (Entra's case): prepare it once.
        (Some(a), Some((n, e)))
            if a.modulus() == strip_zeros(&n) && a.exponent() == strip_zeros(&e) =>
        {
            (KeyMaterial::Both, a)
        }
        (Some(_), Some((n, e))) => {
            // The certificate's own defect, if it has one, names the skip.
            RsaKey::from_be_bytes(&n, &e)?;
            return Err(SkipReason::CertificateMismatch);
        }
        (Some(a), None) => (KeyMaterial::Components, a),
        (None, Some((n, e))) => (KeyMaterial::Certificate, RsaKey::from_be_bytes(&n, &e)?),
        (None, None) => return Err(SkipReason::NoKeyMaterial),
    };
    Ok(Jwk {
        kid: kid.map(ToString::to_string),
        x5t: x5t.map(ToString::to_string),
        issuer: issuer.map(ToString::to_string),
        material,
        key,
    })
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

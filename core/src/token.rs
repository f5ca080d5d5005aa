//! Compact JWS parsing into an untrusted token (SPEC §2, §3).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::b64;
use crate::error::Error;
use crate::json::{opt_str, parse_object};
use crate::jwks::{Jwk, KeySet};
use crate::key::SignatureBackend;
use crate::limits::MAX_KID_LEN;

/// The only algorithm accepted. It is fixed by this crate and the key type,
/// never chosen by the token (alg none: CVE-2015-9235; HS/RS confusion: CVE-2016-10555).
pub const RS256: &str = "RS256";

/// The members of a token's JOSE header that matter for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    alg: String,
    kid: Option<String>,
    x5t: Option<String>,
    typ: Option<String>,
    raw: Map<String, Value>,
}

impl Header {
    /// The header's `alg` (always `RS256` once parsing succeeded).
    #[must_use]
    pub fn alg(&self) -> &str {
        &self.alg
    }
    /// The key id the token names.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// The certificate thumbprint the token names.
    #[must_use]
    pub fn x5t(&self) -> Option<&str> {
        self.x5t.as_deref()
    }
    /// The header's `typ`, when present.
    #[must_use]
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
    /// Every header member, as parsed (for display; never for decisions).
    #[must_use]
    pub fn members(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Reads and checks the header (SPEC §3). The checks that depend on
    /// nothing but the header happen here, so no later step can forget them.
    fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let raw = parse_object(bytes).ok_or(Error::Malformed)?;
        let s = |name| opt_str(&raw, name).map_err(|()| Error::Malformed);
        // A missing or non-string alg is as unsupported as "none".
        let alg = match raw.get("alg") {
            Some(Value::String(a)) if a == RS256 => a.clone(),
            _ => return Err(Error::UnsupportedAlg),
        };
        // RFC 7515 §4.1.11: extensions we do not understand must be refused (CVE-2025-59420).
        if raw.contains_key("crit") {
            return Err(Error::CritHeader);
        }
        let typ = s("typ")?;
        if typ.is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) {
            return Err(Error::Malformed);
        }
        // Graph and other first-party tokens carry a header nonce; their
        // signature covers a hash of it, so third parties cannot verify them.
        if raw.contains_key("nonce") {
            return Err(Error::FirstPartyToken);
        }
        let kid = s("kid")?;
        let x5t = s("x5t")?;
        if kid.is_some_and(|k| k.len() > MAX_KID_LEN) || x5t.is_some_and(|k| k.len() > MAX_KID_LEN)
        {
            return Err(Error::Malformed);
        }
        // `jku`, `x5u`, `jwk` and `x5c` are deliberately never read: keys come
        // only from the configured key set (CVE-2018-0114, CVE-2024-21643).
        Ok(Self {
            alg,
            kid: kid.map(ToString::to_string),
            x5t: x5t.map(ToString::to_string),
            typ: typ.map(ToString::to_string),
            raw,
        })
    }
}

/// A token whose structure and header are valid but whose signature and
/// claims have not been checked. Nothing in it is to be trusted.
#[derive(Debug, Clone)]
pub struct UntrustedToken<'a> {
    signing_input: &'a [u8],
    header: Header,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> UntrustedToken<'a> {
    /// Parses a compact JWS: size cap, exactly three segments, strict base64url,
    /// one JSON object header without duplicates, and the header rules of SPEC §3.
    pub fn parse(token: &'a [u8], max_bytes: usize) -> Result<Self, Error> {
        if token.len() > max_bytes {
            return Err(Error::TooLarge);
        }
        // Bounded scan: the token is already capped, and we stop counting at 5
        // (CVE-2025-30204 was an unbounded split on attacker input).
        let mut dots = [0usize; 4];
        let mut count = 0usize;
        for (i, _) in token.iter().enumerate().filter(|(_, b)| **b == b'.') {
            if let Some(slot) = dots.get_mut(count) {
                *slot = i;
            }
            count += 1;
            if count > 4 {
                break;
            }
        }
        match count {
            2 => {}
            4 => return Err(Error::EncryptedToken),
            _ => return Err(Error::Malformed),
        }
        let [d1, d2, ..] = dots;
        let header_b64 = token.get(..d1).ok_or(Error::Malformed)?;
        let payload_b64 = token.get(d1 + 1..d2).ok_or(Error::Malformed)?;
        let signature_b64 = token.get(d2 + 1..).ok_or(Error::Malformed)?;
        if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
            return Err(Error::Malformed);
        }
        let header_json = b64::decode_url(header_b64).ok_or(Error::Malformed)?;
        let payload = b64::decode_url(payload_b64).ok_or(Error::Malformed)?;
        let signature = b64::decode_url(signature_b64).ok_or(Error::Malformed)?;
        let header = Header::parse(&header_json)?;
        let signing_input = token.get(..d2).ok_or(Error::Malformed)?;
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    /// The checked header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded signature bytes.
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The payload's members, parsed without verifying anything: for display
    /// (the CLI's `inspect`), never for decisions.
    pub fn claims_unverified(&self) -> Result<Map<String, Value>, Error> {
        parse_object(&self.payload).ok_or(Error::Malformed)
    }

    /// The key the token names: exact `kid`; `x5t` only when `kid` is absent.
    /// There is no "try every key" fallback.
    pub fn find_key<'k>(&self, keys: &'k KeySet) -> Result<&'k Jwk, Error> {
        match (self.header.kid(), self.header.x5t()) {
            (Some(kid), _) => keys.find_kid(Some(kid)),
            (None, Some(x5t)) => keys.find_x5t(x5t),
            (None, None) => None,
        }
        .ok_or(Error::UnknownKey)
    }

    /// Checks the RS256 signature with `key`, then parses the claims from the
    /// signed bytes (SPEC §2: parsed once, from exactly what was signed).
    pub fn verify_signature(
        self,
        backend: &dyn SignatureBackend,
        key: &Jwk,
    ) -> Result<Map<String, Value>, Error> {
        if self.signature.len() != key.key().signature_len() {
            return Err(Error::BadSignature);
        }
        if !backend.verify_rs256(key.key(), self.signing_input, &self.signature) {
            return Err(Error::BadSignature);
        }
        parse_object(&self.payload).ok_or(Error::Malformed)
    }
}

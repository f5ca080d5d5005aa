//! Compact JWS parsing into an untrusted token (SPEC §2, §3).

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{Map, Value};

use crate::b64;
use crate::error::Error;
use crate::json::parse_object;
use crate::jwks::{Jwk, KeySet};
use crate::key::SignatureBackend;
use crate::limits::MAX_KID_LEN;
use crate::scan::{Fields, Member, scan_object};

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
        let fields = HeaderFields::scan(bytes)?;
        let raw = parse_object(bytes).ok_or(Error::Malformed)?;
        Ok(Self {
            alg: RS256.to_string(),
            kid: fields.kid.map(Cow::into_owned),
            x5t: fields.x5t.map(Cow::into_owned),
            typ: fields.typ.map(Cow::into_owned),
            raw,
        })
    }
}

/// The header members verification needs, borrowed from the decoded header
/// when they hold no escape. The one place SPEC §3's header rules live: both
/// [`UntrustedToken::parse`] and the verification path use it.
#[derive(Default)]
pub(crate) struct HeaderFields<'de> {
    alg_ok: bool,
    crit: bool,
    nonce: bool,
    /// A member that must be a string was not.
    ill_typed: [bool; 3],
    typ: Option<Cow<'de, str>>,
    pub(crate) kid: Option<Cow<'de, str>>,
    pub(crate) x5t: Option<Cow<'de, str>>,
}

impl<'de> Fields<'de> for HeaderFields<'de> {
    fn wants_items(&self, _: &str) -> bool {
        false
    }
    fn item(&mut self, _: Cow<'de, str>) {}
    fn member(&mut self, name: &str, value: Member<'de>) {
        let slot = match name {
            "alg" => {
                self.alg_ok = matches!(&value, Member::Str(a) if a == RS256);
                return;
            }
            "crit" => {
                self.crit = true;
                return;
            }
            "nonce" => {
                self.nonce = true;
                return;
            }
            "typ" => 0,
            "kid" => 1,
            "x5t" => 2,
            _ => return,
        };
        let value = match value {
            Member::Str(s) => Some(s),
            _ => {
                if let Some(bad) = self.ill_typed.get_mut(slot) {
                    *bad = true;
                }
                None
            }
        };
        match slot {
            0 => self.typ = value,
            1 => self.kid = value,
            _ => self.x5t = value,
        }
    }
}

impl<'de> HeaderFields<'de> {
    /// Scans a decoded header and applies SPEC §3, in this order: one strict
    /// JSON object (`malformed`), `alg` (`unsupported_alg`: a missing or
    /// non-string alg is as unsupported as "none"), `crit` (RFC 7515
    /// §4.1.11, CVE-2025-59420), `typ`, `nonce` (a Graph or other first-party
    /// token, whose signature covers a hash of it), `kid`/`x5t` types and caps.
    /// `jku`, `x5u`, `jwk` and `x5c` are deliberately never read: keys come
    /// only from the configured key set (CVE-2018-0114, CVE-2024-21643).
    pub(crate) fn scan(bytes: &'de [u8]) -> Result<Self, Error> {
        let mut h = HeaderFields::default();
        scan_object(bytes, &mut h).ok_or(Error::Malformed)?;
        if !h.alg_ok {
            return Err(Error::UnsupportedAlg);
        }
        if h.crit {
            return Err(Error::CritHeader);
        }
        let [bad_typ, bad_kid, bad_x5t] = h.ill_typed;
        if bad_typ
            || h.typ
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
        {
            return Err(Error::Malformed);
        }
        if h.nonce {
            return Err(Error::FirstPartyToken);
        }
        if bad_kid || bad_x5t {
            return Err(Error::Malformed);
        }
        if h.kid.as_deref().is_some_and(|k| k.len() > MAX_KID_LEN)
            || h.x5t.as_deref().is_some_and(|k| k.len() > MAX_KID_LEN)
        {
            return Err(Error::Malformed);
        }
        Ok(h)
    }

    /// The key the token names: exact `kid`; `x5t` only when `kid` is absent.
    /// There is no "try every key" fallback.
    pub(crate) fn find_key<'k>(&self, keys: &'k KeySet) -> Result<(usize, &'k Jwk), Error> {
        match (self.kid.as_deref(), self.x5t.as_deref()) {
            (Some(kid), _) => keys.position_kid(kid),
            (None, Some(x5t)) => keys.position_x5t(x5t),
            (None, None) => None,
        }
        .ok_or(Error::UnknownKey)
    }
}

/// The three segments of a compact JWS and the signing input, after the size
/// cap and a bounded dot count (SPEC §1-2).
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) signature: &'a [u8],
    pub(crate) signing_input: &'a [u8],
}

impl<'a> Segments<'a> {
    pub(crate) fn split(token: &'a [u8], max_bytes: usize) -> Result<Self, Error> {
        if token.len() > max_bytes {
            return Err(Error::TooLarge);
        }
        // Bounded scan: the token is already capped, and we stop counting at 5
        // (CVE-2025-30204 was an unbounded split on attacker input).
        // 64-byte chunks are tested for a dot without branching (the compiler
        // vectorises that), so 32 KiB without dots costs about a microsecond.
        let mut dots = [0usize; 4];
        let mut count = 0usize;
        let mut base = 0usize;
        'chunks: for chunk in token.chunks(64) {
            if chunk.iter().fold(false, |any, &b| any | (b == b'.')) {
                for (i, _) in chunk.iter().enumerate().filter(|(_, b)| **b == b'.') {
                    if let Some(slot) = dots.get_mut(count) {
                        *slot = base + i;
                    }
                    count += 1;
                    if count > 4 {
                        break 'chunks;
                    }
                }
            }
            base += chunk.len();
        }
        match count {
            2 => {}
            4 => return Err(Error::EncryptedToken),
            _ => return Err(Error::Malformed),
        }
        let [d1, d2, ..] = dots;
        let header = token.get(..d1).ok_or(Error::Malformed)?;
        let payload = token.get(d1 + 1..d2).ok_or(Error::Malformed)?;
        let signature = token.get(d2 + 1..).ok_or(Error::Malformed)?;
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(Error::Malformed);
        }
        if header.len() > crate::limits::MAX_HEADER_BYTES {
            return Err(Error::Malformed);
        }
        let signing_input = token.get(..d2).ok_or(Error::Malformed)?;
        Ok(Self {
            header,
            payload,
            signature,
            signing_input,
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
    /// Parses a compact JWS: size cap, exactly three segments, the header cap, strict base64url,
    /// one JSON object header without duplicates, and the header rules of SPEC §3.
    pub fn parse(token: &'a [u8], max_bytes: usize) -> Result<Self, Error> {
        let seg = Segments::split(token, max_bytes)?;
        let header_json = b64::decode_url(seg.header).ok_or(Error::Malformed)?;
        let payload = b64::decode_url(seg.payload).ok_or(Error::Malformed)?;
        let signature = b64::decode_url(seg.signature).ok_or(Error::Malformed)?;
        let header = Header::parse(&header_json)?;
        Ok(Self {
            signing_input: seg.signing_input,
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

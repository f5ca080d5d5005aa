//! Typed Entra ID claims, read strictly from the verified payload (SPEC §6).

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::limits::MAX_TIME_CLAIM;
use crate::scan::{Fields, Member, scan_object};

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
    /// The owned form of verified claims: every typed claim copied into its
    /// own `String`, and every member parsed into [`raw`](Self::raw).
    ///
    /// [`Policy::verify`](crate::Policy::verify) returns this; the drivers'
    /// cheaper [`SharedClaims`] converts with `Claims::from(&shared)`.
    pub(crate) fn from_shared(c: &SharedClaims) -> Result<Self, Error> {
        let raw = crate::json::parse_object(c.json().as_bytes()).ok_or(Error::Malformed)?;
        let own = |s: Option<&str>| s.map(ToString::to_string);
        Ok(Self {
            aud: c.aud().map(ToString::to_string).collect(),
            iss: c.iss().to_string(),
            exp: c.exp(),
            nbf: c.nbf(),
            iat: c.iat(),
            tid: own(c.tid()),
            oid: own(c.oid()),
            sub: own(c.sub()),
            ver: own(c.ver()),
            scp: c.scp().map(ToString::to_string).collect(),
            roles: c.roles().map(ToString::to_string).collect(),
            azp: own(c.azp()),
            appid: own(c.appid()),
            idtyp: own(c.idtyp()),
            name: own(c.name()),
            preferred_username: own(c.preferred_username()),
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

impl TryFrom<&SharedClaims> for Claims {
    type Error = Error;
    /// Copies verified [`SharedClaims`] into the owned [`Claims`] (allocates
    /// one `String` per claim and parses every member for [`Claims::raw`]).
    fn try_from(c: &SharedClaims) -> Result<Self, Error> {
        Claims::from_shared(c)
    }
}

/// Where a claim string lives in [`SharedClaims`]'s one buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// How many array elements (`aud`, `roles`) are kept without allocating.
const INLINE_ITEMS: usize = 8;

/// The string elements of `aud` and `roles`, inline up to [`INLINE_ITEMS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Items {
    inline: [Span; INLINE_ITEMS],
    len: usize,
    spill: Vec<Span>,
}

impl Items {
    fn push(&mut self, span: Span) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = span,
            None => self.spill.push(span),
        }
        self.len += 1;
    }
    fn get(&self, i: usize) -> Option<Span> {
        match self.inline.get(i) {
            Some(s) if i < self.len => Some(*s),
            Some(_) => None,
            None => self.spill.get(i - INLINE_ITEMS).copied(),
        }
    }
}

/// A list of claim strings: `aud`, `roles` (array elements) or `scp` (one
/// space-separated string).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum List {
    #[default]
    Empty,
    One(Span),
    Items {
        from: usize,
        to: usize,
    },
}

/// The typed claims, each a span of [`Inner::buf`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Typed {
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    iss: Span,
    aud: List,
    roles: List,
    scp: Option<Span>,
    tid: Option<Span>,
    oid: Option<Span>,
    sub: Option<Span>,
    ver: Option<Span>,
    azp: Option<Span>,
    appid: Option<Span>,
    idtyp: Option<Span>,
    name: Option<Span>,
    preferred_username: Option<Span>,
}

#[derive(PartialEq, Eq)]
// Cache-line aligned, so the reference counts in front of it have a line of
// their own: threads that clone the same cached claims then do not evict
// the fields every policy check reads from each other's caches.
#[repr(align(64))]
struct Inner {
    /// The payload JSON as signed, then any unescaped copies of claim strings
    /// that held JSON escapes (rare).
    buf: String,
    /// Length of the payload JSON at the start of `buf`.
    json_len: usize,
    typed: Typed,
    items: Items,
}

/// The claims of a verified token in one shared buffer: the verification
/// path's result, cheap to clone and to cache.
///
/// Holds the payload JSON exactly as signed plus the position of each typed
/// claim in it, so reading the claims costs no allocation per claim, and a
/// clone is a reference count. Only [`Policy::verify_shared_with`](crate::Policy::verify_shared_with)
/// (and the drivers built on it) make one: every rule of SPEC §6 has passed.
/// [`Claims`] is the owned form (`Claims::try_from(&shared)`).
///
/// Users are identified by (`tid`, `oid`), never by `upn`, `email` or
/// `preferred_username`, which are mutable and not unique.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedClaims {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for SharedClaims {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedClaims")
            .field("iss", &self.iss())
            .field("aud", &self.aud().collect::<Vec<_>>())
            .field("tid", &self.tid())
            .field("exp", &self.exp())
            .finish_non_exhaustive()
    }
}

/// An iterator over claim strings (`aud`, `scp`, `roles`).
#[derive(Debug, Clone)]
pub struct ClaimStrs<'a> {
    claims: &'a SharedClaims,
    kind: StrsKind<'a>,
}

#[derive(Debug, Clone)]
enum StrsKind<'a> {
    Done,
    One(Span),
    Items { next: usize, to: usize },
    Split(core::str::Split<'a, char>),
}

impl<'a> Iterator for ClaimStrs<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match &mut self.kind {
            StrsKind::Done => None,
            StrsKind::One(span) => {
                let s = self.claims.span(*span);
                self.kind = StrsKind::Done;
                Some(s)
            }
            StrsKind::Items { next, to } => {
                if *next >= *to {
                    return None;
                }
                let span = self.claims.inner.items.get(*next)?;
                *next += 1;
                Some(self.claims.span(span))
            }
            StrsKind::Split(split) => split.find(|s| !s.is_empty()),
        }
    }
}

impl SharedClaims {
    fn span(&self, s: Span) -> &str {
        let start = s.start as usize;
        self.inner
            .buf
            .get(start..start + s.len as usize)
            .unwrap_or_default()
    }
    fn opt(&self, s: Option<Span>) -> Option<&str> {
        s.map(|s| self.span(s))
    }
    fn list(&self, l: List) -> ClaimStrs<'_> {
        let kind = match l {
            List::Empty => StrsKind::Done,
            List::One(s) => StrsKind::One(s),
            List::Items { from, to } => StrsKind::Items { next: from, to },
        };
        ClaimStrs { claims: self, kind }
    }

    /// The payload JSON exactly as signed.
    #[must_use]
    pub fn json(&self) -> &str {
        self.inner
            .buf
            .get(..self.inner.json_len)
            .unwrap_or_default()
    }
    /// Audiences (`aud`, a string or an array in the token).
    #[must_use]
    pub fn aud(&self) -> ClaimStrs<'_> {
        self.list(self.inner.typed.aud)
    }
    /// Issuer.
    #[must_use]
    pub fn iss(&self) -> &str {
        self.span(self.inner.typed.iss)
    }
    /// Expiry, seconds since the epoch.
    #[must_use]
    pub fn exp(&self) -> i64 {
        self.inner.typed.exp
    }
    /// Not-before, seconds since the epoch.
    #[must_use]
    pub fn nbf(&self) -> Option<i64> {
        self.inner.typed.nbf
    }
    /// Issued-at, seconds since the epoch.
    #[must_use]
    pub fn iat(&self) -> Option<i64> {
        self.inner.typed.iat
    }
    /// Tenant id (a GUID; absent in B2C tokens).
    #[must_use]
    pub fn tid(&self) -> Option<&str> {
        self.opt(self.inner.typed.tid)
    }
    /// Object id of the user or service principal, stable across apps in a tenant.
    #[must_use]
    pub fn oid(&self) -> Option<&str> {
        self.opt(self.inner.typed.oid)
    }
    /// Subject, pairwise per application.
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        self.opt(self.inner.typed.sub)
    }
    /// Token version: `1.0` or `2.0`.
    #[must_use]
    pub fn ver(&self) -> Option<&str> {
        self.opt(self.inner.typed.ver)
    }
    /// Delegated scopes (`scp`, space-separated in the token).
    #[must_use]
    pub fn scp(&self) -> ClaimStrs<'_> {
        let kind = match self.inner.typed.scp {
            Some(s) => StrsKind::Split(self.span(s).split(' ')),
            None => StrsKind::Done,
        };
        ClaimStrs { claims: self, kind }
    }
    /// Application roles (`roles`).
    #[must_use]
    pub fn roles(&self) -> ClaimStrs<'_> {
        self.list(self.inner.typed.roles)
    }
    /// Client application id (v2).
    #[must_use]
    pub fn azp(&self) -> Option<&str> {
        self.opt(self.inner.typed.azp)
    }
    /// Client application id (v1).
    #[must_use]
    pub fn appid(&self) -> Option<&str> {
        self.opt(self.inner.typed.appid)
    }
    /// Token type: `app` for app-only tokens (optional claim).
    #[must_use]
    pub fn idtyp(&self) -> Option<&str> {
        self.opt(self.inner.typed.idtyp)
    }
    /// Display name (not an identifier).
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.opt(self.inner.typed.name)
    }
    /// Preferred username (mutable; not an identifier).
    #[must_use]
    pub fn preferred_username(&self) -> Option<&str> {
        self.opt(self.inner.typed.preferred_username)
    }
    /// The client application: `azp` (v2) or `appid` (v1).
    #[must_use]
    pub fn client_app(&self) -> Option<&str> {
        self.azp().or(self.appid())
    }
    /// Whether this is an app-only token: `idtyp` is `app`, or, without that
    /// optional claim, the token has no `scp` and `oid` equals `sub`.
    #[must_use]
    pub fn is_app_only(&self) -> bool {
        if let Some(t) = self.idtyp() {
            return t == "app";
        }
        self.scp().next().is_none() && self.oid().is_some() && self.oid() == self.sub()
    }
    /// Whether the token carries this delegated scope.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scp().any(|s| s == scope)
    }
    /// Whether the token carries this application role.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().any(|r| r == role)
    }
    /// One claim by name, parsed on demand (allocates).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Value> {
        crate::json::parse_object(self.json().as_bytes())?.remove(name)
    }
    /// The claims as the caller's own type, through serde (straight from the
    /// signed JSON; duplicate members were refused at verification).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.json()).map_err(|_| Error::bad_claim("custom"))
    }
    /// The owned form (one `String` per claim, every member parsed).
    pub fn to_claims(&self) -> Result<Claims, Error> {
        Claims::from_shared(self)
    }

    /// Reads the claims of a payload whose signature has verified (SPEC §2:
    /// parsed once, from the signed bytes; §6: types, ranges, duplicates).
    pub(crate) fn parse(payload: Vec<u8>) -> Result<Self, Error> {
        let mut buf = String::from_utf8(payload).map_err(|_| Error::Malformed)?;
        let json_len = buf.len();
        let (typed, items, side) = {
            let mut b = Builder::new(buf.as_str());
            scan_object(buf.as_bytes(), &mut b).ok_or(Error::Malformed)?;
            b.finish()?
        };
        if !side.is_empty() {
            buf.push_str(&side);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                buf,
                json_len,
                typed,
                items,
            }),
        })
    }
}

/// Which typed claim a top-level member name is (exact case).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    Exp,
    Nbf,
    Iat,
    Aud,
    Iss,
    Scp,
    Roles,
    Tid,
    Oid,
    Sub,
    Ver,
    Azp,
    Appid,
    Idtyp,
    Display,
    PreferredUsername,
}

impl Name {
    fn of(s: &str) -> Option<Self> {
        Some(match s {
            "exp" => Self::Exp,
            "nbf" => Self::Nbf,
            "iat" => Self::Iat,
            "aud" => Self::Aud,
            "iss" => Self::Iss,
            "scp" => Self::Scp,
            "roles" => Self::Roles,
            "tid" => Self::Tid,
            "oid" => Self::Oid,
            "sub" => Self::Sub,
            "ver" => Self::Ver,
            "azp" => Self::Azp,
            "appid" => Self::Appid,
            "idtyp" => Self::Idtyp,
            "name" => Self::Display,
            "preferred_username" => Self::PreferredUsername,
            _ => return None,
        })
    }
}

/// Collects the typed claims during the scan; errors are decided at the end
/// in the order SPEC §6's tests expect (case-duplicates first, then by claim).
struct Builder<'de> {
    base: &'de str,
    typed: Typed,
    items: Items,
    side: String,
    items_from: usize,
    /// Bit i: DECISION_CLAIMS[i] seen (case-insensitively) / seen twice.
    seen_ci: u32,
    dup_ci: u32,
    /// Bit per `Name` (as u32 index): present but of the wrong type.
    bad: u32,
    has_exp: bool,
    has_aud: bool,
    has_iss: bool,
}

impl<'de> Builder<'de> {
    fn new(base: &'de str) -> Self {
        Self {
            base,
            typed: Typed::default(),
            items: Items::default(),
            side: String::new(),
            items_from: 0,
            seen_ci: 0,
            dup_ci: 0,
            bad: 0,
            has_exp: false,
            has_aud: false,
            has_iss: false,
        }
    }

    /// The span of a string: where it lies in the payload when borrowed
    /// from it, else a copy in the side buffer (after the payload).
    fn span(&mut self, s: Cow<'de, str>) -> Span {
        let base = self.base.as_ptr() as usize;
        match s {
            Cow::Borrowed(b) if (b.as_ptr() as usize) >= base => Span {
                start: (b.as_ptr() as usize - base) as u32,
                len: b.len() as u32,
            },
            other => {
                let start = self.base.len() + self.side.len();
                self.side.push_str(&other);
                Span {
                    start: start as u32,
                    len: other.len() as u32,
                }
            }
        }
    }

    fn time(&mut self, name: Name, v: &Member<'de>) -> Option<i64> {
        match v {
            Member::Unsigned(t) if *t <= MAX_TIME_CLAIM.unsigned_abs() => i64::try_from(*t).ok(),
            _ => {
                self.bad |= 1 << name as u32;
                None
            }
        }
    }

    fn string(&mut self, name: Name, v: Member<'de>) -> Option<Span> {
        match v {
            Member::Str(s) => Some(self.span(s)),
            _ => {
                self.bad |= 1 << name as u32;
                None
            }
        }
    }

    fn finish(self) -> Result<(Typed, Items, String), Error> {
        for (i, name) in DECISION_CLAIMS.iter().enumerate() {
            if self.dup_ci & (1 << i) != 0 {
                return Err(Error::bad_claim(name));
            }
        }
        let bad = |n: Name| self.bad & (1 << n as u32) != 0;
        if !self.has_exp || bad(Name::Exp) {
            return Err(Error::bad_claim("exp"));
        }
        if bad(Name::Nbf) {
            return Err(Error::bad_claim("nbf"));
        }
        if bad(Name::Iat) {
            return Err(Error::bad_claim("iat"));
        }
        if !self.has_aud || bad(Name::Aud) {
            return Err(Error::bad_claim("aud"));
        }
        if !self.has_iss || bad(Name::Iss) {
            return Err(Error::bad_claim("iss"));
        }
        for (n, text) in [
            (Name::Scp, "scp"),
            (Name::Roles, "roles"),
            (Name::Tid, "tid"),
            (Name::Oid, "oid"),
            (Name::Sub, "sub"),
            (Name::Ver, "ver"),
            (Name::Azp, "azp"),
            (Name::Appid, "appid"),
            (Name::Idtyp, "idtyp"),
        ] {
            if bad(n) {
                return Err(Error::bad_claim(text));
            }
        }
        Ok((self.typed, self.items, self.side))
    }
}

impl<'de> Fields<'de> for Builder<'de> {
    fn wants_items(&self, name: &str) -> bool {
        matches!(name, "aud" | "roles")
    }

    fn item(&mut self, value: Cow<'de, str>) {
        let span = self.span(value);
        self.items.push(span);
    }

    fn member(&mut self, key: &str, value: Member<'de>) {
        if let Some(i) = DECISION_CLAIMS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(key))
        {
            let bit = 1u32 << i;
            if self.seen_ci & bit != 0 {
                self.dup_ci |= bit;
            }
            self.seen_ci |= bit;
        }
        let from = core::mem::replace(&mut self.items_from, self.items.len);
        let Some(name) = Name::of(key) else {
            return;
        };
        match name {
            Name::Exp => {
                self.has_exp = true;
                self.typed.exp = self.time(name, &value).unwrap_or_default();
            }
            Name::Nbf => self.typed.nbf = self.time(name, &value),
            Name::Iat => self.typed.iat = self.time(name, &value),
            Name::Aud => {
                self.has_aud = true;
                self.typed.aud = match value {
                    Member::Str(s) => List::One(self.span(s)),
                    Member::Array { strings_only: true } => List::Items {
                        from,
                        to: self.items.len,
                    },
                    _ => {
                        self.bad |= 1 << name as u32;
                        List::Empty
                    }
                };
            }
            Name::Roles => {
                self.typed.roles = match value {
                    Member::Array { strings_only: true } => List::Items {
                        from,
                        to: self.items.len,
                    },
                    _ => {
                        self.bad |= 1 << name as u32;
                        List::Empty
                    }
                };
            }
            Name::Iss => {
                self.has_iss = true;
                self.typed.iss = self.string(name, value).unwrap_or_default();
            }
            Name::Scp => self.typed.scp = self.string(name, value),
            Name::Tid => self.typed.tid = self.string(name, value),
            Name::Oid => self.typed.oid = self.string(name, value),
            Name::Sub => self.typed.sub = self.string(name, value),
            Name::Ver => self.typed.ver = self.string(name, value),
            Name::Azp => self.typed.azp = self.string(name, value),
            Name::Appid => self.typed.appid = self.string(name, value),
            Name::Idtyp => self.typed.idtyp = self.string(name, value),
            Name::Display => {
                self.typed.name = match value {
                    Member::Str(s) => Some(self.span(s)),
                    _ => None,
                };
            }
            Name::PreferredUsername => {
                self.typed.preferred_username = match value {
                    Member::Str(s) => Some(self.span(s)),
                    _ => None,
                };
            }
        }
    }
}

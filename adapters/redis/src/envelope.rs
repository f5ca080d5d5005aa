//! The stored form of a document, key hashing and lock tokens.

use std::fmt::Write as _;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use entra_jwt::CachedDocument;
use sha2::{Digest, Sha256};

/// Largest document body stored or read back: the fetchers' own cap
/// ([`entra_jwt::fetch::DEFAULT_MAX_BYTES`], 1 MiB). A larger value under a
/// key is ignored without being read whole.
pub const MAX_DOCUMENT_BYTES: usize = entra_jwt::fetch::DEFAULT_MAX_BYTES;

/// The first line of every envelope.
const MAGIC: &[u8] = b"entra-jwt v1\n";

/// Longest decimal `u64` (20 digits).
const MAX_DIGITS: usize = 20;

/// Longest envelope: magic, two numbers with their newlines, and the body.
pub(crate) const MAX_ENVELOPE_BYTES: usize =
    MAGIC.len() + 2 * (MAX_DIGITS + 1) + MAX_DOCUMENT_BYTES;

/// `entra-jwt v1\n{fetched_at}\n{body length}\n{body}`; `None` when the body
/// is too large to be read back.
pub(crate) fn encode(doc: &CachedDocument) -> Option<Vec<u8>> {
    if doc.body.len() > MAX_DOCUMENT_BYTES {
        return None;
    }
    let header = format!("{}\n{}\n", doc.fetched_at, doc.body.len());
    let mut out = Vec::with_capacity(MAGIC.len() + header.len() + doc.body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&doc.body);
    Some(out)
}

/// Why a stored value was not taken as a document (never its contents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Not written by this crate (or by another version of it).
    Foreign,
    /// The header does not parse.
    BadHeader,
    /// The body is not as long as the header says (cut short, padded, or
    /// longer than [`MAX_DOCUMENT_BYTES`]).
    BadLength,
}

impl Rejected {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Foreign => "not an entra-jwt v1 envelope",
            Self::BadHeader => "malformed envelope header",
            Self::BadLength => "body length does not match the envelope header",
        }
    }
}

/// Reads back what [`encode`] wrote. Anything else is rejected.
pub(crate) fn decode(raw: &[u8]) -> Result<CachedDocument, Rejected> {
    let rest = raw.strip_prefix(MAGIC).ok_or(Rejected::Foreign)?;
    let (fetched_at, rest) = number_line(rest)?;
    let (len, body) = number_line(rest)?;
    let len = usize::try_from(len).map_err(|_| Rejected::BadLength)?;
    if len > MAX_DOCUMENT_BYTES || body.len() != len {
        return Err(Rejected::BadLength);
    }
    Ok(CachedDocument {
        body: body.to_vec(),
        fetched_at,
    })
}

/// A canonical decimal `u64` (no sign, no leading zero) followed by `\n`.
fn number_line(input: &[u8]) -> Result<(u64, &[u8]), Rejected> {
    let end = input
        .iter()
        .take(MAX_DIGITS + 1)
        .position(|&b| b == b'\n')
        .ok_or(Rejected::BadHeader)?;
    let (digits, rest) = input.split_at(end);
    let rest = rest.get(1..).ok_or(Rejected::BadHeader)?;
    let canonical = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'));
    if !canonical {
        return Err(Rejected::BadHeader);
    }
    let text = std::str::from_utf8(digits).map_err(|_| Rejected::BadHeader)?;
    let n = text.parse::<u64>().map_err(|_| Rejected::BadHeader)?;
    Ok((n, rest))
}

/// Lower-case hex SHA-256 of `url`.
pub(crate) fn url_hash(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        let _infallible = write!(hex, "{b:02x}");
    }
    hex
}

/// A lock token no other replica will hold: process id, a per-process
/// counter, the time in nanoseconds, and 128 bits from std's randomly keyed
/// hasher (seeded from the OS).
pub(crate) fn lock_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let a = RandomState::new().hash_one((pid, n, nanos));
    let b = RandomState::new().hash_one((nanos, n, pid, a));
    format!("{pid:x}-{n:x}-{nanos:x}-{a:016x}{b:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &[u8], fetched_at: u64) -> CachedDocument {
        CachedDocument {
            body: body.to_vec(),
            fetched_at,
        }
    }

    #[test]
    fn round_trip() {
        for d in [
            doc(b"{\"keys\":[]}", 1_800_000_000),
            doc(b"", 0),
            doc(b"a\nb\n\n", u64::MAX),
        ] {
            assert_eq!(decode(&encode(&d).unwrap()).unwrap(), d);
        }
        assert_eq!(
            encode(&doc(b"x", 7)).unwrap(),
            b"entra-jwt v1\n7\n1\nx".to_vec()
        );
    }

    #[test]
    fn foreign_and_corrupt_values_are_rejected() {
        let good = encode(&doc(b"{\"keys\":[]}", 42)).unwrap();
        let cases: &[(&[u8], Rejected)] = &[
            (b"", Rejected::Foreign),
            (b"{\"keys\":[]}", Rejected::Foreign),
            (b"entra-jwt v2\n42\n2\n{}", Rejected::Foreign),
            (b"entra-jwt v1\n", Rejected::BadHeader),
            (b"entra-jwt v1\n42", Rejected::BadHeader),
            (b"entra-jwt v1\n-1\n2\n{}", Rejected::BadHeader),
            (b"entra-jwt v1\n+1\n2\n{}", Rejected::BadHeader),
            (b"entra-jwt v1\n042\n2\n{}", Rejected::BadHeader),
            (b"entra-jwt v1\n\n2\n{}", Rejected::BadHeader),
            (b"entra-jwt v1\n4 2\n2\n{}", Rejected::BadHeader),
            (
                b"entra-jwt v1\n99999999999999999999\n2\n{}",
                Rejected::BadHeader,
            ),
            (
                b"entra-jwt v1\n123456789012345678901\n2\n{}",
                Rejected::BadHeader,
            ),
            (b"entra-jwt v1\n42\n3\n{}", Rejected::BadLength),
            (b"entra-jwt v1\n42\n1\n{}", Rejected::BadLength),
            (b"entra-jwt v1\n42\n2000000\n{}", Rejected::BadLength),
        ];
        for (raw, why) in cases {
            assert_eq!(decode(raw), Err(*why), "{:?}", String::from_utf8_lossy(raw));
        }
        // Truncated anywhere: rejected.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn oversized_bodies_are_not_stored() {
        assert!(encode(&doc(&vec![b'a'; MAX_DOCUMENT_BYTES + 1], 1)).is_none());
        let max = encode(&doc(&vec![b'a'; MAX_DOCUMENT_BYTES], u64::MAX)).unwrap();
        assert!(max.len() <= MAX_ENVELOPE_BYTES);
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            url_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tokens_do_not_repeat() {
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| lock_token()).collect();
        assert_eq!(tokens.len(), 1000);
    }
}

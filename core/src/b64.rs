//! Strict base64 decoding (SPEC §2 and §4).

use alloc::vec::Vec;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// base64url, no padding accepted, non-canonical trailing bits rejected
/// (GHSA-hxm8-2xgr-2p9m: two encodings of one signature must not both verify).
const URL_STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Standard base64 with canonical padding, as RFC 7517 §4.7 requires for `x5c`.
const STD_STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes strict base64url (alphabet `A-Z a-z 0-9 - _`, no padding, no whitespace).
pub(crate) fn decode_url(input: &[u8]) -> Option<Vec<u8>> {
    URL_STRICT.decode(input).ok()
}

/// Decodes strict base64url into `stack` when its decoded length fits,
/// else into `heap`: the verification path's decoder (no allocation for
/// headers and signatures of ordinary size).
pub(crate) fn decode_url_into<'b>(
    input: &[u8],
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Option<&'b [u8]> {
    if base64::decoded_len_estimate(input.len()) <= stack.len() {
        let n = URL_STRICT.decode_slice(input, stack).ok()?;
        stack.get(..n)
    } else {
        *heap = URL_STRICT.decode(input).ok()?;
        Some(heap.as_slice())
    }
}

/// Decodes strict standard base64 (for `x5c`).
pub(crate) fn decode_std(input: &[u8]) -> Option<Vec<u8>> {
    STD_STRICT.decode(input).ok()
}

/// Encodes base64url without padding (for thumbprints and tests).
#[cfg(test)]
pub(crate) fn encode_url(input: &[u8]) -> alloc::string::String {
    URL_STRICT.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_padding_whitespace_and_noncanonical_bits() {
        assert_eq!(decode_url(b"QQ").as_deref(), Some(&b"A"[..]));
        assert!(decode_url(b"QQ==").is_none(), "padding");
        assert!(decode_url(b"Q Q").is_none(), "whitespace");
        assert!(decode_url(b"QR").is_none(), "non-canonical trailing bits");
        assert!(decode_url(b"Q+").is_none(), "standard alphabet");
        assert!(decode_url(b"Q").is_none(), "impossible length");
        assert_eq!(encode_url(b"A"), "QQ");
        assert_eq!(decode_std(b"QQ==").as_deref(), Some(&b"A"[..]));
        assert!(decode_std(b"QQ").is_none(), "x5c needs padding");
    }
}

//! Pre-parsed RSA public keys and the RS256 signature provider (SPEC §4, §5).

use alloc::vec::Vec;
use rsa::BoxedUint;
use sha2::{Digest, Sha256};

use crate::limits::{MAX_RSA_BITS, MAX_RSA_EXPONENT, MIN_RSA_BITS};
use crate::vartime::MontKey;

/// Why RSA key components were refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The modulus is under [`MIN_RSA_BITS`].
    TooSmall,
    /// The modulus is over [`MAX_RSA_BITS`].
    TooLarge,
    /// The modulus is even or otherwise not an RSA modulus.
    BadModulus,
    /// The exponent is even, 1, over [`MAX_RSA_EXPONENT`], or not below the modulus.
    BadExponent,
}

/// An RSA public key, checked and pre-parsed once when its key set is loaded.
#[derive(Debug, Clone)]
pub struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
    bits: usize,
    key: rsa::PublicKey,
    /// The modulus prepared for [`VartimeBackend`]: `R^2 mod n` and `-n^-1`,
    /// computed once here, never per token.
    mont: MontKey,
}

impl PartialEq for RsaKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}
impl Eq for RsaKey {}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

impl RsaKey {
    /// Checks and pre-parses a key from its big-endian modulus and exponent.
    ///
    /// Accepts moduli of [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`] bits and odd
    /// exponents in 3..=[`MAX_RSA_EXPONENT`] (SPEC §4). Leading zero bytes are ignored.
    pub fn from_be_bytes(modulus: &[u8], exponent: &[u8]) -> Result<Self, KeyError> {
        let n = strip_zeros(modulus);
        let e = strip_zeros(exponent);
        let bits = match n.first() {
            Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
            None => return Err(KeyError::BadModulus),
        };
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooSmall);
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::TooLarge);
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::BadModulus);
        }
        // Exponent: at most 34 bits, odd, > 1 (so >= 3).
        if e.len() > 8 || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::BadExponent);
        }
        let e_val = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if !(3..=MAX_RSA_EXPONENT).contains(&e_val) {
            return Err(KeyError::BadExponent);
        }
        let key = rsa::PublicKey::new_with_size_limits(
            BoxedUint::from_be_slice_vartime(n),
            BoxedUint::from_be_slice_vartime(e),
            MIN_RSA_BITS..=MAX_RSA_BITS,
        )
        .map_err(|err| match err {
            rsa::Error::ModulusTooSmall => KeyError::TooSmall,
            rsa::Error::ModulusTooLarge => KeyError::TooLarge,
            rsa::Error::InvalidExponent
            | rsa::Error::PublicExponentTooSmall
            | rsa::Error::PublicExponentTooLarge => KeyError::BadExponent,
            _ => KeyError::BadModulus,
        })?;
        let mont = MontKey::new(n, e_val).ok_or(KeyError::BadModulus)?;
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
            bits,
            key,
            mont,
        })
    }

    /// The modulus, big-endian, without leading zeros.
    #[must_use]
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian, without leading zeros.
    #[must_use]
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// The modulus size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The signature length this key produces, in bytes (the modulus length).
    #[must_use]
    pub fn signature_len(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// The `rsa` crate's form of this key.
    #[must_use]
    pub fn as_rsa(&self) -> &rsa::PublicKey {
        &self.key
    }
}

/// Verifies RSASSA-PKCS1-v1_5 with SHA-256 signatures: the injectable crypto.
///
/// The core calls it only after choosing the key by `kid` and checking that the
/// signature is exactly [`RsaKey::signature_len`] bytes. Implementations must
/// accept exactly the signatures RFC 8017 §8.2.2 accepts (the Wycheproof suite
/// in `fixtures/wycheproof` is the test).
pub trait SignatureBackend: Send + Sync {
    /// Whether `signature` is a valid RS256 signature of `message` under `key`.
    fn verify_rs256(&self, key: &RsaKey, message: &[u8], signature: &[u8]) -> bool;
}

/// The `rsa` crate's own verification (with `sha2`): the reference the
/// default [`VartimeBackend`] is tested against, kept for callers who want it.
///
/// It runs a constant-time exponentiation even for the public exponent, so it
/// is about twice as slow as [`VartimeBackend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoBackend;

impl SignatureBackend for RustCryptoBackend {
    fn verify_rs256(&self, key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
        let digest = Sha256::digest(message);
        key.key
            .pkcs1v15_verify_prehash::<Sha256>(&digest, signature)
            .is_ok()
    }
}

/// The default backend: pure Rust, SHA-256 from `sha2` and the RSA public
/// operation in variable time on the key's precomputed Montgomery form.
///
/// Verification computes `signature^e mod n` with public values only, so a
/// variable-time exponentiation leaks nothing (the private key is never
/// involved). The padding check rebuilds the single valid EMSA-PKCS1-v1_5
/// encoding of the digest and compares it bytewise (RFC 8017 §8.2.2 steps
/// 3-4), never parsing the decrypted block. It passes every Wycheproof
/// RS256 vector and agrees with [`RustCryptoBackend`] on mutated signatures,
/// messages and keys (`core/tests/wycheproof.rs`, `core/tests/differential.rs`).
/// A verification allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct VartimeBackend;

impl SignatureBackend for VartimeBackend {
    fn verify_rs256(&self, key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(message).into();
        key.mont.verify_pkcs1_sha256(&digest, signature)
    }
}

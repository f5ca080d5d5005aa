//! The RS256 differential (SPEC §5): the core's backends (the default
//! [`VartimeBackend`] and [`RustCryptoBackend`]), the `rsa` crate's own
//! `pkcs1v15_verify` on a key built afresh, and a by-the-RFC reference on
//! `num-bigint` must agree on accept/reject for every (key, message,
//! signature) whose key `RsaKey::from_be_bytes` accepts.
//!
//! Input format (so seeds can be written by hand): one mode byte, then
//! fields, each a big-endian `u16` length and that many bytes (a short input
//! yields empty fields). Modes, by `mode % 4`:
//!
//! - 0, raw: `n`, `e`, `message`, `signature` (Wycheproof vectors are seeds).
//! - 1, encoded message near a valid one: `key`, `message`, `head_mask`,
//!   `tail_mask`. EM is the correct EMSA-PKCS1-v1_5 encoding of SHA-256(message)
//!   XOR `head_mask` (from the first byte) XOR `tail_mask` (aligned to the last
//!   byte, where the DigestInfo and hash are); the signature is RSASP1(EM) with
//!   the test tenant's private key (CRT on `num-bigint`; the 2048-bit keys
//!   only, to keep executions fast), so all-zero masks give a valid signature and
//!   small masks give the near misses (PS, separator, DigestInfo, hash) a lax
//!   verifier might accept.
//! - 2, raw encoded message: `key`, `message`, `em` (left-padded or cut to the
//!   modulus length), signed with RSASP1 as in mode 1.
//! - 3, a real signature mutated: `key`, `message_mask`, `signature_mask`,
//!   `modulus_mask`, `exponent`, `length_change`: a fixed message and its valid
//!   signature, each XORed with its mask; the modulus XORed too; the exponent
//!   replaced when the field is not empty; the signature grown or cut by the
//!   first byte of `length_change` (as an `i8`).
//!
//! `key` is the first byte of its field modulo the test tenant keys (modes 1
//! and 2: the three 2048-bit ones; mode 3: all five).

use std::sync::{Mutex, OnceLock, PoisonError};

use entra_jwt_core::{RsaKey, RustCryptoBackend, SignatureBackend, VartimeBackend};
use entra_jwt_test_tenant::{Key, TestTenant};
use num_bigint::BigUint;
use rsa::BoxedUint;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use sha2::{Digest as _, Sha256};

/// DER of the DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1), with the NULL parameters.
pub const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The fixed message mode 3 signs.
pub const MODE3_MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJmdXp6IjoicnMyNTYifQ";

/// Reads the mode byte and length-prefixed fields.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }
    fn field(&mut self) -> &'a [u8] {
        let len = usize::from(u16::from_be_bytes([self.byte(), self.byte()]));
        let (field, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        field
    }
}

/// Encodes a mode and fields in the input format (for the seeds).
#[must_use]
pub fn encode(mode: u8, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![mode];
    for field in fields {
        let len = u16::try_from(field.len()).expect("field under 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// The 2048-bit test keys, whose private operation is cheap enough per execution.
const SIGNING_KEYS: [Key; 3] = [Key::Rsa2048, Key::Rsa2048Next, Key::Attacker];

fn pick<T: Copy>(from: &[T], selector: &[u8]) -> T {
    from[usize::from(selector.first().copied().unwrap_or(0)) % from.len()]
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) of SHA-256(`message`) for a `k`-byte modulus.
#[must_use]
pub fn emsa_pkcs1_v15(message: &[u8], k: usize) -> Vec<u8> {
    let t_len = SHA256_DIGEST_INFO.len() + 32;
    let mut em = vec![0x00, 0x01];
    em.resize(k - t_len - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&SHA256_DIGEST_INFO);
    em.extend_from_slice(&Sha256::digest(message));
    em
}

/// A private key in CRT form, on `num-bigint`.
struct Crt {
    n: BigUint,
    p: BigUint,
    q: BigUint,
    dp: BigUint,
    dq: BigUint,
    qinv: BigUint,
    k: usize,
}

fn to_big(x: &BoxedUint) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes_trimmed_vartime())
}

fn crt(key: Key) -> &'static Crt {
    static KEYS: OnceLock<Vec<Crt>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        SIGNING_KEYS
            .iter()
            .map(|&k| {
                let private = TestTenant::get().private_key(k);
                let [p, q] = private.primes() else {
                    panic!("two-prime keys");
                };
                let (p, q) = (to_big(p.as_ref()), to_big(q.as_ref()));
                let d = to_big(private.d());
                let one = BigUint::from(1u8);
                Crt {
                    n: &p * &q,
                    dp: &d % (&p - &one),
                    dq: &d % (&q - &one),
                    qinv: q.modpow(&(&p - BigUint::from(2u8)), &p),
                    k: private.size(),
                    p,
                    q,
                }
            })
            .collect()
    });
    &keys[SIGNING_KEYS.iter().position(|&k| k == key).unwrap()]
}

/// RSASP1 (RFC 8017 §5.2.1, CRT form) with the test tenant's private `key`:
/// the signature whose RSAVP1 is `em`, or `None` when `em` is not below the modulus.
fn rsasp1(key: Key, em: &[u8]) -> Option<Vec<u8>> {
    let c = crt(key);
    let m = BigUint::from_bytes_be(em);
    if m >= c.n {
        return None;
    }
    let s1 = (&m % &c.p).modpow(&c.dp, &c.p);
    let s2 = (&m % &c.q).modpow(&c.dq, &c.q);
    let h = (&c.qinv * ((&s1 + &c.p - (&s2 % &c.p)) % &c.p)) % &c.p;
    let s = (s2 + h * &c.q).to_bytes_be();
    let mut out = vec![0; c.k - s.len()];
    out.extend_from_slice(&s);
    Some(out)
}

fn xor_from_start(target: &mut [u8], mask: &[u8]) {
    target.iter_mut().zip(mask).for_each(|(t, m)| *t ^= m);
}

fn xor_from_end(target: &mut [u8], mask: &[u8]) {
    target
        .iter_mut()
        .rev()
        .zip(mask.iter().rev())
        .for_each(|(t, m)| *t ^= m);
}

/// The `rsa` crate's own key for `key`, built afresh from its components.
fn rsa_crate_key(key: &RsaKey) -> rsa::PublicKey {
    rsa::PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice_vartime(key.modulus()),
        BoxedUint::from_be_slice_vartime(key.exponent()),
        2048..=4096,
    )
    .expect("the rsa crate accepts every key RsaKey accepts")
}

/// The `rsa` crate's own verification of an RS256 signature under `key`
/// (an `rsa::PublicKey` built afresh from its components).
#[must_use]
pub fn rsa_crate_verifies(key: &RsaKey, message: &[u8], signature: &[u8]) -> bool {
    rsa_crate_key(key)
        .pkcs1v15_verify::<Sha256>(message, signature)
        .is_ok()
}

/// RFC 8017 §8.2.2 on `num-bigint`: length check, range check, RSAVP1, and
/// byte equality with the one correct encoding (no parsing of EM at all).
#[must_use]
pub fn reference_verifies(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let n = BigUint::from_bytes_be(n);
    let e = BigUint::from_bytes_be(e);
    let k = usize::try_from(n.bits()).unwrap().div_ceil(8);
    if signature.len() != k {
        return false;
    }
    let s = BigUint::from_bytes_be(signature);
    if s >= n {
        return false;
    }
    let m = s.modpow(&e, &n).to_bytes_be();
    let mut em = vec![0; k - m.len()];
    em.extend_from_slice(&m);
    em == emsa_pkcs1_v15(message, k)
}

/// The last key the differential prepared: the fuzzer mutates signatures and
/// messages far more often than keys, and preparing a key (Montgomery
/// parameters, twice) costs more than a verification.
struct Prepared {
    n: Vec<u8>,
    e: Vec<u8>,
    key: Option<(RsaKey, rsa::PublicKey)>,
}

/// Asserts the verifiers agree on one case (nothing to check when the core
/// refuses the key).
fn agree(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) {
    static LAST: Mutex<Option<Prepared>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    if !last.as_ref().is_some_and(|p| p.n == n && p.e == e) {
        *last = Some(Prepared {
            n: n.to_vec(),
            e: e.to_vec(),
            key: RsaKey::from_be_bytes(n, e).ok().map(|k| {
                let public = rsa_crate_key(&k);
                (k, public)
            }),
        });
    }
    let Some((key, public)) = last.as_ref().and_then(|p| p.key.as_ref()) else {
        return;
    };
    let reference = reference_verifies(n, e, message, signature);
    let vartime = VartimeBackend.verify_rs256(key, message, signature);
    let rust_crypto = RustCryptoBackend.verify_rs256(key, message, signature);
    // The core's path: the length rule of SPEC §2 first, then the backend.
    let core_path = signature.len() == key.signature_len() && vartime;
    let rsa_crate = public.pkcs1v15_verify::<Sha256>(message, signature).is_ok();
    assert_eq!(
        (vartime, rust_crypto, core_path, rsa_crate),
        (reference, reference, reference, reference),
        "(vartime, rust-crypto, core path, rsa crate) vs the RFC 8017 reference"
    );
}

fn mode3_signatures() -> &'static [Vec<u8>] {
    static SIGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SIGS.get_or_init(|| {
        Key::ALL
            .iter()
            .map(|&k| TestTenant::get().signature(k, MODE3_MESSAGE))
            .collect()
    })
}

fn public_parts(key: Key) -> (Vec<u8>, Vec<u8>) {
    let public = TestTenant::get().public_key(key);
    (
        public.n().as_ref().to_be_bytes_trimmed_vartime().to_vec(),
        public.e().to_be_bytes_trimmed_vartime().to_vec(),
    )
}

/// The RS256 differential target: see the module docs for the input format.
pub fn rs256(data: &[u8]) {
    let mut f = Fields(data);
    match f.byte() % 4 {
        0 => {
            let (n, e, message, signature) = (f.field(), f.field(), f.field(), f.field());
            agree(n, e, message, signature);
        }
        mode @ (1 | 2) => {
            let key = pick(&SIGNING_KEYS, f.field());
            let message = f.field();
            let (n, e) = public_parts(key);
            let k = n.len();
            let em = if mode == 1 {
                let mut em = emsa_pkcs1_v15(message, k);
                xor_from_start(&mut em, f.field());
                xor_from_end(&mut em, f.field());
                em
            } else {
                let raw = f.field();
                let mut em = vec![0; k.saturating_sub(raw.len())];
                em.extend_from_slice(&raw[raw.len().saturating_sub(k)..]);
                em
            };
            let Some(signature) = rsasp1(key, &em) else {
                return;
            };
            agree(&n, &e, message, &signature);
            // The reference knows the answer without any verifier.
            let valid = em == emsa_pkcs1_v15(message, k);
            assert_eq!(reference_verifies(&n, &e, message, &signature), valid);
        }
        _ => {
            let key = pick(&Key::ALL, f.field());
            let index = Key::ALL.iter().position(|&k| k == key).unwrap();
            let mut message = MODE3_MESSAGE.to_vec();
            xor_from_start(&mut message, f.field());
            let mut signature = mode3_signatures()[index].clone();
            xor_from_start(&mut signature, f.field());
            let (mut n, mut e) = public_parts(key);
            xor_from_start(&mut n, f.field());
            let exponent = f.field();
            if !exponent.is_empty() {
                e = exponent.to_vec();
            }
            let change = f.field().first().map_or(0, |&b| b as i8);
            if change < 0 {
                signature.truncate(
                    signature
                        .len()
                        .saturating_sub(usize::from(change.unsigned_abs())),
                );
            } else {
                signature.resize(signature.len() + usize::from(change.unsigned_abs()), 0);
            }
            agree(&n, &e, &message, &signature);
        }
    }
}

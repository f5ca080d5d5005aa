//! The RSA public operation in variable time, and the RS256 check built on it.
//!
//! Verifying a signature computes `s^e mod n` with the *public* key on the
//! *public* signature: there is no secret to leak, so the exponentiation may
//! take time that depends on its inputs. The `rsa` crate runs a constant-time
//! windowed exponentiation even here (about 37 modular multiplications where
//! `e = 65537` needs 17); this module does plain left-to-right
//! square-and-multiply over `e` with Montgomery arithmetic on `u64` limbs:
//!
//! - Montgomery multiplication by CIOS (coarsely integrated operand scanning),
//!   and a dedicated squaring (half the limb products) followed by a separate
//!   Montgomery reduction;
//! - `R^2 mod n` and `-n^-1 mod 2^64` computed once per key, when the key set is
//!   parsed (see [`MontKey::new`]);
//! - the last multiplication of the ladder uses the signature itself rather
//!   than its Montgomery form, so its output is already out of Montgomery form
//!   (one multiplication saved): `e = 65537` costs 1 + 16 squarings + 1.
//!
//! The EMSA-PKCS1-v1_5 check then follows RFC 8017 §8.2.2 steps 3-4: it
//! builds the one encoded message a valid signature can have and compares it
//! bytewise with the result; nothing is parsed.
//!
//! Limbs are little-endian (`limbs[0]` is the least significant). Nothing
//! here allocates per verification: scratch space is on the stack.

use alloc::vec::Vec;

use crate::limits::MAX_RSA_BITS;

/// Most limbs of a modulus this module handles (4096 bits).
const MAX_LIMBS: usize = MAX_RSA_BITS / 64;
/// Longest modulus in bytes.
const MAX_BYTES: usize = MAX_RSA_BITS / 8;

/// The DER prefix of an RFC 8017 DigestInfo for SHA-256 (§9.2 note 1): the
/// AlgorithmIdentifier with its NULL parameters, then the 32-byte OCTET STRING header.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A modulus prepared for Montgomery arithmetic, with its public exponent.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MontKey {
    /// The modulus, little-endian limbs, no zero top limb.
    n: Vec<u64>,
    /// `R^2 mod n` with `R = 2^(64 * limbs)`.
    rr: Vec<u64>,
    /// `-n^-1 mod 2^64`.
    n0: u64,
    /// The public exponent (odd, at least 3, at most 34 bits).
    e: u64,
    /// The modulus length in bytes (the signature length).
    len: usize,
}

impl core::fmt::Debug for MontKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MontKey")
            .field("limbs", &self.n.len())
            .field("e", &self.e)
            .finish_non_exhaustive()
    }
}

impl MontKey {
    /// Prepares an odd modulus of 2048..=4096 bits (big-endian, no leading
    /// zero byte) and an odd exponent >= 3. `None` for anything else: the
    /// caller has already checked, so this is a second line of defence.
    pub(crate) fn new(n_be: &[u8], e: u64) -> Option<Self> {
        let len = n_be.len();
        if len == 0 || len > MAX_BYTES || n_be.first() == Some(&0) || e < 3 || e & 1 == 0 {
            return None;
        }
        let n = limbs_from_be(n_be);
        if n.first().is_none_or(|l| l & 1 == 0) || n.len() > MAX_LIMBS {
            return None;
        }
        let n0 = neg_inverse(*n.first()?);
        let rr = r_squared(&n, n0)?;
        Some(Self { n, rr, n0, e, len })
    }

    /// RSASSA-PKCS1-v1_5 verification with SHA-256 of an already computed
    /// `digest` (RFC 8017 §8.2.2): `signature` must be exactly the modulus
    /// length and below the modulus, and `signature^e mod n` must equal the
    /// one valid encoded message for `digest`, byte for byte.
    pub(crate) fn verify_pkcs1_sha256(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        let mut em = [0u8; MAX_BYTES];
        let Some(em) = em.get_mut(..self.len) else {
            return false;
        };
        if signature.len() != self.len || !self.public_op(signature, em) {
            return false;
        }
        expected_em_matches(em, digest)
    }

    /// `out = signature^e mod n`, big-endian, `out.len()` = modulus length.
    /// False when the signature representative is not below `n` (RFC 8017
    /// §5.2.2 step 1) or the lengths disagree.
    ///
    /// The usual sizes (2048, 3072, 4096 bits) run an instance compiled for
    /// that exact limb count: with the primitives inlined, every loop has a
    /// constant trip count the compiler unrolls (about 10% faster).
    fn public_op(&self, signature: &[u8], out: &mut [u8]) -> bool {
        match self.n.len() {
            32 => self.public_op_in::<32>(signature, out),
            48 => self.public_op_in::<48>(signature, out),
            64 => self.public_op_in::<64>(signature, out),
            k => self.public_op_dyn(k, signature, out),
        }
    }

    /// [`public_op`](Self::public_op) for exactly `K` limbs.
    fn public_op_in<const K: usize>(&self, signature: &[u8], out: &mut [u8]) -> bool {
        let (mut s, mut a, mut x, mut y) = ([0u64; K], [0u64; K], [0u64; K], [0u64; K]);
        let (Ok(n), Ok(rr)) = (
            <&[u64; K]>::try_from(self.n.as_slice()),
            <&[u64; K]>::try_from(self.rr.as_slice()),
        ) else {
            return false;
        };
        self.ladder(n, rr, signature, out, &mut s, &mut a, &mut x, &mut y)
    }

    /// [`public_op`](Self::public_op) for any limb count up to [`MAX_LIMBS`].
    fn public_op_dyn(&self, k: usize, signature: &[u8], out: &mut [u8]) -> bool {
        let mut bufs = [[0u64; MAX_LIMBS]; 4];
        let [s, a, x, y] = &mut bufs;
        let (Some(s), Some(a), Some(x), Some(y)) = (
            s.get_mut(..k),
            a.get_mut(..k),
            x.get_mut(..k),
            y.get_mut(..k),
        ) else {
            return false;
        };
        self.ladder(&self.n, &self.rr, signature, out, s, a, x, y)
    }

    /// Square-and-multiply over `e`, on scratch slices of the modulus' length.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn ladder(
        &self,
        n: &[u64],
        rr: &[u64],
        signature: &[u8],
        out: &mut [u8],
        s: &mut [u64],
        a: &mut [u64],
        x: &mut [u64],
        y: &mut [u64],
    ) -> bool {
        if signature.len() != self.len || out.len() != self.len {
            return false;
        }
        limbs_into(signature, s);
        if !less_than(s, n) {
            return false;
        }
        // a = s * R mod n (Montgomery form of s).
        mont_mul(a, s, rr, n, self.n0);
        x.copy_from_slice(a);
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            mont_sqr(y, x, n, self.n0);
            if (self.e >> bit) & 1 == 1 {
                if bit == 0 {
                    // Multiplying by s itself (not s*R) leaves Montgomery form:
                    // x*R * s / R = x*s.
                    mont_mul(x, y, s, n, self.n0);
                } else {
                    mont_mul(x, y, a, n, self.n0);
                }
            } else {
                x.copy_from_slice(y);
            }
        }
        limbs_to_be(x, out);
        true
    }
}

/// Whether `em` is `0x00 0x01 FF..FF 0x00 || DigestInfo(SHA-256) || digest`
/// (RFC 8017 §9.2 steps 2-5, then §8.2.2 step 4: compare, never parse).
fn expected_em_matches(em: &[u8], digest: &[u8; 32]) -> bool {
    let t_len = SHA256_DIGEST_INFO.len() + digest.len();
    // §9.2 step 3: emLen < tLen + 11 is "intended encoded message length too short".
    let Some(ps_len) = em.len().checked_sub(t_len + 3) else {
        return false;
    };
    if ps_len < 8 {
        return false;
    }
    let (head, rest) = em.split_at(2);
    let (ps, rest) = rest.split_at(ps_len);
    let (sep, rest) = rest.split_at(1);
    let (info, hash) = rest.split_at(SHA256_DIGEST_INFO.len());
    head == [0x00, 0x01]
        && ps.iter().all(|&b| b == 0xff)
        && sep == [0x00]
        && info == SHA256_DIGEST_INFO
        && hash == digest
}

/// Big-endian bytes to little-endian limbs (as many limbs as needed).
fn limbs_from_be(be: &[u8]) -> Vec<u64> {
    be.rchunks(8)
        .map(|chunk| chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
        .collect()
}

/// Big-endian bytes into exactly `out.len()` little-endian limbs (the bytes
/// must fit; extra limbs are zeroed).
fn limbs_into(be: &[u8], out: &mut [u64]) {
    out.fill(0);
    for (limb, chunk) in out.iter_mut().zip(be.rchunks(8)) {
        *limb = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    }
}

/// Little-endian limbs to exactly `out.len()` big-endian bytes (the value must fit).
fn limbs_to_be(limbs: &[u64], out: &mut [u8]) {
    for (chunk, limb) in out.rchunks_mut(8).zip(limbs) {
        for (dst, src) in chunk.iter_mut().rev().zip(limb.to_le_bytes()) {
            *dst = src;
        }
    }
}

/// `a < b` for equal-length limb slices.
fn less_than(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` over equal lengths; returns the borrow out.
fn sub_in_place(a: &mut [u64], b: &[u64]) -> u64 {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (d2, b2) = d1.overflowing_sub(borrow);
        *x = d2;
        borrow = u64::from(b1 | b2);
    }
    borrow
}

/// `-m^-1 mod 2^64` for odd `m` (Newton's iteration; each step doubles the
/// correct low bits, from 3 to 96).
fn neg_inverse(m: u64) -> u64 {
    let mut inv = m;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(m.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// `x = 2x mod n`, for `x < n`.
fn double_mod(x: &mut [u64], n: &[u64]) {
    let mut carry = 0u64;
    for limb in x.iter_mut() {
        let next = *limb >> 63;
        *limb = (*limb << 1) | carry;
        carry = next;
    }
    if carry == 1 || !less_than(x, n) {
        sub_in_place(x, n);
    }
}

/// `R^2 mod n`, `R = 2^(64k)`: start from `2^(bits-1) < n`, double up to
/// `2^(64k + j) = R * 2^j mod n`, then square `m` times in Montgomery form
/// (each squaring of `R * 2^i` gives `R * 2^(2i)`), where `j * 2^m = 64k`.
/// About a dozen Montgomery squarings: done once per key, at key-set load.
fn r_squared(n: &[u64], n0: u64) -> Option<Vec<u64>> {
    let k = n.len();
    let top = *n.last()?;
    if top == 0 {
        return None;
    }
    let bits = 64 * k - top.leading_zeros() as usize;
    let tz = k.trailing_zeros() as usize;
    let j = k >> tz;
    let squarings = 6 + tz;
    let mut x = alloc::vec![0u64; k];
    *x.get_mut((bits - 1) / 64)? = 1u64 << ((bits - 1) % 64);
    for _ in 0..(64 * k + j - (bits - 1)) {
        double_mod(&mut x, n);
    }
    let mut y = alloc::vec![0u64; k];
    for _ in 0..squarings {
        mont_sqr(&mut y, &x, n, n0);
        core::mem::swap(&mut x, &mut y);
    }
    Some(x)
}

#[inline(always)]
fn mac(acc: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let v = u128::from(acc) + u128::from(a) * u128::from(b) + u128::from(carry);
    (v as u64, (v >> 64) as u64)
}

#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let v = u128::from(a) + u128::from(b) + u128::from(carry);
    (v as u64, (v >> 64) as u64)
}

/// `r = a * b / R mod n` (CIOS). All slices have the modulus' limb count;
/// `a, b < n`; the result is fully reduced (`< n`).
#[inline(always)]
fn mont_mul(r: &mut [u64], a: &[u64], b: &[u64], n: &[u64], n0: u64) {
    let mut t_buf = [0u64; MAX_LIMBS];
    let Some(t) = t_buf.get_mut(..n.len()) else {
        return;
    };
    // t (k limbs) plus two top words hi0, hi1 held in registers.
    let mut hi0 = 0u64;
    for &ai in a {
        // t += ai * b
        let mut c = 0u64;
        for (tj, &bj) in t.iter_mut().zip(b) {
            (*tj, c) = mac(*tj, ai, bj, c);
        }
        let (s, hi1) = adc(hi0, c, 0);
        hi0 = s;
        // t = (t + m * n) / 2^64, with m making the low limb vanish.
        let Some((first, rest)) = t.split_first_mut() else {
            return;
        };
        let m = first.wrapping_mul(n0);
        let mut n_iter = n.iter();
        let Some(&n_first) = n_iter.next() else {
            return;
        };
        let (_, mut c) = mac(*first, m, n_first, 0);
        let mut prev: &mut u64 = first;
        for (tj, &nj) in rest.iter_mut().zip(n_iter) {
            let (lo, hi) = mac(*tj, m, nj, c);
            *prev = lo;
            c = hi;
            prev = tj;
        }
        let (lo, hi) = adc(hi0, c, 0);
        *prev = lo;
        hi0 = hi1 + hi;
    }
    if hi0 != 0 || !less_than(t, n) {
        sub_in_place(t, n);
    }
    r.copy_from_slice(t);
}

/// `r = a^2 / R mod n`: the full square with each cross product computed once,
/// then a Montgomery reduction. `a < n`; the result is fully reduced.
#[inline(always)]
fn mont_sqr(r: &mut [u64], a: &[u64], n: &[u64], n0: u64) {
    let k = n.len();
    let mut p_buf = [0u64; 2 * MAX_LIMBS];
    let Some(p) = p_buf.get_mut(..2 * k) else {
        return;
    };
    // Cross products a[i] * a[j], i < j, at p[i + j].
    for (i, &ai) in a.iter().enumerate() {
        let (Some(dst), Some(rest)) = (p.get_mut(2 * i + 1..), a.get(i + 1..)) else {
            break;
        };
        let mut c = 0u64;
        for (dj, &aj) in dst.iter_mut().zip(rest) {
            (*dj, c) = mac(*dj, ai, aj, c);
        }
        if let Some(slot) = dst.get_mut(rest.len()) {
            *slot = c;
        }
    }
    // Double them and add the squares a[i]^2 at p[2i].
    let mut shifted_out = 0u64;
    let mut c = 0u64;
    for (pair, &ai) in p.chunks_exact_mut(2).zip(a) {
        if let [lo, hi] = pair {
            let dlo = (*lo << 1) | shifted_out;
            let dhi = (*hi << 1) | (*lo >> 63);
            shifted_out = *hi >> 63;
            let sq = u128::from(ai) * u128::from(ai);
            let (l, c1) = adc(dlo, sq as u64, c);
            let (h, c2) = adc(dhi, (sq >> 64) as u64, c1);
            *lo = l;
            *hi = h;
            c = c2;
        }
    }
    // Montgomery reduction of the 2k-limb square.
    let mut top = 0u64;
    for i in 0..k {
        let Some(w) = p.get_mut(i..) else {
            return;
        };
        let Some(&w0) = w.first() else {
            return;
        };
        let m = w0.wrapping_mul(n0);
        let mut c = 0u64;
        for (wj, &nj) in w.iter_mut().zip(n) {
            (*wj, c) = mac(*wj, m, nj, c);
        }
        if let Some(slot) = w.get_mut(k) {
            let (s, t) = adc(*slot, c, top);
            *slot = s;
            top = t;
        }
    }
    let Some(result) = p.get_mut(k..) else {
        return;
    };
    if top != 0 || !less_than(result, n) {
        sub_in_place(result, n);
    }
    r.copy_from_slice(result);
}

#[cfg(test)]
#[allow(deprecated)] // BoxedUint::mul: the reference arithmetic, tests only
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), for tests only.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn to_big(limbs: &[u64]) -> rsa::BoxedUint {
        let mut be = alloc::vec![0u8; limbs.len() * 8];
        limbs_to_be(limbs, &mut be);
        rsa::BoxedUint::from_be_slice_vartime(&be)
    }

    fn bytes(x: &rsa::BoxedUint) -> Vec<u8> {
        let b = x.to_be_bytes();
        let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
        b[first..].to_vec()
    }

    /// Montgomery multiplication, squaring, `R^2` and the whole public
    /// operation against the `rsa` crate's big integers, on random odd moduli
    /// of 2048, 2112, 3072 and 4096 bits.
    #[test]
    fn montgomery_matches_bigint() {
        use rsa::BoxedUint;
        use rsa::traits::PublicKeyParts;
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for k in [32usize, 33, 48, 64] {
            let mut n: Vec<u64> = (0..k).map(|_| rng.next()).collect();
            n[0] |= 1;
            n[k - 1] |= 1 << 63;
            let n0 = neg_inverse(n[0]);
            assert_eq!(n[0].wrapping_mul(n0.wrapping_neg()), 1);
            let rr = r_squared(&n, n0).unwrap();
            let key = rsa::PublicKey::new(to_big(&n), BoxedUint::from(65537u64)).unwrap();
            let nz = key.n();
            let mut r_be = alloc::vec![0u8; 8 * k + 1];
            r_be[0] = 1;
            let r_mod = BoxedUint::from_be_slice_vartime(&r_be).rem_vartime(nz);
            assert_eq!(
                bytes(&to_big(&rr)),
                bytes(&r_mod.mul(&r_mod).rem_vartime(nz))
            );
            let mut n_be = alloc::vec![0u8; 8 * k];
            limbs_to_be(&n, &mut n_be);
            let mk = MontKey::new(&n_be, 65537).unwrap();
            for _ in 0..10 {
                let mut a: Vec<u64> = (0..k).map(|_| rng.next()).collect();
                let mut b: Vec<u64> = (0..k).map(|_| rng.next()).collect();
                a[k - 1] >>= 1;
                b[k - 1] >>= 1;
                let (ab, bb) = (to_big(&a), to_big(&b));
                let mut r1 = alloc::vec![0u64; k];
                let mut r2 = alloc::vec![0u64; k];
                let mut r3 = alloc::vec![0u64; k];
                mont_mul(&mut r1, &a, &b, &n, n0);
                mont_sqr(&mut r2, &a, &n, n0);
                mont_mul(&mut r3, &a, &a, &n, n0);
                assert_eq!(r2, r3, "square = mul(a, a)");
                assert!(less_than(&r1, &n) && less_than(&r2, &n));
                let lhs = to_big(&r1).mul(&r_mod).rem_vartime(nz);
                assert_eq!(bytes(&lhs), bytes(&ab.mul(&bb).rem_vartime(nz)));
                // The public operation: a^65537 by repeated squaring on bigints.
                let mut a_be = alloc::vec![0u8; mk.len];
                limbs_to_be(&a, &mut a_be);
                let mut out = alloc::vec![0u8; mk.len];
                assert!(mk.public_op(&a_be, &mut out));
                let mut want = ab.clone();
                for _ in 0..16 {
                    want = want.mul(&want).rem_vartime(nz);
                }
                want = want.mul(&ab).rem_vartime(nz);
                assert_eq!(bytes(&BoxedUint::from_be_slice_vartime(&out)), bytes(&want));
            }
            // A representative equal to or above n is refused.
            let mut out = alloc::vec![0u8; mk.len];
            assert!(!mk.public_op(&n_be, &mut out));
        }
    }

    #[test]
    fn encoded_message_is_compared_exactly() {
        let digest = [7u8; 32];
        let mut em = alloc::vec![0xffu8; 256];
        em[0] = 0;
        em[1] = 1;
        let t = 19 + 32;
        em[256 - t - 1] = 0;
        em[256 - t..256 - 32].copy_from_slice(&SHA256_DIGEST_INFO);
        em[256 - 32..].copy_from_slice(&digest);
        assert!(expected_em_matches(&em, &digest));
        for i in 0..em.len() {
            let mut bad = em.clone();
            bad[i] ^= 0x01;
            assert!(!expected_em_matches(&bad, &digest), "byte {i}");
        }
        assert!(!expected_em_matches(
            &em[..60],
            &digest[..].try_into().unwrap()
        ));
    }
}

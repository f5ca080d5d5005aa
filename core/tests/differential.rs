//! SPEC §5: the default backend ([`VartimeBackend`], variable-time Montgomery
//! exponentiation) agrees with the `rsa` crate's own verification
//! ([`RustCryptoBackend`]) on every input of a deterministic generator: valid
//! signatures by the test tenant's 2048/3072/4096-bit keys, then mutated
//! signatures (bit flips, random bytes, out-of-range values, wrong lengths),
//! mutated messages, mutated keys (modulus bits, exponents), and correctly
//! signed but wrongly encoded messages (every way a PKCS#1 v1.5 block can
//! deviate: DigestInfo without NULL, other hash OIDs, wrong lengths, trailing
//! or missing bytes, short padding).
//!
//! No proptest: a seeded xorshift generator makes every run check the same
//! cases, and a failure prints the case. The fuzz target explores further.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use entra_jwt_core::{RsaKey, RustCryptoBackend, SignatureBackend, VartimeBackend};
use entra_jwt_test_tenant::{Key, TestTenant};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign};
use sha2::{Digest, Sha256};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    accepted: usize,
}

impl Tally {
    /// Both backends must give the same answer; returns it.
    fn check(&mut self, what: &str, key: &RsaKey, msg: &[u8], sig: &[u8]) -> bool {
        let fast = VartimeBackend.verify_rs256(key, msg, sig);
        let reference = RustCryptoBackend.verify_rs256(key, msg, sig);
        assert_eq!(
            fast,
            reference,
            "{what}: vartime {fast}, rsa crate {reference} (key {} bits, msg {} bytes, sig {} bytes)",
            key.bits(),
            msg.len(),
            sig.len()
        );
        self.cases += 1;
        self.accepted += usize::from(fast);
        fast
    }
}

fn rsa_key(key: Key) -> RsaKey {
    let public = TestTenant::get().public_key(key);
    RsaKey::from_be_bytes(&public.n().to_be_bytes(), &public.e().to_be_bytes()).unwrap()
}

const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Signs `t` as the whole payload of a PKCS#1 v1.5 block (`00 01 FF.. 00 t`).
fn sign_block(key: Key, t: &[u8]) -> Option<Vec<u8>> {
    TestTenant::get()
        .private_key(key)
        .sign(Pkcs1v15Sign::new_unprefixed(), t)
        .ok()
}

#[test]
fn vartime_agrees_with_the_rsa_crate() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    let keys = [
        Key::Rsa2048,
        Key::Rsa3072,
        Key::Rsa4096,
        Key::Rsa2048Next,
        Key::Attacker,
    ];
    for &which in &keys {
        let key = rsa_key(which);
        let other = rsa_key(if which == Key::Rsa2048 {
            Key::Rsa2048Next
        } else {
            Key::Rsa2048
        });
        let len = key.signature_len();
        for round in 0..12 {
            let msg_len = rng.below(1200);
            let msg = rng.bytes(msg_len);
            let sig = TestTenant::get().signature(which, &msg);
            assert!(tally.check("valid", &key, &msg, &sig), "round {round}");
            tally.check("other key", &other, &msg, &sig);

            // Signature mutations.
            for _ in 0..8 {
                let mut s = sig.clone();
                let bit = rng.below(len * 8);
                s[bit / 8] ^= 1 << (bit % 8);
                tally.check("sig bit flip", &key, &msg, &s);
            }
            for _ in 0..4 {
                let mut s = sig.clone();
                let i = rng.below(len);
                s[i] = rng.next() as u8;
                tally.check("sig byte", &key, &msg, &s);
            }
            tally.check("sig random", &key, &msg, &rng.bytes(len));
            tally.check("sig zero", &key, &msg, &vec![0; len]);
            let mut one = vec![0; len];
            one[len - 1] = 1;
            tally.check("sig one", &key, &msg, &one);
            tally.check("sig = n", &key, &msg, key.modulus());
            let mut n_minus_1 = key.modulus().to_vec();
            n_minus_1[len - 1] -= 1; // n is odd
            tally.check("sig = n - 1", &key, &msg, &n_minus_1);
            tally.check("sig all ones", &key, &msg, &vec![0xff; len]);
            // s + n (when it still fits the length) is the same residue, out of range.
            let s_plus_n = BoxedUint::from_be_slice_vartime(&sig)
                .wrapping_add(BoxedUint::from_be_slice_vartime(key.modulus()));
            let bytes = s_plus_n.to_be_bytes();
            if bytes.len() >= len && bytes[..bytes.len() - len].iter().all(|&b| b == 0) {
                tally.check("sig + n", &key, &msg, &bytes[bytes.len() - len..]);
            }
            tally.check("sig short", &key, &msg, &sig[1..]);
            let mut long = vec![0];
            long.extend_from_slice(&sig);
            tally.check("sig long (leading zero)", &key, &msg, &long);
            tally.check("sig empty", &key, &msg, &[]);

            // Message mutations.
            if !msg.is_empty() {
                let mut m = msg.clone();
                let bit = rng.below(m.len() * 8);
                m[bit / 8] ^= 1 << (bit % 8);
                tally.check("msg bit flip", &key, &m, &sig);
                tally.check("msg truncated", &key, &msg[..msg.len() - 1], &sig);
            }
            let mut m = msg.clone();
            m.push(b'.');
            tally.check("msg extended", &key, &m, &sig);

            // Key mutations: a modulus bit (kept odd and of its size), other exponents.
            let mut n = key.modulus().to_vec();
            let bit = 1 + rng.below(len * 8 - 2);
            n[len - 1 - bit / 8] ^= 1 << (bit % 8);
            if let Ok(k2) = RsaKey::from_be_bytes(&n, key.exponent()) {
                tally.check("key modulus bit", &k2, &msg, &sig);
            }
            for e in [3u64, 17, 65539, (1 << 33) - 1] {
                let k2 = RsaKey::from_be_bytes(key.modulus(), &e.to_be_bytes()).unwrap();
                tally.check("key exponent", &k2, &msg, &sig);
            }
        }

        // Correctly signed, wrongly encoded blocks.
        let msg = b"header.payload";
        let digest = Sha256::digest(msg);
        let good: Vec<u8> = SHA256_PREFIX.iter().chain(digest.iter()).copied().collect();
        let sig = sign_block(which, &good).unwrap();
        assert!(tally.check("encoded: exact", &key, msg, &sig));
        let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
        // DigestInfo without the NULL parameters (Wycheproof's "acceptable" MissingNull).
        let mut no_null = vec![
            0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x04, 0x20,
        ];
        no_null.extend_from_slice(&digest);
        variants.push(("no NULL", no_null));
        variants.push(("bare digest", digest.to_vec()));
        for i in 0..good.len() {
            for delta in [1u8, 0x80] {
                let mut t = good.clone();
                t[i] ^= delta;
                variants.push(("byte changed", t));
            }
        }
        let mut trailing = good.clone();
        trailing.push(0);
        variants.push(("trailing byte", trailing));
        variants.push(("missing byte", good[..good.len() - 1].to_vec()));
        variants.push(("missing first byte", good[1..].to_vec()));
        let mut sha512_oid = good.clone();
        sha512_oid[14] = 0x03; // 2.16.840.1.101.3.4.2.3 = SHA-512
        variants.push(("other hash oid", sha512_oid));
        // A block whose padding is shorter than 8 bytes (payload nearly fills it).
        let mut long_t = vec![0xff; len - 11 - good.len() + 3];
        long_t.push(0);
        long_t.extend_from_slice(&good);
        variants.push(("padding ends early", long_t));
        for (what, t) in variants {
            if let Some(sig) = sign_block(which, &t) {
                assert!(!tally.check(what, &key, msg, &sig), "{what} accepted");
            }
        }
    }
    eprintln!(
        "differential: {} cases, {} accepted by both",
        tally.cases, tally.accepted
    );
    assert!(tally.cases > 2000 && tally.accepted >= 60);
}

//! A bounded cache of verified tokens (the warm path), like Envoy
//! `jwt_authn`'s: a token seen again skips the signature check, but never
//! its time window or policy.
//!
//! - Keyed by the exact token bytes: a 64-bit keyed hash (SipHash with a
//!   per-cache random key) of the token's length and its last 64 bytes (the
//!   signature, random for every real token) finds the slot, and the whole
//!   token is compared byte for byte before an entry is used. Only tokens
//!   that verified are ever inserted, so an attacker cannot fill it with
//!   chosen keys.
//! - Every hit re-runs [`Policy::check`] at the current time (expiry,
//!   not-before, issued-at with leeway, audience, issuer, tenant, version,
//!   key issuer, client apps, scopes and roles), and checks that the key that
//!   verified the token is still in the current key set, unchanged (same
//!   `kid`, `x5t`, issuer and RSA key). An entry that fails either is dropped;
//!   a token whose key left the set is verified from scratch (and then fails
//!   as an unknown key, after the usual refresh).
//! - Bounded by entries and by bytes (token plus payload plus a fixed
//!   overhead per entry), split over [`SHARDS`] independently locked shards;
//!   when a shard is full the oldest entries go first (FIFO). The maps are
//!   allocated once, so a hit allocates nothing and an insert allocates only
//!   the copy of the token.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

use entra_jwt_core::{Error, KeySet, Policy, SharedClaims};

/// Independently locked parts of the cache (threads rarely meet on one).
pub const SHARDS: usize = 8;

/// Bytes counted per entry beyond its token and payload (map slot, queue
/// slot, claims header).
pub const ENTRY_OVERHEAD: usize = 256;

/// How much a [`TokenCache`] may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheConfig {
    max_entries: usize,
    max_bytes: usize,
}

impl Default for TokenCacheConfig {
    /// 1024 tokens and 2 MiB: a few seconds of a busy API's distinct callers.
    fn default() -> Self {
        Self {
            max_entries: 1024,
            max_bytes: 2 * 1024 * 1024,
        }
    }
}

impl TokenCacheConfig {
    /// At most this many tokens (rounded up to a multiple of [`SHARDS`]).
    #[must_use]
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries.max(1);
        self
    }
    /// At most this many bytes of tokens, payloads and per-entry overhead.
    #[must_use]
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }
    /// The entry bound.
    #[must_use]
    pub fn get_max_entries(&self) -> usize {
        self.max_entries
    }
    /// The byte bound.
    #[must_use]
    pub fn get_max_bytes(&self) -> usize {
        self.max_bytes
    }
}

/// The hash is already a keyed hash: the map uses it as is.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Entry {
    token: Box<str>,
    claims: SharedClaims,
    /// The key set that verified the token, and the key's position in it.
    keys: Arc<KeySet>,
    key_index: usize,
    cost: usize,
}

struct Shard {
    map: HashMap<u64, Entry, BuildHasherDefault<IdentityHasher>>,
    order: VecDeque<u64>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

/// A bounded cache of verified tokens; see the module documentation.
pub struct TokenCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A verified token that passes the policy now.
    Hit(SharedClaims),
    /// The token verified earlier but fails the policy now (expired, ...).
    Fails(Error),
    /// Not cached (or dropped because its key left the set).
    Miss,
}

impl TokenCache {
    /// An empty cache with these bounds (its maps are allocated now).
    #[must_use]
    pub fn new(config: TokenCacheConfig) -> Self {
        let per_entries = config.max_entries.div_ceil(SHARDS);
        let per_bytes = config.max_bytes / SHARDS;
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    // Twice the bound, so removals never force a regrowth.
                    map: HashMap::with_capacity_and_hasher(
                        2 * per_entries,
                        BuildHasherDefault::default(),
                    ),
                    order: VecDeque::with_capacity(per_entries + 1),
                    bytes: 0,
                    max_entries: per_entries,
                    max_bytes: per_bytes,
                })
            })
            .collect();
        Self {
            shards,
            hasher: RandomState::new(),
        }
    }

    /// How many tokens are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for s in &*self.shards {
            let mut s = s.lock().unwrap_or_else(PoisonError::into_inner);
            s.map.clear();
            s.order.clear();
            s.bytes = 0;
        }
    }

    fn slot(&self, token: &str) -> (u64, &Mutex<Shard>) {
        let bytes = token.as_bytes();
        let tail = bytes.get(bytes.len().saturating_sub(64)..).unwrap_or(bytes);
        let mut h = self.hasher.build_hasher();
        h.write_usize(bytes.len());
        h.write(tail);
        let hash = h.finish();
        let index = usize::try_from(hash >> 61).unwrap_or(0) % self.shards.len().max(1);
        // `shards` is never empty (SHARDS > 0).
        let shard = self.shards.get(index).unwrap_or_else(|| {
            self.shards
                .first()
                .unwrap_or_else(|| unreachable!("the cache has shards"))
        });
        (hash, shard)
    }

    /// Looks `token` up and, on a hit, re-checks it against `policy` at `now`
    /// with the current key set `keys`.
    pub(crate) fn get(&self, token: &str, keys: &Arc<KeySet>, policy: &Policy, now: u64) -> Lookup {
        let (hash, shard) = self.slot(token);
        let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let (lookup, drop_entry) = {
            let Some(entry) = s.map.get_mut(&hash) else {
                return Lookup::Miss;
            };
            if *entry.token != *token {
                return Lookup::Miss;
            }
            let mut present = true;
            if !Arc::ptr_eq(&entry.keys, keys) {
                // A new key set: the token's key must still be there, unchanged.
                let old = entry.keys.get(entry.key_index);
                match old.and_then(|old| keys.iter().position(|k| k == old)) {
                    Some(index) => {
                        entry.keys = Arc::clone(keys);
                        entry.key_index = index;
                    }
                    None => present = false,
                }
            }
            match keys.get(entry.key_index) {
                Some(key) if present => match policy.check(&entry.claims, key, now) {
                    Ok(()) => (Lookup::Hit(entry.claims.clone()), false),
                    Err(e) => (Lookup::Fails(e), true),
                },
                _ => (Lookup::Miss, true),
            }
        };
        if drop_entry {
            s.remove(hash);
        }
        lookup
    }

    /// Keeps a token that just verified with `keys.get(key_index)`.
    pub(crate) fn insert(
        &self,
        token: &str,
        claims: &SharedClaims,
        keys: &Arc<KeySet>,
        key_index: usize,
    ) {
        let (hash, shard) = self.slot(token);
        let cost = token.len() + claims.json().len() + ENTRY_OVERHEAD;
        let mut s = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if cost > s.max_bytes {
            return;
        }
        s.remove(hash);
        while s.map.len() >= s.max_entries || s.bytes + cost > s.max_bytes {
            match s.order.pop_front() {
                Some(old) => {
                    if let Some(e) = s.map.remove(&old) {
                        s.bytes -= e.cost;
                    }
                }
                None => break,
            }
        }
        s.bytes += cost;
        s.order.push_back(hash);
        s.map.insert(
            hash,
            Entry {
                token: token.into(),
                claims: claims.clone(),
                keys: Arc::clone(keys),
                key_index,
                cost,
            },
        );
    }
}

impl Shard {
    fn remove(&mut self, hash: u64) {
        if let Some(e) = self.map.remove(&hash) {
            self.bytes -= e.cost;
            if let Some(pos) = self.order.iter().position(|&h| h == hash) {
                self.order.remove(pos);
            }
        }
    }
}

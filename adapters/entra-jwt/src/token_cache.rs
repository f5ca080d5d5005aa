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
//!   overhead per entry); when full, the oldest entries go first (FIFO).
//! - A hit takes no lock and writes no memory another thread reads, except
//!   the reference count of the claims it returns: the slots are
//!   [`arc_swap`] cells read through thread-local hazard slots, so threads
//!   verifying cached tokens do not queue behind each other or bounce a
//!   lock's cache line between cores. Inserts and removals (after a full
//!   verification, or when a hit fails) take one mutex for the bookkeeping.
//! - A hit allocates nothing, except the first hit of an entry after the key
//!   set changed, which re-binds the entry to the new set (one allocation,
//!   so later hits skip the key search). An insert allocates the copy of the
//!   token and the entry.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwapOption;
use entra_jwt_core::{Error, KeySet, Policy, SharedClaims, SignatureBackend};

/// Slots probed per token: an entry lives in one of the `PROBE` slots after
/// its hash's home slot.
const PROBE: usize = 4;

/// Bytes counted per entry beyond its token and payload (slot, queue slot,
/// entry and claims headers).
pub const ENTRY_OVERHEAD: usize = 256;

/// Largest entry bound a [`TokenCacheConfig`] takes (its slot table is
/// allocated up front: 16 bytes per entry).
pub const MAX_ENTRIES: usize = 1 << 20;

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
    /// At most this many tokens (1 to [`MAX_ENTRIES`]).
    #[must_use]
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries.clamp(1, MAX_ENTRIES);
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

/// One verified token. Immutable once published; a re-bind publishes a copy.
struct Entry {
    hash: u64,
    /// Insertion number: identifies the entry in the FIFO bookkeeping (a
    /// re-bound copy keeps it).
    seq: u64,
    token: Arc<str>,
    claims: SharedClaims,
    /// The key set that verified the token, and the key's position in it.
    keys: Arc<KeySet>,
    key_index: usize,
    cost: usize,
}

/// What writers share, under the mutex.
struct Book {
    /// (slot, seq) in insertion order; may hold stale pairs of entries
    /// already gone, skipped when popped and compacted when long.
    order: VecDeque<(usize, u64)>,
    entries: usize,
    bytes: usize,
    next_seq: u64,
}

/// A bounded cache of verified tokens; see the module documentation.
pub struct TokenCache {
    slots: Box<[ArcSwapOption<Entry>]>,
    book: Mutex<Book>,
    max_entries: usize,
    max_bytes: usize,
    hasher: RandomState,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

/// One verification against `keys`, for both drivers: the token cache first
/// (when there is one), then the signature; a token that verifies is cached.
pub(crate) fn verify_through(
    tokens: Option<&TokenCache>,
    policy: &Policy,
    backend: &dyn SignatureBackend,
    token: &str,
    keys: &Arc<KeySet>,
    now: u64,
) -> Result<SharedClaims, Error> {
    if let Some(cache) = tokens {
        match cache.get(token, keys, policy, now) {
            Lookup::Hit(claims) => return Ok(claims),
            Lookup::Fails(e) => return Err(e),
            Lookup::Miss => {}
        }
    }
    let (claims, index) = policy.verify_keyed(backend, token, keys, now)?;
    if let Some(cache) = tokens {
        cache.insert(token, &claims, keys, index);
    }
    Ok(claims)
}

/// What a lookup found.
enum Lookup {
    /// A verified token that passes the policy now.
    Hit(SharedClaims),
    /// The token verified earlier but fails the policy now (expired, ...).
    Fails(Error),
    /// Not cached (or dropped because its key left the set).
    Miss,
}

impl TokenCache {
    /// An empty cache with these bounds (its slot table and queue are
    /// allocated now).
    #[must_use]
    pub fn new(config: TokenCacheConfig) -> Self {
        let max_entries = config.max_entries.clamp(1, MAX_ENTRIES);
        // At most half the slots are ever full, so a probe window rarely is.
        let slots = (2 * max_entries).next_power_of_two().max(PROBE);
        Self {
            slots: (0..slots).map(|_| ArcSwapOption::empty()).collect(),
            book: Mutex::new(Book {
                order: VecDeque::with_capacity(2 * max_entries + PROBE),
                entries: 0,
                bytes: 0,
                next_seq: 0,
            }),
            max_entries,
            max_bytes: config.max_bytes,
            hasher: RandomState::new(),
        }
    }

    /// How many tokens are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.book().entries
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let mut book = self.book();
        for slot in &*self.slots {
            slot.store(None);
        }
        book.order.clear();
        book.entries = 0;
        book.bytes = 0;
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // Every critical section leaves the bookkeeping consistent.
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The token's keyed hash: its length and its last 64 bytes (the
    /// signature, random for every real token).
    fn hash(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let tail = bytes.get(bytes.len().saturating_sub(64)..).unwrap_or(bytes);
        let mut h = self.hasher.build_hasher();
        h.write_usize(bytes.len());
        h.write(tail);
        h.finish()
    }

    /// The slot indices a token with `hash` may live in.
    fn window(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        let mask = self.slots.len() - 1; // a power of two, at least PROBE
        // Truncation is fine: the mask keeps low bits only.
        #[allow(clippy::cast_possible_truncation)]
        let home = hash as usize;
        (0..PROBE).map(move |j| home.wrapping_add(j) & mask)
    }

    fn slot(&self, index: usize) -> Option<&ArcSwapOption<Entry>> {
        self.slots.get(index)
    }

    /// Looks `token` up and, on a hit, re-checks it against `policy` at `now`
    /// with the current key set `keys`.
    fn get(&self, token: &str, keys: &Arc<KeySet>, policy: &Policy, now: u64) -> Lookup {
        let hash = self.hash(token);
        for index in self.window(hash) {
            let Some(slot) = self.slot(index) else {
                continue;
            };
            let guard = slot.load();
            let Some(entry) = guard.as_ref() else {
                continue;
            };
            if entry.hash != hash || *entry.token != *token {
                continue;
            }
            let key_index = if Arc::ptr_eq(&entry.keys, keys) {
                Some(entry.key_index)
            } else {
                // A new key set: the token's key must still be there, unchanged.
                let found = entry
                    .keys
                    .get(entry.key_index)
                    .and_then(|old| keys.iter().position(|k| k == old));
                if let Some(key_index) = found {
                    let rebound = Arc::new(Entry {
                        hash,
                        seq: entry.seq,
                        token: Arc::clone(&entry.token),
                        claims: entry.claims.clone(),
                        keys: Arc::clone(keys),
                        key_index,
                        cost: entry.cost,
                    });
                    // Lost races are harmless: the entry changed meanwhile.
                    let _ = slot.compare_and_swap(&guard, Some(rebound));
                }
                found
            };
            let lookup = match key_index.and_then(|i| keys.get(i)) {
                Some(key) => match policy.check(&entry.claims, key, now) {
                    Ok(()) => return Lookup::Hit(entry.claims.clone()),
                    Err(e) => Lookup::Fails(e),
                },
                None => Lookup::Miss,
            };
            let seq = entry.seq;
            drop(guard);
            self.remove(index, seq);
            return lookup;
        }
        Lookup::Miss
    }

    /// Drops the entry `seq` if slot `index` still holds it.
    fn remove(&self, index: usize, seq: u64) {
        let mut book = self.book();
        self.evict(&mut book, index, Some(seq));
    }

    /// Empties slot `index` (only if it holds entry `seq`, when given),
    /// keeping the counts right. Called with the book locked.
    fn evict(&self, book: &mut Book, index: usize, seq: Option<u64>) {
        let Some(slot) = self.slot(index) else {
            return;
        };
        let current = slot.load();
        let Some(entry) = current.as_ref() else {
            return;
        };
        if seq.is_some_and(|seq| seq != entry.seq) {
            return;
        }
        // Only writers (holding the book) empty or fill a slot; readers only
        // swap an entry for its re-bound copy, which keeps seq and cost.
        slot.store(None);
        book.entries = book.entries.saturating_sub(1);
        book.bytes = book.bytes.saturating_sub(entry.cost);
    }

    /// Keeps a token that just verified with `keys.get(key_index)`.
    fn insert(&self, token: &str, claims: &SharedClaims, keys: &Arc<KeySet>, key_index: usize) {
        let hash = self.hash(token);
        let cost = token.len() + claims.json().len() + ENTRY_OVERHEAD;
        if cost > self.max_bytes {
            return;
        }
        let mut book = self.book();
        // The same token's slot, else an empty one, else the window's oldest.
        let (mut same, mut empty, mut oldest) = (None, None, None::<(u64, usize)>);
        for index in self.window(hash) {
            let Some(slot) = self.slot(index) else {
                continue;
            };
            match slot.load().as_ref() {
                None => {
                    empty = empty.or(Some(index));
                }
                Some(e) if e.hash == hash && *e.token == *token => same = Some(index),
                Some(e) => {
                    if oldest.is_none_or(|(seq, _)| e.seq < seq) {
                        oldest = Some((e.seq, index));
                    }
                }
            }
        }
        let Some(target) = same.or(empty).or(oldest.map(|(_, index)| index)) else {
            return;
        };
        self.evict(&mut book, target, None);
        while book.entries >= self.max_entries || book.bytes + cost > self.max_bytes {
            let Some((index, seq)) = book.order.pop_front() else {
                break;
            };
            self.evict(&mut book, index, Some(seq));
        }
        if book.order.len() >= book.order.capacity().saturating_sub(1) {
            // Forget pairs whose entries are gone (replaced or dropped).
            let slots = &self.slots;
            book.order.retain(|&(index, seq)| {
                slots
                    .get(index)
                    .is_some_and(|s| s.load().as_ref().is_some_and(|e| e.seq == seq))
            });
        }
        let seq = book.next_seq;
        book.next_seq += 1;
        book.entries += 1;
        book.bytes += cost;
        book.order.push_back((target, seq));
        if let Some(slot) = self.slot(target) {
            slot.store(Some(Arc::new(Entry {
                hash,
                seq,
                token: token.into(),
                claims: claims.clone(),
                keys: Arc::clone(keys),
                key_index,
                cost,
            })));
        }
    }
}

//! Time and randomness, supplied to the sans-IO core by the driver.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The driver's clock: seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock before 1970 is a broken clock; 0 makes every token look
        // not-yet-valid rather than valid.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn new(now: u64) -> Self {
        Self(AtomicU64::new(now))
    }
    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Random numbers for refresh jitter. Not for cryptography: jitter only
/// spreads a fleet's refreshes so they do not hit the provider at once.
pub trait Entropy: Send + Sync {
    /// A uniformly distributed `u32`.
    fn next_u32(&self) -> u32;
}

/// Entropy from the standard library's per-process random hash keys and a counter.
#[derive(Debug)]
pub struct StdEntropy {
    state: RandomState,
    counter: AtomicU64,
}

impl Default for StdEntropy {
    fn default() -> Self {
        Self {
            state: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }
}

impl Entropy for StdEntropy {
    fn next_u32(&self) -> u32 {
        let mut h = self.state.build_hasher();
        h.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        let v = h.finish();
        (v ^ (v >> 32)) as u32
    }
}

/// The same value every time: deterministic jitter for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedEntropy(pub u32);

impl Entropy for FixedEntropy {
    fn next_u32(&self) -> u32 {
        self.0
    }
}

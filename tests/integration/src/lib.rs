//! End-to-end suites live in `tests/`. This library only carries the README's
//! Rust examples, compiled and run as doc tests (they need the adapters, so
//! they live here rather than in the core).
#![forbid(unsafe_code)]

/// The README's Rust examples.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

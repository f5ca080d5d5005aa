//! The no_std proof: if `entra-jwt-core` or any of its dependencies linked
//! `std`, this staticlib would carry two `panic_impl` lang items and fail to
//! build with "duplicate lang item `panic_impl`" (and "found duplicate lang
//! item" for the allocator). CI builds it; nothing runs it.
#![no_std]
#![forbid(unsafe_code)]

use core::panic::PanicInfo;
use entra_jwt_core::{KeySet, Policy, parse_authorization};
use linked_list_allocator::LockedHeap;

/// An empty heap: never initialised, because this library is only linked, not run.
#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    loop {}
}

/// Calls the core's public entry points end to end, so they are compiled and
/// linked into the archive.
pub fn verify(authorization: &[u8], jwks: &[u8], now: u64) -> Result<u64, &'static str> {
    let policy = Policy::single_tenant(
        "9188040d-6c67-4c5b-b112-36a304b66dad",
        "6e74172b-be56-4843-9ff4-e66a39bb12e3",
    )
    .build()
    .map_err(|e| e.code())?;
    let token = parse_authorization(Some(authorization), policy.max_token_bytes()).map_err(|e| e.code())?;
    let keys = KeySet::from_jwks(jwks).map_err(|e| e.code())?;
    let claims = policy.verify(token, &keys, now).map_err(|e| e.code())?;
    Ok(claims.exp.unsigned_abs())
}

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| entra_jwt_fuzz_targets::header(data));

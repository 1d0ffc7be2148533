#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| educloud_fuzz::claims(data));

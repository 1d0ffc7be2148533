#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| educloud_fuzz::url_differential(data));

//! Fuzz target: LZ-string base64 decompression of arbitrary text never panics, stays within its
//! output limit, and text round-trips through compression.
#![no_main]

use event_model::lz64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(text) = std::str::from_utf8(input) {
        if let Ok(out) = lz64::decompress_from_base64(text, 1 << 16) {
            assert!(out.encode_utf16().count() * 2 <= 1 << 16);
        }
        let encoded = lz64::compress_to_base64(text);
        assert_eq!(
            lz64::decompress_from_base64(&encoded, usize::MAX).as_deref(),
            Ok(text)
        );
    }
});

//! Fuzz target: a whole v0 request (endpoint, query, content type and encoding hints, body) through
//! decoding, parsing and message building must never panic.
#![no_main]

use event_model::decode::{Endpoint, HttpRequest, Limits};
use event_model::{CaptureContext, capture};
use libfuzzer_sys::fuzz_target;

const QUERIES: [&str; 6] = [
    "",
    "compression=gzip-js",
    "compression=lz64",
    "compression=base64&beacon=1",
    "_=1735819200000&ver=1.0",
    "data=W10%3D",
];
const CONTENT_TYPES: [Option<&str>; 3] = [
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let endpoint = Endpoint::ALL[usize::from(selector) % Endpoint::ALL.len()].0;
    let request = HttpRequest {
        endpoint,
        query: QUERIES[usize::from(selector >> 3) % QUERIES.len()],
        content_type: CONTENT_TYPES[usize::from(selector >> 6) % CONTENT_TYPES.len()],
        content_encoding: if selector & 0x04 != 0 {
            Some("gzip")
        } else {
            None
        },
        body,
    };
    let context = CaptureContext {
        now: chrono::DateTime::from_timestamp(1_735_819_200, 0).unwrap_or_default(),
        client_ip: "127.0.0.1",
    };
    let _ = capture(
        &request,
        &Limits {
            decompressed: 1 << 20,
        },
        &context,
        &mut || [0; 10],
    );
});

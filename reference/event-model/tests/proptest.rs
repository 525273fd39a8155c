//! Property tests: decoding never panics on any bytes, hint or endpoint, and the codecs round-trip.

use event_model::decode::{Compression, Endpoint, HttpRequest, Limits};
use event_model::{CaptureContext, capture, lz64};
use proptest::prelude::*;

fn endpoint() -> impl Strategy<Value = Endpoint> {
    prop::sample::select(Endpoint::ALL.iter().map(|(e, _)| *e).collect::<Vec<_>>())
}

fn query() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "compression=gzip-js",
        "compression=lz64",
        "compression=base64",
        "compression=nope&ver=1.0",
        "_=1735819200000&beacon=1",
        "data=",
        "data=W3siZXZlbnQiOiJhIn1d",
        "data=%FF%FE",
    ])
    .prop_map(str::to_string)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn run(endpoint: Endpoint, query: &str, content_type: Option<&str>, body: &[u8]) {
    let request = HttpRequest {
        endpoint,
        query,
        content_type,
        content_encoding: None,
        body,
    };
    let context = CaptureContext {
        now: chrono::DateTime::from_timestamp(1_735_819_200, 0).unwrap(),
        client_ip: "127.0.0.1",
    };
    // Either outcome is fine; a panic fails the property.
    let _ = capture(
        &request,
        &Limits {
            decompressed: 1 << 20,
        },
        &context,
        &mut || [7; 10],
    );
}

proptest! {
    #[test]
    fn random_bytes_never_panic(endpoint in endpoint(), query in query(), form in any::<bool>(),
                                body in prop::collection::vec(any::<u8>(), 0..512)) {
        let content_type = form.then_some("application/x-www-form-urlencoded");
        run(endpoint, &query, content_type, &body);
        run(endpoint, &query, content_type, &gzip(&body));
    }

    #[test]
    fn random_json_like_text_never_panics(endpoint in endpoint(), query in query(),
                                          text in r#"[\[\]{}":,a-z0-9 \$_.-]{0,200}"#) {
        run(endpoint, &query, None, text.as_bytes());
        let lz = lz64::compress_to_base64(&text);
        run(endpoint, "compression=lz64", None, lz.as_bytes());
    }

    #[test]
    fn lz64_round_trips(text in any::<String>()) {
        let encoded = lz64::compress_to_base64(&text);
        prop_assert_eq!(lz64::decompress_from_base64(&encoded, usize::MAX), Ok(text));
    }

    #[test]
    fn lz64_garbage_never_panics(text in "[A-Za-z0-9+/=]{0,300}") {
        let _ = lz64::decompress_from_base64(&text, 1 << 16);
    }

    #[test]
    fn gzip_events_round_trip(name in "[a-z]{1,20}", id in "[a-z0-9]{1,40}") {
        let json = format!(r#"{{"api_key":"phc_t","batch":[{{"event":"{name}","distinct_id":"{id}"}}]}}"#);
        let body = gzip(json.as_bytes());
        let request = HttpRequest { endpoint: Endpoint::Batch, query: "", content_type: None, content_encoding: Some("gzip"), body: &body };
        let context = CaptureContext { now: chrono::DateTime::from_timestamp(1_735_819_200, 0).unwrap(), client_ip: "1.2.3.4" };
        let captured = capture(&request, &Limits::default(), &context, &mut || [1; 10]).unwrap();
        prop_assert_eq!(captured.compression, Compression::Gzip);
        prop_assert_eq!(&captured.messages[0].key, &format!("phc_t:{id}"));
        prop_assert_eq!(&captured.messages[0].event.event, &name);
    }
}

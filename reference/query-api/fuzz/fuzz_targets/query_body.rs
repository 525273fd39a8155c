//! Fuzz target: any bytes as the body of `POST /api/projects/:team_id/query`, through everything the
//! handler does without a service (the body read as a request, HogQL parsed, compiled for a team and
//! its values bound), and the error rendered as the JSON answer. Never panics; an error is a 4xx with
//! a stable code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    match query_api::prepare_body(body, 42, "UTC") {
        Ok(prepared) => assert!(!prepared.sql.is_empty()),
        Err(error) => {
            assert!(error.status().is_client_error(), "{}: {error}", error.code());
            assert!(!error.code().is_empty());
            let _ = error.body().to_string();
        }
    }
});

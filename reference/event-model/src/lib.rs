//! Capture's pure core: turn one HTTP request of the v0 (legacy) capture protocol into Kafka messages.
//!
//! The pipeline is [`decode::decode`] (where the payload is and how it is encoded) →
//! [`shape::parse`] (array / batch / single event / engage) → [`message::build`] (token, distinct_id,
//! uuid, timestamp, the `CapturedEvent` JSON, key and headers). [`capture`] runs all three.
//! Nothing here does I/O: the clock and the randomness for generated UUIDv7s come from the caller.

pub mod decode;
pub mod error;
pub mod lz64;
pub mod message;
pub mod shape;
pub mod timestamp;

pub use decode::{Decoded, Endpoint, HttpRequest, Limits};
pub use error::{Error, Result};
pub use message::{CaptureContext, OutgoingMessage, Topic};

/// Decodes, parses and validates one request and builds every message it produces, in request order.
///
/// One bad event rejects the whole request: either every event becomes a message or none does.
pub fn capture(
    request: &HttpRequest<'_>,
    limits: &Limits,
    context: &CaptureContext<'_>,
    random: &mut dyn FnMut() -> [u8; 10],
) -> Result<Captured> {
    let decoded = decode::decode(request, limits)?;
    let payload = shape::parse(&decoded.text, request.endpoint)?;
    let messages = message::build(&payload, &decoded, context, random)?;
    Ok(Captured {
        beacon: decoded.beacon,
        lib_version: decoded.lib_version.clone(),
        compression: decoded.compression,
        messages,
    })
}

/// What a successful capture produced.
#[derive(Debug, Clone)]
pub struct Captured {
    /// `beacon=1` was set: the HTTP answer is 204 with no body.
    pub beacon: bool,
    /// The SDK version from `ver` / `lib_version`, for metrics.
    pub lib_version: Option<String>,
    /// The compression that was applied to the payload.
    pub compression: decode::Compression,
    /// One message per accepted event, in request order.
    pub messages: Vec<OutgoingMessage>,
}

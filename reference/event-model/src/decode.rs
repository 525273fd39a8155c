//! Where a v0 request's payload is (`data` query parameter, form field or body) and how it is encoded
//! (gzip by hint or magic bytes, gzip-js, lz64, base64), with a bound on the decompressed size.

use std::io::Read as _;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::{Error, Result};
use crate::lz64;

/// The capture endpoints of the v0 protocol (each also with a trailing `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/e`: legacy posthog-js endpoint.
    E,
    /// `/i/v0/e`: the current posthog-js endpoint.
    IV0E,
    /// `/capture`.
    Capture,
    /// `/track`.
    Track,
    /// `/engage`: accepts objects without `event` (they become `$identify`).
    Engage,
    /// `/batch`: server SDKs.
    Batch,
}

impl Endpoint {
    /// Every endpoint with its path (without the trailing slash).
    pub const ALL: [(Endpoint, &'static str); 6] = [
        (Endpoint::E, "/e"),
        (Endpoint::IV0E, "/i/v0/e"),
        (Endpoint::Capture, "/capture"),
        (Endpoint::Track, "/track"),
        (Endpoint::Engage, "/engage"),
        (Endpoint::Batch, "/batch"),
    ];

    /// Legacy paths unwrap a payload that is still base64 after decoding.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            Endpoint::E | Endpoint::Capture | Endpoint::Track | Endpoint::Engage
        )
    }
}

/// The parts of an HTTP request capture looks at.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub endpoint: Endpoint,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub body: &'a [u8],
}

/// Size limits applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum size of the payload after decompression, in bytes.
    pub decompressed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Events mode: 5 × the 20 MiB batch body limit.
        Limits {
            decompressed: 100 * 1024 * 1024,
        }
    }
}

/// The compression named by a hint (`compression` parameter or `Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No (known) compression.
    None,
    /// gzip, also spelled `gzip-js`.
    Gzip,
    /// LZ-string base64 (`lz64`, `lz-string`).
    Lz64,
    /// Plain base64 (`base64`, `b64`).
    Base64,
}

impl Compression {
    /// Reads a hint, case-insensitively; unknown values mean no compression.
    pub fn from_hint(hint: &str) -> Compression {
        match hint.trim().to_ascii_lowercase().as_str() {
            "gzip" | "gzip-js" => Compression::Gzip,
            "lz64" | "lz-string" => Compression::Lz64,
            "base64" | "b64" => Compression::Base64,
            _ => Compression::None,
        }
    }
}

/// A decoded payload plus the request parameters later stages need.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The payload as text (JSON, not yet parsed).
    pub text: String,
    /// The compression that was actually undone.
    pub compression: Compression,
    /// `ver` / `lib_version`.
    pub lib_version: Option<String>,
    /// `_` / `sent_at` in epoch milliseconds (kept only if its year is after 2020).
    pub sent_at_ms: Option<i64>,
    /// `beacon=1`.
    pub beacon: bool,
}

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Standard alphabet, padding optional (SDKs and forms are not consistent about it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// Strict check: non-empty, a multiple of 4 long, and the first 128 bytes in the base64 alphabet.
pub fn looks_base64(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len().is_multiple_of(4)
        && bytes.iter().take(128).all(|b| is_base64_byte(*b))
}

/// Loose check for form values, where `+` may have become a space: the first 128 bytes are
/// base64 characters or spaces.
fn looks_base64_loose(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .take(128)
            .all(|b| is_base64_byte(*b) || *b == b' ')
}

fn decode_base64(bytes: &[u8]) -> Result<Vec<u8>> {
    let cleaned: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    BASE64
        .decode(cleaned)
        .map_err(|e| Error::decoding(format!("invalid base64: {e}")))
}

fn is_form(content_type: Option<&str>, body: &[u8]) -> bool {
    let is_form_type = content_type.is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !is_form_type {
        return false;
    }
    ["data=", "_=", "ip=", "compression=", "ver=", "lib_version="]
        .iter()
        .any(|key| {
            body.starts_with(key.as_bytes())
                || body
                    .windows(key.len() + 1)
                    .any(|w| w[0] == b'&' && &w[1..] == key.as_bytes())
        })
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Finds and decodes the payload of a v0 request.
pub fn decode(request: &HttpRequest<'_>, limits: &Limits) -> Result<Decoded> {
    let query: Vec<(String, String)> = url::form_urlencoded::parse(request.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let form: Vec<(String, String)> =
        if param(&query, "data").is_none() && is_form(request.content_type, request.body) {
            url::form_urlencoded::parse(request.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        } else {
            Vec::new()
        };

    let hint = param(&query, "compression")
        .or_else(|| param(&form, "compression"))
        .or(request.content_encoding)
        .map_or(Compression::None, Compression::from_hint);
    let lib_version = param(&query, "ver")
        .or_else(|| param(&query, "lib_version"))
        .or_else(|| param(&form, "ver"))
        .or_else(|| param(&form, "lib_version"))
        .map(str::to_string);
    let sent_at_ms = param(&query, "_")
        .or_else(|| param(&query, "sent_at"))
        .and_then(|v| v.trim().parse::<i64>().ok())
        // Values that do not land after 2020 as milliseconds (e.g. seconds) are dropped.
        .filter(|ms| *ms >= 1_609_459_200_000 && *ms < 253_402_300_800_000);
    let beacon = param(&query, "beacon") == Some("1");

    // Where the payload is: `data` in the query, else `data` in a form body, else the body itself.
    let from_param: Option<Vec<u8>> = match param(&query, "data").or_else(|| param(&form, "data")) {
        Some(data) => {
            let mut bytes = data.as_bytes().to_vec();
            if looks_base64_loose(&bytes) {
                // Form decoding turned `+` into spaces; put them back.
                for b in &mut bytes {
                    if *b == b' ' {
                        *b = b'+';
                    }
                }
            }
            Some(bytes)
        }
        None if !form.is_empty() => return Err(Error::EmptyPayload),
        None => None,
    };
    let raw: Vec<u8> = match from_param {
        Some(bytes) => bytes,
        None if request.body.is_empty() => return Err(Error::EmptyPayload),
        None => request.body.to_vec(),
    };

    let (bytes, compression) = undo_compression(raw, hint, limits)?;
    let mut text = String::from_utf8(bytes)
        .map_err(|e| Error::decoding(format!("payload is not valid utf-8: {e}")))?;

    if request.endpoint.is_legacy() && looks_base64(text.as_bytes()) {
        // Legacy SDKs sometimes wrap the JSON in one more base64 layer.
        if let Ok(inner) = decode_base64(text.as_bytes())
            && let Ok(inner) = String::from_utf8(inner)
        {
            text = inner;
        }
    }
    Ok(Decoded {
        text,
        compression,
        lib_version,
        sent_at_ms,
        beacon,
    })
}

fn undo_compression(
    raw: Vec<u8>,
    hint: Compression,
    limits: &Limits,
) -> Result<(Vec<u8>, Compression)> {
    if hint == Compression::Lz64 {
        let text =
            std::str::from_utf8(&raw).map_err(|_| Error::decoding("lz64 payload is not ascii"))?;
        return match lz64::decompress_from_base64(
            text.trim(),
            limits.decompressed.saturating_mul(2),
        ) {
            Ok(text) if text.len() > limits.decompressed => Err(too_large(limits)),
            Ok(text) => Ok((text.into_bytes(), Compression::Lz64)),
            Err(lz64::LzError::TooLarge) => Err(too_large(limits)),
            Err(e) => Err(Error::decoding(format!("invalid lz64 payload: {e}"))),
        };
    }
    // Base64 is undone optimistically when it is hinted or when the bytes look like it.
    let (bytes, was_base64) = if hint == Compression::Base64 || looks_base64(&raw) {
        match decode_base64(&raw) {
            Ok(decoded) => (decoded, true),
            Err(e) if hint == Compression::Base64 => return Err(e),
            Err(_) => (raw, false),
        }
    } else {
        (raw, false)
    };
    if hint == Compression::Gzip || bytes.starts_with(&GZIP_MAGIC) {
        return Ok((gunzip(&bytes, limits)?, Compression::Gzip));
    }
    if bytes.len() > limits.decompressed {
        return Err(too_large(limits));
    }
    let compression = if was_base64 {
        Compression::Base64
    } else {
        Compression::None
    };
    Ok((bytes, compression))
}

fn too_large(limits: &Limits) -> Error {
    Error::PayloadTooLarge {
        what: "decompressed payload",
        limit: limits.decompressed,
    }
}

fn gunzip(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    decoder
        .take(limits.decompressed as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::decoding(format!("invalid gzip payload: {e}")))?;
    if out.len() > limits.decompressed {
        return Err(too_large(limits));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        query: &'a str,
        content_type: Option<&'a str>,
        body: &'a [u8],
    ) -> HttpRequest<'a> {
        HttpRequest {
            endpoint: Endpoint::IV0E,
            query,
            content_type,
            content_encoding: None,
            body,
        }
    }

    fn text(request: &HttpRequest<'_>) -> Result<String> {
        decode(request, &Limits::default()).map(|d| d.text)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn plain_json_body() {
        assert_eq!(text(&request("", None, b"{\"a\":1}")).unwrap(), "{\"a\":1}");
    }

    #[test]
    fn gzip_is_sniffed_without_a_hint() {
        let body = gzip(b"[1]");
        assert_eq!(
            text(&request("", Some("text/plain"), &body)).unwrap(),
            "[1]"
        );
    }

    #[test]
    fn gzip_hint_on_non_gzip_bytes_is_a_decoding_error() {
        let err = text(&request("compression=gzip-js", None, b"[1]")).unwrap_err();
        assert_eq!(err.code(), "request_decoding_error");
    }

    #[test]
    fn lz64_form_body() {
        let data = lz64::compress_to_base64("[{\"event\":\"x\"}]");
        let body = format!(
            "data={}&compression=lz64",
            url::form_urlencoded::byte_serialize(data.as_bytes()).collect::<String>()
        );
        let req = request(
            "",
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        );
        assert_eq!(text(&req).unwrap(), "[{\"event\":\"x\"}]");
    }

    #[test]
    fn base64_form_with_spaces_for_plus() {
        // "[{\"a\":\"~~~>\"}]" base64-encodes with a `+`; an unescaped form turns it into a space.
        let encoded = BASE64.encode("[{\"a\":\"~~~>\"}]");
        assert!(encoded.contains('+'));
        let body = format!("data={}", encoded);
        let req = request(
            "",
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        );
        assert_eq!(text(&req).unwrap(), "[{\"a\":\"~~~>\"}]");
    }

    #[test]
    fn get_data_parameter() {
        let query = format!("data={}", BASE64.encode("{\"event\":\"e\"}"));
        assert_eq!(
            text(&request(&query, None, b"")).unwrap(),
            "{\"event\":\"e\"}"
        );
    }

    #[test]
    fn nothing_is_empty_payload() {
        assert_eq!(text(&request("", None, b"")), Err(Error::EmptyPayload));
    }

    #[test]
    fn decompressed_limit() {
        let body = gzip(&vec![b' '; 10_000]);
        let err = decode(&request("", None, &body), &Limits { decompressed: 1000 }).unwrap_err();
        assert_eq!(err.code(), "payload_too_large");
    }

    #[test]
    fn sent_at_in_seconds_is_dropped() {
        let d = decode(&request("_=1700000000", None, b"[]"), &Limits::default()).unwrap();
        assert_eq!(d.sent_at_ms, None);
        let d = decode(
            &request("_=1700000000000&ver=1.2.3&beacon=1", None, b"[]"),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(d.sent_at_ms, Some(1_700_000_000_000));
        assert_eq!(d.lib_version.as_deref(), Some("1.2.3"));
        assert!(d.beacon);
    }
}

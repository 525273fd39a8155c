//! A small HTTP/1.1 client for the HTTP suites (raw bytes on a fresh connection, any method, any body,
//! so malformed requests reach the target as written), the capture corpus's body encodings, and the
//! subset comparison of JSON answers.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::Value;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (chunked transfer decoded).
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Splits `http://host:port/prefix` into (`host:port`, `/prefix` without trailing `/`).
fn split_url(base: &str) -> anyhow::Result<(String, String)> {
    let rest = base
        .strip_prefix("http://")
        .with_context(|| format!("only http:// targets are supported, got {base}"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    Ok((
        host.to_owned(),
        if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        },
    ))
}

/// Sends one request to `base` + `uri` (`uri` starts with `/`, may carry `?query`).
pub fn send(
    base: &str,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> anyhow::Result<Response> {
    let (host, prefix) = split_url(base)?;
    let mut stream = TcpStream::connect(&host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let head = request_head(
        &host,
        method,
        &format!("{prefix}{uri}"),
        headers,
        body.len(),
    );
    stream.write_all(head.as_bytes())?;
    // A server may answer (e.g. 413) and close before the whole body is sent: the answer it wrote is
    // still read, and only when there is none does the write error count.
    let written = stream.write_all(body);
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    if raw.is_empty() {
        written?;
        read.with_context(|| format!("reading the answer of {method} {uri}"))?;
    }
    parse_response(&raw).with_context(|| format!("answer of {method} {uri}"))
}

/// The head of a request on a connection that closes after the answer (so the answer is everything
/// read until EOF): request line, `host`, `connection: close`, `headers` as given, and
/// `content-length` when there is a body or the method has one.
pub fn request_head(
    host: &str,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body_len: usize,
) -> String {
    let mut head = format!("{method} {uri} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body_len > 0 || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("content-length: {body_len}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Reads a whole answer (status line, headers, body; a chunked body is decoded).
pub fn parse_response(raw: &[u8]) -> anyhow::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers in the answer")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        anyhow::ensure!(data.len() >= size, "truncated chunk");
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

/// `application/x-www-form-urlencoded` bytes: alphanumerics and `*-._` kept, space as `+`, the rest `%XX`.
pub fn form_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A request as it goes on the wire.
#[derive(Debug, Clone)]
pub struct WireRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path plus `?query` when there is one.
    pub uri: String,
    /// Headers as written in the case.
    pub headers: Vec<(String, String)>,
    /// Body bytes after every encoding step.
    pub body: Vec<u8>,
}

/// A capture corpus request (`fixtures/capture/README.md`) as it goes on the wire.
pub fn corpus_request(request: &Value) -> anyhow::Result<WireRequest> {
    let method = request["method"].as_str().unwrap_or("POST").to_owned();
    let path = request["path"].as_str().context("request.path missing")?;
    let mut query = request["query"].as_str().unwrap_or("").to_owned();
    let mut body: Vec<u8> = if let Some(v) = request.get("body_json") {
        serde_json::to_vec(v)?
    } else if let Some(t) = request["body_text"].as_str() {
        t.as_bytes().to_vec()
    } else if let Some(b) = request["body_base64"].as_str() {
        base64::engine::general_purpose::STANDARD.decode(b)?
    } else {
        Vec::new()
    };
    for step in request["encode"].as_array().into_iter().flatten() {
        match step.as_str().unwrap_or("") {
            "gzip" => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(&body)?;
                body = encoder.finish()?;
            }
            "base64" => {
                body = base64::engine::general_purpose::STANDARD
                    .encode(&body)
                    .into_bytes();
            }
            "lz64" => {
                let text = String::from_utf8(body).context("an lz64 step needs UTF-8 text")?;
                body = lz_compress_to_base64(&text).into_bytes();
            }
            "form" => body = format!("data={}", form_encode(&body)).into_bytes(),
            "form-raw" => {
                let mut out = b"data=".to_vec();
                out.extend_from_slice(&body);
                body = out;
            }
            "query" => {
                let param = format!("data={}", form_encode(&body));
                query = if query.is_empty() {
                    param
                } else {
                    format!("{query}&{param}")
                };
                body = Vec::new();
            }
            other => anyhow::bail!("encode step {other:?} is not supported by the HTTP runner"),
        }
    }
    let headers = request["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    Ok(WireRequest {
        method,
        uri,
        headers,
        body,
    })
}

/// LZ-string's `compressToBase64` (the format posthog-js sends with `compression=lz64`): LZW over
/// UTF-16 code units, codes written LSB first with a growing width, six bits per output character.
pub fn lz_compress_to_base64(input: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct Bits {
        out: String,
        value: u32,
        position: u32,
    }
    impl Bits {
        fn write(&mut self, mut value: u32, width: u32) {
            for _ in 0..width {
                self.value = (self.value << 1) | (value & 1);
                if self.position == 5 {
                    self.out.push(ALPHABET[self.value as usize] as char);
                    self.position = 0;
                    self.value = 0;
                } else {
                    self.position += 1;
                }
                value >>= 1;
            }
        }
    }
    let mut dictionary: std::collections::HashMap<Vec<u16>, u32> = std::collections::HashMap::new();
    let mut to_create: std::collections::HashSet<Vec<u16>> = std::collections::HashSet::new();
    let mut bits = Bits {
        out: String::new(),
        value: 0,
        position: 0,
    };
    let (mut enlarge_in, mut dict_size, mut num_bits) = (2u32, 3u32, 2u32);
    let mut w: Vec<u16> = Vec::new();
    let emit = |w: &Vec<u16>,
                bits: &mut Bits,
                enlarge_in: &mut u32,
                num_bits: &mut u32,
                dictionary: &std::collections::HashMap<Vec<u16>, u32>,
                to_create: &mut std::collections::HashSet<Vec<u16>>| {
        if to_create.remove(w) {
            let unit = u32::from(w[0]);
            if unit < 256 {
                bits.write(0, *num_bits);
                bits.write(unit, 8);
            } else {
                bits.write(1, *num_bits);
                bits.write(unit, 16);
            }
            *enlarge_in -= 1;
            if *enlarge_in == 0 {
                *enlarge_in = 1 << *num_bits;
                *num_bits += 1;
            }
        } else {
            bits.write(dictionary[w], *num_bits);
        }
        *enlarge_in -= 1;
        if *enlarge_in == 0 {
            *enlarge_in = 1 << *num_bits;
            *num_bits += 1;
        }
    };
    for unit in input.encode_utf16() {
        let c = vec![unit];
        if !dictionary.contains_key(&c) {
            dictionary.insert(c.clone(), dict_size);
            dict_size += 1;
            to_create.insert(c.clone());
        }
        let mut wc = w.clone();
        wc.push(unit);
        if dictionary.contains_key(&wc) {
            w = wc;
        } else {
            emit(
                &w,
                &mut bits,
                &mut enlarge_in,
                &mut num_bits,
                &dictionary,
                &mut to_create,
            );
            dictionary.insert(wc, dict_size);
            dict_size += 1;
            w = c;
        }
    }
    if !w.is_empty() {
        emit(
            &w,
            &mut bits,
            &mut enlarge_in,
            &mut num_bits,
            &dictionary,
            &mut to_create,
        );
    }
    bits.write(2, num_bits);
    // Flush: shift the last character's bits into place.
    loop {
        bits.value <<= 1;
        if bits.position == 5 {
            bits.out.push(ALPHABET[bits.value as usize] as char);
            break;
        }
        bits.position += 1;
    }
    let mut out = bits.out;
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// Where `actual` differs from `expected`, read as a subset: every key of an expected object must be
/// present with a matching value (extra keys are fine); arrays and scalars must be equal (numbers by
/// value). `None` when it matches.
pub fn subset_mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, ev)| match a.get(k) {
            Some(av) => subset_mismatch(ev, av, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k}: missing (expected {ev})")),
        }),
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{at}: expected {} items, got {}: {}",
                    e.len(),
                    a.len(),
                    short(actual)
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| subset_mismatch(ev, av, &format!("{at}[{i}]")))
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        (e, a) if e == a => None,
        (e, a) => Some(format!("{at}: expected {e}, got {}", short(a))),
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_matching() {
        let actual = json!({"a": 1, "b": [1, {"c": 2, "d": 3}], "e": 1.0});
        assert_eq!(subset_mismatch(&json!({"a": 1}), &actual, "$"), None);
        assert_eq!(
            subset_mismatch(&json!({"b": [1, {"c": 2}]}), &actual, "$"),
            None
        );
        assert_eq!(subset_mismatch(&json!({"e": 1}), &actual, "$"), None);
        assert!(subset_mismatch(&json!({"b": [1]}), &actual, "$").is_some());
        assert_eq!(
            subset_mismatch(&json!({"z": 1}), &actual, "$").as_deref(),
            Some("$.z: missing (expected 1)")
        );
    }

    #[test]
    fn responses_and_chunks() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
        assert_eq!(r.header("x-a"), Some("b"));
        assert_eq!(form_encode(b"a b&=\xff"), "a+b%26%3D%FF");
        assert_eq!(
            split_url("http://h:1/x/").unwrap(),
            ("h:1".into(), "/x".into())
        );
    }
}

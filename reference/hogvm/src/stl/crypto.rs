//! Hashes (md5, sha1, sha256; hex, base64, base64url or binary output), HMAC chains and IP ranges.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Digest as _;

use super::{Ctx, Row, arg, type_err};
use crate::error::{Error, Result};
use crate::js;
use crate::value::Value;

pub(super) const FUNCTIONS: &[Row] = &[
    ("sha256Hex", 1, Some(1), hash),
    ("sha256", 1, Some(2), hash),
    ("sha1Hex", 1, Some(1), hash),
    ("sha1", 1, Some(2), hash),
    ("md5Hex", 1, Some(1), hash),
    ("md5", 1, Some(2), hash),
    ("sha1HmacChainHex", 1, Some(1), hmac_chain),
    ("sha1HmacChain", 1, Some(2), hmac_chain),
    ("sha256HmacChainHex", 1, Some(1), hmac_chain),
    ("sha256HmacChain", 1, Some(2), hmac_chain),
    ("isIPAddressInRange", 2, Some(2), ip_in_range),
];

fn encode(bytes: &[u8], encoding: Option<&Value>) -> Result<Value> {
    let enc = match encoding {
        None => "hex".to_string(),
        Some(Value::Str(s)) => s.to_string(),
        Some(other) => {
            return Err(Error::func(format!(
                "unsupported digest encoding {}",
                js::to_string(other)
            )));
        }
    };
    Ok(Value::string(match enc.as_str() {
        "hex" => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        "base64" => base64::engine::general_purpose::STANDARD.encode(bytes),
        "base64url" => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        "binary" | "latin1" => bytes.iter().map(|&b| char::from(b)).collect(),
        other => return Err(Error::func(format!("unsupported digest encoding {other}"))),
    }))
}

fn hash(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let data = match arg(&args, 0) {
        Value::Null => return Ok(Value::Null),
        Value::Str(s) => s.clone(),
        other => return Err(type_err(ctx, other)),
    };
    let bytes: Vec<u8> = if ctx.name.starts_with("sha256") {
        sha2::Sha256::digest(data.as_bytes()).to_vec()
    } else if ctx.name.starts_with("sha1") {
        sha1::Sha1::digest(data.as_bytes()).to_vec()
    } else {
        md5::Md5::digest(data.as_bytes()).to_vec()
    };
    let encoding = if ctx.name.ends_with("Hex") {
        None
    } else {
        args.get(1)
    };
    encode(&bytes, encoding)
}

fn hmac_step(sha256: bool, key: &[u8], data: &[u8]) -> Vec<u8> {
    if sha256 {
        let Ok(mut m) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
            return Vec::new();
        };
        m.update(data);
        m.finalize().into_bytes().to_vec()
    } else {
        let Ok(mut m) = Hmac::<sha1::Sha1>::new_from_slice(key) else {
            return Vec::new();
        };
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
}

fn hmac_chain(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (Value::Array(list) | Value::Tuple(list)) = arg(&args, 0) else {
        return Err(type_err(ctx, arg(&args, 0)));
    };
    let data: Vec<String> = list.borrow().iter().map(js::to_string).collect();
    if data.len() < 2 {
        return Err(Error::func(
            "Data array must contain at least two elements.",
        ));
    }
    let sha256 = ctx.name.starts_with("sha256");
    let mut digest = hmac_step(sha256, data[0].as_bytes(), data[1].as_bytes());
    for d in &data[2..] {
        digest = hmac_step(sha256, &digest, d.as_bytes());
    }
    let encoding = if ctx.name.ends_with("Hex") {
        None
    } else {
        args.get(1)
    };
    encode(&digest, encoding)
}

fn v4_bytes(ip: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = ip.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            let n = js::string_to_number(p);
            if n.is_nan() || !(0.0..=255.0).contains(&n) || js::number_to_string(n) != *p {
                return None;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(n as u8)
        })
        .collect()
}

fn v6_bytes(ip: &str) -> Option<Vec<u8>> {
    let segments: Vec<String> = if ip.contains("::") {
        if ip.matches("::").count() > 1 {
            return None;
        }
        let (pre, post) = ip.split_once("::")?;
        // JavaScript's split keeps only the first two pieces of a ':::' split, as `[pre, post]` does.
        let post = post.split("::").next().unwrap_or("");
        let pre: Vec<&str> = if pre.is_empty() {
            Vec::new()
        } else {
            pre.split(':').collect()
        };
        let post: Vec<&str> = if post.is_empty() {
            Vec::new()
        } else {
            post.split(':').collect()
        };
        if pre.len() + post.len() > 7 {
            return None;
        }
        let fill = 8 - pre.len() - post.len();
        pre.iter()
            .map(|s| (*s).to_string())
            .chain(std::iter::repeat_n("0".to_string(), fill))
            .chain(post.iter().map(|s| (*s).to_string()))
            .collect()
    } else {
        let s: Vec<String> = ip.split(':').map(str::to_string).collect();
        if s.len() != 8 {
            return None;
        }
        s
    };
    let mut out = Vec::with_capacity(16);
    for seg in segments.iter().take(8) {
        if seg.is_empty() {
            return None;
        }
        let v = js::parse_int(&Value::string(format!("0x{seg}")))?;
        if !(0.0..=65535.0).contains(&v)
            || seg.starts_with(['-', '+'])
            || seg.starts_with("0x")
            || seg.starts_with("0X")
        {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = v as u16;
        out.extend_from_slice(&v.to_be_bytes());
    }
    Some(out)
}

fn ip_in_range(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (address, prefix) = (arg(&args, 0), arg(&args, 1));
    if !address.truthy() || !prefix.truthy() {
        return Ok(Value::Bool(false));
    }
    let (Value::Str(address), Value::Str(prefix)) = (address, prefix) else {
        return Ok(Value::Bool(false));
    };
    let mut parts = prefix.split('/');
    let (Some(net), Some(mask)) = (parts.next(), parts.next()) else {
        return Ok(Value::Bool(false));
    };
    if net.is_empty() || mask.is_empty() {
        return Ok(Value::Bool(false));
    }
    let cidr = js::string_to_number(mask);
    if cidr.is_nan() || cidr < 0.0 {
        return Ok(Value::Bool(false));
    }
    let v4 = address.contains('.') && net.contains('.');
    let v6 = !v4 && address.contains(':') && net.contains(':');
    if (!v4 && !v6) || (v4 && cidr > 32.0) || (v6 && cidr > 128.0) {
        return Ok(Value::Bool(false));
    }
    let bytes = |ip: &str| if v4 { v4_bytes(ip) } else { v6_bytes(ip) };
    let (Some(a), Some(n)) = (bytes(address), bytes(net)) else {
        return Ok(Value::Bool(false));
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let cidr = cidr as usize; // `>>` and `&` truncate like this
    let full = cidr >> 3;
    if a[..full.min(a.len())] != n[..full.min(n.len())] {
        return Ok(Value::Bool(false));
    }
    let bits = cidr & 7;
    if bits != 0 && full < a.len() {
        let m = (0xffu32 << (8 - bits)) as u8;
        if a[full] & m != n[full] & m {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

//! LZ-string's base64 flavour (`compressToBase64` / `decompressFromBase64`), used by old posthog-js
//! (`compression=lz64`). Written from the algorithm's description: LZW over UTF-16 code units with a
//! growing code width, packed 6 bits per base64 character, least significant bit first.

const ALPHABET: &[u8; 65] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

/// Why an lz64 payload could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LzError {
    /// The input is empty (LZ-string returns `null` for it).
    Empty,
    /// A code refers to a dictionary entry that does not exist, or the stream never ends.
    Corrupt,
    /// The output would exceed the given limit (in UTF-16 code units × 2, i.e. bytes of UTF-16).
    TooLarge,
    /// The output is not valid UTF-16 (lone surrogates).
    InvalidUtf16,
}

impl std::fmt::Display for LzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzError::Empty => "empty input",
            LzError::Corrupt => "corrupt lz-string stream",
            LzError::TooLarge => "output too large",
            LzError::InvalidUtf16 => "output is not valid utf-16",
        })
    }
}

impl std::error::Error for LzError {}

fn char_value(c: u8) -> u32 {
    // Characters outside the alphabet read as 0, like the reference implementation's lookup miss.
    match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        b'=' => 64,
        _ => 0,
    }
}

struct BitReader<'a> {
    input: &'a [u8],
    value: u32,
    position: u32,
    index: usize,
}

impl BitReader<'_> {
    fn read(&mut self, n_bits: u32) -> u32 {
        let mut bits = 0u32;
        for i in 0..n_bits {
            let bit = u32::from(self.value & self.position != 0);
            self.position >>= 1;
            if self.position == 0 {
                self.position = 32;
                self.value = self.input.get(self.index).map_or(0, |c| char_value(*c));
                self.index += 1;
            }
            bits |= bit << i;
        }
        bits
    }
}

#[derive(Clone, Copy)]
enum Entry {
    /// One literal UTF-16 unit.
    Literal(u16),
    /// `len` units of the output starting at `start`.
    Span(usize, usize),
}

/// Decompresses an LZ-string base64 payload into text; `max_bytes` bounds the UTF-16 output size.
pub fn decompress_from_base64(input: &str, max_bytes: usize) -> Result<String, LzError> {
    let input = input.as_bytes();
    if input.is_empty() {
        return Err(LzError::Empty);
    }
    let max_units = max_bytes / 2;
    let mut reader = BitReader {
        input,
        value: char_value(input[0]),
        position: 32,
        index: 1,
    };
    let mut dictionary: Vec<Entry> = vec![Entry::Literal(0); 3];
    let mut out: Vec<u16> = Vec::new();
    let mut n_bits: u32 = 3;
    let mut enlarge_in: u64 = 4;

    let first = match reader.read(2) {
        0 => reader.read(8) as u16,
        1 => reader.read(16) as u16,
        2 => return Ok(String::new()),
        _ => return Err(LzError::Corrupt),
    };
    dictionary.push(Entry::Literal(first));
    out.push(first);
    // `w` is the previous entry, as a span of the output.
    let mut w = (0usize, 1usize);
    loop {
        if reader.index > input.len() + 1 {
            // Ran past the end without an end marker.
            return Err(LzError::Corrupt);
        }
        if n_bits > 31 {
            return Err(LzError::Corrupt);
        }
        let mut code = reader.read(n_bits) as usize;
        match code {
            0 | 1 => {
                let unit = if code == 0 {
                    reader.read(8) as u16
                } else {
                    reader.read(16) as u16
                };
                dictionary.push(Entry::Literal(unit));
                code = dictionary.len() - 1;
                enlarge_in -= 1;
            }
            2 => break,
            _ => {}
        }
        if enlarge_in == 0 {
            enlarge_in = 1u64 << n_bits;
            n_bits += 1;
        }
        let start = out.len();
        match dictionary.get(code).copied() {
            Some(Entry::Literal(unit)) => out.push(unit),
            Some(Entry::Span(from, len)) => out.extend_from_within(from..from + len),
            None if code == dictionary.len() => {
                // The entry being defined right now: w followed by w's first unit.
                out.extend_from_within(w.0..w.0 + w.1);
                out.push(out[w.0]);
            }
            None => return Err(LzError::Corrupt),
        }
        if out.len() > max_units {
            return Err(LzError::TooLarge);
        }
        let entry_len = out.len() - start;
        // New dictionary entry: w followed by the first unit of this entry; w and entry are adjacent.
        dictionary.push(Entry::Span(w.0, w.1 + 1));
        enlarge_in -= 1;
        w = (start, entry_len);
        if enlarge_in == 0 {
            enlarge_in = 1u64 << n_bits;
            n_bits += 1;
        }
    }
    String::from_utf16(&out).map_err(|_| LzError::InvalidUtf16)
}

struct BitWriter {
    out: String,
    value: u32,
    position: u32,
}

impl BitWriter {
    fn write(&mut self, mut value: u32, n_bits: u32) {
        for _ in 0..n_bits {
            self.value = (self.value << 1) | (value & 1);
            if self.position == 5 {
                self.position = 0;
                self.out.push(char::from(ALPHABET[self.value as usize]));
                self.value = 0;
            } else {
                self.position += 1;
            }
            value >>= 1;
        }
    }
}

/// Compresses text the way LZ-string's `compressToBase64` does (used to build test vectors and benches).
pub fn compress_to_base64(text: &str) -> String {
    use std::collections::{HashMap, HashSet};
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut dictionary: HashMap<Vec<u16>, u32> = HashMap::new();
    let mut to_create: HashSet<Vec<u16>> = HashSet::new();
    let mut w: Vec<u16> = Vec::new();
    let mut enlarge_in: u64 = 2;
    let mut dict_size: u32 = 3;
    let mut n_bits: u32 = 2;
    let mut writer = BitWriter {
        out: String::new(),
        value: 0,
        position: 0,
    };

    let emit = |w: &Vec<u16>,
                writer: &mut BitWriter,
                dictionary: &HashMap<Vec<u16>, u32>,
                to_create: &mut HashSet<Vec<u16>>,
                enlarge_in: &mut u64,
                n_bits: &mut u32| {
        if to_create.remove(w) {
            let unit = u32::from(w[0]);
            if unit < 256 {
                writer.write(0, *n_bits);
                writer.write(unit, 8);
            } else {
                writer.write(1, *n_bits);
                writer.write(unit, 16);
            }
            *enlarge_in -= 1;
            if *enlarge_in == 0 {
                *enlarge_in = 1u64 << *n_bits;
                *n_bits += 1;
            }
        } else {
            writer.write(dictionary[w], *n_bits);
        }
        *enlarge_in -= 1;
        if *enlarge_in == 0 {
            *enlarge_in = 1u64 << *n_bits;
            *n_bits += 1;
        }
    };

    for &unit in &units {
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
                &mut writer,
                &dictionary,
                &mut to_create,
                &mut enlarge_in,
                &mut n_bits,
            );
            dictionary.insert(wc, dict_size);
            dict_size += 1;
            w = c;
        }
    }
    if !w.is_empty() {
        emit(
            &w,
            &mut writer,
            &dictionary,
            &mut to_create,
            &mut enlarge_in,
            &mut n_bits,
        );
    }
    writer.write(2, n_bits);
    loop {
        writer.value <<= 1;
        if writer.position == 5 {
            writer.out.push(char::from(ALPHABET[writer.value as usize]));
            break;
        }
        writer.position += 1;
    }
    let mut out = writer.out;
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors produced by the JavaScript lz-string 1.5.0 package (`compressToBase64`).
    const VECTORS: &[(&str, &str)] = &[
        ("hello", "BYUwNmD2Q==="),
        ("[{\"event\":\"x\"}]", "NobwRApgbhB2AuYBcYAeYC+BdIA="),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "IY18ZZA="),
        ("héllo wörld ✓ 😀", "BYS4NmD2AEDuBvAnMATahkcmoXg3AAe0A==="),
        ("", "Q==="),
    ];

    #[test]
    fn compresses_like_the_javascript_library() {
        for (text, expected) in VECTORS {
            assert_eq!(compress_to_base64(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn decompresses_javascript_output() {
        for (text, encoded) in VECTORS {
            assert_eq!(
                decompress_from_base64(encoded, 1 << 20).as_deref(),
                Ok(*text)
            );
        }
    }

    #[test]
    fn empty_input_and_garbage_are_errors() {
        assert_eq!(decompress_from_base64("", 100), Err(LzError::Empty));
        assert!(decompress_from_base64("////////////", 1000).is_err());
    }

    #[test]
    fn output_limit_is_enforced() {
        let encoded = compress_to_base64(&"abc".repeat(1000));
        assert_eq!(
            decompress_from_base64(&encoded, 100),
            Err(LzError::TooLarge)
        );
    }
}

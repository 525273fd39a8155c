//! Encryption keys: base64url-encoded 32-byte strings, as PostHog's `ENCRYPTION_SALT_KEYS` requires.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};

/// base64url without padding that ignores non-zero unused bits in the last character.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

use crate::error::KeyProblem;

/// Bytes in one key.
pub const KEY_LEN: usize = 32;

/// One 32-byte key. `Debug` never prints the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey([u8; KEY_LEN]);

impl EncryptionKey {
    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Decodes one key: base64url (`-`, `_`), trailing `=` padding optional, exactly 32 bytes.
    pub fn decode(text: &str) -> Result<Self, KeyProblem> {
        if text.is_empty() {
            return Err(KeyProblem::Empty);
        }
        let unpadded = strip_padding(text)?;
        for (i, ch) in unpadded.chars().enumerate() {
            match ch {
                'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' => {}
                '+' | '/' => return Err(KeyProblem::StandardAlphabet { ch }),
                '=' => return Err(KeyProblem::Padding),
                _ => {
                    return Err(KeyProblem::InvalidChar {
                        ch,
                        position: i + 1,
                    });
                }
            }
        }
        let chars = unpadded.len();
        if chars % 4 == 1 {
            return Err(KeyProblem::ImpossibleLength { chars });
        }
        // Lenient first, so that a truncated key reports its byte count rather than stray bits.
        let bytes = LENIENT
            .decode(unpadded)
            .map_err(|_| KeyProblem::ImpossibleLength { chars })?;
        let array: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyProblem::Length { bytes: bytes.len() })?;
        if URL_SAFE_NO_PAD.decode(unpadded).is_err() {
            return Err(KeyProblem::NonCanonicalEnd);
        }
        Ok(EncryptionKey(array))
    }

    /// The canonical text form: base64url without padding (43 characters).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl From<[u8; KEY_LEN]> for EncryptionKey {
    fn from(bytes: [u8; KEY_LEN]) -> Self {
        EncryptionKey(bytes)
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(***)")
    }
}

/// Removes trailing `=` padding, which is only allowed to fill the string to a multiple of 4.
fn strip_padding(text: &str) -> Result<&str, KeyProblem> {
    let unpadded = text.trim_end_matches('=');
    let pads = text.len() - unpadded.len();
    if pads == 0 {
        return Ok(text);
    }
    if pads > 2 || !text.len().is_multiple_of(4) {
        return Err(KeyProblem::Padding);
    }
    Ok(unpadded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<(), KeyProblem>) {
        assert_eq!(
            EncryptionKey::decode(text).map(|_| ()),
            expected,
            "{text:?}"
        );
    }

    fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn accepts_unpadded_and_padded_32_bytes() {
        let bytes = [0xfb_u8; 32]; // encodes to `-` / `_`-heavy text
        let text = encode(&bytes);
        assert_eq!(text.len(), 43);
        assert!(text.contains('-') || text.contains('_'));
        let key = EncryptionKey::decode(&text).unwrap();
        assert_eq!(key.as_bytes(), &bytes);
        assert_eq!(key.encode(), text);
        check(&format!("{text}="), Ok(()));
    }

    #[test]
    fn rejects_wrong_lengths() {
        check(&encode(&[7; 31]), Err(KeyProblem::Length { bytes: 31 }));
        check(&encode(&[7; 33]), Err(KeyProblem::Length { bytes: 33 }));
        check(&encode(&[7; 16]), Err(KeyProblem::Length { bytes: 16 }));
        check("A", Err(KeyProblem::ImpossibleLength { chars: 1 }));
    }

    #[test]
    fn rejects_standard_base64() {
        check(
            &encode(&[0xfb; 32]).replace('-', "+"),
            Err(KeyProblem::StandardAlphabet { ch: '+' }),
        );
        check(
            &encode(&[0xff; 32]).replace('_', "/"),
            Err(KeyProblem::StandardAlphabet { ch: '/' }),
        );
    }

    #[test]
    fn rejects_non_base64() {
        check("", Err(KeyProblem::Empty));
        check(
            "abc$defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
            Err(KeyProblem::InvalidChar {
                ch: '$',
                position: 4,
            }),
        );
        check("ab=cd", Err(KeyProblem::Padding));
        check(
            &format!("{}===", encode(&[1; 32])),
            Err(KeyProblem::Padding),
        );
        // 43 characters whose last one carries stray low bits.
        let mut text = encode(&[0; 32]);
        text.pop();
        text.push('B');
        check(&text, Err(KeyProblem::NonCanonicalEnd));
    }

    #[test]
    fn debug_hides_the_key() {
        let key = EncryptionKey::from([9; 32]);
        assert_eq!(format!("{key:?}"), "EncryptionKey(***)");
    }
}

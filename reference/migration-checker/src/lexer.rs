//! Tokenizer for ClickHouse DDL: identifiers, strings, numbers, punctuation and `${name}` placeholders.
//!
//! The lexer never fails: bad input becomes an [`TokenKind::Error`] token carrying a message, so the parser
//! can report it with a position.

use std::ops::Range;

/// Byte range into the SQL text.
pub type Span = Range<usize>;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare word: keyword or identifier (keywords are recognised by the parser, case-insensitively).
    Word,
    /// A `` `quoted` `` or `"quoted"` identifier; the text is the unquoted name.
    QuotedIdent(String),
    /// A `'string'` literal; the text is the unescaped value.
    String(String),
    /// A number literal.
    Number,
    /// `${name}`: a template placeholder filled by the engine helper.
    Placeholder(String),
    /// One punctuation character: `( ) [ ] { } , ; . =` and friends.
    Punct(char),
    /// Something the lexer cannot read, with the reason.
    Error(String),
}

/// A token with its source span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The kind (and decoded value for strings and quoted identifiers).
    pub kind: TokenKind,
    /// Byte range in the source.
    pub span: Span,
}

impl Token {
    /// The raw text of this token in `src`.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.span.clone()).unwrap_or("")
    }
}

/// Splits `src` into tokens, skipping whitespace and comments (`-- …`, `# …`, `/* … */`).
pub fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && bytes.get(i + 1) == Some(&b'-') || c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            match src[i + 2..].find("*/") {
                Some(end) => i = i + 2 + end + 2,
                None => {
                    out.push(Token {
                        kind: TokenKind::Error("unterminated comment".into()),
                        span: start..src.len(),
                    });
                    i = src.len();
                }
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            // keep the span on char boundaries
            while !src.is_char_boundary(i) {
                i += 1;
            }
            out.push(Token {
                kind: TokenKind::Word,
                span: start..i,
            });
            continue;
        }
        if c.is_ascii_digit() {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            out.push(Token {
                kind: TokenKind::Number,
                span: start..i,
            });
            continue;
        }
        if c == b'\'' || c == b'`' || c == b'"' {
            let (value, end, closed) = quoted(src, i, c);
            i = end;
            let kind = if !closed {
                TokenKind::Error(format!(
                    "unterminated {} literal",
                    if c == b'\'' { "string" } else { "identifier" }
                ))
            } else if c == b'\'' {
                TokenKind::String(value)
            } else {
                TokenKind::QuotedIdent(value)
            };
            out.push(Token {
                kind,
                span: start..i,
            });
            continue;
        }
        if c == b'$' && bytes.get(i + 1) == Some(&b'{') {
            match src[i + 2..].find('}') {
                Some(end) => {
                    let name = src[i + 2..i + 2 + end].trim().to_string();
                    i = i + 2 + end + 1;
                    out.push(Token {
                        kind: TokenKind::Placeholder(name),
                        span: start..i,
                    });
                }
                None => {
                    out.push(Token {
                        kind: TokenKind::Error("unterminated placeholder".into()),
                        span: start..src.len(),
                    });
                    i = src.len();
                }
            }
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        i += ch.len_utf8();
        if "()[]{},;.=<>!+-*/%:?|&^~@".contains(ch) {
            out.push(Token {
                kind: TokenKind::Punct(ch),
                span: start..i,
            });
        } else {
            out.push(Token {
                kind: TokenKind::Error(format!("unexpected character `{ch}`")),
                span: start..i,
            });
        }
    }
    out
}

/// Reads a quoted literal starting at `start` (the quote). Returns (value, end offset, closed).
fn quoted(src: &str, start: usize, quote: u8) -> (String, usize, bool) {
    let bytes = src.as_bytes();
    let mut value = String::new();
    let mut i = start + 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' {
            let Some(next) = src[i + 1..].chars().next() else {
                return (value, src.len(), false);
            };
            value.push(match next {
                'n' => '\n',
                't' => '\t',
                '0' => '\0',
                other => other,
            });
            i += 1 + next.len_utf8();
            continue;
        }
        if c == quote {
            if bytes.get(i + 1) == Some(&quote) {
                value.push(quote as char);
                i += 2;
                continue;
            }
            return (value, i + 1, true);
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        value.push(ch);
        i += ch.len_utf8();
    }
    (value, src.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn strings_identifiers_and_placeholders() {
        assert_eq!(
            kinds("a 'it''s' `b c` ${engine} -- x\n1.5"),
            vec![
                TokenKind::Word,
                TokenKind::String("it's".into()),
                TokenKind::QuotedIdent("b c".into()),
                TokenKind::Placeholder("engine".into()),
                TokenKind::Number,
            ]
        );
    }

    #[test]
    fn unterminated_string_is_an_error_token() {
        assert!(matches!(kinds("'abc")[0], TokenKind::Error(_)));
    }
}

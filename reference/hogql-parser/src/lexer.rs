//! Zero-copy, on-demand lexer: the parser asks for the token at a byte offset.
//!
//! Modes (template strings, HogQLX text) are driven by the parser, which scans their raw text
//! directly; this module lexes the default mode only.

/// Token kinds of the default lexer mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Tok {
    /// A bare word (identifier or keyword).
    Word,
    /// A backtick-quoted identifier.
    BacktickIdent,
    /// A double-quoted identifier.
    QuoteIdent,
    /// A numeric literal.
    Number,
    /// A single-quoted string.
    Str,
    /// `f'`, the start of a template string.
    FStrStart,
    /// `#` followed by digits.
    Positional,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Dot,
    Semi,
    Colon,
    DoubleColon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Concat,
    Eq,
    EqEq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `<=>`
    Spaceship,
    /// `~` or `=~`
    Regex,
    /// `~*` or `=~*`
    IRegex,
    NotRegex,
    NotIRegex,
    /// `??`
    Nullish,
    /// `?`
    Question,
    /// `?.`
    NullProp,
    /// `->`
    Arrow,
    /// `:=`
    Walrus,
    /// `!` alone
    Bang,
    /// `/>`
    SlashGt,
    /// `</`
    LtSlash,
    /// End of input.
    Eof,
    /// A character no token starts with.
    Unknown,
    /// A string or comment that never ends.
    Unterminated,
}

/// One token: kind and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

pub(crate) fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Skips whitespace and comments from `pos`; returns the new position, or `Err(pos)` of an
/// unterminated block comment.
pub(crate) fn skip_trivia(src: &str, mut pos: usize) -> Result<usize, usize> {
    let b = src.as_bytes();
    loop {
        let Some(&c) = b.get(pos) else { return Ok(pos) };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => pos += 1,
            b'-' if b.get(pos + 1) == Some(&b'-') => pos = line_end(b, pos),
            b'/' if b.get(pos + 1) == Some(&b'/') => pos = line_end(b, pos),
            b'#' if !b.get(pos + 1).is_some_and(u8::is_ascii_digit) => pos = line_end(b, pos),
            b'/' if b.get(pos + 1) == Some(&b'*') => match src[pos + 2..].find("*/") {
                Some(i) => pos = pos + 2 + i + 2,
                None => return Err(pos),
            },
            c if c >= 0x80 => {
                let ch = src[pos..].chars().next().unwrap_or('\0');
                if ch.is_whitespace() || ch == '\u{feff}' {
                    pos += ch.len_utf8();
                } else {
                    return Ok(pos);
                }
            }
            _ => return Ok(pos),
        }
    }
}

fn line_end(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && b[pos] != b'\n' && b[pos] != b'\r' {
        pos += 1;
    }
    pos
}

/// Lexes one default-mode token starting exactly at `pos` (trivia already skipped).
pub(crate) fn lex_at(src: &str, pos: usize) -> Token {
    let b = src.as_bytes();
    let tok = |kind, end: usize| Token {
        kind,
        start: pos as u32,
        end: end as u32,
    };
    let Some(&c) = b.get(pos) else {
        return tok(Tok::Eof, pos);
    };
    let n1 = b.get(pos + 1).copied().unwrap_or(0);
    let n2 = b.get(pos + 2).copied().unwrap_or(0);
    match c {
        b'f' | b'F' if n1 == b'\'' => tok(Tok::FStrStart, pos + 2),
        c if is_ident_start(c) => {
            let mut e = pos + 1;
            while e < b.len() && is_ident_char(b[e]) {
                e += 1;
            }
            tok(Tok::Word, e)
        }
        b'0'..=b'9' => tok(Tok::Number, lex_number(b, pos)),
        b'.' if n1.is_ascii_digit() => tok(Tok::Number, lex_number(b, pos)),
        b'\'' => match scan_quoted(b, pos, b'\'') {
            Some(e) => tok(Tok::Str, e),
            None => tok(Tok::Unterminated, b.len()),
        },
        b'`' => match scan_quoted(b, pos, b'`') {
            Some(e) => tok(Tok::BacktickIdent, e),
            None => tok(Tok::Unterminated, b.len()),
        },
        b'"' => match scan_quoted(b, pos, b'"') {
            Some(e) => tok(Tok::QuoteIdent, e),
            None => tok(Tok::Unterminated, b.len()),
        },
        b'#' => {
            let mut e = pos + 1;
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
            tok(Tok::Positional, e)
        }
        b'(' => tok(Tok::LParen, pos + 1),
        b')' => tok(Tok::RParen, pos + 1),
        b'[' => tok(Tok::LBracket, pos + 1),
        b']' => tok(Tok::RBracket, pos + 1),
        b'{' => tok(Tok::LBrace, pos + 1),
        b'}' => tok(Tok::RBrace, pos + 1),
        b',' => tok(Tok::Comma, pos + 1),
        b'.' => tok(Tok::Dot, pos + 1),
        b';' => tok(Tok::Semi, pos + 1),
        b':' if n1 == b':' => tok(Tok::DoubleColon, pos + 2),
        b':' if n1 == b'=' => tok(Tok::Walrus, pos + 2),
        b':' => tok(Tok::Colon, pos + 1),
        b'+' => tok(Tok::Plus, pos + 1),
        b'-' if n1 == b'>' => tok(Tok::Arrow, pos + 2),
        b'-' => tok(Tok::Minus, pos + 1),
        b'*' => tok(Tok::Star, pos + 1),
        b'/' if n1 == b'>' => tok(Tok::SlashGt, pos + 2),
        b'/' => tok(Tok::Slash, pos + 1),
        b'%' => tok(Tok::Percent, pos + 1),
        b'|' if n1 == b'|' => tok(Tok::Concat, pos + 2),
        b'=' if n1 == b'=' => tok(Tok::EqEq, pos + 2),
        b'=' if n1 == b'~' && n2 == b'*' => tok(Tok::IRegex, pos + 3),
        b'=' if n1 == b'~' => tok(Tok::Regex, pos + 2),
        b'=' => tok(Tok::Eq, pos + 1),
        b'!' if n1 == b'=' => tok(Tok::NotEq, pos + 2),
        b'!' if n1 == b'~' && n2 == b'*' => tok(Tok::NotIRegex, pos + 3),
        b'!' if n1 == b'~' => tok(Tok::NotRegex, pos + 2),
        b'!' => tok(Tok::Bang, pos + 1),
        b'~' if n1 == b'*' => tok(Tok::IRegex, pos + 2),
        b'~' => tok(Tok::Regex, pos + 1),
        b'<' if n1 == b'=' && n2 == b'>' => tok(Tok::Spaceship, pos + 3),
        b'<' if n1 == b'=' => tok(Tok::LtEq, pos + 2),
        b'<' if n1 == b'>' => tok(Tok::NotEq, pos + 2),
        b'<' if n1 == b'/' => tok(Tok::LtSlash, pos + 2),
        b'<' => tok(Tok::Lt, pos + 1),
        b'>' if n1 == b'=' => tok(Tok::GtEq, pos + 2),
        b'>' => tok(Tok::Gt, pos + 1),
        b'?' if n1 == b'?' => tok(Tok::Nullish, pos + 2),
        b'?' if n1 == b'.' => tok(Tok::NullProp, pos + 2),
        b'?' => tok(Tok::Question, pos + 1),
        _ => {
            let len = src[pos..].chars().next().map_or(1, char::len_utf8);
            tok(Tok::Unknown, pos + len)
        }
    }
}

fn lex_number(b: &[u8], pos: usize) -> usize {
    let digits = |mut e: usize, f: fn(&u8) -> bool| {
        while e < b.len() && f(&b[e]) {
            e += 1;
        }
        e
    };
    if b[pos] == b'0' && pos + 2 <= b.len() {
        let n1 = b.get(pos + 1).copied().unwrap_or(0);
        let n2 = b.get(pos + 2).copied().unwrap_or(0);
        if matches!(n1, b'x' | b'X') && n2.is_ascii_hexdigit() {
            return digits(pos + 2, u8::is_ascii_hexdigit);
        }
        if matches!(n1, b'b' | b'B') && matches!(n2, b'0' | b'1') {
            let e = digits(pos + 2, |c| matches!(c, b'0' | b'1'));
            if !b.get(e).is_some_and(|c| is_ident_char(*c)) {
                return e;
            }
        }
    }
    let mut e = digits(pos, u8::is_ascii_digit);
    if b.get(e) == Some(&b'.') {
        let after = b.get(e + 1).copied().unwrap_or(0);
        let exp_follows = matches!(after, b'e' | b'E') && {
            let mut x = e + 2;
            if matches!(b.get(x), Some(b'+' | b'-')) {
                x += 1;
            }
            b.get(x).is_some_and(u8::is_ascii_digit)
        };
        // `1.b` is an access on `1`; `1.`, `1.5` and `1.e5` are floats
        if after.is_ascii_digit() || exp_follows || !is_ident_char(after) {
            e = digits(e + 1, u8::is_ascii_digit);
        }
    }
    if matches!(b.get(e), Some(b'e' | b'E')) {
        let mut x = e + 1;
        if matches!(b.get(x), Some(b'+' | b'-')) {
            x += 1;
        }
        if b.get(x).is_some_and(u8::is_ascii_digit) {
            e = digits(x, u8::is_ascii_digit);
        }
    }
    e
}

/// Scans a quoted literal starting at the opening quote; doubling and backslash escape the quote.
fn scan_quoted(b: &[u8], pos: usize, q: u8) -> Option<usize> {
    let mut i = pos + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            i += 2;
        } else if c == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return Some(i + 1);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Decodes the body of a quoted literal (without its quotes), PostHog's way: `\n \t \r \a \b \f \v
/// \\` decode, `\0` is dropped, `\xHH` and `\N` stay verbatim, a doubled quote is one quote, and the
/// escaped quote decodes except for backticks. Any other escape is an error (its byte offset in `body`).
pub(crate) fn unescape(body: &str, q: char) -> Result<String, usize> {
    if !body.contains(['\\', q]) {
        return Ok(body.to_string());
    }
    let mut out = String::with_capacity(body.len());
    let bytes = body.as_bytes();
    let mut it = body.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == q {
            if it.peek().map(|p| p.1) == Some(q) {
                it.next();
            }
            out.push(q);
        } else if c == '\\' {
            let Some((_, e)) = it.next() else {
                out.push('\\');
                break;
            };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => {}
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '\\' => out.push('\\'),
                'N' => out.push_str("\\N"),
                'x' if bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                {
                    out.push_str(&body[i..i + 4]);
                    it.next();
                    it.next();
                }
                e if e == q && q != '`' => out.push(q),
                _ => return Err(i),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

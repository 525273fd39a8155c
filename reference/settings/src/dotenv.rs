//! A `.env` parser for the subset of docker compose's format that both sides read the same way.
//!
//! Accepted: blank lines, `# comments`, `KEY=VALUE` with an optional `export ` prefix, spaces
//! around `=`, unquoted values (an inline comment starts at a `#` preceded by whitespace),
//! `'single-quoted'` values (literal) and `"double-quoted"` values (escapes `\n`, `\t`, `\r`,
//! `\"`, `\\`). Rejected: `$` outside single quotes (compose would interpolate it, this parser
//! would not), multi-line quoted values, and a name set twice.

use std::collections::HashMap;

use crate::error::{DotEnvProblem, Error, Result};

/// One `KEY=VALUE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotEnvEntry {
    /// The variable name.
    pub key: String,
    /// The value, unquoted and unescaped.
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// Parses the text of a `.env` file, reporting every bad line.
pub fn parse_dotenv(text: &str) -> Result<Vec<DotEnvEntry>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        match parse_line(raw) {
            Ok(None) => {}
            Ok(Some((key, value))) => {
                if let Some(&first_line) = seen.get(&key) {
                    errors.push(Error::DotEnv {
                        line,
                        problem: DotEnvProblem::Duplicate { key, first_line },
                    });
                } else {
                    seen.insert(key.clone(), line);
                    entries.push(DotEnvEntry { key, value, line });
                }
            }
            Err(problem) => errors.push(Error::DotEnv { line, problem }),
        }
    }
    Error::from_list(errors)?;
    Ok(entries)
}

/// One line: `Ok(None)` for blank and comment lines.
fn parse_line(raw: &str) -> Result<Option<(String, String)>, DotEnvProblem> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let Some((key, rest)) = line.split_once('=') else {
        return Err(DotEnvProblem::NoEquals);
    };
    let key = key.trim_end();
    if !is_name(key) {
        return Err(DotEnvProblem::InvalidKey {
            key: key.to_owned(),
        });
    }
    let rest = rest.trim_start();
    let value = match rest.chars().next() {
        Some('\'') => quoted(key, rest, '\'')?,
        Some('"') => quoted(key, rest, '"')?,
        _ => unquoted(key, rest)?,
    };
    Ok(Some((key.to_owned(), value)))
}

/// An unquoted value: up to an inline comment, trailing whitespace trimmed.
fn unquoted(key: &str, rest: &str) -> Result<String, DotEnvProblem> {
    let mut end = rest.len();
    let mut previous_is_space = false;
    for (i, ch) in rest.char_indices() {
        if ch == '#' && previous_is_space {
            end = i;
            break;
        }
        previous_is_space = ch.is_whitespace();
    }
    let value = rest[..end].trim_end();
    if value.contains('$') {
        return Err(DotEnvProblem::Dollar {
            key: key.to_owned(),
        });
    }
    Ok(value.to_owned())
}

/// A quoted value starting at `rest[0] == quote`; only a comment may follow the closing quote.
fn quoted(key: &str, rest: &str, quote: char) -> Result<String, DotEnvProblem> {
    let mut value = String::new();
    let mut chars = rest[1..].char_indices();
    let mut close = None;
    while let Some((i, ch)) = chars.next() {
        match ch {
            c if c == quote => {
                close = Some(i + 1 + c.len_utf8());
                break;
            }
            '\\' if quote == '"' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => {
                    if other != '"' && other != '\\' {
                        value.push('\\');
                    }
                    value.push(other);
                }
                None => value.push('\\'),
            },
            '$' if quote == '"' => {
                return Err(DotEnvProblem::Dollar {
                    key: key.to_owned(),
                });
            }
            other => value.push(other),
        }
    }
    let Some(close) = close else {
        return Err(DotEnvProblem::UnterminatedQuote {
            key: key.to_owned(),
            quote,
        });
    };
    let after = rest[close..].trim_start();
    if !after.is_empty() && !after.starts_with('#') {
        return Err(DotEnvProblem::TrailingText {
            key: key.to_owned(),
        });
    }
    Ok(value)
}

/// `[A-Za-z_][A-Za-z0-9_]*`
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_ok(text: &str, expected: &[(&str, &str)]) {
        let entries = parse_dotenv(text).unwrap();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[track_caller]
    fn check_err(text: &str, expected: &str) {
        assert_eq!(parse_dotenv(text).unwrap_err().to_string(), expected);
    }

    #[test]
    fn plain_lines_comments_and_blanks() {
        check_ok(
            "# comment\n\nA=1\n  B = two words  \nexport C=3\nEMPTY=\n",
            &[("A", "1"), ("B", "two words"), ("C", "3"), ("EMPTY", "")],
        );
    }

    #[test]
    fn inline_comments_need_leading_whitespace() {
        check_ok(
            "URL=http://h/#frag\nN=5 # five\nT=a\t# tab\n",
            &[("URL", "http://h/#frag"), ("N", "5"), ("T", "a")],
        );
    }

    #[test]
    fn quotes() {
        check_ok(
            r#"S='a #b $c \n'
D="x \"y\" \\ \n z" # note
E=""
"#,
            &[("S", r"a #b $c \n"), ("D", "x \"y\" \\ \n z"), ("E", "")],
        );
    }

    #[test]
    fn crlf_line_endings() {
        check_ok("A=1\r\nB='2'\r\n", &[("A", "1"), ("B", "2")]);
    }

    #[test]
    fn errors_name_the_line() {
        check_err(
            "NOPE",
            "line 1: expected KEY=VALUE, a comment or a blank line",
        );
        check_err(
            "\n1A=x",
            "line 2: `1A` is not a variable name (ASCII letters, digits and `_`, not starting with a digit)",
        );
        check_err("A='x", "line 1: `A`: ' quote is not closed on this line");
        check_err(
            "A=\"x\" y",
            "line 1: `A`: unexpected text after the closing quote",
        );
        check_err(
            "P=pa$$word",
            "line 1: `P`: `$` would be interpolated by docker compose; single-quote the value to keep it literal",
        );
        check_err(
            "P=\"${X}\"",
            "line 1: `P`: `$` would be interpolated by docker compose; single-quote the value to keep it literal",
        );
        check_err("A=1\nA=2", "line 2: `A` is already set on line 1");
    }

    #[test]
    fn reports_every_bad_line() {
        check_err(
            "A\nB=1\nC",
            "2 configuration problems:\n  line 1: expected KEY=VALUE, a comment or a blank line\n  line 3: expected KEY=VALUE, a comment or a blank line",
        );
    }
}

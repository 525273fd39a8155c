//! Diagnostics: a stable code, a message, a hint and a `file:line:col` position; text and JSON renderings.

use std::fmt::Write as _;

use serde::Serialize;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    /// File path as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Rule code, e.g. `CH001`.
    pub code: &'static str,
    /// Rule name, e.g. `on-cluster`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Byte offset of the start in the file.
    #[serde(skip)]
    pub offset: usize,
    /// Length in bytes of the flagged text (at least 1 when the file is not empty).
    #[serde(skip)]
    pub len: usize,
}

/// Computes 1-based (line, column) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl Diagnostic {
    /// Builds a diagnostic for `file` (whose text is `source`) at the byte range `start..end`.
    pub fn at(
        file: &str,
        source: &str,
        start: usize,
        end: usize,
        rule: (&'static str, &'static str),
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let (line, column) = line_col(source, start);
        Self {
            file: file.to_string(),
            line,
            column,
            code: rule.0,
            rule: rule.1,
            message: message.into(),
            hint,
            offset: start,
            len: end.saturating_sub(start).max(1),
        }
    }

    /// Renders as a code frame:
    ///
    /// ```text
    /// error[CH001] on-cluster: `ON CLUSTER` in migration SQL
    ///   --> 0001_x.toml:4:27
    ///    |
    ///  4 | CREATE TABLE IF NOT EXISTS t ON CLUSTER posthog
    ///    |                              ^^^^^^^^^^^^^^^^^^
    ///    = hint: …
    /// ```
    pub fn render(&self, source: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error[{}] {}: {}", self.code, self.rule, self.message);
        let _ = writeln!(out, "  --> {}:{}:{}", self.file, self.line, self.column);
        if let Some(text) = source.lines().nth(self.line.saturating_sub(1)) {
            let width = self.line.to_string().len();
            let pad = " ".repeat(width);
            let line_chars = text.chars().count();
            let start_col = self.column.saturating_sub(1).min(line_chars);
            let end_offset = self.offset + self.len;
            let (end_line, end_col) = line_col(source, end_offset);
            let caret_end = if end_line == self.line {
                end_col.saturating_sub(1)
            } else {
                line_chars
            };
            let carets = caret_end.saturating_sub(start_col).max(1);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {}", self.line, text.trim_end());
            let _ = writeln!(
                out,
                "{pad} | {}{}",
                " ".repeat(start_col),
                "^".repeat(carets)
            );
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "   = hint: {hint}");
        }
        out
    }
}

/// Renders diagnostics as a JSON array (stable field order).
pub fn to_json(diagnostics: &[Diagnostic]) -> String {
    serde_json::to_string_pretty(diagnostics)
        .unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("", 10), (1, 1));
    }

    #[test]
    fn code_frame_points_at_the_span() {
        let src = "x\nDROP TABLE t ON CLUSTER c\n";
        let d = Diagnostic::at(
            "f.toml",
            src,
            15,
            27,
            ("CH001", "on-cluster"),
            "bad",
            Some("fix".into()),
        );
        let text = d.render(src);
        assert!(text.contains("f.toml:2:14"), "{text}");
        assert!(text.contains("             ^^^^^^^^^^^^"), "{text}");
    }
}

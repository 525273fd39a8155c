//! Numbers (integers, floats, hex and binary, and the ones too big for an `i64`) and `INTERVAL`.

use super::{PResult, Parser, call, constant, sp};
use crate::ast::{Node, Value};
use crate::lexer::{Tok, Token};

impl Parser<'_> {
    pub(super) fn number(&self, t: Token, neg: bool) -> PResult<Node> {
        let text = self.text(t);
        let span = sp(t.start, t.end);
        let big = |s: String| {
            constant(Value::Str(s), span).with("value_type", Value::Str("number".into()))
        };
        let b = text.as_bytes();
        if b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X' | b'b' | b'B') {
            let radix = if matches!(b[1], b'x' | b'X') { 16 } else { 2 };
            return Ok(match i64::from_str_radix(&text[2..], radix) {
                Ok(v) => constant(Value::Int(if neg { -v } else { v }), span),
                Err(_) => big(if neg {
                    format!("-{text}")
                } else {
                    text.to_string()
                }),
            });
        }
        if text.len() > 1 && b[0] == b'0' && matches!(b[1], b'o' | b'O') {
            return Err(self.err_at(t.start, t.end, "octal literals are not supported"));
        }
        if text.bytes().all(|c| c.is_ascii_digit()) {
            let signed = if neg {
                format!("-{text}")
            } else {
                text.to_string()
            };
            return Ok(match signed.parse::<i64>() {
                Ok(v) => constant(Value::Int(v), span),
                Err(_) => big(signed),
            });
        }
        let v: f64 = text
            .parse()
            .map_err(|_| self.err_at(t.start, t.end, "invalid number"))?;
        let v = if neg { -v } else { v };
        if v.is_infinite() {
            return Ok(big(if v > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            }));
        }
        Ok(constant(Value::Float(v), span))
    }

    pub(super) fn interval(&mut self) -> PResult<Node> {
        let start = self.bump()?.start;
        if self.tok.kind == Tok::Str {
            let t = self.tok;
            let s = self.string_value(t)?;
            let mut parts = s.split_whitespace();
            if let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) {
                if let Some(fname) = interval_fn(unit) {
                    let v: i64 = n.parse().map_err(|_| {
                        self.not_impl(
                            t.start,
                            t.end,
                            format!("Unsupported interval count: '{n}' is not a valid integer"),
                        )
                    })?;
                    self.bump()?;
                    return Ok(call(
                        fname,
                        vec![constant(Value::Int(v), None)],
                        self.span_from(start),
                    ));
                }
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    format!("Unsupported interval unit: {unit}"),
                ));
            }
            if s.split_whitespace().count() != 1 {
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    "Unsupported interval type: must be in the format '<count> <unit>'",
                ));
            }
            // `interval '3' day`
            if !self.peek(1).kind.eq(&Tok::Word) || interval_fn(self.text(self.peek(1))).is_none() {
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    "Unsupported interval type: must be in the format '<count> <unit>'",
                ));
            }
        }
        let n = self.expr_bp(91)?;
        let u = self.tok;
        if u.kind != Tok::Word {
            return Err(self.unexpected("interval unit"));
        }
        let Some(fname) =
            interval_fn(self.text(u)).filter(|_| !self.text(u).to_ascii_lowercase().ends_with('s'))
        else {
            return Err(self.unexpected("interval unit"));
        };
        self.bump()?;
        Ok(call(fname, vec![n], self.span_from(start)))
    }
}

fn interval_fn(unit: &str) -> Option<&'static str> {
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('s').unwrap_or(&u);
    Some(match u {
        "second" => "toIntervalSecond",
        "minute" => "toIntervalMinute",
        "hour" => "toIntervalHour",
        "day" => "toIntervalDay",
        "week" => "toIntervalWeek",
        "month" => "toIntervalMonth",
        "quarter" => "toIntervalQuarter",
        "year" => "toIntervalYear",
        _ => return None,
    })
}

//! Text read raw, character by character, with expressions inside braces: template strings
//! (`f'...{e}...'`) and HogQLX tags (`<Tag attr={e}>children</Tag>`).

use super::{PResult, Parser, RED_ZONE, STACK_SEGMENT, call, constant, sp};
use crate::ast::{Node, Value};
use crate::lexer::{Tok, unescape};

impl Parser<'_> {
    /// `{expr}` inside raw text, its `{` at byte `open`: the expression and the byte just past
    /// its `}`. The current token is then that `}`; the caller reads on from the returned byte.
    fn braced_expr(&mut self, open: usize) -> PResult<(Node, usize)> {
        self.last_end = (open + 1) as u32;
        self.tok = self.lex_from(open + 1)?;
        let e = self.expr()?;
        if self.tok.kind != Tok::RBrace {
            return Err(self.unexpected("}"));
        }
        Ok((e, self.tok.end as usize))
    }

    pub(super) fn template_string(&mut self) -> PResult<Node> {
        let t = self.tok; // f'
        let start = t.start;
        let b = self.src.as_bytes();
        let mut pos = t.end as usize;
        let mut parts: Vec<Node> = Vec::new();
        let mut buf = String::new();
        let mut buf_start = pos;
        loop {
            let Some(&c) = b.get(pos) else {
                return Err(self.err_at(
                    start,
                    self.src.len() as u32,
                    "unterminated template string",
                ));
            };
            match c {
                b'\\' => {
                    let esc_end =
                        (pos + 1 + self.src[pos + 1..].chars().next().map_or(0, char::len_utf8))
                            .min(b.len());
                    let piece = &self.src[pos..esc_end];
                    match unescape(piece, '\'') {
                        Ok(s) => buf.push_str(&s),
                        Err(_) => {
                            if piece == "\\{" || piece == "\\}" {
                                buf.push_str(&piece[1..]);
                            } else {
                                return Err(self.err_at(
                                    pos as u32,
                                    esc_end as u32,
                                    format!("unrecognised escape '{piece}'"),
                                ));
                            }
                        }
                    }
                    pos = esc_end;
                }

                b'\'' => {
                    if !buf.is_empty() || parts.is_empty() {
                        parts.push(constant(
                            Value::Str(std::mem::take(&mut buf)),
                            sp(buf_start as u32, pos as u32),
                        ));
                    }
                    pos += 1;
                    break;
                }
                b'{' => {
                    if !buf.is_empty() {
                        parts.push(constant(
                            Value::Str(std::mem::take(&mut buf)),
                            sp(buf_start as u32, pos as u32),
                        ));
                    }
                    let (e, after) = self.braced_expr(pos)?;
                    pos = after;
                    parts.push(e);
                    buf_start = pos;
                }
                _ => {
                    let ch = self.src[pos..].chars().next().unwrap_or('\0');
                    buf.push(ch);
                    pos += ch.len_utf8();
                }
            }
        }
        self.last_end = pos as u32;
        self.tok = self.lex_from(pos)?;
        if parts.len() == 1 {
            let mut only = parts
                .pop()
                .unwrap_or_else(|| constant(Value::Str(String::new()), None));
            if only.kind == "Constant" && only.str("value").is_some_and(str::is_empty) {
                only.span = self.span_from(start);
            }
            return Ok(only);
        }
        Ok(call("concat", parts, self.span_from(start)))
    }

    // ---------------------------------------------------------------- HogQLX

    pub(super) fn hogqlx_tag(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.hogqlx_tag_inner());
        self.leave();
        r
    }

    fn hogqlx_tag_inner(&mut self) -> PResult<Node> {
        let open = self.bump()?; // <
        let start = open.start;
        let kind = self.ident()?;
        let mut attrs = Vec::new();
        loop {
            if self.tok.kind == Tok::SlashGt {
                self.bump()?;
                return Ok(Node::new("HogQLXTag", self.span_from(start))
                    .with("attributes", Value::nodes(attrs))
                    .with("kind", Value::Str(kind)));
            }
            if self.tok.kind == Tok::Gt {
                break;
            }
            let at = self.tok;
            let name = self.ident()?;
            let value = if self.eat(Tok::Eq)? {
                match self.tok.kind {
                    Tok::Str => {
                        let s = self.bump()?;
                        let v = self.string_value(s)?;
                        Value::node(constant(Value::Str(v), sp(s.start, s.end)))
                    }
                    Tok::LBrace => {
                        self.bump()?;
                        let e = self.expr()?;
                        self.expect(Tok::RBrace, "}")?;
                        Value::node(e)
                    }
                    _ => {
                        return Err(
                            self.unexpected("string literal or `{expr}` for attribute value")
                        );
                    }
                }
            } else {
                Value::node(constant(Value::Bool(true), None))
            };
            attrs.push(
                Node::new("HogQLXAttribute", self.span_from(at.start))
                    .with("name", Value::Str(name))
                    .with("value", value),
            );
        }
        // children: raw text mode after '>'
        let gt = self.tok;
        let b = self.src.as_bytes();
        let mut pos = gt.end as usize;
        let mut children: Vec<Value> = Vec::new();
        loop {
            let text_start = pos;
            while pos < b.len() && b[pos] != b'<' && b[pos] != b'{' {
                pos += 1;
            }
            let text = &self.src[text_start..pos];
            if !text.trim().is_empty() {
                children.push(Value::node(constant(
                    Value::Str(text.to_string()),
                    sp(text_start as u32, pos as u32),
                )));
            }
            if pos >= b.len() {
                return Err(self.err_at(start, pos as u32, "unterminated HogQLX tag"));
            }
            if b[pos] == b'{' {
                let (e, after) = self.braced_expr(pos)?;
                pos = after;
                children.push(Value::node(e));
                continue;
            }
            // '<'
            self.tok = self.lex_from(pos)?;
            if self.tok.kind == Tok::LtSlash {
                self.bump()?;
                let ct = self.tok;
                let close = self.ident()?;
                if close != kind {
                    return Err(self.err_at(
                        ct.start,
                        ct.end,
                        format!("closing tag </{close}> does not match opening tag <{kind}>"),
                    ));
                }
                if self.tok.kind != Tok::Gt {
                    return Err(self.unexpected(">"));
                }
                self.bump()?;
                break;
            }
            let child = self.hogqlx_tag()?;
            children.push(Value::node(child));
            pos = self.last_end as usize;
        }
        if !children.is_empty() {
            if attrs.iter().any(|a| a.str("name") == Some("children")) {
                return Err(self.err_at(
                    start,
                    self.last_end,
                    "can't have a HogQLX tag with both children and a 'children' attribute",
                ));
            }
            attrs.push(
                Node::new("HogQLXAttribute", None)
                    .with("name", Value::Str("children".into()))
                    .with("value", Value::List(children)),
            );
        }
        Ok(Node::new("HogQLXTag", self.span_from(start))
            .with("attributes", Value::nodes(attrs))
            .with("kind", Value::Str(kind)))
    }
}

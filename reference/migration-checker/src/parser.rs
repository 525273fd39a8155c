//! Recursive-descent parser for the ClickHouse DDL subset migrations use.
//!
//! It never panics and never stops at the first problem: each statement either parses or yields a
//! [`ParseError`] with a span, and parsing resumes after the next `;`.

use crate::ast::*;
use crate::lexer::{Span, Token, TokenKind, tokenize};

/// A positioned syntax problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub message: String,
    /// Where (byte range in the SQL).
    pub span: Span,
}

/// Parses every `;`-separated statement of `src`.
pub fn parse(src: &str) -> (Vec<Statement>, Vec<ParseError>) {
    let tokens = tokenize(src);
    let mut statements = Vec::new();
    let mut errors = Vec::new();
    for token in &tokens {
        if let TokenKind::Error(message) = &token.kind {
            errors.push(ParseError {
                message: message.clone(),
                span: token.span.clone(),
            });
        }
    }
    if !errors.is_empty() {
        return (statements, errors);
    }
    let mut p = Parser {
        src,
        tokens: &tokens,
        pos: 0,
    };
    while p.pos < tokens.len() {
        if p.eat_punct(';') {
            continue;
        }
        let start = p.pos;
        match p.statement() {
            Ok(stmt) => {
                if p.pos < tokens.len() && !p.at_punct(';') {
                    let tok = &tokens[p.pos];
                    errors.push(ParseError {
                        message: format!(
                            "unexpected `{}` after the end of the statement",
                            tok.text(src)
                        ),
                        span: tok.span.clone(),
                    });
                    p.skip_statement();
                } else {
                    statements.push(stmt);
                }
            }
            Err(err) => {
                errors.push(err);
                if p.pos == start {
                    p.pos += 1;
                }
                p.skip_statement();
            }
        }
    }
    (statements, errors)
}

type PResult<T> = Result<T, ParseError>;

/// Keywords that start a new ALTER command after a comma.
const ALTER_VERBS: &[&str] = &[
    "ADD",
    "DROP",
    "MODIFY",
    "RENAME",
    "COMMENT",
    "CLEAR",
    "MATERIALIZE",
    "UPDATE",
    "DELETE",
    "APPLY",
    "RESET",
    "REMOVE",
    "DETACH",
    "ATTACH",
    "FREEZE",
    "UNFREEZE",
    "FETCH",
    "MOVE",
    "REPLACE",
    "FORGET",
];

/// Keywords that end a column type inside a column definition.
const COLUMN_PROPS: &[&str] = &[
    "DEFAULT",
    "MATERIALIZED",
    "ALIAS",
    "EPHEMERAL",
    "COMMENT",
    "CODEC",
    "TTL",
    "NULL",
    "NOT",
    "SETTINGS",
    "FIRST",
    "AFTER",
    "REMOVE",
    "MODIFY",
    "RESET",
    "PRIMARY",
    "STATISTICS",
];

struct Parser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.pos + n)
    }

    fn end_span(&self) -> Span {
        self.tokens.last().map_or(0..0, |t| t.span.end..t.span.end)
    }

    fn here(&self) -> Span {
        self.peek()
            .map_or_else(|| self.end_span(), |t| t.span.clone())
    }

    fn is_kw(&self, tok: Option<&Token>, kw: &str) -> bool {
        matches!(tok, Some(t) if t.kind == TokenKind::Word && t.text(self.src).eq_ignore_ascii_case(kw))
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.is_kw(self.peek(), kw)
    }

    fn at_kw_at(&self, n: usize, kw: &str) -> bool {
        self.is_kw(self.peek_at(n), kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_kws(&mut self, kws: &[&str]) -> bool {
        if kws.iter().enumerate().all(|(i, kw)| self.at_kw_at(i, kw)) {
            self.pos += kws.len();
            true
        } else {
            false
        }
    }

    fn at_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(t) if t.kind == TokenKind::Punct(c))
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.at_punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            message: message.into(),
            span: self.here(),
        })
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("`{}`", t.text(self.src)),
            None => "end of input".to_string(),
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            self.error(format!("expected `{kw}`, found {}", self.found()))
        }
    }

    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            self.error(format!("expected `{c}`, found {}", self.found()))
        }
    }

    fn skip_statement(&mut self) {
        let _ = self.skip_until(|p| p.at_punct(';'));
    }

    /// Consumes balanced tokens until `stop` holds at depth 0 (or input ends). Returns the consumed span.
    fn skip_until(&mut self, stop: impl Fn(&Self) -> bool) -> Span {
        let start = self.here().start;
        let mut end = start;
        let mut depth = 0usize;
        while let Some(tok) = self.peek() {
            if depth == 0 && stop(self) {
                break;
            }
            match tok.kind {
                TokenKind::Punct('(' | '[' | '{') => depth += 1,
                TokenKind::Punct(')' | ']' | '}') => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                TokenKind::Punct(';') if depth == 0 => break,
                _ => {}
            }
            end = tok.span.end;
            self.pos += 1;
        }
        start..end.max(start)
    }

    fn text(&self, span: &Span) -> String {
        self.src.get(span.clone()).unwrap_or("").trim().to_string()
    }

    fn ident(&mut self, what: &str) -> PResult<(String, Span)> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::Word,
                span,
            }) => {
                let span = span.clone();
                self.pos += 1;
                Ok((self.src[span.clone()].to_string(), span))
            }
            Some(Token {
                kind: TokenKind::QuotedIdent(name),
                span,
            }) => {
                let out = (name.clone(), span.clone());
                self.pos += 1;
                Ok(out)
            }
            _ => self.error(format!("expected {what}, found {}", self.found())),
        }
    }

    fn object_name(&mut self, what: &str) -> PResult<ObjectName> {
        let (first, span) = self.ident(what)?;
        if self.at_punct('.') {
            self.pos += 1;
            let (second, span2) = self.ident(what)?;
            return Ok(ObjectName {
                database: Some(first),
                name: second,
                span: span.start..span2.end,
            });
        }
        Ok(ObjectName {
            database: None,
            name: first,
            span,
        })
    }

    /// `ON CLUSTER name`, if present; returns its span.
    fn on_cluster(&mut self) -> PResult<Option<Span>> {
        if !(self.at_kw("ON") && self.at_kw_at(1, "CLUSTER")) {
            return Ok(None);
        }
        let start = self.here().start;
        self.pos += 2;
        let end = match self.peek() {
            Some(Token {
                kind: TokenKind::Word | TokenKind::QuotedIdent(_) | TokenKind::String(_),
                span,
            }) => {
                let end = span.end;
                self.pos += 1;
                end
            }
            Some(Token {
                kind: TokenKind::Punct('{'),
                ..
            }) => {
                let span = self.skip_until(|p| p.at_punct('}'));
                self.expect_punct('}')?;
                span.end + 1
            }
            _ => {
                return self.error(format!(
                    "expected a cluster name after `ON CLUSTER`, found {}",
                    self.found()
                ));
            }
        };
        Ok(Some(start..end))
    }

    fn statement(&mut self) -> PResult<Statement> {
        let keyword_span = self.here();
        let start = keyword_span.start;
        let mut on_cluster = Vec::new();
        let kind = if self.eat_kw("CREATE") {
            StatementKind::Create(self.create(&mut on_cluster)?)
        } else if self.eat_kw("ALTER") {
            StatementKind::Alter(self.alter(&mut on_cluster)?)
        } else if self.eat_kw("DROP") {
            StatementKind::Drop(self.drop(&mut on_cluster)?)
        } else if self.eat_kw("RENAME") {
            self.rename(&mut on_cluster)?
        } else if self.eat_kw("EXCHANGE") {
            self.exchange(&mut on_cluster)?
        } else if self.eat_kw("TRUNCATE") {
            self.truncate(&mut on_cluster)?
        } else if let Some(kw) = [
            "SELECT", "INSERT", "SYSTEM", "OPTIMIZE", "SET", "WITH", "DELETE", "UPDATE",
        ]
        .into_iter()
        .find(|kw| self.at_kw(kw))
        {
            self.skip_statement();
            StatementKind::Other(kw.to_string())
        } else {
            return self.error(format!(
                "expected a statement (CREATE, ALTER, DROP, RENAME, EXCHANGE, TRUNCATE), found {}",
                self.found()
            ));
        };
        let end = self
            .tokens
            .get(self.pos.saturating_sub(1))
            .map_or(start, |t| t.span.end);
        Ok(Statement {
            kind,
            span: start..end.max(start),
            keyword_span,
            on_cluster,
        })
    }

    fn create(&mut self, on_cluster: &mut Vec<Span>) -> PResult<Create> {
        let or_replace = self.eat_kws(&["OR", "REPLACE"]);
        let _ = self.eat_kw("TEMPORARY");
        let object = if self.eat_kw("TABLE") {
            ObjectType::Table
        } else if self.eat_kws(&["MATERIALIZED", "VIEW"]) {
            ObjectType::MaterializedView
        } else if self.eat_kw("VIEW") {
            ObjectType::View
        } else if self.eat_kw("DICTIONARY") {
            ObjectType::Dictionary
        } else if self.eat_kw("DATABASE") {
            ObjectType::Database
        } else {
            return self.error(format!(
                "expected TABLE, MATERIALIZED VIEW, VIEW, DICTIONARY or DATABASE after CREATE, found {}",
                self.found()
            ));
        };
        let if_not_exists = self.eat_kws(&["IF", "NOT", "EXISTS"]);
        let name = self.object_name("a name")?;
        let mut create = Create {
            object,
            or_replace,
            if_not_exists,
            name,
            columns: Vec::new(),
            engine: None,
            to: None,
            has_order_by: false,
        };
        if self.eat_kw("UUID") {
            match self.peek() {
                Some(Token {
                    kind: TokenKind::String(_),
                    ..
                }) => self.pos += 1,
                _ => return self.error(format!("expected a UUID string, found {}", self.found())),
            }
        }
        on_cluster.extend(self.on_cluster()?);
        match object {
            ObjectType::Database => {
                if self.eat_kw("ENGINE") {
                    create.engine = Some(self.engine_after_keyword()?);
                }
                let _ = self.skip_until(|p| p.at_punct(';'));
            }
            ObjectType::Dictionary => {
                if self.at_punct('(') {
                    create.columns = self.column_list()?;
                }
                // PRIMARY KEY, SOURCE, LAYOUT, LIFETIME, RANGE, SETTINGS, COMMENT: kept as raw text.
                let _ = self.skip_until(|p| p.at_punct(';'));
            }
            ObjectType::MaterializedView | ObjectType::View => {
                if self.at_kw("REFRESH") {
                    let _ = self.skip_until(|p| p.at_kw("TO") || p.at_kw("AS") || p.at_punct('('));
                }
                if self.eat_kw("TO") {
                    create.to = Some(self.object_name("a target table")?);
                }
                if self.at_punct('(') {
                    create.columns = self.column_list()?;
                }
                self.table_clauses(&mut create)?;
                let _ = self.eat_kw("POPULATE");
                let _ = self.eat_kw("EMPTY");
                self.expect_kw("AS")?;
                if !(self.at_kw("SELECT") || self.at_kw("WITH") || self.at_punct('(')) {
                    return self.error(format!(
                        "expected a SELECT after AS, found {}",
                        self.found()
                    ));
                }
                let _ = self.skip_until(|p| p.at_punct(';'));
            }
            ObjectType::Table => {
                if self.at_punct('(') {
                    create.columns = self.column_list()?;
                }
                self.table_clauses(&mut create)?;
                if self.eat_kw("AS") {
                    let _ = self.skip_until(|p| p.at_punct(';'));
                } else if create.engine.is_none() && create.columns.is_empty() {
                    return self.error(format!(
                        "expected a column list, ENGINE or AS, found {}",
                        self.found()
                    ));
                }
            }
        }
        Ok(create)
    }

    /// `( element, … )` of a CREATE TABLE: columns plus INDEX/PROJECTION/CONSTRAINT/PRIMARY KEY elements.
    fn column_list(&mut self) -> PResult<Vec<Column>> {
        self.expect_punct('(')?;
        let mut columns = Vec::new();
        loop {
            if self.at_kw("INDEX")
                || self.at_kw("PROJECTION")
                || self.at_kw("CONSTRAINT")
                || (self.at_kw("PRIMARY") && self.at_kw_at(1, "KEY"))
            {
                let _ = self.skip_until(|p| p.at_punct(','));
            } else {
                let (name, _) = self.ident("a column name")?;
                let type_span = self
                    .skip_until(|p| p.at_punct(',') || COLUMN_PROPS.iter().any(|kw| p.at_kw(kw)));
                let mut default = None;
                while let Some(tok) = self.peek() {
                    if self.at_punct(',') || self.at_punct(')') || self.at_punct(';') {
                        break;
                    }
                    let kind = ["DEFAULT", "MATERIALIZED", "ALIAS", "EPHEMERAL"]
                        .into_iter()
                        .find(|kw| self.at_kw(kw));
                    if let (Some(kind), None) = (kind, &default) {
                        default = Some((kind.to_string(), tok.span.clone()));
                    }
                    self.pos += 1;
                    let _ = self.skip_until(|p| {
                        p.at_punct(',') || COLUMN_PROPS.iter().any(|kw| p.at_kw(kw))
                    });
                }
                columns.push(Column {
                    name,
                    type_text: self.text(&type_span),
                    default,
                });
            }
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(')')?;
            return Ok(columns);
        }
    }

    /// `ENGINE = …`, `PARTITION BY`, `ORDER BY`, `SETTINGS`, … up to `AS`, `POPULATE` or the end.
    fn table_clauses(&mut self, create: &mut Create) -> PResult<()> {
        loop {
            if self.eat_kw("ENGINE") {
                create.engine = Some(self.engine_after_keyword()?);
            } else if self.at_kw("ORDER") && self.at_kw_at(1, "BY") {
                create.has_order_by = true;
                self.pos += 2;
                let _ = self.skip_until(Self::at_clause_start);
            } else if self.eat_kw("SETTINGS") {
                let settings = self.settings_list()?;
                if let Some(engine) = create.engine.as_mut() {
                    engine.settings.extend(settings);
                }
            } else if self.at_kw("PARTITION")
                || self.at_kw("PRIMARY")
                || self.at_kw("SAMPLE")
                || self.at_kw("TTL")
                || self.at_kw("COMMENT")
            {
                self.pos += 1;
                let _ = self.skip_until(Self::at_clause_start);
            } else {
                return Ok(());
            }
        }
    }

    fn at_clause_start(&self) -> bool {
        [
            "ENGINE",
            "PARTITION",
            "PRIMARY",
            "SAMPLE",
            "TTL",
            "SETTINGS",
            "COMMENT",
            "AS",
            "POPULATE",
            "EMPTY",
        ]
        .iter()
        .any(|kw| self.at_kw(kw))
            || (self.at_kw("ORDER") && self.at_kw_at(1, "BY"))
    }

    fn engine_after_keyword(&mut self) -> PResult<Engine> {
        let _ = self.eat_punct('=');
        if let Some(Token {
            kind: TokenKind::Placeholder(name),
            span,
        }) = self.peek()
        {
            let engine = Engine {
                name: format!("${{{name}}}"),
                args: Vec::new(),
                span: span.clone(),
                settings: Vec::new(),
            };
            self.pos += 1;
            return Ok(engine);
        }
        let (name, span) = self.ident("an engine name")?;
        let mut engine = Engine {
            name,
            args: Vec::new(),
            span: span.clone(),
            settings: Vec::new(),
        };
        if self.eat_punct('(') {
            loop {
                if self.eat_punct(')') {
                    break;
                }
                let arg_start = self.pos;
                let arg_span = self.skip_until(|p| p.at_punct(','));
                if self.pos == arg_start {
                    return self.error(format!(
                        "expected an engine argument, found {}",
                        self.found()
                    ));
                }
                let string = match &self.tokens[arg_start..self.pos] {
                    [
                        Token {
                            kind: TokenKind::String(value),
                            ..
                        },
                    ] => Some(value.clone()),
                    _ => None,
                };
                engine.args.push(EngineArg {
                    text: self.text(&arg_span),
                    string,
                });
                if !self.eat_punct(',') {
                    self.expect_punct(')')?;
                    break;
                }
            }
            engine.span = span.start..self.tokens[self.pos - 1].span.end;
        }
        Ok(engine)
    }

    fn settings_list(&mut self) -> PResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        loop {
            let (key, _) = self.ident("a setting name")?;
            self.expect_punct('=')?;
            let start = self.pos;
            let span = self.skip_until(|p| p.at_punct(',') || p.at_clause_start());
            let value = match &self.tokens[start..self.pos] {
                [
                    Token {
                        kind: TokenKind::String(value),
                        ..
                    },
                ] => value.clone(),
                _ => self.text(&span),
            };
            out.push((key, value));
            if !self.eat_punct(',') {
                return Ok(out);
            }
        }
    }

    fn alter(&mut self, on_cluster: &mut Vec<Span>) -> PResult<Alter> {
        self.expect_kw("TABLE")?;
        let table_if_exists = if self.at_kw("IF") && self.at_kw_at(1, "EXISTS") {
            let span = self.here().start..self.tokens[self.pos + 1].span.end;
            self.pos += 2;
            Some(span)
        } else {
            None
        };
        let name = self.object_name("a table name")?;
        on_cluster.extend(self.on_cluster()?);
        let mut commands = Vec::new();
        loop {
            commands.push(self.alter_command()?);
            if !self.eat_punct(',') {
                break;
            }
        }
        Ok(Alter {
            table_if_exists,
            name,
            commands,
        })
    }

    fn at_alter_command_start(&self) -> bool {
        ALTER_VERBS.iter().any(|kw| self.at_kw(kw))
            && !matches!(self.peek_at(1), Some(t) if t.kind == TokenKind::Punct('='))
    }

    fn alter_command(&mut self) -> PResult<AlterCommand> {
        let start = self.here().start;
        let verb = match self.peek() {
            Some(t) if t.kind == TokenKind::Word => t.text(self.src).to_ascii_uppercase(),
            _ => return self.error(format!("expected an ALTER command, found {}", self.found())),
        };
        let action = match verb.as_str() {
            "ADD" => AlterAction::Add,
            "DROP" => AlterAction::Drop,
            "MODIFY" => AlterAction::Modify,
            "RENAME" => AlterAction::Rename,
            "COMMENT" => AlterAction::Comment,
            "CLEAR" => AlterAction::Clear,
            "MATERIALIZE" => AlterAction::Materialize,
            "UPDATE" => AlterAction::Update,
            "DELETE" => AlterAction::Delete,
            "APPLY" => AlterAction::ApplyDeletedMask,
            "RESET" => AlterAction::Reset,
            "REMOVE" => AlterAction::Remove,
            "DETACH" | "ATTACH" | "FREEZE" | "UNFREEZE" | "FETCH" | "MOVE" | "REPLACE"
            | "FORGET" => AlterAction::Other,
            _ => {
                return self.error(format!(
                    "expected an ALTER command (ADD, DROP, MODIFY, …), found {}",
                    self.found()
                ));
            }
        };
        self.pos += 1;
        let mut cmd = AlterCommand {
            action,
            target: AlterTarget::Table,
            guarded: false,
            name: None,
            type_text: None,
            span: start..start,
        };
        match action {
            AlterAction::Update | AlterAction::Delete => {
                cmd.target = AlterTarget::Rows;
                if action == AlterAction::Delete && !self.at_kw("WHERE") && !self.at_kw("IN") {
                    return self.error(format!(
                        "expected WHERE after DELETE, found {}",
                        self.found()
                    ));
                }
                let _ = self.skip_until(|p| p.at_kw("WHERE"));
                self.expect_kw("WHERE")?;
                self.rest_of_command();
            }
            AlterAction::ApplyDeletedMask => {
                self.expect_kw("DELETED")?;
                self.expect_kw("MASK")?;
                cmd.target = AlterTarget::Rows;
                self.rest_of_command();
            }
            _ => {
                let target = if self.eat_kw("COLUMN") {
                    AlterTarget::Column
                } else if self.eat_kw("INDEX") {
                    AlterTarget::Index
                } else if self.eat_kw("PROJECTION") {
                    AlterTarget::Projection
                } else if self.eat_kw("STATISTICS") || self.eat_kw("STATISTIC") {
                    AlterTarget::Statistics
                } else if self.eat_kw("CONSTRAINT") {
                    AlterTarget::Constraint
                } else if self.eat_kw("SETTING") || self.eat_kw("SETTINGS") {
                    AlterTarget::Setting
                } else if self.eat_kw("TTL") {
                    AlterTarget::Ttl
                } else if self.eat_kw("PARTITION")
                    || self.eat_kw("PART")
                    || self.eat_kws(&["DETACHED", "PARTITION"])
                    || self.eat_kws(&["DETACHED", "PART"])
                {
                    AlterTarget::Partition
                } else if self.eat_kws(&["ORDER", "BY"])
                    || self.eat_kws(&["SAMPLE", "BY"])
                    || self.eat_kw("QUERY")
                    || self.eat_kw("COMMENT")
                    || self.eat_kw("REFRESH")
                    || self.eat_kws(&["PRIMARY", "KEY"])
                {
                    AlterTarget::Table
                } else if action == AlterAction::Other {
                    AlterTarget::Partition
                } else {
                    return self.error(format!("expected COLUMN, INDEX, PROJECTION, SETTING, TTL, PARTITION, … after {verb}, found {}", self.found()));
                };
                cmd.target = target;
                if matches!(
                    target,
                    AlterTarget::Column
                        | AlterTarget::Index
                        | AlterTarget::Projection
                        | AlterTarget::Statistics
                        | AlterTarget::Constraint
                ) {
                    if action == AlterAction::Add {
                        cmd.guarded = self.eat_kws(&["IF", "NOT", "EXISTS"]);
                    } else {
                        cmd.guarded = self.eat_kws(&["IF", "EXISTS"]);
                    }
                    let (name, _) = self.ident("a name")?;
                    cmd.name = Some(name);
                    if target == AlterTarget::Column
                        && matches!(action, AlterAction::Add | AlterAction::Modify)
                    {
                        let at_prop = COLUMN_PROPS.iter().any(|kw| self.at_kw(kw))
                            || self.at_punct(',')
                            || self.at_punct(';')
                            || self.peek().is_none();
                        if !at_prop {
                            let span = self.skip_until(|p| {
                                p.at_punct(',') || COLUMN_PROPS.iter().any(|kw| p.at_kw(kw))
                            });
                            cmd.type_text = Some(self.text(&span));
                        } else if action == AlterAction::Add {
                            return self
                                .error(format!("expected a column type, found {}", self.found()));
                        }
                    }
                    if action == AlterAction::Rename {
                        self.expect_kw("TO")?;
                        let _ = self.ident("a new name")?;
                    }
                    if action == AlterAction::Comment && target == AlterTarget::Column {
                        match self.peek() {
                            Some(Token {
                                kind: TokenKind::String(_),
                                ..
                            }) => self.pos += 1,
                            _ => {
                                return self.error(format!(
                                    "expected a comment string, found {}",
                                    self.found()
                                ));
                            }
                        }
                    }
                }
                self.rest_of_command();
            }
        }
        cmd.span = start
            ..self
                .tokens
                .get(self.pos.saturating_sub(1))
                .map_or(start, |t| t.span.end);
        Ok(cmd)
    }

    fn rest_of_command(&mut self) {
        let _ = self.skip_until(|p| {
            p.at_punct(',') && {
                let mut ahead = Parser {
                    src: p.src,
                    tokens: p.tokens,
                    pos: p.pos + 1,
                };
                ahead.pos = p.pos + 1;
                ahead.at_alter_command_start()
            }
        });
    }

    fn object_type(&mut self, verb: &str) -> PResult<ObjectType> {
        if self.eat_kw("TABLE") || self.eat_kw("TABLES") {
            Ok(ObjectType::Table)
        } else if self.eat_kw("VIEW") {
            Ok(ObjectType::View)
        } else if self.eat_kws(&["MATERIALIZED", "VIEW"]) {
            Ok(ObjectType::MaterializedView)
        } else if self.eat_kw("DICTIONARY") || self.eat_kw("DICTIONARIES") {
            Ok(ObjectType::Dictionary)
        } else if self.eat_kw("DATABASE") {
            Ok(ObjectType::Database)
        } else {
            self.error(format!(
                "expected TABLE, VIEW, DICTIONARY or DATABASE after {verb}, found {}",
                self.found()
            ))
        }
    }

    fn drop(&mut self, on_cluster: &mut Vec<Span>) -> PResult<Drop> {
        let _ = self.eat_kw("TEMPORARY");
        let object = self.object_type("DROP")?;
        let if_exists = self.eat_kws(&["IF", "EXISTS"]);
        let _ = self.eat_kws(&["IF", "EMPTY"]);
        let mut names = vec![self.object_name("a name")?];
        while self.eat_punct(',') {
            names.push(self.object_name("a name")?);
        }
        on_cluster.extend(self.on_cluster()?);
        let _ = self.eat_kw("PERMANENTLY");
        let sync = self.eat_kw("SYNC") || self.eat_kw("NO_DELAY");
        let _ = self.eat_kw("PERMANENTLY");
        Ok(Drop {
            object,
            if_exists,
            names,
            sync,
        })
    }

    fn rename(&mut self, on_cluster: &mut Vec<Span>) -> PResult<StatementKind> {
        let _ = self.object_type("RENAME")?;
        let mut pairs = Vec::new();
        loop {
            let from = self.object_name("a name")?;
            self.expect_kw("TO")?;
            let to = self.object_name("a new name")?;
            pairs.push((from, to));
            if !self.eat_punct(',') {
                break;
            }
        }
        on_cluster.extend(self.on_cluster()?);
        Ok(StatementKind::Rename(pairs))
    }

    fn exchange(&mut self, on_cluster: &mut Vec<Span>) -> PResult<StatementKind> {
        let _ = self.object_type("EXCHANGE")?;
        let a = self.object_name("a name")?;
        self.expect_kw("AND")?;
        let b = self.object_name("a name")?;
        on_cluster.extend(self.on_cluster()?);
        Ok(StatementKind::Exchange(a, b))
    }

    fn truncate(&mut self, on_cluster: &mut Vec<Span>) -> PResult<StatementKind> {
        let _ = self.eat_kw("TEMPORARY");
        let _ = self.eat_kw("TABLE");
        let if_exists = self.eat_kws(&["IF", "EXISTS"]);
        let name = self.object_name("a table name")?;
        on_cluster.extend(self.on_cluster()?);
        let _ = self.eat_kw("SYNC");
        Ok(StatementKind::Truncate { if_exists, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Statement {
        let (mut stmts, errors) = parse(src);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(stmts.len(), 1);
        stmts.remove(0)
    }

    #[test]
    fn create_table_with_engine_settings_and_clauses() {
        let stmt = one(
            "CREATE TABLE IF NOT EXISTS db.kafka_x (a UInt64, b Nullable(String) DEFAULT 'x' CODEC(ZSTD(3)), INDEX i a TYPE minmax GRANULARITY 1) \
             ENGINE = Kafka('h:9092', 't', 'g', 'JSONEachRow') SETTINGS kafka_skip_broken_messages = 100",
        );
        let StatementKind::Create(c) = stmt.kind else {
            panic!("not a create")
        };
        assert!(c.if_not_exists);
        assert_eq!(c.name.database.as_deref(), Some("db"));
        assert_eq!(c.columns.len(), 2);
        assert_eq!(c.columns[1].type_text, "Nullable(String)");
        let engine = c.engine.unwrap();
        assert_eq!(engine.name, "Kafka");
        assert_eq!(engine.args[0].string.as_deref(), Some("h:9092"));
        assert_eq!(
            engine.settings,
            vec![("kafka_skip_broken_messages".to_string(), "100".to_string())]
        );
    }

    #[test]
    fn alter_commands_and_on_cluster() {
        let stmt = one(
            "ALTER TABLE t ON CLUSTER 'posthog' ADD COLUMN IF NOT EXISTS c UInt8 DEFAULT 0, MODIFY SETTING a = 1, b = 2, DROP INDEX i, UPDATE x = 1, y = 2 WHERE 1",
        );
        assert_eq!(stmt.on_cluster.len(), 1);
        let StatementKind::Alter(a) = stmt.kind else {
            panic!("not an alter")
        };
        let actions: Vec<_> = a
            .commands
            .iter()
            .map(|c| (c.action, c.target, c.guarded))
            .collect();
        assert_eq!(
            actions,
            vec![
                (AlterAction::Add, AlterTarget::Column, true),
                (AlterAction::Modify, AlterTarget::Setting, false),
                (AlterAction::Drop, AlterTarget::Index, false),
                (AlterAction::Update, AlterTarget::Rows, false),
            ]
        );
        assert_eq!(a.commands[0].type_text.as_deref(), Some("UInt8"));
    }

    #[test]
    fn drop_sync_and_materialized_view() {
        let stmt = one("DROP TABLE IF EXISTS a.b SYNC");
        assert!(matches!(
            stmt.kind,
            StatementKind::Drop(Drop {
                if_exists: true,
                sync: true,
                ..
            })
        ));
        let stmt = one(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS x_mv TO writable_x AS SELECT a, _timestamp FROM kafka_x",
        );
        let StatementKind::Create(c) = stmt.kind else {
            panic!("not a create")
        };
        assert_eq!(c.to.unwrap().name, "writable_x");
    }

    #[test]
    fn every_supported_statement_parses() {
        let cases = [
            "CREATE VIEW IF NOT EXISTS v AS SELECT 1",
            "CREATE OR REPLACE VIEW v ON CLUSTER c (a UInt8) AS SELECT 1 AS a",
            "CREATE DICTIONARY IF NOT EXISTS d (k UInt64, v String) PRIMARY KEY k \
             SOURCE(CLICKHOUSE(TABLE 't' USER 'dict_reader')) LAYOUT(HASHED()) LIFETIME(MIN 0 MAX 300)",
            "CREATE DATABASE IF NOT EXISTS db ENGINE = Atomic",
            "CREATE TABLE IF NOT EXISTS t AS other ENGINE = MergeTree ORDER BY a",
            "CREATE TABLE t UUID '00000000-0000-0000-0000-000000000000' (a UInt8) ENGINE = Memory",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS mv ENGINE = MergeTree ORDER BY a POPULATE AS SELECT 1 AS a",
            "ALTER TABLE t MODIFY COLUMN IF EXISTS c REMOVE DEFAULT",
            "ALTER TABLE t RENAME COLUMN IF EXISTS a TO b, COMMENT COLUMN IF EXISTS b 'x'",
            "ALTER TABLE t ADD PROJECTION IF NOT EXISTS p (SELECT a ORDER BY b), MATERIALIZE PROJECTION p",
            "ALTER TABLE t MODIFY SETTING a = 1, RESET SETTING a, REMOVE TTL",
            "ALTER TABLE t DROP PARTITION '2024-01', DETACH PARTITION 202401, APPLY DELETED MASK",
            "ALTER TABLE t MODIFY ORDER BY (a, b), MODIFY COMMENT 'x', MODIFY QUERY SELECT 1",
            "DROP DICTIONARY IF EXISTS d SYNC",
            "DROP VIEW IF EXISTS v",
            "DROP DATABASE IF EXISTS db",
            "RENAME TABLE a TO b, c TO d ON CLUSTER x",
            "EXCHANGE TABLES a AND b",
            "TRUNCATE TABLE IF EXISTS t SYNC",
            "INSERT INTO t VALUES (1)",
        ];
        for src in cases {
            let (stmts, errors) = parse(src);
            assert!(errors.is_empty() && stmts.len() == 1, "{src}: {errors:?}");
        }
    }

    #[test]
    fn broken_statements_are_diagnosed_with_positions() {
        let cases = [
            ("ALTER TABLE t FROB COLUMN c", 14),
            ("CREATE TABLE t (a UInt8", 23),
            ("DROP TABLE", 10),
            ("CREATE TABLE t (a UInt8) ENGINE = MergeTree(", 44),
            ("ALTER TABLE t DELETE x", 21),
            ("CREATE MATERIALIZED VIEW mv TO t", 32),
            ("SELECT 'unterminated", 7),
        ];
        for (src, at) in cases {
            let (_, errors) = parse(src);
            assert_eq!(
                errors.first().map(|e| e.span.start),
                Some(at),
                "{src}: {errors:?}"
            );
        }
    }

    #[test]
    fn errors_are_positioned_and_parsing_continues() {
        let (stmts, errors) = parse("FROB x; DROP TABLE IF EXISTS y");
        assert_eq!(stmts.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].span, 0..4);
    }
}

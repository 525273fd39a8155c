//! `hogref hogql ...`: HogQL on stdin, JSON on stdout.

use std::io::Read as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hogql_parser::{EntryPoint, try_parse_json_string};

#[derive(Debug, Args)]
pub(crate) struct HogqlArgs {
    #[command(subcommand)]
    command: HogqlCommand,
}

#[derive(Debug, Subcommand)]
enum HogqlCommand {
    /// Parse HogQL from stdin and print the AST as JSON (PostHog's parser JSON shape).
    ///
    /// On a syntax error, prints the error envelope (`error`, `type`, `message`, `start`, `end`)
    /// and exits with status 1. Keys that PostHog's parsers leave null or false are omitted.
    Parse(ParseArgs),
    /// Compile a HogQL SELECT from stdin to ClickHouse SQL for one team and print
    /// `{"clickhouse": …, "values": {…}, "hogql": …}`.
    ///
    /// On an error, prints `{"error": true, "code": …, "message": …, "start": …, "end": …}`
    /// (character offsets into the input, null when unknown) and exits with status 1.
    Compile(CompileArgs),
}

#[derive(Debug, Args)]
struct ParseArgs {
    /// Parse one expression (PostHog's `parse_expr`).
    #[arg(long, conflicts_with_all = ["select", "order_expr"])]
    expr: bool,
    /// Parse a whole SELECT, set of SELECTs or HogQLX tag (the default).
    #[arg(long, conflicts_with_all = ["expr", "order_expr"])]
    select: bool,
    /// Parse one ORDER BY element (PostHog's `parse_order_expr`).
    #[arg(long = "order-expr", conflicts_with_all = ["expr", "select"])]
    order_expr: bool,
    /// Give every node `start`/`end` positions (`line` 1-based, `column` 0-based, `offset` in characters).
    #[arg(long)]
    positions: bool,
}

#[derive(Debug, Args)]
struct CompileArgs {
    /// The team every table is guarded to (`equals(<table>.team_id, N)`).
    #[arg(long = "team-id")]
    team_id: i64,
    /// The project timezone (IANA name) for DateTime fields and timezone-aware functions.
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// HogQLQueryModifiers as JSON with PostHog's names, e.g.
    /// `{"personsOnEventsMode": "person_id_no_override_properties_on_events"}`.
    #[arg(long)]
    modifiers: Option<String>,
    /// `default` (LIMIT 50000 when absent) or `api` (LIMIT 100 when absent); both cap at 50000.
    #[arg(long = "limit-context", value_enum, default_value_t = LimitContextArg::Default)]
    limit_context: LimitContextArg,
    /// Leave out the global `SETTINGS readonly=2, …` suffix.
    #[arg(long = "no-settings")]
    no_settings: bool,
    /// A materialized event property column, as PostHog's tests declare them
    /// (`materialize("events", "$browser")`): `events.properties.$browser` (column
    /// `mat_$browser`), `events.properties.$browser=mat_custom` (a named column) and an optional
    /// `:nullable` suffix. Repeatable.
    #[arg(
        long = "materialized",
        value_name = "events.properties.KEY[=COLUMN][:nullable]"
    )]
    materialized: Vec<String>,
}

/// One `--materialized` value: the property, the column name if given, and nullability.
fn parse_materialized(spec: &str) -> anyhow::Result<(String, Option<String>, bool)> {
    let (spec, nullable) = match spec.strip_suffix(":nullable") {
        Some(rest) => (rest, true),
        None => (spec, false),
    };
    let rest = spec.strip_prefix("events.properties.").ok_or_else(|| {
        anyhow::anyhow!(
            "--materialized {spec}: expected events.properties.KEY[=COLUMN][:nullable] (only event properties can be materialized)"
        )
    })?;
    let (property, column) = match rest.split_once('=') {
        Some((p, c)) => (p, Some(c.to_owned())),
        None => (rest, None),
    };
    if property.is_empty() || column.as_deref() == Some("") {
        anyhow::bail!("--materialized {spec}: empty property or column name");
    }
    Ok((property.to_owned(), column, nullable))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LimitContextArg {
    Default,
    Api,
}

pub(crate) fn run(args: HogqlArgs) -> anyhow::Result<i32> {
    match args.command {
        HogqlCommand::Parse(p) => {
            let entry = if p.expr {
                EntryPoint::Expr
            } else if p.order_expr {
                EntryPoint::OrderExpr
            } else {
                EntryPoint::Select
            };
            let mut src = String::new();
            std::io::stdin()
                .read_to_string(&mut src)
                .context("reading HogQL from stdin")?;
            match try_parse_json_string(entry, &src, p.positions) {
                Ok(ast) => {
                    println!("{ast}");
                    Ok(0)
                }
                Err(error) => {
                    println!("{error}");
                    Ok(1)
                }
            }
        }
        HogqlCommand::Compile(c) => {
            let mut src = String::new();
            std::io::stdin()
                .read_to_string(&mut src)
                .context("reading HogQL from stdin")?;
            let mut ctx = hogql_compiler::Context::new(c.team_id);
            ctx.timezone = c.timezone;
            ctx.global_settings = !c.no_settings;
            ctx.limit_context = match c.limit_context {
                LimitContextArg::Default => hogql_compiler::LimitContext::Default,
                LimitContextArg::Api => hogql_compiler::LimitContext::Api,
            };
            for spec in &c.materialized {
                let (property, column, nullable) = parse_materialized(spec)?;
                let source = hogql_compiler::schema::PropertySource::Event;
                match column {
                    Some(column) => {
                        ctx.materialized
                            .register(source, &property, &column, nullable);
                    }
                    None => {
                        ctx.materialized.materialize(source, &property, nullable);
                    }
                }
            }
            let modifiers = match &c.modifiers {
                Some(json) => hogql_compiler::Modifiers::from_json(json)
                    .map_err(|e| hogql_compiler::compile::CompileError::new(e, None)),
                None => Ok(hogql_compiler::Modifiers::default()),
            };
            let compiled = modifiers.and_then(|m| {
                ctx.modifiers = m;
                // The query API's entry point too (it passes the request's `{name}` values).
                hogql_compiler::compile_bound(&src, &mut ctx, &[])
            });
            match compiled {
                Ok(out) => {
                    let values: serde_json::Map<String, serde_json::Value> = out
                        .values
                        .iter()
                        .map(|(k, v)| {
                            let v = match v {
                                hogql_compiler::context::ParamValue::Str(s) => {
                                    serde_json::Value::from(s.as_str())
                                }
                                hogql_compiler::context::ParamValue::Int(i) => {
                                    serde_json::Value::from(*i)
                                }
                            };
                            (k.clone(), v)
                        })
                        .collect();
                    let json = serde_json::json!({
                        "clickhouse": out.clickhouse,
                        "values": values,
                        "hogql": out.hogql,
                    });
                    println!("{json}");
                    Ok(0)
                }
                Err(e) => {
                    let (start, end) = e.char_offsets(&src).unzip();
                    let json = serde_json::json!({
                        "error": true,
                        "code": e.code(),
                        "message": e.to_string(),
                        "start": start,
                        "end": end,
                    });
                    println!("{json}");
                    Ok(1)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_materialized;

    #[test]
    fn materialized_flag_spellings() {
        assert_eq!(
            parse_materialized("events.properties.$browser").unwrap(),
            ("$browser".to_owned(), None, false)
        );
        assert_eq!(
            parse_materialized("events.properties.x=dmat_string_0:nullable").unwrap(),
            ("x".to_owned(), Some("dmat_string_0".to_owned()), true)
        );
        assert!(parse_materialized("persons.properties.x").is_err());
        assert!(parse_materialized("events.properties.").is_err());
        assert!(parse_materialized("events.properties.x=").is_err());
    }
}

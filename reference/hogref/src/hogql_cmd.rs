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
    }
}

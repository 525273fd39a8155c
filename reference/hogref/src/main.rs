//! `hogref`: the reference server and its tools, one subcommand per capability.

use clap::{Parser, Subcommand};

mod hog_cmd;
mod hogql_cmd;
mod migrations_cmd;
mod serve_cmd;
mod team_cmd;

#[derive(Debug, Parser)]
#[command(
    name = "hogref",
    version,
    about = "Hogref: reference implementation of a PostHog-style analytics stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// HogQL tools: parse (and later compile) HogQL read from stdin.
    Hogql(hogql_cmd::HogqlArgs),
    /// Hog programs: parse a program to its AST, compile it to HogVM bytecode.
    Hog(hog_cmd::HogArgs),
    /// ClickHouse migrations: check files against the rules, plan per node, apply.
    Migrations(migrations_cmd::MigrationsArgs),
    /// Run the reference server: capture, the ingestion worker and the query API (or one of them alone).
    Serve(serve_cmd::ServeArgs),
    /// Teams in PostgreSQL (DATABASE_URL): `team create --name N` prints its id and api_token.
    Team(team_cmd::TeamArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Hogql(args) => hogql_cmd::run(args)?,
        Command::Hog(args) => hog_cmd::run(args)?,
        Command::Migrations(args) => migrations_cmd::run(args)?,
        Command::Serve(args) => serve_cmd::run(args)?,
        Command::Team(args) => team_cmd::run(args)?,
    };
    std::process::exit(code);
}

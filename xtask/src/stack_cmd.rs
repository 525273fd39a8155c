//! `cargo xtask stack up|down|status|env`: a service stack that outlives the command, until `down`.

use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use stack::{PINNED, Provider, Stack, StackState, UpOptions};

#[derive(Debug, Args)]
pub(crate) struct StackArgs {
    /// What to do.
    #[arg(value_enum)]
    action: Action,
    #[command(flatten)]
    target: StackTarget,
}

/// Which stack, and who provides it (shared with `cargo xtask test`).
#[derive(Debug, Args)]
pub(crate) struct StackTarget {
    /// local (chDB, tansu, PostgreSQL, Redis as local processes), docker, or external (env vars);
    /// default: docker when available, else local.
    #[arg(long, value_enum)]
    pub(crate) provider: Option<ProviderArg>,
    /// The stack's name; several stacks with different names can run side by side.
    #[arg(long, default_value = "default")]
    pub(crate) name: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Action {
    /// Start the stack in the background and print its components.
    Up,
    /// Stop the stack and delete its data.
    Down,
    /// Check that each component of the running stack answers.
    Status,
    /// Print the running stack's connection settings as `export` lines.
    Env,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ProviderArg {
    Local,
    Docker,
    External,
}

impl StackTarget {
    pub(crate) fn provider(&self) -> Provider {
        match self.provider {
            Some(ProviderArg::Local) => Provider::Local,
            Some(ProviderArg::Docker) => Provider::Docker,
            Some(ProviderArg::External) => Provider::External,
            None => Provider::detect(),
        }
    }
}

pub(crate) fn run(args: StackArgs) -> anyhow::Result<()> {
    // One clear line (plus the cause chain), never a backtrace dump: print here and exit non-zero.
    if let Err(e) = run_inner(args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}

fn run_inner(args: StackArgs) -> anyhow::Result<()> {
    let name = &args.target.name;
    match args.action {
        Action::Up => {
            crate::test_cmd::install_ctrlc(name);
            let stack = up(&args.target)?;
            let state = stack.detach();
            eprintln!("stack `{name}` is up; stop it with `cargo xtask stack down --name {name}`");
            eprintln!("connection settings: eval \"$(cargo xtask stack env --name {name})\"");
            print_env(&state);
            Ok(())
        }
        Action::Down => {
            let times = stack::down(name)?;
            for (component, secs) in times {
                eprintln!("stopped {component:<10} in {secs:.2}s");
            }
            eprintln!("stack `{name}` is down");
            Ok(())
        }
        Action::Status => {
            let (state, statuses) = stack::status(name)?;
            let mut dead = Vec::new();
            for status in &statuses {
                match &status.health {
                    Ok(()) => println!("{:<10} {:<22} ok", status.name, status.address),
                    Err(why) => {
                        println!("{:<10} {:<22} DOWN: {why}", status.name, status.address);
                        dead.push(status.name.clone());
                    }
                }
            }
            if dead.is_empty() {
                eprintln!(
                    "stack `{name}` ({}): all {} components answer",
                    state.provider.as_str(),
                    statuses.len()
                );
                Ok(())
            } else {
                anyhow::bail!("stack `{name}`: {} not answering", dead.join(", "))
            }
        }
        Action::Env => {
            let state = StackState::load(name)?;
            print_env(&state);
            Ok(())
        }
    }
}

/// Brings a stack up and prints what runs where, how long each part took, and the pinned versions.
pub(crate) fn up(target: &StackTarget) -> anyhow::Result<Stack> {
    let provider = target.provider();
    eprintln!(
        "stack `{}`: starting ({} provider)...",
        target.name,
        provider.as_str()
    );
    let start = Instant::now();
    let stack = Stack::up(&UpOptions {
        name: target.name.clone(),
        provider,
    })
    .with_context(|| format!("stack `{}` did not come up", target.name))?;
    let state = stack.state();
    for c in &state.components {
        let t = c.started_at % 86_400;
        eprintln!(
            "  {:<10} {:<12} {:<21} up since {:02}:{:02}:{:02} UTC, ready in {:>5.2}s  pid {:<7} {}",
            c.name,
            c.version,
            c.address,
            t / 3600,
            t / 60 % 60,
            t % 60,
            c.ready_secs,
            c.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
            c.what
        );
    }
    eprintln!(
        "stack `{}`: up in {:.2}s (dir {})",
        target.name,
        start.elapsed().as_secs_f64(),
        state.dir.display()
    );
    eprintln!("pinned versions:");
    for pin in PINNED {
        eprintln!("  {:<28} {:<17} {}", pin.name, pin.version, pin.source);
    }
    Ok(stack)
}

fn print_env(state: &StackState) {
    for (var, value) in state.env_vars() {
        println!("export {var}='{value}'");
    }
}

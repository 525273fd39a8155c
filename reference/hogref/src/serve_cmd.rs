//! `hogref serve`: run the reference server. Only the capture front exists so far (`--capture-only`):
//! PostHog's v0 capture endpoints producing to Kafka (`KAFKA_HOSTS`, topic prefix `KAFKA_PREFIX`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve only the capture endpoints (`/e`, `/i/v0/e`, `/capture`, `/track`, `/engage`, `/batch`).
    #[arg(long)]
    capture_only: bool,
    /// Port to listen on.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<i32> {
    if !args.capture_only {
        anyhow::bail!(
            "only the capture server exists so far: run `hogref serve --capture-only --port <port>`"
        );
    }
    let config = capture_server::ServeConfig::from_env(SocketAddr::new(args.host, args.port))?;
    capture_server::serve_blocking(&config)?;
    Ok(0)
}

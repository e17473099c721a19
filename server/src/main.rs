//! `brokerlab`: the native server around broker-core. See `cli.rs` for the options and
//! `owner.rs` for how the broker is driven.

mod bundle;
mod cli;
mod config;
mod connect_rate;
mod connection;
mod context;
mod events;
mod events_access;
mod http;
mod journal;
mod listeners;
mod live;
mod metrics;
mod outbox;
mod owner;
mod policies;
mod refusals;
mod replay;
mod serve;
mod store_writer;
mod tape;
mod tls;
mod transport;
mod users;
mod websocket;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(args) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(serve::run(args))),
        Command::Replay(args) => return replay::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error, at `info` unless RUST_LOG says otherwise, coloured only on a
/// terminal so that files and pipes get plain `key=value` lines.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

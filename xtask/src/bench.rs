//! `cargo xtask bench`: the project's benchmarks. The engine alone (criterion), then the
//! server against Mosquitto and the mqtt5 crate's broker (`server_bench.rs`).

use anyhow::Result;

use crate::steps::{self, Outcome, Step};
use crate::{durability_bench, process, server_bench, workspace};

/// Runs the benchmarks:
///
/// - `bench [-- criterion args]`: both, the arguments going to criterion;
/// - `bench engine [-- criterion args]`: the engine alone;
/// - `bench servers [--rounds N] [--secs S]`: brokerlab against Mosquitto and mqttv5 alone;
/// - `bench durability [--rounds N] [--secs S]`: `--data-dir` against memory and Mosquitto's
///   persistence, throughput and the crash test.
pub fn run(args: &[String]) -> Result<()> {
    match args.split_first() {
        Some((which, rest)) if which == "engine" => {
            let criterion_args = criterion_args(rest);
            steps::run_all("xtask bench engine", vec![engine_step(criterion_args)])
        }
        Some((which, rest)) if which == "durability" => {
            let rest = rest.to_vec();
            steps::run_all(
                "xtask bench durability",
                vec![Step::new(
                    "brokerlab --data-dir against memory and Mosquitto's persistence",
                    move || durability_bench::run(&rest).map(|()| Outcome::Done),
                )],
            )
        }
        Some((which, rest)) if which == "servers" => {
            let rest = rest.to_vec();
            steps::run_all("xtask bench servers", vec![servers_step(rest)])
        }
        _ => {
            let criterion_args = criterion_args(args);
            steps::run_all(
                "xtask bench",
                vec![engine_step(criterion_args), servers_step(Vec::new())],
            )
        }
    }
}

/// `cargo xtask bench -- --save-baseline main` reaches us with the separator still in
/// front; accepting the arguments with or without it spares the user from guessing.
fn criterion_args(args: &[String]) -> Vec<String> {
    match args {
        [separator, rest @ ..] if separator == "--" => rest,
        _ => args,
    }
    .to_vec()
}

fn engine_step(criterion_args: Vec<String>) -> Step {
    Step::new(
        "broker-core engine, criterion (cargo bench -p broker-core --bench engine)",
        move || engine(&criterion_args),
    )
}

fn servers_step(args: Vec<String>) -> Step {
    Step::new(
        "brokerlab against Mosquitto and mqttv5, same load generator, rotating",
        move || server_bench::run(&args).map(|()| Outcome::Done),
    )
}

fn engine(criterion_args: &[String]) -> Result<Outcome> {
    let mut cmd = workspace::cargo();
    cmd.args(["bench", "-p", "broker-core", "--bench", "engine"]);
    if !criterion_args.is_empty() {
        cmd.arg("--").args(criterion_args);
    }
    process::run(&mut cmd)?;
    Ok(Outcome::Done)
}

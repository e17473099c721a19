//! `cargo xtask bench`: the project's benchmarks.

use anyhow::Result;

use crate::steps::{self, Outcome, Step};
use crate::{process, workspace};

/// Runs the benchmarks, handing `args` to criterion.
pub fn run(args: &[String]) -> Result<()> {
    // `cargo xtask bench -- --save-baseline main` reaches us with the separator still in
    // front; accepting the arguments with or without it spares the user from guessing.
    let criterion_args = match args {
        [separator, rest @ ..] if separator == "--" => rest,
        _ => args,
    }
    .to_vec();
    steps::run_all(
        "xtask bench",
        vec![Step::new(
            "broker-core engine, criterion (cargo bench -p broker-core --bench engine)",
            move || engine(&criterion_args),
        )],
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

//! `brokerlab-soak`: plays a soak run (see `brokerlab_tests::soak`) against a broker and
//! prints the memory and progress table, the ledger and a verdict. Exits 1 unless the run
//! is clean. `cargo xtask soak` starts a release server and runs this beside it.
//!
//! ```text
//! brokerlab-soak HOST:PORT [--clients N] [--seconds S] [--broker-pid PID]
//!                [--sample-every S] [--seed N]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use brokerlab_tests::soak::{self, Options};

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok(options) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build();
            let report = match runtime {
                Ok(runtime) => runtime.block_on(soak::run(options, true)),
                Err(err) => {
                    eprintln!("soak: {err}");
                    return ExitCode::FAILURE;
                }
            };
            println!("\n{}", soak::Summary(&report));
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("soak: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: Vec<String>) -> Result<Options> {
    let mut args = args.into_iter();
    let broker = args
        .next()
        .context("usage: brokerlab-soak HOST:PORT [--clients N] [--seconds S] [--broker-pid PID] [--sample-every S] [--seed N]")?
        .parse()
        .context("the broker's address must be HOST:PORT")?;
    let mut options = Options::new(broker, Duration::from_secs(60));
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || -> Result<u64> {
            value
                .parse()
                .with_context(|| format!("{flag} needs a number, not `{value}`"))
        };
        match flag.as_str() {
            "--clients" => options.clients = usize::try_from(number()?)?,
            "--seconds" => options.duration = Duration::from_secs(number()?),
            "--broker-pid" => options.broker_pid = Some(u32::try_from(number()?)?),
            "--sample-every" => options.sample_every = Duration::from_secs(number()?),
            "--seed" => options.seed = number()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if options.clients < 2 {
        bail!("a soak needs at least 2 clients");
    }
    Ok(options)
}

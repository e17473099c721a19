//! `brokerlab-loadgen`: drives one MQTT broker through one benchmark scenario and prints
//! one result line. `cargo xtask bench` runs it against brokerlab and Mosquitto in turn,
//! pinned to its own core, and turns the lines into a table.
//!
//! ```text
//! brokerlab-loadgen <scenario> <tcp HOST:PORT | ws URL> [seconds]
//! brokerlab-loadgen hold <count> HOST:PORT
//! brokerlab-loadgen crash-subscribe HOST:PORT
//! brokerlab-loadgen crash-publish HOST:PORT <count> <acked-file>
//! brokerlab-loadgen crash-collect HOST:PORT <acked-file>
//! ```
//!
//! A run prints `result delivered=.. expected=.. secs=.. rate=.. p50_us=.. p99_us=..`,
//! where `rate` is messages received by subscribers per second and latencies run from
//! the publisher's write to the subscriber's read. `hold` opens that many idle
//! connections, prints `holding N`, and closes them when a line arrives on its input.
//! The `crash-*` commands are the three parts of the crash test (`load/crash.rs`).

use brokerlab_tests::load::{self as scenario, Target};

use std::process::ExitCode;

use anyhow::{bail, Context, Result};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // One worker: the generator is pinned to one core, beside the broker's.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build();
    let result = runtime
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(dispatch(&args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(args: &[String]) -> Result<()> {
    match args {
        [command, addr] if command == "crash-subscribe" => scenario::crash::subscribe(addr).await,
        [command, addr, count, out] if command == "crash-publish" => {
            let count = count.parse().context("the count must be a number")?;
            let acked = scenario::crash::publish(addr, count).await?;
            let lines: Vec<String> = acked.iter().map(u16::to_string).collect();
            std::fs::write(out, lines.join("\n")).with_context(|| format!("cannot write {out}"))?;
            println!("done acked={}", acked.len());
            Ok(())
        }
        [command, addr, acked] if command == "crash-collect" => {
            let text = std::fs::read_to_string(acked).with_context(|| format!("cannot read {acked}"))?;
            let acked: std::collections::BTreeSet<u16> =
                text.lines().filter_map(|l| l.parse().ok()).collect();
            let got = scenario::crash::collect(addr).await?;
            let lost = acked.difference(&got).count();
            println!("result acked={} received={} lost={lost}", acked.len(), got.len());
            Ok(())
        }
        [hold, count, addr] if hold == "hold" => {
            let count = count.parse().context("the count must be a number")?;
            scenario::hold(&Target::Tcp(addr.clone()), count).await
        }
        [name, transport, address, rest @ ..] => {
            let spec = scenario::Spec::named(name)
                .with_context(|| format!("unknown scenario `{name}`"))?;
            let target = match transport.as_str() {
                "tcp" => Target::Tcp(address.clone()),
                "ws" => Target::WebSocket(address.clone()),
                other => bail!("unknown transport `{other}` (tcp or ws)"),
            };
            let secs = match rest {
                [] => 5.0,
                [secs] => secs.parse().context("seconds must be a number")?,
                _ => bail!("too many arguments"),
            };
            let report = scenario::run(&spec, &target, secs).await?;
            println!("{report}");
            Ok(())
        }
        _ => bail!("usage: brokerlab-loadgen <scenario> <tcp|ws> <address> [seconds] | hold <count> <address>"),
    }
}

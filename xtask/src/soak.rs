//! `cargo xtask soak [--minutes N] [--clients N] [--data-dir]`: 1,000 persistent-session
//! devices under churn against a release build of the server, with the server's resident
//! memory sampled as it goes (see `brokerlab_tests::soak`). Fails unless every confirmed
//! message arrived, no QoS 2 message arrived twice, and memory stayed flat. With
//! `--data-dir`, the server stores its state in a fresh `target/soak-data`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::brokers::{Broker, BROKERLAB_ARGS};
use crate::workspace;

/// Memory may grow this much from the first half's peak to the end and still be flat.
/// Allocators keep freed pages for a while, so a few percent is noise, not a leak.
const FLAT_PERCENT: f64 = 10.0;

pub fn run(args: &[String]) -> Result<()> {
    let Options {
        minutes,
        clients,
        durable,
    } = parse(args)?;
    let release = workspace::build_server_and("brokerlab-soak")?;
    let binary = release.join("brokerlab");
    let broker = if durable {
        let data = workspace::target_dir()?.join("soak-data");
        if data.exists() {
            std::fs::remove_dir_all(&data)?;
        }
        let data = data.display().to_string();
        println!("soak: the server stores its state in {data}");
        let mut args = BROKERLAB_ARGS.to_vec();
        args.extend(["--data-dir", &data]);
        Broker::brokerlab_with(&binary, None, &args)?
    } else {
        Broker::brokerlab(&binary, None)?
    };
    let seconds = minutes * 60;
    // Twenty rows or so, whatever the length.
    let sample_every = (seconds / 20).max(5);
    println!(
        "soak: {clients} devices for {minutes} min against brokerlab (pid {}, the standard profile at {})",
        broker.pid(),
        broker.mqtt
    );
    // The table is printed as the run goes, and kept to read the verdict from.
    let mut soak = Command::new(release.join("brokerlab-soak"))
        .arg(broker.mqtt.to_string())
        .args(["--clients", &clients.to_string()])
        .args(["--seconds", &seconds.to_string()])
        .args(["--sample-every", &sample_every.to_string()])
        .args(["--broker-pid", &broker.pid().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run brokerlab-soak")?;
    let stdout = soak.stdout.take().context("no stdout pipe")?;
    let mut report = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("cannot read brokerlab-soak's output")?;
        println!("{line}");
        report.push_str(&line);
        report.push('\n');
    }
    if !soak.wait().context("brokerlab-soak vanished")?.success() {
        bail!("the soak is not clean: see the ledger above");
    }
    let growth = report
        .lines()
        .find_map(|line| line.strip_prefix("memory: "))
        .and_then(|rest| rest.split('%').next())
        .and_then(|number| number.trim().parse::<f64>().ok())
        .context("the soak printed no memory line")?;
    if growth > FLAT_PERCENT {
        bail!("memory grew {growth:+.1}% over the run (flat means at most {FLAT_PERCENT}%)");
    }
    println!("soak: clean, memory flat ({growth:+.1}%)");
    Ok(())
}

struct Options {
    minutes: u64,
    clients: usize,
    durable: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut minutes = 10;
    let mut clients = 1_000;
    let mut durable = false;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--data-dir" {
            durable = true;
            continue;
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--minutes" => minutes = value.parse().context("--minutes needs a number")?,
            "--clients" => clients = value.parse().context("--clients needs a number")?,
            other => bail!(
                "unknown argument `{other}` (soak takes --minutes N, --clients N and --data-dir)"
            ),
        }
    }
    if minutes == 0 {
        bail!("--minutes must be at least 1");
    }
    Ok(Options {
        minutes,
        clients,
        durable,
    })
}

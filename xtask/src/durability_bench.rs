//! `cargo xtask bench durability`: what `--data-dir` costs, and what it keeps that
//! Mosquitto's persistence does not. Two tables for docs/reliability.md:
//!
//! - throughput: QoS 1 pairs with persistent subscribers (what a data dir must store
//!   before acknowledging) and with clean ones (nothing to store), brokerlab in memory,
//!   brokerlab with a data dir, and Mosquitto with `persistence true`;
//! - the crash test: a persistent subscriber offline, a QoS 1 stream, SIGKILL once 2,000
//!   messages are acknowledged, a restart on the same files, and a count of acknowledged
//!   messages the subscriber never gets (`brokerlab-loadgen crash-*`).
//!
//! Pinned like `cargo xtask bench servers`: brokers on CPU 0, the load generator on CPU 1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};

use crate::brokers::{pinned, Broker, BROKERLAB_ARGS};
use crate::server_bench::{self, median, Measured};
use crate::{mosquitto, process, workspace};

/// How the broker under test keeps state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    BrokerlabMemory,
    BrokerlabDataDir,
    /// Mosquitto, `persistence true`, its default `autosave_interval 1800`.
    Mosquitto,
    /// Mosquitto, `persistence true`, `autosave_interval 1`: its most eager setting.
    MosquittoEager,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::BrokerlabMemory => "brokerlab, in memory",
            Setup::BrokerlabDataDir => "brokerlab --data-dir",
            Setup::Mosquitto => "Mosquitto, persistence true",
            Setup::MosquittoEager => "Mosquitto, persistence true, autosave_interval 1",
        }
    }
}

struct Tools {
    brokerlab: PathBuf,
    loadgen: PathBuf,
    dir: PathBuf,
    pin: (Option<&'static str>, Option<&'static str>),
}

impl Tools {
    /// Starts `setup` with its files in `data` (kept between a crash and the restart).
    fn start(&self, setup: Setup, data: &Path) -> Result<Broker> {
        std::fs::create_dir_all(data)?;
        let data_arg = data.to_str().ok_or_else(|| anyhow!("a non-UTF-8 path"))?;
        // Both brokers queue 1,000 messages for an offline session by default and drop
        // the rest although they acknowledged them; the crash test queues 20,000.
        let mut args = BROKERLAB_ARGS.to_vec();
        args.extend(["--set", "max_queued=100000"]);
        match setup {
            Setup::BrokerlabMemory => Broker::brokerlab_with(&self.brokerlab, self.pin.0, &args),
            Setup::BrokerlabDataDir => {
                args.extend(["--data-dir", data_arg]);
                Broker::brokerlab_with(&self.brokerlab, self.pin.0, &args)
            }
            Setup::Mosquitto | Setup::MosquittoEager => {
                let mut settings = format!(
                    "persistence true\npersistence_location {data_arg}/\nmax_queued_messages 100000\n"
                );
                if setup == Setup::MosquittoEager {
                    settings.push_str("autosave_interval 1\n");
                }
                Broker::mosquitto_with(&self.dir, self.pin.0, &settings)
            }
        }
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let options = server_bench::parse(args)?;
    mosquitto::ensure_installed()?;
    let release = workspace::build_server_and("brokerlab-loadgen")?;
    let dir = workspace::target_dir()?.join("bench").join("durability");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let tools = Tools {
        brokerlab: release.join("brokerlab"),
        loadgen: release.join("brokerlab-loadgen"),
        pin: if cores >= 2 {
            (Some("0"), Some("1"))
        } else {
            (None, None)
        },
        dir,
    };

    let setups = [
        Setup::BrokerlabMemory,
        Setup::BrokerlabDataDir,
        Setup::Mosquitto,
    ];
    let scenarios = [
        (
            "qos1-pairs-persistent",
            "QoS 1, 4 -> 4 pairs, window 64, persistent subscribers",
        ),
        (
            "qos1-pairs",
            "QoS 1, 4 -> 4 pairs, window 64, clean sessions",
        ),
    ];
    let mut rows = Vec::new();
    for (name, title) in scenarios {
        let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); setups.len()];
        for round in 0..options.rounds {
            for offset in 0..setups.len() {
                let index = (round + offset) % setups.len();
                let data = fresh(&tools.dir, "throughput")?;
                let broker = tools.start(setups[index], &data)?;
                let address = broker.mqtt.to_string();
                let measured = server_bench::run_loadgen(
                    &tools.loadgen,
                    tools.pin.1,
                    name,
                    "tcp",
                    &address,
                    options.secs,
                )
                .with_context(|| format!("{name} against {}", setups[index].name()))?;
                drop(broker);
                println!(
                    "  {title:<58} {:<30} round {}: {:>8.0} msg/s, p99 {:>7} us, {} lost",
                    setups[index].name(),
                    round + 1,
                    measured.rate,
                    measured.p99_us,
                    measured.lost
                );
                runs[index].push(measured);
            }
        }
        rows.push((title, runs));
    }

    let crash_setups = [
        Setup::BrokerlabDataDir,
        Setup::Mosquitto,
        Setup::MosquittoEager,
    ];
    let mut crashes = Vec::new();
    for setup in crash_setups {
        for round in 0..options.rounds {
            let (acked, lost) = crash(&tools, setup)?;
            println!(
                "  crash test {:<48} round {}: {acked} acknowledged, {lost} lost",
                setup.name(),
                round + 1
            );
            crashes.push((setup, acked, lost));
        }
    }

    println!(
        "\nThroughput: median of {} rounds of {} s; rate = messages received by subscribers \
         per second; lost = acknowledged messages never delivered, summed.\n",
        options.rounds, options.secs
    );
    println!("| scenario | setup | msg/s | vs in memory | p99 us | lost |");
    println!("|---|---|---|---|---|---|");
    for (title, runs) in &rows {
        let base = median(runs[0].iter().map(|m| m.rate));
        for (setup, runs) in setups.iter().zip(runs) {
            let rate = median(runs.iter().map(|m| m.rate));
            let p99 = median(runs.iter().map(|m| m.p99_us as f64));
            let lost: u64 = runs.iter().map(|m| m.lost).sum();
            println!(
                "| {title} | {} | {rate:.0} | {:.2}x | {p99:.0} | {lost} |",
                setup.name(),
                if base > 0.0 { rate / base } else { 0.0 }
            );
        }
    }
    println!(
        "\nCrash test: SIGKILL once 2,000 of 20,000 QoS 1 messages are acknowledged, restart \
         on the same files, collect the offline persistent subscriber's messages.\n"
    );
    println!("| setup | round | acknowledged before the kill | lost after the restart |");
    println!("|---|---|---|---|");
    for (round, (setup, acked, lost)) in crashes.iter().enumerate() {
        println!(
            "| {} | {} | {acked} | {lost} |",
            setup.name(),
            round % options.rounds + 1
        );
    }
    Ok(())
}

/// An empty folder for one run's files.
fn fresh(dir: &Path, name: &str) -> Result<PathBuf> {
    let data = dir.join(name);
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    std::fs::create_dir_all(&data)?;
    Ok(data)
}

/// One crash test: returns how many messages were acknowledged before the kill, and how
/// many of those the subscriber never got after the restart.
fn crash(tools: &Tools, setup: Setup) -> Result<(u64, u64)> {
    let data = fresh(&tools.dir, "crash")?;
    let acked_file = tools.dir.join("crash-acked.txt");
    let broker = tools.start(setup, &data)?;
    let address = broker.mqtt.to_string();
    process::capture(pinned(tools.pin.1, &tools.loadgen).args(["crash-subscribe", &address]))?;
    let acked_arg = acked_file
        .to_str()
        .ok_or_else(|| anyhow!("a non-UTF-8 path"))?;
    let mut publisher = pinned(tools.pin.1, &tools.loadgen)
        .args(["crash-publish", &address, "20000", acked_arg])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the load generator")?;
    let stdout = publisher
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout"))?;
    let mut broker = Some(broker);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let acked: u64 = line
            .strip_prefix("acked ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if acked >= 2_000 {
            drop(broker.take()); // SIGKILL.
        }
    }
    let status = publisher.wait()?;
    if !status.success() {
        bail!("the publisher failed: {status}");
    }
    if broker.is_some() {
        bail!("the stream ended before the kill");
    }
    let broker = tools.start(setup, &data)?;
    let output = process::capture(pinned(tools.pin.1, &tools.loadgen).args([
        "crash-collect",
        &broker.mqtt.to_string(),
        acked_arg,
    ]))?;
    let field = |key: &str| -> Result<u64> {
        output
            .split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no {key}= in `{output}`"))
    };
    Ok((field("acked")?, field("lost")?))
}

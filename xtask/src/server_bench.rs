//! `cargo xtask bench servers`: brokerlab against Mosquitto and the `mqtt5` crate's
//! broker, driven by the same load generator (`brokerlab-loadgen`), and one table.
//!
//! Cores: with two or more, every broker is pinned to CPU 0 (Mosquitto is single-threaded;
//! brokerlab's and mqttv5's tokio runtimes then have one worker) and the load generator to
//! CPU 1, so that each broker gets exactly one core and never competes with the load it
//! is measured under. Each broker runs with its own defaults, and is started afresh for
//! every run, so that its peak resident memory belongs to that run alone.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};

use crate::brokers::{pinned, Broker, Kind, Programs};
use crate::{mosquitto, mqttv5, process, workspace};

/// Options of the run: `--rounds N` (default 3) and `--secs S` (default 5).
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) rounds: usize,
    pub(crate) secs: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Tcp,
    WebSocket,
}

/// What the issues ask of brokerlab in one scenario.
#[derive(Clone, Copy, Debug)]
struct Target {
    /// brokerlab's rate must be at least this many times Mosquitto's, and mqttv5's.
    vs_mosquitto: f64,
    vs_mqttv5: f64,
    /// brokerlab's p99 latency must not exceed Mosquitto's.
    p99_no_worse: bool,
    /// No acknowledged message may be lost (brokerlab).
    no_loss: bool,
}

struct Scenario {
    loadgen: &'static str,
    transport: Transport,
    title: &'static str,
    target: Target,
}

const fn target(vs_mosquitto: f64, vs_mqttv5: f64, p99_no_worse: bool, no_loss: bool) -> Target {
    Target {
        vs_mosquitto,
        vs_mqttv5,
        p99_no_worse,
        no_loss,
    }
}

const SCENARIOS: [Scenario; 7] = [
    Scenario {
        loadgen: "qos1-pairs",
        transport: Transport::Tcp,
        title: "QoS 1, 4 -> 4 pairs, window 64, TCP",
        target: target(1.5, 1.0, true, true),
    },
    Scenario {
        loadgen: "qos1-pairs",
        transport: Transport::WebSocket,
        title: "QoS 1, 4 -> 4 pairs, window 64, WebSocket",
        target: target(1.5, 1.0, true, true),
    },
    Scenario {
        loadgen: "qos1-fanin",
        transport: Transport::Tcp,
        title: "QoS 1 fan-in, 16 -> 1, window 16, TCP",
        target: target(1.5, 1.0, true, true),
    },
    Scenario {
        loadgen: "qos1-fanout",
        transport: Transport::Tcp,
        title: "QoS 1 fan-out, 1 -> 100, window 16, TCP",
        target: target(1.5, 1.5, false, true),
    },
    Scenario {
        loadgen: "qos1-fanout",
        transport: Transport::WebSocket,
        title: "QoS 1 fan-out, 1 -> 100, window 16, WebSocket",
        target: target(1.5, 1.5, false, true),
    },
    Scenario {
        loadgen: "qos0-fixed-rate",
        transport: Transport::Tcp,
        title: "QoS 0, 40,000 msg/s offered (4 pairs)",
        target: target(0.0, 0.0, true, true),
    },
    Scenario {
        loadgen: "qos0-fanout",
        transport: Transport::Tcp,
        title: "QoS 0 fan-out, 1 at 1,000/s -> 100",
        target: target(1.0, 0.0, true, false),
    },
];

/// How many idle connections the memory measurement holds.
const IDLE_CONNECTIONS: usize = 5_000;

/// One loadgen result line, and the broker's peak memory during the run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Measured {
    pub(crate) acknowledged: u64,
    pub(crate) delivered: u64,
    pub(crate) lost: u64,
    pub(crate) rate: f64,
    pub(crate) p99_us: u64,
    pub(crate) peak_kib: u64,
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    mosquitto::ensure_installed()?;
    let mqttv5 = mqttv5::ensure()?;
    let release = workspace::build_server_and("brokerlab-loadgen")?;
    let loadgen = release.join("brokerlab-loadgen");
    let dir = workspace::target_dir()?.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (broker_cpu, loadgen_cpu) = if cores >= 2 {
        println!("pinning: brokers on CPU 0, load generator on CPU 1 (taskset)");
        (Some("0"), Some("1"))
    } else {
        println!("pinning: off ({cores} core); brokers and load generator share it");
        (None, None)
    };
    println!("each broker runs with its defaults, started afresh for every run");
    let programs = Programs {
        brokerlab: release.join("brokerlab"),
        mqttv5,
        dir,
        pin: broker_cpu,
    };

    let mut results: Vec<[Vec<Measured>; 3]> = Vec::new();
    for scenario in &SCENARIOS {
        let mut per_broker: [Vec<Measured>; 3] = Default::default();
        for round in 0..options.rounds {
            // Rotating which broker goes first evens out drift in the machine's load.
            for offset in 0..Kind::ALL.len() {
                let index = (round + offset) % Kind::ALL.len();
                let kind = Kind::ALL[index];
                let broker = Broker::start(kind, &programs)?;
                let mut measured = drive(&loadgen, loadgen_cpu, scenario, &broker, options.secs)?;
                measured.peak_kib = broker.peak_resident_kib()?;
                drop(broker);
                println!(
                    "  {:<46} {:<9} round {}: {:>9.0} msg/s, p99 {:>7} us, {} acknowledged, {} delivered, {} lost, peak {} KiB",
                    scenario.title,
                    kind,
                    round + 1,
                    measured.rate,
                    measured.p99_us,
                    measured.acknowledged,
                    measured.delivered,
                    measured.lost,
                    measured.peak_kib
                );
                per_broker[index].push(measured);
            }
        }
        results.push(per_broker);
    }

    let mut memory = [0.0; 3];
    for (index, kind) in Kind::ALL.into_iter().enumerate() {
        memory[index] = idle_memory(kind, &programs, &loadgen, loadgen_cpu)?;
    }
    print_table(&options, &results, memory);
    Ok(())
}

pub(crate) fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        rounds: 3,
        secs: 5.0,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| anyhow!("{arg} needs a value"))?;
        match arg.as_str() {
            "--rounds" => options.rounds = value.parse().context("--rounds")?,
            "--secs" => options.secs = value.parse().context("--secs")?,
            other => bail!("unknown option `{other}` (expected --rounds N, --secs S)"),
        }
    }
    if options.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    Ok(options)
}

fn drive(
    loadgen: &Path,
    pin: Option<&str>,
    scenario: &Scenario,
    broker: &Broker,
    secs: f64,
) -> Result<Measured> {
    let (transport, address) = match scenario.transport {
        Transport::Tcp => ("tcp", broker.mqtt.to_string()),
        Transport::WebSocket => ("ws", broker.ws_url.clone()),
    };
    run_loadgen(loadgen, pin, scenario.loadgen, transport, &address, secs)
        .with_context(|| format!("{} against {}", scenario.loadgen, broker.kind))
}

/// One run of the load generator's scenario `name` against `address`.
pub(crate) fn run_loadgen(
    loadgen: &Path,
    pin: Option<&str>,
    name: &str,
    transport: &str,
    address: &str,
    secs: f64,
) -> Result<Measured> {
    let output = process::capture(
        pinned(pin, loadgen)
            .args([name, transport, address])
            .arg(secs.to_string()),
    )?;
    parse_result(&output)
}

fn parse_result(output: &str) -> Result<Measured> {
    let line = output
        .lines()
        .find(|line| line.starts_with("result "))
        .ok_or_else(|| anyhow!("the load generator printed no result: `{output}`"))?;
    let field = |key: &str| -> Result<f64> {
        let prefix = format!("{key}=");
        line.split_whitespace()
            .find_map(|field| field.strip_prefix(&prefix))
            .ok_or_else(|| anyhow!("no {key} in `{line}`"))?
            .parse()
            .with_context(|| format!("bad {key} in `{line}`"))
    };
    Ok(Measured {
        acknowledged: field("acknowledged")? as u64,
        delivered: field("delivered")? as u64,
        lost: field("lost")? as u64,
        rate: field("rate")?,
        p99_us: field("p99_us")? as u64,
        peak_kib: 0,
    })
}

/// Resident memory per idle TCP connection, in bytes: the broker's growth while the load
/// generator holds `IDLE_CONNECTIONS` connected MQTT clients, divided by their number.
fn idle_memory(
    kind: Kind,
    programs: &Programs,
    loadgen: &Path,
    loadgen_cpu: Option<&str>,
) -> Result<f64> {
    let broker = Broker::start(kind, programs)?;
    let before = broker.resident_kib()?;
    let mut holder = pinned(loadgen_cpu, loadgen)
        .args([
            "hold",
            &IDLE_CONNECTIONS.to_string(),
            &broker.mqtt.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the load generator")?;
    let stdout = holder.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line.starts_with("holding") => {}
        other => bail!("the load generator did not hold its connections: {other:?}"),
    }
    let after = broker.resident_kib()?;
    if let Some(mut input) = holder.stdin.take() {
        let _ = writeln!(input);
    }
    let _ = holder.wait();
    let per_connection = (after.saturating_sub(before) * 1024) as f64 / IDLE_CONNECTIONS as f64;
    println!(
        "  idle memory {kind:<9}: {before} KiB -> {after} KiB with {IDLE_CONNECTIONS} connections = {per_connection:.0} B each"
    );
    Ok(per_connection)
}

pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn print_table(options: &Options, results: &[[Vec<Measured>; 3]], memory: [f64; 3]) {
    println!(
        "\nMedian of {} rounds of {} s each; rate = messages received by subscribers per \
         second; lost = acknowledged messages that never arrived (summed over the rounds); \
         peak = the broker's peak resident memory in the run (largest round).\n",
        options.rounds, options.secs
    );
    println!("| scenario | brokerlab msg/s | Mosquitto msg/s | mqttv5 msg/s | vs Mosquitto | vs mqttv5 | p99 (b / m / v) | lost (b / m / v) | peak MiB (b / m / v) | target | met |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (scenario, runs) in SCENARIOS.iter().zip(results) {
        let rate = |i: usize| median(runs[i].iter().map(|m| m.rate));
        let p99 = |i: usize| median(runs[i].iter().map(|m| m.p99_us as f64));
        let lost = |i: usize| runs[i].iter().map(|m| m.lost).sum::<u64>();
        let peak = |i: usize| runs[i].iter().map(|m| m.peak_kib).max().unwrap_or(0) as f64 / 1024.0;
        let ratio = |i: usize| {
            if rate(i) > 0.0 {
                rate(0) / rate(i)
            } else {
                f64::INFINITY
            }
        };
        let t = scenario.target;
        let met = ratio(1) >= t.vs_mosquitto
            && ratio(2) >= t.vs_mqttv5
            && (!t.p99_no_worse || p99(0) <= p99(1))
            && (!t.no_loss || lost(0) == 0)
            && peak(0) <= 2.0 * peak(1);
        let mut wanted = Vec::new();
        if t.no_loss {
            wanted.push("0 lost".to_owned());
        }
        if t.vs_mosquitto > 0.0 {
            wanted.push(format!(">= {}x Mosquitto", t.vs_mosquitto));
        }
        if t.vs_mqttv5 > 0.0 {
            wanted.push(format!(">= {}x mqttv5", t.vs_mqttv5));
        }
        if t.p99_no_worse {
            wanted.push("p99 <= Mosquitto".to_owned());
        }
        wanted.push("peak <= 2x Mosquitto".to_owned());
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2}x | {:.2}x | {} / {} / {} | {} / {} / {} | {:.1} / {:.1} / {:.1} | {} | {} |",
            scenario.title,
            rate(0),
            rate(1),
            rate(2),
            ratio(1),
            ratio(2),
            micros(p99(0)),
            micros(p99(1)),
            micros(p99(2)),
            lost(0),
            lost(1),
            lost(2),
            peak(0),
            peak(1),
            peak(2),
            wanted.join(", "),
            yes_no(met)
        );
    }
    let [ours, mosquitto, mqttv5] = memory;
    println!(
        "| resident memory per idle TCP connection ({IDLE_CONNECTIONS} held) | {ours:.0} B | {mosquitto:.0} B | {mqttv5:.0} B | | | | | | <= 1024 B | {} |",
        yes_no(ours <= 1024.0)
    );
}

fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} us")
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

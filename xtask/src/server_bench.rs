//! `cargo xtask bench servers`: brokerlab against Mosquitto, driven by the same load
//! generator (`brokerlab-loadgen`), alternating between the two in one run, and one table.
//!
//! Cores: with two or more, both brokers are pinned to CPU 0 (Mosquitto is single-threaded;
//! brokerlab's runtime then has one worker) and the load generator to CPU 1, so that each
//! broker gets exactly one core and never competes with the load it is measured under.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};

use crate::brokers::{pinned, Broker, Kind, MAX_INFLIGHT, MAX_QUEUED};
use crate::{mosquitto, process, workspace};

/// Options of the run: `--rounds N` (default 3) and `--secs S` (default 5).
#[derive(Debug)]
struct Options {
    rounds: usize,
    secs: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Tcp,
    WebSocket,
}

/// What the issue asks of brokerlab relative to Mosquitto in one scenario.
#[derive(Clone, Copy, Debug)]
struct Target {
    /// brokerlab's rate must be at least this many times Mosquitto's.
    min_ratio: f64,
    /// brokerlab's p99 latency must not exceed Mosquitto's.
    p99_no_worse: bool,
    /// Every message must arrive (both brokers).
    all_delivered: bool,
}

struct Scenario {
    loadgen: &'static str,
    transport: Transport,
    title: &'static str,
    target: Target,
}

const fn target(min_ratio: f64, p99_no_worse: bool, all_delivered: bool) -> Target {
    Target {
        min_ratio,
        p99_no_worse,
        all_delivered,
    }
}

const SCENARIOS: [Scenario; 6] = [
    Scenario {
        loadgen: "qos1-pairs",
        transport: Transport::Tcp,
        title: "QoS 1, 4 -> 4 pairs, window 64, TCP",
        target: target(1.5, true, false),
    },
    Scenario {
        loadgen: "qos1-pairs",
        transport: Transport::WebSocket,
        title: "QoS 1, 4 -> 4 pairs, window 64, WebSocket",
        target: target(1.5, true, false),
    },
    Scenario {
        loadgen: "qos0-fixed-rate",
        transport: Transport::Tcp,
        title: "QoS 0, 40,000 msg/s offered (4 pairs)",
        target: target(0.0, true, true),
    },
    Scenario {
        loadgen: "qos0-fanout",
        transport: Transport::Tcp,
        title: "QoS 0 fan-out, 1 at 1,000/s -> 100",
        target: target(1.0, true, false),
    },
    Scenario {
        loadgen: "qos1-fanout",
        transport: Transport::WebSocket,
        title: "QoS 1 fan-out, 1 -> 100, WebSocket",
        target: target(1.5, false, false),
    },
    Scenario {
        loadgen: "qos1-fanin",
        transport: Transport::Tcp,
        title: "QoS 1 fan-in, 16 -> 1",
        target: target(1.5, false, false),
    },
];

/// How many idle connections the memory measurement holds.
const IDLE_CONNECTIONS: usize = 5_000;

/// One loadgen result line.
#[derive(Clone, Debug, Default)]
struct Measured {
    delivered: u64,
    expected: u64,
    rate: f64,
    p99_us: u64,
}

pub fn run(args: &[String]) -> Result<()> {
    let options = parse(args)?;
    mosquitto::ensure_installed()?;
    let release = workspace::build_server_and("brokerlab-loadgen")?;
    let server = release.join("brokerlab");
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
    println!(
        "limits for both brokers: QoS 1 in-flight {MAX_INFLIGHT} per client, queue {MAX_QUEUED}"
    );

    let brokers = [
        Broker::brokerlab(&server, broker_cpu)?,
        Broker::mosquitto(&dir, broker_cpu)?,
    ];
    let mut results: Vec<[Vec<Measured>; 2]> = Vec::new();
    for scenario in &SCENARIOS {
        let mut per_broker = [Vec::new(), Vec::new()];
        for round in 0..options.rounds {
            // Alternating which broker goes first evens out drift in the machine's load.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for index in order {
                let broker = &brokers[index];
                let measured = drive(&loadgen, loadgen_cpu, scenario, broker, options.secs)?;
                println!(
                    "  {:<44} {:<9} round {}: {:>9.0} msg/s, p99 {:>7} us, {}/{} delivered",
                    scenario.title,
                    broker.kind,
                    round + 1,
                    measured.rate,
                    measured.p99_us,
                    measured.delivered,
                    measured.expected
                );
                per_broker[index].push(measured);
            }
        }
        results.push(per_broker);
    }
    drop(brokers);

    let memory = [
        idle_memory(
            Kind::Brokerlab,
            &server,
            &dir,
            &loadgen,
            broker_cpu,
            loadgen_cpu,
        )?,
        idle_memory(
            Kind::Mosquitto,
            &server,
            &dir,
            &loadgen,
            broker_cpu,
            loadgen_cpu,
        )?,
    ];
    print_table(&options, &results, memory);
    Ok(())
}

fn parse(args: &[String]) -> Result<Options> {
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
    let output = process::capture(
        pinned(pin, loadgen)
            .args([scenario.loadgen, transport, &address])
            .arg(secs.to_string()),
    )
    .with_context(|| format!("{} against {}", scenario.loadgen, broker.kind))?;
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
        delivered: field("delivered")? as u64,
        expected: field("expected")? as u64,
        rate: field("rate")?,
        p99_us: field("p99_us")? as u64,
    })
}

/// Resident memory per idle TCP connection, in bytes: the broker's growth while the load
/// generator holds `IDLE_CONNECTIONS` connected MQTT clients, divided by their number.
fn idle_memory(
    kind: Kind,
    server: &Path,
    dir: &Path,
    loadgen: &Path,
    broker_cpu: Option<&str>,
    loadgen_cpu: Option<&str>,
) -> Result<f64> {
    let broker = match kind {
        Kind::Brokerlab => Broker::brokerlab(server, broker_cpu)?,
        Kind::Mosquitto => Broker::mosquitto(dir, broker_cpu)?,
    };
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

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn print_table(options: &Options, results: &[[Vec<Measured>; 2]], memory: [f64; 2]) {
    println!(
        "\nMedian of {} rounds of {} s each; rate = messages received by subscribers per second.\n",
        options.rounds, options.secs
    );
    println!("| scenario | brokerlab msg/s | Mosquitto msg/s | ratio | brokerlab p99 | Mosquitto p99 | all delivered (b / m) | target | met |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (scenario, [ours, theirs]) in SCENARIOS.iter().zip(results) {
        let rate = |runs: &Vec<Measured>| median(runs.iter().map(|m| m.rate));
        let p99 = |runs: &Vec<Measured>| median(runs.iter().map(|m| m.p99_us as f64));
        let all = |runs: &Vec<Measured>| runs.iter().all(|m| m.delivered == m.expected);
        let (our_rate, their_rate) = (rate(ours), rate(theirs));
        let ratio = if their_rate > 0.0 {
            our_rate / their_rate
        } else {
            f64::INFINITY
        };
        let target = scenario.target;
        let met = ratio >= target.min_ratio
            && (!target.p99_no_worse || p99(ours) <= p99(theirs))
            && (!target.all_delivered || all(ours));
        let mut wanted = Vec::new();
        if target.min_ratio > 0.0 {
            wanted.push(format!(">= {}x msg/s", target.min_ratio));
        }
        if target.p99_no_worse {
            wanted.push("p99 <= Mosquitto".to_owned());
        }
        if target.all_delivered {
            wanted.push("all delivered".to_owned());
        }
        println!(
            "| {} | {:.0} | {:.0} | {:.2}x | {} | {} | {} / {} | {} | {} |",
            scenario.title,
            our_rate,
            their_rate,
            ratio,
            micros(p99(ours)),
            micros(p99(theirs)),
            yes_no(all(ours)),
            yes_no(all(theirs)),
            wanted.join(", "),
            yes_no(met)
        );
    }
    let [ours, theirs] = memory;
    println!(
        "| resident memory per idle TCP connection ({IDLE_CONNECTIONS} held) | {ours:.0} B | {theirs:.0} B | | | | | <= 1024 B | {} |",
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

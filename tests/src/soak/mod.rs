//! The soak: many persistent-session devices publishing to one another through a real
//! broker for a long time, dropping and restoring their connections at random, while the
//! broker's resident memory is sampled. It proves what a short test cannot: that no QoS 1
//! message of a persistent session is lost and no QoS 2 message is delivered twice under
//! churn, and that memory stays flat.
//!
//! The run has four phases. *Starting*: every device connects and subscribes to its own
//! topic at QoS 2. In *chaos* every device publishes on a timer (QoS 1 from
//! even devices, QoS 2 from odd ones, each message to another device's topic) and drops
//! its connection after a random lifetime, half the time abruptly, half with DISCONNECT,
//! then comes back after a random pause with the same client id and Clean Session 0. In
//! *drain* nobody publishes or drops, and the run waits until every message is confirmed
//! and received (or a deadline passes). Then every device disconnects and the ledger is
//! read. `cargo xtask soak` runs it against a release build; `server/tests/soak.rs` runs
//! a short one on every test run.

mod device;
mod ledger;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

pub use ledger::{Ledger, Tally};

use crate::proc_status::memory_kib;
use device::Device;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub broker: SocketAddr,
    pub clients: usize,
    /// How long the chaos phase lasts.
    pub duration: Duration,
    /// Each device publishes once per interval.
    pub publish_interval: Duration,
    /// A connection lives for a random time in this range before the device drops it.
    pub drop_after: (Duration, Duration),
    /// A dropped device stays offline for a random time up to this.
    pub offline: Duration,
    /// How long the drain phase may take before the run gives up on settling.
    pub drain_limit: Duration,
    /// How often to sample memory and print progress.
    pub sample_every: Duration,
    /// The broker's process id, to sample its resident memory (Linux only).
    pub broker_pid: Option<u32>,
    pub seed: u64,
}

impl Options {
    /// The defaults of `cargo xtask soak`: 1,000 devices, one message a second each,
    /// connections that live 10 to 60 s and come back within 3 s.
    pub fn new(broker: SocketAddr, duration: Duration) -> Self {
        Options {
            broker,
            clients: 1_000,
            duration,
            publish_interval: Duration::from_secs(1),
            drop_after: (Duration::from_secs(10), Duration::from_secs(60)),
            offline: Duration::from_secs(3),
            drain_limit: Duration::from_secs(60),
            sample_every: Duration::from_secs(30),
            broker_pid: None,
            seed: 1,
        }
    }
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Every device connects and subscribes.
    Starting,
    Chaos,
    Drain,
    Done,
}

/// Events the devices count.
#[derive(Debug, Default)]
pub struct Counters {
    /// SUBACKs received (a device subscribes again only if its session was lost).
    pub subscribed: AtomicU64,
    pub connects: AtomicU64,
    pub drops: AtomicU64,
    /// Connections the broker or the network closed, not the device.
    pub lost_connections: AtomicU64,
    pub connect_failures: AtomicU64,
    /// Reconnections where the broker had forgotten the persistent session.
    pub sessions_lost: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub stray: AtomicU64,
    /// Messages a device's own client refused (its outgoing queue was full): they never
    /// reached the broker, so the ledger would blame it for them.
    pub client_refusals: AtomicU64,
}

/// What every device shares.
#[derive(Debug)]
pub struct Shared {
    pub options: Options,
    pub ledger: Ledger,
    pub counters: Counters,
    pub start: Instant,
}

/// One line of the memory and progress table.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub at: Duration,
    pub rss_kib: Option<u64>,
    pub tally: Tally,
    pub connects: u64,
    pub drops: u64,
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rss = self.rss_kib.map_or_else(
            || "-".to_owned(),
            |kib| format!("{:.1}", kib as f64 / 1024.0),
        );
        write!(
            f,
            "| {:>6} | {:>8} | {:>9} | {:>9} | {:>9} | {:>7} | {:>6} |",
            self.at.as_secs(),
            rss,
            self.tally.published,
            self.tally.confirmed,
            self.tally.received,
            self.connects,
            self.drops
        )
    }
}

/// The table's header, in the same columns as [`Sample`]'s lines.
pub const SAMPLE_HEADER: &str = "| t (s) | RSS MiB | published | confirmed |  received | connects |  drops |\n|---:|---:|---:|---:|---:|---:|---:|";

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Report {
    pub samples: Vec<Sample>,
    pub tally: Tally,
    pub settled_in: Option<Duration>,
    pub connects: u64,
    pub drops: u64,
    pub lost_connections: u64,
    pub connect_failures: u64,
    pub sessions_lost: u64,
    pub protocol_errors: u64,
    pub client_refusals: u64,
    /// The first lost messages as (sender, sequence number): the payload was
    /// `sender:seq`, sent to the topic of the device the sender addressed.
    pub first_lost: Vec<(usize, u32)>,
    /// Whether every device had subscribed before the chaos began.
    pub started: bool,
}

impl Report {
    /// No loss, no QoS 2 duplicate, everything settled, no forgotten session.
    pub fn is_clean(&self) -> bool {
        self.started
            && self.tally.settled()
            && self.sessions_lost == 0
            && self.protocol_errors == 0
            && self.client_refusals == 0
            && self.settled_in.is_some()
    }

    /// Resident memory at the end against the highest sample of the first half of the
    /// chaos phase (after warm-up): the growth in percent, if memory was sampled.
    pub fn memory_growth_percent(&self) -> Option<f64> {
        let rss: Vec<(Duration, u64)> = self
            .samples
            .iter()
            .filter_map(|sample| Some((sample.at, sample.rss_kib?)))
            .collect();
        let (end, last) = *rss.last()?;
        let warm = rss
            .iter()
            .filter(|(at, _)| *at <= end / 2)
            .map(|(_, kib)| *kib)
            .max()?;
        Some((last as f64 - warm as f64) * 100.0 / warm as f64)
    }
}

impl fmt::Display for Report {
    /// The table, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{SAMPLE_HEADER}")?;
        for sample in &self.samples {
            writeln!(f, "{sample}")?;
        }
        writeln!(f)?;
        write!(f, "{}", Summary(self))
    }
}

/// A report without its table, for a run that printed the table as it went.
#[derive(Debug)]
pub struct Summary<'a>(pub &'a Report);

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        writeln!(f, "ledger: {}", report.tally)?;
        writeln!(
            f,
            "connections: connects={} drops={} lost={} connect_failures={} sessions_lost={} protocol_errors={} client_refusals={}",
            report.connects,
            report.drops,
            report.lost_connections,
            report.connect_failures,
            report.sessions_lost,
            report.protocol_errors,
            report.client_refusals
        )?;
        if !report.first_lost.is_empty() {
            writeln!(f, "first lost (sender:seq): {:?}", report.first_lost)?;
        }
        if !report.started {
            writeln!(f, "NOT every device subscribed before the chaos began")?;
        }
        match report.settled_in {
            Some(took) => writeln!(
                f,
                "settled {:.1} s after the chaos ended",
                took.as_secs_f64()
            )?,
            None => writeln!(f, "did NOT settle within the drain limit")?,
        }
        if let Some(growth) = report.memory_growth_percent() {
            writeln!(
                f,
                "memory: {growth:+.1}% from the first half's peak to the end"
            )?;
        }
        write!(
            f,
            "verdict: {}",
            if report.is_clean() { "clean" } else { "FAILED" }
        )
    }
}

/// Plays a soak run against `options.broker`, printing each sample as it is taken when
/// `progress` is set.
pub async fn run(options: Options, progress: bool) -> Report {
    let clients = options.clients;
    let shared = Arc::new(Shared {
        ledger: Ledger::new(clients, device::qos_of),
        counters: Counters::default(),
        start: Instant::now(),
        options,
    });
    let (phase_tx, phase) = watch::channel(Phase::Starting);
    let mut devices = JoinSet::new();
    for index in 0..clients {
        devices.spawn(Device::new(index, shared.clone()).run(phase.clone()));
    }
    // A message published before its subscriber subscribed is rightly never delivered:
    // the chaos waits until every device has its subscription.
    let subscribed = shared.options.drain_limit;
    let all_subscribed = async {
        while shared.counters.subscribed.load(Ordering::Relaxed) < clients as u64 {
            // The counters have no notification; they are read ten times a second.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let started = tokio::time::timeout(subscribed, all_subscribed)
        .await
        .is_ok();
    let _ = phase_tx.send(Phase::Chaos);
    if progress {
        println!("{SAMPLE_HEADER}");
    }
    let mut samples = Vec::new();
    let mut ticker = tokio::time::interval(shared.options.sample_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let chaos_end = Instant::now() + shared.options.duration;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let sample = sample(&shared);
                if progress {
                    println!("{sample}");
                }
                samples.push(sample);
            }
            () = tokio::time::sleep_until(chaos_end) => break,
        }
    }
    let _ = phase_tx.send(Phase::Drain);
    let drain_start = Instant::now();
    let settled_in = loop {
        if tally(&shared).settled() {
            break Some(drain_start.elapsed());
        }
        if drain_start.elapsed() >= shared.options.drain_limit {
            break None;
        }
        // The ledger has no notification; it is read ten times a second.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let last = sample(&shared);
    if progress {
        println!("{last}");
    }
    samples.push(last);
    let _ = phase_tx.send(Phase::Done);
    while devices.join_next().await.is_some() {}
    let counters = &shared.counters;
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    Report {
        samples,
        tally: tally(&shared),
        settled_in,
        connects: load(&counters.connects),
        drops: load(&counters.drops),
        lost_connections: load(&counters.lost_connections),
        connect_failures: load(&counters.connect_failures),
        sessions_lost: load(&counters.sessions_lost),
        protocol_errors: load(&counters.protocol_errors),
        client_refusals: load(&counters.client_refusals),
        first_lost: shared.ledger.lost(10),
        started,
    }
}

fn tally(shared: &Shared) -> Tally {
    shared
        .ledger
        .tally(shared.counters.stray.load(Ordering::Relaxed))
}

fn sample(shared: &Shared) -> Sample {
    Sample {
        at: shared.start.elapsed(),
        rss_kib: shared
            .options
            .broker_pid
            .and_then(|pid| memory_kib(pid, "VmRSS").ok()),
        tally: tally(shared),
        connects: shared.counters.connects.load(Ordering::Relaxed),
        drops: shared.counters.drops.load(Ordering::Relaxed),
    }
}

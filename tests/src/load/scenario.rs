//! The benchmark scenarios of the server issue, and the runner that plays one.

use std::fmt;
use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::link::{self, Receiver, Sender, Target};
use super::wire::{self, Incoming};

/// Every message's size: 64 bytes, the first 8 of them the send time.
const PAYLOAD: usize = 64;

/// One scenario: who publishes what to whom, and how fast.
#[derive(Clone, Debug)]
pub struct Spec {
    pub publishers: usize,
    pub subscribers: usize,
    /// All publish to and subscribe to one topic (fan-out, fan-in), or publisher `i`
    /// publishes to subscriber `i` alone (pairs).
    pub shared_topic: bool,
    pub qos: u8,
    /// QoS 1: the most unacknowledged PUBLISHes per publisher.
    pub window: usize,
    /// QoS 0: messages per second per publisher.
    pub rate: Option<u64>,
    /// How long, after the publishers stop, acknowledgements and messages still on their
    /// way may take to arrive.
    pub drain: Duration,
    /// If set, each publisher stops after this many messages, and the run lasts until
    /// they all have (or the run's time is up): the overload tests count, they do not time.
    pub count: Option<u64>,
    /// Subscribers keep persistent sessions (clean session 0): what a broker with a data
    /// dir must store before it acknowledges.
    pub persistent: bool,
}

impl Spec {
    pub fn named(name: &str) -> Option<Spec> {
        let spec = |publishers, subscribers, shared_topic, qos, window, rate| Spec {
            publishers,
            subscribers,
            shared_topic,
            qos,
            window,
            rate,
            drain: Duration::from_secs(3),
            count: None,
            persistent: false,
        };
        Some(match name {
            // 4 publishers to 4 subscribers in pairs, QoS 1, window 64.
            "qos1-pairs" => spec(4, 4, false, 1, 64, None),
            // The same with subscribers in persistent sessions (the durability benchmark).
            "qos1-pairs-persistent" => Spec {
                persistent: true,
                ..spec(4, 4, false, 1, 64, None)
            },
            // 40,000 msg/s offered in total by 4 pairs, QoS 0.
            "qos0-fixed-rate" => spec(4, 4, false, 0, 0, Some(10_000)),
            // 1 publisher at 1,000 msg/s to 100 subscribers, QoS 0.
            "qos0-fanout" => spec(1, 100, true, 0, 0, Some(1_000)),
            // 1 publisher, window 16, to 100 subscribers, QoS 1.
            "qos1-fanout" => spec(1, 100, true, 1, 16, None),
            // 16 publishers, window 16 each, to 1 subscriber, QoS 1.
            "qos1-fanin" => spec(16, 1, true, 1, 16, None),
            _ => return None,
        })
    }

    fn topic(&self, index: usize) -> String {
        if self.shared_topic {
            "bench/all".into()
        } else {
            format!("bench/{index}")
        }
    }

    /// How many subscribers receive each message.
    fn fan_out(&self) -> u64 {
        if self.shared_topic {
            self.subscribers as u64
        } else {
            1
        }
    }
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Report {
    /// PUBLISH packets the publishers sent.
    pub published: u64,
    /// Of those, QoS 1 ones the broker acknowledged (PUBACK); QoS 0 has no
    /// acknowledgement, and counts what was sent.
    pub acknowledged: u64,
    /// Messages the subscribers received.
    pub delivered: u64,
    /// What they should have received: every acknowledged message once per subscriber it
    /// is routed to. Fewer delivered means the broker lost what it acknowledged.
    pub expected: u64,
    pub secs: f64,
    pub p50_us: u32,
    pub p99_us: u32,
}

impl Report {
    /// Acknowledged messages that never arrived.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "result published={} acknowledged={} delivered={} expected={} lost={} secs={:.3} \
             rate={:.0} p50_us={} p99_us={}",
            self.published,
            self.acknowledged,
            self.delivered,
            self.expected,
            self.lost(),
            self.secs,
            self.delivered as f64 / self.secs,
            self.p50_us,
            self.p99_us
        )
    }
}

/// Runs `spec` against `target` with publishers active for `secs`.
pub async fn run(spec: &Spec, target: &Target, secs: f64) -> Result<Report> {
    let epoch = Instant::now();
    let (stop_tx, stop) = watch::channel(false);
    let (finish_tx, finish) = watch::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));

    let mut subscribers = JoinSet::new();
    for index in 0..spec.subscribers {
        let (mut sender, mut receiver) =
            link::connect(target, &format!("lg-sub-{index}"), !spec.persistent).await?;
        let mut subscribe = Vec::new();
        wire::subscribe(&mut subscribe, &spec.topic(index), spec.qos);
        sender.send(subscribe).await?;
        match receiver.next().await? {
            Some(Incoming::SubAck) => {}
            other => bail!("expected SUBACK, got {other:?}"),
        }
        subscribers.spawn(subscribe_loop(
            sender,
            receiver,
            epoch,
            delivered.clone(),
            finish.clone(),
        ));
    }

    let sent = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let mut publishers = JoinSet::new();
    for index in 0..spec.publishers {
        let link = link::connect(target, &format!("lg-pub-{index}"), true).await?;
        let topic = spec.topic(index);
        publishers.spawn(publish_loop(
            link,
            spec.clone(),
            topic,
            epoch,
            Counts {
                sent: sent.clone(),
                acked: acked.clone(),
            },
            stop.clone(),
        ));
    }

    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs_f64(secs));
    tokio::pin!(deadline);
    let mut running = spec.publishers;
    while running > 0 {
        tokio::select! {
            () = &mut deadline => break,
            done = publishers.join_next() => match done {
                Some(done) => {
                    done??;
                    running -= 1;
                }
                None => break,
            },
        }
    }
    let _ = stop_tx.send(true);
    while let Some(done) = publishers.join_next().await {
        done??;
    }
    let published = sent.load(Ordering::Relaxed);
    let acknowledged = if spec.qos == 0 {
        published
    } else {
        acked.load(Ordering::Relaxed)
    };
    let expected = acknowledged * spec.fan_out();
    let drain_until = Instant::now() + spec.drain;
    // Polling a counter: the subscribers are busy counting, not signalling.
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = finish_tx.send(true);
    let mut latencies = Vec::new();
    while let Some(done) = subscribers.join_next().await {
        latencies.extend(done??);
    }
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or(0)
    };
    Ok(Report {
        published,
        acknowledged,
        delivered: delivered.load(Ordering::Relaxed),
        expected,
        secs: elapsed,
        p50_us: percentile(0.50),
        p99_us: percentile(0.99),
    })
}

/// Reads messages, acknowledges QoS 1 ones in batches, and returns the latencies, in
/// microseconds, once told to finish.
async fn subscribe_loop(
    mut sender: Sender,
    mut receiver: Receiver,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
    mut finish: watch::Receiver<bool>,
) -> Result<Vec<u32>> {
    let mut latencies = Vec::with_capacity(1 << 16);
    loop {
        let more = tokio::select! {
            more = receiver.fill() => more?,
            _ = finish.changed() => true,
        };
        if !more || *finish.borrow() {
            return Ok(latencies);
        }
        let mut acks = Vec::new();
        let now = epoch.elapsed().as_nanos() as u64;
        while let Some(packet) = receiver.parse()? {
            if let Incoming::Publish {
                qos,
                packet_id,
                sent_at_ns,
            } = packet
            {
                delivered.fetch_add(1, Ordering::Relaxed);
                latencies.push((now.saturating_sub(sent_at_ns) / 1000) as u32);
                if qos == 1 {
                    wire::puback(&mut acks, packet_id);
                }
            }
        }
        if !acks.is_empty() {
            sender.send(acks).await?;
        }
    }
}

/// What the publishers count together.
struct Counts {
    sent: Arc<AtomicU64>,
    acked: Arc<AtomicU64>,
}

async fn publish_loop(
    (mut sender, mut receiver): (Sender, Receiver),
    spec: Spec,
    topic: String,
    epoch: Instant,
    Counts { sent, acked }: Counts,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut payload = [0u8; PAYLOAD];
    let mut stamp = |out: &mut Vec<u8>, packet_id: u16| {
        let now = epoch.elapsed().as_nanos() as u64;
        payload[..8].copy_from_slice(&now.to_be_bytes());
        wire::publish(out, &topic, spec.qos, packet_id, &payload);
    };
    if let Some(rate) = spec.rate {
        // QoS 0 at a fixed rate: every millisecond, send what the schedule says is due.
        let start = Instant::now();
        let mut count = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            if due > count {
                let mut batch = Vec::new();
                for _ in count..due {
                    stamp(&mut batch, 0);
                }
                sender.send(batch).await?;
                sent.fetch_add(due - count, Ordering::Relaxed);
                count = due;
            }
        }
        return Ok(());
    }
    // QoS 1 with a window: a permit per unacknowledged PUBLISH, returned by its PUBACK.
    let window = Arc::new(Semaphore::new(spec.window));
    let acks = {
        let window = window.clone();
        tokio::spawn(async move {
            while let Some(packet) = receiver.next().await? {
                if packet == Incoming::PubAck {
                    acked.fetch_add(1, Ordering::Relaxed);
                    window.add_permits(1);
                }
            }
            anyhow::Ok(())
        })
    };
    let mut packet_id: u16 = 0;
    let mut left = spec.count.unwrap_or(u64::MAX);
    while left > 0 {
        let permit = tokio::select! {
            permit = window.acquire() => permit?,
            _ = stop.changed() => break,
        };
        permit.forget();
        // Everything the window allows right now goes out in one write.
        let mut batch = Vec::new();
        let mut count = 1;
        while count < left {
            let Ok(more) = window.try_acquire() else {
                break;
            };
            more.forget();
            count += 1;
        }
        left -= count;
        for _ in 0..count {
            packet_id = packet_id.checked_add(1).unwrap_or(1);
            stamp(&mut batch, packet_id);
        }
        sender.send(batch).await?;
        sent.fetch_add(count as u64, Ordering::Relaxed);
    }
    // Every acknowledgement still owed counts: wait for the whole window to come back,
    // for at most the drain time.
    let all = u32::try_from(spec.window).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(spec.drain, window.acquire_many(all)).await;
    acks.abort();
    Ok(())
}

/// Opens `count` idle connections, reports them, and holds them until told to stop.
pub async fn hold(target: &Target, count: usize) -> Result<()> {
    let mut links = Vec::with_capacity(count);
    for index in 0..count {
        links.push(link::connect(target, &format!("lg-idle-{index}"), true).await?);
    }
    println!("holding {count}");
    // Blocking on standard input is fine: nothing else runs while the connections idle.
    let _ = std::io::stdin().lock().lines().next();
    drop(links);
    Ok(())
}

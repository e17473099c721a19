//! One soak device: a persistent-session MQTT client (broker-core's sans-IO client) over
//! TCP, which publishes on a timer, receives on its own topic, and every so often loses
//! its connection, abruptly or with DISCONNECT, and comes back.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use broker_core::client::{Client, ClientEvent, ClientOptions};
use broker_core::{PacketId, QoS, Rng, TopicFilter, TopicName};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use super::{Counters, Phase, Shared};

/// How long to wait before trying again when the broker refuses the TCP connection.
const RETRY: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct Device {
    index: usize,
    client: Client,
    shared: Arc<Shared>,
    rng: Rng,
    /// Sequence number of each message in flight, by packet id.
    in_flight: HashMap<PacketId, u32>,
    next_publish: Instant,
    subscribed: bool,
}

/// How a connection of the device ended.
enum Ended {
    /// Chaos: the device drops its connection on purpose and comes back later.
    Dropped,
    /// The broker or the network closed it.
    Lost,
    /// The run is over.
    Finished,
}

impl Device {
    pub fn new(index: usize, shared: Arc<Shared>) -> Self {
        let options = ClientOptions {
            clean_session: false,
            keep_alive: 60,
            ..ClientOptions::new(&client_id(index))
        };
        Device {
            index,
            client: Client::new(options),
            rng: Rng::new(shared.options.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            in_flight: HashMap::new(),
            next_publish: far_future(),
            subscribed: false,
            shared,
        }
    }

    /// Runs until the phase is `Done`, then disconnects cleanly.
    pub async fn run(mut self, mut phase: watch::Receiver<Phase>) {
        loop {
            let stream = match TcpStream::connect(self.shared.options.broker).await {
                Ok(stream) => stream,
                Err(_) => {
                    self.counters()
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    if self.offline_until(Instant::now() + RETRY, &mut phase).await {
                        return;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            match self.connection(stream, &mut phase).await {
                Ended::Finished => return,
                Ended::Lost => {
                    self.counters()
                        .lost_connections
                        .fetch_add(1, Ordering::Relaxed);
                }
                Ended::Dropped => {
                    let pause = self.shared.options.offline.mul_f64(self.rng.next_f64());
                    if self.offline_until(Instant::now() + pause, &mut phase).await {
                        return;
                    }
                }
            }
        }
    }

    /// One connection, from CONNECT to its end.
    async fn connection(
        &mut self,
        mut stream: TcpStream,
        phase: &mut watch::Receiver<Phase>,
    ) -> Ended {
        self.client.connect(self.now());
        let options = &self.shared.options;
        let lifetime = options.drop_after.0
            + (options.drop_after.1 - options.drop_after.0).mul_f64(self.rng.next_f64());
        let drop_at = Instant::now() + lifetime;
        let abrupt = self.rng.chance(0.5);
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            self.settle();
            if self.flush(&mut stream).await.is_err() {
                self.client.handle_closed();
                return Ended::Lost;
            }
            let chaos = *phase.borrow() == Phase::Chaos;
            let timeout = self.client.poll_timeout().map_or(far_future(), |at| {
                self.shared.start + Duration::from_millis(at.as_millis())
            });
            tokio::select! {
                read = stream.read_buf(&mut buf) => match read {
                    Ok(n) if n > 0 => {
                        self.client.handle_bytes(self.now(), &buf.split());
                    }
                    _ => {
                        self.client.handle_closed();
                        return Ended::Lost;
                    }
                },
                () = sleep_until(self.next_publish), if chaos => self.publish(),
                () = sleep_until(timeout) => self.client.handle_timeout(self.now()),
                () = sleep_until(drop_at), if chaos => {
                    self.counters().drops.fetch_add(1, Ordering::Relaxed);
                    if !abrupt {
                        self.client.disconnect(self.now());
                        let _ = self.flush(&mut stream).await;
                    }
                    // Dropping the stream without DISCONNECT is a lost network: the
                    // broker keeps the session and publishes nothing else.
                    self.client.handle_closed();
                    return Ended::Dropped;
                }
                changed = phase.changed() => {
                    self.on_phase(*phase.borrow());
                    if changed.is_err() || *phase.borrow() == Phase::Done {
                        self.client.disconnect(self.now());
                        let _ = self.flush(&mut stream).await;
                        let _ = stream.shutdown().await;
                        return Ended::Finished;
                    }
                }
            }
        }
    }

    /// Waits offline until `until`, publishing into the client's queue meanwhile (QoS 1
    /// and 2 messages wait for the next CONNACK). True if the run ended meanwhile.
    async fn offline_until(&mut self, until: Instant, phase: &mut watch::Receiver<Phase>) -> bool {
        loop {
            let chaos = *phase.borrow() == Phase::Chaos;
            if !chaos && *phase.borrow() == Phase::Done {
                return true;
            }
            tokio::select! {
                () = sleep_until(until) => return false,
                () = sleep_until(self.next_publish), if chaos => self.publish(),
                changed = phase.changed() => {
                    if changed.is_err() {
                        return true;
                    }
                    self.on_phase(*phase.borrow());
                    // Draining: reconnect at once, so that everything can settle.
                    if *phase.borrow() == Phase::Drain {
                        return false;
                    }
                }
            }
        }
    }

    /// The chaos begins once every device has subscribed: the first publications are
    /// spread over one interval, so that the devices do not all publish at once.
    fn on_phase(&mut self, phase: Phase) {
        if phase == Phase::Chaos {
            let options = &self.shared.options;
            let share = self.index as f64 / options.clients as f64;
            self.next_publish = Instant::now() + options.publish_interval.mul_f64(share);
        }
    }

    fn publish(&mut self) {
        let options = &self.shared.options;
        self.next_publish += options.publish_interval;
        let seq = self.shared.ledger.published(self.index);
        // Each message goes to another device, a different one each time.
        let to = (self.index + 1 + seq as usize % (options.clients - 1).max(1)) % options.clients;
        let topic = TopicName::new(&topic_of(to)).expect("a valid topic");
        let payload = Bytes::from(format!("{}:{}", self.index, seq));
        let qos = qos_of(self.index);
        let now = self.now();
        // A refusal comes back as `ClientEvent::Refused` and is counted there.
        if let Ok(Some(id)) = self.client.publish(now, topic, payload, qos, false) {
            self.in_flight.insert(id, seq);
        }
    }

    /// Takes the client's events: subscribes on a new session, books confirmations and
    /// receipts.
    fn settle(&mut self) {
        while let Some(event) = self.client.poll_event() {
            match event {
                ClientEvent::ConnAck(connack) => {
                    if self.subscribed && !connack.session_present {
                        // The broker forgot a persistent session it should have kept.
                        self.counters()
                            .sessions_lost
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    if !connack.session_present {
                        let filter =
                            TopicFilter::new(&topic_of(self.index)).expect("a valid filter");
                        // Refusals are counted from `ClientEvent::Refused`.
                        let _ = self
                            .client
                            .subscribe(self.now(), vec![(filter, QoS::ExactlyOnce)]);
                        self.subscribed = true;
                    }
                    self.counters().connects.fetch_add(1, Ordering::Relaxed);
                }
                ClientEvent::Delivered { packet_id, .. } => {
                    if let Some(seq) = self.in_flight.remove(&packet_id) {
                        self.shared.ledger.confirmed(self.index, seq);
                    }
                }
                ClientEvent::Message(message) => {
                    let known = parse(&message.payload)
                        .is_some_and(|(sender, seq)| self.shared.ledger.received(sender, seq));
                    if !known || message.topic.as_str() != topic_of(self.index) {
                        self.counters().stray.fetch_add(1, Ordering::Relaxed);
                    }
                }
                ClientEvent::Refused(_) => {
                    self.counters()
                        .client_refusals
                        .fetch_add(1, Ordering::Relaxed);
                }
                // The soak's devices speak 3.1.1, to which a broker never sends
                // DISCONNECT: one arriving is as wrong as a malformed packet.
                ClientEvent::ProtocolError(_) | ClientEvent::Disconnected { .. } => {
                    self.counters()
                        .protocol_errors
                        .fetch_add(1, Ordering::Relaxed);
                }
                ClientEvent::SubAck { .. } => {
                    self.counters().subscribed.fetch_add(1, Ordering::Relaxed);
                }
                ClientEvent::UnsubAck { .. } => {}
            }
        }
    }

    async fn flush(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        while let Some(bytes) = self.client.poll_transmit() {
            stream.write_all(&bytes).await?;
        }
        Ok(())
    }

    fn now(&self) -> broker_core::Instant {
        let elapsed = Instant::now().saturating_duration_since(self.shared.start);
        broker_core::Instant::from_millis(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    fn counters(&self) -> &Counters {
        &self.shared.counters
    }
}

pub fn client_id(index: usize) -> String {
    format!("soak-{index}")
}

fn topic_of(index: usize) -> String {
    format!("soak/{index}")
}

/// Even devices publish at QoS 1, odd ones at QoS 2; every subscription is QoS 2.
pub fn qos_of(index: usize) -> QoS {
    if index.is_multiple_of(2) {
        QoS::AtLeastOnce
    } else {
        QoS::ExactlyOnce
    }
}

fn parse(payload: &[u8]) -> Option<(usize, u32)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (sender, seq) = text.split_once(':')?;
    Some((sender.parse().ok()?, seq.parse().ok()?))
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

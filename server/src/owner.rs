//! The owner loop: the one task that owns the `Broker`.
//!
//! Connection tasks only move bytes. Everything they learn (a connection, bytes, a close)
//! reaches this task as an [`Input`] on one bounded channel, in order; it calls the
//! broker's matching `handle_*`, then drains `poll_output` as the core's drain contract
//! requires, handing bytes to each connection's [`Outbox`]. Between inputs it sleeps until
//! the broker's next timeout. One owner means the broker needs no locks, and its outputs
//! are exactly those a test of the core on virtual time would see.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broker_core::policy::Action;
use broker_core::recording::{Entry, Header, Hex, OpenConn};
use broker_core::{
    Broker, Config, ConnId, DropReason, Event, EventConfig, Instant, Output, PeerInfo, Profile,
};
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::journal::Opened;
use crate::metrics::{EventCounters, Snapshot};
use crate::outbox::{Outbox, Overflow, Pushed};
use crate::store_writer::StoreWriter;
use crate::tape::{Tape, LIVE_CAPACITY};

/// How many inputs may wait for the owner. When it falls behind, connection tasks wait
/// to hand over what they read, which stops them reading: backpressure reaches the
/// clients through TCP instead of piling up in memory here.
const INPUT_CAPACITY: usize = 1024;

/// How many events a watcher of `/events` may fall behind before it misses some. A slow
/// watcher loses events; it never slows the broker.
const EVENT_CAPACITY: usize = 4096;

/// What connection tasks and HTTP handlers tell the owner.
#[derive(Debug)]
enum Input {
    /// A transport connected; the reply is its id for every later input.
    Accept {
        peer: Box<PeerInfo>,
        outbox: Arc<Outbox>,
        reply: oneshot::Sender<ConnId>,
    },
    /// Bytes arrived, split anywhere.
    Bytes { conn: ConnId, bytes: Bytes },
    /// The transport closed or failed.
    Closed { conn: ConnId, cause: Cause },
    /// A congested connection's outgoing queue has drained (see `outbox.rs`).
    Relieved { conn: ConnId },
    /// `/metrics` wants the counters.
    Snapshot { reply: oneshot::Sender<Snapshot> },
    /// `/live` wants the open connections and their client ids, for a watcher arriving
    /// in the middle of the run.
    Present {
        reply: oneshot::Sender<Vec<OpenConn>>,
    },
    /// `/recording` wants the recording file with everything recorded so far in it.
    Recording {
        reply: oneshot::Sender<Option<(std::path::PathBuf, oneshot::Receiver<u64>)>>,
    },
    /// The server is stopping: close every connection once its queue is sent.
    /// The broker publishes their Wills (AWS: SERVER_INITIATED_DISCONNECT).
    Shutdown { done: oneshot::Sender<()> },
}

impl Input {
    /// The connection the input comes from, if any.
    fn conn(&self) -> Option<ConnId> {
        match self {
            Input::Bytes { conn, .. } | Input::Closed { conn, .. } | Input::Relieved { conn } => {
                Some(*conn)
            }
            Input::Accept { .. }
            | Input::Snapshot { .. }
            | Input::Present { .. }
            | Input::Recording { .. }
            | Input::Shutdown { .. } => None,
        }
    }
}

/// Why a connection's transport ended, as far as the server can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The peer closed it, or the network failed: nothing to count.
    Network,
    /// The peer broke the transport's framing (see `TransportViolation`), by kind.
    Violation(&'static str),
    /// The connection's task panicked.
    Panic,
}

/// Handing bytes to a busy owner: done once the owner has taken them, or it has stopped.
pub type Waiting<'a> = Pin<Box<dyn Future<Output = Result<(), Stopped>> + Send + 'a>>;

/// The owner has stopped; the caller should wind down.
#[derive(Debug)]
pub struct Stopped;

/// How the rest of the server talks to the owner loop. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OwnerHandle {
    inputs: mpsc::Sender<Input>,
    events: broadcast::Sender<Arc<Event>>,
    live: broadcast::Sender<Arc<str>>,
    /// The first line of the live stream: a recording's header.
    header: Arc<str>,
}

impl OwnerHandle {
    /// Registers a new transport. `None` means the server is stopping.
    pub async fn accept(&self, peer: Box<PeerInfo>, outbox: Arc<Outbox>) -> Option<ConnId> {
        let (reply, answer) = oneshot::channel();
        self.send(Input::Accept {
            peer,
            outbox,
            reply,
        })
        .await
        .ok()?;
        answer.await.ok()
    }

    /// Hands bytes to the owner: at once when its queue has room, which is nearly always,
    /// and otherwise through the returned future. The future is boxed so that connection
    /// tasks do not carry the machinery of waiting in their size.
    pub fn bytes(&self, conn: ConnId, bytes: Bytes) -> Result<Option<Waiting<'_>>, Stopped> {
        match self.inputs.try_send(Input::Bytes { conn, bytes }) {
            Ok(()) => Ok(None),
            Err(mpsc::error::TrySendError::Full(input)) => Ok(Some(Box::pin(self.send(input)))),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Stopped),
        }
    }

    pub async fn closed(&self, conn: ConnId) {
        self.closed_by(conn, Cause::Network).await;
    }

    pub async fn closed_by(&self, conn: ConnId, cause: Cause) {
        // If the owner has stopped, there is nobody left to tell.
        let _ = self.send(Input::Closed { conn, cause }).await;
    }

    /// Tells the owner that `conn`'s task panicked. Called while unwinding, so it cannot
    /// wait: when the owner's queue is full, a new task waits instead.
    pub fn closed_after_panic(&self, conn: ConnId) {
        let input = Input::Closed {
            conn,
            cause: Cause::Panic,
        };
        if let Err(mpsc::error::TrySendError::Full(input)) = self.inputs.try_send(input) {
            let inputs = self.inputs.clone();
            tokio::spawn(async move { inputs.send(input).await });
        }
    }

    pub async fn relieved(&self, conn: ConnId) {
        let _ = self.send(Input::Relieved { conn }).await;
    }

    pub async fn snapshot(&self) -> Result<Snapshot, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.send(Input::Snapshot { reply }).await?;
        answer.await.map_err(|_| Stopped)
    }

    /// Closes every connection after sending what is queued for it, and refuses new ones.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.send(Input::Shutdown { done }).await.is_ok() {
            let _ = finished.await;
        }
    }

    /// Whether the owner loop still runs. It ends only at shutdown: a panic in the broker
    /// closes one connection, not the loop (see `Owner::guarded`).
    pub fn is_running(&self) -> bool {
        !self.inputs.is_closed()
    }

    /// Waits until the owner loop has ended.
    pub async fn ended(&self) {
        self.inputs.closed().await;
    }

    /// A stream of every event the broker emits from now on. While at least one exists,
    /// the broker emits its detailed packet and delivery events too.
    pub fn watch_events(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// The recording lines of everything the broker is given and answers from now on,
    /// after the header line to send first and the connections open now.
    pub async fn watch_live(
        &self,
    ) -> Result<(Arc<str>, Vec<OpenConn>, broadcast::Receiver<Arc<str>>), Stopped> {
        // Subscribed before asking: a connection that opens in between shows in both,
        // which the page takes in its stride, rather than in neither.
        let lines = self.live.subscribe();
        let (reply, answer) = oneshot::channel();
        self.send(Input::Present { reply }).await?;
        let present = answer.await.map_err(|_| Stopped)?;
        Ok((self.header.clone(), present, lines))
    }

    /// The recording file and how many bytes of it were recorded until now, once they
    /// are written (whole lines: the writer may append more meanwhile); `None` if the
    /// server was started without `--record`.
    pub async fn recording(&self) -> Result<Option<(std::path::PathBuf, u64)>, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.send(Input::Recording { reply }).await?;
        match answer.await.map_err(|_| Stopped)? {
            Some((path, flushed)) => Ok(Some((path, flushed.await.map_err(|_| Stopped)?))),
            None => Ok(None),
        }
    }

    async fn send(&self, input: Input) -> Result<(), Stopped> {
        self.inputs.send(input).await.map_err(|_| Stopped)
    }
}

/// Starts the owner loop for a broker made from `config`, durable if a data dir was
/// opened: the broker first recovers what it holds.
/// With `record`, every input and output is recorded to that file, up to that many bytes.
pub fn spawn(
    config: Config,
    data: Option<Opened>,
    record: Option<(&std::path::Path, u64)>,
) -> std::io::Result<OwnerHandle> {
    let (inputs, receiver) = mpsc::channel(INPUT_CAPACITY);
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let (live, _) = broadcast::channel(LIVE_CAPACITY);
    let mut owner = Owner::new(config, events.clone(), record, live.clone())?;
    let header =
        Arc::from(serde_json::to_string(&Header::new(owner.broker.config())).unwrap_or_default());
    if let Some(data) = data {
        owner.recover(data)?;
    }
    tokio::spawn(owner.run(receiver));
    Ok(OwnerHandle {
        inputs,
        events,
        live,
        header,
    })
}

/// The broker's time: epoch milliseconds, because the aws-iot profile's lifecycle events
/// carry them as timestamps, but advanced by the monotonic clock, so that a change of the
/// system time never makes a keep-alive fire early or late.
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin: std::time::Instant,
    epoch_ms_at_origin: u64,
}

impl Clock {
    fn start() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Clock {
            origin: std::time::Instant::now(),
            epoch_ms_at_origin: u64::try_from(since_epoch.as_millis()).unwrap_or(0),
        }
    }

    fn now(self) -> broker_core::Instant {
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        broker_core::Instant::from_millis(self.epoch_ms_at_origin.saturating_add(elapsed))
    }

    fn deadline(self, at: broker_core::Instant) -> tokio::time::Instant {
        let after_origin = at.as_millis().saturating_sub(self.epoch_ms_at_origin);
        tokio::time::Instant::from_std(self.origin + Duration::from_millis(after_origin))
    }
}

/// The owner's view of one connection: kept small, because every idle connection has
/// one. The broker keeps the rest of what the transport said about the peer.
#[derive(Debug)]
struct Connection {
    outbox: Arc<Outbox>,
    /// The peer's address, for log lines after the broker has forgotten the connection.
    addr: Option<SocketAddr>,
}

impl Connection {
    /// The peer's address as the log prints it.
    fn peer(&self) -> String {
        self.addr.map_or_else(|| "-".to_owned(), |a| a.to_string())
    }
}

struct Owner {
    broker: Broker,
    clock: Clock,
    conns: HashMap<ConnId, Connection>,
    counters: EventCounters,
    events: broadcast::Sender<Arc<Event>>,
    /// Whether the detailed events are on, because someone watches `/events`.
    watching: bool,
    stopping: bool,
    /// The transport that just ended and why, until the broker's `Disconnected` for it
    /// is logged.
    closing: Option<(ConnId, Cause)>,
    /// The data dir's writer, when the broker is durable.
    store: Option<StoreWriter>,
    /// The recording and the live view's stream.
    tape: Tape,
}

impl Owner {
    fn new(
        config: Config,
        events: broadcast::Sender<Arc<Event>>,
        record: Option<(&std::path::Path, u64)>,
        live: broadcast::Sender<Arc<str>>,
    ) -> std::io::Result<Self> {
        let mut broker = Broker::new(config);
        // Detailed events cost allocations on every packet; they are only worth it while
        // someone watches /events (see `refresh_watching`).
        broker.set_events(EventConfig::QUIET);
        let tape = Tape::new(broker.config(), record, live)?;
        Ok(Owner {
            broker,
            clock: Clock::start(),
            conns: HashMap::new(),
            counters: EventCounters::default(),
            events,
            watching: false,
            stopping: false,
            closing: None,
            store: None,
            tape,
        })
    }

    /// Turns durability on: the broker recovers what the data dir holds, and from now on
    /// each acknowledgement waits for what it acknowledges to be written.
    fn recover(&mut self, data: Opened) -> std::io::Result<()> {
        let Opened {
            journal,
            entries,
            records,
            torn,
        } = data;
        if let Some(torn) = &torn {
            warn!(
                offset = torn.offset,
                bytes = torn.bytes,
                records_kept = records,
                "the journal ends with {} (a write cut short, as by a power loss): it was \
                 skipped and cut off; every whole record before it is kept",
                torn.why
            );
        }
        let now = self.clock.now();
        self.tape.record(|| Entry::Recover {
            t: now.as_millis(),
            entries: entries
                .iter()
                .map(|(k, v)| (Hex(k.clone()), Hex(v.clone())))
                .collect(),
        });
        let recovery = self.broker.recover(now, entries);
        for skipped in &recovery.skipped {
            warn!(
                key = skipped.key,
                why = skipped.why,
                "a stored entry cannot be read: skipped, and deleted"
            );
        }
        info!(
            sessions = recovery.sessions,
            messages = recovery.messages,
            retained = recovery.retained,
            expired_while_down = recovery.expired,
            journal_bytes = journal.len(),
            "recovered the data dir; acknowledgements now wait for the disk"
        );
        self.store = Some(StoreWriter::spawn(journal)?);
        Ok(())
    }

    async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        // One timer, moved only when the broker's next timeout changes: re-arming a timer
        // on every input would cost more than handling most inputs.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed = None;
        loop {
            if !self.write_next() {
                return;
            }
            let next = self.broker.poll_timeout();
            if next != armed {
                if let Some(at) = next {
                    timer.as_mut().reset(self.clock.deadline(at));
                }
                armed = next;
            }
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => self.input(input).await,
                    None => return,
                },
                written = written(&mut self.store) => {
                    if !self.stored(written) {
                        return;
                    }
                    // What arrived during the write is handled before the next batch is
                    // taken: subscribers' acknowledgements among it spare their messages
                    // a write, and the batch groups more.
                    for _ in 0..INPUT_CAPACITY {
                        match inputs.try_recv() {
                            Ok(input) => self.input(input).await,
                            Err(_) => break,
                        }
                    }
                }
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    self.guarded(None, |owner| owner.timeout(owner.clock.now()));
                }
            }
        }
    }

    /// Handles one input, and drains.
    async fn input(&mut self, input: Input) {
        match input {
            Input::Shutdown { done } => {
                self.shutdown().await;
                let _ = done.send(());
            }
            input => self.guarded(input.conn(), |owner| owner.handle(input)),
        }
    }

    /// Runs `step` and drains the broker's outputs. The broker is fuzzed not to panic on
    /// any input; should it all the same, the panic must not end the server for everyone:
    /// the connection whose input caused it is closed, the panic counted, and the loop
    /// goes on. The broker's state is memory-safe after a panic, but may be incomplete
    /// for that one step (a message routed to some subscribers and not others).
    fn guarded(&mut self, conn: Option<ConnId>, step: impl FnOnce(&mut Self)) {
        self.tape.refresh();
        let stepped = catch_unwind(AssertUnwindSafe(|| {
            step(self);
            self.drain();
        }));
        if stepped.is_ok() {
            return;
        }
        self.counters.panicked("broker");
        let Some(conn) = conn else {
            error!("the broker panicked on a timer (a bug: please report it with the panic message above)");
            return;
        };
        error!(%conn, "the broker panicked on this connection's input; closing it (a bug: please report it with the panic message above)");
        if let Some(connection) = self.conns.get(&conn) {
            connection.outbox.abort();
        }
        let now = self.clock.now();
        let closed = catch_unwind(AssertUnwindSafe(|| {
            self.closed(now, conn);
            self.drain();
        }));
        // Whatever the broker managed, the server forgets the connection.
        self.conns.remove(&conn);
        if closed.is_err() {
            error!(%conn, "the broker panicked again while closing the connection");
        }
    }

    fn handle(&mut self, input: Input) {
        self.refresh_watching();
        let now = self.clock.now();
        match input {
            Input::Accept {
                peer,
                outbox,
                reply,
            } => {
                if self.stopping {
                    return; // Dropping `reply` tells the connection task to give up.
                }
                let addr = peer.addr.as_deref().and_then(|a| a.parse().ok());
                let recorded = self.tape.on().then(|| (*peer).clone());
                let conn = self.broker.accept(now, *peer);
                if let Some(peer) = recorded {
                    self.tape.record(|| Entry::Accept {
                        t: now.as_millis(),
                        conn: conn.0,
                        peer,
                    });
                }
                let connection = Connection { outbox, addr };
                debug!(%conn, peer = connection.peer(), "accepted");
                self.conns.insert(conn, connection);
                if reply.send(conn).is_err() {
                    self.closed(now, conn);
                }
            }
            Input::Bytes { conn, bytes } if !self.stopping => {
                self.tape.record(|| Entry::Bytes {
                    t: now.as_millis(),
                    conn: conn.0,
                    hex: Hex(bytes.to_vec()),
                });
                self.broker.handle_bytes(now, conn, &bytes);
            }
            Input::Closed { conn, cause } if !self.stopping => {
                match cause {
                    Cause::Network => {}
                    Cause::Violation(kind) => self.counters.transport_violation(kind),
                    Cause::Panic => self.counters.panicked("connection-task"),
                }
                self.closing = Some((conn, cause));
                self.closed(now, conn);
            }
            Input::Relieved { conn } if !self.stopping => {
                debug!(%conn, "no longer congested");
                self.congestion(now, conn, false);
            }
            Input::Bytes { .. } | Input::Closed { .. } | Input::Relieved { .. } => {}
            Input::Snapshot { reply } => {
                let _ = reply.send(Snapshot {
                    stats: self.broker.stats().clone(),
                    counters: self.counters.clone(),
                    connections_open: self.conns.len(),
                    event_watchers: self.events.receiver_count(),
                });
            }
            Input::Present { reply } => {
                let present = self
                    .broker
                    .connections()
                    .into_iter()
                    .map(|c| OpenConn {
                        conn: c.conn.0,
                        client_id: c.client_id,
                        version: c.version,
                    })
                    .collect();
                let _ = reply.send(present);
            }
            Input::Recording { reply } => {
                let _ = reply.send(self.tape.flushed());
            }
            // Handled by `shutdown`, which waits for the store.
            Input::Shutdown { .. } => {}
        }
    }

    /// Closes every connection (the broker publishes their Wills), waits until what that
    /// changed is stored, and closes whatever the broker did not close itself.
    async fn shutdown(&mut self) {
        self.guarded(None, |owner| {
            owner.stopping = true;
            let now = owner.clock.now();
            let open: Vec<ConnId> = owner.conns.keys().copied().collect();
            for conn in open {
                owner.tape.record(|| Entry::CloseConnection {
                    t: now.as_millis(),
                    conn: conn.0,
                });
                owner.broker.close_connection(now, conn);
            }
        });
        while self.store.is_some() {
            if !self.write_next() {
                break;
            }
            if !self.store.as_ref().is_some_and(StoreWriter::is_writing) {
                break; // Nothing more to store.
            }
            let result = written(&mut self.store).await;
            if !self.stored(result) {
                break;
            }
        }
        for (_, connection) in self.conns.drain() {
            connection.outbox.close();
        }
        self.tape.close();
    }

    /// Hands the broker's next store batch to the writer if it is free. An empty batch
    /// needs no disk, and is reported stored at once. False if the writer has failed.
    fn write_next(&mut self) -> bool {
        loop {
            let Some(store) = self.store.as_mut() else {
                return true;
            };
            if store.is_writing() {
                return true;
            }
            let batch = self.broker.poll_store();
            self.tape.record(|| Entry::Store {
                batch: batch.as_ref().map(|b| (b.seq, b.changes.len())),
            });
            let Some(batch) = batch else {
                return true;
            };
            if batch.changes.is_empty() {
                let seq = batch.seq;
                self.guarded(None, |owner| owner.handle_stored(seq));
                continue;
            }
            let written = store.write(batch);
            return store_ok(written);
        }
    }

    /// The writer finished a batch: what waited for it goes out.
    fn stored(&mut self, written: Result<crate::store_writer::Written, String>) -> bool {
        let written = written.map(|w| {
            self.counters.stored(w.changes, w.took);
            self.guarded(None, |owner| owner.handle_stored(w.seq));
        });
        store_ok(written)
    }

    /// Turns the detailed events on while someone watches `/events`, off when nobody does.
    /// Checked once per input, so a watcher that just arrived sees events from the next
    /// input on; with no input, the broker has nothing to say anyway.
    fn refresh_watching(&mut self) {
        let watching = self.events.receiver_count() > 0;
        if watching != self.watching {
            self.watching = watching;
            let events = if watching {
                EventConfig {
                    packets: true,
                    deliveries: true,
                }
            } else {
                EventConfig::QUIET
            };
            let t = self.clock.now().as_millis();
            self.tape.record(|| Entry::Events {
                t,
                packets: events.packets,
                deliveries: events.deliveries,
            });
            self.broker.set_events(events);
        }
    }

    // Each broker input the owner makes in more than one place, recorded first.

    fn closed(&mut self, now: Instant, conn: ConnId) {
        self.tape.record(|| Entry::Closed {
            t: now.as_millis(),
            conn: conn.0,
        });
        self.broker.handle_closed(now, conn);
    }

    fn congestion(&mut self, now: Instant, conn: ConnId, congested: bool) {
        self.tape.record(|| Entry::Congestion {
            t: now.as_millis(),
            conn: conn.0,
            congested,
        });
        self.broker.handle_congestion(now, conn, congested);
    }

    fn timeout(&mut self, now: Instant) {
        self.tape.record(|| Entry::Timeout { t: now.as_millis() });
        self.broker.handle_timeout(now);
    }

    fn handle_stored(&mut self, seq: u64) {
        let t = self.clock.now().as_millis();
        self.tape.record(|| Entry::Stored { t, seq });
        self.broker.handle_stored(seq);
    }

    /// The drain contract: take every output the last input caused.
    fn drain(&mut self) {
        // The time notes carry; only read when something records them.
        let now = self
            .tape
            .on()
            .then(|| self.clock.now().as_millis())
            .unwrap_or(0);
        while let Some(output) = self.broker.poll_output() {
            self.tape.output(&output, now, self.broker.config());
            match output {
                Output::Transmit {
                    conn,
                    bytes,
                    droppable,
                } => self.transmit(conn, bytes, droppable),
                // Every connection ends with one `Close`, whoever ended it: the server
                // forgets it here. If its transport already went away, closing the
                // outbox asks nothing of a task that has ended.
                Output::Close { conn, .. } => {
                    if let Some(connection) = self.conns.remove(&conn) {
                        connection.outbox.close();
                    }
                }
                Output::Event(event) => self.event(*event),
                Output::PauseReading { conn } | Output::ResumeReading { conn } => {
                    let pause = matches!(output, Output::PauseReading { .. });
                    if let Some(connection) = self.conns.get(&conn) {
                        connection.outbox.pause_reading(pause);
                    }
                    if pause {
                        debug!(%conn, "not reading: the publisher's subscribers are behind");
                        self.counters.reading_paused();
                    }
                }
            }
        }
        self.tape.write();
    }

    fn transmit(&mut self, conn: ConnId, bytes: Bytes, droppable: bool) {
        let Some(connection) = self.conns.get(&conn) else {
            return; // Closed by the server while the broker still had bytes for it.
        };
        match connection.outbox.push(bytes, droppable) {
            Ok(Pushed::Queued) => {}
            Ok(Pushed::Dropped) => {
                debug!(%conn, "QoS 0 message dropped: the connection is congested");
                self.counters.dropped(&DropReason::SlowConsumer);
            }
            Ok(Pushed::Congested) => {
                debug!(%conn, "congested: the client reads more slowly than it is sent to");
                self.counters.congested();
                self.congestion(self.clock.now(), conn, true);
            }
            Err(Overflow) => {
                warn!(
                    %conn,
                    peer = connection.peer(),
                    "closing a connection that reads too slowly (outgoing queue full)"
                );
                connection.outbox.abort();
                self.counters.slow_consumer_disconnected();
                // To the broker this is a transport that went away: its Will is published.
                self.closed(self.clock.now(), conn);
            }
        }
    }

    fn event(&mut self, event: Event) {
        self.counters.observe(&event);
        match &event {
            Event::Connected {
                conn,
                client_id,
                clean_session,
                session_present,
                keep_alive,
                version,
            } => {
                let peer = self.broker.peer(*conn);
                info!(
                    %conn,
                    client_id,
                    mqtt = version.name(),
                    peer = peer.and_then(|p| p.addr.as_deref()).unwrap_or("-"),
                    principal = peer.and_then(|p| p.principal.as_deref()).unwrap_or("-"),
                    clean_session,
                    session_present,
                    keep_alive,
                    "connected"
                );
            }
            Event::Disconnected {
                conn,
                client_id,
                reason,
            } => {
                // One line per connection, in words, so the transport's part in the end
                // goes in it too. The connection's entry goes at its `Output::Close`,
                // which follows this event.
                let mut why = reason.describe(self.broker.config());
                match self.closing.take() {
                    Some((closing, Cause::Violation(kind))) if closing == *conn => {
                        why.push_str(&format!(" ({kind})"));
                    }
                    Some((closing, Cause::Panic)) if closing == *conn => {
                        why.push_str(" (the connection's task panicked)");
                    }
                    _ => {}
                }
                let peer = self.conns.get(conn).map(Connection::peer);
                // The AWS reason is what AWS IoT's lifecycle events would say: only
                // meaningful under its profile.
                let aws_reason =
                    (self.broker.config().profile == Profile::AwsIot).then(|| reason.aws_reason());
                info!(
                    %conn,
                    client_id = client_id.as_deref().unwrap_or("-"),
                    peer = peer.as_deref().unwrap_or("-"),
                    reason = %reason.label(),
                    aws_reason = %aws_reason.unwrap_or("-"),
                    why,
                    "disconnected"
                );
            }
            Event::SlowConsumer { client_id, slow } => {
                let timeout = self.broker.config().slow_consumer_timeout_ms;
                if *slow {
                    warn!(
                        client_id,
                        timeout_ms = timeout,
                        "slow consumer: publishers waited on it and it read nothing; they no \
                         longer wait, and its queue past max_queued is dropped"
                    );
                } else {
                    info!(
                        client_id,
                        "slow consumer caught up: backpressure applies again"
                    );
                }
            }
            Event::PolicyDecision {
                conn,
                client_id,
                decision,
            } if !decision.allowed => {
                let statement = decision.describe();
                let conn = conn.map_or_else(|| "-".to_owned(), |c| c.to_string());
                // A refused connect, publish or subscribe is what a user debugging a policy
                // looks for. A refused receive is silent by design and can recur for every
                // message, so it is only logged when asked for.
                if decision.action == Action::Receive {
                    debug!(
                        %conn,
                        client_id,
                        resource = decision.resource,
                        statement,
                        "policy denied iot:Receive"
                    );
                } else {
                    info!(
                        %conn,
                        client_id,
                        action = decision.action.name(),
                        resource = decision.resource,
                        statement,
                        "policy denied"
                    );
                }
            }
            _ => {}
        }
        if self.watching {
            // An error only means the last watcher left since the check; nobody misses it.
            let _ = self.events.send(Arc::new(event));
        }
    }
}

/// False, once logged, if the store failed: that stops the server, which could no longer
/// keep the promise of an acknowledgement.
fn store_ok(result: Result<(), String>) -> bool {
    if let Err(err) = result {
        error!(
            err,
            "cannot write to the data dir: stopping, since no acknowledgement can be kept"
        );
        return false;
    }
    true
}

/// The store's next finished write; never ready without a store or a write in progress.
async fn written(store: &mut Option<StoreWriter>) -> Result<crate::store_writer::Written, String> {
    match store {
        Some(store) => store.written().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "owner_tests.rs"]
mod tests;

//! Hostile clients, and what a test needs to judge how the server treated them.
//!
//! - [`RawClient`]: one connection over TCP or WebSocket that sends exactly the bytes a
//!   test chooses (no MQTT library would send malformed packets), and reports how the
//!   server ended it.
//! - Packet builders ([`packet`], [`connect`], ...) for writing malformed packets by hand.
//! - [`Metrics`]: `/metrics` parsed, compared before and after, with waits that time out.
//! - Log checks: the server's one `disconnected` line per connection, found by the peer
//!   address the server logs (the client socket's local address).
//! - [`Bystander`]: a well-behaved QoS 1 subscriber and publisher that must go on being
//!   served, and miss nothing, whatever the hostile clients do.
//! - [`memory_kib`]: a process's memory use, from `/proc`.
//! - [`Case`] and [`play`]: a table of hostile clients played one by one against a
//!   server, each judged by what it got back, the log and `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use futures_util::{SinkExt, StreamExt};
use rumqttc::{Packet, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::http::get;
use crate::mqtt::{options, Client, Via};
use crate::server::Server;
use crate::TIMEOUT;

/// How a hostile client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The `--mqtt` listener.
    Tcp,
    /// `ws://<http>/mqtt`, offering the `mqtt` subprotocol, MQTT in binary frames.
    WebSocket,
}

impl Transport {
    /// Where a well-behaved `rumqttc` client reaches the same listener.
    pub fn via(self, server: &Server) -> Via {
        match self {
            Transport::Tcp => Via::Tcp(server.mqtt),
            Transport::WebSocket => Via::WebSocket(server.http),
        }
    }

    /// A short name for client ids and topics.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::WebSocket => "ws",
        }
    }
}

/// One raw connection to the server.
#[derive(Debug)]
pub struct RawClient {
    inner: Inner,
    peer: String,
}

#[derive(Debug)]
enum Inner {
    Tcp(TcpStream),
    WebSocket(Box<WebSocketStream<TcpStream>>),
}

/// How the server ended a connection, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The stream ended cleanly (TCP FIN, or the WebSocket's TCP stream without a close
    /// frame after the client's own).
    Eof,
    /// The server sent a WebSocket close frame with this code (or none).
    CloseFrame(Option<u16>),
    /// The connection was reset or otherwise failed.
    Failed(String),
}

/// Everything the server sent until it closed the connection, and how it closed it.
#[derive(Debug)]
pub struct Closed {
    pub received: Vec<u8>,
    pub ending: Ending,
}

impl RawClient {
    /// Opens a connection over `transport`. Over WebSocket the handshake offers `mqtt`
    /// and checks that the server selected it.
    pub async fn open(server: &Server, transport: Transport) -> Result<RawClient> {
        match transport {
            Transport::Tcp => {
                let stream = tcp(server.mqtt).await?;
                let peer = stream.local_addr()?.to_string();
                Ok(RawClient {
                    inner: Inner::Tcp(stream),
                    peer,
                })
            }
            Transport::WebSocket => {
                let stream = tcp(server.http).await?;
                let peer = stream.local_addr()?.to_string();
                let (socket, selected) = ws_handshake(server.http, stream, Some("mqtt"))
                    .await?
                    .map_err(|status| anyhow!("the WebSocket handshake got HTTP {status}"))?;
                ensure!(
                    selected.as_deref() == Some("mqtt"),
                    "the server selected subprotocol {selected:?}, not mqtt"
                );
                Ok(RawClient {
                    inner: Inner::WebSocket(Box::new(socket)),
                    peer,
                })
            }
        }
    }

    /// The client's address as the server logs it (`peer="127.0.0.1:40000"`).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Sends `bytes`: as they are over TCP, as one binary frame over WebSocket.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Tcp(stream) => stream.write_all(bytes).await?,
            Inner::WebSocket(socket) => socket.send(Message::binary(bytes.to_vec())).await?,
        }
        Ok(())
    }

    /// Sends a WebSocket text frame, which MQTT over WebSocket forbids (MQTT-6.0.0-1).
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        match &mut self.inner {
            Inner::Tcp(_) => bail!("a text frame needs a WebSocket"),
            Inner::WebSocket(socket) => socket.send(Message::text(text.to_owned())).await?,
        }
        Ok(())
    }

    /// Closes the client's sending side: a TCP FIN, or a WebSocket close frame. Whatever
    /// packet was half sent stays unfinished.
    pub async fn finish(&mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Tcp(stream) => stream.shutdown().await?,
            Inner::WebSocket(socket) => WebSocketStream::close(&mut **socket, None).await?,
        }
        Ok(())
    }

    /// Reads exactly `len` bytes, however they were split or framed.
    pub async fn read_exact(&mut self, len: usize) -> Result<Vec<u8>> {
        let read = async {
            let mut bytes = Vec::new();
            while bytes.len() < len {
                match self.next_bytes().await? {
                    Some(chunk) => bytes.extend_from_slice(&chunk),
                    None => bail!("closed after {} of {len} bytes: {bytes:02x?}", bytes.len()),
                }
            }
            ensure!(bytes.len() == len, "expected {len} bytes, got {bytes:02x?}");
            Ok(bytes)
        };
        tokio::time::timeout(TIMEOUT, read)
            .await
            .map_err(|_| anyhow!("{len} bytes did not arrive within {TIMEOUT:?}"))?
    }

    /// Reads until the server closes the connection; fails if it is still open after
    /// [`TIMEOUT`].
    pub async fn until_closed(&mut self) -> Result<Closed> {
        let deadline = Instant::now() + TIMEOUT;
        self.until_closed_by(deadline).await
    }

    /// Reads until the server closes the connection, or fails at `deadline`.
    pub async fn until_closed_by(&mut self, deadline: Instant) -> Result<Closed> {
        let mut received = Vec::new();
        loop {
            let next = tokio::time::timeout_at(deadline, self.next_event())
                .await
                .map_err(|_| {
                    anyhow!(
                        "the server left the connection open (received so far: {received:02x?})"
                    )
                })?;
            match next {
                Event::Bytes(bytes) => received.extend_from_slice(&bytes),
                Event::Ended(ending) => return Ok(Closed { received, ending }),
            }
        }
    }

    /// Sends `first`, then up to `limit` bytes of junk in 64 KiB writes (binary frames
    /// over WebSocket), stopping as soon as the server closes the connection. Returns how
    /// many junk bytes had been written when the close was seen, and the close.
    pub async fn flood(&mut self, first: &[u8], limit: usize) -> Result<(usize, Closed)> {
        const CHUNK: usize = 64 * 1024;
        let junk = vec![0x55u8; CHUNK];
        self.send(first).await?;
        let mut written = 0usize;
        let mut received = Vec::new();
        let ending = match &mut self.inner {
            Inner::Tcp(stream) => {
                let (mut reader, mut writer) = stream.split();
                let mut buf = vec![0u8; 16 * 1024];
                let mut writing = true;
                loop {
                    tokio::select! {
                        // Checking for the close first stops the flood at once.
                        biased;
                        read = reader.read(&mut buf) => match read {
                            Ok(0) => break Ending::Eof,
                            Ok(n) => received.extend_from_slice(&buf[..n]),
                            Err(err) => break Ending::Failed(err.to_string()),
                        },
                        wrote = writer.write_all(&junk), if writing => match wrote {
                            Ok(()) => {
                                written += CHUNK;
                                writing = written < limit;
                            }
                            // A reset shows on the read side too; stop writing.
                            Err(_) => writing = false,
                        },
                        () = tokio::time::sleep(TIMEOUT), if !writing => {
                            bail!("the server left the connection open after {written} bytes");
                        }
                    }
                }
            }
            Inner::WebSocket(socket) => {
                let (mut sink, mut stream) = socket.as_mut().split();
                let mut writing = true;
                loop {
                    tokio::select! {
                        biased;
                        message = stream.next() => match message {
                            None => break Ending::Eof,
                            Some(Ok(Message::Close(frame))) => {
                                break Ending::CloseFrame(frame.map(|f| u16::from(f.code)))
                            }
                            Some(Ok(Message::Binary(bytes))) => received.extend_from_slice(&bytes),
                            Some(Ok(_)) => {}
                            Some(Err(err)) => break ws_ending(err),
                        },
                        sent = sink.send(Message::binary(junk.clone())), if writing => match sent {
                            Ok(()) => {
                                written += CHUNK;
                                writing = written < limit;
                            }
                            Err(_) => writing = false,
                        },
                        () = tokio::time::sleep(TIMEOUT), if !writing => {
                            bail!("the server left the connection open after {written} bytes");
                        }
                    }
                }
            }
        };
        Ok((written, Closed { received, ending }))
    }

    /// Gives up the WebSocket layer: the same connection, from now on written and read as
    /// raw TCP, for sending WebSocket frames by hand.
    pub fn without_websocket(self) -> RawClient {
        let stream = match self.inner {
            Inner::Tcp(stream) => stream,
            Inner::WebSocket(socket) => socket.into_inner(),
        };
        RawClient {
            inner: Inner::Tcp(stream),
            peer: self.peer,
        }
    }

    async fn next_bytes(&mut self) -> Result<Option<Vec<u8>>> {
        match self.next_event().await {
            Event::Bytes(bytes) => Ok(Some(bytes)),
            Event::Ended(Ending::Failed(err)) => bail!("the connection failed: {err}"),
            Event::Ended(_) => Ok(None),
        }
    }

    async fn next_event(&mut self) -> Event {
        match &mut self.inner {
            Inner::Tcp(stream) => {
                let mut buf = vec![0u8; 16 * 1024];
                match stream.read(&mut buf).await {
                    Ok(0) => Event::Ended(Ending::Eof),
                    Ok(n) => {
                        buf.truncate(n);
                        Event::Bytes(buf)
                    }
                    Err(err) => Event::Ended(Ending::Failed(err.to_string())),
                }
            }
            Inner::WebSocket(socket) => loop {
                match socket.next().await {
                    None => return Event::Ended(Ending::Eof),
                    Some(Ok(Message::Binary(bytes))) => return Event::Bytes(bytes.to_vec()),
                    Some(Ok(Message::Close(frame))) => {
                        return Event::Ended(Ending::CloseFrame(frame.map(|f| u16::from(f.code))))
                    }
                    // Pings are answered by tungstenite; nothing else is MQTT.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Text(text))) => {
                        return Event::Ended(Ending::Failed(format!(
                            "the server sent a text frame: {text}"
                        )))
                    }
                    Some(Err(err)) => return Event::Ended(ws_ending(err)),
                }
            },
        }
    }
}

enum Event {
    Bytes(Vec<u8>),
    Ended(Ending),
}

/// A WebSocket error as an ending: the stream ending after the client's own close frame,
/// or without one, is an end like a FIN; anything else is a failure.
fn ws_ending(err: tungstenite::Error) -> Ending {
    match err {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => Ending::Eof,
        other => Ending::Failed(other.to_string()),
    }
}

async fn tcp(addr: SocketAddr) -> Result<TcpStream> {
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connecting to {addr} timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A WebSocket handshake for `/mqtt` on `stream`, offering `subprotocol` (or none).
/// Returns the socket and the subprotocol the server selected, or the HTTP status of a
/// refusal.
pub async fn ws_handshake(
    http: SocketAddr,
    stream: TcpStream,
    subprotocol: Option<&str>,
) -> Result<std::result::Result<(WebSocketStream<TcpStream>, Option<String>), u16>> {
    let mut request = format!("ws://{http}/mqtt").into_client_request()?;
    if let Some(subprotocol) = subprotocol {
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(subprotocol)?,
        );
    }
    let handshake = tokio_tungstenite::client_async(request, stream);
    match tokio::time::timeout(TIMEOUT, handshake)
        .await
        .map_err(|_| anyhow!("the WebSocket handshake timed out"))?
    {
        Ok((socket, response)) => {
            let selected = response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            Ok(Ok((socket, selected)))
        }
        Err(tungstenite::Error::Http(response)) => Ok(Err(response.status().as_u16())),
        Err(err) => Err(err).context("the WebSocket handshake failed"),
    }
}

/// Opens a TCP connection to the HTTP listener and attempts the `/mqtt` handshake with
/// `subprotocol`; returns the client's address (as the server logs it) and the outcome.
pub async fn try_ws_handshake(
    server: &Server,
    subprotocol: Option<&str>,
) -> Result<(String, std::result::Result<Option<String>, u16>)> {
    let stream = tcp(server.http).await?;
    let peer = stream.local_addr()?.to_string();
    let outcome = ws_handshake(server.http, stream, subprotocol)
        .await?
        .map(|(_socket, selected)| selected);
    Ok((peer, outcome))
}

// ----- packets --------------------------------------------------------------------

/// A packet: the fixed header's first byte, the remaining length (encoded as section
/// 2.2.3 says), then `body`.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string or binary field (section 1.5.3), bytes as given.
pub fn field(bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A CONNECT built field by field: protocol name and level, connect flags, keep-alive
/// 60 s, then `payload` (client id and whatever the flags announce), bytes as given.
pub fn connect_with(protocol: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = field(protocol);
    body.push(level);
    body.push(flags);
    body.extend_from_slice(&60u16.to_be_bytes());
    body.extend_from_slice(payload);
    packet(0x10, &body)
}

/// A valid CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s.
pub fn connect(client_id: &str) -> Vec<u8> {
    connect_with(b"MQTT", 4, 0x02, &field(client_id.as_bytes()))
}

/// A CONNACK with `code` and session present 0.
pub fn connack(code: u8) -> [u8; 4] {
    [0x20, 2, 0, code]
}

// ----- metrics --------------------------------------------------------------------

/// One reading of `/metrics`: each series (`name{labels}`, as rendered) and its value.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    series: BTreeMap<String, u64>,
}

/// The families whose changes the hostile-input tests account for exactly: every close,
/// refusal, violation, transport error and fired timer.
pub const WATCHED: [&str; 6] = [
    "brokerlab_protocol_violations_total",
    "brokerlab_disconnects_total",
    "brokerlab_timers_fired_total",
    "brokerlab_connections_refused_total",
    "brokerlab_websocket_handshakes_refused_total",
    "brokerlab_transport_errors_total",
];

/// The series `family{key="value"}`, as the server renders it.
pub fn series(family: &str, key: &str, value: &str) -> String {
    format!("{family}{{{key}=\"{value}\"}}")
}

impl Metrics {
    /// Reads `/metrics` now.
    pub async fn fetch(server: &Server) -> Result<Metrics> {
        let response = get(server.http, "/metrics").await?;
        ensure!(
            response.status == 200,
            "/metrics answered {}",
            response.status
        );
        let mut series = BTreeMap::new();
        for line in response.body.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (name, value) = line
                .rsplit_once(' ')
                .ok_or_else(|| anyhow!("bad metrics line `{line}`"))?;
            let value: f64 = value
                .parse()
                .with_context(|| format!("bad value in `{line}`"))?;
            // Every series the tests read is a counter or gauge of whole numbers.
            series.insert(name.to_owned(), value as u64);
        }
        Ok(Metrics { series })
    }

    /// A series' value; 0 when the server has not rendered it (yet).
    pub fn get(&self, series: &str) -> u64 {
        self.series.get(series).copied().unwrap_or(0)
    }

    /// The sum of a family's series.
    pub fn family(&self, family: &str) -> u64 {
        self.series
            .iter()
            .filter(|(name, _)| family_of(name) == family)
            .map(|(_, value)| value)
            .sum()
    }

    /// Every series of `families` that grew since `before`, with how much.
    pub fn changes_since(&self, before: &Metrics, families: &[&str]) -> BTreeMap<String, u64> {
        self.series
            .iter()
            .filter(|(name, _)| families.contains(&family_of(name)))
            .filter_map(|(name, value)| {
                let delta = value.saturating_sub(before.get(name));
                (delta > 0).then(|| (name.clone(), delta))
            })
            .collect()
    }

    /// Waits until `/metrics` satisfies `ready`, polling (metrics have no push channel),
    /// and returns that reading; at [`TIMEOUT`], returns the last reading anyway, so that
    /// the caller can say what it shows.
    pub async fn wait_for(server: &Server, ready: impl Fn(&Metrics) -> bool) -> Result<Metrics> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let metrics = Metrics::fetch(server).await?;
            if ready(&metrics) {
                return Ok(metrics);
            }
            if Instant::now() >= deadline {
                return Ok(metrics);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the families of `expected` have grown by at least their expected
    /// totals since `before`, then checks that the [`WATCHED`] families changed by exactly
    /// `expected`: no more, no less, and under the expected labels.
    pub async fn expect_changes(
        server: &Server,
        before: &Metrics,
        expected: &BTreeMap<String, u64>,
    ) -> Result<Metrics> {
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for (name, delta) in expected {
            *totals.entry(family_of(name)).or_default() += delta;
        }
        let after = Metrics::wait_for(server, |now| {
            totals.iter().all(|(family, total)| {
                now.family(family).saturating_sub(before.family(family)) >= *total
            })
        })
        .await?;
        let changes = after.changes_since(before, &WATCHED);
        ensure!(
            &changes == expected,
            "/metrics changed by {changes:?}, expected {expected:?}"
        );
        Ok(after)
    }
}

fn family_of(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

// ----- log ------------------------------------------------------------------------

/// The server's `disconnected` lines for the connection from `peer`.
pub fn disconnected_lines(server: &Server, peer: &str) -> Vec<String> {
    let field = format!("peer=\"{peer}\"");
    server
        .log()
        .into_iter()
        .filter(|line| line.contains(": disconnected ") && line.contains(&field))
        .collect()
}

/// Waits for the `disconnected` line of the connection from `peer`.
pub async fn wait_for_disconnected(server: &Server, peer: &str) -> Result<String> {
    let field = format!("peer=\"{peer}\"");
    server
        .wait_for_log(|line| line.contains(": disconnected ") && line.contains(&field))
        .await
        .with_context(|| format!("no `disconnected` line for {peer}"))
}

/// Checks that the connection from `peer` was logged as disconnected exactly once.
pub fn expect_one_disconnected(server: &Server, peer: &str) -> Result<String> {
    let lines = disconnected_lines(server, peer);
    match lines.as_slice() {
        [line] => Ok(line.clone()),
        _ => bail!(
            "{} `disconnected` lines for {peer}: {lines:#?}",
            lines.len()
        ),
    }
}

// ----- bystanders -----------------------------------------------------------------

/// A well-behaved pair of clients: a QoS 1 subscriber and a publisher of numbered QoS 1
/// messages, both connected throughout. Every message published must reach the
/// subscriber, however the server is attacked meanwhile.
#[derive(Debug)]
pub struct Bystander {
    subscriber: Client,
    publisher: Client,
    topic: String,
    published: u32,
}

impl Bystander {
    /// Connects both clients over `via`, the subscriber to `bystander/<name>/#` at QoS 1.
    pub async fn start(via: &Via, name: &str) -> Result<Bystander> {
        let (mut subscriber, _) = Client::connect(options(&format!("{name}-sub"), via)).await?;
        subscriber
            .client
            .subscribe(format!("bystander/{name}/#"), QoS::AtLeastOnce)
            .await?;
        subscriber.expect_suback().await?;
        let (publisher, _) = Client::connect(options(&format!("{name}-pub"), via)).await?;
        Ok(Bystander {
            subscriber,
            publisher,
            topic: format!("bystander/{name}/n"),
            published: 0,
        })
    }

    /// Publishes the next number at QoS 1 and waits for its PUBACK.
    pub async fn publish_next(&mut self) -> Result<()> {
        let n = self.published;
        self.publisher
            .client
            .publish(&self.topic, QoS::AtLeastOnce, false, n.to_string())
            .await?;
        self.publisher
            .expect(|packet| matches!(packet, Packet::PubAck(_)))
            .await
            .with_context(|| format!("the bystander's message {n} was not acknowledged"))?;
        self.published += 1;
        Ok(())
    }

    /// Waits until the subscriber has received every number published (QoS 1: at
    /// least once each, so duplicates are allowed), and nothing else.
    pub async fn expect_all_received(&mut self) -> Result<()> {
        let mut missing: BTreeSet<u32> = (0..self.published).collect();
        while let Some(&first) = missing.first() {
            let message = self.subscriber.expect_publish().await.with_context(|| {
                format!(
                    "the bystander subscriber is missing {} of {} messages, from {first}",
                    missing.len(),
                    self.published
                )
            })?;
            ensure!(
                message.topic == self.topic,
                "unexpected topic {}",
                message.topic
            );
            let n: u32 = std::str::from_utf8(&message.payload)?.parse()?;
            ensure!(n < self.published, "received {n}, never published");
            missing.remove(&n);
        }
        Ok(())
    }
}

// ----- memory ---------------------------------------------------------------------

/// A field of `/proc/<pid>/status` in KiB: `VmRSS` (resident now) or `VmHWM` (the
/// resident peak).
pub fn memory_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let prefix = format!("{field}:");
    let line = status
        .lines()
        .find(|line| line.starts_with(&prefix))
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))?;
    line[prefix.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("bad line `{line}`"))
}

// ----- cases ----------------------------------------------------------------------

/// What a hostile client does after connecting (and after its valid CONNECT, if any).
#[derive(Clone, Debug)]
pub enum Step {
    /// Bytes: as they are over TCP, in one binary frame over WebSocket.
    Bytes(Vec<u8>),
    /// A WebSocket text frame.
    Text(&'static str),
    /// The client closes its sending side (FIN, or a WebSocket close frame).
    CloseWrite,
}

/// What the server must answer before it closes the connection.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// Nothing: it just closes.
    Closed,
    /// A CONNACK with this return code, then the close.
    ConnAck(u8),
}

/// One hostile client: what it sends, and how the server must treat it.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    /// Whether a valid CONNECT, answered by CONNACK 0x00, comes first.
    pub connected: bool,
    pub steps: Vec<Step>,
    pub outcome: Outcome,
    /// The `reason` of `brokerlab_disconnects_total`, which the log line shows too.
    pub reason: &'static str,
    /// The `statement` of `brokerlab_protocol_violations_total`, when the input breaks one.
    pub violation: Option<&'static str>,
    /// The `kind` of `brokerlab_transport_errors_total`, for input the transport refuses.
    pub transport_error: Option<&'static str>,
    /// The WebSocket close code the server must send, when it matters.
    pub close_code: Option<u16>,
}

/// Starts `binary serve` with `args`, then plays `cases` one after another over
/// `transport`, each on its own connection, while bystanders on the same transport
/// publish one message per case. Every case is played, whatever the others did, and
/// every failure is reported together.
///
/// For each case: the server closes the connection (after the CONNACK the case names,
/// and nothing else); the log has one `disconnected` line for it, with the case's reason;
/// the [`WATCHED`] families of `/metrics` change by exactly the case's close, violation
/// and transport error. At the end the bystander has received every message, each
/// connection is still logged exactly once, and only the two bystanders are connected.
pub async fn play(binary: &str, args: &[&str], transport: Transport, cases: &[Case]) -> Result<()> {
    let server = Server::start(binary, args).await?;
    let name = format!("{}-bystander", transport.name());
    let mut bystander = Bystander::start(&transport.via(&server), &name).await?;
    let mut failures = Vec::new();
    let mut peers = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        match play_case(&server, transport, &mut bystander, index, case).await {
            Ok(peer) => peers.push((case.name, peer)),
            Err(err) => failures.push(format!("{}: {err:#}", case.name)),
        }
    }
    if let Err(err) = bystander.expect_all_received().await {
        failures.push(format!("bystander: {err:#}"));
    }
    // Checked again now that everything after each case has been logged too: a second
    // line for a connection would be as wrong as none.
    for (name, peer) in &peers {
        if let Err(err) = expect_one_disconnected(&server, peer) {
            failures.push(format!("{name}: {err:#}"));
        }
    }
    if failures.is_empty() {
        // Every hostile connection is gone from the server; the two bystanders remain.
        let open = Metrics::fetch(&server)
            .await?
            .get("brokerlab_connections_open");
        ensure!(
            open == 2,
            "{open} connections open, expected the 2 bystanders"
        );
        return Ok(());
    }
    bail!(
        "{} of {} cases failed over {transport:?}, serve {args:?}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    )
}

/// Plays one case; returns the hostile connection's peer address.
async fn play_case(
    server: &Server,
    transport: Transport,
    bystander: &mut Bystander,
    index: usize,
    case: &Case,
) -> Result<String> {
    let before = Metrics::fetch(server).await?;
    let mut client = RawClient::open(server, transport).await?;
    let peer = client.peer().to_owned();
    if case.connected {
        client.send(&connect(&format!("hostile-{index}"))).await?;
        let ack = client.read_exact(4).await?;
        ensure!(ack == connack(0), "the valid CONNECT got {ack:02x?}");
    }
    for step in &case.steps {
        match step {
            Step::Bytes(bytes) => client.send(bytes).await?,
            Step::Text(text) => client.send_text(text).await?,
            Step::CloseWrite => client.finish().await?,
        }
    }
    // The bystanders' traffic goes on while the server deals with the hostile input.
    bystander.publish_next().await?;

    let closed = client.until_closed().await?;
    match case.outcome {
        Outcome::Closed => ensure!(
            closed.received.is_empty(),
            "the server sent {:02x?} before closing",
            closed.received
        ),
        Outcome::ConnAck(code) => ensure!(
            closed.received == connack(code),
            "expected CONNACK {code:#04x} then the close, got {:02x?}",
            closed.received
        ),
    }
    if let Ending::Failed(err) = &closed.ending {
        bail!("the connection failed instead of closing cleanly: {err}");
    }
    if let Some(code) = case.close_code {
        ensure!(
            closed.ending == Ending::CloseFrame(Some(code)),
            "expected a close frame with code {code}, got {:?}",
            closed.ending
        );
    }

    let line = wait_for_disconnected(server, &peer).await?;
    ensure!(
        line.contains(&format!("reason={}", case.reason)),
        "expected reason {} in `{line}`",
        case.reason
    );
    let mut expected = BTreeMap::from([(
        series("brokerlab_disconnects_total", "reason", case.reason),
        1,
    )]);
    if let Some(statement) = case.violation {
        expected.insert(
            series(
                "brokerlab_protocol_violations_total",
                "statement",
                statement,
            ),
            1,
        );
    }
    if let Some(kind) = case.transport_error {
        expected.insert(series("brokerlab_transport_errors_total", "kind", kind), 1);
    }
    Metrics::expect_changes(server, &before, &expected).await?;
    expect_one_disconnected(server, &peer)?;
    Ok(peer)
}

/// Whether `line` names `peer` (so that port 4000 does not match port 40001).
pub fn mentions(line: &str, peer: &str) -> bool {
    line.match_indices(peer)
        .any(|(at, _)| !line[at + peer.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

//! Hostile connections against the real server: clients that claim huge packets and
//! keep sending, and crowds of connections that never finish CONNECT.
//!
//! What this proves:
//!
//! - A client that announces a 256 MB packet (or a remaining length of five bytes, or a
//!   WebSocket frame of 256 MB) and then keeps writing is cut off as soon as the header
//!   arrives, long before it has sent what it claimed, and the server's memory does not
//!   grow with what it sent: the packet is refused from its header, never buffered.
//! - Hundreds of connections that open and never finish CONNECT (some silent, some with a
//!   CONNECT begun and abandoned) are each closed at the CONNECT deadline, no earlier and
//!   not much later, logged once and counted; new clients are served while they wait.
//!
//! In every test a bystander QoS 1 subscriber must receive every message a bystander
//! publisher sends during the attack. Malformed packets one by one are in
//! `hostile_input.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use brokerlab_tests::hostile::{
    connack, connect, disconnected_lines, expect_one_disconnected, series, wait_for_disconnected,
    Bystander, Closed, Ending, Metrics, RawClient, Transport,
};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::proc_status::memory_kib;
use brokerlab_tests::server::Server;
use rumqttc::QoS;
use tokio::task::JoinSet;
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// How much junk a client claiming a huge packet sends at most after the header: a
/// quarter of the 256 MB it claims. A server that buffered it would grow by this much.
const JUNK_LIMIT: usize = 64 * 1024 * 1024;

/// How much the server's resident memory may grow while fending off such a client:
/// generous for allocator noise, far below what buffering the junk would cost.
const MEMORY_BUDGET_KIB: u64 = 16 * 1024;

/// A PUBLISH fixed header announcing 268,435,455 bytes, the most four length bytes say.
const CLAIM_256_MB: [u8; 5] = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];

/// A PUBLISH fixed header whose remaining length goes on to a fifth byte (section 2.2.3).
const LENGTH_OF_5_BYTES: [u8; 6] = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];

#[tokio::test]
async fn a_256_mb_claim_over_tcp_is_cut_off_without_buffering() -> Result<()> {
    huge_claim(
        Transport::Tcp,
        &CLAIM_256_MB,
        "configured maximum packet size",
    )
    .await
}

#[tokio::test]
async fn a_256_mb_claim_over_websocket_is_cut_off_without_buffering() -> Result<()> {
    huge_claim(
        Transport::WebSocket,
        &CLAIM_256_MB,
        "configured maximum packet size",
    )
    .await
}

#[tokio::test]
async fn a_5_byte_remaining_length_over_tcp_is_cut_off_without_buffering() -> Result<()> {
    huge_claim(Transport::Tcp, &LENGTH_OF_5_BYTES, "section 2.2.3").await
}

#[tokio::test]
async fn a_5_byte_remaining_length_over_websocket_is_cut_off_without_buffering() -> Result<()> {
    huge_claim(Transport::WebSocket, &LENGTH_OF_5_BYTES, "section 2.2.3").await
}

/// A connected client sends `header`, then junk as fast as it can; the broker must refuse
/// the packet from its header (breaking `statement`) and close the connection at once.
async fn huge_claim(transport: Transport, header: &[u8], statement: &str) -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let mut bystander = Bystander::start(&transport.via(&server), "claim").await?;
    let mut client = RawClient::open(&server, transport).await?;
    client.send(&connect("claimer")).await?;
    ensure!(client.read_exact(4).await? == connack(0), "CONNECT refused");
    bystander.publish_next().await?;

    let before = Metrics::fetch(&server).await?;
    let closed = flood_within_budget(&server, &mut client, &mut bystander, header).await?;
    ensure!(
        closed.received.is_empty(),
        "the server sent {:02x?}",
        closed.received
    );
    ensure!(
        matches!(closed.ending, Ending::Eof | Ending::CloseFrame(_)),
        "the connection ended with {:?}",
        closed.ending
    );

    let line = wait_for_disconnected(&server, client.peer()).await?;
    ensure!(line.contains("reason=ProtocolViolation"), "{line}");
    let expected = BTreeMap::from([
        (
            series("brokerlab_disconnects_total", "reason", "ProtocolViolation"),
            1,
        ),
        (
            series(
                "brokerlab_protocol_violations_total",
                "statement",
                statement,
            ),
            1,
        ),
    ]);
    Metrics::expect_changes(&server, &before, &expected).await?;
    expect_one_disconnected(&server, client.peer())?;
    bystander.publish_next().await?;
    bystander.expect_all_received().await
}

/// The same claim one layer down: a WebSocket frame header announcing 256 MB. The server
/// bounds frames by the largest MQTT packet, so the frame is refused from its header.
#[tokio::test]
async fn a_256_mb_websocket_frame_is_cut_off_without_buffering() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let mut bystander = Bystander::start(&Via::WebSocket(server.http), "frame").await?;
    let mut client = RawClient::open(&server, Transport::WebSocket).await?;
    client.send(&connect("framer")).await?;
    ensure!(client.read_exact(4).await? == connack(0), "CONNECT refused");
    let mut client = client.without_websocket();

    let before = Metrics::fetch(&server).await?;
    // FIN and binary opcode; masked (a client must mask), 64-bit length 2^28; the mask.
    let mut frame_header = vec![0x82, 0xFF];
    frame_header.extend_from_slice(&(256u64 * 1024 * 1024).to_be_bytes());
    frame_header.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    let closed = flood_within_budget(&server, &mut client, &mut bystander, &frame_header).await?;
    // What comes back, if anything, is a close frame (opcode 8); never MQTT.
    ensure!(
        matches!(closed.received.first(), None | Some(0x88)),
        "the server sent {:02x?}",
        closed.received
    );

    // The broker sees the transport fail: one close, and no MQTT violation.
    let line = wait_for_disconnected(&server, client.peer()).await?;
    ensure!(line.contains("reason=TransportClosed"), "{line}");
    let families = [
        "brokerlab_disconnects_total",
        "brokerlab_protocol_violations_total",
    ];
    let after = Metrics::wait_for(&server, |now| {
        now.family(families[0]) > before.family(families[0])
    })
    .await?;
    let changes = after.changes_since(&before, &families);
    let expected = BTreeMap::from([(
        series("brokerlab_disconnects_total", "reason", "TransportClosed"),
        1,
    )]);
    ensure!(changes == expected, "/metrics changed by {changes:?}");
    expect_one_disconnected(&server, client.peer())?;
    bystander.publish_next().await?;
    bystander.expect_all_received().await
}

/// The CONNECT deadline of the flood test: long enough to open every connection and serve
/// new clients before the first expires, short enough to keep the test quick.
const CONNECT_DEADLINE: Duration = Duration::from_millis(1500);

/// How late after its deadline an idle connection may be closed, on a loaded machine.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Idle connections over TCP. Each costs two file descriptors (client and server);
/// `ulimit -n` is checked before opening them.
const IDLE_TCP: usize = 300;

/// Idle connections over WebSocket (handshake done, no MQTT).
const IDLE_WEBSOCKET: usize = 10;

#[tokio::test]
async fn connections_that_never_finish_connect_are_closed_at_the_deadline() -> Result<()> {
    check_file_limit(4 * (IDLE_TCP + IDLE_WEBSOCKET))?;
    let deadline_ms = format!("connect_timeout_ms={}", CONNECT_DEADLINE.as_millis());
    let server = Server::start(BIN, &["--set", &deadline_ms]).await?;
    let mut bystander = Bystander::start(&Via::Tcp(server.mqtt), "crowd").await?;
    let before = Metrics::fetch(&server).await?;

    // Half of them say nothing at all; the other half start a CONNECT and never finish
    // it, which must not buy them more time.
    let started = Instant::now();
    let mut idle = JoinSet::new();
    let mut peers = Vec::new();
    let half_connect = connect("never-finished");
    let half_connect = &half_connect[..half_connect.len() / 2];
    for n in 0..IDLE_TCP + IDLE_WEBSOCKET {
        let transport = if n < IDLE_TCP {
            Transport::Tcp
        } else {
            Transport::WebSocket
        };
        let opened = Instant::now();
        let mut client = RawClient::open(&server, transport).await?;
        if n % 2 == 1 {
            client.send(half_connect).await?;
        }
        peers.push(client.peer().to_owned());
        let latest = opened + CONNECT_DEADLINE + DEADLINE_MARGIN;
        idle.spawn(async move {
            let closed = client.until_closed_by(latest).await;
            (client.peer().to_owned(), opened, Instant::now(), closed)
        });
        if n % 100 == 0 {
            bystander.publish_next().await?;
        }
    }

    // New clients, over both transports, connect and complete a QoS 1 round trip while
    // the crowd waits for its deadline.
    let mut fresh = Vec::new();
    for (name, via) in [
        ("fresh-tcp", Via::Tcp(server.mqtt)),
        ("fresh-ws", Via::WebSocket(server.http)),
    ] {
        let (mut client, _) = Client::connect(options(name, &via)).await?;
        let topic = format!("{name}/echo");
        client.client.subscribe(&topic, QoS::AtLeastOnce).await?;
        client.expect_suback().await?;
        client
            .client
            .publish(&topic, QoS::AtLeastOnce, false, "served")
            .await?;
        let echo = client.expect_publish().await?;
        ensure!(&echo.payload[..] == b"served", "echo {echo:?}");
        fresh.push(client);
    }
    bystander.publish_next().await?;
    let served = Instant::now();

    let mut failures = Vec::new();
    let (mut shortest, mut longest) = (Duration::MAX, Duration::ZERO);
    while let Some(joined) = idle.join_next().await {
        let (peer, opened, ended, closed) = joined.context("a watcher task failed")?;
        let waited = ended - opened;
        shortest = shortest.min(waited);
        longest = longest.max(waited);
        match closed {
            Err(err) => failures.push(format!("{peer}: {err:#}")),
            Ok(closed) if !closed.received.is_empty() => {
                failures.push(format!("{peer}: the server sent {:02x?}", closed.received))
            }
            Ok(Closed { ending, .. }) if matches!(ending, Ending::Failed(_)) => {
                failures.push(format!("{peer}: {ending:?}"))
            }
            // The server's clock counts whole milliseconds from a reading taken as it
            // accepted the connection: allow it a few of rounding.
            Ok(_) if waited + Duration::from_millis(5) < CONNECT_DEADLINE => failures.push(
                format!("{peer}: closed after {waited:?}, before the deadline"),
            ),
            Ok(_) if ended < served => failures.push(format!(
                "{peer}: closed before the new clients had been served"
            )),
            Ok(_) => {}
        }
    }
    eprintln!(
        "served {:?} after the first idle connection opened; idle connections closed after \
         {shortest:?} to {longest:?}",
        served - started
    );
    ensure!(
        failures.is_empty(),
        "{} of {} idle connections were not closed at the deadline:\n{}",
        failures.len(),
        peers.len(),
        failures.join("\n")
    );

    let idle_count = (IDLE_TCP + IDLE_WEBSOCKET) as u64;
    let expected = BTreeMap::from([
        (
            series("brokerlab_disconnects_total", "reason", "ConnectTimeout"),
            idle_count,
        ),
        (
            series("brokerlab_timers_fired_total", "timer", "ConnectDeadline"),
            idle_count,
        ),
    ]);
    let after = Metrics::expect_changes(&server, &before, &expected).await?;
    // The bystanders and the fresh clients are all that is left.
    let open = after.get("brokerlab_connections_open");
    ensure!(open == 4, "{open} connections open, expected 4");
    // One line per connection. The server logs a peer by address only, and a TCP and a
    // WebSocket connection (to different server ports) may share a local port number:
    // such a pair has two lines.
    let mut connections_by_peer: BTreeMap<&str, usize> = BTreeMap::new();
    for peer in &peers {
        *connections_by_peer.entry(peer).or_default() += 1;
    }
    for (peer, connections) in connections_by_peer {
        let lines = disconnected_lines(&server, peer);
        ensure!(
            lines.len() == connections
                && lines
                    .iter()
                    .all(|line| line.contains("reason=ConnectTimeout")),
            "{connections} connection(s) from {peer}, logged as {lines:#?}"
        );
    }
    bystander.expect_all_received().await
}

/// Fails early, with a clear message, if this process may not open `needed` more files.
fn check_file_limit(needed: usize) -> Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .context("no `Max open files` in /proc/self/limits")?;
    if soft != "unlimited" {
        let soft: usize = soft.parse()?;
        if soft < needed + 256 {
            bail!("`ulimit -n` is {soft}; this test needs about {needed} file descriptors");
        }
    }
    Ok(())
}

/// Sends `header` and then junk until the server cuts `client` off, while the bystander
/// publishes. The server must stop reading before `JUNK_LIMIT` bytes, and its resident
/// memory must never have peaked `MEMORY_BUDGET_KIB` above its level before the flood.
async fn flood_within_budget(
    server: &Server,
    client: &mut RawClient,
    bystander: &mut Bystander,
    header: &[u8],
) -> Result<Closed> {
    let resident_before = memory_kib(server.pid(), "VmRSS")?;
    let (flood, published) =
        tokio::join!(client.flood(header, JUNK_LIMIT), bystander.publish_next());
    let (written, closed) = flood?;
    published?;
    let peak_after = memory_kib(server.pid(), "VmHWM")?;
    // Shown with the test's output, to see the margins when it fails.
    eprintln!(
        "closed after {written} bytes of junk; resident {resident_before} KiB before, \
         peak {peak_after} KiB after"
    );
    ensure!(
        written < JUNK_LIMIT,
        "the server was still reading after {written} bytes of junk"
    );
    // The peak since start-up bounds anything the flood made the server hold, however
    // briefly.
    let growth = peak_after.saturating_sub(resident_before);
    ensure!(
        growth < MEMORY_BUDGET_KIB,
        "the server's resident memory peaked {growth} KiB above its level before the flood \
         ({resident_before} KiB; {written} bytes of junk were written)"
    );
    Ok(closed)
}

//! The server's own bounds: a client that reads too slowly costs bounded memory and
//! nobody else's service, and connections over `--max-connections` are refused.

use std::time::Duration;

use anyhow::{bail, Result};
use brokerlab_tests::http::get;
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use brokerlab_tests::TIMEOUT;
use rumqttc::{Packet, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// The flood's message size: 300 of them are far more than loopback socket buffers hold.
const PAYLOAD: usize = 100 * 1024;

/// CONNECT (client id "slow", clean session, keep-alive 60 s), then SUBSCRIBE to "flood"
/// at QoS 1 with packet id 1.
const CONNECT_AND_SUBSCRIBE: [u8; 30] = [
    0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 4, b's', b'l', b'o', b'w', //
    0x82, 10, 0, 1, 0, 5, b'f', b'l', b'o', b'o', b'd', 1,
];

#[tokio::test]
async fn a_subscriber_that_stops_reading_loses_qos0_and_resumes_with_qos1() -> Result<()> {
    let server = Server::start(
        BIN,
        &["--profile", "mqtt-3.1.1", "--max-outgoing-bytes", "65536"],
    )
    .await?;
    let mut slow = TcpStream::connect(server.mqtt).await?;
    slow.write_all(&CONNECT_AND_SUBSCRIBE).await?;
    // CONNACK (4 bytes) and SUBACK granting QoS 1 (5 bytes); then this client stops reading.
    let mut acks = [0u8; 9];
    tokio::time::timeout(TIMEOUT, slow.read_exact(&mut acks)).await??;
    assert_eq!(acks, [0x20, 2, 0, 0, 0x90, 3, 0, 1, 1]);

    let mut flooder = options("flooder", &Via::Tcp(server.mqtt));
    flooder.set_max_packet_size(PAYLOAD * 2, PAYLOAD * 2);
    let (mut publisher, _) = Client::connect(flooder).await?;
    for _ in 0..300 {
        publisher
            .client
            .publish("flood", QoS::AtMostOnce, false, vec![0u8; PAYLOAD])
            .await?;
    }
    // The broker drops QoS 0 messages for the congested client instead of queueing them.
    wait_for_metric(
        &server,
        "brokerlab_dropped_messages_total{reason=\"SlowConsumer\"}",
    )
    .await?;

    // A QoS 1 message waits in the session's queue and arrives once the client reads again.
    publisher
        .client
        .publish("flood", QoS::AtLeastOnce, false, "relieved")
        .await?;
    publisher
        .expect(|packet| matches!(packet, Packet::PubAck(_)))
        .await?;
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + TIMEOUT;
    while !seen.windows(8).any(|window| window == b"relieved") {
        let read = tokio::time::timeout_at(deadline, slow.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) => bail!("the slow client was disconnected"),
            Ok(Ok(n)) => {
                // Only the tail can hold the start of the marker: keep memory small.
                let keep = seen.len().saturating_sub(8);
                seen.drain(..keep);
                seen.extend_from_slice(&chunk[..n]);
            }
            Ok(Err(err)) => return Err(err.into()),
            Err(_) => bail!("the QoS 1 message did not arrive after the client read again"),
        }
    }
    let metrics = get(server.http, "/metrics").await?.body;
    assert!(
        metrics.contains("brokerlab_congestion_episodes_total"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("brokerlab_slow_consumer_disconnects_total"),
        "{metrics}"
    );
    Ok(())
}

/// Waits until `/metrics` shows `series` with a non-zero value. Metrics have no push
/// channel, so this polls, with a deadline.
async fn wait_for_metric(server: &Server, series: &str) -> Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let metrics = get(server.http, "/metrics").await?.body;
        let value = metrics
            .lines()
            .find_map(|line| line.strip_prefix(series))
            .and_then(|value| value.trim().parse::<u64>().ok());
        if value.is_some_and(|value| value > 0) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{series} did not appear within {TIMEOUT:?}:\n{metrics}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connections_over_the_limit_are_refused() -> Result<()> {
    let server = Server::start(BIN, &["--max-connections", "1"]).await?;
    let (_first, _) = Client::connect(options("first", &Via::Tcp(server.mqtt))).await?;
    if Client::connect(options("second", &Via::Tcp(server.mqtt)))
        .await
        .is_ok()
    {
        bail!("a connection over --max-connections got a CONNACK");
    }
    let metrics = get(server.http, "/metrics").await?.body;
    assert!(
        metrics.contains("brokerlab_connections_refused_total{reason=\"max-connections\"} 1\n"),
        "{metrics}"
    );
    Ok(())
}

/// A burst of refusals is counted whole but logged at most once a second, like the
/// connect rate: a flood must not flood the log.
#[tokio::test]
async fn refusals_over_max_connections_are_logged_once_a_second() -> Result<()> {
    let server = Server::start(BIN, &["--max-connections", "1"]).await?;
    let (_first, _) = Client::connect(options("first", &Via::Tcp(server.mqtt))).await?;
    let burst = 30;
    for _ in 0..burst {
        // Each is refused at accept: counted, then closed without being read.
        assert!(
            !connack_over_tcp(&server).await?,
            "a refused connection got a CONNACK"
        );
    }
    let metrics = get(server.http, "/metrics").await?.body;
    let series =
        format!("brokerlab_connections_refused_total{{reason=\"max-connections\"}} {burst}\n");
    assert!(metrics.contains(&series), "{metrics}");
    // The log is read from the server's standard error on a thread of its own: wait for
    // the first refusal's line before counting, or a quick test counts none.
    server
        .wait_for_log(|line| line.contains("refusing connections: --max-connections reached"))
        .await?;
    let lines = server
        .log()
        .into_iter()
        .filter(|line| line.contains("refusing connections: --max-connections reached"))
        .count();
    // The burst takes well under a second on any machine, but may straddle one or two
    // second boundaries; one line per refusal would be 30.
    assert!(
        (1..=3).contains(&lines),
        "{lines} log lines for {burst} refusals"
    );
    Ok(())
}

/// CONNECT (client id "r", clean session, keep-alive 60 s).
const CONNECT_R: [u8; 15] = [
    0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'r',
];

/// Opens a TCP connection, sends CONNECT and tells whether a CONNACK came back (the
/// listener closes refused connections without reading them).
async fn connack_over_tcp(server: &Server) -> Result<bool> {
    let mut stream = TcpStream::connect(server.mqtt).await?;
    // A refused connection may already be closed: a failed write means the same as EOF.
    if stream.write_all(&CONNECT_R).await.is_err() {
        return Ok(false);
    }
    let mut connack = [0u8; 4];
    match tokio::time::timeout(TIMEOUT, stream.read_exact(&mut connack)).await? {
        Ok(_) => Ok(connack == [0x20, 2, 0, 0]),
        Err(_) => Ok(false),
    }
}

#[tokio::test]
async fn an_address_over_the_connect_rate_is_refused_and_counted() -> Result<()> {
    let server = Server::start(
        BIN,
        &["--profile", "mqtt-3.1.1", "--connect-rate-per-ip", "3"],
    )
    .await?;
    let mut admitted = 0;
    let mut refused = 0;
    let started = Instant::now();
    for _ in 0..20 {
        if connack_over_tcp(&server).await? {
            admitted += 1;
        } else {
            refused += 1;
        }
    }
    // Twenty connections take milliseconds, but a loaded machine may stretch them over
    // more than one of the rate's one-second windows: three are admitted in each.
    let windows = seconds_touched(started);
    assert!(
        (3..=3 * windows).contains(&admitted),
        "admitted {admitted} in {windows} windows"
    );
    let metrics = get(server.http, "/metrics").await?.body;
    let counted =
        format!("brokerlab_connections_refused_total{{reason=\"connect-rate\"}} {refused}\n");
    assert!(metrics.contains(&counted), "expected {counted}{metrics}");
    // Logged once a second, not once a refusal.
    let warnings = server
        .log()
        .iter()
        .filter(|line| line.contains("over --connect-rate-per-ip"))
        .count();
    assert!(
        (1..=windows).contains(&warnings),
        "{warnings} warnings for {refused} refusals in {windows} windows"
    );
    Ok(())
}

#[tokio::test]
async fn websocket_handshakes_over_the_connect_rate_get_429() -> Result<()> {
    let server = Server::start(
        BIN,
        &["--profile", "mqtt-3.1.1", "--connect-rate-per-ip", "1"],
    )
    .await?;
    let mut statuses = Vec::new();
    let mut open = Vec::new();
    let started = Instant::now();
    for _ in 0..5 {
        let mut request = format!("ws://{}/mqtt", server.http).into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "mqtt".parse()?);
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => open.push(socket),
            Err(WsError::Http(response)) => statuses.push(response.status().as_u16()),
            Err(err) => return Err(err.into()),
        }
    }
    // One handshake is admitted in each one-second window the five touched.
    let windows = seconds_touched(started);
    assert!(
        (1..=windows).contains(&open.len()) && !statuses.is_empty(),
        "{} handshakes accepted in {windows} windows",
        open.len()
    );
    assert!(statuses.iter().all(|&status| status == 429), "{statuses:?}");
    Ok(())
}

/// How many of the server's one-second rate windows a burst that began at `started` and
/// ends now can have touched: one more than the whole seconds it took.
fn seconds_touched(started: Instant) -> usize {
    usize::try_from(started.elapsed().as_secs()).unwrap_or(usize::MAX - 1) + 2
}

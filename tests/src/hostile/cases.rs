//! [`Case`] and [`play`]: a table of hostile clients played one by one against a server,
//! each judged by what it got back, the log and `/metrics`.

use std::collections::BTreeMap;

use anyhow::{bail, ensure, Result};

use super::bystander::Bystander;
use super::log::{expect_one_disconnected, wait_for_disconnected};
use super::metrics::{series, Metrics};
use super::packets::{connack, connect};
use super::raw::{Ending, RawClient, Transport};
use crate::server::Server;

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
/// the [`WATCHED`](super::WATCHED) families of `/metrics` change by exactly the case's
/// close, violation and transport error. At the end the bystander has received every
/// message, each connection is still logged exactly once, and only the two bystanders are
/// connected.
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

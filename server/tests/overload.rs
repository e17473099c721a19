//! Overload without loss: a PUBACK is a promise. Publishers send QoS 1 as fast as their
//! windows allow, far faster than the subscribers read, in pairs, fan-in and fan-out,
//! over TCP and WebSocket, under both profiles. Every message the broker acknowledged
//! must reach every subscriber it was routed to: the broker makes the publishers wait
//! instead of dropping. And a subscriber that stops reading altogether must not stop the
//! others: it becomes a slow consumer, loses messages past its bound, and everyone else
//! keeps flowing.
//!
//! `max_queued` is set to 4, far below the backlog the load builds: a broker that bounds
//! a connected reader's queue by dropping (as brokerlab did before backpressure) fails
//! these tests. They count messages; nothing depends on how fast the machine is.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use brokerlab_tests::http::get;
use brokerlab_tests::load::{self, Incoming, Spec, Target};
use brokerlab_tests::server::Server;

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// How long a run may take at most: the counts finish long before on any machine.
const RUN_LIMIT: f64 = 120.0;

#[derive(Clone, Copy)]
enum Via {
    Tcp,
    WebSocket,
}

fn spec(publishers: usize, subscribers: usize, shared: bool, window: usize, count: u64) -> Spec {
    Spec {
        publishers,
        subscribers,
        shared_topic: shared,
        qos: 1,
        window,
        rate: None,
        drain: Duration::from_secs(30),
        count: Some(count),
        persistent: false,
    }
}

async fn start(profile: &str) -> Result<Server> {
    Server::start(
        BIN,
        &[
            "--profile",
            profile,
            // Small windows and a small offline bound: the backlog is in the queues, and
            // a broker that bounded a connected reader's queue by dropping would drop.
            "--set",
            "max_inflight=8",
            "--set",
            "aws.max_inflight=8",
            "--set",
            "max_queued=4",
            // AWS's 100 publishes per second per connection would measure the quota,
            // not the broker.
            "--set",
            "aws.publish_rate_per_second=100000000",
        ],
    )
    .await
}

fn target(server: &Server, via: Via) -> Target {
    match via {
        Via::Tcp => Target::Tcp(server.mqtt.to_string()),
        Via::WebSocket => Target::WebSocket(format!("ws://{}/mqtt", server.http)),
    }
}

/// The value of a counter in `/metrics`, 0 when it has not appeared.
async fn metric(server: &Server, series: &str) -> Result<u64> {
    let metrics = get(server.http, "/metrics").await?.body;
    Ok(metrics
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0))
}

async fn nothing_acknowledged_is_lost(profile: &str, via: Via, spec: Spec) -> Result<()> {
    let server = start(profile).await?;
    let report = load::run(&spec, &target(&server, via), RUN_LIMIT).await?;
    let sent = spec.count.unwrap_or(0) * spec.publishers as u64;
    ensure!(
        report.acknowledged == sent,
        "every message acknowledged: {report}"
    );
    ensure!(report.lost() == 0, "acknowledged messages lost: {report}");
    ensure!(report.delivered == report.expected, "{report}");
    let dropped = metric(
        &server,
        "brokerlab_dropped_messages_total{reason=\"QueueFull\"}",
    )
    .await?;
    ensure!(dropped == 0, "{dropped} dropped for a full queue");
    Ok(())
}

macro_rules! overload {
    ($($name:ident: $profile:expr, $via:expr, $spec:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() -> Result<()> {
            nothing_acknowledged_is_lost($profile, $via, $spec).await
        }
    )*};
}

overload! {
    pairs_over_tcp_standard: "mqtt-3.1.1", Via::Tcp, spec(4, 4, false, 64, 5_000);
    pairs_over_websocket_standard: "mqtt-3.1.1", Via::WebSocket, spec(4, 4, false, 64, 5_000);
    pairs_over_tcp_aws_iot: "aws-iot", Via::Tcp, spec(4, 4, false, 64, 5_000);
    pairs_over_websocket_aws_iot: "aws-iot", Via::WebSocket, spec(4, 4, false, 64, 5_000);
    fan_in_over_tcp_standard: "mqtt-3.1.1", Via::Tcp, spec(16, 1, true, 16, 1_000);
    fan_in_over_websocket_standard: "mqtt-3.1.1", Via::WebSocket, spec(16, 1, true, 16, 1_000);
    fan_in_over_tcp_aws_iot: "aws-iot", Via::Tcp, spec(16, 1, true, 16, 1_000);
    fan_in_over_websocket_aws_iot: "aws-iot", Via::WebSocket, spec(16, 1, true, 16, 1_000);
    fan_out_over_tcp_standard: "mqtt-3.1.1", Via::Tcp, spec(1, 100, true, 16, 500);
    fan_out_over_websocket_standard: "mqtt-3.1.1", Via::WebSocket, spec(1, 100, true, 16, 500);
    fan_out_over_tcp_aws_iot: "aws-iot", Via::Tcp, spec(1, 100, true, 16, 500);
    fan_out_over_websocket_aws_iot: "aws-iot", Via::WebSocket, spec(1, 100, true, 16, 500);
}

/// Where the two rules meet: a subscriber that reads nothing becomes a slow consumer
/// after `slow_consumer_timeout_ms`, so the publisher and the other subscriber get all
/// their messages, while the stalled one loses what does not fit its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_is_cut_loose_while_the_others_keep_flowing() -> Result<()> {
    let server = Server::start(
        BIN,
        &[
            "--profile",
            "mqtt-3.1.1",
            "--set",
            "max_queued=50",
            "--set",
            "slow_consumer_timeout_ms=300",
        ],
    )
    .await?;
    let target = target(&server, Via::Tcp);
    // The stalled subscriber: subscribes at QoS 1, then never reads again.
    let (mut sender, mut receiver) = load::connect(&target, "stalled", true).await?;
    let mut subscribe = Vec::new();
    brokerlab_tests::load::subscribe_packet(&mut subscribe, "bench/all", 1);
    sender.send(subscribe).await?;
    match receiver.next().await? {
        Some(Incoming::SubAck) => {}
        other => anyhow::bail!("expected SUBACK, got {other:?}"),
    }
    let spec = spec(1, 1, true, 16, 3_000);
    let report = load::run(&spec, &target, RUN_LIMIT).await?;
    ensure!(
        report.acknowledged == 3_000,
        "the publisher kept flowing: {report}"
    );
    ensure!(
        report.lost() == 0,
        "the reading subscriber got everything: {report}"
    );
    let slow = metric(&server, "brokerlab_slow_consumers_total").await?;
    ensure!(slow == 1, "one slow consumer, counted: {slow}");
    let dropped = metric(
        &server,
        "brokerlab_dropped_messages_total{reason=\"SlowConsumer\"}",
    )
    .await?;
    ensure!(
        dropped > 0,
        "the stalled subscriber's excess is dropped and counted"
    );
    let line = server
        .log()
        .into_iter()
        .find(|line| line.contains("slow consumer:"))
        .context("the slow consumer is logged")?;
    ensure!(line.contains("client_id=\"stalled\""), "{line}");
    drop((sender, receiver));
    Ok(())
}

/// An MQTT 3.1.1 client may send any number of QoS 1 PUBLISH packets without waiting for
/// their PUBACKs. Past `max_held_acks` held acknowledgements the server stops reading it,
/// so it cannot grow the queues without end, and reads it again once they are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_does_not_wait_is_read_no_faster_than_its_subscribers_read() -> Result<()>
{
    let server = Server::start(
        BIN,
        &[
            "--profile",
            "mqtt-3.1.1",
            "--set",
            "max_inflight=8",
            "--set",
            "max_queued=4",
            "--set",
            "max_held_acks=50",
        ],
    )
    .await?;
    // A window of 20,000 is no window: the publisher sends everything at once.
    let spec = spec(1, 1, false, 20_000, 20_000);
    let report = load::run(&spec, &target(&server, Via::Tcp), RUN_LIMIT).await?;
    ensure!(report.acknowledged == 20_000, "{report}");
    ensure!(report.lost() == 0, "{report}");
    let paused = metric(&server, "brokerlab_reading_paused_total").await?;
    ensure!(
        paused >= 1,
        "the server stopped reading the publisher at least once"
    );
    Ok(())
}

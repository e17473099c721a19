//! The HTTP port: the page at `/`, `/healthz`, `/metrics`, the `/events` stream, and the
//! subprotocol check on `/mqtt`.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use brokerlab_tests::http::get;
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::server::Server;
use brokerlab_tests::TIMEOUT;
use futures_util::StreamExt;
use rumqttc::QoS;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

#[tokio::test]
async fn healthz_answers_ok() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let response = get(server.http, "/healthz").await?;
    assert_eq!((response.status, response.body.as_str()), (200, "ok\n"));
    Ok(())
}

#[tokio::test]
async fn the_page_says_the_simulator_is_not_built_yet() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let response = get(server.http, "/").await?;
    assert_eq!(response.status, 200);
    assert!(response.headers.to_ascii_lowercase().contains("text/html"));
    assert!(response.body.contains("not built"));
    for link in ["/healthz", "/metrics", "/events"] {
        assert!(response.body.contains(link), "the page mentions {link}");
    }
    Ok(())
}

#[tokio::test]
async fn metrics_count_connections_packets_and_rules() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let via = Via::Tcp(server.mqtt);
    // A keep-alive under the aws-iot minimum of 30 s is raised: rule Q-keep-alive fires.
    let mut short = options("metered", &via);
    short.set_keep_alive(Duration::from_secs(5));
    let (mut client, _) = Client::connect(short).await?;
    client.client.subscribe("m/t", QoS::AtLeastOnce).await?;
    client.expect_suback().await?;
    client
        .client
        .publish("m/t", QoS::AtLeastOnce, false, "x")
        .await?;
    client.expect_publish().await?;

    let response = get(server.http, "/metrics").await?;
    assert_eq!(response.status, 200);
    assert!(response.headers.contains("text/plain; version=0.0.4"));
    let metrics = response.body;
    for sample in [
        "brokerlab_connections_open 1\n",
        "brokerlab_connections_accepted_total 1\n",
        "brokerlab_packets_received_total{type=\"CONNECT\"} 1\n",
        "brokerlab_packets_received_total{type=\"PUBLISH\"} 1\n",
        "brokerlab_packets_sent_total{type=\"SUBACK\"} 1\n",
        "brokerlab_packets_sent_total{type=\"PUBLISH\"} 1\n",
        // A CONNACK is 4 bytes and a SUBACK for one filter 5.
        "brokerlab_packet_bytes_sent_total{type=\"CONNACK\"} 4\n",
        "brokerlab_packet_bytes_sent_total{type=\"SUBACK\"} 5\n",
        "brokerlab_deliveries_total 1\n",
        "brokerlab_rules_fired_total{rule=\"Q-keep-alive\"} 1\n",
        "# TYPE brokerlab_bytes_received_total counter\n",
    ] {
        assert!(
            metrics.contains(sample),
            "missing `{sample}` in:\n{metrics}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn events_stream_the_brokers_events_as_json() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let (mut events, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/events", server.http)).await?;
    let (_client, _) = Client::connect(options("watched", &Via::Tcp(server.mqtt))).await?;

    // The CONNECT arrives as a packet event (detail is on while someone watches), then
    // the connection event.
    let mut saw_packet = false;
    let connected = tokio::time::timeout(TIMEOUT, async {
        while let Some(message) = events.next().await {
            let Message::Text(text) = message? else {
                continue;
            };
            let event: serde_json::Value = serde_json::from_str(&text)?;
            saw_packet |= event.get("PacketIn").is_some();
            if let Some(connected) = event.get("Connected") {
                return anyhow::Ok(connected.clone());
            }
        }
        bail!("the event stream ended")
    })
    .await
    .context("no Connected event in time")??;
    assert_eq!(connected["client_id"], "watched");
    assert!(saw_packet, "packet events are on while /events is watched");
    Ok(())
}

#[tokio::test]
async fn a_websocket_handshake_without_the_mqtt_subprotocol_is_refused() -> Result<()> {
    let server = Server::start(BIN, &[]).await?;
    let request = format!("ws://{}/mqtt", server.http).into_client_request()?;
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        Err(other) => bail!("expected an HTTP refusal, got {other}"),
        Ok(_) => bail!("the handshake was accepted without the mqtt subprotocol"),
    }
    Ok(())
}

/// The status of a WebSocket handshake at `url` with `authorization` (if any): 101 when it
/// was accepted.
async fn events_handshake(url: String, authorization: Option<&str>) -> Result<u16> {
    let mut request = url.into_client_request()?;
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("Authorization", value.parse()?);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => Ok(response.status().as_u16()),
        Err(tungstenite::Error::Http(response)) => Ok(response.status().as_u16()),
        Err(err) => Err(err.into()),
    }
}

#[tokio::test]
async fn with_an_events_token_only_clients_presenting_it_may_watch() -> Result<()> {
    let server = Server::start(BIN, &["--events-token", "s3cret"]).await?;
    let base = format!("ws://{}/events", server.http);
    // Even on loopback, the token is needed once one is set.
    assert_eq!(events_handshake(base.clone(), None).await?, 403);
    assert_eq!(
        events_handshake(format!("{base}?token=wrong"), None).await?,
        403
    );
    assert_eq!(
        events_handshake(base.clone(), Some("Bearer nope")).await?,
        403
    );
    assert_eq!(
        events_handshake(format!("{base}?token=s3cret"), None).await?,
        101
    );
    assert_eq!(events_handshake(base, Some("Bearer s3cret")).await?, 101);
    let metrics = get(server.http, "/metrics").await?.body;
    assert!(
        metrics.contains(
            "brokerlab_websocket_handshakes_refused_total{reason=\"events-forbidden\"} 3"
        ),
        "{metrics}"
    );
    server
        .wait_for_log(|line| line.contains("refusing an /events watcher"))
        .await?;
    Ok(())
}

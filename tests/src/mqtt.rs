//! A `rumqttc` client driven for tests: its event loop runs in a task that forwards
//! everything it sees, and the test waits for the packets it expects, with a deadline.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use rumqttc::{
    AsyncClient, ConnAck, ConnectionError, Event, MqttOptions, Packet, Publish, TlsConfiguration,
    Transport,
};
use rustls::ClientConfig;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::TIMEOUT;

/// How a client reaches the server.
#[derive(Clone, Debug)]
pub enum Via {
    /// MQTT over TCP, at the server's `--mqtt` address.
    Tcp(SocketAddr),
    /// MQTT over WebSocket, at `ws://<http address>/mqtt`.
    WebSocket(SocketAddr),
    /// MQTT over TLS, at the server's `--mqtts` address.
    Tls(SocketAddr, Arc<ClientConfig>),
}

/// Options for `client_id` over `via`; tests adjust them before connecting.
pub fn options(client_id: &str, via: &Via) -> MqttOptions {
    match via {
        Via::Tcp(addr) => MqttOptions::new(client_id, addr.ip().to_string(), addr.port()),
        Via::WebSocket(addr) => {
            let url = format!("ws://{addr}/mqtt");
            let mut options = MqttOptions::new(client_id, url, addr.port());
            options.set_transport(Transport::Ws);
            options
        }
        Via::Tls(addr, config) => {
            let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                config.clone(),
            )));
            options
        }
    }
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Event, ConnectionError>>,
    event_loop: JoinHandle<()>,
}

impl Client {
    /// Connects and waits for CONNACK.
    pub async fn connect(options: MqttOptions) -> Result<(Client, ConnAck)> {
        let (client, mut event_loop) = AsyncClient::new(options, 64);
        let (forward, events) = mpsc::unbounded_channel();
        // The loop stops at the first error: polling again would make rumqttc reconnect,
        // and a test must see a closed connection stay closed.
        let event_loop = tokio::spawn(async move {
            loop {
                let event = event_loop.poll().await;
                let failed = event.is_err();
                if forward.send(event).is_err() || failed {
                    return;
                }
            }
        });
        let mut connected = Client {
            client,
            events,
            event_loop,
        };
        let ack = connected
            .expect(|packet| matches!(packet, Packet::ConnAck(_)))
            .await?;
        match ack {
            Packet::ConnAck(ack) => Ok((connected, ack)),
            other => bail!("expected CONNACK, got {other:?}"),
        }
    }

    /// Waits for an incoming packet that satisfies `wanted`, skipping others.
    pub async fn expect(&mut self, mut wanted: impl FnMut(&Packet) -> bool) -> Result<Packet> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| anyhow!("no expected packet within {TIMEOUT:?}"))?;
            match event {
                Some(Ok(Event::Incoming(packet))) if wanted(&packet) => return Ok(packet),
                Some(Ok(_)) => {}
                Some(Err(err)) => bail!("the connection ended while waiting: {err}"),
                None => bail!("the event loop stopped while waiting"),
            }
        }
    }

    /// Waits for the next PUBLISH.
    pub async fn expect_publish(&mut self) -> Result<Publish> {
        match self
            .expect(|packet| matches!(packet, Packet::Publish(_)))
            .await?
        {
            Packet::Publish(publish) => Ok(publish),
            other => bail!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Waits for SUBACK, so that what is published next reaches the subscription.
    pub async fn expect_suback(&mut self) -> Result<()> {
        self.expect(|packet| matches!(packet, Packet::SubAck(_)))
            .await
            .map(drop)
    }

    /// Waits for the server to close the connection, and returns how it ended. Packets
    /// that arrive first are skipped.
    pub async fn expect_closed(&mut self) -> Result<ConnectionError> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| anyhow!("the connection was not closed within {TIMEOUT:?}"))?;
            match event {
                Some(Ok(_)) => {}
                Some(Err(err)) => return Ok(err),
                None => bail!("the event loop stopped without an error"),
            }
        }
    }

    /// Sends DISCONNECT and waits for the event loop to finish.
    pub async fn disconnect(mut self) -> Result<()> {
        self.client.disconnect().await?;
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => bail!("DISCONNECT did not end the connection within {TIMEOUT:?}"),
                Ok(Some(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)))) | Ok(None) => {
                    return Ok(())
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(err))) => bail!("the connection failed before DISCONNECT: {err}"),
            }
        }
    }

    /// Drops the connection without DISCONNECT, as a device that loses power would: the
    /// socket closes when the aborted event loop is dropped.
    pub async fn kill(mut self) {
        self.event_loop.abort();
        let _ = (&mut self.event_loop).await;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.event_loop.abort();
    }
}

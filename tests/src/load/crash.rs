//! The crash test of `cargo xtask bench durability`, in three parts that the xtask runs
//! around a broker it kills with SIGKILL: a persistent subscriber subscribes and leaves;
//! a publisher streams QoS 1 messages and records which ones the broker acknowledged,
//! until the broker dies; after the restart the subscriber collects what its session
//! kept, and the difference is what the broker lost although it had acknowledged it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use broker_core::codec::{decode, Connect, Packet, Publish};
use broker_core::{PacketId, ProtocolVersion, QoS, TopicName};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOPIC: &str = "crash";
const SUBSCRIBER: &str = "crash-sub";
/// The publisher's in-flight window.
const WINDOW: u16 = 64;
/// How long the collector waits for one more message before it counts.
const IDLE: Duration = Duration::from_secs(3);

struct Link {
    stream: TcpStream,
    rx: Vec<u8>,
}

impl Link {
    async fn connect(addr: &str, client_id: &str, clean: bool) -> Result<Link> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let mut link = Link {
            stream,
            rx: Vec::new(),
        };
        let mut connect = Connect::new(ProtocolVersion::V311, client_id, clean);
        connect.keep_alive = 0;
        link.send(Packet::Connect(connect)).await?;
        match link.next(Duration::from_secs(10)).await? {
            Some(Packet::ConnAck(ack)) if ack.code.0 == 0 => Ok(link),
            other => bail!("expected an accepting CONNACK, got {other:?}"),
        }
    }

    async fn send(&mut self, packet: Packet) -> Result<()> {
        Ok(self.stream.write_all(&packet.to_bytes()).await?)
    }

    /// The next packet; `None` when the connection ends or nothing comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Result<Option<Packet>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some((packet, len)) = decode(&self.rx, ProtocolVersion::V311, usize::MAX, None)?
            {
                self.rx.drain(..len);
                return Ok(Some(packet));
            }
            let n = match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) | Err(_) => 0,
            };
            if n == 0 {
                return Ok(None);
            }
            self.rx.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The subscriber's persistent session subscribes to the test's topic at QoS 1, and the
/// subscriber leaves: from now on its messages wait in the session.
pub async fn subscribe(addr: &str) -> Result<()> {
    let mut link = Link::connect(addr, SUBSCRIBER, false).await?;
    let filter = broker_core::TopicFilter::new(TOPIC).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    link.send(Packet::Subscribe(broker_core::codec::Subscribe {
        packet_id: PacketId::FIRST,
        filters: vec![(filter, QoS::AtLeastOnce.into())],
        properties: None,
    }))
    .await?;
    match link.next(Duration::from_secs(10)).await? {
        Some(Packet::SubAck(_)) => {}
        other => bail!("expected SUBACK, got {other:?}"),
    }
    link.send(Packet::disconnect()).await
}

/// Publishes up to `count` QoS 1 messages (payload: their number) with a window of 64,
/// printing `acked N` after every 100 acknowledgements, until all are acknowledged or the
/// broker goes away. Returns the numbers acknowledged.
pub async fn publish(addr: &str, count: u16) -> Result<BTreeSet<u16>> {
    let mut link = Link::connect(addr, "crash-pub", true).await?;
    let topic = TopicName::new(TOPIC).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut acked = BTreeSet::new();
    let mut next = 1u16;
    loop {
        while next <= count && usize::from(next) <= acked.len() + usize::from(WINDOW) {
            let publish = Publish::v311(
                topic.clone(),
                QoS::AtLeastOnce,
                false,
                PacketId::new(next),
                Bytes::from(next.to_string()),
            );
            if link.send(Packet::Publish(publish)).await.is_err() {
                return Ok(acked);
            }
            next += 1;
        }
        if acked.len() == usize::from(count) {
            return Ok(acked);
        }
        match link.next(Duration::from_secs(10)).await? {
            Some(Packet::PubAck(ack)) => {
                acked.insert(ack.packet_id.get());
                if acked.len() % 100 == 0 {
                    println!("acked {}", acked.len());
                }
            }
            Some(_) => {}
            None => return Ok(acked),
        }
    }
}

/// Reconnects the subscriber's session and collects what it holds, acknowledging each
/// message, until nothing arrives for three seconds.
pub async fn collect(addr: &str) -> Result<BTreeSet<u16>> {
    let mut link = Link::connect(addr, SUBSCRIBER, false).await?;
    let mut got = BTreeSet::new();
    while let Some(packet) = link.next(IDLE).await? {
        if let Packet::Publish(p) = packet {
            if let Some(id) = p.packet_id {
                link.send(Packet::puback(id)).await?;
            }
            got.extend(
                std::str::from_utf8(&p.payload)
                    .ok()
                    .and_then(|s| s.parse::<u16>().ok()),
            );
        }
    }
    Ok(got)
}

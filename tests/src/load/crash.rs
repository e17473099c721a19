//! The crash test of `cargo xtask bench durability`, in three parts that the xtask runs
//! around a broker it kills with SIGKILL: a persistent subscriber subscribes and leaves;
//! a publisher streams QoS 1 messages and records which ones the broker acknowledged,
//! until the broker dies; after the restart the subscriber collects what its session
//! kept, and the difference is what the broker lost although it had acknowledged it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Result};
use broker_core::codec::Packet;
use broker_core::{PacketId, QoS};

use crate::codec_client::{publish_qos1, CodecClient};

const TOPIC: &str = "crash";
const SUBSCRIBER: &str = "crash-sub";
/// The publisher's in-flight window.
const WINDOW: u16 = 64;
/// How long the collector waits for one more message before it counts.
const IDLE: Duration = Duration::from_secs(3);

/// The subscriber's persistent session subscribes to the test's topic at QoS 1, and the
/// subscriber leaves: from now on its messages wait in the session.
pub async fn subscribe(addr: &str) -> Result<()> {
    let mut link = CodecClient::connect(addr, SUBSCRIBER, false).await?;
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
    let mut link = CodecClient::connect(addr, "crash-pub", true).await?;
    let mut acked = BTreeSet::new();
    let mut next = 1u16;
    loop {
        while next <= count && usize::from(next) <= acked.len() + usize::from(WINDOW) {
            let publish = publish_qos1(TOPIC, &next.to_string(), false, next)?;
            if link.send(publish).await.is_err() {
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
    let mut link = CodecClient::connect(addr, SUBSCRIBER, false).await?;
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

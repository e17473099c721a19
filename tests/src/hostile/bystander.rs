//! [`Bystander`]: a well-behaved QoS 1 subscriber and publisher that must go on being
//! served, and miss nothing, whatever the hostile clients do.

use std::collections::BTreeSet;

use anyhow::{ensure, Context, Result};
use rumqttc::{Packet, QoS};

use crate::mqtt::{options, Client, Via};

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

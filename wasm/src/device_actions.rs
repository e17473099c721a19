//! The client's side of a learner's actions, and of a device's timers: the same for a
//! device of the simulated world and for one connected to a real server over WebSocket
//! (`remote.rs`). Connecting and disconnecting involve the transport, which each of those
//! owns; everything else is the client's alone. Each action checks what it needs first,
//! so that a refused action changes nothing.

use core::time::Duration;

use broker_core::client::ClientEvent;
use broker_core::codec::{Properties, Property, RetainHandling, SubscriptionOptions};
use broker_core::{Instant, PacketId, QoS, TopicFilter};
use bytes::Bytes;

use crate::device::{qos, topic_name, AutoPublish, Device};
use crate::scenario::{Action, ActionError, SubscribeOptions};

impl Device {
    /// Applies the client's side of `action` at `now`. Actions on the transport (spawn,
    /// connect, reconnect, disconnect, a network drop) are the caller's, and do nothing
    /// here.
    pub(crate) fn act(&mut self, now: Instant, action: &Action) -> Result<(), ActionError> {
        match action {
            Action::Subscribe {
                filter,
                qos: bits,
                options,
                ..
            } => {
                let filter = parse_filter(filter)?;
                let (options, id) = subscription_options(qos(*bits)?, options)?;
                // A refusal (too many unanswered subscriptions) is part of the story:
                // the client reports it as an event, which the trace shows.
                let _ = self.client.subscribe_with(now, vec![(filter, options)], id);
            }
            Action::Unsubscribe { filter, .. } => {
                let filter = parse_filter(filter)?;
                let _ = self.client.unsubscribe(now, vec![filter]);
            }
            Action::Publish {
                topic,
                payload,
                qos: bits,
                retain,
                message_expiry,
                ..
            } => {
                let topic = topic_name(topic)?;
                let q = qos(*bits)?;
                let properties = Properties(
                    message_expiry
                        .map(Property::MessageExpiryInterval)
                        .into_iter()
                        .collect(),
                );
                // A disconnected device keeps QoS 1 and 2 messages (up to its queue's
                // bound) for its next session and loses QoS 0 ones, as a real client
                // would; a refusal is reported as an event, which the trace shows.
                let _ = self.client.publish_with(
                    now,
                    topic,
                    Bytes::from(payload.clone().into_bytes()),
                    q,
                    *retain,
                    properties,
                );
            }
            Action::SetAutoAck { on, .. } => self.client.set_auto_ack(*on),
            Action::Ack { packet_id, .. } => {
                // An id with nothing waiting is harmless: the client sends nothing.
                if let Some(id) = PacketId::new(*packet_id) {
                    self.client.ack(now, id);
                }
            }
            Action::AutoPublish {
                topic,
                qos: bits,
                every_ms,
                first_in_ms,
                ..
            } => {
                let topic = topic_name(topic)?;
                let q = qos(*bits)?;
                self.auto_publish = every_ms.map(|every_ms| {
                    // A period of zero would publish endlessly within one instant.
                    let every_ms = every_ms.max(1);
                    AutoPublish {
                        topic,
                        qos: q,
                        every_ms,
                        next_at: now + Duration::from_millis(first_in_ms.unwrap_or(every_ms)),
                        count: 0,
                    }
                });
            }
            Action::Spawn { .. }
            | Action::Connect { .. }
            | Action::Reconnect { .. }
            | Action::Disconnect { .. }
            | Action::DropNetwork { .. } => {}
        }
        Ok(())
    }

    /// The device's timer fired: keep-alive pings, and its automatic publishing.
    pub(crate) fn wake(&mut self, now: Instant) {
        self.client.handle_timeout(now);
        if let Some(auto) = self.auto_publish.as_mut() {
            if auto.next_at <= now {
                auto.count += 1;
                auto.next_at = now + Duration::from_millis(auto.every_ms);
                let payload = Bytes::from(auto.count.to_string().into_bytes());
                let (topic, qos) = (auto.topic.clone(), auto.qos);
                // A refusal (the queue is full) comes back as an event.
                let _ = self.client.publish(now, topic, payload, qos, false);
            }
        }
    }

    /// The client's events since the last call; messages are in the inbox already.
    pub(crate) fn poll_events(&mut self) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.client.poll_event() {
            if let ClientEvent::Message(m) = &event {
                self.receive(m);
            }
            events.push(event);
        }
        events
    }
}

/// A learner's subscription options as the codec's, with the Subscription Identifier
/// checked against its range (section 3.8.2.1.2).
fn subscription_options(
    qos: QoS,
    o: &SubscribeOptions,
) -> Result<(SubscriptionOptions, Option<u32>), ActionError> {
    let retain_handling = match o.retain_handling {
        0 => RetainHandling::OnSubscribe,
        1 => RetainHandling::OnNewSubscription,
        2 => RetainHandling::Never,
        n => {
            return Err(ActionError::InvalidOption(format!(
                "Retain Handling {n} does not exist (0, 1 or 2)"
            )))
        }
    };
    if let Some(id) = o.subscription_id {
        if !(1..=268_435_455).contains(&id) {
            return Err(ActionError::InvalidOption(format!(
                "Subscription Identifier {id} is outside 1 to 268,435,455"
            )));
        }
    }
    let options = SubscriptionOptions {
        qos,
        no_local: o.no_local,
        retain_as_published: o.retain_as_published,
        retain_handling,
    };
    Ok((options, o.subscription_id))
}

fn parse_filter(filter: &str) -> Result<TopicFilter, ActionError> {
    TopicFilter::new(filter)
        .map_err(|e| ActionError::InvalidTopic(format!("filter {filter:?}: {e}")))
}

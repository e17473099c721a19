//! Applying a learner's actions to devices: each checks what it needs first, so that a
//! refused action changes nothing.

use core::time::Duration;

use broker_core::client::ClientState;
use broker_core::codec::{
    Disconnect, Properties, Property, ReasonCode, RetainHandling, SubscriptionOptions,
};
use broker_core::{PacketId, PeerInfo, QoS, TopicFilter};
use bytes::Bytes;

use super::World;
use crate::device::{qos, topic_name, AutoPublish, Device};
use crate::network::{Delivery, Link, LinkState};
use crate::scenario::{Action, ActionError, DeviceId, SubscribeOptions};

impl World {
    pub(super) fn perform(&mut self, action: Action) -> Result<(), ActionError> {
        let now = self.now;
        match action {
            Action::Spawn { spec } => {
                let device = Device::new(spec)?;
                self.devices.push(device);
                self.changed.insert(self.devices.len() as DeviceId - 1);
            }
            Action::Connect { device } => {
                let d = self.device_mut(device)?;
                if d.client.state() != ClientState::Disconnected {
                    return Err(ActionError::AlreadyConnected(device));
                }
                let peer = PeerInfo {
                    addr: Some(format!("device-{device}")),
                    principal: None,
                };
                let conn = self.broker.accept(now, peer);
                self.network.links.insert(
                    conn,
                    Link {
                        device,
                        state: LinkState::Open,
                    },
                );
                let d = self.device_mut(device)?;
                d.conn = Some(conn);
                d.client.connect(now);
                self.drain_device(device);
            }
            Action::Reconnect { device } => {
                if self.device_mut(device)?.client.state() == ClientState::Disconnected {
                    return self.perform(Action::Connect { device });
                }
            }
            Action::Disconnect { device, with_will } => {
                let conn = self.connection(device)?;
                let disconnect = if with_will {
                    Disconnect::with_reason(ReasonCode::DISCONNECT_WITH_WILL)
                } else {
                    Disconnect::NORMAL
                };
                self.device_mut(device)?
                    .client
                    .disconnect_with(now, disconnect);
                self.drain_device(device);
                // The transport closes right behind DISCONNECT; the broker has usually
                // closed the connection by then and ignores the news.
                self.network.set_state(conn, LinkState::DeviceClosing);
                self.send_to_broker_side(Delivery::ClosedByDevice { conn });
                self.device_mut(device)?.conn = None;
            }
            Action::DropNetwork { device } => {
                let conn = self.connection(device)?;
                let d = self.device_mut(device)?;
                d.client.handle_closed();
                d.conn = None;
                self.network.set_state(conn, LinkState::Dropped);
                // The broker sees the transport fail one latency later, as a peer that
                // resets the connection; it publishes the Will then.
                self.send_to_broker_side(Delivery::ClosedByDevice { conn });
                self.changed.insert(device);
            }
            Action::Subscribe {
                device,
                filter,
                qos: bits,
                options,
            } => {
                self.connection(device)?;
                let filter = parse_filter(&filter)?;
                let (options, id) = subscription_options(qos(bits)?, &options)?;
                // A refusal (too many unanswered subscriptions) is part of the story:
                // the client reports it as an event, which the trace shows.
                let _ = self.device_mut(device)?.client.subscribe_with(
                    now,
                    vec![(filter, options)],
                    id,
                );
                self.drain_device(device);
            }
            Action::Unsubscribe { device, filter } => {
                self.connection(device)?;
                let filter = parse_filter(&filter)?;
                let _ = self
                    .device_mut(device)?
                    .client
                    .unsubscribe(now, vec![filter]);
                self.drain_device(device);
            }
            Action::Publish {
                device,
                topic,
                payload,
                qos: bits,
                retain,
                message_expiry,
            } => {
                let topic = topic_name(&topic)?;
                let q = qos(bits)?;
                let properties = Properties(
                    message_expiry
                        .map(Property::MessageExpiryInterval)
                        .into_iter()
                        .collect(),
                );
                // A disconnected device keeps QoS 1 and 2 messages (up to its queue's
                // bound) for its next session and loses QoS 0 ones, as a real client
                // would; a refusal is reported as an event, which the trace shows.
                let _ = self.device_mut(device)?.client.publish_with(
                    now,
                    topic,
                    Bytes::from(payload.into_bytes()),
                    q,
                    retain,
                    properties,
                );
                self.drain_device(device);
            }
            Action::SetAutoAck { device, on } => {
                self.device_mut(device)?.client.set_auto_ack(on);
                self.changed.insert(device);
            }
            Action::Ack { device, packet_id } => {
                let d = self.device_mut(device)?;
                // An id with nothing waiting is harmless: the client sends nothing.
                if let Some(id) = PacketId::new(packet_id) {
                    d.client.ack(now, id);
                }
                self.drain_device(device);
            }
            Action::AutoPublish {
                device,
                topic,
                qos: bits,
                every_ms,
                first_in_ms,
            } => {
                let topic = topic_name(&topic)?;
                let q = qos(bits)?;
                let d = self.device_mut(device)?;
                d.auto_publish = every_ms.map(|every_ms| {
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
                self.changed.insert(device);
                self.rearm(device);
            }
        }
        Ok(())
    }

    fn device_mut(&mut self, device: DeviceId) -> Result<&mut Device, ActionError> {
        self.devices
            .get_mut(device as usize)
            .ok_or(ActionError::NoSuchDevice(device))
    }

    /// The device's current connection, which commands that send packets need.
    fn connection(&mut self, device: DeviceId) -> Result<broker_core::ConnId, ActionError> {
        let d = self.device_mut(device)?;
        match (d.conn, d.client.state()) {
            (Some(conn), ClientState::Connecting | ClientState::Connected) => Ok(conn),
            _ => Err(ActionError::NotConnected(device)),
        }
    }

    /// Queues a notice for the broker's end of a link, behind everything already sent.
    fn send_to_broker_side(&mut self, delivery: Delivery) {
        let at = self.arrival();
        self.network.send(at, delivery);
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

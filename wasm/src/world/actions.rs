//! Applying a learner's actions to devices: each checks what it needs first, so that a
//! refused action changes nothing.

use core::time::Duration;

use broker_core::client::ClientState;
use broker_core::{PacketId, PeerInfo, TopicFilter};
use bytes::Bytes;

use super::World;
use crate::device::{qos, topic_name, AutoPublish, Device};
use crate::network::{Delivery, Link, LinkState};
use crate::scenario::{Action, ActionError, DeviceId};

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
            Action::Disconnect { device } => {
                let conn = self.connection(device)?;
                self.device_mut(device)?.client.disconnect(now);
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
            } => {
                self.connection(device)?;
                let filter = parse_filter(&filter)?;
                let q = qos(bits)?;
                // A refusal (too many unanswered subscriptions) is part of the story:
                // the client reports it as an event, which the trace shows.
                let _ = self
                    .device_mut(device)?
                    .client
                    .subscribe(now, vec![(filter, q)]);
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
            } => {
                let topic = topic_name(&topic)?;
                let q = qos(bits)?;
                // A disconnected device keeps QoS 1 and 2 messages (up to its queue's
                // bound) for its next session and loses QoS 0 ones, as a real client
                // would; a refusal is reported as an event, which the trace shows.
                let _ = self.device_mut(device)?.client.publish(
                    now,
                    topic,
                    Bytes::from(payload.into_bytes()),
                    q,
                    retain,
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

fn parse_filter(filter: &str) -> Result<TopicFilter, ActionError> {
    TopicFilter::new(filter)
        .map_err(|e| ActionError::InvalidTopic(format!("filter {filter:?}: {e}")))
}

//! Applying a learner's actions to the world: the transport's part here, the client's in
//! `device_actions.rs`. Each checks what it needs first, so that a refused action changes
//! nothing.

use broker_core::client::ClientState;
use broker_core::codec::{Disconnect, ReasonCode};
use broker_core::PeerInfo;

use super::World;
use crate::device::Device;
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
                let principal = self.device_mut(device)?.spec.certificate.clone();
                let peer = PeerInfo {
                    addr: Some(format!("device-{device}")),
                    principal,
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
            Action::Subscribe { device, .. } | Action::Unsubscribe { device, .. } => {
                self.connection(device)?;
                self.device_mut(device)?.act(now, &action)?;
                self.drain_device(device);
            }
            Action::Publish { device, .. } | Action::Ack { device, .. } => {
                self.device_mut(device)?.act(now, &action)?;
                self.drain_device(device);
            }
            Action::SetAutoAck { device, .. } | Action::AutoPublish { device, .. } => {
                self.device_mut(device)?.act(now, &action)?;
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

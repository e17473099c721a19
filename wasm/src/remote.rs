//! Virtual devices of a page attached to a real server: the same devices as the simulated
//! world's (the core's MQTT client, the inbox, the learner's actions), whose transport is
//! a real connection, a WebSocket to the server's `/mqtt`, that the page opens and feeds.
//!
//! Sans-IO like the rest: the page hands in what its sockets did (`handle_*`, with the
//! page's clock) and carries out what [`Remote::poll_output`] asks (open a socket, send
//! bytes, close one). Their packets reach the diagram through the server's live stream,
//! like any other client's.

use std::collections::{BTreeSet, VecDeque};

use broker_core::client::ClientState;
use broker_core::codec::{Disconnect, ReasonCode};
use broker_core::Instant;
use bytes::Bytes;

use crate::device::{Device, DeviceView};
use crate::scenario::{Action, ActionError, DeviceId};

/// What the page must do for a device's transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteOutput {
    /// Open a WebSocket for the device; report `handle_opened` or `handle_closed`.
    Open(DeviceId),
    /// Send these bytes (whole packets) on the device's socket.
    Send(DeviceId, Bytes),
    /// Close the device's socket; no `handle_closed` is needed after.
    Close(DeviceId),
}

/// The devices connected to a real server.
#[derive(Debug, Default)]
pub struct Remote {
    devices: Vec<Device>,
    /// Whether each device has a socket, open or opening.
    sockets: BTreeSet<DeviceId>,
    out: VecDeque<RemoteOutput>,
    changed: BTreeSet<DeviceId>,
}

impl Remote {
    /// An empty set of devices.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a learner's action at `now` (the page's clock, in milliseconds).
    pub fn apply(&mut self, now: u64, action: Action) -> Result<(), ActionError> {
        let now = Instant::from_millis(now);
        match &action {
            Action::Spawn { spec } => {
                self.devices.push(Device::new(spec.clone())?);
                self.changed.insert(self.devices.len() as DeviceId - 1);
                return Ok(());
            }
            Action::Connect { device } | Action::Reconnect { device } => {
                let opening = self.sockets.contains(device);
                let d = self.device_mut(*device)?;
                if opening || d.client.state() != ClientState::Disconnected {
                    if matches!(action, Action::Reconnect { .. }) {
                        return Ok(());
                    }
                    return Err(ActionError::AlreadyConnected(*device));
                }
                self.sockets.insert(*device);
                self.out.push_back(RemoteOutput::Open(*device));
            }
            Action::Disconnect { device, with_will } => {
                self.connected(*device)?;
                let disconnect = if *with_will {
                    Disconnect::with_reason(ReasonCode::DISCONNECT_WITH_WILL)
                } else {
                    Disconnect::NORMAL
                };
                self.device_mut(*device)?
                    .client
                    .disconnect_with(now, disconnect);
                self.drain(*device);
                self.close(*device);
            }
            Action::DropNetwork { device } => {
                self.connected(*device)?;
                self.device_mut(*device)?.client.handle_closed();
                self.close(*device);
            }
            Action::Subscribe { device, .. } | Action::Unsubscribe { device, .. } => {
                self.connected(*device)?;
                self.device_mut(*device)?.act(now, &action)?;
                self.drain(*device);
            }
            Action::Publish { device, .. }
            | Action::Ack { device, .. }
            | Action::SetAutoAck { device, .. }
            | Action::AutoPublish { device, .. } => {
                self.device_mut(*device)?.act(now, &action)?;
                self.drain(*device);
            }
        }
        Ok(())
    }

    /// The device's socket opened: its client sends CONNECT.
    pub fn handle_opened(&mut self, now: u64, device: DeviceId) {
        if let Some(d) = self.devices.get_mut(device as usize) {
            d.client.connect(Instant::from_millis(now));
            self.drain(device);
        }
    }

    /// Bytes arrived on the device's socket.
    pub fn handle_bytes(&mut self, now: u64, device: DeviceId, bytes: &[u8]) {
        if let Some(d) = self.devices.get_mut(device as usize) {
            d.client.handle_bytes(Instant::from_millis(now), bytes);
            self.drain(device);
        }
    }

    /// The device's socket closed, or never opened.
    pub fn handle_closed(&mut self, device: DeviceId) {
        if self.sockets.remove(&device) {
            if let Some(d) = self.devices.get_mut(device as usize) {
                d.client.handle_closed();
                self.changed.insert(device);
            }
        }
    }

    /// Time passed: keep-alive pings and automatic publishing that are due.
    pub fn handle_timeout(&mut self, now: u64) {
        let now = Instant::from_millis(now);
        for device in 0..self.devices.len() {
            let d = &mut self.devices[device];
            if d.wake_at().is_some_and(|at| at <= now) {
                d.wake(now);
                self.drain(device as DeviceId);
            }
        }
    }

    /// The next thing the page must do for a socket.
    pub fn poll_output(&mut self) -> Option<RemoteOutput> {
        self.out.pop_front()
    }

    /// Devices whose view changed since the last call, in index order.
    pub fn poll_changed_devices(&mut self) -> Vec<DeviceId> {
        std::mem::take(&mut self.changed).into_iter().collect()
    }

    /// How many devices were spawned.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// A view of one device.
    pub fn device(&self, id: DeviceId) -> Option<DeviceView> {
        self.devices.get(id as usize).map(|d| d.view(id))
    }

    fn device_mut(&mut self, device: DeviceId) -> Result<&mut Device, ActionError> {
        self.devices
            .get_mut(device as usize)
            .ok_or(ActionError::NoSuchDevice(device))
    }

    /// Commands that send packets need a socket and a client past CONNECT.
    fn connected(&mut self, device: DeviceId) -> Result<(), ActionError> {
        let open = self.sockets.contains(&device);
        match self.device_mut(device)?.client.state() {
            ClientState::Connecting | ClientState::Connected if open => Ok(()),
            _ => Err(ActionError::NotConnected(device)),
        }
    }

    fn close(&mut self, device: DeviceId) {
        if self.sockets.remove(&device) {
            self.out.push_back(RemoteOutput::Close(device));
        }
        self.changed.insert(device);
    }

    /// What the device's client wants sent, and its events (messages go to its inbox).
    fn drain(&mut self, device: DeviceId) {
        let open = self.sockets.contains(&device);
        let Some(d) = self.devices.get_mut(device as usize) else {
            return;
        };
        while let Some(bytes) = d.client.poll_transmit() {
            // A client transmits only on a transport; without a socket there is none.
            if open {
                self.out.push_back(RemoteOutput::Send(device, bytes));
            }
        }
        d.poll_events();
        self.changed.insert(device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceSpec;

    #[test]
    fn a_device_connects_over_its_socket_and_receives() {
        let mut r = Remote::new();
        r.apply(
            0,
            Action::Spawn {
                spec: DeviceSpec::new("web-1"),
            },
        )
        .unwrap();
        r.apply(0, Action::Connect { device: 0 }).unwrap();
        assert_eq!(r.poll_output(), Some(RemoteOutput::Open(0)));
        assert!(
            r.apply(1, Action::Connect { device: 0 }).is_err(),
            "opening already"
        );
        r.handle_opened(10, 0);
        let Some(RemoteOutput::Send(0, connect)) = r.poll_output() else {
            panic!("CONNECT expected");
        };
        assert_eq!(connect[0], 0x10);
        r.handle_bytes(20, 0, &[0x20, 2, 0, 0]);
        assert_eq!(r.device(0).unwrap().state.name(), "connected");
        // PUBLISH QoS 0 "t" "hi", in two reads.
        r.handle_bytes(30, 0, &[0x30, 5, 0, 1]);
        r.handle_bytes(31, 0, b"thi");
        let view = r.device(0).unwrap();
        assert_eq!(view.inbox.last().map(|m| m.payload.as_str()), Some("hi"));
        r.apply(
            40,
            Action::Disconnect {
                device: 0,
                with_will: false,
            },
        )
        .unwrap();
        assert!(matches!(r.poll_output(), Some(RemoteOutput::Send(0, b)) if b[0] == 0xe0));
        assert_eq!(r.poll_output(), Some(RemoteOutput::Close(0)));
        assert!(r
            .apply(
                50,
                Action::Subscribe {
                    device: 0,
                    filter: "t".into(),
                    qos: 1,
                    options: Default::default(),
                }
            )
            .is_err());
    }

    #[test]
    fn a_refused_socket_leaves_the_device_disconnected_and_able_to_retry() {
        let mut r = Remote::new();
        r.apply(
            0,
            Action::Spawn {
                spec: DeviceSpec::new("web-2"),
            },
        )
        .unwrap();
        r.apply(0, Action::Connect { device: 0 }).unwrap();
        r.poll_output();
        r.handle_closed(0);
        assert_eq!(r.device(0).unwrap().state.name(), "disconnected");
        r.apply(5, Action::Reconnect { device: 0 }).unwrap();
        assert_eq!(r.poll_output(), Some(RemoteOutput::Open(0)));
    }
}

//! The virtual network: what is on its way between the devices and the broker, and the
//! state of each link. Every link has the same fixed latency in each direction, so a link
//! never reorders (like TCP); any reordering a learner sees is the broker's own (AWS D8).

use std::collections::BTreeMap;

use broker_core::{ConnId, Instant};
use bytes::Bytes;

use crate::scenario::DeviceId;

/// Something arriving at one end of a link.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// Bytes from a device, for the broker.
    ToBroker {
        conn: ConnId,
        packet: u64,
        bytes: Bytes,
    },
    /// Bytes from the broker, for a device.
    ToDevice {
        device: DeviceId,
        conn: ConnId,
        packet: u64,
        bytes: Bytes,
    },
    /// The broker closed the connection; the device finds out.
    ClosedByBroker { device: DeviceId, conn: ConnId },
    /// The device's side closed (after DISCONNECT, or the network failed); the broker
    /// finds out.
    ClosedByDevice { conn: ConnId },
}

/// How a link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Both ends are attached.
    Open,
    /// The device sent DISCONNECT and let go; its last bytes still reach the broker.
    DeviceClosing,
    /// The network failed: nothing more gets through, in either direction.
    Dropped,
}

/// One device's transport to the broker.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) device: DeviceId,
    pub(crate) state: LinkState,
}

/// Deliveries ordered by arrival time, then by the order they were sent: with one fixed
/// latency, that keeps every link first-in, first-out.
#[derive(Debug, Default)]
pub(crate) struct Network {
    in_flight: BTreeMap<(Instant, u64), Delivery>,
    next_seq: u64,
    pub(crate) links: BTreeMap<ConnId, Link>,
}

impl Network {
    pub(crate) fn send(&mut self, arrives_at: Instant, delivery: Delivery) {
        self.in_flight.insert((arrives_at, self.next_seq), delivery);
        self.next_seq += 1;
    }

    /// When the next delivery arrives.
    pub(crate) fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    /// Takes the next delivery if it has arrived by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Delivery> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    pub(crate) fn link_state(&self, conn: ConnId) -> Option<LinkState> {
        self.links.get(&conn).map(|l| l.state)
    }

    pub(crate) fn set_state(&mut self, conn: ConnId, state: LinkState) {
        if let Some(link) = self.links.get_mut(&conn) {
            link.state = state;
        }
    }

    pub(crate) fn device_of(&self, conn: ConnId) -> Option<DeviceId> {
        self.links.get(&conn).map(|l| l.device)
    }
}

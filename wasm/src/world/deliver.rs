//! Moving bytes: from a device onto its link, from a link into the broker or a device,
//! and waking devices for their timers.

use core::time::Duration;

use broker_core::client::ClientEvent;
use broker_core::Instant;
use bytes::Bytes;

use super::World;
use crate::network::{Delivery, LinkState};
use crate::scenario::DeviceId;
use crate::trace::{Direction, TraceEntry};

impl World {
    /// When something sent now arrives at the other end of its link.
    pub(super) fn arrival(&self) -> Instant {
        self.now + Duration::from_millis(self.latency_ms)
    }

    /// Hands one arrival to its receiver.
    pub(super) fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::ToBroker {
                conn,
                packet,
                bytes,
            } => {
                if self.network.link_state(conn) == Some(LinkState::Dropped) {
                    self.lost(packet, "the network dropped");
                    return;
                }
                // Backpressure: while the broker does not read this connection, its
                // bytes wait at the broker's end of the link.
                if let Some(waiting) = self.paused.get_mut(&conn) {
                    waiting.push_back(bytes);
                    return;
                }
                self.broker.handle_bytes(now, conn, &bytes);
                self.drain_broker();
            }
            Delivery::ToDevice {
                device,
                conn,
                packet,
                bytes,
            } => {
                let Some(d) = self.devices.get_mut(device as usize) else {
                    return;
                };
                if d.conn != Some(conn) {
                    let reason = match self.network.link_state(conn) {
                        Some(LinkState::Dropped) => "the network dropped",
                        _ => "the device had closed this connection",
                    };
                    self.lost(packet, reason);
                    return;
                }
                d.client.handle_bytes(now, &bytes);
                self.drain_device(device);
            }
            Delivery::ClosedByBroker { device, conn } => {
                let Some(d) = self.devices.get_mut(device as usize) else {
                    return;
                };
                if d.conn == Some(conn) {
                    d.client.handle_closed();
                    d.conn = None;
                    self.trace.push(TraceEntry::TransportClosed {
                        at: now.as_millis(),
                        device,
                    });
                    self.changed.insert(device);
                    self.rearm(device);
                }
            }
            Delivery::ClosedByDevice { conn } => {
                self.broker.handle_closed(now, conn);
                self.drain_broker();
            }
        }
    }

    /// A device's timer fired: keep-alive pings, and its automatic publishing.
    pub(super) fn wake_device(&mut self, device: DeviceId) {
        let now = self.now;
        let Some(d) = self.devices.get_mut(device as usize) else {
            return;
        };
        d.wake(now);
        self.drain_device(device);
    }

    /// Takes what a device wants to send and what happened to it, and re-arms its timer.
    pub(super) fn drain_device(&mut self, device: DeviceId) {
        let now = self.now;
        let arrives_at = self.arrival();
        let Some(d) = self.devices.get_mut(device as usize) else {
            return;
        };
        let client_id = d.spec.client_id.clone();
        let conn = d.conn;
        let sent: Vec<Bytes> = std::iter::from_fn(|| d.client.poll_transmit()).collect();
        // A client only transmits on a transport; with none, there is nothing to carry.
        if let Some(conn) = conn {
            for bytes in sent {
                let packet = self.trace_packet(
                    device,
                    client_id.clone(),
                    Direction::ToBroker,
                    arrives_at,
                    &bytes,
                );
                self.network.send(
                    arrives_at,
                    Delivery::ToBroker {
                        conn,
                        packet,
                        bytes,
                    },
                );
            }
        }
        let Some(d) = self.devices.get_mut(device as usize) else {
            return;
        };
        for event in d.poll_events() {
            match event {
                ClientEvent::Refused(error) => self.trace.push(TraceEntry::ClientRefused {
                    at: now.as_millis(),
                    device,
                    reason: error.to_string(),
                }),
                ClientEvent::Message(m) => self.trace.push(TraceEntry::Received {
                    at: now.as_millis(),
                    device,
                    topic: m.topic.as_str().to_owned(),
                    payload: String::from_utf8_lossy(&m.payload).into_owned(),
                    qos: m.qos.bits(),
                    packet_id: m.packet_id.map(|id| id.get()),
                    dup: m.dup,
                    retain: m.retain,
                }),
                _ => {}
            }
        }
        self.changed.insert(device);
        self.rearm(device);
    }

    /// Registers the device's next wake-up, replacing the one registered before.
    pub(super) fn rearm(&mut self, device: DeviceId) {
        let now = self.now;
        let Some(d) = self.devices.get_mut(device as usize) else {
            return;
        };
        if let Some(at) = d.armed.take() {
            self.device_timers.remove(&(at, device));
        }
        // A device never needs waking twice within one millisecond; the clamp guarantees
        // that a wake-up which changed nothing cannot spin the clock loop forever.
        let next = d.wake_at().map(|at| {
            if at <= now {
                now + Duration::from_millis(1)
            } else {
                at
            }
        });
        if let Some(at) = next {
            d.armed = Some(at);
            self.device_timers.insert((at, device));
        }
    }

    pub(super) fn lost(&mut self, packet: u64, reason: &'static str) {
        self.trace.push(TraceEntry::Lost {
            at: self.now.as_millis(),
            packet,
            reason,
        });
    }
}

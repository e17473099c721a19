//! Counters the server turns into metrics. Plain integers: cheap enough to keep always.

use std::collections::BTreeMap;

use crate::codec::PacketType;
use crate::event::DropReason;

/// Counters since the broker was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stats {
    /// Connections accepted.
    pub connections_accepted: u64,
    /// Packets received, indexed by packet type number (1 to 15; 0 unused).
    pub packets_in: [u64; 16],
    /// Packets sent, indexed by packet type number.
    pub packets_out: [u64; 16],
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Bytes of complete packets received, indexed by packet type number.
    pub bytes_in_by_type: [u64; 16],
    /// Bytes sent, indexed by packet type number.
    pub bytes_out_by_type: [u64; 16],
    /// Messages sent or queued to subscribers.
    pub deliveries: u64,
    /// Messages dropped because a session's queue was full.
    pub dropped_queue_full: u64,
    /// QoS 0 messages not kept for offline persistent sessions.
    pub dropped_qos0_offline: u64,
    /// Messages dropped over the aws-iot publish-rate quota.
    pub dropped_throttled: u64,
    /// QoS 0 messages dropped for a congested (slow-reading) connection.
    pub dropped_slow_consumer: u64,
    /// MQTT 5.0 messages that expired before they could be sent.
    pub dropped_expired: u64,
    /// MQTT 5.0 messages larger than the client's Maximum Packet Size.
    pub dropped_too_large: u64,
    /// Connections accepted, by protocol version: MQTT 3.1.1, then MQTT 5.0.
    pub connects_by_version: [u64; 2],
    /// Times a session became a slow consumer (backpressure).
    pub slow_consumers: u64,
    /// Connections closed for a protocol violation.
    pub protocol_violations: u64,
    /// How often each aws-iot rule fired, by its code (`D1`, `Q-payload`, ...).
    pub rules_fired: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// Packets of type `t` received.
    pub fn received(&self, t: PacketType) -> u64 {
        self.packets_in[t as usize]
    }

    /// Packets of type `t` sent.
    pub fn sent(&self, t: PacketType) -> u64 {
        self.packets_out[t as usize]
    }

    pub(crate) fn count_in(&mut self, t: PacketType, bytes: usize) {
        self.packets_in[t as usize] += 1;
        self.bytes_in_by_type[t as usize] += bytes as u64;
    }

    pub(crate) fn count_out(&mut self, t: PacketType, bytes: usize) {
        self.packets_out[t as usize] += 1;
        self.bytes_out += bytes as u64;
        self.bytes_out_by_type[t as usize] += bytes as u64;
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        match reason {
            DropReason::QueueFull => self.dropped_queue_full += 1,
            DropReason::Qos0Offline => self.dropped_qos0_offline += 1,
            DropReason::Throttled => self.dropped_throttled += 1,
            DropReason::SlowConsumer => self.dropped_slow_consumer += 1,
            DropReason::Expired => self.dropped_expired += 1,
            DropReason::TooLargeForClient => self.dropped_too_large += 1,
        }
    }
}

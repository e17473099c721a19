//! Session state (section 4.1): what the broker keeps for a client id, connected or not.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::map::Set;
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{ConnId, PacketId, QoS};

/// The index of a session in the broker's session table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub(crate) u32);

/// A message on its way to one subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: TopicName,
    /// The payload, shared between every subscriber's copy.
    pub payload: Bytes,
    /// The QoS of this delivery: the minimum of the publish and the subscription.
    pub qos: QoS,
    /// RETAIN on the outgoing PUBLISH: set only for retained messages sent because of a
    /// new subscription (MQTT-3.3.1-8, MQTT-3.3.1-9).
    pub retain: bool,
}

/// Where an outgoing QoS 1 or 2 message is in its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum InflightState {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    AwaitingPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}

/// An outgoing message that has a packet id and awaits acknowledgement.
#[derive(Clone, Debug)]
pub struct Inflight {
    pub(crate) packet_id: PacketId,
    pub(crate) message: Message,
    pub(crate) state: InflightState,
    pub(crate) sent_at: Instant,
}

/// Who a session's client is, for policy decisions: the principal policies attach to
/// (a certificate's common name, else the CONNECT user name) and the certificate's
/// common name for `${iot:Certificate.Subject.CommonName}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AuthContext {
    pub(crate) principal: Option<String>,
    pub(crate) common_name: Option<String>,
}

/// Everything the broker keeps for one client id.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) client_id: Arc<str>,
    pub(crate) clean: bool,
    pub(crate) conn: Option<ConnId>,
    /// Filter to granted QoS; a BTreeMap so views list subscriptions in a stable order.
    pub(crate) subscriptions: BTreeMap<TopicFilter, QoS>,
    /// Outgoing QoS 1/2 messages in the order they were first sent, which is the order
    /// they must be re-sent in (MQTT-4.6.0-1).
    pub(crate) inflight: VecDeque<Inflight>,
    /// Messages waiting for a connection or a free in-flight slot.
    pub(crate) queue: VecDeque<Message>,
    /// Incoming QoS 2 packet ids received (PUBREC sent) and not yet released by PUBREL.
    /// A PUBLISH with one of these ids is a duplicate and is not routed again
    /// (MQTT-4.3.3-2, method B of figure 4.3).
    pub(crate) qos2_received: Set<PacketId>,
    /// When the last connection ended, while no connection is attached.
    pub(crate) disconnected_at: Option<Instant>,
    /// Who the latest connection was, for iot:Receive checks, even while offline.
    pub(crate) auth: AuthContext,
    next_packet_id: PacketId,
}

impl Session {
    pub(crate) fn new(client_id: Arc<str>, clean: bool, qos2_received: Set<PacketId>) -> Self {
        Session {
            client_id,
            clean,
            conn: None,
            subscriptions: BTreeMap::new(),
            inflight: VecDeque::new(),
            queue: VecDeque::new(),
            qos2_received,
            disconnected_at: None,
            auth: AuthContext::default(),
            next_packet_id: PacketId::FIRST,
        }
    }

    /// Picks the next packet id not used by an in-flight message (MQTT-2.3.1-2). The
    /// window is bounded well below 65535, so a free id always exists.
    pub(crate) fn allocate_packet_id(&mut self) -> PacketId {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = id.next();
            if !self.inflight.iter().any(|m| m.packet_id == id) {
                return id;
            }
        }
    }

    pub(crate) fn inflight_position(&self, id: PacketId) -> Option<usize> {
        self.inflight.iter().position(|m| m.packet_id == id)
    }
}

/// A read-only view of one session, for the simulator's tables and for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SessionView {
    /// The client id.
    pub client_id: String,
    /// Whether a connection is attached.
    pub connected: bool,
    /// The connection, if attached.
    pub conn: Option<ConnId>,
    /// The Clean Session flag it was made with.
    pub clean_session: bool,
    /// Subscriptions with their granted QoS, sorted by filter.
    pub subscriptions: Vec<(TopicFilter, QoS)>,
    /// Packet ids and states of outgoing messages awaiting acknowledgement.
    pub inflight: Vec<(PacketId, InflightState)>,
    /// How many messages wait in the queue.
    pub queued: usize,
    /// Incoming QoS 2 packet ids awaiting PUBREL, sorted.
    pub awaiting_pubrel: Vec<PacketId>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        let mut awaiting_pubrel: Vec<PacketId> = s.qos2_received.iter().copied().collect();
        awaiting_pubrel.sort();
        SessionView {
            client_id: s.client_id.to_string(),
            connected: s.conn.is_some(),
            conn: s.conn,
            clean_session: s.clean,
            subscriptions: s
                .subscriptions
                .iter()
                .map(|(f, q)| (f.clone(), *q))
                .collect(),
            inflight: s.inflight.iter().map(|m| (m.packet_id, m.state)).collect(),
            queued: s.queue.len(),
            awaiting_pubrel,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::Hashing;

    fn message() -> Message {
        Message {
            topic: TopicName::new("t").expect("topic"),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
        }
    }

    #[test]
    fn mqtt_2_3_1_4_allocation_skips_ids_still_in_flight_after_wrapping() {
        let mut s = Session::new("c".into(), false, Hashing::new(0).set());
        let first = s.allocate_packet_id();
        s.inflight.push_back(Inflight {
            packet_id: first,
            message: message(),
            state: InflightState::AwaitingPubAck,
            sent_at: Instant::ZERO,
        });
        // Walk the counter all the way round: id 1 is still in flight and must be skipped.
        for _ in 0..65_534 {
            s.allocate_packet_id();
        }
        assert_eq!(s.allocate_packet_id().get(), 2);
    }
}

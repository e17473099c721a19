//! SUBSCRIBE and UNSUBSCRIBE (sections 3.8 and 3.10).

use super::Broker;
use crate::codec::{Packet, SubAck, Subscribe, Unsubscribe};
use crate::session::SessionId;
use crate::time::Instant;
use crate::types::{ConnId, SubscribeReturnCode};

impl Broker {
    pub(super) fn handle_subscribe(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        sub: Subscribe,
    ) {
        let max_qos = self.config.max_qos;
        let max_subscriptions = self.config.max_subscriptions;
        let mut codes = Vec::with_capacity(sub.filters.len());
        let mut granted = Vec::with_capacity(sub.filters.len());
        for (filter, requested) in sub.filters {
            let Some(s) = self.session_mut(session) else {
                return;
            };
            // A new filter beyond the session's limit is refused with 0x80 (MQTT-3.9.3-2
            // allows failure per filter); replacing an existing one is always allowed.
            let full = max_subscriptions.is_some_and(|max| s.subscriptions.len() >= max);
            if full && !s.subscriptions.contains_key(&filter) {
                codes.push(SubscribeReturnCode::Failure);
                continue;
            }
            // MQTT-3.8.4-6: the server may grant a lower QoS than requested.
            let qos = requested.min(max_qos);
            // MQTT-3.8.4-3: a filter equal to an existing one replaces that subscription.
            s.subscriptions.insert(filter.clone(), qos);
            self.index.insert(&filter, session, qos);
            codes.push(SubscribeReturnCode::Granted(qos));
            granted.push((filter, qos));
        }
        // MQTT-3.8.4-1, -2, -5: one SUBACK with the same packet id and one code per
        // filter, in order (MQTT-3.9.3-1).
        self.send(
            now,
            conn,
            Packet::SubAck(SubAck {
                packet_id: sub.packet_id,
                codes,
            }),
        );
        // MQTT-3.3.1-6 and MQTT-3.8.4-3: retained messages matching each (re)subscribed
        // filter follow the SUBACK.
        for (filter, qos) in granted {
            self.send_retained(now, session, &filter, qos);
        }
    }

    pub(super) fn handle_unsubscribe(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        unsub: Unsubscribe,
    ) {
        for filter in &unsub.filters {
            // MQTT-3.10.4-1: filters are compared character by character; MQTT-3.10.4-2:
            // the subscription stops at once. Messages already in flight complete
            // (MQTT-3.10.4-3) because the in-flight window is untouched.
            let removed = self
                .session_mut(session)
                .is_some_and(|s| s.subscriptions.remove(filter).is_some());
            if removed {
                self.index.remove(filter, session);
            }
        }
        // MQTT-3.10.4-4, -5: UNSUBACK with the same id, even if nothing matched.
        self.send(now, conn, Packet::UnsubAck(unsub.packet_id));
    }
}

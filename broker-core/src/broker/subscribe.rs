//! SUBSCRIBE and UNSUBSCRIBE (sections 3.8 and 3.10).

use core::time::Duration;

use super::aws::{check_topic, TopicUse};
use super::refusal::{Consequence, Refusal};
use super::Broker;
use crate::codec::{Packet, SubAck, Subscribe, Unsubscribe};
use crate::config::Qos2Mode;
use crate::policy::Action;
use crate::rule::Rule;
use crate::session::SessionId;
use crate::time::Instant;
use crate::types::{ConnId, QoS, SubscribeReturnCode};

impl Broker {
    pub(super) fn handle_subscribe(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        sub: Subscribe,
    ) {
        if self.aws().is_some() && !self.admit_aws_subscribe(now, conn, &sub) {
            return;
        }
        // Policies: iot:Subscribe on each filter, written literally (`+` and `#` included).
        let mut denied = Vec::new();
        for (filter, _) in &sub.filters {
            if !self.authorize_session(session, Action::Subscribe, filter.as_str()) {
                denied.push(filter.clone());
            }
        }
        if !denied.is_empty()
            && self.consequence(conn, &Refusal::SubscribeDenied) != Consequence::SubAckFailure
        {
            return self.refuse(now, conn, Refusal::SubscribeDenied);
        }
        let max_qos = self.config.max_qos;
        let max_subscriptions = self.config.max_subscriptions;
        // D4: under aws-iot a new subscription takes effect only after a delay.
        let delay = self.aws().map_or(0, |r| r.subscription_delay_ms);
        let active_from = now + Duration::from_millis(delay);
        let mut codes = Vec::with_capacity(sub.filters.len());
        let mut granted = Vec::with_capacity(sub.filters.len());
        for (filter, requested) in sub.filters {
            // A denied filter gets the failure code; the others are granted (MQTT-3.9.3-2).
            if denied.contains(&filter) {
                codes.push(SubscribeReturnCode::Failure);
                continue;
            }
            let Some(s) = self.session_mut(session) else {
                return;
            };
            // A new filter beyond the session's limit is refused with 0x80 (MQTT-3.9.3-2
            // allows failure per filter); replacing an existing one is always allowed.
            let full = max_subscriptions.is_some_and(|max| s.subscriptions.len() >= max);
            if full && !s.subscriptions.contains_key(&filter) {
                codes.push(SubscribeReturnCode::Failure);
                if self.aws().is_some() {
                    self.fire(
                        Rule::TooManySubscriptions,
                        Some(conn),
                        format!("{filter} refused with 0x80"),
                    );
                }
                continue;
            }
            // MQTT-3.8.4-6: the server may grant a lower QoS than requested.
            let qos = requested.min(max_qos);
            // MQTT-3.8.4-3: a filter equal to an existing one replaces that subscription.
            s.subscriptions.insert(filter.clone(), qos);
            self.index.insert(&filter, session, qos, active_from);
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
        for (filter, qos) in &granted {
            self.send_retained(now, session, filter, *qos);
        }
        if let Some(l) = self.lifecycle_of(conn) {
            let topics: Vec<_> = granted.into_iter().map(|(f, _)| f).collect();
            self.publish_subscriptions(now, &l, true, &topics);
        }
    }

    /// The aws-iot profile's rules for a SUBSCRIBE. Returns false if it goes no further.
    fn admit_aws_subscribe(&mut self, now: Instant, conn: ConnId, sub: &Subscribe) -> bool {
        let Some(rules) = self.aws() else {
            return true;
        };
        let (max_filters, qos2) = (rules.max_filters_per_subscribe, rules.qos2);
        if sub.filters.len() > max_filters {
            let detail = format!("{} filters, limit {max_filters}", sub.filters.len());
            self.rule_violation(now, conn, Rule::TooManyFiltersPerSubscribe, detail);
            return false;
        }
        for (filter, _) in &sub.filters {
            let rules = &self.config.aws;
            if let Err((rule, detail)) = check_topic(rules, filter.as_str(), TopicUse::Subscribe) {
                self.rule_violation(now, conn, rule, detail);
                return false;
            }
        }
        // D2: a SUBSCRIBE asking QoS 2 for any filter gets no SUBACK. We subscribe none
        // of its filters, so a device cannot come to rely on a subscription it was
        // never told about (docs/aws-iot-profile.md explains the choice).
        if sub.filters.iter().any(|(_, q)| *q == QoS::ExactlyOnce) {
            match qos2 {
                Qos2Mode::Disconnect => self.rule_violation(
                    now,
                    conn,
                    Rule::D2Qos2Unsupported,
                    "SUBSCRIBE asking QoS 2".into(),
                ),
                Qos2Mode::Ignore => self.fire(
                    Rule::D2Qos2Unsupported,
                    Some(conn),
                    "SUBSCRIBE asking QoS 2: no SUBACK".into(),
                ),
            }
            return false;
        }
        true
    }

    pub(super) fn handle_unsubscribe(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        unsub: Unsubscribe,
    ) {
        let mut removed_filters = Vec::new();
        for filter in &unsub.filters {
            // MQTT-3.10.4-1: filters are compared character by character; MQTT-3.10.4-2:
            // the subscription stops at once. Messages already in flight complete
            // (MQTT-3.10.4-3) because the in-flight window is untouched.
            let removed = self
                .session_mut(session)
                .is_some_and(|s| s.subscriptions.remove(filter).is_some());
            if removed {
                self.index.remove(filter, session);
                removed_filters.push(filter.clone());
            }
        }
        // MQTT-3.10.4-4, -5: UNSUBACK with the same id, even if nothing matched.
        self.send(now, conn, Packet::UnsubAck(unsub.packet_id));
        if let Some(l) = self.lifecycle_of(conn) {
            self.publish_subscriptions(now, &l, false, &removed_filters);
        }
    }
}

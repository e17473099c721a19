//! SUBSCRIBE and UNSUBSCRIBE (sections 3.8 and 3.10), in MQTT 3.1.1 and 5.0, shared
//! subscriptions included (MQTT 5.0 section 4.8.2; AWS IoT offers them over 3.1.1 too).

use core::time::Duration;

use super::aws::{check_topic, TopicUse};
use super::refusal::{Consequence, Refusal};
use super::Broker;
use crate::codec::{Packet, Properties, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe};
use crate::config::Qos2Mode;
use crate::event::Violation;
use crate::policy::Action;
use crate::rule::Rule;
use crate::session::{SessionId, Subscription};
use crate::time::Instant;
use crate::topic::TopicFilter;
use crate::types::{ConnId, QoS, SubscribeReturnCode};

/// Splits a shared subscription's filter, `$share/{group}/{filter}`, into its group and
/// the filter proper; any other filter has no group.
pub(super) fn split_shared(filter: &TopicFilter) -> (Option<String>, TopicFilter) {
    match parse_shared(filter) {
        Some(Ok((group, inner))) => (Some(group), inner),
        _ => (None, filter.clone()),
    }
}

/// `Some` for a filter starting with `$share/`: its group and filter, or an error if the
/// group name is empty or holds a wildcard, or no filter follows (MQTT-4.8.2-1, -2).
fn parse_shared(filter: &TopicFilter) -> Option<Result<(String, TopicFilter), ()>> {
    let rest = filter.as_str().strip_prefix("$share/")?;
    let Some((group, inner)) = rest.split_once('/') else {
        return Some(Err(()));
    };
    if group.is_empty() || group.contains(['+', '#']) {
        return Some(Err(()));
    }
    Some(
        TopicFilter::new(inner)
            .map(|f| (group.to_owned(), f))
            .map_err(|_| ()),
    )
}

impl Broker {
    pub(super) fn handle_subscribe(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        sub: Subscribe,
    ) {
        let v5 = sub.properties.is_some();
        let id = sub
            .properties
            .as_ref()
            .and_then(|p| p.subscription_identifiers().next());
        if id.is_some() && !self.config.subscription_identifiers {
            // CONNACK said Subscription Identifiers are not available (section
            // 3.2.2.3.12), so a client may not send one; AWS IoT answers DISCONNECT 0xA1.
            if self.aws().is_some() {
                let detail = "SUBSCRIBE with a Subscription Identifier".to_owned();
                return self.rule_violation(
                    now,
                    conn,
                    Rule::SubscriptionIdentifiersUnsupported,
                    detail,
                );
            }
            return self.violation(now, conn, Violation::SubscriptionIdentifiersUnsupported);
        }
        if sub
            .filters
            .iter()
            .any(|(f, o)| o.no_local && parse_shared(f).is_some())
        {
            return self.violation(now, conn, Violation::NoLocalOnSharedSubscription);
        }
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
        let denial = self.consequence(conn, &Refusal::SubscribeDenied);
        if !denied.is_empty() && !matches!(denial, Consequence::SubAckFailure(_)) {
            return self.refuse(now, conn, Refusal::SubscribeDenied);
        }
        let max_qos = self.config.max_qos;
        let max_subscriptions = self.config.max_subscriptions;
        // D4: under aws-iot a new subscription takes effect only after a delay.
        let delay = self.aws().map_or(0, |r| r.subscription_delay_ms);
        let active_from = now + Duration::from_millis(delay);
        let mut codes = Vec::with_capacity(sub.filters.len());
        let mut granted = Vec::with_capacity(sub.filters.len());
        for (filter, mut options) in sub.filters {
            let refusal = if denied.contains(&filter) {
                Some(Refusal::SubscribeDenied)
            } else if self
                .config
                .refused_filters
                .iter()
                .any(|f| f == filter.as_str())
            {
                Some(Refusal::FilterRefused)
            } else {
                self.filter_refusal(&filter)
            };
            if let Some(refusal) = refusal {
                codes.push(self.failure_code(conn, &refusal));
                continue;
            }
            let Some(s) = self.session_mut(session) else {
                return;
            };
            // A new filter beyond the session's limit is refused (MQTT-3.9.3-2 allows
            // failure per filter); replacing an existing one is always allowed.
            let existed = s.subscriptions.contains_key(&filter);
            let full = max_subscriptions.is_some_and(|max| s.subscriptions.len() >= max);
            if full && !existed {
                codes.push(self.failure_code(conn, &Refusal::SubscriptionLimit));
                if self.aws().is_some() {
                    let detail = format!("{filter} refused");
                    self.fire(Rule::TooManySubscriptions, Some(conn), detail);
                }
                continue;
            }
            // MQTT-3.8.4-6: the server may grant a lower QoS than requested.
            options.qos = options.qos.min(max_qos);
            let subscription = Subscription { options, id };
            // MQTT-3.8.4-3: a filter equal to an existing one replaces that subscription.
            s.subscriptions.insert(filter.clone(), subscription);
            let (group, inner) = split_shared(&filter);
            self.index
                .insert(group.as_deref(), &inner, session, subscription, active_from);
            codes.push(SubscribeReturnCode::Granted(options.qos));
            granted.push((filter, subscription, existed, group.is_some()));
        }
        // MQTT-3.8.4-1, -2, -5 (3.1.1; MQTT-3.8.4-1 to -6 in 5.0): one SUBACK with the
        // same packet id and one code per filter, in order (MQTT-3.9.3-1).
        let properties = v5.then(Properties::new);
        self.send(
            now,
            conn,
            Packet::SubAck(SubAck {
                packet_id: sub.packet_id,
                codes,
                properties,
            }),
        );
        // MQTT-3.3.1-6 and MQTT-3.8.4-3: retained messages matching each (re)subscribed
        // filter follow the SUBACK; a shared subscription gets none (section 4.8.2).
        for (filter, subscription, existed, shared) in &granted {
            if !shared {
                let (options, id) = (subscription.options, subscription.id);
                self.send_retained(now, session, filter, options, *existed, id);
            }
        }
        if let Some(l) = self.lifecycle_of(conn) {
            let topics: Vec<_> = granted.into_iter().map(|(f, ..)| f).collect();
            self.publish_subscriptions(now, &l, true, &topics);
        }
    }

    /// Why a filter cannot be subscribed to at all: a malformed shared subscription
    /// (MQTT-4.8.2-1, -2), or shared subscriptions switched off.
    fn filter_refusal(&self, filter: &TopicFilter) -> Option<Refusal> {
        match parse_shared(filter) {
            Some(Err(())) => Some(Refusal::InvalidSharedFilter),
            Some(Ok(_)) if !self.config.shared_subscriptions => {
                Some(Refusal::SharedSubscriptionsOff)
            }
            _ => None,
        }
    }

    /// The SUBACK code for a filter refused with `refusal`.
    fn failure_code(&self, conn: ConnId, refusal: &Refusal) -> SubscribeReturnCode {
        match self.consequence(conn, refusal) {
            Consequence::SubAckFailure(code) => code,
            _ => SubscribeReturnCode::Failure,
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
            // "The two required slashes ... for $share/{ShareName}/{TopicFilter} are not
            // included in the Maximum number of slashes": the filter proper is checked.
            let (_, inner) = split_shared(filter);
            let rules = &self.config.aws;
            if let Err((rule, detail)) = check_topic(rules, inner.as_str(), TopicUse::Subscribe) {
                self.rule_violation(now, conn, rule, detail);
                return false;
            }
        }
        // D2: a SUBSCRIBE asking QoS 2 for any filter gets no SUBACK. We subscribe none
        // of its filters, so a device cannot come to rely on a subscription it was
        // never told about (docs/aws-iot-profile.md explains the choice).
        if sub.filters.iter().any(|(_, o)| o.qos == QoS::ExactlyOnce) {
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
        let v5 = unsub.properties.is_some();
        let mut removed_filters = Vec::new();
        let mut codes = Vec::with_capacity(unsub.filters.len());
        for filter in &unsub.filters {
            // MQTT-3.10.4-1: filters are compared character by character; MQTT-3.10.4-2:
            // the subscription stops at once. Messages already in flight complete
            // (MQTT-3.10.4-3) because the in-flight window is untouched.
            let removed = self
                .session_mut(session)
                .is_some_and(|s| s.subscriptions.remove(filter).is_some());
            if removed {
                let (group, inner) = split_shared(filter);
                self.index.remove(group.as_deref(), &inner, session);
                removed_filters.push(filter.clone());
                codes.push(ReasonCode::SUCCESS);
            } else {
                // MQTT 5.0: one Reason Code per filter; 0x11 where nothing matched.
                codes.push(ReasonCode::NO_SUBSCRIPTION_EXISTED);
            }
        }
        // MQTT-3.10.4-4, -5: UNSUBACK with the same id, even if nothing matched.
        let unsuback = if v5 {
            UnsubAck {
                packet_id: unsub.packet_id,
                codes,
                properties: Some(Properties::new()),
            }
        } else {
            UnsubAck::v311(unsub.packet_id)
        };
        self.send(now, conn, Packet::UnsubAck(unsuback));
        if let Some(l) = self.lifecycle_of(conn) {
            self.publish_subscriptions(now, &l, false, &removed_filters);
        }
    }
}

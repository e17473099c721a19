//! Routing a message to the sessions whose subscriptions match its topic: ordinary
//! subscriptions, one member of each shared-subscription group (MQTT 5.0 section 4.8.2),
//! and the retained store (section 3.3.1.3).

use std::sync::Arc;

use core::time::Duration;

use bytes::Bytes;

use super::deliver::Encoded;
use super::Broker;
use crate::codec::{LastWill, Properties, RetainHandling, SubscriptionOptions};
use crate::event::Event;
use crate::index::{Matched, Skipped};
use crate::retained::RetainedMessage;
use crate::rule::Rule;
use crate::session::SessionId;
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::QoS;

/// A message on its way to its subscribers.
#[derive(Clone, Debug)]
pub(super) struct Routed<'a> {
    pub(super) topic: &'a TopicName,
    pub(super) payload: &'a Bytes,
    pub(super) qos: QoS,
    pub(super) retain: bool,
    /// The MQTT 5.0 properties subscribers get.
    pub(super) properties: Option<Arc<Properties>>,
    pub(super) expires_at: Option<Instant>,
    /// The publisher's session, for No Local.
    pub(super) from: Option<SessionId>,
    /// The one session the message is for, if it is a reply to a request (the Device
    /// Shadow service's); `None` for every subscriber.
    pub(super) to: Option<SessionId>,
}

/// One session's delivery of a routed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Delivery {
    pub(super) qos: QoS,
    pub(super) retain: bool,
    pub(super) subscription_ids: Vec<u32>,
}

impl Broker {
    /// Delivers a message to every matching subscription, and updates the retained store
    /// if it is retained.
    pub(super) fn route(&mut self, now: Instant, m: &Routed<'_>) {
        if m.retain {
            self.update_retained(now, m);
        }
        let mut found = std::mem::take(&mut self.found);
        found.clear();
        self.index.matches(m.topic, now, m.from, &mut found);
        let mut cache = Encoded::default();
        let check_receive = self.config.policies.is_some();
        let mut i = 0;
        while i < found.direct.len() {
            // A session's entries are next to each other, highest QoS first: one delivery
            // each (section 3.3.5), carrying every matching Subscription Identifier
            // (MQTT-3.3.4-3), with RETAIN if any of them asks Retain As Published.
            let first = found.direct[i];
            let mut end = i + 1;
            while end < found.direct.len() && found.direct[end].session == first.session {
                end += 1;
            }
            let entries = &found.direct[i..end];
            i = end;
            if m.to.is_some_and(|to| to != first.session) {
                continue;
            }
            // Policies: a denied iot:Receive silently skips this subscriber.
            if check_receive && !self.may_receive(first.session, m.topic) {
                continue;
            }
            let delivery = delivery_of(m, entries);
            self.deliver(now, first.session, m, delivery, &mut cache);
        }
        if !found.shared.is_empty() {
            self.route_shared(now, m, &found.shared, &mut cache);
        }
        if !found.skipped.is_empty() {
            let direct = std::mem::take(&mut found.direct);
            self.report_skipped(m.topic, &direct, &mut found.skipped);
            found.direct = direct;
        }
        self.found = found;
    }

    /// Delivers to one member of each matching shared-subscription group (section 4.8.2),
    /// chosen at random from the seeded generator (AWS IoT: "one client will receive
    /// messages ... using a random distribution"). Connected members come first; a group
    /// whose members are all offline queues the message with one of its persistent
    /// members, so that it is not lost.
    fn route_shared(
        &mut self,
        now: Instant,
        m: &Routed<'_>,
        shared: &[(u32, Matched)],
        cache: &mut Encoded,
    ) {
        let mut start = 0;
        while start < shared.len() {
            let group = shared[start].0;
            let mut end = start + 1;
            while end < shared.len() && shared[end].0 == group {
                end += 1;
            }
            let members = &shared[start..end];
            start = end;
            let online: Vec<&Matched> = members
                .iter()
                .map(|(_, matched)| matched)
                .filter(|matched| m.to.is_none_or(|to| to == matched.session))
                .filter(|matched| self.session_conn(matched.session).is_some())
                .collect();
            if m.to.is_some() && online.is_empty() {
                continue;
            }
            let candidates: Vec<&Matched> = if online.is_empty() {
                members.iter().map(|(_, matched)| matched).collect()
            } else {
                online
            };
            let pick = (self.rng.next_u64() % candidates.len() as u64) as usize;
            let chosen = *candidates[pick];
            if self.config.policies.is_some() && !self.may_receive(chosen.session, m.topic) {
                continue;
            }
            let delivery = delivery_of(m, core::slice::from_ref(&chosen));
            self.deliver(now, chosen.session, m, delivery, cache);
        }
    }

    /// Publishes a Will: an Application Message like any other (section 3.1.2.5), whose
    /// MQTT 5.0 Will Properties become its properties.
    pub(super) fn route_will(&mut self, now: Instant, from: Option<SessionId>, will: LastWill) {
        let expires_at = will
            .properties
            .message_expiry_interval()
            .map(|s| now + Duration::from_secs(u64::from(s)));
        let mut kept = will.properties.clone();
        kept.0.retain(|p| {
            !matches!(
                p,
                crate::codec::Property::WillDelayInterval(_)
                    | crate::codec::Property::MessageExpiryInterval(_)
            )
        });
        let properties = (!kept.is_empty()).then(|| Arc::new(kept));
        self.route(
            now,
            &Routed {
                topic: &will.topic,
                payload: &will.payload,
                qos: will.qos,
                retain: will.retain,
                properties,
                expires_at,
                from,
                to: None,
            },
        );
    }

    /// Publishes a message the broker makes itself (AWS IoT's lifecycle events at QoS 0,
    /// the Device Shadow service's replies at QoS 1), to every subscriber or, with `to`,
    /// to that session's subscriptions only.
    pub(super) fn route_own(
        &mut self,
        now: Instant,
        topic: &TopicName,
        payload: Bytes,
        qos: QoS,
        to: Option<SessionId>,
    ) {
        self.route(
            now,
            &Routed {
                topic,
                payload: &payload,
                qos,
                retain: false,
                properties: None,
                expires_at: None,
                from: None,
                to,
            },
        );
    }

    /// Fires D4 or the `#`-parent rule for sessions a message did not reach only
    /// because of them (not those it reached through another filter), once each.
    fn report_skipped(
        &mut self,
        topic: &TopicName,
        matched: &[Matched],
        skipped: &mut Vec<(SessionId, Skipped)>,
    ) {
        skipped.sort_by_key(|(s, why)| (*s, *why as u8));
        skipped.dedup_by_key(|(s, _)| *s);
        for &(session, why) in skipped.iter() {
            if matched.iter().any(|m| m.session == session) {
                continue;
            }
            let rule = match why {
                Skipped::Pending => Rule::D4SubscriptionDelay,
                Skipped::HashParent => Rule::HashExcludesParent,
            };
            let conn = self.session_conn(session);
            let detail = format!("{topic} not delivered to {:?}", self.client_id_of(session));
            self.fire(rule, conn, detail);
        }
    }

    /// MQTT-3.3.1-5: a retained PUBLISH replaces the topic's retained message.
    /// MQTT-3.3.1-10 and -11: a zero-byte one deletes it and is not stored itself; it is
    /// still delivered to current subscribers like any other message.
    fn update_retained(&mut self, now: Instant, m: &Routed<'_>) {
        self.retained_changed(m.topic);
        if m.payload.is_empty() {
            if self.retained.remove(m.topic) {
                self.emit(Event::RetainedDeleted {
                    topic: m.topic.clone(),
                });
            }
        } else {
            let message = RetainedMessage {
                topic: m.topic.clone(),
                payload: m.payload.clone(),
                qos: m.qos,
                stored_at: now,
                properties: m.properties.clone(),
                expires_at: m.expires_at,
            };
            self.retained.store(message);
            self.emit(Event::RetainedStored {
                topic: m.topic.clone(),
            });
        }
    }

    /// Sends the retained messages matching a new subscription, with RETAIN=1
    /// (MQTT-3.3.1-6, MQTT-3.3.1-8), unless MQTT 5.0's Retain Handling says otherwise
    /// (MQTT-3.3.1-9, -10, -11): 1 sends them only for a subscription that did not exist,
    /// 2 never. A shared subscription gets none (section 4.8.2). AWS's retained messages
    /// (D5, exact-match mode) reach only subscriptions whose filter has no wildcard.
    /// Expired retained messages are not sent (MQTT-3.3.2-5).
    pub(super) fn send_retained(
        &mut self,
        now: Instant,
        session: SessionId,
        filter: &TopicFilter,
        options: SubscriptionOptions,
        existed: bool,
        id: Option<u32>,
    ) {
        match options.retain_handling {
            RetainHandling::Never => return,
            RetainHandling::OnNewSubscription if existed => return,
            _ => {}
        }
        let messages: Vec<RetainedMessage> = self
            .retained
            .matching(filter)
            .into_iter()
            .filter(|r| r.expires_at.is_none_or(|at| at > now))
            .cloned()
            .collect();
        if messages.is_empty() {
            return;
        }
        if self.aws().is_some() && !filter.is_exact() {
            let conn = self.session_conn(session);
            let detail = format!(
                "{} retained message(s) not sent through wildcard filter {filter}",
                messages.len()
            );
            return self.fire(Rule::D5Retain, conn, detail);
        }
        for r in messages {
            let routed = Routed {
                topic: &r.topic,
                payload: &r.payload,
                qos: r.qos,
                retain: true,
                properties: r.properties.clone(),
                expires_at: r.expires_at,
                from: None,
                to: None,
            };
            let delivery = Delivery {
                qos: r.qos.min(options.qos),
                retain: true,
                subscription_ids: id.into_iter().collect(),
            };
            self.deliver(now, session, &routed, delivery, &mut Encoded::default());
        }
    }

    pub(super) fn client_id_of(&self, session: SessionId) -> String {
        self.session_ref(session)
            .map(|s| s.client_id.to_string())
            .unwrap_or_default()
    }
}

/// One session's delivery from its matching subscriptions (`entries`, highest QoS
/// first): the lesser of the published and granted QoS (section 3.8.4), RETAIN only with
/// Retain As Published (MQTT-3.3.1-12, -13; always clear in 3.1.1, MQTT-3.3.1-9), and
/// every Subscription Identifier.
fn delivery_of(m: &Routed<'_>, entries: &[Matched]) -> Delivery {
    let granted = entries.first().map_or(QoS::AtMostOnce, |e| e.qos);
    let rap = entries.iter().any(|e| e.retain_as_published);
    let mut subscription_ids: Vec<u32> = entries.iter().filter_map(|e| e.id).collect();
    subscription_ids.sort_unstable();
    subscription_ids.dedup();
    Delivery {
        qos: m.qos.min(granted),
        retain: m.retain && rap,
        subscription_ids,
    }
}

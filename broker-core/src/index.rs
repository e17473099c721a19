//! The subscription index: which sessions want a message published to a topic.
//!
//! A trie keyed by filter level, so a publish walks one path per topic level (plus the
//! `+` and `#` branches) instead of testing every filter. Each node holds the sessions
//! whose filter ends there, and the groups of shared subscriptions on that filter (MQTT
//! 5.0 section 4.8.2). The answer is cross-checked against the reference matcher
//! `topic::matches` by a property test.

use crate::map::{Hashing, Map};
use crate::session::{SessionId, Subscription};
use crate::time::Instant;
use crate::topic::{HashMatchesParent, TopicFilter, TopicName};
use crate::types::QoS;

/// One session's subscription at a node: what it asked, and when it takes effect (the
/// aws-iot profile's rule D4 delays it after SUBACK; otherwise it is the subscribe
/// instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    subscription: Subscription,
    active_from: Instant,
}

/// One matching subscription of a session, as routing needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Matched {
    pub(crate) session: SessionId,
    pub(crate) qos: QoS,
    pub(crate) retain_as_published: bool,
    pub(crate) id: Option<u32>,
}

/// Why a subscription that matches a topic's text did not receive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skipped {
    /// The subscription is not in effect yet (D4).
    Pending,
    /// `a/#` does not match `a` under `HashMatchesParent::No`.
    HashParent,
}

#[derive(Debug)]
struct Node {
    children: Map<Box<str>, Node>,
    subscribers: Map<SessionId, Entry>,
    /// Shared subscriptions ending here, by group name.
    shared: Map<Box<str>, Map<SessionId, Entry>>,
}

impl Node {
    fn new(h: Hashing) -> Self {
        Node {
            children: h.map(),
            subscribers: h.map(),
            shared: h.map(),
        }
    }

    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty() && self.shared.is_empty()
    }
}

/// The sessions subscribed to each filter.
#[derive(Debug)]
pub struct SubscriptionIndex {
    root: Node,
    hashing: Hashing,
    parent: HashMatchesParent,
    len: usize,
}

/// What matching a topic found: ordinary subscriptions, and the members of each
/// matching shared-subscription group, numbered by group.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) direct: Vec<Matched>,
    pub(crate) shared: Vec<(u32, Matched)>,
    pub(crate) skipped: Vec<(SessionId, Skipped)>,
}

impl Found {
    pub(crate) fn clear(&mut self) {
        self.direct.clear();
        self.shared.clear();
        self.skipped.clear();
    }
}

impl SubscriptionIndex {
    /// An empty index; `parent` decides whether `a/#` matches `a`.
    pub fn new(hashing: Hashing, parent: HashMatchesParent) -> Self {
        SubscriptionIndex {
            root: Node::new(hashing),
            hashing,
            parent,
            len: 0,
        }
    }

    /// How many (session, filter) subscriptions the index holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nobody is subscribed to anything.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds or replaces `session`'s subscription to `filter`, or to the shared group
    /// `group` on it (MQTT-3.8.4-3: a repeated filter replaces the old subscription), in
    /// effect from `active_from`. A replaced subscription keeps its original start, so
    /// re-subscribing never opens a gap. Returns whether it replaced one.
    pub(crate) fn insert(
        &mut self,
        group: Option<&str>,
        filter: &TopicFilter,
        session: SessionId,
        subscription: Subscription,
        active_from: Instant,
    ) -> bool {
        let h = self.hashing;
        let mut node = &mut self.root;
        for level in filter.levels() {
            node = node
                .children
                .entry(level.into())
                .or_insert_with(|| Node::new(h));
        }
        let members = match group {
            None => &mut node.subscribers,
            Some(g) => node.shared.entry(g.into()).or_insert_with(|| h.map()),
        };
        match members.get_mut(&session) {
            Some(entry) => {
                entry.subscription = subscription;
                true
            }
            None => {
                members.insert(
                    session,
                    Entry {
                        subscription,
                        active_from,
                    },
                );
                self.len += 1;
                false
            }
        }
    }

    /// Removes `session`'s subscription to `filter` (in `group`, if shared); returns
    /// whether there was one.
    pub(crate) fn remove(
        &mut self,
        group: Option<&str>,
        filter: &TopicFilter,
        session: SessionId,
    ) -> bool {
        let removed = remove_at(&mut self.root, filter.levels(), group, session);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Collects into `found` every subscription matching `topic` and in effect at `now`,
    /// leaving out those with No Local when `from` (the publisher's session) is the
    /// subscriber (MQTT-3.8.3-3). Ordinary subscriptions come sorted by session, so that
    /// routing can merge a session's several matching filters into one delivery (section
    /// 3.3.5). Shared groups come as their members, numbered by group. The order is
    /// deterministic. Sessions passed over only because a subscription is not in effect
    /// yet, or because of `HashMatchesParent::No`, go to `skipped`.
    pub(crate) fn matches(
        &self,
        topic: &TopicName,
        now: Instant,
        from: Option<SessionId>,
        found: &mut Found,
    ) {
        let mut nodes = 0;
        let mut walk = Walk {
            system: topic.is_system(),
            parent: self.parent,
            now,
            from,
            found,
            nodes: &mut nodes,
            groups: 0,
        };
        walk.visit(&self.root, topic.levels(), true);
        if nodes > 1 {
            // Several filters matched: one session may appear more than once, and routing
            // merges its entries when they are next to each other.
            found
                .direct
                .sort_unstable_by(|a, b| a.session.cmp(&b.session).then(b.qos.cmp(&a.qos)));
        }
    }
}

struct Walk<'a> {
    system: bool,
    parent: HashMatchesParent,
    now: Instant,
    from: Option<SessionId>,
    found: &'a mut Found,
    nodes: &'a mut usize,
    groups: u32,
}

impl Walk<'_> {
    fn matched(session: SessionId, entry: &Entry) -> Matched {
        Matched {
            session,
            qos: entry.subscription.options.qos,
            retain_as_published: entry.subscription.options.retain_as_published,
            id: entry.subscription.id,
        }
    }

    fn take(&mut self, node: &Node) {
        if !node.subscribers.is_empty() {
            *self.nodes += 1;
            for (session, entry) in &node.subscribers {
                if entry.active_from > self.now {
                    self.found.skipped.push((*session, Skipped::Pending));
                } else if !(entry.subscription.options.no_local && Some(*session) == self.from) {
                    self.found.direct.push(Self::matched(*session, entry));
                }
            }
        }
        for members in node.shared.values() {
            let group = self.groups;
            self.groups += 1;
            for (session, entry) in members {
                if entry.active_from <= self.now {
                    self.found
                        .shared
                        .push((group, Self::matched(*session, entry)));
                }
            }
        }
    }

    fn visit<'t>(&mut self, node: &Node, mut rest: core::str::Split<'t, char>, first: bool) {
        // MQTT-4.7.2-1: at the first level, wildcards never match a `$` topic.
        let wildcards = !(first && self.system);
        let Some(level) = rest.next() else {
            self.take(node);
            // `a/#` also matches `a` itself in MQTT (section 4.7.1.2), not in AWS IoT.
            if let Some(hash) = node.children.get("#") {
                match self.parent {
                    HashMatchesParent::Yes => self.take(hash),
                    HashMatchesParent::No => self
                        .found
                        .skipped
                        .extend(hash.subscribers.keys().map(|s| (*s, Skipped::HashParent))),
                }
            }
            return;
        };
        if wildcards {
            if let Some(hash) = node.children.get("#") {
                self.take(hash);
            }
            if let Some(plus) = node.children.get("+") {
                self.visit(plus, rest.clone(), false);
            }
        }
        if let Some(child) = node.children.get(level) {
            self.visit(child, rest, false);
        }
    }
}

fn remove_at(
    node: &mut Node,
    mut levels: core::str::Split<'_, char>,
    group: Option<&str>,
    session: SessionId,
) -> bool {
    let Some(level) = levels.next() else {
        return match group {
            None => node.subscribers.remove(&session).is_some(),
            Some(g) => {
                let Some(members) = node.shared.get_mut(g) else {
                    return false;
                };
                let removed = members.remove(&session).is_some();
                if members.is_empty() {
                    node.shared.remove(g);
                }
                removed
            }
        };
    };
    let Some(child) = node.children.get_mut(level) else {
        return false;
    };
    let removed = remove_at(child, levels, group, session);
    // Prune branches nobody uses any more, so a churn of unique filters cannot grow the
    // trie without bound.
    if child.is_empty() {
        node.children.remove(level);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::SubscriptionOptions;

    fn index() -> SubscriptionIndex {
        SubscriptionIndex::new(Hashing::new(1), HashMatchesParent::Yes)
    }

    fn f(s: &str) -> TopicFilter {
        TopicFilter::new(s).expect("filter")
    }

    fn sub(qos: QoS) -> Subscription {
        Subscription {
            options: SubscriptionOptions::from(qos),
            id: None,
        }
    }

    fn found(ix: &SubscriptionIndex, topic: &str) -> Vec<(SessionId, QoS)> {
        let mut found = Found::default();
        let topic = TopicName::new(topic).expect("topic");
        ix.matches(&topic, Instant::ZERO, None, &mut found);
        let mut out: Vec<_> = found.direct.iter().map(|m| (m.session, m.qos)).collect();
        out.sort();
        out.dedup_by_key(|(s, _)| *s);
        out
    }

    #[test]
    fn pending_subscriptions_are_skipped_until_in_effect() {
        let mut ix = index();
        let later = Instant::from_millis(100);
        ix.insert(None, &f("a"), SessionId(1), sub(QoS::AtMostOnce), later);
        let topic = TopicName::new("a").expect("topic");
        let mut found = Found::default();
        ix.matches(&topic, Instant::from_millis(99), None, &mut found);
        assert!(found.direct.is_empty());
        assert_eq!(found.skipped, [(SessionId(1), Skipped::Pending)]);
        found.clear();
        ix.matches(&topic, later, None, &mut found);
        assert_eq!(found.direct.len(), 1);
    }

    #[test]
    fn overlapping_filters_come_sorted_highest_qos_first() {
        let mut ix = index();
        let s = SessionId(3);
        ix.insert(None, &f("a/+"), s, sub(QoS::AtMostOnce), Instant::ZERO);
        ix.insert(None, &f("a/#"), s, sub(QoS::ExactlyOnce), Instant::ZERO);
        ix.insert(None, &f("a/b"), s, sub(QoS::AtLeastOnce), Instant::ZERO);
        let mut found = Found::default();
        ix.matches(
            &TopicName::new("a/b").expect("topic"),
            Instant::ZERO,
            None,
            &mut found,
        );
        let qos: Vec<QoS> = found.direct.iter().map(|m| m.qos).collect();
        assert_eq!(qos, [QoS::ExactlyOnce, QoS::AtLeastOnce, QoS::AtMostOnce]);
    }

    #[test]
    fn resubscribing_replaces_and_does_not_count_twice() {
        let mut ix = index();
        assert!(!ix.insert(
            None,
            &f("x"),
            SessionId(1),
            sub(QoS::AtMostOnce),
            Instant::ZERO
        ));
        assert!(ix.insert(
            None,
            &f("x"),
            SessionId(1),
            sub(QoS::AtLeastOnce),
            Instant::ZERO
        ));
        assert_eq!(ix.len(), 1);
        assert_eq!(found(&ix, "x"), vec![(SessionId(1), QoS::AtLeastOnce)]);
    }

    #[test]
    fn removal_prunes_and_stops_matching() {
        let mut ix = index();
        ix.insert(
            None,
            &f("a/b/c"),
            SessionId(1),
            sub(QoS::AtMostOnce),
            Instant::ZERO,
        );
        assert!(ix.remove(None, &f("a/b/c"), SessionId(1)));
        assert!(!ix.remove(None, &f("a/b/c"), SessionId(1)));
        assert!(ix.root.is_empty());
        assert!(found(&ix, "a/b/c").is_empty());
    }

    #[test]
    fn mqtt_3_8_3_3_no_local_leaves_out_the_publishers_own_subscription() {
        let mut ix = index();
        let mut own = sub(QoS::AtLeastOnce);
        own.options.no_local = true;
        ix.insert(None, &f("t"), SessionId(1), own, Instant::ZERO);
        ix.insert(None, &f("t"), SessionId(2), own, Instant::ZERO);
        let mut found = Found::default();
        let topic = TopicName::new("t").expect("topic");
        ix.matches(&topic, Instant::ZERO, Some(SessionId(1)), &mut found);
        let sessions: Vec<SessionId> = found.direct.iter().map(|m| m.session).collect();
        assert_eq!(sessions, [SessionId(2)]);
    }

    #[test]
    fn shared_groups_come_apart_numbered_by_group() {
        let mut ix = index();
        for (g, s) in [("g1", 1), ("g1", 2), ("g2", 3)] {
            ix.insert(
                Some(g),
                &f("t/+"),
                SessionId(s),
                sub(QoS::AtLeastOnce),
                Instant::ZERO,
            );
        }
        let mut found = Found::default();
        ix.matches(
            &TopicName::new("t/x").expect("topic"),
            Instant::ZERO,
            None,
            &mut found,
        );
        assert!(found.direct.is_empty());
        let mut groups: Vec<u32> = found.shared.iter().map(|(g, _)| *g).collect();
        groups.sort_unstable();
        groups.dedup();
        assert_eq!(groups.len(), 2);
        assert_eq!(found.shared.len(), 3);
        assert!(ix.remove(Some("g1"), &f("t/+"), SessionId(1)));
        assert_eq!(ix.len(), 2);
    }

    #[test]
    fn mqtt_4_7_2_1_wildcards_at_the_first_level_do_not_match_dollar_topics() {
        let mut ix = index();
        ix.insert(
            None,
            &f("#"),
            SessionId(1),
            sub(QoS::AtMostOnce),
            Instant::ZERO,
        );
        ix.insert(
            None,
            &f("+/x"),
            SessionId(2),
            sub(QoS::AtMostOnce),
            Instant::ZERO,
        );
        ix.insert(
            None,
            &f("$SYS/#"),
            SessionId(3),
            sub(QoS::AtMostOnce),
            Instant::ZERO,
        );
        assert_eq!(found(&ix, "$SYS/x"), vec![(SessionId(3), QoS::AtMostOnce)]);
    }
}

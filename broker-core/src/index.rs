//! The subscription index: which sessions want a message published to a topic.
//!
//! A trie keyed by filter level, so a publish walks one path per topic level (plus the
//! `+` and `#` branches) instead of testing every filter. Each node holds the sessions
//! whose filter ends there. The answer is cross-checked against the reference matcher
//! `topic::matches` by a property test.

use crate::map::{Hashing, Map};
use crate::session::SessionId;
use crate::time::Instant;
use crate::topic::{HashMatchesParent, TopicFilter, TopicName};
use crate::types::QoS;

/// One session's subscription at a node: its QoS and when it takes effect (the aws-iot
/// profile's rule D4 delays it after SUBACK; otherwise it is the subscribe instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    qos: QoS,
    active_from: Instant,
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
}

impl Node {
    fn new(h: Hashing) -> Self {
        Node {
            children: h.map(),
            subscribers: h.map(),
        }
    }

    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty()
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

    /// Adds or replaces `session`'s subscription to `filter` (MQTT-3.8.4-3: a repeated
    /// filter replaces the old subscription), in effect from `active_from`. A replaced
    /// subscription keeps its original start, so re-subscribing never opens a gap.
    /// Returns the QoS it replaced, if any.
    pub fn insert(
        &mut self,
        filter: &TopicFilter,
        session: SessionId,
        qos: QoS,
        active_from: Instant,
    ) -> Option<QoS> {
        let h = self.hashing;
        let mut node = &mut self.root;
        for level in filter.levels() {
            node = node
                .children
                .entry(level.into())
                .or_insert_with(|| Node::new(h));
        }
        match node.subscribers.get_mut(&session) {
            Some(entry) => Some(core::mem::replace(&mut entry.qos, qos)),
            None => {
                node.subscribers.insert(session, Entry { qos, active_from });
                self.len += 1;
                None
            }
        }
    }

    /// Removes `session`'s subscription to `filter`; returns whether there was one.
    pub fn remove(&mut self, filter: &TopicFilter, session: SessionId) -> bool {
        let removed = remove_at(&mut self.root, filter.levels(), session);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Appends to `out` every session with a filter matching `topic` and in effect at
    /// `now`, with the highest QoS among its matching filters, each session once:
    /// overlapping subscriptions give one copy at the highest QoS (section 3.3.5). The
    /// order is deterministic. Sessions passed over only because a subscription is not
    /// in effect yet, or because of `HashMatchesParent::No`, are appended to `skipped`
    /// (possibly more than once, and possibly also matched through another filter).
    pub fn matches(
        &self,
        topic: &TopicName,
        now: Instant,
        out: &mut Vec<(SessionId, QoS)>,
        skipped: &mut Vec<(SessionId, Skipped)>,
    ) {
        let start = out.len();
        let mut nodes = 0;
        let mut walk = Walk {
            system: topic.is_system(),
            parent: self.parent,
            now,
            out,
            skipped,
            nodes: &mut nodes,
        };
        walk.visit(&self.root, topic.levels(), true);
        if nodes > 1 {
            // Several filters matched: one session may appear more than once. Sorting by
            // session, then QoS descending, keeps the highest QoS first for `dedup`.
            let found = &mut out[start..];
            found.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let mut kept = start;
            for i in start..out.len() {
                if kept == start || out[kept - 1].0 != out[i].0 {
                    out[kept] = out[i];
                    kept += 1;
                }
            }
            out.truncate(kept);
        }
    }
}

struct Walk<'a> {
    system: bool,
    parent: HashMatchesParent,
    now: Instant,
    out: &'a mut Vec<(SessionId, QoS)>,
    skipped: &'a mut Vec<(SessionId, Skipped)>,
    nodes: &'a mut usize,
}

impl Walk<'_> {
    fn take(&mut self, node: &Node) {
        if node.subscribers.is_empty() {
            return;
        }
        *self.nodes += 1;
        for (session, entry) in &node.subscribers {
            if entry.active_from <= self.now {
                self.out.push((*session, entry.qos));
            } else {
                self.skipped.push((*session, Skipped::Pending));
            }
        }
    }

    fn visit<'t>(&mut self, node: &Node, mut rest: core::str::Split<'t, char>, first: bool) {
        // MQTT-4.7.2-1: at the first level, wildcards never match a `$` topic.
        let wildcards = !(first && self.system);
        let Some(level) = rest.next() else {
            self.take(node);
            // `a/#` also matches `a` itself in MQTT 3.1.1 (section 4.7.1.2), not in AWS IoT.
            if let Some(hash) = node.children.get("#") {
                match self.parent {
                    HashMatchesParent::Yes => self.take(hash),
                    HashMatchesParent::No => self
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

fn remove_at(node: &mut Node, mut levels: core::str::Split<'_, char>, session: SessionId) -> bool {
    let Some(level) = levels.next() else {
        return node.subscribers.remove(&session).is_some();
    };
    let Some(child) = node.children.get_mut(level) else {
        return false;
    };
    let removed = remove_at(child, levels, session);
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

    fn index() -> SubscriptionIndex {
        SubscriptionIndex::new(Hashing::new(1), HashMatchesParent::Yes)
    }

    fn f(s: &str) -> TopicFilter {
        TopicFilter::new(s).expect("filter")
    }

    fn found(ix: &SubscriptionIndex, topic: &str) -> Vec<(SessionId, QoS)> {
        let mut out = Vec::new();
        ix.matches(
            &TopicName::new(topic).expect("topic"),
            Instant::ZERO,
            &mut out,
            &mut Vec::new(),
        );
        out.sort();
        out
    }

    #[test]
    fn pending_subscriptions_are_skipped_until_in_effect() {
        let mut ix = index();
        ix.insert(
            &f("a"),
            SessionId(1),
            QoS::AtMostOnce,
            Instant::from_millis(100),
        );
        let (mut out, mut skipped) = (Vec::new(), Vec::new());
        ix.matches(
            &TopicName::new("a").expect("topic"),
            Instant::from_millis(99),
            &mut out,
            &mut skipped,
        );
        assert!(out.is_empty());
        assert_eq!(skipped, [(SessionId(1), Skipped::Pending)]);
        out.clear();
        ix.matches(
            &TopicName::new("a").expect("topic"),
            Instant::from_millis(100),
            &mut out,
            &mut Vec::new(),
        );
        assert_eq!(out, [(SessionId(1), QoS::AtMostOnce)]);
    }

    #[test]
    fn overlapping_filters_give_one_entry_at_the_highest_qos() {
        let mut ix = index();
        let s = SessionId(3);
        ix.insert(&f("a/+"), s, QoS::AtMostOnce, Instant::ZERO);
        ix.insert(&f("a/#"), s, QoS::ExactlyOnce, Instant::ZERO);
        ix.insert(&f("a/b"), s, QoS::AtLeastOnce, Instant::ZERO);
        assert_eq!(found(&ix, "a/b"), vec![(s, QoS::ExactlyOnce)]);
    }

    #[test]
    fn resubscribing_replaces_and_does_not_count_twice() {
        let mut ix = index();
        assert_eq!(
            ix.insert(&f("x"), SessionId(1), QoS::AtMostOnce, Instant::ZERO),
            None
        );
        assert_eq!(
            ix.insert(&f("x"), SessionId(1), QoS::AtLeastOnce, Instant::ZERO),
            Some(QoS::AtMostOnce)
        );
        assert_eq!(ix.len(), 1);
        assert_eq!(found(&ix, "x"), vec![(SessionId(1), QoS::AtLeastOnce)]);
    }

    #[test]
    fn removal_prunes_and_stops_matching() {
        let mut ix = index();
        ix.insert(&f("a/b/c/d"), SessionId(1), QoS::AtMostOnce, Instant::ZERO);
        assert!(ix.remove(&f("a/b/c/d"), SessionId(1)));
        assert!(!ix.remove(&f("a/b/c/d"), SessionId(1)));
        assert!(ix.root.is_empty());
        assert!(found(&ix, "a/b/c/d").is_empty());
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        let mut ix = index();
        ix.insert(&f("#"), SessionId(1), QoS::AtMostOnce, Instant::ZERO);
        ix.insert(&f("+/x"), SessionId(2), QoS::AtMostOnce, Instant::ZERO);
        ix.insert(&f("$SYS/#"), SessionId(3), QoS::AtMostOnce, Instant::ZERO);
        assert_eq!(found(&ix, "$SYS/x"), vec![(SessionId(3), QoS::AtMostOnce)]);
    }

    #[test]
    fn hash_matches_parent_only_in_the_standard() {
        let mut std = index();
        std.insert(&f("sensor/#"), SessionId(1), QoS::AtMostOnce, Instant::ZERO);
        assert_eq!(found(&std, "sensor").len(), 1);
        let mut aws = SubscriptionIndex::new(Hashing::new(1), HashMatchesParent::No);
        aws.insert(&f("sensor/#"), SessionId(1), QoS::AtMostOnce, Instant::ZERO);
        assert!(found(&aws, "sensor").is_empty());
        assert_eq!(found(&aws, "sensor/t").len(), 1);
    }
}

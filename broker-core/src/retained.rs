//! The retained-message store (section 3.3.1.3).
//!
//! A trie keyed by topic level, walked with a subscription's filter, so a new subscription
//! finds its retained messages without scanning every stored topic.

use bytes::Bytes;

use crate::map::{Hashing, Map};
use crate::time::Instant;
use crate::topic::{HashMatchesParent, TopicFilter, TopicName};
use crate::types::QoS;

/// One retained message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RetainedMessage {
    /// The topic it was published to.
    pub topic: TopicName,
    /// Its payload (never empty: an empty payload deletes, MQTT-3.3.1-10).
    pub payload: Bytes,
    /// The QoS it was published with; subscribers get the minimum of this and theirs.
    pub qos: QoS,
    /// When it was stored.
    pub stored_at: Instant,
    /// MQTT 5.0 properties forwarded with it (as for any message).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub properties: Option<std::sync::Arc<crate::codec::Properties>>,
    /// When it expires (MQTT 5.0 Message Expiry Interval): an expired retained message
    /// is no longer sent to new subscriptions (MQTT-3.3.2-5).
    pub expires_at: Option<Instant>,
}

#[derive(Debug)]
struct Node {
    children: Map<Box<str>, Node>,
    message: Option<RetainedMessage>,
}

impl Node {
    fn new(h: Hashing) -> Self {
        Node {
            children: h.map(),
            message: None,
        }
    }
}

/// All retained messages, at most one per topic (MQTT-3.3.1-5).
#[derive(Debug)]
pub struct RetainedStore {
    root: Node,
    hashing: Hashing,
    parent: HashMatchesParent,
    len: usize,
}

impl RetainedStore {
    /// An empty store.
    pub fn new(hashing: Hashing, parent: HashMatchesParent) -> Self {
        RetainedStore {
            root: Node::new(hashing),
            hashing,
            parent,
            len: 0,
        }
    }

    /// How many topics hold a retained message.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores `message`, replacing any earlier one on its topic (MQTT-3.3.1-5).
    pub fn store(&mut self, message: RetainedMessage) {
        let h = self.hashing;
        let mut node = &mut self.root;
        for level in message.topic.levels() {
            node = node
                .children
                .entry(level.into())
                .or_insert_with(|| Node::new(h));
        }
        if node.message.replace(message).is_none() {
            self.len += 1;
        }
    }

    /// Deletes the message on `topic` (a zero-byte retained PUBLISH, MQTT-3.3.1-10).
    /// Returns whether one was stored.
    pub fn remove(&mut self, topic: &TopicName) -> bool {
        let removed = remove_at(&mut self.root, topic.levels());
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// The message retained on exactly `topic`, if any.
    pub fn get(&self, topic: &TopicName) -> Option<&RetainedMessage> {
        let mut node = &self.root;
        for level in topic.levels() {
            node = node.children.get(level)?;
        }
        node.message.as_ref()
    }

    /// The retained messages matching `filter`, sorted by topic.
    pub fn matching(&self, filter: &TopicFilter) -> Vec<&RetainedMessage> {
        let mut out = Vec::new();
        collect(&self.root, filter.levels(), true, self.parent, &mut out);
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    /// Every retained message, sorted by topic.
    pub fn iter(&self) -> Vec<&RetainedMessage> {
        let mut out = Vec::new();
        all_below(&self.root, &mut out);
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }
}

fn remove_at(node: &mut Node, mut levels: core::str::Split<'_, char>) -> bool {
    let Some(level) = levels.next() else {
        return node.message.take().is_some();
    };
    let Some(child) = node.children.get_mut(level) else {
        return false;
    };
    let removed = remove_at(child, levels);
    if child.message.is_none() && child.children.is_empty() {
        node.children.remove(level);
    }
    removed
}

/// Every message at or below `node`.
fn all_below<'a>(node: &'a Node, out: &mut Vec<&'a RetainedMessage>) {
    out.extend(node.message.as_ref());
    for child in node.children.values() {
        all_below(child, out);
    }
}

fn collect<'a>(
    node: &'a Node,
    mut rest: core::str::Split<'_, char>,
    first: bool,
    parent: HashMatchesParent,
    out: &mut Vec<&'a RetainedMessage>,
) {
    match rest.next() {
        None => out.extend(node.message.as_ref()),
        Some("#") => {
            // `a/#` matches `a` itself in the standard, not in AWS IoT.
            if !first && parent == HashMatchesParent::Yes {
                out.extend(node.message.as_ref());
            }
            // MQTT-4.7.2-1: a leading `#` does not reach `$` topics.
            for (level, child) in &node.children {
                if !(first && level.starts_with('$')) {
                    all_below(child, out);
                }
            }
        }
        Some("+") => {
            for (level, child) in &node.children {
                if !(first && level.starts_with('$')) {
                    collect(child, rest.clone(), false, parent, out);
                }
            }
        }
        Some(level) => {
            if let Some(child) = node.children.get(level) {
                collect(child, rest, false, parent, out);
            }
        }
    }
}

//! Durability: what the broker asks its shell to store, and the outputs that wait for it
//! (the contract is in `store/mod.rs`, the format in `store/record.rs`).
//!
//! Changes are tracked, not logged: a touched persistent session is listed once, and when
//! the shell asks for the next batch its record is encoded if it changed, with the messages
//! that changed (each its own entry, `session.rs`'s `StoreState`). A session touched by a
//! thousand inputs between two writes costs one encoding; a deep queue costs nothing
//! until its messages move. An acknowledgement (CONNACK, PUBACK, PUBREC, PUBCOMP, SUBACK,
//! UNSUBACK) produced while a change is unstored waits in `held`, with whatever follows it
//! on the same connection, until the batch holding the change is reported stored; other
//! packets go at once (`poll_durable_output` says why). Recovery is in `recover.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::event::Output;
use crate::session::{Session, SessionId};
use crate::shadow::ShadowId;
use crate::store::{
    encode_message, encode_retained, encode_u64, message_key, session_key, Change, Key,
    SessionRecord, StoreBatch,
};
use crate::topic::TopicName;
use crate::types::ConnId;

use super::Broker;

/// The broker's durability state, present once a shell turned durability on.
#[derive(Debug, Default)]
pub(super) struct Durable {
    /// Sessions touched since the last batch, each listed once while `Session::dirty`.
    sessions: Vec<SessionId>,
    /// Whether `sessions` may list sessions with nothing to store (clean ones).
    unfiltered: bool,
    /// Keys to delete: the entries of stored sessions discarded since the last batch, and
    /// stored entries recovery could not read or found no use for.
    deleted: Vec<Vec<u8>>,
    /// Retained topics set or deleted since the last batch.
    retained: Vec<TopicName>,
    /// Client ids whose lifecycle version number moved since the last batch.
    lifecycle: Vec<Arc<str>>,
    /// Device Shadows updated or deleted since the last batch.
    shadows: Vec<ShadowId>,
    /// The last batch handed out, and the last one reported stored.
    issued: u64,
    stored: u64,
    /// Outputs waiting for a batch, with the batch they wait for, in output order.
    held: VecDeque<(u64, Output)>,
    /// How many of `held` are for each connection.
    held_on: BTreeMap<ConnId, usize>,
}

impl Durable {
    /// An entry no longer needed, or unreadable: the next batch deletes it.
    pub(super) fn delete(&mut self, key: Vec<u8>) {
        self.deleted.push(key);
    }

    fn has_changes(&self) -> bool {
        !(self.sessions.is_empty()
            && self.deleted.is_empty()
            && self.retained.is_empty()
            && self.lifecycle.is_empty()
            && self.shadows.is_empty())
    }
}

impl Broker {
    // ----- the shell's side -------------------------------------------------------

    /// The changes the shell must store next, once it is ready to write; `None` when
    /// nothing changed. Outputs produced since the change wait until `handle_stored`
    /// names this batch's `seq` (or a later one).
    pub fn poll_store(&mut self) -> Option<StoreBatch> {
        self.filter_touched();
        let d = self.durable.as_deref_mut()?;
        // Outputs may wait for the next batch although what they waited on turned out to
        // need no storing: an empty batch releases them all the same.
        let awaited = d.held.back().is_some_and(|(seq, _)| *seq > d.issued);
        if !d.has_changes() && !awaited {
            return None;
        }
        let mut changes: Vec<Change> = d
            .deleted
            .drain(..)
            .map(|key| Change { key, value: None })
            .collect();
        for id in std::mem::take(&mut d.sessions) {
            let Some(s) = self
                .sessions
                .get_mut(id.0 as usize)
                .and_then(Option::as_deref_mut)
            else {
                continue;
            };
            let Some(state) = s.store.as_deref_mut() else {
                continue;
            };
            if std::mem::replace(&mut state.dirty, false) {
                session_changes(s, &mut changes);
            } // Else listed twice: its slot was reused since.
        }
        for topic in take_distinct(&mut d.retained) {
            changes.push(Change {
                key: Key::Retained(topic.as_str().to_owned()).encode(),
                value: self.retained.get(&topic).map(encode_retained),
            });
        }
        for client_id in take_distinct(&mut d.lifecycle) {
            changes.push(Change {
                key: Key::Lifecycle(client_id.to_string()).encode(),
                value: self
                    .lifecycle_versions
                    .get(&client_id)
                    .copied()
                    .map(encode_u64),
            });
        }
        for id in take_distinct(&mut d.shadows) {
            let key = Key::Shadow(id.thing.clone(), id.name.clone().unwrap_or_default());
            changes.push(Change {
                key: key.encode(),
                value: self.shadows.stored(&id),
            });
        }
        d.issued += 1;
        Some(StoreBatch {
            seq: d.issued,
            changes,
        })
    }

    /// The shell stored every batch up to `seq`: the outputs that waited for them follow
    /// from the next `poll_output`.
    pub fn handle_stored(&mut self, seq: u64) {
        if let Some(d) = self.durable.as_deref_mut() {
            d.stored = d.stored.max(seq.min(d.issued));
        }
    }

    /// `poll_output` under durability. An acknowledgement produced while a change is
    /// unstored waits for it, and so does everything after it on the same connection, so
    /// that no packet overtakes another. Other packets go at once: a PUBLISH delivered
    /// before it is durable costs at worst a duplicate (its publisher, not acknowledged,
    /// sends it again), and a subscriber that acknowledges it before the write means it
    /// never has to be written at all. Events and reading pauses go at once.
    pub(super) fn poll_durable_output(&mut self) -> Option<Output> {
        loop {
            // A shell may feed inputs while it drains (congestion, a failed write), so
            // what is touched is looked at again before each output.
            self.filter_touched();
            let d = self.durable.as_deref_mut()?;
            if d.held.front().is_some_and(|(seq, _)| *seq <= d.stored) {
                let (_, output) = d.held.pop_front()?;
                if let Some(conn) = conn_of(&output) {
                    if let Some(count) = d.held_on.get_mut(&conn) {
                        *count -= 1;
                        if *count == 0 {
                            d.held_on.remove(&conn);
                        }
                    }
                }
                return Some(output);
            }
            let output = self.out.pop_front()?;
            let Some(conn) = conn_of(&output) else {
                return Some(output);
            };
            let behind = d.held_on.contains_key(&conn);
            // An acknowledgement waits for what changed since the last batch, or else for
            // the batch being written (which may hold what it acknowledges, such as the
            // QoS 2 id a repeated PUBLISH is answered for).
            let waits_for = match (acknowledges(&output), behind) {
                (true, _) if d.has_changes() => d.issued + 1,
                (true, _) if d.issued > d.stored => d.issued,
                (_, true) => d.held.back().map_or(d.issued, |(seq, _)| *seq),
                (_, false) => return Some(output),
            };
            *d.held_on.entry(conn).or_insert(0) += 1;
            d.held.push_back((waits_for, output));
        }
    }

    // ----- what the rest of the broker tells it -------------------------------------

    /// A session was made or changed.
    pub(super) fn touch_session(durable: Option<&mut Durable>, id: SessionId, s: &mut Session) {
        if let (Some(d), Some(state)) = (durable, s.store.as_deref_mut()) {
            if !state.dirty {
                state.dirty = true;
                d.sessions.push(id);
                d.unfiltered = true;
            }
        }
    }

    /// A session was discarded: its entries are deleted.
    pub(super) fn session_discarded(&mut self, s: &mut Session) {
        if let Some(d) = self.durable.as_deref_mut() {
            if s.store.as_ref().is_some_and(|state| state.persisted) {
                d.deleted.extend(entries_of(s));
            }
        }
    }

    /// The retained message of `topic` was set or deleted.
    pub(super) fn retained_changed(&mut self, topic: &TopicName) {
        if let Some(d) = self.durable.as_deref_mut() {
            d.retained.push(topic.clone());
        }
    }

    /// A Device Shadow was updated or deleted.
    pub(super) fn shadow_changed(&mut self, id: &ShadowId) {
        if let Some(d) = self.durable.as_deref_mut() {
            d.shadows.push(id.clone());
        }
    }

    /// A lifecycle version number moved.
    pub(super) fn lifecycle_changed(&mut self, client_id: &Arc<str>) {
        if let Some(d) = self.durable.as_deref_mut() {
            d.lifecycle.push(client_id.clone());
        }
    }

    // ----- internals ----------------------------------------------------------------

    /// Drops from the list the touched sessions that have nothing to store: clean ones
    /// that were never stored. Without this, every packet to a clean session would wait
    /// for a write of nothing.
    fn filter_touched(&mut self) {
        let Some(d) = self.durable.as_deref_mut() else {
            return;
        };
        if !std::mem::replace(&mut d.unfiltered, false) {
            return;
        }
        let sessions = &mut self.sessions;
        d.sessions.retain(|id| {
            let Some(s) = sessions
                .get_mut(id.0 as usize)
                .and_then(Option::as_deref_mut)
            else {
                return false;
            };
            let persistent = s.is_persistent();
            let Some(state) = s.store.as_deref_mut().filter(|state| state.dirty) else {
                return false;
            };
            state.dirty = persistent || state.persisted;
            state.dirty
        });
    }
}

/// What a touched session asks to store: its record if it changed, and its messages that
/// did; or, once it is no longer persistent, the deletion of all its entries.
fn session_changes(s: &mut Session, changes: &mut Vec<Change>) {
    let persistent = s.is_persistent();
    let hash = SessionRecord::fingerprint(s);
    let seqs: Vec<u64> = s.message_seqs().collect();
    let Some(state) = s.store.as_deref_mut() else {
        return;
    };
    let first = !std::mem::replace(&mut state.persisted, persistent);
    if !persistent {
        if !first {
            changes.extend(entries_of(s).map(|key| Change { key, value: None }));
        }
        return;
    }
    let mut changed = std::mem::take(&mut state.changed);
    if first {
        // Everything it holds, once.
        changed = seqs;
    }
    let record_changed = first || state.header_hash != hash;
    state.header_hash = hash;
    let mut written = state.written_max;
    if record_changed {
        changes.push(Change {
            key: session_key(&s.client_id),
            value: Some(SessionRecord::encode(s)),
        });
    }
    changed.sort_unstable();
    changed.dedup();
    for seq in changed {
        let value = match s.inflight_by_seq(seq) {
            Some(m) => Some(encode_message(&m.message, Some((m.packet_id, m.state)))),
            None => s.queued(seq).map(|m| encode_message(m, None)),
        };
        if value.is_none() && seq > written {
            // Taken in and acknowledged between two writes: it never reached the store,
            // and a subscriber that reads keeps most messages from ever doing so.
            continue;
        }
        if value.is_some() {
            written = written.max(seq);
        }
        changes.push(Change {
            key: message_key(&s.client_id, seq),
            value,
        });
    }
    if let Some(state) = s.store.as_deref_mut() {
        state.written_max = written;
    }
}

/// The keys of every entry a stored session may have.
fn entries_of(s: &mut Session) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut seqs: Vec<u64> = s.message_seqs().collect();
    if let Some(state) = s.store.as_deref_mut() {
        seqs.append(&mut state.changed);
    }
    seqs.sort_unstable();
    seqs.dedup();
    let client_id = s.client_id.clone();
    std::iter::once(session_key(&client_id)).chain(
        seqs.into_iter()
            .map(move |seq| message_key(&client_id, seq)),
    )
}

/// Takes what a list of changed keys holds, each once.
fn take_distinct<T: Ord>(list: &mut Vec<T>) -> Vec<T> {
    let mut taken = std::mem::take(list);
    taken.sort();
    taken.dedup();
    taken
}

/// The connection a packet or close is for.
fn conn_of(output: &Output) -> Option<ConnId> {
    match output {
        Output::Transmit { conn, .. } | Output::Close { conn, .. } => Some(*conn),
        _ => None,
    }
}

/// Whether a packet promises the client something the store must hold first: that a
/// session exists (CONNACK), that a message is taken in or released (PUBACK, PUBREC,
/// PUBCOMP), that a subscription exists or is gone (SUBACK, UNSUBACK). The packet type is
/// the high nibble of the first byte (section 2.2.1).
fn acknowledges(output: &Output) -> bool {
    let Output::Transmit { bytes, .. } = output else {
        return false;
    };
    matches!(bytes.first().map(|b| b >> 4), Some(2 | 4 | 5 | 7 | 9 | 11))
}

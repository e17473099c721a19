//! Recovery: a durable broker restores what its shell's store kept (`store/mod.rs` has the
//! contract). Sessions come first, then their messages, in the order each session took them
//! in; what cannot be read, or belongs to a session that is gone, is reported and deleted.

use crate::session::{Inflight, SessionId};
use crate::shadow::ShadowId;
use crate::store::{
    decode_key, decode_message, decode_retained, decode_u64, message_key, Key, Recovery,
    SessionRecord, Skipped, StoredMessage,
};
use crate::time::Instant;

use super::timers::Timer;
use super::Broker;

impl Broker {
    /// Turns durability on and restores what a store held: every `(key, value)` a shell
    /// kept from earlier [`StoreBatch`]es, in any order. Call it once, on a new broker,
    /// before any connection. Sessions whose expiry passed while the server was down are
    /// dropped (and deleted by the next batch); entries that cannot be read are skipped,
    /// reported, and deleted by the next batch, so one bad entry costs only itself.
    pub fn recover(
        &mut self,
        now: Instant,
        entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Recovery {
        self.durable.get_or_insert_with(Box::default);
        let mut report = Recovery::default();
        let mut messages = Vec::new();
        for (key, value) in entries {
            if let Err(why) = self.restore(now, &key, &value, &mut report, &mut messages) {
                report.skipped.push(Skipped {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    why,
                });
                if let Some(d) = self.durable.as_deref_mut() {
                    d.delete(key);
                }
            }
        }
        self.restore_messages(now, messages, &mut report);
        report
    }

    fn restore(
        &mut self,
        now: Instant,
        key: &[u8],
        value: &[u8],
        report: &mut Recovery,
        messages: &mut Vec<(String, u64, Vec<u8>)>,
    ) -> Result<(), String> {
        match decode_key(key)? {
            Key::Session(client_id) => {
                let s = SessionRecord::decode(value, now)?;
                if *s.client_id != *client_id {
                    return Err(format!("holds the session of {:?}", s.client_id));
                }
                let ends = match (s.expiry, s.disconnected_at) {
                    (Some(secs), Some(at)) => {
                        Some(at + core::time::Duration::from_secs(u64::from(secs)))
                    }
                    _ => None,
                };
                if ends.is_some_and(|at| at <= now) || !s.is_persistent() {
                    // Its messages find no session, and are deleted with it.
                    report.expired += 1;
                    if let Some(d) = self.durable.as_deref_mut() {
                        d.delete(key.to_vec());
                    }
                    return Ok(());
                }
                report.sessions += 1;
                let subscriptions: Vec<_> = s
                    .subscriptions
                    .iter()
                    .map(|(f, sub)| (f.clone(), *sub))
                    .collect();
                let id = self.insert_session(s);
                for (filter, subscription) in subscriptions {
                    let (group, inner) = super::subscribe::split_shared(&filter);
                    self.index
                        .insert(group.as_deref(), &inner, id, subscription, now);
                }
                if let Some(at) = ends {
                    self.timers.set(Timer::SessionExpiry(id), at);
                }
            }
            Key::Message(client_id, seq) => messages.push((client_id, seq, value.to_vec())),
            Key::Retained(topic) => {
                let m = decode_retained(value)?;
                if m.topic.as_str() != topic {
                    return Err(format!(
                        "holds the retained message of {:?}",
                        m.topic.as_str()
                    ));
                }
                self.retained.store(m);
                report.retained += 1;
            }
            Key::Lifecycle(client_id) => {
                let next = decode_u64(value)?;
                self.lifecycle_versions.insert(client_id.into(), next);
                report.other += 1;
            }
            Key::Shadow(thing, name) => {
                let name = (!name.is_empty()).then_some(name);
                self.shadows.restore(ShadowId { thing, name }, value)?;
                report.other += 1;
            }
        }
        Ok(())
    }

    /// Puts recovered messages back in their sessions, in the order they were taken in,
    /// once every session is back. A message whose session is gone (it expired, or its
    /// entry could not be read) is deleted.
    fn restore_messages(
        &mut self,
        now: Instant,
        mut messages: Vec<(String, u64, Vec<u8>)>,
        report: &mut Recovery,
    ) {
        messages.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (client_id, seq, value) in messages {
            let key = message_key(&client_id, seq);
            let session = self.by_client.get(client_id.as_str()).copied();
            let restored = match (session, decode_message(&value, seq)) {
                (Some(id), Ok(stored)) => self.restore_message(now, id, stored),
                (None, Ok(_)) => false,
                (_, Err(why)) => {
                    report.skipped.push(Skipped {
                        key: String::from_utf8_lossy(&key).into_owned(),
                        why,
                    });
                    false
                }
            };
            if restored {
                report.messages += 1;
            } else if let Some(d) = self.durable.as_deref_mut() {
                d.delete(key);
            }
        }
    }

    fn restore_message(&mut self, now: Instant, id: SessionId, stored: StoredMessage) -> bool {
        let Some(s) = self
            .sessions
            .get_mut(id.0 as usize)
            .and_then(Option::as_deref_mut)
        else {
            return false;
        };
        if let Some(log) = s.store.as_deref_mut() {
            log.next_seq = log.next_seq.max(stored.0.seq);
            log.written_max = log.next_seq;
        }
        match stored {
            (message, None) => s.queue.push_back(message),
            (message, Some((packet_id, state))) => s.inflight.push_back(Inflight {
                packet_id,
                message,
                state,
                sent_at: now,
                held: false,
            }),
        }
        true
    }
}

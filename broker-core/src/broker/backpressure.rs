//! Backpressure: a PUBACK is a promise (docs/reliability.md, "Overload without loss").
//!
//! The broker acknowledges a QoS 1 or 2 PUBLISH once it owns the message. It must then
//! deliver it to every matching session whose client stays connected and reads. When
//! publishers send faster than a subscriber reads, the subscriber's session queue grows;
//! rather than drop what it acknowledged, the broker makes the publishers wait:
//!
//! - **Held acknowledgements.** When a message lands in a connected session's queue at or
//!   past `queue_high_water`, its publisher's PUBACK (PUBREC for QoS 2) is held, and so is
//!   every later one of that publisher, in order (MQTT-4.6.0-2), until every session it
//!   waits on has drained to half the mark. A client's own in-flight window then throttles
//!   it to the rate its subscribers read at, while the broker keeps reading it: its
//!   acknowledgements of the messages it receives keep flowing, so two clients publishing
//!   to each other cannot deadlock.
//! - **Stopped reading.** A client that does not wait for its acknowledgements (an
//!   MQTT 3.1.1 client may send any number of QoS 1 PUBLISH packets) would grow the queues
//!   without end. Once `max_held_acks` of its acknowledgements wait, the broker asks the
//!   shell to stop reading its connection (`Output::PauseReading`) until they are sent
//!   (`Output::ResumeReading`).
//! - **Slow consumers.** A subscriber that stops reading altogether must not stall
//!   everyone. A session that publishers wait on and that makes no progress (no
//!   acknowledgement, no relief of its outgoing queue) for `slow_consumer_timeout_ms` is a
//!   slow consumer: its publishers stop waiting for it, and its queue is bounded by
//!   `max_queued` again (the newest dropped past it, `DropReason::SlowConsumer`), as for an
//!   offline session. It becomes an ordinary session again once it has drained.
//!
//! Memory stays bounded: a session's queue holds at most `queue_high_water` plus, for each
//! publisher sending to it, `max_held_acks` messages and what one read of its connection
//! held; a slow consumer's or an offline session's queue holds at most `max_queued`.

use std::collections::VecDeque;

use super::timers::Timer;
use super::Broker;
use crate::codec::Packet;
use crate::event::{Event, Output};
use crate::session::SessionId;
use crate::time::Instant;
use crate::types::ConnId;

/// A publisher's acknowledgements that wait for the sessions its messages reached.
#[derive(Debug, Default)]
pub(super) struct HeldAcks {
    /// PUBACK and PUBREC packets not yet sent, in the order their PUBLISH arrived.
    acks: VecDeque<Packet>,
    /// The sessions this publisher waits on: their queues were past the high-water mark
    /// when its messages reached them.
    waiting_on: Vec<SessionId>,
    /// Whether the shell was asked to stop reading the connection.
    paused: bool,
}

impl HeldAcks {
    /// How many PUBACKs wait (PUBRECs are counted with the session's QoS 2 ids).
    pub(super) fn pubacks(&self) -> usize {
        self.acks
            .iter()
            .filter(|a| matches!(a, Packet::PubAck(_)))
            .count()
    }
}

impl Broker {
    /// Acknowledges an inbound QoS 1 or 2 PUBLISH on `conn`: now, unless its publisher
    /// waits on a session (this message, or an earlier one, reached a queue past its
    /// high-water mark); then the acknowledgement waits too.
    pub(super) fn acknowledge(&mut self, now: Instant, conn: ConnId, ack: Packet) {
        let mut pressured = std::mem::take(&mut self.pressured);
        for session in pressured.drain(..) {
            self.wait_on(now, conn, session);
        }
        self.pressured = pressured;
        let max_held = self.config.max_held_acks.max(1);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match c.deferred.as_mut().map(|d| &mut d.acks) {
            Some(held) if !held.waiting_on.is_empty() => {
                held.acks.push_back(ack);
                if held.acks.len() >= max_held && !held.paused {
                    held.paused = true;
                    self.out.push_back(Output::PauseReading { conn });
                }
            }
            _ => self.send(now, conn, ack),
        }
    }

    /// Notes that `conn`'s publisher waits on `session`.
    fn wait_on(&mut self, now: Instant, conn: ConnId, session: SessionId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let held = &mut c.deferred.get_or_insert_with(Box::default).acks;
        if held.waiting_on.contains(&session) {
            return;
        }
        held.waiting_on.push(session);
        let timeout = self.config.slow_consumer_timeout();
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let pressure = s.pressure.get_or_insert_with(Box::default);
        if pressure.waiters.is_empty() {
            // The stall clock starts when the first publisher waits.
            pressure.progress_at = now;
            self.timers.set(Timer::Stall(session), now + timeout);
        }
        if let Some(p) = self.session_mut(session).and_then(|s| s.pressure.as_mut()) {
            p.waiters.push(conn);
        }
    }

    /// `session`'s client made progress: it acknowledged a message, or its outgoing
    /// queue drained. A session publishers wait on is not stalled.
    pub(super) fn note_progress(&mut self, now: Instant, session: SessionId) {
        let timeout = self.config.slow_consumer_timeout();
        let Some(p) = self.session_mut(session).and_then(|s| s.pressure.as_mut()) else {
            return; // Nobody waits on it: nothing to note.
        };
        if p.progress_at == now {
            return; // The stall check moves at most once per millisecond.
        }
        p.progress_at = now;
        if !p.waiters.is_empty() {
            self.timers.set(Timer::Stall(session), now + timeout);
        }
    }

    /// Releases the publishers waiting on `session` once its queue has drained to half
    /// the high-water mark, or at once if its client is gone or is a slow consumer: the
    /// promise holds only while the subscriber is connected and reading. A slow consumer
    /// that has drained is an ordinary session again.
    pub(super) fn relieve(&mut self, now: Instant, session: SessionId) {
        let low_water = self.config.queue_high_water / 2;
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let drained = s.queue.len() <= low_water;
        let gone = s.conn.is_none();
        let Some(p) = s.pressure.as_mut() else {
            return;
        };
        let mut caught_up = false;
        if drained && p.slow_consumer {
            p.slow_consumer = false;
            caught_up = true;
        }
        let release = !p.waiters.is_empty() && (drained || gone || p.slow_consumer);
        let waiters = if release {
            std::mem::take(&mut p.waiters)
        } else {
            Vec::new()
        };
        if p.waiters.is_empty() && !p.slow_consumer {
            s.pressure = None;
        }
        if caught_up {
            let client_id = s.client_id.to_string();
            self.emit(Event::SlowConsumer {
                client_id,
                slow: false,
            });
        }
        if release {
            self.timers.stop(Timer::Stall(session));
            for conn in waiters {
                self.stop_waiting(now, conn, session);
            }
        }
    }

    /// `conn`'s publisher no longer waits on `session`; once it waits on nothing, its
    /// held acknowledgements go out in order and its connection is read again.
    fn stop_waiting(&mut self, now: Instant, conn: ConnId, session: SessionId) {
        let held = self.conns.get_mut(&conn).and_then(|c| c.deferred.as_mut());
        let Some(held) = held.map(|d| &mut d.acks) else {
            return;
        };
        held.waiting_on.retain(|s| *s != session);
        if !held.waiting_on.is_empty() {
            return;
        }
        let acks = std::mem::take(&mut held.acks);
        let resume = std::mem::take(&mut held.paused);
        for ack in acks {
            self.send(now, conn, ack);
        }
        if resume {
            self.out.push_back(Output::ResumeReading { conn });
        }
    }

    /// The stall timer of `session` fired: publishers have waited on it for
    /// `slow_consumer_timeout_ms` without it making progress. It is a slow consumer.
    pub(super) fn stalled(&mut self, now: Instant, session: SessionId) {
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let client_id = s.client_id.to_string();
        let Some(p) = s.pressure.as_mut() else {
            return;
        };
        if p.waiters.is_empty() || p.slow_consumer {
            return;
        }
        p.slow_consumer = true;
        self.stats.slow_consumers += 1;
        self.emit(Event::SlowConsumer {
            client_id,
            slow: true,
        });
        self.relieve(now, session);
    }

    /// A publisher's connection ended: the sessions it waited on forget it. Its held
    /// acknowledgements are lost with the connection; the messages were delivered, and
    /// a client that resumes its session sends them again (QoS 1 allows the duplicate,
    /// QoS 2's PUBREC is answered anew).
    pub(super) fn forget_publisher(&mut self, conn: ConnId, held: HeldAcks) {
        for session in held.waiting_on {
            let Some(s) = self.session_mut(session) else {
                continue;
            };
            let Some(p) = s.pressure.as_mut() else {
                continue;
            };
            p.waiters.retain(|c| *c != conn);
            if p.waiters.is_empty() {
                if !p.slow_consumer {
                    s.pressure = None;
                }
                self.timers.stop(Timer::Stall(session));
            }
        }
    }
}

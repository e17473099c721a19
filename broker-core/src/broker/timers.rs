//! The broker's timers: an enum of kinds and one heap, as quinn-proto keeps them.
//!
//! Entries are never cancelled. When one fires, `on_timer` checks against the
//! connection's current state whether it is still due, and re-arms it if the deadline
//! moved (a keep-alive refreshed by a packet). This keeps a busy connection from pushing
//! a heap entry per packet.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::connect::keep_alive_limit;
use super::{Broker, ConnState};
use crate::event::{CloseReason, Event, TimerKind};
use crate::time::Instant;
use crate::types::ConnId;

#[derive(Debug, Default)]
pub(super) struct Timers {
    /// Ordered by instant, then by insertion, so timers due together fire in the order
    /// they were set: deterministic.
    heap: BinaryHeap<Reverse<(Instant, u64, ConnId, TimerKind)>>,
    seq: u64,
}

impl Timers {
    pub(super) fn schedule(&mut self, at: Instant, conn: ConnId, kind: TimerKind) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, conn, kind)));
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops every entry `keep` refuses. Entries are never cancelled when a connection
    /// closes, so without this a client that connects with a long keep-alive and leaves,
    /// again and again, would grow the heap for up to 27 hours per connection.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(ConnId, TimerKind) -> bool) {
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((_, _, c, k))| keep(*c, *k))
            .collect();
    }

    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(ConnId, TimerKind)> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                self.heap.pop().map(|Reverse((_, _, c, k))| (c, k))
            }
            _ => None,
        }
    }
}

impl Broker {
    /// Compacts the timer heap once stale entries (of closed connections) outnumber the
    /// live ones several times over: amortised constant time per close.
    pub(super) fn compact_timers(&mut self) {
        let live = self.conns.len() + self.expiring.len();
        if self.timers.len() <= 4 * live + 64 {
            return;
        }
        let (conns, expiring) = (&self.conns, &self.expiring);
        self.timers.retain(|conn, kind| match kind {
            TimerKind::SessionExpiry => expiring.contains_key(&conn),
            _ => conns.contains_key(&conn),
        });
    }

    /// The one place a timer's expiry is handled: one arm per kind.
    pub(super) fn on_timer(&mut self, now: Instant, conn: ConnId, kind: TimerKind) {
        // A session's expiry outlives the connection whose end started it.
        if kind == TimerKind::SessionExpiry {
            return self.expire_session(now, conn);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return; // The connection closed since; the entry is stale.
        };
        match (kind, &c.state) {
            (TimerKind::ConnectDeadline, ConnState::AwaitingConnect) => {
                self.emit(Event::TimerFired { conn, timer: kind });
                self.close(now, conn, CloseReason::ConnectTimeout);
            }
            (TimerKind::KeepAlive, ConnState::Connected { keep_alive, .. }) if *keep_alive > 0 => {
                let deadline = c.last_packet + keep_alive_limit(*keep_alive);
                if now >= deadline {
                    // MQTT-3.1.2-24: silence for 1.5 keep-alive periods closes the
                    // connection, as a network failure (the Will is published).
                    self.emit(Event::TimerFired { conn, timer: kind });
                    self.close(now, conn, CloseReason::KeepAliveTimeout);
                } else {
                    self.timers.schedule(deadline, conn, kind);
                }
            }
            (TimerKind::Resend, ConnState::Connected { session, .. }) => {
                let session = *session;
                c.resend_armed = false;
                self.emit(Event::TimerFired { conn, timer: kind });
                self.resend_inflight(now, session, false);
                self.rearm_resend(now, conn, session);
            }
            // A CONNECT deadline after CONNECT arrived, and the like: nothing to do.
            _ => {}
        }
    }

    /// After a resend pass, waits for the oldest message still in flight.
    fn rearm_resend(&mut self, now: Instant, conn: ConnId, session: crate::session::SessionId) {
        let Some(interval) = self.config.resend_interval() else {
            return;
        };
        let oldest = self
            .session_ref(session)
            .and_then(|s| s.inflight.iter().map(|m| m.sent_at).min());
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let (Some(oldest), false) = (oldest, c.resend_armed) {
            c.resend_armed = true;
            self.timers
                .schedule((oldest + interval).max(now), conn, TimerKind::Resend);
        }
    }
}

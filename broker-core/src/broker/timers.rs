//! The broker's timers: an enum of kinds and one table with `set` and `stop`, as
//! quinn-proto keeps them (its `TimerTable`).
//!
//! Every timer has one key (its kind and what it is for) and at most one deadline. `set`
//! moves a timer, `stop` removes it, and a connection's timers are stopped when it
//! closes, so the table holds only timers that will really be acted on: `poll_timeout`
//! names the instant the next one is due, exactly.

use std::collections::BTreeSet;

use super::connect::keep_alive_limit;
use super::{Broker, ConnState};
use crate::event::{CloseReason, Event, TimerKind};
use crate::map::{Hashing, Map};
use crate::session::SessionId;
use crate::time::Instant;
use crate::types::{ConnId, ProtocolVersion};

/// What a timer is for: a connection's timers end with it, a session's outlive its
/// connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Timer {
    /// The CONNECT deadline of a new connection.
    ConnectDeadline(ConnId),
    /// 1.5 times the keep-alive after the connection's last packet (MQTT-3.1.2-24).
    KeepAlive(ConnId),
    /// The oldest unacknowledged outgoing message is due to be sent again.
    Resend(ConnId),
    /// A packet held back by D8 is due to be released.
    Reorder(ConnId),
    /// A persistent session left offline is due to expire.
    SessionExpiry(SessionId),
    /// A session that publishers wait on has made no progress for the slow-consumer
    /// timeout (backpressure).
    Stall(SessionId),
    /// An MQTT 5.0 Will's delay has passed (section 3.1.3.2.2).
    WillDelay(SessionId),
}

impl Timer {
    /// The kind reported in `Event::TimerFired`.
    pub(super) fn kind(self) -> TimerKind {
        match self {
            Timer::ConnectDeadline(_) => TimerKind::ConnectDeadline,
            Timer::KeepAlive(_) => TimerKind::KeepAlive,
            Timer::Resend(_) => TimerKind::Resend,
            Timer::Reorder(_) => TimerKind::Reorder,
            Timer::SessionExpiry(_) => TimerKind::SessionExpiry,
            Timer::Stall(_) => TimerKind::Stall,
            Timer::WillDelay(_) => TimerKind::WillDelay,
        }
    }

    /// The timers that belong to a connection, stopped when it closes.
    pub(super) fn of_conn(conn: ConnId) -> [Timer; 4] {
        [
            Timer::ConnectDeadline(conn),
            Timer::KeepAlive(conn),
            Timer::Resend(conn),
            Timer::Reorder(conn),
        ]
    }
}

#[derive(Debug)]
pub(super) struct TimerTable {
    deadlines: Map<Timer, Instant>,
    /// The same timers ordered by deadline, then by key, so that timers due together
    /// fire in an order fixed by the inputs alone: deterministic.
    order: BTreeSet<(Instant, Timer)>,
}

impl TimerTable {
    pub(super) fn new(hashing: Hashing) -> Self {
        TimerTable {
            deadlines: hashing.map(),
            order: BTreeSet::new(),
        }
    }

    /// Arms `timer` for `at`, replacing its earlier deadline if it had one.
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.deadlines.insert(timer, at) {
            if old == at {
                return;
            }
            self.order.remove(&(old, timer));
        }
        self.order.insert((at, timer));
    }

    /// Disarms `timer`, if it was armed.
    pub(super) fn stop(&mut self, timer: Timer) {
        if let Some(old) = self.deadlines.remove(&timer) {
            self.order.remove(&(old, timer));
        }
    }

    /// When `timer` is due, if it is armed.
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines.get(&timer).copied()
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(at, _)| *at)
    }

    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// Takes the earliest timer due at `now`, if any.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.order.first()?;
        if at > now {
            return None;
        }
        self.order.pop_first();
        self.deadlines.remove(&timer);
        Some(timer)
    }
}

impl Broker {
    /// The one place a timer's expiry is handled: one arm per kind. Every timer in the
    /// table is live, so each arm acts; the checks only guard the table's invariants.
    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::SessionExpiry(session) => self.expire_session(now, session),
            Timer::ConnectDeadline(conn) => {
                if let Some(ConnState::AwaitingConnect) = self.conns.get(&conn).map(|c| &c.state) {
                    self.emit(Event::TimerFired {
                        conn,
                        timer: timer.kind(),
                    });
                    self.close(now, conn, CloseReason::ConnectTimeout);
                }
            }
            Timer::KeepAlive(conn) => {
                // MQTT-3.1.2-24: silence for 1.5 keep-alive periods closes the connection,
                // as a network failure (the Will is published).
                self.emit(Event::TimerFired {
                    conn,
                    timer: timer.kind(),
                });
                self.close(now, conn, CloseReason::KeepAliveTimeout);
            }
            Timer::Resend(conn) => {
                let Some(session) = self.session_of_conn(conn) else {
                    return;
                };
                self.emit(Event::TimerFired {
                    conn,
                    timer: timer.kind(),
                });
                self.resend_inflight(now, session, false);
            }
            Timer::Reorder(conn) => self.release_held(now, conn),
            Timer::Stall(session) => self.stalled(now, session),
            Timer::WillDelay(session) => self.will_delay_passed(now, session),
        }
    }

    /// Arms the keep-alive check of a connected connection whose last packet arrived at
    /// `last_packet`; a keep-alive of zero turns the mechanism off (section 3.1.2.10).
    pub(super) fn arm_keep_alive(&mut self, conn: ConnId, last_packet: Instant, keep_alive: u16) {
        if keep_alive > 0 {
            let at = last_packet + keep_alive_limit(keep_alive);
            self.timers.set(Timer::KeepAlive(conn), at);
        }
    }

    /// Arms the resend timer of `conn` for when its oldest unacknowledged message has
    /// waited the resend interval, or stops it when nothing waits or resends are off.
    pub(super) fn arm_resend(&mut self, conn: ConnId, session: SessionId) {
        let timer = Timer::Resend(conn);
        let Some(interval) = self.config.resend_interval() else {
            return;
        };
        // MQTT 5.0 allows a resend only on reconnection (MQTT-4.4.0-1: "Clients and
        // Servers MUST NOT resend messages at any other time"); the standard profile keeps
        // to it for 5.0 clients. (AWS IoT's own resends are the aws-iot profile's to decide.)
        if self.aws().is_none() && self.version_of(conn) == ProtocolVersion::V5 {
            return self.timers.stop(timer);
        }
        match self.session_ref(session).and_then(|s| s.oldest_inflight()) {
            Some(oldest) => self.timers.set(timer, oldest + interval),
            None => self.timers.stop(timer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn set_moves_a_timer_and_stop_removes_it() {
        let mut t = TimerTable::new(Hashing::new(0));
        let a = Timer::KeepAlive(ConnId(1));
        t.set(a, at(50));
        t.set(a, at(20));
        assert_eq!((t.len(), t.next()), (1, Some(at(20))));
        t.stop(a);
        assert_eq!((t.len(), t.next()), (0, None));
    }

    #[test]
    fn due_timers_pop_in_deadline_then_key_order() {
        let mut t = TimerTable::new(Hashing::new(0));
        t.set(Timer::Resend(ConnId(2)), at(10));
        t.set(Timer::ConnectDeadline(ConnId(9)), at(10));
        t.set(Timer::KeepAlive(ConnId(1)), at(5));
        assert_eq!(t.pop_due(at(4)), None);
        assert_eq!(t.pop_due(at(10)), Some(Timer::KeepAlive(ConnId(1))));
        assert_eq!(t.pop_due(at(10)), Some(Timer::ConnectDeadline(ConnId(9))));
        assert_eq!(t.pop_due(at(10)), Some(Timer::Resend(ConnId(2))));
        assert_eq!(t.pop_due(at(10)), None);
    }
}

//! CONNECT, session attach and detach, takeover, and closing a connection with its Will.

use std::sync::Arc;

use core::time::Duration;

use super::refusal::Refusal;
use super::timers::Timer;
use super::{Broker, ConnState};
use crate::codec::{ConnAck, Connect, Packet};
use crate::config::{Qos2Mode, RetainMode};
use crate::event::{CloseReason, Event, Output, SessionChange};
use crate::policy::Action;
use crate::rule::Rule;
use crate::session::{AuthContext, Session, SessionId};
use crate::time::Instant;
use crate::types::{ConnId, ConnectReturnCode, ProtocolVersion, QoS};

impl Broker {
    pub(super) fn handle_connect(&mut self, now: Instant, conn: ConnId, mut connect: Connect) {
        if let Some(rules) = self.aws() {
            // AWS closes the connection for an over-long client id; no CONNACK.
            let limit = rules.max_client_id_len;
            if connect.client_id.len() > limit {
                let detail = format!("{} bytes, limit {limit}", connect.client_id.len());
                return self.rule_violation(now, conn, Rule::ClientIdTooLong, detail);
            }
            let (qos2, retain) = (rules.qos2, rules.retain);
            if let Some(will) = connect.will.as_mut() {
                // D2 reaches the Will too: field reports say a QoS 2 Will closes the
                // connection; in "ignore" mode it is kept at QoS 1, the most AWS offers.
                if will.qos == QoS::ExactlyOnce {
                    if qos2 == Qos2Mode::Disconnect {
                        return self.rule_violation(
                            now,
                            conn,
                            Rule::D2Qos2Unsupported,
                            "Will with QoS 2".into(),
                        );
                    }
                    will.qos = QoS::AtLeastOnce;
                    self.fire(
                        Rule::D2Qos2Unsupported,
                        Some(conn),
                        "Will QoS 2 lowered to 1".into(),
                    );
                }
                // D5: without retained-message support a Will cannot be retained.
                if will.retain && retain == RetainMode::Disconnect {
                    will.retain = false;
                    self.fire(
                        Rule::D5Retain,
                        Some(conn),
                        "the Will's RETAIN flag is ignored".into(),
                    );
                }
            }
        }

        let client_id: Arc<str> = if connect.client_id.is_empty() {
            // MQTT-3.1.3-8: an empty id with Clean Session 0 gets CONNACK 0x02.
            if !connect.clean_session {
                return self.refuse(now, conn, Refusal::IdentifierRejected);
            }
            // MQTT-3.1.3-6: with Clean Session 1 the server assigns a unique id.
            self.assign_client_id()
        } else if connect.client_id.len() > self.config.max_client_id_len {
            return self.refuse(now, conn, Refusal::IdentifierRejected);
        } else {
            Arc::from(connect.client_id)
        };

        if !self.admit_connect_rate(now, &client_id) {
            let limit = self.aws().map_or(0, |r| r.connect_rate_per_second);
            let detail = format!("{client_id:?}: over {limit} CONNECT per second");
            return self.rule_violation(now, conn, Rule::ConnectRate, detail);
        }

        let peer = self
            .conns
            .get(&conn)
            .map(|c| c.peer.clone())
            .unwrap_or_default();

        // Credentials: a connection authenticated by its certificate needs no password.
        let (user, password) = (connect.username.as_deref(), connect.password.as_deref());
        if peer.principal.is_none() && !self.credentials_accepted(user, password) {
            return self.refuse(now, conn, Refusal::BadCredentials);
        }

        // Policies: iot:Connect on the client id, and iot:Publish on the Will's topic. A
        // refusal leaves any connection already using the id alone.
        let auth = AuthContext {
            principal: peer.principal.clone().or_else(|| connect.username.clone()),
            common_name: peer.principal.clone(),
        };
        let mut allowed =
            self.authorize(Some(conn), &client_id, &auth, Action::Connect, &client_id);
        if let (true, Some(will)) = (allowed, &connect.will) {
            allowed = self.authorize(
                Some(conn),
                &client_id,
                &auth,
                Action::Publish,
                will.topic.as_str(),
            );
        }
        if !allowed {
            return self.refuse(now, conn, Refusal::ConnectDenied);
        }

        // MQTT-3.1.4-2 and D6: a client id already connected is taken over; the older
        // connection is closed (and its Will published, since it sent no DISCONNECT).
        let old_conn = self
            .by_client
            .get(&client_id)
            .and_then(|sid| self.session_conn(*sid));
        if let Some(old) = old_conn {
            if self.aws().is_some() {
                self.fire(
                    Rule::D6DuplicateClientId,
                    Some(old),
                    format!("{old} replaced by {conn}"),
                );
            }
            self.close(now, old, CloseReason::TakenOver { by: conn });
        }

        // MQTT-3.1.2-4 to -6 and MQTT-3.2.2-1 to -3: Clean Session 1 starts afresh and
        // answers session present 0; Clean Session 0 resumes a stored session if there is
        // one (session present 1, D3) and makes one otherwise.
        let existing = self.by_client.get(&client_id).copied();
        let (session, present) = match (connect.clean_session, existing) {
            (false, Some(sid)) => (sid, true),
            (clean, existing) => {
                if let Some(sid) = existing {
                    self.discard_session(sid);
                }
                (self.create_session(client_id.clone(), clean), false)
            }
        };
        // A resumed session no longer expires while its client is connected.
        self.timers.stop(Timer::SessionExpiry(session));
        if let Some(s) = self.session_mut(session) {
            s.conn = Some(conn);
            s.disconnected_at = None;
            s.set_auth(auth);
        }
        let keep_alive = self.effective_keep_alive(conn, connect.keep_alive);
        let lifecycle = self.lifecycle_for(&client_id, connect.username.as_deref(), &peer);
        self.timers.stop(Timer::ConnectDeadline(conn));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.version = ProtocolVersion::V311;
            c.state = ConnState::Connected {
                session,
                keep_alive,
                will: connect.will.map(Box::new),
                lifecycle: lifecycle.clone().map(Box::new),
            };
        }
        // MQTT-3.2.0-1: CONNACK is the server's first packet on the connection.
        let ack = ConnAck {
            session_present: present,
            code: ConnectReturnCode::Accepted,
        };
        self.send(now, conn, Packet::ConnAck(ack));
        self.emit(Event::Connected {
            conn,
            client_id: client_id.to_string(),
            clean_session: connect.clean_session,
            session_present: present,
            keep_alive,
        });
        let change = if present {
            SessionChange::Resumed
        } else {
            SessionChange::Created
        };
        self.emit(Event::Session {
            client_id: client_id.to_string(),
            change,
        });
        if present && self.aws().is_some() {
            self.fire(
                Rule::D3SessionPresent,
                Some(conn),
                "CONNACK session present = 1".into(),
            );
        }
        self.arm_keep_alive(conn, now, keep_alive);
        if let Some(l) = &lifecycle {
            self.publish_connected(now, l);
        }
        if present {
            // MQTT-4.4.0-1: re-send unacknowledged PUBLISH (DUP=1) and PUBREL packets,
            // then whatever queued while the client was away.
            self.resend_inflight(now, session, true);
            self.pump(now, session);
        }
    }

    /// Whether the CONNECT's user name and password are in `Config::users` (or no list is
    /// configured). The comparison takes the same time however much of the password
    /// matches, so timing does not reveal it.
    fn credentials_accepted(&self, user: Option<&str>, password: Option<&[u8]>) -> bool {
        let Some(users) = &self.config.users else {
            return true;
        };
        let expected = user.and_then(|u| users.get(u));
        match (expected, password) {
            (Some(expected), Some(given)) => {
                let (a, b) = (expected.as_bytes(), given);
                a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
            }
            _ => false,
        }
    }

    /// aws-iot: at most `connect_rate_per_second` CONNECTs per client id per second.
    fn admit_connect_rate(&mut self, now: Instant, client_id: &Arc<str>) -> bool {
        let Some(limit) = self.aws().map(|r| r.connect_rate_per_second) else {
            return true;
        };
        // Forget client ids whose second is over, at most once a second, so a stream of
        // unique ids can neither grow the table beyond a second's worth nor make every
        // CONNECT rescan it.
        let due = now.saturating_since(self.connects_pruned_at).as_millis() >= 1000;
        if self.connects.len() >= 1024 && due {
            self.connects
                .retain(|_, (start, _)| now.saturating_since(*start).as_millis() < 1000);
            self.connects_pruned_at = now;
        }
        let entry = self.connects.entry(client_id.clone()).or_insert((now, 0));
        if now.saturating_since(entry.0).as_millis() >= 1000 {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= limit
    }

    /// The keep-alive in force: as asked under the standard; under aws-iot, 0 and
    /// anything above the maximum become the maximum, and anything below the minimum
    /// becomes the minimum.
    fn effective_keep_alive(&mut self, conn: ConnId, asked: u16) -> u16 {
        let Some(rules) = self.aws() else {
            return asked;
        };
        let (min, max) = (
            rules.keep_alive_min,
            rules.keep_alive_max.max(rules.keep_alive_min),
        );
        let granted = if asked == 0 || asked > max {
            max
        } else {
            asked.max(min)
        };
        if granted != asked {
            self.fire(
                Rule::KeepAliveClamped,
                Some(conn),
                format!("{asked} s became {granted} s"),
            );
        }
        granted
    }

    /// Answers CONNECT with a refusal code, then closes (MQTT-3.2.2-4: session present 0;
    /// MQTT-3.2.2-5: close after a non-zero code).
    pub(super) fn refuse_connect(&mut self, now: Instant, conn: ConnId, code: ConnectReturnCode) {
        self.send(
            now,
            conn,
            Packet::ConnAck(ConnAck {
                session_present: false,
                code,
            }),
        );
        self.close(now, conn, CloseReason::ConnectRefused(code));
    }

    /// Ends a connection: detaches or discards its session, tells the driver, publishes
    /// the lifecycle event, and publishes the Will for every reason but DISCONNECT. The
    /// one place a connection ends.
    pub(super) fn close(&mut self, now: Instant, conn: ConnId, reason: CloseReason) {
        // Packets held back by D8 still go out before the close: nothing is lost to it.
        self.flush_held(now, conn);
        let Some(mut c) = self.conns.remove(&conn) else {
            return;
        };
        for timer in Timer::of_conn(conn) {
            self.timers.stop(timer);
        }
        if let Some(deferred) = c.deferred.take() {
            self.forget_publisher(conn, deferred.acks);
        }
        let mut client_id = None;
        let mut will = None;
        let mut lifecycle = None;
        if let ConnState::Connected {
            session,
            will: w,
            lifecycle: l,
            ..
        } = c.state
        {
            will = w;
            lifecycle = l;
            client_id = self.detach_session(now, session);
        }
        let id = client_id.as_deref().map(str::to_owned);
        self.emit(Event::Disconnected {
            conn,
            client_id: id,
            reason: reason.clone(),
        });
        self.out.push_back(Output::Close {
            conn,
            reason: reason.clone(),
        });
        if let Some(l) = &lifecycle {
            self.publish_disconnected(now, l, &reason);
        }
        // Section 3.1.2.5: the Will goes out on any close except DISCONNECT, which
        // deleted it (MQTT-3.1.2-10). Its QoS and RETAIN are honoured (MQTT-3.1.2-14..17).
        if let (true, Some(w), Some(id)) = (reason.publishes_will(), will, client_id) {
            self.emit(Event::WillPublished {
                client_id: id.to_string(),
                topic: w.topic.clone(),
            });
            self.route(now, &w.topic, &w.payload, w.qos, w.retain);
        }
    }

    /// Detaches a session from its ending connection; a clean session is discarded
    /// (MQTT-3.1.2-6) and, under aws-iot, a persistent one starts its expiry clock.
    fn detach_session(&mut self, now: Instant, session: SessionId) -> Option<Arc<str>> {
        let expiry = self
            .aws()
            .map(|r| Duration::from_secs(r.session_expiry_secs));
        let s = self.session_mut(session)?;
        s.conn = None;
        s.disconnected_at = Some(now);
        let (client_id, clean) = (s.client_id.clone(), s.clean);
        // Publishers no longer wait for a client that is gone.
        self.relieve(now, session);
        if clean {
            self.discard_session(session);
        } else if let Some(expiry) = expiry {
            self.timers.set(Timer::SessionExpiry(session), now + expiry);
        }
        Some(client_id)
    }

    /// A persistent session's time offline is up (aws-iot quota): it is discarded, and
    /// the next CONNECT answers session present 0.
    pub(super) fn expire_session(&mut self, _now: Instant, session: SessionId) {
        let Some(s) = self.session_ref(session) else {
            return;
        };
        let client_id = s.client_id.to_string();
        self.fire(
            Rule::SessionExpired,
            None,
            format!("session {client_id:?} discarded"),
        );
        self.discard_session(session);
    }

    fn create_session(&mut self, client_id: Arc<str>, clean: bool) -> SessionId {
        let session = Session::new(client_id.clone(), clean);
        let id = match self.free_sessions.pop() {
            Some(slot) => {
                self.sessions[slot as usize] = Some(Box::new(session));
                SessionId(slot)
            }
            None => {
                // Four billion simultaneous sessions would exhaust far more than memory
                // first; saturating keeps the arithmetic total.
                let slot = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
                self.sessions.push(Some(Box::new(session)));
                SessionId(slot)
            }
        };
        self.by_client.insert(client_id, id);
        id
    }

    /// Forgets a session and all its state: subscriptions, queue, in-flight messages.
    pub(super) fn discard_session(&mut self, id: SessionId) {
        let Some(session) = self.sessions.get_mut(id.0 as usize).and_then(Option::take) else {
            return;
        };
        self.timers.stop(Timer::SessionExpiry(id));
        for filter in session.subscriptions.keys() {
            self.index.remove(filter, id);
        }
        self.by_client.remove(&session.client_id);
        self.free_sessions.push(id.0);
        let client_id = session.client_id.to_string();
        self.emit(Event::Session {
            client_id,
            change: SessionChange::Discarded,
        });
    }

    /// A client id no session uses, drawn from the seeded generator so that replays
    /// assign the same ids.
    fn assign_client_id(&mut self) -> Arc<str> {
        loop {
            let id: Arc<str> = Arc::from(format!("auto-{:016x}", self.rng.next_u64()));
            if !self.by_client.contains_key(&id) {
                return id;
            }
        }
    }
}

/// MQTT-3.1.2-24: the server disconnects after one and a half keep-alive periods of
/// silence.
pub(super) fn keep_alive_limit(keep_alive: u16) -> Duration {
    Duration::from_millis(u64::from(keep_alive) * 1500)
}

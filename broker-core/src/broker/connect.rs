//! CONNECT and CONNACK: admitting a client, in MQTT 3.1.1 and 5.0, and attaching it to
//! its session. Ending a connection is in `close.rs`.

use std::sync::Arc;

use core::time::Duration;

use super::mqtt5::Mqtt5;
use super::refusal::Refusal;
use super::timers::Timer;
use super::{Broker, ConnState, Extras};
use crate::codec::{ConnAck, Connect, Packet, Properties, Property, ReasonCode};
use crate::config::{Qos2Mode, RetainMode};
use crate::event::{Event, SessionChange};
use crate::policy::Action;
use crate::rule::Rule;
use crate::session::{AuthContext, Session, SessionId};
use crate::time::Instant;
use crate::types::{ConnId, ProtocolVersion, QoS};

/// What the server grants a CONNECT beyond acceptance, for its CONNACK.
#[derive(Debug, Default)]
struct Granted {
    /// The client id the server assigned (MQTT-3.1.3-7).
    assigned: Option<Arc<str>>,
    /// The Session Expiry Interval, when the server lowered the client's.
    session_expiry: Option<u32>,
    /// The keep-alive, when the server changed the client's.
    keep_alive: Option<u16>,
}

impl Broker {
    pub(super) fn handle_connect(&mut self, now: Instant, conn: ConnId, mut connect: Connect) {
        let v5 = connect.version == ProtocolVersion::V5;
        // From here on the connection speaks the CONNECT's version, refusals included.
        if let Some(c) = self.conns.get_mut(&conn) {
            c.version = connect.version;
        }
        // A refusal's CONNACK must fit the Maximum Packet Size this CONNECT asks for.
        self.connect_max_packet = connect.properties.maximum_packet_size();
        if self.aws().is_some() && !self.admit_aws_connect(now, conn, &mut connect) {
            return;
        }
        // MQTT 5.0 enhanced authentication is not offered: a CONNECT asking for it gets
        // CONNACK 0x8C, Bad authentication method (section 4.12).
        if v5 && connect.properties.authentication_method().is_some() {
            return self.refuse(now, conn, Refusal::BadAuthenticationMethod);
        }
        // MQTT 5.0: a Will with RETAIN=1 where retained messages are not available is
        // refused with 0x9A (MQTT-3.2.2-13).
        let will_retained = connect.will.as_ref().is_some_and(|w| w.retain);
        if v5 && will_retained && !self.retain_available() {
            return self.refuse(now, conn, Refusal::Rule(Rule::D5Retain));
        }
        // MQTT-3.2.2-12: a Will QoS above the Maximum QoS in CONNACK is refused with 0x9B.
        // (The aws-iot profile's own check, D2, came first.)
        let will_qos = connect.will.as_ref().map(|w| w.qos);
        if v5 && will_qos.is_some_and(|q| q > self.config.max_qos) {
            return self.refuse(now, conn, Refusal::WillQosNotSupported);
        }

        let mut granted = Granted::default();
        let client_id: Arc<str> = if connect.client_id.is_empty() {
            // MQTT-3.1.3-8 (3.1.1): an empty id with Clean Session 0 gets CONNACK 0x02.
            // MQTT 5.0 assigns one whatever Clean Start says (MQTT-3.1.3-6, -7).
            if !connect.clean_session && !v5 {
                return self.refuse(now, conn, Refusal::IdentifierRejected);
            }
            let id = self.assign_client_id();
            granted.assigned = Some(id.clone());
            id
        } else if connect.client_id.len() > self.config.max_client_id_len {
            return self.refuse(now, conn, Refusal::IdentifierRejected);
        } else {
            Arc::from(connect.client_id.as_str())
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
            self.close(now, old, crate::event::CloseReason::TakenOver { by: conn });
        }

        let (session, present) = self.attach_session(now, conn, &client_id, &connect);
        let expiry = self.session_expiry(conn, &connect, &mut granted);
        if let Some(s) = self.session_mut(session) {
            s.conn = Some(conn);
            s.disconnected_at = None;
            s.version = connect.version;
            s.clean = connect.clean_session;
            s.expiry = expiry;
            s.set_auth(auth);
        }
        let keep_alive = self.effective_keep_alive(conn, connect.keep_alive, v5);
        if keep_alive != connect.keep_alive {
            granted.keep_alive = Some(keep_alive);
        }
        let lifecycle = self.lifecycle_for(&client_id, connect.username.as_deref(), &peer);
        self.timers.stop(Timer::ConnectDeadline(conn));
        let mqtt5 = v5.then(|| Mqtt5::from_connect(&connect.properties));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Connected {
                session,
                keep_alive,
                extras: Extras::boxed(connect.will, lifecycle.clone(), mqtt5),
            };
        }
        self.stats.connects_by_version[usize::from(v5)] += 1;
        // MQTT-3.2.0-1: CONNACK is the server's first packet on the connection.
        let properties = v5.then(|| self.connack_properties(&granted));
        let ack = ConnAck {
            session_present: present,
            code: ReasonCode::SUCCESS,
            properties,
        };
        self.connect_max_packet = None;
        self.send(now, conn, Packet::ConnAck(ack));
        self.emit(Event::Connected {
            conn,
            client_id: client_id.to_string(),
            clean_session: connect.clean_session,
            session_present: present,
            keep_alive,
            version: connect.version,
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

    /// The aws-iot profile's rules for a CONNECT. Returns false if it goes no further.
    fn admit_aws_connect(&mut self, now: Instant, conn: ConnId, connect: &mut Connect) -> bool {
        let Some(rules) = self.aws() else {
            return true;
        };
        // AWS closes the connection for an over-long client id; no CONNACK in 3.1.1,
        // CONNACK 0x85 in 5.0.
        let limit = rules.max_client_id_len;
        if connect.client_id.len() > limit {
            let detail = format!("{} bytes, limit {limit}", connect.client_id.len());
            self.rule_violation(now, conn, Rule::ClientIdTooLong, detail);
            return false;
        }
        let (qos2, retain) = (rules.qos2, rules.retain);
        let v5 = connect.version == ProtocolVersion::V5;
        let Some(will) = connect.will.as_mut() else {
            return true;
        };
        // D2 reaches the Will too. MQTT 5: CONNACK 0x9B, "The server does not support the
        // QoS set in Will QoS". MQTT 3.1.1: field reports say a QoS 2 Will closes the
        // connection; in "ignore" mode it is kept at QoS 1, the most AWS offers.
        if will.qos == QoS::ExactlyOnce {
            if v5 || qos2 == Qos2Mode::Disconnect {
                self.rule_violation(now, conn, Rule::D2Qos2Unsupported, "Will with QoS 2".into());
                return false;
            }
            will.qos = QoS::AtLeastOnce;
            self.fire(
                Rule::D2Qos2Unsupported,
                Some(conn),
                "Will QoS 2 lowered to 1".into(),
            );
        }
        // D5: without retained-message support a 3.1.1 Will cannot be retained; MQTT 5
        // refuses it (see `handle_connect`).
        if will.retain && retain == RetainMode::Disconnect && !v5 {
            will.retain = false;
            self.fire(
                Rule::D5Retain,
                Some(conn),
                "the Will's RETAIN flag is ignored".into(),
            );
        }
        true
    }

    /// Finds or makes the session of `client_id` for a new connection. MQTT-3.1.2-4 to
    /// -6 and MQTT-3.2.2-1 to -3 (3.1.1), MQTT-3.1.2-4 to -6 (5.0): Clean Session or Clean
    /// Start 1 starts afresh, answering session present 0; 0 resumes a stored session if
    /// there is one (session present 1, D3) and makes one otherwise. Under aws-iot a
    /// session made by the other MQTT version is not resumed.
    fn attach_session(
        &mut self,
        now: Instant,
        conn: ConnId,
        client_id: &Arc<str>,
        connect: &Connect,
    ) -> (SessionId, bool) {
        let mut existing = self.by_client.get(client_id).copied();
        let cross = self.aws().is_some_and(|r| !r.sessions_cross_versions);
        if let (false, true, Some(sid)) = (connect.clean_session, cross, existing) {
            let other = self.session_ref(sid).map(|s| s.version);
            if other.is_some_and(|v| v != connect.version) {
                let detail = format!(
                    "a {} session is not resumed over MQTT {}",
                    other.map_or("", |v| v.name()),
                    connect.version.name()
                );
                self.fire(Rule::SessionVersionMismatch, Some(conn), detail);
                self.end_session(now, sid);
                existing = None;
            }
        }
        match (connect.clean_session, existing) {
            (false, Some(sid)) => {
                // A resumed session no longer expires, and a Will that waited for its
                // delay is not sent: the client came back (MQTT-3.1.3-9).
                self.timers.stop(Timer::SessionExpiry(sid));
                self.timers.stop(Timer::WillDelay(sid));
                if let Some(s) = self.session_mut(sid) {
                    s.pending_will = None;
                }
                (sid, true)
            }
            (clean, existing) => {
                if let Some(sid) = existing {
                    self.end_session(now, sid);
                }
                (self.create_session(client_id.clone(), clean), false)
            }
        }
    }

    /// How long the session outlives this connection. MQTT 3.1.1: a clean session ends
    /// with it, a persistent one lasts as long as the profile keeps sessions. MQTT 5.0:
    /// the CONNECT's Session Expiry Interval (absent means 0, section 3.1.2.11.2; 0xFFFFFFFF
    /// means never), lowered to `max_session_expiry_secs`, in which case CONNACK says so.
    fn session_expiry(
        &mut self,
        conn: ConnId,
        connect: &Connect,
        granted: &mut Granted,
    ) -> Option<u32> {
        let cap = self.config.max_session_expiry_secs;
        if connect.version == ProtocolVersion::V311 {
            return if connect.clean_session { Some(0) } else { cap };
        }
        let asked = connect.properties.session_expiry_interval().unwrap_or(0);
        let (requested, capped) = match (asked, cap) {
            (u32::MAX, None) => return None,
            (asked, Some(cap)) if asked > cap => (asked, cap),
            (asked, _) => return Some(asked),
        };
        granted.session_expiry = Some(capped);
        if self.aws().is_some() {
            self.fire(
                Rule::SessionExpiryAdjusted,
                Some(conn),
                format!("Session Expiry Interval {requested} s became {capped} s"),
            );
        }
        Some(capped)
    }

    /// The properties of an MQTT 5.0 CONNACK (section 3.2.2.3): every limit of the server
    /// a client must respect, and what it changed of the client's request.
    fn connack_properties(&self, granted: &Granted) -> Properties {
        let c = &self.config;
        let mut p = Properties::new();
        if let Some(seconds) = granted.session_expiry {
            p.push(Property::SessionExpiryInterval(seconds));
        }
        // 65,535, the default when absent, needs no saying (section 3.2.2.3.3).
        if c.receive_maximum != u16::MAX {
            p.push(Property::ReceiveMaximum(c.receive_maximum));
        }
        if c.max_qos != QoS::ExactlyOnce {
            p.push(Property::MaximumQoS(c.max_qos.bits()));
        }
        if !self.retain_available() {
            p.push(Property::RetainAvailable(0));
        }
        let max_packet = self.decoding_limit_v5();
        p.push(Property::MaximumPacketSize(
            u32::try_from(max_packet).unwrap_or(u32::MAX),
        ));
        if let Some(id) = &granted.assigned {
            p.push(Property::AssignedClientIdentifier(id.to_string()));
        }
        if c.topic_alias_maximum > 0 {
            p.push(Property::TopicAliasMaximum(c.topic_alias_maximum));
        }
        if !c.subscription_identifiers {
            p.push(Property::SubscriptionIdentifierAvailable(0));
        }
        if !c.shared_subscriptions {
            p.push(Property::SharedSubscriptionAvailable(0));
        }
        if let Some(keep_alive) = granted.keep_alive {
            p.push(Property::ServerKeepAlive(keep_alive));
        }
        p
    }

    /// The largest packet an MQTT 5.0 client may send.
    fn decoding_limit_v5(&self) -> usize {
        let max = self.config.max_packet_size;
        self.aws()
            .map_or(max, |r| max.min(r.max_packet_size as usize))
    }

    /// Whether retained messages are available: always in the standard profile, and in
    /// the aws-iot profile with AWS's exact-match retained messages (D5).
    pub(super) fn retain_available(&self) -> bool {
        self.aws()
            .is_none_or(|r| r.retain != RetainMode::Disconnect)
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

    /// The keep-alive in force. Under aws-iot, 0 and anything above the maximum become
    /// the maximum, and anything below the minimum becomes the minimum. In the standard
    /// profile an MQTT 5.0 client asking for more than `server_keep_alive`, or for none,
    /// gets that (section 3.2.2.3.14); 3.1.1 has no way to tell the client, so it gets
    /// what it asked.
    fn effective_keep_alive(&mut self, conn: ConnId, asked: u16, v5: bool) -> u16 {
        let Some(rules) = self.aws() else {
            return match (v5, self.config.server_keep_alive) {
                (true, Some(max)) if asked == 0 || asked > max => max,
                _ => asked,
            };
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

    /// Answers CONNECT with a refusal code, then closes: MQTT-3.2.2-4 (session present 0)
    /// and MQTT-3.2.2-5 (close after a non-zero code) in 3.1.1; MQTT-3.2.2-6 and -7 in
    /// 5.0, whose CONNACK also says why in a Reason String.
    pub(super) fn refuse_connect(
        &mut self,
        now: Instant,
        conn: ConnId,
        code: ReasonCode,
        client_max_packet: Option<u32>,
    ) {
        let properties = (self.version_of(conn) == ProtocolVersion::V5).then(|| {
            let mut p = Properties::new();
            p.push(Property::ReasonString(code.name().to_owned()));
            p
        });
        let mut connack = ConnAck {
            session_present: false,
            code,
            properties,
        };
        // MQTT-3.2.2-19: no Reason String that would make the CONNACK larger than the
        // Maximum Packet Size the CONNECT asked for.
        if let Some(max) = client_max_packet {
            if Packet::ConnAck(connack.clone()).encoded_len() as u64 > u64::from(max) {
                connack.properties = Some(Properties::new());
            }
        }
        self.send(now, conn, Packet::ConnAck(connack));
        self.close(now, conn, crate::event::CloseReason::ConnectRefused(code));
    }

    fn create_session(&mut self, client_id: Arc<str>, clean: bool) -> SessionId {
        let id = self.insert_session(Session::new(client_id, clean));
        // Under durability a new persistent session is stored before its CONNACK goes.
        self.session_mut(id);
        id
    }

    /// Puts a session in the table, under its client id.
    pub(super) fn insert_session(&mut self, mut session: Session) -> SessionId {
        if self.durable.is_some() && session.store.is_none() {
            session.store = Some(Box::default());
        }
        let client_id = session.client_id.clone();
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
/// silence (MQTT-3.1.2-22 in 5.0).
pub(super) fn keep_alive_limit(keep_alive: u16) -> Duration {
    Duration::from_millis(u64::from(keep_alive) * 1500)
}

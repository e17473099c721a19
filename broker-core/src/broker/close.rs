//! How connections and sessions end: DISCONNECT from the client, every close, the Will
//! (and MQTT 5.0's Will Delay Interval), and session expiry.

use std::sync::Arc;

use core::time::Duration;

use super::timers::Timer;
use super::{Broker, ConnState};
use crate::codec::{Disconnect, LastWill, Packet, Property, ReasonCode};
use crate::event::{CloseReason, Event, Output, SessionChange, Violation};
use crate::rule::Rule;
use crate::session::SessionId;
use crate::time::Instant;
use crate::types::{ConnId, ProtocolVersion};

impl Broker {
    /// DISCONNECT from the client. MQTT-3.14.4-3: it discards the Will, unless an MQTT
    /// 5.0 client asks for it with Reason Code 0x04 (section 3.14.2.1). An MQTT 5.0
    /// DISCONNECT may also change the Session Expiry Interval (section 3.14.2.2.2).
    pub(super) fn handle_disconnect(
        &mut self,
        now: Instant,
        conn: ConnId,
        session: SessionId,
        disconnect: Disconnect,
    ) {
        if let Some(asked) = disconnect.properties.session_expiry_interval() {
            let current = self.session_ref(session).and_then(|s| s.expiry);
            // Section 3.14.2.2.2: a session that was to end with the connection cannot
            // be given a life after it at DISCONNECT; that is a Protocol Error.
            if current == Some(0) && asked > 0 {
                return self.violation(now, conn, Violation::SessionExpiryOnDisconnect);
            }
            let capped = match (asked, self.config.max_session_expiry_secs) {
                (u32::MAX, None) => None,
                (asked, Some(cap)) => Some(asked.min(cap)),
                (asked, None) => Some(asked),
            };
            if let Some(s) = self.session_mut(session) {
                s.expiry = capped;
            }
        }
        // Only a normal disconnection (0x00) discards the Will (MQTT-3.1.2-10).
        let reason = match disconnect.reason {
            ReasonCode::SUCCESS => CloseReason::ClientDisconnect,
            code => CloseReason::ClientDisconnectWithWill(code),
        };
        self.close(now, conn, reason);
    }

    /// Ends a connection: tells an MQTT 5.0 client why (a DISCONNECT with a Reason Code,
    /// section 3.14), detaches or ends its session, tells the driver, publishes the
    /// lifecycle event, and deals with the Will. The one place a connection ends.
    pub(super) fn close(&mut self, now: Instant, conn: ConnId, reason: CloseReason) {
        // Packets held back by D8 still go out before the close: nothing is lost to it.
        self.flush_held(now, conn);
        self.send_disconnect(now, conn, &reason);
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
        let mut session_id = None;
        if let ConnState::Connected {
            session, extras, ..
        } = c.state
        {
            if let Some(extras) = extras {
                will = extras.will;
                lifecycle = extras.lifecycle;
            }
            session_id = Some(session);
            client_id = self.session_ref(session).map(|s| s.client_id.clone());
        }
        self.emit(Event::Disconnected {
            conn,
            client_id: client_id.as_deref().map(str::to_owned),
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
        let will = will.filter(|_| reason.publishes_will());
        if let Some(session) = session_id {
            self.detach_session(now, session, will.map(Box::new));
        }
    }

    /// An MQTT 5.0 client that the server disconnects, after its CONNACK, gets a
    /// DISCONNECT saying why, with the reason in words (MQTT-3.14.2-1, section 3.14.2.2.3).
    fn send_disconnect(&mut self, now: Instant, conn: ConnId, reason: &CloseReason) {
        let Some(code) = reason.reason_code() else {
            return;
        };
        let connected = self.conns.get(&conn).is_some_and(|c| {
            c.version == ProtocolVersion::V5 && matches!(c.state, ConnState::Connected { .. })
        });
        if !connected {
            return;
        }
        let mut disconnect = Disconnect::with_reason(code);
        disconnect
            .properties
            .push(Property::ReasonString(reason.describe(&self.config)));
        self.send(now, conn, Packet::Disconnect(disconnect));
    }

    /// Detaches a session from its ending connection. A session whose expiry is 0 ends
    /// now (MQTT-3.1.2-6 in 3.1.1; a Session Expiry Interval of 0 in 5.0); otherwise its
    /// expiry clock starts. The Will is published now, or, with an MQTT 5.0 Will Delay
    /// Interval, when that delay or the session ends, whichever comes first
    /// (MQTT-3.1.3-9).
    fn detach_session(&mut self, now: Instant, session: SessionId, will: Option<Box<LastWill>>) {
        let Some(s) = self.session_mut(session) else {
            return;
        };
        s.conn = None;
        s.disconnected_at = Some(now);
        let (expiry, client_id) = (s.expiry, s.client_id.clone());
        // Publishers no longer wait for a client that is gone.
        self.relieve(now, session);
        let delay = will
            .as_ref()
            .and_then(|w| w.properties.will_delay_interval())
            .filter(|d| *d > 0);
        match (expiry, will, delay) {
            // The session ends with the connection: the Will goes out after it has ended,
            // whatever its delay, so that the session itself does not queue it.
            (Some(0), will, _) => {
                self.end_session(now, session);
                if let Some(will) = will {
                    self.publish_will(now, &client_id, None, *will);
                }
            }
            (expiry, Some(will), Some(delay)) => {
                let until = expiry.map_or(delay, |e| delay.min(e));
                let at = now + Duration::from_secs(u64::from(until));
                if let Some(s) = self.session_mut(session) {
                    s.pending_will = Some(will);
                }
                self.timers.set(Timer::WillDelay(session), at);
            }
            (_, Some(will), None) => self.publish_will(now, &client_id, Some(session), *will),
            (_, None, _) => {}
        }
        if let Some(secs) = expiry.filter(|s| *s > 0) {
            let at = now + Duration::from_secs(u64::from(secs));
            self.timers.set(Timer::SessionExpiry(session), at);
        }
    }

    /// The Will Delay Interval of a session's pending Will has passed.
    pub(super) fn will_delay_passed(&mut self, now: Instant, session: SessionId) {
        let Some(s) = self.session_mut(session) else {
            return;
        };
        let client_id = s.client_id.clone();
        if let Some(will) = s.pending_will.take() {
            self.publish_will(now, &client_id, Some(session), *will);
        }
    }

    /// Publishes a Will, as the session's client would have published it.
    fn publish_will(
        &mut self,
        now: Instant,
        client_id: &Arc<str>,
        from: Option<SessionId>,
        will: LastWill,
    ) {
        self.emit(Event::WillPublished {
            client_id: client_id.to_string(),
            topic: will.topic.clone(),
        });
        self.route_will(now, from, will);
    }

    /// A persistent session's time offline is up: it ends, and the next CONNECT answers
    /// session present 0.
    pub(super) fn expire_session(&mut self, now: Instant, session: SessionId) {
        let Some(s) = self.session_ref(session) else {
            return;
        };
        let client_id = s.client_id.to_string();
        if self.aws().is_some() {
            self.fire(
                Rule::SessionExpired,
                None,
                format!("session {client_id:?} discarded"),
            );
        }
        self.end_session(now, session);
    }

    /// Ends a session: a Will still waiting for its delay goes out first (MQTT-3.1.3-9),
    /// then the session is discarded.
    pub(super) fn end_session(&mut self, now: Instant, session: SessionId) {
        self.timers.stop(Timer::WillDelay(session));
        self.will_delay_passed(now, session);
        self.discard_session(session);
    }

    /// Forgets a session and all its state: subscriptions, queue, in-flight messages.
    pub(super) fn discard_session(&mut self, id: SessionId) {
        let Some(mut session) = self.sessions.get_mut(id.0 as usize).and_then(Option::take) else {
            return;
        };
        self.timers.stop(Timer::SessionExpiry(id));
        self.timers.stop(Timer::WillDelay(id));
        self.timers.stop(Timer::Stall(id));
        for filter in session.subscriptions.keys() {
            let (group, filter) = super::subscribe::split_shared(filter);
            self.index.remove(group.as_deref(), &filter, id);
        }
        self.by_client.remove(&session.client_id);
        self.free_sessions.push(id.0);
        self.session_discarded(&mut session);
        let client_id: Arc<str> = session.client_id.clone();
        self.emit(Event::Session {
            client_id: client_id.to_string(),
            change: SessionChange::Discarded,
        });
    }
}

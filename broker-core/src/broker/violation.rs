//! The one place where a client's misbehaviour becomes wire behaviour (STYLE.md
//! principle 5, after rustls's mapping of errors to alerts).

use super::{Broker, ConnState};
use crate::codec::DecodeError;
use crate::event::{CloseReason, Event, Violation};
use crate::rule::Rule;
use crate::time::Instant;
use crate::types::{ConnId, ConnectReturnCode};

impl Broker {
    /// Answers a protocol violation: CONNACK 0x01 for an unsupported protocol level in
    /// the first CONNECT (MQTT-3.1.2-2), otherwise closing the connection without a reply
    /// (MQTT-4.8.0-1). Either way the Will is published if one was accepted.
    pub(super) fn violation(&mut self, now: Instant, conn: ConnId, violation: Violation) {
        self.stats.protocol_violations += 1;
        let awaiting_connect = self
            .conns
            .get(&conn)
            .is_some_and(|c| matches!(c.state, ConnState::AwaitingConnect));
        self.emit(Event::ProtocolViolation {
            conn,
            violation: violation.clone(),
        });
        match violation {
            Violation::Malformed(DecodeError::UnsupportedProtocolLevel(_)) if awaiting_connect => {
                self.refuse_connect(now, conn, ConnectReturnCode::UnacceptableProtocolVersion);
            }
            other => self.close(now, conn, CloseReason::ProtocolViolation(other)),
        }
    }

    /// Answers a broken aws-iot rule that AWS answers by closing the connection
    /// (lifecycle reason CLIENT_ERROR): the rule fires, then the connection closes.
    pub(super) fn rule_violation(
        &mut self,
        now: Instant,
        conn: ConnId,
        rule: Rule,
        detail: String,
    ) {
        self.fire(rule, Some(conn), detail);
        self.close(now, conn, CloseReason::Rule(rule));
    }
}

//! The one place where a refusal becomes wire behaviour, after rustls's mapping of errors
//! to alerts (docs/architecture.md, "Decisions in one place").
//!
//! The broker refuses things for many reasons: a client broke the protocol, a policy
//! denied an action, a quota was exceeded. What the client sees depends on the profile
//! and on the protocol version it speaks: a CONNACK code, a SUBACK failure code, a message
//! dropped but still acknowledged, or a closed connection. [`consequence`] decides that
//! for every refusal; the handlers only say what was refused.

use super::{Broker, ConnState};
use crate::codec::DecodeError;
use crate::config::Profile;
use crate::event::{CloseReason, Event, Violation};
use crate::rule::Rule;
use crate::time::Instant;
use crate::types::{ConnId, ConnectReturnCode, ProtocolVersion};

/// What the broker refuses, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The CONNECT's user name and password are not in `Config::users`.
    BadCredentials,
    /// A policy denied iot:Connect, or iot:Publish on the Will's topic.
    ConnectDenied,
    /// The client id is empty with Clean Session 0 (MQTT-3.1.3-8), or longer than
    /// `max_client_id_len`.
    IdentifierRejected,
    /// A policy denied iot:Publish or iot:RetainPublish.
    PublishDenied,
    /// A policy denied iot:Subscribe on one filter.
    SubscribeDenied,
    /// The client broke the protocol.
    Violation(Violation),
    /// A rule of the aws-iot profile that AWS answers by closing the connection.
    Rule(Rule),
}

/// What the client sees of a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Consequence {
    /// CONNACK with this code, then the connection closes (MQTT-3.2.2-5).
    ConnAck(ConnectReturnCode),
    /// The connection closes without a reply.
    Close(CloseReason),
    /// This filter gets SUBACK 0x80; the others are answered as usual (MQTT-3.9.3-2).
    SubAckFailure,
    /// The message is dropped, and still acknowledged as its QoS requires, so that the
    /// client does not retry it forever: MQTT 3.1.1 has no negative PUBACK.
    DropAndAck,
}

/// Decides what the client sees of `refusal`, under `profile`, for a connection speaking
/// `version` that has (`connected`) or has not yet had its CONNECT accepted.
pub(crate) fn consequence(
    profile: Profile,
    version: ProtocolVersion,
    connected: bool,
    refusal: &Refusal,
) -> Consequence {
    use Consequence::*;
    let aws = profile == Profile::AwsIot;
    match (version, refusal) {
        // MQTT-3.1.2-2: a protocol level the server does not speak gets CONNACK 0x01 in
        // answer to the first CONNECT; anything else malformed closes the connection
        // without a reply (MQTT-4.8.0-1).
        (_, Refusal::Violation(Violation::Malformed(DecodeError::UnsupportedProtocolLevel(_))))
            if !connected =>
        {
            ConnAck(ConnectReturnCode::UnacceptableProtocolVersion)
        }
        (_, Refusal::Violation(v)) => Close(CloseReason::ProtocolViolation(v.clone())),
        // AWS closes the connection for every rule it enforces that way (CLIENT_ERROR,
        // or THROTTLED for the rates): MQTT 3.1.1 has no reason code to send.
        (_, Refusal::Rule(rule)) => Close(CloseReason::Rule(*rule)),
        // MQTT-3.1.3-8 and section 3.2.2.3: CONNACK 0x02, identifier rejected.
        (_, Refusal::IdentifierRejected) => ConnAck(ConnectReturnCode::IdentifierRejected),
        // AWS IoT closes a connection a policy or the credentials refuse, without a CONNACK
        // (lifecycle reason AUTH_ERROR); MQTT 3.1.1 answers CONNACK 0x04 and 0x05.
        (_, Refusal::BadCredentials) if aws => Close(CloseReason::AuthError),
        (_, Refusal::BadCredentials) => ConnAck(ConnectReturnCode::BadUsernameOrPassword),
        (_, Refusal::ConnectDenied) if aws => Close(CloseReason::AuthError),
        (_, Refusal::ConnectDenied) => ConnAck(ConnectReturnCode::NotAuthorized),
        // AWS IoT closes the connection on a denied publish or subscribe: the reconnect
        // loop its users meet when a policy lacks an action (docs/policies.md).
        (_, Refusal::PublishDenied | Refusal::SubscribeDenied) if aws => {
            Close(CloseReason::AuthError)
        }
        (ProtocolVersion::V311, Refusal::PublishDenied) => DropAndAck,
        (ProtocolVersion::V311, Refusal::SubscribeDenied) => SubAckFailure,
    }
}

impl Broker {
    /// What the client on `conn` sees of `refusal`.
    pub(super) fn consequence(&self, conn: ConnId, refusal: &Refusal) -> Consequence {
        let (connected, version) = match self.conns.get(&conn) {
            Some(c) => (!matches!(c.state, ConnState::AwaitingConnect), c.version),
            None => (false, ProtocolVersion::V311),
        };
        consequence(self.config.profile, version, connected, refusal)
    }

    /// Refuses something that ends the connection (a CONNECT, a violation, a rule) with
    /// the consequence `consequence` decides. A refusal answered per filter or per
    /// message is the caller's to carry out; should one arrive here, nothing happens.
    pub(super) fn refuse(&mut self, now: Instant, conn: ConnId, refusal: Refusal) {
        match self.consequence(conn, &refusal) {
            Consequence::ConnAck(code) => self.refuse_connect(now, conn, code),
            Consequence::Close(reason) => self.close(now, conn, reason),
            Consequence::SubAckFailure | Consequence::DropAndAck => {}
        }
    }

    /// Answers a protocol violation: counted, reported, then refused.
    pub(super) fn violation(&mut self, now: Instant, conn: ConnId, violation: Violation) {
        self.stats.protocol_violations += 1;
        self.emit(Event::ProtocolViolation {
            conn,
            violation: violation.clone(),
        });
        self.refuse(now, conn, Refusal::Violation(violation));
    }

    /// Answers a broken aws-iot rule that AWS answers by closing the connection: the
    /// rule fires, then the connection is refused.
    pub(super) fn rule_violation(
        &mut self,
        now: Instant,
        conn: ConnId,
        rule: Rule,
        detail: String,
    ) {
        self.fire(rule, Some(conn), detail);
        self.refuse(now, conn, Refusal::Rule(rule));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard(refusal: Refusal) -> Consequence {
        consequence(Profile::Mqtt311, ProtocolVersion::V311, true, &refusal)
    }

    fn aws(refusal: Refusal) -> Consequence {
        consequence(Profile::AwsIot, ProtocolVersion::V311, true, &refusal)
    }

    #[test]
    fn policy_denials_close_under_aws_and_answer_under_the_standard() {
        let auth = Consequence::Close(CloseReason::AuthError);
        assert_eq!(aws(Refusal::ConnectDenied), auth);
        assert_eq!(aws(Refusal::PublishDenied), auth);
        assert_eq!(aws(Refusal::SubscribeDenied), auth);
        assert_eq!(
            standard(Refusal::ConnectDenied),
            Consequence::ConnAck(ConnectReturnCode::NotAuthorized)
        );
        assert_eq!(standard(Refusal::PublishDenied), Consequence::DropAndAck);
        assert_eq!(
            standard(Refusal::SubscribeDenied),
            Consequence::SubAckFailure
        );
    }

    #[test]
    fn an_unsupported_protocol_level_gets_connack_1_only_before_connect() {
        let v = Refusal::Violation(Violation::Malformed(DecodeError::UnsupportedProtocolLevel(
            3,
        )));
        assert_eq!(
            consequence(Profile::Mqtt311, ProtocolVersion::V311, false, &v),
            Consequence::ConnAck(ConnectReturnCode::UnacceptableProtocolVersion)
        );
        assert!(matches!(standard(v), Consequence::Close(_)));
    }
}

//! The one place where a refusal becomes wire behaviour, after rustls's mapping of errors
//! to alerts (docs/architecture.md, "Decisions in one place").
//!
//! The broker refuses things for many reasons: a client broke the protocol, a policy
//! denied an action, a quota was exceeded. What the client sees depends on the profile
//! and on the protocol version it speaks: a CONNACK code, a SUBACK failure code, a message
//! dropped but still acknowledged (with a Reason Code in MQTT 5.0), or a closed
//! connection (preceded in MQTT 5.0 by a DISCONNECT whose Reason Code `CloseReason`
//! gives). [`consequence`] decides that for every refusal; the handlers only say what
//! was refused.

use super::{Broker, ConnState};
use crate::codec::{DecodeError, ReasonCode};
use crate::config::Profile;
use crate::event::{CloseReason, Event, Violation};
use crate::rule::Rule;
use crate::time::Instant;
use crate::types::{ConnId, ConnectReturnCode, ProtocolVersion, SubscribeReturnCode};

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
    /// MQTT 5.0: the CONNECT asks for enhanced authentication, which is not offered.
    BadAuthenticationMethod,
    /// MQTT 5.0: the Will's QoS is above the Maximum QoS the server offers
    /// (MQTT-3.2.2-12).
    WillQosNotSupported,
    /// A policy denied iot:Publish or iot:RetainPublish.
    PublishDenied,
    /// A policy denied iot:Subscribe on one filter.
    SubscribeDenied,
    /// The filter is in `refused_filters`.
    FilterRefused,
    /// A `$share/` filter without a valid group name or filter (MQTT-4.8.2-1, -2).
    InvalidSharedFilter,
    /// A shared subscription where shared subscriptions are switched off.
    SharedSubscriptionsOff,
    /// The session already holds `max_subscriptions` subscriptions.
    SubscriptionLimit,
    /// The client broke the protocol.
    Violation(Violation),
    /// A rule of the aws-iot profile that AWS answers by closing the connection (or, for
    /// MQTT 5 clients, by refusing the CONNECT).
    Rule(Rule),
}

/// What the client sees of a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Consequence {
    /// CONNACK with this code, then the connection closes (MQTT-3.2.2-5; MQTT-3.2.2-7 in
    /// 5.0).
    ConnAck(ReasonCode),
    /// The connection closes: without a reply in 3.1.1, after a DISCONNECT in 5.0.
    Close(CloseReason),
    /// This filter gets this failure code; the others are answered as usual
    /// (MQTT-3.9.3-2).
    SubAckFailure(SubscribeReturnCode),
    /// The message is dropped, and still acknowledged as its QoS requires, so that the
    /// client does not retry it forever: with success in 3.1.1, which has no negative
    /// PUBACK, and with this Reason Code in 5.0 (section 3.4.2.1).
    DropAndAck(ReasonCode),
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
    use ProtocolVersion::{V311, V5};
    let aws = profile == Profile::AwsIot;
    let v3 = |code: ConnectReturnCode| ReasonCode(code as u8);
    match (version, refusal) {
        // MQTT-3.1.2-2: a protocol level the server does not speak gets CONNACK 0x01 in
        // answer to the first CONNECT, in the 3.1.1 form every client reads; anything
        // else malformed closes the connection (MQTT-4.8.0-1; in 5.0 after DISCONNECT
        // 0x81 or 0x82 once connected, MQTT-4.13.1-1).
        (_, Refusal::Violation(Violation::Malformed(DecodeError::UnsupportedProtocolLevel(_))))
            if !connected =>
        {
            ConnAck(v3(ConnectReturnCode::UnacceptableProtocolVersion))
        }
        (_, Refusal::Violation(v)) => Close(CloseReason::ProtocolViolation(v.clone())),
        // MQTT 5: AWS IoT refuses a CONNECT it would close over 3.1.1 with a CONNACK code
        // (client id too long: 0x85, connect rate: 0x97, Will QoS 2: 0x9B, Will RETAIN
        // without retained messages: 0x9A).
        (V5, Refusal::Rule(rule)) if !connected => ConnAck(rule.reason_code()),
        // AWS closes the connection for every rule it enforces that way (CLIENT_ERROR,
        // or THROTTLED for the rates): MQTT 3.1.1 has no reason code to send.
        (_, Refusal::Rule(rule)) => Close(CloseReason::Rule(*rule)),
        // MQTT-3.1.3-8 and section 3.2.2.3: 0x02, identifier rejected; 0x85 in 5.0.
        (V311, Refusal::IdentifierRejected) => ConnAck(v3(ConnectReturnCode::IdentifierRejected)),
        (V5, Refusal::IdentifierRejected) => ConnAck(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID),
        // MQTT-3.2.2-12: "It SHOULD use a CONNACK packet with Reason Code 0x9B". MQTT 3.1.1
        // has no Maximum QoS to exceed; were it ever refused there, 0x05 is the nearest.
        (V5, Refusal::WillQosNotSupported) => ConnAck(ReasonCode::QOS_NOT_SUPPORTED),
        (V311, Refusal::WillQosNotSupported) => ConnAck(v3(ConnectReturnCode::NotAuthorized)),
        (_, Refusal::BadAuthenticationMethod) => ConnAck(ReasonCode::BAD_AUTHENTICATION_METHOD),
        // AWS IoT closes a 3.1.1 connection a policy or the credentials refuse, without a
        // CONNACK (lifecycle reason AUTH_ERROR); MQTT 3.1.1 answers CONNACK 0x04 and 0x05,
        // MQTT 5.0 (and AWS IoT over it) 0x86 and 0x87.
        (V311, Refusal::BadCredentials | Refusal::ConnectDenied) if aws => {
            Close(CloseReason::AuthError)
        }
        (V311, Refusal::BadCredentials) => ConnAck(v3(ConnectReturnCode::BadUsernameOrPassword)),
        (V311, Refusal::ConnectDenied) => ConnAck(v3(ConnectReturnCode::NotAuthorized)),
        (V5, Refusal::BadCredentials) => ConnAck(ReasonCode::BAD_USER_NAME_OR_PASSWORD),
        (V5, Refusal::ConnectDenied) => ConnAck(ReasonCode::NOT_AUTHORIZED),
        // AWS IoT closes a 3.1.1 connection on a denied publish or subscribe: the
        // reconnect loop its users meet when a policy lacks an action (docs/policies.md).
        // Over MQTT 5 it answers PUBACK and SUBACK 0x87, as the standard does.
        (V311, Refusal::PublishDenied | Refusal::SubscribeDenied) if aws => {
            Close(CloseReason::AuthError)
        }
        (V311, Refusal::PublishDenied) => DropAndAck(ReasonCode::SUCCESS),
        (V5, Refusal::PublishDenied) => DropAndAck(ReasonCode::NOT_AUTHORIZED),
        (V311, Refusal::SubscribeDenied) => SubAckFailure(SubscribeReturnCode::Failure),
        (V5, Refusal::SubscribeDenied) => {
            SubAckFailure(SubscribeReturnCode::Refused(ReasonCode::NOT_AUTHORIZED))
        }
        // 0x80, Unspecified error, in both versions: what Eclipse Paho's interoperability
        // suites expect of `test/nosubscribe`.
        (_, Refusal::FilterRefused) => SubAckFailure(SubscribeReturnCode::Failure),
        (V311, Refusal::InvalidSharedFilter | Refusal::SharedSubscriptionsOff) => {
            SubAckFailure(SubscribeReturnCode::Failure)
        }
        (V5, Refusal::InvalidSharedFilter) => SubAckFailure(SubscribeReturnCode::Refused(
            ReasonCode::TOPIC_FILTER_INVALID,
        )),
        (V5, Refusal::SharedSubscriptionsOff) => SubAckFailure(SubscribeReturnCode::Refused(
            ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
        )),
        // Past the subscription quota: 0x80 in 3.1.1, Quota exceeded in 5.0 (AWS IoT
        // lists SUBACK 0x97).
        (V311, Refusal::SubscriptionLimit) => SubAckFailure(SubscribeReturnCode::Failure),
        (V5, Refusal::SubscriptionLimit) => {
            SubAckFailure(SubscribeReturnCode::Refused(ReasonCode::QUOTA_EXCEEDED))
        }
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
            Consequence::ConnAck(code) => {
                let max = self.connect_max_packet.take();
                self.refuse_connect(now, conn, code, max);
            }
            Consequence::Close(reason) => self.close(now, conn, reason),
            Consequence::SubAckFailure(_) | Consequence::DropAndAck(_) => {}
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
        consequence(Profile::Standard, ProtocolVersion::V311, true, &refusal)
    }

    fn aws(refusal: Refusal) -> Consequence {
        consequence(Profile::AwsIot, ProtocolVersion::V311, true, &refusal)
    }

    fn v5(profile: Profile, refusal: Refusal) -> Consequence {
        consequence(profile, ProtocolVersion::V5, true, &refusal)
    }

    #[test]
    fn policy_denials_close_under_aws_and_answer_under_the_standard() {
        let auth = Consequence::Close(CloseReason::AuthError);
        assert_eq!(aws(Refusal::ConnectDenied), auth);
        assert_eq!(aws(Refusal::PublishDenied), auth);
        assert_eq!(aws(Refusal::SubscribeDenied), auth);
        assert_eq!(
            standard(Refusal::ConnectDenied),
            Consequence::ConnAck(ReasonCode(5))
        );
        assert_eq!(
            standard(Refusal::PublishDenied),
            Consequence::DropAndAck(ReasonCode::SUCCESS)
        );
        assert_eq!(
            standard(Refusal::SubscribeDenied),
            Consequence::SubAckFailure(SubscribeReturnCode::Failure)
        );
    }

    #[test]
    fn mqtt5_denials_carry_reason_codes_in_both_profiles() {
        for profile in [Profile::Standard, Profile::AwsIot] {
            assert_eq!(
                v5(profile, Refusal::ConnectDenied),
                Consequence::ConnAck(ReasonCode::NOT_AUTHORIZED)
            );
            assert_eq!(
                v5(profile, Refusal::PublishDenied),
                Consequence::DropAndAck(ReasonCode::NOT_AUTHORIZED)
            );
            assert_eq!(
                v5(profile, Refusal::SubscribeDenied),
                Consequence::SubAckFailure(SubscribeReturnCode::Refused(
                    ReasonCode::NOT_AUTHORIZED
                ))
            );
        }
    }

    #[test]
    fn an_unsupported_protocol_level_gets_connack_1_only_before_connect() {
        let v = Refusal::Violation(Violation::Malformed(DecodeError::UnsupportedProtocolLevel(
            3,
        )));
        assert_eq!(
            consequence(Profile::Standard, ProtocolVersion::V311, false, &v),
            Consequence::ConnAck(ReasonCode(1))
        );
        assert!(matches!(standard(v), Consequence::Close(_)));
    }

    #[test]
    fn aws_rules_refuse_an_mqtt5_connect_with_their_reason_code() {
        let refusal = Refusal::Rule(Rule::ClientIdTooLong);
        assert_eq!(
            consequence(Profile::AwsIot, ProtocolVersion::V5, false, &refusal),
            Consequence::ConnAck(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID)
        );
        assert_eq!(
            consequence(Profile::AwsIot, ProtocolVersion::V311, false, &refusal),
            Consequence::Close(CloseReason::Rule(Rule::ClientIdTooLong))
        );
    }
}

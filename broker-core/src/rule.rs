//! The named rules of the `aws-iot` profile (docs/aws-iot-profile.md): the eight
//! documented deviations D1 to D8 and the quotas. Each time one changes what the broker does, it
//! emits `Event::RuleFired`, so the simulator can mark the diagram and say why.

use crate::config::{AwsRules, RetainMode};

/// One rule of the `aws-iot` profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Rule {
    /// D1: a QoS 0 message delivered more than once.
    D1Qos0Duplicate,
    /// D2: QoS 2 is not supported.
    D2Qos2Unsupported,
    /// D3: a persistent session resumed with session present = 1.
    D3SessionPresent,
    /// D4: a new subscription not yet in effect.
    D4SubscriptionDelay,
    /// D5: retained messages (refused, or AWS's exact-match retained messages).
    D5Retain,
    /// D6: a duplicate client id takes over; the older connection is closed.
    D6DuplicateClientId,
    /// D7: the same logical PUBLISH sent again with a new packet id.
    D7Resend,
    /// D8: outgoing packets reordered.
    D8Reorder,
    /// Quota: client id longer than `aws.max_client_id_len`.
    ClientIdTooLong,
    /// Quota: topic longer than `aws.max_topic_len`.
    TopicTooLong,
    /// Quota: more than `aws.max_topic_slashes` forward slashes.
    TooManyTopicLevels,
    /// Quota: payload larger than `aws.max_payload`.
    PayloadTooLarge,
    /// Quota: more than `aws.max_filters_per_subscribe` filters in one SUBSCRIBE.
    TooManyFiltersPerSubscribe,
    /// Quota: more than `aws.max_subscriptions` subscriptions on a connection.
    TooManySubscriptions,
    /// Quota: keep-alive moved into `aws.keep_alive_min..=aws.keep_alive_max`.
    KeepAliveClamped,
    /// Quota: `aws.max_inflight` unacknowledged QoS 1 messages; further ones wait.
    InflightLimit,
    /// Quota: more than `aws.publish_rate_per_second` PUBLISH packets in a second.
    PublishRate,
    /// Quota: more than `aws.connect_rate_per_second` CONNECTs for one client id.
    ConnectRate,
    /// Quota: a persistent session expired `aws.session_expiry_secs` after disconnect.
    SessionExpired,
    /// Rule: a `$` topic that AWS IoT does not define.
    ReservedTopic,
    /// Rule: `sensor/#` does not match `sensor` in AWS IoT.
    HashExcludesParent,
    /// MQTT 5: a Session Expiry Interval above `aws.session_expiry_secs` was lowered, and
    /// CONNACK says so.
    SessionExpiryAdjusted,
    /// MQTT 5: a Message Expiry Interval outside `aws.min_message_expiry_secs` to
    /// `aws.max_message_expiry_secs` was moved into it.
    MessageExpiryAdjusted,
    /// MQTT 5: a SUBSCRIBE with a Subscription Identifier (CONNACK said they are not
    /// available): DISCONNECT 0xA1.
    SubscriptionIdentifiersUnsupported,
    /// A persistent session is not resumed by a client of the other MQTT version.
    SessionVersionMismatch,
    /// MQTT 5: a Topic Alias above `aws.max_topic_aliases`: DISCONNECT 0x94.
    TopicAliasLimit,
    /// MQTT 5: a packet larger than `aws.max_packet_size`: DISCONNECT 0x95.
    PacketTooLarge,
}

impl Rule {
    /// The short code the simulator shows: `D1`..`D8`, or `Q` plus a quota name.
    pub fn code(self) -> &'static str {
        use Rule::*;
        match self {
            D1Qos0Duplicate => "D1",
            D2Qos2Unsupported => "D2",
            D3SessionPresent => "D3",
            D4SubscriptionDelay => "D4",
            D5Retain => "D5",
            D6DuplicateClientId => "D6",
            D7Resend => "D7",
            D8Reorder => "D8",
            ClientIdTooLong => "Q-client-id",
            TopicTooLong => "Q-topic-length",
            TooManyTopicLevels => "Q-topic-levels",
            PayloadTooLarge => "Q-payload",
            TooManyFiltersPerSubscribe => "Q-filters-per-subscribe",
            TooManySubscriptions => "Q-subscriptions",
            KeepAliveClamped => "Q-keep-alive",
            InflightLimit => "Q-inflight",
            PublishRate => "Q-publish-rate",
            ConnectRate => "Q-connect-rate",
            SessionExpired => "Q-session-expiry",
            ReservedTopic => "R-dollar-topic",
            HashExcludesParent => "R-hash-parent",
            SessionExpiryAdjusted => "Q5-session-expiry",
            MessageExpiryAdjusted => "Q5-message-expiry",
            SubscriptionIdentifiersUnsupported => "R5-subscription-identifiers",
            SessionVersionMismatch => "R5-session-versions",
            TopicAliasLimit => "Q5-topic-aliases",
            PacketTooLarge => "Q5-packet-size",
        }
    }

    /// The Reason Code an MQTT 5 client gets when this rule closes its connection
    /// (docs/aws-iot-profile.md, "MQTT 5"): in a DISCONNECT, or in CONNACK for the rules
    /// that refuse a CONNECT.
    pub fn reason_code(self) -> crate::codec::ReasonCode {
        use crate::codec::ReasonCode as R;
        use Rule::*;
        match self {
            ConnectRate | PublishRate | TooManyFiltersPerSubscribe | TooManySubscriptions => {
                R::QUOTA_EXCEEDED
            }
            ClientIdTooLong => R::CLIENT_IDENTIFIER_NOT_VALID,
            TopicTooLong | TooManyTopicLevels | ReservedTopic => R::TOPIC_NAME_INVALID,
            PayloadTooLarge | PacketTooLarge => R::PACKET_TOO_LARGE,
            D5Retain => R::RETAIN_NOT_SUPPORTED,
            D2Qos2Unsupported => R::QOS_NOT_SUPPORTED,
            D6DuplicateClientId => R::SESSION_TAKEN_OVER,
            SubscriptionIdentifiersUnsupported => R::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
            TopicAliasLimit => R::TOPIC_ALIAS_INVALID,
            _ => R::UNSPECIFIED_ERROR,
        }
    }

    /// One line for a learner: what AWS IoT does here, and what happened, with the
    /// values of `rules`, the quotas in force (never AWS's defaults when they differ).
    pub fn explanation(self, rules: &AwsRules) -> String {
        use Rule::*;
        match self {
            D1Qos0Duplicate => {
                "QoS 0 is delivered zero or more times; this message was sent twice".into()
            }
            D2Qos2Unsupported => {
                "AWS IoT does not support QoS 2; no acknowledgement is sent".into()
            }
            D3SessionPresent => {
                "a persistent session was resumed; CONNACK says session present".into()
            }
            D4SubscriptionDelay => format!(
                "a subscription takes effect {} ms after SUBACK; this message was not delivered",
                rules.subscription_delay_ms
            ),
            D5Retain => match rules.retain {
                RetainMode::Disconnect => {
                    "retained messages are not supported; RETAIN=1 closes the connection".into()
                }
                RetainMode::ExactMatch => {
                    "retained messages reach only subscriptions whose filter has no wildcard".into()
                }
            },
            D6DuplicateClientId => {
                "client id already connected; the older connection is closed".into()
            }
            D7Resend => "the same message was sent again with a new packet id and DUP=0".into(),
            D8Reorder => format!(
                "no ordering guarantee; this packet was held back up to {} ms and later \
                 packets overtook it",
                rules.reorder_max_delay_ms
            ),
            ClientIdTooLong => format!(
                "client ids are limited to {} bytes; the connection is closed",
                rules.max_client_id_len
            ),
            TopicTooLong => format!(
                "topics are limited to {} bytes; the connection is closed",
                rules.max_topic_len
            ),
            TooManyTopicLevels => format!(
                "topics may have at most {} forward slashes; the connection is closed",
                rules.max_topic_slashes
            ),
            PayloadTooLarge => format!(
                "payloads are limited to {}; the connection is closed",
                bytes(rules.max_payload)
            ),
            TooManyFiltersPerSubscribe => format!(
                "a SUBSCRIBE may carry at most {} filters; the connection is closed",
                rules.max_filters_per_subscribe
            ),
            TooManySubscriptions => format!(
                "at most {} subscriptions per connection; this filter got SUBACK 0x80",
                rules.max_subscriptions
            ),
            KeepAliveClamped => format!(
                "keep-alive is clamped to {}..{} seconds (0 becomes {})",
                rules.keep_alive_min,
                rules.keep_alive_max.max(rules.keep_alive_min),
                rules.keep_alive_max.max(rules.keep_alive_min)
            ),
            InflightLimit => format!(
                "at most {} unacknowledged QoS 1 messages per connection; this one waits",
                rules.max_inflight
            ),
            PublishRate => format!(
                "at most {} publishes per second per connection; the excess is dropped",
                rules.publish_rate_per_second
            ),
            ConnectRate => format!(
                "at most {} CONNECT per second per client id; this connection is refused",
                rules.connect_rate_per_second
            ),
            SessionExpired => format!(
                "a persistent session expires {} s after its client disconnects",
                rules.session_expiry_secs
            ),
            ReservedTopic => {
                "only the $aws topics AWS IoT defines may be used; the connection is closed".into()
            }
            HashExcludesParent => "in AWS IoT, sensor/# does not match sensor itself".into(),
            SessionExpiryAdjusted => format!(
                "a session expires at most {} s after its client disconnects; CONNACK says so",
                rules.session_expiry_secs
            ),
            MessageExpiryAdjusted => format!(
                "a message expires between {} and {} s after it is published",
                rules.min_message_expiry_secs, rules.max_message_expiry_secs
            ),
            SubscriptionIdentifiersUnsupported => {
                "AWS IoT does not support subscription identifiers; DISCONNECT 0xA1".into()
            }
            SessionVersionMismatch => {
                "an MQTT 3 session cannot be resumed as MQTT 5, nor the reverse; it starts anew"
                    .into()
            }
            TopicAliasLimit => format!(
                "at most {} topic aliases; a higher one gets DISCONNECT 0x94",
                rules.max_topic_aliases
            ),
            PacketTooLarge => format!(
                "MQTT 5 packets are limited to {}; DISCONNECT 0x95",
                bytes(rules.max_packet_size as usize)
            ),
        }
    }
}

/// `131072` reads "128 KiB", `1000` reads "1000 bytes".
fn bytes(n: usize) -> String {
    if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_show_the_quota_in_force() {
        let mut rules = AwsRules::default();
        assert!(Rule::PayloadTooLarge
            .explanation(&rules)
            .contains("128 KiB"));
        rules.max_payload = 1000;
        let text = Rule::PayloadTooLarge.explanation(&rules);
        assert!(
            text.contains("1000 bytes") && !text.contains("128"),
            "{text}"
        );
        rules.max_subscriptions = 3;
        assert!(Rule::TooManySubscriptions
            .explanation(&rules)
            .contains("at most 3 "));
    }
}

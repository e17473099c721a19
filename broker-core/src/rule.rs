//! The named rules of the `aws-iot` profile (../shared/AWS-IOT.md): the eight documented
//! deviations D1 to D8 and the quotas. Each time one changes what the broker does, it
//! emits `Event::RuleFired`, so the simulator can mark the diagram and say why.

use core::fmt;

/// One rule of the `aws-iot` profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
        }
    }

    /// One line for a learner: what AWS IoT does here, and what happened.
    pub fn explanation(self) -> &'static str {
        use Rule::*;
        match self {
            D1Qos0Duplicate => "QoS 0 is delivered zero or more times; this message was sent twice",
            D2Qos2Unsupported => "AWS IoT does not support QoS 2; no acknowledgement is sent",
            D3SessionPresent => "a persistent session was resumed; CONNACK says session present",
            D4SubscriptionDelay => {
                "the subscription is not in effect yet after SUBACK; this message was not delivered"
            }
            D5Retain => "retained messages are not supported as the standard describes them",
            D6DuplicateClientId => "client id already connected; the older connection is closed",
            D7Resend => "the same message was sent again with a new packet id and DUP=0",
            D8Reorder => "no ordering guarantee; this packet was held back behind the next one",
            ClientIdTooLong => "client ids are limited to 128 bytes; the connection is closed",
            TopicTooLong => "topics are limited to 256 bytes; the connection is closed",
            TooManyTopicLevels => {
                "topics may have at most 7 forward slashes; the connection is closed"
            }
            PayloadTooLarge => "payloads are limited to 128 KiB; the connection is closed",
            TooManyFiltersPerSubscribe => {
                "a SUBSCRIBE may carry at most 8 filters; the connection is closed"
            }
            TooManySubscriptions => {
                "at most 50 subscriptions per connection; this filter got SUBACK 0x80"
            }
            KeepAliveClamped => "keep-alive is clamped to 30..1200 seconds (0 becomes 1200)",
            InflightLimit => {
                "at most 100 unacknowledged QoS 1 messages per connection; this one waits"
            }
            PublishRate => "at most 100 publishes per second per connection; the excess is dropped",
            ConnectRate => "one CONNECT per second per client id; this connection is refused",
            SessionExpired => "a persistent session expires an hour after its client disconnects",
            ReservedTopic => {
                "only the $aws topics AWS IoT defines may be used; the connection is closed"
            }
            HashExcludesParent => "in AWS IoT, sensor/# does not match sensor itself",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.explanation())
    }
}

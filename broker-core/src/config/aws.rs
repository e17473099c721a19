//! The `aws-iot` profile's rules and quotas (docs/aws-iot-profile.md), each switchable.
//!
//! Field names are the configuration keys: `aws.qos0_duplicate_probability` in the
//! server's TOML and `--set` is `AwsRules::qos0_duplicate_probability` here.

/// What a PUBLISH or SUBSCRIBE asking for QoS 2 gets (D2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Qos2Mode {
    /// No SUBACK for a SUBSCRIBE asking QoS 2, no PUBREC for a QoS 2 PUBLISH.
    #[default]
    Ignore,
    /// The connection is closed, as field reports describe.
    Disconnect,
}

/// What a PUBLISH with RETAIN=1 does (D5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum RetainMode {
    /// The connection is closed (CLIENT_ERROR): AWS's original documented behaviour.
    #[default]
    Disconnect,
    /// AWS's retained messages since 2021: stored, delivered only to exact-match
    /// subscriptions, a zero-byte payload deletes.
    ExactMatch,
}

/// The rules and quotas of the `aws-iot` profile. Defaults are AWS's published values.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct AwsRules {
    /// D1: probability that a QoS 0 delivery is sent a second time.
    pub qos0_duplicate_probability: f64,
    /// D2: what asking for QoS 2 gets.
    pub qos2: Qos2Mode,
    /// D4: milliseconds after SUBACK before a new subscription receives messages.
    pub subscription_delay_ms: u64,
    /// D5: what RETAIN=1 does.
    pub retain: RetainMode,
    /// D7: probability that a delivered PUBLISH is sent again with a new packet id.
    pub resend_probability: f64,
    /// D8: probability that an outgoing packet is held back, so that packets sent after
    /// it to the same connection overtake it.
    pub reorder_probability: f64,
    /// D8: the longest a held packet waits, in milliseconds of the broker's clock; each
    /// held packet waits a seeded time from 1 to this. 0 holds nothing.
    pub reorder_max_delay_ms: u64,
    /// Longest client id, in bytes; longer closes the connection.
    pub max_client_id_len: usize,
    /// Longest topic, in bytes of UTF-8; longer closes the connection.
    pub max_topic_len: usize,
    /// Most forward slashes in a topic (after a `$aws/rules/<rule>/` prefix).
    pub max_topic_slashes: usize,
    /// Largest payload, in bytes; larger closes the connection.
    pub max_payload: usize,
    /// Most filters in one SUBSCRIBE; more closes the connection.
    pub max_filters_per_subscribe: usize,
    /// Most subscriptions per connection; further filters get SUBACK 0x80.
    pub max_subscriptions: usize,
    /// Keep-alive clamp, lower bound in seconds (1..29 becomes this).
    pub keep_alive_min: u16,
    /// Keep-alive clamp, upper bound in seconds (0 and anything above become this).
    pub keep_alive_max: u16,
    /// Most outgoing QoS 1 messages unacknowledged per connection.
    pub max_inflight: usize,
    /// Most PUBLISH packets per second per connection, in and out; the excess is dropped.
    pub publish_rate_per_second: u32,
    /// Most CONNECT packets per second for one client id; the excess is refused.
    pub connect_rate_per_second: u32,
    /// Seconds a persistent session is kept after its connection ends.
    pub session_expiry_secs: u64,
    /// Only `$aws/...` topics AWS defines may be used; other `$` topics close the connection.
    pub restrict_dollar_topics: bool,
    /// Whether `sensor/#` also matches `sensor` (the standard says yes, AWS IoT no).
    pub hash_matches_parent: bool,
    /// Publish lifecycle events on `$aws/events/...`.
    pub lifecycle_events: bool,
    /// MQTT 5: the Topic Alias Maximum in CONNACK ("AWS IoT Core has a default limit of 8
    /// topic aliases"); a higher alias gets DISCONNECT 0x94.
    pub max_topic_aliases: u16,
    /// MQTT 5: the Maximum Packet Size in CONNACK ("Cannot exceed 128 KB"); a larger
    /// packet gets DISCONNECT 0x95.
    pub max_packet_size: u32,
    /// MQTT 5: the Receive Maximum in CONNACK, AWS's 100 unacknowledged inbound QoS 1
    /// publishes per connection; one more gets DISCONNECT 0x93.
    pub receive_maximum: u16,
    /// MQTT 5: the shortest Message Expiry Interval, in seconds ("If the interval is set
    /// to 0 from the client side, it will be adjusted to 1").
    pub min_message_expiry_secs: u32,
    /// MQTT 5: the longest Message Expiry Interval, in seconds ("Any values higher than
    /// this will be adjusted to the maximum value", 604800).
    pub max_message_expiry_secs: u32,
    /// A persistent session is never resumed across versions ("An MQTT 3 persistent
    /// session can't be resumed as an MQTT 5 session, and vice versa").
    pub sessions_cross_versions: bool,
    /// Shared subscriptions deliver each message to one member of each matching group,
    /// chosen at random, for MQTT 3.1.1 and 5.
    pub shared_subscriptions: bool,
    /// The Device Shadow service answers PUBLISH packets to
    /// `$aws/things/{thing}/shadow[/name/{name}]/{get,update,delete}` (docs/shadow.md).
    pub shadows: bool,
    /// The Device Shadow service's answers to one request (`get/accepted`, every
    /// `rejected`) go only to the client that asked, not to every subscriber of the topic;
    /// state changes (`update/accepted`, `update/delta`, `update/documents`,
    /// `delete/accepted`) go to every subscriber either way (docs/shadow.md).
    pub shadow_replies_to_requester: bool,
    /// The most levels of nesting in a shadow update's `desired` or `reported` section,
    /// that section included ("JSON contains too many levels of nesting; maximum is 6").
    pub shadow_max_depth: usize,
    /// The largest shadow document, desired and reported state together, in bytes
    /// ("The device's shadow supports 8 KB of data only").
    pub shadow_max_bytes: usize,
}

impl Default for AwsRules {
    fn default() -> Self {
        AwsRules {
            qos0_duplicate_probability: 0.0,
            qos2: Qos2Mode::Ignore,
            subscription_delay_ms: 0,
            retain: RetainMode::Disconnect,
            resend_probability: 0.0,
            reorder_probability: 0.0,
            reorder_max_delay_ms: 40,
            max_client_id_len: 128,
            max_topic_len: 256,
            max_topic_slashes: 7,
            max_payload: 128 * 1024,
            max_filters_per_subscribe: 8,
            max_subscriptions: 50,
            keep_alive_min: 30,
            keep_alive_max: 1200,
            max_inflight: 100,
            publish_rate_per_second: 100,
            connect_rate_per_second: 1,
            session_expiry_secs: 3600,
            restrict_dollar_topics: true,
            hash_matches_parent: false,
            lifecycle_events: true,
            max_topic_aliases: 8,
            max_packet_size: 128 * 1024,
            receive_maximum: 100,
            min_message_expiry_secs: 1,
            max_message_expiry_secs: 604_800,
            sessions_cross_versions: false,
            shared_subscriptions: true,
            shadows: true,
            shadow_replies_to_requester: true,
            shadow_max_depth: 6,
            shadow_max_bytes: 8192,
        }
    }
}

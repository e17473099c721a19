//! What a broker is told when it is made: the profile, limits, the seed, and which
//! events to emit.

mod aws;

use core::time::Duration;

pub use aws::{AwsRules, Qos2Mode, RetainMode};

use crate::topic::HashMatchesParent;
use crate::types::QoS;

/// A broker's configuration. `Config::default()` is a strict MQTT broker, speaking 3.1.1
/// and 5.0.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Config {
    /// Which broker to be: the MQTT 3.1.1 standard, or AWS IoT Core's message broker.
    pub profile: Profile,
    /// The `aws-iot` profile's rules and quotas; ignored under `mqtt-3.1.1`.
    pub aws: AwsRules,
    /// Seeds every random choice the broker makes (assigned client ids, hashing). The
    /// same seed and inputs give the same outputs, byte for byte.
    pub seed: u64,
    /// The largest packet accepted, fixed header included. A larger one is refused as
    /// soon as its header arrives, before its body is buffered. Default 1 MiB.
    pub max_packet_size: usize,
    /// Milliseconds a new connection may take to send CONNECT before it is closed. The
    /// standard suggests closing "within a reasonable amount of time" (section 3.1.4).
    pub connect_timeout_ms: u64,
    /// The most QoS 1 and 2 messages sent to one client and not yet acknowledged;
    /// further messages wait in the session's queue. At least 1.
    pub max_inflight: usize,
    /// The most messages a session queues while its client is offline, or while it is a
    /// slow consumer. At the bound the newest message is dropped, with a `Dropped` event
    /// (reason `QueueFull` offline, `SlowConsumer` online); older messages are never
    /// evicted, so what a client receives stays a prefix of what was published, in
    /// order. A connected client that reads is never dropped from: its publishers wait
    /// instead (`queue_high_water`).
    pub max_queued: usize,
    /// Backpressure (docs/reliability.md): when a message lands in a connected session's
    /// queue holding this many messages or more, its publisher's acknowledgement waits
    /// until the queue has drained to half of it.
    pub queue_high_water: usize,
    /// Backpressure: once this many of a publisher's acknowledgements wait, the broker
    /// asks the shell to stop reading its connection until they are sent.
    pub max_held_acks: usize,
    /// Backpressure: a session that publishers wait on and that makes no progress for
    /// this many milliseconds is a slow consumer; its publishers stop waiting for it.
    pub slow_consumer_timeout_ms: u64,
    /// The most subscriptions one session may hold; further filters get SUBACK 0x80.
    /// `None` is unlimited.
    pub max_subscriptions: Option<usize>,
    /// The highest QoS granted to a subscription (section 3.9.3).
    pub max_qos: QoS,
    /// The longest client identifier accepted, in bytes; a longer one gets CONNACK 0x02.
    /// The standard obliges servers to accept 1 to 23 characters (MQTT-3.1.3-5).
    pub max_client_id_len: usize,
    /// If set, a QoS 1 or 2 message still unacknowledged after this many milliseconds
    /// is sent again with DUP=1 on the same connection. MQTT 3.1.1 only requires
    /// re-sending on reconnection (MQTT-4.4.0-1), so the default is off.
    pub resend_interval_ms: Option<u64>,
    /// Whether `a/#` matches `a` itself (the standard says yes, section 4.7.1.2).
    pub hash_matches_parent: HashMatchesParent,
    /// MQTT 5.0: the most QoS 1 and 2 PUBLISH packets a client may send before they are
    /// acknowledged (Receive Maximum in CONNACK, section 3.2.2.3.3). One more is a
    /// protocol error: DISCONNECT 0x93. At least 1.
    pub receive_maximum: u16,
    /// MQTT 5.0: the highest Topic Alias a client may use (Topic Alias Maximum in
    /// CONNACK, section 3.2.2.3.8); 0 allows none.
    pub topic_alias_maximum: u16,
    /// MQTT 5.0: the longest a session may outlive its connection, in seconds; a longer
    /// Session Expiry Interval is lowered and the CONNACK says so (section 3.2.2.3.2).
    /// `None` is no cap. MQTT 3.1.1 persistent sessions never expire unless a profile
    /// says otherwise.
    pub max_session_expiry_secs: Option<u32>,
    /// MQTT 5.0: the longest keep-alive granted, in seconds; a client asking for more,
    /// or for none, gets this, in CONNACK's Server Keep Alive (section 3.2.2.3.14).
    /// `None` grants what the client asks.
    pub server_keep_alive: Option<u16>,
    /// MQTT 5.0: whether subscriptions may carry a Subscription Identifier (section
    /// 3.2.2.3.12).
    pub subscription_identifiers: bool,
    /// Whether shared subscriptions (`$share/{group}/{filter}`, section 4.8.2) are
    /// offered.
    pub shared_subscriptions: bool,
    /// Topic filters refused to everyone, with SUBACK 0x80 (Unspecified error) in both
    /// versions. Eclipse Paho's interoperability suites expect `test/nosubscribe` to be
    /// refused this way.
    pub refused_filters: Vec<String>,
    /// Which optional events to emit.
    pub events: EventConfig,
    /// AWS IoT policies to enforce, or `None` to allow everything (the standard's
    /// default). Built from policy files by the server and the simulator, not from keys.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub policies: Option<crate::policy::PolicySet>,
    /// User names and their passwords, for connections without a client certificate.
    /// When set, such a CONNECT must carry a listed user name and its password; `None`
    /// accepts any credentials, or none. Loaded from a file by the server.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub users: Option<std::collections::BTreeMap<String, String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            profile: Profile::Standard,
            aws: AwsRules::default(),
            seed: 0,
            max_packet_size: 1024 * 1024,
            connect_timeout_ms: 10_000,
            max_inflight: 20,
            max_queued: 1000,
            queue_high_water: 100,
            max_held_acks: 1000,
            slow_consumer_timeout_ms: 5000,
            max_subscriptions: None,
            max_qos: QoS::ExactlyOnce,
            max_client_id_len: 65_535,
            resend_interval_ms: None,
            hash_matches_parent: HashMatchesParent::Yes,
            receive_maximum: 100,
            topic_alias_maximum: 10,
            max_session_expiry_secs: None,
            server_keep_alive: None,
            subscription_identifiers: true,
            shared_subscriptions: true,
            refused_filters: Vec::new(),
            events: EventConfig::default(),
            policies: None,
            users: None,
        }
    }
}

/// The two behaviours the core can reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Profile {
    /// The OASIS MQTT standards, 3.1.1 and 5.0, complete: each connection follows the
    /// version it connected with. Named `mqtt` (canonical), `mqtt-5` or `mqtt-3.1.1`.
    #[default]
    #[cfg_attr(
        feature = "serde",
        serde(rename = "mqtt", alias = "mqtt-5", alias = "mqtt-3.1.1")
    )]
    Standard,
    /// AWS IoT Core's message broker: the standard plus the rules of `AwsRules`.
    #[cfg_attr(feature = "serde", serde(rename = "aws-iot"))]
    AwsIot,
}

impl Profile {
    /// The name used in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Standard => "mqtt",
            Profile::AwsIot => "aws-iot",
        }
    }
}

impl core::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mqtt" | "mqtt-5" | "mqtt-3.1.1" => Ok(Profile::Standard),
            "aws-iot" => Ok(Profile::AwsIot),
            other => Err(format!(
                "unknown profile {other:?} (expected aws-iot, or mqtt, also called mqtt-5 \
                 and mqtt-3.1.1)"
            )),
        }
    }
}

impl Config {
    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub(crate) fn slow_consumer_timeout(&self) -> Duration {
        Duration::from_millis(self.slow_consumer_timeout_ms)
    }

    pub(crate) fn resend_interval(&self) -> Option<Duration> {
        self.resend_interval_ms.map(Duration::from_millis)
    }

    /// The default configuration of `profile`.
    pub fn for_profile(profile: Profile) -> Self {
        Config {
            profile,
            ..Config::default()
        }
    }
}

/// The detailed events, which cost an allocation or two each. The simulator wants them
/// all; a busy server may turn them off. Session, drop and violation events are always
/// emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct EventConfig {
    /// `PacketIn` and `PacketOut`, with decoded fields and byte spans.
    pub packets: bool,
    /// `Delivered` and `Queued`, one per message per subscriber.
    pub deliveries: bool,
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig {
            packets: true,
            deliveries: true,
        }
    }
}

impl EventConfig {
    /// No optional events: the fastest setting.
    pub const QUIET: EventConfig = EventConfig {
        packets: false,
        deliveries: false,
    };
}

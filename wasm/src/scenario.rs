//! What a learner does, as data: the actions on devices, and the scenario that records
//! them with their virtual timestamps so that a run can be replayed, shared in a URL, or
//! exported and imported again.

use std::collections::BTreeMap;

use broker_core::policy::{PolicyDocument, PolicyError, PolicySet};
use broker_core::{Config, ProtocolVersion};
use serde::{Deserialize, Serialize};

/// The index of a virtual device in its world, in the order devices were spawned.
pub type DeviceId = u32;

/// How a new device connects and behaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// The client identifier. Several devices may share one: that is how a duplicate
    /// client id (MQTT-3.1.4-2, AWS rule D6) is shown.
    pub client_id: String,
    /// The Clean Session flag of every CONNECT the device sends.
    #[serde(default = "yes")]
    pub clean_session: bool,
    /// Keep-alive in seconds.
    #[serde(default = "default_keep_alive")]
    pub keep_alive: u16,
    /// The Will the device leaves with the broker, if any.
    #[serde(default)]
    pub will: Option<WillSpec>,
    /// Whether incoming QoS 1 and 2 messages are acknowledged at once.
    #[serde(default = "yes")]
    pub auto_ack: bool,
    /// The protocol the device speaks, "3.1.1" or "5.0".
    #[serde(default, skip_serializing_if = "is_v311")]
    pub version: ProtocolVersion,
    /// MQTT 5.0: the Session Expiry Interval of its CONNECT, in seconds; absent, the
    /// session ends with the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expiry: Option<u32>,
    /// MQTT 5.0: the Receive Maximum of its CONNECT; absent, 65,535.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_maximum: Option<u16>,
    /// MQTT 5.0: whether it uses topic aliases, both ways (it accepts up to
    /// [`DEVICE_TOPIC_ALIASES`] from the broker).
    #[serde(default, skip_serializing_if = "is_false")]
    pub topic_aliases: bool,
    /// The User Name it sends in CONNECT: the principal that per-principal policies
    /// apply to, unless it presents a certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The common name of the client certificate it presents, as over mutual TLS: its
    /// principal, and `${iot:Certificate.Subject.CommonName}` in policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// The Topic Alias Maximum a device that uses aliases sends in CONNECT.
pub const DEVICE_TOPIC_ALIASES: u16 = 10;

impl DeviceSpec {
    /// A device with a clean session, keep-alive 60 s, no Will, and auto-ack on.
    pub fn new(client_id: &str) -> Self {
        DeviceSpec {
            client_id: client_id.to_owned(),
            clean_session: true,
            keep_alive: default_keep_alive(),
            will: None,
            auto_ack: true,
            version: ProtocolVersion::V311,
            session_expiry: None,
            receive_maximum: None,
            topic_aliases: false,
            username: None,
            certificate: None,
        }
    }

    /// The same device speaking MQTT 5.0.
    pub fn v5(client_id: &str) -> Self {
        DeviceSpec {
            version: ProtocolVersion::V5,
            ..DeviceSpec::new(client_id)
        }
    }
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !b
}

fn is_v311(v: &ProtocolVersion) -> bool {
    *v == ProtocolVersion::V311
}

fn default_keep_alive() -> u16 {
    60
}

/// A Will, as a learner types it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WillSpec {
    /// Where the Will is published.
    pub topic: String,
    /// Its payload, as text.
    pub payload: String,
    /// Its QoS, 0 to 2.
    #[serde(default)]
    pub qos: u8,
    /// Whether it is published retained.
    #[serde(default)]
    pub retain: bool,
    /// MQTT 5.0: the Will Delay Interval, in seconds: how long after the connection is
    /// lost the broker waits before publishing the Will.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
}

/// One thing a learner does. Every action names its device by index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Adds a device; it stays disconnected until a `Connect` (the simulator's UI sends
    /// one right after, so that a new device connects by itself).
    Spawn {
        /// How it connects and behaves.
        spec: DeviceSpec,
    },
    /// Opens a new transport and sends CONNECT.
    Connect {
        /// The device.
        device: DeviceId,
    },
    /// What a client library with automatic reconnection does: connects again if the
    /// device's connection is closed, and does nothing if it is still up (or opening).
    Reconnect {
        /// The device.
        device: DeviceId,
    },
    /// Sends DISCONNECT and closes the transport: the broker discards the Will, unless
    /// an MQTT 5.0 device asks it to publish it (Reason Code 0x04).
    Disconnect {
        /// The device.
        device: DeviceId,
        /// MQTT 5.0: disconnect with Reason Code 0x04, "Disconnect with Will Message".
        #[serde(default, skip_serializing_if = "is_false")]
        with_will: bool,
    },
    /// The network fails under the device: no DISCONNECT, packets in flight are lost, and
    /// the broker sees the transport close (so the Will is published).
    DropNetwork {
        /// The device.
        device: DeviceId,
    },
    /// Sends SUBSCRIBE with one filter.
    Subscribe {
        /// The device.
        device: DeviceId,
        /// The topic filter.
        filter: String,
        /// The requested QoS, 0 to 2.
        qos: u8,
        /// MQTT 5.0 subscription options and identifier; a 3.1.1 device ignores them.
        #[serde(default, skip_serializing_if = "SubscribeOptions::is_default")]
        options: SubscribeOptions,
    },
    /// Sends UNSUBSCRIBE with one filter.
    Unsubscribe {
        /// The device.
        device: DeviceId,
        /// The topic filter.
        filter: String,
    },
    /// Publishes a message.
    Publish {
        /// The device.
        device: DeviceId,
        /// The topic name.
        topic: String,
        /// The payload, as text.
        payload: String,
        /// The QoS, 0 to 2.
        qos: u8,
        /// The RETAIN flag.
        #[serde(default)]
        retain: bool,
        /// MQTT 5.0: the Message Expiry Interval, in seconds; a 3.1.1 device ignores it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_expiry: Option<u32>,
    },
    /// Turns automatic acknowledgement of incoming messages on or off.
    SetAutoAck {
        /// The device.
        device: DeviceId,
        /// On or off.
        on: bool,
    },
    /// Acknowledges, by hand, an incoming message held because auto-ack is off.
    Ack {
        /// The device.
        device: DeviceId,
        /// The message's packet id.
        packet_id: u16,
    },
    /// Makes the device publish a counter to `topic` every `every_ms` milliseconds of
    /// virtual time, or stop doing so (`every_ms` absent). Load is one action, not one
    /// per message, so a scenario with hundreds of busy devices stays small.
    AutoPublish {
        /// The device.
        device: DeviceId,
        /// The topic name.
        topic: String,
        /// The QoS, 0 to 2.
        qos: u8,
        /// The period; absent stops publishing.
        #[serde(default)]
        every_ms: Option<u64>,
        /// When the first message goes out, in milliseconds from now; one period if
        /// absent. Staggering it spreads many devices' messages over the period.
        #[serde(default)]
        first_in_ms: Option<u64>,
    },
}

/// MQTT 5.0 options of a subscription (section 3.8.3.1) and its Subscription Identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeOptions {
    /// No Local: the device does not get its own messages back.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_local: bool,
    /// Retain As Published: forwarded messages keep their RETAIN flag.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain_as_published: bool,
    /// Retain Handling: 0 sends retained messages on subscribing, 1 only for a new
    /// subscription, 2 never.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retain_handling: u8,
    /// The Subscription Identifier, 1 to 268,435,455.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<u32>,
}

impl SubscribeOptions {
    fn is_default(&self) -> bool {
        *self == SubscribeOptions::default()
    }
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl Action {
    /// The device the action concerns, except for `Spawn`, which makes one.
    pub fn device(&self) -> Option<DeviceId> {
        match self {
            Action::Spawn { .. } => None,
            Action::Connect { device }
            | Action::Reconnect { device }
            | Action::Disconnect { device, .. }
            | Action::DropNetwork { device }
            | Action::Subscribe { device, .. }
            | Action::Unsubscribe { device, .. }
            | Action::Publish { device, .. }
            | Action::SetAutoAck { device, .. }
            | Action::Ack { device, .. }
            | Action::AutoPublish { device, .. } => Some(*device),
        }
    }
}

/// An action and the virtual time, in milliseconds, at which it was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedAction {
    /// Milliseconds of virtual time.
    pub at: u64,
    /// What was done.
    pub action: Action,
}

/// Everything that determines a run: the broker's configuration (profile, rules, seed),
/// the network's latency, and the actions with their times. The same scenario replays to
/// the same trace, byte for byte.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The broker's configuration, seed included.
    #[serde(default)]
    pub config: Config,
    /// One-way latency of every link, in milliseconds of virtual time.
    #[serde(default = "default_latency")]
    pub latency_ms: u64,
    /// The actions, in the order they were applied.
    #[serde(default)]
    pub actions: Vec<TimedAction>,
    /// An AWS IoT policy document (JSON text) attached to every principal, named
    /// [`GLOBAL_POLICY`]. Absent, the broker enforces no policy at all; present, it is
    /// parsed when the world is built and evaluated as AWS does (default deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Policy documents attached to one principal each (a device's user name or
    /// certificate common name), named after it. With any policy attached, a device whose
    /// principal has none (and no global one applies) is denied everything.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub principal_policies: BTreeMap<String, String>,
}

/// The name of the scenario's policy document, in decisions and error messages.
pub const GLOBAL_POLICY: &str = "global";

/// The default one-way latency: long enough that arrows on the diagram visibly take time.
pub const DEFAULT_LATENCY_MS: u64 = 20;

fn default_latency() -> u64 {
    DEFAULT_LATENCY_MS
}

impl Scenario {
    /// An empty scenario for `config` with the default latency.
    pub fn new(config: Config) -> Self {
        Scenario {
            config,
            latency_ms: DEFAULT_LATENCY_MS,
            actions: Vec::new(),
            policy: None,
            principal_policies: BTreeMap::new(),
        }
    }

    /// The policies the scenario attaches: `None` without a policy document, or the
    /// parse error (line, column, reason) of a malformed one.
    pub fn policy_set(&self) -> Result<Option<PolicySet>, PolicyError> {
        if self.policy.is_none() && self.principal_policies.is_empty() {
            return Ok(None);
        }
        let mut set = PolicySet::default();
        if let Some(json) = &self.policy {
            set.attach_default(PolicyDocument::parse(GLOBAL_POLICY, json)?);
        }
        for (principal, json) in &self.principal_policies {
            set.attach(principal, PolicyDocument::parse(principal, json)?);
        }
        Ok(Some(set))
    }
}

/// Why an action was refused. A refused action changes nothing and is not recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionError {
    /// No device has this index.
    NoSuchDevice(DeviceId),
    /// The device must be connected (or connecting) for this.
    NotConnected(DeviceId),
    /// The device already has a connection.
    AlreadyConnected(DeviceId),
    /// A QoS outside 0 to 2.
    InvalidQos(u8),
    /// A Retain Handling outside 0 to 2, or a Subscription Identifier outside 1 to
    /// 268,435,455.
    InvalidOption(String),
    /// The topic name or filter is not valid MQTT.
    InvalidTopic(String),
    /// The action is dated before the world's present.
    InThePast {
        /// When the action says it happened.
        at: u64,
        /// The world's present.
        now: u64,
    },
}

impl core::fmt::Display for ActionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ActionError::NoSuchDevice(d) => write!(f, "there is no device #{d}"),
            ActionError::NotConnected(d) => write!(f, "device #{d} is not connected"),
            ActionError::AlreadyConnected(d) => write!(f, "device #{d} is already connected"),
            ActionError::InvalidQos(q) => write!(f, "QoS {q} does not exist (0, 1 or 2)"),
            ActionError::InvalidTopic(why) | ActionError::InvalidOption(why) => f.write_str(why),
            ActionError::InThePast { at, now } => {
                write!(f, "an action at {at} ms comes before the present, {now} ms")
            }
        }
    }
}

impl std::error::Error for ActionError {}

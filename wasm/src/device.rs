//! A virtual device: the core's sans-IO MQTT client, the transport it is attached to, and
//! what the simulator shows of it (its inbox).

use std::collections::VecDeque;

use broker_core::client::{Client, ClientOptions, ClientState, Received};
use broker_core::codec::{Properties, Property};
use broker_core::{ConnId, Instant, LastWill, QoS, TopicName};
use bytes::Bytes;
use serde::Serialize;

use crate::scenario::{ActionError, DeviceId, DeviceSpec, WillSpec, DEVICE_TOPIC_ALIASES};

/// The most messages an inbox shows; older ones scroll away.
pub const INBOX_CAP: usize = 50;

/// One message in a device's inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboxMessage {
    /// Counts the device's messages from 1, so a viewer can key on it.
    pub n: u64,
    /// When it arrived, in milliseconds of virtual time.
    pub at: u64,
    /// The topic.
    pub topic: String,
    /// The payload, as text (invalid UTF-8 replaced).
    pub payload: String,
    /// The QoS it arrived with.
    pub qos: u8,
    /// Its packet id (QoS 1 and 2).
    pub packet_id: Option<u16>,
    /// DUP.
    pub dup: bool,
    /// RETAIN.
    pub retain: bool,
    /// MQTT 5.0 properties it arrived with, as "name: value" lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
}

impl InboxMessage {
    fn new(n: u64, m: &Received) -> Self {
        InboxMessage {
            n,
            at: m.at.as_millis(),
            topic: m.topic.as_str().to_owned(),
            payload: String::from_utf8_lossy(&m.payload).into_owned(),
            qos: m.qos.bits(),
            packet_id: m.packet_id.map(|id| id.get()),
            dup: m.dup,
            retain: m.retain,
            properties: m
                .properties
                .iter()
                .flat_map(|p| p.0.iter())
                .map(crate::label::property_text)
                .collect(),
        }
    }
}

/// Periodic publishing: the load generator of big simulations.
#[derive(Clone, Debug)]
pub(crate) struct AutoPublish {
    pub(crate) topic: TopicName,
    pub(crate) qos: QoS,
    pub(crate) every_ms: u64,
    pub(crate) next_at: Instant,
    pub(crate) count: u64,
}

/// Where a device's connection stands, as the simulator shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// No transport.
    Disconnected,
    /// CONNECT sent, no CONNACK yet.
    Connecting,
    /// CONNACK accepted.
    Connected,
}

impl DeviceState {
    /// The word the simulator's `data-state` attribute uses: a device is `connected` only
    /// once CONNACK accepted it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceState::Connected => "connected",
            DeviceState::Connecting | DeviceState::Disconnected => "disconnected",
        }
    }
}

/// A read-only view of a device, for the simulator's device cards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    /// The device's index.
    pub id: DeviceId,
    /// How it was spawned.
    pub spec: DeviceSpec,
    /// Its connection.
    pub state: DeviceState,
    /// Whether it acknowledges incoming messages by itself.
    pub auto_ack: bool,
    /// Packet ids of incoming messages waiting for a manual acknowledgement.
    pub unacked: Vec<u16>,
    /// Outgoing QoS 1 and 2 messages not yet acknowledged.
    pub outgoing: usize,
    /// The latest messages, oldest first.
    pub inbox: Vec<InboxMessage>,
    /// How many messages arrived in all.
    pub received: u64,
    /// The period of automatic publishing, if on.
    pub auto_publish_ms: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) spec: DeviceSpec,
    pub(crate) client: Client,
    /// The transport the device uses now. Packets for any other connection are stale.
    pub(crate) conn: Option<ConnId>,
    pub(crate) inbox: VecDeque<InboxMessage>,
    pub(crate) received: u64,
    pub(crate) auto_publish: Option<AutoPublish>,
    /// The wake-up currently registered in the world's timer set, if any.
    pub(crate) armed: Option<Instant>,
}

impl Device {
    pub(crate) fn new(spec: DeviceSpec) -> Result<Self, ActionError> {
        let will = spec.will.as_ref().map(last_will).transpose()?;
        let client = Client::new(ClientOptions {
            version: spec.version,
            client_id: spec.client_id.clone(),
            clean_session: spec.clean_session,
            keep_alive: spec.keep_alive,
            will,
            auto_ack: spec.auto_ack,
            session_expiry: spec.session_expiry,
            receive_maximum: spec.receive_maximum,
            topic_alias_maximum: if spec.topic_aliases {
                DEVICE_TOPIC_ALIASES
            } else {
                0
            },
            topic_aliases: spec.topic_aliases,
            username: spec.username.clone(),
            ..ClientOptions::new(&spec.client_id)
        });
        Ok(Device {
            spec,
            client,
            conn: None,
            inbox: VecDeque::new(),
            received: 0,
            auto_publish: None,
            armed: None,
        })
    }

    pub(crate) fn state(&self) -> DeviceState {
        match self.client.state() {
            ClientState::Disconnected => DeviceState::Disconnected,
            ClientState::Connecting => DeviceState::Connecting,
            ClientState::Connected => DeviceState::Connected,
        }
    }

    pub(crate) fn receive(&mut self, m: &Received) {
        self.received += 1;
        if self.inbox.len() == INBOX_CAP {
            self.inbox.pop_front();
        }
        self.inbox.push_back(InboxMessage::new(self.received, m));
    }

    /// When the device next needs `handle_timeout` or publishes by itself.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        let publish = self.auto_publish.as_ref().map(|a| a.next_at);
        match (self.client.poll_timeout(), publish) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn view(&self, id: DeviceId) -> DeviceView {
        DeviceView {
            id,
            spec: self.spec.clone(),
            state: self.state(),
            auto_ack: self.client.options().auto_ack,
            unacked: self.client.unacked().iter().map(|id| id.get()).collect(),
            outgoing: self.client.outgoing().len(),
            inbox: self.inbox.iter().cloned().collect(),
            received: self.received,
            auto_publish_ms: self.auto_publish.as_ref().map(|a| a.every_ms),
        }
    }
}

/// Parses a learner's QoS number.
pub(crate) fn qos(bits: u8) -> Result<QoS, ActionError> {
    QoS::from_bits(bits).ok_or(ActionError::InvalidQos(bits))
}

pub(crate) fn topic_name(topic: &str) -> Result<TopicName, ActionError> {
    TopicName::new(topic).map_err(|e| ActionError::InvalidTopic(format!("topic {topic:?}: {e}")))
}

fn last_will(w: &WillSpec) -> Result<LastWill, ActionError> {
    Ok(LastWill {
        topic: topic_name(&w.topic)?,
        payload: Bytes::copy_from_slice(w.payload.as_bytes()),
        qos: qos(w.qos)?,
        retain: w.retain,
        properties: Properties(
            w.delay
                .map(Property::WillDelayInterval)
                .into_iter()
                .collect(),
        ),
    })
}

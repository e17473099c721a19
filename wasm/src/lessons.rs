//! The guided lessons: short scripted scenarios, each with what to watch and why it
//! happens. Every lesson is written for one profile and replays under the other, which is
//! often the point: the same devices doing the same things meet a different broker.

use broker_core::{Config, Profile};

use crate::scenario::{Action, DeviceId, DeviceSpec, Scenario, TimedAction, WillSpec};

/// One guided scenario.
#[derive(Clone, Debug)]
pub struct Lesson {
    /// A stable name, used in URLs.
    pub id: &'static str,
    /// The title in the lesson list.
    pub title: &'static str,
    /// The profile the lesson is written for.
    pub profile: Profile,
    /// What to watch, shown before and while it runs.
    pub watch: &'static str,
    /// What happened and why, under each profile.
    pub explanation: &'static str,
    /// The AWS IoT policy document attached to every principal, if the lesson has one.
    pub policy: Option<&'static str>,
    /// The actions, with their times in milliseconds.
    pub actions: Vec<TimedAction>,
    /// How long the lesson runs, in milliseconds of virtual time.
    pub duration_ms: u64,
}

impl Lesson {
    /// The lesson's scenario under `profile` (its own, or the other one), with the
    /// profile's default rules and seed 1.
    pub fn scenario(&self, profile: Profile) -> Scenario {
        let mut config = Config::for_profile(profile);
        config.seed = 1;
        Scenario {
            actions: self.actions.clone(),
            policy: self.policy.map(str::to_owned),
            ..Scenario::new(config)
        }
    }
}

/// Every lesson, in the order the simulator lists them.
pub fn all() -> Vec<Lesson> {
    vec![
        qos0_vs_qos1(),
        qos1_redelivery(),
        duplicate_client_id(),
        retain(),
        persistent_session(),
        qos2_under_aws(),
        will_on_network_drop(),
        subscribe_denied(),
    ]
}

/// The lesson named `id`.
pub fn find(id: &str) -> Option<Lesson> {
    all().into_iter().find(|l| l.id == id)
}

/// Builds a timed list of actions and numbers devices as they are spawned.
#[derive(Default)]
struct Script {
    actions: Vec<TimedAction>,
    devices: DeviceId,
}

impl Script {
    /// Spawns a device at `at` and connects it at once; returns its index.
    fn device(&mut self, at: u64, spec: DeviceSpec) -> DeviceId {
        let device = self.devices;
        self.devices += 1;
        self.at(at, Action::Spawn { spec });
        self.at(at, Action::Connect { device });
        device
    }

    fn at(&mut self, at: u64, action: Action) {
        self.actions.push(TimedAction { at, action });
    }

    fn subscribe(&mut self, at: u64, device: DeviceId, filter: &str, qos: u8) {
        let filter = filter.to_owned();
        self.at(
            at,
            Action::Subscribe {
                device,
                filter,
                qos,
                options: Default::default(),
            },
        );
    }

    fn publish(&mut self, at: u64, device: DeviceId, topic: &str, payload: &str, qos: u8) {
        self.publish_with(at, device, topic, payload, qos, false);
    }

    fn publish_with(
        &mut self,
        at: u64,
        device: DeviceId,
        topic: &str,
        payload: &str,
        qos: u8,
        retain: bool,
    ) {
        let (topic, payload) = (topic.to_owned(), payload.to_owned());
        self.at(
            at,
            Action::Publish {
                device,
                topic,
                payload,
                qos,
                retain,
                message_expiry: None,
            },
        );
    }
}

fn persistent(client_id: &str) -> DeviceSpec {
    DeviceSpec {
        clean_session: false,
        ..DeviceSpec::new(client_id)
    }
}

fn qos0_vs_qos1() -> Lesson {
    let mut s = Script::default();
    let sub = s.device(0, persistent("subscriber"));
    let publisher = s.device(0, DeviceSpec::new("publisher"));
    s.subscribe(100, sub, "lab/qos", 1);
    s.publish(300, publisher, "lab/qos", "q0 while online", 0);
    s.publish(350, publisher, "lab/qos", "q1 while online", 1);
    s.at(600, Action::DropNetwork { device: sub });
    s.publish(800, publisher, "lab/qos", "q0 while offline", 0);
    s.publish(850, publisher, "lab/qos", "q1 while offline", 1);
    s.at(1200, Action::Connect { device: sub });
    Lesson {
        id: "qos0-vs-qos1",
        title: "QoS 0 vs QoS 1",
        profile: Profile::Standard,
        watch: "A persistent subscriber gets two messages online, loses its network, and \
                two more are published while it is away. Watch which ones reach its inbox.",
        explanation: "Online, both arrive; only QoS 1 is acknowledged (PUBACK), at both \
                      hops. Offline, the broker keeps the QoS 1 message in the persistent \
                      session and delivers it after the reconnect (session present = 1), \
                      but drops the QoS 0 one: QoS 0 is 'at most once', and the standard \
                      lets a broker discard it for an absent client. Under aws-iot the same \
                      happens, and the session resume is marked D3.",
        policy: None,
        actions: s.actions,
        duration_ms: 1600,
    }
}

fn qos1_redelivery() -> Lesson {
    let mut s = Script::default();
    let sub = s.device(
        0,
        DeviceSpec {
            auto_ack: false,
            ..persistent("forgetful")
        },
    );
    let publisher = s.device(0, DeviceSpec::new("publisher"));
    s.subscribe(100, sub, "lab/orders", 1);
    s.publish(300, publisher, "lab/orders", "order 42", 1);
    s.at(700, Action::DropNetwork { device: sub });
    // More than a second after its first CONNECT: aws-iot refuses quicker ones.
    s.at(1300, Action::Connect { device: sub });
    s.at(
        1700,
        Action::Ack {
            device: sub,
            packet_id: 1,
        },
    );
    Lesson {
        id: "qos1-redelivery",
        title: "QoS 1 redelivery without PUBACK",
        profile: Profile::Standard,
        watch: "The subscriber's auto-ack is off: it receives the QoS 1 message but never \
                sends PUBACK. Then its network drops and it reconnects.",
        explanation: "Without PUBACK the message stays in flight in the broker's session \
                      (see the sessions table). When the client reconnects to its \
                      persistent session, the broker must send it again with DUP = 1 \
                      (MQTT-4.4.0-1), so the inbox shows it twice: QoS 1 is 'at least \
                      once', and applications must tolerate duplicates. The manual \
                      acknowledgement at the end finally completes it. aws-iot behaves the \
                      same way here.",
        policy: None,
        actions: s.actions,
        duration_ms: 2000,
    }
}

fn duplicate_client_id() -> Lesson {
    let mut s = Script::default();
    let observer = s.device(0, DeviceSpec::new("observer"));
    s.subscribe(50, observer, "$aws/events/presence/+/+", 0);
    s.device(200, DeviceSpec::new("sensor-1"));
    // More than a second later: aws-iot accepts one CONNECT per second per client id.
    s.device(1400, DeviceSpec::new("sensor-1"));
    Lesson {
        id: "duplicate-client-id",
        title: "Two devices, one client id",
        profile: Profile::AwsIot,
        watch: "A second device connects with the client id 'sensor-1', which is already \
                connected.",
        explanation: "The broker accepts the newer connection and closes the older one: \
                      the standard requires it (MQTT-3.1.4-2), and AWS IoT documents it as \
                      D6. Under aws-iot the observer also receives the lifecycle events: \
                      'disconnected' with DUPLICATE_CLIENTID, then 'connected'. Two real \
                      devices sharing an id keep knocking each other off this way.",
        policy: None,
        actions: s.actions,
        duration_ms: 1900,
    }
}

fn retain() -> Lesson {
    let mut s = Script::default();
    let publisher = s.device(0, DeviceSpec::new("thermostat"));
    s.publish_with(200, publisher, "lab/status", "online", 1, true);
    let late = s.device(600, DeviceSpec::new("late-joiner"));
    s.subscribe(800, late, "lab/status", 1);
    Lesson {
        id: "retain",
        title: "RETAIN: aws-iot vs mqtt-3.1.1",
        profile: Profile::AwsIot,
        watch: "The thermostat publishes its status with RETAIN = 1; a device that \
                subscribes later should receive it at once.",
        explanation: "Under mqtt-3.1.1 the broker stores the message and sends it to the \
                      late subscriber with RETAIN = 1 (MQTT-3.3.1-6, MQTT-3.3.1-8): see the \
                      retained table. AWS IoT, as originally documented, does not support \
                      retained messages: the PUBLISH closes the publisher's connection \
                      (D5, CLIENT_ERROR), and the late subscriber receives nothing.",
        policy: None,
        actions: s.actions,
        duration_ms: 1200,
    }
}

fn persistent_session() -> Lesson {
    let mut s = Script::default();
    let reader = s.device(0, persistent("reader"));
    let publisher = s.device(0, DeviceSpec::new("newsroom"));
    s.subscribe(100, reader, "lab/news", 1);
    s.at(
        400,
        Action::Disconnect {
            device: reader,
            with_will: false,
        },
    );
    s.publish(600, publisher, "lab/news", "headline 1", 1);
    s.publish(650, publisher, "lab/news", "headline 2", 1);
    s.at(1200, Action::Connect { device: reader });
    Lesson {
        id: "persistent-session",
        title: "Persistent session: resume and queued messages",
        profile: Profile::Standard,
        watch: "The reader connects with clean session = 0, subscribes, and disconnects. \
                Two messages are published while it is away; then it reconnects.",
        explanation: "With clean session = 0 the broker keeps the session (subscriptions \
                      and QoS 1 messages) after DISCONNECT. On reconnect the CONNACK says \
                      session present = 1 (MQTT-3.2.2-2) and the queued messages follow \
                      without a new SUBSCRIBE. Under aws-iot this is rule D3, and sessions \
                      expire an hour after the disconnect.",
        policy: None,
        actions: s.actions,
        duration_ms: 1600,
    }
}

fn qos2_under_aws() -> Lesson {
    let mut s = Script::default();
    let sub = s.device(0, DeviceSpec::new("exact-reader"));
    let publisher = s.device(0, DeviceSpec::new("exact-writer"));
    s.subscribe(100, sub, "lab/exact", 2);
    s.publish(400, publisher, "lab/exact", "exactly once?", 2);
    Lesson {
        id: "qos2-under-aws",
        title: "QoS 2 requested under aws-iot",
        profile: Profile::AwsIot,
        watch: "A device subscribes with QoS 2 and another publishes with QoS 2.",
        explanation: "AWS IoT does not support QoS 2 (D2): the SUBSCRIBE gets no SUBACK, and \
                      the QoS 2 PUBLISH no PUBREC, so neither client's request ever \
                      completes. Under mqtt-3.1.1 the SUBACK grants QoS 2 and the message \
                      takes the four-packet handshake (PUBLISH, PUBREC, PUBREL, PUBCOMP) on \
                      each hop, delivered exactly once.",
        policy: None,
        actions: s.actions,
        duration_ms: 1000,
    }
}

fn will_on_network_drop() -> Lesson {
    let mut s = Script::default();
    let monitor = s.device(0, DeviceSpec::new("monitor"));
    s.subscribe(50, monitor, "lab/+/status", 1);
    let will = |name: &str| WillSpec {
        topic: format!("lab/{name}/status"),
        payload: format!("{name} went offline"),
        qos: 1,
        retain: false,
        delay: None,
    };
    let dropped = s.device(
        100,
        DeviceSpec {
            will: Some(will("sensor-a")),
            ..DeviceSpec::new("sensor-a")
        },
    );
    let polite = s.device(
        100,
        DeviceSpec {
            will: Some(will("sensor-b")),
            ..DeviceSpec::new("sensor-b")
        },
    );
    s.at(500, Action::DropNetwork { device: dropped });
    s.at(
        800,
        Action::Disconnect {
            device: polite,
            with_will: false,
        },
    );
    Lesson {
        id: "will-on-network-drop",
        title: "The Will on a network drop",
        profile: Profile::Standard,
        watch: "Two sensors leave a Will. sensor-a loses its network; sensor-b sends \
                DISCONNECT.",
        explanation: "When a connection ends without DISCONNECT the broker publishes the \
                      Will (section 3.1.2.5), so the monitor learns that sensor-a is gone. \
                      A clean DISCONNECT discards the Will (MQTT-3.14.4-3): nothing is \
                      published for sensor-b. aws-iot does the same, and also publishes a \
                      lifecycle event with CONNECTION_LOST or CLIENT_INITIATED_DISCONNECT.",
        policy: None,
        actions: s.actions,
        duration_ms: 1200,
    }
}

/// The policy of the subscribe-denied lesson: connect, publish telemetry and receive
/// commands are allowed, but the Subscribe statement names a `topic/` ARN, and
/// `iot:Subscribe` is checked against `topicfilter/` ones, so nothing allows it.
pub const SUBSCRIBE_DENIED_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": "iot:Connect",
      "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"
    },
    {
      "Effect": "Allow",
      "Action": "iot:Publish",
      "Resource": "arn:aws:iot:us-east-1:123456789012:topic/telemetry/${iot:ClientId}"
    },
    {
      "Effect": "Allow",
      "Action": ["iot:Subscribe", "iot:Receive"],
      "Resource": "arn:aws:iot:us-east-1:123456789012:topic/cmd/${iot:ClientId}"
    }
  ]
}
"#;

fn subscribe_denied() -> Lesson {
    let mut s = Script::default();
    let device = s.device(0, DeviceSpec::new("sensor-7"));
    s.publish(100, device, "telemetry/sensor-7", "21.5", 1);
    s.subscribe(200, device, "cmd/sensor-7", 1);
    // The client library reconnects and subscribes again, as it was written to. aws-iot
    // accepts one CONNECT per second per client id, so the attempts are 1.2 s apart.
    for at in [1400, 2600] {
        s.at(at, Action::Reconnect { device });
        s.subscribe(at + 100, device, "cmd/sensor-7", 1);
    }
    Lesson {
        id: "subscribe-denied",
        title: "Subscribe denied: the reconnect loop AWS users hit",
        profile: Profile::AwsIot,
        watch: "The device's policy allows it to connect and publish telemetry, and its \
                last statement looks like it allows subscribing to its command topic. The \
                device publishes, subscribes, and its client library reconnects and \
                subscribes again whenever the connection drops.",
        explanation: "iot:Subscribe is checked against a topicfilter/ ARN, but the policy \
                      names topic/cmd/..., so no statement allows it and the default deny \
                      applies (see the red policy lines). Under aws-iot a denied SUBSCRIBE \
                      closes the connection (AUTH_ERROR) without a SUBACK; the client \
                      reconnects, subscribes, and is closed again, forever: the publish \
                      worked, so the device looks half alive. Under mqtt-3.1.1 the same \
                      request gets SUBACK 0x80 for that filter and the connection stays \
                      up, so the reconnects do nothing. The fix is a statement allowing \
                      iot:Subscribe on arn:...:topicfilter/cmd/${iot:ClientId}; try it in \
                      the policy editor.",
        policy: Some(SUBSCRIBE_DENIED_POLICY),
        actions: s.actions,
        duration_ms: 3000,
    }
}

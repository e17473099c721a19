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
        session_expiry(),
        shared_subscriptions(),
        topic_aliases(),
        reason_codes(),
        flow_control(),
        shadow_offline(),
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

fn disconnect(device: DeviceId) -> Action {
    Action::Disconnect {
        device,
        with_will: false,
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

fn session_expiry() -> Lesson {
    let mut s = Script::default();
    let tracker = s.device(
        0,
        DeviceSpec {
            clean_session: false,
            session_expiry: Some(2),
            ..DeviceSpec::v5("tracker")
        },
    );
    let dispatcher = s.device(0, DeviceSpec::v5("dispatcher"));
    s.subscribe(100, tracker, "fleet/tracker/cmd", 1);
    s.at(300, disconnect(tracker));
    s.publish(500, dispatcher, "fleet/tracker/cmd", "reroute 1", 1);
    s.at(1500, Action::Connect { device: tracker });
    s.at(1800, disconnect(tracker));
    s.publish(2000, dispatcher, "fleet/tracker/cmd", "reroute 2", 1);
    s.at(4500, Action::Connect { device: tracker });
    s.publish(4800, dispatcher, "fleet/tracker/cmd", "reroute 3", 1);
    Lesson {
        id: "session-expiry",
        title: "MQTT 5: Session Expiry and Clean Start",
        profile: Profile::Standard,
        watch: "An MQTT 5.0 tracker connects with Clean Start 0 and a Session Expiry \
                Interval of 2 seconds, subscribes, and disconnects twice: once for about \
                a second, once for more than two. A message is published each time it is \
                away. Watch Session Present in each CONNACK, and the inbox.",
        explanation: "In MQTT 5.0 a session no longer lasts forever or not at all: Clean \
                      Start only says whether to resume, and the Session Expiry Interval \
                      says how long the broker keeps the session after the connection \
                      ends (section 3.1.2.11.2). Back within 2 seconds, the tracker finds \
                      its session (Session Present 1) and 'reroute 1' waiting in it. Back \
                      after 2.7 seconds, the session has expired: Session Present 0, \
                      'reroute 2' is gone, and so is the subscription, so 'reroute 3' \
                      never arrives. aws-iot behaves the same way; it only caps the \
                      interval at its quota (one hour by default) and says so in CONNACK.",
        policy: None,
        actions: s.actions,
        duration_ms: 5500,
    }
}

fn shared_subscriptions() -> Lesson {
    let mut s = Script::default();
    let first = s.device(0, DeviceSpec::v5("worker-1"));
    let second = s.device(0, DeviceSpec::v5("worker-2"));
    let auditor = s.device(0, DeviceSpec::v5("auditor"));
    let producer = s.device(0, DeviceSpec::v5("producer"));
    s.subscribe(100, first, "$share/workers/jobs/+", 1);
    s.subscribe(150, second, "$share/workers/jobs/+", 1);
    s.subscribe(200, auditor, "jobs/+", 1);
    for i in 1..=6 {
        s.publish(
            300 + 100 * i,
            producer,
            &format!("jobs/{i}"),
            &format!("job {i}"),
            1,
        );
    }
    s.at(1200, Action::DropNetwork { device: first });
    for i in 7..=9 {
        s.publish(
            1000 + 100 * i,
            producer,
            &format!("jobs/{i}"),
            &format!("job {i}"),
            1,
        );
    }
    Lesson {
        id: "shared-subscriptions",
        title: "MQTT 5: shared subscriptions",
        profile: Profile::Standard,
        watch: "Two workers subscribe to $share/workers/jobs/+, an auditor to jobs/+. Nine \
                jobs are published; after the sixth, worker-1 loses its network. Compare \
                the three inboxes.",
        explanation: "A shared subscription $share/{group}/{filter} makes its subscribers \
                      one group: each message goes to one member, not to all (section \
                      4.8.2), which is how a pool of workers shares a queue. The auditor's \
                      ordinary subscription gets all nine. Between the workers the broker \
                      picks a member at random (seeded, so the replay repeats), and once \
                      worker-1 is gone every job goes to worker-2, the member still \
                      connected. aws-iot does the same: AWS IoT Core documents a random \
                      member per message, for MQTT 3.1.1 clients too.",
        policy: None,
        actions: s.actions,
        duration_ms: 2200,
    }
}

fn topic_aliases() -> Lesson {
    const TOPIC: &str = "factory/line-4/press-12/telemetry/temperature";
    let mut s = Script::default();
    let aliasing = DeviceSpec {
        topic_aliases: true,
        ..DeviceSpec::v5("press-12")
    };
    let sensor = s.device(0, aliasing);
    let dashboard = s.device(
        0,
        DeviceSpec {
            topic_aliases: true,
            ..DeviceSpec::v5("dashboard")
        },
    );
    let legacy = s.device(0, DeviceSpec::new("legacy-panel"));
    s.subscribe(100, dashboard, TOPIC, 0);
    s.subscribe(100, legacy, TOPIC, 0);
    for (i, reading) in ["71.2", "71.4", "71.9"].iter().enumerate() {
        s.publish(400 + 200 * i as u64, sensor, TOPIC, reading, 0);
    }
    Lesson {
        id: "topic-aliases",
        title: "MQTT 5: topic aliases",
        profile: Profile::Standard,
        watch: "A press publishes three readings to a 46-byte topic, with topic aliases on; \
                an MQTT 5.0 dashboard (aliases on) and an MQTT 3.1.1 panel subscribe. Click \
                the PUBLISH arrows and compare their bytes in the inspector.",
        explanation: "The first PUBLISH carries the topic and a Topic Alias property; the \
                      next ones carry the alias alone and an empty topic, 46 bytes fewer \
                      each (section 3.3.2.3.4). Aliases belong to one connection and one \
                      direction: the broker keeps its own towards the dashboard, within the \
                      Topic Alias Maximum the dashboard sent in its CONNECT, and the 3.1.1 panel gets the whole topic every time. aws-iot \
                      allows up to 8 aliases per connection; the standard profile 10.",
        policy: None,
        actions: s.actions,
        duration_ms: 1400,
    }
}

fn reason_codes() -> Lesson {
    let mut s = Script::default();
    s.device(0, DeviceSpec::v5("meter"));
    s.device(0, DeviceSpec::new("meter-classic"));
    // The same client ids again, more than a second later (aws-iot refuses quicker
    // reconnects of one client id).
    s.device(1200, DeviceSpec::v5("meter"));
    s.device(1300, DeviceSpec::new("meter-classic"));
    Lesson {
        id: "reason-codes",
        title: "MQTT 5: why did the broker drop me?",
        profile: Profile::AwsIot,
        watch: "Two meters connect, one speaking MQTT 5.0 and one MQTT 3.1.1. A second \
                device then connects with each one's client id. Watch what each first \
                meter receives before its connection ends.",
        explanation: "A client id names one session, so the broker closes the older \
                      connection (MQTT-3.1.4-3; D6 in AWS IoT). The MQTT 5.0 meter is told \
                      why: a DISCONNECT with Reason Code 0x8E, Session taken over \
                      (section 3.14.2.1). The MQTT 3.1.1 meter only sees its network \
                      connection close: 3.1.1 has no packet for the server to explain \
                      itself, and a device in the field cannot tell a takeover from a \
                      network fault. Under aws-iot the lifecycle event says \
                      DUPLICATE_CLIENTID for both; only the 5.0 device hears it.",
        policy: None,
        actions: s.actions,
        duration_ms: 2000,
    }
}

fn flow_control() -> Lesson {
    let mut s = Script::default();
    let reader = s.device(
        0,
        DeviceSpec {
            receive_maximum: Some(2),
            auto_ack: false,
            ..DeviceSpec::v5("slow-reader")
        },
    );
    let alarms = s.device(0, DeviceSpec::v5("alarm-panel"));
    s.subscribe(100, reader, "alerts/#", 1);
    for i in 1..=5 {
        s.publish(
            300 + 50 * i,
            alarms,
            "alerts/fire",
            &format!("alert {i}"),
            1,
        );
    }
    for id in 1..=5u16 {
        s.at(
            900 + 300 * u64::from(id),
            Action::Ack {
                device: reader,
                packet_id: id,
            },
        );
    }
    Lesson {
        id: "flow-control",
        title: "MQTT 5: Receive Maximum",
        profile: Profile::Standard,
        watch: "A slow reader says Receive Maximum 2 in its CONNECT and acknowledges by \
                hand, one PUBACK every 300 ms. Five QoS 1 alerts are published at once. \
                Watch when each PUBLISH leaves the broker.",
        explanation: "Receive Maximum is how many QoS 1 and 2 messages a receiver accepts \
                      unacknowledged (section 3.1.2.11.3). The broker sends two alerts at \
                      once, then one more after each PUBACK: the other three wait in the \
                      session, not on the wire (MQTT-3.3.4-9). Nothing is lost, and the \
                      reader is never flooded. aws-iot does the same; AWS IoT Core's own \
                      Receive Maximum, in its CONNACK, limits the client in turn.",
        policy: None,
        actions: s.actions,
        duration_ms: 2600,
    }
}

fn shadow_offline() -> Lesson {
    const PREFIX: &str = "$aws/things/lamp/shadow";
    let mut s = Script::default();
    let lamp = s.device(0, persistent("lamp"));
    let phone = s.device(0, DeviceSpec::new("phone"));
    s.subscribe(100, lamp, &format!("{PREFIX}/update/delta"), 1);
    s.subscribe(150, lamp, &format!("{PREFIX}/get/accepted"), 1);
    let update = format!("{PREFIX}/update");
    s.publish(
        300,
        lamp,
        &update,
        r#"{"state":{"reported":{"power":"off"}}}"#,
        1,
    );
    s.at(600, Action::DropNetwork { device: lamp });
    s.publish(
        900,
        phone,
        &update,
        r#"{"state":{"desired":{"power":"on"}}}"#,
        1,
    );
    s.at(1800, Action::Connect { device: lamp });
    s.publish(2100, lamp, &format!("{PREFIX}/get"), "", 1);
    s.publish(
        2500,
        lamp,
        &update,
        r#"{"state":{"reported":{"power":"on"}}}"#,
        1,
    );
    Lesson {
        id: "shadow-offline",
        title: "Device Shadow: the device was offline",
        profile: Profile::AwsIot,
        watch: "A lamp reports that it is off, then loses its network. While it is away, a \
                phone app sets the desired state to on. Watch what the lamp receives when \
                it comes back, and the shadows table on the right.",
        explanation: "The Device Shadow service keeps the desired state for the lamp while it \
                      is offline: the update from the phone is accepted (version 2) and, \
                      since desired and reported now differ, a message goes to \
                      .../update/delta. The lamp's persistent session holds that QoS 1 \
                      delta, and it arrives on reconnection; the lamp also asks for the \
                      whole document (get) and finds the same delta in it. It turns on and \
                      reports so: desired and reported agree, and no delta follows. Under \
                      the standard profile nothing answers: $aws/things/... topics are \
                      ordinary topics there, and the lamp never learns what the phone asked.",
        policy: None,
        actions: s.actions,
        duration_ms: 3000,
    }
}

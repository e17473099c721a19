//! The aws-iot profile's Device Shadow service over MQTT (docs/shadow.md): the request and
//! reply topics, the document rules against the examples of AWS's pages, and the error
//! codes.

mod support;

use broker_core::*;
use serde_json::{json, Value};
use support::*;

/// The broker's clock at AWS's example timestamp (1591140517 s), so replies carry it.
const T0_MS: u64 = 1_591_140_517_000;

struct Shadow {
    sim: Sim,
    conn: ConnId,
}

impl Shadow {
    /// An aws-iot broker and one client subscribed to every reply topic of thing `lamp`'s
    /// classic shadow and of its named shadow `colour`.
    fn new() -> Self {
        let mut sim = aws_sim(|_| {});
        sim.advance(T0_MS);
        let conn = sim.connect("app", true);
        for prefix in [
            "$aws/things/lamp/shadow",
            "$aws/things/lamp/shadow/name/colour",
        ] {
            for op in ["get", "update", "delete"] {
                let filter = format!("{prefix}/{op}/+");
                sim.subscribe(conn, &[(filter.as_str(), QoS::AtLeastOnce)]);
            }
            let documents = format!("{prefix}/update/documents");
            sim.subscribe(conn, &[(documents.as_str(), QoS::AtLeastOnce)]);
        }
        Shadow { sim, conn }
    }

    /// Publishes `body` to `topic` and returns the replies, as (topic, JSON) pairs.
    fn request(&mut self, topic: &str, body: &str) -> Vec<(String, Value)> {
        self.sim
            .publish(self.conn, topic, body, QoS::AtMostOnce, false, 0);
        self.sim
            .publishes(self.conn)
            .into_iter()
            .filter(|p| p.topic.as_str() != topic)
            .map(|p| {
                let body = serde_json::from_slice(&p.payload).expect("JSON");
                (p.topic.as_str().to_owned(), body)
            })
            .collect()
    }

    fn update(&mut self, body: Value) -> Vec<(String, Value)> {
        self.request("$aws/things/lamp/shadow/update", &body.to_string())
    }

    /// The one reply on `suffix` (for example `update/accepted`).
    fn only(replies: &[(String, Value)], suffix: &str) -> Value {
        let found: Vec<&Value> = replies
            .iter()
            .filter(|(t, _)| t.ends_with(suffix))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(found.len(), 1, "{suffix} in {replies:?}");
        found[0].clone()
    }
}

/// The topics of the messages `conn` received since last asked.
fn received_topics(sim: &mut Sim, conn: ConnId) -> Vec<String> {
    sim.publishes(conn)
        .iter()
        .map(|p| p.topic.as_str().to_owned())
        .collect()
}

fn topics(replies: &[(String, Value)]) -> Vec<&str> {
    replies.iter().map(|(t, _)| t.as_str()).collect()
}

/// "If you now publish a /get request ... it returns an error on the .../get/rejected
/// topic because the thing doesn't have any shadows." The message names the thing for a
/// classic shadow, as the SDK sample shows the live service doing.
#[test]
fn get_of_a_missing_shadow_is_404_with_the_client_token() {
    let mut s = Shadow::new();
    let replies = s.request("$aws/things/lamp/shadow/get", r#"{"clientToken":"t-1"}"#);
    assert_eq!(topics(&replies), ["$aws/things/lamp/shadow/get/rejected"]);
    assert_eq!(
        replies[0].1,
        json!({"code": 404, "message": "No shadow exists with name: 'lamp'", "clientToken": "t-1"})
    );
}

/// The named-shadow walkthrough of AWS's "Using shadows" page: report state with a
/// client token, then get it back with metadata for each array element and version 1.
#[test]
fn a_named_shadow_reports_and_gets_as_in_awss_walkthrough() {
    let mut s = Shadow::new();
    let missing = s.request("$aws/things/lamp/shadow/name/colour/get", "");
    assert_eq!(
        missing[0].1["message"],
        json!("No shadow exists with name: 'colour'")
    );
    let body = json!({
        "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
        "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
    });
    let replies = s.request(
        "$aws/things/lamp/shadow/name/colour/update",
        &body.to_string(),
    );
    let t = 1_591_140_517;
    let stamp = json!({"timestamp": t});
    assert_eq!(
        Shadow::only(&replies, "/update/accepted"),
        json!({
            "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
            "metadata": {"reported": {"ID": stamp, "ColorRGB": [stamp, stamp, stamp]}},
            "version": 1,
            "timestamp": t,
            "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
        })
    );
    let documents = Shadow::only(&replies, "/update/documents");
    assert_eq!(
        documents["previous"],
        Value::Null,
        "a new shadow has no previous"
    );
    assert_eq!(documents["current"]["version"], json!(1));
    assert!(
        !topics(&replies).iter().any(|t| t.ends_with("/delta")),
        "no desired state, no delta"
    );
    let got = s.request(
        "$aws/things/lamp/shadow/name/colour/get",
        r#"{"clientToken":"g"}"#,
    );
    assert_eq!(
        Shadow::only(&got, "/get/accepted"),
        json!({
            "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
            "metadata": {"reported": {"ID": stamp, "ColorRGB": [stamp, stamp, stamp]}},
            "version": 1,
            "timestamp": t,
            "clientToken": "g"
        })
    );
    // The classic shadow of the same thing is another document.
    let classic = s.request("$aws/things/lamp/shadow/get", "");
    assert_eq!(topics(&classic), ["$aws/things/lamp/shadow/get/rejected"]);
}

/// The classic walkthrough: desired state that reported lacks gives a delta carrying the
/// request's client token and the desired metadata; a report that catches up gives none,
/// and clearing desired with `null` removes it.
#[test]
fn desired_reported_and_delta_follow_the_classic_walkthrough() {
    let mut s = Shadow::new();
    s.update(json!({"state": {"reported": {"color": "red"}}}));
    let replies = s.update(json!({"state": {"desired": {"color": "green"}}, "clientToken": "d"}));
    let delta = Shadow::only(&replies, "/update/delta");
    assert_eq!(delta["state"], json!({"color": "green"}));
    assert_eq!(
        delta["metadata"],
        json!({"color": {"timestamp": 1_591_140_517}})
    );
    assert_eq!(
        (delta["version"].clone(), delta["clientToken"].clone()),
        (json!(2), json!("d"))
    );

    let replies = s.update(json!({"state": {"reported": {"color": "green"}, "desired": null}}));
    assert!(
        !topics(&replies).iter().any(|t| t.ends_with("/delta")),
        "{replies:?}"
    );
    let accepted = Shadow::only(&replies, "/update/accepted");
    assert_eq!(
        accepted["state"],
        json!({"reported": {"color": "green"}, "desired": null})
    );
    assert_eq!(
        accepted["metadata"]["desired"],
        json!({"timestamp": 1_591_140_517})
    );
    assert_eq!(accepted["version"], json!(3));
    let documents = Shadow::only(&replies, "/update/documents");
    assert_eq!(
        documents["previous"]["state"]["desired"],
        json!({"color": "green"})
    );
    assert_eq!(
        documents["current"]["state"],
        json!({"reported": {"color": "green"}})
    );

    let got = s.request("$aws/things/lamp/shadow/get", "");
    let got = Shadow::only(&got, "/get/accepted");
    assert_eq!(got["state"], json!({"reported": {"color": "green"}}));
    assert!(got["state"].get("delta").is_none());
}

/// "When you supply a version with an update request, the service rejects the request with
/// an HTTP 409 conflict response code if the current version of the state document does
/// not match the version supplied."
#[test]
fn a_stale_version_is_409_and_the_current_one_is_accepted() {
    let mut s = Shadow::new();
    for i in 0..10 {
        s.update(json!({"state": {"reported": {"n": i}}}));
    }
    let replies = s.update(json!({
        "state": {"desired": {"n": 0}}, "version": 9,
        "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
    }));
    assert_eq!(
        Shadow::only(&replies, "/update/rejected"),
        json!({"code": 409, "message": "Version conflict",
               "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"})
    );
    let replies = s.update(json!({"state": {"desired": {"n": 9}}, "version": 10}));
    assert_eq!(
        Shadow::only(&replies, "/update/accepted")["version"],
        json!(11)
    );
}

/// AWS's error table, one malformed update per row it names.
#[test]
fn malformed_updates_get_awss_error_codes() {
    // Seven levels counting `desired` itself; six are allowed (AWS's 2019 quota: "The
    // maximum number of levels in the desired or reported section ... is 5", inside it).
    let deep = json!({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}});
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "Invalid JSON"),
        (
            br#"{"clientToken":"x"}"#.to_vec(),
            400,
            "Missing required node: state",
        ),
        (
            br#"{"state":[1]}"#.to_vec(),
            400,
            "State node must be an object",
        ),
        (
            br#"{"state":{"desired":1}}"#.to_vec(),
            400,
            "Desired node must be an object",
        ),
        (
            br#"{"state":{"reported":"x"}}"#.to_vec(),
            400,
            "Reported node must be an object",
        ),
        (
            br#"{"state":{"delta":{}}}"#.to_vec(),
            400,
            "State contains an invalid node",
        ),
        (
            br#"{"state":{},"version":-1}"#.to_vec(),
            400,
            "Invalid version",
        ),
        (
            format!(r#"{{"state":{{}},"clientToken":"{}"}}"#, "t".repeat(65)).into_bytes(),
            400,
            "Invalid clientToken",
        ),
        (
            deep.to_string().into_bytes(),
            400,
            "JSON contains too many levels of nesting; maximum is 6",
        ),
        (
            vec![0xff, 0xfe],
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
        ),
    ];
    for (body, code, message) in cases {
        let mut s = Shadow::new();
        s.sim.send(
            s.conn,
            Packet::Publish(publish_bytes("$aws/things/lamp/shadow/update", &body)),
        );
        let replies: Vec<(String, Value)> = s
            .sim
            .publishes(s.conn)
            .into_iter()
            .filter(|p| p.topic.as_str().ends_with("/rejected"))
            .map(|p| {
                (
                    p.topic.as_str().to_owned(),
                    serde_json::from_slice(&p.payload).expect("JSON"),
                )
            })
            .collect();
        let rejected = Shadow::only(&replies, "/update/rejected");
        assert_eq!(
            (rejected["code"].clone(), rejected["message"].clone()),
            (json!(code), json!(message)),
            "{}",
            String::from_utf8_lossy(&body)
        );
        // Nothing was created.
        let got = s.request("$aws/things/lamp/shadow/get", "");
        assert_eq!(Shadow::only(&got, "/get/rejected")["code"], json!(404));
    }
}

/// "The device's shadow supports 8 KB of data only": a document larger than that, desired
/// and reported together, is refused with 413.
#[test]
fn a_document_over_8_kb_is_413() {
    let mut s = Shadow::new();
    let replies = s.update(json!({"state": {"reported": {"blob": "x".repeat(4000)}}}));
    Shadow::only(&replies, "/update/accepted");
    let replies = s.update(json!({"state": {"desired": {"blob": "y".repeat(4300)}}}));
    assert_eq!(
        Shadow::only(&replies, "/update/rejected")["code"],
        json!(413)
    );
}

/// "Note that deleting a shadow does not reset its version number to 0", and delete of a
/// missing shadow is 404.
#[test]
fn delete_answers_with_the_version_and_a_new_shadow_continues_it() {
    let mut s = Shadow::new();
    s.update(json!({"state": {"reported": {"on": true}}}));
    s.update(json!({"state": {"reported": {"on": false}}}));
    let replies = s.request("$aws/things/lamp/shadow/delete", r#"{"clientToken":"x"}"#);
    assert_eq!(
        Shadow::only(&replies, "/delete/accepted"),
        json!({"version": 2, "timestamp": 1_591_140_517, "clientToken": "x"})
    );
    let again = s.request("$aws/things/lamp/shadow/delete", "");
    assert_eq!(Shadow::only(&again, "/delete/rejected")["code"], json!(404));
    let replies = s.update(json!({"state": {"reported": {"on": true}}}));
    assert_eq!(
        Shadow::only(&replies, "/update/accepted")["version"],
        json!(3)
    );
}

/// The standard profile has no shadow service: a publish to the topic is just a message.
#[test]
fn the_standard_profile_does_not_answer() {
    let mut sim = Sim::standard();
    let conn = sim.connect("app", true);
    sim.subscribe(conn, &[("$aws/things/lamp/shadow/#", QoS::AtMostOnce)]);
    sim.publish(
        conn,
        "$aws/things/lamp/shadow/get",
        "",
        QoS::AtMostOnce,
        false,
        0,
    );
    assert_eq!(
        received_topics(&mut sim, conn),
        ["$aws/things/lamp/shadow/get"]
    );
}

/// A PUBLISH of raw bytes, for payloads that are not text.
fn publish_bytes(topic: &str, payload: &[u8]) -> Publish {
    let mut p = publish(topic, "", QoS::AtMostOnce, false, 0);
    p.payload = bytes::Bytes::copy_from_slice(payload);
    p
}

/// Six levels, counting `desired`, are within the limit.
#[test]
fn six_levels_of_nesting_are_accepted() {
    let mut s = Shadow::new();
    let replies =
        s.update(json!({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}}));
    Shadow::only(&replies, "/update/accepted");
}

/// The answer to a request (`get/accepted`, `*/rejected`) reaches only the client that
/// asked; a state change (`update/accepted`, `update/documents`) reaches every subscriber.
/// With `shadow_replies_to_requester` off, every reply reaches every subscriber.
#[test]
fn answers_go_to_the_requester_and_state_changes_to_every_subscriber() {
    for to_requester in [true, false] {
        let mut sim = aws_sim(|r| r.shadow_replies_to_requester = to_requester);
        sim.advance(T0_MS);
        let (asker, other) = (sim.connect("asker", true), sim.connect("other", true));
        for conn in [asker, other] {
            sim.subscribe(conn, &[("$aws/things/lamp/shadow/get/+", QoS::AtLeastOnce)]);
            sim.subscribe(
                conn,
                &[("$aws/things/lamp/shadow/update/+", QoS::AtLeastOnce)],
            );
        }
        let names = |sim: &mut Sim, conn| -> Vec<String> {
            sim.publishes(conn)
                .iter()
                .map(|p| {
                    p.topic
                        .as_str()
                        .rsplit_once("shadow/")
                        .map_or("", |t| t.1)
                        .to_owned()
                })
                .collect()
        };
        sim.publish(
            asker,
            "$aws/things/lamp/shadow/get",
            "",
            QoS::AtMostOnce,
            false,
            0,
        );
        assert_eq!(names(&mut sim, asker), ["get/rejected"]);
        let seen: &[&str] = if to_requester { &[] } else { &["get/rejected"] };
        assert_eq!(names(&mut sim, other), seen, "to_requester {to_requester}");
        let update = r#"{"state":{"reported":{"on":true}}}"#;
        sim.publish(
            asker,
            "$aws/things/lamp/shadow/update",
            update,
            QoS::AtMostOnce,
            false,
            0,
        );
        for conn in [asker, other] {
            assert_eq!(
                names(&mut sim, conn),
                ["update/accepted", "update/documents"],
                "to_requester {to_requester}"
            );
        }
    }
}

/// Policies apply to the shadow topics as to any topic: the request needs iot:Publish on
/// it, and each reply reaches a subscriber only with iot:Receive on its topic (the
/// actions AWS's shadow pages show in their example policies).
#[test]
fn policies_apply_to_shadow_topics() {
    use broker_core::policy::{PolicyDocument, PolicySet};
    const ARN: &str = "arn:aws:iot:us-east-1:123456789012";
    let json = format!(
        r#"{{"Statement":[
            {{"Effect":"Allow","Action":"iot:*","Resource":"*"}},
            {{"Effect":"Deny","Action":"iot:Receive",
              "Resource":"{ARN}:topic/$aws/things/lamp/shadow/update/documents"}},
            {{"Effect":"Deny","Action":"iot:Publish",
              "Resource":"{ARN}:topic/$aws/things/safe/shadow/update"}}]}}"#
    );
    let mut set = PolicySet::default();
    set.attach_default(PolicyDocument::parse("p", &json).expect("valid"));
    let mut config = Config::for_profile(Profile::AwsIot);
    config.policies = Some(set);
    let mut sim = Sim::new(config);
    sim.advance(T0_MS);
    let mut c = connect("app", true);
    c.keep_alive = 60;
    let (conn, _) = sim.connect_with(c);
    sim.subscribe(conn, &[("$aws/things/+/shadow/update/+", QoS::AtLeastOnce)]);
    let update = r#"{"state":{"reported":{"on":true}}}"#;
    sim.publish(
        conn,
        "$aws/things/lamp/shadow/update",
        update,
        QoS::AtLeastOnce,
        false,
        1,
    );
    assert_eq!(
        received_topics(&mut sim, conn),
        ["$aws/things/lamp/shadow/update/accepted"]
    );
    // A denied publish closes the connection under aws-iot, and the shadow is not made.
    sim.publish(
        conn,
        "$aws/things/safe/shadow/update",
        update,
        QoS::AtLeastOnce,
        false,
        2,
    );
    assert_eq!(sim.closed(conn), Some(&CloseReason::AuthError));
    let mut c = connect("app2", true);
    c.keep_alive = 60;
    let (conn, _) = sim.connect_with(c);
    sim.subscribe(conn, &[("$aws/things/safe/shadow/get/+", QoS::AtLeastOnce)]);
    sim.publish(
        conn,
        "$aws/things/safe/shadow/get",
        "",
        QoS::AtMostOnce,
        false,
        0,
    );
    assert_eq!(
        received_topics(&mut sim, conn),
        ["$aws/things/safe/shadow/get/rejected"]
    );
}

//! The policy matcher, table-driven, on examples in the style of AWS IoT's documentation:
//! wildcards, policy variables, literal `+` and `#`, and Deny beating Allow.

use broker_core::policy::{Action, PolicyDocument, PolicySet, Variables};

const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

fn set(json: &str) -> PolicySet {
    let mut set = PolicySet::default();
    set.attach_default(PolicyDocument::parse("test", json).expect("valid policy"));
    set
}

fn allowed(set: &PolicySet, action: Action, name: &str, client_id: &str) -> bool {
    let vars = Variables {
        client_id: Some(client_id),
        common_name: Some("device-cert"),
    };
    set.evaluate(None, action, name, &vars).allowed
}

#[test]
fn the_documented_examples_decide_as_aws_does() {
    let connect_own_id = set(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}:client/${{iot:ClientId}}"}}]}}"#
    ));
    let thing_topics = set(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{ARN}:topic/things/${{iot:Connection.Thing.ThingName}}/*"}},
            {{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}:topicfilter/things/${{iot:Connection.Thing.ThingName}}/*"}}]}}"#
    ));
    let literal_wildcards = set(&format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"iot:Subscribe","Resource":["{ARN}:topicfilter/sensors/+/temperature","{ARN}:topicfilter/alerts/#"]}}}}"#
    ));
    let question_mark = set(&format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}:topic/room?"}}}}"#
    ));
    let cases: &[(&PolicySet, Action, &str, &str, bool)] = &[
        (&connect_own_id, Action::Connect, "dev-1", "dev-1", true),
        (&connect_own_id, Action::Connect, "dev-2", "dev-1", false),
        (&connect_own_id, Action::Publish, "anything", "dev-1", false),
        (
            &thing_topics,
            Action::Publish,
            "things/dev-1/telemetry",
            "dev-1",
            true,
        ),
        (
            &thing_topics,
            Action::Publish,
            "things/dev-1/a/b/c",
            "dev-1",
            true,
        ),
        (
            &thing_topics,
            Action::Publish,
            "things/dev-2/telemetry",
            "dev-1",
            false,
        ),
        (
            &thing_topics,
            Action::Receive,
            "things/dev-1/cmd",
            "dev-1",
            true,
        ),
        (
            &thing_topics,
            Action::Subscribe,
            "things/dev-1/#",
            "dev-1",
            true,
        ),
        (
            &thing_topics,
            Action::Subscribe,
            "things/+/cmd",
            "dev-1",
            false,
        ),
        (
            &literal_wildcards,
            Action::Subscribe,
            "sensors/+/temperature",
            "d",
            true,
        ),
        (
            &literal_wildcards,
            Action::Subscribe,
            "sensors/kitchen/temperature",
            "d",
            false,
        ),
        (&literal_wildcards, Action::Subscribe, "alerts/#", "d", true),
        (
            &literal_wildcards,
            Action::Subscribe,
            "alerts/fire",
            "d",
            false,
        ),
        (&question_mark, Action::Publish, "room1", "d", true),
        (&question_mark, Action::Publish, "room12", "d", false),
    ];
    for (set, action, name, client, want) in cases {
        assert_eq!(
            allowed(set, action.clone(), name, client),
            *want,
            "{action:?} {name} as {client}"
        );
    }
}

#[test]
fn an_explicit_deny_beats_any_allow() {
    let set = set(&format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"iot:*","Resource":"*"}},
            {{"Effect":"Deny","Action":"iot:Subscribe","Resource":"{ARN}:topicfilter/test/nosubscribe"}}]}}"#
    ));
    let vars = Variables {
        client_id: Some("c"),
        common_name: None,
    };
    let denied = set.evaluate(None, Action::Subscribe, "test/nosubscribe", &vars);
    assert!(!denied.allowed);
    let statement = denied.statement.expect("the deny statement is named");
    assert_eq!((statement.policy.as_str(), statement.index), ("test", 1));
    assert!(
        set.evaluate(None, Action::Subscribe, "test/other", &vars)
            .allowed
    );
}

#[test]
fn nothing_matching_means_default_deny_with_no_statement() {
    let set = set(r#"{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}"#);
    let decision = set.evaluate(None, Action::Publish, "t", &Variables::default());
    assert!(!decision.allowed);
    assert_eq!(decision.statement, None);
    assert_eq!(decision.resource, format!("{ARN}:topic/t"));
}

#[test]
fn policies_attach_to_principals_on_top_of_the_default() {
    let mut set = PolicySet::default();
    set.attach_default(
        PolicyDocument::parse(
            "base",
            r#"{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}"#,
        )
        .expect("valid"),
    );
    set.attach(
        "alice",
        PolicyDocument::parse(
            "alice",
            r#"{"Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}}"#,
        )
        .expect("valid"),
    );
    let vars = Variables::default();
    assert!(
        set.evaluate(Some("alice"), Action::Publish, "t", &vars)
            .allowed
    );
    assert!(
        !set.evaluate(Some("bob"), Action::Publish, "t", &vars)
            .allowed
    );
    assert!(
        set.evaluate(Some("bob"), Action::Connect, "bob", &vars)
            .allowed
    );
}

#[test]
fn certificate_common_name_variable_needs_a_certificate() {
    let set = set(&format!(
        r#"{{"Statement":{{"Effect":"Allow","Action":"iot:Publish","Resource":"{ARN}:topic/${{iot:Certificate.Subject.CommonName}}/*"}}}}"#
    ));
    let with_cert = Variables {
        client_id: Some("c"),
        common_name: Some("sensor-7"),
    };
    assert!(
        set.evaluate(None, Action::Publish, "sensor-7/t", &with_cert)
            .allowed
    );
    let without = Variables {
        client_id: Some("c"),
        common_name: None,
    };
    assert!(
        !set.evaluate(None, Action::Publish, "sensor-7/t", &without)
            .allowed
    );
}

#[test]
fn action_names_match_without_regard_to_case_and_with_wildcards() {
    let set = set(
        r#"{"Statement":{"Effect":"Allow","Action":["IOT:publish","iot:Sub*"],"Resource":"*"}}"#,
    );
    assert!(allowed(&set, Action::Publish, "t", "c"));
    assert!(allowed(&set, Action::Subscribe, "t", "c"));
    assert!(!allowed(&set, Action::Receive, "t", "c"));
}

//! AWS IoT policies and user names through the real server, with rumqttc as the client:
//! `--policy`, the `[policy]` section of `--config`, `--users`, and mutual-TLS principals.
//! What each profile does with a denial is broker-core's (tests/policy_enforcement.rs);
//! these tests show that the server loads what it is given and that the answers reach a
//! real client on the wire.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{anyhow, bail, Context, Result};
use brokerlab_tests::mqtt::{options, Client, Via};
use brokerlab_tests::pki::Pki;
use brokerlab_tests::server::{connection_log, Server};
use brokerlab_tests::{http, TIMEOUT};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, MqttOptions, Packet, QoS, SubscribeFilter,
    SubscribeReasonCode,
};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

/// The ARN prefix of `PolicySet::default()`, which the server uses without `[policy]`.
const ARN: &str = "arn:aws:iot:us-east-1:123456789012";

/// Files for one test in a folder of their own, removed when dropped.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new() -> Result<Files> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "brokerlab-policies-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {dir:?}"))?;
        Ok(Files { dir })
    }

    /// Writes `name` and returns its full path, as a command-line argument.
    fn write(&self, name: &str, text: &str) -> Result<String> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {path:?}"))?;
        path.to_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{path:?} is not UTF-8"))
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A policy that allows everything except the `(action, resource)` pairs of `deny`, each
/// resource written after the ARN prefix (`topicfilter/test/nosubscribe`).
fn allow_all_but(deny: &[(&str, &str)]) -> String {
    let mut statements = vec![r#"{"Effect":"Allow","Action":"iot:*","Resource":"*"}"#.to_owned()];
    for (action, resource) in deny {
        statements.push(format!(
            r#"{{"Effect":"Deny","Action":"{action}","Resource":"{ARN}:{resource}"}}"#
        ));
    }
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[\n{}\n]}}\n",
        statements.join(",\n")
    )
}

/// Connects with `options` and returns the code of the CONNACK that refused it. rumqttc
/// reports a refusal as the first poll's error, before any event.
async fn refusal(options: MqttOptions) -> Result<ConnectReturnCode> {
    let (_client, mut event_loop) = AsyncClient::new(options, 8);
    let first = tokio::time::timeout(TIMEOUT, event_loop.poll())
        .await
        .map_err(|_| anyhow!("no CONNACK within {TIMEOUT:?}"))?;
    match first {
        Err(ConnectionError::ConnectionRefused(code)) => Ok(code),
        other => bail!("expected a refusing CONNACK, got {other:?}"),
    }
}

/// The return codes of the next SUBACK.
async fn suback_codes(client: &mut Client) -> Result<Vec<SubscribeReasonCode>> {
    match client
        .expect(|packet| matches!(packet, Packet::SubAck(_)))
        .await?
    {
        Packet::SubAck(ack) => Ok(ack.return_codes),
        other => bail!("expected SUBACK, got {other:?}"),
    }
}

/// A log-line matcher for the server's `policy denied` line about `client_id`'s `action`.
fn denial<'a>(client_id: &'a str, action: &'a str) -> impl Fn(&str) -> bool + 'a {
    move |line: &str| {
        connection_log("policy denied", client_id)(line)
            && line.contains(&format!("action=\"{action}\""))
    }
}

#[tokio::test]
async fn aws_iot_closes_a_connection_whose_subscription_is_denied() -> Result<()> {
    let files = Files::new()?;
    let policy = files.write(
        "no-secrets.json",
        &allow_all_but(&[("iot:Subscribe", "topicfilter/secrets/#")]),
    )?;
    let server = Server::start(BIN, &["--policy", &policy]).await?;
    let via = Via::Tcp(server.mqtt);

    let (mut watcher, _) = Client::connect(options("watcher", &via)).await?;
    watcher
        .client
        .subscribe("$aws/events/presence/disconnected/+", QoS::AtMostOnce)
        .await?;
    watcher.expect_suback().await?;

    let (mut device, _) = Client::connect(options("snoop", &via)).await?;
    device
        .client
        .subscribe("public/#", QoS::AtLeastOnce)
        .await?;
    assert_eq!(
        suback_codes(&mut device).await?,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    device
        .client
        .subscribe("secrets/#", QoS::AtLeastOnce)
        .await?;
    device.expect_closed().await?;

    // The lifecycle event AWS publishes says why: AUTH_ERROR.
    let event = watcher.expect_publish().await?;
    assert_eq!(event.topic, "$aws/events/presence/disconnected/snoop");
    let body: serde_json::Value = serde_json::from_slice(&event.payload)?;
    assert_eq!(body["disconnectReason"], "AUTH_ERROR");

    // So do the log and the metrics.
    let line = server
        .wait_for_log(denial("snoop", "iot:Subscribe"))
        .await?;
    assert!(
        line.contains(&format!("resource=\"{ARN}:topicfilter/secrets/#\"")),
        "{line}"
    );
    let metrics = http::get(server.http, "/metrics").await?.body;
    for sample in [
        "brokerlab_policy_decisions_total{action=\"iot:Subscribe\",result=\"deny\"} 1\n",
        "brokerlab_disconnects_total{reason=\"AuthError\"} 1\n",
    ] {
        assert!(metrics.contains(sample), "no {sample} in\n{metrics}");
    }
    Ok(())
}

#[tokio::test]
async fn paho_subscribe_failure_gets_suback_0x80_under_the_standard() -> Result<()> {
    // Eclipse Paho's interoperability test "subscribe failure": the server refuses
    // `test/nosubscribe`, the client gets SUBACK 0x80, and the connection stays up.
    let files = Files::new()?;
    let policy = files.write(
        "paho.json",
        &allow_all_but(&[("iot:Subscribe", "topicfilter/test/nosubscribe")]),
    )?;
    let server = Server::start(BIN, &["--profile", "mqtt-3.1.1", "--policy", &policy]).await?;
    let (mut client, _) = Client::connect(options("myclientid", &Via::Tcp(server.mqtt))).await?;

    client
        .client
        .subscribe("test/nosubscribe", QoS::ExactlyOnce)
        .await?;
    assert_eq!(
        suback_codes(&mut client).await?,
        [SubscribeReasonCode::Failure]
    );

    // Only the denied filter fails: the other one of the same SUBSCRIBE is granted.
    client
        .client
        .subscribe_many([
            SubscribeFilter::new("test/nosubscribe".into(), QoS::AtLeastOnce),
            SubscribeFilter::new("TopicA".into(), QoS::AtLeastOnce),
        ])
        .await?;
    assert_eq!(
        suback_codes(&mut client).await?,
        [
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Success(QoS::AtLeastOnce)
        ]
    );

    // The connection is still open: a message goes round through the granted filter.
    client
        .client
        .publish("TopicA", QoS::AtLeastOnce, false, "still here")
        .await?;
    assert_eq!(&client.expect_publish().await?.payload[..], b"still here");
    Ok(())
}

#[tokio::test]
async fn a_denied_connect_gets_connack_0x05_under_the_standard() -> Result<()> {
    let files = Files::new()?;
    let policy = files.write(
        "no-blocked.json",
        &allow_all_but(&[("iot:Connect", "client/blocked-*")]),
    )?;
    let server = Server::start(BIN, &["--profile", "mqtt-3.1.1", "--policy", &policy]).await?;
    let via = Via::Tcp(server.mqtt);

    let code = refusal(options("blocked-1", &via)).await?;
    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    server
        .wait_for_log(denial("blocked-1", "iot:Connect"))
        .await?;

    let (_fine, ack) = Client::connect(options("fine-1", &via)).await?;
    assert_eq!(ack.code, ConnectReturnCode::Success);
    Ok(())
}

#[tokio::test]
async fn a_certificate_common_name_scopes_a_device_to_its_own_topics() -> Result<()> {
    let pki = Pki::generate("sensor-7")?;
    let files = Files::new()?;
    // Attached to every device: each may connect only with its certificate's name as
    // client id, and use only the topics under that name.
    let cn = "${iot:Certificate.Subject.CommonName}";
    let device = files.write(
        "device.json",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
  {{"Effect":"Allow","Action":"iot:Connect","Resource":"{ARN}:client/{cn}"}},
  {{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{ARN}:topic/devices/{cn}/*"}},
  {{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}:topicfilter/devices/{cn}/*"}}
]}}"#
        ),
    )?;
    // Attached to sensor-7 alone, through `[policy.principals]`.
    files.write(
        "fleet.json",
        &format!(
            r#"{{"Statement":[
  {{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{ARN}:topic/fleet/status"}},
  {{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{ARN}:topicfilter/fleet/status"}}
]}}"#
        ),
    )?;
    let config = files.write(
        "brokerlab.toml",
        "[policy.principals]\n\"sensor-7\" = [\"fleet.json\"]\n",
    )?;
    let mut args = pki.mutual_tls_args();
    args.extend(["--policy".to_owned(), device, "--config".to_owned(), config]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(BIN, &args).await?;
    let mqtts = server
        .mqtts
        .ok_or_else(|| anyhow!("the listening line has no mqtts address"))?;
    let tls = Via::Tls(mqtts, pki.client_config(true)?);

    let (mut sensor, _) = Client::connect(options("sensor-7", &tls)).await?;
    sensor
        .client
        .subscribe("devices/sensor-7/#", QoS::AtLeastOnce)
        .await?;
    assert_eq!(
        suback_codes(&mut sensor).await?,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    sensor
        .client
        .publish(
            "devices/sensor-7/telemetry",
            QoS::AtLeastOnce,
            false,
            "21.5",
        )
        .await?;
    let own = sensor.expect_publish().await?;
    assert_eq!(
        (own.topic.as_str(), &own.payload[..]),
        ("devices/sensor-7/telemetry", &b"21.5"[..])
    );

    // The policy attached to the common name adds the fleet topic.
    sensor
        .client
        .subscribe("fleet/status", QoS::AtLeastOnce)
        .await?;
    assert_eq!(
        suback_codes(&mut sensor).await?,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    sensor
        .client
        .publish("fleet/status", QoS::AtLeastOnce, false, "ok")
        .await?;
    assert_eq!(sensor.expect_publish().await?.topic, "fleet/status");

    // Another device's topic is outside the policy: aws-iot closes the connection.
    sensor
        .client
        .publish(
            "devices/sensor-8/telemetry",
            QoS::AtLeastOnce,
            false,
            "spoof",
        )
        .await?;
    sensor.expect_closed().await?;
    let line = server
        .wait_for_log(denial("sensor-7", "iot:Publish"))
        .await?;
    assert!(line.contains("topic/devices/sensor-8/telemetry"), "{line}");

    // The certificate pins the client id: sensor-7's certificate cannot connect as
    // another id.
    if Client::connect(options("sensor-8", &tls)).await.is_ok() {
        bail!("sensor-7's certificate connected as sensor-8");
    }
    server
        .wait_for_log(denial("sensor-8", "iot:Connect"))
        .await?;

    // Without a certificate the variable has no value, so nothing allows the connect.
    if Client::connect(options("sensor-7-plain", &Via::Tcp(server.mqtt)))
        .await
        .is_ok()
    {
        bail!("a client without a certificate was allowed to connect");
    }
    server
        .wait_for_log(denial("sensor-7-plain", "iot:Connect"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn users_must_give_their_password_under_the_standard() -> Result<()> {
    let files = Files::new()?;
    let users = files.write("users.txt", "# test users\nalice:secret\n\nbob:hunter2\n")?;
    let server = Server::start(BIN, &["--profile", "mqtt-3.1.1", "--users", &users]).await?;
    let via = Via::Tcp(server.mqtt);

    let mut right = options("alice-1", &via);
    right.set_credentials("alice", "secret");
    let (_alice, ack) = Client::connect(right).await?;
    assert_eq!(ack.code, ConnectReturnCode::Success);

    let mut wrong = options("alice-2", &via);
    wrong.set_credentials("alice", "hunter2");
    assert_eq!(
        refusal(wrong).await?,
        ConnectReturnCode::BadUserNamePassword
    );

    assert_eq!(
        refusal(options("anonymous", &via)).await?,
        ConnectReturnCode::BadUserNamePassword
    );
    Ok(())
}

/// Runs `brokerlab serve` with `args`, expecting it to refuse to start, and returns its
/// standard error.
async fn failed_start(args: &[&str]) -> Result<String> {
    let child = tokio::process::Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("the server did not exit within {TIMEOUT:?}"))??;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        bail!("the server exited successfully: {stderr}");
    }
    Ok(stderr)
}

#[tokio::test]
async fn a_malformed_policy_or_users_file_stops_the_server() -> Result<()> {
    let files = Files::new()?;
    let policy = files.write(
        "typo.json",
        "{\n  \"Statement\": [\n    { \"Effect\": \"Alow\", \"Action\": \"iot:*\", \"Resource\": \"*\" }\n  ]\n}\n",
    )?;
    let stderr = failed_start(&["--policy", &policy]).await?;
    assert!(stderr.contains(&policy), "{stderr}");
    assert!(stderr.contains("line 3, column"), "{stderr}");
    assert!(stderr.contains("unknown variant `Alow`"), "{stderr}");

    let users = files.write("users.txt", "alice:secret\n# ok so far\nbob\n")?;
    let stderr = failed_start(&["--users", &users]).await?;
    assert!(stderr.contains(&users), "{stderr}");
    assert!(
        stderr.contains("line 3: expected `username:password`"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn the_config_file_attaches_policies_to_user_names() -> Result<()> {
    let files = Files::new()?;
    // The ARNs use the section's region and account: with the defaults nothing would match.
    let arn = "arn:aws:iot:eu-west-1:111122223333";
    files.write(
        "connect.json",
        &format!(r#"{{"Statement":{{"Effect":"Allow","Action":"iot:Connect","Resource":"{arn}:client/*"}}}}"#),
    )?;
    files.write(
        "alice.json",
        &format!(
            r#"{{"Statement":[
  {{"Effect":"Allow","Action":"iot:Subscribe","Resource":"{arn}:topicfilter/inbox/alice"}},
  {{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"{arn}:topic/inbox/alice"}}
]}}"#
        ),
    )?;
    files.write("users.txt", "alice:secret\nbob:hunter2\n")?;
    // Every file name is relative to the configuration file, not to the test's directory.
    let config = files.write(
        "brokerlab.toml",
        r#"profile = "mqtt-3.1.1"
users = "users.txt"

[policy]
region = "eu-west-1"
account = "111122223333"
default = ["connect.json"]

[policy.principals]
alice = ["alice.json"]
"#,
    )?;
    let server = Server::start(BIN, &["--config", &config]).await?;
    let via = Via::Tcp(server.mqtt);

    let mut as_alice = options("alice-phone", &via);
    as_alice.set_credentials("alice", "secret");
    let (mut alice, _) = Client::connect(as_alice).await?;
    alice
        .client
        .subscribe("inbox/alice", QoS::AtLeastOnce)
        .await?;
    assert_eq!(
        suback_codes(&mut alice).await?,
        [SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );

    let mut as_bob = options("bob-phone", &via);
    as_bob.set_credentials("bob", "hunter2");
    let (mut bob, _) = Client::connect(as_bob).await?;
    bob.client
        .subscribe("inbox/alice", QoS::AtLeastOnce)
        .await?;
    assert_eq!(
        suback_codes(&mut bob).await?,
        [SubscribeReasonCode::Failure]
    );

    // Bob's publish is dropped but acknowledged, as 3.1.1 requires. Alice's own message,
    // sent after that acknowledgement, is the first one she receives.
    bob.client
        .publish("inbox/alice", QoS::AtLeastOnce, false, "from bob")
        .await?;
    bob.expect(|packet| matches!(packet, Packet::PubAck(_)))
        .await?;
    alice
        .client
        .publish("inbox/alice", QoS::AtLeastOnce, false, "from alice")
        .await?;
    assert_eq!(&alice.expect_publish().await?.payload[..], b"from alice");
    Ok(())
}

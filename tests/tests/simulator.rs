//! The browser simulator end to end: the real `brokerlab serve`, with the web bundle
//! embedded, driven in headless Chromium through chromedriver, using only the page's
//! `data-testid` contract.
//!
//! These tests need what a plain `cargo test` does not build: a release server with the
//! bundle (`cargo xtask dist`), Chromium and chromedriver. `cargo xtask test` provides all
//! three and runs them with `--ignored`, naming the server in `BROKERLAB_BIN`. Screenshots
//! go to `target/e2e/`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use brokerlab_tests::server::Server;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long the page may take to show something a test waits for. Virtual time runs at
/// real speed, and every exchange in these tests takes well under a second of it.
const WAIT: Duration = Duration::from_secs(15);

/// Chromedriver on a free loopback port, stopped when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Result<Self> {
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        // Its own process group, so that dropping it can end the Chromium it starts too:
        // killing chromedriver alone leaves the browser running, orphaned, on a CI machine.
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let driver = Chromedriver { child, port };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            if Instant::now() > deadline {
                bail!("chromedriver did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // Best effort: the processes may already have exited. The negative id names the
        // whole group: chromedriver and every browser process it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page, in a headless Chromium of its own.
struct Page {
    client: Client,
    url: String,
    shots: PathBuf,
}

impl Page {
    async fn open(driver: &Chromedriver, server: &Server) -> Result<Self> {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1600,1000",
        ];
        let mut options = json!({ "args": args });
        if let Ok(binary) = std::env::var("CHROMIUM") {
            options["binary"] = json!(binary);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .context("cannot open a browser session")?;
        // xtask names the folder inside the target directory in use; run by hand, the
        // test falls back to the workspace's own target folder.
        let shots = std::env::var_os("BROKERLAB_E2E_SHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e"));
        std::fs::create_dir_all(&shots)?;
        let page = Page {
            client,
            url: format!("http://{}/", server.http),
            shots,
        };
        page.reload().await?;
        Ok(page)
    }

    /// A fresh simulator: the page loaded again, with nothing in the URL.
    async fn reload(&self) -> Result<()> {
        self.client.goto("about:blank").await?;
        self.client.goto(&self.url).await?;
        self.wait_for("[data-testid=profile]").await?;
        Ok(())
    }

    async fn wait_for(&self, css: &str) -> Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = self
                .client
                .find_all(Locator::Css(css))
                .await?
                .into_iter()
                .next()
            {
                return Ok(found);
            }
            if Instant::now() > deadline {
                self.screenshot("failure").await?;
                bail!("nothing matches `{css}` after {WAIT:?} (see target/e2e/failure.png)");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) -> Result<()> {
        self.wait_for(css).await?.click().await?;
        Ok(())
    }

    async fn set_profile(&self, profile: &str) -> Result<()> {
        let select = self.wait_for("select[data-testid=profile]").await?;
        select
            .select_by_value(profile)
            .await
            .with_context(|| format!("cannot select the profile {profile}"))?;
        Ok(())
    }

    /// Spawns a device; it connects by itself. Returns the CSS that finds its card once
    /// connected (the newest card with that id, when several share it).
    async fn spawn(&self, client_id: &str) -> Result<()> {
        let input = self.wait_for("[data-testid=new-client-id]").await?;
        input.clear().await.context("cannot clear new-client-id")?;
        input
            .send_keys(client_id)
            .await
            .context("cannot type into new-client-id")?;
        self.click("[data-testid=spawn-device]")
            .await
            .context("cannot click spawn-device")?;
        Ok(())
    }

    /// Spawns a device that speaks MQTT 5.0, chosen in the spawn form.
    async fn spawn_v5(&self, client_id: &str) -> Result<()> {
        self.wait_for("select[data-testid=new-version]")
            .await?
            .select_by_value("5.0")
            .await
            .context("cannot choose MQTT 5.0")?;
        self.spawn(client_id).await
    }

    /// The card of device number `n` (in spawn order), once it is in `state`.
    async fn device(&self, n: u32, state: &str) -> Result<Element> {
        self.wait_for(&format!(
            "[data-testid=device][data-device='{n}'][data-state={state}]"
        ))
        .await
    }

    async fn subscribe(&self, n: u32, filter: &str, qos: u8) -> Result<()> {
        let card = self.device(n, "connected").await?;
        let input = card
            .find(Locator::Css("[data-testid=subscribe-filter]"))
            .await?;
        input.clear().await?;
        input.send_keys(filter).await?;
        card.find(Locator::Css("[data-testid=subscribe-qos]"))
            .await?
            .select_by_value(&qos.to_string())
            .await?;
        card.find(Locator::Css("[data-testid=subscribe]"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    async fn publish(
        &self,
        n: u32,
        topic: &str,
        payload: &str,
        qos: u8,
        retain: bool,
    ) -> Result<()> {
        let card = self.device(n, "connected").await?;
        for (testid, text) in [("publish-topic", topic), ("publish-payload", payload)] {
            let input = card
                .find(Locator::Css(&format!("[data-testid={testid}]")))
                .await?;
            input.clear().await?;
            input.send_keys(text).await?;
        }
        card.find(Locator::Css("[data-testid=publish-qos]"))
            .await?
            .select_by_value(&qos.to_string())
            .await?;
        let checkbox = card
            .find(Locator::Css("[data-testid=publish-retain]"))
            .await?;
        if checkbox.is_selected().await? != retain {
            checkbox.click().await?;
        }
        card.find(Locator::Css("[data-testid=publish]"))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Waits until device `n`'s inbox holds a message whose text contains `payload`.
    async fn received(&self, n: u32, payload: &str) -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            let css = format!(
                "[data-testid=device][data-device='{n}'] [data-testid=inbox] [data-testid=message]"
            );
            for message in self.client.find_all(Locator::Css(&css)).await? {
                if message.text().await?.contains(payload) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                self.screenshot("failure").await?;
                bail!("device {n} did not receive {payload:?} within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Scrolls the diagram to its first kept row: only rows in view are in the page, so a
    /// test looking for an older packet scrolls back first, as a learner would.
    async fn scroll_timeline_to_top(&self) -> Result<()> {
        self.wait_for("[data-testid=timeline]").await?;
        self.client
            .execute(
                "const t = document.querySelector('[data-testid=timeline]'); \
                 t.scrollTop = 0; t.dispatchEvent(new Event('scroll'));",
                vec![],
            )
            .await?;
        Ok(())
    }

    async fn screenshot(&self, name: &str) -> Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(self.shots.join(format!("{name}.png")), png)?;
        Ok(())
    }
}

fn server_binary() -> Result<String> {
    std::env::var("BROKERLAB_BIN").map_err(|_| {
        anyhow!("BROKERLAB_BIN must name a brokerlab built with the web bundle (cargo xtask dist)")
    })
}

#[tokio::test]
async fn e2e_simulator_in_headless_chromium() -> Result<()> {
    let server = Server::start(&server_binary()?, &[]).await?;
    let driver = Chromedriver::start()?;
    let page = Page::open(&driver, &server).await?;
    let outcome = story(&page).await;
    if outcome.is_err() {
        // Best effort: the failure itself is what matters.
        let _ = page.screenshot("failure").await;
    }
    page.client.close().await?;
    outcome
}

async fn story(page: &Page) -> Result<()> {
    // aws-iot: two devices, a subscription, a message, and the packet inspector.
    page.set_profile("aws-iot").await?;
    page.spawn("alice").await?;
    page.spawn("bob").await?;
    page.device(0, "connected").await?;
    page.device(1, "connected").await?;
    page.subscribe(0, "lab/#", 1).await?;
    page.wait_for("[data-testid=timeline] [data-testid=packet][data-kind=SUBACK][data-to=alice]")
        .await?;
    page.publish(1, "lab/kitchen", "hello from bob", 1, false)
        .await?;
    page.received(0, "hello from bob").await?;
    page.wait_for("[data-testid=packet][data-kind=PUBACK][data-from=alice][data-to=broker]")
        .await?;
    page.click("[data-testid=packet][data-kind=PUBLISH][data-from=bob]")
        .await?;
    let inspector = page
        .wait_for("[data-testid=inspector][data-kind=PUBLISH]")
        .await?;
    let fields = inspector.text().await?;
    for field in ["topic name", "packet id", "payload"] {
        if !fields.contains(field) {
            bail!("the inspector does not name the field {field:?}: {fields}");
        }
    }
    page.screenshot("inspector").await?;

    // D2: a QoS 2 subscription gets no SUBACK.
    page.subscribe(0, "lab/exact", 2).await?;
    page.wait_for("[data-testid=rule][data-rule=D2]").await?;
    // D5: a retained PUBLISH closes the publisher's connection.
    page.publish(1, "lab/status", "kept?", 0, true).await?;
    page.wait_for("[data-testid=rule][data-rule=D5]").await?;
    page.device(1, "disconnected").await?;
    // D6: a second device with alice's client id takes over.
    page.spawn("alice").await?;
    page.wait_for("[data-testid=rule][data-rule=D6]").await?;
    page.device(2, "connected").await?;
    page.device(0, "disconnected").await?;
    page.screenshot("aws-iot").await?;
    // Only the rows in view are drawn: alice's first CONNECT has left the page, and
    // scrolling back brings it, clickable, into the inspector.
    let kept: usize = page
        .wait_for("[data-testid=timeline]")
        .await?
        .attr("data-rows")
        .await?
        .unwrap_or_default()
        .parse()?;
    let drawn = page
        .client
        .find_all(Locator::Css("[data-testid=timeline] .trow"))
        .await?
        .len();
    if drawn >= kept {
        bail!("all {kept} rows are drawn: the diagram is not windowed");
    }
    page.scroll_timeline_to_top().await?;
    page.click("[data-testid=packet][data-kind=CONNECT][data-from=alice]")
        .await?;
    page.wait_for("[data-testid=inspector][data-kind=CONNECT]")
        .await?;

    // mqtt-3.1.1: the retained message is stored and reaches a late subscriber.
    page.reload().await?;
    page.set_profile("mqtt").await?;
    page.spawn("thermostat").await?;
    page.publish(0, "lab/status", "online", 1, true).await?;
    page.wait_for("[data-testid=retained] [data-testid=retained-message][data-topic='lab/status']")
        .await?;
    page.spawn("late-joiner").await?;
    page.subscribe(1, "lab/status", 1).await?;
    page.received(1, "online").await?;
    let rules = page
        .client
        .find_all(Locator::Css("[data-testid=rule]"))
        .await?;
    if !rules.is_empty() {
        bail!("{} rules fired under mqtt-3.1.1", rules.len());
    }
    page.screenshot("mqtt-3.1.1").await?;

    // MQTT 5.0 devices: a Subscription Identifier set in the card's MQTT 5 options comes
    // back on the delivered message and in the inspector, and a takeover is explained
    // to the 5.0 device with DISCONNECT 0x8E on its arrow.
    page.reload().await?;
    page.set_profile("mqtt").await?;
    page.spawn_v5("boiler").await?;
    page.spawn_v5("panel").await?;
    let panel = page.device(1, "connected").await?;
    panel
        .find(Locator::Css("[data-testid=mqtt5-options] summary"))
        .await?
        .click()
        .await?;
    panel
        .find(Locator::Css("[data-testid=subscribe-id]"))
        .await?
        .send_keys("42")
        .await?;
    page.subscribe(1, "plant/#", 1).await?;
    page.wait_for("[data-testid=packet][data-kind=SUBACK][data-to=panel]")
        .await?;
    page.publish(0, "plant/boiler", "98 C", 1, false).await?;
    page.received(1, "98 C").await?;
    let properties = page
        .wait_for("[data-testid=device][data-device='1'] [data-testid=message-properties]")
        .await?
        .text()
        .await?;
    if !properties.contains("Subscription Identifier: 42") {
        bail!("the delivered message does not show its Subscription Identifier: {properties}");
    }
    page.click("[data-testid=packet][data-kind=PUBLISH][data-from=broker][data-to=panel]")
        .await?;
    let inspector = page
        .wait_for("[data-testid=inspector][data-kind=PUBLISH]")
        .await?
        .text()
        .await?;
    if !inspector.contains("Subscription Identifier") {
        bail!("the inspector does not name the Subscription Identifier: {inspector}");
    }
    page.spawn_v5("boiler").await?;
    let arrow = page
        .wait_for("[data-testid=packet][data-kind=DISCONNECT][data-to=boiler]")
        .await?
        .text()
        .await?;
    if !arrow.contains("0x8e") {
        bail!("the DISCONNECT arrow does not give Reason Code 0x8e: {arrow}");
    }
    page.screenshot("mqtt-5").await?;

    // A lesson, paused mid-way by the clock controls, then finished.
    page.reload().await?;
    page.click("[data-testid=lesson][data-lesson=qos1-redelivery] [data-testid=lesson-run]")
        .await?;
    page.wait_for("[data-testid=packet][data-kind=PUBLISH][data-to=forgetful]")
        .await?;
    page.click("[data-testid=pause]").await?;
    page.click("[data-testid=step]").await?;
    page.click("[data-testid=play]").await?;
    page.wait_for("[data-testid=lesson-explanation]").await?;
    page.received(0, "order 42").await?;
    page.screenshot("lesson").await?;

    // The Device Shadow lesson: the shadows table shows the lamp's shadow, in step at the
    // end (version 3, no delta).
    page.reload().await?;
    page.click("[data-testid=lesson][data-lesson=shadow-offline] [data-testid=lesson-run]")
        .await?;
    let shadow = page
        .wait_for("[data-testid=shadow][data-thing=lamp][data-version='3']")
        .await?;
    let delta = shadow
        .find(Locator::Css("[data-testid=shadow-delta]"))
        .await?
        .text()
        .await?;
    if !delta.trim().is_empty() {
        bail!("the lamp's shadow still shows a delta at the end: {delta}");
    }
    page.screenshot("shadow").await?;

    // Per-device identity: a document attached to one principal (a user name) applies to
    // the device that connects with it; its denial shows on the diagram, and a device
    // with no principal's document is denied its connection.
    page.reload().await?;
    page.set_profile("aws-iot").await?;
    let principal = page.wait_for("[data-testid=policy-principal]").await?;
    principal.send_keys("sensor-7").await?;
    let editor = page.wait_for("[data-testid=policy-editor]").await?;
    editor.clear().await?;
    editor.send_keys(SENSOR_POLICY).await?;
    page.click("[data-testid=policy-apply]").await?;
    page.wait_for("[data-testid=policy-list] [data-principal=sensor-7]")
        .await?;
    page.click("form.spawn details summary").await?;
    page.wait_for("[data-testid=new-username]")
        .await?
        .send_keys("sensor-7")
        .await?;
    page.spawn("dev-a").await?;
    page.wait_for("[data-testid=device][data-device='0'] [data-testid=device-principal]")
        .await?;
    page.device(0, "connected").await?;
    page.publish(0, "lab/secret", "psst", 1, false).await?;
    let denial = page
        .wait_for("[data-testid=policy-denied]")
        .await?
        .text()
        .await?;
    if !denial.contains("dev-a") || !denial.contains("lab/secret") {
        bail!("the denial does not name the device and the topic: {denial}");
    }
    page.wait_for("[data-testid=new-username]")
        .await?
        .clear()
        .await?;
    page.spawn("dev-b").await?;
    page.wait_for("[data-testid=policy-denied][title*='client/dev-b']")
        .await?;
    page.screenshot("per-device-policy").await?;
    Ok(())
}

/// What the principal `sensor-7` may do: connect, and publish to `lab/open` only.
const SENSOR_POLICY: &str = r#"{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": "iot:Connect", "Resource": "*" },
  { "Effect": "Allow", "Action": "iot:Publish",
    "Resource": "arn:aws:iot:us-east-1:123456789012:topic/lab/open" } ] }"#;

/// The live view: the page attached to the server that served it draws real clients'
/// packets, marks AWS IoT's rules on them, and exports the server's recording, which
/// replays identically in the page and through `brokerlab replay` (docs/live.md).
#[tokio::test]
async fn e2e_live_view_of_real_clients() -> Result<()> {
    let dir = brokerlab_tests::data_dir::DataDir::new("e2e-live");
    std::fs::create_dir_all(dir.path())?;
    let record = dir.path().join("server.jsonl");
    let args = [
        "--profile",
        "aws-iot",
        "--record",
        record.to_str().context("path")?,
    ];
    let server = Server::start(&server_binary()?, &args).await?;
    let driver = Chromedriver::start()?;
    let page = Page::open(&driver, &server).await?;
    let outcome = live_story(&page, &server, dir.path()).await;
    if outcome.is_err() {
        let _ = page.screenshot("failure").await;
    }
    page.client.close().await?;
    outcome
}

async fn live_story(page: &Page, server: &Server, dir: &std::path::Path) -> Result<()> {
    use brokerlab_tests::mqtt::{options, Client as MqttClient, Via};
    use rumqttc::QoS;

    page.click("[data-testid=live-attach]").await?;
    page.wait_for("[data-testid=live-status][data-state=attached]")
        .await?;
    // Real clients over TCP: a subscriber, a publisher, and a RETAIN publish that
    // AWS IoT refuses (D5) by closing the publisher's connection.
    let (mut sub, _) = MqttClient::connect(options("real-sub", &Via::Tcp(server.mqtt))).await?;
    sub.client.subscribe("lab/#", QoS::AtLeastOnce).await?;
    sub.expect_suback().await?;
    let (publisher, _) = MqttClient::connect(options("real-pub", &Via::Tcp(server.mqtt))).await?;
    publisher
        .client
        .publish("lab/kitchen", QoS::AtLeastOnce, false, "from a real client")
        .await?;
    sub.expect_publish().await?;
    page.wait_for("[data-testid=packet][data-kind=SUBACK][data-from=broker][data-to=real-sub]")
        .await?;
    page.wait_for("[data-testid=packet][data-kind=PUBLISH][data-from=real-pub][data-to=broker]")
        .await?;
    page.wait_for("[data-testid=packet][data-kind=PUBACK][data-from=broker][data-to=real-pub]")
        .await?;
    page.click("[data-testid=packet][data-kind=PUBLISH][data-from=broker][data-to=real-sub]")
        .await?;
    let fields = page
        .wait_for("[data-testid=inspector][data-kind=PUBLISH]")
        .await?
        .text()
        .await?;
    if !fields.contains("topic name") || !fields.contains("broker → real-sub") {
        bail!("the inspector does not decode the real PUBLISH: {fields}");
    }
    // A virtual device spawned while attached connects to the real server over
    // WebSocket, beside the real clients, and trades messages with them.
    page.spawn("web-dev").await?;
    page.device(0, "connected").await?;
    page.wait_for("[data-testid=packet][data-kind=CONNACK][data-to=web-dev]")
        .await?;
    page.subscribe(0, "lab/#", 1).await?;
    page.wait_for("[data-testid=packet][data-kind=SUBACK][data-to=web-dev]")
        .await?;
    publisher
        .client
        .publish("lab/hall", QoS::AtLeastOnce, false, "to the page")
        .await?;
    page.received(0, "to the page").await?;
    page.publish(0, "lab/web", "from the page", 1, false)
        .await?;
    loop {
        let got = sub.expect_publish().await?;
        if &got.payload[..] == b"from the page" {
            break;
        }
    }
    publisher
        .client
        .publish("lab/status", QoS::AtMostOnce, true, "kept?")
        .await?;
    page.wait_for("[data-testid=rule][data-rule=D5]").await?;
    page.screenshot("live").await?;
    publisher.kill().await;
    sub.disconnect().await?;
    page.wait_for("[data-testid=packet][data-kind=DISCONNECT][data-from=real-sub]")
        .await?;

    // "export trace" while attached saves the server's recording.
    let href = page
        .wait_for("[data-testid=export]")
        .await?
        .attr("data-href")
        .await?
        .context("export names no recording while attached")?;
    let path = href
        .split_once(&server.http.to_string())
        .map(|(_, path)| path.to_owned())
        .with_context(|| format!("the export is not on this server: {href}"))?;
    let response = brokerlab_tests::http::get(server.http, &path).await?;
    if response.status != 200 {
        bail!("GET {path}: {} {}", response.status, response.body);
    }
    let exported = dir.join("exported.jsonl");
    std::fs::write(&exported, &response.body)?;
    let replayed = Command::new(server_binary()?)
        .arg("replay")
        .arg(&exported)
        .output()?;
    let said = String::from_utf8_lossy(&replayed.stdout);
    if !replayed.status.success() || !said.starts_with("identical:") {
        bail!("brokerlab replay refused the export: {said}");
    }

    // The same file imported into the page replays on the diagram, and through the
    // engine in the browser with identical bytes.
    page.click("[data-testid=live-detach]").await?;
    page.wait_for("[data-testid=import]")
        .await?
        .send_keys(exported.to_str().context("path")?)
        .await?;
    page.wait_for("[data-testid=live-status][data-state=replaying]")
        .await?;
    let notice = page.wait_for("[data-testid=notice]").await?.text().await?;
    if !notice.contains("outputs identical, byte for byte") {
        bail!("the page's replay of the recording differs: {notice}");
    }
    page.wait_for("[data-testid=rule][data-rule=D5]").await?;
    // Paused, the playback stops adding rows, and the learner scrolls back to read.
    page.click("[data-testid=pause]").await?;
    page.scroll_timeline_to_top().await?;
    page.click("[data-testid=packet][data-kind=PUBLISH][data-from=real-pub][data-to=broker]")
        .await?;
    page.wait_for("[data-testid=inspector][data-kind=PUBLISH]")
        .await?;
    page.screenshot("live-replay").await?;
    Ok(())
}

/// What `bench_frame_times` measures, in milliseconds between animation frames.
struct FrameTimes {
    frames: usize,
    mean: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    /// Frames that took longer than 50 ms, which a person notices as a stutter.
    long: usize,
    /// Virtual milliseconds the simulation advanced per real second.
    virtual_per_second: f64,
}

impl std::fmt::Display for FrameTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} frames, mean {:.1} ms, p50 {:.1}, p95 {:.1}, p99 {:.1}, max {:.1}, \
             {} over 50 ms; virtual time ran at {:.2}x real time",
            self.frames,
            self.mean,
            self.p50,
            self.p95,
            self.p99,
            self.max,
            self.long,
            self.virtual_per_second / 1000.0
        )
    }
}

/// Records animation-frame intervals in the page for `seconds`, and the virtual clock.
async fn measure(page: &Page, seconds: u32) -> Result<FrameTimes> {
    let script = r#"
        const [seconds, done] = arguments;
        const clock = () => Number(document.querySelector('[data-testid=clock]').dataset.now);
        const intervals = [];
        const start = performance.now();
        const virtualStart = clock();
        let last = start;
        function frame(t) {
            intervals.push(t - last);
            last = t;
            if (t - start < seconds * 1000) {
                requestAnimationFrame(frame);
            } else {
                done({ intervals, virtual: clock() - virtualStart, real: t - start });
            }
        }
        requestAnimationFrame(frame);
    "#;
    let result = page
        .client
        .execute_async(script, vec![json!(seconds)])
        .await?;
    frame_times(&result)
}

/// The statistics of the intervals a measuring script returned.
fn frame_times(result: &serde_json::Value) -> Result<FrameTimes> {
    let mut intervals: Vec<f64> = result["intervals"]
        .as_array()
        .ok_or_else(|| anyhow!("no intervals in {result}"))?
        .iter()
        .filter_map(|v| v.as_f64())
        .skip(1)
        .collect();
    if intervals.is_empty() {
        bail!("no frames were drawn");
    }
    intervals.sort_by(f64::total_cmp);
    let n = intervals.len();
    let at = |q: f64| intervals[((n as f64 * q) as usize).min(n - 1)];
    let real = result["real"].as_f64().unwrap_or(f64::NAN);
    let virtual_ms = result["virtual"].as_f64().unwrap_or(f64::NAN);
    Ok(FrameTimes {
        frames: n,
        mean: intervals.iter().sum::<f64>() / n as f64,
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        max: intervals[n - 1],
        long: intervals.iter().filter(|ms| **ms > 50.0).count(),
        virtual_per_second: virtual_ms / real * 1000.0,
    })
}

/// Records animation-frame intervals in the page for `seconds`, and when `css` first
/// matched something (milliseconds from the start), if it did: the frames of an operation
/// in progress, such as spawning devices, and how long it took.
async fn measure_while(page: &Page, css: &str, seconds: u32) -> Result<(FrameTimes, Option<f64>)> {
    let script = r#"
        const [css, seconds, done] = arguments;
        const clock = () => Number(document.querySelector('[data-testid=clock]').dataset.now);
        const intervals = [];
        const start = performance.now();
        const virtualStart = clock();
        let last = start;
        let matched = null;
        function frame(t) {
            intervals.push(t - last);
            last = t;
            if (matched === null && document.querySelector(css)) {
                matched = Math.max(0, t - start);
            }
            if (t - start < seconds * 1000) {
                requestAnimationFrame(frame);
            } else {
                done({ intervals, matched, virtual: clock() - virtualStart, real: t - start });
            }
        }
        requestAnimationFrame(frame);
    "#;
    let result = page
        .client
        .execute_async(script, vec![json!(css), json!(seconds)])
        .await?;
    Ok((frame_times(&result)?, result["matched"].as_f64()))
}

/// The benchmark behind docs/benchmarks.md: `n` devices each publishing once a second
/// (QoS 0, to `load/<n>`) and one device subscribed to `load/#`, under the standard profile
/// so that no quota thins the traffic; the frames while they are spawned, then 20 s of
/// frames under load.
async fn bench_devices(page: &Page, n: u32) -> Result<String> {
    page.reload().await?;
    page.set_profile("mqtt").await?;
    page.click(".load summary").await?;
    page.wait_for("[data-testid=load-count]")
        .await?
        .send_keys(&n.to_string())
        .await?;
    page.wait_for("[data-testid=load-period]")
        .await?
        .send_keys("1000")
        .await?;
    page.click("[data-testid=load-start]").await?;
    let all = format!("[data-testid=sessions][data-connected='{}']", n + 1);
    // The first seconds: the devices spawned a few per frame, then their first messages.
    let (spawning, connected_ms) = measure_while(page, &all, 5).await?;
    page.wait_for(&all).await?;
    let spawn = match connected_ms {
        Some(ms) => format!("all connected within {ms:.0} ms"),
        None => "not all connected within 5 s".to_owned(),
    };
    // Every device publishes within its first second; let the load settle first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let busy = measure(page, 20).await?;
    let stats = page.wait_for("[data-testid=frame-stats]").await?;
    let simulation_ms = stats.attr("data-sim").await?.unwrap_or_default();
    page.screenshot(&format!("bench-{n}-devices")).await?;
    Ok(format!(
        "spawning {n} devices: {spawn}; the first 5 s: {spawning}\n\
         {n} busy: {busy}\n\
         of which the simulation (the frame callback, not rendering): {simulation_ms} ms a frame\n"
    ))
}

/// `cargo xtask web-bench`: the idle page, then 500 and 2,000 busy devices. It asserts
/// nothing about speed, it reports.
#[tokio::test]
async fn bench_frame_times_with_500_devices() -> Result<()> {
    let server = Server::start(&server_binary()?, &[]).await?;
    let driver = Chromedriver::start()?;
    let page = Page::open(&driver, &server).await?;
    page.set_profile("mqtt").await?;
    let idle = measure(&page, 5).await?;
    let mut report = format!("idle:     {idle}\n");
    for n in [500, 2000] {
        report.push_str(&bench_devices(&page, n).await?);
    }
    println!("{report}");
    std::fs::write(page.shots.join("bench.txt"), report)?;
    page.client.close().await?;
    Ok(())
}

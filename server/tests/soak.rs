//! A short soak on every test run: persistent-session devices that drop and restore
//! their connections every second or so, against the real server. No QoS 1 message may be
//! lost and no QoS 2 message delivered twice. `cargo xtask soak` runs the long version.

use std::time::Duration;

use anyhow::Result;
use brokerlab_tests::server::Server;
use brokerlab_tests::soak::{self, Options};

const BIN: &str = env!("CARGO_BIN_EXE_brokerlab");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_persistent_sessions_lose_nothing_and_double_no_qos2() -> Result<()> {
    let server = Server::start(BIN, &["--profile", "mqtt-3.1.1"]).await?;
    let options = Options {
        clients: 40,
        publish_interval: Duration::from_millis(50),
        drop_after: (Duration::from_millis(200), Duration::from_millis(1_000)),
        offline: Duration::from_millis(300),
        drain_limit: Duration::from_secs(20),
        sample_every: Duration::from_secs(1),
        broker_pid: Some(server.pid()),
        ..Options::new(server.mqtt, Duration::from_secs(4))
    };
    let report = soak::run(options, false).await;
    assert!(report.is_clean(), "{report}");
    // The run must have churned: every device dropped its connection several times.
    assert!(report.drops >= 80, "{report}");
    assert!(report.tally.published >= 2_000, "{report}");
    assert!(
        report.samples.iter().all(|s| s.rss_kib.is_some()),
        "{report}"
    );
    Ok(())
}

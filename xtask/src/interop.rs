//! Eclipse Paho's MQTT 5.0 interoperability suite (`interoperability/client_test5.py` of
//! paho.mqtt.testing, vendored with its licence in `vendor/paho.mqtt.testing`: 27 tests,
//! Python's standard library only) against brokerlab or Mosquitto.
//!
//! `cargo xtask test` runs it against `brokerlab serve --profile mqtt-5`; `cargo xtask
//! interop [brokerlab|mosquitto]` runs it on its own, for comparing the two.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::brokers::Broker;
use crate::steps::Outcome;
use crate::{apt, process, workspace};

/// Where the vendored suite is, from the workspace root.
const SUITE: &str = "vendor/paho.mqtt.testing/interoperability";

/// How many tests `client_test5.py` has; a run of fewer did not test everything.
const TESTS: usize = 27;

/// A whole run takes under three minutes. Four of the suite's tests wait without a limit
/// for something a broker may never send (see `vendor/paho.mqtt.testing/BROKERLAB.md`), so
/// the run is stopped here instead of hanging.
const LIMIT: Duration = Duration::from_secs(15 * 60);

/// Tests whose client sends on one connection and checks on another without waiting for
/// the first to be acknowledged (a SUBSCRIBE, then a PUBLISH elsewhere): a broker that
/// reads the two connections in the other order fails them through no fault of its own.
/// When only these fail, each is run once more on its own.
const RACY: [&str; 3] = [
    "test_subscribe_options",
    "test_request_response",
    "test_unsubscribe",
];

/// What the suite assumes of the broker it tests, as brokerlab settings: a Receive Maximum
/// small enough to exceed (test_flow_control2), topic aliases, a Maximum Packet Size under
/// 65,535 but above 77 (test_maximum_packet_size), Server Keep Alive 60
/// (test_server_keep_alive), and `test/nosubscribe` refused with SUBACK 0x80
/// (test_subscribe_failure). These are the defaults of Paho's own test broker.
const BROKERLAB_SETTINGS: [&str; 5] = [
    "receive_maximum=2",
    "topic_alias_maximum=2",
    "max_packet_size=256",
    "server_keep_alive=60",
    "refused_filters=[\"test/nosubscribe\"]",
];

/// The same assumptions as Mosquitto settings, as far as Mosquitto has them: it has no
/// refused filter and sends Server Keep Alive only to clients asking for more than this.
const MOSQUITTO_SETTINGS: &str = "max_inflight_messages 2\n\
                                  max_topic_alias 2\n\
                                  max_packet_size 256\n\
                                  max_keepalive 60\n";

/// The `cargo xtask test` step: the suite against a debug build of brokerlab.
pub fn against_brokerlab() -> Result<Outcome> {
    apt::ensure(&[("python3", "python3")])?;
    let binary = build_brokerlab()?;
    let report = run_suite(&start_brokerlab(&binary)?, "brokerlab")?;
    if report.failed.is_empty() {
        Ok(Outcome::Done)
    } else {
        bail!("{}", report.summary())
    }
}

/// `cargo xtask interop [brokerlab|mosquitto]`: the suite against one broker, reported
/// test by test; fails unless every test passed.
pub fn run(args: &[String]) -> Result<()> {
    apt::ensure(&[("python3", "python3")])?;
    let which = args.first().map_or("brokerlab", String::as_str);
    if args.len() > 1 {
        bail!("`interop` takes one broker name, got `{}`", args.join(" "));
    }
    let broker = match which {
        "brokerlab" => start_brokerlab(&build_brokerlab()?)?,
        "mosquitto" => {
            crate::mosquitto::ensure_installed()?;
            let dir = scratch()?;
            Broker::mosquitto_with(&dir, None, MOSQUITTO_SETTINGS)?
        }
        other => bail!("unknown broker `{other}`: brokerlab or mosquitto"),
    };
    let report = run_suite(&broker, which)?;
    println!("{}", report.summary());
    if report.failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} of {TESTS} tests failed against {which}",
            report.failed.len()
        )
    }
}

fn build_brokerlab() -> Result<PathBuf> {
    process::run(workspace::cargo().args(["build", "-p", "brokerlab", "--bin", "brokerlab"]))?;
    Ok(workspace::target_dir()?.join("debug").join("brokerlab"))
}

fn start_brokerlab(binary: &Path) -> Result<Broker> {
    let mut args = vec!["--profile", "mqtt-5", "--seed", "1"];
    for setting in BROKERLAB_SETTINGS {
        args.extend(["--set", setting]);
    }
    Broker::brokerlab_with(binary, None, &args)
}

fn scratch() -> Result<PathBuf> {
    let dir = workspace::target_dir()?.join("interop");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// What a run of the suite came to.
struct Report {
    broker: String,
    ran: usize,
    /// Tests that failed, after the racy ones were given their second run.
    failed: Vec<String>,
    /// Racy tests that failed in the full run and passed alone.
    passed_alone: Vec<String>,
    log: PathBuf,
}

impl Report {
    fn summary(&self) -> String {
        let passed = self.ran - self.failed.len();
        let mut text = format!(
            "paho client_test5.py against {}: {passed} passed, {} failed",
            self.broker,
            self.failed.len()
        );
        if !self.failed.is_empty() {
            text.push_str(&format!(
                " ({}; the client's report is in {})",
                self.failed.join(", "),
                self.log.display()
            ));
        }
        if !self.passed_alone.is_empty() {
            text.push_str(&format!(
                "; passed when run again alone: {}",
                self.passed_alone.join(", ")
            ));
        }
        text
    }
}

/// Runs all 27 tests in one process, in the suite's order (each test inherits the broker
/// state the one before left, as the suite was written for), then gives any racy test
/// that failed one more run on its own.
fn run_suite(broker: &Broker, name: &str) -> Result<Report> {
    let dir = scratch()?;
    let log = dir.join(format!("paho-{name}.log"));
    let port = broker.mqtt.port().to_string();
    let status = process::run_logged_with_timeout(suite_command(&port).arg("-v"), &log, LIMIT)?;
    let text = std::fs::read_to_string(&log)?;
    let ran = tests_ran(&text)?;
    if ran != TESTS {
        bail!(
            "the suite ran {ran} tests, not {TESTS}: see {}",
            log.display()
        );
    }
    let failed = failures(&text);
    if status.success() != failed.is_empty() {
        bail!(
            "the suite exited {status} but reported failures {failed:?}: see {}",
            log.display()
        );
    }
    let mut report = Report {
        broker: name.to_owned(),
        ran,
        failed: Vec::new(),
        passed_alone: Vec::new(),
        log,
    };
    let only_racy = failed.iter().all(|test| RACY.contains(&test.as_str()));
    for test in failed {
        if only_racy && run_alone(&port, &test, &dir)? {
            report.passed_alone.push(test);
        } else {
            report.failed.push(test);
        }
    }
    Ok(report)
}

fn run_alone(port: &str, test: &str, dir: &Path) -> Result<bool> {
    let log = dir.join(format!("paho-{test}.log"));
    let status = process::run_logged_with_timeout(
        suite_command(port).args(["-v", &format!("Test.{test}")]),
        &log,
        LIMIT,
    )?;
    Ok(status.success())
}

/// `python3 client_test5.py -p PORT`. The suite always connects to `localhost`: its host
/// option does not work (see `vendor/paho.mqtt.testing/BROKERLAB.md`).
fn suite_command(port: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .current_dir(workspace::root().join(SUITE))
        // No bytecode next to the vendored files.
        .arg("-B")
        .args(["client_test5.py", "-p", port]);
    command
}

/// The count of unittest's closing `Ran N tests in …s` line.
fn tests_ran(log: &str) -> Result<usize> {
    log.lines()
        .find_map(|line| line.strip_prefix("Ran "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .context("the suite's report has no `Ran N tests` line")
}

/// The tests that unittest's report lists under `FAIL: name (…)` or `ERROR: name (…)`.
fn failures(log: &str) -> Vec<String> {
    let mut tests: Vec<String> = log
        .lines()
        .filter_map(|line| {
            line.strip_prefix("FAIL: ")
                .or_else(|| line.strip_prefix("ERROR: "))
        })
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    tests.sort();
    tests.dedup();
    tests
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
test_basic (__main__.Test.test_basic) ... ok
test_unsubscribe (__main__.Test.test_unsubscribe) ... FAIL
======================================================================
FAIL: test_unsubscribe (__main__.Test.test_unsubscribe)
----------------------------------------------------------------------
ERROR: test_will_delay (__main__.Test.test_will_delay)
Ran 27 tests in 158.848s

FAILED (failures=1, errors=1)
";

    #[test]
    fn reads_unittests_report() {
        assert_eq!(tests_ran(REPORT).unwrap(), 27);
        assert_eq!(failures(REPORT), ["test_unsubscribe", "test_will_delay"]);
        assert!(tests_ran("no summary").is_err());
        assert!(failures("Ran 27 tests in 1s\n\nOK\n").is_empty());
    }
}

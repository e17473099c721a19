//! `cargo xtask test`: every test of the project, in the order that fails fastest.

use anyhow::Result;

use crate::steps::{self, Outcome, Step};
use crate::{
    browser_tests, chromium, interop, mosquitto, process, real_clients, wasm_check, web, workspace,
};

pub fn run() -> Result<()> {
    steps::run_all(
        "xtask test",
        vec![
            Step::new("format check (cargo fmt --all -- --check)", format_check),
            Step::new(
                "Mosquitto and openssl for the server's tests (apt-get if missing)",
                mosquitto::ensure_installed_for_tests,
            ),
            Step::new(
                "unit, integration and doc tests (cargo test --workspace)",
                cargo_test,
            ),
            Step::new("wasm build check (cargo xtask wasm-check)", || {
                wasm_check::run().map(|()| Outcome::Done)
            }),
            Step::new(
                "Eclipse Paho's interoperability suites (MQTT 5.0 and 3.1.1) against brokerlab serve --profile mqtt-5",
                interop::against_brokerlab,
            ),
            Step::new(
                "real MQTT 5.0 clients against brokerlab serve: paho-mqtt, MQTT.js over WebSocket, the AWS IoT Device SDK over mutual TLS",
                real_clients::run,
            ),
            Step::new(
                "Chromium and chromedriver for the browser tests (apt-get if missing)",
                chromium::ensure_installed,
            ),
            Step::new("the simulator's web bundle (cargo xtask web)", || {
                web::build().map(|_| Outcome::Done)
            }),
            Step::new(
                "the wasm API in headless Chromium (wasm-bindgen-test)",
                browser_tests::wasm_api,
            ),
            Step::new(
                "the simulator end to end: brokerlab serve with the bundle, in Chromium",
                browser_tests::end_to_end,
            ),
        ],
    )
}

/// Checks formatting where rustfmt is installed. It is an optional rustup component, and its
/// absence says nothing about whether the code works, so it skips rather than fails.
fn format_check() -> Result<Outcome> {
    if let Err(err) = process::capture(workspace::cargo().args(["fmt", "--version"])) {
        return Ok(Outcome::Skipped(format!(
            "rustfmt is not available ({err:#})"
        )));
    }
    process::run(workspace::cargo().args(["fmt", "--all", "--", "--check"]))?;
    Ok(Outcome::Done)
}

/// Runs the library, binary, integration and doc tests of every crate, and builds the
/// examples. `--all-targets` is left out on purpose: it would also run the benchmarks.
fn cargo_test() -> Result<Outcome> {
    process::run(workspace::cargo().args(["test", "--workspace"]))?;
    Ok(Outcome::Done)
}

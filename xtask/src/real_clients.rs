//! Real MQTT clients from the package registries, installed under `target/tools` when
//! missing and reused when present: paho-mqtt and the AWS IoT Device SDK v2 (PyPI) in a
//! virtual environment, MQTT.js (npm). `tests/tests/real_clients.rs` runs them against a
//! debug build of the server.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::steps::Outcome;
use crate::{apt, process, workspace};

/// Pinned, so that a run means the same thing next month.
const PYTHON_PACKAGES: [&str; 2] = ["paho-mqtt==2.2.0", "awsiotsdk==1.31.0"];
const NPM_PACKAGE: &str = "mqtt@5.16.0";
const NPM_VERSION: &str = "5.16.0";

/// The `cargo xtask test` step: installs what is missing, builds the server, and runs
/// `tests/tests/real_clients.rs` (behind the `real-clients` feature).
pub fn run() -> Result<Outcome> {
    let tools = workspace::target_dir()?.join("tools");
    let python = ensure_python(&tools.join("py"))?;
    let node_modules = ensure_mqtt_js(&tools.join("node"))?;
    process::run(workspace::cargo().args(["build", "-p", "brokerlab", "--bin", "brokerlab"]))?;
    let server = workspace::target_dir()?.join("debug").join("brokerlab");
    process::run(
        workspace::cargo()
            .args([
                "test",
                "-p",
                "brokerlab-tests",
                "--features",
                "real-clients",
            ])
            .args(["--test", "real_clients"])
            .env("BROKERLAB_BIN", server)
            .env("BROKERLAB_PYTHON", python)
            .env("BROKERLAB_NODE_MODULES", node_modules),
    )?;
    Ok(Outcome::Done)
}

/// A virtual environment in `dir` with the pinned Python clients; returns its `python`.
fn ensure_python(dir: &Path) -> Result<PathBuf> {
    let python = dir.join("bin").join("python");
    let wanted = PYTHON_PACKAGES.join(" ");
    let marker = dir.join("brokerlab-packages.txt");
    if python.is_file() && std::fs::read_to_string(&marker).is_ok_and(|had| had == wanted) {
        println!("python clients: {wanted} in {}", dir.display());
        return Ok(python);
    }
    // Debian's python3 leaves venv and pip to packages of their own.
    apt::ensure(&[("python3", "python3")])?;
    if process::capture(Command::new("python3").args(["-m", "venv", "--help"])).is_err() {
        process::run(Command::new("apt-get").arg("update"))?;
        process::run(Command::new("apt-get").args(["install", "-y", "python3-venv"]))?;
    }
    process::run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(dir),
    )?;
    process::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(PYTHON_PACKAGES),
    )?;
    std::fs::write(&marker, &wanted)?;
    Ok(python)
}

/// MQTT.js installed into `dir`; returns its `node_modules`.
fn ensure_mqtt_js(dir: &Path) -> Result<PathBuf> {
    let modules = dir.join("node_modules");
    let manifest = modules.join("mqtt").join("package.json");
    let installed = std::fs::read_to_string(&manifest)
        .is_ok_and(|text| text.contains(&format!("\"version\": \"{NPM_VERSION}\"")));
    if installed {
        println!("MQTT.js {NPM_VERSION} in {}", modules.display());
        return Ok(modules);
    }
    apt::ensure(&[("node", "nodejs"), ("npm", "npm")])?;
    std::fs::create_dir_all(dir)?;
    process::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .arg(NPM_PACKAGE),
    )?;
    Ok(modules)
}

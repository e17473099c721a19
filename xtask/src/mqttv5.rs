//! The `mqtt5` crate's broker (`mqttv5 broker`, from the `mqttv5-cli` crate), the second
//! peer of `cargo xtask bench servers`: a multi-threaded tokio broker in Rust. A pinned
//! version is installed from crates.io into `target/tools/` when missing (a few minutes,
//! once); one already on the PATH at that version is used as it is.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{process, workspace};

/// The version measured in docs/benchmarks.md.
pub const VERSION: &str = "0.29.10";

/// The `mqttv5` program, installed if needed.
pub fn ensure() -> Result<PathBuf> {
    let on_path = PathBuf::from("mqttv5");
    if reports_version(&on_path) {
        return Ok(on_path);
    }
    let root = workspace::target_dir()?.join("tools");
    let private = root.join("bin").join("mqttv5");
    if reports_version(&private) {
        return Ok(private);
    }
    println!(
        "mqttv5: installing mqttv5-cli {VERSION} into {}",
        root.display()
    );
    process::run(
        workspace::cargo()
            .args(["install", "mqttv5-cli", "--version"])
            .arg(format!("={VERSION}"))
            .arg("--root")
            .arg(&root),
    )
    .context("cannot install mqttv5-cli")?;
    if !reports_version(&private) {
        bail!("the installed mqttv5 does not report version {VERSION}");
    }
    Ok(private)
}

fn reports_version(program: &PathBuf) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(VERSION))
}

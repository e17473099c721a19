//! Where the workspace and its build output live, and how to call the cargo that runs us.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The workspace root: xtask's manifest sits one folder below it, wherever the checkout is.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the xtask crate lives one folder below the workspace root")
}

/// Cargo's output folder, honouring `CARGO_TARGET_DIR` as cargo itself does.
pub fn target_dir() -> Result<PathBuf> {
    match env::var_os("CARGO_TARGET_DIR") {
        // A relative value is relative to the current folder, as it is for cargo.
        Some(dir) => Ok(env::current_dir()
            .context("cannot read the current folder")?
            .join(dir)),
        None => Ok(root().join("target")),
    }
}

/// A command for the cargo that started `cargo xtask` (cargo passes its own path in `CARGO`),
/// run from the workspace root, so that every step uses the same toolchain.
pub fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Builds the server and one of the harness's tools (`brokerlab-loadgen`,
/// `brokerlab-soak`) for release; returns the folder that holds both.
pub fn build_server_and(tool: &str) -> Result<PathBuf> {
    crate::process::run(cargo().args([
        "build",
        "--release",
        "-p",
        "brokerlab",
        "-p",
        "brokerlab-tests",
        "--bin",
        "brokerlab",
        "--bin",
        tool,
    ]))?;
    Ok(target_dir()?.join("release"))
}

//! `cargo xtask wasm-check`: proof that the broker core still builds for the browser.

use anyhow::Result;

use crate::process;
use crate::wasm_toolchain::{WasmToolchain, TARGET};

/// The feature sets to build: the bare core, and the one the wasm bindings use. Each is
/// built on its own because code behind a feature can break either build independently.
const FEATURE_SETS: [&[&str]; 2] = [&[], &["serde"]];

pub fn run() -> Result<()> {
    let toolchain = WasmToolchain::select()?;
    for features in FEATURE_SETS {
        let mut cmd = toolchain.cargo("build");
        cmd.args(["-p", "broker-core", "--release"]);
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
        process::run(&mut cmd)?;
    }
    println!("wasm-check: broker-core builds for {TARGET} ({toolchain})");
    Ok(())
}

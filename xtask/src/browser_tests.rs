//! The simulator's tests in a real browser: the wasm API under wasm-bindgen-test, and the
//! whole page, served by `brokerlab serve`, driven through chromedriver. Both expect the
//! steps before them in `cargo xtask test`: Chromium installed and the web bundle built.

use std::path::Path;

use anyhow::Result;

use crate::steps::Outcome;
use crate::wasm_bindgen_cli::WasmBindgen;
use crate::wasm_toolchain::WasmToolchain;
use crate::{chromium, process, web, workspace};

/// `wasm/tests/browser.rs` in headless Chromium. Its flags come from
/// `wasm/webdriver.json`, which the runner reads from the crate's folder.
pub fn wasm_api() -> Result<Outcome> {
    let toolchain = WasmToolchain::select()?;
    let bindgen = WasmBindgen::ensure()?;
    let mut test = toolchain.cargo("test");
    test.args(["-p", "broker-wasm", "--test", "browser"])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            bindgen.test_runner(),
        )
        .env("CHROMEDRIVER", chromium::chromedriver())
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    process::run(&mut test)?;
    Ok(Outcome::Done)
}

/// `tests/tests/simulator.rs`: builds the server with the bundle embedded, then runs the
/// end-to-end tests (behind the `browser` feature) against it.
pub fn end_to_end() -> Result<Outcome> {
    let dist = web::dist_dir()?;
    process::run(
        workspace::cargo()
            .args(["build", "-p", "brokerlab"])
            .env("BROKERLAB_WEB_DIST", &dist),
    )?;
    let binary = workspace::target_dir()?.join("debug").join("brokerlab");
    run_e2e(&binary, "e2e_")?;
    println!(
        "e2e: screenshots in {}",
        workspace::target_dir()?.join("e2e").display()
    );
    Ok(Outcome::Done)
}

/// Runs the tests of `tests/tests/simulator.rs` (behind the `browser` feature) whose
/// names contain `filter`.
pub fn run_e2e(server: &Path, filter: &str) -> Result<()> {
    process::run(
        workspace::cargo()
            .args([
                "test",
                "-p",
                "brokerlab-tests",
                "--features",
                "browser",
                "--test",
                "simulator",
                "--",
            ])
            .args(["--nocapture", filter])
            .env("BROKERLAB_BIN", server)
            .env("BROKERLAB_E2E_SHOTS", workspace::target_dir()?.join("e2e"))
            .env("CHROMEDRIVER", chromium::chromedriver())
            .env("CHROMIUM", chromium::chromium()),
    )
}

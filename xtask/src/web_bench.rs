//! `cargo xtask web-bench`: the simulator's frame times with 500 and 2,000 busy devices, measured
//! in headless Chromium against the release build (the numbers in docs/benchmarks.md).

use anyhow::Result;

use crate::{browser_tests, chromium, serve, workspace};

pub fn run() -> Result<()> {
    chromium::ensure_installed()?;
    serve::dist()?;
    let server = workspace::target_dir()?.join("release").join("brokerlab");
    browser_tests::run_e2e(&server, "bench_")?;
    println!(
        "web-bench: the report is in {}",
        workspace::target_dir()?
            .join("e2e")
            .join("bench.txt")
            .display()
    );
    Ok(())
}

//! `cargo xtask`: the project's test, build-check and benchmark automation, written in Rust
//! so that it runs wherever cargo does, with no other tool to install first.

mod apt;
mod bench;
mod brokers;
mod browser_tests;
mod chromium;
mod cycles;
mod durability_bench;
mod interop;
mod mosquitto;
mod mqttv5;
mod process;
mod real_clients;
mod serve;
mod server_bench;
mod soak;
mod steps;
mod test_suite;
mod wasm_bindgen_cli;
mod wasm_check;
mod wasm_toolchain;
mod web;
mod web_bench;
mod workspace;

use std::process::ExitCode;

use anyhow::{bail, Result};

const USAGE: &str = "\
Usage: cargo xtask <command> [arguments]

Commands:
  test              Run all of the project's tests: the format check (when rustfmt is
                    installed), Mosquitto's install check (apt-get when missing),
                    `cargo test --workspace`, `wasm-check`, Eclipse Paho's MQTT 5.0
                    and 3.1.1 interoperability suites (python3), real clients from PyPI and npm
                    (installed into target/tools when missing), then the simulator's
                    browser tests (installing Chromium and wasm-bindgen when missing).
  run [args...]     Build for release and run `brokerlab serve` (the aws-iot profile,
                    HTTP on 127.0.0.1:8080, MQTT on 127.0.0.1:1883, sessions and
                    retained messages kept in target/data); arguments go to `serve`,
                    for example `cargo xtask run --profile mqtt`.
  dist              The release build: the web bundle and target/release/brokerlab.
  web               Build the simulator's static bundle into target/web-dist/.
  web-bench         Measure the simulator's frame times with 500 and 2,000 busy devices in
                    headless Chromium (the numbers in docs/benchmarks.md).
  wasm-check        Build broker-core for wasm32-unknown-unknown, with and without its
                    `serde` feature, provisioning a wasm toolchain first if needed.
  bench [args...]   Run the benchmarks: the engine alone (criterion; arguments go to it,
                    for example a name filter, or `--save-baseline main`), then
                    brokerlab against Mosquitto and the mqtt5 crate's broker (installed
                    into target/tools when missing). `bench engine [args...]` and
                    `bench servers [--rounds N] [--secs S]` run one of the two;
                    `bench durability [--rounds N] [--secs S]` measures --data-dir
                    against memory and Mosquitto's persistence, with a crash test.
  soak [--minutes N] [--clients N] [--data-dir]
                    1,000 persistent-session devices (by default) publishing QoS 1
                    and 2 to one another for 10 minutes (by default) while dropping
                    and restoring their connections, against a release server (with
                    --data-dir, one storing its state in target/soak-data);
                    prints its memory over time and fails on any lost message, any
                    QoS 2 duplicate, or memory that does not stay flat.
  interop [brokerlab|mosquitto]
                    Eclipse Paho's interoperability suites (vendored in
                    vendor/paho.mqtt.testing: MQTT 5.0, 27 tests; MQTT 3.1.1, 10)
                    against a debug build of brokerlab (by default) or Mosquitto,
                    with the settings they assume.
  cycles [DIR]      Import cycles between the top-level modules of a crate's source
                    folder (default server/src); fails if there is one.
  help              Show this text.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "test" => {
            expect_no_arguments(command, rest)?;
            test_suite::run()
        }
        "cycles" => {
            let dir = rest.first().map_or("server/src", String::as_str);
            cycles::run(&workspace::root().join(dir))
        }
        "wasm-check" => {
            expect_no_arguments(command, rest)?;
            wasm_check::run()
        }
        "web" => {
            expect_no_arguments(command, rest)?;
            web::run()
        }
        "web-bench" => {
            expect_no_arguments(command, rest)?;
            web_bench::run()
        }
        "run" => serve::run(rest),
        "dist" => {
            expect_no_arguments(command, rest)?;
            serve::dist()
        }
        "bench" => bench::run(rest),
        "soak" => soak::run(rest),
        "interop" => interop::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// Rejects arguments that a command would otherwise silently ignore, so that a typo is not
/// mistaken for a successful run of something else.
fn expect_no_arguments(command: &str, rest: &[String]) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        bail!(
            "`{command}` takes no arguments, got `{}`\n\n{USAGE}",
            rest.join(" ")
        )
    }
}

//! `cargo xtask web`: the simulator's static bundle in `target/web-dist/`: `index.html`,
//! the style sheet, and the JavaScript and WebAssembly that `wasm-bindgen` makes from the
//! `broker-web` crate. Nothing in it is fetched from elsewhere at run time.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::wasm_bindgen_cli::WasmBindgen;
use crate::wasm_toolchain::{WasmToolchain, TARGET};
use crate::{process, workspace};

/// The folder the bundle is written to. `server/build.rs` embeds it from there when
/// `cargo xtask dist` builds the server.
pub fn dist_dir() -> Result<PathBuf> {
    Ok(workspace::target_dir()?.join("web-dist"))
}

/// The files of the bundle that wasm-bindgen writes, named after the crate.
const MODULE: &str = "broker_web";

/// `cargo xtask web`.
pub fn run() -> Result<()> {
    let dist = build()?;
    println!("web: the bundle is in {}", dist.display());
    Ok(())
}

/// Builds the bundle and returns its folder.
pub fn build() -> Result<PathBuf> {
    let toolchain = WasmToolchain::select()?;
    let mut cargo = toolchain.cargo("build");
    cargo.args(["-p", "broker-web", "--lib", "--release"]);
    process::run(&mut cargo)?;
    let wasm = toolchain
        .target_dir()?
        .join(TARGET)
        .join("release")
        .join(format!("{MODULE}.wasm"));
    if !wasm.is_file() {
        bail!("the build left no {}", wasm.display());
    }
    let bindgen = WasmBindgen::ensure()?;
    let dist = dist_dir()?;
    // A fresh folder each time, so no file of an older build lingers in the bundle.
    if dist.exists() {
        fs::remove_dir_all(&dist).with_context(|| format!("cannot clear {}", dist.display()))?;
    }
    fs::create_dir_all(&dist).with_context(|| format!("cannot create {}", dist.display()))?;
    process::run(
        bindgen
            .bindgen()
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&dist)
            .arg(&wasm),
    )?;
    copy_static(&workspace::root().join("web").join("static"), &dist)?;
    for name in [
        "index.html",
        "style.css",
        &format!("{MODULE}.js"),
        &format!("{MODULE}_bg.wasm"),
    ] {
        let file = dist.join(name);
        let size = fs::metadata(&file)
            .with_context(|| format!("the bundle lacks {name}"))?
            .len();
        println!("web: {name} ({} KiB)", size.div_ceil(1024));
    }
    println!(
        "web: built with {toolchain} and wasm-bindgen {}",
        bindgen.version
    );
    Ok(dist)
}

/// Copies the hand-written files (the page and its style sheet) next to the generated ones.
fn copy_static(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", from.display()))?
            .path();
        if let Some(name) = path.file_name().filter(|_| path.is_file()) {
            fs::copy(&path, to.join(name))
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
    }
    Ok(())
}

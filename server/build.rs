//! Embeds the simulator's web bundle into the binary, when there is one to embed.
//!
//! `cargo xtask dist` builds the bundle (`cargo xtask web`) and then this crate with
//! `BROKERLAB_WEB_DIST` naming the bundle's folder; every file in it is compiled in with
//! `include_bytes!` and served at `/<name>`, `index.html` also at `/`. Without the variable
//! (a plain `cargo build` or `cargo test`) nothing is embedded and `/` serves a page that
//! says so, so the server never depends on a wasm toolchain to build.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=BROKERLAB_WEB_DIST");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"));
    let code = match env::var_os("BROKERLAB_WEB_DIST") {
        Some(dir) => embed(Path::new(&dir)),
        None => "/// No bundle was embedded in this build.\npub static FILES: &[File] = &[];\n"
            .to_owned(),
    };
    fs::write(out.join("bundle.rs"), code).expect("OUT_DIR is writable");
}

/// The source of a `FILES` table that includes every file of `dir`.
fn embed(dir: &Path) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("BROKERLAB_WEB_DIST={}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    names.sort();
    if !names
        .iter()
        .any(|p| p.file_name().is_some_and(|n| n == "index.html"))
    {
        panic!(
            "BROKERLAB_WEB_DIST={} has no index.html: run `cargo xtask web`",
            dir.display()
        );
    }
    let mut code = String::from(
        "/// The simulator's bundle, embedded by build.rs.\npub static FILES: &[File] = &[\n",
    );
    for path in names {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let absolute = fs::canonicalize(&path).unwrap_or(path.clone());
        writeln!(
            code,
            "    File {{ name: {name:?}, content_type: {:?}, bytes: include_bytes!({:?}) }},",
            content_type(name),
            absolute.display().to_string(),
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    code
}

/// The content type browsers need for each kind of file in the bundle: `application/wasm`
/// in particular, without which the module cannot be compiled while it streams in.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

//! The fallback wasm toolchain: Debian's `rustc-web` (a rustc whose LLVM has the WebAssembly
//! target) and the matching standard-library sources, fetched with `apt-get download` and
//! unpacked with `dpkg -x` into `target/wasm-toolchain/`. Nothing is installed into `/`,
//! where rustc-web would conflict with other Rust packages; the only change to the system is
//! `apt-get update`, and only when the apt cache cannot provide the packages.

use std::collections::BTreeSet;
use std::env;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use crate::steps::human;
use crate::{process, workspace};

const COMPILER: &str = "rustc-web";

/// Written last, so that a folder without it is the leftover of an interrupted run and is
/// provisioned again from scratch. It holds the package versions, first the compiler's.
const MARKER: &str = "complete";

/// The folder, inside the private one, that the packages are unpacked into.
const ROOT: &str = "root";

/// Where cargo's `-Zbuild-std` looks for the standard library's sources in a sysroot.
const STD_SOURCES: &str = "usr/lib/rustlib/src/rust/library";

pub struct Toolchain {
    /// The Debian version of `rustc-web`, for example `1.85.0+dfsg3-1~deb12u3`.
    version: String,
    /// The environment that points the host cargo at this compiler for a wasm build.
    env: Vec<(&'static str, OsString)>,
}

impl Toolchain {
    /// The toolchain that an earlier run unpacked completely, if there is one.
    pub fn cached() -> Result<Option<Self>> {
        let dir = folder()?;
        match cached_version(&dir) {
            Some(version) => {
                println!(
                    "wasm toolchain: reusing {COMPILER} {version} from {}",
                    dir.display()
                );
                Self::unpacked_in(&dir, version).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Downloads and unpacks the toolchain, replacing anything an interrupted run left.
    pub fn provision() -> Result<Self> {
        let dir = folder()?;
        let started = Instant::now();
        let version = install(&dir).context(
            "cannot provision Debian's rustc-web as a wasm toolchain; where rustup can reach \
             its server, `rustup target add wasm32-unknown-unknown` is enough",
        )?;
        println!(
            "wasm toolchain: provisioned {COMPILER} {version} in {} ({})",
            dir.display(),
            human(started.elapsed())
        );
        Self::unpacked_in(&dir, version)
    }

    fn unpacked_in(dir: &Path, version: String) -> Result<Self> {
        let env = environment(&dir.join(ROOT))?;
        println!("wasm toolchain: wasm builds use `-Zbuild-std=std,panic_abort` and:");
        for (name, value) in &env {
            println!("    {name}={}", value.to_string_lossy());
        }
        Ok(Self { version, env })
    }

    /// Points a cargo command at this compiler, which builds the standard library from source.
    pub fn configure(&self, cmd: &mut Command) {
        cmd.arg("-Zbuild-std=std,panic_abort")
            .envs(self.env.iter().map(|(name, value)| (name, value)));
    }
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Debian {COMPILER} {}, std built from source",
            self.version
        )
    }
}

/// The private folder, `target/wasm-toolchain/`, which also holds the marker and, during a
/// download, the package archives.
fn folder() -> Result<PathBuf> {
    Ok(workspace::target_dir()?.join("wasm-toolchain"))
}

fn cached_version(dir: &Path) -> Option<String> {
    let marker = fs::read_to_string(dir.join(MARKER)).ok()?;
    let version = marker.lines().next()?.trim();
    let complete = !version.is_empty() && dir.join(ROOT).join("usr/bin/rustc").is_file();
    complete.then(|| version.to_owned())
}

/// Downloads and unpacks the packages, and returns the compiler's version.
fn install(dir: &Path) -> Result<String> {
    // Without the marker, whatever is here was left by an interrupted run.
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let root = dir.join(ROOT);
    let debs = dir.join("debs");
    let packages = match download(&debs) {
        Ok(packages) => packages,
        Err(err) => {
            println!(
                "wasm toolchain: the apt cache cannot provide {COMPILER} ({err:#}); refreshing it"
            );
            process::run(Command::new("apt-get").arg("update"))
                .context("cannot refresh the apt cache (`apt-get update` needs root)")?;
            download(&debs)?
        }
    };
    for archive in archives(&debs)? {
        process::run(Command::new("dpkg").arg("-x").arg(archive).arg(&root))?;
    }
    check(&root)?;
    let marker = format!("{}\n{}\n", packages.version, packages.names.join("\n"));
    fs::write(dir.join(MARKER), marker).context("cannot write the toolchain's marker file")?;
    // The unpacked tree is all that builds need; the archives would only keep ~140 MB busy.
    fs::remove_dir_all(&debs).with_context(|| format!("cannot remove {}", debs.display()))?;
    Ok(packages.version)
}

/// The packages to fetch, pinned to the compiler's version where they must match it.
struct Packages {
    version: String,
    names: Vec<String>,
}

fn download(debs: &Path) -> Result<Packages> {
    if debs.exists() {
        fs::remove_dir_all(debs).with_context(|| format!("cannot clear {}", debs.display()))?;
    }
    fs::create_dir_all(debs).with_context(|| format!("cannot create {}", debs.display()))?;
    let packages = resolve()?;
    process::run(
        Command::new("apt-get")
            .arg("download")
            .args(&packages.names)
            .current_dir(debs),
    )?;
    Ok(packages)
}

/// Reads from the apt cache which packages make up the toolchain: the compiler, the standard
/// library for the host (build scripts need it), the standard library's sources, and the
/// LLVM library the compiler links against.
fn resolve() -> Result<Packages> {
    let policy = process::capture(Command::new("apt-cache").args(["policy", COMPILER]))?;
    let version =
        candidate(&policy).ok_or_else(|| anyhow!("apt-cache knows no version of {COMPILER}"))?;
    let series = series(&version)?;
    let matching = [
        COMPILER.to_owned(),
        "libstd-rust-web-dev".to_owned(),
        format!("libstd-rust-web-{series}"),
        "rust-web-src".to_owned(),
    ];
    // The LLVM library is a dependency of the compiler in some releases and of the standard
    // library's shared objects in others (1.85 has it there), so look through all three.
    let depends = process::capture(
        Command::new("apt-cache")
            .arg("depends")
            .args(&matching[..3]),
    )?;
    let mut names: Vec<String> = matching
        .iter()
        .map(|name| format!("{name}={version}"))
        .collect();
    names.push(llvm_package(&depends)?);
    Ok(Packages { version, names })
}

/// The `Candidate:` line of `apt-cache policy`.
fn candidate(policy: &str) -> Option<String> {
    let version = policy
        .lines()
        .find_map(|line| line.trim().strip_prefix("Candidate:"))?
        .trim();
    (!version.is_empty() && version != "(none)").then(|| version.to_owned())
}

/// The Rust release series in a Debian version (`1.85` in `1.85.0+dfsg3-1~deb12u3`), which
/// names the package of the standard library's shared objects.
fn series(version: &str) -> Result<String> {
    let upstream = version
        .split_once(':')
        .map_or(version, |(_epoch, rest)| rest);
    let mut parts = upstream.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) if is_number(major) && is_number(minor) => {
            Ok(format!("{major}.{minor}"))
        }
        _ => bail!("cannot read the Rust release from {COMPILER} version `{version}`"),
    }
}

/// The one `libllvm<major>` package among the dependencies listed by `apt-cache depends`.
fn llvm_package(depends: &str) -> Result<String> {
    let found: BTreeSet<&str> = depends
        .lines()
        .filter_map(|line| line.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(str::trim)
        .filter(|name| name.strip_prefix("libllvm").is_some_and(is_number))
        .collect();
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some(name), None) => Ok(name.to_owned()),
        (None, _) => bail!("no libllvm package among the dependencies of {COMPILER}"),
        (Some(first), Some(second)) => {
            bail!("{COMPILER} depends on several LLVM libraries ({first}, {second}, ...)")
        }
    }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Proves that the unpacked compiler starts and that the sources `-Zbuild-std` needs are in
/// place, so that the marker is only written for a usable toolchain.
fn check(root: &Path) -> Result<()> {
    let version = process::capture(
        Command::new(root.join("usr/bin/rustc"))
            .arg("--version")
            .env("LD_LIBRARY_PATH", library_path(root)),
    )
    .context("the unpacked rustc does not run")?;
    println!("wasm toolchain: unpacked {}", version.trim());
    if !root.join(STD_SOURCES).is_dir() {
        bail!(
            "the standard library's sources are missing from {}",
            root.join(STD_SOURCES).display()
        );
    }
    Ok(())
}

/// The environment for a wasm build with the unpacked compiler and the host cargo. Debian's
/// own cargo is not unpacked: it needs a libgit2 that is not installed.
fn environment(root: &Path) -> Result<Vec<(&'static str, OsString)>> {
    Ok(vec![
        ("RUSTC", root.join("usr/bin/rustc").into()),
        ("RUSTDOC", root.join("usr/bin/rustdoc").into()),
        ("LD_LIBRARY_PATH", library_path(root)),
        // Lets the stable host cargo accept `-Zbuild-std`.
        ("RUSTC_BOOTSTRAP", "1".into()),
        // Debian's own `rust-lld` link points into a package that is not unpacked; the host
        // toolchain's copy links wasm just as well.
        (
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER",
            host_lld()?.into(),
        ),
        // Artefacts of two different compilers must never meet (rustc rejects them, E0514).
        ("CARGO_TARGET_DIR", target_dir()?.into()),
    ])
}

/// The separate target folder of builds with this compiler.
pub fn target_dir() -> Result<PathBuf> {
    Ok(workspace::target_dir()?.join("wasm32"))
}

/// The folder holding the compiler's shared libraries: its own and LLVM's (libllvm19 and
/// libllvm22 alike) unpack into the multiarch library folder.
fn library_path(root: &Path) -> OsString {
    root.join("usr/lib")
        .join(format!("{}-linux-gnu", env::consts::ARCH))
        .into()
}

/// The host toolchain's `rust-lld`, which sits next to its standard library:
/// `<sysroot>/lib/rustlib/<host>/bin/rust-lld`.
fn host_lld() -> Result<PathBuf> {
    let libdir = process::capture(Command::new("rustc").args(["--print", "target-libdir"]))?;
    let lld = Path::new(libdir.trim())
        .parent()
        .map(|host| host.join("bin/rust-lld"))
        .filter(|lld| lld.is_file())
        .ok_or_else(|| {
            anyhow!(
                "the host toolchain has no rust-lld next to {}",
                libdir.trim()
            )
        })?;
    Ok(lld)
}

/// The downloaded package archives, in a stable order so that runs are alike.
fn archives(debs: &Path) -> Result<Vec<PathBuf>> {
    let mut archives = Vec::new();
    for entry in fs::read_dir(debs).with_context(|| format!("cannot list {}", debs.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", debs.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "deb") {
            archives.push(path);
        }
    }
    archives.sort();
    Ok(archives)
}

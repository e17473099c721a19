//! Chromium and chromedriver for the browser tests, from Debian's packages when missing
//! (CI runs as root on Debian 12). `CHROMIUM` and `CHROMEDRIVER` name other builds.

use std::env;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};

use crate::process;
use crate::steps::Outcome;

/// Where Debian's `chromium` and `chromium-driver` packages put the two programs.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser.
pub fn chromium() -> PathBuf {
    env::var_os("CHROMIUM").map_or_else(|| CHROMIUM.into(), PathBuf::from)
}

/// The WebDriver server that drives it.
pub fn chromedriver() -> PathBuf {
    env::var_os("CHROMEDRIVER").map_or_else(|| CHROMEDRIVER.into(), PathBuf::from)
}

/// Installs Chromium and chromedriver with apt-get unless both are there.
pub fn ensure_installed() -> Result<Outcome> {
    let (browser, driver) = (chromium(), chromedriver());
    if browser.is_file() && driver.is_file() {
        println!(
            "chromium: {} and {} are installed",
            browser.display(),
            driver.display()
        );
        return Ok(Outcome::Done);
    }
    if env::var_os("CHROMIUM").is_some() || env::var_os("CHROMEDRIVER").is_some() {
        bail!(
            "CHROMIUM or CHROMEDRIVER names a program that does not exist ({}, {})",
            browser.display(),
            driver.display()
        );
    }
    // The package lists of a fresh machine may be missing or stale.
    process::run(Command::new("apt-get").arg("update"))?;
    process::run(Command::new("apt-get").args(["install", "-y", "chromium", "chromium-driver"]))?;
    if !(browser.is_file() && driver.is_file()) {
        bail!(
            "apt-get installed Chromium, but {} or {} is still missing",
            CHROMIUM,
            CHROMEDRIVER
        );
    }
    Ok(Outcome::Done)
}

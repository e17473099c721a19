//! Building the broker's `Config` from defaults, a TOML file, `--set` overrides and flags.
//!
//! Loading is generic: broker-core's `Config` is deserialized from one TOML table, so any
//! key the core adds is configurable here without a change, and a key it does not know is
//! an error that names it. The table starts as the chosen profile's own defaults (so a
//! profile may default settings differently from `Config::default()`), then the file is
//! merged over it, then each `--set`, then the flags.
//!
//! Two settings are not `Config` fields in TOML form: the `[policy]` section and the
//! `users` file name. They name files whose contents become `Config::policies` and
//! `Config::users`, so they are taken out of the table and loaded by `policies.rs` and
//! `users.rs` instead.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use broker_core::{Config, Profile};
use toml::{Table, Value};

use crate::cli::ServeArgs;
use crate::policies::{self, Section};
use crate::users;

/// A configuration ready for the broker, and whether its seed was drawn at random (the
/// start-up log then says how to repeat the run).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub seed_was_random: bool,
    /// Where sessions and retained messages are kept across restarts (`--data-dir`, or
    /// `data_dir` in the file); `None` keeps them in memory only.
    pub data_dir: Option<PathBuf>,
}

/// The configuration file's key for the data dir.
const DATA_DIR_KEY: &str = "data_dir";

/// The profile a run uses when neither a flag nor the file chooses one: the product's
/// reference behaviour.
const DEFAULT_PROFILE: Profile = Profile::AwsIot;

pub fn load(args: &ServeArgs) -> Result<Loaded> {
    let mut user = match &args.config {
        Some(path) => {
            let mut table = read_file(path)?;
            anchor_paths(&mut table, path.parent().unwrap_or(Path::new("")))?;
            table
        }
        None => Table::new(),
    };
    for assignment in &args.set {
        apply_set(&mut user, assignment)?;
    }
    // Taken out before deserializing: `Config` skips these fields, and with
    // deny_unknown_fields a skipped field counts as unknown.
    let policy_section = user
        .remove(policies::SECTION)
        .map(Section::from_toml)
        .transpose()?;
    let data_dir = match (&args.data_dir, user.remove(DATA_DIR_KEY)) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(Value::String(path))) => Some(PathBuf::from(path)),
        (None, Some(other)) => bail!("`{DATA_DIR_KEY}` must be a folder name, got {other}"),
        (None, None) => None,
    };
    let users_file = match (&args.users, user.remove(users::KEY)) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(Value::String(path))) => Some(PathBuf::from(path)),
        (None, Some(other)) => bail!("`{}` must be a file name, got {other}", users::KEY),
        (None, None) => None,
    };
    let profile = match args.profile {
        Some(profile) => profile,
        None => match user.get("profile") {
            Some(Value::String(name)) => name.parse().map_err(|e: String| anyhow!(e))?,
            Some(other) => bail!("`profile` must be a string, got {other}"),
            None => DEFAULT_PROFILE,
        },
    };
    user.insert("profile".into(), Value::String(profile.name().into()));
    // The seed is set after deserializing, because a u64 seed may not fit a TOML integer.
    let seed_key = user.remove("seed");

    let mut table = Table::try_from(Config::for_profile(profile))
        .context("cannot express the profile's defaults as TOML")?;
    table.remove("seed");
    merge(&mut table, user);
    let mut config: Config = table
        .try_into()
        .context("invalid configuration (from --config and --set)")?;

    let (seed, seed_was_random) = match (args.seed, seed_key) {
        (Some(seed), _) => (seed, false),
        (None, Some(Value::Integer(seed))) => (
            u64::try_from(seed).map_err(|_| anyhow!("`seed` must not be negative"))?,
            false,
        ),
        (None, Some(other)) => bail!("`seed` must be an integer, got {other}"),
        (None, None) => (random_seed(), true),
    };
    config.seed = seed;
    config.policies = policies::load(policy_section, &args.policies)?;
    config.users = users_file.as_deref().map(users::load).transpose()?;
    Ok(Loaded {
        config,
        seed_was_random,
        data_dir,
    })
}

fn read_file(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    text.parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

/// Makes the file names that a configuration file in `dir` gives (the `users` file and the
/// `[policy]` documents) relative to that folder rather than to the working directory, so
/// that a configuration and its files can be moved together. Names given by `--set` are
/// applied later and stay relative to the working directory, as other command-line paths
/// are. Values of the wrong type are left for deserializing to report.
fn anchor_paths(table: &mut Table, dir: &Path) -> Result<()> {
    for key in [users::KEY, DATA_DIR_KEY] {
        if let Some(file) = table.get_mut(key) {
            anchor(file, dir)?;
        }
    }
    let Some(Value::Table(section)) = table.get_mut(policies::SECTION) else {
        return Ok(());
    };
    for (key, value) in section.iter_mut() {
        let lists: Vec<&mut Value> = match (key.as_str(), value) {
            ("default", list) => vec![list],
            ("principals", Value::Table(principals)) => {
                principals.iter_mut().map(|(_, files)| files).collect()
            }
            _ => continue,
        };
        for list in lists {
            if let Value::Array(files) = list {
                for file in files {
                    anchor(file, dir)?;
                }
            }
        }
    }
    Ok(())
}

/// Rewrites a string holding a relative path as `dir` joined with it. It stays a TOML
/// string so that `--set` can still replace it; a folder whose name is not UTF-8 cannot be
/// written into one, and is an error rather than a silently wrong path.
fn anchor(value: &mut Value, dir: &Path) -> Result<()> {
    let Value::String(path) = value else {
        return Ok(());
    };
    if Path::new(path.as_str()).is_absolute() {
        return Ok(());
    }
    let joined = dir.join(path.as_str());
    let Some(joined) = joined.to_str() else {
        bail!(
            "cannot resolve {path:?} against {}: the folder's name is not UTF-8",
            dir.display()
        );
    };
    *value = Value::String(joined.to_owned());
    Ok(())
}

/// Applies one `KEY=VALUE`: the value is parsed as a TOML value, so `50`, `0.1`, `true`
/// and `"text"` have their types, and anything that is not TOML (`aws-iot`) is a string.
fn apply_set(table: &mut Table, assignment: &str) -> Result<()> {
    let Some((key, raw)) = assignment.split_once('=') else {
        bail!("--set expects KEY=VALUE, got `{assignment}`");
    };
    let value = parse_value(raw.trim());
    let mut path = key.trim().split('.').peekable();
    let mut current = table;
    while let Some(part) = path.next() {
        if part.is_empty() {
            bail!("--set `{assignment}`: the key has an empty part");
        }
        if path.peek().is_none() {
            current.insert(part.into(), value);
            return Ok(());
        }
        let entry = current
            .entry(part)
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(inner) => inner,
            _ => bail!("--set `{assignment}`: `{part}` is not a section"),
        };
    }
    bail!("--set `{assignment}`: the key is empty")
}

fn parse_value(raw: &str) -> Value {
    // A TOML value on its own is not a document, so it is read as the right-hand side of a
    // one-line document.
    format!("value = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut doc| doc.remove("value"))
        .unwrap_or_else(|| Value::String(raw.into()))
}

/// Merges `overrides` into `base`: sections merge key by key, anything else replaces.
fn merge(base: &mut Table, overrides: Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(inner)), Value::Table(value)) => merge(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// A seed from the operating system's randomness. The standard library's hasher keys are
/// drawn from it, which spares a dependency for the one random number the server needs.
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn load_args(args: &[&str]) -> Result<Loaded> {
        let cli = Cli::try_parse_from(["brokerlab", "serve"].iter().chain(args))?;
        let Command::Serve(serve) = cli.command else {
            anyhow::bail!("not a serve command");
        };
        load(&serve)
    }

    #[test]
    fn the_default_is_aws_iot_with_a_random_seed() -> Result<()> {
        let loaded = load_args(&[])?;
        assert_eq!(loaded.config.profile, Profile::AwsIot);
        assert!(loaded.seed_was_random);
        Ok(())
    }

    #[test]
    fn flags_win_over_set() -> Result<()> {
        let loaded = load_args(&[
            "--set",
            "profile=aws-iot",
            "--profile",
            "mqtt-3.1.1",
            "--set",
            "seed=5",
            "--seed",
            "7",
        ])?;
        assert_eq!(loaded.config.profile, Profile::Standard);
        assert_eq!(loaded.config.seed, 7);
        assert!(!loaded.seed_was_random);
        Ok(())
    }

    #[test]
    fn a_seed_from_set_is_used() -> Result<()> {
        let loaded = load_args(&["--set", "seed=5", "--set", "aws.max_payload=10"])?;
        assert_eq!(loaded.config.seed, 5);
        assert_eq!(loaded.config.aws.max_payload, 10);
        Ok(())
    }

    fn table(text: &str) -> Table {
        text.parse().expect("test TOML is valid")
    }

    #[test]
    fn set_reaches_into_sections_and_keeps_types() {
        let mut t = table("[aws]\nmax_payload = 10\n");
        apply_set(&mut t, "aws.qos0_duplicate_probability=0.25").expect("valid");
        apply_set(&mut t, "max_inflight=50").expect("valid");
        apply_set(&mut t, "profile=mqtt-3.1.1").expect("valid");
        assert_eq!(
            t.to_string(),
            table(
                "max_inflight = 50\nprofile = \"mqtt-3.1.1\"\n\
                 [aws]\nmax_payload = 10\nqos0_duplicate_probability = 0.25\n"
            )
            .to_string()
        );
    }

    #[test]
    fn set_into_a_value_is_an_error() {
        let mut t = table("max_inflight = 5\n");
        let err = apply_set(&mut t, "max_inflight.x=1").expect_err("not a section");
        assert!(err.to_string().contains("not a section"), "{err}");
    }

    #[test]
    fn paths_in_the_file_are_relative_to_its_folder() -> Result<()> {
        let mut t = table(
            "users = \"users.txt\"\ndata_dir = \"state\"\n[policy]\nregion = \"eu-west-1\"\n\
             default = [\"/etc/a.json\", \"b.json\"]\n[policy.principals]\np = [\"c/d.json\"]\n",
        );
        anchor_paths(&mut t, Path::new("/conf"))?;
        assert_eq!(
            t.to_string(),
            table(
                "users = \"/conf/users.txt\"\ndata_dir = \"/conf/state\"\n[policy]\nregion = \"eu-west-1\"\n\
                 default = [\"/etc/a.json\", \"/conf/b.json\"]\n\
                 [policy.principals]\np = [\"/conf/c/d.json\"]\n"
            )
            .to_string()
        );
        Ok(())
    }

    #[test]
    fn the_data_dir_flag_wins_over_the_key_and_none_means_memory() -> Result<()> {
        assert_eq!(load_args(&[])?.data_dir, None);
        let from_key = load_args(&["--set", "data_dir=state"])?;
        assert_eq!(from_key.data_dir, Some(PathBuf::from("state")));
        let flag = load_args(&["--data-dir", "/d", "--set", "data_dir=state"])?;
        assert_eq!(flag.data_dir, Some(PathBuf::from("/d")));
        Ok(())
    }

    #[test]
    fn a_users_key_of_the_wrong_type_is_an_error() {
        let err = load_args(&["--set", "users=5"]).expect_err("not a file name");
        assert!(
            err.to_string().contains("`users` must be a file name"),
            "{err}"
        );
    }

    #[test]
    fn merge_keeps_defaults_beside_overrides() {
        let mut base = table("a = 1\n[s]\nx = 1\ny = 2\n");
        merge(&mut base, table("[s]\ny = 3\n"));
        assert_eq!(
            base.to_string(),
            table("a = 1\n[s]\nx = 1\ny = 3\n").to_string()
        );
    }
}

//! Loading AWS IoT policies for the broker: the `--policy` files and the `[policy]` section
//! of `--config`, turned into broker-core's `PolicySet` (see docs/policies.md).
//!
//! Enforcement is all or nothing: a run that names no policy document at all leaves
//! `Config::policies` unset, and the broker allows everything as a plain MQTT broker does.
//! Naming even one document switches to AWS's model, where whatever no statement allows is
//! denied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use broker_core::policy::{PolicyDocument, PolicySet};
use serde::Deserialize;
use toml::Value;
use tracing::warn;

/// The key of the policies section in `--config`.
pub const SECTION: &str = "policy";

/// The `[policy]` section as written in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The region written into resource ARNs; `PolicySet::default()`'s when absent.
    region: Option<String>,
    /// The account id written into resource ARNs; `PolicySet::default()`'s when absent.
    account: Option<String>,
    /// Documents attached to every principal.
    #[serde(default)]
    default: Vec<PathBuf>,
    /// Documents attached to one principal each: a certificate common name or a user name.
    #[serde(default)]
    principals: BTreeMap<String, Vec<PathBuf>>,
}

impl Section {
    /// Reads the section from its TOML value, naming the section in any error.
    pub fn from_toml(value: Value) -> Result<Section> {
        value
            .try_into()
            .with_context(|| format!("invalid [{SECTION}] section"))
    }
}

/// The policy set to enforce: the section's documents plus each `--policy` file attached to
/// everyone, or `None` when no document is named anywhere.
pub fn load(section: Option<Section>, extra_default: &[PathBuf]) -> Result<Option<PolicySet>> {
    let section = section.unwrap_or_default();
    let named = section.default.len()
        + extra_default.len()
        + section.principals.values().map(Vec::len).sum::<usize>();
    if named == 0 {
        if section.region.is_some() || section.account.is_some() {
            warn!("the [{SECTION}] section names no policy document: policies are not enforced");
        }
        return Ok(None);
    }
    let defaults = PolicySet::default();
    let mut set = PolicySet::new(
        section.region.as_deref().unwrap_or(&defaults.region),
        section.account.as_deref().unwrap_or(&defaults.account),
    );
    for path in section.default.iter().chain(extra_default) {
        set.attach_default(read_document(path)?);
    }
    for (principal, paths) in &section.principals {
        for path in paths {
            set.attach(principal, read_document(path)?);
        }
    }
    Ok(Some(set))
}

/// Reads and parses one document, named after its file without the extension
/// (`device.json` is policy `device`), as AWS names policies rather than files. Errors
/// start with the path, then give the parser's line, column and reason.
fn read_document(path: &Path) -> Result<PolicyDocument> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy document {}", path.display()))?;
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    PolicyDocument::parse(&name, &text).with_context(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use broker_core::policy::{Action, Variables};

    use super::*;

    const ALLOW_ALL: &str = r#"{"Statement":{"Effect":"Allow","Action":"iot:*","Resource":"*"}}"#;

    /// A folder of files for one test, removed when dropped.
    struct Folder(PathBuf);

    impl Folder {
        fn new(name: &str) -> Folder {
            let dir = std::env::temp_dir()
                .join(format!("brokerlab-policies-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a temporary folder can be made");
            Folder(dir)
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("a temporary file can be written");
            path
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn may_connect(set: &PolicySet, principal: Option<&str>, client_id: &str) -> bool {
        let vars = Variables {
            client_id: Some(client_id),
            common_name: None,
        };
        set.evaluate(principal, Action::Connect, client_id, &vars)
            .allowed
    }

    #[test]
    fn nothing_named_means_no_enforcement() -> Result<()> {
        assert!(load(None, &[])?.is_none());
        let section = Section::from_toml(toml::from_str("region = \"eu-west-1\"")?)?;
        assert!(load(Some(section), &[])?.is_none());
        Ok(())
    }

    #[test]
    fn files_attach_to_everyone_and_sections_to_principals() -> Result<()> {
        let folder = Folder::new("attach");
        let all = folder.file("all.json", ALLOW_ALL);
        let only = folder.file("only.json", ALLOW_ALL);
        let mut section = Section::from_toml(toml::from_str(
            "region = \"eu-west-1\"\naccount = \"111122223333\"\n",
        )?)?;
        section.principals.insert("sensor-7".into(), vec![only]);
        let set = load(Some(section), &[])?.expect("enforced");
        assert_eq!(
            (set.region.as_str(), set.account.as_str()),
            ("eu-west-1", "111122223333")
        );
        assert!(may_connect(&set, Some("sensor-7"), "x"));
        assert!(!may_connect(&set, Some("sensor-8"), "x"));
        assert!(!may_connect(&set, None, "x"));

        let set = load(None, &[all])?.expect("enforced");
        assert_eq!(set.region, PolicySet::default().region);
        assert!(may_connect(&set, None, "x"));
        Ok(())
    }

    #[test]
    fn a_malformed_document_names_its_path_line_and_reason() {
        let folder = Folder::new("malformed");
        let bad = folder.file(
            "bad.json",
            "{\n  \"Statement\": {\n    \"Effect\": \"Alow\", \"Action\": \"iot:*\", \"Resource\": \"*\" }\n}\n",
        );
        let err = load(None, std::slice::from_ref(&bad)).expect_err("malformed");
        let message = format!("{err:#}");
        assert!(message.starts_with(&bad.display().to_string()), "{message}");
        assert!(message.contains("policy bad: line 3"), "{message}");
        assert!(message.contains("Alow"), "{message}");
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() -> Result<()> {
        let err = Section::from_toml(toml::from_str("regoin = \"x\"")?).expect_err("unknown");
        assert!(
            format!("{err:#}").contains("unknown field `regoin`"),
            "{err:#}"
        );
        let err = load(None, &[PathBuf::from("/nonexistent/p.json")]).expect_err("missing");
        assert!(
            format!("{err:#}").contains("/nonexistent/p.json"),
            "{err:#}"
        );
        Ok(())
    }
}

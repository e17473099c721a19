//! The `--users` file: the user names and passwords a plain connection must present.
//!
//! One `username:password` per line; `#` starts a comment line and blank lines are
//! skipped. Everything after the first colon is the password, spaces included, so that
//! any password can be written; a user name cannot contain a colon, as in HTTP basic
//! authentication. The passwords are in clear text: this is a test broker's stand-in for
//! AWS IoT's custom authorizers, not a credential store.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};

/// The key of the users file in `--config`.
pub const KEY: &str = "users";

/// Why a line of the users file was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for LineError {}

/// Reads the users file at `path`.
pub fn load(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the users file {}", path.display()))?;
    parse(&text).with_context(|| format!("users file {}", path.display()))
}

/// Parses the file's text into user name → password.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, LineError> {
    let mut users = BTreeMap::new();
    let mut first_seen = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let error = |reason: String| LineError {
            line: number,
            reason,
        };
        let Some((user, password)) = line.split_once(':') else {
            return Err(error("expected `username:password`".into()));
        };
        if user.is_empty() {
            return Err(error("the user name is empty".into()));
        }
        // A second entry would silently replace the first, leaving a password that looks
        // valid in the file but is refused: better to say so.
        if let Some(first) = first_seen.insert(user.to_owned(), number) {
            return Err(error(format!(
                "user {user:?} is already listed on line {first}"
            )));
        }
        users.insert(user.to_owned(), password.to_owned());
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_colons_in_passwords() {
        let users =
            parse("# devices\n\nalice:secret\r\n  # indented comment\nbob:a:b c\n").expect("valid");
        let expected: BTreeMap<String, String> = [("alice", "secret"), ("bob", "a:b c")]
            .into_iter()
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
            .collect();
        assert_eq!(users, expected);
    }

    #[test]
    fn malformed_lines_name_their_number() {
        let no_colon = parse("alice:secret\n\nbob\n").expect_err("no colon");
        assert_eq!(no_colon.line, 3);
        assert_eq!(no_colon.to_string(), "line 3: expected `username:password`");
        assert_eq!(parse(":pw").expect_err("empty user").line, 1);
        let twice = parse("a:1\na:2\n").expect_err("listed twice");
        assert_eq!(
            twice.to_string(),
            "line 2: user \"a\" is already listed on line 1"
        );
    }
}

//! A fresh data dir for one test, removed when dropped.

use std::path::{Path, PathBuf};

/// A folder under the system's temporary directory, unique to the test and the process.
#[derive(Debug)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(name: &str) -> DataDir {
        let dir =
            std::env::temp_dir().join(format!("brokerlab-data-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        DataDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path as an argument for `--data-dir`.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("temporary paths are UTF-8 here")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

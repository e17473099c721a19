//! Reading a process's memory use from `/proc/<pid>/status` (Linux only).

use anyhow::{anyhow, Context, Result};

/// A field of `/proc/<pid>/status` in KiB: `VmRSS` (resident now) or `VmHWM` (the
/// resident peak).
pub fn memory_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let prefix = format!("{field}:");
    let line = status
        .lines()
        .find(|line| line.starts_with(&prefix))
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))?;
    line[prefix.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("bad line `{line}`"))
}

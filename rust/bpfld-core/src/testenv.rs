// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Inputs of the host tests that read the Linux 6.12 tree, and their skip rule.

use std::path::PathBuf;
use std::vec::Vec;

/// Whether this is a CI run, where a missing input is a failure, not a skip.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skip a test whose inputs or tools are missing, unless in CI, where they must be there.
pub(crate) fn skip(why: &str) {
    assert!(!in_ci(), "CI=true and {why}");
    std::println!("SKIP: {why}");
}

/// The extracted 6.12 tree: `BPFLD_LINUX_SRC`, else the newest one `scripts/kernel --src`
/// made in the cache (`BPFLD_CACHE`, `$XDG_CACHE_HOME/bpfld`, `~/.cache/bpfld`).
pub(crate) fn linux_tree() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BPFLD_LINUX_SRC") {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var_os("BPFLD_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("bpfld")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/bpfld")))?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache.join("src"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("linux-6.12"))
        })
        .collect();
    dirs.sort();
    dirs.pop()
}

// SPDX-License-Identifier: GPL-2.0-only

//! bpfld user space: the `/dev/bpfld` ABI mirror, ioctl wrappers, a user-space executor
//! for the core's plans, and the small pieces the CLI and the selftests share.

pub mod dev;
pub mod host;
pub mod kmsg;
pub mod ktap;
pub mod load;
pub mod loaddir;
pub mod parity;
pub mod sys;
pub mod uapi;
pub mod verity;

use std::process::Command;

/// Run a command to its end: its standard output then its standard error, as text;
/// `Err` names the command line and its exit status before that text if it failed.
pub fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd} {}: {}: {text}", args.join(" "), out.status))
    }
}

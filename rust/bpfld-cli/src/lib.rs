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

/// The clang flags a BPF program built on this machine for its own kernel needs beside
/// `-target bpf`: the multiarch directory of the UAPI headers (their <asm/...>, which
/// `-target bpf` does not search) and `__TARGET_ARCH` (pt_regs in bpf_tracing.h).
pub fn bpf_arch_flags() -> [&'static str; 2] {
    match std::env::consts::ARCH {
        "aarch64" => ["-I/usr/include/aarch64-linux-gnu", "-D__TARGET_ARCH_arm64"],
        _ => ["-I/usr/include/x86_64-linux-gnu", "-D__TARGET_ARCH_x86"],
    }
}

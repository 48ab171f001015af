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

/// How the machine this runs on executes its code, for reports made inside the test
/// VM: "KVM" when the hypervisor's CPUID leaf (0x40000000) carries KVM's signature (the
/// guest runs on the host's CPU), otherwise "TCG" (QEMU's emulator signs that leaf
/// "TCGTCGTCGTCG", or leaves it out). Only for the test VM: a host that is itself a
/// KVM guest answers "KVM".
pub fn guest_accel() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: CPUID exists on every x86-64 CPU; a leaf beyond the CPU's range
        // returns some other leaf's values, never faults. (Safe to call from Rust 1.87
        // on; this crate builds with 1.85 too.)
        #[allow(unused_unsafe)]
        let r = unsafe { core::arch::x86_64::__cpuid(0x4000_0000) };
        let mut sig = [0u8; 12];
        sig[..4].copy_from_slice(&r.ebx.to_le_bytes());
        sig[4..8].copy_from_slice(&r.ecx.to_le_bytes());
        sig[8..].copy_from_slice(&r.edx.to_le_bytes());
        if &sig == b"KVMKVMKVM\0\0\0" {
            return "KVM";
        }
    }
    "TCG"
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

// SPDX-License-Identifier: GPL-2.0-only

//! In-VM selftests for bpfld.ko, run by `selftests/run` inside the test kernel.
//!
//! usage: bpfld-selftests --module PATH/bpfld.ko [--ktap FILE] [--filter SUBSTR]
//!
//! Prints KTAP on stdout and mirrors it to FILE (on a host-shared directory). Exits 0
//! only if every test passed. Tests run in order and share the VM: the module is
//! inserted by the first test and left loaded for the ones after it.

use bpfld::dev::{cstr, Device, DEVICE};
use bpfld::ktap::{Ktap, Outcome};
use bpfld::uapi;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Command;

struct Env {
    module: String,
}

type Test = (&'static str, fn(&Env) -> Outcome);

const TESTS: &[Test] = &[
    ("kmemleak_clear", kmemleak_clear),
    ("module_insert", module_insert),
    ("device_node", device_node),
    ("version_ioctl", version_ioctl),
    ("unknown_ioctl_enotty", unknown_ioctl_enotty),
    ("module_reload_10x", module_reload_10x),
    ("kmemleak_no_bpfld_leaks", kmemleak_no_leaks),
    ("dmesg_no_warnings", dmesg_no_warnings),
];

fn main() {
    let mut args = std::env::args().skip(1);
    let mut module = None;
    let mut ktap_path = None;
    let mut filter = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--module" => module = args.next(),
            "--ktap" => ktap_path = args.next(),
            "--filter" => filter = args.next(),
            _ => {
                eprintln!("usage: bpfld-selftests --module bpfld.ko [--ktap FILE] [--filter S]");
                std::process::exit(2);
            }
        }
    }
    let Some(module) = module else {
        eprintln!("bpfld-selftests: --module is required");
        std::process::exit(2);
    };
    let env = Env { module };
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();
    let mut k = match Ktap::new(selected.len(), ktap_path.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bpfld-selftests: cannot write KTAP file: {e}");
            std::process::exit(2);
        }
    };
    for (name, f) in selected {
        let outcome = f(&env);
        k.result(name, outcome);
    }
    std::process::exit(if k.finish() { 0 } else { 1 });
}

fn fail(msg: impl Into<String>) -> Outcome {
    Outcome::Fail(msg.into())
}

/// Run a command; `Err` carries its output when it fails.
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
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

const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";

fn kmemleak_clear(_: &Env) -> Outcome {
    if !std::path::Path::new(KMEMLEAK).exists() {
        let _ = run("mount", &["-t", "debugfs", "debugfs", "/sys/kernel/debug"]);
    }
    match std::fs::write(KMEMLEAK, "clear") {
        Ok(()) => Outcome::Pass,
        Err(e) => fail(format!(
            "{KMEMLEAK}: {e} (test kernel needs DEBUG_KMEMLEAK)"
        )),
    }
}

fn module_insert(env: &Env) -> Outcome {
    match run("insmod", &[&env.module]) {
        Ok(_) => Outcome::Pass,
        Err(e) => fail(e),
    }
}

fn device_node(_: &Env) -> Outcome {
    let md = match std::fs::metadata(DEVICE) {
        Ok(m) => m,
        Err(e) => return fail(format!("{DEVICE}: {e}")),
    };
    if !md.file_type().is_char_device() {
        return fail(format!("{DEVICE} is not a character device"));
    }
    let mode = md.permissions().mode() & 0o777;
    if mode != 0o600 {
        return fail(format!("{DEVICE} mode {mode:o}, want 600"));
    }
    Outcome::Pass
}

fn version_ioctl(_: &Env) -> Outcome {
    let dev = match Device::open(DEVICE) {
        Ok(d) => d,
        Err(e) => return fail(format!("open {DEVICE}: {e}")),
    };
    let v = match dev.version() {
        Ok(v) => v,
        Err(e) => return fail(format!("BPFLD_IOC_VERSION: {e}")),
    };
    let core = cstr(&v.core_version);
    println!("# uapi {} core {core} flags {}", v.uapi_version, v.flags);
    if v.uapi_version != uapi::BPFLD_UAPI_VERSION {
        return fail(format!(
            "uapi {} != {}",
            v.uapi_version,
            uapi::BPFLD_UAPI_VERSION
        ));
    }
    if core != bpfld_core::VERSION {
        return fail(format!(
            "core version {core:?} != {:?}",
            bpfld_core::VERSION
        ));
    }
    if v.flags != 0 {
        return fail(format!("flags {} != 0", v.flags));
    }
    Outcome::Pass
}

fn unknown_ioctl_enotty(_: &Env) -> Outcome {
    let dev = match Device::open(DEVICE) {
        Ok(d) => d,
        Err(e) => return fail(format!("open {DEVICE}: {e}")),
    };
    let mut buf = [0u8; 64];
    // An unused number in our magic, the version number with a wrong size, and another
    // driver's magic.
    let cmds = [
        uapi::ior::<[u8; 64]>(0x7f),
        uapi::ior::<[u8; 64]>(0x00),
        0x5401, // TCGETS
    ];
    for cmd in cmds {
        // SAFETY: every candidate reads or writes at most 64 bytes, which `buf` holds.
        match unsafe { dev.ioctl(cmd, &mut buf) } {
            Ok(r) => return fail(format!("ioctl {cmd:#x} returned {r}, want ENOTTY")),
            Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => {}
            Err(e) => return fail(format!("ioctl {cmd:#x}: {e}, want ENOTTY")),
        }
    }
    Outcome::Pass
}

fn module_reload_10x(env: &Env) -> Outcome {
    for i in 0..10 {
        if let Err(e) = run("rmmod", &["bpfld"]) {
            return fail(format!("round {i}: {e}"));
        }
        if std::path::Path::new(DEVICE).exists() {
            return fail(format!("round {i}: {DEVICE} still exists after rmmod"));
        }
        if let Err(e) = run("insmod", &[&env.module]) {
            return fail(format!("round {i}: {e}"));
        }
        match Device::open(DEVICE).and_then(|d| d.version()) {
            Ok(v) if v.uapi_version == uapi::BPFLD_UAPI_VERSION => {}
            Ok(v) => return fail(format!("round {i}: uapi {}", v.uapi_version)),
            Err(e) => return fail(format!("round {i}: version after insmod: {e}")),
        }
    }
    Outcome::Pass
}

/// Scan twice (kmemleak reports an object only once it has been unreferenced for a full
/// scan) and fail on any leak whose backtrace involves bpfld or BPF; others (the test
/// VM's own, e.g. 9p) are shown as diagnostics.
fn kmemleak_no_leaks(_: &Env) -> Outcome {
    for _ in 0..2 {
        if let Err(e) = std::fs::write(KMEMLEAK, "scan") {
            return fail(format!("{KMEMLEAK}: {e}"));
        }
    }
    let report = match std::fs::read_to_string(KMEMLEAK) {
        Ok(r) => r,
        Err(e) => return fail(format!("{KMEMLEAK}: {e}")),
    };
    let mut ours = Vec::new();
    let mut others = 0;
    for leak in report.split("unreferenced object").skip(1) {
        if leak.contains("bpfld") || leak.contains("bpf") || leak.contains("btf") {
            ours.push(leak.to_string());
        } else {
            others += 1;
        }
    }
    if others > 0 {
        println!("# kmemleak: {others} unrelated report(s) ignored");
    }
    if ours.is_empty() {
        Outcome::Pass
    } else {
        fail(format!("{} leak(s):\n{}", ours.len(), ours.join("\n")))
    }
}

fn dmesg_no_warnings(_: &Env) -> Outcome {
    let log = match run("dmesg", &[]) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| {
            [
                "WARNING:",
                "BUG:",
                "Oops",
                "KASAN",
                "UBSAN",
                "general protection",
                "Call Trace",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        fail(bad.join("\n"))
    }
}

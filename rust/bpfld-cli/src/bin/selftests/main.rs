// SPDX-License-Identifier: GPL-2.0-only

//! In-VM selftests for bpfld.ko, run by `selftests/run` inside the test kernel.
//!
//! usage: bpfld-selftests --module PATH/bpfld.ko --corpus DIR --image IMG
//!                        [--ktap FILE] [--filter SUBSTR]
//!
//! `--filter` takes names or parts of names, comma-separated: the tests whose name
//! contains one of them run. A part written `-PART` leaves out the tests whose name
//! contains it; with only such parts, every other test runs.
//!
//! Prints KTAP on stdout and mirrors it to FILE (on a host-shared directory). Exits 0
//! only if every test passed. Tests run in order and share the VM: the module is
//! inserted early and left loaded; the ext4 image IMG (made with `-O verity` by the
//! host runner) is mounted and the corpus copied onto it with fs-verity enabled; the
//! policy is sealed near the end, which pins the module until the VM powers off.
//!
//! `bpfld-selftests --child-nocap DEV OBJ` (internal): drop every capability, then try a
//! load and exit with its errno.

mod cexample;
mod loaddir;
mod loads;
mod stress;
mod util;

use bpfld::dev::{cstr, Device, DEVICE};
use bpfld::ktap::{Ktap, Outcome};
use bpfld::uapi;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use util::run;

pub struct Env {
    module: String,
    corpus: String,
    image: String,
    /// Source tree root (for the corpus sources with their directives).
    root: String,
    /// The kernel tree's bpf_testmod.ko built for this kernel (`scripts/testmod`).
    testmod: Option<String>,
}

/// A test: its name and body.
pub enum Test {
    /// A fixed test.
    Fixed(&'static str, fn(&Env) -> Outcome),
    /// A per-object test of the corpus.
    Object(String),
}

/// A named test body.
type Named = (&'static str, fn(&Env) -> Outcome);

const FIXED_BEFORE: &[Named] = &[
    ("kmemleak_clear", kmemleak_clear),
    ("module_insert", module_insert),
    ("device_node", device_node),
    ("version_ioctl", version_ioctl),
    ("unknown_ioctl_enotty", unknown_ioctl_enotty),
    ("module_reload_10x", module_reload_10x),
    ("verity_setup", loads::verity_setup),
    ("refuse_unknown_digest", loads::refuse_unknown_digest),
    ("refuse_non_verity_ext4", loads::refuse_non_verity),
    ("refuse_tmpfs", loads::refuse_tmpfs),
    ("refuse_fd_kinds", loads::refuse_fd_kinds),
    ("refuse_oversized", loads::refuse_oversized),
    ("refuse_bad_requests", loads::refuse_bad_requests),
    ("trust_needs_cap_sys_admin", loads::trust_needs_admin),
    ("enroll_corpus", loads::enroll_corpus),
    ("c_example_load_and_pin", loads::c_example),
    (
        "c_example_global_data_rollback",
        cexample::c_example_global_data_rollback,
    ),
    (
        "c_example_compat_and_limits",
        cexample::c_example_compat_and_limits,
    ),
];

const FIXED_AFTER: &[Named] = &[
    ("refuse_revoked", loads::refuse_revoked),
    ("refuse_malformed", loads::refuse_malformed),
    ("object_names_any_bytes", loads::object_names_any_bytes),
    ("verifier_reject_returns_log", loads::verifier_reject),
    ("no_cap_bpf_eperm", loads::no_cap_bpf),
    ("arrays_too_small_enospc", loads::arrays_too_small),
    ("map_reuse", loads::map_reuse),
    (
        "reused_prog_array_failed_load",
        loads::reused_prog_array_failed_load,
    ),
    (
        "reused_prog_array_written_twice",
        loads::reused_prog_array_written_twice,
    ),
    ("autoload_option", loads::autoload_option),
    ("attach_to_bpf_program", loads::attach_to_bpf_program),
    ("attach_target_first_fd", loads::attach_target_first_fd),
    (
        "ksym_addresses_hidden_eopnotsupp",
        loads::ksym_addresses_hidden,
    ),
    ("ksym_at_address_zero", loads::ksym_at_address_zero),
    ("module_btf_refs", loads::module_btf_refs),
    ("module_btf_testmod", loads::module_btf_testmod),
    ("module_kfunc_order", loads::module_kfunc_order),
    ("arena_mapped_in_caller", loads::arena_mapped_in_caller),
    ("attach_tracepoint", loads::attach_tracepoint),
    ("attach_kprobe", loads::attach_kprobe),
    ("attach_cgroup_sysctl", loads::attach_cgroup_sysctl),
    ("struct_ops_link_attach", loads::struct_ops_link_attach),
    (
        "struct_ops_registered_at_load",
        loads::struct_ops_registered_at_load,
    ),
    ("fd_swap_race", loads::fd_swap_race),
    ("parallel_loads_8_threads", loads::parallel_loads),
    ("loaddir_corpus_pins", loaddir::loaddir_corpus_pins),
    (
        "loaddir_second_run_reuses",
        loaddir::loaddir_second_run_reuses,
    ),
    (
        "loaddir_incompatible_map_refused",
        loaddir::loaddir_incompatible_map_refused,
    ),
    (
        "loaddir_partial_and_shared_pins",
        loaddir::loaddir_partial_and_shared_pins,
    ),
    (
        "loaddir_critical_failure_stops",
        loaddir::loaddir_critical_failure_stops,
    ),
    // Before the seal: stress_rmmod unloads the module, stress_policy changes the policy.
    ("stress_processes", stress::processes),
    ("stress_rmmod_during_loads", stress::rmmod_during_loads),
    ("stress_policy_race", stress::policy_race),
    ("stress_signals", stress::signals),
    ("stress_cpu_hotplug", stress::cpu_hotplug),
    ("stress_kthread_exit_window", stress::kthread_exit_window),
    ("stress_idle_thread_killed", stress::idle_thread_killed),
    (
        "stress_rodata_written_before_freeze",
        stress::rodata_written_before_freeze,
    ),
    ("stress_revoked_during_load", stress::revoked_during_load),
    (
        "stress_revoked_while_results_copied",
        stress::revoked_while_results_copied,
    ),
    (
        "stress_struct_ops_registered_after_results",
        stress::struct_ops_registered_after_results,
    ),
    ("stress_oom_kill_mid_load", stress::oom_kill_mid_load),
    ("stress_alloc_failures", stress::alloc_failures),
    ("memcg_charges_caller", stress::memcg_charges_caller),
    ("policy_full_table_revoke", loads::policy_full_table_revoke),
    ("policy_seal", loads::policy_seal),
    ("kmemleak_no_bpfld_leaks", kmemleak_no_leaks),
    ("dmesg_no_warnings", dmesg_no_warnings),
];

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child-nocap") {
        std::process::exit(loads::child_nocap(&argv[2..]));
    }
    let mut args = argv.into_iter().skip(1);
    let (mut module, mut corpus, mut image, mut ktap_path, mut filter) =
        (None, None, None, None, None);
    let mut testmod = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--module" => module = args.next(),
            "--corpus" => corpus = args.next(),
            "--image" => image = args.next(),
            "--ktap" => ktap_path = args.next(),
            "--filter" => filter = args.next(),
            "--testmod" => testmod = args.next(),
            _ => {
                eprintln!("usage: bpfld-selftests --module bpfld.ko --corpus DIR --image IMG [--ktap FILE] [--filter S] [--testmod bpf_testmod.ko]");
                std::process::exit(2);
            }
        }
    }
    let (Some(module), Some(corpus), Some(image)) = (module, corpus, image) else {
        eprintln!("bpfld-selftests: --module, --corpus and --image are required");
        std::process::exit(2);
    };
    let root = std::path::Path::new(&module)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let env = Env {
        module,
        corpus,
        image,
        root,
        testmod,
    };
    let mut tests: Vec<Test> = FIXED_BEFORE
        .iter()
        .map(|(n, f)| Test::Fixed(n, *f))
        .collect();
    tests.extend(loads::corpus_objects(&env).into_iter().map(Test::Object));
    tests.extend(FIXED_AFTER.iter().map(|(n, f)| Test::Fixed(n, *f)));
    let name = |t: &Test| match t {
        Test::Fixed(n, _) => n.to_string(),
        Test::Object(o) => format!("load_{}", o.trim_end_matches(".bpf.o")),
    };
    let parts: Vec<&str> = filter
        .as_deref()
        .map(|f| f.split(',').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let out: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.strip_prefix('-'))
        .filter(|o| !o.is_empty())
        .collect();
    let wanted: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !p.starts_with('-'))
        .collect();
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| {
            let n = name(t);
            (wanted.is_empty() || wanted.iter().any(|w| n.contains(w)))
                && !out.iter().any(|o| n.contains(o))
        })
        .collect();
    let mut k = match Ktap::new(selected.len(), ktap_path.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bpfld-selftests: cannot write KTAP file: {e}");
            std::process::exit(2);
        }
    };
    for t in selected {
        let start = std::time::Instant::now();
        let outcome = match t {
            Test::Fixed(_, f) => f(&env),
            Test::Object(o) => loads::load_object(&env, o),
        };
        k.diag(&format!(
            "{} took {} ms",
            name(t),
            start.elapsed().as_millis()
        ));
        k.result(&name(t), outcome);
    }
    std::process::exit(if k.finish() { 0 } else { 1 });
}

pub fn fail(msg: impl Into<String>) -> Outcome {
    Outcome::Fail(msg.into())
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
        if let Some(f) = kthread_fd0() {
            return fail(format!(
                "round {i}: after rmmod the kernel threads' fd 0 is {f}"
            ));
        }
        if let Err(e) = run("insmod", &[&env.module]) {
            return fail(format!("round {i}: {e}"));
        }
        match Device::open(DEVICE).and_then(|d| d.version()) {
            Ok(v) if v.uapi_version == uapi::BPFLD_UAPI_VERSION => {}
            Ok(v) => return fail(format!("round {i}: uapi {}", v.uapi_version)),
            Err(e) => return fail(format!("round {i}: version after insmod: {e}")),
        }
        match kthread_fd0() {
            Some(f) if f.contains(KTHREAD_FD0) => {}
            f => {
                return fail(format!(
                    "round {i}: after insmod the kernel threads' fd 0 is {f:?}, \
                     want bpfld's {KTHREAD_FD0}"
                ))
            }
        }
    }
    println!("# fd 0 of the kernel threads' table: {KTHREAD_FD0} while loaded, free after");
    Outcome::Pass
}

/// The file bpfld.ko keeps at fd 0 of the kernel threads' table (init_files) while it is
/// loaded, so that no load's fd is 0 (helpers.c, bpfld_fd0).
pub(crate) const KTHREAD_FD0: &str = "bpfld-fd0";

/// What fd 0 of kthreadd (pid 2, whose table every kernel thread shares) names.
pub(crate) fn kthread_fd0() -> Option<String> {
    std::fs::read_link("/proc/2/fd/0")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Scan twice (kmemleak reports an object only once it has been unreferenced for a full
/// scan) and fail on any leak whose backtrace involves bpfld or BPF; others (the test
/// VM's own, e.g. 9p) are shown as diagnostics, and so is the one known leak of the
/// kernel's BPF code that the tests provoke ([`arm64_jit_offsets_leak`]).
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
    let (mut others, mut jit) = (0, 0);
    for leak in report.split("unreferenced object").skip(1) {
        if cfg!(target_arch = "aarch64") && arm64_jit_offsets_leak(leak) {
            jit += 1;
        } else if leak.contains("bpfld") || leak.contains("bpf") || leak.contains("btf") {
            ours.push(leak.to_string());
        } else {
            others += 1;
        }
    }
    if others > 0 {
        println!("# kmemleak: {others} unrelated report(s) ignored");
    }
    if jit > 0 {
        println!(
            "# kmemleak: {jit} offset table(s) of the arm64 JIT's first pass, leaked by the kernel \
             (bpf_jit_free() frees a subprogram's jit_data, not its ctx.offset) when \
             jit_subprogs() fails between its passes, as stress_alloc_failures makes it"
        );
    }
    if ours.is_empty() {
        Outcome::Pass
    } else {
        fail(format!("{} leak(s):\n{}", ours.len(), ours.join("\n")))
    }
}

/// Whether a kmemleak report (after "unreferenced object") is the arm64 JIT's offset
/// table, a kernel leak in 6.12 (and in later kernels as far as we have read them):
/// bpf_int_jit_compile() keeps a subprogram's `ctx.offset` (its only kvcalloc()) in
/// `jit_data` from the first pass to the extra one; when jit_subprogs() fails in
/// between (a later subprogram's JIT, an allocation), it frees the subprograms with
/// bpf_jit_free(), which frees `jit_data` but not the table (x86's frees its `addrs`).
/// Matched by the frames: the vmalloc-or-kmalloc allocator called straight from
/// bpf_int_jit_compile().
fn arm64_jit_offsets_leak(leak: &str) -> bool {
    let frames: Vec<&str> = leak
        .lines()
        .skip_while(|l| !l.contains("backtrace"))
        .map(str::trim)
        .collect();
    frames.windows(2).any(|w| {
        w[0].starts_with("__kvmalloc_node_noprof+") && w[1].starts_with("bpf_int_jit_compile+")
    })
}

fn dmesg_no_warnings(_: &Env) -> Outcome {
    // Every record since boot, read back by sequence number: a ring buffer that wrapped
    // would hide a splat of the run's first tests, so that is a failure too (the VM
    // boots with a log_buf_len= that holds a whole run; selftests/run).
    let lines = match bpfld::kmsg::since_boot() {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    println!(
        "# kernel log: {} records since boot, none lost",
        lines.len()
    );
    // An OOM report (stress_oom_kill_mid_load causes one) carries a stack trace
    // between "invoked oom-killer" and "Killed process"; only that is expected.
    let bad: Vec<&str> = bpfld::kmsg::splats(&lines)
        .into_iter()
        .map(String::as_str)
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        fail(bad.join("\n"))
    }
}

#[cfg(test)]
mod kmemleak_tests {
    use super::arm64_jit_offsets_leak;

    /// From the arm64 selftests of 2026-12-06 (a8ab5a1), after stress_alloc_failures.
    const JIT_OFFSETS: &str = " 0xffff618b84ad6a00 (size 128):
  comm \"bpfld-load\", pid 653, jiffies 4295042280
  hex dump (first 32 bytes):
    0c 00 00 00 0d 00 00 00 0e 00 00 00 13 00 00 00  ................
  backtrace (crc cbe0a754):
    kmemleak_alloc+0x38/0x50
    __kmalloc_node_noprof+0x230/0x480
    __kvmalloc_node_noprof+0x64/0x148
    bpf_int_jit_compile+0x210/0x628
    bpf_check+0x4048/0x4a68
    bpf_prog_load+0x578/0x608
    __sys_bpf+0x230/0x4d0
    kern_sys_bpf+0x78/0x238
    bpfld_sys_bpf+0x1c/0x30 [bpfld]
";

    #[test]
    fn only_the_jit_offset_table_is_the_kernels() {
        assert!(arm64_jit_offsets_leak(JIT_OFFSETS));
        // The JIT's jit_data (kzalloc) is freed by bpf_jit_free(): its leak would count.
        let jit_data = JIT_OFFSETS.replace(
            "__kvmalloc_node_noprof+0x64/0x148\n",
            "__kmalloc_cache_noprof+0x64/0x148\n",
        );
        assert!(!arm64_jit_offsets_leak(&jit_data));
        // A kvmalloc of bpfld's own.
        let ours = JIT_OFFSETS.replace(
            "bpf_int_jit_compile+0x210/0x628",
            "bpfld_main+0x10/0x20 [bpfld]",
        );
        assert!(!arm64_jit_offsets_leak(&ours));
        // The frames before the backtrace do not count.
        let comm = "  comm \"__kvmalloc_node_noprof+\"\n  bpf_int_jit_compile+\n  backtrace:\n    kmemleak_alloc+0x38/0x50\n";
        assert!(!arm64_jit_offsets_leak(comm));
    }
}

// SPDX-License-Identifier: GPL-2.0-only

//! Shared helpers of the host integration tests: building the BPF corpus, running the
//! libbpf reference harness, skipping visibly when the host cannot run BPF. The
//! comparison with libbpf is `bpfld::parity`, re-exported here.

#![allow(dead_code)]

// The comparison itself lives in the library (the VM harness `bpfld-parity` uses it too).
pub use bpfld::parity::*;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Print a visible skip; under `CI=true` a skip is a failure.
pub fn skip(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true and this test cannot run: {why}");
    }
    eprintln!("SKIP: {why}");
}

/// Why BPF cannot be used here, if it cannot.
pub fn bpf_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: bpf(2) program loads need CAP_BPF/CAP_SYS_ADMIN".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("host kernel has no /sys/kernel/btf/vmlinux".into());
    }
    None
}

/// Why pins cannot be made under /sys/fs/bpf, if they cannot: no bpffs mounted there.
pub fn bpffs_unavailable() -> Option<String> {
    let mounted = Path::new("/sys/fs/bpf").is_dir()
        && std::fs::read_to_string("/proc/mounts")
            .map(|m| m.contains(" /sys/fs/bpf bpf "))
            .unwrap_or(false);
    (!mounted).then(|| "no bpffs at /sys/fs/bpf".to_string())
}

/// Build `selftests/progs` (and the libbpf harness) into target/bpf-corpus, once per
/// test binary: its tests run in parallel, and two builds into one directory race.
pub fn build_corpus() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_corpus_into("target/bpf-corpus", &[]))
        .clone()
}

/// The clang that builds the corpus as the selftests Makefile's test_progs-cpuv4
/// flavour does (clang 18 or later: `-mcpu=v4`).
pub const CPUV4_CLANG: &str = "clang-19";

/// Build `selftests/progs` with clang 19 and `-mcpu=v4` into target/bpf-corpus-cpuv4
/// (sign-extending loads and moves, signed division, byte swaps, 32-bit jump
/// offsets where the code has them), once per test binary; None if there is no
/// clang 19.
pub fn build_corpus_cpuv4() -> Option<PathBuf> {
    static BUILT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let found = Command::new(CPUV4_CLANG).arg("--version").output();
            found.ok().filter(|o| o.status.success())?;
            Some(build_corpus_into(
                "target/bpf-corpus-cpuv4",
                &[("CLANG", CPUV4_CLANG), ("BPF_CFLAGS", "-mcpu=v4")],
            ))
        })
        .clone()
}

/// The corpus as libbpf's static linker writes it: target/bpf-corpus's objects linked
/// three times by `bpftool gen object` (`selftests/kprogs/link.sh`, as the kernel's
/// selftests Makefile links an object before it embeds it in a skeleton) into
/// target/bpf-corpus-linked, with that directory's `libbpf_dump` the plain corpus's.
/// Once per test binary.
pub fn build_corpus_linked() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = repo_root();
            let plain = build_corpus();
            let out = root.join("target/bpf-corpus-linked");
            let st = Command::new(root.join("selftests/kprogs/link.sh"))
                .arg(&out)
                .arg(&plain)
                .status()
                .expect("selftests/kprogs/link.sh");
            assert!(st.success(), "linking the BPF corpus into {out:?} failed");
            let tool = out.join("libbpf_dump");
            let _ = std::fs::remove_file(&tool);
            std::os::unix::fs::symlink(plain.join("libbpf_dump"), &tool)
                .expect("libbpf_dump in the linked corpus");
            out
        })
        .clone()
}

/// `selftests/progs/build.sh` into `dir` (relative to the repository), with `env`.
fn build_corpus_into(dir: &str, env: &[(&str, &str)]) -> PathBuf {
    let root = repo_root();
    let out = root.join(dir);
    let st = Command::new(root.join("selftests/progs/build.sh"))
        .arg(&out)
        .envs(env.iter().copied())
        .status()
        .expect("selftests/progs/build.sh");
    assert!(st.success(), "building the BPF corpus into {dir} failed");
    out
}

/// Every `*.bpf.o` of the corpus, sorted.
pub fn objects(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".bpf.o")))
        .collect();
    v.sort();
    v
}

pub fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// `libbpf_dump OBJ`: the object as libbpf loads it.
pub fn libbpf_dump_obj(corpus: &Path, obj: &Path) -> Dump {
    parse_dump(&run_dump(
        &corpus.join("libbpf_dump"),
        &[obj.to_string_lossy().into_owned()],
    ))
}

/// `libbpf_dump --ids ... --map-ids ...`: programs and maps bpfld created.
pub fn libbpf_dump_ids(corpus: &Path, ids: &[u32], map_ids: &[u32]) -> Dump {
    parse_dump(&run_dump(
        &corpus.join("libbpf_dump"),
        &ids_args(ids, map_ids),
    ))
}

/// The reason of an object-wide `// bpfld: host-skip REASON` directive in the source
/// of corpus object `obj` (`selftests/progs/NAME.c` for `NAME.o`): the object needs
/// what this host may lack (a newer kernel or libbpf), so that a refusal here is not
/// a finding. `None` without one (a `host-skip prog=P` covers one program only).
pub fn host_skip(obj: &Path) -> Option<String> {
    let name = obj.file_name()?.to_str()?.strip_suffix(".o")?;
    let src = repo_root()
        .join("selftests/progs")
        .join(format!("{name}.c"));
    let text = std::fs::read_to_string(src).ok()?;
    text.lines()
        .filter_map(|l| l.strip_prefix("// bpfld: host-skip"))
        .find(|rest| !rest.trim_start().starts_with("prog="))
        .map(|rest| rest.trim().to_string())
}

pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Compile the BPF C source `c` (clang, `-g -O2`) in a directory of its own, removed
/// afterwards, and read the host's vmlinux BTF to plan it against; None (after a
/// visible skip) without either. Panics if clang refuses the source.
pub fn compile_with_host_btf(c: &str) -> Option<(bpfld::host::HostBtf, Vec<u8>)> {
    let Ok(kb) = bpfld::host::HostBtf::load() else {
        skip("no readable /sys/kernel/btf/vmlinux");
        return None;
    };
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "bpfld-test-bpf-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, obj) = (dir.join("t.bpf.c"), dir.join("t.bpf.o"));
    std::fs::write(&src, c).unwrap();
    let st = Command::new("clang")
        .args(["-target", "bpf", "-g", "-O2", "-Wall", "-Werror"])
        .args(bpfld::bpf_arch_flags())
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status();
    let bytes = st.ok().map(|st| {
        assert!(st.success(), "clang failed on:\n{c}");
        std::fs::read(&obj).unwrap()
    });
    std::fs::remove_dir_all(&dir).unwrap();
    let Some(bytes) = bytes else {
        skip("clang not found");
        return None;
    };
    Some((kb, bytes))
}

// SPDX-License-Identifier: GPL-2.0-only

//! Shared helpers of the host integration tests: building the BPF corpus, running the
//! libbpf reference harness, skipping visibly when the host cannot run BPF.

#![allow(dead_code)]

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

/// Build `selftests/progs` (and the libbpf harness) into target/bpf-corpus.
pub fn build_corpus() -> PathBuf {
    let root = repo_root();
    let out = root.join("target/bpf-corpus");
    let st = Command::new(root.join("selftests/progs/build.sh"))
        .arg(&out)
        .status()
        .expect("selftests/progs/build.sh");
    assert!(st.success(), "building the BPF corpus failed");
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

fn run_dump(corpus: &Path, args: &[String]) -> String {
    let out = Command::new(corpus.join("libbpf_dump"))
        .args(args)
        .output()
        .expect("libbpf_dump");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `libbpf_dump OBJ`: the object as libbpf loads it.
pub fn libbpf_dump_obj(corpus: &Path, obj: &Path) -> super::Dump {
    super::parse_dump(&run_dump(corpus, &[obj.to_string_lossy().into_owned()]))
}

/// `libbpf_dump --ids ... --map-ids ...`: programs and maps bpfld created.
pub fn libbpf_dump_ids(corpus: &Path, ids: &[u32], map_ids: &[u32]) -> super::Dump {
    let mut args = vec!["--ids".to_string()];
    args.extend(ids.iter().map(u32::to_string));
    if !map_ids.is_empty() {
        args.push("--map-ids".into());
        args.extend(map_ids.iter().map(u32::to_string));
    }
    super::parse_dump(&run_dump(corpus, &args))
}

fn enum_name(prefix: &str, value: u32) -> String {
    let src = include_str!("../../../bpfld-core/src/uapi.rs");
    for line in src.lines() {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, v)) = rest.split_once(": u32 = ") else {
            continue;
        };
        if !name.starts_with(prefix) || name.starts_with("MAX_") {
            continue;
        }
        if v.trim_end_matches(';').parse::<u32>() == Ok(value) {
            return name.trim_start_matches(prefix).to_lowercase();
        }
    }
    format!("unknown({value})")
}

/// libbpf's name of a program type.
pub fn prog_type_name(t: u32) -> String {
    enum_name("BPF_PROG_TYPE_", t)
}

/// libbpf's name of an attach type.
pub fn attach_type_name(t: u32) -> String {
    // libbpf names attach types by their enum name without `BPF_`, lowercased.
    let src = include_str!("../../../bpfld-core/src/uapi.rs");
    let mut in_attach = false;
    for line in src.lines() {
        if line.starts_with("// enum bpf_attach_type") {
            in_attach = true;
            continue;
        }
        if line.starts_with("// enum") || line.starts_with("// Instruction") {
            in_attach = false;
        }
        if !in_attach {
            continue;
        }
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, v)) = rest.split_once(": u32 = ") else {
            continue;
        };
        if name.starts_with("MAX_") {
            continue;
        }
        if v.trim_end_matches(';').parse::<u32>() == Ok(t) {
            return name.trim_start_matches("BPF_").to_lowercase();
        }
    }
    format!("unknown({t})")
}

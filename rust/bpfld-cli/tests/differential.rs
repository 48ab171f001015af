// SPDX-License-Identifier: GPL-2.0-only

//! Differential test on the host kernel: every object of `selftests/progs` is loaded
//! once by libbpf (through `selftests/tools/libbpf_dump`) and once by bpfld-core's
//! user-space executor, and the kernel's view of both (xlated instructions, tags,
//! func/line info counts, maps, initial contents, slots) must be identical after the
//! normalisation described in `selftests/progs/README.md`.
//!
//! Needs root and `bpf(2)`; without them the test prints why and passes, except under
//! `CI=true`, where a skip is a failure.

mod common;

use bpfld::load::{load_userspace, load_userspace_with, LoadOpts};
use common::*;

#[test]
fn corpus_matches_libbpf() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    corpus_matches(&build_corpus());
}

/// The same corpus as clang 19 builds it for BPF CPU v4 (the instructions the
/// selftests' test_progs-cpuv4 flavour exercises: sign-extending loads and moves,
/// signed division and modulo, byte swaps, `gotol`): what a current toolchain emits
/// must load as libbpf loads it.
#[test]
fn corpus_cpuv4_matches_libbpf() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    match build_corpus_cpuv4() {
        Some(corpus) => corpus_matches(&corpus),
        None => skip(&format!("no {CPUV4_CLANG} (scripts/setup installs it)")),
    }
}

/// The same corpus as libbpf's static linker writes it (`bpftool gen object`, as the
/// kernel's selftests link every object they embed in a skeleton): no DWARF,
/// deduplicated BTF, DATASEC sizes and offsets filled in, sections, symbols and
/// `.BTF.ext` as the linker lays them out.
#[test]
fn corpus_linked_matches_libbpf() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    corpus_matches(&build_corpus_linked());
}

/// Every object of `corpus` loaded by libbpf and by bpfld, compared.
fn corpus_matches(corpus: &std::path::Path) {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut identical_progs = 0;
    for obj in objects(corpus) {
        let name = file_name(&obj);
        let lib = libbpf_dump_obj(corpus, &obj);
        let outcome = compare_object(corpus, &obj, &lib);
        match outcome {
            Ok(o) => {
                identical_progs += o.progs;
                report.push(format!(
                    "| {name} | {} | {} | {} |",
                    o.progs,
                    o.expected_failures,
                    o.notes.join("; ")
                ));
            }
            Err(e) => {
                report.push(format!(
                    "| {name} | - | - | MISMATCH: {} |",
                    e.replace('\n', " ")
                ));
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    println!("| object | identical programs | rejected by both | notes |");
    println!("|---|---|---|---|");
    for l in &report {
        println!("{l}");
    }
    println!("{identical_progs} programs identical to libbpf");
    assert!(
        failures.is_empty(),
        "{} object(s) differ from libbpf:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

struct Outcome {
    progs: usize,
    expected_failures: usize,
    notes: Vec<String>,
}

fn compare_object(
    corpus: &std::path::Path,
    obj: &std::path::Path,
    lib: &Dump,
) -> Result<Outcome, String> {
    let path = obj.to_str().unwrap();
    let mut notes = Vec::new();
    if lib.open_failed() {
        // libbpf refused the whole object: so must we, unless the object says this
        // host's libbpf or kernel may be too old for it.
        return match (load_userspace(path), host_skip(obj)) {
            (Ok(_), Some(why)) => Ok(Outcome {
                progs: 0,
                expected_failures: 0,
                notes: vec![format!(
                    "skip: libbpf refuses the object ({}), bpfld loads it; host-skip: {why}",
                    lib.fails_summary()
                )],
            }),
            (Ok(_), None) => Err(format!(
                "libbpf refuses the object ({}), bpfld loads it",
                lib.fails_summary()
            )),
            (Err(e), _) => Ok(Outcome {
                progs: 0,
                expected_failures: 1,
                notes: vec![format!("both refuse: bpfld: {}", first_line(&e.msg))],
            }),
        };
    }
    let failed: Vec<String> = lib.fails.keys().cloned().collect();
    if !failed.is_empty() {
        // No object libbpf rejects may be accepted by bpfld.
        if load_userspace(path).is_ok() {
            return Err(format!("libbpf rejects {failed:?}, bpfld loads the object"));
        }
        notes.push(format!("both reject {}", failed.join(",")));
    }
    let ours = load_userspace_with(path, &LoadOpts::without(&failed)).map_err(|e| e.to_string())?;
    if ours.progs.is_empty() && lib.progs.is_empty() {
        return Ok(Outcome {
            progs: 0,
            expected_failures: failed.len(),
            notes,
        });
    }
    compare_loaded(
        corpus,
        path,
        lib,
        &failed,
        ours,
        &mut notes,
        &CompareOpts::default(),
    )?;
    Ok(Outcome {
        progs: lib.progs.len(),
        expected_failures: failed.len(),
        notes,
    })
}

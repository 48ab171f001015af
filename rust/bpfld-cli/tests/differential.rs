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
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;

#[test]
fn corpus_matches_libbpf() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut identical_progs = 0;
    for obj in objects(&corpus) {
        let name = file_name(&obj);
        let lib = libbpf_dump_obj(&corpus, &obj);
        let outcome = compare_object(&corpus, &obj, &lib);
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
        // libbpf refused the whole object: so must we.
        return match load_userspace(path) {
            Ok(_) => Err(format!(
                "libbpf refuses the object ({}), bpfld loads it",
                lib.fails_summary()
            )),
            Err(e) => Ok(Outcome {
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
    let ours = load_userspace_with(
        path,
        &LoadOpts {
            disable: failed.clone(),
            kernel_core: false,
        },
    )
    .map_err(|e| e.to_string())?;
    if ours.progs.is_empty() && lib.progs.is_empty() {
        return Ok(Outcome {
            progs: 0,
            expected_failures: failed.len(),
            notes,
        });
    }
    // What bpfld sent, compared with what libbpf sent (sec lines).
    for p in &ours.progs {
        let sec = lib
            .secs
            .get(&p.name)
            .ok_or(format!("libbpf has no program {}", p.name))?;
        let want = (
            field(sec, "type").to_string(),
            field(sec, "flags").to_string(),
            field(sec, "kver").to_string(),
        );
        let got = (
            prog_type_name(p.prog_type),
            format!("{:#x}", p.prog_flags),
            format!("{:#x}", p.kern_version),
        );
        if want != got {
            return Err(format!(
                "prog {}: libbpf sent {want:?}, bpfld {got:?}",
                p.name
            ));
        }
        let want_attach = field(sec, "attach");
        // For struct_ops programs the attach type is the member index (libbpf_dump
        // prints it as memberN).
        let got_attach = if p.prog_type == bpfld_core::uapi::BPF_PROG_TYPE_STRUCT_OPS {
            format!("member{}", p.expected_attach_type)
        } else {
            attach_type_name(p.expected_attach_type)
        };
        if want_attach != got_attach {
            return Err(format!(
                "prog {}: expected_attach_type libbpf {want_attach}, bpfld {got_attach}",
                p.name
            ));
        }
    }
    let ids: Vec<u32> = ours.progs.iter().map(|p| p.id).collect();
    let map_ids: Vec<u32> = ours.maps.iter().map(|m| m.id).collect();
    let mine = libbpf_dump_ids(corpus, &ids, &map_ids);
    for m in &ours.maps {
        // The fds stay open until the dump is done.
        let _ = m.fd.as_raw_fd();
    }
    if lib.progs.len() != mine.progs.len() {
        return Err(format!(
            "libbpf loaded {:?}, bpfld {:?}",
            lib.progs.keys().collect::<Vec<_>>(),
            mine.progs.keys().collect::<Vec<_>>()
        ));
    }
    for (name, l) in &lib.progs {
        let o = mine
            .progs
            .get(name)
            .ok_or(format!("bpfld did not load {name}"))?;
        compare_prog(l, o).map_err(|e| format!("prog {name}: {e}"))?;
        if field(l, "maps") != field(o, "maps") {
            notes.push(format!(
                "{name}: libbpf binds {} (PROG_BIND_MAP), bpfld {}",
                field(l, "maps"),
                field(o, "maps")
            ));
        }
    }
    let norm = |v: &Vec<String>| -> Vec<String> { v.clone() };
    if norm(&lib.maps) != norm(&mine.maps) {
        return Err(format!(
            "maps differ:\nlibbpf {:#?}\nbpfld  {:#?}",
            lib.maps, mine.maps
        ));
    }
    // Second oracle for CO-RE: the same plan with the kernel applying the relocations.
    if ours.core_relos > 0 {
        let kern = load_userspace_with(
            path,
            &LoadOpts {
                disable: failed.clone(),
                kernel_core: true,
            },
        )
        .map_err(|e| format!("kernel CO-RE: {e}"))?;
        let ids: Vec<u32> = kern.progs.iter().map(|p| p.id).collect();
        let map_ids: Vec<u32> = kern.maps.iter().map(|m| m.id).collect();
        let theirs = libbpf_dump_ids(corpus, &ids, &map_ids);
        for (name, o) in &mine.progs {
            let k = theirs
                .progs
                .get(name)
                .ok_or(format!("kernel CO-RE did not load {name}"))?;
            compare_prog(k, o).map_err(|e| format!("prog {name}: kernel CO-RE vs bpfld: {e}"))?;
        }
        notes.push(format!(
            "{} CO-RE relos, kernel's CO-RE agrees",
            ours.core_relos
        ));
    }
    drop(ours);
    Ok(Outcome {
        progs: lib.progs.len(),
        expected_failures: failed.len(),
        notes,
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Parsed `libbpf_dump` output.
#[derive(Default)]
pub struct Dump {
    pub secs: BTreeMap<String, String>,
    pub progs: BTreeMap<String, String>,
    pub fails: BTreeMap<String, String>,
    /// map, data and slot lines in order.
    pub maps: Vec<String>,
}

impl Dump {
    fn open_failed(&self) -> bool {
        self.fails.contains_key("-") && self.progs.is_empty()
    }
    fn fails_summary(&self) -> String {
        self.fails
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn parse_dump(text: &str) -> Dump {
    let mut d = Dump::default();
    for line in text.lines() {
        let mut it = line.splitn(3, ' ');
        let kind = it.next().unwrap_or("");
        let name = it.next().unwrap_or("").to_string();
        match kind {
            "sec" => {
                d.secs.insert(name, line.to_string());
            }
            "prog" => {
                d.progs.insert(name, line.to_string());
            }
            "fail" => {
                d.fails.insert(name, line.to_string());
            }
            "map" | "data" | "slot" => d.maps.push(line.to_string()),
            _ => {}
        }
    }
    d
}

/// The value of `key=` in a dump line.
pub fn field<'l>(line: &'l str, key: &str) -> &'l str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("")
}

/// Compare two `prog` lines: all fields equal, except that map references are compared
/// by map name (the `maps=` lists may differ by maps libbpf binds without using them).
fn compare_prog(l: &str, o: &str) -> Result<(), String> {
    for key in ["type", "attach", "gpl", "insns", "tag", "funcs", "lines"] {
        if field(l, key) != field(o, key) {
            return Err(format!(
                "{key}: libbpf {} bpfld {}",
                field(l, key),
                field(o, key)
            ));
        }
    }
    let lmaps: Vec<&str> = field(l, "maps").split(',').collect();
    let omaps: Vec<&str> = field(o, "maps").split(',').collect();
    let lx = hex_insns(field(l, "xlated"));
    let ox = hex_insns(field(o, "xlated"));
    if lx.len() != ox.len() {
        return Err(format!("xlated length {} vs {}", lx.len(), ox.len()));
    }
    let mut i = 0;
    while i < lx.len() {
        let (a, b) = (lx[i], ox[i]);
        let code = a[0];
        let src = a[1] >> 4;
        if code == 0x18 && (src == 1 || src == 2) && b[0] == 0x18 && (b[1] >> 4) == src {
            let ai = u32::from_le_bytes(a[4..8].try_into().unwrap()) as usize;
            let bi = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
            let an = lmaps.get(ai).copied().unwrap_or("?");
            let bn = omaps.get(bi).copied().unwrap_or("?");
            if an != bn || a[..4] != b[..4] || lx.get(i + 1) != ox.get(i + 1) {
                return Err(format!("insn {i}: map {an} vs {bn}"));
            }
            i += 2;
            continue;
        }
        if a != b {
            return Err(format!("insn {i}: {} vs {}", hex(&a), hex(&b)));
        }
        i += 1;
    }
    Ok(())
}

fn hex_insns(s: &str) -> Vec<[u8; 8]> {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    bytes
        .chunks_exact(8)
        .map(|c| c.try_into().unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

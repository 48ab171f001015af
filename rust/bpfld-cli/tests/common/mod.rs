// SPDX-License-Identifier: GPL-2.0-only

//! Shared helpers of the host integration tests: building the BPF corpus, running the
//! libbpf reference harness, skipping visibly when the host cannot run BPF.

#![allow(dead_code)]

use bpfld::load::{load_userspace_with, LoadOpts, UserLoad};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
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
pub fn libbpf_dump_obj(corpus: &Path, obj: &Path) -> Dump {
    parse_dump(&run_dump(corpus, &[obj.to_string_lossy().into_owned()]))
}

/// `libbpf_dump --ids ... --map-ids ...`: programs and maps bpfld created.
pub fn libbpf_dump_ids(corpus: &Path, ids: &[u32], map_ids: &[u32]) -> Dump {
    parse_dump(&run_dump(corpus, &ids_args(ids, map_ids)))
}

fn ids_args(ids: &[u32], map_ids: &[u32]) -> Vec<String> {
    let mut args = vec!["--ids".to_string()];
    args.extend(ids.iter().map(u32::to_string));
    if !map_ids.is_empty() {
        args.push("--map-ids".into());
        args.extend(map_ids.iter().map(u32::to_string));
    }
    args
}

/// A `data` line with every 8-byte-aligned little-endian word of its value that looks
/// like a kernel address (top two bytes 0xffff) replaced by `<kptr>`.
pub fn mask_kernel_ptrs(line: &str) -> String {
    let Some(v) = line.split(' ').find_map(|kv| kv.strip_prefix("value=")) else {
        return line.to_string();
    };
    if !line.starts_with("data ") {
        return line.to_string();
    }
    let mut out = String::new();
    let mut rest = v;
    while rest.len() >= 16 {
        let (w, r) = rest.split_at(16);
        if w.ends_with("ffff") && w != "ffffffffffffffff" {
            out.push_str("<kptr>");
        } else {
            out.push_str(w);
        }
        rest = r;
    }
    out.push_str(rest);
    line.replace(v, &out)
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

/// Knobs of [`compare_loaded`]; the default is what `differential.rs` checks.
#[derive(Default)]
pub struct CompareOpts<'a> {
    /// Write `libbpf_dump --ids` of bpfld's load here (for looking at differences).
    pub save_dump: Option<&'a Path>,
    /// The harness that dumps bpfld's load by id (default `corpus/libbpf_dump`): the
    /// one that made `lib`, so that both sides name types with the same libbpf.
    pub dump_tool: Option<&'a Path>,
    /// Compare `data` lines with kernel addresses masked (`mask_kernel_ptrs`): maps
    /// whose values hold kernel-initialised pointers (`bpf_list_head`, `bpf_rb_root`
    /// point to themselves when empty) differ between any two loads.
    pub mask_data_ptrs: bool,
}

/// The comparison of one object after bpfld loaded it (`ours`, with libbpf's failed
/// programs `failed` disabled) and libbpf's dump `lib`: what bpfld sent (type, flags,
/// kern_version, expected attach type) against libbpf's `sec` lines, the kernel's view
/// of both loads (programs by `compare_prog`, maps, contents, slots), and for CO-RE
/// objects the second oracle (the kernel applying the relocations).  `corpus` is the
/// directory of `libbpf_dump`.  Remarks that are not differences go to `notes`.
pub fn compare_loaded(
    corpus: &Path,
    path: &str,
    lib: &Dump,
    failed: &[String],
    ours: &UserLoad,
    notes: &mut Vec<String>,
    opts: &CompareOpts<'_>,
) -> Result<(), String> {
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
    let tool = opts
        .dump_tool
        .map(Path::to_path_buf)
        .unwrap_or_else(|| corpus.join("libbpf_dump"));
    let dump = |args: &[String]| -> String {
        let out = Command::new(&tool)
            .args(args)
            .output()
            .expect("libbpf_dump");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mine_text = dump(&ids_args(&ids, &map_ids));
    if let Some(p) = opts.save_dump {
        let _ = std::fs::write(p, &mine_text);
    }
    let mine = parse_dump(&mine_text);
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
    let norm = |v: &Vec<String>| -> Vec<String> {
        if opts.mask_data_ptrs {
            v.iter().map(|l| mask_kernel_ptrs(l)).collect()
        } else {
            v.clone()
        }
    };
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
                disable: failed.to_vec(),
                kernel_core: true,
            },
        )
        .map_err(|e| format!("kernel CO-RE: {e}"))?;
        let ids: Vec<u32> = kern.progs.iter().map(|p| p.id).collect();
        let map_ids: Vec<u32> = kern.maps.iter().map(|m| m.id).collect();
        let theirs = parse_dump(&dump(&ids_args(&ids, &map_ids)));
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
    Ok(())
}

pub fn first_line(s: &str) -> &str {
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
    pub fn open_failed(&self) -> bool {
        self.fails.contains_key("-") && self.progs.is_empty()
    }
    pub fn fails_summary(&self) -> String {
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
pub fn compare_prog(l: &str, o: &str) -> Result<(), String> {
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

pub fn hex_insns(s: &str) -> Vec<[u8; 8]> {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    bytes
        .chunks_exact(8)
        .map(|c| c.try_into().unwrap())
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

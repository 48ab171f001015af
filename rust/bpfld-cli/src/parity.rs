// SPDX-License-Identifier: GPL-2.0-only

//! Parity with libbpf: what the host differential tests (`tests/differential.rs`,
//! `tests/kselftests.rs`) and the in-VM harness (`bpfld-parity`, `selftests/parity`)
//! share.
//!
//! The reference is `selftests/tools/libbpf_dump`: `libbpf_dump OBJ` loads an object
//! with libbpf and prints what the kernel holds (`sec`, `prog`, `fail`, `map`, `data`,
//! `slot` lines); `libbpf_dump --ids ...` prints the same for programs and maps that
//! bpfld created, by the same code and normalisation (map ids in `ld_imm64` replaced by
//! the map's index in the program's sorted map list, kernel addresses zeroed). Two loads
//! are the same when those dumps agree ([`compare_prog`] per program, the map lines
//! with kernel pointers masked) and bpfld sent the program types and attach types
//! libbpf sent ([`compare_sent`]).
//!
//! An object's outcome is one [`Cat`]: libbpf loads it (perhaps refusing some
//! programs) or not, bpfld loads it or not, and if both load whether the kernel's views
//! agree. [`classify_userspace`] is the classification with bpfld's user-space executor,
//! which, like libbpf, can leave out the programs the kernel refuses; the module loads
//! an object whole or not at all and the VM harness builds on the same pieces.

use crate::load::{load_userspace, load_userspace_with, LoadError, LoadOpts, UserLoad};
use bpfld_core::btf::BtfExt;
use bpfld_core::elf::{Elf, SHT_REL, STB_GLOBAL, STB_WEAK, STT_FUNC};
use bpfld_core::mem::VecAlloc;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// --- libbpf_dump output -------------------------------------------------------------

/// Parsed `libbpf_dump` output.
#[derive(Default, Debug)]
pub struct Dump {
    /// `sec` lines by program name: what libbpf sent.
    pub secs: BTreeMap<String, String>,
    /// `prog` lines by program name: what the kernel holds.
    pub progs: BTreeMap<String, String>,
    /// `fail` lines by program name (`-`: not attributable to a program).
    pub fails: BTreeMap<String, String>,
    /// map, data and slot lines in order.
    pub maps: Vec<String>,
}

impl Dump {
    /// libbpf refused the object before any program (open, BTF, maps).
    pub fn open_failed(&self) -> bool {
        self.fails.contains_key("-") && self.progs.is_empty()
    }

    /// The `fail` lines, one string.
    pub fn fails_summary(&self) -> String {
        self.fails
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parse the output of a `libbpf_dump` run.
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

/// Arguments of `libbpf_dump --ids PROG... [--map-ids MAP...]`.
pub fn ids_args(ids: &[u32], map_ids: &[u32]) -> Vec<String> {
    let mut args = vec!["--ids".to_string()];
    args.extend(ids.iter().map(u32::to_string));
    if !map_ids.is_empty() {
        args.push("--map-ids".into());
        args.extend(map_ids.iter().map(u32::to_string));
    }
    args
}

/// Run a `libbpf_dump` build with `args`; its standard output.
pub fn run_dump(tool: &Path, args: &[String]) -> String {
    match Command::new(tool).args(args).output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => format!("# {}: {e}", tool.display()),
    }
}

/// A `data` line with every 8-byte-aligned little-endian word of its value that looks
/// like a kernel address replaced by `<kptr>`: top byte 0xff (with 5-level paging, as
/// the TCG guest has, the direct map starts at 0xff11000000000000, not 0xffff...), not
/// all ones.
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
        if w.ends_with("ff") && w != "ffffffffffffffff" {
            out.push_str("<kptr>");
        } else {
            out.push_str(w);
        }
        rest = r;
    }
    out.push_str(rest);
    line.replace(v, &out)
}

/// The core's UAPI constants, read as text (they are `pub const` lines).
const UAPI_RS: &str = include_str!("../../bpfld-core/src/uapi.rs");

fn enum_name(prefix: &str, value: u32) -> String {
    for line in UAPI_RS.lines() {
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
    let mut in_attach = false;
    for line in UAPI_RS.lines() {
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

/// Compare two `prog` lines: all fields equal, except that map references are compared
/// by map name (the `maps=` lists may differ by maps libbpf binds without using them).
/// The tag last: it hashes the instructions as loaded, with a typed ksym's BTF object
/// fd (which the kernel does not zero, as it does map fds), so a tag that alone
/// differs says "(all else identical)".
pub fn compare_prog(l: &str, o: &str) -> Result<(), String> {
    compare_untagged(l, o)?;
    if field(l, "tag") != field(o, "tag") {
        return Err(format!(
            "tag: libbpf {} bpfld {} (all else identical)",
            field(l, "tag"),
            field(o, "tag")
        ));
    }
    Ok(())
}

fn compare_untagged(l: &str, o: &str) -> Result<(), String> {
    for key in ["type", "attach", "gpl", "insns", "funcs", "lines"] {
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
            let imm = |x: [u8; 8]| u32::from_le_bytes([x[4], x[5], x[6], x[7]]) as usize;
            let an = lmaps.get(imm(a)).copied().unwrap_or("?");
            let bn = omaps.get(imm(b)).copied().unwrap_or("?");
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

/// Instructions from the `xlated=` hex string (8 bytes each; a short tail is dropped).
pub fn hex_insns(s: &str) -> Vec<[u8; 8]> {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0))
        .collect();
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            a
        })
        .collect()
}

/// Lower-case hex of a byte slice, as a string.
pub use bpfld_core::digest::hex_string as hex;

// --- comparing a load with libbpf's --------------------------------------------------

/// What bpfld sent to `BPF_PROG_LOAD` for one program, as far as the loader knows it.
pub struct Sent<'a> {
    /// Function name.
    pub name: &'a str,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type (struct_ops: the member index).
    pub expected_attach_type: u32,
    /// `prog_flags`, when known (the module does not report them).
    pub prog_flags: Option<u32>,
    /// `kern_version`, when known (the module does not report it).
    pub kern_version: Option<u32>,
}

/// Compare what bpfld sent with what libbpf sent (its `sec` lines).
pub fn compare_sent<'a>(
    lib: &Dump,
    sent: impl IntoIterator<Item = Sent<'a>>,
) -> Result<(), String> {
    for p in sent {
        let sec = lib
            .secs
            .get(p.name)
            .ok_or(format!("libbpf has no program {}", p.name))?;
        let want = (
            field(sec, "type").to_string(),
            p.prog_flags
                .map_or("?".into(), |_| field(sec, "flags").to_string()),
            p.kern_version
                .map_or("?".into(), |_| field(sec, "kver").to_string()),
        );
        let got = (
            prog_type_name(p.prog_type),
            p.prog_flags.map_or("?".into(), |f| format!("{f:#x}")),
            p.kern_version.map_or("?".into(), |v| format!("{v:#x}")),
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
    Ok(())
}

/// Knobs of [`compare_loaded`] and [`compare_ids`]; the default is what
/// `differential.rs` checks.
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

/// Dump programs `ids` and maps `map_ids` (bpfld's load, still open) with `tool` and
/// compare them with libbpf's dump `lib`: the same programs, each the same by
/// [`compare_prog`], the same maps and contents. Remarks go to `notes`. Returns the
/// dump of bpfld's load.
pub fn compare_ids(
    tool: &Path,
    lib: &Dump,
    ids: &[u32],
    map_ids: &[u32],
    notes: &mut Vec<String>,
    opts: &CompareOpts<'_>,
) -> Result<Dump, String> {
    let mine_text = run_dump(tool, &ids_args(ids, map_ids));
    if let Some(p) = opts.save_dump {
        let _ = std::fs::write(p, &mine_text);
    }
    let mine = parse_dump(&mine_text);
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
    Ok(mine)
}

/// The comparison of one object after bpfld's user-space executor loaded it (`ours`,
/// with libbpf's failed programs `failed` disabled) and libbpf's dump `lib`: what
/// bpfld sent (type, flags, kern_version, expected attach type) against libbpf's `sec`
/// lines, the kernel's view of both loads ([`compare_ids`]), and for CO-RE objects the
/// second oracle (the kernel applying the relocations), after `ours` is released as
/// the VM's harness does: an arena mapped at the object's fixed address (`map_extra`)
/// would make that load's own mapping fail.  `corpus` is the directory of
/// `libbpf_dump`.  Remarks that are not differences go to `notes`.
pub fn compare_loaded(
    corpus: &Path,
    path: &str,
    lib: &Dump,
    failed: &[String],
    ours: UserLoad,
    notes: &mut Vec<String>,
    opts: &CompareOpts<'_>,
) -> Result<(), String> {
    compare_sent(
        lib,
        ours.progs.iter().map(|p| Sent {
            name: &p.name,
            prog_type: p.prog_type,
            expected_attach_type: p.expected_attach_type,
            prog_flags: Some(p.prog_flags),
            kern_version: Some(p.kern_version),
        }),
    )?;
    let ids: Vec<u32> = ours.progs.iter().map(|p| p.id).collect();
    let map_ids: Vec<u32> = ours.maps.iter().map(|m| m.id).collect();
    let tool = opts
        .dump_tool
        .map(Path::to_path_buf)
        .unwrap_or_else(|| corpus.join("libbpf_dump"));
    // The load's fds stay open until the dump is done.
    let mine = compare_ids(&tool, lib, &ids, &map_ids, notes, opts)?;
    let core_relos = ours.core_relos;
    drop(ours);
    if core_relos > 0 {
        let autoload: Vec<(&str, bool)> = failed.iter().map(|n| (n.as_str(), false)).collect();
        kernel_core_agrees(path, &autoload, &tool, &mine, core_relos, notes)?;
    }
    Ok(())
}

/// The second oracle for CO-RE: `path` loaded by the user-space executor with the
/// entry programs `autoload` says (`false`: the programs libbpf refused, `true`: those
/// of `SEC("?...")` sections loaded too) and with the kernel applying its `core_relos`
/// CO-RE relocations (`BPF_PROG_LOAD`'s `core_relos`), dumped with `tool`: each
/// program of bpfld's dump `mine` must be the same there.
pub fn kernel_core_agrees(
    path: &str,
    autoload: &[(&str, bool)],
    tool: &Path,
    mine: &Dump,
    core_relos: usize,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let kern = load_userspace_with(
        path,
        &LoadOpts {
            kernel_core: true,
            autoload: autoload
                .iter()
                .map(|&(p, on)| (p.to_string(), on))
                .collect(),
            ..LoadOpts::default()
        },
    )
    .map_err(|e| format!("kernel CO-RE: {e}"))?;
    let ids: Vec<u32> = kern.progs.iter().map(|p| p.id).collect();
    let map_ids: Vec<u32> = kern.maps.iter().map(|m| m.id).collect();
    let theirs = parse_dump(&run_dump(tool, &ids_args(&ids, &map_ids)));
    for (name, o) in &mine.progs {
        let k = theirs
            .progs
            .get(name)
            .ok_or(format!("kernel CO-RE did not load {name}"))?;
        compare_prog(k, o).map_err(|e| format!("prog {name}: kernel CO-RE vs bpfld: {e}"))?;
    }
    notes.push(format!("{core_relos} CO-RE relos, kernel's CO-RE agrees"));
    Ok(())
}

// --- outcomes ------------------------------------------------------------------------

/// The outcome of one object against one libbpf.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Cat {
    /// Both loaded the same (programs both refuse excepted).
    Identical,
    /// VM: libbpf refused some programs; the module refused the object at one of them
    /// (it loads all or nothing) and, with them turned off, loaded the rest the same.
    IdenticalPartial,
    /// Neither loads anything.
    BothFail,
    /// libbpf loads, bpfld fails.
    LibbpfOnly,
    /// libbpf loads, bpfld stops at an extern.
    LibbpfOnlyExterns,
    /// bpfld loads what libbpf refuses.
    BpfldOnly,
    /// Both load, the kernel's views differ.
    Differs,
    /// VM: the guest died while loading the object.
    Crash,
}

impl Cat {
    /// The categories of the host comparison.
    pub const HOST: [Cat; 6] = [
        Cat::Identical,
        Cat::BothFail,
        Cat::LibbpfOnly,
        Cat::LibbpfOnlyExterns,
        Cat::BpfldOnly,
        Cat::Differs,
    ];

    /// The categories of the VM comparison (module against libbpf).
    pub const VM: [Cat; 8] = [
        Cat::Identical,
        Cat::IdenticalPartial,
        Cat::BothFail,
        Cat::LibbpfOnly,
        Cat::LibbpfOnlyExterns,
        Cat::BpfldOnly,
        Cat::Differs,
        Cat::Crash,
    ];

    /// The name used in reports and allowlists.
    pub fn name(self) -> &'static str {
        match self {
            Cat::Identical => "identical",
            Cat::IdenticalPartial => "identical-partial",
            Cat::BothFail => "both-fail",
            Cat::LibbpfOnly => "libbpf-only",
            Cat::LibbpfOnlyExterns => "libbpf-only-externs",
            Cat::BpfldOnly => "bpfld-only",
            Cat::Differs => "differs",
            Cat::Crash => "crash",
        }
    }

    /// The category named `s`.
    pub fn from_name(s: &str) -> Option<Cat> {
        Cat::VM.into_iter().find(|c| c.name() == s)
    }

    /// One line for the report.
    pub fn meaning(self) -> &'static str {
        match self {
            Cat::Identical => "both loaded the same (programs both refuse excepted)",
            Cat::IdenticalPartial => {
                "libbpf refuses some programs; the module refuses the object at one of \
                 them and, with those turned off (autoload), loads the rest the same"
            }
            Cat::BothFail => "neither loads anything",
            Cat::LibbpfOnly => "libbpf loads, bpfld fails (candidate bpfld bugs)",
            Cat::LibbpfOnlyExterns => "libbpf loads, bpfld stops at an extern",
            Cat::BpfldOnly => "bpfld loads what libbpf refuses (allowlisted with reasons)",
            Cat::Differs => "both load, the kernel's views differ (allowlisted with reasons)",
            Cat::Crash => "the kernel died while bpfld or libbpf loaded the object",
        }
    }
}

/// What the object file itself says (read with bpfld-core's parsers).
#[derive(Default)]
pub struct Static {
    /// CO-RE relocation records in `.BTF.ext`.
    pub core_relos: usize,
    /// Undefined named symbols: kconfig, ksym, kfunc, or static-linker externs.
    pub externs: Vec<String>,
    /// The entry programs of `SEC("?...")` sections, which neither loader loads unless
    /// asked (libbpf's autoload off), by name.
    pub optional: Vec<String>,
    /// The programs the object's program arrays name in their `.values` (relocations
    /// of `.maps` against functions), by name: a load without one of them fails at
    /// the map, in libbpf as in the module.
    pub slotted: Vec<String>,
    /// The file could not be read or parsed.
    pub parse_error: Option<String>,
}

impl Static {
    /// The object's kind for the report's feature columns.
    pub fn feature(&self) -> &'static str {
        match (self.core_relos > 0, !self.externs.is_empty()) {
            _ if self.parse_error.is_some() => "unparsed",
            (true, true) => "core+externs",
            (true, false) => "core",
            (false, true) => "externs",
            (false, false) => "plain",
        }
    }

    /// `N extern(s): a, b, …` for a report line.
    pub fn externs_note(&self) -> String {
        let mut v: Vec<&str> = self.externs.iter().map(String::as_str).collect();
        v.truncate(4);
        format!(
            "{} extern(s): {}{}",
            self.externs.len(),
            v.join(", "),
            if self.externs.len() > 4 { ", …" } else { "" }
        )
    }
}

/// The report's feature columns, in order.
pub const FEATURES: [&str; 5] = ["plain", "core", "externs", "core+externs", "unparsed"];

/// Read `path` and note its CO-RE records and externs.
pub fn static_info(path: &Path) -> Static {
    let mut s = Static::default();
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            s.parse_error = Some(e.to_string());
            return s;
        }
    };
    let mut alloc = VecAlloc::default();
    let elf = match Elf::parse(&data, &mut alloc) {
        Ok(e) => e,
        Err(e) => {
            s.parse_error = Some(e.to_string());
            return s;
        }
    };
    for sym in elf.symbols().flatten() {
        // Section and file symbols have no name; an undefined named symbol is an
        // extern (kconfig, ksym, kfunc, or one meant for the static linker).
        if sym.is_undefined() && !sym.name.is_empty() {
            s.externs.push(sym.name.to_string());
        }
        // A global function in a section named "?...": an entry program whose
        // autoload is off.
        let global = matches!(sym.bind(), STB_GLOBAL | STB_WEAK);
        if sym.kind() == STT_FUNC && global && !sym.is_undefined() {
            let optional = elf
                .section(sym.shndx())
                .is_ok_and(|sec| sec.name.starts_with('?'));
            if optional {
                s.optional.push(sym.name.to_string());
            }
        }
    }
    if let Some(maps) = elf.section_by_name(".maps") {
        let rel = elf
            .sections()
            .flatten()
            .find(|r| r.kind() == SHT_REL && r.hdr.sh_info == maps.index);
        for r in rel.iter().flat_map(|r| elf.rels(r)) {
            if let Ok(sym) = elf.symbol(r.sym) {
                let name = sym.name.to_string();
                if sym.kind() == STT_FUNC && !name.is_empty() && !s.slotted.contains(&name) {
                    s.slotted.push(name);
                }
            }
        }
    }
    if let Some(ext) = elf.section_by_name(".BTF.ext") {
        match BtfExt::parse(ext.data) {
            Ok(e) => s.core_relos = e.core_relos().num_records() as usize,
            Err(e) => s.parse_error = Some(format!(".BTF.ext: {e}")),
        }
    }
    s
}

/// The outcome of `libbpf_dump OBJ`.
pub struct Libbpf {
    /// Its output.
    pub dump: Dump,
    /// Killed by a signal (libbpf 1.1.2 crashes on some objects; a timeout is SIGKILL).
    pub signal: Option<i32>,
    /// The first `libbpf:` line of its stderr, the root cause of most failures.
    pub first_error: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Libbpf {
    /// libbpf created no program (and refused the object, or every program).
    pub fn loaded_nothing(&self) -> bool {
        self.signal.is_some()
            || self.dump.open_failed()
            || (self.dump.progs.is_empty() && !self.dump.fails.is_empty())
    }

    /// The programs libbpf refused (the rest of the object loaded without them).
    pub fn refused(&self) -> Vec<String> {
        self.dump
            .fails
            .keys()
            .filter(|k| k.as_str() != "-")
            .cloned()
            .collect()
    }

    /// One line: what libbpf refused and why.
    pub fn why(&self) -> String {
        let mut s = match self.signal {
            Some(sig) => format!("libbpf_dump killed by signal {sig}"),
            None => String::new(),
        };
        let fails: Vec<String> = self
            .dump
            .fails
            .iter()
            .map(|(k, l)| format!("{k} errno={}", field(l, "errno")))
            .collect();
        if !fails.is_empty() {
            if !s.is_empty() {
                s.push_str(" after refusing ");
            } else {
                s.push_str("refuses ");
            }
            s.push_str(&list(&fails));
        }
        if !self.first_error.is_empty() {
            let _ = write!(s, " ({})", self.first_error);
        }
        s
    }

    /// The errno libbpf reported first.
    pub fn errno(&self) -> Option<i32> {
        self.dump
            .fails
            .values()
            .next()
            .and_then(|l| field(l, "errno").parse().ok())
    }

    /// The errno libbpf reported for program `p`.
    pub fn errno_of(&self, p: &str) -> Option<i32> {
        self.dump
            .fails
            .get(p)
            .and_then(|l| field(l, "errno").parse().ok())
    }
}

/// Run `tool ARGS... OBJ` (a `libbpf_dump` build; `--all`: the programs of
/// `SEC("?...")` sections loaded too, `--only PROG`: that program alone), its stdout
/// and stderr kept in `out` and `err`; killed after `timeout`.
pub fn run_libbpf(
    tool: &Path,
    args: &[&str],
    obj: &Path,
    out: &Path,
    err: &Path,
    timeout: Duration,
) -> Libbpf {
    let start = Instant::now();
    let spawned = (|| {
        Command::new(tool)
            .args(args)
            .arg(obj)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(out)?)
            .stderr(std::fs::File::create(err)?)
            .spawn()
    })();
    let status = match spawned {
        Ok(mut child) => loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) => {}
                Err(_) => break None,
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        },
        Err(e) => {
            let _ = std::fs::write(err, format!("libbpf: cannot run {}: {e}\n", tool.display()));
            None
        }
    };
    let stdout = std::fs::read_to_string(out).unwrap_or_default();
    let stderr = std::fs::read_to_string(err).unwrap_or_default();
    use std::os::unix::process::ExitStatusExt;
    let signal = match status {
        Some(st) => st.signal(),
        None => Some(libc::SIGKILL),
    };
    let first_error = stderr
        .lines()
        .find(|l| l.starts_with("libbpf: "))
        .map(|l| clip(l.trim_start_matches("libbpf: "), 160))
        .unwrap_or_default();
    Libbpf {
        dump: parse_dump(&stdout),
        signal,
        first_error,
        elapsed: start.elapsed(),
    }
}

/// `s` on one table cell: trimmed, `|` escaped, at most `n` characters.
pub fn clip(s: &str, n: usize) -> String {
    let s = s.trim().replace('|', "\\|");
    if s.chars().count() <= n {
        return s;
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    out
}

/// The program a bpfld error names (`prog 'X': ...`), if any.
pub fn err_prog(msg: &str) -> Option<&str> {
    let rest = msg.get(msg.find("prog '")? + 6..)?;
    rest.get(..rest.find('\'')?)
}

/// `EINVAL` and friends (524 is the kernel's internal ENOTSUPP).
pub fn errno_name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOTSUP => "EOPNOTSUPP",
        libc::ELOOP => "ELOOP",
        524 => "ENOTSUPP",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

/// A bpfld error on one line: its message without the object's directory `dir`
/// (reports stay stable) and the last meaningful line of the verifier log.
pub fn error_summary(msg: &str, log: &str, dir: &Path) -> String {
    let mut m = msg.replace(&format!("{}/", dir.display()), "");
    if let Some(last) = log.lines().rev().find(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
    }) {
        let _ = write!(m, " [log: {}]", last.trim());
    }
    clip(&m, 220)
}

/// Marks a both-fail object where bpfld stopped before the programs libbpf refused.
pub const EARLIER: &str = "bpfld stops earlier: ";

/// At most four names, then how many more.
pub fn list(v: &[String]) -> String {
    if v.len() <= 4 {
        return v.join(",");
    }
    format!("{},… ({} in all)", v[..4].join(","), v.len())
}

/// One object against one libbpf.
pub struct Outcome {
    /// The category.
    pub cat: Cat,
    /// One line: why (for everything but plain `identical`).
    pub detail: String,
    /// Programs compared identical.
    pub progs: usize,
    /// Programs both refused.
    pub both_refused: usize,
}

impl Outcome {
    fn new(cat: Cat) -> Outcome {
        Outcome {
            cat,
            detail: String::new(),
            progs: 0,
            both_refused: 0,
        }
    }
}

/// The libbpf-only outcome of bpfld's failure `e` (`-externs` when it stopped at an
/// extern of an object that has some); `what` prefixes the detail.
pub fn libbpf_only(st: &Static, errno: i32, msg: &str, what: &str) -> Outcome {
    let externs = !st.externs.is_empty()
        && (msg.contains("extern") || msg.contains("kfunc") || msg.contains("ksym"));
    let mut row = Outcome::new(if externs {
        Cat::LibbpfOnlyExterns
    } else {
        Cat::LibbpfOnly
    });
    row.detail = format!("{what}bpfld: {} {msg}", errno_name(errno));
    if externs {
        let _ = write!(row.detail, "; {}", st.externs_note());
    }
    row
}

/// The both-fail outcome: libbpf loaded nothing (`lib`), bpfld failed with `errno` and
/// `msg`. Marked [`EARLIER`] when libbpf got as far as its programs and refused them
/// all but bpfld failed on something else before.
pub fn both_fail(lib: &Libbpf, errno: i32, msg: &str) -> Outcome {
    let mut row = Outcome::new(Cat::BothFail);
    let same = match lib.errno() {
        // bpfld reports the kernel-internal ENOTSUPP as EOPNOTSUPP.
        Some(le) if le == errno || (le == 524 && errno == libc::EOPNOTSUPP) => {
            "same errno".to_string()
        }
        Some(le) => format!("errno differs: libbpf {}", errno_name(le)),
        None => "libbpf gave no errno".to_string(),
    };
    let refused = lib.refused();
    let earlier = lib.signal.is_none()
        && !lib.dump.open_failed()
        && !err_prog(msg).is_some_and(|p| refused.iter().any(|f| f == p));
    row.detail = format!(
        "{}{same}; libbpf: {}; bpfld: {} {msg}",
        if earlier { EARLIER } else { "" },
        lib.why(),
        errno_name(errno),
    );
    row
}

/// bpfld's user-space loads of one object, made once and shared by comparisons.
pub struct UserLoads<'p> {
    path: &'p str,
    /// Every program.
    full: Option<Result<UserLoad, LoadError>>,
    /// Without some programs.
    partial: Vec<(Vec<String>, Result<UserLoad, LoadError>)>,
}

impl<'p> UserLoads<'p> {
    /// Nothing loaded yet.
    pub fn new(path: &'p str) -> UserLoads<'p> {
        UserLoads {
            path,
            full: None,
            partial: Vec::new(),
        }
    }

    /// The load of every program.
    pub fn full(&mut self) -> &Result<UserLoad, LoadError> {
        let path = self.path;
        self.full.get_or_insert_with(|| load_userspace(path))
    }

    /// The load without the programs `disable`, taken out of the cache (loaded again if
    /// asked for once more): the caller releases it when done.
    pub fn take_without(&mut self, disable: &[String]) -> Result<UserLoad, LoadError> {
        if disable.is_empty() {
            self.full();
            return self.full.take().expect("just loaded");
        }
        match self.partial.iter().position(|(d, _)| d == disable) {
            Some(i) => self.partial.swap_remove(i).1,
            None => load_userspace_with(self.path, &LoadOpts::without(disable)),
        }
    }

    /// The load without the programs `disable`.
    pub fn without(&mut self, disable: &[String]) -> &Result<UserLoad, LoadError> {
        if disable.is_empty() {
            return self.full();
        }
        let i = match self.partial.iter().position(|(d, _)| d == disable) {
            Some(i) => i,
            None => {
                let r = load_userspace_with(self.path, &LoadOpts::without(disable));
                self.partial.push((disable.to_vec(), r));
                self.partial.len() - 1
            }
        };
        &self.partial[i].1
    }
}

/// Classify one object loaded by libbpf (`lib`, made by `tool`) and by bpfld's
/// user-space executor (`bpfld`): libbpf's refused programs are left out of bpfld's
/// load once bpfld showed it refuses one of them too. `dir` is stripped from messages;
/// `save` receives the dump of bpfld's load.
pub fn classify_userspace(
    dir: &Path,
    tool: &Path,
    save: &Path,
    lib: &Libbpf,
    st: &Static,
    bpfld: &mut UserLoads<'_>,
) -> Outcome {
    let path = bpfld.path;
    if lib.loaded_nothing() {
        return match bpfld.full() {
            Ok(ours) => {
                let mut row = Outcome::new(Cat::BpfldOnly);
                row.detail = format!(
                    "libbpf: {}; bpfld loads {} program(s), {} map(s)",
                    lib.why(),
                    ours.progs.len(),
                    ours.maps.len()
                );
                row
            }
            Err(e) => both_fail(lib, e.errno, &error_summary(&e.msg, &e.log, dir)),
        };
    }
    let failed = lib.refused();
    let mut notes = Vec::new();
    if !failed.is_empty() {
        match bpfld.full() {
            Ok(_) => {
                let mut row = Outcome::new(Cat::BpfldOnly);
                row.detail = format!("libbpf: {}; bpfld loads every program", lib.why());
                return row;
            }
            Err(e) => match err_prog(&e.msg) {
                Some(p) if failed.iter().any(|f| f == p) => {
                    let le = lib.errno_of(p);
                    if le != Some(e.errno) {
                        notes.push(format!(
                            "{p}: refused by both, libbpf {} bpfld {}",
                            le.map(errno_name).unwrap_or("-".into()),
                            errno_name(e.errno)
                        ));
                    }
                }
                _ => {
                    return libbpf_only(
                        st,
                        e.errno,
                        &error_summary(&e.msg, &e.log, dir),
                        &format!("with every program (libbpf: {}): ", lib.why()),
                    )
                }
            },
        }
    }
    let ours = match bpfld.take_without(&failed) {
        Ok(o) => o,
        Err(e) => {
            let what = if failed.is_empty() {
                String::new()
            } else {
                format!("without {}: ", list(&failed))
            };
            return libbpf_only(st, e.errno, &error_summary(&e.msg, &e.log, dir), &what);
        }
    };
    let mut row = Outcome::new(Cat::Identical);
    row.both_refused = failed.len();
    if !(ours.progs.is_empty() && lib.dump.progs.is_empty()) {
        let opts = CompareOpts {
            save_dump: Some(save),
            dump_tool: Some(tool),
            mask_data_ptrs: true,
        };
        if let Err(d) = compare_loaded(dir, path, &lib.dump, &failed, ours, &mut notes, &opts) {
            row.cat = Cat::Differs;
            row.detail = clip(&d.replace('\n', " "), 400);
            return row;
        }
    }
    row.progs = lib.dump.progs.len();
    // Binding notes are libbpf's PROG_BIND_MAP habit, not differences.
    notes.retain(|n| !n.contains("PROG_BIND_MAP"));
    row.detail = clip(&notes.join("; "), 300);
    row
}

// --- inputs --------------------------------------------------------------------------

/// An allowlist: `OBJ<TAB>CATEGORY<TAB>REASON` lines (`#` comments), the known
/// differences with the reason each is not a bpfld bug. `cats` are the categories the
/// list may use.
pub fn read_allowlist(
    path: &Path,
    cats: &[Cat],
) -> Result<BTreeMap<String, (String, String)>, String> {
    let mut m = BTreeMap::new();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut it = line.splitn(3, '\t');
        let (Some(o), Some(c), Some(r)) = (it.next(), it.next(), it.next()) else {
            return Err(format!(
                "{}:{}: want OBJ<TAB>CATEGORY<TAB>REASON",
                path.display(),
                i + 1
            ));
        };
        if !cats.iter().any(|k| k.name() == c) || r.trim().is_empty() {
            return Err(format!(
                "{}:{}: unknown category or empty reason",
                path.display(),
                i + 1
            ));
        }
        m.insert(o.to_string(), (c.to_string(), r.trim().to_string()));
    }
    Ok(m)
}

/// A denylist: `OBJ<TAB>REASON` lines: objects not loaded at all.
pub fn read_denylist(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut m = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let Some((o, r)) = l.split_once('\t').filter(|(_, r)| !r.trim().is_empty()) else {
            return Err(format!("{}: want OBJ<TAB>REASON: {l}", path.display()));
        };
        m.insert(o.to_string(), r.trim().to_string());
    }
    Ok(m)
}

/// `selftests/kprogs/build.sh`'s `manifest.tsv`.
pub struct Manifest {
    /// (name, compiler) of every object built.
    pub built: Vec<(String, String)>,
    /// (file, reason) of every source no compiler could build.
    pub failed: Vec<(String, String)>,
}

/// Read `dir/manifest.tsv`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut m = Manifest {
        built: Vec::new(),
        failed: Vec::new(),
    };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        let [file, cc, status, reason] = f[..] else {
            continue;
        };
        let name = file.trim_end_matches(".c").to_string();
        if status == "ok" {
            m.built.push((name, cc.to_string()));
        } else {
            m.failed.push((file.to_string(), reason.to_string()));
        }
    }
    Ok(m)
}

/// `libbpf 1.5` from a libbpf install's `include/bpf/libbpf_version.h`, under `prefix`.
pub fn libbpf_version_at(prefix: &Path) -> String {
    let h =
        std::fs::read_to_string(prefix.join("include/bpf/libbpf_version.h")).unwrap_or_default();
    let num = |key: &str| {
        h.lines()
            .find_map(|l| l.strip_prefix(&format!("#define {key} ")))
            .map(|v| v.trim().to_string())
            .unwrap_or("?".into())
    };
    format!(
        "libbpf {}.{}",
        num("LIBBPF_MAJOR_VERSION"),
        num("LIBBPF_MINOR_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_lines_and_fields() {
        let d = parse_dump(
            "sec p section=xdp type=xdp attach=xdp flags=0x0 kver=0x0 autoload=1\n\
             prog p type=xdp attach=- gpl=1 insns=2 tag=00 maps=m funcs=- lines=0 xlated=\n\
             fail q errno=13\nmap m type=array key=4 value=8 max=1 flags=0x0 extra=0x0\n",
        );
        assert_eq!(field(&d.secs["p"], "section"), "xdp");
        assert_eq!(field(&d.progs["p"], "maps"), "m");
        assert_eq!(field(&d.fails["q"], "errno"), "13");
        assert_eq!(d.maps.len(), 1);
        assert!(!d.open_failed());
    }

    #[test]
    fn map_references_compare_by_name() {
        // ld_imm64 r1, map #0 in both, the lists naming the same map at index 0.
        let insn = "1811000000000000";
        let l = format!("prog p type=xdp attach=- gpl=1 insns=3 tag=0 maps=a,b funcs=- lines=0 xlated={insn}00000000000000009500000000000000");
        let o = format!("prog p type=xdp attach=- gpl=1 insns=3 tag=0 maps=a funcs=- lines=0 xlated={insn}00000000000000009500000000000000");
        assert_eq!(compare_prog(&l, &o), Ok(()));
        // Index 1 names b on one side, nothing on the other.
        let l2 = l.replace("xlated=1811000000000000", "xlated=1811000001000000");
        let o2 = o.replace("xlated=1811000000000000", "xlated=1811000001000000");
        assert!(compare_prog(&l2, &o2).is_err());
    }

    #[test]
    fn kernel_pointers_masked() {
        let plain = "data m key=0 value=0100000000000000ffffffffffffffff";
        assert_eq!(mask_kernel_ptrs(plain), plain);
        assert_eq!(
            mask_kernel_ptrs("data m key=0 value=00103c0b8188ffff01"),
            "data m key=0 value=<kptr>01"
        );
        // 5-level paging: 0xff22fcbc8234db08.
        assert_eq!(
            mask_kernel_ptrs("data m key=0 value=08db3482bcfc22ff"),
            "data m key=0 value=<kptr>"
        );
    }

    #[test]
    fn names() {
        assert_eq!(prog_type_name(bpfld_core::uapi::BPF_PROG_TYPE_XDP), "xdp");
        assert_eq!(
            err_prog("x.bpf.o: prog 'f': BPF_PROG_LOAD failed"),
            Some("f")
        );
        assert_eq!(err_prog("prog 'f"), None);
        assert_eq!(errno_name(524), "ENOTSUPP");
        assert_eq!(
            Cat::from_name("identical-partial"),
            Some(Cat::IdenticalPartial)
        );
        assert_eq!(list(&["a".into(), "b".into()]), "a,b");
    }
}

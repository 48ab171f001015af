// SPDX-License-Identifier: GPL-2.0-only

//! Differential test over the Linux 6.12 tree's own BPF selftest programs
//! (`tools/testing/selftests/bpf/progs/*.c`, built by `selftests/kprogs/build.sh` into
//! `target/bpf-kprogs`): each object is loaded by libbpf (`libbpf_dump OBJ`) and by
//! bpfld's user-space executor on the host kernel, compared as `differential.rs` does
//! (`common::compare_loaded`), and classified:
//!
//! * `identical`: libbpf loaded the object (perhaps without some programs the kernel
//!   refused), bpfld refused the same, loaded the rest, and the kernel holds the same;
//! * `both-fail`: libbpf loaded nothing, neither did bpfld (errnos noted);
//! * `libbpf-only`: bpfld failed where libbpf loaded (`libbpf-only-externs` when bpfld
//!   stopped at an extern: externs support is work in progress);
//! * `bpfld-only`: bpfld loaded what libbpf refused;
//! * `differs`: both loaded, the kernel's views differ (first difference).
//!
//! The report goes to `selftests/kprogs/REPORT-host.md` (full run) or
//! `target/bpf-kprogs/REPORT-subset.md`. The test fails only on `bpfld-only` and
//! `differs` objects that `selftests/kprogs/allowlist.tsv` does not explain.
//!
//! `BPFLD_KSELFTESTS`: unset = a fixed sample (every 4th object plus every allowlisted
//! one), `full` = every object, `a,b,c` = those objects (names without `.c`).
//! `BPFLD_KSELFTESTS_JOBS`: objects tested at once (default: available CPUs).
//! Without root, `bpf(2)`, the Linux tree or a compiler the test prints why and passes,
//! except under `CI=true`, where a skip is a failure.

mod common;

use bpfld::load::{load_userspace, load_userspace_with, LoadError, LoadOpts, UserLoad};
use bpfld_core::btf::BtfExt;
use bpfld_core::elf::Elf;
use bpfld_core::mem::VecAlloc;
use common::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one `libbpf_dump` may take (the slowest object needs a few seconds).
const LIBBPF_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Cat {
    Identical,
    BothFail,
    LibbpfOnly,
    LibbpfOnlyExterns,
    BpfldOnly,
    Differs,
}

impl Cat {
    const ALL: [Cat; 6] = [
        Cat::Identical,
        Cat::BothFail,
        Cat::LibbpfOnly,
        Cat::LibbpfOnlyExterns,
        Cat::BpfldOnly,
        Cat::Differs,
    ];
    fn name(self) -> &'static str {
        match self {
            Cat::Identical => "identical",
            Cat::BothFail => "both-fail",
            Cat::LibbpfOnly => "libbpf-only",
            Cat::LibbpfOnlyExterns => "libbpf-only-externs",
            Cat::BpfldOnly => "bpfld-only",
            Cat::Differs => "differs",
        }
    }
    fn meaning(self) -> &'static str {
        match self {
            Cat::Identical => "both loaded the same (programs both refuse excepted)",
            Cat::BothFail => "neither loads anything",
            Cat::LibbpfOnly => "libbpf loads, bpfld fails (candidate bpfld bugs)",
            Cat::LibbpfOnlyExterns => "libbpf loads, bpfld stops at an extern",
            Cat::BpfldOnly => "bpfld loads what libbpf refuses (allowlisted with reasons)",
            Cat::Differs => "both load, the kernel's views differ (allowlisted with reasons)",
        }
    }
}

/// What the object file itself says (read with bpfld-core's parsers).
#[derive(Default)]
struct Static {
    core_relos: usize,
    externs: Vec<String>,
    parse_error: Option<String>,
}

impl Static {
    fn feature(&self) -> &'static str {
        match (self.core_relos > 0, !self.externs.is_empty()) {
            _ if self.parse_error.is_some() => "unparsed",
            (true, true) => "core+externs",
            (true, false) => "core",
            (false, true) => "externs",
            (false, false) => "plain",
        }
    }
}

/// One object against one libbpf.
struct Outcome {
    cat: Cat,
    /// One line: why (for everything but plain `identical`).
    detail: String,
    /// Programs compared identical.
    progs: usize,
    /// Programs both refused.
    both_refused: usize,
}

struct Row {
    name: String,
    feature: &'static str,
    /// Against the system libbpf (the verdict).
    sys: Outcome,
    /// Against the tree's libbpf, for objects not identical against the system one.
    tree: Option<Outcome>,
}

/// A `libbpf_dump` build: the system one or the tree's.
#[derive(Clone, Copy)]
struct Ref<'a> {
    /// File name of the harness in the output directory.
    tool: &'a str,
    /// Tag for the files under `run/`.
    tag: &'a str,
}

const SYS: Ref<'static> = Ref {
    tool: "libbpf_dump",
    tag: "sys",
};
const TREE: Ref<'static> = Ref {
    tool: "libbpf_dump.tree",
    tag: "tree",
};

fn static_info(path: &Path) -> Static {
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
struct Libbpf {
    dump: Dump,
    /// Killed by a signal (libbpf 1.1.2 crashes on some objects).
    signal: Option<i32>,
    /// The first `libbpf:` line of its stderr, the root cause of most failures.
    first_error: String,
}

impl Libbpf {
    /// libbpf created no program (and refused the object, or every program).
    fn loaded_nothing(&self) -> bool {
        self.signal.is_some()
            || self.dump.open_failed()
            || (self.dump.progs.is_empty() && !self.dump.fails.is_empty())
    }
    fn why(&self) -> String {
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
    fn errno(&self) -> Option<i32> {
        self.dump
            .fails
            .values()
            .next()
            .and_then(|l| field(l, "errno").parse().ok())
    }
}

fn run_libbpf(dir: &Path, r: Ref<'_>, obj: &Path, name: &str) -> Libbpf {
    let logs = dir.join("run");
    std::fs::create_dir_all(&logs).unwrap();
    let out_path = logs.join(format!("{name}.{}.libbpf.out", r.tag));
    let err_path = logs.join(format!("{name}.{}.libbpf.err", r.tag));
    let mut child = Command::new(dir.join(r.tool))
        .arg(obj)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("libbpf_dump");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > LIBBPF_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
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
    }
}

fn clip(s: &str, n: usize) -> String {
    let s = s.trim().replace('|', "\\|");
    if s.chars().count() <= n {
        return s;
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    out
}

/// The program a bpfld error names (`prog 'X': ...`), if any.
fn err_prog(msg: &str) -> Option<&str> {
    let rest = &msg[msg.find("prog '")? + 6..];
    Some(&rest[..rest.find('\'')?])
}

fn errno_name(e: i32) -> String {
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

/// Error message of bpfld without the object's directory (reports stay stable).
fn bpfld_msg(e: &LoadError, dir: &Path) -> String {
    let mut m = e.msg.replace(&format!("{}/", dir.display()), "");
    if let Some(last) = e.log.lines().rev().find(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
    }) {
        let _ = write!(m, " [log: {}]", last.trim());
    }
    clip(&m, 220)
}

fn classify(dir: &Path, obj: &Path, name: &str) -> Row {
    let st = static_info(obj);
    let mut ours = Bpfld {
        path: obj.to_str().unwrap(),
        full: None,
        partial: Vec::new(),
    };
    let sys = compare(dir, SYS, obj, name, &st, &mut ours);
    let tree = (sys.cat != Cat::Identical).then(|| compare(dir, TREE, obj, name, &st, &mut ours));
    Row {
        name: name.to_string(),
        feature: st.feature(),
        sys,
        tree,
    }
}

/// bpfld's loads of one object, made once and shared by both comparisons.
struct Bpfld<'p> {
    path: &'p str,
    /// Every program.
    full: Option<Result<UserLoad, LoadError>>,
    /// Without some programs.
    partial: Vec<(Vec<String>, Result<UserLoad, LoadError>)>,
}

impl Bpfld<'_> {
    fn full(&mut self) -> &Result<UserLoad, LoadError> {
        let path = self.path;
        self.full.get_or_insert_with(|| load_userspace(path))
    }

    fn without(&mut self, disable: &[String]) -> &Result<UserLoad, LoadError> {
        if disable.is_empty() {
            return self.full();
        }
        let i = match self.partial.iter().position(|(d, _)| d == disable) {
            Some(i) => i,
            None => {
                let r = load_userspace_with(
                    self.path,
                    &LoadOpts {
                        disable: disable.to_vec(),
                        kernel_core: false,
                    },
                );
                self.partial.push((disable.to_vec(), r));
                self.partial.len() - 1
            }
        };
        &self.partial[i].1
    }
}

fn compare(
    dir: &Path,
    r: Ref<'_>,
    obj: &Path,
    name: &str,
    st: &Static,
    bpfld: &mut Bpfld<'_>,
) -> Outcome {
    let path = obj.to_str().unwrap();
    let lib = run_libbpf(dir, r, obj, name);
    let mut row = Outcome {
        cat: Cat::Identical,
        detail: String::new(),
        progs: 0,
        both_refused: 0,
    };
    let externs_note = || {
        let mut v: Vec<&str> = st.externs.iter().map(String::as_str).collect();
        v.truncate(4);
        format!(
            "{} extern(s): {}{}",
            st.externs.len(),
            v.join(", "),
            if st.externs.len() > 4 { ", …" } else { "" }
        )
    };
    let libbpf_only = |row: &mut Outcome, e: &LoadError, what: &str| {
        let msg = bpfld_msg(e, dir);
        row.cat = if !st.externs.is_empty()
            && (msg.contains("extern") || msg.contains("kfunc") || msg.contains("ksym"))
        {
            Cat::LibbpfOnlyExterns
        } else {
            Cat::LibbpfOnly
        };
        row.detail = format!("{what}bpfld: {} {msg}", errno_name(e.errno));
        if row.cat == Cat::LibbpfOnlyExterns {
            let _ = write!(row.detail, "; {}", externs_note());
        }
    };
    let refused: Vec<String> = lib
        .dump
        .fails
        .keys()
        .filter(|k| k.as_str() != "-")
        .cloned()
        .collect();
    if lib.loaded_nothing() {
        match bpfld.full() {
            Ok(ours) => {
                row.cat = Cat::BpfldOnly;
                row.detail = format!(
                    "libbpf: {}; bpfld loads {} program(s), {} map(s)",
                    lib.why(),
                    ours.progs.len(),
                    ours.maps.len()
                );
            }
            Err(e) => {
                row.cat = Cat::BothFail;
                let same = match lib.errno() {
                    Some(le) if le == e.errno => "same errno".to_string(),
                    Some(le) => format!("errno differs: libbpf {}", errno_name(le)),
                    None => "libbpf gave no errno".to_string(),
                };
                // libbpf got as far as loading programs and refused them all: bpfld
                // must fail on one of them too, not on something before.
                let earlier = lib.signal.is_none()
                    && !lib.dump.open_failed()
                    && !err_prog(&e.msg).is_some_and(|p| refused.iter().any(|f| f == p));
                row.detail = format!(
                    "{}{same}; libbpf: {}; bpfld: {} {}",
                    if earlier { EARLIER } else { "" },
                    lib.why(),
                    errno_name(e.errno),
                    bpfld_msg(e, dir)
                );
            }
        }
        return row;
    }
    let failed = refused;
    row.both_refused = failed.len();
    let mut notes = Vec::new();
    if !failed.is_empty() {
        match bpfld.full() {
            Ok(_) => {
                row.cat = Cat::BpfldOnly;
                row.detail = format!("libbpf: {}; bpfld loads every program", lib.why());
                return row;
            }
            Err(e) => match err_prog(&e.msg) {
                Some(p) if failed.iter().any(|f| f == p) => {
                    let le = lib
                        .dump
                        .fails
                        .get(p)
                        .and_then(|l| field(l, "errno").parse::<i32>().ok());
                    if le != Some(e.errno) {
                        notes.push(format!(
                            "{p}: refused by both, libbpf {} bpfld {}",
                            le.map(errno_name).unwrap_or("-".into()),
                            errno_name(e.errno)
                        ));
                    }
                }
                _ => {
                    libbpf_only(
                        &mut row,
                        e,
                        &format!("with every program (libbpf: {}): ", lib.why()),
                    );
                    return row;
                }
            },
        }
    }
    let ours = match bpfld.without(&failed) {
        Ok(o) => o,
        Err(e) => {
            let what = if failed.is_empty() {
                String::new()
            } else {
                format!("without {}: ", list(&failed))
            };
            libbpf_only(&mut row, e, &what);
            return row;
        }
    };
    if !(ours.progs.is_empty() && lib.dump.progs.is_empty()) {
        let save = dir.join("run").join(format!("{name}.{}.bpfld.out", r.tag));
        let tool = dir.join(r.tool);
        let opts = CompareOpts {
            save_dump: Some(&save),
            dump_tool: Some(&tool),
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

/// Marks a both-fail object where bpfld stopped before the programs libbpf refused.
const EARLIER: &str = "bpfld stops earlier: ";

/// At most four names, then how many more.
fn list(v: &[String]) -> String {
    if v.len() <= 4 {
        return v.join(",");
    }
    format!("{},… ({} in all)", v[..4].join(","), v.len())
}

/// `OBJ<TAB>CATEGORY<TAB>REASON` lines (`#` comments): the known bpfld-only and
/// differs objects.
fn read_allowlist(path: &Path) -> BTreeMap<String, (String, String)> {
    let mut m = BTreeMap::new();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut it = line.splitn(3, '\t');
        let (Some(o), Some(c), Some(r)) = (it.next(), it.next(), it.next()) else {
            panic!(
                "{}:{}: want OBJ<TAB>CATEGORY<TAB>REASON",
                path.display(),
                i + 1
            );
        };
        assert!(
            Cat::ALL.iter().any(|k| k.name() == c) && !r.trim().is_empty(),
            "{}:{}: unknown category or empty reason",
            path.display(),
            i + 1
        );
        m.insert(o.to_string(), (c.to_string(), r.trim().to_string()));
    }
    m
}

/// `OBJ<TAB>REASON` lines: objects not loaded at all.
fn read_denylist(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (o, r) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{}: want OBJ<TAB>REASON: {l}", path.display()));
            assert!(
                !r.trim().is_empty(),
                "{}: {o} has no reason",
                path.display()
            );
            (o.to_string(), r.trim().to_string())
        })
        .collect()
}

struct Manifest {
    /// (name, compiler) of every object built.
    built: Vec<(String, String)>,
    /// (file, reason) of every source no compiler could build.
    failed: Vec<(String, String)>,
}

fn read_manifest(dir: &Path) -> Manifest {
    let text = std::fs::read_to_string(dir.join("manifest.tsv")).expect("manifest.tsv");
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
    m
}

fn libbpf_version() -> String {
    for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"] {
        if let Ok(p) = std::fs::canonicalize(format!("{d}/libbpf.so.1")) {
            return file_name(&p);
        }
    }
    "libbpf (version unknown)".into()
}

#[test]
fn kernel_selftests_match_libbpf() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    let root = repo_root();
    let dir = root.join("target/bpf-kprogs");
    let out = Command::new(root.join("selftests/kprogs/build.sh"))
        .arg(&dir)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .expect("selftests/kprogs/build.sh");
    if out.status.code() == Some(3) {
        skip(String::from_utf8_lossy(&out.stderr).trim());
        return;
    }
    assert!(
        out.status.success(),
        "selftests/kprogs/build.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = read_manifest(&dir);
    let kprogs = root.join("selftests/kprogs");
    let allow = read_allowlist(&kprogs.join("allowlist.tsv"));
    let deny = read_denylist(&kprogs.join("denylist.tsv"));
    let mode = std::env::var("BPFLD_KSELFTESTS").unwrap_or_default();
    let full = mode == "full";
    let chosen: Vec<(String, String)> = manifest
        .built
        .iter()
        .enumerate()
        .filter(|(i, (n, _))| match mode.as_str() {
            "full" => true,
            "" => i % 4 == 0 || allow.contains_key(n),
            list => list.split(',').any(|x| x == n),
        })
        .map(|(_, x)| x.clone())
        .collect();
    let todo: Vec<&(String, String)> = chosen
        .iter()
        .filter(|(n, _)| !deny.contains_key(n))
        .collect();
    let jobs = std::env::var("BPFLD_KSELFTESTS_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    eprintln!(
        "kselftests: {} of {} objects ({}), {jobs} at once",
        todo.len(),
        manifest.built.len(),
        if full {
            "full"
        } else if mode.is_empty() {
            "sample; BPFLD_KSELFTESTS=full for all"
        } else {
            "selected"
        }
    );
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, _)) = todo.get(i) else { break };
                let obj = dir.join(format!("{name}.bpf.o"));
                let row = classify(&dir, &obj, name);
                rows.lock().unwrap().push(row);
            });
        }
    });
    let mut rows = rows.into_inner().unwrap();
    rows.sort_by(|a, b| a.name.cmp(&b.name));

    // Verdict: unexplained bpfld-only and differs entries.
    let mut unexplained = Vec::new();
    let mut stale = Vec::new();
    for r in &rows {
        let listed = allow.get(&r.name);
        match (r.sys.cat, listed) {
            (Cat::BpfldOnly | Cat::Differs, Some((c, _))) if c == r.sys.cat.name() => {}
            (Cat::BpfldOnly | Cat::Differs, _) => unexplained.push(format!(
                "{} [{}]: {}",
                r.name,
                r.sys.cat.name(),
                r.sys.detail
            )),
            (c, Some((l, _))) if l != c.name() => {
                stale.push(format!("{}: allowlisted as {l}, now {}", r.name, c.name()))
            }
            _ => {}
        }
    }

    let report = render_report(
        &manifest,
        &chosen,
        &deny,
        &allow,
        &rows,
        &unexplained,
        &stale,
        full,
    );
    let report_path = if full {
        kprogs.join("REPORT-host.md")
    } else {
        dir.join("REPORT-subset.md")
    };
    std::fs::write(&report_path, report).unwrap();
    let mut counts = String::new();
    for c in Cat::ALL {
        let n = rows.iter().filter(|r| r.sys.cat == c).count();
        let _ = write!(counts, " {}={n}", c.name());
    }
    eprintln!(
        "kselftests: {} objects in {}s:{counts}; report {}",
        rows.len(),
        start.elapsed().as_secs(),
        report_path.display()
    );
    assert!(
        unexplained.is_empty(),
        "{} bpfld-only/differs object(s) not explained in selftests/kprogs/allowlist.tsv:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}

/// `libbpf 1.5.0` from the tree's `libbpf_version.h`.
fn tree_libbpf_version(dir: &Path) -> String {
    let h = std::fs::read_to_string(dir.join("libbpf-tree/include/bpf/libbpf_version.h"))
        .unwrap_or_default();
    let num = |key: &str| {
        h.lines()
            .find_map(|l| l.strip_prefix(&format!("#define {key} ")))
            .map(|v| v.trim().to_string())
            .unwrap_or("?".into())
    };
    format!(
        "libbpf {}.{} (the tree's tools/lib/bpf)",
        num("LIBBPF_MAJOR_VERSION"),
        num("LIBBPF_MINOR_VERSION")
    )
}

#[allow(clippy::too_many_arguments)]
fn render_report(
    manifest: &Manifest,
    chosen: &[(String, String)],
    deny: &BTreeMap<String, String>,
    allow: &BTreeMap<String, (String, String)>,
    rows: &[Row],
    unexplained: &[String],
    stale: &[String],
    full: bool,
) -> String {
    let dir = repo_root().join("target/bpf-kprogs");
    let tree_version = tree_libbpf_version(&dir);
    let mut s = String::new();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(
        s,
        "# Linux 6.12 BPF selftest programs: libbpf vs bpfld on the host\n"
    );
    let _ = writeln!(
        s,
        "Generated by `cargo test -p bpfld-cli --test kselftests` ({}) on kernel {}. \
         Reference: the system {} (the verdict); objects not identical against it are \
         also compared with {}. See README.md for how the objects are built and compared. \
         Do not edit by hand.\n",
        if full {
            "`BPFLD_KSELFTESTS=full`"
        } else {
            "sample"
        },
        kernel.trim(),
        libbpf_version(),
        tree_version
    );
    let by_cc = |cc: &str| manifest.built.iter().filter(|(_, c)| c == cc).count();
    let mut ccs: Vec<&str> = manifest.built.iter().map(|(_, c)| c.as_str()).collect();
    ccs.sort();
    ccs.dedup();
    let cc_list: Vec<String> = ccs.iter().map(|c| format!("{} by {c}", by_cc(c))).collect();
    let _ = writeln!(
        s,
        "Sources: {} built ({}), {} not built; {} object(s) tested, {} denylisted.\n",
        manifest.built.len(),
        cc_list.join(", "),
        manifest.failed.len(),
        rows.len(),
        chosen.iter().filter(|(n, _)| deny.contains_key(n)).count()
    );
    let feats = ["plain", "core", "externs", "core+externs", "unparsed"];
    let _ = writeln!(
        s,
        "| category | objects | {} | meaning |",
        feats.join(" | ")
    );
    let _ = writeln!(s, "|---|---|{}---|", "---|".repeat(feats.len()));
    for c in Cat::ALL {
        let n = rows.iter().filter(|r| r.sys.cat == c).count();
        let per: Vec<String> = feats
            .iter()
            .map(|f| {
                rows.iter()
                    .filter(|r| r.sys.cat == c && r.feature == *f)
                    .count()
                    .to_string()
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {n} | {} | {} |",
            c.name(),
            per.join(" | "),
            c.meaning()
        );
    }
    let total: Vec<String> = feats
        .iter()
        .map(|f| rows.iter().filter(|r| r.feature == *f).count().to_string())
        .collect();
    let _ = writeln!(s, "| all | {} | {} | |", rows.len(), total.join(" | "));
    let progs: usize = rows.iter().map(|r| r.sys.progs).sum();
    let refused: usize = rows
        .iter()
        .filter(|r| r.sys.cat == Cat::Identical)
        .map(|r| r.sys.both_refused)
        .sum();
    let _ = writeln!(
        s,
        "\nFeature columns: `core` = has CO-RE relocation records (.BTF.ext), `externs` = has \
         undefined symbols (kconfig/ksym/kfunc or static-linker externs). {progs} programs \
         compared identical; in identical objects {refused} programs are refused by both \
         (bpfld's refusal is checked to name one of libbpf's refused programs).\n"
    );
    // How the non-identical objects fare against the tree's libbpf.
    let _ = writeln!(
        s,
        "Objects not identical against the system libbpf, by outcome against {tree_version}:\n"
    );
    let names: Vec<&str> = Cat::ALL.iter().map(|c| c.name()).collect();
    let _ = writeln!(s, "| system \\ tree | {} |", names.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(names.len()));
    for c in Cat::ALL.iter().skip(1) {
        let per: Vec<String> = Cat::ALL
            .iter()
            .map(|t| {
                rows.iter()
                    .filter(|r| r.sys.cat == *c && r.tree.as_ref().map(|o| o.cat) == Some(*t))
                    .count()
                    .to_string()
            })
            .collect();
        let _ = writeln!(s, "| {} | {} |", c.name(), per.join(" | "));
    }
    let _ = writeln!(s);
    if !unexplained.is_empty() {
        let _ = writeln!(s, "## Not explained in allowlist.tsv (test fails)\n");
        for u in unexplained {
            let _ = writeln!(s, "* {u}");
        }
        let _ = writeln!(s);
    }
    if !stale.is_empty() {
        let _ = writeln!(s, "## Allowlist entries that no longer match\n");
        for u in stale {
            let _ = writeln!(s, "* {u}");
        }
        let _ = writeln!(s);
    }
    let row_line = |s: &mut String, r: &Row, why: String| {
        let tree = match &r.tree {
            Some(o) if o.cat == r.sys.cat && o.detail == r.sys.detail => {
                format!("{} (same)", o.cat.name())
            }
            Some(o) if o.detail.is_empty() => o.cat.name().to_string(),
            Some(o) => format!("{}: {}", o.cat.name(), o.detail),
            None => "-".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {why} |",
            r.name, r.feature, r.sys.detail, tree
        );
    };
    let header =
        "| object | kind | against the system libbpf | against the tree's libbpf | allowlist |\n\
                  |---|---|---|---|---|";
    let note = |r: &Row| {
        allow
            .get(&r.name)
            .map(|(_, w)| clip(w, 400))
            .unwrap_or_default()
    };
    let earlier: Vec<&Row> = rows
        .iter()
        .filter(|r| r.sys.cat == Cat::BothFail && r.sys.detail.starts_with(EARLIER))
        .collect();
    if !earlier.is_empty() {
        let _ = writeln!(
            s,
            "## both-fail, but bpfld stops earlier ({})\n",
            earlier.len()
        );
        let _ = writeln!(
            s,
            "libbpf loaded the maps and refused every program; bpfld failed before reaching \
             one of those programs (candidate bpfld bugs hidden by a both-fail).\n\n{header}"
        );
        for r in earlier {
            row_line(&mut s, r, note(r));
        }
        let _ = writeln!(s);
    }
    let tree_cands: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.tree.as_ref().is_some_and(|t| {
                t.cat != r.sys.cat
                    && (matches!(
                        t.cat,
                        Cat::LibbpfOnly | Cat::LibbpfOnlyExterns | Cat::Differs
                    ) || t.detail.starts_with(EARLIER))
            })
        })
        .collect();
    if !tree_cands.is_empty() {
        let _ = writeln!(
            s,
            "## Only against the tree's libbpf: bpfld fails or differs ({})\n",
            tree_cands.len()
        );
        let _ = writeln!(
            s,
            "Objects whose system-libbpf outcome hides a problem that {tree_version} shows \
             (it loads them, bpfld does not, or differently).\n\n{header}"
        );
        for r in tree_cands {
            row_line(&mut s, r, note(r));
        }
        let _ = writeln!(s);
    }
    for c in [
        Cat::LibbpfOnly,
        Cat::Differs,
        Cat::BpfldOnly,
        Cat::LibbpfOnlyExterns,
        Cat::BothFail,
    ] {
        let list: Vec<&Row> = rows.iter().filter(|r| r.sys.cat == c).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {} ({})\n", c.name(), list.len());
        let _ = writeln!(s, "{}.\n", c.meaning());
        let _ = writeln!(s, "{header}");
        for r in list {
            let why = allow.get(&r.name).map(|(_, w)| clip(w, 400)).unwrap_or(
                if matches!(c, Cat::BpfldOnly | Cat::Differs) {
                    "**none**".into()
                } else {
                    String::new()
                },
            );
            row_line(&mut s, r, why);
        }
        let _ = writeln!(s);
    }
    let noted: Vec<&Row> = rows
        .iter()
        .filter(|r| r.sys.cat == Cat::Identical && !r.sys.detail.is_empty())
        .collect();
    if !noted.is_empty() {
        let _ = writeln!(s, "## identical, with notes ({})\n", noted.len());
        let _ = writeln!(s, "| object | kind | programs | notes |\n|---|---|---|---|");
        for r in noted {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.name, r.feature, r.sys.progs, r.sys.detail
            );
        }
        let _ = writeln!(s);
    }
    let denied: Vec<&(String, String)> = chosen
        .iter()
        .filter(|(n, _)| deny.contains_key(n))
        .collect();
    if !denied.is_empty() {
        let _ = writeln!(
            s,
            "## Denylisted (not loaded)\n\n| object | reason |\n|---|---|"
        );
        for (n, _) in denied {
            let _ = writeln!(s, "| {n} | {} |", deny[n]);
        }
        let _ = writeln!(s);
    }
    if !manifest.failed.is_empty() {
        let _ = writeln!(s, "## Not built\n\n| source | why |\n|---|---|");
        for (f, r) in &manifest.failed {
            let _ = writeln!(s, "| {f} | {} |", clip(r, 300));
        }
        let _ = writeln!(s);
    }
    s
}

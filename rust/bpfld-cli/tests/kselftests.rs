// SPDX-License-Identifier: GPL-2.0-only

//! Differential test over the Linux 6.12 tree's own BPF selftest programs
//! (`tools/testing/selftests/bpf/progs/*.c`, built by `selftests/kprogs/build.sh` into
//! `target/bpf-kprogs`): each object is loaded by libbpf (`libbpf_dump OBJ`) and by
//! bpfld's user-space executor on the host kernel, compared as `differential.rs` does
//! (`bpfld::parity::classify_userspace`), and classified:
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
//! `BPFLD_KSELFTESTS`: unset = a fixed sample (every 8th object plus every allowlisted
//! one), `full` = every object, `a,b,c` = those objects (names without `.c`).
//! `BPFLD_KSELFTESTS_JOBS`: objects tested at once (default: available CPUs).
//! Without root, `bpf(2)`, the Linux tree or a compiler the test prints why and passes,
//! except under `CI=true`, where a skip is a failure.

mod common;

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

fn classify(dir: &Path, obj: &Path, name: &str) -> Row {
    let st = static_info(obj);
    let mut ours = UserLoads::new(obj.to_str().unwrap());
    let sys = compare(dir, SYS, obj, name, &st, &mut ours);
    let tree = (sys.cat != Cat::Identical).then(|| compare(dir, TREE, obj, name, &st, &mut ours));
    Row {
        name: name.to_string(),
        feature: st.feature(),
        sys,
        tree,
    }
}

/// Run one libbpf build on the object and classify bpfld's load against it.
fn compare(
    dir: &Path,
    r: Ref<'_>,
    obj: &Path,
    name: &str,
    st: &Static,
    bpfld: &mut UserLoads<'_>,
) -> Outcome {
    let logs = dir.join("run");
    std::fs::create_dir_all(&logs).unwrap();
    let tool = dir.join(r.tool);
    let lib = run_libbpf(
        &tool,
        &[],
        obj,
        &logs.join(format!("{name}.{}.libbpf.out", r.tag)),
        &logs.join(format!("{name}.{}.libbpf.err", r.tag)),
        LIBBPF_TIMEOUT,
    );
    let save = logs.join(format!("{name}.{}.bpfld.out", r.tag));
    classify_userspace(dir, &tool, &save, &lib, st, bpfld)
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
    let manifest = read_manifest(&dir).unwrap();
    let kprogs = root.join("selftests/kprogs");
    let allow = read_allowlist(&kprogs.join("allowlist.tsv"), &Cat::HOST).unwrap();
    let deny = read_denylist(&kprogs.join("denylist.tsv")).unwrap();
    let mode = std::env::var("BPFLD_KSELFTESTS").unwrap_or_default();
    let full = mode == "full";
    let chosen: Vec<(String, String)> = manifest
        .built
        .iter()
        .enumerate()
        .filter(|(i, (n, _))| match mode.as_str() {
            "full" => true,
            "" => i % 8 == 0 || allow.contains_key(n),
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
    for c in Cat::HOST {
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

/// `libbpf 1.5 (the tree's tools/lib/bpf)`.
fn tree_libbpf_version(dir: &Path) -> String {
    format!(
        "{} (the tree's tools/lib/bpf)",
        libbpf_version_at(&dir.join("libbpf-tree"))
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
    for c in Cat::HOST {
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
    let names: Vec<&str> = Cat::HOST.iter().map(|c| c.name()).collect();
    let _ = writeln!(s, "| system \\ tree | {} |", names.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(names.len()));
    for c in Cat::HOST.iter().skip(1) {
        let per: Vec<String> = Cat::HOST
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

// SPDX-License-Identifier: GPL-2.0-only

//! Part B, inside the test VM: loads through `/dev/bpfld` (objects on fs-verity, module
//! in development mode) against libbpf's open + load of the same files.

use crate::stats::{
    bytes, bytes_cell, col, median, median_interval, median_ratio_interval, overhead_shares, ratio,
    ratio_interval_cell, time, time_cell, under_10_percent, verdict, Interval, Table,
};
use crate::{libbpf, ours, Object};
use bpfld::dev::{Device, KLoadOpts, KStats, DEVICE};
use bpfld::host::HostBtf;
use bpfld::kmsg::KernelLog;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

/// What `bpfld-bench vm` was asked.
pub struct Args {
    pub libbpf_bench: String,
    pub module: String,
    pub image: String,
    pub iters: usize,
    /// Module reloads for the first-CO-RE-load figure.
    pub first: usize,
    pub objects: Vec<Object>,
}

/// Where the verity image is mounted.
const MNT: &str = "/run/bpfld-bench";

fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn insmod(module: &str) -> Result<(), String> {
    sh("insmod", &[module, "dev_mode=1"]).map(|_| ())
}

/// Whether each load logs where its time went (B.2, steps); a module without the
/// parameter simply has no steps to show. The line is printed inside the ioctl, after
/// `time_ns` is taken: it lengthens the caller's wall time (B.1), not the module's.
fn set_log_phases(on: bool) {
    let _ = std::fs::write(
        "/sys/module/bpfld/parameters/log_phases",
        if on { "Y" } else { "N" },
    );
}

/// Whether the running kernel records a stack trace per allocation (kmemleak), which
/// weighs on every BPF command and more on deep (module) stacks than on bpf(2)'s.
fn kmemleak() -> &'static str {
    const PROBE: &str = "zcat /proc/config.gz | grep -x CONFIG_DEBUG_KMEMLEAK=y";
    match sh("sh", &["-c", PROBE]) {
        Ok(_) => "on (a debug kernel: every allocation records a stack trace)",
        Err(_) if std::path::Path::new("/proc/config.gz").exists() => {
            "off (scripts/kernel --variant bench)"
        }
        Err(_) => "unknown (no /proc/config.gz)",
    }
}

/// The steps of a load the module logs with `log_phases=1`, in its order; "kernel_read"
/// is the part of "read" inside `kernel_read()`, "bpf" the part of "execute" inside the
/// kernel's BPF commands; "queued" and "made" are the plan's wait for the other CPU
/// and its time there, both within "plan" and the BTF_LOAD beside it.
const STEPS: [&str; 15] = [
    "check",
    "wake",
    "read",
    "kernel_read",
    "handoff",
    "parse",
    "plan",
    "queued",
    "made",
    "execute",
    "bpf",
    "take",
    "return",
    "free",
    "join",
];

/// Nanoseconds per step, in [`STEPS`] order.
type StepTimes = [u64; STEPS.len()];

/// The durations in the module's "phases of 'NAME' (ns): check N read N ..." line.
fn parse_steps(line: &str, name: &str) -> Option<StepTimes> {
    let rest = line.split(&format!("phases of '{name}' (ns): ")).nth(1)?;
    let words: Vec<&str> = rest
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '(' || c == ')'))
        .collect();
    let mut out = [0u64; STEPS.len()];
    for (slot, step) in out.iter_mut().zip(STEPS) {
        let i = words.iter().position(|w| *w == step)?;
        *slot = words.get(i + 1)?.parse().ok()?;
    }
    Some(out)
}

/// Nanoseconds per command ([`libbpf::CMDS`]) in the phases line's "commands (calls:ns) NAME
/// CALLS:NS ..." part.
fn parse_cmds(line: &str, name: &str) -> Option<[u64; 5]> {
    let rest = line.split(&format!("phases of '{name}' (ns): ")).nth(1)?;
    let rest = rest.split("commands (calls:ns) ").nth(1)?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let mut out = [0u64; 5];
    for (slot, cmd) in out.iter_mut().zip(libbpf::CMDS) {
        let i = words.iter().position(|w| *w == cmd)?;
        *slot = words.get(i + 1)?.split_once(':')?.1.parse().ok()?;
    }
    Some(out)
}

/// One load through the ioctl.
#[derive(Clone, Copy, Debug, Default)]
struct KSample {
    /// open(2) of the object + the ioctl, as the caller sees it.
    wall_ns: u64,
    /// Of `wall_ns`, the open(2).
    open_ns: u64,
    /// The module's own figures.
    stats: KStats,
    /// Whether the module was asked to log its steps for this load (`log_phases`).
    phases: bool,
    /// The module's steps ([`STEPS`]), when it logged them.
    steps: Option<StepTimes>,
    /// Its time per BPF command ([`libbpf::CMDS`]), when it logged them.
    cmds: Option<[u64; 5]>,
}

/// Where a module's programs and maps are more than `Device::load` first offers, it
/// repeats the ioctl (ENOSPC): refuse such objects rather than time two loads.
const ROOM: usize = 16;

fn kload(dev: &Device, path: &str, log: &mut Option<KernelLog>) -> Result<KSample, String> {
    let opts = KLoadOpts {
        log_level: 0,
        log_size: 0,
        flags: 0,
    };
    let t0 = Instant::now();
    let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let open_ns = t0.elapsed().as_nanos() as u64;
    let l = dev.load(&f, &opts).map_err(|e| e.to_string())?;
    let wall_ns = t0.elapsed().as_nanos() as u64;
    if l.progs.len() > ROOM || l.maps.len() > ROOM {
        return Err(format!(
            "{} programs and {} maps: more than the {ROOM} Device::load offers first",
            l.progs.len(),
            l.maps.len()
        ));
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    let lines = log.as_mut().map(|k| k.drain()).unwrap_or_default();
    let found = lines.iter().find_map(|l| Some((parse_steps(l, name)?, l)));
    Ok(KSample {
        wall_ns,
        open_ns,
        stats: l.stats,
        phases: false,
        steps: found.map(|(s, _)| s),
        cmds: found.and_then(|(_, l)| parse_cmds(l, name)),
    })
}

/// The last "vmlinux BTF cached: N bytes" of the kernel log.
fn cached_bytes() -> Option<u64> {
    let log = sh("dmesg", &[]).ok()?;
    log.lines()
        .rev()
        .find_map(|l| l.split("vmlinux BTF cached: ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
}

struct Row {
    obj: Object,
    ours: Vec<KSample>,
    /// The kernel's time per command ([`libbpf::CMDS`]) of each load by bpfld's
    /// user-space executor (the same plan, bpf(2) from this process); empty if it could
    /// not load the object here.
    user: Vec<[u64; 5]>,
    lib: Vec<libbpf::LoadSample>,
    /// libbpf's first load in its process.
    lib_first: libbpf::LoadSample,
}

pub fn run(a: &Args) -> Result<String, String> {
    let _ = sh("rmmod", &["bpfld"]);
    insmod(&a.module)?;
    std::fs::create_dir_all(MNT).map_err(|e| format!("{MNT}: {e}"))?;
    sh("mount", &["-o", "loop", &a.image, MNT])?;
    let mut objs = Vec::new();
    for o in &a.objects {
        let dst = format!("{MNT}/{}", o.name);
        std::fs::copy(&o.path, &dst).map_err(|e| format!("{dst}: {e}"))?;
        sh("fsverity", &["enable", &dst])?;
        objs.push(Object {
            path: dst,
            ..o.clone()
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Part B (VM): bpfld.ko ioctl vs libbpf {}",
        crate::LIBBPF
    );
    // Under TCG the module's code and the kernel's commands slow down by different
    // factors (Documentation/benchmarks.rst): the shares are the emulator's too.
    let accel = if bpfld::guest_accel() == "KVM" {
        "KVM (the host's CPU): times and shares are the hardware's;"
    } else {
        "TCG (no KVM): absolute times are an emulator's;"
    };
    let _ = writeln!(
        out,
        "# guest kernel {}, {} CPUs, {accel}",
        crate::osrelease(),
        crate::cpus()
    );
    let _ = writeln!(
        out,
        "# the ratios are what to read. Figures are median [p10..p90] of the runs."
    );
    let _ = writeln!(out, "# kmemleak: {}", kmemleak());

    // The user-space executor plans against this kernel's BTF, indexed once as the
    // module keeps its index.
    let host = HostBtf::load().ok();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for o in &objs {
        eprintln!("bench: {}", o.name);
        match object(a, o, host.as_ref()) {
            Ok(r) => rows.push(r),
            Err(e) => skipped.push(format!("{}: {e}", o.name)),
        }
    }
    let n = a.iters;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "## B.1 load wall time: open(2) + BPFLD_IOC_LOAD vs bpf_object__open_file + bpf_object__load"
    );
    let _ = writeln!(
        out,
        "{n} runs each after one warm-up (the module's vmlinux index is built by then); the"
    );
    let _ = writeln!(
        out,
        "same file on the same fs-verity ext4 image; 'libbpf 1st' is its first load in a"
    );
    let _ = writeln!(
        out,
        "process (feature probes). 'bpfld ioctl' is the half of bpfld's loads made"
    );
    let _ = writeln!(
        out,
        "with log_phases off, as by default; 'steps logged' the other half, whose ioctl also"
    );
    let _ = writeln!(
        out,
        "prints the steps of B.2 (after time_ns is taken: B.2 counts all the loads)."
    );
    let _ = writeln!(
        out,
        "95% CI: of libbpf/bpfld, by the bootstrap (each side's runs resampled 2000 times);"
    );
    let _ = writeln!(
        out,
        "'level' when it holds 1.00x, that is when these runs do not tell the medians apart."
    );
    let mut t = Table::new(&[
        "object",
        "group",
        "progs",
        "bpfld ioctl",
        "libbpf",
        "libbpf/bpfld",
        "95% CI",
        "end to end",
        "libbpf 1st",
        "bpfld, steps logged",
    ]);
    let mut o2 = Table::new(&[
        "object",
        "bpfld in module",
        "bpfld in BPF cmds",
        "bpfld overhead",
        "libbpf in bpf(2)",
        "libbpf overhead",
        "libbpf/bpfld overhead",
        "bpfld overhead share",
        "bpfld load memory",
    ]);
    // Per object: the end-to-end verdict, and for CO-RE objects the overhead share's
    // median and 95% interval (the targets of Documentation/benchmarks.rst).
    let mut verdicts: Vec<(String, &'static str)> = Vec::new();
    let mut shares: Vec<(String, f64, Option<Interval>)> = Vec::new();
    for r in &rows {
        let lib = &r.lib[..];
        let (plain, logged): (Vec<KSample>, Vec<KSample>) = r.ours.iter().partition(|s| !s.phases);
        let ow = col(&plain, |s| s.wall_ns);
        let lw = col(lib, |s| s.total_ns);
        let ci = median_ratio_interval(
            &lib.iter().map(|s| s.total_ns).collect::<Vec<_>>(),
            &plain.iter().map(|s| s.wall_ns).collect::<Vec<_>>(),
        );
        verdicts.push((r.obj.name.clone(), verdict(ci)));
        t.row(vec![
            r.obj.name.clone(),
            r.obj.group.clone(),
            lib.first().map(|s| s.progs).unwrap_or(0).to_string(),
            time_cell(ow),
            time_cell(lw),
            ratio(lw, ow),
            ratio_interval_cell(ci),
            verdict(ci).to_string(),
            time(r.lib_first.total_ns as f64),
            time_cell(col(&logged, |s| s.wall_ns)),
        ]);
        let oo = col(&r.ours, |s| {
            s.stats.time_ns.saturating_sub(s.stats.bpf_time_ns)
        });
        let lo = col(lib, |s| s.total_ns.saturating_sub(s.bpf_ns));
        // Each load's overhead over its time in the module.
        let per_load = overhead_shares(
            r.ours
                .iter()
                .map(|s| (s.stats.time_ns, s.stats.bpf_time_ns)),
        );
        let share = median(&per_load);
        let share_ci = median_interval(&per_load);
        if r.obj.group == "core" {
            if let Some(m) = share {
                shares.push((r.obj.name.clone(), m, share_ci));
            }
        }
        o2.row(vec![
            r.obj.name.clone(),
            time_cell(col(&r.ours, |s| s.stats.time_ns)),
            time_cell(col(&r.ours, |s| s.stats.bpf_time_ns)),
            time_cell(oo),
            time_cell(col(lib, |s| s.bpf_ns)),
            time_cell(lo),
            ratio(lo, oo),
            match (share, share_ci) {
                (Some(m), Some((a, b))) => {
                    format!("{:.0}% [{:.0}..{:.0}]", m * 100.0, a * 100.0, b * 100.0)
                }
                _ => "-".into(),
            },
            bytes_cell(col(&r.ours, |s| s.stats.mem_bytes)),
        ]);
    }
    let _ = write!(out, "{t}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "B.1 outside the module: of 'bpfld ioctl', the open(2), and the ioctl's time beyond"
    );
    let _ = writeln!(
        out,
        "the module's time_ns (the system call, the request's copy and checks, the results'"
    );
    let _ = writeln!(
        out,
        "copy, the fds installed, the load's log line; with log_phases also the steps' line):"
    );
    let mut ot = Table::new(&["object", "open(2)", "ioctl beyond time_ns", "steps logged"]);
    for r in &rows {
        let (plain, logged): (Vec<KSample>, Vec<KSample>) = r.ours.iter().partition(|s| !s.phases);
        let beyond = |v: &[KSample]| {
            time_cell(col(v, |s| {
                s.wall_ns
                    .saturating_sub(s.open_ns)
                    .saturating_sub(s.stats.time_ns)
            }))
        };
        ot.row(vec![
            r.obj.name.clone(),
            time_cell(col(&plain, |s| s.open_ns)),
            beyond(&plain),
            beyond(&logged),
        ]);
    }
    let _ = write!(out, "{ot}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "## B.2 the loader's own time (not the kernel's BPF commands)"
    );
    let _ = writeln!(
        out,
        "bpfld: time_ns (module, request to fds) minus bpf_time_ns (inside kern_sys_bpf:"
    );
    let _ = writeln!(
        out,
        "BTF_LOAD, MAP_CREATE, MAP_UPDATE_ELEM, MAP_FREEZE, PROG_LOAD with verifier and JIT)."
    );
    let _ = writeln!(
        out,
        "libbpf: open + load minus its time inside bpf(2) (which includes its probe loads)."
    );
    let _ = writeln!(
        out,
        "Load memory: mem_bytes, what was read of the file (no DWARF) plus the core's buffers."
    );
    let _ = writeln!(
        out,
        "Overhead share: each load's overhead over its time in the module, median [95% CI]."
    );
    let _ = write!(out, "{o2}");
    let _ = writeln!(out);
    let _ = writeln!(out, "Targets (issue #6, Documentation/benchmarks.rst):");
    for (name, m, ci) in &shares {
        let hi = ci.map_or(*m, |c| c.1);
        let lo = ci.map_or(*m, |c| c.0);
        let _ = writeln!(
            out,
            "  overhead under 10%, {name}: {} ({:.0}%, 95% CI {:.0}..{:.0}%)",
            under_10_percent(lo, hi),
            m * 100.0,
            lo * 100.0,
            hi * 100.0
        );
    }
    let slower: Vec<&str> = verdicts
        .iter()
        .filter(|(_, v)| *v == "bpfld slower")
        .map(|(n, _)| n.as_str())
        .collect();
    let _ = writeln!(
        out,
        "  end to end not slower than libbpf: {} ({} of {} objects slower beyond the 95% CI{}{})",
        if slower.is_empty() { "met" } else { "not met" },
        slower.len(),
        verdicts.len(),
        if slower.is_empty() { "" } else { ": " },
        slower.join(", ")
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "B.2 steps: where bpfld's overhead goes, from the module's log_phases lines (medians):"
    );
    let _ = writeln!(
        out,
        "check = fs-verity digest + policy; wake = a loading thread woken; read = the file"
    );
    let _ = writeln!(
        out,
        "into memory (kread: of it, inside kernel_read()); handoff = to the loading thread;"
    );
    let _ = writeln!(
        out,
        "parse = its first part (what the BTF depends on); plan = the rest of the parse and"
    );
    let _ = writeln!(
        out,
        "the plan, not covered by the BTF_LOAD issued meanwhile (16 KiB of BTF or more), of"
    );
    let _ = writeln!(
        out,
        "which queued = waiting for the other CPU, made = the work there (both overlap);"
    );
    let _ = writeln!(
        out,
        "exec - bpf = the executor's own part; take = fds out of the thread; return = back"
    );
    let _ = writeln!(
        out,
        "to the caller; free = the caller drops the job and the file's"
    );
    let _ = writeln!(
        out,
        "copy; join = the thread's end, after the caller's own (what it did not overlap)."
    );
    // One column per step, "bpf" taken off "execute" instead of shown.
    let bpf = STEPS
        .iter()
        .position(|s| *s == "bpf")
        .ok_or("STEPS lacks \"bpf\"")?;
    let cols: Vec<(usize, &str)> = STEPS
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != bpf)
        .map(|(i, s)| {
            let head = match *s {
                "kernel_read" => "kread",
                "execute" => "exec - bpf",
                other => other,
            };
            (i, head)
        })
        .collect();
    let mut heads = vec!["object"];
    heads.extend(cols.iter().map(|&(_, h)| h));
    let mut st = Table::new(&heads);
    for r in &rows {
        let v: Vec<StepTimes> = r.ours.iter().filter_map(|s| s.steps).collect();
        if v.is_empty() {
            continue;
        }
        let med =
            |f: &dyn Fn(&StepTimes) -> u64| col(&v, f).map(|s| time(s.median)).unwrap_or_default();
        let mut cells = vec![r.obj.name.clone()];
        for &(i, _) in &cols {
            cells.push(if STEPS[i] == "execute" {
                med(&|s| s[i].saturating_sub(s[bpf]))
            } else {
                med(&|s| s[i])
            });
        }
        st.row(cells);
    }
    let _ = write!(out, "{st}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "B.2 commands: the kernel's time per BPF command, medians, bpfld / libbpf (the same"
    );
    let _ = writeln!(
        out,
        "commands on the same object; 'other' is what libbpf alone issues):"
    );
    let cmd_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let ours = r.ours.iter().filter_map(|s| s.cmds).collect();
            (r.obj.name.as_str(), ours, &r.lib[..])
        })
        .collect();
    let ct = libbpf::cmd_table(&cmd_rows);
    let _ = write!(out, "{ct}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "B.2 PROG_LOAD spread: the kernel's time in PROG_LOAD per load, median [p10..p90],"
    );
    let _ = writeln!(
        out,
        "from the module and from libbpf: the medians above can sit in either of two modes"
    );
    let _ = writeln!(
        out,
        "some objects' loads take from either loader (Documentation/benchmarks.rst)."
    );
    let prog_load = libbpf::CMDS
        .iter()
        .position(|c| *c == "PROG_LOAD")
        .ok_or("CMDS lacks \"PROG_LOAD\"")?;
    let mut pt = Table::new(&["object", "bpfld ioctl", "libbpf"]);
    for (name, ours, lib) in cmd_rows.iter().filter(|(_, ours, _)| !ours.is_empty()) {
        pt.row(vec![
            name.to_string(),
            time_cell(col(ours, |s| s[prog_load])),
            time_cell(col(lib, |s| s.ns_of(Some(libbpf::CMDS[prog_load])))),
        ]);
    }
    let _ = write!(out, "{pt}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "B.2 commands from user space: the same, with bpfld's plan executed by its user-space"
    );
    let _ = writeln!(
        out,
        "executor (bpf(2) from this process, as in Part A) / libbpf; set beside the table"
    );
    let _ = writeln!(
        out,
        "above, it separates what bpfld asks from where the module asks it:"
    );
    let user_rows: Vec<_> = rows
        .iter()
        .map(|r| (r.obj.name.as_str(), r.user.clone(), &r.lib[..]))
        .collect();
    let ut = libbpf::cmd_table(&user_rows);
    let _ = write!(out, "{ut}");

    // B.3: the first CO-RE load after insmod builds and caches the vmlinux index.
    let core = objs.iter().find(|o| o.group == "core").cloned();
    if let (Some(o), true) = (core, a.first > 0) {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "## B.3 first CO-RE load after insmod (builds the vmlinux index) vs the next, {} module reloads, {}",
            a.first, o.name
        );
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for _ in 0..a.first {
            sh("rmmod", &["bpfld"])?;
            insmod(&a.module)?;
            let dev = Device::open(DEVICE).map_err(|e| format!("{DEVICE}: {e}"))?;
            first.push(kload(&dev, &o.path, &mut None)?);
            second.push(kload(&dev, &o.path, &mut None)?);
        }
        let mut t = Table::new(&["load", "ioctl wall", "in module", "bpfld overhead"]);
        for (label, v) in [("first", &first), ("second", &second)] {
            t.row(vec![
                label.to_string(),
                time_cell(col(v, |s| s.wall_ns)),
                time_cell(col(v, |s| s.stats.time_ns)),
                time_cell(col(v, |s| {
                    s.stats.time_ns.saturating_sub(s.stats.bpf_time_ns)
                })),
            ]);
        }
        let _ = write!(out, "{t}");
        let over = |v: &[KSample]| col(v, |s| s.stats.time_ns.saturating_sub(s.stats.bpf_time_ns));
        if let (Some(f), Some(s)) = (over(&first), over(&second)) {
            let _ = writeln!(
                out,
                "vmlinux BTF read + parse + index in the module (first minus second bpfld overhead, medians): {}",
                time(f.median - s.median)
            );
        }
        if let Some(r) = rows.iter().find(|r| r.obj.name == o.name) {
            let later = col(&r.lib, |s| s.total_ns);
            let _ = writeln!(
                out,
                "libbpf on the same object: first load in a process {}, later loads {} (it parses vmlinux BTF at every load)",
                time(r.lib_first.total_ns as f64),
                time_cell(later)
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## B.4 module memory");
    match cached_bytes() {
        Some(b) => {
            let _ = writeln!(
                out,
                "vmlinux BTF cached by bpfld.ko (blob + type offsets + CO-RE index): {} ({b} bytes)",
                bytes(b as f64)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "vmlinux BTF cached: no 'vmlinux BTF cached' line in dmesg"
            );
        }
    }
    let _ = writeln!(
        out,
        "per-load memory (mem_bytes) is in B.2; it is freed when the load returns."
    );
    if !skipped.is_empty() {
        let _ = writeln!(out, "not measured:");
        for s in skipped {
            let _ = writeln!(out, "  {s}");
        }
    }
    Ok(out)
}

fn object(a: &Args, o: &Object, host: Option<&HostBtf>) -> Result<Row, String> {
    let n = a.iters;
    let dev = Device::open(DEVICE).map_err(|e| format!("{DEVICE}: {e}"))?;
    // A fresh libbpf process (its first load runs the feature probes), then one warm-up
    // each, then the two alternating.
    let mut server = libbpf::Server::start(&a.libbpf_bench)?;
    let lib_first = server.load(&o.path)?;
    let mut log = KernelLog::open_at_end().ok();
    set_log_phases(true);
    kload(&dev, &o.path, &mut log)?;
    // The user-space executor too, if it can load the object here (it reads kconfig and
    // kallsyms from /proc); a failure only leaves its row out.
    let mut userspace = host.filter(|h| ours::load_once(&o.path, h).is_ok());
    let (mut ours_v, mut user, mut lib) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        if i % 2 == 1 {
            lib.push(server.load(&o.path)?);
        }
        // The steps are logged in every other pair of loads, so that each setting
        // follows each loader equally often (the order flips every load): B.1 times the
        // loads without the log line, as a caller of the module sees them by default.
        let phases = (i / 2) % 2 == 0;
        set_log_phases(phases);
        let mut no_log = None;
        let mut s = kload(&dev, &o.path, if phases { &mut log } else { &mut no_log })?;
        s.phases = phases;
        ours_v.push(s);
        if let Some(h) = userspace {
            match ours::load_once(&o.path, h) {
                Ok(s) => user.push(s.cmd_ns),
                Err(_) => {
                    user.clear();
                    userspace = None;
                }
            }
        }
        if i % 2 == 0 {
            lib.push(server.load(&o.path)?);
        }
    }
    Ok(Row {
        obj: o.clone(),
        ours: ours_v,
        user,
        lib,
        lib_first,
    })
}

// SPDX-License-Identifier: GPL-2.0-only

//! `bpfld-parity`: bpfld.ko against libbpf on the test kernel (`selftests/parity`).
//!
//! ```text
//! bpfld-parity guest --module KO --image IMG --tool LIBBPF_DUMP --todo TODO --out DIR
//!                    [--timeout SECONDS] [--testmod KO[,KO...]] [--optional yes]
//! bpfld-parity report --out DIR --todo TODO --allowlist TSV... --report MD [--expect TSV]
//!                     [--manifest DIR] [--console FILE]... [--elapsed SECONDS]
//!                     [--boots N] [--command TEXT] [--min-identical PERCENT]
//!                     [--compiler TEXT] [--optional yes|no]
//! ```
//!
//! `guest` runs inside the VM. It inserts the kernel tree's test modules if given, in
//! order (`bpf_testmod.ko`: the selftests' kfuncs, ksyms, functions and struct_ops in a
//! module; `bpf_test_modorder_x.ko` and `_y.ko`: a kfunc each), then the module
//! with `dev_mode=1` (any fs-verity file is trusted), copies the ext4 image IMG (made by the host with the objects in
//! it) into the guest's tmpfs, mounts it, enables fs-verity on every object that TODO
//! (`SET<TAB>NAME` lines; the object is `SET/NAME.bpf.o` in the image) names, and then,
//! one object at a time:
//!
//! 1. loads it with libbpf (`LIBBPF_DUMP OBJ`: the tree's libbpf 1.5; it refuses what
//!    the kernel refuses program by program, loads the rest and dumps the kernel's view;
//!    the process exits, so everything it created is released);
//! 2. loads it through `/dev/bpfld` (`BPFLD_IOC_LOAD`), dumps the programs and maps the
//!    module returned by id with the same harness and normalisation, compares the two
//!    (`bpfld::parity::compare_ids`: xlated instructions with map references by name,
//!    tags, func/line info, attach BTF types, maps and contents) and the program and
//!    attach types the module sent; then closes every fd;
//! 3. when libbpf refused some programs: the module, which loads all or nothing, must
//!    refuse the object at one of them; then it loads the rest, with those programs
//!    turned off (the load options' `autoload`, as libbpf's
//!    `bpf_program__set_autoload(prog, false)`), compared as in 2, and for a CO-RE
//!    object with the kernel's CO-RE as well (`bpfld::parity::kernel_core_agrees`).
//! 4. each program libbpf refused, through the module alone (every other entry program
//!    off): the module must refuse it, or libbpf alone (`libbpf_dump --only`) must load
//!    it too.
//!
//! With `--optional yes` both loaders load the programs of `SEC("?...")` sections too
//! (`libbpf_dump --all`; the load options' `autoload` turning them on), as the kernel's
//! selftests do, one by one, for the tests whose programs sit there; without, neither
//! loads them.
//!
//! Each object gets a `begin` line in DIR/results.tsv before and a `result` line after
//! (flushed and synced: the host learns how far a run got if the kernel dies); objects
//! already there are skipped, so the host can boot again after a crash, and an object
//! with a `begin` but no `result` is recorded as `crash`. Kernel warnings printed during
//! an object (read from `/dev/kmsg`) go with its result. Dumps of the objects that are
//! not identical go to DIR/run/.
//!
//! `report` runs on the host: it reads DIR/results.tsv, classifies every object against
//! the allowlist (`OBJ<TAB>CATEGORY<TAB>REASON`, OBJ = `NAME` for the kernel's selftest
//! objects, `corpus/NAME` for ours, `gcc/NAME` for ours as bpf-gcc builds them; several
//! `--allowlist`s are read in order, a later entry for an object replacing one before), writes
//! the Markdown report, prints one `ok`/`not ok` line per object and `N passed, N
//! failed`, and exits 1 when an object is
//! unexplained, a kernel warning was seen, an object has no result, an `--expect`ed
//! category changed, or fewer than `--min-identical` percent of the objects libbpf loads
//! load identically through the module.

use bpfld::dev::{cstr, Device, KLoad, KLoadError, KLoadExtra, KLoadOpts, DEVICE};
use bpfld::kmsg::KernelLog;
use bpfld::parity::*;
use bpfld::run;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the guest mounts the verity file system.
const MNT: &str = "/run/bpfld-parity";
/// The guest's copy of the image (tmpfs: no 9p round trip per read).
const IMG_COPY: &str = "/run/bpfld-parity.img";
/// Per-object scratch files of the guest (tmpfs).
const SCRATCH: &str = "/run/bpfld-parity-tmp";
/// The set name of the kernel's selftest objects.
const KPROGS: &str = "kprogs";
/// The set name of our own corpus (`selftests/progs`).
const CORPUS: &str = "corpus";
/// The set name of our own corpus as GCC's BPF back end compiles it.
const GCC: &str = "gcc";

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match argv.first().map(String::as_str) {
        Some("guest") => guest(&argv[1..]),
        Some("report") => report(&argv[1..]),
        _ => Err("usage: bpfld-parity guest|report ... (see the source's header)".into()),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("bpfld-parity: {e}");
            std::process::exit(2);
        }
    }
}

/// `--key value` options; repeated keys keep every value.
fn options(args: &[String], known: &[&str]) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let key = k
            .strip_prefix("--")
            .filter(|k| known.contains(k))
            .ok_or(format!("unknown argument {k}"))?;
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        m.entry(key.to_string()).or_default().push(v.clone());
    }
    Ok(m)
}

fn one<'m>(m: &'m BTreeMap<String, Vec<String>>, k: &str) -> Result<&'m str, String> {
    m.get(k)
        .and_then(|v| v.last())
        .map(String::as_str)
        .ok_or(format!("--{k} is required"))
}

fn opt<'m>(m: &'m BTreeMap<String, Vec<String>>, k: &str) -> Option<&'m str> {
    m.get(k).and_then(|v| v.last()).map(String::as_str)
}

/// `SET<TAB>NAME` lines.
fn read_todo(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(s, n)| (s.to_string(), n.to_string()))
        .collect())
}

/// The report's and the allowlist's name of an object.
fn key(set: &str, name: &str) -> String {
    if set == KPROGS {
        name.to_string()
    } else {
        format!("{set}/{name}")
    }
}

/// One cell of results.tsv: no tabs, no newlines.
fn cell(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

// --- guest ---------------------------------------------------------------------------

fn mounted(dir: &str) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(dir))
}

/// Hold one task-bound perf event (the software `dummy` event, counting nothing) for
/// the rest of the process, so that the scheduler's `perf_sched_events` static branch
/// stays on for the whole run.
///
/// libbpf loads an object that uses `BPF_KSYSCALL` (its `LINUX_HAS_SYSCALL_WRAPPER`
/// extern) by first probing with a kprobe perf event on this process; the first
/// task-bound event turns that branch on and its close turns it off one second later,
/// and each switch rewrites the branch's sites in `prepare_task_switch()` with int3
/// patching. Under TCG another vCPU has executed such a site's stale int3 after the
/// patch ended: an "Oops: int3" in `prepare_task_switch` on the idle CPU, twice while
/// `bpf_syscall_macro` was in flight and once at `bpf_tcp_nogpl`, the object after it,
/// loaded within that second. With this event held the probe's events only count and
/// nothing is patched. bpfld computes the extern without a probe. Not fatal if refused.
fn hold_perf_sched_events() -> Option<std::os::fd::OwnedFd> {
    // struct perf_event_attr as of PERF_ATTR_SIZE_VER0 (64 bytes): type
    // PERF_TYPE_SOFTWARE (1), size 64, config PERF_COUNT_SW_DUMMY (9); everything else
    // 0 (enabled, no sampling).
    let mut attr = [0u8; 64];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes());
    attr[4..8].copy_from_slice(&64u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&9u64.to_ne_bytes());
    // SAFETY: perf_event_open reads `size` (64) bytes of `attr`; pid 0 (this process),
    // cpu -1 (any), no group, no flags.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            0 as libc::pid_t,
            -1 as libc::c_int,
            -1 as libc::c_int,
            0 as libc::c_ulong,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new fd that nothing else owns.
    Some(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

/// Enable fs-verity (SHA-256, 4 KiB blocks) on `path`; already enabled is fine.
fn enable_verity(path: &Path) -> Result<(), String> {
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match bpfld::verity::enable(&f, false, &[]) {
        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
            Err(format!("FS_IOC_ENABLE_VERITY {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// New `/dev/kmsg` records, read without blocking.
struct Kmsg(Option<KernelLog>);

impl Kmsg {
    /// Positioned after the last record so far.
    fn open() -> Kmsg {
        Kmsg(KernelLog::open_at_end().ok())
    }

    /// Messages since the last call that look like a kernel problem.
    fn problems(&mut self) -> Vec<String> {
        let Some(log) = self.0.as_mut() else {
            return Vec::new();
        };
        let lines: Vec<String> = log
            .drain()
            .into_iter()
            .map(|m| m.trim().to_string())
            .collect();
        bpfld::kmsg::splats(&lines).into_iter().cloned().collect()
    }
}

struct Guest {
    tool: PathBuf,
    out: PathBuf,
    timeout: Duration,
    dev: Device,
    /// Load the programs of `SEC("?...")` sections too.
    optional: bool,
}

/// What one object gave.
struct Record {
    cat: Cat,
    feature: &'static str,
    /// What libbpf loaded: `all`, `some` (it refused some programs) or `none`.
    libbpf: &'static str,
    progs: usize,
    both_refused: usize,
    libbpf_ms: u128,
    bpfld_ms: u128,
    detail: String,
}

fn guest(args: &[String]) -> Result<i32, String> {
    let o = options(
        args,
        &[
            "module", "image", "tool", "todo", "out", "timeout", "testmod", "optional",
        ],
    )?;
    let out = PathBuf::from(one(&o, "out")?);
    let todo = read_todo(Path::new(one(&o, "todo")?))?;
    let timeout = Duration::from_secs(opt(&o, "timeout").unwrap_or("600").parse().unwrap_or(600));
    let step = |s: &str| {
        let up = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
        eprintln!(
            "bpfld-parity: guest {}s: {s}",
            up.split(' ').next().unwrap_or("?")
        );
    };

    // Held until the guest's run ends.
    let perf_hold = hold_perf_sched_events();
    if perf_hold.is_none() {
        step(&format!(
            "no perf event held ({}): libbpf's kprobe probes will patch the scheduler",
            std::io::Error::last_os_error()
        ));
    }

    // The kernel tree's BPF selftest module, whose kfuncs, ksyms, functions and
    // struct_ops many selftest objects use (as tools/testing/selftests/bpf loads it).
    // In the order given: module BTF ids, and so the order the loaders search, follow it.
    for ko in opt(&o, "testmod").into_iter().flat_map(|l| l.split(',')) {
        let name = Path::new(ko)
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or(ko);
        if !Path::new("/sys/kernel/btf").join(name).exists() {
            step(&format!("insmod {name}.ko"));
            run("insmod", &[ko])?;
        }
    }
    // The module, in development trust mode.
    if !Path::new(DEVICE).exists() {
        step("insmod bpfld.ko dev_mode=1");
        run("insmod", &[one(&o, "module")?, "dev_mode=1"])?;
    }
    let dev = Device::open(DEVICE).map_err(|e| format!("{DEVICE}: {e}"))?;
    let version = dev
        .version()
        .map_err(|e| format!("BPFLD_IOC_VERSION: {e}"))?;
    // libbpf pins LIBBPF_PIN_BY_NAME maps under /sys/fs/bpf.
    if !mounted("/sys/fs/bpf") {
        run("mount", &["-t", "bpf", "bpf", "/sys/fs/bpf"])?;
    }
    // The verity file system: the host's image, copied into tmpfs.
    if !mounted(MNT) {
        step("copying the verity image into tmpfs");
        run("cp", &["--sparse=always", one(&o, "image")?, IMG_COPY])?;
        std::fs::create_dir_all(MNT).map_err(|e| format!("{MNT}: {e}"))?;
        run("mount", &["-o", "loop", IMG_COPY, MNT])?;
    }
    step(&format!("enabling fs-verity on {} objects", todo.len()));
    for (set, name) in &todo {
        enable_verity(&Path::new(MNT).join(set).join(format!("{name}.bpf.o")))?;
    }
    std::fs::create_dir_all(SCRATCH).map_err(|e| format!("{SCRATCH}: {e}"))?;
    std::fs::create_dir_all(out.join("run")).map_err(|e| format!("{}: {e}", out.display()))?;

    // Resume: what earlier boots finished, and what they died in.
    let results_path = out.join("results.tsv");
    let previous = std::fs::read_to_string(&results_path).unwrap_or_default();
    let mut done = BTreeSet::new();
    let mut begun = None;
    for l in previous.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        match f.first().copied() {
            Some("begin") if f.len() >= 3 => begun = Some((f[1].to_string(), f[2].to_string())),
            Some("result") if f.len() >= 3 => {
                done.insert((f[1].to_string(), f[2].to_string()));
                begun = None;
            }
            _ => {}
        }
    }
    let mut results = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .map_err(|e| format!("{}: {e}", results_path.display()))?;
    let mut put = |line: String| -> Result<(), String> {
        results
            .write_all(line.as_bytes())
            .and_then(|()| results.sync_data())
            .map_err(|e| format!("{}: {e}", results_path.display()))
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    put(format!(
        "boot\t{}\tbpfld-core {} uapi {}\t{}\n",
        kernel.trim(),
        cstr(&version.core_version),
        version.uapi_version,
        bpfld::guest_accel()
    ))?;
    if let Some((set, name)) = begun {
        if !done.contains(&(set.clone(), name.clone())) {
            step(&format!("the previous boot died in {set}/{name}"));
            put(format!(
                "result\t{set}\t{name}\tcrash\t-\t-\t0\t0\t0\t0\tthe kernel died during this object (see the console log)\t\n"
            ))?;
            done.insert((set, name));
        }
    }

    let g = Guest {
        tool: PathBuf::from(one(&o, "tool")?),
        out: out.clone(),
        timeout,
        dev,
        optional: opt(&o, "optional") == Some("yes"),
    };
    let mut kmsg = Kmsg::open();
    let left: Vec<&(String, String)> = todo.iter().filter(|x| !done.contains(*x)).collect();
    step(&format!("{} objects to compare", left.len()));
    for (i, (set, name)) in left.iter().enumerate() {
        put(format!("begin\t{set}\t{name}\n"))?;
        let r = g.object(set, name);
        let warnings = kmsg.problems();
        put(format!(
            "result\t{set}\t{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.cat.name(),
            r.feature,
            r.libbpf,
            r.progs,
            r.both_refused,
            r.libbpf_ms,
            r.bpfld_ms,
            cell(&r.detail),
            cell(&warnings.join(" // "))
        ))?;
        if (i + 1) % 50 == 0 {
            step(&format!("{} of {} done", i + 1, left.len()));
        }
    }
    put("end\n".to_string())?;
    if let Ok(d) = run("dmesg", &[]) {
        let _ = std::fs::write(out.join("dmesg"), d);
    }
    step("done");
    Ok(0)
}

impl Guest {
    fn object(&self, set: &str, name: &str) -> Record {
        let dir = Path::new(MNT).join(set);
        let obj = dir.join(format!("{name}.bpf.o"));
        let st = static_info(&obj);
        let scratch = Path::new(SCRATCH);
        let all: &[&str] = if self.optional { &["--all"] } else { &[] };
        let lib = run_libbpf(
            &self.tool,
            all,
            &obj,
            &scratch.join("libbpf.out"),
            &scratch.join("libbpf.err"),
            self.timeout,
        );
        let start = Instant::now();
        let extra = KLoadExtra {
            autoload: self.autoload(&st, &[]),
            ..KLoadExtra::default()
        };
        let k = self.load_file(&obj, &extra);
        let bpfld_ms = start.elapsed().as_millis();
        let save = scratch.join("bpfld.out");
        let _ = std::fs::remove_file(&save);
        let out = self.classify(&dir, &obj, &st, &lib, k, &save);
        // Everything the module created was closed with `k`; keep what explains a
        // difference.
        if out.cat != Cat::Identical {
            let keep = self.out.join("run");
            for (f, suffix) in [
                ("libbpf.out", "libbpf.out"),
                ("libbpf.err", "libbpf.err"),
                ("bpfld.out", "bpfld.out"),
            ] {
                let _ = std::fs::copy(
                    scratch.join(f),
                    keep.join(format!("{}.{suffix}", key(set, name).replace('/', "."))),
                );
            }
        }
        Record {
            cat: out.cat,
            feature: st.feature(),
            libbpf: if lib.loaded_nothing() {
                "none"
            } else if lib.refused().is_empty() {
                "all"
            } else {
                "some"
            },
            progs: out.progs,
            both_refused: out.both_refused,
            libbpf_ms: lib.elapsed.as_millis(),
            bpfld_ms,
            detail: out.detail,
        }
    }

    /// The load options' `autoload` for an object of `st`: the programs of `refused`
    /// off, and with `--optional` those of `SEC("?...")` sections on (each named once).
    fn autoload<'s>(&self, st: &'s Static, refused: &'s [String]) -> Vec<(&'s str, bool)> {
        let mut v: Vec<(&str, bool)> = refused.iter().map(|n| (n.as_str(), false)).collect();
        if self.optional {
            let on = st.optional.iter().filter(|n| !refused.contains(n));
            v.extend(on.map(|n| (n.as_str(), true)));
        }
        v
    }

    /// Each program of `refused` (libbpf refused it in the object) through the module
    /// alone, every other entry program off, as the kernel's selftests load their
    /// programs: the module, which loads an object whole, showed it refuses the object
    /// at one of them, and must refuse every one of them by itself. The programs the
    /// object's program arrays name in `.values` (`st.slotted`) stay on where libbpf
    /// loads them: without one, both loaders fail at the map whatever the program is.
    /// A program the module loads alone is loaded alone by libbpf too (`--only`, with
    /// the same slotted programs): an error when libbpf refuses it there. Returns what
    /// was seen, for the row's detail (`None` when nothing was refused).
    fn refused_alone(
        &self,
        obj: &Path,
        lib: &Libbpf,
        st: &Static,
        refused: &[String],
    ) -> Result<Option<String>, String> {
        let (mut named, mut other, mut both_load) = (0usize, 0usize, Vec::<String>::new());
        let slotted: Vec<&str> = st
            .slotted
            .iter()
            .filter(|q| !refused.contains(q))
            .map(String::as_str)
            .collect();
        for p in refused {
            let with: Vec<&str> = core::iter::once(p.as_str())
                .chain(slotted.iter().copied().filter(|q| q != p))
                .collect();
            let mut autoload: Vec<(&str, bool)> = lib
                .dump
                .secs
                .keys()
                .map(|q| (q.as_str(), with.contains(&q.as_str())))
                .collect();
            for q in &with {
                if !lib.dump.secs.contains_key(*q) {
                    autoload.push((q, true));
                }
            }
            let extra = KLoadExtra {
                autoload,
                ..KLoadExtra::default()
            };
            match self.load_file(obj, &extra) {
                Err(e) if err_prog(&e.msg) == Some(p.as_str()) => named += 1,
                Err(_) => other += 1,
                Ok(k) => {
                    drop(k);
                    let scratch = Path::new(SCRATCH);
                    let only = with.join(",");
                    let theirs = run_libbpf(
                        &self.tool,
                        &["--only", &only],
                        obj,
                        &scratch.join("alone.out"),
                        &scratch.join("alone.err"),
                        self.timeout,
                    );
                    if theirs.loaded_nothing() {
                        return Err(format!(
                            "the module loads {p} alone{}, which libbpf refuses ({})",
                            if with.len() > 1 {
                                format!(" (with {only}, which .values names)")
                            } else {
                                String::new()
                            },
                            theirs.why()
                        ));
                    }
                    both_load.push(p.clone());
                }
            }
        }
        if refused.is_empty() {
            return Ok(None);
        }
        let mut seen = format!(
            "alone, the module refuses {} of {} ({named} naming it{})",
            named + other,
            refused.len(),
            if other > 0 {
                format!(", {other} at another step")
            } else {
                String::new()
            }
        );
        if !both_load.is_empty() {
            let _ = write!(seen, ", both load {} alone", list(&both_load));
        }
        Ok(Some(seen))
    }

    /// The module's load of `obj` with the options `extra`.
    fn load_file(&self, obj: &Path, extra: &KLoadExtra<'_>) -> Result<KLoad, KLoadError> {
        File::open(obj)
            .map_err(|e| KLoadError {
                errno: e.raw_os_error().unwrap_or(libc::EIO),
                msg: format!("{}: {e}", obj.display()),
                log: String::new(),
                digest: Vec::new(),
            })
            .and_then(|f| self.dev.load_with(&f, &KLoadOpts::default(), extra))
    }

    /// What the module loaded (`ours`) against libbpf's dump: what it sent (type,
    /// expected attach type) and the kernel's view of both loads ([`compare_ids`]).
    fn compare_module(
        &self,
        dump: &Dump,
        ours: &KLoad,
        notes: &mut Vec<String>,
        save: &Path,
    ) -> Result<Dump, String> {
        compare_sent(
            dump,
            ours.progs.iter().map(|p| Sent {
                name: &p.name,
                prog_type: p.prog_type,
                expected_attach_type: p.expected_attach_type,
                prog_flags: None,
                kern_version: None,
            }),
        )?;
        let ids: Vec<u32> = ours.progs.iter().map(|p| p.id).collect();
        let map_ids: Vec<u32> = ours.maps.iter().map(|m| m.id).collect();
        let opts = CompareOpts {
            save_dump: Some(save),
            dump_tool: Some(&self.tool),
            mask_data_ptrs: true,
        };
        compare_ids(&self.tool, dump, &ids, &map_ids, notes, &opts)
    }

    /// The module's load `k` against libbpf's `lib`.
    fn classify(
        &self,
        dir: &Path,
        obj: &Path,
        st: &Static,
        lib: &Libbpf,
        k: Result<KLoad, KLoadError>,
        save: &Path,
    ) -> Outcome {
        let mut row = Outcome {
            cat: Cat::Identical,
            detail: String::new(),
            progs: 0,
            both_refused: 0,
        };
        let msg = |e: &KLoadError| error_summary(&e.msg, &e.log, dir);
        if lib.loaded_nothing() {
            return match k {
                Ok(ours) => {
                    row.cat = Cat::BpfldOnly;
                    row.detail = format!(
                        "libbpf: {}; the module loads {} program(s), {} map(s)",
                        lib.why(),
                        ours.progs.len(),
                        ours.maps.len()
                    );
                    row
                }
                Err(e) => {
                    let mut row = both_fail(lib, e.errno, &msg(&e));
                    // Refused one by one by libbpf: each alone through the module too.
                    if lib.signal.is_none() && !lib.dump.open_failed() {
                        match self.refused_alone(obj, lib, st, &lib.refused()) {
                            Ok(Some(seen)) => {
                                let _ = write!(row.detail, "; {seen}");
                            }
                            Ok(None) => {}
                            Err(d) => {
                                row.cat = Cat::BpfldOnly;
                                row.detail = clip(&d, 400);
                            }
                        }
                    }
                    row
                }
            };
        }
        let refused = lib.refused();
        if refused.is_empty() {
            let ours = match k {
                Ok(o) => o,
                Err(e) => return libbpf_only(st, e.errno, &msg(&e), ""),
            };
            let mut notes = Vec::new();
            let r = self.compare_module(&lib.dump, &ours, &mut notes, save);
            drop(ours);
            if let Err(d) = r {
                row.cat = Cat::Differs;
                row.detail = clip(&d.replace('\n', " "), 400);
                return row;
            }
            row.progs = lib.dump.progs.len();
            notes.retain(|n| !n.contains("PROG_BIND_MAP"));
            row.detail = clip(&notes.join("; "), 300);
            return row;
        }
        // libbpf refused some programs and loaded the rest: the module loads all or
        // nothing, so it must refuse the object, at one of those programs.
        let e = match k {
            Ok(ours) => {
                row.cat = Cat::BpfldOnly;
                row.detail = format!(
                    "libbpf: {}; the module loads every program ({})",
                    lib.why(),
                    ours.progs.len()
                );
                return row;
            }
            Err(e) => e,
        };
        let Some(p) = err_prog(&e.msg).filter(|p| refused.iter().any(|f| f == p)) else {
            return libbpf_only(
                st,
                e.errno,
                &msg(&e),
                &format!(
                    "libbpf refuses only {} and loads the rest; ",
                    list(&refused)
                ),
            );
        };
        let mut notes = Vec::new();
        if lib.errno_of(p) != Some(e.errno) {
            notes.push(format!(
                "{p}: refused by both, libbpf {} bpfld {}",
                lib.errno_of(p).map(errno_name).unwrap_or("-".into()),
                errno_name(e.errno)
            ));
        }
        // The rest, through the module again with the programs libbpf refuses turned
        // off (the options' autoload, as bpf_program__set_autoload(prog, false)).
        let extra = KLoadExtra {
            autoload: self.autoload(st, &refused),
            ..KLoadExtra::default()
        };
        let without = format!(
            "the module refuses {p} like libbpf; without {}: ",
            list(&refused)
        );
        let ours = match self.load_file(obj, &extra) {
            Ok(o) => o,
            Err(e) => return libbpf_only(st, e.errno, &msg(&e), &without),
        };
        row.both_refused = refused.len();
        let compared = !(ours.progs.is_empty() && lib.dump.progs.is_empty());
        let mine = compared.then(|| self.compare_module(&lib.dump, &ours, &mut notes, save));
        // Released before the second oracle: an arena the module mapped in this process
        // at the object's fixed address (map_extra) is unmapped, which that load maps
        // there again.
        drop(ours);
        // For CO-RE objects also the second oracle, as on the host: the kernel
        // applying the relocations of the same plan.
        let path = obj.to_string_lossy();
        let r = match (mine, st.core_relos) {
            (None, _) => Ok(()),
            (Some(m), 0) => m.map(|_| ()),
            (Some(m), n) => m.and_then(|mine| {
                kernel_core_agrees(&path, &extra.autoload, &self.tool, &mine, n, &mut notes)
            }),
        };
        if let Err(d) = r {
            row.cat = Cat::Differs;
            row.detail = clip(&format!("{without}{}", d.replace('\n', " ")), 400);
            return row;
        }
        match self.refused_alone(obj, lib, st, &refused) {
            Ok(seen) => notes.extend(seen),
            Err(d) => {
                row.cat = Cat::BpfldOnly;
                row.detail = clip(&d, 400);
                return row;
            }
        }
        row.cat = Cat::IdenticalPartial;
        row.progs = lib.dump.progs.len();
        notes.retain(|n| !n.contains("PROG_BIND_MAP"));
        row.detail = clip(
            &format!(
                "refused at {p} (libbpf refuses {}); {}",
                list(&refused),
                notes.join("; ")
            ),
            300,
        );
        row
    }
}

// --- report --------------------------------------------------------------------------

/// One object's line of results.tsv.
struct Row {
    set: String,
    name: String,
    cat: Cat,
    feature: String,
    /// What libbpf loaded: `all`, `some` or `none` (`-` after a crash).
    libbpf: String,
    progs: usize,
    both_refused: usize,
    libbpf_ms: u64,
    bpfld_ms: u64,
    detail: String,
    warnings: String,
}

impl Row {
    fn key(&self) -> String {
        key(&self.set, &self.name)
    }
}

/// The rows, the boots (kernel and versions), whether the run ended, and the guest's
/// accelerator as its first boot recorded it ("TCG" for results written before boots
/// recorded it: every run until then was).
type Results = (Vec<Row>, Vec<String>, bool, String);

fn read_results(path: &Path) -> Result<Results, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    let mut boots = Vec::new();
    let mut accel = None;
    let mut ended = false;
    for l in text.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        match f.first().copied() {
            Some("boot") => {
                boots.push(f[1..f.len().min(3)].join(" "));
                if let Some(a) = f.get(3) {
                    accel.get_or_insert_with(|| a.to_string());
                }
            }
            Some("end") => ended = true,
            Some("result") if f.len() >= 12 => {
                let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
                let cat = Cat::from_name(f[3]).ok_or(format!("bad category in: {l}"))?;
                rows.insert(
                    (f[1].to_string(), f[2].to_string()),
                    Row {
                        set: f[1].to_string(),
                        name: f[2].to_string(),
                        cat,
                        feature: f[4].to_string(),
                        libbpf: f[5].to_string(),
                        progs: n(6) as usize,
                        both_refused: n(7) as usize,
                        libbpf_ms: n(8),
                        bpfld_ms: n(9),
                        detail: f[10].to_string(),
                        warnings: f[11].to_string(),
                    },
                );
            }
            _ => {}
        }
    }
    let accel = accel.unwrap_or_else(|| "TCG".into());
    Ok((rows.into_values().collect(), boots, ended, accel))
}

/// The lines of a console log that show a kernel problem, with some context.
fn console_problems(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    if let Some(i) = lines.iter().position(|l| {
        [
            "Kernel panic",
            "BUG:",
            "Oops",
            "WARNING:",
            "KASAN",
            "general protection",
        ]
        .iter()
        .any(|p| l.contains(p))
    }) {
        out.extend(
            lines[i..lines.len().min(i + 30)]
                .iter()
                .map(|l| l.to_string()),
        );
    }
    out
}

/// `warnings-vm.tsv`: `OBJ<TAB>TEXT<TAB>REASON` lines: kernel messages during OBJ that
/// contain TEXT are explained by REASON (a warning the reference, not bpfld, caused).
fn read_warnings(path: &Path) -> Result<BTreeMap<String, (String, String)>, String> {
    let mut m = BTreeMap::new();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut it = line.splitn(3, '\t');
        match (it.next(), it.next(), it.next()) {
            (Some(o), Some(t), Some(r)) if !t.is_empty() && !r.trim().is_empty() => {
                m.insert(o.to_string(), (t.to_string(), r.trim().to_string()));
            }
            _ => {
                return Err(format!(
                    "{}:{}: want OBJ<TAB>TEXT<TAB>REASON",
                    path.display(),
                    i + 1
                ))
            }
        }
    }
    Ok(m)
}

/// Whether every kernel message recorded during `r` is one its `warnings-vm.tsv` entry
/// explains (messages are joined by " // "; each warning starts with its location).
fn warning_explained(r: &Row, warn: &BTreeMap<String, (String, String)>) -> bool {
    let Some((text, _)) = warn.get(&r.key()) else {
        return false;
    };
    r.warnings
        .split(" // ")
        .filter(|m| m.starts_with("WARNING") || m.starts_with("BUG") || m.contains("Oops"))
        .all(|m| m.contains(text.as_str()))
}

/// Does row `r` pass: identical, both-fail, or explained by the allowlist.
fn verdict(
    r: &Row,
    allow: &BTreeMap<String, (String, String)>,
    warn: &BTreeMap<String, (String, String)>,
) -> Result<(), String> {
    if !r.warnings.is_empty() && !warning_explained(r, warn) {
        return Err(format!("kernel messages: {}", r.warnings));
    }
    match r.cat {
        Cat::Identical | Cat::IdenticalPartial | Cat::BothFail => Ok(()),
        c => match allow.get(&r.key()) {
            Some((l, _)) if l == c.name() => Ok(()),
            Some((l, _)) => Err(format!(
                "allowlisted as {l}, now {}: {}",
                c.name(),
                r.detail
            )),
            None => Err(format!("{}: {}", c.name(), r.detail)),
        },
    }
}

fn report(args: &[String]) -> Result<i32, String> {
    let o = options(
        args,
        &[
            "out",
            "todo",
            "allowlist",
            "report",
            "expect",
            "manifest",
            "console",
            "elapsed",
            "boots",
            "command",
            "min-identical",
            "libbpf",
            "warnings",
            "compiler",
            "optional",
        ],
    )?;
    let out = PathBuf::from(one(&o, "out")?);
    let todo = read_todo(Path::new(one(&o, "todo")?))?;
    // Every --allowlist, in order: a flavour's file after the shared one, its entry for
    // an object replacing the shared one's.
    one(&o, "allowlist")?;
    let mut allow = BTreeMap::new();
    for p in o.get("allowlist").into_iter().flatten() {
        allow.extend(read_allowlist(Path::new(p), &Cat::VM)?);
    }
    let warn = match opt(&o, "warnings") {
        Some(p) => read_warnings(Path::new(p))?,
        None => BTreeMap::new(),
    };
    let expect: BTreeMap<String, String> = match opt(&o, "expect") {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("{p}: {e}"))?
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, c)| (k.to_string(), c.trim().to_string()))
            .collect(),
        None => BTreeMap::new(),
    };
    let (rows, boots, _ended, accel) = read_results(&out.join("results.tsv"))?;
    let by_key: BTreeMap<String, &Row> = rows.iter().map(|r| (r.key(), r)).collect();
    let missing: Vec<String> = todo
        .iter()
        .map(|(s, n)| key(s, n))
        .filter(|k| !by_key.contains_key(k))
        .collect();
    let rows: Vec<&Row> = todo
        .iter()
        .filter_map(|(s, n)| by_key.get(&key(s, n)).copied())
        .collect();

    // Per object: ok / not ok, in the order of the list.
    let mut failures = Vec::new();
    let mut passed = 0;
    for (i, r) in rows.iter().enumerate() {
        let mut v = verdict(r, &allow, &warn);
        if let Some(want) = expect.get(&r.key()) {
            if want != r.cat.name() && v.is_ok() {
                v = Err(format!(
                    "expected {want}, now {}: {}",
                    r.cat.name(),
                    r.detail
                ));
            }
        }
        match v {
            Ok(()) => {
                passed += 1;
                println!("ok {} {} # {}", i + 1, r.key(), r.cat.name());
            }
            Err(e) => {
                println!("not ok {} {} # {}", i + 1, r.key(), clip(&e, 300));
                failures.push(format!("{}: {}", r.key(), clip(&e, 600)));
            }
        }
    }
    for m in &missing {
        failures.push(format!("{m}: no result (the VM did not get to it)"));
    }
    let stale: Vec<String> = allow
        .iter()
        .filter(|(k, (c, _))| {
            by_key
                .get(*k)
                .is_some_and(|r| r.cat.name() != c && !matches!(r.cat, Cat::Identical))
        })
        .map(|(k, (c, _))| format!("{k}: allowlisted as {c}, now {}", by_key[k].cat.name()))
        .collect();

    // The headline figure: objects libbpf loads completely.
    let kp: Vec<&&Row> = rows.iter().filter(|r| r.set == KPROGS).collect();
    let full_loads = kp.iter().filter(|r| r.libbpf == "all").count();
    let full_identical = kp.iter().filter(|r| r.cat == Cat::Identical).count();
    let partial_loads = kp.iter().filter(|r| r.libbpf == "some").count();
    let partial_identical = kp.iter().filter(|r| r.cat == Cat::IdenticalPartial).count();
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let min: f64 = opt(&o, "min-identical")
        .map(|v| v.parse().unwrap_or(90.0))
        .unwrap_or(0.0);
    if min > 0.0 && pct(full_identical, full_loads) < min {
        failures.push(format!(
            "only {full_identical} of {full_loads} objects libbpf loads load identically through the module ({:.1}% < {min}%)",
            pct(full_identical, full_loads)
        ));
    }

    let consoles: Vec<(String, Vec<String>)> = o
        .get("console")
        .map(|v| {
            v.iter()
                .map(|p| (p.clone(), console_problems(Path::new(p))))
                .filter(|(_, l)| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();

    let md = render(&Render {
        rows: &rows,
        allow: &allow,
        warn: &warn,
        failures: &failures,
        stale: &stale,
        missing: &missing,
        boots: &boots,
        accel: &accel,
        consoles: &consoles,
        manifest: opt(&o, "manifest").and_then(|m| read_manifest(Path::new(m)).ok()),
        command: opt(&o, "command").unwrap_or("selftests/parity"),
        elapsed: opt(&o, "elapsed").and_then(|v| v.parse().ok()),
        libbpf: opt(&o, "libbpf").unwrap_or("the tree's libbpf"),
        compiler: opt(&o, "compiler"),
        optional: opt(&o, "optional") == Some("yes"),
        headline: (full_identical, full_loads, partial_identical, partial_loads),
    });
    let report_path = one(&o, "report")?;
    std::fs::write(report_path, md).map_err(|e| format!("{report_path}: {e}"))?;
    for f in &failures {
        eprintln!("bpfld-parity: {f}");
    }
    eprintln!(
        "bpfld-parity: {} of {} objects libbpf loads completely load identically through the module ({:.1}%); {} of {} with refused programs identical otherwise; report {report_path}",
        full_identical,
        full_loads,
        pct(full_identical, full_loads),
        partial_identical,
        partial_loads
    );
    println!(
        "{passed} passed, {} failed",
        rows.len() - passed + missing.len()
    );
    Ok(if failures.is_empty() { 0 } else { 1 })
}

struct Render<'a> {
    rows: &'a [&'a Row],
    allow: &'a BTreeMap<String, (String, String)>,
    /// `warnings-vm.tsv`: kernel messages explained.
    warn: &'a BTreeMap<String, (String, String)>,
    failures: &'a [String],
    stale: &'a [String],
    missing: &'a [String],
    boots: &'a [String],
    /// The guest's accelerator, "TCG" or "KVM" ([`bpfld::guest_accel`]).
    accel: &'a str,
    consoles: &'a [(String, Vec<String>)],
    manifest: Option<Manifest>,
    command: &'a str,
    elapsed: Option<u64>,
    libbpf: &'a str,
    /// How the objects were compiled, when not as the test_progs flavour (clang 14,
    /// `-mcpu=v3`) and the corpus's plain command.
    compiler: Option<&'a str>,
    /// The guest loaded the programs of `SEC("?...")` sections too.
    optional: bool,
    /// (identical, libbpf loads completely, identical-partial, libbpf refuses some).
    headline: (usize, usize, usize, usize),
}

fn render(x: &Render<'_>) -> String {
    let mut s = String::new();
    let rows = x.rows;
    let kernel = x
        .boots
        .first()
        .map(String::as_str)
        .unwrap_or("(no boot recorded)");
    let _ = writeln!(
        s,
        "# Linux 6.12 BPF selftest programs: libbpf vs bpfld.ko in the VM\n"
    );
    let _ = writeln!(
        s,
        "Generated by `{}` on the test kernel ({} guest: {kernel}). Reference: {} and \
         bpftool built from the same 6.12 tree; objects built with a `vmlinux.h` from the \
         test kernel's BTF, on an ext4 file system with fs-verity, loaded through \
         `/dev/bpfld` with the module in development trust mode (`dev_mode=1`). \
         See selftests/kprogs/README.md. Do not edit by hand.\n",
        x.command, x.accel, x.libbpf
    );
    if let Some(c) = x.compiler {
        let _ = writeln!(s, "Objects compiled by {c}.\n");
    }
    let _ = writeln!(
        s,
        "{}\n",
        if x.optional {
            "Programs of `SEC(\"?...\")` sections are loaded too, by both loaders \
             (`bpf_program__set_autoload(prog, true)`, the load options' `autoload`), as \
             the kernel's selftests load them."
        } else {
            "Programs of `SEC(\"?...\")` sections are left out, by both loaders (their \
             autoload is off): an object whose programs all sit there counts as identical \
             with no program compared."
        }
    );
    let (fi, fl, pi, pl) = x.headline;
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let libbpf_refuses = rows
        .iter()
        .filter(|r| r.set == KPROGS && r.libbpf == "none")
        .count();
    let bpfld_only = rows
        .iter()
        .filter(|r| r.set == KPROGS && r.libbpf == "none" && r.cat == Cat::BpfldOnly)
        .count();
    let _ = writeln!(
        s,
        "**{fi} of {fl} selftest objects that libbpf loads completely load through \
         `/dev/bpfld` with identical xlated instructions ({:.1}%).** Of the {pl} objects \
         where libbpf refuses some programs and loads the rest, the module refuses the \
         object at one of the programs libbpf refuses, and with those turned off \
         (`autoload`) loads the other programs identically, in {pi} ({:.1}%). Of the \
         {libbpf_refuses} \
         objects libbpf refuses entirely, bpfld accepts {bpfld_only} (each explained below).\n",
        pct(fi, fl),
        pct(pi, pl),
    );
    let took = x
        .elapsed
        .map(|e| format!("{}m{:02}s", e / 60, e % 60))
        .unwrap_or("?".into());
    let libbpf_ms: u64 = rows.iter().map(|r| r.libbpf_ms).sum();
    let bpfld_ms: u64 = rows.iter().map(|r| r.bpfld_ms).sum();
    let _ = writeln!(
        s,
        "{} objects in {} boot(s), {took} wall for the VM part; inside the guest libbpf \
         took {}s and the module {}s in all.\n",
        rows.len(),
        x.boots.len(),
        libbpf_ms / 1000,
        bpfld_ms / 1000
    );
    if let Some(m) = &x.manifest {
        let _ = writeln!(
            s,
            "Sources: {} selftest programs built, {} not built (listed at the end).\n",
            m.built.len(),
            m.failed.len()
        );
    }
    for (set, title) in [
        (KPROGS, "The kernel's selftest objects"),
        (CORPUS, "bpfld's own corpus (selftests/progs)"),
        (
            GCC,
            "bpfld's own corpus as GCC 12 compiles it (bpf-gcc -gbtf; the sources it can compile)",
        ),
    ] {
        let in_set: Vec<&&Row> = rows.iter().filter(|r| r.set == set).collect();
        if in_set.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {title}: {} objects\n", in_set.len());
        let _ = writeln!(
            s,
            "| category | objects | {} | meaning |",
            FEATURES.join(" | ")
        );
        let _ = writeln!(s, "|---|---|{}---|", "---|".repeat(FEATURES.len()));
        for c in Cat::VM {
            let n = in_set.iter().filter(|r| r.cat == c).count();
            let per: Vec<String> = FEATURES
                .iter()
                .map(|f| {
                    in_set
                        .iter()
                        .filter(|r| r.cat == c && r.feature == *f)
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
        let progs: usize = in_set.iter().map(|r| r.progs).sum();
        let refused: usize = in_set
            .iter()
            .filter(|r| r.cat == Cat::IdenticalPartial)
            .map(|r| r.both_refused)
            .sum();
        let _ = writeln!(
            s,
            "\n{progs} programs compared identical; {refused} programs refused by both in \
             identical-partial objects.\n"
        );
    }
    if !x.failures.is_empty() {
        let _ = writeln!(s, "## Failures ({})\n", x.failures.len());
        for f in x.failures {
            let _ = writeln!(s, "* {}", clip(f, 600));
        }
        let _ = writeln!(s);
    }
    if !x.stale.is_empty() {
        let _ = writeln!(s, "## Allowlist entries that no longer match\n");
        for f in x.stale {
            let _ = writeln!(s, "* {f}");
        }
        let _ = writeln!(s);
    }
    if !x.missing.is_empty() {
        let _ = writeln!(s, "## No result ({})\n", x.missing.len());
        let _ = writeln!(s, "{}\n", x.missing.join(", "));
    }
    let header = "| object | kind | detail | allowlist |\n|---|---|---|---|";
    let line = |s: &mut String, r: &Row| {
        let why = x
            .allow
            .get(&r.key())
            .map(|(_, w)| clip(w, 500))
            .unwrap_or_else(|| "**none**".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {why} |",
            r.key(),
            r.feature,
            clip(&r.detail, 500)
        );
    };
    for c in [
        Cat::Crash,
        Cat::LibbpfOnly,
        Cat::LibbpfOnlyExterns,
        Cat::Differs,
        Cat::BpfldOnly,
    ] {
        let list: Vec<&&Row> = rows.iter().filter(|r| r.cat == c).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {} ({})\n", c.name(), list.len());
        let _ = writeln!(s, "{}.\n\n{header}", c.meaning());
        for r in list {
            line(&mut s, r);
        }
        let _ = writeln!(s);
    }
    let warned: Vec<&&Row> = rows.iter().filter(|r| !r.warnings.is_empty()).collect();
    if !warned.is_empty() {
        let _ = writeln!(s, "## Kernel messages during a load ({})\n", warned.len());
        let _ = writeln!(s, "| object | messages | explained |\n|---|---|---|");
        for r in warned {
            let why = match x.warn.get(&r.key()) {
                Some((_, reason)) if warning_explained(r, x.warn) => reason.as_str(),
                _ => "no",
            };
            let _ = writeln!(s, "| {} | {} | {} |", r.key(), clip(&r.warnings, 600), why);
        }
        let _ = writeln!(s);
    }
    for (path, lines) in x.consoles {
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(s, "## Console of a boot that died ({name})\n\n```");
        for l in lines {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s, "```\n");
    }
    let earlier: Vec<&&Row> = rows
        .iter()
        .filter(|r| r.cat == Cat::BothFail && r.detail.starts_with(EARLIER))
        .collect();
    if !earlier.is_empty() {
        let _ = writeln!(
            s,
            "## both-fail, but bpfld stops earlier ({})\n\nlibbpf created the maps and \
             refused every program; the module failed before reaching one of those \
             programs.\n\n{header}",
            earlier.len()
        );
        for r in earlier {
            line(&mut s, r);
        }
        let _ = writeln!(s);
    }
    let partial: Vec<&&Row> = rows
        .iter()
        .filter(|r| r.cat == Cat::IdenticalPartial)
        .collect();
    if !partial.is_empty() {
        let _ = writeln!(
            s,
            "## identical-partial ({})\n\n{}.\n\n| object | kind | programs | detail |\n|---|---|---|---|",
            partial.len(),
            Cat::IdenticalPartial.meaning()
        );
        for r in partial {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.key(),
                r.feature,
                r.progs,
                clip(&r.detail, 300)
            );
        }
        let _ = writeln!(s);
    }
    let both: Vec<&&Row> = rows
        .iter()
        .filter(|r| r.cat == Cat::BothFail && !r.detail.starts_with(EARLIER))
        .collect();
    if !both.is_empty() {
        let _ = writeln!(
            s,
            "## both-fail ({})\n\n{}.\n\n| object | kind | detail |\n|---|---|---|",
            both.len(),
            Cat::BothFail.meaning()
        );
        for r in both {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                r.key(),
                r.feature,
                clip(&r.detail, 300)
            );
        }
        let _ = writeln!(s);
    }
    let noted: Vec<&&Row> = rows
        .iter()
        .filter(|r| r.cat == Cat::Identical && !r.detail.is_empty())
        .collect();
    if !noted.is_empty() {
        let _ = writeln!(
            s,
            "## identical, with notes ({})\n\n| object | kind | programs | notes |\n|---|---|---|---|",
            noted.len()
        );
        for r in noted {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                r.key(),
                r.feature,
                r.progs,
                r.detail
            );
        }
        let _ = writeln!(s);
    }
    let mut slow: Vec<&&Row> = rows.iter().collect();
    slow.sort_by_key(|r| std::cmp::Reverse(r.libbpf_ms + r.bpfld_ms));
    let _ = writeln!(
        s,
        "## Slowest objects under TCG\n\n| object | libbpf (ms) | module (ms) | category |\n|---|---|---|---|"
    );
    for r in slow.iter().take(10) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            r.key(),
            r.libbpf_ms,
            r.bpfld_ms,
            r.cat.name()
        );
    }
    let _ = writeln!(s);
    if let Some(m) = &x.manifest {
        if !m.failed.is_empty() {
            let _ = writeln!(s, "## Not built\n\n| source | why |\n|---|---|");
            for (f, r) in &m.failed {
                let _ = writeln!(s, "| {f} | {} |", clip(r, 300));
            }
            let _ = writeln!(s);
        }
    }
    s
}

// SPDX-License-Identifier: GPL-2.0-only

//! Concurrency and lifetime: tests that try to break the module with parallel loads
//! from many processes, `rmmod` while loads run, policy changes racing loads, and
//! signals (including SIGKILL) delivered to callers in the middle of a load.
//!
//! What they rely on (see `rust/bpfld/helpers.c` and Documentation/design.rst): a load
//! runs in a kernel thread while the caller waits, holding its `/dev/bpfld` file, and
//! so a reference on the module (a killed caller passes SIGKILL on to the thread and
//! waits for it to unwind); the policy is checked once,
//! under its lock, when a load starts; revocation cannot be undone.
//!
//! Leaks are measured with the kernel's own counters (every id behind
//! `BPF_PROG_GET_NEXT_ID` / `BPF_MAP_GET_NEXT_ID`) and `/proc/self/fd`.
//!
//! Iteration counts are the constants below (sized for about two minutes in all under
//! TCG); `BPFLD_STRESS_SCALE=F` in the environment multiplies them.

use super::{fail, Env};
use crate::loads::CORPUS_CC;
use crate::util::{self, fd_count, run, Snapshot};
use bpfld::dev::{digest_arg, Device, KLoad, KLoadError, KLoadOpts, DEVICE};
use bpfld::kmsg::KernelLog;
use bpfld::ktap::Outcome;
use bpfld::sys::{obj_info, MapInfo, ProgInfo};
use bpfld::uapi;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

const MNT: &str = "/run/bpfld-verity";
/// The objects these tests generate live in their own directory of the verity image.
const DIR: &str = "/run/bpfld-verity/stress";
const EKEYREVOKED: i32 = 128;
const EKEYREJECTED: i32 = 129;

/// Child processes of `stress_processes` (N >= 8 asked for).
const CHILDREN: usize = 8;
/// Rounds over the object list per child (each child loads every object this often).
const CHILD_ROUNDS: usize = 2;
/// Loading threads per child process.
const CHILD_THREADS: usize = 2;
/// `stress_rmmod`: seconds of rmmod attempts while loaders hold the device open.
const RMMOD_HELD_SECS: u64 = 3;
/// `stress_rmmod`: successful rmmod + insmod cycles wanted while loaders open, load and
/// close in a loop (bounded by `RMMOD_CYCLE_SECS`).
const RMMOD_CYCLES: usize = 8;
const RMMOD_CYCLE_SECS: u64 = 25;
/// `stress_policy`: fresh digests taken through unknown -> enrolled -> revoked while
/// `POLICY_LOADERS` threads load them.
const POLICY_VARIANTS: usize = 12;
const POLICY_LOADERS: usize = 3;
/// `stress_signals`: loads per thread under SIGUSR1 (per SA_RESTART setting), loads of
/// the child that is stopped and continued, children killed mid-load.
const SIGNAL_LOADS: usize = 6;
const STOP_LOADS: usize = 5;
const KILL_ROUNDS: usize = 6;
/// Iterations of the generated slow program's loop: the verifier walks it iteration by
/// iteration (the counter is a known constant), 2 instructions each.
const SLOW_ITERS: u32 = 20_000;

/// `n` times `BPFLD_STRESS_SCALE` (default 1), at least 1.
fn scaled(n: usize) -> usize {
    let f = std::env::var("BPFLD_STRESS_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(1.0);
    ((n as f64 * f).round() as usize).max(1)
}

fn outcome(r: Result<(), String>) -> Outcome {
    match r {
        Ok(()) => Outcome::Pass,
        Err(e) => fail(e),
    }
}

fn dev() -> Result<Device, String> {
    Device::open(DEVICE).map_err(|e| format!("open {DEVICE}: {e}"))
}

fn open(path: &str) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{path}: {e}"))
}

fn corpus(name: &str) -> String {
    format!("{MNT}/{name}")
}

/// A load without a verifier log (no 1 MiB buffer per load, no second verifier run).
fn load(d: &Device, f: &File) -> Result<KLoad, KLoadError> {
    d.load(
        f,
        &KLoadOpts {
            log_level: 0,
            log_size: 0,
            flags: 0,
        },
    )
}

fn errno_name(e: i32) -> String {
    format!("{} ({})", e, std::io::Error::from_raw_os_error(e))
}

// ---------------------------------------------------------------------------------
// Generated objects.

/// One BPF instruction.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut i = [0u8; 8];
    i[0] = code;
    i[1] = (src << 4) | dst;
    i[2..4].copy_from_slice(&off.to_le_bytes());
    i[4..8].copy_from_slice(&imm.to_le_bytes());
    i
}

/// A section to write: name, sh_type, sh_flags, data, sh_link, sh_info, sh_entsize.
type Section<'n> = (&'n str, u32, u64, Vec<u8>, u32, u32, u64);

/// A minimal BPF object (ET_REL, EM_BPF, no BTF: the core accepts objects without it)
/// with one socket filter `prog`:
///
/// ```text
/// r0 = ret; r1 = 0; do { r1 += 1 } while (r1 < iters); exit
/// ```
///
/// `ret` makes digests distinct; `iters` sets how long the verifier takes (it follows
/// the loop one iteration at a time since r1 is a known constant). Built here rather
/// than in the corpus so that its cost is a parameter of these tests.
fn socket_object(prog: &str, ret: i32, iters: u32) -> Vec<u8> {
    let mut code = Vec::new();
    code.extend(insn(0xb7, 0, 0, 0, ret)); // r0 = ret
    if iters > 0 {
        code.extend(insn(0xb7, 1, 0, 0, 0)); // r1 = 0
        code.extend(insn(0x07, 1, 0, 0, 1)); // r1 += 1
        code.extend(insn(0xa5, 1, 0, -2, iters as i32)); // if r1 < iters goto -2
    }
    code.extend(insn(0x95, 0, 0, 0, 0)); // exit

    let mut strtab = vec![0u8];
    strtab.extend(prog.as_bytes());
    strtab.push(0);
    let mut symtab = vec![0u8; 24]; // the null symbol
    symtab.extend(1u32.to_le_bytes()); // st_name
    symtab.push(0x12); // STB_GLOBAL, STT_FUNC
    symtab.push(0);
    symtab.extend(2u16.to_le_bytes()); // section 2, "socket"
    symtab.extend(0u64.to_le_bytes());
    symtab.extend((code.len() as u64).to_le_bytes());

    let sections: [Section; 5] = [
        ("license", 1, 0x3, b"GPL\0".to_vec(), 0, 0, 0), // PROGBITS, WA
        ("socket", 1, 0x6, code, 0, 0, 0),               // PROGBITS, AX
        (".strtab", 3, 0, strtab, 0, 0, 0),
        (".symtab", 2, 0, symtab, 3, 1, 24),
        (".shstrtab", 3, 0, Vec::new(), 0, 0, 0),
    ];
    let mut shstrtab = vec![0u8];
    let mut name_off = Vec::new();
    for s in &sections {
        name_off.push(shstrtab.len() as u32);
        shstrtab.extend(s.0.as_bytes());
        shstrtab.push(0);
    }
    let mut out = vec![0u8; 64];
    let mut headers = vec![0u8; 64]; // the null section
    for (k, (_, ty, flags, data, link, info, entsize)) in sections.iter().enumerate() {
        let data = if k == sections.len() - 1 {
            &shstrtab
        } else {
            data
        };
        while out.len() % 8 != 0 {
            out.push(0);
        }
        let off = out.len() as u64;
        out.extend(data);
        headers.extend(name_off[k].to_le_bytes());
        headers.extend(ty.to_le_bytes());
        headers.extend(flags.to_le_bytes());
        headers.extend(0u64.to_le_bytes()); // sh_addr
        headers.extend(off.to_le_bytes());
        headers.extend((data.len() as u64).to_le_bytes());
        headers.extend(link.to_le_bytes());
        headers.extend(info.to_le_bytes());
        headers.extend(8u64.to_le_bytes()); // sh_addralign
        headers.extend(entsize.to_le_bytes());
    }
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len() as u64;
    out.extend(&headers);
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // ELFDATA2LSB
    out[6] = 1; // EV_CURRENT
    out[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    out[18..20].copy_from_slice(&247u16.to_le_bytes()); // EM_BPF
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[40..48].copy_from_slice(&shoff.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out[60..62].copy_from_slice(&(sections.len() as u16 + 1).to_le_bytes());
    out[62..64].copy_from_slice(&(sections.len() as u16).to_le_bytes()); // .shstrtab
    out
}

/// Write `bytes` to `DIR/name` on the verity image, enable fs-verity, and return the
/// path and the digest (computed by bpfld-core, as `bpfld trust add FILE` does).
fn put_object(name: &str, bytes: &[u8]) -> Result<(String, uapi::BpfldDigest), String> {
    std::fs::create_dir_all(DIR).map_err(|e| format!("{DIR}: {e} (verity_setup not run?)"))?;
    let path = format!("{DIR}/{name}");
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, bytes).map_err(|e| format!("{path}: {e}"))?;
    run("fsverity", &["enable", &path])?;
    let d = bpfld_core::digest::fsverity_sha256(bytes).map_err(|e| e.to_string())?;
    let d = digest_arg(uapi::BPFLD_HASH_SHA256, &d).ok_or("digest")?;
    Ok((path, d))
}

/// The slow object, enrolled.
fn slow_object() -> Result<String, String> {
    let (path, d) = put_object("slow.o", &socket_object("stress_slow", 0, SLOW_ITERS))?;
    dev()?
        .trust_add(&d)
        .map_err(|e| format!("enroll {path}: {e}"))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------
// Checking a load.

/// What every load of one object must return: the same programs (names, tags), maps
/// and receipt, whoever loads it and whatever runs beside it.
#[derive(Clone, Debug, PartialEq)]
struct Expect {
    progs: Vec<(String, [u8; 8])>,
    maps: Vec<String>,
    receipt: [u8; 32],
}

impl Expect {
    fn of(l: &KLoad) -> Expect {
        Expect {
            progs: l.progs.iter().map(|p| (p.name.clone(), p.tag)).collect(),
            maps: l.maps.iter().map(|m| m.name.clone()).collect(),
            receipt: l.receipt,
        }
    }
}

/// Check a successful load against `want` and against the kernel: every fd is the
/// object with the id the module reported, and every program uses only this load's
/// maps.
fn check_load(l: &KLoad, want: &Expect) -> Result<(), String> {
    let got = Expect::of(l);
    if got != *want {
        return Err(format!("result differs: got {got:?}, want {want:?}"));
    }
    let ours: Vec<u32> = l.maps.iter().map(|m| m.id).collect();
    for p in &l.progs {
        let fd = p.fd.as_raw_fd();
        let info: ProgInfo = obj_info(fd).map_err(|e| format!("prog {} fd {fd}: {e}", p.name))?;
        if info.id != p.id || info.tag != p.tag {
            return Err(format!(
                "prog {} fd {fd}: kernel says id {} tag {:02x?}, module said id {} tag {:02x?}",
                p.name, info.id, info.tag, p.id, p.tag
            ));
        }
        let used = util::prog_map_ids(fd).map_err(|e| e.to_string())?;
        if let Some(bad) = used.iter().find(|id| !ours.contains(id)) {
            return Err(format!(
                "prog {} uses map id {bad}, not one of this load's {ours:?}",
                p.name
            ));
        }
    }
    for m in &l.maps {
        let fd = m.fd.as_raw_fd();
        let info: MapInfo = obj_info(fd).map_err(|e| format!("map {} fd {fd}: {e}", m.name))?;
        if info.id != m.id {
            return Err(format!(
                "map {} fd {fd}: kernel id {}, module said {}",
                m.name, info.id, m.id
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Processes, pipes, /proc.

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut p = [0i32; 2];
    // SAFETY: pipe2 writes two fds into `p`.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds are new and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) })
}

/// Fork a child that runs `f` and exits with its value (99 if it panics). The caller
/// is single-threaded when it forks (the tests run one after the other and join their
/// threads), so the child may allocate and spawn threads.
fn fork_child(f: impl FnOnce() -> i32) -> Result<libc::pid_t, String> {
    // SAFETY: fork(2); the child never returns from this function.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
        // SAFETY: leave without running the parent's exit handlers or flushing its
        // buffers a second time.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

fn write_all(fd: RawFd, mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: writes from a live slice.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if n <= 0 {
            return;
        }
        b = &b[n as usize..];
    }
}

/// Read `fd` to EOF, failing at `deadline` (a child stuck in the module must not hang
/// the whole run).
fn read_to_eof(fd: RawFd, deadline: Instant) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().min(60_000) as i32) };
        if r == 0 {
            if Instant::now() >= deadline {
                return Err("timed out".into());
            }
            continue;
        }
        // SAFETY: reads into a live buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e.to_string());
        }
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// waitpid(2): the raw status.
fn wait(pid: libc::pid_t, flags: i32) -> Result<i32, String> {
    let mut st = 0;
    loop {
        // SAFETY: waitpid writes the status.
        let r = unsafe { libc::waitpid(pid, &mut st, flags) };
        if r == pid {
            return Ok(st);
        }
        let e = std::io::Error::last_os_error();
        if r < 0 && e.raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return Err(format!("waitpid {pid}: {r} {e}"));
    }
}

fn status_text(st: i32) -> String {
    if libc::WIFEXITED(st) {
        format!("exit {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else {
        format!("status {st:#x}")
    }
}

/// The state letter of /proc/PID[/task/TID]/stat (`R`, `S`, `D`, `T`, ...).
fn proc_state(stat_path: &str) -> Option<char> {
    let s = std::fs::read_to_string(stat_path).ok()?;
    s.rsplit_once(") ")?.1.chars().next()
}

/// Whether any thread of `pid` sleeps uninterruptibly (is inside a load).
fn in_d_state(pid: libc::pid_t) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .any(|t| proc_state(&format!("{}/stat", t.path().display())) == Some('D'))
        })
        .unwrap_or(false)
}

/// Wait up to `limit` for a thread of `pid` to be inside a load.
fn wait_d_state(pid: libc::pid_t, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if in_d_state(pid) {
            return true;
        }
        thread::sleep(Duration::from_micros(500));
    }
    false
}

/// The module's loading threads: their /proc directory and state letter.
fn loading_kthread_procs() -> Vec<(std::path::PathBuf, Option<char>)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim() == "bpfld-load"))
        .map(|p| {
            let state = proc_state(&format!("{}/stat", p.display()));
            (p, state)
        })
        .collect()
}

/// The module's loading threads alive now, with their kernel stacks.
fn loading_kthreads() -> Vec<String> {
    loading_kthread_procs()
        .into_iter()
        .map(|(p, state)| {
            let stack = std::fs::read_to_string(p.join("stack")).unwrap_or_default();
            format!(
                "{} [{}]: {}",
                p.display(),
                state.unwrap_or('?'),
                stack.lines().collect::<Vec<_>>().join(" <- ")
            )
        })
        .collect()
}

/// Prints the kernel stacks of every task in D state if a test runs longer than it
/// should, so that a deadlock in the module leaves a trace on the console before the
/// runner's watchdog kills the VM.
struct Watchdog {
    tx: Option<mpsc::Sender<()>>,
    h: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start(what: &'static str, secs: u64) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        let h = thread::spawn(move || {
            if rx.recv_timeout(Duration::from_secs(secs)) == Err(mpsc::RecvTimeoutError::Timeout) {
                println!("# {what}: still running after {secs} s; tasks in D state:");
                for t in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let p = t.path();
                    if proc_state(&format!("{}/stat", p.display())) == Some('D') {
                        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
                        let stack = std::fs::read_to_string(p.join("stack")).unwrap_or_default();
                        println!(
                            "# {} {}: {}",
                            p.display(),
                            comm.trim(),
                            stack.replace('\n', " <- ")
                        );
                    }
                }
                let _ = rx.recv();
            }
        });
        Watchdog {
            tx: Some(tx),
            h: Some(h),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.h.take() {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------------------------
// 1. Many processes.

/// The corpus objects `stress_processes` loads: plain, global data, map-in-map, tail
/// calls and three CO-RE objects (650 KB each, the vmlinux BTF cache shared by all).
const PROC_OBJS: &[&str] = &[
    "xdp.bpf.o",
    "subprogs.bpf.o",
    "global_data.bpf.o",
    "map_in_map.bpf.o",
    "tail_calls.bpf.o",
    "core_task.bpf.o",
    "core_btf.bpf.o",
    "core_skb.bpf.o",
];
/// ... and the one that must fail (the verifier rejects a program: EACCES).
const PROC_FAIL: (&str, i32) = ("reject.bpf.o", libc::EACCES);

/// What a child reports: every program and map id it holds, and how many loads of
/// each kind it did.
#[derive(Default)]
struct ChildReport {
    prog_ids: Vec<u32>,
    map_ids: Vec<u32>,
    /// Successful loads per object index (for the expected map count).
    per_obj: Vec<usize>,
    failed_as_expected: usize,
    error: Option<String>,
}

impl ChildReport {
    fn encode(&self) -> String {
        let ids = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
        let per = self
            .per_obj
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        match &self.error {
            Some(e) => format!("error {}\n", e.replace('\n', " | ")),
            None => format!(
                "progs {}\nmaps {}\nper_obj {per}\nfailed {}\n",
                ids(&self.prog_ids),
                ids(&self.map_ids),
                self.failed_as_expected
            ),
        }
    }

    fn decode(s: &str) -> ChildReport {
        let mut r = ChildReport::default();
        for l in s.lines() {
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            let nums = || v.split_whitespace().filter_map(|x| x.parse().ok());
            match k {
                "error" => r.error = Some(v.to_string()),
                "progs" => r.prog_ids = nums().collect(),
                "maps" => r.map_ids = nums().collect(),
                "per_obj" => {
                    r.per_obj = v
                        .split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                }
                "failed" => r.failed_as_expected = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        if r.error.is_none() && r.per_obj.is_empty() {
            r.error = Some(format!("bad report {s:?}"));
        }
        r
    }
}

/// One child: `CHILD_THREADS` threads load every object `CHILD_ROUNDS` times (each
/// child starts at another object) plus the failing one each round, check every
/// result, and keep everything until the parent has counted the system's objects.
fn process_child(c: usize, refs: &[Expect], report: OwnedFd, release: OwnedFd) -> i32 {
    let fds0 = fd_count();
    let work: Vec<usize> = (0..CHILD_ROUNDS)
        .flat_map(|r| (0..=PROC_OBJS.len()).map(move |k| (c + r + k) % (PROC_OBJS.len() + 1)))
        .collect();
    let work = Arc::new(work);
    let refs = Arc::new(refs.to_vec());
    let threads: Vec<_> = (0..CHILD_THREADS)
        .map(|t| {
            let (work, refs) = (work.clone(), refs.clone());
            thread::spawn(move || -> Result<(Vec<KLoad>, Vec<usize>, usize), String> {
                let d = dev()?;
                let mut held = Vec::new();
                let mut per_obj = vec![0usize; PROC_OBJS.len()];
                let mut failed = 0;
                for &k in work.iter().skip(t).step_by(CHILD_THREADS) {
                    if k == PROC_OBJS.len() {
                        let f = open(&corpus(PROC_FAIL.0))?;
                        match load(&d, &f) {
                            Ok(_) => return Err(format!("{} loaded", PROC_FAIL.0)),
                            Err(e) if e.errno == PROC_FAIL.1 => failed += 1,
                            Err(e) => return Err(format!("{}: {e}", PROC_FAIL.0)),
                        }
                        continue;
                    }
                    let f = open(&corpus(PROC_OBJS[k]))?;
                    let l = load(&d, &f).map_err(|e| format!("{}: {e}", PROC_OBJS[k]))?;
                    check_load(&l, &refs[k]).map_err(|e| format!("{}: {e}", PROC_OBJS[k]))?;
                    per_obj[k] += 1;
                    held.push(l);
                }
                Ok((held, per_obj, failed))
            })
        })
        .collect();
    let mut rep = ChildReport {
        per_obj: vec![0; PROC_OBJS.len()],
        ..Default::default()
    };
    let mut held = Vec::new();
    for h in threads {
        match h.join() {
            Ok(Ok((l, per, failed))) => {
                held.extend(l);
                for (a, b) in rep.per_obj.iter_mut().zip(per) {
                    *a += b;
                }
                rep.failed_as_expected += failed;
            }
            Ok(Err(e)) => rep.error = Some(format!("child {c}: {e}")),
            Err(_) => rep.error = Some(format!("child {c}: thread panicked")),
        }
    }
    for l in &held {
        rep.prog_ids.extend(l.progs.iter().map(|p| p.id));
        rep.map_ids.extend(l.maps.iter().map(|m| m.id));
    }
    let ids: HashSet<u32> = rep.prog_ids.iter().copied().collect();
    if rep.error.is_none() && ids.len() != rep.prog_ids.len() {
        rep.error = Some(format!("child {c}: duplicate program ids"));
    }
    let objects: usize = held.iter().map(|l| l.progs.len() + l.maps.len()).sum();
    if rep.error.is_none() && fd_count() != fds0 + objects {
        rep.error = Some(format!(
            "child {c}: {} fds open, want {fds0} + {objects} objects",
            fd_count()
        ));
    }
    write_all(report.as_raw_fd(), rep.encode().as_bytes());
    drop(report);
    // Hold everything until the parent has counted.
    let mut b = [0u8; 1];
    // SAFETY: reads one byte into a live buffer.
    unsafe { libc::read(release.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
    drop(held);
    // Everything it loaded is closed, and so is the report pipe.
    if fd_count() + 1 != fds0 {
        return 3;
    }
    if rep.error.is_some() {
        2
    } else {
        0
    }
}

pub fn processes(_: &Env) -> Outcome {
    let _w = Watchdog::start("stress_processes", 150);
    outcome((|| {
        // Reference loads, one at a time: what each object gives, and how many maps
        // it adds to the system (templates and inner maps included). The device stays
        // open to the end, so that the fd counts compare.
        let d = dev()?;
        let before = Snapshot::take();
        let mut refs = Vec::new();
        let mut map_delta = Vec::new();
        for o in PROC_OBJS {
            let l = load(&d, &open(&corpus(o))?).map_err(|e| format!("{o}: {e}"))?;
            let during = Snapshot::take();
            map_delta.push(during.maps - before.maps);
            if during.progs - before.progs != l.progs.len() {
                return Err(format!(
                    "{o}: {} programs appeared, the module reported {}",
                    during.progs - before.progs,
                    l.progs.len()
                ));
            }
            refs.push(Expect::of(&l));
            drop(l);
            before.unchanged().map_err(|e| format!("{o}: {e}"))?;
        }

        let t0 = Instant::now();
        let mut children = Vec::new();
        for c in 0..CHILDREN {
            let (rr, rw) = pipe()?;
            let (lr, lw) = pipe()?;
            let refs = refs.clone();
            let fds = [
                rr.as_raw_fd(),
                rw.as_raw_fd(),
                lr.as_raw_fd(),
                lw.as_raw_fd(),
            ];
            let pid = fork_child(move || {
                // SAFETY: the child's copies of the four pipe ends: it closes the
                // parent's ends and owns its own.
                let (report, release) = unsafe {
                    libc::close(fds[0]);
                    libc::close(fds[3]);
                    (OwnedFd::from_raw_fd(fds[1]), OwnedFd::from_raw_fd(fds[2]))
                };
                process_child(c, &refs, report, release)
            })?;
            drop((rw, lr));
            children.push((pid, rr, lw));
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut reports = Vec::new();
        let mut errors = Vec::new();
        for (pid, rr, _) in &children {
            match read_to_eof(rr.as_raw_fd(), deadline) {
                Ok(b) => reports.push(ChildReport::decode(&String::from_utf8_lossy(&b))),
                Err(e) => {
                    errors.push(format!("child {pid}: report: {e}"));
                    reports.push(ChildReport::default());
                }
            }
        }
        let loaded_in = t0.elapsed();
        // Everything is held now: the kernel must hold exactly what was reported.
        let mut all_progs = HashSet::new();
        let (mut nprogs, mut nmaps, mut nloads, mut nfailed) = (0, 0, 0, 0);
        for (c, r) in reports.iter().enumerate() {
            if let Some(e) = &r.error {
                errors.push(e.clone());
            }
            for id in &r.prog_ids {
                if !all_progs.insert(*id) {
                    errors.push(format!("program id {id} reported by two loads (child {c})"));
                }
            }
            nprogs += r.prog_ids.len();
            nmaps += r
                .per_obj
                .iter()
                .zip(&map_delta)
                .map(|(n, d)| n * d)
                .sum::<usize>();
            nloads += r.per_obj.iter().sum::<usize>();
            nfailed += r.failed_as_expected;
        }
        if errors.is_empty() {
            let during = Snapshot::take();
            if during.progs != before.progs + nprogs || during.maps != before.maps + nmaps {
                errors.push(format!(
                    "with every load held the kernel has {} programs and {} maps, want {} and {}",
                    during.progs,
                    during.maps,
                    before.progs + nprogs,
                    before.maps + nmaps
                ));
            }
        }
        for (pid, _, lw) in &children {
            write_all(lw.as_raw_fd(), b"x");
            match wait(*pid, 0) {
                Ok(st) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
                Ok(st) => errors.push(format!("child {pid}: {}", status_text(st))),
                Err(e) => errors.push(e),
            }
        }
        println!(
            "# {CHILDREN} processes x {CHILD_THREADS} threads: {nloads} loads ({nprogs} programs, {nmaps} maps held at once) and {nfailed} expected EACCES in {} ms",
            loaded_in.as_millis()
        );
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        let want_loads = CHILDREN * CHILD_ROUNDS * PROC_OBJS.len();
        if nloads != want_loads || nfailed != CHILDREN * CHILD_ROUNDS {
            return Err(format!(
                "{nloads} loads and {nfailed} refusals, want {want_loads} and {}",
                CHILDREN * CHILD_ROUNDS
            ));
        }
        // The pipes to the children are not the loads' business.
        drop(children);
        before.unchanged()?;
        drop(d);
        Ok(())
    })())
}

// ---------------------------------------------------------------------------------
// 2. rmmod while loads run.

/// delete_module(2) as rmmod calls it.
fn delete_module() -> Result<(), i32> {
    // SAFETY: the name is NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_delete_module,
            c"bpfld".as_ptr(),
            libc::O_NONBLOCK as libc::c_long,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

/// A snapshot of the runtime policy, to be put back after a reload.
struct PolicyCopy {
    enrolled: Vec<uapi::BpfldDigest>,
    revoked: Vec<uapi::BpfldDigest>,
}

impl PolicyCopy {
    fn take() -> Result<PolicyCopy, String> {
        let (entries, flags) = dev()?.trust_list().map_err(|e| format!("list: {e}"))?;
        if flags & uapi::BPFLD_POLICY_SEALED != 0 {
            return Err("the policy is sealed: the module cannot be unloaded".into());
        }
        let of = |s| {
            entries
                .iter()
                .filter(|e| e.state == s)
                .map(|e| e.digest)
                .collect()
        };
        Ok(PolicyCopy {
            enrolled: of(uapi::BPFLD_TRUST_RUNTIME),
            revoked: of(uapi::BPFLD_TRUST_REVOKED),
        })
    }

    fn restore(&self) -> Result<(), String> {
        let d = dev()?;
        for e in &self.enrolled {
            d.trust_add(e).map_err(|e| format!("enroll: {e}"))?;
        }
        for r in &self.revoked {
            d.trust_revoke(r).map_err(|e| format!("revoke: {e}"))?;
        }
        let now = PolicyCopy::take()?;
        if now.enrolled != self.enrolled || now.revoked != self.revoked {
            return Err("the policy differs after restoring it".into());
        }
        Ok(())
    }
}

fn insmod(env: &Env) -> Result<(), String> {
    run("insmod", &[&env.module]).map(|_| ())
}

/// Loads alternate between a plain object and a CO-RE one (which makes the module read
/// and cache vmlinux BTF, freed at unload).
const RMMOD_OBJS: &[&str] = &["xdp.bpf.o", "core_task.bpf.o"];

pub fn rmmod_during_loads(env: &Env) -> Outcome {
    let _w = Watchdog::start("stress_rmmod", 150);
    outcome((|| {
        let slow = slow_object()?;
        // What a reload must put back (the corpus enrolled, earlier revocations).
        let policy = PolicyCopy::take()?;
        let d = dev()?;
        let mut refs = Vec::new();
        for o in RMMOD_OBJS {
            let l = load(&d, &open(&corpus(o))?).map_err(|e| format!("{o}: {e}"))?;
            refs.push(Expect::of(&l));
        }
        let l = load(&d, &open(&slow)?).map_err(|e| format!("slow.o: {e}"))?;
        let slow_ref = Expect::of(&l);
        drop((l, d));
        let before = Snapshot::take();

        // Phase A: the loaders keep /dev/bpfld open; every rmmod must fail.
        let stop = Arc::new(AtomicBool::new(false));
        let loads = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(Mutex::new(Vec::<String>::new()));
        let loaders: Vec<_> = (0..3)
            .map(|t| {
                let (stop, loads, errors) = (stop.clone(), loads.clone(), errors.clone());
                let mut objs: Vec<(String, Expect)> = RMMOD_OBJS
                    .iter()
                    .zip(&refs)
                    .map(|(o, r)| (corpus(o), r.clone()))
                    .collect();
                objs.push((slow.clone(), slow_ref.clone()));
                thread::spawn(move || {
                    let res = (|| -> Result<(), String> {
                        let d = dev()?;
                        let mut i = t;
                        while !stop.load(Ordering::Acquire) {
                            let (p, want) = &objs[i % objs.len()];
                            i += 1;
                            let l = load(&d, &open(p)?).map_err(|e| format!("{p}: {e}"))?;
                            check_load(&l, want).map_err(|e| format!("{p}: {e}"))?;
                            loads.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(())
                    })();
                    if let Err(e) = res {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("phase A loader {t}: {e}"));
                    }
                })
            })
            .collect();
        // Let every loader open the device first.
        thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        let (mut tries, mut again, mut busy) = (0usize, 0usize, 0usize);
        let mut unloaded = false;
        while t0.elapsed() < Duration::from_secs(RMMOD_HELD_SECS) {
            tries += 1;
            match delete_module() {
                Err(libc::EAGAIN) => again += 1,
                Err(libc::EBUSY) => busy += 1,
                Err(e) => {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("rmmod with the device open: {}", errno_name(e)));
                    break;
                }
                Ok(()) => {
                    errors
                        .lock()
                        .unwrap()
                        .push("rmmod succeeded while loaders held /dev/bpfld open".into());
                    unloaded = true;
                    break;
                }
            }
            // Leave the loaders some of the two CPUs.
            thread::sleep(Duration::from_micros(200));
        }
        stop.store(true, Ordering::Release);
        for h in loaders {
            let _ = h.join();
        }
        let loads_a = loads.swap(0, Ordering::Relaxed);
        println!(
            "# device held: {tries} rmmod attempts during {loads_a} loads: {again} EAGAIN, {busy} EBUSY"
        );
        if unloaded {
            insmod(env)?;
            policy.restore()?;
        }
        if let Some(e) = errors.lock().unwrap().first() {
            return Err(e.clone());
        }
        if loads_a == 0 {
            return Err("no load completed while rmmod was tried".into());
        }

        // Phase B: open, load, close in a loop; rmmod succeeds whenever no loader holds
        // the device, the loaders find it gone, and it comes back with its policy.
        let stop = Arc::new(AtomicBool::new(false));
        let holding = Arc::new(AtomicI32::new(0));
        let gate = Arc::new(RwLock::new(()));
        let absent = Arc::new(AtomicUsize::new(0));
        let loaders: Vec<_> = (0..2)
            .map(|t| {
                let (stop, loads, errors, holding, gate, absent) = (
                    stop.clone(),
                    loads.clone(),
                    errors.clone(),
                    holding.clone(),
                    gate.clone(),
                    absent.clone(),
                );
                let objs: Vec<(String, Expect)> = RMMOD_OBJS
                    .iter()
                    .zip(&refs)
                    .map(|(o, r)| (corpus(o), r.clone()))
                    .collect();
                thread::spawn(move || {
                    let res = (|| -> Result<(), String> {
                        let mut i = t;
                        while !stop.load(Ordering::Acquire) {
                            let (p, want) = &objs[i % objs.len()];
                            i += 1;
                            let f = open(p)?;
                            let d = {
                                let _g = gate.read().unwrap();
                                match Device::open(DEVICE) {
                                    Ok(d) => {
                                        holding.fetch_add(1, Ordering::SeqCst);
                                        d
                                    }
                                    Err(e)
                                        if matches!(
                                            e.raw_os_error(),
                                            Some(libc::ENOENT | libc::ENODEV | libc::ENXIO)
                                        ) =>
                                    {
                                        absent.fetch_add(1, Ordering::Relaxed);
                                        thread::sleep(Duration::from_millis(1));
                                        continue;
                                    }
                                    Err(e) => return Err(format!("open {DEVICE}: {e}")),
                                }
                            };
                            let res = load(&d, &f);
                            holding.fetch_sub(1, Ordering::SeqCst);
                            drop(d);
                            let l = res.map_err(|e| format!("{p}: {e}"))?;
                            check_load(&l, want).map_err(|e| format!("{p}: {e}"))?;
                            drop(l);
                            loads.fetch_add(1, Ordering::Relaxed);
                            // A short, varying gap: rmmod gets its chance right after
                            // a load returned and its file was closed.
                            thread::sleep(Duration::from_micros(200 + 700 * (i as u64 % 4)));
                        }
                        Ok(())
                    })();
                    if let Err(e) = res {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("phase B loader {t}: {e}"));
                    }
                })
            })
            .collect();
        let t0 = Instant::now();
        let (mut tries, mut cycles, mut refused) = (0usize, 0usize, 0usize);
        let mut kthreads_seen = Vec::new();
        while cycles < scaled(RMMOD_CYCLES)
            && t0.elapsed() < Duration::from_secs(RMMOD_CYCLE_SECS)
            && errors.lock().unwrap().is_empty()
        {
            tries += 1;
            match delete_module() {
                Err(libc::EAGAIN | libc::EBUSY) => {
                    refused += 1;
                    thread::yield_now();
                }
                Err(e) => {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("rmmod: {}", errno_name(e)));
                }
                Ok(()) => {
                    let alive = loading_kthreads();
                    let h = holding.load(Ordering::SeqCst);
                    if h != 0 {
                        errors.lock().unwrap().push(format!(
                            "rmmod succeeded while {h} loader(s) held the device"
                        ));
                    }
                    if !alive.is_empty() {
                        kthreads_seen.extend(alive);
                    }
                    let _g = gate.write().unwrap();
                    if std::path::Path::new(DEVICE).exists() {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("{DEVICE} still exists after rmmod"));
                    }
                    insmod(env)?;
                    policy.restore()?;
                    cycles += 1;
                }
            }
        }
        stop.store(true, Ordering::Release);
        for h in loaders {
            let _ = h.join();
        }
        let loads_b = loads.load(Ordering::Relaxed);
        println!(
            "# open/load/close loop: {loads_b} loads, {cycles} rmmod+insmod cycles, {refused} of {tries} rmmod attempts refused (EAGAIN/EBUSY), {} opens found no device, loading threads alive right after a successful rmmod: {}",
            absent.load(Ordering::Relaxed),
            kthreads_seen.len()
        );
        for k in &kthreads_seen {
            println!("#   {k}");
        }
        if let Some(e) = errors.lock().unwrap().first() {
            return Err(e.clone());
        }
        if cycles == 0 {
            return Err(format!(
                "rmmod never found the device closed in {RMMOD_CYCLE_SECS} s"
            ));
        }
        if loads_b == 0 {
            return Err("no load completed between the reloads".into());
        }

        // Every loader stopped and closed the device: the first rmmod must succeed,
        // and the module must come back working with its policy.
        delete_module().map_err(|e| {
            format!(
                "rmmod after every loader closed /dev/bpfld: {} (a reference leaked?)",
                errno_name(e)
            )
        })?;
        insmod(env)?;
        policy.restore()?;
        let d = dev()?;
        for (o, want) in RMMOD_OBJS.iter().zip(&refs) {
            let l = load(&d, &open(&corpus(o))?).map_err(|e| format!("after reload: {o}: {e}"))?;
            check_load(&l, want).map_err(|e| format!("after reload: {o}: {e}"))?;
        }
        drop(d);
        before.unchanged()
    })())
}

// ---------------------------------------------------------------------------------
// 3. Policy changes racing loads.

/// One load of `stress_policy`: which digest, when it started and ended on the
/// shared clock, and what it returned (0 or the errno).
struct PolicyLoad {
    variant: usize,
    start: u64,
    end: u64,
    errno: i32,
}

/// When the policy thread enrolled and revoked a variant: (before, after) each.
#[derive(Clone, Copy, Default)]
struct PolicyTimes {
    enroll: (u64, u64),
    revoke: (u64, u64),
}

fn rank(errno: i32) -> u8 {
    match errno {
        EKEYREJECTED => 0,
        0 => 1,
        _ => 2, // EKEYREVOKED
    }
}

/// Is a load's result possible given when it ran? The policy of a digest only moves
/// unknown -> enrolled -> revoked, each change applies to loads that start after it
/// (the module checks the policy once, under its lock), so a load that overlaps a
/// change may see either side of it, and nothing else.
fn consistent(l: &PolicyLoad, t: &PolicyTimes) -> Result<(), String> {
    let (ea, eb) = t.enroll;
    let (ra, rb) = t.revoke;
    let ok = match l.errno {
        EKEYREJECTED => l.start < eb,
        0 => l.end > ea && l.start < rb,
        EKEYREVOKED => l.end > ra,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "variant {}: load during [{}, {}] returned {}, but enroll ran during [{ea}, {eb}] and revoke during [{ra}, {rb}]",
            l.variant,
            l.start,
            l.end,
            if l.errno == 0 { "success".into() } else { errno_name(l.errno) }
        ))
    }
}

pub fn policy_race(_: &Env) -> Outcome {
    let _w = Watchdog::start("stress_policy", 120);
    outcome((|| {
        let n = scaled(POLICY_VARIANTS);
        // Fresh digests on every run: revocation is forever.
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as i32)
            .unwrap_or(1);
        let mut variants = Vec::new();
        for v in 0..n {
            let bytes = socket_object("stress_policy", salt.wrapping_add(v as i32), 0);
            variants.push(put_object(&format!("policy-{v}.o"), &bytes)?);
        }
        let (entries, _) = dev()?.trust_list().map_err(|e| e.to_string())?;
        if entries
            .iter()
            .any(|e| variants.iter().any(|(_, d)| *d == e.digest))
        {
            return Err("a fresh digest is already in the policy".into());
        }
        let before = Snapshot::take();
        let clock = Arc::new(AtomicU64::new(1));
        let current = Arc::new(AtomicUsize::new(0));
        let paths: Arc<Vec<String>> = Arc::new(variants.iter().map(|(p, _)| p.clone()).collect());
        let loaders: Vec<_> = (0..POLICY_LOADERS)
            .map(|_| {
                let (clock, current, paths) = (clock.clone(), current.clone(), paths.clone());
                thread::spawn(move || -> Result<Vec<PolicyLoad>, String> {
                    let d = dev()?;
                    let files: Vec<File> =
                        paths.iter().map(|p| open(p)).collect::<Result<_, _>>()?;
                    let mut out = Vec::new();
                    loop {
                        let v = current.load(Ordering::Acquire);
                        if v >= files.len() {
                            return Ok(out);
                        }
                        let start = clock.fetch_add(1, Ordering::SeqCst);
                        let r = load(&d, &files[v]);
                        let end = clock.fetch_add(1, Ordering::SeqCst);
                        let errno = match r {
                            Ok(l) => {
                                if l.progs.len() != 1 || !l.maps.is_empty() {
                                    return Err(format!(
                                        "variant {v}: loaded {:?}",
                                        Expect::of(&l)
                                    ));
                                }
                                let info: ProgInfo = obj_info(l.progs[0].fd.as_raw_fd())
                                    .map_err(|e| e.to_string())?;
                                if info.id != l.progs[0].id {
                                    return Err(format!("variant {v}: id mismatch"));
                                }
                                0
                            }
                            Err(e) => e.errno,
                        };
                        out.push(PolicyLoad {
                            variant: v,
                            start,
                            end,
                            errno,
                        });
                    }
                })
            })
            .collect();
        // A lister: what TRUST_LIST shows of each digest may only move forward.
        let lister = {
            let (current, digests) = (
                current.clone(),
                variants.iter().map(|(_, d)| *d).collect::<Vec<_>>(),
            );
            thread::spawn(move || -> Result<usize, String> {
                let d = dev()?;
                let mut seen = vec![0u8; digests.len()];
                let mut lists = 0;
                while current.load(Ordering::Acquire) < digests.len() {
                    let (entries, _) = d.trust_list().map_err(|e| e.to_string())?;
                    lists += 1;
                    for (k, dg) in digests.iter().enumerate() {
                        let has = |s| entries.iter().any(|e| e.digest == *dg && e.state == s);
                        let now = if has(uapi::BPFLD_TRUST_REVOKED) {
                            2
                        } else if has(uapi::BPFLD_TRUST_RUNTIME) {
                            1
                        } else {
                            0
                        };
                        if now < seen[k] {
                            return Err(format!(
                                "TRUST_LIST: variant {k} went back from state {} to {now}",
                                seen[k]
                            ));
                        }
                        seen[k] = now;
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Ok(lists)
            })
        };
        let d = dev()?;
        let mut times = vec![PolicyTimes::default(); n];
        let tick = || clock.fetch_add(1, Ordering::SeqCst);
        let pause = |ms| thread::sleep(Duration::from_millis(ms));
        let mut policy_err = None;
        for (v, (_, dg)) in variants.iter().enumerate() {
            current.store(v, Ordering::Release);
            pause(40);
            let a = tick();
            let r1 = d.trust_add(dg);
            let b = tick();
            pause(60);
            // Enrolling again changes nothing.
            let r2 = d.trust_add(dg);
            let c = tick();
            let r3 = d.trust_revoke(dg);
            let e = tick();
            pause(30);
            // Neither enrolling nor revoking again undoes the revocation.
            let r4 = d.trust_add(dg);
            let r5 = d.trust_revoke(dg);
            pause(30);
            times[v] = PolicyTimes {
                enroll: (a, b),
                revoke: (c, e),
            };
            if let Some(err) = [r1, r2, r3, r4, r5].into_iter().find_map(Result::err) {
                policy_err = Some(format!("variant {v}: policy change failed: {err}"));
                break;
            }
        }
        current.store(usize::MAX, Ordering::Release);
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for h in loaders {
            match h.join() {
                Ok(Ok(r)) => records.push(r),
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push("loader panicked".into()),
            }
        }
        let lists = match lister.join() {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                errors.push(e);
                0
            }
            Err(_) => {
                errors.push("lister panicked".into());
                0
            }
        };
        errors.extend(policy_err);
        let mut counts = [0usize; 3];
        let mut overlapping = 0;
        for thread_loads in &records {
            let mut last: HashMap<usize, u8> = HashMap::new();
            for l in thread_loads {
                let t = &times[l.variant];
                if let Err(e) = consistent(l, t) {
                    errors.push(e);
                    continue;
                }
                let r = rank(l.errno);
                counts[r as usize] += 1;
                if (l.start < t.enroll.1 && l.end > t.enroll.0)
                    || (l.start < t.revoke.1 && l.end > t.revoke.0)
                {
                    overlapping += 1;
                }
                // Per thread, one digest's results only move forward too.
                if let Some(&p) = last.get(&l.variant) {
                    if r < p {
                        errors.push(format!(
                            "variant {}: a load returned {} after an earlier one of the same thread returned a later state",
                            l.variant,
                            errno_name(l.errno)
                        ));
                    }
                }
                last.insert(l.variant, r);
            }
        }
        // Revocation sticks: every digest is refused now, and listed as revoked.
        for (v, (p, dg)) in variants.iter().enumerate() {
            match load(&d, &open(p)?) {
                Err(e) if e.errno == EKEYREVOKED => {}
                Ok(_) => errors.push(format!("variant {v}: loads after its revocation")),
                Err(e) => errors.push(format!("variant {v}: after revocation: {e}")),
            }
            let (entries, _) = d.trust_list().map_err(|e| e.to_string())?;
            if !entries
                .iter()
                .any(|e| e.digest == *dg && e.state == uapi::BPFLD_TRUST_REVOKED)
            {
                errors.push(format!("variant {v}: not listed as revoked"));
            }
        }
        println!(
            "# {n} digests x (unknown, enrolled, revoked) under {POLICY_LOADERS} loading threads: {} EKEYREJECTED, {} loaded, {} EKEYREVOKED ({overlapping} overlapping a change), {lists} TRUST_LIST snapshots",
            counts[0], counts[1], counts[2]
        );
        if !errors.is_empty() {
            errors.truncate(10);
            return Err(errors.join("\n"));
        }
        if counts.contains(&0) {
            return Err(format!(
                "not every policy state was observed by a load: {counts:?}"
            ));
        }
        drop(d);
        before.unchanged()
    })())
}

// ---------------------------------------------------------------------------------
// 4. Signals.

static USR1_HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    USR1_HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// Install `on_usr1` for SIGUSR1 (with or without SA_RESTART); returns the old action.
fn set_usr1(restart: bool) -> Result<libc::sigaction, String> {
    // SAFETY: sigaction structs are plain data; all-zero is a valid start.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_usr1 as *const () as usize;
    sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: sigemptyset on our struct; sigaction reads `sa` and writes `old`.
    let r = unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, &mut old)
    };
    if r != 0 {
        return Err(format!("sigaction: {}", std::io::Error::last_os_error()));
    }
    Ok(old)
}

fn restore_usr1(old: &libc::sigaction) {
    // SAFETY: puts back the action `set_usr1` returned.
    unsafe { libc::sigaction(libc::SIGUSR1, old, std::ptr::null_mut()) };
}

fn gettid() -> i32 {
    // SAFETY: gettid(2) has no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// SIGUSR1 storms at loading threads: every load must still succeed (the caller waits
/// uninterruptibly, so no EINTR, and the verifier runs in the module's thread, whose
/// signal_pending() is false, so no EAGAIN either).
fn usr1_storm(restart: bool, objs: &[(String, Expect)]) -> Result<String, String> {
    let old = set_usr1(restart)?;
    USR1_HANDLED.store(0, Ordering::Relaxed);
    let tids: Arc<Vec<AtomicI32>> = Arc::new((0..2).map(|_| AtomicI32::new(0)).collect());
    let in_load: Arc<Vec<AtomicBool>> = Arc::new((0..2).map(|_| AtomicBool::new(false)).collect());
    let done = Arc::new(AtomicUsize::new(0));
    let loaders: Vec<_> = (0..2)
        .map(|t| {
            let (tids, in_load, done) = (tids.clone(), in_load.clone(), done.clone());
            let objs = objs.to_vec();
            thread::spawn(move || -> Result<usize, String> {
                tids[t].store(gettid(), Ordering::Release);
                let res = (|| {
                    let d = dev()?;
                    let mut n = 0;
                    for i in 0..scaled(SIGNAL_LOADS) {
                        let (p, want) = &objs[(t + i) % objs.len()];
                        let f = open(p)?;
                        in_load[t].store(true, Ordering::SeqCst);
                        let r = load(&d, &f);
                        in_load[t].store(false, Ordering::SeqCst);
                        let l = r.map_err(|e| format!("{p}: {e}"))?;
                        check_load(&l, want).map_err(|e| format!("{p}: {e}"))?;
                        n += 1;
                    }
                    Ok(n)
                })();
                done.fetch_add(1, Ordering::SeqCst);
                res
            })
        })
        .collect();
    let (mut sent, mut sent_in_load) = (0usize, 0usize);
    // SAFETY: getpid(2).
    let pid = unsafe { libc::getpid() };
    while done.load(Ordering::SeqCst) < 2 {
        for t in 0..2 {
            let tid = tids[t].load(Ordering::Acquire);
            if tid == 0 {
                continue;
            }
            let inside = in_load[t].load(Ordering::SeqCst);
            // SAFETY: tgkill(2) to one of our threads (ESRCH once it has exited).
            if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) } == 0 {
                sent += 1;
                if inside {
                    sent_in_load += 1;
                }
            }
        }
        thread::sleep(Duration::from_micros(300));
    }
    let mut loads = 0;
    let mut errors = Vec::new();
    for h in loaders {
        match h.join() {
            Ok(Ok(n)) => loads += n,
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("loader panicked".into()),
        }
    }
    // Both loading threads are gone: no SIGUSR1 is pending any more.
    restore_usr1(&old);
    let handled = USR1_HANDLED.load(Ordering::Relaxed);
    let what = if restart {
        "SA_RESTART"
    } else {
        "no SA_RESTART"
    };
    if !errors.is_empty() {
        return Err(format!("SIGUSR1 ({what}): {}", errors.join("\n")));
    }
    if handled == 0 || sent_in_load == 0 {
        return Err(format!(
            "SIGUSR1 ({what}): {sent} sent, {sent_in_load} during a load, {handled} handled: the storm missed the loads"
        ));
    }
    Ok(format!(
        "SIGUSR1 ({what}): {loads} loads all succeeded; {sent} signals sent ({sent_in_load} to a thread inside the ioctl), {handled} handled"
    ))
}

/// A child loading the slow object `n` times; exit 0 if every load succeeded.
fn slow_child(slow: &str, want: &Expect, n: usize) -> i32 {
    let Ok(d) = dev() else { return 10 };
    let Ok(f) = open(slow) else { return 11 };
    for _ in 0..n {
        match load(&d, &f) {
            Ok(l) => {
                if check_load(&l, want).is_err() {
                    return 12;
                }
            }
            Err(e) => return 20 + e.errno.min(200),
        }
    }
    0
}

pub fn signals(_: &Env) -> Outcome {
    let _w = Watchdog::start("stress_signals", 150);
    outcome((|| {
        let slow = slow_object()?;
        let d = dev()?;
        let t0 = Instant::now();
        let l = load(&d, &open(&slow)?).map_err(|e| format!("slow.o: {e}"))?;
        let slow_ms = t0.elapsed().as_millis();
        let slow_ref = Expect::of(&l);
        let core = corpus("core_task.bpf.o");
        let t0 = Instant::now();
        let l2 = load(&d, &open(&core)?).map_err(|e| format!("core_task: {e}"))?;
        let core_ms = t0.elapsed().as_millis();
        let core_ref = Expect::of(&l2);
        println!(
            "# one load: slow.o ({SLOW_ITERS} loop iterations to verify) {slow_ms} ms (verifier {} ms), core_task.bpf.o {core_ms} ms",
            l.stats.bpf_time_ns / 1_000_000
        );
        drop((l, l2, d));
        // Neither object's BTF is one the kernel refuses: a line saying so below is
        // a killed caller's interrupted BTF_LOAD taken for a refusal. (Opened before
        // the snapshot, which counts fds.)
        let mut klog = KernelLog::open_at_end()?;
        let before = Snapshot::take();
        let objs = vec![(slow.clone(), slow_ref.clone()), (core, core_ref)];

        for restart in [true, false] {
            println!("# {}", usr1_storm(restart, &objs)?);
        }

        // SIGSTOP/SIGCONT: the stop takes effect when the load returns; every load
        // completes.
        let n = scaled(STOP_LOADS);
        let (s, w) = (slow.clone(), slow_ref.clone());
        let pid = fork_child(move || slow_child(&s, &w, n))?;
        let (mut stops, mut mid_load, mut stop_ms) = (0usize, 0usize, Vec::new());
        let st = loop {
            let inside = wait_d_state(pid, Duration::from_secs(5));
            // SAFETY: kill(2) of our child.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            let t = Instant::now();
            let st = wait(pid, libc::WUNTRACED)?;
            if !libc::WIFSTOPPED(st) {
                break st;
            }
            stops += 1;
            mid_load += usize::from(inside);
            stop_ms.push(t.elapsed().as_millis());
            thread::sleep(Duration::from_millis(20));
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        };
        if !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
            return Err(format!(
                "stopped and continued child: {} (20+errno: a load failed)",
                status_text(st)
            ));
        }
        println!(
            "# SIGSTOP/SIGCONT: {n} loads all succeeded; {stops} stops ({mid_load} sent mid-load), stop took effect after {stop_ms:?} ms (when the load returned)"
        );
        if mid_load == 0 {
            return Err("no SIGSTOP reached the child inside a load".into());
        }

        // SIGKILL mid-load: two loading threads per child; the child dies once its
        // loads return, and leaves nothing behind.
        let (mut killed_mid, mut kill_ms) = (0usize, Vec::new());
        for r in 0..scaled(KILL_ROUNDS) {
            let objs = objs.clone();
            let pid = fork_child(move || {
                let threads: Vec<_> = (0..2)
                    .map(|t| {
                        let objs = objs.clone();
                        thread::spawn(move || {
                            let Ok(d) = dev() else { return 10 };
                            for i in 0.. {
                                let (p, want) = &objs[(t + i) % objs.len()];
                                let Ok(f) = open(p) else { return 11 };
                                match load(&d, &f) {
                                    Ok(l) if check_load(&l, want).is_ok() => {}
                                    Ok(_) => return 12,
                                    Err(e) => return 20 + e.errno.min(200),
                                }
                            }
                            0
                        })
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|h| h.join().unwrap_or(99))
                    .max()
                    .unwrap_or(0)
            })?;
            let inside = wait_d_state(pid, Duration::from_secs(10));
            // Vary the moment within the load.
            thread::sleep(Duration::from_millis(7 * r as u64 % 40));
            let inside = inside && in_d_state(pid);
            // SAFETY: kill(2) of our child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let t = Instant::now();
            let st = wait(pid, 0)?;
            kill_ms.push(t.elapsed().as_millis());
            if !libc::WIFSIGNALED(st) || libc::WTERMSIG(st) != libc::SIGKILL {
                return Err(format!("killed child {r}: {}", status_text(st)));
            }
            killed_mid += usize::from(inside);
        }
        println!(
            "# SIGKILL: {} children killed ({killed_mid} inside a load), reaped {kill_ms:?} ms after the kill",
            scaled(KILL_ROUNDS)
        );
        if killed_mid == 0 {
            return Err("no SIGKILL reached a child inside a load".into());
        }
        let refused: Vec<String> = klog
            .drain()
            .into_iter()
            .filter(|l| l.contains("refused the object's BTF"))
            .collect();
        if !refused.is_empty() {
            return Err(format!(
                "a signal taken for the kernel refusing the BTF:\n{}",
                refused.join("\n")
            ));
        }
        // Nothing left by the killed children, the stopped one or the storms.
        before.unchanged()
    })())
}

// ---------------------------------------------------------------------------------
// 5. The loading thread's exit.

/// Loads whose exit window `stress_kthread_exit_window` inspects.
const EXIT_WINDOW_LOADS: usize = 8;

/// `[start, end)` of function `name` of module `module`, from /proc/kallsyms (end: the
/// next symbol's address).
fn function_range(name: &str, module: &str) -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
    let tag = format!("[{module}]");
    let mut start = None;
    let mut addrs = Vec::new();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let (Some(a), Some(_), Some(n)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Ok(a) = u64::from_str_radix(a, 16) else {
            continue;
        };
        if n == name && it.next() == Some(tag.as_str()) {
            start = Some(a);
        }
        addrs.push(a);
    }
    let start = start.ok_or(format!("{name} {tag} not in /proc/kallsyms"))?;
    if start == 0 {
        return Err("/proc/kallsyms hides addresses".into());
    }
    let end = addrs
        .into_iter()
        .filter(|&a| a > start)
        .min()
        .ok_or("no symbol after it")?;
    Ok((start, end))
}

fn ksym(a: u64) -> String {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let mut best = (0u64, String::new());
    for l in text.lines() {
        let mut it = l.split_whitespace();
        if let (Some(x), Some(_), Some(n)) = (it.next(), it.next(), it.next()) {
            if let Ok(x) = u64::from_str_radix(x, 16) {
                if x <= a && x > best.0 {
                    best = (x, format!("{n}+{:#x} {}", a - x, it.next().unwrap_or("")));
                }
            }
        }
    }
    best.1
}

fn map_update_u64(fd: RawFd, key: u32, value: u64) -> Result<(), String> {
    #[repr(C)]
    struct ElemAttr {
        map_fd: u32,
        _pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    let mut a = ElemAttr {
        map_fd: fd as u32,
        _pad: 0,
        key: &key as *const u32 as u64,
        value: &value as *const u64 as u64,
        flags: 0,
    };
    // SAFETY: MAP_UPDATE_ELEM reads a u32 key and a u64 value from live locals.
    unsafe { bpfld::sys::sys_bpf(bpfld_core::uapi::BPF_MAP_UPDATE_ELEM, &mut a) }
        .map(|_| ())
        .map_err(|e| format!("map update: {e}"))
}

fn map_u64(fd: RawFd, key: u32) -> Result<u64, String> {
    let v = util::map_lookup(fd, key, 8).map_err(|e| format!("map lookup: {e}"))?;
    Ok(u64::from_le_bytes(v[..8].try_into().unwrap_or([0; 8])))
}

/// Attach `prog_fd` to the entry (or return) of kernel function `func` through a perf
/// kprobe event.
fn kprobe_attach(prog_fd: RawFd, func: &std::ffi::CStr, retprobe: bool) -> Result<OwnedFd, String> {
    const PMU: &str = "/sys/bus/event_source/devices/kprobe";
    let ty: u32 = std::fs::read_to_string(format!("{PMU}/type"))
        .map_err(|e| format!("kprobe PMU: {e}"))?
        .trim()
        .parse()
        .map_err(|_| "kprobe PMU type")?;
    let mut config = 0u64;
    if retprobe {
        // "config:N"
        let f = std::fs::read_to_string(format!("{PMU}/format/retprobe"))
            .map_err(|e| format!("kprobe retprobe format: {e}"))?;
        let bit: u32 = f
            .trim()
            .strip_prefix("config:")
            .and_then(|b| b.parse().ok())
            .ok_or("kprobe retprobe format")?;
        config = 1 << bit;
    }
    let mut attr = crate::loads::PerfAttr {
        kind: ty,
        config,
        config1: func.as_ptr() as u64,
        ..Default::default()
    };
    crate::loads::perf_attach(&mut attr, prog_fd).map_err(|e| format!("kprobe {func:?}: {e}"))
}

fn module_refcnt() -> Result<i64, String> {
    std::fs::read_to_string("/sys/module/bpfld/refcnt")
        .map_err(|e| format!("/sys/module/bpfld/refcnt: {e}"))?
        .trim()
        .parse()
        .map_err(|_| "refcnt".into())
}

/// Compile `selftests/stress/NAME.bpf.c` in the VM (clang, as selftests/progs/build.sh
/// does), put it on fs-verity and enroll it.
pub(crate) fn guest_object(env: &Env, name: &str) -> Result<String, String> {
    guest_object_digest(env, name).map(|(path, _)| path)
}

/// [`guest_object`], with the object's digest.
fn guest_object_digest(env: &Env, name: &str) -> Result<(String, uapi::BpfldDigest), String> {
    guest_object_built(env, name, true)
}

/// [`guest_object`] built without BTF (no `-g`): no .BTF, no .BTF.ext.
pub(crate) fn guest_object_no_btf(env: &Env, name: &str) -> Result<String, String> {
    guest_object_built(env, name, false).map(|(path, _)| path)
}

fn guest_object_built(
    env: &Env,
    name: &str,
    btf: bool,
) -> Result<(String, uapi::BpfldDigest), String> {
    let src = format!("{}/selftests/stress/{name}.bpf.c", env.root);
    let out = format!("/run/bpfld-stress-{name}.bpf.o");
    // The guest's own architecture: its UAPI headers, and pt_regs for bpf_tracing.h.
    let [inc, target] = bpfld::bpf_arch_flags();
    let mut args = vec!["-target", "bpf", inc, target, "-O2", "-Wall", "-Werror"];
    if btf {
        args.push("-g");
    }
    args.extend(["-c", &src, "-o", &out]);
    run("clang", &args)?;
    let bytes = std::fs::read(&out).map_err(|e| format!("{out}: {e}"))?;
    let (path, d) = put_object(&format!("{name}.bpf.o"), &bytes)?;
    dev()?
        .trust_add(&d)
        .map_err(|e| format!("enroll {path}: {e}"))?;
    Ok((path, d))
}

/// Run the calling thread on `cpu` only; false if the kernel refuses (it is off line).
fn pin_to(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes inside it, and
    // sched_setaffinity(0) reads it for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// `stress_cpu_hotplug`: CPU 1 goes off line and back this often while loads run.
const HOTPLUG_CYCLES: usize = 6;
const CPU1_ONLINE: &str = "/sys/devices/system/cpu/cpu1/online";

/// Put CPU 1 off or on line, retrying while the kernel is busy (EBUSY).
fn cpu1_online(on: bool) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        match std::fs::write(CPU1_ONLINE, if on { "1" } else { "0" }) {
            Ok(()) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{CPU1_ONLINE} <- {}: {last}", u8::from(on)))
}

/// CPU hotplug under loads. A load's receipt is hashed on another CPU's workqueue while
/// the loading thread issues the commands (helpers.c, bpfld_beside_start; for
/// objects with 16 KiB or more of BTF and instructions), and pooled loading threads
/// sleep on whatever CPU they last ran on. Loads of such an object from callers on CPU
/// 0 and CPU 1 in turn while CPU 1 goes off line and comes back: every load must
/// succeed with the reference result (the receipt included) and use only its own
/// maps, nothing may leak, at most one idle thread per CPU may remain, a load from
/// each CPU must work afterwards, and nothing may splat (the run's dmesg check).
pub fn cpu_hotplug(_: &Env) -> Outcome {
    let _w = Watchdog::start("stress_cpu_hotplug", 150);
    outcome((|| {
        if !std::path::Path::new(CPU1_ONLINE).exists() {
            return Err(format!(
                "{CPU1_ONLINE} missing: the VM runs 2 CPUs with hotplug"
            ));
        }
        // 30 KiB of BTF, 2.8 KiB of instructions: the receipt is hashed beside.
        let obj = corpus("core_task.bpf.o");
        let first = load(&dev()?, &open(&obj)?).map_err(|e| format!("core_task: {e}"))?;
        let want = Expect::of(&first);
        drop(first);
        let before = Snapshot::take();
        let stop = Arc::new(AtomicBool::new(false));
        // Loads done, and of those, from CPU 1.
        let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let loader = {
            let (obj, want) = (obj.clone(), want.clone());
            let (stop, counts) = (stop.clone(), counts.clone());
            thread::spawn(move || -> Result<(), String> {
                let d = dev()?;
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    // Refused while CPU 1 is off line: the load then runs on CPU 0.
                    let cpu1 = n % 2 == 1 && pin_to(1);
                    if !cpu1 {
                        pin_to(0);
                    }
                    let l = load(&d, &open(&obj)?).map_err(|e| format!("load {n}: {e}"))?;
                    check_load(&l, &want).map_err(|e| format!("load {n}: {e}"))?;
                    n += 1;
                    counts[0].fetch_add(1, Ordering::Relaxed);
                    counts[1].fetch_add(usize::from(cpu1), Ordering::Relaxed);
                }
                Ok(())
            })
        };
        // Each cycle waits for a load while CPU 1 is off line and for one from CPU 1
        // once it is back; the switches themselves fall wherever the loads are.
        let wait_for = |i: usize, from: usize| {
            let t0 = Instant::now();
            while counts[i].load(Ordering::Relaxed) <= from {
                if t0.elapsed() > Duration::from_secs(60) || loader.is_finished() {
                    return false;
                }
                thread::sleep(Duration::from_millis(5));
            }
            true
        };
        let cycles = scaled(HOTPLUG_CYCLES);
        let mut toggled = Ok(());
        for c in 0..cycles {
            let (loads, from_cpu1) = (
                counts[0].load(Ordering::Relaxed),
                counts[1].load(Ordering::Relaxed),
            );
            toggled = cpu1_online(false);
            if toggled.is_ok() && !wait_for(0, loads) {
                toggled = Err(format!("cycle {c}: no load finished with CPU 1 off line"));
            }
            toggled = toggled.and(cpu1_online(true));
            if toggled.is_ok() && !wait_for(1, from_cpu1) {
                toggled = Err(format!("cycle {c}: no load from CPU 1 once it was back"));
            }
            if toggled.is_err() {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let joined = loader
            .join()
            .map_err(|_| "the loading thread panicked".to_string());
        cpu1_online(true)?;
        joined??;
        toggled?;
        let (loads, on_cpu1) = (
            counts[0].load(Ordering::Relaxed),
            counts[1].load(Ordering::Relaxed),
        );
        // In a thread of its own: the pinning must not outlive the test.
        thread::scope(|sc| {
            sc.spawn(|| -> Result<(), String> {
                let d = dev()?;
                for cpu in [0, 1] {
                    if !pin_to(cpu) {
                        return Err(format!("cannot run on CPU {cpu} after the cycles"));
                    }
                    let l = load(&d, &open(&obj)?).map_err(|e| format!("after, CPU {cpu}: {e}"))?;
                    check_load(&l, &want).map_err(|e| format!("after, CPU {cpu}: {e}"))?;
                }
                Ok(())
            })
            .join()
            .map_err(|_| "the loading thread panicked".to_string())?
        })?;
        before.unchanged()?;
        let threads = loading_kthread_procs();
        if threads.len() > 2 {
            return Err(format!(
                "{} loading threads left: {:?}",
                threads.len(),
                loading_kthreads()
            ));
        }
        println!(
            "# {loads} loads ({on_cpu1} from CPU 1) while CPU 1 went off line and back {cycles} times; {} loading threads left",
            threads.len()
        );
        Ok(())
    })())
}

/// A loading thread must not run module code the module's exit does not wait for.
/// A thread of the pool (helpers.c) calls complete() to wake its caller and then returns
/// into bpfld_worker_fn() to wait for the next load; the caller returns from the ioctl
/// as soon as it is woken and closes /dev/bpfld, dropping the last reference on the
/// module, and rmmod may then run the module's exit while the thread is still on its
/// way back. That exit must stop the pool's threads and wait for them to leave before
/// the module's text is freed.
///
/// Probes on complete() (selftests/stress/exit_window.bpf.c) hold the loading thread
/// for a moment after complete() returns, when called from bpfld_worker_fn(). Whenever
/// a load has returned and /dev/bpfld is closed (module refcount 0) while a thread is
/// held there, the test unloads the module right then: rmmod must succeed, must not
/// return before the held thread is released, must leave no loading thread alive (an
/// idle thread left behind would sleep in freed module code), and nothing may splat
/// (the run's dmesg check); then it inserts the module again. (That rmmod waits for the
/// held thread does not alone show the exit waited: the thread is inside a BPF program,
/// in an RCU read-side section, and unloading waits for RCU anyway.)
pub fn kthread_exit_window(env: &Env) -> Outcome {
    if let Some(why) = crate::util::kernel_limits().callbacks {
        return Outcome::Skip(format!("the probe holds threads with bpf_loop: {why}"));
    }
    let _w = Watchdog::start("stress_kthread_exit_window", 180);
    outcome((|| {
        let probe = guest_object(env, "exit_window")?;
        let policy = PolicyCopy::take()?;
        let xdp = corpus("xdp.bpf.o");
        let before = Snapshot::take();
        let d = dev()?;
        let pl = load(&d, &open(&probe)?).map_err(|e| format!("{probe}: {e}"))?;
        drop(d);
        let state = pl
            .maps
            .iter()
            .find(|m| m.name == "state")
            .ok_or("no map 'state'")?
            .fd
            .as_raw_fd();
        // Where bpfld_worker_fn is in the module inserted now.
        let set_range = || -> Result<(u64, u64), String> {
            let (lo, hi) = function_range("bpfld_worker_fn", "bpfld")?;
            map_update_u64(state, 0, lo)?;
            map_update_u64(state, 1, hi)?;
            Ok((lo, hi))
        };
        let (lo, hi) = set_range()?;
        let prog = |n: &str| -> Result<RawFd, String> {
            Ok(pl
                .progs
                .iter()
                .find(|p| p.name == n)
                .ok_or(format!("no program {n}"))?
                .fd
                .as_raw_fd())
        };
        let _entry = kprobe_attach(prog("on_complete")?, c"complete", false)?;
        let _exit = kprobe_attach(prog("after_complete")?, c"complete", true)?;
        let mut unloads = Vec::new();
        let mut rcs = Vec::new();
        for _ in 0..scaled(EXIT_WINDOW_LOADS) {
            {
                let d = dev()?;
                let l = load(&d, &open(&xdp)?).map_err(|e| format!("xdp.bpf.o: {e}"))?;
                drop(l);
            }
            // /dev/bpfld is closed: nothing holds the module now.
            let rc = module_refcnt()?;
            let held = map_u64(state, 2)?;
            rcs.push(rc);
            if rc == 0 && held > 0 {
                let t0 = Instant::now();
                delete_module().map_err(|e| {
                    format!("rmmod while a loading thread is held after complete(): errno {e}")
                })?;
                let still_held = map_u64(state, 2)?;
                // Zombies (and threads gone meanwhile) have left the module's code.
                let left = loading_kthread_procs()
                    .iter()
                    .filter(|(_, state)| state.is_some_and(|s| !matches!(s, 'Z' | 'X')))
                    .count();
                unloads.push(t0.elapsed());
                if still_held > 0 || left > 0 {
                    return Err(format!(
                        "rmmod returned in {:?} with {still_held} loading thread(s) still held after complete(), on their way back into the module's code, and {left} loading thread(s) alive: the module's exit must stop the pool's threads and wait for them",
                        t0.elapsed()
                    ));
                }
                insmod(env)?;
                policy.restore()?;
                set_range()?;
            }
            let t0 = Instant::now();
            while map_u64(state, 2)? > 0 {
                if t0.elapsed() > Duration::from_secs(20) {
                    return Err("a loading thread is held for more than 20 s".into());
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
        let (held_total, calls, last) =
            (map_u64(state, 3)?, map_u64(state, 4)?, map_u64(state, 5)?);
        drop((_entry, _exit, pl));
        println!(
            "# bpfld_worker_fn at first {lo:#x}..{hi:#x}; complete() called by loading threads {calls} times (last return address {last:#x} {}); {held_total} held after complete() returned into bpfld_worker_fn; module refcount after each load and close: {rcs:?}; rmmod in that window {} times, each returning after the held thread was released ({unloads:?})",
            ksym(last),
            unloads.len()
        );
        if calls == 0 || held_total == 0 {
            return Err(
                "the probe never held a loading thread after complete(): it cannot judge".into(),
            );
        }
        if unloads.is_empty() {
            return Err(format!(
                "no load returned while its thread was held (refcounts {rcs:?}): the window was never tested"
            ));
        }
        before.unchanged()?;
        Ok(())
    })())
}

// ---------------------------------------------------------------------------------
// 6. Out of memory in the middle of a load.

/// A field of /proc/meminfo (`"MemAvailable:"`), in KiB; 0 if missing.
fn meminfo_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mem_available_kib() -> u64 {
    meminfo_kib("MemAvailable:")
}

/// Set `/proc/self/oom_score_adj`, returning the old value.
fn oom_score_adj(v: &str) -> Result<String, String> {
    let p = "/proc/self/oom_score_adj";
    let old = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
    std::fs::write(p, v).map_err(|e| format!("{p}: {e}"))?;
    Ok(old.trim().to_string())
}

/// A load whose map creation runs the system out of memory (selftests/stress/oom_map.bpf.c:
/// 8 GiB of per-CPU memory asked for in a 2 GiB VM). The kernel allocates it in bpfld's
/// loading thread, which the OOM killer never picks; it kills the caller (this test
/// makes the child the first choice). Before bpfld passed the caller's SIGKILL on to the
/// thread, the thread went on allocating, the OOM killer went on through every other
/// task, and the kernel panicked: "System is deadlocked on memory" (fuzz seed 7 input
/// 11,785, Documentation/fuzzing.rst). Now the caller dies as it would with libbpf, the
/// thread's allocation fails, and nothing is left behind: no map, no memory, no splat.
pub fn oom_kill_mid_load(env: &Env) -> Outcome {
    let _w = Watchdog::start("stress_oom_kill_mid_load", 600);
    outcome((|| {
        let obj = guest_object(env, "oom_map")?;
        let mut klog = KernelLog::open_at_end()?;
        let before = Snapshot::take();
        let avail0 = mem_available_kib();
        let old = oom_score_adj("-1000")?;
        let t0 = Instant::now();
        let o = obj.clone();
        let child = fork_child(move || {
            if std::fs::write("/proc/self/oom_score_adj", "1000").is_err() {
                return 9;
            }
            let Ok(d) = dev() else { return 10 };
            let Ok(f) = open(&o) else { return 11 };
            match load(&d, &f) {
                Ok(_) => 0,
                Err(e) => 20 + e.errno.min(200),
            }
        });
        let st = child.and_then(|pid| wait(pid, 0).map(|st| (pid, st)));
        let restored = oom_score_adj(&old);
        let (pid, st) = st?;
        restored?;
        let took = t0.elapsed();
        let log = klog.drain();
        let oom_killed = log
            .iter()
            .any(|l| l.contains(&format!("Killed process {pid} ")));
        let splats: Vec<&String> = log
            .iter()
            .filter(|l| {
                [
                    "BUG:",
                    "WARNING:",
                    "KASAN",
                    "Oops",
                    "blocked for more than",
                    "refcount_t:",
                ]
                .iter()
                .any(|p| l.contains(p))
            })
            .collect();
        if !splats.is_empty() {
            return Err(format!("kernel log: {splats:?}"));
        }
        let how = if libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL && oom_killed {
            "OOM-killed".to_string()
        } else if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 20 + libc::ENOMEM {
            // The allocation failed before the OOM killer chose the child: also the
            // caller paying, not the kernel.
            "refused with ENOMEM".to_string()
        } else {
            return Err(format!(
                "child {pid}: {} (OOM kill logged: {oom_killed}); want an OOM kill or ENOMEM",
                status_text(st)
            ));
        };
        // Everything comes back: maps and programs at once, memory once freed.
        before.unchanged()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut avail = mem_available_kib();
        while avail < avail0 * 9 / 10 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(200));
            avail = mem_available_kib();
        }
        if avail < avail0 * 9 / 10 {
            return Err(format!(
                "MemAvailable {avail} KiB after, {avail0} KiB before: memory not given back"
            ));
        }
        // And the module still loads.
        let d = dev()?;
        load(&d, &open(&corpus("xdp.bpf.o"))?).map_err(|e| format!("xdp.bpf.o after: {e}"))?;
        println!(
            "# 8 GiB per-CPU map in a {} MiB VM: child {how} after {} ms; MemAvailable {} MiB before, {} MiB after",
            total_ram_mib(),
            took.as_millis(),
            avail0 / 1024,
            avail / 1024
        );
        Ok(())
    })())
}

fn total_ram_mib() -> u64 {
    meminfo_kib("MemTotal:") / 1024
}

/// The map of selftests/stress/memcg_map.bpf.c: 16384 entries of 4 KiB, 64 MiB.
const MEMCG_MAP_ENTRIES: u32 = 16384;
const MEMCG_MAP_VALUE: u32 = 4096;
const MEMCG_MAP_BYTES: u64 = MEMCG_MAP_ENTRIES as u64 * MEMCG_MAP_VALUE as u64;

/// `memory.current` of cgroup directory `cg`, in bytes.
fn memcg_current(cg: &str) -> Result<u64, String> {
    let p = format!("{cg}/memory.current");
    std::fs::read_to_string(&p)
        .map_err(|e| format!("{p}: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("{p}: {e}"))
}

/// Field `key` of a cgroup's flat keyed file (`KEY VALUE` lines: memory.events,
/// cgroup.stat); 0 if absent.
fn cgroup_field(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// One field of `memory.events` of cgroup directory `cg`.
fn memcg_event(cg: &str, field: &str) -> u64 {
    cgroup_field(&format!("{cg}/memory.events"), field)
}

/// What a child of [`memcg_charges_caller`] does in cgroup `cg`: with `raw`, create
/// memcg_map's map itself; then load `obj` `loads` times one after the other, each
/// held while the cgroup's usage is read and then closed. One `key value` line each:
/// `raw ERRNO`, `loadI ERRNO MESSAGE`, `heldI BYTES` (the growth while load I was
/// held), `afterI BYTES` (what was left once it was closed).
fn memcg_child(cg: &str, obj: &str, loads: usize, raw: bool) -> String {
    let mut out = String::new();
    let pid = std::process::id().to_string();
    if let Err(e) = std::fs::write(format!("{cg}/cgroup.procs"), pid) {
        return format!("error {cg}/cgroup.procs: {e}\n");
    }
    if raw {
        // The kernel's own answer to this caller: the same map created directly.
        let r = bpfld::sys::create_map(
            bpfld_core::uapi::BPF_MAP_TYPE_ARRAY,
            4,
            MEMCG_MAP_VALUE,
            MEMCG_MAP_ENTRIES,
            "memcg_raw",
        );
        let errno = r.err().map_or(0, |e| e.raw_os_error().unwrap_or(-1));
        out += &format!("raw {errno}\n");
    }
    let (Ok(d), Ok(f)) = (dev(), open(obj)) else {
        return out + "error open the device or the object\n";
    };
    for i in 0..loads {
        let before = memcg_current(cg).unwrap_or(0);
        let l = match load(&d, &f) {
            Ok(l) => l,
            Err(e) => {
                out += &format!("load{i} {} {}\n", e.errno, e.msg.replace('\n', " "));
                continue;
            }
        };
        let held = memcg_current(cg).unwrap_or(0).saturating_sub(before);
        drop(l);
        // Closed maps and programs are freed from workqueues after RCU, and a big
        // map's pages one by one (for seconds on the KASAN kernel): wait until all
        // but 1 MiB is back.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut now = memcg_current(cg).unwrap_or(0);
        while now > before + (1 << 20) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
            now = memcg_current(cg).unwrap_or(0);
        }
        let after = now.saturating_sub(before);
        out += &format!("load{i} 0\nheld{i} {held}\nafter{i} {after}\n");
    }
    out
}

/// Run [`memcg_child`] in a forked child; its report as a map.
fn memcg_fork(
    cg: &str,
    obj: &str,
    loads: usize,
    raw: bool,
) -> Result<HashMap<String, String>, String> {
    let (rr, rw) = pipe()?;
    let fds = [rr.as_raw_fd(), rw.as_raw_fd()];
    let (cg2, o) = (cg.to_string(), obj.to_string());
    let pid = fork_child(move || {
        // SAFETY: the child's copies of the pipe's ends: it closes the read end and
        // owns the write end.
        let w = unsafe {
            libc::close(fds[0]);
            OwnedFd::from_raw_fd(fds[1])
        };
        write_all(w.as_raw_fd(), memcg_child(&cg2, &o, loads, raw).as_bytes());
        0
    })?;
    drop(rw);
    let report = read_to_eof(rr.as_raw_fd(), Instant::now() + Duration::from_secs(120));
    let st = wait(pid, 0)?;
    let report = report.map_err(|e| format!("child in {cg}: {e}"))?;
    if !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 0 {
        return Err(format!("child in {cg}: {}", status_text(st)));
    }
    let kv: HashMap<String, String> = String::from_utf8_lossy(&report)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(e) = kv.get("error") {
        return Err(format!("child in {cg}: {e}"));
    }
    Ok(kv)
}

/// Load `i` of a [`memcg_fork`] report: (held, after) in bytes, or why it failed.
fn memcg_held(r: &HashMap<String, String>, cg: &str, i: usize) -> Result<(u64, u64), String> {
    match r.get(&format!("load{i}")).map(String::as_str) {
        Some("0") => {}
        other => return Err(format!("load {i} in {cg}: {other:?}")),
    }
    let num = |k: String| -> Result<u64, String> {
        r.get(&k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("child in {cg}: no {k} in {r:?}"))
    };
    Ok((num(format!("held{i}"))?, num(format!("after{i}"))?))
}

/// A load of `obj` from the root cgroup, held while `cgs` are read: it must charge none
/// of them (a pooled loading thread that served a caller in one of them must not keep
/// its cgroup).
fn memcg_from_root(obj: &str, cgs: &[&str], when: &str) -> Result<(), String> {
    let d = dev()?;
    let usage = || -> Result<Vec<u64>, String> { cgs.iter().map(|c| memcg_current(c)).collect() };
    let u0 = usage()?;
    let l = load(&d, &open(obj)?).map_err(|e| format!("load from the root cgroup {when}: {e}"))?;
    let u1 = usage()?;
    drop(l);
    for ((cg, a), b) in cgs.iter().zip(u0).zip(u1) {
        if b > a + MEMCG_MAP_BYTES / 2 {
            return Err(format!(
                "a load from the root cgroup {when} was charged to {cg}: {a} -> {b} bytes"
            ));
        }
    }
    Ok(())
}

/// Who pays for a load's memory. bpfld creates maps and loads programs from its own
/// thread, which takes on the caller's memory cgroup (helpers.c), so the kernel
/// charges a load to its caller as it charges libbpf's: a caller confined by
/// `memory.max` cannot use the module to allocate past its limit, and its cgroup, not
/// the root, holds what it loaded. With selftests/stress/memcg_map.bpf.c (a 64 MiB
/// array, allocated whole when the map is created), from children in two cgroups:
/// - `memory.max` 32 MiB: creating the map with BPF_MAP_CREATE fails with ENOMEM (the
///   kernel's answer), and so must the load, naming the map and leaving nothing;
/// - no limit: the cgroup's `memory.current` grows by the map while the load is held
///   and shrinks by it when the fds are closed.
///
/// The loading threads are pooled: the same load from the root cgroup before the first
/// child and after each must succeed and charge neither child's cgroup. Last, the
/// cache the module keeps past every load is its own: after a reload, the first CO-RE
/// load (which builds the vmlinux index, several MiB) grows the caller's cgroup no
/// more than the next load of the same object does. And each load's reference to its
/// caller's cgroup is given back: once removed, the two cgroups must go.
pub fn memcg_charges_caller(env: &Env) -> Outcome {
    let root = match util::cgroup2() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let controllers =
        std::fs::read_to_string(format!("{root}/cgroup.controllers")).unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return Outcome::Skip("no memory cgroup controller (CONFIG_MEMCG)".into());
    }
    let _w = Watchdog::start("memcg_charges_caller", 400);
    let limited = format!("{root}/bpfld-memcg-limited");
    let free = format!("{root}/bpfld-memcg-free");
    let dying0 = cgroup_dying(root);
    let mut r = (|| {
        let obj = guest_object(env, "memcg_map")?;
        std::fs::write(format!("{root}/cgroup.subtree_control"), "+memory")
            .map_err(|e| format!("{root}/cgroup.subtree_control: {e}"))?;
        for cg in [&limited, &free] {
            std::fs::create_dir_all(cg).map_err(|e| format!("{cg}: {e}"))?;
        }
        std::fs::write(format!("{limited}/memory.max"), "32M")
            .map_err(|e| format!("{limited}/memory.max: {e}"))?;
        let cgs = [limited.as_str(), free.as_str()];
        // A child that faults in a page of a file this process maps, not yet in the
        // page cache, charges it to its cgroup, and the page, mapped here, would
        // keep the cgroup from going once removed (below). So fault every page in
        // here first, through a mapping as the child would (on the VM's 9p root a
        // read(2) bypasses the page cache).
        for f in mapped_files() {
            touch_mapped(&f);
        }
        let before = Snapshot::take();
        memcg_from_root(&obj, &cgs, "first")?;

        // The limited caller: refused as the kernel refuses it.
        let max0 = memcg_event(&limited, "max");
        let r = memcg_fork(&limited, &obj, 1, true)?;
        let raw = r.get("raw").map_or("?", String::as_str);
        if raw != libc::ENOMEM.to_string() {
            return Err(format!(
                "BPF_MAP_CREATE of 64 MiB under memory.max 32M: errno {raw}, want ENOMEM (the limit does not hold)"
            ));
        }
        let refused = r.get("load0").map_or("?", String::as_str);
        if !refused.starts_with(&format!("{} ", libc::ENOMEM)) || !refused.contains("'big'") {
            return Err(format!(
                "load under memory.max 32M: {refused}; want ENOMEM naming map 'big'"
            ));
        }
        let max_events = memcg_event(&limited, "max").saturating_sub(max0);
        before
            .unchanged()
            .map_err(|e| format!("after the refused load: {e}"))?;
        memcg_from_root(&obj, &cgs, "after the limited child")?;

        // The unlimited caller: its cgroup holds the map, and gives it back.
        let r = memcg_fork(&free, &obj, 1, false)?;
        let (held, after) = memcg_held(&r, &free, 0)?;
        // memory.current moves in batches: the kernel's per-CPU charge stocks (64
        // pages each) may already hold part of the map's charge, and the child
        // allocates some KiB meanwhile.
        const SLACK: u64 = 1 << 20;
        if held + SLACK < MEMCG_MAP_BYTES || after + MEMCG_MAP_BYTES > held + SLACK {
            return Err(format!(
                "{free}: memory.current +{held} bytes while the load was held, +{after} after it was closed; want +64 MiB, then 64 MiB less (each within 1 MiB)"
            ));
        }
        memcg_from_root(&obj, &cgs, "after the unlimited child")?;
        before.unchanged()?;

        // The vmlinux index, built by the first CO-RE load after insmod, is the
        // module's.
        let policy = PolicyCopy::take()?;
        delete_module().map_err(|e| format!("rmmod: {}", errno_name(e)))?;
        insmod(env)?;
        policy.restore()?;
        let mut klog = KernelLog::open_at_end()?;
        let core = corpus("core_task.bpf.o");
        let r = memcg_fork(&free, &core, 2, false)?;
        let log = klog.drain();
        drop(klog);
        let cached: u64 = log
            .iter()
            .find_map(|l| {
                l.split("vmlinux BTF cached: ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .ok_or("no 'vmlinux BTF cached' line: the first CO-RE load did not build the index")?;
        let (first, _) = memcg_held(&r, &free, 0)?;
        let (next, _) = memcg_held(&r, &free, 1)?;
        if first > next + cached / 2 {
            return Err(format!(
                "the first CO-RE load after insmod grew the caller's cgroup by {first} bytes, the next by {next}: the {cached}-byte vmlinux index was charged to the caller"
            ));
        }
        before.unchanged()?;
        println!(
            "# memory.max 32M: BPF_MAP_CREATE ENOMEM, load refused: {refused} (memory.events max +{max_events}); no limit: +{} KiB while held, +{} KiB after close; core_task.bpf.o first CO-RE load +{} KiB, next +{} KiB, index {} KiB uncharged",
            held / 1024,
            after / 1024,
            first / 1024,
            next / 1024,
            cached / 1024
        );
        Ok(())
    })();
    // What the cgroups still hold at the end, for the message below.
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
    let mut held = Vec::new();
    for cg in [&limited, &free] {
        let stat = std::fs::read_to_string(format!("{cg}/memory.stat")).unwrap_or_default();
        let nonzero: Vec<&str> = stat.lines().filter(|l| !l.ends_with(" 0")).collect();
        held.push(format!("{cg}: {}", nonzero.join(", ")));
    }
    for cg in [&limited, &free] {
        if let (Err(e), Ok(())) = (std::fs::remove_dir(cg), &r) {
            r = Err(format!("rmdir {cg}: {e}"));
        }
    }
    // The module takes a reference to its caller's cgroup for each load and must give
    // it back: once removed, with their page cache dropped, both cgroups must go.
    let r = r.and_then(|()| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
            let dying = cgroup_dying(root);
            if dying <= dying0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{dying} dying cgroups 20 s after the test's two were removed, {dying0} before: a reference left? (memory.stat before: {})",
                    held.join("; ")
                ));
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    outcome(r)
}

/// The files this process maps (its executable, its libraries).
fn mapped_files() -> HashSet<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// Map file `path` and read a byte of each page, putting it all in the page cache.
fn touch_mapped(path: &str) {
    let Ok(f) = File::open(path) else { return };
    let len = f.metadata().map_or(0, |m| m.len() as usize);
    if len == 0 {
        return;
    }
    // SAFETY: a new private read-only mapping of `len` bytes of an open file.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            f.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return;
    }
    let mut sum = 0u8;
    for off in (0..len).step_by(4096) {
        // SAFETY: inside the mapping made above; the file is not truncated meanwhile
        // (it is this process's own executable or a library).
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(p.cast::<u8>().add(off)) });
    }
    std::hint::black_box(sum);
    // SAFETY: the mapping made above, no longer used.
    unsafe { libc::munmap(p, len) };
}

/// `nr_dying_descendants` of the cgroup hierarchy at `root`: cgroups removed and not
/// yet freed, held by references (charged pages among them).
fn cgroup_dying(root: &str) -> u64 {
    cgroup_field(&format!("{root}/cgroup.stat"), "nr_dying_descendants")
}

/// A map's fd by id (`BPF_MAP_GET_FD_BY_ID`: needs CAP_SYS_ADMIN).
fn map_fd_by_id(id: u32) -> Result<OwnedFd, String> {
    #[repr(C)]
    struct IdAttr {
        id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut a = IdAttr {
        id,
        next_id: 0,
        open_flags: 0,
    };
    // SAFETY: MAP_GET_FD_BY_ID reads this struct and returns a new fd, ours to own.
    unsafe { bpfld::sys::sys_bpf(bpfld_core::uapi::BPF_MAP_GET_FD_BY_ID, &mut a) }
        // SAFETY: the fd was just returned to us.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .map_err(|e| format!("map id {id}: {e}"))
}

/// selftests/stress/freeze_window.bpf.c loaded and attached to map_freeze(): from
/// then on a loading thread that freezes a map waits there until let go.
struct FreezeProbe {
    // Dropped in this order: the probe's attachment, then its program and map.
    _kprobe: OwnedFd,
    state: RawFd,
    _load: KLoad,
}

impl FreezeProbe {
    fn attach(probe: &str) -> Result<FreezeProbe, String> {
        let pl = load(&dev()?, &open(probe)?).map_err(|e| format!("{probe}: {e}"))?;
        let state = pl
            .maps
            .iter()
            .find(|m| m.name == "state")
            .ok_or("no map 'state'")?
            .fd
            .as_raw_fd();
        let hold = pl
            .progs
            .iter()
            .find(|p| p.name == "hold_freeze")
            .ok_or("no program hold_freeze")?
            .fd
            .as_raw_fd();
        Ok(FreezeProbe {
            _kprobe: kprobe_attach(hold, c"map_freeze", false)?,
            state,
            _load: pl,
        })
    }

    /// Load `target` in another thread; once its loading thread is held in
    /// map_freeze(), run `act`, then let the thread go (whatever `act` returned).
    /// Returns the load's result (a refusal as "errno N: message") and `act`'s.
    fn load_held<T>(
        &self,
        target: &str,
        act: impl FnOnce() -> Result<T, String>,
    ) -> (Result<Result<KLoad, String>, String>, Result<T, String>) {
        thread::scope(|s| {
            let h = s.spawn(|| -> Result<KLoad, String> {
                let d = dev()?;
                load(&d, &open(target)?).map_err(|e| format!("errno {}: {}", e.errno, e.msg))
            });
            let acted = (|| {
                let t0 = Instant::now();
                while map_u64(self.state, 0)? == 0 {
                    if t0.elapsed() > Duration::from_secs(30) || h.is_finished() {
                        return Err("the loading thread was never held in map_freeze()".into());
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                act()
            })();
            let go = map_update_u64(self.state, 1, 1);
            let res = h.join().map_err(|_| "loading thread panicked".to_string());
            // Say how the load ended and how long its hold lasted.
            let acted = acted.map_err(|e| {
                let held = self.last_hold();
                match &res {
                    Ok(Ok(l)) => format!("{e} (it loaded {} programs; held {held})", l.progs.len()),
                    Ok(Err(le)) => format!("{e} (it ended: {le}; held {held})"),
                    Err(pe) => format!("{e} ({pe}; held {held})"),
                }
            });
            (res.and_then(|r| go.map(|()| r)), acted)
        })
    }

    /// Loading threads held so far.
    fn holds(&self) -> Result<u64, String> {
        map_u64(self.state, 2)
    }

    /// How long the last hold lasted, for the log.
    fn last_hold(&self) -> String {
        map_u64(self.state, 3)
            .map_or_else(|e| format!("?: {e}"), |ns| format!("{} ms", ns / 1_000_000))
    }
}

/// The verifier takes a frozen `.rodata` map's contents as constants. Between the
/// module's `BPF_MAP_UPDATE_ELEM` of the value and its `BPF_MAP_FREEZE`, a process
/// with CAP_SYS_ADMIN can open the map by id and write it; the module must then refuse
/// the load (EBADMSG, naming the map) rather than verify the programs against a value
/// the object does not hold. A probe on map_freeze() (selftests/stress/
/// freeze_window.bpf.c) holds the loading thread in that window while this test
/// writes the map.
pub fn rodata_written_before_freeze(env: &Env) -> Outcome {
    if let Some(why) = crate::util::kernel_limits().callbacks {
        return Outcome::Skip(format!("the probe holds the load with bpf_loop: {why}"));
    }
    let _w = Watchdog::start("stress_rodata_written_before_freeze", 120);
    outcome((|| {
        let probe = guest_object(env, "freeze_window")?;
        let target = guest_object(env, "frozen_rodata")?;
        let before = Snapshot::take();
        let fp = FreezeProbe::attach(&probe)?;
        let newest = bpfld::sys::next_ids(bpfld_core::uapi::BPF_MAP_GET_NEXT_ID)
            .into_iter()
            .max()
            .unwrap_or(0);
        let (res, written) = fp.load_held(&target, || {
            let id = bpfld::sys::next_ids(bpfld_core::uapi::BPF_MAP_GET_NEXT_ID)
                .into_iter()
                .filter(|&id| id > newest)
                .find(|&id| {
                    map_fd_by_id(id)
                        .and_then(|fd| {
                            obj_info::<MapInfo>(fd.as_raw_fd()).map_err(|e| e.to_string())
                        })
                        .is_ok_and(|i| bpfld::dev::cstr(&i.name).ends_with(".rodata"))
                })
                .ok_or("no new .rodata map")?;
            let fd = map_fd_by_id(id)?;
            map_update_u64(fd.as_raw_fd(), 0, 0xbad)?;
            Ok(id)
        });
        let id = written?;
        match res? {
            Err(e) if e.starts_with("errno 74:") && e.contains(".rodata") => {
                println!(
                    "# map id {id} written in the window (held {}); refused: {e}",
                    fp.last_hold()
                );
            }
            Err(e) => return Err(format!("want EBADMSG naming .rodata, got {e}")),
            Ok(l) => {
                let v = l
                    .maps
                    .iter()
                    .find(|m| m.name.ends_with(".rodata"))
                    .map(|m| util::map_lookup(m.fd.as_raw_fd(), 0, 4));
                return Err(format!(
                    "loaded although its .rodata (map id {id}) was written before the \
                     freeze; the frozen value the verifier used: {v:?}"
                ));
            }
        }
        if fp.holds()? != 1 {
            return Err(format!("{} holds, want 1", fp.holds()?));
        }
        drop(fp);
        before.unchanged()
    })())
}

/// A revocation that returns while an object of that digest is being loaded wins:
/// nothing of the load reaches the caller (uapi.rst: "refuse a digest from now on").
/// The probe of `stress_rodata_written_before_freeze` holds the loading thread in
/// map_freeze() while the test revokes the digest; the module checks the policy again
/// before it installs anything.
pub fn revoked_during_load(env: &Env) -> Outcome {
    let _w = Watchdog::start("stress_revoked_during_load", 120);
    outcome((|| {
        let probe = guest_object(env, "freeze_window")?;
        let (target, digest) = guest_object_digest(env, "revoked_mid_load")?;
        let before = Snapshot::take();
        let fp = FreezeProbe::attach(&probe)?;
        let (res, revoked) = fp.load_held(&target, || {
            dev()?
                .trust_revoke(&digest)
                .map_err(|e| format!("revoke: {e}"))
        });
        revoked?;
        match res? {
            Err(e) if e.starts_with("errno 128:") && e.contains("revoked during the load") => {
                println!(
                    "# revoked while held in map_freeze() (held {}): {e}",
                    fp.last_hold()
                );
            }
            Err(e) => return Err(format!("want EKEYREVOKED, got {e}")),
            Ok(l) => {
                return Err(format!(
                    "loaded {} programs although its digest was revoked during the load",
                    l.progs.len()
                ))
            }
        }
        match load(&dev()?, &open(&target)?) {
            Err(e) if e.errno == 128 => {}
            Err(e) => return Err(format!("next load: want EKEYREVOKED, got {e}")),
            Ok(_) => return Err("the revoked digest loads again".into()),
        }
        drop(fp);
        before.unchanged()
    })())
}

/// An idle loading thread can be SIGKILLed from user space (its default action lets
/// the caller's SIGKILL in, `bpfld_worker_fn()`). Such a thread must not be handed the
/// next load, which would fail at its first check for a fatal signal (EINTR, the
/// caller's "killed"): the pool stops it and takes another, or starts one.
pub fn idle_thread_killed(_: &Env) -> Outcome {
    outcome((|| {
        let xdp = corpus("xdp.bpf.o");
        let before = Snapshot::take();
        let load_once = || -> Result<(), String> {
            let d = dev()?;
            let l = load(&d, &open(&xdp)?).map_err(|e| format!("xdp.bpf.o: {e}"))?;
            drop(l);
            Ok(())
        };
        // Two loads at once leave two threads in the pool (one per CPU).
        thread::scope(|s| {
            let t = s.spawn(load_once);
            let r = load_once();
            t.join()
                .map_err(|_| "loading thread panicked".to_string())?
                .and(r)
        })?;
        let idle: Vec<i32> = loading_kthread_procs()
            .iter()
            .filter_map(|(p, _)| p.file_name()?.to_str()?.parse().ok())
            .collect();
        if idle.is_empty() {
            return Err("no idle loading thread after two loads".into());
        }
        for &pid in &idle {
            // SAFETY: kill(2) of a kernel thread by pid; no memory involved.
            if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
                return Err(format!(
                    "kill -9 {pid}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        for i in 0..3 {
            load_once()
                .map_err(|e| format!("load {i} after SIGKILL to idle threads {idle:?}: {e}"))?;
        }
        let t0 = Instant::now();
        loop {
            let left: Vec<i32> = loading_kthread_procs()
                .iter()
                .filter(|(_, s)| s.is_some_and(|s| !matches!(s, 'Z' | 'X')))
                .filter_map(|(p, _)| p.file_name()?.to_str()?.parse().ok())
                .filter(|pid| idle.contains(pid))
                .collect();
            if left.is_empty() {
                break;
            }
            if t0.elapsed() > Duration::from_secs(5) {
                return Err(format!("killed idle threads still alive: {left:?}"));
            }
            thread::sleep(Duration::from_millis(10));
        }
        println!(
            "# {} idle loading threads killed; 3 loads after them succeeded",
            idle.len()
        );
        before.unchanged()
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated object is what the module will see: one socket filter, no maps,
    /// planned by the same core.
    #[test]
    fn socket_object_parses_and_plans() {
        let bytes = socket_object("stress_slow", 7, 1000);
        let mut a = bpfld_core::mem::VecAlloc::default();
        let elf = bpfld_core::elf::Elf::parse(&bytes, &mut a).expect("elf");
        let obj = bpfld_core::object::Object::parse(elf, "slow", &mut a).expect("object");
        assert_eq!(obj.progs.len(), 1);
        assert!(obj.maps.is_empty());
        let kinfo = bpfld_core::plan::KernelInfo {
            page_size: 4096,
            possible_cpus: 2,
            kernel_version: 0x060c00,
        };
        let plan = bpfld_core::plan::Plan::build(&obj, &kinfo, None, &mut a).expect("plan");
        assert_eq!(plan.progs.len(), 1);
        assert_eq!(
            plan.progs[0].prog_type,
            bpfld_core::uapi::BPF_PROG_TYPE_SOCKET_FILTER
        );
        // r0 = 7; r1 = 0; r1 += 1; if r1 < 1000 goto -2; exit
        assert_eq!(plan.progs[0].insns.len, 5);
        let other = socket_object("stress_slow", 8, 1000);
        assert_ne!(
            bpfld_core::digest::fsverity_sha256(&bytes).unwrap(),
            bpfld_core::digest::fsverity_sha256(&other).unwrap()
        );
    }
}

/// userfaultfd(2), just what [`revoked_while_results_copied`] needs (the generic ioctl
/// encoding: the same on x86-64 and arm64).
mod uffd {
    pub const API: u64 = 0xAA;
    pub const IOC_API: libc::c_ulong = 0xC018_AA3F;
    pub const IOC_REGISTER: libc::c_ulong = 0xC020_AA00;
    pub const IOC_ZEROPAGE: libc::c_ulong = 0xC020_AA04;
    pub const REGISTER_MODE_MISSING: u64 = 1;
    pub const EVENT_PAGEFAULT: u8 = 0x12;

    #[repr(C)]
    #[derive(Default)]
    pub struct Api {
        pub api: u64,
        pub features: u64,
        pub ioctls: u64,
    }

    #[repr(C)]
    #[derive(Default)]
    pub struct Register {
        pub start: u64,
        pub len: u64,
        pub mode: u64,
        pub ioctls: u64,
    }

    #[repr(C)]
    #[derive(Default)]
    pub struct Zeropage {
        pub start: u64,
        pub len: u64,
        pub mode: u64,
        pub zeropage: i64,
    }

    /// struct uffd_msg: the event, then for a page fault its flags and address.
    #[repr(C)]
    #[derive(Default)]
    pub struct Msg {
        pub event: u8,
        pub reserved: [u8; 7],
        pub flags: u64,
        pub address: u64,
        pub rest: u64,
    }
}

/// Which array of a load's results [`revoked_while_results_copied`] holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum HeldArray {
    Progs,
    Maps,
}

/// A revocation that returns while the module writes a load's results to the caller
/// wins as well: one results array is a page that userfaultfd leaves missing, so the
/// write stops in a page fault the test holds while it revokes the digest. The module
/// checks the policy once the results are written, with the policy locked until the
/// fds are in: the load fails (EKEYREVOKED, "revoked during the load") and nothing is
/// installed. Run twice, holding the programs' array (attach_target.bpf.c) and then
/// the maps' (results_maps.bpf.c: each case revokes its object's digest). Until
/// 2026-12-05 the check came before the results were written, and this load handed
/// its program to the caller after the revocation had returned.
pub fn revoked_while_results_copied(env: &Env) -> Outcome {
    let _w = Watchdog::start("stress_revoked_while_results_copied", 180);
    outcome((|| {
        for (name, held) in [
            ("attach_target", HeldArray::Progs),
            ("results_maps", HeldArray::Maps),
        ] {
            let (target, digest) = guest_object_digest(env, name)?;
            results_held(&target, held, WhileHeld::Revoke(digest))
                .map_err(|e| format!("{name}.bpf.o, {held:?} array held: {e}"))?;
        }
        Ok(())
    })())
}

/// A load that registers its struct_ops map (`BPFLD_LOAD_REGISTER_STRUCT_OPS`) does so
/// only once nothing of it can fail any more: not while its results are being written
/// (held as in [`revoked_while_results_copied`]: the corpus' struct_ops.bpf.o, a TCP
/// congestion control, is not offered then), but before the load returns (it is
/// offered after). Until 2026-12-07 the executor registered it as its last command,
/// before the copy: a load failing there (a revocation, a fault, no free fds) had it
/// offered to every socket for as long as the caller held the copy.
pub fn struct_ops_registered_after_results(_: &Env) -> Outcome {
    let _w = Watchdog::start("stress_struct_ops_registered_after_results", 180);
    let target = crate::loads::obj_path("struct_ops.bpf.o");
    outcome(results_held(
        &target,
        HeldArray::Progs,
        WhileHeld::NotYetRegistered,
    ))
}

/// What [`results_held`] does while the module is stopped in the write of the results.
enum WhileHeld {
    /// Revoke this digest, the object's: the load must fail with EKEYREVOKED.
    Revoke(uapi::BpfldDigest),
    /// Load with `BPFLD_LOAD_REGISTER_STRUCT_OPS` and check that the struct_ops map
    /// (bpfld_min) is not registered yet: the load must succeed and register it.
    NotYetRegistered,
}

/// Load `target` with one results array (`held`) on a page userfaultfd leaves missing,
/// do `what` while the module is stopped writing it, then let it go on.
fn results_held(target: &str, held: HeldArray, what: WhileHeld) -> Result<(), String> {
    let d = dev()?;
    // One load first, to know that it loads at all and has what the case holds.
    let first = load(&d, &open(target)?).map_err(|e| format!("first load: {e}"))?;
    let want = (first.progs.len(), first.maps.len());
    drop(first);
    if held == HeldArray::Maps && want.1 == 0 {
        return Err("no map whose entry the module would write".into());
    }
    let before = Snapshot::take();
    // SAFETY: plain system calls; the fd is owned from here on.
    let uffd = unsafe {
        let fd = libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC) as RawFd;
        if fd < 0 {
            return Err(format!("userfaultfd: {}", std::io::Error::last_os_error()));
        }
        OwnedFd::from_raw_fd(fd)
    };
    let ioctl = |cmd: libc::c_ulong, arg: *mut libc::c_void, what: &str| {
        // SAFETY: `arg` points at the struct `cmd` reads and writes.
        if unsafe { libc::ioctl(uffd.as_raw_fd(), cmd, arg) } < 0 {
            return Err(format!("{what}: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    };
    let mut api = uffd::Api {
        api: uffd::API,
        ..Default::default()
    };
    ioctl(
        uffd::IOC_API,
        (&mut api as *mut uffd::Api).cast(),
        "UFFDIO_API",
    )?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    // SAFETY: a new private anonymous mapping, unmapped below.
    let area = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if area == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    let unmap = Unmap(area, page);
    let mut reg = uffd::Register {
        start: area as u64,
        len: page as u64,
        mode: uffd::REGISTER_MODE_MISSING,
        ioctls: 0,
    };
    ioctl(
        uffd::IOC_REGISTER,
        (&mut reg as *mut uffd::Register).cast(),
        "UFFDIO_REGISTER",
    )?;

    // Resolves the fault: the load's write goes on.
    let zeropage = || {
        let mut z = uffd::Zeropage {
            start: area as u64,
            len: page as u64,
            ..Default::default()
        };
        ioctl(
            uffd::IOC_ZEROPAGE,
            (&mut z as *mut uffd::Zeropage).cast(),
            "UFFDIO_ZEROPAGE",
        )
    };
    let f = open(target)?;
    // The held array is the registered page; the other one is ours.
    // SAFETY: all-zero is valid for these plain structs.
    let mut progs: Vec<uapi::BpfldProgInfo> = vec![unsafe { std::mem::zeroed() }; 8];
    // SAFETY: as above.
    let mut maps: Vec<uapi::BpfldMapInfo> = vec![unsafe { std::mem::zeroed() }; 8];
    let in_page = |size: usize| (area as u64, (page / size) as u32);
    let (progs_at, progs_cap) = match held {
        HeldArray::Progs => in_page(std::mem::size_of::<uapi::BpfldProgInfo>()),
        HeldArray::Maps => (progs.as_mut_ptr() as u64, progs.len() as u32),
    };
    let (maps_at, maps_cap) = match held {
        HeldArray::Maps => in_page(std::mem::size_of::<uapi::BpfldMapInfo>()),
        HeldArray::Progs => (maps.as_mut_ptr() as u64, maps.len() as u32),
    };
    let mut req = uapi::BpfldLoad {
        size: std::mem::size_of::<uapi::BpfldLoad>() as u32,
        obj_fd: f.as_raw_fd(),
        prog_info_size: std::mem::size_of::<uapi::BpfldProgInfo>() as u32,
        progs: progs_at,
        progs_cnt: progs_cap,
        map_info_size: std::mem::size_of::<uapi::BpfldMapInfo>() as u32,
        maps: maps_at,
        maps_cnt: maps_cap,
        flags: match what {
            WhileHeld::NotYetRegistered => uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS,
            WhileHeld::Revoke(_) => 0,
        },
        ..Default::default()
    };
    let (res, held_ok) = thread::scope(|s| {
        let loader = s.spawn(|| {
            // SAFETY: BPFLD_IOC_LOAD reads and writes `req`; its arrays are live and of
            // the stated sizes (one of them a registered, missing page).
            unsafe { d.ioctl(uapi::BPFLD_IOC_LOAD, &mut req) }
        });
        let held_ok = (|| {
            let mut pfd = libc::pollfd {
                fd: uffd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd.
            if unsafe { libc::poll(&mut pfd, 1, 30_000) } != 1 {
                return Err(
                    "the module never wrote the results (no page fault in 30 s)".to_string()
                );
            }
            let mut msg = uffd::Msg::default();
            let n = std::mem::size_of::<uffd::Msg>();
            // SAFETY: reads one struct uffd_msg into `msg`.
            let r = unsafe { libc::read(uffd.as_raw_fd(), (&mut msg as *mut uffd::Msg).cast(), n) };
            if r != n as isize || msg.event != uffd::EVENT_PAGEFAULT {
                return Err(format!("userfaultfd: read {r}, event {:#x}", msg.event));
            }
            // The load is stopped in its results' write.
            let done = match &what {
                WhileHeld::Revoke(digest) => dev()?
                    .trust_revoke(digest)
                    .map_err(|e| format!("revoke: {e}")),
                WhileHeld::NotYetRegistered => crate::loads::cc_offered(CORPUS_CC, false)
                    .map_err(|e| format!("while the results were written: {e}")),
            };
            zeropage()?;
            done
        })();
        if held_ok.is_err() {
            // Let a load that is still stopped go on (unregistering resolves nothing:
            // closing the userfaultfd does, below, by dropping it with the scope's end).
            let _ = zeropage();
        }
        let res = loader
            .join()
            .map_err(|_| "loading thread panicked".to_string());
        (res, held_ok)
    });
    let res = res?;
    let msg = bpfld::dev::cstr(&req.err_msg);
    // What the load handed over, owned here (closed when dropped).
    let handed = |req: &uapi::BpfldLoad| {
        let n_progs = req.progs_cnt.min(progs_cap) as usize;
        let n_maps = req.maps_cnt.min(maps_cap) as usize;
        // SAFETY: both arrays were written, up to their capacities.
        let (p, m) = unsafe {
            (
                std::slice::from_raw_parts(progs_at as *const uapi::BpfldProgInfo, n_progs),
                std::slice::from_raw_parts(maps_at as *const uapi::BpfldMapInfo, n_maps),
            )
        };
        let own = |fd| {
            // SAFETY: fds the module installed in this process for us.
            unsafe { OwnedFd::from_raw_fd(fd) }
        };
        let progs: Vec<OwnedFd> = p.iter().map(|p| own(p.fd)).collect();
        let maps: Vec<(String, OwnedFd)> = m
            .iter()
            .map(|m| (bpfld::dev::cstr(&m.name), own(m.fd)))
            .collect();
        (progs, maps)
    };
    let handed_over = res.as_ref().ok().map(|_| handed(&req));
    if let Err(e) = held_ok {
        // A registering load that went on: undo its registration, which outlives
        // its fds, so that the tests after this one do not see it.
        if let (Some((_, maps)), WhileHeld::NotYetRegistered) = (&handed_over, &what) {
            for (_, fd) in maps.iter().filter(|(n, _)| n == CORPUS_CC) {
                let _ = bpfld::sys::map_delete(fd.as_raw_fd(), 0);
            }
        }
        return Err(e);
    }
    match (res, &what) {
        (Err(e), WhileHeld::Revoke(_))
            if e.raw_os_error() == Some(libc::EKEYREVOKED)
                && msg.contains("revoked during the load") =>
        {
            println!("# {target}: revoked while its {held:?} array was being written: {msg}");
        }
        (Err(e), WhileHeld::Revoke(_)) => return Err(format!("want EKEYREVOKED, got {e}: {msg}")),
        (Ok(_), WhileHeld::Revoke(_)) => {
            let (p, m) = handed_over.unwrap_or_default();
            return Err(format!(
                "loaded {} of {} programs and {} of {} maps although the digest was revoked before the results were written",
                p.len(),
                want.0,
                m.len(),
                want.1
            ));
        }
        (Err(e), WhileHeld::NotYetRegistered) => {
            return Err(format!("registering load: {e}: {msg}"))
        }
        (Ok(_), WhileHeld::NotYetRegistered) => {
            let (_progs, maps) = handed_over.unwrap_or_default();
            let (_, st) = maps
                .iter()
                .find(|(n, _)| n == CORPUS_CC)
                .ok_or(format!("no map {CORPUS_CC} in the results"))?;
            let offered = crate::loads::cc_offered(CORPUS_CC, true)
                .map_err(|e| format!("once the load returned: {e}"));
            // Unregistered whatever the check found, as above.
            bpfld::sys::map_delete(st.as_raw_fd(), 0)
                .map_err(|e| format!("BPF_MAP_DELETE_ELEM of {CORPUS_CC}: {e}"))?;
            offered?;
            crate::loads::cc_offered(CORPUS_CC, false)
                .map_err(|e| format!("after the delete: {e}"))?;
            println!("# {target}: {CORPUS_CC} not offered while the results were written, offered once the load returned");
        }
    }
    drop((unmap, uffd, f));
    before.unchanged()
}

/// Unmaps its mapping when dropped.
struct Unmap(*mut libc::c_void, usize);

impl Drop for Unmap {
    fn drop(&mut self) {
        // SAFETY: a mapping of ours of that length, used no more.
        unsafe { libc::munmap(self.0, self.1) };
    }
}

// ---------------------------------------------------------------------------------
// 7. Allocation failures in the middle of a load.

/// The corpus objects `stress_alloc_failures` loads with an allocation failed, with
/// the load's flags: one program; global data (frozen maps); CO-RE; inner maps; a
/// program array filled; struct_ops; kfuncs (BTF fds); struct_ops again, registered
/// (`BPFLD_LOAD_REGISTER_STRUCT_OPS`: a load that fails must leave its map
/// unregistered, one that succeeds must have registered it).
const FAIL_OBJECTS: &[(&str, u32)] = &[
    ("xdp.bpf.o", 0),
    ("global_data.bpf.o", 0),
    ("core_task.bpf.o", 0),
    ("map_in_map.bpf.o", 0),
    ("tail_calls.bpf.o", 0),
    ("struct_ops.bpf.o", 0),
    ("ext_kfunc.bpf.o", 0),
    ("struct_ops.bpf.o", uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS),
];
/// Loads per object, each with one allocation failed: the first `FAIL_LOADS` of its
/// allocations, or that many spread evenly over them.
const FAIL_LOADS: usize = 120;
/// And as many loads again, each with one of the allocations of the work beside the
/// loading thread failed, up to `FAIL_BESIDE_LOADS`.
const FAIL_BESIDE_LOADS: usize = 40;

/// Which allocation of a load to fail.
#[derive(Clone, Copy)]
enum Fail {
    None,
    /// The Nth of all the load's, from 1.
    Nth(u64),
    /// The Nth of the work beside the loading thread's, from 1.
    NthBeside(u64),
}

/// `n` numbers among `1..=total`: all of them, or `n` spread evenly.
fn spread(total: u64, n: u64) -> Vec<u64> {
    if total <= n {
        (1..=total).collect()
    } else {
        (0..n).map(|i| 1 + i * total / n).collect()
    }
}

/// The value of the enumerator `name` in the running kernel's BTF.
fn kernel_enumerator(name: &str) -> Result<i64, String> {
    use bpfld_core::btf::{count_types, Btf, BtfKind};
    let path = "/sys/kernel/btf/vmlinux";
    let blob = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let n = count_types(&blob).map_err(|e| format!("{path}: {e}"))?;
    let btf =
        Btf::parse_kernel(&blob[..], vec![0u32; n + 1]).map_err(|e| format!("{path}: {e}"))?;
    for id in btf.ids_of_kind(BtfKind::Enum) {
        let Ok(t) = btf.type_by_id(id) else { continue };
        let Ok(vals) = t.enum_values() else { continue };
        for i in 0..vals.total() {
            if let Some(v) = vals.get(i) {
                if v.name().is_ok_and(|s| s == name) {
                    return Ok(v.as_i64());
                }
            }
        }
    }
    Err(format!("{path}: no enumerator {name}"))
}

/// fail_alloc.bpf.c's `ctl` array, mapped into this process: the probes read what
/// this writes without a system call in between.
struct Ctl {
    at: *mut u64,
    len: usize,
}

impl Ctl {
    const ARMED: usize = 0;
    const TID: usize = 1;
    const NTH: usize = 2;
    const COUNT: usize = 3;
    const MADE: usize = 4;
    const NOFAIL_BIT: usize = 5;
    const BESIDE: usize = 6;
    const KIND: usize = 7;
    const MADE_BESIDE: usize = 8;
    const COUNT_BESIDE: usize = 9;
    const NTH_BESIDE: usize = 10;
    const LEN: usize = 16;

    fn map(fd: RawFd) -> Result<Ctl, String> {
        let len = 4096;
        // SAFETY: a shared mapping of an mmapable array map's values (128 bytes, one page).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!(
                "mmap of 'ctl': {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Ctl { at: p.cast(), len })
    }

    fn set(&self, i: usize, v: u64) {
        assert!(i < Self::LEN);
        // SAFETY: within the mapped array; the probes read it concurrently, hence volatile.
        unsafe { std::ptr::write_volatile(self.at.add(i), v) };
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    fn get(&self, i: usize) -> u64 {
        assert!(i < Self::LEN);
        std::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: as in `set`.
        unsafe { std::ptr::read_volatile(self.at.add(i)) }
    }
}

impl Drop for Ctl {
    fn drop(&mut self) {
        // SAFETY: unmaps what `map` mapped.
        unsafe { libc::munmap(self.at.cast(), self.len) };
    }
}

/// A load's result arrays, allocated and written once: the pages are present, so that
/// between arming and disarming the probes nothing of this thread allocates in the
/// kernel but the ioctl itself.
struct LoadBufs {
    progs: Vec<uapi::BpfldProgInfo>,
    maps: Vec<uapi::BpfldMapInfo>,
}

/// What an armed load gave: programs and maps by name, or the errno and message.
type Armed = Result<(Vec<String>, Vec<String>), (i32, String)>;

/// `BPFLD_IOC_LOAD` of `obj` with `flags` and allocation `fail` of the load failed, the
/// probes armed around the ioctl only. Closes what it returns; with
/// `BPFLD_LOAD_REGISTER_STRUCT_OPS`, unregisters its struct_ops maps first, each
/// named with " (registered)" if that worked.
fn armed_load(
    d: &Device,
    obj: &File,
    flags: u32,
    b: &mut LoadBufs,
    ctl: &Ctl,
    fail: Fail,
) -> Armed {
    let mut req = uapi::BpfldLoad {
        flags,
        size: std::mem::size_of::<uapi::BpfldLoad>() as u32,
        obj_fd: obj.as_raw_fd(),
        prog_info_size: std::mem::size_of::<uapi::BpfldProgInfo>() as u32,
        progs: b.progs.as_mut_ptr() as u64,
        progs_cnt: b.progs.len() as u32,
        map_info_size: std::mem::size_of::<uapi::BpfldMapInfo>() as u32,
        maps: b.maps.as_mut_ptr() as u64,
        maps_cnt: b.maps.len() as u32,
        ..Default::default()
    };
    ctl.set(Ctl::COUNT, 0);
    ctl.set(Ctl::MADE, 0);
    ctl.set(Ctl::KIND, 0);
    ctl.set(Ctl::BESIDE, 0);
    ctl.set(Ctl::MADE_BESIDE, 0);
    ctl.set(Ctl::COUNT_BESIDE, 0);
    let (nth, nth_beside) = match fail {
        Fail::None => (0, 0),
        Fail::Nth(n) => (n, 0),
        Fail::NthBeside(n) => (0, n),
    };
    ctl.set(Ctl::NTH, nth);
    ctl.set(Ctl::NTH_BESIDE, nth_beside);
    ctl.set(Ctl::ARMED, 1);
    // SAFETY: BPFLD_IOC_LOAD reads and writes `req`; the arrays it points to are live
    // and of the stated lengths.
    let r = unsafe { d.ioctl(uapi::BPFLD_IOC_LOAD, &mut req) };
    ctl.set(Ctl::ARMED, 0);
    match r {
        Ok(_) => {
            // Each object's fd closed, its name kept.
            let close = |fd: RawFd, name: &[u8]| {
                // SAFETY: the module gave us this fd.
                drop(unsafe { OwnedFd::from_raw_fd(fd) });
                bpfld::dev::cstr(name)
            };
            let (np, nm) = (req.progs_cnt as usize, req.maps_cnt as usize);
            let progs = b.progs[..np.min(b.progs.len())]
                .iter()
                .map(|p| close(p.fd, &p.name))
                .collect();
            let maps = b.maps[..nm.min(b.maps.len())]
                .iter()
                .map(|m| {
                    let registered = flags & uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS != 0
                        && m.map_type == bpfld_core::uapi::BPF_MAP_TYPE_STRUCT_OPS
                        && bpfld::sys::map_delete(m.fd, 0).is_ok();
                    let name = close(m.fd, &m.name);
                    if registered {
                        format!("{name} (registered)")
                    } else {
                        name
                    }
                })
                .collect();
            Ok((progs, maps))
        }
        Err(e) => Err((
            e.raw_os_error().unwrap_or(0),
            bpfld::dev::cstr(&req.err_msg),
        )),
    }
}

/// Log `line` in the kernel's log.
fn kmsg_write(line: &str) -> Result<(), String> {
    std::fs::write("/dev/kmsg", line).map_err(|e| format!("/dev/kmsg: {e}"))
}

/// The kernel's symbols from /proc/kallsyms, sorted by address, each marked if it is
/// the module's.
struct Kallsyms(Vec<(u64, String, bool)>);

impl Kallsyms {
    fn read(module: &str) -> Result<Kallsyms, String> {
        let text = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
        let tag = format!("[{module}]");
        let mut syms: Vec<(u64, String, bool)> = text
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let (a, _, n) = (it.next()?, it.next()?, it.next()?);
                let a = u64::from_str_radix(a, 16).ok().filter(|&a| a != 0)?;
                Some((a, n.to_string(), it.next() == Some(tag.as_str())))
            })
            .collect();
        syms.sort();
        if !syms.iter().any(|s| s.2) {
            return Err(format!("no {tag} symbols in /proc/kallsyms"));
        }
        Ok(Kallsyms(syms))
    }

    /// The symbol `ip` is in: its (mangled) name and whether it is the module's.
    fn at(&self, ip: u64) -> Option<(&str, bool)> {
        let i = self.0.partition_point(|s| s.0 <= ip).checked_sub(1)?;
        self.0.get(i).map(|s| (s.1.as_str(), s.2))
    }

    /// Where in the module an allocation failed: its innermost function in the module
    /// and the two it called, mangled names.
    fn site(&self, stack: &[u64]) -> Option<[String; 3]> {
        let i = stack
            .iter()
            .position(|&ip| self.at(ip).is_some_and(|s| s.1))?;
        let name = |k: Option<usize>| {
            k.and_then(|k| stack.get(k))
                .and_then(|&ip| self.at(ip))
                .map_or("?".to_string(), |s| s.0.to_string())
        };
        Some([
            name(Some(i)),
            name(i.checked_sub(1)),
            name(i.checked_sub(2)),
        ])
    }
}

/// Rust symbols demangled (llvm-cxxfilt, as they are if it fails) and shortened to
/// their function and, for a method, its type: "loader::run_plan" is "run_plan",
/// "<kernel::alloc::allocator::ReallocFunc>::call" "ReallocFunc::call".
fn short_names(names: &[String]) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let demangled = (|| {
        let mut c = Command::new("llvm-cxxfilt")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        c.stdin
            .take()?
            .write_all(names.join("\n").as_bytes())
            .ok()?;
        let out = c.wait_with_output().ok()?;
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        (lines.len() == names.len()).then_some(lines)
    })()
    .unwrap_or_else(|| names.to_vec());
    demangled.iter().map(|d| short_name(d)).collect()
}

fn short_name(d: &str) -> String {
    // "<T as Trait>::f" and "<T>::f" become "T::f".
    let mut d = d.to_string();
    if d.starts_with('<') {
        let mut depth = 0;
        let end = d.char_indices().find_map(|(i, c)| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        });
        if let Some(end) = end {
            let inner = d[1..end].split(" as ").next().unwrap_or("").to_string();
            d = format!("{inner}{}", &d[end + 1..]);
        }
    }
    // Generic arguments out: "Elf<KAlloc>::fill", "load_btf::<A, B>".
    let mut s = String::new();
    let mut depth = 0;
    for c in d.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => s.push(c),
            _ => {}
        }
    }
    let s = s.replace("::::", "::");
    let parts: Vec<&str> = s.trim_end_matches("::").split("::").collect();
    match parts.as_slice() {
        [.., ty, f] if ty.starts_with(|c: char| c.is_ascii_uppercase()) => format!("{ty}::{f}"),
        [.., f] => f.to_string(),
        [] => s.clone(),
    }
}

#[cfg(test)]
mod short_name_tests {
    #[test]
    fn short_names_keep_the_function_and_its_type() {
        for (d, want) in [
            ("bpfld_main::loader::run_plan", "run_plan"),
            ("<kernel::alloc::allocator::ReallocFunc>::call", "ReallocFunc::call"),
            (
                "<bpfld_main::kalloc::KAlloc as bpfld_core::mem::Alloc>::alloc",
                "KAlloc::alloc",
            ),
            (
                "bpfld_core::exec::load_btf::<bpfld_main::kalloc::KAlloc, bpfld_main::loader::KernelBpf>",
                "load_btf",
            ),
            ("bpfld_core::elf::Elf<bpfld_main::kalloc::KAlloc>::fill", "Elf::fill"),
            ("kvrealloc_noprof", "kvrealloc_noprof"),
        ] {
            assert_eq!(super::short_name(d), want, "{d}");
        }
    }
}

/// Loads of `FIRST_LOAD_TRIES` fresh modules' first CO-RE load with an allocation failed.
const FIRST_LOAD_TRIES: usize = 16;

/// The first CO-RE load after insmod reads vmlinux BTF and builds the index every later
/// load shares: with one of its allocations failed, in `FIRST_LOAD_TRIES` reloads of the
/// module, the load may be refused, but the next one must load as a first load does.
fn first_core_load(
    env: &Env,
    policy: &PolicyCopy,
    ctl: &Ctl,
    bufs: &mut LoadBufs,
) -> Result<String, String> {
    let name = "core_task.bpf.o";
    let f = open(&corpus(name))?;
    let reload = || -> Result<Device, String> {
        delete_module().map_err(|e| format!("rmmod: {}", errno_name(e)))?;
        insmod(env)?;
        policy.restore()?;
        dev()
    };
    let d = reload()?;
    let want = armed_load(&d, &f, 0, bufs, ctl, Fail::None)
        .map_err(|(e, m)| format!("{name}: first load: {m} ({})", errno_name(e)))?;
    let total = ctl.get(Ctl::COUNT);
    drop(d);
    let nths = spread(total, scaled(FIRST_LOAD_TRIES) as u64);
    let (mut ok, mut refused) = (0, 0);
    for &n in &nths {
        let d = reload()?;
        match armed_load(&d, &f, 0, bufs, ctl, Fail::Nth(n)) {
            Ok(got) if got == want => ok += 1,
            Ok(got) => {
                return Err(format!(
                    "{name}: first load after insmod with allocation {n} of {total} failed: loaded {got:?}, not {want:?}"
                ))
            }
            Err((e, msg)) if e != 0 && !msg.is_empty() => refused += 1,
            Err((e, msg)) => {
                return Err(format!(
                    "{name}: first load after insmod with allocation {n} of {total} failed: errno {e}, message {msg:?}"
                ))
            }
        }
        match armed_load(&d, &f, 0, bufs, ctl, Fail::None) {
            Ok(got) if got == want => {}
            other => {
                return Err(format!(
                    "{name}: the load after the first, whose allocation {n} of {total} failed: {other:?}, not {want:?}"
                ))
            }
        }
    }
    Ok(format!(
        "{name} as the first CO-RE load after insmod: {total} allocations, {} failed in as many reloads: {ok} loaded, {refused} refused, every next load as a first one",
        nths.len()
    ))
}

/// Every allocation of a load, one at a time, made to fail: the first `FAIL_LOADS` of
/// each object's, or that many spread over them. selftests/stress/fail_alloc.bpf.c's
/// probes on the allocators' error-injection points fail the Nth allocation of the
/// loading thread, of the work the module runs beside it on its workqueue and of the
/// caller's ioctl, the kernel's BPF commands' included.
/// Each load must either succeed with every program and map, or fail with an errno
/// and a message; no fd may be left in the caller, and at the end no program, map or
/// BTF (kmemleak_no_bpfld_leaks and dmesg_no_warnings, later, look at memory and the
/// log), and the module must load every object as before. Then the first CO-RE load
/// after insmod, whose vmlinux index later loads share ([`first_core_load`]).
pub fn alloc_failures(env: &Env) -> Outcome {
    let _w = Watchdog::start("stress_alloc_failures", 900);
    outcome((|| {
        let probe = guest_object(env, "fail_alloc")?;
        let nofail = kernel_enumerator("___GFP_NOFAIL_BIT")?;
        let before = Snapshot::take();
        let policy = PolicyCopy::take()?;
        let pl = load(&dev()?, &open(&probe)?).map_err(|e| format!("{probe}: {e}"))?;
        let fd_of = |n: &str| -> Result<RawFd, String> {
            pl.maps
                .iter()
                .find(|m| m.name == n)
                .map(|m| m.fd.as_raw_fd())
                .ok_or(format!("{probe}: no map '{n}'"))
        };
        let prog = |n: &str| -> Result<RawFd, String> {
            pl.progs
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.fd.as_raw_fd())
                .ok_or(format!("{probe}: no program '{n}'"))
        };
        let ctl = Ctl::map(fd_of("ctl")?)?;
        let site = fd_of("site")?;
        ctl.set(Ctl::TID, gettid() as u64);
        ctl.set(Ctl::NOFAIL_BIT, nofail as u64);
        // The kernel reports many of the failures (warn_alloc(): a page allocation, a
        // vmalloc() whose vm_struct or pages could not be allocated); these two lines
        // tell dmesg_no_warnings to expect them.
        kmsg_write(bpfld::kmsg::INJECTION_ON)?;
        let injected = (|| {
            let _slab = kprobe_attach(prog("fail_slab")?, c"should_failslab", false)?;
            let _pages = kprobe_attach(prog("fail_pages")?, c"should_fail_alloc_page", false)?;
            // The work beside the loading thread (the plan, the receipt's hash) counts
            // from its function's entry to its return. Not through first_core_load's
            // reloads of the module, which would leave these probes on the code of a
            // module that is gone.
            let beside = [
                kprobe_attach(prog("beside_enter")?, c"bpfld_beside_fn", false)?,
                kprobe_attach(prog("beside_exit")?, c"bpfld_beside_fn", true)?,
            ];
            let syms = Kallsyms::read("bpfld")?;
            let mut bufs = LoadBufs {
                // SAFETY: all-zero is valid for these plain structs.
                progs: vec![unsafe { std::mem::zeroed() }; 64],
                // SAFETY: as above.
                maps: vec![unsafe { std::mem::zeroed() }; 64],
            };
            let mut summary = Vec::new();
            let mut errnos: HashMap<i32, usize> = HashMap::new();
            let mut messages: HashMap<String, (i32, usize)> = HashMap::new();
            // Where the failed allocations were: loads that succeeded, loads refused.
            let mut sites: HashMap<[String; 3], (usize, usize)> = HashMap::new();
            for &(name, flags) in FAIL_OBJECTS {
                let path = corpus(name);
                let label = if flags & uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS != 0 {
                    format!("{name} (registering)")
                } else {
                    name.to_string()
                };
                let name = label.as_str();
                let f = open(&path)?;
                let d = dev()?;
                // Once unarmed: the caches a first load fills (the vmlinux index, module
                // BTFs) are filled before the allocations are counted.
                load(&d, &f).map_err(|e| format!("{name}: {e}"))?;
                let fds0 = fd_count();
                // The reference load (nothing failed), which also counts the allocations.
                let want = armed_load(&d, &f, flags, &mut bufs, &ctl, Fail::None)
                    .map_err(|(e, m)| format!("{name}: reference load: {m} ({})", errno_name(e)))?;
                let total = ctl.get(Ctl::COUNT);
                let total_beside = ctl.get(Ctl::COUNT_BESIDE);
                if total == 0 {
                    return Err(format!(
                        "{name}: the probes counted no allocation: they cannot judge"
                    ));
                }
                let nths: Vec<Fail> = spread(total, scaled(FAIL_LOADS) as u64)
                    .into_iter()
                    .map(Fail::Nth)
                    .chain(
                        spread(total_beside, scaled(FAIL_BESIDE_LOADS) as u64)
                            .into_iter()
                            .map(Fail::NthBeside),
                    )
                    .collect();
                let (mut ok, mut refused, mut in_beside) = (0, 0, 0);
                for &fail in &nths {
                    let got = armed_load(&d, &f, flags, &mut bufs, &ctl, fail);
                    let which = match fail {
                        Fail::NthBeside(n) => format!(
                            "allocation {n} of the {total_beside} beside the loading thread"
                        ),
                        Fail::Nth(n) => format!("allocation {n} of {total}"),
                        Fail::None => "no allocation".to_string(),
                    };
                    let made = ctl.get(Ctl::MADE);
                    in_beside += ctl.get(Ctl::MADE_BESIDE);
                    let what = match ctl.get(Ctl::KIND) {
                        1 => "slab",
                        2 => "page",
                        _ => "no",
                    };
                    let stack: Vec<u64> = if made > 0 {
                        let v = util::map_lookup(site, 0, 24 * 8)
                            .map_err(|e| format!("'site': {e}"))?;
                        v.chunks_exact(8)
                            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                            .take_while(|&ip| ip != 0)
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let site_of = syms.site(&stack).unwrap_or_else(|| {
                        [
                            "(not under the module's code)".into(),
                            String::new(),
                            String::new(),
                        ]
                    });
                    let at = || {
                        let raw: Vec<String> = stack
                            .iter()
                            .take(16)
                            .map(|&ip| syms.at(ip).map_or("?", |s| s.0).to_string())
                            .collect();
                        let trace = short_names(&raw);
                        format!(
                            "{name}: {what} {which} failed, at:\n    {}",
                            trace.join("\n    ")
                        )
                    };
                    match got {
                        Ok((progs, maps)) => {
                            if (&progs, &maps) != (&want.0, &want.1) {
                                return Err(format!(
                                "{}\n  loaded programs {progs:?} and maps {maps:?}, not {:?} and {:?}",
                                at(),
                                want.0,
                                want.1
                            ));
                            }
                            ok += 1;
                            if made > 0 {
                                sites.entry(site_of).or_default().0 += 1;
                            }
                        }
                        Err((e, msg)) => {
                            if made == 0 {
                                return Err(format!(
                                "{name}: refused ({msg}, {}) with no allocation failed ({which}; the reference load made {total})",
                                errno_name(e)
                            ));
                            }
                            if e == 0 || msg.is_empty() {
                                return Err(format!(
                                "{}\n  refused with errno {e} and message {msg:?}: want an errno and a message",
                                at()
                            ));
                            }
                            if flags & uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS != 0 {
                                crate::loads::cc_offered(CORPUS_CC, false)
                                    .map_err(|c| format!("{}\n  refused ({msg}), and {c}", at()))?;
                            }
                            *errnos.entry(e).or_default() += 1;
                            messages.entry(msg).or_insert((e, 0)).1 += 1;
                            refused += 1;
                            sites.entry(site_of).or_default().1 += 1;
                        }
                    }
                    let fds = fd_count();
                    if fds != fds0 {
                        return Err(format!(
                            "{}\n  {fds} fds open after the load, {fds0} before",
                            at()
                        ));
                    }
                }
                summary.push(format!(
                "{name}: {total} allocations ({total_beside} in the work beside the loading thread), {} failed in turn ({in_beside} there): {ok} loaded, {refused} refused",
                nths.len()
            ));
            }
            drop(beside);
            summary.push(first_core_load(env, &policy, &ctl, &mut bufs)?);
            drop((_slab, _pages));
            Ok((summary, errnos, messages, sites))
        })();
        kmsg_write(bpfld::kmsg::INJECTION_OFF)?;
        let (summary, errnos, messages, sites) = injected?;
        drop(ctl);
        drop(pl);
        // Everything still loads.
        let d = dev()?;
        for (name, _) in FAIL_OBJECTS {
            load(&d, &open(&corpus(name))?).map_err(|e| format!("{name} after: {e}"))?;
        }
        drop(d);
        before.unchanged()?;
        let mut errnos: Vec<(i32, usize)> = errnos.into_iter().collect();
        errnos.sort();
        let errnos: Vec<String> = errnos
            .iter()
            .map(|(e, n)| format!("{} x{n}", errno_name(*e)))
            .collect();
        for l in &summary {
            println!("# {l}");
        }
        // One pass over the sites: their names (demangled in one call) and counts in
        // the same order.
        let sites: Vec<([String; 3], (usize, usize))> = sites.into_iter().collect();
        let raw: Vec<String> = sites.iter().flat_map(|(k, _)| k.iter().cloned()).collect();
        let short = short_names(&raw);
        let mut named: HashMap<String, (usize, usize)> = HashMap::new();
        for (k, (_, (ok, no))) in short.chunks(3).zip(&sites) {
            let e = named.entry(k.join(" -> ")).or_default();
            e.0 += ok;
            e.1 += no;
        }
        let mut sites: Vec<(String, (usize, usize))> = named.into_iter().collect();
        sites.sort();
        let loaded: Vec<String> = sites
            .iter()
            .filter(|(_, (ok, _))| *ok > 0)
            .map(|(s, (ok, _))| format!("{s} x{ok}"))
            .collect();
        println!(
            "# failed at {} places in the module's calls; loaded anyway when failed at: {}",
            sites.len(),
            loaded.join(", ")
        );
        println!(
            "# refusals: {}; {} distinct messages:",
            errnos.join(", "),
            messages.len()
        );
        let mut sample: Vec<(&String, &(i32, usize))> = messages.iter().collect();
        sample.sort();
        for (m, (e, n)) in sample {
            println!("#   {} x{n}: {m}", errno_name(*e));
        }
        Ok(())
    })())
}

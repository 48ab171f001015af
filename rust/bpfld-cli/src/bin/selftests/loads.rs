// SPDX-License-Identifier: GPL-2.0-only

//! Loading through `/dev/bpfld` in the VM: the trust policy, every refusal with its
//! errno and no leak, the corpus with its behaviour, attachment, races, parallelism.

use super::{fail, Env};
use crate::util::{self, run, run_cli, Snapshot};
use bpfld::dev::{
    format_digest, parse_digest, Device, KLoad, KLoadError, KLoadExtra, KLoadOpts, DEVICE,
};
use bpfld::ktap::Outcome;
use bpfld::uapi;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const MNT: &str = "/run/bpfld-verity";
const ENODATA: i32 = 61;
const EKEYREVOKED: i32 = 128;
const EKEYREJECTED: i32 = 129;

fn dev() -> Result<Device, String> {
    Device::open(DEVICE).map_err(|e| format!("open {DEVICE}: {e}"))
}

pub(crate) fn obj_path(name: &str) -> String {
    format!("{MNT}/{name}")
}

fn open(path: &str) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{path}: {e}"))
}

fn load(path: &str) -> Result<KLoad, KLoadError> {
    let d = dev().map_err(|msg| KLoadError {
        errno: libc::ENODEV,
        msg,
        log: String::new(),
        digest: vec![],
    })?;
    let f = File::open(path).map_err(|e| KLoadError {
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        msg: format!("{path}: {e}"),
        log: String::new(),
        digest: vec![],
    })?;
    d.load(&f, &KLoadOpts::default())
}

/// Expect a load of `path` to fail with `errno`, leaving nothing behind.
fn expect_refusal(path: &str, errno: i32, what: &str) -> Result<(), String> {
    expect_refusal_saying(path, errno, "", what)
}

/// [`expect_refusal`], with a message that contains `says`.
fn expect_refusal_saying(path: &str, errno: i32, says: &str, what: &str) -> Result<(), String> {
    let before = Snapshot::take();
    refused(load(path), errno, says, what)?;
    before.unchanged().map_err(|e| format!("{what}: {e}"))
}

/// `res` (`what`, a load) must be a refusal with `errno` and a message, one that
/// contains `says`; shown as a KTAP comment.
fn refused(
    res: Result<KLoad, KLoadError>,
    errno: i32,
    says: &str,
    what: &str,
) -> Result<(), String> {
    match res {
        Ok(_) => Err(format!("{what}: loaded, want errno {errno}")),
        Err(e) if e.errno == errno && !e.msg.is_empty() && e.msg.contains(says) => {
            println!("# {what}: errno {} ({})", e.errno, e.msg);
            Ok(())
        }
        Err(e) => Err(format!("{what}: {e}, want errno {errno} saying {says:?}")),
    }
}

fn outcome(r: Result<(), String>) -> Outcome {
    match r {
        Ok(()) => Outcome::Pass,
        Err(e) => fail(e),
    }
}

/// The corpus objects (without the libbpf harness), sorted.
pub fn corpus_objects(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&env.corpus)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".bpf.o"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Mount the verity image, copy the corpus in and enable fs-verity on every object;
/// prepare the files of the negative tests.
pub fn verity_setup(env: &Env) -> Outcome {
    outcome((|| {
        std::fs::create_dir_all(MNT).map_err(|e| format!("{MNT}: {e}"))?;
        run("mount", &["-o", "loop", &env.image, MNT])?;
        for o in corpus_objects(env) {
            let dst = obj_path(&o);
            std::fs::copy(format!("{}/{o}", env.corpus), &dst)
                .map_err(|e| format!("{dst}: {e}"))?;
            run("fsverity", &["enable", &dst])?;
        }
        // A verity object and a plain copy, for the refusals.
        std::fs::copy(format!("{}/xdp.bpf.o", env.corpus), obj_path("plain.o"))
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(obj_path("dir")).map_err(|e| e.to_string())?;
        Ok(())
    })())
}

pub fn refuse_unknown_digest(_: &Env) -> Outcome {
    outcome(expect_refusal(
        &obj_path("xdp.bpf.o"),
        EKEYREJECTED,
        "unknown digest",
    ))
}

pub fn refuse_non_verity(_: &Env) -> Outcome {
    outcome(expect_refusal(
        &obj_path("plain.o"),
        ENODATA,
        "ext4 file without verity",
    ))
}

pub fn refuse_tmpfs(env: &Env) -> Outcome {
    outcome((|| {
        std::fs::create_dir_all("/run/bpfld-tmpfs").map_err(|e| e.to_string())?;
        run("mount", &["-t", "tmpfs", "tmpfs", "/run/bpfld-tmpfs"])?;
        let p = "/run/bpfld-tmpfs/xdp.bpf.o";
        std::fs::copy(format!("{}/xdp.bpf.o", env.corpus), p).map_err(|e| e.to_string())?;
        // tmpfs cannot even enable verity.
        if run("fsverity", &["enable", p]).is_ok() {
            return Err("fsverity enable succeeded on tmpfs".into());
        }
        expect_refusal(p, ENODATA, "file on tmpfs")
    })())
}

/// The raw ioctl with an arbitrary obj_fd, expecting `errno`.
fn load_fd_expect(fd: i32, errno: i32, what: &str) -> Result<(), String> {
    struct Raw(i32);
    impl AsRawFd for Raw {
        fn as_raw_fd(&self) -> i32 {
            self.0
        }
    }
    let d = dev()?;
    let before = Snapshot::take();
    match d.load(&Raw(fd), &KLoadOpts::default()) {
        Ok(_) => Err(format!("{what}: loaded")),
        Err(e) if e.errno == errno => {
            println!("# {what}: errno {errno} ({})", e.msg);
            before.unchanged().map_err(|e| format!("{what}: {e}"))
        }
        Err(e) => Err(format!("{what}: {e}, want errno {errno}")),
    }
}

pub fn refuse_fd_kinds(_: &Env) -> Outcome {
    outcome((|| {
        let mut p = [0i32; 2];
        // SAFETY: pipe writes two fds into `p`.
        if unsafe { libc::pipe(p.as_mut_ptr()) } != 0 {
            return Err("pipe failed".into());
        }
        // SAFETY: both fds are ours from here on.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        load_fd_expect(r.as_raw_fd(), libc::EINVAL, "pipe")?;
        drop((r, w));
        // SAFETY: plain socket(2).
        let s = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
        // SAFETY: `s` is ours.
        let s = unsafe { OwnedFd::from_raw_fd(s) };
        load_fd_expect(s.as_raw_fd(), libc::EINVAL, "socket")?;
        let d = open(&obj_path("dir"))?;
        load_fd_expect(d.as_raw_fd(), libc::EISDIR, "directory")?;
        let path = std::ffi::CString::new(obj_path("xdp.bpf.o")).unwrap();
        // SAFETY: open(2) with O_PATH on a NUL-terminated path.
        let o = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        // SAFETY: `o` is ours.
        let o = unsafe { OwnedFd::from_raw_fd(o) };
        load_fd_expect(o.as_raw_fd(), libc::EBADF, "O_PATH fd")?;
        // Access mode 3 (neither read nor write, open(2) allows it for ioctl-only
        // use): fs-verity lets it through, kernel_read() would warn and fail.
        // SAFETY: open(2) on a NUL-terminated path.
        let n = unsafe { libc::open(path.as_ptr(), 3 | libc::O_CLOEXEC) };
        if n < 0 {
            return Err(format!("open mode 3: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: `n` is ours.
        let n = unsafe { OwnedFd::from_raw_fd(n) };
        load_fd_expect(n.as_raw_fd(), libc::EBADF, "fd not open for reading")?;
        load_fd_expect(9999, libc::EBADF, "closed fd")?;
        Ok(())
    })())
}

pub fn refuse_oversized(_: &Env) -> Outcome {
    outcome((|| {
        let p = obj_path("huge.o");
        let f = File::create(&p).map_err(|e| e.to_string())?;
        f.set_len(bpfld_core::limits::MAX_FILE_SIZE as u64 + 4096)
            .map_err(|e| e.to_string())?;
        drop(f);
        run("fsverity", &["enable", &p])?;
        // Trusted, so that only the size can be the reason.
        trust(&p, true)?;
        expect_refusal(&p, libc::EFBIG, "oversized file")
    })())
}

/// Requests the module must refuse before touching the file.
pub fn refuse_bad_requests(_: &Env) -> Outcome {
    outcome((|| {
        let d = dev()?;
        let f = open(&obj_path("xdp.bpf.o"))?;
        // Options of a size no module has known, and larger ones with unknown fields set.
        let short_opts = uapi::BpfldLoadOpts {
            size: 8,
            ..Default::default()
        };
        let mut long_opts = [0u8; 64];
        long_opts[..4].copy_from_slice(&64u32.to_ne_bytes());
        long_opts[60] = 1;
        let base = uapi::BpfldLoad {
            size: std::mem::size_of::<uapi::BpfldLoad>() as u32,
            obj_fd: f.as_raw_fd(),
            prog_info_size: std::mem::size_of::<uapi::BpfldProgInfo>() as u32,
            map_info_size: std::mem::size_of::<uapi::BpfldMapInfo>() as u32,
            ..Default::default()
        };
        let cases: Vec<(&str, uapi::BpfldLoad, i32)> = vec![
            (
                "bad size",
                uapi::BpfldLoad { size: 8, ..base },
                libc::EINVAL,
            ),
            (
                "unknown flag",
                uapi::BpfldLoad {
                    flags: uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS << 1,
                    ..base
                },
                libc::EINVAL,
            ),
            (
                "opts size",
                uapi::BpfldLoad {
                    opts: &short_opts as *const uapi::BpfldLoadOpts as u64,
                    ..base
                },
                libc::EINVAL,
            ),
            (
                "opts with unknown fields",
                uapi::BpfldLoad {
                    opts: long_opts.as_ptr() as u64,
                    ..base
                },
                libc::E2BIG,
            ),
            (
                "statistics output not zero",
                uapi::BpfldLoad {
                    bpf_time_ns: 1,
                    ..base
                },
                libc::EINVAL,
            ),
            (
                "output not zero",
                uapi::BpfldLoad {
                    receipt: [1; 32],
                    ..base
                },
                libc::EINVAL,
            ),
            (
                "prog_info_size",
                uapi::BpfldLoad {
                    prog_info_size: 8,
                    ..base
                },
                libc::EINVAL,
            ),
            (
                "log size without buffer",
                uapi::BpfldLoad {
                    log_size: 100,
                    ..base
                },
                libc::EINVAL,
            ),
        ];
        for (what, mut req, errno) in cases {
            let before = Snapshot::take();
            // SAFETY: BPFLD_IOC_LOAD on a struct bpfld_load with no arrays (its options,
            // where given, are live and of the size they say).
            match unsafe { d.ioctl(uapi::BPFLD_IOC_LOAD, &mut req) } {
                Err(e) if e.raw_os_error() == Some(errno) => {}
                r => return Err(format!("{what}: {r:?}, want errno {errno}")),
            }
            if bpfld::dev::cstr(&req.err_msg).is_empty() {
                return Err(format!("{what}: no err_msg"));
            }
            before.unchanged().map_err(|e| format!("{what}: {e}"))?;
        }
        Ok(())
    })())
}

/// Enroll (or revoke) the digest of `path`, as computed by bpfld-core in user space.
fn trust(path: &str, enroll: bool) -> Result<(), String> {
    let verb = if enroll { "add" } else { "revoke" };
    run_cli(&["trust", verb, path]).map(|_| ())
}

pub fn trust_needs_admin(_: &Env) -> Outcome {
    outcome((|| {
        let bin = std::env::current_exe().map_err(|e| e.to_string())?;
        let st = std::process::Command::new(&bin)
            .args(["--child-nocap", "trust", &obj_path("xdp.bpf.o")])
            .status()
            .map_err(|e| e.to_string())?;
        match st.code() {
            Some(libc::EPERM) => Ok(()),
            c => Err(format!(
                "trust add without CAP_SYS_ADMIN: exit {c:?}, want EPERM"
            )),
        }
    })())
}

/// Child process: drop every capability, then try what `args` says; exit with the errno.
pub fn child_nocap(args: &[String]) -> i32 {
    let Ok(d) = Device::open(DEVICE) else {
        return 200;
    };
    let (what, path) = match args {
        [w, p] => (w.as_str(), p.as_str()),
        _ => return 201,
    };
    let Ok(f) = File::open(path) else { return 202 };
    let digest = bpfld::dev::digest_arg(uapi::BPFLD_HASH_SHA256, &[0x11; 32]).unwrap();
    if util::drop_all_caps().is_err() {
        return 203;
    }
    let before = Snapshot::take();
    let errno = match what {
        "trust" => d
            .trust_add(&digest)
            .err()
            .and_then(|e| e.raw_os_error())
            .unwrap_or(0),
        "load" => d
            .load(&f, &KLoadOpts::default())
            .err()
            .map(|e| e.errno)
            .unwrap_or(0),
        _ => return 204,
    };
    if before.unchanged().is_err() {
        return 205;
    }
    errno
}

pub fn enroll_corpus(env: &Env) -> Outcome {
    outcome((|| {
        for o in corpus_objects(env) {
            trust(&obj_path(&o), true)?;
        }
        let list = run_cli(&["trust", "list"])?;
        let n = list.lines().filter(|l| l.starts_with("enrolled ")).count();
        println!("# {n} digests enrolled");
        if n < corpus_objects(env).len() {
            return Err(format!("only {n} enrolled:\n{list}"));
        }
        Ok(())
    })())
}

/// examples/bpfld-load.c (the C example of Documentation/uapi.rst): load and pin,
/// then a refusal with the module's message.
/// Mount bpffs on /sys/fs/bpf unless it is mounted there.
pub fn mount_bpffs() -> Result<(), String> {
    if !Path::new("/sys/fs/bpf/.").exists() || std::fs::read_dir("/sys/fs/bpf").is_err() {
        let _ = run("mount", &["-t", "bpf", "bpf", "/sys/fs/bpf"]);
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts.lines().any(|l| l.contains(" /sys/fs/bpf bpf ")) {
        run("mount", &["-t", "bpf", "bpf", "/sys/fs/bpf"])?;
    }
    Ok(())
}

pub fn c_example(env: &Env) -> Outcome {
    outcome((|| {
        mount_bpffs()?;
        let tool = format!("{}/bpfld-load", env.corpus);
        let before = Snapshot::take();
        let out = run(&tool, &[&obj_path("xdp.bpf.o"), "/sys/fs/bpf/cex"])?;
        for want in [
            "prog_xdp_pass",
            "prog_xdp_count",
            "prog_xdp_frags",
            "map_proto_cnt",
        ] {
            if !Path::new(&format!("/sys/fs/bpf/cex/{want}")).exists() {
                return Err(format!("{want} not pinned; output:\n{out}"));
            }
        }
        let show = run(
            "bpftool",
            &["prog", "show", "pinned", "/sys/fs/bpf/cex/prog_xdp_pass"],
        )?;
        if !show.contains("xdp") {
            return Err(format!("bpftool prog show: {show}"));
        }
        run("rm", &["-rf", "/sys/fs/bpf/cex"])?;
        before.unchanged()?;
        match run(&tool, &[&obj_path("plain.o"), "/sys/fs/bpf/cex2"]) {
            Ok(o) => Err(format!("loaded a file without verity: {o}")),
            Err(e) if e.contains("fs-verity") => Ok(()),
            Err(e) => Err(format!("unexpected failure text: {e}")),
        }
    })())
}

/// The source of corpus object `obj`, whose `// bpfld:` lines direct its test.
fn obj_source(env: &Env, obj: &str) -> String {
    format!(
        "{}/selftests/progs/{}.c",
        env.root,
        obj.trim_end_matches(".o")
    )
}

/// The `// bpfld:` directives of an object's source `text` that say it must fail.
fn expected_failure(text: &str) -> Option<(Option<String>, i32)> {
    for line in text.lines() {
        // expect-fail: everyone refuses; module-fail: only the module does.
        let l = line.trim();
        let Some(rest) = l
            .strip_prefix("// bpfld: expect-fail")
            .or_else(|| l.strip_prefix("// bpfld: module-fail"))
        else {
            continue;
        };
        let mut prog = None;
        let mut errno = 0;
        for kv in rest.split_whitespace() {
            if let Some(p) = kv.strip_prefix("prog=") {
                prog = Some(p.to_string());
            }
            if let Some(e) = kv.strip_prefix("errno=") {
                errno = e.parse().unwrap_or(0);
            }
        }
        return Some((prog, errno));
    }
    None
}

/// Why the running kernel cannot run the programs of an object, whoever loaded them,
/// if it cannot: its source `text`'s `// bpfld: kernel-needs callbacks` or
/// `trampolines` against [`crate::util::kernel_limits`].
fn kernel_cannot_run(text: &str) -> Option<&'static str> {
    let limits = crate::util::kernel_limits();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("// bpfld: kernel-needs "))
        .find_map(|need| match need.trim() {
            "callbacks" => limits.callbacks,
            "trampolines" => limits.trampolines,
            _ => None,
        })
}

/// `receipt` is what `bpfld inspect` plans for `path` here, and not all zeros.
fn same_receipt(path: &str, receipt: &[u8; 32]) -> Result<(), String> {
    let text = bpfld::load::inspect(path).map_err(|e| format!("inspect: {}", e.msg))?;
    let want = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("receipt: "))
        .ok_or("inspect printed no receipt")?;
    let got = format_digest(uapi::BPFLD_HASH_SHA256, receipt);
    if *receipt == [0; 32] || got != want {
        return Err(format!("module receipt {got}, user space plans {want}"));
    }
    Ok(())
}

/// Load one corpus object through /dev/bpfld and check its behaviour with the same
/// directive engine the libbpf reference uses (`libbpf_dump --check-ids`).
pub fn load_object(env: &Env, obj: &str) -> Outcome {
    let path = obj_path(obj);
    let src = obj_source(env, obj);
    // No source: no directives (the directive run below then says so).
    let text = std::fs::read_to_string(&src).unwrap_or_default();
    if let Some((prog, errno)) = expected_failure(&text) {
        // bpfld loads an object whole or not at all: the failing program fails it.
        return outcome(expect_refusal(&path, errno, obj).map(|()| {
            if let Some(p) = prog {
                println!("# refused as a whole because of program {p}");
            }
        }));
    }
    let l = match load(&path) {
        Ok(l) => l,
        Err(e) => return fail(format!("{obj}: {e}")),
    };
    // The module's cost report must be coherent: some time, at most all of it in the
    // kernel's BPF commands (at least one program or map was created), and at least
    // the copy of what it read of the file (read_small_whole: the file without DWARF,
    // packed, or the whole of a file of at most 16 KiB).
    let st = l.stats;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let held = match bpfld::load::read_object(&path) {
        Ok(p) => p.bytes() as u64,
        Err(e) => return fail(format!("{obj}: {e}")),
    };
    if st.time_ns == 0
        || st.bpf_time_ns == 0
        || st.bpf_time_ns > st.time_ns
        || st.mem_bytes < held
        || held > size + 64
    {
        return fail(format!(
            "{obj}: incoherent load statistics {st:?} (file {size} bytes, {held} read)"
        ));
    }
    println!(
        "# {obj}: {} us, {} us in BPF commands, {} KiB",
        st.time_ns / 1000,
        st.bpf_time_ns / 1000,
        st.mem_bytes.div_ceil(1024)
    );
    // The module's receipt (hashed beside the commands for larger objects) is the one
    // the core computes in user space for the same file on the same kernel.
    if let Err(e) = same_receipt(&path, &l.receipt) {
        return fail(format!("{obj}: {e}"));
    }
    if let Some(why) = kernel_cannot_run(&text) {
        return Outcome::Skip(format!(
            "{obj} loaded, its receipt as planned; its programs not run: {why}"
        ));
    }
    let mut args = vec!["--check-ids".to_string(), src];
    for p in &l.progs {
        args.push("--prog".into());
        args.push(format!("{}={}", p.name, p.id));
    }
    for m in &l.maps {
        args.push("--map".into());
        args.push(format!("{}={}", m.name, m.id));
    }
    let harness = format!("{}/libbpf_dump", env.corpus);
    let out = std::process::Command::new(&harness).args(&args).output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return fail(format!("{harness}: {e}")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    for l in text.lines() {
        println!("# {l}");
    }
    if !out.status.success() || text.lines().any(|l| l.starts_with("not ok")) {
        return fail(format!(
            "{obj}: directives failed:\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    drop(l);
    Outcome::Pass
}

pub fn refuse_revoked(_: &Env) -> Outcome {
    outcome((|| {
        let p = obj_path("socket_filter.bpf.o");
        load(&p).map_err(|e| format!("before revocation: {e}"))?;
        trust(&p, false)?;
        // Revocation beats enrollment: enrolling again changes nothing.
        trust(&p, true)?;
        expect_refusal(&p, EKEYREVOKED, "revoked digest")
    })())
}

/// Corrupted copies of a real object, enrolled so that only the ELF is at fault.
pub fn refuse_malformed(env: &Env) -> Outcome {
    outcome((|| {
        let good =
            std::fs::read(format!("{}/subprogs.bpf.o", env.corpus)).map_err(|e| e.to_string())?;
        // (what, the file, errno, a part of the message)
        let mut cases: Vec<(&str, Vec<u8>, i32, &str)> = Vec::new();
        cases.push((
            "truncated",
            good[..good.len() / 2].to_vec(),
            libc::EINVAL,
            "",
        ));
        let mut m = good.clone();
        m[18] = 0x3e; // e_machine = x86-64
        cases.push(("not EM_BPF", m, libc::EINVAL, ""));
        let mut m = good.clone();
        m[5] = 2; // big-endian
        cases.push(("big-endian", m, libc::EOPNOTSUPP, ""));
        let mut m = good.clone();
        m[60] = 0xff; // e_shnum low byte
        m[61] = 0x7f;
        cases.push(("huge section count", m, libc::E2BIG, ""));
        cases.push(("empty", Vec::new(), libc::EINVAL, ""));
        // The BTF is checked in full beside the commands (ParseOptions::
        // defer_btf_checks; the parse checks its structure only): a bad name or record
        // must still refuse the load, with the full parse's message, whether the plan
        // reads it (a map definition's member name: the plan fails first) or nothing
        // does (a parameter name, an INT's width: the kernel refuses such a BTF, and
        // the full check then comes before the commands; where the kernel took it,
        // the commands would run and the load be undone).
        for (what, name, bad) in [
            (
                "BTF member name",
                "max_entries",
                "member name is not a valid identifier",
            ),
            (
                "BTF parameter name",
                "x",
                "parameter name is not a valid identifier",
            ),
        ] {
            let mut m = good.clone();
            let at = btf_string(&m, name)?;
            m[at] = b'-';
            cases.push((what, m, libc::EINVAL, bad));
        }
        // The array index type's width (nr_bits, the low byte of the INT's data word):
        // 255 bits in 4 bytes.
        let mut m = good.clone();
        let at = btf_int_data(&m, "__ARRAY_SIZE_TYPE__")?;
        m[at] = 0xff;
        cases.push((
            "BTF INT width",
            m,
            libc::EINVAL,
            "INT bits + offset exceed 128",
        ));
        // A plan that fails while the object's BTF is being loaded beside it (BTF of
        // 16 KiB or more: core_task's is 30 KiB): the BTF object is closed again.
        let mut m =
            std::fs::read(format!("{}/core_task.bpf.o", env.corpus)).map_err(|e| e.to_string())?;
        // A CO-RE access string of two or more indices ("0:92", a member of
        // task_struct) made "0:9:".
        let access = |s: &[u8]| {
            s.len() >= 4 && s.starts_with(b"0:") && s[2..].iter().all(u8::is_ascii_digit)
        };
        let at = btf_string_where(&m, access)?;
        let end = at + m[at..].iter().position(|&b| b == 0).unwrap_or(0);
        m[end - 1] = b':';
        cases.push((
            "CO-RE access string",
            m,
            libc::EINVAL,
            "CO-RE access string",
        ));
        // A fault that only the parse's second part (Object::parse_rest, the plan's
        // worker, beside BPF_BTF_LOAD) finds: a program relocation's offset made odd.
        // Its error is the parse's, and the BTF object is closed again.
        let mut m =
            std::fs::read(format!("{}/core_task.bpf.o", env.corpus)).map_err(|e| e.to_string())?;
        let at = first_prog_relocation(&m)?;
        m[at] |= 1;
        cases.push((
            "relocation offset",
            m,
            libc::EINVAL,
            "relocation offset outside the section or misaligned",
        ));
        for (what, bytes, errno, says) in cases {
            let p = obj_path(&format!("bad-{}.o", what.replace(' ', "-")));
            std::fs::write(&p, &bytes).map_err(|e| e.to_string())?;
            run("fsverity", &["enable", &p])?;
            trust(&p, true)?;
            expect_refusal_saying(&p, errno, says, what)?;
        }
        // A BTF the kernel refuses (the INT width above) is checked in full before any
        // command, not beside them: no map is made for the object it then refuses (the
        // kernel hands map ids out in order, so two probes around the load tell).
        let probe_id = || -> Result<u32, String> {
            let fd = util::create_array_map("probe").map_err(|e| format!("probe map: {e}"))?;
            bpfld::sys::obj_info::<bpfld::sys::MapInfo>(fd.as_raw_fd())
                .map(|i| i.id)
                .map_err(|e| format!("probe map info: {e}"))
        };
        let first = probe_id()?;
        let p = obj_path("bad-BTF-INT-width.o");
        expect_refusal_saying(
            &p,
            libc::EINVAL,
            "INT bits + offset exceed 128",
            "BTF INT width",
        )?;
        let made = probe_id()?.wrapping_sub(first).wrapping_sub(1);
        if made != 0 {
            return Err(format!(
                "BTF INT width: {made} map(s) created for an object refused for its BTF"
            ));
        }
        Ok(())
    })())
}

/// A file's name is whatever its caller made it: a load names the internal maps as
/// libbpf does (the name up to its first `.`, at most 8 of its bytes before the
/// section's name, each byte the kernel refuses in a name made `_`), also when libbpf's
/// 15-byte cut of the object name falls inside a UTF-8 character (which once made the
/// module cut a `str` there: a kernel BUG) and when the name is not UTF-8 at all; and
/// a newline in the name does not start a line of the kernel log (the module's line of
/// the load writes it `\x0a`).
pub fn object_names_any_bytes(env: &Env) -> Outcome {
    outcome((|| {
        use std::ffi::{OsStr, OsString};
        use std::os::unix::ffi::OsStrExt;
        let bytes = std::fs::read(format!("{}/global_data.bpf.o", env.corpus))
            .map_err(|e| e.to_string())?;
        let cases: [(&[u8], &str); 4] = [
            // 'é' is bytes 14 and 15 of the name: the 15-byte cut falls inside it.
            ("aaaaaaaaaaaaaa\u{e9}.bpf.o".as_bytes(), "aaaaaaaa"),
            // "été" in Latin-1: not UTF-8.
            (b"\xe9t\xe9.bpf.o", "_t_"),
            ("\u{e9}.bpf.o".as_bytes(), "__"),
            (b"x\nforged by the name.bpf.o", "x_forged"),
        ];
        // The digest of these files (one content), as fs-verity measures it.
        let mut digest = None;
        // The tags of the last one's programs, as the kernel reports them.
        let mut tags = Vec::new();
        for (name, prefix) in cases {
            let shown = String::from_utf8_lossy(name);
            let mut p = OsString::from(format!("{MNT}/"));
            p.push(OsStr::from_bytes(name));
            std::fs::write(&p, &bytes).map_err(|e| format!("{shown}: {e}"))?;
            let st = std::process::Command::new("fsverity")
                .arg("enable")
                .arg(&p)
                .status()
                .map_err(|e| format!("fsverity: {e}"))?;
            if !st.success() {
                return Err(format!("fsverity enable {shown}: {st}"));
            }
            let before = Snapshot::take();
            let f = File::open(&p).map_err(|e| format!("{shown}: {e}"))?;
            let l = dev()?
                .load(&f, &KLoadOpts::default())
                .map_err(|e| format!("{shown}: errno {}: {}", e.errno, e.msg))?;
            if digest.is_none() {
                digest = bpfld::verity::measure(&f);
            }
            if prefix == "x_forged" {
                for pr in &l.progs {
                    let info = bpfld::sys::obj_info::<bpfld::sys::ProgInfo>(pr.fd.as_raw_fd())
                        .map_err(|e| format!("{shown}: prog info of {}: {e}", pr.name))?;
                    tags.push(bpfld::parity::hex(&info.tag));
                }
            }
            // The kernel's names of the maps (KMap's is the object's).
            let mut names = Vec::new();
            for m in &l.maps {
                let info = bpfld::sys::obj_info::<bpfld::sys::MapInfo>(m.fd.as_raw_fd())
                    .map_err(|e| format!("{shown}: map info of {}: {e}", m.name))?;
                names.push(bpfld::dev::cstr(&info.name));
            }
            for sec in [".data", ".rodata", ".bss"] {
                let want = format!("{prefix}{sec}");
                if !names.contains(&want) {
                    return Err(format!("{shown}: no map {want} among {names:?}"));
                }
            }
            drop(l);
            drop(f);
            before.unchanged()?;
            std::fs::remove_file(&p).map_err(|e| format!("{shown}: {e}"))?;
        }
        // syslog(2) prints a record's embedded newline as a new line of its own.
        let mut buf = vec![0u8; 1 << 20];
        // SAFETY: SYSLOG_ACTION_READ_ALL (3) writes at most `buf.len()` bytes to `buf`.
        let n = unsafe { libc::klogctl(3, buf.as_mut_ptr().cast(), buf.len() as i32) };
        if n < 0 {
            return Err(format!("syslog: {}", std::io::Error::last_os_error()));
        }
        let log = String::from_utf8_lossy(&buf[..n as usize]);
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("forged by the name") && !l.contains("load by"))
        {
            return Err(format!("a file name started a log line: {line:?}"));
        }
        // Each load's line gives the file's digest as fs-verity measures it.
        let digest = digest.ok_or("fsverity measure failed")?;
        let want = format!("x\\x0aforged by the name.bpf.o' {digest}: ok: ");
        let Some(line) = log.lines().find(|l| l.contains(&want)) else {
            return Err(format!("no log line has {want:?}"));
        };
        // And each program's tag, as "name(tag)".
        if tags.is_empty() || tags.iter().any(|t| !line.contains(&format!("({t})"))) {
            return Err(format!("tags {tags:?} not all in {line:?}"));
        }
        if !log.contains("x\\x0aforged by the name") {
            return Err("the load of 'x\\nforged by the name.bpf.o' is not in the log".into());
        }
        // A name that is not UTF-8 is logged with its other bytes as \xNN, not as '?'.
        if !log.contains("\\xe9t\\xe9.bpf.o'") {
            return Err(
                "the load of the Latin-1 name is not in the log as '\\xe9t\\xe9.bpf.o'".into(),
            );
        }
        Ok(())
    })())
}

/// The file offset of the string `name` in the `.BTF` string section of `elf`.
fn btf_string(elf: &[u8], name: &str) -> Result<usize, String> {
    btf_string_where(elf, |s| s == name.as_bytes()).map_err(|e| format!("{e} {name:?}"))
}

/// The file offset of the data word (encoding, offset, bits) of the `.BTF` INT named
/// `name` in `elf`, found by walking the records as the kernel lays them out.
fn btf_int_data(elf: &[u8], name: &str) -> Result<usize, String> {
    use bpfld_core::btf::{BtfKind, BTF_TYPE_LEN};
    let name_at = btf_string(elf, name)?;
    let (base, data, hdr) = btf_section(elf)?;
    let (types, strs) = (hdr.type_range(), hdr.str_range());
    let word = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let mut at = types.start;
    while at < types.end {
        let (name_off, info) = (word(at).ok_or("BTF")?, word(at + 4).ok_or("BTF")?);
        let kind = BtfKind::from_u32((info >> 24) & 0x1f).ok_or("BTF kind")?;
        if kind == BtfKind::Int && base + strs.start + name_off as usize == name_at {
            return Ok(base + at + BTF_TYPE_LEN);
        }
        at += BTF_TYPE_LEN + kind.extra_len((info & 0xffff) as u16);
    }
    Err(format!("no BTF INT {name:?}"))
}

/// The file offset of the first relocation entry (its `r_offset`, the entry's first
/// field) in a relocation section of one of `elf`'s programs.
fn first_prog_relocation(elf: &[u8]) -> Result<usize, String> {
    let mut a = bpfld_core::mem::VecAlloc::default();
    let e = bpfld_core::elf::Elf::parse(elf, &mut a).map_err(|e| e.to_string())?;
    let secs: Vec<_> = e.sections().flatten().collect();
    let rel = secs
        .iter()
        .find(|r| {
            r.kind() == bpfld_core::elf::SHT_REL
                && !r.data.is_empty()
                && secs.iter().any(|s| s.index == r.hdr.sh_info && s.is_exec())
        })
        .ok_or("no relocation section of a program")?;
    Ok(rel.data.as_ptr() as usize - elf.as_ptr() as usize)
}

/// The `.BTF` section of `elf`: its file offset, its bytes and its header.
fn btf_section(elf: &[u8]) -> Result<(usize, &[u8], bpfld_core::btf::Header), String> {
    let mut a = bpfld_core::mem::VecAlloc::default();
    let e = bpfld_core::elf::Elf::parse(elf, &mut a).map_err(|e| e.to_string())?;
    let sec = e
        .sections()
        .flatten()
        .find(|s| s.name == ".BTF")
        .ok_or("no .BTF")?;
    let base = sec.data.as_ptr() as usize - elf.as_ptr() as usize;
    let hdr = bpfld_core::btf::Header::parse(sec.data).map_err(|e| e.to_string())?;
    Ok((base, sec.data, hdr))
}

/// The file offset of the first string of the `.BTF` string section of `elf` for which
/// `pred` holds.
fn btf_string_where(elf: &[u8], pred: impl Fn(&[u8]) -> bool) -> Result<usize, String> {
    let (base, data, hdr) = btf_section(elf)?;
    let range = hdr.str_range();
    let strs = data.get(range.clone()).ok_or(".BTF strings out of range")?;
    let mut at = 0;
    for s in strs.split(|&b| b == 0) {
        if pred(s) {
            return Ok(base + range.start + at);
        }
        at += s.len() + 1;
    }
    Err("no such BTF string".into())
}

pub fn verifier_reject(_: &Env) -> Outcome {
    outcome((|| {
        let p = obj_path("reject.bpf.o");
        let before = Snapshot::take();
        match load(&p) {
            Ok(_) => return Err("reject.bpf.o loaded".into()),
            Err(e) => {
                if e.errno != libc::EACCES {
                    return Err(format!("errno {}, want EACCES: {e}", e.errno));
                }
                if !e.msg.contains("bad_read") || !e.msg.contains("BPF_PROG_LOAD") {
                    return Err(format!(
                        "message does not name the program and step: {}",
                        e.msg
                    ));
                }
                if e.log.trim().is_empty() {
                    return Err("no verifier log returned".into());
                }
                println!("# {}", e.msg);
                println!("# log: {}", e.log.lines().last().unwrap_or(""));
            }
        }
        before.unchanged()
    })())
}

pub fn no_cap_bpf(_: &Env) -> Outcome {
    outcome((|| {
        let bin = std::env::current_exe().map_err(|e| e.to_string())?;
        let st = std::process::Command::new(&bin)
            .args(["--child-nocap", "load", &obj_path("xdp.bpf.o")])
            .status()
            .map_err(|e| e.to_string())?;
        match st.code() {
            Some(libc::EPERM) => Ok(()),
            c => Err(format!(
                "load without capabilities: exit {c:?} (signal {:?}), want EPERM (and no leak)",
                std::os::unix::process::ExitStatusExt::signal(&st)
            )),
        }
    })())
}

/// Typeless ksyms are looked up as the caller (bpf_kallsyms_lookup_name() in a
/// program the module loads): with kptr_restrict=2 nobody may see kernel addresses,
/// and the load is refused naming the extern, leaving nothing behind (the lookup
/// program included); with kptr_restrict back, the same object loads.
pub fn ksym_addresses_hidden(_: &Env) -> Outcome {
    const KPTR: &str = "/proc/sys/kernel/kptr_restrict";
    let old = match std::fs::read_to_string(KPTR) {
        Ok(v) => v,
        Err(e) => return Outcome::Fail(format!("{KPTR}: {e}")),
    };
    let path = obj_path("ext_ksym_addr.bpf.o");
    let hidden = std::fs::write(KPTR, "2")
        .map_err(|e| format!("{KPTR}: {e}"))
        .and_then(|()| {
            expect_refusal_saying(
                &path,
                libc::EOPNOTSUPP,
                "extern 'bpf_prog_put': unsupported: kernel symbol addresses are hidden",
                "kptr_restrict=2",
            )
        });
    let restored = std::fs::write(KPTR, old.trim()).map_err(|e| format!("{KPTR}: {e}"));
    outcome(hidden.and(restored).and_then(|()| {
        load(&path)
            .map(drop)
            .map_err(|e| format!("kptr_restrict={}: {e}", old.trim()))
    }))
}

/// Load the object at `path` (`name` in messages), run its first program once
/// (BPF_PROG_TEST_RUN on a 64-byte packet), and read the first `size` bytes of its
/// global-data map whose name ends with `map_suffix` (".bss", ".data"): the load, still
/// held, and those bytes.
fn run_and_read_global(
    path: &str,
    name: &str,
    map_suffix: &str,
    size: usize,
) -> Result<(KLoad, Vec<u8>), String> {
    let l = load(path).map_err(|e| format!("{name}: {e}"))?;
    let p = l.progs.first().ok_or(format!("{name}: no program"))?;
    let map = l
        .maps
        .iter()
        .find(|m| m.name.ends_with(map_suffix))
        .ok_or(format!("{name}: no {map_suffix} map"))?;
    util::prog_test_run(p.fd.as_raw_fd(), &[0u8; 64])
        .map_err(|e| format!("{name}: BPF_PROG_TEST_RUN: {e}"))?;
    let v = util::map_lookup(map.fd.as_raw_fd(), 0, size)
        .map_err(|e| format!("{name}: {map_suffix} lookup: {e}"))?;
    Ok((l, v))
}

/// Run `f` with BPF object `fd` pinned at `pin` (bpffs mounted), unpinned after.
fn with_pin<T>(fd: i32, pin: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    mount_bpffs()?;
    let _ = std::fs::remove_file(pin);
    bpfld::sys::obj_pin(fd, pin).map_err(|e| format!("pin {pin}: {e}"))?;
    let r = f();
    std::fs::remove_file(pin).map_err(|e| format!("unpin {pin}: {e}"))?;
    r
}

/// [`expect_refusal_saying`] for a load of the open `obj` with load options.
fn expect_refusal_with(
    d: &Device,
    obj: &File,
    extra: &KLoadExtra<'_>,
    errno: i32,
    says: &str,
    what: &str,
) -> Result<(), String> {
    let before = Snapshot::take();
    refused(
        d.load_with(obj, &KLoadOpts::default(), extra),
        errno,
        says,
        what,
    )?;
    before.unchanged().map_err(|e| format!("{what}: {e}"))
}

/// A first load of `f`, with its map `map` taken out of it (the rest of the load is
/// the caller's to drop: the map then holds the only references to what its slots
/// hold).
fn load_taking_map(d: &Device, f: &File, map: &str) -> Result<(KLoad, bpfld::dev::KMap), String> {
    let mut l = d
        .load(f, &KLoadOpts::default())
        .map_err(|e| format!("first load: {e}"))?;
    let at = l
        .maps
        .iter()
        .position(|m| m.name == map)
        .ok_or(format!("first load: no map {map}"))?;
    let m = l.maps.swap_remove(at);
    Ok((l, m))
}

/// The id of `l`'s program `name`.
fn prog_id(l: &KLoad, name: &str) -> Result<u32, String> {
    l.progs
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.id)
        .ok_or(format!("no program {name}"))
}

/// A load of `f` with `extra` and room for `n` more fds in this process, which must
/// fail with EMFILE once the executor is done.
fn expect_emfile_with_room(
    d: &Device,
    f: &File,
    extra: &KLoadExtra<'_>,
    n: i32,
) -> Result<(), String> {
    match with_fd_room(n, || d.load_with(f, &KLoadOpts::default(), extra))? {
        Ok(_) => Err(format!(
            "second load with {n} free fds: loaded, want EMFILE"
        )),
        Err(e) if e.errno == libc::EMFILE => {
            println!("# second load: errno {} ({})", e.errno, e.msg);
            Ok(())
        }
        Err(e) => Err(format!("second load: {e}, want EMFILE")),
    }
}

/// A program array passed for reuse is left as it was by a failed load:
/// tail_calls.bpf.o fills slots 0 and 2 of `jmp_table` once its programs are loaded
/// (as libbpf does, also in a reused map). The first load's `jmp_table` keeps that
/// load's `tail_a` in slot 0, referenced by the map alone (the first load's other fds
/// closed), and slot 2 is emptied. A second load passed the map fails for want of fds
/// in the caller (EMFILE, after the executor wrote both slots): slot 0 holds the first
/// `tail_a` again, slot 2 is empty, and no program or map is left in the system. A
/// third load that succeeds leaves its programs there, and the first `tail_a`, which
/// only the slot held, is freed.
pub fn reused_prog_array_failed_load(_: &Env) -> Outcome {
    use std::os::fd::AsFd;
    outcome((|| {
        let d = dev()?;
        let f = open(&obj_path("tail_calls.bpf.o"))?;
        let (first, jmp) = load_taking_map(&d, &f, "jmp_table")?;
        let tail_a = prog_id(&first, "tail_a").map_err(|e| format!("first load: {e}"))?;
        drop(first);
        let jfd = jmp.fd.as_raw_fd();
        let slot =
            |k: u32| bpfld::sys::prog_array_slot(jfd, k).map_err(|e| format!("slot {k}: {e}"));
        if slot(0)? != Some(tail_a) {
            return Err(format!(
                "first load: jmp_table[0] holds {:?}, want tail_a's id {tail_a}",
                slot(0)?
            ));
        }
        if slot(2)?.is_none() {
            return Err("first load: jmp_table[2] empty".into());
        }
        bpfld::sys::map_delete(jfd, 2).map_err(|e| format!("delete slot 2: {e}"))?;
        let extra = reusing(vec![("jmp_table", jmp.fd.as_fd())]);
        let before = Snapshot::take();
        // Room for three new fds in this process: the load needs four programs and
        // two more maps.
        expect_emfile_with_room(&d, &f, &extra, 3)?;
        if slot(0)? != Some(tail_a) {
            return Err(format!(
                "after the failed load jmp_table[0] holds {:?}, want the first tail_a's \
                 id {tail_a} back",
                slot(0)?
            ));
        }
        if let Some(id) = slot(2)? {
            return Err(format!(
                "after the failed load jmp_table[2] holds program id {id}, want empty"
            ));
        }
        before
            .unchanged()
            .map_err(|e| format!("after the failed load: {e}"))?;

        let ok = d
            .load_with(&f, &KLoadOpts::default(), &extra)
            .map_err(|e| format!("third load: {e}"))?;
        for (k, name) in [(0, "tail_a"), (2, "tail_b")] {
            let p = ok
                .progs
                .iter()
                .find(|p| p.name == name)
                .ok_or(format!("third load: no program {name}"))?;
            if slot(k)? != Some(p.id) {
                return Err(format!(
                    "third load: jmp_table[{k}] holds {:?}, want {name}'s id {}",
                    slot(k)?,
                    p.id
                ));
            }
        }
        // Freed after a grace period: the slot's reference was its last.
        let t0 = std::time::Instant::now();
        while bpfld::sys::prog_fd_by_id(tail_a).is_ok() {
            if t0.elapsed() > std::time::Duration::from_secs(20) {
                return Err(format!(
                    "third load: the first tail_a (id {tail_a}), replaced in jmp_table[0], \
                     still exists after 20 s"
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        println!(
            "# jmp_table id {}: slot 0 back to tail_a id {tail_a} and slot 2 empty after \
             the failed load, both the next load's after it; tail_a freed",
            jmp.id
        );
        Ok(())
    })())
}

/// One program array of the caller's passed for two of the object's maps
/// (selftests/stress/two_jmp_tables.bpf.c: `jmp_a` and `jmp_b`, each with its slot 0
/// filled): the load writes the map's slot 0 twice, `to_a` then `to_b`. The map is the
/// first load's `jmp_a`, whose slot 0 holds that load's `to_a` (its fd closed). A load
/// failing after the executor (EMFILE) undoes the second write first, then the first:
/// slot 0 holds the first `to_a` again, none of the failed load's programs. A load that
/// succeeds leaves its `to_b` there (the last write, as libbpf's would).
pub fn reused_prog_array_written_twice(env: &Env) -> Outcome {
    use std::os::fd::AsFd;
    outcome((|| {
        let d = dev()?;
        let path = crate::stress::guest_object(env, "two_jmp_tables")?;
        let f = open(&path)?;
        let (first, jmp) = load_taking_map(&d, &f, "jmp_a")?;
        let to_a = prog_id(&first, "to_a").map_err(|e| format!("first load: {e}"))?;
        drop(first);
        let jfd = jmp.fd.as_raw_fd();
        let slot0 = || bpfld::sys::prog_array_slot(jfd, 0).map_err(|e| format!("slot 0: {e}"));
        if slot0()? != Some(to_a) {
            return Err(format!(
                "first load: jmp_a[0] holds {:?}, want to_a's id {to_a}",
                slot0()?
            ));
        }
        let extra = reusing(vec![("jmp_a", jmp.fd.as_fd()), ("jmp_b", jmp.fd.as_fd())]);
        let before = Snapshot::take();
        // Three programs and the two maps' fds: room for three.
        expect_emfile_with_room(&d, &f, &extra, 3)?;
        if slot0()? != Some(to_a) {
            return Err(format!(
                "after the failed load the map's slot 0 holds {:?}, want the first to_a's id \
                 {to_a} back",
                slot0()?
            ));
        }
        before
            .unchanged()
            .map_err(|e| format!("after the failed load: {e}"))?;
        let ok = d
            .load_with(&f, &KLoadOpts::default(), &extra)
            .map_err(|e| format!("third load: {e}"))?;
        let to_b = prog_id(&ok, "to_b").map_err(|e| format!("third load: {e}"))?;
        if slot0()? != Some(to_b) {
            return Err(format!(
                "third load: slot 0 holds {:?}, want its to_b's id {to_b}",
                slot0()?
            ));
        }
        println!(
            "# map id {}: slot 0 back to to_a id {to_a} after the failed load, the next \
             load's to_b id {to_b} after it",
            jmp.id
        );
        Ok(())
    })())
}

/// Run `f` with room for only `n` more fds in this process (`RLIMIT_NOFILE` lowered
/// to the lowest free fd + `n`, restored after).
fn with_fd_room<T>(n: i32, f: impl FnOnce() -> T) -> Result<T, String> {
    let probe = open("/")?;
    // SAFETY: F_DUPFD of an open fd; the copy is closed at once.
    let lowest = unsafe { libc::fcntl(probe.as_raw_fd(), libc::F_DUPFD, 0) };
    if lowest < 0 {
        return Err(format!("F_DUPFD: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the fd just made.
    unsafe { libc::close(lowest) };
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads this process's limit into `old`.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) };
    let low = libc::rlimit {
        rlim_cur: (lowest + n) as libc::rlim_t,
        rlim_max: old.rlim_max,
    };
    // SAFETY: lowers the soft limit only; restored right after `f`.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &low) };
    let r = f();
    // SAFETY: restores the limit read above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &old) };
    drop(probe);
    Ok(r)
}

/// Load options with these maps to reuse.
fn reusing<'f>(reuse: Vec<(&'f str, std::os::fd::BorrowedFd<'f>)>) -> KLoadExtra<'f> {
    KLoadExtra {
        reuse,
        ..KLoadExtra::default()
    }
}

/// The sum over the possible CPUs of a per-CPU array's u64 at `key`.
fn percpu_u64_sum(fd: i32, key: u32) -> Result<u64, String> {
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .map_err(|e| format!("possible CPUs: {e}"))?;
    // "0-N" (or "0"): N + 1 CPUs.
    let last = possible.trim().rsplit(['-', ',']).next().unwrap_or("0");
    let cpus = last
        .parse::<usize>()
        .map_err(|e| format!("{possible:?}: {e}"))?
        + 1;
    let v = util::map_lookup(fd, key, 8 * cpus).map_err(|e| format!("lookup: {e}"))?;
    Ok(v.chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
        .sum())
}

/// A load of `obj` with these options' `autoload` entries set as given, field by
/// field (`load` and `reserved` as they are), with the options struct `opts_size` bytes
/// long: what `Device::load_with` cannot express. The names of the programs loaded
/// (whose fds are closed), or the errno and message.
fn load_raw_autoload(
    d: &Device,
    obj: &File,
    entries: &[(&str, u32, u32)],
    opts_size: u32,
) -> Result<Vec<String>, (i32, String)> {
    let autoload: Vec<uapi::BpfldProgAutoload> = entries
        .iter()
        .map(|(name, load, reserved)| uapi::BpfldProgAutoload {
            prog: bpfld::dev::name_arg(name),
            load: *load,
            reserved: *reserved,
        })
        .collect();
    let opts = uapi::BpfldLoadOpts {
        size: opts_size,
        autoload_cnt: autoload.len() as u32,
        autoload_size: std::mem::size_of::<uapi::BpfldProgAutoload>() as u32,
        autoload: autoload.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: all-zero is valid for these plain structs.
    let mut progs: [uapi::BpfldProgInfo; 4] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut maps: [uapi::BpfldMapInfo; 4] = unsafe { std::mem::zeroed() };
    let mut req = uapi::BpfldLoad {
        size: std::mem::size_of::<uapi::BpfldLoad>() as u32,
        obj_fd: obj.as_raw_fd(),
        prog_info_size: std::mem::size_of::<uapi::BpfldProgInfo>() as u32,
        progs: progs.as_mut_ptr() as u64,
        progs_cnt: progs.len() as u32,
        map_info_size: std::mem::size_of::<uapi::BpfldMapInfo>() as u32,
        maps: maps.as_mut_ptr() as u64,
        maps_cnt: maps.len() as u32,
        opts: &opts as *const uapi::BpfldLoadOpts as u64,
        ..Default::default()
    };
    // SAFETY: BPFLD_IOC_LOAD on a struct bpfld_load whose arrays, options and their
    // autoload entries are live and of the sizes stated (a smaller `opts_size` only
    // makes the module read less of `opts`).
    let r = unsafe { d.ioctl(uapi::BPFLD_IOC_LOAD, &mut req) };
    match r {
        Ok(_) => {
            let progs = &progs[..(req.progs_cnt as usize).min(progs.len())];
            for p in progs {
                // SAFETY: fds the module installed in this process, closed once here.
                drop(unsafe { OwnedFd::from_raw_fd(p.fd) });
            }
            for m in &maps[..(req.maps_cnt as usize).min(maps.len())] {
                // SAFETY: as above.
                drop(unsafe { OwnedFd::from_raw_fd(m.fd) });
            }
            Ok(progs.iter().map(|p| bpfld::dev::cstr(&p.name)).collect())
        }
        Err(e) => Err((
            e.raw_os_error().unwrap_or(0),
            bpfld::dev::cstr(&req.err_msg),
        )),
    }
}

/// The load options' `autoload` (libbpf's `bpf_program__set_autoload()`). autoload.bpf.o
/// loads `xdp_always` alone by default (its other programs are in `?` sections). Turned
/// on, `tc_optional` loads beside it; `xdp_always` turned off and `tc_optional` on
/// loads `tc_optional` alone. Each load's receipt and tags are those of the user-space
/// executor with the same settings, and each leaves nothing behind once closed.
/// `xdp_bad` turned on fails at the verifier (`EACCES`) with nothing created;
/// tail_calls.bpf.o's `tail_a`, which its program array holds, cannot be turned off
/// (`EINVAL`, naming both), its `tail_miss` can. A name
/// the object lacks (`ENOENT`), a name given twice, `load` 2 and a set `reserved`
/// (`EINVAL`) are refused, naming the entry. Options of the first version's size (40
/// bytes) are read only that far: their `autoload` is not seen. `bpfld load --enable
/// --disable` does the same from the command line.
pub fn autoload_option(_: &Env) -> Outcome {
    outcome((|| {
        let d = dev()?;
        let path = obj_path("autoload.bpf.o");
        let f = open(&path)?;
        let names = |progs: &[String]| progs.join(",");
        let cases: [(&[(&str, bool)], &str); 4] = [
            (&[], "xdp_always"),
            (&[("tc_optional", true)], "xdp_always,tc_optional"),
            (
                &[("xdp_always", false), ("tc_optional", true)],
                "tc_optional",
            ),
            (&[("xdp_always", true), ("custom_off", false)], "xdp_always"),
        ];
        for (settings, want) in cases {
            let what = format!("autoload {settings:?}");
            let before = Snapshot::take();
            let extra = KLoadExtra {
                autoload: settings.to_vec(),
                ..KLoadExtra::default()
            };
            let l = d
                .load_with(&f, &KLoadOpts::default(), &extra)
                .map_err(|e| format!("{what}: {e}"))?;
            let got: Vec<String> = l.progs.iter().map(|p| p.name.clone()).collect();
            if names(&got) != want {
                return Err(format!("{what}: loaded {}, want {want}", names(&got)));
            }
            let lo = bpfld::load::LoadOpts {
                autoload: settings.iter().map(|(n, b)| (n.to_string(), *b)).collect(),
                ..Default::default()
            };
            let u = bpfld::load::load_userspace_with(&path, &lo)
                .map_err(|e| format!("{what}, user space: {e}"))?;
            if u.receipt != l.receipt {
                return Err(format!(
                    "{what}: module receipt {}, user space {}",
                    format_digest(uapi::BPFLD_HASH_SHA256, &l.receipt),
                    format_digest(uapi::BPFLD_HASH_SHA256, &u.receipt)
                ));
            }
            for (k, p) in l.progs.iter().zip(u.progs.iter()) {
                if k.name != p.name || k.tag != p.tag {
                    return Err(format!(
                        "{what}: module {} tag {:02x?}, user space {} tag {:02x?}",
                        k.name, k.tag, p.name, p.tag
                    ));
                }
            }
            println!(
                "# {what}: {} loaded, receipt {}",
                names(&got),
                format_digest(uapi::BPFLD_HASH_SHA256, &l.receipt)
            );
            drop(l);
            drop(u);
            before.unchanged().map_err(|e| format!("{what}: {e}"))?;
        }
        let with = |a: &[(&'static str, bool)]| KLoadExtra {
            autoload: a.to_vec(),
            ..KLoadExtra::default()
        };
        expect_refusal_with(
            &d,
            &f,
            &with(&[("xdp_bad", true)]),
            libc::EACCES,
            "xdp_bad",
            "xdp_bad turned on",
        )?;
        // A program a program array's `.values` hold cannot be left out; another can.
        let tc = open(&obj_path("tail_calls.bpf.o"))?;
        expect_refusal_with(
            &d,
            &tc,
            &with(&[("tail_a", false)]),
            libc::EINVAL,
            "map 'jmp_table': prog 'tail_a': prog array slot refers to a program that is not loaded",
            "tail_calls.bpf.o without tail_a",
        )?;
        let l = d
            .load_with(&tc, &KLoadOpts::default(), &with(&[("tail_miss", false)]))
            .map_err(|e| format!("tail_calls.bpf.o without tail_miss: {e}"))?;
        let got: Vec<&str> = l.progs.iter().map(|p| p.name.as_str()).collect();
        if got.contains(&"tail_miss") || got.len() != 3 {
            return Err(format!(
                "tail_calls.bpf.o without tail_miss: loaded {got:?}"
            ));
        }
        drop(l);
        expect_refusal_with(
            &d,
            &f,
            &with(&[("no_such_prog", true)]),
            libc::ENOENT,
            "autoload 'no_such_prog': the object has no such entry program",
            "a program the object lacks",
        )?;
        expect_refusal_with(
            &d,
            &f,
            &with(&[("tc_optional", true), ("tc_optional", false)]),
            libc::EINVAL,
            "autoload 'tc_optional': named twice",
            "a program named twice",
        )?;
        let full = std::mem::size_of::<uapi::BpfldLoadOpts>() as u32;
        for (what, entries, says) in [
            (
                "load 2",
                [("tc_optional", 2, 0)],
                "load 2 is neither 0 nor 1",
            ),
            ("reserved", [("tc_optional", 1, 7)], "reserved must be zero"),
            ("an empty name", [("", 1, 0)], "name empty"),
        ] {
            let before = Snapshot::take();
            match load_raw_autoload(&d, &f, &entries, full) {
                Err((libc::EINVAL, msg)) if msg.contains(says) => {
                    println!("# {what}: EINVAL ({msg})")
                }
                Err((errno, msg)) => {
                    return Err(format!(
                        "{what}: errno {errno} {msg:?}, want EINVAL {says:?}"
                    ))
                }
                Ok(_) => return Err(format!("{what}: loaded, want EINVAL")),
            }
            before.unchanged().map_err(|e| format!("{what}: {e}"))?;
        }
        // The first version's options: 40 bytes, which end before `autoload_cnt`.
        let ver0 = uapi::BPFLD_LOAD_OPTS_SIZE_VER0;
        let got = load_raw_autoload(&d, &f, &[("tc_optional", 1, 0)], ver0)
            .map_err(|(e, m)| format!("options of {ver0} bytes: errno {e} {m}"))?
            .join(",");
        if got != "xdp_always" {
            return Err(format!(
                "options of {ver0} bytes: loaded {got}, want xdp_always (autoload unread)"
            ));
        }
        // Between the two sizes: `autoload_cnt` is read, `autoload_size` is not (0).
        match load_raw_autoload(&d, &f, &[("tc_optional", 1, 0)], ver0 + 4) {
            Err((libc::EINVAL, m)) if m.contains("autoload_size 0 unknown") => {}
            r => {
                return Err(format!(
                    "options of {} bytes: {:?}, want EINVAL autoload_size 0",
                    ver0 + 4,
                    r
                ))
            }
        }
        // The command line.
        let out = run_cli(&[
            "load",
            "--enable",
            "tc_optional",
            "--disable",
            "xdp_always",
            &path,
        ])?;
        let progs: Vec<&str> = out.lines().filter(|l| l.starts_with("prog ")).collect();
        if progs.len() != 1 || !progs[0].starts_with("prog tc_optional ") {
            return Err(format!("bpfld load --enable --disable: {progs:?}"));
        }
        Ok(())
    })())
}

/// Maps the caller passes for reuse (`struct bpfld_map_reuse`, as libbpf reuses a map
/// pinned by name): a second load of xdp.bpf.o given the first's `proto_cnt` creates no
/// map of that name, reports the first's (same id, `BPFLD_MAP_REUSED`), and its
/// program counts into it. A map of another definition, a name the object lacks, a
/// global data map, an fd that is no map and a name given twice are refused before
/// anything is created, each naming the map; nothing leaks.
pub fn map_reuse(_: &Env) -> Outcome {
    use std::os::fd::{AsFd, BorrowedFd};
    outcome((|| {
        let d = dev()?;
        let opts = KLoadOpts::default();
        let f = open(&obj_path("xdp.bpf.o"))?;
        let first = d.load(&f, &opts).map_err(|e| format!("first load: {e}"))?;
        let shared = first
            .maps
            .iter()
            .find(|m| m.name == "proto_cnt")
            .ok_or("first load: no map proto_cnt")?;
        if shared.reused {
            return Err("first load: proto_cnt reported as reused".into());
        }
        let before = Snapshot::take();
        let second = d
            .load_with(&f, &opts, &reusing(vec![("proto_cnt", shared.fd.as_fd())]))
            .map_err(|e| format!("second load: {e}"))?;
        let m = second
            .maps
            .iter()
            .find(|m| m.name == "proto_cnt")
            .ok_or("second load: no map proto_cnt")?;
        if !m.reused || m.id != shared.id {
            return Err(format!(
                "second load: proto_cnt id {} reused {}, want id {} reused",
                m.id, m.reused, shared.id
            ));
        }
        let created = second.maps.iter().filter(|m| !m.reused).count();
        let now = Snapshot::take();
        if now.maps != before.maps + created {
            return Err(format!(
                "second load: {} maps more in the system, want {created} (none for proto_cnt)",
                now.maps - before.maps
            ));
        }
        let count = second
            .progs
            .iter()
            .find(|p| p.name == "xdp_count")
            .ok_or("second load: no program xdp_count")?;
        let was = percpu_u64_sum(shared.fd.as_raw_fd(), 0)?;
        util::prog_test_run(count.fd.as_raw_fd(), &[0u8; 64])
            .map_err(|e| format!("BPF_PROG_TEST_RUN: {e}"))?;
        let is = percpu_u64_sum(shared.fd.as_raw_fd(), 0)?;
        if is != was + 1 {
            return Err(format!(
                "the second load's xdp_count run: the first's proto_cnt[0] {was} -> {is}, want +1"
            ));
        }
        println!(
            "# proto_cnt id {} shared: the second load's run counted into it ({was} -> {is})",
            m.id
        );
        drop(second);

        // The CLI: `bpfld load --reuse-map` of a pin reports the pinned map reused.
        let pin = "/sys/fs/bpf/bpfld-reuse-proto_cnt";
        let out = with_pin(shared.fd.as_raw_fd(), pin, || {
            run_cli(&[
                "load",
                "--reuse-map",
                &format!("proto_cnt={pin}"),
                &obj_path("xdp.bpf.o"),
            ])
        })?;
        // BPF_MAP_TYPE_PERCPU_ARRAY
        let line = "map proto_cnt type 6 ";
        if !out
            .lines()
            .any(|l| l.starts_with(line) && l.contains(&format!("id {} reused", shared.id)))
        {
            return Err(format!(
                "bpfld load --reuse-map: no reused proto_cnt id {} in:\n{out}",
                shared.id
            ));
        }

        // `pinning = LIBBPF_PIN_BY_NAME`: the first `bpfld load` pins the new map at
        // ROOT/NAME, the next reuses it, as libbpf does.
        let root = "/sys/fs/bpf/bpfld-byname";
        let _ = std::fs::remove_dir_all(root);
        std::fs::create_dir_all(root).map_err(|e| format!("{root}: {e}"))?;
        let by_name = || -> Result<(String, String), String> {
            let args = [
                "load",
                "--pin-root-path",
                root,
                &obj_path("maps_attrs.bpf.o"),
            ];
            let first = run_cli(&args)?;
            let second = run_cli(&args)?;
            Ok((first, second))
        };
        let res = by_name();
        let pin = format!("{root}/bpfld_st_pinned");
        let pinned = bpfld::loaddir::obj_get(std::path::Path::new(&pin))
            .map_err(|e| format!("BPF_OBJ_GET {pin}: {e}"))
            .and_then(|fd| {
                bpfld::sys::obj_info::<bpfld::sys::MapInfo>(fd.as_raw_fd())
                    .map_err(|e| format!("{pin}: {e}"))
            });
        let _ = std::fs::remove_dir_all(root);
        let (first, second) = res?;
        let id = pinned?.id;
        let line = |out: &str| {
            out.lines()
                .find(|l| l.starts_with("map bpfld_st_pinned "))
                .map(str::to_string)
                .unwrap_or_default()
        };
        if !line(&first).ends_with(&format!("id {id} pinned {pin}")) {
            return Err(format!(
                "first load by name: want id {id} pinned {pin}:\n{first}"
            ));
        }
        if !line(&second).ends_with(&format!("id {id} reused")) {
            return Err(format!(
                "second load by name: want id {id} reused:\n{second}"
            ));
        }
        println!("# maps_attrs' bpfld_st_pinned pinned by name as {pin} (id {id}), then reused");

        // Refusals: errno, the message's words, nothing created or left.
        let other = util::create_array_map("bpfld_reuse").map_err(|e| e.to_string())?;
        let g = open(&obj_path("global_data.bpf.o"))?;
        let gl = d.load(&g, &opts).map_err(|e| format!("global_data: {e}"))?;
        let data_map = gl
            .maps
            .iter()
            .find(|m| m.name.ends_with(".bss") || m.name.ends_with(".data"))
            .ok_or("global_data: no .bss or .data map")?
            .name
            .clone();
        drop(gl);
        let file = open(&obj_path("xdp.bpf.o"))?;
        // (what, object, maps to reuse, errno, words of the message)
        type Case<'c> = (
            &'c str,
            &'c File,
            Vec<(&'c str, BorrowedFd<'c>)>,
            i32,
            &'c str,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "another definition",
                &f,
                vec![("proto_cnt", other.as_fd())],
                libc::EINVAL,
                "map_type",
            ),
            (
                "no such map",
                &f,
                vec![("no_such_map", shared.fd.as_fd())],
                libc::ENOENT,
                "no_such_map",
            ),
            (
                "global data",
                &g,
                vec![(data_map.as_str(), other.as_fd())],
                libc::EINVAL,
                "global data",
            ),
            (
                "not a map",
                &f,
                vec![("proto_cnt", file.as_fd())],
                libc::EINVAL,
                "not a BPF map",
            ),
            (
                "named twice",
                &f,
                vec![
                    ("proto_cnt", shared.fd.as_fd()),
                    ("proto_cnt", shared.fd.as_fd()),
                ],
                libc::EINVAL,
                "named twice",
            ),
        ];
        for (what, obj, reuse, errno, says) in cases {
            expect_refusal_with(&d, obj, &reusing(reuse), errno, says, what)?;
        }
        Ok(())
    })())
}

/// Programs attached to a BPF program of the caller's (`struct bpfld_attach_target`, as
/// libbpf's `bpf_program__set_attach_target()`): selftests/stress/attach_ext.bpf.c's
/// freplace and fentry programs and its bare SEC("fexit") one, given
/// attach_target.bpf.c's loaded program and its function pick(), load with that
/// program as their target (their info names its BTF and pick()'s id); attached, the
/// fentry program counts a run of the target and the freplace program changes what
/// the run returns (1 -> 7). Without a target the load is refused with libbpf's errno
/// (EINVAL), also when only the bare section lacks one; a name the object lacks, an
/// fd that is no program and a target for a tc program are refused too, leaving
/// nothing behind.
pub fn attach_to_bpf_program(env: &Env) -> Outcome {
    use std::os::fd::{AsFd, BorrowedFd};
    outcome((|| {
        let d = dev()?;
        let opts = KLoadOpts::default();
        let target_path = crate::stress::guest_object(env, "attach_target")?;
        let ext_path = crate::stress::guest_object(env, "attach_ext")?;
        let t = load(&target_path).map_err(|e| format!("attach_target: {e}"))?;
        let target = t.progs.first().ok_or("attach_target: no program")?;
        let tfd = target.fd.as_raw_fd();
        let run = || util::prog_test_run(tfd, &[0u8; 64]).map_err(|e| format!("test run: {e}"));
        if run()? != 1 {
            return Err("the target returns other than 1 before anything is attached".into());
        }
        let pick = bpfld::sys::prog_func_btf_id(tfd, "pick")?;
        let tinfo: bpfld::sys::ProgInfo = bpfld::sys::obj_info(tfd).map_err(|e| e.to_string())?;

        // No target: as before (and as libbpf, which needs one too).
        expect_refusal_saying(&ext_path, libc::EINVAL, "target program", "no target")?;

        let f = open(&ext_path)?;
        let all = KLoadExtra {
            targets: vec![
                ("new_pick", target.fd.as_fd(), pick),
                ("on_pick", target.fd.as_fd(), pick),
                ("after_pick", target.fd.as_fd(), pick),
            ],
            ..KLoadExtra::default()
        };
        let l = d
            .load_with(&f, &opts, &all)
            .map_err(|e| format!("attach_ext: {e}"))?;
        for name in ["new_pick", "on_pick", "after_pick"] {
            let p = l
                .progs
                .iter()
                .find(|p| p.name == name)
                .ok_or(format!("attach_ext: no program {name}"))?;
            let info: bpfld::sys::ProgInfo =
                bpfld::sys::obj_info(p.fd.as_raw_fd()).map_err(|e| e.to_string())?;
            if info.attach_btf_id != pick || info.attach_btf_obj_id != tinfo.btf_id {
                return Err(format!(
                    "{name}: attached to BTF {} type {}, want the target's BTF {} type {pick}",
                    info.attach_btf_obj_id, info.attach_btf_id, tinfo.btf_id
                ));
            }
        }
        let prog = |name: &str| {
            l.progs
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.fd.as_raw_fd())
                .ok_or(format!("no program {name}"))
        };
        let bss = l
            .maps
            .iter()
            .find(|m| m.name.ends_with(".bss"))
            .ok_or("attach_ext: no .bss map")?;
        // fentry: counts the target's call of pick().
        let link =
            util::attach_to_target(prog("on_pick")?).map_err(|e| format!("attach on_pick: {e}"))?;
        let ret = run()?;
        let v = util::map_lookup(bss.fd.as_raw_fd(), 0, 8).map_err(|e| e.to_string())?;
        let traced = u64::from_ne_bytes(v[..8].try_into().unwrap_or([0; 8]));
        drop(link);
        if ret != 1 || traced != 1 {
            return Err(format!(
                "with on_pick attached: returned {ret}, traced {traced}; want 1, 1"
            ));
        }
        // freplace: pick() is new_pick() now.
        let link = util::attach_to_target(prog("new_pick")?)
            .map_err(|e| format!("attach new_pick: {e}"))?;
        let replaced = run()?;
        drop(link);
        let back = run()?;
        if (replaced, back) != (7, 1) {
            return Err(format!(
                "with new_pick attached the target returned {replaced}, after {back}; want 7, 1"
            ));
        }
        println!("# pick() traced once by on_pick, replaced by new_pick: 1 -> 7 -> 1");
        // The CLI: `bpfld load --attach-target` of a pin, the functions the sections name.
        let pin = "/sys/fs/bpf/bpfld-attach-target";
        let out = with_pin(tfd, pin, || {
            run_cli(&[
                "load",
                "--attach-target",
                &format!("new_pick={pin}"),
                "--attach-target",
                &format!("on_pick={pin}:pick"),
                "--attach-target",
                &format!("after_pick={pin}:pick"),
                &ext_path,
            ])
        })?;
        for name in ["new_pick", "on_pick", "after_pick"] {
            if !out.lines().any(|l| l.starts_with(&format!("prog {name} "))) {
                return Err(format!("bpfld load --attach-target: no {name} in:\n{out}"));
            }
        }
        // The user-space executor, given the same targets, loads the same programs
        // (the same tags: the same instructions after the verifier's rewrites).
        let uopts = bpfld::load::LoadOpts {
            targets: vec![
                ("new_pick".into(), tfd, pick),
                ("on_pick".into(), tfd, pick),
                ("after_pick".into(), tfd, pick),
            ],
            ..bpfld::load::LoadOpts::default()
        };
        let u = bpfld::load::load_userspace_with(&ext_path, &uopts)
            .map_err(|e| format!("attach_ext from user space: {e}"))?;
        for up in &u.progs {
            let kp = l
                .progs
                .iter()
                .find(|p| p.name == up.name)
                .ok_or(format!("user space loaded {}, the module did not", up.name))?;
            let ui: bpfld::sys::ProgInfo =
                bpfld::sys::obj_info(up.fd.as_raw_fd()).map_err(|e| e.to_string())?;
            if up.tag != kp.tag || ui.attach_btf_id != pick {
                return Err(format!(
                    "{}: user space tag {:02x?} attach type {}, module tag {:02x?}",
                    up.name, up.tag, ui.attach_btf_id, kp.tag
                ));
            }
        }
        if u.progs.len() != 3 {
            return Err(format!("user space loaded {} programs", u.progs.len()));
        }
        drop(u);
        drop(l);

        // Refusals: errno, the message's words, nothing created or left.
        let map = util::create_array_map("bpfld_notprog").map_err(|e| e.to_string())?;
        let tf = open(&target_path)?;
        type Case<'c> = (
            &'c str,
            &'c File,
            Vec<(&'c str, BorrowedFd<'c>, u32)>,
            i32,
            &'c str,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "no such program",
                &f,
                vec![("no_such_prog", target.fd.as_fd(), pick)],
                libc::ENOENT,
                "no_such_prog",
            ),
            (
                "not a program",
                &f,
                vec![("new_pick", map.as_fd(), pick)],
                libc::EINVAL,
                "not a BPF program",
            ),
            (
                "a bare fexit without a target",
                &f,
                vec![
                    ("new_pick", target.fd.as_fd(), pick),
                    ("on_pick", target.fd.as_fd(), pick),
                ],
                libc::EINVAL,
                "after_pick",
            ),
            (
                "a tc program",
                &tf,
                vec![("target", target.fd.as_fd(), pick)],
                libc::EOPNOTSUPP,
                "target program",
            ),
        ];
        for (what, obj, targets, errno, says) in cases {
            let extra = KLoadExtra {
                targets,
                ..KLoadExtra::default()
            };
            expect_refusal_with(&d, obj, &extra, errno, says, what)?;
        }
        Ok(())
    })())
}

/// A target program's fd that is the first one its load makes
/// (selftests/stress/attach_first_fd.bpf.c: no BTF, no map): the loading thread's file
/// table is the kernel threads' shared one, where fd 0 may be free, and an
/// attach_prog_fd of 0 means "no target program" to BPF_PROG_LOAD (pick()'s BTF id
/// would be looked up in vmlinux). The program loads, attached to pick() of the
/// target's BTF, as often as it is tried.
pub fn attach_target_first_fd(env: &Env) -> Outcome {
    use std::os::fd::AsFd;
    outcome((|| {
        let d = dev()?;
        let target_path = crate::stress::guest_object(env, "attach_target")?;
        let path = crate::stress::guest_object_no_btf(env, "attach_first_fd")?;
        let t = load(&target_path).map_err(|e| format!("attach_target: {e}"))?;
        let target = t.progs.first().ok_or("attach_target: no program")?;
        let tfd = target.fd.as_raw_fd();
        let pick = bpfld::sys::prog_func_btf_id(tfd, "pick")?;
        let tinfo: bpfld::sys::ProgInfo = bpfld::sys::obj_info(tfd).map_err(|e| e.to_string())?;
        let f = open(&path)?;
        let extra = KLoadExtra {
            targets: vec![("first_fd", target.fd.as_fd(), pick)],
            ..KLoadExtra::default()
        };
        const TRIES: usize = 3;
        for i in 0..TRIES {
            let l = d
                .load_with(&f, &KLoadOpts::default(), &extra)
                .map_err(|e| format!("attach_first_fd, load {}: {e}", i + 1))?;
            if !l.maps.is_empty() {
                return Err(format!("attach_first_fd made {} maps", l.maps.len()));
            }
            let p = l.progs.first().ok_or("attach_first_fd: no program")?;
            let info: bpfld::sys::ProgInfo =
                bpfld::sys::obj_info(p.fd.as_raw_fd()).map_err(|e| e.to_string())?;
            if info.attach_btf_id != pick || info.attach_btf_obj_id != tinfo.btf_id {
                return Err(format!(
                    "load {}: attached to BTF {} type {}, want the target's BTF {} type {pick}",
                    i + 1,
                    info.attach_btf_obj_id,
                    info.attach_btf_id,
                    tinfo.btf_id
                ));
            }
        }
        println!("# {TRIES} loads, each attached to pick() of the target's BTF");
        Ok(())
    })())
}

/// A strong typeless ksym at address 0 (selftests/stress/ksym_zero.bpf.c:
/// `__per_cpu_start`, at 0 on x86-64 6.12, elsewhere an ordinary address) loads, and a
/// run stores the address /proc/kallsyms gives it, as libbpf's load would. The helper
/// the module looks such ksyms up with answers "missing" for an address of 0; the
/// module then finds the name among the head of /proc/kallsyms' symbols at 0.
pub fn ksym_at_address_zero(env: &Env) -> Outcome {
    outcome((|| {
        let name = "__per_cpu_start";
        let text = std::fs::read_to_string("/proc/kallsyms")
            .map_err(|e| format!("/proc/kallsyms: {e}"))?;
        let want = bpfld::host::HostSymbols::parse(&text, &[name])?;
        let bpfld_core::externs::SymbolAddress::At(want) =
            bpfld_core::externs::KernelSymbols::address(&want, name)
        else {
            return Err(format!("/proc/kallsyms has no single {name}"));
        };
        let before = Snapshot::take();
        let path = crate::stress::guest_object(env, "ksym_zero")?;
        let (l, v) = run_and_read_global(&path, "ksym_zero", ".data", 8)?;
        let got = u64::from_ne_bytes(
            v.get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(".data: short")?,
        );
        if got != want {
            return Err(format!(
                "ksym_zero: {name} read as {got:#x}, /proc/kallsyms says {want:#x}"
            ));
        }
        println!("# ksym_zero: {name} at {got:#x}, as /proc/kallsyms lists it");
        drop(l);
        before.unchanged()
    })())
}

/// A kfunc or an fentry target that only a loaded module's BTF defines (bpfld.ko's own
/// bpfld_dev_mode) resolves there, as libbpf resolves it, and the program names that
/// module's BTF object: the fentry program loads attached to it (its attach_btf_obj_id
/// is bpfld.ko's BTF object); the kfunc call reaches the verifier with the module BTF's
/// fd in fd_array, which refuses it as it refuses libbpf's load (bpfld_dev_mode is no
/// registered kfunc). Before, the module refused both (EOPNOTSUPP), and before that
/// took the weak kfunc for missing.
pub fn module_btf_refs(env: &Env) -> Outcome {
    outcome((|| {
        let before = Snapshot::take();
        let path = crate::stress::guest_object(env, "module_fentry")?;
        let l = load(&path).map_err(|e| format!("module_fentry: {e}"))?;
        let p = l.progs.first().ok_or("module_fentry: no program")?;
        let info = bpfld::sys::obj_info::<bpfld::sys::ProgInfo>(p.fd.as_raw_fd())
            .map_err(|e| format!("prog info: {e}"))?;
        let btf = module_btf_id("bpfld")?;
        if info.attach_btf_obj_id != btf || info.attach_btf_id == 0 || p.attach_btf_id == 0 {
            return Err(format!(
                "module_fentry: attached to BTF object {} type {}, want bpfld's BTF object {btf}",
                info.attach_btf_obj_id, info.attach_btf_id
            ));
        }
        println!(
            "# module_fentry: attach_btf_obj_id {} (bpfld.ko), attach_btf_id {}",
            info.attach_btf_obj_id, info.attach_btf_id
        );
        drop(l);
        before
            .unchanged()
            .map_err(|e| format!("module_fentry: {e}"))?;

        let path = crate::stress::guest_object(env, "module_kfunc")?;
        let before = Snapshot::take();
        match load(&path) {
            Ok(_) => return Err("module_kfunc: loaded, want the verifier's refusal".into()),
            Err(e) => {
                let says = "calling kernel function bpfld_dev_mode is not allowed";
                if e.errno != libc::EACCES || !e.log.contains(says) {
                    return Err(format!("module_kfunc: {e}; want EACCES and {says:?}"));
                }
                println!(
                    "# module_kfunc: errno {} ({}), verifier: {says}",
                    e.errno, e.msg
                );
            }
        }
        before.unchanged().map_err(|e| format!("module_kfunc: {e}"))
    })())
}

/// bpf_testmod.ko's kfunc and per-CPU variable (selftests/stress/testmod_ksym.bpf.c):
/// both resolve in its BTF, the program loads, and one run through BPF_PROG_TEST_RUN
/// stores 42 through the kfunc and reads it back through the variable. Then the load
/// is dropped and the module removed (the programs held it). Twice: the second
/// insertion is a new BTF object under the same name, which the module's cache of
/// module BTFs must notice (a module event, then a new kernfs inode); the earlier
/// tests' loads filled it without bpf_testmod. In each round a second load takes the
/// kept BTFs (its mem_bytes lacks them), and an fentry program on the module's
/// function that vmlinux also has loads as libbpf's would ([`testmod_shadow`]).
/// Nothing is left behind.
pub fn module_btf_testmod(env: &Env) -> Outcome {
    let Some(testmod) = env.testmod.as_deref() else {
        return Outcome::Skip("no --testmod (scripts/testmod builds it)".into());
    };
    let before = Snapshot::take();
    let round = |r: u32| -> Result<(), String> {
        run("insmod", &[testmod]).map_err(|e| format!("insmod {testmod}: {e}"))?;
        let res = (|| {
            let path = crate::stress::guest_object(env, "testmod_ksym")?;
            let (l, v) = run_and_read_global(&path, "testmod_ksym", ".bss", 4)?;
            let out = i32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
            if out != 42 {
                return Err(format!("testmod_ksym: out = {out} after a run, want 42"));
            }
            println!(
                "# round {r}: testmod_ksym loaded, bpf_testmod's kfunc and per-CPU ksym reached: out = {out}"
            );
            testmod_shadow(env)?;
            // The first load after insmod reads the module BTFs (counted in its
            // mem_bytes); the next takes them as kept, no module having come or gone.
            let again = load(&path).map_err(|e| format!("testmod_ksym again: {e}"))?;
            let (first, next) = (l.stats.mem_bytes, again.stats.mem_bytes);
            println!("# round {r}: mem_bytes {first} (modules read), then {next} (kept)");
            if first < next.saturating_add(8192) {
                return Err(format!(
                    "round {r}: mem_bytes {first} then {next}: the module BTFs were not \
                     read after insmod, or read again without a module event"
                ));
            }
            Ok(())
        })();
        res.and(rmmod_when_free("bpf_testmod"))
    };
    outcome(
        round(1)
            .and_then(|()| round(2))
            .and_then(|()| before.unchanged()),
    )
}

/// `rmmod MODULE`, tried for up to 20 s: programs that call into a module hold it until
/// they are freed, which is asynchronous.
fn rmmod_when_free(module: &str) -> Result<(), String> {
    let mut removed = Err(String::new());
    for _ in 0..100 {
        removed = run("rmmod", &[module]).map(drop);
        if removed.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    removed.map_err(|e| format!("rmmod {module}: {e}"))
}

/// selftests/stress/module_order.bpf.c: one program calling kfuncs of two modules
/// (the kernel tree's bpf_test_modorder_x.ko and _y.ko, built beside bpf_testmod.ko by
/// scripts/testmod), each call reaching its own module, with the modules inserted in
/// either order (their BTF ids, and so the order bpfld searches them, follow it).
pub fn module_kfunc_order(env: &Env) -> Outcome {
    let Some(testmod) = env.testmod.as_deref() else {
        return Outcome::Skip("no --testmod (scripts/testmod builds it)".into());
    };
    let dir = Path::new(testmod).parent().unwrap_or(Path::new("."));
    let ko = |m: &str| dir.join(format!("{m}.ko")).to_string_lossy().into_owned();
    let before = Snapshot::take();
    let round = |order: [&str; 2]| -> Result<(), String> {
        let mut inserted = Vec::new();
        let mut res = Ok(());
        for m in order {
            res = run("insmod", &[&ko(m)])
                .map(drop)
                .map_err(|e| format!("insmod {m}.ko: {e}"));
            if res.is_err() {
                break;
            }
            inserted.push(m);
        }
        let res = res.and_then(|()| {
            let path = crate::stress::guest_object(env, "module_order")?;
            let l = load(&path).map_err(|e| format!("module_order: {e}"))?;
            let mut got = Vec::new();
            for (name, want) in [("order_xy", b"xy"), ("order_yx", b"yx")] {
                let p = l
                    .progs
                    .iter()
                    .find(|p| p.name == name)
                    .ok_or(format!("module_order: no program {name}"))?;
                let ret = util::prog_test_run(p.fd.as_raw_fd(), &[0u8; 64])
                    .map_err(|e| format!("{name}: BPF_PROG_TEST_RUN: {e}"))?;
                let want = u32::from(want[0]) << 8 | u32::from(want[1]);
                if ret != want {
                    return Err(format!(
                        "{name}: returned {ret:#x}, want {want:#x} (each kfunc's letter, \
                         in the order called)"
                    ));
                }
                got.push(format!("{name} {ret:#x}"));
            }
            println!(
                "# modules inserted {} then {}: {}",
                order[0],
                order[1],
                got.join(", ")
            );
            Ok(())
        });
        let mut removed = Ok(());
        for m in inserted.iter().rev() {
            removed = removed.and(rmmod_when_free(m));
        }
        res.and(removed)
    };
    outcome(
        round(["bpf_test_modorder_x", "bpf_test_modorder_y"])
            .and_then(|()| round(["bpf_test_modorder_y", "bpf_test_modorder_x"]))
            .and_then(|()| before.unchanged()),
    )
}

/// selftests/stress/testmod_shadow.bpf.c: `fentry/bpf_testmod:bpf_fentry_shadow_test`
/// loads as libbpf loads it, attached through bpf_testmod's BTF object to vmlinux's
/// type of that name (bpf_testmod is inserted).
fn testmod_shadow(env: &Env) -> Result<(), String> {
    use bpfld_core::btf::{BtfKind, Types};
    let name = "bpf_fentry_shadow_test";
    let path = crate::stress::guest_object(env, "testmod_shadow")?;
    let l = load(&path).map_err(|e| format!("testmod_shadow: {e}"))?;
    let p = l.progs.first().ok_or("testmod_shadow: no program")?;
    let info = bpfld::sys::obj_info::<bpfld::sys::ProgInfo>(p.fd.as_raw_fd())
        .map_err(|e| format!("prog info: {e}"))?;
    let btf = module_btf_id("bpf_testmod")?;
    let vmlinux = bpfld::host::HostBtf::load()?;
    let want = vmlinux
        .btf()
        .find_by_name_kind(name, BtfKind::Func)
        .ok()
        .flatten()
        .ok_or(format!("vmlinux has no {name}"))?;
    if (info.attach_btf_obj_id, info.attach_btf_id) != (btf, want) {
        return Err(format!(
            "testmod_shadow: attached to BTF object {} type {}, want bpf_testmod's {btf} and \
             vmlinux's {name} {want}",
            info.attach_btf_obj_id, info.attach_btf_id
        ));
    }
    println!(
        "# testmod_shadow: attach_btf_obj_id {btf} (bpf_testmod), attach_btf_id {want} (vmlinux's {name})"
    );
    Ok(())
}

/// The id of kernel module `module`'s BTF object.
fn module_btf_id(module: &str) -> Result<u32, String> {
    let fd = bpfld::sys::module_btf_fd(module).map_err(|e| format!("{module}'s BTF: errno {e}"))?;
    let fd = bpfld::sys::own(fd);
    let btf = bpfld::sys::obj_info::<bpfld::sys::BtfInfo>(fd.as_raw_fd())
        .map_err(|e| format!("{module}'s BTF info: {e}"))?;
    Ok(btf.id)
}

/// An arena is mapped in the caller at its map_extra, its globals written at its
/// start and its address reported; dropping the load unmaps it. Where the caller has
/// something mapped already, the load fails (EEXIST, naming the map), leaves nothing
/// behind and does not touch that mapping.
pub fn arena_mapped_in_caller(_: &Env) -> Outcome {
    const AT: u64 = 0x4000_0000;
    let path = obj_path("arena.bpf.o");
    let mapped = || {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("40000000-"))
    };
    outcome((|| {
        let before = Snapshot::take();
        {
            let l = load(&path).map_err(|e| format!("load: {e}"))?;
            let a = l
                .maps
                .iter()
                .find_map(|m| m.arena.as_ref())
                .ok_or("no arena mapping reported")?;
            if a.addr != AT || a.len != 4 * 4096 {
                return Err(format!(
                    "arena at {:#x}, {} bytes; want {AT:#x}, 16384",
                    a.addr, a.len
                ));
            }
            // SAFETY: the module mapped the arena here, read-write, for as long as `l`.
            let counter = unsafe { std::ptr::read_volatile(a.addr as *const i32) };
            if counter != 3 {
                return Err(format!("counter in the arena: {counter}, want 3"));
            }
            println!("# arena mapped at {:#x}, counter {counter}", a.addr);
        }
        if mapped() {
            return Err("the arena stayed mapped after the load was dropped".into());
        }
        before.unchanged()?;
        // Something of ours at the arena's address: refused, untouched.
        // SAFETY: a new private anonymous mapping at a fixed address nothing uses
        // (checked above), unmapped below.
        let p = unsafe {
            libc::mmap(
                AT as *mut libc::c_void,
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p != AT as *mut libc::c_void {
            return Err(format!(
                "mmap at {AT:#x}: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: our own page, just mapped.
        unsafe { std::ptr::write_volatile(p as *mut u32, 0xb0f1d) };
        let r = expect_refusal_saying(&path, libc::EEXIST, "map 'arena'", "arena over a mapping");
        // SAFETY: as above.
        let kept = unsafe { std::ptr::read_volatile(p as *const u32) };
        // SAFETY: our mapping, unmapped once.
        unsafe { libc::munmap(p, 4096) };
        r?;
        if kept != 0xb0f1d {
            return Err(format!("the caller's page changed: {kept:#x}"));
        }
        Ok(())
    })())
}

pub fn arrays_too_small(_: &Env) -> Outcome {
    // core_task's BTF (30 KiB) is loaded while the plan is made on another CPU, then
    // closed when the caller's arrays turn out too small.
    outcome((|| {
        for name in ["subprogs.bpf.o", "core_task.bpf.o"] {
            too_small(name).map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    })())
}

/// Load `name` with room for one program: ENOSPC, the counts needed, nothing left.
fn too_small(name: &str) -> Result<(), String> {
    let d = dev()?;
    let f = open(&obj_path(name))?;
    let mut progs: Vec<uapi::BpfldProgInfo> = vec![
        // SAFETY: all-zero is valid for this plain struct.
        unsafe { std::mem::zeroed() };
        1
    ];
    let mut req = uapi::BpfldLoad {
        size: std::mem::size_of::<uapi::BpfldLoad>() as u32,
        obj_fd: f.as_raw_fd(),
        prog_info_size: std::mem::size_of::<uapi::BpfldProgInfo>() as u32,
        progs: progs.as_mut_ptr() as u64,
        progs_cnt: 1,
        map_info_size: std::mem::size_of::<uapi::BpfldMapInfo>() as u32,
        ..Default::default()
    };
    let before = Snapshot::take();
    // SAFETY: the ioctl writes at most progs_cnt (1) entries to `progs`.
    match unsafe { d.ioctl(uapi::BPFLD_IOC_LOAD, &mut req) } {
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {}
        r => return Err(format!("{r:?}, want ENOSPC")),
    }
    if req.progs_cnt != 3 || req.maps_cnt < 1 {
        return Err(format!(
            "needed counts {} progs {} maps, want 3 and >= 1",
            req.progs_cnt, req.maps_cnt
        ));
    }
    before.unchanged()
}

/// Offset of global `var` in the DATASEC of `section` of an object, using bpfld-core.
fn global_offset(path: &str, section: &str, var: &str) -> Result<usize, String> {
    use bpfld_core::btf::{BtfKind, Types};
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut a = bpfld_core::mem::VecAlloc::default();
    let elf = bpfld_core::elf::Elf::parse(&data, &mut a).map_err(|e| e.to_string())?;
    let obj = bpfld_core::object::Object::parse(elf, "x", &mut a).map_err(|e| e.to_string())?;
    let btf = obj.btf.as_ref().ok_or("no BTF")?;
    let ds = btf
        .find_by_name_kind(section, BtfKind::Datasec)
        .map_err(|e| e.to_string())?
        .ok_or("no DATASEC")?;
    for vi in btf
        .type_by_id(ds)
        .map_err(|e| e.to_string())?
        .secinfos()
        .map_err(|e| e.to_string())?
    {
        let t = btf.type_by_id(vi.type_id).map_err(|e| e.to_string())?;
        if t.name().map_err(|e| e.to_string())? == var {
            return Ok(vi.offset as usize);
        }
    }
    Err(format!("{var} not in {section}"))
}

fn read_global(l: &KLoad, path: &str, section: &str, var: &str) -> Result<u64, String> {
    let off = global_offset(path, section, var)?;
    let m = l
        .maps
        .iter()
        .find(|m| m.name == section)
        .ok_or(format!("no map {section}"))?;
    let v = util::map_lookup(m.fd.as_raw_fd(), 0, 4096).map_err(|e| e.to_string())?;
    Ok(u64::from_le_bytes(v[off..off + 8].try_into().unwrap()))
}

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER5` (what the attach tests set).
#[repr(C)]
#[derive(Default)]
pub(crate) struct PerfAttr {
    pub kind: u32,
    pub size: u32,
    pub config: u64,
    pub sample_period: u64,
    pub sample_type: u64,
    pub read_format: u64,
    pub flags: u64,
    pub wakeup: u32,
    pub bp_type: u32,
    pub config1: u64,
    pub config2: u64,
    pub rest: [u64; 8],
}

const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// Open the perf event `attr` describes (one sample per event) and run `prog_fd` on it.
pub(crate) fn perf_attach(attr: &mut PerfAttr, prog_fd: i32) -> Result<OwnedFd, String> {
    attr.size = 112; // PERF_ATTR_SIZE_VER5
    attr.sample_period = 1;
    attr.wakeup = 1;
    // SAFETY: perf_event_open reads `attr` (and the string config1 may point to).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *mut PerfAttr,
            -1,
            0,
            -1,
            8, /* CLOEXEC */
        )
    };
    if fd < 0 {
        return Err(format!(
            "perf_event_open: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` is ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: ioctls on our perf event fd.
    unsafe {
        if libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 {
            return Err(format!(
                "PERF_EVENT_IOC_SET_BPF: {}",
                std::io::Error::last_os_error()
            ));
        }
        libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0);
    }
    Ok(fd)
}

pub fn attach_tracepoint(_: &Env) -> Outcome {
    outcome((|| {
        let p = obj_path("tracepoint.bpf.o");
        let l = load(&p).map_err(|e| e.to_string())?;
        let prog = l
            .progs
            .iter()
            .find(|p| p.name == "tp_getpid_b")
            .ok_or("no tp_getpid_b")?;
        let id = std::fs::read_to_string("/sys/kernel/tracing/events/syscalls/sys_enter_getpid/id")
            .or_else(|_| {
                std::fs::read_to_string(
                    "/sys/kernel/debug/tracing/events/syscalls/sys_enter_getpid/id",
                )
            })
            .map_err(|e| format!("tracepoint id: {e}"))?;
        let mut attr = PerfAttr {
            kind: 2, // PERF_TYPE_TRACEPOINT
            config: id.trim().parse().map_err(|_| "bad id")?,
            ..Default::default()
        };
        let _ev = perf_attach(&mut attr, prog.fd.as_raw_fd())?;
        let before = read_global(&l, &p, ".bss", "getpid_calls")?;
        for _ in 0..100 {
            // SAFETY: a plain syscall (libc caches nothing for SYS_getpid).
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        let after = read_global(&l, &p, ".bss", "getpid_calls")?;
        println!("# getpid_calls {before} -> {after}");
        if after < before + 100 {
            return Err(format!(
                "tracepoint program ran {} times, want >= 100",
                after - before
            ));
        }
        Ok(())
    })())
}

pub fn attach_kprobe(_: &Env) -> Outcome {
    outcome((|| {
        let p = obj_path("kprobe.bpf.o");
        let l = load(&p).map_err(|e| e.to_string())?;
        let prog = l
            .progs
            .iter()
            .find(|p| p.section.starts_with("kprobe/"))
            .ok_or("no kprobe program")?;
        let ty = std::fs::read_to_string("/sys/bus/event_source/devices/kprobe/type")
            .map_err(|e| format!("kprobe PMU: {e}"))?;
        let func = std::ffi::CString::new("do_unlinkat").unwrap();
        let mut attr = PerfAttr {
            kind: ty.trim().parse().map_err(|_| "bad type")?,
            config1: func.as_ptr() as u64,
            ..Default::default()
        };
        let _ev = perf_attach(&mut attr, prog.fd.as_raw_fd())?;
        let before = read_global(&l, &p, ".bss", "unlink_calls")?;
        for i in 0..20 {
            let f = format!("/run/bpfld-unlink-{i}");
            std::fs::write(&f, b"x").map_err(|e| e.to_string())?;
            std::fs::remove_file(&f).map_err(|e| e.to_string())?;
        }
        let after = read_global(&l, &p, ".bss", "unlink_calls")?;
        println!("# unlink_calls {before} -> {after}");
        if after < before + 20 {
            return Err(format!(
                "kprobe program ran {} times, want >= 20",
                after - before
            ));
        }
        Ok(())
    })())
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

pub fn attach_cgroup_sysctl(_: &Env) -> Outcome {
    outcome((|| {
        let p = obj_path("cgroup_sysctl.bpf.o");
        let l = load(&p).map_err(|e| e.to_string())?;
        let prog = &l.progs[0];
        let dir = open(util::cgroup2()?)?;
        let mut a = AttachAttr {
            target_fd: dir.as_raw_fd() as u32,
            attach_bpf_fd: prog.fd.as_raw_fd() as u32,
            attach_type: bpfld_core::uapi::BPF_CGROUP_SYSCTL,
            ..Default::default()
        };
        // SAFETY: BPF_PROG_ATTACH reads this struct.
        unsafe { bpfld::sys::sys_bpf(bpfld_core::uapi::BPF_PROG_ATTACH, &mut a) }
            .map_err(|e| format!("attach: {e}"))?;
        let before = read_global(&l, &p, ".bss", "denied")?;
        let res = std::fs::write("/proc/sys/net/ipv4/tcp_mem", b"1 2 3\n");
        // SAFETY: BPF_PROG_DETACH reads this struct.
        let _ = unsafe { bpfld::sys::sys_bpf(bpfld_core::uapi::BPF_PROG_DETACH, &mut a) };
        let after = read_global(&l, &p, ".bss", "denied")?;
        match res {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            r => return Err(format!("sysctl write {r:?}, want EPERM from the program")),
        }
        if after != before + 1 {
            return Err(format!("denied {before} -> {after}"));
        }
        Ok(())
    })())
}

/// A sibling thread punches holes in the fd table and fills them with a decoy map
/// (close(n); dup2(decoy, n) over and over) while loads run. A loader that used the
/// caller's table would get an object at a hole and then find the decoy there; bpfld
/// must never load a program using the decoy or any map it did not create.
///
/// Fds 3..64 are kept full (with decoys) so that the results land above 64, out of
/// the attacker's reach, except when one lands in the attacker's momentary hole: such
/// loads cannot be checked from here and are counted (the module checks every load
/// itself before handing anything out).
pub fn fd_swap_race(_: &Env) -> Outcome {
    let iterations: usize = std::env::var("BPFLD_RACE_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    outcome((|| {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        const LOW: i32 = 3;
        const HIGH: i32 = 64;
        let path = obj_path("race.bpf.o");
        // Keep what the loader needs far above the attacked range.
        let highfd = |fd: i32| -> Result<OwnedFd, String> {
            // SAFETY: F_DUPFD_CLOEXEC duplicates `fd` to a number >= 900.
            let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 900) };
            if n < 0 {
                return Err("F_DUPFD".into());
            }
            // SAFETY: `n` is ours.
            Ok(unsafe { OwnedFd::from_raw_fd(n) })
        };
        let devf = std::fs::OpenOptions::new()
            .read(true)
            .open(DEVICE)
            .map_err(|e| e.to_string())?;
        let dev_high = highfd(devf.as_raw_fd())?;
        drop(devf);
        let objf = open(&path)?;
        let obj_high = highfd(objf.as_raw_fd())?;
        drop(objf);
        let decoy = util::create_array_map("bpfld_decoy").map_err(|e| format!("decoy: {e}"))?;
        let decoy_high = highfd(decoy.as_raw_fd())?;
        drop(decoy);
        let decoy_id = bpfld::sys::obj_info::<bpfld::sys::MapInfo>(decoy_high.as_raw_fd())
            .map_err(|e| e.to_string())?
            .id;
        let decoy_fd = decoy_high.as_raw_fd();
        let fill = || {
            for fd in LOW..HIGH {
                // SAFETY: occupying our own low fd numbers with the decoy.
                unsafe { libc::dup2(decoy_fd, fd) };
            }
        };
        fill();
        let running = Arc::new(AtomicBool::new(false));
        let idle = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicUsize::new(0));
        let attacker = {
            let (running, idle, stop, swaps) =
                (running.clone(), idle.clone(), stop.clone(), swaps.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    if !running.load(Ordering::Acquire) {
                        idle.store(true, Ordering::Release);
                        std::hint::spin_loop();
                        continue;
                    }
                    idle.store(false, Ordering::Release);
                    for fd in LOW..HIGH {
                        // SAFETY: deliberately clobbering our own low fds; everything the
                        // loading thread needs lives above 900.
                        unsafe {
                            libc::close(fd);
                            libc::dup2(decoy_fd, fd);
                        }
                        swaps.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        let d = Device::from_file(File::from(dev_high));
        let mut failures = Vec::new();
        let (mut done, mut checked, mut unverifiable) = (0usize, 0usize, 0usize);
        for i in 0..iterations {
            done = i + 1;
            running.store(true, Ordering::Release);
            let res = d.load(
                &obj_high,
                &KLoadOpts {
                    log_level: 0,
                    log_size: 0,
                    flags: 0,
                },
            );
            running.store(false, Ordering::Release);
            while !idle.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let l = match res {
                Ok(l) => l,
                Err(e) => {
                    failures.push(format!("iteration {i}: load failed: {e}"));
                    break;
                }
            };
            let ours: Vec<u32> = l.maps.iter().map(|m| m.id).collect();
            let mut held = Vec::new();
            for p in l.progs.into_iter() {
                if p.fd.as_raw_fd() < HIGH {
                    // Landed in a hole: the attacker may have replaced it already.
                    std::mem::forget(p.fd);
                    unverifiable += 1;
                    continue;
                }
                let used = util::prog_map_ids(p.fd.as_raw_fd()).map_err(|e| e.to_string())?;
                checked += 1;
                if let Some(bad) = used
                    .iter()
                    .find(|id| **id == decoy_id || !ours.contains(id))
                {
                    failures.push(format!("iteration {i}: prog {} uses map id {bad} (decoy {decoy_id}, ours {ours:?})", p.name));
                }
                held.push(p.fd);
            }
            for m in l.maps.into_iter() {
                if m.fd.as_raw_fd() < HIGH {
                    std::mem::forget(m.fd);
                } else {
                    held.push(m.fd);
                }
            }
            drop(held);
            // Refill the low range: it holds only decoys or leftovers of this load.
            fill();
            if !failures.is_empty() {
                break;
            }
        }
        stop.store(true, Ordering::Release);
        let _ = attacker.join();
        for fd in LOW..HIGH {
            // SAFETY: the low range holds only decoys now.
            unsafe { libc::close(fd) };
        }
        println!(
            "# {done} loads, {} close+dup2 by the sibling thread, {checked} programs checked, {unverifiable} landed in a hole",
            swaps.load(Ordering::Relaxed)
        );
        if !failures.is_empty() {
            return Err(failures.join("\n"));
        }
        if checked == 0 {
            return Err("no program could be checked".into());
        }
        Ok(())
    })())
}

pub fn parallel_loads(env: &Env) -> Outcome {
    outcome((|| {
        let objs = [
            "xdp.bpf.o",
            "subprogs.bpf.o",
            "global_data.bpf.o",
            "map_in_map.bpf.o",
            "callbacks.bpf.o",
            "tail_calls.bpf.o",
            "tc.bpf.o",
            "maps_kinds.bpf.o",
            // Typeless ksyms: a kallsyms lookup program loaded, run and closed per
            // load, in each loading thread at once.
            "ext_ksym_addr.bpf.o",
        ];
        let _ = env;
        let before = Snapshot::take();
        let handles: Vec<_> = (0..8)
            .map(|t| {
                std::thread::spawn(move || -> Result<usize, String> {
                    let mut n = 0;
                    for i in 0..25 {
                        let o = objs[(t + i) % objs.len()];
                        let l = load(&obj_path(o)).map_err(|e| format!("thread {t} {o}: {e}"))?;
                        if l.progs.is_empty() {
                            return Err(format!("thread {t} {o}: no programs"));
                        }
                        n += l.progs.len();
                    }
                    Ok(n)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.join().map_err(|_| "thread panicked")??;
        }
        println!("# 8 threads x 25 loads: {total} programs");
        before.unchanged()
    })())
}

/// Revoking an enrolled digest needs no room: in a table filled to its 4096 runtime
/// entries it still succeeds (it moved to the revoked list; before, ENOSPC kept it
/// trusted), and the digest is listed once, as revoked; enrolling it again changes
/// nothing. Runs after every test that enrolls: the table stays full.
pub fn policy_full_table_revoke(_: &Env) -> Outcome {
    outcome((|| {
        let d = dev()?;
        let mut first = None;
        let mut n = 0u32;
        loop {
            let mut raw = [0x5au8; 32];
            raw[..4].copy_from_slice(&n.to_le_bytes());
            let dg = bpfld::dev::digest_arg(uapi::BPFLD_HASH_SHA256, &raw).ok_or("digest")?;
            match d.trust_add(&dg) {
                Ok(()) => {
                    first.get_or_insert(dg);
                    n += 1;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => return Err(format!("enroll #{n}: {e}")),
            }
            if n > 5000 {
                return Err("no ENOSPC after 5000 enrollments".into());
            }
        }
        let dg = first.ok_or("the table was full before the test")?;
        d.trust_revoke(&dg)
            .map_err(|e| format!("revoking an enrolled digest in a full table: {e}"))?;
        let listed = |d: &bpfld::dev::Device| -> Result<Vec<u32>, String> {
            let (entries, _) = d.trust_list().map_err(|e| format!("list: {e}"))?;
            Ok(entries
                .iter()
                .filter(|e| e.digest == dg)
                .map(|e| e.state)
                .collect())
        };
        if listed(&d)? != [uapi::BPFLD_TRUST_REVOKED] {
            return Err(format!("listed as {:?}, want [revoked]", listed(&d)?));
        }
        d.trust_add(&dg).map_err(|e| format!("enroll again: {e}"))?;
        if listed(&d)? != [uapi::BPFLD_TRUST_REVOKED] {
            return Err(format!("enrolled again: listed as {:?}", listed(&d)?));
        }
        println!("# {n} digests enrolled until ENOSPC; one of them revoked in the full table");
        Ok(())
    })())
}

pub fn policy_seal(_: &Env) -> Outcome {
    outcome((|| {
        let d = dev()?;
        d.trust_seal().map_err(|e| format!("seal: {e}"))?;
        let dg = parse_digest(&format_digest(uapi::BPFLD_HASH_SHA256, &[0x22; 32])).unwrap();
        match d.trust_add(&dg) {
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
            r => return Err(format!("enroll after seal: {r:?}, want EROFS")),
        }
        match d.trust_revoke(&dg) {
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
            r => return Err(format!("revoke after seal: {r:?}, want EROFS")),
        }
        let (_, flags) = d.trust_list().map_err(|e| e.to_string())?;
        if flags & uapi::BPFLD_POLICY_SEALED == 0 {
            return Err("list does not say sealed".into());
        }
        if run("rmmod", &["bpfld"]).is_ok() {
            return Err("rmmod succeeded after seal".into());
        }
        load(&obj_path("xdp.bpf.o")).map_err(|e| format!("load after seal: {e}"))?;
        Ok(())
    })())
}

/// The TCP congestion control the corpus' struct_ops.bpf.o offers once registered, also
/// its struct_ops map's name.
pub(crate) const CORPUS_CC: &str = "bpfld_min";

/// The congestion controls the kernel offers (`tcp_available_congestion_control`).
fn available_cc() -> Result<String, String> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .map_err(|e| format!("tcp_available_congestion_control: {e}"))
}

/// Wait up to 5 s for `name` to be offered (`want`) or not.
pub(crate) fn cc_offered(name: &str, want: bool) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        let now = available_cc()?;
        if now.split_whitespace().any(|c| c == name) == want {
            return Ok(());
        }
        if start.elapsed() > std::time::Duration::from_secs(5) {
            return Err(format!(
                "{name} {} after 5 s: {}",
                if want { "not offered" } else { "still offered" },
                now.trim()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `BPF_LINK_CREATE` of struct_ops map `map_fd` (attach type `BPF_STRUCT_OPS`): what
/// libbpf's `bpf_map__attach_struct_ops()` does after writing the value.
fn struct_ops_link_create(map_fd: i32) -> Result<OwnedFd, String> {
    #[repr(C)]
    #[derive(Default)]
    struct LinkCreateAttr {
        map_fd: u32,
        target_fd: u32,
        attach_type: u32,
        flags: u32,
        _rest: [u64; 4],
    }
    let mut a = LinkCreateAttr {
        map_fd: map_fd as u32,
        attach_type: bpfld_core::uapi::BPF_STRUCT_OPS,
        ..Default::default()
    };
    // SAFETY: BPF_LINK_CREATE reads this struct only.
    let fd = unsafe { bpfld::sys::sys_bpf(bpfld_core::uapi::BPF_LINK_CREATE, &mut a) }
        .map_err(|e| format!("BPF_LINK_CREATE of the struct_ops map: {e}"))?;
    Ok(bpfld::sys::own(fd))
}

/// A `SEC(".struct_ops.link")` map (`struct_ops_link.bpf.c`, a TCP congestion control):
/// the load writes its value (state READY, its three programs' ids in their members),
/// which registers nothing; `BPF_LINK_CREATE` of the map fd registers it (a TCP socket
/// can then select it), closing the link unregisters it, and nothing is left. The same
/// without a member the kernel requires (`struct_ops_link_bad.bpf.c`): the kernel
/// refuses the value the load writes (EINVAL), the load fails naming the map, and
/// nothing is left.
pub fn struct_ops_link_attach(env: &Env) -> Outcome {
    outcome((|| {
        let p = super::stress::guest_object(env, "struct_ops_link")?;
        let bad = super::stress::guest_object(env, "struct_ops_link_bad")?;
        let before = Snapshot::take();
        {
            let l = load(&p).map_err(|e| e.to_string())?;
            let m = l
                .maps
                .iter()
                .find(|m| m.name == "bpfld_lnk")
                .ok_or("no map bpfld_lnk")?;
            cc_offered("bpfld_lnk", false).map_err(|e| format!("after the load: {e}"))?;
            // struct bpf_struct_ops_value: refcnt, state, then the type's members.
            let v = util::map_lookup(m.fd.as_raw_fd(), 0, 4096)
                .map_err(|e| format!("lookup of the struct_ops value: {e}"))?;
            let state = u32::from_ne_bytes([v[4], v[5], v[6], v[7]]);
            const BPF_STRUCT_OPS_STATE_READY: u32 = 3;
            if state != BPF_STRUCT_OPS_STATE_READY {
                return Err(format!(
                    "struct_ops state {state} after the load, want READY"
                ));
            }
            for prog in &l.progs {
                let id = u64::from(prog.id).to_ne_bytes();
                if !v.chunks_exact(8).any(|c| c == id) {
                    return Err(format!("{}'s id {} not in the value", prog.name, prog.id));
                }
            }
            let link = struct_ops_link_create(m.fd.as_raw_fd())?;
            cc_offered("bpfld_lnk", true).map_err(|e| format!("after BPF_LINK_CREATE: {e}"))?;
            // SAFETY: plain socket calls on a socket this closure owns.
            let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            if sock < 0 {
                return Err(format!("socket: {}", std::io::Error::last_os_error()));
            }
            let sock = bpfld::sys::own(sock);
            let name = b"bpfld_lnk";
            // SAFETY: the option value is `name`, its length given.
            let r = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_CONGESTION,
                    name.as_ptr().cast(),
                    name.len() as libc::socklen_t,
                )
            };
            if r != 0 {
                return Err(format!(
                    "TCP_CONGESTION bpfld_lnk: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let mut got = [0u8; 16];
            let mut len = got.len() as libc::socklen_t;
            // SAFETY: the kernel writes at most `len` bytes into `got`.
            let r = unsafe {
                libc::getsockopt(
                    sock.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_CONGESTION,
                    got.as_mut_ptr().cast(),
                    &mut len,
                )
            };
            if r != 0 || !got.starts_with(name) {
                return Err(format!("socket's congestion control: {got:?} ({r})"));
            }
            println!("# a TCP socket runs bpfld_lnk, state READY after the load");
            drop(sock);
            drop(link);
            cc_offered("bpfld_lnk", false).map_err(|e| format!("after closing the link: {e}"))?;
        }
        before.unchanged()?;
        expect_refusal_saying(
            &bad,
            libc::EINVAL,
            "map 'bpfld_lnk_bad': struct_ops value: BPF_MAP_UPDATE_ELEM failed",
            "struct_ops_link_bad",
        )?;
        cc_offered("bpfld_lnk_bad", false)
    })())
}

/// A plain `SEC(".struct_ops")` map (the corpus' `struct_ops.bpf.o`, TCP congestion
/// control `bpfld_min`) with `BPFLD_LOAD_REGISTER_STRUCT_OPS`: not registered by a
/// load without it; registered by a load with it (state INUSE), a second such load
/// refused where the kernel refuses the name again (`EEXIST`, naming the map) with
/// nothing left and the first still registered; `BPF_MAP_DELETE_ELEM` unregisters it;
/// a load that registers it and then fails handing out its fds (`EMFILE`) leaves it
/// unregistered and nothing behind.
pub fn struct_ops_registered_at_load(env: &Env) -> Outcome {
    outcome((|| {
        let d = dev()?;
        let f = open(&obj_path("struct_ops.bpf.o"))?;
        let register = KLoadOpts {
            flags: uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS,
            ..KLoadOpts::default()
        };
        let before = Snapshot::take();
        {
            let l = d
                .load(&f, &KLoadOpts::default())
                .map_err(|e| e.to_string())?;
            cc_offered(CORPUS_CC, false).map_err(|e| format!("without the flag: {e}"))?;
            drop(l);
        }
        before.unchanged()?;
        {
            let l = d.load(&f, &register).map_err(|e| e.to_string())?;
            cc_offered(CORPUS_CC, true).map_err(|e| format!("with the flag: {e}"))?;
            let m = l
                .maps
                .iter()
                .find(|m| m.name == CORPUS_CC)
                .ok_or(format!("no map {CORPUS_CC}"))?;
            let v = util::map_lookup(m.fd.as_raw_fd(), 0, 4096)
                .map_err(|e| format!("lookup of the struct_ops value: {e}"))?;
            const BPF_STRUCT_OPS_STATE_INUSE: u32 = 1;
            let state = u32::from_ne_bytes([v[4], v[5], v[6], v[7]]);
            if state != BPF_STRUCT_OPS_STATE_INUSE {
                return Err(format!(
                    "struct_ops state {state} once registered, want INUSE"
                ));
            }
            let again = Snapshot::take();
            refused(
                d.load(&f, &register),
                libc::EEXIST,
                "map 'bpfld_min': struct_ops value",
                "a second registering load",
            )?;
            again
                .unchanged()
                .map_err(|e| format!("after the second load: {e}"))?;
            cc_offered(CORPUS_CC, true).map_err(|e| format!("after the second load: {e}"))?;
            bpfld::sys::map_delete(m.fd.as_raw_fd(), 0)
                .map_err(|e| format!("BPF_MAP_DELETE_ELEM of bpfld_min: {e}"))?;
            cc_offered(CORPUS_CC, false).map_err(|e| format!("after the delete: {e}"))?;
        }
        before.unchanged()?;
        // Three programs and two maps: room for four fds fails the hand-over, which
        // comes before the registration.
        let res = with_fd_room(4, || d.load(&f, &register))?;
        refused(res, libc::EMFILE, "", "registering load with four free fds")?;
        cc_offered(CORPUS_CC, false).map_err(|e| format!("after the failed load: {e}"))?;
        before
            .unchanged()
            .map_err(|e| format!("after the failed load: {e}"))?;
        // Two maps of one name (struct_ops_twice.bpf.c): the first registers, the
        // kernel refuses the second (EEXIST), and the load unregisters the first.
        let twice = open(&super::stress::guest_object(env, "struct_ops_twice")?)?;
        let before = Snapshot::take();
        refused(
            d.load(&twice, &register),
            libc::EEXIST,
            "struct_ops value: registering it",
            "two registering maps named bpfld_two",
        )?;
        cc_offered("bpfld_two", false).map_err(|e| format!("after the refused load: {e}"))?;
        before
            .unchanged()
            .map_err(|e| format!("after the refused load of two maps: {e}"))
    })())
}

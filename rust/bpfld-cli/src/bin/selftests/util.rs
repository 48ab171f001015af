// SPDX-License-Identifier: GPL-2.0-only

//! Helpers of the in-VM selftests: leak accounting, raw syscalls, the verity image.

use bpfld::sys::{next_ids, prog_info_map_ids, sys_bpf};
use bpfld_core::uapi;
use std::io;

/// The `bpfld` command beside this binary.
pub fn cli_path() -> Result<String, String> {
    let bin = std::env::current_exe().map_err(|e| e.to_string())?;
    Ok(bin.with_file_name("bpfld").to_string_lossy().into_owned())
}

/// [`run`] of the `bpfld` command beside this binary.
pub fn run_cli(args: &[&str]) -> Result<String, String> {
    run(&cli_path()?, args)
}

pub use bpfld::run;

/// The cgroup v2 hierarchy's root, mounted here by the first test that needs it.
pub const CGROUP2: &str = "/run/bpfld-cgroup";

/// [`CGROUP2`], mounted.
pub fn cgroup2() -> Result<&'static str, String> {
    std::fs::create_dir_all(CGROUP2).map_err(|e| format!("{CGROUP2}: {e}"))?;
    if !std::path::Path::new(&format!("{CGROUP2}/cgroup.procs")).exists() {
        run("mount", &["-t", "cgroup2", "none", CGROUP2])?;
    }
    Ok(CGROUP2)
}

/// Open fds of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What a failed load must leave unchanged: our fd table and the kernel's BPF objects.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Snapshot {
    /// Open fds of this process.
    pub fds: usize,
    /// BPF programs in the system.
    pub progs: usize,
    /// BPF maps in the system.
    pub maps: usize,
    /// BTF objects in the system (vmlinux's and modules' included).
    pub btfs: usize,
}

impl Snapshot {
    fn read() -> Snapshot {
        Snapshot {
            fds: fd_count(),
            progs: next_ids(uapi::BPF_PROG_GET_NEXT_ID).len(),
            maps: next_ids(uapi::BPF_MAP_GET_NEXT_ID).len(),
            btfs: next_ids(uapi::BPF_BTF_GET_NEXT_ID).len(),
        }
    }

    /// A snapshot once the counts have settled: closed BPF objects go away through RCU
    /// and workqueues, so an earlier test's objects may still be on their way out.
    /// Settled means the same counts for 500 ms (under TCG, freeing stalls between its
    /// RCU and workqueue steps for longer than one short sleep), at most 10 s.
    pub fn take() -> Snapshot {
        let mut prev = Snapshot::read();
        let mut same = 0;
        for _ in 0..200 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let now = Snapshot::read();
            if now == prev {
                same += 1;
                if same == 10 {
                    return now;
                }
            } else {
                same = 0;
            }
            prev = now;
        }
        prev
    }

    /// Nothing more than in `self`: fewer is an earlier test's objects finishing
    /// their way out, not a leak of this one.
    fn within(&self, before: &Snapshot) -> bool {
        self.fds <= before.fds
            && self.progs <= before.progs
            && self.maps <= before.maps
            && self.btfs <= before.btfs
    }

    /// Compare with a later snapshot. Objects are freed asynchronously (a sleepable
    /// program is freed after an RCU tasks-trace grace period, and only then drops its
    /// maps, which can take seconds under TCG), so wait up to 20 s for the counts to
    /// come back to at most the earlier ones; a leak never does.
    pub fn unchanged(&self) -> Result<(), String> {
        let start = std::time::Instant::now();
        let mut now = Snapshot::read();
        while !now.within(self) && start.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(100));
            now = Snapshot::read();
        }
        if now.within(self) {
            Ok(())
        } else {
            Err(format!(
                "leak: before {self:?}, after {now:?} (waited 20 s)"
            ))
        }
    }
}

/// `bpf(BPF_MAP_CREATE)` of a small array map (a decoy for the race test).
pub fn create_array_map(name: &str) -> io::Result<std::os::fd::OwnedFd> {
    bpfld::sys::create_map(uapi::BPF_MAP_TYPE_ARRAY, 4, 8, 1, name)
}

/// The ids of the maps program `fd` uses.
pub fn prog_map_ids(fd: i32) -> io::Result<Vec<u32>> {
    prog_info_map_ids(fd).map(|(_, ids)| ids)
}

/// `BPF_MAP_LOOKUP_ELEM` of key `key` (u32) into a buffer of `size` bytes.
pub fn map_lookup(fd: i32, key: u32, size: usize) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; size];
    let mut a = uapi::MapElemAttr {
        map_fd: fd as u32,
        key: &key as *const u32 as u64,
        value: v.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: the kernel writes value_size (<= size, the caller's duty) bytes to `v`.
    unsafe { sys_bpf(uapi::BPF_MAP_LOOKUP_ELEM, &mut a)? };
    Ok(v)
}

/// `BPF_RAW_TRACEPOINT_OPEN` without a name: attach a tracing or freplace program to
/// the target it was loaded for (its BPF link's fd, detached when closed).
pub fn attach_to_target(prog_fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    #[repr(C)]
    #[derive(Default)]
    struct RawTpAttr {
        name: u64,
        prog_fd: u32,
        _pad: u32,
        cookie: u64,
    }
    let mut a = RawTpAttr {
        prog_fd: prog_fd as u32,
        ..Default::default()
    };
    // SAFETY: RAW_TRACEPOINT_OPEN reads this struct only (no name).
    let fd = unsafe { sys_bpf(uapi::BPF_RAW_TRACEPOINT_OPEN, &mut a)? };
    Ok(bpfld::sys::own(fd))
}

/// `BPF_PROG_TEST_RUN` of program `fd` once on `data` (a packet): its return value.
pub fn prog_test_run(fd: i32, data: &[u8]) -> io::Result<u32> {
    #[repr(C)]
    #[derive(Default)]
    struct TestAttr {
        prog_fd: u32,
        retval: u32,
        data_size_in: u32,
        data_size_out: u32,
        data_in: u64,
        data_out: u64,
        repeat: u32,
        duration: u32,
        ctx_size_in: u32,
        ctx_size_out: u32,
        ctx_in: u64,
        ctx_out: u64,
        flags: u32,
        cpu: u32,
        batch_size: u32,
        _pad: u32,
    }
    let mut a = TestAttr {
        prog_fd: fd as u32,
        data_size_in: data.len() as u32,
        data_in: data.as_ptr() as u64,
        repeat: 1,
        ..Default::default()
    };
    // SAFETY: the kernel reads `data_size_in` bytes of `data` and writes no output
    // (no data_out, no ctx_out).
    unsafe { sys_bpf(uapi::BPF_PROG_TEST_RUN, &mut a)? };
    Ok(a.retval)
}

/// Drop every capability of the calling thread (capset with empty sets).
pub fn drop_all_caps() -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capset reads the header and two data structs.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_mut_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// What the running kernel cannot do for any loader, which some tests need: the
/// reason, or `None` where it can.
pub struct KernelLimits {
    /// Calling a BPF program's callback from the kernel's C (bpf_loop, timers,
    /// bpf_for_each_map_elem).
    pub callbacks: Option<&'static str>,
    /// Attaching fentry, fexit, fmod_ret and sleepable fentry programs (BPF
    /// trampolines).
    pub trampolines: Option<&'static str>,
}

/// The running kernel's [`KernelLimits`], from its architecture and its
/// configuration (`/proc/config.gz` in the test kernels; without one, none is
/// assumed).
pub fn kernel_limits() -> &'static KernelLimits {
    use bpfld_core::externs::KernelConfig;
    static LIMITS: std::sync::OnceLock<KernelLimits> = std::sync::OnceLock::new();
    LIMITS.get_or_init(|| {
        let Ok(config) = bpfld::host::HostConfig::load() else {
            return KernelLimits {
                callbacks: None,
                trampolines: None,
            };
        };
        let set = |name: &str| config.get(name) == Some(b"y".as_slice());
        KernelLimits {
            callbacks: (std::env::consts::ARCH == "aarch64" && set("CONFIG_CFI_CLANG")).then_some(
                "arm64 with CFI_CLANG: 6.12's arm64 JIT emits no kCFI type hash for BPF \
                 functions, so the kernel's call of a BPF callback stops it (CFI failure), \
                 whoever loaded the program",
            ),
            trampolines: (!set("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS")).then_some(
                "no DYNAMIC_FTRACE_WITH_DIRECT_CALLS (6.12's arm64 has it only without \
                 CFI_CLANG): fentry, fexit and fmod_ret programs load but cannot attach",
            ),
        }
    })
}

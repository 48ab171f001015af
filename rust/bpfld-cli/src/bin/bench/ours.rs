// SPDX-License-Identifier: GPL-2.0-only

//! bpfld's side on the host: the user-space executor's pipeline (as
//! `bpfld::load::load_userspace_with` runs it), timed step by step, with every `bpf(2)`
//! command timed by wrapping the executor's [`Bpf`] implementation.

use crate::beside::Beside;
use crate::heap::Mark;
use bpfld::host::{kernel_info, HostBtf, HostConfig, HostSymbols};
use bpfld::load::object_name;
use bpfld::sys::{own, UserBpf};
use bpfld_core::elf::{Elf, Image};
use bpfld_core::exec::{self, Bpf, Cmd, Log};
use bpfld_core::externs::{self, KernelConfig, KernelSymbols};
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::{Object, ParseOptions};
use bpfld_core::plan::{CoreMode, KernelBtf, KernelInfo, Options, Plan};
use std::collections::BTreeMap;
use std::time::Instant;

/// The user-space executor, with the time spent in `bpf(2)` counted.
#[derive(Default)]
pub struct TimedBpf {
    inner: UserBpf,
    /// Nanoseconds inside `bpf(2)`.
    pub ns: u64,
    /// Commands issued.
    pub calls: u32,
    /// Commands by name.
    pub cmds: BTreeMap<&'static str, u32>,
    /// Nanoseconds per command, in [`Cmd::NAMES`] order.
    pub cmd_ns: [u64; 5],
}

impl Bpf for TimedBpf {
    fn bpf(&mut self, cmd: Cmd<'_>) -> Result<i32, i32> {
        let i = cmd.index();
        let name = Cmd::NAMES[i];
        let t = Instant::now();
        let r = self.inner.bpf(cmd);
        let ns = t.elapsed().as_nanos() as u64;
        self.ns += ns;
        self.cmd_ns[i] += ns;
        self.calls += 1;
        *self.cmds.entry(name).or_default() += 1;
        r
    }

    fn close(&mut self, fd: i32) {
        self.inner.close(fd)
    }

    fn btf_dropped(&mut self, errno: i32) {
        self.inner.btf_dropped(errno)
    }

    fn prog_log(&mut self, prog: usize) -> Log {
        self.inner.prog_log(prog)
    }

    fn map_arena(&mut self, map_fd: i32, len: u64, addr: u64, data: &[u8]) -> Result<u64, i32> {
        self.inner.map_arena(map_fd, len, addr, data)
    }

    fn unmap_arena(&mut self, addr: u64, len: u64) {
        self.inner.unmap_arena(addr, len)
    }

    fn module_btf_fd(&mut self, m: &bpfld_core::plan::PlannedModule<'_>) -> Result<i32, i32> {
        self.inner.module_btf_fd(m)
    }

    fn delete_elem(&mut self, map_fd: i32, key: u32) -> Result<(), i32> {
        self.inner.delete_elem(map_fd, key)
    }

    fn swap_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> Result<(), i32> {
        self.inner.swap_slot(map_fd, key, prog_fd)
    }

    fn restore_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> Result<(), i32> {
        self.inner.restore_slot(map_fd, key, prog_fd)
    }
}

/// One load on the host kernel.
#[derive(Clone, Debug, Default)]
pub struct LoadSample {
    /// From reading the file to the last fd.
    pub total_ns: u64,
    /// Reading the file and parsing it (ELF, BTF, object).
    pub parse_ns: u64,
    /// Planning: relocations, CO-RE, externs (kernel configuration and symbols read
    /// here when the object needs them).
    pub plan_ns: u64,
    /// Inside `bpf(2)`.
    pub bpf_ns: u64,
    pub bpf_calls: u32,
    /// Most heap held during the load.
    pub peak: u64,
    pub progs: usize,
    pub maps: usize,
    /// `CMD:COUNT,...`
    pub cmds: String,
    /// Nanoseconds per command, in [`Cmd::NAMES`] order.
    pub cmd_ns: [u64; 5],
}

/// Planning (no kernel).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanSample {
    /// ELF, BTF and object parsing of bytes in memory.
    pub parse_ns: u64,
    /// The plan: relocations, CO-RE, externs.
    pub plan_ns: u64,
    /// Most heap held.
    pub peak: u64,
    /// CO-RE relocation records of the object.
    pub core_relos: u32,
    /// Instructions of the planned programs.
    pub insns: usize,
    pub progs: usize,
}

/// Extern value sources, read only when the object needs them (as the user-space
/// executor and libbpf do), and the kernel's page size, CPUs and version: read from
/// /proc and /sys (two files, about 20-30 us a load on this host), constants in bpfld.ko.
pub struct Sources {
    config: Option<HostConfig>,
    symbols: Option<HostSymbols>,
    kinfo: KernelInfo,
}

impl Sources {
    fn for_object(obj: &Object<'_, VecAlloc>) -> Result<Sources, String> {
        let config = if externs::needs_kernel_config(obj) {
            Some(HostConfig::load()?)
        } else {
            None
        };
        let symbols = if externs::needs_kernel_symbols(obj) {
            let names: Vec<&str> = externs::symbol_names(obj).collect();
            Some(HostSymbols::load(&names)?)
        } else {
            None
        };
        Ok(Sources {
            config,
            symbols,
            kinfo: kernel_info(),
        })
    }

    fn options(&self) -> Options<'_> {
        Options {
            core: CoreMode::Bpfld,
            kconfig: self.config.as_ref().map(|c| c as &dyn KernelConfig),
            symbols: self.symbols.as_ref().map(|s| s as &dyn KernelSymbols),
            ..Options::default()
        }
    }
}

/// The extern value sources of the object at `path`.
pub fn sources_of(path: &str) -> Result<Sources, String> {
    let data = bpfld::load::read_object(path).map_err(|e| format!("{path}: {e}"))?;
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data.image(), &mut alloc).map_err(|e| e.to_string())?;
    let name = object_name(path);
    let obj = Object::parse(elf, &name, &mut alloc).map_err(|e| e.to_string())?;
    Sources::for_object(&obj)
}

fn ns(t: Instant) -> u64 {
    t.elapsed().as_nanos() as u64
}

/// Load `path` into the host kernel: read, parse, plan against `kbtf` (built once and
/// kept, as the module keeps its vmlinux index), execute. The fds are closed after the
/// clock stops.
pub fn load_once(path: &str, kbtf: &HostBtf) -> Result<LoadSample, String> {
    let mark = Mark::start();
    let t0 = Instant::now();
    let data = bpfld::load::read_object(path).map_err(|e| format!("{path}: {e}"))?;
    let name = object_name(path);
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data.image(), &mut alloc).map_err(|e| e.to_string())?;
    let obj = Object::parse(elf, &name, &mut alloc).map_err(|e| e.to_string())?;
    let parse_ns = ns(t0);
    let t1 = Instant::now();
    let sources = Sources::for_object(&obj)?;
    let kb: &dyn KernelBtf = kbtf;
    let plan = Plan::build_with(
        &obj,
        &kernel_info(),
        Some(kb),
        &sources.options(),
        &mut alloc,
    )
    .map_err(|e| e.to_string())?;
    let plan_ns = ns(t1);
    let mut map_fds = vec![-1; plan.maps.len()];
    let mut prog_fds = vec![-1; plan.progs.len()];
    let mut bpf = TimedBpf::default();
    let res = exec::execute(&plan, &mut alloc, &mut bpf, &mut map_fds, &mut prog_fds)
        .map_err(|e| e.to_string());
    LoadSample::ended(
        t0,
        &mark,
        &bpf,
        [parse_ns, plan_ns],
        [&prog_fds, &map_fds],
        res,
    )
}

/// The fds the executor left open, owned: dropped, they are closed.
fn owned(fds: &[i32]) -> Vec<std::os::fd::OwnedFd> {
    fds.iter()
        .filter(|&&fd| fd >= 0)
        .map(|&fd| own(fd))
        .collect()
}

/// A load's error with the last line of the verifier's log.
fn with_log(e: String, bpf: &TimedBpf) -> String {
    let log = bpf.inner.log.lines().last().unwrap_or_default();
    format!("{e} {log}")
}

impl LoadSample {
    /// Stop the clock of a load that started at `t0` and issued `bpf`'s commands, with
    /// its parse and plan times (`steps`), the executor's result and the program and
    /// map fds it left (closed here, after the clock).
    fn ended(
        t0: Instant,
        mark: &Mark,
        bpf: &TimedBpf,
        steps: [u64; 2],
        fds: [&[i32]; 2],
        res: Result<(), String>,
    ) -> Result<LoadSample, String> {
        let total_ns = ns(t0);
        let peak = mark.peak();
        let (progs, maps) = (owned(fds[0]), owned(fds[1]));
        res.map_err(|e| with_log(e, bpf))?;
        let cmds: Vec<String> = bpf.cmds.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        Ok(LoadSample {
            total_ns,
            parse_ns: steps[0],
            plan_ns: steps[1],
            bpf_ns: bpf.ns,
            bpf_calls: bpf.calls,
            peak,
            progs: progs.len(),
            maps: maps.len(),
            cmds: cmds.join(","),
            cmd_ns: bpf.cmd_ns,
        })
    }
}

/// Parse and plan `data` (the object `name`) against `kbtf`, without the kernel.
pub fn plan_once(data: Image<'_>, name: &str, kbtf: &HostBtf) -> Result<PlanSample, String> {
    let mark = Mark::start();
    let t0 = Instant::now();
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data, &mut alloc).map_err(|e| e.to_string())?;
    let obj = Object::parse(elf, name, &mut alloc).map_err(|e| e.to_string())?;
    let parse_ns = ns(t0);
    // Read before the clock starts again: the kernel configuration, kallsyms and the
    // kernel's version and CPUs come from /proc and /sys here, while bpfld.ko has its
    // configuration built in, those facts as constants, and looks its symbols up
    // before the plan (bpf_cubic's CONFIG_HZ took 1.1 ms of inflating /proc/config.gz
    // in a 1.44 ms "plan").
    let sources = Sources::for_object(&obj)?;
    let t1 = Instant::now();
    let kb: &dyn KernelBtf = kbtf;
    let plan = Plan::build_with(
        &obj,
        &sources.kinfo,
        Some(kb),
        &sources.options(),
        &mut alloc,
    )
    .map_err(|e| e.to_string())?;
    let plan_ns = ns(t1);
    let core_relos = obj
        .btf_ext
        .as_ref()
        .map(|e| e.core_relos().num_records())
        .unwrap_or(0);
    Ok(PlanSample {
        parse_ns,
        plan_ns,
        peak: mark.peak(),
        core_relos,
        insns: plan.progs.iter().map(|p| p.insns.len as usize).sum(),
        progs: plan.progs.len(),
    })
}

/// The rest of `obj`'s parse, then its plan (the options made where the plan is: they
/// hold trait objects, not shared). The object comes back whatever failed.
fn rest_and_plan<'o, 'a>(
    obj: &'o mut Object<'a, VecAlloc>,
    sources: &Sources,
    kbtf: &HostBtf,
    a: &mut VecAlloc,
) -> (
    &'o Object<'a, VecAlloc>,
    Result<Plan<'o, 'a, VecAlloc>, String>,
) {
    let parsed = obj.parse_rest(a).map_err(|e| e.to_string());
    let obj: &'o Object<'a, VecAlloc> = obj;
    let opts = Options {
        defer_receipt: true,
        ..sources.options()
    };
    let kb: &dyn KernelBtf = kbtf;
    let plan = parsed.and_then(|()| {
        Plan::build_with(obj, &sources.kinfo, Some(kb), &opts, a).map_err(|e| e.to_string())
    });
    (obj, plan)
}

/// Below this many bytes of BTF bpfld.ko plans before loading the BTF instead of
/// beside it (`BESIDE_MIN_BYTES` in `rust/bpfld/loader.rs`).
const BESIDE_MIN_BYTES: usize = 16 * 1024;

/// Load `path` into the host kernel as bpfld.ko's loading thread does
/// (`rust/bpfld/loader.rs`, `run_job`), with the same core calls in the same order and
/// the same work beside on a second thread: read what the parse uses (no DWARF), parse
/// what the BTF depends on with its full check deferred, the rest of the parse and the
/// plan beside `BPF_BTF_LOAD` (objects with 16 KiB of BTF or more), then issue the
/// commands while the receipt is hashed and the BTF
/// checked beside. Unlike the module: no hand-off to a loading thread and back, no fd
/// installation into a caller, and the extern sources and the kernel's facts
/// (`sources`) read before the clock (the module has its configuration built in and
/// the facts as constants, and looks symbols up itself).
pub fn load_as_module(
    path: &str,
    kbtf: &HostBtf,
    sources: &Sources,
    beside: &Beside,
) -> Result<LoadSample, String> {
    use std::os::unix::fs::FileExt;
    let mark = Mark::start();
    let t0 = Instant::now();
    let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let size = f.metadata().map_err(|e| format!("{path}: {e}"))?.len();
    let data = bpfld_core::elf::read_used(size, &mut VecAlloc::default(), |dst, off| {
        f.read_exact_at(dst, off)
    })
    .map_err(|_| format!("{path}: read failed"))?;
    let name = object_name(path);
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data.image(), &mut alloc).map_err(|e| e.to_string())?;
    let popts = ParseOptions {
        defer_btf_checks: true,
    };
    let mut obj = Object::parse_first(elf, &name, &popts, &mut alloc).map_err(|e| e.to_string())?;
    let parse_ns = ns(t0);
    let t1 = Instant::now();
    let mut bpf = TimedBpf::default();
    let btf_bytes = obj.btf.as_ref().map_or(0, |b| b.data().len());
    let (obj, plan, btf) = if btf_bytes >= BESIDE_MIN_BYTES {
        // As the module: the command loads a copy of the BTF (final after the first
        // part) while the object is the other thread's.
        let copy = obj
            .btf
            .as_ref()
            .map(|b| b.data().to_vec())
            .unwrap_or_default();
        let obj = &mut obj;
        let ((obj, plan), btf) = beside.join(
            move || rest_and_plan(obj, sources, kbtf, &mut VecAlloc::default()),
            || exec::load_btf_data(&copy, &mut bpf).map_err(|e| e.to_string()),
        );
        let btf = btf?;
        match plan {
            Ok(p) => (obj, p, btf),
            Err(e) => {
                btf.close(&mut bpf);
                return Err(e);
            }
        }
    } else {
        let (obj, plan) = rest_and_plan(&mut obj, sources, kbtf, &mut alloc);
        let plan = plan?;
        let btf = exec::load_btf(obj, &mut bpf).map_err(|e| e.to_string())?;
        (obj, plan, btf)
    };
    let plan_ns = ns(t1);
    let mut map_fds = vec![-1; plan.maps.len()];
    let mut prog_fds = vec![-1; plan.progs.len()];
    let receipt = || {
        let checked = obj.check_deferred_btf(&mut VecAlloc::default());
        (checked.map_err(|e| e.to_string()), plan.compute_receipt())
    };
    let execute = || {
        exec::execute_with_btf(
            &plan,
            btf,
            &mut alloc,
            &mut bpf,
            &mut map_fds,
            &mut prog_fds,
        )
        .map_err(|e| e.to_string())
    };
    let ((checked, _receipt), res) = if plan.progs.is_empty() {
        (receipt(), execute())
    } else {
        beside.join(receipt, execute)
    };
    let sample = LoadSample::ended(
        t0,
        &mark,
        &bpf,
        [parse_ns, plan_ns],
        [&prog_fds, &map_fds],
        res,
    )?;
    checked?;
    Ok(sample)
}

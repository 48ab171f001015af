// SPDX-License-Identifier: GPL-2.0-only

//! Parse, plan and (in user space) load an object with bpfld-core.

use crate::host::{kernel_info, HostBtf, HostConfig, HostSymbols};
use crate::sys::{obj_info, own, MapInfo, ProgInfo, UserBpf};
use bpfld_core::elf::{Elf, Packed, ReadError};
use bpfld_core::exec;
use bpfld_core::externs::{self, KernelConfig, KernelSymbols};
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::{MapKind, Object, RelocKind};
use bpfld_core::plan::{KernelBtf, Plan};
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};

/// libbpf's object name: the file name up to its first `.`, at most 15 bytes.
pub fn object_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let base = base.split('.').next().unwrap_or(base);
    base.chars().take(15).collect()
}

/// A program loaded by the user-space executor.
pub struct LoadedProg {
    /// Function name.
    pub name: String,
    /// Section name.
    pub section: String,
    /// The program fd.
    pub fd: OwnedFd,
    /// Kernel program id.
    pub id: u32,
    /// Kernel program tag.
    pub tag: [u8; 8],
    /// `prog_type` sent to the kernel.
    pub prog_type: u32,
    /// `expected_attach_type` sent.
    pub expected_attach_type: u32,
    /// `prog_flags` sent.
    pub prog_flags: u32,
    /// `kern_version` sent.
    pub kern_version: u32,
}

/// User-space knobs for a load.
#[derive(Default, Clone)]
pub struct LoadOpts {
    /// Entry programs to load (`true`, as a program of a `?` section) or not (`false`):
    /// libbpf's `bpf_program__set_autoload()`, the options' `autoload` of the module.
    pub autoload: Vec<(String, bool)>,
    /// Let the kernel apply CO-RE relocations (an oracle for bpfld's own engine).
    pub kernel_core: bool,
    /// Maps of the caller's, open for the load, to use for the object's maps of these
    /// names instead of new ones (as `bpfld load --reuse-map` hands them to the module).
    pub reuse: Vec<(String, std::os::fd::RawFd)>,
    /// BPF programs of the caller's, open for the load, that the object's programs of
    /// these names attach to, with the BTF id of the function in each (as
    /// `bpfld load --attach-target` hands them to the module).
    pub targets: Vec<(String, std::os::fd::RawFd, u32)>,
    /// Register the object's plain `.struct_ops` maps at the end of the load, as the
    /// module's `BPFLD_LOAD_REGISTER_STRUCT_OPS`.
    pub register_struct_ops: bool,
}

impl LoadOpts {
    /// Options that leave out the entry programs `progs` (libbpf's
    /// `bpf_program__set_autoload(prog, false)` for each), and nothing else.
    pub fn without(progs: &[String]) -> LoadOpts {
        LoadOpts {
            autoload: progs.iter().map(|n| (n.clone(), false)).collect(),
            ..LoadOpts::default()
        }
    }
}

/// [`LoadOpts::targets`] as the planner asks for them.
struct Targets<'a>(&'a [(String, std::os::fd::RawFd, u32)]);

impl bpfld_core::plan::ProgTargets for Targets<'_> {
    fn target(&self, prog: &str) -> Option<u32> {
        self.0.iter().find(|t| t.0 == prog).map(|t| t.2)
    }
}

/// A map created by the user-space executor.
pub struct LoadedMap {
    /// Map name (BTF variable or section name).
    pub name: String,
    /// The map fd.
    pub fd: OwnedFd,
    /// Kernel map id.
    pub id: u32,
    /// The object asks for pinning by name (`LIBBPF_PIN_BY_NAME`).
    pub pinning: bool,
}

/// Everything one user-space load created; dropping it closes every fd.
pub struct UserLoad {
    /// Programs, in plan order.
    pub progs: Vec<LoadedProg>,
    /// Maps (inner templates excluded).
    pub maps: Vec<LoadedMap>,
    /// The plan's receipt.
    pub receipt: [u8; 32],
    /// CO-RE relocation records in the object.
    pub core_relos: usize,
}

/// Why a load failed: the core's message and, for a rejected program, the verifier log.
#[derive(Debug)]
pub struct LoadError {
    /// Human-readable error naming the step and the object.
    pub msg: String,
    /// errno to report.
    pub errno: i32,
    /// Verifier log, when a program was rejected.
    pub log: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (errno {})", self.msg, self.errno)?;
        if !self.log.is_empty() {
            write!(f, "\n-- verifier log --\n{}", self.log.trim_end())?;
        }
        Ok(())
    }
}

fn core_err(path: &str, e: bpfld_core::Error<'_>) -> LoadError {
    LoadError {
        msg: format!("{path}: {e}"),
        errno: e.errno(),
        log: String::new(),
    }
}

/// The extern value sources an object needs, read only when it needs them (as libbpf
/// reads the kernel configuration and `/proc/kallsyms` only then).
#[derive(Default)]
struct Sources {
    config: Option<HostConfig>,
    symbols: Option<HostSymbols>,
}

impl Sources {
    fn for_object(path: &str, obj: &Object<'_, VecAlloc>) -> Result<Sources, LoadError> {
        let fail = |msg: String| LoadError {
            msg: format!("{path}: {msg}"),
            errno: libc::EINVAL,
            log: String::new(),
        };
        let mut s = Sources::default();
        if externs::needs_kernel_config(obj) {
            s.config = Some(HostConfig::load().map_err(fail)?);
        }
        if externs::needs_kernel_symbols(obj) {
            let names: Vec<&str> = externs::symbol_names(obj).collect();
            s.symbols = Some(HostSymbols::load(&names).map_err(fail)?);
        }
        Ok(s)
    }

    fn options(&self, core: bpfld_core::plan::CoreMode) -> bpfld_core::plan::Options<'_> {
        bpfld_core::plan::Options {
            core,
            kconfig: self.config.as_ref().map(|c| c as &dyn KernelConfig),
            symbols: self.symbols.as_ref().map(|s| s as &dyn KernelSymbols),
            ..bpfld_core::plan::Options::default()
        }
    }
}

/// Read the object at `path` as the module does ([`bpfld_core::elf::read_used`]): the
/// headers and every section but DWARF's, packed. The same bytes give the same plan and
/// receipt on the host as in the kernel; parse them with [`Elf::parse_image`].
pub fn read_object(path: &str) -> std::io::Result<Packed<VecAlloc>> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    if size > bpfld_core::limits::MAX_FILE_SIZE as u64 {
        return Err(std::io::Error::other(format!(
            "file is {size} bytes, the limit is {}",
            bpfld_core::limits::MAX_FILE_SIZE
        )));
    }
    bpfld_core::elf::read_small_whole(
        size,
        bpfld_core::elf::SMALL_FILE,
        &mut VecAlloc::default(),
        |dst, off| f.read_exact_at(dst, off),
    )
    .map_err(|e| match e {
        ReadError::Read(e) => e,
        ReadError::Core(e) => std::io::Error::other(e.to_string()),
    })
}

/// Parse the object at `path` in user space and ask `f` about it.
fn with_object<T>(
    path: &str,
    f: impl for<'o> FnOnce(&Object<'o, VecAlloc>) -> Result<T, String>,
) -> Result<T, String> {
    let data = read_object(path).map_err(|e| format!("{path}: {e}"))?;
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data.image(), &mut alloc).map_err(|e| format!("{path}: {e}"))?;
    let name = object_name(path);
    let obj = Object::parse(elf, &name, &mut alloc).map_err(|e| format!("{path}: {e}"))?;
    f(&obj)
}

/// The function that program `prog` of the object at `path` names in its section
/// (`freplace/FUNC`, `fentry/FUNC`, ...): what libbpf attaches it to in a target
/// program when `bpf_program__set_attach_target()` is given none.
pub fn section_function(path: &str, prog: &str) -> Result<String, String> {
    with_object(path, |obj| {
        let p = obj
            .progs
            .iter()
            .find(|p| p.name == prog)
            .ok_or_else(|| format!("{path}: no program {prog}"))?;
        let spec = bpfld_core::section::classify(p.sec_name).map_err(|e| format!("{path}: {e}"))?;
        spec.btf_target
            .map(|t| t.name.to_string())
            .ok_or_else(|| format!("{path}: program {prog}'s section names no function"))
    })
}

/// The maps of the object at `path` that ask to be pinned by name (`pinning =
/// LIBBPF_PIN_BY_NAME`), which libbpf reuses from, or pins at, `PIN_ROOT/NAME`.
pub fn maps_pinned_by_name(path: &str) -> Result<Vec<String>, String> {
    with_object(path, |obj| {
        Ok(obj
            .maps
            .iter()
            .filter(|m| m.kind != MapKind::Inner && m.def.pinning != 0)
            .map(|m| m.name.to_string())
            .collect())
    })
}

/// Load `path` with the user-space executor on the running kernel.
pub fn load_userspace(path: &str) -> Result<UserLoad, LoadError> {
    load_userspace_with(path, &LoadOpts::default())
}

/// [`load_userspace`] with options.
pub fn load_userspace_with(path: &str, opts: &LoadOpts) -> Result<UserLoad, LoadError> {
    let data = read_object(path).map_err(|e| LoadError {
        msg: format!("{path}: {e}"),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        log: String::new(),
    })?;
    let kbtf = HostBtf::load().ok();
    let name = object_name(path);
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data.image(), &mut alloc).map_err(|e| core_err(path, e))?;
    let mut obj = Object::parse(elf, &name, &mut alloc).map_err(|e| core_err(path, e))?;
    for (d, load) in &opts.autoload {
        if !obj.set_autoload(d, *load) {
            return Err(LoadError {
                msg: format!("{path}: autoload '{d}': the object has no such entry program"),
                errno: libc::ENOENT,
                log: String::new(),
            });
        }
    }
    let kb = kbtf.as_ref().map(|k| k as &dyn KernelBtf);
    // As the module: a target for a program the object lacks is refused up front.
    if let Some((t, _, _)) = opts
        .targets
        .iter()
        .find(|(t, _, _)| obj.prog_by_name(t).is_none())
    {
        return Err(LoadError {
            msg: format!("{path}: attach '{t}': the object has no such entry program"),
            errno: libc::ENOENT,
            log: String::new(),
        });
    }
    let sources = Sources::for_object(path, &obj)?;
    let targets = Targets(&opts.targets);
    let mut popts = sources.options(if opts.kernel_core {
        bpfld_core::plan::CoreMode::Kernel
    } else {
        bpfld_core::plan::CoreMode::Bpfld
    });
    if !opts.targets.is_empty() {
        popts.prog_targets = Some(&targets);
    }
    let plan = Plan::build_with(&obj, &kernel_info(), kb, &popts, &mut alloc)
        .map_err(|e| core_err(path, e))?;
    let core_relos = obj
        .btf_ext
        .as_ref()
        .map(|e| e.core_relos().num_records() as usize)
        .unwrap_or(0);
    let mut map_fds = vec![-1; plan.maps.len()];
    let mut prog_fds = vec![-1; plan.progs.len()];
    let mut bpf = UserBpf {
        reuse: opts.reuse.clone(),
        targets: opts
            .targets
            .iter()
            .map(|(n, fd, _)| (n.clone(), *fd))
            .collect(),
        register_struct_ops: opts.register_struct_ops,
        ..UserBpf::default()
    };
    if let Err(e) = exec::execute(&plan, &mut alloc, &mut bpf, &mut map_fds, &mut prog_fds) {
        let mut err = core_err(path, e);
        err.log = std::mem::take(&mut bpf.log);
        return Err(err);
    }
    let mut out = UserLoad {
        progs: Vec::new(),
        maps: Vec::new(),
        receipt: plan.receipt,
        core_relos,
    };
    for (p, fd) in plan.progs.iter().zip(prog_fds) {
        let fd = own(fd);
        let info: ProgInfo = obj_info(fd.as_raw_fd()).unwrap_or_default();
        out.progs.push(LoadedProg {
            name: p.name.to_string(),
            section: p.sec_name.to_string(),
            fd,
            id: info.id,
            tag: info.tag,
            prog_type: p.prog_type,
            expected_attach_type: p.expected_attach_type,
            prog_flags: p.prog_flags,
            kern_version: plan.kern_version,
        });
    }
    for (m, fd) in obj.maps.iter().zip(map_fds) {
        if fd < 0 {
            continue;
        }
        let fd = own(fd);
        let info: MapInfo = obj_info(fd.as_raw_fd()).unwrap_or_default();
        out.maps.push(LoadedMap {
            name: m.name.to_string(),
            fd,
            id: info.id,
            pinning: m.def.pinning != 0,
        });
    }
    Ok(out)
}

/// A human-readable description of what loading `path` would do, without loading.
pub fn inspect(path: &str) -> Result<String, LoadError> {
    let data = read_object(path).map_err(|e| LoadError {
        msg: format!("{path}: {e}"),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
        log: String::new(),
    })?;
    let kbtf = HostBtf::load().ok();
    let name = object_name(path);
    let mut alloc = VecAlloc::default();
    let elf = Elf::parse_image(data.image(), &mut alloc).map_err(|e| core_err(path, e))?;
    let obj = Object::parse(elf, &name, &mut alloc).map_err(|e| core_err(path, e))?;
    let kb = kbtf.as_ref().map(|k| k as &dyn KernelBtf);
    let sources = Sources::for_object(path, &obj)?;
    let popts = sources.options(bpfld_core::plan::CoreMode::Bpfld);
    let plan = Plan::build_with(&obj, &kernel_info(), kb, &popts, &mut alloc)
        .map_err(|e| core_err(path, e))?;
    let mut s = String::new();
    let license = crate::dev::cstr(&obj.license);
    let _ = writeln!(
        s,
        "object {name}: license \"{license}\", kern_version {:#x}",
        plan.kern_version
    );
    if let Some(b) = obj.btf.as_ref() {
        let _ = writeln!(s, "btf: {} bytes", b.data().len());
    }
    let cpus = kernel_info().possible_cpus;
    let _ = writeln!(
        s,
        "maps: {} (about {} bytes allocated at creation with {cpus} possible CPUs)",
        obj.maps.len(),
        plan.map_memory(cpus)
    );
    for (i, (m, pm)) in obj.maps.iter().zip(plan.maps.iter()).enumerate() {
        let d = pm.def;
        let _ =
            writeln!(
            s,
            "  [{i}] {} ({:?}) kname={} type={} key={} value={} max_entries={} flags={:#x}{}{}{}",
            m.name,
            m.kind,
            m.kname_str(),
            d.map_type,
            d.key_size,
            d.value_size,
            d.max_entries,
            d.map_flags,
            if d.pinning != 0 { " pinning=by_name" } else { "" },
            m.inner.map(|x| format!(" inner=[{x}]")).unwrap_or_default(),
            if m.data.is_empty() { String::new() } else { format!(" init={}B", m.data.len()) },
        );
    }
    for sl in obj.slots.iter() {
        let _ = writeln!(
            s,
            "  slot: map [{}] [{}] = {:?}",
            sl.map, sl.index, sl.target
        );
    }
    let _ = writeln!(s, "programs: {}", plan.progs.len());
    for p in plan.progs.iter() {
        let attach = p
            .attach
            .map(|a| format!(" attach_btf_id={}", a.type_id))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {} SEC(\"{}\") type={} attach_type={} flags={:#x}{} insns={} maps_refs={} func_info={} line_info={}",
            p.name,
            p.sec_name,
            p.prog_type,
            p.expected_attach_type,
            p.prog_flags,
            attach,
            p.insns.len,
            p.sites.len,
            p.func_info.len,
            p.line_info.len
        );
    }
    let skipped: Vec<&str> = obj
        .progs
        .iter()
        .filter(|p| !p.is_subprog() && !p.autoload)
        .map(|p| p.name)
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(s, "not autoloaded: {}", skipped.join(", "));
    }
    for (e, r) in obj.externs.iter().zip(plan.externs.iter()) {
        let what = match e.kind {
            bpfld_core::object::ExternKind::Kconfig(k) => {
                format!("kconfig at .kconfig+{} ({} bytes)", k.data_off, k.size)
            }
            bpfld_core::object::ExternKind::Ksym(k) if k.func => {
                format!("kfunc, vmlinux btf id {}", r.kernel_btf_id)
            }
            bpfld_core::object::ExternKind::Ksym(k) if k.type_id != 0 => {
                format!("ksym, vmlinux btf id {}", r.kernel_btf_id)
            }
            bpfld_core::object::ExternKind::Ksym(_) => format!("ksym at {:#x}", r.addr),
        };
        let _ = writeln!(
            s,
            "  extern {}{}: {}{}",
            e.name,
            if e.weak { " (weak)" } else { "" },
            what,
            if r.set { "" } else { ", unresolved" }
        );
    }
    let relos = obj
        .relos
        .iter()
        .filter(|r| r.kind != RelocKind::None)
        .count();
    let subprogs = obj.progs.iter().filter(|p| p.is_subprog()).count();
    let data_maps = obj.maps.iter().filter(|m| m.kind != MapKind::Btf).count();
    let _ = writeln!(
        s,
        "relocations: {relos}, subprograms: {subprogs}, internal maps: {data_maps}"
    );
    let mut hex = [0u8; 64];
    let _ = writeln!(
        s,
        "receipt: sha256:{}",
        bpfld_core::digest::hex(&plan.receipt, &mut hex)
    );
    Ok(s)
}

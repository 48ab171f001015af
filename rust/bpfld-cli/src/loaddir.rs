// SPDX-License-Identifier: GPL-2.0-only

//! `bpfld load-dir DIR --pin-root ROOT`: load every BPF object of a directory at boot and
//! pin what each one created, as Android's bpfloader does for `/system/etc/bpf`, but
//! through `/dev/bpfld`, so that the kernel checks each file's fs-verity digest against
//! its policy and does all the loading itself.
//!
//! The model (Documentation/android.rst says the same for device makers):
//!
//! * **Files.** Every regular file directly in DIR (no symlinks, no subdirectories)
//!   whose name ends in `.o`, which includes `*.bpf.o`, in byte order of the names.
//!   `<obj>` is the file name without `.bpf.o`, or else without `.o`. Two files with the
//!   same `<obj>` (`a.o`, `a.bpf.o`): the second is refused.
//! * **Pin names.** `ROOT/prog_<obj>_<section>_<name>` for each program (`<name>` is
//!   its function name) and `ROOT/map_<obj>_<name>` for each map the module reports
//!   (BTF-defined maps by variable name, global data by section: `.rodata` ->
//!   `rodata`). A map the object asks to pin by name (`pinning = LIBBPF_PIN_BY_NAME`)
//!   is pinned as `ROOT/map__<name>` instead and shared by every object that has a map
//!   of that name, as Android's `shared` maps are. In every part `/` becomes `_`
//!   (Android's rule for section names) and so does `.` (bpffs refuses names with
//!   dots); a leading `.` or `?` is dropped. Android's legacy loader pins
//!   `prog_<obj>_<section>` because its objects hold one program per section; libbpf
//!   objects may hold several, hence the function name.
//! * **Criticality** is Android's: an object is critical iff it has an ELF section
//!   called `critical` (what `CRITICAL("reason")` of Android's `bpf_helpers.h` emits;
//!   its text is the reason). A failed optional object is reported and the run goes on;
//!   a failed critical one stops the run at once and makes it fail.
//! * **One object is all or nothing.** The module loads an object whole or not at all;
//!   if pinning fails half-way, the pins this run made for the object are removed.
//! * **Reuse.** If none of an object's pins exist (its own or shared ones), it is
//!   loaded and pinned. If some exist, the object is planned in user space with the same
//!   core the module runs (same kernel BTF, so the same programs and map definitions)
//!   and the pins are checked: every map pin must hold a map whose type, key size, value
//!   size, max_entries, flags and map_extra match (flags as the kernel stores them),
//!   every program pin a program of the planned type and name that uses only the
//!   object's pinned maps. A mismatch is refused with `ENOTUNIQ` (Android's errno for
//!   it) naming the pin and the attributes.
//!   - All present and consistent: the object is *reused*, nothing is loaded.
//!   - Some missing: the object is loaded with its pinned maps in place of new ones
//!     (`bpfld_load_opts.map_reuse`: the module checks each map again and builds the
//!     programs against it), and what was missing is pinned; the programs whose pins
//!     exist are kept and not loaded again (`bpfld_load_opts.autoload`), unless a
//!     program array of the object holds them. A pinned map whose contents come from
//!     the object (global data, `.kconfig`, struct_ops, arenas) cannot be taken over:
//!     `EOPNOTSUPP` naming it.
//!
//!   Reuse trusts that pins under ROOT were made by load-dir from the same directory in
//!   this boot (bpffs does not survive a reboot), as Android's bpfloader does.

use crate::dev::{Device, KLoadExtra, KLoadOpts};
use crate::host::{kernel_info, HostBtf, HostConfig, HostSymbols};
pub use crate::sys::{fd_kind, map_mismatch, obj_get};
use crate::sys::{obj_info, obj_pin, prog_info_map_ids, unpin, MapInfo, ProgInfo};
use bpfld_core::elf::Elf;
use bpfld_core::exec;
use bpfld_core::externs::{self, KernelConfig, KernelSymbols};
use bpfld_core::mem::{Alloc, VecAlloc};
use bpfld_core::object::{MapDef, MapKind, Object, SlotTarget};
use bpfld_core::plan::{self, KernelBtf, Plan};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `BPF_FS_MAGIC`: the pin root must be on bpffs.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// Android's bpfloader returns this when a pinned map does not match the object.
const ENOTUNIQ: i32 = 76;
/// Longest file name bpffs (like every Linux filesystem) accepts.
const NAME_MAX: usize = 255;

/// `<obj>` of an object file name (without `.bpf.o`, or else `.o`); `None` if the name
/// does not end in `.o` or nothing is left.
pub fn object_stem(file_name: &str) -> Option<&str> {
    let stem = file_name
        .strip_suffix(".bpf.o")
        .or_else(|| file_name.strip_suffix(".o"))?;
    (!stem.is_empty()).then_some(stem)
}

/// One part of a pin name: a leading `?` or `.` dropped, `/` and `.` made `_`.
pub fn pin_part(s: &str) -> String {
    let s = s.strip_prefix('?').unwrap_or(s);
    let s = s.strip_prefix('.').unwrap_or(s);
    s.chars()
        .map(|c| if c == '/' || c == '.' { '_' } else { c })
        .collect()
}

/// `prog_<obj>_<section>_<name>`.
pub fn prog_pin_name(obj: &str, section: &str, name: &str) -> String {
    format!(
        "prog_{}_{}_{}",
        pin_part(obj),
        pin_part(section),
        pin_part(name)
    )
}

/// `map_<obj>_<name>`.
pub fn map_pin_name(obj: &str, name: &str) -> String {
    format!("map_{}_{}", pin_part(obj), pin_part(name))
}

/// `map__<name>`: a map pinned by name (`LIBBPF_PIN_BY_NAME`), shared between objects
/// (Android's `shared` maps have an empty object part).
pub fn shared_map_pin_name(name: &str) -> String {
    format!("map__{}", pin_part(name))
}

/// The pin name of map `name` of object `obj`, and whether it is shared.
pub fn map_pin(obj: &str, name: &str, pinning: bool) -> (String, bool) {
    if pinning {
        (shared_map_pin_name(name), true)
    } else {
        (map_pin_name(obj, name), false)
    }
}

/// The reason of an Android-style critical object (the text of its `critical`
/// section, or `critical` if it has none); `None` for an optional object.
pub fn critical_reason<A: Alloc>(elf: &Elf<'_, A>) -> Option<String> {
    let sec = elf.section_by_name("critical")?;
    let text = crate::dev::cstr(sec.data);
    let text = text.trim();
    Some(if text.is_empty() {
        "critical".to_string()
    } else {
        text.to_string()
    })
}

/// The errno's symbolic name, for the summary line.
pub fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENODATA => "ENODATA",
        ENOTUNIQ => "ENOTUNIQ",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        _ => "E?",
    }
}

/// A program an object loaded.
pub struct LoadedProg {
    /// Function name.
    pub name: String,
    /// `SEC()` name.
    pub section: String,
    /// The program (closed on drop: the pin keeps it).
    pub fd: OwnedFd,
}

/// A map an object created.
pub struct LoadedMap {
    /// BTF variable or ELF section name.
    pub name: String,
    /// The map (closed on drop: the pin keeps it).
    pub fd: OwnedFd,
    /// The object asks for pinning by name (`LIBBPF_PIN_BY_NAME`).
    pub pinning: bool,
}

/// Maps to use for the object's maps of these names instead of creating them.
pub type Reuse = [(String, OwnedFd)];

/// Everything one object created.
pub struct Loaded {
    /// Programs, in the order the loader reported them.
    pub progs: Vec<LoadedProg>,
    /// Maps, in the order the loader reported them.
    pub maps: Vec<LoadedMap>,
}

impl Loaded {
    /// From a loader's programs (name, section, fd) and maps (name, fd, pinned by
    /// name), in its order.
    fn from_parts(
        progs: impl Iterator<Item = (String, String, OwnedFd)>,
        maps: impl Iterator<Item = (String, OwnedFd, bool)>,
    ) -> Loaded {
        Loaded {
            progs: progs
                .map(|(name, section, fd)| LoadedProg { name, section, fd })
                .collect(),
            maps: maps
                .map(|(name, fd, pinning)| LoadedMap { name, fd, pinning })
                .collect(),
        }
    }
}

/// Why one object failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// errno.
    pub errno: i32,
    /// What failed: the module's message, or which pin and why.
    pub msg: String,
    /// Verifier log, if a program was rejected.
    pub log: String,
}

impl Failure {
    fn new(errno: i32, msg: impl Into<String>) -> Failure {
        Failure {
            errno,
            msg: msg.into(),
            log: String::new(),
        }
    }

    fn io(e: &io::Error, msg: impl std::fmt::Display) -> Failure {
        Failure::new(e.raw_os_error().unwrap_or(libc::EIO), format!("{msg}: {e}"))
    }
}

/// How objects get into the kernel.
pub trait Loader {
    /// Load the object open at `file` (whose path is `path`), with the maps of `reuse`
    /// in place of new ones and without the entry programs `skip`.
    fn load(
        &self,
        path: &Path,
        file: &File,
        reuse: &Reuse,
        skip: &[String],
    ) -> Result<Loaded, Failure>;
}

impl Loader for Device {
    fn load(
        &self,
        _path: &Path,
        file: &File,
        reuse: &Reuse,
        skip: &[String],
    ) -> Result<Loaded, Failure> {
        let extra = KLoadExtra {
            reuse: reuse
                .iter()
                .map(|(n, fd)| (n.as_str(), fd.as_fd()))
                .collect(),
            autoload: skip.iter().map(|n| (n.as_str(), false)).collect(),
            ..KLoadExtra::default()
        };
        let l = self
            .load_with(file, &KLoadOpts::default(), &extra)
            .map_err(|e| Failure {
                errno: e.errno,
                msg: e.msg,
                log: e.log,
            })?;
        Ok(Loaded::from_parts(
            l.progs.into_iter().map(|p| (p.name, p.section, p.fd)),
            l.maps.into_iter().map(|m| (m.name, m.fd, m.pinning)),
        ))
    }
}

/// The user-space executor (`bpf(2)`, no module, no policy): for development hosts
/// and the host tests.
pub struct UserSpace;

impl Loader for UserSpace {
    fn load(
        &self,
        path: &Path,
        _file: &File,
        reuse: &Reuse,
        skip: &[String],
    ) -> Result<Loaded, Failure> {
        let p = path.to_string_lossy();
        let opts = crate::load::LoadOpts {
            reuse: reuse
                .iter()
                .map(|(n, fd)| (n.clone(), fd.as_raw_fd()))
                .collect(),
            ..crate::load::LoadOpts::without(skip)
        };
        let l = crate::load::load_userspace_with(&p, &opts).map_err(|e| Failure {
            errno: e.errno,
            msg: e.msg,
            log: e.log,
        })?;
        Ok(Loaded::from_parts(
            l.progs.into_iter().map(|p| (p.name, p.section, p.fd)),
            l.maps.into_iter().map(|m| (m.name, m.fd, m.pinning)),
        ))
    }
}

/// What became of an object's pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Loaded now and pinned (against the maps already pinned, if any).
    Pinned,
    /// Already pinned and consistent: nothing loaded.
    Reused,
    /// Nothing pinned by this run.
    None,
}

/// The outcome of one object: one summary line.
#[derive(Debug)]
pub struct ObjectReport {
    /// File name in DIR.
    pub file: String,
    /// `sha256:HEX` fs-verity digest, if the file has one.
    pub digest: Option<String>,
    /// `Some(reason)` for a critical object.
    pub critical: Option<String>,
    /// Programs pinned (or reused).
    pub progs: usize,
    /// Maps pinned (or reused).
    pub maps: usize,
    /// Of `maps`, how many were pinned already and taken over by this load.
    pub reused_maps: usize,
    /// Of `progs`, how many were pinned already and kept (not loaded again).
    pub kept_progs: usize,
    /// Pinned, reused or nothing.
    pub state: State,
    /// `Err` if the object failed.
    pub result: Result<(), Failure>,
}

impl ObjectReport {
    /// `FILE DIGEST critical|optional progs=N maps=M pinned|reused|- ok|failed ...`.
    pub fn line(&self) -> String {
        let digest = match &self.digest {
            // "sha256:" and 16 hex digits.
            Some(d) => d
                .chars()
                .take(d.find(':').map_or(0, |i| i + 1) + 16)
                .collect(),
            None => "-".to_string(),
        };
        let state = match self.state {
            State::Pinned => {
                let mut s = "pinned".to_string();
                if self.reused_maps > 0 {
                    s.push_str(&format!(",maps_reused={}", self.reused_maps));
                }
                if self.kept_progs > 0 {
                    s.push_str(&format!(",progs_kept={}", self.kept_progs));
                }
                s
            }
            State::Reused => "reused".to_string(),
            State::None => "-".to_string(),
        };
        let result = match &self.result {
            Ok(()) => "ok".to_string(),
            Err(f) => format!(
                "failed errno={} ({}): {}",
                f.errno,
                errno_name(f.errno),
                f.msg.replace('\n', " ")
            ),
        };
        format!(
            "{} {digest} {} progs={} maps={} {state} {result}",
            self.file,
            if self.critical.is_some() {
                "critical"
            } else {
                "optional"
            },
            self.progs,
            self.maps
        )
    }
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per object attempted, in order.
    pub objects: Vec<ObjectReport>,
    /// Files not attempted because a critical object failed.
    pub not_attempted: Vec<String>,
}

impl Report {
    /// The critical object that failed (and stopped the run), if any.
    pub fn critical_failure(&self) -> Option<&ObjectReport> {
        self.objects
            .iter()
            .find(|o| o.critical.is_some() && o.result.is_err())
    }

    /// The closing line: counts, and the stop if there was one.
    pub fn totals(&self, dir: &Path) -> String {
        let n = |s: State| {
            self.objects
                .iter()
                .filter(|o| o.state == s && o.result.is_ok())
                .count()
        };
        let failed = self.objects.iter().filter(|o| o.result.is_err()).count();
        let mut s = format!(
            "load-dir {}: {} objects: {} pinned, {} reused, {} failed",
            dir.display(),
            self.objects.len() + self.not_attempted.len(),
            n(State::Pinned),
            n(State::Reused),
            failed
        );
        if let Some(c) = self.critical_failure() {
            s.push_str(&format!(
                "; critical object {} failed, {} not attempted",
                c.file,
                self.not_attempted.len()
            ));
        }
        s
    }
}

/// `<obj>` and the file names of DIR to load, in byte order.
pub fn list_objects(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        // A name that is not UTF-8 cannot become a pin name: skipped like any file
        // whose name does not end in ".o".
        let Some(name) = name.to_str() else {
            continue;
        };
        if object_stem(name).is_none() || !e.file_type()?.is_file() {
            continue;
        }
        names.push(name.to_string());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// State shared by the objects of one run.
struct Run<'l> {
    loader: &'l dyn Loader,
    root: PathBuf,
    /// Pin name -> the file that claimed it first in this run, and whether it is a
    /// shared map's (names are `_`-joined, so two objects could produce the same one;
    /// only shared maps' pins may be claimed again, as shared maps' pins).
    claimed: HashMap<String, (String, bool)>,
    /// `<obj>` -> file.
    stems: HashMap<String, String>,
    /// vmlinux BTF for user-space plans, read on first need.
    btf: Option<Result<HostBtf, String>>,
}

/// Load every object of `dir` and pin it under `root` (created if missing; must be on
/// bpffs). `each` sees every object's report as soon as it is done. Errors that concern
/// no single object (DIR unreadable, ROOT not bpffs) are `Err`.
pub fn load_dir(
    dir: &Path,
    root: &Path,
    loader: &dyn Loader,
    each: &mut dyn FnMut(&ObjectReport),
) -> Result<Report, String> {
    let files = list_objects(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    check_bpffs(root)?;
    let mut run = Run {
        loader,
        root: root.to_path_buf(),
        claimed: HashMap::new(),
        stems: HashMap::new(),
        btf: None,
    };
    let mut report = Report::default();
    let mut it = files.into_iter();
    for file in it.by_ref() {
        let r = run.object(dir, &file);
        each(&r);
        let stop = r.critical.is_some() && r.result.is_err();
        report.objects.push(r);
        if stop {
            break;
        }
    }
    report.not_attempted = it.collect();
    Ok(report)
}

fn check_bpffs(root: &Path) -> Result<(), String> {
    let c = std::ffi::CString::new(root.as_os_str().as_bytes())
        .map_err(|_| format!("{}: NUL in path", root.display()))?;
    // SAFETY: all-zero is a valid statfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a statfs the call writes.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!(
            "{}: {}",
            root.display(),
            io::Error::last_os_error()
        ));
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between architectures.
    if st.f_type as i64 != BPF_FS_MAGIC {
        return Err(format!(
            "{}: not on bpffs (mount -t bpf bpf /sys/fs/bpf)",
            root.display()
        ));
    }
    Ok(())
}

/// What a load of the object would create, planned in user space.
struct Expected {
    progs: Vec<ExpProg>,
    maps: Vec<ExpMap>,
}

struct ExpProg {
    name: String,
    section: String,
    prog_type: u32,
    kname: String,
}

struct ExpMap {
    name: String,
    def: MapDef,
    /// Why a load cannot take the pinned map over ([`exec::reuse_refusal`]).
    refusal: Option<&'static str>,
}

/// The pins of an object that exist, checked against its plan.
#[derive(Default)]
struct Pins {
    /// Every pin name that exists -> whether it is a shared map's.
    names: BTreeMap<String, bool>,
    /// The pinned maps, by the object's map names, for a load to take over.
    maps: Vec<(String, OwnedFd)>,
    /// The pinned programs that match the object's: (program name, pin name).
    progs: Vec<(String, String)>,
    /// The pin names that do not exist.
    missing: Vec<String>,
}

/// Whether a program array of `obj` holds its program `name` (its `.values`).
fn in_prog_array(obj: &Object<'_, VecAlloc>, name: &str) -> bool {
    obj.slots.iter().any(|s| {
        matches!(s.target, SlotTarget::Prog(p)
            if obj.progs.get(p as usize).is_some_and(|p| p.name == name))
    })
}

/// The program and map ids of a program (`E2BIG` past the 64 map ids read).
fn prog_info(fd: RawFd) -> io::Result<(ProgInfo, Vec<u32>)> {
    let (info, ids) = prog_info_map_ids(fd)?;
    if info.nr_map_ids as usize > ids.len() {
        return Err(io::Error::from_raw_os_error(libc::E2BIG));
    }
    Ok((info, ids))
}

impl Run<'_> {
    fn object(&mut self, dir: &Path, file: &str) -> ObjectReport {
        let mut r = ObjectReport {
            file: file.to_string(),
            digest: None,
            critical: None,
            progs: 0,
            maps: 0,
            reused_maps: 0,
            kept_progs: 0,
            state: State::None,
            result: Ok(()),
        };
        r.result = self.object_inner(dir, file, &mut r);
        if let Err(f) = &r.result {
            if !f.log.trim().is_empty() {
                eprintln!("bpfld: {file}: -- verifier log --\n{}", f.log.trim_end());
            }
            r.progs = 0;
            r.maps = 0;
            r.reused_maps = 0;
            r.kept_progs = 0;
            r.state = State::None;
        }
        r
    }

    fn object_inner(
        &mut self,
        dir: &Path,
        file: &str,
        r: &mut ObjectReport,
    ) -> Result<(), Failure> {
        let path = dir.join(file);
        let stem = object_stem(file).unwrap_or(file).to_string();
        // O_NOFOLLOW: the listing skipped symlinks, and one put there since is refused.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
            .open(&path)
            .map_err(|e| Failure::io(&e, path.display()))?;
        r.digest = crate::verity::measure(&f);
        // The same open file is read here and handed to the module: a file on
        // fs-verity cannot change in between, and a rename cannot swap it.
        let data = read_all(&f).map_err(|e| Failure::io(&e, path.display()))?;
        let mut alloc = VecAlloc::default();
        let elf = data.as_deref().and_then(|d| Elf::parse(d, &mut alloc).ok());
        r.critical = elf.as_ref().and_then(critical_reason);
        let obj_name = crate::load::object_name(file);
        let obj = elf.and_then(|e| Object::parse(e, &obj_name, &mut alloc).ok());
        // Only now, so that a refused duplicate still says whether it is critical.
        if let Some(other) = self.stems.get(&stem) {
            return Err(Failure::new(
                libc::EEXIST,
                format!("{file}: same object name '{stem}' as {other}"),
            ));
        }
        self.stems.insert(stem.clone(), file.to_string());

        // Every pin name the object could produce: if none exists, this is a first load.
        let mut candidates = Vec::new();
        if let Some(o) = &obj {
            for p in o.progs.iter().filter(|p| !p.is_subprog()) {
                candidates.push(prog_pin_name(&stem, p.sec_name, p.name));
            }
            for m in o.maps.iter().filter(|m| m.kind != MapKind::Inner) {
                candidates.push(map_pin(&stem, m.name, m.def.pinning != 0).0);
            }
        }
        let mut present = false;
        for c in &candidates {
            match std::fs::symlink_metadata(self.root.join(c)) {
                Ok(_) => present = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Failure::io(&e, self.root.join(c).display())),
            }
        }
        let mut pins = Pins::default();
        if present {
            let Some(obj) = obj.as_ref() else {
                return Err(Failure::new(
                    libc::EINVAL,
                    "pins exist but the object cannot be parsed to check them",
                ));
            };
            let exp = self.expected(file, obj)?;
            pins = self.check_pins(&stem, file, &exp)?;
            if pins.missing.is_empty() {
                self.claim(file, pins.names.iter().map(|(n, s)| (n.as_str(), *s)))?;
                r.progs = exp.progs.len();
                r.maps = exp.maps.len();
                r.state = State::Reused;
                return Ok(());
            }
        }

        // The programs pinned already are not loaded again (bpfloader keeps a pinned
        // program), unless a program array of the object holds them: its slots are
        // filled with the programs of this load.
        let kept: Vec<&(String, String)> = pins
            .progs
            .iter()
            .filter(|(name, _)| !obj.as_ref().is_some_and(|o| in_prog_array(o, name)))
            .collect();
        let skip: Vec<String> = kept.iter().map(|(name, _)| name.clone()).collect();
        let loaded = self.loader.load(&path, &f, &pins.maps, &skip)?;
        let mut names = Vec::new();
        for m in &loaded.maps {
            let (n, shared) = map_pin(&stem, &m.name, m.pinning);
            names.push((n, shared, m.fd.as_raw_fd()));
        }
        for p in &loaded.progs {
            let n = prog_pin_name(&stem, &p.section, &p.name);
            names.push((n, false, p.fd.as_raw_fd()));
        }
        self.claim(
            file,
            names
                .iter()
                .map(|(n, shared, _)| (n.as_str(), *shared))
                .chain(kept.iter().map(|(_, pin)| (pin.as_str(), false))),
        )?;
        // Maps first, as Android does: whoever finds a program pinned finds its maps.
        // What was pinned already (the maps reused, the programs kept) stays as it is.
        let mut done: Vec<PathBuf> = Vec::new();
        for (n, _, fd) in names.iter().filter(|(n, _, _)| !pins.names.contains_key(n)) {
            let p = self.root.join(n);
            if let Err(e) = obj_pin(*fd, &p.to_string_lossy()) {
                unpin(done.iter());
                return Err(Failure::io(&e, format!("pin {}", p.display())));
            }
            done.push(p);
        }
        r.progs = loaded.progs.len() + kept.len();
        r.maps = loaded.maps.len();
        r.reused_maps = pins.maps.len();
        r.kept_progs = kept.len();
        r.state = State::Pinned;
        Ok(())
    }

    /// Record `names` (pin name, whether a shared map's) as this file's; refuse names
    /// another object already has, unless both are shared maps', or that bpffs cannot
    /// hold.
    fn claim<'n>(
        &mut self,
        file: &str,
        names: impl Iterator<Item = (&'n str, bool)> + Clone,
    ) -> Result<(), Failure> {
        let mut seen = BTreeSet::new();
        for (n, shared) in names.clone() {
            if n.len() > NAME_MAX {
                return Err(Failure::new(
                    libc::ENAMETOOLONG,
                    format!("pin name {n} is longer than {NAME_MAX} bytes"),
                ));
            }
            match self.claimed.get(n) {
                Some((_, true)) if shared => {}
                Some((other, _)) => {
                    return Err(Failure::new(
                        libc::EEXIST,
                        format!("pin name {n} is also {other}'s"),
                    ))
                }
                None => {}
            }
            if !seen.insert(n) {
                return Err(Failure::new(
                    libc::EEXIST,
                    format!("two programs or maps of {file} would both be pinned as {n}"),
                ));
            }
        }
        for (n, shared) in names {
            self.claimed
                .entry(n.to_string())
                .or_insert_with(|| (file.to_string(), shared));
        }
        Ok(())
    }

    /// Plan the object in user space: exactly the programs and the map definitions the
    /// module would send (same core, same kernel BTF and kernel facts).
    fn expected(&mut self, file: &str, obj: &Object<'_, VecAlloc>) -> Result<Expected, Failure> {
        let cant = |e: String| {
            Failure::new(
                libc::EINVAL,
                format!("cannot plan {file} in user space to check its pins: {e}"),
            )
        };
        if plan::needs_kernel_btf(obj) && self.btf.is_none() {
            self.btf = Some(HostBtf::load());
        }
        let kbtf = match &self.btf {
            Some(Ok(b)) => Some(b as &dyn KernelBtf),
            Some(Err(e)) if plan::needs_kernel_btf(obj) => return Err(cant(e.clone())),
            _ => None,
        };
        let config = if externs::needs_kernel_config(obj) {
            Some(HostConfig::load().map_err(cant)?)
        } else {
            None
        };
        let symbols = if externs::needs_kernel_symbols(obj) {
            let names: Vec<&str> = externs::symbol_names(obj).collect();
            Some(HostSymbols::load(&names).map_err(cant)?)
        } else {
            None
        };
        let opts = plan::Options {
            core: plan::CoreMode::Bpfld,
            kconfig: config.as_ref().map(|c| c as &dyn KernelConfig),
            symbols: symbols.as_ref().map(|s| s as &dyn KernelSymbols),
            ..plan::Options::default()
        };
        let mut alloc = VecAlloc::default();
        let p = Plan::build_with(obj, &kernel_info(), kbtf, &opts, &mut alloc)
            .map_err(|e| cant(e.to_string()))?;
        let progs = p
            .progs
            .iter()
            .map(|pp| ExpProg {
                name: pp.name.to_string(),
                section: pp.sec_name.to_string(),
                prog_type: pp.prog_type,
                kname: crate::dev::cstr(&pp.kname),
            })
            .collect();
        let maps = obj
            .maps
            .iter()
            .zip(p.maps.iter())
            .enumerate()
            .filter(|(_, (m, pm))| m.kind != MapKind::Inner && pm.create)
            .map(|(i, (m, pm))| ExpMap {
                name: m.name.to_string(),
                def: pm.def,
                refusal: exec::reuse_refusal(&p, i),
            })
            .collect();
        Ok(Expected { progs, maps })
    }

    /// Check the object's existing pins against its plan.
    fn check_pins(&mut self, stem: &str, file: &str, exp: &Expected) -> Result<Pins, Failure> {
        let mut pins = Pins::default();
        let mut map_ids = BTreeSet::new();
        let mut refused = Vec::new();
        let mismatch = |n: &str, why: String| {
            Failure::new(ENOTUNIQ, format!("pinned {n} does not match {file}: {why}"))
        };
        for m in &exp.maps {
            let (n, shared) = map_pin(stem, &m.name, m.def.pinning != 0);
            let p = self.root.join(&n);
            if std::fs::symlink_metadata(&p).is_err() {
                pins.missing.push(n);
                continue;
            }
            let fd =
                obj_get(&p).map_err(|e| Failure::io(&e, format!("BPF_OBJ_GET {}", p.display())))?;
            let kind = fd_kind(fd.as_raw_fd());
            if kind != "bpf-map" {
                return Err(mismatch(&n, format!("it is a {kind}, not a map")));
            }
            let info: MapInfo = obj_info(fd.as_raw_fd())
                .map_err(|e| Failure::io(&e, format!("BPF_OBJ_GET_INFO_BY_FD {}", p.display())))?;
            let diff = map_mismatch(&m.def, &info);
            if !diff.is_empty() {
                return Err(mismatch(
                    &n,
                    format!("map '{}' (id {}): {}", m.name, info.id, diff.join(", ")),
                ));
            }
            map_ids.insert(info.id);
            if let Some(why) = m.refusal {
                refused.push(format!("{n} ({why})"));
            }
            pins.maps.push((m.name.clone(), fd));
            pins.names.insert(n, shared);
        }
        for pe in &exp.progs {
            let n = prog_pin_name(stem, &pe.section, &pe.name);
            let p = self.root.join(&n);
            if std::fs::symlink_metadata(&p).is_err() {
                pins.missing.push(n);
                continue;
            }
            let fd =
                obj_get(&p).map_err(|e| Failure::io(&e, format!("BPF_OBJ_GET {}", p.display())))?;
            let kind = fd_kind(fd.as_raw_fd());
            if kind != "bpf-prog" {
                return Err(mismatch(&n, format!("it is a {kind}, not a program")));
            }
            let (info, ids) = prog_info(fd.as_raw_fd())
                .map_err(|e| Failure::io(&e, format!("BPF_OBJ_GET_INFO_BY_FD {}", p.display())))?;
            if info.prog_type != pe.prog_type {
                return Err(mismatch(
                    &n,
                    format!(
                        "program type {} pinned, {} in the object",
                        info.prog_type, pe.prog_type
                    ),
                ));
            }
            let kname = crate::dev::cstr(&info.name);
            if kname != pe.kname {
                return Err(mismatch(
                    &n,
                    format!(
                        "program name '{kname}' pinned, '{}' in the object",
                        pe.kname
                    ),
                ));
            }
            if let Some(id) = ids.iter().find(|id| !map_ids.contains(id)) {
                return Err(mismatch(
                    &n,
                    format!(
                        "the program uses map id {id}, which is none of the object's pinned maps"
                    ),
                ));
            }
            pins.progs.push((pe.name.clone(), n.clone()));
            pins.names.insert(n, false);
        }
        if !pins.missing.is_empty() && !refused.is_empty() {
            return Err(Failure::new(
                libc::EOPNOTSUPP,
                format!(
                    "some pins do not exist ({}), and a new load cannot take over {}; remove the object's pins to reload it",
                    pins.missing.join(" "),
                    refused.join(", ")
                ),
            ));
        }
        Ok(pins)
    }
}

/// The whole file, unless it is over the module's limit (then the module refuses it
/// with its own error, and nothing is parsed here).
fn read_all(f: &File) -> io::Result<Option<Vec<u8>>> {
    let len = f.metadata()?.len();
    if len > bpfld_core::limits::MAX_FILE_SIZE as u64 {
        return Ok(None);
    }
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, 0)?;
    Ok(Some(buf))
}

/// `bpfld load-dir [--userspace] DIR --pin-root ROOT`: print one line per object and a
/// closing line; `Err` (exit status 1) if a critical object failed or the run could
/// not start.
pub fn cli(args: &[&str]) -> Result<(), String> {
    let mut dir = None;
    let mut root = None;
    let mut userspace = false;
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        match a {
            "--pin-root" => root = Some(*it.next().ok_or("--pin-root needs a directory")?),
            "--userspace" => userspace = true,
            o if !o.starts_with('-') && dir.is_none() => dir = Some(o),
            o => return Err(format!("load-dir: unexpected argument {o}")),
        }
    }
    let dir = Path::new(dir.ok_or("load-dir needs a directory")?);
    let root = Path::new(root.ok_or("load-dir needs --pin-root /sys/fs/bpf/SUBDIR")?);
    let dev;
    let loader: &dyn Loader = if userspace {
        &UserSpace
    } else {
        dev = Device::open(crate::dev::DEVICE)
            .map_err(|e| format!("{}: {e} (is bpfld.ko loaded?)", crate::dev::DEVICE))?;
        &dev
    };
    let report = load_dir(dir, root, loader, &mut |r| println!("{}", r.line()))?;
    println!("{}", report.totals(dir));
    match report.critical_failure() {
        Some(c) => Err(format!(
            "critical object {} failed ({}){}",
            c.file,
            c.critical.as_deref().unwrap_or(""),
            if report.not_attempted.is_empty() {
                String::new()
            } else {
                format!("; not attempted: {}", report.not_attempted.join(" "))
            }
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfld_core::uapi;

    #[test]
    fn stems() {
        assert_eq!(object_stem("xdp.bpf.o"), Some("xdp"));
        assert_eq!(object_stem("netd.o"), Some("netd"));
        assert_eq!(object_stem("a.b.o"), Some("a.b"));
        assert_eq!(object_stem(".o"), None);
        assert_eq!(object_stem(".bpf.o"), None);
        assert_eq!(object_stem("x.bpf"), None);
        assert_eq!(object_stem("x.so"), None);
    }

    #[test]
    fn names() {
        assert_eq!(
            prog_pin_name("xdp", "xdp", "xdp_pass"),
            "prog_xdp_xdp_xdp_pass"
        );
        // Android: SEC("cgroupskb/ingress/stats") of netd.o -> prog_netd_cgroupskb_ingress_stats.
        assert_eq!(
            prog_pin_name("netd", "cgroupskb/ingress/stats", "bpf_cgroup_ingress"),
            "prog_netd_cgroupskb_ingress_stats_bpf_cgroup_ingress"
        );
        assert_eq!(
            prog_pin_name("sleepable", "fentry.s/bpf_fentry_test1", "f"),
            "prog_sleepable_fentry_s_bpf_fentry_test1_f"
        );
        assert_eq!(prog_pin_name("a", "?tp/x/y", "p"), "prog_a_tp_x_y_p");
        assert_eq!(map_pin_name("xdp", "proto_cnt"), "map_xdp_proto_cnt");
        assert_eq!(map_pin_name("gd", ".rodata"), "map_gd_rodata");
        assert_eq!(map_pin_name("gd", ".rodata.str1.1"), "map_gd_rodata_str1_1");
        assert_eq!(map_pin_name("a.b", ".kconfig"), "map_a_b_kconfig");
        for n in [
            map_pin_name("gd", ".data.foo"),
            prog_pin_name("x.y", "a.b/c", "d"),
        ] {
            assert!(!n.contains('.') && !n.contains('/'), "{n}");
        }
    }

    #[test]
    fn listing_is_byte_ordered_and_filtered() {
        let d = std::env::temp_dir().join(format!("bpfld-loaddir-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub.o")).unwrap();
        for n in ["b.o", "B.o", "a.bpf.o", "a_.o", "c.txt", "Z.bpf.o", ".o"] {
            std::fs::write(d.join(n), b"").unwrap();
        }
        std::os::unix::fs::symlink(d.join("b.o"), d.join("link.o")).unwrap();
        let l = list_objects(&d).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(l, ["B.o", "Z.bpf.o", "a.bpf.o", "a_.o", "b.o"]);
    }

    #[test]
    fn map_compat() {
        let def = MapDef {
            map_type: uapi::BPF_MAP_TYPE_HASH,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_flags: 1 | uapi::BPF_F_RDONLY, // BPF_F_NO_PREALLOC | BPF_F_RDONLY
            ..Default::default()
        };
        let mut have = MapInfo {
            map_type: uapi::BPF_MAP_TYPE_HASH,
            key_size: 4,
            value_size: 8,
            max_entries: 16,
            map_flags: 1,
            ..Default::default()
        };
        // The kernel does not keep BPF_F_RDONLY: as libbpf and the module, no pin
        // matches such a definition.
        assert_eq!(
            map_mismatch(&def, &have),
            ["map_flags 0x1 pinned, 0x9 in the object"]
        );
        let def = MapDef {
            map_flags: 1,
            ..def
        };
        assert!(map_mismatch(&def, &have).is_empty());
        have.max_entries = 8;
        have.value_size = 16;
        assert_eq!(
            map_mismatch(&def, &have),
            [
                "value_size 16 pinned, 8 in the object",
                "max_entries 8 pinned, 16 in the object"
            ]
        );
        let dev = MapDef {
            map_type: uapi::BPF_MAP_TYPE_DEVMAP,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            ..Default::default()
        };
        let have = MapInfo {
            map_type: uapi::BPF_MAP_TYPE_DEVMAP,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            map_flags: uapi::BPF_F_RDONLY_PROG,
            ..Default::default()
        };
        assert!(map_mismatch(&dev, &have).is_empty());
        // libbpf clears the kernel's BPF_F_RDONLY_PROG from the pin, not adds it to
        // the definition: a definition that sets it matches no devmap.
        let dev = MapDef {
            map_flags: uapi::BPF_F_RDONLY_PROG,
            ..dev
        };
        assert_eq!(map_mismatch(&dev, &have).len(), 1);
    }

    #[test]
    fn shared_names() {
        assert_eq!(
            map_pin("xdp", "proto_cnt", false),
            ("map_xdp_proto_cnt".into(), false)
        );
        assert_eq!(map_pin("xdp", "st.x", true), ("map__st_x".into(), true));
    }

    #[test]
    fn summary_line() {
        let r = ObjectReport {
            file: "xdp.bpf.o".into(),
            digest: Some(format!("sha256:{}", "ab".repeat(32))),
            critical: None,
            progs: 3,
            maps: 1,
            reused_maps: 0,
            kept_progs: 0,
            state: State::Pinned,
            result: Ok(()),
        };
        assert_eq!(
            r.line(),
            "xdp.bpf.o sha256:abababababababab optional progs=3 maps=1 pinned ok"
        );
        let r = ObjectReport {
            reused_maps: 1,
            ..r
        };
        assert_eq!(
            r.line(),
            "xdp.bpf.o sha256:abababababababab optional progs=3 maps=1 pinned,maps_reused=1 ok"
        );
        let r = ObjectReport { kept_progs: 2, ..r };
        assert_eq!(
            r.line(),
            "xdp.bpf.o sha256:abababababababab optional progs=3 maps=1 \
             pinned,maps_reused=1,progs_kept=2 ok"
        );
        let r = ObjectReport {
            file: "c.o".into(),
            digest: None,
            critical: Some("net".into()),
            progs: 0,
            maps: 0,
            reused_maps: 0,
            kept_progs: 0,
            state: State::None,
            result: Err(Failure::new(libc::ENODATA, "no fs-verity\nat all")),
        };
        assert_eq!(
            r.line(),
            "c.o - critical progs=0 maps=0 - failed errno=61 (ENODATA): no fs-verity at all"
        );
    }
}

// SPDX-License-Identifier: GPL-2.0-only

//! `bpf(2)` from user space: the user-space executor of the core's plans, and the
//! object-info queries the tests and the CLI need.

use bpfld_core::exec::{update_u32, Bpf, Cmd, Log, ReuseFail};
use bpfld_core::object::MapDef;
use bpfld_core::plan::PlannedModule;
use bpfld_core::uapi;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Issue `bpf(cmd, attr, size_of::<T>())`.
///
/// # Safety
///
/// `attr` must be the attribute struct of `cmd`, and every pointer in it valid for what
/// the kernel will read or write through it.
pub unsafe fn sys_bpf<T>(cmd: u32, attr: &mut T) -> io::Result<i32> {
    // SAFETY: forwarded from the caller.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_long,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

/// The user-space executor: `bpf(2)` on the running kernel.
///
/// Program loads run without a verifier log first; when one fails, it is repeated with
/// log level 1 into [`UserBpf::log`] so the caller can show why (as libbpf does).
#[derive(Default)]
pub struct UserBpf {
    /// Verifier log of the last failed program load.
    pub log: String,
    /// Log level to request from the start (0: only on failure).
    pub log_level: u32,
    /// Maps to use for the object's maps of these names instead of creating them
    /// ([`Bpf::reuse_map`]), as the module takes `bpfld_load_opts.map_reuse`. The
    /// fds stay the caller's, open for the load; the executor takes its own references.
    pub reuse: Vec<(String, RawFd)>,
    /// Programs the object's programs of these names attach to
    /// ([`Bpf::target_prog_fd`]); the caller's, as `reuse`.
    pub targets: Vec<(String, RawFd)>,
    /// [`Bpf::register_struct_ops`].
    pub register_struct_ops: bool,
    /// The slots [`Bpf::swap_slot`] wrote into the maps of `reuse`: map fd, key and
    /// an fd of the program the slot held before (`None` if it was empty), for
    /// [`Bpf::restore_slot`]; the fds are closed when this is dropped.
    pub(crate) held: Vec<(RawFd, u32, Option<OwnedFd>)>,
}

/// A new fd (close-on-exec, numbered `min` or above) for what `fd` holds, or the
/// errno.
fn dup_fd(fd: RawFd, min: RawFd) -> Result<i32, i32> {
    // SAFETY: duplicates an fd the caller keeps open; the new one is the caller's.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if dup < 0 {
        Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        Ok(dup)
    }
}

/// How many times a `BPF_PROG_LOAD` refused with `EAGAIN` is tried (libbpf's
/// `PROG_LOAD_ATTEMPTS`).
const PROG_LOAD_ATTEMPTS: usize = 5;

impl UserBpf {
    fn raw(&mut self, cmd: &mut Cmd<'_>) -> Result<i32, i32> {
        // SAFETY: each attr struct matches its command; the core filled every pointer
        // from live slices of the plan, which outlives this call.
        let r = unsafe {
            match cmd {
                Cmd::BtfLoad(a) => sys_bpf(uapi::BPF_BTF_LOAD, *a),
                Cmd::MapCreate(a) => sys_bpf(uapi::BPF_MAP_CREATE, *a),
                Cmd::MapUpdate(a) => sys_bpf(uapi::BPF_MAP_UPDATE_ELEM, *a),
                Cmd::MapFreeze(a) => sys_bpf(uapi::BPF_MAP_FREEZE, *a),
                Cmd::ProgLoad(a) => {
                    // libbpf's sys_bpf_prog_load(): the verifier gives up with EAGAIN
                    // when a signal arrives, and the load is tried up to five times.
                    let mut r = sys_bpf(uapi::BPF_PROG_LOAD, *a);
                    for _ in 1..PROG_LOAD_ATTEMPTS {
                        if !matches!(&r, Err(e) if e.raw_os_error() == Some(libc::EAGAIN)) {
                            break;
                        }
                        r = sys_bpf(uapi::BPF_PROG_LOAD, *a);
                    }
                    r
                }
            }
        };
        r.map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl Bpf for UserBpf {
    fn bpf(&mut self, mut cmd: Cmd<'_>) -> Result<i32, i32> {
        let res = self.raw(&mut cmd);
        if let (Err(errno), Cmd::ProgLoad(a)) = (res, &mut cmd) {
            if a.log_level == 0 {
                let mut buf = vec![0u8; 16 << 20];
                a.log_level = 1;
                a.log_buf = buf.as_mut_ptr() as u64;
                a.log_size = buf.len() as u32;
                let again = self.raw(&mut cmd);
                let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                self.log = String::from_utf8_lossy(&buf[..end]).into_owned();
                // Loaded with the log after failing without (a transient failure): the
                // program is loaded, as libbpf's bpf_object_load_prog() keeps it.
                if again.is_ok() {
                    return again;
                }
            }
            return Err(errno);
        }
        res
    }

    fn btf_dropped(&mut self, errno: i32) {
        eprintln!(
            "bpfld: the kernel refused the object's BTF ({}): loading without it, as libbpf does",
            std::io::Error::from_raw_os_error(errno)
        );
    }

    fn close(&mut self, fd: i32) {
        // SAFETY: `fd` came from a creating bpf command of this executor and is closed once.
        unsafe { libc::close(fd) };
    }

    fn prog_log(&mut self, _prog: usize) -> Log {
        Log::default()
    }

    fn map_arena(&mut self, map_fd: i32, len: u64, addr: u64, data: &[u8]) -> Result<u64, i32> {
        let n = usize::try_from(len).map_err(|_| libc::E2BIG)?;
        if data.len() > n {
            return Err(libc::EINVAL);
        }
        // libbpf maps at map_extra with MAP_FIXED; without replacing whatever this
        // process has there. The mapping stays for the process's life, as libbpf keeps
        // it until the object is closed.
        let flags = libc::MAP_SHARED
            | if addr != 0 {
                libc::MAP_FIXED_NOREPLACE
            } else {
                0
            };
        // SAFETY: a new shared mapping of the map's fd; at a fixed address only where
        // nothing is mapped (MAP_FIXED_NOREPLACE), so no memory of ours changes.
        let p = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                n,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                map_fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO));
        }
        if !data.is_empty() {
            // SAFETY: `data` fits the new mapping of `n` bytes (checked above), which
            // nothing else references yet.
            unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p as *mut u8, data.len()) };
        }
        Ok(p as u64)
    }

    fn unmap_arena(&mut self, addr: u64, len: u64) {
        // SAFETY: the mapping map_arena made, unmapped once.
        unsafe { libc::munmap(addr as *mut libc::c_void, len as usize) };
    }

    fn module_btf_fd(&mut self, m: &PlannedModule<'_>) -> Result<i32, i32> {
        module_btf_fd(m.name())
    }

    fn reuse_map(&mut self, name: &str, def: &MapDef) -> Result<Option<i32>, ReuseFail> {
        let Some(&(_, fd)) = self.reuse.iter().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        let errno = |e: io::Error| ReuseFail::Errno(e.raw_os_error().unwrap_or(libc::EIO));
        if fd_kind(fd) != "bpf-map" {
            return Err(ReuseFail::Errno(libc::EINVAL));
        }
        let info: MapInfo = obj_info(fd).map_err(errno)?;
        if let Some((field, _, _)) = map_differences(def, &info).first() {
            return Err(ReuseFail::Differs(field));
        }
        // The executor's own reference, closed or handed out like a created map's.
        dup_fd(fd, 0).map(Some).map_err(ReuseFail::Errno)
    }

    fn delete_elem(&mut self, map_fd: i32, key: u32) -> Result<(), i32> {
        map_delete(map_fd, key).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    fn swap_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> Result<(), i32> {
        let errno = |e: io::Error| e.raw_os_error().unwrap_or(libc::EIO);
        // Another writer may come between the lookup and the update (6.12 has no
        // exchange command): then its program is the one put back.
        let old = match prog_array_slot(map_fd, key).map_err(errno)? {
            // Gone since the lookup: the slot is empty or someone else's.
            Some(id) => prog_fd_by_id(id).ok(),
            None => None,
        };
        self.held.try_reserve(1).map_err(|_| libc::ENOMEM)?;
        update_u32(self, map_fd, key, &prog_fd.to_ne_bytes())?;
        self.held.push((map_fd, key, old));
        Ok(())
    }

    fn restore_slot(&mut self, map_fd: i32, key: u32, prog_fd: i32) -> Result<(), i32> {
        let errno = |e: io::Error| e.raw_os_error().unwrap_or(libc::EIO);
        let old = match self
            .held
            .iter()
            .position(|&(m, k, _)| m == map_fd && k == key)
        {
            Some(i) => self.held.swap_remove(i).2,
            None => None,
        };
        // As in swap_slot, another writer may still come between the lookup and the
        // write.
        let Some(id) = prog_array_slot(map_fd, key).map_err(errno)? else {
            return Ok(());
        };
        let ours: ProgInfo = obj_info(prog_fd).map_err(errno)?;
        if id != ours.id {
            return Ok(());
        }
        match old {
            Some(fd) => update_u32(self, map_fd, key, &fd.as_raw_fd().to_ne_bytes()),
            None => map_delete(map_fd, key).map_err(errno),
        }
    }

    fn register_struct_ops(&self) -> bool {
        self.register_struct_ops
    }

    fn target_prog_fd(&mut self, prog: &str) -> Result<i32, i32> {
        match self.targets.iter().find(|(n, _)| n == prog) {
            // The executor closes it after the program's BPF_PROG_LOAD.
            Some(&(_, fd)) => dup_fd(fd, 0),
            None => Err(libc::ENOENT),
        }
    }
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BtfInfo {
    pub btf: u64,
    pub btf_size: u32,
    pub id: u32,
    pub name: u64,
    pub name_len: u32,
    pub kernel_btf: u32,
}

/// An fd of the BTF object of kernel module `name`, found as libbpf's
/// `load_module_btfs` finds it: every BTF object by id, the kernel's ones by name.
pub fn module_btf_fd(name: &str) -> Result<i32, i32> {
    let errno = |e: io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    let mut a = NextIdAttr::default();
    loop {
        // SAFETY: the GET_NEXT_ID commands read and write this struct only.
        match unsafe { sys_bpf(uapi::BPF_BTF_GET_NEXT_ID, &mut a) } {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(libc::ENOENT),
            Err(e) => return Err(errno(e)),
        }
        a.start_id = a.next_id;
        let fd = match btf_fd_by_id(a.next_id) {
            Ok(fd) => fd,
            // Gone since it was listed.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(errno(e)),
        };
        let mut buf = [0u8; 64];
        let mut info = BtfInfo {
            name: buf.as_mut_ptr() as u64,
            name_len: buf.len() as u32,
            ..BtfInfo::default()
        };
        // SAFETY: `name` points at `buf`, of `name_len` bytes.
        unsafe { obj_info_into(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut info) }.map_err(errno)?;
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if info.kernel_btf != 0 && &buf[..end] == name.as_bytes() {
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            if raw != 0 {
                return Ok(std::os::fd::IntoRawFd::into_raw_fd(fd));
            }
            // 0 would name vmlinux (a ksym's second half, attach_btf_obj_fd): moved up
            // (stdin was closed).
            // `fd` is closed when dropped.
            return dup_fd(raw, 1);
        }
    }
}

/// The BTF type id of function `func` in the BTF of BPF program `prog_fd` (what
/// libbpf's `libbpf_find_prog_btf_id` looks up for `bpf_program__set_attach_target()`):
/// the program's BTF object by id, read whole, and its FUNC of that name.
pub fn prog_func_btf_id(prog_fd: RawFd, func: &str) -> Result<u32, String> {
    use bpfld_core::btf::{self, Btf, BtfKind, Types};
    let info: ProgInfo = obj_info(prog_fd).map_err(|e| format!("program info: {e}"))?;
    if info.btf_id == 0 {
        return Err("the target program has no BTF".into());
    }
    let fd = btf_fd_by_id(info.btf_id).map_err(|e| format!("BTF {}: {e}", info.btf_id))?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let sized: BtfInfo = obj_info(raw).map_err(|e| format!("BTF info: {e}"))?;
    let mut blob = vec![0u8; sized.btf_size as usize];
    let mut bi = BtfInfo {
        btf: blob.as_mut_ptr() as u64,
        btf_size: blob.len() as u32,
        ..BtfInfo::default()
    };
    // SAFETY: `btf` points at `blob`, of `btf_size` bytes.
    unsafe { obj_info_into(raw, &mut bi) }.map_err(|e| format!("BTF read: {e}"))?;
    let n = btf::count_types(&blob).map_err(|e| format!("BTF: {e}"))?;
    let b = Btf::parse_kernel(blob, vec![0u32; n + 1]).map_err(|e| format!("BTF: {e}"))?;
    b.find_by_name_kind(func, BtfKind::Func)
        .map_err(|e| format!("BTF: {e}"))?
        .ok_or_else(|| format!("no function {func} in the target program's BTF"))
}

/// Take ownership of an fd returned by the executor.
pub fn own(fd: i32) -> OwnedFd {
    // SAFETY: the executor hands each fd out once and never closes it after success.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// `struct bpf_prog_info` (the prefix we read).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub gpl_compatible_etc: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad: u32,
}

/// `struct bpf_map_info` of 6.12, up to `map_extra`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_id: u32,
    pub map_extra: u64,
}

/// The attributes in which a map created from `def` would differ from `have`, in
/// libbpf's `map_is_reuse_compat` order: `(attribute, have, want)`, empty if `have`
/// can stand for it. As libbpf compares them, and the module's `bpfld_map_differs`:
/// a devmap's `BPF_F_RDONLY_PROG`, which the kernel adds, is taken out of `have`;
/// nothing else is masked, so a definition with `BPF_F_RDONLY` or `BPF_F_WRONLY`
/// (which the kernel does not keep) matches no map.
pub fn map_differences(def: &MapDef, have: &MapInfo) -> Vec<(&'static str, u64, u64)> {
    let mut have_flags = have.map_flags;
    if matches!(
        have.map_type,
        uapi::BPF_MAP_TYPE_DEVMAP | uapi::BPF_MAP_TYPE_DEVMAP_HASH
    ) {
        have_flags &= !uapi::BPF_F_RDONLY_PROG;
    }
    [
        ("map_type", have.map_type.into(), def.map_type.into()),
        ("key_size", have.key_size.into(), def.key_size.into()),
        ("value_size", have.value_size.into(), def.value_size.into()),
        (
            "max_entries",
            have.max_entries.into(),
            def.max_entries.into(),
        ),
        ("map_flags", have_flags.into(), def.map_flags.into()),
        ("map_extra", have.map_extra, def.map_extra),
    ]
    .into_iter()
    .filter(|(_, h, w)| h != w)
    .collect()
}

/// [`map_differences`] as words for a message about a pinned map: `attr have pinned,
/// want in the object` for each (flags and `map_extra` in hex).
pub fn map_mismatch(def: &MapDef, have: &MapInfo) -> Vec<String> {
    map_differences(def, have)
        .into_iter()
        .map(|(what, have, want)| {
            if what == "map_flags" || what == "map_extra" {
                format!("{what} {have:#x} pinned, {want:#x} in the object")
            } else {
                format!("{what} {have} pinned, {want} in the object")
            }
        })
        .collect()
}

/// `bpf(BPF_MAP_CREATE)` of a map without BTF.
pub fn create_map(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    name: &str,
) -> io::Result<OwnedFd> {
    let def = MapDef {
        map_type,
        key_size,
        value_size,
        max_entries,
        ..MapDef::default()
    };
    create_map_def(&def, name)
}

/// `bpf(BPF_MAP_CREATE)` of `def` (its type, sizes, entries, flags and `map_extra`),
/// without BTF.
pub fn create_map_def(def: &MapDef, name: &str) -> io::Result<OwnedFd> {
    let mut a = uapi::MapCreateAttr {
        map_type: def.map_type,
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries: def.max_entries,
        map_flags: def.map_flags,
        map_extra: def.map_extra,
        ..Default::default()
    };
    for (d, s) in a.map_name.iter_mut().zip(name.bytes().take(15)) {
        *d = s;
    }
    // SAFETY: MAP_CREATE reads this struct only.
    let fd = unsafe { sys_bpf(uapi::BPF_MAP_CREATE, &mut a)? };
    Ok(own(fd))
}

#[repr(C)]
#[derive(Default)]
struct ObjGetAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
    path_fd: i32,
    /// Explicit, so that it is zero: the kernel refuses non-zero bytes past `path_fd`.
    _pad: u32,
}

/// The id of the program in slot `key` of program array `map_fd` (a program array's
/// lookup from user space gives its program's id), or `None` if the slot is empty.
pub fn prog_array_slot(map_fd: RawFd, key: u32) -> io::Result<Option<u32>> {
    let mut id = 0u32;
    let mut a = uapi::MapElemAttr {
        map_fd: map_fd as u32,
        key: &key as *const u32 as u64,
        value: &mut id as *mut u32 as u64,
        ..uapi::MapElemAttr::default()
    };
    // SAFETY: BPF_MAP_LOOKUP_ELEM's attributes; the kernel writes the 4-byte id.
    match unsafe { sys_bpf(uapi::BPF_MAP_LOOKUP_ELEM, &mut a) } {
        Ok(_) => Ok(Some(id)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `BPF_PROG_GET_FD_BY_ID`: an fd of program `id`.
pub fn prog_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut by_id = NextIdAttr {
        start_id: id,
        ..NextIdAttr::default()
    };
    // SAFETY: BPF_PROG_GET_FD_BY_ID reads `prog_id` (the first field) and the flags.
    unsafe { sys_bpf(uapi::BPF_PROG_GET_FD_BY_ID, &mut by_id) }.map(own)
}

/// `BPF_MAP_DELETE_ELEM` of key `key` (u32): for a `.struct_ops` map, unregistering it.
pub fn map_delete(map_fd: RawFd, key: u32) -> io::Result<()> {
    let mut a = uapi::MapElemAttr {
        map_fd: map_fd as u32,
        key: &key as *const u32 as u64,
        ..uapi::MapElemAttr::default()
    };
    // SAFETY: `a` is BPF_MAP_DELETE_ELEM's part of union bpf_attr, its key a live u32.
    unsafe { sys_bpf(uapi::BPF_MAP_DELETE_ELEM, &mut a) }.map(drop)
}

/// `BPF_OBJ_GET` of a pin, read-write.
pub fn obj_get(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut a = ObjGetAttr {
        pathname: c.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `pathname` points at a live NUL-terminated string.
    let fd = unsafe { sys_bpf(uapi::BPF_OBJ_GET, &mut a)? };
    // SAFETY: BPF_OBJ_GET returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What a BPF fd holds: `bpf-map`, `bpf-prog`, `bpf-link`, ... (its anon inode name).
pub fn fd_kind(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| {
            p.to_string_lossy()
                .trim_start_matches("anon_inode:")
                .to_string()
        })
        .unwrap_or_default()
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `T`.
pub fn obj_info<T: Default>(fd: RawFd) -> io::Result<T> {
    let mut info = T::default();
    // SAFETY: a default info struct has no buffers for the kernel to fill (null, 0).
    unsafe { obj_info_into(fd, &mut info)? };
    Ok(info)
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`, whose buffer fields the caller may have set.
///
/// # Safety
///
/// Every buffer `info` names must be writable for the length it gives.
unsafe fn obj_info_into<T>(fd: RawFd, info: &mut T) -> io::Result<()> {
    let mut a = InfoAttr {
        bpf_fd: fd as u32,
        info_len: std::mem::size_of::<T>() as u32,
        info: info as *mut T as u64,
    };
    // SAFETY: `info` is a `T` of `info_len` bytes, written by the kernel, with the
    // buffers it names as the caller promises.
    unsafe { sys_bpf(uapi::BPF_OBJ_GET_INFO_BY_FD, &mut a)? };
    Ok(())
}

/// `BPF_BTF_GET_FD_BY_ID`: an fd of BTF object `id`.
fn btf_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut by_id = NextIdAttr {
        start_id: id,
        ..NextIdAttr::default()
    };
    // SAFETY: BPF_BTF_GET_FD_BY_ID reads `btf_id` (the first field) and the flags.
    unsafe { sys_bpf(uapi::BPF_BTF_GET_FD_BY_ID, &mut by_id) }.map(own)
}

/// A program's info and the ids of the maps it uses (at most 64 are read; the info's
/// `nr_map_ids` is the kernel's count, which may be larger).
pub fn prog_info_map_ids(fd: RawFd) -> io::Result<(ProgInfo, Vec<u32>)> {
    let mut ids = vec![0u32; 64];
    let mut info = ProgInfo {
        nr_map_ids: ids.len() as u32,
        map_ids: ids.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `map_ids` points at `ids`, room for `nr_map_ids` ids.
    unsafe { obj_info_into(fd, &mut info)? };
    ids.truncate((info.nr_map_ids as usize).min(ids.len()));
    Ok((info, ids))
}

#[repr(C)]
#[derive(Default)]
struct NextIdAttr {
    start_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Every id of one kind of BPF object in the system, in order: `cmd` is one of the
/// `BPF_*_GET_NEXT_ID` commands.
pub fn next_ids(cmd: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut a = NextIdAttr::default();
    // SAFETY: the GET_NEXT_ID commands read and write this struct only.
    while unsafe { sys_bpf(cmd, &mut a) }.is_ok() {
        ids.push(a.next_id);
        a.start_id = a.next_id;
    }
    ids
}

#[repr(C)]
#[derive(Default)]
struct PinAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
    path_fd: i32,
    /// Explicit, so that it is zero: the kernel refuses non-zero bytes past `path_fd`.
    _pad: u32,
}

/// `BPF_OBJ_PIN`: pin a program or map fd at `path` (on bpffs).
pub fn obj_pin(fd: RawFd, path: &str) -> io::Result<()> {
    let c = std::ffi::CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut a = PinAttr {
        pathname: c.as_ptr() as u64,
        bpf_fd: fd as u32,
        ..Default::default()
    };
    // SAFETY: `pathname` points at a live NUL-terminated string.
    unsafe { sys_bpf(uapi::BPF_OBJ_PIN, &mut a) }.map(|_| ())
}

/// Remove the pins at `paths` (in the order they were made), last made first: what
/// made them failed after.
pub fn unpin<P: AsRef<std::path::Path>>(paths: impl DoubleEndedIterator<Item = P>) {
    for p in paths.rev() {
        let _ = std::fs::remove_file(p);
    }
}

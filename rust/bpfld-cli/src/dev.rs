// SPDX-License-Identifier: GPL-2.0-only

//! `/dev/bpfld` ioctls.

use crate::uapi;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// The default device path.
pub const DEVICE: &str = "/dev/bpfld";

/// An open `/dev/bpfld`.
pub struct Device {
    file: File,
}

impl Device {
    /// Open `path` (normally [`DEVICE`]).
    pub fn open(path: &str) -> io::Result<Device> {
        let file = std::fs::OpenOptions::new().read(true).open(path)?;
        Ok(Device { file })
    }

    /// Wrap an already open `/dev/bpfld`.
    pub fn from_file(file: File) -> Device {
        Device { file }
    }

    /// Issue `cmd` with `arg` pointing at `T`.
    ///
    /// # Safety
    ///
    /// `cmd` must be an ioctl whose argument is a `T` (read, written or both).
    pub unsafe fn ioctl<T>(&self, cmd: u32, arg: &mut T) -> io::Result<i32> {
        // SAFETY: the caller guarantees `cmd` takes a `*mut T`; `arg` is valid for it.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as libc::c_ulong, arg as *mut T) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    /// `BPFLD_IOC_VERSION`.
    pub fn version(&self) -> io::Result<uapi::BpfldVersion> {
        let mut v = uapi::BpfldVersion::default();
        // SAFETY: BPFLD_IOC_VERSION writes a struct bpfld_version.
        unsafe { self.ioctl(uapi::BPFLD_IOC_VERSION, &mut v)? };
        Ok(v)
    }
}

/// The NUL-terminated prefix of `b` as text.
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// A program loaded through `/dev/bpfld`.
#[derive(Debug)]
pub struct KProg {
    /// Function name.
    pub name: String,
    /// Section name.
    pub section: String,
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
    /// The fd (closed on drop).
    pub fd: std::os::fd::OwnedFd,
    /// Kernel id.
    pub id: u32,
    /// Kernel tag.
    pub tag: [u8; 8],
    /// BTF attach target id in vmlinux, or 0.
    pub attach_btf_id: u32,
}

/// A map created through `/dev/bpfld`.
#[derive(Debug)]
pub struct KMap {
    /// Map name.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// The fd (closed on drop).
    pub fd: std::os::fd::OwnedFd,
    /// Kernel id.
    pub id: u32,
    /// The object asks for pinning by name.
    pub pinning: bool,
    /// An arena: where the module mapped it in this process.
    pub arena: Option<ArenaMapping>,
    /// The caller's map, passed for reuse ([`Device::load_with`]), not created.
    pub reused: bool,
}

/// An arena the module mapped in this process for a load: unmapped when dropped.
#[derive(Debug)]
pub struct ArenaMapping {
    /// Its address.
    pub addr: u64,
    /// Its length (the arena's `max_entries` pages).
    pub len: u64,
}

impl ArenaMapping {
    /// The mapping at `addr` (none if 0) of arena map `fd`.
    fn of(fd: i32, addr: u64) -> Option<ArenaMapping> {
        if addr == 0 {
            return None;
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
        let info = crate::sys::obj_info::<crate::sys::MapInfo>(fd).ok()?;
        Some(ArenaMapping {
            addr,
            len: u64::from(info.max_entries).saturating_mul(page),
        })
    }
}

impl Drop for ArenaMapping {
    fn drop(&mut self) {
        // SAFETY: the arena mapping the module made in this process for a load, which
        // nothing here references once it is dropped.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len as usize) };
    }
}

/// What `BPFLD_IOC_LOAD` returned.
#[derive(Debug)]
pub struct KLoad {
    /// Programs.
    pub progs: Vec<KProg>,
    /// Maps.
    pub maps: Vec<KMap>,
    /// fs-verity algorithm (`BPFLD_HASH_*`).
    pub digest_algo: u32,
    /// fs-verity digest.
    pub digest: Vec<u8>,
    /// Receipt.
    pub receipt: [u8; 32],
    /// What the load cost in the module.
    pub stats: KStats,
}

/// What a load cost in the module (`time_ns`, `bpf_time_ns`, `mem_bytes`).
#[derive(Clone, Copy, Debug, Default)]
pub struct KStats {
    /// Nanoseconds from the request to the fds.
    pub time_ns: u64,
    /// Of which inside the kernel's BPF commands (verifier, JIT, map creation).
    pub bpf_time_ns: u64,
    /// Bytes the load held (file copy plus the core's buffers).
    pub mem_bytes: u64,
}

/// Why `BPFLD_IOC_LOAD` failed.
#[derive(Debug)]
pub struct KLoadError {
    /// errno.
    pub errno: i32,
    /// The module's explanation (step, program, map).
    pub msg: String,
    /// The verifier log, if a program was rejected.
    pub log: String,
    /// fs-verity digest, if it was read.
    pub digest: Vec<u8>,
}

impl std::fmt::Display for KLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = io::Error::from_raw_os_error(self.errno);
        if self.msg.is_empty() {
            write!(f, "{e}")?;
        } else {
            write!(f, "{} ({e})", self.msg)?;
        }
        if !self.log.trim().is_empty() {
            write!(f, "\n-- verifier log --\n{}", self.log.trim_end())?;
        }
        Ok(())
    }
}

/// How `struct bpfld_load_opts` is sent: this build's struct whole, or with another
/// `size`, as a caller built against another uapi would send it. The bytes beyond
/// `size` are not sent, or are zero up to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptsLayout {
    /// The whole struct, `size` its size.
    Full,
    /// `size` set to this many bytes, and the struct cut there or zero-padded to it.
    Size(u32),
    /// As `Size`, above this build's struct, with the last byte set (a field this
    /// build does not know).
    SizeTailSet(u32),
}

impl OptsLayout {
    /// The bytes to point the request's `opts` at: at least the whole struct, so that
    /// a `size` below it shows the module only its first `size` bytes' worth of fields
    /// while the rest are still there (as a larger caller's would be, unread).
    fn bytes(self, o: &uapi::BpfldLoadOpts) -> Vec<u8> {
        let whole = std::mem::size_of::<uapi::BpfldLoadOpts>();
        // SAFETY: a plain repr(C) struct of integers without padding.
        let raw = unsafe {
            std::slice::from_raw_parts((o as *const uapi::BpfldLoadOpts).cast::<u8>(), whole)
        };
        let (size, tail) = match self {
            OptsLayout::Full => (whole as u32, false),
            OptsLayout::Size(n) => (n, false),
            OptsLayout::SizeTailSet(n) => (n, true),
        };
        let mut b = raw.to_vec();
        b.resize(whole.max(size as usize), 0);
        b[..4].copy_from_slice(&size.to_ne_bytes());
        if tail && size as usize > whole {
            b[size as usize - 1] = 1;
        }
        b
    }
}

/// Options of a kernel load.
#[derive(Clone, Copy, Debug)]
pub struct KLoadOpts {
    /// Verifier log level (0: a log only if a program is rejected).
    pub log_level: u32,
    /// Log buffer size (0: no log at all).
    pub log_size: usize,
    /// The request's flags (`BPFLD_LOAD_*`).
    pub flags: u32,
}

impl Default for KLoadOpts {
    fn default() -> Self {
        KLoadOpts {
            log_level: 0,
            log_size: 1 << 20,
            flags: 0,
        }
    }
}

/// What a load takes beyond its object (`struct bpfld_load_opts`).
#[derive(Debug, Default)]
pub struct KLoadExtra<'f> {
    /// Maps of ours to use for the object's maps of these names instead of new ones
    /// (as libbpf reuses a pinned map).
    pub reuse: Vec<(&'f str, std::os::fd::BorrowedFd<'f>)>,
    /// BPF programs of ours that the object's programs of these names attach to, and
    /// the BTF type id of the function in each (libbpf's
    /// `bpf_program__set_attach_target()`; [`crate::sys::prog_func_btf_id`]).
    pub targets: Vec<(&'f str, std::os::fd::BorrowedFd<'f>, u32)>,
    /// Entry programs to load (`true`, as a program of a `?` section) or leave out
    /// (`false`): libbpf's `bpf_program__set_autoload()`.
    pub autoload: Vec<(&'f str, bool)>,
}

/// A name as the ioctls take it: NUL-terminated, cut to fit.
pub fn name_arg(name: &str) -> [u8; uapi::BPFLD_NAME_LEN] {
    let mut out = [0; uapi::BPFLD_NAME_LEN];
    let n = name.len().min(uapi::BPFLD_NAME_LEN - 1);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

fn own_fd(fd: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the module installed `fd` in our table for us; we own it from now on.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// A digest as the ioctls take it.
pub fn digest_arg(algo: u32, bytes: &[u8]) -> Option<uapi::BpfldDigest> {
    let size = match algo {
        uapi::BPFLD_HASH_SHA256 => 32,
        uapi::BPFLD_HASH_SHA512 => 64,
        _ => return None,
    };
    if bytes.len() != size {
        return None;
    }
    let mut d = uapi::BpfldDigest {
        algo,
        size: size as u32,
        digest: [0; uapi::BPFLD_DIGEST_MAX],
    };
    d.digest[..size].copy_from_slice(bytes);
    Some(d)
}

/// Parse `sha256:HEX` / `sha512:HEX` (as `fsverity digest` prints it).
pub fn parse_digest(s: &str) -> Option<uapi::BpfldDigest> {
    let (alg, hex) = s.split_once(':')?;
    let algo = match alg {
        "sha256" => uapi::BPFLD_HASH_SHA256,
        "sha512" => uapi::BPFLD_HASH_SHA512,
        _ => return None,
    };
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    digest_arg(algo, &bytes?)
}

/// `sha256:HEX` of a digest.
pub fn format_digest(algo: u32, bytes: &[u8]) -> String {
    let name = if algo == uapi::BPFLD_HASH_SHA512 {
        "sha512"
    } else {
        "sha256"
    };
    format!("{name}:{}", crate::parity::hex(bytes))
}

impl Device {
    /// `BPFLD_IOC_LOAD` of the object open at `obj`. Grows the result arrays and
    /// retries if the module says they are too small.
    pub fn load(&self, obj: &impl AsRawFd, opts: &KLoadOpts) -> Result<KLoad, KLoadError> {
        self.load_with(obj, opts, &KLoadExtra::default())
    }

    /// [`Device::load`] with load options (`struct bpfld_load_opts`).
    pub fn load_with(
        &self,
        obj: &impl AsRawFd,
        opts: &KLoadOpts,
        extra: &KLoadExtra<'_>,
    ) -> Result<KLoad, KLoadError> {
        let reuse: Vec<(&str, RawFd)> = extra
            .reuse
            .iter()
            .map(|(n, fd)| (*n, fd.as_raw_fd()))
            .collect();
        let targets: Vec<(&str, RawFd, u32)> = extra
            .targets
            .iter()
            .map(|(n, fd, id)| (*n, fd.as_raw_fd(), *id))
            .collect();
        self.load_with_raw(
            obj,
            opts,
            &reuse,
            &targets,
            &extra.autoload,
            OptsLayout::Full,
        )
    }

    /// [`Device::load_with`] with fd numbers as they are, open or not, and
    /// `struct bpfld_load_opts` sent as `layout` says: for the fuzzer, which also
    /// passes numbers that are closed and options of other sizes than this build's.
    pub fn load_with_raw(
        &self,
        obj: &impl AsRawFd,
        opts: &KLoadOpts,
        reuse: &[(&str, RawFd)],
        targets: &[(&str, RawFd, u32)],
        autoload: &[(&str, bool)],
        layout: OptsLayout,
    ) -> Result<KLoad, KLoadError> {
        let reuse: Vec<uapi::BpfldMapReuse> = reuse
            .iter()
            .map(|(name, fd)| uapi::BpfldMapReuse {
                name: name_arg(name),
                fd: *fd,
                reserved: 0,
            })
            .collect();
        let attach: Vec<uapi::BpfldAttachTarget> = targets
            .iter()
            .map(|(prog, fd, btf_id)| uapi::BpfldAttachTarget {
                prog: name_arg(prog),
                target_fd: *fd,
                btf_id: *btf_id,
            })
            .collect();
        let autoload: Vec<uapi::BpfldProgAutoload> = autoload
            .iter()
            .map(|(prog, load)| uapi::BpfldProgAutoload {
                prog: name_arg(prog),
                load: u32::from(*load),
                reserved: 0,
            })
            .collect();
        let load_opts = uapi::BpfldLoadOpts {
            size: std::mem::size_of::<uapi::BpfldLoadOpts>() as u32,
            map_reuse_cnt: reuse.len() as u32,
            map_reuse_size: std::mem::size_of::<uapi::BpfldMapReuse>() as u32,
            reserved: 0,
            map_reuse: reuse.as_ptr() as u64,
            attach_cnt: attach.len() as u32,
            attach_size: std::mem::size_of::<uapi::BpfldAttachTarget>() as u32,
            attach: attach.as_ptr() as u64,
            autoload_cnt: autoload.len() as u32,
            autoload_size: std::mem::size_of::<uapi::BpfldProgAutoload>() as u32,
            autoload: autoload.as_ptr() as u64,
        };
        let with_opts = !reuse.is_empty()
            || !attach.is_empty()
            || !autoload.is_empty()
            || layout != OptsLayout::Full;
        let opts_bytes = layout.bytes(&load_opts);
        let mut progs_cap = 16usize;
        let mut maps_cap = 16usize;
        let mut log = vec![0u8; opts.log_size];
        loop {
            let mut progs: Vec<uapi::BpfldProgInfo> = vec![
                // SAFETY: all-zero is valid for this plain struct.
                unsafe { std::mem::zeroed() };
                progs_cap
            ];
            let mut maps: Vec<uapi::BpfldMapInfo> = vec![
                // SAFETY: as above.
                unsafe { std::mem::zeroed() };
                maps_cap
            ];
            let mut req = uapi::BpfldLoad {
                size: std::mem::size_of::<uapi::BpfldLoad>() as u32,
                flags: opts.flags,
                obj_fd: obj.as_raw_fd(),
                log_level: opts.log_level,
                log_buf: if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
                log_size: log.len() as u32,
                prog_info_size: std::mem::size_of::<uapi::BpfldProgInfo>() as u32,
                progs: progs.as_mut_ptr() as u64,
                progs_cnt: progs_cap as u32,
                map_info_size: std::mem::size_of::<uapi::BpfldMapInfo>() as u32,
                maps: maps.as_mut_ptr() as u64,
                maps_cnt: maps_cap as u32,
                opts: if !with_opts {
                    0
                } else {
                    opts_bytes.as_ptr() as u64
                },
                ..Default::default()
            };
            // SAFETY: BPFLD_IOC_LOAD reads and writes a struct bpfld_load; the arrays,
            // the options and the log buffer it points to are live and of the stated
            // sizes.
            let res = unsafe { self.ioctl(uapi::BPFLD_IOC_LOAD, &mut req) };
            let digest = req.digest[..(req.digest_size as usize).min(64)].to_vec();
            match res {
                Ok(_) => {
                    let progs = progs[..req.progs_cnt as usize]
                        .iter()
                        .map(|p| KProg {
                            name: cstr(&p.name),
                            section: cstr(&p.section),
                            prog_type: p.prog_type,
                            expected_attach_type: p.expected_attach_type,
                            fd: own_fd(p.fd),
                            id: p.id,
                            tag: p.tag,
                            attach_btf_id: p.attach_btf_id,
                        })
                        .collect();
                    let maps = maps[..req.maps_cnt as usize]
                        .iter()
                        .map(|m| KMap {
                            name: cstr(&m.name),
                            map_type: m.map_type,
                            fd: own_fd(m.fd),
                            id: m.id,
                            pinning: m.pinning != 0,
                            arena: ArenaMapping::of(m.fd, m.addr),
                            reused: m.flags & uapi::BPFLD_MAP_REUSED != 0,
                        })
                        .collect();
                    return Ok(KLoad {
                        progs,
                        maps,
                        digest_algo: req.digest_algo,
                        digest,
                        receipt: req.receipt,
                        stats: KStats {
                            time_ns: req.time_ns,
                            bpf_time_ns: req.bpf_time_ns,
                            mem_bytes: req.mem_bytes,
                        },
                    });
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::ENOSPC)
                        && (req.progs_cnt as usize > progs_cap
                            || req.maps_cnt as usize > maps_cap) =>
                {
                    progs_cap = progs_cap.max(req.progs_cnt as usize);
                    maps_cap = maps_cap.max(req.maps_cnt as usize);
                    log.iter_mut().for_each(|b| *b = 0);
                }
                Err(e) => {
                    return Err(KLoadError {
                        errno: e.raw_os_error().unwrap_or(libc::EIO),
                        msg: cstr(&req.err_msg),
                        log: cstr(&log),
                        digest,
                    })
                }
            }
        }
    }

    /// `BPFLD_IOC_TRUST_ADD`.
    pub fn trust_add(&self, d: &uapi::BpfldDigest) -> io::Result<()> {
        let mut d = *d;
        // SAFETY: the ioctl reads a struct bpfld_digest.
        unsafe { self.ioctl(uapi::BPFLD_IOC_TRUST_ADD, &mut d) }.map(|_| ())
    }

    /// `BPFLD_IOC_TRUST_REVOKE`.
    pub fn trust_revoke(&self, d: &uapi::BpfldDigest) -> io::Result<()> {
        let mut d = *d;
        // SAFETY: the ioctl reads a struct bpfld_digest.
        unsafe { self.ioctl(uapi::BPFLD_IOC_TRUST_REVOKE, &mut d) }.map(|_| ())
    }

    /// `BPFLD_IOC_TRUST_SEAL`.
    pub fn trust_seal(&self) -> io::Result<()> {
        // SAFETY: the ioctl takes no argument.
        let r = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                uapi::BPFLD_IOC_TRUST_SEAL as libc::c_ulong,
                0,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `BPFLD_IOC_TRUST_LIST`: the entries and the policy flags.
    pub fn trust_list(&self) -> io::Result<(Vec<uapi::BpfldTrustEntry>, u32)> {
        let mut cap = 64usize;
        let mut req = uapi::BpfldTrustList {
            size: std::mem::size_of::<uapi::BpfldTrustList>() as u32,
            entry_size: std::mem::size_of::<uapi::BpfldTrustEntry>() as u32,
            ..Default::default()
        };
        loop {
            let mut entries: Vec<uapi::BpfldTrustEntry> = vec![
                // SAFETY: all-zero is valid for this plain struct.
                unsafe { std::mem::zeroed() };
                cap
            ];
            // After ENOSPC, the same request again, with the `flags` that answer wrote.
            req.entries = entries.as_mut_ptr() as u64;
            req.count = cap as u32;
            // SAFETY: the ioctl reads/writes a struct bpfld_trust_list and writes up to
            // `count` entries to `entries`.
            match unsafe { self.ioctl(uapi::BPFLD_IOC_TRUST_LIST, &mut req) } {
                Ok(_) => {
                    entries.truncate(req.count as usize);
                    return Ok((entries, req.flags));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => cap = req.count as usize,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_layouts() {
        let o = uapi::BpfldLoadOpts {
            autoload_cnt: 3,
            ..Default::default()
        };
        let whole = std::mem::size_of::<uapi::BpfldLoadOpts>();
        let size = |b: &[u8]| u32::from_ne_bytes(b[..4].try_into().unwrap());
        let b = OptsLayout::Full.bytes(&o);
        assert_eq!((b.len(), size(&b)), (whole, whole as u32));
        // Cut: the struct is all there, `size` says how much of it to read.
        let b = OptsLayout::Size(40).bytes(&o);
        assert_eq!((b.len(), size(&b)), (whole, 40));
        assert_eq!(&b[4..], &OptsLayout::Full.bytes(&o)[4..]);
        // Larger: zero beyond the struct, or the last byte set.
        let b = OptsLayout::Size(64).bytes(&o);
        assert_eq!((b.len(), size(&b)), (64, 64));
        assert!(b[whole..].iter().all(|&x| x == 0));
        let b = OptsLayout::SizeTailSet(64).bytes(&o);
        assert_eq!((b[63], b[whole..63].iter().all(|&x| x == 0)), (1, true));
    }

    #[test]
    fn digests_round_trip() {
        let bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        let text = format_digest(uapi::BPFLD_HASH_SHA256, &bytes);
        assert_eq!(&text[..13], "sha256:a580ef");
        let d = parse_digest(&text).expect("parses back");
        assert_eq!(
            (d.algo, &d.digest[..d.size as usize]),
            (uapi::BPFLD_HASH_SHA256, &bytes[..])
        );
        let long = [0xffu8; 64];
        let text = format_digest(uapi::BPFLD_HASH_SHA512, &long);
        assert_eq!(text, format!("sha512:{}", "ff".repeat(64)));
        let d = parse_digest(&text).expect("parses back");
        assert_eq!((d.algo, d.size), (uapi::BPFLD_HASH_SHA512, 64));
    }
}

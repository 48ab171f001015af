// SPDX-License-Identifier: GPL-2.0-only

//! Rust mirror of `include/uapi/linux/bpfld.h`.
//!
//! The C header is the source of truth; `tests::matches_c_header` compiles a C program
//! against it and compares every constant, size and offset with this file.

/// `BPFLD_UAPI_VERSION`.
pub const BPFLD_UAPI_VERSION: u32 = 1;
/// `BPFLD_IOC_MAGIC`.
pub const BPFLD_IOC_MAGIC: u32 = 0xBF;

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | (ty << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// `_IOR(ty, nr, T)`.
pub const fn ior<T>(nr: u32) -> u32 {
    ioc(IOC_READ, BPFLD_IOC_MAGIC, nr, core::mem::size_of::<T>())
}
/// `_IOW(ty, nr, T)`.
pub const fn iow<T>(nr: u32) -> u32 {
    ioc(IOC_WRITE, BPFLD_IOC_MAGIC, nr, core::mem::size_of::<T>())
}
/// `_IOWR(ty, nr, T)`.
pub const fn iowr<T>(nr: u32) -> u32 {
    ioc(
        IOC_READ | IOC_WRITE,
        BPFLD_IOC_MAGIC,
        nr,
        core::mem::size_of::<T>(),
    )
}

/// `struct bpfld_version`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpfldVersion {
    /// `BPFLD_UAPI_VERSION` of the module.
    pub uapi_version: u32,
    /// Reserved, 0.
    pub flags: u32,
    /// bpfld-core version, NUL-terminated.
    pub core_version: [u8; 32],
}

/// `BPFLD_IOC_VERSION`.
pub const BPFLD_IOC_VERSION: u32 = ior::<BpfldVersion>(0x00);

/// `BPFLD_NAME_LEN`.
pub const BPFLD_NAME_LEN: usize = 64;
/// `BPFLD_DIGEST_MAX`.
pub const BPFLD_DIGEST_MAX: usize = 64;
/// `BPFLD_HASH_SHA256`.
pub const BPFLD_HASH_SHA256: u32 = 1;
/// `BPFLD_HASH_SHA512`.
pub const BPFLD_HASH_SHA512: u32 = 2;
/// `BPFLD_TRUST_BUILTIN`.
pub const BPFLD_TRUST_BUILTIN: u32 = 1;
/// `BPFLD_TRUST_RUNTIME`.
pub const BPFLD_TRUST_RUNTIME: u32 = 2;
/// `BPFLD_TRUST_REVOKED`.
pub const BPFLD_TRUST_REVOKED: u32 = 3;
/// `BPFLD_POLICY_SEALED`.
pub const BPFLD_POLICY_SEALED: u32 = 1 << 0;
/// `BPFLD_POLICY_PERMISSIVE`.
pub const BPFLD_POLICY_PERMISSIVE: u32 = 1 << 1;

/// `struct bpfld_prog_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldProgInfo {
    /// Function name.
    pub name: [u8; BPFLD_NAME_LEN],
    /// Section name.
    pub section: [u8; BPFLD_NAME_LEN],
    /// Program type.
    pub prog_type: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
    /// Program fd.
    pub fd: i32,
    /// Kernel id.
    pub id: u32,
    /// Kernel tag.
    pub tag: [u8; 8],
    /// BTF attach target id.
    pub attach_btf_id: u32,
    /// Reserved.
    pub reserved: [u32; 3],
}

/// `struct bpfld_map_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldMapInfo {
    /// Map name.
    pub name: [u8; BPFLD_NAME_LEN],
    /// Map type.
    pub map_type: u32,
    /// Map fd.
    pub fd: i32,
    /// Kernel id.
    pub id: u32,
    /// 1 if the object asks for pinning by name.
    pub pinning: u32,
    /// An arena map: where the module mapped it in this process; else 0.
    pub addr: u64,
    /// `BPFLD_MAP_*`.
    pub flags: u32,
    /// Reserved.
    pub reserved: u32,
}

/// `BPFLD_MAP_REUSED`: the caller's map (the options' `map_reuse`), not created.
pub const BPFLD_MAP_REUSED: u32 = 1 << 0;

/// `BPFLD_LOAD_REGISTER_STRUCT_OPS` (`struct bpfld_load.flags`): register the
/// object's plain `.struct_ops` maps at the end of the load.
pub const BPFLD_LOAD_REGISTER_STRUCT_OPS: u32 = 1 << 0;

/// `struct bpfld_map_reuse`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldMapReuse {
    /// The map's name in the object, NUL-terminated.
    pub name: [u8; BPFLD_NAME_LEN],
    /// A BPF map fd of the caller.
    pub fd: i32,
    /// Reserved (0).
    pub reserved: u32,
}

/// `struct bpfld_load_opts`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpfldLoadOpts {
    /// `sizeof(struct bpfld_load_opts)`.
    pub size: u32,
    /// Entries in `map_reuse`.
    pub map_reuse_cnt: u32,
    /// `sizeof(struct bpfld_map_reuse)`.
    pub map_reuse_size: u32,
    /// Reserved (0).
    pub reserved: u32,
    /// Array of `struct bpfld_map_reuse`.
    pub map_reuse: u64,
    /// Entries in `attach`.
    pub attach_cnt: u32,
    /// `sizeof(struct bpfld_attach_target)`.
    pub attach_size: u32,
    /// Array of `struct bpfld_attach_target`.
    pub attach: u64,
    /// Entries in `autoload`.
    pub autoload_cnt: u32,
    /// `sizeof(struct bpfld_prog_autoload)`.
    pub autoload_size: u32,
    /// Array of `struct bpfld_prog_autoload`.
    pub autoload: u64,
}

/// `BPFLD_LOAD_OPTS_SIZE_VER0`: the first `struct bpfld_load_opts`, up to `attach`.
pub const BPFLD_LOAD_OPTS_SIZE_VER0: u32 = 40;

/// `struct bpfld_prog_autoload`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldProgAutoload {
    /// The object's entry program (function name), NUL-terminated.
    pub prog: [u8; BPFLD_NAME_LEN],
    /// 1: load it, 0: do not.
    pub load: u32,
    /// Reserved (0).
    pub reserved: u32,
}

/// `struct bpfld_attach_target`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldAttachTarget {
    /// The object's program (function name), NUL-terminated.
    pub prog: [u8; BPFLD_NAME_LEN],
    /// A BPF program fd of the caller.
    pub target_fd: i32,
    /// The function's BTF type id in the target program's BTF.
    pub btf_id: u32,
}

/// `struct bpfld_load`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldLoad {
    /// `sizeof(struct bpfld_load)`.
    pub size: u32,
    /// Flags (0).
    pub flags: u32,
    /// Object fd.
    pub obj_fd: i32,
    /// Verifier log level.
    pub log_level: u32,
    /// Verifier log buffer.
    pub log_buf: u64,
    /// Its size.
    pub log_size: u32,
    /// `sizeof(struct bpfld_prog_info)`.
    pub prog_info_size: u32,
    /// Program array.
    pub progs: u64,
    /// Program array length / programs loaded.
    pub progs_cnt: u32,
    /// `sizeof(struct bpfld_map_info)`.
    pub map_info_size: u32,
    /// Map array.
    pub maps: u64,
    /// Map array length / maps created.
    pub maps_cnt: u32,
    /// fs-verity algorithm.
    pub digest_algo: u32,
    /// Digest length.
    pub digest_size: u32,
    /// errno of the failing step.
    pub err_errno: u32,
    /// fs-verity digest.
    pub digest: [u8; BPFLD_DIGEST_MAX],
    /// Receipt.
    pub receipt: [u8; 32],
    /// Error message.
    pub err_msg: [u8; 256],
    /// Time the module spent on the load.
    pub time_ns: u64,
    /// Of which inside the kernel's BPF commands.
    pub bpf_time_ns: u64,
    /// Memory the load held.
    pub mem_bytes: u64,
    /// 0, or a `struct bpfld_load_opts`.
    pub opts: u64,
}

impl Default for BpfldLoad {
    fn default() -> Self {
        // SAFETY: all-zero is a valid value of this plain-integer struct.
        unsafe { std::mem::zeroed() }
    }
}

/// `struct bpfld_digest`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfldDigest {
    /// Algorithm.
    pub algo: u32,
    /// Bytes used.
    pub size: u32,
    /// The digest.
    pub digest: [u8; BPFLD_DIGEST_MAX],
}

/// `struct bpfld_trust_entry`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BpfldTrustEntry {
    /// The digest.
    pub digest: BpfldDigest,
    /// `BPFLD_TRUST_*`.
    pub state: u32,
    /// Reserved.
    pub reserved: u32,
}

/// `struct bpfld_trust_list`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BpfldTrustList {
    /// `sizeof(struct bpfld_trust_list)`.
    pub size: u32,
    /// `BPFLD_POLICY_*`.
    pub flags: u32,
    /// Entry array.
    pub entries: u64,
    /// Array length / entries.
    pub count: u32,
    /// `sizeof(struct bpfld_trust_entry)`.
    pub entry_size: u32,
    /// Reserved.
    pub reserved: [u64; 2],
}

/// `BPFLD_IOC_LOAD`.
pub const BPFLD_IOC_LOAD: u32 = iowr::<BpfldLoad>(0x01);
/// `BPFLD_IOC_TRUST_ADD`.
pub const BPFLD_IOC_TRUST_ADD: u32 = iow::<BpfldDigest>(0x10);
/// `BPFLD_IOC_TRUST_REVOKE`.
pub const BPFLD_IOC_TRUST_REVOKE: u32 = iow::<BpfldDigest>(0x11);
/// `BPFLD_IOC_TRUST_LIST`.
pub const BPFLD_IOC_TRUST_LIST: u32 = iowr::<BpfldTrustList>(0x12);
/// `BPFLD_IOC_TRUST_SEAL`.
pub const BPFLD_IOC_TRUST_SEAL: u32 = ioc(0, BPFLD_IOC_MAGIC, 0x13, 0);

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};
    use std::process::Command;

    /// Every line is `NAME VALUE`, printed by a C program built against the header.
    #[test]
    fn matches_c_header() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let dir = std::env::temp_dir().join(format!("bpfld-uapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("u.c");
        std::fs::write(
            &src,
            r#"
#include <stdio.h>
#include <stddef.h>
#include <linux/bpfld.h>
#define P(x) printf(#x " %llu\n", (unsigned long long)(x))
int main(void) {
    P(BPFLD_UAPI_VERSION); P(BPFLD_IOC_MAGIC); P(BPFLD_IOC_VERSION);
    P(sizeof(struct bpfld_version));
    P(offsetof(struct bpfld_version, flags));
    P(offsetof(struct bpfld_version, core_version));
    P(BPFLD_NAME_LEN); P(BPFLD_DIGEST_MAX); P(BPFLD_HASH_SHA256); P(BPFLD_HASH_SHA512);
    P(BPFLD_TRUST_BUILTIN); P(BPFLD_TRUST_RUNTIME); P(BPFLD_TRUST_REVOKED);
    P(BPFLD_POLICY_SEALED); P(BPFLD_POLICY_PERMISSIVE);
    P(BPFLD_IOC_LOAD); P(BPFLD_IOC_TRUST_ADD); P(BPFLD_IOC_TRUST_REVOKE);
    P(BPFLD_IOC_TRUST_LIST); P(BPFLD_IOC_TRUST_SEAL);
    P(sizeof(struct bpfld_prog_info)); P(offsetof(struct bpfld_prog_info, fd));
    P(offsetof(struct bpfld_prog_info, tag)); P(offsetof(struct bpfld_prog_info, attach_btf_id));
    P(sizeof(struct bpfld_map_info)); P(offsetof(struct bpfld_map_info, fd));
    P(offsetof(struct bpfld_map_info, pinning));
    P(sizeof(struct bpfld_load)); P(offsetof(struct bpfld_load, log_buf));
    P(offsetof(struct bpfld_load, progs)); P(offsetof(struct bpfld_load, maps));
    P(offsetof(struct bpfld_load, digest_algo)); P(offsetof(struct bpfld_load, err_errno));
    P(offsetof(struct bpfld_load, digest)); P(offsetof(struct bpfld_load, receipt));
    P(offsetof(struct bpfld_load, err_msg)); P(offsetof(struct bpfld_load, time_ns));
    P(offsetof(struct bpfld_load, bpf_time_ns)); P(offsetof(struct bpfld_load, mem_bytes));
    P(offsetof(struct bpfld_load, opts)); P(offsetof(struct bpfld_map_info, flags));
    P(BPFLD_MAP_REUSED); P(BPFLD_LOAD_REGISTER_STRUCT_OPS); P(sizeof(struct bpfld_map_reuse)); P(offsetof(struct bpfld_map_reuse, fd));
    P(sizeof(struct bpfld_load_opts)); P(offsetof(struct bpfld_load_opts, map_reuse));
    P(offsetof(struct bpfld_load_opts, attach)); P(sizeof(struct bpfld_attach_target));
    P(offsetof(struct bpfld_attach_target, btf_id));
    P(offsetof(struct bpfld_load_opts, autoload_cnt)); P(offsetof(struct bpfld_load_opts, autoload));
    P(BPFLD_LOAD_OPTS_SIZE_VER0); P(sizeof(struct bpfld_prog_autoload));
    P(offsetof(struct bpfld_prog_autoload, load));
    P(sizeof(struct bpfld_digest)); P(offsetof(struct bpfld_digest, digest));
    P(sizeof(struct bpfld_trust_entry)); P(offsetof(struct bpfld_trust_entry, state));
    P(sizeof(struct bpfld_trust_list)); P(offsetof(struct bpfld_trust_list, entries));
    P(offsetof(struct bpfld_trust_list, count)); P(offsetof(struct bpfld_trust_list, reserved));
    return 0;
}
"#,
        )
        .unwrap();
        let exe = dir.join("u");
        let cc = Command::new("cc")
            .arg("-I")
            .arg(format!("{root}/include/uapi"))
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .status()
            .expect("a C compiler (cc) is needed for the UAPI sync test");
        assert!(cc.success());
        let out = Command::new(&exe).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let want: &[(&str, u64)] = &[
            ("BPFLD_UAPI_VERSION", BPFLD_UAPI_VERSION.into()),
            ("BPFLD_IOC_MAGIC", BPFLD_IOC_MAGIC.into()),
            ("BPFLD_IOC_VERSION", BPFLD_IOC_VERSION.into()),
            (
                "sizeof(struct bpfld_version)",
                size_of::<BpfldVersion>() as u64,
            ),
            (
                "offsetof(struct bpfld_version, flags)",
                offset_of!(BpfldVersion, flags) as u64,
            ),
            (
                "offsetof(struct bpfld_version, core_version)",
                offset_of!(BpfldVersion, core_version) as u64,
            ),
            ("BPFLD_NAME_LEN", BPFLD_NAME_LEN as u64),
            ("BPFLD_DIGEST_MAX", BPFLD_DIGEST_MAX as u64),
            ("BPFLD_HASH_SHA256", BPFLD_HASH_SHA256.into()),
            ("BPFLD_HASH_SHA512", BPFLD_HASH_SHA512.into()),
            ("BPFLD_TRUST_BUILTIN", BPFLD_TRUST_BUILTIN.into()),
            ("BPFLD_TRUST_RUNTIME", BPFLD_TRUST_RUNTIME.into()),
            ("BPFLD_TRUST_REVOKED", BPFLD_TRUST_REVOKED.into()),
            ("BPFLD_POLICY_SEALED", BPFLD_POLICY_SEALED.into()),
            ("BPFLD_POLICY_PERMISSIVE", BPFLD_POLICY_PERMISSIVE.into()),
            ("BPFLD_IOC_LOAD", BPFLD_IOC_LOAD.into()),
            ("BPFLD_IOC_TRUST_ADD", BPFLD_IOC_TRUST_ADD.into()),
            ("BPFLD_IOC_TRUST_REVOKE", BPFLD_IOC_TRUST_REVOKE.into()),
            ("BPFLD_IOC_TRUST_LIST", BPFLD_IOC_TRUST_LIST.into()),
            ("BPFLD_IOC_TRUST_SEAL", BPFLD_IOC_TRUST_SEAL.into()),
            (
                "sizeof(struct bpfld_prog_info)",
                size_of::<BpfldProgInfo>() as u64,
            ),
            (
                "offsetof(struct bpfld_prog_info, fd)",
                offset_of!(BpfldProgInfo, fd) as u64,
            ),
            (
                "offsetof(struct bpfld_prog_info, tag)",
                offset_of!(BpfldProgInfo, tag) as u64,
            ),
            (
                "offsetof(struct bpfld_prog_info, attach_btf_id)",
                offset_of!(BpfldProgInfo, attach_btf_id) as u64,
            ),
            (
                "sizeof(struct bpfld_map_info)",
                size_of::<BpfldMapInfo>() as u64,
            ),
            (
                "offsetof(struct bpfld_map_info, fd)",
                offset_of!(BpfldMapInfo, fd) as u64,
            ),
            (
                "offsetof(struct bpfld_map_info, pinning)",
                offset_of!(BpfldMapInfo, pinning) as u64,
            ),
            ("sizeof(struct bpfld_load)", size_of::<BpfldLoad>() as u64),
            (
                "offsetof(struct bpfld_load, log_buf)",
                offset_of!(BpfldLoad, log_buf) as u64,
            ),
            (
                "offsetof(struct bpfld_load, progs)",
                offset_of!(BpfldLoad, progs) as u64,
            ),
            (
                "offsetof(struct bpfld_load, maps)",
                offset_of!(BpfldLoad, maps) as u64,
            ),
            (
                "offsetof(struct bpfld_load, digest_algo)",
                offset_of!(BpfldLoad, digest_algo) as u64,
            ),
            (
                "offsetof(struct bpfld_load, err_errno)",
                offset_of!(BpfldLoad, err_errno) as u64,
            ),
            (
                "offsetof(struct bpfld_load, digest)",
                offset_of!(BpfldLoad, digest) as u64,
            ),
            (
                "offsetof(struct bpfld_load, receipt)",
                offset_of!(BpfldLoad, receipt) as u64,
            ),
            (
                "offsetof(struct bpfld_load, err_msg)",
                offset_of!(BpfldLoad, err_msg) as u64,
            ),
            (
                "offsetof(struct bpfld_load, time_ns)",
                offset_of!(BpfldLoad, time_ns) as u64,
            ),
            (
                "offsetof(struct bpfld_load, bpf_time_ns)",
                offset_of!(BpfldLoad, bpf_time_ns) as u64,
            ),
            (
                "offsetof(struct bpfld_load, mem_bytes)",
                offset_of!(BpfldLoad, mem_bytes) as u64,
            ),
            (
                "offsetof(struct bpfld_load, opts)",
                offset_of!(BpfldLoad, opts) as u64,
            ),
            (
                "offsetof(struct bpfld_map_info, flags)",
                offset_of!(BpfldMapInfo, flags) as u64,
            ),
            ("BPFLD_MAP_REUSED", BPFLD_MAP_REUSED.into()),
            (
                "BPFLD_LOAD_REGISTER_STRUCT_OPS",
                BPFLD_LOAD_REGISTER_STRUCT_OPS.into(),
            ),
            (
                "sizeof(struct bpfld_map_reuse)",
                size_of::<BpfldMapReuse>() as u64,
            ),
            (
                "offsetof(struct bpfld_map_reuse, fd)",
                offset_of!(BpfldMapReuse, fd) as u64,
            ),
            (
                "sizeof(struct bpfld_load_opts)",
                size_of::<BpfldLoadOpts>() as u64,
            ),
            (
                "offsetof(struct bpfld_load_opts, map_reuse)",
                offset_of!(BpfldLoadOpts, map_reuse) as u64,
            ),
            (
                "offsetof(struct bpfld_load_opts, attach)",
                offset_of!(BpfldLoadOpts, attach) as u64,
            ),
            (
                "sizeof(struct bpfld_attach_target)",
                size_of::<BpfldAttachTarget>() as u64,
            ),
            (
                "offsetof(struct bpfld_attach_target, btf_id)",
                offset_of!(BpfldAttachTarget, btf_id) as u64,
            ),
            (
                "offsetof(struct bpfld_load_opts, autoload_cnt)",
                offset_of!(BpfldLoadOpts, autoload_cnt) as u64,
            ),
            (
                "offsetof(struct bpfld_load_opts, autoload)",
                offset_of!(BpfldLoadOpts, autoload) as u64,
            ),
            (
                "BPFLD_LOAD_OPTS_SIZE_VER0",
                BPFLD_LOAD_OPTS_SIZE_VER0.into(),
            ),
            (
                "sizeof(struct bpfld_prog_autoload)",
                size_of::<BpfldProgAutoload>() as u64,
            ),
            (
                "offsetof(struct bpfld_prog_autoload, load)",
                offset_of!(BpfldProgAutoload, load) as u64,
            ),
            (
                "sizeof(struct bpfld_digest)",
                size_of::<BpfldDigest>() as u64,
            ),
            (
                "offsetof(struct bpfld_digest, digest)",
                offset_of!(BpfldDigest, digest) as u64,
            ),
            (
                "sizeof(struct bpfld_trust_entry)",
                size_of::<BpfldTrustEntry>() as u64,
            ),
            (
                "offsetof(struct bpfld_trust_entry, state)",
                offset_of!(BpfldTrustEntry, state) as u64,
            ),
            (
                "sizeof(struct bpfld_trust_list)",
                size_of::<BpfldTrustList>() as u64,
            ),
            (
                "offsetof(struct bpfld_trust_list, entries)",
                offset_of!(BpfldTrustList, entries) as u64,
            ),
            (
                "offsetof(struct bpfld_trust_list, count)",
                offset_of!(BpfldTrustList, count) as u64,
            ),
            (
                "offsetof(struct bpfld_trust_list, reserved)",
                offset_of!(BpfldTrustList, reserved) as u64,
            ),
        ];
        for (name, value) in want {
            let line = format!("{name} {value}");
            assert!(
                text.lines().any(|l| l == line),
                "{line} not in C output:\n{text}"
            );
        }
        assert_eq!(text.lines().count(), want.len());
        std::fs::remove_dir_all(&dir).ok();
    }
}

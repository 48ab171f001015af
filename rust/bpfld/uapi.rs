// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/uapi/linux/bpfld.h` (kept in sync by the user-space crate's
//! header test and the selftests, which exercise every ioctl).

use kernel::ioctl::{_IO, _IOR, _IOW, _IOWR};
use kernel::types::{AsBytes, FromBytes};

/// `BPFLD_UAPI_VERSION`.
pub(crate) const BPFLD_UAPI_VERSION: u32 = 1;
/// `BPFLD_IOC_MAGIC`.
const BPFLD_IOC_MAGIC: u32 = 0xBF;
/// `BPFLD_NAME_LEN`.
pub(crate) const BPFLD_NAME_LEN: usize = 64;
/// `BPFLD_DIGEST_MAX`.
pub(crate) const BPFLD_DIGEST_MAX: usize = 64;
/// `BPFLD_HASH_SHA256`.
pub(crate) const BPFLD_HASH_SHA256: u32 = 1;
/// `BPFLD_HASH_SHA512`.
pub(crate) const BPFLD_HASH_SHA512: u32 = 2;
/// `BPFLD_TRUST_BUILTIN`.
pub(crate) const BPFLD_TRUST_BUILTIN: u32 = 1;
/// `BPFLD_TRUST_RUNTIME`.
pub(crate) const BPFLD_TRUST_RUNTIME: u32 = 2;
/// `BPFLD_TRUST_REVOKED`.
pub(crate) const BPFLD_TRUST_REVOKED: u32 = 3;
/// `BPFLD_POLICY_SEALED`.
pub(crate) const BPFLD_POLICY_SEALED: u32 = 1 << 0;
/// `BPFLD_POLICY_PERMISSIVE`.
pub(crate) const BPFLD_POLICY_PERMISSIVE: u32 = 1 << 1;

/// `struct bpfld_version`.
#[repr(C)]
pub(crate) struct BpfldVersion {
    pub(crate) uapi_version: u32,
    pub(crate) flags: u32,
    pub(crate) core_version: [u8; 32],
}

/// `struct bpfld_prog_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldProgInfo {
    pub(crate) name: [u8; BPFLD_NAME_LEN],
    pub(crate) section: [u8; BPFLD_NAME_LEN],
    pub(crate) prog_type: u32,
    pub(crate) expected_attach_type: u32,
    pub(crate) fd: i32,
    pub(crate) id: u32,
    pub(crate) tag: [u8; 8],
    pub(crate) attach_btf_id: u32,
    pub(crate) reserved: [u32; 3],
}

/// `struct bpfld_map_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldMapInfo {
    pub(crate) name: [u8; BPFLD_NAME_LEN],
    pub(crate) map_type: u32,
    pub(crate) fd: i32,
    pub(crate) id: u32,
    pub(crate) pinning: u32,
    pub(crate) addr: u64,
    pub(crate) flags: u32,
    pub(crate) reserved: u32,
}

/// `BPFLD_LOAD_REGISTER_STRUCT_OPS`.
pub(crate) const BPFLD_LOAD_REGISTER_STRUCT_OPS: u32 = 1 << 0;
/// `BPFLD_MAP_REUSED`.
pub(crate) const BPFLD_MAP_REUSED: u32 = 1 << 0;

/// `struct bpfld_map_reuse`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldMapReuse {
    pub(crate) name: [u8; BPFLD_NAME_LEN],
    pub(crate) fd: i32,
    pub(crate) reserved: u32,
}

/// `struct bpfld_load_opts`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct BpfldLoadOpts {
    pub(crate) size: u32,
    pub(crate) map_reuse_cnt: u32,
    pub(crate) map_reuse_size: u32,
    pub(crate) reserved: u32,
    pub(crate) map_reuse: u64,
    pub(crate) attach_cnt: u32,
    pub(crate) attach_size: u32,
    pub(crate) attach: u64,
    pub(crate) autoload_cnt: u32,
    pub(crate) autoload_size: u32,
    pub(crate) autoload: u64,
}

/// `BPFLD_LOAD_OPTS_SIZE_VER0`: the first `struct bpfld_load_opts`, up to `attach`.
pub(crate) const BPFLD_LOAD_OPTS_SIZE_VER0: usize = 40;

/// `struct bpfld_prog_autoload`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldProgAutoload {
    pub(crate) prog: [u8; BPFLD_NAME_LEN],
    pub(crate) load: u32,
    pub(crate) reserved: u32,
}

/// `struct bpfld_attach_target`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldAttachTarget {
    pub(crate) prog: [u8; BPFLD_NAME_LEN],
    pub(crate) target_fd: i32,
    pub(crate) btf_id: u32,
}

/// `struct bpfld_load`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldLoad {
    pub(crate) size: u32,
    pub(crate) flags: u32,
    pub(crate) obj_fd: i32,
    pub(crate) log_level: u32,
    pub(crate) log_buf: u64,
    pub(crate) log_size: u32,
    pub(crate) prog_info_size: u32,
    pub(crate) progs: u64,
    pub(crate) progs_cnt: u32,
    pub(crate) map_info_size: u32,
    pub(crate) maps: u64,
    pub(crate) maps_cnt: u32,
    pub(crate) digest_algo: u32,
    pub(crate) digest_size: u32,
    pub(crate) err_errno: u32,
    pub(crate) digest: [u8; BPFLD_DIGEST_MAX],
    pub(crate) receipt: [u8; 32],
    pub(crate) err_msg: [u8; 256],
    pub(crate) time_ns: u64,
    pub(crate) bpf_time_ns: u64,
    pub(crate) mem_bytes: u64,
    pub(crate) opts: u64,
}

/// `struct bpfld_digest`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct BpfldDigest {
    pub(crate) algo: u32,
    pub(crate) size: u32,
    pub(crate) digest: [u8; BPFLD_DIGEST_MAX],
}

/// `struct bpfld_trust_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldTrustEntry {
    pub(crate) digest: BpfldDigest,
    pub(crate) state: u32,
    pub(crate) reserved: u32,
}

/// `struct bpfld_trust_list`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BpfldTrustList {
    pub(crate) size: u32,
    pub(crate) flags: u32,
    pub(crate) entries: u64,
    pub(crate) count: u32,
    pub(crate) entry_size: u32,
    pub(crate) reserved: [u64; 2],
}

// SAFETY: each struct below is `repr(C)`, made only of integers and byte arrays laid out
// without padding (sizes asserted below), so every bit pattern is a valid value and
// every byte of a value is initialised.
unsafe impl AsBytes for BpfldVersion {}
// SAFETY: as above.
unsafe impl AsBytes for BpfldProgInfo {}
// SAFETY: as above.
unsafe impl AsBytes for BpfldMapInfo {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldMapReuse {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldLoadOpts {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldAttachTarget {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldProgAutoload {}
// SAFETY: as above.
unsafe impl AsBytes for BpfldLoad {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldLoad {}
// SAFETY: as above.
unsafe impl AsBytes for BpfldDigest {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldDigest {}
// SAFETY: as above.
unsafe impl AsBytes for BpfldTrustEntry {}
// SAFETY: as above.
unsafe impl AsBytes for BpfldTrustList {}
// SAFETY: as above.
unsafe impl FromBytes for BpfldTrustList {}

const _: () = {
    assert!(core::mem::size_of::<BpfldVersion>() == 40);
    assert!(core::mem::size_of::<BpfldProgInfo>() == 168);
    assert!(core::mem::size_of::<BpfldMapInfo>() == 96);
    assert!(core::mem::size_of::<BpfldLoad>() == 456);
    assert!(core::mem::size_of::<BpfldMapReuse>() == 72);
    assert!(core::mem::size_of::<BpfldLoadOpts>() == 56);
    assert!(core::mem::offset_of!(BpfldLoadOpts, autoload_cnt) == BPFLD_LOAD_OPTS_SIZE_VER0);
    assert!(core::mem::size_of::<BpfldAttachTarget>() == 72);
    assert!(core::mem::size_of::<BpfldProgAutoload>() == 72);
    assert!(core::mem::size_of::<BpfldDigest>() == 72);
    assert!(core::mem::size_of::<BpfldTrustEntry>() == 80);
    assert!(core::mem::size_of::<BpfldTrustList>() == 40);
};

/// `BPFLD_IOC_VERSION`.
pub(crate) const BPFLD_IOC_VERSION: u32 = _IOR::<BpfldVersion>(BPFLD_IOC_MAGIC, 0x00);
/// `BPFLD_IOC_LOAD`.
pub(crate) const BPFLD_IOC_LOAD: u32 = _IOWR::<BpfldLoad>(BPFLD_IOC_MAGIC, 0x01);
/// `BPFLD_IOC_TRUST_ADD`.
pub(crate) const BPFLD_IOC_TRUST_ADD: u32 = _IOW::<BpfldDigest>(BPFLD_IOC_MAGIC, 0x10);
/// `BPFLD_IOC_TRUST_REVOKE`.
pub(crate) const BPFLD_IOC_TRUST_REVOKE: u32 = _IOW::<BpfldDigest>(BPFLD_IOC_MAGIC, 0x11);
/// `BPFLD_IOC_TRUST_LIST`.
pub(crate) const BPFLD_IOC_TRUST_LIST: u32 = _IOWR::<BpfldTrustList>(BPFLD_IOC_MAGIC, 0x12);
/// `BPFLD_IOC_TRUST_SEAL`.
pub(crate) const BPFLD_IOC_TRUST_SEAL: u32 = _IO(BPFLD_IOC_MAGIC, 0x13);

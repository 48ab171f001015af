// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/uapi/linux/bpfld.h` (kept in sync by the selftests).

use kernel::ioctl::_IOR;

/// `BPFLD_UAPI_VERSION`.
pub(crate) const BPFLD_UAPI_VERSION: u32 = 1;
/// `BPFLD_IOC_MAGIC`.
const BPFLD_IOC_MAGIC: u32 = 0xBF;

/// `struct bpfld_version`.
#[repr(C)]
pub(crate) struct BpfldVersion {
    pub(crate) uapi_version: u32,
    pub(crate) flags: u32,
    pub(crate) core_version: [u8; 32],
}

// SAFETY: `repr(C)`, only integer fields, no padding (4 + 4 + 32 bytes).
unsafe impl kernel::types::AsBytes for BpfldVersion {}

/// `BPFLD_IOC_VERSION`.
pub(crate) const BPFLD_IOC_VERSION: u32 = _IOR::<BpfldVersion>(BPFLD_IOC_MAGIC, 0x00);

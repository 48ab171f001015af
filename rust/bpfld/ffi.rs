// SPDX-License-Identifier: GPL-2.0

//! Functions of `helpers.c`: C glue for what 6.12 has no Rust bindings for.

use core::ffi::{c_int, c_uint, c_void};

extern "C" {
    /// Register `/dev/bpfld`. Returns 0 or a negative errno.
    pub(crate) fn bpfld_misc_register() -> c_int;
    /// Deregister `/dev/bpfld`.
    pub(crate) fn bpfld_misc_deregister();
    /// `kern_sys_bpf()`: the `bpf(2)` commands the kernel lets modules issue, with
    /// kernel pointers in `attr` (except verifier log buffers, which stay user pointers).
    #[allow(dead_code)]
    pub(crate) fn bpfld_sys_bpf(cmd: c_int, attr: *mut c_void, size: c_uint) -> c_int;
}

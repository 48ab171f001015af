// SPDX-License-Identifier: GPL-2.0

//! bpfld: an in-kernel BPF ELF loader for Linux 6.12.
//!
//! User space opens `/dev/bpfld` and issues ioctls defined in
//! `include/uapi/linux/bpfld.h`; their Rust mirror is [`uapi`]. This crate is the thin,
//! explicit kernel side: device registration, ioctl dispatch and (in later parts) the
//! trust policy and the executor. All parsing and relocation happens in `bpfld_core`,
//! which has no `unsafe` and is tested on the host.
//!
//! ```c
//! struct bpfld_version v;
//! int fd = open("/dev/bpfld", O_RDONLY | O_CLOEXEC);
//! ioctl(fd, BPFLD_IOC_VERSION, &v);
//! printf("uapi %u, core %s\n", v.uapi_version, v.core_version);
//! ```

use core::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;

mod ffi;
mod uapi;

module! {
    type: Bpfld,
    name: "bpfld",
    author: "bpfld developers",
    description: "In-kernel BPF ELF loader with fs-verity trust policy",
    license: "GPL",
}

struct Bpfld;

impl kernel::Module for Bpfld {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: called once at module init; the C side registers a static miscdevice
        // whose fops point at `bpfld_rust_ioctl` below, valid until `Drop`.
        let ret = unsafe { ffi::bpfld_misc_register() };
        if ret < 0 {
            pr_err!("misc_register failed: {}\n", ret);
            return Err(Error::from_errno(ret));
        }
        pr_info!(
            "/dev/bpfld registered (uapi {}, core {})\n",
            uapi::BPFLD_UAPI_VERSION,
            bpfld_core::VERSION
        );
        Ok(Bpfld)
    }
}

impl Drop for Bpfld {
    fn drop(&mut self) {
        // SAFETY: registered in `init`; misc_deregister waits for no new opens, and the
        // module cannot be unloaded while a file on /dev/bpfld is open (fops.owner).
        unsafe { ffi::bpfld_misc_deregister() };
        pr_info!("unloaded\n");
    }
}

/// ioctl entry point, called by the C `file_operations`.
///
/// Never unwinds (the kernel builds with `panic=abort`); every error becomes a negative
/// errno.
#[no_mangle]
pub extern "C" fn bpfld_rust_ioctl(
    _file: *mut kernel::bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    let res = match cmd {
        uapi::BPFLD_IOC_VERSION => version(arg),
        _ => Err(ENOTTY),
    };
    match res {
        Ok(v) => c_long::from(v),
        Err(e) => c_long::from(e.to_errno()),
    }
}

fn version(arg: c_ulong) -> Result<c_int> {
    let mut v = uapi::BpfldVersion {
        uapi_version: uapi::BPFLD_UAPI_VERSION,
        flags: 0,
        core_version: [0; 32],
    };
    let src = bpfld_core::VERSION.as_bytes();
    // Keep the last byte as the terminating NUL.
    let n = src.len().min(v.core_version.len() - 1);
    v.core_version[..n].copy_from_slice(&src[..n]);
    let mut w = kernel::uaccess::UserSlice::new(arg as usize, core::mem::size_of_val(&v)).writer();
    w.write(&v)?;
    Ok(0)
}

// SPDX-License-Identifier: GPL-2.0

//! bpfld: an in-kernel BPF ELF loader for Linux 6.12.
//!
//! User space opens `/dev/bpfld` and issues the ioctls of `include/uapi/linux/bpfld.h`
//! (mirrored in [`uapi`]): `BPFLD_IOC_LOAD` takes the fd of a BPF object on fs-verity,
//! checks its digest against the trust [`policy`], and loads it ([`loader`]);
//! `BPFLD_IOC_TRUST_*` manage the policy. All parsing and relocation happens in
//! `bpfld_core`, which has no `unsafe` and is tested on the host; this crate is the thin,
//! explicit kernel side.
//!
//! ```c
//! struct bpfld_prog_info progs[8];
//! struct bpfld_map_info maps[8];
//! struct bpfld_load req = {
//!     .size = sizeof(req), .obj_fd = open("/data/prog.bpf.o", O_RDONLY),
//!     .prog_info_size = sizeof(progs[0]), .progs = (__u64)progs, .progs_cnt = 8,
//!     .map_info_size = sizeof(maps[0]), .maps = (__u64)maps, .maps_cnt = 8,
//! };
//! int dev = open("/dev/bpfld", O_RDWR | O_CLOEXEC);
//! if (ioctl(dev, BPFLD_IOC_LOAD, &req) < 0)
//!     errx(1, "%s", req.err_msg);
//! ```

#![deny(
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::unreachable
)]

use core::ffi::{c_int, c_long, c_uint, c_ulong};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};
use kernel::uaccess::UserSlice;

mod ffi;
mod kalloc;
mod loader;
mod msg;
mod policy;
mod uapi;
mod vmlinux;

module! {
    type: Bpfld,
    name: "bpfld",
    author: "bpfld developers",
    description: "In-kernel BPF ELF loader with fs-verity trust policy",
    license: "GPL",
}

/// State shared by all ioctls.
#[pin_data]
pub(crate) struct State {
    #[pin]
    policy: Mutex<policy::Policy>,
    #[pin]
    vmlinux: Mutex<Option<Arc<vmlinux::Vmlinux>>>,
}

/// The state, published for the ioctl entry point. Set before the device exists, cleared
/// after it is gone.
static STATE: AtomicPtr<State> = AtomicPtr::new(core::ptr::null_mut());

struct Bpfld;

impl kernel::Module for Bpfld {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let state = KBox::pin_init(
            pin_init!(State {
                policy <- new_mutex!(policy::Policy::new()),
                vmlinux <- new_mutex!(None),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the state is never moved out of its box: we only hand out shared
        // references through STATE and rebuild the box in `drop`.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
        STATE.store(raw, Ordering::Release);
        // SAFETY: called once at module init; the C side registers a static miscdevice
        // whose fops point at `bpfld_rust_ioctl` below, valid until `Drop`.
        let ret = unsafe { ffi::bpfld_misc_register() };
        if ret < 0 {
            pr_err!("misc_register failed: {}\n", ret);
            drop_state();
            return Err(Error::from_errno(ret));
        }
        // SAFETY: reads a bool module parameter.
        if unsafe { ffi::bpfld_dev_mode() } {
            pr_warn!("DEVELOPMENT MODE (dev_mode=1): every fs-verity file is trusted\n");
        }
        pr_info!(
            "/dev/bpfld registered (uapi {}, core {})\n",
            uapi::BPFLD_UAPI_VERSION,
            bpfld_core::VERSION
        );
        Ok(Bpfld)
    }
}

fn drop_state() {
    let raw = STATE.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !raw.is_null() {
        // SAFETY: `raw` came from `KBox::into_raw` in `init` and no ioctl can run any
        // more (the device is gone, or was never registered).
        drop(unsafe { KBox::from_raw(raw) });
    }
}

impl Drop for Bpfld {
    fn drop(&mut self) {
        // SAFETY: registered in `init`. The module cannot be unloaded while a file on
        // /dev/bpfld is open (fops.owner), so no ioctl is running.
        unsafe { ffi::bpfld_misc_deregister() };
        // SAFETY: as above, no load is running; the pool's threads are stopped and
        // waited for before the module's text goes.
        unsafe { ffi::bpfld_pool_stop() };
        drop_state();
        pr_info!("unloaded\n");
    }
}

/// ioctl entry point, called by helpers.c's `bpfld_ioctl` (the `file_operations`'
/// `unlocked_ioctl`: a direct call, see there for kCFI).
///
/// Never unwinds (the kernel builds with `panic=abort`); every error becomes a negative
/// errno.
#[no_mangle]
pub extern "C" fn bpfld_rust_ioctl(
    _file: *mut core::ffi::c_void,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    let raw = STATE.load(Ordering::Acquire);
    if raw.is_null() {
        return c_long::from(ENODEV.to_errno());
    }
    // SAFETY: the state lives until after the device is deregistered, and an ioctl
    // holds the module (and so the state) alive.
    let state = unsafe { &*raw };
    let arg = arg as usize;
    let res = match cmd {
        uapi::BPFLD_IOC_VERSION => version(arg),
        uapi::BPFLD_IOC_LOAD => loader::load(state, arg),
        uapi::BPFLD_IOC_TRUST_ADD => trust_change(state, arg, true),
        uapi::BPFLD_IOC_TRUST_REVOKE => trust_change(state, arg, false),
        uapi::BPFLD_IOC_TRUST_LIST => trust_list(state, arg),
        uapi::BPFLD_IOC_TRUST_SEAL => trust_seal(state),
        _ => Err(ENOTTY),
    };
    match res {
        Ok(v) => c_long::from(v),
        Err(e) => c_long::from(e.to_errno()),
    }
}

fn version(arg: usize) -> Result<c_int> {
    let v = uapi::BpfldVersion {
        uapi_version: uapi::BPFLD_UAPI_VERSION,
        flags: 0,
        core_version: msg::name_into(bpfld_core::VERSION),
    };
    UserSlice::new(arg, core::mem::size_of_val(&v))
        .writer()
        .write(&v)?;
    Ok(0)
}

fn require_admin() -> Result {
    // SAFETY: `capable()` checks the calling task.
    if unsafe { ffi::bpfld_capable_sys_admin() } {
        Ok(())
    } else {
        Err(EPERM)
    }
}

fn trust_change(state: &State, arg: usize, enroll: bool) -> Result<c_int> {
    require_admin()?;
    let d: uapi::BpfldDigest = UserSlice::new(arg, core::mem::size_of::<uapi::BpfldDigest>())
        .reader()
        .read()?;
    let res = {
        let mut p = state.policy.lock();
        if enroll {
            p.enroll(&d)
        } else {
            p.revoke(&d)
        }
    };
    let h = msg::hex::<129>(d.digest.get(..d.size as usize).unwrap_or(&d.digest));
    match res {
        Ok(()) => pr_info!(
            "policy: {} digest {}\n",
            if enroll { "enrolled" } else { "revoked" },
            h.as_str()
        ),
        Err(e) => pr_warn!(
            "policy: {} digest {} refused (errno {})\n",
            if enroll { "enrolling" } else { "revoking" },
            h.as_str(),
            e.to_errno()
        ),
    }
    res.map(|()| 0)
}

fn trust_list(state: &State, arg: usize) -> Result<c_int> {
    let size = core::mem::size_of::<uapi::BpfldTrustList>();
    let mut req: uapi::BpfldTrustList = UserSlice::new(arg, size).reader().read()?;
    // `flags` is written, not read: a caller may send back what an ENOSPC answer wrote.
    if req.size as usize != size
        || req.entry_size as usize != core::mem::size_of::<uapi::BpfldTrustEntry>()
        || req.reserved.iter().any(|&r| r != 0)
    {
        return Err(EINVAL);
    }
    // Snapshot under the lock, copy to user space after dropping it.
    // kvmalloc-backed: up to 4,096 entries of 80 bytes would be an order-7 kmalloc.
    let mut entries = KVVec::new();
    let sealed;
    {
        let p = state.policy.lock();
        sealed = p.sealed();
        for (d, st) in p.entries() {
            entries.push(
                uapi::BpfldTrustEntry {
                    digest: d,
                    state: st,
                    reserved: 0,
                },
                GFP_KERNEL,
            )?;
        }
    }
    let room = req.count as usize;
    let mut w = UserSlice::new(
        req.entries as usize,
        room.min(entries.len())
            .saturating_mul(req.entry_size as usize),
    )
    .writer();
    for e in entries.iter().take(room) {
        w.write(e)?;
    }
    req.count = entries.len() as u32;
    // SAFETY: reads a bool module parameter.
    let dev = unsafe { ffi::bpfld_dev_mode() };
    req.flags = if sealed { uapi::BPFLD_POLICY_SEALED } else { 0 }
        | if dev {
            uapi::BPFLD_POLICY_PERMISSIVE
        } else {
            0
        };
    UserSlice::new(arg, size).writer().write(&req)?;
    if room < entries.len() {
        return Err(ENOSPC);
    }
    Ok(0)
}

fn trust_seal(state: &State) -> Result<c_int> {
    require_admin()?;
    if state.policy.lock().seal() {
        // SAFETY: takes a module reference that is never released.
        unsafe { ffi::bpfld_pin_module() };
        pr_info!("policy sealed until reboot\n");
    }
    Ok(0)
}

// SPDX-License-Identifier: GPL-2.0-only

//! `/dev/bpfld` ioctls.

use crate::uapi;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

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

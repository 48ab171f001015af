// SPDX-License-Identifier: GPL-2.0-only

//! fs-verity from user space (linux/fsverity.h): turning it on for a file and reading
//! a file's digest, for the tools that put objects on fs-verity themselves (the
//! fuzzer, the parity harness) and for `bpfld load-dir`'s receipts.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// `FS_IOC_ENABLE_VERITY`, `_IOW('f', 133, struct fsverity_enable_arg)`.
const FS_IOC_ENABLE_VERITY: libc::c_ulong = 0x4080_6685;

/// `FS_IOC_MEASURE_VERITY`, `_IOWR('f', 134, struct fsverity_digest)`, whose declared
/// size is 4 bytes (the digest follows the header).
const FS_IOC_MEASURE_VERITY: libc::c_ulong = 0xc004_6686;

/// `FS_VERITY_HASH_ALG_SHA256`, `FS_VERITY_HASH_ALG_SHA512`.
const HASH_SHA256: u32 = 1;
const HASH_SHA512: u32 = 2;

/// `struct fsverity_enable_arg`.
#[repr(C)]
struct EnableArg {
    version: u32,
    hash_algorithm: u32,
    block_size: u32,
    salt_size: u32,
    salt_ptr: u64,
    sig_size: u32,
    reserved1: u32,
    sig_ptr: u64,
    reserved2: [u64; 11],
}

/// Turn fs-verity on for `file` (open read-only, with no writer anywhere): SHA-512 if
/// `sha512`, else SHA-256, 4 KiB Merkle tree blocks, `salt` (empty for none), no
/// signature. A file that has it already fails with `EEXIST`.
pub fn enable(file: &File, sha512: bool, salt: &[u8]) -> io::Result<()> {
    let arg = EnableArg {
        version: 1,
        hash_algorithm: if sha512 { HASH_SHA512 } else { HASH_SHA256 },
        block_size: 4096,
        salt_size: u32::try_from(salt.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        salt_ptr: salt.as_ptr() as u64,
        sig_size: 0,
        reserved1: 0,
        sig_ptr: 0,
        reserved2: [0; 11],
    };
    // SAFETY: FS_IOC_ENABLE_VERITY reads a struct fsverity_enable_arg, which `arg` is,
    // and salt_size bytes at salt_ptr (`salt`, alive for the call); no signature.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_ENABLE_VERITY, &arg) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The fs-verity digest of an open file (`FS_IOC_MEASURE_VERITY`), as `sha256:HEX` or
/// `sha512:HEX`; `None` if the file has no fs-verity or another hash.
pub fn measure(file: &File) -> Option<String> {
    #[repr(C)]
    struct Digest {
        algo: u16,
        size: u16,
        bytes: [u8; 64],
    }
    let mut d = Digest {
        algo: 0,
        size: 64,
        bytes: [0; 64],
    };
    // SAFETY: the kernel writes at most `size` (64) digest bytes after the header.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_MEASURE_VERITY, &mut d) };
    let n = usize::from(d.size);
    if r != 0 || n > d.bytes.len() {
        return None;
    }
    let algo = match u32::from(d.algo) {
        HASH_SHA256 => crate::uapi::BPFLD_HASH_SHA256,
        HASH_SHA512 => crate::uapi::BPFLD_HASH_SHA512,
        _ => return None,
    };
    Some(crate::dev::format_digest(algo, &d.bytes[..n]))
}

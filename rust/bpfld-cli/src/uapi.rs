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

// SPDX-License-Identifier: GPL-2.0

//! The running kernel's BTF, read once from `/sys/kernel/btf/vmlinux` and indexed by the
//! core, then shared by every load (it never changes while the kernel runs).

use crate::ffi;
use crate::kalloc::KAlloc;
use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{kernel_index_in, IndexEntry, KernelIndex, Target};
use bpfld_core::mem::Alloc;
use bpfld_core::plan::{KernelBtf, KernelType};
use kernel::alloc::KVVec;
use kernel::prelude::*;

/// vmlinux BTF with its type index and its CO-RE candidate index.
pub(crate) struct Vmlinux {
    btf: Btf<KVVec<u8>, KVVec<u32>>,
    index: KernelIndex<KVVec<IndexEntry>>,
    /// Memory held (blob and index), for the log and the benchmark.
    pub(crate) bytes: usize,
}

impl Vmlinux {
    pub(crate) fn load() -> Result<Self> {
        let path = c"/sys/kernel/btf/vmlinux";
        // SAFETY: `path` is a NUL-terminated string.
        let f = unsafe { ffi::bpfld_open_path(path.as_ptr()) };
        if f.is_null() {
            pr_err!("cannot open /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF?)\n");
            return Err(ENOENT);
        }
        let res = read_all(f);
        // SAFETY: `f` is the counted reference from `bpfld_open_path`, dropped once.
        unsafe { ffi::bpfld_fput(f) };
        let blob = res?;
        let mut alloc = KAlloc::default();
        let n = btf::count_types(&blob).map_err(|e| {
            pr_err!("vmlinux BTF: {}\n", e);
            EINVAL
        })?;
        let offsets = alloc.alloc::<u32>(n + 1).map_err(|_| ENOMEM)?;
        let blob_len = blob.len();
        let btf = Btf::parse(blob, offsets).map_err(|e| {
            pr_err!("vmlinux BTF: {}\n", e);
            EINVAL
        })?;
        let index = kernel_index_in(&btf, 1..btf.type_count(), &mut alloc).map_err(|e| {
            pr_err!("vmlinux BTF index: {}\n", e);
            ENOMEM
        })?;
        let bytes = blob_len + (n + 1) * 4 + index.bytes();
        Ok(Vmlinux { btf, index, bytes })
    }
}

/// Read a whole (sysfs) file; its size is known from the inode.
fn read_all(f: *mut crate::ffi::File) -> Result<KVVec<u8>> {
    // SAFETY: `f` is a valid file reference held by the caller.
    let size = unsafe { ffi::bpfld_file_size(f) };
    let size = usize::try_from(size).map_err(|_| EINVAL)?;
    if size > bpfld_core::limits::MAX_KERNEL_BTF_SIZE {
        return Err(EFBIG);
    }
    let mut buf = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
    let mut pos: i64 = 0;
    let mut done = 0;
    while done < size {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is writable for `rest.len()` bytes; `f` is valid.
        let n = unsafe { ffi::bpfld_read(f, rest.as_mut_ptr().cast(), rest.len(), &mut pos) };
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        if n == 0 {
            return Err(EIO);
        }
        done += n as usize;
    }
    Ok(buf)
}

impl KernelBtf for Vmlinux {
    fn find(&self, module: Option<&str>, name: &str, kind: BtfKind) -> Option<KernelType> {
        // Module BTF needs a BTF object fd in BPF_PROG_LOAD, which kern_sys_bpf cannot
        // obtain (no BPF_BTF_GET_FD_BY_ID): vmlinux only.
        if module.is_some_and(|m| !"vmlinux".starts_with(m)) {
            return None;
        }
        let id = self.btf.find_by_name_kind(name, kind).ok()??;
        Some(KernelType {
            btf_obj_id: 0,
            type_id: id,
        })
    }

    fn vmlinux(&self) -> Option<&dyn Types> {
        Some(&self.btf)
    }

    fn core_target(&self) -> Option<Target<'_>> {
        Target::new(&self.btf, &self.index).ok()
    }
}

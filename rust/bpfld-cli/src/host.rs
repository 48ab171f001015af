// SPDX-License-Identifier: GPL-2.0-only

//! Facts about the host kernel for planning in user space: vmlinux BTF for attach
//! targets, page size, possible CPUs.

use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{kernel_index_in, IndexEntry, KernelIndex, Target};
use bpfld_core::mem::VecAlloc;
use bpfld_core::plan::{KernelBtf, KernelInfo, KernelType};

/// The running kernel's vmlinux BTF (from `/sys/kernel/btf/vmlinux`) and its CO-RE
/// candidate index.
pub struct HostBtf {
    btf: Btf<Vec<u8>, Vec<u32>>,
    index: KernelIndex<Vec<IndexEntry>>,
}

impl HostBtf {
    /// Read and index the running kernel's BTF.
    pub fn load() -> Result<HostBtf, String> {
        Self::from_file("/sys/kernel/btf/vmlinux")
    }

    /// Read and index a raw BTF file.
    pub fn from_file(path: &str) -> Result<HostBtf, String> {
        let blob = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let n = btf::count_types(&blob).map_err(|e| format!("{path}: {e}"))?;
        let btf = Btf::parse(blob, vec![0u32; n + 1]).map_err(|e| format!("{path}: {e}"))?;
        let index = kernel_index_in(&btf, 1..btf.type_count(), &mut VecAlloc::default())
            .map_err(|e| format!("{path}: index: {e}"))?;
        Ok(HostBtf { btf, index })
    }

    /// The parsed BTF.
    pub fn btf(&self) -> &Btf<Vec<u8>, Vec<u32>> {
        &self.btf
    }
}

impl KernelBtf for HostBtf {
    fn find(&self, module: Option<&str>, name: &str, kind: BtfKind) -> Option<KernelType> {
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

/// Page size and possible CPUs of this machine.
pub fn kernel_info() -> KernelInfo {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    KernelInfo {
        page_size: u32::try_from(page).unwrap_or(4096),
        possible_cpus: possible_cpus().unwrap_or(1),
        kernel_version: kernel_version().unwrap_or(0),
    }
}

/// `KERNEL_VERSION(major, minor, patch)` of the running kernel from `uname -r`, patch
/// capped at 255 like `LINUX_VERSION_CODE` (libbpf's `get_kernel_version`).
pub fn kernel_version() -> Option<u32> {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut it = rel.trim().split(|c: char| !c.is_ascii_digit());
    let major: u32 = it.next()?.parse().ok()?;
    let minor: u32 = it.next()?.parse().ok()?;
    let patch: u32 = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major << 16) | (minor << 8) | patch.min(255))
}

/// Count of `/sys/devices/system/cpu/possible` (e.g. `0-3,5`).
fn possible_cpus() -> Option<u32> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok()?;
    let mut n = 0u32;
    for part in s.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<u32>().ok()? - a.parse::<u32>().ok()? + 1,
            None => {
                part.parse::<u32>().ok()?;
                1
            }
        };
    }
    Some(n)
}

// SPDX-License-Identifier: GPL-2.0

//! The running kernel's BTF, read once from `/sys/kernel/btf/vmlinux` and indexed by the
//! core, then shared by every load (it never changes while the kernel runs); and the
//! other kernel facts externs need.
//!
//! Extern value sources in the kernel, and their limits (user space reads
//! `/proc/config.gz` and `/proc/kallsyms` instead):
//! - `CONFIG_*` externs: [`BuiltConfig`], the `.config` of the kernel tree the module
//!   was built against, embedded at build time by `scripts/kconfig-values` into
//!   `build/kconfig_values.rs`. vermagic ties the module to that kernel release; the
//!   values are the running kernel's as long as the module is built from the tree of
//!   the kernel it runs on (as a distribution or Android kernel build does).
//! - typeless `__ksym` variables (resolved by address): [`ExportedSymbols`], through
//!   `__symbol_get()`, which finds only symbols exported with `EXPORT_SYMBOL_GPL` (and
//!   logs a warning for one exported without `_GPL`).
//!   `kallsyms_lookup_name()` and `kallsyms_on_each_symbol()` are not exported to
//!   modules in 6.12, so any other name is refused (even a weak one, since a missing
//!   symbol cannot be told from an unexported one). Typed ksyms and kfuncs need no
//!   address: they resolve through vmlinux BTF.
//! - module BTF: not searched ([`KernelBtf::in_module`] keeps its default), since a
//!   program using module BTF needs the module BTF's fd, which `kern_sys_bpf` cannot
//!   obtain (no `BPF_BTF_GET_FD_BY_ID`); a ksym or kfunc only a module defines counts as
//!   missing (an error unless weak).

use crate::ffi;
use crate::kalloc::KAlloc;
use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{
    find_in_kernel, func_index_in, kernel_index_in, IndexEntry, KernelIndex, Target,
};
use bpfld_core::externs::{KernelConfig, KernelSymbols, SymbolAddress};
use bpfld_core::mem::Alloc;
use bpfld_core::plan::{KernelBtf, KernelType};
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KVVec;
use kernel::prelude::*;

#[path = "../../build/kconfig_values.rs"]
mod kconfig_values;

type FuncIndex = KernelIndex<KVVec<IndexEntry>>;

/// vmlinux BTF with its type index and its CO-RE candidate index.
pub(crate) struct Vmlinux {
    btf: Btf<KVVec<u8>, KVVec<u32>>,
    index: KernelIndex<KVVec<IndexEntry>>,
    /// The FUNC index (kfuncs, attach targets): null until the first FUNC lookup builds
    /// it, then a `KBox` leaked into the pointer, freed by `drop`.
    funcs: AtomicPtr<FuncIndex>,
    /// Memory held (blob and index), for the log and the benchmark.
    pub(crate) bytes: usize,
}

impl Vmlinux {
    /// The FUNC index, built on first use (by whichever load gets there first; a load
    /// that loses the race frees its copy). `None` if it cannot be allocated.
    fn funcs(&self) -> Option<&FuncIndex> {
        let p = self.funcs.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: non-null values come from KBox::into_raw below and are freed only
            // by `drop`, which has `&mut self`.
            return Some(unsafe { &*p });
        }
        let idx =
            func_index_in(&self.btf, 1..self.btf.type_count(), &mut KAlloc::default()).ok()?;
        let (len, bytes) = (idx.len(), idx.bytes());
        let new = KBox::into_raw(KBox::new(idx, GFP_KERNEL).ok()?);
        let p = match self.funcs.compare_exchange(
            core::ptr::null_mut(),
            new,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                pr_info!(
                    "vmlinux FUNC index cached: {} entries, {} bytes\n",
                    len,
                    bytes
                );
                new
            }
            Err(theirs) => {
                // SAFETY: `new` came from KBox::into_raw above and was never shared.
                drop(unsafe { KBox::from_raw(new) });
                theirs
            }
        };
        // SAFETY: as above.
        Some(unsafe { &*p })
    }
}

impl Drop for Vmlinux {
    fn drop(&mut self) {
        let p = *self.funcs.get_mut();
        if !p.is_null() {
            // SAFETY: set once from KBox::into_raw; nothing else can reach it now.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
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
        // The kernel's own BTF: its names were checked at boot (Btf::parse_kernel).
        let btf = Btf::parse_kernel(blob, offsets).map_err(|e| {
            pr_err!("vmlinux BTF: {}\n", e);
            EINVAL
        })?;
        let index = kernel_index_in(&btf, 1..btf.type_count(), &mut alloc).map_err(|e| {
            pr_err!("vmlinux BTF index: {}\n", e);
            ENOMEM
        })?;
        let bytes = blob_len + (n + 1) * 4 + index.bytes();
        Ok(Vmlinux {
            btf,
            index,
            funcs: AtomicPtr::new(core::ptr::null_mut()),
            bytes,
        })
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
        // By index (the same answers as a scan of every type, in a binary search).
        let funcs = if kind == BtfKind::Func {
            self.funcs()
        } else {
            None
        };
        let id = find_in_kernel(&self.btf, &self.index, funcs, name, kind);
        Some(KernelType {
            btf_obj_id: 0,
            type_id: id.ok()??,
        })
    }

    fn vmlinux(&self) -> Option<&dyn Types> {
        Some(&self.btf)
    }

    fn core_target(&self) -> Option<Target<'_>> {
        Target::new(&self.btf, &self.index).ok()
    }
}

/// The configuration of the kernel this module was built against, for `CONFIG_*`
/// externs (see the module documentation).
pub(crate) struct BuiltConfig;

impl KernelConfig for BuiltConfig {
    fn get(&self, name: &str) -> Option<&[u8]> {
        let t = kconfig_values::KCONFIG;
        let i = t.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
        t.get(i).map(|(_, v)| *v)
    }
}

extern "C" {
    /// `__symbol_get()`: the address of an `EXPORT_SYMBOL_GPL` symbol, taking a reference
    /// on its module; NULL if there is no such export (or it is not GPL-only).
    fn __symbol_get(symbol: *const c_char) -> *mut c_void;
    /// `__symbol_put()`: drop the module reference `__symbol_get()` took for `symbol`,
    /// which must have been found (it is a BUG() otherwise).
    fn __symbol_put(symbol: *const c_char);
}

/// Addresses of exported kernel symbols, for typeless ksyms (see the module
/// documentation).
pub(crate) struct ExportedSymbols;

/// Why [`ExportedSymbols`] cannot resolve a name.
const NOT_EXPORTED: &str = "typeless ksym that the kernel does not export with EXPORT_SYMBOL_GPL \
     (bpfld.ko has no kallsyms lookup; declare the ksym with its type to resolve it through BTF)";

impl KernelSymbols for ExportedSymbols {
    fn address(&self, name: &str) -> SymbolAddress {
        let mut buf = [0u8; bpfld_core::limits::MAX_NAME_LEN + 1];
        // BTF names have no NUL and are at most MAX_NAME_LEN bytes; anything else
        // cannot be a kernel symbol.
        if name.len() >= buf.len() || name.as_bytes().contains(&0) {
            return SymbolAddress::Missing;
        }
        buf[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: `buf` is NUL-terminated (zeroed, and `name` is shorter than it and has
        // no NUL); `__symbol_get` only reads it.
        let p = unsafe { __symbol_get(buf.as_ptr().cast()) };
        if p.is_null() {
            return SymbolAddress::Unavailable(NOT_EXPORTED);
        }
        // SAFETY: `__symbol_get` found `buf`'s symbol and took a reference on its module,
        // which therefore cannot go away before this put; only the address is kept, as
        // libbpf keeps only the address it reads from kallsyms.
        unsafe { __symbol_put(buf.as_ptr().cast()) };
        SymbolAddress::At(p as u64)
    }
}

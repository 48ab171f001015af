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
//! - typeless `__ksym` variables (resolved by address): [`LookedUpSymbols`], through
//!   the BPF helper `bpf_kallsyms_lookup_name()`, called by a small
//!   `BPF_PROG_TYPE_SYSCALL` program that the loading thread loads and runs with
//!   `kern_sys_bpf()` (`kallsyms_lookup_name()` itself is not exported to modules in
//!   6.12; helpers.c says more). Every name is looked up before the plan, as the
//!   caller: a caller that may not see kernel addresses gets an error naming the extern.
//!   The helper answers "no such symbol" for one at address 0 too (`__per_cpu_start`
//!   on x86-64 6.12); a name it says is missing is then looked for among the symbols
//!   at address 0 that `/proc/kallsyms`, read as the caller, lists first, where libbpf
//!   finds it.
//!   Typed ksyms and kfuncs need no address: they resolve through vmlinux BTF.
//! - module BTF: [`LoadBtf`], every `/sys/kernel/btf/<module>`, wanted when a CO-RE
//!   relocation's local type has no candidate in vmlinux (as libbpf reads them), or
//!   when a ksym, kfunc, attach target or struct_ops type is not in vmlinux; read again
//!   only when the directory's listing changed (a module came, went or came back). CO-RE
//!   relocations, ksyms, kfuncs and attach targets resolve against it as libbpf's do.
//!   The programs then name the module's BTF object by fd, which `kern_sys_bpf` cannot
//!   open by id (no `BPF_BTF_GET_FD_BY_ID`): the executor gets it from the BPF helper
//!   `bpf_btf_find_by_name_kind()` in a `BPF_PROG_TYPE_SYSCALL` program (the
//!   `module_btf_fd` of `loader.rs`, `bpfld_btf_find` in helpers.c).

use crate::ffi;
use crate::kalloc::KAlloc;
use crate::msg::neg_errno;
use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{
    find_in_kernel, func_index_in, kernel_index_in, module_index_in, module_read_error, IndexEntry,
    KernelIndex, ModuleBtf as CoreModuleBtf, ModuleTargets, Target,
};
use bpfld_core::error::Kind;
use bpfld_core::externs::{self, KernelConfig, KernelSymbols, SymbolAddress, ZeroListing};
use bpfld_core::mem::Alloc;
use bpfld_core::object::Object;
use bpfld_core::plan::{KernelBtf, KernelType, MODULE_NAME_LEN};
use core::cell::{Cell, OnceCell};
use core::ffi::c_char;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

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
    /// The kernel modules' BTFs last read, with the listing they were read for
    /// ([`LoadBtf`]) and the module event count read before that listing: a later load
    /// that reads the same count takes them without listing; one that lists the same
    /// modules under the same kernfs inodes takes them as they are.
    modules: Arc<Mutex<Option<KeptModules>>>,
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
        let idx = func_index_in(&self.btf, 1..self.btf.type_count(), &mut KAlloc::shared()).ok()?;
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
        let mut err = 0;
        // SAFETY: `path` is a NUL-terminated string; `err` is written only.
        let f = unsafe { ffi::bpfld_open_path(path.as_ptr(), &mut err) };
        if f.is_null() {
            pr_err!(
                "cannot open /sys/kernel/btf/vmlinux (errno {}; CONFIG_DEBUG_INFO_BTF?)\n",
                err.saturating_neg()
            );
            return Err(ENOENT);
        }
        let res = read_all(f);
        // SAFETY: `f` is the counted reference from `bpfld_open_path`, dropped once.
        unsafe { ffi::bpfld_fput(f) };
        let blob = res?;
        let mut alloc = KAlloc::shared();
        let n = btf::count_types(&blob).map_err(|e| {
            pr_err!("vmlinux BTF: {}\n", e);
            EINVAL
        })?;
        let slots = n.checked_add(1).ok_or(ENOMEM)?;
        let offsets = alloc.alloc::<u32>(slots).map_err(|_| ENOMEM)?;
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
        let bytes = blob_len
            .saturating_add(slots.saturating_mul(4))
            .saturating_add(index.bytes());
        let modules = Arc::pin_init(kernel::new_mutex!(None, "bpfld_module_btfs"), GFP_KERNEL)?;
        Ok(Vmlinux {
            btf,
            index,
            funcs: AtomicPtr::new(core::ptr::null_mut()),
            bytes,
            modules,
        })
    }
}

/// Read a whole (sysfs) file; its size is known from the inode.
fn read_all(f: *mut crate::ffi::file) -> Result<KVVec<u8>> {
    // SAFETY: `f` is a valid file reference held by the caller.
    let size = unsafe { ffi::bpfld_file_size(f) };
    let size = usize::try_from(size).map_err(|_| EINVAL)?;
    if size > bpfld_core::limits::MAX_KERNEL_BTF_SIZE {
        return Err(EFBIG);
    }
    let mut buf = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
    let mut pos: i64 = 0;
    let mut done = 0usize;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        // SAFETY: `rest` is writable for `rest.len()` bytes; `f` is valid.
        let n = unsafe { ffi::bpfld_read(f, rest.as_mut_ptr().cast(), rest.len(), &mut pos) };
        if n < 0 {
            return Err(Error::from_errno(neg_errno(n as i64).saturating_neg()));
        }
        if n == 0 {
            return Err(EIO);
        }
        done = done.saturating_add(n as usize);
    }
    Ok(buf)
}

impl KernelBtf for Vmlinux {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        // By index (the same answers as a scan of every type, in a binary search).
        let funcs = if kind == BtfKind::Func {
            self.funcs()
        } else {
            None
        };
        let id = find_in_kernel(&self.btf, &self.index, funcs, name, kind);
        Some(KernelType {
            module: 0,
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

/// One kernel module's BTF, split on vmlinux, with its CO-RE candidate index.
struct ModuleBtf {
    /// The module's name (`/sys/kernel/btf/<name>`), NUL-padded.
    name: [u8; MODULE_NAME_LEN],
    btf: Btf<KVVec<u8>, KVVec<u32>>,
    index: KernelIndex<KVVec<IndexEntry>>,
    /// Memory held: the blob, its type offsets and the index.
    bytes: usize,
}

/// The directory of the kernel's BTF objects.
const BTF_DIR: &core::ffi::CStr = c"/sys/kernel/btf";
/// Room for the directory's names at most (1,000 modules of 56-byte names take 57 KB).
const MAX_NAMES_BYTES: usize = 1 << 20;

/// Positive errnos of the module BTF reads.
mod errno {
    pub(super) const ENOENT: i32 = 2;
    pub(super) const E2BIG: i32 = 7;
    pub(super) const ENOMEM: i32 = 12;
    pub(super) const ENODEV: i32 = 19;
    pub(super) const ENOSPC: i32 = 28;
    pub(super) const EBADMSG: i32 = 74;
}

/// The module event count read before a listing, and the set read for that listing.
type KeptModules = (u64, Arc<ModuleSet>);

/// Every module's BTF as one listing of `/sys/kernel/btf` found them.
pub(crate) struct ModuleSet {
    /// The listing: per module entry, its kernfs inode number (a new one each time a
    /// module is loaded: its BTF file is a new kernfs node) and its name, in inode
    /// order, which is the order the files were made in (kernfs numbers its nodes
    /// cyclically, with a generation in the upper 32 bits), so the order the modules'
    /// BTF objects got their ids in: libbpf's and the kernel's search order.
    listing: KVVec<(u64, [u8; MODULE_NAME_LEN])>,
    /// The modules read (those gone meanwhile left out).
    modules: KVVec<ModuleBtf>,
}

/// vmlinux and, for one load, the kernel modules' BTFs: every
/// `/sys/kernel/btf/<module>`, wanted the first time a CO-RE relocation's local type
/// has no candidate in vmlinux, or a kfunc, ksym, attach target or struct_ops type is
/// not there (libbpf's `load_module_btfs` runs then too). If no module was loaded or
/// unloaded since the BTFs were last read (`bpfld_modules_generation`), they are taken
/// from [`Vmlinux`]'s cache as they are; else the directory is listed, and they are
/// read again only if the listing changed (a module loaded, unloaded or loaded again).
/// The load holds them until it ends.
pub(crate) struct LoadBtf<'v> {
    vmlinux: &'v Vmlinux,
    modules: OnceCell<core::result::Result<Arc<ModuleSet>, i32>>,
    /// Bytes the modules' BTFs and indexes hold, if this load read them.
    pub(crate) module_bytes: Cell<usize>,
}

impl<'v> LoadBtf<'v> {
    pub(crate) fn new(vmlinux: &'v Vmlinux) -> Self {
        LoadBtf {
            vmlinux,
            modules: OnceCell::new(),
            module_bytes: Cell::new(0),
        }
    }

    /// Every module's BTF, listed and read as the kernel (see `bpfld_as_kernel_begin`).
    /// A module that went away after the listing (ENOENT on open, ENODEV on read) is
    /// skipped; any other failure fails, as libbpf fails the load when a module's BTF
    /// cannot be loaded (`load_module_btfs`).
    #[inline(never)]
    fn read_modules(&self) -> core::result::Result<Arc<ModuleSet>, i32> {
        // SAFETY: no precondition.
        let generation = unsafe { ffi::bpfld_modules_generation() };
        if generation != 0 {
            if let Some((seen, set)) = self.vmlinux.modules.lock().as_ref() {
                if *seen == generation {
                    return Ok(set.clone());
                }
            }
        }
        // SAFETY: no precondition; undone below.
        let old = unsafe { ffi::bpfld_as_kernel_begin() };
        if old.is_null() {
            return Err(errno::ENOMEM);
        }
        let res = self.listed_and_read(generation);
        // SAFETY: `old` is what bpfld_as_kernel_begin returned, restored once.
        unsafe { ffi::bpfld_as_kernel_end(old) };
        res
    }

    /// The cached set if the listing matches it, else every module read anew (and
    /// cached, replacing the old set, which loads holding it keep until they end).
    /// Either way it is kept with `generation`, the module event count read before
    /// the listing: a load that stored an older count than another merely lists again.
    fn listed_and_read(&self, generation: u64) -> core::result::Result<Arc<ModuleSet>, i32> {
        let (names, used) = list_dir(BTF_DIR)?;
        let mut listing = KVVec::new();
        for (ino, name) in entries(names.get(..used).unwrap_or_default()) {
            // A module's name is shorter than MODULE_NAME_LEN.
            if name == b"vmlinux" || name.len() >= MODULE_NAME_LEN {
                continue;
            }
            let mut n = [0u8; MODULE_NAME_LEN];
            bpfld_core::util::copy(&mut n, name);
            listing
                .push((ino, n), GFP_KERNEL)
                .map_err(|_| errno::ENOMEM)?;
        }
        // The core's sort: core::slice's has panicking paths (objtool).
        bpfld_core::util::sort_by(&mut listing, |a, b| a.0.cmp(&b.0));
        {
            let mut kept = self.vmlinux.modules.lock();
            if let Some((seen, set)) = kept.as_mut() {
                if set.listing.as_slice() == listing.as_slice() {
                    *seen = generation;
                    return Ok(set.clone());
                }
            }
        }
        let modules = self.read_each(&listing)?;
        let set =
            Arc::new(ModuleSet { listing, modules }, GFP_KERNEL).map_err(|_| errno::ENOMEM)?;
        *self.vmlinux.modules.lock() = Some((generation, set.clone()));
        Ok(set)
    }

    fn read_each(
        &self,
        listing: &[(u64, [u8; MODULE_NAME_LEN])],
    ) -> core::result::Result<KVVec<ModuleBtf>, i32> {
        let mut out = KVVec::new();
        let mut bytes = 0usize;
        for &(_, padded) in listing {
            let name = padded.split(|&b| b == 0).next().unwrap_or_default();
            // "/sys/kernel/btf/" and a module name (at most 55 bytes) and a NUL.
            let mut path = [0u8; 128];
            let mut len = 0usize;
            let parts: [&[u8]; 3] = [BTF_DIR.to_bytes(), b"/", name];
            for &b in parts.iter().flat_map(|p| p.iter()) {
                if let Some(p) = path.get_mut(len) {
                    *p = b;
                }
                len = len.saturating_add(1);
            }
            if len >= path.len() {
                continue;
            }
            let mut err = 0;
            // SAFETY: `path` is NUL-terminated; `err` is written only.
            let f = unsafe { ffi::bpfld_open_path(path.as_ptr().cast::<c_char>(), &mut err) };
            let opened = !f.is_null();
            let m = if !opened {
                Err(err.saturating_neg())
            } else {
                let res = read_all(f);
                // SAFETY: `f` is the counted reference from `bpfld_open_path`, dropped
                // once.
                unsafe { ffi::bpfld_fput(f) };
                res.map_err(|e| e.to_errno().saturating_neg())
                    .and_then(|blob| self.module_btf(padded, blob))
            };
            match m {
                Ok(m) => {
                    bytes = bytes.saturating_add(m.bytes);
                    out.push(m, GFP_KERNEL).map_err(|_| errno::ENOMEM)?;
                }
                Err(errno::ENOENT) if !opened => {}
                Err(errno::ENODEV) if opened => {}
                Err(errno) => {
                    pr_warn!(
                        "module BTF {}: cannot be read (errno {})\n",
                        crate::msg::EscapedBytes(name),
                        errno
                    );
                    return Err(errno);
                }
            }
        }
        self.module_bytes.set(bytes);
        Ok(out)
    }

    /// Parse and index one module's BTF (checked by the kernel when the module loaded).
    fn module_btf(
        &self,
        name: [u8; MODULE_NAME_LEN],
        blob: KVVec<u8>,
    ) -> core::result::Result<ModuleBtf, i32> {
        let base = &self.vmlinux.btf;
        let mut alloc = KAlloc::shared();
        let n = btf::count_types(&blob).map_err(|_| errno::EBADMSG)?;
        let offsets = alloc
            .alloc::<u32>(n.saturating_add(1))
            .map_err(|_| errno::ENOMEM)?;
        let btf = Btf::parse_split_kernel(blob, offsets, base).map_err(|_| errno::EBADMSG)?;
        let index = module_index_in(base, &btf, &mut alloc).map_err(|e| match e.kind() {
            Kind::NoMemory => errno::ENOMEM,
            _ => errno::EBADMSG,
        })?;
        let bytes = btf.data().len().saturating_add(alloc.bytes);
        Ok(ModuleBtf {
            name,
            btf,
            index,
            bytes,
        })
    }

    fn modules(&self) -> core::result::Result<&[ModuleBtf], i32> {
        match self.modules.get_or_init(|| self.read_modules()) {
            Ok(v) => Ok(&v.modules),
            Err(e) => Err(*e),
        }
    }
}

impl KernelBtf for LoadBtf<'_> {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        self.vmlinux.find(name, kind)
    }

    fn vmlinux(&self) -> Option<&dyn Types> {
        self.vmlinux.vmlinux()
    }

    fn core_target(&self) -> Option<Target<'_>> {
        self.vmlinux.core_target()
    }

    fn core_modules(&self) -> Option<&dyn ModuleTargets> {
        Some(self)
    }
}

impl ModuleTargets for LoadBtf<'_> {
    fn count(&self) -> bpfld_core::Result<'static, usize> {
        self.modules().map(|m| m.len()).map_err(module_read_error)
    }

    fn module(&self, i: usize) -> bpfld_core::Result<'static, CoreModuleBtf<'_>> {
        let m = self
            .modules()
            .map_err(module_read_error)?
            .get(i)
            .ok_or(bpfld_core::Error::malformed("module BTF index"))?;
        CoreModuleBtf::new(&self.vmlinux.btf, &m.btf, &m.index)
    }

    fn name(&self, i: usize) -> bpfld_core::Result<'static, &str> {
        let m = self
            .modules()
            .map_err(module_read_error)?
            .get(i)
            .ok_or(bpfld_core::Error::malformed("module BTF index"))?;
        crate::msg::c_text(&m.name).ok_or(bpfld_core::Error::malformed("module name is not UTF-8"))
    }
}

/// The entries of a [`list_dir`] buffer: (inode number, name).
fn entries(mut buf: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    core::iter::from_fn(move || {
        let (ino, rest) = buf.split_first_chunk::<8>()?;
        let end = rest.iter().position(|&b| b == 0)?;
        let (name, rest) = rest.split_at(end);
        buf = rest.get(1..).unwrap_or_default();
        Some((u64::from_ne_bytes(*ino), name))
    })
}

/// The entries of directory `dir`, each its inode number (8 bytes, native order), its
/// name and a NUL, and the bytes they take.
fn list_dir(dir: &core::ffi::CStr) -> core::result::Result<(KVVec<u8>, usize), i32> {
    let mut len = 16 << 10;
    loop {
        let mut buf = KVVec::from_elem(0u8, len, GFP_KERNEL).map_err(|_| errno::ENOMEM)?;
        // SAFETY: `dir` is NUL-terminated; `buf` is writable for `len` bytes.
        let n = unsafe { ffi::bpfld_list_dir(dir.as_ptr(), buf.as_mut_ptr().cast(), len) };
        if n >= 0 {
            return Ok((buf, usize::try_from(n).unwrap_or(0)));
        }
        let e = neg_errno(n as i64);
        if e != errno::ENOSPC {
            return Err(e);
        }
        if len >= MAX_NAMES_BYTES {
            return Err(errno::E2BIG);
        }
        len = len.saturating_mul(2);
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

/// Kernel symbol addresses for one load's typeless ksyms, looked up before the plan
/// (see the module documentation): the plan asks for the names
/// [`externs::symbol_names`] lists, and only those.
pub(crate) struct LookedUpSymbols<'a> {
    found: KVVec<(&'a str, SymbolAddress)>,
}

/// Why a name was not looked up or could not be.
const HIDDEN: &str = "kernel symbol addresses are hidden from the caller (kptr_restrict; \
     CAP_SYSLOG), as /proc/kallsyms shows them as 0";
const TOO_LONG: &str = "a name longer than bpfld's kallsyms lookup takes (503 bytes)";
const FAILED: &str = "the kallsyms lookup failed";
/// Errnos of `bpfld_ksym_lookup`.
const LOOKUP_EPERM: i32 = 1;
const LOOKUP_ENOENT: i32 = 2;
const LOOKUP_ENAMETOOLONG: i32 = 36;
const NOT_ASKED: &str = "not looked up before the plan";

impl<'a> LookedUpSymbols<'a> {
    /// Look up every name the plan of `obj` will ask for: none (and no BPF program) if
    /// it has no typeless ksyms. Runs in the loading thread, as the caller.
    pub(crate) fn look_up<A: Alloc>(obj: &Object<'a, A>) -> Result<Self, LookupFailed<'a>> {
        let mut found = KVVec::new();
        let mut names = externs::symbol_names(obj).peekable();
        let Some(&first) = names.peek() else {
            return Ok(Self { found });
        };
        // SAFETY: loads a program into this thread's table; closed below.
        let fd = unsafe { ffi::bpfld_ksym_open() };
        if fd < 0 {
            return Err(LookupFailed {
                name: first,
                errno: neg_errno(fd.into()),
            });
        }
        let mut res = Ok(());
        for name in names {
            let mut addr = 0u64;
            // SAFETY: `name` is valid for `name.len()` bytes; `addr` is written only.
            let err =
                unsafe { ffi::bpfld_ksym_lookup(fd, name.as_ptr().cast(), name.len(), &mut addr) };
            let a = match err.saturating_neg() {
                0 => SymbolAddress::At(addr),
                LOOKUP_ENOENT => SymbolAddress::Missing,
                LOOKUP_EPERM => SymbolAddress::Unavailable(HIDDEN),
                LOOKUP_ENAMETOOLONG => SymbolAddress::Unavailable(TOO_LONG),
                _ => SymbolAddress::Unavailable(FAILED),
            };
            if found.push((name, a), GFP_KERNEL).is_err() {
                res = Err(LookupFailed { name, errno: 12 });
                break;
            }
        }
        // SAFETY: `fd` is the program's, in this thread's table, closed once.
        unsafe { ffi::bpfld_close_fd(fd) };
        res?;
        // The helper answers "missing" for a symbol at address 0 too: ask the head of
        // /proc/kallsyms about those (read once, and only if a name is missing).
        if found.iter().any(|(_, a)| *a == SymbolAddress::Missing) {
            if let Some((head, len)) = kallsyms_zero_head() {
                let head = head.get(..len).unwrap_or_default();
                for (name, a) in found.iter_mut() {
                    if *a == SymbolAddress::Missing
                        && externs::kallsyms_at_zero(head, name) == ZeroListing::Listed
                    {
                        *a = SymbolAddress::At(0);
                    }
                }
            }
        }
        Ok(Self { found })
    }
}

/// Bytes of `/proc/kallsyms` read at most for its symbols at address 0 (a few lines).
const KALLSYMS_HEAD_MAX: usize = 16 << 10;

/// The start of `/proc/kallsyms` through the end of its symbols at address 0 (see
/// [`externs::kallsyms_at_zero`]) and the bytes read, read as the caller, as the helper
/// asked: `None` if it cannot be read, or if that run does not end within
/// [`KALLSYMS_HEAD_MAX`] bytes (as when the addresses are hidden from the caller and
/// all read 0).
fn kallsyms_zero_head() -> Option<(KVVec<u8>, usize)> {
    let mut buf = KVVec::from_elem(0u8, KALLSYMS_HEAD_MAX, GFP_KERNEL).ok()?;
    let mut err = 0;
    // SAFETY: the path is NUL-terminated; `err` is written only.
    let f = unsafe { ffi::bpfld_open_path(c"/proc/kallsyms".as_ptr(), &mut err) };
    if f.is_null() {
        return None;
    }
    let mut len = 0usize;
    let mut pos = 0i64;
    let end = loop {
        let room = buf.get_mut(len..).unwrap_or_default();
        if room.is_empty() {
            break None;
        }
        // SAFETY: `f` is an open file; `room` is writable for `room.len()` bytes.
        let n =
            unsafe { ffi::bpfld_read_kallsyms(f, room.as_mut_ptr().cast(), room.len(), &mut pos) };
        let Ok(n) = usize::try_from(n) else {
            break None;
        };
        if n == 0 {
            break None;
        }
        len = len.saturating_add(n.min(room.len()));
        let head = buf.get(..len).unwrap_or_default();
        if externs::kallsyms_at_zero(head, "") != ZeroListing::Unknown {
            break Some(len);
        }
    };
    // SAFETY: `f` is the counted reference from `bpfld_open_path`, dropped once.
    unsafe { ffi::bpfld_fput(f) };
    end.map(|len| (buf, len))
}

/// A load's symbol lookups could not be made: the extern that needed them first.
pub(crate) struct LookupFailed<'a> {
    pub(crate) name: &'a str,
    pub(crate) errno: i32,
}

impl KernelSymbols for LookedUpSymbols<'_> {
    fn address(&self, name: &str) -> SymbolAddress {
        self.found
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(SymbolAddress::Unavailable(NOT_ASKED), |&(_, a)| a)
    }
}

// SPDX-License-Identifier: GPL-2.0-only

//! Facts about the host kernel for planning in user space: vmlinux BTF for attach
//! targets, CO-RE, typed ksyms and kfuncs; module BTF for CO-RE on types vmlinux lacks
//! (and to refuse externs defined there); page size, possible CPUs, version; the kernel configuration for
//! `CONFIG_*` externs; `/proc/kallsyms` for typeless ksyms. Files are read as libbpf
//! reads them, so that a load sees the same values.

use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{
    find_in_kernel, func_index_in, kernel_index_in, module_index_in, module_read_error, IndexEntry,
    KernelIndex, ModuleBtf as CoreModuleBtf, ModuleTargets, Target,
};
use bpfld_core::error::Kind;
use bpfld_core::externs::{KernelConfig, KernelSymbols, SymbolAddress};
use bpfld_core::mem::VecAlloc;
use bpfld_core::plan::{KernelBtf, KernelInfo, KernelType};
use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

/// A parsed BTF blob owned by user space.
type OwnedBtf = Btf<Vec<u8>, Vec<u32>>;

/// A kernel module's BTF, split on vmlinux, with its CO-RE candidate index.
struct ModuleBtf {
    btf: OwnedBtf,
    index: KernelIndex<Vec<IndexEntry>>,
}

/// The running kernel's vmlinux BTF (from `/sys/kernel/btf/vmlinux`) and its CO-RE
/// candidate index.
pub struct HostBtf {
    btf: OwnedBtf,
    index: KernelIndex<Vec<IndexEntry>>,
    /// Module BTFs (`/sys/kernel/btf/<module>`), read on first use, or why not.
    modules: OnceLock<Result<Vec<(String, ModuleBtf)>, i32>>,
    /// Whether `btf` is the running kernel's, on which its modules' BTF is split (a
    /// BTF given as a file stands alone, as libbpf's `btf_custom_path` does).
    running: bool,
    /// The FUNC index (kfuncs, attach targets), built on the first FUNC lookup.
    funcs: OnceLock<Option<KernelIndex<Vec<IndexEntry>>>>,
}

impl HostBtf {
    /// Read and index the running kernel's BTF.
    pub fn load() -> Result<HostBtf, String> {
        let mut b = Self::read("/sys/kernel/btf/vmlinux", true)?;
        b.running = true;
        Ok(b)
    }

    /// Read and index a raw BTF file the kernel produced and checked (another kernel's
    /// `/sys/kernel/btf/vmlinux`), as [`HostBtf::load`] does.
    pub fn from_kernel_file(path: &str) -> Result<HostBtf, String> {
        Self::read(path, true)
    }

    /// Read and index a raw BTF file, checked as an object's BTF would be.
    pub fn from_file(path: &str) -> Result<HostBtf, String> {
        Self::read(path, false)
    }

    /// `kernel`: the running kernel's own BTF, whose names the kernel checked
    /// ([`Btf::parse_kernel`]).
    fn read(path: &str, kernel: bool) -> Result<HostBtf, String> {
        let blob = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let n = btf::count_types(&blob).map_err(|e| format!("{path}: {e}"))?;
        let offsets = vec![0u32; n + 1];
        let btf = if kernel {
            Btf::parse_kernel(blob, offsets)
        } else {
            Btf::parse(blob, offsets)
        }
        .map_err(|e| format!("{path}: {e}"))?;
        let index = kernel_index_in(&btf, 1..btf.type_count(), &mut VecAlloc::default())
            .map_err(|e| format!("{path}: index: {e}"))?;
        Ok(HostBtf {
            btf,
            index,
            modules: OnceLock::new(),
            running: false,
            funcs: OnceLock::new(),
        })
    }

    /// Every module BTF of the running kernel, split on vmlinux, in the directory's
    /// order, as the module reads them (libbpf takes them in load order). None for a BTF
    /// read from a file. A module that went away after the listing is skipped; any
    /// other failure is an errno, as in the module (libbpf fails the load).
    fn modules(&self) -> Result<&[(String, ModuleBtf)], i32> {
        let read = self.modules.get_or_init(|| {
            if !self.running {
                return Ok(Vec::new());
            }
            read_modules(&self.btf)
        });
        match read {
            Ok(v) => Ok(v),
            Err(e) => Err(*e),
        }
    }

    /// The parsed BTF.
    pub fn btf(&self) -> &Btf<Vec<u8>, Vec<u32>> {
        &self.btf
    }
}

impl KernelBtf for HostBtf {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        // The FUNC index is built at the first FUNC lookup.
        let funcs = if kind == BtfKind::Func {
            self.funcs
                .get_or_init(|| {
                    let ids = 1..self.btf.type_count();
                    func_index_in(&self.btf, ids, &mut VecAlloc::default()).ok()
                })
                .as_ref()
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

    fn core_modules(&self) -> Option<&dyn ModuleTargets> {
        Some(self)
    }
}

impl ModuleTargets for HostBtf {
    fn count(&self) -> bpfld_core::Result<'static, usize> {
        self.modules().map(|m| m.len()).map_err(module_read_error)
    }

    fn module(&self, i: usize) -> bpfld_core::Result<'static, CoreModuleBtf<'_>> {
        let (_, m) = self
            .modules()
            .map_err(module_read_error)?
            .get(i)
            .ok_or(bpfld_core::Error::malformed("module BTF index"))?;
        CoreModuleBtf::new(&self.btf, &m.btf, &m.index)
    }

    fn name(&self, i: usize) -> bpfld_core::Result<'static, &str> {
        let (name, _) = self
            .modules()
            .map_err(module_read_error)?
            .get(i)
            .ok_or(bpfld_core::Error::malformed("module BTF index"))?;
        Ok(name)
    }
}

/// Read `/sys/kernel/btf/<module>` for every module, split on `base` (the running
/// kernel's vmlinux BTF).
fn read_modules(base: &OwnedBtf) -> Result<Vec<(String, ModuleBtf)>, i32> {
    let errno = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    let mut v = Vec::new();
    for entry in std::fs::read_dir("/sys/kernel/btf").map_err(errno)? {
        let name = entry.map_err(errno)?.file_name();
        let name = name.to_string_lossy();
        if name == "vmlinux" {
            continue;
        }
        let blob = match std::fs::read(format!("/sys/kernel/btf/{name}")) {
            Ok(b) => b,
            // Unloaded since the listing.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENODEV)) => continue,
            Err(e) => return Err(errno(e)),
        };
        let n = btf::count_types(&blob).map_err(|_| libc::EBADMSG)?;
        let btf =
            Btf::parse_split_kernel(blob, vec![0u32; n + 1], base).map_err(|_| libc::EBADMSG)?;
        let index =
            module_index_in(base, &btf, &mut VecAlloc::default()).map_err(|e| match e.kind() {
                Kind::NoMemory => libc::ENOMEM,
                _ => libc::EBADMSG,
            })?;
        v.push((name.into_owned(), ModuleBtf { btf, index }));
    }
    Ok(v)
}

/// The running kernel's configuration, for `CONFIG_*` externs.
#[derive(Debug, Default)]
pub struct HostConfig {
    values: HashMap<String, Vec<u8>>,
}

impl HostConfig {
    /// Read the configuration where libbpf looks: `/boot/config-$(uname -r)`, else
    /// `/proc/config.gz` (each gzip-compressed or plain).
    pub fn load() -> Result<HostConfig, String> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| format!("/proc/sys/kernel/osrelease: {e}"))?;
        let boot = format!("/boot/config-{}", release.trim());
        for path in [boot.as_str(), "/proc/config.gz"] {
            let Ok(raw) = std::fs::read(path) else {
                continue;
            };
            let text = if raw.starts_with(&[0x1f, 0x8b]) {
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(&raw[..])
                    .read_to_end(&mut out)
                    .map_err(|e| format!("{path}: {e}"))?;
                out
            } else {
                raw
            };
            return Self::parse(&text).map_err(|e| format!("{path}: {e}"));
        }
        Err(format!(
            "no kernel configuration ({boot} and /proc/config.gz are unreadable)"
        ))
    }

    /// Parse `.config` text as libbpf does: lines starting with `CONFIG_` must be
    /// `NAME=VALUE` with a value; the first line for a name wins; other lines are
    /// ignored.
    pub fn parse(text: &[u8]) -> Result<HostConfig, String> {
        let mut values = HashMap::new();
        for line in text.split(|&b| b == b'\n') {
            if !line.starts_with(b"CONFIG_") {
                continue;
            }
            let shown = String::from_utf8_lossy(line);
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                return Err(format!("'{shown}': no separator"));
            };
            let (name, value) = (&line[..eq], &line[eq + 1..]);
            if value.is_empty() {
                return Err(format!("'{shown}': no value"));
            }
            let name = String::from_utf8_lossy(name).into_owned();
            values.entry(name).or_insert_with(|| value.to_vec());
        }
        Ok(HostConfig { values })
    }
}

impl KernelConfig for HostConfig {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.values.get(name).map(Vec::as_slice)
    }
}

/// Addresses of kernel symbols from `/proc/kallsyms`, for typeless ksyms.
#[derive(Debug, Default)]
pub struct HostSymbols {
    found: HashMap<String, SymbolAddress>,
}

impl HostSymbols {
    /// Read `/proc/kallsyms` (as root, or the addresses are 0), keeping `names` only.
    pub fn load(names: &[&str]) -> Result<HostSymbols, String> {
        let text = std::fs::read_to_string("/proc/kallsyms")
            .map_err(|e| format!("/proc/kallsyms: {e}"))?;
        Self::parse(&text, names).map_err(|e| format!("/proc/kallsyms: {e}"))
    }

    /// Parse kallsyms text (`ADDR TYPE NAME [MODULE]` lines) as libbpf does: a data
    /// (`d`) symbol `NAME.llvm.N` counts as `NAME`; a name seen at two addresses is
    /// ambiguous.
    pub fn parse(text: &str, names: &[&str]) -> Result<HostSymbols, String> {
        let mut found: HashMap<String, SymbolAddress> = names
            .iter()
            .map(|n| (n.to_string(), SymbolAddress::Missing))
            .collect();
        for line in text.lines() {
            let mut it = line.split_ascii_whitespace();
            let (Some(addr), Some(ty), Some(name)) = (it.next(), it.next(), it.next()) else {
                return Err(format!("bad line '{line}'"));
            };
            let addr =
                u64::from_str_radix(addr, 16).map_err(|_| format!("bad address in '{line}'"))?;
            let key = match name.find(".llvm.") {
                Some(i) if ty == "d" => &name[..i],
                _ => name,
            };
            let Some(slot) = found.get_mut(key) else {
                continue;
            };
            *slot = match *slot {
                SymbolAddress::Missing => SymbolAddress::At(addr),
                SymbolAddress::At(a) if a != addr => SymbolAddress::Ambiguous(a, addr),
                other => other,
            };
        }
        Ok(HostSymbols { found })
    }
}

impl KernelSymbols for HostSymbols {
    fn address(&self, name: &str) -> SymbolAddress {
        self.found
            .get(name)
            .copied()
            .unwrap_or(SymbolAddress::Missing)
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

/// `KERNEL_VERSION(major, minor, patch)` of the running kernel, patch capped at 255
/// like `LINUX_VERSION_CODE`, found as libbpf's `get_kernel_version` finds it.
pub fn kernel_version() -> Option<u32> {
    let signature = std::fs::read_to_string("/proc/version_signature").ok();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let version = std::fs::read_to_string("/proc/sys/kernel/version").unwrap_or_default();
    version_code(signature.as_deref(), &release, &version)
}

/// libbpf's order: Ubuntu's `/proc/version_signature` (its third word), then Debian's
/// `uname -v` ("... Debian 6.1.119-1 ..."; `uname -r` says 6.1.0), then `uname -r`.
fn version_code(signature: Option<&str>, release: &str, version: &str) -> Option<u32> {
    signature
        .and_then(|s| s.split_whitespace().nth(2))
        .and_then(three_numbers)
        .or_else(|| {
            let at = version.find("Debian ")?;
            three_numbers(&version[at + "Debian ".len()..])
        })
        .or_else(|| three_numbers(release.trim()))
}

/// `sscanf(s, "%u.%u.%u")` as `KERNEL_VERSION()`: `None` unless all three are there.
fn three_numbers(s: &str) -> Option<u32> {
    let mut rest = s;
    let mut v = [0u32; 3];
    for (i, n) in v.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('.')?;
        }
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        *n = rest[..end].parse().ok()?;
        rest = &rest[end..];
    }
    Some((v[0] << 16) + (v[1] << 8) + v[2].min(255))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_found_as_libbpf() {
        let v = |a: u32, b: u32, c: u32| Some((a << 16) + (b << 8) + c);
        let plain = "#1 SMP PREEMPT_DYNAMIC";
        assert_eq!(version_code(None, "6.12.118\n", plain), v(6, 12, 118));
        assert_eq!(
            version_code(None, "6.18.44-cloud-amd64", plain),
            v(6, 18, 44)
        );
        // Patch capped as LINUX_VERSION_CODE caps it; all three numbers needed.
        assert_eq!(version_code(None, "4.9.337", plain), v(4, 9, 255));
        assert_eq!(version_code(None, "6.12", plain), None);
        // Debian: uname -r says 6.1.0, uname -v the real version.
        let debian = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)";
        assert_eq!(version_code(None, "6.1.0-28-amd64", debian), v(6, 1, 119));
        // Ubuntu's signature first; unreadable as three numbers, the next source.
        let sig = "Ubuntu 5.15.0-91.101-generic 5.15.131\n";
        assert_eq!(
            version_code(Some(sig), "5.15.0-91-generic", plain),
            v(5, 15, 131)
        );
        assert_eq!(
            version_code(Some("Ubuntu x y"), "5.15.0-91-generic", plain),
            v(5, 15, 0)
        );
    }
}

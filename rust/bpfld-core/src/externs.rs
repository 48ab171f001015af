// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Resolving an object's externs against the running kernel, as libbpf 6.12's
//! `bpf_object__resolve_externs` does, and what the relocations then write.
//!
//! The core does no I/O: kernel facts come from the caller.
//! - [`KernelInfo`] gives `LINUX_KERNEL_VERSION`. What libbpf probes comes from the
//!   configuration: `LINUX_HAS_BPF_COOKIE` is `CONFIG_BPF_EVENTS` (libbpf loads a
//!   tracepoint program calling `bpf_get_attach_cookie`), `LINUX_HAS_SYSCALL_WRAPPER`
//!   is `CONFIG_KPROBE_EVENTS` (libbpf opens a kprobe on the wrapped `bpf(2)`) on the
//!   architectures whose 6.12 Kconfig selects `ARCH_HAS_SYSCALL_WRAPPER`
//!   unconditionally (x86-64, arm64, s390, riscv); both true when no [`KernelConfig`]
//!   is given. Other `LINUX_*` externs are zero when weak and an error otherwise.
//! - [`KernelConfig`] gives `CONFIG_*` values: the raw right-hand side of
//!   `CONFIG_X=...` in the kernel's configuration. Values are parsed as libbpf does
//!   (`y`/`n`/`m`, quoted strings, C integers) into the extern's type. A missing weak
//!   value stays zero; a missing strong one fails the plan naming the extern.
//! - [`KernelSymbols`] gives addresses of kernel symbols (`/proc/kallsyms` in user
//!   space), for typeless `__ksym` variables.
//! - [`KernelBtf`] gives BTF ids for typed `__ksym` variables and kfuncs, checked
//!   against the local declaration with libbpf's `bpf_core_types_are_compat`: in
//!   vmlinux, else (as libbpf's `find_ksym_btf_id`) in the first kernel module whose own
//!   BTF has the name. A module's becomes a [`crate::plan::PlannedModule`] of the plan, whose BTF
//!   object the program names by fd (see [`apply`]).
//!
//! # Invariants
//!
//! [`Externs::state`] has one entry per [`Object::externs`] entry, in the same order;
//! [`Externs::kconfig`] is exactly the `.kconfig` map's value size, each kconfig value
//! written only inside its own `data_off..data_off + size`.

use crate::btf::{BtfKind, Types};
use crate::bytes::idx;
use crate::core_relo::types_are_compat;
use crate::error::{Ctx, Error, Kind, Result, ResultExt};
use crate::insn::Insn;
use crate::mem::Alloc;
use crate::object::externs::kconfig_size;
use crate::object::{Extern, ExternKind, Kcfg, KcfgType, Ksym, Object};
use crate::plan::{find_in_modules, KernelBtf, KernelInfo, ModuleList};
use crate::uapi;

/// libbpf's `POISON_CALL_KFUNC_BASE`: a call to an unresolved weak kfunc becomes a call
/// of helper `2002000000 + extern index`, which the verifier refuses if it is reachable
/// (and removes as dead code otherwise, which `bpf_ksym_exists()` relies on).
pub const POISON_CALL_KFUNC_BASE: i32 = 2_002_000_000;

/// `enum libbpf_tristate`.
const TRI_NO: u32 = 0;
const TRI_YES: u32 = 1;
const TRI_MODULE: u32 = 2;

/// The kernel's configuration, for `CONFIG_*` externs.
pub trait KernelConfig {
    /// The raw right-hand side of the first `name=...` line of the kernel's `.config`
    /// (`name` includes `CONFIG_`), without the line end: `y`, `m`, `"text"`, `0x10`,
    /// ... `None` when the configuration does not set it.
    fn get(&self, name: &str) -> Option<&[u8]>;
}

/// What [`KernelSymbols::address`] knows about a symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolAddress {
    /// No such symbol.
    Missing,
    /// The symbol's address.
    At(u64),
    /// Several symbols of that name with different addresses (libbpf refuses).
    Ambiguous(u64, u64),
    /// This source cannot tell (e.g. the kernel module can only resolve exported
    /// symbols): why.
    Unavailable(&'static str),
}

/// Kernel symbol addresses, for typeless `__ksym` variables.
pub trait KernelSymbols {
    /// Where kernel symbol `name` is. Like libbpf, a data (`d`) symbol whose name
    /// continues with `.llvm.` after `name` counts as `name`.
    fn address(&self, name: &str) -> SymbolAddress;
}

/// What one extern resolved to (libbpf's `is_set` and `ksym` fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Resolved; a weak extern that is not stays zero (or a poisoned call).
    pub set: bool,
    /// BTF id of a typed ksym (VAR) or kfunc (FUNC), in vmlinux or `module`'s BTF.
    pub kernel_btf_id: u32,
    /// 0 for vmlinux, else the module's place in the plan's modules plus one.
    pub module: u32,
    /// For a module's kfunc: the module BTF's index in `fd_array` (the call's `off`).
    pub fd_idx: u32,
    /// Address of a typeless ksym.
    pub addr: u64,
}

/// The resolved externs of one plan.
pub struct Externs<A: Alloc> {
    /// Per extern of the object.
    pub state: A::Buf<Resolved>,
    /// The `.kconfig` map's value.
    pub kconfig: A::Buf<u8>,
}

/// Whether the kernel has architecture syscall wrappers (`__x64_sys_*` and the like):
/// libbpf probes it; on 6.12 it is a property of the architecture.
pub const fn has_syscall_wrapper() -> bool {
    cfg!(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "s390x",
        target_arch = "riscv64"
    ))
}

/// Whether `name` is `y` in the kernel's configuration; `true` when it is not known.
fn config_y(config: Option<&dyn KernelConfig>, name: &str) -> bool {
    config.is_none_or(|c| c.get(name) == Some(b"y"))
}

/// What the head of `/proc/kallsyms` says of a symbol at address 0 ([`kallsyms_at_zero`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroListing {
    /// Listed at address 0 (in vmlinux, not a module).
    Listed,
    /// Not among the symbols at address 0, which the text shows in full.
    NotListed,
    /// The text ends before a complete line at a non-zero address: read more (or the
    /// addresses are hidden from the reader, which sees every one as 0).
    Unknown,
}

/// Whether kallsyms text `text` (the start of `/proc/kallsyms`: `ADDR TYPE NAME` lines,
/// `\t[MODULE]` after a module's) lists `name` at address 0.
///
/// `kallsyms_lookup_name()`, and so the BPF helper the kernel module resolves typeless
/// ksyms with, answers 0 both for a missing symbol and for one at address 0, such as
/// `__per_cpu_start` on x86-64 before 6.15 (its per-CPU area is linked at 0). libbpf
/// reads such a symbol's 0 from `/proc/kallsyms`. The kernel lists symbols by address,
/// so those at 0 come first; the answer is known once a line at a non-zero address
/// ends them.
pub fn kallsyms_at_zero(text: &[u8], name: &str) -> ZeroListing {
    let mut listed = false;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let Some(line) = line.strip_suffix(b"\n") else {
            break; // incomplete
        };
        let mut fields = line.splitn(3, |&b| b == b' ');
        let (Some(addr), Some(_ty), Some(rest)) = (fields.next(), fields.next(), fields.next())
        else {
            return ZeroListing::Unknown;
        };
        if addr.is_empty() || !addr.iter().all(u8::is_ascii_hexdigit) {
            return ZeroListing::Unknown;
        }
        if addr.iter().any(|&b| b != b'0') {
            return if listed {
                ZeroListing::Listed
            } else {
                ZeroListing::NotListed
            };
        }
        // A module's symbol has its module after a tab; only vmlinux's count here.
        listed |= rest == name.as_bytes();
    }
    ZeroListing::Unknown
}

/// Whether `obj` has `CONFIG_*` externs, so that the caller knows it must provide a
/// [`KernelConfig`] (libbpf reads the configuration only then).
pub fn needs_kernel_config<A: Alloc>(obj: &Object<'_, A>) -> bool {
    obj.externs
        .iter()
        .any(|e| e.kcfg().is_some() && e.name.starts_with("CONFIG_"))
}

/// Whether `obj` has typeless `__ksym` variables, so that the caller knows it must
/// provide [`KernelSymbols`] (libbpf reads `/proc/kallsyms` only then).
pub fn needs_kernel_symbols<A: Alloc>(obj: &Object<'_, A>) -> bool {
    obj.externs
        .iter()
        .any(|e| e.ksym().is_some_and(|k| k.type_id == 0))
}

/// The names `resolve` asks [`KernelSymbols::address`] about: none unless `obj` has
/// typeless `__ksym` variables ([`needs_kernel_symbols`]), then every `__ksym` variable,
/// typed ones too (libbpf's kallsyms pass sets them all), in the order of the externs.
pub fn symbol_names<'o, 'a, A: Alloc>(
    obj: &'o Object<'a, A>,
) -> impl Iterator<Item = &'a str> + 'o {
    let any = needs_kernel_symbols(obj);
    obj.externs
        .iter()
        .filter(move |e| any && e.ksym().is_some_and(|k| !k.func))
        .map(|e| e.name)
}

/// Whether `obj` has typed `__ksym` variables or kfuncs (which need vmlinux BTF).
pub fn needs_kernel_btf<A: Alloc>(obj: &Object<'_, A>) -> bool {
    obj.externs
        .iter()
        .any(|e| e.ksym().is_some_and(|k| k.type_id != 0))
}

/// Resolve every extern of `obj` (libbpf's `bpf_object__resolve_externs`); the kernel
/// modules whose BTF a kfunc or ksym is found in are added to `modules`. Out of line:
/// its frame stays off the deeper CO-RE chain that `Plan::build_with` goes on to.
#[inline(never)]
pub(crate) fn resolve<'a, A: Alloc>(
    obj: &Object<'a, A>,
    kinfo: &KernelInfo,
    kbtf: Option<&dyn KernelBtf>,
    config: Option<&dyn KernelConfig>,
    symbols: Option<&dyn KernelSymbols>,
    modules: &mut ModuleList<'a, A>,
    alloc: &mut A,
) -> Result<'a, Externs<A>> {
    let n = obj.externs.len();
    let mut state = alloc.alloc::<Resolved>(n)?;
    let mut kconfig = alloc.alloc::<u8>(idx(kconfig_size(&obj.externs)))?;
    let mut need_config = None;
    let mut need_symbols = None;
    let mut need_btf = false;
    for (e, st) in obj.externs.iter().zip(state.iter_mut()) {
        let c = Ctx::Extern(e.name);
        match e.kind {
            ExternKind::Ksym(k) => {
                if k.type_id != 0 {
                    need_btf = true;
                } else if need_symbols.is_none() {
                    need_symbols = Some(e.name);
                }
            }
            ExternKind::Kconfig(k) => {
                if e.name.starts_with("CONFIG_") {
                    need_config = need_config.or(Some(e.name));
                    continue;
                }
                let value = match e.name {
                    "LINUX_KERNEL_VERSION" => {
                        if kinfo.kernel_version == 0 {
                            return Err(
                                Error::new(Kind::NotFound("the running kernel's version")).ctx(c)
                            );
                        }
                        u64::from(kinfo.kernel_version)
                    }
                    // libbpf probes both: a tracepoint program calling
                    // bpf_get_attach_cookie (CONFIG_BPF_EVENTS), a kprobe on the
                    // wrapped bpf(2) (CONFIG_KPROBE_EVENTS). Without the configuration,
                    // what GKI and every distribution kernel give.
                    "LINUX_HAS_BPF_COOKIE" => u64::from(config_y(config, "CONFIG_BPF_EVENTS")),
                    "LINUX_HAS_SYSCALL_WRAPPER" => {
                        u64::from(has_syscall_wrapper() && config_y(config, "CONFIG_KPROBE_EVENTS"))
                    }
                    _ if e.name.starts_with("LINUX_") && e.weak => 0,
                    _ => {
                        return Err(Error::new(Kind::Unsupported(
                            "kconfig extern that is neither CONFIG_* nor a known LINUX_* value \
                             (LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE, \
                             LINUX_HAS_SYSCALL_WRAPPER; other weak LINUX_* are 0)",
                        ))
                        .ctx(c))
                    }
                };
                set_num(&k, value_slot(&mut kconfig, &k)?, value).ctx(c)?;
                st.set = true;
            }
        }
    }
    if let Some(first) = need_config {
        let cfg = config.ok_or_else(|| {
            Error::new(Kind::Unsupported(
                "CONFIG_ externs need the kernel's configuration, which is not available",
            ))
            .ctx(Ctx::Extern(first))
        })?;
        for (e, st) in obj.externs.iter().zip(state.iter_mut()) {
            let Some(k) = e.kcfg() else { continue };
            if st.set || !e.name.starts_with("CONFIG_") {
                continue;
            }
            if let Some(v) = cfg.get(e.name) {
                set_value(k, value_slot(&mut kconfig, k)?, v).ctx(Ctx::Extern(e.name))?;
                st.set = true;
            }
        }
    }
    if let Some(first) = need_symbols {
        let syms = symbols.ok_or_else(|| {
            Error::new(Kind::Unsupported(
                "typeless ksyms need kernel symbol addresses, which are not available",
            ))
            .ctx(Ctx::Extern(first))
        })?;
        // libbpf's kallsyms pass sets every ksym variable it finds, typed ones too.
        for (e, st) in obj.externs.iter().zip(state.iter_mut()) {
            let Some(k) = e.ksym() else { continue };
            if k.func {
                continue;
            }
            let c = Ctx::Extern(e.name);
            match syms.address(e.name) {
                SymbolAddress::Missing => {}
                SymbolAddress::At(a) => {
                    st.set = true;
                    st.addr = a;
                }
                SymbolAddress::Ambiguous(..) => {
                    return Err(Error::new(Kind::Ambiguous(
                        "kernel symbol (two addresses for one name)",
                    ))
                    .ctx(c))
                }
                // A typed variable is still found through BTF.
                SymbolAddress::Unavailable(_) if k.type_id != 0 => {}
                SymbolAddress::Unavailable(why) => {
                    return Err(Error::new(Kind::Unsupported(why)).ctx(c))
                }
            }
        }
    }
    if need_btf {
        let kb = kbtf.ok_or(Error::new(Kind::Unsupported(
            "typed ksyms and kfuncs need the kernel's BTF",
        )))?;
        let vmlinux = kb.vmlinux().ok_or(Error::new(Kind::Unsupported(
            "typed ksyms and kfuncs need the kernel's BTF",
        )))?;
        let local = obj
            .btf
            .as_ref()
            .ok_or(Error::malformed("externs without BTF"))?;
        for (e, st) in obj.externs.iter().zip(state.iter_mut()) {
            let Some(k) = e.ksym() else { continue };
            if k.type_id == 0 {
                continue;
            }
            let c = Ctx::Extern(e.name);
            let r = if k.func {
                resolve_kfunc(e, k, local, kb, vmlinux, modules, st)
            } else {
                resolve_ksym_var(e, k, local, kb, vmlinux, modules, st)
            };
            r.ctx(c)?;
        }
    }
    for (e, st) in obj.externs.iter().zip(state.iter()) {
        if !st.set && !e.weak {
            return Err(Error::new(Kind::NotFound(
                "definition of the (strong) extern in the running kernel",
            ))
            .ctx(Ctx::Extern(e.name)));
        }
    }
    Ok(Externs { state, kconfig })
}

/// libbpf's `find_ksym_btf_id`: `name` of `kind` in vmlinux, else in the first module
/// whose own BTF has it. Calls `check` with the BTF it was found in and its id; if that
/// accepts, records the module (if any) in `modules` and `st`.
#[allow(clippy::too_many_arguments)]
fn find_ksym<'a, A: Alloc>(
    name: &'a str,
    kind: BtfKind,
    kb: &dyn KernelBtf,
    vmlinux: &dyn Types,
    modules: &mut ModuleList<'a, A>,
    st: &mut Resolved,
    check: impl FnOnce(&dyn Types, u32) -> Result<'static, bool>,
) -> Result<'static, Option<()>> {
    if let Some(found) = kb.find(name, kind) {
        if !check(vmlinux, found.type_id)? {
            return Ok(None);
        }
        st.kernel_btf_id = found.type_id;
    } else {
        let Some(found) = find_in_modules(kb, None, name, kind)? else {
            return Ok(None);
        };
        let mods = kb
            .core_modules()
            .ok_or(Error::malformed("module without module BTFs"))?;
        let m = mods.module(found.index)?;
        if !check(m.types(), found.type_id)? {
            return Ok(None);
        }
        let kfunc = kind == BtfKind::Func;
        st.module = modules.add(kb, found, "", name, kind, kfunc)?;
        st.fd_idx = modules
            .as_slice()
            .get(idx(st.module).saturating_sub(1))
            .map(|m| m.fd_idx)
            .unwrap_or(0);
        st.kernel_btf_id = found.type_id;
    }
    st.set = true;
    Ok(Some(()))
}

/// libbpf's `bpf_object__resolve_ksym_var_btf_id`.
fn resolve_ksym_var<'a, A: Alloc>(
    e: &Extern<'a>,
    k: &Ksym,
    local: &impl Types,
    kb: &dyn KernelBtf,
    vmlinux: &dyn Types,
    modules: &mut ModuleList<'a, A>,
    st: &mut Resolved,
) -> Result<'static, ()> {
    let check = |kern: &dyn Types, id: u32| {
        let var = kern.type_by_id(id)?;
        let targ = kern.skip_mods_and_typedefs(var.var()?.type_id)?.id();
        if !types_are_compat(local, k.type_id, kern, targ).unwrap_or(false) {
            return Err(
                Error::malformed("ksym type is incompatible with the kernel's variable")
                    .ctx(Ctx::BtfType(id)),
            );
        }
        Ok(true)
    };
    if find_ksym(e.name, BtfKind::Var, kb, vmlinux, modules, st, check)?.is_none() && !e.weak {
        return Err(Error::new(Kind::NotFound(
            "ksym variable in the kernel's BTF",
        )));
    }
    Ok(())
}

/// libbpf's `bpf_object__resolve_ksym_func_btf_id`.
fn resolve_kfunc<'a, A: Alloc>(
    e: &Extern<'a>,
    k: &Ksym,
    local: &impl Types,
    kb: &dyn KernelBtf,
    vmlinux: &dyn Types,
    modules: &mut ModuleList<'a, A>,
    st: &mut Resolved,
) -> Result<'static, ()> {
    let mut found = false;
    let check = |kern: &dyn Types, id: u32| {
        found = true;
        let proto = kern.type_by_id(id)?.raw_size_or_type();
        if !types_are_compat(local, k.type_id, kern, proto).unwrap_or(false) {
            if e.weak {
                return Ok(false);
            }
            return Err(
                Error::malformed("kfunc prototype is incompatible with the kernel's")
                    .ctx(Ctx::BtfType(proto)),
            );
        }
        Ok(true)
    };
    let set = find_ksym(e.essential, BtfKind::Func, kb, vmlinux, modules, st, check)?;
    if set.is_none() && !found && !e.weak {
        return Err(Error::new(Kind::NotFound("kfunc in the kernel's BTF")));
    }
    Ok(())
}

/// The bytes of `k`'s value in the `.kconfig` map value.
fn value_slot<'k>(buf: &'k mut [u8], k: &Kcfg) -> Result<'static, &'k mut [u8]> {
    let start = idx(k.data_off);
    buf.get_mut(start..start.saturating_add(idx(k.size)))
        .ok_or(Error::malformed("kconfig value outside the .kconfig map"))
}

fn put_le(out: &mut [u8], v: u64, n: usize) -> Result<'static, ()> {
    let b = v.to_le_bytes();
    let (Some(d), Some(s)) = (out.get_mut(..n), b.get(..n)) else {
        return Err(Error::malformed("kconfig value size"));
    };
    crate::util::copy(d, s);
    Ok(())
}

/// libbpf's `set_kcfg_value_tri`.
fn set_tri(k: &Kcfg, out: &mut [u8], c: u8) -> Result<'static, ()> {
    match k.ty {
        KcfgType::Bool if c == b'm' => Err(Error::malformed(
            "kconfig value 'm' implies a tristate or char type, the extern is bool",
        )),
        KcfgType::Bool => put_le(out, u64::from(c == b'y'), 1),
        KcfgType::Tristate => {
            let v = match c {
                b'y' => TRI_YES,
                b'm' => TRI_MODULE,
                _ => TRI_NO,
            };
            // An `enum libbpf_tristate` is written as a C enum: 4 bytes.
            put_le(out, u64::from(v), 4)
        }
        KcfgType::Char => put_le(out, u64::from(c), 1),
        KcfgType::Int | KcfgType::CharArr => Err(Error::malformed(
            "kconfig value y/n/m implies a bool, tristate or char type",
        )),
    }
}

/// libbpf's `set_kcfg_value_str`: a quoted string, without its quotes, truncated to
/// the array with a NUL at the end.
fn set_str(k: &Kcfg, out: &mut [u8], v: &[u8]) -> Result<'static, ()> {
    if k.ty != KcfgType::CharArr {
        return Err(Error::malformed(
            "kconfig string value implies a char array type",
        ));
    }
    let inner = match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => return Err(Error::malformed("invalid kconfig string value")),
    };
    let len = inner.len().min(out.len().saturating_sub(1));
    let (Some(d), Some(s)) = (out.get_mut(..len), inner.get(..len)) else {
        return Err(Error::malformed("kconfig string value"));
    };
    crate::util::copy(d, s);
    if let Some(nul) = out.get_mut(len) {
        *nul = 0;
    }
    Ok(())
}

/// libbpf's `is_kcfg_value_in_range`.
fn in_range(k: &Kcfg, v: u64) -> bool {
    if k.size >= 8 {
        return true;
    }
    let bits = k.size.saturating_mul(8);
    if k.signed {
        let half = 1u64 << bits.saturating_sub(1);
        v.wrapping_add(half) < (1u64 << bits)
    } else {
        v.checked_shr(bits).unwrap_or(0) == 0
    }
}

/// libbpf's `set_kcfg_value_num`.
fn set_num(k: &Kcfg, out: &mut [u8], v: u64) -> Result<'static, ()> {
    if !matches!(k.ty, KcfgType::Int | KcfgType::Char | KcfgType::Bool) {
        return Err(Error::malformed(
            "numeric kconfig value implies an integer, char or bool type",
        ));
    }
    if k.ty == KcfgType::Bool && v > 1 {
        return Err(Error::malformed("kconfig value is not boolean (0 or 1)"));
    }
    if !in_range(k, v) {
        return Err(Error::malformed(
            "kconfig value does not fit the extern's integer type",
        ));
    }
    match k.size {
        1 | 2 | 4 | 8 => put_le(out, v, idx(k.size)),
        _ => Err(Error::malformed("kconfig integer size")),
    }
}

/// libbpf's `bpf_object__process_kconfig_line`, from the value on.
fn set_value(k: &Kcfg, out: &mut [u8], v: &[u8]) -> Result<'static, ()> {
    match v.first() {
        None => Err(Error::malformed("kconfig line without a value")),
        Some(&c @ (b'y' | b'n' | b'm')) => set_tri(k, out, c),
        Some(b'"') => set_str(k, out, v),
        Some(_) => {
            let n = parse_u64(v).ok_or(Error::malformed("kconfig value is not a valid integer"))?;
            if !matches!(k.ty, KcfgType::Int | KcfgType::Char) {
                return Err(Error::malformed(
                    "numeric kconfig value implies an integer type",
                ));
            }
            set_num(k, out, n)
        }
    }
}

/// C's `strtoull(s, &end, 0)` that must consume all of `s`: optional white space and
/// sign, then hex (`0x`), octal (leading `0`) or decimal digits; a `-` negates modulo
/// 2^64; overflow is an error (`ERANGE`).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    let mut i = 0usize;
    while s
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        i = i.saturating_add(1);
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i = i.saturating_add(1);
            true
        }
        Some(b'+') => {
            i = i.saturating_add(1);
            false
        }
        _ => false,
    };
    let hex_digit = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_hexdigit());
    let base: u64 = if s.get(i) == Some(&b'0')
        && matches!(s.get(i.saturating_add(1)), Some(b'x' | b'X'))
        && hex_digit(s.get(i.saturating_add(2)))
    {
        i = i.saturating_add(2);
        16
    } else if s.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let digits = s.get(i..)?;
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = u64::from(match c {
            b'0'..=b'9' => c.wrapping_sub(b'0'),
            b'a'..=b'f' => c.wrapping_sub(b'a').wrapping_add(10),
            b'A'..=b'F' => c.wrapping_sub(b'A').wrapping_add(10),
            _ => return None,
        });
        if d >= base {
            return None;
        }
        v = v.checked_mul(base)?.checked_add(d)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// What fd an extern's instruction needs ([`apply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdNeed {
    /// None.
    None,
    /// The `.kconfig` map's, in the instruction's `imm`.
    Kconfig,
    /// The BTF object fd of the plan's module at this place plus one, in the second
    /// half's `imm` (a typed ksym of a module).
    ModuleBtf(u32),
}

/// What an extern relocation writes (libbpf's `bpf_object__relocate_data`,
/// `RELO_EXTERN_LD64` and `RELO_EXTERN_CALL`). `insns` starts at the relocated
/// instruction (two slots for an `ld_imm64`); `ext` is the extern's index. Returns the
/// fd the executor must write. A module's kfunc call gets its BTF's `fd_array` index
/// in `off`; the index is fixed by the plan, the array is the executor's.
pub fn apply(
    insns: &mut [Insn],
    ext: u32,
    e: &Extern<'_>,
    st: &Resolved,
    call: bool,
) -> Result<'static, FdNeed> {
    let (first, rest) = insns
        .split_first_mut()
        .ok_or(Error::malformed("extern relocation outside the program"))?;
    if call {
        if e.ksym().is_none_or(|k| !k.func) {
            return Err(Error::malformed("call of an extern that is not a kfunc"));
        }
        if st.set {
            first.set_src(uapi::BPF_PSEUDO_KFUNC_CALL);
            first.imm =
                i32::try_from(st.kernel_btf_id).map_err(|_| Error::malformed("kernel BTF id"))?;
            // 0 for vmlinux.
            first.off = i16::try_from(st.fd_idx).map_err(|_| Error::malformed("fd_array index"))?;
        } else {
            // libbpf's `poison_kfunc_call`.
            *first = Insn {
                code: uapi::CALL,
                regs: 0,
                off: 0,
                imm: POISON_CALL_KFUNC_BASE.wrapping_add(ext as i32),
            };
        }
        return Ok(FdNeed::None);
    }
    let second = rest
        .first_mut()
        .ok_or(Error::malformed("ld_imm64 is missing its second half"))?;
    match e.kind {
        ExternKind::Kconfig(k) => {
            first.set_src(uapi::BPF_PSEUDO_MAP_VALUE);
            first.imm = 0;
            second.imm = k.data_off as i32;
            Ok(FdNeed::Kconfig)
        }
        ExternKind::Ksym(k) => {
            if k.type_id != 0 && st.set {
                first.set_src(uapi::BPF_PSEUDO_BTF_ID);
                first.imm = st.kernel_btf_id as i32;
                // vmlinux: BTF object fd 0; a module's is the executor's to write.
                second.imm = 0;
                if st.module != 0 {
                    return Ok(FdNeed::ModuleBtf(st.module));
                }
            } else {
                first.imm = st.addr as u32 as i32;
                second.imm = (st.addr >> 32) as u32 as i32;
            }
            Ok(FdNeed::None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_at_zero_reads_the_zero_run() {
        let text = b"0000000000000000 A fixed_percpu_data\n\
0000000000000000 A __per_cpu_start\n\
0000000000001000 A cpu_debug_store\n\
ffffffff81000000 T _stext\n";
        assert_eq!(
            kallsyms_at_zero(text, "__per_cpu_start"),
            ZeroListing::Listed
        );
        assert_eq!(
            kallsyms_at_zero(text, "fixed_percpu_data"),
            ZeroListing::Listed
        );
        // Listed, but not at 0.
        assert_eq!(
            kallsyms_at_zero(text, "cpu_debug_store"),
            ZeroListing::NotListed
        );
        assert_eq!(kallsyms_at_zero(text, "_stext"), ZeroListing::NotListed);
        assert_eq!(kallsyms_at_zero(text, "__per_cpu"), ZeroListing::NotListed);
        // No symbol at 0 (x86-64 from 6.15, arm64).
        assert_eq!(
            kallsyms_at_zero(b"ffff800080000000 T _text\n", "__per_cpu_start"),
            ZeroListing::NotListed
        );
        // Cut before the run ends: more is needed, whatever the cut.
        for cut in 0..text.len() - b"ffffffff81000000 T _stext\n".len() - 20 {
            assert_eq!(
                kallsyms_at_zero(&text[..cut], "cpu_debug_store"),
                ZeroListing::Unknown,
                "cut at {cut}"
            );
        }
        // Addresses hidden from the reader: every line reads 0, the run never ends.
        let hidden = b"0000000000000000 T _stext\n0000000000000000 T _text\n";
        assert_eq!(kallsyms_at_zero(hidden, "_stext"), ZeroListing::Unknown);
        // A module's symbol at 0 is not vmlinux's.
        let module = b"0000000000000000 t foo\t[mod]\nffffffff81000000 T _stext\n";
        assert_eq!(kallsyms_at_zero(module, "foo"), ZeroListing::NotListed);
        // Not kallsyms text.
        assert_eq!(kallsyms_at_zero(b"hello\n", "x"), ZeroListing::Unknown);
        assert_eq!(kallsyms_at_zero(b"zz T x\n", "x"), ZeroListing::Unknown);
        assert_eq!(kallsyms_at_zero(b" T x\n", "x"), ZeroListing::Unknown);
    }

    fn k(ty: KcfgType, size: u32, signed: bool) -> Kcfg {
        Kcfg {
            ty,
            size,
            align: size.min(8),
            signed,
            data_off: 0,
        }
    }

    fn val(kc: Kcfg, v: &str) -> std::result::Result<std::vec::Vec<u8>, std::string::String> {
        let mut out = std::vec![0u8; kc.size as usize];
        set_value(&kc, &mut out, v.as_bytes())
            .map(|()| out)
            .map_err(|e| std::format!("{e}"))
    }

    #[test]
    fn strtoull_like() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"250"), Some(250));
        assert_eq!(parse_u64(b"0x10"), Some(16));
        assert_eq!(parse_u64(b"0X1f"), Some(31));
        assert_eq!(parse_u64(b"010"), Some(8));
        assert_eq!(parse_u64(b"  +7"), Some(7));
        assert_eq!(parse_u64(b"-1"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"0x"), None);
        assert_eq!(parse_u64(b"08"), None);
        assert_eq!(parse_u64(b"12 "), None);
        assert_eq!(parse_u64(b"-"), None);
        assert_eq!(parse_u64(b"abc"), None);
    }

    #[test]
    fn kconfig_values_like_libbpf() {
        let b = k(KcfgType::Bool, 1, false);
        assert_eq!(val(b, "y").unwrap(), [1]);
        assert_eq!(val(b, "n").unwrap(), [0]);
        assert!(val(b, "m").is_err());
        assert_eq!(
            val(b, "1").unwrap_err(),
            "numeric kconfig value implies an integer type"
        );
        let t = k(KcfgType::Tristate, 4, false);
        assert_eq!(val(t, "y").unwrap(), [1, 0, 0, 0]);
        assert_eq!(val(t, "m").unwrap(), [2, 0, 0, 0]);
        assert_eq!(val(t, "n").unwrap(), [0, 0, 0, 0]);
        assert!(val(t, "1").is_err());
        let c = k(KcfgType::Char, 1, true);
        assert_eq!(val(c, "m").unwrap(), [b'm']);
        assert_eq!(val(c, "127").unwrap(), [127]);
        assert!(val(c, "128").is_err());
        assert_eq!(val(c, "-128").unwrap(), [0x80]);
        let u16_ = k(KcfgType::Int, 2, false);
        assert_eq!(val(u16_, "0xffff").unwrap(), [0xff, 0xff]);
        assert!(val(u16_, "0x10000").is_err());
        assert!(val(u16_, "-1").is_err());
        assert!(val(u16_, "y").is_err());
        let i64_ = k(KcfgType::Int, 8, true);
        assert_eq!(val(i64_, "-1").unwrap(), [0xff; 8]);
        let s = k(KcfgType::CharArr, 8, false);
        assert_eq!(val(s, "\"(none)\"").unwrap(), *b"(none)\0\0");
        assert_eq!(val(s, "\"0123456789\"").unwrap(), *b"0123456\0");
        assert_eq!(val(s, "\"\"").unwrap(), [0; 8]);
        assert!(val(s, "\"").is_err());
        assert!(val(s, "\"abc").is_err());
        assert!(val(s, "12").is_err());
        assert!(val(k(KcfgType::Int, 4, false), "\"x\"").is_err());
        assert!(val(b, "").is_err());
        // Only the first character of y/n/m counts, as in libbpf.
        assert_eq!(val(b, "yes").unwrap(), [1]);
    }

    #[test]
    fn numbers_in_range() {
        assert!(in_range(&k(KcfgType::Int, 4, true), (-1i64) as u64));
        assert!(in_range(&k(KcfgType::Int, 4, true), 0x7fff_ffff));
        assert!(!in_range(&k(KcfgType::Int, 4, true), 0x8000_0000));
        assert!(in_range(&k(KcfgType::Int, 4, false), 0xffff_ffff));
        assert!(!in_range(&k(KcfgType::Int, 4, false), 0x1_0000_0000));
        assert!(in_range(&k(KcfgType::Int, 8, false), u64::MAX));
        let mut out = [0u8; 1];
        assert!(set_num(&k(KcfgType::Bool, 1, false), &mut out, 2).is_err());
        assert!(set_num(&k(KcfgType::Tristate, 4, false), &mut [0u8; 4], 1).is_err());
    }

    #[test]
    fn relocations_like_libbpf() {
        let kfunc = Extern {
            name: "bpf_f",
            essential: "bpf_f",
            kind: ExternKind::Ksym(Ksym {
                type_id: 3,
                func: true,
            }),
            ..Extern::default()
        };
        let call = Insn {
            code: uapi::CALL,
            regs: 0x10,
            off: 0,
            imm: -1,
        };
        let mut i = [call];
        let set = Resolved {
            set: true,
            kernel_btf_id: 1234,
            ..Resolved::default()
        };
        assert_eq!(apply(&mut i, 0, &kfunc, &set, true).unwrap(), FdNeed::None);
        assert_eq!(i[0].src(), uapi::BPF_PSEUDO_KFUNC_CALL);
        assert_eq!((i[0].imm, i[0].off), (1234, 0));
        // A module's kfunc: its BTF's fd_array index in off.
        let in_module = Resolved {
            module: 2,
            fd_idx: 3,
            ..set
        };
        let mut i = [call];
        assert_eq!(
            apply(&mut i, 0, &kfunc, &in_module, true).unwrap(),
            FdNeed::None
        );
        assert_eq!((i[0].imm, i[0].off), (1234, 3));
        let mut i = [call];
        apply(&mut i, 7, &kfunc, &Resolved::default(), true).unwrap();
        assert_eq!(
            i[0],
            Insn {
                code: uapi::CALL,
                regs: 0,
                off: 0,
                imm: 2_002_000_007
            }
        );
        let ld = Insn {
            code: uapi::LD_IMM64,
            regs: 0x01,
            off: 0,
            imm: 0,
        };
        let kc = Extern {
            kind: ExternKind::Kconfig(Kcfg {
                data_off: 12,
                ..k(KcfgType::Int, 4, false)
            }),
            ..Extern::default()
        };
        let mut i = [ld, Insn::default()];
        assert_eq!(apply(&mut i, 0, &kc, &set, false).unwrap(), FdNeed::Kconfig);
        assert_eq!(i[0].src(), uapi::BPF_PSEUDO_MAP_VALUE);
        assert_eq!(i[1].imm, 12);
        let var = Extern {
            kind: ExternKind::Ksym(Ksym {
                type_id: 5,
                func: false,
            }),
            ..Extern::default()
        };
        let mut i = [ld, Insn::default()];
        apply(&mut i, 0, &var, &set, false).unwrap();
        assert_eq!(
            (i[0].src(), i[0].imm, i[1].imm),
            (uapi::BPF_PSEUDO_BTF_ID, 1234, 0)
        );
        let typeless = Extern {
            kind: ExternKind::Ksym(Ksym::default()),
            ..Extern::default()
        };
        // A module's typed ksym: the executor writes its BTF's fd in the second half.
        let mut i = [ld, Insn::default()];
        assert_eq!(
            apply(&mut i, 0, &var, &in_module, false).unwrap(),
            FdNeed::ModuleBtf(2)
        );
        assert_eq!(
            (i[0].src(), i[0].imm, i[1].imm),
            (uapi::BPF_PSEUDO_BTF_ID, 1234, 0)
        );
        let at = Resolved {
            set: true,
            addr: 0xffff_ffff_8100_0000,
            ..Resolved::default()
        };
        let mut i = [ld, Insn::default()];
        apply(&mut i, 0, &typeless, &at, false).unwrap();
        assert_eq!(
            (i[0].src(), i[0].imm as u32, i[1].imm as u32),
            (0, 0x8100_0000, 0xffff_ffff)
        );
        assert!(apply(&mut [call], 0, &var, &set, true).is_err());
        assert!(apply(&mut [ld], 0, &var, &set, false).is_err());
    }

    mod plan {
        use super::super::*;
        use crate::btf::testutil::{parse, parse_split, VBtf, B};
        use crate::btf::{BTF_INT_SIGNED, BTF_VAR_GLOBAL_ALLOCATED};
        use crate::core_relo::{
            module_index_in, IndexEntry, KernelIndex, ModuleBtf, ModuleTargets,
        };
        use crate::elf::Elf;
        use crate::mem::VecAlloc;
        use crate::object::externs::{compile_c, ALL_KINDS, PRELUDE};
        use crate::object::MapKind;
        use crate::plan::{KernelType, Options, Plan};
        use std::collections::HashMap;
        use std::string::String;
        use std::vec::Vec;

        /// A kernel with: `kf(struct task_struct *)`, `kf_bad(int, int)` (the local
        /// declaration has one parameter), a per-CPU `int pcpu`; and, with a module,
        /// `testmod` whose BTF has `int f(int)`, `int mvar` and `int mvar2`.
        struct Kernel {
            btf: VBtf,
            module: Option<(VBtf, KernelIndex<Vec<IndexEntry>>)>,
        }

        /// `testmod`'s ids: after vmlinux's 8 types.
        const MOD_F: u32 = 10;
        const MOD_VAR: u32 = 11;
        const MOD_OPS: u32 = 14;
        const MOD_OPS_VALUE: u32 = 15;

        fn with_module(k: Kernel) -> Kernel {
            with_module_padded(k, false)
        }

        /// The module of [`with_module`]; with `pad`, one more type before the
        /// struct_ops wrapper, which is then `MOD_OPS_VALUE + 1`.
        fn with_module_padded(k: Kernel, pad: bool) -> Kernel {
            let mut m = B::split(k.btf.type_count(), k.btf.header().str_len);
            let proto = m.proto(1, &[("a", 1)]); // 9
            assert_eq!(m.func("f", proto, 1), MOD_F);
            assert_eq!(m.var("mvar", 1, BTF_VAR_GLOBAL_ALLOCATED), MOD_VAR);
            m.var("mvar2", 1, BTF_VAR_GLOBAL_ALLOCATED); // 12
                                                         // A struct_ops type of the module and its kernel wrapper.
            let fptr = m.ptr(proto); // 13
            let ops = m.struct_("mod_ops", 16, &[("f", fptr, 0), ("x", 1, 64)]); // 14
            assert_eq!(ops, MOD_OPS);
            if pad {
                m.ptr(ops);
            }
            let wrapper = m.struct_(
                "bpf_struct_ops_mod_ops",
                24,
                &[("refcnt", 1, 0), ("data", ops, 64)],
            );
            assert_eq!(wrapper, MOD_OPS_VALUE + u32::from(pad));
            let split = parse_split(m.build(), &k.btf).unwrap();
            let index = module_index_in(&k.btf, &split, &mut VecAlloc::default()).unwrap();
            Kernel {
                module: Some((split, index)),
                ..k
            }
        }

        impl ModuleTargets for Kernel {
            fn count(&self) -> Result<'static, usize> {
                Ok(usize::from(self.module.is_some()))
            }
            fn module(&self, _: usize) -> Result<'static, ModuleBtf<'_>> {
                let (split, index) = self.module.as_ref().ok_or(Error::malformed("no"))?;
                ModuleBtf::new(&self.btf, split, index)
            }
            fn name(&self, _: usize) -> Result<'static, &str> {
                Ok("testmod")
            }
        }

        const KF: u32 = 5;
        const PCPU: u32 = 8;

        fn kernel() -> Kernel {
            let mut b = B::new();
            let int = b.int("int", 4, u32::from(BTF_INT_SIGNED), 32); // 1
            let ts = b.struct_("task_struct", 8, &[("pid", int, 0)]); // 2
            let ptr = b.ptr(ts); // 3
            let proto = b.proto(0, &[("p", ptr)]); // 4
            assert_eq!(b.func("kf", proto, 1), KF); // 5
            let proto2 = b.proto(int, &[("a", int), ("b", int)]); // 6
            b.func("kf_bad", proto2, 1); // 7
            assert_eq!(b.var("pcpu", int, BTF_VAR_GLOBAL_ALLOCATED), PCPU); // 8
            Kernel {
                btf: parse(b.build()).unwrap(),
                module: None,
            }
        }

        impl KernelBtf for Kernel {
            fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
                let id = self.btf.find_by_name_kind(name, kind).ok()??;
                Some(KernelType {
                    module: 0,
                    type_id: id,
                })
            }
            fn vmlinux(&self) -> Option<&dyn Types> {
                Some(&self.btf)
            }
            fn core_modules(&self) -> Option<&dyn ModuleTargets> {
                Some(self)
            }
        }

        struct Config(HashMap<&'static str, &'static [u8]>);
        impl KernelConfig for Config {
            fn get(&self, name: &str) -> Option<&[u8]> {
                self.0.get(name).copied()
            }
        }

        struct Syms;
        impl KernelSymbols for Syms {
            fn address(&self, name: &str) -> SymbolAddress {
                match name {
                    "tless" => SymbolAddress::At(0xffff_ffff_8123_4560),
                    "pcpu" => SymbolAddress::At(0x2_0000),
                    _ => SymbolAddress::Missing,
                }
            }
        }

        fn config() -> Config {
            Config(HashMap::from([
                ("CONFIG_A", &b"y"[..]),
                ("CONFIG_S", &b"\"abcdef\""[..]),
                ("CONFIG_N", &b"0x10"[..]),
                ("CONFIG_T", &b"m"[..]),
            ]))
        }

        const KINFO: KernelInfo = KernelInfo {
            page_size: 4096,
            possible_cpus: 2,
            kernel_version: 0x060c11,
        };

        /// Plan `src` and hand the result (or the error text) to `f`.
        fn plan_with(
            name: &str,
            src: &str,
            k: &Kernel,
            cfg: Option<&dyn KernelConfig>,
            syms: Option<&dyn KernelSymbols>,
            f: impl FnOnce(core::result::Result<&Plan<'_, '_, VecAlloc>, String>),
        ) {
            let Some(data) = compile_c(name, &std::format!("{PRELUDE}{src}")) else {
                return;
            };
            let mut a = VecAlloc::default();
            let elf = Elf::parse(&data, &mut a).unwrap();
            let obj = Object::parse(elf, "t", &mut a).unwrap();
            let opts = Options {
                kconfig: cfg,
                symbols: syms,
                ..Options::default()
            };
            match Plan::build_with(&obj, &KINFO, Some(k as &dyn KernelBtf), &opts, &mut a) {
                Ok(p) => f(Ok(&p)),
                Err(e) => f(Err(std::format!("{e}"))),
            }
        }

        /// kfuncs, typed ksyms and attach targets that vmlinux lacks are found in the
        /// module's BTF, as libbpf finds them: the kfunc call's `off` is the module's
        /// `fd_array` index, the ksym's second half an fd site, the attach target the
        /// module's place in the plan.
        #[test]
        fn module_btf_like_libbpf() {
            let m = with_module(kernel());
            // vmlinux's kf first, then the module's var and kfunc: one module, fd_array
            // index 1 (given at the first kfunc, as libbpf does).
            let src =
                "struct task_struct { int pid; }; extern void kf(struct task_struct *) __ksym; \
                       extern int f(int) __ksym; extern int mvar __ksym; \
                       extern int mvar2 __ksym __weak; int o; \
                       SEC(\"syscall\") int p(void *c) { kf(0); o = f(mvar) + \
                       (int)(long)&mvar2; return 0; }";
            plan_with("module_kfunc", src, &m, None, None, |p| {
                let p = p.unwrap();
                let mods = p.modules();
                assert_eq!(mods.len(), 1, "{mods:?}");
                assert_eq!(mods[0].name(), "testmod");
                assert_eq!(mods[0].fd_idx, 1);
                assert_eq!(mods[0].index, 0);
                let ins: Vec<Insn> = p.insns.to_vec();
                let calls: Vec<(i16, i32)> = ins
                    .iter()
                    .filter(|i| i.code == uapi::CALL && i.src() == uapi::BPF_PSEUDO_KFUNC_CALL)
                    .map(|i| (i.off, i.imm))
                    .collect();
                assert_eq!(calls, [(0, KF as i32), (1, MOD_F as i32)]);
                let vars: Vec<usize> = (0..ins.len() - 1)
                    .filter(|&i| ins[i].is_ld_imm64() && ins[i].src() == uapi::BPF_PSEUDO_BTF_ID)
                    .collect();
                assert_eq!(vars.len(), 2, "{ins:?}");
                let sites: Vec<(u32, u32)> = p
                    .fd_sites
                    .iter()
                    .filter(|s| s.module != 0)
                    .map(|s| (s.insn, s.module))
                    .collect();
                // Both ksyms name the module's BTF by fd, in their second half.
                for &v in &vars {
                    assert!(sites.contains(&(v as u32 + 1, 1)), "{sites:?} {v}");
                    assert_eq!(ins[v + 1].imm, 0);
                }
                assert!(vars.iter().any(|&v| ins[v].imm == MOD_VAR as i32));
                // Every site is in its program's span.
                assert_eq!(
                    p.fd_sites.len(),
                    p.progs.iter().map(|q| q.sites.len).sum::<u32>() as usize
                );
            });
            // fentry into the module, named or not; no kfunc, so no fd_array index.
            for sec in ["fentry/f", "fentry/testmod:f", "fentry/test:f"] {
                let src = std::format!("SEC(\"{sec}\") int p(void *c) {{ return 0; }}");
                plan_with("module_fentry", &src, &m, None, None, |p| {
                    let p = p.unwrap();
                    let a = p.progs[0].attach.unwrap();
                    assert_eq!((a.module, a.type_id), (1, MOD_F), "{sec}");
                    let mods = p.modules();
                    assert_eq!((mods.len(), mods[0].fd_idx, mods[0].sym), (1, 0, "f"));
                });
            }
            // A plan of vmlinux alone has no modules, and its receipt is as before.
            let plain =
                "struct task_struct { int pid; }; extern void kf(struct task_struct *) __ksym; \
                         SEC(\"syscall\") int p(void *c) { kf(0); return 0; }";
            let mut receipts = Vec::new();
            for k in [&m, &kernel()] {
                plan_with("vmlinux_only", plain, k, None, None, |p| {
                    let p = p.unwrap();
                    assert!(p.modules().is_empty());
                    receipts.push(p.receipt);
                });
            }
            assert!(receipts.len() < 2 || receipts[0] == receipts[1]);
        }

        /// A struct_ops map of a module's type: laid out on the module's wrapper type,
        /// created with the module's BTF (value_type_btf_obj_fd), its program attached
        /// to the module's type.
        #[test]
        fn module_struct_ops_like_libbpf() {
            let m = with_module(kernel());
            let src = "struct mod_ops { int (*f)(int); int x; }; \
                       SEC(\"struct_ops/f\") int f(void *c) { return 0; } \
                       SEC(\".struct_ops\") struct mod_ops ops = { .f = (void *)f, .x = 7 };";
            plan_with("module_st_ops", src, &m, None, None, |p| {
                let p = p.unwrap();
                let mods = p.modules();
                assert_eq!(mods.len(), 1, "{mods:?}");
                assert_eq!(
                    (mods[0].sym, mods[0].type_id, mods[0].fd_idx),
                    ("mod_ops", MOD_OPS, 0)
                );
                let mi = p.obj.maps.iter().position(|mm| mm.name == "ops").unwrap();
                let pm = p.maps[mi];
                assert_eq!(
                    (pm.vmlinux_value_type_id, pm.value_type_module),
                    (MOD_OPS_VALUE, 1)
                );
                assert_eq!(pm.def.value_size, 24);
                let a = p.progs[0].attach.unwrap();
                assert_eq!((a.module, a.type_id), (1, MOD_OPS));
                let mut a = VecAlloc::default();
                let mut maps = std::vec![0; p.maps.len()];
                let mut progs = std::vec![0; p.progs.len()];
                let mut r = Rec::default();
                crate::exec::execute(p, &mut a, &mut r, &mut maps, &mut progs).unwrap();
                assert_eq!(r.asked, [("testmod".into(), "mod_ops".into(), MOD_OPS)]);
                // The program is attached to the module's type through its BTF fd.
                assert_eq!(r.loads, [(false, 102)]);
            });
            // The receipt covers the kernel's value type: the same object against a
            // module whose wrapper has another id, all else equal, hashes otherwise.
            let mut seen = Vec::new();
            for pad in [false, true] {
                plan_with(
                    "module_st_ops",
                    src,
                    &with_module_padded(kernel(), pad),
                    None,
                    None,
                    |p| {
                        let p = p.unwrap();
                        let mi = p.obj.maps.iter().position(|mm| mm.name == "ops").unwrap();
                        seen.push((p.maps[mi].vmlinux_value_type_id, p.receipt));
                    },
                );
            }
            if let [(a, ra), (b, rb)] = seen[..] {
                assert_eq!((a, b), (MOD_OPS_VALUE, MOD_OPS_VALUE + 1));
                assert_ne!(ra, rb);
            }
        }

        /// A struct_ops type of vmlinux whose `bpf_struct_ops_<type>` wrapper only a
        /// module has (the module's copy of the type deduplicated into vmlinux's): as
        /// libbpf, which finds the wrapper first and the type through that module's
        /// split BTF, the map is the module's; without the wrapper anywhere the plan
        /// fails naming it.
        #[test]
        fn st_ops_wrapper_only_in_a_module() {
            let k = {
                let mut b = B::new();
                let int = b.int("int", 4, u32::from(BTF_INT_SIGNED), 32); // 1
                let proto = b.proto(int, &[("a", int)]); // 2
                let fptr = b.ptr(proto); // 3
                let ops = b.struct_("vm_ops", 16, &[("f", fptr, 0), ("x", int, 64)]); // 4
                assert_eq!(ops, 4);
                Kernel {
                    btf: parse(b.build()).unwrap(),
                    module: None,
                }
            };
            let src = "struct vm_ops { int (*f)(int); int x; }; \
                       SEC(\"struct_ops/f\") int f(void *c) { return 0; } \
                       SEC(\".struct_ops\") struct vm_ops ops = { .f = (void *)f, .x = 7 };";
            plan_with("st_wrapper_none", src, &k, None, None, |p| {
                let e = p.err().expect("no wrapper anywhere");
                assert!(e.contains("bpf_struct_ops_"), "{e}");
            });
            let mut m = B::split(k.btf.type_count(), k.btf.header().str_len);
            let w = m.struct_(
                "bpf_struct_ops_vm_ops",
                24,
                &[("refcnt", 1, 0), ("data", 4, 64)],
            );
            let split = parse_split(m.build(), &k.btf).unwrap();
            let index = module_index_in(&k.btf, &split, &mut VecAlloc::default()).unwrap();
            let k = Kernel {
                module: Some((split, index)),
                ..k
            };
            plan_with("st_wrapper_in_module", src, &k, None, None, |p| {
                let p = p.unwrap();
                let m = p.maps.iter().find(|m| m.vmlinux_value_type_id != 0);
                let m = m.expect("a struct_ops map");
                assert_eq!((m.vmlinux_value_type_id, m.value_type_module), (w, 1));
                assert_eq!(p.modules().len(), 1, "the wrapper's module");
            });
        }

        /// `fentry/testmod:kf`, where vmlinux has a `kf` too: as libbpf, which looks
        /// through the module's split BTF, vmlinux's type first, the target is
        /// vmlinux's `kf` with the module's BTF object (`kf_bad`, which only vmlinux
        /// has, likewise). The kernel's lookup of `kf` by name would find vmlinux's
        /// object, so the module's is asked for by the first of its types only it
        /// has (`own`). If it has none, the plan is refused before anything is
        /// created.
        #[test]
        fn named_module_target_shadowed_by_vmlinux() {
            let module = |own: bool| {
                let k = kernel();
                let mut m = B::split(k.btf.type_count(), k.btf.header().str_len);
                let proto = m.proto(1, &[("a", 1)]); // 9
                let kf = m.func("kf", proto, 1); // 10
                if own {
                    m.var("own", 1, BTF_VAR_GLOBAL_ALLOCATED); // 11
                }
                let split = parse_split(m.build(), &k.btf).unwrap();
                let index = module_index_in(&k.btf, &split, &mut VecAlloc::default()).unwrap();
                (
                    Kernel {
                        module: Some((split, index)),
                        ..k
                    },
                    kf,
                )
            };
            let src = "SEC(\"fentry/testmod:kf\") int p(void *c) { return 0; }";
            let (k, kf) = module(true);
            let bad = "SEC(\"fentry/testmod:kf_bad\") int p(void *c) { return 0; }";
            plan_with("shadowed_bad", bad, &k, None, None, |p| {
                let p = p.unwrap();
                let a = p.progs[0].attach.unwrap();
                assert_eq!((a.module, a.type_id), (1, 7));
                assert_eq!(p.modules()[0].lookup_name(), ("", "own"));
            });
            plan_with("shadowed", src, &k, None, None, |p| {
                let p = p.unwrap();
                let a = p.progs[0].attach.unwrap();
                assert_eq!((a.module, a.type_id), (1, KF));
                let m = &p.modules()[0];
                assert_eq!(m.lookup_name(), ("", "own"));
                assert_eq!((m.kind, m.type_id), (BtfKind::Var as u32, kf + 1));
                let mut a = VecAlloc::default();
                let mut maps = std::vec![0; p.maps.len()];
                let mut progs = std::vec![0; p.progs.len()];
                let mut r = Rec::default();
                crate::exec::execute(p, &mut a, &mut r, &mut maps, &mut progs).unwrap();
                assert_eq!(r.asked, [("testmod".into(), "own".into(), kf + 1)]);
            });
            // Not named: vmlinux's kf, no module.
            let plain = "SEC(\"fentry/kf\") int p(void *c) { return 0; }";
            plan_with("shadowed_plain", plain, &k, None, None, |p| {
                let p = p.unwrap();
                assert!(p.modules().is_empty());
                assert_eq!(p.progs[0].attach.unwrap().type_id, KF);
            });
            let (k, _) = module(false);
            plan_with("shadowed_none", src, &k, None, None, |p| {
                let Err(e) = p else {
                    panic!("planned, though nothing names testmod's BTF object")
                };
                assert!(
                    e.contains("none of the module's first types is its alone"),
                    "{e}"
                );
            });
        }

        /// Records what the executor sends: the module BTF fds asked for, and per
        /// program whether it has an fd_array and its attach_btf_obj_fd. (What the
        /// fd_array and the instructions hold is checked in the VM, against the
        /// kernel: the core has no `unsafe` to read them here.)
        #[derive(Default)]
        struct Rec {
            next: i32,
            asked: Vec<(String, String, u32)>,
            loads: Vec<(bool, u32)>,
            closed: Vec<i32>,
            refuse_module: Option<i32>,
        }

        impl crate::exec::Bpf for Rec {
            fn bpf(&mut self, cmd: crate::exec::Cmd<'_>) -> core::result::Result<i32, i32> {
                if let crate::exec::Cmd::ProgLoad(a) = &cmd {
                    self.loads.push((a.fd_array != 0, a.attach_fd));
                }
                self.next += 1;
                Ok(100 + self.next)
            }
            fn close(&mut self, fd: i32) {
                self.closed.push(fd);
            }
            fn delete_elem(&mut self, _: i32, _: u32) -> core::result::Result<(), i32> {
                unreachable!("the object has no struct_ops map")
            }
            fn restore_slot(&mut self, _: i32, _: u32, _: i32) -> core::result::Result<(), i32> {
                unreachable!("the object has no program array")
            }
            fn module_btf_fd(
                &mut self,
                m: &crate::plan::PlannedModule<'_>,
            ) -> core::result::Result<i32, i32> {
                self.asked.push((
                    m.name().into(),
                    {
                        let (p, s) = m.lookup_name();
                        std::format!("{p}{s}")
                    },
                    m.type_id,
                ));
                if let Some(e) = self.refuse_module {
                    return Err(e);
                }
                self.next += 1;
                Ok(100 + self.next)
            }
        }

        /// The executor opens each module's BTF once, before anything is created, and
        /// hands its fd to the programs (fd_array, attach_btf_obj_fd); then closes it. Refused, the load
        /// fails naming the symbol, with nothing left open.
        #[test]
        fn module_btf_fds_reach_the_programs() {
            let m = with_module(kernel());
            let src = "extern int f(int) __ksym; extern int mvar __ksym; int o; \
                       SEC(\"syscall\") int p(void *c) { o = f(mvar); return 0; } \
                       SEC(\"fentry/f\") int q(void *c) { return 0; }";
            plan_with("module_exec", src, &m, None, None, |p| {
                let p = p.unwrap();
                let mut a = VecAlloc::default();
                let mut maps = std::vec![0; p.maps.len()];
                let mut progs = std::vec![0; p.progs.len()];
                let mut r = Rec::default();
                crate::exec::execute(p, &mut a, &mut r, &mut maps, &mut progs).unwrap();
                assert_eq!(r.asked, [("testmod".into(), "f".into(), MOD_F)]);
                // BTF 101, the module's BTF 102, then the .bss map and the programs.
                let btf_fd = 102;
                assert_eq!(r.loads.len(), 2);
                assert_eq!(r.loads, [(true, 0), (true, btf_fd as u32)]);
                assert!(
                    r.closed.contains(&btf_fd) && r.closed.contains(&101),
                    "{:?}",
                    r.closed
                );
                assert!(progs.iter().all(|f| !r.closed.contains(f)));

                let mut r = Rec {
                    refuse_module: Some(95),
                    ..Rec::default()
                };
                let e = crate::exec::execute(p, &mut a, &mut r, &mut maps, &mut progs)
                    .expect_err("module BTF refused");
                let text = std::format!("{e}");
                assert!(
                    text.contains("'f'") && text.contains("module's BTF"),
                    "{text}"
                );
                assert_eq!(e.errno(), 95);
                // Only the object's BTF was created, and it is closed.
                assert_eq!((r.next, r.closed.as_slice()), (1, &[101][..]));
                assert!(r.loads.is_empty());
            });
        }

        #[test]
        fn relocated_like_libbpf() {
            let k = kernel();
            let cfg = config();
            plan_with("plan", ALL_KINDS, &k, Some(&cfg), Some(&Syms), |p| {
                let p = p.unwrap();
                let ins: Vec<Insn> = p.insns.to_vec();
                let has = |i: Insn| ins.contains(&i);
                // kf resolved: a kfunc call to its vmlinux id.
                assert!(ins.iter().any(|i| i.code == uapi::CALL
                    && i.src() == uapi::BPF_PSEUDO_KFUNC_CALL
                    && i.imm == KF as i32));
                // kf_missing (extern #8) and kf_bad (#7, incompatible, weak): poisoned.
                for ext in [7, 8] {
                    assert!(has(Insn {
                        code: uapi::CALL,
                        regs: 0,
                        off: 0,
                        imm: POISON_CALL_KFUNC_BASE + ext
                    }));
                }
                let ld = |at: usize| (ins[at], ins[at + 1]);
                let lds: Vec<(Insn, Insn)> = (0..ins.len() - 1)
                    .filter(|&i| ins[i].is_ld_imm64())
                    .map(ld)
                    .collect();
                // pcpu: typed, found in BTF (kallsyms also set it, as in libbpf).
                assert!(lds.iter().any(|(a, b)| a.src() == uapi::BPF_PSEUDO_BTF_ID
                    && a.imm == PCPU as i32
                    && b.imm == 0));
                // tless: its address; tless_weak: 0.
                assert!(lds.iter().any(|(a, b)| a.src() == 0
                    && a.imm as u32 == 0x8123_4560
                    && b.imm as u32 == 0xffff_ffff));
                // kconfig loads: map value addresses at each value's offset.
                let kmap = p
                    .obj
                    .maps
                    .iter()
                    .position(|m| m.kind == MapKind::Kconfig)
                    .unwrap() as u32;
                let mut offs: Vec<i32> = p
                    .fd_sites
                    .iter()
                    .filter(|s| s.map == kmap)
                    .map(|s| {
                        let i = s.insn as usize;
                        assert_eq!(ins[i].src(), uapi::BPF_PSEUDO_MAP_VALUE);
                        ins[i + 1].imm
                    })
                    .collect();
                offs.sort();
                assert_eq!(offs, [0, 8, 12, 16, 18, 19]);
                let mut want = [0u8; 24];
                want[0] = 0x10;
                want[8] = 2;
                want[12..16].copy_from_slice(&0x060c11u32.to_le_bytes());
                want[18] = 1;
                want[19..24].copy_from_slice(b"abcd\0");
                assert_eq!(&p.kconfig[..], &want[..]);
                assert_eq!(p.map_data(kmap as usize), &want[..]);
                let set: Vec<bool> = p.externs.iter().map(|r| r.set).collect();
                assert_eq!(
                    set,
                    [true, true, true, false, true, true, true, false, false, true, true, false]
                );
            });
        }

        /// What libbpf probes follows the configuration: the cookie needs tracepoint
        /// programs (CONFIG_BPF_EVENTS), the syscall wrapper's probe a kprobe
        /// (CONFIG_KPROBE_EVENTS); unknown without a configuration: true.
        #[test]
        fn probed_values_follow_the_configuration() {
            let src = "extern _Bool LINUX_HAS_BPF_COOKIE __kconfig;\n\
                       extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;\n\
                       int o[2]; SEC(\"syscall\") int p(void *c)\n\
                       { o[0] = LINUX_HAS_BPF_COOKIE; o[1] = LINUX_HAS_SYSCALL_WRAPPER; return 0; }";
            let k = kernel();
            let arch = u8::from(has_syscall_wrapper());
            let both = Config(HashMap::from([
                ("CONFIG_BPF_EVENTS", &b"y"[..]),
                ("CONFIG_KPROBE_EVENTS", &b"y"[..]),
            ]));
            let none = Config(HashMap::new());
            let cookie_only = Config(HashMap::from([("CONFIG_BPF_EVENTS", &b"y"[..])]));
            let cases: [(&str, Option<&dyn KernelConfig>, [u8; 2]); 4] = [
                ("probed_unknown", None, [1, arch]),
                ("probed_both", Some(&both), [1, arch]),
                ("probed_none", Some(&none), [0, 0]),
                ("probed_cookie", Some(&cookie_only), [1, 0]),
            ];
            for (name, cfg, want) in cases {
                plan_with(name, src, &k, cfg, None, |p| {
                    let p = p.unwrap();
                    // Sorted by libbpf's order (size, then name): the cookie first.
                    assert_eq!(&p.kconfig[..], &want[..], "{name}");
                });
            }
        }

        /// symbol_names lists what resolve asks for: the kernel module looks those up
        /// before planning (one BPF program run each), so the two must agree.
        #[test]
        fn symbol_names_are_what_resolve_asks() {
            struct Asked(std::cell::RefCell<Vec<std::string::String>>);
            impl KernelSymbols for Asked {
                fn address(&self, name: &str) -> SymbolAddress {
                    self.0.borrow_mut().push(name.into());
                    Syms.address(name)
                }
            }
            let Some(data) = compile_c("names", &std::format!("{PRELUDE}{ALL_KINDS}")) else {
                return;
            };
            let k = kernel();
            let cfg = config();
            let mut a = VecAlloc::default();
            let elf = Elf::parse(&data, &mut a).unwrap();
            let obj = Object::parse(elf, "t", &mut a).unwrap();
            let asked = Asked(Default::default());
            let opts = Options {
                kconfig: Some(&cfg),
                symbols: Some(&asked),
                ..Options::default()
            };
            Plan::build_with(&obj, &KINFO, Some(&k as &dyn KernelBtf), &opts, &mut a).unwrap();
            let names: Vec<&str> = symbol_names(&obj).collect();
            assert!(
                names.contains(&"tless") && names.contains(&"pcpu"),
                "{names:?}"
            );
            assert_eq!(*asked.0.borrow(), names);
            // Without a typeless ksym there is nothing to look up.
            let typed = "extern const int pcpu __ksym;\n\
                         SEC(\"xdp\") int p(void *c) { return (long)&pcpu != 0; }\n";
            let Some(data) = compile_c("names_typed", &std::format!("{PRELUDE}{typed}")) else {
                return;
            };
            let elf = Elf::parse(&data, &mut a).unwrap();
            let obj = Object::parse(elf, "t", &mut a).unwrap();
            assert_eq!(symbol_names(&obj).count(), 0);
        }

        #[test]
        fn refusals_name_the_extern() {
            let k = kernel();
            let cfg = config();
            let expect = |name: &str,
                          cfg: Option<&dyn KernelConfig>,
                          syms: Option<&dyn KernelSymbols>,
                          k: &Kernel,
                          src: &str,
                          want: &[&str]| {
                plan_with(name, src, k, cfg, syms, |p| {
                    let e = p.err().unwrap_or_default();
                    for w in want {
                        assert!(e.contains(w), "{name}: {e:?} lacks {w:?}");
                    }
                });
            };
            expect(
                "nocfg",
                None,
                Some(&Syms),
                &k,
                ALL_KINDS,
                &["extern 'CONFIG_N'", "kernel's configuration"],
            );
            expect(
                "nosyms",
                Some(&cfg),
                None,
                &k,
                ALL_KINDS,
                &["extern 'tless'", "symbol addresses"],
            );
            let partial = Config(HashMap::from([("CONFIG_T", &b"y"[..])]));
            expect(
                "strong",
                Some(&partial),
                Some(&Syms),
                &k,
                ALL_KINDS,
                &["extern 'CONFIG_A'", "(strong) extern"],
            );
            let bad = Config(HashMap::from([
                ("CONFIG_A", &b"m"[..]),
                ("CONFIG_T", &b"y"[..]),
                ("CONFIG_S", &b"\"x\""[..]),
            ]));
            expect(
                "badval",
                Some(&bad),
                Some(&Syms),
                &k,
                ALL_KINDS,
                &["extern 'CONFIG_A'", "'m'"],
            );
            let body = "int o; SEC(\"syscall\") int p(void *c) { o = f(1); return 0; }";
            expect(
                "strongkf",
                None,
                None,
                &k,
                &std::format!("extern int f(int) __ksym; {body}"),
                &["extern 'f'", "kfunc in the kernel's BTF not found"],
            );
            expect(
                "badproto",
                None,
                None,
                &k,
                "extern int kf_bad(int) __ksym; int o; SEC(\"syscall\") int p(void *c) { o = kf_bad(1); return 0; }",
                &["extern 'kf_bad'", "incompatible"],
            );
            let m = with_module(kernel());
            let fentry = "SEC(\"fentry/f\") int p(void *c) { return 0; }";
            expect(
                "badproto_module",
                None,
                None,
                &m,
                "extern int f(int, int) __ksym; int o; SEC(\"syscall\") int p(void *c) { o = f(1, 2); return 0; }",
                &["extern 'f'", "incompatible"],
            );
            expect(
                "named_other_module",
                None,
                None,
                &m,
                "SEC(\"fentry/othermod:f\") int p(void *c) { return 0; }",
                &["'f'", "BTF attach target in the kernel"],
            );
            expect(
                "missing_fentry",
                None,
                None,
                &k,
                fentry,
                &["'f'", "BTF attach target in the kernel"],
            );
            expect(
                "virtual",
                None,
                None,
                &k,
                "extern int LINUX_FOO __kconfig; int o; SEC(\"syscall\") int p(void *c) { o = LINUX_FOO; return 0; }",
                &["extern 'LINUX_FOO'", "LINUX_"],
            );
        }
    }
}

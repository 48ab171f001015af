// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Externs of an object: `__kconfig` variables, `__ksym` variables (typed and typeless)
//! and kfuncs, collected and laid out as libbpf 6.12's `bpf_object__collect_externs`
//! does, with the BTF fixups it makes before `BPF_BTF_LOAD`.
//!
//! # Model
//!
//! An extern is an undefined `STT_NOTYPE` symbol of global or weak binding with a name.
//! Its declaration is the first BTF VAR or FUNC of that name, which must have extern
//! linkage; the first DATASEC listing it says what it is: `.kconfig` (a value of the
//! kernel configuration or a libbpf "virtual" `LINUX_*` value, read by the program from
//! the `.kconfig` map) or `.ksyms` (a kernel variable or function, resolved against the
//! kernel's BTF or, typeless, its symbol addresses). Anything else is refused.
//!
//! Externs are kept in libbpf's order (`cmp_externs`): kconfig before ksyms; kconfig by
//! alignment (largest first), then size (smallest first), then name; ksyms by name. The
//! index in that order is what libbpf writes into a poisoned kfunc call, and the
//! kconfig layout follows it: each value at the next offset its alignment allows.
//!
//! BTF fixups, as libbpf makes them:
//! - when the first `.ksyms` DATASEC lists a FUNC, a VAR `dummy_ksym` of the first
//!   32-bit INT is appended to the BTF (the only change that grows it);
//! - every `.ksyms` entry becomes 4 bytes at offset 4 × its index; a VAR becomes a
//!   global allocated `int`, a FUNC becomes global, its entry points at `dummy_ksym`,
//!   and its unnamed parameters take the name `dummy_ksym` (the kernel wants global
//!   functions' parameters named);
//! - `.kconfig` VARs become global allocated, at their value's offset; the DATASEC's
//!   size is the `.kconfig` map's value size.
//!
//! # Invariants
//!
//! After collection (in `Object::parse`): every extern's `btf_id` is a VAR or FUNC of the object's BTF;
//! kconfig externs come first and their `data_off`/`size` tile the `.kconfig` value in
//! order without overlap; names are unique.

use super::{find_by_name, index_by_name, ObjBtf, RawStrings};
use crate::btf::{
    Btf, BtfKind, Types, VarSecinfo, BTF_FUNC_EXTERN, BTF_FUNC_GLOBAL, BTF_INT_BOOL,
    BTF_INT_SIGNED, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN, KCONFIG_SEC, KSYMS_SEC,
};
use crate::core_relo::essential_name;
use crate::elf::{self, Elf, Symbol};
use crate::error::{Ctx, Error, Kind, Result, ResultExt};
use crate::limits;
use crate::mem::{alloc_copy, Alloc};

/// Name of the VAR libbpf adds for kfunc entries of `.ksyms`.
pub const DUMMY_KSYM: &str = "dummy_ksym";

/// What a kconfig extern's C type is (libbpf's `enum kcfg_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KcfgType {
    /// A one-byte `bool`.
    #[default]
    Bool,
    /// `enum libbpf_tristate` (`TRI_NO`, `TRI_YES`, `TRI_MODULE`).
    Tristate,
    /// A one-byte integer (`char`).
    Char,
    /// An integer of 2, 4 or 8 bytes.
    Int,
    /// An array of `char`: a string value.
    CharArr,
}

/// A `__kconfig` extern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kcfg {
    /// Its C type.
    pub ty: KcfgType,
    /// Size in bytes.
    pub size: u32,
    /// Alignment in bytes (a power of two, at most 8).
    pub align: u32,
    /// A signed integer.
    pub signed: bool,
    /// Offset of its value in the `.kconfig` map.
    pub data_off: u32,
}

/// A `__ksym` extern: a kernel variable or function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ksym {
    /// The local type (modifiers and typedefs skipped): the variable's type, or the
    /// function's prototype; 0 for a typeless variable (`const void`), which is
    /// resolved by address instead of through kernel BTF.
    pub type_id: u32,
    /// A function (kfunc), declared as a BTF FUNC.
    pub func: bool,
}

/// What an extern is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    /// A `.kconfig` value.
    Kconfig(Kcfg),
    /// A `.ksyms` kernel symbol.
    Ksym(Ksym),
}

impl Default for ExternKind {
    fn default() -> Self {
        ExternKind::Ksym(Ksym::default())
    }
}

/// One extern of the object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extern<'a> {
    /// Name (of its symbol and BTF declaration).
    pub name: &'a str,
    /// The name without a `___flavor` suffix: kfuncs are looked up by it.
    pub essential: &'a str,
    /// Index of its symbol.
    pub sym: u32,
    /// Its BTF VAR or FUNC.
    pub btf_id: u32,
    /// Weak binding: may stay unresolved (then zero, or a poisoned call).
    pub weak: bool,
    /// What it is.
    pub kind: ExternKind,
}

impl Extern<'_> {
    /// The kconfig description, for a `.kconfig` extern.
    pub fn kcfg(&self) -> Option<&Kcfg> {
        match &self.kind {
            ExternKind::Kconfig(k) => Some(k),
            ExternKind::Ksym(_) => None,
        }
    }

    /// The ksym description, for a `.ksyms` extern.
    pub fn ksym(&self) -> Option<&Ksym> {
        match &self.kind {
            ExternKind::Ksym(k) => Some(k),
            ExternKind::Kconfig(_) => None,
        }
    }

    /// libbpf's `cmp_externs` key.
    fn order(&self) -> (u8, u32, u32, &str) {
        match self.kind {
            // Larger alignment first: sort by its complement.
            ExternKind::Kconfig(k) => (1, u32::MAX.saturating_sub(k.align), k.size, self.name),
            ExternKind::Ksym(_) => (2, 0, 0, self.name),
        }
    }
}

/// libbpf's `sym_is_extern`.
fn is_extern(s: &Symbol<'_>) -> bool {
    let bind = s.bind();
    s.is_undefined()
        && (bind == elf::STB_GLOBAL || bind == elf::STB_WEAK)
        && s.kind() == elf::STT_NOTYPE
}

/// libbpf's `find_extern_btf_id` for every extern at once: `decls` holds (name, 0)
/// pairs sorted by name; each 0 becomes the lowest id of a VAR or FUNC so called. One
/// walk over the types, each VAR's and FUNC's name found by a binary search among the
/// externs' (few) names, instead of sorting every VAR and FUNC by name to search that.
fn find_extern_decls(btf: &impl Types, decls: &mut [(&str, u32)]) {
    for id in 1..btf.type_count() {
        if !matches!(btf.kind_of(id), Some(BtfKind::Var | BtfKind::Func)) {
            continue;
        }
        // A name outside the strings matches no extern (externs have names).
        let Some(name) = btf.type_by_id(id).ok().and_then(|t| t.name_bytes()) else {
            continue;
        };
        let k = decls.partition_point(|(n, _)| n.as_bytes() < name);
        for (n, d) in decls.iter_mut().skip(k) {
            if n.as_bytes() != name {
                break;
            }
            // Ids come in order: the first found is the lowest.
            if *d == 0 {
                *d = id;
            }
        }
    }
}

/// The BTF declaration [`find_extern_decls`] found for extern `name`, which must be
/// declared `extern`.
fn find_extern_btf_id(btf: &impl Types, decls: &[(&str, u32)], name: &str) -> Result<'static, u32> {
    let k = decls.partition_point(|(n, _)| *n < name);
    let Some(&(_, id)) = decls.get(k).filter(|(n, id)| *n == name && *id != 0) else {
        return Err(Error::new(Kind::NotFound(
            "BTF VAR or FUNC declaring the extern",
        )));
    };
    let t = btf.type_by_id(id)?;
    let ok = match t.kind() {
        BtfKind::Var => t.var()?.linkage == BTF_VAR_GLOBAL_EXTERN,
        _ => t.func()?.linkage == BTF_FUNC_EXTERN,
    };
    if !ok {
        return Err(Error::malformed(
            "the BTF declaration of the extern is not an extern VAR or FUNC",
        )
        .ctx(Ctx::BtfType(id)));
    }
    Ok(id)
}

/// libbpf's `find_extern_sec_btf_id` for every extern at once: `decls` holds
/// (BTF id, 0) pairs sorted by id; each 0 becomes the first DATASEC (by id) with an
/// entry for that id. One pass over the DATASECs.
fn find_extern_secs(btf: &impl Types, decls: &mut [(u32, u32)]) -> Result<'static, ()> {
    for sid in btf.ids_of_kind(BtfKind::Datasec) {
        if btf.kind_of(sid).is_some_and(|k| k != BtfKind::Datasec) {
            continue;
        }
        let t = btf.type_by_id(sid)?;
        if t.kind() != BtfKind::Datasec {
            continue;
        }
        for si in t.secinfos()? {
            // Duplicate ids (one declaration named by two symbols) share the first
            // entry, which is also the one looked up.
            let k = decls.partition_point(|(id, _)| *id < si.type_id);
            if let Some((id, sec)) = decls.get_mut(k) {
                if *id == si.type_id && *sec == 0 {
                    *sec = sid;
                }
            }
        }
    }
    Ok(())
}

/// libbpf's `find_kcfg_type` for type `id` (modifiers and typedefs skipped): the
/// kconfig type and signedness, or `None` when libbpf calls it unknown.
fn kcfg_type(btf: &impl Types, id: u32) -> Result<'static, Option<(KcfgType, bool)>> {
    let t = btf.skip_mods_and_typedefs(id)?;
    let size = t.raw_size_or_type();
    Ok(match t.kind() {
        BtfKind::Int => {
            let enc = t.int()?.encoding;
            if enc & BTF_INT_BOOL != 0 {
                (size == 1).then_some((KcfgType::Bool, false))
            } else {
                let signed = enc & BTF_INT_SIGNED != 0;
                if size == 1 {
                    Some((KcfgType::Char, signed))
                } else if (1..=8).contains(&size) && size.is_power_of_two() {
                    Some((KcfgType::Int, signed))
                } else {
                    None
                }
            }
        }
        BtfKind::Enum if size != 4 => None,
        BtfKind::Enum | BtfKind::Enum64 => {
            (t.name()? == "libbpf_tristate").then_some((KcfgType::Tristate, false))
        }
        BtfKind::Array => {
            let a = t.array()?;
            if a.nelems == 0 {
                None
            } else {
                // The element must be a char; an array of arrays is not (bounded: the
                // element is looked at once, without recursing further).
                let e = btf.skip_mods_and_typedefs(a.elem)?;
                let is_char = e.kind() == BtfKind::Int
                    && e.raw_size_or_type() == 1
                    && e.int()?.encoding & BTF_INT_BOOL == 0;
                is_char.then_some((KcfgType::CharArr, false))
            }
        }
        _ => None,
    })
}

/// libbpf's `btf__align_of` for the types [`kcfg_type`] accepts: integers and enums
/// align to their size (at most 8), char arrays to 1.
fn kcfg_align(ty: KcfgType, size: u32) -> u32 {
    match ty {
        KcfgType::CharArr => 1,
        _ => size.min(8),
    }
}

/// Read an extern symbol into an [`Extern`] (libbpf's loop body, before sorting).
/// Returns it and the DATASEC it is in.
fn describe<'a>(
    btf: &impl Types,
    names: RawStrings<'a>,
    sym: &Symbol<'a>,
    sym_idx: u32,
    btf_id: u32,
    sec: u32,
) -> Result<'a, Extern<'a>> {
    let t = btf.type_by_id(btf_id)?;
    let name = names.get(t.name_off())?;
    if sec == 0 {
        return Err(Error::new(Kind::NotFound("DATASEC listing the extern")));
    }
    let sec_name = names.get(btf.type_by_id(sec)?.name_off())?;
    let is_func = t.kind() == BtfKind::Func;
    let kind = if sec_name == KCONFIG_SEC {
        if is_func {
            return Err(Error::new(Kind::Unsupported(
                "extern function in the .kconfig section",
            )));
        }
        let vt = t.var()?.type_id;
        let size = btf
            .resolve_size(vt)
            .map_err(|_| Error::malformed("cannot resolve the size of the kconfig extern"))?;
        if size == 0 {
            return Err(Error::malformed("kconfig extern of size 0"));
        }
        let (ty, signed) = kcfg_type(btf, vt)?.ok_or(Error::new(Kind::Unsupported(
            "kconfig extern type (bool, char, integer, enum libbpf_tristate or char array)",
        )))?;
        ExternKind::Kconfig(Kcfg {
            ty,
            size,
            align: kcfg_align(ty, size),
            signed,
            data_off: 0,
        })
    } else if sec_name == KSYMS_SEC {
        let ref_id = t.raw_size_or_type();
        ExternKind::Ksym(Ksym {
            type_id: btf.skip_mods_and_typedefs(ref_id)?.id(),
            func: is_func,
        })
    } else {
        return Err(Error::new(Kind::Unsupported(
            "extern in a section other than .kconfig and .ksyms",
        ))
        .ctx(Ctx::Section(sec_name)));
    };
    Ok(Extern {
        name,
        essential: if is_func { essential_name(name) } else { name },
        sym: sym_idx,
        btf_id,
        weak: sym.bind() == elf::STB_WEAK,
        kind,
    })
}

/// libbpf's `find_int_btf_id`: the first INT of 32 bits.
fn find_int32(btf: &impl Types) -> Result<'static, u32> {
    for id in 1..btf.type_count() {
        if btf.kind_of(id).is_some_and(|k| k != BtfKind::Int) {
            continue;
        }
        let t = btf.type_by_id(id)?;
        if t.kind() == BtfKind::Int && t.int()?.bits == 32 {
            return Ok(id);
        }
    }
    Err(Error::new(Kind::NotFound(
        "32-bit INT in BTF (for the .ksyms variables)",
    )))
}

/// Whether the first `.ksyms` DATASEC lists a FUNC (libbpf's `add_dummy_ksym_var`).
fn ksyms_has_func(btf: &impl Types) -> Result<'static, bool> {
    let Some(sec) = btf.find_by_name_kind(KSYMS_SEC, BtfKind::Datasec)? else {
        return Ok(false);
    };
    for s in btf.type_by_id(sec)?.secinfos()? {
        if btf.type_by_id(s.type_id)?.kind() == BtfKind::Func {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The id and name offset of the VAR libbpf adds for kfuncs (`add_dummy_ksym_var`).
pub(super) type DummyKsym = (u32, u32);

/// The object's BTF, indexed where it lies in the file, in memory of its own (what
/// the fixups write): copied once, with libbpf's dummy VAR appended (before any
/// extern is looked at, whether or not the kfuncs are referenced) when the first
/// `.ksyms` DATASEC lists a FUNC.
pub(super) fn own_btf<'a, A: Alloc>(
    b: Btf<&'a [u8], A::Buf<u32>>,
    alloc: &mut A,
) -> Result<'a, (ObjBtf<A>, Option<DummyKsym>)> {
    if ksyms_has_func(&b)? {
        let int = find_int32(&b)?;
        let (grown, id, name_off) = b.with_var(DUMMY_KSYM, BTF_VAR_GLOBAL_ALLOCATED, int, alloc)?;
        return Ok((grown, Some((id, name_off))));
    }
    Ok((b.copied(alloc)?, None))
}

/// Collect the externs of `elf` and fix `btf` up for them (see the module
/// documentation); `dummy` is what [`own_btf`] added. `names` are the file's BTF
/// strings, which outlive the copy.
#[inline(never)]
pub(super) fn collect<'a, A: Alloc>(
    elf: &Elf<'a, A>,
    btf: &mut Option<ObjBtf<A>>,
    dummy: Option<DummyKsym>,
    names: RawStrings<'a>,
    alloc: &mut A,
) -> Result<'a, A::Buf<Extern<'a>>> {
    let mut count = 0usize;
    for s in elf.symbols() {
        let s = s?;
        if is_extern(&s) && !s.name.is_empty() {
            count = count.saturating_add(1);
        }
    }
    if count > limits::MAX_EXTERNS {
        return Err(Error::limit("externs", count, limits::MAX_EXTERNS));
    }
    let mut out = alloc.alloc::<Extern<'a>>(count)?;
    if count == 0 {
        return Ok(out);
    }
    let Some(b) = btf.as_mut() else {
        let name = elf
            .symbols()
            .flatten()
            .find(|s| is_extern(s) && !s.name.is_empty())
            .map(|s| s.name)
            .unwrap_or("?");
        return Err(
            Error::new(Kind::NotFound("BTF (externs are declared in BTF)")).ctx(Ctx::Extern(name)),
        );
    };
    // The externs' symbol indices, from one more walk over the symbols: the steps
    // below visit the externs three times, a few among hundreds of symbols.
    let mut sym_idx = alloc.alloc::<u32>(count)?;
    let found = (1u32..).zip(elf.symbols()).filter_map(|(i, s)| {
        s.ok()
            .filter(|s| is_extern(s) && !s.name.is_empty())
            .map(|_| i)
    });
    for (d, i) in sym_idx.iter_mut().zip(found) {
        *d = i;
    }
    // Each extern's BTF declaration, then the DATASEC of each, with two indexes
    // instead of two walks over all types per extern.
    let externs = || {
        sym_idx
            .iter()
            .filter_map(|&i| elf.symbol(i).ok().map(|s| (i, s)))
    };
    let mut by_name = alloc.alloc::<(&str, u32)>(count)?;
    for ((_, s), d) in externs().zip(by_name.iter_mut()) {
        *d = (s.name, 0);
    }
    crate::util::sort_by_key(&mut by_name, |(n, _)| *n);
    find_extern_decls(&*b, &mut by_name);
    let mut decls = alloc.alloc::<(u32, u32)>(count)?;
    for ((_, s), d) in externs().zip(decls.iter_mut()) {
        let id = find_extern_btf_id(&*b, &by_name, s.name).ctx(Ctx::Extern(s.name))?;
        *d = (id, 0);
    }
    let mut secs = alloc_copy(alloc, &decls)?;
    crate::util::sort_by_key(&mut secs, |(id, _)| *id);
    find_extern_secs(&*b, &mut secs)?;
    let sec_of = |id: u32| {
        let k = secs.partition_point(|(i, _)| *i < id);
        secs.get(k).filter(|(i, _)| *i == id).map_or(0, |(_, s)| *s)
    };
    let mut n = 0usize;
    let (mut kcfg_sec, mut ksym_sec) = (None, None);
    for ((idx, s), &(btf_id, _)) in externs().zip(decls.iter()) {
        let sec = sec_of(btf_id);
        let e = describe(&*b, names, &s, idx, btf_id, sec).ctx(Ctx::Extern(s.name))?;
        match e.kind {
            ExternKind::Kconfig(_) => kcfg_sec = Some(sec),
            ExternKind::Ksym(_) => ksym_sec = Some(sec),
        }
        *out.get_mut(n)
            .ok_or(Error::malformed("symbol table changed"))? = e;
        n = n.saturating_add(1);
    }
    crate::util::sort_by(&mut out, |a, b| a.order().cmp(&b.order()));

    // The layouts look each DATASEC entry's extern up by name.
    let names_idx = index_by_name(&out, |_| true, |e| e.name, alloc)?;
    if let Some(sec) = ksym_sec {
        layout_ksyms::<A>(b, &out, &names_idx, sec, dummy)?;
    }
    if let Some(sec) = kcfg_sec {
        layout_kconfig::<A>(b, &mut out, &names_idx, sec)?;
    }
    Ok(out)
}

/// The `.ksyms` fixups of libbpf's `bpf_object__collect_externs`.
fn layout_ksyms<A: Alloc>(
    b: &mut ObjBtf<A>,
    externs: &[Extern<'_>],
    names_idx: &[u32],
    sec: u32,
    dummy: Option<(u32, u32)>,
) -> Result<'static, ()> {
    let int = find_int32(b)?;
    let vlen = b.type_by_id(sec)?.vlen();
    for i in 0..vlen {
        let at = Ctx::Value(crate::error::What::Index, u64::from(i));
        let vid = b
            .type_by_id(sec)?
            .secinfos()?
            .get(i)
            .map(|s| s.type_id)
            .unwrap_or(0);
        let (kind, proto) = {
            let vt = b.type_by_id(vid)?;
            let name = vt.name()?;
            if find_by_name(names_idx, externs, |e| e.name, name).is_none() {
                return Err(
                    Error::new(Kind::NotFound("extern symbol for the .ksyms entry"))
                        .ctx(Ctx::BtfType(vid)),
                );
            }
            (vt.kind(), vt.raw_size_or_type())
        };
        let offset = u32::from(i).saturating_mul(4);
        match kind {
            BtfKind::Func => {
                let (dummy_id, dummy_name) = dummy.ok_or_else(|| {
                    Error::malformed("kfunc in a second .ksyms DATASEC").ctx(Ctx::BtfType(vid))
                })?;
                let nparams = b.type_by_id(proto)?.vlen();
                for j in 0..nparams {
                    let needs = b
                        .type_by_id(proto)?
                        .params()?
                        .get(j)
                        .is_some_and(|p| p.type_id != 0 && p.name_off == 0);
                    if needs {
                        b.set_param_name_off(proto, j, dummy_name)?;
                    }
                }
                b.set_secinfo(
                    sec,
                    i,
                    VarSecinfo {
                        type_id: dummy_id,
                        offset,
                        size: 4,
                    },
                )?;
                b.set_func_linkage(vid, BTF_FUNC_GLOBAL)?;
            }
            BtfKind::Var => {
                b.set_var_linkage(vid, BTF_VAR_GLOBAL_ALLOCATED)?;
                b.set_var_type(vid, int)?;
                b.set_secinfo(
                    sec,
                    i,
                    VarSecinfo {
                        type_id: vid,
                        offset,
                        size: 4,
                    },
                )?;
            }
            _ => {
                return Err(Error::malformed(".ksyms entry is neither a VAR nor a FUNC")
                    .ctx(at)
                    .ctx(Ctx::BtfType(sec)))
            }
        }
    }
    b.set_datasec_size(sec, u32::from(vlen).saturating_mul(4))
}

/// Lay the kconfig values out and fix the `.kconfig` DATASEC up.
fn layout_kconfig<'a, A: Alloc>(
    b: &mut ObjBtf<A>,
    externs: &mut [Extern<'a>],
    names_idx: &[u32],
    sec: u32,
) -> Result<'a, ()> {
    let mut off: u32 = 0;
    for e in externs.iter_mut() {
        if let ExternKind::Kconfig(k) = &mut e.kind {
            let mask = k.align.saturating_sub(1);
            let end = u64::from(off)
                .saturating_add(u64::from(mask))
                .checked_div(u64::from(mask).saturating_add(1))
                .unwrap_or(0)
                .saturating_mul(u64::from(mask).saturating_add(1))
                .saturating_add(u64::from(k.size));
            if end > limits::MAX_KCONFIG_SIZE as u64 {
                return Err(
                    Error::limit(".kconfig bytes", end, limits::MAX_KCONFIG_SIZE)
                        .ctx(Ctx::Extern(e.name)),
                );
            }
            // Both fit: end is at most MAX_KCONFIG_SIZE.
            let aligned = u32::try_from(end.saturating_sub(u64::from(k.size))).unwrap_or(0);
            k.data_off = aligned;
            off = u32::try_from(end).unwrap_or(0);
        }
    }
    b.set_datasec_size(sec, off)?;
    let vlen = b.type_by_id(sec)?.vlen();
    for i in 0..vlen {
        let vid = b
            .type_by_id(sec)?
            .secinfos()?
            .get(i)
            .map(|s| s.type_id)
            .unwrap_or(0);
        let data_off = {
            let vt = b.type_by_id(vid)?;
            let name = vt.name()?;
            let e = find_by_name(names_idx, externs, |e| e.name, name)
                .and_then(|i| externs.get(crate::bytes::idx(i)))
                .ok_or_else(|| {
                    Error::new(Kind::NotFound("extern symbol for the .kconfig entry"))
                        .ctx(Ctx::BtfType(vid))
                })?;
            e.kcfg()
                .map(|k| k.data_off)
                .ok_or_else(|| Error::malformed("ksym listed in .kconfig").ctx(Ctx::BtfType(vid)))?
        };
        b.set_var_linkage(vid, BTF_VAR_GLOBAL_ALLOCATED)?;
        b.set_secinfo_offset(sec, i, data_off)?;
    }
    Ok(())
}

/// Size of the `.kconfig` map value: the end of the last kconfig value (0: no map).
pub fn kconfig_size(externs: &[Extern<'_>]) -> u32 {
    externs
        .iter()
        .filter_map(|e| e.kcfg())
        .next_back()
        .map(|k| k.data_off.saturating_add(k.size))
        .unwrap_or(0)
}

/// A BPF C source compiled by clang for tests (`None`, with a note, without clang).
#[cfg(test)]
pub(crate) fn compile_c(name: &str, src: &str) -> Option<std::vec::Vec<u8>> {
    use std::process::Command;
    let dir = std::env::temp_dir().join(std::format!("bpfld-ext-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let c = dir.join("t.bpf.c");
    let o = dir.join("t.bpf.o");
    std::fs::write(&c, src).ok()?;
    let clang = std::env::var("BPFLD_CLANG").unwrap_or_else(|_| "clang".into());
    let out = Command::new(&clang)
        .args(["-target", "bpf", "-g", "-O2", "-ffreestanding", "-c"])
        .arg(&c)
        .arg("-o")
        .arg(&o)
        .output();
    let bytes = std::fs::read(&o).ok();
    std::fs::remove_dir_all(&dir).ok();
    match out {
        Ok(out) if out.status.success() => bytes,
        Ok(out) => panic!(
            "{clang}: {}",
            std::string::String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            std::eprintln!("SKIP: no {clang}: {e}");
            None
        }
    }
}

/// Declarations the test programs share: libbpf's macros, without its headers.
#[cfg(test)]
pub(crate) const PRELUDE: &str = r#"
#define SEC(n) __attribute__((section(n), used))
#define __kconfig __attribute__((section(".kconfig")))
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))
enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 };
static void *(*bpf_this_cpu_ptr)(const void *p) = (void *)154;
char LICENSE[] SEC("license") = "GPL";
"#;

/// The program of the extern tests: every kind of extern, each used once.
#[cfg(test)]
pub(crate) const ALL_KINDS: &str = r#"
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_A __kconfig;
extern char CONFIG_S[5] __kconfig;
extern unsigned long long CONFIG_N __kconfig __weak;
extern enum libbpf_tristate CONFIG_T __kconfig;
extern short CONFIG_W __kconfig __weak;
struct task_struct { int pid; };
extern const int pcpu __ksym;
extern const void tless __ksym;
extern const void tless_weak __ksym __weak;
extern void kf(struct task_struct *) __ksym;
extern int kf_missing(int) __ksym __weak;
extern int kf_bad(int) __ksym __weak;
long out[16];
SEC("syscall") int p(void *ctx)
{
	out[0] = LINUX_KERNEL_VERSION;
	out[1] = CONFIG_A;
	out[2] = CONFIG_S[0];
	out[3] = CONFIG_N;
	out[4] = CONFIG_T;
	out[5] = CONFIG_W;
	out[6] = *(const int *)bpf_this_cpu_ptr(&pcpu);
	out[7] = (long)&tless;
	out[8] = (long)&tless_weak;
	kf(0);
	if (kf_missing)
		out[9] = kf_missing(1);
	out[10] = kf_bad(2);
	return 0;
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::{BTF_FUNC_GLOBAL, BTF_VAR_GLOBAL_ALLOCATED};
    use crate::mem::VecAlloc;
    use crate::object::{MapKind, Object};
    use crate::uapi;
    use std::string::String;
    use std::vec::Vec;

    fn with_obj(name: &str, src: &str, f: impl FnOnce(&Object<'_, VecAlloc>)) {
        let Some(data) = compile_c(name, &std::format!("{PRELUDE}{src}")) else {
            return;
        };
        let mut a = VecAlloc::default();
        let elf = Elf::parse(&data, &mut a).unwrap();
        let obj = Object::parse(elf, "ext_test_object", &mut a).unwrap();
        f(&obj);
    }

    fn obj_err(name: &str, src: &str) -> Option<String> {
        let data = compile_c(name, &std::format!("{PRELUDE}{src}"))?;
        let mut a = VecAlloc::default();
        let elf = Elf::parse(&data, &mut a).unwrap();
        Some(match Object::parse(elf, "t", &mut a) {
            Ok(_) => String::from("ok"),
            Err(e) => std::format!("{e}"),
        })
    }

    #[test]
    fn each_extern_finds_the_lowest_var_or_func_of_its_name() {
        use crate::btf::testutil::{self, B};
        use crate::btf::{BTF_FUNC_EXTERN, BTF_VAR_GLOBAL_EXTERN};
        let mut b = B::new();
        let int = b.int("int", 4, 0, 32);
        let proto = b.proto(int, &[]);
        let f_late = b.var("f", int, BTF_VAR_GLOBAL_EXTERN); // 3, below the FUNC "f"
        let f_func = b.func("f", proto, u32::from(BTF_FUNC_EXTERN)); // 4
        let g_func = b.func("g", proto, u32::from(BTF_FUNC_EXTERN)); // 5, below the VAR "g"
        let _g_var = b.var("g", int, BTF_VAR_GLOBAL_EXTERN);
        let _h_int = b.int("h", 4, 0, 32); // neither VAR nor FUNC
        let btf = testutil::parse(b.build()).unwrap();
        assert!(f_late < f_func);
        // Two symbols of one name share its declaration.
        let mut decls = [("f", 0), ("g", 0), ("g", 0), ("h", 0), ("missing", 0)];
        find_extern_decls(&btf, &mut decls);
        assert_eq!(
            decls,
            [
                ("f", f_late),
                ("g", g_func),
                ("g", g_func),
                ("h", 0),
                ("missing", 0)
            ]
        );
        assert_eq!(find_extern_btf_id(&btf, &decls, "g").unwrap(), g_func);
        for absent in ["h", "missing", "e", "z"] {
            let e = find_extern_btf_id(&btf, &decls, absent).unwrap_err();
            assert!(std::format!("{e}").contains("declaring the extern"), "{e}");
        }
    }

    #[test]
    fn order_and_kconfig_layout_like_libbpf() {
        with_obj("layout", ALL_KINDS, |obj| {
            let names: Vec<&str> = obj.externs.iter().map(|e| e.name).collect();
            assert_eq!(
                names,
                [
                    "CONFIG_N",
                    "CONFIG_T",
                    "LINUX_KERNEL_VERSION",
                    "CONFIG_W",
                    "CONFIG_A",
                    "CONFIG_S",
                    "kf",
                    "kf_bad",
                    "kf_missing",
                    "pcpu",
                    "tless",
                    "tless_weak"
                ]
            );
            let offs: Vec<(u32, u32, KcfgType)> = obj
                .externs
                .iter()
                .filter_map(|e| e.kcfg().map(|k| (k.data_off, k.size, k.ty)))
                .collect();
            assert_eq!(
                offs,
                [
                    (0, 8, KcfgType::Int),
                    (8, 4, KcfgType::Tristate),
                    (12, 4, KcfgType::Int),
                    (16, 2, KcfgType::Int),
                    (18, 1, KcfgType::Bool),
                    (19, 5, KcfgType::CharArr)
                ]
            );
            let w: Vec<bool> = obj.externs.iter().map(|e| e.weak).collect();
            assert_eq!(w.iter().filter(|&&w| w).count(), 5);
            let ks: Vec<(bool, bool)> = obj
                .externs
                .iter()
                .filter_map(|e| e.ksym().map(|k| (k.func, k.type_id != 0)))
                .collect();
            assert_eq!(
                ks,
                [
                    (true, true),
                    (true, true),
                    (true, true),
                    (false, true),
                    (false, false),
                    (false, false)
                ]
            );

            // The .kconfig map: after the global data maps, read-only, mmapable,
            // valued by the fixed-up DATASEC.
            let (ki, m) = obj
                .maps
                .iter()
                .enumerate()
                .find(|(_, m)| m.kind == MapKind::Kconfig)
                .unwrap();
            assert_eq!(ki, obj.maps.len() - 1);
            assert_eq!(m.kname_str(), "ext_tes.kconfig");
            assert_eq!(m.def.value_size, 24);
            assert_eq!(
                m.def.map_flags,
                uapi::BPF_F_RDONLY_PROG | uapi::BPF_F_MMAPABLE
            );
            let btf = obj.btf.as_ref().unwrap();
            let ds = btf.type_by_id(m.def.value_type_id).unwrap();
            assert_eq!(ds.name().unwrap(), ".kconfig");
            assert_eq!(ds.raw_size_or_type(), 24);
            let entries: Vec<(String, u32)> = ds
                .secinfos()
                .unwrap()
                .map(|s| {
                    let v = btf.type_by_id(s.type_id).unwrap();
                    assert_eq!(v.var().unwrap().linkage, BTF_VAR_GLOBAL_ALLOCATED);
                    (String::from(v.name().unwrap()), s.offset)
                })
                .collect();
            // Sorted by offset, as btf_fixup_datasec leaves them.
            let mut sorted = entries.clone();
            sorted.sort_by_key(|e| e.1);
            assert_eq!(entries, sorted);
            assert_eq!(entries[0], (String::from("CONFIG_N"), 0));
            assert_eq!(entries[5], (String::from("CONFIG_S"), 19));
            btf.check_loadable().unwrap();
        });
    }

    #[test]
    fn ksyms_btf_fixups_like_libbpf() {
        with_obj("ksyms", ALL_KINDS, |obj| {
            let btf = obj.btf.as_ref().unwrap();
            // dummy_ksym: the last type, a global int VAR.
            let last = btf.type_count() - 1;
            let d = btf.type_by_id(last).unwrap();
            assert_eq!(d.name().unwrap(), DUMMY_KSYM);
            assert_eq!(d.var().unwrap().linkage, BTF_VAR_GLOBAL_ALLOCATED);
            let int = btf.type_by_id(d.var().unwrap().type_id).unwrap();
            assert_eq!((int.kind(), int.int().unwrap().bits), (BtfKind::Int, 32));
            let ds = btf
                .type_by_id(
                    btf.find_by_name_kind(KSYMS_SEC, BtfKind::Datasec)
                        .unwrap()
                        .unwrap(),
                )
                .unwrap();
            let n = ds.vlen() as u32;
            assert_eq!(n, 6);
            assert_eq!(ds.raw_size_or_type(), 4 * n);
            for (i, s) in ds.secinfos().unwrap().enumerate() {
                assert_eq!((s.offset, s.size), (4 * i as u32, 4));
                let v = btf.type_by_id(s.type_id).unwrap();
                assert_eq!(v.kind(), BtfKind::Var);
                assert_eq!(v.var().unwrap().linkage, BTF_VAR_GLOBAL_ALLOCATED);
            }
            // Every kfunc: global now, and its parameters named.
            for e in obj
                .externs
                .iter()
                .filter(|e| e.ksym().is_some_and(|k| k.func))
            {
                let f = btf.type_by_id(e.btf_id).unwrap();
                assert_eq!(f.func().unwrap().linkage, BTF_FUNC_GLOBAL);
                let p = btf.type_by_id(f.func().unwrap().proto).unwrap();
                for param in p.params().unwrap() {
                    assert!(!param.name().unwrap().is_empty());
                }
            }
            let kf = obj.externs.iter().find(|e| e.name == "kf").unwrap();
            let p = btf
                .type_by_id(btf.type_by_id(kf.btf_id).unwrap().func().unwrap().proto)
                .unwrap();
            assert_eq!(
                p.params().unwrap().next().unwrap().name().unwrap(),
                DUMMY_KSYM
            );
            // Typed ksym variables became ints too.
            let pcpu = obj.externs.iter().find(|e| e.name == "pcpu").unwrap();
            assert_eq!(
                btf.type_by_id(pcpu.btf_id).unwrap().var().unwrap().type_id,
                d.var().unwrap().type_id
            );
            btf.check_loadable().unwrap();
        });
    }

    #[test]
    fn no_dummy_without_kfuncs() {
        with_obj(
            "nodummy",
            "extern const int v __ksym; int o; SEC(\"syscall\") int p(void *c) { o = *(const int *)bpf_this_cpu_ptr(&v); return 0; }",
            |obj| {
                let btf = obj.btf.as_ref().unwrap();
                let last = btf.type_by_id(btf.type_count() - 1).unwrap();
                assert_ne!(last.name().unwrap(), DUMMY_KSYM);
                assert!(obj.maps.iter().all(|m| m.kind != MapKind::Kconfig));
                assert_eq!(obj.externs.len(), 1);
            },
        );
    }

    #[test]
    fn refusals_like_libbpf() {
        let Some(e) = obj_err(
            "badtype",
            "struct s { int a; }; extern struct s CONFIG_X __kconfig; int o; SEC(\"syscall\") int p(void *c) { o = CONFIG_X.a; return 0; }",
        ) else {
            return;
        };
        assert!(
            e.contains("extern 'CONFIG_X'") && e.contains("kconfig extern type"),
            "{e}"
        );
        let e = obj_err(
            "badbool",
            "extern _Bool CONFIG_B[2] __kconfig; int o; SEC(\"syscall\") int p(void *c) { o = CONFIG_B[1]; return 0; }",
        )
        .unwrap();
        assert!(e.contains("kconfig extern type"), "{e}");
        let e = obj_err(
            "othersec",
            "extern int foo __attribute__((section(\".other\"))); int o; SEC(\"syscall\") int p(void *c) { o = foo; return 0; }",
        )
        .unwrap();
        assert!(
            e.contains("extern 'foo'") && e.contains("other than .kconfig"),
            "{e}"
        );
    }
}

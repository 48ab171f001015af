// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! In-place fixups of an object's BTF before `BPF_BTF_LOAD`.
//!
//! Clang cannot know the final layout of data sections, so it emits each DATASEC with
//! size 0 and its VARs at offset 0; externs carry linkage the kernel refuses. libbpf
//! patches these in its copy of the BTF; we do the same on the caller's mutable copy.
//! Every setter writes fixed-size fields only (no record changes length, so the index
//! stays valid) and refuses values that would break the parse invariants (an unknown
//! linkage, a void or out-of-range type id), so a patched [`Btf`] is as valid as a parsed
//! one.
//!
//! [`Btf::fixup_datasec`] is libbpf 6.12's `btf_fixup_datasec`; the ELF facts it needs
//! come from the caller through [`DatasecElf`].

use core::ops::{Deref, DerefMut};

use super::parse::Btf;
use super::view::VarSecinfo;
use super::{
    BtfKind, BTF_FUNC_EXTERN, BTF_TYPE_LEN, BTF_VAR_GLOBAL_EXTERN, BTF_VAR_STATIC, KCONFIG_SEC,
    KSYMS_SEC,
};
use crate::bytes;
use crate::error::{Ctx, Error, Kind, Result, What};

/// A DATASEC that backs externs rather than an ELF section; libbpf lays these out while
/// collecting externs, and `btf_fixup_datasec` only sorts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternSec {
    /// `.kconfig`: `__kconfig` variables.
    Kconfig,
    /// `.ksyms`: `__ksym` variables and kfuncs.
    Ksyms,
}

/// Which extern DATASEC `name` is, if any.
pub fn extern_datasec(name: &str) -> Option<ExternSec> {
    match name {
        KCONFIG_SEC => Some(ExternSec::Kconfig),
        KSYMS_SEC => Some(ExternSec::Ksyms),
        _ => None,
    }
}

/// What [`DatasecElf::global_var`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VarSymbol {
    /// `st_value`: the variable's offset in its section.
    pub value: u64,
    /// `STV_HIDDEN` or `STV_INTERNAL` visibility: the VAR becomes static.
    pub hidden: bool,
}

/// The ELF facts the DATASEC fixup needs, answered by the object parser.
pub trait DatasecElf {
    /// Size (`sh_size`, also for `SHT_NOBITS`) of the first ELF section named `name`, or
    /// `None` if there is none.
    fn section_size(&mut self, name: &str) -> Option<u64>;

    /// The first symbol, in symbol table order, named `name` with type `STT_OBJECT` and
    /// binding `STB_GLOBAL` or `STB_WEAK`, whatever its section: libbpf's
    /// `find_elf_var_sym` matches by name only, and so must this, to fix up the same way.
    fn global_var(&mut self, name: &str) -> Option<VarSymbol>;
}

fn in_kind(kind: BtfKind, id: u32) -> impl Fn(&'static str) -> Error<'static> {
    move |m| {
        Error::malformed(m)
            .ctx(Ctx::Step(kind.as_str()))
            .ctx(Ctx::BtfType(id))
    }
}

impl<D, O> Btf<D, O>
where
    D: DerefMut<Target = [u8]>,
    O: Deref<Target = [u32]>,
{
    /// Record offset and `vlen` of local type `id`, which must be of kind `kind`.
    fn record_of(&self, id: u32, kind: BtfKind) -> Result<'static, (usize, u16)> {
        let t = self.type_by_id(id)?;
        if t.kind() != kind {
            return Err(Error::malformed(match kind {
                BtfKind::Datasec => "not a DATASEC",
                BtfKind::Var => "not a VAR",
                BtfKind::Func => "not a FUNC",
                BtfKind::FuncProto => "not a FUNC_PROTO",
                _ => "wrong BTF kind",
            })
            .ctx(Ctx::BtfType(id)));
        }
        Ok((self.record_offset(id)?, t.vlen()))
    }

    fn put(&mut self, off: usize, v: u32) -> Result<'static, ()> {
        if bytes::put_u32(self.data_mut(), off, v) {
            Ok(())
        } else {
            Err(Error::malformed("corrupt BTF index"))
        }
    }

    /// Offset of entry `idx` (of `stride` bytes) of the record at `rec` with `vlen` entries.
    fn entry_off(
        rec: usize,
        vlen: u16,
        idx: u16,
        stride: usize,
        id: u32,
    ) -> Result<'static, usize> {
        if idx >= vlen {
            return Err(Error::new(Kind::NotFound("entry of BTF type"))
                .ctx(Ctx::Value(What::Index, u64::from(idx)))
                .ctx(Ctx::BtfType(id)));
        }
        Ok(rec
            .saturating_add(BTF_TYPE_LEN)
            .saturating_add(usize::from(idx).saturating_mul(stride)))
    }

    fn check_ref(&self, type_id: u32, owner: u32) -> Result<'static, ()> {
        if type_id == 0 || type_id >= self.type_count() {
            return Err(Error::malformed("type id is void or beyond the last type")
                .ctx(Ctx::Value(What::Id, u64::from(type_id)))
                .ctx(Ctx::BtfType(owner)));
        }
        Ok(())
    }

    /// Set a DATASEC's size.
    pub fn set_datasec_size(&mut self, id: u32, size: u32) -> Result<'static, ()> {
        let (rec, _) = self.record_of(id, BtfKind::Datasec)?;
        self.put(rec.saturating_add(8), size)
    }

    /// Replace DATASEC entry `idx`; its type must be a valid non-void id.
    pub fn set_secinfo(&mut self, id: u32, idx: u16, si: VarSecinfo) -> Result<'static, ()> {
        let (rec, vlen) = self.record_of(id, BtfKind::Datasec)?;
        self.check_ref(si.type_id, id)?;
        let off = Self::entry_off(rec, vlen, idx, 12, id)?;
        self.put(off, si.type_id)?;
        self.put(off.saturating_add(4), si.offset)?;
        self.put(off.saturating_add(8), si.size)
    }

    /// Set the offset of DATASEC entry `idx`.
    pub fn set_secinfo_offset(&mut self, id: u32, idx: u16, offset: u32) -> Result<'static, ()> {
        let (rec, vlen) = self.record_of(id, BtfKind::Datasec)?;
        let off = Self::entry_off(rec, vlen, idx, 12, id)?;
        self.put(off.saturating_add(4), offset)
    }

    /// Set a VAR's linkage (`BTF_VAR_STATIC`, `_GLOBAL_ALLOCATED` or `_GLOBAL_EXTERN`).
    pub fn set_var_linkage(&mut self, id: u32, linkage: u32) -> Result<'static, ()> {
        let (rec, _) = self.record_of(id, BtfKind::Var)?;
        if linkage > BTF_VAR_GLOBAL_EXTERN {
            return Err(in_kind(BtfKind::Var, id)("unknown VAR linkage"));
        }
        self.put(rec.saturating_add(BTF_TYPE_LEN), linkage)
    }

    /// Set a VAR's type (libbpf turns `.ksyms` variables into `int`s).
    pub fn set_var_type(&mut self, id: u32, type_id: u32) -> Result<'static, ()> {
        let (rec, _) = self.record_of(id, BtfKind::Var)?;
        self.check_ref(type_id, id)?;
        self.put(rec.saturating_add(8), type_id)
    }

    /// Set a FUNC's linkage (`BTF_FUNC_STATIC`, `_GLOBAL` or `_EXTERN`), kept in its vlen.
    pub fn set_func_linkage(&mut self, id: u32, linkage: u16) -> Result<'static, ()> {
        let (rec, _) = self.record_of(id, BtfKind::Func)?;
        if linkage > BTF_FUNC_EXTERN {
            return Err(in_kind(BtfKind::Func, id)("unknown FUNC linkage"));
        }
        let info = self.type_by_id(id)?.info();
        self.put(rec.saturating_add(4), (info & !0xffff) | u32::from(linkage))
    }

    /// Set the name of FUNC_PROTO parameter `idx` (libbpf names unnamed kfunc parameters):
    /// 0, or the offset of a valid identifier; a vararg cannot be named.
    pub fn set_param_name_off(&mut self, id: u32, idx: u16, name_off: u32) -> Result<'static, ()> {
        let (rec, vlen) = self.record_of(id, BtfKind::FuncProto)?;
        let param = self.type_by_id(id)?.params()?.get(idx);
        let off = Self::entry_off(rec, vlen, idx, 8, id)?;
        if name_off != 0 {
            let fail = in_kind(BtfKind::FuncProto, id);
            if param.is_some_and(|p| p.is_vararg()) {
                return Err(fail("vararg parameter has a name"));
            }
            let b = self
                .strings()
                .bytes(name_off)
                .ok_or_else(|| fail("parameter name offset outside the string section"))?;
            if !super::parse::is_ident(b) {
                return Err(fail("parameter name is not a valid identifier"));
            }
        }
        self.put(off, name_off)
    }

    /// Sort a DATASEC's entries by offset, as libbpf does after fixing them up. libbpf's
    /// `qsort` is not stable; entries with equal offsets are refused by the kernel anyway
    /// (unless the section is empty), and this heapsort is deterministic, so the result
    /// (which the receipt covers) does not depend on the platform.
    pub fn sort_datasec(&mut self, id: u32) -> Result<'static, ()> {
        let (rec, vlen) = self.record_of(id, BtfKind::Datasec)?;
        let start = rec.saturating_add(BTF_TYPE_LEN);
        let len = usize::from(vlen).saturating_mul(12);
        let Some(recs) = self.data_mut().get_mut(start..start.saturating_add(len)) else {
            return Err(Error::malformed("corrupt BTF index").ctx(Ctx::BtfType(id)));
        };
        heapsort_secinfos(recs, usize::from(vlen));
        Ok(())
    }

    /// libbpf 6.12's `btf_fixup_datasec` for DATASEC `id`:
    ///
    /// - `.kconfig` and `.ksyms` (see [`extern_datasec`]) are only sorted: their layout
    ///   comes from the extern collection;
    /// - a DATASEC of size 0 takes the size of the ELF section of the same name (none, or
    ///   size 0: not found), and then each VAR's offset from its symbol's value;
    /// - for each non-static, non-extern VAR: its symbol must exist (not found otherwise);
    ///   hidden or internal visibility makes the VAR static;
    /// - an entry that is not a VAR is an error;
    /// - finally the entries are sorted by offset.
    ///
    /// Unlike libbpf, which would silently truncate, a section size or symbol value that
    /// does not fit `u32` is an error.
    pub fn fixup_datasec(&mut self, id: u32, elf: &mut impl DatasecElf) -> Result<'static, ()> {
        let (_, vlen) = self.record_of(id, BtfKind::Datasec)?;
        let (size, is_extern) = {
            let t = self.type_by_id(id)?;
            (t.raw_size_or_type(), extern_datasec(t.name()?).is_some())
        };
        if is_extern {
            return self.sort_datasec(id);
        }
        let mut fixup_offsets = false;
        if size == 0 {
            let found = {
                let name = self.type_by_id(id)?.name()?;
                elf.section_size(name)
            };
            let size = match found {
                None | Some(0) => {
                    return Err(Error::new(Kind::NotFound(
                        "ELF section (with nonzero size) of DATASEC",
                    ))
                    .ctx(Ctx::BtfType(id)))
                }
                Some(s) => u32::try_from(s).map_err(|_| {
                    Error::malformed("ELF section of DATASEC larger than 4 GiB")
                        .ctx(Ctx::Value(What::Size, s))
                        .ctx(Ctx::BtfType(id))
                })?,
            };
            self.set_datasec_size(id, size)?;
            fixup_offsets = true;
        }
        for i in 0..vlen {
            let at = Ctx::Value(What::Index, u64::from(i));
            let (var_id, linkage) = {
                let si = self.type_by_id(id)?.secinfos()?.get(i);
                let var_id = si.map(|s| s.type_id).unwrap_or(0);
                let v = self.type_by_id(var_id)?;
                if v.kind() != BtfKind::Var {
                    return Err(Error::malformed("DATASEC entry is not a VAR")
                        .ctx(at)
                        .ctx(Ctx::Step(BtfKind::Datasec.as_str()))
                        .ctx(Ctx::BtfType(id)));
                }
                (var_id, v.var()?.linkage)
            };
            if linkage == BTF_VAR_STATIC || linkage == BTF_VAR_GLOBAL_EXTERN {
                continue;
            }
            let sym = {
                let name = self.type_by_id(var_id)?.name()?;
                elf.global_var(name)
            };
            let Some(sym) = sym else {
                return Err(Error::new(Kind::NotFound("ELF symbol of DATASEC VAR"))
                    .ctx(Ctx::BtfType(var_id))
                    .ctx(Ctx::BtfType(id)));
            };
            if fixup_offsets {
                let value = u32::try_from(sym.value).map_err(|_| {
                    Error::malformed("symbol value of DATASEC VAR does not fit 32 bits")
                        .ctx(Ctx::Value(What::Offset, sym.value))
                        .ctx(Ctx::BtfType(var_id))
                        .ctx(Ctx::BtfType(id))
                })?;
                self.set_secinfo_offset(id, i, value)?;
            }
            if sym.hidden {
                self.set_var_linkage(var_id, BTF_VAR_STATIC)?;
            }
        }
        self.sort_datasec(id)
    }

    /// [`Btf::fixup_datasec`] on every DATASEC, in id order (libbpf's
    /// `bpf_object_fixup_btf`).
    pub fn fixup_datasecs(&mut self, elf: &mut impl DatasecElf) -> Result<'static, ()> {
        for id in self.ids_of_kind(BtfKind::Datasec) {
            if self.kind_of(id) == Some(BtfKind::Datasec) {
                self.fixup_datasec(id, elf)?;
            }
        }
        Ok(())
    }
}

fn key(recs: &[u8], i: usize) -> u32 {
    bytes::u32_at(recs, i.saturating_mul(12).saturating_add(4)).unwrap_or(0)
}

fn swap(recs: &mut [u8], i: usize, j: usize) {
    let (oi, oj) = (i.saturating_mul(12), j.saturating_mul(12));
    let (Some(a), Some(b)) = (bytes::array::<12>(recs, oi), bytes::array::<12>(recs, oj)) else {
        return;
    };
    if let Some(d) = recs.get_mut(oi..oi.saturating_add(12)) {
        crate::util::copy(d, &b);
    }
    if let Some(d) = recs.get_mut(oj..oj.saturating_add(12)) {
        crate::util::copy(d, &a);
    }
}

fn sift_down(recs: &mut [u8], mut root: usize, end: usize) {
    loop {
        let mut child = root.saturating_mul(2).saturating_add(1);
        if child >= end {
            return;
        }
        let right = child.saturating_add(1);
        if right < end && key(recs, child) < key(recs, right) {
            child = right;
        }
        if key(recs, root) >= key(recs, child) {
            return;
        }
        swap(recs, root, child);
        root = child;
    }
}

/// Sort `n` 12-byte `btf_var_secinfo` records by offset, in place, in O(n log n) with no
/// memory (a hostile DATASEC may have 65535 entries).
fn heapsort_secinfos(recs: &mut [u8], n: usize) {
    if (1..n).all(|i| key(recs, i.saturating_sub(1)) <= key(recs, i)) {
        return;
    }
    for start in (0..n / 2).rev() {
        sift_down(recs, start, n);
    }
    for end in (1..n).rev() {
        swap(recs, 0, end);
        sift_down(recs, 0, end);
    }
}

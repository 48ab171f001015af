// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! BTF: the object's type information, the fixups done before `BPF_BTF_LOAD`, and
//! kernel (vmlinux and module) BTF for CO-RE and kfuncs.
//!
//! # Model
//!
//! A BTF blob is a header, a type section (variable-length records, type id = position,
//! id 0 is `void`) and a string section. Finding a type by id needs an index, and the core
//! allocates nothing itself, so loading is two steps:
//!
//! 1. [`count_types`] walks the type section once and returns the number of records;
//! 2. the caller allocates `count + 1` `u32`s (via [`crate::mem::Alloc`], or borrows a
//!    slice) and [`Btf::parse`] fills them with each record's byte offset while it
//!    validates every record.
//!
//! [`Btf`] is generic over its storage: the object's BTF is a caller-allocated mutable copy
//! (so [fixups](Btf::fixup_datasecs) can patch it in place before `BPF_BTF_LOAD`), kernel
//! BTF may be a borrowed `&[u8]` / `&[u32]`. Split BTF (a kernel module's BTF, whose ids
//! and string offsets continue after vmlinux's) is parsed with [`Btf::parse_split`] and
//! read through [`SplitBtf`], which joins it to its base. Readers that must work on both
//! take `impl` [`Types`].
//!
//! # Invariants
//!
//! Once [`Btf::parse`] (or `parse_split`) has returned, every record is known to be in
//! bounds, of a known kind, with legal `vlen`/`kind_flag`, every name offset points at a
//! NUL-terminated UTF-8 string obeying the kernel's naming rules for its place, and every
//! referenced type id is below the type count. The blob is private and only changed by
//! the setters of this module, which keep these invariants (they never change a record's
//! length, kind or name: the spans of DATASECs and DECL_TAGs [`Btf::ids_of_kind`] gives,
//! and of names starting with '.' [`Btf::ids_dot_named`] gives, stay right). Readers
//! therefore need no re-validation; they still use checked reads, and a read that
//! "cannot fail" degrades to an empty iterator or an error, never a panic.
//!
//! [`Btf::parse_kernel`] (the running kernel's BTF) and `Btf::parse_deferred` (an
//! object's BTF whose full check runs later, `ParseOptions::defer_btf_checks`) establish
//! only the first two: every record in bounds and of a known kind and length. Since
//! both are read by the same code as fully checked BTF, that code relies on nothing
//! more: a bad id, name or size read from such a BTF is an error (or a wrong answer,
//! which the later full check of an object's BTF turns into its refusal), and every
//! walk through references is bounded ([`crate::limits::MAX_RESOLVE_DEPTH`]).
//!
//! What is *not* checked at parse time is what the kernel checks only later (its
//! "resolve" pass: a FUNC points at a FUNC_PROTO, member sizes fit, no reference cycles)
//! and what clang leaves for the loader to fix (DATASEC sizes and offsets, extern
//! linkage). [`Btf::check_loadable`] checks the latter after the fixups.
//!
//! Only little-endian BTF is accepted, as for the ELF file itself.

mod append;
mod ext;
mod fixup;
mod parse;
mod split;
mod view;

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;

pub use append::Grown;
pub use ext::{
    BtfExt, CoreRelo, ExtHeader, ExtRecord, FuncInfo, InfoBlock, InfoBlocks, InfoSection, LineInfo,
    Records, BTF_EXT_HEADER_CORE, BTF_EXT_HEADER_MIN,
};
pub use fixup::{extern_datasec, DatasecElf, ExternSec, VarSymbol};
pub use parse::{count_types, Btf, Header};
pub use split::SplitBtf;
pub use view::{
    Array, DeclTag, EnumValue, EnumValues, Func, IntEncoding, Member, Members, NameMatch, Param,
    Params, Secinfos, Strings, Type, Var, VarSecinfo,
};

use crate::error::{Ctx, Error, Result, ResultExt};
use crate::limits::MAX_RESOLVE_DEPTH;
use core::ops::Range;

/// `BTF_MAGIC`, as read little-endian from the first two bytes.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// The only BTF (and .BTF.ext) version.
pub const BTF_VERSION: u8 = 1;
/// Size of `struct btf_header`.
pub const BTF_HEADER_LEN: usize = 24;
/// Size of `struct btf_type` (the fixed part of every record).
pub const BTF_TYPE_LEN: usize = 12;
/// `BTF_MAX_NAME_OFFSET`: the largest string offset the kernel accepts.
pub const BTF_MAX_NAME_OFFSET: u32 = 0x00ff_ffff;
/// Bits of `btf_type.info` that may be set (`BTF_INFO_MASK`): vlen, kind, kind_flag.
pub const BTF_INFO_MASK: u32 = 0x9f00_ffff;
/// Bits of an INT's encoding word that may be set (`BTF_INT_MASK`).
pub const BTF_INT_MASK: u32 = 0x0fff_ffff;
/// Pointer size of the BPF target, used for `PTR` sizes.
pub const BPF_PTR_SIZE: u32 = 8;

/// `BTF_KIND_UNKN`: never in a record; the kind of `void` (id 0).
pub const BTF_KIND_UNKN: u32 = 0;
/// `BTF_KIND_INT`.
pub const BTF_KIND_INT: u32 = 1;
/// `BTF_KIND_PTR`.
pub const BTF_KIND_PTR: u32 = 2;
/// `BTF_KIND_ARRAY`.
pub const BTF_KIND_ARRAY: u32 = 3;
/// `BTF_KIND_STRUCT`.
pub const BTF_KIND_STRUCT: u32 = 4;
/// `BTF_KIND_UNION`.
pub const BTF_KIND_UNION: u32 = 5;
/// `BTF_KIND_ENUM`.
pub const BTF_KIND_ENUM: u32 = 6;
/// `BTF_KIND_FWD`.
pub const BTF_KIND_FWD: u32 = 7;
/// `BTF_KIND_TYPEDEF`.
pub const BTF_KIND_TYPEDEF: u32 = 8;
/// `BTF_KIND_VOLATILE`.
pub const BTF_KIND_VOLATILE: u32 = 9;
/// `BTF_KIND_CONST`.
pub const BTF_KIND_CONST: u32 = 10;
/// `BTF_KIND_RESTRICT`.
pub const BTF_KIND_RESTRICT: u32 = 11;
/// `BTF_KIND_FUNC`.
pub const BTF_KIND_FUNC: u32 = 12;
/// `BTF_KIND_FUNC_PROTO`.
pub const BTF_KIND_FUNC_PROTO: u32 = 13;
/// `BTF_KIND_VAR`.
pub const BTF_KIND_VAR: u32 = 14;
/// `BTF_KIND_DATASEC`.
pub const BTF_KIND_DATASEC: u32 = 15;
/// `BTF_KIND_FLOAT`.
pub const BTF_KIND_FLOAT: u32 = 16;
/// `BTF_KIND_DECL_TAG`.
pub const BTF_KIND_DECL_TAG: u32 = 17;
/// `BTF_KIND_TYPE_TAG`.
pub const BTF_KIND_TYPE_TAG: u32 = 18;
/// `BTF_KIND_ENUM64`.
pub const BTF_KIND_ENUM64: u32 = 19;

/// `BTF_VAR_STATIC`.
pub const BTF_VAR_STATIC: u32 = 0;
/// `BTF_VAR_GLOBAL_ALLOCATED`.
pub const BTF_VAR_GLOBAL_ALLOCATED: u32 = 1;
/// `BTF_VAR_GLOBAL_EXTERN`: clang's mark for `extern` variables; the kernel refuses it,
/// the loader rewrites it.
pub const BTF_VAR_GLOBAL_EXTERN: u32 = 2;

/// `BTF_FUNC_STATIC` (a FUNC's linkage lives in its `vlen`).
pub const BTF_FUNC_STATIC: u16 = 0;
/// `BTF_FUNC_GLOBAL`.
pub const BTF_FUNC_GLOBAL: u16 = 1;
/// `BTF_FUNC_EXTERN`: clang's mark for `extern` functions (kfuncs); the kernel refuses it,
/// the loader rewrites it.
pub const BTF_FUNC_EXTERN: u16 = 2;

/// `BTF_INT_SIGNED` encoding bit.
pub const BTF_INT_SIGNED: u8 = 1 << 0;
/// `BTF_INT_CHAR` encoding bit.
pub const BTF_INT_CHAR: u8 = 1 << 1;
/// `BTF_INT_BOOL` encoding bit.
pub const BTF_INT_BOOL: u8 = 1 << 2;

/// Name of the DATASEC holding `__kconfig` externs (libbpf's `KCONFIG_SEC`).
pub const KCONFIG_SEC: &str = ".kconfig";
/// Name of the DATASEC holding `__ksym` externs and kfuncs (libbpf's `KSYMS_SEC`).
pub const KSYMS_SEC: &str = ".ksyms";

/// The kind of a BTF type; [`BtfKind::Void`] only for id 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BtfKind {
    /// `void`, type id 0 (`BTF_KIND_UNKN`).
    Void = 0,
    /// `BTF_KIND_INT`.
    Int = 1,
    /// `BTF_KIND_PTR`.
    Ptr = 2,
    /// `BTF_KIND_ARRAY`.
    Array = 3,
    /// `BTF_KIND_STRUCT`.
    Struct = 4,
    /// `BTF_KIND_UNION`.
    Union = 5,
    /// `BTF_KIND_ENUM`.
    Enum = 6,
    /// `BTF_KIND_FWD`.
    Fwd = 7,
    /// `BTF_KIND_TYPEDEF`.
    Typedef = 8,
    /// `BTF_KIND_VOLATILE`.
    Volatile = 9,
    /// `BTF_KIND_CONST`.
    Const = 10,
    /// `BTF_KIND_RESTRICT`.
    Restrict = 11,
    /// `BTF_KIND_FUNC`.
    Func = 12,
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto = 13,
    /// `BTF_KIND_VAR`.
    Var = 14,
    /// `BTF_KIND_DATASEC`.
    Datasec = 15,
    /// `BTF_KIND_FLOAT`.
    Float = 16,
    /// `BTF_KIND_DECL_TAG`.
    DeclTag = 17,
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag = 18,
    /// `BTF_KIND_ENUM64`.
    Enum64 = 19,
}

impl BtfKind {
    /// The kind for a `BTF_KIND_*` number (0 gives [`BtfKind::Void`]).
    pub fn from_u32(k: u32) -> Option<BtfKind> {
        Some(match k {
            BTF_KIND_UNKN => BtfKind::Void,
            BTF_KIND_INT => BtfKind::Int,
            BTF_KIND_PTR => BtfKind::Ptr,
            BTF_KIND_ARRAY => BtfKind::Array,
            BTF_KIND_STRUCT => BtfKind::Struct,
            BTF_KIND_UNION => BtfKind::Union,
            BTF_KIND_ENUM => BtfKind::Enum,
            BTF_KIND_FWD => BtfKind::Fwd,
            BTF_KIND_TYPEDEF => BtfKind::Typedef,
            BTF_KIND_VOLATILE => BtfKind::Volatile,
            BTF_KIND_CONST => BtfKind::Const,
            BTF_KIND_RESTRICT => BtfKind::Restrict,
            BTF_KIND_FUNC => BtfKind::Func,
            BTF_KIND_FUNC_PROTO => BtfKind::FuncProto,
            BTF_KIND_VAR => BtfKind::Var,
            BTF_KIND_DATASEC => BtfKind::Datasec,
            BTF_KIND_FLOAT => BtfKind::Float,
            BTF_KIND_DECL_TAG => BtfKind::DeclTag,
            BTF_KIND_TYPE_TAG => BtfKind::TypeTag,
            BTF_KIND_ENUM64 => BtfKind::Enum64,
            _ => return None,
        })
    }

    /// The `BTF_KIND_*` number.
    pub fn as_u32(self) -> u32 {
        u32::from(self as u8)
    }

    /// The kind's name as bpftool and the kernel log print it (`"STRUCT"`, `"FUNC_PROTO"`).
    pub fn as_str(self) -> &'static str {
        match self {
            BtfKind::Void => "UNKN",
            BtfKind::Int => "INT",
            BtfKind::Ptr => "PTR",
            BtfKind::Array => "ARRAY",
            BtfKind::Struct => "STRUCT",
            BtfKind::Union => "UNION",
            BtfKind::Enum => "ENUM",
            BtfKind::Fwd => "FWD",
            BtfKind::Typedef => "TYPEDEF",
            BtfKind::Volatile => "VOLATILE",
            BtfKind::Const => "CONST",
            BtfKind::Restrict => "RESTRICT",
            BtfKind::Func => "FUNC",
            BtfKind::FuncProto => "FUNC_PROTO",
            BtfKind::Var => "VAR",
            BtfKind::Datasec => "DATASEC",
            BtfKind::Float => "FLOAT",
            BtfKind::DeclTag => "DECL_TAG",
            BtfKind::TypeTag => "TYPE_TAG",
            BtfKind::Enum64 => "ENUM64",
        }
    }

    /// Size of the data following the 12-byte `btf_type` for a record of this kind with
    /// `vlen` entries. At most 12 * 0xffff, so it cannot overflow.
    pub fn extra_len(self, vlen: u16) -> usize {
        let n = usize::from(vlen);
        match self {
            BtfKind::Int | BtfKind::Var | BtfKind::DeclTag => 4,
            BtfKind::Array => 12,
            BtfKind::Struct | BtfKind::Union | BtfKind::Datasec | BtfKind::Enum64 => {
                n.saturating_mul(12)
            }
            BtfKind::Enum | BtfKind::FuncProto => n.saturating_mul(8),
            BtfKind::Void
            | BtfKind::Ptr
            | BtfKind::Fwd
            | BtfKind::Typedef
            | BtfKind::Volatile
            | BtfKind::Const
            | BtfKind::Restrict
            | BtfKind::Func
            | BtfKind::Float
            | BtfKind::TypeTag => 0,
        }
    }

    /// Whether the third word of the record is a size (else a type id, or unused).
    pub fn has_size(self) -> bool {
        matches!(
            self,
            BtfKind::Int
                | BtfKind::Struct
                | BtfKind::Union
                | BtfKind::Enum
                | BtfKind::Enum64
                | BtfKind::Datasec
                | BtfKind::Float
        )
    }

    /// Whether the third word of the record is a referenced type id.
    pub fn has_ref_type(self) -> bool {
        matches!(
            self,
            BtfKind::Ptr
                | BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::Func
                | BtfKind::FuncProto
                | BtfKind::Var
                | BtfKind::DeclTag
                | BtfKind::TypeTag
        )
    }

    /// A modifier: `volatile`, `const`, `restrict` or a type tag (libbpf's `btf_is_mod`).
    pub fn is_mod(self) -> bool {
        matches!(
            self,
            BtfKind::Volatile | BtfKind::Const | BtfKind::Restrict | BtfKind::TypeTag
        )
    }

    /// A struct or a union.
    pub fn is_composite(self) -> bool {
        matches!(self, BtfKind::Struct | BtfKind::Union)
    }

    /// An enum of either width.
    pub fn is_any_enum(self) -> bool {
        matches!(self, BtfKind::Enum | BtfKind::Enum64)
    }
}

/// Read access to a set of BTF types, implemented by a lone [`Btf`] and by base + split
/// ([`SplitBtf`]), so that lookups and the CO-RE code work on either.
///
/// The provided helpers follow libbpf's semantics, bounded by
/// [`MAX_RESOLVE_DEPTH`] so that a reference cycle ends in an error.
pub trait Types {
    /// Number of type ids, `void` (id 0) and any base types included: valid ids are
    /// `0..type_count()` (libbpf's `btf__type_cnt`).
    fn type_count(&self) -> u32;

    /// The type with id `id` (id 0 gives a `void` view).
    fn type_by_id(&self, id: u32) -> Result<'static, Type<'_>>;

    /// The string at offset `off` of the string section(s).
    fn name_at(&self, off: u32) -> Result<'static, &str>;

    /// The kind of type `id`, `None` past the last type: for walks over every type that
    /// look at few kinds, cheaper than [`Types::type_by_id`] on a parsed [`Btf`].
    fn kind_of(&self, id: u32) -> Option<BtfKind> {
        self.type_by_id(id).ok().map(|t| t.kind())
    }

    /// The bytes of the string at `off` (no UTF-8 check), or `None` outside the strings.
    fn name_bytes_at(&self, off: u32) -> Option<&[u8]> {
        self.name_at(off).ok().map(str::as_bytes)
    }

    /// Whether the string at `off` is `name` (false outside the strings): on a parsed
    /// [`Btf`] one comparison, without looking for the stored string's end.
    fn name_eq_at(&self, off: u32, name: &[u8]) -> bool {
        self.name_bytes_at(off) == Some(name)
    }

    /// Whether the string at `off` is empty, or `None` outside the strings.
    fn name_is_empty_at(&self, off: u32) -> Option<bool> {
        self.name_bytes_at(off).map(<[u8]>::is_empty)
    }

    /// Direct access to the records' first words, when the types are one parsed
    /// [`Btf`]: the walks over every type of a kernel BTF use it instead of
    /// [`Types::type_by_id`].
    fn raw_heads(&self) -> Option<RawHeads<'_>> {
        None
    }

    /// The kind of type `id` and its record's third word (the type it refers to, or its
    /// size), `None` for void and past the last type: what following modifiers and
    /// typedefs needs, cheaper than [`Types::type_by_id`] on a parsed [`Btf`].
    fn kind_and_ref(&self, id: u32) -> Option<(BtfKind, u32)> {
        let t = self.type_by_id(id).ok()?;
        (t.kind() != BtfKind::Void).then(|| (t.kind(), t.raw_size_or_type()))
    }

    /// Follow modifiers (const, volatile, restrict, type tags) and typedefs from `id` to
    /// the first other type (libbpf's `skip_mods_and_typedefs`).
    fn skip_mods_and_typedefs(&self, id: u32) -> Result<'static, Type<'_>> {
        // The chain is followed on the records' words; the view is built of its end.
        let mut cur = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            match self.kind_and_ref(cur) {
                Some((k, next)) if k.is_mod() || k == BtfKind::Typedef => cur = next,
                _ => return self.type_by_id(cur),
            }
        }
        // Too deep; a bad id at that depth is reported as such, as it always was.
        self.type_by_id(cur)?;
        Err(chain_error(self, id, false))
    }

    /// Size in bytes of type `id`, through modifiers, typedefs, VARs and arrays (libbpf's
    /// `btf__resolve_size`): pointers are [`BPF_PTR_SIZE`]; types without a size (FWD,
    /// FUNC, FUNC_PROTO, void) are an error.
    fn resolve_size(&self, id: u32) -> Result<'static, u32> {
        let mut nelems: u32 = 1;
        let mut cur = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let (kind, sot) = match self.kind_and_ref(cur) {
                Some(head) => head,
                // Void, or a bad id, which the view reports.
                None => {
                    let t = self.type_by_id(cur)?;
                    (t.kind(), t.raw_size_or_type())
                }
            };
            let size = match kind {
                BtfKind::Int
                | BtfKind::Struct
                | BtfKind::Union
                | BtfKind::Enum
                | BtfKind::Enum64
                | BtfKind::Datasec
                | BtfKind::Float => sot,
                BtfKind::Ptr => BPF_PTR_SIZE,
                BtfKind::Typedef
                | BtfKind::Volatile
                | BtfKind::Const
                | BtfKind::Restrict
                | BtfKind::Var
                | BtfKind::DeclTag
                | BtfKind::TypeTag => {
                    cur = sot;
                    continue;
                }
                BtfKind::Array => {
                    let a = self.type_by_id(cur)?.array()?;
                    nelems = nelems
                        .checked_mul(a.nelems)
                        .ok_or(Error::malformed("array size overflows u32"))
                        .ctx(Ctx::BtfType(cur))?;
                    cur = a.elem;
                    continue;
                }
                BtfKind::Void | BtfKind::Fwd | BtfKind::Func | BtfKind::FuncProto => {
                    return Err(Error::malformed("type has no size").ctx(Ctx::BtfType(cur)));
                }
            };
            return size
                .checked_mul(nelems)
                .ok_or_else(|| Error::malformed("type size overflows u32").ctx(Ctx::BtfType(id)));
        }
        Err(chain_error(self, id, true))
    }

    /// The first type (lowest id) of kind `kind` named `name`, base types first (libbpf's
    /// `btf__find_by_name_kind`; `("void", Void)` gives id 0). Linear: for repeated
    /// lookups in kernel BTF use an index.
    fn find_by_name_kind(&self, name: &str, kind: BtfKind) -> Result<'static, Option<u32>> {
        if kind == BtfKind::Void && name == "void" {
            return Ok(Some(0));
        }
        for id in self.ids_of_kind(kind) {
            let t = self.type_by_id(id)?;
            if t.kind() == kind && t.name_eq(name) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// The ids, in order, among which every type of kind `kind` is: all of them unless
    /// an implementation knows a narrower range ([`Btf::ids_of_kind`]).
    fn ids_of_kind(&self, kind: BtfKind) -> Range<u32> {
        let _ = kind;
        1..self.type_count()
    }
}

/// The error for a reference chain from `id` that did not end within
/// [`MAX_RESOLVE_DEPTH`] steps: a cycle if an id repeats in it, otherwise too deep.
/// Only `resolve_size` follows arrays.
fn chain_error<T: Types + ?Sized>(types: &T, id: u32, through_arrays: bool) -> Error<'static> {
    let mut seen = [0u32; MAX_RESOLVE_DEPTH + 1];
    let mut cur = id;
    for i in 0..seen.len() {
        if seen.iter().take(i).any(|&s| s == cur) {
            return Error::malformed("type reference cycle").ctx(Ctx::BtfType(id));
        }
        if let Some(slot) = seen.get_mut(i) {
            *slot = cur;
        }
        let next = match types.type_by_id(cur) {
            Ok(t) if t.kind() == BtfKind::Array && through_arrays => t.array().map(|a| a.elem).ok(),
            Ok(t) if t.kind().has_ref_type() => Some(t.raw_size_or_type()),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    Error::limit(
        "type reference depth",
        MAX_RESOLVE_DEPTH.saturating_add(1),
        MAX_RESOLVE_DEPTH,
    )
    .ctx(Ctx::BtfType(id))
}

/// The name offset and kind of each record of one parsed [`Btf`] ([`Types::raw_heads`]).
#[derive(Clone, Copy, Debug)]
pub struct RawHeads<'a> {
    pub(crate) data: &'a [u8],
    /// Record offsets; index 0 is `void`.
    pub(crate) offsets: &'a [u32],
    pub(crate) start_id: u32,
    /// Types with a name, other than FUNCs, among all of them.
    pub(crate) named: u32,
}

impl<'a> RawHeads<'a> {
    /// The number of named non-FUNC types of `ids`, if it is known without a walk
    /// (`ids` are all the records).
    pub fn named_in(&self, ids: &Range<u32>) -> Option<usize> {
        let all = self.offsets.len().saturating_sub(1);
        let end = (self.start_id as usize).saturating_add(all);
        (ids.start == self.start_id && ids.end as usize == end).then_some(self.named as usize)
    }

    /// `(id, kind, name_off)` of each type of `ids`, in order.
    pub fn iter(
        &self,
        ids: Range<u32>,
    ) -> Result<'static, impl Iterator<Item = Result<'static, (u32, BtfKind, u32)>> + 'a> {
        let not_found =
            |id| Error::new(crate::error::Kind::NotFound("BTF type id")).ctx(Ctx::BtfType(id));
        let (Some(lo), Some(hi)) = (
            ids.start.checked_sub(self.start_id),
            ids.end.checked_sub(self.start_id),
        ) else {
            return Err(not_found(ids.start));
        };
        let offs = self
            .offsets
            .get((lo as usize).saturating_add(1)..(hi as usize).saturating_add(1))
            .ok_or_else(|| not_found(ids.end))?;
        let data = self.data;
        Ok(ids.zip(offs).map(move |(id, &off)| {
            let off = off as usize;
            match (
                crate::bytes::u32_at(data, off),
                crate::bytes::u32_at(data, off.saturating_add(4))
                    .and_then(|info| BtfKind::from_u32((info >> 24) & 0x1f)),
            ) {
                (Some(name_off), Some(kind)) => Ok((id, kind, name_off)),
                _ => Err(Error::malformed("corrupt BTF index").ctx(Ctx::BtfType(id))),
            }
        }))
    }
}

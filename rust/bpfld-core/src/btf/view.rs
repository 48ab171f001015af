// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Borrowed, `Copy` views of validated BTF records: a [`Type`] and the typed entries behind
//! it (members, enumerators, parameters, DATASEC entries, ...).
//!
//! Views are only created from a parsed [`super::Btf`], whose invariants guarantee that
//! every trailing entry is in bounds and every name offset valid. Reads stay checked all
//! the same: a read that cannot fail ends an iterator rather than panicking.

use super::{BtfKind, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED};
use crate::bytes;
use crate::error::{Ctx, Error, Kind, Result, What};

/// The string section(s) names are read from: for split BTF, offsets below `base_len`
/// belong to the base's section.
#[derive(Clone, Copy, Debug)]
pub struct Strings<'a> {
    base: &'a [u8],
    base_len: u32,
    local: &'a [u8],
}

impl<'a> Strings<'a> {
    /// Strings of one section (`base_len == 0`), or a split section on top of a base whose
    /// section is `base` (`base` may be empty when the base is not at hand).
    pub(crate) fn new(base: &'a [u8], base_len: u32, local: &'a [u8]) -> Self {
        Strings {
            base,
            base_len,
            local,
        }
    }

    /// The bytes of the NUL-terminated string at `off`, without the NUL.
    pub fn bytes(&self, off: u32) -> Option<&'a [u8]> {
        let rest = self.tail(off)?;
        rest.get(..crate::bytes::find_byte(rest, 0)?)
    }

    /// The rest of the string table `off` falls in, from `off` on (the string at `off`,
    /// its NUL, and whatever follows).
    #[inline]
    pub(crate) fn tail(&self, off: u32) -> Option<&'a [u8]> {
        let (table, rel) = match off.checked_sub(self.base_len) {
            Some(rel) => (self.local, rel),
            None => (self.base, off),
        };
        table.get(usize::try_from(rel).ok()?..)
    }

    /// Whether the string at `off` is `name`. Costs one comparison of at most
    /// `name.len() + 1` bytes (no scan for the end of the stored string, no UTF-8 check:
    /// `name` is a `str`, and equal bytes are equally valid), so that name lookups over
    /// every type of a kernel BTF stay cheap. False for an offset outside the strings.
    #[inline]
    pub fn eq_at(&self, off: u32, name: &[u8]) -> bool {
        let Some(rest) = self.tail(off) else {
            return false;
        };
        // A stored string ends at its first NUL: a `name` with a NUL matches none.
        rest.get(..name.len()) == Some(name)
            && rest.get(name.len()) == Some(&0)
            && !name.contains(&0)
    }

    /// How the string at `off` compares with `name` (which has no NUL): empty, equal or
    /// another string, read no further than the first difference; `None` for an
    /// offset outside the strings. For searches that meet many names and skip almost
    /// all of them at their first byte (a CO-RE member search over a kernel struct).
    #[inline]
    pub fn match_at(&self, off: u32, name: &[u8]) -> Option<NameMatch> {
        let rest = self.tail(off)?;
        if *rest.first()? == 0 {
            return Some(NameMatch::Empty);
        }
        for (i, &c) in name.iter().enumerate() {
            if rest.get(i) != Some(&c) {
                return Some(NameMatch::Other);
            }
        }
        // Equal only up to a NUL: a table that ends inside the string has none (parsed
        // BTF always ends with one).
        match *rest.get(name.len())? {
            0 => Some(NameMatch::Equal),
            _ => Some(NameMatch::Other),
        }
    }

    /// The string at `off`, which must be valid UTF-8.
    pub fn get(&self, off: u32) -> Result<'static, &'a str> {
        let b = match self.bytes(off) {
            Some(b) => b,
            None if off < self.base_len && self.base.is_empty() => {
                return Err(Error::new(Kind::NotFound(
                    "string of the base BTF (read split BTF through SplitBtf)",
                ))
                .ctx(Ctx::Value(What::Offset, u64::from(off))))
            }
            None => {
                return Err(
                    Error::malformed("string offset outside the BTF string section")
                        .ctx(Ctx::Value(What::Offset, u64::from(off))),
                )
            }
        };
        core::str::from_utf8(b).map_err(|_| {
            Error::malformed("BTF string is not valid UTF-8")
                .ctx(Ctx::Value(What::Offset, u64::from(off)))
        })
    }
}

/// What [`Strings::match_at`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameMatch {
    /// The empty string (an anonymous member or type).
    Empty,
    /// The name looked for.
    Equal,
    /// Another name.
    Other,
}

/// One BTF type: the fixed `btf_type` fields plus its trailing entries.
#[derive(Clone, Copy, Debug)]
pub struct Type<'a> {
    id: u32,
    kind: BtfKind,
    name_off: u32,
    info: u32,
    size_or_type: u32,
    extra: &'a [u8],
    strs: Strings<'a>,
}

impl<'a> Type<'a> {
    pub(crate) fn new(
        id: u32,
        kind: BtfKind,
        name_off: u32,
        info: u32,
        sot: u32,
        extra: &'a [u8],
        strs: Strings<'a>,
    ) -> Self {
        Type {
            id,
            kind,
            name_off,
            info,
            size_or_type: sot,
            extra,
            strs,
        }
    }

    /// `void`, id 0.
    pub(crate) fn void(strs: Strings<'a>) -> Self {
        Type::new(0, BtfKind::Void, 0, 0, 0, &[], strs)
    }

    /// Type id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Kind.
    pub fn kind(&self) -> BtfKind {
        self.kind
    }

    /// Offset of the name in the string section (0: anonymous).
    pub fn name_off(&self) -> u32 {
        self.name_off
    }

    /// Whether the name is `name` (see [`Strings::eq_at`]).
    #[inline]
    pub fn name_eq(&self, name: &str) -> bool {
        self.strs.eq_at(self.name_off, name.as_bytes())
    }

    /// The name's bytes, without the UTF-8 check of [`Type::name`] (names of a parsed
    /// [`super::Btf`] were all checked by its parse); `None` for an offset outside the
    /// strings.
    #[inline]
    pub fn name_bytes(&self) -> Option<&'a [u8]> {
        self.strs.bytes(self.name_off)
    }

    /// Name (`""` when anonymous).
    pub fn name(&self) -> Result<'static, &'a str> {
        self.strs
            .get(self.name_off)
            .map_err(|e| e.ctx(Ctx::BtfType(self.id)))
    }

    /// The raw `info` word.
    pub fn info(&self) -> u32 {
        self.info
    }

    /// Number of trailing entries; for FUNC, its linkage.
    pub fn vlen(&self) -> u16 {
        (self.info & 0xffff) as u16
    }

    /// `kind_flag`: bitfield encoding for STRUCT/UNION, signedness for ENUM/ENUM64,
    /// union-ness for FWD; on TYPE_TAG and DECL_TAG (kernels after 6.12) an attribute
    /// rather than a tag, which must not be read as one (e.g. as `__user`).
    pub fn kind_flag(&self) -> bool {
        self.info & (1 << 31) != 0
    }

    /// The raw third word (`size` or `type`).
    pub fn raw_size_or_type(&self) -> u32 {
        self.size_or_type
    }

    /// Size in bytes, for kinds that have one (INT, STRUCT, UNION, ENUM, ENUM64, DATASEC,
    /// FLOAT).
    pub fn size(&self) -> Option<u32> {
        self.kind.has_size().then_some(self.size_or_type)
    }

    /// Referenced type id, for kinds that have one (PTR, TYPEDEF, modifiers, FUNC, VAR,
    /// DECL_TAG, TYPE_TAG; for FUNC_PROTO the return type).
    pub fn ref_type(&self) -> Option<u32> {
        self.kind.has_ref_type().then_some(self.size_or_type)
    }

    /// The string table this type's names are read from.
    pub fn strings(&self) -> Strings<'a> {
        self.strs
    }

    fn want(&self, ok: bool, msg: &'static str) -> Result<'static, ()> {
        if ok {
            Ok(())
        } else {
            Err(Error::malformed(msg).ctx(Ctx::BtfType(self.id)))
        }
    }

    fn word(&self, off: usize) -> u32 {
        // INVARIANT (parse): the trailing data has the length its kind requires.
        bytes::u32_at(self.extra, off).unwrap_or(0)
    }

    fn entries(&self, stride: usize) -> Raw<'a> {
        Raw {
            data: self.extra,
            stride,
            next: 0,
            len: self.vlen(),
        }
    }

    /// Members of a STRUCT or UNION.
    pub fn members(&self) -> Result<'static, Members<'a>> {
        self.want(self.kind.is_composite(), "not a STRUCT or UNION")?;
        Ok(Members {
            raw: self.entries(12),
            kflag: self.kind_flag(),
            strs: self.strs,
        })
    }

    /// Enumerators of an ENUM or ENUM64.
    pub fn enum_values(&self) -> Result<'static, EnumValues<'a>> {
        self.want(self.kind.is_any_enum(), "not an ENUM or ENUM64")?;
        let wide = self.kind == BtfKind::Enum64;
        Ok(EnumValues {
            raw: self.entries(if wide { 12 } else { 8 }),
            wide,
            signed: self.kind_flag(),
            strs: self.strs,
        })
    }

    /// Parameters of a FUNC_PROTO (its return type is [`Type::ref_type`]).
    pub fn params(&self) -> Result<'static, Params<'a>> {
        self.want(self.kind == BtfKind::FuncProto, "not a FUNC_PROTO")?;
        Ok(Params {
            raw: self.entries(8),
            strs: self.strs,
        })
    }

    /// Element, index type and length of an ARRAY.
    pub fn array(&self) -> Result<'static, Array> {
        self.want(self.kind == BtfKind::Array, "not an ARRAY")?;
        Ok(Array {
            elem: self.word(0),
            index: self.word(4),
            nelems: self.word(8),
        })
    }

    /// Type and linkage of a VAR.
    pub fn var(&self) -> Result<'static, Var> {
        self.want(self.kind == BtfKind::Var, "not a VAR")?;
        Ok(Var {
            type_id: self.size_or_type,
            linkage: self.word(0),
        })
    }

    /// Entries of a DATASEC.
    pub fn secinfos(&self) -> Result<'static, Secinfos<'a>> {
        self.want(self.kind == BtfKind::Datasec, "not a DATASEC")?;
        Ok(Secinfos {
            raw: self.entries(12),
        })
    }

    /// Encoding of an INT.
    pub fn int(&self) -> Result<'static, IntEncoding> {
        self.want(self.kind == BtfKind::Int, "not an INT")?;
        let w = self.word(0);
        Ok(IntEncoding {
            encoding: ((w >> 24) & 0x0f) as u8,
            offset: ((w >> 16) & 0xff) as u8,
            bits: (w & 0xff) as u8,
        })
    }

    /// Target and component of a DECL_TAG (its value is [`Type::name`]).
    pub fn decl_tag(&self) -> Result<'static, DeclTag> {
        self.want(self.kind == BtfKind::DeclTag, "not a DECL_TAG")?;
        Ok(DeclTag {
            type_id: self.size_or_type,
            component_idx: self.word(0) as i32,
        })
    }

    /// Prototype and linkage of a FUNC.
    pub fn func(&self) -> Result<'static, Func> {
        self.want(self.kind == BtfKind::Func, "not a FUNC")?;
        Ok(Func {
            proto: self.size_or_type,
            linkage: self.vlen(),
        })
    }
}

/// Fixed-stride trailing entries.
#[derive(Clone, Copy, Debug)]
struct Raw<'a> {
    data: &'a [u8],
    stride: usize,
    next: u16,
    len: u16,
}

impl<'a> Raw<'a> {
    #[inline]
    fn at(&self, i: u16) -> Option<&'a [u8]> {
        if i >= self.len {
            return None;
        }
        let off = usize::from(i).checked_mul(self.stride)?;
        self.data.get(off..off.checked_add(self.stride)?)
    }

    fn next(&mut self) -> Option<&'a [u8]> {
        let r = self.at(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(r)
    }

    fn remaining(&self) -> usize {
        usize::from(self.len.saturating_sub(self.next))
    }
}

#[inline]
fn w(rec: &[u8], off: usize) -> u32 {
    bytes::u32_at(rec, off).unwrap_or(0)
}

macro_rules! entry_iter {
    ($iter:ident, $item:ty, $decode:ident) => {
        impl<'a> $iter<'a> {
            /// Entry `i`, if `i < len()`.
            #[inline]
            pub fn get(&self, i: u16) -> Option<$item> {
                self.raw.at(i).map(|r| self.$decode(r))
            }

            /// Number of entries (`vlen`).
            pub fn total(&self) -> u16 {
                self.raw.len
            }
        }

        impl<'a> Iterator for $iter<'a> {
            type Item = $item;
            #[inline]
            fn next(&mut self) -> Option<$item> {
                let r = self.raw.next()?;
                Some(self.$decode(r))
            }
            fn size_hint(&self) -> (usize, Option<usize>) {
                let n = self.raw.remaining();
                (n, Some(n))
            }
        }

        impl<'a> ExactSizeIterator for $iter<'a> {}
    };
}

/// One STRUCT or UNION member.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    /// Name offset (0: anonymous member).
    pub name_off: u32,
    /// Member type.
    pub type_id: u32,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits; 0 when not a bitfield, or when the struct's `kind_flag` is
    /// clear (then a bitfield is described by an INT with a nonzero offset/bits instead).
    pub bitfield_size: u32,
    strs: Strings<'a>,
}

impl<'a> Member<'a> {
    /// Whether the name is `name` (see [`Strings::eq_at`]).
    #[inline]
    pub fn name_eq(&self, name: &str) -> bool {
        self.strs.eq_at(self.name_off, name.as_bytes())
    }

    /// The name's bytes, without the UTF-8 check of [`Type::name`] (names of a parsed
    /// [`super::Btf`] were all checked by its parse); `None` for an offset outside the
    /// strings.
    #[inline]
    pub fn name_bytes(&self) -> Option<&'a [u8]> {
        self.strs.bytes(self.name_off)
    }

    /// Name (`""` when anonymous).
    pub fn name(&self) -> Result<'static, &'a str> {
        self.strs.get(self.name_off)
    }
}

/// Iterator over the members of a STRUCT or UNION.
#[derive(Clone, Copy, Debug)]
pub struct Members<'a> {
    raw: Raw<'a>,
    kflag: bool,
    strs: Strings<'a>,
}

impl<'a> Members<'a> {
    /// The first member from index `from` on whose name is not another than `name`
    /// (it is `name`, empty, or an offset outside the strings: `None` in the pair),
    /// reading only name offsets; `None` if every remaining member has another name.
    pub fn next_not_other(&self, from: u16, name: &[u8]) -> Option<(u16, Option<NameMatch>)> {
        if self.raw.stride == 0 {
            return None;
        }
        let start = usize::from(from).checked_mul(self.raw.stride)?;
        let end = usize::from(self.raw.len).checked_mul(self.raw.stride)?;
        let recs = self.raw.data.get(start..end)?;
        for (k, r) in recs.chunks_exact(self.raw.stride).enumerate() {
            let m = self.strs.match_at(w(r, 0), name);
            if m != Some(NameMatch::Other) {
                return Some((from.saturating_add(k as u16), m));
            }
        }
        None
    }

    fn decode(&self, r: &[u8]) -> Member<'a> {
        let off = w(r, 8);
        let (bit_offset, bitfield_size) = if self.kflag {
            (off & 0x00ff_ffff, off >> 24)
        } else {
            (off, 0)
        };
        Member {
            name_off: w(r, 0),
            type_id: w(r, 4),
            bit_offset,
            bitfield_size,
            strs: self.strs,
        }
    }
}
entry_iter!(Members, Member<'a>, decode);

/// One enumerator of an ENUM or ENUM64.
#[derive(Clone, Copy, Debug)]
pub struct EnumValue<'a> {
    /// Name offset.
    pub name_off: u32,
    /// The value as 64 bits: an ENUM's 32-bit value is sign-extended when the enum is
    /// signed, zero-extended otherwise, so [`EnumValue::as_i64`] / [`EnumValue::as_u64`]
    /// give the C value in both cases.
    pub value: u64,
    /// Whether the enum is signed (`kind_flag`).
    pub signed: bool,
    strs: Strings<'a>,
}

impl<'a> EnumValue<'a> {
    /// Name.
    pub fn name(&self) -> Result<'static, &'a str> {
        self.strs.get(self.name_off)
    }

    /// The value, read as signed.
    pub fn as_i64(&self) -> i64 {
        self.value as i64
    }

    /// The value, read as unsigned.
    pub fn as_u64(&self) -> u64 {
        self.value
    }
}

/// Iterator over enumerators.
#[derive(Clone, Copy, Debug)]
pub struct EnumValues<'a> {
    raw: Raw<'a>,
    wide: bool,
    signed: bool,
    strs: Strings<'a>,
}

impl<'a> EnumValues<'a> {
    fn decode(&self, r: &[u8]) -> EnumValue<'a> {
        let value = if self.wide {
            u64::from(w(r, 4)) | (u64::from(w(r, 8)) << 32)
        } else if self.signed {
            i64::from(w(r, 4) as i32) as u64
        } else {
            u64::from(w(r, 4))
        };
        EnumValue {
            name_off: w(r, 0),
            value,
            signed: self.signed,
            strs: self.strs,
        }
    }
}
entry_iter!(EnumValues, EnumValue<'a>, decode);

/// One FUNC_PROTO parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param<'a> {
    /// Name offset (0: unnamed).
    pub name_off: u32,
    /// Parameter type; 0 only for a trailing `...`.
    pub type_id: u32,
    strs: Strings<'a>,
}

impl<'a> Param<'a> {
    /// Name (`""` when unnamed).
    pub fn name(&self) -> Result<'static, &'a str> {
        self.strs.get(self.name_off)
    }

    /// The `...` of a variadic prototype.
    pub fn is_vararg(&self) -> bool {
        self.type_id == 0
    }
}

/// Iterator over FUNC_PROTO parameters.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    raw: Raw<'a>,
    strs: Strings<'a>,
}

impl<'a> Params<'a> {
    fn decode(&self, r: &[u8]) -> Param<'a> {
        Param {
            name_off: w(r, 0),
            type_id: w(r, 4),
            strs: self.strs,
        }
    }
}
entry_iter!(Params, Param<'a>, decode);

/// One DATASEC entry (`btf_var_secinfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The VAR (or, in `.ksyms`, FUNC) type.
    pub type_id: u32,
    /// Offset in the section, in bytes.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Iterator over DATASEC entries.
#[derive(Clone, Copy, Debug)]
pub struct Secinfos<'a> {
    raw: Raw<'a>,
}

impl<'a> Secinfos<'a> {
    fn decode(&self, r: &[u8]) -> VarSecinfo {
        VarSecinfo {
            type_id: w(r, 0),
            offset: w(r, 4),
            size: w(r, 8),
        }
    }
}
entry_iter!(Secinfos, VarSecinfo, decode);

/// An ARRAY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Array {
    /// Element type.
    pub elem: u32,
    /// Index type.
    pub index: u32,
    /// Number of elements.
    pub nelems: u32,
}

/// A VAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Var {
    /// Variable type.
    pub type_id: u32,
    /// `BTF_VAR_STATIC`, `BTF_VAR_GLOBAL_ALLOCATED` or `BTF_VAR_GLOBAL_EXTERN`.
    pub linkage: u32,
}

/// An INT's encoding word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntEncoding {
    /// `BTF_INT_SIGNED`, `BTF_INT_CHAR`, `BTF_INT_BOOL`, 0, or (GCC 12's `char`) more
    /// than one of them, which the kernel refuses and libbpf reads flag by flag.
    pub encoding: u8,
    /// Bit offset (legacy bitfield encoding).
    pub offset: u8,
    /// Number of bits.
    pub bits: u8,
}

impl IntEncoding {
    /// Signed integer.
    pub fn is_signed(&self) -> bool {
        self.encoding & BTF_INT_SIGNED != 0
    }

    /// Character type.
    pub fn is_char(&self) -> bool {
        self.encoding & BTF_INT_CHAR != 0
    }

    /// Boolean.
    pub fn is_bool(&self) -> bool {
        self.encoding & BTF_INT_BOOL != 0
    }
}

/// A DECL_TAG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclTag {
    /// The tagged STRUCT, UNION, VAR, FUNC or TYPEDEF.
    pub type_id: u32,
    /// -1 for the type itself, else the member or parameter index.
    pub component_idx: i32,
}

/// A FUNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    /// The FUNC_PROTO.
    pub proto: u32,
    /// `BTF_FUNC_STATIC`, `BTF_FUNC_GLOBAL` or `BTF_FUNC_EXTERN`.
    pub linkage: u16,
}

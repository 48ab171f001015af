// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Header and record validation, the id -> offset index, and read access by id.
//!
//! Validation follows the kernel's `btf_parse_hdr`, `btf_check_sec_info`,
//! `btf_parse_str_sec` and each kind's `check_meta` (kernel/bpf/btf.c, 6.12), with these
//! deliberate differences:
//! - names must be ASCII identifiers where the kernel wants identifiers (its `isalpha`
//!   also takes Latin-1 letters), and every name must be UTF-8;
//! - what clang emits and the loader fixes before `BPF_BTF_LOAD` is accepted here
//!   (DATASEC size 0 and unsorted or zero entries, `extern` VAR and FUNC linkage), and
//!   checked by [`Btf::check_loadable`] afterwards;
//! - `kind_flag` on TYPE_TAG and DECL_TAG (attribute tags, accepted by kernels after
//!   6.12, present in their vmlinux BTF) is accepted here and refused by
//!   [`Btf::check_loadable`];
//! - what GCC 12's BTF holds is accepted: an INT encoding of more than one flag
//!   (`char`), a FWD with a value in its type field and an anonymous FUNC. The
//!   kernel refuses each (ENOTSUPP, EINVAL), libbpf reads them, and both loaders then
//!   load the object without its BTF.
//!
//! Every reference to a type id must be below the type count, which the kernel only
//! checks in its later resolve pass.

use core::cell::Cell;
use core::fmt;
use core::ops::{Deref, DerefMut, Range};

use super::view::{Strings, Type};
use super::{
    BtfKind, Types, BTF_FUNC_EXTERN, BTF_FUNC_GLOBAL, BTF_HEADER_LEN, BTF_INFO_MASK, BTF_INT_MASK,
    BTF_MAGIC, BTF_MAX_NAME_OFFSET, BTF_TYPE_LEN, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN,
    BTF_VAR_STATIC, BTF_VERSION,
};
use crate::bytes;
use crate::error::{Ctx, Error, Kind, Result, What};
use crate::limits::{MAX_BTF_SIZE, MAX_BTF_TYPES, MAX_KERNEL_BTF_SIZE, MAX_NAME_LEN};
use crate::mem::Alloc;

/// `struct btf_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// [`BTF_MAGIC`].
    pub magic: u16,
    /// [`super::BTF_VERSION`].
    pub version: u8,
    /// Always 0.
    pub flags: u8,
    /// Header length; bytes past the 24 known ones must be zero.
    pub hdr_len: u32,
    /// Type section offset, from the end of the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset, from the end of the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

impl Header {
    /// Read and validate the header of `blob`: magic, version, flags, length, and the two
    /// sections exactly tiling the rest of the blob, strings last (the kernel's rules).
    pub fn parse(blob: &[u8]) -> Result<'static, Header> {
        if blob.len() > MAX_KERNEL_BTF_SIZE {
            return Err(Error::limit("BTF bytes", blob.len(), MAX_KERNEL_BTF_SIZE));
        }
        let (Some(magic), Some(version), Some(flags), Some(hdr_len)) = (
            bytes::u16_at(blob, 0),
            bytes::u8_at(blob, 2),
            bytes::u8_at(blob, 3),
            bytes::u32_at(blob, 4),
        ) else {
            return Err(Error::malformed("BTF header truncated"));
        };
        if magic == BTF_MAGIC.swap_bytes() {
            return Err(Error::new(Kind::Unsupported("big-endian BTF")));
        }
        if magic != BTF_MAGIC {
            return Err(Error::malformed("bad BTF magic"));
        }
        if version != BTF_VERSION {
            return Err(Error::new(Kind::Unsupported("BTF version other than 1")));
        }
        if flags != 0 {
            return Err(Error::new(Kind::Unsupported("BTF header flags")));
        }
        let hdr_size = usize::try_from(hdr_len).unwrap_or(usize::MAX);
        if hdr_size < BTF_HEADER_LEN {
            return Err(Error::malformed("BTF header shorter than 24 bytes"));
        }
        let Some(tail) = blob.get(BTF_HEADER_LEN..hdr_size) else {
            return Err(Error::malformed("BTF header longer than the blob"));
        };
        if tail.iter().any(|&b| b != 0) {
            return Err(Error::new(Kind::Unsupported(
                "unknown non-zero BTF header fields",
            )));
        }
        let word = |off| bytes::u32_at(blob, off).unwrap_or(0);
        let h = Header {
            magic,
            version,
            flags,
            hdr_len,
            type_off: word(8),
            type_len: word(12),
            str_off: word(16),
            str_len: word(20),
        };
        if h.type_off % 4 != 0 {
            return Err(Error::malformed("BTF type section not 4-byte aligned"));
        }
        // The kernel's btf_check_sec_info: sorted by offset, the sections must cover the
        // data after the header exactly, without gap or overlap.
        let data_len = blob.len().saturating_sub(hdr_size) as u64;
        let mut secs = [(h.type_off, h.type_len), (h.str_off, h.str_len)];
        crate::util::sort_by_key(&mut secs, |x| *x);
        let mut total: u64 = 0;
        for (off, len) in secs {
            let (off, len) = (u64::from(off), u64::from(len));
            if off > data_len {
                return Err(Error::malformed("BTF section offset beyond the blob"));
            }
            if total < off {
                return Err(Error::malformed("gap between BTF sections"));
            }
            if total > off {
                return Err(Error::malformed("BTF sections overlap"));
            }
            if data_len.saturating_sub(total) < len {
                return Err(Error::malformed("BTF section runs past the blob"));
            }
            total = total.saturating_add(len);
        }
        if total != data_len {
            return Err(Error::malformed("data after the BTF sections"));
        }
        if u64::from(h.str_off).saturating_add(u64::from(h.str_len)) != data_len {
            return Err(Error::malformed("BTF string section is not last"));
        }
        Ok(h)
    }

    /// Byte range of the type section in the blob (valid once [`Header::parse`] passed).
    pub fn type_range(&self) -> Range<usize> {
        let start = (self.hdr_len as usize).saturating_add(self.type_off as usize);
        start..start.saturating_add(self.type_len as usize)
    }

    /// Byte range of the string section in the blob.
    pub fn str_range(&self) -> Range<usize> {
        let start = (self.hdr_len as usize).saturating_add(self.str_off as usize);
        start..start.saturating_add(self.str_len as usize)
    }
}

/// Walk the records of the type section, calling `f(id, byte offset)` for each; ids start
/// at `first_id`. Checks each record's kind and that it fits, and the type count limit.
fn walk(
    blob: &[u8],
    hdr: &Header,
    first_id: u32,
    from: Resume,
    mut f: impl FnMut(u32, usize, BtfKind) -> Result<'static, ()>,
) -> Result<'static, usize> {
    let range = hdr.type_range();
    let mut off = range.start.saturating_add(from.at);
    let mut n: u32 = from.records;
    while off < range.end {
        let id = first_id.saturating_add(n);
        if id as usize > MAX_BTF_TYPES {
            return Err(Error::limit("BTF types", id, MAX_BTF_TYPES));
        }
        let ctx = Ctx::BtfType(id);
        let rest = range.end.saturating_sub(off);
        let info = match bytes::u32_at(blob, off.saturating_add(4)) {
            Some(info) if rest >= BTF_TYPE_LEN => info,
            _ => return Err(Error::malformed("truncated BTF type record").ctx(ctx)),
        };
        let kind = match BtfKind::from_u32((info >> 24) & 0x1f) {
            Some(k) if k != BtfKind::Void => k,
            _ => return Err(Error::malformed("unknown BTF kind").ctx(ctx)),
        };
        let len = BTF_TYPE_LEN.saturating_add(kind.extra_len((info & 0xffff) as u16));
        if len > rest {
            return Err(Error::malformed("BTF type record runs past the type section").ctx(ctx));
        }
        f(id, off, kind)?;
        off = off.saturating_add(len);
        n = n.saturating_add(1);
    }
    Ok(n as usize)
}

/// Validate the header of `blob` and count its type records (`void` not included): the
/// caller then allocates `count + 1` offsets for [`Btf::parse`]. Errors name type ids as
/// if the blob were a base BTF (starting at 1), also for split BTF.
pub fn count_types(blob: &[u8]) -> Result<'static, usize> {
    let hdr = Header::parse(blob)?;
    walk(blob, &hdr, 1, Resume::default(), |_, _, _| Ok(()))
}

/// Where [`walk`] starts: after `records` records, `at` bytes into the type section.
#[derive(Clone, Copy, Default)]
struct Resume {
    records: u32,
    at: usize,
}

/// The index of the records a blob starts with, known from an earlier parse of them
/// (see [`Btf::parse_appended`]): their offsets are in place, and the walk resumes
/// after them.
#[derive(Clone, Copy)]
pub(crate) struct Known {
    /// Where the first record not indexed yet starts.
    from: Resume,
    named: u32,
    spans: [(u32, u32); SPANS],
}

/// A validated BTF blob and its index.
///
/// `D` holds the whole blob (header, types, strings); `O` holds one `u32` per type: the
/// byte offset of type `start_id + i - 1` at index `i` (index 0 is unused: `void`).
///
/// # Invariants
///
/// See the module documentation of [`crate::btf`]: every record was validated by
/// [`Btf::parse`] (its structure only by [`Btf::parse_kernel`] and
/// `Btf::parse_deferred`), the offsets point at record starts, and only this module
/// writes to the blob, without changing any record's length or breaking a validated
/// property.
pub struct Btf<D, O> {
    data: D,
    offsets: O,
    hdr: Header,
    start_id: u32,
    start_str_off: u32,
    /// Types with a name, other than FUNCs (what the CO-RE candidate index holds).
    named: u32,
    /// `first..end` ids of the DATASECs, of the DECL_TAGs ([`Btf::ids_of_kind`]) and
    /// of the types whose name starts with '.' ([`Btf::ids_dot_named`]); empty at
    /// `start_id` when there is none.
    spans: [(u32, u32); SPANS],
}

/// Slots of [`Btf`]'s spans: [`span_slot`]'s, then [`DOT_NAMED`].
const SPANS: usize = 3;

/// The span of the types named ".something": data sections' DATASECs (clang's, last),
/// and whatever else a file names so, which libbpf's `btf__find_by_name` of a data
/// section's name would also find.
const DOT_NAMED: usize = 2;

/// The kinds whose span of ids [`Btf`] keeps: what loaders look for by kind alone.
/// Clang emits the DATASECs together, last; DECL_TAGs are rare.
fn span_slot(kind: BtfKind) -> Option<usize> {
    match kind {
        BtfKind::Datasec => Some(0),
        BtfKind::DeclTag => Some(1),
        _ => None,
    }
}

impl<D, O> fmt::Debug for Btf<D, O>
where
    D: Deref<Target = [u8]>,
    O: Deref<Target = [u32]>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("bytes", &self.data.len())
            .field("start_id", &self.start_id)
            .field("type_count", &self.type_count())
            .field("start_str_off", &self.start_str_off)
            .finish()
    }
}

impl<D, O> Btf<D, O>
where
    D: Deref<Target = [u8]>,
    O: DerefMut<Target = [u32]>,
{
    /// Validate `blob` as a base BTF (vmlinux, or an object's `.BTF`) and index it into
    /// `offsets`, whose length must be [`count_types`]` + 1`.
    pub fn parse(blob: D, offsets: O) -> Result<'static, Self> {
        Self::build::<IDENT_CACHE>(blob, offsets, None, Checks::Full, None)
    }

    /// [`Btf::parse`] of a blob that starts with the records of a BTF that
    /// [`Btf::parse`] validated (or, parsed by [`Btf::parse_deferred`], will), copied
    /// unchanged, with its whole string section first in the new one (the layout of
    /// [`Btf::with_var`]), indexed as `known` says ([`Btf::known`], offsets already in
    /// `offsets`): those records refer to the same names and to ids below theirs, so
    /// only the records after them are walked and checked, with the header and the
    /// strings.
    pub(crate) fn parse_appended(blob: D, offsets: O, known: Known) -> Result<'static, Self> {
        // One record to check: no use for the name cache, whose 4 KiB would be on the
        // stack of the deepest chain of a load (object parse -> externs -> here).
        Self::build::<1>(blob, offsets, None, Checks::Full, Some(known))
    }

    /// [`Btf::parse`] for the running kernel's own BTF (`/sys/kernel/btf/vmlinux`, what
    /// the module reads): checks the header, the string section and every record's kind
    /// and length, which is what finding the types needs, and not what the records
    /// say. The kernel checked all of that when it booted (`btf_parse_vmlinux`: every
    /// name, id and member, more than libbpf's `btf__parse` does), and whatever bpfld
    /// later reads is still bounds-checked where it is read: a type id past the last
    /// type, a name outside the strings or not UTF-8 is an error then, not before.
    pub fn parse_kernel(blob: D, offsets: O) -> Result<'static, Self> {
        // No record is checked: no name cache on the stack.
        Self::build::<1>(blob, offsets, None, Checks::Structure, None)
    }

    /// An object's BTF with [`Btf::parse_kernel`]'s checks only, for a caller that makes
    /// the full check of the same bytes before it hands anything out (see
    /// `ParseOptions::defer_btf_checks` in `object`): what the records say (ids, sizes,
    /// members, names) is most of [`Btf::parse`]'s work on an object whose BTF holds
    /// `vmlinux.h`'s types. Everything that reads the types bounds-checks what it reads,
    /// as for the kernel's BTF, and bounds its walks
    /// ([`crate::limits::MAX_RESOLVE_DEPTH`]). When this fails, the error is the one
    /// [`Btf::parse`] reports: the structure is checked first there too.
    pub(crate) fn parse_deferred(blob: D, offsets: O) -> Result<'static, Self> {
        Self::build::<1>(blob, offsets, None, Checks::Structure, None)
    }

    /// Validate `blob` as split BTF on top of `base` (a module's BTF on vmlinux): its ids
    /// start at `base.type_count()` and its string offsets at the base's string section
    /// length. Names that point into the base are validated against the base.
    pub fn parse_split<BD, BO>(blob: D, offsets: O, base: &Btf<BD, BO>) -> Result<'static, Self>
    where
        BD: Deref<Target = [u8]>,
        BO: Deref<Target = [u32]>,
    {
        Self::build_split(blob, offsets, base, Checks::Full)
    }

    /// [`Btf::parse_split`] for a loaded module's BTF (`/sys/kernel/btf/MODULE`),
    /// checked as by [`Btf::parse_kernel`].
    pub fn parse_split_kernel<BD, BO>(
        blob: D,
        offsets: O,
        base: &Btf<BD, BO>,
    ) -> Result<'static, Self>
    where
        BD: Deref<Target = [u8]>,
        BO: Deref<Target = [u32]>,
    {
        Self::build_split(blob, offsets, base, Checks::Structure)
    }

    fn build_split<BD, BO>(
        blob: D,
        offsets: O,
        base: &Btf<BD, BO>,
        checks: Checks,
    ) -> Result<'static, Self>
    where
        BD: Deref<Target = [u8]>,
        BO: Deref<Target = [u32]>,
    {
        if base.is_split() {
            return Err(Error::new(Kind::Unsupported(
                "split BTF on top of split BTF",
            )));
        }
        Self::build::<IDENT_CACHE>(
            blob,
            offsets,
            Some((base.string_section(), base.hdr.str_len, base.type_count())),
            checks,
            None,
        )
    }

    /// Validate and index the records after those `known` covers (all of them without
    /// it); `N` is the number of slots of the checker's name cache.
    fn build<const N: usize>(
        blob: D,
        mut offsets: O,
        base: Option<(&[u8], u32, u32)>,
        checks: Checks,
        known: Option<Known>,
    ) -> Result<'static, Self> {
        let hdr = Header::parse(&blob)?;
        let (base_strs, start_str_off, start_id) = base.unwrap_or((&[], 0, 1));
        let split = base.is_some();
        let strs = blob.get(hdr.str_range()).unwrap_or(&[]);
        check_strings(strs, split)?;
        if !split && hdr.type_len == 0 {
            return Err(Error::malformed("BTF has no types"));
        }
        let slots = offsets.len();
        match offsets.first_mut() {
            Some(void) => *void = 0,
            None => return Err(Error::new(Kind::TooSmall("BTF type offsets"))),
        }
        let names = Strings::new(base_strs, start_str_off, strs);
        let (from, mut named, mut spans) = match known {
            Some(k) => (k.from, k.named, k.spans),
            None => (Resume::default(), 0, [(start_id, start_id); SPANS]),
        };
        let n = walk(&blob, &hdr, start_id, from, |id, off, kind| {
            let idx = id.saturating_sub(start_id).saturating_add(1) as usize;
            let Some(slot) = offsets.get_mut(idx) else {
                return Err(Error::new(Kind::TooSmall("BTF type offsets")));
            };
            // Blobs are at most MAX_KERNEL_BTF_SIZE, so offsets fit u32.
            *slot = off as u32;
            let mut widen = |slot: usize| {
                if let Some(span) = spans.get_mut(slot) {
                    let end = id.saturating_add(1);
                    *span = if span.0 == span.1 {
                        (id, end)
                    } else {
                        (span.0, end)
                    };
                }
            };
            if let Some(slot) = span_slot(kind) {
                widen(slot);
            }
            let name_off = bytes::u32_at(&blob, off).unwrap_or(0);
            let first = match name_off {
                0 => 0,
                _ => names
                    .tail(name_off)
                    .and_then(|t| t.first())
                    .map_or(0, |&c| c),
            };
            // What the CO-RE candidate index will hold (core_relo::KernelIndex).
            if kind != BtfKind::Func && first != 0 {
                named = named.saturating_add(1);
            }
            if first == b'.' {
                widen(DOT_NAMED);
            }
            Ok(())
        })?;
        if n.saturating_add(1) != slots {
            return Err(Error::malformed(
                "BTF type offsets: buffer length is not the type count + 1",
            ));
        }
        if checks == Checks::Structure {
            return Ok(Btf {
                data: blob,
                offsets,
                hdr,
                start_id,
                start_str_off,
                named,
                spans,
            });
        }
        let checker = Checker {
            strs: Strings::new(base_strs, start_str_off, strs),
            type_count: start_id.saturating_add(n as u32),
            idents: [const { Cell::new(0) }; N],
        };
        // Void, and the records `known` covers: checked when they were parsed.
        let skip = from.records.saturating_add(1) as usize;
        for (i, &off) in offsets.iter().enumerate().skip(skip) {
            let id = start_id.saturating_add(i as u32).saturating_sub(1);
            checker.check(&blob, off as usize, id)?;
        }
        Ok(Btf {
            data: blob,
            offsets,
            hdr,
            start_id,
            start_str_off,
            named,
            spans,
        })
    }
}

/// The kernel's `btf_parse_str_sec`.
fn check_strings(strs: &[u8], split: bool) -> Result<'static, ()> {
    let (Some(&first), Some(&last)) = (strs.first(), strs.last()) else {
        return if split {
            Ok(())
        } else {
            Err(Error::malformed("BTF string section is empty"))
        };
    };
    if strs.len().saturating_sub(1) > BTF_MAX_NAME_OFFSET as usize {
        return Err(Error::limit(
            "BTF string bytes",
            strs.len(),
            BTF_MAX_NAME_OFFSET.saturating_add(1),
        ));
    }
    if last != 0 {
        return Err(Error::malformed("BTF string section does not end with NUL"));
    }
    if !split && first != 0 {
        return Err(Error::malformed(
            "BTF string section does not start with NUL",
        ));
    }
    Ok(())
}

/// Where a name sits, for the error message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Site {
    Type,
    Member,
    Enumerator,
    Param,
}

/// What a name must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `name_off == 0`.
    Empty,
    /// Any (UTF-8) string.
    Any,
    /// A non-empty string.
    NonEmpty,
    /// `name_off == 0` or a valid identifier.
    OptIdent,
    /// A valid identifier.
    Ident,
    /// A non-empty printable string (DATASEC names such as `.rodata.str1.1`).
    Section,
}

/// How a name is wrong.
#[derive(Clone, Copy)]
enum Bad {
    Offset,
    Utf8,
    MustBeEmpty,
    Empty,
    Ident,
    Long,
    Unprintable,
}

fn name_error(site: Site, bad: Bad) -> Error<'static> {
    Error::malformed(match (site, bad) {
        (Site::Type, Bad::Offset) => "name offset outside the string section",
        (Site::Type, Bad::Utf8) => "name is not valid UTF-8",
        (Site::Type, Bad::MustBeEmpty) => "name must be empty for this kind",
        (Site::Type, Bad::Empty) => "name must not be empty for this kind",
        (Site::Type, Bad::Ident) => "name is not a valid identifier",
        (Site::Type, Bad::Long) => "name longer than 512 bytes",
        (Site::Type, Bad::Unprintable) => "DATASEC name has a non-printable character",
        (Site::Member, Bad::Offset) => "member name offset outside the string section",
        (Site::Member, Bad::Empty | Bad::Ident) => "member name is not a valid identifier",
        (Site::Member, Bad::Long) => "member name longer than 512 bytes",
        (Site::Enumerator, Bad::Offset) => "enumerator name offset outside the string section",
        (Site::Enumerator, Bad::Empty) => "enumerator name is empty",
        (Site::Enumerator, Bad::Ident) => "enumerator name is not a valid identifier",
        (Site::Enumerator, Bad::Long) => "enumerator name longer than 512 bytes",
        (Site::Param, Bad::Offset) => "parameter name offset outside the string section",
        (Site::Param, Bad::Empty | Bad::Ident) => "parameter name is not a valid identifier",
        (Site::Param, Bad::Long) => "parameter name longer than 512 bytes",
        (_, Bad::Utf8) => "name is not valid UTF-8",
        (_, Bad::MustBeEmpty | Bad::Unprintable) => "invalid name",
    })
}

/// A byte the kernel's `btf_name_valid_section` takes: `isprint()` of its `ctype`
/// table, which counts Latin-1's 0xa0-0xff as printable (so UTF-8 names whose
/// continuation bytes are all 0xa0-0xbf, such as "é", pass).
fn section_char(c: u8) -> bool {
    (0x20..0x7f).contains(&c) || c >= 0xa0
}

/// The kernel's `btf_name_valid_identifier`, ASCII only.
fn ident_ok(b: &[u8]) -> core::result::Result<(), Bad> {
    let Some((&first, rest)) = b.split_first() else {
        return Err(Bad::Empty);
    };
    if b.len() > MAX_NAME_LEN {
        return Err(Bad::Long);
    }
    let ok = |c: u8, first: bool| {
        c == b'_' || c == b'.' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
    };
    if ok(first, true) && rest.iter().all(|&c| ok(c, false)) {
        Ok(())
    } else {
        Err(Bad::Ident)
    }
}

/// Whether `b` is a valid identifier for the kernel (ASCII letters, digits, `_`, `.`, not
/// starting with a digit, 1 to 512 bytes).
pub(super) fn is_ident(b: &[u8]) -> bool {
    ident_ok(b).is_ok()
}

/// [`class`] bits: a byte [`ident_ok`] takes first, or later in a name.
const START: u8 = 1;
const CONT: u8 = 2;

/// What [`ident_ok`] makes of each byte value (non-ASCII: nothing), as a table: the
/// fast path tests a byte with one load, the cost of a name check being its bytes.
// Indexing in a constant's initialiser cannot panic at run time: out of bounds fails
// the build.
#[allow(clippy::indexing_slicing)]
static IDENT_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b == b'_' || b == b'.' || b.is_ascii_alphabetic() {
            t[c] = START | CONT;
        } else if b.is_ascii_digit() {
            t[c] = CONT;
        }
        c += 1;
    }
    t
};

/// The [`IDENT_CLASS`] bits of `c`.
#[inline]
fn class(c: u8) -> u8 {
    IDENT_CLASS.get(usize::from(c)).copied().unwrap_or(0)
}

/// Slots of [`Checker::idents`] (a power of 2).
const IDENT_CACHE: usize = 1024;

/// Validation state: the strings names resolve in and the number of valid type ids.
struct Checker<'s, const N: usize> {
    strs: Strings<'s>,
    type_count: u32,
    /// Name offsets last found to be valid identifiers, plus 1 (0: empty), at
    /// `off % N` ([`IDENT_CACHE`] slots for whole BTFs): deduplicated BTF names many
    /// members with the same few strings (`next`, `flags`, `data`), which are then
    /// checked once.
    idents: [Cell<u32>; N],
}

/// What [`Btf::build`] checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Everything the kernel's `BPF_BTF_LOAD` checks (an object's BTF).
    Full,
    /// The header, the string section and each record's kind and length (the running
    /// kernel's BTF).
    Structure,
}

fn bad(msg: &'static str) -> Error<'static> {
    Error::malformed(msg)
}

fn at(i: usize) -> Ctx<'static> {
    Ctx::Value(What::Index, i as u64)
}

impl<const N: usize> Checker<'_, N> {
    fn name(&self, off: u32, site: Site, rule: Rule) -> Result<'static, ()> {
        self.name_inner(off, rule).map_err(|b| name_error(site, b))
    }

    fn name_inner(&self, off: u32, rule: Rule) -> core::result::Result<(), Bad> {
        if self.name_fast(off, rule) {
            return Ok(());
        }
        self.name_slow(off, rule)
    }

    /// Whether the name at `off` is valid for `rule`, in one pass over its bytes and for
    /// the usual case only (ASCII): `false` means "ask [`Checker::name_slow`]", which
    /// decides and names the fault. Never accepts what `name_slow` refuses.
    #[inline]
    fn name_fast(&self, off: u32, rule: Rule) -> bool {
        if off > BTF_MAX_NAME_OFFSET {
            return false;
        }
        if rule == Rule::Empty {
            return off == 0;
        }
        let Some(rest) = self.strs.tail(off) else {
            return false;
        };
        match rule {
            Rule::Empty => false,
            Rule::OptIdent if off == 0 => true,
            // An all-ASCII string is UTF-8.
            Rule::Any | Rule::NonEmpty => {
                for (i, &c) in rest.iter().enumerate() {
                    if c == 0 {
                        return rule == Rule::Any || i > 0;
                    }
                    if !c.is_ascii() {
                        return false;
                    }
                }
                false
            }
            Rule::OptIdent | Rule::Ident => {
                let slot = self.idents.get((off as usize).checked_rem(N).unwrap_or(0));
                let tag = off.saturating_add(1);
                if slot.is_some_and(|s| s.get() == tag) {
                    return true;
                }
                let Some((&first, tail)) = rest.split_first() else {
                    return false;
                };
                if class(first) & START == 0 {
                    return false;
                }
                // At most MAX_NAME_LEN bytes after the first: a name that has no NUL
                // within its first MAX_NAME_LEN + 1 bytes is too long, which name_slow
                // reports.
                let tail = tail.get(..MAX_NAME_LEN).unwrap_or(tail);
                match tail.iter().position(|&c| class(c) & CONT == 0) {
                    Some(end) if tail.get(end) == Some(&0) => {
                        if let Some(s) = slot {
                            s.set(tag);
                        }
                        true
                    }
                    _ => false,
                }
            }
            Rule::Section if off == 0 => false,
            Rule::Section => {
                for (i, &c) in rest.iter().take(MAX_NAME_LEN.saturating_add(1)).enumerate() {
                    if c == 0 {
                        return i > 0;
                    }
                    if !section_char(c) {
                        return false;
                    }
                }
                false
            }
        }
    }

    /// The full check of a name, naming what is wrong.
    fn name_slow(&self, off: u32, rule: Rule) -> core::result::Result<(), Bad> {
        if rule == Rule::Empty {
            return if off == 0 {
                Ok(())
            } else {
                Err(Bad::MustBeEmpty)
            };
        }
        let b = if off > BTF_MAX_NAME_OFFSET {
            None
        } else {
            self.strs.bytes(off)
        };
        let b = b.ok_or(Bad::Offset)?;
        match rule {
            Rule::Empty => Ok(()),
            Rule::Any | Rule::NonEmpty => {
                core::str::from_utf8(b).map_err(|_| Bad::Utf8)?;
                if rule == Rule::NonEmpty && b.is_empty() {
                    return Err(Bad::Empty);
                }
                Ok(())
            }
            Rule::OptIdent if off == 0 => Ok(()),
            Rule::OptIdent | Rule::Ident => ident_ok(b),
            Rule::Section => {
                if off == 0 || b.is_empty() {
                    Err(Bad::Empty)
                } else if b.len() > MAX_NAME_LEN {
                    Err(Bad::Long)
                } else if b.iter().all(|&c| section_char(c)) {
                    Ok(())
                } else {
                    Err(Bad::Unprintable)
                }
            }
        }
    }

    /// A referenced type id: below the type count, and not void unless allowed.
    fn refers(
        &self,
        id: u32,
        void_ok: bool,
        void_msg: &'static str,
        range_msg: &'static str,
    ) -> Result<'static, ()> {
        if id == 0 && !void_ok {
            Err(bad(void_msg))
        } else if id >= self.type_count {
            Err(bad(range_msg).ctx(Ctx::Value(What::Id, u64::from(id))))
        } else {
            Ok(())
        }
    }

    fn check(&self, blob: &[u8], off: usize, id: u32) -> Result<'static, ()> {
        let word = |o: usize| bytes::u32_at(blob, off.saturating_add(o));
        let (Some(name_off), Some(info), Some(sot)) = (word(0), word(4), word(8)) else {
            return Err(bad("truncated BTF type record").ctx(Ctx::BtfType(id)));
        };
        let Some(kind) = BtfKind::from_u32((info >> 24) & 0x1f) else {
            return Err(bad("unknown BTF kind").ctx(Ctx::BtfType(id)));
        };
        let vlen = (info & 0xffff) as u16;
        let start = off.saturating_add(BTF_TYPE_LEN);
        let extra = blob
            .get(start..start.saturating_add(kind.extra_len(vlen)))
            .ok_or_else(|| {
                bad("BTF type record runs past the type section").ctx(Ctx::BtfType(id))
            })?;
        if info & !BTF_INFO_MASK != 0 {
            return Err(bad("BTF type info has unknown bits set").ctx(Ctx::BtfType(id)));
        }
        self.check_kind(kind, name_off, info, sot, extra)
            .map_err(|e| e.ctx(Ctx::Step(kind.as_str())).ctx(Ctx::BtfType(id)))
    }

    fn check_kind(
        &self,
        kind: BtfKind,
        name_off: u32,
        info: u32,
        sot: u32,
        extra: &[u8],
    ) -> Result<'static, ()> {
        let vlen = info & 0xffff;
        let kflag = info >> 31 != 0;
        let vlen0 = || {
            if vlen != 0 {
                Err(bad("vlen is not 0 for this kind"))
            } else {
                Ok(())
            }
        };
        let kflag0 = || {
            if kflag {
                Err(bad("kind_flag is not allowed for this kind"))
            } else {
                Ok(())
            }
        };
        let ew = |o: usize| bytes::u32_at(extra, o).unwrap_or(0);
        let entries = |stride: usize| extra.chunks_exact(stride).enumerate();
        match kind {
            BtfKind::Void => Err(bad("unknown BTF kind")),
            BtfKind::Int => {
                vlen0()?;
                kflag0()?;
                self.name(name_off, Site::Type, Rule::Any)?;
                let data = ew(0);
                if data & !BTF_INT_MASK != 0 {
                    return Err(bad("INT encoding has unknown bits set"));
                }
                let nr_bits = (data & 0xff).saturating_add((data >> 16) & 0xff);
                if nr_bits > 128 {
                    return Err(bad("INT bits + offset exceed 128"));
                }
                if nr_bits.div_ceil(8) > sot {
                    return Err(bad("INT bits + offset exceed its size"));
                }
                // An encoding of more than one flag (GCC 12 marks `char` and `signed
                // char` SIGNED | CHAR) is the kernel's ENOTSUPP, not a fault: libbpf
                // reads such BTF (as bpfld does: flags are tested one by one) and,
                // when BPF_BTF_LOAD refuses it, loads the object without it.
                Ok(())
            }
            BtfKind::Ptr
            | BtfKind::Volatile
            | BtfKind::Const
            | BtfKind::Restrict
            | BtfKind::Typedef
            | BtfKind::TypeTag => {
                vlen0()?;
                // Newer kernels (bpf-next, 2025) mark attribute tags with kind_flag;
                // vmlinux BTF may have them. check_loadable refuses them for 6.12.
                if kind != BtfKind::TypeTag {
                    kflag0()?;
                }
                let rule = match kind {
                    BtfKind::Typedef => Rule::Ident,
                    BtfKind::TypeTag => Rule::NonEmpty,
                    _ => Rule::Empty,
                };
                self.name(name_off, Site::Type, rule)?;
                self.refers(sot, true, "", "referenced type id beyond the last type")
            }
            BtfKind::Array => {
                self.name(name_off, Site::Type, Rule::Empty)?;
                vlen0()?;
                kflag0()?;
                if sot != 0 {
                    return Err(bad("ARRAY size field is not 0"));
                }
                self.refers(
                    ew(0),
                    false,
                    "array element type is void",
                    "array element type id beyond the last type",
                )?;
                self.refers(
                    ew(4),
                    false,
                    "array index type is void",
                    "array index type id beyond the last type",
                )
            }
            BtfKind::Struct | BtfKind::Union => {
                self.name(name_off, Site::Type, Rule::OptIdent)?;
                let mut last = 0u32;
                for (i, m) in entries(12) {
                    let mw = |o: usize| bytes::u32_at(m, o).unwrap_or(0);
                    let r = (|| {
                        self.name(mw(0), Site::Member, Rule::OptIdent)?;
                        self.refers(
                            mw(4),
                            false,
                            "member type is void",
                            "member type id beyond the last type",
                        )?;
                        let off = if kflag { mw(8) & 0x00ff_ffff } else { mw(8) };
                        if kind == BtfKind::Union && off != 0 {
                            return Err(bad("union member offset is not 0"));
                        }
                        if last > off {
                            return Err(bad("member offsets decrease"));
                        }
                        if off.div_ceil(8) > sot {
                            return Err(bad("member offset past the struct size"));
                        }
                        last = off;
                        Ok(())
                    })();
                    r.map_err(|e| e.ctx(at(i)))?;
                }
                Ok(())
            }
            BtfKind::Enum | BtfKind::Enum64 => {
                if !matches!(sot, 1 | 2 | 4 | 8) {
                    return Err(bad("enum size is not 1, 2, 4 or 8"));
                }
                self.name(name_off, Site::Type, Rule::OptIdent)?;
                let stride = if kind == BtfKind::Enum { 8 } else { 12 };
                for (i, e) in entries(stride) {
                    let n = bytes::u32_at(e, 0).unwrap_or(0);
                    self.name(n, Site::Enumerator, Rule::Ident)
                        .map_err(|e| e.ctx(at(i)))?;
                }
                Ok(())
            }
            BtfKind::Fwd => {
                vlen0()?;
                // The type field is not checked: GCC 12 leaves a value there, which the
                // kernel refuses (EINVAL) and libbpf, which never reads it, ignores.
                self.name(name_off, Site::Type, Rule::Ident)
            }
            BtfKind::Func => {
                // Anonymous in GCC 12's BTF (the kernel's EINVAL; see the top).
                self.name(name_off, Site::Type, Rule::OptIdent)?;
                if vlen > u32::from(BTF_FUNC_EXTERN) {
                    return Err(bad("unknown FUNC linkage"));
                }
                kflag0()?;
                self.refers(
                    sot,
                    false,
                    "FUNC type is void",
                    "FUNC type id beyond the last type",
                )
            }
            BtfKind::FuncProto => {
                self.name(name_off, Site::Type, Rule::Empty)?;
                kflag0()?;
                self.refers(sot, true, "", "return type id beyond the last type")?;
                let last = (vlen as usize).saturating_sub(1);
                for (i, p) in entries(8) {
                    let pw = |o: usize| bytes::u32_at(p, o).unwrap_or(0);
                    let r = if pw(4) == 0 {
                        if i != last {
                            Err(bad("void parameter before the last"))
                        } else if pw(0) != 0 {
                            Err(bad("vararg parameter has a name"))
                        } else {
                            Ok(())
                        }
                    } else {
                        self.refers(pw(4), false, "", "parameter type id beyond the last type")
                            .and_then(|()| self.name(pw(0), Site::Param, Rule::OptIdent))
                    };
                    r.map_err(|e| e.ctx(at(i)))?;
                }
                Ok(())
            }
            BtfKind::Var => {
                vlen0()?;
                kflag0()?;
                self.name(name_off, Site::Type, Rule::Ident)?;
                self.refers(
                    sot,
                    false,
                    "VAR type is void",
                    "VAR type id beyond the last type",
                )?;
                if ew(0) > BTF_VAR_GLOBAL_EXTERN {
                    return Err(bad("unknown VAR linkage"));
                }
                Ok(())
            }
            BtfKind::Datasec => {
                kflag0()?;
                self.name(name_off, Site::Type, Rule::Section)?;
                for (i, s) in entries(12) {
                    let t = bytes::u32_at(s, 0).unwrap_or(0);
                    self.refers(
                        t,
                        false,
                        "DATASEC entry type is void",
                        "DATASEC entry type id beyond the last type",
                    )
                    .map_err(|e| e.ctx(at(i)))?;
                }
                Ok(())
            }
            BtfKind::Float => {
                vlen0()?;
                kflag0()?;
                self.name(name_off, Site::Type, Rule::Any)?;
                if !matches!(sot, 2 | 4 | 8 | 12 | 16) {
                    return Err(bad("FLOAT size is not 2, 4, 8, 12 or 16"));
                }
                Ok(())
            }
            BtfKind::DeclTag => {
                // kind_flag allowed as for TYPE_TAG.
                self.name(name_off, Site::Type, Rule::NonEmpty)?;
                vlen0()?;
                if (ew(0) as i32) < -1 {
                    return Err(bad("DECL_TAG component_idx below -1"));
                }
                self.refers(
                    sot,
                    false,
                    "DECL_TAG target is void",
                    "DECL_TAG target type id beyond the last type",
                )
            }
        }
    }
}

impl<D, O> Btf<D, O>
where
    D: Deref<Target = [u8]>,
    O: Deref<Target = [u32]>,
{
    /// The header.
    pub fn header(&self) -> &Header {
        &self.hdr
    }

    /// The whole blob, as handed to `BPF_BTF_LOAD` (after fixups).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The type section.
    pub fn type_section(&self) -> &[u8] {
        self.data.get(self.hdr.type_range()).unwrap_or(&[])
    }

    /// The string section.
    pub fn string_section(&self) -> &[u8] {
        self.data.get(self.hdr.str_range()).unwrap_or(&[])
    }

    /// Whether this is split BTF (parsed with [`Btf::parse_split`]).
    pub fn is_split(&self) -> bool {
        self.start_id > 1
    }

    /// First type id of this blob: 1, or the base's type count for split BTF.
    pub fn start_id(&self) -> u32 {
        self.start_id
    }

    /// First string offset of this blob: 0, or the base's string section length.
    pub fn start_str_off(&self) -> u32 {
        self.start_str_off
    }

    /// This BTF with its bytes copied into memory from `alloc` (which fixups may then
    /// write), its index kept: the bytes are the same, so is what was checked of them.
    pub fn copied<A: Alloc>(self, alloc: &mut A) -> Result<'static, Btf<A::Buf<u8>, O>> {
        Ok(Btf {
            data: crate::mem::alloc_copy(alloc, &self.data)?,
            offsets: self.offsets,
            hdr: self.hdr,
            start_id: self.start_id,
            start_str_off: self.start_str_off,
            named: self.named,
            spans: self.spans,
        })
    }

    /// Number of type ids including `void` (and the base's, for split BTF).
    pub fn type_count(&self) -> u32 {
        self.start_id
            .saturating_add(self.offsets.len().saturating_sub(1) as u32)
    }

    /// This (non-split) BTF's index, for a blob that starts with its header and its
    /// records, the type section at `type_start` (see [`Btf::parse_appended`]): the
    /// record offsets moved there are written to `offsets` (void and one per record;
    /// what follows is left alone), and the rest is returned.
    pub(crate) fn known(&self, offsets: &mut [u32], type_start: usize) -> Result<'static, Known> {
        let records = self.offsets.len().saturating_sub(1);
        let old_start = self.hdr.type_range().start;
        let dst = offsets
            .get_mut(..self.offsets.len())
            .ok_or(Error::new(Kind::TooSmall("BTF type offsets")))?;
        for (d, &o) in dst.iter_mut().zip(self.offsets.iter()).skip(1) {
            let moved = (o as usize)
                .checked_sub(old_start)
                .and_then(|rel| rel.checked_add(type_start))
                .and_then(|at| u32::try_from(at).ok())
                .ok_or(Error::malformed("BTF type offsets"))?;
            *d = moved;
        }
        Ok(Known {
            from: Resume {
                records: u32::try_from(records).map_err(|_| Error::malformed("BTF types"))?,
                at: self.hdr.type_len as usize,
            },
            named: self.named,
            spans: self.spans,
        })
    }

    /// Ids of this blob's own types.
    pub fn local_ids(&self) -> Range<u32> {
        self.start_id..self.type_count()
    }

    /// The local ids, in order, among which every local type of kind `kind` is: for
    /// DATASEC and DECL_TAG, from the first to the last of that kind (empty if there is
    /// none), else all of them. What a scan for one of those kinds needs to visit.
    pub fn ids_of_kind(&self, kind: BtfKind) -> Range<u32> {
        match span_slot(kind).and_then(|i| self.spans.get(i)) {
            Some(&(first, end)) => first..end,
            None => self.local_ids(),
        }
    }

    /// The local ids, in order, among which every local type whose name starts with
    /// '.' is (from the first to the last, empty if there is none): what a search by
    /// a data section's name needs to visit.
    pub fn ids_dot_named(&self) -> Range<u32> {
        match self.spans.get(DOT_NAMED) {
            Some(&(first, end)) => first..end,
            None => self.local_ids(),
        }
    }

    /// This blob's strings (for split BTF, base offsets are not readable through it).
    pub fn strings(&self) -> Strings<'_> {
        Strings::new(&[], self.start_str_off, self.string_section())
    }

    /// The string at offset `off`.
    pub fn name_at(&self, off: u32) -> Result<'static, &str> {
        self.strings().get(off)
    }

    /// The type with id `id` (`void` for 0).
    pub fn type_by_id(&self, id: u32) -> Result<'static, Type<'_>> {
        self.type_with_strings(id, self.strings())
    }

    /// The kind and name offset of type `id` from its record's first two words, `None`
    /// for void and past the last type.
    #[inline]
    pub fn head(&self, id: u32) -> Option<(BtfKind, u32)> {
        let off = self.record_offset(id).ok()?;
        let name_off = bytes::u32_at(&self.data, off)?;
        let info = bytes::u32_at(&self.data, off.saturating_add(4))?;
        Some((BtfKind::from_u32((info >> 24) & 0x1f)?, name_off))
    }

    /// The kind of type `id` ([`Types::kind_of`]), read from its record's info word.
    #[inline]
    pub fn kind_of(&self, id: u32) -> Option<BtfKind> {
        if id == 0 {
            return Some(BtfKind::Void);
        }
        self.head(id).map(|(kind, _)| kind)
    }

    /// A borrowed view of the same BTF, e.g. to join it into a [`super::SplitBtf`].
    pub fn borrowed(&self) -> Btf<&[u8], &[u32]> {
        Btf {
            data: &self.data,
            offsets: &self.offsets,
            hdr: self.hdr,
            start_id: self.start_id,
            start_str_off: self.start_str_off,
            named: self.named,
            spans: self.spans,
        }
    }

    /// The first words of every record ([`Types::raw_heads`]).
    fn heads(&self) -> super::RawHeads<'_> {
        super::RawHeads {
            data: &self.data,
            offsets: &self.offsets,
            start_id: self.start_id,
            named: self.named,
        }
    }

    /// Byte offset of the record of local type `id`.
    // Inlined into every lookup by id; the errors are built apart (no_record).
    #[inline]
    pub(crate) fn record_offset(&self, id: u32) -> Result<'static, usize> {
        let idx = id.wrapping_sub(self.start_id).wrapping_add(1) as usize;
        match self.offsets.get(idx) {
            Some(&o) if id >= self.start_id && id != 0 => Ok(o as usize),
            _ => Err(self.no_record(id)),
        }
    }

    /// Why type `id` has no record here (see [`Btf::record_offset`]).
    #[cold]
    #[inline(never)]
    fn no_record(&self, id: u32) -> Error<'static> {
        let why = if id == 0 {
            "record of void"
        } else if id < self.start_id {
            "type of the base BTF (read split BTF through SplitBtf)"
        } else {
            "BTF type id"
        };
        Error::new(Kind::NotFound(why)).ctx(Ctx::BtfType(id))
    }

    /// The type `id`, naming through `strs` (which for split BTF also covers the base).
    pub(crate) fn type_with_strings<'a>(
        &'a self,
        id: u32,
        strs: Strings<'a>,
    ) -> Result<'static, Type<'a>> {
        if id == 0 {
            return Ok(Type::void(strs));
        }
        let off = self.record_offset(id)?;
        let data: &'a [u8] = &self.data;
        let word = |o: usize| bytes::u32_at(data, off.saturating_add(o));
        let corrupt = || Error::malformed("corrupt BTF index").ctx(Ctx::BtfType(id));
        let (Some(name_off), Some(info), Some(sot)) = (word(0), word(4), word(8)) else {
            return Err(corrupt());
        };
        let kind = BtfKind::from_u32((info >> 24) & 0x1f).ok_or_else(corrupt)?;
        let start = off.saturating_add(BTF_TYPE_LEN);
        let extra = data
            .get(start..start.saturating_add(kind.extra_len((info & 0xffff) as u16)))
            .ok_or_else(corrupt)?;
        Ok(Type::new(id, kind, name_off, info, sot, extra, strs))
    }

    /// Check what the kernel refuses but clang emits and the loader must fix first: VAR
    /// and FUNC `extern` linkage, DATASEC size 0, DATASEC entries unsorted, overlapping,
    /// empty or past the section (the kernel's `btf_datasec_check_meta`); also a blob
    /// over the kernel's `BTF_MAX_SIZE` and attribute tags, which 6.12 refuses. Run after
    /// [`Btf::fixup_datasecs`] and the extern fixups, before `BPF_BTF_LOAD`.
    pub fn check_loadable(&self) -> Result<'static, ()> {
        if self.data.len() > MAX_BTF_SIZE {
            return Err(Error::limit(
                "BTF bytes to load",
                self.data.len(),
                MAX_BTF_SIZE,
            ));
        }
        for id in self.local_ids() {
            // The kinds checked below; the rest are out before their record is read.
            if !matches!(
                self.kind_of(id),
                Some(
                    BtfKind::Var
                        | BtfKind::TypeTag
                        | BtfKind::DeclTag
                        | BtfKind::Func
                        | BtfKind::Datasec
                ) | None
            ) {
                continue;
            }
            let t = self.type_by_id(id)?;
            let kind = t.kind();
            let fail_at = |m: &'static str, i: Option<usize>| {
                let e = Error::malformed(m);
                let e = match i {
                    Some(i) => e.ctx(at(i)),
                    None => e,
                };
                e.ctx(Ctx::Step(kind.as_str())).ctx(Ctx::BtfType(id))
            };
            let fail = |m: &'static str| fail_at(m, None);
            match t.kind() {
                BtfKind::Var => {
                    let l = t.var()?.linkage;
                    if l != BTF_VAR_STATIC && l != BTF_VAR_GLOBAL_ALLOCATED {
                        return Err(fail("VAR linkage is neither static nor global"));
                    }
                }
                BtfKind::TypeTag | BtfKind::DeclTag if t.kind_flag() => {
                    return Err(Error::new(Kind::Unsupported(
                        "kind_flag on a TYPE_TAG or DECL_TAG (attribute tags are newer than Linux 6.12)",
                    ))
                    .ctx(Ctx::BtfType(id)));
                }
                BtfKind::Func if t.vlen() > BTF_FUNC_GLOBAL => {
                    return Err(fail("FUNC linkage is neither static nor global"));
                }
                BtfKind::Datasec => {
                    let size = t.raw_size_or_type();
                    if size == 0 {
                        return Err(fail("DATASEC size is 0"));
                    }
                    let mut last_end: u64 = 0;
                    for (i, s) in t.secinfos()?.enumerate() {
                        let fail = |m: &'static str| Err(fail_at(m, Some(i)));
                        if u64::from(s.offset) < last_end || s.offset >= size {
                            return fail("DATASEC entry offset overlaps the previous entry or is past the section");
                        }
                        if s.size == 0 || s.size > size {
                            return fail("DATASEC entry size is 0 or larger than the section");
                        }
                        last_end = u64::from(s.offset).saturating_add(u64::from(s.size));
                        if last_end > u64::from(size) {
                            return fail("DATASEC entry ends past the section");
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl<D, O> Types for Btf<D, O>
where
    D: Deref<Target = [u8]>,
    O: Deref<Target = [u32]>,
{
    fn type_count(&self) -> u32 {
        Btf::type_count(self)
    }

    fn type_by_id(&self, id: u32) -> Result<'static, Type<'_>> {
        Btf::type_by_id(self, id)
    }

    fn name_at(&self, off: u32) -> Result<'static, &str> {
        Btf::name_at(self, off)
    }

    fn name_bytes_at(&self, off: u32) -> Option<&[u8]> {
        self.strings().bytes(off)
    }

    fn name_eq_at(&self, off: u32, name: &[u8]) -> bool {
        self.strings().eq_at(off, name)
    }

    fn kind_of(&self, id: u32) -> Option<BtfKind> {
        Btf::kind_of(self, id)
    }

    fn kind_and_ref(&self, id: u32) -> Option<(BtfKind, u32)> {
        let off = self.record_offset(id).ok()?;
        let info = bytes::u32_at(&self.data, off.saturating_add(4))?;
        let sot = bytes::u32_at(&self.data, off.saturating_add(8))?;
        Some((BtfKind::from_u32((info >> 24) & 0x1f)?, sot))
    }

    fn name_is_empty_at(&self, off: u32) -> Option<bool> {
        // A string's first byte, without looking for its end.
        self.strings().tail(off)?.first().map(|&c| c == 0)
    }

    fn raw_heads(&self) -> Option<super::RawHeads<'_>> {
        Some(self.heads())
    }

    fn ids_of_kind(&self, kind: BtfKind) -> Range<u32> {
        if self.is_split() {
            // The base's types are not visible through a lone split BTF.
            1..self.type_count()
        } else {
            Btf::ids_of_kind(self, kind)
        }
    }

    /// The provided method's result, reading only the kind and name of each record
    /// ([`Types::raw_heads`]).
    fn find_by_name_kind(&self, name: &str, kind: BtfKind) -> Result<'static, Option<u32>> {
        if kind == BtfKind::Void && name == "void" {
            return Ok(Some(0));
        }
        if self.is_split() {
            // Ids and names of the base are not readable through a lone split BTF: the
            // provided method reports that.
            return find_by_name_kind_slow(self, name, kind);
        }
        let strs = self.strings();
        for head in self.heads().iter(Btf::ids_of_kind(self, kind))? {
            let (id, k, name_off) = head?;
            if k == kind && strs.eq_at(name_off, name.as_bytes()) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }
}

/// [`Types::find_by_name_kind`] through `type_by_id`.
fn find_by_name_kind_slow<T: Types + ?Sized>(
    types: &T,
    name: &str,
    kind: BtfKind,
) -> Result<'static, Option<u32>> {
    for id in 1..types.type_count() {
        let t = types.type_by_id(id)?;
        if t.kind() == kind && t.name_eq(name) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Mutable access for the fixups (same crate only).
impl<D, O> Btf<D, O>
where
    D: DerefMut<Target = [u8]>,
    O: Deref<Target = [u32]>,
{
    /// The blob, for in-place patches that keep every record's length.
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Access specs: the parsed form of a relocation's access string, for the local type and
//! for each candidate target type (libbpf's `struct bpf_core_spec`,
//! `bpf_core_parse_spec`, `bpf_core_spec_match`, `bpf_core_match_member`,
//! `bpf_core_format_spec`).
//!
//! A spec has two levels: the *raw* spec, one index per access-string component
//! (anonymous struct/union members included), and the *high-level* accessors, one per
//! named field or array index, which is what is matched by name against a target type.
//! Arithmetic on `bit_offset` wraps at 32 bits exactly as libbpf's `__u32` does; a
//! nonsensical offset is then caught by the verifier, as it would be after libbpf.

use core::fmt;

use super::compat::{fields_are_compat, types_are_compat, types_match};
use super::index::essential_name;
use super::CoreReloKind;
use crate::btf::{Array, BtfKind, CoreRelo, Members, NameMatch, Types};
use crate::error::{Ctx, Error, Result, What};
use crate::limits::MAX_CORE_SPEC_LEN;

/// One high-level accessor: a named field (`named`) of the STRUCT/UNION `type_id`, or an
/// index into an array of `type_id` elements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accessor {
    /// For a field, the (modifier-free) STRUCT or UNION holding it; for an array access,
    /// the (modifier-free) element type.
    pub type_id: u32,
    /// Member, enumerator or array index.
    pub idx: u32,
    /// Name offset of the field or enumerator, in the spec's BTF (0 for an array access).
    pub name_off: u32,
    /// Whether this accessor is a named field or enumerator.
    pub named: bool,
}

/// A parsed (local) or matched (target) access spec. Lives in the relocator's scratch
/// memory: 1 KiB each, too much for a kernel stack.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub(super) acc: [Accessor; MAX_CORE_SPEC_LEN],
    pub(super) len: usize,
    pub(super) raw: [u32; MAX_CORE_SPEC_LEN],
    pub(super) raw_len: usize,
    /// The root type, unresolved (modifiers and typedefs kept).
    pub(super) root_type_id: u32,
    pub(super) kind: CoreReloKind,
    /// Bit offset of the field from the start of the root type.
    pub(super) bit_offset: u32,
}

impl Default for Spec {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Spec {
    /// An empty spec.
    pub(super) const EMPTY: Spec = Spec {
        acc: [Accessor {
            type_id: 0,
            idx: 0,
            name_off: 0,
            named: false,
        }; MAX_CORE_SPEC_LEN],
        len: 0,
        raw: [0; MAX_CORE_SPEC_LEN],
        raw_len: 0,
        root_type_id: 0,
        kind: CoreReloKind::FieldByteOffset,
        bit_offset: 0,
    };

    fn reset(&mut self, root_type_id: u32, kind: CoreReloKind) {
        self.len = 0;
        self.raw_len = 0;
        self.root_type_id = root_type_id;
        self.kind = kind;
        self.bit_offset = 0;
    }

    /// The high-level accessors.
    pub(super) fn accessors(&self) -> &[Accessor] {
        self.acc.get(..self.len).unwrap_or_default()
    }

    /// The raw indices.
    pub(super) fn raw(&self) -> &[u32] {
        self.raw.get(..self.raw_len).unwrap_or_default()
    }

    /// The last high-level accessor.
    pub(super) fn last(&self) -> Result<'static, Accessor> {
        self.len
            .checked_sub(1)
            .and_then(|i| self.acc.get(i))
            .copied()
            .ok_or(Error::malformed("CO-RE spec has no accessor"))
    }

    fn push_acc(&mut self, a: Accessor) -> Result<'static, ()> {
        let slot = self
            .acc
            .get_mut(self.len)
            .ok_or_else(|| too_long(self.len))?;
        *slot = a;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    fn push_raw(&mut self, idx: u32) -> Result<'static, ()> {
        let slot = self
            .raw
            .get_mut(self.raw_len)
            .ok_or_else(|| too_long(self.raw_len))?;
        *slot = idx;
        self.raw_len = self.raw_len.saturating_add(1);
        Ok(())
    }
}

fn too_long(n: usize) -> Error<'static> {
    Error::limit(
        "CO-RE access spec components",
        n.saturating_add(1),
        MAX_CORE_SPEC_LEN,
    )
}

fn bad(msg: &'static str) -> Error<'static> {
    Error::malformed(msg)
}

/// `idx * size * 8` truncated to 32 bits, as libbpf's `s64` product stored in a `__u32`.
fn elem_bits(idx: u32, size: u32) -> u32 {
    u64::from(idx).wrapping_mul(u64::from(size)).wrapping_mul(8) as u32
}

/// Whether `arr`, reached through accessor `prev`, is a flexible array: zero elements and
/// the last member of its struct (libbpf's `is_flex_arr`).
fn is_flex_arr<T: Types + ?Sized>(
    types: &T,
    prev: Option<&Accessor>,
    arr: &Array,
) -> Result<'static, bool> {
    let Some(prev) = prev else {
        return Ok(false);
    };
    if !prev.named || arr.nelems > 0 {
        return Ok(false);
    }
    let t = types.type_by_id(prev.type_id)?;
    Ok(u32::from(t.vlen()).checked_sub(1) == Some(prev.idx))
}

/// Split an access string into its indices (libbpf accepts `%d` per component; only
/// plain decimal indices are accepted here, which is all clang emits).
fn parse_access(s: &str, spec: &mut Spec) -> Result<'static, ()> {
    let mut rest = s.as_bytes();
    while !rest.is_empty() {
        if let [b':', tail @ ..] = rest {
            rest = tail;
        }
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad(
                "CO-RE access string is not colon-separated decimal indices",
            ));
        }
        let (Some(num), Some(tail)) = (rest.get(..digits), rest.get(digits..)) else {
            return Err(bad(
                "CO-RE access string is not colon-separated decimal indices",
            ));
        };
        let mut v: u32 = 0;
        for &c in num {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u32::from(c.wrapping_sub(b'0'))))
                .filter(|&v| v <= i32::MAX as u32)
                .ok_or_else(|| bad("CO-RE access string index does not fit an int"))?;
        }
        if spec.raw_len == MAX_CORE_SPEC_LEN {
            return Err(too_long(spec.raw_len));
        }
        spec.push_raw(v)?;
        rest = tail;
    }
    Ok(())
}

/// Parse relocation `relo` of `local` into `spec` (libbpf's `bpf_core_parse_spec`).
#[inline(never)]
pub(super) fn parse<L: Types + ?Sized>(
    local: &L,
    relo: &CoreRelo,
    kind: CoreReloKind,
    spec: &mut Spec,
) -> Result<'static, ()> {
    let s = local.name_at(relo.access_str_off)?;
    if s.is_empty() || s.starts_with(':') {
        return Err(bad("CO-RE access string is empty or starts with ':'"));
    }
    spec.reset(relo.type_id, kind);

    if kind.is_type_based() {
        if s != "0" {
            return Err(bad("CO-RE type relocation's access string is not \"0\""));
        }
        return Ok(());
    }

    parse_access(s, spec)?;
    let Some(&first) = spec.raw().first() else {
        return Err(bad("CO-RE access string is empty"));
    };

    let t = local.skip_mods_and_typedefs(relo.type_id)?;
    let mut id = t.id();
    spec.push_acc(Accessor {
        type_id: id,
        idx: first,
        name_off: 0,
        named: false,
    })?;

    if kind.is_enumval_based() {
        if !t.kind().is_any_enum() || spec.raw_len > 1 {
            return Err(bad("CO-RE enumerator relocation's root is not an enum or its access string has more than one index"));
        }
        let e = u16::try_from(first)
            .ok()
            .and_then(|i| t.enum_values().ok()?.get(i))
            .ok_or_else(|| bad("CO-RE enumerator index past the enum's last value"))?;
        if let Some(a) = spec.acc.first_mut() {
            a.name_off = e.name_off;
            a.named = true;
        }
        return Ok(());
    }

    if !kind.is_field_based() {
        return Err(bad(
            "CO-RE relocation kind is neither field, type nor enumerator based",
        ));
    }

    let sz = local.resolve_size(id)?;
    spec.bit_offset = elem_bits(first, sz);

    for i in 1..spec.raw_len {
        let t = local.skip_mods_and_typedefs(id)?;
        id = t.id();
        let idx = spec.raw.get(i).copied().unwrap_or(0);
        let at = Ctx::Value(What::Index, i as u64);
        if t.kind().is_composite() {
            let m = u16::try_from(idx)
                .ok()
                .and_then(|i| t.members().ok()?.get(i))
                .ok_or_else(|| bad("CO-RE access index past the last member").ctx(at))?;
            spec.bit_offset = spec.bit_offset.wrapping_add(m.bit_offset);
            if m.name_off != 0 {
                if m.name()?.is_empty() {
                    return Err(bad("CO-RE accessed member has an empty name").ctx(at));
                }
                spec.push_acc(Accessor {
                    type_id: id,
                    idx,
                    name_off: m.name_off,
                    named: true,
                })?;
            }
            id = m.type_id;
        } else if t.kind() == BtfKind::Array {
            let a = t.array()?;
            let elem = local.skip_mods_and_typedefs(a.elem)?;
            id = elem.id();
            let prev = spec.len.checked_sub(1).and_then(|p| spec.acc.get(p));
            let flex = is_flex_arr(local, prev, &a)?;
            if !flex && idx >= a.nelems {
                return Err(bad("CO-RE access index past the array's end").ctx(at));
            }
            spec.push_acc(Accessor {
                type_id: id,
                idx,
                name_off: 0,
                named: false,
            })?;
            let sz = local.resolve_size(id)?;
            spec.bit_offset = spec.bit_offset.wrapping_add(elem_bits(idx, sz));
        } else {
            return Err(bad(
                "CO-RE access string descends into a type that is neither struct, union nor array",
            )
            .ctx(Ctx::BtfType(id)));
        }
    }
    Ok(())
}

/// One level of the member search: a STRUCT/UNION and the next member to look at.
#[derive(Clone, Copy, Default)]
struct Frame {
    tid: u32,
    i: u16,
    n: u16,
}

/// Find the field named by local accessor `la` in target type `targ_id`, looking through
/// anonymous members, extending `spec` (raw indices, bit offset, one accessor) on the way
/// (libbpf's `bpf_core_match_member`, with its recursion turned into an explicit stack
/// bounded by the spec length). `Ok(Some(member type))` when found and compatible.
///
/// As in libbpf, a member with the right name but an incompatible type ends the search
/// at its level ("not found"), leaving that level's raw index and bit offset in the spec;
/// only complete matches are ever used, so the leftovers do not matter.
fn match_member<L: Types + ?Sized>(
    local: &L,
    la: &Accessor,
    targ: &dyn Types,
    targ_id: u32,
    spec: &mut Spec,
) -> Result<'static, Option<u32>> {
    let lt = local.type_by_id(la.type_id)?;
    let lm = u16::try_from(la.idx)
        .ok()
        .and_then(|i| lt.members().ok()?.get(i))
        .ok_or_else(|| bad("CO-RE local accessor past the last member"))?;
    let local_name = lm.name()?;

    let root = targ.skip_mods_and_typedefs(targ_id)?;
    if !root.kind().is_composite() {
        return Ok(None);
    }
    let mut frames = [Frame::default(); MAX_CORE_SPEC_LEN + 1];
    let mut depth: usize = 1;
    if let Some(f) = frames.first_mut() {
        *f = Frame {
            tid: root.id(),
            i: 0,
            n: root.vlen(),
        };
    }

    // Undo the speculative step (into a member at `bit_offset`) of the frame at
    // `depth - 1` and move to its next member.
    let step_past = |frames: &mut [Frame],
                     depth: usize,
                     spec: &mut Spec,
                     bit_offset: u32|
     -> Result<'static, ()> {
        let f = depth
            .checked_sub(1)
            .and_then(|d| frames.get_mut(d))
            .ok_or_else(|| bad("CO-RE member search stack underflow"))?;
        spec.bit_offset = spec.bit_offset.wrapping_sub(bit_offset);
        spec.raw_len = spec.raw_len.saturating_sub(1);
        f.i = f.i.saturating_add(1);
        Ok(())
    };
    // The same after a level above returned, its member read again.
    let undo = |frames: &mut [Frame], depth: usize, spec: &mut Spec| -> Result<'static, ()> {
        let f = depth
            .checked_sub(1)
            .and_then(|d| frames.get(d))
            .ok_or_else(|| bad("CO-RE member search stack underflow"))?;
        let m = targ
            .type_by_id(f.tid)?
            .members()?
            .get(f.i)
            .ok_or_else(|| bad("CO-RE member search index past the last member"))?;
        step_past(frames, depth, spec, m.bit_offset)
    };

    // The members of the type on top, fetched again only when that type changes.
    let mut cached: Option<(u32, Members<'_>)> = None;
    let local_name = local_name.as_bytes();
    loop {
        let Some(&top) = depth.checked_sub(1).and_then(|d| frames.get(d)) else {
            return Ok(None);
        };
        if top.i >= top.n {
            // This level found nothing: its parent steps past the anonymous member.
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Ok(None);
            }
            undo(&mut frames, depth, spec)?;
            continue;
        }
        let members = match cached {
            Some((tid, ms)) if tid == top.tid => ms,
            _ => {
                let ms = targ.type_by_id(top.tid)?.members()?;
                cached = Some((top.tid, ms));
                ms
            }
        };
        if spec.raw_len == MAX_CORE_SPEC_LEN {
            return Err(too_long(spec.raw_len));
        }
        // Members of other names are passed over in one scan: libbpf's speculative
        // step into each (bit offset and raw spec) would be taken back right away.
        // Names compare as bytes: equal to the local (UTF-8) name or not, the target's
        // need no UTF-8 check of their own.
        let f = depth
            .checked_sub(1)
            .and_then(|d| frames.get_mut(d))
            .ok_or_else(|| bad("CO-RE member search stack underflow"))?;
        let Some((i, name)) = members.next_not_other(top.i, local_name) else {
            f.i = top.n;
            continue;
        };
        f.i = i;
        let top = *f;
        let name = name.ok_or_else(|| bad("CO-RE target member name outside the strings"))?;
        let m = members
            .get(top.i)
            .ok_or_else(|| bad("CO-RE member search index past the last member"))?;
        spec.bit_offset = spec.bit_offset.wrapping_add(m.bit_offset);
        spec.push_raw(u32::from(top.i))?;
        if name == NameMatch::Empty {
            let inner = targ.skip_mods_and_typedefs(m.type_id)?;
            if inner.kind().is_composite() {
                let f = frames
                    .get_mut(depth)
                    .ok_or_else(|| too_long(spec.raw_len))?;
                *f = Frame {
                    tid: inner.id(),
                    i: 0,
                    n: inner.vlen(),
                };
                depth = depth.saturating_add(1);
                continue;
            }
        } else if name == NameMatch::Equal {
            spec.push_acc(Accessor {
                type_id: top.tid,
                idx: u32::from(top.i),
                name_off: m.name_off,
                named: true,
            })?;
            if fields_are_compat(local, lm.type_id, targ, m.type_id)? {
                return Ok(Some(m.type_id));
            }
            spec.len = spec.len.saturating_sub(1);
            // "Not found" from this level, its own step left in place.
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Ok(None);
            }
            undo(&mut frames, depth, spec)?;
            continue;
        }
        // Not this member: undo its step and go on to the next.
        step_past(&mut frames, depth, spec, m.bit_offset)?;
    }
}

/// Match `local_spec` against candidate `targ_id` of `targ`, filling `ts` (libbpf's
/// `bpf_core_spec_match`). `Ok(false)`: not a match.
#[inline(never)]
pub(super) fn matches<L: Types + ?Sized>(
    local: &L,
    ls: &Spec,
    targ: &dyn Types,
    targ_id: u32,
    ts: &mut Spec,
) -> Result<'static, bool> {
    ts.reset(targ_id, ls.kind);

    if ls.kind.is_type_based() {
        return if ls.kind == CoreReloKind::TypeMatches {
            types_match(local, ls.root_type_id, targ, targ_id)
        } else {
            types_are_compat(local, ls.root_type_id, targ, targ_id)
        };
    }

    if ls.kind.is_enumval_based() {
        let la = ls.acc.first().copied().unwrap_or_default();
        let tt = targ.skip_mods_and_typedefs(targ_id)?;
        if !tt.kind().is_any_enum() {
            return Ok(false);
        }
        let want = essential_name(local.name_at(la.name_off)?);
        for (i, e) in tt.enum_values()?.enumerate() {
            if essential_name(e.name()?) == want {
                let idx = u32::try_from(i).unwrap_or(u32::MAX);
                ts.push_acc(Accessor {
                    type_id: tt.id(),
                    idx,
                    name_off: e.name_off,
                    named: true,
                })?;
                ts.push_raw(idx)?;
                return Ok(true);
            }
        }
        return Ok(false);
    }

    if !ls.kind.is_field_based() {
        return Err(bad(
            "CO-RE relocation kind is neither field, type nor enumerator based",
        ));
    }

    let mut targ_id = targ_id;
    for (i, la) in ls.accessors().iter().enumerate() {
        let tt = targ.skip_mods_and_typedefs(targ_id)?;
        targ_id = tt.id();
        if la.named {
            match match_member(local, la, targ, targ_id, ts)? {
                Some(next) => targ_id = next,
                None => return Ok(false),
            }
            continue;
        }
        // The root accessor indexes the root type itself (`&p[n]`); later ones an array.
        if i > 0 {
            if tt.kind() != BtfKind::Array {
                return Ok(false);
            }
            let a = tt.array()?;
            let prev = i.checked_sub(1).and_then(|p| ts.acc.get(p));
            if !is_flex_arr(targ, prev, &a)? && la.idx >= a.nelems {
                return Ok(false);
            }
            targ_id = targ.skip_mods_and_typedefs(a.elem)?.id();
        }
        if ts.raw_len == MAX_CORE_SPEC_LEN {
            return Err(too_long(ts.raw_len));
        }
        ts.push_acc(Accessor {
            type_id: targ_id,
            idx: la.idx,
            name_off: 0,
            named: false,
        })?;
        ts.push_raw(la.idx)?;
        let sz = targ.resolve_size(targ_id)?;
        ts.bit_offset = ts.bit_offset.wrapping_add(elem_bits(la.idx, sz));
    }
    Ok(true)
}

/// A spec printed as libbpf's `bpf_core_format_spec` does:
/// `<byte_off> [5] struct task_struct.pid (0:12 @ offset 2352)`, or, when the access
/// string did not parse, `<byte_off> [5] struct task_struct + 0:x (malformed)`.
pub struct SpecText<'s, T: ?Sized> {
    pub(super) types: &'s T,
    pub(super) spec: &'s Spec,
    pub(super) kind: CoreReloKind,
    pub(super) root: u32,
    /// The access string, when parsing failed.
    pub(super) failed: Option<&'s str>,
}

fn kind_name(k: BtfKind) -> &'static str {
    match k {
        BtfKind::Struct => "struct",
        BtfKind::Union => "union",
        BtfKind::Enum | BtfKind::Enum64 => "enum",
        BtfKind::Typedef => "typedef",
        BtfKind::Fwd => "fwd",
        BtfKind::Int => "int",
        k => k.as_str(),
    }
}

impl<T: Types + ?Sized> fmt::Display for SpecText<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_of = |off: u32| self.types.name_at(off).unwrap_or("?");
        write!(f, "<{}> [{}] ", self.kind.as_str(), self.root)?;
        match self.types.type_by_id(self.root) {
            Ok(t) => {
                let n = t.name().unwrap_or("?");
                write!(
                    f,
                    "{} {}",
                    kind_name(t.kind()),
                    if n.is_empty() { "<anon>" } else { n }
                )?;
            }
            Err(_) => f.write_str("<bad type id>")?,
        }
        if let Some(access) = self.failed {
            return write!(f, " + {access} (malformed)");
        }
        let s = self.spec;
        if s.kind.is_type_based() {
            return Ok(());
        }
        if s.kind.is_enumval_based() {
            let a = s.acc.first().copied().unwrap_or_default();
            let Ok(t) = self.types.skip_mods_and_typedefs(s.root_type_id) else {
                return Ok(());
            };
            let e = u16::try_from(a.idx)
                .ok()
                .and_then(|i| t.enum_values().ok()?.get(i));
            if let Some(e) = e {
                write!(f, "::{} = ", e.name().unwrap_or("?"))?;
                if t.kind_flag() {
                    write!(f, "{}", e.as_i64())?;
                } else {
                    write!(f, "{}", e.as_u64())?;
                }
            }
            return Ok(());
        }
        for (i, a) in s.accessors().iter().enumerate() {
            if a.named {
                write!(f, ".{}", name_of(a.name_off))?;
            } else if i > 0 || a.idx > 0 {
                write!(f, "[{}]", a.idx)?;
            }
        }
        f.write_str(" (")?;
        for (i, r) in s.raw().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{r}")?;
        }
        let (bytes, bits) = (s.bit_offset / 8, s.bit_offset % 8);
        if bits != 0 {
            write!(f, " @ offset {bytes}.{bits})")
        } else {
            write!(f, " @ offset {bytes})")
        }
    }
}

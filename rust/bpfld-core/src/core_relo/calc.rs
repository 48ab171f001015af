// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The values a relocation puts into an instruction, from a local spec and a matched
//! target spec (libbpf's `bpf_core_calc_field_relo`, `bpf_core_calc_type_relo`,
//! `bpf_core_calc_enumval_relo` and `bpf_core_calc_relo`).
//!
//! Shifts and sizes use libbpf's 32-bit unsigned arithmetic (wrapping), so that odd
//! inputs (a 16-byte field read as a bitfield) give libbpf's odd numbers, not errors.
//! Only the little-endian formulas exist: the core refuses big-endian objects.

use super::spec::Spec;
use super::{CoreOutcome, CoreReloKind};
use crate::btf::{BtfKind, Types, BTF_INT_SIGNED};
use crate::error::{Error, Kind, Result};

/// One side's value of a relocation.
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    val: u64,
    /// Size of the field's memory access, for non-bitfield byte offsets (else 0).
    sz: u32,
    /// The field's type (modifiers and typedefs skipped), when `sz` is set.
    type_id: u32,
    /// Whether the instruction must hold this value (local side only).
    validate: bool,
}

/// `None`: the target side is missing and the instruction must be poisoned.
type SideResult = Result<'static, Option<Side>>;

/// `v` rounded down to a multiple of `a` (0 when `a` is 0).
fn align_down(v: u32, a: u32) -> u32 {
    v.checked_div(a).unwrap_or(0).wrapping_mul(a)
}

fn field<T: Types + ?Sized>(kind: CoreReloKind, spec: Option<(&Spec, &T)>) -> SideResult {
    let mut out = Side::default();
    if kind == CoreReloKind::FieldExists {
        out.val = u64::from(spec.is_some());
        // The compiler always emits 1 here: an instruction holding anything else is
        // refused, as libbpf's validation (left on for this kind) refuses it.
        out.validate = true;
        return Ok(Some(out));
    }
    let Some((spec, types)) = spec else {
        return Ok(None);
    };
    let acc = spec.last()?;

    if !acc.named {
        let sz = types.resolve_size(acc.type_id)?;
        match kind {
            CoreReloKind::FieldByteOffset => {
                out.val = u64::from(spec.bit_offset / 8);
                out.sz = sz;
                out.type_id = acc.type_id;
            }
            CoreReloKind::FieldByteSize => out.val = u64::from(sz),
            _ => {
                return Err(Error::new(Kind::Unsupported(
                    "CO-RE relocation kind on an array element (only byte offset and size apply)",
                )))
            }
        }
        out.validate = true;
        return Ok(Some(out));
    }

    let t = types.type_by_id(acc.type_id)?;
    let m = u16::try_from(acc.idx)
        .ok()
        .and_then(|i| t.members().ok()?.get(i))
        .ok_or(Error::malformed("CO-RE accessor past the last member"))?;
    let mt = types.skip_mods_and_typedefs(m.type_id)?;
    let field_type_id = mt.id();
    let bit_off = spec.bit_offset;
    let mut bit_sz = m.bitfield_size;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz) = if bitfield {
        // The smallest naturally aligned load, of at least the member type's size, that
        // holds every bit of the field.
        let mut byte_sz = mt.raw_size_or_type();
        if byte_sz == 0 {
            return Err(Error::malformed("CO-RE bitfield of a zero-sized type"));
        }
        let mut byte_off = align_down(bit_off / 8, byte_sz);
        while bit_off
            .wrapping_add(bit_sz)
            .wrapping_sub(byte_off.wrapping_mul(8))
            > byte_sz.wrapping_mul(8)
        {
            if byte_sz >= 8 {
                return Err(Error::new(Kind::Unsupported(
                    "CO-RE bitfield that no load of at most 8 bytes holds",
                )));
            }
            byte_sz = byte_sz.wrapping_mul(2);
            byte_off = align_down(bit_off / 8, byte_sz);
        }
        (byte_off, byte_sz)
    } else {
        let byte_sz = types.resolve_size(field_type_id)?;
        bit_sz = byte_sz.wrapping_mul(8);
        (bit_off / 8, byte_sz)
    };

    // A bitfield's offset and size are a choice the compiler may make differently, so
    // only its signedness and right shift are checked against the instruction.
    out.validate = !bitfield;
    match kind {
        CoreReloKind::FieldByteOffset => {
            out.val = u64::from(byte_off);
            if !bitfield {
                out.sz = byte_sz;
                out.type_id = field_type_id;
            }
        }
        CoreReloKind::FieldByteSize => out.val = u64::from(byte_sz),
        CoreReloKind::FieldSigned => {
            let signed = (mt.kind().is_any_enum() && mt.kind_flag())
                || (mt.kind() == BtfKind::Int && mt.int().map(|e| e.is_signed()).unwrap_or(false));
            out.val = u64::from(signed);
            out.validate = true;
        }
        CoreReloKind::FieldLshiftU64 => {
            out.val = u64::from(
                64u32.wrapping_sub(
                    bit_off
                        .wrapping_add(bit_sz)
                        .wrapping_sub(byte_off.wrapping_mul(8)),
                ),
            );
        }
        CoreReloKind::FieldRshiftU64 => {
            out.val = u64::from(64u32.wrapping_sub(bit_sz));
            out.validate = true;
        }
        _ => return Err(unknown()),
    }
    Ok(Some(out))
}

fn unknown() -> Error<'static> {
    Error::new(Kind::Unsupported("CO-RE relocation kind"))
}

fn type_based<T: Types + ?Sized>(kind: CoreReloKind, spec: Option<(&Spec, &T)>) -> SideResult {
    let mut out = Side {
        validate: true,
        ..Side::default()
    };
    let Some((spec, types)) = spec else {
        return Ok(Some(out));
    };
    match kind {
        CoreReloKind::TypeIdTarget => {
            out.val = u64::from(spec.root_type_id);
            // Linking may renumber the local type id the compiler put there.
            out.validate = false;
        }
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => out.val = 1,
        CoreReloKind::TypeSize => out.val = u64::from(types.resolve_size(spec.root_type_id)?),
        _ => return Err(unknown()),
    }
    Ok(Some(out))
}

fn enumval<T: Types + ?Sized>(kind: CoreReloKind, spec: Option<(&Spec, &T)>) -> SideResult {
    let mut out = Side {
        validate: true,
        ..Side::default()
    };
    match kind {
        CoreReloKind::EnumvalExists => out.val = u64::from(spec.is_some()),
        CoreReloKind::EnumvalValue => {
            let Some((spec, types)) = spec else {
                return Ok(None);
            };
            let acc = spec.acc.first().copied().unwrap_or_default();
            let t = types.type_by_id(acc.type_id)?;
            let e = u16::try_from(acc.idx)
                .ok()
                .and_then(|i| t.enum_values().ok()?.get(i))
                .ok_or(Error::malformed(
                    "CO-RE enumerator index past the last value",
                ))?;
            out.val = if t.kind() == BtfKind::Enum {
                // A 32-bit enumerator is read as `__s32` and widened, whatever the enum's
                // signedness.
                i64::from(e.value as u32 as i32) as u64
            } else {
                e.value
            };
        }
        _ => return Err(unknown()),
    }
    Ok(Some(out))
}

fn side<T: Types + ?Sized>(kind: CoreReloKind, spec: Option<(&Spec, &T)>) -> SideResult {
    if kind.is_field_based() {
        field(kind, spec)
    } else if kind.is_type_based() {
        type_based(kind, spec)
    } else if kind.is_enumval_based() {
        enumval(kind, spec)
    } else {
        Err(unknown())
    }
}

/// Original and new values of relocation `kind` for local spec `ls` and target spec `ts`
/// (`None`: no candidate matched). Fills the value fields of a [`CoreOutcome`].
#[inline(never)]
pub(super) fn relo<L: Types + ?Sized>(
    kind: CoreReloKind,
    local: &L,
    ls: &Spec,
    targ: Option<(&Spec, &dyn Types)>,
) -> Result<'static, CoreOutcome> {
    let mut res = CoreOutcome::new(kind);
    let orig = side(kind, Some((ls, local)))?.ok_or(Error::malformed(
        "CO-RE local side of a relocation has no value",
    ))?;
    res.orig_val = orig.val;
    res.validate = orig.validate;
    res.orig_sz = orig.sz;
    res.orig_type_id = orig.type_id;
    let new = match targ {
        Some((ts, t)) => side(kind, Some((ts, t)))?,
        None => side::<dyn Types>(kind, None)?,
    };
    let Some(new) = new else {
        res.poison = true;
        return Ok(res);
    };
    res.new_val = new.val;
    res.new_sz = new.sz;
    res.new_type_id = new.type_id;

    if kind.is_field_based() && res.orig_sz != res.new_sz {
        if let Some((_, t)) = targ {
            // A load or store may only change width when the value survives it:
            // pointers (the target's may be 32-bit) and integers not encoded as plain
            // signed, which zero-extend.
            let ot = local.type_by_id(res.orig_type_id)?;
            let nt = t.type_by_id(res.new_type_id)?;
            let unsigned_int = |k: BtfKind, enc: u8| k == BtfKind::Int && enc != BTF_INT_SIGNED;
            let enc = |ty: &crate::btf::Type<'_>| ty.int().map(|e| e.encoding).unwrap_or(0);
            let both_ptr = ot.kind() == BtfKind::Ptr && nt.kind() == BtfKind::Ptr;
            let both_unsigned =
                unsigned_int(ot.kind(), enc(&ot)) && unsigned_int(nt.kind(), enc(&nt));
            res.fail_memsz_adjust = !(both_ptr || both_unsigned);
        }
    }
    Ok(res)
}

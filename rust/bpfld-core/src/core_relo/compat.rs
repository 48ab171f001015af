// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Type compatibility for CO-RE, as libbpf 6.12 defines it (`relo_core.c`):
//!
//! - [`fields_are_compat`] (`bpf_core_fields_are_compat`): is a target field's type an
//!   acceptable stand-in for the local field's type? Any two structs/unions, any two
//!   pointers or floats, enums/fwds with equal essential names (or one anonymous), ints
//!   that are not legacy bitfield encodings, arrays of compatible elements.
//! - [`types_are_compat`] (`bpf_core_types_are_compat`, for TYPE_EXISTS, TYPE_SIZE and
//!   TYPE_ID_TARGET): same kind after modifiers and typedefs, pointers and arrays
//!   recursively, function prototypes by arity and recursively; names are ignored below
//!   the root.
//! - [`types_match`] (`bpf_core_types_match`, for TYPE_MATCHES): a stricter structural
//!   match: names (modulo flavor) must agree at every level, struct members by name,
//!   ints by size and signedness, enums by enumerator names and size, arrays by length.
//!
//! libbpf recurses through prototype parameters and struct members, bounded by its
//! `level` (32) and each call's loop by its `depth` (32). Here the same bounds
//! ([`MAX_RESOLVE_DEPTH`]) hold, but the calls live on an explicit stack of frames
//! (see [`Stack`]), so the kernel stack use does not grow with the nesting.

use super::index::{essential_name, kinds_core_compat};
use crate::btf::{BtfKind, Type, Types, BTF_INT_SIGNED};
use crate::error::{Error, Result};
use crate::limits::MAX_RESOLVE_DEPTH;

const LEVELS: usize = MAX_RESOLVE_DEPTH;

fn too_deep() -> Error<'static> {
    Error::limit(
        "CO-RE type comparison depth",
        MAX_RESOLVE_DEPTH.saturating_add(1),
        MAX_RESOLVE_DEPTH,
    )
}

/// The bit offset of a (legacy) INT encoding; 0 for other kinds.
fn int_offset(t: &Type<'_>) -> u8 {
    t.int().map(|e| e.offset).unwrap_or(0)
}

fn int_encoding(t: &Type<'_>) -> u8 {
    t.int().map(|e| e.encoding).unwrap_or(0)
}

/// Whether the essential names of two types agree, an anonymous one agreeing with any
/// (the ENUM/FWD rule of `bpf_core_fields_are_compat`).
fn names_compat_or_anon(l: &str, t: &str) -> bool {
    let (l, t) = (essential_name(l), essential_name(t));
    l.is_empty() || t.is_empty() || l == t
}

/// libbpf's `bpf_core_names_match`: an anonymous target matches only an anonymous local;
/// otherwise the essential names must be equal.
fn names_match(l: &str, t: &str) -> bool {
    if t.is_empty() {
        return l.is_empty();
    }
    essential_name(l) == essential_name(t)
}

/// `bpf_core_fields_are_compat`: whether target field type `tid` may stand in for local
/// field type `lid`.
#[inline(never)]
pub(super) fn fields_are_compat<L: Types + ?Sized>(
    local: &L,
    lid: u32,
    targ: &dyn Types,
    tid: u32,
) -> Result<'static, bool> {
    let (mut lid, mut tid) = (lid, tid);
    for _ in 0..LEVELS {
        let lt = local.skip_mods_and_typedefs(lid)?;
        let tt = targ.skip_mods_and_typedefs(tid)?;
        if lt.kind().is_composite() && tt.kind().is_composite() {
            return Ok(true);
        }
        if !kinds_core_compat(lt.kind(), tt.kind()) {
            return Ok(false);
        }
        match lt.kind() {
            BtfKind::Ptr | BtfKind::Float => return Ok(true),
            BtfKind::Fwd | BtfKind::Enum | BtfKind::Enum64 => {
                return Ok(names_compat_or_anon(lt.name()?, tt.name()?));
            }
            BtfKind::Int => return Ok(int_offset(&lt) == 0 && int_offset(&tt) == 0),
            BtfKind::Array => {
                lid = lt.array()?.elem;
                tid = tt.array()?.elem;
            }
            _ => return Ok(false),
        }
    }
    Err(too_deep())
}

/// A comparison waiting for the result of one of its parts: a prototype at parameter
/// `i`, or a composite at local member `i`, target member `j`.
#[derive(Clone, Copy, Default)]
struct Frame {
    /// Local and target type (modifiers and typedefs skipped).
    l: u32,
    t: u32,
    i: u16,
    j: u16,
    /// libbpf's per-call loop budget left when the frame was pushed; the return type of
    /// a prototype continues with it.
    depth: u8,
    /// libbpf's `level` of the call that owns the frame.
    level: u8,
    behind_ptr: bool,
    proto: bool,
}

/// The explicit call stack of the comparisons. libbpf recurses, once per prototype
/// parameter and (for TYPE_MATCHES) per struct member, up to 32 levels; in Rust each
/// level costs over a kilobyte of stack, which the kernel does not have, so the levels
/// live here instead (32 frames, under 1 KiB).
struct Stack {
    frames: [Frame; LEVELS + 1],
    len: usize,
}

impl Stack {
    fn new() -> Self {
        Stack {
            frames: [Frame::default(); LEVELS + 1],
            len: 0,
        }
    }

    fn push(&mut self, f: Frame) -> Result<'static, ()> {
        let slot = self.frames.get_mut(self.len).ok_or_else(|| too_deep())?;
        *slot = f;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    fn top(&mut self) -> Option<&mut Frame> {
        self.len.checked_sub(1).and_then(|i| self.frames.get_mut(i))
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }
}

/// A call: compare local `l` with target `t`.
#[derive(Clone, Copy)]
struct Call {
    l: u32,
    t: u32,
    behind_ptr: bool,
    level: usize,
    /// Loop budget left in this call (a fresh call has [`LEVELS`]).
    depth: usize,
    /// A fresh call (not a prototype's return type continuing its caller's loop).
    fresh: bool,
}

/// What one call's loop ended in.
enum Step {
    Done(bool),
    /// A prototype (`Frame::proto`) or composite whose parts must be compared.
    Parts(Frame),
}

/// `bpf_core_types_are_compat`: one call's loop, up to a decision or a prototype whose
/// parameters must be compared.
fn compat_step<L: Types + ?Sized>(local: &L, targ: &dyn Types, c: Call) -> Result<'static, Step> {
    // The root kinds are compared before modifiers and typedefs are skipped: a typedef
    // only stands for a typedef.
    if c.fresh && !kinds_core_compat(local.type_by_id(c.l)?.kind(), targ.type_by_id(c.t)?.kind()) {
        return Ok(Step::Done(false));
    }
    let (mut lid, mut tid, mut depth) = (c.l, c.t, c.depth);
    while let Some(d) = depth.checked_sub(1) {
        depth = d;
        let lt = local.skip_mods_and_typedefs(lid)?;
        let tt = targ.skip_mods_and_typedefs(tid)?;
        if !kinds_core_compat(lt.kind(), tt.kind()) {
            return Ok(Step::Done(false));
        }
        match lt.kind() {
            BtfKind::Void
            | BtfKind::Struct
            | BtfKind::Union
            | BtfKind::Enum
            | BtfKind::Fwd
            | BtfKind::Enum64 => return Ok(Step::Done(true)),
            BtfKind::Int => {
                return Ok(Step::Done(int_offset(&lt) == 0 && int_offset(&tt) == 0));
            }
            BtfKind::Ptr => {
                lid = lt.raw_size_or_type();
                tid = tt.raw_size_or_type();
            }
            BtfKind::Array => {
                lid = lt.array()?.elem;
                tid = tt.array()?.elem;
            }
            BtfKind::FuncProto => {
                if lt.vlen() != tt.vlen() {
                    return Ok(Step::Done(false));
                }
                return Ok(Step::Parts(Frame {
                    l: lt.id(),
                    t: tt.id(),
                    i: 0,
                    j: 0,
                    depth: u8::try_from(depth).unwrap_or(u8::MAX),
                    level: u8::try_from(c.level).unwrap_or(u8::MAX),
                    behind_ptr: false,
                    proto: true,
                }));
            }
            _ => return Ok(Step::Done(false)),
        }
    }
    Err(too_deep())
}

/// The next call for prototype frame `f` (parameter `f.i`, or the return type once the
/// parameters are done), for `bpf_core_types_are_compat`: parameter types are skipped
/// before the call, and each parameter costs a level.
fn compat_next<L: Types + ?Sized>(
    local: &L,
    targ: &dyn Types,
    f: &Frame,
) -> Result<'static, (Call, bool)> {
    let (lt, tt) = (local.type_by_id(f.l)?, targ.type_by_id(f.t)?);
    match (lt.params()?.get(f.i), tt.params()?.get(f.i)) {
        (Some(lp), Some(tp)) => {
            let Some(level) = f.level.checked_sub(1) else {
                return Err(too_deep());
            };
            let call = Call {
                l: local.skip_mods_and_typedefs(lp.type_id)?.id(),
                t: targ.skip_mods_and_typedefs(tp.type_id)?.id(),
                behind_ptr: false,
                level: usize::from(level),
                depth: LEVELS,
                fresh: true,
            };
            Ok((call, false))
        }
        _ => {
            let call = Call {
                l: local.skip_mods_and_typedefs(lt.raw_size_or_type())?.id(),
                t: targ.skip_mods_and_typedefs(tt.raw_size_or_type())?.id(),
                behind_ptr: false,
                level: usize::from(f.level),
                depth: usize::from(f.depth),
                fresh: false,
            };
            Ok((call, true))
        }
    }
}

/// `bpf_core_types_are_compat`.
#[inline(never)]
pub(crate) fn types_are_compat<L: Types + ?Sized>(
    local: &L,
    lid: u32,
    targ: &dyn Types,
    tid: u32,
) -> Result<'static, bool> {
    let mut stack = Stack::new();
    let mut call = Some(Call {
        l: lid,
        t: tid,
        behind_ptr: false,
        level: LEVELS,
        depth: LEVELS,
        fresh: true,
    });
    let mut result = false;
    loop {
        if let Some(c) = call.take() {
            match compat_step(local, targ, c)? {
                Step::Done(b) => result = b,
                Step::Parts(f) => {
                    let (next, tail) = compat_next(local, targ, &f)?;
                    if !tail {
                        stack.push(f)?;
                    }
                    call = Some(next);
                    continue;
                }
            }
        }
        let Some(top) = stack.top() else {
            return Ok(result);
        };
        if !result {
            stack.pop();
            continue;
        }
        top.i = top.i.saturating_add(1);
        let f = *top;
        let (next, tail) = compat_next(local, targ, &f)?;
        if tail {
            // The parameters matched: the call continues with the return type.
            stack.pop();
        }
        call = Some(next);
    }
}

fn enums_match(lt: &Type<'_>, tt: &Type<'_>) -> Result<'static, bool> {
    if lt.raw_size_or_type() != tt.raw_size_or_type() || lt.vlen() > tt.vlen() {
        return Ok(false);
    }
    for l in lt.enum_values()? {
        let ln = l.name()?;
        let mut found = false;
        for t in tt.enum_values()? {
            if names_match(ln, t.name()?) {
                found = true;
                break;
            }
        }
        if !found {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `bpf_core_types_match`: one call's loop, up to a decision or a composite or
/// prototype whose parts must be compared.
fn match_step<L: Types + ?Sized>(local: &L, targ: &dyn Types, c: Call) -> Result<'static, Step> {
    if c.level == 0 {
        return Err(too_deep());
    }
    let (mut lid, mut tid, mut behind_ptr, mut depth) = (c.l, c.t, c.behind_ptr, c.depth);
    while let Some(d) = depth.checked_sub(1) {
        depth = d;
        let lt = local.skip_mods_and_typedefs(lid)?;
        let tt = targ.skip_mods_and_typedefs(tid)?;
        // Names are compared after typedefs are skipped; a root typedef's own name was
        // matched by the candidate search.
        if !names_match(lt.name()?, tt.name()?) {
            return Ok(Step::Done(false));
        }
        let (lk, tk) = (lt.kind(), tt.kind());
        let parts = |proto: bool| {
            Step::Parts(Frame {
                l: lt.id(),
                t: tt.id(),
                i: 0,
                j: 0,
                depth: u8::try_from(depth).unwrap_or(u8::MAX),
                level: u8::try_from(c.level).unwrap_or(u8::MAX),
                behind_ptr,
                proto,
            })
        };
        let done = match lk {
            BtfKind::Void => lk == tk,
            BtfKind::Fwd => {
                // kind_flag: the declaration is of a union.
                let lu = lt.kind_flag();
                if lk == tk {
                    lu == tt.kind_flag()
                } else {
                    behind_ptr && ((tk == BtfKind::Struct && !lu) || (tk == BtfKind::Union && lu))
                }
            }
            BtfKind::Enum | BtfKind::Enum64 => tk.is_any_enum() && enums_match(&lt, &tt)?,
            BtfKind::Struct | BtfKind::Union => {
                if behind_ptr {
                    lk == tk || (tk == BtfKind::Fwd && (lk == BtfKind::Union) == tt.kind_flag())
                } else if lk != tk || lt.vlen() > tt.vlen() {
                    // Every local member needs a target member.
                    false
                } else {
                    return Ok(parts(false));
                }
            }
            BtfKind::Int => {
                let signed = |t: &Type<'_>| int_encoding(t) & BTF_INT_SIGNED;
                lk == tk
                    && lt.raw_size_or_type() == tt.raw_size_or_type()
                    && signed(&lt) == signed(&tt)
            }
            BtfKind::Ptr if lk == tk => {
                behind_ptr = true;
                lid = lt.raw_size_or_type();
                tid = tt.raw_size_or_type();
                continue;
            }
            BtfKind::Array if lk == tk => {
                let (la, ta) = (lt.array()?, tt.array()?);
                if la.nelems != ta.nelems {
                    false
                } else {
                    lid = la.elem;
                    tid = ta.elem;
                    continue;
                }
            }
            BtfKind::FuncProto if lk == tk => {
                if lt.vlen() != tt.vlen() {
                    false
                } else {
                    return Ok(parts(true));
                }
            }
            _ => false,
        };
        return Ok(Step::Done(done));
    }
    Err(too_deep())
}

/// The next call for frame `f` of `bpf_core_types_match`, or `None` when the frame is
/// decided (`Some(result)` in the second slot). Composites: the next target member
/// named like local member `f.i`, from `f.j` on; prototypes: parameter `f.i`, then the
/// return type (a tail call: `true` in the last slot).
fn match_next<L: Types + ?Sized>(
    local: &L,
    targ: &dyn Types,
    f: &mut Frame,
) -> Result<'static, (Option<Call>, Option<bool>, bool)> {
    let (lt, tt) = (local.type_by_id(f.l)?, targ.type_by_id(f.t)?);
    let child = |l: u32, t: u32| Call {
        l,
        t,
        behind_ptr: f.behind_ptr,
        level: usize::from(f.level).saturating_sub(1),
        depth: LEVELS,
        fresh: true,
    };
    if f.proto {
        return Ok(match (lt.params()?.get(f.i), tt.params()?.get(f.i)) {
            (Some(lp), Some(tp)) => (Some(child(lp.type_id, tp.type_id)), None, false),
            _ => {
                let tail = Call {
                    l: lt.raw_size_or_type(),
                    t: tt.raw_size_or_type(),
                    behind_ptr: f.behind_ptr,
                    level: usize::from(f.level),
                    depth: usize::from(f.depth),
                    fresh: false,
                };
                (Some(tail), None, true)
            }
        });
    }
    let (lms, tms) = (lt.members()?, tt.members()?);
    loop {
        let Some(lm) = lms.get(f.i) else {
            // Every local member found its match.
            return Ok((None, Some(true), false));
        };
        let Some(tm) = tms.get(f.j) else {
            return Ok((None, Some(false), false));
        };
        if names_match(lm.name()?, tm.name()?) {
            return Ok((Some(child(lm.type_id, tm.type_id)), None, false));
        }
        f.j = f.j.saturating_add(1);
    }
}

/// `bpf_core_types_match`.
#[inline(never)]
pub(super) fn types_match<L: Types + ?Sized>(
    local: &L,
    lid: u32,
    targ: &dyn Types,
    tid: u32,
) -> Result<'static, bool> {
    let mut stack = Stack::new();
    let mut call = Some(Call {
        l: lid,
        t: tid,
        behind_ptr: false,
        level: LEVELS,
        depth: LEVELS,
        fresh: true,
    });
    let mut result = false;
    loop {
        if let Some(c) = call.take() {
            match match_step(local, targ, c)? {
                Step::Done(b) => result = b,
                Step::Parts(mut f) => {
                    match match_next(local, targ, &mut f)? {
                        (Some(next), _, true) => call = Some(next),
                        (Some(next), _, false) => {
                            stack.push(f)?;
                            call = Some(next);
                        }
                        (None, decided, _) => result = decided.unwrap_or(false),
                    }
                    if call.is_some() {
                        continue;
                    }
                }
            }
        }
        let Some(top) = stack.top() else {
            return Ok(result);
        };
        // Deliver the part's result to the frame waiting for it.
        if top.proto {
            if !result {
                stack.pop();
                continue;
            }
            top.i = top.i.saturating_add(1);
        } else if result {
            // This local member matched: on to the next, from the first target member.
            top.i = top.i.saturating_add(1);
            top.j = 0;
        } else {
            top.j = top.j.saturating_add(1);
        }
        let mut f = *top;
        match match_next(local, targ, &mut f)? {
            (Some(next), _, tail) => {
                if tail {
                    stack.pop();
                } else if let Some(top) = stack.top() {
                    *top = f;
                }
                call = Some(next);
            }
            (None, decided, _) => {
                stack.pop();
                result = decided.unwrap_or(false);
            }
        }
    }
}

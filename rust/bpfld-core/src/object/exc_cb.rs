// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Exception callbacks: which subprogram each entry program carries for `bpf_throw()`.
//!
//! `__exception_cb(f)` (bpf_experimental.h) tags an entry program's BTF FUNC with a
//! `DECL_TAG` named `exception_callback:f` (component -1). The verifier wants `f` inside
//! the program, as a global function with a func_info record, although nothing calls
//! it; libbpf 1.5 (`bpf_prog_assign_exc_cb`, run by `bpf_object__relocate` for every
//! loaded entry program) finds it and appends it after the entry's call graph. This
//! module decides the same thing for every entry program at once, with libbpf's
//! outcomes (Linux 6.12 `tools/lib/bpf/libbpf.c`), replaying its walk over the tags in
//! type order:
//!
//! - a tag whose target is not a global FUNC fails every program whose walk reaches it
//!   (libbpf checks the target before it looks at whose tag it is);
//! - the program's first tag names the callback: an empty name, a name with no `.text`
//!   function, or a first such function that is static or hidden, fails the program;
//! - a second tag for the same program ends the walk with no callback appended (the
//!   verifier then refuses the program itself).
//!
//! The decision is taken once per object, in O(types + (tags + functions) log): libbpf
//! rescans all types for each entry program, which a file with thousands of entries and
//! many types would turn into a quadratic load. It runs on the BTF as libbpf's
//! relocation sees it: after the extern fixups, before hidden subprograms are made
//! static (libbpf does that when it loads the BTF, after relocating).
//!
//! # Invariants
//!
//! [`Object::exc_cbs`] has one entry per program; [`ExcCb::Subprog`] holds the index of
//! a global, non-hidden `.text` subprogram.

use super::{find_by_name, index_by_name, Object};
use crate::btf::{self, BtfKind};
use crate::bytes::idx;
use crate::error::{Ctx, Error, Kind, Result};
use crate::mem::Alloc;

/// The name prefix of the tag (libbpf's `exception_callback:`).
const PREFIX: &str = "exception_callback:";

/// What libbpf decides about one program's exception callback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExcCb<'a> {
    /// None to append (subprograms, untagged programs, programs tagged twice).
    #[default]
    None,
    /// Append this subprogram ([`Object::progs`] index) unless the program reaches it.
    Subprog(u32),
    /// Loading the program fails: what is wrong, and where (the tag or the callback).
    Refused {
        /// The error.
        kind: Kind,
        /// The tag's BTF id, or the callback's name.
        at: Ctx<'a>,
    },
}

impl<'a> ExcCb<'a> {
    /// The subprogram to append, or why the program cannot be loaded.
    pub fn get(self) -> Result<'a, Option<u32>> {
        match self {
            ExcCb::None => Ok(None),
            ExcCb::Subprog(f) => Ok(Some(f)),
            ExcCb::Refused { kind, at } => Err(Error::new(kind).ctx(at)),
        }
    }
}

impl<'a, A: Alloc> Object<'a, A> {
    /// The exception callback to append to entry program `prog` (see [`ExcCb`]).
    pub fn exception_callback(&self, prog: u32) -> Result<'a, Option<u32>> {
        self.exc_cbs
            .get(idx(prog))
            .copied()
            .unwrap_or_default()
            .get()
    }
}

/// An `exception_callback:` tag on a global FUNC.
#[derive(Clone, Copy, Debug, Default)]
struct Tag<'a> {
    /// The tagged function's name (matched against entry program names, as libbpf).
    func: &'a str,
    /// The tag's type id: the order libbpf meets the tags in.
    id: u32,
    /// The callback's name (after the prefix).
    callback: &'a str,
}

/// Decide every program's exception callback (see the module documentation).
#[inline(never)]
pub(crate) fn collect<'a, A: Alloc>(
    obj: &Object<'a, A>,
    alloc: &mut A,
) -> Result<'a, A::Buf<ExcCb<'a>>> {
    let mut out = alloc.alloc::<ExcCb<'a>>(obj.progs.len())?;
    let Some(b) = obj.btf.as_ref() else {
        return Ok(out);
    };
    // `Ok(Some(tag))` for a tag on a global FUNC, `Ok(None)` for one on anything else;
    // `Err` for types that are no such tag at all.
    let tag_at = |id: u32| -> Result<'a, Option<Option<Tag<'a>>>> {
        if b.kind_of(id).is_some_and(|k| k != BtfKind::DeclTag) {
            return Ok(None);
        }
        let t = b.type_by_id(id)?;
        if t.kind() != BtfKind::DeclTag || t.decl_tag()?.component_idx != -1 {
            return Ok(None);
        }
        let Some(callback) = obj.btf_strings.get(t.name_off())?.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let f = b.type_by_id(t.decl_tag()?.type_id)?;
        if f.kind() != BtfKind::Func || f.func()?.linkage != btf::BTF_FUNC_GLOBAL {
            return Ok(Some(None));
        }
        let func = obj.btf_strings.get(f.name_off())?;
        Ok(Some(Some(Tag { func, id, callback })))
    };
    let (mut n, mut bad) = (0usize, None);
    for id in b.ids_of_kind(BtfKind::DeclTag) {
        match tag_at(id).map_err(|e| e.ctx(Ctx::BtfType(id)))? {
            Some(Some(_)) => n = n.saturating_add(1),
            Some(None) if bad.is_none() => bad = Some(id),
            _ => {}
        }
    }
    if n == 0 && bad.is_none() {
        return Ok(out);
    }
    let mut tags = alloc.alloc::<Tag<'a>>(n)?;
    let mut k = 0usize;
    for id in b.ids_of_kind(BtfKind::DeclTag) {
        if let Some(Some(t)) = tag_at(id).map_err(|e| e.ctx(Ctx::BtfType(id)))? {
            if let Some(slot) = tags.get_mut(k) {
                *slot = t;
            }
            k = k.saturating_add(1);
        }
    }
    crate::util::sort_by_key(&mut tags, |t| (t.func, t.id));
    let subs = index_by_name(&obj.progs, |p| p.is_subprog(), |p| p.name, alloc)?;

    let refused_bad = |id: u32| ExcCb::Refused {
        kind: Kind::Malformed("exception_callback:<name> decl tag not on a global function"),
        at: Ctx::BtfType(id),
    };
    // The walk meets the misplaced tag before the type `id`.
    let bad_before = |id: u32| bad.is_some_and(|b| b < id);
    for (slot, p) in out.iter_mut().zip(obj.progs.iter()) {
        if p.is_subprog() {
            continue;
        }
        let first = tags.partition_point(|t| t.func < p.name);
        let mine = |k: usize| tags.get(k).filter(|t| t.func == p.name);
        let Some(t1) = mine(first).filter(|t| !bad_before(t.id)) else {
            // No tag of its own before the misplaced one (if any).
            *slot = bad.map_or(ExcCb::None, refused_bad);
            continue;
        };
        let cb = match callback(obj, &subs, t1) {
            Ok(cb) => cb,
            Err(refused) => {
                *slot = refused;
                continue;
            }
        };
        *slot = match (mine(first.saturating_add(1)), bad) {
            // Two callbacks for one program: libbpf appends none.
            (Some(t2), _) if !bad_before(t2.id) => ExcCb::None,
            (_, Some(b)) => refused_bad(b),
            _ => ExcCb::Subprog(cb),
        };
    }
    Ok(out)
}

/// The subprogram `t` names: libbpf takes the first `.text` function of that name, which
/// must be global and not hidden (the verifier expects a global function; a hidden one
/// gets static BTF linkage).
fn callback<'a, A: Alloc>(
    obj: &Object<'a, A>,
    subs: &[u32],
    t: &Tag<'a>,
) -> core::result::Result<u32, ExcCb<'a>> {
    if t.callback.is_empty() {
        return Err(ExcCb::Refused {
            kind: Kind::Malformed("exception_callback: decl tag names no function"),
            at: Ctx::BtfType(t.id),
        });
    }
    let at = Ctx::Symbol(t.callback);
    let f = find_by_name(subs, &obj.progs, |p| p.name, t.callback).ok_or(ExcCb::Refused {
        kind: Kind::NotFound("exception callback in .text"),
        at,
    })?;
    let p = obj.progs.get(idx(f)).copied().unwrap_or_default();
    if !p.global || p.hidden {
        return Err(ExcCb::Refused {
            kind: Kind::Malformed("exception callback is not a global non-hidden function"),
            at,
        });
    }
    Ok(f)
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The kernel type index: CO-RE candidate lookup by essential name and kind family.
//!
//! libbpf (`bpf_core_add_cands`) and the kernel (`bpf_core_add_cands` in `btf.c`) find the
//! candidates of a local type by scanning every target type: a candidate has a non-empty
//! name whose *essential* part (the name without a trailing `___flavor`) equals the local
//! type's, and a kind that is the same, or both are enums (`btf_kind_core_compat`). The
//! scan costs a string comparison per kernel type (about 130k for a distribution vmlinux)
//! for each local root type. The index answers the same question with a binary search.
//!
//! # Model
//!
//! One [`IndexEntry`] per named target type, except FUNCs, sorted by `(key, id)`, where
//! `key` is the kind family (the kind, with ENUM64 folded into ENUM) in the top 5 bits and
//! a 27-bit FNV-1a hash of the essential name below. A lookup hashes the local essential
//! name, finds the run of equal keys and checks each entry's kind and essential name
//! against the target BTF, so hash collisions cost time, never correctness. Ids within a
//! run are ascending, which is libbpf's candidate order.
//!
//! FUNCs are left out (they are 3/4 of vmlinux's named types) because no CO-RE relocation
//! can ever match one: `bpf_core_types_are_compat` and `bpf_core_types_match` return
//! "no match" for a FUNC, and the field and enumerator relocations fail while parsing a
//! FUNC root's access string, before candidates are looked at.
//!
//! The same structure over FUNCs alone ([`func_index_in`], key: FUNC and the hash of the
//! whole name) serves exact lookups of kfuncs and attach targets; with the CO-RE index,
//! [`KernelIndex::find`] finds any named kernel type by name and kind without the scan
//! of every type that `Types::find_by_name_kind` does.
//!
//! The index is built once into caller memory ([`KernelIndex::count`], allocate, then
//! [`KernelIndex::build`]; or [`kernel_index_in`]) and may be cached and shared by
//! every load against the same kernel BTF: it is immutable afterwards.
//!
//! # Invariants
//!
//! `entries` is sorted by `(key, id)` and every `id` lies in `first_id..type_count` of the
//! BTF it was built from; [`KernelIndex::matches`] checks that a BTF has that type count
//! before a [`super::Target`] pairs them.

use core::ops::{Deref, DerefMut, Range};

use crate::btf::{Btf, BtfKind, SplitBtf, Types};
use crate::error::{Ctx, Error, Kind, Result, What};
use crate::mem::Alloc;

/// One indexed target type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexEntry {
    /// Kind family (5 bits) and essential-name hash (27 bits).
    pub key: u32,
    /// Type id in the indexed BTF.
    pub id: u32,
}

/// Bits of the key that hold the name hash.
const HASH_BITS: u32 = 27;
const HASH_MASK: u32 = (1 << HASH_BITS) - 1;

/// Whether `s` starts with a flavor separator: `X___Y` where neither `X` nor `Y` is an
/// underscore (libbpf's `bpf_core_is_flavor_sep`).
fn is_flavor_sep(s: &[u8]) -> bool {
    matches!(s, [x, b'_', b'_', b'_', y, ..] if *x != b'_' && *y != b'_')
}

/// Length of the essential part of a CO-RE name: everything before the last `___` that
/// separates two non-underscore characters (libbpf's `bpf_core_essential_name_len`).
/// `task_struct___v1` gives 11; `a____b` and `___x` are their own essential names.
pub fn essential_name_len(name: &str) -> usize {
    essential_len(name.as_bytes())
}

/// [`essential_name_len`] of a name's bytes.
fn essential_len(b: &[u8]) -> usize {
    let Some(last) = b.len().checked_sub(5) else {
        return b.len();
    };
    for i in (0..=last).rev() {
        if is_flavor_sep(b.get(i..).unwrap_or_default()) {
            return i.saturating_add(1);
        }
    }
    b.len()
}

/// The essential part of `name` (see [`essential_name_len`]).
pub fn essential_name(name: &str) -> &str {
    // The cut is before an ASCII '_', so always on a character boundary.
    name.get(..essential_name_len(name)).unwrap_or(name)
}

/// The family CO-RE candidates share with a local type: same kind, or any enum.
pub fn kind_family(kind: BtfKind) -> BtfKind {
    if kind == BtfKind::Enum64 {
        BtfKind::Enum
    } else {
        kind
    }
}

/// libbpf's `btf_kind_core_compat`: the same kind, or both enums.
pub fn kinds_core_compat(a: BtfKind, b: BtfKind) -> bool {
    a == b || (a.is_any_enum() && b.is_any_enum())
}

fn fnv1a(b: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &c in b {
        h = (h ^ u32::from(c)).wrapping_mul(0x0100_0193);
    }
    h
}

/// The index key of an essential name in a kind family.
pub fn index_key(kind: BtfKind, essential: &str) -> u32 {
    (kind_family(kind).as_u32() << HASH_BITS) | (fnv1a(essential.as_bytes()) & HASH_MASK)
}

/// Which types an index holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subset {
    /// Named non-FUNC types, keyed by kind family and essential name (CO-RE candidates).
    Candidates,
    /// Named FUNCs, keyed by their whole name (kfuncs, attach targets).
    Funcs,
}

/// The key of a FUNC named `name` in a [`Subset::Funcs`] index.
fn func_key(name: &[u8]) -> u32 {
    (BtfKind::Func.as_u32() << HASH_BITS) | (fnv1a(name) & HASH_MASK)
}

/// Whether type `kind` with name offset `name_off` of `types` is in an index of `subset`,
/// and its key (`hash`: else any `Some` will do, for counting). The kind is looked at
/// first, and the name's bytes are hashed without a UTF-8 check: a parsed BTF's names
/// are all valid, and a lookup compares names again.
fn key_of<T: Types + ?Sized>(
    types: &T,
    kind: BtfKind,
    name_off: u32,
    subset: Subset,
    hash: bool,
) -> Result<'static, Option<u32>> {
    if (kind == BtfKind::Func) != (subset == Subset::Funcs) || name_off == 0 {
        return Ok(None);
    }
    let outside = || Error::malformed("name offset outside the string section");
    if !hash {
        // Counting: whether it is named is enough.
        let empty = types.name_is_empty_at(name_off).ok_or_else(outside)?;
        return Ok(if empty { None } else { Some(0) });
    }
    let name = types.name_bytes_at(name_off).ok_or_else(outside)?;
    if name.is_empty() {
        return Ok(None);
    }
    if subset == Subset::Funcs {
        return Ok(Some(func_key(name)));
    }
    let ess = name.get(..essential_len(name)).unwrap_or(name);
    Ok(Some(
        (kind_family(kind).as_u32() << HASH_BITS) | (fnv1a(ess) & HASH_MASK),
    ))
}

/// Candidate lookup by essential name and kind family over the types `first_id..` of one
/// kernel BTF (vmlinux, or a module's split BTF on vmlinux). See the module docs.
#[derive(Clone, Copy, Debug)]
pub struct KernelIndex<E> {
    entries: E,
    first_id: u32,
    type_count: u32,
}

impl<E: Deref<Target = [IndexEntry]>> KernelIndex<E> {
    /// First pass: the number of entries the index of `ids` (of `types`) needs.
    pub fn count<T: Types + ?Sized>(types: &T, ids: Range<u32>) -> Result<'static, usize> {
        count(types, ids, Subset::Candidates)
    }

    /// Second pass: fill `entries`, whose length must be [`KernelIndex::count`], and sort.
    pub fn build<T: Types + ?Sized>(
        types: &T,
        ids: Range<u32>,
        mut entries: E,
    ) -> Result<'static, Self>
    where
        E: DerefMut,
    {
        let first_id = ids.start;
        fill(types, ids, &mut entries, Subset::Candidates)?;
        crate::util::sort_by_key(&mut entries, |e| (e.key, e.id));
        Ok(KernelIndex {
            entries,
            first_id,
            type_count: types.type_count(),
        })
    }

    /// A borrowed view, e.g. to pair with its BTF in a [`super::Target`].
    pub fn borrowed(&self) -> KernelIndex<&[IndexEntry]> {
        KernelIndex {
            entries: &self.entries,
            first_id: self.first_id,
            type_count: self.type_count,
        }
    }

    /// The sorted entries.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Number of indexed types.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no type is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Memory held by the index, in bytes.
    pub fn bytes(&self) -> usize {
        self.entries
            .len()
            .saturating_mul(core::mem::size_of::<IndexEntry>())
    }

    /// First indexed type id (1, or the base's type count for split BTF).
    pub fn first_id(&self) -> u32 {
        self.first_id
    }

    /// Whether `types` is (shaped like) the BTF this index was built from.
    pub fn matches<T: Types + ?Sized>(&self, types: &T) -> bool {
        types.type_count() == self.type_count
    }

    /// [`KernelIndex::borrowed`], if it [`KernelIndex::matches`] `types`.
    pub fn borrowed_for<T: Types + ?Sized>(
        &self,
        types: &T,
    ) -> Result<'static, KernelIndex<&[IndexEntry]>> {
        if !self.matches(types) {
            return Err(Error::malformed(
                "kernel type index was built from another BTF",
            ));
        }
        Ok(self.borrowed())
    }

    /// The first type of `types` called `name` of kind `kind`, as
    /// `Types::find_by_name_kind` finds it, through this index: a FUNC index
    /// ([`func_index_in`]) for FUNCs, the CO-RE index ([`kernel_index_in`]) for the other
    /// named kinds. `None` also when `kind` is not one this index holds.
    pub fn find<T: Types + ?Sized>(
        &self,
        types: &T,
        name: &str,
        kind: BtfKind,
    ) -> Result<'static, Option<u32>> {
        let key = if kind == BtfKind::Func {
            func_key(name.as_bytes())
        } else {
            index_key(kind, essential_name(name))
        };
        let start = lower_bound(&self.entries, key);
        for e in self.entries.get(start..).unwrap_or_default() {
            if e.key != key {
                break;
            }
            let t = types.type_by_id(e.id)?;
            if t.kind() == kind && t.name_eq(name) {
                return Ok(Some(e.id));
            }
        }
        Ok(None)
    }

    /// Ids of the indexed types that are CO-RE candidates for a local type of kind `kind`
    /// named `name` (flavor allowed), ascending: same essential name, compatible kind.
    /// `types` must be the BTF the index was built from.
    pub fn candidates<'s, T: Types + ?Sized>(
        &'s self,
        types: &'s T,
        kind: BtfKind,
        name: &'s str,
    ) -> Candidates<'s, T> {
        let ess = essential_name(name);
        let key = index_key(kind, ess);
        let start = lower_bound(&self.entries, key);
        Candidates {
            run: self.entries.get(start..).unwrap_or_default(),
            key,
            kind,
            ess,
            types,
        }
    }
}

/// `f(id, kind, name_off)` for each type of `ids`, through the records directly when
/// `types` is one [`crate::btf::Btf`].
fn walk_heads<T: Types + ?Sized>(
    types: &T,
    ids: Range<u32>,
    mut f: impl FnMut(u32, BtfKind, u32) -> Result<'static, ()>,
) -> Result<'static, ()> {
    if let Some(raw) = types.raw_heads() {
        for head in raw.iter(ids)? {
            let (id, kind, name_off) = head?;
            f(id, kind, name_off)?;
        }
        return Ok(());
    }
    for id in ids {
        let t = types.type_by_id(id)?;
        f(id, t.kind(), t.name_off())?;
    }
    Ok(())
}

/// Entries of `ids` of `types`, in id order, into `entries` (of exactly their number).
fn fill<T: Types + ?Sized>(
    types: &T,
    ids: Range<u32>,
    entries: &mut [IndexEntry],
    subset: Subset,
) -> Result<'static, ()> {
    check_ids(types, &ids)?;
    let mut slots = entries.iter_mut();
    walk_heads(types, ids, |id, kind, name_off| {
        if let Some(key) =
            key_of(types, kind, name_off, subset, true).map_err(|e| e.ctx(Ctx::BtfType(id)))?
        {
            let slot = slots
                .next()
                .ok_or_else(|| Error::new(Kind::TooSmall("kernel type index")))?;
            *slot = IndexEntry { key, id };
        }
        Ok(())
    })?;
    if slots.next().is_some() {
        return Err(Error::malformed(
            "kernel type index buffer longer than its count",
        ));
    }
    Ok(())
}

/// The number of entries an index of `subset` over `ids` needs.
fn count<T: Types + ?Sized>(types: &T, ids: Range<u32>, subset: Subset) -> Result<'static, usize> {
    check_ids(types, &ids)?;
    if subset == Subset::Candidates {
        if let Some(n) = types.raw_heads().and_then(|r| r.named_in(&ids)) {
            // Counted while parsing; `fill` checks it.
            return Ok(n);
        }
    }
    let mut n: usize = 0;
    walk_heads(types, ids, |id, kind, name_off| {
        // Counting needs no hash.
        if key_of(types, kind, name_off, subset, false)
            .map_err(|e| e.ctx(Ctx::BtfType(id)))?
            .is_some()
        {
            n = n.saturating_add(1);
        }
        Ok(())
    })?;
    Ok(n)
}

/// Count, allocate exactly, fill, radix-sort.
fn index_in<A: Alloc, T: Types + ?Sized>(
    types: &T,
    ids: Range<u32>,
    alloc: &mut A,
    subset: Subset,
) -> Result<'static, KernelIndex<A::Buf<IndexEntry>>> {
    let n = count(types, ids.clone(), subset)?;
    let mut entries = alloc.alloc::<IndexEntry>(n)?;
    let first_id = ids.start;
    fill(types, ids, &mut entries, subset)?;
    // Filled in id order: a stable sort by key alone gives (key, id) order.
    let mut scratch = alloc.alloc::<IndexEntry>(n)?;
    crate::util::radix_sort_by_u32(&mut entries, &mut scratch, |e| e.key);
    Ok(KernelIndex {
        entries,
        first_id,
        type_count: types.type_count(),
    })
}

/// Count, allocate exactly, build: the [`KernelIndex`] of `ids` of `types` in `alloc`'s
/// memory. For vmlinux `ids` is `1..type_count()`; for a module's split BTF, its own ids
/// ([`crate::btf::Btf::local_ids`]).
pub fn kernel_index_in<A: Alloc, T: Types + ?Sized>(
    types: &T,
    ids: Range<u32>,
    alloc: &mut A,
) -> Result<'static, KernelIndex<A::Buf<IndexEntry>>> {
    index_in(types, ids, alloc, Subset::Candidates)
}

/// [`kernel_index_in`] for a kernel module's BTF `split` (from
/// [`Btf::parse_split_kernel`]): its own ids, read joined to the `base` (vmlinux) it was
/// parsed on.
pub fn module_index_in<A, BD, BO, SD, SO>(
    base: &Btf<BD, BO>,
    split: &Btf<SD, SO>,
    alloc: &mut A,
) -> Result<'static, KernelIndex<A::Buf<IndexEntry>>>
where
    A: Alloc,
    BD: Deref<Target = [u8]>,
    BO: Deref<Target = [u32]>,
    SD: Deref<Target = [u8]>,
    SO: Deref<Target = [u32]>,
{
    let joined = SplitBtf::new(base, split)?;
    kernel_index_in(&joined, split.local_ids(), alloc)
}

/// The index of the named FUNCs of `ids` of `types`, for [`KernelIndex::find`] of FUNCs
/// (kfuncs, attach targets). About 3/4 of vmlinux's named types are FUNCs: built apart
/// from the CO-RE index, when the first lookup of a FUNC needs it.
pub fn func_index_in<A: Alloc, T: Types + ?Sized>(
    types: &T,
    ids: Range<u32>,
    alloc: &mut A,
) -> Result<'static, KernelIndex<A::Buf<IndexEntry>>> {
    index_in(types, ids, alloc, Subset::Funcs)
}

/// The first type called `name` of kind `kind` in kernel BTF `types`, as
/// `Types::find_by_name_kind` finds it, through its indexes: `funcs` ([`func_index_in`])
/// for FUNCs, `core` ([`kernel_index_in`]) for the other named kinds; a scan for `void`,
/// and for FUNCs without a FUNC index.
pub fn find_in_kernel<T, C, F>(
    types: &T,
    core: &KernelIndex<C>,
    funcs: Option<&KernelIndex<F>>,
    name: &str,
    kind: BtfKind,
) -> Result<'static, Option<u32>>
where
    T: Types + ?Sized,
    C: Deref<Target = [IndexEntry]>,
    F: Deref<Target = [IndexEntry]>,
{
    match (kind, funcs) {
        (BtfKind::Func, Some(f)) => f.find(types, name, kind),
        (BtfKind::Func | BtfKind::Void, _) => types.find_by_name_kind(name, kind),
        _ => core.find(types, name, kind),
    }
}

/// The first index whose entry's key is not below `key` (binary search with checked
/// reads, so that no panic path is compiled in).
fn lower_bound(entries: &[IndexEntry], key: u32) -> usize {
    let (mut lo, mut hi) = (0usize, entries.len());
    while lo < hi {
        let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
        match entries.get(mid) {
            Some(e) if e.key < key => lo = mid.saturating_add(1),
            _ => hi = mid,
        }
    }
    lo
}

fn check_ids<T: Types + ?Sized>(types: &T, ids: &Range<u32>) -> Result<'static, ()> {
    if ids.start == 0 || ids.start > ids.end || ids.end > types.type_count() {
        return Err(
            Error::malformed("kernel type index id range outside the BTF")
                .ctx(Ctx::Value(What::Id, u64::from(ids.end))),
        );
    }
    Ok(())
}

/// Iterator over candidate ids (see [`KernelIndex::candidates`]).
pub struct Candidates<'s, T: ?Sized> {
    run: &'s [IndexEntry],
    key: u32,
    kind: BtfKind,
    ess: &'s str,
    types: &'s T,
}

impl<T: Types + ?Sized> Iterator for Candidates<'_, T> {
    type Item = Result<'static, u32>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (e, rest) = self.run.split_first()?;
            if e.key != self.key {
                self.run = &[];
                return None;
            }
            self.run = rest;
            let t = match self.types.type_by_id(e.id) {
                Ok(t) => t,
                Err(err) => return Some(Err(err)),
            };
            let name = match t.name() {
                Ok(n) => n,
                Err(err) => return Some(Err(err)),
            };
            if kinds_core_compat(t.kind(), self.kind) && essential_name(name) == self.ess {
                return Some(Ok(e.id));
            }
        }
    }
}

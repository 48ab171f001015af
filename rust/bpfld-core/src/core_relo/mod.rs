// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! CO-RE ("compile once, run everywhere") relocations with libbpf 6.12's semantics
//! (`tools/lib/bpf/relo_core.c`, `bpf_core_find_cands` and `bpf_core_resolve_relo` in
//! `libbpf.c`): all 13 kinds, bitfields and 64-bit enums included.
//!
//! # Model
//!
//! A CO-RE relocation (`.BTF.ext` record [`CoreRelo`]) says: the instruction at
//! `insn_off` holds a value (field offset, size, existence, signedness, bitfield shift,
//! type id, type existence/size/match, enumerator existence/value) computed from local
//! type `type_id` and access string `access_str_off` of the object's BTF; recompute it
//! for the running kernel's types.
//!
//! 1. The access string is parsed into a *local spec* (the field path, by name and
//!    array index, and its bit offset; see [`Spec`]).
//! 2. The *candidates* are the kernel types with the local root type's essential name
//!    (name without `___flavor`) and a compatible kind: first in vmlinux, and only if
//!    vmlinux has none, in every module BTF — [`KernelIndex`].
//! 3. Each candidate is matched against the local spec (fields by name through
//!    anonymous members, array bounds, libbpf's type compatibility rules:
//!    `bpf_core_fields_are_compat`, `bpf_core_types_are_compat`, and
//!    `bpf_core_types_match` for TYPE_MATCHES); every match yields a value. Matches that disagree are an ambiguity error. Candidates that did not match
//!    are dropped for every later relocation with the same local root type, as libbpf's
//!    candidate cache does (`cands->len = j`).
//!    A relocation repeating an earlier one (same root type, access string and kind:
//!    the same field read in several places) while the same candidates are alive has
//!    that one's outcome, which the relocator remembers instead of matching again.
//! 4. No match: existence kinds give 0 and the others *poison* the instruction.
//! 5. [`patch`] checks that the instruction holds the local value and writes the new one
//!    (or the poison).
//!
//! # API
//!
//! ```ignore
//! // Once per kernel BTF (cache it with the BTF):
//! let vmlinux_index = kernel_index_in(&vmlinux, 1..vmlinux.type_count(), &mut alloc)?;
//! // Per object:
//! let target = Target::new(&vmlinux, &vmlinux_index)?;
//! let mut relocator = CoreRelocator::new(target, &[], &mut alloc, core_relo_count)?;
//! for (i, relo) in relocations_in_btf_ext_order {
//!     let outcome = relocator.resolve(&obj_btf, &relo, i).ctx(Ctx::Prog(name))?;
//!     core_relo::patch(&mut insns, insn_idx, &outcome).ctx(Ctx::Reloc(i)).ctx(Ctx::Prog(name))?;
//! }
//! ```
//!
//! `core_relo_count` is the object's number of CO-RE records
//! (`btf_ext.core_relos().num_records()`); `i`, the record's index within its
//! `.BTF.ext` section, as libbpf numbers them in messages. A relocator serves one object
//! (its candidate cache is keyed by the object's type ids) and must see the relocations
//! in libbpf's order (`.BTF.ext` sections, then records) for candidate narrowing to act
//! identically. [`CoreRelocator::describe`] prints a relocation in libbpf's spec format
//! (`<byte_off> [5] struct task_struct.pid (0:12 @ offset 2352)`) for logs.
//!
//! # Memory and bounds
//!
//! The index is built into caller memory (8 bytes per named non-FUNC kernel type: 120
//! KiB, under 1 byte per type, for a 6.18 distribution vmlinux). A relocator allocates
//! two specs (1.3 KiB each: too large for a kernel stack), a candidate cache of 16
//! bytes per slot, two slots per relocation it is sized for (rounded up to a power of
//! two), and a table of outcomes of one slot per relocation (rounded up likewise, at
//! most [`MEMO_MAX_SLOTS`], of `size_of::<Memo>()` bytes each); nothing else. Candidates per local root type are bounded by
//! [`MAX_CORE_CANDIDATES`] (the cache records the survivors as a bitmask), spec length by
//! [`crate::limits::MAX_CORE_SPEC_LEN`], type comparison levels and loops by
//! [`crate::limits::MAX_RESOLVE_DEPTH`] as in libbpf. libbpf's recursions (member search
//! through anonymous members, type comparison through prototypes and members) run on
//! explicit bounded stacks, so kernel stack use does not grow with the input's nesting.
//!
//! # Differences from libbpf
//!
//! - Access strings must be colon-separated decimal numbers; libbpf's `sscanf("%d")`
//!   also accepts leading blanks and `+` signs (clang emits neither).
//! - More than [`MAX_CORE_CANDIDATES`] candidates for one local type is an error.
//! - A bitfield whose type has size 0 is an error (libbpf divides by zero).
//! - Errors carry structured context (relocation index, local type name or id, a number)
//!   instead of a formatted spec (which would need memory an [`Error`] cannot own):
//!   `relo #1: type 'core_reloc_size': id 13: ambiguous CO-RE relocation value:
//!   candidates disagree`; [`CoreRelocator::describe`] gives libbpf's spec line.
//! - A relocation of type id 0 is an error, except TYPE_ID_LOCAL, which gives 0 as in
//!   libbpf.
//!
//! Kept on purpose: libbpf's quirks that are deterministic, e.g. a member search that
//! rejects a same-named member of an incompatible type leaves that level's step in the
//! target spec, and a 32-bit enumerator value is widened as `__s32` whatever the enum's
//! signedness.

mod calc;
mod compat;
mod index;
mod patch;
mod spec;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod selftests;

pub use index::{
    essential_name, essential_name_len, find_in_kernel, func_index_in, index_key, kernel_index_in,
    kind_family, kinds_core_compat, module_index_in, Candidates, IndexEntry, KernelIndex,
};
// For ksym and kfunc resolution (crate::externs), which checks types as CO-RE does.
pub(crate) use compat::types_are_compat;
pub use patch::{patch, Patched, POISON_IMM};
pub use spec::{Accessor, Spec, SpecText};

use core::ops::Deref;

use crate::btf::{Btf, BtfKind, CoreRelo, SplitBtf, Types};
use crate::error::{Ctx, Error, Kind, Result, What};
use crate::limits::{MAX_CORE_CANDIDATES, MAX_RELOCS};
use crate::mem::Alloc;

/// `enum bpf_core_relo_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// `BPF_CORE_FIELD_BYTE_OFFSET`: field offset in bytes.
    FieldByteOffset = 0,
    /// `BPF_CORE_FIELD_BYTE_SIZE`: field size in bytes.
    FieldByteSize = 1,
    /// `BPF_CORE_FIELD_EXISTS`: 1 if the field exists.
    FieldExists = 2,
    /// `BPF_CORE_FIELD_SIGNED`: 1 if the field is a signed integer or signed enum.
    FieldSigned = 3,
    /// `BPF_CORE_FIELD_LSHIFT_U64`: left shift that puts a bitfield's top bit at bit 63.
    FieldLshiftU64 = 4,
    /// `BPF_CORE_FIELD_RSHIFT_U64`: right shift that then puts its low bit at bit 0.
    FieldRshiftU64 = 5,
    /// `BPF_CORE_TYPE_ID_LOCAL`: the type's id in the object's BTF.
    TypeIdLocal = 6,
    /// `BPF_CORE_TYPE_ID_TARGET`: the matching type's id in kernel BTF (0: none).
    TypeIdTarget = 7,
    /// `BPF_CORE_TYPE_EXISTS`: 1 if a compatible kernel type exists.
    TypeExists = 8,
    /// `BPF_CORE_TYPE_SIZE`: the kernel type's size.
    TypeSize = 9,
    /// `BPF_CORE_ENUMVAL_EXISTS`: 1 if the enumerator exists.
    EnumvalExists = 10,
    /// `BPF_CORE_ENUMVAL_VALUE`: the enumerator's value.
    EnumvalValue = 11,
    /// `BPF_CORE_TYPE_MATCHES`: 1 if a kernel type matches structurally.
    TypeMatches = 12,
}

impl CoreReloKind {
    /// The kind for a `bpf_core_relo.kind` value.
    pub fn from_u32(k: u32) -> Option<Self> {
        Some(match k {
            0 => Self::FieldByteOffset,
            1 => Self::FieldByteSize,
            2 => Self::FieldExists,
            3 => Self::FieldSigned,
            4 => Self::FieldLshiftU64,
            5 => Self::FieldRshiftU64,
            6 => Self::TypeIdLocal,
            7 => Self::TypeIdTarget,
            8 => Self::TypeExists,
            9 => Self::TypeSize,
            10 => Self::EnumvalExists,
            11 => Self::EnumvalValue,
            12 => Self::TypeMatches,
            _ => return None,
        })
    }

    /// libbpf's short name (`core_relo_kind_str`), e.g. `"byte_off"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FieldByteOffset => "byte_off",
            Self::FieldByteSize => "byte_sz",
            Self::FieldExists => "field_exists",
            Self::FieldSigned => "signed",
            Self::FieldLshiftU64 => "lshift_u64",
            Self::FieldRshiftU64 => "rshift_u64",
            Self::TypeIdLocal => "local_type_id",
            Self::TypeIdTarget => "target_type_id",
            Self::TypeExists => "type_exists",
            Self::TypeMatches => "type_matches",
            Self::TypeSize => "type_size",
            Self::EnumvalExists => "enumval_exists",
            Self::EnumvalValue => "enumval_value",
        }
    }

    /// A field relocation (byte offset/size, exists, signed, shifts).
    pub fn is_field_based(self) -> bool {
        (self as u32) <= 5
    }

    /// A type relocation (ids, exists, size, matches).
    pub fn is_type_based(self) -> bool {
        matches!(
            self,
            Self::TypeIdLocal
                | Self::TypeIdTarget
                | Self::TypeExists
                | Self::TypeMatches
                | Self::TypeSize
        )
    }

    /// An enumerator relocation.
    pub fn is_enumval_based(self) -> bool {
        matches!(self, Self::EnumvalExists | Self::EnumvalValue)
    }
}

/// What to do with a relocated instruction (libbpf's `struct bpf_core_relo_res`, plus
/// where the value came from). Hand it to [`patch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreOutcome {
    /// The relocation's kind.
    pub kind: CoreReloKind,
    /// The value the instruction must hold now (computed from the local types).
    pub orig_val: u64,
    /// The value to put there.
    pub new_val: u64,
    /// No candidate matched and the kind has no "absent" value: poison the instruction.
    pub poison: bool,
    /// Whether [`patch`] must check that the instruction holds `orig_val`.
    pub validate: bool,
    /// The field changed size and may not be loaded or stored with another width:
    /// [`patch`] poisons a load or store instead of resizing it.
    pub fail_memsz_adjust: bool,
    /// Local field size for a byte offset relocation (0 otherwise, or for a bitfield).
    pub orig_sz: u32,
    /// Target field size, likewise.
    pub new_sz: u32,
    /// Local field type (modifiers and typedefs skipped) when `orig_sz` is set.
    pub orig_type_id: u32,
    /// Target field type when `new_sz` is set.
    pub new_type_id: u32,
    /// Which target the first matching candidate came from: 0 for vmlinux, `i + 1` for
    /// module `i`; `None` if nothing matched or no target was consulted.
    pub target: Option<u32>,
    /// The first matching candidate's type id in that target (0: none).
    pub target_type_id: u32,
    /// How many candidates matched (all with the same value).
    pub matched: u32,
}

impl Default for CoreOutcome {
    /// A placeholder for unfilled buffer slots.
    fn default() -> Self {
        CoreOutcome::new(CoreReloKind::FieldByteOffset)
    }
}

impl CoreOutcome {
    fn new(kind: CoreReloKind) -> Self {
        CoreOutcome {
            kind,
            orig_val: 0,
            new_val: 0,
            poison: false,
            validate: true,
            fail_memsz_adjust: false,
            orig_sz: 0,
            new_sz: 0,
            orig_type_id: 0,
            new_type_id: 0,
            target: None,
            target_type_id: 0,
            matched: 0,
        }
    }
}

/// A kernel BTF (vmlinux, or a module's split BTF on vmlinux) with its [`KernelIndex`].
#[derive(Clone, Copy)]
pub struct Target<'t> {
    types: &'t dyn Types,
    index: KernelIndex<&'t [IndexEntry]>,
}

impl<'t> Target<'t> {
    /// Pair `types` with the index built from it.
    pub fn new<E: Deref<Target = [IndexEntry]>>(
        types: &'t dyn Types,
        index: &'t KernelIndex<E>,
    ) -> Result<'static, Self> {
        Ok(Target {
            types,
            index: index.borrowed_for(types)?,
        })
    }

    /// The BTF.
    pub fn types(&self) -> &'t dyn Types {
        self.types
    }
}

impl core::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Target")
            .field("types", &self.types.type_count())
            .field("indexed", &self.index.len())
            .finish()
    }
}

/// One candidate cache slot: a local root type id (0: free) and which of its candidates
/// (in enumeration order) are still alive.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheSlot {
    local_id: u32,
    alive: u64,
}

/// Slots of the outcome table at most (see [`Memo`]): beyond, relocations that repeat an
/// earlier one are matched again.
pub const MEMO_MAX_SLOTS: usize = 1024;

/// A resolved relocation (root type id 0: a free slot) and the candidates alive after
/// it. A later relocation with the same key, while exactly these candidates are alive,
/// resolves the same: every alive candidate matched this spec (the survivors of a
/// match are the candidates that matched), so they all match again, the first is the
/// same, and the survivors stay these.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memo {
    type_id: u32,
    access_str_off: u32,
    kind: u32,
    alive: u64,
    out: CoreOutcome,
}

/// Kernel module BTFs, read only when a relocation needs them: libbpf's
/// `bpf_core_find_cands` looks in module BTFs for a local type only when vmlinux has no
/// candidate for it, and reads them (`load_module_btfs`) the first time that happens.
pub trait ModuleTargets {
    /// How many module BTFs there are, reading them on the first call. An error fails
    /// the relocation that asked.
    fn count(&self) -> Result<'static, usize>;

    /// Module `i` (`i < count()`).
    fn module(&self, i: usize) -> Result<'static, ModuleBtf<'_>>;

    /// Module `i`'s name, as `/sys/kernel/btf/<name>` and the kernel's BTF object
    /// call it (`i < count()`).
    fn name(&self, i: usize) -> Result<'static, &str>;
}

/// Failure `errno` (positive) to read the kernel modules' BTF, for [`ModuleTargets::count`].
pub fn module_read_error(errno: i32) -> Error<'static> {
    Error::new(Kind::Kernel {
        op: "reading kernel module BTF (/sys/kernel/btf)",
        errno,
    })
}

/// A kernel module's BTF as [`ModuleTargets::module`] lends it: its split BTF joined to
/// vmlinux, and its index ([`kernel_index_in`] over the two, for the split's own ids).
#[derive(Debug)]
pub struct ModuleBtf<'a> {
    types: SplitBtf<'a>,
    index: KernelIndex<&'a [IndexEntry]>,
}

impl<'a> ModuleBtf<'a> {
    /// Join `split` to `base` (see [`SplitBtf::new`]), with `index` built from the two.
    pub fn new<BD, BO, SD, SO, E>(
        base: &'a Btf<BD, BO>,
        split: &'a Btf<SD, SO>,
        index: &'a KernelIndex<E>,
    ) -> Result<'static, Self>
    where
        BD: Deref<Target = [u8]>,
        BO: Deref<Target = [u32]>,
        SD: Deref<Target = [u8]>,
        SO: Deref<Target = [u32]>,
        E: Deref<Target = [IndexEntry]>,
    {
        let types = SplitBtf::new(base, split)?;
        let index = index.borrowed_for(&types)?;
        Ok(ModuleBtf { types, index })
    }

    /// Whether the module itself (not vmlinux) has a type called `name` of kind
    /// `kind`: through the index, or for FUNCs, which it leaves out, a scan of the
    /// module's own types.
    pub fn defines(&self, name: &str, kind: BtfKind) -> bool {
        self.find_own(name, kind).is_some()
    }

    /// The id of the module's own type (not vmlinux's) called `name` of kind `kind`
    /// (libbpf's `btf__find_by_name_kind_own`): through the index, or for FUNCs, which
    /// it leaves out, a scan of the module's own types.
    pub fn find_own(&self, name: &str, kind: BtfKind) -> Option<u32> {
        if kind == BtfKind::Func {
            let types = &self.types;
            return types.split().local_ids().find(|&id| {
                types
                    .type_by_id(id)
                    .is_ok_and(|t| t.kind() == kind && t.name_eq(name))
            });
        }
        self.index.find(&self.types, name, kind).ok().flatten()
    }

    /// The module's types, vmlinux's included (the ids of a split BTF).
    pub fn types(&self) -> &SplitBtf<'a> {
        &self.types
    }
}

/// Where a relocator finds module BTFs.
#[derive(Clone, Copy)]
enum Modules<'t> {
    /// Given up front.
    Listed(&'t [Target<'t>]),
    /// Read on first need.
    Lazy(&'t dyn ModuleTargets),
}

/// Resolves the CO-RE relocations of one object against kernel BTF. See the module docs.
pub struct CoreRelocator<'t, A: Alloc> {
    vmlinux: Target<'t>,
    modules: Modules<'t>,
    /// Local spec, candidate spec.
    specs: A::Buf<Spec>,
    cache: A::Buf<CacheSlot>,
    roots: usize,
    max_roots: usize,
    /// Outcomes by (root type, access string, kind), open addressing at most 3/4 full.
    memo: A::Buf<Memo>,
    memos: usize,
}

/// The first slot of `table` (open addressing, linear probing, a power-of-two length)
/// from hash `h` on for which `stop` holds: the key's slot or a free one. `None` if
/// none does.
fn probe<T>(table: &[T], h: u32, stop: impl Fn(&T) -> bool) -> Option<usize> {
    let mask = table.len().checked_sub(1)?;
    let mut i = h as usize & mask;
    for _ in 0..table.len() {
        if stop(table.get(i)?) {
            return Some(i);
        }
        i = i.wrapping_add(1) & mask;
    }
    None
}

/// Which candidates of a cached root are alive.
fn is_alive(alive: u64, k: u32) -> bool {
    alive.checked_shr(k).is_some_and(|b| b & 1 == 1)
}

impl<'t, A: Alloc> CoreRelocator<'t, A> {
    /// A relocator for one object with at most `max_relos` CO-RE relocations (which
    /// bounds the number of distinct local root types the cache holds), against
    /// `vmlinux` and, for types vmlinux lacks, `modules`.
    pub fn new(
        vmlinux: Target<'t>,
        modules: &'t [Target<'t>],
        alloc: &mut A,
        max_relos: usize,
    ) -> Result<'static, Self> {
        if max_relos > MAX_RELOCS {
            return Err(Error::limit("CO-RE relocations", max_relos, MAX_RELOCS));
        }
        // Open addressing at most half full.
        let slots = max_relos
            .saturating_mul(2)
            .max(8)
            .checked_next_power_of_two()
            .ok_or(Error::new(Kind::NoMemory))?;
        let memo_slots = max_relos
            .max(8)
            .checked_next_power_of_two()
            .ok_or(Error::new(Kind::NoMemory))?
            .min(MEMO_MAX_SLOTS);
        Ok(CoreRelocator {
            vmlinux,
            modules: Modules::Listed(modules),
            specs: alloc.alloc::<Spec>(2)?,
            cache: alloc.alloc::<CacheSlot>(slots)?,
            roots: 0,
            max_roots: max_relos,
            memo: alloc.alloc::<Memo>(memo_slots)?,
            memos: 0,
        })
    }

    /// Take module BTFs from `modules` instead, which is asked for them only when
    /// vmlinux has no candidate for a local type.
    pub fn set_lazy_modules(&mut self, modules: &'t dyn ModuleTargets) {
        self.modules = Modules::Lazy(modules);
    }

    /// Bytes this relocator allocated.
    pub fn bytes(&self) -> usize {
        self.specs
            .len()
            .saturating_mul(core::mem::size_of::<Spec>())
            .saturating_add(
                self.cache
                    .len()
                    .saturating_mul(core::mem::size_of::<CacheSlot>()),
            )
            .saturating_add(self.memo.len().saturating_mul(core::mem::size_of::<Memo>()))
    }

    /// Where the outcome of `relo` is or would go in the memo table: the slot holding
    /// its key, or the free slot ending its probe; `None` if the table is full there.
    fn memo_slot(&self, relo: &CoreRelo) -> Option<usize> {
        let h = relo.type_id.wrapping_mul(0x9e37_79b1)
            ^ relo.access_str_off.wrapping_mul(0x85eb_ca6b)
            ^ relo.kind;
        probe(&self.memo, h, |m| {
            m.type_id == 0
                || (m.type_id == relo.type_id
                    && m.access_str_off == relo.access_str_off
                    && m.kind == relo.kind)
        })
    }

    /// The remembered outcome of `relo`, if the candidates alive now for its root type
    /// are those alive after it was resolved.
    fn remembered(&self, relo: &CoreRelo) -> Option<CoreOutcome> {
        let m = self.memo.get(self.memo_slot(relo)?)?;
        if m.type_id == 0 {
            return None;
        }
        let alive = self.alive_of(relo.type_id)?;
        (alive == m.alive).then_some(m.out)
    }

    /// Remember `out` as the outcome of `relo`, after which `alive` are alive.
    fn remember(&mut self, relo: &CoreRelo, alive: u64, out: CoreOutcome) {
        let Some(i) = self.memo_slot(relo) else {
            return;
        };
        let full = self.memos >= (self.memo.len() >> 2).saturating_mul(3);
        let Some(m) = self.memo.get_mut(i) else {
            return;
        };
        if m.type_id == 0 {
            if full {
                return;
            }
            self.memos = self.memos.saturating_add(1);
        }
        *m = Memo {
            type_id: relo.type_id,
            access_str_off: relo.access_str_off,
            kind: relo.kind,
            alive,
            out,
        };
    }

    /// Where root type `local_id` is or would go in the candidate cache: the slot holding
    /// it, or the free slot ending its probe; `None` if the cache is full there.
    fn cache_probe(&self, local_id: u32) -> Option<usize> {
        probe(&self.cache, local_id.wrapping_mul(0x9e37_79b1), |s| {
            s.local_id == local_id || s.local_id == 0
        })
    }

    /// The alive candidates of root type `local_id`, if it has a cache slot.
    fn alive_of(&self, local_id: u32) -> Option<u64> {
        let s = self.cache.get(self.cache_probe(local_id)?)?;
        (s.local_id == local_id).then_some(s.alive)
    }

    /// The cache slot of `local_id`, claimed if new.
    fn slot(&mut self, local_id: u32) -> Result<'static, usize> {
        let full = || {
            Error::limit(
                "CO-RE local root types",
                self.roots.saturating_add(1),
                self.max_roots,
            )
        };
        let i = self.cache_probe(local_id).ok_or_else(full)?;
        let Some(s) = self.cache.get(i).copied() else {
            return Err(Error::malformed("CO-RE cache index out of range"));
        };
        if s.local_id == local_id {
            return Ok(i);
        }
        if self.roots >= self.max_roots {
            return Err(full());
        }
        if let Some(s) = self.cache.get_mut(i) {
            *s = CacheSlot {
                local_id,
                alive: u64::MAX,
            };
        }
        self.roots = self.roots.saturating_add(1);
        Ok(i)
    }

    /// Resolve relocation number `relo_idx` (for messages) of `local`, the object's BTF:
    /// what to do with its instruction. Errors carry the local root type's name and the
    /// relocation index; the caller adds the program.
    pub fn resolve<'l, L: Types + ?Sized>(
        &mut self,
        local: &'l L,
        relo: &CoreRelo,
        relo_idx: u32,
    ) -> Result<'l, CoreOutcome> {
        let at = Ctx::Reloc(relo_idx);
        let kind = CoreReloKind::from_u32(relo.kind).ok_or_else(|| {
            Error::new(Kind::Unsupported("CO-RE relocation kind"))
                .ctx(Ctx::Value(What::Id, u64::from(relo.kind)))
                .ctx(at)
        })?;
        let lt = local.type_by_id(relo.type_id).map_err(|e| e.ctx(at))?;
        let name = lt.name().map_err(|e| e.ctx(at))?;
        let named = |e: Error<'static>| -> Error<'l> {
            if name.is_empty() {
                e.ctx(Ctx::BtfType(relo.type_id)).ctx(at)
            } else {
                e.ctx(Ctx::TypeName(name)).ctx(at)
            }
        };
        if relo.type_id == 0 && kind != CoreReloKind::TypeIdLocal {
            return Err(named(Error::malformed(
                "CO-RE relocation of type id 0 (void)",
            )));
        }
        self.resolve_inner(local, relo, kind, name).map_err(named)
    }

    fn resolve_inner<L: Types + ?Sized>(
        &mut self,
        local: &L,
        relo: &CoreRelo,
        kind: CoreReloKind,
        name: &str,
    ) -> Result<'static, CoreOutcome> {
        if let Some(out) = self.remembered(relo) {
            return Ok(out);
        }
        let (vmlinux, modules) = (self.vmlinux, self.modules);
        let lkind = local.type_by_id(relo.type_id)?.kind();
        {
            let Some(ls) = self.specs.first_mut() else {
                return Err(Error::new(Kind::NoMemory));
            };
            spec::parse(local, relo, kind, ls)?;
        }

        if kind == CoreReloKind::TypeIdLocal {
            // The compiler's own id, which linking may have renumbered: not validated.
            let mut o = CoreOutcome::new(kind);
            o.orig_val = u64::from(relo.type_id);
            o.new_val = o.orig_val;
            o.validate = false;
            return Ok(o);
        }
        if name.is_empty() {
            return Err(Error::new(Kind::Unsupported(
                "CO-RE relocation against an anonymous type",
            )));
        }

        let slot = self.slot(relo.type_id)?;
        let alive = self.cache.get(slot).map(|s| s.alive).unwrap_or(0);
        let [ls, cs] = &mut *self.specs else {
            return Err(Error::new(Kind::NoMemory));
        };

        let mut first: Option<(CoreOutcome, u32)> = None;
        let mut matched_mask: u64 = 0;
        let mut matched: u32 = 0;
        let mut k: u32 = 0;
        let mut visit = |target_no: u32, t: &dyn Types, id: u32| -> Result<'static, ()> {
            if k as usize >= MAX_CORE_CANDIDATES {
                return Err(Error::limit(
                    "CO-RE candidates for one local type",
                    k.saturating_add(1),
                    MAX_CORE_CANDIDATES,
                ));
            }
            let this = k;
            k = k.saturating_add(1);
            if !is_alive(alive, this) {
                return Ok(());
            }
            if !spec::matches(local, ls, t, id, cs)? {
                return Ok(());
            }
            let mut res = calc::relo(kind, local, ls, Some((cs, t)))?;
            match first {
                None => {
                    res.target = Some(target_no);
                    res.target_type_id = id;
                    first = Some((res, cs.bit_offset));
                }
                Some((f, bit_offset)) => {
                    if cs.bit_offset != bit_offset {
                        return Err(Error::new(Kind::Ambiguous(
                            "CO-RE field offset: candidates disagree",
                        ))
                        .ctx(Ctx::Value(What::Offset, u64::from(cs.bit_offset / 8))));
                    }
                    if res.poison != f.poison || res.new_val != f.new_val {
                        return Err(Error::new(Kind::Ambiguous(
                            "CO-RE relocation value: candidates disagree",
                        ))
                        .ctx(Ctx::Value(What::Id, u64::from(id))));
                    }
                }
            }
            matched_mask |= 1u64.checked_shl(this).unwrap_or(0);
            matched = matched.saturating_add(1);
            Ok(())
        };

        // vmlinux first; the modules only when vmlinux has no candidate at all.
        let mut in_vmlinux = false;
        for id in vmlinux.index.candidates(vmlinux.types, lkind, name) {
            in_vmlinux = true;
            visit(0, vmlinux.types, id?)?;
        }
        let count = match modules {
            _ if in_vmlinux => 0,
            Modules::Listed(list) => list.len(),
            Modules::Lazy(lazy) => lazy.count()?,
        };
        for i in 0..count {
            let no = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
            let lent;
            let (types, index): (&dyn Types, _) = match modules {
                Modules::Listed(list) => {
                    let t = list.get(i).ok_or(Error::malformed("module index"))?;
                    (t.types, t.index)
                }
                Modules::Lazy(lazy) => {
                    lent = lazy.module(i)?;
                    (&lent.types, lent.index)
                }
            };
            for id in index.candidates(types, lkind, name) {
                visit(no, types, id?)?;
            }
        }

        let (out, alive) = match first {
            Some((mut res, _)) => {
                res.matched = matched;
                if let Some(s) = self.cache.get_mut(slot) {
                    s.alive = matched_mask;
                }
                (res, matched_mask)
            }
            None => (calc::relo(kind, local, ls, None)?, alive),
        };
        self.remember(relo, alive, out);
        Ok(out)
    }

    /// Relocation `relo` of `local` in libbpf's spec format, for logs:
    /// `<byte_off> [5] struct task_struct.pid (0:12 @ offset 2352)`.
    pub fn describe<'s, L: Types + ?Sized>(
        &'s mut self,
        local: &'s L,
        relo: &CoreRelo,
    ) -> SpecText<'s, L> {
        let kind = CoreReloKind::from_u32(relo.kind).unwrap_or(CoreReloKind::FieldByteOffset);
        let parsed = match self.specs.first_mut() {
            Some(ls) => spec::parse(local, relo, kind, ls).is_ok(),
            None => false,
        };
        let failed = (!parsed).then(|| local.name_at(relo.access_str_off).unwrap_or("?"));
        static EMPTY: Spec = Spec::EMPTY;
        SpecText {
            types: local,
            spec: self.specs.first().unwrap_or(&EMPTY),
            kind,
            root: relo.type_id,
            failed,
        }
    }
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The object model: what a BPF ELF object declares, with libbpf's semantics.
//!
//! [`Object::parse`] turns a validated [`Elf`] into programs, maps, relocations and
//! initial map slots, in the order libbpf (Linux 6.12's `tools/lib/bpf`) would open
//! them, so that the plan loads the same things the same way:
//!
//! - every `STT_FUNC` symbol of an executable section is a program; those in `.text` are
//!   subprograms, the others entry points whose section name is a libbpf `SEC()`;
//!   programs are ordered by section index, then offset;
//! - `.maps` holds BTF-defined maps; `.data*`, `.rodata*` and `.bss*` become one array
//!   map each, named as libbpf names them;
//! - undefined global symbols are externs (`.kconfig`, `.ksyms`: see [`externs`]),
//!   collected and laid out, with their BTF fixups, before the maps (the `.kconfig`
//!   map follows the global data maps, as in libbpf);
//! - relocations of executable sections are classified once (map, map value, call,
//!   subprogram address, extern) and kept per program, sorted by instruction;
//! - `.rel.maps` initialises prog-array and map-in-map slots (`.values`);
//! - each entry program's exception callback (`exception_callback:` BTF tags) is
//!   decided once for all programs ([`exc_cb`]), for the plan to append.
//!
//! The parse comes in two parts, [`Object::parse_first`] (everything the object's BTF
//! depends on: after it the BTF is final) and [`Object::parse_rest`] (maps,
//! relocations, slots, struct_ops function pointers, which only read the BTF), so that
//! a loader can load the BTF while the rest is parsed; [`Object::parse`] makes both.
//!
//! # Invariants
//!
//! After `parse` (or both parts): programs are sorted by `(sec_idx, insn_off)` and do
//! not overlap; every program's code is a whole number of instructions inside its
//! section; each program's relocations are sorted by instruction, unique, and point
//! inside the program; every map index held by a relocation or slot is below
//! `maps.len()`; every extern index held by a relocation is below `externs.len()`.

pub mod exc_cb;
pub mod externs;
mod maps;

pub use exc_cb::ExcCb;
pub use externs::{Extern, ExternKind, Kcfg, KcfgType, Ksym};

pub(crate) use maps::kname;
pub use maps::{MapDef, MapKind, PIN_BY_NAME, PIN_NONE};

/// Size of an instruction, for offset arithmetic.
const ISZ: u64 = 8;
/// [`ISZ`], signed.
const ISZ_I: i64 = 8;

use crate::btf::{self, Btf, BtfExt, BtfKind};
use crate::bytes;
use crate::elf::{self, Elf, Section, SectionNames, Symbol};
use crate::error::{Ctx, Error, Kind, Result, ResultExt};
use crate::insn::{Insn, INSN_SIZE};
use crate::limits;
use crate::mem::Alloc;
use crate::section::{self, ProgSpec};
use crate::uapi;

/// Longest license string kept (libbpf keeps 63 bytes and a NUL).
pub const LICENSE_LEN: usize = 64;

/// One function of the object: an entry program or a `.text` subprogram.
#[derive(Clone, Copy, Debug, Default)]
pub struct Prog<'a> {
    /// Function (symbol) name.
    pub name: &'a str,
    /// Section name without libbpf's leading `?`.
    pub sec_name: &'a str,
    /// Section index.
    pub sec_idx: u32,
    /// First instruction within the section.
    pub insn_off: u32,
    /// Number of instructions.
    pub insn_cnt: u32,
    /// The instructions, as bytes of the file.
    pub code: &'a [u8],
    /// An entry program (outside `.text`); `false` for `.text` subprograms.
    pub entry: bool,
    /// What the section name says; `None` for `.text` subprograms and for entry
    /// programs whose section name libbpf does not know (as libbpf, that is an error
    /// only if the program is loaded: [`section::classify`] then says why).
    pub spec: Option<ProgSpec<'a>>,
    /// Load this program (false for `SEC("?...")`).
    pub autoload: bool,
    /// Global or weak symbol.
    pub global: bool,
    /// Global with hidden or internal visibility: libbpf marks its BTF FUNC static so the
    /// verifier checks it in the caller's context.
    pub hidden: bool,
    /// Index of the first relocation in [`Object::relos`].
    pub relo_start: u32,
    /// Number of relocations.
    pub relo_cnt: u32,
}

impl Prog<'_> {
    /// A `.text` subprogram (not loadable by itself).
    pub fn is_subprog(&self) -> bool {
        !self.entry
    }

    /// Instruction `i` of this program.
    #[inline]
    pub fn insn(&self, i: u32) -> Option<Insn> {
        Insn::read(self.code, usize::try_from(i).ok()?.checked_mul(INSN_SIZE)?)
    }

    /// The opcode of instruction `i`, read alone (for walks that stop at few).
    #[inline]
    pub fn opcode(&self, i: u32) -> Option<u8> {
        let at = usize::try_from(i).ok()?.checked_mul(INSN_SIZE)?;
        self.code.get(at).copied()
    }
}

/// What a relocation does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelocKind {
    /// Placeholder for unfilled buffer slots; never present after parsing.
    #[default]
    None,
    /// `ld_imm64` of a map (`BPF_PSEUDO_MAP_FD`).
    Map {
        /// Map index.
        map: u32,
    },
    /// `ld_imm64` of an address in a global data map (`BPF_PSEUDO_MAP_VALUE`).
    Data {
        /// Map index.
        map: u32,
        /// Symbol value, added to the instruction's own offset.
        sym_off: u64,
    },
    /// `call` of a `.text` subprogram.
    Call {
        /// Symbol value (0 for section symbols, whose target is in `imm`).
        sym_off: u64,
    },
    /// `ld_imm64` of a subprogram address (`BPF_PSEUDO_FUNC`, callbacks).
    SubprogAddr {
        /// Symbol value.
        sym_off: u64,
    },
    /// A reference to an extern (`__kconfig`, `__ksym`, kfunc).
    Extern {
        /// Index of the extern in [`Object::externs`].
        ext: u32,
        /// The instruction is a call (kfunc), not an `ld_imm64`.
        call: bool,
    },
}

/// One relocation of a program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reloc {
    /// Instruction index within the program.
    pub insn: u32,
    /// What to do.
    pub kind: RelocKind,
    /// Record number within its relocation section (for messages).
    pub index: u32,
}

/// What a `.values` slot points at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlotTarget {
    /// Unfilled.
    #[default]
    None,
    /// A map (map-in-map).
    Map(u32),
    /// An entry program (prog array).
    Prog(u32),
}

/// An initial slot of a map-in-map or prog array, from `.values`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// The outer map.
    pub map: u32,
    /// Slot (key) index.
    pub index: u32,
    /// What goes in.
    pub target: SlotTarget,
}

/// Indices of the elements of `items` that `keep` selects, sorted by (name, index), so
/// that lookups by name cost O(log n) (see [`find_by_name`]).
pub(crate) fn index_by_name<'a, A: Alloc, T>(
    items: &[T],
    keep: impl Fn(&T) -> bool,
    name: impl Fn(&T) -> &'a str,
    alloc: &mut A,
) -> Result<'static, A::Buf<u32>> {
    let n = items.iter().filter(|t| keep(t)).count();
    let mut idx = alloc.alloc::<u32>(n)?;
    let kept = (0u32..).zip(items.iter()).filter(|(_, t)| keep(t));
    for (slot, (i, _)) in idx.iter_mut().zip(kept) {
        *slot = i;
    }
    let name_of = |i: u32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .map_or("", &name)
    };
    crate::util::sort_by_key(&mut idx, |&i| (name_of(i), i));
    Ok(idx)
}

/// The first element (lowest index) called `want` in an [`index_by_name`] index.
pub(crate) fn find_by_name<'a, T>(
    idx: &[u32],
    items: &[T],
    name: impl Fn(&T) -> &'a str,
    want: &str,
) -> Option<u32> {
    let name_of = |i: u32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .map_or("", &name)
    };
    let k = idx.partition_point(|&i| name_of(i) < want);
    idx.get(k).copied().filter(|&i| name_of(i) == want)
}

/// A function pointer of a struct_ops map bound to a program (`.rel.struct_ops`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StOpsFunc {
    /// The struct_ops map.
    pub map: u32,
    /// Member index in the map's local struct type.
    pub member: u32,
    /// The program (a `SEC("struct_ops...")` entry program).
    pub prog: u32,
}

/// The object's BTF: a caller-allocated copy, fixed up in place, with its type index.
pub type ObjBtf<A> = Btf<<A as Alloc>::Buf<u8>, <A as Alloc>::Buf<u32>>;

/// A parsed BPF object.
pub struct Object<'a, A: Alloc> {
    /// The ELF container.
    pub elf: Elf<'a, A>,
    /// Its sections by name.
    pub sec_names: SectionNames<A::Buf<u32>>,
    /// Object name (the file name up to its first `.`), used in internal map names.
    pub name: &'a str,
    /// License, NUL-terminated.
    pub license: [u8; LICENSE_LEN],
    /// Contents of the `version` section, if any (otherwise the plan sends the running
    /// kernel's version, as libbpf does).
    pub kern_version: Option<u32>,
    /// BTF, fixed up for loading, if the object has `.BTF`.
    pub btf: Option<ObjBtf<A>>,
    /// `.BTF.ext`, if present.
    pub btf_ext: Option<BtfExt<'a>>,
    /// Functions, sorted by section then offset.
    pub progs: A::Buf<Prog<'a>>,
    /// Maps: BTF-defined (in `.maps` order), then global data, then kconfig, then
    /// struct_ops; inner map templates follow their outer map.
    pub maps: A::Buf<maps::Map<'a>>,
    /// Externs, in libbpf's order (see [`externs`]).
    pub externs: A::Buf<Extern<'a>>,
    /// Program relocations, grouped by program.
    pub relos: A::Buf<Reloc>,
    /// `.values` initial slots.
    pub slots: A::Buf<Slot>,
    /// Function pointers of struct_ops maps.
    pub st_ops_funcs: A::Buf<StOpsFunc>,
    /// Per program, its exception callback ([`exc_cb`]).
    pub exc_cbs: A::Buf<ExcCb<'a>>,
    /// Index of `.text`, if it holds code.
    pub text_shndx: Option<u32>,
    /// Index of `.maps`, if present.
    pub maps_shndx: Option<u32>,
    /// BTF id of the `.maps` DATASEC.
    pub maps_datasec: u32,
    /// Index of `.addr_space.1` (global `__arena` variables), if present: its bytes are
    /// the initial data of the arena map ([`Object::arena_map`]).
    pub arena_shndx: Option<u32>,
    /// The object's `BPF_MAP_TYPE_ARENA` map (there is at most one, as in libbpf).
    pub arena_map: Option<u32>,
    /// The string section of `.BTF` as in the file: names borrowed from it live as long
    /// as the file bytes (the fixed-up copy only changes sizes, offsets and linkage).
    pub btf_strings: RawStrings<'a>,
    /// `.BTF` as in the file, when it is still to be checked
    /// ([`ParseOptions::defer_btf_checks`]).
    deferred_btf: Option<&'a [u8]>,
    /// Both parts of the parse made: [`Object::parse_rest`] has run.
    parsed: bool,
}

/// A `.BTF` string section in the file's bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawStrings<'a> {
    strs: &'a [u8],
}

impl<'a> RawStrings<'a> {
    /// The string at `off`.
    pub fn get(&self, off: u32) -> Result<'a, &'a str> {
        bytes::cstr(
            self.strs,
            usize::try_from(off).unwrap_or(usize::MAX),
            limits::MAX_NAME_LEN,
        )
        .ok_or(Error::malformed("BTF string offset out of range"))
    }
}

pub use maps::Map;

/// What [`Object::parse_with`] may leave for later.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Parse `.BTF` checking only its structure (header, strings, each record's kind and
    /// length: what walking the types needs), not what its records say (ids, sizes,
    /// members, names), which is most of the parse of an object whose BTF holds
    /// `vmlinux.h`'s types (the kernel's `BTF_LOAD` checks it all again). What follows
    /// reads the types as it reads the kernel's BTF, bounds-checked where read;
    /// [`Object::check_deferred_btf`] then makes the full check of the section, and
    /// nothing may be handed out before it passed, and its fault is the error to report
    /// whatever else failed. A parse that fails anyway reports what [`Object::parse`]
    /// would.
    pub defer_btf_checks: bool,
}

impl<'a, A: Alloc> Object<'a, A> {
    /// Parse `elf` as a libbpf-style BPF object named `name`.
    pub fn parse(elf: Elf<'a, A>, name: &'a str, alloc: &mut A) -> Result<'a, Self> {
        Self::parse_with(elf, name, &ParseOptions::default(), alloc)
    }

    /// [`Object::parse`] with `opts`.
    #[inline(never)]
    pub fn parse_with(
        elf: Elf<'a, A>,
        name: &'a str,
        opts: &ParseOptions,
        alloc: &mut A,
    ) -> Result<'a, Self> {
        let mut obj = Self::parse_first(elf, name, opts, alloc)?;
        obj.parse_rest(alloc)?;
        Ok(obj)
    }

    /// The first part of [`Object::parse_with`]: everything the object's BTF depends
    /// on, which is then final ([`ObjBtf::data`] is what `BPF_BTF_LOAD` takes): the
    /// ELF's sections and symbols, `.BTF` (copied, its DATASECs and externs fixed up),
    /// `.BTF.ext`, the externs, the programs, their exception callbacks and the linkage
    /// of hidden subprograms. Maps, relocations, `.values` slots and struct_ops
    /// function pointers are left to [`Object::parse_rest`], which may run on another
    /// CPU while the BTF is loaded; nothing else may use the object before it returned
    /// (a plan refuses it). A failure reports what a full parse would.
    #[inline(never)]
    pub fn parse_first(
        elf: Elf<'a, A>,
        name: &'a str,
        opts: &ParseOptions,
        alloc: &mut A,
    ) -> Result<'a, Self> {
        // `.BTF` once it parsed with its checks deferred.
        let mut deferred = None;
        Self::parse_deferring(elf, name, opts.defer_btf_checks, &mut deferred, alloc)
            .map_err(|e| first_fault(e, deferred, alloc))
    }

    /// The rest of the parse after [`Object::parse_first`]: the maps, the programs'
    /// relocations, `.values` slots and struct_ops function pointers. Leaves the BTF as
    /// it is. Nothing to do if the parse is complete. A failure reports what a full
    /// parse would (a fault of the deferred BTF check first).
    #[inline(never)]
    pub fn parse_rest(&mut self, alloc: &mut A) -> Result<'a, ()> {
        if self.parsed {
            return Ok(());
        }
        self.collect_rest(alloc)
            .map_err(|e| first_fault(e, self.deferred_btf, alloc))?;
        self.parsed = true;
        Ok(())
    }

    /// Whether the parse is complete ([`Object::parse_rest`] has run).
    pub fn is_parsed(&self) -> bool {
        self.parsed
    }

    /// The full check of `.BTF` that [`ParseOptions::defer_btf_checks`] left for later,
    /// of the section as it is in the file, with the error [`Object::parse`] reports.
    /// Needs memory for the type offsets (4 bytes a type). Nothing to do if the check
    /// was not deferred.
    pub fn check_deferred_btf(&self, alloc: &mut A) -> Result<'a, ()> {
        match self.deferred_btf {
            Some(data) => check_btf(data, alloc),
            None => Ok(()),
        }
    }

    // Not inlined: parse_with's frame stays small on the loading thread's deepest chain
    // (scripts/stack-depth).
    #[inline(never)]
    fn parse_deferring(
        elf: Elf<'a, A>,
        name: &'a str,
        defer_btf_checks: bool,
        deferred: &mut Option<&'a [u8]>,
        alloc: &mut A,
    ) -> Result<'a, Self> {
        let Scan {
            license,
            kern_version,
            btf_sec,
            ext_sec,
            text_shndx,
            maps_shndx,
            arena_sec,
        } = scan_sections(&elf)?;

        let in_file = match btf_sec {
            Some(s) => Some(load_btf(&s, defer_btf_checks, alloc).ctx(Ctx::Section(".BTF"))?),
            None => None,
        };
        let deferred_btf = btf_sec.filter(|_| defer_btf_checks).map(|s| s.data);
        *deferred = deferred_btf;
        // The file's, which outlive the copy (whose string section may grow).
        let btf_strings = match (&in_file, btf_sec) {
            (Some(b), Some(s)) => RawStrings {
                strs: s.data.get(b.header().str_range()).unwrap_or_default(),
            },
            _ => RawStrings::default(),
        };
        let (mut btf, dummy) = match in_file {
            Some(b) => {
                let (b, dummy) = externs::own_btf(b, alloc)?;
                (Some(b), dummy)
            }
            None => (None, None),
        };
        let externs = externs::collect(&elf, &mut btf, dummy, btf_strings, alloc)?;
        let sec_names = elf.section_names(alloc)?;
        if let Some(b) = btf.as_mut() {
            let vars = index_global_vars(&elf, alloc)?;
            b.fixup_datasecs(&mut ElfFacts {
                elf: &elf,
                sec_names: &sec_names,
                vars: &vars,
            })
            .ctx(Ctx::Section(".BTF"))?;
        }
        let btf_ext = match ext_sec {
            Some(s) => Some(BtfExt::parse(s.data).ctx(Ctx::Section(".BTF.ext"))?),
            None => None,
        };

        let progs = collect_progs(&elf, text_shndx, alloc)?;
        let mut obj = Object {
            elf,
            sec_names,
            name,
            license,
            kern_version,
            btf,
            btf_ext,
            progs,
            maps: alloc.alloc(0)?,
            externs,
            relos: alloc.alloc(0)?,
            slots: alloc.alloc(0)?,
            st_ops_funcs: alloc.alloc(0)?,
            exc_cbs: alloc.alloc(0)?,
            text_shndx,
            maps_shndx,
            maps_datasec: 0,
            arena_shndx: arena_sec.map(|s| s.index),
            arena_map: None,
            btf_strings,
            deferred_btf,
            parsed: false,
        };
        // Before hidden subprograms turn static: libbpf relocates with their BTF global.
        obj.exc_cbs = exc_cb::collect(&obj, alloc)?;
        // The last change to the BTF (the maps read it, and no FUNC's linkage).
        obj.mark_hidden_funcs_static(alloc)?;
        Ok(obj)
    }

    /// The parse's second part ([`Object::parse_rest`]).
    #[inline(never)]
    fn collect_rest(&mut self, alloc: &mut A) -> Result<'a, ()> {
        maps::collect(self, alloc)?;
        // Read once already by the first part's scan of the sections.
        let arena_sec = self.arena_shndx.map(|i| self.elf.section(i)).transpose()?;
        maps::attach_arena_data(self, arena_sec)?;
        collect_relos(self, alloc)?;
        maps::collect_slots(self, alloc)?;
        maps::collect_st_ops_funcs(self, alloc)
    }

    /// Turn auto-loading of entry program `name` on or off (libbpf's
    /// `bpf_program__set_autoload`); `false` if there is no such program.
    pub fn set_autoload(&mut self, name: &str, autoload: bool) -> bool {
        match self
            .progs
            .iter_mut()
            .find(|p| !p.is_subprog() && p.name == name)
        {
            Some(p) => {
                p.autoload = autoload;
                true
            }
            None => false,
        }
    }

    /// The program with `name` that is an entry point.
    pub fn prog_by_name(&self, name: &str) -> Option<(u32, &Prog<'a>)> {
        self.progs
            .iter()
            .enumerate()
            .find(|(_, p)| !p.is_subprog() && p.name == name)
            .and_then(|(i, p)| Some((u32::try_from(i).ok()?, p)))
    }

    /// Relocations of program `p`.
    pub fn prog_relos(&self, p: &Prog<'_>) -> &[Reloc] {
        let start = usize::try_from(p.relo_start).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(p.relo_cnt).unwrap_or(0));
        self.relos.get(start..end).unwrap_or_default()
    }

    /// The relocation of `p`'s instruction `insn` (relative to `p`), if it has one.
    pub fn prog_relo_at(&self, p: &Prog<'_>, insn: u32) -> Option<&Reloc> {
        let relos = self.prog_relos(p);
        let k = relos.binary_search_by_key(&insn, |r| r.insn).ok()?;
        relos.get(k)
    }

    /// Index of the program of section `sec_idx` that contains instruction `insn`.
    pub fn prog_at(&self, sec_idx: u32, insn: u64) -> Option<u32> {
        // Programs are sorted by (section, offset): find the last one starting at or
        // before `insn`, then check it covers it.
        let i = self
            .progs
            .partition_point(|p| (p.sec_idx, u64::from(p.insn_off)) <= (sec_idx, insn));
        let i = i.checked_sub(1)?;
        let p = self.progs.get(i)?;
        let end = u64::from(p.insn_off).checked_add(u64::from(p.insn_cnt))?;
        if p.sec_idx == sec_idx && insn >= u64::from(p.insn_off) && insn < end {
            u32::try_from(i).ok()
        } else {
            None
        }
    }

    /// libbpf gives hidden (and internal) global subprograms static BTF linkage, so the
    /// verifier checks them in their caller's context instead of as global functions.
    #[inline(never)]
    fn mark_hidden_funcs_static(&mut self, alloc: &mut A) -> Result<'a, ()> {
        let Some(btf) = self.btf.as_mut() else {
            return Ok(());
        };
        let hidden = |p: &&Prog<'a>| p.hidden && p.is_subprog();
        let n = self.progs.iter().filter(hidden).count();
        if n == 0 {
            return Ok(());
        }
        // The names, sorted, each with whether its (first) global FUNC was found: one
        // pass over the types instead of one per function.
        let mut names = alloc.alloc::<(&'a str, bool)>(n)?;
        for (slot, p) in names.iter_mut().zip(self.progs.iter().filter(hidden)) {
            *slot = (p.name, false);
        }
        crate::util::sort_by_key(&mut names, |(name, _)| *name);
        for id in 1..btf.type_count() {
            if btf.kind_of(id).is_some_and(|k| k != BtfKind::Func) {
                continue;
            }
            let t = btf.type_by_id(id)?;
            if t.kind() != BtfKind::Func || t.func()?.linkage != btf::BTF_FUNC_GLOBAL {
                continue;
            }
            let name = t.name()?;
            let k = names.partition_point(|(n, _)| *n < name);
            match names.get_mut(k) {
                Some((n, done)) if *n == name && !*done => *done = true,
                _ => continue,
            }
            btf.set_func_linkage(id, btf::BTF_FUNC_STATIC)?;
        }
        Ok(())
    }
}

/// What the section names tell before anything else is parsed.
struct Scan<'a> {
    license: [u8; LICENSE_LEN],
    kern_version: Option<u32>,
    btf_sec: Option<Section<'a>>,
    ext_sec: Option<Section<'a>>,
    text_shndx: Option<u32>,
    maps_shndx: Option<u32>,
    arena_sec: Option<Section<'a>>,
}

/// Find the sections with a special meaning (license, version, BTF, .text, .maps).
#[inline(never)]
fn scan_sections<'a, A: Alloc>(elf: &Elf<'a, A>) -> Result<'a, Scan<'a>> {
    let mut license = [0u8; LICENSE_LEN];
    let mut kern_version = None;
    let mut btf_sec = None;
    let mut ext_sec = None;
    let mut text_shndx = None;
    let mut maps_shndx = None;
    let mut arena_sec = None;
    for s in elf.sections() {
        let s = s?;
        let c = Ctx::Section(s.name);
        // libbpf's `ignore_elf_section` looks at the type before any name.
        if matches!(s.kind(), elf::SHT_STRTAB | elf::SHT_LLVM_ADDRSIG) {
            continue;
        }
        match s.name {
            "license" => {
                // libbpf refuses a `license` section without bytes (empty or
                // SHT_NOBITS: libelf gives it no data), rather than load as "".
                if s.data.is_empty() {
                    return Err(Error::malformed("license section has no contents").ctx(c));
                }
                // libbpf copies up to the first NUL, at most 63 bytes, and ends the
                // copy with a NUL: a later `license` section replaces an earlier one.
                let n = s.data.iter().position(|&b| b == 0).unwrap_or(s.data.len());
                let n = n.min(LICENSE_LEN.saturating_sub(1));
                let src = s.data.get(..n).unwrap_or_default();
                license = [0u8; LICENSE_LEN];
                if let Some(d) = license.get_mut(..n) {
                    crate::util::copy(d, src);
                }
            }
            "version" => {
                if s.data.len() != 4 {
                    return Err(Error::malformed("version section is not 4 bytes").ctx(c));
                }
                kern_version = bytes::u32_at(s.data, 0);
            }
            "maps" => {
                return Err(Error::new(Kind::Unsupported(
                    "legacy map definitions in 'maps' (use BTF-defined maps in .maps)",
                ))
                .ctx(c))
            }
            ".maps" => maps_shndx = Some(s.index),
            // Each one libbpf meets is checked; the last one is used.
            ".BTF" if s.kind() != elf::SHT_PROGBITS => {
                return Err(Error::malformed(".BTF is not PROGBITS").ctx(c));
            }
            ".BTF.ext" if s.kind() != elf::SHT_PROGBITS => {
                return Err(Error::malformed(".BTF.ext is not PROGBITS").ctx(c));
            }
            ".BTF" => btf_sec = Some(s),
            ".BTF.ext" => ext_sec = Some(s),
            ".text" if s.is_exec() && !s.data.is_empty() => text_shndx = Some(s.index),
            // libbpf's arena data: a non-empty, non-executable PROGBITS section; any
            // other `.addr_space.1` is skipped as an unknown section.
            ".addr_space.1"
                if s.kind() == elf::SHT_PROGBITS && !s.data.is_empty() && !s.is_exec() =>
            {
                arena_sec = Some(s)
            }
            _ => {}
        }
    }
    // libbpf reads .BTF.ext only with a .BTF ("Ignore ELF section .BTF.ext because
    // its depending ELF section .BTF is not found").
    if btf_sec.is_none() {
        ext_sec = None;
    }
    Ok(Scan {
        license,
        kern_version,
        btf_sec,
        ext_sec,
        text_shndx,
        maps_shndx,
        arena_sec,
    })
}

/// Index the object's BTF where it lies in the file ([`externs::own_btf`] copies it
/// where the fixups can write).
#[inline(never)]
fn load_btf<'a, A: Alloc>(
    s: &Section<'a>,
    defer_checks: bool,
    alloc: &mut A,
) -> Result<'a, Btf<&'a [u8], A::Buf<u32>>> {
    if s.data.len() > limits::MAX_BTF_SIZE {
        return Err(Error::limit(
            "BTF bytes",
            s.data.len(),
            limits::MAX_BTF_SIZE,
        ));
    }
    let n = btf::count_types(s.data)?;
    index_btf(s.data, n, !defer_checks, alloc)
}

/// Index `blob`, which holds `n` types ([`btf::count_types`]), with every check of
/// [`Btf::parse`], or (`full` false) its structure's only.
fn index_btf<'a, D: core::ops::Deref<Target = [u8]>, A: Alloc>(
    blob: D,
    n: usize,
    full: bool,
    alloc: &mut A,
) -> Result<'a, Btf<D, A::Buf<u32>>> {
    let offsets = alloc.alloc::<u32>(n.checked_add(1).ok_or(Error::new(Kind::NoMemory))?)?;
    if full {
        Btf::parse(blob, offsets)
    } else {
        Btf::parse_deferred(blob, offsets)
    }
}

/// `e`, or the fault of `.BTF` as in the file (`deferred`, if its check was deferred)
/// that a full parse reports before it.
#[inline(never)]
fn first_fault<'a, A: Alloc>(e: Error<'a>, deferred: Option<&'a [u8]>, alloc: &mut A) -> Error<'a> {
    match deferred {
        // Past `.BTF`, the full parse would have stopped at a fault of its own.
        Some(data) => check_btf(data, alloc).err().unwrap_or(e),
        None => e,
    }
}

/// [`Btf::parse`]'s checks of `.BTF` as it is in the file (see
/// [`Object::check_deferred_btf`]).
#[inline(never)]
fn check_btf<'a, A: Alloc>(data: &'a [u8], alloc: &mut A) -> Result<'a, ()> {
    btf::count_types(data)
        .and_then(|n| index_btf(data, n, true, alloc))
        .map(|_| ())
        .ctx(Ctx::Section(".BTF"))
}

/// A global or weak `STT_OBJECT` symbol, for the DATASEC fixup.
#[derive(Clone, Copy, Debug, Default)]
struct VarSym<'a> {
    name: &'a str,
    index: u32,
    var: btf::VarSymbol,
}

/// The global and weak `STT_OBJECT` symbols sorted by (name, symbol index), so each
/// DATASEC variable finds the first one of its name in O(log symbols).
fn index_global_vars<'a, A: Alloc>(
    elf: &Elf<'a, A>,
    alloc: &mut A,
) -> Result<'a, A::Buf<VarSym<'a>>> {
    let is_var = |s: &Symbol<'a>| {
        s.kind() == elf::STT_OBJECT && (s.bind() == elf::STB_GLOBAL || s.bind() == elf::STB_WEAK)
    };
    let n = elf.symbols().flatten().filter(is_var).count();
    let mut vars = alloc.alloc::<VarSym<'a>>(n)?;
    for (slot, s) in vars.iter_mut().zip(elf.symbols().flatten().filter(is_var)) {
        *slot = VarSym {
            name: s.name,
            index: s.index,
            var: btf::VarSymbol {
                value: s.sym.st_value,
                hidden: matches!(s.visibility(), elf::STV_HIDDEN | elf::STV_INTERNAL),
            },
        };
    }
    crate::util::sort_by_key(&mut vars, |v| (v.name, v.index));
    Ok(vars)
}

/// What the BTF DATASEC fixup needs to know about the ELF file.
struct ElfFacts<'e, 'a, A: Alloc, B> {
    elf: &'e Elf<'a, A>,
    sec_names: &'e SectionNames<B>,
    vars: &'e [VarSym<'a>],
}

impl<A: Alloc, B: core::ops::Deref<Target = [u32]>> btf::DatasecElf for ElfFacts<'_, '_, A, B> {
    fn section_size(&mut self, name: &str) -> Option<u64> {
        self.sec_names.find(self.elf, name).map(|s| s.size())
    }

    fn global_var(&mut self, name: &str) -> Option<btf::VarSymbol> {
        let k = self.vars.partition_point(|v| v.name < name);
        self.vars.get(k).filter(|v| v.name == name).map(|v| v.var)
    }
}

/// Every `STT_FUNC` of an executable section, sorted by (section, offset).
#[inline(never)]
fn collect_progs<'a, A: Alloc>(
    elf: &Elf<'a, A>,
    text: Option<u32>,
    alloc: &mut A,
) -> Result<'a, A::Buf<Prog<'a>>> {
    let is_prog_sym = |s: &Symbol<'a>| -> Result<'a, Option<Section<'a>>> {
        if s.kind() != elf::STT_FUNC || s.is_undefined() || s.shndx() >= elf::SHN_LORESERVE {
            return Ok(None);
        }
        let sec = elf.section(s.shndx())?;
        Ok((sec.is_exec() && !sec.data.is_empty()).then_some(sec))
    };

    let mut count = 0usize;
    for s in elf.symbols() {
        if is_prog_sym(&s?)?.is_some() {
            count = count.saturating_add(1);
        }
    }
    let max = limits::MAX_PROGRAMS.saturating_add(limits::MAX_SUBPROGS);
    if count > max {
        return Err(Error::limit("functions", count, max));
    }
    let mut progs = alloc.alloc::<Prog<'a>>(count)?;
    let mut n = 0usize;
    let mut entries = 0usize;
    for s in elf.symbols() {
        let s = s?;
        let Some(sec) = is_prog_sym(&s)? else {
            continue;
        };
        let c = Ctx::Section(sec.name);
        let (off, size) = (s.sym.st_value, s.sym.st_size);
        if size == 0 || size % ISZ != 0 || off % ISZ != 0 {
            return Err(
                Error::malformed("corrupted program: size or offset not a multiple of 8")
                    .ctx(Ctx::Prog(s.name))
                    .ctx(c),
            );
        }
        let code = bytes::slice(sec.data, off, size).ok_or_else(|| {
            Error::malformed("program crosses its section's end")
                .ctx(Ctx::Prog(s.name))
                .ctx(c)
        })?;
        let is_text = Some(sec.index) == text;
        let global = s.bind() != elf::STB_LOCAL;
        let (spec, autoload, sec_name) = if is_text {
            (None, true, sec.name)
        } else {
            if !global {
                return Err(Error::new(Kind::Unsupported(
                    "static entry program (libbpf rejects them too: make it global)",
                ))
                .ctx(Ctx::Prog(s.name))
                .ctx(c));
            }
            let (autoload, sec_name) = section::split_autoload(sec.name);
            let spec = section::classify(sec_name).ok();
            entries = entries.saturating_add(1);
            (spec, autoload, sec_name)
        };
        let vis = s.visibility();
        let slot = progs
            .get_mut(n)
            .ok_or(Error::malformed("symbol table changed"))?;
        *slot = Prog {
            name: s.name,
            sec_name,
            sec_idx: sec.index,
            insn_off: bytes::u32_of(bytes::usize_of(off / ISZ)?)?,
            insn_cnt: bytes::u32_of(bytes::usize_of(size / ISZ)?)?,
            code,
            entry: !is_text,
            spec,
            autoload,
            global,
            hidden: global && (vis == elf::STV_HIDDEN || vis == elf::STV_INTERNAL),
            relo_start: 0,
            relo_cnt: 0,
        };
        n = n.saturating_add(1);
    }
    if entries > limits::MAX_PROGRAMS {
        return Err(Error::limit("programs", entries, limits::MAX_PROGRAMS));
    }
    let subprogs = n.saturating_sub(entries);
    if subprogs > limits::MAX_SUBPROGS {
        return Err(Error::limit("subprograms", subprogs, limits::MAX_SUBPROGS));
    }
    // Of several `.text` functions over the same instructions, the global one (then
    // the first by name) first: it is the one kept below.
    crate::util::sort_by_key(&mut progs, |p| (p.sec_idx, p.insn_off, !p.global, p.name));
    let mut aliases = 0usize;
    for w in progs.windows(2) {
        if let [a, b] = w {
            if is_alias(a, b, text) {
                aliases = aliases.saturating_add(1);
            } else if a.sec_idx == b.sec_idx && a.insn_off.saturating_add(a.insn_cnt) > b.insn_off {
                return Err(Error::malformed("functions overlap")
                    .ctx(Ctx::Prog(b.name))
                    .ctx(Ctx::Prog(a.name)));
            }
        }
    }
    if aliases == 0 {
        return Ok(progs);
    }
    let mut kept = alloc.alloc::<Prog<'a>>(progs.len().saturating_sub(aliases))?;
    let mut k = 0usize;
    for (i, p) in progs.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| progs.get(j));
        if prev.is_some_and(|q| is_alias(q, p, text)) {
            continue;
        }
        *kept.get_mut(k).ok_or(Error::malformed("function count"))? = *p;
        k = k.saturating_add(1);
    }
    Ok(kept)
}

/// Whether `b` names the same `.text` instructions as `a`: GCC's identical code folding
/// (`-fipa-icf`, on at -O2) makes one function of two identical ones and gives it both
/// symbols. libbpf takes both as subprograms and links one copy, whichever its lookup
/// by offset finds; bpfld keeps one. Entry programs over the same instructions stay
/// refused as overlapping.
fn is_alias(a: &Prog<'_>, b: &Prog<'_>, text: Option<u32>) -> bool {
    Some(a.sec_idx) == text
        && a.sec_idx == b.sec_idx
        && a.insn_off == b.insn_off
        && a.insn_cnt == b.insn_cnt
}

/// Relocation sections that apply to program code.
fn code_rel_sections<'e, 'a, A: Alloc>(
    elf: &'e Elf<'a, A>,
) -> impl Iterator<Item = Result<'a, (Section<'a>, Section<'a>)>> + 'e {
    elf.sections().filter_map(move |s| {
        let s = match s {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        if s.kind() != elf::SHT_REL {
            return None;
        }
        // libbpf's `section_have_execinstr`: the flag, whatever the section's type.
        match elf.section(s.hdr.sh_info) {
            Ok(t) if t.hdr.sh_flags & u64::from(elf::SHF_EXECINSTR) != 0 => Some(Ok((s, t))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    })
}

/// A relocation's symbol in SHN_ABS, SHN_COMMON or another reserved index, refused
/// whether or not its instruction belongs to a function.
const SPECIAL_SECTION_SYMBOL: &str =
    "relocation against a symbol in a special section (uninitialized global variable?)";

/// Classify every relocation of program code, as libbpf's `bpf_program__record_reloc`.
#[inline(never)]
fn collect_relos<'a, A: Alloc>(obj: &mut Object<'a, A>, alloc: &mut A) -> Result<'a, ()> {
    let elf = &obj.elf;
    let mut total = 0usize;
    for r in code_rel_sections(elf) {
        let (rel, _) = r?;
        total = total.saturating_add(elf.rels(&rel).count());
    }
    if total > limits::MAX_RELOCS {
        return Err(Error::limit("relocations", total, limits::MAX_RELOCS));
    }
    let targets = RelocTargets::build(obj, alloc)?;
    // (program index, relocation) pairs, grouped below.
    let mut tmp = alloc.alloc::<(u32, Reloc)>(total)?;
    let mut n = 0usize;
    for r in code_rel_sections(elf) {
        let (rel, target) = r?;
        for (i, r) in elf.rels(&rel).enumerate() {
            let index = bytes::u32_of(i)?;
            let c = Ctx::Reloc(index);
            if r.offset % ISZ != 0 || r.offset >= target.size() {
                return Err(Error::malformed(
                    "relocation offset outside the section or misaligned",
                )
                .ctx(c)
                .ctx(Ctx::Section(rel.name)));
            }
            let sec_insn = r.offset / ISZ;
            // libbpf ignores relocations of code that belongs to no function, once
            // `bpf_object__collect_prog_relos` has checked their symbol as every
            // record's (classify_reloc checks it for the others).
            let Some(pi) = obj.prog_at(target.index, sec_insn) else {
                let sym = elf.symbol(r.sym).ctx(c).ctx(Ctx::Section(rel.name))?;
                if sym.shndx() >= elf::SHN_LORESERVE {
                    return Err(Error::malformed(SPECIAL_SECTION_SYMBOL)
                        .ctx(Ctx::Symbol(sym.name))
                        .ctx(c)
                        .ctx(Ctx::Section(rel.name)));
                }
                continue;
            };
            let prog = obj
                .progs
                .get(usize::try_from(pi).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or_default();
            let insn = bytes::u32_of(bytes::usize_of(
                sec_insn.saturating_sub(u64::from(prog.insn_off)),
            )?)?;
            let kind = classify_reloc(obj, &targets, &prog, insn, r.sym)
                .ctx(Ctx::Insn(insn))
                .ctx(c)
                .ctx(Ctx::Prog(prog.name))?;
            let slot = tmp
                .get_mut(n)
                .ok_or(Error::malformed("relocation count changed"))?;
            *slot = (pi, Reloc { insn, kind, index });
            n = n.saturating_add(1);
        }
    }
    let used = tmp.get_mut(..n).unwrap_or_default();
    crate::util::sort_by_key(used, |(p, r)| (*p, r.insn));
    let mut relos = alloc.alloc::<Reloc>(n)?;
    for (i, ((p, r), dst)) in used.iter().zip(relos.iter_mut()).enumerate() {
        *dst = *r;
        let prog = obj
            .progs
            .get_mut(usize::try_from(*p).unwrap_or(usize::MAX))
            .ok_or(Error::malformed("program index"))?;
        if prog.relo_cnt == 0 {
            prog.relo_start = bytes::u32_of(i)?;
        }
        prog.relo_cnt = prog.relo_cnt.saturating_add(1);
    }
    for w in used.windows(2) {
        if let [(pa, a), (pb, b)] = w {
            if pa == pb && a.insn == b.insn {
                let name = obj
                    .progs
                    .get(usize::try_from(*pa).unwrap_or(usize::MAX))
                    .map(|p| p.name)
                    .unwrap_or("?");
                return Err(Error::malformed("two relocations for one instruction")
                    .ctx(Ctx::Insn(a.insn))
                    .ctx(Ctx::Prog(name)));
            }
        }
    }
    obj.relos = relos;
    Ok(())
}

/// What one relocation against symbol `sym_idx` at `prog`'s instruction `insn` means.
fn classify_reloc<'a, A: Alloc>(
    obj: &Object<'a, A>,
    targets: &RelocTargets<A>,
    prog: &Prog<'a>,
    insn: u32,
    sym_idx: u32,
) -> Result<'a, RelocKind> {
    let elf = &obj.elf;
    let sym = elf.symbol(sym_idx)?;
    let ins = prog.insn(insn).ok_or(Error::malformed(
        "relocated instruction outside the program",
    ))?;
    let sc = Ctx::Symbol(sym.name);
    if !ins.is_call() && !ins.is_ld_imm64() {
        return Err(Error::malformed(
            "relocation of an instruction that is neither call nor ld_imm64",
        )
        .ctx(sc));
    }
    if ins.is_ld_imm64() && prog.insn(insn.saturating_add(1)).is_none() {
        return Err(Error::malformed("ld_imm64 is missing its second half").ctx(sc));
    }
    let bind = sym.bind();
    if sym.is_undefined()
        && (bind == elf::STB_GLOBAL || bind == elf::STB_WEAK)
        && sym.kind() == elf::STT_NOTYPE
    {
        // libbpf's `bpf_program__record_reloc`: the extern with this symbol.
        let ext =
            RelocTargets::<A>::first(&targets.ext_by_sym, u64::from(sym_idx)).ok_or_else(|| {
                Error::malformed("relocation against an extern without a BTF declaration").ctx(sc)
            })?;
        return Ok(RelocKind::Extern {
            ext,
            call: ins.is_call(),
        });
    }
    let shndx = sym.shndx();
    let value = sym.sym.st_value;
    if ins.is_call() {
        if ins.src() != uapi::BPF_PSEUDO_CALL {
            return Err(Error::malformed("relocated call is not a BPF-to-BPF call").ctx(sc));
        }
        if shndx == 0 || Some(shndx) != obj.text_shndx {
            return Err(Error::malformed("call relocation against a symbol outside .text").ctx(sc));
        }
        if value % ISZ != 0 {
            return Err(Error::malformed("call relocation against a misaligned symbol").ctx(sc));
        }
        return Ok(RelocKind::Call { sym_off: value });
    }
    if shndx == 0 || shndx >= elf::SHN_LORESERVE {
        return Err(Error::malformed(SPECIAL_SECTION_SYMBOL).ctx(sc));
    }
    let in_text = Some(shndx) == obj.text_shndx;
    let is_subprog_sym = in_text
        && ((bind == elf::STB_LOCAL && sym.kind() == elf::STT_SECTION)
            || ((bind == elf::STB_GLOBAL || bind == elf::STB_WEAK) && sym.kind() == elf::STT_FUNC));
    if is_subprog_sym {
        let imm = i64::from(ins.imm);
        if value % ISZ != 0 || imm % (ISZ_I) != 0 {
            return Err(Error::malformed("misaligned subprogram address relocation").ctx(sc));
        }
        return Ok(RelocKind::SubprogAddr { sym_off: value });
    }
    if Some(shndx) == obj.arena_shndx {
        // libbpf: `__arena` globals are data of the arena map, at its start.
        let map = obj.arena_map.ok_or_else(|| {
            Error::malformed("relocation against .addr_space.1 without an arena map").ctx(sc)
        })?;
        return Ok(RelocKind::Data {
            map,
            sym_off: value,
        });
    }
    if Some(shndx) == obj.maps_shndx {
        let map = RelocTargets::<A>::first(&targets.btf_map_by_off, value)
            .ok_or_else(|| Error::new(Kind::NotFound("map at this .maps offset")).ctx(sc))?;
        return Ok(RelocKind::Map { map });
    }
    let map =
        RelocTargets::<A>::first(&targets.data_map_by_sec, u64::from(shndx)).ok_or_else(|| {
            Error::malformed("relocation against a section that is neither a map nor global data")
                .ctx(sc)
        })?;
    Ok(RelocKind::Data {
        map,
        sym_off: value,
    })
}

/// What relocations point at, sorted for binary search: (key, index) pairs, the lowest
/// index first among equal keys (the first match of a walk in object order). Built
/// once per object instead of a walk over externs or maps per relocation.
struct RelocTargets<A: Alloc> {
    /// (symbol index, extern index).
    ext_by_sym: A::Buf<(u64, u32)>,
    /// (offset in `.maps`, map index) of BTF-defined maps.
    btf_map_by_off: A::Buf<(u64, u32)>,
    /// (ELF section index, map index) of global data maps.
    data_map_by_sec: A::Buf<(u64, u32)>,
}

impl<A: Alloc> RelocTargets<A> {
    fn build(obj: &Object<'_, A>, alloc: &mut A) -> Result<'static, Self> {
        let ext = obj.externs.iter().map(|e| Some(u64::from(e.sym)));
        let btf = obj
            .maps
            .iter()
            .map(|m| (m.kind == MapKind::Btf).then_some(m.sec_offset));
        let data = obj
            .maps
            .iter()
            .map(|m| m.kind.is_data().then_some(u64::from(m.sec_idx)));
        Ok(RelocTargets {
            ext_by_sym: Self::sorted(ext, alloc)?,
            btf_map_by_off: Self::sorted(btf, alloc)?,
            data_map_by_sec: Self::sorted(data, alloc)?,
        })
    }

    fn sorted(
        keys: impl Iterator<Item = Option<u64>> + Clone,
        alloc: &mut A,
    ) -> Result<'static, A::Buf<(u64, u32)>> {
        let mut v = alloc.alloc::<(u64, u32)>(keys.clone().flatten().count())?;
        let kept = (0u32..).zip(keys).filter_map(|(i, k)| k.map(|k| (k, i)));
        for (slot, p) in v.iter_mut().zip(kept) {
            *slot = p;
        }
        crate::util::sort_by_key(&mut v, |p| *p);
        Ok(v)
    }

    fn first(v: &[(u64, u32)], key: u64) -> Option<u32> {
        let k = v.partition_point(|(x, _)| *x < key);
        v.get(k).filter(|(x, _)| *x == key).map(|(_, i)| *i)
    }
}

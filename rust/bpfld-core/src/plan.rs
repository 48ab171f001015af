// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The plan: every kernel operation of one load, in order, with final instructions.
//!
//! [`Plan::build`] links each auto-loaded entry program with the subprograms it reaches
//! (libbpf's `bpf_object__relocate`: depth-first, each subprogram appended once per
//! entry program, in first-call order; then the entry's exception callback and what it
//! reaches, see [`crate::object::exc_cb`]), rewrites calls and callback addresses, marks map
//! and map-value loads, rebases `.BTF.ext` func and line info, resolves BTF attach
//! targets, and settles the map definitions the kernel will see. Externs are resolved
//! first ([`crate::externs`]: kconfig values into [`Plan::kconfig`], ksyms and kfuncs to
//! vmlinux BTF ids or addresses, absent weak kfunc calls poisoned), as libbpf resolves
//! them before relocating. Nothing is sent to the kernel here: [`crate::exec`] performs
//! the plan.
//!
//! Map references are recorded as [`FdSite`]s (instruction, map index) and the
//! instruction's `imm` is left 0; the executor writes the map's fd there right before
//! `BPF_PROG_LOAD`. The [`receipt`](Plan::receipt) is a SHA-256 over everything the plan
//! sends (map definitions and initial contents, BTF, programs with their final
//! instructions and info, slots, the resolved kconfig values), with fd sites holding map
//! indices, so it is stable for identical input and independent of fd numbers.

use crate::btf::{self, BtfKind, ExtRecord, InfoSection, Types};
use crate::bytes::{self, idx};
use crate::core_relo::{self, CoreOutcome, CoreRelocator};
use crate::error::{Ctx, Error, Kind, Result, ResultExt, What};
use crate::externs::{self, FdNeed, KernelConfig, KernelSymbols, Resolved};
use crate::insn::Insn;
use crate::limits;
use crate::mem::Alloc;
use crate::object::{MapDef, MapKind, Object, Prog, RelocKind, SlotTarget};
use crate::section::{self, BtfSource};
use crate::uapi;
use sha2::{Digest, Sha256};

/// Size of an instruction, for offset arithmetic.
const ISZ_I: i64 = 8;

/// Facts about the running kernel the plan depends on.
#[derive(Clone, Copy, Debug)]
pub struct KernelInfo {
    /// Page size (ring buffer sizes are rounded to page multiples).
    pub page_size: u32,
    /// Number of possible CPUs (default size of perf event arrays).
    pub possible_cpus: u32,
    /// `LINUX_VERSION_CODE` of the running kernel, sent as `kern_version` when the
    /// object has no `version` section (as libbpf does).
    pub kernel_version: u32,
}

/// Who applies CO-RE relocations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoreMode {
    /// bpfld-core, against the kernel BTF of [`KernelBtf::core_target`] (the default).
    #[default]
    Bpfld,
    /// The kernel's verifier, given the records in `BPF_PROG_LOAD` (`core_relos`). An
    /// independent oracle for testing bpfld's engine; the kernel applies them only when
    /// func_info is passed too.
    Kernel,
}

/// Planning options, and the sources of extern values beyond [`KernelInfo`] and
/// [`KernelBtf`] (see [`crate::externs`]).
#[derive(Clone, Copy, Default)]
pub struct Options<'e> {
    /// Who applies CO-RE relocations.
    pub core: CoreMode,
    /// The kernel's configuration, for `CONFIG_*` externs (planning fails if the object
    /// has some and this is `None`).
    pub kconfig: Option<&'e dyn KernelConfig>,
    /// Kernel symbol addresses, for typeless `__ksym` variables (planning fails if the
    /// object has some and this is `None`).
    pub symbols: Option<&'e dyn KernelSymbols>,
    /// Leave [`Plan::receipt`] zero: the caller computes it with
    /// [`Plan::compute_receipt`], e.g. on another CPU while [`crate::exec`] performs the
    /// plan (which only reads it).
    pub defer_receipt: bool,
    /// BPF programs of the caller's that the object's programs attach to (`freplace`,
    /// `fentry`, `fexit`; libbpf's `bpf_program__set_attach_target()` with a program).
    pub prog_targets: Option<&'e dyn ProgTargets>,
}

/// The caller's BPF programs to attach the object's programs to ([`Options`]).
pub trait ProgTargets {
    /// For the object's program `prog` (its function name): the BTF type id, in the
    /// caller's target program's BTF, of the function to attach to, if the caller
    /// names a target program for it. The executor then asks [`crate::exec::Bpf`] for
    /// that program's fd (`attach_prog_fd`).
    fn target(&self, prog: &str) -> Option<u32>;
}

impl core::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Options")
            .field("core", &self.core)
            .field("kconfig", &self.kconfig.is_some())
            .field("symbols", &self.symbols.is_some())
            .field("defer_receipt", &self.defer_receipt)
            .field("prog_targets", &self.prog_targets.is_some())
            .finish()
    }
}

/// Where a type found in kernel BTF lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelType {
    /// 0 for vmlinux, else the module: its place in [`Plan::modules`] plus one.
    pub module: u32,
    /// Type id in that BTF.
    pub type_id: u32,
}

/// `MODULE_NAME_LEN`: a kernel module's name, NUL included.
pub const MODULE_NAME_LEN: usize = 56;

/// A kernel module whose BTF a plan uses: a kfunc, a typed ksym or an attach target
/// that vmlinux lacks and the module defines (libbpf's `find_ksym_btf_id` and
/// `find_kernel_btf_id` look there after vmlinux). Programs name the module's BTF
/// object by fd: kfunc calls through `fd_array` (their `off`), typed ksyms in their
/// `ld_imm64`'s second half, attach targets in `attach_btf_obj_fd`. The executor gets
/// that fd ([`crate::exec::Bpf::module_btf_fd`]) and closes it after the programs load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedModule<'a> {
    /// The module's name (`/sys/kernel/btf/<name>`), NUL-padded.
    pub name: [u8; MODULE_NAME_LEN],
    /// The first type the plan uses there, by which an executor may find the BTF
    /// object: `sym_prefix` + `sym`, of BTF kind `kind`, id `type_id` in the module's
    /// BTF.
    pub sym_prefix: &'static str,
    /// See `sym_prefix`.
    pub sym: &'a str,
    /// `BTF_KIND_*` of the type.
    pub kind: u32,
    /// Its id.
    pub type_id: u32,
    /// Index of the fd in `fd_array` (the `off` of calls of the module's kfuncs), as
    /// libbpf numbers them: from 1, in the order the kfuncs resolve; 0 if the plan
    /// calls none of the module's kfuncs.
    pub fd_idx: u32,
    /// The module's place in the kernel's [`core_relo::ModuleTargets`].
    pub index: u32,
    /// A type of the module's own, by name (NUL-padded), that the executor asks for
    /// instead of `sym_prefix` + `sym` where vmlinux or a module loaded earlier also
    /// has that, and the kernel's lookup would find it there first (only a target in
    /// a named module, `fentry/MOD:func`, can be that); `kind` and `type_id` are then
    /// this type's. Empty otherwise.
    pub probe: [u8; PROBE_NAME_LEN],
}

/// Room for [`PlannedModule::probe`]: a module type with a longer name is not taken.
pub const PROBE_NAME_LEN: usize = 128;

/// Types of a module tried for a [`PlannedModule::probe`] at most.
const MAX_PROBES: usize = 256;

impl Default for PlannedModule<'_> {
    fn default() -> Self {
        PlannedModule {
            name: [0; MODULE_NAME_LEN],
            sym_prefix: "",
            sym: "",
            kind: 0,
            type_id: 0,
            fd_idx: 0,
            index: 0,
            probe: [0; PROBE_NAME_LEN],
        }
    }
}

impl PlannedModule<'_> {
    /// The module's name.
    pub fn name(&self) -> &str {
        crate::util::c_text(&self.name).unwrap_or_default()
    }

    /// The name the executor asks the kernel for (of BTF kind `kind`, expecting
    /// `type_id`), in two parts: `sym_prefix` and `sym`, or "" and `probe`.
    pub fn lookup_name(&self) -> (&str, &str) {
        match crate::util::c_text(&self.probe) {
            Some(p) if !p.is_empty() => ("", p),
            _ => (self.sym_prefix, self.sym),
        }
    }
}

/// Whether the kernel's lookup of `name` of `kind` by name
/// (`bpf_btf_find_by_name_kind()`: vmlinux, then the modules by BTF id, which is
/// their order in `mods`) finds it before module `i`.
fn found_before(
    k: &dyn KernelBtf,
    mods: &dyn core_relo::ModuleTargets,
    i: usize,
    name: &str,
    kind: BtfKind,
) -> Result<'static, bool> {
    if k.find(name, kind).is_some() {
        return Ok(true);
    }
    for j in 0..i {
        if mods.module(j)?.defines(name, kind) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A type found in a kernel module's own BTF ([`find_in_modules`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleType {
    /// The module's place in [`KernelBtf::core_modules`].
    pub index: usize,
    /// The type's id in the module's BTF.
    pub type_id: u32,
}

/// libbpf's search of the module BTFs after vmlinux has no `name` of `kind`: the first
/// module whose own types have it, among those whose name starts with `module` if one
/// is given (`strncmp(mod->name, mod_name, mod_len)`). A named module is searched as
/// libbpf's `find_kernel_btf_id` searches it, through its split BTF, vmlinux's types
/// first (vmlinux itself was not searched before): a name vmlinux has is vmlinux's
/// type, in the first module of that name (whose symbols the kernel then takes the
/// function's address from). `None` when no module has it or the kernel knows no
/// modules; an error if the modules cannot be read.
pub fn find_in_modules(
    k: &dyn KernelBtf,
    module: Option<&str>,
    name: &str,
    kind: BtfKind,
) -> Result<'static, Option<ModuleType>> {
    let Some(mods) = k.core_modules() else {
        return Ok(None);
    };
    let in_base = module.and_then(|_| k.find(name, kind)).map(|t| t.type_id);
    for i in 0..mods.count()? {
        if let Some(want) = module {
            if !mods.name(i)?.starts_with(want) {
                continue;
            }
        }
        let found = match in_base {
            Some(type_id) => Some(type_id),
            None => mods.module(i)?.find_own(name, kind),
        };
        if let Some(type_id) = found {
            return Ok(Some(ModuleType { index: i, type_id }));
        }
    }
    Ok(None)
}

/// The modules of a plan, as they are added: each once.
pub(crate) struct ModuleList<'a, A: Alloc> {
    pub(crate) list: A::Buf<PlannedModule<'a>>,
    pub(crate) len: usize,
    /// The last `fd_idx` given.
    pub(crate) fd_idx: u32,
}

impl<'a, A: Alloc> ModuleList<'a, A> {
    pub(crate) fn new(cap: usize, alloc: &mut A) -> Result<'static, Self> {
        Ok(ModuleList {
            list: alloc.alloc(cap)?,
            len: 0,
            fd_idx: 0,
        })
    }

    /// The slot (place plus one) of module `found.index`, added if new, with
    /// `sym_prefix` + `sym` of `kind` as its type; with an `fd_array` index if
    /// `kfunc`.
    pub(crate) fn add(
        &mut self,
        k: &dyn KernelBtf,
        found: ModuleType,
        sym_prefix: &'static str,
        sym: &'a str,
        kind: BtfKind,
        kfunc: bool,
    ) -> Result<'static, u32> {
        let index = u32::try_from(found.index).map_err(|_| Error::malformed("module index"))?;
        let at = match self
            .list
            .get(..self.len)
            .unwrap_or_default()
            .iter()
            .position(|m| m.index == index)
        {
            Some(at) => at,
            None => {
                let mods = k
                    .core_modules()
                    .ok_or(Error::malformed("module without module BTFs"))?;
                let mname = mods.name(found.index)?;
                let mut name = [0u8; MODULE_NAME_LEN];
                let d = name
                    .get_mut(..mname.len())
                    .filter(|_| mname.len() < MODULE_NAME_LEN)
                    .ok_or(Error::malformed(
                        "kernel module name longer than MODULE_NAME_LEN",
                    ))?;
                crate::util::copy(d, mname.as_bytes());
                let slot = self
                    .list
                    .get_mut(self.len)
                    .ok_or(Error::malformed("more modules than planned"))?;
                *slot = PlannedModule {
                    name,
                    sym_prefix,
                    sym,
                    kind: kind as u32,
                    type_id: found.type_id,
                    fd_idx: 0,
                    index,
                    probe: [0; PROBE_NAME_LEN],
                };
                self.len = self.len.saturating_add(1);
                self.len.saturating_sub(1)
            }
        };
        let m = self
            .list
            .get_mut(at)
            .ok_or(Error::malformed("module slot"))?;
        if kfunc && m.fd_idx == 0 {
            // insn->off is an s16.
            // libbpf's bound: fd_array_cnt (index 0 included) stays below INT16_MAX.
            if self.fd_idx >= (i16::MAX as u32).saturating_sub(1) {
                return Err(Error::limit(
                    "kernel module BTFs called through fd_array",
                    idx(self.fd_idx).saturating_add(1),
                    (i16::MAX as usize).saturating_sub(1),
                ));
            }
            self.fd_idx = self.fd_idx.saturating_add(1);
            m.fd_idx = self.fd_idx;
        }
        bytes::u32_of(at.saturating_add(1))
    }

    /// For module `slot` ([`ModuleList::add`]) of a target found in a named module by
    /// `full` of `kind`: if that is also vmlinux's or an earlier module's, the kernel's
    /// lookup by name would name another BTF object; the module is then looked up by
    /// the first of its own types that only it has. Nothing changes for a module
    /// whose lookup an earlier kfunc, ksym or target set (found by name, first).
    pub(crate) fn unshadow(
        &mut self,
        k: &dyn KernelBtf,
        slot: u32,
        full: &str,
        kind: BtfKind,
    ) -> Result<'static, ()> {
        let m = self
            .list
            .get_mut(idx(slot).wrapping_sub(1))
            .filter(|_| idx(slot) <= self.len)
            .ok_or(Error::malformed("module slot"))?;
        let (p, s) = m.lookup_name();
        let same = m.kind == kind as u32
            && full.len() == p.len().saturating_add(s.len())
            && full.starts_with(p)
            && full.ends_with(s);
        let mods = k
            .core_modules()
            .ok_or(Error::malformed("module without module BTFs"))?;
        let i = idx(m.index);
        if !same || !found_before(k, mods, i, full, kind)? {
            return Ok(());
        }
        let own = mods.module(i)?;
        let types = own.types();
        // Types other than FUNCs first: a module's FUNCs are not indexed, and each
        // check of one scans the earlier modules.
        for funcs in [false, true] {
            for id in types.split().local_ids().take(MAX_PROBES) {
                let t = types.type_by_id(id)?;
                let tkind = t.kind();
                if (tkind == BtfKind::Func) != funcs {
                    continue;
                }
                let name = types.name_at(t.name_off())?;
                if name.is_empty()
                    || name.len() >= PROBE_NAME_LEN
                    || found_before(k, mods, i, name, tkind)?
                {
                    continue;
                }
                m.probe = [0; PROBE_NAME_LEN];
                crate::util::copy(&mut m.probe, name.as_bytes());
                (m.kind, m.type_id) = (tkind as u32, id);
                return Ok(());
            }
        }
        Err(Error::new(Kind::Unsupported(
            "BTF attach target in a named kernel module: vmlinux or a module loaded \
             earlier also has it, and none of the module's first types is its alone, by \
             which the kernel could name the module's BTF object",
        )))
    }

    pub(crate) fn as_slice(&self) -> &[PlannedModule<'a>] {
        self.list.get(..self.len).unwrap_or_default()
    }
}

/// Lookups in the running kernel's BTF (vmlinux and modules).
pub trait KernelBtf {
    /// The type called `name` of kind `kind` in vmlinux (modules: [`find_in_modules`]).
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType>;

    /// vmlinux's types, for what needs more than a lookup (struct_ops layouts, CO-RE).
    fn vmlinux(&self) -> Option<&dyn Types> {
        None
    }

    /// vmlinux with its CO-RE candidate index (built once, cached by the caller).
    fn core_target(&self) -> Option<core_relo::Target<'_>> {
        None
    }

    /// The kernel modules' BTFs, searched for a CO-RE candidate, a kfunc, a typed ksym
    /// or an attach target that vmlinux lacks (as libbpf does), and read only then. The
    /// default knows no modules.
    fn core_modules(&self) -> Option<&dyn core_relo::ModuleTargets> {
        None
    }
}

/// An instruction whose `imm` must receive a map's fd, or a kernel module BTF's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdSite {
    /// Index into [`Plan::insns`].
    pub insn: u32,
    /// Map index (when `module` is 0).
    pub map: u32,
    /// 0 for a map's fd; else the fd of the BTF of the module at this place (plus
    /// one) in [`Plan::modules`] (the second half of a typed ksym's `ld_imm64`).
    pub module: u32,
}

/// A half-open range of a plan buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First element.
    pub start: u32,
    /// Number of elements.
    pub len: u32,
}

impl Span {
    fn of<T>(self, s: &[T]) -> &[T] {
        let start = usize::try_from(self.start).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(self.len).unwrap_or(0));
        s.get(start..end).unwrap_or_default()
    }
    fn of_mut<T>(self, s: &mut [T]) -> &mut [T] {
        let start = usize::try_from(self.start).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(self.len).unwrap_or(0));
        s.get_mut(start..end).unwrap_or_default()
    }
}

/// One program to load.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlannedProg<'a> {
    /// Index in [`Object::progs`].
    pub prog: u32,
    /// Function name.
    pub name: &'a str,
    /// Section name.
    pub sec_name: &'a str,
    /// Name given to the kernel (15 bytes and a NUL).
    pub kname: [u8; uapi::BPF_OBJ_NAME_LEN],
    /// `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// Expected attach type.
    pub expected_attach_type: u32,
    /// `BPF_F_*` program flags.
    pub prog_flags: u32,
    /// BTF attach target, if any.
    pub attach: Option<KernelType>,
    /// `attach`'s type id is in the BTF of the caller's target program
    /// ([`ProgTargets`]), whose fd goes in `attach_prog_fd`; `attach.module` is 0.
    pub attach_prog: bool,
    /// Final instructions, in [`Plan::insns`].
    pub insns: Span,
    /// Map fd sites, in [`Plan::fd_sites`].
    pub sites: Span,
    /// func_info records, in [`Plan::func_info`].
    pub func_info: Span,
    /// line_info records, in [`Plan::line_info`].
    pub line_info: Span,
    /// CO-RE records for the kernel to apply ([`CoreMode::Kernel`]), in [`Plan::core_relos`].
    pub core_relos: Span,
    /// The first instruction a CO-RE relocation that failed to resolve poisoned, for
    /// the message of a refused load (libbpf rewrites the verifier's log line for it).
    pub core_poison: Option<CorePoison<'a>>,
}

/// An instruction of a planned program that a CO-RE relocation poisoned (a call to
/// the verifier's `unknown#195896080`, refused only where reachable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorePoison<'a> {
    /// The section whose `.BTF.ext` records hold the relocation.
    pub sec_name: &'a str,
    /// Its index among that section's records (libbpf's `relo #N`).
    pub relo: u32,
    /// The instruction, in the program as loaded.
    pub insn: u32,
}

/// One map to create (inner templates included, marked by their kind).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlannedMap {
    /// Definition as sent to the kernel.
    pub def: MapDef,
    /// Send the object's BTF fd and the key/value type ids.
    pub with_btf: bool,
    /// Create it (false for maps of `?.struct_ops` sections).
    pub create: bool,
    /// struct_ops: `bpf_struct_ops_<type>` in vmlinux BTF, or in `value_type_module`'s.
    pub vmlinux_value_type_id: u32,
    /// struct_ops of a module's type: the module's place in [`Plan::modules`] plus
    /// one, whose BTF fd goes in `value_type_btf_obj_fd` (`BPF_F_VTYPE_BTF_OBJ_FD`);
    /// else 0.
    pub value_type_module: u32,
}

/// The object's arena map (libbpf's `bpf_map_mmap_sz`): the executor maps it (which
/// sets the arena's user address, which programs need before they load) and writes
/// the map's `data`, the `__arena` globals, at the mapping's start, where libbpf 1.5
/// puts them (later versions put them at the end of the arena, `arena_data_off`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlannedArena {
    /// The map.
    pub map: u32,
    /// Bytes to map: `max_entries` pages.
    pub len: u64,
    /// The address asked for (`map_extra`), 0 for any.
    pub addr: u64,
}

/// Lay out the arena of `obj` for pages of `page_size` bytes.
fn plan_arena<'a, A: Alloc>(
    obj: &Object<'a, A>,
    page_size: u32,
) -> Result<'a, Option<PlannedArena>> {
    let Some(map) = obj.arena_map else {
        return Ok(None);
    };
    let m = obj
        .maps
        .get(idx(map))
        .ok_or(Error::malformed("map index"))?;
    let page = u64::from(page_size.max(1));
    let len = u64::from(m.def.max_entries).saturating_mul(page);
    let data = m.data.len() as u64;
    let data_alloc = data.div_ceil(page).saturating_mul(page);
    if data_alloc > len {
        // libbpf: "declared ARENA map size ... is too small", E2BIG.
        return Err(Error::limit(
            "bytes of global __arena variables, in pages of the arena",
            data_alloc,
            len,
        )
        .ctx(Ctx::Map(m.name)));
    }
    Ok(Some(PlannedArena {
        map,
        len,
        addr: m.def.map_extra,
    }))
}

/// The value of one struct_ops map: the kernel's `bpf_struct_ops_<type>` with the
/// object's scalar members copied in; program fds go at [`StOpsPlan::funcs`] offsets.
#[derive(Clone, Copy, Debug, Default)]
pub struct StOpsPlan {
    /// The map.
    pub map: u32,
    /// Its value bytes, in [`Plan::st_values`].
    pub value: Span,
    /// Function slots, in [`Plan::st_funcs`].
    pub funcs: Span,
}

/// A program fd to write into a struct_ops value.
#[derive(Clone, Copy, Debug, Default)]
pub struct StOpsSlot {
    /// Byte offset in the map value.
    pub offset: u32,
    /// Object program index.
    pub prog: u32,
}

/// `struct bpf_func_info`.
pub type FuncInfoRec = [u32; 2];
/// `struct bpf_line_info`.
pub type LineInfoRec = [u32; 4];
/// `struct bpf_core_relo`: insn_off (bytes, in the program), type_id, access_str_off, kind.
pub type CoreReloRec = [u32; 4];

/// Everything one load sends to the kernel.
pub struct Plan<'o, 'a, A: Alloc> {
    /// The object planned.
    pub obj: &'o Object<'a, A>,
    /// Per object map, what to create.
    pub maps: A::Buf<PlannedMap>,
    /// Programs to load, in object order.
    pub progs: A::Buf<PlannedProg<'a>>,
    /// Final instructions of all programs.
    pub insns: A::Buf<Insn>,
    /// Map fd sites of all programs.
    pub fd_sites: A::Buf<FdSite>,
    /// func_info of all programs.
    pub func_info: A::Buf<FuncInfoRec>,
    /// line_info of all programs.
    pub line_info: A::Buf<LineInfoRec>,
    /// CO-RE records of all programs, when the kernel applies them.
    pub core_relos: A::Buf<CoreReloRec>,
    /// struct_ops maps to fill after the programs are loaded.
    pub st_maps: A::Buf<StOpsPlan>,
    /// Values of struct_ops maps.
    pub st_values: A::Buf<u8>,
    /// Program slots of struct_ops values.
    pub st_funcs: A::Buf<StOpsSlot>,
    /// What each extern of the object resolved to.
    pub externs: A::Buf<Resolved>,
    /// The value of the `.kconfig` map (empty if the object has no kconfig externs).
    pub kconfig: A::Buf<u8>,
    /// `kern_version` sent with every program.
    pub kern_version: u32,
    /// The arena map, mapped by the executor right after its creation.
    pub arena: Option<PlannedArena>,
    /// The kernel modules whose BTF the programs use ([`Plan::modules`]).
    pub(crate) module_list: ModuleList<'a, A>,
    /// SHA-256 over the plan (see the module documentation).
    pub receipt: [u8; 32],
}

/// Per-program sizes from the first linking pass.
#[derive(Clone, Copy, Default)]
struct Sizes {
    insns: usize,
    sites: usize,
    func_info: usize,
    line_info: usize,
    core_relos: usize,
}

impl Sizes {
    fn add(&mut self, o: Sizes) {
        self.insns = self.insns.saturating_add(o.insns);
        self.sites = self.sites.saturating_add(o.sites);
        self.func_info = self.func_info.saturating_add(o.func_info);
        self.line_info = self.line_info.saturating_add(o.line_info);
        self.core_relos = self.core_relos.saturating_add(o.core_relos);
    }
}

/// Scratch for linking one entry program.
struct Linker<'o, 'a, A: Alloc> {
    obj: &'o Object<'a, A>,
    /// Position of each function in the current entry program (`u32::MAX`: absent).
    sub_off: A::Buf<u32>,
    /// Functions in append order.
    order: A::Buf<u32>,
    n_order: usize,
    /// DFS frames: (function, next of its candidates to look at).
    stack: A::Buf<(u32, u32)>,
    /// The instructions of function `f` that may call or take the address of a
    /// function (`CALL`, `LD_IMM64`; every other one is none, see `call_target`):
    /// `cands[cand_start[f]..cand_start[f + 1]]`, in order. Found once per plan, so
    /// that the two linking passes of each entry look at these and not at every
    /// instruction of every function it reaches.
    cand_start: A::Buf<u32>,
    cands: A::Buf<u32>,
}

/// An instruction `call_target` must look at: a call or an `ld_imm64` (or one past
/// the code, which it reports).
fn may_call(op: Option<u8>) -> bool {
    !matches!(op, Some(o) if o != uapi::CALL && o != uapi::LD_IMM64)
}

const ABSENT: u32 = u32::MAX;

impl<'o, 'a, A: Alloc> Linker<'o, 'a, A> {
    fn new(obj: &'o Object<'a, A>, alloc: &mut A) -> Result<'a, Self> {
        let n = obj.progs.len();
        let count = |p: &Prog<'a>| (0..p.insn_cnt).filter(|&i| may_call(p.opcode(i))).count();
        let total = obj
            .progs
            .iter()
            .map(count)
            .fold(0usize, usize::saturating_add);
        let mut cand_start = alloc.alloc::<u32>(n.saturating_add(1))?;
        let mut cands = alloc.alloc::<u32>(total)?;
        let mut at = 0usize;
        for (k, p) in obj.progs.iter().enumerate() {
            *cand_start
                .get_mut(k)
                .ok_or(Error::malformed("function index"))? = bytes::u32_of(at)?;
            for i in (0..p.insn_cnt).filter(|&i| may_call(p.opcode(i))) {
                *cands
                    .get_mut(at)
                    .ok_or(Error::malformed("call candidates"))? = i;
                at = at.saturating_add(1);
            }
        }
        *cand_start
            .get_mut(n)
            .ok_or(Error::malformed("function index"))? = bytes::u32_of(at)?;
        Ok(Linker {
            obj,
            sub_off: alloc.alloc(n)?,
            order: alloc.alloc(n)?,
            n_order: 0,
            stack: alloc.alloc(n.saturating_add(1))?,
            cand_start,
            cands,
        })
    }

    /// The candidates of function `f` (see `cands`).
    fn cands_of(&self, f: u32) -> Result<'a, &[u32]> {
        let range = |k: usize| self.cand_start.get(k).map(|&v| idx(v));
        let (lo, hi) = range(idx(f))
            .zip(range(idx(f).saturating_add(1)))
            .ok_or(Error::malformed("function index"))?;
        self.cands
            .get(lo..hi)
            .ok_or(Error::malformed("call candidates"))
    }

    fn prog(&self, i: u32) -> Result<'a, &'o Prog<'a>> {
        self.obj
            .progs
            .get(idx(i))
            .ok_or(Error::malformed("function index"))
    }

    /// The `.text` function a call or callback at `prog`'s instruction `i` targets, or
    /// `None` if the instruction is not one (or is a kfunc call).
    fn call_target(&self, p: &Prog<'a>, i: u32) -> Result<'a, Option<u32>> {
        // Only calls and ld_imm64 carry relocations (Object::parse refuses others):
        // every other instruction is out at its opcode, before it is decoded and its
        // relocation looked up.
        let op = p.opcode(i).ok_or(Error::malformed("instruction"))?;
        if op != uapi::CALL && op != uapi::LD_IMM64 {
            return Ok(None);
        }
        let ins = p.insn(i).ok_or(Error::malformed("instruction"))?;
        let relo = self.obj.prog_relo_at(p, i).map(|r| r.kind);
        let is_func_addr = matches!(relo, Some(RelocKind::SubprogAddr { .. }));
        if !ins.is_subprog_call() && !is_func_addr && !ins.is_pseudo_func() {
            return Ok(None);
        }
        let imm = i64::from(ins.imm);
        let sec_insn: i64 = match relo {
            // A kfunc call; an extern's ld_imm64 marked as a callback's (src_reg
            // BPF_PSEUDO_FUNC) is libbpf's "unexpected relo", below.
            Some(RelocKind::Extern { call: true, .. }) => return Ok(None),
            Some(RelocKind::Call { sym_off }) => (sym_off as i64)
                .saturating_div(ISZ_I)
                .saturating_add(imm)
                .saturating_add(1),
            Some(RelocKind::SubprogAddr { sym_off }) => {
                (sym_off as i64).saturating_add(imm).saturating_div(ISZ_I)
            }
            Some(_) => {
                return Err(Error::malformed(
                    "subprogram call with an unexpected relocation",
                ))
            }
            None if ins.is_pseudo_func() => {
                return Err(Error::malformed("callback address without a relocation"))
            }
            // A static function in the same section: imm is relative to the call.
            None => i64::from(p.insn_off)
                .saturating_add(i64::from(i))
                .saturating_add(imm)
                .saturating_add(1),
        };
        let text = self.obj.text_shndx.ok_or(Error::new(Kind::NotFound(
            "sub-program call target (no .text)",
        )))?;
        let sec_insn =
            u64::try_from(sec_insn).map_err(|_| Error::malformed("call target before .text"))?;
        let target = self
            .obj
            .prog_at(text, sec_insn)
            .ok_or(Error::new(Kind::NotFound("sub-program at call target")))?;
        // libbpf would silently jump to the start of the function; a call into the
        // middle of one is a crafted file.
        if u64::from(self.prog(target)?.insn_off) != sec_insn {
            return Err(Error::malformed("call into the middle of a function"));
        }
        Ok(Some(target))
    }

    /// First pass for entry program `main`: append order and offsets, and sizes.
    #[inline(never)]
    fn layout(&mut self, main: u32, externs: &[Resolved]) -> Result<'a, Sizes> {
        self.sub_off.fill(ABSENT);
        self.n_order = 0;
        let mut len: u32 = 0;
        let append = |l: &mut Self, f: u32, len: &mut u32| -> Result<'a, ()> {
            let cnt = l.prog(f)?.insn_cnt;
            *l.sub_off
                .get_mut(idx(f))
                .ok_or(Error::malformed("function index"))? = *len;
            *l.order
                .get_mut(l.n_order)
                .ok_or(Error::malformed("function order"))? = f;
            l.n_order = l.n_order.saturating_add(1);
            *len = len
                .checked_add(cnt)
                .filter(|&n| idx(n) <= limits::MAX_PROG_INSNS)
                .ok_or_else(|| {
                    Error::limit(
                        "instructions after linking",
                        u64::from(*len).saturating_add(u64::from(cnt)),
                        limits::MAX_PROG_INSNS,
                    )
                })?;
            Ok(())
        };
        // The entry's call graph, then its exception callback's (libbpf appends the
        // callback after relocating the calls, unless a call reached it already: the
        // verifier then refuses the program).
        let exc_cb = self.obj.exception_callback(main)?;
        for root in core::iter::once(main).chain(exc_cb) {
            if self.sub_off.get(idx(root)) != Some(&ABSENT) {
                continue;
            }
            append(self, root, &mut len)?;
            let mut depth = 1usize;
            *self.stack.get_mut(0).ok_or(Error::malformed("stack"))? = (root, 0);
            while depth > 0 {
                let top = depth.saturating_sub(1);
                let (f, next) = *self.stack.get(top).ok_or(Error::malformed("stack"))?;
                let p = *self.prog(f)?;
                let n_cands = self.cands_of(f)?.len();
                let mut pushed = false;
                let mut c = idx(next);
                while c < n_cands {
                    let i = *self
                        .cands_of(f)?
                        .get(c)
                        .ok_or(Error::malformed("call candidates"))?;
                    let target = self
                        .call_target(&p, i)
                        .ctx(Ctx::Insn(i))
                        .ctx(Ctx::Prog(p.name))?;
                    c = c.saturating_add(1);
                    let Some(t) = target else { continue };
                    if self.sub_off.get(idx(t)) == Some(&ABSENT) {
                        append(self, t, &mut len)?;
                        *self.stack.get_mut(top).ok_or(Error::malformed("stack"))? =
                            (f, bytes::u32_of(c)?);
                        *self
                            .stack
                            .get_mut(depth)
                            .ok_or(Error::malformed("call graph deeper than its functions"))? =
                            (t, 0);
                        depth = depth.saturating_add(1);
                        pushed = true;
                        break;
                    }
                }
                if !pushed {
                    depth = top;
                }
            }
        }
        let mut s = Sizes {
            insns: idx(len),
            ..Sizes::default()
        };
        for k in 0..self.n_order {
            let p = self.prog(*self.order.get(k).ok_or(Error::malformed("order"))?)?;
            s.sites = s.sites.saturating_add(
                self.obj
                    .prog_relos(p)
                    .iter()
                    .filter(|r| match r.kind {
                        RelocKind::Map { .. } | RelocKind::Data { .. } => true,
                        RelocKind::Extern { ext, call: false } => {
                            self.obj
                                .externs
                                .get(idx(ext))
                                .is_some_and(|e| e.kcfg().is_some())
                                || externs.get(idx(ext)).is_some_and(|r| r.module != 0)
                        }
                        _ => false,
                    })
                    .count(),
            );
        }
        Ok(s)
    }

    fn off(&self, f: u32) -> Result<'a, u32> {
        self.sub_off
            .get(idx(f))
            .copied()
            .filter(|&o| o != ABSENT)
            .ok_or(Error::malformed("function not laid out"))
    }
}

/// The `.BTF.ext` records of one kind grouped by function ([`Object::progs`] index):
/// for each function, the records of the first block naming its section whose
/// instruction lies in the function, in file order. Built once per plan in
/// O(records · log functions), so that linking many entry programs over many shared
/// functions does not rescan the blocks per (entry program, function) pair.
struct ByFunc<A: Alloc, R: Copy + Default> {
    /// `start[f]..start[f + 1]` are function `f`'s records.
    start: A::Buf<u32>,
    recs: A::Buf<R>,
}

impl<A: Alloc, R: ExtRecord + Default> ByFunc<A, R> {
    fn build(
        obj: &Object<'_, A>,
        info: &InfoSection<'_, R>,
        alloc: &mut A,
    ) -> Result<'static, Self> {
        let n = obj.progs.len();
        let Some(btf) = obj.btf.as_ref() else {
            return Self::empty(obj, alloc);
        };
        let mut start = alloc.alloc::<u32>(n.saturating_add(1))?;
        let mut seen = alloc.alloc::<bool>(bytes::usize_of(u64::from(obj.elf.section_count()))?)?;
        // Calls `f(function, record)` for every record that belongs to a function.
        fn each<A: Alloc, R: ExtRecord>(
            obj: &Object<'_, A>,
            btf: &impl Types,
            info: &InfoSection<'_, R>,
            seen: &mut [bool],
            mut f: impl FnMut(usize, R),
        ) {
            seen.fill(false);
            for b in info.blocks() {
                let Some(sec) = btf
                    .name_at(b.sec_name_off)
                    .ok()
                    .and_then(|name| obj.sec_names.find(&obj.elf, name))
                else {
                    continue;
                };
                match seen.get_mut(idx(sec.index)) {
                    Some(s) if !*s => *s = true,
                    _ => continue,
                }
                // Records come in instruction order, mostly many to a function: the
                // last function found is tried first (functions do not overlap, so it
                // is the one prog_at would find).
                let mut last: Option<(u64, u64, u32)> = None;
                for r in b.records() {
                    let insn = u64::from(r.insn_idx());
                    let p = match last {
                        Some((from, to, p)) if insn >= from && insn < to => Some(p),
                        _ => {
                            let p = obj.prog_at(sec.index, insn);
                            last = p.and_then(|p| {
                                let pr = obj.progs.get(idx(p))?;
                                let from = u64::from(pr.insn_off);
                                Some((from, from.checked_add(u64::from(pr.insn_cnt))?, p))
                            });
                            p
                        }
                    };
                    if let Some(p) = p {
                        f(idx(p), r);
                    }
                }
            }
        }
        let mut total = 0u32;
        each(obj, btf, info, &mut seen, |p, _| {
            if let Some(c) = start.get_mut(p.saturating_add(1)) {
                *c = c.saturating_add(1);
                total = total.saturating_add(1);
            }
        });
        for k in 1..start.len() {
            let prev = start.get(k.saturating_sub(1)).copied().unwrap_or(0);
            if let Some(c) = start.get_mut(k) {
                *c = c.saturating_add(prev);
            }
        }
        let mut recs = alloc.alloc::<R>(idx(total))?;
        let mut fill = alloc.alloc::<u32>(n)?;
        crate::util::copy(&mut fill, &start);
        each(obj, btf, info, &mut seen, |p, r| {
            if let Some(at) = fill.get_mut(p) {
                if let Some(d) = recs.get_mut(idx(*at)) {
                    *d = r;
                }
                *at = at.saturating_add(1);
            }
        });
        Ok(ByFunc { start, recs })
    }

    /// No records for any function.
    fn empty(obj: &Object<'_, A>, alloc: &mut A) -> Result<'static, Self> {
        Ok(ByFunc {
            start: alloc.alloc(obj.progs.len().saturating_add(1))?,
            recs: alloc.alloc(0)?,
        })
    }

    /// Function `f`'s records.
    fn of(&self, f: u32) -> &[R] {
        let f = idx(f);
        let (a, b) = (
            self.start.get(f).copied().unwrap_or(0),
            self.start.get(f.saturating_add(1)).copied().unwrap_or(0),
        );
        self.recs.get(idx(a)..idx(b)).unwrap_or_default()
    }
}

/// [`ByFunc`] for func_info, line_info and CO-RE records.
struct ExtIndex<A: Alloc> {
    func_info: ByFunc<A, btf::FuncInfo>,
    line_info: ByFunc<A, btf::LineInfo>,
    core_relos: ByFunc<A, btf::CoreRelo>,
}

impl<A: Alloc> ExtIndex<A> {
    fn build(obj: &Object<'_, A>, alloc: &mut A) -> Result<'static, Self> {
        let Some(ext) = obj.btf_ext.as_ref() else {
            return Ok(ExtIndex {
                func_info: ByFunc::empty(obj, alloc)?,
                line_info: ByFunc::empty(obj, alloc)?,
                core_relos: ByFunc::empty(obj, alloc)?,
            });
        };
        Ok(ExtIndex {
            func_info: ByFunc::build(obj, ext.func_info(), alloc)?,
            line_info: ByFunc::build(obj, ext.line_info(), alloc)?,
            core_relos: ByFunc::build(obj, ext.core_relos(), alloc)?,
        })
    }
}

/// Whether planning `obj` needs the running kernel's BTF (attach targets, struct_ops),
/// so a caller can skip loading it for objects that do not.
pub fn needs_kernel_btf<A: Alloc>(obj: &Object<'_, A>) -> bool {
    // Before Object::parse_rest, a struct_ops section stands for its maps.
    if !obj.is_parsed() && obj.has_struct_ops_sections() {
        return true;
    }
    let core = obj
        .btf_ext
        .as_ref()
        .is_some_and(|e| e.core_relos().num_records() > 0);
    core || externs::needs_kernel_btf(obj)
        || obj.progs.iter().any(|p| {
            p.autoload
                && p.spec.is_some_and(|s| {
                    matches!(s.btf_source, BtfSource::Kernel | BtfSource::StructOpsMap)
                })
        })
        || obj
            .maps
            .iter()
            .any(|m| m.kind == MapKind::StructOps && m.autocreate)
}

impl<'o, 'a, A: Alloc> Plan<'o, 'a, A> {
    /// About how many bytes creating this plan's maps allocates at once
    /// ([`MapDef::memory_estimate`] summed over the maps to create, inner map templates
    /// included), on a kernel with `cpus` possible CPUs.
    pub fn map_memory(&self, cpus: u32) -> u64 {
        self.maps.iter().filter(|m| m.create).fold(0u64, |sum, m| {
            sum.saturating_add(m.def.memory_estimate(cpus))
        })
    }

    /// Link, relocate and settle everything `obj` will send to the kernel.
    pub fn build(
        obj: &'o Object<'a, A>,
        kinfo: &KernelInfo,
        kbtf: Option<&dyn KernelBtf>,
        alloc: &mut A,
    ) -> Result<'o, Self> {
        Self::build_with(obj, kinfo, kbtf, &Options::default(), alloc)
    }

    /// [`Plan::build`] with options.
    pub fn build_with(
        obj: &'o Object<'a, A>,
        kinfo: &KernelInfo,
        kbtf: Option<&dyn KernelBtf>,
        opts: &Options<'_>,
        alloc: &mut A,
    ) -> Result<'o, Self> {
        if !obj.is_parsed() {
            return Err(Error::new(Kind::Mismatch(
                "the object's parse is not finished (Object::parse_rest)",
            )));
        }
        // Each typed ksym or kfunc, struct_ops map and program's BTF attach target may
        // bring one.
        let may_bring = obj
            .externs
            .iter()
            .filter(|e| e.ksym().is_some_and(|k| k.type_id != 0))
            .count()
            .saturating_add(
                obj.maps
                    .iter()
                    .filter(|m| m.kind == MapKind::StructOps)
                    .count(),
            )
            .saturating_add(
                obj.progs
                    .iter()
                    .filter(|p| p.spec.is_some_and(|s| s.btf_source == BtfSource::Kernel))
                    .count(),
            );
        let mut modules = ModuleList::new(may_bring, alloc)?;
        let ext = externs::resolve(
            obj,
            kinfo,
            kbtf,
            opts.kconfig,
            opts.symbols,
            &mut modules,
            alloc,
        )?;
        let st = StructOps::resolve(obj, kbtf, &mut modules, alloc)?;
        let core = match opts.core {
            CoreMode::Bpfld => CoreRelos::resolve(obj, &st.load, kbtf, alloc)?,
            CoreMode::Kernel => CoreRelos {
                outcomes: alloc.alloc(0)?,
            },
        };
        Self::link_all(obj, kinfo, kbtf, opts, alloc, modules, ext, st, core)
    }

    /// [`Plan::build_with`] once the externs, struct_ops and CO-RE are resolved: link
    /// and write every program. Out of line: its frame (the linker, both passes) is not
    /// on the stack while the CO-RE walks are, the deepest chain of a load.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn link_all(
        obj: &'o Object<'a, A>,
        kinfo: &KernelInfo,
        kbtf: Option<&dyn KernelBtf>,
        opts: &Options<'_>,
        alloc: &mut A,
        modules: ModuleList<'a, A>,
        ext: externs::Externs<A>,
        st: StructOps<A>,
        core: CoreRelos<A>,
    ) -> Result<'o, Self> {
        let kernel_core = opts.core == CoreMode::Kernel;
        let exti = ExtIndex::build(obj, alloc)?;
        let mut linker = Linker::new(obj, alloc)?;
        let load = &st.load;
        let mains = || {
            obj.progs
                .iter()
                .enumerate()
                .filter(|(i, p)| !p.is_subprog() && load.get(*i).copied().unwrap_or(false))
                .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
        };

        // Pass 1: sizes.
        let mut total = Sizes::default();
        let n_progs = mains().count();
        for m in mains() {
            let p = linker.prog(m)?;
            let mut s = linker.layout(m, &ext.state).ctx(Ctx::Prog(p.name))?;
            let (fi, li, cr) = info_counts(&linker, &exti)?;
            s.func_info = fi;
            s.line_info = li;
            s.core_relos = if kernel_core { cr } else { 0 };
            total.add(s);
            // Checked per entry: thousands of entries over a deep call chain must not
            // all be laid out before the refusal.
            if total.insns > limits::MAX_TOTAL_INSNS {
                return Err(Error::limit(
                    "instructions over all programs",
                    total.insns,
                    limits::MAX_TOTAL_INSNS,
                ));
            }
        }
        if total.insns > limits::MAX_TOTAL_INSNS {
            return Err(Error::limit(
                "instructions over all programs",
                total.insns,
                limits::MAX_TOTAL_INSNS,
            ));
        }

        let arena = plan_arena(obj, kinfo.page_size)?;
        let mut plan = Plan {
            obj,
            maps: alloc.alloc(obj.maps.len())?,
            progs: alloc.alloc(n_progs)?,
            insns: alloc.alloc(total.insns)?,
            fd_sites: alloc.alloc(total.sites)?,
            func_info: alloc.alloc(total.func_info)?,
            line_info: alloc.alloc(total.line_info)?,
            core_relos: alloc.alloc(total.core_relos)?,
            st_maps: st.maps,
            st_values: st.values,
            st_funcs: st.funcs,
            externs: ext.state,
            kconfig: ext.kconfig,
            kern_version: obj.kern_version.unwrap_or(kinfo.kernel_version),
            arena,
            module_list: modules,
            receipt: [0; 32],
        };

        // Pass 2: write.
        let mut at = Sizes::default();
        for (k, m) in mains().enumerate() {
            let p = *linker.prog(m)?;
            let c = Ctx::Prog(p.name);
            linker.layout(m, &plan.externs).ctx(c)?;
            let st_attach = st.attach.get(idx(m)).copied().flatten();
            let target = opts.prog_targets.and_then(|t| t.target(p.name));
            let mut pp = plan
                .link_one(&linker, &exti, m, &mut at, kbtf, st_attach, target, &core)
                .ctx(c)?;
            if kernel_core {
                pp.core_relos = plan.write_core_relos(&linker, &exti, &mut at)?;
            }
            *plan
                .progs
                .get_mut(k)
                .ok_or(Error::malformed("program count"))? = pp;
        }
        plan.settle_maps(kinfo, &st.vtypes)?;
        plan.check_slots(&st.load)?;
        if !opts.defer_receipt {
            plan.receipt = plan.compute_receipt();
        }
        Ok(plan)
    }

    /// The initial value of object map `i`: the resolved values for the `.kconfig` map,
    /// else the object's bytes (empty for maps without initial data).
    pub fn map_data(&self, i: usize) -> &[u8] {
        match self.obj.maps.get(i) {
            Some(m) if m.kind == MapKind::Kconfig => &self.kconfig,
            Some(m) => m.data,
            None => &[],
        }
    }

    /// Write entry program `m` (laid out in `l`) at the cursors `at`.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn link_one(
        &mut self,
        l: &Linker<'o, 'a, A>,
        exti: &ExtIndex<A>,
        m: u32,
        at: &mut Sizes,
        kbtf: Option<&dyn KernelBtf>,
        st_attach: Option<(u32, u32, u32)>,
        target: Option<u32>,
        core: &CoreRelos<A>,
    ) -> Result<'a, PlannedProg<'a>> {
        let obj = self.obj;
        let main = *l.prog(m)?;
        let spec = match main.spec {
            Some(s) => s,
            // The caller names the target: the section's own may be empty or too long.
            None if target.is_some() => section::classify_with_caller_target(main.sec_name)?,
            // The parser kept the program although libbpf's table does not know its
            // section, or it names its target as libbpf cannot; it is loaded, so that
            // is now an error.
            None => section::classify(main.sec_name)?,
        };
        let base = at.insns;
        let sites_base = at.sites;
        let mut len = 0u32;
        let mut core_poison = None;
        for k in 0..l.n_order {
            let f = *l.order.get(k).ok_or(Error::malformed("order"))?;
            let p = *l.prog(f)?;
            let c = Ctx::Prog(p.name);
            let off = l.off(f)?;
            let dst_start = base.saturating_add(idx(off));
            let dst = self
                .insns
                .get_mut(dst_start..dst_start.saturating_add(idx(p.insn_cnt)))
                .ok_or(Error::malformed("instruction buffer"))?;
            no_raw_fds(obj, &p).ctx(c)?;
            crate::insn::decode_into(p.code, dst).ctx(c)?;
            let poisoned = core.apply(&p, dst).ctx(c)?;
            // Functions are laid out in append order: the first found is the lowest.
            if let (None, Some((relo, i))) = (core_poison, poisoned) {
                core_poison = Some(CorePoison {
                    sec_name: p.sec_name,
                    relo,
                    insn: off.saturating_add(i),
                });
            }
            len = len.max(off.saturating_add(p.insn_cnt));
            // Calls and callbacks.
            for &i in l.cands_of(f)? {
                let Some(t) = l.call_target(&p, i).ctx(Ctx::Insn(i)).ctx(c)? else {
                    continue;
                };
                let from = i64::from(off).saturating_add(i64::from(i));
                let imm = i64::from(l.off(t)?).saturating_sub(from).saturating_sub(1);
                let d = dst.get_mut(idx(i)).ok_or(Error::malformed("instruction"))?;
                d.imm = i32::try_from(imm).map_err(|_| Error::malformed("call offset overflow"))?;
                if d.is_ld_imm64() {
                    d.set_src(uapi::BPF_PSEUDO_FUNC);
                }
            }
            // Map and data references.
            for r in obj.prog_relos(&p) {
                let rc = Ctx::Reloc(r.index);
                let i = idx(r.insn);
                match r.kind {
                    RelocKind::Map { map } | RelocKind::Data { map, .. } => {
                        let mk = obj.maps.get(idx(map)).map(|m| m.kind).unwrap_or_default();
                        if mk == MapKind::Inner {
                            return Err(Error::malformed("reference to an inner map template")
                                .ctx(rc)
                                .ctx(c));
                        }
                        let d0 = *dst.get(i).ok_or(Error::malformed("instruction"))?;
                        if let RelocKind::Data { sym_off, .. } = r.kind {
                            // libbpf: insn[1].imm = insn[0].imm + sym_off, in 32 bits.
                            let d1 = dst
                                .get_mut(i.saturating_add(1))
                                .ok_or(Error::malformed("ld_imm64 half"))?;
                            d1.imm = d0.imm.wrapping_add(sym_off as i32);
                        }
                        let d = dst.get_mut(i).ok_or(Error::malformed("instruction"))?;
                        d.set_src(if matches!(r.kind, RelocKind::Map { .. }) {
                            uapi::BPF_PSEUDO_MAP_FD
                        } else {
                            uapi::BPF_PSEUDO_MAP_VALUE
                        });
                        d.imm = 0;
                        let site = FdSite {
                            insn: bytes::u32_of(dst_start.saturating_add(i))?,
                            map,
                            module: 0,
                        };
                        *self
                            .fd_sites
                            .get_mut(at.sites)
                            .ok_or(Error::malformed("fd sites"))? = site;
                        at.sites = at.sites.saturating_add(1);
                    }
                    RelocKind::Extern { ext, call } => {
                        let e = obj
                            .externs
                            .get(idx(ext))
                            .ok_or(Error::malformed("extern index"))?;
                        let st = self
                            .externs
                            .get(idx(ext))
                            .copied()
                            .ok_or(Error::malformed("extern index"))?;
                        let end = i.saturating_add(if call { 1 } else { 2 });
                        let slots = dst
                            .get_mut(i..end)
                            .ok_or(Error::malformed("extern relocation outside the program"))?;
                        let need = externs::apply(slots, ext, e, &st, call)
                            .ctx(Ctx::Extern(e.name))
                            .ctx(rc)
                            .ctx(c)?;
                        let site = match need {
                            FdNeed::None => None,
                            FdNeed::Kconfig => {
                                let map = obj
                                    .maps
                                    .iter()
                                    .position(|m| m.kind == MapKind::Kconfig)
                                    .ok_or(Error::malformed(
                                        "kconfig extern without .kconfig map",
                                    ))?;
                                Some(FdSite {
                                    insn: bytes::u32_of(dst_start.saturating_add(i))?,
                                    map: bytes::u32_of(map)?,
                                    module: 0,
                                })
                            }
                            // The second half of the ld_imm64.
                            FdNeed::ModuleBtf(module) => Some(FdSite {
                                insn: bytes::u32_of(dst_start.saturating_add(i).saturating_add(1))?,
                                map: 0,
                                module,
                            }),
                        };
                        if let Some(site) = site {
                            *self
                                .fd_sites
                                .get_mut(at.sites)
                                .ok_or(Error::malformed("fd sites"))? = site;
                            at.sites = at.sites.saturating_add(1);
                        }
                    }
                    RelocKind::SubprogAddr { .. } => {
                        let d = dst.get(i).ok_or(Error::malformed("instruction"))?;
                        if d.src() != uapi::BPF_PSEUDO_FUNC {
                            return Err(Error::malformed(
                                "callback relocation on a bad instruction",
                            )
                            .ctx(rc)
                            .ctx(c));
                        }
                    }
                    RelocKind::Call { .. } | RelocKind::None => {}
                }
            }
        }
        at.insns = base.saturating_add(idx(len));

        let (func_info, line_info) = self.write_info(l, exti, at)?;

        let mut expected_attach_type = spec.expected_attach_type;
        let attach = match (spec.btf_source, spec.btf_target) {
            // The caller's program, given for this one: its function, whatever the
            // section names (libbpf's attach_prog_fd); the kernel takes one for these.
            _ if target.is_some() => {
                if spec.prog_type != uapi::BPF_PROG_TYPE_EXT
                    && spec.prog_type != uapi::BPF_PROG_TYPE_TRACING
                {
                    return Err(Error::new(Kind::Unsupported(
                        "a target program for other than freplace, fentry, fexit and \
                         fmod_ret programs",
                    )));
                }
                target.map(|type_id| KernelType { module: 0, type_id })
            }
            (BtfSource::Kernel, Some(t)) => {
                let k = kbtf.ok_or(Error::new(Kind::Unsupported(
                    "program needs kernel BTF to find its attach target",
                )))?;
                let kind = if t.kind == btf::BTF_KIND_TYPEDEF {
                    BtfKind::Typedef
                } else {
                    BtfKind::Func
                };
                let found = find_attach(k, &mut self.module_list, t.module, t.prefix, t.name, kind)
                    .ctx(Ctx::Symbol(t.name))?;
                Some(found)
            }
            (BtfSource::None, _) => None,
            // libbpf's "no BTF-based attach target is specified" (EINVAL).
            (BtfSource::Kernel, None) => {
                return Err(Error::malformed(
                    "no BTF attach target: the section must name one, as in \
                     'fentry/<function>', or the caller give a target program",
                )
                .ctx(Ctx::Section(main.sec_name)))
            }
            // EINVAL, as libbpf's "attach program FD is not set".
            (BtfSource::TargetProg, _) => {
                return Err(Error::new(Kind::Mismatch(
                    "an freplace program needs a target program from the caller (the \
                     load options' attach)",
                )))
            }
            (BtfSource::StructOpsMap, _) => {
                let (type_id, member, module) = st_attach.ok_or(Error::malformed(
                    "struct_ops program is not referenced by any struct_ops map",
                ))?;
                expected_attach_type = member;
                Some(KernelType { module, type_id })
            }
        };

        Ok(PlannedProg {
            prog: m,
            name: main.name,
            sec_name: main.sec_name,
            kname: crate::object::kname(main.name),
            prog_type: spec.prog_type,
            expected_attach_type,
            prog_flags: spec.prog_flags,
            attach,
            attach_prog: target.is_some(),
            insns: Span {
                start: bytes::u32_of(base)?,
                len,
            },
            sites: Span {
                start: bytes::u32_of(sites_base)?,
                len: bytes::u32_of(at.sites.saturating_sub(sites_base))?,
            },
            func_info,
            line_info,
            core_relos: Span::default(),
            core_poison,
        })
    }

    /// func_info and line_info of the laid-out program, rebased, libbpf's way: if the
    /// entry program itself has none of a kind, that kind is dropped for the whole
    /// program; if it has some, every appended subprogram must have some too.
    #[inline(never)]
    fn write_info(
        &mut self,
        l: &Linker<'o, 'a, A>,
        exti: &ExtIndex<A>,
        at: &mut Sizes,
    ) -> Result<'a, (Span, Span)> {
        if self.obj.btf_ext.is_none() {
            return Ok((Span::default(), Span::default()));
        }
        let fi_start = at.func_info;
        let li_start = at.line_info;
        let mut fi_on = true;
        let mut li_on = true;
        for k in 0..l.n_order {
            let f = *l.order.get(k).ok_or(Error::malformed("order"))?;
            let p = *l.prog(f)?;
            let adj = i64::from(l.off(f)?).saturating_sub(i64::from(p.insn_off));
            let rebase = |idx: u32| {
                u32::try_from(i64::from(idx).saturating_add(adj))
                    .map_err(|_| Error::malformed("info offset"))
            };
            if fi_on {
                let mut n: usize = 0;
                for r in exti.func_info.of(f) {
                    let d = self
                        .func_info
                        .get_mut(at.func_info)
                        .ok_or(Error::malformed("func_info count"))?;
                    *d = [rebase(r.insn_idx())?, r.type_id];
                    at.func_info = at.func_info.saturating_add(1);
                    n = n.saturating_add(1);
                }
                if n == 0 && k == 0 {
                    fi_on = false;
                } else if n == 0 {
                    return Err(
                        Error::new(Kind::NotFound(".BTF.ext function info")).ctx(Ctx::Prog(p.name))
                    );
                }
            }
            if li_on {
                let mut n: usize = 0;
                for r in exti.line_info.of(f) {
                    let d = self
                        .line_info
                        .get_mut(at.line_info)
                        .ok_or(Error::malformed("line_info count"))?;
                    *d = [
                        rebase(r.insn_idx())?,
                        r.file_name_off,
                        r.line_off,
                        r.line_col,
                    ];
                    at.line_info = at.line_info.saturating_add(1);
                    n = n.saturating_add(1);
                }
                if n == 0 && k == 0 {
                    li_on = false;
                } else if n == 0 {
                    return Err(
                        Error::new(Kind::NotFound(".BTF.ext line info")).ctx(Ctx::Prog(p.name))
                    );
                }
            }
        }
        Ok((
            Span {
                start: bytes::u32_of(fi_start)?,
                len: bytes::u32_of(at.func_info.saturating_sub(fi_start))?,
            },
            Span {
                start: bytes::u32_of(li_start)?,
                len: bytes::u32_of(at.line_info.saturating_sub(li_start))?,
            },
        ))
    }

    /// The CO-RE records of the laid-out program for the kernel to apply: offsets in
    /// bytes from the start of the program.
    fn write_core_relos(
        &mut self,
        l: &Linker<'o, 'a, A>,
        exti: &ExtIndex<A>,
        at: &mut Sizes,
    ) -> Result<'a, Span> {
        if self.obj.btf_ext.is_none() {
            return Ok(Span::default());
        }
        let start = at.core_relos;
        for k in 0..l.n_order {
            let f = *l.order.get(k).ok_or(Error::malformed("order"))?;
            let p = *l.prog(f)?;
            let base = l.off(f)?;
            for r in exti.core_relos.of(f) {
                let insn = base.saturating_add(r.insn_idx().saturating_sub(p.insn_off));
                let d = self
                    .core_relos
                    .get_mut(at.core_relos)
                    .ok_or(Error::malformed("core_relo count"))?;
                *d = [insn.saturating_mul(8), r.type_id, r.access_str_off, r.kind];
                at.core_relos = at.core_relos.saturating_add(1);
            }
        }
        Ok(Span {
            start: bytes::u32_of(start)?,
            len: bytes::u32_of(at.core_relos.saturating_sub(start))?,
        })
    }

    /// The map definitions as libbpf sends them to a 6.12 kernel.
    #[inline(never)]
    fn settle_maps(&mut self, kinfo: &KernelInfo, vtypes: &[(u32, u32, u32)]) -> Result<'a, ()> {
        let has_btf = self.obj.btf.is_some();
        let obj = self.obj;
        for (i, (m, pm)) in obj.maps.iter().zip(self.maps.iter_mut()).enumerate() {
            let mut def = m.def;
            if matches!(
                def.map_type,
                uapi::BPF_MAP_TYPE_RINGBUF | uapi::BPF_MAP_TYPE_USER_RINGBUF
            ) {
                def.max_entries = ringbuf_size(def.max_entries, kinfo.page_size);
            }
            if def.map_type == uapi::BPF_MAP_TYPE_PERF_EVENT_ARRAY && def.max_entries == 0 {
                def.max_entries = kinfo.possible_cpus;
            }
            // Map types whose key or value BTF the kernel refuses: libbpf sends none.
            let no_btf = matches!(
                def.map_type,
                uapi::BPF_MAP_TYPE_PERF_EVENT_ARRAY
                    | uapi::BPF_MAP_TYPE_CGROUP_ARRAY
                    | uapi::BPF_MAP_TYPE_STACK_TRACE
                    | uapi::BPF_MAP_TYPE_ARRAY_OF_MAPS
                    | uapi::BPF_MAP_TYPE_HASH_OF_MAPS
                    | uapi::BPF_MAP_TYPE_DEVMAP
                    | uapi::BPF_MAP_TYPE_DEVMAP_HASH
                    | uapi::BPF_MAP_TYPE_CPUMAP
                    | uapi::BPF_MAP_TYPE_XSKMAP
                    | uapi::BPF_MAP_TYPE_SOCKMAP
                    | uapi::BPF_MAP_TYPE_SOCKHASH
                    | uapi::BPF_MAP_TYPE_QUEUE
                    | uapi::BPF_MAP_TYPE_STACK
                    | uapi::BPF_MAP_TYPE_ARENA
            );
            // Inner map templates keep theirs (libbpf's fill_map_from_def): the kernel
            // needs them for kptrs, timers or list heads in inner values.
            if no_btf {
                def.key_type_id = 0;
                def.value_type_id = 0;
            }
            let mut vmlinux_value_type_id = 0;
            let mut value_type_module = 0;
            if m.kind == MapKind::StructOps {
                // libbpf sends the kernel's value type, not the object's.
                def.value_type_id = 0;
                if let Some(&(vt, size, module)) = vtypes.get(i) {
                    vmlinux_value_type_id = vt;
                    value_type_module = module;
                    def.value_size = size;
                }
            }
            *pm = PlannedMap {
                def,
                with_btf: has_btf && !no_btf,
                create: m.autocreate,
                vmlinux_value_type_id,
                value_type_module,
            };
        }
        Ok(())
    }

    /// Slots must point at maps and loaded programs of this plan.
    fn check_slots(&self, load: &[bool]) -> Result<'a, ()> {
        for s in self.obj.slots.iter() {
            let map = self
                .obj
                .maps
                .get(idx(s.map))
                .ok_or(Error::malformed("slot map"))?;
            match s.target {
                SlotTarget::Prog(p) => {
                    let prog = self
                        .obj
                        .progs
                        .get(idx(p))
                        .ok_or(Error::malformed("slot program"))?;
                    if !load.get(idx(p)).copied().unwrap_or(false) {
                        return Err(Error::malformed(
                            "prog array slot refers to a program that is not loaded",
                        )
                        .ctx(Ctx::Prog(prog.name))
                        .ctx(Ctx::Map(map.name)));
                    }
                }
                SlotTarget::Map(t) => {
                    if self.obj.maps.get(idx(t)).is_none() {
                        return Err(Error::malformed("slot target map").ctx(Ctx::Map(map.name)));
                    }
                }
                SlotTarget::None => {}
            }
        }
        Ok(())
    }

    /// Index in [`Plan::progs`] of object program `prog`.
    pub fn planned_index(&self, prog: u32) -> Option<usize> {
        self.progs.iter().position(|p| p.prog == prog)
    }

    /// Final instructions of `p`.
    pub fn prog_insns(&self, p: &PlannedProg<'_>) -> &[Insn] {
        p.insns.of(&self.insns)
    }

    /// Final instructions of `p`, mutable (the executor writes map fds at its sites).
    pub fn prog_insns_mut(&mut self, p: &PlannedProg<'_>) -> &mut [Insn] {
        p.insns.of_mut(&mut self.insns)
    }

    /// The kernel modules whose BTF the programs use, in the order they were found.
    pub fn modules(&self) -> &[PlannedModule<'a>] {
        self.module_list.as_slice()
    }

    /// Map fd sites of `p`.
    pub fn prog_sites(&self, p: &PlannedProg<'_>) -> &[FdSite] {
        p.sites.of(&self.fd_sites)
    }

    /// func_info of `p`.
    pub fn prog_func_info(&self, p: &PlannedProg<'_>) -> &[FuncInfoRec] {
        p.func_info.of(&self.func_info)
    }

    /// line_info of `p`.
    pub fn prog_line_info(&self, p: &PlannedProg<'_>) -> &[LineInfoRec] {
        p.line_info.of(&self.line_info)
    }

    /// Whether struct_ops map `st` is created by this load (`Some`), and then whether it
    /// is made for a link (`SEC(".struct_ops.link")`, `BPF_F_LINK`).
    pub fn st_created(&self, st: &StOpsPlan) -> Option<bool> {
        let i = usize::try_from(st.map).ok()?;
        let m = self.obj.maps.get(i)?;
        self.maps
            .get(i)
            .filter(|pm| pm.create)
            .map(|_| m.def.map_flags & crate::uapi::BPF_F_LINK != 0)
    }

    /// The value of struct_ops map `st` without its program fds, and where they go.
    pub fn st_value(&self, st: &StOpsPlan) -> (&[u8], &[StOpsSlot]) {
        (st.value.of(&self.st_values), st.funcs.of(&self.st_funcs))
    }

    /// CO-RE records of `p` for the kernel (empty unless [`CoreMode::Kernel`]).
    pub fn prog_core_relos(&self, p: &PlannedProg<'_>) -> &[CoreReloRec] {
        p.core_relos.of(&self.core_relos)
    }

    /// The receipt of this plan (what [`Plan::build_with`] stores in [`Plan::receipt`]
    /// unless [`Options::defer_receipt`]): a SHA-256 over everything the plan sends, fd
    /// sites holding map indices. Reads the plan only.
    pub fn compute_receipt(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let u32s = |h: &mut Sha256, v: &[u32]| v.iter().for_each(|x| h.update(x.to_le_bytes()));
        let bytes_ = |h: &mut Sha256, b: &[u8]| {
            h.update((b.len() as u64).to_le_bytes());
            h.update(b);
        };
        h.update(b"bpfld-receipt-v1\0");
        bytes_(&mut h, &self.obj.license);
        u32s(&mut h, &[self.kern_version]);
        bytes_(
            &mut h,
            self.obj.btf.as_ref().map(|b| b.data()).unwrap_or_default(),
        );
        u32s(
            &mut h,
            &[bytes::u32_of(self.maps.len()).unwrap_or(u32::MAX)],
        );
        for (m, pm) in self.obj.maps.iter().zip(self.maps.iter()) {
            let d = pm.def;
            bytes_(&mut h, &m.kname);
            u32s(
                &mut h,
                &[
                    m.kind as u32,
                    d.map_type,
                    d.key_size,
                    d.value_size,
                    d.max_entries,
                    d.map_flags,
                    d.numa_node,
                    d.key_type_id,
                    d.value_type_id,
                    u32::from(pm.with_btf),
                    m.inner.unwrap_or(u32::MAX),
                ],
            );
            h.update(d.map_extra.to_le_bytes());
            // struct_ops: the kernel's value type and whose BTF it is in (other
            // maps hash as before).
            if pm.vmlinux_value_type_id != 0 {
                u32s(&mut h, &[pm.vmlinux_value_type_id, pm.value_type_module]);
            }
            bytes_(
                &mut h,
                if m.kind == MapKind::Kconfig {
                    &self.kconfig
                } else {
                    m.data
                },
            );
        }
        for s in self.obj.slots.iter() {
            let (k, t) = match s.target {
                SlotTarget::Map(t) => (1, t),
                SlotTarget::Prog(t) => (2, t),
                SlotTarget::None => (0, 0),
            };
            u32s(&mut h, &[s.map, s.index, k, t]);
        }
        for st in self.st_maps.iter() {
            u32s(&mut h, &[st.map]);
            bytes_(&mut h, st.value.of(&self.st_values));
            for f in st.funcs.of(&self.st_funcs) {
                u32s(&mut h, &[f.offset, f.prog]);
            }
        }
        for p in self.progs.iter() {
            bytes_(&mut h, &p.kname);
            let (module, type_id) = p.attach.map(|a| (a.module, a.type_id)).unwrap_or((0, 0));
            // No module has this slot: the type is the caller's target program's.
            let module = if p.attach_prog { u32::MAX } else { module };
            u32s(
                &mut h,
                &[
                    p.prog_type,
                    p.expected_attach_type,
                    p.prog_flags,
                    module,
                    type_id,
                    p.insns.len,
                ],
            );
            let insns = self.prog_insns(p);
            let mut site_map = self.prog_sites(p).iter().peekable();
            for (i, ins) in insns.iter().enumerate() {
                let mut ins = *ins;
                let here = u64::from(p.insns.start).saturating_add(i as u64);
                if let Some(s) = site_map.peek() {
                    if u64::from(s.insn) == here {
                        ins.imm = if s.module != 0 {
                            s.module as i32
                        } else {
                            s.map as i32
                        };
                        site_map.next();
                    }
                }
                h.update(ins.to_bytes());
            }
            self.prog_func_info(p).iter().for_each(|r| u32s(&mut h, r));
            self.prog_line_info(p).iter().for_each(|r| u32s(&mut h, r));
            self.prog_core_relos(p).iter().for_each(|r| u32s(&mut h, r));
        }
        // Plans of vmlinux alone hash as before modules were known.
        for m in self.modules() {
            bytes_(&mut h, m.name().as_bytes());
            let (p, s) = m.lookup_name();
            bytes_(&mut h, p.as_bytes());
            bytes_(&mut h, s.as_bytes());
            u32s(&mut h, &[m.kind, m.type_id, m.fd_idx]);
        }
        h.finalize().into()
    }
}

/// An `ld_imm64` of the file that names a map or a BTF object by file descriptor (or by
/// an index into `fd_array`) without a relocation making it one of the object's maps:
/// libbpf would hand the number to the kernel as a descriptor of its caller's, and in
/// bpfld's loading thread it would name whatever that descriptor is in the thread's
/// table, e.g. another load's map. Refused (found by the fuzzer: seed 7, input 35,579).
fn no_raw_fds<A: Alloc>(obj: &Object<'_, A>, p: &Prog<'_>) -> Result<'static, ()> {
    let relocated = |i: u32| {
        obj.prog_relo_at(p, i).is_some_and(|r| {
            // A callback's address too: the link writes its src_reg, as libbpf
            // marks every RELO_SUBPROG_ADDR instruction BPF_PSEUDO_FUNC first.
            matches!(
                r.kind,
                RelocKind::Map { .. }
                    | RelocKind::Data { .. }
                    | RelocKind::Extern { .. }
                    | RelocKind::SubprogAddr { .. }
            )
        })
    };
    let mut i = 0u32;
    while i < p.insn_cnt {
        let Some(ins) = p.insn(i) else { break };
        if !ins.is_ld_imm64() {
            // A kfunc call's off indexes fd_array, which bpfld passes when the object
            // calls a module's kfuncs: as long as the kfuncs that relocations name need
            // and no longer. The kernel reads the index without checking it against
            // anything (a kernel buffer is not bounded as a user one is).
            if ins.code == uapi::CALL
                && ins.src() == uapi::BPF_PSEUDO_KFUNC_CALL
                && ins.off != 0
                && !relocated(i)
            {
                return Err(Error::new(Kind::Unsupported(
                    "kfunc call names a module BTF by fd_array index without a relocation",
                ))
                .ctx(Ctx::Insn(i)));
            }
            i = i.saturating_add(1);
            continue;
        }
        let why = match ins.src() {
            uapi::BPF_PSEUDO_MAP_FD | uapi::BPF_PSEUDO_MAP_VALUE => Some(
                "ld_imm64 names a map by file descriptor without a relocation (a descriptor \
                 in the file means nothing to a loader in the kernel)",
            ),
            uapi::BPF_PSEUDO_MAP_IDX | uapi::BPF_PSEUDO_MAP_IDX_VALUE => Some(
                "ld_imm64 names a map by fd_array index without a relocation (bpfld's \
                 fd_array holds only the module BTFs of relocated kfunc calls)",
            ),
            // The second half's imm is the BTF object's fd (0: vmlinux).
            uapi::BPF_PSEUDO_BTF_ID
                if p.insn(i.saturating_add(1)).is_some_and(|hi| hi.imm != 0) =>
            {
                Some("ld_imm64 names a BTF object by file descriptor without a relocation")
            }
            _ => None,
        };
        if let Some(why) = why.filter(|_| !relocated(i)) {
            return Err(Error::new(Kind::Unsupported(why)).ctx(Ctx::Insn(i)));
        }
        i = i.saturating_add(2);
    }
    Ok(())
}

/// CO-RE outcomes, resolved once per relocation record in `.BTF.ext` order (so that
/// candidates narrow as in libbpf), applied to every copy of the instruction's function.
struct CoreRelos<A: Alloc> {
    /// Sorted by (section index, instruction index in the section).
    outcomes: A::Buf<CoreAt>,
}

/// A resolved CO-RE record: where it applies and what to do there.
#[derive(Clone, Copy, Debug, Default)]
struct CoreAt {
    sec: u32,
    insn: u32,
    /// The function it is in ([`Object::progs`] index).
    prog: u32,
    /// Its index among its section's records (libbpf's `relo #N`).
    relo: u32,
    out: CoreOutcome,
}

impl<A: Alloc> CoreRelos<A> {
    #[inline(never)]
    fn resolve<'o, 'a>(
        obj: &'o Object<'a, A>,
        load: &[bool],
        kbtf: Option<&dyn KernelBtf>,
        alloc: &mut A,
    ) -> Result<'o, Self> {
        let (Some(ext), Some(btf)) = (obj.btf_ext.as_ref(), obj.btf.as_ref()) else {
            return Ok(CoreRelos {
                outcomes: alloc.alloc(0)?,
            });
        };
        let info = ext.core_relos();
        let total = usize::try_from(info.num_records()).unwrap_or(usize::MAX);
        if total == 0 {
            return Ok(CoreRelos {
                outcomes: alloc.alloc(0)?,
            });
        }
        let (target, modules) = kbtf
            .and_then(|k| Some((k.core_target()?, k.core_modules())))
            .ok_or(Error::new(Kind::Unsupported(
                "CO-RE relocations need the kernel's BTF",
            )))?;
        let mut relocator = CoreRelocator::new(target, &[], alloc, total)?;
        if let Some(m) = modules {
            relocator.set_lazy_modules(m);
        }
        let mut tmp = alloc.alloc::<CoreAt>(total)?;
        let mut n = 0usize;
        for block in info.blocks() {
            let sec_name = btf.name_at(block.sec_name_off)?;
            // libbpf: EINVAL; an unknown name's records are skipped, as below.
            if sec_name.is_empty() {
                return Err(
                    Error::malformed("CO-RE relocations of a section with no name")
                        .ctx(Ctx::Section(".BTF.ext")),
                );
            }
            let Some(sec) = obj.sec_names.find(&obj.elf, sec_name) else {
                continue;
            };
            for (i, r) in block.records().enumerate() {
                let relo_idx = bytes::u32_of(i)?;
                let insn = r.insn_idx();
                // Records of code that belongs to no function (libbpf skips them too),
                // and of programs that will not be loaded.
                let Some(pi) = obj.prog_at(sec.index, u64::from(insn)) else {
                    continue;
                };
                let p = obj
                    .progs
                    .get(idx(pi))
                    .ok_or(Error::malformed("program index"))?;
                if !p.is_subprog() && !load.get(idx(pi)).copied().unwrap_or(false) {
                    continue;
                }
                let out = relocator
                    .resolve(btf, &r, relo_idx)
                    .ctx(Ctx::Prog(p.name))?;
                *tmp.get_mut(n)
                    .ok_or(Error::malformed("CO-RE record count"))? = CoreAt {
                    sec: sec.index,
                    insn,
                    prog: pi,
                    relo: relo_idx,
                    out,
                };
                n = n.saturating_add(1);
            }
        }
        // By instruction, and stably: the records of one instruction are applied in
        // their order in .BTF.ext, each checked against what the one before wrote, as
        // libbpf patches them one after the other in place.
        let used = tmp.get_mut(..n).unwrap_or_default();
        let mut outcomes = alloc.alloc::<CoreAt>(n)?;
        crate::util::radix_sort_by_u32(used, &mut outcomes, |r| r.insn);
        crate::util::radix_sort_by_u32(used, &mut outcomes, |r| r.sec);
        crate::util::copy(&mut outcomes, used);
        check_uncalled(obj, &outcomes)?;
        Ok(CoreRelos { outcomes })
    }

    /// Patch the CO-RE instructions of function `p`, freshly copied to `dst`; the
    /// first relocation that poisoned one, and that instruction in `dst`.
    fn apply(&self, p: &Prog<'_>, dst: &mut [Insn]) -> Result<'static, Option<(u32, u32)>> {
        let start = self
            .outcomes
            .partition_point(|r| (r.sec, r.insn) < (p.sec_idx, p.insn_off));
        let mut first = None;
        for r in self.outcomes.get(start..).unwrap_or_default() {
            if r.sec != p.sec_idx || r.insn >= p.insn_off.saturating_add(p.insn_cnt) {
                break;
            }
            let local = r.insn.saturating_sub(p.insn_off);
            let done = core_relo::patch(dst, idx(local), &r.out).ctx(Ctx::Insn(r.insn))?;
            if done == core_relo::Patched::Poisoned && first.is_none() {
                first = Some((r.relo, local));
            }
        }
        Ok(first)
    }
}

/// Patch copies of the CO-RE instructions of `.text` functions, for the errors only:
/// libbpf patches every function in place, called or not, so a failed patch (an
/// offset over 32767, an instruction without the local value) in a function no loaded
/// program calls fails the object there too. `outcomes` are sorted by instruction; the
/// records of one instruction patch one copy in turn, as libbpf's do the instruction.
fn check_uncalled<'a, A: Alloc>(obj: &Object<'a, A>, outcomes: &[CoreAt]) -> Result<'a, ()> {
    let mut copy = [Insn::default(); 2];
    let mut n = 0usize;
    let mut at = None;
    for &CoreAt {
        sec,
        insn,
        prog,
        ref out,
        ..
    } in outcomes
    {
        let Some(p) = obj.progs.get(idx(prog)).filter(|p| p.is_subprog()) else {
            continue;
        };
        let c = Ctx::Prog(p.name);
        if at != Some((sec, insn)) {
            at = Some((sec, insn));
            let local = insn.saturating_sub(p.insn_off);
            let first = p.insn(local).ok_or_else(|| {
                Error::malformed("CO-RE relocated instruction past the program's end")
                    .ctx(Ctx::Insn(insn))
                    .ctx(c)
            })?;
            // The second half of an ld_imm64, if the function has one more instruction.
            let next = p.insn(local.saturating_add(1));
            copy = [first, next.unwrap_or_default()];
            n = if next.is_some() { 2 } else { 1 };
        }
        core_relo::patch(copy.get_mut(..n).unwrap_or_default(), 0, out)
            .ctx(Ctx::Insn(insn))
            .ctx(c)?;
    }
    Ok(())
}

/// struct_ops resolution against kernel BTF (libbpf's `bpf_map__init_kern_struct_ops`
/// and `bpf_object_adjust_struct_ops_autoload`): vmlinux's types, else a module's.
struct StructOps<A: Alloc> {
    /// Effective autoload per object program.
    load: A::Buf<bool>,
    /// Per object program: (kernel struct type id, kernel member index, module slot:
    /// 0 for vmlinux) for struct_ops.
    attach: A::Buf<Option<(u32, u32, u32)>>,
    /// Per object map: (kernel value type id, value size, module slot) for struct_ops
    /// maps.
    vtypes: A::Buf<(u32, u32, u32)>,
    maps: A::Buf<StOpsPlan>,
    values: A::Buf<u8>,
    funcs: A::Buf<StOpsSlot>,
}

/// What libbpf's `find_struct_ops_kern_types` finds for a local struct_ops type name.
struct KernStOps {
    type_id: u32,
    vtype_id: u32,
    vsize: u32,
    data_off: u32,
    /// The module (its place in [`KernelBtf::core_modules`]) whose BTF has the types,
    /// `None` for vmlinux.
    module: Option<usize>,
}

/// The kernel's struct_ops type for local `tname` and its `bpf_struct_ops_<type>`
/// wrapper, as libbpf's `find_struct_ops_kern_types` finds them: the wrapper first, in
/// vmlinux (looked up through `kb`'s index, read through `vmlinux`), else in the first
/// module whose own types have it (`find_ksym_btf_id`), then the type in that BTF (a
/// module's split BTF includes vmlinux's types).
fn kern_st_ops_types(
    kb: &dyn KernelBtf,
    vmlinux: &dyn Types,
    tname: &str,
) -> Result<'static, KernStOps> {
    // The kernel type has the essential name: up to the last ___flavor separator, as
    // libbpf's bpf_core_essential_name_len() cuts it (`ops___a___b` looks up `ops___a`).
    let ess = crate::core_relo::essential_name(tname);
    let mut buf = [0u8; limits::MAX_NAME_LEN];
    let prefix = b"bpf_struct_ops_";
    let full = prefix.len().saturating_add(ess.len());
    let dst = buf
        .get_mut(..full)
        .ok_or(Error::malformed("struct_ops type name too long"))?;
    let (a, b) = dst.split_at_mut(prefix.len());
    crate::util::copy(a, prefix);
    crate::util::copy(b, ess.as_bytes());
    let vname = core::str::from_utf8(dst).map_err(|_| Error::malformed("struct_ops type name"))?;
    let in_vmlinux = |name: &str| kb.find(name, BtfKind::Struct).map(|t| t.type_id);
    let no_type = || Error::new(Kind::NotFound("struct_ops type in kernel BTF"));
    if let Some(vtype_id) = in_vmlinux(vname) {
        let type_id = in_vmlinux(ess).ok_or_else(no_type)?;
        return kern_st_ops_data(vmlinux, type_id, vtype_id, None);
    }
    let Some(found) = find_in_modules(kb, None, vname, BtfKind::Struct)? else {
        // Which of the two the kernel lacks.
        let has_type =
            in_vmlinux(ess).is_some() || find_in_modules(kb, None, ess, BtfKind::Struct)?.is_some();
        return Err(if has_type {
            Error::new(Kind::NotFound("bpf_struct_ops_<type> in kernel BTF"))
        } else {
            no_type()
        });
    };
    let mods = kb
        .core_modules()
        .ok_or(Error::malformed("module without module BTFs"))?;
    let m = mods.module(found.index)?;
    let type_id = m
        .find_own(ess, BtfKind::Struct)
        .or_else(|| in_vmlinux(ess))
        .ok_or_else(no_type)?;
    kern_st_ops_data(m.types(), type_id, found.type_id, Some(found.index))
}

/// [`kern_st_ops_types`] once both types are found: the data member's offset in the
/// wrapper `vtype_id`, read through `k`.
fn kern_st_ops_data(
    k: &dyn Types,
    type_id: u32,
    vtype_id: u32,
    module: Option<usize>,
) -> Result<'static, KernStOps> {
    let vt = k.type_by_id(vtype_id)?;
    let data = vt
        .members()?
        .find(|m| m.type_id == type_id)
        .ok_or(Error::new(Kind::NotFound(
            "data member of bpf_struct_ops_<type>",
        )))?;
    Ok(KernStOps {
        type_id,
        vtype_id,
        vsize: vt.size().unwrap_or(0),
        data_off: data.bit_offset / 8,
        module,
    })
}

/// Final autoload of struct_ops programs, from the slot references counted by
/// [`StructOps::resolve`] (see there).
fn settle_st_ops_load<A: Alloc>(obj: &Object<'_, A>, load: &mut [bool], refs: &[(u32, u32)]) {
    for (i, (l, p)) in load.iter_mut().zip(obj.progs.iter()).enumerate() {
        if p.spec
            .is_none_or(|s| s.prog_type != uapi::BPF_PROG_TYPE_STRUCT_OPS)
        {
            continue;
        }
        let (all, created) = refs.get(i).copied().unwrap_or((0, 0));
        if all > 0 {
            *l = created > 0;
        }
    }
}

impl<A: Alloc> StructOps<A> {
    #[inline(never)]
    fn resolve<'a>(
        obj: &Object<'a, A>,
        kbtf: Option<&dyn KernelBtf>,
        modules: &mut ModuleList<'a, A>,
        alloc: &mut A,
    ) -> Result<'a, Self> {
        let n_progs = obj.progs.len();
        let mut load = alloc.alloc::<bool>(n_progs)?;
        for (l, p) in load.iter_mut().zip(obj.progs.iter()) {
            *l = !p.is_subprog() && p.autoload;
        }
        let mut attach = alloc.alloc::<Option<(u32, u32, u32)>>(n_progs)?;
        let mut vtypes = alloc.alloc::<(u32, u32, u32)>(obj.maps.len())?;
        let st_maps = || {
            obj.maps
                .iter()
                .enumerate()
                .filter(|(_, m)| m.kind == MapKind::StructOps && m.autocreate)
        };
        let n_maps = st_maps().count();
        // libbpf's bpf_object_adjust_struct_ops_autoload(): a struct_ops program that
        // struct_ops map slots refer to is loaded iff one of those maps is created; one
        // no slot refers to keeps its autoload and fails to plan ("not referenced").
        // `refs[p]` = (slots of any map, slots of created maps).
        let mut refs = alloc.alloc::<(u32, u32)>(n_progs)?;
        for f in obj.st_ops_funcs.iter() {
            let created = obj.maps.get(idx(f.map)).is_some_and(|m| m.autocreate);
            if let Some(r) = refs.get_mut(idx(f.prog)) {
                r.0 = r.0.saturating_add(1);
                r.1 = r.1.saturating_add(u32::from(created));
            }
        }
        if n_maps == 0 {
            // No struct_ops map created: nothing to attach struct_ops programs to.
            settle_st_ops_load(obj, &mut load, &refs);
            return Ok(StructOps {
                load,
                attach,
                vtypes,
                maps: alloc.alloc(0)?,
                values: alloc.alloc(0)?,
                funcs: alloc.alloc(0)?,
            });
        }
        let (kb, vmlinux) = kbtf
            .and_then(|kb| Some((kb, kb.vmlinux()?)))
            .ok_or(Error::new(Kind::Unsupported(
                "struct_ops maps need the kernel's BTF",
            )))?;
        let btf = obj
            .btf
            .as_ref()
            .ok_or(Error::malformed("struct_ops without BTF"))?;
        // Sizes first.
        let mut total_value = 0usize;
        for (_, m) in st_maps() {
            let tname = obj
                .btf_strings
                .get(btf.type_by_id(m.st_type_id)?.name_off())?;
            let ks = kern_st_ops_types(kb, vmlinux, tname).ctx(Ctx::Map(m.name))?;
            total_value = total_value.saturating_add(idx(ks.vsize));
        }
        let n_funcs = obj.st_ops_funcs.len();
        let mut maps = alloc.alloc::<StOpsPlan>(n_maps)?;
        let mut values = alloc.alloc::<u8>(total_value)?;
        let mut funcs = alloc.alloc::<StOpsSlot>(n_funcs)?;
        let (mut vat, mut fat) = (0usize, 0usize);
        for (k_i, (mi, m)) in st_maps().enumerate() {
            let c = Ctx::Map(m.name);
            let lt = btf.type_by_id(m.st_type_id)?;
            let tname = obj.btf_strings.get(lt.name_off())?;
            let ks = kern_st_ops_types(kb, vmlinux, tname).ctx(c)?;
            // A module's types are read through its BTF (split on vmlinux), which the
            // programs and the map then name by fd.
            let held;
            let (k, module): (&dyn Types, u32) = match ks.module {
                None => (vmlinux, 0),
                Some(i) => {
                    let mods = kb
                        .core_modules()
                        .ok_or(Error::malformed("module without module BTFs"))?;
                    held = mods.module(i)?;
                    let found = ModuleType {
                        index: i,
                        type_id: ks.type_id,
                    };
                    let ess = crate::core_relo::essential_name(tname);
                    let slot = modules.add(kb, found, "", ess, BtfKind::Struct, false)?;
                    (held.types(), slot)
                }
            };
            let kt = k.type_by_id(ks.type_id)?;
            let vstart = vat;
            let fstart = fat;
            let value = values
                .get_mut(vat..vat.saturating_add(idx(ks.vsize)))
                .ok_or(Error::malformed("struct_ops value size"))?;
            vat = vat.saturating_add(idx(ks.vsize));
            *vtypes.get_mut(mi).ok_or(Error::malformed("map index"))? =
                (ks.vtype_id, ks.vsize, module);
            for (i, member) in lt.members()?.enumerate() {
                let mname = obj.btf_strings.get(member.name_off)?;
                let mc = Ctx::Symbol(mname);
                let moff = member.bit_offset / 8;
                let msize = btf.resolve_size(member.type_id).ctx(mc).ctx(c)?;
                let mdata =
                    bytes::slice(m.data, u64::from(moff), u64::from(msize)).ok_or_else(|| {
                        Error::malformed("struct_ops member outside its data")
                            .ctx(mc)
                            .ctx(c)
                    })?;
                let prog = obj
                    .st_ops_funcs
                    .iter()
                    .find(|f| idx(f.map) == mi && idx(f.member) == i)
                    .map(|f| f.prog);
                let mut kernel_member = None;
                for (ki, km) in kt.members()?.enumerate() {
                    // Bytes, not a checked string: only an equal name is used, and
                    // the kernel's type has a few dozen members to compare.
                    if k.name_eq_at(km.name_off, mname.as_bytes()) {
                        kernel_member = Some((ki, km));
                        break;
                    }
                }
                let Some((kidx, km)) = kernel_member else {
                    // libbpf skips zero members the kernel lacks. A member set to a
                    // program is not zero there: libbpf writes the program's pointer
                    // into the map's data when it collects the section's relocations,
                    // and refuses the member (ENOTSUP) in bpf_map__init_kern_struct_ops().
                    if mdata.iter().any(|&b| b != 0) || prog.is_some() {
                        return Err(Error::new(Kind::Unsupported(
                            "struct_ops member not in the kernel's type",
                        ))
                        .ctx(mc)
                        .ctx(c));
                    }
                    continue;
                };
                if member.bitfield_size != 0 || km.bitfield_size != 0 {
                    return Err(Error::new(Kind::Unsupported("struct_ops bitfield member"))
                        .ctx(mc)
                        .ctx(c));
                }
                let mt = btf.skip_mods_and_typedefs(member.type_id)?;
                let kmt = k.skip_mods_and_typedefs(km.type_id)?;
                // libbpf refuses these three with ENOTSUP, as a member it cannot
                // carry over.
                if mt.kind() != kmt.kind() {
                    return Err(Error::new(Kind::Unsupported(
                        "struct_ops member kind differs from the kernel's",
                    ))
                    .ctx(mc)
                    .ctx(c));
                }
                let koff = ks.data_off.saturating_add(km.bit_offset / 8);
                if mt.kind() == BtfKind::Ptr {
                    // libbpf reads a pointer member from the section, where it
                    // wrote the program's pointer for a relocated member: anything
                    // else not NULL is "not a struct_ops program" (ENOTSUP).
                    let Some(p) = prog else {
                        if mdata.iter().any(|&b| b != 0) {
                            return Err(Error::new(Kind::Unsupported(
                                "struct_ops pointer member set to something other than a program",
                            ))
                            .ctx(mc)
                            .ctx(c));
                        }
                        continue;
                    };
                    if k.skip_mods_and_typedefs(kmt.ref_type().unwrap_or(0))?
                        .kind()
                        != BtfKind::FuncProto
                    {
                        return Err(Error::new(Kind::Unsupported(
                            "kernel struct_ops member is not a function pointer",
                        ))
                        .ctx(mc)
                        .ctx(c));
                    }
                    let kidx = bytes::u32_of(kidx)?;
                    let slot = attach
                        .get_mut(idx(p))
                        .ok_or(Error::malformed("program index"))?;
                    match *slot {
                        None => *slot = Some((ks.type_id, kidx, module)),
                        Some(prev) if prev == (ks.type_id, kidx, module) => {}
                        Some(_) => {
                            return Err(Error::malformed(
                                "struct_ops program reused for a different type or member",
                            )
                            .ctx(mc)
                            .ctx(c))
                        }
                    }
                    *funcs
                        .get_mut(fat)
                        .ok_or(Error::malformed("struct_ops slots"))? = StOpsSlot {
                        offset: koff,
                        prog: p,
                    };
                    fat = fat.saturating_add(1);
                    continue;
                }
                let ksize = k.resolve_size(km.type_id)?;
                if ksize != msize {
                    return Err(Error::new(Kind::Unsupported(
                        "struct_ops member size differs from the kernel's",
                    ))
                    .ctx(mc)
                    .ctx(c));
                }
                value
                    .get_mut(idx(koff)..idx(koff).saturating_add(idx(msize)))
                    .ok_or(Error::malformed(
                        "struct_ops member outside the kernel value",
                    ))?
                    .iter_mut()
                    .zip(mdata)
                    .for_each(|(d, s)| *d = *s);
            }
            *maps
                .get_mut(k_i)
                .ok_or(Error::malformed("struct_ops maps"))? = StOpsPlan {
                map: bytes::u32_of(mi)?,
                value: Span {
                    start: bytes::u32_of(vstart)?,
                    len: ks.vsize,
                },
                funcs: Span {
                    start: bytes::u32_of(fstart)?,
                    len: bytes::u32_of(fat.saturating_sub(fstart))?,
                },
            };
        }
        settle_st_ops_load(obj, &mut load, &refs);
        let mut exact = alloc.alloc::<StOpsSlot>(fat)?;
        crate::util::copy(&mut exact, funcs.get(..fat).unwrap_or_default());
        Ok(StructOps {
            load,
            attach,
            vtypes,
            maps,
            values,
            funcs: exact,
        })
    }
}

/// Number of func_info, line_info and CO-RE records the laid-out program will carry.
fn info_counts<A: Alloc>(
    l: &Linker<'_, '_, A>,
    exti: &ExtIndex<A>,
) -> Result<'static, (usize, usize, usize)> {
    let (mut fi, mut li, mut cr) = (0usize, 0usize, 0usize);
    for k in 0..l.n_order {
        let f = *l.order.get(k).ok_or(Error::malformed("order"))?;
        fi = fi.saturating_add(exti.func_info.of(f).len());
        li = li.saturating_add(exti.line_info.of(f).len());
        cr = cr.saturating_add(exti.core_relos.of(f).len());
    }
    Ok((fi, li, cr))
}

/// libbpf's `find_kernel_btf_id`: `prefix + name` of `kind` in vmlinux (unless another
/// module is named), else in the first module (whose name starts with `module`, if
/// given) that has it, vmlinux's types first in a named one ([`find_in_modules`]);
/// such a module is added to `modules`.
fn find_attach<'a, A: Alloc>(
    k: &dyn KernelBtf,
    modules: &mut ModuleList<'a, A>,
    module: Option<&str>,
    prefix: &'static str,
    name: &'a str,
    kind: BtfKind,
) -> Result<'static, KernelType> {
    let missing = Error::new(Kind::NotFound("BTF attach target in the kernel"));
    let mut buf = [0u8; limits::MAX_NAME_LEN];
    let full = prefix.len().checked_add(name.len()).ok_or(missing)?;
    let dst = buf.get_mut(..full).ok_or(missing)?;
    let (a, b) = dst.split_at_mut(prefix.len());
    crate::util::copy(a, prefix.as_bytes());
    crate::util::copy(b, name.as_bytes());
    let s = core::str::from_utf8(dst).map_err(|_| missing)?;
    let vmlinux = module.is_none_or(|m| "vmlinux".starts_with(m));
    if vmlinux {
        if let Some(found) = k.find(s, kind) {
            return Ok(found);
        }
    }
    let found = find_in_modules(k, module, s, kind)?.ok_or(missing)?;
    let slot = modules.add(k, found, prefix, name, kind, false)?;
    if module.is_some() {
        modules.unshadow(k, slot, s, kind)?;
    }
    Ok(KernelType {
        module: slot,
        type_id: found.type_id,
    })
}

/// libbpf's `adjust_ringbuf_sz`: the kernel wants a power-of-2 multiple of the page size.
fn ringbuf_size(sz: u32, page: u32) -> u32 {
    if sz == 0 || page == 0 {
        return sz;
    }
    if sz.checked_rem(page) == Some(0) && sz.checked_div(page).is_some_and(u32::is_power_of_two) {
        return sz;
    }
    let mut mul: u32 = 1;
    while let Some(v) = mul.checked_mul(page) {
        if v > sz {
            return v;
        }
        match mul.checked_mul(2) {
            Some(m) => mul = m,
            None => break,
        }
    }
    sz
}

#[allow(dead_code)]
fn _unused(_: What) {}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4 KiB pages, two CPUs, 6.12.17.
    const KINFO: KernelInfo = KernelInfo {
        page_size: 4096,
        possible_cpus: 2,
        kernel_version: 0x060c11,
    };

    #[test]
    fn ringbuf_sizes() {
        assert_eq!(ringbuf_size(0, 4096), 0);
        assert_eq!(ringbuf_size(4096, 4096), 4096);
        assert_eq!(ringbuf_size(4097, 4096), 8192);
        assert_eq!(ringbuf_size(3 * 4096, 4096), 4 * 4096);
        assert_eq!(ringbuf_size(256 * 1024, 4096), 256 * 1024);
        assert_eq!(ringbuf_size(u32::MAX - 1, 4096), u32::MAX - 1);
    }

    /// An arena map with `__arena` globals, as the selftests declare them.
    fn arena_src(pages: u32, second: bool) -> std::string::String {
        std::format!(
            r#"
#define __arena_global SEC(".addr_space.1")
struct {{
    int (*type)[33];
    int (*map_flags)[1024];
    int (*max_entries)[{pages}];
    enum {{ __unique_value_1 = 0x40000000 }} map_extra; /* 1 << 44 in the selftests,
        which clang 14's 32-bit BTF enums turn into 0 */
}} arena SEC(".maps");
{}
int __arena_global first = 5;
long __arena_global second_var = 7;
SEC("syscall") int prog(void *ctx) {{ return first + (int)second_var; }}
"#,
            if second {
                "struct { int (*type)[33]; int (*map_flags)[1024]; \
                 int (*max_entries)[1]; } arena2 SEC(\".maps\");"
            } else {
                ""
            }
        )
    }

    /// Plan `src` (compiled as `name`, unique per test: tests run at once) for pages
    /// of 4 KiB and hand the plan or the error's text to `f`.
    fn plan_arena_of(
        name: &str,
        src: &str,
        f: impl FnOnce(core::result::Result<&Plan<'_, '_, crate::mem::VecAlloc>, std::string::String>),
    ) {
        use crate::object::externs::{compile_c, PRELUDE};
        let Some(data) = compile_c(name, &std::format!("{PRELUDE}{src}")) else {
            return;
        };
        let mut a = crate::mem::VecAlloc::default();
        let elf = crate::elf::Elf::parse(&data, &mut a).unwrap();
        let obj = match Object::parse(elf, "t", &mut a) {
            Ok(o) => o,
            Err(e) => return f(Err(std::format!("{e}"))),
        };
        match Plan::build_with(&obj, &KINFO, None, &Options::default(), &mut a) {
            Ok(p) => f(Ok(&p)),
            Err(e) => f(Err(std::format!("{e}"))),
        };
    }

    /// A CO-RE patch that fails in a function no loaded program calls fails the plan,
    /// as libbpf's in-place patch of every function does: `x` sits at 40,000 bytes in
    /// the kernel's `struct big`, past what a memory instruction's offset holds. A
    /// CO-RE block whose section name is empty fails too (libbpf's EINVAL).
    #[test]
    fn core_patch_failure_in_an_uncalled_function() {
        use crate::btf::testutil::{parse, VBtf, B};
        use crate::core_relo::{kernel_index_in, IndexEntry, KernelIndex, Target};
        use crate::mem::VecAlloc;
        use crate::object::externs::{compile_c, PRELUDE};
        struct Kern(VBtf, KernelIndex<std::vec::Vec<IndexEntry>>);
        impl KernelBtf for Kern {
            fn find(&self, _: &str, _: BtfKind) -> Option<KernelType> {
                None
            }
            fn core_target(&self) -> Option<Target<'_>> {
                Target::new(&self.0, &self.1).ok()
            }
        }
        let mut b = B::new();
        let int = b.int("int", 4, u32::from(crate::btf::BTF_INT_SIGNED), 32);
        b.struct_("big", 40_004, &[("x", int, 40_000 * 8)]);
        let btf = parse(b.build()).unwrap();
        let index = kernel_index_in(&btf, 1..btf.type_count(), &mut VecAlloc::default()).unwrap();
        let k = Kern(btf, index);
        let src = |called: bool| {
            std::format!(
                "struct big {{ int x; }} __attribute__((preserve_access_index));\n\
                 __attribute__((noinline)) int unused(struct big *b) {{ return b->x; }}\n\
                 SEC(\"syscall\") int prog(struct big *b) {{ return {}; }}\n",
                if called { "unused(b)" } else { "0" }
            )
        };
        // The plan's error (errno, text): planning must fail.
        let refused = |data: &[u8], what: &str| {
            let mut a = VecAlloc::default();
            let elf = crate::elf::Elf::parse(data, &mut a).unwrap();
            let obj = Object::parse(elf, "t", &mut a).unwrap();
            match Plan::build_with(&obj, &KINFO, Some(&k), &Options::default(), &mut a) {
                Ok(_) => panic!("planned {what}"),
                Err(e) => (e.errno(), std::format!("{e}")),
            }
        };
        for (name, called) in [("core_uncalled", false), ("core_called", true)] {
            let Some(mut data) = compile_c(name, &std::format!("{PRELUDE}{}", src(called))) else {
                return;
            };
            let (_, msg) = refused(&data, "with x's offset over 32767");
            assert!(
                msg.contains("does not fit a memory instruction") && msg.contains("unused"),
                "{name}: {msg}"
            );
            // The CO-RE block's section name made empty: EINVAL, as libbpf.
            let ext = data
                .windows(8)
                .position(|w| w == [0x9f, 0xeb, 1, 0, 32, 0, 0, 0])
                .expect(".BTF.ext");
            let word =
                |d: &[u8], o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap()) as usize;
            // Header, then the subsection's record size, then the first block's name.
            let block = ext + 32 + word(&data, ext + 24) + 4;
            data[block..block + 4].copy_from_slice(&0u32.to_le_bytes());
            let (errno, msg) = refused(&data, "with a CO-RE block naming no section");
            assert_eq!(errno, 22, "{msg}");
            assert!(msg.contains("section with no name"), "{name}: {msg}");
        }
    }

    /// libbpf 1.5's layout: the globals at the start of the arena; ld_imm64 of a
    /// global = the arena map's value at the global's offset.
    #[test]
    fn arena_globals_at_the_start() {
        plan_arena_of("arena_start", &arena_src(10, false), |p| {
            let p = p.unwrap();
            let a = p.arena.expect("arena planned");
            let m = &p.obj.maps[a.map as usize];
            assert_eq!(m.name, "arena");
            assert_eq!((a.len, a.addr), (40960, 0x4000_0000));
            // The section's bytes: 5 at 0, 7 at 8.
            assert_eq!(&m.data[..4], &5i32.to_le_bytes());
            assert_eq!(&m.data[8..16], &7i64.to_le_bytes());
            let ins = &p.insns[..];
            let offs: std::vec::Vec<i32> = p
                .fd_sites
                .iter()
                .filter(|s| s.map == a.map)
                .map(|s| {
                    let i = s.insn as usize;
                    assert_eq!(ins[i].src(), uapi::BPF_PSEUDO_MAP_VALUE);
                    ins[i + 1].imm
                })
                .collect();
            assert!(offs.contains(&0) && offs.contains(&8), "{offs:?}");
        });
    }

    #[test]
    fn arena_refusals() {
        // One page, and the globals need one: they fit.
        plan_arena_of("arena_fit", &arena_src(1, false), |p| {
            assert_eq!(p.unwrap().arena.unwrap().len, 4096);
        });
        // No page for them: E2BIG, as libbpf.
        plan_arena_of("arena_small", &arena_src(0, false), |p| {
            let e = p.err().unwrap();
            assert!(e.contains("map 'arena'") && e.contains("__arena"), "{e}");
        });
        // libbpf supports one arena per object.
        plan_arena_of("arena_two", &arena_src(10, true), |p| {
            let e = p.err().unwrap();
            assert!(
                e.contains("map 'arena2'") && e.contains("second ARENA"),
                "{e}"
            );
        });
        // Globals without an arena map.
        let src = "int x SEC(\".addr_space.1\") = 1;\n\
                   SEC(\"syscall\") int prog(void *ctx) { return x; }\n";
        plan_arena_of("arena_none", src, |p| {
            let e = p.err().unwrap();
            assert!(
                e.contains(".addr_space.1") && e.contains("ARENA map"),
                "{e}"
            );
        });
    }
}

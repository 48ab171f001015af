// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Maps of an object: BTF-defined maps in `.maps`, global data maps, and the initial
//! `.values` slots, as libbpf 6.12 reads them (`parse_btf_map_def`,
//! `bpf_object__init_global_data_maps`, `internal_map_name`, `map_is_mmapable`,
//! `bpf_object__collect_map_relos`).

use super::{find_by_name, index_by_name, Object, RawStrings, Slot, SlotTarget, StOpsFunc};
use crate::btf::{self, BtfKind, Type, Types};
use crate::bytes::{self, idx};
use crate::elf::{self, Section};
use crate::error::{Ctx, Error, Kind, Result, ResultExt};
use crate::limits;
use crate::mem::Alloc;
use crate::uapi;

/// `LIBBPF_PIN_NONE`.
pub const PIN_NONE: u32 = 0;
/// `LIBBPF_PIN_BY_NAME`: pin under the bpffs root by map name (done by user space).
pub const PIN_BY_NAME: u32 = 1;

/// Where a map comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapKind {
    /// A BTF-defined map in `.maps`.
    #[default]
    Btf,
    /// `.data` or `.data.*`.
    Data,
    /// `.rodata` or `.rodata.*`: read-only for programs, frozen after initialisation.
    Rodata,
    /// `.bss` or `.bss.*`: zero-initialised.
    Bss,
    /// `.kconfig` externs: read-only, frozen.
    Kconfig,
    /// The inner map template of a map-in-map (created only to shape the outer map).
    Inner,
    /// A struct_ops map (`.struct_ops`, `.struct_ops.link`): its value is built from the
    /// kernel's `bpf_struct_ops_<type>` at plan time.
    StructOps,
}

impl MapKind {
    /// A global data map (`.data`, `.rodata`, `.bss` and their `.*` variants).
    pub fn is_data(self) -> bool {
        matches!(self, MapKind::Data | MapKind::Rodata | MapKind::Bss)
    }
    /// Maps libbpf calls "internal": global data and kconfig.
    pub fn is_internal(self) -> bool {
        self.is_data() || self == MapKind::Kconfig
    }
}

/// A map definition, as `BPF_MAP_CREATE` needs it (before kernel-dependent adjustments:
/// ring buffer sizes and perf event array sizes are settled in the plan).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapDef {
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// NUMA node.
    pub numa_node: u32,
    /// `map_extra` (bloom filter hashes, arena address).
    pub map_extra: u64,
    /// [`PIN_NONE`] or [`PIN_BY_NAME`].
    pub pinning: u32,
    /// BTF type id of the key (0 if given by size only).
    pub key_type_id: u32,
    /// BTF type id of the value (for global data: the DATASEC).
    pub value_type_id: u32,
}

impl MapDef {
    /// About how many bytes `BPF_MAP_CREATE` allocates at once for this definition on a
    /// kernel with `cpus` possible CPUs (6.12's `*_map_alloc`: preallocated elements,
    /// bucket and pointer arrays, per-CPU values, ring buffer pages). Maps that allocate
    /// on update (`BPF_F_NO_PREALLOC` hashes' elements, LPM tries, local storage,
    /// arenas) count only what they allocate up front. The kernel module bounds the sum
    /// over in-flight loads with it, because its loading thread's allocations are ones
    /// the OOM killer cannot stop. Saturates instead of overflowing.
    pub fn memory_estimate(&self, cpus: u32) -> u64 {
        use uapi::*;
        let n = u64::from(self.max_entries);
        let key = round8(self.key_size);
        let value = round8(self.value_size);
        let cpus = u64::from(cpus.max(1));
        // struct htab_elem without key and value, and struct bucket (6.12, no lockdep).
        const HTAB_ELEM: u64 = 48;
        const BUCKET: u64 = 16;
        let buckets = n.checked_next_power_of_two().unwrap_or(u64::MAX);
        let prealloc = self.map_flags & BPF_F_NO_PREALLOC == 0;
        match self.map_type {
            BPF_MAP_TYPE_ARRAY => n.saturating_mul(value),
            BPF_MAP_TYPE_PERCPU_ARRAY => {
                n.saturating_mul(value.saturating_mul(cpus).saturating_add(8))
            }
            BPF_MAP_TYPE_PROG_ARRAY
            | BPF_MAP_TYPE_PERF_EVENT_ARRAY
            | BPF_MAP_TYPE_CGROUP_ARRAY
            | BPF_MAP_TYPE_ARRAY_OF_MAPS
            | BPF_MAP_TYPE_DEVMAP
            | BPF_MAP_TYPE_CPUMAP
            | BPF_MAP_TYPE_XSKMAP
            | BPF_MAP_TYPE_SOCKMAP
            | BPF_MAP_TYPE_REUSEPORT_SOCKARRAY => n.saturating_mul(8),
            BPF_MAP_TYPE_HASH | BPF_MAP_TYPE_HASH_OF_MAPS | BPF_MAP_TYPE_LRU_HASH => {
                let elems = if prealloc || self.map_type == BPF_MAP_TYPE_LRU_HASH {
                    n.saturating_mul(HTAB_ELEM.saturating_add(key).saturating_add(value))
                } else {
                    0
                };
                buckets.saturating_mul(BUCKET).saturating_add(elems)
            }
            BPF_MAP_TYPE_PERCPU_HASH | BPF_MAP_TYPE_LRU_PERCPU_HASH => {
                let elems = if prealloc || self.map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH {
                    let one = HTAB_ELEM
                        .saturating_add(key)
                        .saturating_add(8)
                        .saturating_add(value.saturating_mul(cpus));
                    n.saturating_mul(one)
                } else {
                    0
                };
                buckets.saturating_mul(BUCKET).saturating_add(elems)
            }
            BPF_MAP_TYPE_DEVMAP_HASH | BPF_MAP_TYPE_SOCKHASH => buckets.saturating_mul(BUCKET),
            BPF_MAP_TYPE_STACK_TRACE => {
                let bucket = 16u64.saturating_add(u64::from(self.value_size));
                buckets
                    .saturating_mul(8)
                    .saturating_add(n.saturating_mul(bucket))
            }
            BPF_MAP_TYPE_QUEUE | BPF_MAP_TYPE_STACK => n
                .saturating_add(1)
                .saturating_mul(u64::from(self.value_size)),
            BPF_MAP_TYPE_RINGBUF | BPF_MAP_TYPE_USER_RINGBUF => n,
            BPF_MAP_TYPE_BLOOM_FILTER => {
                let hashes = match self.map_extra & 0xf {
                    0 => 5,
                    h => h,
                };
                // bits = entries * hashes / ln 2, rounded up to a power of two.
                let bits = n.saturating_mul(hashes).saturating_mul(3) / 2;
                bits.checked_next_power_of_two().unwrap_or(u64::MAX) / 8
            }
            _ => 0,
        }
    }
}

fn round8(v: u32) -> u64 {
    u64::from(v).saturating_add(7) & !7
}

/// One map of the object.
#[derive(Clone, Copy, Debug, Default)]
pub struct Map<'a> {
    /// Full name: the BTF variable, or the ELF section for global data.
    pub name: &'a str,
    /// Name given to the kernel (at most 15 bytes, NUL-terminated).
    pub kname: [u8; uapi::BPF_OBJ_NAME_LEN],
    /// Where it comes from.
    pub kind: MapKind,
    /// ELF section it is defined in.
    pub sec_idx: u32,
    /// Offset of its definition in that section (BTF maps).
    pub sec_offset: u64,
    /// Size of its definition (BTF maps).
    pub def_size: u64,
    /// Byte offset of the `values` member inside the definition, if any.
    pub values_off: Option<u64>,
    /// The definition.
    pub def: MapDef,
    /// Initial contents (`.data`, `.rodata`); empty otherwise.
    pub data: &'a [u8],
    /// Index of the inner map template (map-in-map).
    pub inner: Option<u32>,
    /// Create this map (false for maps of `?.struct_ops` sections).
    pub autocreate: bool,
    /// For struct_ops maps: the local struct type (BTF id).
    pub st_type_id: u32,
}

impl Map<'_> {
    /// The kernel name as text.
    pub fn kname_str(&self) -> &str {
        crate::util::c_text(&self.kname).unwrap_or("?")
    }
}

/// Copy `s` into a kernel object name, truncated to 15 bytes.
pub(crate) fn kname(s: &str) -> [u8; uapi::BPF_OBJ_NAME_LEN] {
    kname_of(s.bytes())
}

/// The inner map template's kernel name: libbpf's `"<outer>.inner"`, truncated the same.
fn inner_kname(outer: &str) -> [u8; uapi::BPF_OBJ_NAME_LEN] {
    kname_of(outer.bytes().chain(*b".inner"))
}

fn kname_of(bytes: impl Iterator<Item = u8>) -> [u8; uapi::BPF_OBJ_NAME_LEN] {
    let mut out = [0u8; uapi::BPF_OBJ_NAME_LEN];
    for (d, c) in out
        .iter_mut()
        .take(uapi::BPF_OBJ_NAME_LEN.saturating_sub(1))
        .zip(bytes)
    {
        *d = c;
    }
    out
}

/// libbpf's `internal_map_name`: as much of the object name as fits before the section
/// name (whose first 7+ characters are always kept), or the section name alone for
/// custom `.data.foo`-style sections; characters the kernel refuses become `_`.
pub(crate) fn internal_map_name(obj_name: &str, real: &str) -> [u8; uapi::BPF_OBJ_NAME_LEN] {
    const MAX: usize = uapi::BPF_OBJ_NAME_LEN - 1;
    let sfx_len = real.len().clamp(7, MAX);
    let custom = real.get(1..).is_some_and(|rest| rest.contains('.'));
    let pfx_len = if custom {
        0
    } else {
        MAX.saturating_sub(sfx_len).min(obj_name.len())
    };
    let mut out = [0u8; uapi::BPF_OBJ_NAME_LEN];
    let chars = obj_name
        .bytes()
        .take(pfx_len)
        .chain(real.bytes().take(sfx_len));
    for (d, c) in out.iter_mut().take(MAX).zip(chars) {
        *d = if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            c
        } else {
            b'_'
        };
    }
    out
}

/// The struct_ops section flavours: (is `.link`, is `?` (not auto-created)).
/// The struct_ops section names, in [`st_ops_datasecs`] order.
const ST_OPS_SECTIONS: [&str; 4] = [
    ".struct_ops",
    ".struct_ops.link",
    "?.struct_ops",
    "?.struct_ops.link",
];

/// The DATASEC of each struct_ops section name (looked up once per name, not once per
/// section: a file may repeat a section name thousands of times).
fn st_ops_datasecs<B: Types>(btf: Option<&B>) -> Result<'static, [Option<u32>; 4]> {
    let mut out = [None; 4];
    if let Some(btf) = btf {
        for (o, name) in out.iter_mut().zip(ST_OPS_SECTIONS) {
            *o = btf.find_by_name_kind(name, BtfKind::Datasec)?;
        }
    }
    Ok(out)
}

/// The DATASEC of struct_ops section `name`, from [`st_ops_datasecs`].
fn st_ops_datasec(ids: &[Option<u32>; 4], name: &str) -> Option<u32> {
    let i = ST_OPS_SECTIONS.iter().position(|n| *n == name)?;
    ids.get(i).copied().flatten()
}

impl<A: Alloc> Object<'_, A> {
    /// Whether the file has a section of struct_ops maps (an unreadable section table
    /// counts as one: the question is whether the kernel's BTF may be needed).
    pub(crate) fn has_struct_ops_sections(&self) -> bool {
        self.elf
            .sections()
            .any(|s| s.map_or(true, |s| st_ops_section(&s).is_some()))
    }
}

/// The flavour of a struct_ops section: as libbpf's `bpf_object__elf_collect`, only a
/// non-empty `SHT_PROGBITS` section that is not executable is one.
fn st_ops_section(s: &Section<'_>) -> Option<(bool, bool)> {
    if s.kind() != elf::SHT_PROGBITS || s.size() == 0 || s.is_exec() {
        return None;
    }
    st_ops_kind(s.name)
}

fn st_ops_kind(name: &str) -> Option<(bool, bool)> {
    match name {
        ".struct_ops" => Some((false, false)),
        ".struct_ops.link" => Some((true, false)),
        "?.struct_ops" => Some((false, true)),
        "?.struct_ops.link" => Some((true, true)),
        _ => None,
    }
}

fn data_kind(s: &Section<'_>) -> Option<MapKind> {
    let has = |base: &str| {
        s.name == base
            || s.name
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    if s.kind() == elf::SHT_PROGBITS && !s.is_exec() && !s.data.is_empty() {
        if has(".data") {
            return Some(MapKind::Data);
        }
        if has(".rodata") {
            return Some(MapKind::Rodata);
        }
    }
    if s.kind() == elf::SHT_NOBITS && s.size() > 0 && has(".bss") {
        return Some(MapKind::Bss);
    }
    None
}

/// The object's arena map and its initial data (libbpf's `init_arena_map_data`): at
/// most one `BPF_MAP_TYPE_ARENA` map, which the global `__arena` variables of
/// `.addr_space.1` (`arena_sec`) need; their bytes become the map's `data`, which the
/// executor writes into the arena once it is mapped.
pub(super) fn attach_arena_data<'a, A: Alloc>(
    obj: &mut Object<'a, A>,
    arena_sec: Option<Section<'a>>,
) -> Result<'a, ()> {
    let mut arena = None;
    for (i, m) in obj.maps.iter().enumerate() {
        if m.def.map_type != uapi::BPF_MAP_TYPE_ARENA {
            continue;
        }
        if arena.is_some() {
            return Err(Error::new(Kind::Unsupported(
                "a second ARENA map (libbpf supports one per object)",
            ))
            .ctx(Ctx::Map(m.name)));
        }
        arena = Some(bytes::u32_of(i)?);
    }
    obj.arena_map = arena;
    let Some(s) = arena_sec else {
        return Ok(());
    };
    let c = Ctx::Section(s.name);
    let i = arena.ok_or_else(|| {
        Error::new(Kind::NotFound(
            "the ARENA map that global __arena variables need (declare one in .maps)",
        ))
        .ctx(c)
    })?;
    let m = obj
        .maps
        .get_mut(idx(i))
        .ok_or(Error::malformed("map index"))?;
    m.data = s.data;
    Ok(())
}

/// Collect BTF-defined maps (with inner templates right after their outer map), then
/// global data maps in section order.
#[inline(never)]
pub(super) fn collect<'a, A: Alloc>(obj: &mut Object<'a, A>, alloc: &mut A) -> Result<'a, ()> {
    let elf = &obj.elf;
    let st_ids = st_ops_datasecs(obj.btf.as_ref())?;
    let mut n_data = 0usize;
    for s in elf.sections() {
        let s = s?;
        if data_kind(&s).is_some() {
            n_data = n_data.saturating_add(1);
        }
        if st_ops_section(&s).is_some() {
            let btf = obj.btf.as_ref().ok_or_else(|| {
                Error::malformed("struct_ops without .BTF").ctx(Ctx::Section(s.name))
            })?;
            let id = st_ops_datasec(&st_ids, s.name).ok_or_else(|| {
                Error::new(Kind::NotFound("struct_ops DATASEC")).ctx(Ctx::Section(s.name))
            })?;
            n_data = n_data.saturating_add(usize::from(btf.type_by_id(id)?.vlen()));
        }
    }
    let mut n_btf = 0usize;
    let mut datasec = None;
    if let Some(shndx) = obj.maps_shndx {
        let btf = obj.btf.as_ref().ok_or_else(|| {
            Error::malformed("BTF-defined maps without .BTF").ctx(Ctx::Section(".maps"))
        })?;
        let id = btf
            .find_by_name_kind(".maps", BtfKind::Datasec)?
            .ok_or(Error::new(Kind::NotFound("DATASEC '.maps'")))?;
        let t = btf.type_by_id(id)?;
        n_btf = usize::from(t.vlen());
        datasec = Some((id, shndx));
    }
    // At least one map per BTF map definition and per data or struct_ops variable.
    let least = n_btf.saturating_add(n_data);
    if least > limits::MAX_MAPS {
        return Err(Error::limit("maps", least, limits::MAX_MAPS));
    }
    // Each BTF map may bring an inner template: allocate for the worst case, then
    // shrink to the exact count. One more for the kconfig map.
    let bound = n_btf
        .saturating_mul(2)
        .saturating_add(n_data)
        .saturating_add(1);
    let mut tmp = alloc.alloc::<Map<'a>>(bound)?;
    let mut n = 0usize;

    if let Some((id, shndx)) = datasec {
        push_btf_maps(obj, id, shndx, &mut tmp, &mut n)?;
    }
    push_data_maps(obj, &mut tmp, &mut n, alloc)?;
    push_st_ops_maps(obj, &st_ids, &mut tmp, &mut n)?;
    if n > limits::MAX_MAPS {
        return Err(Error::limit("maps", n, limits::MAX_MAPS));
    }
    let mut maps = alloc.alloc::<Map<'a>>(n)?;
    crate::util::copy(&mut maps, tmp.get(..n).unwrap_or_default());
    obj.maps = maps;
    Ok(())
}

fn push<'a>(tmp: &mut [Map<'a>], n: &mut usize, m: Map<'a>) -> Result<'a, u32> {
    let slot = tmp
        .get_mut(*n)
        .ok_or(Error::malformed("map count changed"))?;
    *slot = m;
    let idx = bytes::u32_of(*n)?;
    *n = n.saturating_add(1);
    Ok(idx)
}

/// BTF-defined maps of `.maps`, each followed by its inner map template.
#[inline(never)]
fn push_btf_maps<'a, A: Alloc>(
    obj: &mut Object<'a, A>,
    id: u32,
    shndx: u32,
    tmp: &mut [Map<'a>],
    n: &mut usize,
) -> Result<'a, ()> {
    let elf = &obj.elf;
    obj.maps_datasec = id;
    let sec = elf.section(shndx)?;
    let names = obj.btf_strings;
    let btf = obj.btf.as_ref().ok_or(Error::malformed("no BTF"))?;
    let t = btf.type_by_id(id)?;
    for (var_idx, vi) in t.secinfos()?.enumerate() {
        let (outer, inner) = btf_map(btf, names, &sec, vi)
            .ctx(Ctx::Value(crate::error::What::Index, var_idx as u64))?;
        let oi = push(tmp, n, outer)?;
        if let Some(inner) = inner {
            let ii = push(tmp, n, inner)?;
            if let Some(o) = tmp.get_mut(usize::try_from(oi).unwrap_or(usize::MAX)) {
                o.inner = Some(ii);
            }
        }
    }
    Ok(())
}

/// One array map per global data section, in section order.
#[inline(never)]
fn push_data_maps<'a, A: Alloc>(
    obj: &Object<'a, A>,
    tmp: &mut [Map<'a>],
    n: &mut usize,
    alloc: &mut A,
) -> Result<'a, ()> {
    let elf = &obj.elf;
    let ids = data_type_ids(obj, alloc)?;
    let find = |name: &str| {
        let k = ids.partition_point(|(n, _)| *n < name);
        ids.get(k)
            .filter(|(n, id)| *n == name && *id != 0)
            .map(|(_, id)| *id)
    };
    for s in elf.sections() {
        let s = s?;
        let Some(kind) = data_kind(&s) else { continue };
        if s.size() > limits::MAX_DATA_SECTION_SIZE {
            return Err(
                Error::limit("global data bytes", s.size(), limits::MAX_DATA_SECTION_SIZE)
                    .ctx(Ctx::Section(s.name)),
            );
        }
        let value_size =
            u32::try_from(s.size()).map_err(|_| Error::malformed("section too large"))?;
        let mut def = MapDef {
            map_type: uapi::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_flags: if kind == MapKind::Rodata {
                uapi::BPF_F_RDONLY_PROG
            } else {
                0
            },
            ..MapDef::default()
        };
        // Sections without a DATASEC (e.g. .rodata.str1.1 string literals) have no
        // value type and are not mmapable, exactly as in libbpf.
        if let Some(btf) = obj.btf.as_ref() {
            if let Some(id) = find(s.name) {
                def.value_type_id = id;
                if is_mmapable(btf.type_by_id(id)?, btf)? {
                    def.map_flags |= uapi::BPF_F_MMAPABLE;
                }
            }
        }
        push(
            tmp,
            n,
            Map {
                name: s.name,
                kname: internal_map_name(obj.name, s.name),
                kind,
                sec_idx: s.index,
                def,
                data: if kind == MapKind::Bss { &[] } else { s.data },
                autocreate: true,
                ..Map::default()
            },
        )?;
    }

    // The kconfig map (libbpf's `bpf_object__init_kconfig_map`): its contents come from
    // the plan, which resolves the values.
    let kcfg_size = super::externs::kconfig_size(&obj.externs);
    if kcfg_size > 0 {
        let mut def = MapDef {
            map_type: uapi::BPF_MAP_TYPE_ARRAY,
            key_size: 4,
            value_size: kcfg_size,
            max_entries: 1,
            map_flags: uapi::BPF_F_RDONLY_PROG,
            ..MapDef::default()
        };
        if let Some(btf) = obj.btf.as_ref() {
            if let Some(id) = find(btf::KCONFIG_SEC) {
                def.value_type_id = id;
                if is_mmapable(btf.type_by_id(id)?, btf)? {
                    def.map_flags |= uapi::BPF_F_MMAPABLE;
                }
            }
        }
        push(
            tmp,
            n,
            Map {
                name: btf::KCONFIG_SEC,
                kname: internal_map_name(obj.name, btf::KCONFIG_SEC),
                kind: MapKind::Kconfig,
                def,
                autocreate: true,
                ..Map::default()
            },
        )?;
    }

    Ok(())
}

/// struct_ops maps, one per variable of each struct_ops section, in section order.
#[inline(never)]
fn push_st_ops_maps<'a, A: Alloc>(
    obj: &Object<'a, A>,
    st_ids: &[Option<u32>; 4],
    tmp: &mut [Map<'a>],
    n: &mut usize,
) -> Result<'a, ()> {
    let elf = &obj.elf;
    for s in elf.sections() {
        let s = s?;
        let Some((link, optional)) = st_ops_section(&s) else {
            continue;
        };
        let names = obj.btf_strings;
        let btf = obj.btf.as_ref().ok_or(Error::malformed("no BTF"))?;
        let c = Ctx::Section(s.name);
        let ds = st_ops_datasec(st_ids, s.name)
            .ok_or_else(|| Error::new(Kind::NotFound("struct_ops DATASEC")).ctx(c))?;
        for vi in btf.type_by_id(ds)?.secinfos()? {
            let var = btf.type_by_id(vi.type_id)?;
            let var_name = names.get(var.name_off())?;
            let vc = Ctx::Map(var_name);
            let t = btf.skip_mods_and_typedefs(vi.type_id)?;
            let t = if t.kind() == BtfKind::Var {
                btf.skip_mods_and_typedefs(t.var()?.type_id)?
            } else {
                t
            };
            if names.get(t.name_off())?.is_empty() {
                return Err(Error::new(Kind::Unsupported("anonymous struct_ops type"))
                    .ctx(vc)
                    .ctx(c));
            }
            if t.kind() != BtfKind::Struct {
                return Err(Error::malformed("struct_ops variable is not a struct")
                    .ctx(vc)
                    .ctx(c));
            }
            let size = t.size().unwrap_or(0);
            let data =
                bytes::slice(s.data, u64::from(vi.offset), u64::from(size)).ok_or_else(|| {
                    Error::malformed("struct_ops variable beyond the end of its section")
                        .ctx(vc)
                        .ctx(c)
                })?;
            push(
                tmp,
                n,
                Map {
                    name: var_name,
                    kname: kname(var_name),
                    kind: MapKind::StructOps,
                    sec_idx: s.index,
                    sec_offset: u64::from(vi.offset),
                    def_size: u64::from(size),
                    def: MapDef {
                        map_type: uapi::BPF_MAP_TYPE_STRUCT_OPS,
                        key_size: 4,
                        value_size: size,
                        max_entries: 1,
                        map_flags: if link { uapi::BPF_F_LINK } else { 0 },
                        value_type_id: t.id(),
                        ..MapDef::default()
                    },
                    data,
                    autocreate: !optional,
                    st_type_id: t.id(),
                    ..Map::default()
                },
            )?;
        }
    }
    Ok(())
}

/// libbpf's `btf__find_by_name` (first type of any kind with that name) for every
/// global data section and `.kconfig` at once: (name, first id or 0), sorted by name.
/// One pass over the types instead of one per section.
fn data_type_ids<'a, A: Alloc>(
    obj: &Object<'a, A>,
    alloc: &mut A,
) -> Result<'a, A::Buf<(&'a str, u32)>> {
    let Some(btf) = obj.btf.as_ref() else {
        return alloc.alloc(0);
    };
    let names = || {
        obj.elf
            .sections()
            .flatten()
            .filter(|s| data_kind(s).is_some())
            .map(|s| s.name)
            .chain(core::iter::once(btf::KCONFIG_SEC))
    };
    let mut ids = alloc.alloc::<(&'a str, u32)>(names().count())?;
    for (slot, name) in ids.iter_mut().zip(names()) {
        *slot = (name, 0);
    }
    crate::util::sort_by_key(&mut ids, |(name, _)| *name);
    let strs = btf.strings();
    let heads = btf
        .raw_heads()
        .ok_or(Error::malformed("corrupt BTF index"))?;
    for head in heads.iter(btf.ids_dot_named())? {
        let (id, _, name_off) = head?;
        // Every name looked for starts with '.' (.data*, .rodata*, .bss*, .kconfig):
        // only the span of such names is visited (clang's DATASECs, last), and the
        // other types in it are out at their first byte. Names compare as bytes.
        if strs
            .tail(name_off)
            .is_some_and(|t| t.first().is_some_and(|&c| c != b'.'))
        {
            continue;
        }
        let t = btf.type_by_id(id)?;
        let Some(name) = t.name_bytes().filter(|n| n.first() == Some(&b'.')) else {
            continue;
        };
        let k = ids.partition_point(|(n, _)| n.as_bytes() < name);
        // Sections with the same name are set together, once: the first type wins.
        if ids
            .get(k)
            .is_none_or(|(n, first)| n.as_bytes() != name || *first != 0)
        {
            continue;
        }
        for (n, first) in ids.get_mut(k..).unwrap_or_default() {
            if n.as_bytes() != name {
                break;
            }
            *first = id;
        }
    }
    Ok(ids)
}

/// A data map is mmapable when its DATASEC has at least one non-static variable.
fn is_mmapable<B: btf::Types>(t: Type<'_>, btf: &B) -> Result<'static, bool> {
    if t.kind() != BtfKind::Datasec {
        return Ok(false);
    }
    for vi in t.secinfos()? {
        let v = btf
            .type_by_id(vi.type_id)
            .map_err(|_| Error::malformed("datasec var"))?;
        if v.kind() == BtfKind::Var && v.var()?.linkage != btf::BTF_VAR_STATIC {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One BTF-defined map (and its inner template) from a `.maps` DATASEC entry.
#[inline(never)]
fn btf_map<'a, B: btf::Types>(
    btf: &B,
    names: RawStrings<'a>,
    sec: &Section<'a>,
    vi: btf::VarSecinfo,
) -> Result<'a, (Map<'a>, Option<Map<'a>>)> {
    let var = btf.type_by_id(vi.type_id)?;
    let name = names.get(var.name_off())?;
    if name.is_empty() {
        return Err(Error::malformed("map with an empty name"));
    }
    let c = Ctx::Map(name);
    let end = u64::from(vi.offset).checked_add(u64::from(vi.size));
    if end.is_none_or(|e| e > sec.size()) {
        return Err(Error::malformed("map definition outside .maps").ctx(c));
    }
    if var.kind() != BtfKind::Var {
        return Err(Error::malformed("map is not a BTF VAR").ctx(c));
    }
    if var.var()?.linkage != btf::BTF_VAR_GLOBAL_ALLOCATED {
        return Err(Error::new(Kind::Unsupported("map linkage other than global")).ctx(c));
    }
    let def_t = btf.skip_mods_and_typedefs(var.var()?.type_id).ctx(c)?;
    if def_t.kind() != BtfKind::Struct {
        return Err(Error::malformed("map definition is not a struct").ctx(c));
    }
    if u64::from(def_t.size().unwrap_or(0)) > u64::from(vi.size) {
        return Err(Error::malformed("map definition larger than its variable").ctx(c));
    }
    let mut def = MapDef::default();
    let mut inner = MapDef::default();
    let (inner_type, values_off) = parse_map_def(btf, names, def_t, &mut def, false).ctx(c)?;
    if let Some(t) = inner_type {
        parse_map_def(btf, names, btf.type_by_id(t)?, &mut inner, true)
            .ctx(Ctx::Step("inner map"))
            .ctx(c)?;
    }
    let has_inner = inner_type.is_some();
    let outer = Map {
        name,
        kname: kname(name),
        kind: MapKind::Btf,
        autocreate: true,
        sec_idx: sec.index,
        sec_offset: u64::from(vi.offset),
        def_size: u64::from(vi.size),
        values_off,
        def,
        ..Map::default()
    };
    let inner = has_inner.then_some(Map {
        name,
        kname: inner_kname(name),
        kind: MapKind::Inner,
        autocreate: true,
        sec_idx: sec.index,
        def: inner,
        ..Map::default()
    });
    Ok((outer, inner))
}

/// `__uint(name, N)`: a pointer to an array of N elements.
fn field_int<B: btf::Types>(btf: &B, type_id: u32) -> Result<'static, u32> {
    let t = btf.skip_mods_and_typedefs(type_id)?;
    if t.kind() != BtfKind::Ptr {
        return Err(Error::malformed("map attribute is not a pointer (__uint)"));
    }
    let arr = btf.type_by_id(t.ref_type().unwrap_or(0))?;
    if arr.kind() != BtfKind::Array {
        return Err(Error::malformed(
            "map attribute does not point to an array (__uint)",
        ));
    }
    Ok(arr.array()?.nelems)
}

/// `__ulong(name, N)`: a single-value enum (or a `__uint`).
fn field_long<B: btf::Types>(btf: &B, type_id: u32) -> Result<'static, u64> {
    let t = btf.skip_mods_and_typedefs(type_id)?;
    if t.kind() == BtfKind::Ptr {
        return field_int(btf, type_id).map(u64::from);
    }
    if !matches!(t.kind(), BtfKind::Enum | BtfKind::Enum64) {
        return Err(Error::malformed(
            "map attribute is neither __uint nor __ulong",
        ));
    }
    let mut values = t.enum_values()?;
    match (values.next(), values.next()) {
        // libbpf (get_map_field_long) reads an ENUM's value as `__s32` and widens it,
        // whatever the enum's signedness: clang 14, which has no ENUM64, writes
        // `__ulong(map_extra, (1ull << 32) | 0xffffe000)` as 0xffffe000, which libbpf
        // takes as 0xffffffffffffe000.
        (Some(v), None) if t.kind() == BtfKind::Enum => Ok(i64::from(v.value as u32 as i32) as u64),
        (Some(v), None) => Ok(v.as_u64()),
        _ => Err(Error::malformed("__ulong enum must have exactly one value")),
    }
}

/// Size of the type a `__type(key, T)` pointer points to.
fn field_type_size<B: btf::Types>(btf: &B, type_id: u32) -> Result<'static, (u32, u32)> {
    let t = btf.type_by_id(type_id)?;
    if t.kind() != BtfKind::Ptr {
        return Err(Error::malformed(
            "key/value type spec is not a pointer (__type)",
        ));
    }
    let target = t.ref_type().unwrap_or(0);
    let size = btf.resolve_size(target)?;
    Ok((size, target))
}

fn set_size(slot: &mut u32, size: u32, what: &'static str) -> Result<'static, ()> {
    if *slot != 0 && *slot != size {
        return Err(Error::malformed(what));
    }
    *slot = size;
    Ok(())
}

/// libbpf's `parse_btf_map_def`. Returns whether an inner map was defined and the byte
/// offset of the `values` member. `inner` is `None` when parsing an inner definition.
#[inline(never)]
fn parse_map_def<'a, B: btf::Types>(
    btf: &B,
    names: RawStrings<'a>,
    def_t: Type<'_>,
    def: &mut MapDef,
    is_inner: bool,
) -> Result<'a, (Option<u32>, Option<u64>)> {
    let members = def_t.members()?;
    let vlen = members.total();
    // The inner definition is parsed by the caller once this one is done, not by
    // recursing here: this frame is large and the kernel stack is 16 KiB.
    let mut inner_type = None;
    let mut values_off = None;
    for (i, m) in members.enumerate() {
        let name = names.get(m.name_off)?;
        let c = Ctx::Symbol(name);
        match name {
            "type" => def.map_type = field_int(btf, m.type_id).ctx(c)?,
            "max_entries" => def.max_entries = field_int(btf, m.type_id).ctx(c)?,
            "map_flags" => def.map_flags = field_int(btf, m.type_id).ctx(c)?,
            "numa_node" => def.numa_node = field_int(btf, m.type_id).ctx(c)?,
            "key_size" => {
                let sz = field_int(btf, m.type_id).ctx(c)?;
                set_size(&mut def.key_size, sz, "conflicting key size")?;
            }
            "key" => {
                let (sz, id) = field_type_size(btf, m.type_id).ctx(c)?;
                set_size(&mut def.key_size, sz, "conflicting key size")?;
                def.key_type_id = id;
            }
            "value_size" => {
                let sz = field_int(btf, m.type_id).ctx(c)?;
                set_size(&mut def.value_size, sz, "conflicting value size")?;
            }
            "value" => {
                let (sz, id) = field_type_size(btf, m.type_id).ctx(c)?;
                set_size(&mut def.value_size, sz, "conflicting value size")?;
                def.value_type_id = id;
            }
            "values" => {
                let mim = matches!(
                    def.map_type,
                    uapi::BPF_MAP_TYPE_ARRAY_OF_MAPS | uapi::BPF_MAP_TYPE_HASH_OF_MAPS
                );
                let prog_array = def.map_type == uapi::BPF_MAP_TYPE_PROG_ARRAY;
                if is_inner {
                    return Err(Error::new(Kind::Unsupported("multi-level inner maps")).ctx(c));
                }
                if usize::from(vlen) != i.saturating_add(1) {
                    return Err(Error::malformed("'values' must be the last member").ctx(c));
                }
                if !mim && !prog_array {
                    return Err(Error::new(Kind::Unsupported(
                        "'values' in a map that is neither map-in-map nor prog array",
                    ))
                    .ctx(c));
                }
                set_size(
                    &mut def.value_size,
                    4,
                    "conflicting value size (values need 4)",
                )?;
                let arr = btf.type_by_id(m.type_id)?;
                if arr.kind() != BtfKind::Array || arr.array()?.nelems != 0 {
                    return Err(Error::malformed("'values' is not a zero-sized array").ctx(c));
                }
                let p = btf.skip_mods_and_typedefs(arr.array()?.elem)?;
                if p.kind() != BtfKind::Ptr {
                    return Err(Error::malformed("'values' elements are not pointers").ctx(c));
                }
                let target = btf.skip_mods_and_typedefs(p.ref_type().unwrap_or(0))?;
                values_off = Some(u64::from(m.bit_offset / 8));
                if prog_array {
                    if target.kind() != BtfKind::FuncProto {
                        return Err(Error::malformed(
                            "prog-array 'values' do not point to functions",
                        )
                        .ctx(c));
                    }
                    continue;
                }
                if target.kind() != BtfKind::Struct {
                    return Err(Error::malformed(
                        "map-in-map 'values' do not point to a map definition",
                    )
                    .ctx(c));
                }
                inner_type = Some(target.id());
            }
            "pinning" => {
                if is_inner {
                    return Err(Error::malformed("an inner map cannot be pinned").ctx(c));
                }
                let v = field_int(btf, m.type_id).ctx(c)?;
                if v != PIN_NONE && v != PIN_BY_NAME {
                    return Err(Error::malformed("invalid pinning value").ctx(c));
                }
                def.pinning = v;
            }
            "map_extra" => def.map_extra = field_long(btf, m.type_id).ctx(c)?,
            _ => return Err(Error::new(Kind::Unsupported("unknown map definition field")).ctx(c)),
        }
    }
    if def.map_type == uapi::BPF_MAP_TYPE_UNSPEC {
        return Err(Error::malformed("map type is not specified"));
    }
    Ok((inner_type, values_off))
}

/// Initial slots of prog arrays and maps of maps, from `.rel.maps`.
#[inline(never)]
pub(super) fn collect_slots<'a, A: Alloc>(
    obj: &mut Object<'a, A>,
    alloc: &mut A,
) -> Result<'a, ()> {
    let elf = &obj.elf;
    let Some(maps_shndx) = obj.maps_shndx else {
        obj.slots = alloc.alloc(0)?;
        return Ok(());
    };
    // libbpf's `.values` relocations: every SHT_REL named `.rel.maps` for `.maps`, in
    // section order (another name is skipped as a relocation of data).
    let values_rels = || {
        elf.sections().flatten().filter(move |s| {
            s.kind() == elf::SHT_REL && s.hdr.sh_info == maps_shndx && s.name == ".rel.maps"
        })
    };
    let count = values_rels()
        .map(|rel| elf.rels(&rel).count())
        .fold(0usize, usize::saturating_add);
    if count == 0 {
        obj.slots = alloc.alloc(0)?;
        return Ok(());
    }
    let max_relocs = limits::MAX_MAP_VALUES.saturating_mul(4);
    if count > max_relocs {
        return Err(Error::limit(".maps relocations", count, max_relocs));
    }
    // Lookups by offset and by name through sorted indexes, not walks per relocation.
    let mut by_off = index_by_name(&obj.maps, |m| m.kind == MapKind::Btf, |_| "", alloc)?;
    crate::util::sort_by_key(&mut by_off, |&i| {
        obj.maps.get(idx(i)).map_or(0, |m| m.sec_offset)
    });
    let maps_by_name = index_by_name(&obj.maps, |m| m.kind == MapKind::Btf, |m| m.name, alloc)?;
    let progs_by_name = index_by_name(&obj.progs, |p| !p.is_subprog(), |p| p.name, alloc)?;
    // (slot, relocation number): sorted below so that a later initialiser of the same
    // slot wins, as in libbpf.
    let mut slots = alloc.alloc::<(Slot, u32)>(count)?;
    // (number within its section, record), numbered across the sections.
    let rels = values_rels().flat_map(|rel| elf.rels(&rel).enumerate());
    for (seq, ((i, r), out)) in rels.zip(slots.iter_mut()).enumerate() {
        let c = Ctx::Reloc(bytes::u32_of(i)?);
        let sym = elf.symbol(r.sym).ctx(c)?;
        let sc = Ctx::Symbol(sym.name);
        // The map whose definition holds the relocated 8 bytes: the last one starting at
        // or before them.
        let k = by_off.partition_point(|&m| {
            obj.maps
                .get(idx(m))
                .is_some_and(|m| m.sec_offset <= r.offset)
        });
        let found = k
            .checked_sub(1)
            .and_then(|k| by_off.get(k))
            .and_then(|&m| Some((m, obj.maps.get(idx(m))?)))
            .filter(|(_, m)| {
                r.offset
                    .checked_add(8)
                    .is_some_and(|e| e <= m.sec_offset.saturating_add(m.def_size))
            });
        let (mi, map) = found.ok_or_else(|| {
            Error::new(Kind::NotFound("map containing this .values relocation"))
                .ctx(sc)
                .ctx(c)
        })?;
        let mc = Ctx::Map(map.name);
        let target = match map.def.map_type {
            uapi::BPF_MAP_TYPE_ARRAY_OF_MAPS | uapi::BPF_MAP_TYPE_HASH_OF_MAPS => {
                if sym.shndx() != maps_shndx {
                    return Err(Error::malformed("'values' entry is not a BTF-defined map")
                        .ctx(sc)
                        .ctx(mc));
                }
                if map.def.map_type == uapi::BPF_MAP_TYPE_HASH_OF_MAPS && map.def.key_size != 4 {
                    return Err(Error::malformed(
                        "hash-of-maps with initial values needs 4-byte keys",
                    )
                    .ctx(mc));
                }
                let t = find_by_name(&maps_by_name, &obj.maps, |m| m.name, sym.name).ok_or_else(
                    || {
                        Error::new(Kind::NotFound("map referenced by 'values'"))
                            .ctx(sc)
                            .ctx(mc)
                    },
                )?;
                SlotTarget::Map(t)
            }
            uapi::BPF_MAP_TYPE_PROG_ARRAY => {
                let pi = find_by_name(&progs_by_name, &obj.progs, |p| p.name, sym.name)
                    .ok_or_else(|| {
                        Error::new(Kind::NotFound("program referenced by 'values'"))
                            .ctx(sc)
                            .ctx(mc)
                    })?;
                let p = obj
                    .progs
                    .get(idx(pi))
                    .ok_or(Error::malformed("program index"))?;
                if p.sec_idx != sym.shndx()
                    || u64::from(p.insn_off).saturating_mul(8) != sym.sym.st_value
                {
                    return Err(
                        Error::malformed("'values' entry is not an entry-point program")
                            .ctx(sc)
                            .ctx(mc),
                    );
                }
                SlotTarget::Prog(pi)
            }
            _ => {
                return Err(
                    Error::malformed("'values' relocation in a map that takes none").ctx(mc),
                )
            }
        };
        let values_off = map
            .values_off
            .ok_or_else(|| Error::malformed("map has no 'values' member").ctx(mc))?;
        let within = r.offset.saturating_sub(map.sec_offset);
        let moff = within
            .checked_sub(values_off)
            .ok_or_else(|| Error::malformed("relocation before the 'values' member").ctx(mc))?;
        if moff % 8 != 0 {
            return Err(Error::malformed("misaligned 'values' relocation").ctx(mc));
        }
        let index = u32::try_from(moff / 8).map_err(|_| Error::malformed("slot index"))?;
        // Slot `index` needs `index + 1` slots.
        let needed = u64::from(index).saturating_add(1);
        if needed > limits::MAX_MAP_VALUES as u64 {
            return Err(Error::limit("'values' slots", needed, limits::MAX_MAP_VALUES).ctx(mc));
        }
        *out = (
            Slot {
                map: mi,
                index,
                target,
            },
            bytes::u32_of(seq)?,
        );
    }
    crate::util::sort_by_key(&mut slots, |(s, i)| (s.map, s.index, *i));
    // Keep the last initialiser of each slot.
    let last = |k: usize| {
        let cur = slots.get(k).map(|(s, _)| (s.map, s.index));
        let next = slots
            .get(k.saturating_add(1))
            .map(|(s, _)| (s.map, s.index));
        cur.is_some() && cur != next
    };
    let n = (0..slots.len()).filter(|&k| last(k)).count();
    let mut out = alloc.alloc::<Slot>(n)?;
    for (o, k) in out.iter_mut().zip((0..slots.len()).filter(|&k| last(k))) {
        if let Some((s, _)) = slots.get(k) {
            *o = *s;
        }
    }
    obj.slots = out;
    Ok(())
}

/// Function pointers of struct_ops maps, from `.rel.struct_ops[.link]` (libbpf's
/// `bpf_object__collect_st_ops_relos`).
#[inline(never)]
pub(super) fn collect_st_ops_funcs<'a, A: Alloc>(
    obj: &mut Object<'a, A>,
    alloc: &mut A,
) -> Result<'a, ()> {
    let elf = &obj.elf;
    let mut count = 0usize;
    for s in elf.sections() {
        let s = s?;
        if s.kind() == elf::SHT_REL && st_ops_section(&elf.section(s.hdr.sh_info)?).is_some() {
            count = count.saturating_add(elf.rels(&s).count());
        }
    }
    if count > limits::MAX_RELOCS {
        return Err(Error::limit(
            "struct_ops relocations",
            count,
            limits::MAX_RELOCS,
        ));
    }
    let mut out = alloc.alloc::<StOpsFunc>(count)?;
    let mut n = 0usize;
    for s in elf.sections() {
        let s = s?;
        if s.kind() != elf::SHT_REL {
            continue;
        }
        let target = elf.section(s.hdr.sh_info)?;
        if st_ops_section(&target).is_none() {
            continue;
        }
        for (i, r) in elf.rels(&s).enumerate() {
            let c = Ctx::Reloc(bytes::u32_of(i)?);
            let sym = elf.symbol(r.sym).ctx(c)?;
            let sc = Ctx::Symbol(sym.name);
            let (mi, map) = obj
                .maps
                .iter()
                .enumerate()
                .find(|(_, m)| {
                    m.kind == MapKind::StructOps
                        && m.sec_idx == target.index
                        && r.offset >= m.sec_offset
                        && r.offset < m.sec_offset.saturating_add(m.def_size)
                })
                .ok_or_else(|| {
                    Error::new(Kind::NotFound("struct_ops map at relocation offset"))
                        .ctx(sc)
                        .ctx(c)
                })?;
            let btf = obj.btf.as_ref().ok_or(Error::malformed("no BTF"))?;
            let t = btf.type_by_id(map.st_type_id)?;
            let moff_bits = r.offset.saturating_sub(map.sec_offset).saturating_mul(8);
            let (member, m) = t
                .members()?
                .enumerate()
                .find(|(_, m)| u64::from(m.bit_offset) == moff_bits)
                .ok_or_else(|| {
                    Error::malformed("struct_ops relocation not at a member")
                        .ctx(sc)
                        .ctx(Ctx::Map(map.name))
                })?;
            let mt = btf.skip_mods_and_typedefs(m.type_id)?;
            let is_fn_ptr = mt.kind() == BtfKind::Ptr
                && btf
                    .skip_mods_and_typedefs(mt.ref_type().unwrap_or(0))?
                    .kind()
                    == BtfKind::FuncProto;
            if !is_fn_ptr {
                return Err(Error::malformed(
                    "struct_ops relocation on a member that is not a function pointer",
                )
                .ctx(sc)
                .ctx(Ctx::Map(map.name)));
            }
            let sym_insn = sym.sym.st_value.checked_div(8).unwrap_or(0);
            let prog = obj
                .prog_at(sym.shndx(), sym_insn)
                .filter(|&p| {
                    obj.progs
                        .get(usize::try_from(p).unwrap_or(usize::MAX))
                        .is_some_and(|p| {
                            p.spec
                                .is_some_and(|s| s.prog_type == uapi::BPF_PROG_TYPE_STRUCT_OPS)
                                && u64::from(p.insn_off) == sym_insn
                        })
                })
                .ok_or_else(|| {
                    Error::malformed("struct_ops member does not point to a struct_ops program")
                        .ctx(sc)
                        .ctx(Ctx::Map(map.name))
                })?;
            let slot = out
                .get_mut(n)
                .ok_or(Error::malformed("struct_ops relocation count"))?;
            *slot = StOpsFunc {
                map: bytes::u32_of(mi)?,
                member: bytes::u32_of(member)?,
                prog,
            };
            n = n.saturating_add(1);
        }
    }
    let mut exact = alloc.alloc::<StOpsFunc>(n)?;
    crate::util::copy(&mut exact, out.get(..n).unwrap_or_default());
    obj.st_ops_funcs = exact;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8; 16]) -> &str {
        let end = b.iter().position(|&c| c == 0).unwrap_or(16);
        std::str::from_utf8(&b[..end]).unwrap()
    }

    #[test]
    fn internal_names_match_libbpf() {
        assert_eq!(
            s(&internal_map_name("my_object_name", ".rodata")),
            "my_objec.rodata"
        );
        assert_eq!(
            s(&internal_map_name("my_object_name", ".bss")),
            "my_objec.bss"
        );
        assert_eq!(
            s(&internal_map_name("my_object_name", ".kconfig")),
            "my_obje.kconfig"
        );
        assert_eq!(
            s(&internal_map_name("x", ".rodata.abracadabra")),
            ".rodata.abracad"
        );
        assert_eq!(s(&internal_map_name("test", ".data.foo")), ".data.foo");
        assert_eq!(s(&internal_map_name("a-b", ".data")), "a_b.data");
        assert_eq!(
            s(&internal_map_name("obj", ".rodata.str1.1")),
            ".rodata.str1.1"
        );
    }

    #[test]
    fn inner_templates_are_named_as_libbpf() {
        // libbpf's "<outer>.inner", cut by bpf_map_create to 15 bytes.
        assert_eq!(s(&inner_kname("outer")), "outer.inner");
        assert_eq!(s(&inner_kname("outer_hash")), "outer_hash.inne");
        assert_eq!(s(&inner_kname("a_very_long_outer")), "a_very_long_out");
        assert_eq!(s(&kname("outer")), "outer");
    }

    #[test]
    fn ulong_widens_a_32_bit_enum_as_libbpf() {
        use crate::btf::testutil::{parse, B};
        let mut b = B::new();
        let unsigned = b.enum_("", 4, false, &[("A", 0xffff_e000u32 as i32)]);
        let signed = b.enum_("", 4, true, &[("B", -8192)]);
        let small = b.enum_("", 4, false, &[("C", 0x1000)]);
        let wide = b.enum64("", 8, false, &[("D", 0xffff_e000)]);
        let btf = parse(b.build()).unwrap();
        assert_eq!(field_long(&btf, unsigned).unwrap(), 0xffff_ffff_ffff_e000);
        assert_eq!(field_long(&btf, signed).unwrap(), 0xffff_ffff_ffff_e000);
        assert_eq!(field_long(&btf, small).unwrap(), 0x1000);
        assert_eq!(field_long(&btf, wide).unwrap(), 0xffff_e000);
    }
}

#[cfg(test)]
mod memory_tests {
    use super::MapDef;
    use crate::uapi::*;

    fn def(map_type: u32, key: u32, value: u32, n: u32, flags: u32) -> MapDef {
        MapDef {
            map_type,
            key_size: key,
            value_size: value,
            max_entries: n,
            map_flags: flags,
            ..MapDef::default()
        }
    }

    #[test]
    fn estimates_follow_the_kernel_allocators() {
        // Values round up to 8 bytes; per-CPU arrays add a pointer per entry.
        assert_eq!(
            def(BPF_MAP_TYPE_ARRAY, 4, 12, 100, 0).memory_estimate(2),
            1600
        );
        assert_eq!(
            def(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1 << 24, 0).memory_estimate(2),
            (1u64 << 24) * 24
        );
        // Preallocated hashes: buckets (a power of two) plus elements.
        assert_eq!(
            def(BPF_MAP_TYPE_HASH, 4, 8, 1000, 0).memory_estimate(4),
            1024 * 16 + 1000 * (48 + 8 + 8)
        );
        // Without preallocation only the buckets are allocated up front.
        assert_eq!(
            def(BPF_MAP_TYPE_HASH, 4, 8, 1000, BPF_F_NO_PREALLOC).memory_estimate(4),
            1024 * 16
        );
        // LRU maps always preallocate.
        assert_eq!(
            def(BPF_MAP_TYPE_LRU_PERCPU_HASH, 8, 16, 10, BPF_F_NO_PREALLOC).memory_estimate(2),
            16 * 16 + 10 * (48 + 8 + 8 + 32)
        );
        assert_eq!(
            def(BPF_MAP_TYPE_RINGBUF, 0, 0, 1 << 20, 0).memory_estimate(8),
            1 << 20
        );
        assert_eq!(
            def(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0).memory_estimate(8),
            64
        );
        // Bloom filter: 1000 entries x 5 hashes x 1.5 bits, rounded up to 8192 bits.
        assert_eq!(
            def(BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 1000, 0).memory_estimate(1),
            1024
        );
        // Lazily allocated maps count nothing.
        assert_eq!(
            def(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 1 << 30, 1).memory_estimate(1),
            0
        );
        assert_eq!(
            def(BPF_MAP_TYPE_ARENA, 0, 0, 1 << 20, 0).memory_estimate(1),
            0
        );
    }

    #[test]
    fn estimates_saturate() {
        let d = def(BPF_MAP_TYPE_PERCPU_HASH, u32::MAX, u32::MAX, u32::MAX, 0);
        assert_eq!(d.memory_estimate(u32::MAX), u64::MAX);
        let mut d = def(BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, u32::MAX, 0);
        d.map_extra = 0xf;
        // 2^32 entries x 15 hashes x 1.5 bits, rounded up: 2^37 bits.
        assert_eq!(d.memory_estimate(1), 1 << 34);
        assert_eq!(def(u32::MAX, 1, 1, 1, 0).memory_estimate(0), 0);
    }
}

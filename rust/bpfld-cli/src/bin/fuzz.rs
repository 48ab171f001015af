// SPDX-License-Identifier: GPL-2.0-only

//! bpfld-fuzz: a structure-aware fuzzer of `/dev/bpfld`, run inside the test VM by
//! `scripts/fuzz-vm` (see Documentation/fuzzing.rst).
//!
//! ```text
//! bpfld-fuzz run --corpus DIR --dir VERITY_DIR --out OUT [--seed S] [--inputs N]
//!                [--start I] [--keep-going] [--check-every N] [--leak-every N]
//!                [--settle-ms MS] [--replay FILE]...
//! bpfld-fuzz emit --corpus DIR --seed S --index I [--out FILE]
//! bpfld-fuzz gen --corpus DIR [--seed S] [--inputs N]
//! ```
//!
//! # Model
//!
//! Every `*.bpf.o` of the corpus is parsed once with `bpfld_core` (`Elf`, `Object`,
//! `Btf`, `BtfExt`) into a [`Seed`]: the file plus a table of the fields the loader
//! interprets (ELF header, section headers, symbols, relocations, instructions, the
//! `.BTF` header, type records and strings, the `.BTF.ext` header and records, map
//! definitions, data sections and names), each with its file offset, width and what
//! kind of value it holds. Input `i` of seed `S` is derived from `(S, i)` alone: a
//! generator seeded from both picks a corpus object and applies 1 to 4 mutations, each
//! setting one field to a value chosen for its kind (a boundary, a neighbour, another
//! valid index, a random value), or rewriting an instruction, a name, or truncating,
//! extending or bit-flipping the file. There is no feedback, so any input can be
//! regenerated on the host with `emit` from the seed and the index in a report.
//!
//! `run` writes each input to a file on an ext4 file system with the verity feature
//! (`--dir`), enables fs-verity on it with `FS_IOC_ENABLE_VERITY`, loads it through
//! `BPFLD_IOC_LOAD` (the module must run with `dev_mode=1`: no enrollment), one input in
//! four with load options that name the object's maps and programs and fds of every
//! kind ([`gen_opts`]), and checks after every input:
//!
//! - the ioctl returned; a refusal carries an errno and a non-empty message, and the
//!   errno is not one a valid verity file must never cause (EFAULT, EBADF, EIO, ...);
//! - a success returned working fds whose kernel ids match the ones reported;
//! - once those are closed, this process has as many fds as before and the kernel as
//!   many BPF programs, maps, BTF objects and links (waiting up to `--settle-ms` for
//!   RCU and workqueues to free what was closed);
//! - the kernel's taint flags did not change and no new kernel log record looks like a
//!   splat (BUG:, WARNING:, KASAN, UBSAN, Oops, Call Trace, lockdep, a Rust panic).
//!
//! Every `--check-every` inputs it also checks that the device answers and that an
//! unmutated object still loads (the VM is healthy), writes `OUT/progress`, and every
//! `--leak-every` inputs (and at the end) has kmemleak scan. Before each input,
//! `OUT/inflight` holds the seed and index, so that the host can regenerate the input
//! that hung or crashed the VM. A finding is saved as `OUT/findings/NNN-KIND-iINDEX/`
//! (`input.o`, `info.txt`, `dmesg.txt`); the run stops at the first unless
//! `--keep-going`. Exit status: 0 clean, 1 findings, 2 usage or environment error.

use bpfld::dev::{Device, KLoad, KLoadOpts, OptsLayout, DEVICE};
use bpfld::kmsg::KernelLog;
use bpfld::sys::{next_ids, obj_info, MapInfo, ProgInfo};
use bpfld_core::btf::{self, Btf, BtfExt, BtfKind};
use bpfld_core::elf::{self, Elf};
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::{Object, ParseOptions};
use bpfld_core::uapi;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------
// Deterministic randomness.

/// splitmix64: tiny, fast, and every state is valid.
struct Rng(u64);

impl Rng {
    /// The generator of input `index` of run `seed`.
    fn for_input(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform below `n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        v.get(self.below(v.len() as u64) as usize)
    }
}

// ---------------------------------------------------------------------------------
// The layout of a corpus object: which bytes mean what.

/// Where a field lives; mutations first pick an area, then a field in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Area {
    ElfHdr,
    Shdr,
    Sym,
    Rel,
    Insn,
    BtfHdr,
    BtfType,
    BtfStr,
    ExtHdr,
    ExtRec,
    MapDef,
    Data,
    Name,
    Truncate,
    Extend,
    Flip,
    Chunk,
}

/// Relative weights of the areas (an area the object lacks is skipped).
const WEIGHTS: &[(Area, u64)] = &[
    (Area::ElfHdr, 3),
    (Area::Shdr, 12),
    (Area::Sym, 9),
    (Area::Rel, 9),
    (Area::Insn, 16),
    (Area::BtfHdr, 2),
    (Area::BtfType, 14),
    (Area::BtfStr, 4),
    (Area::ExtHdr, 2),
    (Area::ExtRec, 9),
    (Area::MapDef, 8),
    (Area::Data, 4),
    (Area::Name, 5),
    (Area::Truncate, 3),
    (Area::Extend, 2),
    (Area::Flip, 5),
    (Area::Chunk, 2),
];

/// What a field holds, which decides the values tried.
#[derive(Clone, Copy, Debug)]
enum Class {
    /// Anything.
    Raw,
    /// A count; the hint is its current sensible value.
    Count(u64),
    /// A byte offset into the file.
    FileOff,
    /// A size; the hint is a sensible maximum (section or file size).
    Size(u64),
    /// An ELF section index.
    SecIdx,
    /// A symbol index.
    SymIdx,
    /// An offset into a string table of this length.
    StrOff(u64),
    /// A BTF type id.
    TypeId,
    /// A byte offset of an instruction in a section of this size.
    InsnOff(u64),
    /// `sh_type`.
    ShType,
    /// `sh_flags`.
    ShFlags,
    /// `st_info`.
    SymInfo,
    /// The type half of `r_info`.
    RelType,
    /// `btf_type.info`.
    BtfInfo,
    /// VAR or FUNC linkage.
    Linkage,
    /// A `.BTF.ext` CO-RE relocation kind.
    CoreKind,
    /// A BTF-defined map attribute (the `nelems` of the array its member points to).
    MapAttr(&'static str),
    /// A magic number or version byte.
    Magic,
}

/// One mutable field.
#[derive(Clone, Copy, Debug)]
struct Field {
    off: u32,
    width: u8,
    area: Area,
    class: Class,
    /// Record index within the area (section, symbol, type id, ...), for reports.
    rec: u32,
    name: &'static str,
}

/// A corpus object and its fields.
struct Seed {
    name: String,
    data: Vec<u8>,
    fields: Vec<Field>,
    /// Field indices per area.
    by_area: Vec<(Area, Vec<u32>)>,
    /// Instructions: (file offset, file offset of the end of their section).
    insns: Vec<(u32, u32)>,
    /// Names that can be rewritten in place: (file offset, length without the NUL).
    names: Vec<(u32, u32)>,
    /// Byte ranges of data sections and of the BTF string section.
    data_ranges: Vec<(u32, u32)>,
    btf_str: Option<(u32, u32)>,
    /// Start and end offsets of every section, for truncation points.
    bounds: Vec<u64>,
    shnum: u64,
    nsyms: u64,
    btf_types: u64,
    /// Whether bpfld_core parsed the whole object (else only the ELF layer is known).
    object_ok: bool,
    /// The object's map and entry program names, for load options to name.
    map_names: Vec<String>,
    prog_names: Vec<String>,
    /// The object's maps a caller may supply (not global data, `.kconfig`,
    /// struct_ops, arenas or inner templates), with their definitions.
    reusable: Vec<(String, bpfld_core::object::MapDef)>,
}

/// Little-endian read of `w` bytes (0 past the end).
fn rd(d: &[u8], off: usize, w: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(b) = d.get(off..off.saturating_add(w)) {
        v[..w].copy_from_slice(b);
    }
    u64::from_le_bytes(v)
}

/// Little-endian write of `w` bytes (ignored past the end).
fn wr(d: &mut [u8], off: usize, w: usize, v: u64) {
    if let Some(b) = d.get_mut(off..off.saturating_add(w)) {
        b.copy_from_slice(&v.to_le_bytes()[..w]);
    }
}

struct Builder {
    fields: Vec<Field>,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        area: Area,
        rec: u32,
        base: u64,
        rel: u64,
        width: u8,
        name: &'static str,
        class: Class,
    ) {
        if let Ok(off) = u32::try_from(base.saturating_add(rel)) {
            self.fields.push(Field {
                off,
                width,
                area,
                class,
                rec,
                name,
            });
        }
    }
}

impl Seed {
    fn parse(name: &str, data: Vec<u8>) -> Result<Seed, String> {
        let mut alloc = VecAlloc::default();
        let elf = Elf::parse(&data, &mut alloc).map_err(|e| format!("{name}: ELF: {e}"))?;
        let flen = data.len() as u64;
        let shnum = u64::from(elf.section_count());
        let nsyms = u64::from(elf.symbol_count());
        let mut b = Builder { fields: Vec::new() };
        let mut insns = Vec::new();
        let mut names = Vec::new();
        let mut data_ranges = Vec::new();
        let mut bounds = vec![64u64, flen];
        let shoff = rd(&data, 40, 8);

        // ELF header.
        use Area::ElfHdr as H;
        b.add(H, 0, 0, 4, 1, "ei_class", Class::Magic);
        b.add(H, 0, 0, 5, 1, "ei_data", Class::Magic);
        b.add(H, 0, 0, 6, 1, "ei_version", Class::Magic);
        b.add(H, 0, 0, 16, 2, "e_type", Class::Count(1));
        b.add(H, 0, 0, 18, 2, "e_machine", Class::Count(247));
        b.add(H, 0, 0, 20, 4, "e_version", Class::Count(1));
        b.add(H, 0, 0, 32, 8, "e_phoff", Class::FileOff);
        b.add(H, 0, 0, 40, 8, "e_shoff", Class::FileOff);
        b.add(H, 0, 0, 48, 4, "e_flags", Class::Raw);
        b.add(H, 0, 0, 52, 2, "e_ehsize", Class::Size(64));
        b.add(H, 0, 0, 54, 2, "e_phentsize", Class::Size(56));
        b.add(H, 0, 0, 56, 2, "e_phnum", Class::Count(0));
        b.add(H, 0, 0, 58, 2, "e_shentsize", Class::Size(64));
        b.add(H, 0, 0, 60, 2, "e_shnum", Class::Count(shnum));
        b.add(H, 0, 0, 62, 2, "e_shstrndx", Class::SecIdx);

        let mut strtab_len = 0u64;
        let mut btf_sec = None;
        let mut ext_sec = None;
        for s in elf.sections() {
            let Ok(s) = s else { continue };
            let i = s.index;
            let base = shoff.saturating_add(u64::from(i) * 64);
            let h = &s.hdr;
            use Area::Shdr as S;
            b.add(S, i, base, 0, 4, "sh_name", Class::StrOff(0));
            b.add(S, i, base, 4, 4, "sh_type", Class::ShType);
            b.add(S, i, base, 8, 8, "sh_flags", Class::ShFlags);
            b.add(S, i, base, 16, 8, "sh_addr", Class::Raw);
            b.add(S, i, base, 24, 8, "sh_offset", Class::FileOff);
            b.add(
                S,
                i,
                base,
                32,
                8,
                "sh_size",
                Class::Size(h.sh_size.max(flen)),
            );
            b.add(S, i, base, 40, 4, "sh_link", Class::SecIdx);
            b.add(S, i, base, 44, 4, "sh_info", Class::SecIdx);
            b.add(S, i, base, 48, 8, "sh_addralign", Class::Size(8));
            b.add(S, i, base, 56, 8, "sh_entsize", Class::Size(24));
            if h.sh_type != elf::SHT_NOBITS {
                bounds.push(h.sh_offset);
                bounds.push(h.sh_offset.saturating_add(h.sh_size));
            }
            let (off, size) = (h.sh_offset, h.sh_size);
            match h.sh_type {
                elf::SHT_SYMTAB => {
                    for k in 1..size / 24 {
                        let base = off + k * 24;
                        let k = k as u32;
                        use Area::Sym as Y;
                        b.add(Y, k, base, 0, 4, "st_name", Class::StrOff(0));
                        b.add(Y, k, base, 4, 1, "st_info", Class::SymInfo);
                        b.add(Y, k, base, 5, 1, "st_other", Class::Raw);
                        b.add(Y, k, base, 6, 2, "st_shndx", Class::SecIdx);
                        b.add(Y, k, base, 8, 8, "st_value", Class::InsnOff(0));
                        b.add(Y, k, base, 16, 8, "st_size", Class::Size(0));
                    }
                }
                elf::SHT_STRTAB => strtab_len = strtab_len.max(size),
                elf::SHT_REL => {
                    let target = elf.section(h.sh_info).map(|t| t.hdr.sh_size).unwrap_or(0);
                    for k in 0..size / 16 {
                        let base = off + k * 16;
                        let k = k as u32;
                        b.add(Area::Rel, k, base, 0, 8, "r_offset", Class::InsnOff(target));
                        b.add(Area::Rel, k, base, 8, 4, "r_type", Class::RelType);
                        b.add(Area::Rel, k, base, 12, 4, "r_sym", Class::SymIdx);
                    }
                }
                _ => {}
            }
            if s.is_exec() {
                let end = off.saturating_add(size);
                for k in 0..size / 8 {
                    if let (Ok(o), Ok(e)) = (u32::try_from(off + k * 8), u32::try_from(end)) {
                        insns.push((o, e));
                    }
                }
            } else if h.sh_type == elf::SHT_PROGBITS && size > 0 {
                match s.name {
                    ".BTF" => btf_sec = Some((off, size)),
                    ".BTF.ext" => ext_sec = Some((off, size)),
                    n if n.starts_with(".debug") || n.starts_with(".rel") => {}
                    _ => data_ranges.push((off as u32, size as u32)),
                }
            }
            // The section's name, in place in the string table, for SEC() rewrites.
            if let Some(name_off) = section_name_offset(&elf, h.sh_name) {
                if !s.name.is_empty() && (s.is_exec() || s.name.starts_with('.')) {
                    names.push((name_off, s.name.len() as u32));
                }
            }
        }
        // Symbol names of functions and maps.
        let strtab_off = elf
            .section(elf.symtab_index())
            .ok()
            .and_then(|st| elf.section(st.hdr.sh_link).ok())
            .map(|s| s.hdr.sh_offset);
        if let Some(str_off) = strtab_off {
            for sym in elf.symbols().flatten() {
                if !sym.name.is_empty()
                    && (sym.kind() == elf::STT_FUNC || sym.kind() == elf::STT_OBJECT)
                {
                    if let Ok(o) = u32::try_from(str_off + u64::from(sym.sym.st_name)) {
                        names.push((o, sym.name.len() as u32));
                    }
                }
            }
        }
        // Fill in the hints known only now.
        for f in &mut b.fields {
            f.class = match (f.area, f.class) {
                (Area::Shdr | Area::Sym, Class::StrOff(0)) => Class::StrOff(strtab_len),
                (Area::Sym, Class::InsnOff(0)) => Class::InsnOff(4096),
                (Area::Sym, Class::Size(0)) => Class::Size(4096),
                (_, c) => c,
            };
        }
        bounds.push(shoff);
        bounds.sort_unstable();
        bounds.dedup();

        // BTF: header, every type record word by word, strings.
        let mut btf_types = 0u64;
        let mut btf_str = None;
        if let Some((off, size)) = btf_sec {
            let blob = data.get(off as usize..(off + size) as usize).unwrap_or(&[]);
            btf_types = layout_btf(&mut b, blob, off, &mut btf_str)?;
        }
        // .BTF.ext: header, subsection record sizes, block headers, records.
        if let Some((off, size)) = ext_sec {
            let ext = data.get(off as usize..(off + size) as usize).unwrap_or(&[]);
            layout_ext(&mut b, ext, off, btf_str.map_or(0, |(_, l)| u64::from(l)));
        }
        // The object model: map definitions (the arrays their members point to).
        let obj_name = name.split('.').next().unwrap_or(name);
        let mut map_names = Vec::new();
        let mut prog_names = Vec::new();
        let mut reusable = Vec::new();
        let object_ok = match Object::parse(elf, obj_name, &mut alloc) {
            Ok(obj) => {
                if let (Some((off, size)), true) = (btf_sec, obj.maps_shndx.is_some()) {
                    let blob = data.get(off as usize..(off + size) as usize).unwrap_or(&[]);
                    layout_map_defs(&mut b, blob, off, obj.maps_datasec);
                }
                map_names = obj.maps.iter().map(|m| m.name.to_string()).collect();
                reusable = obj
                    .maps
                    .iter()
                    .filter(|m| bpfld_core::exec::map_reuse_refusal(m.kind, &m.def).is_none())
                    .map(|m| (m.name.to_string(), m.def))
                    .collect();
                prog_names = obj
                    .progs
                    .iter()
                    .filter(|p| !p.is_subprog())
                    .map(|p| p.name.to_string())
                    .collect();
                true
            }
            Err(_) => false,
        };

        let mut by_area: Vec<(Area, Vec<u32>)> = Vec::new();
        for (i, f) in b.fields.iter().enumerate() {
            match by_area.iter_mut().find(|(a, _)| *a == f.area) {
                Some((_, v)) => v.push(i as u32),
                None => by_area.push((f.area, vec![i as u32])),
            }
        }
        Ok(Seed {
            name: name.to_string(),
            data,
            fields: b.fields,
            by_area,
            insns,
            names,
            data_ranges,
            btf_str,
            bounds,
            shnum,
            nsyms,
            btf_types,
            object_ok,
            map_names,
            prog_names,
            reusable,
        })
    }

    fn has(&self, a: Area) -> bool {
        match a {
            Area::Insn => !self.insns.is_empty(),
            Area::Name => !self.names.is_empty(),
            Area::Data => !self.data_ranges.is_empty(),
            Area::BtfStr => self.btf_str.is_some(),
            Area::Truncate | Area::Extend | Area::Flip | Area::Chunk => true,
            _ => self.by_area.iter().any(|(x, v)| *x == a && !v.is_empty()),
        }
    }
}

/// File offset of a section's name (the string table is validated by `Elf::parse`).
fn section_name_offset(elf: &Elf<'_, VecAlloc>, sh_name: u32) -> Option<u32> {
    let shstrndx = rd(elf.image().data(), 62, 2) as u32;
    let st = elf.section(shstrndx).ok()?;
    u32::try_from(st.hdr.sh_offset.checked_add(u64::from(sh_name))?).ok()
}

/// Fields of `.BTF` at file offset `base`; returns the type count.
fn layout_btf(
    b: &mut Builder,
    blob: &[u8],
    base: u64,
    strs: &mut Option<(u32, u32)>,
) -> Result<u64, String> {
    use Area::BtfHdr as H;
    let hdr = btf::Header::parse(blob).map_err(|e| format!(".BTF: {e}"))?;
    let slen = u64::from(hdr.str_len);
    let tlen = u64::from(hdr.type_len);
    b.add(H, 0, base, 0, 2, "magic", Class::Magic);
    b.add(H, 0, base, 2, 1, "version", Class::Magic);
    b.add(H, 0, base, 3, 1, "flags", Class::Raw);
    b.add(H, 0, base, 4, 4, "hdr_len", Class::Size(24));
    b.add(H, 0, base, 8, 4, "type_off", Class::Size(tlen));
    b.add(H, 0, base, 12, 4, "type_len", Class::Size(tlen));
    b.add(H, 0, base, 16, 4, "str_off", Class::Size(tlen));
    b.add(H, 0, base, 20, 4, "str_len", Class::Size(slen));
    let sr = hdr.str_range();
    *strs = Some((base as u32 + sr.start as u32, sr.len() as u32));
    let n = btf::count_types(blob).map_err(|e| format!(".BTF: {e}"))?;
    let mut offsets = vec![0u32; n + 1];
    let kinds: Vec<(BtfKind, u16)> = {
        let parsed = Btf::parse(blob, &mut offsets[..]).map_err(|e| format!(".BTF: {e}"))?;
        (1..=n as u32)
            .map(|id| {
                parsed
                    .type_by_id(id)
                    .map(|t| (t.kind(), t.vlen()))
                    .unwrap_or((BtfKind::Void, 0))
            })
            .collect()
    };
    for id in 1..=n as u32 {
        let (kind, vlen) = kinds[id as usize - 1];
        if kind == BtfKind::Void {
            continue;
        }
        let rec = base + u64::from(offsets[id as usize]);
        use Area::BtfType as T;
        let so = Class::StrOff(slen);
        b.add(T, id, rec, 0, 4, "name_off", so);
        b.add(T, id, rec, 4, 4, "info", Class::BtfInfo);
        let third = if kind.has_size() {
            Class::Size(64)
        } else {
            Class::TypeId
        };
        b.add(T, id, rec, 8, 4, "size_type", third);
        let vlen = u64::from(vlen);
        match kind {
            BtfKind::Int => b.add(T, id, rec, 12, 4, "int_encoding", Class::Raw),
            BtfKind::Array => {
                b.add(T, id, rec, 12, 4, "array_type", Class::TypeId);
                b.add(T, id, rec, 16, 4, "array_index_type", Class::TypeId);
                b.add(T, id, rec, 20, 4, "array_nelems", Class::Count(4));
            }
            BtfKind::Struct | BtfKind::Union => {
                for k in 0..vlen {
                    let m = 12 + k * 12;
                    b.add(T, id, rec, m, 4, "member_name", so);
                    b.add(T, id, rec, m + 4, 4, "member_type", Class::TypeId);
                    b.add(T, id, rec, m + 8, 4, "member_offset", Class::Size(512));
                }
            }
            BtfKind::Enum => {
                for k in 0..vlen {
                    b.add(T, id, rec, 12 + k * 8, 4, "enum_name", so);
                    b.add(T, id, rec, 16 + k * 8, 4, "enum_val", Class::Raw);
                }
            }
            BtfKind::Enum64 => {
                for k in 0..vlen {
                    b.add(T, id, rec, 12 + k * 12, 4, "enum64_name", so);
                    b.add(T, id, rec, 16 + k * 12, 8, "enum64_val", Class::Raw);
                }
            }
            BtfKind::FuncProto => {
                for k in 0..vlen {
                    b.add(T, id, rec, 12 + k * 8, 4, "param_name", so);
                    b.add(T, id, rec, 16 + k * 8, 4, "param_type", Class::TypeId);
                }
            }
            BtfKind::Var => b.add(T, id, rec, 12, 4, "var_linkage", Class::Linkage),
            BtfKind::Datasec => {
                for k in 0..vlen {
                    let m = 12 + k * 12;
                    b.add(T, id, rec, m, 4, "secinfo_type", Class::TypeId);
                    b.add(T, id, rec, m + 4, 4, "secinfo_offset", Class::Size(4096));
                    b.add(T, id, rec, m + 8, 4, "secinfo_size", Class::Size(64));
                }
            }
            BtfKind::DeclTag => b.add(T, id, rec, 12, 4, "component_idx", Class::Count(1)),
            _ => {}
        }
    }
    Ok(n as u64)
}

/// Fields of `.BTF.ext` at file offset `base`.
fn layout_ext(b: &mut Builder, ext: &[u8], base: u64, btf_str_len: u64) {
    let Ok(parsed) = BtfExt::parse(ext) else {
        return;
    };
    let h = *parsed.header();
    use Area::ExtHdr as H;
    b.add(H, 0, base, 0, 2, "magic", Class::Magic);
    b.add(H, 0, base, 2, 1, "version", Class::Magic);
    b.add(H, 0, base, 3, 1, "flags", Class::Raw);
    b.add(H, 0, base, 4, 4, "hdr_len", Class::Size(32));
    let subs: [(&'static str, u64, u32, u32); 3] = [
        ("func_info", 8, h.func_info_off, h.func_info_len),
        ("line_info", 16, h.line_info_off, h.line_info_len),
        ("core_relo", 24, h.core_relo_off, h.core_relo_len),
    ];
    for (name, hoff, off, len) in subs {
        if hoff >= u64::from(h.hdr_len) {
            continue;
        }
        b.add(H, 0, base, hoff, 4, name, Class::Size(u64::from(off)));
        b.add(H, 0, base, hoff + 4, 4, name, Class::Size(u64::from(len)));
        if len == 0 {
            continue;
        }
        // Walk the subsection as the parser validated it.
        let start = u64::from(h.hdr_len) + u64::from(off);
        let end = start + u64::from(len);
        let rec_size = rd(ext, start as usize, 4);
        b.add(
            Area::ExtRec,
            0,
            base,
            start,
            4,
            "rec_size",
            Class::Size(rec_size),
        );
        let mut p = start + 4;
        let mut blk = 0u32;
        while p + 8 <= end && rec_size >= 8 {
            let num = rd(ext, p as usize + 4, 4);
            b.add(
                Area::ExtRec,
                blk,
                base,
                p,
                4,
                "sec_name_off",
                Class::StrOff(btf_str_len),
            );
            b.add(
                Area::ExtRec,
                blk,
                base,
                p + 4,
                4,
                "num_info",
                Class::Count(num),
            );
            p += 8;
            for _ in 0..num {
                if p + rec_size > end {
                    break;
                }
                let r = |k: u64| p + k * 4;
                b.add(
                    Area::ExtRec,
                    blk,
                    base,
                    r(0),
                    4,
                    "insn_off",
                    Class::InsnOff(4096),
                );
                match name {
                    "func_info" => b.add(
                        Area::ExtRec,
                        blk,
                        base,
                        r(1),
                        4,
                        "func_type_id",
                        Class::TypeId,
                    ),
                    "line_info" => {
                        let so = Class::StrOff(btf_str_len);
                        b.add(Area::ExtRec, blk, base, r(1), 4, "file_name_off", so);
                        b.add(Area::ExtRec, blk, base, r(2), 4, "line_off", so);
                        b.add(Area::ExtRec, blk, base, r(3), 4, "line_col", Class::Raw);
                    }
                    _ => {
                        b.add(
                            Area::ExtRec,
                            blk,
                            base,
                            r(1),
                            4,
                            "core_type_id",
                            Class::TypeId,
                        );
                        b.add(
                            Area::ExtRec,
                            blk,
                            base,
                            r(2),
                            4,
                            "access_str_off",
                            Class::StrOff(btf_str_len),
                        );
                        b.add(
                            Area::ExtRec,
                            blk,
                            base,
                            r(3),
                            4,
                            "core_kind",
                            Class::CoreKind,
                        );
                    }
                }
                p += rec_size;
            }
            blk += 1;
        }
    }
}

/// The `nelems` words that encode BTF-defined map attributes (`__uint(name, value)` is
/// a member pointing to an array of `value` elements).
fn layout_map_defs(b: &mut Builder, blob: &[u8], base: u64, datasec: u32) {
    let Ok(n) = btf::count_types(blob) else {
        return;
    };
    let mut offsets = vec![0u32; n + 1];
    let mut found: Vec<(u32, u32, &'static str)> = Vec::new();
    {
        let Ok(t) = Btf::parse(blob, &mut offsets[..]) else {
            return;
        };
        let Ok(ds) = t.type_by_id(datasec) else {
            return;
        };
        let Ok(secinfos) = ds.secinfos() else { return };
        for (vi, si) in secinfos.enumerate() {
            let Some(st) = t.type_by_id(si.type_id).ok().and_then(|v| v.ref_type()) else {
                continue;
            };
            let Some(st) = skip_mods(&t, st) else {
                continue;
            };
            let Ok(members) = st.members() else { continue };
            for m in members {
                let attr = match m.name() {
                    Ok("type") => "type",
                    Ok("max_entries") => "max_entries",
                    Ok("key_size") => "key_size",
                    Ok("value_size") => "value_size",
                    Ok("map_flags") => "map_flags",
                    Ok("numa_node") => "numa_node",
                    Ok("pinning") => "pinning",
                    Ok("map_extra") => "map_extra",
                    _ => continue,
                };
                let Ok(p) = t.type_by_id(m.type_id) else {
                    continue;
                };
                if p.kind() != BtfKind::Ptr {
                    continue;
                }
                let Some(arr) = p.ref_type() else { continue };
                if t.type_by_id(arr).map(|a| a.kind()) == Ok(BtfKind::Array) {
                    found.push((vi as u32, arr, attr));
                }
            }
        }
    }
    for (vi, arr, attr) in found {
        let rec = base + u64::from(offsets[arr as usize]);
        b.add(Area::MapDef, vi, rec, 20, 4, attr, Class::MapAttr(attr));
    }
}

fn skip_mods<'a>(t: &'a Btf<&[u8], &mut [u32]>, mut id: u32) -> Option<btf::Type<'a>> {
    for _ in 0..16 {
        let ty = t.type_by_id(id).ok()?;
        match ty.kind() {
            BtfKind::Typedef
            | BtfKind::Const
            | BtfKind::Volatile
            | BtfKind::Restrict
            | BtfKind::TypeTag => id = ty.ref_type()?,
            _ => return Some(ty),
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// Values.

fn mask(w: u8) -> u64 {
    if w >= 8 {
        u64::MAX
    } else {
        (1u64 << (u32::from(w) * 8)) - 1
    }
}

/// A value for a field: half the time generic (boundaries, neighbours, random), half
/// the time chosen for what the field holds.
fn value(r: &mut Rng, s: &Seed, f: &Field, old: u64) -> u64 {
    let m = mask(f.width);
    let flen = s.data.len() as u64;
    let generic = |r: &mut Rng| match r.below(10) {
        0 => 0,
        1 => 1,
        2 => m,
        3 => m >> 1,
        4 => (m >> 1) + 1,
        5 => old.wrapping_add(1),
        6 => old.wrapping_sub(1),
        7 => old ^ (1 << r.below(u64::from(f.width) * 8)),
        8 => old.wrapping_add(r.below(64)).wrapping_sub(32),
        _ => r.next(),
    };
    if r.chance(1, 3) {
        return generic(r) & m;
    }
    let near = |r: &mut Rng, h: u64| match r.below(6) {
        0 => h,
        1 => h.wrapping_add(1),
        2 => h.wrapping_sub(1),
        3 => h.wrapping_mul(2),
        4 => r.below(h.saturating_add(2)),
        _ => h.wrapping_add(8),
    };
    let v = match f.class {
        Class::Raw | Class::Magic => generic(r),
        Class::Count(h) => match r.below(4) {
            0 => near(r, h),
            1 => *r
                .pick(&[
                    0,
                    1,
                    2,
                    0xff,
                    0x100,
                    0xffff,
                    0x1_0000,
                    0x7fff_ffff,
                    0xffff_ffff,
                ])
                .unwrap(),
            _ => near(r, old),
        },
        Class::FileOff => {
            let b = *r.pick(&s.bounds).unwrap_or(&0);
            match r.below(6) {
                0 => flen,
                1 => flen.wrapping_sub(r.below(16)),
                2 => b,
                3 => b.wrapping_add(r.below(32)).wrapping_sub(16),
                4 => r.below(flen),
                _ => u64::MAX - r.below(64),
            }
        }
        Class::Size(h) => match r.below(5) {
            0 => near(r, h),
            1 => near(r, old),
            2 => flen.wrapping_sub(old.min(flen)).wrapping_add(r.below(3)),
            3 => *r
                .pick(&[0, 1 << 20, 1 << 26, 1 << 31, 1 << 32, u64::MAX - 7])
                .unwrap(),
            _ => old & !7,
        },
        Class::SecIdx => match r.below(5) {
            0 => *r.pick(&[0, 0xfff1, 0xfff2, 0xff00, 0xffff]).unwrap(),
            1 => s.shnum,
            _ => r.below(s.shnum + 1),
        },
        Class::SymIdx => match r.below(4) {
            0 => s.nsyms,
            1 => *r.pick(&[0, u64::from(u32::MAX), 0x7fff_ffff]).unwrap(),
            _ => r.below(s.nsyms + 1),
        },
        Class::StrOff(len) => match r.below(5) {
            0 => len,
            1 => len.wrapping_sub(1),
            2 => old.wrapping_add(1),
            3 => *r
                .pick(&[0, 0x00ff_ffff, 0x0100_0000, u64::from(u32::MAX)])
                .unwrap(),
            _ => r.below(len.max(1)),
        },
        Class::TypeId => match r.below(5) {
            0 => s.btf_types,
            1 => s.btf_types + 1,
            2 => *r.pick(&[0, 0x7fff_ffff, u64::from(u32::MAX)]).unwrap(),
            3 => old.wrapping_add(1),
            _ => r.below(s.btf_types + 1),
        },
        Class::InsnOff(h) => match r.below(5) {
            0 => old.wrapping_add(8),
            1 => old.wrapping_sub(8),
            2 => old.wrapping_add(r.below(8)),
            3 => h,
            _ => r.below(h.max(8) / 8) * 8,
        },
        Class::ShType => *r
            .pick(&[
                0,
                1,
                2,
                3,
                4,
                5,
                6,
                8,
                9,
                11,
                14,
                18,
                0x6fff_4c03,
                0x7000_0000,
                0xffff_ffff,
            ])
            .unwrap(),
        Class::ShFlags => *r
            .pick(&[
                0,
                1,
                2,
                3,
                4,
                6,
                7,
                0x10,
                0x20,
                0x30,
                0x40,
                0x200,
                0x400,
                1 << 31,
            ])
            .unwrap(),
        Class::SymInfo => {
            let bind = *r.pick(&[0u64, 1, 2, 10, 13]).unwrap();
            let ty = *r.pick(&[0u64, 1, 2, 3, 4, 6, 10, 15]).unwrap();
            bind << 4 | ty
        }
        Class::RelType => r.below(13),
        Class::BtfInfo => {
            let kind = (old >> 24) & 0x1f;
            let vlen = old & 0xffff;
            match r.below(4) {
                0 => (old & !(0x1f << 24)) | (r.below(21) << 24),
                1 => (old & !0xffff) | (vlen.wrapping_add(r.below(3)).wrapping_sub(1) & 0xffff),
                2 => old ^ (1 << 31),
                _ => (kind << 24) | (r.below(0x10000)),
            }
        }
        Class::Linkage => r.below(4),
        Class::CoreKind => r.below(16),
        Class::MapAttr(a) => match a {
            "type" => r.below(36),
            "max_entries" => *r
                .pick(&[
                    0,
                    1,
                    2,
                    255,
                    256,
                    4096,
                    1 << 16,
                    1 << 20,
                    1 << 24,
                    0x7fff_ffff,
                    0xffff_ffff,
                ])
                .unwrap(),
            "key_size" | "value_size" => *r
                .pick(&[
                    0,
                    1,
                    3,
                    4,
                    7,
                    8,
                    16,
                    64,
                    512,
                    4096,
                    65535,
                    65536,
                    1 << 20,
                    0xffff_ffff,
                ])
                .unwrap(),
            "map_flags" => 1 << r.below(18) | if r.chance(1, 3) { 1 << r.below(18) } else { 0 },
            "pinning" => r.below(4),
            "numa_node" => *r.pick(&[0, 1, 63, 0xffff_ffff]).unwrap(),
            _ => generic(r),
        },
    };
    v & m
}

/// Valid BPF opcodes, and a few invalid ones.
const OPCODES: &[u8] = &[
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f,
    0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd4, 0xd7, 0xdc, // ALU64, ALU
    0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c,
    0x84, 0x94, 0x9c, 0xa4, 0xac, 0xb4, 0xbc, 0xc4, 0xcc, // ALU32
    0x05, 0x06, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d,
    0x85, 0x8d, 0x95, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd, // JMP
    0x16, 0x1e, 0x26, 0x2e, 0x56, 0x5e, 0xa6, 0xae, 0xd6, 0xde, // JMP32
    0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, // LD
    0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, // LDX, MEMSX
    0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, // ST, STX
    0xc3, 0xdb, // atomics
    0x00, 0xff, 0x8f, 0xe5, // invalid
];

/// Helper ids worth calling, and the kfunc/pseudo-call encodings.
fn imm_value(r: &mut Rng, old: i32) -> i32 {
    match r.below(8) {
        0 => *r
            .pick(&[0, 1, -1, i32::MIN, i32::MAX, 32, 63, 64, -8, -512])
            .unwrap(),
        1 => r.below(212) as i32,
        2 => old.wrapping_add(1),
        3 => old.wrapping_sub(1),
        4 => old ^ (1 << r.below(32)),
        5 => r.below(16) as i32,
        _ => r.next() as i32,
    }
}

fn off_value(r: &mut Rng, old: i16) -> i16 {
    match r.below(7) {
        0 => *r
            .pick(&[0, 1, -1, 2, -2, i16::MIN, i16::MAX, -8, -512, 8])
            .unwrap(),
        1 => old.wrapping_add(1),
        2 => old.wrapping_sub(1),
        3 => old.wrapping_neg(),
        4 => (r.below(64) as i16) - 32,
        5 => old ^ (1 << r.below(16)),
        _ => r.next() as i16,
    }
}

/// Mutate one instruction at `off` (its section ends at `end`).
fn mutate_insn(r: &mut Rng, d: &mut [u8], off: usize, end: usize, desc: &mut String) {
    let code = rd(d, off, 1) as u8;
    let regs = rd(d, off + 1, 1) as u8;
    let o = rd(d, off + 2, 2) as u16 as i16;
    let imm = rd(d, off + 4, 4) as u32 as i32;
    let what = match r.below(11) {
        0 | 1 => {
            let c = *r.pick(OPCODES).unwrap();
            wr(d, off, 1, u64::from(c));
            format!("code {code:#04x}->{c:#04x}")
        }
        2 => {
            let reg = r.below(12) as u8;
            let n = if r.chance(1, 2) {
                (regs & 0xf0) | reg
            } else {
                (regs & 0x0f) | reg << 4
            };
            wr(d, off + 1, 1, u64::from(n));
            format!("regs {regs:#04x}->{n:#04x}")
        }
        3 => {
            let n = off_value(r, o);
            wr(d, off + 2, 2, n as u16 as u64);
            format!("off {o}->{n}")
        }
        4 | 5 => {
            let n = imm_value(r, imm);
            wr(d, off + 4, 4, n as u32 as u64);
            format!("imm {imm}->{n}")
        }
        6 => {
            // ld_imm64 with a pseudo source (map fd, map value, BTF id, func, map index).
            let src = r.below(7) as u8;
            let n = imm_value(r, imm);
            wr(d, off, 1, 0x18);
            wr(d, off + 1, 1, u64::from(regs & 0x0f | src << 4));
            wr(d, off + 4, 4, n as u32 as u64);
            format!("ld_imm64 src {src} imm {n}")
        }
        7 => {
            // A call: helper, pseudo (bpf-to-bpf) or kfunc.
            let src = r.below(3) as u8;
            let n = imm_value(r, imm);
            wr(d, off, 1, 0x85);
            wr(d, off + 1, 1, u64::from(src << 4));
            wr(d, off + 4, 4, n as u32 as u64);
            format!("call src {src} imm {n}")
        }
        8 => {
            let (c, name) = *r
                .pick(&[(0x95u64, "exit"), (0x05, "ja"), (0x00, "zero")])
                .unwrap();
            let o = if c == 0x05 { r.below(3) as i16 - 1 } else { 0 };
            wr(d, off, 8, c | (o as u16 as u64) << 16);
            format!("-> {name} {o}")
        }
        9 => {
            let k = (end - off) / 8;
            let other = off + (r.below(k as u64) as usize) * 8;
            let a = rd(d, off, 8);
            let b = rd(d, other, 8);
            wr(d, off, 8, b);
            wr(d, other, 8, a);
            format!("swapped with +{}", (other - off) / 8)
        }
        _ => {
            let prev = off.saturating_sub(8);
            let p = rd(d, prev, 8);
            wr(d, off, 8, p);
            "copy of previous".to_string()
        }
    };
    let _ = write!(desc, "insn@{off:#x}: {what}");
}

/// Program section names a `SEC()` could carry, to retype a program in place.
const SEC_NAMES: &[&str] = &[
    "xdp",
    "tc",
    "kprobe/x",
    "tracepoint/a/b",
    "raw_tp/x",
    "fentry/x",
    "lsm/bpf",
    "socket",
    "cgroup_skb/ingress",
    "struct_ops/x",
    "syscall",
    "iter/task",
    "sk_msg",
    "perf_event",
    "uprobe",
    "tp_btf/x",
    "fmod_ret/x",
    "sk_lookup",
    "lwt_in",
    "flow_dissector",
    "cgroup/sysctl",
    "license",
    "version",
    ".maps",
    ".data",
    ".rodata",
    ".bss",
    ".kconfig",
    ".ksyms",
    ".struct_ops",
    "?xdp",
    ".text",
    ".BTF",
    ".BTF.ext",
    "kprobe.multi/x",
    "fentry.s/x",
    "xdp.frags",
];

// ---------------------------------------------------------------------------------
// Inputs.

/// Input `index` of run `seed`: its bytes, the corpus object and what was done.
/// Which of `n` corpus objects input `index` of run `seed` mutates (what [`generate`]
/// picks first).
fn seed_index(n: usize, seed: u64, index: u64) -> usize {
    Rng::for_input(seed, index).below(n as u64) as usize
}

fn generate(seeds: &[Seed], seed: u64, index: u64) -> (Vec<u8>, String) {
    let mut r = Rng::for_input(seed, index);
    let s = &seeds[r.below(seeds.len() as u64) as usize];
    let mut d = s.data.clone();
    let mut desc = format!("{}:", s.name);
    if r.chance(1, 100) {
        desc.push_str(" unmutated");
        return (d, desc);
    }
    let n = match r.below(8) {
        0..=3 => 1,
        4 | 5 => 2,
        6 => 3,
        _ => 4,
    };
    let total: u64 = WEIGHTS
        .iter()
        .filter(|(a, _)| s.has(*a))
        .map(|(_, w)| w)
        .sum();
    let mut late = Vec::new();
    for _ in 0..n {
        let mut x = r.below(total);
        let area = WEIGHTS
            .iter()
            .filter(|(a, _)| s.has(*a))
            .find(|(_, w)| {
                if x < *w {
                    true
                } else {
                    x -= w;
                    false
                }
            })
            .map(|(a, _)| *a)
            .unwrap_or(Area::Flip);
        if matches!(
            area,
            Area::Truncate | Area::Extend | Area::Flip | Area::Chunk
        ) {
            // Structural changes come last: the field offsets are the original file's.
            late.push(area);
            continue;
        }
        desc.push_str(" [");
        match area {
            Area::Insn => {
                let &(off, end) = r.pick(&s.insns).unwrap();
                mutate_insn(&mut r, &mut d, off as usize, end as usize, &mut desc);
            }
            Area::Name => {
                let &(off, len) = r.pick(&s.names).unwrap();
                let new: Vec<u8> = match r.below(4) {
                    0 => {
                        let fit: Vec<&str> = SEC_NAMES
                            .iter()
                            .copied()
                            .filter(|n| n.len() <= len as usize)
                            .collect();
                        r.pick(&fit)
                            .map(|n| n.as_bytes().to_vec())
                            .unwrap_or_default()
                    }
                    1 => vec![],
                    2 => {
                        // A character the kernel refuses in names, or a stray NUL.
                        let mut v = d[off as usize..(off + len) as usize].to_vec();
                        let p = r.below(len as u64) as usize;
                        v[p] = *r.pick(b"\0-/ .?\xff\x01").unwrap();
                        v
                    }
                    _ => {
                        // Remove the terminating NUL: the name runs into the next one.
                        wr(&mut d, (off + len) as usize, 1, b'A' as u64);
                        let _ = write!(desc, "name@{off:#x} unterminated");
                        desc.push(']');
                        continue;
                    }
                };
                let mut buf = vec![0u8; len as usize];
                let k = new.len().min(len as usize);
                buf[..k].copy_from_slice(&new[..k]);
                if let Some(dst) = d.get_mut(off as usize..(off + len) as usize) {
                    dst.copy_from_slice(&buf);
                }
                let _ = write!(
                    desc,
                    "name@{off:#x} -> {:?}",
                    String::from_utf8_lossy(&buf[..k])
                );
            }
            Area::Data | Area::BtfStr => {
                let (off, len) = if area == Area::Data {
                    *r.pick(&s.data_ranges).unwrap()
                } else {
                    s.btf_str.unwrap()
                };
                let p = off as usize + r.below(len as u64) as usize;
                let old = rd(&d, p, 1);
                let rnd = r.next() & 0xff;
                let v = *r
                    .pick(&[0u64, 0xff, b'A' as u64, b'.' as u64, 0x80, old ^ 1, rnd])
                    .unwrap();
                wr(&mut d, p, 1, v);
                let _ = write!(desc, "{area:?}@{p:#x} {old:#x}->{v:#x}");
            }
            _ => {
                let list = &s.by_area.iter().find(|(a, _)| *a == area).unwrap().1;
                let f = s.fields[*r.pick(list).unwrap() as usize];
                let old = rd(&d, f.off as usize, f.width as usize);
                let mut v = value(&mut r, s, &f, old);
                if v == old {
                    v = old ^ 1;
                }
                wr(&mut d, f.off as usize, f.width as usize, v);
                let _ = write!(
                    desc,
                    "{:?}[{}].{}@{:#x} {old:#x}->{v:#x}",
                    f.area, f.rec, f.name, f.off
                );
            }
        }
        desc.push(']');
    }
    for area in late {
        let len = d.len() as u64;
        match area {
            Area::Truncate => {
                let b = *r.pick(&s.bounds).unwrap_or(&0);
                let to = match r.below(4) {
                    0 => r.below(len),
                    1 => b.min(len),
                    2 => b.saturating_sub(r.below(8) + 1).min(len),
                    _ => len.saturating_sub(r.below(16) + 1),
                };
                d.truncate(to as usize);
                let _ = write!(desc, " [truncate {len}->{to}]");
            }
            Area::Extend => {
                let n = *r.pick(&[1u64, 7, 8, 64, 4096, 4097, 65536]).unwrap();
                let fill = r.below(3);
                for k in 0..n {
                    let byte = match fill {
                        0 => 0,
                        1 => r.next() as u8,
                        _ => d.get((k % len.max(1)) as usize).copied().unwrap_or(0),
                    };
                    d.push(byte);
                }
                let _ = write!(desc, " [extend +{n} fill {fill}]");
            }
            Area::Flip => {
                let k = 1 + r.below(8);
                for _ in 0..k {
                    if d.is_empty() {
                        break;
                    }
                    let p = r.below(d.len() as u64) as usize;
                    d[p] ^= 1 << r.below(8);
                }
                let _ = write!(desc, " [flip {k} bits]");
            }
            _ => {
                if len > 16 {
                    let n = 1 + r.below(64.min(len / 2));
                    let from = r.below(len - n) as usize;
                    let to = r.below(len - n) as usize;
                    let chunk = d[from..from + n as usize].to_vec();
                    d[to..to + n as usize].copy_from_slice(&chunk);
                    let _ = write!(desc, " [copy {n} bytes {from:#x}->{to:#x}]");
                }
            }
        }
    }
    (d, desc)
}

fn load_corpus(dir: &str) -> Result<Vec<Seed>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bpf.o"))
        .collect();
    names.sort();
    let mut seeds = Vec::new();
    for n in names {
        let data = std::fs::read(format!("{dir}/{n}")).map_err(|e| format!("{dir}/{n}: {e}"))?;
        match Seed::parse(&n, data) {
            Ok(s) => seeds.push(s),
            Err(e) => eprintln!("bpfld-fuzz: skipping {e}"),
        }
    }
    if seeds.is_empty() {
        return Err(format!("{dir}: no usable *.bpf.o"));
    }
    Ok(seeds)
}

// ---------------------------------------------------------------------------------
// The system under test: verity files, the kernel's state, its log.

/// Write `bytes` to `path`, enable fs-verity (SHA-256 or SHA-512) and return the file
/// open for reading.
fn verity_file(path: &Path, bytes: &[u8], sha512: bool, salt: &[u8]) -> Result<File, String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    drop(f);
    let f = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    bpfld::verity::enable(&f, sha512, salt)
        .map_err(|e| format!("FS_IOC_ENABLE_VERITY {}: {e}", path.display()))?;
    Ok(f)
}

fn count_ids(cmd: u32) -> u32 {
    next_ids(cmd).len() as u32
}

/// What an input must leave as it found: our fds and the kernel's BPF objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    fds: u32,
    progs: u32,
    maps: u32,
    btfs: u32,
    links: u32,
}

impl Counts {
    fn read() -> Counts {
        Counts {
            fds: std::fs::read_dir("/proc/self/fd")
                .map(|d| d.count() as u32)
                .unwrap_or(0),
            progs: count_ids(uapi::BPF_PROG_GET_NEXT_ID),
            maps: count_ids(uapi::BPF_MAP_GET_NEXT_ID),
            btfs: count_ids(uapi::BPF_BTF_GET_NEXT_ID),
            links: count_ids(uapi::BPF_LINK_GET_NEXT_ID),
        }
    }

    /// Wait up to `limit` for the counts to come back to `self` (closed BPF objects are
    /// freed after RCU grace periods and from workqueues); the last reading if not.
    /// Componentwise at most `other`: fewer objects than the baseline is an earlier
    /// input's objects finishing their way out (RCU, workqueues: seconds under KASAN and
    /// TCG), not a leak.
    fn within(&self, other: &Counts) -> bool {
        self.fds <= other.fds
            && self.progs <= other.progs
            && self.maps <= other.maps
            && self.btfs <= other.btfs
            && self.links <= other.links
    }

    /// Componentwise minimum: the baseline once late frees have landed.
    fn min(&self, other: &Counts) -> Counts {
        Counts {
            fds: self.fds.min(other.fds),
            progs: self.progs.min(other.progs),
            maps: self.maps.min(other.maps),
            btfs: self.btfs.min(other.btfs),
            links: self.links.min(other.links),
        }
    }

    /// Wait (up to `limit`) until the counts are back within `self`; the counts then.
    fn settle(&self, limit: Duration) -> Result<Counts, Counts> {
        let start = Instant::now();
        let mut pause = Duration::from_micros(200);
        loop {
            let now = Counts::read();
            if now.within(self) {
                return Ok(now);
            }
            if start.elapsed() >= limit {
                return Err(now);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// The kernel log, read record by record as it grows, and the taint flags.
struct Kmsg {
    log: KernelLog,
    taint: u64,
}

fn read_taint() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/tainted")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Kernel behaviour that any `CAP_BPF` process reaches with bare `bpf(2)`, reproduced
/// without bpfld (Documentation/fuzzing.rst, "Kernel findings"): a report containing
/// all of a row's strings is counted as `kernel_known`, not as a finding.
const KERNEL_KNOWN: &[(&str, &[&str])] = &[(
    "RCU stall in reuseport_array_free (it walks max_entries under rcu_read_lock)",
    &["self-detected stall", "reuseport_array_free"],
)];

/// How long to wait for the kernel to finish after a [`KERNEL_KNOWN`] report, or for
/// objects that did not leak when replayed alone to come back.
const KNOWN_SETTLE: Duration = Duration::from_secs(600);

fn kernel_known(lines: &[String]) -> Option<&'static str> {
    KERNEL_KNOWN
        .iter()
        .find(|(_, pats)| pats.iter().all(|p| lines.iter().any(|l| l.contains(p))))
        .map(|(name, _)| *name)
}

/// Inputs whose maps ask for more than this at creation load in a child process.
const CHILD_MAP_BYTES: u64 = 64 << 20;

/// What the maps of `bytes` ask the kernel to allocate when they are created (0 if the
/// core cannot parse it: then bpfld refuses it before creating anything).
fn map_memory(bytes: &[u8]) -> u64 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let mut a = VecAlloc::default();
    let Ok(elf) = Elf::parse(bytes, &mut a) else {
        return 0;
    };
    // As the module parses: with the BTF's full check deferred, it creates the maps
    // before that check can refuse the object (Object::check_deferred_btf), so an
    // object whose BTF fails it still gets its maps for a while.
    let opts = ParseOptions {
        defer_btf_checks: true,
    };
    let Ok(obj) = Object::parse_with(elf, "fz", &opts, &mut a) else {
        return 0;
    };
    obj.maps
        .iter()
        .filter(|m| m.autocreate)
        .fold(0u64, |sum, m| {
            sum.saturating_add(m.def.memory_estimate(cpus))
        })
}

/// How a load went.
enum Loaded {
    /// Loaded; the check of what it returned.
    Yes(Result<(), String>),
    /// Refused.
    No(bpfld::dev::KLoadError),
    /// The loading child (pid) was killed.
    Killed(i32),
    /// The child could not be run or did not report.
    Broken(String),
}

/// Load `file` with the input's load options.
fn load_opts(
    dev: &Device,
    file: &File,
    opts: &KLoadOpts,
    lo: &GenOpts,
) -> Result<KLoad, bpfld::dev::KLoadError> {
    let reuse: Vec<(&str, RawFd)> = lo.reuse.iter().map(|(n, f)| (n.as_str(), *f)).collect();
    let targets: Vec<(&str, RawFd, u32)> = lo
        .targets
        .iter()
        .map(|(n, f, id)| (n.as_str(), *f, *id))
        .collect();
    let autoload: Vec<(&str, bool)> = lo.autoload.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    dev.load_with_raw(file, opts, &reuse, &targets, &autoload, lo.layout.0)
}

/// [`check_loaded`] with the autoload entries the options' size lets through; a load
/// of options whose size the module must refuse is wrong whatever it returned.
fn check_by_rule(l: &KLoad, lo: &GenOpts) -> Result<(), String> {
    match lo.rule() {
        SizeRule::Read(autoload) => check_loaded(l, autoload, lo.register),
        SizeRule::Refused(_) => Err(format!(
            "loaded with struct bpfld_load_opts sent as {:?}, which must be refused",
            lo.layout.0
        )),
    }
}

/// Load in a child process that the OOM killer picks first (this process is exempt:
/// see `main`). An input whose maps need more memory than the VM has then costs the
/// child, as it would cost a libbpf caller, and the run goes on; whether the kernel
/// survives it, gives the memory back and leaks nothing is checked as for any input.
fn load_in_child(dev: &Device, file: &File, opts: &KLoadOpts, lo: &GenOpts) -> Loaded {
    let mut p = [0i32; 2];
    // SAFETY: pipe2 writes two new fds into `p`.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Loaded::Broken(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds are new and ours.
    let (rd, wr) = unsafe {
        use std::os::fd::FromRawFd;
        (File::from_raw_fd(p[0]), File::from_raw_fd(p[1]))
    };
    // SAFETY: fork(2) of this single-threaded process; the child only loads, writes its
    // report and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Loaded::Broken(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(rd);
        let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
        let report = match load_opts(dev, file, opts, lo) {
            Ok(l) => format!("O{}", check_by_rule(&l, lo).err().unwrap_or_default()),
            Err(e) => format!("E{} {}", e.errno, e.msg),
        };
        let mut wr = wr;
        let _ = wr.write_all(report.as_bytes());
        // SAFETY: leave without running this process's exit handlers.
        unsafe { libc::_exit(0) };
    }
    drop(wr);
    let mut report = String::new();
    let mut rd = rd;
    let _ = rd.read_to_string(&mut report);
    let mut st = 0;
    // SAFETY: waitpid(2) of our child.
    while unsafe { libc::waitpid(pid, &mut st, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Loaded::Broken(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
    }
    if libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL {
        return Loaded::Killed(pid);
    }
    match report.split_at_checked(1) {
        Some(("O", "")) => Loaded::Yes(Ok(())),
        Some(("O", e)) => Loaded::Yes(Err(e.to_string())),
        Some(("E", rest)) => {
            let (errno, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            Loaded::No(bpfld::dev::KLoadError {
                errno: errno.parse().unwrap_or(0),
                msg: msg.to_string(),
                log: String::new(),
                digest: Vec::new(),
            })
        }
        _ => Loaded::Broken(format!("child {pid}: status {st:#x}, report {report:?}")),
    }
}

impl Kmsg {
    fn open() -> Result<Kmsg, String> {
        Ok(Kmsg {
            log: KernelLog::open()?,
            taint: read_taint(),
        })
    }

    /// The records logged since the last call (message text only).
    fn drain(&mut self) -> Vec<String> {
        self.log.drain()
    }
}

const KMEMLEAK: &str = "/sys/kernel/debug/kmemleak";

/// Have kmemleak scan twice (an object is reported once it stayed unreferenced for a
/// whole scan and is older than 5 s) and return the reports that involve BPF, BTF,
/// bpfld or fs-verity, and the number of unrelated ones.
fn kmemleak_scan() -> Result<(Vec<String>, usize), String> {
    for k in 0..2 {
        if k == 1 {
            std::thread::sleep(Duration::from_secs(5));
        }
        std::fs::write(KMEMLEAK, "scan").map_err(|e| format!("{KMEMLEAK}: {e}"))?;
    }
    let report = std::fs::read_to_string(KMEMLEAK).map_err(|e| format!("{KMEMLEAK}: {e}"))?;
    let mut ours = Vec::new();
    let mut others = 0;
    for leak in report.split("unreferenced object").skip(1) {
        if ["bpfld", "bpf", "btf", "verity"]
            .iter()
            .any(|w| leak.contains(w))
        {
            ours.push(format!("unreferenced object{leak}"));
        } else {
            others += 1;
        }
    }
    // Reported leaks stay in the list; clear them so the next scan shows only new ones.
    let _ = std::fs::write(KMEMLEAK, "clear");
    Ok((ours, others))
}

// ---------------------------------------------------------------------------------
// The driver.

struct Opts {
    corpus: String,
    dir: String,
    out: String,
    seed: u64,
    inputs: u64,
    start: u64,
    keep_going: bool,
    check_every: u64,
    leak_every: u64,
    settle: Duration,
    window: usize,
    replay: Vec<String>,
}

/// Errnos a refusal of a readable verity file in development mode must never carry:
/// they would mean a bad pointer, fd confusion, an I/O error or a policy mix-up.
const SUSPICIOUS_ERRNOS: &[i32] = &[
    libc::EFAULT,
    libc::EBADF,
    libc::EIO,
    libc::ENOTTY,
    libc::ENODATA,
    libc::EMFILE,
    libc::ENFILE,
    libc::EISDIR,
    libc::ENODEV,
    libc::EKEYREJECTED,
    libc::EKEYREVOKED,
    0,
];

#[derive(Default)]
struct Stats {
    inputs: u64,
    loaded: u64,
    refused: u64,
    /// Inputs loaded in a child that the OOM killer killed (see `load_in_child`).
    oom_killed: u64,
    /// Inputs loaded in a child because their maps are big.
    in_child: u64,
    /// Inputs with load options ([`gen_opts`]), and how many of them loaded; of them,
    /// those with autoload entries.
    with_opts: u64,
    opts_loaded: u64,
    with_autoload: u64,
    autoload_loaded: u64,
    /// Inputs loaded with `BPFLD_LOAD_REGISTER_STRUCT_OPS`.
    with_register: u64,
    /// Of them, those sent with another size than the whole struct ([`gen_layout`]).
    with_size: u64,
    /// Reports of known kernel behaviour ([`KERNEL_KNOWN`]).
    kernel_known: u64,
    env_errors: u64,
    findings: u64,
    errnos: std::collections::BTreeMap<i32, u64>,
    /// Most frequent refusal messages with their errno.
    msgs: std::collections::BTreeMap<String, u64>,
    t_gen: Duration,
    t_file: Duration,
    t_load: Duration,
    t_check: Duration,
    t_settle: Duration,
    settle_waits: u64,
    slowest: Vec<(Duration, u64, String)>,
}

struct Fuzzer {
    o: Opts,
    seeds: Vec<Seed>,
    /// What load options may name; made before the baseline counts.
    opt_fds: OptFds,
    dev: Device,
    kmsg: Kmsg,
    base: Counts,
    inflight: File,
    stats: Stats,
    canary: Option<usize>,
    pre_existing: Vec<String>,
    out_log: File,
}

/// One input to run.
struct Input {
    index: u64,
    bytes: Vec<u8>,
    desc: String,
}

/// fds that an input's load options (`struct bpfld_load_opts`) may name, made before
/// the run's baseline: maps of the shapes the corpus uses (so that some reuses are
/// taken), a program (for attach targets), a file that is no BPF object.
struct OptFds(Vec<(&'static str, OwnedFd)>);

/// A number that is no open fd of this process (the fd limit is far below it).
const CLOSED_FD: RawFd = 999_999;

impl OptFds {
    fn new() -> Result<OptFds, String> {
        use bpfld::sys::create_map;
        let map = |t, k, v, n, name: &'static str| {
            create_map(t, k, v, n, name).map_err(|e| format!("BPF_MAP_CREATE {name}: {e}"))
        };
        let mut v = vec![
            (
                "array 4/8x1",
                map(uapi::BPF_MAP_TYPE_ARRAY, 4, 8, 1, "fz_array")?,
            ),
            (
                "hash 4/8x16",
                map(uapi::BPF_MAP_TYPE_HASH, 4, 8, 16, "fz_hash")?,
            ),
            (
                "percpu_array 4/8x256",
                map(uapi::BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 256, "fz_pcpu")?,
            ),
            (
                "prog_array 4/4x8",
                map(uapi::BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, "fz_progs")?,
            ),
        ];
        v.push(("socket_filter prog", trivial_prog()?));
        let null = File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        v.push(("/dev/null", OwnedFd::from(null)));
        Ok(OptFds(v))
    }
}

/// `r0 = 0; exit` as a socket filter.
fn trivial_prog() -> Result<OwnedFd, String> {
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    let mut a = uapi::ProgLoadAttr {
        prog_type: uapi::BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: 2,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `insns` and `license` outlive the call, which reads them only.
    let fd = unsafe { bpfld::sys::sys_bpf(uapi::BPF_PROG_LOAD, &mut a) }
        .map_err(|e| format!("BPF_PROG_LOAD of a socket filter: {e}"))?;
    Ok(bpfld::sys::own(fd))
}

/// The load options of one input.
#[derive(Default)]
struct GenOpts {
    reuse: Vec<(String, RawFd)>,
    targets: Vec<(String, RawFd, u32)>,
    /// Entry programs turned on or off.
    autoload: Vec<(String, bool)>,
    /// An fd given is not open: `EBADF` is then the right answer.
    closed_fd: bool,
    /// A map to create for the input as the seed defines it, for the one entry of
    /// `reuse`: the load may then take it (the others seldom match).
    fresh: Option<bpfld_core::object::MapDef>,
    /// How `struct bpfld_load_opts` is sent ([`gen_layout`]).
    layout: Layout,
    /// `BPFLD_LOAD_REGISTER_STRUCT_OPS` is set in the request ([`gen_register`]).
    register: bool,
    desc: String,
}

/// [`OptsLayout`], defaulting to the whole struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout(OptsLayout);

impl Default for Layout {
    fn default() -> Self {
        Layout(OptsLayout::Full)
    }
}

/// What the options' `size` lets the module see of an input's options, which the
/// results are checked against.
#[derive(Debug, PartialEq, Eq)]
enum SizeRule<'a> {
    /// Read whole: loaded with these autoload entries, or refused for another reason.
    Read(&'a [(String, bool)]),
    /// Refused because of the size, with this errno (`None`: another check of the
    /// options may come first, with its own).
    Refused(Option<i32>),
}

/// The size of `struct bpfld_load_opts` before `autoload_cnt` (`BPFLD_LOAD_OPTS_SIZE_VER0`).
const OPTS_VER0: u32 = 40;
/// The module's largest `struct bpfld_load_opts` (`OPTS_MAX` in loader.rs).
const OPTS_MAX: u32 = 4096;

impl SizeRule<'_> {
    /// The errno the rule wants, if it is a refusal with another than `errno`.
    fn wrong_errno(&self, errno: i32) -> Option<i32> {
        match *self {
            SizeRule::Refused(Some(want)) if want != errno => Some(want),
            _ => None,
        }
    }
}

impl GenOpts {
    /// What the module is to make of these options, given their size.
    fn rule(&self) -> SizeRule<'_> {
        let whole = std::mem::size_of::<bpfld::uapi::BpfldLoadOpts>() as u32;
        match self.layout.0 {
            OptsLayout::Full => SizeRule::Read(&self.autoload),
            OptsLayout::Size(n) if n < OPTS_VER0 => SizeRule::Refused(Some(libc::EINVAL)),
            OptsLayout::Size(n) | OptsLayout::SizeTailSet(n) if n > OPTS_MAX => {
                SizeRule::Refused(Some(libc::E2BIG))
            }
            OptsLayout::SizeTailSet(n) if n > whole => SizeRule::Refused(Some(libc::E2BIG)),
            OptsLayout::Size(n) | OptsLayout::SizeTailSet(n) if n >= whole => {
                SizeRule::Read(&self.autoload)
            }
            // Up to `autoload_cnt`: the entries are not seen.
            OptsLayout::Size(n) | OptsLayout::SizeTailSet(n) if n <= OPTS_VER0 => {
                SizeRule::Read(&[])
            }
            // Cut inside the autoload fields: `autoload_size` reads as 0, which the
            // module refuses for a count above 0 (an earlier check may refuse first).
            _ if self.autoload.is_empty() => SizeRule::Read(&[]),
            _ => SizeRule::Refused(None),
        }
    }

    /// An autoload entry for program `name`, turned on or off half the time each.
    fn turn(&mut self, r: &mut Rng, name: String) {
        let load = r.chance(1, 2);
        let _ = write!(self.desc, " autoload {name:?}={}", u8::from(load));
        self.autoload.push((name, load));
    }
}

/// Whether input `index` asks the load to register its plain `.struct_ops` maps
/// (`BPFLD_LOAD_REGISTER_STRUCT_OPS`), one in four. Its own stream, so the inputs and
/// options of seeds run before the flag existed stay as they were.
fn gen_register(seed: u64, index: u64) -> bool {
    Rng::for_input(seed ^ 0x5eed_f1a9, index).chance(1, 4)
}

/// Load options for input `index` ([`gen_entries`]), one in four of them sent with
/// another size than the whole struct ([`gen_layout`]).
fn gen_opts(seed: u64, index: u64, s: &Seed, fds: &OptFds) -> GenOpts {
    let mut g = gen_entries(seed, index, s, fds);
    g.register = gen_register(seed, index);
    if !g.desc.is_empty() {
        g.layout = gen_layout(seed, index);
        if let OptsLayout::Size(n) | OptsLayout::SizeTailSet(n) = g.layout.0 {
            let tail = if g.layout.0 == OptsLayout::SizeTailSet(n) {
                ", last byte set"
            } else {
                ""
            };
            let _ = write!(g.desc, " size {n}{tail}");
        }
    }
    g
}

/// How input `index`'s options are sent: for one in four, with `size` one of: below
/// the first struct, the first struct (`BPFLD_LOAD_OPTS_SIZE_VER0`: no autoload
/// entries), cut inside the autoload fields, above this build's struct with its tail
/// zero or not, above the module's limit. From a generator of its own, so that the
/// entries drawn do not change with it.
fn gen_layout(seed: u64, index: u64) -> Layout {
    let mut r = Rng::for_input(seed ^ 0x7369_7a65, index);
    if !r.chance(1, 4) {
        return Layout::default();
    }
    let whole = std::mem::size_of::<bpfld::uapi::BpfldLoadOpts>() as u32;
    Layout(match r.below(6) {
        0 => OptsLayout::Size(OPTS_VER0 - 8),
        1 => OptsLayout::Size(OPTS_VER0),
        2 => OptsLayout::Size(OPTS_VER0 + 4),
        3 => OptsLayout::Size(whole + 8),
        4 => OptsLayout::SizeTailSet(whole + 8),
        _ => OptsLayout::Size(OPTS_MAX + 1),
    })
}

/// The entries of input `index`'s load options, for one in four inputs. Half of them: one of the
/// object's maps, made to its definition, and 0 to 2 of its programs turned on or off.
/// The others: 0 to 3 maps to reuse, 0 to 2 attach targets and 0 to 2 programs turned
/// on or off (at least one entry), each naming one of the object's maps or programs (or
/// a name it lacks, or none) and, for maps and targets, one of `fds` (or a closed
/// number). From a generator of its own, so that the inputs' bytes do not change with
/// it.
fn gen_entries(seed: u64, index: u64, s: &Seed, fds: &OptFds) -> GenOpts {
    let mut r = Rng::for_input(seed ^ 0x6f70_7473, index);
    let mut g = GenOpts::default();
    if !r.chance(1, 4) {
        return g;
    }
    // Half of them: one of the object's own maps, made to its definition.
    if r.chance(1, 2) {
        if let Some((n, def)) = r.pick(&s.reusable) {
            g.desc = format!(" opts[ reuse {n:?}=a map of its definition");
            g.fresh = Some(*def);
            g.reuse.push((n.clone(), CLOSED_FD));
            g.closed_fd = true;
            // And 0 to 2 of its own programs turned on or off, so that loads with
            // autoload entries succeed too.
            for _ in 0..r.below(3) {
                if let Some(p) = r.pick(&s.prog_names) {
                    g.turn(&mut r, p.clone());
                }
            }
            g.desc.push_str(" ]");
            return g;
        }
    }
    let (nr, nt, na) = loop {
        let (a, b, c) = (r.below(4), r.below(3), r.below(3));
        if a + b + c > 0 {
            break (a, b, c);
        }
    };
    let name = |r: &mut Rng, names: &[String]| -> String {
        match r.below(10) {
            0 => String::new(),
            1 => "no_such_name".to_string(),
            2 => "x".repeat(63),
            _ => r.pick(names).cloned().unwrap_or_default(),
        }
    };
    let fd = |r: &mut Rng, g: &mut GenOpts| -> (RawFd, &'static str) {
        match r.pick(&fds.0) {
            Some((what, f)) if !r.chance(1, 10) => (f.as_raw_fd(), what),
            _ => {
                g.closed_fd = true;
                (CLOSED_FD, "closed fd")
            }
        }
    };
    g.desc.push_str(" opts[");
    for _ in 0..nr {
        let n = name(&mut r, &s.map_names);
        let (f, what) = fd(&mut r, &mut g);
        let _ = write!(g.desc, " reuse {n:?}={what}");
        g.reuse.push((n, f));
    }
    for _ in 0..nt {
        let n = name(&mut r, &s.prog_names);
        let (f, what) = fd(&mut r, &mut g);
        let id = match r.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => r.below(200_000) as u32,
        };
        let _ = write!(g.desc, " target {n:?}={what}:{id}");
        g.targets.push((n, f, id));
    }
    for _ in 0..na {
        let n = name(&mut r, &s.prog_names);
        g.turn(&mut r, n);
    }
    g.desc.push_str(" ]");
    g
}

/// The file name input `index` is loaded from: usually `fz-INDEX.o`; one in four has
/// random bytes (any but `/` and NUL, UTF-8 or not) before `-INDEX`, and `.bpf.o` or
/// nothing after it. The module takes the object's name from the file's, and the
/// caller chooses it: a name cut inside a UTF-8 character once made the ioctl BUG.
/// From a generator of its own, so that the inputs' bytes do not change with it.
fn input_file_name(seed: u64, index: u64) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let mut r = Rng::for_input(seed ^ 0x6e61_6d65, index);
    if !r.chance(1, 4) {
        return format!("fz-{index}.o").into();
    }
    let mut name: Vec<u8> = (0..r.below(40))
        .map(|_| match r.next() as u8 {
            b'/' | 0 => b'_',
            b => b,
        })
        .collect();
    name.extend_from_slice(format!("-{index}").as_bytes());
    if r.chance(1, 2) {
        name.extend_from_slice(b".bpf.o");
    }
    std::ffi::OsString::from_vec(name)
}

/// What went wrong with an input.
struct Finding {
    kind: &'static str,
    detail: String,
    dmesg: Vec<String>,
    /// The kernel or the fuzzer's view of it can no longer be trusted: stop.
    fatal: bool,
}

fn errno_name(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    format!("{e} ({})", s.split(" (os error").next().unwrap_or(&s))
}

impl Fuzzer {
    fn say(&mut self, s: &str) {
        println!("{s}");
        let _ = writeln!(self.out_log, "{s}");
    }

    /// Write the input to the verity directory and load it; check everything but the
    /// BPF object counts, which may take a while to come back: returns whether they
    /// differ from the baseline yet.
    fn run_one(&mut self, inp: &Input) -> (Vec<Finding>, bool) {
        let mut findings = Vec::new();
        let mut r = Rng::for_input(self.o.seed ^ 0x5eed, inp.index);
        let marker = format!("{} {}\n", self.o.seed, inp.index);
        let _ = self.inflight.set_len(0);
        let _ = self.inflight.write_all_at(marker.as_bytes(), 0);

        let t0 = Instant::now();
        let path = PathBuf::from(&self.o.dir).join(input_file_name(self.o.seed, inp.index));
        let _ = std::fs::remove_file(&path);
        let salt: Vec<u8> = if r.chance(1, 8) {
            (0..r.below(33)).map(|_| r.next() as u8).collect()
        } else {
            vec![]
        };
        let file = match verity_file(&path, &inp.bytes, r.chance(1, 6), &salt) {
            Ok(f) => f,
            Err(e) => {
                self.stats.env_errors += 1;
                let _ = std::fs::remove_file(&path);
                self.say(&format!("# input {}: environment: {e}", inp.index));
                return (findings, false);
            }
        };
        let t1 = Instant::now();
        self.stats.t_file += t1 - t0;

        let mut lo = gen_opts(
            self.o.seed,
            inp.index,
            &self.seeds[seed_index(self.seeds.len(), self.o.seed, inp.index)],
            &self.opt_fds,
        );
        let big = map_memory(&inp.bytes) > CHILD_MAP_BYTES;
        // A child killed after the load would leave its maps registered, holding
        // themselves, and the count of maps up: never asked for there.
        lo.register &= !big;
        let flags = if lo.register {
            self.stats.with_register += 1;
            bpfld::uapi::BPFLD_LOAD_REGISTER_STRUCT_OPS
        } else {
            0
        };
        let opts = match r.below(10) {
            0..=6 => KLoadOpts {
                log_level: 0,
                log_size: 0,
                flags,
            },
            7 | 8 => KLoadOpts {
                log_level: 0,
                log_size: 64 << 10,
                flags,
            },
            _ => KLoadOpts {
                log_level: 1 + r.below(2) as u32,
                log_size: *r.pick(&[256, 4096, 1 << 20]).unwrap(),
                flags,
            },
        };
        if !lo.desc.is_empty() {
            self.stats.with_opts += 1;
        }
        if !lo.autoload.is_empty() {
            self.stats.with_autoload += 1;
        }
        if lo.layout != Layout::default() {
            self.stats.with_size += 1;
        }
        // The map made for the input (closed after the load, before the counts).
        let mut made = None;
        if let (Some(def), Some(entry)) = (lo.fresh, lo.reuse.first_mut()) {
            if let Ok(fd) = bpfld::sys::create_map_def(&def, "fz_fresh") {
                entry.1 = fd.as_raw_fd();
                lo.closed_fd = false;
                made = Some(fd);
            }
        }
        let avail_before = if big { mem_available_mib() } else { None };
        let res = if big {
            self.stats.in_child += 1;
            load_in_child(&self.dev, &file, &opts, &lo)
        } else {
            match load_opts(&self.dev, &file, &opts, &lo) {
                Ok(l) => Loaded::Yes(check_by_rule(&l, &lo)),
                Err(e) => Loaded::No(e),
            }
        };
        let t2 = Instant::now();
        let dt = t2 - t1;
        self.stats.t_load += dt;
        drop(made);
        drop(file);
        let _ = std::fs::remove_file(&path);
        if let Some(before) = avail_before {
            // A big map's memory goes back from a workqueue after its id is gone (per-CPU
            // frees of millions of entries take minutes on the debug kernel): let it come
            // back before the next input allocates, or the OOM killer takes the guest's
            // shell for what is two inputs' memory at once.
            if let Err(short) = wait_for_memory(before, Duration::from_secs(300)) {
                self.say(&format!(
                    "# input {}: {short} MiB of memory still out 300 s after its load",
                    inp.index
                ));
            }
        }

        // Drained here already: the OOM report of a killed child must be in it.
        let lines = self.kmsg.drain();
        match res {
            Loaded::Yes(checked) => {
                self.stats.loaded += 1;
                if !lo.desc.is_empty() {
                    self.stats.opts_loaded += 1;
                }
                if !lo.autoload.is_empty() {
                    self.stats.autoload_loaded += 1;
                }
                if let Err(e) = checked {
                    findings.push(Finding {
                        kind: "bad-result",
                        detail: e,
                        dmesg: vec![],
                        fatal: false,
                    });
                }
            }
            Loaded::Killed(pid) => {
                self.stats.oom_killed += 1;
                let oom = format!("Killed process {pid} ");
                if !lines.iter().any(|l| l.contains(&oom)) {
                    findings.push(Finding {
                        kind: "child-killed",
                        detail: format!(
                            "the loading child {pid} was killed, not by the OOM killer"
                        ),
                        dmesg: lines.clone(),
                        fatal: false,
                    });
                }
            }
            Loaded::Broken(e) => {
                self.stats.env_errors += 1;
                self.say(&format!("# input {}: environment: {e}", inp.index));
            }
            Loaded::No(e) => {
                self.stats.refused += 1;
                *self.stats.errnos.entry(e.errno).or_default() += 1;
                let key = format!("{}: {}", e.errno, squash_numbers(&e.msg));
                *self.stats.msgs.entry(key).or_default() += 1;
                if e.msg.trim().is_empty() {
                    findings.push(Finding {
                        kind: "no-message",
                        detail: format!(
                            "refused with errno {} and an empty err_msg",
                            errno_name(e.errno)
                        ),
                        dmesg: vec![],
                        fatal: false,
                    });
                } else if let Some(want) = lo.rule().wrong_errno(e.errno) {
                    findings.push(Finding {
                        kind: "bad-errno",
                        detail: format!(
                            "options sent as {:?} refused with errno {}, not {}: {}",
                            lo.layout.0,
                            errno_name(e.errno),
                            errno_name(want),
                            e.msg
                        ),
                        dmesg: vec![],
                        fatal: false,
                    });
                } else if SUSPICIOUS_ERRNOS.contains(&e.errno)
                    && !(e.errno == libc::EBADF && lo.closed_fd)
                {
                    findings.push(Finding {
                        kind: "bad-errno",
                        detail: format!("refused with errno {}: {}", errno_name(e.errno), e.msg),
                        dmesg: vec![],
                        fatal: false,
                    });
                }
            }
        }
        // The slowest loads (a complexity bug would show here first).
        self.stats.slowest.push((dt, inp.index, inp.desc.clone()));
        self.stats.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        self.stats.slowest.truncate(5);

        // Leaks: fds at once, BPF objects once RCU and workqueues are done.
        let now = Counts::read();
        if now.fds != self.base.fds {
            findings.push(Finding {
                kind: "fd-leak",
                detail: format!("fds {} before, {} after", self.base.fds, now.fds),
                dmesg: vec![],
                fatal: false,
            });
            self.base.fds = now.fds;
        }
        let dirty = now != self.base;
        // Splats: new log records and taint flags.
        let taint = read_taint();
        let bad = bpfld::kmsg::splats(&lines);
        if !bad.is_empty() || taint != self.kmsg.taint {
            // Let the rest of the report reach the log.
            std::thread::sleep(Duration::from_secs(2));
            let mut all = lines.clone();
            all.extend(self.kmsg.drain());
            if let Some(known) = kernel_known(&all).filter(|_| taint == self.kmsg.taint) {
                self.stats.kernel_known += 1;
                self.say(&format!(
                    "# input {}: {known}: the kernel's own, not bpfld's (Documentation/fuzzing.rst); waiting for it to end",
                    inp.index
                ));
                // RCU-delayed frees of this and the next inputs wait for the stall to
                // end; so does the rest of its report, which is not checked.
                let settled = self.base.settle(KNOWN_SETTLE);
                drop(self.kmsg.drain());
                self.stats.t_check += t2.elapsed();
                return (findings, settled.is_err());
            }
            findings.push(Finding {
                kind: "splat",
                detail: format!(
                    "taint {:#x} -> {taint:#x}; {}",
                    self.kmsg.taint,
                    bad.first()
                        .map(|s| s.as_str())
                        .unwrap_or("(no matching log line)")
                ),
                dmesg: all,
                fatal: false,
            });
            self.kmsg.taint = taint;
        }
        self.stats.t_check += t2.elapsed();
        for f in &mut findings {
            f.detail.push_str(&lo.desc);
        }
        (findings, dirty)
    }

    /// Wait for the BPF object counts to come back to the baseline after the inputs
    /// in `pending` (each left objects to be freed asynchronously). If they do not,
    /// one of them leaked: run them again one by one, waiting after each, to find it.
    fn settle_pending(&mut self, pending: &mut Vec<Input>) {
        if pending.is_empty() {
            return;
        }
        let t = Instant::now();
        self.stats.settle_waits += 1;
        let r = self.base.settle(self.o.settle);
        self.stats.t_settle += t.elapsed();
        let after = match r {
            Ok(now) => {
                self.base = self.base.min(&now);
                pending.clear();
                return;
            }
            Err(after) => after,
        };
        let window: Vec<u64> = pending.iter().map(|i| i.index).collect();
        self.say(&format!(
            "# BPF objects did not come back after inputs {window:?}: {:?} -> {after:?}; replaying them one by one",
            self.base
        ));
        let before = self.base;
        self.base = after;
        let mut found = false;
        for inp in pending.iter() {
            let (fs, _) = self.run_one(inp);
            for f in &fs {
                self.save(inp, f);
            }
            let mut settled = self.base.settle(self.o.settle);
            if settled.is_err() {
                // Given time, a late free comes back and a leak does not. Late frees
                // outlast one replay too: struct_ops maps wait for an RCU Tasks grace
                // period, which a task running long in the kernel holds back (seed 7
                // input 16,360: "rcu_tasks grace period ... is 40376 jiffies old").
                let t = Instant::now();
                settled = self.base.settle(KNOWN_SETTLE);
                if let Ok(now) = &settled {
                    self.say(&format!(
                        "# input {}: its objects came back late ({now:?}, {:.0} s more)",
                        inp.index,
                        t.elapsed().as_secs_f64()
                    ));
                }
            }
            if let Ok(now) = &settled {
                self.base = self.base.min(now);
            }
            if let Err(now) = settled {
                let f = Finding {
                    kind: "bpf-leak",
                    detail: format!(
                        "BPF objects (fds, progs, maps, btfs, links) {:?} before, {now:?} {:?} after the load and closing its fds (leaked once more when replayed alone)",
                        self.base, KNOWN_SETTLE
                    ),
                    dmesg: vec![],
                    fatal: false,
                };
                self.save(inp, &f);
                self.base = now;
                found = true;
            }
        }
        // Nothing leaked alone, and the objects come back if given time: they were freed
        // late (sleepable programs wait for RCU tasks trace; freeing a big preallocated
        // per-CPU map takes minutes on the debug kernel; KASAN and TCG are slow). A leak
        // never comes back, so waiting long here costs only in this rare case.
        if !found {
            let t = Instant::now();
            if let Ok(now) = before.settle(KNOWN_SETTLE) {
                self.say(&format!(
                    "# inputs {window:?}: the objects came back late ({now:?}, {:.0} s more), none leaked when replayed alone",
                    t.elapsed().as_secs_f64()
                ));
                self.base = now;
                pending.clear();
                return;
            }
        }
        if !found {
            let f = Finding {
                kind: "bpf-leak",
                detail: format!(
                    "BPF objects did not come back after inputs {window:?}, but none leaked when replayed alone; saved the first"
                ),
                dmesg: vec![],
                fatal: false,
            };
            let first = &pending[0];
            self.save(first, &f);
        }
        pending.clear();
    }

    fn save(&mut self, inp: &Input, f: &Finding) {
        let name = input_file_name(self.o.seed, inp.index);
        self.stats.findings += 1;
        let dir = PathBuf::from(&self.o.out).join("findings").join(format!(
            "{:03}-{}-i{}",
            self.stats.findings, f.kind, inp.index
        ));
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("input.o"), &inp.bytes);
        let info = format!(
            "kind: {}\nseed: {}\nindex: {}\nfile name: {}\nmutation: {}\ndetail: {}\nregenerate: bpfld-fuzz emit --corpus CORPUS --seed {} --index {}\n",
            f.kind,
            self.o.seed,
            inp.index,
            name.as_encoded_bytes().escape_ascii(),
            inp.desc,
            f.detail,
            self.o.seed,
            inp.index
        );
        let _ = std::fs::write(dir.join("info.txt"), &info);
        if !f.dmesg.is_empty() {
            let _ = std::fs::write(dir.join("dmesg.txt"), f.dmesg.join("\n") + "\n");
        }
        self.say(&format!(
            "FINDING {}: input {} ({}): {}\n  saved in {}",
            f.kind,
            inp.index,
            inp.desc,
            f.detail,
            dir.display()
        ));
    }

    /// The device answers and an unmutated object still loads.
    fn health(&mut self) -> Result<(), String> {
        self.dev
            .version()
            .map_err(|e| format!("BPFLD_IOC_VERSION: {e}"))?;
        if let Some(c) = self.canary {
            let path = PathBuf::from(&self.o.dir).join("canary.o");
            let _ = std::fs::remove_file(&path);
            let f = verity_file(&path, &self.seeds[c].data, false, &[])?;
            let r = self.dev.load(
                &f,
                &KLoadOpts {
                    log_level: 0,
                    log_size: 0,
                    flags: 0,
                },
            );
            drop(f);
            let _ = std::fs::remove_file(&path);
            match r {
                Ok(l) => drop(l),
                Err(e) => {
                    return Err(format!(
                        "canary {} no longer loads: {e}",
                        self.seeds[c].name
                    ))
                }
            }
            self.base
                .settle(self.o.settle)
                .map_err(|c| format!("canary leaked: {:?} -> {c:?}", self.base))?;
        }
        Ok(())
    }

    fn progress(&mut self, done: u64, started: Instant) {
        let secs = started.elapsed().as_secs_f64();
        let line = format!(
            "progress: {done} inputs in {secs:.0}s ({:.1}/s): {} loaded, {} refused, {} findings; {}",
            done as f64 / secs.max(1e-9),
            self.stats.loaded,
            self.stats.refused,
            self.stats.findings,
            memory_line()
        );
        let _ = std::fs::write(
            PathBuf::from(&self.o.out).join("progress"),
            format!("{line}\n"),
        );
        self.say(&line);
    }
}

/// Field `key` of a `/proc` file in "Key:   N kB" lines (`text`), in MiB.
fn mib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches(" kB")
        .parse::<u64>()
        .ok()
        .map(|k| k / 1024)
}

/// `MemAvailable` in MiB.
fn mem_available_mib() -> Option<u64> {
    mib_field(
        &std::fs::read_to_string("/proc/meminfo").ok()?,
        "MemAvailable",
    )
}

/// Wait until `MemAvailable` is back within 64 MiB of `before` (MiB), at most `limit`;
/// `Err` is how many MiB are still out.
fn wait_for_memory(before: u64, limit: Duration) -> Result<(), u64> {
    let start = Instant::now();
    loop {
        let now = mem_available_mib().unwrap_or(before);
        if now.saturating_add(64) >= before {
            return Ok(());
        }
        if start.elapsed() >= limit {
            return Err(before - now);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Where the guest's memory is (MiB), so that a run that slowly runs out shows it: the
/// VM has 2 GiB, and this process is exempt from the OOM killer.
fn memory_line() -> String {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mib =
        |text: &str, key: &str| mib_field(text, key).map_or_else(|| "?".into(), |m| m.to_string());
    format!(
        "MiB available {} slab {} percpu {} vmalloc {} shmem {}, fuzzer rss {}",
        mib(&meminfo, "MemAvailable"),
        mib(&meminfo, "Slab"),
        mib(&meminfo, "Percpu"),
        mib(&meminfo, "VmallocUsed"),
        mib(&meminfo, "Shmem"),
        mib(&status, "VmRSS")
    )
}

/// A refusal message with its numbers blanked, to group messages.
fn squash_numbers(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out.chars().take(120).collect()
}

/// Plain struct_ops maps found registered (and unregistered) by [`check_struct_ops`],
/// for the summary (`check_loaded` runs in a loading child too, where the flag is
/// never set).
static STRUCT_OPS_REGISTERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A load with `register` registered every plain `.struct_ops` map it returns, and one
/// without registered none; `.struct_ops.link` maps are the caller's to register
/// (`BPF_LINK_CREATE`) either way. Checked by `BPF_MAP_DELETE_ELEM`, which unregisters
/// a registered map (or it would stay registered after its fds close, holding itself)
/// and answers `ENOENT` for one never registered, `EOPNOTSUPP` for a link map. Every
/// map is tried before the first mismatch is returned.
fn check_struct_ops(l: &KLoad, register: bool) -> Result<(), String> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut first = Ok(());
    for m in l
        .maps
        .iter()
        .filter(|m| m.map_type == uapi::BPF_MAP_TYPE_STRUCT_OPS)
    {
        let fd = m.fd.as_raw_fd();
        let link = match obj_info::<MapInfo>(fd) {
            Ok(info) => info.map_flags & uapi::BPF_F_LINK != 0,
            Err(e) => {
                first = first.and(Err(format!("map {} fd {fd}: {e}", m.name)));
                continue;
            }
        };
        let want = match (link, register) {
            (true, _) => Some(libc::EOPNOTSUPP),
            (false, true) => None,
            (false, false) => Some(libc::ENOENT),
        };
        let got = bpfld::sys::map_delete(fd, 0)
            .err()
            .map(|e| e.raw_os_error().unwrap_or(0));
        if got.is_none() {
            STRUCT_OPS_REGISTERED.fetch_add(1, Relaxed);
        }
        if got != want {
            let say = |e: Option<i32>| e.map_or("0 (registered)".to_string(), errno_name);
            first = first.and(Err(format!(
                "struct_ops map {}{}: BPF_MAP_DELETE_ELEM after a load {} \
                 BPFLD_LOAD_REGISTER_STRUCT_OPS gave {}, not {}",
                m.name,
                if link { " (link)" } else { "" },
                if register { "with" } else { "without" },
                say(got),
                say(want)
            )));
        }
    }
    first
}

/// A successful load returned live objects whose ids match the report.
fn check_loaded(l: &KLoad, autoload: &[(String, bool)], register: bool) -> Result<(), String> {
    // First, as it also unregisters what the load registered, whatever else is wrong.
    check_struct_ops(l, register)?;
    // A program the options left out is not loaded, unless a struct_ops map that is
    // created refers to it (which decides, as in libbpf).
    for (name, _) in autoload.iter().filter(|(_, load)| !load) {
        if let Some(p) = l
            .progs
            .iter()
            .find(|p| p.name == *name && p.prog_type != uapi::BPF_PROG_TYPE_STRUCT_OPS)
        {
            return Err(format!(
                "prog {}: loaded (id {}), the options' autoload left it out",
                p.name, p.id
            ));
        }
    }
    for p in &l.progs {
        let info: ProgInfo = obj_info(p.fd.as_raw_fd())
            .map_err(|e| format!("prog {} fd {:?}: {e}", p.name, p.fd))?;
        if info.id != p.id || info.prog_type != p.prog_type {
            return Err(format!(
                "prog {}: reported id {} type {}, fd has id {} type {}",
                p.name, p.id, p.prog_type, info.id, info.prog_type
            ));
        }
    }
    for m in &l.maps {
        let info: MapInfo =
            obj_info(m.fd.as_raw_fd()).map_err(|e| format!("map {} fd {:?}: {e}", m.name, m.fd))?;
        if info.id != m.id || info.map_type != m.map_type {
            return Err(format!(
                "map {}: reported id {} type {}, fd has id {} type {}",
                m.name, m.id, m.map_type, info.id, info.map_type
            ));
        }
    }
    Ok(())
}

fn cmd_run(o: Opts) -> i32 {
    let seeds = match load_corpus(&o.corpus) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bpfld-fuzz: {e}");
            return 2;
        }
    };
    let _ = std::fs::create_dir_all(&o.out);
    let setup = || -> Result<(Device, Kmsg, File, File), String> {
        let dev = Device::open(DEVICE).map_err(|e| format!("{DEVICE}: {e}"))?;
        dev.version()
            .map_err(|e| format!("BPFLD_IOC_VERSION: {e}"))?;
        let kmsg = Kmsg::open()?;
        let inflight = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(PathBuf::from(&o.out).join("inflight"))
            .map_err(|e| format!("{}/inflight: {e}", o.out))?;
        let log = OpenOptions::new()
            .append(true)
            .create(true)
            .open(PathBuf::from(&o.out).join("fuzz.log"))
            .map_err(|e| format!("{}/fuzz.log: {e}", o.out))?;
        Ok((dev, kmsg, inflight, log))
    };
    let (dev, mut kmsg, inflight, out_log) = match setup() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("bpfld-fuzz: {e}");
            return 2;
        }
    };
    // Exempt from the OOM killer: inputs with big maps load in a child it picks first
    // (load_in_child); an OOM while this process loads is then a finding (the VM dies)
    // rather than the end of the run.
    let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");
    // Splats from before we started are reported, not blamed on an input.
    let pre_existing: Vec<String> = kmsg
        .drain()
        .into_iter()
        .filter(|l| bpfld::kmsg::is_splat(l))
        .collect();
    if std::path::Path::new(KMEMLEAK).exists() {
        let _ = std::fs::write(KMEMLEAK, "clear");
    }
    let opt_fds = match OptFds::new() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bpfld-fuzz: {e}");
            return 2;
        }
    };
    let mut fz = Fuzzer {
        base: Counts::read(),
        o,
        seeds,
        opt_fds,
        dev,
        kmsg,
        inflight,
        stats: Stats::default(),
        canary: None,
        pre_existing,
        out_log,
    };
    let object_ok = fz.seeds.iter().filter(|s| s.object_ok).count();
    let nfields: usize = fz
        .seeds
        .iter()
        .map(|s| s.fields.len() + s.insns.len())
        .sum();
    let hdr = format!(
        "bpfld-fuzz: seed {} inputs {} from {}: {} corpus objects ({} fully parsed), {} fields; settle {:?}",
        fz.o.seed,
        if fz.o.replay.is_empty() { fz.o.inputs.to_string() } else { format!("{} replayed", fz.o.replay.len()) },
        fz.o.start,
        fz.seeds.len(),
        object_ok,
        nfields,
        fz.o.settle
    );
    fz.say(&hdr);
    for l in fz.pre_existing.clone() {
        fz.say(&format!("# kernel log before the run: {l}"));
    }
    // KASAN reports only its first bug unless kasan_multi_shot: after one before the run
    // (the debug kernel sometimes has one while booting under heavy load, from an
    // interrupt in start_kernel, before bpfld is loaded) it would stay silent about the
    // inputs. Such a boot cannot fuzz.
    let multi_shot = std::fs::read_to_string("/proc/cmdline")
        .is_ok_and(|c| c.split_whitespace().any(|w| w == "kasan_multi_shot"));
    if !multi_shot && fz.pre_existing.iter().any(|l| l.contains("KASAN")) {
        fz.say("# KASAN reported a bug before the run and reports only one: boot again");
        return 3;
    }

    // Baseline: every corpus object unmutated; the first that loads is the canary.
    let base_start = Instant::now();
    let mut baseline = String::new();
    for i in 0..fz.seeds.len() {
        let inp = Input {
            index: u64::MAX - i as u64,
            bytes: fz.seeds[i].data.clone(),
            desc: format!("{}: unmutated", fz.seeds[i].name),
        };
        let path = PathBuf::from(&fz.o.dir).join("baseline.o");
        let _ = std::fs::remove_file(&path);
        // If this crashes the VM, the host takes the corpus file as the reproducer.
        let marker = format!(
            "{} baseline {}/{}\n",
            fz.o.seed, fz.o.corpus, fz.seeds[i].name
        );
        let _ = fz.inflight.set_len(0);
        let _ = fz.inflight.write_all_at(marker.as_bytes(), 0);
        let t = Instant::now();
        let r = verity_file(&path, &inp.bytes, false, &[]).map(|f| {
            fz.dev.load(
                &f,
                &KLoadOpts {
                    log_level: 0,
                    log_size: 0,
                    flags: 0,
                },
            )
        });
        let _ = std::fs::remove_file(&path);
        let ms = t.elapsed().as_millis();
        match r {
            Ok(Ok(l)) => {
                if fz.canary.is_none() && !l.progs.is_empty() {
                    fz.canary = Some(i);
                }
                let _ = writeln!(
                    baseline,
                    "{}: ok, {} progs {} maps, {ms} ms",
                    fz.seeds[i].name,
                    l.progs.len(),
                    l.maps.len()
                );
            }
            Ok(Err(e)) => {
                let _ = writeln!(
                    baseline,
                    "{}: refused {}: {}, {ms} ms",
                    fz.seeds[i].name,
                    errno_name(e.errno),
                    e.msg
                );
            }
            Err(e) => {
                eprintln!("bpfld-fuzz: {e}");
                return 2;
            }
        }
    }
    if let Err(c) = fz.base.settle(fz.o.settle) {
        fz.say(&format!(
            "# baseline loads left BPF objects behind: {:?} -> {c:?}",
            fz.base
        ));
        fz.base = c;
    }
    let _ = std::fs::write(PathBuf::from(&fz.o.out).join("baseline.txt"), &baseline);
    let msg = format!(
        "baseline: {} objects loaded unmutated in {:.1}s (canary: {})",
        fz.seeds.len(),
        base_start.elapsed().as_secs_f64(),
        fz.canary
            .map(|c| fz.seeds[c].name.as_str())
            .unwrap_or("none")
    );
    fz.say(&msg);
    let _ = fz.kmsg.drain();

    let started = Instant::now();
    let mut stop = false;
    let mut pending: Vec<Input> = Vec::new();
    let total = if fz.o.replay.is_empty() {
        fz.o.inputs
    } else {
        fz.o.replay.len() as u64
    };
    for k in 0..total {
        let t = Instant::now();
        let inp = if fz.o.replay.is_empty() {
            let index = fz.o.start + k;
            let (bytes, desc) = generate(&fz.seeds, fz.o.seed, index);
            Input { index, bytes, desc }
        } else {
            let p = &fz.o.replay[k as usize];
            match std::fs::read(p) {
                Ok(bytes) => Input {
                    index: k,
                    bytes,
                    desc: format!("replay of {p}"),
                },
                Err(e) => {
                    eprintln!("bpfld-fuzz: {p}: {e}");
                    return 2;
                }
            }
        };
        fz.stats.t_gen += t.elapsed();
        fz.stats.inputs += 1;
        let (findings, dirty) = fz.run_one(&inp);
        if !fz.o.replay.is_empty() {
            fz.say(&format!(
                "replay {}: {} finding(s)",
                inp.desc,
                findings.len()
            ));
        }
        for f in &findings {
            fz.save(&inp, f);
            if f.fatal || !fz.o.keep_going {
                stop = true;
            }
        }
        let done = k + 1;
        let checkpoint = done % fz.o.check_every == 0;
        let leak_scan = fz.o.leak_every != 0 && done % fz.o.leak_every == 0;
        if dirty {
            pending.push(inp);
        } else {
            pending.clear();
        }
        // Wait for closed objects to go away only every `window` inputs that left some.
        if pending.len() >= fz.o.window || checkpoint || leak_scan || stop || done == total {
            let before = fz.stats.findings;
            fz.settle_pending(&mut pending);
            if fz.stats.findings != before && !fz.o.keep_going {
                stop = true;
            }
        }
        if stop {
            break;
        }
        let inp = Input {
            index: fz.o.start + k,
            bytes: vec![],
            desc: "checks after this input".into(),
        };
        if checkpoint {
            if let Err(e) = fz.health() {
                let f = Finding {
                    kind: "unhealthy",
                    detail: e,
                    dmesg: fz.kmsg.drain(),
                    fatal: true,
                };
                fz.save(&inp, &f);
                stop = true;
                break;
            }
            fz.progress(done, started);
        }
        if fz.o.leak_every != 0 && done % fz.o.leak_every == 0 && Path::new(KMEMLEAK).exists() {
            if let Some(f) = leak_finding(&mut fz, done) {
                fz.save(&inp, &f);
                if !fz.o.keep_going {
                    stop = true;
                    break;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    // Final checks: the VM is healthy and nothing leaked.
    if !stop {
        if let Err(e) = fz.health() {
            let inp = Input {
                index: fz.o.start + fz.stats.inputs,
                bytes: vec![],
                desc: "after the run".into(),
            };
            let f = Finding {
                kind: "unhealthy",
                detail: e,
                dmesg: fz.kmsg.drain(),
                fatal: true,
            };
            fz.save(&inp, &f);
        }
    }
    if Path::new(KMEMLEAK).exists() {
        let n = fz.stats.inputs;
        if let Some(f) = leak_finding(&mut fz, n) {
            let inp = Input {
                index: fz.o.start + fz.stats.inputs,
                bytes: vec![],
                desc: "final kmemleak scan".into(),
            };
            fz.save(&inp, &f);
        }
    } else {
        fz.say("# kmemleak not available: no leak scan");
    }
    let late: Vec<String> = fz
        .kmsg
        .drain()
        .into_iter()
        .filter(|l| bpfld::kmsg::is_splat(l))
        .collect();
    if !late.is_empty() {
        let inp = Input {
            index: fz.o.start + fz.stats.inputs,
            bytes: vec![],
            desc: "end of run".into(),
        };
        let f = Finding {
            kind: "splat",
            detail: late[0].clone(),
            dmesg: late,
            fatal: true,
        };
        fz.save(&inp, &f);
    }
    let summary = summary(&fz, elapsed);
    let _ = std::fs::write(PathBuf::from(&fz.o.out).join("summary.txt"), &summary);
    fz.say(&summary);
    if fz.stats.findings > 0 {
        1
    } else {
        0
    }
}

fn leak_finding(fz: &mut Fuzzer, done: u64) -> Option<Finding> {
    let t = Instant::now();
    let r = kmemleak_scan();
    let msg = format!(
        "kmemleak scan after {done} inputs took {:.1}s",
        t.elapsed().as_secs_f64()
    );
    fz.say(&msg);
    match r {
        Ok((ours, others)) => {
            if others > 0 {
                fz.say(&format!("# kmemleak: {others} unrelated report(s) ignored"));
            }
            if ours.is_empty() {
                None
            } else {
                Some(Finding {
                    kind: "kmemleak",
                    detail: format!(
                        "{} leak(s) since the previous scan (inputs up to {done})",
                        ours.len()
                    ),
                    dmesg: ours,
                    fatal: false,
                })
            }
        }
        Err(e) => {
            fz.say(&format!("# kmemleak: {e}"));
            None
        }
    }
}

fn summary(fz: &Fuzzer, elapsed: Duration) -> String {
    let s = &fz.stats;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / (s.inputs.max(1) as f64);
    let mut out = String::new();
    let _ = writeln!(out, "seed={}", fz.o.seed);
    let _ = writeln!(out, "inputs={}", s.inputs);
    let _ = writeln!(out, "seconds={secs:.1}");
    let _ = writeln!(out, "inputs_per_second={:.2}", s.inputs as f64 / secs);
    let _ = writeln!(out, "loaded={}", s.loaded);
    let _ = writeln!(out, "refused={}", s.refused);
    let _ = writeln!(out, "in_child={}", s.in_child);
    let _ = writeln!(out, "with_load_options={}", s.with_opts);
    let _ = writeln!(out, "with_load_options_loaded={}", s.opts_loaded);
    let _ = writeln!(out, "with_autoload={}", s.with_autoload);
    let _ = writeln!(out, "with_autoload_loaded={}", s.autoload_loaded);
    let _ = writeln!(out, "with_register_struct_ops={}", s.with_register);
    let _ = writeln!(
        out,
        "struct_ops_registered={}",
        STRUCT_OPS_REGISTERED.load(std::sync::atomic::Ordering::Relaxed)
    );
    let _ = writeln!(out, "with_opts_size={}", s.with_size);
    let _ = writeln!(out, "oom_killed={}", s.oom_killed);
    let _ = writeln!(out, "kernel_known={}", s.kernel_known);
    let _ = writeln!(out, "environment_errors={}", s.env_errors);
    let _ = writeln!(out, "findings={}", s.findings);
    let _ = writeln!(
        out,
        "ms_per_input: generate {:.2}, file+verity {:.2}, load {:.2}, checks {:.2} (of which settling {:.2}, {} waits)",
        per(s.t_gen),
        per(s.t_file),
        per(s.t_load),
        per(s.t_check),
        per(s.t_settle),
        s.settle_waits
    );
    let errnos: Vec<String> = s
        .errnos
        .iter()
        .map(|(e, n)| format!("{}x{n}", errno_name(*e)))
        .collect();
    let _ = writeln!(out, "errnos: {}", errnos.join(", "));
    let mut msgs: Vec<(&String, &u64)> = s.msgs.iter().collect();
    msgs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(
        out,
        "distinct refusal messages: {}; most frequent:",
        msgs.len()
    );
    for (m, n) in msgs.iter().take(15) {
        let _ = writeln!(out, "  {n:6}  {m}");
    }
    let _ = writeln!(out, "slowest loads:");
    for (d, i, desc) in &s.slowest {
        let _ = writeln!(
            out,
            "  {:8.1} ms  input {i}: {desc}",
            d.as_secs_f64() * 1000.0
        );
    }
    for l in &fz.pre_existing {
        let _ = writeln!(out, "kernel log before the run: {l}");
    }
    out
}

fn usage() -> ! {
    eprintln!(
        "usage: bpfld-fuzz run --corpus DIR --dir VERITY_DIR --out OUT [--seed S] [--inputs N] [--start I]\n\
         \x20                     [--keep-going] [--check-every N] [--leak-every N] [--settle-ms MS] [--replay FILE]...\n\
         \x20      bpfld-fuzz emit --corpus DIR --seed S --index I [--out FILE]\n\
         \x20      bpfld-fuzz gen --corpus DIR [--seed S] [--inputs N]"
    );
    std::process::exit(2)
}

fn num(v: Option<String>) -> u64 {
    let Some(v) = v else { usage() };
    let r = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.unwrap_or_else(|_| usage())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_else(|| usage());
    let mut o = Opts {
        corpus: String::new(),
        dir: "/run/bpfld-verity".into(),
        out: String::new(),
        seed: 1,
        inputs: 2000,
        start: 0,
        keep_going: false,
        check_every: 500,
        leak_every: 0,
        settle: Duration::from_secs(20),
        window: 16,
        replay: Vec::new(),
    };
    let mut index = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--corpus" => o.corpus = args.next().unwrap_or_else(|| usage()),
            "--dir" => o.dir = args.next().unwrap_or_else(|| usage()),
            "--out" => o.out = args.next().unwrap_or_else(|| usage()),
            "--seed" => o.seed = num(args.next()),
            "--inputs" => o.inputs = num(args.next()),
            "--start" => o.start = num(args.next()),
            "--index" => index = Some(num(args.next())),
            "--keep-going" => o.keep_going = true,
            "--check-every" => o.check_every = num(args.next()).max(1),
            "--leak-every" => o.leak_every = num(args.next()),
            "--settle-ms" => o.settle = Duration::from_millis(num(args.next())),
            "--window" => o.window = num(args.next()).max(1) as usize,
            "--replay" => o.replay.push(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    if o.corpus.is_empty() {
        usage();
    }
    let code = match cmd.as_str() {
        "run" => {
            if o.out.is_empty() {
                usage();
            }
            cmd_run(o)
        }
        "emit" => {
            let Some(index) = index else { usage() };
            match load_corpus(&o.corpus) {
                Ok(seeds) => {
                    let (bytes, desc) = generate(&seeds, o.seed, index);
                    println!("{desc}");
                    if !o.out.is_empty() {
                        if let Err(e) = std::fs::write(&o.out, &bytes) {
                            eprintln!("bpfld-fuzz: {}: {e}", o.out);
                            2
                        } else {
                            0
                        }
                    } else {
                        0
                    }
                }
                Err(e) => {
                    eprintln!("bpfld-fuzz: {e}");
                    2
                }
            }
        }
        "gen" => match load_corpus(&o.corpus) {
            // Generate without loading: the mutator's speed, a digest of what it made
            // (the same on every machine for a seed), and how many inputs bpfld_core on
            // the host accepts as objects.
            Ok(seeds) => {
                let t = Instant::now();
                let (mut bytes, mut hash, mut parsed) = (0u64, 0xcbf2_9ce4_8422_2325u64, 0u64);
                for i in o.start..o.start + o.inputs {
                    let (d, _) = generate(&seeds, o.seed, i);
                    bytes += d.len() as u64;
                    for b in &d {
                        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
                    }
                    let mut a = VecAlloc::default();
                    if let Ok(e) = Elf::parse(&d, &mut a) {
                        if Object::parse(e, "x", &mut a).is_ok() {
                            parsed += 1;
                        }
                    }
                }
                println!(
                    "{} inputs, {} bytes, fnv1a {hash:016x}, {parsed} parse as objects on the host, {:.0} inputs/s",
                    o.inputs,
                    bytes,
                    o.inputs as f64 / t.elapsed().as_secs_f64().max(1e-9)
                );
                0
            }
            Err(e) => {
                eprintln!("bpfld-fuzz: {e}");
                2
            }
        },
        _ => usage(),
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rules() {
        let mut g = GenOpts {
            autoload: vec![("p".to_string(), false)],
            ..Default::default()
        };
        let mut rule = |l: OptsLayout| {
            g.layout = Layout(l);
            format!("{:?}", g.rule())
        };
        let read_all = r#"Read([("p", false)])"#;
        assert_eq!(rule(OptsLayout::Full), read_all);
        assert_eq!(rule(OptsLayout::Size(32)), "Refused(Some(22))");
        assert_eq!(rule(OptsLayout::Size(40)), "Read([])");
        assert_eq!(rule(OptsLayout::Size(44)), "Refused(None)");
        assert_eq!(rule(OptsLayout::Size(64)), read_all);
        assert_eq!(rule(OptsLayout::SizeTailSet(64)), "Refused(Some(7))");
        assert_eq!(rule(OptsLayout::Size(4097)), "Refused(Some(7))");
        g.autoload.clear();
        g.layout = Layout(OptsLayout::Size(44));
        assert_eq!(g.rule(), SizeRule::Read(&[]));
        assert_eq!(SizeRule::Refused(Some(7)).wrong_errno(22), Some(7));
        assert_eq!(SizeRule::Refused(Some(7)).wrong_errno(7), None);
        assert_eq!(SizeRule::Refused(None).wrong_errno(22), None);
    }
}

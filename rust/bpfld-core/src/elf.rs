// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Strict, bounds-checked reader for BPF relocatable objects (ELF64, `ET_REL`, `EM_BPF`).
//!
//! [`Elf::parse`] validates the whole container once: the header, the section header
//! table, every section's extent and name, the symbol table and the relocation sections.
//! The sections it decodes once and keeps (with their names and bytes); symbols and
//! relocations, of which there can be many, are re-read at each access through
//! [`crate::bytes`] helpers, so one that is out of bounds fails with an error, never a
//! panic.
//!
//! The record types are goblin's zero-copy `elf64` structs; we fill them field by field
//! from little-endian bytes instead of casting, so no alignment is required of the file.
//! Big-endian and 32-bit objects are refused up front with a clear error.

use crate::bytes::{self, add, mul, u16_at, u32_at, u64_at, u8_at, BadName};

// The name error messages spell the limit out.
const _: () = assert!(limits::MAX_NAME_LEN == 512);
use crate::error::{Ctx, Error, Kind, Result, ResultExt, What};
use crate::limits;
use crate::mem::Alloc;
use goblin::elf::header::{
    EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG,
    EM_BPF, EM_NONE, ET_REL, EV_CURRENT, SELFMAG,
};
pub use goblin::elf::section_header::{
    SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
    SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX,
};
pub use goblin::elf::sym::{
    STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION, STV_DEFAULT,
    STV_HIDDEN, STV_INTERNAL,
};
use goblin::elf64::header::Header;
use goblin::elf64::section_header::SectionHeader;
use goblin::elf64::sym::Sym;

/// Size of the ELF64 header.
const EHDR_SIZE: usize = 64;
/// Size of an ELF64 section header.
const SHDR_SIZE: u64 = 64;
/// Size of an ELF64 symbol.
const SYM_SIZE: u64 = 24;
/// Size of an ELF64 `Rel` record.
const REL_SIZE: u64 = 16;

/// A validated BPF ELF object.
///
/// # Invariants
///
/// - Every section index below `shnum` has a header inside the file, a valid name, and, if
///   it occupies file space, data inside the file not overlapping the headers or another
///   section.
/// - `symtab` (if any) is a whole number of symbols inside the file, linked to a string
///   table; relocation sections are whole numbers of records linked to it.
/// - `table` holds every section decoded and checked (index 0: the null section, never
///   handed out).
pub struct Elf<'a, A: Alloc> {
    img: Image<'a>,
    shoff: u64,
    /// The section header table.
    shdrs: &'a [u8],
    shnum: u32,
    shstrtab: &'a [u8],
    symtab: &'a [u8],
    strtab: &'a [u8],
    symtab_index: u32,
    /// Each section decoded once by `check_sections`: the object's passes look sections
    /// up many times, and decoding one (its header, its name's UTF-8 check, its bytes'
    /// place in a packed image) was a third of a small object's parse.
    table: A::Buf<Section<'a>>,
    /// Each symbol's name decoded once (`decode_symbol_names`): relocations look their
    /// symbol up one by one, and checking its name each time (the NUL, UTF-8) was a
    /// third of the parse of an object with ten thousand of them.
    sym_names: A::Buf<SymName<'a>>,
}

/// A symbol's name, or why it has none (reported when the symbol is used).
#[derive(Clone, Copy, Debug, Default)]
struct SymName<'a> {
    name: &'a str,
    bad: Option<BadName>,
}

/// Where a piece of the file is in a packed buffer (see [`read_used`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Piece {
    /// Offset in the file.
    pub file_off: u64,
    /// Length in bytes.
    pub len: u64,
    /// Offset in the buffer.
    pub at: u64,
}

/// The bytes of an object file the parser reads: the whole file, or the pieces of it
/// that [`read_used`] read, packed into one buffer. Offsets are always the file's.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    data: &'a [u8],
    /// Sorted by file offset and disjoint; empty for a whole file.
    pieces: &'a [Piece],
    file_len: u64,
}

impl<'a> Image<'a> {
    /// A whole file.
    pub fn whole(data: &'a [u8]) -> Self {
        Image {
            data,
            pieces: &[],
            file_len: data.len() as u64,
        }
    }

    /// `data` holding the pieces of a file of `file_len` bytes ([`read_used`]).
    pub fn packed(data: &'a [u8], pieces: &'a [Piece], file_len: u64) -> Self {
        Image {
            data,
            pieces,
            file_len,
        }
    }

    /// The file's length.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The bytes held (the whole file, or the packed pieces).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The file's bytes `off..off + len`, if they are inside the file and were read (all
    /// within one piece).
    pub fn get(&self, off: u64, len: u64) -> Option<&'a [u8]> {
        if self.pieces.is_empty() {
            return bytes::slice(self.data, off, len);
        }
        let end = off.checked_add(len)?;
        if end > self.file_len {
            return None;
        }
        if len == 0 {
            return Some(&[]);
        }
        let k = self.pieces.partition_point(|p| p.file_off <= off);
        let p = self.pieces.get(k.checked_sub(1)?)?;
        if end > p.file_off.checked_add(p.len)? {
            return None;
        }
        bytes::slice(
            self.data,
            p.at.checked_add(off.checked_sub(p.file_off)?)?,
            len,
        )
    }
}

/// A section: its index, name, header and bytes (empty for `SHT_NOBITS`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Section<'a> {
    /// Section index.
    pub index: u32,
    /// Section name.
    pub name: &'a str,
    /// The raw header.
    pub hdr: SectionHeader,
    /// The section's contents; empty for `SHT_NOBITS` (use `hdr.sh_size` for its size).
    pub data: &'a [u8],
}

impl Section<'_> {
    /// Section type.
    pub fn kind(&self) -> u32 {
        self.hdr.sh_type
    }
    /// Size in memory (for `SHT_NOBITS`, the size it would have).
    pub fn size(&self) -> u64 {
        self.hdr.sh_size
    }
    /// An executable section (program code).
    pub fn is_exec(&self) -> bool {
        self.hdr.sh_type == SHT_PROGBITS && self.hdr.sh_flags & u64::from(SHF_EXECINSTR) != 0
    }
}

/// `SHT_LLVM_ADDRSIG`: LLVM's address-significance table, which libbpf skips.
pub const SHT_LLVM_ADDRSIG: u32 = 0x6fff_4c03;

/// A symbol with its index and name.
#[derive(Clone, Copy, Debug)]
pub struct Symbol<'a> {
    /// Index in `.symtab`.
    pub index: u32,
    /// Name (may be empty, e.g. for section symbols).
    pub name: &'a str,
    /// The raw symbol.
    pub sym: Sym,
}

impl Symbol<'_> {
    /// Binding (`STB_*`).
    pub fn bind(&self) -> u8 {
        self.sym.st_info >> 4
    }
    /// Type (`STT_*`).
    pub fn kind(&self) -> u8 {
        self.sym.st_info & 0xf
    }
    /// Visibility (`STV_*`).
    pub fn visibility(&self) -> u8 {
        self.sym.st_other & 0x3
    }
    /// Section index the symbol is defined in.
    pub fn shndx(&self) -> u32 {
        u32::from(self.sym.st_shndx)
    }
    /// Undefined (an extern).
    pub fn is_undefined(&self) -> bool {
        self.shndx() == SHN_UNDEF
    }
}

/// One `Elf64_Rel` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rel {
    /// Byte offset in the target section.
    pub offset: u64,
    /// Symbol index.
    pub sym: u32,
    /// Relocation type (`R_BPF_*`).
    pub kind: u32,
}

/// `R_BPF_64_64`: `ld_imm64` of a map, data or function address.
pub const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_ABS64`: 64-bit data (DWARF, `.maps` `.values`).
pub const R_BPF_64_ABS64: u32 = 2;
/// `R_BPF_64_ABS32`: 32-bit data (DWARF, BTF).
pub const R_BPF_64_ABS32: u32 = 3;
/// `R_BPF_64_NODYLD32`: 32-bit data not resolved at load (.BTF.ext).
pub const R_BPF_64_NODYLD32: u32 = 4;
/// `R_BPF_64_32`: call instruction to a function.
pub const R_BPF_64_32: u32 = 10;

fn hdr_err(msg: &'static str) -> Error<'static> {
    Error::malformed(msg).ctx(Ctx::Step("ELF header"))
}

impl<'a, A: Alloc> Elf<'a, A> {
    /// Validate `data` as a BPF relocatable object. `alloc` provides the section table
    /// and scratch memory for the overlap check (freed on return).
    pub fn parse(data: &'a [u8], alloc: &mut A) -> Result<'a, Elf<'a, A>> {
        Self::parse_image(Image::whole(data), alloc)
    }

    /// [`Elf::parse`] of what [`read_used`] read of a file. The sections it did not read
    /// (DWARF) are checked as any other, from their headers, and have no bytes.
    #[inline(never)]
    pub fn parse_image(img: Image<'a>, alloc: &mut A) -> Result<'a, Elf<'a, A>> {
        if img.file_len() > limits::MAX_FILE_SIZE as u64 {
            return Err(Error::limit(
                "file bytes",
                img.file_len(),
                limits::MAX_FILE_SIZE,
            ));
        }
        let head = img.get(0, img.file_len().min(EHDR_SIZE as u64));
        let ehdr = read_header(head.unwrap_or(&[]))?;
        let (shnum, shstrndx) = section_counts(&img, &ehdr)?;
        let shoff = ehdr.e_shoff;
        // Inside the file (section_counts), and read whole (read_used reads it).
        let shdrs = img
            .get(shoff, mul(u64::from(shnum), SHDR_SIZE)?)
            .ok_or_else(|| hdr_err("section header table was not read"))?;
        let mut elf = Elf {
            img,
            shoff,
            shdrs,
            shnum,
            shstrtab: &[],
            symtab: &[],
            strtab: &[],
            symtab_index: 0,
            table: alloc.alloc(bytes::usize_of(u64::from(shnum))?)?,
            sym_names: alloc.alloc(0)?,
        };

        // The section name table first: every other check wants names in its errors.
        let shstr = elf.raw_header(shstrndx)?;
        if shstr.sh_type != SHT_STRTAB {
            return Err(hdr_err("e_shstrndx does not name a string table"));
        }
        elf.shstrtab = elf.extent(&shstr).ctx(Ctx::Step("section name table"))?;

        elf.check_sections(alloc)?;
        elf.sym_names = elf.decode_symbol_names(alloc)?;
        Ok(elf)
    }

    /// The name of every symbol, or why it has none, in index order.
    #[inline(never)]
    fn decode_symbol_names(&self, alloc: &mut A) -> Result<'a, A::Buf<SymName<'a>>> {
        let mut names = alloc.alloc::<SymName<'a>>(self.symbol_count() as usize)?;
        let records = self.symtab.chunks_exact(SYM_SIZE as usize);
        for (slot, rec) in names.iter_mut().zip(records) {
            let st_name = bytes::u32_at(rec, 0).unwrap_or(0);
            *slot = match self.symbol_name(st_name) {
                Ok(name) => SymName { name, bad: None },
                Err(why) => SymName {
                    name: "",
                    bad: Some(why),
                },
            };
        }
        Ok(names)
    }

    /// The name at `st_name` in `.strtab`, checked.
    fn symbol_name(&self, st_name: u32) -> core::result::Result<&'a str, BadName> {
        let off = bytes::usize_of(u64::from(st_name)).map_err(|_| BadName::Offset)?;
        bytes::cstr_checked(self.strtab, off, limits::MAX_NAME_LEN)
    }

    /// Check each section header, find the symbol table, check extents do not overlap.
    #[inline(never)]
    fn check_sections(&mut self, alloc: &mut A) -> Result<'a, ()> {
        let sht_end = add(self.shoff, mul(u64::from(self.shnum), SHDR_SIZE)?)?;
        let mut extents =
            alloc.alloc::<(u64, u64, u32)>(bytes::usize_of(u64::from(self.shnum))?)?;
        let mut n_extents = 0usize;
        let mut symtab: Option<u32> = None;

        for index in 1..self.shnum {
            let hdr = self.raw_header(index)?;
            let name = self.name_of(index, &hdr)?;
            let c = Ctx::Section(name);
            let data = self.extent(&hdr).ctx(c)?;
            let has_bytes = hdr.sh_type != SHT_NOBITS && hdr.sh_size != 0;
            // extent gives no bytes for a section with bytes only when they were not read.
            if has_bytes && data.is_empty() && !self.unread(&hdr) {
                return Err(Error::malformed("section contents were not read").ctx(c));
            }
            if has_bytes {
                let start = hdr.sh_offset;
                let end = add(start, hdr.sh_size)?;
                if start < EHDR_SIZE as u64 || (start < sht_end && end > self.shoff) {
                    return Err(Error::malformed("section data overlaps the ELF headers").ctx(c));
                }
                let slot = extents
                    .get_mut(n_extents)
                    .ok_or(Error::malformed("section count"))?;
                *slot = (start, end, index);
                n_extents = n_extents.saturating_add(1);
            }
            let slot = self
                .table
                .get_mut(bytes::usize_of(u64::from(index))?)
                .ok_or(Error::malformed("section count"))?;
            *slot = Section {
                index,
                name,
                hdr,
                data,
            };
            match hdr.sh_type {
                SHT_SYMTAB => {
                    if symtab.is_some() {
                        return Err(Error::malformed("more than one symbol table").ctx(c));
                    }
                    symtab = Some(index);
                }
                SHT_RELA => {
                    return Err(Error::new(Kind::Unsupported(
                        "RELA relocation sections (BPF uses REL)",
                    ))
                    .ctx(c))
                }
                SHT_SYMTAB_SHNDX => {
                    return Err(
                        Error::new(Kind::Unsupported("extended symbol section indices")).ctx(c),
                    )
                }
                _ => {}
            }
        }

        // Overlapping section contents mean a crafted file: reject rather than let two
        // sections (say code and its relocations) alias each other.
        let used = extents.get_mut(..n_extents).unwrap_or_default();
        crate::util::sort_by_key(used, |x| *x);
        for w in used.windows(2) {
            if let [(_, end_a, a), (start_b, _, b)] = w {
                if start_b < end_a {
                    let name = self.section_name(*b).unwrap_or("?");
                    return Err(Error::malformed("section data overlaps another section")
                        .ctx(Ctx::Value(What::Index, u64::from(*a)))
                        .ctx(Ctx::Section(name)));
                }
            }
        }

        let Some(si) = symtab else {
            return Err(Error::malformed("no symbol table (.symtab)"));
        };
        let symtab_sec = self.decoded(si)?;
        let sh = symtab_sec.hdr;
        let c = Ctx::Section(symtab_sec.name);
        if sh.sh_entsize != SYM_SIZE || sh.sh_size % SYM_SIZE != 0 {
            return Err(Error::malformed("symbol table entry size is not 24").ctx(c));
        }
        let count = sh.sh_size / SYM_SIZE;
        if count > limits::MAX_SYMBOLS as u64 {
            return Err(Error::limit("symbols", count, limits::MAX_SYMBOLS).ctx(c));
        }
        let strtab_sec = self.decoded(sh.sh_link).ctx(c)?;
        if strtab_sec.hdr.sh_type != SHT_STRTAB || sh.sh_link == 0 {
            return Err(Error::malformed("symbol table is not linked to a string table").ctx(c));
        }
        self.symtab = symtab_sec.data;
        self.strtab = strtab_sec.data;
        self.symtab_index = si;

        // Relocation sections must refer to this symbol table and a real target section.
        for s in self.table.iter().skip(1) {
            let hdr = s.hdr;
            if hdr.sh_type != SHT_REL {
                continue;
            }
            let c = Ctx::Section(s.name);
            if hdr.sh_entsize != REL_SIZE || hdr.sh_size % REL_SIZE != 0 {
                return Err(Error::malformed("relocation entry size is not 16").ctx(c));
            }
            if hdr.sh_link != si {
                return Err(Error::malformed("relocations do not use .symtab").ctx(c));
            }
            if hdr.sh_info == 0 || hdr.sh_info >= self.shnum {
                return Err(Error::malformed("relocation target section out of range").ctx(c));
            }
        }
        Ok(())
    }

    /// The bytes a header describes: inside the file, or empty for NOBITS.
    /// For a section [`read_used`] does not read, no bytes (the core uses none of them).
    fn extent(&self, hdr: &SectionHeader) -> Result<'a, &'a [u8]> {
        if hdr.sh_type == SHT_NOBITS {
            return Ok(&[]);
        }
        let in_file = hdr
            .sh_offset
            .checked_add(hdr.sh_size)
            .is_some_and(|end| end <= self.img.file_len());
        if !in_file {
            return Err(Error::malformed("section extends past the end of the file")
                .ctx(Ctx::Value(What::Offset, hdr.sh_offset)));
        }
        // Elf::parse_image checked that only such sections are missing.
        Ok(self.img.get(hdr.sh_offset, hdr.sh_size).unwrap_or_default())
    }

    /// Whether [`read_used`] leaves the section of header `hdr` unread.
    fn unread(&self, hdr: &SectionHeader) -> bool {
        let names = Names(self.shstrtab);
        skipped(&names, hdr, |i| self.raw_header(i).ok())
    }

    fn raw_header(&self, index: u32) -> Result<'a, SectionHeader> {
        if index >= self.shnum {
            return Err(Error::malformed("section index out of range")
                .ctx(Ctx::Value(What::Index, u64::from(index))));
        }
        let off = mul(u64::from(index), SHDR_SIZE)?;
        let b = bytes::slice(self.shdrs, off, SHDR_SIZE)
            .ok_or(Error::malformed("section header past end of file"))?;
        read_shdr(b).ok_or(Error::malformed("truncated section header"))
    }

    /// The name of section `index`, once `check_sections` decoded it.
    fn section_name(&self, index: u32) -> Result<'a, &'a str> {
        self.decoded(index).map(|s| s.name)
    }

    /// Section `index`, once `check_sections` decoded it.
    fn decoded(&self, index: u32) -> Result<'a, Section<'a>> {
        self.table.get(index as usize).copied().ok_or_else(|| {
            Error::malformed("section index out of range")
                .ctx(Ctx::Value(What::Index, u64::from(index)))
        })
    }

    /// The name of section `index`, whose header is `hdr`.
    fn name_of(&self, index: u32, hdr: &SectionHeader) -> Result<'a, &'a str> {
        bytes::cstr_checked(
            self.shstrtab,
            bytes::usize_of(u64::from(hdr.sh_name))?,
            limits::MAX_NAME_LEN,
        )
        .map_err(|why| {
            Error::malformed(match why {
                BadName::Offset => "invalid section name: offset past .shstrtab",
                BadName::TooLong => "invalid section name: longer than 512 bytes (MAX_NAME_LEN)",
                BadName::Unterminated => "invalid section name: not NUL-terminated",
                BadName::NotUtf8 => "invalid section name: not UTF-8",
            })
            .ctx(Ctx::SectionIndex(index))
        })
    }

    /// The bytes parsed: the whole file, or [`read_used`]'s packed pieces of it.
    pub fn image(&self) -> Image<'a> {
        self.img
    }

    /// Number of section headers (including the null section 0).
    pub fn section_count(&self) -> u32 {
        self.shnum
    }

    /// Section `index` (1-based; 0 is the null section and is refused).
    pub fn section(&self, index: u32) -> Result<'a, Section<'a>> {
        if index == 0 {
            return Err(Error::malformed("reference to the null section"));
        }
        self.decoded(index)
    }

    /// All sections except the null section, in index order.
    pub fn sections(&self) -> impl Iterator<Item = Result<'a, Section<'a>>> + '_ {
        (1..self.shnum).map(move |i| self.section(i))
    }

    /// The first section called `name` (a linear walk: for repeated lookups build
    /// [`Elf::section_names`] once).
    pub fn section_by_name(&self, name: &str) -> Option<Section<'a>> {
        self.sections().flatten().find(|s| s.name == name)
    }

    /// An index answering [`Elf::section_by_name`] in O(log sections).
    pub fn section_names<B: Alloc>(
        &self,
        alloc: &mut B,
    ) -> Result<'static, SectionNames<B::Buf<u32>>> {
        let n = bytes::usize_of(u64::from(self.shnum.saturating_sub(1)))?;
        let mut sorted = alloc.alloc::<u32>(n)?;
        // Each name read once, not at every comparison.
        let mut names = alloc.alloc::<&str>(n)?;
        for ((slot, name), i) in sorted.iter_mut().zip(names.iter_mut()).zip(1..self.shnum) {
            *slot = i;
            *name = self.section_name(i).unwrap_or("");
        }
        let name = |i: u32| {
            i.checked_sub(1)
                .and_then(|k| names.get(k as usize))
                .copied()
                .unwrap_or("")
        };
        crate::util::sort_by_key(&mut sorted, |&i| (name(i), i));
        Ok(SectionNames { sorted })
    }

    /// Index of `.symtab`.
    pub fn symtab_index(&self) -> u32 {
        self.symtab_index
    }

    /// Number of symbols, including the null symbol 0.
    pub fn symbol_count(&self) -> u32 {
        // INVARIANT: bounded by MAX_SYMBOLS when parsed.
        u32::try_from(
            self.symtab
                .len()
                .checked_div(SYM_SIZE as usize)
                .unwrap_or(0),
        )
        .unwrap_or(0)
    }

    /// Symbol `index`, with its name checked.
    pub fn symbol(&self, index: u32) -> Result<'a, Symbol<'a>> {
        let off = bytes::usize_of(mul(u64::from(index), SYM_SIZE)?)?;
        let b = self
            .symtab
            .get(off..off.saturating_add(SYM_SIZE as usize))
            .filter(|b| b.len() == SYM_SIZE as usize)
            .ok_or_else(|| {
                Error::malformed("symbol index out of range")
                    .ctx(Ctx::Value(What::Symbol, u64::from(index)))
            })?;
        let sym = read_sym(b).ok_or(Error::malformed("truncated symbol"))?;
        let decoded = match self.sym_names.get(index as usize) {
            Some(&SymName { name, bad: None }) => Ok(name),
            Some(&SymName { bad: Some(why), .. }) => Err(why),
            // Not decoded (cannot happen: one per symbol).
            None => self.symbol_name(sym.st_name),
        };
        let name = decoded.map_err(|why| {
            Error::malformed(match why {
                BadName::Offset => "invalid symbol name: offset past .strtab",
                BadName::TooLong => "invalid symbol name: longer than 512 bytes (MAX_NAME_LEN)",
                BadName::Unterminated => "invalid symbol name: not NUL-terminated",
                BadName::NotUtf8 => "invalid symbol name: not UTF-8",
            })
            .ctx(Ctx::Value(What::Symbol, u64::from(index)))
        })?;
        let shndx = u32::from(sym.st_shndx);
        if shndx != SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= self.shnum {
            return Err(
                Error::malformed("symbol section index out of range").ctx(Ctx::Symbol(name))
            );
        }
        Ok(Symbol { index, name, sym })
    }

    /// All symbols except the null symbol, in index order.
    pub fn symbols(&self) -> impl Iterator<Item = Result<'a, Symbol<'a>>> + '_ {
        (1..self.symbol_count()).map(move |i| self.symbol(i))
    }

    /// Relocation records of a `SHT_REL` section (validated by [`Elf::parse`]).
    pub fn rels(&self, rel_section: &Section<'a>) -> impl Iterator<Item = Rel> + 'a {
        let data = if rel_section.hdr.sh_type == SHT_REL {
            rel_section.data
        } else {
            &[]
        };
        // By index rather than `chunks_exact`: its length is a division by a runtime
        // chunk size, whose divide-by-zero panic path objtool (6.12) cannot follow.
        const SZ: usize = REL_SIZE as usize;
        let n = data.len().checked_div(SZ).unwrap_or(0);
        (0..n).map(move |i| {
            let at = i.saturating_mul(SZ);
            let offset = u64_at(data, at).unwrap_or(0);
            let info = u64_at(data, at.saturating_add(8)).unwrap_or(0);
            Rel {
                offset,
                sym: u32::try_from(info >> 32).unwrap_or(u32::MAX),
                kind: u32::try_from(info & 0xffff_ffff).unwrap_or(u32::MAX),
            }
        })
    }
}

/// Gap between two sections' contents up to which [`read_used`] reads through rather than
/// starting another piece (alignment padding, small DWARF sections).
pub const READ_GAP: u64 = 512;

/// Files up to this size are read whole, in one call ([`read_small_whole`]): four pages.
pub const SMALL_FILE: u64 = 16 * 1024;

/// The section names of a `.shstrtab`, for [`skipped`].
struct Names<'n>(&'n [u8]);

impl Names<'_> {
    fn starts_with(&self, off: u32, prefix: &[u8]) -> bool {
        let off = off as usize;
        off < self.0.len() && self.0.get(off..off.saturating_add(prefix.len())) == Some(prefix)
    }
}

/// Whether [`read_used`] leaves a section unread: DWARF (named `.debug*`, `SHT_PROGBITS`,
/// neither allocated nor code) and the relocation sections that apply to it. `header`
/// gives a section's header by index.
fn skipped(
    names: &Names<'_>,
    h: &SectionHeader,
    header: impl Fn(u32) -> Option<SectionHeader>,
) -> bool {
    let is_dwarf = |h: &SectionHeader| {
        h.sh_type == SHT_PROGBITS
            && h.sh_flags & u64::from(SHF_ALLOC | SHF_EXECINSTR) == 0
            && names.starts_with(h.sh_name, b".debug")
    };
    is_dwarf(h) || (h.sh_type == SHT_REL && header(h.sh_info).is_some_and(|t| is_dwarf(&t)))
}

/// Why [`read_used`] failed.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The caller's read failed.
    Read(E),
    /// No memory for the buffers.
    Core(Error<'static>),
}

impl<E> From<Error<'static>> for ReadError<E> {
    fn from(e: Error<'static>) -> Self {
        ReadError::Core(e)
    }
}

/// What [`read_used`] read: the pieces of the file, packed.
pub struct Packed<A: Alloc> {
    /// The pieces' bytes, one after the other.
    pub data: A::Buf<u8>,
    /// Where each piece is, in file order.
    pub pieces: A::Buf<Piece>,
    /// The file's length.
    pub file_len: u64,
    /// Bytes read from the file (each once).
    pub read: u64,
}

impl<A: Alloc> Packed<A> {
    /// The bytes to parse ([`Elf::parse_image`]).
    pub fn image(&self) -> Image<'_> {
        Image::packed(&self.data, &self.pieces, self.file_len)
    }

    /// Memory held: the bytes and the piece table.
    pub fn bytes(&self) -> usize {
        self.data.len().saturating_add(
            self.pieces
                .len()
                .saturating_mul(core::mem::size_of::<Piece>()),
        )
    }
}

/// Read what the core uses of a file of `file_len` bytes, each byte once, packed into a
/// buffer from `alloc`: the ELF header, the section header table, and the contents of
/// every section except DWARF's and the relocations that apply to it (see `skipped`).
/// Nothing in the core reads those; they are most of an object built with `-g` (a CO-RE
/// object with `vmlinux.h` is ~85% DWARF), and a caller that reads through fs-verity
/// would verify them for nothing, and hold them.
///
/// `read(dst, offset)` must fill `dst` from the file at `offset`; no byte is asked for
/// twice. If the headers do not describe an ELF64 object whose section header table,
/// name table and used sections are inside the file and do not overlap, the whole file
/// is read as one piece, so that [`Elf::parse_image`] reports what is wrong with it.
pub fn read_used<A: Alloc, E>(
    file_len: u64,
    alloc: &mut A,
    read: impl FnMut(&mut [u8], u64) -> core::result::Result<(), E>,
) -> core::result::Result<Packed<A>, ReadError<E>> {
    read_counted(file_len, None, alloc, read)
}

/// [`read_used`], except that a file of at most `whole_up_to` bytes is read whole, with
/// one call of `read`: for a small file the calls cost more than the DWARF bytes
/// (`read_used` makes one for the ELF header, two for the section header table, one
/// for the section names and one per run of used sections).
pub fn read_small_whole<A: Alloc, E>(
    file_len: u64,
    whole_up_to: u64,
    alloc: &mut A,
    read: impl FnMut(&mut [u8], u64) -> core::result::Result<(), E>,
) -> core::result::Result<Packed<A>, ReadError<E>> {
    read_counted(file_len, Some(whole_up_to), alloc, read)
}

/// [`read_used`] and [`read_small_whole`]: `read` behind the calls' bookkeeping (no
/// call for no bytes, the bytes read counted into [`Packed::read`]); the whole file
/// if it is at most `whole_up_to` bytes, else packed.
fn read_counted<A: Alloc, E>(
    file_len: u64,
    whole_up_to: Option<u64>,
    alloc: &mut A,
    mut read: impl FnMut(&mut [u8], u64) -> core::result::Result<(), E>,
) -> core::result::Result<Packed<A>, ReadError<E>> {
    let mut total = 0u64;
    let mut get = |dst: &mut [u8], off: u64| {
        if dst.is_empty() {
            return Ok(());
        }
        total = total.saturating_add(dst.len() as u64);
        read(dst, off).map_err(ReadError::Read)
    };
    let mut packed = if whole_up_to.is_some_and(|w| file_len <= w) {
        read_whole(file_len, alloc, &mut get, &[])?
    } else {
        pack(file_len, alloc, &mut get)?
    };
    packed.read = total;
    Ok(packed)
}

/// The whole file as one piece; what `sources` (file offset, bytes already read) hold
/// is copied from them.
fn read_whole<A: Alloc, E>(
    file_len: u64,
    alloc: &mut A,
    get: &mut impl FnMut(&mut [u8], u64) -> core::result::Result<(), ReadError<E>>,
    sources: &[(u64, &[u8])],
) -> core::result::Result<Packed<A>, ReadError<E>> {
    let mut pieces = alloc.alloc::<Piece>(1)?;
    if let Some(p) = pieces.first_mut() {
        *p = Piece {
            file_off: 0,
            len: file_len,
            at: 0,
        };
    }
    let data = fill(&pieces, sources, alloc, get)?;
    Ok(Packed {
        data,
        pieces,
        file_len,
        read: 0,
    })
}

fn pack<A: Alloc, E>(
    file_len: u64,
    alloc: &mut A,
    get: &mut impl FnMut(&mut [u8], u64) -> core::result::Result<(), ReadError<E>>,
) -> core::result::Result<Packed<A>, ReadError<E>> {
    // The ELF header.
    let mut head = [0u8; EHDR_SIZE];
    let n = file_len.min(EHDR_SIZE as u64) as usize;
    get(head.get_mut(..n).unwrap_or_default(), 0)?;
    let head = head.get(..n).unwrap_or_default();
    // The section header table and the section names, when they are where they can be.
    let table = read_header(head).ok().filter(|ehdr| {
        ehdr.e_shoff >= EHDR_SIZE as u64
            && ehdr
                .e_shoff
                .checked_add(SHDR_SIZE)
                .is_some_and(|e| e <= file_len)
    });
    let Some(ehdr) = table else {
        return read_whole(file_len, alloc, get, &[(0, head)]);
    };
    let shoff = ehdr.e_shoff;
    let mut first = [0u8; SHDR_SIZE as usize];
    get(&mut first, shoff)?;
    let one = [Piece {
        file_off: shoff,
        len: SHDR_SIZE,
        at: 0,
    }];
    let Ok((shnum, shstrndx)) = section_counts(&Image::packed(&first, &one, file_len), &ehdr)
    else {
        return read_whole(file_len, alloc, get, &[(0, head), (shoff, &first)]);
    };
    let table_len = mul(u64::from(shnum), SHDR_SIZE)?;
    let mut shdrs = crate::mem::alloc_n::<A, u8>(alloc, table_len)?;
    crate::util::copy(shdrs.get_mut(..first.len()).unwrap_or_default(), &first);
    get(
        shdrs.get_mut(first.len()..).unwrap_or_default(),
        shoff.saturating_add(SHDR_SIZE),
    )?;
    let header = |i: u32| {
        let off = u64::from(i).checked_mul(SHDR_SIZE)?;
        bytes::slice(&shdrs, off, SHDR_SIZE).and_then(read_shdr)
    };
    // Not over the ELF header nor the section header table, both read already: no
    // byte is read twice (the parse then refuses the overlap, from the whole file).
    let table_end = shoff.saturating_add(table_len);
    let names_hdr = header(shstrndx).filter(|h| {
        h.sh_type == SHT_STRTAB
            && h.sh_offset >= EHDR_SIZE as u64
            && h.sh_offset
                .checked_add(h.sh_size)
                .is_some_and(|e| e <= file_len && (e <= shoff || h.sh_offset >= table_end))
    });
    let Some(names_hdr) = names_hdr else {
        return read_whole(file_len, alloc, get, &[(0, head), (shoff, &shdrs)]);
    };
    let mut names = crate::mem::alloc_n::<A, u8>(alloc, names_hdr.sh_size)?;
    get(&mut names, names_hdr.sh_offset)?;
    let sources: [(u64, &[u8]); 3] = [(0, head), (shoff, &shdrs), (names_hdr.sh_offset, &names)];

    // The ranges to hold, sorted; ranges that overlap or run past the end of the file
    // mean a file Elf::parse refuses.
    let used = || {
        (1..shnum)
            .filter(|&i| i != shstrndx)
            .filter_map(header)
            .filter(|h| h.sh_type != SHT_NOBITS && h.sh_size != 0)
            .filter(|h| !skipped(&Names(&names), h, header))
            // Past the end (or wrapping): u64::MAX, which the check below sees.
            .map(|h| {
                let end = h.sh_offset.checked_add(h.sh_size);
                (
                    h.sh_offset,
                    end.filter(|&e| e <= file_len).unwrap_or(u64::MAX),
                )
            })
    };
    let n_ranges = used().count().saturating_add(sources.len());
    let mut ranges = crate::mem::alloc_n::<A, (u64, u64)>(alloc, n_ranges as u64)?;
    let known = sources
        .iter()
        .map(|(o, b)| (*o, o.saturating_add(b.len() as u64)));
    for (slot, r) in ranges.iter_mut().zip(known.chain(used())) {
        *slot = r;
    }
    crate::util::sort_by_key(&mut ranges, |r| *r);
    let overlap = ranges.windows(2).any(|w| match w {
        [(_, end_a), (start_b, _)] => start_b < end_a,
        _ => false,
    });
    if overlap || ranges.iter().any(|&(_, end)| end > file_len) {
        return read_whole(file_len, alloc, get, &sources);
    }

    // Pieces: the ranges, with gaps up to READ_GAP read through.
    let starts_piece = |prev_end: Option<u64>, start: u64| {
        prev_end.is_none_or(|e| start > e.saturating_add(READ_GAP))
    };
    let mut n_pieces = 0usize;
    let mut prev_end = None;
    for &(s, e) in ranges.iter() {
        if starts_piece(prev_end, s) {
            n_pieces = n_pieces.saturating_add(1);
        }
        prev_end = Some(e);
    }
    let mut pieces = crate::mem::alloc_n::<A, Piece>(alloc, n_pieces as u64)?;
    let (mut k, mut at, mut prev_end) = (0usize, 0u64, None);
    for &(s, e) in ranges.iter() {
        if starts_piece(prev_end, s) {
            if let Some(p) = pieces.get_mut(k) {
                *p = Piece {
                    file_off: s,
                    len: 0,
                    at,
                };
            }
            k = k.saturating_add(1);
        }
        if let Some(p) = k.checked_sub(1).and_then(|i| pieces.get_mut(i)) {
            // Sorted and disjoint: each range ends after the one before.
            let len = e.saturating_sub(p.file_off);
            at = at.saturating_add(len.saturating_sub(p.len));
            p.len = len;
        }
        prev_end = Some(e);
    }
    let data = fill(&pieces, &sources, alloc, get)?;
    Ok(Packed {
        data,
        pieces,
        file_len,
        read: 0,
    })
}

/// Allocate the buffer for `pieces` and fill it: what `sources` (file offset, bytes
/// already read) hold is copied from them, the rest read with `get`.
fn fill<A: Alloc, E>(
    pieces: &[Piece],
    sources: &[(u64, &[u8])],
    alloc: &mut A,
    get: &mut impl FnMut(&mut [u8], u64) -> core::result::Result<(), ReadError<E>>,
) -> core::result::Result<A::Buf<u8>, ReadError<E>> {
    let len = pieces.iter().fold(0u64, |n, p| n.saturating_add(p.len));
    let mut data = crate::mem::alloc_n::<A, u8>(alloc, len)?;
    for p in pieces {
        let end = p.file_off.saturating_add(p.len);
        let mut pos = p.file_off;
        while pos < end {
            // The source holding `pos`, or the first one after it.
            let next = sources
                .iter()
                .filter(|(o, b)| o.saturating_add(b.len() as u64) > pos && *o < end)
                .min_by_key(|(o, _)| *o);
            let (upto, src) = match next {
                Some(&(o, b)) if o <= pos => {
                    (o.saturating_add(b.len() as u64).min(end), Some((o, b)))
                }
                Some(&(o, _)) => (o, None),
                None => (end, None),
            };
            let from = usize::try_from(p.at.saturating_add(pos.saturating_sub(p.file_off)))
                .unwrap_or(usize::MAX);
            let n = usize::try_from(upto.saturating_sub(pos)).unwrap_or(0);
            let dst = data
                .get_mut(from..from.saturating_add(n))
                .ok_or(Error::malformed("packed read"))?;
            match src {
                Some((o, b)) => {
                    let i = usize::try_from(pos.saturating_sub(o)).unwrap_or(usize::MAX);
                    let b = b
                        .get(i..i.saturating_add(n))
                        .ok_or(Error::malformed("packed read"))?;
                    crate::util::copy(dst, b);
                }
                None => get(dst, pos)?,
            }
            if upto <= pos {
                break;
            }
            pos = upto;
        }
    }
    Ok(data)
}

fn read_header(data: &[u8]) -> Result<'static, Header> {
    let ident: [u8; 16] =
        bytes::array(data, 0).ok_or_else(|| hdr_err("file too short for an ELF header"))?;
    if ident.get(..SELFMAG) != Some(&ELFMAG[..]) {
        return Err(hdr_err("not an ELF file (bad magic)"));
    }
    match ident.get(EI_CLASS) {
        Some(&ELFCLASS64) => {}
        Some(&ELFCLASS32) => return Err(hdr_err("32-bit ELF: BPF objects are ELF64")),
        _ => return Err(hdr_err("unknown ELF class")),
    }
    match ident.get(EI_DATA) {
        Some(&ELFDATA2LSB) => {}
        Some(&ELFDATA2MSB) => {
            return Err(Error::new(Kind::Unsupported(
                "big-endian BPF object: build with clang -target bpfel (or bpf on a little-endian host)",
            ))
            .ctx(Ctx::Step("ELF header")))
        }
        _ => return Err(hdr_err("unknown ELF data encoding")),
    }
    if ident.get(EI_VERSION) != Some(&EV_CURRENT) {
        return Err(hdr_err("unknown ELF version"));
    }
    let h = |o| u16_at(data, o).ok_or_else(|| hdr_err("truncated ELF header"));
    let w = |o| u32_at(data, o).ok_or_else(|| hdr_err("truncated ELF header"));
    let q = |o| u64_at(data, o).ok_or_else(|| hdr_err("truncated ELF header"));
    let ehdr = Header {
        e_ident: ident,
        e_type: h(16)?,
        e_machine: h(18)?,
        e_version: w(20)?,
        e_entry: q(24)?,
        e_phoff: q(32)?,
        e_shoff: q(40)?,
        e_flags: w(48)?,
        e_ehsize: h(52)?,
        e_phentsize: h(54)?,
        e_phnum: h(56)?,
        e_shentsize: h(58)?,
        e_shnum: h(60)?,
        e_shstrndx: h(62)?,
    };
    if ehdr.e_type != ET_REL {
        return Err(hdr_err(
            "not a relocatable object (ET_REL): pass the .o clang produced",
        ));
    }
    // libbpf takes EM_NONE too: old LLVM wrote it.
    if ehdr.e_machine != EM_BPF && ehdr.e_machine != EM_NONE {
        return Err(hdr_err(
            "not a BPF object (e_machine is neither EM_BPF nor EM_NONE)",
        ));
    }
    if ehdr.e_version != u32::from(EV_CURRENT) {
        return Err(hdr_err("unknown e_version"));
    }
    if usize::from(ehdr.e_ehsize) != EHDR_SIZE {
        return Err(hdr_err("e_ehsize is not 64"));
    }
    if u64::from(ehdr.e_shentsize) != SHDR_SIZE {
        return Err(hdr_err("e_shentsize is not 64"));
    }
    if ehdr.e_phnum != 0 {
        return Err(hdr_err("relocatable object with program headers"));
    }
    if ehdr.e_shoff == 0 {
        return Err(hdr_err("no section header table"));
    }
    Ok(ehdr)
}

/// Section count and name table index, with ELF's escape values for large files.
fn section_counts(img: &Image<'_>, ehdr: &Header) -> Result<'static, (u32, u32)> {
    let first = img
        .get(ehdr.e_shoff, SHDR_SIZE)
        .and_then(read_shdr)
        .ok_or_else(|| hdr_err("section header table past end of file"))?;
    let shnum = match ehdr.e_shnum {
        0 => first.sh_size,
        n => u64::from(n),
    };
    if shnum == 0 {
        return Err(hdr_err("no sections"));
    }
    if shnum > limits::MAX_SECTIONS as u64 {
        return Err(Error::limit("sections", shnum, limits::MAX_SECTIONS));
    }
    let end = add(ehdr.e_shoff, mul(shnum, SHDR_SIZE)?)?;
    if end > img.file_len() || ehdr.e_shoff < EHDR_SIZE as u64 {
        return Err(hdr_err("section header table outside the file"));
    }
    let shstrndx = match u32::from(ehdr.e_shstrndx) {
        SHN_XINDEX => first.sh_link,
        n => n,
    };
    if shstrndx == 0 || u64::from(shstrndx) >= shnum {
        return Err(hdr_err("e_shstrndx out of range"));
    }
    // INVARIANT: shnum <= MAX_SECTIONS fits u32.
    Ok((u32::try_from(shnum).unwrap_or(0), shstrndx))
}

fn read_shdr(b: &[u8]) -> Option<SectionHeader> {
    Some(SectionHeader {
        sh_name: u32_at(b, 0)?,
        sh_type: u32_at(b, 4)?,
        sh_flags: u64_at(b, 8)?,
        sh_addr: u64_at(b, 16)?,
        sh_offset: u64_at(b, 24)?,
        sh_size: u64_at(b, 32)?,
        sh_link: u32_at(b, 40)?,
        sh_info: u32_at(b, 44)?,
        sh_addralign: u64_at(b, 48)?,
        sh_entsize: u64_at(b, 56)?,
    })
}

fn read_sym(b: &[u8]) -> Option<Sym> {
    Some(Sym {
        st_name: u32_at(b, 0)?,
        st_info: u8_at(b, 4)?,
        st_other: u8_at(b, 5)?,
        st_shndx: u16_at(b, 6)?,
        st_value: u64_at(b, 8)?,
        st_size: u64_at(b, 16)?,
    })
}

/// Section indices sorted by (name, index): see [`Elf::section_names`].
pub struct SectionNames<B> {
    sorted: B,
}

impl<B: core::ops::Deref<Target = [u32]>> SectionNames<B> {
    /// The first section of `elf` (the one this index was built from) called `name`.
    pub fn find<'a, A: Alloc>(&self, elf: &Elf<'a, A>, name: &str) -> Option<Section<'a>> {
        let name_of = |i: u32| elf.section(i).map(|s| s.name).unwrap_or("");
        let k = self.sorted.partition_point(|&i| name_of(i) < name);
        let s = elf.section(*self.sorted.get(k)?).ok()?;
        (s.name == name).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_image_maps_file_offsets_to_its_pieces() {
        // A 100-byte file of which 0..10 and 40..60 were read, packed as 30 bytes.
        let data: [u8; 30] = core::array::from_fn(|i| i as u8);
        let pieces = [
            Piece {
                file_off: 0,
                len: 10,
                at: 0,
            },
            Piece {
                file_off: 40,
                len: 20,
                at: 10,
            },
        ];
        let img = Image::packed(&data, &pieces, 100);
        assert_eq!(img.file_len(), 100);
        assert_eq!(img.get(0, 10), Some(&data[..10]));
        assert_eq!(img.get(42, 3), Some(&data[12..15]));
        assert_eq!(img.get(40, 20), Some(&data[10..30]));
        // Not read, across two pieces, past a piece, past the file.
        assert_eq!(img.get(20, 4), None);
        assert_eq!(img.get(8, 40), None);
        assert_eq!(img.get(55, 10), None);
        assert_eq!(img.get(99, 2), None);
        assert_eq!(img.get(u64::MAX, 2), None);
        // Nothing is always there inside the file.
        assert_eq!(img.get(20, 0), Some(&[][..]));
        assert_eq!(img.get(100, 0), Some(&[][..]));
        assert_eq!(img.get(101, 0), None);
        // A whole file is its own image.
        let whole = Image::whole(&data);
        assert_eq!(whole.get(5, 20), Some(&data[5..25]));
        assert_eq!(whole.get(25, 6), None);
    }
}

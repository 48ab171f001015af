// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A tiny ELF64 editor for tests: read and patch header fields, section headers,
//! symbols, relocations and instructions by name, relayout the section header table,
//! append data. Offsets follow `Elf64_Ehdr`, `Elf64_Shdr`, `Elf64_Sym`, `Elf64_Rel`.

/// `Elf64_Ehdr` field offsets.
pub mod eh {
    /// `e_ident[EI_CLASS]`.
    pub const CLASS: usize = 4;
    /// `e_ident[EI_DATA]`.
    pub const DATA: usize = 5;
    /// `e_ident[EI_VERSION]`.
    pub const IDENT_VERSION: usize = 6;
    /// `e_type`.
    pub const TYPE: usize = 16;
    /// `e_machine`.
    pub const MACHINE: usize = 18;
    /// `e_version`.
    pub const VERSION: usize = 20;
    /// `e_shoff`.
    pub const SHOFF: usize = 40;
    /// `e_ehsize`.
    pub const EHSIZE: usize = 52;
    /// `e_phnum`.
    pub const PHNUM: usize = 56;
    /// `e_shentsize`.
    pub const SHENTSIZE: usize = 58;
    /// `e_shnum`.
    pub const SHNUM: usize = 60;
    /// `e_shstrndx`.
    pub const SHSTRNDX: usize = 62;
}

/// `Elf64_Shdr` fields: (offset, width).
#[derive(Clone, Copy, Debug)]
pub enum Sh {
    /// `sh_name`.
    Name,
    /// `sh_type`.
    Type,
    /// `sh_flags`.
    Flags,
    /// `sh_offset`.
    Offset,
    /// `sh_size`.
    Size,
    /// `sh_link`.
    Link,
    /// `sh_info`.
    Info,
    /// `sh_entsize`.
    Entsize,
}

impl Sh {
    fn at(self) -> (usize, usize) {
        match self {
            Sh::Name => (0, 4),
            Sh::Type => (4, 4),
            Sh::Flags => (8, 8),
            Sh::Offset => (24, 8),
            Sh::Size => (32, 8),
            Sh::Link => (40, 4),
            Sh::Info => (44, 4),
            Sh::Entsize => (56, 8),
        }
    }
}

/// `Elf64_Sym` fields.
#[derive(Clone, Copy, Debug)]
pub enum St {
    /// `st_name`.
    Name,
    /// `st_info`.
    Info,
    /// `st_other`.
    Other,
    /// `st_shndx`.
    Shndx,
    /// `st_value`.
    Value,
    /// `st_size`.
    Size,
}

impl St {
    fn at(self) -> (usize, usize) {
        match self {
            St::Name => (0, 4),
            St::Info => (4, 1),
            St::Other => (5, 1),
            St::Shndx => (6, 2),
            St::Value => (8, 8),
            St::Size => (16, 8),
        }
    }
}

/// Section types used by the tests.
pub const SHT_PROGBITS: u64 = 1;
/// `SHT_SYMTAB`.
pub const SHT_SYMTAB: u64 = 2;
/// `SHT_STRTAB`.
pub const SHT_STRTAB: u64 = 3;
/// `SHT_RELA`.
pub const SHT_RELA: u64 = 4;
/// `SHT_NOTE`.
pub const SHT_NOTE: u64 = 7;
/// `SHT_REL`.
pub const SHT_REL: u64 = 9;
/// `SHT_SYMTAB_SHNDX`.
pub const SHT_SYMTAB_SHNDX: u64 = 18;

/// One relocation record: where it is in the file and what it says.
#[derive(Clone, Copy, Debug)]
pub struct RelRec {
    /// File offset of the record.
    pub at: usize,
    /// `r_offset`.
    pub offset: u64,
    /// Symbol index.
    pub sym: u32,
    /// Relocation type.
    pub kind: u32,
}

/// An ELF object being edited.
#[derive(Clone, Debug)]
pub struct Ed {
    /// The bytes.
    pub b: Vec<u8>,
}

impl Ed {
    /// Start from `bytes`.
    pub fn new(bytes: &[u8]) -> Ed {
        Ed { b: bytes.to_vec() }
    }

    /// Read `w` little-endian bytes at `off`.
    pub fn get(&self, off: usize, w: usize) -> u64 {
        let mut v = [0u8; 8];
        v[..w].copy_from_slice(&self.b[off..off + w]);
        u64::from_le_bytes(v)
    }

    /// Write `w` little-endian bytes at `off`.
    pub fn set(&mut self, off: usize, w: usize, v: u64) -> &mut Self {
        self.b[off..off + w].copy_from_slice(&v.to_le_bytes()[..w]);
        self
    }

    /// `e_shoff`.
    pub fn shoff(&self) -> usize {
        self.get(eh::SHOFF, 8) as usize
    }

    /// `e_shnum`.
    pub fn shnum(&self) -> usize {
        self.get(eh::SHNUM, 2) as usize
    }

    /// File offset of section header `i`.
    pub fn shdr_at(&self, i: usize) -> usize {
        self.shoff() + i * 64
    }

    /// Field `f` of section `i`.
    pub fn sh(&self, i: usize, f: Sh) -> u64 {
        let (o, w) = f.at();
        self.get(self.shdr_at(i) + o, w)
    }

    /// Set field `f` of section `i`.
    pub fn set_sh(&mut self, i: usize, f: Sh, v: u64) -> &mut Self {
        let (o, w) = f.at();
        let at = self.shdr_at(i) + o;
        self.set(at, w, v)
    }

    /// The NUL-terminated string at `off` of the section at index `strsec`.
    pub fn str_at(&self, strsec: usize, off: u64) -> String {
        let start = (self.sh(strsec, Sh::Offset) + off) as usize;
        let end = start + self.b[start..].iter().position(|&c| c == 0).unwrap();
        String::from_utf8_lossy(&self.b[start..end]).into_owned()
    }

    /// Name of section `i`.
    pub fn sec_name(&self, i: usize) -> String {
        let strndx = self.get(eh::SHSTRNDX, 2) as usize;
        self.str_at(strndx, self.sh(i, Sh::Name))
    }

    /// Index of the section called `name` (panics if absent: fixtures are known).
    pub fn sec(&self, name: &str) -> usize {
        (1..self.shnum())
            .find(|&i| self.sec_name(i) == name)
            .unwrap_or_else(|| panic!("no section {name}"))
    }

    /// Contents of section `i`.
    pub fn sec_data(&self, i: usize) -> &[u8] {
        let o = self.sh(i, Sh::Offset) as usize;
        &self.b[o..o + self.sh(i, Sh::Size) as usize]
    }

    /// File offset of byte `off` of section `name`.
    pub fn sec_off(&self, name: &str, off: u64) -> usize {
        (self.sh(self.sec(name), Sh::Offset) + off) as usize
    }

    /// Index of `.symtab`.
    pub fn symtab(&self) -> usize {
        (1..self.shnum())
            .find(|&i| self.sh(i, Sh::Type) == SHT_SYMTAB)
            .unwrap()
    }

    /// Number of symbols.
    pub fn sym_count(&self) -> usize {
        self.sh(self.symtab(), Sh::Size) as usize / 24
    }

    /// File offset of symbol `i`.
    pub fn sym_at(&self, i: usize) -> usize {
        self.sh(self.symtab(), Sh::Offset) as usize + i * 24
    }

    /// Name of symbol `i`.
    pub fn sym_name(&self, i: usize) -> String {
        let strtab = self.sh(self.symtab(), Sh::Link) as usize;
        self.str_at(strtab, self.get(self.sym_at(i), 4))
    }

    /// Index of the symbol called `name`.
    pub fn sym(&self, name: &str) -> usize {
        (1..self.sym_count())
            .find(|&i| self.sym_name(i) == name)
            .unwrap_or_else(|| panic!("no symbol {name}"))
    }

    /// Field `f` of symbol `i`.
    pub fn st(&self, i: usize, f: St) -> u64 {
        let (o, w) = f.at();
        self.get(self.sym_at(i) + o, w)
    }

    /// Set field `f` of symbol `i`.
    pub fn set_st(&mut self, i: usize, f: St, v: u64) -> &mut Self {
        let (o, w) = f.at();
        let at = self.sym_at(i) + o;
        self.set(at, w, v)
    }

    /// Set field `f` of the symbol called `name`.
    pub fn set_sym(&mut self, name: &str, f: St, v: u64) -> &mut Self {
        let i = self.sym(name);
        self.set_st(i, f, v)
    }

    /// The relocation records of section `relsec` (a name such as `.relxdp`).
    pub fn rels(&self, relsec: &str) -> Vec<RelRec> {
        let i = self.sec(relsec);
        let base = self.sh(i, Sh::Offset) as usize;
        (0..self.sh(i, Sh::Size) as usize / 16)
            .map(|k| {
                let at = base + k * 16;
                let info = self.get(at + 8, 8);
                RelRec {
                    at,
                    offset: self.get(at, 8),
                    sym: (info >> 32) as u32,
                    kind: info as u32,
                }
            })
            .collect()
    }

    /// Rewrite relocation `k` of `relsec`.
    pub fn set_rel(
        &mut self,
        relsec: &str,
        k: usize,
        offset: u64,
        sym: u32,
        kind: u32,
    ) -> &mut Self {
        let at = self.rels(relsec)[k].at;
        self.set(at, 8, offset);
        self.set(at + 8, 8, (u64::from(sym) << 32) | u64::from(kind))
    }

    /// Add a relocation record to `relsec` (moving the section to the end of the file).
    pub fn add_rel(&mut self, relsec: &str, offset: u64, sym: u32, kind: u32) -> &mut Self {
        let i = self.sec(relsec);
        let mut data = self.sec_data(i).to_vec();
        data.extend_from_slice(&offset.to_le_bytes());
        data.extend_from_slice(&((u64::from(sym) << 32) | u64::from(kind)).to_le_bytes());
        let at = self.append(&data);
        self.set_sh(i, Sh::Offset, at);
        self.set_sh(i, Sh::Size, data.len() as u64)
    }

    /// Index of the `STT_SECTION` symbol of section `name`.
    pub fn section_sym(&self, name: &str) -> usize {
        let s = self.sec(name) as u64;
        (1..self.sym_count())
            .find(|&i| self.st(i, St::Info) & 0xf == 3 && self.st(i, St::Shndx) == s)
            .unwrap_or_else(|| panic!("no section symbol for {name}"))
    }

    /// The relocation of `relsec` at `r_offset == off`.
    pub fn rel_index(&self, relsec: &str, off: u64) -> usize {
        self.rels(relsec)
            .iter()
            .position(|r| r.offset == off)
            .unwrap_or_else(|| panic!("no relocation at {off:#x} in {relsec}"))
    }

    /// File offset of instruction `insn` of section `sec`.
    pub fn insn_at(&self, sec: &str, insn: usize) -> usize {
        self.sec_off(sec, insn as u64 * 8)
    }

    /// Set the `imm` of instruction `insn` of section `sec`.
    pub fn set_imm(&mut self, sec: &str, insn: usize, imm: i32) -> &mut Self {
        let at = self.insn_at(sec, insn) + 4;
        self.set(at, 4, u64::from(imm as u32))
    }

    /// Overwrite instruction `insn` of section `sec` with raw bytes.
    pub fn set_insn(&mut self, sec: &str, insn: usize, raw: [u8; 8]) -> &mut Self {
        let at = self.insn_at(sec, insn);
        self.b[at..at + 8].copy_from_slice(&raw);
        self
    }

    /// Replace every occurrence of `from` in the string table `strsec` with `to` (same
    /// length).
    pub fn rename_in(&mut self, strsec: usize, from: &str, to: &str) -> &mut Self {
        assert_eq!(from.len(), to.len());
        let o = self.sh(strsec, Sh::Offset) as usize;
        let n = self.sh(strsec, Sh::Size) as usize;
        let pat: Vec<u8> = [b"\0", from.as_bytes(), b"\0"].concat();
        let mut hits = 0;
        for s in 0..n.saturating_sub(pat.len() - 1) {
            if self.b[o + s..o + s + pat.len()] == pat[..] {
                self.b[o + s + 1..o + s + 1 + to.len()].copy_from_slice(to.as_bytes());
                hits += 1;
            }
        }
        assert!(hits > 0, "no string {from}");
        self
    }

    /// Rename section `from` to `to` (same length) in place: strings sharing its bytes
    /// (e.g. `.relxdp` for `xdp`, `_license` for `license`) change with it.
    pub fn rename_section(&mut self, from: &str, to: &str) -> &mut Self {
        assert_eq!(from.len(), to.len());
        let strndx = self.get(eh::SHSTRNDX, 2) as usize;
        let at = (self.sh(strndx, Sh::Offset) + self.sh(self.sec(from), Sh::Name)) as usize;
        self.b[at..at + to.len()].copy_from_slice(to.as_bytes());
        self
    }

    /// Append `data` (8-aligned) at the end of the file; returns its offset.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        while self.b.len() % 8 != 0 {
            self.b.push(0);
        }
        let at = self.b.len() as u64;
        self.b.extend_from_slice(data);
        at
    }

    /// Move the section header table right after the ELF header (shifting all section
    /// data up), so that truncating the file cuts section data, not headers.
    pub fn headers_first(&self) -> Ed {
        let shoff = self.shoff();
        let n = self.shnum();
        let table = self.b[shoff..shoff + n * 64].to_vec();
        let shift = n * 64;
        let mut out = self.b[..64].to_vec();
        out.extend_from_slice(&table);
        // Everything between the ELF header and the old table, then whatever follows it.
        out.extend_from_slice(&self.b[64..shoff]);
        out.extend_from_slice(&self.b[shoff + n * 64..]);
        let mut e = Ed { b: out };
        e.set(eh::SHOFF, 8, 64);
        for i in 1..n {
            let off = e.sh(i, Sh::Offset);
            let moved = if off as usize >= shoff + n * 64 {
                off
            } else {
                off + shift as u64
            };
            if off != 0 || e.sh(i, Sh::Size) != 0 {
                e.set_sh(i, Sh::Offset, moved);
            }
        }
        e
    }
}

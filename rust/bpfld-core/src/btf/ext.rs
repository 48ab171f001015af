// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `.BTF.ext`: per-instruction BTF information for the programs of an object.
//!
//! Layout (libbpf's `btf_ext__new`, 6.12): a header (magic, version 1, flags 0, `hdr_len`,
//! then offset/length pairs for func_info, line_info and, when `hdr_len >= 32`,
//! core_relo), offsets counted from the end of the header. Each non-empty info subsection
//! is a `u32` record size followed by blocks, one per ELF code section:
//! `{ sec_name_off: u32, num_info: u32, records[num_info] }`. `sec_name_off` is an offset
//! in the `.BTF` string section.
//!
//! Record sizes may exceed the sizes known here (forward compatibility); only the known
//! prefix of each record is read. Validation is libbpf's plus: every `insn_off` is a
//! multiple of 8, and the number of blocks is bounded by [`MAX_SECTIONS`].
//!
//! **Unit of `insn_off`:** as in the file, a *byte* offset from the start of the ELF
//! section the block names. The relocation phase turns it into an instruction index
//! ([`ExtRecord::insn_idx`]) when it rebases records onto programs, as libbpf does.

use core::marker::PhantomData;

use super::{BtfKind, Types, BTF_MAGIC, BTF_VERSION};
use crate::bytes;
use crate::error::{Ctx, Error, Kind, Result, What};
use crate::insn::INSN_SIZE;
use crate::limits::MAX_SECTIONS;

/// Header length up to and including `line_info_len`: the minimum.
pub const BTF_EXT_HEADER_MIN: usize = 24;
/// Header length including `core_relo_off`/`core_relo_len`.
pub const BTF_EXT_HEADER_CORE: usize = 32;

/// `struct btf_ext_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtHeader {
    /// [`BTF_MAGIC`].
    pub magic: u16,
    /// 1.
    pub version: u8,
    /// 0.
    pub flags: u8,
    /// Header length (at least 24).
    pub hdr_len: u32,
    /// func_info subsection offset, from the end of the header.
    pub func_info_off: u32,
    /// func_info subsection length.
    pub func_info_len: u32,
    /// line_info subsection offset.
    pub line_info_off: u32,
    /// line_info subsection length.
    pub line_info_len: u32,
    /// core_relo subsection offset (0 when the header is too short to have it).
    pub core_relo_off: u32,
    /// core_relo subsection length (0 when the header is too short to have it).
    pub core_relo_len: u32,
}

/// A record type of an info subsection.
pub trait ExtRecord: Copy {
    /// Size of the record as known here (the minimum record size accepted).
    const MIN_SIZE: usize;
    /// The largest record the kernel takes of this kind, if it reads them.
    const KERNEL_MAX: Option<u32>;
    /// Subsection name for messages.
    const WHAT: &'static str;
    /// Decode the known prefix of a record (`None` if `rec` is too short).
    fn read(rec: &[u8]) -> Option<Self>;
    /// Byte offset of the instruction in its ELF section.
    fn insn_off(&self) -> u32;
    /// Index of the instruction in its ELF section.
    fn insn_idx(&self) -> u32 {
        // INSN_SIZE, spelled as a literal so the division visibly cannot fail.
        self.insn_off() / 8
    }
}

/// `struct bpf_func_info`: where a function starts and its BTF FUNC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the function's first instruction in its section.
    pub insn_off: u32,
    /// Its FUNC type in `.BTF`.
    pub type_id: u32,
}

impl ExtRecord for FuncInfo {
    const MIN_SIZE: usize = 8;
    const KERNEL_MAX: Option<u32> = Some(252);
    const WHAT: &'static str = "func_info";
    #[inline]
    fn read(rec: &[u8]) -> Option<Self> {
        Some(FuncInfo {
            insn_off: bytes::u32_at(rec, 0)?,
            type_id: bytes::u32_at(rec, 4)?,
        })
    }
    fn insn_off(&self) -> u32 {
        self.insn_off
    }
}

/// `struct bpf_line_info`: source position of an instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// File name, a `.BTF` string offset.
    pub file_name_off: u32,
    /// Source line text, a `.BTF` string offset.
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

impl LineInfo {
    /// Line number (`BPF_LINE_INFO_LINE_NUM`).
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// Column (`BPF_LINE_INFO_LINE_COL`).
    pub fn col(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

impl ExtRecord for LineInfo {
    const MIN_SIZE: usize = 16;
    const KERNEL_MAX: Option<u32> = Some(252);
    const WHAT: &'static str = "line_info";
    #[inline]
    fn read(rec: &[u8]) -> Option<Self> {
        Some(LineInfo {
            insn_off: bytes::u32_at(rec, 0)?,
            file_name_off: bytes::u32_at(rec, 4)?,
            line_off: bytes::u32_at(rec, 8)?,
            line_col: bytes::u32_at(rec, 12)?,
        })
    }
    fn insn_off(&self) -> u32 {
        self.insn_off
    }
}

/// `struct bpf_core_relo`: one CO-RE relocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction to patch in its section.
    pub insn_off: u32,
    /// Local (object BTF) root type.
    pub type_id: u32,
    /// Access string (`"0:1:2"`), a `.BTF` string offset.
    pub access_str_off: u32,
    /// `enum bpf_core_relo_kind`, not interpreted here.
    pub kind: u32,
}

impl ExtRecord for CoreRelo {
    const MIN_SIZE: usize = 16;
    // libbpf applies them itself, whatever their size.
    const KERNEL_MAX: Option<u32> = None;
    const WHAT: &'static str = "core_relo";
    #[inline]
    fn read(rec: &[u8]) -> Option<Self> {
        Some(CoreRelo {
            insn_off: bytes::u32_at(rec, 0)?,
            type_id: bytes::u32_at(rec, 4)?,
            access_str_off: bytes::u32_at(rec, 8)?,
            kind: bytes::u32_at(rec, 12)?,
        })
    }
    fn insn_off(&self) -> u32 {
        self.insn_off
    }
}

/// One validated info subsection: its blocks, one per ELF section.
#[derive(Clone, Copy, Debug)]
pub struct InfoSection<'a, R> {
    /// The blocks (after the record size word).
    data: &'a [u8],
    rec_size: usize,
    blocks: u32,
    records: u32,
    _r: PhantomData<R>,
}

impl<'a, R: ExtRecord> InfoSection<'a, R> {
    fn empty() -> Self {
        InfoSection {
            data: &[],
            rec_size: R::MIN_SIZE,
            blocks: 0,
            records: 0,
            _r: PhantomData,
        }
    }

    /// Parse the subsection at `sub` (record size word included).
    fn parse(sub: &'a [u8]) -> Result<'static, Self> {
        let what = Ctx::Step(R::WHAT);
        let Some(rec_size) = bytes::u32_at(sub, 0) else {
            return Err(Error::malformed(".BTF.ext subsection has no record size").ctx(what));
        };
        if (rec_size as usize) < R::MIN_SIZE || rec_size % 4 != 0 {
            return Err(
                Error::malformed(".BTF.ext record size too small or not a multiple of 4")
                    .ctx(Ctx::Value(What::Size, u64::from(rec_size)))
                    .ctx(what),
            );
        }
        // The kernel takes func_info and line_info records of at most 252 bytes
        // (MAX_FUNCINFO_REC_SIZE, MAX_LINEINFO_REC_SIZE), and libbpf passes the file's
        // size on: a larger one fails libbpf's load, though bpfld sends its own.
        if R::KERNEL_MAX.is_some_and(|max| rec_size > max) {
            return Err(
                Error::malformed(".BTF.ext record size over the kernel's 252 bytes")
                    .ctx(Ctx::Value(What::Size, u64::from(rec_size)))
                    .ctx(what),
            );
        }
        let rec_size = rec_size as usize;
        let data = sub.get(4..).unwrap_or(&[]);
        if data.is_empty() {
            return Err(Error::malformed(".BTF.ext subsection has no records").ctx(what));
        }
        let mut rest = data;
        let (mut blocks, mut records) = (0u32, 0u32);
        while !rest.is_empty() {
            let block = Ctx::Value(What::Index, u64::from(blocks));
            blocks = blocks.saturating_add(1);
            if blocks as usize > MAX_SECTIONS {
                return Err(Error::limit(".BTF.ext blocks", blocks, MAX_SECTIONS).ctx(what));
            }
            let (Some(num), Some(body)) = (bytes::u32_at(rest, 4), rest.get(8..)) else {
                return Err(Error::malformed(".BTF.ext block header truncated")
                    .ctx(block)
                    .ctx(what));
            };
            if num == 0 {
                return Err(Error::malformed(".BTF.ext block has no records")
                    .ctx(block)
                    .ctx(what));
            }
            let len = (num as usize)
                .checked_mul(rec_size)
                .filter(|&l| l <= body.len())
                .ok_or_else(|| {
                    Error::malformed(".BTF.ext block runs past its subsection")
                        .ctx(block)
                        .ctx(what)
                })?;
            let (recs, tail) = (
                body.get(..len).unwrap_or(&[]),
                body.get(len..).unwrap_or(&[]),
            );
            for (i, rec) in recs.chunks_exact(rec_size).enumerate() {
                let off = bytes::u32_at(rec, 0).unwrap_or(0);
                if off as usize % INSN_SIZE != 0 {
                    return Err(Error::malformed(".BTF.ext insn_off is not a multiple of 8")
                        .ctx(Ctx::Value(What::Offset, u64::from(off)))
                        .ctx(Ctx::Value(What::Index, i as u64))
                        .ctx(block)
                        .ctx(what));
                }
            }
            records = records.saturating_add(num);
            rest = tail;
        }
        Ok(InfoSection {
            data,
            rec_size,
            blocks,
            records,
            _r: PhantomData,
        })
    }

    /// Size of each record in the file (at least `R::MIN_SIZE`).
    pub fn rec_size(&self) -> usize {
        self.rec_size
    }

    /// Number of blocks (ELF sections described).
    pub fn num_blocks(&self) -> u32 {
        self.blocks
    }

    /// Number of records over all blocks.
    pub fn num_records(&self) -> u32 {
        self.records
    }

    /// Whether the subsection is absent or empty.
    pub fn is_empty(&self) -> bool {
        self.blocks == 0
    }

    /// The blocks, in file order.
    pub fn blocks(&self) -> InfoBlocks<'a, R> {
        InfoBlocks {
            rest: self.data,
            rec_size: self.rec_size,
            _r: PhantomData,
        }
    }

    /// The first block for the ELF section named by `.BTF` string offset `sec_name_off`.
    pub fn block_for(&self, sec_name_off: u32) -> Option<InfoBlock<'a, R>> {
        self.blocks().find(|b| b.sec_name_off == sec_name_off)
    }
}

/// The records of one ELF section in an info subsection.
#[derive(Clone, Copy, Debug)]
pub struct InfoBlock<'a, R> {
    /// ELF section name, a `.BTF` string offset.
    pub sec_name_off: u32,
    recs: &'a [u8],
    rec_size: usize,
    _r: PhantomData<R>,
}

impl<'a, R: ExtRecord> InfoBlock<'a, R> {
    /// Number of records (`num_info`).
    pub fn len(&self) -> usize {
        self.recs.len().checked_div(self.rec_size).unwrap_or(0)
    }

    /// Always false: validation refuses empty blocks.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Record `i`.
    pub fn get(&self, i: usize) -> Option<R> {
        let off = i.checked_mul(self.rec_size)?;
        R::read(self.recs.get(off..off.checked_add(self.rec_size)?)?)
    }

    /// The records, in file order.
    pub fn records(&self) -> Records<'a, R> {
        Records {
            chunks: self.recs.chunks_exact(self.rec_size.max(1)),
            _r: PhantomData,
        }
    }
}

/// Iterator over the blocks of an info subsection.
#[derive(Clone, Debug)]
pub struct InfoBlocks<'a, R> {
    rest: &'a [u8],
    rec_size: usize,
    _r: PhantomData<R>,
}

impl<'a, R: ExtRecord> Iterator for InfoBlocks<'a, R> {
    type Item = InfoBlock<'a, R>;

    fn next(&mut self) -> Option<InfoBlock<'a, R>> {
        // INVARIANT (InfoSection::parse): the blocks tile the data exactly.
        let sec_name_off = bytes::u32_at(self.rest, 0)?;
        let num = bytes::u32_at(self.rest, 4)? as usize;
        let len = num.checked_mul(self.rec_size)?;
        let body = self.rest.get(8..)?;
        let recs = body.get(..len)?;
        self.rest = body.get(len..).unwrap_or(&[]);
        Some(InfoBlock {
            sec_name_off,
            recs,
            rec_size: self.rec_size,
            _r: PhantomData,
        })
    }
}

/// Iterator over the records of a block.
#[derive(Clone, Debug)]
pub struct Records<'a, R> {
    chunks: core::slice::ChunksExact<'a, u8>,
    _r: PhantomData<R>,
}

impl<R: ExtRecord> Iterator for Records<'_, R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        R::read(self.chunks.next()?)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl<R: ExtRecord> ExactSizeIterator for Records<'_, R> {}

/// A validated `.BTF.ext` section.
#[derive(Clone, Copy, Debug)]
pub struct BtfExt<'a> {
    hdr: ExtHeader,
    func_info: InfoSection<'a, FuncInfo>,
    line_info: InfoSection<'a, LineInfo>,
    core_relo: InfoSection<'a, CoreRelo>,
}

/// The subsection at `off`/`len` after the header, if non-empty.
fn subsection<'a, R: ExtRecord>(
    ext: &'a [u8],
    hdr_len: u32,
    off: u32,
    len: u32,
) -> Result<'static, InfoSection<'a, R>> {
    if len == 0 {
        return Ok(InfoSection::empty());
    }
    let what = Ctx::Step(R::WHAT);
    if off % 4 != 0 {
        return Err(Error::malformed(".BTF.ext subsection not 4-byte aligned").ctx(what));
    }
    let start = u64::from(hdr_len).saturating_add(u64::from(off));
    let sub = bytes::slice(ext, start, u64::from(len))
        .ok_or_else(|| Error::malformed(".BTF.ext subsection runs past the section").ctx(what))?;
    InfoSection::parse(sub)
}

impl<'a> BtfExt<'a> {
    /// Validate a `.BTF.ext` section.
    pub fn parse(ext: &'a [u8]) -> Result<'static, BtfExt<'a>> {
        let (Some(magic), Some(version), Some(flags), Some(hdr_len)) = (
            bytes::u16_at(ext, 0),
            bytes::u8_at(ext, 2),
            bytes::u8_at(ext, 3),
            bytes::u32_at(ext, 4),
        ) else {
            return Err(Error::malformed(".BTF.ext header truncated"));
        };
        if hdr_len as usize > ext.len() {
            return Err(Error::malformed(".BTF.ext header longer than the section"));
        }
        if magic == BTF_MAGIC.swap_bytes() {
            return Err(Error::new(Kind::Unsupported("big-endian .BTF.ext")));
        }
        if magic != BTF_MAGIC {
            return Err(Error::malformed("bad .BTF.ext magic"));
        }
        if version != BTF_VERSION {
            return Err(Error::new(Kind::Unsupported(
                ".BTF.ext version other than 1",
            )));
        }
        if flags != 0 {
            return Err(Error::new(Kind::Unsupported(".BTF.ext header flags")));
        }
        if hdr_len as usize == ext.len() {
            return Err(Error::malformed(".BTF.ext has no data"));
        }
        if (hdr_len as usize) < BTF_EXT_HEADER_MIN {
            return Err(Error::malformed(".BTF.ext header shorter than 24 bytes"));
        }
        let word = |off: usize| bytes::u32_at(ext, off).unwrap_or(0);
        let has_core = hdr_len as usize >= BTF_EXT_HEADER_CORE;
        let hdr = ExtHeader {
            magic,
            version,
            flags,
            hdr_len,
            func_info_off: word(8),
            func_info_len: word(12),
            line_info_off: word(16),
            line_info_len: word(20),
            core_relo_off: if has_core { word(24) } else { 0 },
            core_relo_len: if has_core { word(28) } else { 0 },
        };
        Ok(BtfExt {
            hdr,
            func_info: subsection(ext, hdr_len, hdr.func_info_off, hdr.func_info_len)?,
            line_info: subsection(ext, hdr_len, hdr.line_info_off, hdr.line_info_len)?,
            core_relo: subsection(ext, hdr_len, hdr.core_relo_off, hdr.core_relo_len)?,
        })
    }

    /// The header.
    pub fn header(&self) -> &ExtHeader {
        &self.hdr
    }

    /// func_info records.
    pub fn func_info(&self) -> &InfoSection<'a, FuncInfo> {
        &self.func_info
    }

    /// line_info records.
    pub fn line_info(&self) -> &InfoSection<'a, LineInfo> {
        &self.line_info
    }

    /// CO-RE relocations (empty when the header predates them).
    pub fn core_relos(&self) -> &InfoSection<'a, CoreRelo> {
        &self.core_relo
    }

    /// Check the references into `.BTF`: section, file and line names and access strings
    /// are valid strings; func_info types are FUNCs (as the kernel requires); CO-RE root
    /// types exist.
    pub fn check_refs(&self, btf: &impl Types) -> Result<'static, ()> {
        let str_ok = |off: u32, what: &'static str, m: &'static str| {
            btf.name_at(off)
                .map(|_| ())
                .map_err(|_| Error::malformed(m).ctx(Ctx::Step(what)))
        };
        for b in self.func_info.blocks() {
            str_ok(
                b.sec_name_off,
                FuncInfo::WHAT,
                "section name offset is not a .BTF string",
            )?;
            for (i, r) in b.records().enumerate() {
                let is_func = btf.type_by_id(r.type_id).map(|t| t.kind() == BtfKind::Func);
                if !matches!(is_func, Ok(true)) {
                    return Err(Error::malformed("func_info type is not a FUNC")
                        .ctx(Ctx::BtfType(r.type_id))
                        .ctx(Ctx::Value(What::Index, i as u64))
                        .ctx(Ctx::Step(FuncInfo::WHAT)));
                }
            }
        }
        for b in self.line_info.blocks() {
            str_ok(
                b.sec_name_off,
                LineInfo::WHAT,
                "section name offset is not a .BTF string",
            )?;
            for r in b.records() {
                str_ok(
                    r.file_name_off,
                    LineInfo::WHAT,
                    "file name offset is not a .BTF string",
                )?;
                str_ok(
                    r.line_off,
                    LineInfo::WHAT,
                    "line offset is not a .BTF string",
                )?;
            }
        }
        for b in self.core_relo.blocks() {
            str_ok(
                b.sec_name_off,
                CoreRelo::WHAT,
                "section name offset is not a .BTF string",
            )?;
            for (i, r) in b.records().enumerate() {
                str_ok(
                    r.access_str_off,
                    CoreRelo::WHAT,
                    "access string offset is not a .BTF string",
                )?;
                if r.type_id >= btf.type_count() {
                    return Err(
                        Error::malformed("CO-RE relocation type id beyond the last type")
                            .ctx(Ctx::BtfType(r.type_id))
                            .ctx(Ctx::Value(What::Index, i as u64))
                            .ctx(Ctx::Step(CoreRelo::WHAT)),
                    );
                }
            }
        }
        Ok(())
    }
}

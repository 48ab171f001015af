// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Every bound of `src/limits.rs`, exercised at the limit and one past it.
//!
//! For each constant: an input exactly at the limit must load (or fail for another,
//! named reason), and the same input one step past it must fail with that limit's own
//! error (`Kind::Limit { what, value, max }`, or the specific error the core uses for
//! it) naming the part of the object at fault. Each run also reports what it cost: the
//! bytes the core asked the allocator for (cumulative, so an upper bound of its peak),
//! the largest single request, and the wall time (printed, never asserted; run with
//! `--nocapture` to see the `LIMIT` lines). Memory is asserted against a bound stated
//! per test, relative to the input size.
//!
//! Inputs are generated, never committed: a small ELF writer ([`ElfB`]) for objects
//! whose shape must be exact (instruction, relocation, symbol and section counts), C
//! source compiled by clang where BTF matters (maps, externs, CO-RE, `.values`), byte
//! edits of those objects (BTF padding), and a BTF writer ([`BtfB`]) for kernel BTF.
//! Tests that need clang skip without it (and fail under `CI=true`).
//!
//! The `*_cost_is_linear` tests guard against work that grows faster than the input
//! (each found as a hang class and fixed): they compare a run with its double and
//! fail above a generous ratio, so they are about shape, not speed.

mod support;

use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{kernel_index_in, IndexEntry, KernelIndex, Target};
use bpfld_core::digest::VerityHasher;
use bpfld_core::elf::Elf;
use bpfld_core::error::{errno, Error, Kind};
use bpfld_core::externs::KernelConfig;
use bpfld_core::limits;
use bpfld_core::object::Object;
use bpfld_core::plan::{KernelBtf, KernelType, Options, Plan};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::elf::{Ed, Sh};
use support::{kinfo, Failure, Stage, TestAlloc, C_HEAD, C_TAIL};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------
// Running the pipeline and accounting for it.

/// What a successful run planned.
#[derive(Debug)]
struct Summary {
    /// Planned programs: name, instructions.
    progs: Vec<(String, usize)>,
    /// Planned maps.
    maps: usize,
    /// Instructions over all planned programs.
    insns: usize,
}

/// One run of the pipeline and its cost.
struct Run {
    res: Result<Summary, Failure>,
    /// Bytes handed out by the allocator over the whole run (an upper bound of the peak:
    /// the test allocator does not see frees).
    bytes: usize,
    /// Largest single allocation.
    largest: usize,
    /// Allocations.
    allocs: usize,
    time: Duration,
}

fn failure(stage: Stage, e: Error<'_>) -> Failure {
    Failure {
        stage,
        kind: e.kind(),
        text: e.to_string(),
        errno: e.errno(),
    }
}

/// Parse and plan `bytes` against kernel BTF `kb`, counting allocations.
fn run_opts(bytes: &[u8], kb: Option<&dyn KernelBtf>, opts: &Options<'_>) -> Run {
    let mut a = TestAlloc::new();
    let t = support::thread_cpu();
    let res = (|| {
        let elf = Elf::parse(bytes, &mut a).map_err(|e| failure(Stage::Elf, e))?;
        let obj = Object::parse(elf, "obj", &mut a).map_err(|e| failure(Stage::Object, e))?;
        let plan = Plan::build_with(&obj, &kinfo(), kb, opts, &mut a)
            .map_err(|e| failure(Stage::Plan, e))?;
        let progs: Vec<(String, usize)> = plan
            .progs
            .iter()
            .map(|p| (p.name.to_string(), plan.prog_insns(p).len()))
            .collect();
        Ok(Summary {
            insns: progs.iter().map(|p| p.1).sum(),
            progs,
            maps: plan.maps.len(),
        })
    })();
    Run {
        res,
        bytes: a.bytes,
        largest: a.largest,
        allocs: a.count,
        time: support::thread_cpu().saturating_sub(t),
    }
}

/// [`run_opts`] with default options and the support crate's fake kernel BTF.
fn run(bytes: &[u8]) -> Run {
    run_opts(bytes, Some(&support::FakeKernelBtf), &Options::default())
}

fn human(n: usize) -> String {
    if n >= 10 * MIB {
        format!("{} MiB", n / MIB)
    } else if n >= 10 * KIB {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

/// Print the cost of `r` and assert the bytes handed out stay within
/// `factor * input + slack`.
fn account(name: &str, input: usize, r: &Run, factor: usize, slack: usize) {
    let outcome = match &r.res {
        Ok(s) => format!(
            "ok: {} progs, {} insns, {} maps",
            s.progs.len(),
            s.insns,
            s.maps
        ),
        Err(f) => format!("{f}"),
    };
    println!(
        "LIMIT {name}: input {}, allocated {} ({:.2}x input) in {} allocations, largest {}, {:.3?}: {outcome}",
        human(input),
        human(r.bytes),
        r.bytes as f64 / input.max(1) as f64,
        r.allocs,
        human(r.largest),
        r.time,
    );
    let bound = factor.saturating_mul(input).saturating_add(slack);
    assert!(
        r.bytes <= bound,
        "{name}: allocated {} bytes for a {input} byte input (bound {bound})",
        r.bytes
    );
}

/// Best of three timings (thread CPU time) of the pipeline on `bytes`, which must load.
fn time_run(bytes: &[u8], kb: Option<&dyn KernelBtf>, opts: &Options<'_>) -> Duration {
    (0..3)
        .map(|_| {
            let t = support::thread_cpu();
            let r = run_opts(bytes, kb, opts);
            if let Err(f) = &r.res {
                panic!("{f}");
            }
            support::thread_cpu().saturating_sub(t)
        })
        .min()
        .unwrap()
}

/// How much longer the big input takes than the small one.
fn slowdown(
    what: &str,
    small: &[u8],
    big: &[u8],
    kb: Option<&dyn KernelBtf>,
    opts: &Options<'_>,
) -> f64 {
    let (a, b) = (time_run(small, kb, opts), time_run(big, kb, opts));
    println!(
        "SLOWDOWN {what}: {} bytes: {a:?}, {} bytes: {b:?}",
        small.len(),
        big.len()
    );
    b.as_secs_f64() / a.as_secs_f64().max(1e-6)
}

fn ok<'r>(name: &str, r: &'r Run) -> &'r Summary {
    match &r.res {
        Ok(s) => s,
        Err(f) => panic!(
            "{name}: expected success at the limit, got {f} [{:?}]",
            f.kind
        ),
    }
}

/// Assert `r` failed at `stage` with exactly `Limit { what, value, max }`, with a message
/// that contains `text` (the context naming the part at fault).
fn limit(
    name: &str,
    r: &Run,
    stage: Stage,
    what: &'static str,
    value: usize,
    max: usize,
    text: &str,
) {
    let f = match &r.res {
        Ok(_) => panic!("{name}: expected the {what} limit, got success"),
        Err(f) => f,
    };
    let want = Kind::Limit {
        what,
        value: value as u32,
        max: max as u32,
    };
    assert!(
        f.stage == stage && f.kind == want && f.text.contains(text),
        "{name}:\n    expected {stage:?}: {want:?} containing {text:?}\n    got      {f} [{:?}]",
        f.kind
    );
    assert_eq!(f.errno, errno::E2BIG, "{name}");
}

/// Assert `r` failed at `stage` with exactly `kind` and a message containing `text`.
fn fails(name: &str, r: &Run, stage: Stage, kind: Kind, text: &str) {
    let f = match &r.res {
        Ok(_) => panic!("{name}: expected {kind:?}, got success"),
        Err(f) => f,
    };
    assert!(
        f.stage == stage && f.kind == kind && f.text.contains(text),
        "{name}:\n    expected {stage:?}: {kind:?} containing {text:?}\n    got      {f} [{:?}]",
        f.kind
    );
}

/// Whether clang is there for the generated C (reports a skip otherwise).
fn clang() -> bool {
    support::fixtures().is_some()
}

// ---------------------------------------------------------------------------------
// A minimal ELF64 writer for objects whose shape must be exact.

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const STB_GLOBAL: u8 = 1;
const STT_NOTYPE: u8 = 0;
const STT_FUNC: u8 = 2;
const R_BPF_64_32: u32 = 10;

/// One section to write.
struct SecW {
    name: String,
    ty: u32,
    flags: u64,
    data: Vec<u8>,
    /// Size of a NOBITS section.
    nobits: u64,
    info: u32,
    entsize: u64,
}

/// One symbol to write.
struct SymW {
    name: String,
    info: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// An ET_REL/EM_BPF object: user sections at indices 1.., then `.strtab`, `.symtab`
/// and `.shstrtab`; relocation sections are linked to `.symtab` automatically.
#[derive(Default)]
struct ElfB {
    secs: Vec<SecW>,
    syms: Vec<SymW>,
}

impl ElfB {
    fn new() -> Self {
        let mut b = ElfB::default();
        b.section(
            "license",
            SHT_PROGBITS,
            SHF_WRITE | SHF_ALLOC,
            b"GPL\0".to_vec(),
        );
        b
    }

    /// Add a section; returns its index.
    fn section(&mut self, name: &str, ty: u32, flags: u64, data: Vec<u8>) -> u16 {
        self.secs.push(SecW {
            name: name.into(),
            ty,
            flags,
            data,
            nobits: 0,
            info: 0,
            entsize: 0,
        });
        self.secs.len() as u16
    }

    /// An executable section holding `insns`.
    fn code(&mut self, name: &str, insns: Vec<u8>) -> u16 {
        self.section(name, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, insns)
    }

    /// A `.bss`-like section of `size` bytes that takes no file space.
    fn nobits(&mut self, name: &str, size: u64) -> u16 {
        let i = self.section(name, SHT_NOBITS, SHF_ALLOC | SHF_WRITE, Vec::new());
        self.secs[i as usize - 1].nobits = size;
        i
    }

    /// Relocations `(offset, symbol, type)` for section `target`.
    fn rel(&mut self, target: u16, recs: impl IntoIterator<Item = (u64, u32, u32)>) -> u16 {
        let mut data = Vec::new();
        for (off, sym, ty) in recs {
            data.extend_from_slice(&off.to_le_bytes());
            data.extend_from_slice(&((u64::from(sym) << 32) | u64::from(ty)).to_le_bytes());
        }
        let name = format!(".rel{}", self.secs[target as usize - 1].name);
        let i = self.section(&name, SHT_REL, 0, data);
        let s = &mut self.secs[i as usize - 1];
        s.info = u32::from(target);
        s.entsize = 16;
        i
    }

    /// Add a symbol; returns its index (0 is the null symbol).
    fn sym(&mut self, name: &str, info: u8, shndx: u16, value: u64, size: u64) -> u32 {
        self.syms.push(SymW {
            name: name.into(),
            info,
            shndx,
            value,
            size,
        });
        self.syms.len() as u32
    }

    /// A global function of `insns` instructions at instruction `at` of section `sec`.
    fn func(&mut self, name: &str, sec: u16, at: usize, insns: usize) -> u32 {
        let info = (STB_GLOBAL << 4) | STT_FUNC;
        self.sym(name, info, sec, at as u64 * 8, insns as u64 * 8)
    }

    fn build(&self) -> Vec<u8> {
        let n = self.secs.len();
        let (strtab_i, symtab_i, shstr_i) = (n + 1, n + 2, n + 3);
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        let mut first_global = None;
        for (k, s) in self.syms.iter().enumerate() {
            if s.info >> 4 != 0 && first_global.is_none() {
                first_global = Some(k + 1);
            }
            let name = if s.name.is_empty() {
                0
            } else {
                let o = strtab.len() as u32;
                strtab.extend_from_slice(s.name.as_bytes());
                strtab.push(0);
                o
            };
            symtab.extend_from_slice(&name.to_le_bytes());
            symtab.push(s.info);
            symtab.push(0);
            symtab.extend_from_slice(&s.shndx.to_le_bytes());
            symtab.extend_from_slice(&s.value.to_le_bytes());
            symtab.extend_from_slice(&s.size.to_le_bytes());
        }
        let mut shstr = vec![0u8];
        let mut name_of = |s: &str| {
            let o = shstr.len() as u32;
            shstr.extend_from_slice(s.as_bytes());
            shstr.push(0);
            o
        };
        // (name, type, flags, data, nobits, link, info, entsize)
        type Row<'d> = (u32, u32, u64, &'d [u8], u64, u32, u32, u64);
        let mut rows: Vec<Row> = Vec::new();
        for s in &self.secs {
            let link = if s.ty == SHT_REL { symtab_i as u32 } else { 0 };
            rows.push((
                name_of(&s.name),
                s.ty,
                s.flags,
                &s.data,
                s.nobits,
                link,
                s.info,
                s.entsize,
            ));
        }
        let info = first_global.unwrap_or(self.syms.len() + 1) as u32;
        let strtab_name = name_of(".strtab");
        let symtab_name = name_of(".symtab");
        let shstr_name = name_of(".shstrtab");
        rows.push((strtab_name, SHT_STRTAB, 0, &strtab, 0, 0, 0, 0));
        rows.push((
            symtab_name,
            SHT_SYMTAB,
            0,
            &symtab,
            0,
            strtab_i as u32,
            info,
            24,
        ));
        rows.push((shstr_name, SHT_STRTAB, 0, &shstr, 0, 0, 0, 0));

        let mut out = vec![0u8; 64];
        let mut headers = vec![0u8; 64]; // the null section
        for (name, ty, flags, data, nobits, link, info, entsize) in rows {
            while out.len() % 8 != 0 {
                out.push(0);
            }
            let off = out.len() as u64;
            out.extend_from_slice(data);
            let size = if ty == SHT_NOBITS {
                nobits
            } else {
                data.len() as u64
            };
            let mut h = Vec::with_capacity(64);
            h.extend_from_slice(&name.to_le_bytes());
            h.extend_from_slice(&ty.to_le_bytes());
            h.extend_from_slice(&flags.to_le_bytes());
            h.extend_from_slice(&0u64.to_le_bytes()); // addr
            h.extend_from_slice(&off.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&link.to_le_bytes());
            h.extend_from_slice(&info.to_le_bytes());
            h.extend_from_slice(&8u64.to_le_bytes()); // addralign
            h.extend_from_slice(&entsize.to_le_bytes());
            headers.extend_from_slice(&h);
        }
        while out.len() % 8 != 0 {
            out.push(0);
        }
        let shoff = out.len() as u64;
        out.extend_from_slice(&headers);
        let shnum = headers.len() / 64;
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // ELFCLASS64
        out[5] = 1; // ELFDATA2LSB
        out[6] = 1; // EV_CURRENT
        out[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        out[18..20].copy_from_slice(&247u16.to_le_bytes()); // EM_BPF
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[40..48].copy_from_slice(&shoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        let (shnum16, strndx16) = if shnum >= 0xff00 {
            (0u16, 0xffffu16)
        } else {
            (shnum as u16, shstr_i as u16)
        };
        out[60..62].copy_from_slice(&shnum16.to_le_bytes());
        out[62..64].copy_from_slice(&strndx16.to_le_bytes());
        if shnum >= 0xff00 {
            // ELF's escapes: the real counts in section 0's sh_size and sh_link.
            let h0 = shoff as usize;
            out[h0 + 32..h0 + 40].copy_from_slice(&(shnum as u64).to_le_bytes());
            out[h0 + 40..h0 + 44].copy_from_slice(&(shstr_i as u32).to_le_bytes());
        }
        out
    }
}

/// Instruction encodings.
mod ins {
    /// `r0 = imm`.
    pub fn mov0(imm: i32) -> [u8; 8] {
        let mut i = [0xb7, 0, 0, 0, 0, 0, 0, 0];
        i[4..].copy_from_slice(&imm.to_le_bytes());
        i
    }
    /// `exit`.
    pub const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];
    /// A BPF-to-BPF call relocated against a function symbol (imm -1, as clang emits).
    pub const CALL: [u8; 8] = [0x85, 0x10, 0, 0, 0xff, 0xff, 0xff, 0xff];
}

/// `n` instructions: `r0 = k` repeated, then `exit`.
fn body(n: usize) -> Vec<u8> {
    assert!(n >= 1);
    let mut v = Vec::with_capacity(n * 8);
    for k in 0..n - 1 {
        v.extend_from_slice(&ins::mov0(k as i32));
    }
    v.extend_from_slice(&ins::EXIT);
    v
}

/// A syscall entry program `name` of `n` instructions in its own section.
fn simple_prog(b: &mut ElfB, name: &str, n: usize) -> u16 {
    let s = b.code("syscall", body(n));
    b.func(name, s, 0, n);
    s
}

// ---------------------------------------------------------------------------------
// MAX_FILE_SIZE: the one read of the file.

/// An object of exactly `len` bytes: one program and a `.rodata.big` section (a global
/// data map) filling the rest.
fn file_of_size(len: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    simple_prog(&mut b, "e", 2);
    let big = b.section(".rodata.big", SHT_PROGBITS, SHF_ALLOC, Vec::new());
    let base = b.build().len();
    b.secs[big as usize - 1].data = vec![0x5a; (len - base) & !7];
    let mut out = b.build();
    assert!(out.len() <= len);
    // Whatever alignment left over goes after the section headers, in no section.
    out.resize(len, 0);
    out
}

#[test]
fn file_size_at_limit() {
    let bytes = file_of_size(limits::MAX_FILE_SIZE);
    let r = run(&bytes);
    // The data map borrows the file's bytes: nothing is sized by the 64 MiB.
    account("MAX_FILE_SIZE at", bytes.len(), &r, 0, 64 * KIB);
    let s = ok("MAX_FILE_SIZE at", &r);
    assert_eq!((s.progs.len(), s.maps), (1, 1));
}

#[test]
fn file_size_past_limit() {
    let bytes = file_of_size(limits::MAX_FILE_SIZE + 1);
    let r = run(&bytes);
    account("MAX_FILE_SIZE past", bytes.len(), &r, 0, 0);
    limit(
        "MAX_FILE_SIZE past",
        &r,
        Stage::Elf,
        "file bytes",
        limits::MAX_FILE_SIZE + 1,
        limits::MAX_FILE_SIZE,
        "too many file bytes",
    );
}

// ---------------------------------------------------------------------------------
// MAX_SECTIONS: section headers per file (and `.BTF.ext` blocks per subsection).

/// An object with exactly `n` section headers (the null section included): one program
/// and `8`-byte non-allocated sections `.pad.<k>` filling the rest.
fn sections_object(n: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    simple_prog(&mut b, "e", 2);
    let fixed = 1 + b.secs.len() + 3; // null, license and code, strtab/symtab/shstrtab
    for k in 0..n - fixed {
        b.section(&format!(".pad.{k}"), SHT_PROGBITS, 0, vec![k as u8; 8]);
    }
    let out = b.build();
    assert_eq!(Ed::new(&out).shnum(), n);
    out
}

#[test]
fn sections_at_limit() {
    let bytes = sections_object(limits::MAX_SECTIONS);
    let r = run(&bytes);
    // Per section (82 bytes of this file): the decoded table (104 bytes), the overlap
    // check's (start, end, index) and the name index.
    account("MAX_SECTIONS at", bytes.len(), &r, 2, 64 * KIB);
    ok("MAX_SECTIONS at", &r);
}

#[test]
fn sections_past_limit() {
    let bytes = sections_object(limits::MAX_SECTIONS + 1);
    let r = run(&bytes);
    account("MAX_SECTIONS past", bytes.len(), &r, 0, 0);
    limit(
        "MAX_SECTIONS past",
        &r,
        Stage::Elf,
        "sections",
        limits::MAX_SECTIONS + 1,
        limits::MAX_SECTIONS,
        "too many sections",
    );
}

// ---------------------------------------------------------------------------------
// MAX_SYMBOLS: `.symtab` entries (a huge string table comes with them).

/// An object whose `.symtab` has exactly `n` entries (the null symbol included): one
/// program and local labels `LBB<k>` into its code, as clang emits for branches.
fn symbols_object(n: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    let s = b.code("syscall", body(2));
    for k in 0..n - 2 {
        b.sym(&format!("LBB{k}"), STT_NOTYPE, s, 8 * (k as u64 % 2), 0);
    }
    b.func("e", s, 0, 2);
    b.build()
}

#[test]
fn symbols_at_limit() {
    let bytes = symbols_object(limits::MAX_SYMBOLS);
    let r = run(&bytes);
    // Sized per symbol: the names decoded once (16 bytes and a tag a symbol, as large
    // as `.symtab` itself) and the sorted global variables (none here).
    account("MAX_SYMBOLS at", bytes.len(), &r, 1, 64 * KIB);
    ok("MAX_SYMBOLS at", &r);
}

#[test]
fn symbols_past_limit() {
    let bytes = symbols_object(limits::MAX_SYMBOLS + 1);
    let r = run(&bytes);
    account("MAX_SYMBOLS past", bytes.len(), &r, 1, 0);
    limit(
        "MAX_SYMBOLS past",
        &r,
        Stage::Elf,
        "symbols",
        limits::MAX_SYMBOLS + 1,
        limits::MAX_SYMBOLS,
        "section '.symtab': too many symbols",
    );
}

// ---------------------------------------------------------------------------------
// MAX_PROGRAMS, MAX_SUBPROGS: functions per object, and the call graphs they make.

/// How the entry programs reach the `.text` subprograms.
#[derive(Clone, Copy, PartialEq)]
enum Calls {
    /// Nobody calls them.
    None,
    /// Every entry calls `f0`, each `f<k>` calls `f<k+1>`: a chain as deep as there are
    /// subprograms.
    Chain,
    /// Every entry calls each `f<k>` once: fan-out as wide as there are subprograms.
    Fan,
}

/// `entries` syscall programs in one section and `subs` global subprograms in `.text`,
/// calling each other as `calls` says, through `R_BPF_64_32` relocations as clang
/// emits for global functions.
fn functions_object(entries: usize, subs: usize, calls: Calls) -> Vec<u8> {
    let mut b = ElfB::new();
    let text = if subs > 0 {
        let mut code = Vec::with_capacity(subs * 16);
        for k in 0..subs {
            if calls == Calls::Chain && k + 1 < subs {
                code.extend_from_slice(&ins::CALL);
            } else {
                code.extend_from_slice(&ins::mov0(k as i32));
            }
            code.extend_from_slice(&ins::EXIT);
        }
        Some(b.code(".text", code))
    } else {
        None
    };
    let per_entry = match calls {
        Calls::None => 1,
        Calls::Chain => 1,
        Calls::Fan => subs,
    };
    let mut code = Vec::with_capacity(entries * (per_entry + 1) * 8);
    for _ in 0..entries {
        for _ in 0..per_entry {
            code.extend_from_slice(&if calls == Calls::None {
                ins::mov0(0)
            } else {
                ins::CALL
            });
        }
        code.extend_from_slice(&ins::EXIT);
    }
    let s = b.code("syscall", code);
    let mut sub_syms = Vec::new();
    if let Some(text) = text {
        for k in 0..subs {
            sub_syms.push(b.func(&format!("f{k}"), text, 2 * k, 2));
        }
        if calls == Calls::Chain {
            b.rel(
                text,
                (0..subs - 1).map(|k| (16 * k as u64, sub_syms[k + 1], R_BPF_64_32)),
            );
        }
    }
    for e in 0..entries {
        b.func(&format!("e{e}"), s, e * (per_entry + 1), per_entry + 1);
    }
    if calls != Calls::None {
        let stride = (per_entry + 1) as u64 * 8;
        let recs = (0..entries as u64).flat_map(|e| {
            let syms = &sub_syms;
            (0..per_entry).map(move |k| {
                let target = if calls == Calls::Fan {
                    syms[k]
                } else {
                    syms[0]
                };
                (e * stride + 8 * k as u64, target, R_BPF_64_32)
            })
        });
        let recs: Vec<_> = recs.collect();
        b.rel(s, recs);
    }
    b.build()
}

#[test]
fn programs_at_limit() {
    let bytes = functions_object(limits::MAX_PROGRAMS, 0, Calls::None);
    let r = run(&bytes);
    // Per program: its record in the object and in the plan.
    account("MAX_PROGRAMS at", bytes.len(), &r, 12, 64 * KIB);
    assert_eq!(ok("MAX_PROGRAMS at", &r).progs.len(), limits::MAX_PROGRAMS);
}

#[test]
fn programs_past_limit() {
    let bytes = functions_object(limits::MAX_PROGRAMS + 1, 0, Calls::None);
    let r = run(&bytes);
    // The ELF's symbol names (as large as `.symtab`) are decoded before the count.
    account("MAX_PROGRAMS past", bytes.len(), &r, 5, 64 * KIB);
    limit(
        "MAX_PROGRAMS past",
        &r,
        Stage::Object,
        "programs",
        limits::MAX_PROGRAMS + 1,
        limits::MAX_PROGRAMS,
        "too many programs",
    );
}

/// The deepest call chain the limits allow: one entry, `f0 -> f1 -> ... -> f8191`. The
/// linker's walk is an explicit stack, so this costs no kernel stack.
#[test]
fn subprograms_at_limit_deep_chain() {
    let bytes = functions_object(1, limits::MAX_SUBPROGS, Calls::Chain);
    let r = run(&bytes);
    account("MAX_SUBPROGS at (chain)", bytes.len(), &r, 8, 64 * KIB);
    let s = ok("MAX_SUBPROGS at (chain)", &r);
    assert_eq!(s.progs[0].1, 2 + 2 * limits::MAX_SUBPROGS);
}

/// The widest fan-out: one entry calling each of 8192 subprograms once.
#[test]
fn subprograms_at_limit_fan_out() {
    let bytes = functions_object(1, limits::MAX_SUBPROGS, Calls::Fan);
    let r = run(&bytes);
    account("MAX_SUBPROGS at (fan-out)", bytes.len(), &r, 8, 64 * KIB);
    let s = ok("MAX_SUBPROGS at (fan-out)", &r);
    assert_eq!(s.progs[0].1, 1 + 3 * limits::MAX_SUBPROGS);
}

/// Both function limits at once: 4096 entries and 8192 subprograms.
#[test]
fn programs_and_subprograms_at_limit() {
    let bytes = functions_object(limits::MAX_PROGRAMS, limits::MAX_SUBPROGS, Calls::None);
    let r = run(&bytes);
    account(
        "MAX_PROGRAMS + MAX_SUBPROGS at",
        bytes.len(),
        &r,
        10,
        64 * KIB,
    );
    assert_eq!(ok("both at", &r).progs.len(), limits::MAX_PROGRAMS);
}

/// `MAX_SUBPROGS` counts `.text` functions on their own, whatever the number of entry
/// programs (regression: only entries + subprograms <= 12288 used to be checked).
#[test]
fn subprograms_past_limit() {
    let bytes = functions_object(1, limits::MAX_SUBPROGS + 1, Calls::None);
    let r = run(&bytes);
    account("MAX_SUBPROGS past", bytes.len(), &r, 10, 64 * KIB);
    match &r.res {
        Err(f) => assert!(
            matches!(
                f.kind,
                Kind::Limit {
                    value: 8193,
                    max: 8192,
                    ..
                }
            ) && f.stage == Stage::Object,
            "{f}"
        ),
        Ok(_) => panic!("8193 subprograms loaded"),
    }
}

/// What is enforced today past the subprogram limit: the combined function count.
#[test]
fn functions_past_combined_limit() {
    let max = limits::MAX_PROGRAMS + limits::MAX_SUBPROGS;
    let bytes = functions_object(limits::MAX_PROGRAMS, limits::MAX_SUBPROGS + 1, Calls::None);
    let r = run(&bytes);
    account(
        "MAX_PROGRAMS + MAX_SUBPROGS past",
        bytes.len(),
        &r,
        10,
        64 * KIB,
    );
    limit(
        "functions past",
        &r,
        Stage::Object,
        "functions",
        max + 1,
        max,
        "too many functions",
    );
}

// ---------------------------------------------------------------------------------
// MAX_RELOCS: relocation records over all code relocation sections.

/// Entry programs `e<k>` of `calls[k]` calls to the subprogram `f` (each relocated)
/// and an `exit`, and `f` of `f_insns` instructions in `.text`.
fn calls_object(calls: &[usize], f_insns: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    let text = b.code(".text", body(f_insns));
    let total: usize = calls.iter().map(|c| c + 1).sum();
    let mut code = Vec::with_capacity(total * 8);
    for &c in calls {
        for _ in 0..c {
            code.extend_from_slice(&ins::CALL);
        }
        code.extend_from_slice(&ins::EXIT);
    }
    let s = b.code("syscall", code);
    let f = b.func("f", text, 0, f_insns);
    let mut at = 0;
    let mut recs = Vec::new();
    for (k, &c) in calls.iter().enumerate() {
        b.func(&format!("e{k}"), s, at, c + 1);
        recs.extend((at..at + c).map(|i| (8 * i as u64, f, R_BPF_64_32)));
        at += c + 1;
    }
    b.rel(s, recs);
    b.build()
}

#[test]
fn relocations_at_limit() {
    let half = limits::MAX_RELOCS / 2;
    let bytes = calls_object(&[half, half], 2);
    let r = run(&bytes);
    // Per relocation: 16 bytes in the file; a (program, relocation) pair while grouping
    // and the grouped relocation, then the linked instruction and call site.
    account("MAX_RELOCS at", bytes.len(), &r, 6, 64 * KIB);
    let s = ok("MAX_RELOCS at", &r);
    assert_eq!(s.insns, 2 * (half + 1 + 2));
}

#[test]
fn relocations_past_limit() {
    let half = limits::MAX_RELOCS / 2;
    let bytes = calls_object(&[half, half + 1], 2);
    let r = run(&bytes);
    account("MAX_RELOCS past", bytes.len(), &r, 1, 64 * KIB);
    limit(
        "MAX_RELOCS past",
        &r,
        Stage::Object,
        "relocations",
        limits::MAX_RELOCS + 1,
        limits::MAX_RELOCS,
        "too many relocations",
    );
}

// ---------------------------------------------------------------------------------
// MAX_PROG_INSNS: one program after its subprograms are appended.

/// One entry of `entry` instructions (a call to `f`, then `r0 = k`, then `exit`) and
/// `f` of `sub` instructions: `entry + sub` after linking.
fn linked_object(entries: &[usize], sub: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    let text = b.code(".text", body(sub));
    let mut code = Vec::new();
    for &n in entries {
        let mut e = body(n);
        e[..8].copy_from_slice(&ins::CALL);
        code.extend_from_slice(&e);
    }
    let s = b.code("syscall", code);
    let f = b.func("f", text, 0, sub);
    let mut at = 0;
    let mut recs = Vec::new();
    for (k, &n) in entries.iter().enumerate() {
        b.func(&format!("e{k}"), s, at, n);
        recs.push((8 * at as u64, f, R_BPF_64_32));
        at += n;
    }
    b.rel(s, recs);
    b.build()
}

#[test]
fn prog_insns_at_limit() {
    let bytes = linked_object(&[10], limits::MAX_PROG_INSNS - 10);
    let r = run(&bytes);
    // The plan holds the linked copy: about the size of the code in the file.
    account("MAX_PROG_INSNS at", bytes.len(), &r, 3, 64 * KIB);
    assert_eq!(ok("MAX_PROG_INSNS at", &r).insns, limits::MAX_PROG_INSNS);
}

#[test]
fn prog_insns_past_limit() {
    let bytes = linked_object(&[10], limits::MAX_PROG_INSNS - 9);
    let r = run(&bytes);
    account("MAX_PROG_INSNS past", bytes.len(), &r, 1, 64 * KIB);
    limit(
        "MAX_PROG_INSNS past",
        &r,
        Stage::Plan,
        "instructions after linking",
        limits::MAX_PROG_INSNS + 1,
        limits::MAX_PROG_INSNS,
        "prog 'e0': too many instructions after linking",
    );
}

/// One entry program longer than the limit by itself, no subprogram involved.
#[test]
fn prog_insns_past_limit_unlinked() {
    let mut b = ElfB::new();
    simple_prog(&mut b, "big", limits::MAX_PROG_INSNS + 1);
    let bytes = b.build();
    let r = run(&bytes);
    account(
        "MAX_PROG_INSNS past (no calls)",
        bytes.len(),
        &r,
        1,
        64 * KIB,
    );
    limit(
        "MAX_PROG_INSNS past (no calls)",
        &r,
        Stage::Plan,
        "instructions after linking",
        limits::MAX_PROG_INSNS + 1,
        limits::MAX_PROG_INSNS,
        "prog 'big': ",
    );
}

// ---------------------------------------------------------------------------------
// MAX_TOTAL_INSNS: all programs of a plan after linking, duplicated subprograms included.

/// Five entries of 10 instructions each linking the same 799,990-instruction subprogram:
/// 4,000,000 instructions planned from an 6.4 MB file.
#[test]
fn total_insns_at_limit() {
    let per = limits::MAX_TOTAL_INSNS / 5;
    let bytes = linked_object(&[10; 5], per - 10);
    let r = run(&bytes);
    // Bounded by the limit, not by the input: 8 bytes per planned instruction.
    account(
        "MAX_TOTAL_INSNS at",
        bytes.len(),
        &r,
        1,
        8 * limits::MAX_TOTAL_INSNS + MIB,
    );
    assert_eq!(ok("MAX_TOTAL_INSNS at", &r).insns, limits::MAX_TOTAL_INSNS);
}

#[test]
fn total_insns_past_limit() {
    let per = limits::MAX_TOTAL_INSNS / 5;
    let bytes = linked_object(&[10, 10, 10, 10, 11], per - 10);
    let r = run(&bytes);
    // Refused before the instruction buffer is sized.
    account("MAX_TOTAL_INSNS past", bytes.len(), &r, 1, 64 * KIB);
    limit(
        "MAX_TOTAL_INSNS past",
        &r,
        Stage::Plan,
        "instructions over all programs",
        limits::MAX_TOTAL_INSNS + 1,
        limits::MAX_TOTAL_INSNS,
        "too many instructions over all programs",
    );
}

/// The total-instructions check runs as each entry is sized, so the work before refusing
/// is bounded by `MAX_TOTAL_INSNS` (regression: every entry used to be sized first,
/// 4096 entries sharing an 8192-deep chain cost 5.5 s release before the refusal).
#[test]
fn total_insns_past_limit_by_duplication() {
    let build = |entries| functions_object(entries, limits::MAX_SUBPROGS, Calls::Chain);
    let (small, big) = (build(limits::MAX_PROGRAMS / 4), build(limits::MAX_PROGRAMS));
    let rs = run(&small);
    let rb = run(&big);
    account(
        "MAX_TOTAL_INSNS past (1024 x 8192 chain)",
        small.len(),
        &rs,
        10,
        64 * KIB,
    );
    account(
        "MAX_TOTAL_INSNS past (4096 x 8192 chain)",
        big.len(),
        &rb,
        10,
        64 * KIB,
    );
    for (r, entries) in [(&rs, limits::MAX_PROGRAMS / 4), (&rb, limits::MAX_PROGRAMS)] {
        match &r.res {
            Err(f) => assert!(
                matches!(f.kind, Kind::Limit { what: "instructions over all programs", max, .. } if max as usize == limits::MAX_TOTAL_INSNS),
                "{entries} entries: {f}"
            ),
            Ok(_) => panic!("{entries} entries x 8192 subprograms loaded"),
        }
    }
    let ratio = rb.time.as_secs_f64() / rs.time.as_secs_f64().max(1e-6);
    assert!(
        ratio < 2.0,
        "4x the entries past the limit: {ratio:.1}x slower"
    );
}

// ---------------------------------------------------------------------------------
// MAX_MAPS: BTF-defined, global data and kconfig maps together.

/// `n` global data sections `.data.<k>` (one array map each) and one program.
fn data_maps_object(n: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    simple_prog(&mut b, "e", 2);
    for k in 0..n {
        b.section(
            &format!(".data.{k}"),
            SHT_PROGBITS,
            SHF_ALLOC | SHF_WRITE,
            (k as u32).to_le_bytes().to_vec(),
        );
    }
    b.build()
}

/// C source with `btf` BTF-defined array maps, `data` global variables each in its own
/// `.data.<k>` section, and a program using none of them.
fn maps_source(btf: usize, data: usize) -> String {
    let mut c = String::from(C_HEAD);
    for k in 0..btf {
        c += &format!(
            "struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); \
             __type(key, int); __type(value, int); }} m{k} SEC(\".maps\");\n"
        );
    }
    for k in 0..data {
        c += &format!("int d{k} SEC(\".data.{k}\") = {k};\n");
    }
    c + "SEC(\"syscall\") int e(void *ctx) { return 0; }\n" + C_TAIL
}

#[test]
fn maps_at_limit_global_data() {
    let bytes = data_maps_object(limits::MAX_MAPS);
    let r = run(&bytes);
    // Per map: its record in the object (twice while counting) and in the plan.
    account("MAX_MAPS at (data)", bytes.len(), &r, 20, 64 * KIB);
    assert_eq!(ok("MAX_MAPS at (data)", &r).maps, limits::MAX_MAPS);
}

#[test]
fn maps_past_limit_global_data() {
    let bytes = data_maps_object(limits::MAX_MAPS + 1);
    let r = run(&bytes);
    account("MAX_MAPS past (data)", bytes.len(), &r, 20, 64 * KIB);
    limit(
        "MAX_MAPS past (data)",
        &r,
        Stage::Object,
        "maps",
        limits::MAX_MAPS + 1,
        limits::MAX_MAPS,
        "too many maps",
    );
}

/// 4095 BTF-defined maps and one global data map.
#[test]
fn maps_at_limit_mixed() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("maps_mixed", &maps_source(limits::MAX_MAPS - 1, 1));
    let r = run(&bytes);
    account(
        "MAX_MAPS at (4095 BTF + 1 data)",
        bytes.len(),
        &r,
        4,
        64 * KIB,
    );
    assert_eq!(ok("MAX_MAPS at (mixed)", &r).maps, limits::MAX_MAPS);
}

/// Exactly `MAX_MAPS` BTF-defined maps load (regression: an internal scratch bound of
/// 2 maps per BTF map used to refuse them as "too many maps: 8193 > 4096").
#[test]
fn maps_at_limit_btf() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("maps_btf", &maps_source(limits::MAX_MAPS, 0));
    let r = run(&bytes);
    account("MAX_MAPS at (BTF)", bytes.len(), &r, 4, 64 * KIB);
    assert_eq!(ok("MAX_MAPS at (BTF)", &r).maps, limits::MAX_MAPS);
}

/// Past the limit the error reports the number of maps, not a scratch bound.
#[test]
fn maps_past_limit_btf() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("maps_btf1", &maps_source(limits::MAX_MAPS + 1, 0));
    let r = run(&bytes);
    account("MAX_MAPS past (BTF)", bytes.len(), &r, 4, 64 * KIB);
    limit(
        "MAX_MAPS past (BTF)",
        &r,
        Stage::Object,
        "maps",
        limits::MAX_MAPS + 1,
        limits::MAX_MAPS,
        "too many maps",
    );
}

/// What is enforced today past the limit with BTF-defined maps: some "maps" limit.
#[test]
fn maps_past_limit_btf_is_refused() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("maps_btf2", &maps_source(limits::MAX_MAPS + 1, 0));
    let r = run(&bytes);
    match &r.res {
        Err(f) => assert!(
            matches!(
                f.kind,
                Kind::Limit {
                    what: "maps",
                    max: 4096,
                    ..
                }
            ),
            "{f}"
        ),
        Ok(_) => panic!("4097 maps loaded"),
    }
}

/// `data` global data sections and a `.BTF` of `types` anonymous types, none a DATASEC
/// (as for `.rodata.str1.1`): each section's lookup walks all of them.
fn data_maps_with_btf(data: usize, types: usize) -> Vec<u8> {
    let mut b = ElfB::new();
    simple_prog(&mut b, "e", 2);
    for k in 0..data {
        b.section(
            &format!(".data.{k}"),
            SHT_PROGBITS,
            SHF_ALLOC | SHF_WRITE,
            vec![0; 4],
        );
    }
    let mut t = BtfB::new();
    t.int("int");
    for _ in 1..types {
        t.raw(0, BTF_PTR << 24, 1, &[]);
    }
    b.section(".BTF", SHT_PROGBITS, 0, t.blob(0));
    b.build()
}

/// Naming each global data map's value type uses one sorted name index over the BTF
/// (regression: a walk of all types per section, sections x types, minutes of kernel
/// CPU at the limits). 2x the sections over 2x the types must cost about 2x.
#[test]
fn data_maps_cost_is_linear() {
    if !clang() {
        return;
    }
    let small = data_maps_with_btf(64, 25_000);
    let big = data_maps_with_btf(128, 50_000);
    let r = slowdown(
        "global data maps x BTF types",
        &small,
        &big,
        Some(&support::FakeKernelBtf),
        &Options::default(),
    );
    assert!(
        r < 3.0,
        "2x the data sections and BTF types: {r:.1}x slower"
    );
}

// ---------------------------------------------------------------------------------
// MAX_DATA_SECTION_SIZE: one global data section (a map value), `.kconfig` included.

/// One program and a `.bss` of `size` bytes (no file space).
fn bss_object(size: u64) -> Vec<u8> {
    let mut b = ElfB::new();
    simple_prog(&mut b, "e", 2);
    b.nobits(".bss", size);
    b.build()
}

#[test]
fn data_section_at_limit() {
    let bytes = bss_object(limits::MAX_DATA_SECTION_SIZE);
    let r = run(&bytes);
    // `.bss` has no initial bytes: nothing is sized by its 512 MiB.
    account(
        "MAX_DATA_SECTION_SIZE at (.bss)",
        bytes.len(),
        &r,
        0,
        64 * KIB,
    );
    assert_eq!(ok("MAX_DATA_SECTION_SIZE at", &r).maps, 1);
}

#[test]
fn data_section_past_limit() {
    let bytes = bss_object(limits::MAX_DATA_SECTION_SIZE + 1);
    let r = run(&bytes);
    account(
        "MAX_DATA_SECTION_SIZE past (.bss)",
        bytes.len(),
        &r,
        0,
        64 * KIB,
    );
    limit(
        "MAX_DATA_SECTION_SIZE past",
        &r,
        Stage::Object,
        "global data bytes",
        limits::MAX_DATA_SECTION_SIZE as usize + 1,
        limits::MAX_DATA_SECTION_SIZE as usize,
        "section '.bss': too many global data bytes",
    );
}

/// A kernel configuration that sets nothing (weak `__kconfig` externs stay zero).
struct NoConfig;

impl KernelConfig for NoConfig {
    fn get(&self, _name: &str) -> Option<&[u8]> {
        None
    }
}

fn kconfig_opts() -> Options<'static> {
    Options {
        kconfig: Some(&NoConfig),
        ..Options::default()
    }
}

/// A weak `char CONFIG_BIG[len]` kconfig extern, read by one program.
fn kconfig_array_source(len: u64) -> String {
    format!(
        "{C_HEAD}extern char CONFIG_BIG[{len}] __kconfig __weak;\n\
         SEC(\"syscall\") int e(void *ctx) {{ return CONFIG_BIG[0]; }}\n{C_TAIL}"
    )
}

/// `MAX_KCONFIG_SIZE`: the `.kconfig` map gets a bound of its own (64 KiB) rather than
/// `MAX_DATA_SECTION_SIZE`: it has no file bytes behind it, so without one a 4 KiB
/// object declaring `extern char CONFIG_BIG[536870912] __kconfig` would make the core
/// allocate a 512 MiB value. At the bound it loads within memory proportional to it.
#[test]
fn kconfig_at_limit() {
    if !clang() {
        return;
    }
    let src = kconfig_array_source(limits::MAX_KCONFIG_SIZE as u64);
    let bytes = support::compile_generated("kconfig_big", &src);
    let r = run_opts(&bytes, Some(&support::FakeKernelBtf), &kconfig_opts());
    account("MAX_KCONFIG_SIZE at", bytes.len(), &r, 16, MIB);
    assert!(
        r.res.is_ok(),
        "MAX_KCONFIG_SIZE at: {:?}",
        r.res.as_ref().err()
    );
}

#[test]
fn kconfig_past_limit() {
    if !clang() {
        return;
    }
    let src = kconfig_array_source(limits::MAX_KCONFIG_SIZE as u64 + 1);
    let bytes = support::compile_generated("kconfig_big1", &src);
    let r = run_opts(&bytes, Some(&support::FakeKernelBtf), &kconfig_opts());
    account("MAX_KCONFIG_SIZE past", bytes.len(), &r, 16, 64 * KIB);
    limit(
        "MAX_KCONFIG_SIZE past",
        &r,
        Stage::Object,
        ".kconfig bytes",
        limits::MAX_KCONFIG_SIZE + 1,
        limits::MAX_KCONFIG_SIZE,
        "extern 'CONFIG_BIG': too many .kconfig bytes",
    );
}

/// Far past the bound (an array of `MAX_DATA_SECTION_SIZE + 1` bytes) is refused the
/// same way, with no allocation of its size.
#[test]
fn kconfig_past_data_section_limit() {
    if !clang() {
        return;
    }
    let src = kconfig_array_source(limits::MAX_DATA_SECTION_SIZE + 1);
    let bytes = support::compile_generated("kconfig_huge", &src);
    let r = run_opts(&bytes, Some(&support::FakeKernelBtf), &kconfig_opts());
    account("MAX_KCONFIG_SIZE far past", bytes.len(), &r, 16, 64 * KIB);
    limit(
        "MAX_KCONFIG_SIZE far past",
        &r,
        Stage::Object,
        ".kconfig bytes",
        limits::MAX_DATA_SECTION_SIZE as usize + 1,
        limits::MAX_KCONFIG_SIZE,
        "too many .kconfig bytes",
    );
}

// ---------------------------------------------------------------------------------
// MAX_EXTERNS: `__kconfig`, `__ksym` and kfunc externs per object.

/// `n` weak `int` kconfig externs, read 16 at a time by global subprograms (clang emits
/// symbols only for referenced externs; one function reading them all spills their
/// addresses past the BPF stack).
fn externs_source(n: usize) -> String {
    let mut c = String::from(C_HEAD);
    for k in 0..n {
        c += &format!("extern int CONFIG_LIMIT_{k} __kconfig __weak;\n");
    }
    for g in 0..n.div_ceil(16) {
        c += &format!("__noinline int g{g}(void) {{ return 0");
        for k in 16 * g..n.min(16 * g + 16) {
            c += &format!(" + CONFIG_LIMIT_{k}");
        }
        c += "; }\n";
    }
    c + "SEC(\"syscall\") int e(void *ctx) { return g0(); }\n" + C_TAIL
}

#[test]
fn externs_at_limit() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("externs", &externs_source(limits::MAX_EXTERNS));
    let r = run_opts(&bytes, Some(&support::FakeKernelBtf), &kconfig_opts());
    account("MAX_EXTERNS at", bytes.len(), &r, 4, 64 * KIB);
    ok("MAX_EXTERNS at", &r);
}

#[test]
fn externs_past_limit() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("externs1", &externs_source(limits::MAX_EXTERNS + 1));
    let r = run_opts(&bytes, Some(&support::FakeKernelBtf), &kconfig_opts());
    account("MAX_EXTERNS past", bytes.len(), &r, 1, 64 * KIB);
    limit(
        "MAX_EXTERNS past",
        &r,
        Stage::Object,
        "externs",
        limits::MAX_EXTERNS + 1,
        limits::MAX_EXTERNS,
        "too many externs",
    );
}

/// Extern collection finds every extern's VAR/FUNC and DATASEC through a name index
/// built in one pass (regression: externs x BTF types, 1.7 s release at `MAX_EXTERNS`
/// and minutes over BTF padded to `MAX_BTF_TYPES`). 2x the externs cost about 2x.
#[test]
fn externs_cost_is_linear() {
    if !clang() {
        return;
    }
    let small = support::compile_generated("externs_s", &externs_source(1024));
    let big = support::compile_generated("externs_b", &externs_source(2048));
    let opts = kconfig_opts();
    let r = slowdown(
        "externs",
        &small,
        &big,
        Some(&support::FakeKernelBtf),
        &opts,
    );
    assert!(r < 3.0, "2x the externs: {r:.1}x slower");
}

// ---------------------------------------------------------------------------------
// MAX_MAP_VALUES: `.values` slots of one map-in-map or prog array.

/// An inner array map and one array-of-maps `outer<k>` per entry of `inits`, each with
/// `max_entries` slots and `.values = { <init> }` pointing at the inner map.
fn values_source(max_entries: usize, inits: &[&str]) -> String {
    let mut c = String::from(C_HEAD);
    c += "struct inner_t { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); \
          __type(key, int); __type(value, int); } inner SEC(\".maps\");\n";
    for (k, init) in inits.iter().enumerate() {
        c += &format!(
            "struct {{ __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); __uint(max_entries, {max_entries}); \
             __type(key, int); __array(values, struct inner_t); }} outer{k} SEC(\".maps\") = \
             {{ .values = {{ {init} }} }};\n"
        );
    }
    c + "SEC(\"syscall\") int e(void *ctx) { return 0; }\n" + C_TAIL
}

/// The last slot the limit allows, initialised.
#[test]
fn map_values_at_limit() {
    if !clang() {
        return;
    }
    let n = limits::MAX_MAP_VALUES;
    let src = values_source(n, &[&format!("[{}] = &inner", n - 1)]);
    let bytes = support::compile_generated("values", &src);
    let r = run(&bytes);
    account(
        "MAX_MAP_VALUES at (slot 65535)",
        bytes.len(),
        &r,
        4,
        64 * KIB,
    );
    ok("MAX_MAP_VALUES at", &r);
}

/// One slot past it. The error's value is the slot index (see
/// `map_values_past_limit_value`).
#[test]
fn map_values_past_limit() {
    if !clang() {
        return;
    }
    let n = limits::MAX_MAP_VALUES;
    let src = values_source(n + 1, &[&format!("[{n}] = &inner")]);
    let bytes = support::compile_generated("values1", &src);
    let r = run(&bytes);
    account(
        "MAX_MAP_VALUES past (slot 65536)",
        bytes.len(),
        &r,
        4,
        64 * KIB,
    );
    match &r.res {
        Err(f) => assert!(
            f.stage == Stage::Object
                && matches!(
                    f.kind,
                    Kind::Limit {
                        what: "'values' slots",
                        max: 65536,
                        ..
                    }
                )
                && f.text
                    .starts_with("map 'outer0': too many 'values' slots: "),
            "{f}"
        ),
        Ok(_) => panic!("slot 65536 loaded"),
    }
}

/// A `.values` initialiser past the last slot reports the number of slots it needs
/// (`index + 1`), not the index.
#[test]
fn map_values_past_limit_value() {
    if !clang() {
        return;
    }
    let n = limits::MAX_MAP_VALUES;
    let src = values_source(n + 1, &[&format!("[{n}] = &inner")]);
    let bytes = support::compile_generated("values2", &src);
    limit(
        "MAX_MAP_VALUES past",
        &run(&bytes),
        Stage::Object,
        "'values' slots",
        n + 1,
        n,
        "map 'outer0': ",
    );
}

/// Every slot of one map initialised: `slots` relocations in `.rel.maps`.
fn full_values(slots: usize, maps: usize) -> Vec<u8> {
    let init = format!("[0 ... {}] = &inner", slots - 1);
    let inits = vec![init.as_str(); maps];
    support::compile_generated(
        &format!("values_full_{slots}_{maps}"),
        &values_source(slots, &inits),
    )
}

/// `.values` slots are sorted once by (map, index), keeping the last initialiser (libbpf's
/// "later wins") (regression: an n^2 linear search, 20 s release at the bound).
#[test]
fn map_values_cost_is_linear() {
    if !clang() {
        return;
    }
    let (small, big) = (full_values(4096, 1), full_values(16384, 1));
    let r = slowdown(
        ".values slots",
        &small,
        &big,
        Some(&support::FakeKernelBtf),
        &Options::default(),
    );
    assert!(r < 6.0, "4x the .values relocations: {r:.1}x slower");
}

/// The largest `.rel.maps` the core accepts: four maps with every one of their 65,536
/// slots initialised.
#[test]
fn map_values_relocations_at_limit() {
    if !clang() {
        return;
    }
    let bytes = full_values(limits::MAX_MAP_VALUES, 4);
    let r = run(&bytes);
    account(
        "MAX_MAP_VALUES x 4 relocations at",
        bytes.len(),
        &r,
        8,
        64 * KIB,
    );
    // The inner map, four outer maps and their inner map templates.
    assert_eq!(ok("MAX_MAP_VALUES x 4 at", &r).maps, 9);
}

/// `.rel.maps` is bounded at `4 * MAX_MAP_VALUES` records, and the error says so.
#[test]
fn map_values_relocations_past_limit() {
    if !clang() {
        return;
    }
    let n = limits::MAX_MAP_VALUES;
    let mut inits = vec![format!("[0 ... {}] = &inner", n - 1); 4];
    inits.push("[0] = &inner".into());
    let inits: Vec<&str> = inits.iter().map(|s| s.as_str()).collect();
    let bytes = support::compile_generated("values_past", &values_source(n, &inits));
    let r = run(&bytes);
    account(
        "MAX_MAP_VALUES x 4 relocations past",
        bytes.len(),
        &r,
        4,
        64 * KIB,
    );
    limit(
        "MAX_MAP_VALUES x 4 relocations past",
        &r,
        Stage::Object,
        ".maps relocations",
        4 * n + 1,
        4 * n,
        "too many .maps relocations",
    );
}

// ---------------------------------------------------------------------------------
// MAX_NAME_LEN: section, symbol and BTF names (the kernel's KSYM_NAME_LEN).

/// A program named `prog` in `syscall`, and a global data section named `sec`.
fn names_object(prog: &str, sec: &str) -> Vec<u8> {
    let mut b = ElfB::new();
    simple_prog(&mut b, prog, 2);
    b.section(sec, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, vec![1, 0, 0, 0]);
    b.build()
}

/// `prefix` padded with `a` to `len` bytes.
fn name_of_len(prefix: &str, len: usize) -> String {
    format!("{prefix}{}", "a".repeat(len - prefix.len()))
}

#[test]
fn elf_names_at_limit() {
    let n = limits::MAX_NAME_LEN;
    let bytes = names_object(&name_of_len("p", n), &name_of_len(".data.", n));
    let r = run(&bytes);
    account("MAX_NAME_LEN at (ELF)", bytes.len(), &r, 4, 64 * KIB);
    let s = ok("MAX_NAME_LEN at (ELF)", &r);
    assert_eq!((s.progs[0].0.len(), s.maps), (n, 1));
}

/// What is enforced today one byte past: each name is refused, with the section index
/// or symbol index as context (`elf_names_past_limit_say_why` checks the message says why).
#[test]
fn elf_names_past_limit() {
    let n = limits::MAX_NAME_LEN;
    let ok_prog = name_of_len("p", n);
    let ok_sec = name_of_len(".data.", n);
    let long_prog = name_of_len("p", n + 1);
    let long_sec = name_of_len(".data.", n + 1);
    let bytes = names_object(&ok_prog, &long_sec);
    let r = run(&bytes);
    account("MAX_NAME_LEN past (section)", bytes.len(), &r, 1, 64 * KIB);
    fails(
        "section name past",
        &r,
        Stage::Elf,
        Kind::Malformed("invalid section name: longer than 512 bytes (MAX_NAME_LEN)"),
        "section #3: ",
    );
    let bytes = names_object(&long_prog, &ok_sec);
    let r = run(&bytes);
    account("MAX_NAME_LEN past (symbol)", bytes.len(), &r, 1, 64 * KIB);
    fails(
        "symbol name past",
        &r,
        Stage::Object,
        Kind::Malformed("invalid symbol name: longer than 512 bytes (MAX_NAME_LEN)"),
        "symbol 1: ",
    );
}

/// A 513-byte ELF section or symbol name says that the name is too long, not just that
/// it is invalid, so that it cannot be mistaken for a corrupt string table.
#[test]
fn elf_names_past_limit_say_why() {
    let n = limits::MAX_NAME_LEN;
    for (what, bytes) in [
        (
            "section",
            names_object(&name_of_len("p", n), &name_of_len(".data.", n + 1)),
        ),
        (
            "symbol",
            names_object(&name_of_len("p", n + 1), &name_of_len(".data.", n)),
        ),
    ] {
        let f = run(&bytes).res.unwrap_err();
        let says = match f.kind {
            Kind::Limit { value, max, .. } => value as usize == n + 1 && max as usize == n,
            Kind::Malformed(m) => m.contains("512"),
            _ => false,
        };
        assert!(says, "{what} name of {} bytes: {f}", n + 1);
    }
}

/// A BTF-defined map whose name (a BTF VAR and an ELF symbol) is `len` bytes long.
fn long_map_source(len: usize) -> String {
    let name = name_of_len("m", len);
    format!(
        "{C_HEAD}struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); \
         __type(key, int); __type(value, int); }} {name} SEC(\".maps\");\n\
         SEC(\"syscall\") int e(void *ctx) {{ return bpf_map_lookup_elem(&{name}, &(int){{0}}) != 0; }}\n{C_TAIL}"
    )
}

#[test]
fn btf_names_at_limit() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("long_map", &long_map_source(limits::MAX_NAME_LEN));
    let r = run(&bytes);
    account(
        "MAX_NAME_LEN at (BTF map name)",
        bytes.len(),
        &r,
        4,
        64 * KIB,
    );
    assert_eq!(ok("MAX_NAME_LEN at (BTF)", &r).maps, 1);
}

#[test]
fn btf_names_past_limit() {
    if !clang() {
        return;
    }
    let bytes = support::compile_generated("long_map1", &long_map_source(limits::MAX_NAME_LEN + 1));
    let r = run(&bytes);
    account(
        "MAX_NAME_LEN past (BTF map name)",
        bytes.len(),
        &r,
        4,
        64 * KIB,
    );
    fails(
        "MAX_NAME_LEN past (BTF)",
        &r,
        Stage::Object,
        Kind::Malformed("name longer than 512 bytes"),
        "section '.BTF': btf type [",
    );
}

// ---------------------------------------------------------------------------------
// BTF: a writer for kernel BTF, and padding of an object's `.BTF`.

const BTF_INT: u32 = 1;
const BTF_PTR: u32 = 2;
const BTF_STRUCT: u32 = 4;

/// A BTF blob being written: type records and strings.
struct BtfB {
    types: Vec<u8>,
    strs: Vec<u8>,
    n: u32,
}

impl BtfB {
    fn new() -> Self {
        BtfB {
            types: Vec::new(),
            strs: vec![0],
            n: 0,
        }
    }

    /// Add string `s`; returns its offset.
    fn s(&mut self, s: &str) -> u32 {
        let o = self.strs.len() as u32;
        self.strs.extend_from_slice(s.as_bytes());
        self.strs.push(0);
        o
    }

    /// Add a record; returns its id.
    fn raw(&mut self, name_off: u32, info: u32, sot: u32, extra: &[u32]) -> u32 {
        for w in [name_off, info, sot].iter().chain(extra) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.n += 1;
        self.n
    }

    fn int(&mut self, name: &str) -> u32 {
        let n = self.s(name);
        // 32 bits, signed.
        self.raw(n, BTF_INT << 24, 4, &[(1 << 24) | 32])
    }

    /// A struct of `members` `(name offset, type, bit offset)`.
    fn struct_(&mut self, name: &str, size: u32, members: &[(u32, u32, u32)]) -> u32 {
        let n = if name.is_empty() { 0 } else { self.s(name) };
        let extra: Vec<u32> = members.iter().flat_map(|&(a, b, c)| [a, b, c]).collect();
        self.raw(n, (BTF_STRUCT << 24) | members.len() as u32, size, &extra)
    }

    /// The blob: header, types, strings (padded with `pad` NUL bytes).
    fn blob(&self, pad: usize) -> Vec<u8> {
        btf_blob(&self.types, &self.strs, pad)
    }
}

/// A BTF blob of `types` and `strs` followed by `pad` NUL bytes of strings.
fn btf_blob(types: &[u8], strs: &[u8], pad: usize) -> Vec<u8> {
    let str_len = strs.len() + pad;
    let mut b = Vec::with_capacity(24 + types.len() + str_len);
    b.extend_from_slice(&0xeb9fu16.to_le_bytes());
    b.push(1); // version
    b.push(0); // flags
    for w in [
        24,
        0,
        types.len() as u32,
        types.len() as u32,
        str_len as u32,
    ] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(types);
    b.extend_from_slice(strs);
    b.resize(24 + types.len() + str_len, 0);
    b
}

/// The type and string sections of the `.BTF` of `e`.
fn btf_parts(e: &Ed) -> (Vec<u8>, Vec<u8>) {
    let s = e.sec(".BTF");
    let base = e.sh(s, Sh::Offset) as usize;
    let w = |o| e.get(base + o, 4) as usize;
    let (hdr, toff, tlen, soff, slen) = (w(4), w(8), w(12), w(16), w(20));
    let t = base + hdr + toff;
    let st = base + hdr + soff;
    (e.b[t..t + tlen].to_vec(), e.b[st..st + slen].to_vec())
}

/// Replace the `.BTF` of `e` with `blob` (moved to the end of the file).
fn set_btf(e: &mut Ed, blob: &[u8]) {
    let s = e.sec(".BTF");
    let at = e.append(blob);
    e.set_sh(s, Sh::Offset, at);
    e.set_sh(s, Sh::Size, blob.len() as u64);
}

/// Number of types in `types` (a type section).
fn count_records(types: &[u8]) -> usize {
    let (mut at, mut n) = (0, 0);
    while at < types.len() {
        let info = u32::from_le_bytes(types[at + 4..at + 8].try_into().unwrap());
        let (kind, vlen) = (info >> 24 & 0x1f, (info & 0xffff) as usize);
        at += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
        n += 1;
    }
    n
}

/// `bytes` with `extra` `void *` types appended to its `.BTF`, whose string section is
/// then padded with NUL bytes so that the blob is `total` bytes (if given).
fn pad_btf(bytes: &[u8], extra: usize, total: Option<usize>) -> Vec<u8> {
    let mut e = Ed::new(bytes);
    let (mut types, strs) = btf_parts(&e);
    for _ in 0..extra {
        for w in [0u32, BTF_PTR << 24, 0] {
            types.extend_from_slice(&w.to_le_bytes());
        }
    }
    let len = 24 + types.len() + strs.len();
    let pad = total.map_or(0, |t| t.checked_sub(len).expect("BTF already too big"));
    set_btf(&mut e, &btf_blob(&types, &strs, pad));
    e.b
}

/// A small object with a BTF-defined map, a global variable and a program using both:
/// the BTF lookups of map definitions and DATASEC fixups run over whatever is padded.
fn btf_base() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        support::compile_generated(
            "btf_base",
            &format!(
                "{C_HEAD}struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); \
                 __type(key, int); __type(value, int); }} m SEC(\".maps\");\nint g = 1;\n\
                 SEC(\"syscall\") int e(void *ctx) {{ int k = 0; int *v = bpf_map_lookup_elem(&m, &k); \
                 return (v ? *v : 0) + g; }}\n{C_TAIL}"
            ),
        )
    })
}

// ---------------------------------------------------------------------------------
// MAX_BTF_SIZE: the object's BTF, as read and as grown by the extern fixups.

#[test]
fn btf_size_at_limit() {
    if !clang() {
        return;
    }
    let bytes = pad_btf(btf_base(), 1000, Some(limits::MAX_BTF_SIZE));
    let r = run(&bytes);
    // The fixed-up copy of the BTF and its id index.
    account("MAX_BTF_SIZE at", bytes.len(), &r, 2, 64 * KIB);
    assert_eq!(ok("MAX_BTF_SIZE at", &r).maps, 2);
}

#[test]
fn btf_size_past_limit() {
    if !clang() {
        return;
    }
    let bytes = pad_btf(btf_base(), 1000, Some(limits::MAX_BTF_SIZE + 1));
    let r = run(&bytes);
    account("MAX_BTF_SIZE past", bytes.len(), &r, 0, 64 * KIB);
    limit(
        "MAX_BTF_SIZE past",
        &r,
        Stage::Object,
        "BTF bytes",
        limits::MAX_BTF_SIZE + 1,
        limits::MAX_BTF_SIZE,
        "section '.BTF': too many BTF bytes",
    );
}

/// A `.BTF` exactly at the limit that the kfunc fixup must grow (libbpf's dummy
/// `.ksyms` VAR): the growth is refused by the same bound.
#[test]
fn btf_size_past_limit_by_extern_fixup() {
    if !clang() {
        return;
    }
    let src = format!(
        "{C_HEAD}extern int bpf_limits_kfunc(void) __ksym __weak;\n\
         SEC(\"syscall\") int e(void *ctx) {{ return bpf_limits_kfunc(); }}\n{C_TAIL}"
    );
    let base = support::compile_generated("btf_kfunc", &src);
    let bytes = pad_btf(&base, 0, Some(limits::MAX_BTF_SIZE));
    let r = run(&bytes);
    account(
        "MAX_BTF_SIZE past (grown by a kfunc)",
        bytes.len(),
        &r,
        2,
        64 * KIB,
    );
    let f = r.res.as_ref().expect_err("grown BTF loaded");
    assert!(
        f.stage == Stage::Object
            && matches!(f.kind, Kind::Limit { what: "BTF bytes", value, max }
                if value as usize > limits::MAX_BTF_SIZE && max as usize == limits::MAX_BTF_SIZE),
        "{f}"
    );
}

// ---------------------------------------------------------------------------------
// MAX_BTF_TYPES: types of one blob, the object's and the kernel's.

#[test]
fn btf_types_at_limit() {
    if !clang() {
        return;
    }
    let base = btf_base();
    let have = count_records(&btf_parts(&Ed::new(base)).0);
    let bytes = pad_btf(base, limits::MAX_BTF_TYPES - have, None);
    let r = run(&bytes);
    // The copy (12 bytes per type) and its index (4 bytes per type).
    account("MAX_BTF_TYPES at (object)", bytes.len(), &r, 2, 64 * KIB);
    ok("MAX_BTF_TYPES at (object)", &r);
}

#[test]
fn btf_types_past_limit() {
    if !clang() {
        return;
    }
    let base = btf_base();
    let have = count_records(&btf_parts(&Ed::new(base)).0);
    let bytes = pad_btf(base, limits::MAX_BTF_TYPES - have + 1, None);
    let r = run(&bytes);
    account("MAX_BTF_TYPES past (object)", bytes.len(), &r, 0, 64 * KIB);
    limit(
        "MAX_BTF_TYPES past (object)",
        &r,
        Stage::Object,
        "BTF types",
        limits::MAX_BTF_TYPES + 1,
        limits::MAX_BTF_TYPES,
        "section '.BTF': too many BTF types",
    );
}

// ---------------------------------------------------------------------------------
// Kernel BTF: MAX_KERNEL_BTF_SIZE and MAX_BTF_TYPES for vmlinux, and the CO-RE index.

/// Kernel BTF held by the test, with its CO-RE index.
struct Kern {
    btf: Btf<Vec<u8>, Vec<u32>>,
    index: KernelIndex<Vec<IndexEntry>>,
}

impl KernelBtf for Kern {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        let id = self.btf.find_by_name_kind(name, kind).ok()??;
        Some(KernelType {
            module: 0,
            type_id: id,
        })
    }

    fn vmlinux(&self) -> Option<&dyn Types> {
        Some(&self.btf)
    }

    fn core_target(&self) -> Option<Target<'_>> {
        Target::new(&self.btf, &self.index).ok()
    }
}

/// Parse and index `blob` as vmlinux BTF, as the module does once per boot, with the
/// copy, the offsets and the index taken from `a`. Failures are reported as
/// [`Stage::Plan`], the stage that consumes kernel BTF.
fn kernel_btf(blob: &[u8], a: &mut TestAlloc) -> Result<Kern, Failure> {
    use bpfld_core::mem::{alloc_copy, Alloc};
    let f = |e: Error<'_>| failure(Stage::Plan, e);
    let n = btf::count_types(blob).map_err(f)?;
    let data = alloc_copy(a, blob).map_err(f)?;
    let offsets = a.alloc::<u32>(n + 1).map_err(f)?;
    let t = Instant::now();
    let btf = Btf::parse(data, offsets).map_err(f)?;
    let parsed = t.elapsed();
    let index = kernel_index_in(&btf, 1..btf.type_count(), a).map_err(f)?;
    println!(
        "kernel BTF: {} types parsed in {parsed:.3?}, {} indexed in {:.3?}",
        btf.type_count(),
        index.len(),
        t.elapsed() - parsed
    );
    Ok(Kern { btf, index })
}

/// [`kernel_btf`] with its cost.
fn kernel_run(blob: &[u8]) -> (Option<Kern>, Run) {
    let mut a = TestAlloc::new();
    let t = Instant::now();
    let k = kernel_btf(blob, &mut a);
    let r = Run {
        res: match &k {
            Ok(k) => Ok(Summary {
                progs: Vec::new(),
                maps: 0,
                insns: k.btf.type_count() as usize,
            }),
            Err(f) => Err(f.clone()),
        },
        bytes: a.bytes,
        largest: a.largest,
        allocs: a.count,
        time: t.elapsed(),
    };
    (k.ok(), r)
}

/// A vmlinux-like blob of exactly `len` bytes: `int`, then structs `big<k>` of 65,535
/// anonymous `int` members each (the densest records), strings padded to fill.
fn kernel_blob_of_size(len: usize) -> Vec<u8> {
    let mut b = BtfB::new();
    let int = b.int("int");
    let members: Vec<(u32, u32, u32)> = (0..0xffff).map(|i| (0, int, 32 * i)).collect();
    let per = 12 + 12 * 0xffff;
    // Strings hold at most 16 MiB (BTF_MAX_NAME_OFFSET + 1): the rest is structs.
    let structs = (len - 24 - b.types.len() - (16 << 20)).div_ceil(per);
    for k in 0..structs {
        b.struct_(&format!("big{k}"), 4 * 0xffff, &members);
    }
    let pad = len - 24 - b.types.len() - b.strs.len();
    let blob = b.blob(pad);
    assert_eq!(blob.len(), len);
    blob
}

#[test]
fn kernel_btf_size_at_limit() {
    let blob = kernel_blob_of_size(limits::MAX_KERNEL_BTF_SIZE);
    let (k, r) = kernel_run(&blob);
    // The blob's copy, 4 bytes per type of id index and 8 per named type of CO-RE index.
    account("MAX_KERNEL_BTF_SIZE at", blob.len(), &r, 2, 64 * KIB);
    let k = k.expect("kernel BTF at the limit");
    assert_eq!(k.btf.data().len(), limits::MAX_KERNEL_BTF_SIZE);
}

/// The string section's own bound (`btf::BTF_MAX_NAME_OFFSET`, the kernel's, kept in
/// `btf/mod.rs`): 16 MiB of strings in a kernel blob.
fn kernel_blob_of_strings(len: usize) -> Vec<u8> {
    let mut b = BtfB::new();
    b.int("int");
    let pad = len - b.strs.len();
    b.blob(pad)
}

#[test]
fn kernel_btf_strings_at_limit() {
    let len = btf::BTF_MAX_NAME_OFFSET as usize + 1;
    let blob = kernel_blob_of_strings(len);
    let (k, r) = kernel_run(&blob);
    account(
        "BTF_MAX_NAME_OFFSET at (kernel strings)",
        blob.len(),
        &r,
        2,
        64 * KIB,
    );
    assert_eq!(
        k.expect("kernel BTF at the limit")
            .btf
            .string_section()
            .len(),
        len
    );
}

#[test]
fn kernel_btf_strings_past_limit() {
    let len = btf::BTF_MAX_NAME_OFFSET as usize + 1;
    let blob = kernel_blob_of_strings(len + 1);
    let (k, r) = kernel_run(&blob);
    account(
        "BTF_MAX_NAME_OFFSET past (kernel strings)",
        blob.len(),
        &r,
        1,
        64 * KIB,
    );
    assert!(k.is_none());
    limit(
        "BTF_MAX_NAME_OFFSET past (kernel strings)",
        &r,
        Stage::Plan,
        "BTF string bytes",
        len + 1,
        len,
        "too many BTF string bytes",
    );
}

#[test]
fn kernel_btf_size_past_limit() {
    let blob = kernel_blob_of_size(limits::MAX_KERNEL_BTF_SIZE + 1);
    let (k, r) = kernel_run(&blob);
    // Refused before anything is allocated for it.
    account("MAX_KERNEL_BTF_SIZE past", blob.len(), &r, 0, 0);
    assert!(k.is_none());
    limit(
        "MAX_KERNEL_BTF_SIZE past",
        &r,
        Stage::Plan,
        "BTF bytes",
        limits::MAX_KERNEL_BTF_SIZE + 1,
        limits::MAX_KERNEL_BTF_SIZE,
        "too many BTF bytes",
    );
}

/// vmlinux-like BTF with exactly `n` types: `int` and named one-member structs `t<k>`
/// (each indexed for CO-RE).
fn kernel_blob_of_types(n: usize) -> Vec<u8> {
    let mut b = BtfB::new();
    let int = b.int("int");
    for k in 1..n {
        b.struct_(&format!("t{k}"), 4, &[(0, int, 0)]);
    }
    b.blob(0)
}

#[test]
fn kernel_btf_types_at_limit() {
    let blob = kernel_blob_of_types(limits::MAX_BTF_TYPES);
    let (k, r) = kernel_run(&blob);
    account("MAX_BTF_TYPES at (kernel)", blob.len(), &r, 2, 64 * KIB);
    assert_eq!(
        k.expect("kernel BTF at the limit").btf.type_count() as usize,
        limits::MAX_BTF_TYPES + 1
    );
}

#[test]
fn kernel_btf_types_past_limit() {
    let blob = kernel_blob_of_types(limits::MAX_BTF_TYPES + 1);
    let (k, r) = kernel_run(&blob);
    account("MAX_BTF_TYPES past (kernel)", blob.len(), &r, 0, 0);
    assert!(k.is_none());
    limit(
        "MAX_BTF_TYPES past (kernel)",
        &r,
        Stage::Plan,
        "BTF types",
        limits::MAX_BTF_TYPES + 1,
        limits::MAX_BTF_TYPES,
        "too many BTF types",
    );
}

// ---------------------------------------------------------------------------------
// MAX_CORE_SPEC_LEN: components of one CO-RE access string.

/// A CO-RE read of `d->x.x. ... .x.v` through `depth` nested structs (each `{ int pad;
/// struct next x; }`, so no index folds away): an access string of `depth + 2`
/// components (root, `depth` members, `v`).
fn deep_access_source(depth: usize) -> String {
    let mut c = String::from(C_HEAD);
    c +=
        &format!("struct s{depth} {{ int pad; int v; }} __attribute__((preserve_access_index));\n");
    for k in (0..depth).rev() {
        c += &format!(
            "struct s{k} {{ int pad; struct s{} x; }} __attribute__((preserve_access_index));\n",
            k + 1
        );
    }
    let path = vec!["x"; depth].join(".");
    c + &format!(
        "SEC(\"syscall\") int e(void *ctx) {{ struct s0 *d = ctx; return d->{path}.v; }}\n{C_TAIL}"
    )
}

/// The object's own BTF as the kernel's: every local type has itself as candidate.
fn own_kernel(bytes: &[u8]) -> Kern {
    let e = Ed::new(bytes);
    let (types, strs) = btf_parts(&e);
    kernel_btf(&btf_blob(&types, &strs, 0), &mut TestAlloc::new()).unwrap_or_else(|f| panic!("{f}"))
}

#[test]
fn core_spec_len_at_limit() {
    if !clang() {
        return;
    }
    let depth = limits::MAX_CORE_SPEC_LEN - 2;
    let bytes = support::compile_generated("core_deep", &deep_access_source(depth));
    let k = own_kernel(&bytes);
    let r = run_opts(&bytes, Some(&k), &Options::default());
    // Two specs of MAX_CORE_SPEC_LEN accessors (1.3 KiB each) and the candidate cache.
    account("MAX_CORE_SPEC_LEN at", bytes.len(), &r, 2, 64 * KIB);
    ok("MAX_CORE_SPEC_LEN at", &r);
}

#[test]
fn core_spec_len_past_limit() {
    if !clang() {
        return;
    }
    let depth = limits::MAX_CORE_SPEC_LEN - 1;
    let bytes = support::compile_generated("core_deep1", &deep_access_source(depth));
    let k = own_kernel(&bytes);
    let r = run_opts(&bytes, Some(&k), &Options::default());
    account("MAX_CORE_SPEC_LEN past", bytes.len(), &r, 2, 64 * KIB);
    limit(
        "MAX_CORE_SPEC_LEN past",
        &r,
        Stage::Plan,
        "CO-RE access spec components",
        limits::MAX_CORE_SPEC_LEN + 1,
        limits::MAX_CORE_SPEC_LEN,
        "prog 'e': relo #0: type 's0': too many CO-RE access spec components",
    );
}

// ---------------------------------------------------------------------------------
// MAX_CORE_CANDIDATES: kernel types sharing a local type's essential name.

/// A CO-RE read of `struct cand`'s `v` (byte offset 4).
fn cand_object() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        support::compile_generated(
            "core_cand",
            &format!(
                "{C_HEAD}struct cand {{ int pad; int v; }} __attribute__((preserve_access_index));\n\
                 SEC(\"syscall\") int e(void *ctx) {{ struct cand *c = ctx; return c->v; }}\n{C_TAIL}"
            ),
        )
    })
}

/// Kernel BTF with `n` identical structs `cand`, `cand___1`, ... (flavors of one
/// essential name): `n` candidates, all matching with the same value.
fn cand_kernel(n: usize) -> Kern {
    let mut b = BtfB::new();
    let int = b.int("int");
    let (pad, v) = (b.s("pad"), b.s("v"));
    for k in 0..n {
        let name = if k == 0 {
            "cand".to_string()
        } else {
            format!("cand___{k}")
        };
        b.struct_(&name, 8, &[(pad, int, 0), (v, int, 32)]);
    }
    kernel_btf(&b.blob(0), &mut TestAlloc::new()).unwrap_or_else(|f| panic!("{f}"))
}

#[test]
fn core_candidates_at_limit() {
    if !clang() {
        return;
    }
    let bytes = cand_object();
    let k = cand_kernel(limits::MAX_CORE_CANDIDATES);
    let r = run_opts(bytes, Some(&k), &Options::default());
    account("MAX_CORE_CANDIDATES at", bytes.len(), &r, 2, 64 * KIB);
    ok("MAX_CORE_CANDIDATES at", &r);
}

#[test]
fn core_candidates_past_limit() {
    if !clang() {
        return;
    }
    let bytes = cand_object();
    let k = cand_kernel(limits::MAX_CORE_CANDIDATES + 1);
    let r = run_opts(bytes, Some(&k), &Options::default());
    account("MAX_CORE_CANDIDATES past", bytes.len(), &r, 2, 64 * KIB);
    limit(
        "MAX_CORE_CANDIDATES past",
        &r,
        Stage::Plan,
        "CO-RE candidates for one local type",
        limits::MAX_CORE_CANDIDATES + 1,
        limits::MAX_CORE_CANDIDATES,
        "prog 'e': relo #0: type 'cand': too many CO-RE candidates",
    );
}

// ---------------------------------------------------------------------------------
// MAX_RELOCS for CO-RE: records of the `.BTF.ext` CO-RE subsection.

/// The `.BTF.ext` of `e`'s subsection words: (header length, then the six
/// offset/length words).
fn ext_header(e: &Ed) -> (usize, [usize; 6]) {
    let s = e.sec(".BTF.ext");
    let base = e.sh(s, Sh::Offset) as usize;
    let w = |o| e.get(base + o, 4) as usize;
    (w(4), [w(8), w(12), w(16), w(20), w(24), w(28)])
}

/// `bytes` with the first block of `.BTF.ext` subsection `sub` (0 func_info, 1
/// line_info, 2 CO-RE) grown by `extra` records copied from its first, and `blocks`
/// more blocks of one such record each, named by that block's own section name offset
/// plus 1 (a string no section has). Copied records get `insn_off` past every function.
fn grow_ext(bytes: &[u8], sub: usize, extra: usize, blocks: usize) -> Vec<u8> {
    let mut e = Ed::new(bytes);
    let s = e.sec(".BTF.ext");
    let ext = e.sec_data(s).to_vec();
    let word = |o: usize| u32::from_le_bytes(ext[o..o + 4].try_into().unwrap()) as usize;
    let (hdr_len, w) = ext_header(&e);
    let (off, len) = (hdr_len + w[2 * sub], w[2 * sub + 1]);
    let rec = word(off);
    let (name, num) = (word(off + 4), word(off + 8));
    let first = &ext[off + 12..off + 12 + rec];
    let mut moved = first.to_vec();
    moved[..4].copy_from_slice(&0x7fff_fff8u32.to_le_bytes());
    let mut sub_out = ext[off..off + 4].to_vec();
    sub_out.extend_from_slice(&(name as u32).to_le_bytes());
    sub_out.extend_from_slice(&((num + extra) as u32).to_le_bytes());
    sub_out.extend_from_slice(&ext[off + 12..off + 12 + num * rec]);
    for _ in 0..extra {
        sub_out.extend_from_slice(&moved);
    }
    sub_out.extend_from_slice(&ext[off + 12 + num * rec..off + len]);
    for _ in 0..blocks {
        sub_out.extend_from_slice(&(name as u32 + 1).to_le_bytes());
        sub_out.extend_from_slice(&1u32.to_le_bytes());
        sub_out.extend_from_slice(&moved);
    }
    let grow = sub_out.len() - len;
    let mut out = ext[..off].to_vec();
    out.extend_from_slice(&sub_out);
    out.extend_from_slice(&ext[off + len..]);
    // This subsection's length; the ones after it move.
    let put = |out: &mut Vec<u8>, o: usize, v: usize| {
        out[o..o + 4].copy_from_slice(&(v as u32).to_le_bytes());
    };
    put(&mut out, 8 + 8 * sub + 4, len + grow);
    for k in 0..3 {
        if k != sub && w[2 * k + 1] != 0 && w[2 * k] > w[2 * sub] {
            put(&mut out, 8 + 8 * k, w[2 * k] + grow);
        }
    }
    let at = e.append(&out);
    e.set_sh(s, Sh::Offset, at);
    e.set_sh(s, Sh::Size, out.len() as u64);
    e.b
}

#[test]
fn core_relocations_at_limit() {
    if !clang() {
        return;
    }
    let base = cand_object();
    let bytes = grow_ext(base, 2, limits::MAX_RELOCS - 1, 0);
    let k = cand_kernel(1);
    let r = run_opts(&bytes, Some(&k), &Options::default());
    // Sized by the record count: the candidate cache (two 16-byte slots per record) and
    // one outcome per record, although all but one are skipped (outside any function).
    account("MAX_RELOCS at (CO-RE)", bytes.len(), &r, 8, 64 * KIB);
    ok("MAX_RELOCS at (CO-RE)", &r);
}

#[test]
fn core_relocations_past_limit() {
    if !clang() {
        return;
    }
    let base = cand_object();
    let bytes = grow_ext(base, 2, limits::MAX_RELOCS, 0);
    let k = cand_kernel(1);
    let r = run_opts(&bytes, Some(&k), &Options::default());
    account("MAX_RELOCS past (CO-RE)", bytes.len(), &r, 1, 64 * KIB);
    limit(
        "MAX_RELOCS past (CO-RE)",
        &r,
        Stage::Plan,
        "CO-RE relocations",
        limits::MAX_RELOCS + 1,
        limits::MAX_RELOCS,
        "too many CO-RE relocations",
    );
}

// ---------------------------------------------------------------------------------
// MAX_RELOCS for struct_ops: records of `.rel.struct_ops`.

/// A struct_ops map whose one function pointer relocation is repeated to `n` records.
fn struct_ops_object(n: usize) -> Vec<u8> {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    let base = B.get_or_init(|| {
        support::compile_generated(
            "st_ops",
            &format!(
                "{C_HEAD}struct limits_ops {{ int (*fn)(int); int x; }};\n\
                 SEC(\"struct_ops/fn\") int fn_impl(void *ctx) {{ return 0; }}\n\
                 SEC(\".struct_ops\") struct limits_ops ops = {{ .fn = (void *)fn_impl }};\n{C_TAIL}"
            ),
        )
    });
    let mut e = Ed::new(base);
    let s = e.sec(".rel.struct_ops");
    let rec = e.sec_data(s).to_vec();
    assert_eq!(rec.len(), 16);
    let data = rec.repeat(n);
    let at = e.append(&data);
    e.set_sh(s, Sh::Offset, at);
    e.set_sh(s, Sh::Size, data.len() as u64);
    e.b
}

/// At the limit the object parses; planning then fails for another reason (the fake
/// kernel has no `struct limits_ops`).
#[test]
fn struct_ops_relocations_at_limit() {
    if !clang() {
        return;
    }
    let bytes = struct_ops_object(limits::MAX_RELOCS);
    let r = run(&bytes);
    account("MAX_RELOCS at (struct_ops)", bytes.len(), &r, 2, 64 * KIB);
    let f = r
        .res
        .as_ref()
        .expect_err("struct_ops without kernel BTF planned");
    assert!(
        f.stage == Stage::Plan && !matches!(f.kind, Kind::Limit { .. }),
        "{f}"
    );
}

#[test]
fn struct_ops_relocations_past_limit() {
    if !clang() {
        return;
    }
    let bytes = struct_ops_object(limits::MAX_RELOCS + 1);
    let r = run(&bytes);
    account("MAX_RELOCS past (struct_ops)", bytes.len(), &r, 1, 64 * KIB);
    limit(
        "MAX_RELOCS past (struct_ops)",
        &r,
        Stage::Object,
        "struct_ops relocations",
        limits::MAX_RELOCS + 1,
        limits::MAX_RELOCS,
        "too many struct_ops relocations",
    );
}

// ---------------------------------------------------------------------------------
// MAX_SECTIONS for `.BTF.ext`: blocks of one subsection.

#[test]
fn btf_ext_blocks_at_limit() {
    if !clang() {
        return;
    }
    let base = cand_object();
    let have = 1; // one program section
    let bytes = grow_ext(base, 0, 0, limits::MAX_SECTIONS - have);
    let k = cand_kernel(1);
    let r = run_opts(&bytes, Some(&k), &Options::default());
    account(
        "MAX_SECTIONS at (.BTF.ext blocks)",
        bytes.len(),
        &r,
        2,
        64 * KIB,
    );
    ok("MAX_SECTIONS at (.BTF.ext blocks)", &r);
}

#[test]
fn btf_ext_blocks_past_limit() {
    if !clang() {
        return;
    }
    let base = cand_object();
    let bytes = grow_ext(base, 0, 0, limits::MAX_SECTIONS);
    let k = cand_kernel(1);
    let r = run_opts(&bytes, Some(&k), &Options::default());
    account(
        "MAX_SECTIONS past (.BTF.ext blocks)",
        bytes.len(),
        &r,
        1,
        64 * KIB,
    );
    limit(
        "MAX_SECTIONS past (.BTF.ext blocks)",
        &r,
        Stage::Object,
        ".BTF.ext blocks",
        limits::MAX_SECTIONS + 1,
        limits::MAX_SECTIONS,
        "section '.BTF.ext': func_info: too many .BTF.ext blocks",
    );
}

// ---------------------------------------------------------------------------------
// MAX_BTF_VLEN: members (enumerators, parameters, DATASEC entries) of one BTF type.

/// `bytes` with one more BTF type appended: a struct `wide` of `vlen` anonymous `int`
/// members (`extra_info` or-ed into its info word).
fn wide_struct(bytes: &[u8], vlen: usize, extra_info: u32) -> Vec<u8> {
    let mut e = Ed::new(bytes);
    let (mut types, mut strs) = btf_parts(&e);
    let int = bpfld_core::btf::count_types(&btf_blob(&types, &strs, 0)).unwrap();
    // An int to point the members at, then the struct.
    let iname = strs.len() as u32;
    strs.extend_from_slice(b"wide_int\0");
    for w in [iname, BTF_INT << 24, 4, (1 << 24) | 32] {
        types.extend_from_slice(&w.to_le_bytes());
    }
    let int = int as u32 + 1;
    let sname = strs.len() as u32;
    strs.extend_from_slice(b"wide\0");
    let info = (BTF_STRUCT << 24) | vlen as u32 | extra_info;
    for w in [sname, info, 4 * vlen as u32] {
        types.extend_from_slice(&w.to_le_bytes());
    }
    for i in 0..vlen as u32 {
        for w in [0, int, 32 * i] {
            types.extend_from_slice(&w.to_le_bytes());
        }
    }
    set_btf(&mut e, &btf_blob(&types, &strs, 0));
    e.b
}

#[test]
fn btf_vlen_at_limit() {
    if !clang() {
        return;
    }
    let bytes = wide_struct(btf_base(), limits::MAX_BTF_VLEN, 0);
    let r = run(&bytes);
    account("MAX_BTF_VLEN at", bytes.len(), &r, 2, 64 * KIB);
    ok("MAX_BTF_VLEN at", &r);
}

/// The 16-bit vlen cannot count 65,536 members: the next bit is one of the info bits
/// that must be zero.
#[test]
fn btf_vlen_past_limit() {
    if !clang() {
        return;
    }
    let bytes = wide_struct(btf_base(), 0, (limits::MAX_BTF_VLEN + 1) as u32);
    let r = run(&bytes);
    account("MAX_BTF_VLEN past", bytes.len(), &r, 1, 64 * KIB);
    fails(
        "MAX_BTF_VLEN past",
        &r,
        Stage::Object,
        Kind::Malformed("BTF type info has unknown bits set"),
        "section '.BTF': btf type [",
    );
}

// ---------------------------------------------------------------------------------
// MAX_RESOLVE_DEPTH: modifier and typedef chains.

/// A map whose value type is `t<typedefs - 1>`, a chain of `typedefs` typedefs down to
/// `int`: resolving its size visits `typedefs + 1` types.
fn typedef_chain_source(typedefs: usize) -> String {
    let mut c = String::from(C_HEAD);
    c += "typedef int t0;\n";
    for k in 1..typedefs {
        c += &format!("typedef t{} t{k};\n", k - 1);
    }
    let last = typedefs - 1;
    c + &format!(
        "struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); \
         __type(value, t{last}); }} m SEC(\".maps\");\n\
         SEC(\"syscall\") int e(void *ctx) {{ return bpf_map_lookup_elem(&m, &(int){{0}}) != 0; }}\n{C_TAIL}"
    )
}

#[test]
fn resolve_depth_at_limit() {
    if !clang() {
        return;
    }
    let src = typedef_chain_source(limits::MAX_RESOLVE_DEPTH - 1);
    let bytes = support::compile_generated("typedefs", &src);
    let r = run(&bytes);
    account("MAX_RESOLVE_DEPTH at", bytes.len(), &r, 2, 64 * KIB);
    assert_eq!(ok("MAX_RESOLVE_DEPTH at", &r).maps, 1);
}

#[test]
fn resolve_depth_past_limit() {
    if !clang() {
        return;
    }
    let src = typedef_chain_source(limits::MAX_RESOLVE_DEPTH);
    let bytes = support::compile_generated("typedefs1", &src);
    let r = run(&bytes);
    account("MAX_RESOLVE_DEPTH past", bytes.len(), &r, 2, 64 * KIB);
    limit(
        "MAX_RESOLVE_DEPTH past",
        &r,
        Stage::Object,
        "type reference depth",
        limits::MAX_RESOLVE_DEPTH + 1,
        limits::MAX_RESOLVE_DEPTH,
        "map 'm': sym 'value': btf type [",
    );
}

// ---------------------------------------------------------------------------------
// MAX_ATTACH_BTF_NAME_LEN: a kernel attach target with its lookup prefix.

/// Kernel BTF that has every name asked for.
struct AnyKernel;

impl KernelBtf for AnyKernel {
    fn find(&self, _name: &str, _kind: BtfKind) -> Option<KernelType> {
        Some(KernelType {
            module: 0,
            type_id: 1,
        })
    }
}

/// A `tp_btf/<target>` program (looked up as `btf_trace_<target>`), the prefix and the
/// target together `len` bytes.
fn attach_object(len: usize) -> Vec<u8> {
    let target = "a".repeat(len - "btf_trace_".len());
    let mut b = ElfB::new();
    let s = b.code(&format!("tp_btf/{target}"), body(2));
    b.func("on_tp", s, 0, 2);
    b.build()
}

#[test]
fn attach_name_at_limit() {
    let bytes = attach_object(limits::MAX_ATTACH_BTF_NAME_LEN);
    let r = run_opts(&bytes, Some(&AnyKernel), &Options::default());
    account("MAX_ATTACH_BTF_NAME_LEN at", bytes.len(), &r, 2, 64 * KIB);
    ok("MAX_ATTACH_BTF_NAME_LEN at", &r);
}

#[test]
fn attach_name_past_limit() {
    let bytes = attach_object(limits::MAX_ATTACH_BTF_NAME_LEN + 1);
    let r = run_opts(&bytes, Some(&AnyKernel), &Options::default());
    account("MAX_ATTACH_BTF_NAME_LEN past", bytes.len(), &r, 2, 64 * KIB);
    limit(
        "MAX_ATTACH_BTF_NAME_LEN past",
        &r,
        Stage::Plan,
        "bytes in BTF attach target name",
        limits::MAX_ATTACH_BTF_NAME_LEN + 1,
        limits::MAX_ATTACH_BTF_NAME_LEN,
        "prog 'on_tp': section 'tp_btf/aaa",
    );
}

// ---------------------------------------------------------------------------------
// MAX_VERITY_LEVELS: Merkle tree levels of the fs-verity digest (src/digest.rs).

/// With SHA-256 and 4 KiB blocks, 8 levels cover every `u64` size: a file of 2^61 + 1
/// bytes already needs all 8, and the largest size possible needs no more. Past the
/// limit cannot be reached (`tree_levels`' error is a guard for other parameters).
#[test]
fn verity_levels_at_limit() {
    let t = Instant::now();
    // Level k holds the hashes of up to 4096 * 128^k bytes: 7 levels end at 2^61.
    for size in [1u64 << 61, (1 << 61) + 1, u64::MAX] {
        let h = VerityHasher::new(size).unwrap_or_else(|e| panic!("{size}: {e}"));
        // No buffer, whatever the size: the hasher is a fixed-size value.
        assert!(std::mem::size_of_val(&h) < 2 * KIB);
        // Feeding less than announced is an error, not a wrong digest.
        let mut h = h;
        h.update(&[0u8; 4096]).unwrap();
        assert!(h.finish().is_err(), "{size}: finished early");
    }
    println!(
        "LIMIT MAX_VERITY_LEVELS at: sizes 2^61, 2^61 + 1, 2^64 - 1: hasher of {} bytes, no allocation, {:.3?}",
        std::mem::size_of::<VerityHasher>(),
        t.elapsed()
    );
}

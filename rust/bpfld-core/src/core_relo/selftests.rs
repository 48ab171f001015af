// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The kernel's own CO-RE suite (`tools/testing/selftests/bpf/prog_tests/core_reloc.c`)
//! on the host, and relocations against the host's vmlinux BTF.
//!
//! For the suite, the 6.12 tree's `progs/test_core_reloc_*.c` (programs) and
//! `progs/btf__core_reloc_*.c` (target type variants) are compiled with clang, and the
//! test's own case table is compiled on the host from `prog_tests/core_reloc.c` itself
//! (with a stub `test_progs.h`), so the pairs, inputs, expected outputs and "fails"
//! marks are the kernel's, not a transcription; its setup functions compute the
//! expected type ids with libbpf's BTF parser. Each program is relocated with this
//! module against its target's `.BTF`, patched, linked to its `.bss` and *run* in a small
//! BPF interpreter on the case's input; the output must be the expected bytes. A case
//! marked as failing must fail to relocate or run into a poisoned instruction (which
//! the verifier would reject), and the way it fails is checked against libbpf's.
//!
//! The same cases are run again against `bpftool gen min_core_btf`'s minimized targets
//! (libbpf's own pruning of the target BTF to what the relocations use), as
//! `core_reloc_btfgen` does.

use std::collections::HashMap;
use std::format;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::result::Result;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::btf::{count_types, Btf, BtfExt};
use crate::insn::Insn;
use crate::mem::VecAlloc;
use crate::testenv::{linux_tree, skip};

type OBtf = Btf<Vec<u8>, Vec<u32>>;

fn tool_ok(name: &str) -> Option<String> {
    let o = Command::new(name).arg("--version").output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The newest clang on PATH and its major version. Some selftest programs need clang
/// 15 or later (`__builtin_preserve_type_info` with TYPE_MATCHES, 64-bit enums).
fn find_clang() -> Option<(String, u32)> {
    let forced = std::env::var("BPFLD_CLANG").ok();
    for name in forced.iter().map(|s| s.as_str()).chain([
        "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang", "clang-14",
    ]) {
        if let Some(v) = tool_ok(name) {
            let major = v
                .split("version ")
                .nth(1)
                .and_then(|r| r.split('.').next())
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            return Some((name.to_string(), major));
        }
    }
    None
}

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(o.stdout)
}

/// A scratch directory with the selftests' BPF headers: the tree's libbpf headers and a
/// `bpf_helper_defs.h` generated from its UAPI header.
fn bpf_headers(tree: &Path, dir: &Path) -> Result<PathBuf, String> {
    let inc = dir.join("inc");
    let bpf = inc.join("bpf");
    std::fs::create_dir_all(&bpf).map_err(|e| e.to_string())?;
    let defs = run(Command::new("python3").current_dir(tree).args([
        "scripts/bpf_doc.py",
        "--header",
        "--file",
        "include/uapi/linux/bpf.h",
    ]))?;
    std::fs::write(bpf.join("bpf_helper_defs.h"), defs).map_err(|e| e.to_string())?;
    for e in std::fs::read_dir(tree.join("tools/lib/bpf")).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "h") {
            std::fs::copy(&p, bpf.join(p.file_name().unwrap())).map_err(|e| e.to_string())?;
        }
    }
    Ok(inc)
}

fn compile_bpf(clang: &str, src: &Path, out: &Path, incs: &[&Path]) -> Result<(), String> {
    let mut c = Command::new(clang);
    // Freestanding: clang's own stdint.h, not the host's (which wants a host target).
    c.args(["-target", "bpf", "-g", "-O2", "-ffreestanding", "-c"]);
    for i in incs {
        c.arg("-I").arg(i);
    }
    c.arg(src).arg("-o").arg(out);
    run(&mut c).map(|_| ())
}

/// Compile `jobs` (source, object) with two threads.
fn compile_all(clang: &str, jobs: &[(PathBuf, PathBuf)], incs: &[&Path]) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let errors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((src, out)) = jobs.get(i) else { break };
                if let Err(e) = compile_bpf(clang, src, out, incs) {
                    errors.lock().unwrap().push(e);
                }
            });
        }
    });
    errors.into_inner().unwrap()
}

// ---------------------------------------------------------------------------------------
// A minimal ELF64 reader (sections, symbols, REL relocations)

#[derive(Clone, Debug)]
struct Sec {
    name: String,
    kind: u32,
    off: usize,
    size: usize,
    link: u32,
    info: u32,
}

#[derive(Clone, Debug)]
struct Sym {
    name: String,
    info: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

struct Elf {
    data: Vec<u8>,
    secs: Vec<Sec>,
    syms: Vec<Sym>,
}

impl Elf {
    fn read(data: Vec<u8>) -> Elf {
        let u16_ = |d: &[u8], o: usize| u16::from_le_bytes(d[o..o + 2].try_into().unwrap());
        let u32_ = |d: &[u8], o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
        let u64_ = |d: &[u8], o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
        let shoff = u64_(&data, 0x28) as usize;
        let (shnum, shstrndx) = (u16_(&data, 0x3c) as usize, u16_(&data, 0x3e) as usize);
        let cstr = |d: &[u8], o: usize| {
            let end = d[o..].iter().position(|&c| c == 0).unwrap();
            String::from_utf8_lossy(&d[o..o + end]).into_owned()
        };
        let raw: Vec<(u32, Sec)> = (0..shnum)
            .map(|i| {
                let h = shoff + i * 64;
                (
                    u32_(&data, h),
                    Sec {
                        name: String::new(),
                        kind: u32_(&data, h + 4),
                        off: u64_(&data, h + 0x18) as usize,
                        size: u64_(&data, h + 0x20) as usize,
                        link: u32_(&data, h + 0x28),
                        info: u32_(&data, h + 0x2c),
                    },
                )
            })
            .collect();
        let strtab = raw[shstrndx].1.off;
        let secs: Vec<Sec> = raw
            .into_iter()
            .map(|(n, mut s)| {
                s.name = cstr(&data, strtab + n as usize);
                s
            })
            .collect();
        let mut syms = Vec::new();
        if let Some(st) = secs.iter().find(|s| s.kind == 2) {
            let names = secs[st.link as usize].off;
            for o in (st.off..st.off + st.size).step_by(24) {
                syms.push(Sym {
                    name: cstr(&data, names + u32_(&data, o) as usize),
                    info: data[o + 4],
                    shndx: u16_(&data, o + 6),
                    value: u64_(&data, o + 8),
                    size: u64_(&data, o + 16),
                });
            }
        }
        Elf { data, secs, syms }
    }

    fn sec(&self, name: &str) -> Option<(usize, &Sec)> {
        self.secs.iter().enumerate().find(|(_, s)| s.name == name)
    }

    fn bytes(&self, s: &Sec) -> &[u8] {
        if s.kind == 8 {
            &[] // SHT_NOBITS
        } else {
            &self.data[s.off..s.off + s.size]
        }
    }

    /// REL entries (offset, symbol index) of the relocation section for section `idx`.
    fn rels(&self, idx: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for s in self
            .secs
            .iter()
            .filter(|s| s.kind == 9 && s.info as usize == idx)
        {
            for o in (s.off..s.off + s.size).step_by(16) {
                let off = u64::from_le_bytes(self.data[o..o + 8].try_into().unwrap());
                let info = u64::from_le_bytes(self.data[o + 8..o + 16].try_into().unwrap());
                out.push((off as usize, (info >> 32) as usize));
            }
        }
        out
    }

    fn btf(&self) -> Option<OBtf> {
        let (_, s) = self.sec(".BTF")?;
        let blob = self.bytes(s).to_vec();
        let n = count_types(&blob).ok()?;
        Btf::parse(blob, vec![0u32; n + 1]).ok()
    }
}

fn read_btf_file(path: &Path) -> Result<OBtf, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if data.starts_with(b"\x7fELF") {
        return Elf::read(data)
            .btf()
            .ok_or(format!("{}: no parsable .BTF", path.display()));
    }
    let mut data = data;
    if count_types(&data) == Ok(0) {
        // libbpf accepts a BTF without types (bpftool's minimized BTF when nothing
        // matched); the btf module does not. One FWD no relocation can match stands in.
        data = placeholder_btf(&data);
    }
    let n = count_types(&data).map_err(|e| e.to_string())?;
    Btf::parse(data, vec![0u32; n + 1]).map_err(|e| e.to_string())
}

/// `blob` (a BTF with no types) with one FWD named `bpfld_no_types` added.
fn placeholder_btf(blob: &[u8]) -> Vec<u8> {
    let hdr_len = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize;
    let str_off = u32::from_le_bytes(blob[16..20].try_into().unwrap()) as usize;
    let str_len = u32::from_le_bytes(blob[20..24].try_into().unwrap()) as usize;
    let strs = &blob[hdr_len + str_off..hdr_len + str_off + str_len];
    let mut b = crate::btf::testutil::B::new();
    b.strs = strs.to_vec();
    b.fwd("bpfld_no_types", false);
    b.build()
}

// ---------------------------------------------------------------------------------------
// Relocating one program

/// A program after CO-RE relocation.
struct Relocated {
    insns: Vec<Insn>,
    /// Outcome per relocation, in `.BTF.ext` order.
    outcomes: Vec<CoreOutcome>,
    /// Instruction index of each relocation.
    sites: Vec<usize>,
}

/// The program `prog` of `elf`: its section index, first byte and instructions.
fn program(elf: &Elf, prog: &str) -> (usize, usize, Vec<Insn>) {
    let sym = elf
        .syms
        .iter()
        .find(|s| s.name == prog && s.info & 0xf == 2)
        .unwrap_or_else(|| panic!("no program {prog}"));
    let sec = &elf.secs[sym.shndx as usize];
    let code = &elf.bytes(sec)[sym.value as usize..(sym.value + sym.size) as usize];
    let insns = code
        .chunks_exact(8)
        .map(|c| Insn::read(c, 0).unwrap())
        .collect();
    (sym.shndx as usize, sym.value as usize, insns)
}

/// Relocate `prog` of `elf` against `vmlinux` (+ `modules`) as libbpf does: every CO-RE
/// record of the program's section in order, one relocator (candidate cache) for all.
fn relocate(
    elf: &Elf,
    prog: &str,
    vmlinux: Target<'_>,
    modules: &[Target<'_>],
) -> Result<Relocated, String> {
    let local = elf.btf().ok_or("object has no .BTF")?;
    let (_, ext_sec) = elf.sec(".BTF.ext").ok_or("object has no .BTF.ext")?;
    let ext = BtfExt::parse(elf.bytes(ext_sec)).map_err(|e| e.to_string())?;
    ext.check_refs(&local).map_err(|e| e.to_string())?;
    let (shndx, start, mut insns) = program(elf, prog);
    let sec_name = elf.secs[shndx].name.clone();
    let total = ext.core_relos().num_records() as usize;
    let mut c = CoreRelocator::new(vmlinux, modules, &mut VecAlloc::default(), total)
        .map_err(|e| e.to_string())?;
    let mut outcomes = Vec::new();
    let mut sites = Vec::new();
    for b in ext.core_relos().blocks() {
        if local.name_at(b.sec_name_off).map_err(|e| e.to_string())? != sec_name {
            continue;
        }
        for (i, r) in b.records().enumerate() {
            let off = r.insn_off as usize;
            if off < start || off >= start + insns.len() * 8 {
                continue;
            }
            let idx = (off - start) / 8;
            let o = c
                .resolve(&local, &r, i as u32)
                .map_err(|e| format!("prog '{prog}': {e} [{}]", c_describe(&local, &r)))?;
            patch(&mut insns, idx, &o).map_err(|e| format!("prog '{prog}': relo #{i}: {e}"))?;
            outcomes.push(o);
            sites.push(idx);
        }
    }
    Ok(Relocated {
        insns,
        outcomes,
        sites,
    })
}

fn c_describe(local: &OBtf, r: &CoreRelo) -> String {
    // A throwaway relocator for the description (which needs only the local BTF).
    let mut b = crate::btf::testutil::B::new();
    b.int("int", 4, 1, 32);
    let t = crate::btf::testutil::parse(b.build()).unwrap();
    let idx = kernel_index_in(&t, 1..t.type_count(), &mut VecAlloc::default()).unwrap();
    let target = Target::new(&t, &idx).unwrap();
    let mut c = CoreRelocator::new(target, &[], &mut VecAlloc::default(), 1).unwrap();
    c.describe(local, r).to_string()
}

// ---------------------------------------------------------------------------------------
// A small BPF interpreter: enough for the selftest programs

const DATA_BASE: u64 = 0x1000_0000;
const STACK_BASE: u64 = 0x2000_0000;
const CTX_BASE: u64 = 0x3000_0000;
const TASK_BASE: u64 = 0x4000_0000;
const STACK_SIZE: usize = 512;

#[derive(Debug, PartialEq, Eq)]
enum Exit {
    Ok(u64),
    /// A poisoned instruction was reached: the verifier would reject the program.
    Poison(usize),
}

struct Vm {
    regions: Vec<(u64, Vec<u8>)>,
    pid_tgid: u64,
}

impl Vm {
    fn mem(&mut self, addr: u64, len: usize) -> Result<&mut [u8], String> {
        for (base, buf) in &mut self.regions {
            if addr >= *base && addr + len as u64 <= *base + buf.len() as u64 {
                let o = (addr - *base) as usize;
                return Ok(&mut buf[o..o + len]);
            }
        }
        Err(format!("bad memory access at {addr:#x} ({len} bytes)"))
    }

    fn load(&mut self, addr: u64, len: usize) -> Result<u64, String> {
        let b = self.mem(addr, len)?;
        let mut v = [0u8; 8];
        v[..len].copy_from_slice(b);
        Ok(u64::from_le_bytes(v))
    }

    fn store(&mut self, addr: u64, len: usize, v: u64) -> Result<(), String> {
        self.mem(addr, len)?
            .copy_from_slice(&v.to_le_bytes()[..len]);
        Ok(())
    }

    fn helper(&mut self, id: i32, r: &mut [u64; 11]) -> Result<(), String> {
        r[0] = match id {
            // bpf_probe_read, bpf_probe_read_kernel, bpf_probe_read_user
            4 | 112 | 113 => {
                let n = r[2] as usize;
                match self.mem(r[3], n).map(|s| s.to_vec()) {
                    Ok(src) => {
                        self.mem(r[1], n)?.copy_from_slice(&src);
                        0
                    }
                    Err(_) => {
                        self.mem(r[1], n)?.fill(0);
                        (-14i64) as u64
                    }
                }
            }
            // bpf_probe_read_kernel_str, bpf_probe_read_str
            115 | 45 => {
                let n = r[2] as usize;
                let mut out = Vec::new();
                for i in 0..n {
                    let c = self.load(r[3] + i as u64, 1)? as u8;
                    out.push(if i + 1 == n { 0 } else { c });
                    if c == 0 || i + 1 == n {
                        break;
                    }
                }
                let len = out.len();
                self.mem(r[1], len)?.copy_from_slice(&out);
                len as u64
            }
            14 => self.pid_tgid,
            35 => TASK_BASE,
            _ => return Err(format!("helper {id} not emulated")),
        };
        for x in &mut r[1..6] {
            *x = 0xdead_beef_dead_beef;
        }
        Ok(())
    }

    fn run(&mut self, insns: &[Insn]) -> Result<Exit, String> {
        let mut r = [0u64; 11];
        r[1] = CTX_BASE;
        r[10] = STACK_BASE + STACK_SIZE as u64;
        let mut pc = 0usize;
        for _ in 0..1_000_000 {
            let i = *insns.get(pc).ok_or(format!("pc {pc} out of the program"))?;
            let (dst, src) = (i.dst() as usize, i.src() as usize);
            let class = i.class();
            let op = i.code & 0xf0;
            let imm = i.imm as i64 as u64;
            pc += 1;
            match class {
                0x07 | 0x04 => {
                    let wide = class == 0x07;
                    let s = if i.code & 0x08 != 0 { r[src] } else { imm };
                    let d = r[dst];
                    let (d, s) = if wide {
                        (d, s)
                    } else {
                        (d as u32 as u64, s as u32 as u64)
                    };
                    let bits = if wide { 63 } else { 31 };
                    let v = match op {
                        0x00 => d.wrapping_add(s),
                        0x10 => d.wrapping_sub(s),
                        0x20 => d.wrapping_mul(s),
                        0x30 => d.checked_div(s).unwrap_or(0),
                        0x40 => d | s,
                        0x50 => d & s,
                        0x60 => d << (s & bits),
                        0x70 => d >> (s & bits),
                        0x80 => d.wrapping_neg(),
                        0x90 => d.checked_rem(s).unwrap_or(d),
                        0xa0 => d ^ s,
                        0xb0 => match (wide, i.off) {
                            (_, 0) => s,
                            (true, 8) => s as i8 as i64 as u64,
                            (true, 16) => s as i16 as i64 as u64,
                            (true, 32) => s as i32 as i64 as u64,
                            _ => return Err(format!("mov variant at {pc}")),
                        },
                        0xc0 => {
                            if wide {
                                ((d as i64) >> (s & 63)) as u64
                            } else {
                                ((d as u32 as i32) >> (s & 31)) as u32 as u64
                            }
                        }
                        0xd0 => {
                            let be = i.code & 0x08 != 0 || wide;
                            match (be, i.imm) {
                                (false, 16) => d as u16 as u64,
                                (false, 32) => d as u32 as u64,
                                (false, 64) => d,
                                (true, 16) => (d as u16).swap_bytes() as u64,
                                (true, 32) => (d as u32).swap_bytes() as u64,
                                (true, 64) => d.swap_bytes(),
                                _ => return Err(format!("bad byte swap at {pc}")),
                            }
                        }
                        _ => return Err(format!("ALU op {op:#x} at {pc}")),
                    };
                    r[dst] = if wide || op == 0xd0 {
                        v
                    } else {
                        v as u32 as u64
                    };
                }
                0x05 | 0x06 => {
                    let wide = class == 0x05;
                    if op == 0x80 {
                        if i.imm == POISON_IMM && i.src() == 0 {
                            return Ok(Exit::Poison(pc - 1));
                        }
                        if i.src() != 0 {
                            return Err(format!("call with src {} at {pc}", i.src()));
                        }
                        self.helper(i.imm, &mut r)?;
                        continue;
                    }
                    if op == 0x90 {
                        return Ok(Exit::Ok(r[0]));
                    }
                    let s = if i.code & 0x08 != 0 { r[src] } else { imm };
                    let d = r[dst];
                    let (du, su, ds, ss) = if wide {
                        (d, s, d as i64, s as i64)
                    } else {
                        (
                            d as u32 as u64,
                            s as u32 as u64,
                            d as i32 as i64,
                            s as i32 as i64,
                        )
                    };
                    let take = match op {
                        0x00 => true,
                        0x10 => du == su,
                        0x20 => du > su,
                        0x30 => du >= su,
                        0x40 => du & su != 0,
                        0x50 => du != su,
                        0x60 => ds > ss,
                        0x70 => ds >= ss,
                        0xa0 => du < su,
                        0xb0 => du <= su,
                        0xc0 => ds < ss,
                        0xd0 => ds <= ss,
                        _ => return Err(format!("JMP op {op:#x} at {pc}")),
                    };
                    if take {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                0x00 => {
                    if !i.is_ld_imm64() {
                        return Err(format!("LD mode {:#x} at {pc}", i.code));
                    }
                    let hi = insns.get(pc).ok_or("truncated ld_imm64")?;
                    if i.src() != 0 {
                        return Err(format!("unlinked ld_imm64 (src {}) at {pc}", i.src()));
                    }
                    r[dst] = u64::from(i.imm as u32) | (u64::from(hi.imm as u32) << 32);
                    pc += 1;
                }
                0x01..=0x03 => {
                    let len = match i.code & 0x18 {
                        0x00 => 4,
                        0x08 => 2,
                        0x10 => 1,
                        _ => 8,
                    };
                    let mode = i.code & 0xe0;
                    let base = if class == 0x01 { r[src] } else { r[dst] };
                    let addr = base.wrapping_add(i64::from(i.off) as u64);
                    match (class, mode) {
                        (0x01, 0x60) => r[dst] = self.load(addr, len)?,
                        (0x01, 0x80) => {
                            let v = self.load(addr, len)?;
                            r[dst] = match len {
                                1 => v as i8 as i64 as u64,
                                2 => v as i16 as i64 as u64,
                                4 => v as i32 as i64 as u64,
                                _ => v,
                            };
                        }
                        (0x02, 0x60) => self.store(addr, len, imm)?,
                        (0x03, 0x60) => self.store(addr, len, r[src])?,
                        _ => return Err(format!("memory mode {mode:#x} at {pc}")),
                    }
                }
                _ => unreachable!(),
            }
        }
        Err("step limit".into())
    }
}

/// Regions for `elf`'s data sections, and `ld_imm64`s of `prog` pointing into them.
fn link_data(
    elf: &Elf,
    prog: &str,
    insns: &mut [Insn],
    regions: &mut Vec<(u64, Vec<u8>)>,
) -> Result<HashMap<String, u64>, String> {
    let mut bases = HashMap::new();
    let mut next = DATA_BASE;
    for (i, s) in elf.secs.iter().enumerate() {
        let data_like =
            s.name == ".bss" || s.name.starts_with(".data") || s.name.starts_with(".rodata");
        if data_like && (s.kind == 1 || s.kind == 8) {
            let mut buf = vec![0u8; s.size.max(1)];
            if s.kind == 1 {
                buf[..s.size].copy_from_slice(elf.bytes(s));
            }
            regions.push((next, buf));
            bases.insert(i, next);
            next += 0x10_0000;
        }
    }
    let (shndx, start, _) = program(elf, prog);
    for (off, sym) in elf.rels(shndx) {
        if off < start || off >= start + insns.len() * 8 {
            continue;
        }
        let idx = (off - start) / 8;
        let s = &elf.syms[sym];
        let base = *bases.get(&(s.shndx as usize)).ok_or(format!(
            "relocation against {} in section {}",
            s.name, s.shndx
        ))?;
        let i = insns[idx];
        if !i.is_ld_imm64() {
            return Err(format!("relocation at insn {idx} is not an ld_imm64"));
        }
        let addr = base + s.value + i.imm as u32 as u64;
        insns[idx].imm = addr as u32 as i32;
        insns[idx].set_src(0);
        insns[idx + 1].imm = (addr >> 32) as i32;
    }
    let mut names = HashMap::new();
    for s in &elf.syms {
        if let Some(b) = bases.get(&(s.shndx as usize)) {
            names.insert(s.name.clone(), b + s.value);
        }
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------
// The suite

/// One case of the selftest's table.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    obj: String,
    btf: String,
    prog: String,
    fails: bool,
    needs_testmod: bool,
    btfgen_fails: bool,
    input: Vec<u8>,
    output: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

const STUB_TEST_PROGS_H: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <unistd.h>
#include <sys/types.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
typedef int64_t s64; typedef uint64_t u64; typedef int32_t s32; typedef uint32_t u32;
typedef uint16_t u16; typedef uint8_t u8;
#define CHECK(cond, tag, ...) ({ int __r = !!(cond); if (__r) fprintf(stderr, "CHECK %s failed\n", tag); __r; })
#define ASSERT_OK_PTR(p, name) ((p) != NULL)
#define ASSERT_GE(a, b, name) ((a) >= (b))
#define ASSERT_OK(x, name) (!(x))
#define ASSERT_FALSE(x, name) (!(x))
#define CHECK_FAIL(x) (x)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
static struct { bool has_testmod; } env;
static inline bool test__start_subtest(const char *n) { (void)n; return false; }
static inline void test__skip(void) {}
static inline int sys_gettid(void) { return 0; }
static inline void trigger_module_test_read(int len) { (void)len; }
"#;

const DUMP_C: &str = r#"
static void hex(const char *p, int n) { for (int i = 0; i < n; i++) printf("%02x", (unsigned char)p[i]); }
int main(void) {
	for (size_t i = 0; i < ARRAY_SIZE(test_cases); i++) {
		struct core_reloc_test_case t = test_cases[i];
		static char min[4096];
		const char *gen = getenv("BTFGEN_DIR");
		if (gen && t.btf_src_file && !t.run_btfgen_fails) {
			/* as core_reloc_btfgen: the minimized BTF replaces the target first */
			snprintf(min, sizeof(min), "%s/%s.min.btf", gen, t.case_name);
			for (char *c = min + strlen(gen); *c; c++)
				if (*c == ':')
					*c = '_';
			t.btf_src_file = min;
		}
		int err = t.setup ? t.setup(&t) : 0;
		if (err) return 1;
		printf("%s\t%s\t%s\t%s\t%d\t%d\t%d\t", t.case_name, t.bpf_obj_file,
		       t.btf_src_file ? t.btf_src_file : "", t.prog_name, t.fails,
		       t.needs_testmod, t.run_btfgen_fails);
		hex(t.input, t.input_len); printf("\t"); hex(t.output, t.output_len); printf("\n");
	}
	return 0;
}
"#;

/// The case table of `prog_tests/core_reloc.c`, evaluated by compiling the file itself
/// into `dir/dump`. Runs in `objdir`, where the setup functions open the objects by name.
fn case_table(tree: &Path, dir: &Path, objdir: &Path) -> Result<Vec<Case>, String> {
    let st = tree.join("tools/testing/selftests/bpf");
    let stub = dir.join("stub");
    std::fs::create_dir_all(&stub).map_err(|e| e.to_string())?;
    std::fs::write(stub.join("test_progs.h"), STUB_TEST_PROGS_H).map_err(|e| e.to_string())?;
    let src = dir.join("dump.c");
    let body = format!(
        "#include \"{}\"\n{DUMP_C}",
        st.join("prog_tests/core_reloc.c").display()
    );
    std::fs::write(&src, body).map_err(|e| e.to_string())?;
    let exe = dir.join("dump");
    let cc = ["cc", "gcc", "clang"]
        .into_iter()
        .find(|c| tool_ok(c).is_some())
        .ok_or("no host C compiler")?;
    run(Command::new(cc)
        .args(["-O0", "-w", "-I"])
        .arg(&stub)
        .arg("-I")
        .arg(&st)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-lbpf"))
    .map_err(|e| format!("building the case table (needs libbpf-dev): {e}"))?;
    dump_cases(&exe, objdir, None)
}

/// Run the case table dumper; with `btfgen`, the minimized targets in that directory
/// replace the targets before the setup functions run.
fn dump_cases(exe: &Path, objdir: &Path, btfgen: Option<&Path>) -> Result<Vec<Case>, String> {
    let mut cmd = Command::new(exe);
    cmd.current_dir(objdir);
    if let Some(d) = btfgen {
        cmd.env("BTFGEN_DIR", d);
    }
    let out = run(&mut cmd)?;
    let text = String::from_utf8(out).map_err(|e| e.to_string())?;
    let mut cases = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 9, "{line}");
        cases.push(Case {
            name: f[0].into(),
            obj: f[1].into(),
            btf: f[2].into(),
            prog: f[3].into(),
            fails: f[4] == "1",
            needs_testmod: f[5] == "1",
            btfgen_fails: f[6] == "1",
            input: unhex(f[7]),
            output: unhex(f[8]),
        });
    }
    Ok(cases)
}

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    /// Ran and wrote the expected output.
    Pass,
    /// Relocation failed with this error.
    RelocError(String),
    /// Ran into a poisoned instruction (relocation index).
    Poisoned(usize),
    /// The program itself skipped (compiled without a needed clang builtin).
    ProgramSkipped,
    /// Ran, but the output differs.
    Mismatch(String),
}

/// Run one case: relocate `obj`'s program against `targ` (or the given targets), link,
/// interpret on the input, compare.
fn run_case(
    elf: &Elf,
    case: &Case,
    vmlinux: Target<'_>,
    task: Option<Vec<u8>>,
    pid_tgid: u64,
) -> Result<End, String> {
    let rel = match relocate(elf, &case.prog, vmlinux, &[]) {
        Ok(r) => r,
        Err(e) => return Ok(End::RelocError(e)),
    };
    let mut insns = rel.insns.clone();
    let mut regions = vec![
        (STACK_BASE, vec![0u8; STACK_SIZE]),
        (CTX_BASE, vec![0u8; 64]),
    ];
    if let Some(t) = task {
        regions.push((TASK_BASE, t));
    }
    let syms = link_data(elf, &case.prog, &mut insns, &mut regions)?;
    let data = *syms.get("data").ok_or("no `data` symbol")?;
    let mut vm = Vm { regions, pid_tgid };
    vm.mem(data, case.input.len())?.copy_from_slice(&case.input);
    if case.name == "kernel" {
        vm.store(data + 520, 8, pid_tgid)?;
    }
    match vm.run(&insns)? {
        Exit::Poison(pc) => {
            let relo = rel.sites.iter().position(|&s| s == pc || s + 1 == pc);
            return Ok(End::Poisoned(relo.unwrap_or(usize::MAX)));
        }
        Exit::Ok(_) => {}
    }
    // `data.skip` (after in[256] and out[256]), for the programs that have it.
    let has_skip = elf
        .syms
        .iter()
        .find(|s| s.name == "data")
        .is_some_and(|s| s.size > 512);
    if has_skip && vm.load(data + 512, 1)? != 0 {
        return Ok(End::ProgramSkipped);
    }
    let out = vm.mem(data + 256, case.output.len())?.to_vec();
    if out != case.output {
        return Ok(End::Mismatch(format!(
            "output {} != expected {}",
            crate::digest::hex_string(&out),
            crate::digest::hex_string(&case.output)
        )));
    }
    let _ = rel.outcomes.len();
    Ok(End::Pass)
}

/// How libbpf fails each case the selftest marks as failing: the relocation error it
/// reports, or the relocation whose poisoned instruction the verifier reaches. Derived
/// from libbpf 6.12's `bpf_core_calc_relo_insn` on the case's types (see each comment).
fn expected_failure(case: &str) -> Option<(&'static str, Option<&'static str>)> {
    // (mode, substring of our error)
    Some(match case {
        // `struct core_reloc_flavors__err_wrong_name`: "__" is no flavor separator, so
        // there is no candidate; the first read's offset is poisoned.
        "flavors__err_wrong_name" => ("poison", None),
        // Field `a.a.a` missing / an array / container missing / not a struct / an array
        // container: no candidate matches; poisoned.
        "nesting___err_missing_field"
        | "nesting___err_array_field"
        | "nesting___err_missing_container"
        | "nesting___err_nonstruct_container"
        | "nesting___err_array_container" => ("poison", None),
        // Two flavors of the target both match with different offsets.
        "nesting___err_dup_incompat_types" => ("error", Some("ambiguous CO-RE field offset")),
        // `__a` has only `a`, `__b` only `b`: `a.a.a` matches `__a` only, which narrows
        // the candidates; `b.b.b` then matches none: poisoned.
        "nesting___err_partial_match_dups" => ("poison", None),
        // `b.b.b` sits 65 anonymous levels deep: the target spec outgrows
        // BPF_CORE_SPEC_MAX_LEN while matching (libbpf's E2BIG).
        "nesting___err_too_deep" => ("error", Some("too many CO-RE access spec components")),
        // Array too small / not deep enough / not an array / wrong element type / a
        // zero-sized array that is not the last member.
        "arrays___err_too_small"
        | "arrays___err_too_shallow"
        | "arrays___err_non_array"
        | "arrays___err_wrong_val_type"
        | "arrays___err_bad_zero_sz_arr" => ("poison", None),
        // An int where an enum, a ptr where an int, an int where a ptr is expected.
        "primitives___err_non_enum" | "primitives___err_non_int" | "primitives___err_non_ptr" => {
            ("poison", None)
        }
        // A 64-bit field whose bits no 8-byte load covers: libbpf's E2BIG.
        "probed:bitfields___err_too_big_bitfield" | "direct:bitfields___err_too_big_bitfield" => {
            ("error", Some("no load of at most 8 bytes"))
        }
        // Two flavors with the field at the same offset but of different sizes: the
        // offsets agree, the values do not (libbpf's "relocation decision ambiguity").
        "size___err_ambiguous" => ("error", Some("ambiguous CO-RE relocation value")),
        // The enum (flavors) lacks the enumerator the program reads without a guard.
        "enumval___err_missing" | "enum64val___err_missing" => ("poison", None),
        _ => return None,
    })
}

/// A fake task_struct for the `kernel` case, laid out from `pahole` (an implementation
/// independent of this module): pid, tgid, comm and group_leader pointing to itself.
fn fake_task(pid: u32) -> Result<Vec<u8>, String> {
    let layout = pahole_members("task_struct")?;
    let size = layout.get("").ok_or("no task_struct size")?.0;
    let mut t = vec![0u8; size as usize];
    let at = |name: &str| {
        layout
            .get(name)
            .map(|m| m.0 as usize)
            .ok_or(format!("no task_struct.{name}"))
    };
    t[at("pid")?..at("pid")? + 4].copy_from_slice(&pid.to_le_bytes());
    t[at("tgid")?..at("tgid")? + 4].copy_from_slice(&pid.to_le_bytes());
    let comm = at("comm")?;
    t[comm..comm + 11].copy_from_slice(b"test_progs\0");
    let gl = at("group_leader")?;
    t[gl..gl + 8].copy_from_slice(&TASK_BASE.to_le_bytes());
    Ok(t)
}

/// Members of kernel struct `name` as pahole prints them from the host's vmlinux BTF:
/// name -> (byte offset, bit offset within the byte for bitfields, bit size); the key ""
/// holds the struct's size.
fn pahole_members(name: &str) -> Result<HashMap<String, (u32, u32, u32)>, String> {
    let out = run(Command::new("pahole")
        .args(["-C", name, "--suppress_aligned_attribute"])
        .arg("/sys/kernel/btf/vmlinux"))?;
    let text = String::from_utf8_lossy(&out);
    let mut m = HashMap::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        if depth == 1 && opens == 0 {
            // "	type name[:bits];	/* off[: bitoff] size */"
            if let (Some(decl), Some(c)) = (line.split(';').next(), line.split("/*").nth(1)) {
                let decl = decl.trim();
                let (decl, bits) = match decl.rsplit_once(':') {
                    Some((d, b)) if b.trim().parse::<u32>().is_ok() => {
                        (d, b.trim().parse().unwrap())
                    }
                    _ => (decl, 0),
                };
                let ident: String = decl
                    .rsplit(|ch: char| {
                        !(ch.is_alphanumeric() || ch == '_' || ch == '[' || ch == ']')
                    })
                    .next()
                    .unwrap_or("")
                    .split('[')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let nums: Vec<&str> = c.trim().trim_end_matches("*/").split_whitespace().collect();
                if let Some(first) = nums.first() {
                    let (off, bitoff) = match first.split_once(':') {
                        Some((o, b)) => (o.parse().unwrap_or(0), b.parse().unwrap_or(0)),
                        None => (first.parse().unwrap_or(0), 0),
                    };
                    if !ident.is_empty() && first.chars().next().is_some_and(|c| c.is_ascii_digit())
                    {
                        m.entry(ident).or_insert((off, bitoff, bits));
                    }
                }
            }
        }
        if let Some(rest) = line.split("/* size: ").nth(1) {
            if depth == 1 {
                let size = rest
                    .split(',')
                    .next()
                    .unwrap_or("0")
                    .trim()
                    .parse()
                    .unwrap_or(0);
                m.insert(String::new(), (size, 0, 0));
            }
        }
        depth += opens - closes;
    }
    Ok(m)
}

struct Suite {
    _dir: TempDir,
    dir: PathBuf,
    objdir: PathBuf,
    cases: Vec<Case>,
    clang_major: u32,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn prepare_suite() -> Result<Suite, String> {
    let tree =
        linux_tree().ok_or("no Linux 6.12 tree (set BPFLD_LINUX_SRC or run scripts/kernel)")?;
    let (clang, clang_major) = find_clang().ok_or("no clang")?;
    let dir = std::env::temp_dir().join(format!("bpfld-core-reloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let guard = TempDir(dir.clone());
    let inc = bpf_headers(&tree, &dir)?;
    let st = tree.join("tools/testing/selftests/bpf");
    let progs = st.join("progs");
    let objdir = dir.join("obj");
    std::fs::create_dir_all(&objdir).map_err(|e| e.to_string())?;
    let mut jobs = Vec::new();
    for e in std::fs::read_dir(&progs).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        // The module program needs the bpf_testmod module's BTF and a vmlinux.h with it.
        let wanted = (n.starts_with("btf__core_reloc_") || n.starts_with("test_core_reloc_"))
            && n.ends_with(".c")
            && n != "test_core_reloc_module.c";
        if wanted {
            let out = objdir.join(n.replace(".c", ".bpf.o"));
            jobs.push((p, out));
        }
    }
    jobs.sort();
    let uapi = tree.join("tools/include/uapi");
    let errors = compile_all(&clang, &jobs, &[&inc, &uapi, &st, &progs]);
    if !errors.is_empty() {
        return Err(format!(
            "compiling the selftest programs: {}",
            errors.join("\n")
        ));
    }
    let cases = case_table(&tree, &dir, &objdir)?;
    Ok(Suite {
        _dir: guard,
        dir,
        objdir,
        cases,
        clang_major,
    })
}

/// Counts for the report.
#[derive(Default, Debug)]
struct Tally {
    pass: usize,
    fail_as_expected: usize,
    not_covered: Vec<String>,
    problems: Vec<String>,
    relocs: usize,
}

fn check_case(
    suite: &Suite,
    case: &Case,
    targ_path: &Path,
    tally: &mut Tally,
    label: &str,
) -> Result<(), String> {
    let elf = Elf::read(std::fs::read(suite.objdir.join(&case.obj)).map_err(|e| e.to_string())?);
    let targ = read_btf_file(targ_path)?;
    let idx = kernel_index_in(&targ, 1..targ.type_count(), &mut VecAlloc::default())
        .map_err(|e| e.to_string())?;
    let target = Target::new(&targ, &idx).map_err(|e| e.to_string())?;
    if let Ok(r) = relocate(&elf, &case.prog, target, &[]) {
        tally.relocs += r.outcomes.len();
    }
    let end = run_case(&elf, case, target, None, 0)?;
    judge(case, end, tally, label, suite.clang_major);
    Ok(())
}

fn judge(case: &Case, end: End, tally: &mut Tally, label: &str, clang_major: u32) {
    let name = format!("{label}{}", case.name);
    match (case.fails, &end) {
        (false, End::Pass) => tally.pass += 1,
        (_, End::ProgramSkipped) => tally.not_covered.push(format!(
            "{name}: the program skips itself (needs clang >= 15, have {clang_major})"
        )),
        (true, End::RelocError(e)) => match expected_failure(&case.name) {
            Some(("error", Some(want))) if e.contains(want) => {
                std::println!("{name}: fails as libbpf: {e}");
                tally.fail_as_expected += 1
            }
            other => tally.problems.push(format!(
                "{name}: failed with `{e}`, libbpf fails as {other:?}"
            )),
        },
        (true, End::Poisoned(r)) => match expected_failure(&case.name) {
            Some(("poison", _)) => {
                std::println!("{name}: fails as libbpf: reaches the poisoned insn of relo #{r}");
                tally.fail_as_expected += 1
            }
            other => tally.problems.push(format!(
                "{name}: reached poisoned relo #{r}, libbpf fails as {other:?}"
            )),
        },
        (true, _) => tally
            .problems
            .push(format!("{name}: must fail, but {end:?}")),
        (false, _) => tally.problems.push(format!("{name}: {end:?}")),
    }
}

#[test]
fn kernel_core_reloc_suite() {
    let suite = match prepare_suite() {
        Ok(s) => s,
        Err(e) => return skip(&e),
    };
    let t0 = std::time::Instant::now();
    let mut tally = Tally::default();
    let mut pairs = 0;
    for case in &suite.cases {
        if case.needs_testmod {
            tally.not_covered.push(format!(
                "{}: needs the bpf_testmod module's BTF and a vmlinux.h with its types",
                case.name
            ));
            continue;
        }
        if case.btf.is_empty() {
            // The running kernel's BTF: the `kernel` case, against the host vmlinux.
            pairs += 1;
            let vml = match read_btf_file(Path::new("/sys/kernel/btf/vmlinux")) {
                Ok(b) => b,
                Err(e) => {
                    tally.not_covered.push(format!("{}: {e}", case.name));
                    continue;
                }
            };
            let idx = kernel_index_in(&vml, 1..vml.type_count(), &mut VecAlloc::default()).unwrap();
            let target = Target::new(&vml, &idx).unwrap();
            let elf = Elf::read(std::fs::read(suite.objdir.join(&case.obj)).unwrap());
            let pid = 4242u32;
            let task = match fake_task(pid) {
                Ok(t) => t,
                Err(e) => {
                    tally
                        .not_covered
                        .push(format!("{}: no pahole layout: {e}", case.name));
                    continue;
                }
            };
            let end = run_case(
                &elf,
                case,
                target,
                Some(task),
                (u64::from(pid) << 32) | u64::from(pid),
            )
            .unwrap();
            judge(case, end, &mut tally, "", suite.clang_major);
            continue;
        }
        pairs += 1;
        let targ = suite.objdir.join(&case.btf);
        if let Err(e) = check_case(&suite, case, &targ, &mut tally, "") {
            tally.problems.push(format!("{}: {e}", case.name));
        }
    }

    // core_reloc_btfgen: the same against libbpf's minimized target BTF.
    let mut btfgen_pairs = 0;
    let mut btfgen = Tally::default();
    if tool_ok("bpftool").is_some() {
        let gen = suite.objdir.join("btfgen");
        std::fs::create_dir_all(&gen).unwrap();
        let mut made = Vec::new();
        for case in &suite.cases {
            if case.btf.is_empty() || case.btfgen_fails || case.needs_testmod {
                continue;
            }
            let min = gen.join(format!("{}.min.btf", case.name.replace(':', "_")));
            let r = run(Command::new("bpftool")
                .args(["gen", "min_core_btf"])
                .arg(suite.objdir.join(&case.btf))
                .arg(&min)
                .arg(suite.objdir.join(&case.obj)));
            match r {
                Ok(_) => made.push(case.name.clone()),
                Err(e) => btfgen
                    .not_covered
                    .push(format!("btfgen:{}: {e}", case.name)),
            }
        }
        // The expectations again, with the setup functions reading the minimized BTF.
        let cases = dump_cases(&suite.dir.join("dump"), &suite.objdir, Some(&gen)).unwrap();
        for case in cases.iter().filter(|c| made.contains(&c.name)) {
            btfgen_pairs += 1;
            let min = gen.join(format!("{}.min.btf", case.name.replace(':', "_")));
            if let Err(e) = check_case(&suite, case, &min, &mut btfgen, "btfgen:") {
                btfgen.problems.push(format!("btfgen:{}: {e}", case.name));
            }
        }
    } else {
        btfgen.not_covered.push("btfgen: no bpftool".into());
    }

    std::println!(
        "core_reloc suite: {} cases; {pairs} (program, target) pairs run: {} pass, {} fail as libbpf does; {} relocations; {:?}",
        suite.cases.len(),
        tally.pass,
        tally.fail_as_expected,
        tally.relocs,
        t0.elapsed()
    );
    std::println!(
        "core_reloc_btfgen: {btfgen_pairs} pairs: {} pass, {} fail as expected; {} relocations",
        btfgen.pass,
        btfgen.fail_as_expected,
        btfgen.relocs
    );
    for n in tally.not_covered.iter().chain(&btfgen.not_covered) {
        std::println!("not covered: {n}");
    }
    let problems: Vec<&String> = tally.problems.iter().chain(&btfgen.problems).collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Cases the selftest itself would skip under an old clang are skips here too.
    let skipped: Vec<&String> = tally
        .not_covered
        .iter()
        .chain(&btfgen.not_covered)
        .filter(|n| !n.contains("bpf_testmod"))
        .collect();
    if !skipped.is_empty() {
        return skip(&format!(
            "{} core_reloc pairs not covered (install clang-16)",
            skipped.len()
        ));
    }
    assert_eq!(tally.pass + tally.fail_as_expected, pairs, "{tally:?}");
    assert!(pairs >= 75, "{pairs} pairs");
}

// ---------------------------------------------------------------------------------------
// The host's vmlinux BTF

/// Parsed `bpftool btf dump` (raw) of the host vmlinux: struct members (name ->
/// (bits_offset, bitfield_size)) and enumerators, as libbpf (inside bpftool) reads them.
struct BpftoolDump {
    text: String,
}

impl BpftoolDump {
    fn load() -> Result<BpftoolDump, String> {
        let out =
            run(Command::new("bpftool").args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]))?;
        Ok(BpftoolDump {
            text: String::from_utf8_lossy(&out).into_owned(),
        })
    }

    /// The lines of the first type `header` (e.g. `STRUCT 'task_struct'`).
    fn body(&self, header: &str) -> Vec<&str> {
        let mut lines = self
            .text
            .lines()
            .skip_while(|l| !l.contains(&format!("] {header} ")));
        lines.next();
        lines.take_while(|l| l.starts_with('\t')).collect()
    }

    fn attr(line: &str, key: &str) -> Option<u64> {
        line.split(&format!("{key}="))
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// (bits_offset, bitfield_size) of member `m` of struct `s`.
    fn member(&self, s: &str, m: &str) -> Option<(u64, u64)> {
        let line = self
            .body(&format!("STRUCT '{s}'"))
            .into_iter()
            .find(|l| l.trim_start().starts_with(&format!("'{m}' ")))?;
        Some((
            Self::attr(line, "bits_offset")?,
            Self::attr(line, "bitfield_size").unwrap_or(0),
        ))
    }

    fn size(&self, header: &str) -> Option<u64> {
        let line = self
            .text
            .lines()
            .find(|l| l.contains(&format!("] {header} ")))?;
        Self::attr(line, "size")
    }

    fn enumerator(&self, e: &str, v: &str) -> Option<u64> {
        let line = self
            .body(&format!("ENUM '{e}'"))
            .into_iter()
            .find(|l| l.trim_start().starts_with(&format!("'{v}' ")))?;
        Self::attr(line, "val")
    }
}

const VMLINUX_PROG: &str = r#"
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char _license[] SEC("license") = "GPL";

struct out {
	int pid;
	int leader_pid;
	char comm[16];
	unsigned long long reset_on_fork;
	unsigned long long pidtype_tgid;
	int comm_exists;
	int comm_size;
	int task_size;
	int no_such_field_exists;
} out = {};

struct task_struct___old {
	int no_such_field;
};

SEC("raw_tracepoint/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	out.pid = BPF_CORE_READ(t, pid);
	out.leader_pid = BPF_CORE_READ(t, group_leader, pid);
	bpf_core_read_str(&out.comm, sizeof(out.comm), &t->comm);
	out.reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	out.pidtype_tgid = bpf_core_enum_value(enum pid_type, PIDTYPE_TGID);
	out.comm_exists = bpf_core_field_exists(t->comm);
	out.comm_size = bpf_core_field_size(t->comm);
	out.task_size = bpf_core_type_size(struct task_struct);
	out.no_such_field_exists = bpf_core_field_exists(((struct task_struct___old *)t)->no_such_field);
	return 0;
}
"#;

struct Vmlinux {
    _dir: TempDir,
    dir: PathBuf,
    inc: PathBuf,
    clang: String,
    btf: OBtf,
}

fn vmlinux_env(tag: &str) -> Result<Vmlinux, String> {
    let data = std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| format!("/sys/kernel/btf/vmlinux: {e}"))?;
    let n = count_types(&data).map_err(|e| e.to_string())?;
    let btf = Btf::parse(data, vec![0u32; n + 1]).map_err(|e| e.to_string())?;
    let tree =
        linux_tree().ok_or("no Linux 6.12 tree (set BPFLD_LINUX_SRC or run scripts/kernel)")?;
    let (clang, _) = find_clang().ok_or("no clang")?;
    tool_ok("bpftool").ok_or("no bpftool")?;
    let dir = std::env::temp_dir().join(format!("bpfld-core-vmlinux-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let guard = TempDir(dir.clone());
    let inc = bpf_headers(&tree, &dir)?;
    let h = run(Command::new("bpftool").args([
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "c",
    ]))?;
    std::fs::write(dir.join("vmlinux.h"), h).map_err(|e| e.to_string())?;
    Ok(Vmlinux {
        _dir: guard,
        dir,
        inc,
        clang,
        btf,
    })
}

#[test]
fn host_vmlinux_relocations() {
    let env = match vmlinux_env("read") {
        Ok(e) => e,
        Err(e) => return skip(&e),
    };
    let dump = match BpftoolDump::load() {
        Ok(d) => d,
        Err(e) => return skip(&e),
    };
    let src = env.dir.join("read_task.c");
    let obj = env.dir.join("read_task.o");
    std::fs::write(&src, VMLINUX_PROG).unwrap();
    compile_bpf(&env.clang, &src, &obj, &[&env.inc, &env.dir]).unwrap();
    let elf = Elf::read(std::fs::read(&obj).unwrap());

    let t0 = std::time::Instant::now();
    let idx = kernel_index_in(&env.btf, 1..env.btf.type_count(), &mut VecAlloc::default()).unwrap();
    let build = t0.elapsed();
    let target = Target::new(&env.btf, &idx).unwrap();
    let rel = relocate(&elf, "read_task", target, &[]).unwrap();
    std::println!(
        "host vmlinux: {} types, index {} entries, {} bytes ({:.2} bytes/type), built in {build:?}; {} relocations",
        env.btf.type_count(),
        idx.len(),
        idx.bytes(),
        idx.bytes() as f64 / f64::from(env.btf.type_count()),
        rel.outcomes.len()
    );

    // Cross-check the resolved field offsets with bpftool's reading of the same BTF.
    let member = |m: &str| {
        dump.member("task_struct", m)
            .unwrap_or_else(|| panic!("bpftool: task_struct.{m}"))
    };
    let (pid_bits, _) = member("pid");
    let (comm_bits, _) = member("comm");
    let (leader_bits, _) = member("group_leader");
    let (reset_bits, reset_size) = member("sched_reset_on_fork");
    assert_eq!(reset_size, 1);
    let task_size = dump.size("STRUCT 'task_struct'").unwrap();
    let tgid_val = dump.enumerator("pid_type", "PIDTYPE_TGID").unwrap();
    let by_kind = |k: K| rel.outcomes.iter().filter(move |o| o.kind == k);
    let offsets: Vec<u64> = by_kind(K::FieldByteOffset).map(|o| o.new_val).collect();
    for want in [pid_bits / 8, comm_bits / 8, leader_bits / 8] {
        assert!(
            offsets.contains(&want),
            "offset {want} not among {offsets:?}"
        );
    }
    // The bitfield: a u32 load around bit `reset_bits`, shifted to the top and back.
    let reset_byte = reset_bits / 8 / 4 * 4;
    assert!(
        offsets.contains(&reset_byte),
        "{reset_byte} not among {offsets:?}"
    );
    let lshift: Vec<u64> = by_kind(K::FieldLshiftU64).map(|o| o.new_val).collect();
    assert_eq!(lshift, [64 - (reset_bits + 1 - reset_byte * 8)]);
    // One right shift for each signedness branch of BPF_CORE_READ_BITFIELD_PROBED.
    let rshift: Vec<u64> = by_kind(K::FieldRshiftU64).map(|o| o.new_val).collect();
    assert_eq!(rshift, [63, 63]);
    let ev: Vec<u64> = by_kind(K::EnumvalValue).map(|o| o.new_val).collect();
    assert_eq!(ev, [tgid_val]);
    let ts: Vec<u64> = by_kind(K::TypeSize).map(|o| o.new_val).collect();
    assert_eq!(ts, [task_size]);
    let exists: Vec<(u64, bool)> = by_kind(K::FieldExists)
        .map(|o| (o.new_val, o.target.is_some()))
        .collect();
    assert_eq!(exists, [(1, true), (0, false)]);
    assert!(rel.outcomes.iter().all(|o| !o.poison), "{:?}", rel.outcomes);
    // pahole, a third reader of the BTF, agrees on the layout.
    if let Ok(p) = pahole_members("task_struct") {
        assert_eq!(u64::from(p["pid"].0), pid_bits / 8);
        assert_eq!(u64::from(p["comm"].0), comm_bits / 8);
        assert_eq!(u64::from(p[""].0), task_size);
    }

    // Run it on a fake task laid out from bpftool's offsets.
    let mut task = vec![0u8; task_size as usize];
    let put = |t: &mut Vec<u8>, off: u64, b: &[u8]| {
        t[off as usize..off as usize + b.len()].copy_from_slice(b)
    };
    put(&mut task, pid_bits / 8, &4242u32.to_le_bytes());
    put(&mut task, comm_bits / 8, b"bpfld-test\0");
    put(
        &mut task,
        leader_bits / 8,
        &(TASK_BASE + 0x1000_0000).to_le_bytes(),
    );
    task[(reset_bits / 8) as usize] |= 1 << (reset_bits % 8);
    let mut leader = vec![0u8; task_size as usize];
    put(&mut leader, pid_bits / 8, &77u32.to_le_bytes());
    let mut insns = rel.insns.clone();
    let mut regions = vec![
        (STACK_BASE, vec![0u8; STACK_SIZE]),
        (CTX_BASE, vec![0u8; 64]),
        (TASK_BASE, task),
        (TASK_BASE + 0x1000_0000, leader),
    ];
    let syms = link_data(&elf, "read_task", &mut insns, &mut regions).unwrap();
    let mut vm = Vm {
        regions,
        pid_tgid: 0,
    };
    assert_eq!(vm.run(&insns).unwrap(), Exit::Ok(0));
    let out = syms["out"];
    let get = |vm: &mut Vm, off: u64, n: usize| vm.load(out + off, n).unwrap();
    assert_eq!(get(&mut vm, 0, 4), 4242);
    assert_eq!(get(&mut vm, 4, 4), 77);
    assert_eq!(vm.mem(out + 8, 11).unwrap(), b"bpfld-test\0");
    assert_eq!(get(&mut vm, 24, 8), 1);
    assert_eq!(get(&mut vm, 32, 8), tgid_val);
    assert_eq!(get(&mut vm, 40, 4), 1);
    assert_eq!(get(&mut vm, 44, 4), 16);
    assert_eq!(get(&mut vm, 48, 4), task_size);
    assert_eq!(get(&mut vm, 52, 4), 0);
}

/// A generated program with one field offset and one existence relocation for each of
/// the first `n` vmlinux structs that have a plain named member: a large object.
fn many_relocs_source(btf: &OBtf, n: usize) -> (String, usize) {
    let mut body = String::new();
    let mut seen = std::collections::HashSet::new();
    let mut count = 0;
    for id in 1..btf.type_count() {
        if count == n {
            break;
        }
        let t = btf.type_by_id(id).unwrap();
        let name = t.name().unwrap();
        if t.kind() != BtfKind::Struct || name.is_empty() || !seen.insert(name) {
            continue;
        }
        let Some(m) = t
            .members()
            .unwrap()
            .find(|m| m.bitfield_size == 0 && !m.name().unwrap().is_empty())
        else {
            continue;
        };
        let mn = m.name().unwrap();
        body.push_str(&format!(
            "\tv += bpf_core_field_offset(struct {name}, {mn});\n\tv += bpf_core_field_exists(struct {name}, {mn});\n"
        ));
        count += 1;
    }
    let src = format!(
        "#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n#include <bpf/bpf_core_read.h>\n\
         char _license[] SEC(\"license\") = \"GPL\";\nunsigned long long out;\n\
         SEC(\"raw_tracepoint/sys_enter\")\nint many(void *ctx)\n{{\n\tunsigned long long v = 0;\n{body}\tout = v;\n\treturn 0;\n}}\n"
    );
    (src, count * 2)
}

use crate::btf::BtfKind;
use CoreReloKind as K;

#[test]
fn host_vmlinux_timings() {
    let env = match vmlinux_env("many") {
        Ok(e) => e,
        Err(e) => return skip(&e),
    };
    let mut alloc = VecAlloc::default();
    let t0 = std::time::Instant::now();
    let idx = kernel_index_in(&env.btf, 1..env.btf.type_count(), &mut alloc).unwrap();
    let build = t0.elapsed();
    let (src, expect) = many_relocs_source(&env.btf, 2000);
    let c = env.dir.join("many.c");
    let obj = env.dir.join("many.o");
    std::fs::write(&c, src).unwrap();
    if let Err(e) = compile_bpf(&env.clang, &c, &obj, &[&env.inc, &env.dir]) {
        return skip(&format!("generated program does not compile: {e}"));
    }
    let elf = Elf::read(std::fs::read(&obj).unwrap());
    let target = Target::new(&env.btf, &idx).unwrap();
    let t1 = std::time::Instant::now();
    let rel = relocate(&elf, "many", target, &[]).unwrap();
    let per = t1.elapsed() / rel.outcomes.len().max(1) as u32;
    assert_eq!(rel.outcomes.len(), expect);
    assert!(rel.outcomes.iter().all(|o| !o.poison && o.matched >= 1));
    std::println!(
        "host vmlinux ({} build): {} types, {} bytes of BTF; index: {} entries, {} bytes = {:.2} bytes per type, built in {build:?}; \
         {} relocations of {} root types resolved+patched in {:?} ({per:?} per relocation)",
        if cfg!(debug_assertions) { "debug" } else { "release" },
        env.btf.type_count(),
        env.btf.data().len(),
        idx.len(),
        idx.bytes(),
        idx.bytes() as f64 / f64::from(env.btf.type_count()),
        rel.outcomes.len(),
        expect / 2,
        t1.elapsed(),
    );
}

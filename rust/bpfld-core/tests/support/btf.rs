// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! A tiny editor for the `.BTF` section of an object being edited: walk the type
//! records (layout as in `include/uapi/linux/btf.h`), find types and strings by name,
//! patch record words.

use super::elf::{Ed, Sh};

/// BTF kinds used by the tests.
pub const INT: u32 = 1;
/// `BTF_KIND_PTR`.
pub const PTR: u32 = 2;
/// `BTF_KIND_ARRAY`.
pub const ARRAY: u32 = 3;
/// `BTF_KIND_STRUCT`.
pub const STRUCT: u32 = 4;
/// `BTF_KIND_VAR`.
pub const VAR: u32 = 14;
/// `BTF_KIND_DATASEC`.
pub const DATASEC: u32 = 15;

fn extra(kind: u32, vlen: u32) -> usize {
    let v = vlen as usize;
    match kind {
        1 | 14 | 17 => 4,          // INT, VAR, DECL_TAG
        3 => 12,                   // ARRAY
        4 | 5 | 15 | 19 => 12 * v, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => 8 * v,           // ENUM, FUNC_PROTO
        _ => 0,
    }
}

/// One type record.
#[derive(Clone, Copy, Debug)]
pub struct Ty {
    /// Type id.
    pub id: u32,
    /// File offset of the record.
    pub at: usize,
    /// Kind.
    pub kind: u32,
    /// vlen.
    pub vlen: u32,
    /// name_off.
    pub name_off: u32,
}

/// The `.BTF` of an [`Ed`]: where its parts are in the file.
#[derive(Clone, Debug)]
pub struct Btf {
    /// File offset of the BTF header.
    pub base: usize,
    /// File offset of the string section.
    pub strs: usize,
    /// Length of the string section.
    pub str_len: usize,
    /// All types, index = id - 1.
    pub types: Vec<Ty>,
}

impl Btf {
    /// Read the `.BTF` of `e`.
    pub fn of(e: &Ed) -> Btf {
        let s = e.sec(".BTF");
        let base = e.sh(s, Sh::Offset) as usize;
        let hdr_len = e.get(base + 4, 4) as usize;
        let type_off = e.get(base + 8, 4) as usize;
        let type_len = e.get(base + 12, 4) as usize;
        let str_off = e.get(base + 16, 4) as usize;
        let str_len = e.get(base + 20, 4) as usize;
        let mut at = base + hdr_len + type_off;
        let end = at + type_len;
        let mut types = Vec::new();
        while at < end {
            let info = e.get(at + 4, 4) as u32;
            let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            types.push(Ty {
                id: types.len() as u32 + 1,
                at,
                kind,
                vlen,
                name_off: e.get(at, 4) as u32,
            });
            at += 12 + extra(kind, vlen);
        }
        Btf {
            base,
            strs: base + hdr_len + str_off,
            str_len,
            types,
        }
    }

    /// The string at `off`.
    pub fn str(&self, e: &Ed, off: u32) -> String {
        let s = self.strs + off as usize;
        let n = e.b[s..].iter().position(|&c| c == 0).unwrap();
        String::from_utf8_lossy(&e.b[s..s + n]).into_owned()
    }

    /// The type called `name` of `kind`.
    pub fn find(&self, e: &Ed, name: &str, kind: u32) -> Ty {
        *self
            .types
            .iter()
            .find(|t| t.kind == kind && self.str(e, t.name_off) == name)
            .unwrap_or_else(|| panic!("no BTF type {name} of kind {kind}"))
    }

    /// Type `id`.
    pub fn ty(&self, id: u32) -> Ty {
        self.types[id as usize - 1]
    }

    /// The ARRAY types with `nelems == n`.
    pub fn arrays_of(&self, e: &Ed, n: u64) -> Vec<Ty> {
        self.types
            .iter()
            .filter(|t| t.kind == ARRAY && e.get(t.at + 20, 4) == n)
            .copied()
            .collect()
    }

    /// File offset of member/entry `k` of a STRUCT or DATASEC record (12 bytes each).
    pub fn member_at(t: &Ty, k: usize) -> usize {
        t.at + 12 + 12 * k
    }

    /// Index of the member of struct `t` called `name`.
    pub fn member(&self, e: &Ed, t: &Ty, name: &str) -> usize {
        (0..t.vlen as usize)
            .find(|&k| self.str(e, e.get(Self::member_at(t, k), 4) as u32) == name)
            .unwrap_or_else(|| panic!("no member {name}"))
    }

    /// The struct type of the BTF map definition `map` (VAR -> STRUCT).
    pub fn map_def(&self, e: &Ed, map: &str) -> Ty {
        let v = self.find(e, map, VAR);
        let mut t = self.ty(e.get(v.at + 8, 4) as u32);
        // Skip modifiers and typedefs (CONST, VOLATILE, TYPEDEF, RESTRICT, TYPE_TAG).
        while matches!(t.kind, 8 | 9 | 10 | 11 | 18) {
            t = self.ty(e.get(t.at + 8, 4) as u32);
        }
        t
    }

    /// Replace the string `from` (a whole string of the section) with `to`, same length.
    pub fn rename(&self, e: &mut Ed, from: &str, to: &str) {
        assert_eq!(from.len(), to.len());
        let pat: Vec<u8> = [b"\0", from.as_bytes(), b"\0"].concat();
        let s = &e.b[self.strs..self.strs + self.str_len];
        let at = s
            .windows(pat.len())
            .position(|w| w == &pat[..])
            .unwrap_or_else(|| panic!("no BTF string {from}"));
        let at = self.strs + at + 1;
        e.b[at..at + to.len()].copy_from_slice(to.as_bytes());
    }
}

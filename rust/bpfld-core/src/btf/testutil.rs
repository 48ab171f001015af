// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Test-only builders for BTF and .BTF.ext blobs, and parse shorthands.

use std::vec;
use std::vec::Vec;

use super::*;
use crate::error::{Ctx, Error, Kind, Result};
use crate::mem::{Alloc, VecAlloc};

/// The parsed BTF type tests use.
pub type VBtf = Btf<Vec<u8>, Vec<u32>>;

/// A BTF blob under construction: raw records and strings, no validation.
#[derive(Clone, Debug)]
pub struct B {
    pub strs: Vec<u8>,
    pub types: Vec<u8>,
    pub n: u32,
    /// First id of this blob (1, or the base's type count for split BTF).
    pub first: u32,
    /// String offsets added by `s` are shifted by this (split BTF).
    pub str_base: u32,
}

pub fn info(kind: u32, vlen: u32, kflag: bool) -> u32 {
    (kind << 24) | vlen | if kflag { 1 << 31 } else { 0 }
}

impl B {
    pub fn new() -> Self {
        B {
            strs: vec![0],
            types: Vec::new(),
            n: 0,
            first: 1,
            str_base: 0,
        }
    }

    /// A split blob on top of a base with `base_types` ids and `base_str_len` string bytes.
    pub fn split(base_types: u32, base_str_len: u32) -> Self {
        B {
            strs: Vec::new(),
            types: Vec::new(),
            n: 0,
            first: base_types,
            str_base: base_str_len,
        }
    }

    /// Add a string (0 for ""), returning its offset.
    pub fn s(&mut self, s: &str) -> u32 {
        self.sb(s.as_bytes())
    }

    pub fn sb(&mut self, s: &[u8]) -> u32 {
        // "" is offset 0, also in split BTF, where it is the base's first byte.
        if s.is_empty() {
            return 0;
        }
        let off = self.strs.len() as u32 + self.str_base;
        self.strs.extend_from_slice(s);
        self.strs.push(0);
        off
    }

    /// Append a raw record; returns its id.
    pub fn raw(&mut self, name_off: u32, info: u32, sot: u32, extra: &[u32]) -> u32 {
        for w in [name_off, info, sot].iter().chain(extra) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.n += 1;
        self.first + self.n - 1
    }

    pub fn int(&mut self, name: &str, size: u32, enc: u32, bits: u32) -> u32 {
        let n = self.s(name);
        self.raw(n, info(BTF_KIND_INT, 0, false), size, &[(enc << 24) | bits])
    }

    pub fn refk(&mut self, kind: u32, name: &str, t: u32) -> u32 {
        let n = self.s(name);
        self.raw(n, info(kind, 0, false), t, &[])
    }

    pub fn ptr(&mut self, t: u32) -> u32 {
        self.refk(BTF_KIND_PTR, "", t)
    }

    pub fn typedef(&mut self, name: &str, t: u32) -> u32 {
        self.refk(BTF_KIND_TYPEDEF, name, t)
    }

    pub fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
        self.raw(0, info(BTF_KIND_ARRAY, 0, false), 0, &[elem, index, nelems])
    }

    /// STRUCT/UNION with members (name, type, raw offset word).
    pub fn composite(
        &mut self,
        kind: u32,
        name: &str,
        size: u32,
        kflag: bool,
        members: &[(&str, u32, u32)],
    ) -> u32 {
        let n = self.s(name);
        let mut extra = Vec::new();
        for &(mn, t, off) in members {
            extra.extend([self.s(mn), t, off]);
        }
        self.raw(n, info(kind, members.len() as u32, kflag), size, &extra)
    }

    pub fn struct_(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.composite(BTF_KIND_STRUCT, name, size, false, members)
    }

    pub fn enum_(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, i32)]) -> u32 {
        let n = self.s(name);
        let mut extra = Vec::new();
        for &(vn, v) in vals {
            extra.extend([self.s(vn), v as u32]);
        }
        self.raw(
            n,
            info(BTF_KIND_ENUM, vals.len() as u32, signed),
            size,
            &extra,
        )
    }

    pub fn enum64(&mut self, name: &str, size: u32, signed: bool, vals: &[(&str, u64)]) -> u32 {
        let n = self.s(name);
        let mut extra = Vec::new();
        for &(vn, v) in vals {
            extra.extend([self.s(vn), v as u32, (v >> 32) as u32]);
        }
        self.raw(
            n,
            info(BTF_KIND_ENUM64, vals.len() as u32, signed),
            size,
            &extra,
        )
    }

    pub fn fwd(&mut self, name: &str, union: bool) -> u32 {
        let n = self.s(name);
        self.raw(n, info(BTF_KIND_FWD, 0, union), 0, &[])
    }

    pub fn func(&mut self, name: &str, proto: u32, linkage: u32) -> u32 {
        let n = self.s(name);
        self.raw(n, info(BTF_KIND_FUNC, linkage, false), proto, &[])
    }

    pub fn proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let mut extra = Vec::new();
        for &(pn, t) in params {
            extra.extend([self.s(pn), t]);
        }
        self.raw(
            0,
            info(BTF_KIND_FUNC_PROTO, params.len() as u32, false),
            ret,
            &extra,
        )
    }

    pub fn var(&mut self, name: &str, t: u32, linkage: u32) -> u32 {
        let n = self.s(name);
        self.raw(n, info(BTF_KIND_VAR, 0, false), t, &[linkage])
    }

    pub fn datasec(&mut self, name: &str, size: u32, entries: &[(u32, u32, u32)]) -> u32 {
        let n = self.s(name);
        let extra: Vec<u32> = entries.iter().flat_map(|&(t, o, s)| [t, o, s]).collect();
        self.raw(
            n,
            info(BTF_KIND_DATASEC, entries.len() as u32, false),
            size,
            &extra,
        )
    }

    pub fn float(&mut self, name: &str, size: u32) -> u32 {
        let n = self.s(name);
        self.raw(n, info(BTF_KIND_FLOAT, 0, false), size, &[])
    }

    pub fn decl_tag(&mut self, value: &str, t: u32, idx: i32) -> u32 {
        let n = self.s(value);
        self.raw(n, info(BTF_KIND_DECL_TAG, 0, false), t, &[idx as u32])
    }

    /// Header + types + strings, laid out as clang and the kernel do.
    pub fn build(&self) -> Vec<u8> {
        let mut b = Vec::new();
        let tl = self.types.len() as u32;
        b.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for w in [24u32, 0, tl, tl, self.strs.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&self.types);
        b.extend_from_slice(&self.strs);
        b
    }
}

/// Count, allocate through the allocator model, parse.
pub fn parse(blob: Vec<u8>) -> Result<'static, VBtf> {
    let n = count_types(&blob)?;
    let offs = VecAlloc::default().alloc::<u32>(n + 1)?;
    Btf::parse(blob, offs)
}

pub fn parse_split<BD, BO>(blob: Vec<u8>, base: &Btf<BD, BO>) -> Result<'static, VBtf>
where
    BD: core::ops::Deref<Target = [u8]>,
    BO: core::ops::Deref<Target = [u32]>,
{
    let n = count_types(&blob)?;
    Btf::parse_split(blob, vec![0u32; n + 1], base)
}

/// Ids of the sample BTF, by name.
pub mod ids {
    pub const INT: u32 = 1;
    pub const UINT: u32 = 2;
    pub const PTR_INT: u32 = 3;
    pub const CONST_INT: u32 = 4;
    pub const VOLATILE_CONST: u32 = 5;
    pub const RESTRICT_PTR: u32 = 6;
    pub const TYPEDEF_U32: u32 = 7;
    pub const TYPE_TAG: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const STRUCT_PT: u32 = 10;
    pub const UNION_U: u32 = 11;
    pub const ENUM_E: u32 = 12;
    pub const ENUM64: u32 = 13;
    pub const FWD: u32 = 14;
    pub const PROTO: u32 = 15;
    pub const FUNC: u32 = 16;
    pub const VAR_G: u32 = 17;
    pub const VAR_S: u32 = 18;
    pub const VAR_HID: u32 = 19;
    pub const DATASEC_DATA: u32 = 20;
    pub const FLOAT: u32 = 21;
    pub const TAG: u32 = 22;
    pub const MEMBER_TAG: u32 = 23;
    pub const VARARG_PROTO: u32 = 24;
    pub const VAR_EXT: u32 = 25;
    pub const KCONFIG: u32 = 26;
    pub const KFUNC: u32 = 27;
    pub const KSYMS: u32 = 28;
    pub const LAST: u32 = 28;
}

/// One type of every kind, as clang leaves them: DATASEC size 0, global VARs at offset 0
/// (static ones at their offset), extern linkage.
pub fn sample() -> B {
    let mut b = B::new();
    assert_eq!(b.int("int", 4, 1, 32), ids::INT);
    assert_eq!(b.int("unsigned int", 4, 0, 32), ids::UINT);
    assert_eq!(b.ptr(ids::INT), ids::PTR_INT);
    assert_eq!(b.refk(BTF_KIND_CONST, "", ids::INT), ids::CONST_INT);
    assert_eq!(
        b.refk(BTF_KIND_VOLATILE, "", ids::CONST_INT),
        ids::VOLATILE_CONST
    );
    assert_eq!(
        b.refk(BTF_KIND_RESTRICT, "", ids::PTR_INT),
        ids::RESTRICT_PTR
    );
    assert_eq!(b.typedef("u32", ids::UINT), ids::TYPEDEF_U32);
    assert_eq!(b.refk(BTF_KIND_TYPE_TAG, "user", ids::INT), ids::TYPE_TAG);
    assert_eq!(b.array(ids::INT, ids::UINT, 4), ids::ARRAY);
    assert_eq!(
        b.composite(
            BTF_KIND_STRUCT,
            "pt",
            28,
            true,
            &[
                ("a", ids::INT, 3 << 24),
                ("b", ids::INT, (5 << 24) | 3),
                ("c", ids::ARRAY, 64),
                ("", ids::UNION_U, 192)
            ]
        ),
        ids::STRUCT_PT
    );
    assert_eq!(
        b.composite(
            BTF_KIND_UNION,
            "u",
            4,
            false,
            &[("x", ids::INT, 0), ("y", ids::TYPEDEF_U32, 0)]
        ),
        ids::UNION_U
    );
    assert_eq!(
        b.enum_("e", 4, true, &[("E_NEG", -1), ("E_TWO", 2)]),
        ids::ENUM_E
    );
    assert_eq!(
        b.enum64("e64", 8, false, &[("BIG", 1 << 40), ("MAX", u64::MAX)]),
        ids::ENUM64
    );
    assert_eq!(b.fwd("fw", true), ids::FWD);
    assert_eq!(
        b.proto(ids::INT, &[("p", ids::PTR_INT), ("n", ids::TYPEDEF_U32)]),
        ids::PROTO
    );
    assert_eq!(b.func("f", ids::PROTO, 1), ids::FUNC);
    assert_eq!(b.var("g", ids::INT, 1), ids::VAR_G);
    assert_eq!(b.var("s", ids::ARRAY, 0), ids::VAR_S);
    assert_eq!(b.var("hid", ids::INT, 1), ids::VAR_HID);
    assert_eq!(
        b.datasec(
            ".data",
            0,
            &[
                (ids::VAR_G, 0, 4),
                (ids::VAR_S, 8, 16),
                (ids::VAR_HID, 0, 4)
            ]
        ),
        ids::DATASEC_DATA
    );
    assert_eq!(b.float("double", 8), ids::FLOAT);
    assert_eq!(b.decl_tag("tagged", ids::STRUCT_PT, -1), ids::TAG);
    assert_eq!(b.decl_tag("mtag", ids::STRUCT_PT, 1), ids::MEMBER_TAG);
    assert_eq!(
        b.proto(0, &[("fmt", ids::PTR_INT), ("", 0)]),
        ids::VARARG_PROTO
    );
    assert_eq!(b.var("CONFIG_X", ids::INT, 2), ids::VAR_EXT);
    assert_eq!(
        b.datasec(".kconfig", 0, &[(ids::VAR_EXT, 0, 4)]),
        ids::KCONFIG
    );
    assert_eq!(b.func("bpf_kf", ids::PROTO, 2), ids::KFUNC);
    assert_eq!(b.datasec(".ksyms", 0, &[(ids::KFUNC, 0, 0)]), ids::KSYMS);
    b
}

/// The error of a failed result.
pub fn err<T: core::fmt::Debug>(r: Result<'_, T>) -> Error<'_> {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// Assert a `Malformed(msg)` error, with `Ctx::BtfType(id)` among its contexts if given.
#[track_caller]
pub fn assert_malformed<T: core::fmt::Debug>(r: Result<'_, T>, msg: &str, id: Option<u32>) {
    let e = err(r);
    assert_eq!(
        e.kind(),
        Kind::Malformed(msg_static(msg)),
        "full error: {e}"
    );
    if let Some(id) = id {
        assert!(
            e.contexts().any(|c| *c == Ctx::BtfType(id)),
            "no btf type [{id}] in {e}"
        );
    }
}

fn msg_static(m: &str) -> &'static str {
    std::boxed::Box::leak(std::string::String::from(m).into_boxed_str())
}

/// Blocks of an info subsection: (section name offset, records as words).
pub type ExtBlocks = Vec<(u32, Vec<Vec<u32>>)>;

/// A .BTF.ext under construction: per subsection, a record size (in words) and blocks of
/// records (each a list of words).
#[derive(Clone, Debug, Default)]
pub struct ExtB {
    pub hdr_len: u32,
    pub subs: [Option<(u32, ExtBlocks)>; 3],
}

impl ExtB {
    pub fn new() -> Self {
        ExtB {
            hdr_len: 32,
            subs: [None, None, None],
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for s in &self.subs {
            let mut body = Vec::new();
            if let Some((rec_words, blocks)) = s {
                body.extend_from_slice(&(rec_words * 4).to_le_bytes());
                for (name, recs) in blocks {
                    body.extend_from_slice(&name.to_le_bytes());
                    body.extend_from_slice(&(recs.len() as u32).to_le_bytes());
                    for r in recs {
                        assert_eq!(r.len() as u32, *rec_words);
                        for w in r {
                            body.extend_from_slice(&w.to_le_bytes());
                        }
                    }
                }
            }
            bodies.push(body);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&self.hdr_len.to_le_bytes());
        let mut off = 0u32;
        let mut hdr_words = Vec::new();
        for b in &bodies {
            hdr_words.push(off);
            hdr_words.push(b.len() as u32);
            off += b.len() as u32;
        }
        let n_words = ((self.hdr_len - 8) / 4) as usize;
        for i in 0..n_words {
            out.extend_from_slice(&hdr_words.get(i).copied().unwrap_or(0).to_le_bytes());
        }
        for b in &bodies {
            out.extend_from_slice(b);
        }
        out
    }
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Tests of the BTF module: crafted blobs for every validation path, fixups, split BTF,
//! .BTF.ext, the host's vmlinux BTF, real clang output, and random mutations.

use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::testutil::*;
use super::*;
use crate::error::{Ctx, Kind, What};

fn t<'a>(btf: &'a VBtf, id: u32) -> Type<'a> {
    btf.type_by_id(id).unwrap()
}

#[test]
fn sample_reads_every_kind() {
    let btf = parse(sample().build()).unwrap();
    assert_eq!(btf.type_count(), ids::LAST + 1);
    assert!(!btf.is_split());

    let v = t(&btf, 0);
    assert_eq!(
        (v.kind(), v.name().unwrap(), v.size(), v.ref_type()),
        (BtfKind::Void, "", None, None)
    );

    let i = t(&btf, ids::INT);
    assert_eq!(
        (i.kind(), i.name().unwrap(), i.size()),
        (BtfKind::Int, "int", Some(4))
    );
    let e = i.int().unwrap();
    assert!(e.is_signed() && !e.is_char() && !e.is_bool());
    assert_eq!((e.bits, e.offset), (32, 0));
    assert_eq!(t(&btf, ids::UINT).name().unwrap(), "unsigned int");
    assert!(!t(&btf, ids::UINT).int().unwrap().is_signed());

    let p = t(&btf, ids::PTR_INT);
    assert_eq!(
        (p.kind(), p.ref_type(), p.size(), p.name().unwrap()),
        (BtfKind::Ptr, Some(ids::INT), None, "")
    );
    assert_eq!(t(&btf, ids::TYPEDEF_U32).name().unwrap(), "u32");
    assert_eq!(t(&btf, ids::TYPE_TAG).name().unwrap(), "user");
    assert_eq!(t(&btf, ids::TYPE_TAG).kind(), BtfKind::TypeTag);

    assert_eq!(
        t(&btf, ids::ARRAY).array().unwrap(),
        Array {
            elem: ids::INT,
            index: ids::UINT,
            nelems: 4
        }
    );

    let s = t(&btf, ids::STRUCT_PT);
    assert!(s.kind_flag());
    let m: Vec<_> = s
        .members()
        .unwrap()
        .map(|m| (m.name().unwrap(), m.type_id, m.bit_offset, m.bitfield_size))
        .collect();
    assert_eq!(
        m,
        [
            ("a", ids::INT, 0, 3),
            ("b", ids::INT, 3, 5),
            ("c", ids::ARRAY, 64, 0),
            ("", ids::UNION_U, 192, 0)
        ]
    );
    assert_eq!(s.members().unwrap().len(), 4);
    assert_eq!(s.members().unwrap().total(), 4);
    assert_eq!(s.members().unwrap().get(1).unwrap().name().unwrap(), "b");
    assert!(s.members().unwrap().get(4).is_none());
    let u: Vec<_> = t(&btf, ids::UNION_U)
        .members()
        .unwrap()
        .map(|m| (m.name().unwrap(), m.bit_offset))
        .collect();
    assert_eq!(u, [("x", 0), ("y", 0)]);

    let en = t(&btf, ids::ENUM_E);
    let vals: Vec<_> = en
        .enum_values()
        .unwrap()
        .map(|v| (v.name().unwrap(), v.as_i64(), v.signed))
        .collect();
    assert_eq!(vals, [("E_NEG", -1, true), ("E_TWO", 2, true)]);
    let vals: Vec<_> = t(&btf, ids::ENUM64)
        .enum_values()
        .unwrap()
        .map(|v| (v.name().unwrap(), v.as_u64(), v.signed))
        .collect();
    assert_eq!(vals, [("BIG", 1 << 40, false), ("MAX", u64::MAX, false)]);

    assert!(t(&btf, ids::FWD).kind_flag());
    let proto = t(&btf, ids::PROTO);
    assert_eq!(proto.ref_type(), Some(ids::INT));
    let ps: Vec<_> = proto
        .params()
        .unwrap()
        .map(|p| (p.name().unwrap(), p.type_id))
        .collect();
    assert_eq!(ps, [("p", ids::PTR_INT), ("n", ids::TYPEDEF_U32)]);
    let va: Vec<_> = t(&btf, ids::VARARG_PROTO)
        .params()
        .unwrap()
        .map(|p| p.is_vararg())
        .collect();
    assert_eq!(va, [false, true]);

    assert_eq!(
        t(&btf, ids::FUNC).func().unwrap(),
        Func {
            proto: ids::PROTO,
            linkage: BTF_FUNC_GLOBAL
        }
    );
    assert_eq!(t(&btf, ids::KFUNC).func().unwrap().linkage, BTF_FUNC_EXTERN);
    assert_eq!(
        t(&btf, ids::VAR_S).var().unwrap(),
        Var {
            type_id: ids::ARRAY,
            linkage: BTF_VAR_STATIC
        }
    );
    let si: Vec<_> = t(&btf, ids::DATASEC_DATA).secinfos().unwrap().collect();
    assert_eq!(si.len(), 3);
    assert_eq!(
        si[1],
        VarSecinfo {
            type_id: ids::VAR_S,
            offset: 8,
            size: 16
        }
    );
    assert_eq!(t(&btf, ids::DATASEC_DATA).name().unwrap(), ".data");
    assert_eq!(t(&btf, ids::FLOAT).size(), Some(8));
    assert_eq!(
        t(&btf, ids::TAG).decl_tag().unwrap(),
        DeclTag {
            type_id: ids::STRUCT_PT,
            component_idx: -1
        }
    );
    assert_eq!(
        t(&btf, ids::MEMBER_TAG).decl_tag().unwrap().component_idx,
        1
    );

    // Asking a view for the wrong kind names the type.
    assert_malformed(
        t(&btf, ids::INT).members(),
        "not a STRUCT or UNION",
        Some(ids::INT),
    );
    assert_malformed(
        t(&btf, ids::INT).enum_values(),
        "not an ENUM or ENUM64",
        Some(ids::INT),
    );
    assert_malformed(
        t(&btf, ids::INT).params(),
        "not a FUNC_PROTO",
        Some(ids::INT),
    );
    assert_malformed(t(&btf, ids::INT).array(), "not an ARRAY", Some(ids::INT));
    assert_malformed(t(&btf, ids::INT).var(), "not a VAR", Some(ids::INT));
    assert_malformed(
        t(&btf, ids::INT).secinfos(),
        "not a DATASEC",
        Some(ids::INT),
    );
    assert_malformed(
        t(&btf, ids::PTR_INT).int(),
        "not an INT",
        Some(ids::PTR_INT),
    );
    assert_malformed(
        t(&btf, ids::INT).decl_tag(),
        "not a DECL_TAG",
        Some(ids::INT),
    );
    assert_malformed(t(&btf, ids::INT).func(), "not a FUNC", Some(ids::INT));

    // Out-of-range lookups.
    let e = err(btf.type_by_id(ids::LAST + 1));
    assert_eq!(e.kind(), Kind::NotFound("BTF type id"));
    assert_eq!(
        format!("{e}"),
        format!("btf type [{}]: BTF type id not found", ids::LAST + 1)
    );
    assert!(btf.type_by_id(u32::MAX).is_err());
    assert_malformed(
        btf.name_at(100_000),
        "string offset outside the BTF string section",
        None,
    );
    assert_eq!(btf.name_at(1).unwrap(), "int");
    assert_eq!(btf.name_at(2).unwrap(), "nt");
}

#[test]
fn lookups_and_resolution() {
    let mut b = sample();
    let arr2 = b.array(ids::ARRAY, ids::INT, 3); // int[3][4]
    let cyc1 = b.typedef("cyc_a", arr2 + 2);
    let cyc2 = b.typedef("cyc_b", cyc1);
    let mut deep = ids::INT;
    for _ in 0..40 {
        deep = b.refk(BTF_KIND_CONST, "", deep);
    }
    let huge = b.array(ids::INT, ids::INT, 0x8000_0000);
    let btf = parse(b.build()).unwrap();

    assert_eq!(btf.resolve_size(ids::INT).unwrap(), 4);
    assert_eq!(btf.resolve_size(ids::PTR_INT).unwrap(), 8);
    assert_eq!(btf.resolve_size(ids::RESTRICT_PTR).unwrap(), 8);
    assert_eq!(btf.resolve_size(ids::VOLATILE_CONST).unwrap(), 4);
    assert_eq!(btf.resolve_size(ids::TYPEDEF_U32).unwrap(), 4);
    assert_eq!(btf.resolve_size(ids::ARRAY).unwrap(), 16);
    assert_eq!(btf.resolve_size(arr2).unwrap(), 48);
    assert_eq!(btf.resolve_size(ids::STRUCT_PT).unwrap(), 28);
    assert_eq!(btf.resolve_size(ids::VAR_S).unwrap(), 16);
    assert_eq!(btf.resolve_size(ids::TAG).unwrap(), 28);
    assert_eq!(btf.resolve_size(ids::ENUM64).unwrap(), 8);
    assert_eq!(btf.resolve_size(ids::FLOAT).unwrap(), 8);
    assert_malformed(
        btf.resolve_size(ids::FWD),
        "type has no size",
        Some(ids::FWD),
    );
    assert_malformed(
        btf.resolve_size(ids::FUNC),
        "type has no size",
        Some(ids::FUNC),
    );
    assert_malformed(btf.resolve_size(0), "type has no size", Some(0));
    assert_malformed(
        btf.resolve_size(huge),
        "type size overflows u32",
        Some(huge),
    );
    assert_malformed(btf.resolve_size(cyc2), "type reference cycle", Some(cyc2));
    assert_malformed(
        btf.skip_mods_and_typedefs(cyc1),
        "type reference cycle",
        Some(cyc1),
    );
    let e = err(btf.resolve_size(deep));
    assert_eq!(
        e.kind(),
        Kind::Limit {
            what: "type reference depth",
            value: 33,
            max: 32
        }
    );
    assert!(btf.type_by_id(9999).is_err() && btf.resolve_size(9999).is_err());

    assert_eq!(
        btf.skip_mods_and_typedefs(ids::VOLATILE_CONST)
            .unwrap()
            .id(),
        ids::INT
    );
    assert_eq!(
        btf.skip_mods_and_typedefs(ids::TYPEDEF_U32).unwrap().id(),
        ids::UINT
    );
    assert_eq!(
        btf.skip_mods_and_typedefs(ids::TYPE_TAG).unwrap().id(),
        ids::INT
    );
    assert_eq!(
        btf.skip_mods_and_typedefs(ids::PTR_INT).unwrap().id(),
        ids::PTR_INT
    );

    assert_eq!(
        btf.find_by_name_kind("pt", BtfKind::Struct).unwrap(),
        Some(ids::STRUCT_PT)
    );
    assert_eq!(btf.find_by_name_kind("pt", BtfKind::Union).unwrap(), None);
    assert_eq!(
        btf.find_by_name_kind(".ksyms", BtfKind::Datasec).unwrap(),
        Some(ids::KSYMS)
    );
    assert_eq!(
        btf.find_by_name_kind("void", BtfKind::Void).unwrap(),
        Some(0)
    );
    assert_eq!(btf.find_by_name_kind("nope", BtfKind::Int).unwrap(), None);
}

/// A blob with `int` as type 1 plus whatever `f` adds; returns it and `f`'s id.
fn with(f: impl FnOnce(&mut B) -> u32) -> (Vec<u8>, u32) {
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    let id = f(&mut b);
    (b.build(), id)
}

type Case = (&'static str, Box<dyn Fn(&mut B) -> u32>);

fn named(b: &mut B, name: &str, kind: u32, vlen: u32, kflag: bool, sot: u32, extra: &[u32]) -> u32 {
    let n = b.s(name);
    b.raw(n, info(kind, vlen, kflag), sot, extra)
}

/// One bad record per error of the type section, with the error's message.
fn record_cases() -> Vec<Case> {
    let long = "a".repeat(513);
    vec![
        (
            "BTF type info has unknown bits set",
            Box::new(|b| b.raw(0, info(BTF_KIND_PTR, 0, false) | 1 << 16, 1, &[])),
        ),
        (
            "vlen is not 0 for this kind",
            Box::new(|b| named(b, "x", BTF_KIND_INT, 1, false, 4, &[32])),
        ),
        (
            "kind_flag is not allowed for this kind",
            Box::new(|b| named(b, "x", BTF_KIND_INT, 0, true, 4, &[32])),
        ),
        (
            "INT encoding has unknown bits set",
            Box::new(|b| b.int("x", 4, 0, (1 << 28) | 32)),
        ),
        (
            "INT bits + offset exceed 128",
            Box::new(|b| b.int("x", 16, 0, (1 << 16) | 128)),
        ),
        (
            "INT bits + offset exceed its size",
            Box::new(|b| b.int("x", 2, 0, 17)),
        ),
        (
            "name must be empty for this kind",
            Box::new(|b| b.refk(BTF_KIND_PTR, "p", 1)),
        ),
        (
            "name must be empty for this kind",
            Box::new(|b| b.refk(BTF_KIND_CONST, "c", 1)),
        ),
        (
            "referenced type id beyond the last type",
            Box::new(|b| b.ptr(99)),
        ),
        (
            "name is not a valid identifier",
            Box::new(|b| b.typedef("1abc", 1)),
        ),
        (
            "name must not be empty for this kind",
            Box::new(|b| b.typedef("", 1)),
        ),
        (
            "name must not be empty for this kind",
            Box::new(|b| b.refk(BTF_KIND_TYPE_TAG, "", 1)),
        ),
        (
            "name longer than 512 bytes",
            Box::new(move |b| b.typedef(&long, 1)),
        ),
        (
            "ARRAY size field is not 0",
            Box::new(|b| b.raw(0, info(BTF_KIND_ARRAY, 0, false), 4, &[1, 1, 1])),
        ),
        ("array element type is void", Box::new(|b| b.array(0, 1, 1))),
        ("array index type is void", Box::new(|b| b.array(1, 0, 1))),
        (
            "array element type id beyond the last type",
            Box::new(|b| b.array(50, 1, 1)),
        ),
        (
            "array index type id beyond the last type",
            Box::new(|b| b.array(1, 50, 1)),
        ),
        (
            "name must be empty for this kind",
            Box::new(|b| named(b, "arr", BTF_KIND_ARRAY, 0, false, 0, &[1, 1, 1])),
        ),
        (
            "name is not a valid identifier",
            Box::new(|b| b.struct_("a-b", 4, &[])),
        ),
        (
            "member name is not a valid identifier",
            Box::new(|b| b.struct_("s", 4, &[("m m", 1, 0)])),
        ),
        (
            "member type is void",
            Box::new(|b| b.struct_("s", 4, &[("m", 0, 0)])),
        ),
        (
            "member type id beyond the last type",
            Box::new(|b| b.struct_("s", 4, &[("m", 77, 0)])),
        ),
        (
            "union member offset is not 0",
            Box::new(|b| b.composite(BTF_KIND_UNION, "u", 4, false, &[("a", 1, 0), ("b", 1, 8)])),
        ),
        (
            "member offsets decrease",
            Box::new(|b| b.struct_("s", 8, &[("a", 1, 32), ("b", 1, 0)])),
        ),
        (
            "member offset past the struct size",
            Box::new(|b| b.struct_("s", 4, &[("a", 1, 40)])),
        ),
        (
            "member name offset outside the string section",
            Box::new(|b| b.raw(0, info(BTF_KIND_STRUCT, 1, false), 4, &[9999, 1, 0])),
        ),
        (
            "enum size is not 1, 2, 4 or 8",
            Box::new(|b| b.enum_("e", 3, false, &[("A", 1)])),
        ),
        (
            "enum size is not 1, 2, 4 or 8",
            Box::new(|b| b.enum64("e", 16, false, &[("A", 1)])),
        ),
        (
            "enumerator name is empty",
            Box::new(|b| b.enum_("e", 4, false, &[("", 1)])),
        ),
        (
            "enumerator name is not a valid identifier",
            Box::new(|b| b.enum64("e", 8, false, &[("9x", 1)])),
        ),
        (
            "vlen is not 0 for this kind",
            Box::new(|b| named(b, "f", BTF_KIND_FWD, 1, false, 0, &[])),
        ),
        (
            "name must not be empty for this kind",
            Box::new(|b| b.fwd("", false)),
        ),
        (
            "unknown FUNC linkage",
            Box::new(|b| {
                let p = b.proto(0, &[]);
                b.func("f", p, 3)
            }),
        ),
        ("FUNC type is void", Box::new(|b| b.func("f", 0, 0))),
        (
            "FUNC type id beyond the last type",
            Box::new(|b| b.func("f", 40, 0)),
        ),
        (
            "kind_flag is not allowed for this kind",
            Box::new(|b| named(b, "f", BTF_KIND_FUNC, 0, true, 1, &[])),
        ),
        (
            "name must be empty for this kind",
            Box::new(|b| named(b, "fp", BTF_KIND_FUNC_PROTO, 0, false, 0, &[])),
        ),
        (
            "void parameter before the last",
            Box::new(|b| b.proto(0, &[("", 0), ("x", 1)])),
        ),
        (
            "vararg parameter has a name",
            Box::new(|b| b.proto(0, &[("x", 1), ("v", 0)])),
        ),
        (
            "parameter name is not a valid identifier",
            Box::new(|b| b.proto(0, &[("a b", 1)])),
        ),
        (
            "return type id beyond the last type",
            Box::new(|b| b.proto(55, &[])),
        ),
        (
            "parameter type id beyond the last type",
            Box::new(|b| b.proto(1, &[("a", 55)])),
        ),
        ("unknown VAR linkage", Box::new(|b| b.var("v", 1, 3))),
        ("VAR type is void", Box::new(|b| b.var("v", 0, 1))),
        (
            "name is not a valid identifier",
            Box::new(|b| b.var("x y", 1, 1)),
        ),
        (
            "name must not be empty for this kind",
            Box::new(|b| b.datasec("", 4, &[])),
        ),
        (
            "DATASEC name has a non-printable character",
            Box::new(|b| b.datasec(".da\x01ta", 4, &[])),
        ),
        (
            "DATASEC entry type is void",
            Box::new(|b| b.datasec(".data", 4, &[(0, 0, 4)])),
        ),
        (
            "DATASEC entry type id beyond the last type",
            Box::new(|b| b.datasec(".data", 4, &[(99, 0, 4)])),
        ),
        (
            "kind_flag is not allowed for this kind",
            Box::new(|b| named(b, ".d", BTF_KIND_DATASEC, 0, true, 4, &[])),
        ),
        (
            "FLOAT size is not 2, 4, 8, 12 or 16",
            Box::new(|b| b.float("float", 3)),
        ),
        (
            "DECL_TAG component_idx below -1",
            Box::new(|b| b.decl_tag("t", 1, -2)),
        ),
        (
            "name must not be empty for this kind",
            Box::new(|b| b.decl_tag("", 1, -1)),
        ),
        (
            "DECL_TAG target is void",
            Box::new(|b| b.decl_tag("t", 0, -1)),
        ),
        (
            "name offset outside the string section",
            Box::new(|b| b.raw(5000, info(BTF_KIND_INT, 0, false), 4, &[32])),
        ),
        (
            "name offset outside the string section",
            Box::new(|b| b.raw(0x0100_0000, info(BTF_KIND_FLOAT, 0, false), 4, &[])),
        ),
        (
            "name is not valid UTF-8",
            Box::new(|b| {
                let n = b.sb(b"\xff\xfe");
                b.raw(n, info(BTF_KIND_INT, 0, false), 4, &[32])
            }),
        ),
    ]
}

#[test]
fn kernel_parse_checks_structure_only() {
    // What records say is the kernel's to check (it did, at boot): every record error
    // of an object's BTF passes, and shows where it is read.
    for (msg, f) in record_cases() {
        let (blob, _) = with(|b| f(b));
        let n = count_types(&blob).unwrap();
        let r = Btf::parse_kernel(&blob[..], std::vec![0u32; n + 1]);
        assert!(r.is_ok(), "{msg}: {:?}", r.err());
    }
    let (blob, id) = with(|b| {
        let n = b.sb(b"\xff\xfe");
        b.raw(n, info(BTF_KIND_INT, 0, false), 4, &[32])
    });
    let n = count_types(&blob).unwrap();
    let btf = Btf::parse_kernel(&blob[..], std::vec![0u32; n + 1]).unwrap();
    assert!(btf.type_by_id(id).unwrap().name().is_err());
    let (blob, id) = with(|b| b.ptr(99));
    let n = count_types(&blob).unwrap();
    let btf = Btf::parse_kernel(&blob[..], std::vec![0u32; n + 1]).unwrap();
    let target = btf.type_by_id(id).unwrap().raw_size_or_type();
    assert!(btf.type_by_id(target).is_err());

    // Structure is checked: an unknown kind, a record past the type section, a bad
    // string section.
    let (mut blob, _) = with(|b| b.ptr(1));
    let type_off = 24usize;
    // Type 2's info word: kind 31.
    blob[type_off + 16 + 7] = 0x1f;
    let n = count_types(&blob).unwrap_or(2);
    let e = err(Btf::parse_kernel(&blob[..], std::vec![0u32; n + 1]).map(|_| ()));
    assert!(format!("{e}").contains("unknown BTF kind"), "{e}");
    let (mut blob, _) = with(|b| b.struct_("s", 4, &[("m", 1, 0)]));
    // STRUCT vlen 0xff: its members run past the type section.
    blob[type_off + 16 + 4] = 0xff;
    let e = err(Btf::parse_kernel(&blob[..], std::vec![0u32; 3]).map(|_| ()));
    assert!(format!("{e}").contains("past the type section"), "{e}");
    let (mut blob, _) = with(|_| 0);
    let last = blob.len() - 1;
    blob[last] = b'x';
    let e = err(Btf::parse_kernel(&blob[..], std::vec![0u32; 2]).map(|_| ()));
    assert!(format!("{e}").contains("does not end with NUL"), "{e}");
}

#[test]
fn every_record_error_names_the_type() {
    for (msg, f) in record_cases() {
        let (blob, id) = with(|b| f(b));
        let r = parse(blob);
        if let Err(e) = &r {
            std::println!("{msg:50} <- {e}");
        }
        assert_malformed(r, msg, Some(id));
    }

    // The full message: where, which kind, which entry, what.
    let (blob, _) = with(|b| b.struct_("s", 4, &[("ok", 1, 0), ("m m", 1, 0)]));
    assert_eq!(
        format!("{}", err(parse(blob))),
        "btf type [2]: STRUCT: index 1: member name is not a valid identifier"
    );

    // More than one encoding flag, as GCC 12 marks `char`: the kernel's ENOTSUPP,
    // read by libbpf (and here) flag by flag.
    let (blob, id) = with(|b| b.int("char", 1, 3, 8));
    let btf = parse(blob).unwrap();
    let enc = btf.type_by_id(id).unwrap().int().unwrap();
    assert!(enc.is_signed() && enc.is_char() && !enc.is_bool());
    // GCC 12's other two: a FWD with a value in its type field and an anonymous FUNC
    // (the kernel's EINVAL; libbpf reads neither the field nor the name).
    let (blob, _) = with(|b| {
        named(b, "f", BTF_KIND_FWD, 0, false, 1, &[]);
        let p = b.proto(1, &[]);
        b.func("", p, 0)
    });
    parse(blob).unwrap();

    // Names that are valid though unusual.
    let (blob, _) = with(|b| {
        b.typedef(&"a".repeat(512), 1);
        b.struct_(".dot_first", 0, &[]);
        b.datasec(".rodata.str1.1", 4, &[]);
        b.int("long long unsigned int", 8, 0, 64);
        b.fwd("_u", false)
    });
    parse(blob).unwrap();
}

#[test]
fn attribute_tags_parse_but_do_not_load() {
    let (blob, tag) = with(|b| {
        let n = b.s("attr");
        b.raw(n, info(BTF_KIND_TYPE_TAG, 0, true), 1, &[])
    });
    let btf = parse(blob).unwrap();
    assert!(t(&btf, tag).kind_flag());
    let e = err(btf.check_loadable());
    assert!(matches!(e.kind(), Kind::Unsupported(_)), "{e}");
    assert!(e.contexts().any(|c| *c == Ctx::BtfType(tag)));
    let (blob, tag) = with(|b| {
        let n = b.s("attr");
        b.raw(n, info(BTF_KIND_DECL_TAG, 0, true), 1, &[u32::MAX])
    });
    let btf = parse(blob).unwrap();
    assert_eq!(t(&btf, tag).decl_tag().unwrap().component_idx, -1);
    assert!(matches!(
        err(btf.check_loadable()).kind(),
        Kind::Unsupported(_)
    ));
}

#[test]
fn loadable_size_limit() {
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    b.strs.resize(0x100_0000, 0);
    let btf = parse(b.build()).unwrap();
    assert_eq!(
        err(btf.check_loadable()).kind(),
        Kind::Limit {
            what: "BTF bytes to load",
            value: btf.data().len() as u32,
            max: 16 << 20
        }
    );
    b.strs.push(0);
    assert!(matches!(
        err(parse(b.build())).kind(),
        Kind::Limit {
            what: "BTF string bytes",
            ..
        }
    ));
}

#[test]
fn walk_errors() {
    let (blob, id) = with(|b| b.raw(0, 20 << 24, 0, &[]));
    assert_malformed(count_types(&blob), "unknown BTF kind", Some(id));
    let (blob, id) = with(|b| b.raw(0, 0, 0, &[]));
    assert_malformed(count_types(&blob), "unknown BTF kind", Some(id));
    let (blob, id) = with(|b| b.raw(0, info(BTF_KIND_STRUCT, 3, false), 4, &[]));
    assert_malformed(
        count_types(&blob),
        "BTF type record runs past the type section",
        Some(id),
    );
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    b.types.extend_from_slice(&[0; 8]);
    assert_malformed(
        count_types(&b.build()),
        "truncated BTF type record",
        Some(2),
    );

    // Offsets buffers of the wrong length.
    let blob = sample().build();
    let n = count_types(&blob).unwrap();
    assert_eq!(n as u32, ids::LAST);
    let e = err(Btf::parse(&blob[..], vec![0u32; n]));
    assert_eq!(e.kind(), Kind::TooSmall("BTF type offsets"));
    assert_eq!(
        err(Btf::parse(&blob[..], vec![0u32; 0])).kind(),
        Kind::TooSmall("BTF type offsets")
    );
    assert_malformed(
        Btf::parse(&blob[..], vec![0u32; n + 2]),
        "BTF type offsets: buffer length is not the type count + 1",
        None,
    );
    let mut offs = vec![0u32; n + 1];
    let btf = Btf::parse(&blob[..], &mut offs[..]).unwrap();
    assert_eq!(
        btf.type_by_id(ids::KSYMS).unwrap().name().unwrap(),
        ".ksyms"
    );
}

#[test]
fn too_many_types() {
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    for _ in 0..crate::limits::MAX_BTF_TYPES {
        b.ptr(1);
    }
    let e = err(count_types(&b.build()));
    assert_eq!(
        e.kind(),
        Kind::Limit {
            what: "BTF types",
            value: 0x10_0000,
            max: 0xf_ffff
        }
    );
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn header_errors() {
    let good = sample().build();
    let tl = u32::from_le_bytes(good[12..16].try_into().unwrap());
    let sl = u32::from_le_bytes(good[20..24].try_into().unwrap());
    let check = |f: &dyn Fn(&mut Vec<u8>), kind: Kind| {
        let mut b = good.clone();
        f(&mut b);
        let e = err(count_types(&b));
        assert_eq!(e.kind(), kind, "{e}");
        let e2 = err(parse(b));
        assert_eq!(e2.kind(), kind);
    };
    let m = Kind::Malformed;
    check(&|b| b.truncate(6), m("BTF header truncated"));
    check(
        &|b| b[0..2].copy_from_slice(&[0xeb, 0x9f]),
        Kind::Unsupported("big-endian BTF"),
    );
    check(&|b| b[0] = 0, m("bad BTF magic"));
    check(&|b| b[2] = 2, Kind::Unsupported("BTF version other than 1"));
    check(&|b| b[3] = 1, Kind::Unsupported("BTF header flags"));
    check(&|b| put32(b, 4, 20), m("BTF header shorter than 24 bytes"));
    check(
        &|b| put32(b, 4, 1 << 30),
        m("BTF header longer than the blob"),
    );
    check(
        &|b| {
            put32(b, 4, 28);
            b.insert(24, 0);
            b.insert(24, 0);
            b.insert(24, 0);
            b.insert(24, 1);
        },
        Kind::Unsupported("unknown non-zero BTF header fields"),
    );
    check(
        &|b| put32(b, 8, 2),
        m("BTF type section not 4-byte aligned"),
    );
    check(
        &|b| put32(b, 16, 1 << 20),
        m("BTF section offset beyond the blob"),
    );
    check(
        &|b| {
            put32(b, 16, tl + 4);
            b.splice(24 + tl as usize..24 + tl as usize, [0u8; 4]);
        },
        m("gap between BTF sections"),
    );
    check(&|b| put32(b, 16, tl - 4), m("BTF sections overlap"));
    check(
        &|b| put32(b, 20, sl + 4),
        m("BTF section runs past the blob"),
    );
    check(
        &|b| b.extend_from_slice(&[0; 4]),
        m("data after the BTF sections"),
    );
    check(
        &|b| {
            // Strings first, then types: tiles the data but strings are not last.
            let types = b[24..24 + tl as usize].to_vec();
            let strs = b[24 + tl as usize..].to_vec();
            b.truncate(24);
            b.extend_from_slice(&strs);
            let pad = (4 - strs.len() % 4) % 4;
            b.resize(b.len() + pad, 0);
            b.extend_from_slice(&types);
            put32(b, 8, (strs.len() + pad) as u32);
            put32(b, 16, 0);
            put32(b, 20, (strs.len() + pad) as u32);
        },
        m("BTF string section is not last"),
    );
    let huge = vec![0u8; crate::limits::MAX_KERNEL_BTF_SIZE + 1];
    assert!(matches!(
        err(count_types(&huge)).kind(),
        Kind::Limit {
            what: "BTF bytes",
            ..
        }
    ));

    // A longer header whose extra bytes are zero is accepted.
    let mut b = good.clone();
    put32(&mut b, 4, 32);
    b.splice(24..24, [0u8; 8]);
    let btf = parse(b).unwrap();
    assert_eq!(btf.header().hdr_len, 32);
    assert_eq!(
        btf.type_by_id(ids::STRUCT_PT).unwrap().name().unwrap(),
        "pt"
    );

    // String section rules (checked by parse, not count_types).
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    let mut blob = b.build();
    let last = blob.len() - 1;
    blob[last] = b'x';
    assert_malformed(
        parse(blob),
        "BTF string section does not end with NUL",
        None,
    );
    let mut blob = b.build();
    blob[24 + 16] = b'x';
    assert_malformed(
        parse(blob),
        "BTF string section does not start with NUL",
        None,
    );
    let mut e = B::new();
    e.strs.clear();
    e.raw(0, info(BTF_KIND_PTR, 0, false), 0, &[]);
    assert_malformed(parse(e.build()), "BTF string section is empty", None);
    assert_malformed(parse(B::new().build()), "BTF has no types", None);
}

/// ELF facts for fixup tests.
#[derive(Default)]
struct Facts {
    sections: Vec<(&'static str, u64)>,
    syms: Vec<(&'static str, u64, bool)>,
    calls: usize,
}

impl DatasecElf for Facts {
    fn section_size(&mut self, name: &str) -> Option<u64> {
        self.calls += 1;
        self.sections.iter().find(|s| s.0 == name).map(|s| s.1)
    }
    fn global_var(&mut self, name: &str) -> Option<VarSymbol> {
        self.calls += 1;
        self.syms.iter().find(|s| s.0 == name).map(|s| VarSymbol {
            value: s.1,
            hidden: s.2,
        })
    }
}

fn secinfos(btf: &VBtf, id: u32) -> Vec<(u32, u32, u32)> {
    t(btf, id)
        .secinfos()
        .unwrap()
        .map(|s| (s.type_id, s.offset, s.size))
        .collect()
}

#[test]
fn datasec_fixup_follows_libbpf() {
    let mut btf = parse(sample().build()).unwrap();
    let e = err(btf.check_loadable());
    assert_eq!(
        format!("{e}"),
        format!(
            "btf type [{}]: DATASEC: DATASEC size is 0",
            ids::DATASEC_DATA
        )
    );

    let mut facts = Facts {
        sections: vec![(".data", 24)],
        // Reverse order of the BTF entries, so the sort has work to do; `s` is static and
        // needs no symbol; `hid` is hidden and becomes static.
        syms: vec![("g", 4, false), ("hid", 0, true)],
        calls: 0,
    };
    btf.fixup_datasec(ids::DATASEC_DATA, &mut facts).unwrap();
    assert_eq!(t(&btf, ids::DATASEC_DATA).size(), Some(24));
    assert_eq!(
        secinfos(&btf, ids::DATASEC_DATA),
        [
            (ids::VAR_HID, 0, 4),
            (ids::VAR_G, 4, 4),
            (ids::VAR_S, 8, 16)
        ]
    );
    assert_eq!(t(&btf, ids::VAR_HID).var().unwrap().linkage, BTF_VAR_STATIC);
    assert_eq!(
        t(&btf, ids::VAR_G).var().unwrap().linkage,
        BTF_VAR_GLOBAL_ALLOCATED
    );

    // Extern DATASECs are only sorted, without asking the ELF anything.
    let mut none = Facts::default();
    btf.fixup_datasec(ids::KCONFIG, &mut none).unwrap();
    btf.fixup_datasec(ids::KSYMS, &mut none).unwrap();
    assert_eq!(none.calls, 0);
    assert_eq!(extern_datasec(".kconfig"), Some(ExternSec::Kconfig));
    assert_eq!(extern_datasec(".ksyms"), Some(ExternSec::Ksyms));
    assert_eq!(extern_datasec(".data"), None);

    // Still not loadable: the externs are the extern phase's job. Do what it does.
    let e = err(btf.check_loadable());
    assert_eq!(
        e.kind(),
        Kind::Malformed("VAR linkage is neither static nor global")
    );
    btf.set_var_linkage(ids::VAR_EXT, BTF_VAR_GLOBAL_ALLOCATED)
        .unwrap();
    assert_malformed(
        btf.check_loadable(),
        "DATASEC size is 0",
        Some(ids::KCONFIG),
    );
    btf.set_datasec_size(ids::KCONFIG, 4).unwrap();
    assert_malformed(
        btf.check_loadable(),
        "FUNC linkage is neither static nor global",
        Some(ids::KFUNC),
    );
    btf.set_func_linkage(ids::KFUNC, BTF_FUNC_GLOBAL).unwrap();
    assert_eq!(t(&btf, ids::KFUNC).func().unwrap().linkage, BTF_FUNC_GLOBAL);
    assert_eq!(t(&btf, ids::KFUNC).name().unwrap(), "bpf_kf");
    btf.set_secinfo(
        ids::KSYMS,
        0,
        VarSecinfo {
            type_id: ids::VAR_G,
            offset: 0,
            size: 4,
        },
    )
    .unwrap();
    assert_malformed(btf.check_loadable(), "DATASEC size is 0", Some(ids::KSYMS));
    btf.set_datasec_size(ids::KSYMS, 4).unwrap();
    // Kernel BTF newer than 6.12 may hold attribute tags, which objects may not.
    if let Err(e) = btf.check_loadable() {
        assert!(matches!(e.kind(), Kind::Unsupported(_)), "{e}");
    }

    // The fixed blob still parses identically.
    let again = parse(btf.data().to_vec()).unwrap();
    assert_eq!(
        secinfos(&again, ids::DATASEC_DATA),
        secinfos(&btf, ids::DATASEC_DATA)
    );
}

#[test]
fn datasec_fixup_errors_and_sized_sections() {
    // Size already set (BPF static linker output): offsets untouched, visibility still
    // applied, symbols still required.
    let mut b = sample();
    let sized = b.datasec(
        ".data.sized",
        8,
        &[(ids::VAR_G, 4, 4), (ids::VAR_HID, 0, 4)],
    );
    let not_var = b.datasec(".bad", 0, &[(ids::INT, 0, 4)]);
    let mut btf = parse(b.build()).unwrap();
    let mut facts = Facts {
        sections: vec![],
        syms: vec![("g", 1000, false), ("hid", 1000, true)],
        calls: 0,
    };
    btf.fixup_datasec(sized, &mut facts).unwrap();
    assert_eq!(
        secinfos(&btf, sized),
        [(ids::VAR_HID, 0, 4), (ids::VAR_G, 4, 4)]
    );
    assert_eq!(t(&btf, ids::VAR_HID).var().unwrap().linkage, BTF_VAR_STATIC);

    let mut btf = parse(b.build()).unwrap();
    let mut nosym = Facts {
        syms: vec![("hid", 0, false)],
        ..Facts::default()
    };
    let e = err(btf.fixup_datasec(sized, &mut nosym));
    assert_eq!(e.kind(), Kind::NotFound("ELF symbol of DATASEC VAR"));
    assert!(e.contexts().any(|c| *c == Ctx::BtfType(ids::VAR_G)));

    let e = err(btf.fixup_datasec(ids::DATASEC_DATA, &mut Facts::default()));
    assert_eq!(
        e.kind(),
        Kind::NotFound("ELF section (with nonzero size) of DATASEC")
    );
    let mut zero = Facts {
        sections: vec![(".data", 0)],
        ..Facts::default()
    };
    assert_eq!(
        err(btf.fixup_datasec(ids::DATASEC_DATA, &mut zero)).kind(),
        Kind::NotFound("ELF section (with nonzero size) of DATASEC")
    );
    let mut big = Facts {
        sections: vec![(".data", 1 << 32)],
        ..Facts::default()
    };
    assert_eq!(
        err(btf.fixup_datasec(ids::DATASEC_DATA, &mut big)).kind(),
        Kind::Malformed("ELF section of DATASEC larger than 4 GiB")
    );
    let mut far = Facts {
        sections: vec![(".data", 64)],
        syms: vec![("g", 1 << 33, false)],
        ..Facts::default()
    };
    assert_eq!(
        err(btf.fixup_datasec(ids::DATASEC_DATA, &mut far)).kind(),
        Kind::Malformed("symbol value of DATASEC VAR does not fit 32 bits")
    );
    let mut bad = Facts {
        sections: vec![(".bad", 4)],
        ..Facts::default()
    };
    let e = err(btf.fixup_datasec(not_var, &mut bad));
    assert_eq!(
        format!("{e}"),
        format!("btf type [{not_var}]: DATASEC: index 0: DATASEC entry is not a VAR")
    );
    assert_malformed(
        btf.fixup_datasec(ids::INT, &mut bad),
        "not a DATASEC",
        Some(ids::INT),
    );

    // fixup_datasecs goes in id order and stops at the first failing DATASEC.
    let mut btf = parse(b.build()).unwrap();
    let mut all = Facts {
        sections: vec![(".data", 24)],
        syms: vec![("g", 0, false), ("hid", 4, false)],
        calls: 0,
    };
    let e = err(btf.fixup_datasecs(&mut all));
    assert!(e.contexts().any(|c| *c == Ctx::BtfType(not_var)), "{e}");
    assert_eq!(
        t(&btf, ids::DATASEC_DATA).size(),
        Some(24),
        "earlier DATASECs were fixed"
    );
}

#[test]
fn setters_keep_invariants() {
    let mut btf = parse(sample().build()).unwrap();
    assert_malformed(
        btf.set_var_linkage(ids::VAR_G, 3),
        "unknown VAR linkage",
        Some(ids::VAR_G),
    );
    assert_malformed(
        btf.set_var_linkage(ids::INT, 0),
        "not a VAR",
        Some(ids::INT),
    );
    assert_malformed(
        btf.set_func_linkage(ids::FUNC, 3),
        "unknown FUNC linkage",
        Some(ids::FUNC),
    );
    assert_malformed(
        btf.set_datasec_size(ids::FUNC, 3),
        "not a DATASEC",
        Some(ids::FUNC),
    );
    assert_malformed(
        btf.set_var_type(ids::VAR_G, 0),
        "type id is void or beyond the last type",
        Some(ids::VAR_G),
    );
    assert_malformed(
        btf.set_var_type(ids::VAR_G, ids::LAST + 1),
        "type id is void or beyond the last type",
        Some(ids::VAR_G),
    );
    let si = VarSecinfo {
        type_id: 0,
        offset: 0,
        size: 0,
    };
    assert_malformed(
        btf.set_secinfo(ids::KSYMS, 0, si),
        "type id is void or beyond the last type",
        Some(ids::KSYMS),
    );
    let e = err(btf.set_secinfo_offset(ids::KSYMS, 1, 0));
    assert_eq!(e.kind(), Kind::NotFound("entry of BTF type"));
    assert!(btf.set_datasec_size(0, 1).is_err());
    assert!(btf.set_datasec_size(9999, 1).is_err());

    btf.set_var_type(ids::VAR_G, ids::UINT).unwrap();
    assert_eq!(t(&btf, ids::VAR_G).var().unwrap().type_id, ids::UINT);

    let name = btf
        .find_by_name_kind("g", BtfKind::Var)
        .unwrap()
        .map(|id| t(&btf, id).name_off())
        .unwrap();
    btf.set_param_name_off(ids::PROTO, 1, name).unwrap();
    assert_eq!(
        t(&btf, ids::PROTO)
            .params()
            .unwrap()
            .get(1)
            .unwrap()
            .name()
            .unwrap(),
        "g"
    );
    btf.set_param_name_off(ids::PROTO, 1, 0).unwrap();
    assert_malformed(
        btf.set_param_name_off(ids::VARARG_PROTO, 1, name),
        "vararg parameter has a name",
        Some(ids::VARARG_PROTO),
    );
    let unsigned = t(&btf, ids::UINT).name_off();
    assert_malformed(
        btf.set_param_name_off(ids::PROTO, 0, unsigned),
        "parameter name is not a valid identifier",
        Some(ids::PROTO),
    );
    assert_malformed(
        btf.set_param_name_off(ids::PROTO, 0, 1 << 20),
        "parameter name offset outside the string section",
        Some(ids::PROTO),
    );
    // Everything set is still valid BTF.
    parse(btf.data().to_vec()).unwrap();
}

#[test]
fn heapsort_sorts_many_entries() {
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    let var = b.var("v", 1, 0);
    let mut entries = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        entries.push((var, (x >> 8) % 5000, x % 7));
    }
    let ds = b.datasec(".data", 0, &entries);
    let mut btf = parse(b.build()).unwrap();
    btf.sort_datasec(ds).unwrap();
    let got = secinfos(&btf, ds);
    assert!(got.windows(2).all(|w| w[0].1 <= w[1].1));
    let mut want = entries.clone();
    want.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, want);
}

#[test]
fn split_btf_continues_the_base() {
    let base = parse(sample().build()).unwrap();
    let str_len = base.header().str_len;
    let mut s = B::split(base.type_count(), str_len);
    // A module struct using base types and a base name ("int" at offset 1).
    let first = s.first;
    let pt = s.ptr(ids::STRUCT_PT);
    let st = s.struct_("mod_s", 16, &[("p", pt, 0), ("q", ids::TYPEDEF_U32, 64)]);
    let base_named = s.raw(1, info(BTF_KIND_TYPEDEF, 0, false), st, &[]);
    let split = parse_split(s.build(), &base).unwrap();
    assert!(split.is_split());
    assert_eq!((split.start_id(), split.start_str_off()), (first, str_len));
    assert_eq!(split.type_count(), first + 3);
    assert_eq!(split.local_ids(), first..first + 3);

    // Alone, the split cannot see base types or names.
    assert!(matches!(
        err(split.type_by_id(ids::INT)).kind(),
        Kind::NotFound(_)
    ));
    assert!(matches!(
        err(t(&split, base_named).name()).kind(),
        Kind::NotFound(_)
    ));
    assert_eq!(t(&split, st).name().unwrap(), "mod_s");

    let both = SplitBtf::new(&base, &split).unwrap();
    assert_eq!(both.type_count(), first + 3);
    assert_eq!(both.type_by_id(ids::INT).unwrap().name().unwrap(), "int");
    assert_eq!(both.type_by_id(base_named).unwrap().name().unwrap(), "int");
    let st_t = both.type_by_id(st).unwrap();
    let names: Vec<_> = st_t.members().unwrap().map(|m| m.name().unwrap()).collect();
    assert_eq!(names, ["p", "q"]);
    assert_eq!(both.resolve_size(st).unwrap(), 16);
    assert_eq!(both.resolve_size(base_named).unwrap(), 16);
    assert_eq!(both.skip_mods_and_typedefs(base_named).unwrap().id(), st);
    assert_eq!(
        both.find_by_name_kind("mod_s", BtfKind::Struct).unwrap(),
        Some(st)
    );
    assert_eq!(
        both.find_by_name_kind("pt", BtfKind::Struct).unwrap(),
        Some(ids::STRUCT_PT)
    );
    assert_eq!(both.name_at(1).unwrap(), "int");
    assert_eq!(both.name_at(str_len).unwrap(), "mod_s");
    assert_eq!(both.base().type_count(), base.type_count());
    assert_eq!(both.split().type_count(), split.type_count());

    // Errors: references past the split, names past both, bad base names.
    let mut s = B::split(base.type_count(), str_len);
    let id = s.ptr(base.type_count() + 5);
    assert_malformed(
        parse_split(s.build(), &base),
        "referenced type id beyond the last type",
        Some(id),
    );
    let mut s = B::split(base.type_count(), str_len);
    let id = s.raw(str_len + 100, info(BTF_KIND_FWD, 0, false), 0, &[]);
    assert_malformed(
        parse_split(s.build(), &base),
        "name offset outside the string section",
        Some(id),
    );
    let mut s = B::split(base.type_count(), str_len);
    // Offset 4 in the base is "unsigned int": not an identifier.
    let uint_off = t(&base, ids::UINT).name_off();
    let id = s.raw(uint_off, info(BTF_KIND_TYPEDEF, 0, false), ids::INT, &[]);
    assert_malformed(
        parse_split(s.build(), &base),
        "name is not a valid identifier",
        Some(id),
    );
    // A split with no types and no strings is valid (kernel rule).
    let empty = parse_split(B::split(base.type_count(), str_len).build(), &base).unwrap();
    assert_eq!(empty.type_count(), base.type_count());

    // Joining mismatched blobs, stacking splits.
    assert_malformed(
        SplitBtf::new(&base, &base),
        "split BTF was not parsed on this base BTF",
        None,
    );
    let other = parse(B::new().build().into_iter().chain([]).collect::<Vec<u8>>());
    assert!(other.is_err());
    assert_eq!(
        err(Btf::parse_split(vec![], vec![0u32; 1], &split)).kind(),
        Kind::Unsupported("split BTF on top of split BTF")
    );
    assert_eq!(
        err(SplitBtf::new(&split, &split)).kind(),
        Kind::Unsupported("split BTF on top of split BTF")
    );
}

// ---------------------------------------------------------------------------------------
// .BTF.ext

fn sample_ext() -> ExtB {
    let mut e = ExtB::new();
    e.subs[0] = Some((
        2,
        vec![
            (10, vec![vec![0, ids::FUNC], vec![64, ids::KFUNC]]),
            (20, vec![vec![0, ids::FUNC]]),
        ],
    ));
    e.subs[1] = Some((
        4,
        vec![(
            10,
            vec![vec![0, 1, 2, (7 << 10) | 3], vec![8, 1, 2, 8 << 10]],
        )],
    ));
    e.subs[2] = Some((4, vec![(20, vec![vec![16, ids::STRUCT_PT, 1, 0]])]));
    e
}

#[test]
fn btf_ext_parses_and_iterates() {
    let blob = sample_ext().build();
    let ext = BtfExt::parse(&blob).unwrap();
    assert_eq!(ext.header().hdr_len, 32);
    let fi = ext.func_info();
    assert_eq!(
        (
            fi.rec_size(),
            fi.num_blocks(),
            fi.num_records(),
            fi.is_empty()
        ),
        (8, 2, 3, false)
    );
    let blocks: Vec<_> = fi
        .blocks()
        .map(|b| (b.sec_name_off, b.records().collect::<Vec<_>>()))
        .collect();
    assert_eq!(
        blocks,
        [
            (
                10,
                vec![
                    FuncInfo {
                        insn_off: 0,
                        type_id: ids::FUNC
                    },
                    FuncInfo {
                        insn_off: 64,
                        type_id: ids::KFUNC
                    }
                ]
            ),
            (
                20,
                vec![FuncInfo {
                    insn_off: 0,
                    type_id: ids::FUNC
                }]
            )
        ]
    );
    let b10 = fi.block_for(10).unwrap();
    assert_eq!((b10.len(), b10.is_empty()), (2, false));
    assert_eq!(b10.get(1).unwrap().insn_idx(), 8);
    assert!(b10.get(2).is_none());
    assert!(fi.block_for(99).is_none());
    let li: Vec<_> = ext.line_info().blocks().flat_map(|b| b.records()).collect();
    assert_eq!(li.len(), 2);
    assert_eq!(
        (li[0].line(), li[0].col(), li[1].line(), li[1].col()),
        (7, 3, 8, 0)
    );
    let cr: Vec<_> = ext
        .core_relos()
        .blocks()
        .flat_map(|b| b.records())
        .collect();
    assert_eq!(
        cr,
        [CoreRelo {
            insn_off: 16,
            type_id: ids::STRUCT_PT,
            access_str_off: 1,
            kind: 0
        }]
    );

    // References into .BTF: the sample's strings at 10 and 20 are inside names.
    let btf = parse(sample().build()).unwrap();
    ext.check_refs(&btf).unwrap();
    let mut bad = sample_ext();
    bad.subs[0] = Some((2, vec![(10, vec![vec![0, ids::INT]])]));
    let blob = bad.build();
    let e = err(BtfExt::parse(&blob).unwrap().check_refs(&btf));
    assert_eq!(
        format!("{e}"),
        "func_info: index 0: btf type [1]: func_info type is not a FUNC"
    );
    bad.subs[0] = None;
    bad.subs[1] = Some((4, vec![(10, vec![vec![0, 1, 1 << 20, 0]])]));
    let blob = bad.build();
    assert_malformed(
        BtfExt::parse(&blob).unwrap().check_refs(&btf),
        "line offset is not a .BTF string",
        None,
    );
    bad.subs[1] = None;
    bad.subs[2] = Some((4, vec![(10, vec![vec![0, 999, 1, 0]])]));
    let blob = bad.build();
    assert_malformed(
        BtfExt::parse(&blob).unwrap().check_refs(&btf),
        "CO-RE relocation type id beyond the last type",
        None,
    );

    // Larger records (a newer compiler): the known prefix is read.
    let mut wide = ExtB::new();
    wide.subs[0] = Some((3, vec![(10, vec![vec![8, 5, 0xdead], vec![16, 6, 0xbeef]])]));
    let blob = wide.build();
    let ext = BtfExt::parse(&blob).unwrap();
    assert_eq!(ext.func_info().rec_size(), 12);
    let r: Vec<_> = ext
        .func_info()
        .blocks()
        .flat_map(|b| b.records())
        .map(|r| (r.insn_off, r.type_id))
        .collect();
    assert_eq!(r, [(8, 5), (16, 6)]);
    assert!(ext.line_info().is_empty() && ext.core_relos().is_empty());

    // func_info and line_info records up to the kernel's 252 bytes; a larger one fails
    // libbpf's load (it passes the size on), CO-RE records libbpf applies itself.
    let rec = |words: usize| {
        let mut r = vec![0u32; words];
        r[..2].copy_from_slice(&[8, 5]);
        r
    };
    for (sub, kernel_reads) in [(0, true), (1, true), (2, false)] {
        let mut w = ExtB::new();
        w.subs[sub] = Some((63, vec![(10, vec![rec(63)])]));
        BtfExt::parse(&w.build()).unwrap();
        w.subs[sub] = Some((64, vec![(10, vec![rec(64)])]));
        let blob = w.build();
        if kernel_reads {
            assert_malformed(
                BtfExt::parse(&blob),
                ".BTF.ext record size over the kernel's 252 bytes",
                None,
            );
        } else {
            assert_eq!(BtfExt::parse(&blob).unwrap().core_relos().rec_size(), 256);
        }
    }

    // A 24-byte header has no core_relo part.
    let mut old = sample_ext();
    old.hdr_len = 24;
    old.subs[2] = None;
    let blob = old.build();
    let ext = BtfExt::parse(&blob).unwrap();
    assert_eq!(
        (ext.header().core_relo_off, ext.header().core_relo_len),
        (0, 0)
    );
    assert!(ext.core_relos().is_empty());
    assert_eq!(ext.line_info().num_records(), 2);
}

#[test]
fn btf_ext_errors() {
    let good = sample_ext().build();
    let check = |f: &dyn Fn(&mut Vec<u8>), kind: Kind| {
        let mut b = good.clone();
        f(&mut b);
        let e = err(BtfExt::parse(&b));
        assert_eq!(e.kind(), kind, "{e}");
    };
    let m = Kind::Malformed;
    // Header layout: magic 0, version 2, flags 3, hdr_len 4, func 8/12, line 16/20, core 24/28.
    let fl = u32::from_le_bytes(good[12..16].try_into().unwrap());
    check(&|b| b.truncate(7), m(".BTF.ext header truncated"));
    check(
        &|b| put32(b, 4, 10_000),
        m(".BTF.ext header longer than the section"),
    );
    check(
        &|b| b[0..2].copy_from_slice(&[0xeb, 0x9f]),
        Kind::Unsupported("big-endian .BTF.ext"),
    );
    check(&|b| b[1] = 0, m("bad .BTF.ext magic"));
    check(
        &|b| b[2] = 0,
        Kind::Unsupported(".BTF.ext version other than 1"),
    );
    check(&|b| b[3] = 4, Kind::Unsupported(".BTF.ext header flags"));
    check(&|b| b.truncate(32), m(".BTF.ext has no data"));
    check(
        &|b| put32(b, 4, 16),
        m(".BTF.ext header shorter than 24 bytes"),
    );
    check(
        &|b| put32(b, 8, 2),
        m(".BTF.ext subsection not 4-byte aligned"),
    );
    check(
        &|b| put32(b, 8, 10_000),
        m(".BTF.ext subsection runs past the section"),
    );
    check(
        &|b| put32(b, 12, 2),
        m(".BTF.ext subsection has no record size"),
    );
    check(
        &|b| put32(b, 12, 4),
        m(".BTF.ext subsection has no records"),
    );
    check(
        &|b| put32(b, 32, 4),
        m(".BTF.ext record size too small or not a multiple of 4"),
    );
    check(
        &|b| put32(b, 32, 10),
        m(".BTF.ext record size too small or not a multiple of 4"),
    );
    // func_info: rec size at 32, block 0 header at 36 (name) / 40 (num), records at 44.
    check(&|b| put32(b, 12, 8), m(".BTF.ext block header truncated"));
    check(&|b| put32(b, 40, 0), m(".BTF.ext block has no records"));
    check(
        &|b| put32(b, 40, 100),
        m(".BTF.ext block runs past its subsection"),
    );
    check(
        &|b| put32(b, 40, u32::MAX),
        m(".BTF.ext block runs past its subsection"),
    );
    check(
        &|b| put32(b, 44, 4),
        m(".BTF.ext insn_off is not a multiple of 8"),
    );
    check(
        &|b| put32(b, 12, fl - 4),
        m(".BTF.ext block runs past its subsection"),
    );
    let mut b = good.clone();
    put32(&mut b, 52, 12);
    assert_eq!(
        format!("{}", err(BtfExt::parse(&b))),
        "func_info: index 0: index 1: offset 12: .BTF.ext insn_off is not a multiple of 8"
    );

    // Too many blocks.
    let mut many = ExtB::new();
    many.subs[0] = Some((
        2,
        (0..=crate::limits::MAX_SECTIONS as u32)
            .map(|i| (i, vec![vec![0, 1]]))
            .collect(),
    ));
    let blob = many.build();
    assert!(matches!(
        err(BtfExt::parse(&blob)).kind(),
        Kind::Limit {
            what: ".BTF.ext blocks",
            ..
        }
    ));
}

// ---------------------------------------------------------------------------------------
// Real inputs

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skip a test whose input is missing, unless in CI, where it must be there.
fn skip(why: &str) {
    assert!(!in_ci(), "CI=true and {why}");
    std::println!("SKIP: {why}");
}

/// Visit everything reachable from every type, as a consumer would.
fn sweep(types: &impl Types) -> (usize, usize) {
    let mut names = 0;
    let mut sized = 0;
    for id in 0..types.type_count() {
        let t = types.type_by_id(id).unwrap();
        t.name().unwrap();
        names += 1;
        match t.kind() {
            BtfKind::Struct | BtfKind::Union => {
                for m in t.members().unwrap() {
                    m.name().unwrap();
                    names += 1;
                }
            }
            BtfKind::Enum | BtfKind::Enum64 => {
                for v in t.enum_values().unwrap() {
                    v.name().unwrap();
                    names += 1;
                }
            }
            BtfKind::FuncProto => {
                for p in t.params().unwrap() {
                    p.name().unwrap();
                    names += 1;
                }
            }
            BtfKind::Datasec => {
                t.secinfos().unwrap().count();
            }
            BtfKind::Int => {
                t.int().unwrap();
            }
            BtfKind::Array => {
                t.array().unwrap();
            }
            BtfKind::Var => {
                t.var().unwrap();
            }
            BtfKind::DeclTag => {
                t.decl_tag().unwrap();
            }
            BtfKind::Func => {
                t.func().unwrap();
            }
            _ => {}
        }
        if types.resolve_size(id).is_ok() {
            sized += 1;
        }
    }
    (names, sized)
}

#[test]
fn host_vmlinux_btf() {
    let path = "/sys/kernel/btf/vmlinux";
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => return skip(&format!("cannot read {path}: {e}")),
    };
    let t0 = std::time::Instant::now();
    let n = count_types(&data).unwrap();
    let t1 = t0.elapsed();
    let mut offs = vec![0u32; n + 1];
    let btf = Btf::parse(&data[..], &mut offs[..]).unwrap();
    let t2 = t0.elapsed();
    std::println!(
        "vmlinux BTF: {} bytes, {n} types, {} string bytes; count {t1:?}, count+parse {t2:?}",
        data.len(),
        btf.header().str_len
    );
    assert!(n > 10_000);
    assert_eq!(btf.type_count() as usize, n + 1);

    let ts = btf
        .find_by_name_kind("task_struct", BtfKind::Struct)
        .unwrap()
        .expect("task_struct");
    let task = btf.type_by_id(ts).unwrap();
    let size = task.size().unwrap();
    assert_eq!(btf.resolve_size(ts).unwrap(), size);
    assert!(size > 1000, "task_struct is {size} bytes");
    let pid = task
        .members()
        .unwrap()
        .find(|m| m.name() == Ok("pid"))
        .expect("task_struct.pid");
    assert_eq!(btf.resolve_size(pid.type_id).unwrap(), 4);
    let pid_t = btf.type_by_id(pid.type_id).unwrap();
    assert_eq!(
        (pid_t.kind(), pid_t.name().unwrap()),
        (BtfKind::Typedef, "pid_t")
    );
    assert_eq!(
        btf.skip_mods_and_typedefs(pid.type_id)
            .unwrap()
            .name()
            .unwrap(),
        "int"
    );
    assert!(pid.bit_offset > 0 && pid.bit_offset % 8 == 0);
    std::println!(
        "task_struct: id {ts}, {size} bytes, pid at byte {}",
        pid.bit_offset / 8
    );
    // Kernel BTF newer than 6.12 may hold attribute tags, which objects may not.
    if let Err(e) = btf.check_loadable() {
        assert!(matches!(e.kind(), Kind::Unsupported(_)), "{e}");
    }

    let t3 = std::time::Instant::now();
    let (names, sized) = sweep(&btf);
    std::println!(
        "swept {names} names, {sized} sized types in {:?}",
        t3.elapsed()
    );

    // A split BTF on the real vmlinux: a module struct with a task_struct pointer,
    // named with a vmlinux string.
    let str_len = btf.header().str_len;
    let mut s = B::split(btf.type_count(), str_len);
    let p = s.ptr(ts);
    let st = s.struct_("bpfld_mod_s", 8, &[("task", p, 0)]);
    let pid_name = pid.name_off;
    let alias = s.raw(pid_name, info(BTF_KIND_TYPEDEF, 0, false), pid.type_id, &[]);
    let split = parse_split(s.build(), &btf).unwrap();
    let both = SplitBtf::new(&btf, &split).unwrap();
    assert_eq!(both.type_by_id(alias).unwrap().name().unwrap(), "pid");
    assert_eq!(both.resolve_size(alias).unwrap(), 4);
    assert_eq!(both.resolve_size(st).unwrap(), 8);
    assert_eq!(
        both.find_by_name_kind("bpfld_mod_s", BtfKind::Struct)
            .unwrap(),
        Some(st)
    );
    let m = both
        .type_by_id(st)
        .unwrap()
        .members()
        .unwrap()
        .next()
        .unwrap();
    let target = both.type_by_id(m.type_id).unwrap().ref_type().unwrap();
    assert_eq!(
        both.type_by_id(target).unwrap().name().unwrap(),
        "task_struct"
    );
}

const BPF_C: &str = r#"
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct { __uint(type, 2); __uint(max_entries, 4); __type(key, int); __type(value, long); } m SEC(".maps");
int g = 3;
long g2 = 9;
const volatile int ro = 7;
int bss_v;
__attribute__((visibility("hidden"))) int hid = 1;
extern int kc __attribute__((section(".kconfig")));
extern int bpf_kfunc_x(int a) __attribute__((section(".ksyms")));
struct pt { int a:3; int b:5; long c; } __attribute__((btf_decl_tag("tagged")));
struct task { int pid; int tgid; } __attribute__((preserve_access_index));
enum e { E1 = -1, E2 = 2 };
enum e ev = E2;
static volatile int sv = 11;
static __attribute__((noinline)) int sub(struct pt *p) {
    int s = 0;
    for (int i = 0; i < p->b; i++)
        s += p->a;
    return s + p->c;
}
SEC("xdp") int prog(void *ctx) {
    struct pt p = {1, 2, 3};
    g++;
    g2++;
    sv++;
    bss_v += hid + ro + kc;
    return sub(&p) + bpf_kfunc_x(1) + (enum e)E1 + ((struct task *)ctx)->tgid;
}
char _license[] SEC("license") = "GPL";
"#;

fn find_tool(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|n| {
            std::process::Command::new(n)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|n| String::from(*n))
}

/// Minimal ELF64 reading for the test's DatasecElf: section sizes and global object
/// symbols, straight from the headers.
struct TestElf {
    sections: Vec<(String, u64)>,
    syms: Vec<(String, u64, bool)>,
}

impl TestElf {
    fn read(elf: &[u8]) -> TestElf {
        let u16_ = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
        let u32_ = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
        let u64_ = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
        let (shoff, shnum, shstrndx) = (u64_(0x28) as usize, u16_(0x3c), u16_(0x3e));
        let sh = |i: usize| shoff + i * 64;
        let cstr = |o: usize| {
            let end = elf[o..].iter().position(|&c| c == 0).unwrap();
            String::from_utf8(elf[o..o + end].to_vec()).unwrap()
        };
        let shstr = u64_(sh(shstrndx) + 0x18) as usize;
        let mut sections = Vec::new();
        let mut syms = Vec::new();
        for i in 0..shnum {
            let name = cstr(shstr + u32_(sh(i)));
            sections.push((name, u64_(sh(i) + 0x20)));
            if u32_(sh(i) + 4) == 2 {
                // SHT_SYMTAB
                let (off, size) = (u64_(sh(i) + 0x18) as usize, u64_(sh(i) + 0x20) as usize);
                let strtab = u64_(sh(u32_(sh(i) + 0x28)) + 0x18) as usize;
                for s in (off..off + size).step_by(24) {
                    let (info, other) = (elf[s + 4], elf[s + 5]);
                    let (bind, ty, vis) = (info >> 4, info & 0xf, other & 3);
                    if ty == 1 && (bind == 1 || bind == 2) {
                        syms.push((cstr(strtab + u32_(s)), u64_(s + 8), vis == 1 || vis == 2));
                    }
                }
            }
        }
        TestElf { sections, syms }
    }
}

impl DatasecElf for TestElf {
    fn section_size(&mut self, name: &str) -> Option<u64> {
        self.sections.iter().find(|s| s.0 == name).map(|s| s.1)
    }
    fn global_var(&mut self, name: &str) -> Option<VarSymbol> {
        self.syms.iter().find(|s| s.0 == name).map(|s| VarSymbol {
            value: s.1,
            hidden: s.2,
        })
    }
}

#[test]
fn clang_output() {
    let Some(clang) = find_tool(&["clang", "clang-14"]) else {
        return skip("no clang");
    };
    let Some(objcopy) = find_tool(&["llvm-objcopy", "llvm-objcopy-14"]) else {
        return skip("no llvm-objcopy");
    };
    let dir = std::env::temp_dir().join(format!("bpfld-btf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, obj, btf_path, ext_path) = (
        dir.join("t.c"),
        dir.join("t.o"),
        dir.join("t.btf"),
        dir.join("t.btf.ext"),
    );
    std::fs::write(&src, BPF_C).unwrap();
    let st = std::process::Command::new(&clang)
        .args(["-target", "bpf", "-g", "-O2", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(st.success(), "{clang} failed");
    let st = std::process::Command::new(&objcopy)
        .arg(format!("--dump-section=.BTF={}", btf_path.display()))
        .arg(format!("--dump-section=.BTF.ext={}", ext_path.display()))
        .arg(&obj)
        .arg(dir.join("discard.o"))
        .status()
        .unwrap();
    assert!(st.success(), "{objcopy} failed");
    let (elf, raw, ext_raw) = (
        std::fs::read(&obj).unwrap(),
        std::fs::read(&btf_path).unwrap(),
        std::fs::read(&ext_path).unwrap(),
    );
    std::fs::remove_dir_all(&dir).ok();

    let mut btf = parse(raw).unwrap();
    sweep(&btf);
    let find = |btf: &VBtf, n: &str, k| {
        btf.find_by_name_kind(n, k)
            .unwrap()
            .unwrap_or_else(|| panic!("{n}"))
    };
    let data = find(&btf, ".data", BtfKind::Datasec);
    let rodata = find(&btf, ".rodata", BtfKind::Datasec);
    let maps = find(&btf, ".maps", BtfKind::Datasec);
    let kconfig = find(&btf, ".kconfig", BtfKind::Datasec);
    let ksyms = find(&btf, ".ksyms", BtfKind::Datasec);
    let bss = find(&btf, ".bss", BtfKind::Datasec);
    let hid = find(&btf, "hid", BtfKind::Var);
    let kc = find(&btf, "kc", BtfKind::Var);
    let kf = find(&btf, "bpf_kfunc_x", BtfKind::Func);
    assert_eq!(
        t(&btf, data).size(),
        Some(0),
        "clang leaves DATASEC sizes to the loader"
    );
    assert_eq!(t(&btf, kc).var().unwrap().linkage, BTF_VAR_GLOBAL_EXTERN);
    assert_eq!(t(&btf, kf).func().unwrap().linkage, BTF_FUNC_EXTERN);
    assert_eq!(
        t(&btf, ksyms).secinfos().unwrap().next().unwrap().type_id,
        kf
    );
    let pt = find(&btf, "pt", BtfKind::Struct);
    let pt_m: Vec<_> = t(&btf, pt)
        .members()
        .unwrap()
        .map(|m| (m.name().unwrap(), m.bit_offset, m.bitfield_size))
        .collect();
    assert_eq!(pt_m, [("a", 0, 3), ("b", 3, 5), ("c", 64, 0)]);
    let map_var = t(&btf, maps).secinfos().unwrap().next().unwrap().type_id;
    assert_eq!(t(&btf, map_var).name().unwrap(), "m");
    let map_def = t(&btf, t(&btf, map_var).var().unwrap().type_id);
    let fields: Vec<_> = map_def
        .members()
        .unwrap()
        .map(|m| m.name().unwrap())
        .collect();
    assert_eq!(fields, ["type", "max_entries", "key", "value"]);

    // libbpf's fixup against the ELF itself.
    let mut facts = TestElf::read(&elf);
    btf.fixup_datasecs(&mut facts).unwrap();
    let data_size = facts.section_size(".data").unwrap() as u32;
    assert_eq!(t(&btf, data).size(), Some(data_size));
    let data_vars: Vec<(String, u32, u32)> = t(&btf, data)
        .secinfos()
        .unwrap()
        .map(|s| {
            (
                String::from(t(&btf, s.type_id).name().unwrap()),
                s.offset,
                s.size,
            )
        })
        .collect();
    // Globals take their symbol's value; the static one keeps clang's offset, which is
    // the same. Sorted by offset, within the section.
    let sym_or_static = |n: &str| facts.syms.iter().find(|s| s.0 == n).map(|s| s.1 as u32);
    for (n, off, size) in &data_vars {
        if let Some(v) = sym_or_static(n) {
            assert_eq!(*off, v, "{n}");
        }
        assert!(off + size <= data_size);
    }
    assert!(
        data_vars.windows(2).all(|w| w[0].1 + w[0].2 <= w[1].1),
        "{data_vars:?}"
    );
    let names: Vec<_> = data_vars.iter().map(|v| v.0.as_str()).collect();
    for n in ["g", "g2", "hid", "ev", "sv"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let ev = find(&btf, "e", BtfKind::Enum);
    // Clang 14 predates signed enums (kind_flag): -1 reads back as an unsigned 32-bit value.
    assert_eq!(
        t(&btf, ev).enum_values().unwrap().next().unwrap().value as u32,
        u32::MAX
    );
    assert_eq!(
        t(&btf, hid).var().unwrap().linkage,
        BTF_VAR_STATIC,
        "hidden => static"
    );
    assert!(t(&btf, bss).size().unwrap() >= 4);
    assert_eq!(t(&btf, rodata).size(), Some(4));
    assert_eq!(
        t(&btf, kconfig).size(),
        Some(0),
        "extern DATASECs are left to the extern phase"
    );
    assert_malformed(
        btf.check_loadable(),
        "FUNC linkage is neither static nor global",
        Some(kf),
    );
    btf.set_func_linkage(kf, BTF_FUNC_GLOBAL).unwrap();
    assert_malformed(
        btf.check_loadable(),
        "VAR linkage is neither static nor global",
        Some(kc),
    );
    let again = parse(btf.data().to_vec()).unwrap();
    assert_eq!(again.data(), btf.data());

    // .BTF.ext
    let ext = BtfExt::parse(&ext_raw).unwrap();
    ext.check_refs(&btf).unwrap();
    let funcs: Vec<_> = ext
        .func_info()
        .blocks()
        .flat_map(|b| {
            let sec = btf.name_at(b.sec_name_off).unwrap();
            b.records().map(move |r| (sec, r.insn_off, r.type_id))
        })
        .map(|(sec, off, id)| (sec, off, t(&btf, id).name().unwrap()))
        .collect();
    assert_eq!(funcs.len(), 2, "{funcs:?}");
    assert!(funcs.contains(&(".text", 0, "sub")), "{funcs:?}");
    assert!(funcs.contains(&("xdp", 0, "prog")), "{funcs:?}");
    let li = ext.line_info();
    assert!(
        li.num_records() > 4,
        "{} line_info records",
        li.num_records()
    );
    for b in li.blocks() {
        let mut last = 0;
        for r in b.records() {
            assert!(btf.name_at(r.file_name_off).unwrap().ends_with("t.c"));
            assert!(r.line() > 0 && r.line() < 40);
            assert!(r.insn_off >= last);
            last = r.insn_off;
        }
    }
    let lines: Vec<_> = li
        .blocks()
        .flat_map(|b| b.records())
        .map(|r| btf.name_at(r.line_off).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l.contains("g++")), "{lines:?}");
    let relos: Vec<_> = ext
        .core_relos()
        .blocks()
        .flat_map(|b| b.records())
        .map(|r| {
            (
                t(&btf, r.type_id).name().unwrap(),
                btf.name_at(r.access_str_off).unwrap(),
                r.kind,
            )
        })
        .collect();
    assert!(relos.contains(&("task", "0:1", 0)), "{relos:?}");
    std::println!(
        "clang .BTF: {} types; .BTF.ext: {} func_info, {} line_info, {} core_relo",
        btf.type_count(),
        ext.func_info().num_records(),
        li.num_records(),
        ext.core_relos().num_records()
    );
}

// ---------------------------------------------------------------------------------------
// Random mutations: never panic.

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }
}

fn mutate(rng: &mut Lcg, b: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            b.push(0);
        }
        let at = rng.below(b.len());
        match rng.below(6) {
            0 => b[at] = rng.next() as u8,
            1 => b[at] ^= 1 << rng.below(8),
            2 | 3 => {
                let at = at & !3;
                let v = [
                    0,
                    1,
                    2,
                    3,
                    0xff,
                    0xffff,
                    u32::MAX,
                    0x8000_0000,
                    b.len() as u32,
                    rng.next() % 64,
                ][rng.below(10)];
                if at + 4 <= b.len() {
                    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            4 => b.truncate(at),
            _ => {
                let x = rng.next() as u8;
                b.insert(at, x);
            }
        }
    }
}

struct AnyFacts;

impl DatasecElf for AnyFacts {
    fn section_size(&mut self, name: &str) -> Option<u64> {
        (name.len() % 3 != 0).then_some(name.len() as u64 * 8)
    }
    fn global_var(&mut self, name: &str) -> Option<VarSymbol> {
        (name.len() % 4 != 0).then_some(VarSymbol {
            value: name.len() as u64,
            hidden: name.len() % 2 == 0,
        })
    }
}

#[test]
fn mutated_btf_never_panics() {
    let mut base = sample();
    let a = base.typedef("loop_a", ids::LAST + 2);
    base.typedef("loop_b", a);
    let good = base.build();
    let mut rng = Lcg(0x5eed);
    let (mut parsed, mut iters) = (0, 0);
    for _ in 0..4000 {
        iters += 1;
        let mut b = good.clone();
        mutate(&mut rng, &mut b);
        let Ok(mut btf) = parse(b) else { continue };
        parsed += 1;
        sweep_lenient(&btf);
        let _ = btf.check_loadable();
        let _ = btf.fixup_datasecs(&mut AnyFacts);
        for id in 0..btf.type_count() + 2 {
            let v = rng.next();
            let _ = btf.set_var_linkage(id, v % 4);
            let _ = btf.set_func_linkage(id, (v % 4) as u16);
            let _ = btf.set_secinfo_offset(id, (v % 3) as u16, v);
            let _ = btf.sort_datasec(id);
            let _ = btf.set_param_name_off(id, (v % 3) as u16, v % 64);
        }
        // Whatever the setters accepted must still be valid BTF.
        parse(btf.data().to_vec()).unwrap();
    }
    std::println!("BTF mutations: {parsed} of {iters} still parsed");
    assert!(
        parsed > iters / 20,
        "mutations too destructive to exercise the readers"
    );
}

/// `sweep`, tolerating errors (a mutated blob may have cycles or sizeless types).
fn sweep_lenient(types: &impl Types) {
    for id in 0..types.type_count() + 2 {
        let Ok(t) = types.type_by_id(id) else {
            continue;
        };
        let _ = t.name();
        if let Ok(m) = t.members() {
            m.for_each(|m| {
                let _ = m.name();
            });
        }
        if let Ok(v) = t.enum_values() {
            v.for_each(|v| {
                let _ = v.name();
            });
        }
        if let Ok(p) = t.params() {
            p.for_each(|p| {
                let _ = p.name();
            });
        }
        if let Ok(s) = t.secinfos() {
            s.for_each(drop);
        }
        let _ = (t.int(), t.array(), t.var(), t.decl_tag(), t.func());
        let _ = types.resolve_size(id);
        let _ = types.skip_mods_and_typedefs(id);
    }
    let _ = types.find_by_name_kind("pt", BtfKind::Struct);
}

#[test]
fn mutated_btf_ext_never_panics() {
    let good = sample_ext().build();
    let btf = parse(sample().build()).unwrap();
    let mut rng = Lcg(0xe47);
    let (mut parsed, mut iters) = (0, 0);
    for _ in 0..4000 {
        iters += 1;
        let mut b = good.clone();
        mutate(&mut rng, &mut b);
        let Ok(ext) = BtfExt::parse(&b) else { continue };
        parsed += 1;
        let _ = ext.check_refs(&btf);
        for blk in ext.func_info().blocks() {
            blk.records()
                .for_each(|r| assert_eq!(r.insn_idx() * 8, r.insn_off));
            let _ = blk.get(rng.below(4));
        }
        for blk in ext.line_info().blocks() {
            blk.records()
                .for_each(|r| assert!(r.line() <= u32::MAX >> 10 && r.col() < 1024));
        }
        for blk in ext.core_relos().blocks() {
            blk.records().for_each(drop);
        }
    }
    std::println!(".BTF.ext mutations: {parsed} of {iters} still parsed");
    assert!(parsed > iters / 20);
}

#[test]
fn error_contexts_fit() {
    // Parse errors carry at most three contexts, leaving room for the caller's section.
    let (blob, _) = with(|b| b.struct_("s", 4, &[("m m", 1, 0)]));
    let e = err(parse(blob)).ctx(Ctx::Section(".BTF"));
    assert_eq!(
        format!("{e}"),
        "section '.BTF': btf type [2]: STRUCT: index 0: member name is not a valid identifier"
    );
    assert_eq!(e.contexts().count(), 4);
    assert!(e.contexts().any(|c| *c == Ctx::Value(What::Index, 0)));
}

#[test]
fn strings_match_at_stops_at_the_first_difference() {
    // Offsets: 0 "", 1 "pid", 5 "pids", 10 "tgid", 15 "p" without a NUL (end of table).
    let table = b"\0pid\0pids\0tgid\0p";
    let s = Strings::new(&[], 0, table);
    assert_eq!(s.match_at(0, b"pid"), Some(NameMatch::Empty));
    assert_eq!(s.match_at(1, b"pid"), Some(NameMatch::Equal));
    assert_eq!(s.match_at(1, b"pi"), Some(NameMatch::Other));
    assert_eq!(s.match_at(1, b"pids"), Some(NameMatch::Other));
    assert_eq!(s.match_at(5, b"pids"), Some(NameMatch::Equal));
    assert_eq!(s.match_at(10, b"pid"), Some(NameMatch::Other));
    // A suffix of a stored string is a string too.
    assert_eq!(s.match_at(2, b"id"), Some(NameMatch::Equal));
    // A string the table's end cuts off is no name, as for `bytes` (a mismatch before
    // the end is still one).
    assert_eq!(s.match_at(15, b"p"), None);
    assert_eq!(s.match_at(15, b"x"), Some(NameMatch::Other));
    assert_eq!(s.match_at(16, b"p"), None);
    assert_eq!(s.match_at(17, b"p"), None);
    // The same answers as the comparisons it replaces in the CO-RE member search.
    for off in 0..15u32 {
        for name in [&b"pid"[..], b"pids", b"id", b"tgid", b"p"] {
            let want = match s.bytes(off) {
                Some([]) => NameMatch::Empty,
                Some(b) if b == name => NameMatch::Equal,
                Some(_) => NameMatch::Other,
                None => continue,
            };
            assert_eq!(s.match_at(off, name), Some(want), "offset {off}, {name:?}");
        }
    }
}

/// `T` through the required methods of [`Types`] only: every provided method takes its
/// default, to compare with `T`'s own.
struct Plain<'b, T>(&'b T);

impl<T: Types> Types for Plain<'_, T> {
    fn type_count(&self) -> u32 {
        self.0.type_count()
    }
    fn type_by_id(&self, id: u32) -> Result<'static, Type<'_>> {
        self.0.type_by_id(id)
    }
    fn name_at(&self, off: u32) -> Result<'static, &str> {
        self.0.name_at(off)
    }
}

#[test]
fn kind_of_and_head_read_the_record_as_type_by_id_does() {
    let mut b = B::new();
    let int = b.int("int", 4, u32::from(BTF_INT_SIGNED), 32);
    let p = b.ptr(int);
    let s = b.struct_("s", 8, &[("a", int, 0), ("b", p, 32)]);
    let v = b.var("x", s, BTF_VAR_GLOBAL_ALLOCATED);
    b.datasec(".data", 8, &[(v, 0, 8)]);
    let btf = parse(b.build()).unwrap();
    assert_eq!(Types::kind_of(&btf, 0), Some(BtfKind::Void));
    assert_eq!(btf.head(0), None);
    for id in 1..btf.type_count() {
        let t = btf.type_by_id(id).unwrap();
        assert_eq!(Types::kind_of(&btf, id), Some(t.kind()), "type {id}");
        assert_eq!(btf.head(id), Some((t.kind(), t.name_off())), "type {id}");
    }
    assert_eq!(Types::kind_of(&btf, btf.type_count()), None);
    assert_eq!(btf.head(btf.type_count()), None);
    // The provided method (through type_by_id) agrees.
    for id in 0..=btf.type_count() {
        assert_eq!(
            Plain(&btf).kind_of(id),
            Types::kind_of(&btf, id),
            "type {id}"
        );
    }
    // So does the name comparison, at every offset (inside names, past the end).
    for off in 0..btf.header().str_len + 2 {
        for name in [&b"int"[..], b"nt", b"x", b"", b".data", b"in", b"int\0"] {
            assert_eq!(
                Plain(&btf).name_eq_at(off, name),
                Types::name_eq_at(&btf, off, name),
                "offset {off}, {name:?}"
            );
        }
    }
}

#[test]
fn chains_followed_on_record_words_end_where_views_end() {
    // Btf's kind_and_ref (two words of the record) against the provided method (a
    // view per step), and what skip_mods_and_typedefs and resolve_size make of both:
    // chains through modifiers, typedefs and arrays, a cycle, chains 31, 32 and 40
    // deep, a chain 32 deep ending past the last type, void.
    let mut b = sample();
    let arr2 = b.array(ids::ARRAY, ids::INT, 3);
    let cyc1 = b.typedef("cyc_a", arr2 + 2);
    b.typedef("cyc_b", cyc1);
    let tops: Vec<u32> = [31, 32, 40]
        .into_iter()
        .map(|depth| {
            let mut deep = ids::INT;
            for _ in 0..depth {
                deep = b.refk(BTF_KIND_CONST, "", deep);
            }
            deep
        })
        .collect();
    let mut bad = 9_999;
    for _ in 0..32 {
        bad = b.refk(BTF_KIND_VOLATILE, "", bad);
    }
    b.typedef("to_void", 0);
    let blob = b.build();
    let n = count_types(&blob).unwrap();
    let btf = Btf::parse_kernel(&blob[..], std::vec![0u32; n + 1]).unwrap();
    let plain = Plain(&btf);
    for id in 0..=btf.type_count() + 1 {
        assert_eq!(
            Types::kind_and_ref(&btf, id),
            plain.kind_and_ref(id),
            "type {id}"
        );
        assert_eq!(
            btf.skip_mods_and_typedefs(id).map(|t| t.id()),
            plain.skip_mods_and_typedefs(id).map(|t| t.id()),
            "type {id}"
        );
        assert_eq!(btf.resolve_size(id), plain.resolve_size(id), "type {id}");
    }
    assert_eq!(Types::kind_and_ref(&btf, 0), None);
    // As before the words were read: 31 modifiers are followed, 32 are too many, and
    // the id past the 32nd is looked up (a bad one reported as such).
    assert_eq!(btf.skip_mods_and_typedefs(tops[0]).unwrap().id(), ids::INT);
    assert!(btf.skip_mods_and_typedefs(tops[1]).is_err());
    assert_eq!(
        btf.skip_mods_and_typedefs(bad).map(|t| t.id()).unwrap_err(),
        btf.type_by_id(9_999).map(|t| t.id()).unwrap_err()
    );
}

#[test]
fn members_next_not_other_passes_over_other_names() {
    let mut b = B::new();
    let int = b.int("int", 4, u32::from(BTF_INT_SIGNED), 32);
    let inner = b.struct_("", 4, &[("x", int, 0)]);
    let s = b.struct_(
        "s",
        16,
        &[
            ("a", int, 0),
            ("", inner, 32),
            ("b", int, 64),
            ("a", int, 96),
        ],
    );
    let btf = parse(b.build()).unwrap();
    let ms = btf.type_by_id(s).unwrap().members().unwrap();
    assert_eq!(
        ms.next_not_other(0, b"b"),
        Some((1, Some(NameMatch::Empty)))
    );
    assert_eq!(
        ms.next_not_other(2, b"b"),
        Some((2, Some(NameMatch::Equal)))
    );
    assert_eq!(ms.next_not_other(3, b"b"), None);
    assert_eq!(
        ms.next_not_other(2, b"a"),
        Some((3, Some(NameMatch::Equal)))
    );
    assert_eq!(
        ms.next_not_other(0, b"a"),
        Some((0, Some(NameMatch::Equal)))
    );
    assert_eq!(ms.next_not_other(4, b"a"), None);
    assert_eq!(ms.next_not_other(9, b"a"), None);
}

/// Every type of a kind the spans cover.
fn all_of_kind(btf: &VBtf, kind: BtfKind) -> Vec<u32> {
    btf.local_ids()
        .filter(|&id| btf.kind_of(id) == Some(kind))
        .collect()
}

#[test]
fn ids_dot_named_spans_every_name_starting_with_a_dot() {
    // A struct named ".x" before the DATASECs (crafted: clang names no type so), a
    // FUNC named ".f" after them; types named otherwise around both.
    let mut b = B::new();
    let int = b.int("int", 4, 1, 32);
    let s = b.struct_(".x", 4, &[("a", int, 0)]);
    b.ptr(int);
    let d = b.datasec(".data", 0, &[]);
    let proto = b.proto(int, &[]);
    let f = b.func(".f", proto, 1);
    b.int("long", 8, 1, 64);
    let btf = parse(b.build()).unwrap();
    assert_eq!(btf.ids_dot_named(), s..f + 1);
    let dotted: Vec<u32> = btf
        .local_ids()
        .filter(|&id| btf.type_by_id(id).unwrap().name().unwrap().starts_with('.'))
        .collect();
    assert_eq!(dotted, [s, d, f]);
    assert_eq!(btf.borrowed().ids_dot_named(), btf.ids_dot_named());

    // None: an empty span.
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    assert!(parse(b.build()).unwrap().ids_dot_named().is_empty());
}

#[test]
fn ids_of_kind_spans_the_datasecs_and_decl_tags() {
    // DATASECs apart (not all at the end, as clang puts them), one DECL_TAG.
    let mut b = B::new();
    let int = b.int("int", 4, 1, 32);
    let v = b.var("v", int, 1);
    let d1 = b.datasec(".data", 4, &[(v, 0, 4)]);
    b.ptr(int);
    let proto = b.proto(int, &[]);
    let f = b.func("f", proto, 1);
    let tag = b.decl_tag("t", f, -1);
    let d2 = b.datasec(".bss", 0, &[]);
    b.ptr(int);
    let d3 = b.datasec(".ksyms", 0, &[]);
    b.int("long", 8, 1, 64);
    let btf = parse(b.build()).unwrap();
    assert_eq!(btf.ids_of_kind(BtfKind::Datasec), d1..d3 + 1);
    assert_eq!(btf.ids_of_kind(BtfKind::DeclTag), tag..tag + 1);
    assert_eq!(btf.ids_of_kind(BtfKind::Int), btf.local_ids());
    for kind in [BtfKind::Datasec, BtfKind::DeclTag] {
        let span: Vec<u32> = btf
            .ids_of_kind(kind)
            .filter(|&id| btf.kind_of(id) == Some(kind))
            .collect();
        assert_eq!(span, all_of_kind(&btf, kind));
    }
    assert_eq!(
        btf.find_by_name_kind(".bss", BtfKind::Datasec).unwrap(),
        Some(d2)
    );
    assert_eq!(
        btf.find_by_name_kind(".ksyms", BtfKind::Datasec).unwrap(),
        Some(d3)
    );
    assert_eq!(btf.find_by_name_kind("v", BtfKind::Datasec).unwrap(), None);
    // Through the trait, as generic callers (externs) see it.
    assert_eq!(Types::ids_of_kind(&btf, BtfKind::Datasec), d1..d3 + 1);

    // None of them: empty spans, lookups find nothing.
    let mut b = B::new();
    b.int("int", 4, 1, 32);
    let btf = parse(b.build()).unwrap();
    assert!(btf.ids_of_kind(BtfKind::Datasec).is_empty());
    assert!(btf.ids_of_kind(BtfKind::DeclTag).is_empty());
    assert_eq!(
        btf.find_by_name_kind(".bss", BtfKind::Datasec).unwrap(),
        None
    );

    // A borrowed view keeps the spans; split BTF is scanned whole through the trait.
    let base = parse(sample().build()).unwrap();
    assert_eq!(
        base.borrowed().ids_of_kind(BtfKind::Datasec),
        base.ids_of_kind(BtfKind::Datasec)
    );
    assert!(!base.ids_of_kind(BtfKind::Datasec).is_empty());
    let mut s = B::split(base.type_count(), base.header().str_len);
    s.datasec(".data", 0, &[]);
    let split = parse_split(s.build(), &base).unwrap();
    assert_eq!(
        Types::ids_of_kind(&split, BtfKind::Datasec),
        1..split.type_count()
    );
}

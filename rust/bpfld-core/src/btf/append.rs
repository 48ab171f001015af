// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Growing an object's BTF by one type: libbpf adds a `dummy_ksym` VAR to the object's
//! BTF when `.ksyms` declares kfuncs (`add_dummy_ksym_var`), which no in-place fixup can
//! do, since records never change length there.
//!
//! The blob cannot grow, so [`Btf::with_var`] builds a new one in caller memory, laid
//! out as libbpf's `btf__raw_data` writes a modified BTF: the header (its own length
//! kept), the type section with the new record at its end, then the string section,
//! with the name appended unless it already starts a string there (libbpf's string
//! set only knows the strings at string boundaries, and finds the first of equal ones).
//! The result is parsed again, so it carries the same invariants as any [`Btf`]; the
//! records it copies unchanged are neither walked nor checked a second time
//! (`Btf::parse_appended`): their offsets are this index's, moved.

use core::ops::Deref;

use super::parse::Btf;
use super::{BtfKind, BTF_HEADER_LEN, BTF_TYPE_LEN, BTF_VAR_GLOBAL_EXTERN};
use crate::bytes;
use crate::error::{Error, Kind, Result};
use crate::limits::MAX_BTF_SIZE;
use crate::mem::Alloc;

/// Size of a VAR record: `btf_type` and `btf_var`.
const VAR_LEN: usize = BTF_TYPE_LEN + 4;

/// The offset of the first string of `strs` equal to `name`, walking string starts from
/// offset 0 as libbpf's `strset__new` indexes them: the first offset that is 0 or
/// follows a NUL, holding `name` and then a NUL. Found by scanning for `name`'s first
/// byte eight bytes at a time: the object's whole string section is searched for a
/// name it usually lacks.
fn find_string(strs: &[u8], name: &[u8]) -> Option<u32> {
    let Some(&first) = name.first() else {
        // The empty string: the first string start holding a NUL.
        let at = (0..strs.len()).find(|&i| {
            strs.get(i) == Some(&0) && (i == 0 || strs.get(i.wrapping_sub(1)) == Some(&0))
        })?;
        return u32::try_from(at).ok();
    };
    let mut from = 0usize;
    while let Some(at) = next_byte(strs, from, first) {
        let starts = at == 0 || strs.get(at.wrapping_sub(1)) == Some(&0);
        let end = at.checked_add(name.len())?;
        if starts && strs.get(at..end) == Some(name) && strs.get(end) == Some(&0) {
            return u32::try_from(at).ok();
        }
        from = at.checked_add(1)?;
    }
    None
}

/// The first offset at or after `from` of byte `b` in `hay`.
fn next_byte(hay: &[u8], from: usize, b: u8) -> Option<usize> {
    from.checked_add(bytes::find_byte(hay.get(from..)?, b)?)
}

/// The object's BTF, grown by one type.
pub type Grown<A> = Btf<<A as Alloc>::Buf<u8>, <A as Alloc>::Buf<u32>>;

impl<D, O> Btf<D, O>
where
    D: Deref<Target = [u8]>,
    O: Deref<Target = [u32]>,
{
    /// A copy of this (non-split) BTF with a VAR `name` of type `type_id` and `linkage`
    /// appended (libbpf's `btf__add_var`), in memory from `alloc`. Returns the copy, the
    /// new VAR's id and its name offset.
    pub fn with_var<A: Alloc>(
        &self,
        name: &str,
        linkage: u32,
        type_id: u32,
        alloc: &mut A,
    ) -> Result<'static, (Grown<A>, u32, u32)> {
        if self.is_split() {
            return Err(Error::new(Kind::Unsupported("adding a type to split BTF")));
        }
        if name.is_empty() || linkage > BTF_VAR_GLOBAL_EXTERN || type_id >= self.type_count() {
            return Err(Error::malformed("invalid VAR to add to BTF"));
        }
        let hdr = *self.header();
        let types = self.type_section();
        let strs = self.string_section();
        let (name_off, extra) = match find_string(strs, name.as_bytes()) {
            Some(off) => (off, 0usize),
            None => (
                u32::try_from(strs.len()).map_err(|_| Error::malformed("BTF string size"))?,
                name.len().saturating_add(1),
            ),
        };
        let hdr_len = usize::try_from(hdr.hdr_len).unwrap_or(usize::MAX);
        let type_len = types.len().saturating_add(VAR_LEN);
        let str_len = strs.len().saturating_add(extra);
        let total = hdr_len.saturating_add(type_len).saturating_add(str_len);
        if total > MAX_BTF_SIZE {
            return Err(Error::limit("BTF bytes", total, MAX_BTF_SIZE));
        }
        let mut blob = alloc.alloc::<u8>(total)?;
        let hdr_bytes = self
            .data()
            .get(..hdr_len)
            .ok_or(Error::malformed("BTF header"))?;
        let (type_len32, str_len32) = (bytes::u32_of(type_len)?, bytes::u32_of(str_len)?);
        let rec = {
            let mut r = [0u8; VAR_LEN];
            let info = BtfKind::Var.as_u32() << 24;
            for (i, w) in [name_off, info, type_id, linkage].into_iter().enumerate() {
                if let Some(d) =
                    r.get_mut(i.saturating_mul(4)..i.saturating_mul(4).saturating_add(4))
                {
                    crate::util::copy(d, &w.to_le_bytes());
                }
            }
            r
        };
        let mut at = 0usize;
        let mut put = |b: &mut [u8], src: &[u8]| -> Result<'static, ()> {
            let end = at.saturating_add(src.len());
            let d = b
                .get_mut(at..end)
                .ok_or(Error::malformed("BTF copy size"))?;
            crate::util::copy(d, src);
            at = end;
            Ok(())
        };
        put(&mut blob, hdr_bytes)?;
        put(&mut blob, types)?;
        put(&mut blob, &rec)?;
        put(&mut blob, strs)?;
        if extra != 0 {
            put(&mut blob, name.as_bytes())?;
            put(&mut blob, &[0])?;
        }
        // The header: types first at offset 0, strings right after them.
        let fields = [
            (8usize, 0u32),
            (12, type_len32),
            (16, type_len32),
            (20, str_len32),
        ];
        for (off, v) in fields {
            if off.saturating_add(4) > BTF_HEADER_LEN || !bytes::put_u32(&mut blob, off, v) {
                return Err(Error::malformed("BTF header"));
            }
        }
        // This BTF's records and one more: their offsets moved from this index, and
        // only the new VAR walked and checked.
        let mut offsets = alloc.alloc::<u32>(self.type_count().saturating_add(1) as usize)?;
        let known = self.known(&mut offsets, hdr_len)?;
        let btf = Btf::parse_appended(blob, offsets, known)?;
        let id = btf.type_count().saturating_sub(1);
        Ok((btf, id, name_off))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{parse, B};
    use super::super::{Types, BTF_INT_SIGNED, BTF_VAR_GLOBAL_ALLOCATED};
    use super::*;
    use crate::mem::VecAlloc;
    use std::vec::Vec;

    #[test]
    fn appends_var_and_string() {
        let mut b = B::new();
        let int = b.int("int", 4, u32::from(BTF_INT_SIGNED), 32);
        b.var("x", int, BTF_VAR_GLOBAL_ALLOCATED);
        let btf = parse(b.build()).unwrap();
        let mut a = VecAlloc::default();
        let (g, id, name_off) = btf
            .with_var("dummy_ksym", BTF_VAR_GLOBAL_ALLOCATED, int, &mut a)
            .unwrap();
        assert_eq!(id, btf.type_count());
        assert_eq!(g.type_count(), btf.type_count() + 1);
        let t = g.type_by_id(id).unwrap();
        assert_eq!(t.kind(), BtfKind::Var);
        assert_eq!(t.name().unwrap(), "dummy_ksym");
        assert_eq!(t.name_off(), name_off);
        assert_eq!(t.var().unwrap().type_id, int);
        assert_eq!(t.var().unwrap().linkage, BTF_VAR_GLOBAL_ALLOCATED);
        // Old types and names are unchanged.
        for i in 1..btf.type_count() {
            assert_eq!(
                g.type_by_id(i).unwrap().name().unwrap(),
                btf.type_by_id(i).unwrap().name().unwrap()
            );
        }
        assert_eq!(g.string_section().len(), btf.string_section().len() + 11);

        // An existing string is reused.
        let (g2, _, off2) = g
            .with_var("x", BTF_VAR_GLOBAL_ALLOCATED, int, &mut a)
            .unwrap();
        assert_eq!(g2.string_section().len(), g.string_section().len());
        assert_eq!(g2.name_at(off2).unwrap(), "x");
        // Checked again as the new record it is: a VAR's name must be an identifier.
        assert!(g.with_var("1x", 1, int, &mut a).is_err());
        assert!(g.with_var("", 1, int, &mut a).is_err());
        assert!(g.with_var("y", 7, int, &mut a).is_err());
        assert!(g.with_var("y", 1, 999, &mut a).is_err());
    }

    #[test]
    fn appended_parse_equals_a_full_parse() {
        let mut b = B::new();
        let int = b.int("int", 4, u32::from(BTF_INT_SIGNED), 32);
        let s = b.struct_("s", 8, &[("a", int, 0), ("b", int, 32)]);
        let x = b.var("x", s, BTF_VAR_GLOBAL_ALLOCATED);
        b.decl_tag("t", s, 0);
        b.datasec(".data", 8, &[(x, 0, 8)]);
        let btf = parse(b.build()).unwrap();
        let mut a = VecAlloc::default();
        let (g, _, _) = btf
            .with_var("dummy_ksym", BTF_VAR_GLOBAL_ALLOCATED, int, &mut a)
            .unwrap();
        let full = parse(g.data().to_vec()).unwrap();
        assert_eq!(full.type_count(), g.type_count());
        // The spans of DATASECs and DECL_TAGs carried over from the index `g` grew from.
        for kind in [BtfKind::Datasec, BtfKind::DeclTag] {
            assert_eq!(full.ids_of_kind(kind), g.ids_of_kind(kind), "{kind:?}");
            assert_eq!(full.ids_of_kind(kind).len(), 1, "{kind:?}");
        }
        let ids = 1..g.type_count();
        let (hf, hg) = (Types::raw_heads(&full), Types::raw_heads(&g));
        assert_eq!(
            hf.and_then(|h| h.named_in(&ids)),
            hg.and_then(|h| h.named_in(&ids))
        );
        for id in ids {
            assert_eq!(
                full.record_offset(id).unwrap(),
                g.record_offset(id).unwrap()
            );
            assert_eq!(full.head(id), g.head(id));
        }
    }

    #[test]
    fn find_string_walks_boundaries() {
        let s = b"\0ab\0b\0ab\0";
        assert_eq!(find_string(s, b"ab"), Some(1));
        assert_eq!(find_string(s, b"b"), Some(4));
        assert_eq!(find_string(s, b""), Some(0));
        assert_eq!(find_string(s, b"c"), None);
    }

    /// libbpf's walk, string by string.
    fn walk(strs: &[u8], name: &[u8]) -> Option<u32> {
        let mut off = 0usize;
        while off < strs.len() {
            let rest = &strs[off..];
            let len = rest.iter().position(|&b| b == 0)?;
            if &rest[..len] == name {
                return u32::try_from(off).ok();
            }
            off += len + 1;
        }
        None
    }

    #[test]
    fn find_string_equals_the_walk() {
        // Short strings over a 3-letter alphabet, so that names recur inside others, at
        // every alignment, with and without a final NUL.
        let mut x: u32 = 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let alphabet = b"ab\0";
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let strs: Vec<u8> = (0..len).map(|_| alphabet[(next() % 3) as usize]).collect();
            let n = (next() % 4) as usize;
            let name: Vec<u8> = (0..n).map(|_| alphabet[(next() % 2) as usize]).collect();
            assert_eq!(
                find_string(&strs, &name),
                walk(&strs, &name),
                "{strs:?} {name:?}"
            );
        }
    }
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Base + split BTF read as one: a kernel module's BTF (`/sys/kernel/btf/<module>`)
//! continues vmlinux's type ids and string offsets, and its types refer to vmlinux types
//! and names. Ids below the split's first id, and string offsets below the base's string
//! section length, are the base's (as the kernel's `btf_type_by_id` and
//! `btf_str_by_offset` walk down to the base).

use core::ops::Deref;

use super::parse::Btf;
use super::view::{Strings, Type};
use super::{BtfKind, Types};
use crate::error::{Error, Kind, Result};

/// A split BTF joined to the base it was parsed on; implements [`Types`] over both.
#[derive(Debug)]
pub struct SplitBtf<'a> {
    base: Btf<&'a [u8], &'a [u32]>,
    split: Btf<&'a [u8], &'a [u32]>,
}

impl<'a> SplitBtf<'a> {
    /// Join `split` (from [`Btf::parse_split`]) to the `base` it was parsed on.
    pub fn new<BD, BO, SD, SO>(
        base: &'a Btf<BD, BO>,
        split: &'a Btf<SD, SO>,
    ) -> Result<'static, Self>
    where
        BD: Deref<Target = [u8]>,
        BO: Deref<Target = [u32]>,
        SD: Deref<Target = [u8]>,
        SO: Deref<Target = [u32]>,
    {
        if base.is_split() {
            return Err(Error::new(Kind::Unsupported(
                "split BTF on top of split BTF",
            )));
        }
        if !split.is_split()
            || split.start_id() != base.type_count()
            || split.start_str_off() != base.header().str_len
        {
            return Err(Error::malformed(
                "split BTF was not parsed on this base BTF",
            ));
        }
        Ok(SplitBtf {
            base: base.borrowed(),
            split: split.borrowed(),
        })
    }

    /// The base (vmlinux) BTF.
    pub fn base(&self) -> &Btf<&'a [u8], &'a [u32]> {
        &self.base
    }

    /// The split (module) BTF.
    pub fn split(&self) -> &Btf<&'a [u8], &'a [u32]> {
        &self.split
    }

    /// Strings of both: base offsets first, then the split's.
    pub fn strings(&self) -> Strings<'_> {
        Strings::new(
            self.base.string_section(),
            self.split.start_str_off(),
            self.split.string_section(),
        )
    }
}

impl Types for SplitBtf<'_> {
    fn type_count(&self) -> u32 {
        self.split.type_count()
    }

    fn type_by_id(&self, id: u32) -> Result<'static, Type<'_>> {
        if id < self.split.start_id() {
            self.base.type_with_strings(id, self.strings())
        } else {
            self.split.type_with_strings(id, self.strings())
        }
    }

    fn name_at(&self, off: u32) -> Result<'static, &str> {
        self.strings().get(off)
    }

    fn kind_and_ref(&self, id: u32) -> Option<(BtfKind, u32)> {
        if id < self.split.start_id() {
            Types::kind_and_ref(&self.base, id)
        } else {
            Types::kind_and_ref(&self.split, id)
        }
    }

    fn name_bytes_at(&self, off: u32) -> Option<&[u8]> {
        self.strings().bytes(off)
    }

    fn name_eq_at(&self, off: u32, name: &[u8]) -> bool {
        self.strings().eq_at(off, name)
    }
}

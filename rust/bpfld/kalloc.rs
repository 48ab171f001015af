// SPDX-License-Identifier: GPL-2.0

//! The core's memory, backed by `KVVec` with `GFP_KERNEL`.
//!
//! The core asks for every buffer with its final length; kvmalloc serves small ones
//! from the slab and large ones (file contents, instructions) from vmalloc.

use bpfld_core::error::{Error, Kind};
use bpfld_core::mem::Alloc;
use kernel::alloc::KVVec;
use kernel::prelude::*;

/// Allocator handed to the core, counting what it handed out.
#[derive(Default)]
pub(crate) struct KAlloc {
    /// Bytes handed out so far.
    pub(crate) bytes: usize,
}

impl Alloc for KAlloc {
    type Buf<T: Copy + Default> = KVVec<T>;

    fn alloc<T: Copy + Default>(&mut self, len: usize) -> bpfld_core::Result<'static, KVVec<T>> {
        let v = KVVec::from_elem(T::default(), len, GFP_KERNEL)
            .map_err(|_| Error::new(Kind::NoMemory))?;
        self.bytes = self
            .bytes
            .saturating_add(len.saturating_mul(core::mem::size_of::<T>()));
        Ok(v)
    }
}

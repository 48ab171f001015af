// SPDX-License-Identifier: GPL-2.0

//! The core's memory, backed by `KVVec`.
//!
//! The core asks for every buffer with its final length; kvmalloc serves small ones
//! from the slab and large ones (file contents, instructions) from vmalloc. A load's
//! buffers are charged to the caller's memory cgroup (`GFP_KERNEL_ACCOUNT`, with the
//! caller's cgroup active in the loading thread and its work beside); the caches that
//! outlive every load (vmlinux's and modules' BTF indices) are the module's and are not.

use bpfld_core::error::{Error, Kind};
use bpfld_core::mem::Alloc;
use kernel::alloc::KVVec;
use kernel::prelude::*;

/// Allocator handed to the core, counting what it handed out.
#[derive(Default)]
pub(crate) struct KAlloc {
    /// Bytes handed out so far.
    pub(crate) bytes: usize,
    /// For a cache of the module's, kept past the load: not charged to its caller.
    shared: bool,
}

impl KAlloc {
    /// For the module's caches (not a load's buffers).
    pub(crate) fn shared() -> Self {
        KAlloc {
            bytes: 0,
            shared: true,
        }
    }
}

impl Alloc for KAlloc {
    type Buf<T: Copy + Default> = KVVec<T>;

    fn alloc<T: Copy + Default>(&mut self, len: usize) -> bpfld_core::Result<'static, KVVec<T>> {
        // A load's sizes come from its file: failing is the caller's ENOMEM, not a
        // warning in the kernel's log (__GFP_NOWARN, as for user-sized buffers).
        let flags = if self.shared {
            GFP_KERNEL
        } else {
            GFP_KERNEL_ACCOUNT | __GFP_NOWARN
        };
        let v =
            KVVec::from_elem(T::default(), len, flags).map_err(|_| Error::new(Kind::NoMemory))?;
        self.bytes = self
            .bytes
            .saturating_add(len.saturating_mul(core::mem::size_of::<T>()));
        Ok(v)
    }
}

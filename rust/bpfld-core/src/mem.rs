// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Memory without `alloc`: the core computes how much it needs and asks its caller.
//!
//! Linux 6.12 has no `alloc` crate; its allocations go through `KVVec` with explicit GFP
//! flags. The core therefore owns no allocator. Every buffer is requested through
//! [`Alloc::alloc`] with its final length (the core counts first, then allocates), filled
//! with `T::default()`, and never grows. The kernel backs it with `KVVec`, user space with
//! `Vec`. A failed allocation is an ordinary error ([`crate::error::Kind::NoMemory`]).

use crate::error::{Error, Kind, Result};
use core::ops::{Deref, DerefMut};

/// A source of fixed-length, zero-initialised (`Default`) buffers.
pub trait Alloc {
    /// An owned buffer of exactly the requested length.
    type Buf<T: Copy + Default>: Deref<Target = [T]> + DerefMut;

    /// Allocate `len` elements, each `T::default()`.
    ///
    /// Implementations must fail (not abort) when memory is short or `len` is absurd.
    fn alloc<T: Copy + Default>(&mut self, len: usize) -> Result<'static, Self::Buf<T>>;
}

/// Allocate, turning a length that does not fit a `usize` into an error first.
pub fn alloc_n<A: Alloc, T: Copy + Default>(a: &mut A, len: u64) -> Result<'static, A::Buf<T>> {
    let len = usize::try_from(len).map_err(|_| Error::new(Kind::NoMemory))?;
    a.alloc(len)
}

/// Copy `src` into a new buffer.
pub fn alloc_copy<A: Alloc, T: Copy + Default>(a: &mut A, src: &[T]) -> Result<'static, A::Buf<T>> {
    let mut b = a.alloc::<T>(src.len())?;
    crate::util::copy(&mut b, src);
    Ok(b)
}

/// A `Vec`-backed allocator for user space, tests and fuzzing, counting what it hands out.
#[cfg(any(test, feature = "host"))]
#[derive(Debug, Default)]
pub struct VecAlloc {
    /// Bytes handed out so far.
    pub bytes: usize,
    /// Number of allocations.
    pub count: usize,
    /// Refuse allocations once `bytes` would exceed this (0: no limit).
    pub limit: usize,
}

#[cfg(any(test, feature = "host"))]
impl Alloc for VecAlloc {
    type Buf<T: Copy + Default> = std::vec::Vec<T>;

    fn alloc<T: Copy + Default>(&mut self, len: usize) -> Result<'static, std::vec::Vec<T>> {
        let size = len
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(Error::new(Kind::NoMemory))?;
        let total = self
            .bytes
            .checked_add(size)
            .ok_or(Error::new(Kind::NoMemory))?;
        if self.limit != 0 && total > self.limit {
            return Err(Error::new(Kind::NoMemory));
        }
        let mut v = std::vec::Vec::new();
        v.try_reserve_exact(len)
            .map_err(|_| Error::new(Kind::NoMemory))?;
        v.resize(len, T::default());
        self.bytes = total;
        self.count = self.count.saturating_add(1);
        Ok(v)
    }
}

// SPDX-License-Identifier: GPL-2.0-only

//! A counting global allocator: the heap bytes this process holds, and the most it held
//! since a [`Mark`]. Blocks are counted by `malloc_usable_size`, as
//! `selftests/tools/libbpf_bench.c` counts libbpf's, so both sides use one measure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

/// The system allocator (glibc's malloc), counted.
pub struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn usable(p: *mut u8) -> i64 {
    // SAFETY: `p` is a live block of glibc's allocator (System allocates with malloc or
    // posix_memalign on Linux), which malloc_usable_size accepts.
    unsafe { libc::malloc_usable_size(p.cast()) as i64 }
}

fn add(p: *mut u8) {
    if !p.is_null() {
        let n = usable(p);
        let live = LIVE.fetch_add(n, Relaxed) + n;
        PEAK.fetch_max(live, Relaxed);
    }
}

// SAFETY: every call is forwarded to `System`, which upholds GlobalAlloc's contract; the
// counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        add(p);
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        add(p);
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        LIVE.fetch_sub(usable(p), Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(p, layout) }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = usable(p);
        // SAFETY: forwarded with the caller's guarantees.
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_sub(before, Relaxed);
            add(q);
        }
        q
    }
}

/// A point to measure heap use from.
pub struct Mark {
    base: i64,
}

impl Mark {
    /// Start measuring: the peak restarts at what is held now.
    pub fn start() -> Mark {
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        Mark { base }
    }

    /// The most held since the mark, above what was held at it.
    pub fn peak(&self) -> u64 {
        (PEAK.load(Relaxed) - self.base).max(0) as u64
    }

    /// What is held now above what was held at the mark.
    pub fn live(&self) -> u64 {
        (LIVE.load(Relaxed) - self.base).max(0) as u64
    }
}

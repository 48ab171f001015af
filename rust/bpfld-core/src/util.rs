// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Slice helpers without panic paths.
//!
//! `copy_from_slice` and the `sort` family of `core` carry panic paths (length
//! mismatch, inconsistent ordering) that the compiler keeps even where they cannot be
//! reached. The kernel must not contain reachable panics and objtool cannot see through
//! those of a newer `core`, so the core copies and sorts with these instead.

use core::cmp::Ordering;

/// Copy `min(dst.len(), src.len())` elements from `src` to the start of `dst`.
#[inline]
pub fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// Swap elements `a < b` of `v` (nothing if out of range).
#[inline]
fn swap<T>(v: &mut [T], a: usize, b: usize) {
    if let Some(sub) = v.get_mut(a..=b) {
        if let Some((first, rest)) = sub.split_first_mut() {
            if let Some(last) = rest.last_mut() {
                core::mem::swap(first, last);
            }
        }
    }
}

fn sift_down<T>(v: &mut [T], mut root: usize, end: usize, less: &impl Fn(&T, &T) -> bool) {
    loop {
        let Some(left) = root.checked_mul(2).and_then(|x| x.checked_add(1)) else {
            return;
        };
        if left >= end {
            return;
        }
        let mut child = left;
        let right = left.saturating_add(1);
        if right < end {
            if let (Some(l), Some(r)) = (v.get(left), v.get(right)) {
                if less(l, r) {
                    child = right;
                }
            }
        }
        match (v.get(root), v.get(child)) {
            (Some(r), Some(c)) if less(r, c) => {
                swap(v, root, child);
                root = child;
            }
            _ => return,
        }
    }
}

/// Sort `v` by `cmp` (heapsort: in place, O(n log n), not stable, no allocation).
pub fn sort_by<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    let less = |a: &T, b: &T| cmp(a, b) == Ordering::Less;
    let n = v.len();
    let mut start = n / 2;
    while start > 0 {
        start = start.saturating_sub(1);
        sift_down(v, start, n, &less);
    }
    let mut end = n;
    while end > 1 {
        end = end.saturating_sub(1);
        swap(v, 0, end);
        sift_down(v, 0, end, &less);
    }
}

/// Sort `v` by a key.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn sorts_like_std() {
        let mut seed = 0x1234_5678u32;
        for n in [0usize, 1, 2, 3, 10, 100, 1000] {
            let mut v: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    seed % 97
                })
                .collect();
            let mut w = v.clone();
            sort_by_key(&mut v, |x| *x);
            w.sort();
            assert_eq!(v, w);
        }
    }

    #[test]
    fn copy_copies_the_common_prefix() {
        let mut d = [0u8; 4];
        copy(&mut d, &[1, 2, 3, 4, 5]);
        assert_eq!(d, [1, 2, 3, 4]);
        copy(&mut d, &[9]);
        assert_eq!(d, [9, 2, 3, 4]);
    }
}

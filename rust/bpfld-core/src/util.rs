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

/// The text of a byte array up to its first NUL (all of it if there is none), if it is
/// UTF-8: a C string in a fixed-size field (a kernel object or module name).
pub fn c_text(bytes: &[u8]) -> Option<&str> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(bytes.get(..end)?).ok()
}

/// Swap elements `a <= b` of `v` (nothing if out of range or equal).
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

/// Heapsort: O(n log n) whatever the input, the fallback of [`sort_by`].
fn heapsort<T>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
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
        sift_down(v, 0, end, less);
    }
}

/// Slices this short are insertion-sorted.
const SMALL: usize = 16;

fn is_less<T>(v: &[T], a: usize, b: usize, less: &impl Fn(&T, &T) -> bool) -> bool {
    match (v.get(a), v.get(b)) {
        (Some(x), Some(y)) => less(x, y),
        _ => false,
    }
}

fn insertion_sort<T>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 {
            let prev = j.saturating_sub(1);
            if !is_less(v, j, prev, less) {
                break;
            }
            swap(v, prev, j);
            j = prev;
        }
    }
}

/// Hoare partition around the median of the first, middle and last elements, which
/// ends at index 0 of `v` then at the returned index `p`: afterwards `v[..p]` is not
/// greater and `v[p + 1..]` not less than `v[p]`. Elements equal to the pivot stop
/// both scans, so runs of equal keys split evenly. `v.len() >= 3`.
fn partition<T>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) -> usize {
    let last = v.len().saturating_sub(1);
    let (a, b, c) = (0, v.len() / 2, last);
    let m = if is_less(v, a, b, less) {
        if is_less(v, b, c, less) {
            b
        } else if is_less(v, a, c, less) {
            c
        } else {
            a
        }
    } else if is_less(v, a, c, less) {
        a
    } else if is_less(v, b, c, less) {
        c
    } else {
        b
    };
    swap(v, 0, m);
    let (mut i, mut j) = (1usize, last);
    loop {
        while i <= j && is_less(v, i, 0, less) {
            i = i.saturating_add(1);
        }
        while i <= j && is_less(v, 0, j, less) {
            j = j.saturating_sub(1);
        }
        if i >= j {
            break;
        }
        swap(v, i, j);
        i = i.saturating_add(1);
        j = j.saturating_sub(1);
    }
    swap(v, 0, j);
    j
}

/// Introsort: quicksort, recursing into the smaller side only (so at most log2(n)
/// frames), insertion sort for short slices, heapsort below `depth` levels.
fn introsort<T>(mut v: &mut [T], mut depth: u32, less: &impl Fn(&T, &T) -> bool) {
    loop {
        if v.len() <= SMALL {
            insertion_sort(v, less);
            return;
        }
        if depth == 0 {
            heapsort(v, less);
            return;
        }
        depth = depth.saturating_sub(1);
        let p = partition(v, less);
        let Some((lo, rest)) = v.split_at_mut_checked(p) else {
            return;
        };
        let hi = rest.get_mut(1..).unwrap_or_default();
        if lo.len() < hi.len() {
            introsort(lo, depth, less);
            v = hi;
        } else {
            introsort(hi, depth, less);
            v = lo;
        }
    }
}

/// Sort `v` by `cmp`: in place, not stable, no allocation, O(n log n) (introsort:
/// quicksort that falls back to heapsort on inputs that defeat its pivots).
pub fn sort_by<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    let less = |a: &T, b: &T| cmp(a, b) == Ordering::Less;
    // Twice the depth of a balanced recursion.
    let depth = usize::BITS
        .saturating_sub(v.len().leading_zeros())
        .saturating_mul(2);
    introsort(v, depth, &less);
}

/// Stable sort of `v` by a `u32` key: LSD radix sort, a byte per pass, through `scratch`
/// (at least as long as `v`, which holds at most `u32::MAX` elements; otherwise `v` is
/// left unsorted). Its counts take 1 KiB of stack: it runs on kernel stacks.
pub fn radix_sort_by_u32<T: Copy>(v: &mut [T], scratch: &mut [T], key: impl Fn(&T) -> u32) {
    let Some(scratch) = scratch.get_mut(..v.len()) else {
        return;
    };
    // Four passes: from `v` to `scratch` and back, twice, so the result is in `v`.
    for pass in 0..4u32 {
        let shift = pass.saturating_mul(8);
        let digit = |x: &T| ((key(x) >> shift) & 0xff) as usize;
        let (src, dst): (&[T], &mut [T]) = if pass % 2 == 0 {
            (&*v, &mut *scratch)
        } else {
            (&*scratch, &mut *v)
        };
        let mut pos = [0u32; 256];
        for x in src {
            if let Some(c) = pos.get_mut(digit(x)) {
                *c = c.saturating_add(1);
            }
        }
        let mut sum = 0u32;
        for c in pos.iter_mut() {
            let n = *c;
            *c = sum;
            sum = sum.saturating_add(n);
        }
        for x in src {
            if let Some(p) = pos.get_mut(digit(x)) {
                if let Some(d) = dst.get_mut(*p as usize) {
                    *d = *x;
                }
                *p = p.saturating_add(1);
            }
        }
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
        for n in [0usize, 1, 2, 3, 10, 16, 17, 18, 100, 1000, 5000] {
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
    fn radix_sort_is_a_stable_sort_by_key() {
        let mut seed = 0x9e37_79b9u32;
        for n in [0usize, 1, 2, 7, 100, 5000, 70_000] {
            let v: Vec<(u32, u32)> = (0..n as u32)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    // Few distinct keys at small n, all 32 bits used at large n.
                    (if n < 200 { seed % 7 } else { seed }, i)
                })
                .collect();
            let mut got = v.clone();
            let mut scratch = std::vec![(0, 0); n];
            radix_sort_by_u32(&mut got, &mut scratch, |e| e.0);
            let mut want = v.clone();
            want.sort_by_key(|e| e.0);
            assert_eq!(got, want, "n = {n}");
        }
        // A scratch too short leaves the input as it was.
        let mut v = std::vec![3u32, 1, 2];
        radix_sort_by_u32(&mut v, &mut [0; 2], |x| *x);
        assert_eq!(v, [3, 1, 2]);
    }

    #[test]
    fn sorts_adversarial_shapes() {
        let n = 3000u32;
        let shapes: Vec<Vec<u32>> = std::vec![
            (0..n).collect(),
            (0..n).rev().collect(),
            std::vec![7; n as usize],
            (0..n).map(|i| i % 2).collect(),
            (0..n).map(|i| if i < n / 2 { i } else { n - i }).collect(),
            (0..n).map(|i| (i * 7919) % 13).collect(),
        ];
        for mut v in shapes {
            let mut w = v.clone();
            sort_by(&mut v, |a, b| a.cmp(b));
            w.sort();
            assert_eq!(v, w);
            let mut h = w.clone();
            h.reverse();
            heapsort(&mut h, &|a: &u32, b: &u32| a < b);
            assert_eq!(h, w);
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

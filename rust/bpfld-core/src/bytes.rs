// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Bounds-checked little-endian reads from untrusted bytes.
//!
//! Every read of the object file goes through these helpers: they return `None` (or a
//! [`crate::Error`] via the `_e` variants) instead of panicking, never require alignment,
//! and read little-endian explicitly (BPF objects for x86-64 and arm64 are
//! little-endian; big-endian objects are refused when the ELF header is read).

use crate::error::{Error, Result};

/// `len` bytes at `off`, if they lie inside `buf`.
#[inline]
pub fn slice(buf: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    buf.get(off..off.checked_add(len)?)
}

/// `N` bytes at `off` as an array.
#[inline]
pub fn array<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let b = buf.get(off..off.checked_add(N)?)?;
    b.try_into().ok()
}

/// A little-endian `u8` at `off`.
#[inline]
pub fn u8_at(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

/// A little-endian `u16` at `off`.
#[inline]
pub fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    array(buf, off).map(u16::from_le_bytes)
}

/// A little-endian `u32` at `off`.
#[inline]
pub fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    array(buf, off).map(u32::from_le_bytes)
}

/// A little-endian `i32` at `off`.
#[inline]
pub fn i32_at(buf: &[u8], off: usize) -> Option<i32> {
    array(buf, off).map(i32::from_le_bytes)
}

/// A little-endian `u64` at `off`.
#[inline]
pub fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    array(buf, off).map(u64::from_le_bytes)
}

/// Write a little-endian `u32` at `off`; `false` if out of bounds.
#[inline]
pub fn put_u32(buf: &mut [u8], off: usize, v: u32) -> bool {
    match off.checked_add(4).and_then(|end| buf.get_mut(off..end)) {
        Some(d) => {
            crate::util::copy(d, &v.to_le_bytes());
            true
        }
        None => false,
    }
}

/// Index of the first byte `x` of `b`, eight bytes at a time: names and string tables
/// are searched for their NULs at every step of a parse.
#[inline]
pub fn find_byte(b: &[u8], x: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO.wrapping_mul(u64::from(x));
    let mut chunks = b.chunks_exact(8);
    let mut at = 0usize;
    for c in chunks.by_ref() {
        let mut w = [0u8; 8];
        crate::util::copy(&mut w, c);
        let w = u64::from_le_bytes(w) ^ rep;
        // Sets the high bit of the lowest zero byte of `w`, a byte equal to `x` (bits
        // above it may be wrong, which the lowest-set-bit count ignores).
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(at.saturating_add((z.trailing_zeros() / 8) as usize));
        }
        at = at.saturating_add(8);
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == x)
        .map(|i| at.saturating_add(i))
}

/// The NUL-terminated string starting at `off` in a string table, at most `max` bytes
/// long (without the NUL), which must be valid UTF-8.
pub fn cstr(table: &[u8], off: usize, max: usize) -> Option<&str> {
    let rest = table.get(off..)?;
    let window = rest.get(..max.saturating_add(1)).unwrap_or(rest);
    let end = find_byte(window, 0)?;
    core::str::from_utf8(window.get(..end)?).ok()
}

/// Why [`cstr_checked`] found no name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadName {
    /// The offset is past the table.
    Offset,
    /// No NUL within `max` bytes, but the table goes on.
    TooLong,
    /// No NUL before the table ends.
    Unterminated,
    /// Not UTF-8.
    NotUtf8,
}

/// [`cstr`], saying why there is no name.
pub fn cstr_checked(table: &[u8], off: usize, max: usize) -> core::result::Result<&str, BadName> {
    let rest = table.get(off..).ok_or(BadName::Offset)?;
    let window = rest.get(..max.saturating_add(1)).unwrap_or(rest);
    let Some(end) = find_byte(window, 0) else {
        return Err(if rest.len() > max {
            BadName::TooLong
        } else {
            BadName::Unterminated
        });
    };
    core::str::from_utf8(window.get(..end).unwrap_or_default()).map_err(|_| BadName::NotUtf8)
}

/// [`cstr`] with an error for the failure case.
pub fn cstr_e<'a>(
    table: &'a [u8],
    off: usize,
    max: usize,
    what: &'static str,
) -> Result<'a, &'a str> {
    cstr(table, off, max).ok_or_else(|| Error::malformed(what))
}

/// `a + b` for offsets, with an error on overflow.
#[inline]
pub fn add(a: u64, b: u64) -> Result<'static, u64> {
    a.checked_add(b).ok_or(Error::malformed("offset overflow"))
}

/// `a * b` for sizes, with an error on overflow.
#[inline]
pub fn mul(a: u64, b: u64) -> Result<'static, u64> {
    a.checked_mul(b).ok_or(Error::malformed("size overflow"))
}

/// Lossless `usize` from `u64` (every supported target is 64-bit), or an error.
#[inline]
pub fn usize_of(v: u64) -> Result<'static, usize> {
    usize::try_from(v).map_err(|_| Error::malformed("value does not fit usize"))
}

/// Lossless `u32` from a `usize` count, or an error.
#[inline]
pub fn u32_of(v: usize) -> Result<'static, u32> {
    u32::try_from(v).map_err(|_| Error::malformed("value does not fit u32"))
}

/// A `u32` index or count as a `usize`; `usize::MAX` (so that a lookup with it fails)
/// where it would not fit.
#[inline]
pub fn idx(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_equals_position() {
        // Every length to 40 and every start in a buffer of few distinct bytes, so that
        // matches fall on every lane and next to others.
        let buf: std::vec::Vec<u8> = (0..64u32).map(|i| (i * 7 % 5) as u8).collect();
        for start in 0..8 {
            for len in 0..40 {
                let b = &buf[start..start + len];
                for x in 0..6u8 {
                    assert_eq!(find_byte(b, x), b.iter().position(|&c| c == x));
                }
            }
        }
        assert_eq!(find_byte(&[0x80, 0x7f, 0xff, 1], 0xff), Some(2));
        assert_eq!(
            find_byte(&[0x01, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x01], 1),
            Some(0)
        );
    }

    #[test]
    fn reads_are_bounded() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(u32_at(&b, 0), Some(0x0403_0201));
        assert_eq!(u32_at(&b, 2), None);
        assert_eq!(u32_at(&b, usize::MAX), None);
        assert_eq!(slice(&b, 4, 1), Some(&[5u8][..]));
        assert_eq!(slice(&b, 4, 2), None);
        assert_eq!(slice(&b, u64::MAX, 2), None);
    }

    #[test]
    fn cstr_needs_nul_within_max() {
        let t = b"\0abc\0defgh\0";
        assert_eq!(cstr(t, 0, 16), Some(""));
        assert_eq!(cstr(t, 1, 3), Some("abc"));
        assert_eq!(cstr(t, 5, 4), None);
        assert_eq!(cstr(t, 5, 5), Some("defgh"));
        assert_eq!(cstr(b"abc", 0, 16), None);
        assert_eq!(cstr(b"\xff\0", 0, 16), None);
    }
}

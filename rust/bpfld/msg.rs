// SPDX-License-Identifier: GPL-2.0

//! Fixed-size text buffers for messages that go to user space and the log.

use core::fmt;

/// A NUL-terminated message of at most `N - 1` bytes; longer text is cut (on a UTF-8
/// boundary) and ends with `...`.
pub(crate) struct Msg<const N: usize> {
    pub(crate) buf: [u8; N],
    len: usize,
}

impl<const N: usize> Msg<N> {
    pub(crate) fn new() -> Self {
        Msg {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl<const N: usize> fmt::Write for Msg<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N.saturating_sub(1).saturating_sub(self.len);
        if s.len() <= room {
            self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
            return Ok(());
        }
        // Cut on a char boundary, leaving room for "...".
        let mut n = room.saturating_sub(3);
        while n > 0 && !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        for _ in 0..3.min(N.saturating_sub(1).saturating_sub(self.len)) {
            self.buf[self.len] = b'.';
            self.len += 1;
        }
        Err(fmt::Error)
    }
}

/// Lowercase hex of `bytes` into a message.
pub(crate) fn hex<const N: usize>(bytes: &[u8]) -> Msg<N> {
    use fmt::Write;
    let mut m = Msg::new();
    for b in bytes {
        let _ = write!(m, "{b:02x}");
    }
    m
}

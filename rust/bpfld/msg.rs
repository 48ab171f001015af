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
        self.buf
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("?")
    }

    /// Appends as much of `bytes` as fits before the terminating NUL.
    fn push_bytes(&mut self, bytes: &[u8]) {
        let room = self
            .buf
            .get_mut(self.len..N.saturating_sub(1))
            .unwrap_or_default();
        let n = bytes.len().min(room.len());
        for (d, s) in room.iter_mut().zip(bytes) {
            *d = *s;
        }
        self.len = self.len.saturating_add(n);
    }
}

impl<const N: usize> fmt::Write for Msg<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N.saturating_sub(1).saturating_sub(self.len);
        if s.len() <= room {
            self.push_bytes(s.as_bytes());
            return Ok(());
        }
        // Cut on a char boundary, leaving room for "...".
        let mut n = room.saturating_sub(3);
        while n > 0 && !s.is_char_boundary(n) {
            n = n.saturating_sub(1);
        }
        self.push_bytes(s.as_bytes().get(..n).unwrap_or_default());
        self.push_bytes(b"...");
        Err(fmt::Error)
    }
}

/// Text for the kernel log with its control characters (newlines among them) written as
/// `\xNN`: what bpfld logs of a load holds names the caller chose (the file's, its
/// task's) and names from the object (sections and symbols, in error messages), and a
/// newline in one would start a log line of their making.
pub(crate) struct Escaped<'a>(pub(crate) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text between control characters in one piece: a load's log line is
        // formatted into printk's buffer with the load's caller waiting.
        let mut rest = self.0;
        while let Some((i, c)) = rest.char_indices().find(|(_, c)| c.is_control()) {
            f.write_str(rest.get(..i).unwrap_or_default())?;
            write!(f, "\\x{:02x}", u32::from(c))?;
            rest = rest
                .get(i.saturating_add(c.len_utf8())..)
                .unwrap_or_default();
        }
        f.write_str(rest)
    }
}

/// [`Escaped`] for bytes up to their first NUL that need not be UTF-8 (a file's name):
/// bytes that are not UTF-8 are written as `\xNN` too, rather than the name not at all.
pub(crate) struct EscapedBytes<'a>(pub(crate) &'a [u8]);

impl fmt::Display for EscapedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        let mut rest = self.0.get(..end).unwrap_or_default();
        loop {
            let e = match core::str::from_utf8(rest) {
                Ok(s) => return Escaped(s).fmt(f),
                Err(e) => e,
            };
            let good = e.valid_up_to();
            if let Some(s) = rest.get(..good).and_then(|g| core::str::from_utf8(g).ok()) {
                Escaped(s).fmt(f)?;
            }
            // The invalid bytes (all that is left if the text ends inside a character).
            let bad = good.saturating_add(e.error_len().unwrap_or(rest.len()));
            for b in rest
                .get(good..bad)
                .unwrap_or_else(|| rest.get(good..).unwrap_or_default())
            {
                write!(f, "\\x{:02x}", b)?;
            }
            rest = rest.get(bad..).unwrap_or_default();
        }
    }
}

/// Copy `s` into a NUL-terminated fixed array, truncated.
pub(crate) fn name_into<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (d, c) in out.iter_mut().take(N.saturating_sub(1)).zip(s.bytes()) {
        *d = c;
    }
    out
}

/// The text of a byte array up to its first NUL (all of it if there is none), if it is
/// UTF-8.
pub(crate) use bpfld_core::util::c_text;

/// The errno of a negative kernel return value: `EIO` for anything else (a value that
/// is no errno would otherwise become one).
pub(crate) fn neg_errno(ret: i64) -> i32 {
    i32::try_from(ret.saturating_neg())
        .ok()
        .filter(|e| (1..4096).contains(e))
        .unwrap_or(5)
}

/// Lowercase hex of `bytes` into a message, cut if it does not fit (callers size `N`
/// for their bytes: no "..."). Through the core's table encoder
/// (`bpfld_core::digest::hex_into`) rather than `write!("{:02x}")`, a formatter call
/// per byte: every load formats its digest and each program's tag (host: 32 against
/// 245 instructions a byte).
pub(crate) fn hex<const N: usize>(bytes: &[u8]) -> Msg<N> {
    let mut m = Msg::new();
    let mut digits = [0u8; 64];
    for chunk in bytes.chunks(digits.len() / 2) {
        m.push_bytes(bpfld_core::digest::hex_into(chunk, &mut digits).as_bytes());
    }
    m
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! ELF-aware mutations for the structure-aware target.
//!
//! Byte-level mutations of a BPF object mostly break the ELF header or a string table
//! and stop at the first check. Starting from valid seeds, these mutations change one
//! field of one record the loader interprets (a section header, a symbol, a relocation,
//! an instruction, a BTF type or .BTF.ext word) to a value chosen to sit on a boundary,
//! so that the deep layers (object model, linking, map definitions, info rebasing) see
//! inputs that are valid everywhere but in one place.

/// A small deterministic PRNG (xorshift64*), seeded by libFuzzer.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.bits() % n
        }
    }
}

fn rd(d: &[u8], off: usize, w: usize) -> Option<u64> {
    let b = d.get(off..off.checked_add(w)?)?;
    let mut v = [0u8; 8];
    v[..w].copy_from_slice(b);
    Some(u64::from_le_bytes(v))
}

fn wr(d: &mut [u8], off: usize, w: usize, v: u64) {
    if let Some(b) = off.checked_add(w).and_then(|e| d.get_mut(off..e)) {
        b.copy_from_slice(&v.to_le_bytes()[..w]);
    }
}

/// A value near `old` or on a boundary, for a field of `w` bytes. `hint` is a count or
/// size that makes sense for the field (section count, symbol count, section size).
fn interesting(r: &mut Rng, old: u64, w: usize, hint: u64) -> u64 {
    let mask = if w >= 8 {
        u64::MAX
    } else {
        (1u64 << (w * 8)) - 1
    };
    let v = match r.below(12) {
        0 => 0,
        1 => 1,
        2 => mask,
        3 => mask >> 1,
        4 => (mask >> 1).wrapping_add(1),
        5 => old.wrapping_add(1),
        6 => old.wrapping_sub(1),
        7 => old.wrapping_add(8),
        8 => old.wrapping_sub(8),
        9 => hint,
        10 => r.below(hint.saturating_add(2)),
        _ => r.bits(),
    };
    v & mask
}

/// Section headers of `d`, loosely: (offset of the header, sh_type, sh_offset, sh_size).
fn shdrs(d: &[u8]) -> Vec<(usize, u32, u64, u64)> {
    let (Some(shoff), Some(shnum)) = (rd(d, 40, 8), rd(d, 60, 2)) else {
        return Vec::new();
    };
    (0..shnum.min(4096))
        .filter_map(|i| {
            let h = usize::try_from(shoff.checked_add(i * 64)?).ok()?;
            Some((
                h,
                rd(d, h.wrapping_add(4), 4)? as u32,
                rd(d, h.wrapping_add(24), 8)?,
                rd(d, h.wrapping_add(32), 8)?,
            ))
        })
        .collect()
}

/// Name of the section whose header is at `h`, if readable.
fn sec_name<'d>(d: &'d [u8], sh: &[(usize, u32, u64, u64)], h: usize) -> &'d [u8] {
    let strndx = rd(d, 62, 2).unwrap_or(0) as usize;
    let Some(&(_, _, stroff, strsize)) = sh.get(strndx) else {
        return b"";
    };
    let name = rd(d, h, 4).unwrap_or(u64::MAX);
    let (Ok(start), Ok(end)) = (
        usize::try_from(stroff.saturating_add(name)),
        usize::try_from(stroff.saturating_add(strsize)),
    ) else {
        return b"";
    };
    let s = d.get(start..end.min(d.len())).unwrap_or_default();
    &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
}

/// Change one interpreted field of the ELF object in `d`. Returns false if `d` does not
/// look enough like an ELF file for a structured mutation.
pub fn mutate_elf(d: &mut [u8], r: &mut Rng) -> bool {
    let sh = shdrs(d);
    if sh.is_empty() || d.len() < 64 {
        return false;
    }
    let nsec = sh.len() as u64;
    let pick = |r: &mut Rng, ty: Option<u32>, name: Option<&[u8]>, d: &[u8]| {
        let c: Vec<_> = sh
            .iter()
            .filter(|s| ty.is_none_or(|t| s.1 == t))
            .filter(|s| name.is_none_or(|n| sec_name(d, &sh, s.0) == n))
            .copied()
            .collect();
        c.get(r.below(c.len() as u64) as usize).copied()
    };
    match r.below(16) {
        // ELF header: e_shoff, e_shnum, e_shstrndx, e_type, e_machine, ident bytes.
        0 => {
            let (off, w) = *[(40, 8), (60, 2), (62, 2), (16, 2), (18, 2), (4, 1), (5, 1)]
                .get(r.below(7) as usize)
                .unwrap_or(&(60, 2));
            let old = rd(d, off, w).unwrap_or(0);
            wr(d, off, w, interesting(r, old, w, nsec));
        }
        // A section header field.
        1 | 2 => {
            let Some(s) = pick(r, None, None, d) else {
                return false;
            };
            let (f, w) = *[
                (0, 4),
                (4, 4),
                (8, 8),
                (24, 8),
                (32, 8),
                (40, 4),
                (44, 4),
                (56, 8),
            ]
            .get(r.below(8) as usize)
            .unwrap_or(&(32, 8));
            let old = rd(d, s.0.wrapping_add(f), w).unwrap_or(0);
            let hint = if f == 40 || f == 44 { nsec } else { s.3 };
            wr(d, s.0.wrapping_add(f), w, interesting(r, old, w, hint));
        }
        // A symbol field.
        3..=5 => {
            let Some(s) = pick(r, Some(2), None, d) else {
                return false;
            };
            let n = s.3 / 24;
            if n == 0 {
                return false;
            }
            let base = s.2.saturating_add(r.below(n) * 24) as usize;
            let (f, w) = *[(0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8)]
                .get(r.below(6) as usize)
                .unwrap_or(&(8, 8));
            let old = rd(d, base.wrapping_add(f), w).unwrap_or(0);
            let hint = if f == 6 { nsec } else { old };
            wr(d, base.wrapping_add(f), w, interesting(r, old, w, hint));
        }
        // A relocation: offset, type or symbol.
        6..=8 => {
            let Some(s) = pick(r, Some(9), None, d) else {
                return false;
            };
            let n = s.3 / 16;
            if n == 0 {
                return false;
            }
            let base = s.2.saturating_add(r.below(n) * 16) as usize;
            let (f, w) = *[(0, 8), (8, 4), (12, 4)]
                .get(r.below(3) as usize)
                .unwrap_or(&(0, 8));
            let old = rd(d, base.wrapping_add(f), w).unwrap_or(0);
            let nsym = pick(r, Some(2), None, d).map_or(0, |s| s.3 / 24);
            let hint = if f == 12 { nsym } else { old };
            wr(d, base.wrapping_add(f), w, interesting(r, old, w, hint));
        }
        // An instruction of an executable section: code, regs, off or imm.
        9..=11 => {
            let c: Vec<_> = sh
                .iter()
                .filter(|s| s.1 == 1 && rd(d, s.0.wrapping_add(8), 8).is_some_and(|f| f & 4 != 0))
                .copied()
                .collect();
            let Some(s) = c.get(r.below(c.len() as u64) as usize) else {
                return false;
            };
            let n = s.3 / 8;
            if n == 0 {
                return false;
            }
            let base = s.2.saturating_add(r.below(n) * 8) as usize;
            match r.below(4) {
                0 => {
                    // Turn it into a call, ld_imm64 or exit; or any opcode.
                    let v = *[0x85u64, 0x18, 0x95, r.below(256)]
                        .get(r.below(4) as usize)
                        .unwrap_or(&0);
                    wr(d, base, 1, v);
                }
                1 => wr(d, base.wrapping_add(1), 1, r.below(256)),
                2 => {
                    let old = rd(d, base.wrapping_add(2), 2).unwrap_or(0);
                    wr(d, base.wrapping_add(2), 2, interesting(r, old, 2, n));
                }
                _ => {
                    let old = rd(d, base.wrapping_add(4), 4).unwrap_or(0);
                    wr(d, base.wrapping_add(4), 4, interesting(r, old, 4, n));
                }
            }
        }
        // A 32-bit word of .BTF (type records and header) or .BTF.ext.
        12..=14 => {
            let name: &[u8] = if r.below(3) == 0 {
                b".BTF.ext"
            } else {
                b".BTF"
            };
            let Some(s) = pick(r, Some(1), Some(name), d) else {
                return false;
            };
            let n = s.3 / 4;
            if n == 0 {
                return false;
            }
            let base = s.2.saturating_add(r.below(n) * 4) as usize;
            let old = rd(d, base, 4).unwrap_or(0);
            // BTF info words: flip the kind or vlen, else a boundary value.
            let v = match r.below(3) {
                0 => old ^ (1u64 << r.below(32)),
                _ => interesting(r, old, 4, n),
            };
            wr(d, base, 4, v);
        }
        // A string table byte (names), to a NUL or a non-identifier byte.
        _ => {
            let Some(s) = pick(r, Some(3), None, d) else {
                return false;
            };
            if s.3 == 0 {
                return false;
            }
            let at = s.2.saturating_add(r.below(s.3)) as usize;
            let v = *[0u64, b'.' as u64, 0xff, b'x' as u64]
                .get(r.below(4) as usize)
                .unwrap_or(&0);
            wr(d, at, 1, v);
        }
    }
    true
}

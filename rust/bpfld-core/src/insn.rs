// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! BPF instructions (`struct bpf_insn`), decoded from and encoded to little-endian bytes.

use crate::bytes;
use crate::error::{Error, Result};
use crate::uapi;

/// Size of one instruction in bytes.
pub const INSN_SIZE: usize = 8;

/// One BPF instruction. `regs` holds `dst_reg` in the low and `src_reg` in the high nibble,
/// as `struct bpf_insn` does on little-endian machines.
/// `repr(C)`: the executors hand arrays of these to the kernel as `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// `dst_reg | src_reg << 4`.
    pub regs: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Decode the instruction at byte offset `off` of `buf`.
    #[inline]
    pub fn read(buf: &[u8], off: usize) -> Option<Insn> {
        let b: [u8; INSN_SIZE] = bytes::array(buf, off)?;
        let [code, regs, o0, o1, i0, i1, i2, i3] = b;
        Some(Insn {
            code,
            regs,
            off: i16::from_le_bytes([o0, o1]),
            imm: i32::from_le_bytes([i0, i1, i2, i3]),
        })
    }

    /// Encode as little-endian bytes.
    pub fn to_bytes(self) -> [u8; INSN_SIZE] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [self.code, self.regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }

    /// Destination register.
    pub fn dst(self) -> u8 {
        self.regs & 0x0f
    }

    /// Source register (or pseudo marker for `ld_imm64` and `call`).
    pub fn src(self) -> u8 {
        self.regs >> 4
    }

    /// Replace the source register / pseudo marker.
    pub fn set_src(&mut self, src: u8) {
        self.regs = (self.regs & 0x0f) | (src << 4);
    }

    /// Instruction class.
    pub fn class(self) -> u8 {
        self.code & 0x07
    }

    /// First half of a two-slot `ld_imm64`.
    pub fn is_ld_imm64(self) -> bool {
        self.code == uapi::LD_IMM64
    }

    /// A call to a BPF subprogram (`call` with `src_reg == BPF_PSEUDO_CALL`).
    pub fn is_subprog_call(self) -> bool {
        self.code == uapi::CALL && self.src() == uapi::BPF_PSEUDO_CALL && self.dst() == 0
    }

    /// `ld_imm64` of a subprogram address (`BPF_PSEUDO_FUNC`, callbacks).
    pub fn is_pseudo_func(self) -> bool {
        self.is_ld_imm64() && self.src() == uapi::BPF_PSEUDO_FUNC
    }

    /// A helper or kfunc call, or a subprogram call.
    pub fn is_call(self) -> bool {
        self.code == uapi::CALL
    }
}

/// Decode `n` instructions starting at byte `off`, into `out`.
pub fn decode_into(buf: &[u8], out: &mut [Insn]) -> Result<'static, ()> {
    if buf.len() != out.len().saturating_mul(INSN_SIZE) {
        return Err(Error::malformed("instruction buffer size mismatch"));
    }
    for (dst, chunk) in out.iter_mut().zip(buf.chunks_exact(INSN_SIZE)) {
        *dst = Insn::read(chunk, 0).ok_or(Error::malformed("truncated instruction"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let raw = [0x18u8, 0x12, 0xfe, 0xff, 0x78, 0x56, 0x34, 0x12];
        let i = Insn::read(&raw, 0).unwrap();
        assert_eq!(i.code, uapi::LD_IMM64);
        assert_eq!(i.dst(), 2);
        assert_eq!(i.src(), 1);
        assert_eq!(i.off, -2);
        assert_eq!(i.imm, 0x1234_5678);
        assert_eq!(i.to_bytes(), raw);
        assert!(Insn::read(&raw, 1).is_none());
    }
}

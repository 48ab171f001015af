// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Applying a resolved relocation to its instruction (libbpf's `bpf_core_patch_insn` and
//! `bpf_core_poison_insn`).
//!
//! Accepted instructions: ALU/ALU64 with an immediate operand (`imm`), LDX/ST/STX
//! (`off`, and the access size when the field's size changed), and `ld_imm64` (both
//! halves of the 64-bit immediate). Before patching, the instruction must hold the
//! original (local) value, unless the relocation cannot be validated (bitfield offsets,
//! type ids). A relocation without a matching candidate poisons the instruction: it
//! becomes a call to helper 0xbad2310, which the verifier rejects only if reachable, so
//! code guarded by an existence check still loads.

use super::CoreOutcome;
use crate::error::{Ctx, Error, Result, What};
use crate::insn::Insn;
use crate::uapi::{
    BPF_ALU, BPF_ALU64, BPF_B, BPF_DW, BPF_H, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_W, CALL,
    LD_IMM64,
};

/// The `imm` of a poisoned instruction: "bad relo", reported by the verifier as
/// `invalid func unknown#195896080` if it is reachable.
pub const POISON_IMM: i32 = 0x0bad_2310;

/// What [`patch`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patched {
    /// The instruction now holds the new value.
    Value,
    /// The instruction (both halves of an `ld_imm64`) was replaced by the poison call.
    Poisoned,
}

fn poison(insns: &mut [Insn], idx: usize, n: usize) -> Result<'static, Patched> {
    let end = idx
        .checked_add(n)
        .ok_or(Error::malformed("instruction index overflow"))?;
    let slots = insns.get_mut(idx..end).ok_or_else(|| {
        Error::malformed("CO-RE relocated instruction past the program's end")
            .ctx(Ctx::Insn(idx as u32))
    })?;
    for i in slots {
        *i = Insn {
            code: CALL,
            regs: 0,
            off: 0,
            imm: POISON_IMM,
        };
    }
    Ok(Patched::Poisoned)
}

fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        BPF_DW => 8,
        BPF_W => 4,
        BPF_H => 2,
        _ => 1,
    }
}

fn size_code(bytes: u32) -> Option<u8> {
    match bytes {
        8 => Some(BPF_DW),
        4 => Some(BPF_W),
        2 => Some(BPF_H),
        1 => Some(BPF_B),
        _ => None,
    }
}

/// Patch (or poison) instruction `idx` of `insns` as `o` says, after checking that it
/// holds the original value when `o.validate` is set. Errors name the instruction and,
/// for value mismatches, the value found; the caller adds the relocation and program.
pub fn patch(insns: &mut [Insn], idx: usize, o: &CoreOutcome) -> Result<'static, Patched> {
    let at = Ctx::Insn(u32::try_from(idx).unwrap_or(u32::MAX));
    let insn = *insns.get(idx).ok_or_else(|| {
        Error::malformed("CO-RE relocated instruction past the program's end").ctx(at)
    })?;
    match insn.class() {
        BPF_ALU | BPF_ALU64 => {
            if insn.code & 0x08 != BPF_K {
                return Err(Error::malformed(
                    "CO-RE relocated ALU instruction has a register operand",
                )
                .ctx(at));
            }
            if o.poison {
                return poison(insns, idx, 1);
            }
            // `imm` widens as signed, as in libbpf's comparison with a `__u64`.
            if o.validate && insn.imm as i64 as u64 != o.orig_val {
                return Err(Error::malformed(
                    "CO-RE relocated ALU instruction does not hold the expected value",
                )
                .ctx(Ctx::Value(What::Offset, o.orig_val))
                .ctx(at));
            }
            if let Some(i) = insns.get_mut(idx) {
                // Truncated to 32 bits, as libbpf does.
                i.imm = o.new_val as i32;
            }
        }
        BPF_LDX | BPF_ST | BPF_STX => {
            if o.poison {
                return poison(insns, idx, 1);
            }
            if o.validate && i64::from(insn.off) as u64 != o.orig_val {
                return Err(Error::malformed(
                    "CO-RE relocated memory instruction does not hold the expected offset",
                )
                .ctx(Ctx::Value(What::Offset, o.orig_val))
                .ctx(at));
            }
            if o.new_val > i16::MAX as u64 {
                return Err(Error::malformed(
                    "CO-RE relocated offset does not fit a memory instruction",
                )
                .ctx(Ctx::Value(What::Offset, o.new_val))
                .ctx(at));
            }
            if o.fail_memsz_adjust {
                // The field changed size and is neither a pointer nor unsigned: reading it
                // with another width would give a wrong value.
                return poison(insns, idx, 1);
            }
            let mut code = insn.code;
            if o.new_sz != o.orig_sz {
                if size_bytes(insn.code) != o.orig_sz {
                    return Err(Error::malformed(
                        "CO-RE relocated memory instruction's size is not the field's size",
                    )
                    .ctx(Ctx::Value(What::Size, u64::from(o.orig_sz)))
                    .ctx(at));
                }
                let sz = size_code(o.new_sz).ok_or_else(|| {
                    Error::malformed("CO-RE relocated field size is not 1, 2, 4 or 8 bytes")
                        .ctx(Ctx::Value(What::Size, u64::from(o.new_sz)))
                        .ctx(at)
                })?;
                code = (insn.code & 0xe0) | sz | insn.class();
            }
            if let Some(i) = insns.get_mut(idx) {
                i.off = o.new_val as i16;
                i.code = code;
            }
        }
        BPF_LD => {
            let next = idx.checked_add(1).and_then(|n| insns.get(n)).copied();
            let Some(hi) = next else {
                return Err(Error::malformed("CO-RE relocated ld_imm64 is truncated").ctx(at));
            };
            if insn.code != LD_IMM64
                || insn.src() != 0
                || insn.off != 0
                || hi.code != 0
                || hi.regs != 0
                || hi.off != 0
            {
                return Err(
                    Error::malformed("CO-RE relocated ld_imm64 has an unexpected form").ctx(at),
                );
            }
            if o.poison {
                return poison(insns, idx, 2);
            }
            let imm = u64::from(insn.imm as u32) | (u64::from(hi.imm as u32) << 32);
            if o.validate && imm != o.orig_val {
                return Err(Error::malformed(
                    "CO-RE relocated ld_imm64 does not hold the expected value",
                )
                .ctx(Ctx::Value(What::Offset, o.orig_val))
                .ctx(at));
            }
            if let Some(i) = insns.get_mut(idx) {
                i.imm = o.new_val as u32 as i32;
            }
            if let Some(i) = idx.checked_add(1).and_then(|n| insns.get_mut(n)) {
                i.imm = (o.new_val >> 32) as u32 as i32;
            }
        }
        _ => return Err(Error::malformed(
            "CO-RE relocation on an instruction that is not ALU-immediate, load, store or ld_imm64",
        )
        .ctx(at)),
    }
    Ok(Patched::Value)
}

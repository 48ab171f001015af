// SPDX-License-Identifier: GPL-2.0

//! The trust policy: which fs-verity digests may be loaded.
//!
//! A digest is trusted if it is built into the module or enrolled at runtime by a
//! `CAP_SYS_ADMIN` caller, and not revoked: revocation beats every allow, built-in ones
//! included. Sealing makes the policy immutable until reboot (the module pins itself so
//! it cannot be unloaded and reloaded with a fresh policy). `dev_mode=1` (a read-only
//! module parameter) trusts any verity file that is not revoked, and every load says so.

use crate::uapi::{self, BpfldDigest};
use kernel::alloc::KVVec;
use kernel::prelude::*;

#[path = "../../build/builtin_digests.rs"]
mod builtin;

/// Runtime entries (enrolled plus revoked) the policy holds: bounds its memory; a
/// device's policy lists a few dozen objects.
const MAX_RUNTIME_ENTRIES: usize = 4096;

/// What the policy says about a digest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Verdict {
    /// Built into the module.
    Builtin,
    /// Enrolled at runtime.
    Enrolled,
    /// Trusted only because the module runs in development mode.
    DevMode,
    /// Revoked.
    Revoked,
    /// Not trusted.
    Unknown,
}

pub(crate) struct Policy {
    enrolled: KVVec<BpfldDigest>,
    revoked: KVVec<BpfldDigest>,
    sealed: bool,
}

/// A digest as the policy compares it: algorithm, size and only the used bytes.
fn valid(d: &BpfldDigest) -> bool {
    let size_ok = match d.algo {
        uapi::BPFLD_HASH_SHA256 => d.size == 32,
        uapi::BPFLD_HASH_SHA512 => d.size == 64,
        _ => false,
    };
    size_ok
        && d.digest
            .get(d.size as usize..)
            .is_some_and(|rest| rest.iter().all(|&b| b == 0))
}

impl Policy {
    pub(crate) fn new() -> Self {
        Policy {
            enrolled: KVVec::new(),
            revoked: KVVec::new(),
            sealed: false,
        }
    }

    pub(crate) fn check(&self, d: &BpfldDigest, dev_mode: bool) -> Verdict {
        if self.revoked.iter().any(|r| r == d) {
            Verdict::Revoked
        } else if builtin::BUILTIN.iter().any(|b| b == d) {
            Verdict::Builtin
        } else if self.enrolled.iter().any(|e| e == d) {
            Verdict::Enrolled
        } else if dev_mode {
            Verdict::DevMode
        } else {
            Verdict::Unknown
        }
    }

    fn room(&self) -> Result {
        if self.enrolled.len().saturating_add(self.revoked.len()) >= MAX_RUNTIME_ENTRIES {
            return Err(ENOSPC);
        }
        Ok(())
    }

    /// Enroll `d`. Revoked digests stay revoked: revocation cannot be undone.
    pub(crate) fn enroll(&mut self, d: &BpfldDigest) -> Result {
        if self.sealed {
            return Err(EROFS);
        }
        if !valid(d) {
            return Err(EINVAL);
        }
        // A revoked digest stays revoked, and is listed once, as revoked.
        if self.enrolled.iter().any(|e| e == d) || self.revoked.iter().any(|r| r == d) {
            return Ok(());
        }
        self.room()?;
        self.enrolled.push(*d, GFP_KERNEL)?;
        Ok(())
    }

    /// Revoke `d`, whether or not it is trusted now.
    pub(crate) fn revoke(&mut self, d: &BpfldDigest) -> Result {
        if self.sealed {
            return Err(EROFS);
        }
        if !valid(d) {
            return Err(EINVAL);
        }
        if self.revoked.iter().any(|r| r == d) {
            return Ok(());
        }
        // An enrolled digest moves to the revoked list: revoking it never needs room
        // (a full table must not keep a compromised object trusted).
        if let Some(i) = self.enrolled.iter().position(|e| e == d) {
            self.revoked.push(*d, GFP_KERNEL)?;
            let last = self.enrolled.len().saturating_sub(1);
            let s = self.enrolled.as_mut_slice();
            if let (Some(&moved), true) = (s.get(last), i < last) {
                if let Some(slot) = s.get_mut(i) {
                    *slot = moved;
                }
            }
            // SAFETY: `last` < len (`i` was found); the element at `last` was copied to
            // `i` (or is the one removed), and BpfldDigest has no destructor.
            unsafe { self.enrolled.set_len(last) };
            return Ok(());
        }
        self.room()?;
        self.revoked.push(*d, GFP_KERNEL)?;
        Ok(())
    }

    /// Seal; returns whether this call sealed it (the caller pins the module once).
    pub(crate) fn seal(&mut self) -> bool {
        let first = !self.sealed;
        self.sealed = true;
        first
    }

    pub(crate) fn sealed(&self) -> bool {
        self.sealed
    }

    /// Every entry, built-in first, then enrolled, then revoked.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (BpfldDigest, u32)> + '_ {
        // `Iterator::chain` by path: the kernel prelude's `Init` has a `chain` too.
        let b = builtin::BUILTIN
            .iter()
            .map(|d| (*d, uapi::BPFLD_TRUST_BUILTIN));
        let e = self
            .enrolled
            .iter()
            .map(|d| (*d, uapi::BPFLD_TRUST_RUNTIME));
        let r = self.revoked.iter().map(|d| (*d, uapi::BPFLD_TRUST_REVOKED));
        Iterator::chain(Iterator::chain(b, e), r)
    }
}

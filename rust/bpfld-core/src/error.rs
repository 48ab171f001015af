// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Errors that say what failed and where.
//!
//! An [`Error`] is a [`Kind`] (what went wrong, with its errno) plus a short stack of
//! [`Ctx`] entries (where: section, program, map, relocation, BTF type, ...) pushed as the
//! error travels outwards. It is `Copy`, owns no memory and stays at 128 bytes; names are
//! borrowed from the file (or kernel BTF) being processed, so report it before freeing those. Displayed outermost first, in
//! libbpf's style: `prog 'handle': relo #3: insn #12: not an ld_imm64 instruction`.

use core::fmt;

/// Result with the core's error.
pub type Result<'a, T> = core::result::Result<T, Error<'a>>;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The input is structurally invalid; the message says how.
    Malformed(&'static str),
    /// Valid, but a feature this loader (or the running kernel) does not support.
    Unsupported(&'static str),
    /// A bound from [`crate::limits`] was exceeded.
    Limit {
        /// What was counted.
        what: &'static str,
        /// The value found (saturated to `u32::MAX`).
        value: u32,
        /// The limit.
        max: u32,
    },
    /// Something referenced does not exist (subprogram, map, kernel type, symbol, ...).
    NotFound(&'static str),
    /// Two candidates matched where exactly one must (e.g. CO-RE target types).
    Ambiguous(&'static str),
    /// The caller's allocator refused a buffer.
    NoMemory,
    /// The kernel refused an operation of the plan.
    Kernel {
        /// Which operation (e.g. `"BPF_PROG_LOAD"`).
        op: &'static str,
        /// The positive errno it returned.
        errno: i32,
    },
    /// An output buffer supplied by the caller is too small.
    TooSmall(&'static str),
    /// Something the caller supplied does not match what the object needs.
    Mismatch(&'static str),
}

/// Linux errno values used by [`Kind::errno`].
pub mod errno {
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// Argument list too long (a limit was exceeded).
    pub const E2BIG: i32 = 7;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// No space left (an output array is too small).
    pub const ENOSPC: i32 = 28;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
    /// Bad message (malformed input).
    pub const EBADMSG: i32 = 74;
}

impl Kind {
    /// The positive errno this kind is reported as.
    pub fn errno(&self) -> i32 {
        match self {
            Kind::Malformed(_) => errno::EINVAL,
            Kind::Unsupported(_) => errno::EOPNOTSUPP,
            Kind::Limit { .. } => errno::E2BIG,
            Kind::NotFound(_) => errno::ENOENT,
            Kind::Ambiguous(_) => errno::EINVAL,
            Kind::NoMemory => errno::ENOMEM,
            Kind::Kernel { errno, .. } => *errno,
            Kind::TooSmall(_) => errno::ENOSPC,
            Kind::Mismatch(_) => errno::EINVAL,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Malformed(m) => f.write_str(m),
            Kind::Unsupported(m) => write!(f, "unsupported: {m}"),
            Kind::Limit { what, value, max } => write!(f, "too many {what}: {value} > {max}"),
            Kind::NotFound(m) => write!(f, "{m} not found"),
            Kind::Ambiguous(m) => write!(f, "ambiguous {m}"),
            Kind::NoMemory => f.write_str("out of memory"),
            Kind::Kernel { op, errno } => write!(f, "{op} failed: errno {errno}"),
            Kind::TooSmall(m) => write!(f, "{m}: output buffer too small"),
            Kind::Mismatch(m) => f.write_str(m),
        }
    }
}

/// What a [`Ctx::Value`] number is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// A byte offset.
    Offset,
    /// A size in bytes.
    Size,
    /// An index.
    Index,
    /// A count.
    Count,
    /// A type or object id.
    Id,
    /// A symbol's index in `.symtab`.
    Symbol,
}

impl What {
    fn as_str(self) -> &'static str {
        match self {
            What::Offset => "offset",
            What::Size => "size",
            What::Index => "index",
            What::Count => "count",
            What::Id => "id",
            What::Symbol => "symbol",
        }
    }
}

/// Where an error happened. Names borrow from the object (or kernel BTF) being processed,
/// so an error lives as long as those bytes: report it before freeing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx<'a> {
    /// An ELF section, by name.
    Section(&'a str),
    /// An ELF section, by index (before its name is known).
    SectionIndex(u32),
    /// A symbol.
    Symbol(&'a str),
    /// A program.
    Prog(&'a str),
    /// A map.
    Map(&'a str),
    /// An extern (kconfig, ksym, kfunc).
    Extern(&'a str),
    /// A BTF type name.
    TypeName(&'a str),
    /// Relocation number within its section or program.
    Reloc(u32),
    /// Instruction index within its section or program.
    Insn(u32),
    /// A BTF type id.
    BtfType(u32),
    /// A number and what it is.
    Value(What, u64),
    /// A plan step or phase (e.g. `"BTF_LOAD"`).
    Step(&'static str),
    /// A CO-RE relocation (its index among its section's records) that failed to
    /// resolve and poisoned an instruction (its index in the program as loaded).
    CorePoison {
        /// The relocation.
        relo: u32,
        /// The instruction.
        insn: u32,
    },
}

impl fmt::Display for Ctx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ctx::Section(n) => write!(f, "section '{n}'"),
            Ctx::SectionIndex(i) => write!(f, "section #{i}"),
            Ctx::Symbol(n) => write!(f, "sym '{n}'"),
            Ctx::Prog(n) => write!(f, "prog '{n}'"),
            Ctx::Map(n) => write!(f, "map '{n}'"),
            Ctx::Extern(n) => write!(f, "extern '{n}'"),
            Ctx::TypeName(n) => write!(f, "type '{n}'"),
            Ctx::Reloc(i) => write!(f, "relo #{i}"),
            Ctx::Insn(i) => write!(f, "insn #{i}"),
            Ctx::BtfType(i) => write!(f, "btf type [{i}]"),
            Ctx::Value(w, v) => write!(f, "{} {v}", w.as_str()),
            Ctx::Step(s) => f.write_str(s),
            Ctx::CorePoison { relo, insn } => write!(
                f,
                "CO-RE relo #{relo} failed to resolve, insn #{insn} poisoned \
                 (call unknown#195896080)"
            ),
        }
    }
}

/// How many context entries an error keeps. Four keep the error at 128 bytes, small
/// enough to return by value on a kernel stack; past them an outer entry takes the
/// place of the second innermost (see [`Error::ctx`]).
const CTX_CAP: usize = 4;

/// The core's error: what went wrong plus where.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error<'a> {
    kind: Kind,
    ctx: [Option<Ctx<'a>>; CTX_CAP],
}

impl<'a> Error<'a> {
    /// An error with no context yet.
    pub const fn new(kind: Kind) -> Self {
        Error {
            kind,
            ctx: [None; CTX_CAP],
        }
    }

    /// Shorthand for [`Kind::Malformed`].
    pub const fn malformed(msg: &'static str) -> Self {
        Self::new(Kind::Malformed(msg))
    }

    /// Shorthand for [`Kind::Limit`].
    pub fn limit(what: &'static str, value: impl TryInto<u32>, max: impl TryInto<u32>) -> Self {
        Self::new(Kind::Limit {
            what,
            value: value.try_into().unwrap_or(u32::MAX),
            max: max.try_into().unwrap_or(u32::MAX),
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The positive errno to report.
    pub fn errno(&self) -> i32 {
        self.kind.errno()
    }

    /// Add an outer context entry. The same entry twice in a row (a callee and its
    /// caller both naming the type or index) is kept once. When all are taken, the
    /// second innermost goes: the innermost says what exactly was wrong, and the
    /// outermost name the section, program, map or extern, which every error must.
    #[must_use]
    pub fn ctx(mut self, c: Ctx<'a>) -> Self {
        if self.ctx.iter().flatten().last() == Some(&c) {
            return self;
        }
        if let Some(slot) = self.ctx.iter_mut().find(|s| s.is_none()) {
            *slot = Some(c);
        } else if let Some(rest) = self.ctx.get_mut(1..) {
            rest.rotate_left(1);
            if let Some(last) = rest.last_mut() {
                *last = Some(c);
            }
        }
        self
    }

    /// The context entries, innermost first.
    pub fn contexts(&self) -> impl Iterator<Item = &Ctx<'a>> {
        self.ctx.iter().flatten()
    }
}

impl fmt::Display for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.ctx.iter().rev().flatten() {
            write!(f, "{c}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl fmt::Debug for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({self}, errno {})", self.errno())
    }
}

/// Attach context to a `Result`'s error.
pub trait ResultExt<'a, T> {
    /// Push `c` on the error, if any.
    fn ctx(self, c: Ctx<'a>) -> Result<'a, T>;
}

impl<'a, T> ResultExt<'a, T> for Result<'a, T> {
    fn ctx(self, c: Ctx<'a>) -> Result<'a, T> {
        self.map_err(|e| e.ctx(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn a_context_repeated_in_a_row_is_kept_once() {
        let e = Error::malformed("bad")
            .ctx(Ctx::BtfType(3))
            .ctx(Ctx::BtfType(3))
            .ctx(Ctx::Value(What::Index, 1))
            .ctx(Ctx::Value(What::Index, 1))
            .ctx(Ctx::BtfType(3));
        assert_eq!(format!("{e}"), "btf type [3]: index 1: btf type [3]: bad");
    }

    #[test]
    fn display_outermost_first() {
        let e = Error::malformed("not an ld_imm64 instruction")
            .ctx(Ctx::Insn(12))
            .ctx(Ctx::Reloc(3))
            .ctx(Ctx::Prog("handle"));
        assert_eq!(
            format!("{e}"),
            "prog 'handle': relo #3: insn #12: not an ld_imm64 instruction"
        );
        assert_eq!(e.errno(), errno::EINVAL);
    }

    #[test]
    fn context_overflow_keeps_innermost() {
        let mut e = Error::new(Kind::NoMemory);
        for i in 0..10 {
            e = e.ctx(Ctx::Insn(i));
        }
        assert_eq!(e.contexts().count(), CTX_CAP);
        assert_eq!(e.contexts().next(), Some(&Ctx::Insn(0)));
        // ... and the outermost: what names the section or program is never lost.
        assert_eq!(e.contexts().last(), Some(&Ctx::Insn(9)));
        let e = Error::malformed("parameter type id beyond the last type")
            .ctx(Ctx::Value(What::Id, 99))
            .ctx(Ctx::Value(What::Index, 2))
            .ctx(Ctx::Step("FUNC_PROTO"))
            .ctx(Ctx::BtfType(110))
            .ctx(Ctx::Section(".BTF"));
        assert_eq!(
            format!("{e}"),
            "section '.BTF': btf type [110]: FUNC_PROTO: id 99: parameter type id beyond \
             the last type"
        );
    }

    #[test]
    fn error_is_small() {
        assert!(core::mem::size_of::<Error<'_>>() <= 128);
    }
}

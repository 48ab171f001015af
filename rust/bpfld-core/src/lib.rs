// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! bpfld-core: parse a BPF ELF object, relocate it and plan its loading, without I/O.
//!
//! The same source is compiled into the `bpfld` kernel module (Linux 6.12, which has no
//! `alloc` crate) and into the user-space tools. Hence the rules this crate keeps:
//!
//! - `no_std`, no `alloc`: every buffer comes from the caller through [`mem::Alloc`],
//!   sized by the core beforehand; nothing grows.
//! - no `unsafe`: every byte of the file is read through bounds-checked helpers.
//! - no panics on any input: indexing, unchecked arithmetic, `unwrap`/`expect` and
//!   `panic!` are denied by clippy outside tests. In the kernel a panic is a crash.
//! - every resource bound lives in [`limits`], with its reason.
//!
//! Data flows one way: bytes -> [`elf::Elf`] -> [`object::Object`] -> [`plan::Plan`] ->
//! the caller's executor, which performs the planned `bpf(2)` commands.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable
    )
)]
// Errors are 128 bytes on purpose (see error.rs): small enough to return by value on a
// kernel stack, large enough to carry their context without allocating.
#![allow(clippy::result_large_err)]
// ...which is also why one is never built unless it is returned: `ok_or(Error::...)`
// builds it on every call, found or not (it was 4% of planning).
#![cfg_attr(not(test), deny(clippy::or_fun_call))]

#[cfg(any(test, feature = "host"))]
extern crate std;

pub mod btf;
pub mod bytes;
pub mod core_relo;
pub mod digest;
pub mod elf;
pub mod error;
pub mod exec;
pub mod externs;
pub mod insn;
pub mod limits;
pub mod mem;
pub mod object;
pub mod plan;
pub mod section;
pub mod uapi;
pub mod util;

#[cfg(test)]
mod testenv;

pub use error::{Error, Result};

/// Version of this crate, reported by the module's version ioctl.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// SPDX-License-Identifier: GPL-2.0-only

//! bpfld user space: the `/dev/bpfld` ABI mirror, ioctl wrappers, a user-space executor
//! for the core's plans, and the small pieces the CLI and the selftests share.

pub mod dev;
pub mod host;
pub mod kmsg;
pub mod ktap;
pub mod load;
pub mod loaddir;
pub mod parity;
pub mod sys;
pub mod uapi;
pub mod verity;

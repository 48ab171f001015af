// SPDX-License-Identifier: GPL-2.0-only OR MIT
//! Any bytes as the running kernel's BTF: parsed for structure only, indexed, looked up
//! and planned against.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_kernel_btf(data));

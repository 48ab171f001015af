// SPDX-License-Identifier: GPL-2.0-only OR MIT
//! Any bytes through parsing and `Plan::build` (with a fake kernel BTF, and without).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_plan(data));

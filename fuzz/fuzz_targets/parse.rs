// SPDX-License-Identifier: GPL-2.0-only OR MIT
//! Any bytes through `Elf::parse` and `Object::parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_parse(data));

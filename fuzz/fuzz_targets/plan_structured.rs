// SPDX-License-Identifier: GPL-2.0-only OR MIT
//! `plan`, with ELF-aware mutations (see `fuzz_common::mutate`) half of the time: seeds
//! from valid objects keep most of their structure, one interpreted field changes.
#![no_main]

use fuzz_common::mutate::{mutate_elf, Rng};

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::run_plan(data));

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut r = Rng::new(u64::from(seed));
    if r.below(2) == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let mut changed = false;
    // Stack a few structured changes: a single one is often rejected by the first check.
    for _ in 0..=r.below(3) {
        changed |= mutate_elf(&mut data[..size], &mut r);
    }
    if changed {
        size
    } else {
        libfuzzer_sys::fuzzer_mutate(data, size, max_size)
    }
});

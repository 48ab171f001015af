// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! `KernelIndex::find` (the CO-RE index for named non-FUNC kinds, the FUNC index for
//! FUNCs) against `Types::find_by_name_kind` (a scan of every type) on the host's
//! vmlinux BTF: for every named type, the index finds the first type of that name and
//! kind, as the scan does.

mod support;

use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{func_index_in, kernel_index_in};
use std::collections::HashMap;
use support::TestAlloc;

#[test]
fn index_lookups_equal_the_scan_on_vmlinux() {
    let Ok(blob) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        support::skip("no /sys/kernel/btf/vmlinux");
        return;
    };
    let n = btf::count_types(&blob).unwrap();
    let b = Btf::parse_kernel(blob, vec![0u32; n + 1]).unwrap();
    let mut a = TestAlloc::default();
    let core = kernel_index_in(&b, 1..b.type_count(), &mut a).unwrap();
    let funcs = func_index_in(&b, 1..b.type_count(), &mut a).unwrap();

    // The first id of every (name, kind), as a scan in id order finds it.
    let mut first: HashMap<(String, BtfKind), u32> = HashMap::new();
    for id in 1..b.type_count() {
        let t = b.type_by_id(id).unwrap();
        let name = t.name().unwrap();
        if !name.is_empty() {
            first.entry((name.to_string(), t.kind())).or_insert(id);
        }
    }
    let mut checked = [0usize; 2];
    for ((name, kind), &id) in &first {
        let (index, slot) = if *kind == BtfKind::Func {
            (&funcs, 0)
        } else {
            (&core, 1)
        };
        assert_eq!(
            index.find(&b, name, *kind).unwrap(),
            Some(id),
            "{name} {kind:?}"
        );
        checked[slot] += 1;
    }
    // A sample against the scan itself, and names that are not there.
    for ((name, kind), &id) in first.iter().step_by(997) {
        assert_eq!(b.find_by_name_kind(name, *kind).unwrap(), Some(id));
    }
    assert_eq!(
        funcs
            .find(&b, "no_such_function_xyz", BtfKind::Func)
            .unwrap(),
        None
    );
    assert_eq!(core.find(&b, "task_struct", BtfKind::Union).unwrap(), None);
    assert_eq!(
        core.find(&b, "task_struct___x", BtfKind::Struct).unwrap(),
        None
    );
    assert!(core
        .find(&b, "task_struct", BtfKind::Struct)
        .unwrap()
        .is_some());
    // Each index answers only for its own kinds.
    assert_eq!(core.find(&b, "schedule", BtfKind::Func).unwrap(), None);
    assert!(funcs.find(&b, "schedule", BtfKind::Func).unwrap().is_some());
    assert!(checked[0] > 10_000 && checked[1] > 5_000, "{checked:?}");
    println!(
        "{} FUNCs and {} other named types looked up",
        checked[0], checked[1]
    );
}

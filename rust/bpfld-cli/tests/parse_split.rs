// SPDX-License-Identifier: GPL-2.0-only

//! The parse in two parts, as bpfld.ko makes it (`Object::parse_first` on the loading
//! thread, `BPF_BTF_LOAD` of its BTF there while `Object::parse_rest` and the plan run
//! on another CPU): over every object of the corpus, the BTF the first part leaves is
//! the BTF of the whole parse, byte for byte; whether the kernel's BTF is needed is
//! never answered "no" after the first part where the whole parse says "yes"; the two
//! parts accept and refuse what the whole parse does; and nothing plans an object whose
//! parse is not finished.
//!
//! Needs clang (the corpus build); without it the test prints why and passes, except
//! under `CI=true`, where a skip is a failure.

mod common;

use bpfld::host::kernel_info;
use bpfld_core::elf::Elf;
use bpfld_core::error::Kind;
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::{Object, ParseOptions};
use bpfld_core::plan::{self, Plan};
use common::*;

#[test]
fn first_part_leaves_the_final_btf() {
    let corpus = build_corpus();
    let opts = ParseOptions {
        defer_btf_checks: true,
    };
    let (mut split, mut with_btf, mut refused, mut st_ops) = (0, 0, 0, 0);
    for path in objects(&corpus) {
        let name = file_name(&path);
        let bytes = std::fs::read(&path).unwrap();
        let a = &mut VecAlloc::default();
        let Ok(elf) = Elf::parse(&bytes, a) else {
            continue;
        };
        let whole = Object::parse_with(elf, "x", &opts, a);
        let elf = Elf::parse(&bytes, a).unwrap();
        let first = Object::parse_first(elf, "x", &opts, a);
        let (whole, mut obj) = match (whole, first) {
            (Ok(w), Ok(f)) => (w, f),
            (Err(w), Err(f)) => {
                // Refused in the first part, as the whole parse refuses it.
                assert_eq!(format!("{f}"), format!("{w}"), "{name}");
                refused += 1;
                continue;
            }
            (Err(w), Ok(mut f)) => {
                // Refused in the second part, with the same error.
                let e = f.parse_rest(a).expect_err(&name);
                assert_eq!(format!("{e}"), format!("{w}"), "{name}");
                refused += 1;
                continue;
            }
            (Ok(_), Err(f)) => panic!("{name}: the first part refused what a parse accepts: {f}"),
        };
        assert!(!obj.is_parsed(), "{name}");
        let needs_first = plan::needs_kernel_btf(&obj);
        let before = obj.btf.as_ref().map(|b| b.data().to_vec());
        let e = Plan::build(&obj, &kernel_info(), None, a)
            .err()
            .unwrap_or_else(|| panic!("{name}: a partly parsed object was planned"));
        assert!(matches!(e.kind(), Kind::Mismatch(_)), "{name}: {e}");
        obj.parse_rest(a).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(obj.is_parsed(), "{name}");
        let after = obj.btf.as_ref().map(|b| b.data().to_vec());
        assert_eq!(before, after, "{name}: the second part changed the BTF");
        assert_eq!(
            after,
            whole.btf.as_ref().map(|b| b.data().to_vec()),
            "{name}: not the whole parse's BTF"
        );
        assert_eq!(obj.maps.len(), whole.maps.len(), "{name}");
        assert_eq!(obj.relos.len(), whole.relos.len(), "{name}");
        assert_eq!(obj.slots.len(), whole.slots.len(), "{name}");
        assert_eq!(obj.st_ops_funcs.len(), whole.st_ops_funcs.len(), "{name}");
        let needs = plan::needs_kernel_btf(&obj);
        assert_eq!(needs, plan::needs_kernel_btf(&whole), "{name}");
        assert!(
            needs_first || !needs,
            "{name}: the first part said no kernel BTF"
        );
        split += 1;
        with_btf += usize::from(after.is_some());
        st_ops += usize::from(!obj.st_ops_funcs.is_empty());
    }
    eprintln!(
        "{split} objects parsed in two parts ({with_btf} with BTF, {st_ops} with \
         struct_ops), {refused} refused"
    );
    assert!(
        split >= 50 && with_btf >= 50 && st_ops >= 1,
        "too few objects"
    );
}

// SPDX-License-Identifier: GPL-2.0-only

//! struct_ops maps planned against the host's vmlinux BTF (`struct tcp_congestion_ops`):
//! the members libbpf's `bpf_map__init_kern_struct_ops()` refuses with `ENOTSUP` are
//! refused with `EOPNOTSUPP` (the same number), naming the map and the member; a
//! `.struct_ops.link` map's value gets its programs' slots.
//!
//! Needs clang and `/sys/kernel/btf/vmlinux`; without them the test prints why and
//! passes, except under `CI=true`, where a skip is a failure.

mod common;

use bpfld::host::kernel_info;
use bpfld_core::elf::Elf;
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::Object;
use bpfld_core::plan::Plan;
use common::*;

/// A TCP congestion control whose local type has `members` (C declarations) after the
/// three function pointers, initialised with `init` (C designators).
fn source(members: &str, init: &str, section: &str) -> String {
    format!(
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         struct sock; struct module;\n\
         struct tcp_congestion_ops {{\n\
         \t__u32 (*ssthresh)(struct sock *sk);\n\
         \tvoid (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);\n\
         \t__u32 (*undo_cwnd)(struct sock *sk);\n\
         \t{members}\n\
         \tchar name[16];\n}};\n\
         SEC(\"struct_ops/a\") __u32 a(void *ctx) {{ return 2; }}\n\
         SEC(\"struct_ops/b\") void b(void *ctx) {{ }}\n\
         SEC(\"struct_ops/c\") __u32 c(void *ctx) {{ return 10; }}\n\
         SEC(\"{section}\") struct tcp_congestion_ops ops = {{\n\
         \t.ssthresh = (void *)a, .cong_avoid = (void *)b, .undo_cwnd = (void *)c,\n\
         \t{init} .name = \"bpfld_t\",\n}};\n\
         char _license[] SEC(\"license\") = \"GPL\";\n"
    )
}

/// The errno and message of planning `c`, or the number of program slots of each
/// struct_ops map; None (after a visible skip) without the host's BTF or clang.
fn plan(c: &str) -> Option<Result<Vec<usize>, (i32, String)>> {
    let (kb, bytes) = compile_with_host_btf(c)?;
    let mut a = VecAlloc::default();
    let elf = Elf::parse(&bytes, &mut a).unwrap();
    let obj = Object::parse(elf, "st", &mut a).unwrap();
    Some(match Plan::build(&obj, &kernel_info(), Some(&kb), &mut a) {
        Ok(p) => Ok(p.st_maps.iter().map(|st| p.st_value(st).1.len()).collect()),
        Err(e) => Err((e.errno(), format!("{e}"))),
    })
}

#[test]
fn members_libbpf_refuses_are_refused() {
    let Some(ok) = plan(&source("", "", ".struct_ops.link")) else {
        return;
    };
    assert_eq!(ok, Ok(vec![3]), "three program slots");
    let cases = [
        // A pointer member set to a constant: libbpf's "member owner is not a
        // struct_ops program".
        (
            "struct module *owner;",
            ".owner = (struct module *)1,",
            "sym 'owner'",
            "struct_ops pointer member set to something other than a program",
        ),
        // 8 bytes where the kernel's flags are 4: "Error in size of member flags".
        (
            "unsigned long long flags;",
            ".flags = 1,",
            "sym 'flags'",
            "struct_ops member size differs from the kernel's",
        ),
        // A scalar where the kernel has a pointer: "Unmatched member type".
        (
            "unsigned long owner;",
            ".owner = 0,",
            "sym 'owner'",
            "struct_ops member kind differs from the kernel's",
        ),
    ];
    for (members, init, member, says) in cases {
        let r = plan(&source(members, init, ".struct_ops")).unwrap();
        let (errno, msg) = r.expect_err(members);
        assert_eq!(errno, libc::EOPNOTSUPP, "{members}: {msg}");
        assert!(
            msg.contains(says) && msg.contains("map 'ops'"),
            "{members}: {msg}"
        );
        assert!(msg.contains(member), "{members}: {msg}");
    }
    // A NULL pointer member is left out, as libbpf leaves it.
    let null = plan(&source(
        "struct module *owner;",
        ".owner = 0,",
        ".struct_ops",
    ))
    .unwrap();
    assert_eq!(null, Ok(vec![3]));
}

// SPDX-License-Identifier: GPL-2.0-only

//! CO-RE records that share an instruction, planned against the host's vmlinux BTF.
//! libbpf applies the records of `.BTF.ext` one after the other, in place, so where two
//! name one instruction the later one's value is what loads. GCC 12 emits such pairs
//! (`t->group_leader->tgid`); clang does not, so the object here is clang's with one
//! record moved onto its neighbour's instruction. Enough records (17) that the plan's
//! sort of them by instruction is not a plain insertion sort.
//!
//! Needs clang and `/sys/kernel/btf/vmlinux`; without them the test prints why and
//! passes, except under `CI=true`, where a skip is a failure.

mod common;

use bpfld::host::kernel_info;
use bpfld_core::elf::Elf;
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::Object;
use bpfld_core::plan::{KernelBtf, Plan};
use common::*;

const TYPES: [&str; 17] = [
    "task_struct",
    "mm_struct",
    "file",
    "inode",
    "dentry",
    "super_block",
    "sk_buff",
    "sock",
    "net_device",
    "cred",
    "page",
    "vm_area_struct",
    "bpf_prog",
    "bpf_map",
    "cgroup",
    "nsproxy",
    "files_struct",
];

fn source() -> String {
    let mut s = String::from(
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         #include <bpf/bpf_core_read.h>\n",
    );
    for t in TYPES {
        s += &format!("struct {t} {{ int x; }} __attribute__((preserve_access_index));\n");
    }
    s += "SEC(\"socket\") int prog(void *ctx)\n{\n\tunsigned long long s = 0;\n";
    for t in TYPES {
        s += &format!("\ts ^= bpf_core_type_id_kernel(struct {t});\n");
    }
    s += "\treturn s;\n}\nchar _license[] SEC(\"license\") = \"GPL\";\n";
    s
}

fn u16_at(d: &[u8], o: usize) -> usize {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap()) as usize
}
fn u32_at(d: &[u8], o: usize) -> usize {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap()) as usize
}
fn u64_at(d: &[u8], o: usize) -> usize {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap()) as usize
}

/// File offsets of the CO-RE records' `insn_off` fields, in `.BTF.ext` order.
fn core_record_insn_offs(d: &[u8]) -> Vec<usize> {
    let (shoff, shentsize) = (u64_at(d, 0x28), u16_at(d, 0x3a));
    let (shnum, shstrndx) = (u16_at(d, 0x3c), u16_at(d, 0x3e));
    let sh = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(d, sh(shstrndx) + 0x18);
    let ext = (0..shnum)
        .find(|&i| {
            let name = strtab + u32_at(d, sh(i));
            d[name..].starts_with(b".BTF.ext\0")
        })
        .expect(".BTF.ext");
    let off = u64_at(d, sh(ext) + 0x18);
    let hdr_len = u32_at(d, off + 4);
    let (core_off, core_len) = (u32_at(d, off + 24), u32_at(d, off + 28));
    let base = off + hdr_len + core_off;
    let rec_size = u32_at(d, base);
    let mut p = base + 4;
    let mut out = Vec::new();
    while p < base + core_len {
        let n = u32_at(d, p + 4);
        p += 8;
        for _ in 0..n {
            out.push(p);
            p += rec_size;
        }
    }
    out
}

/// The plan of `bytes`, or its error's message.
fn plan_message(bytes: &[u8], kb: &dyn KernelBtf) -> Result<(), String> {
    let mut a = VecAlloc::default();
    let elf = Elf::parse(bytes, &mut a).unwrap();
    let obj = Object::parse(elf, "recs", &mut a).unwrap();
    Plan::build(&obj, &kernel_info(), Some(kb), &mut a)
        .map(|_| ())
        .map_err(|e| format!("{e}"))
}

/// Move CO-RE record `from` onto record `onto`'s instruction.
fn moved(bytes: &[u8], recs: &[usize], from: usize, onto: usize) -> Vec<u8> {
    let mut m = bytes.to_vec();
    let insn = u32_at(bytes, recs[onto]) as u32;
    m[recs[from]..recs[from] + 4].copy_from_slice(&insn.to_le_bytes());
    m
}

/// The program's planned instructions (index, imm) of its `ld_imm64`s.
fn planned_imms(bytes: &[u8], kb: &dyn KernelBtf) -> Vec<(usize, i32)> {
    let mut a = VecAlloc::default();
    let elf = Elf::parse(bytes, &mut a).unwrap();
    let obj = Object::parse(elf, "recs", &mut a).unwrap();
    let plan = Plan::build(&obj, &kernel_info(), Some(kb), &mut a).unwrap();
    let p = plan.progs.iter().find(|p| p.name == "prog").unwrap();
    plan.prog_insns(p)
        .iter()
        .enumerate()
        .filter(|(_, i)| i.code == 0x18)
        .map(|(k, i)| (k, i.imm))
        .collect()
}

#[test]
fn records_sharing_an_instruction_apply_in_order() {
    let Some((kb, bytes)) = compile_with_host_btf(&source()) else {
        return;
    };
    let recs = core_record_insn_offs(&bytes);
    assert_eq!(recs.len(), TYPES.len());
    let plain = planned_imms(&bytes, &kb);
    let insn_of = |r: usize| u32_at(&bytes, recs[r]) / 8;
    let value_at = |imms: &[(usize, i32)], insn: usize| {
        imms.iter()
            .find(|(k, _)| *k == insn)
            .map(|(_, v)| *v)
            .unwrap()
    };
    // Every pair of neighbours in turn: record k+1 moved onto record k's instruction.
    for k in 0..recs.len() - 1 {
        let (first, second) = (insn_of(k), insn_of(k + 1));
        let want = value_at(&plain, second);
        assert_ne!(want, value_at(&plain, first), "records {k} and {}", k + 1);
        let got = value_at(&planned_imms(&moved(&bytes, &recs, k + 1, k), &kb), first);
        assert_eq!(
            got,
            want,
            "records {k} and {} on insn {first}: the later record's value must win",
            k + 1
        );
    }
}

/// In a function no program calls, libbpf patches too, one record after the other: a
/// second record on an instruction is checked against what the first wrote (here the
/// first field's absence, 0, where the second expects its local 1) and fails the object.
#[test]
fn uncalled_records_sharing_an_instruction_check_in_turn() {
    let c = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
        #include <bpf/bpf_core_read.h>\n\
        struct task_struct___x { int no_such_a; int no_such_b; }\n\
        \t__attribute__((preserve_access_index));\n\
        __noinline int uncalled(struct task_struct___x *t)\n{\n\
        \tif (!t)\n\t\treturn 0;\n\
        \treturn bpf_core_field_exists(t->no_such_a) * 3 +\n\
        \t       bpf_core_field_exists(t->no_such_b);\n}\n\
        SEC(\"socket\") int prog(void *ctx)\n{\n\treturn 0;\n}\n\
        char _license[] SEC(\"license\") = \"GPL\";\n";
    let Some((kb, bytes)) = compile_with_host_btf(c) else {
        return;
    };
    let recs = core_record_insn_offs(&bytes);
    assert_eq!(recs.len(), 2);
    plan_message(&bytes, &kb).unwrap();
    let e = plan_message(&moved(&bytes, &recs, 1, 0), &kb).unwrap_err();
    assert!(e.contains("uncalled"), "{e}");
}

/// A relocation that found no target poisons its instruction; where the verifier
/// reaches it, libbpf rewrites the log's `call unknown#195896080` to name the
/// relocation, and bpfld's message names it.
#[test]
fn a_refused_load_names_the_poisoning_relocation() {
    if let Some(why) = bpf_unavailable() {
        skip(&why);
        return;
    }
    let c = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
        #include <bpf/bpf_core_read.h>\n\
        struct task_struct___x { int no_such_field; }\n\
        \t__attribute__((preserve_access_index));\n\
        SEC(\"raw_tp/sys_enter\") int prog(void *ctx)\n{\n\
        \tstruct task_struct___x *t = (void *)bpf_get_current_task();\n\
        \treturn BPF_CORE_READ(t, no_such_field);\n}\n\
        char _license[] SEC(\"license\") = \"GPL\";\n";
    let Some((_, bytes)) = compile_with_host_btf(c) else {
        return;
    };
    let path = std::env::temp_dir().join(format!("bpfld-poison-{}.bpf.o", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let r = bpfld::load::load_userspace(path.to_str().unwrap());
    std::fs::remove_file(&path).unwrap();
    let Err(e) = r else {
        panic!("a reachable poisoned instruction loaded");
    };
    assert_eq!(e.errno, libc::EINVAL, "{}", e.msg);
    assert!(
        e.msg.contains(
            "prog 'prog': section 'raw_tp/sys_enter': CO-RE relo #0 failed to resolve, insn #"
        ) && e
            .msg
            .contains("poisoned (call unknown#195896080): BPF_PROG_LOAD failed"),
        "{}",
        e.msg
    );
    assert!(e.log.contains("unknown#195896080"), "{}", e.log);
}

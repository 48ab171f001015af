// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! What the fuzz targets run, shared so that a crash input can be replayed from a test
//! or by hand (`cargo run --release --bin ... -- crash-file` under cargo fuzz).
//!
//! The core promises no panic, no hang and bounded memory on any input; libFuzzer turns
//! a panic into a crash, a slow input into a timeout and a large allocation into an
//! out-of-memory report, so the targets only have to drive every stage.

pub mod mutate;

use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{
    find_in_kernel, func_index_in, kernel_index_in, IndexEntry, KernelIndex, Target,
};
use bpfld_core::elf::{Elf, Image, Packed};
use bpfld_core::mem::VecAlloc;
use bpfld_core::object::{Object, ParseOptions};
use bpfld_core::plan::{KernelBtf, KernelInfo, KernelType, Plan};

/// Memory the fuzzed core may ask for: the inputs are at most a few hundred KiB, so a
/// legitimate plan needs far less; anything above means a count went unchecked.
pub const ALLOC_LIMIT: usize = 256 << 20;

/// Kernel BTF that knows a few attach targets, so that programs with BTF attach
/// targets (fentry, tp_btf, lsm, iter) reach the end of planning.
pub struct FakeKernelBtf;

impl KernelBtf for FakeKernelBtf {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        const KNOWN: &[&str] = &[
            "bpf_fentry_test1",
            "bpf_fentry_test2",
            "bpf_modify_return_test",
            "btf_trace_sched_switch",
            "btf_trace_task_newtask",
            "bpf_lsm_file_open",
            "bpf_iter_task",
        ];
        let id = KNOWN.iter().position(|k| *k == name)? as u32;
        // Answer typedefs and funcs alike, all in vmlinux.
        let _ = kind;
        Some(KernelType {
            module: 0,
            type_id: 1000 + id,
        })
    }
}

/// Parse the ELF container and the object.
pub fn run_parse(data: &[u8]) {
    let mut a = VecAlloc {
        limit: ALLOC_LIMIT,
        ..VecAlloc::default()
    };
    let Ok(elf) = Elf::parse(data, &mut a) else {
        return;
    };
    // Touch every accessor a consumer would, on what parsed.
    for s in elf.sections().flatten() {
        let _ = elf.rels(&s).count();
    }
    let _ = elf.symbols().count();
    if let Ok(obj) = Object::parse(elf, "fuzz", &mut a) {
        for p in obj.progs.iter() {
            let _ = obj.prog_relos(p).len();
        }
    }
}

/// `data` as the module reads it (`elf::read_used`: DWARF not read, packed). A read
/// outside the file, or of a byte twice, is a crash.
pub fn read_as_module(data: &[u8]) -> Packed<VecAlloc> {
    let mut seen = vec![false; data.len()];
    let r = bpfld_core::elf::read_used(data.len() as u64, &mut VecAlloc::default(), |dst, off| {
        let o = usize::try_from(off).map_err(|_| ())?;
        let src = data.get(o..o.checked_add(dst.len()).ok_or(())?).ok_or(())?;
        dst.copy_from_slice(src);
        for s in &mut seen[o..o + dst.len()] {
            assert!(!*s, "read_used read a byte twice");
            *s = true;
        }
        Ok::<(), ()>(())
    });
    match r {
        Ok(p) => p,
        Err(_) => panic!("read_used read outside the file"),
    }
}

/// The receipt, or the error's text, of parsing and planning `img` with the fake
/// kernel BTF. `module`: as bpfld.ko parses, in two parts (`BPF_BTF_LOAD` is given the
/// BTF the first part leaves, which the second must not change), the BTF checked in
/// full only after the plan (`ParseOptions::defer_btf_checks`), its fault reported
/// first.
fn outcome(img: Image<'_>, module: bool) -> Result<[u8; 32], String> {
    let mut a = VecAlloc {
        limit: ALLOC_LIMIT,
        ..VecAlloc::default()
    };
    let elf = Elf::parse_image(img, &mut a).map_err(|e| e.to_string())?;
    let opts = ParseOptions {
        defer_btf_checks: module,
    };
    let obj = if module {
        let mut obj = Object::parse_first(elf, "fuzz", &opts, &mut a).map_err(|e| e.to_string())?;
        let loaded = obj.btf.as_ref().map(|b| b.data().to_vec());
        obj.parse_rest(&mut a).map_err(|e| e.to_string())?;
        assert_eq!(
            obj.btf.as_ref().map(|b| b.data()),
            loaded.as_deref(),
            "the parse's second part changed the BTF loaded beside it"
        );
        obj
    } else {
        Object::parse_with(elf, "fuzz", &opts, &mut a).map_err(|e| e.to_string())?
    };
    let ki = KernelInfo {
        page_size: 4096,
        possible_cpus: 2,
        kernel_version: 0x060c00,
    };
    let plan = Plan::build(&obj, &ki, Some(&FakeKernelBtf), &mut a);
    obj.check_deferred_btf(&mut a).map_err(|e| e.to_string())?;
    Ok(plan.map_err(|e| e.to_string())?.receipt)
}

/// What the module reads of `data`, parsed and planned as the module does, must plan
/// exactly as the whole file with every check first: the core never reads what
/// `elf::read_used` skips, and deferring the BTF's checks changes no result.
pub fn run_module_read(data: &[u8]) {
    let packed = read_as_module(data);
    assert_eq!(
        outcome(packed.image(), true),
        outcome(Image::whole(data), false),
        "the module's read and parse change the plan"
    );
}

/// Parse and plan, with and without kernel BTF.
pub fn run_plan(data: &[u8]) {
    run_module_read(data);
    let mut a = VecAlloc {
        limit: ALLOC_LIMIT,
        ..VecAlloc::default()
    };
    let Ok(elf) = Elf::parse(data, &mut a) else {
        return;
    };
    let Ok(obj) = Object::parse(elf, "fuzz", &mut a) else {
        return;
    };
    let ki = KernelInfo {
        page_size: 4096,
        possible_cpus: 2,
        kernel_version: 0x060c00,
    };
    let kb = FakeKernelBtf;
    if let Ok(plan) = Plan::build(&obj, &ki, Some(&kb), &mut a) {
        for p in plan.progs.iter() {
            let _ = plan.prog_insns(p).len();
            let _ = plan.prog_sites(p).len();
            let _ = plan.prog_func_info(p).len();
            let _ = plan.prog_line_info(p).len();
        }
    }
    let _ = Plan::build(&obj, &ki, None, &mut a);
}

/// Kernel BTF from hostile bytes, checked for structure only (`Btf::parse_kernel`, what
/// bpfld trusts the running kernel's BTF with), with both indexes.
struct HostileKernel<'d> {
    btf: Btf<&'d [u8], Vec<u32>>,
    core: KernelIndex<Vec<IndexEntry>>,
    funcs: KernelIndex<Vec<IndexEntry>>,
}

impl KernelBtf for HostileKernel<'_> {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        let id = find_in_kernel(&self.btf, &self.core, Some(&self.funcs), name, kind).ok()??;
        Some(KernelType {
            module: 0,
            type_id: id,
        })
    }

    fn vmlinux(&self) -> Option<&dyn Types> {
        Some(&self.btf)
    }

    fn core_target(&self) -> Option<Target<'_>> {
        Target::new(&self.btf, &self.core).ok()
    }
}

/// The input as the running kernel's BTF: the bytes themselves, or, for an object, its
/// `.BTF` (so that the object seeds work), parsed for structure only, indexed, looked
/// up through, and, for an object, planned against (CO-RE, kfuncs, attach targets and
/// struct_ops all read the unvalidated records).
pub fn run_kernel_btf(data: &[u8]) {
    let mut a = VecAlloc {
        limit: ALLOC_LIMIT,
        ..VecAlloc::default()
    };
    let elf = Elf::parse(data, &mut a).ok();
    let raw = match &elf {
        Some(e) => match e.section_by_name(".BTF") {
            Some(s) => s.data,
            None => return,
        },
        None => data,
    };
    let Ok(n) = btf::count_types(raw) else {
        return;
    };
    let Ok(btf) = Btf::parse_kernel(raw, vec![0u32; n.saturating_add(1)]) else {
        return;
    };
    let ids = 1..btf.type_count();
    let (Ok(core), Ok(funcs)) = (
        kernel_index_in(&btf, ids.clone(), &mut a),
        func_index_in(&btf, ids.clone(), &mut a),
    ) else {
        return;
    };
    for id in ids.take(2048) {
        let Ok(t) = btf.type_by_id(id) else {
            continue;
        };
        let name = t.name().unwrap_or("");
        let _ = core.find(&btf, name, t.kind());
        let _ = funcs.find(&btf, name, BtfKind::Func);
        let _ = core.candidates(&btf, t.kind(), name).take(16).count();
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
    }
    let Some(elf) = elf else {
        return;
    };
    let Ok(obj) = Object::parse(elf, "fuzz", &mut a) else {
        return;
    };
    let k = HostileKernel { btf, core, funcs };
    let ki = KernelInfo {
        page_size: 4096,
        possible_cpus: 2,
        kernel_version: 0x060c00,
    };
    let _ = Plan::build(&obj, &ki, Some(&k), &mut a);
}

// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Helpers for the malformed-input corpus: fixtures compiled at test time, an
//! allocator with limits, running the pipeline to its first error, and small editors
//! that patch an ELF object (and its BTF) by name.
//!
//! The editors read the file the way a naive tool would (they trust it), so they are
//! only used on valid fixtures before the one targeted corruption.

#![allow(dead_code)]

pub mod btf;
pub mod elf;

use bpfld_core::btf::BtfKind;
use bpfld_core::elf::{Elf, Image, Packed};
use bpfld_core::error::{Error, Kind};
use bpfld_core::mem::Alloc;
use bpfld_core::object::{Object, ParseOptions};
use bpfld_core::plan::{KernelBtf, KernelInfo, KernelType, Plan};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The C fixtures in `tests/fixtures/`, compiled once per test binary.
pub const FIXTURES: &[&str] = &["basic", "calls", "maps", "attach", "arena"];

/// `true` when running under CI, where a missing tool is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

/// Report a skipped test (fails under CI).
pub fn skip(why: &str) {
    assert!(!in_ci(), "CI=true and {why}");
    println!("SKIP: {why}");
}

/// Whether `tool --version` runs.
fn runs(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn clang() -> Option<&'static str> {
    ["clang", "clang-14"].into_iter().find(|c| runs(c))
}

/// Compile BPF C source `src` (a path) to an object, returning its bytes.
pub fn compile(src: &std::path::Path, out_dir: &std::path::Path) -> Vec<u8> {
    let clang = clang().expect("clang");
    let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
    let out = out_dir.join(format!("{stem}.o"));
    let include = format!("-I/usr/include/{}", multiarch());
    let flags = ["-target", "bpf", "-g", "-O2", "-Wall", "-Werror", &include];
    run_compiler(clang, &flags, src, &out)
}

/// `tool FLAGS -c src -o out`, which must succeed; the object's bytes.
fn run_compiler(
    tool: &str,
    flags: &[&str],
    src: &std::path::Path,
    out: &std::path::Path,
) -> Vec<u8> {
    let o = std::process::Command::new(tool)
        .args(flags)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        o.status.success(),
        "{tool} {}: {}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

/// A directory of this process's own for `name`'s files, which the caller removes
/// (one per use, not a shared parent that nothing would remove).
fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfld-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every fixture's object bytes, or `None` (after reporting a skip) without clang.
pub fn fixtures() -> Option<&'static BTreeMap<&'static str, Vec<u8>>> {
    static F: OnceLock<Option<BTreeMap<&'static str, Vec<u8>>>> = OnceLock::new();
    let f = F.get_or_init(|| {
        clang()?;
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let dir = scratch_dir("fixtures");
        let m = FIXTURES
            .iter()
            .map(|n| (*n, compile(&src.join(format!("{n}.bpf.c")), &dir)))
            .collect();
        std::fs::remove_dir_all(&dir).ok();
        Some(m)
    });
    if f.is_none() {
        skip("no clang for the BPF fixtures");
    }
    f.as_ref()
}

/// Compile generated C source (not committed: built by the test from a pattern).
pub fn compile_generated(name: &str, c: &str) -> Vec<u8> {
    in_scratch(name, c, compile)
}

/// Compile generated C source with GCC's BPF back end (Debian's `gcc-bpf`, GCC 12 on
/// Debian 12): `bpf-gcc -O2 -gbtf`, the system headers searched as clang's are. `None`
/// (after reporting a skip) without it.
pub fn compile_gcc(name: &str, c: &str) -> Option<Vec<u8>> {
    if !runs("bpf-gcc") {
        skip("no bpf-gcc (Debian's gcc-bpf)");
        return None;
    }
    let include = format!("-I/usr/include/{}", multiarch());
    let flags = ["-O2", "-gbtf", &include, "-I/usr/include"];
    Some(in_scratch(&format!("gcc-{name}"), c, |src, dir| {
        run_compiler("bpf-gcc", &flags, src, &dir.join("out.bpf.o"))
    }))
}

/// `c` written to `NAME.bpf.c` in a scratch directory of its own, compiled there by
/// `build(source, directory)`; the directory is removed afterwards.
fn in_scratch(
    name: &str,
    c: &str,
    build: impl FnOnce(&std::path::Path, &std::path::Path) -> Vec<u8>,
) -> Vec<u8> {
    let dir = scratch_dir(name);
    let src = dir.join(format!("{name}.bpf.c"));
    std::fs::write(&src, c).unwrap();
    let b = build(&src, &dir);
    std::fs::remove_dir_all(&dir).ok();
    b
}

/// The host's multiarch triplet (where Debian keeps `<asm/types.h>`).
fn multiarch() -> String {
    std::process::Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".into())
}

/// The includes every generated program starts with.
pub const C_HEAD: &str = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n";
/// The license every generated program ends with.
pub const C_TAIL: &str = "char _license[] SEC(\"license\") = \"GPL\";\n";

/// [`compile_generated`] of `body` between [`C_HEAD`] and [`C_TAIL`].
pub fn compile_program(name: &str, body: &str) -> Vec<u8> {
    compile_generated(name, &format!("{C_HEAD}{body}{C_TAIL}"))
}

/// A `Vec`-backed allocator like `mem::VecAlloc` (which integration tests cannot reach:
/// it is behind the `host` feature), that can also refuse the n-th allocation.
#[derive(Debug, Default)]
pub struct TestAlloc {
    /// Bytes handed out so far.
    pub bytes: usize,
    /// Allocations so far.
    pub count: usize,
    /// Refuse once `bytes` would exceed this (0: no limit).
    pub limit: usize,
    /// Refuse allocation number `fail_at` (0-based).
    pub fail_at: Option<usize>,
    /// Largest single request, in bytes.
    pub largest: usize,
}

impl TestAlloc {
    /// No limits.
    pub fn new() -> Self {
        Self::default()
    }
    /// At most `limit` bytes.
    pub fn limited(limit: usize) -> Self {
        TestAlloc {
            limit,
            ..Self::default()
        }
    }
}

impl Alloc for TestAlloc {
    type Buf<T: Copy + Default> = Vec<T>;

    fn alloc<T: Copy + Default>(&mut self, len: usize) -> bpfld_core::Result<'static, Vec<T>> {
        let size = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or(Error::new(Kind::NoMemory))?;
        let total = self
            .bytes
            .checked_add(size)
            .ok_or(Error::new(Kind::NoMemory))?;
        let n = self.count;
        self.count += 1;
        if (self.limit != 0 && total > self.limit) || self.fail_at == Some(n) {
            return Err(Error::new(Kind::NoMemory));
        }
        // Real allocators fail on absurd sizes; so does this one, instead of aborting.
        if size > (1 << 30) {
            return Err(Error::new(Kind::NoMemory));
        }
        self.largest = self.largest.max(size);
        self.bytes = total;
        Ok(vec![T::default(); len])
    }
}

/// Kernel BTF that knows the attach targets of `fixtures/attach.bpf.c` (and a few more).
pub struct FakeKernelBtf;

/// What [`FakeKernelBtf`] answers.
pub const KNOWN_KERNEL_NAMES: &[&str] = &[
    "bpf_fentry_test1",
    "bpf_modify_return_test",
    "btf_trace_sched_switch",
    "bpf_lsm_file_open",
];

impl KernelBtf for FakeKernelBtf {
    fn find(&self, name: &str, _kind: BtfKind) -> Option<KernelType> {
        let i = KNOWN_KERNEL_NAMES.iter().position(|n| *n == name)?;
        Some(KernelType {
            module: 0,
            type_id: 100 + i as u32,
        })
    }
}

/// The kernel facts used for every plan here.
pub fn kinfo() -> KernelInfo {
    KernelInfo {
        page_size: 4096,
        possible_cpus: 2,
        kernel_version: 0x060c00,
    }
}

/// Where the pipeline stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// `Elf::parse`.
    Elf,
    /// `Object::parse`.
    Object,
    /// `Plan::build`.
    Plan,
}

/// An error copied out of the borrowed core error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Where.
    pub stage: Stage,
    /// What.
    pub kind: Kind,
    /// The full message, contexts outermost first.
    pub text: String,
    /// errno.
    pub errno: i32,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {} (errno {})", self.stage, self.text, self.errno)
    }
}

fn failure(stage: Stage, e: Error<'_>) -> Failure {
    Failure {
        stage,
        kind: e.kind(),
        text: e.to_string(),
        errno: e.errno(),
    }
}

/// A summary of a successful plan, copied out of the borrowing plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Per planned program: name, instruction count.
    pub progs: Vec<(String, usize)>,
    /// Per planned program: the final instructions as (code, regs, off, imm).
    pub insns: Vec<Vec<(u8, u8, i16, i32)>>,
    /// Number of maps.
    pub maps: usize,
    /// The receipt.
    pub receipt: [u8; 32],
}

/// Run the whole pipeline on `bytes` with `a`, with the fake kernel BTF.
pub fn run_with(bytes: &[u8], a: &mut TestAlloc, kbtf: bool) -> Result<PlanSummary, Failure> {
    run_image_with(Image::whole(bytes), a, kbtf, false)
}

/// Run the whole pipeline on what [`read_as_module`] read, as the module runs it: the
/// parse in two parts, the object's BTF checked in full after the plan
/// (`ParseOptions::defer_btf_checks`, its error preferred to the plan's), which must not
/// change any result.
pub fn run_image(img: Image<'_>) -> Result<PlanSummary, Failure> {
    run_image_with(img, &mut TestAlloc::new(), true, true)
}

fn run_image_with(
    img: Image<'_>,
    a: &mut TestAlloc,
    kbtf: bool,
    defer_btf_checks: bool,
) -> Result<PlanSummary, Failure> {
    let elf = Elf::parse_image(img, a).map_err(|e| failure(Stage::Elf, e))?;
    let opts = ParseOptions { defer_btf_checks };
    let obj = if defer_btf_checks {
        // As the module: in two parts, `BPF_BTF_LOAD` given the BTF of the first.
        let mut obj =
            Object::parse_first(elf, "obj", &opts, a).map_err(|e| failure(Stage::Object, e))?;
        let loaded = obj.btf.as_ref().map(|b| b.data().to_vec());
        obj.parse_rest(a).map_err(|e| failure(Stage::Object, e))?;
        assert_eq!(
            obj.btf.as_ref().map(|b| b.data()),
            loaded.as_deref(),
            "the parse's second part changed the BTF"
        );
        obj
    } else {
        Object::parse_with(elf, "obj", &opts, a).map_err(|e| failure(Stage::Object, e))?
    };
    let kb = FakeKernelBtf;
    let kb: Option<&dyn KernelBtf> = if kbtf { Some(&kb) } else { None };
    let planned = Plan::build(&obj, &kinfo(), kb, a);
    // The module checks the BTF beside the commands, and reports its fault first.
    obj.check_deferred_btf(a)
        .map_err(|e| failure(Stage::Object, e))?;
    let plan = planned.map_err(|e| failure(Stage::Plan, e))?;
    Ok(PlanSummary {
        progs: plan
            .progs
            .iter()
            .map(|p| (p.name.to_string(), plan.prog_insns(p).len()))
            .collect(),
        insns: plan
            .progs
            .iter()
            .map(|p| {
                plan.prog_insns(p)
                    .iter()
                    .map(|i| (i.code, i.regs, i.off, i.imm))
                    .collect()
            })
            .collect(),
        maps: plan.maps.len(),
        receipt: plan.receipt,
    })
}

/// Run the whole pipeline on `bytes`.
pub fn run(bytes: &[u8]) -> Result<PlanSummary, Failure> {
    run_with(bytes, &mut TestAlloc::new(), true)
}

/// `bytes` as the module reads them ([`bpfld_core::elf::read_used`]: DWARF not read),
/// packed; `read` says how many bytes that read.
pub fn read_as_module(bytes: &[u8]) -> Packed<TestAlloc> {
    let mut seen = vec![false; bytes.len()];
    let p = bpfld_core::elf::read_used(bytes.len() as u64, &mut TestAlloc::new(), |dst, off| {
        let o = usize::try_from(off).map_err(|_| ())?;
        let src = bytes
            .get(o..o.checked_add(dst.len()).ok_or(())?)
            .ok_or(())?;
        dst.copy_from_slice(src);
        // Each byte once.
        for s in &mut seen[o..o + dst.len()] {
            assert!(!*s, "read_used read file offset {o}.. twice");
            *s = true;
        }
        Ok::<(), ()>(())
    });
    match p {
        Ok(p) => p,
        Err(_) => panic!("read_used asked for bytes outside the file, or had no memory"),
    }
}

/// CPU time of the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`): the cost
/// comparisons use it, so that other tests and processes running at the same time do
/// not count.
pub fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`, which lives across the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

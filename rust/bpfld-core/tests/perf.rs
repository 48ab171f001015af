// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! Timings of the kernel-BTF path (parse, CO-RE index) and of planning objects against
//! it, for profiling: `#[ignore]`d, run by hand in release mode, e.g.
//!
//! ```text
//! cargo test --release -p bpfld-core --test perf -- --ignored --nocapture
//! BPFLD_PERF_BTF=/sys/kernel/btf/vmlinux BPFLD_PERF_ITERS=50 cargo test ...
//! BPFLD_PERF_OBJS=target/bpf-kprogs/bpf_cubic.bpf.o cargo test ... plan
//! ```
//!
//! They print medians and assert nothing about speed (the machine is shared); they do
//! check that the results are the same on every run. Inputs that are missing are skipped.

use bpfld_core::btf::{self, Btf, BtfKind, Types};
use bpfld_core::core_relo::{
    find_in_kernel, func_index_in, kernel_index_in, IndexEntry, KernelIndex, Target,
};
use bpfld_core::elf::{Elf, Image};
use bpfld_core::error::{Error, Kind};
use bpfld_core::externs::{KernelConfig, KernelSymbols, SymbolAddress};
use bpfld_core::mem::Alloc;
use bpfld_core::object::{Object, ParseOptions};
use bpfld_core::plan::{KernelBtf, KernelInfo, KernelType, Options, Plan};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A plain `Vec` allocator (`mem::VecAlloc` is behind the `host` feature).
#[derive(Default)]
struct Heap;

impl Alloc for Heap {
    type Buf<T: Copy + Default> = Vec<T>;

    fn alloc<T: Copy + Default>(&mut self, len: usize) -> bpfld_core::Result<'static, Vec<T>> {
        if len.saturating_mul(std::mem::size_of::<T>()) > (1 << 30) {
            return Err(Error::new(Kind::NoMemory));
        }
        Ok(vec![T::default(); len])
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn iters() -> usize {
    std::env::var("BPFLD_PERF_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn btf_files() -> Vec<PathBuf> {
    match std::env::var("BPFLD_PERF_BTF") {
        Ok(s) => s.split(',').map(PathBuf::from).collect(),
        Err(_) => vec![
            root().join("target/bench/vmlinux-test-kernel.btf"),
            PathBuf::from("/sys/kernel/btf/vmlinux"),
        ],
    }
}

fn median(mut v: Vec<u64>) -> f64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0) as f64 / 1e6
}

type OwnedBtf = Btf<Vec<u8>, Vec<u32>>;

fn parse(blob: Vec<u8>) -> OwnedBtf {
    let n = btf::count_types(&blob).unwrap();
    Btf::parse_kernel(blob, vec![0u32; n + 1]).unwrap()
}

/// Kernel BTF as `bpfld::host::HostBtf` and the module's `Vmlinux` present it.
struct Kernel {
    btf: OwnedBtf,
    index: KernelIndex<Vec<IndexEntry>>,
    /// Built at load here (lazily there).
    funcs: KernelIndex<Vec<IndexEntry>>,
}

impl Kernel {
    fn load(path: &Path) -> Option<Kernel> {
        let blob = std::fs::read(path).ok()?;
        let btf = parse(blob);
        let index = kernel_index_in(&btf, 1..btf.type_count(), &mut Heap).unwrap();
        let funcs = func_index_in(&btf, 1..btf.type_count(), &mut Heap).unwrap();
        Some(Kernel { btf, index, funcs })
    }
}

impl KernelBtf for Kernel {
    fn find(&self, name: &str, kind: BtfKind) -> Option<KernelType> {
        let id = find_in_kernel(&self.btf, &self.index, Some(&self.funcs), name, kind);
        Some(KernelType {
            module: 0,
            type_id: id.ok()??,
        })
    }

    fn vmlinux(&self) -> Option<&dyn Types> {
        Some(&self.btf)
    }

    fn core_target(&self) -> Option<Target<'_>> {
        Target::new(&self.btf, &self.index).ok()
    }
}

/// `CONFIG_HZ=250` and no other `CONFIG_*`, every symbol at a fixed address: planning
/// only.
struct Nothing;

impl KernelConfig for Nothing {
    fn get(&self, name: &str) -> Option<&[u8]> {
        (name == "CONFIG_HZ").then_some(b"250".as_slice())
    }
}

impl KernelSymbols for Nothing {
    fn address(&self, _name: &str) -> SymbolAddress {
        SymbolAddress::At(0xffff_ffff_8100_0000)
    }
}

#[test]
#[ignore = "timing, run by hand in release mode"]
fn btf_parse_and_index() {
    for path in btf_files() {
        let Ok(blob) = std::fs::read(&path) else {
            println!("PERF {}: unreadable, skipped", path.display());
            continue;
        };
        let (mut read, mut count, mut parse_ns, mut index) = (vec![], vec![], vec![], vec![]);
        let mut shape = None;
        for _ in 0..iters() {
            let t = Instant::now();
            let b = std::fs::read(&path).unwrap();
            read.push(t.elapsed().as_nanos() as u64);
            let t = Instant::now();
            let n = btf::count_types(&b).unwrap();
            count.push(t.elapsed().as_nanos() as u64);
            let bt = Btf::parse_kernel(b, vec![0u32; n + 1]).unwrap();
            parse_ns.push(t.elapsed().as_nanos() as u64);
            let t = Instant::now();
            let idx = kernel_index_in(&bt, 1..bt.type_count(), &mut Heap).unwrap();
            index.push(t.elapsed().as_nanos() as u64);
            let s = (bt.type_count(), idx.entries().to_vec());
            if let Some(prev) = &shape {
                assert!(*prev == s, "index differs between runs");
            }
            shape = Some(s);
        }
        let (types, entries) = shape.unwrap();
        assert!(entries
            .windows(2)
            .all(|w| (w[0].key, w[0].id) < (w[1].key, w[1].id)));
        let (r, c, p, i) = (median(read), median(count), median(parse_ns), median(index));
        println!(
            "PERF {}: {} types, {} bytes, {} index entries: read {r:.2} ms, count {c:.2} ms, \
             count+parse {p:.2} ms, index {i:.2} ms, parse+index {:.2} ms",
            path.display(),
            types,
            blob.len(),
            entries.len(),
            p + i
        );
    }
}

fn objects() -> Vec<PathBuf> {
    match std::env::var("BPFLD_PERF_OBJS") {
        Ok(s) => s.split(',').map(PathBuf::from).collect(),
        Err(_) => ["bpf_cubic", "bpf_dctcp", "netif_receive_skb"]
            .iter()
            .map(|n| root().join(format!("target/bpf-kprogs/{n}.bpf.o")))
            .collect(),
    }
}

#[test]
#[ignore = "timing, run by hand in release mode"]
fn plan_objects() {
    for path in btf_files() {
        let Some(k) = Kernel::load(&path) else {
            println!("PERF {}: unreadable, skipped", path.display());
            continue;
        };
        let kinfo = KernelInfo {
            page_size: 4096,
            possible_cpus: 2,
            kernel_version: 0x060c00,
        };
        // As bpfld.ko plans: the receipt is hashed apart (beside the commands there),
        // and timed apart here.
        let opts = Options {
            kconfig: Some(&Nothing),
            symbols: Some(&Nothing),
            defer_receipt: true,
            ..Options::default()
        };
        for obj_path in objects() {
            let Ok(whole) = std::fs::read(&obj_path) else {
                println!("PERF {}: unreadable, skipped", obj_path.display());
                continue;
            };
            // What bpfld.ko parses: the file without DWARF, packed (elf::read_used);
            // BPFLD_PERF_WHOLE=1 parses the whole file instead.
            let packed = bpfld_core::elf::read_used(whole.len() as u64, &mut Heap, |dst, off| {
                let o = off as usize;
                dst.copy_from_slice(&whole[o..o + dst.len()]);
                Ok::<(), ()>(())
            })
            .ok()
            .unwrap();
            let img = if std::env::var_os("BPFLD_PERF_WHOLE").is_some() {
                Image::whole(&whole)
            } else {
                packed.image()
            };
            let name = obj_path.file_name().unwrap().to_string_lossy().into_owned();
            let mut times = vec![];
            let mut parse_times = vec![];
            let mut hash_times = vec![];
            let mut check_times = vec![];
            let mut outcome = String::new();
            for _ in 0..iters() {
                let mut a = Heap;
                let t = Instant::now();
                let elf = Elf::parse_image(img, &mut a).unwrap();
                // As bpfld.ko parses: the BTF checked in full apart (beside the commands).
                let popts = ParseOptions {
                    defer_btf_checks: true,
                };
                let obj = Object::parse_with(elf, &name, &popts, &mut a).unwrap();
                parse_times.push(t.elapsed().as_nanos() as u64);
                let t = Instant::now();
                obj.check_deferred_btf(&mut a).unwrap();
                check_times.push(t.elapsed().as_nanos() as u64);
                let t = Instant::now();
                let r = Plan::build_with(&obj, &kinfo, Some(&k), &opts, &mut a);
                times.push(t.elapsed().as_nanos() as u64);
                outcome = match r {
                    Ok(p) => {
                        let t = Instant::now();
                        let receipt = p.compute_receipt();
                        hash_times.push(t.elapsed().as_nanos() as u64);
                        format!("{} progs, receipt {:02x?}", p.progs.len(), &receipt[..8])
                    }
                    Err(e) => format!("refused: {e}"),
                };
            }
            println!(
                "PERF parse {name}: {:.3} ms (+ BTF check {:.3} ms), plan on {}: {:.3} ms, receipt {:.3} ms ({outcome})",
                median(parse_times),
                median(check_times),
                path.display(),
                median(times),
                median(hash_times)
            );
        }
    }
}

// SPDX-License-Identifier: GPL-2.0-only

//! `bpfld-bench`: bpfld's load path side by side with libbpf's. A benchmark, not a
//! test: it prints medians, spreads and ratios and checks only that both loaders
//! loaded the same programs. `make bench` runs it (see Documentation/benchmarks.rst).
//!
//! - `host`: on the host kernel, vmlinux BTF parse + CO-RE index against libbpf's
//!   `btf__parse`, then per object bpfld's parse + plan alone and the user-space
//!   executor's open + load against libbpf's, split into the loader's own time and the
//!   time inside `bpf(2)`.
//! - `vm`: inside the test VM (`scripts/bench-vm`), loads through `/dev/bpfld` against
//!   libbpf's, with the module's own time, BPF-command time and memory per load
//!   (`struct bpfld_load` `time_ns`, `bpf_time_ns`, `mem_bytes`), the first CO-RE load
//!   after insmod and the cached vmlinux index.
//!
//! libbpf's figures come from `selftests/tools/libbpf_bench` (the tree's libbpf 1.5,
//! statically linked). Heap is counted the same way on both sides
//! (`malloc_usable_size` of every block, see `bench/heap.rs` and `libbpf_bench.c`).

#[path = "bench/beside.rs"]
mod beside;
#[path = "bench/heap.rs"]
mod heap;
#[path = "bench/host.rs"]
mod host;
#[path = "bench/libbpf.rs"]
mod libbpf;
#[path = "bench/ours.rs"]
mod ours;
#[path = "bench/stats.rs"]
mod stats;
#[path = "bench/vm.rs"]
mod vm;

#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

/// The libbpf compared with.
const LIBBPF: &str = "1.5 (Linux 6.12 tools/lib/bpf, static)";

const USAGE: &str = "usage:
  bpfld-bench host --libbpf-bench BIN [--btf LABEL=FILE]... [--iters N] [GROUP:]OBJ...
      vmlinux BTF (raw BTF files; default host=/sys/kernel/btf/vmlinux) and objects on
      the host kernel, bpfld's user-space executor vs libbpf (root)
  bpfld-bench vm --libbpf-bench BIN --module KO --image IMG [--iters N] [--first K]
                 [--out FILE] [GROUP:]OBJ...
      inside the test VM: /dev/bpfld (insmod KO dev_mode=1, objects copied onto the
      verity ext4 image IMG) vs libbpf; GROUP 'core' marks the CO-RE object timed
      after K module reloads";

/// An object to load, with the group it stands for (small, large, core, ...).
#[derive(Clone, Debug)]
pub struct Object {
    pub name: String,
    pub group: String,
    pub path: String,
}

impl Object {
    fn parse(arg: &str) -> Object {
        let (group, path) = match arg.split_once(':') {
            Some((g, p)) if !g.contains('/') => (g.to_string(), p.to_string()),
            _ => ("-".to_string(), arg.to_string()),
        };
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        Object { name, group, path }
    }
}

fn osrelease() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = argv.split_first() else {
        usage()
    };
    let mut libbpf_bench = None;
    let mut btfs = Vec::new();
    let mut iters = None;
    let mut module = None;
    let mut image = None;
    let mut first = 5;
    let mut out = None;
    let mut objects = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "--libbpf-bench" => libbpf_bench = Some(val()),
            "--btf" => match val().split_once('=') {
                Some((l, p)) => btfs.push((l.to_string(), p.to_string())),
                None => usage(),
            },
            "--iters" => iters = Some(val().parse().unwrap_or_else(|_| usage())),
            "--first" => first = val().parse().unwrap_or_else(|_| usage()),
            "--module" => module = Some(val()),
            "--image" => image = Some(val()),
            "--out" => out = Some(val()),
            s if s.starts_with("--") => usage(),
            s => objects.push(Object::parse(s)),
        }
    }
    let Some(libbpf_bench) = libbpf_bench else {
        usage()
    };
    let res = match mode.as_str() {
        "host" => {
            if btfs.is_empty() {
                btfs.push(("host".into(), "/sys/kernel/btf/vmlinux".into()));
            }
            host::run(&host::Args {
                libbpf_bench,
                btfs,
                iters: iters.unwrap_or(20),
                objects,
            })
        }
        "vm" => {
            let (Some(module), Some(image)) = (module, image) else {
                usage()
            };
            vm::run(&vm::Args {
                libbpf_bench,
                module,
                image,
                iters: iters.unwrap_or(10),
                first,
                objects,
            })
            .and_then(|report| {
                print!("{report}");
                match out {
                    Some(p) => std::fs::write(&p, report).map_err(|e| format!("{p}: {e}")),
                    None => Ok(()),
                }
            })
        }
        _ => usage(),
    };
    if let Err(e) = res {
        eprintln!("bpfld-bench: {e}");
        std::process::exit(1);
    }
}

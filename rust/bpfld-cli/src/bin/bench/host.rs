// SPDX-License-Identifier: GPL-2.0-only

//! Part A, on the host: vmlinux BTF parse and index, and per-object loads, bpfld's
//! user-space executor against libbpf (the tree's, statically linked).

use crate::beside::Beside;
use crate::heap::Mark;
use crate::stats::{
    bytes, bytes_cell, col, median, median_interval, overhead_shares, ratio, time, time_cell,
    under_10_percent, Stats, Table,
};
use crate::{libbpf, ours, Object};
use bpfld::host::HostBtf;
use bpfld_core::btf::{self, Btf};
use bpfld_core::core_relo::kernel_index_in;
use bpfld_core::mem::VecAlloc;
use std::time::Instant;

/// What `bpfld-bench host` was asked.
pub struct Args {
    pub libbpf_bench: String,
    /// (label, raw BTF file)
    pub btfs: Vec<(String, String)>,
    pub iters: usize,
    pub objects: Vec<Object>,
}

fn ns(t: Instant) -> u64 {
    t.elapsed().as_nanos() as u64
}

pub fn run(a: &Args) -> Result<(), String> {
    println!("# Part A (host): bpfld-core vs libbpf {}", crate::LIBBPF);
    println!(
        "# host kernel {}, {} CPUs; figures are median [p10..p90] of the runs unless said",
        crate::osrelease(),
        crate::cpus()
    );
    println!("# ratios are libbpf / bpfld of the medians: above 1.00x bpfld is faster or smaller");
    btf_part(a)?;
    objects_part(a)
}

/// A.1: the vmlinux BTF, read from its file, parsed and indexed.
fn btf_part(a: &Args) -> Result<(), String> {
    let n = a.iters;
    println!();
    println!("## A.1 vmlinux BTF: read + parse (+ bpfld's CO-RE index), {n} runs each");
    println!("bpfld: HostBtf::from_kernel_file = read, btf::count_types + Btf::parse_kernel");
    println!("(record structure, type offsets; the kernel checked the rest at boot) and");
    println!("kernel_index_in (CO-RE candidate index), what bpfld.ko caches at its first CO-RE");
    println!("load. libbpf: btf__parse (type offsets), what bpf_object__load does at every load");
    println!("that needs kernel BTF (libbpf has no candidate index: bpf_core_add_cands scans all");
    println!("types per local type). Heap: malloc_usable_size of every block, both sides.");
    let mut t = Table::new(&[
        "BTF",
        "types",
        "size",
        "bpfld parse+index",
        "libbpf btf__parse",
        "libbpf/bpfld",
        "bpfld held",
        "libbpf held",
        "bpfld peak",
        "libbpf peak",
    ]);
    let mut phases = Table::new(&[
        "BTF",
        "read",
        "parse",
        "index",
        "index entries",
        "parse, object rules",
    ]);
    for (label, path) in &a.btfs {
        let size = std::fs::metadata(path)
            .map_err(|e| format!("{path}: {e}"))?
            .len();
        // Warm the page cache and both allocators once, then alternate the two.
        let mut server = libbpf::Server::start(&a.libbpf_bench)?;
        drop(HostBtf::from_kernel_file(path)?);
        server.btf(path)?;
        let mut lib = Vec::new();
        let mut ours_ns = Vec::new();
        let mut held = Vec::new();
        let mut peak = Vec::new();
        let mut types = 0;
        for i in 0..n {
            if i % 2 == 1 {
                lib.push(server.btf(path)?);
            }
            let m = Mark::start();
            let t0 = Instant::now();
            let h = HostBtf::from_kernel_file(path)?;
            ours_ns.push(ns(t0));
            held.push(m.live());
            peak.push(m.peak());
            types = h.btf().type_count();
            drop(h);
            if i % 2 == 0 {
                lib.push(server.btf(path)?);
            }
        }
        let (mut read, mut parse, mut index) = (Vec::new(), Vec::new(), Vec::new());
        let mut full = Vec::new();
        let mut entries = 0;
        for _ in 0..n {
            let t0 = Instant::now();
            let blob = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            read.push(ns(t0));
            // What an object's BTF gets (every name checked as BPF_BTF_LOAD does), for
            // comparison; the kernel's own BTF skips the name rules.
            let t1 = Instant::now();
            let cnt = btf::count_types(&blob).map_err(|e| e.to_string())?;
            drop(Btf::parse(&blob[..], vec![0u32; cnt + 1]).map_err(|e| e.to_string())?);
            full.push(ns(t1));
            let t1 = Instant::now();
            let cnt = btf::count_types(&blob).map_err(|e| e.to_string())?;
            let b = Btf::parse_kernel(blob, vec![0u32; cnt + 1]).map_err(|e| e.to_string())?;
            parse.push(ns(t1));
            let t2 = Instant::now();
            let idx = kernel_index_in(&b, 1..b.type_count(), &mut VecAlloc::default())
                .map_err(|e| e.to_string())?;
            index.push(ns(t2));
            entries = idx.len();
        }
        let ours = Stats::of(&ours_ns);
        let libt = col(&lib, |s| s.ns);
        let lib_types = lib.first().map(|s| s.types).unwrap_or(0);
        if lib_types != types {
            println!("note: {label}: bpfld counts {types} types, libbpf {lib_types}");
        }
        t.row(vec![
            label.clone(),
            types.to_string(),
            bytes(size as f64),
            time_cell(ours),
            time_cell(libt),
            ratio(libt, ours),
            bytes_cell(Stats::of(&held)),
            bytes_cell(col(&lib, |s| s.live)),
            bytes_cell(Stats::of(&peak)),
            bytes_cell(col(&lib, |s| s.peak)),
        ]);
        phases.row(vec![
            label.clone(),
            time_cell(Stats::of(&read)),
            time_cell(Stats::of(&parse)),
            time_cell(Stats::of(&index)),
            entries.to_string(),
            time_cell(Stats::of(&full)),
        ]);
    }
    print!("{t}");
    println!("bpfld's steps, timed separately:");
    print!("{phases}");
    Ok(())
}

/// Results of one object.
struct Row {
    obj: Object,
    plan: Vec<Vec<ours::PlanSample>>,
    ours: Vec<ours::LoadSample>,
    /// Loads shaped as bpfld.ko's ([`ours::load_as_module`]).
    module: Vec<ours::LoadSample>,
    user: Vec<u64>,
    lib: Vec<libbpf::LoadSample>,
    /// libbpf's first load in its process.
    lib_first: libbpf::LoadSample,
    /// Remarks for the report (a BTF the object does not plan against).
    notes: Vec<String>,
}

/// A.2: per object, planning alone, and open + load on the host kernel.
fn objects_part(a: &Args) -> Result<(), String> {
    let n = a.iters;
    let host = HostBtf::load()?;
    let mut targets = Vec::new();
    for (label, path) in &a.btfs {
        targets.push((label.clone(), HostBtf::from_kernel_file(path)?));
    }
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let beside = Beside::start();
    for o in &a.objects {
        eprintln!("bench: {}", o.name);
        match object(a, o, &host, &targets, &beside) {
            Ok(r) => {
                let (om, lm) = (r.ours.first().map(|s| s.maps), Some(r.lib_first.maps));
                if om != lm {
                    notes.push(format!(
                        "{}: bpfld created {} maps, libbpf {}",
                        o.name,
                        om.unwrap_or(0),
                        lm.unwrap_or(0)
                    ));
                }
                notes.extend(r.notes.iter().cloned());
                rows.push(r)
            }
            Err(e) => skipped.push(format!("{}: {e}", o.name)),
        }
    }

    println!();
    println!(
        "## A.2 relocation: bpfld's parse + plan, no kernel ({} runs each)",
        5 * n
    );
    println!("Elf::parse + Object::parse + Plan::build_with (relocations, CO-RE against the");
    println!("BTF named, externs) of the file's bytes in memory; libbpf has no way to relocate");
    println!("without loading (its relocation runs inside bpf_object__load, between kernel");
    println!("calls; gen_loader mode leaves CO-RE to the kernel), so it is compared below as");
    println!("the user-space part of open + load. The kernel configuration and kallsyms are");
    println!("read before the timed plan, as the module has them before its plan (its");
    println!("configuration built in, its symbols looked up first).");
    let mut head = vec!["object", "group", "progs", "insns", "CO-RE relos"];
    let labels: Vec<String> = targets
        .iter()
        .map(|(l, _)| format!("plan on {l}"))
        .collect();
    head.extend(labels.iter().map(String::as_str));
    head.push("peak heap");
    let mut t = Table::new(&head);
    for r in &rows {
        let first = r
            .plan
            .iter()
            .find_map(|p| p.first())
            .copied()
            .unwrap_or_default();
        let mut cells = vec![
            r.obj.name.clone(),
            r.obj.group.clone(),
            first.progs.to_string(),
            first.insns.to_string(),
            first.core_relos.to_string(),
        ];
        for p in &r.plan {
            cells.push(if p.is_empty() {
                "refused".into()
            } else {
                time_cell(col(p, |s| s.parse_ns + s.plan_ns))
            });
        }
        cells.push(bytes_cell(r.plan.first().and_then(|p| col(p, |s| s.peak))));
        t.row(cells);
    }
    print!("{t}");

    println!();
    println!("## A.2 open + load on the host kernel: the loader's own work ({n} runs each)");
    println!("bpfld: read + parse + plan + execute with bpf(2), the vmlinux index built once");
    println!("and kept (as bpfld.ko keeps it). libbpf: bpf_object__open_file + bpf_object__load,");
    println!("which parses /sys/kernel/btf/vmlinux again at each load that needs kernel BTF.");
    println!("'own work' = total minus the time inside bpf(2) (bpfld: around the executor's");
    println!("commands; libbpf: around its syscall(2) calls). calls = bpf(2) commands per load,");
    println!("bpfld/libbpf (libbpf adds a probe PROG_LOAD, a TOKEN_CREATE, PROG_BIND_MAP for");
    println!(".rodata, and module BTF lookups for CO-RE). Runs of the two alternate, one warm-up.");
    let mut user = Table::new(&[
        "object",
        "bpfld own work",
        "libbpf own work",
        "libbpf/bpfld",
        "bpfld in bpf(2)",
        "libbpf in bpf(2)",
        "calls",
    ]);
    let mut total = Table::new(&[
        "object",
        "bpfld",
        "libbpf",
        "libbpf/bpfld",
        "libbpf 1st",
        "bpfld, BTF per load",
        "libbpf/that",
    ]);
    let mut mem = Table::new(&[
        "object",
        "file",
        "bpfld parse",
        "libbpf open",
        "bpfld plan",
        "bpfld peak heap",
        "libbpf peak heap",
        "libbpf/bpfld",
    ]);
    let mut geo = [0.0f64; 3];
    let mut nrat = 0;
    for r in &rows {
        let lib = &r.lib[..];
        let ou = col(&r.ours, |s| s.total_ns.saturating_sub(s.bpf_ns));
        let lu = col(lib, |s| s.total_ns.saturating_sub(s.bpf_ns));
        let ot = col(&r.ours, |s| s.total_ns);
        let lt = col(lib, |s| s.total_ns);
        let us = Stats::of(&r.user);
        if let (Some(ou), Some(lu), Some(ot), Some(lt), Some(us)) = (ou, lu, ot, lt, us) {
            geo[0] += (lu.median / ou.median).ln();
            geo[1] += (lt.median / ot.median).ln();
            geo[2] += (lt.median / us.median).ln();
            nrat += 1;
        }
        let calls = format!(
            "{}/{}",
            r.ours.first().map(|s| s.bpf_calls).unwrap_or(0),
            lib.first().map(|s| s.bpf_calls).unwrap_or(0)
        );
        user.row(vec![
            r.obj.name.clone(),
            time_cell(ou),
            time_cell(lu),
            ratio(lu, ou),
            time_cell(col(&r.ours, |s| s.bpf_ns)),
            time_cell(col(lib, |s| s.bpf_ns)),
            calls,
        ]);
        total.row(vec![
            r.obj.name.clone(),
            time_cell(ot),
            time_cell(lt),
            ratio(lt, ot),
            time(r.lib_first.total_ns as f64),
            time_cell(us),
            ratio(lt, us),
        ]);
        let op = col(&r.ours, |s| s.peak);
        let lp = col(lib, |s| s.peak);
        let size = std::fs::metadata(&r.obj.path).map(|m| m.len()).unwrap_or(0);
        mem.row(vec![
            r.obj.name.clone(),
            bytes(size as f64),
            time_cell(col(&r.ours, |s| s.parse_ns)),
            time_cell(col(lib, |s| s.open_ns)),
            time_cell(col(&r.ours, |s| s.plan_ns)),
            bytes_cell(op),
            bytes_cell(lp),
            ratio(lp, op),
        ]);
    }
    let gm = |i: usize| (geo[i] / nrat.max(1) as f64).exp();
    print!("{user}");
    if nrat > 0 {
        println!(
            "geometric mean of libbpf/bpfld over the {nrat} objects: {:.2}x",
            gm(0)
        );
    }
    module_part(&rows, n);
    println!();
    println!("## A.2 open + load on the host kernel: total ({n} runs each)");
    println!("'libbpf 1st' = libbpf's first load in a fresh process (feature probes, one run).");
    println!("'BTF per load' = bpfld::load::load_userspace as it is, which reads and indexes");
    println!("vmlinux BTF at every load (even for objects that do not need it); 'libbpf/that'");
    println!("compares libbpf with it.");
    print!("{total}");
    if nrat > 0 {
        println!(
            "geometric means of the ratios: libbpf/bpfld {:.2}x, libbpf/(bpfld, BTF per load) {:.2}x",
            gm(1),
            gm(2)
        );
    }
    println!();
    println!("## A.2 steps and heap per load");
    println!("bpfld parse = read + ELF/BTF/object parse; libbpf open = bpf_object__open_file;");
    println!("bpfld plan = relocations + CO-RE + externs (the kernel configuration or kallsyms");
    println!("read here when needed). Peak heap = most heap held during open + load, above what");
    println!("was held before: bpfld's includes its copy of the file (the module too reads it");
    println!("once into its own memory), libbpf maps the file (not heap); libbpf's includes the");
    println!("vmlinux BTF it parses for the load.");
    print!("{mem}");
    println!();
    println!("## A.2 bpf(2) commands of one load (bpfld | libbpf)");
    for r in &rows {
        let o = r.ours.first().map(|s| s.cmds.as_str()).unwrap_or("-");
        let l = r.lib.first().map(|s| s.cmds.as_str()).unwrap_or("-");
        println!("  {}: {o} | {l}", r.obj.name);
    }
    println!();
    println!("## A.2 the kernel's time per bpf(2) command, medians, bpfld / libbpf");
    let cmd_rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let ours = r.ours.iter().map(|s| s.cmd_ns).collect();
            (r.obj.name.as_str(), ours, &r.lib[..])
        })
        .collect();
    print!("{}", libbpf::cmd_table(&cmd_rows));
    if !notes.is_empty() {
        println!("notes:");
        for s in notes {
            println!("  {s}");
        }
    }
    if !skipped.is_empty() {
        println!("not measured (a loader failed; the other is not timed alone):");
        for s in skipped {
            println!("  {s}");
        }
    }
    Ok(())
}

fn object(
    a: &Args,
    o: &Object,
    host: &HostBtf,
    targets: &[(String, HostBtf)],
    beside: &Beside,
) -> Result<Row, String> {
    let n = a.iters;
    // A fresh libbpf process: its first load runs the feature probes. libbpf first: if
    // it cannot load the object, there is nothing to compare.
    let mut server = libbpf::Server::start(&a.libbpf_bench)?;
    let lib_first = server.load(&o.path)?;
    let x = ours::load_once(&o.path, host)?;
    if x.progs != lib_first.progs {
        return Err(format!(
            "bpfld loaded {} programs, libbpf {}",
            x.progs, lib_first.progs
        ));
    }
    drop(bpfld::load::load_userspace(&o.path).map_err(|e| e.to_string())?);
    let sources = ours::sources_of(&o.path)?;
    ours::load_as_module(&o.path, host, &sources, beside)?;
    // Interleaved, the order alternating, so that both see the same machine.
    let (mut ours_v, mut lib, mut user) = (Vec::new(), Vec::new(), Vec::new());
    let mut module = Vec::new();
    for i in 0..n {
        if i % 2 == 1 {
            lib.push(server.load(&o.path)?);
        }
        ours_v.push(ours::load_once(&o.path, host)?);
        module.push(ours::load_as_module(&o.path, host, &sources, beside)?);
        let t0 = Instant::now();
        let l = bpfld::load::load_userspace(&o.path).map_err(|e| e.to_string())?;
        user.push(ns(t0));
        drop(l);
        if i % 2 == 0 {
            lib.push(server.load(&o.path)?);
        }
    }
    let data = bpfld::load::read_object(&o.path).map_err(|e| format!("{}: {e}", o.path))?;
    let name = bpfld::load::object_name(&o.path);
    let mut plan = Vec::new();
    let mut notes = Vec::new();
    for (label, t) in targets {
        let mut v = Vec::new();
        for _ in 0..5 * n {
            match ours::plan_once(data.image(), &name, t) {
                Ok(s) => v.push(s),
                Err(e) => {
                    v.clear();
                    notes.push(format!("{}: plan on {label}: {e}", o.name));
                    break;
                }
            }
        }
        plan.push(v);
    }
    Ok(Row {
        obj: o.clone(),
        plan,
        ours: ours_v,
        module,
        user,
        lib,
        lib_first,
        notes,
    })
}

/// A.3: bpfld.ko's pipeline on this machine's hardware, and its overhead share.
fn module_part(rows: &[Row], n: usize) {
    println!();
    println!("## A.3 bpfld.ko's pipeline on this hardware: bpfld's overhead share ({n} runs each)");
    println!("The core's calls as bpfld.ko's loading thread makes them (ours::load_as_module):");
    println!("what the parse uses read (no DWARF), the BTF's full check deferred, the rest of");
    println!("the parse and the plan made on a second thread while BPF_BTF_LOAD runs (16 KiB of");
    println!("BTF or more), the receipt hashed and the BTF checked on it while the commands run.");
    println!("Share = (total - time in bpf(2)) / total per load, median [95% CI], as B.1");
    println!("computes it in the VM. Not here: the module's hand-offs to its loading thread and");
    println!("back, and fd installation. parse = open, read and the parse's first part (what the");
    println!("BTF depends on); plan | BTF_LOAD = from there to the plan and the BTF both done.");
    println!("'A.2 own work' = the loads of A.2, one step after another.");
    let mut t = Table::new(&[
        "object",
        "CO-RE relos",
        "parse",
        "plan | BTF_LOAD",
        "BTF_LOAD",
        "total",
        "in bpf(2)",
        "own work",
        "share",
        "A.2 own work",
    ]);
    let mut targets = Vec::new();
    for r in rows {
        let per_load = overhead_shares(r.module.iter().map(|s| (s.total_ns, s.bpf_ns)));
        let share = median(&per_load);
        let ci = median_interval(&per_load);
        let relos = r
            .plan
            .iter()
            .find_map(|p| p.first())
            .map_or(0, |p| p.core_relos);
        if let (Some(m), Some((lo, hi))) = (share, ci) {
            if relos > 0 {
                targets.push(format!(
                    "  overhead under 10%, {}: {} ({:.1}%, 95% CI {:.1}..{:.1}%)",
                    r.obj.name,
                    under_10_percent(lo, hi),
                    m * 100.0,
                    lo * 100.0,
                    hi * 100.0
                ));
            }
        }
        t.row(vec![
            r.obj.name.clone(),
            relos.to_string(),
            time_cell(col(&r.module, |s| s.parse_ns)),
            time_cell(col(&r.module, |s| s.plan_ns)),
            time_cell(col(&r.module, |s| s.cmd_ns[0])),
            time_cell(col(&r.module, |s| s.total_ns)),
            time_cell(col(&r.module, |s| s.bpf_ns)),
            time_cell(col(&r.module, |s| s.total_ns.saturating_sub(s.bpf_ns))),
            match (share, ci) {
                (Some(m), Some((lo, hi))) => {
                    format!("{:.1}% [{:.1}..{:.1}]", m * 100.0, lo * 100.0, hi * 100.0)
                }
                _ => "-".into(),
            },
            time_cell(col(&r.ours, |s| s.total_ns.saturating_sub(s.bpf_ns))),
        ]);
    }
    print!("{t}");
    if !targets.is_empty() {
        println!("Targets on this hardware (objects with CO-RE relocations, warm index):");
        for l in targets {
            println!("{l}");
        }
    }
}

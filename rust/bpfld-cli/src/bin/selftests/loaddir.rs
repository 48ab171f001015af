// SPDX-License-Identifier: GPL-2.0-only

//! `bpfld load-dir` in the VM, as Android's init would run it at boot: the whole corpus
//! (plus an Android-style critical object) in one directory on fs-verity, loaded through
//! `/dev/bpfld` and pinned; a second run reuses every pin and creates nothing; a pinned
//! map made incompatible is refused with a clear error and nothing else changes; an
//! object with some pins missing is loaded against its pinned maps and a map pinned by
//! name is shared between objects; a failed critical object stops the run.
//!
//! The tests run in order and build on each other. Each can start from a fresh VM
//! (`selftests/run --filter loaddir`): the first inserts the module and prepares the
//! verity image if an earlier test has not.

use super::{fail, loads, Env};
use crate::util::{cli_path, create_array_map, run};
use bpfld::dev::{Device, KLoadOpts};
use bpfld::ktap::Outcome;
use bpfld::loaddir::{fd_kind, map_pin, obj_get, object_stem, prog_pin_name};
use bpfld::sys::{obj_info, obj_pin, MapInfo, ProgInfo};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

const MNT: &str = "/run/bpfld-verity";
const DIR: &str = "/run/bpfld-verity/loaddir";
const ROOT: &str = "/sys/fs/bpf/loaddir";
const CRIT_DIR: &str = "/run/bpfld-verity/loaddir-critical";
const CRIT_ROOT: &str = "/sys/fs/bpf/loaddir-critical";
/// The Android-style critical fixture, compiled in the VM.
const FIXTURE: &str = "selftests/loaddir/android_critical.c";
const CRITICAL_OBJ: &str = "android_critical.o";
const ENOTUNIQ: i32 = 76;
/// The first run's summary, for the second run to compare with.
const FIRST_RUN: &str = "/run/bpfld-loaddir-first-run";

fn outcome(r: Result<(), String>) -> Outcome {
    match r {
        Ok(()) => Outcome::Pass,
        Err(e) => fail(e),
    }
}

/// `bpfld load-dir DIR --pin-root ROOT`: exit code, stdout, stderr.
fn load_dir(dir: &str, root: &str) -> Result<(i32, String, String), String> {
    let start = std::time::Instant::now();
    let out = Command::new(cli_path()?)
        .args(["load-dir", dir, "--pin-root", root])
        .output()
        .map_err(|e| format!("bpfld load-dir: {e}"))?;
    println!(
        "# bpfld load-dir {dir} took {} ms",
        start.elapsed().as_millis()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for l in stdout.lines() {
        println!("# {l}");
    }
    Ok((out.status.code().unwrap_or(-1), stdout, stderr))
}

/// One summary line, split: file -> (critical|optional, progs, maps, state, result).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    class: String,
    progs: usize,
    maps: usize,
    state: String,
    result: String,
}

fn parse_lines(stdout: &str) -> Result<BTreeMap<String, Line>, String> {
    let mut m = BTreeMap::new();
    for l in stdout.lines().filter(|l| !l.starts_with("load-dir ")) {
        let f: Vec<&str> = l.splitn(7, ' ').collect();
        let [file, _digest, class, progs, maps, state, result] = f[..] else {
            return Err(format!("malformed summary line: {l}"));
        };
        let num = |s: &str, k: &str| -> Result<usize, String> {
            s.strip_prefix(k)
                .and_then(|v| v.parse().ok())
                .ok_or(format!("malformed summary line: {l}"))
        };
        m.insert(
            file.to_string(),
            Line {
                class: class.to_string(),
                progs: num(progs, "progs=")?,
                maps: num(maps, "maps=")?,
                state: state.to_string(),
                result: result.to_string(),
            },
        );
    }
    Ok(m)
}

/// Every pin under `root`: name -> (kind, kernel id).
fn pins(root: &str) -> Result<BTreeMap<String, (String, u32)>, String> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(root).map_err(|e| format!("{root}: {e}"))? {
        let e = e.map_err(|e| e.to_string())?;
        let name = e.file_name().to_string_lossy().into_owned();
        let fd = obj_get(&e.path()).map_err(|err| format!("BPF_OBJ_GET {name}: {err}"))?;
        let kind = fd_kind(fd.as_raw_fd());
        let id = match kind.as_str() {
            "bpf-map" => obj_info::<MapInfo>(fd.as_raw_fd()).map(|i| i.id),
            "bpf-prog" => obj_info::<ProgInfo>(fd.as_raw_fd()).map(|i| i.id),
            _ => return Err(format!("{name} is a {kind}")),
        }
        .map_err(|err| format!("{name}: {err}"))?;
        m.insert(name, (kind, id));
    }
    Ok(m)
}

/// The ids of every BPF program and map in the system. Compared as sets, not counts:
/// objects of earlier tests that the kernel frees late (RCU, workqueues; minutes on a
/// loaded TCG host) must not look like objects of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub progs: BTreeSet<u32>,
    pub maps: BTreeSet<u32>,
}

impl Ids {
    pub fn read() -> Ids {
        fn ids(cmd: u32) -> BTreeSet<u32> {
            bpfld::sys::next_ids(cmd).into_iter().collect()
        }
        Ids {
            progs: ids(bpfld_core::uapi::BPF_PROG_GET_NEXT_ID),
            maps: ids(bpfld_core::uapi::BPF_MAP_GET_NEXT_ID),
        }
    }

    /// Wait (up to 60 s: freeing is asynchronous, and slow on a loaded TCG host) until
    /// the objects that exist and did not exist at `self` are exactly `progs` and
    /// `maps`.
    pub fn new_since_are(&self, progs: &BTreeSet<u32>, maps: &BTreeSet<u32>) -> Result<(), String> {
        let start = std::time::Instant::now();
        loop {
            let now = Ids::read();
            let np: BTreeSet<u32> = now.progs.difference(&self.progs).copied().collect();
            let nm: BTreeSet<u32> = now.maps.difference(&self.maps).copied().collect();
            if &np == progs && &nm == maps {
                return Ok(());
            }
            if start.elapsed() > std::time::Duration::from_secs(60) {
                return Err(format!(
                    "new programs {np:?} (want {progs:?}), new maps {nm:?} (want {maps:?})"
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

fn mount_bpffs() -> Result<(), String> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts.lines().any(|l| l.contains(" /sys/fs/bpf bpf ")) {
        run("mount", &["-t", "bpf", "bpf", "/sys/fs/bpf"])?;
    }
    Ok(())
}

/// The module loaded and the corpus on the verity image, trusted (what the tests
/// before us do in a full run).
fn ensure_ready(env: &Env) -> Result<(), String> {
    if !Path::new(bpfld::dev::DEVICE).exists() {
        run("insmod", &[&env.module])?;
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts.lines().any(|l| l.contains(&format!(" {MNT} "))) {
        for (what, o) in [
            ("verity_setup", loads::verity_setup(env)),
            ("enroll_corpus", loads::enroll_corpus(env)),
        ] {
            if let Outcome::Fail(e) = o {
                return Err(format!("{what}: {e}"));
            }
        }
    }
    mount_bpffs()
}

/// Compile the critical fixture into `out` on the verity image and enable fs-verity.
fn build_fixture(env: &Env, out: &str, broken: bool) -> Result<(), String> {
    let src = format!("{}/{FIXTURE}", env.root);
    let mut args = vec!["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"];
    if broken {
        args.push("-DBROKEN");
    }
    args.extend(["-c", &src, "-o", out]);
    run("clang", &args)?;
    run("fsverity", &["enable", out])?;
    Ok(())
}

/// What one object gives when loaded alone through the ioctl: the pin names load-dir
/// must make for it, or the errno it must report.
fn direct_load(file: &str) -> Result<Result<Vec<String>, i32>, String> {
    let stem = object_stem(file).ok_or(format!("{file}: not an object name"))?;
    let dev = Device::open(bpfld::dev::DEVICE).map_err(|e| e.to_string())?;
    let f = std::fs::File::open(format!("{DIR}/{file}")).map_err(|e| format!("{file}: {e}"))?;
    Ok(match dev.load(&f, &KLoadOpts::default()) {
        Ok(l) => {
            let mut names: Vec<String> = l
                .maps
                .iter()
                .map(|m| map_pin(stem, &m.name, m.pinning).0)
                .collect();
            names.extend(
                l.progs
                    .iter()
                    .map(|p| prog_pin_name(stem, &p.section, &p.name)),
            );
            Ok(names)
        }
        Err(e) => Err(e.errno),
    })
}

/// The boot directory: every corpus object (hard links: the same verity inodes, so
/// the same trusted digests) and the critical fixture. 20+ objects.
pub fn loaddir_corpus_pins(env: &Env) -> Outcome {
    outcome((|| {
        ensure_ready(env)?;
        let _ = std::fs::remove_dir_all(DIR);
        std::fs::create_dir_all(DIR).map_err(|e| format!("{DIR}: {e}"))?;
        let corpus = loads::corpus_objects(env);
        for o in &corpus {
            std::fs::hard_link(format!("{MNT}/{o}"), format!("{DIR}/{o}"))
                .map_err(|e| format!("link {o}: {e}"))?;
        }
        // Files load-dir must ignore: not "*.o", a directory, a symlink.
        std::fs::write(format!("{DIR}/README"), b"not an object\n").map_err(|e| e.to_string())?;
        std::fs::create_dir(format!("{DIR}/sub.o")).map_err(|e| e.to_string())?;
        std::os::unix::fs::symlink(format!("{MNT}/xdp.bpf.o"), format!("{DIR}/link.o"))
            .map_err(|e| e.to_string())?;
        let crit = format!("{DIR}/{CRITICAL_OBJ}");
        build_fixture(env, &crit, false)?;
        run(&cli_path()?, &["trust", "add", &crit])?;
        if corpus.len() < 20 {
            return Err(format!("only {} corpus objects", corpus.len()));
        }
        // The oracle: each object loaded alone through the ioctl (everything it
        // creates is closed again at once).
        let mut direct = BTreeMap::new();
        for o in corpus.iter().chain([&CRITICAL_OBJ.to_string()]) {
            direct.insert(o.clone(), direct_load(o)?);
        }
        let _ = std::fs::remove_dir_all(ROOT);
        let before = Ids::read();

        let (code, out, err) = load_dir(DIR, ROOT)?;
        if code != 0 {
            return Err(format!("exit {code}: {err}"));
        }
        std::fs::write(FIRST_RUN, &out).map_err(|e| format!("{FIRST_RUN}: {e}"))?;
        let lines = parse_lines(&out)?;
        let mut want: Vec<String> = corpus.clone();
        want.push(CRITICAL_OBJ.into());
        want.sort();
        let got: Vec<String> = lines.keys().cloned().collect();
        if got != want {
            return Err(format!("objects reported {got:?}, want {want:?}"));
        }
        // Byte order of the names.
        let order: Vec<&str> = out
            .lines()
            .filter(|l| !l.starts_with("load-dir "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        if order.windows(2).any(|w| w[0].as_bytes() >= w[1].as_bytes()) {
            return Err(format!("not in byte order: {order:?}"));
        }
        let mut want_pins = BTreeSet::new();
        let mut failed = 0;
        for (file, l) in &lines {
            match &direct[file] {
                Err(e) => {
                    if !l.result.starts_with(&format!("failed errno={e} ")) || l.state != "-" {
                        return Err(format!("{file}: {l:?}, alone it fails with errno {e}"));
                    }
                    failed += 1;
                }
                Ok(names) => {
                    if l.result != "ok" || l.state != "pinned" || l.progs + l.maps != names.len() {
                        return Err(format!(
                            "{file}: {l:?}, want pinned ok with {} pins",
                            names.len()
                        ));
                    }
                    want_pins.extend(names.iter().cloned());
                }
            }
            let want_class = if file == CRITICAL_OBJ {
                "critical"
            } else {
                "optional"
            };
            if l.class != want_class {
                return Err(format!("{file}: {}, want {want_class}", l.class));
            }
        }
        for (file, e) in [("reject.bpf.o", 13), ("static_entry.bpf.o", 95)] {
            if direct[file] != Err(e) {
                return Err(format!("{file}: {:?} alone, want errno {e}", direct[file]));
            }
        }
        // The pins: exactly the names of what the objects create alone (Android's
        // naming; a few spelled out), every program using only pinned maps, no map
        // pinned twice.
        let p = pins(ROOT)?;
        let got_pins: BTreeSet<String> = p.keys().cloned().collect();
        if got_pins != want_pins {
            return Err(format!(
                "pins {:?} missing, {:?} unexpected",
                want_pins.difference(&got_pins).collect::<Vec<_>>(),
                got_pins.difference(&want_pins).collect::<Vec<_>>()
            ));
        }
        let pinned = p.len();
        // The digest prefix is the file's fs-verity digest.
        let measured = run("fsverity", &["measure", &format!("{DIR}/xdp.bpf.o")])?;
        let digest = out
            .lines()
            .find(|l| l.starts_with("xdp.bpf.o "))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("?");
        if !measured.starts_with(digest) || digest.len() != "sha256:".len() + 16 {
            return Err(format!("digest {digest}, fsverity measure says {measured}"));
        }
        for n in [
            "prog_xdp_xdp_xdp_pass",
            "prog_xdp_xdp_xdp_count",
            "prog_xdp_xdp_frags_xdp_frags",
            "map_xdp_proto_cnt",
            "map_global_data_rodata",
            "map_global_data_rodata_str1_1",
            "map_global_data_data_foo",
            "prog_android_critical_socket_critical_pass",
            "map_android_critical_hits",
        ] {
            if !p.contains_key(n) {
                return Err(format!("{n} not pinned; pins: {:?}", p.keys()));
            }
        }
        let map_ids: BTreeSet<u32> = p
            .values()
            .filter(|(k, _)| k == "bpf-map")
            .map(|(_, id)| *id)
            .collect();
        let n_maps = p.values().filter(|(k, _)| k == "bpf-map").count();
        if map_ids.len() != n_maps {
            return Err(format!(
                "{n_maps} map pins but {} distinct maps",
                map_ids.len()
            ));
        }
        for (n, (k, _)) in p.iter().filter(|(_, (k, _))| k == "bpf-prog") {
            let fd = obj_get(&Path::new(ROOT).join(n)).map_err(|e| e.to_string())?;
            let ids = crate::util::prog_map_ids(fd.as_raw_fd()).map_err(|e| e.to_string())?;
            if let Some(id) = ids.iter().find(|id| !map_ids.contains(id)) {
                return Err(format!("{n} ({k}) uses map {id}, which is not pinned"));
            }
        }
        // The run left nothing but what the pins hold: the failed objects' programs
        // and maps are gone, nothing else was created.
        let of = |kind: &str| -> BTreeSet<u32> {
            p.values()
                .filter(|(k, _)| k == kind)
                .map(|(_, id)| *id)
                .collect()
        };
        let (new_progs, new_maps) = (of("bpf-prog"), of("bpf-map"));
        before.new_since_are(&new_progs, &new_maps)?;
        println!(
            "# {} objects ({failed} failed as they do alone), {pinned} pins: {} programs and {} maps created, nothing else",
            lines.len(),
            new_progs.len(),
            new_maps.len()
        );
        Ok(())
    })())
}

/// A second run: every pinned object is reused, nothing is created or changed.
pub fn loaddir_second_run_reuses(env: &Env) -> Outcome {
    outcome((|| {
        ensure_ready(env)?;
        let pins_before = pins(ROOT)?;
        let first = std::fs::read_to_string(FIRST_RUN)
            .map_err(|e| format!("{FIRST_RUN}: {e} (loaddir_corpus_pins must run first)"))?;
        let first = parse_lines(&first)?;
        let before = Ids::read();
        let (code, out, err) = load_dir(DIR, ROOT)?;
        if code != 0 {
            return Err(format!("exit {code}: {err}"));
        }
        let lines = parse_lines(&out)?;
        let mut reused = 0;
        for (file, l) in &lines {
            let f = first.get(file).ok_or(format!("{file}: new object"))?;
            if f.state == "-" {
                // Failed again, the same way (nothing of it was pinned).
                if l != f {
                    return Err(format!("{file}: {l:?}, first run {f:?}"));
                }
                continue;
            }
            if l.state != "reused" || l.result != "ok" || l.progs != f.progs || l.maps != f.maps {
                return Err(format!("{file}: {l:?}, want reused ok like {f:?}"));
            }
            reused += 1;
        }
        let pins_after = pins(ROOT)?;
        if pins_after != pins_before {
            return Err(format!(
                "pins changed: before {pins_before:?}, after {pins_after:?}"
            ));
        }
        before.new_since_are(&BTreeSet::new(), &BTreeSet::new())?;
        println!(
            "# {reused} objects reused, {} pins unchanged, no program or map created",
            pins_after.len()
        );
        Ok(())
    })())
}

/// A pinned map replaced by an incompatible one: that object is refused with
/// ENOTUNIQ naming the map and the attributes, the others are reused, nothing changes.
pub fn loaddir_incompatible_map_refused(env: &Env) -> Outcome {
    outcome((|| {
        ensure_ready(env)?;
        let target = format!("{ROOT}/map_xdp_proto_cnt");
        std::fs::remove_file(&target).map_err(|e| format!("{target}: {e}"))?;
        // An array of 1 u64 where the object has a per-CPU array of 256.
        let decoy = create_array_map("decoy").map_err(|e| e.to_string())?;
        obj_pin(decoy.as_raw_fd(), &target).map_err(|e| format!("pin {target}: {e}"))?;
        drop(decoy);
        let pins_before = pins(ROOT)?;
        let before = Ids::read();
        let (code, out, err) = load_dir(DIR, ROOT)?;
        if code != 0 {
            return Err(format!("exit {code} (xdp.bpf.o is optional): {err}"));
        }
        let lines = parse_lines(&out)?;
        let x = lines.get("xdp.bpf.o").ok_or("no line for xdp.bpf.o")?;
        let want = format!("failed errno={ENOTUNIQ} (ENOTUNIQ): pinned map_xdp_proto_cnt");
        if !x.result.starts_with(&want)
            || !x.result.contains("map_type 2 pinned, 6 in the object")
            || !x.result.contains("max_entries 1 pinned, 256 in the object")
        {
            return Err(format!("xdp.bpf.o: {}", x.result));
        }
        println!("# xdp.bpf.o: {}", x.result);
        for (file, l) in &lines {
            if file != "xdp.bpf.o" && l.state != "-" && (l.state != "reused" || l.result != "ok") {
                return Err(format!("{file}: {l:?}, want reused ok"));
            }
        }
        let pins_after = pins(ROOT)?;
        if pins_after != pins_before {
            return Err(format!(
                "pins changed: before {pins_before:?}, after {pins_after:?}"
            ));
        }
        before.new_since_are(&BTreeSet::new(), &BTreeSet::new())
    })())
}

/// Pins that exist for part of an object: the object is loaded again through the
/// module with its pinned maps in place of new ones (`map_reuse`), and only what was
/// missing is pinned. A map pinned by name (`LIBBPF_PIN_BY_NAME`) is `map__<name>`,
/// one map for every object that has it. Global data cannot be taken over.
pub fn loaddir_partial_and_shared_pins(env: &Env) -> Outcome {
    outcome((|| {
        ensure_ready(env)?;
        let prog = format!("{ROOT}/prog_tc_tc_tc_count");
        let before_pins = pins(ROOT)?;
        let (_, map_id) = before_pins
            .get("map_tc_dport_cnt")
            .cloned()
            .ok_or("no map_tc_dport_cnt pin (loaddir_corpus_pins must run first)")?;
        let shared_id = before_pins
            .get("map__bpfld_st_pinned")
            .map(|(_, id)| *id)
            .ok_or("maps_attrs.bpf.o's map pinned by name is not map__bpfld_st_pinned")?;
        let old_prog = before_pins[&"prog_tc_tc_tc_count".to_string()].1;
        std::fs::remove_file(&prog).map_err(|e| format!("{prog}: {e}"))?;
        // A second object with the by-name map: maps_attrs again, under another name.
        let second = format!("{DIR}/zz_shared.bpf.o");
        let _ = std::fs::remove_file(&second);
        std::fs::hard_link(format!("{MNT}/maps_attrs.bpf.o"), &second)
            .map_err(|e| format!("link {second}: {e}"))?;
        // And global data pinned, a program pin missing.
        let gd = format!("{ROOT}/prog_global_data_xdp_gd_xdp");
        std::fs::remove_file(&gd).map_err(|e| format!("{gd}: {e}"))?;

        let (code, out, err) = load_dir(DIR, ROOT)?;
        let _ = std::fs::remove_file(&second);
        if code != 0 {
            return Err(format!("exit {code}: {err}"));
        }
        let lines = parse_lines(&out)?;
        let line = |f: &str| lines.get(f).cloned().ok_or(format!("no line for {f}"));
        let t = line("tc.bpf.o")?;
        if t.state != "pinned,maps_reused=1,progs_kept=1" || t.result != "ok" {
            return Err(format!("tc.bpf.o: {t:?}"));
        }
        let z = line("zz_shared.bpf.o")?;
        if z.state != "pinned,maps_reused=1" || z.result != "ok" {
            return Err(format!("zz_shared.bpf.o: {z:?}"));
        }
        let g = line("global_data.bpf.o")?;
        if !g.result.starts_with(
            "failed errno=95 (EOPNOTSUPP): some pins do not exist (prog_global_data_xdp_gd_xdp)",
        ) || !g.result.contains("map_global_data_rodata (global data")
        {
            return Err(format!("global_data.bpf.o: {g:?}"));
        }
        let after = pins(ROOT)?;
        if after.get("map_tc_dport_cnt").map(|(_, id)| *id) != Some(map_id) {
            return Err(format!(
                "map_tc_dport_cnt was {map_id}, now {:?}",
                after.get("map_tc_dport_cnt")
            ));
        }
        let new_prog = after
            .get("prog_tc_tc_tc_count")
            .ok_or("prog_tc_tc_tc_count not pinned again")?
            .1;
        if new_prog == old_prog {
            return Err("prog_tc_tc_tc_count is the old program".into());
        }
        let uses = |pin: &str| -> Result<Vec<u32>, String> {
            let fd =
                obj_get(Path::new(&format!("{ROOT}/{pin}"))).map_err(|e| format!("{pin}: {e}"))?;
            crate::util::prog_map_ids(fd.as_raw_fd()).map_err(|e| format!("{pin}: {e}"))
        };
        if uses("prog_tc_tc_tc_count")? != [map_id] {
            return Err(format!(
                "the new tc_count uses maps {:?}, want [{map_id}]",
                uses("prog_tc_tc_tc_count")?
            ));
        }
        if after.get("map__bpfld_st_pinned").map(|(_, id)| *id) != Some(shared_id) {
            return Err("map__bpfld_st_pinned changed".into());
        }
        let mut users = Vec::new();
        for n in after.keys().filter(|n| n.starts_with("prog_zz_shared_")) {
            if uses(n)?.contains(&shared_id) {
                users.push(n.clone());
            }
        }
        if users.is_empty() {
            return Err(format!(
                "no program of zz_shared.bpf.o uses map {shared_id}"
            ));
        }
        if after
            .keys()
            .any(|n| n.starts_with("map_zz_shared_bpfld_st_pinned"))
        {
            return Err("zz_shared.bpf.o pinned its own copy of the shared map".into());
        }
        // Everything else as it was, less the removed global_data pin and plus tc's new
        // program and zz_shared's own pins.
        for (n, v) in &before_pins {
            if n != "prog_tc_tc_tc_count"
                && n != "prog_global_data_xdp_gd_xdp"
                && after.get(n) != Some(v)
            {
                return Err(format!("{n}: {v:?} before, {:?} after", after.get(n)));
            }
        }
        println!(
            "# tc.bpf.o: program pinned again against map {map_id}; zz_shared.bpf.o: {} pins of its own, {} of its programs on map__bpfld_st_pinned ({shared_id}); global_data.bpf.o: {}",
            after.keys().filter(|n| n.contains("_zz_shared_")).count(),
            users.len(),
            g.result
        );
        Ok(())
    })())
}

/// A failed critical object stops the run: what came before stays pinned, what comes
/// after is not attempted, and load-dir fails.
pub fn loaddir_critical_failure_stops(env: &Env) -> Outcome {
    let r = (|| {
        ensure_ready(env)?;
        let _ = std::fs::remove_dir_all(CRIT_DIR);
        std::fs::create_dir_all(CRIT_DIR).map_err(|e| format!("{CRIT_DIR}: {e}"))?;
        std::fs::hard_link(format!("{MNT}/xdp.bpf.o"), format!("{CRIT_DIR}/a.bpf.o"))
            .map_err(|e| e.to_string())?;
        // Critical, and rejected by the verifier (trusted, so that the verifier is the
        // reason).
        let b = format!("{CRIT_DIR}/b_critical.o");
        build_fixture(env, &b, true)?;
        run(&cli_path()?, &["trust", "add", &b])?;
        std::fs::hard_link(format!("{MNT}/tc.bpf.o"), format!("{CRIT_DIR}/c.bpf.o"))
            .map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(CRIT_ROOT);
        let (code, out, err) = load_dir(CRIT_DIR, CRIT_ROOT)?;
        if code != 1 {
            return Err(format!("exit {code}, want 1"));
        }
        let lines = parse_lines(&out)?;
        let a = lines.get("a.bpf.o").ok_or("no line for a.bpf.o")?;
        let b = lines
            .get("b_critical.o")
            .ok_or("no line for b_critical.o")?;
        if a.state != "pinned" || a.result != "ok" {
            return Err(format!("a.bpf.o: {a:?}"));
        }
        if b.class != "critical" || !b.result.starts_with("failed errno=13 (EACCES)") {
            return Err(format!("b_critical.o: {b:?}"));
        }
        if lines.contains_key("c.bpf.o") {
            return Err("c.bpf.o was attempted after a critical failure".into());
        }
        if !out.contains("critical object b_critical.o failed, 1 not attempted")
            || !err.contains("not attempted: c.bpf.o")
        {
            return Err(format!("closing lines: {out}{err}"));
        }
        if !err.contains("invalid mem access") {
            return Err(format!("no verifier log on stderr: {err}"));
        }
        let p = pins(CRIT_ROOT)?;
        let names: Vec<&String> = p.keys().collect();
        if names.len() != 4 || !names.iter().all(|n| n.contains("_a_")) {
            return Err(format!("pins {names:?}, want a.bpf.o's 4"));
        }
        Ok(())
    })();
    // The pins of these tests are not needed by later tests.
    for d in [ROOT, CRIT_ROOT] {
        let _ = std::fs::remove_dir_all(d);
    }
    outcome(r)
}

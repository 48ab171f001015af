// SPDX-License-Identifier: GPL-2.0-only

//! `load-dir` on the host with the user-space executor (the VM selftests run it through
//! `/dev/bpfld`): the corpus as a boot directory pinned under a private bpffs
//! directory; a second run reuses every pin and creates nothing; a pinned map made
//! incompatible, or a missing pin, fails that object alone and changes nothing.
//!
//! Needs root, `bpf(2)` and bpffs at /sys/fs/bpf; without them the test prints why and
//! passes, except under `CI=true`, where a skip is a failure.

mod common;

use bpfld::loaddir::{load_dir, obj_get, ObjectReport, Report, State, UserSpace};
use bpfld::sys::{obj_info, MapInfo, ProgInfo};
use common::*;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::Path;

fn run(dir: &Path, root: &Path) -> Report {
    let mut lines = Vec::new();
    let r = load_dir(dir, root, &UserSpace, &mut |o: &ObjectReport| {
        lines.push(o.line())
    })
    .expect("load_dir");
    assert_eq!(lines.len(), r.objects.len());
    r
}

/// name -> kernel id of every pin.
fn pins(root: &Path) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        let fd = obj_get(&e.path()).unwrap();
        let id = match obj_info::<MapInfo>(fd.as_raw_fd()) {
            Ok(i) if bpfld::loaddir::fd_kind(fd.as_raw_fd()) == "bpf-map" => i.id,
            _ => obj_info::<ProgInfo>(fd.as_raw_fd()).unwrap().id,
        };
        m.insert(e.file_name().to_string_lossy().into_owned(), id);
    }
    m
}

fn by_file(r: &Report) -> BTreeMap<&str, &ObjectReport> {
    r.objects.iter().map(|o| (o.file.as_str(), o)).collect()
}

/// Run `body` on a boot directory that `fill` fills from the corpus and a pin root of
/// its own under /sys/fs/bpf, both removed afterwards; skipped without `bpf(2)` or
/// bpffs.
fn with_dirs(
    tag: &str,
    fill: impl FnOnce(&Path, &Path),
    body: impl FnOnce(&Path, &Path) + std::panic::UnwindSafe,
) {
    if let Some(why) = bpf_unavailable().or_else(bpffs_unavailable) {
        skip(&why);
        return;
    }
    let corpus = build_corpus();
    let dir = std::env::temp_dir().join(format!("bpfld-loaddir-{tag}-{}", std::process::id()));
    let root = Path::new("/sys/fs/bpf").join(format!("bpfld-loaddir-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    fill(&corpus, &dir);
    let result = std::panic::catch_unwind(|| body(&dir, &root));
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn corpus_pins_then_reuse() {
    let fill = |corpus: &Path, dir: &Path| {
        for o in objects(corpus) {
            std::fs::copy(&o, dir.join(file_name(&o))).unwrap();
        }
    };
    with_dirs("corpus", fill, |dir, root| {
        let (dir, root) = (dir.to_path_buf(), root.to_path_buf());
        let first = run(&dir, &root);
        let n = first.objects.len();
        assert!(n >= 20, "{n} objects");
        assert!(first.critical_failure().is_none());
        let pinned: Vec<&ObjectReport> = first
            .objects
            .iter()
            .filter(|o| o.state == State::Pinned)
            .collect();
        // Every object that the host kernel takes is pinned (some program types need
        // what a given host lacks: those fail alone, visibly).
        assert!(pinned.len() >= 20, "{} pinned", pinned.len());
        for o in &first.objects {
            assert!(
                o.result.is_ok() == (o.state == State::Pinned),
                "{}",
                o.line()
            );
        }
        let want: usize = pinned.iter().map(|o| o.progs + o.maps).sum();
        let p1 = pins(&root);
        assert_eq!(p1.len(), want);
        assert!(p1.contains_key("prog_xdp_xdp_xdp_pass"), "{:?}", p1.keys());
        assert!(p1.contains_key("map_global_data_rodata_str1_1"));

        // Second run: the same objects reused, the same pins.
        let second = run(&dir, &root);
        let (a, b) = (by_file(&first), by_file(&second));
        for (f, o) in &b {
            let was = a[f];
            if was.state == State::Pinned {
                assert_eq!(o.state, State::Reused, "{}", o.line());
                assert!(o.result.is_ok(), "{}", o.line());
                assert_eq!((o.progs, o.maps), (was.progs, was.maps), "{f}");
            } else {
                assert_eq!(o.line(), was.line(), "{f}");
            }
        }
        assert_eq!(pins(&root), p1);

        // An incompatible map in place of xdp's: xdp refused with ENOTUNIQ naming it.
        let target = root.join("map_xdp_proto_cnt");
        std::fs::remove_file(&target).unwrap();
        let st = std::process::Command::new("bpftool")
            .args(["map", "create"])
            .arg(&target)
            .args([
                "type", "array", "key", "4", "value", "8", "entries", "1", "name", "decoy",
            ])
            .status()
            .expect("bpftool");
        assert!(st.success());
        let p2 = pins(&root);
        let third = run(&dir, &root);
        let x = by_file(&third)["xdp.bpf.o"];
        let line = x.line();
        assert!(
            line.contains("failed errno=76 (ENOTUNIQ): pinned map_xdp_proto_cnt")
                && line.contains("max_entries 1 pinned, 256 in the object"),
            "{line}"
        );
        assert_eq!(pins(&root), p2);

        // A missing program pin: tc loaded again against its pinned map, which the new
        // program uses; only the missing pin is made, and tc's other program, whose pin
        // exists, is kept (not loaded again).
        let tc_map = p2["map_tc_dport_cnt"];
        let tc_prog = p2["prog_tc_tc_tc_count"];
        let (other, other_id) = p2
            .iter()
            .find(|(n, _)| n.starts_with("prog_tc_classifier_"))
            .map(|(n, id)| (n.clone(), *id))
            .expect("tc.bpf.o's classifier program pinned");
        std::fs::remove_file(root.join("prog_tc_tc_tc_count")).unwrap();
        let fourth = run(&dir, &root);
        let t = by_file(&fourth)["tc.bpf.o"];
        assert_eq!(t.state, State::Pinned, "{}", t.line());
        assert!(
            t.line()
                .contains(" progs=2 maps=1 pinned,maps_reused=1,progs_kept=1 ok"),
            "{}",
            t.line()
        );
        let p4 = pins(&root);
        assert_eq!(p4["map_tc_dport_cnt"], tc_map);
        assert_eq!(p4[&other], other_id);
        assert_ne!(p4["prog_tc_tc_tc_count"], tc_prog);
        assert_eq!(prog_map_ids(&root.join("prog_tc_tc_tc_count")), [tc_map]);
        assert_eq!(p4.len(), p2.len());
        for o in &fourth.objects {
            if o.file != "tc.bpf.o"
                && o.file != "xdp.bpf.o"
                && a[o.file.as_str()].state == State::Pinned
            {
                assert_eq!(o.state, State::Reused, "{}", o.line());
            }
        }

        // A missing program pin of an object whose global data is pinned: the pinned
        // .rodata cannot be taken over (its contents are the object's), nothing changes.
        std::fs::remove_file(root.join("prog_global_data_xdp_gd_xdp")).unwrap();
        let p5 = pins(&root);
        let fifth = run(&dir, &root);
        let g = by_file(&fifth)["global_data.bpf.o"].line();
        assert!(
            g.contains("failed errno=95 (EOPNOTSUPP): some pins do not exist (prog_global_data_xdp_gd_xdp)")
                && g.contains("map_global_data_rodata (global data"),
            "{g}"
        );
        assert_eq!(pins(&root), p5);
    });
}

/// The map ids a pinned program uses.
fn prog_map_ids(pin: &Path) -> Vec<u32> {
    let fd = obj_get(pin).unwrap();
    bpfld::sys::prog_info_map_ids(fd.as_raw_fd()).unwrap().1
}

/// A map pinned by name (`LIBBPF_PIN_BY_NAME`) is one map for every object that has it:
/// `map__<name>`, made by the first object and taken over by the next.
#[test]
fn shared_map_between_objects() {
    let fill = |corpus: &Path, dir: &Path| {
        let src = objects(corpus)
            .into_iter()
            .find(|o| file_name(o) == "maps_attrs.bpf.o")
            .expect("maps_attrs.bpf.o in the corpus");
        std::fs::copy(&src, dir.join("a.bpf.o")).unwrap();
        std::fs::copy(&src, dir.join("b.bpf.o")).unwrap();
    };
    with_dirs("shared", fill, |dir, root| {
        let first = run(dir, root);
        let lines: Vec<String> = first.objects.iter().map(ObjectReport::line).collect();
        let (a, b) = (&first.objects[0], &first.objects[1]);
        assert_eq!(a.state, State::Pinned, "{lines:?}");
        assert!(b.line().contains(" pinned,maps_reused=1 ok"), "{lines:?}");
        let p = pins(root);
        let shared = p["map__bpfld_st_pinned"];
        assert!(!p.contains_key("map_a_bpfld_st_pinned"), "{:?}", p.keys());
        // Every program of either object that uses the map uses the one pinned.
        let mut users = 0;
        for (n, _) in p.iter().filter(|(n, _)| n.starts_with("prog_")) {
            let ids = prog_map_ids(&root.join(n));
            if ids.contains(&shared) {
                users += 1;
            }
        }
        assert!(users >= 2, "{users} programs use the shared map; {lines:?}");
        // The second run reuses both.
        let second = run(dir, root);
        assert!(second.objects.iter().all(|o| o.state == State::Reused));
        assert_eq!(pins(root), p);
    });
}
